// Embind bindings: thin RAII wrappers over the engine for the JS facade (web/src).
//
// Convention: no C++ exception and no abort crosses this boundary for a bad call. Every method that
// can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the message for
// lastError(); the facade turns a non-zero code into a JS Error carrying that message.
// Outputs are read back with accessor methods that return fresh Float32Array copies.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "vitrine/context.h"
#include "vitrine/dense_layer.h"
#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/recommend.h"
#include "vitrine/safetensors.h"
#include "vitrine/train.h"
#include "vitrine/ops.h"
#include "binding_util.h"
#include "vitrine/limits.h"

namespace vitrine::wasm {
namespace {

using emscripten::val;


// Module-wide settings and facts.
int set_max_threads(int n) {  // called once by the facade, first: the pthread pool size + 1
  if (g_context) {
    return record(Status::FailedPrecondition("setMaxThreads() must come before any other call"),
                  &g_last_error);
  }
  g_max_threads = threads_supported() ? (n < 1 ? 1 : n) : 1;
  return 0;
}

int set_num_threads(int n) {
  Status s = ensure_context();
  if (s.ok() && (n < 1 || n > g_max_threads)) {
    s = Status::InvalidArgument("thread count " + std::to_string(n) + " outside [1, " +
                                std::to_string(g_max_threads) + "] for the " + build_variant() +
                                " build");
  }
  if (s.ok()) s = g_context->set_num_threads(n);
  return record(s, &g_last_error);
}

val runtime_info() {
  val info = val::object();
  info.set("variant", std::string(build_variant()));
  info.set("threads", g_context ? g_context->num_threads() : 1);
  info.set("maxThreads", g_max_threads);
  info.set("threadsSupported", threads_supported());
  info.set("simd", true);
  return info;
}

std::string last_error() { return g_last_error; }

// Status names by code (status.h), for the facade's VitrineError codes.
val status_names() {
  val names = val::array();
  for (int c = 0; c <= static_cast<int>(StatusCode::kCancelled); ++c) names.call<void>("push", std::string(status_code_name(static_cast<StatusCode>(c))));
  return names;
}

// The resource limits of this instance (limits.h), as { maxTensorElements, ... }.
constexpr std::pair<const char*, int64_t Limits::*> kLimitFields[] = {
    {"maxTensorElements", &Limits::max_tensor_elements}, {"maxTotalBytes", &Limits::max_total_bytes},
    {"maxNodes", &Limits::max_nodes}, {"maxAttributes", &Limits::max_attributes},
    {"maxMetadataKeys", &Limits::max_metadata_keys}, {"maxHeaderBytes", &Limits::max_header_bytes},
    {"maxImagePixels", &Limits::max_image_pixels}};

val limits() {
  val out = val::object();
  for (const auto& [name, field] : kLimitFields) out.set(name, static_cast<double>(default_limits().*field));
  return out;
}

// Changes some limits: an object with any of limits()'s keys (positive integers); unknown keys and
// bad values are refused and nothing changes.
int set_limits(const val& changes) {
  Limits l = default_limits();
  Status s;
  if (changes.isNull() || changes.typeOf().as<std::string>() != "object") s = Status::InvalidArgument("limits must be an object");
  const val keys = s.ok() ? val::global("Object").call<val>("keys", changes) : val::array();
  const int n = keys["length"].as<int>();
  for (int i = 0; s.ok() && i < n; ++i) {
    const std::string key = keys[i].as<std::string>();
    const auto* f = std::find_if(std::begin(kLimitFields), std::end(kLimitFields), [&](const auto& e) { return key == e.first; });
    const val v = changes[key];
    if (f == std::end(kLimitFields)) {
      s = Status::InvalidArgument("unknown limit '" + key + "'");
    } else if (!v.isNumber() || !val::global("Number").call<bool>("isSafeInteger", v) || v.as<double>() < 1) {
      s = Status::InvalidArgument("limit " + key + " must be a positive integer");
    } else {
      l.*(f->second) = static_cast<int64_t>(v.as<double>());
    }
  }
  if (s.ok()) s = set_limits(l);
  return record(s, &g_last_error);
}

// A dense layer (engine DenseLayer) with its input, output and gradients kept for JS.
class DenseLayerHandle {
 public:
  // Creates the layer: weights (out, in) and bias (out) start at zero.
  int init(int in_features, int out_features) {
    Status s = ensure_context();
    if (s.ok()) {
      Result<std::unique_ptr<DenseLayer>> layer = DenseLayer::create(g_context.get(), in_features, out_features);
      if (layer.ok()) layer_ = std::move(layer).value();
      else s = layer.status();
    }
    return record(s, &error_);
  }

