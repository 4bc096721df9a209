// Logical ops on bool tensors (one family, one file): and, or, xor (numpy broadcasting) and not
// (one input). Engine kernels; no gradient.
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_logical(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("logical", {}));
  if (in.size() == 1) return std::vector<Shape>{in[0]};
  Result<Shape> s = broadcast_shapes("logical", in[0], in[1]);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value()};
}

Result<std::vector<DType>> types_logical(const std::vector<DType>& in, const OpAttrs&) {
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != DType::kBool) return type_error("", i, in[i], "bool");
  return std::vector<DType>{DType::kBool};
}

template <typename F>
Status logical(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, F f) {
  const Shape& ys = out[0]->shape();
  uint8_t* y = out[0]->mutable_data_as<uint8_t>();
  const uint8_t* a = in[0]->data_as<uint8_t>();
  const uint8_t* b = in[1]->data_as<uint8_t>();
  for_each_broadcast_k<2>({in[0]->shape(), in[1]->shape()}, ys, [&](int64_t i, const std::array<int64_t, 2>& p) {
    y[i] = f(a[p[0]] != 0, b[p[1]] != 0) ? 1 : 0;
  });
  return Status::Ok();
}

Status run_and(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return logical(in, out, [](bool x, bool y) { return x && y; });
}
Status run_or(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return logical(in, out, [](bool x, bool y) { return x || y; });
}
Status run_xor(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return logical(in, out, [](bool x, bool y) { return x != y; });
}
Status run_not(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const uint8_t* x = in[0]->data_as<uint8_t>();
  uint8_t* y = out[0]->mutable_data_as<uint8_t>();
  for (int64_t i = 0; i < in[0]->num_elements(); ++i) y[i] = x[i] ? 0 : 1;
  return Status::Ok();
}

}  // namespace

const OpInfo kAndInfo = VITRINE_OP_INFO(And).inputs(2, 2).infer(&infer_logical).types(&types_logical).kernel(&run_and).not_differentiable(0x3);
const OpInfo kOrInfo = VITRINE_OP_INFO(Or).inputs(2, 2).infer(&infer_logical).types(&types_logical).kernel(&run_or).not_differentiable(0x3);
const OpInfo kXorInfo = VITRINE_OP_INFO(Xor).inputs(2, 2).infer(&infer_logical).types(&types_logical).kernel(&run_xor).not_differentiable(0x3);
const OpInfo kNotInfo = VITRINE_OP_INFO(Not).inputs(1, 1).infer(&infer_logical).types(&types_logical).kernel(&run_not).not_differentiable(0x1);

}  // namespace vitrine
