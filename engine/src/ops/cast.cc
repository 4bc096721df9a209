// Cast: y = x converted to the dtype named by attr `to` (f32, i64, i32, u8, i8, bool, f64, f16).
//   float -> integer truncates toward zero and saturates at the target's range (NaN -> 0), so no
//   value is undefined behaviour; anything -> bool is x != 0; bool -> number is 0 or 1; integer ->
//   narrower integer wraps (two's complement, as ONNX and C++ do). Engine kernel.
//   Backward: f32 -> f32 passes the gradient through; casts to other types carry none.
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/half.h"
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<DType> target(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("cast", {"to"}));
  if (!a.strings.count("to")) return op_error("cast", "attribute 'to' (a dtype name) is required");
  return dtype_from_name(a.strings.at("to"));
}

Result<std::vector<Shape>> infer_cast(const std::vector<Shape>& in, const OpAttrs& a) {
  Result<DType> to = target(a);
  if (!to.ok()) return to.status();
  return std::vector<Shape>{in[0]};
}

Result<std::vector<DType>> types_cast(const std::vector<DType>&, const OpAttrs& a) {
  Result<DType> to = target(a);
  if (!to.ok()) return to.status();
  return std::vector<DType>{to.value()};
}

template <typename To, typename From>
To convert(From v, bool to_bool) {
  if (to_bool) return static_cast<To>(v != From(0));
  if constexpr (std::is_floating_point_v<From> && !std::is_floating_point_v<To>) {
    if (std::isnan(v)) return To(0);
    const double d = std::trunc(static_cast<double>(v));
    if (d <= static_cast<double>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (d >= static_cast<double>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(d);
  } else {
    return static_cast<To>(v);
  }
}

Status run_cast(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const int64_t n = in[0]->num_elements();
  const bool to_bool = out[0]->dtype() == DType::kBool;
  // f16 (its bits): through f32, which holds every half value exactly; to f16 rounds to nearest even.
  if (in[0]->dtype() == DType::kF16 || out[0]->dtype() == DType::kF16) {
    std::vector<float> wide(static_cast<size_t>(n));
    if (in[0]->dtype() == DType::kF16) {
      const uint16_t* x = in[0]->data_as<uint16_t>();
      for (int64_t i = 0; i < n; ++i) wide[static_cast<size_t>(i)] = half_bits_to_float(x[i]);
    } else {
      visit_dtype(in[0]->dtype(), [&](auto from) {
        using From = decltype(from);
        const From* x = in[0]->data_as<From>();
        for (int64_t i = 0; i < n; ++i) wide[static_cast<size_t>(i)] = convert<float>(x[i], false);
      });
    }
    if (out[0]->dtype() == DType::kF16) {
      uint16_t* y = out[0]->mutable_data_as<uint16_t>();
      for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16_ieee(wide[static_cast<size_t>(i)]);
    } else {
      visit_dtype(out[0]->dtype(), [&](auto to) {
        using To = decltype(to);
        To* y = out[0]->mutable_data_as<To>();
        for (int64_t i = 0; i < n; ++i) y[i] = convert<To>(wide[static_cast<size_t>(i)], to_bool);
      });
    }
    return Status::Ok();
  }
  visit_dtype(in[0]->dtype(), [&](auto from) {
    using From = decltype(from);
    const From* x = in[0]->data_as<From>();
    visit_dtype(out[0]->dtype(), [&](auto to) {
      using To = decltype(to);
      To* y = out[0]->mutable_data_as<To>();
      for (int64_t i = 0; i < n; ++i) y[i] = convert<To>(x[i], to_bool);
    });
  });
  (void)a;
  return Status::Ok();
}

Status backward_cast(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in,
                     const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                     const std::vector<Tensor*>& gin) {
  if (in[0]->dtype() != DType::kF32 || out[0]->dtype() != DType::kF32) {
    if (gin[0]) std::fill_n(gin[0]->mutable_data(), in[0]->num_elements(), 0.0f);
    return Status::Ok();
  }
  return backward_copy(ctx, a, in, out, gout, gin);
}

}  // namespace

const OpInfo kCastInfo = VITRINE_OP_INFO(Cast)
    .inputs(1, 1)
    .infer(&infer_cast)
    .types(&types_cast)
    .kernel(&run_cast)
    .gradient(&backward_cast);

}  // namespace vitrine