  int set_weights(const val& weights) {  // Float32Array (out * in), row-major (out, in)
    if (!layer_) return not_ready();
    Tensor& w = layer_->weights();
    return record(copy_from_js(weights, w.mutable_data(), w.num_elements(), "dense weights"), &error_);
  }
  int set_bias(const val& bias) {  // Float32Array (out)
    if (!layer_) return not_ready();
    Tensor& b = layer_->bias();
    return record(copy_from_js(bias, b.mutable_data(), b.num_elements(), "dense bias"), &error_);
  }

  // y (batch, out) = x (batch, in) · Wᵀ + b for a Float32Array x of batch * in values.
  int forward(const val& input, int batch) {
    if (!layer_) return not_ready();
    Status s;
    const int64_t in = layer_->in_features();
    if (batch < 1) s = Status::InvalidArgument("dense: batch must be >= 1, got " + std::to_string(batch));
    if (s.ok() && (x_.empty() || x_.shape()[0] != batch)) {
      Result<Tensor> x = Tensor::zeros(Shape{batch, in});
      if (x.ok()) x_ = x.value();
      else s = x.status();
    }
    if (s.ok()) {
      s = copy_from_js(input, x_.mutable_data(), static_cast<size_t>(batch * in), "dense input");
      if (!s.ok() && input.instanceof(val::global("Float32Array")) &&
          input["length"].as<size_t>() % static_cast<size_t>(in) != 0) {
        s = Status::InvalidArgument("dense input has " + std::to_string(input["length"].as<size_t>()) +
                                    " values, not a multiple of the layer's " + std::to_string(in) +
                                    " input features");
      }
    }
    if (s.ok()) {
      Result<Tensor> y = layer_->forward(x_);
      if (y.ok()) y_ = y.value();
      else s = y.status();
    }
    if (!s.ok()) y_ = Tensor();
    return record(s, &error_);
  }

  // Gradients for the last forward() given dL/dy (a Float32Array of batch * out values).
  int backward(const val& grad_output) {
    if (!layer_) return not_ready();
    Status s;
    if (y_.empty()) s = Status::FailedPrecondition("dense: backward() needs a successful forward() first");
    Tensor dy;
    if (s.ok()) {
      Result<Tensor> t = Tensor::zeros(y_.shape());
      s = t.status();
      if (s.ok()) {
        dy = t.value();
        s = copy_from_js(grad_output, dy.mutable_data(), dy.num_elements(), "dense output gradient");
      }
    }
    if (s.ok()) {
      dx_ = Tensor::zeros(x_.shape()).value();
      dw_ = Tensor::zeros(layer_->weights().shape()).value();
      db_ = Tensor::zeros(layer_->bias().shape()).value();
      s = layer_->backward(dy, &dx_, &dw_, &db_);
    }
    return record(s, &error_);
  }

  val output() const { return copy_to_js(y_); }
  val grad_input() const { return copy_to_js(dx_); }
  val grad_weights() const { return copy_to_js(dw_); }
  val grad_bias() const { return copy_to_js(db_); }
  int in_features() const { return layer_ ? static_cast<int>(layer_->in_features()) : 0; }
  int out_features() const { return layer_ ? static_cast<int>(layer_->out_features()) : 0; }
  std::string last_error() const { return error_; }

