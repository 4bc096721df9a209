// If: runs one of two graphs (the branches, attrs.subgraphs = {then, else}) on the values the node
// passes them, chosen at run time by input 0 (one element; nonzero: then).
//   inputs: cond (1 element, any dtype), then's inputs, else's inputs (attrs.ints "then_inputs" =
//           {how many of the inputs after cond are then's})
//   outputs: the taken branch's outputs; both branches give the same shapes and dtypes for the same
//           inputs (an importer inlines a branch whose condition it knows, so branches whose shapes
//           differ need not agree). A branch that cannot take these shapes is only an error when
//           it is taken.
// Backward: through the branch the condition picked: the branch runs again keeping every value,
// then each of its nodes' backward in reverse gives the gradients of the values the node passed
// it (the branch's own constants are not trained; a branch known at import is inlined instead and
// its weights train as ordinary nodes).
#include <cmath>
#include <cstring>

#include "op_util.h"
#include "vitrine/graph.h"

namespace vitrine {
namespace {

struct Branches {
  const Subgraph* then_branch = nullptr;
  const Subgraph* else_branch = nullptr;
  size_t then_inputs = 0;
};

Result<Branches> branches_of(const OpAttrs& a, size_t n_inputs) {
  VITRINE_RETURN_IF_ERROR(a.check_known("if", {"then_inputs"}));
  if (a.subgraphs.size() != 2 || !a.subgraphs[0] || !a.subgraphs[1]) {
    return op_error("if", "needs two branches (then, else)");
  }
  Result<std::vector<int64_t>> t = a.int_list("then_inputs", 1, {0});
  if (!t.ok()) return t.status();
  const int64_t then_inputs = t.value()[0];
  if (n_inputs < 1 || then_inputs < 0 || then_inputs > static_cast<int64_t>(n_inputs) - 1) {
    return op_error("if", "then_inputs must be between 0 and the number of inputs after the condition");
  }
  Branches b;
  b.then_branch = a.subgraphs[0].get();
  b.else_branch = a.subgraphs[1].get();
  b.then_inputs = static_cast<size_t>(then_inputs);
  return b;
}

// The slice of `all` (after the condition) that branch `k` (0: then) takes.
template <typename T>
std::vector<T> branch_slice(const std::vector<T>& all, const Branches& b, int k) {
  const size_t begin = k == 0 ? 1 : 1 + b.then_inputs;
  const size_t end = k == 0 ? 1 + b.then_inputs : all.size();
  return std::vector<T>(all.begin() + static_cast<std::ptrdiff_t>(begin), all.begin() + static_cast<std::ptrdiff_t>(end));
}

const char* branch_name(int k) { return k == 0 ? "then" : "else"; }

Result<std::vector<Shape>> branch_shapes(const Subgraph& s, const std::vector<Shape>& in, int k) {
  if (!s.graph) return s.error;
  const Graph& g = *s.graph;
  if (g.inputs().size() != in.size()) {
    return op_error("if", std::string("the ") + branch_name(k) + " branch takes " + std::to_string(g.inputs().size()) +
                              " inputs, the node passes " + std::to_string(in.size()));
  }
  Result<std::vector<Shape>> all = g.infer_shapes(in);
  if (!all.ok()) return all.status();
  std::vector<Shape> out;
  for (int o : g.outputs()) out.push_back(all.value()[static_cast<size_t>(o)]);
  return out;
}

Result<std::vector<Shape>> infer_if(const std::vector<Shape>& in, const OpAttrs& a) {
  Result<Branches> b = branches_of(a, in.size());
  if (!b.ok()) return b.status();
  if (in[0].num_elements() != 1) return op_error("if", "the condition must have one element, got " + in[0].to_string());
  Result<std::vector<Shape>> then_shapes = branch_shapes(*b.value().then_branch, branch_slice(in, b.value(), 0), 0);
  Result<std::vector<Shape>> else_shapes = branch_shapes(*b.value().else_branch, branch_slice(in, b.value(), 1), 1);
  if (!then_shapes.ok() && !else_shapes.ok()) {
    return op_error("if", "neither branch takes these inputs: then: " + then_shapes.status().message() +
                              "; else: " + else_shapes.status().message());
  }
  if (!then_shapes.ok()) return else_shapes;
  if (!else_shapes.ok()) return then_shapes;
  const std::vector<Shape>& t = then_shapes.value();
  const std::vector<Shape>& e = else_shapes.value();
  if (t.size() != e.size()) {
    return op_error("if", "the branches give " + std::to_string(t.size()) + " and " + std::to_string(e.size()) + " outputs");
  }
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != e[i]) {
      return op_error("if", "output " + std::to_string(i) + " is " + t[i].to_string() + " in the then branch and " +
                                e[i].to_string() + " in the else branch, and the condition is only known at run time");
    }
  }
  return then_shapes;
}

