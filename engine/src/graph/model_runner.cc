#include "vitrine/model_runner.h"

#include <cctype>
#include <cstring>

namespace vitrine {
namespace {

// 64-bit hash of a weight's bytes (word-wise multiply-xorshift; a fingerprint, not a defence).
uint64_t hash_bytes(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

// The importer names derived weights "vitrine/<origin>/<counter>"; the counter follows import
// order, which other input sizes may shift, so weights are matched by the rest of the name.
std::string stem(const std::string& name) {
  if (name.rfind("vitrine/", 0) != 0) return name;
  const size_t slash = name.find_last_of('/');
  if (slash + 1 >= name.size()) return name;
  for (size_t i = slash + 1; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return name;
  return name.substr(0, slash + 1);
}

std::string weight_key(const GraphValue& v) {
  return stem(v.name) + '|' + dtype_name(v.dtype) + '|' + v.shape.to_string() + '|' +
         std::to_string(hash_bytes(v.constant.raw_data(), v.constant.nbytes()));
}

std::string shapes_text(const std::vector<Shape>& shapes) {
  std::string s;
  for (const Shape& sh : shapes) s += (s.empty() ? "" : ", ") + sh.to_string();
  return s;
}

}  // namespace

struct ModelRunner::Shaped {
  std::vector<Shape> shapes;
  std::shared_ptr<Graph> graph;
  std::unique_ptr<Executor> executor;  // null after the weights changed, until the next run
};

ModelRunner::~ModelRunner() = default;

Result<std::unique_ptr<ModelRunner>> ModelRunner::load(std::shared_ptr<const std::vector<uint8_t>> bytes,
                                                       const OnnxImportOptions& onnx, Context* ctx) {
  if (ctx == nullptr) return Status::InvalidArgument("model runner: no context");
  std::unique_ptr<ModelRunner> r(new ModelRunner());
  r->ctx_ = ctx;
  OnnxImportInfo info;
  VITRINE_ASSIGN_OR_RETURN(LoadedModel m, load_model(bytes, onnx, &info));
  r->graph_ = m.graph;
  r->metadata_ = std::move(m.metadata);
  r->format_ = m.format;
  const Graph& g = *r->graph_;
  for (int in : g.inputs()) r->load_shapes_.push_back(g.value(in).shape);
  bool symbolic = false;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    std::vector<int64_t> d = r->load_shapes_[i].to_vector();
    if (r->format_ == "onnx") {
      const std::vector<int64_t>& declared = i < info.declared_dims.size() ? info.declared_dims[i] : d;
      if (i < info.scalar.size() && info.scalar[i]) {
        d.clear();  // a scalar: () (or (1)) at run time
      } else if (declared.size() == d.size()) {
        d = declared;
      } else {
        d.assign(d.size(), -1);  // declared without a shape (or a rank-0 input held as (1))
      }
      for (size_t k = 0; k < d.size(); ++k) symbolic = symbolic || (d[k] < 0 && (k > 0 || info.shape_specialized));
    } else if (!d.empty()) {
      d[0] = -1;
    }
    r->declared_.push_back(std::move(d));
  }
  r->specialized_ = info.shape_specialized;
  if (r->format_ == "onnx" && symbolic) {
    r->source_ = std::move(bytes);
    for (size_t v = 0; v < g.values().size(); ++v)
      if (!g.values()[v].constant.empty()) r->weights_by_key_[weight_key(g.values()[v])].push_back(static_cast<int>(v));
  }
  VITRINE_ASSIGN_OR_RETURN(r->executor_, Executor::create(r->graph_, ctx, ExecutorOptions{r->profiling_}));
  VITRINE_RETURN_IF_ERROR(r->refresh_if_trained());
  return r;
}

Result<std::unique_ptr<ModelRunner>> ModelRunner::from_model(LoadedModel model, std::vector<std::vector<int64_t>> declared,
                                                             Context* ctx) {
  if (ctx == nullptr) return Status::InvalidArgument("model runner: no context");
  if (!model.graph) return Status::InvalidArgument("model runner: no graph");
  std::unique_ptr<ModelRunner> r(new ModelRunner());
  r->ctx_ = ctx;
  r->graph_ = model.graph;
  r->metadata_ = std::move(model.metadata);
  r->format_ = model.format;
  const Graph& g = *r->graph_;
  if (!declared.empty() && declared.size() != g.inputs().size()) {
    return Status::InvalidArgument("model runner: declared shapes for " + std::to_string(declared.size()) + " inputs, the graph has " +
                                   std::to_string(g.inputs().size()));
  }
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    r->load_shapes_.push_back(g.value(g.inputs()[i]).shape);
    std::vector<int64_t> d = declared.empty() ? r->load_shapes_[i].to_vector() : declared[i];
    if (declared.empty() && !d.empty()) d[0] = -1;
    if (d.size() != static_cast<size_t>(r->load_shapes_[i].rank())) {
      return Status::InvalidArgument("model runner: input " + std::to_string(i) + " is declared with rank " + std::to_string(d.size()));
    }
    r->declared_.push_back(std::move(d));
  }
  VITRINE_ASSIGN_OR_RETURN(r->executor_, Executor::create(r->graph_, ctx, ExecutorOptions{r->profiling_}));
  VITRINE_RETURN_IF_ERROR(r->refresh_if_trained());
  return r;
}

Status ModelRunner::check_inputs(const std::vector<Tensor>& inputs) const {
  const Graph& g = *graph_;
  VITRINE_RETURN_IF_ERROR(check_input_tensors(g, inputs));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const GraphValue& want = g.value(g.inputs()[i]);
    const Shape& s = inputs[i].shape();
    const std::vector<int64_t>& declared = declared_[i];
    if (declared.empty() && s.num_elements() == 1 && s.rank() <= 1) continue;  // a scalar, as () or (1)
    if (s.rank() != static_cast<int>(declared.size())) {
      return Status::InvalidArgument("input '" + want.name + "' must have rank " + std::to_string(declared.size()) +
                                     " (shape like " + want.shape.to_string() + "), got " + s.to_string());
    }
    for (size_t d = 1; d < declared.size(); ++d) {
      if (declared[d] >= 0 && s[static_cast<int>(d)] != declared[d]) {
        return Status::InvalidArgument("input '" + want.name + "': dimension " + std::to_string(d) + " is fixed at " +
                                       std::to_string(declared[d]) + " by the model, got " + s.to_string());
      }
    }
  }
  return Status::Ok();
}

