// Dropout: the identity at inference (attr rate in [0, 1) is validated and kept for training).
#include "../graph/xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_dropout(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("dropout", {"rate"}));
  const double rate = a.number("rate", 0.5);
  if (!(rate >= 0 && rate < 1)) return op_error("dropout", "rate must be in [0, 1)");
  return std::vector<Shape>{in[0]};
}

Status lower_dropout(XnnLowering& l) {
  return l.check(xnn_define_copy(l.subgraph, l.inputs[0], l.outputs[0], 0), "define copy");
}

}  // namespace

const OpInfo kDropoutInfo{OpType::kDropout, 35, "dropout", 1, 1, &infer_dropout, &lower_dropout, nullptr, nullptr, &backward_copy};

}  // namespace vitrine
