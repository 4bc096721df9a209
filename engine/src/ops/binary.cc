// Elementwise binary ops with numpy broadcasting: add, sub, mul, div (one family, one file).
//   inputs: a, b (shapes that broadcast); output: the broadcast shape.
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
  if (kType == OpType::kMul || kType == OpType::kDiv) {
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

}  // namespace vitrine
