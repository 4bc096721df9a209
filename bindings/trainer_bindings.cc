// Embind bindings (one file per handle; this one: TrainerHandle). Thin RAII wrappers over the engine for
// the JS facade (web/src): no C++ exception and no abort crosses this boundary for a bad call; every
// method that can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the
// message for lastError().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "model_handle.h"
#include "vitrine/json.h"
#include "vitrine/train.h"

namespace vitrine::wasm {
namespace {

using emscripten::val;

// Fine-tuning a loaded model in place (the same Trainer as native training).
class TrainerHandle : public HandleBase {
 public:
  // options: JSON {"loss", "optimizer", "learningRate", "momentum", "weightDecay", "clipNorm",
  // "labelSmoothing", "schedule", "warmupSteps", "totalSteps", "output", "freeze": [prefixes]}.
  int init(ModelHandle& model, const std::string& options_json) {
    Status s = ensure_context();
    std::shared_ptr<Graph> graph = model.graph();
    if (s.ok() && !graph) s = Status::FailedPrecondition("trainer: the model is not loaded");
    Result<Json> json = s.ok() ? parse_json(options_json) : Result<Json>(s);
    if (s.ok() && !json.ok()) s = json.status();
    TrainerOptions o;
    std::vector<std::string> freeze;
    if (s.ok()) s = parse_options(json.value(), &o, &freeze);
    if (s.ok()) {
      Result<std::unique_ptr<Trainer>> t = Trainer::create(graph, g_context.get(), o);
      if (!t.ok()) s = t.status();
      else trainer_ = std::move(t).value();
    }
    for (size_t i = 0; s.ok() && i < freeze.size(); ++i) s = trainer_->set_frozen(freeze[i], true);
    if (s.ok()) graph_ = graph;
    return record(s, &error_);
  }

  // Sets input `index` for the next step (Float32Array + shape array).
  int set_input(int index, const val& data, const val& shape) {
    if (!trainer_) return not_ready();
    if (index < 0 || index >= static_cast<int>(graph_->inputs().size())) {
      return record(Status::OutOfRange("input index " + std::to_string(index) + " out of range"), &error_);
    }
    inputs_.resize(graph_->inputs().size());
    return record(fill(data, shape, &inputs_[static_cast<size_t>(index)], "training input",
                       graph_->value(graph_->inputs()[static_cast<size_t>(index)]).dtype), &error_);
  }
  int set_target(const val& data, const val& shape) {
    if (!trainer_) return not_ready();
    return record(fill(data, shape, &target_, "training target"), &error_);
  }
  // One optimizer step on the inputs and target set last; the loss is in lastLoss().
  int step() { return run(true); }
  // Loss only.
  int evaluate() { return run(false); }
  double last_loss() const { return loss_; }
  int steps_taken() const { return trainer_ ? static_cast<int>(trainer_->steps_taken()) : 0; }
  val parameter_names() const {
    val out = val::array();
    if (trainer_)
      for (const std::string& n : trainer_->parameter_names()) out.call<void>("push", n);
    return out;
  }

 private:
  int run(bool update) {
    if (!trainer_) return not_ready();
    Status s;
    if (inputs_.size() != graph_->inputs().size()) s = Status::FailedPrecondition("trainer: inputs were not set");
    for (size_t i = 0; s.ok() && i < inputs_.size(); ++i)
      if (inputs_[i].empty()) s = Status::FailedPrecondition("trainer: input " + std::to_string(i) + " was not set");
    if (s.ok()) {
      Result<double> loss = update ? trainer_->step(inputs_, target_) : trainer_->evaluate(inputs_, target_);
      if (loss.ok()) loss_ = loss.value();
      else s = loss.status();
    }
    return record(s, &error_);
  }
  static Status fill(const val& data, const val& shape, Tensor* t, const char* what, DType dtype = DType::kF32) {
    std::vector<int64_t> dims;
    const size_t rank = shape["length"].as<size_t>();
    for (size_t i = 0; i < rank; ++i) dims.push_back(static_cast<int64_t>(shape[i].as<double>()));
    Result<Shape> sh = Shape::make(dims);
    if (!sh.ok()) return sh.status();
    if (t->empty() || t->shape() != sh.value() || t->dtype() != dtype) {
      Result<Tensor> fresh = Tensor::zeros(sh.value(), dtype);
      if (!fresh.ok()) return fresh.status();
      *t = fresh.value();
    }
    return copy_tensor_from_js(data, t, what);
  }
  static Status parse_options(const Json& j, TrainerOptions* o, std::vector<std::string>* freeze) {
    JsonRef r = j.ref("options");
    if (!j.is_object()) return Status::InvalidArgument("trainer options must be an object");
    static const char* known[] = {"loss", "optimizer", "learningRate", "momentum", "weightDecay", "clipNorm",
                                  "labelSmoothing", "schedule", "warmupSteps", "totalSteps", "output", "freeze"};
    for (const auto& [key, value] : j.object_members()) {
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) return Status::InvalidArgument("trainer: unknown option '" + key + "'");
    }
    Result<std::string> loss = r["loss"].string_or("softmax_cross_entropy");
    if (!loss.ok()) return loss.status();
    Result<LossType> lt = parse_loss(loss.value());
    if (!lt.ok()) return lt.status();
    o->loss.type = lt.value();
    Result<std::string> opt = r["optimizer"].string_or("adam");
    Result<std::string> sched = r["schedule"].string_or("constant");
    if (!opt.ok()) return opt.status();
    if (!sched.ok()) return sched.status();
    o->optimizer.type = opt.value();
    o->optimizer.schedule = sched.value();
    struct { const char* key; double* dst; } numbers[] = {
        {"learningRate", &o->optimizer.learning_rate}, {"momentum", &o->optimizer.momentum},
        {"weightDecay", &o->optimizer.weight_decay}, {"clipNorm", &o->optimizer.clip_norm},
        {"labelSmoothing", &o->loss.label_smoothing}};
    for (auto& n : numbers) {
      Result<double> v = r[n.key].number_or(*n.dst);
      if (!v.ok()) return v.status();
      *n.dst = v.value();
    }
    Result<int64_t> warm = r["warmupSteps"].int_or(0), total = r["totalSteps"].int_or(0), out = r["output"].int_or(0);
    if (!warm.ok()) return warm.status();
    if (!total.ok()) return total.status();
    if (!out.ok()) return out.status();
    o->optimizer.warmup_steps = warm.value();
    o->optimizer.total_steps = total.value();
    o->output = static_cast<int>(out.value());
    if (const Json* f = j.find("freeze")) {
      if (!f->is_array()) return Status::InvalidArgument("options.freeze must be an array of name prefixes");
      for (size_t i = 0; i < f->size(); ++i) {
        Result<std::string> p = r["freeze"][i].as_string();
        if (!p.ok()) return p.status();
        freeze->push_back(p.value());
      }
    }
    return Status::Ok();
  }
  int not_ready() { return record(Status::FailedPrecondition("trainer is not initialised (or was disposed)"), &error_); }

  std::shared_ptr<Graph> graph_;
  std::unique_ptr<Trainer> trainer_;
  std::vector<Tensor> inputs_;
  Tensor target_;
  double loss_ = 0;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_trainer) {
  using H = TrainerHandle;
  bind_handle<H>("TrainerHandle", method("init", &H::init), method("setInput", &H::set_input), method("setTarget", &H::set_target),
                                  method("step", &H::step), method("evaluate", &H::evaluate), method("lastLoss", &H::last_loss),
                                  method("stepsTaken", &H::steps_taken), method("parameterNames", &H::parameter_names));
}

}  // namespace vitrine::wasm
