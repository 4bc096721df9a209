// Trainer: forward node by node (each node through its own small XNNPACK runtime or engine kernel,
// keeping every activation), loss, reverse-mode backward through OpInfo::backward, optimizer.
#include <cmath>
#include <cstring>

#include "vitrine/train.h"


namespace vitrine {
namespace {

bool differentiable_input(OpType type, size_t position) { return op_info(type).differentiable_input(position); }

// One node run on its own: a one-node graph whose constants are the node's constant inputs
// (sharing storage with the model), rebuilt when one of them has changed since the last build.
struct NodeRunner {
  std::shared_ptr<Graph> mini;
  std::unique_ptr<Executor> executor;
  std::vector<std::pair<const Tensor*, uint64_t>> constant_generations;
  std::vector<Tensor> outputs;
};

}  // namespace

struct Trainer::Impl {
  std::shared_ptr<Graph> graph;
  Context* ctx = nullptr;
  TrainerOptions options;
  std::vector<int> params;          // value indices of trainable constants
  std::vector<bool> frozen;         // per params entry
  // Gradients and optimizer state live in one flat arena (3 slabs of every parameter's size, each
  // parameter's region 64-byte aligned); these are views into it, per params entry.
  Tensor arena;
  std::vector<Tensor> grad_sum;     // accumulated gradients
  std::vector<Tensor> m, v;         // optimizer state (momentum / Adam moments)
  int64_t accumulated = 0;
  int64_t steps = 0;
  std::vector<NodeRunner> runners;  // per node
  std::vector<Tensor> values;       // per value: the last forward's tensors
  std::vector<Tensor> graph_outputs;

  Status run_forward(const std::vector<Tensor>& inputs, bool training);
  std::vector<OpAttrs> node_attrs;  // per node: the attrs of the last forward (training flags added)
  Result<double> forward_backward(const std::vector<Tensor>& inputs, const Tensor& target, bool backward);
  Status update();
};

Trainer::~Trainer() = default;

Result<std::unique_ptr<Trainer>> Trainer::create(std::shared_ptr<Graph> graph, Context* ctx, TrainerOptions options) {
  if (!graph || !ctx) return Status::InvalidArgument("trainer: null graph or context");
  if (options.output < 0 || options.output >= static_cast<int>(graph->outputs().size())) {
    return Status::InvalidArgument("trainer: the graph has no output " + std::to_string(options.output));
  }
  if (graph->value(graph->outputs()[static_cast<size_t>(options.output)]).dtype != DType::kF32) {
    return Status::InvalidArgument("trainer: output " + std::to_string(options.output) + " is " +
                                   dtype_name(graph->value(graph->outputs()[static_cast<size_t>(options.output)]).dtype) +
                                   "; the loss needs an f32 output");
  }
  const std::string& opt = options.optimizer.type;
  if (opt != "sgd" && opt != "adam" && opt != "adamw") {
    return Status::InvalidArgument("trainer: unknown optimizer '" + opt + "' (sgd, adam, adamw)");
  }
  if (!(options.optimizer.learning_rate > 0)) return Status::InvalidArgument("trainer: learning_rate must be > 0");
  const std::string& sched = options.optimizer.schedule;
  if (sched != "constant" && sched != "cosine" && sched != "step") {
    return Status::InvalidArgument("trainer: unknown schedule '" + sched + "' (constant, cosine, step)");
  }
  std::unique_ptr<Trainer> t(new Trainer());
  t->impl_ = std::make_unique<Impl>();
  Impl& im = *t->impl_;
  im.graph = graph;
  im.ctx = ctx;
  im.options = options;
  std::vector<bool> is_param(graph->values().size(), false);
  for (const GraphNode& n : graph->nodes()) {
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const GraphValue& gv = graph->value(n.inputs[i]);
      if (!gv.constant.empty() && gv.dtype == DType::kF32 && differentiable_input(n.type, i)) is_param[static_cast<size_t>(n.inputs[i])] = true;
    }
  }
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (size_t v = 0; v < is_param.size(); ++v) {
    if (!is_param[v]) continue;
    im.params.push_back(static_cast<int>(v));
    im.frozen.push_back(false);
    offsets.push_back(total);
    total += (graph->values()[v].shape.num_elements() + 15) / 16 * 16;
  }
  Result<Tensor> arena = Tensor::zeros(Shape{3 * total});
  if (!arena.ok()) return arena.status();
  im.arena = arena.value();
  float* base = im.arena.mutable_data();
  for (size_t i = 0; i < im.params.size(); ++i) {
    const Shape& s = graph->value(im.params[i]).shape;
    im.grad_sum.push_back(Tensor::wrap(s, base + offsets[i]));
    im.m.push_back(Tensor::wrap(s, base + total + offsets[i]));
    im.v.push_back(Tensor::wrap(s, base + 2 * total + offsets[i]));
  }
  im.runners.resize(graph->nodes().size());
  return t;
}

