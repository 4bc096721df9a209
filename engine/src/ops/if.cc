// If: runs one of two graphs (the branches, attrs.subgraphs = {then, else}) on the values the node
// passes them, chosen at run time by input 0 (one element; nonzero: then).
//   inputs: cond (1 element, any dtype), then's inputs, else's inputs (attrs.ints "then_inputs" =
//           {how many of the inputs after cond are then's})
//   outputs: the taken branch's outputs; both branches give the same shapes and dtypes for the same
//           inputs (an importer inlines a branch whose condition it knows, so branches whose shapes
//           differ need not agree). A branch that cannot take these shapes is only an error when
//           it is taken.
// Backward: none (a branch known at import is inlined and trains as ordinary nodes).
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

}  // namespace

const OpInfo kIfInfo = VITRINE_OP_INFO(If)
    .inputs(1, 1 << 16)
    .infer(&infer_if)
    .types(&types_if)
    .kernel(&run_if)
    .not_differentiable(1u);

}  // namespace vitrine