 private:
  int not_ready() {
    return record(Status::FailedPrecondition("dense: layer is not initialised (or was disposed)"), &error_);
  }
  std::unique_ptr<DenseLayer> layer_;
  Tensor x_, y_;  // (batch, in), (batch, out)
  Tensor dx_, dw_, db_;
  std::string error_;
};

// A loaded model (a graph and its executor) with its input and output buffers.
class ModelHandle {
 public:
  // Loads an ONNX or Vitrine (.safetensors) model from a Uint8Array (copied once into the wasm
  // heap; Vitrine files' weights are then used in place).
  int load(const val& bytes) {
    Status s = ensure_context();
    Result<std::shared_ptr<std::vector<uint8_t>>> data = s.ok() ? bytes_from_js(bytes, "model bytes") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (s.ok() && !data.ok()) s = data.status();
    if (s.ok()) {
      Result<LoadedModel> model = load_model(data.value());
      Result<std::shared_ptr<Graph>> graph = model.ok() ? Result<std::shared_ptr<Graph>>(model->graph)
                                                        : Result<std::shared_ptr<Graph>>(model.status());
      if (model.ok()) metadata_ = model->metadata;
      if (!graph.ok()) s = graph.status();
      else {
        Result<std::unique_ptr<Executor>> ex = Executor::create(graph.value(), g_context.get());
        if (!ex.ok()) s = ex.status();
        else {
          graph_ = graph.value();
          executor_ = std::move(ex).value();
          inputs_.assign(graph_->inputs().size(), Tensor());
          outputs_.clear();
        }
      }
    }
    return record(s, &error_);
  }

  val input_names() const { return names(false); }
  val output_names() const { return names(true); }
  // The shape each input was declared with (dimension 0, the batch, may change).
  val input_shapes() const {
    val out = val::array();
    if (!graph_) return out;
    for (int id : graph_->inputs()) out.call<void>("push", shape_to_js(graph_->value(id).shape));
    return out;
  }

  // Copies a Float32Array of `shape` (a JS array of dimensions) into input `index`.
  int set_input(int index, const val& data, const val& shape) {
    if (!graph_) return not_loaded();
    Status s;
    if (index < 0 || index >= static_cast<int>(inputs_.size())) {
      s = Status::OutOfRange("input index " + std::to_string(index) + " outside [0, " + std::to_string(inputs_.size()) + ")");
    }
    std::vector<int64_t> dims;
    if (s.ok()) {
      const size_t rank = shape["length"].as<size_t>();
      for (size_t i = 0; i < rank; ++i) dims.push_back(static_cast<int64_t>(shape[i].as<double>()));
    }
    Result<Shape> sh = s.ok() ? Shape::make(dims) : Result<Shape>(s);
    if (s.ok() && !sh.ok()) s = sh.status();
    if (s.ok()) {
      Tensor& t = inputs_[static_cast<size_t>(index)];
      if (t.empty() || t.shape() != sh.value()) {
        Result<Tensor> fresh = Tensor::zeros(sh.value());
        if (!fresh.ok()) s = fresh.status();
        else t = fresh.value();
      }
      if (s.ok()) {
        std::string what = "input '" + graph_->value(graph_->inputs()[static_cast<size_t>(index)]).name + "'";
        s = copy_from_js(data, t.mutable_data(), static_cast<size_t>(t.num_elements()), what.c_str());
      }
    }
    return record(s, &error_);
  }

  int run() {
    if (!graph_) return not_loaded();
    Status s;
    for (size_t i = 0; s.ok() && i < inputs_.size(); ++i) {
      if (inputs_[i].empty()) s = Status::FailedPrecondition("input '" + graph_->value(graph_->inputs()[i]).name + "' was not set");
    }
    if (s.ok()) s = refresh_if_trained();
    if (s.ok()) s = executor_->run(inputs_, &outputs_);
    return record(s, &error_);
  }

  // The model (with its current, possibly fine-tuned weights) as a Vitrine model file.
  val save() {
    if (!graph_) {
      not_loaded();
      return val::null();
    }
    Result<std::vector<uint8_t>> bytes = save_model(*graph_, metadata_);
    if (!bytes.ok()) {
      record(bytes.status(), &error_);
      return val::null();
    }
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(bytes->size(), bytes->data()));
  }

  std::shared_ptr<Graph> graph() const { return graph_; }

  // The model file's metadata entries (task, labels, ...) as a plain object of strings.
  val metadata() const {
    val out = val::object();
    for (const auto& [k, v] : metadata_) out.set(k, v);
    return out;
  }

  val output(int index) const {
    if (index < 0 || index >= static_cast<int>(outputs_.size())) return val::null();
    return copy_to_js(outputs_[static_cast<size_t>(index)]);
  }
  val output_shape(int index) const {
    if (index < 0 || index >= static_cast<int>(outputs_.size())) return val::null();
    return shape_to_js(outputs_[static_cast<size_t>(index)].shape());
  }
  std::string last_error() const { return error_; }