std::vector<std::string> Trainer::parameter_names() const {
  std::vector<std::string> names;
  for (int p : impl_->params) names.push_back(impl_->graph->value(p).name);
  return names;
}

Status Trainer::set_frozen(const std::string& prefix, bool frozen) {
  bool any = false;
  for (size_t i = 0; i < impl_->params.size(); ++i) {
    if (impl_->graph->value(impl_->params[i]).name.rfind(prefix, 0) == 0) {
      impl_->frozen[i] = frozen;
      any = true;
    }
  }
  if (!any) return Status::NotFound("trainer: no parameter name starts with '" + prefix + "'");
  return Status::Ok();
}

Status Trainer::Impl::run_forward(const std::vector<Tensor>& inputs, bool training) {
  const Graph& g = *graph;
  if (inputs.size() != g.inputs().size()) {
    return Status::InvalidArgument("model takes " + std::to_string(g.inputs().size()) + " inputs, got " +
                                   std::to_string(inputs.size()));
  }
  values.assign(g.values().size(), Tensor());
  for (size_t i = 0; i < g.values().size(); ++i)
    if (!g.values()[i].constant.empty()) values[i] = g.values()[i].constant;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) return Status::InvalidArgument("input '" + g.value(g.inputs()[i]).name + "' is empty");
    if (inputs[i].dtype() != g.value(g.inputs()[i]).dtype) {
      return Status::InvalidArgument("input '" + g.value(g.inputs()[i]).name + "' must be " +
                                     dtype_name(g.value(g.inputs()[i]).dtype) + ", got " + dtype_name(inputs[i].dtype()));
    }
    values[static_cast<size_t>(g.inputs()[i])] = inputs[i];
  }
  node_attrs.resize(g.nodes().size());
  for (size_t k = 0; k < g.nodes().size(); ++k) {
    const GraphNode& n = g.nodes()[k];
    node_attrs[k] = n.attrs;
    const OpInfo& info = op_info(n.type);
    if (training && info.train_forward) {  // batch statistics, random dropout
      node_attrs[k].numbers["training"] = 1;
      node_attrs[k].numbers["step"] = static_cast<double>(steps);
      std::vector<const Tensor*> ins;
      for (int v : n.inputs) ins.push_back(&values[static_cast<size_t>(v)]);
      std::vector<Shape> shapes;
      for (const Tensor* t : ins) shapes.push_back(t->shape());
      Result<std::vector<Shape>> out_shapes = info.infer_shapes(shapes, node_attrs[k]);
      if (!out_shapes.ok()) return out_shapes.status();
      std::vector<Tensor*> outs;
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        Result<Tensor> t = Tensor::zeros(out_shapes.value()[o], g.value(n.outputs[o]).dtype);
        if (!t.ok()) return t.status();
        values[static_cast<size_t>(n.outputs[o])] = t.value();
        outs.push_back(&values[static_cast<size_t>(n.outputs[o])]);
      }
      Status s = info.train_forward(ctx, node_attrs[k], ins, outs);
      if (!s.ok()) return Status(s.code(), std::string(info.name) + " '" + n.name + "': " + s.message());
      continue;
    }
    NodeRunner& r = runners[k];
    bool rebuild = !r.executor;
    for (const auto& [tensor, gen] : r.constant_generations) rebuild = rebuild || tensor->generation() != gen;
    std::vector<Tensor> feeds;
    for (int v : n.inputs)
      if (g.value(v).constant.empty()) feeds.push_back(values[static_cast<size_t>(v)]);
    if (rebuild) {
      r.mini = std::make_shared<Graph>();
      r.constant_generations.clear();
      std::vector<int> ids;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const GraphValue& gv = g.value(n.inputs[i]);
        const std::string name = "in" + std::to_string(i);
        Result<int> id = gv.constant.empty() ? r.mini->add_input(name, values[static_cast<size_t>(n.inputs[i])].shape(), gv.dtype)
                                             : r.mini->add_constant(name, gv.constant);
        if (!id.ok()) return id.status();
        ids.push_back(id.value());
        if (!gv.constant.empty()) r.constant_generations.emplace_back(&gv.constant, gv.constant.generation());
      }
      Result<std::vector<int>> outs = r.mini->add_node(n.type, n.name, ids, n.attrs);
      if (!outs.ok()) return outs.status();
      for (int o : outs.value()) VITRINE_RETURN_IF_ERROR(r.mini->add_output(o));
      Result<std::unique_ptr<Executor>> ex = Executor::create(r.mini, ctx);
      if (!ex.ok()) return ex.status();
      r.executor = std::move(ex).value();
      r.outputs.clear();
    }
    VITRINE_RETURN_IF_ERROR(r.executor->run(feeds, &r.outputs));
    for (size_t o = 0; o < n.outputs.size(); ++o) values[static_cast<size_t>(n.outputs[o])] = r.outputs[o];
  }
  graph_outputs.clear();
  for (int o : g.outputs()) graph_outputs.push_back(values[static_cast<size_t>(o)]);
  return Status::Ok();
}

