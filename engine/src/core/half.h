// IEEE binary16 from float (round to nearest even). Values beyond the half range saturate to
// +-65504 (model files and item tables hold finite numbers only); NaN is not expected here.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace vitrine {

inline uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t a = x & 0x7fffffffu;
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7bffu);  // rounds past 65504
  if (a < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    float af;
    std::memcpy(&af, &a, 4);
    const float scaled = af * 16777216.0f;  // 2^24: the subnormal's integer mantissa, exact
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t mant_odd = (a >> 13) & 1u;
  a += 0xfffu + mant_odd;  // round to nearest even on the 13 dropped bits
  return static_cast<uint16_t>(sign | ((a - 0x38000000u) >> 13));
}

// IEEE binary16 from float as IEEE conversion does it (the Cast op): NaN stays NaN, values that
// round past 65504 become infinities; otherwise as f32_to_f16.
inline uint16_t f32_to_f16_ieee(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN (quiet)
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow or infinity
  return f32_to_f16(f);
}

// IEEE binary16 bits to float (exact, including subnormals, infinities and NaN). Branch-free so
// that loops over arrays vectorize: the half's exponent and mantissa, placed as a float's, are off
// by a factor 2^-112 (subnormal halves land on subnormal floats), which one exact multiply undoes.
inline float half_bits_to_float(uint16_t h) {
  const uint32_t rest = static_cast<uint32_t>(h & 0x7FFFu) << 13;
  float scaled;
  std::memcpy(&scaled, &rest, sizeof scaled);
  scaled *= 0x1p112f;
  uint32_t bits;
  std::memcpy(&bits, &scaled, sizeof bits);
  bits = (h & 0x7C00u) == 0x7C00u ? (0x7F800000u | rest) : bits;  // infinity or NaN (payload kept)
  bits |= static_cast<uint32_t>(h & 0x8000u) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace vitrine