 private:
  static val shape_to_js(const Shape& s) {
    val a = val::array();
    for (int i = 0; i < s.rank(); ++i) a.call<void>("push", static_cast<double>(s[i]));
    return a;
  }
  val names(bool outputs) const {
    val out = val::array();
    if (!graph_) return out;
    if (outputs) {
      for (const std::string& n : graph_->output_names()) out.call<void>("push", n);
    } else {
      for (int id : graph_->inputs()) out.call<void>("push", graph_->value(id).name);
    }
    return out;
  }
  int not_loaded() { return record(Status::FailedPrecondition("model is not loaded (or was disposed)"), &error_); }

  // Training updates the weights in place; XNNPACK packed them when the executor was built, so
  // rebuild it when any constant changed since.
  Status refresh_if_trained() {
    bool changed = generations_.empty();
    for (const auto& [t, gen] : generations_) changed = changed || t->generation() != gen;
    if (!changed) return Status::Ok();
    if (!generations_.empty()) {
      Result<std::unique_ptr<Executor>> ex = Executor::create(graph_, g_context.get());
      if (!ex.ok()) return ex.status();
      executor_ = std::move(ex).value();
    }
    generations_.clear();
    for (const GraphValue& v : graph_->values())
      if (!v.constant.empty()) generations_.emplace_back(&v.constant, v.constant.generation());
    return Status::Ok();
  }
  std::vector<std::pair<const Tensor*, uint64_t>> generations_;

  std::shared_ptr<Graph> graph_;
  std::unique_ptr<Executor> executor_;
  std::vector<Tensor> inputs_, outputs_;
  std::map<std::string, std::string> metadata_;
  std::string error_;
};

// Fine-tuning a loaded model in place (the same Trainer as native training).
class TrainerHandle {
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
    return record(fill(data, shape, &inputs_[static_cast<size_t>(index)], "training input"), &error_);
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
  std::string last_error() const { return error_; }

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
  static Status fill(const val& data, const val& shape, Tensor* t, const char* what) {
    std::vector<int64_t> dims;
    const size_t rank = shape["length"].as<size_t>();
    for (size_t i = 0; i < rank; ++i) dims.push_back(static_cast<int64_t>(shape[i].as<double>()));
    Result<Shape> sh = Shape::make(dims);
    if (!sh.ok()) return sh.status();
    if (t->empty() || t->shape() != sh.value()) {
      Result<Tensor> fresh = Tensor::zeros(sh.value());
      if (!fresh.ok()) return fresh.status();
      *t = fresh.value();
    }
    return copy_from_js(data, t->mutable_data(), static_cast<size_t>(t->num_elements()), what);
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
  std::string error_;
};


// A recommender (recommend.h): fold-in of a history into a user vector, ranking with exclusions
// and MMR diversity, similar items and explanations. Results are read back with resultItems() /
// resultScores().
class RecommenderHandle {
 public:
  // A recommender model file (Uint8Array) with its item table stored as precision f32|f16|int8.
  int load(const val& bytes, const std::string& precision) {
    Status s = ensure_context();
    Result<TablePrecision> p = parse_precision(precision);
    if (s.ok() && !p.ok()) s = p.status();
    Result<std::shared_ptr<std::vector<uint8_t>>> data = s.ok() ? bytes_from_js(bytes, "model bytes") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (s.ok() && !data.ok()) s = data.status();
    if (s.ok()) {
      Result<LoadedModel> model = load_model(data.value());
      Result<std::unique_ptr<RecModel>> m = model.ok() ? RecModel::create(model.value(), p.value())
                                                       : Result<std::unique_ptr<RecModel>>(model.status());
      if (!m.ok()) s = m.status();
      else set_model(std::move(m).value());
    }
    return record(s, &error_);
  }