Result<double> Trainer::Impl::forward_backward(const std::vector<Tensor>& inputs, const Tensor& target, bool backward) {
  VITRINE_RETURN_IF_ERROR(run_forward(inputs, backward));
  const Graph& g = *graph;
  const int out_value = g.outputs()[static_cast<size_t>(options.output)];
  const Tensor& prediction = values[static_cast<size_t>(out_value)];
  Tensor dloss;
  if (backward) {
    Result<Tensor> t = Tensor::zeros(prediction.shape());
    if (!t.ok()) return t.status();
    dloss = t.value();
  }
  if (target.dtype() != DType::kF32) {
    return Status::InvalidArgument(std::string("trainer: the target must be f32, got ") + dtype_name(target.dtype()));
  }
  Result<double> loss = compute_loss(options.loss, prediction, target, backward ? &dloss : nullptr);
  if (!loss.ok() || !backward) return loss;

  // Which values carry gradient towards a trainable parameter.
  std::vector<bool> trainable(g.values().size(), false);
  for (size_t i = 0; i < params.size(); ++i) trainable[static_cast<size_t>(params[i])] = !frozen[i];
  std::vector<bool> needs(g.values().size(), false);
  for (size_t i = 0; i < g.values().size(); ++i) needs[i] = trainable[i];
  for (const GraphNode& n : g.nodes()) {
    bool any = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) any = any || (needs[static_cast<size_t>(n.inputs[i])] && differentiable_input(n.type, i));
    for (int o : n.outputs) needs[static_cast<size_t>(o)] = any && g.value(o).dtype == DType::kF32;
  }
  std::vector<Tensor> grads(g.values().size());
  grads[static_cast<size_t>(out_value)] = dloss;
  std::vector<int> param_slot(g.values().size(), -1);
  for (size_t i = 0; i < params.size(); ++i) param_slot[static_cast<size_t>(params[i])] = static_cast<int>(i);
  for (size_t k = g.nodes().size(); k-- > 0;) {
    const GraphNode& n = g.nodes()[k];
    bool has_grad = false;
    for (int o : n.outputs) has_grad = has_grad || !grads[static_cast<size_t>(o)].empty();
    bool wants = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) wants = wants || (needs[static_cast<size_t>(n.inputs[i])] && differentiable_input(n.type, i));
    if (!has_grad || !wants) continue;
    const OpInfo& info = op_info(n.type);
    if (!info.backward) {
      return Status::Unimplemented(std::string(info.name) + " '" + n.name +
                                   "' has no backward kernel yet: freeze the parameters before it");
    }
    std::vector<const Tensor*> in_ptrs, out_ptrs, gout;
    for (int v : n.inputs) in_ptrs.push_back(&values[static_cast<size_t>(v)]);
    for (int o : n.outputs) {
      out_ptrs.push_back(&values[static_cast<size_t>(o)]);
      gout.push_back(grads[static_cast<size_t>(o)].empty() ? nullptr : &grads[static_cast<size_t>(o)]);
    }
    std::vector<Tensor> gin(n.inputs.size());
    std::vector<Tensor*> gin_ptrs(n.inputs.size(), nullptr);
    // Embedding tables that are parameters get sparse row gradients: only the looked-up rows are
    // added into the accumulator, no table-sized temporary.
    const int table = info.sparse_table_grad != nullptr && info.sparse_table_input < static_cast<int>(n.inputs.size())
                          ? info.sparse_table_input : -1;
    const bool sparse_table = table >= 0 && gout[0] && param_slot[static_cast<size_t>(n.inputs[static_cast<size_t>(table)])] >= 0 &&
                              needs[static_cast<size_t>(n.inputs[static_cast<size_t>(table)])];
    if (sparse_table) {
      Tensor& acc = grad_sum[static_cast<size_t>(param_slot[static_cast<size_t>(n.inputs[static_cast<size_t>(table)])])];
      Status s = info.sparse_table_grad(node_attrs[k], in_ptrs, *out_ptrs[0], *gout[0], &acc);
      if (!s.ok()) return Status(s.code(), std::string(info.name) + " '" + n.name + "' backward: " + s.message());
    }
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!needs[static_cast<size_t>(n.inputs[i])] || !differentiable_input(n.type, i)) continue;
      if (sparse_table && static_cast<int>(i) == table) continue;
      Result<Tensor> z = Tensor::zeros(values[static_cast<size_t>(n.inputs[i])].shape());
      if (!z.ok()) return z.status();
      gin[i] = z.value();
      gin_ptrs[i] = &gin[i];
    }
    Status s = info.backward(ctx, node_attrs[k], in_ptrs, out_ptrs, gout, gin_ptrs);
    if (!s.ok()) return Status(s.code(), std::string(info.name) + " '" + n.name + "' backward: " + s.message());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!gin_ptrs[i]) continue;
      const size_t v = static_cast<size_t>(n.inputs[i]);
      const int slot = param_slot[v];
      Tensor& dst = slot >= 0 ? grad_sum[static_cast<size_t>(slot)] : grads[v];
      if (slot < 0 && dst.empty()) {
        dst = gin[i];
        continue;
      }
      float* d = dst.mutable_data();
      const float* src = gin[i].data();
      for (int64_t e = 0; e < dst.num_elements(); ++e) d[e] += src[e];
    }
  }
  ++accumulated;
  return loss;
}

