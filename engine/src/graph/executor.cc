// Executor: lowers a Graph to one XNNPACK runtime and runs it.
#include <xnnpack.h>

#include <string>

#include "vitrine/graph.h"
#include "xnn_lowering.h"

namespace vitrine {

struct Executor::Impl {
  xnn_runtime_t runtime = nullptr;
  std::vector<Tensor> statics;              // tensors created during lowering (kept alive)
  std::vector<uint32_t> input_ids, output_ids;
  std::vector<Shape> input_shapes;          // shapes the runtime is reshaped for
  std::vector<Shape> output_shapes;
  ~Impl() {
    if (runtime) xnn_delete_runtime(runtime);
  }
};

namespace {

class Subgraph {
 public:
  ~Subgraph() {
    if (sg) xnn_delete_subgraph(sg);
  }
  xnn_subgraph_t sg = nullptr;
};

std::vector<size_t> dims_of(const Shape& s) {
  std::vector<size_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(static_cast<size_t>(s[i]));
  return d;
}

Status xnn_error(xnn_status status, const std::string& what) {
  if (status == xnn_status_success) return Status::Ok();
  if (status == xnn_status_out_of_memory) return Status::ResourceExhausted(what + ": out of memory");
  return Status::InvalidArgument(what + " (xnn_status " + std::to_string(static_cast<int>(status)) + ")");
}

}  // namespace

Executor::~Executor() = default;

Result<std::unique_ptr<Executor>> Executor::create(std::shared_ptr<const Graph> graph, Context* ctx) {
  if (!graph || !ctx) return Status::InvalidArgument("executor: null graph or context");
  const Graph& g = *graph;
  if (g.outputs().empty()) return Status::InvalidArgument("executor: the graph has no outputs");
  std::string unsupported;
  for (const GraphNode& n : g.nodes()) {
    if (op_info(n.type).lower == nullptr) {
      unsupported += std::string(unsupported.empty() ? "" : ", ") + op_info(n.type).name + " '" + n.name + "'";
    }
  }
  if (!unsupported.empty()) {
    return Status::Unimplemented("executor: no XNNPACK lowering for " + unsupported);
  }
  for (int o : g.outputs()) {
    if (g.value(o).producer < 0) {
      return Status::InvalidArgument("executor: output '" + g.value(o).name +
                                     "' is a graph input or constant; add an identity node");
    }
  }

  std::unique_ptr<Executor> ex(new Executor());
  ex->graph_ = graph;
  ex->impl_ = std::make_unique<Impl>();
  Impl& impl = *ex->impl_;

  const uint32_t n_external = static_cast<uint32_t>(g.inputs().size() + g.outputs().size());
  Subgraph sub;
  VITRINE_RETURN_IF_ERROR(xnn_error(xnn_create_subgraph(n_external, 0, &sub.sg), "executor: create subgraph"));

  std::vector<uint32_t> ids(g.values().size(), XNN_INVALID_VALUE_ID);
  std::vector<bool> used(g.values().size(), false);
  for (const GraphNode& n : g.nodes())
    for (int v : n.inputs) used[static_cast<size_t>(v)] = true;

  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const GraphValue& v = g.value(g.inputs()[i]);
    std::vector<size_t> d = dims_of(v.shape);
    uint32_t id = XNN_INVALID_VALUE_ID;
    VITRINE_RETURN_IF_ERROR(xnn_error(
        xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(), nullptr,
                                static_cast<uint32_t>(i), XNN_VALUE_FLAG_EXTERNAL_INPUT, &id),
        "executor: define input '" + v.name + "'"));
    ids[static_cast<size_t>(g.inputs()[i])] = id;
    impl.input_ids.push_back(id);
    impl.input_shapes.push_back(v.shape);
  }
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const GraphValue& v = g.value(g.outputs()[i]);
    std::vector<size_t> d = dims_of(v.shape);
    uint32_t id = XNN_INVALID_VALUE_ID;
    VITRINE_RETURN_IF_ERROR(xnn_error(
        xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(), nullptr,
                                static_cast<uint32_t>(g.inputs().size() + i),
                                XNN_VALUE_FLAG_EXTERNAL_OUTPUT, &id),
        "executor: define output '" + v.name + "'"));
    ids[static_cast<size_t>(g.outputs()[i])] = id;
    impl.output_ids.push_back(id);
    impl.output_shapes.push_back(v.shape);
  }
  for (size_t i = 0; i < g.values().size(); ++i) {
    const GraphValue& v = g.values()[i];
    if (ids[i] != XNN_INVALID_VALUE_ID || (v.constant.empty() && v.producer < 0)) continue;
    if (!v.constant.empty() && !used[i]) continue;
    std::vector<size_t> d = dims_of(v.shape);
    VITRINE_RETURN_IF_ERROR(xnn_error(
        xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(),
                                v.constant.empty() ? nullptr : v.constant.data(), XNN_INVALID_VALUE_ID, 0,
                                &ids[i]),
        "executor: define value '" + v.name + "'"));
  }

  for (const GraphNode& n : g.nodes()) {
    XnnLowering l;
    l.subgraph = sub.sg;
    l.attrs = &n.attrs;
    std::string label = std::string(op_info(n.type).name) + " '" + n.name + "'";
    l.node_name = label.c_str();
    for (int v : n.inputs) {
      l.inputs.push_back(ids[static_cast<size_t>(v)]);
      l.input_shapes.push_back(g.value(v).shape);
      l.constants.push_back(g.value(v).constant.empty() ? nullptr : &g.value(v).constant);
    }
    for (int v : n.outputs) {
      l.outputs.push_back(ids[static_cast<size_t>(v)]);
      l.output_shapes.push_back(g.value(v).shape);
    }
    l.add_static = [&](Tensor t) -> Result<uint32_t> {
      std::vector<size_t> d = dims_of(t.shape());
      uint32_t id = XNN_INVALID_VALUE_ID;
      xnn_status s = xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(), t.data(),
                                             XNN_INVALID_VALUE_ID, 0, &id);
      if (s != xnn_status_success) return xnn_error(s, label + ": define a static tensor");
      impl.statics.push_back(std::move(t));
      return id;
    };
    l.add_internal = [&](const Shape& shape) -> Result<uint32_t> {
      std::vector<size_t> d = dims_of(shape);
      uint32_t id = XNN_INVALID_VALUE_ID;
      xnn_status s = xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(), nullptr,
                                             XNN_INVALID_VALUE_ID, 0, &id);
      if (s != xnn_status_success) return xnn_error(s, label + ": define an internal value");
      return id;
    };
    VITRINE_RETURN_IF_ERROR(op_info(n.type).lower(l));
  }

  VITRINE_RETURN_IF_ERROR(xnn_error(
      xnn_create_runtime_v4(sub.sg, nullptr, nullptr, ctx->threadpool(), 0, &impl.runtime),
      "executor: create the XNNPACK runtime"));
  VITRINE_RETURN_IF_ERROR(xnn_error(xnn_reshape_runtime(impl.runtime), "executor: plan the XNNPACK runtime"));
  return ex;
}

