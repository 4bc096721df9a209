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

std::array<Shape, 3> shapes(const std::vector<const Tensor*>& in) { return {in[0]->shape(), in[1]->shape(), in[2]->shape()}; }

Status run_where(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const uint8_t* c = in[0]->data_as<uint8_t>();
  visit_dtype(in[1]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in[1]->data_as<T>();
    const T* z = in[2]->data_as<T>();
    T* y = out[0]->mutable_data_as<T>();
    for_each_broadcast_k<3>(shapes(in), out[0]->shape(), [&](int64_t i, const std::array<int64_t, 3>& p) {
      y[i] = c[p[0]] ? x[p[1]] : z[p[2]];
    });
  });
  return Status::Ok();
}

Status backward_where(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& out,
                      const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  const uint8_t* c = in[0]->data_as<uint8_t>();
  for (size_t k = 1; k < 3; ++k) {
    if (!gin[k]) continue;
    float* d = gin[k]->mutable_data();
    std::fill_n(d, gin[k]->num_elements(), 0.0f);
    if (!gout[0]) continue;
    const float* dy = gout[0]->data();
    for_each_broadcast_k<3>(shapes(in), out[0]->shape(), [&](int64_t i, const std::array<int64_t, 3>& p) {
      if ((c[p[0]] != 0) == (k == 1)) d[p[k]] += dy[i];
    });
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
