// Elementwise binary ops with numpy broadcasting (one family, one file): add, sub, mul, div,
// max, min, pow (a^b), prelu (a where a >= 0, else b * a: b is the learned slope).
//   inputs: a, b (shapes that broadcast); output: the broadcast shape.
// Backward at the broadcast shape, summed back to each input's shape. max/min ties send the
// gradient to a; pow's gradient to the exponent is a^b * ln(a) for a > 0 and 0 elsewhere.
#include <cmath>

#include "xnn_lowering.h"
#include "grad_util.h"
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

// d(a ∘ b): computed at the broadcast shape, then summed back to each input's shape.
template <OpType kType>
Status backward_binary(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  const Shape& os = out[0]->shape();
  const int64_t total = os.num_elements();
  std::vector<float> full(static_cast<size_t>(total));
  // Values of a and b broadcast to the output shape (only what the derivative needs).
  auto expand = [&](const Tensor& t, std::vector<float>* dst) {
    dst->resize(static_cast<size_t>(total));
    expand_to_shape(t.data(), t.shape(), os, dst->data());
  };
  std::vector<float> av, bv;
  if (kType != OpType::kAdd && kType != OpType::kSub) {
    expand(*in[0], &av);
    expand(*in[1], &bv);
  }
  for (size_t which = 0; which < 2; ++which) {
    if (!gin[which]) continue;
    if (!gout[0]) {
      std::fill_n(gin[which]->mutable_data(), gin[which]->num_elements(), 0.0f);
      continue;
    }
    const float* dy = gout[0]->data();
    for (int64_t i = 0; i < total; ++i) {
      const size_t k = static_cast<size_t>(i);
      float g = dy[i];
      switch (kType) {
        case OpType::kAdd: break;
        case OpType::kSub: g = which == 0 ? g : -g; break;
        case OpType::kMul: g *= which == 0 ? bv[k] : av[k]; break;
        case OpType::kDiv: g = which == 0 ? g / bv[k] : -g * av[k] / (bv[k] * bv[k]); break;
        case OpType::kMax: g = (which == 0) == (av[k] >= bv[k]) ? g : 0.0f; break;
        case OpType::kMin: g = (which == 0) == (av[k] <= bv[k]) ? g : 0.0f; break;
        case OpType::kPow:
          g = which == 0 ? g * bv[k] * std::pow(av[k], bv[k] - 1.0f)
                         : av[k] > 0 ? g * std::pow(av[k], bv[k]) * std::log(av[k]) : 0.0f;
          break;
        case OpType::kPRelu: g = which == 0 ? (av[k] >= 0 ? g : g * bv[k]) : (av[k] >= 0 ? 0.0f : g * av[k]); break;
        default: return Status::Internal("not a binary op");
      }
      full[k] = g;
    }
    reduce_to_shape(full.data(), os, in[which]->shape(), gin[which]->mutable_data());
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kAddInfo = VITRINE_OP_INFO(Add)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kAdd>)
    .lowering(&lower_binary<xnn_binary_add>)
    .gradient(&backward_binary<OpType::kAdd>);
const OpInfo kSubInfo = VITRINE_OP_INFO(Sub)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kSub>)
    .lowering(&lower_binary<xnn_binary_subtract>)
    .gradient(&backward_binary<OpType::kSub>);
const OpInfo kMulInfo = VITRINE_OP_INFO(Mul)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kMul>)
    .lowering(&lower_binary<xnn_binary_multiply>)
    .gradient(&backward_binary<OpType::kMul>);
const OpInfo kDivInfo = VITRINE_OP_INFO(Div)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kDiv>)
    .lowering(&lower_binary<xnn_binary_divide>)
    .gradient(&backward_binary<OpType::kDiv>);
const OpInfo kMaxInfo = VITRINE_OP_INFO(Max)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kMax>)
    .lowering(&lower_binary<xnn_binary_maximum>)
    .gradient(&backward_binary<OpType::kMax>);
const OpInfo kMinInfo = VITRINE_OP_INFO(Min)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kMin>)
    .lowering(&lower_binary<xnn_binary_minimum>)
    .gradient(&backward_binary<OpType::kMin>);
const OpInfo kPowInfo = VITRINE_OP_INFO(Pow)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kPow>)
    .lowering(&lower_binary<xnn_binary_pow>)
    .gradient(&backward_binary<OpType::kPow>);
const OpInfo kPReluInfo = VITRINE_OP_INFO(PRelu)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kPRelu>)
    .lowering(&lower_binary<xnn_binary_prelu>)
    .gradient(&backward_binary<OpType::kPRelu>);

}  // namespace vitrine
