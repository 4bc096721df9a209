// Executor: lowers a Graph to one XNNPACK runtime and runs it.
#include <xnnpack.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "../core/xnn_util.h"
#include "vitrine/graph.h"
#include "../ops/xnn_lowering.h"

namespace vitrine {

// A run of consecutive lowerable nodes compiled into one XNNPACK runtime, or one engine kernel.
struct Segment {
  xnn_runtime_t runtime = nullptr;      // XNNPACK segment
  std::vector<int> in_values;           // graph values fed from outside the segment
  std::vector<int> out_values;          // graph values the segment produces for others
  std::vector<uint32_t> in_ids, out_ids;
  int kernel_node = -1;                 // engine-kernel segment: the node index
  std::vector<int> nodes;               // XNNPACK segment: the graph nodes lowered into it, in order
  double kernel_ms = 0;                 // engine-kernel segment, when profiling: its last run's time
  ~Segment() {
    if (runtime) xnn_delete_runtime(runtime);
  }
};

struct Executor::Impl {
  Context* ctx = nullptr;
  std::vector<std::unique_ptr<Segment>> segments;
  std::vector<Tensor> statics;              // tensors created during lowering (kept alive)
  std::vector<Tensor> buffers;              // per graph value: storage of values crossing segments
  std::vector<Shape> shapes;                // per graph value: current shape
  std::vector<Shape> input_shapes;          // the shapes everything is planned for
  bool planned = false;
  bool profile = false;                     // runtimes built with XNNPACK's per-operator timer
  bool ran = false;                         // a run completed (profile() reads it)
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

Status xnn_error(xnn_status status, const std::string& what) { return xnn_check(status, what); }

std::string node_label(const GraphNode& n) { return std::string(op_info(n.type).name) + " '" + n.name + "'"; }

// Builds the XNNPACK runtime for `nodes` (ascending node indices). Values produced before the
// segment (or graph inputs) are external inputs; values used after it (or graph outputs) external
// outputs.
Status build_segment(const Graph& g, const std::vector<size_t>& nodes, const std::vector<int>& last_use,
                     Context* ctx, uint32_t flags, std::vector<Tensor>* statics, Segment* seg) {
  std::vector<bool> produced_here(g.values().size(), false);
  for (size_t i : nodes)
    for (int v : g.nodes()[i].outputs) produced_here[static_cast<size_t>(v)] = true;
  std::vector<bool> is_output(g.values().size(), false);
  for (int o : g.outputs()) is_output[static_cast<size_t>(o)] = true;
  const int last = static_cast<int>(nodes.back());
  for (size_t i : nodes) {
    for (int v : g.nodes()[i].inputs) {
      const GraphValue& gv = g.value(v);
      if (!produced_here[static_cast<size_t>(v)] && gv.constant.empty() &&
          std::find(seg->in_values.begin(), seg->in_values.end(), v) == seg->in_values.end()) {
        seg->in_values.push_back(v);
      }
    }
    for (int v : g.nodes()[i].outputs) {
      if (is_output[static_cast<size_t>(v)] || last_use[static_cast<size_t>(v)] > last) {
        seg->out_values.push_back(v);
      }
    }
  }
  const uint32_t n_external = static_cast<uint32_t>(seg->in_values.size() + seg->out_values.size());
  Subgraph sub;
  VITRINE_RETURN_IF_ERROR(xnn_error(xnn_create_subgraph(n_external, 0, &sub.sg), "executor: create subgraph"));
  std::vector<uint32_t> ids(g.values().size(), XNN_INVALID_VALUE_ID);
  uint32_t next_external = 0;
  auto define_external = [&](int v, uint32_t flags) -> Status {
    std::vector<size_t> d = dims_of(g.value(v).shape);
    uint32_t id = XNN_INVALID_VALUE_ID;
    VITRINE_RETURN_IF_ERROR(xnn_error(xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(), nullptr,
                                                              next_external++, flags, &id),
                                      "executor: define '" + g.value(v).name + "'"));
    ids[static_cast<size_t>(v)] = id;
    return Status::Ok();
  };
  for (int v : seg->in_values) {
    VITRINE_RETURN_IF_ERROR(define_external(v, XNN_VALUE_FLAG_EXTERNAL_INPUT));
    seg->in_ids.push_back(ids[static_cast<size_t>(v)]);
  }
  for (int v : seg->out_values) {
    VITRINE_RETURN_IF_ERROR(define_external(v, XNN_VALUE_FLAG_EXTERNAL_OUTPUT));
    seg->out_ids.push_back(ids[static_cast<size_t>(v)]);
  }
  auto value_id = [&](int v) -> Result<uint32_t> {
    uint32_t& id = ids[static_cast<size_t>(v)];
    if (id != XNN_INVALID_VALUE_ID) return id;
    const GraphValue& gv = g.value(v);
    std::vector<size_t> d = dims_of(gv.shape);
    xnn_status s = xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(),
                                           gv.constant.empty() ? nullptr : gv.constant.data(), XNN_INVALID_VALUE_ID,
                                           0, &id);
    if (s != xnn_status_success) return xnn_error(s, "executor: define value '" + gv.name + "'");
    return id;
  };
  for (size_t i : nodes) {
    const GraphNode& n = g.nodes()[i];
    XnnLowering l;
    l.subgraph = sub.sg;
    l.attrs = &n.attrs;
    std::string label = node_label(n);
    l.node_name = label.c_str();
    for (int v : n.inputs) {
      Result<uint32_t> id = value_id(v);
      if (!id.ok()) return id.status();
      l.inputs.push_back(id.value());
      l.input_shapes.push_back(g.value(v).shape);
      l.constants.push_back(g.value(v).constant.empty() ? nullptr : &g.value(v).constant);
    }
    for (int v : n.outputs) {
      Result<uint32_t> id = value_id(v);
      if (!id.ok()) return id.status();
      l.outputs.push_back(id.value());
      l.output_shapes.push_back(g.value(v).shape);
    }
    l.add_static = [&](Tensor t) -> Result<uint32_t> {
      std::vector<size_t> d = dims_of(t.shape());
      uint32_t id = XNN_INVALID_VALUE_ID;
      xnn_status s = xnn_define_tensor_value(sub.sg, xnn_datatype_fp32, d.size(), d.data(), t.data(),
                                             XNN_INVALID_VALUE_ID, 0, &id);
      if (s != xnn_status_success) return xnn_error(s, label + ": define a static tensor");
      statics->push_back(std::move(t));
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
  for (size_t i : nodes) seg->nodes.push_back(static_cast<int>(i));
  return xnn_error(xnn_create_runtime_v4(sub.sg, nullptr, nullptr, ctx->threadpool(), flags, &seg->runtime),
                   "executor: create the XNNPACK runtime");
}

// Whether node `n` runs inside an XNNPACK segment: its op lowers and all its values are f32.
bool lowers(const Graph& g, const GraphNode& n) {
  if (op_info(n.type).lower == nullptr) return false;
  if (op_info(n.type).lowers_if) {
    std::vector<Shape> shapes;
    for (int v : n.inputs) shapes.push_back(g.value(v).shape);
    if (!op_info(n.type).lowers_if(n.attrs, shapes)) return false;
  }
  for (int v : n.inputs)
    if (g.value(v).dtype != DType::kF32) return false;
  for (int v : n.outputs)
    if (g.value(v).dtype != DType::kF32) return false;
  return true;
}

}  // namespace

Executor::~Executor() = default;

Result<std::unique_ptr<Executor>> Executor::create(std::shared_ptr<const Graph> graph, Context* ctx,
                                                   ExecutorOptions options) {
  if (!graph || !ctx) return Status::InvalidArgument("executor: null graph or context");
  const Graph& g = *graph;
  if (g.outputs().empty()) return Status::InvalidArgument("executor: the graph has no outputs");
  std::string unsupported;
  for (const GraphNode& n : g.nodes()) {
    const OpInfo& info = op_info(n.type);
    if (!lowers(g, n) && info.run == nullptr) {
      unsupported += std::string(unsupported.empty() ? "" : ", ") + node_label(n);
    }
  }
  if (!unsupported.empty()) return Status::Unimplemented("executor: no kernel for " + unsupported);
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
  impl.ctx = ctx;
  impl.profile = options.profile;

  // Only nodes that lead to an output run (an importer may leave unread results behind, e.g. a
  // recurrent layer's final states or a transpose that a later one cancelled).
  std::vector<bool> needed(g.values().size(), false), live(g.nodes().size(), false);
  for (int o : g.outputs()) needed[static_cast<size_t>(o)] = true;
  for (size_t k = g.nodes().size(); k-- > 0;) {
    for (int v : g.nodes()[k].outputs) live[k] = live[k] || needed[static_cast<size_t>(v)];
    if (live[k])
      for (int v : g.nodes()[k].inputs) needed[static_cast<size_t>(v)] = true;
  }
  std::vector<int> last_use(g.values().size(), -1);
  for (size_t i = 0; i < g.nodes().size(); ++i)
    if (live[i])
      for (int v : g.nodes()[i].inputs) last_use[static_cast<size_t>(v)] = static_cast<int>(i);
  std::vector<size_t> order;
  for (size_t i = 0; i < g.nodes().size(); ++i)
    if (live[i]) order.push_back(i);
  size_t i = 0;
  while (i < order.size()) {
    auto seg = std::make_unique<Segment>();
    if (lowers(g, g.nodes()[order[i]])) {
      std::vector<size_t> run;
      while (i < order.size() && lowers(g, g.nodes()[order[i]])) run.push_back(order[i++]);
      VITRINE_RETURN_IF_ERROR(build_segment(g, run, last_use, ctx, options.profile ? XNN_FLAG_BASIC_PROFILING : 0,
                                            &impl.statics, seg.get()));
    } else {
      seg->kernel_node = static_cast<int>(order[i++]);
    }
    impl.segments.push_back(std::move(seg));
  }
  impl.buffers.resize(g.values().size());
  for (const GraphValue& v : g.values()) impl.shapes.push_back(v.shape);
  for (int in : g.inputs()) impl.input_shapes.push_back(g.value(in).shape);
  return ex;
}

Status Executor::run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  Impl& impl = *impl_;
  const Graph& g = *graph_;
  if (outputs == nullptr) return Status::InvalidArgument("executor: null outputs");
  impl.ran = false;
  VITRINE_RETURN_IF_ERROR(check_input_tensors(g, inputs));
  bool reshape = !impl.planned;
  std::vector<Shape> in_shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    in_shapes.push_back(inputs[i].shape());
    if (inputs[i].shape() != impl.input_shapes[i]) reshape = true;
  }
  if (reshape) {
    impl.planned = false;  // until the new plan is complete: a failed re-plan is redone next run
    Result<std::vector<Shape>> shapes = g.infer_shapes(in_shapes);
    if (!shapes.ok()) return shapes.status();
    impl.shapes = shapes.value();
    for (const auto& seg : impl.segments) {
      if (!seg->runtime) continue;
      for (size_t k = 0; k < seg->in_values.size(); ++k) {
        std::vector<size_t> d = dims_of(impl.shapes[static_cast<size_t>(seg->in_values[k])]);
        VITRINE_RETURN_IF_ERROR(xnn_error(xnn_reshape_external_value(seg->runtime, seg->in_ids[k], d.size(), d.data()),
                                          "executor: reshape an input"));
      }
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_reshape_runtime(seg->runtime),
                                        "executor: this graph cannot run with input shapes other than those "
                                        "it was built for"));
      for (size_t k = 0; k < seg->out_values.size(); ++k) {
        size_t nd = 0;
        size_t d[XNN_MAX_TENSOR_DIMS];
        VITRINE_RETURN_IF_ERROR(xnn_error(xnn_get_external_value_shape(seg->runtime, seg->out_ids[k], &nd, d),
                                          "executor: output shape"));
        int64_t count = 1;
        for (size_t q = 0; q < nd; ++q) count *= static_cast<int64_t>(d[q]);
        if (count != impl.shapes[static_cast<size_t>(seg->out_values[k])].num_elements()) {
          return Status::Internal("executor: XNNPACK and shape inference disagree on '" +
                                  g.value(seg->out_values[k]).name + "'");
        }
      }
    }
    impl.input_shapes = in_shapes;
    impl.planned = true;
  }
  // Graph inputs are used in place; every other crossing value lives in a buffer.
  std::vector<const Tensor*> value_ptr(g.values().size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) value_ptr[static_cast<size_t>(g.inputs()[i])] = &inputs[i];
  for (size_t v = 0; v < g.values().size(); ++v)
    if (!g.values()[v].constant.empty()) value_ptr[v] = &g.values()[v].constant;
  outputs->resize(g.outputs().size());
  auto buffer_for = [&](int v) -> Result<Tensor*> {
    Tensor* t = &impl.buffers[static_cast<size_t>(v)];
    for (size_t k = 0; k < g.outputs().size(); ++k)
      if (g.outputs()[k] == v) t = &(*outputs)[k];
    const Shape& shape = impl.shapes[static_cast<size_t>(v)];
    const DType dtype = g.value(v).dtype;
    if (t->empty() || t->shape() != shape || t->dtype() != dtype || t->is_borrowed()) {
      Result<Tensor> fresh = Tensor::zeros(shape, dtype);
      if (!fresh.ok()) return fresh.status();
      *t = fresh.value();
    }
    value_ptr[static_cast<size_t>(v)] = t;
    return t;
  };
  for (const auto& seg : impl.segments) {
    if (seg->runtime) {
      std::vector<xnn_external_value> externals;
      for (size_t k = 0; k < seg->in_values.size(); ++k) {
        const Tensor* t = value_ptr[static_cast<size_t>(seg->in_values[k])];
        if (!t) return Status::Internal("executor: value '" + g.value(seg->in_values[k]).name + "' not computed");
        externals.push_back({seg->in_ids[k], const_cast<void*>(t->raw_data())});
      }
      for (size_t k = 0; k < seg->out_values.size(); ++k) {
        Result<Tensor*> t = buffer_for(seg->out_values[k]);
        if (!t.ok()) return t.status();
        externals.push_back({seg->out_ids[k], t.value()->mutable_raw_data()});
      }
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_setup_runtime_v2(seg->runtime, externals.size(), externals.data()),
                                        "executor: setup"));
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_invoke_runtime(seg->runtime), "executor: run"));
    } else {
      const GraphNode& n = g.nodes()[static_cast<size_t>(seg->kernel_node)];
      std::vector<const Tensor*> ins;
      for (int v : n.inputs) {
        if (!value_ptr[static_cast<size_t>(v)]) return Status::Internal("executor: value '" + g.value(v).name + "' not computed");
        ins.push_back(value_ptr[static_cast<size_t>(v)]);
      }
      std::vector<Tensor*> outs;
      for (int v : n.outputs) {
        Result<Tensor*> t = buffer_for(v);
        if (!t.ok()) return t.status();
        outs.push_back(t.value());
      }
      const auto start = std::chrono::steady_clock::now();
      Status s = op_info(n.type).run(impl.ctx, n.attrs, ins, outs);
      if (!s.ok()) return Status(s.code(), node_label(n) + ": " + s.message());
      if (impl.profile) {
        seg->kernel_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      }
    }
  }
  impl.ran = true;
  return Status::Ok();
}

