// MatMul with numpy semantics for rank >= 2: (..., M, K) · (..., K, N) -> (..., M, N), leading
// (batch) dimensions broadcast. Lowered to XNNPACK's batch matrix multiply.
#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_matmul(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("matmul", {}));
  const Shape &x = in[0], &y = in[1];
  if (x.rank() < 2 || y.rank() < 2) {
    return op_error("matmul", "inputs must have rank >= 2, got " + x.to_string() + " and " + y.to_string());
  }
  if (x.dim(-1) != y.dim(-2)) {
    return op_error("matmul", "inner dimensions differ: " + x.to_string() + " · " + y.to_string());
  }
  std::vector<int64_t> xb(x.to_vector()), yb(y.to_vector());
  xb.resize(xb.size() - 2);
  yb.resize(yb.size() - 2);
  Result<Shape> xs = Shape::make(xb), ys = Shape::make(yb);
  Result<Shape> batch = broadcast_shapes("matmul", xs.value(), ys.value());
  if (!batch.ok()) return batch.status();
  std::vector<int64_t> dims = batch->to_vector();
  dims.push_back(x.dim(-2));
  dims.push_back(y.dim(-1));
  return one_shape(dims);
}

Status lower_matmul(XnnLowering& l) {
  return l.check(xnn_define_batch_matrix_multiply(l.subgraph, l.inputs[0], l.inputs[1], l.outputs[0], 0),
                 "define batch matrix multiply");
}

}  // namespace

const OpInfo kMatMulInfo{OpType::kMatMul, 23, "matmul", 2, 2, &infer_matmul, &lower_matmul, nullptr};

}  // namespace vitrine