  // A raw item table: rows (n * d) Float32Array, bias Float32Array (n) or null, ids (JS array of
  // strings, or an empty array for "0".."n-1").
  int load_table(const val& rows, int n, int d, const val& bias, const val& ids, const std::string& precision) {
    Status s = ensure_context();
    Result<TablePrecision> p = parse_precision(precision);
    if (s.ok() && !p.ok()) s = p.status();
    if (s.ok() && (n < 1 || d < 1)) s = Status::InvalidArgument("item table: n and d must be >= 1");
    std::vector<float> r, b;
    if (s.ok()) {
      r.resize(static_cast<size_t>(n) * static_cast<size_t>(d));
      s = copy_from_js(rows, r.data(), r.size(), "item table rows");
    }
    if (s.ok() && !bias.isNull() && !bias.isUndefined()) {
      b.resize(static_cast<size_t>(n));
      s = copy_from_js(bias, b.data(), b.size(), "item table bias");
    }
    std::vector<std::string> names;
    if (s.ok() && !ids.isNull() && !ids.isUndefined()) names = emscripten::vecFromJSArray<std::string>(ids);
    if (s.ok()) {
      Result<std::unique_ptr<RecModel>> m =
          RecModel::from_table(std::move(names), r.data(), n, d, b.empty() ? nullptr : b.data(), p.value());
      if (!m.ok()) s = m.status();
      else set_model(std::move(m).value());
    }
    return record(s, &error_);
  }

  std::string kind() const { return model_ ? model_->kind() : ""; }
  int num_items() const { return model_ ? static_cast<int>(model_->num_items()) : 0; }
  int dim() const { return model_ ? static_cast<int>(model_->dim()) : 0; }
  double bytes() const { return model_ ? static_cast<double>(model_->bytes()) : 0; }
  val item_id(int index) const {
    if (!model_ || index < 0 || index >= model_->num_items()) return val::null();
    return val(model_->item_id(index));
  }
  // The index of an item id, or -1 (message in lastError()).
  int find_item(const std::string& id) {
    if (!model_) return not_loaded(), -1;
    Result<int32_t> i = model_->find_item(id);
    if (!i.ok()) return record(i.status(), &error_), -1;
    return i.value();
  }

  // Folds a history (Int32Array item indices oldest first, Float32Array weights) into the user vector.
  int fold_in(const val& items, const val& weights) {
    if (!model_) return not_loaded();
    std::vector<HistoryEvent> h;
    Status s = history(items, weights, &h);
    if (s.ok()) s = model_->fold_in(h, &user_);
    return record(s, &error_);
  }
  val user_vector() const {
    if (user_.empty()) return val::global("Float32Array").new_(0);
    return val::global("Float32Array").new_(emscripten::typed_memory_view(user_.size(), user_.data()));
  }
  int set_user_vector(const val& v) {
    if (!model_) return not_loaded();
    std::vector<float> u(static_cast<size_t>(model_->dim()));
    Status s = copy_from_js(v, u.data(), u.size(), "user vector");
    if (s.ok()) user_ = std::move(u);
    return record(s, &error_);
  }

  // The store's catalogue as JSON ([{ id, categories?, inStock? }]) or "null" for none.
  int set_catalog(const std::string& json) {
    if (!model_) return not_loaded();
    if (json == "null") {
      catalog_.reset();
      return 0;
    }
    Result<Json> j = parse_json(json);
    Result<RecCatalog> c = j.ok() ? RecCatalog::from_json(*model_, j->ref("catalog")) : Result<RecCatalog>(j.status());
    if (!c.ok()) return record(c.status(), &error_);
    catalog_ = std::make_unique<RecCatalog>(std::move(c).value());
    return 0;
  }

  // recommend() for the current user vector. request: { k, history: Int32Array (item indices,
  // oldest first), excludeSeen, exclude: Int32Array, excluded: Uint8Array (one per item) | null,
  // categories: string[], diversity, pool (0: default), explain }. Returns [{ id, score,
  // because?: { id, similarity } }], or null on error (lastCode / lastError).
  val rank(const val& request) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<RecommendRequest> r = read_request(request);
    Result<std::vector<Recommendation>> out = r.ok() ? recommend(*model_, catalog_.get(), user_.empty() ? nullptr : user_.data(), r.value(), g_context.get())
                                                     : Result<std::vector<Recommendation>>(r.status());
    return results(out);
  }

  // The items most like `item`, masked by request's exclude / excluded / categories and the stock.
  val similar(int item, const val& request) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<RecommendRequest> r = read_request(request);
    Result<std::vector<Recommendation>> out = r.ok() ? similar_to(*model_, catalog_.get(), item, r.value())
                                                     : Result<std::vector<Recommendation>>(r.status());
    return results(out);
  }
  int last_code() const { return last_code_; }