namespace {

// 2 × multiply-adds of a node at `shapes`, for the ops whose cost is a matrix product; else 0.
// `part`: which of the node's matrix operators (attention: 0 = q·kᵀ, 1 = p·v).
double node_flops(const GraphNode& n, const std::vector<Shape>& shapes, int part = 0) {
  if (n.outputs.empty() || n.inputs.size() < 2) return 0;
  auto shape = [&](int v) -> const Shape& { return shapes[static_cast<size_t>(v)]; };
  const double out = static_cast<double>(shape(n.outputs[0]).num_elements());
  const Shape& x = shape(n.inputs[0]);
  const Shape& w = shape(n.inputs[1]);
  switch (n.type) {
    case OpType::kConv2D:  // W (O, KH, KW, C / groups)
      return w.rank() == 4 ? 2.0 * out * static_cast<double>(w[1]) * static_cast<double>(w[2]) * static_cast<double>(w[3]) : 0;
    case OpType::kConvTranspose2D: {  // every input pixel meets KH·KW·O/groups weights
      Result<int64_t> groups = n.attrs.integer("groups", 1);
      if (w.rank() != 4 || !groups.ok() || groups.value() < 1) return 0;
      return 2.0 * static_cast<double>(x.num_elements()) * static_cast<double>(w[1]) * static_cast<double>(w[2]) *
             static_cast<double>(w[0]) / static_cast<double>(groups.value());
    }
    case OpType::kDense:
    case OpType::kMatMul:  // (..., K) · ... : K multiply-adds per output
      return x.rank() >= 1 ? 2.0 * out * static_cast<double>(x[x.rank() - 1]) : 0;
    case OpType::kAttention: {  // q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv) -> (..., Lq, Dv)
      if (n.inputs.size() < 3) return 0;
      const Shape& v = shape(n.inputs[2]);
      if (x.rank() < 2 || w.rank() < 2 || v.rank() < 2 || v[v.rank() - 1] == 0) return 0;
      const double rows = out / static_cast<double>(v[v.rank() - 1]);  // batch · Lq
      const double lk = static_cast<double>(w[w.rank() - 2]);
      return 2.0 * rows * lk * static_cast<double>(part == 0 ? x[x.rank() - 1] : v[v.rank() - 1]);
    }
    default:
      return 0;
  }
}

// How many XNNPACK matrix operators a node becomes: one for a convolution (possibly rewritten as a
// fully-connected one when it is 1×1), a dense layer or a matrix product; two batch matrix
// multiplies for attention; none for the rest.
int matrix_operators(OpType t) {
  if (t == OpType::kConv2D || t == OpType::kConvTranspose2D || t == OpType::kDense || t == OpType::kMatMul) return 1;
  return t == OpType::kAttention ? 2 : 0;
}

bool matrix_operator(const std::string& name) {
  for (const char* p : {"Convolution", "Deconvolution", "Fully Connected", "Dynamic Fully Connected", "Batch Matrix Multiply"})
    if (name.compare(0, std::strlen(p), p) == 0) return true;
  return false;
}

}  // namespace

