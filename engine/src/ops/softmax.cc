// Softmax over the last axis. input x (..., K); attr axis = -1 (only the last axis is supported);
// output: same shape, each row sums to 1.
#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_softmax(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("softmax", {"axis"}));
  if (in[0].rank() < 1) return op_error("softmax", "input must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", -1);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("softmax", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  if (ax.value() != in[0].rank() - 1) return op_error("softmax", "only the last axis is supported");
  return std::vector<Shape>{in[0]};
}

Status lower_softmax(XnnLowering& l) {
  return l.check(xnn_define_softmax(l.subgraph, l.inputs[0], l.outputs[0], 0), "define softmax");
}

}  // namespace

const OpInfo kSoftmaxInfo{OpType::kSoftmax, 16, "softmax", 1, 1, &infer_softmax, &lower_softmax, nullptr};

}  // namespace vitrine