  std::string last_error() const { return error_; }

 private:
  void set_model(std::unique_ptr<RecModel> m) {
    model_ = std::move(m);
    catalog_.reset();
    user_.clear();
  }
  Status history(const val& items, const val& weights, std::vector<HistoryEvent>* h) const {
    if (!items.instanceof(val::global("Int32Array"))) return Status::InvalidArgument("history items must be an Int32Array");
    const size_t n = items["length"].as<size_t>();
    std::vector<int32_t> ids(n);
    if (n) val(emscripten::typed_memory_view(n, ids.data())).call<void>("set", items);
    std::vector<float> w(n, 1.0f);
    if (!weights.isNull() && !weights.isUndefined()) VITRINE_RETURN_IF_ERROR(copy_from_js(weights, w.data(), n, "history weights"));
    h->resize(n);
    for (size_t i = 0; i < n; ++i) (*h)[i] = {ids[i], w[i]};
    return Status::Ok();
  }
  // A whole number in [1, 2^31) from a JS value (NaN, fractions and other types refused).
  static Result<int64_t> positive_integer(const val& v, const char* name) {
    const double x = v.isNumber() ? v.as<double>() : std::nan("");
    if (!(x >= 1 && x < 2147483648.0 && x == std::floor(x))) return Status::InvalidArgument(std::string(name) + " must be a positive integer");
    return static_cast<int64_t>(x);
  }
  Result<RecommendRequest> read_request(const val& q) const {
    RecommendRequest r;
    if (q.isNull() || q.typeOf().as<std::string>() != "object") return Status::InvalidArgument("the request must be an object");
    if (!q["k"].isUndefined()) {
      VITRINE_ASSIGN_OR_RETURN(r.k, positive_integer(q["k"], "k"));
    }
    if (!q["pool"].isUndefined()) {
      VITRINE_ASSIGN_OR_RETURN(r.pool, positive_integer(q["pool"], "pool"));
    }
    if (!q["diversity"].isUndefined()) {
      r.diversity = q["diversity"].isNumber() ? q["diversity"].as<double>() : std::nan("");
    }
    if (!q["excludeSeen"].isUndefined()) r.exclude_seen = q["excludeSeen"].as<bool>();
    if (!q["explain"].isUndefined()) r.explain = q["explain"].as<bool>();
    std::vector<int32_t> history;
    VITRINE_RETURN_IF_ERROR(ints(q["history"], "history", &history));
    for (int32_t i : history) r.history.push_back({i, 1.0f});
    VITRINE_RETURN_IF_ERROR(ints(q["exclude"], "exclude", &r.exclude));
    const val m = q["excluded"];
    if (!m.isNull() && !m.isUndefined()) {
      if (!m.instanceof(val::global("Uint8Array"))) return Status::InvalidArgument("excluded must be a Uint8Array or null");
      r.excluded.resize(m["length"].as<size_t>());
      if (!r.excluded.empty()) val(emscripten::typed_memory_view(r.excluded.size(), r.excluded.data())).call<void>("set", m);
    }
    const val cats = q["categories"];
    if (!cats.isNull() && !cats.isUndefined()) {
      if (!cats.isArray()) return Status::InvalidArgument("categories must be an array of strings");
      const int n = cats["length"].as<int>();
      for (int i = 0; i < n; ++i) {
        if (!cats[i].isString()) return Status::InvalidArgument("categories must be an array of strings");
        r.categories.push_back(cats[i].as<std::string>());
      }
    }
    return r;
  }
  static Status ints(const val& v, const char* name, std::vector<int32_t>* out) {
    if (v.isNull() || v.isUndefined()) return Status::Ok();
    if (!v.instanceof(val::global("Int32Array"))) return Status::InvalidArgument(std::string(name) + " must be an Int32Array");
    out->resize(v["length"].as<size_t>());
    if (!out->empty()) val(emscripten::typed_memory_view(out->size(), out->data())).call<void>("set", v);
    return Status::Ok();
  }
  val results(const Result<std::vector<Recommendation>>& r) {
    if (!r.ok()) return last_code_ = record(r.status(), &error_), val::null();
    val out = val::array();
    for (const Recommendation& x : r.value()) {
      val o = val::object();
      o.set("id", model_->item_id(x.item));
      o.set("score", x.score);
      if (x.because >= 0) {
        val b = val::object();
        b.set("id", model_->item_id(x.because));
        b.set("similarity", x.similarity);
        o.set("because", b);
      }
      out.call<void>("push", o);
    }
    return out;
  }
  int not_loaded() { return record(Status::FailedPrecondition("recommender is not loaded (or was disposed)"), &error_); }