Status Trainer::Impl::update() {
  if (accumulated == 0) return Status::FailedPrecondition("trainer: apply() without accumulated gradients");
  const OptimizerOptions& o = options.optimizer;
  const float scale = 1.0f / static_cast<float>(accumulated);
  double norm2 = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (frozen[i]) continue;
    float* g = grad_sum[i].mutable_data();
    for (int64_t e = 0; e < grad_sum[i].num_elements(); ++e) {
      g[e] *= scale;
      if (!std::isfinite(g[e])) {
        return Status::InvalidArgument("trainer: the gradient of '" + graph->value(params[i]).name +
                                       "' is not finite (learning rate too high?); parameters left unchanged");
      }
      norm2 += double(g[e]) * g[e];
    }
  }
  const float clip = o.clip_norm > 0 && std::sqrt(norm2) > o.clip_norm ? static_cast<float>(o.clip_norm / std::sqrt(norm2)) : 1.0f;
  const double lr = scheduled_learning_rate(o, steps);
  const int64_t t = steps + 1;
  const bool sgd = o.type == "sgd", adamw = o.type == "adamw";  // decided once, not per element
  const float decay = static_cast<float>(o.weight_decay), momentum = static_cast<float>(o.momentum);
  const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(t)), bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  for (size_t i = 0; i < params.size(); ++i) {
    if (frozen[i]) continue;
    Tensor param = graph->value(params[i]).constant;  // a handle sharing the graph's storage
    float* p = param.mutable_data();
    float* g = grad_sum[i].mutable_data();
    float* m1 = m[i].mutable_data();
    float* m2 = v[i].mutable_data();
    const int64_t n = param.num_elements();
    if (sgd) {
      for (int64_t e = 0; e < n; ++e) {
        float grad = g[e] * clip + decay * p[e];
        if (momentum > 0) {
          m1[e] = momentum * m1[e] + grad;
          grad = m1[e];
        }
        p[e] -= static_cast<float>(lr) * grad;
        g[e] = 0.0f;
      }
    } else {
      for (int64_t e = 0; e < n; ++e) {
        float grad = g[e] * clip;
        if (adamw) p[e] -= static_cast<float>(lr * o.weight_decay) * p[e];
        else grad += decay * p[e];
        m1[e] = b1 * m1[e] + (1.0f - b1) * grad;
        m2[e] = b2 * m2[e] + (1.0f - b2) * grad * grad;
        const double denom = std::sqrt(m2[e] / bc2) + o.epsilon;
        p[e] -= static_cast<float>(lr / bc1 * m1[e] / denom);
        g[e] = 0.0f;
      }
    }
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (frozen[i]) std::fill_n(grad_sum[i].mutable_data(), grad_sum[i].num_elements(), 0.0f);
  accumulated = 0;
  ++steps;
  return Status::Ok();
}

