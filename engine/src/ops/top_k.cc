// TopK: the k largest (attr largest = 1) or smallest (largest = 0) elements along attr axis
// (default -1), attr k >= 0 at most the axis size. Outputs: values (k along the axis, x's dtype)
// and their indices (i64), sorted best first; equal values keep the lower index first. Any number
// dtype. Engine kernel. Backward (f32): each selected value's gradient goes back to its element.
#include <algorithm>
#include <numeric>

#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_top_k(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("top_k", {"k", "axis", "largest", "sorted"}));
  if (in[0].rank() < 1) return op_error("top_k", "input must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", -1);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("top_k", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  Result<int64_t> k = a.integer("k", -1);
  if (!k.ok()) return k.status();
  if (k.value() < 0 || k.value() > in[0][ax.value()]) {
    return op_error("top_k", "k = " + std::to_string(k.value()) + " must be in [0, " + std::to_string(in[0][ax.value()]) + "]");
  }
  std::vector<int64_t> dims = in[0].to_vector();
  dims[static_cast<size_t>(ax.value())] = k.value();
  Result<Shape> s = Shape::make(dims);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value(), s.value()};
}

Result<std::vector<DType>> types_top_k(const std::vector<DType>& in, const OpAttrs&) {
  if (in[0] == DType::kBool) return type_error("", 0, in[0], "a number type");
  return std::vector<DType>{in[0], DType::kI64};
}

struct Layout3 {
  int64_t outer = 1, n = 0, inner = 1, k = 0;
};

Layout3 layout_of(const OpAttrs& a, const Shape& xs) {
  const int ax = normalize_axis("top_k", a.integer("axis", -1).value(), xs.rank()).value();
  Layout3 l;
  for (int d = 0; d < ax; ++d) l.outer *= xs[d];
  l.n = xs[ax];
  for (int d = ax + 1; d < xs.rank(); ++d) l.inner *= xs[d];
  l.k = a.integer("k", 0).value();
  return l;
}

Status run_top_k(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Layout3 l = layout_of(a, in[0]->shape());
  const bool largest = a.number("largest", 1) != 0;
  int64_t* idx_out = out[1]->mutable_data_as<int64_t>();
  visit_dtype(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in[0]->data_as<T>();
    T* v = out[0]->mutable_data_as<T>();
    std::vector<int64_t> order(static_cast<size_t>(l.n));
    for (int64_t o = 0; o < l.outer; ++o) {
      for (int64_t j = 0; j < l.inner; ++j) {
        auto at = [&](int64_t i) { return x[(o * l.n + i) * l.inner + j]; };
        std::iota(order.begin(), order.end(), int64_t{0});
        // Best first, the lower index first among equals; NaN ranks below every number.
        auto better = [&](int64_t p, int64_t q) {
          const T xp = at(p), xq = at(q);
          const bool np = xp != xp, nq = xq != xq;
          if (np || nq) return !np && nq ? true : (np && nq ? p < q : false);
          if (xp != xq) return largest ? xp > xq : xp < xq;
          return p < q;
        };
        std::partial_sort(order.begin(), order.begin() + l.k, order.end(), better);
        for (int64_t t = 0; t < l.k; ++t) {
          const int64_t pos = (o * l.k + t) * l.inner + j;
          v[pos] = at(order[static_cast<size_t>(t)]);
          idx_out[pos] = order[static_cast<size_t>(t)];
        }
      }
    }
  });
  return Status::Ok();
}

Status backward_top_k(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& out,
                      const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  if (!gin[0]) return Status::Ok();
  float* dx = gin[0]->mutable_data();
  std::fill_n(dx, in[0]->num_elements(), 0.0f);
  if (!gout[0]) return Status::Ok();
  const Layout3 l = layout_of(a, in[0]->shape());
  const int64_t* idx = out[1]->data_as<int64_t>();
  const float* dy = gout[0]->data();
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t t = 0; t < l.k; ++t)
      for (int64_t j = 0; j < l.inner; ++j) {
        const int64_t pos = (o * l.k + t) * l.inner + j;
        dx[(o * l.n + idx[pos]) * l.inner + j] += dy[pos];
      }
  return Status::Ok();
}

}  // namespace

const OpInfo kTopKInfo = VITRINE_OP_INFO(TopK)
    .inputs(1, 1)
    .infer(&infer_top_k)
    .types(&types_top_k)
    .kernel(&run_top_k)
    .gradient(&backward_top_k);

}  // namespace vitrine