  std::unique_ptr<RecModel> model_;
  std::unique_ptr<RecCatalog> catalog_;
  std::vector<float> user_;
  std::string error_;
  int last_code_ = 0;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine) {
  emscripten::class_<RecommenderHandle>("RecommenderHandle")
      .constructor<>()
      .function("load", &RecommenderHandle::load)
      .function("loadTable", &RecommenderHandle::load_table)
      .function("kind", &RecommenderHandle::kind)
      .function("numItems", &RecommenderHandle::num_items)
      .function("dim", &RecommenderHandle::dim)
      .function("bytes", &RecommenderHandle::bytes)
      .function("itemId", &RecommenderHandle::item_id)
      .function("findItem", &RecommenderHandle::find_item)
      .function("foldIn", &RecommenderHandle::fold_in)
      .function("userVector", &RecommenderHandle::user_vector)
      .function("setUserVector", &RecommenderHandle::set_user_vector)
      .function("setCatalog", &RecommenderHandle::set_catalog)
      .function("rank", &RecommenderHandle::rank)
      .function("similar", &RecommenderHandle::similar)
      .function("lastError", &RecommenderHandle::last_error)
      .function("lastCode", &RecommenderHandle::last_code);
  emscripten::class_<TrainerHandle>("TrainerHandle")
      .constructor<>()
      .function("init", &TrainerHandle::init)
      .function("setInput", &TrainerHandle::set_input)
      .function("setTarget", &TrainerHandle::set_target)
      .function("step", &TrainerHandle::step)
      .function("evaluate", &TrainerHandle::evaluate)
      .function("lastLoss", &TrainerHandle::last_loss)
      .function("stepsTaken", &TrainerHandle::steps_taken)
      .function("parameterNames", &TrainerHandle::parameter_names)
      .function("lastError", &TrainerHandle::last_error);
  emscripten::class_<ModelHandle>("ModelHandle")
      .constructor<>()
      .function("load", &ModelHandle::load)
      .function("inputNames", &ModelHandle::input_names)
      .function("outputNames", &ModelHandle::output_names)
      .function("inputShapes", &ModelHandle::input_shapes)
      .function("setInput", &ModelHandle::set_input)
      .function("run", &ModelHandle::run)
      .function("output", &ModelHandle::output)
      .function("outputShape", &ModelHandle::output_shape)
      .function("metadata", &ModelHandle::metadata)
      .function("save", &ModelHandle::save)
      .function("lastError", &ModelHandle::last_error);
  emscripten::function("setMaxThreads", &set_max_threads);
  emscripten::function("setNumThreads", &set_num_threads);
  emscripten::function("runtimeInfo", &runtime_info);
  emscripten::function("limits", &limits);
  emscripten::function("setLimits", &set_limits);
  emscripten::function("lastError", &last_error);
  emscripten::function("statusNames", &status_names);
  emscripten::class_<DenseLayerHandle>("DenseLayer")
      .constructor<>()
      .function("init", &DenseLayerHandle::init)
      .function("setWeights", &DenseLayerHandle::set_weights)
      .function("setBias", &DenseLayerHandle::set_bias)
      .function("forward", &DenseLayerHandle::forward)
      .function("backward", &DenseLayerHandle::backward)
      .function("output", &DenseLayerHandle::output)
      .function("gradInput", &DenseLayerHandle::grad_input)
      .function("gradWeights", &DenseLayerHandle::grad_weights)
      .function("gradBias", &DenseLayerHandle::grad_bias)
      .function("inFeatures", &DenseLayerHandle::in_features)
      .function("outFeatures", &DenseLayerHandle::out_features)
      .function("lastError", &DenseLayerHandle::last_error);
}

}  // namespace vitrine::wasm
