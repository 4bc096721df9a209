// Comparisons (one family, one file): y = a OP b, element-wise with numpy broadcasting, as bool.
// a and b have the same dtype (any). Ops: equal, less, less_or_equal, greater, greater_or_equal.
// Any comparison with NaN is false (IEEE). Engine kernel; the output
// carries no gradient.
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_compare(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("compare", {}));
  Result<Shape> s = broadcast_shapes("compare", in[0], in[1]);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value()};
}

Result<std::vector<DType>> types_compare(const std::vector<DType>& in, const OpAttrs&) {
  VITRINE_RETURN_IF_ERROR(same_dtypes("", in));
  return std::vector<DType>{DType::kBool};
}

template <typename Cmp>
Status compare(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, Cmp cmp) {
  const Shape& ys = out[0]->shape();
  uint8_t* y = out[0]->mutable_data_as<uint8_t>();
  visit_dtype(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* a = in[0]->data_as<T>();
    const T* b = in[1]->data_as<T>();
    for_each_broadcast_k<2>({in[0]->shape(), in[1]->shape()}, ys, [&](int64_t i, const std::array<int64_t, 2>& p) {
      y[i] = cmp(a[p[0]], b[p[1]]) ? 1 : 0;
    });
  });
  return Status::Ok();
}

Status run_equal(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return compare(in, out, [](auto x, auto y) { return x == y; });
}
Status run_less(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return compare(in, out, [](auto x, auto y) { return x < y; });
}
Status run_less_or_equal(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return compare(in, out, [](auto x, auto y) { return x <= y; });
}
Status run_greater(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  return compare(in, out, [](auto x, auto y) { return x > y; });
}
Status run_greater_or_equal(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                            const std::vector<Tensor*>& out) {
  return compare(in, out, [](auto x, auto y) { return x >= y; });
}

}  // namespace

#define VITRINE_COMPARE_OP(Name, fn)                                                                     \
  const OpInfo k##Name##Info = VITRINE_OP_INFO(Name).inputs(2, 2).infer(&infer_compare).types(&types_compare) \
                                   .kernel(&fn).not_differentiable(0x3);
VITRINE_COMPARE_OP(Equal, run_equal)
VITRINE_COMPARE_OP(Less, run_less)
VITRINE_COMPARE_OP(LessOrEqual, run_less_or_equal)
VITRINE_COMPARE_OP(Greater, run_greater)
VITRINE_COMPARE_OP(GreaterOrEqual, run_greater_or_equal)
#undef VITRINE_COMPARE_OP

}  // namespace vitrine
