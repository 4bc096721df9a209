// CumSum: running sums along attr axis (default 0): y[k] = Σ_{j <= k} x[j]; attr exclusive = 1
// leaves x[k] out (y[k] = Σ_{j < k}), attr reverse = 1 sums from the end. f32. Engine kernel.
// Backward: dx = the cumulative sum of dy in the opposite direction (same exclusive).
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_cum_sum(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("cum_sum", {"axis", "exclusive", "reverse"}));
  if (in[0].rank() < 1) return op_error("cum_sum", "input must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", 0);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("cum_sum", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  return std::vector<Shape>{in[0]};
}

void cum_sum(const OpAttrs& a, const Shape& s, const float* x, float* y, bool flip) {
  const int ax = normalize_axis("cum_sum", a.integer("axis", 0).value(), s.rank()).value();
  const bool exclusive = a.number("exclusive", 0) != 0, reverse = (a.number("reverse", 0) != 0) != flip;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; ++d) outer *= s[d];
  for (int d = ax + 1; d < s.rank(); ++d) inner *= s[d];
  const int64_t n = s[ax];
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      double acc = 0;
      for (int64_t t = 0; t < n; ++t) {
        const int64_t k = reverse ? n - 1 - t : t;
        const int64_t at = (o * n + k) * inner + j;
        if (exclusive) {
          y[at] = static_cast<float>(acc);
          acc += x[at];
        } else {
          acc += x[at];
          y[at] = static_cast<float>(acc);
        }
      }
    }
  }
}

Status run_cum_sum(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  cum_sum(a, in[0]->shape(), in[0]->data(), out[0]->mutable_data(), false);
  return Status::Ok();
}

Status backward_cum_sum(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>&,
                        const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  cum_sum(a, in[0]->shape(), gout[0]->data(), dx, true);
  return Status::Ok();
}

}  // namespace

const OpInfo kCumSumInfo = VITRINE_OP_INFO(CumSum)
    .inputs(1, 1)
    .infer(&infer_cum_sum)
    .kernel(&run_cum_sum)
    .gradient(&backward_cum_sum);

}  // namespace vitrine
