// Tensors: a shape, a dtype and a (shared) aligned buffer.
//
// Storage is 64-byte aligned and padded with kTensorPadding extra bytes, because XNNPACK kernels may
// read (never write) up to that many bytes past the end of an input. Tensors are cheap handles:
// copying a Tensor shares its storage (like a view); `clone()` copies the bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/status.h"

namespace vitrine {

// Element types. Append only: model files store these numbers. Float ops compute in f32; the
// integer and bool types carry ids, masks, indices and shape arithmetic (bool: one byte, 0 or 1).
// f64 values are computed in double by the typed kernels (elementwise arithmetic, comparisons,
// Where, Gather, ...); f16 (IEEE half, stored as its 16 bits) is storage: graph inputs and outputs,
// Cast and the ops that only move elements. The ONNX importer runs f32-only ops on f64 and f16
// values through casts (computed in f32, stored back in the value's dtype).
enum class DType : uint8_t {
  kF32 = 0, kI64 = 1, kI32 = 2, kU8 = 3, kI8 = 4, kBool = 5, kF64 = 6, kF16 = 7, kI16 = 8, kU16 = 9, kU32 = 10, kU64 = 11
};
inline constexpr int kNumDTypes = 12;
size_t dtype_size(DType dtype);
// "f32", "i64", "i32", "u8", "i8", "bool", "f64", "f16", "i16", "u16", "u32", "u64" (model files and
// messages use these names).
const char* dtype_name(DType dtype);
// The dtype named `name` (as dtype_name writes it), or InvalidArgument naming it.
Result<DType> dtype_from_name(const std::string& name);

inline constexpr size_t kTensorAlignment = 64;
inline constexpr size_t kTensorPadding = 128;  // >= XNN_EXTRA_BYTES on every target

// A tensor shape of rank 0..kMaxRank with non-negative dimensions.
class Shape {
 public:
  static constexpr int kMaxRank = 6;
  Shape() = default;  // rank 0 (a scalar, one element)
  // Trusted dims (asserts rank <= kMaxRank and dims >= 0). Use Shape::make for untrusted input.
  Shape(std::initializer_list<int64_t> dims);
  // Checks rank and dimensions; the message names the offending dimension.
  static Result<Shape> make(const std::vector<int64_t>& dims);

  int rank() const { return rank_; }
  int64_t operator[](int axis) const { return dims_[axis]; }
  // Axis may be negative (-1 = last).
  int64_t dim(int axis) const { return dims_[axis < 0 ? axis + rank_ : axis]; }
  int64_t num_elements() const;
  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + rank_}; }
  std::string to_string() const;  // "(2, 3)"
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // empty: no storage, rank 0

  // A new zero-filled tensor owning its storage.
  static Result<Tensor> zeros(const Shape& shape, DType dtype = DType::kF32);
  // A new tensor owning a copy of `values` (which must hold shape.num_elements() floats).
  static Result<Tensor> from_values(const Shape& shape, const float* values, size_t count);
  // A new tensor of `dtype` owning a copy of `nbytes` bytes (exactly shape elements x dtype size).
  static Result<Tensor> from_bytes(const Shape& shape, DType dtype, const void* bytes, size_t nbytes);
  // A view over caller memory. Does not own or copy: the caller keeps `data` alive (and, for XNNPACK
  // inputs, readable for kTensorPadding bytes past the end) for as long as the tensor is used.
  static Tensor wrap(const Shape& shape, float* data);
  // A view over memory kept alive by `owner` (e.g. a loaded model file): zero-copy, shares ownership.
  static Tensor wrap(const Shape& shape, float* data, std::shared_ptr<const void> owner);
  // The same for any dtype.
  static Tensor wrap_typed(const Shape& shape, DType dtype, void* data, std::shared_ptr<const void> owner = nullptr);

  // A view with another shape over the same elements (same element count).
  Result<Tensor> reshaped(const Shape& shape) const;
  // A view of rows [begin, end) along axis 0.
  Result<Tensor> rows(int64_t begin, int64_t end) const;
  // A deep copy with its own storage.
  Result<Tensor> clone() const;

  bool empty() const { return storage_ == nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int64_t num_elements() const { return shape_.num_elements(); }
  size_t nbytes() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype_); }

  // The elements of an f32 tensor (asserts the dtype in debug builds).
  const float* data() const;
  // Mutable access marks the storage as modified (see generation()).
  float* mutable_data();
  // The elements as T, which must match the dtype (asserted in debug builds), or as raw bytes.
  template <typename T> const T* data_as() const { return static_cast<const T*>(check_type(sizeof(T), raw_data())); }
  template <typename T> T* mutable_data_as() { return static_cast<T*>(check_type(sizeof(T), mutable_raw_data())); }
  const void* raw_data() const;
  void* mutable_raw_data();
  // Element i (row-major) of any dtype as a double (bool: 0 or 1), for tools and tests; no bounds
  // check.
  double element_as_double(int64_t i) const;

  // Identity of the underlying buffer and a counter bumped on every mutable_data() call through any
  // view of it. Ops that cache derived data (packed weights) compare both to know when to refresh.
  uint64_t storage_id() const;
  uint64_t generation() const;
  // Marks the storage modified without going through mutable_data() (e.g. written by JS).
  void touch();
  // Whether the storage is a view over memory this tensor does not allocate (wrap()).
  bool is_borrowed() const;

 private:
  struct Storage;
  const void* check_type(size_t element_size, const void* p) const;
  void* check_type(size_t element_size, void* p) const {
    return const_cast<void*>(check_type(element_size, static_cast<const void*>(p)));
  }
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::kF32;
};

}  // namespace vitrine