Result<double> Trainer::step(const std::vector<Tensor>& inputs, const Tensor& target) {
  Result<double> loss = impl_->forward_backward(inputs, target, true);
  if (!loss.ok()) {
    impl_->accumulated = 0;
    for (Tensor& g : impl_->grad_sum) std::fill_n(g.mutable_data(), g.num_elements(), 0.0f);
    return loss;
  }
  VITRINE_RETURN_IF_ERROR(impl_->update());
  return loss;
}

Result<double> Trainer::accumulate(const std::vector<Tensor>& inputs, const Tensor& target) {
  return impl_->forward_backward(inputs, target, true);
}

Status Trainer::apply() { return impl_->update(); }

Result<double> Trainer::evaluate(const std::vector<Tensor>& inputs, const Tensor& target) {
  return impl_->forward_backward(inputs, target, false);
}

const std::vector<Tensor>& Trainer::outputs() const { return impl_->graph_outputs; }
int64_t Trainer::steps_taken() const { return impl_->steps; }

std::vector<std::pair<std::string, Tensor>> Trainer::optimizer_state() const {
  std::vector<std::pair<std::string, Tensor>> state;
  for (size_t i = 0; i < impl_->params.size(); ++i) {
    const std::string& name = impl_->graph->value(impl_->params[i]).name;
    state.emplace_back("optimizer/" + name + "/m", impl_->m[i]);
    state.emplace_back("optimizer/" + name + "/v", impl_->v[i]);
  }
  const float steps = static_cast<float>(impl_->steps);
  state.emplace_back("optimizer/step", Tensor::from_values(Shape{1}, &steps, 1).value());
  return state;
}

Status Trainer::load_optimizer_state(const std::map<std::string, Tensor>& state) {
  auto find = [&](const std::string& key) -> Result<const Tensor*> {
    auto it = state.find(key);
    if (it == state.end()) return Status::NotFound("optimizer state has no '" + key + "'");
    return &it->second;
  };
  std::vector<std::pair<Tensor*, const Tensor*>> copies;
  for (size_t i = 0; i < impl_->params.size(); ++i) {
    const std::string& name = impl_->graph->value(impl_->params[i]).name;
    for (auto [dst, suffix] : {std::make_pair(&impl_->m[i], "/m"), std::make_pair(&impl_->v[i], "/v")}) {
      Result<const Tensor*> src = find("optimizer/" + name + suffix);
      if (!src.ok()) return src.status();
      if (src.value()->shape() != dst->shape()) {
        return Status::InvalidArgument("optimizer state 'optimizer/" + name + suffix + "' has shape " +
                                       src.value()->shape().to_string() + ", the parameter " + dst->shape().to_string());
      }
      copies.emplace_back(dst, src.value());
    }
  }
  Result<const Tensor*> step = find("optimizer/step");
  if (!step.ok()) return step.status();
  const float s = step.value()->data()[0];
  if (step.value()->num_elements() != 1 || !(s >= 0) || s != std::floor(s)) return Status::InvalidArgument("optimizer/step must be a count");
  for (auto& [dst, src] : copies) std::memcpy(dst->mutable_data(), src->data(), dst->nbytes());
  impl_->steps = static_cast<int64_t>(s);
  return Status::Ok();
}

}  // namespace vitrine
