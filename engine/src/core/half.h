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

}  // namespace vitrine
