// Elementwise binary ops with numpy broadcasting: add, sub, mul, div (one family, one file).
//   inputs: a, b (shapes that broadcast); output: the broadcast shape.
#include <cmath>

#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

template <OpType kType>
Result<std::vector<Shape>> infer_binary(const std::vector<Shape>& in, const OpAttrs& a) {
  const char* name = op_info(kType).name;
  VITRINE_RETURN_IF_ERROR(a.check_known(name, {}));
  Result<Shape> s = broadcast_shapes(name, in[0], in[1]);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value()};
}

template <xnn_binary_operator kOp>
Status lower_binary(XnnLowering& l) {
  return l.check(xnn_define_binary(l.subgraph, kOp, nullptr, l.inputs[0], l.inputs[1], l.outputs[0], 0),
                 "define binary operator");
}

}  // namespace

const OpInfo kAddInfo{OpType::kAdd, 5, "add", 2, 2, &infer_binary<OpType::kAdd>,
                      &lower_binary<xnn_binary_add>, nullptr};
const OpInfo kSubInfo{OpType::kSub, 6, "sub", 2, 2, &infer_binary<OpType::kSub>,
                      &lower_binary<xnn_binary_subtract>, nullptr};
const OpInfo kMulInfo{OpType::kMul, 7, "mul", 2, 2, &infer_binary<OpType::kMul>,
                      &lower_binary<xnn_binary_multiply>, nullptr};
const OpInfo kDivInfo{OpType::kDiv, 8, "div", 2, 2, &infer_binary<OpType::kDiv>,
                      &lower_binary<xnn_binary_divide>, nullptr};

}  // namespace vitrine