// Training updates the weights in place, but XNNPACK packed them when an executor was built:
// rebuild the executors when any weight changed since.
Status ModelRunner::refresh_if_trained() {
  bool changed = generations_.empty();
  for (const auto& [t, gen] : generations_) changed = changed || t->generation() != gen;
  if (!changed) return Status::Ok();
  if (!generations_.empty()) {
    VITRINE_ASSIGN_OR_RETURN(executor_, Executor::create(graph_, ctx_, ExecutorOptions{profiling_}));
    for (auto& s : cache_) s->executor.reset();
  }
  generations_.clear();
  for (const GraphValue& v : graph_->values())
    if (!v.constant.empty()) generations_.emplace_back(&v.constant, v.constant.generation());
  return Status::Ok();
}

Result<ModelRunner::Shaped*> ModelRunner::shaped_for(const std::vector<Shape>& shapes) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if ((*it)->shapes != shapes) continue;
    cache_.splice(cache_.begin(), cache_, it);
    Shaped* s = cache_.front().get();
    if (!s->executor) {
      VITRINE_ASSIGN_OR_RETURN(s->executor, Executor::create(s->graph, ctx_, ExecutorOptions{profiling_}));
    }
    return s;
  }
  OnnxImportOptions options;
  for (size_t i = 0; i < shapes.size(); ++i) options.input_shapes[graph_->value(graph_->inputs()[i]).name] = shapes[i].to_vector();
  Result<std::shared_ptr<Graph>> graph = import_onnx(source_->data(), source_->size(), options);
  if (!graph.ok()) {
    return Status(graph.status().code(), "the model at input shapes " + shapes_text(shapes) + ": " + graph.status().message());
  }
  // Weights of the same origin and load-time content take the load-time graph's storage (with any
  // fine-tuning since); weights that depend on the shapes stay the new graph's own.
  std::map<std::string, size_t> taken;
  const Graph& fresh = *graph.value();
  for (size_t v = 0; v < fresh.values().size(); ++v) {
    if (fresh.values()[v].constant.empty()) continue;
    auto it = weights_by_key_.find(weight_key(fresh.values()[v]));
    if (it == weights_by_key_.end()) continue;
    size_t& k = taken[it->first];
    if (k >= it->second.size()) continue;
    VITRINE_RETURN_IF_ERROR(graph.value()->replace_constant(static_cast<int>(v), graph_->value(it->second[k++]).constant));
  }
  auto s = std::make_unique<Shaped>();
  s->shapes = shapes;
  s->graph = graph.value();
  VITRINE_ASSIGN_OR_RETURN(s->executor, Executor::create(s->graph, ctx_, ExecutorOptions{profiling_}));
  cache_.push_front(std::move(s));
  if (cache_.size() > kMaxShapes) cache_.pop_back();
  return cache_.front().get();
}

