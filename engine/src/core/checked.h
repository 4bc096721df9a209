// Checked integer arithmetic for sizes, counts and offsets computed from untrusted bytes (model
// files, .npy headers, attributes). One helper per operation, built on the compiler's overflow
// builtins, so that every loader and shape inference says "this overflows" instead of wrapping.
//
//   int64_t elements;
//   if (!checked_mul(rows, cols, &elements)) return Status::DataLoss("W: rows * cols overflows");
//   VITRINE_ASSIGN_OR_RETURN(size_t bytes, checked_bytes(elements, sizeof(float), "W"));
//
// checked_bytes is correct where size_t is 32 bits (wasm32): a byte count that does not fit size_t
// is an error, never a truncation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vitrine/status.h"

namespace vitrine {

// *out = a * b; false (and *out unspecified) when the product overflows int64.
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
// *out = a + b; false when the sum overflows int64.
inline bool checked_add(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
// *out = a - b; false when the difference overflows int64.
inline bool checked_sub(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_sub_overflow(a, b, out);
}
// size_t variants (byte offsets inside buffers).
inline bool checked_mul(size_t a, size_t b, size_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(size_t a, size_t b, size_t* out) { return !__builtin_add_overflow(a, b, out); }

// The product of `dims` (1 for none), or false when a dimension is negative or the product
// overflows int64. A zero dimension does not hide an overflow of the other dimensions: every
// non-zero dimension is multiplied in, so (0, 2^40, 2^40) is refused like (2^40, 2^40).
inline bool checked_product(const std::vector<int64_t>& dims, int64_t* out) {
  int64_t nonzero = 1;
  bool zero = false;
  for (int64_t d : dims) {
    if (d < 0) return false;
    if (d == 0) {
      zero = true;
      continue;
    }
    if (!checked_mul(nonzero, d, &nonzero)) return false;
  }
  *out = zero ? 0 : nonzero;
  return true;
}

// elements * elem_size as a size_t, or ResourceExhausted naming `what` when it is negative, overflows
// int64, or does not fit this platform's size_t (32 bits in wasm32).
inline Result<size_t> checked_bytes(int64_t elements, size_t elem_size, const std::string& what = "tensor") {
  int64_t bytes = 0;
  if (elements < 0 || elem_size > static_cast<size_t>(INT64_MAX) ||
      !checked_mul(elements, static_cast<int64_t>(elem_size), &bytes) ||
      static_cast<uint64_t>(bytes) > static_cast<uint64_t>(SIZE_MAX)) {
    return Status::ResourceExhausted(what + ": " + std::to_string(elements) + " elements of " +
                                     std::to_string(elem_size) +
                                     " bytes do not fit in this platform's memory");
  }
  return static_cast<size_t>(bytes);
}

}  // namespace vitrine
