// Vectorizable activations over arrays for engine kernels (the recurrent layers): exp by range
// reduction to [-ln2/2, ln2/2] and a degree-6 polynomial, then 2^n from the exponent bits. Branch-free
// loops, so the compiler emits SIMD (wasm SIMD128, SSE/AVX). Relative error of exp below 3e-7 over
// its range; inputs are clamped to [-87, 88] (exp of less is below float's normal range; tanh and
// sigmoid saturate there anyway).
#pragma once

#include <cstdint>
#include <cstring>

namespace vitrine {

// e^(x - k ln2) for an integer-valued k with |x - k ln2| <= ln2/2: ln2 split in two parts (Cody-Waite),
// then Taylor to degree 6 (the next term is below 2e-8 relative). Shared with portable_exp.
inline float exp_reduced(float x, float k) {
  const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r + 1.0f;
}

inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);  // round(x / ln 2)
  if (n != n) n = 0.0f;  // NaN (passed by the clamp): keep the int conversion defined; p stays NaN
  const float p = exp_reduced(x, n);
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// v[i] = 1 / (1 + e^-v[i])
inline void sigmoid_inplace(float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) v[i] = 1.0f / (1.0f + exp_approx(-v[i]));
}

// v[i] = tanh(v[i]) = 1 - 2 / (e^(2 v) + 1); odd-symmetric form keeps small |v| accurate.
inline void tanh_inplace(float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float a = v[i] < 0 ? -v[i] : v[i];
    const float t = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
    // Below 1/4 the cancellation in 1 - 2/(e^2a + 1) loses bits: there the Taylor series to a^9
    // (the next term is below 1e-8 relative).
    const float a2 = a * a;
    const float small = a * (1.0f + a2 * (-1.0f / 3 + a2 * (2.0f / 15 + a2 * (-17.0f / 315 + a2 * (62.0f / 2835)))));
    const float r = a < 0.25f ? small : t;
    v[i] = v[i] < 0 ? -r : r;
  }
}

}  // namespace vitrine