Status ModelRunner::run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  profiled_ = false;  // until this run completes
  if (outputs == nullptr) return Status::InvalidArgument("model runner: null outputs");
  VITRINE_RETURN_IF_ERROR(check_inputs(inputs));
  VITRINE_RETURN_IF_ERROR(refresh_if_trained());
  // Scalars (rank 0) run as one-element vectors, as the graph holds them.
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape().rank() != 0) continue;
    std::vector<Tensor> as_vectors = inputs;
    for (Tensor& t : as_vectors) {
      if (t.shape().rank() != 0) continue;
      VITRINE_ASSIGN_OR_RETURN(t, t.reshaped(Shape{1}));
    }
    return run(as_vectors, outputs);
  }
  std::vector<Shape> shapes;
  bool same = true, batch_only = true;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Shape& s = inputs[i].shape();
    shapes.push_back(s);
    same = same && s == load_shapes_[i];
    for (int d = 1; d < s.rank(); ++d) batch_only = batch_only && s[d] == load_shapes_[i][d];
  }
  bool here = same || !source_;
  if (!here && batch_only && !specialized_) here = graph_->infer_shapes(shapes).ok();
  if (here) return run_profiled(executor_.get(), inputs, outputs);
  VITRINE_ASSIGN_OR_RETURN(Shaped * s, shaped_for(shapes));
  return run_profiled(s->executor.get(), inputs, outputs);
}

Status ModelRunner::run_profiled(Executor* ex, const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  VITRINE_RETURN_IF_ERROR(ex->run(inputs, outputs));
  if (!profiling_) return Status::Ok();
  Result<std::vector<OpTime>> rows = ex->profile();  // a profile that cannot be read fails profile(), not the run
  profile_error_ = rows.status();
  if (rows.ok()) last_profile_ = std::move(rows).value();
  profiled_ = true;
  return Status::Ok();
}

Status ModelRunner::set_profiling(bool on) {
  if (on == profiling_) return Status::Ok();
  profiling_ = on;
  profiled_ = false;
  last_profile_.clear();
  for (auto& s : cache_) s->executor.reset();  // rebuilt on their next use
  Result<std::unique_ptr<Executor>> ex = Executor::create(graph_, ctx_, ExecutorOptions{profiling_});
  if (!ex.ok()) {
    profiling_ = !on;
    return ex.status();
  }
  executor_ = std::move(ex).value();
  return Status::Ok();
}

Result<std::vector<OpTime>> ModelRunner::profile() const {
  if (!profiling_) return Status::FailedPrecondition("model: profiling is off");
  if (!profiled_) return Status::FailedPrecondition("model: no completed run since profiling was turned on");
  if (!profile_error_.ok()) return profile_error_;
  return last_profile_;
}

}  // namespace vitrine
