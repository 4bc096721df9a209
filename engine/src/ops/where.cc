// Where: y = condition ? x : z, element-wise with numpy broadcasting of all three.
// inputs: condition (bool), x, z (the same dtype, any); output: that dtype. Engine kernel.
// Backward (f32): dx = Σ_broadcast dy·[condition], dz = Σ_broadcast dy·[!condition].
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_where(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("where", {}));
  Result<Shape> s = broadcast_shapes("where", in[0], in[1]);
  if (!s.ok()) return s.status();
  s = broadcast_shapes("where", s.value(), in[2]);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value()};
}

Result<std::vector<DType>> types_where(const std::vector<DType>& in, const OpAttrs&) {
  if (in[0] != DType::kBool) return type_error("", 0, in[0], "bool");
  VITRINE_RETURN_IF_ERROR(same_dtypes("", in, 1));
  return std::vector<DType>{in[1]};
}

// pos[k][i]: the element of input k that output element i reads.
std::vector<std::vector<int64_t>> positions(const std::vector<const Tensor*>& in, const Shape& ys) {
  std::vector<std::vector<int64_t>> pos(3, std::vector<int64_t>(static_cast<size_t>(ys.num_elements())));
  for (size_t k = 0; k < 3; ++k)
    for_each_broadcast(in[k]->shape(), ys, [&](int64_t i, int64_t p) { pos[k][static_cast<size_t>(i)] = p; });
  return pos;
}

Status run_where(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Shape& ys = out[0]->shape();
  const std::vector<std::vector<int64_t>> pos = positions(in, ys);
  const uint8_t* c = in[0]->data_as<uint8_t>();
  visit_dtype(in[1]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in[1]->data_as<T>();
    const T* z = in[2]->data_as<T>();
    T* y = out[0]->mutable_data_as<T>();
    for (size_t i = 0; i < pos[0].size(); ++i) y[i] = c[pos[0][i]] ? x[pos[1][i]] : z[pos[2][i]];
  });
  return Status::Ok();
}

Status backward_where(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& out,
                      const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  const Shape& ys = out[0]->shape();
  const std::vector<std::vector<int64_t>> pos = positions(in, ys);
  const uint8_t* c = in[0]->data_as<uint8_t>();
  for (size_t k = 1; k < 3; ++k) {
    if (!gin[k]) continue;
    float* d = gin[k]->mutable_data();
    std::fill_n(d, gin[k]->num_elements(), 0.0f);
    if (!gout[0]) continue;
    const float* dy = gout[0]->data();
    for (size_t i = 0; i < pos[0].size(); ++i)
      if ((c[pos[0][i]] != 0) == (k == 1)) d[pos[k][i]] += dy[i];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kWhereInfo = VITRINE_OP_INFO(Where)
    .inputs(3, 3)
    .infer(&infer_where)
    .types(&types_where)
    .kernel(&run_where)
    .gradient(&backward_where)
    .not_differentiable(0x1);

}  // namespace vitrine