Status Executor::run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  Impl& impl = *impl_;
  const Graph& g = *graph_;
  if (outputs == nullptr) return Status::InvalidArgument("executor: null outputs");
  if (inputs.size() != g.inputs().size()) {
    return Status::InvalidArgument("model takes " + std::to_string(g.inputs().size()) + " inputs, got " +
                                   std::to_string(inputs.size()));
  }
  bool reshape = false;
  std::vector<Shape> in_shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) return Status::InvalidArgument("input '" + g.value(g.inputs()[i]).name + "' is empty");
    in_shapes.push_back(inputs[i].shape());
    if (inputs[i].shape() != impl.input_shapes[i]) reshape = true;
  }
  if (reshape) {
    Result<std::vector<Shape>> shapes = g.infer_shapes(in_shapes);
    if (!shapes.ok()) return shapes.status();
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::vector<size_t> d = dims_of(in_shapes[i]);
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_reshape_external_value(impl.runtime, impl.input_ids[i], d.size(), d.data()),
                                        "executor: reshape input"));
    }
    VITRINE_RETURN_IF_ERROR(xnn_error(xnn_reshape_runtime(impl.runtime),
                                      "executor: this graph cannot run with input shapes other than those "
                                      "it was built for"));
    impl.input_shapes = in_shapes;
    for (size_t i = 0; i < g.outputs().size(); ++i) {
      impl.output_shapes[i] = shapes.value()[static_cast<size_t>(g.outputs()[i])];
      size_t nd = 0;
      size_t d[XNN_MAX_TENSOR_DIMS];
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_get_external_value_shape(impl.runtime, impl.output_ids[i], &nd, d),
                                        "executor: output shape"));
      int64_t n = 1;
      for (size_t k = 0; k < nd; ++k) n *= static_cast<int64_t>(d[k]);
      if (n != impl.output_shapes[i].num_elements()) {
        return Status::Internal("executor: XNNPACK and shape inference disagree on output '" +
                                g.value(g.outputs()[i]).name + "'");
      }
    }
  }
  outputs->resize(g.outputs().size());
  std::vector<xnn_external_value> externals;
  for (size_t i = 0; i < inputs.size(); ++i) {
    externals.push_back({impl.input_ids[i], const_cast<float*>(inputs[i].data())});
  }
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    Tensor& out = (*outputs)[i];
    if (out.empty() || out.shape() != impl.output_shapes[i] || out.is_borrowed()) {
      Result<Tensor> t = Tensor::zeros(impl.output_shapes[i]);
      if (!t.ok()) return t.status();
      out = t.value();
    }
    externals.push_back({impl.output_ids[i], out.mutable_data()});
  }
  VITRINE_RETURN_IF_ERROR(xnn_error(xnn_setup_runtime_v2(impl.runtime, externals.size(), externals.data()),
                                    "executor: setup"));
  return xnn_error(xnn_invoke_runtime(impl.runtime), "executor: run");
}

}  // namespace vitrine
