// HardSigmoid: y = max(0, min(1, alpha * x + beta)), elementwise (ONNX HardSigmoid; PyTorch's
// Hardsigmoid is alpha = 1/6, beta = 0.5, as in MobileNetV3's squeeze-and-excitation gates).
//   input x (any shape); output: same shape. attrs: alpha = 0.2, beta = 0.5 (finite).
// Lowered to XNNPACK as multiply by alpha, then add beta with the output clamped to [0, 1], so a
// MobileNetV3 gate stays inside its XNNPACK segment; the engine kernel (the same formula) runs it
// outside the executor and is checked against the lowering by the op case table.
// Backward: dx = alpha * dy where 0 < alpha * x + beta < 1, else 0.
#include <algorithm>
#include <cmath>

#include "grad_util.h"
#include "op_util.h"
#include "xnn_lowering.h"

namespace vitrine {
namespace {

struct Params {
  float alpha, beta;
};

Result<Params> params(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("hard_sigmoid", {"alpha", "beta"}));
  const double alpha = a.number("alpha", 0.2), beta = a.number("beta", 0.5);
  if (!std::isfinite(alpha) || !std::isfinite(beta)) return op_error("hard_sigmoid", "alpha and beta must be finite");
  return Params{static_cast<float>(alpha), static_cast<float>(beta)};
}

Result<std::vector<Shape>> infer_hard_sigmoid(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(params(a).status());
  return std::vector<Shape>{in[0]};
}

Status run_hard_sigmoid(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  VITRINE_ASSIGN_OR_RETURN(Params p, params(a));
  const float* x = in[0]->data();
  float* y = out[0]->mutable_data();
  const int64_t n = in[0]->num_elements();
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(1.0f, std::max(0.0f, p.alpha * x[i] + p.beta));
  return Status::Ok();
}

Status lower_hard_sigmoid(XnnLowering& l) {
  VITRINE_ASSIGN_OR_RETURN(Params p, params(*l.attrs));
  VITRINE_ASSIGN_OR_RETURN(Tensor alpha, Tensor::from_values(Shape{1}, &p.alpha, 1));
  VITRINE_ASSIGN_OR_RETURN(Tensor beta, Tensor::from_values(Shape{1}, &p.beta, 1));
  VITRINE_ASSIGN_OR_RETURN(uint32_t alpha_id, l.add_static(alpha));
  VITRINE_ASSIGN_OR_RETURN(uint32_t beta_id, l.add_static(beta));
  VITRINE_ASSIGN_OR_RETURN(uint32_t scaled, l.add_internal(l.output_shapes[0]));  // alpha * x
  VITRINE_RETURN_IF_ERROR(l.check(xnn_define_binary(l.subgraph, xnn_binary_multiply, nullptr, l.inputs[0], alpha_id, scaled, 0),
                                  "define multiply"));
  const xnn_binary_params clamp = {0.0, 1.0};
  return l.check(xnn_define_binary(l.subgraph, xnn_binary_add, &clamp, scaled, beta_id, l.outputs[0], 0),
                 "define add with clamp");
}

Status backward_hard_sigmoid(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>&,
                             const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  VITRINE_ASSIGN_OR_RETURN(Params p, params(a));
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const float* x = in[0]->data();
  const int64_t n = in[0]->num_elements();
  const float* dy = gout[0]->data();
  for (int64_t i = 0; i < n; ++i) {
    const float v = p.alpha * x[i] + p.beta;
    dx[i] = v > 0.0f && v < 1.0f ? p.alpha * dy[i] : 0.0f;
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kHardSigmoidInfo = VITRINE_OP_INFO(HardSigmoid)
    .inputs(1, 1)
    .infer(&infer_hard_sigmoid)
    .lowering(&lower_hard_sigmoid)
    .kernel(&run_hard_sigmoid)
    .gradient(&backward_hard_sigmoid);

}  // namespace vitrine
