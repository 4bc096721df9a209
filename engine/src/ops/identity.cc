// Identity: y = x (also what dropout is at inference).
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_identity(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("identity", {}));
  return std::vector<Shape>{in[0]};
}

Status lower_identity(XnnLowering& l) {
  return l.check(xnn_define_copy(l.subgraph, l.inputs[0], l.outputs[0], 0), "define copy");
}

}  // namespace

const OpInfo kIdentityInfo = VITRINE_OP_INFO(Identity)
    .inputs(1, 1)
    .infer(&infer_identity)
    .lowering(&lower_identity)
    .kernel(&run_copy_elements)
    .types(&types_like_first)
    .gradient(&backward_copy);

}  // namespace vitrine
