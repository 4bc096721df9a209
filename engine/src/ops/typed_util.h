// Helpers for ops over several dtypes: dispatch on a DType to a C++ element type, and the type
// inference rules most typed ops share.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <string>
#include <vector>

#include "op_util.h"

namespace vitrine {

// Calls f(T{}) with T the element type of `dtype` (bool is stored as uint8_t, 0 or 1; f16 as its
// uint16_t bits: only ops that move elements see it, Graph::add_node refuses it elsewhere).
template <typename F>
inline auto visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF64: return f(double{});
    case DType::kF16: return f(uint16_t{});
    case DType::kI16: return f(int16_t{});
    case DType::kU16: return f(uint16_t{});
    case DType::kU32: return f(uint32_t{});
    case DType::kU64: return f(uint64_t{});
    case DType::kI64: return f(int64_t{});
    case DType::kI32: return f(int32_t{});
    case DType::kU8: return f(uint8_t{});
    case DType::kI8: return f(int8_t{});
    case DType::kBool: return f(uint8_t{});
    case DType::kF32: break;
  }
  return f(float{});
}

// `v` as a T: floating types take it as is; integer types clamp it to their range (NaN -> 0), so
// no out-of-range conversion is undefined behaviour.
template <typename T>
inline T saturate_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

inline Status type_error(const char* op, size_t input, DType got, const std::string& want) {
  return Status::InvalidArgument((*op ? std::string(op) + ": " : std::string()) + "input " + std::to_string(input) +
                                 " is " + dtype_name(got) + ", expected " + want);
}

// Every input of `inputs` from `first` on has the dtype of input `first`.
inline Status same_dtypes(const char* op, const std::vector<DType>& inputs, size_t first = 0) {
  for (size_t i = first + 1; i < inputs.size(); ++i) {
    if (inputs[i] != inputs[first]) return type_error(op, i, inputs[i], dtype_name(inputs[first]));
  }
  return Status::Ok();
}

// Type inference of ops that move elements without looking at them (reshape, transpose, concat,
// slice, ...): every data input has input 0's dtype, and so does the single output.
inline Result<std::vector<DType>> types_like_first(const std::vector<DType>& in, const OpAttrs&) {
  VITRINE_RETURN_IF_ERROR(same_dtypes("", in));
  return std::vector<DType>{in[0]};
}

}  // namespace vitrine

namespace vitrine {

// Row-major element strides of `shape`.
inline std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(static_cast<size_t>(shape.rank()), 1);
  for (int d = shape.rank() - 2; d >= 0; --d) s[static_cast<size_t>(d)] = s[static_cast<size_t>(d) + 1] * shape[d + 1];
  return s;
}

// Copies a block of `shape` elements of `element_size` bytes each: the element at multi-index i
// goes from src + Σ i_d src_strides[d] to dst + Σ i_d dst_strides[d] (strides in elements). The
// engine kernel behind the typed (non-f32) forms of transpose, slice and concat.
inline void copy_block(const void* src, const std::vector<int64_t>& src_strides, void* dst,
                       const std::vector<int64_t>& dst_strides, const Shape& shape, size_t element_size) {
  const int r = shape.rank();
  const int64_t total = shape.num_elements();
  if (total == 0) return;
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  int64_t so = 0, dof = 0;
  const int64_t es = static_cast<int64_t>(element_size);
  for (int64_t i = 0; i < total; ++i) {
    std::memcpy(d + dof * es, s + so * es, element_size);
    for (int k = r - 1; k >= 0; --k) {
      const size_t ku = static_cast<size_t>(k);
      ++idx[ku];
      so += src_strides[ku];
      dof += dst_strides[ku];
      if (idx[ku] < shape[k]) break;
      so -= src_strides[ku] * idx[ku];
      dof -= dst_strides[ku] * idx[ku];
      idx[ku] = 0;
    }
  }
}

// Scatter ops' attr reduction: "none" (the update replaces what is there), "add" or "mul".
inline Result<std::string> scatter_reduction(const char* op, const OpAttrs& a) {
  const std::string r = a.string("reduction", "none");
  if (r != "none" && r != "add" && r != "mul") return op_error(op, "reduction must be none, add or mul");
  return r;
}

// What a scatter leaves at a position holding `old` when `update` is written there.
template <typename T>
inline T scatter_combine(const std::string& reduction, T old, T update) {
  return reduction == "add" ? static_cast<T>(old + update) : reduction == "mul" ? static_cast<T>(old * update) : update;
}

// The engine kernel of ops that keep the elements in order (reshape, flatten, identity): a copy.
inline Status run_copy_elements(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                                const std::vector<Tensor*>& out) {
  if (in[0]->nbytes()) std::memcpy(out[0]->mutable_raw_data(), in[0]->raw_data(), in[0]->nbytes());
  return Status::Ok();
}

}  // namespace vitrine