Result<std::vector<DType>> types_if(const std::vector<DType>& in, const OpAttrs& a) {
  Result<Branches> b = branches_of(a, in.size());
  if (!b.ok()) return b.status();
  std::vector<DType> out;
  bool have = false;
  for (int k = 0; k < 2; ++k) {
    const Subgraph& s = *(k == 0 ? b.value().then_branch : b.value().else_branch);
    if (!s.graph) continue;
    const Graph& g = *s.graph;
    std::vector<DType> given = branch_slice(in, b.value(), k);
    for (size_t i = 0; i < given.size() && i < g.inputs().size(); ++i) {
      if (g.value(g.inputs()[i]).dtype != given[i]) {
        return op_error("if", std::string("input ") + std::to_string(i) + " of the " + branch_name(k) + " branch is " +
                                  dtype_name(g.value(g.inputs()[i]).dtype) + ", the node passes " + dtype_name(given[i]));
      }
    }
    std::vector<DType> mine;
    for (int o : g.outputs()) mine.push_back(g.value(o).dtype);
    if (have && mine != out) return op_error("if", "the branches' outputs have different dtypes");
    out = mine;
    have = true;
  }
  if (!have) return op_error("if", "neither branch could be built");
  return out;
}

Status run_if(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  Result<Branches> b = branches_of(a, in.size());
  if (!b.ok()) return b.status();
  if (in[0]->num_elements() != 1) return op_error("if", "the condition must have one element");
  const double cond = in[0]->element_as_double(0);
  if (std::isnan(cond)) return op_error("if", "the condition is NaN");
  const int k = cond != 0.0 ? 0 : 1;
  Subgraph& s = *a.subgraphs[static_cast<size_t>(k)];
  if (!s.graph) return Status(s.error.code(), std::string(branch_name(k)) + " branch: " + s.error.message());
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.executor) {
    Result<std::unique_ptr<Executor>> ex = Executor::create(s.graph, ctx);
    if (!ex.ok()) return Status(ex.status().code(), std::string(branch_name(k)) + " branch: " + ex.status().message());
    s.executor = std::move(ex).value();
  }
  std::vector<Tensor> ins;
  for (const Tensor* t : branch_slice(in, b.value(), k)) ins.push_back(*t);
  std::vector<Tensor> results;
  Status run = s.executor->run(ins, &results);
  if (!run.ok()) return Status(run.code(), std::string(branch_name(k)) + " branch: " + run.message());
  if (results.size() != out.size()) return Status::Internal("if: the branch gave another number of outputs");
  for (size_t i = 0; i < out.size(); ++i) {
    if (results[i].shape() != out[i]->shape() || results[i].dtype() != out[i]->dtype()) {
      return Status::Internal("if: the " + std::string(branch_name(k)) + " branch gave " + results[i].shape().to_string() +
                              " for output " + std::to_string(i) + ", planned " + out[i]->shape().to_string());
    }
    if (results[i].nbytes()) std::memcpy(out[i]->mutable_raw_data(), results[i].raw_data(), results[i].nbytes());
  }
  return Status::Ok();
}

// The branch's graph with every node output published (for backward), built once.
Status ensure_trace(Context* ctx, Subgraph& s) {
  if (s.trace_executor) return Status::Ok();
  const Graph& g = *s.graph;
  auto trace = std::make_shared<Graph>();
  std::vector<int> id(g.values().size(), -1);
  for (int in : g.inputs()) {
    VITRINE_ASSIGN_OR_RETURN(id[static_cast<size_t>(in)], trace->add_input(g.value(in).name, g.value(in).shape, g.value(in).dtype));
  }
  for (size_t v = 0; v < g.values().size(); ++v) {
    if (!g.values()[v].constant.empty()) {
      VITRINE_ASSIGN_OR_RETURN(id[v], trace->add_constant(g.values()[v].name, g.values()[v].constant));
    }
  }
  for (const GraphNode& n : g.nodes()) {
    std::vector<int> ins;
    for (int v : n.inputs) ins.push_back(id[static_cast<size_t>(v)]);
    VITRINE_ASSIGN_OR_RETURN(std::vector<int> outs, trace->add_node(n.type, n.name, ins, n.attrs));
    for (size_t o = 0; o < outs.size(); ++o) {
      id[static_cast<size_t>(n.outputs[o])] = outs[o];
      VITRINE_RETURN_IF_ERROR(trace->add_output(outs[o]));
    }
  }
  VITRINE_ASSIGN_OR_RETURN(s.trace_executor, Executor::create(trace, ctx));
  s.trace_graph = trace;
  return Status::Ok();
}

