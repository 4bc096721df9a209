// ArgMax / ArgMin (one family, one file): the index (i64) of the largest / smallest element along
// attr axis (default 0); attr keepdims (default 1) keeps that axis with size 1; attr
// select_last_index (default 0) picks the last of equal extremes instead of the first. A number
// is preferred to NaN (all NaN: index 0). Input any numeric dtype.
// Engine kernel; no gradient.
#include <cmath>
#include <type_traits>

#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_arg(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("arg_max", {"axis", "keepdims", "select_last_index"}));
  if (in[0].rank() < 1) return op_error("arg_max", "input must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", 0);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("arg_max", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  if (in[0][ax.value()] == 0) return op_error("arg_max", "the reduced axis is empty");
  std::vector<int64_t> dims = in[0].to_vector();
  if (a.number("keepdims", 1) != 0) dims[static_cast<size_t>(ax.value())] = 1;
  else dims.erase(dims.begin() + ax.value());
  return one_shape(dims);
}

Result<std::vector<DType>> types_arg(const std::vector<DType>& in, const OpAttrs&) {
  if (in[0] == DType::kBool) return type_error("", 0, in[0], "a number type");
  return std::vector<DType>{DType::kI64};
}

template <bool kMax>
Status run_arg(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Shape& xs = in[0]->shape();
  const int ax = normalize_axis("arg_max", a.integer("axis", 0).value(), xs.rank()).value();
  const bool last = a.number("select_last_index", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; ++d) outer *= xs[d];
  for (int d = ax + 1; d < xs.rank(); ++d) inner *= xs[d];
  const int64_t n = xs[ax];
  int64_t* y = out[0]->mutable_data_as<int64_t>();
  visit_dtype(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in[0]->data_as<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* row = x + o * n * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < n; ++k) {
          const T v = row[k * inner], b = row[best * inner];
          bool better = kMax ? (v > b || (last && v == b)) : (v < b || (last && v == b));
          if constexpr (std::is_floating_point_v<T>) better = better || (std::isnan(b) && !std::isnan(v));
          if (better) best = k;
        }
        y[o * inner + i] = best;
      }
    }
  });
  return Status::Ok();
}

}  // namespace

const OpInfo kArgMaxInfo = VITRINE_OP_INFO(ArgMax).inputs(1, 1).infer(&infer_arg).types(&types_arg).kernel(&run_arg<true>).not_differentiable(0x1);
const OpInfo kArgMinInfo = VITRINE_OP_INFO(ArgMin).inputs(1, 1).infer(&infer_arg).types(&types_arg).kernel(&run_arg<false>).not_differentiable(0x1);

}  // namespace vitrine