Result<std::vector<OpTime>> Executor::profile() const {
  const Impl& impl = *impl_;
  const Graph& g = *graph_;
  if (!impl.profile) return Status::FailedPrecondition("executor: built without profiling");
  if (!impl.ran) return Status::FailedPrecondition("executor: no completed run to profile");
  std::vector<OpTime> rows;
  for (size_t k = 0; k < impl.segments.size(); ++k) {
    const Segment& seg = *impl.segments[k];
    if (!seg.runtime) {
      const GraphNode& n = g.nodes()[static_cast<size_t>(seg.kernel_node)];
      rows.push_back({std::string("engine ") + op_info(n.type).name, node_label(n), seg.kernel_ms,
                      node_flops(n, impl.shapes), static_cast<int>(k)});
      continue;
    }
    size_t count = 0, size = 0;
    VITRINE_RETURN_IF_ERROR(xnn_error(xnn_get_runtime_profiling_info(seg.runtime, xnn_profile_info_num_operators,
                                                                     sizeof(count), &count, &size),
                                      "executor: profile"));
    std::vector<uint64_t> micros(count);
    std::string names;
    if (count > 0) {
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_get_runtime_profiling_info(seg.runtime, xnn_profile_info_operator_timing,
                                                                       count * sizeof(uint64_t), micros.data(), &size),
                                        "executor: profile times"));
      size = 0;
      xnn_status st = xnn_get_runtime_profiling_info(seg.runtime, xnn_profile_info_operator_name, 0, nullptr, &size);
      if (st != xnn_status_out_of_memory && st != xnn_status_success) return xnn_error(st, "executor: profile names");
      names.assign(size, '\0');
      VITRINE_RETURN_IF_ERROR(xnn_error(xnn_get_runtime_profiling_info(seg.runtime, xnn_profile_info_operator_name,
                                                                       names.size(), &names[0], &size),
                                        "executor: profile names"));
    }
    // XNNPACK runs its operators in the order the nodes were defined, so the i-th matrix operator
    // is the segment's i-th matrix node. Counts that differ (a rewrite this does not know) leave
    // the segment's rows unnamed rather than misnamed.
    std::vector<std::pair<int, int>> matrix_nodes;  // (node, which of its matrix operators)
    for (int v : seg.nodes)
      for (int part = 0; part < matrix_operators(g.nodes()[static_cast<size_t>(v)].type); ++part) matrix_nodes.emplace_back(v, part);
    std::vector<std::string> ops;
    for (size_t at = 0; ops.size() < count && at < names.size();) {
      size_t end = names.find('\0', at);
      if (end == std::string::npos) end = names.size();
      ops.push_back(names.substr(at, end - at));
      at = end + 1;
    }
    ops.resize(count);
    const size_t matrix_ops = static_cast<size_t>(std::count_if(ops.begin(), ops.end(), matrix_operator));
    const bool named = matrix_ops == matrix_nodes.size();
    size_t next = 0;
    for (size_t i = 0; i < count; ++i) {
      OpTime row;
      row.op = ops[i];
      row.ms = static_cast<double>(micros[i]) / 1000.0;
      row.segment = static_cast<int>(k);
      if (named && matrix_operator(row.op)) {
        const auto [node, part] = matrix_nodes[next++];
        const GraphNode& n = g.nodes()[static_cast<size_t>(node)];
        row.node = node_label(n);
        row.flops = node_flops(n, impl.shapes, part);
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace vitrine