Status backward_if(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& /*out*/,
                   const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  Result<Branches> b = branches_of(a, in.size());
  if (!b.ok()) return b.status();
  const int k = in[0]->element_as_double(0) != 0.0 ? 0 : 1;
  Subgraph& s = *a.subgraphs[static_cast<size_t>(k)];
  if (!s.graph) return s.error;
  std::lock_guard<std::mutex> lock(s.mu);
  VITRINE_RETURN_IF_ERROR(ensure_trace(ctx, s));
  const Graph& g = *s.graph;
  std::vector<Tensor> feeds;
  for (const Tensor* t : branch_slice(in, b.value(), k)) feeds.push_back(*t);
  std::vector<Tensor> traced;
  VITRINE_RETURN_IF_ERROR(s.trace_executor->run(feeds, &traced));
  // Every value of the branch: inputs, constants, then node outputs in the trace's output order.
  std::vector<const Tensor*> value(g.values().size(), nullptr);
  for (size_t i = 0; i < g.inputs().size(); ++i) value[static_cast<size_t>(g.inputs()[i])] = &feeds[i];
  for (size_t v = 0; v < g.values().size(); ++v)
    if (!g.values()[v].constant.empty()) value[v] = &g.values()[v].constant;
  size_t next = 0;
  for (const GraphNode& n : g.nodes())
    for (int o : n.outputs) value[static_cast<size_t>(o)] = &traced[next++];
  std::vector<Tensor> grad(g.values().size());
  for (size_t i = 0; i < g.outputs().size() && i < gout.size(); ++i) {
    if (!gout[i]) continue;
    Tensor& dst = grad[static_cast<size_t>(g.outputs()[i])];
    if (dst.empty()) {
      VITRINE_ASSIGN_OR_RETURN(dst, gout[i]->clone());
    } else {
      for (int64_t e = 0; e < dst.num_elements(); ++e) dst.mutable_data()[e] += gout[i]->data()[e];
    }
  }
  for (size_t q = g.nodes().size(); q-- > 0;) {
    const GraphNode& n = g.nodes()[q];
    const OpInfo& info = op_info(n.type);
    std::vector<const Tensor*> ins, outs, gouts;
    bool any = false;
    for (int o : n.outputs) {
      outs.push_back(value[static_cast<size_t>(o)]);
      gouts.push_back(grad[static_cast<size_t>(o)].empty() ? nullptr : &grad[static_cast<size_t>(o)]);
      any = any || gouts.back() != nullptr;
    }
    if (!any) continue;
    std::vector<Tensor> gi(n.inputs.size());
    std::vector<Tensor*> gptr(n.inputs.size(), nullptr);
    bool wants = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const GraphValue& gv = g.value(n.inputs[i]);
      ins.push_back(value[static_cast<size_t>(n.inputs[i])]);
      if (!gv.constant.empty() || gv.dtype != DType::kF32 || !info.differentiable_input(i)) continue;
      VITRINE_ASSIGN_OR_RETURN(gi[i], Tensor::zeros(ins.back()->shape()));
      gptr[i] = &gi[i];
      wants = true;
    }
    if (!wants) continue;
    if (!info.backward) {
      return Status::Unimplemented(std::string("if: ") + info.name + " '" + n.name + "' in the " + branch_name(k) + " branch has no backward");
    }
    Status st = info.backward(ctx, n.attrs, ins, outs, gouts, gptr);
    if (!st.ok()) return Status(st.code(), std::string("if: ") + info.name + " '" + n.name + "' backward: " + st.message());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!gptr[i]) continue;
      Tensor& dst = grad[static_cast<size_t>(n.inputs[i])];
      if (dst.empty()) {
        dst = gi[i];
      } else {
        for (int64_t e = 0; e < dst.num_elements(); ++e) dst.mutable_data()[e] += gi[i].data()[e];
      }
    }
  }
  // The branch's inputs are the node's inputs after the condition (its slice); the other branch's
  // get zeros.
  for (size_t i = 1; i < gin.size(); ++i)
    if (gin[i]) std::fill_n(gin[i]->mutable_data(), gin[i]->num_elements(), 0.0f);
  const size_t begin = k == 0 ? 1 : 1 + b.value().then_inputs;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    Tensor* dst = begin + i < gin.size() ? gin[begin + i] : nullptr;
    const Tensor& src = grad[static_cast<size_t>(g.inputs()[i])];
    if (!dst || src.empty()) continue;
    for (int64_t e = 0; e < dst->num_elements(); ++e) dst->mutable_data()[e] += src.data()[e];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kIfInfo = VITRINE_OP_INFO(If)
    .inputs(1, 1 << 16)
    .infer(&infer_if)
    .types(&types_if)
    .kernel(&run_if)
    .gradient(&backward_if)
    .not_differentiable(1u);

}  // namespace vitrine
