// Hardmax: y = 1 at the first largest element along attr axis (default -1), 0 elsewhere; f32.
// Engine kernel. Backward: zero (y is piecewise constant in x).
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_hardmax(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("hardmax", {"axis"}));
  if (in[0].rank() < 1) return op_error("hardmax", "input must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", -1);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("hardmax", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  return std::vector<Shape>{in[0]};
}

Status run_hardmax(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Shape& s = in[0]->shape();
  const int ax = normalize_axis("hardmax", a.integer("axis", -1).value(), s.rank()).value();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; ++d) outer *= s[d];
  for (int d = ax + 1; d < s.rank(); ++d) inner *= s[d];
  const int64_t n = s[ax];
  const float* x = in[0]->data();
  float* y = out[0]->mutable_data();
  std::fill_n(y, in[0]->num_elements(), 0.0f);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k)
        if (x[(o * n + k) * inner + j] > x[(o * n + best) * inner + j]) best = k;
      if (n > 0) y[(o * n + best) * inner + j] = 1.0f;
    }
  }
  return Status::Ok();
}

Status backward_hardmax(Context*, const OpAttrs&, const std::vector<const Tensor*>&, const std::vector<const Tensor*>&,
                        const std::vector<const Tensor*>&, const std::vector<Tensor*>& gin) {
  if (gin[0]) std::fill_n(gin[0]->mutable_data(), gin[0]->num_elements(), 0.0f);
  return Status::Ok();
}

}  // namespace

const OpInfo kHardmaxInfo = VITRINE_OP_INFO(Hardmax)
    .inputs(1, 1)
    .infer(&infer_hardmax)
    .kernel(&run_hardmax)
    .gradient(&backward_hardmax);

}  // namespace vitrine
