#include "vitrine/tensor.h"

#include <atomic>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

#include "checked.h"
#include "half.h"
#include "vitrine/limits.h"

namespace vitrine {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kI64: return 8;
    case DType::kI32: return 4;
    case DType::kU8: return 1;
    case DType::kI8: return 1;
    case DType::kBool: return 1;
    case DType::kF64: return 8;
    case DType::kF16: return 2;
    case DType::kI16: return 2;
    case DType::kU16: return 2;
    case DType::kU32: return 4;
    case DType::kU64: return 8;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kI64: return "i64";
    case DType::kI32: return "i32";
    case DType::kU8: return "u8";
    case DType::kI8: return "i8";
    case DType::kBool: return "bool";
    case DType::kF64: return "f64";
    case DType::kF16: return "f16";
    case DType::kI16: return "i16";
    case DType::kU16: return "u16";
    case DType::kU32: return "u32";
    case DType::kU64: return "u64";
  }
  return "unknown";
}

Result<DType> dtype_from_name(const std::string& name) {
  for (int i = 0; i < kNumDTypes; ++i) {
    if (name == dtype_name(static_cast<DType>(i))) return static_cast<DType>(i);
  }
  return Status::InvalidArgument("unknown dtype '" + name + "' (f32, i64, i32, u8, i8 or bool)");
}

Shape::Shape(std::initializer_list<int64_t> dims) {
  assert(dims.size() <= static_cast<size_t>(kMaxRank));
  for (int64_t d : dims) {
    assert(d >= 0);
    dims_[rank_++] = d;
  }
}

Result<Shape> Shape::make(const std::vector<int64_t>& dims) {
  if (dims.size() > static_cast<size_t>(kMaxRank)) {
    return Status::InvalidArgument("shape has rank " + std::to_string(dims.size()) +
                                   ", the maximum is " + std::to_string(kMaxRank));
  }
  Shape s;
  int64_t total = 1;  // product of the non-zero dimensions: a zero does not hide huge others
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      return Status::InvalidArgument("shape dimension " + std::to_string(i) + " is negative (" +
                                     std::to_string(dims[i]) + ")");
    }
    if (dims[i] != 0 && (!checked_mul(total, dims[i], &total) || total > (int64_t{1} << 40))) {
      return Status::InvalidArgument("shape has more than 2^40 elements");
    }
    s.dims_[s.rank_++] = dims[i];
  }
  return s;
}

int64_t Shape::num_elements() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) {
    if (!checked_mul(n, dims_[i], &n)) return INT64_MAX;  // saturates; allocation then refuses it
  }
  return n;
}

std::string Shape::to_string() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + ")";
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != other.dims_[i]) return false;
  return true;
}

struct Tensor::Storage {
  void* data = nullptr;
  size_t bytes = 0;
  bool owned = false;
  uint64_t id = 0;
  std::atomic<uint64_t> generation{0};
  std::shared_ptr<const void> owner;  // keeps borrowed memory alive (may be null)
  ~Storage() {
    if (owned) std::free(data);
  }
};

namespace {
std::atomic<uint64_t> next_storage_id{1};
}

Result<Tensor> Tensor::zeros(const Shape& shape, DType dtype) {
  const Limits& limits = default_limits();
  const int64_t elements = shape.num_elements();
  VITRINE_RETURN_IF_ERROR(check_limit("a " + shape.to_string() + " tensor", elements, "elements",
                                      limits.max_tensor_elements, "max_tensor_elements"));
  Result<size_t> bytes_or = checked_bytes(elements, dtype_size(dtype), "a " + shape.to_string() + " tensor");
  if (!bytes_or.ok()) return bytes_or.status();
  const size_t bytes = bytes_or.value();
  VITRINE_RETURN_IF_ERROR(check_limit("a " + shape.to_string() + " tensor", static_cast<int64_t>(bytes),
                                      "bytes", limits.max_total_bytes, "max_total_bytes"));
  size_t alloc = 0;
  if (!checked_add(bytes, kTensorPadding + kTensorAlignment - 1, &alloc)) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(bytes) + " bytes for a " +
                                     shape.to_string() + " tensor");
  }
  alloc = alloc / kTensorAlignment * kTensorAlignment;
  auto storage = std::make_shared<Tensor::Storage>();
  storage->data = std::aligned_alloc(kTensorAlignment, alloc);
  if (storage->data == nullptr) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(bytes) + " bytes for a " +
                                     shape.to_string() + " tensor");
  }
  std::memset(storage->data, 0, alloc);
  storage->bytes = bytes;
  storage->owned = true;
  storage->id = next_storage_id++;
  Tensor t;
  t.storage_ = std::move(storage);
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Result<Tensor> Tensor::from_values(const Shape& shape, const float* values, size_t count) {
  if (static_cast<uint64_t>(count) != static_cast<uint64_t>(shape.num_elements())) {
    return Status::InvalidArgument("tensor of shape " + shape.to_string() + " needs " +
                                   std::to_string(shape.num_elements()) + " values, got " +
                                   std::to_string(count));
  }
  Result<Tensor> t = zeros(shape);
  if (!t.ok()) return t;
  if (count) std::memcpy(t->mutable_data(), values, count * sizeof(float));
  return t;
}

Result<Tensor> Tensor::from_bytes(const Shape& shape, DType dtype, const void* bytes, size_t nbytes) {
  Result<Tensor> t = zeros(shape, dtype);
  if (!t.ok()) return t;
  if (nbytes != t->nbytes()) {
    return Status::InvalidArgument("a " + std::string(dtype_name(dtype)) + " tensor of shape " + shape.to_string() +
                                   " needs " + std::to_string(t->nbytes()) + " bytes, got " + std::to_string(nbytes));
  }
  if (nbytes) std::memcpy(t->mutable_raw_data(), bytes, nbytes);
  return t;
}

Tensor Tensor::wrap(const Shape& shape, float* data) { return wrap_typed(shape, DType::kF32, data); }

Tensor Tensor::wrap_typed(const Shape& shape, DType dtype, void* data, std::shared_ptr<const void> owner) {
  auto storage = std::make_shared<Tensor::Storage>();
  storage->data = data;
  storage->bytes = static_cast<size_t>(shape.num_elements()) * dtype_size(dtype);
  storage->owned = false;
  storage->id = next_storage_id++;
  storage->owner = std::move(owner);
  Tensor t;
  t.storage_ = std::move(storage);
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::wrap(const Shape& shape, float* data, std::shared_ptr<const void> owner) {
  Tensor t = wrap(shape, data);
  t.storage_->owner = std::move(owner);
  return t;
}

bool Tensor::is_borrowed() const { return storage_ && !storage_->owned; }

Result<Tensor> Tensor::reshaped(const Shape& shape) const {
  if (shape.num_elements() != num_elements()) {
    return Status::InvalidArgument("cannot view a " + shape_.to_string() + " tensor as " +
                                   shape.to_string() + ": element counts differ");
  }
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Result<Tensor> Tensor::rows(int64_t begin, int64_t end) const {
  if (shape_.rank() < 1) return Status::InvalidArgument("rows() needs a tensor of rank >= 1");
  if (begin < 0 || end < begin || end > shape_[0]) {
    return Status::OutOfRange("rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                              ") outside a tensor with " + std::to_string(shape_[0]) + " rows");
  }
  std::vector<int64_t> dims = shape_.to_vector();
  int64_t row_elems = dims[0] ? num_elements() / dims[0] : 0;
  dims[0] = end - begin;
  Tensor t = *this;
  t.shape_ = Shape::make(dims).value();
  t.offset_ = offset_ + static_cast<size_t>(begin * row_elems);
  return t;
}

Result<Tensor> Tensor::clone() const {
  if (empty()) return Tensor();
  return from_bytes(shape_, dtype_, raw_data(), nbytes());
}

const void* Tensor::raw_data() const {
  return storage_ ? static_cast<const char*>(storage_->data) + offset_ * dtype_size(dtype_) : nullptr;
}

void* Tensor::mutable_raw_data() {
  if (!storage_) return nullptr;
  storage_->generation.fetch_add(1, std::memory_order_relaxed);
  return static_cast<char*>(storage_->data) + offset_ * dtype_size(dtype_);
}

const void* Tensor::check_type(size_t element_size, const void* p) const {
  assert(storage_ == nullptr || element_size == dtype_size(dtype_));
  (void)element_size;
  return p;
}

double Tensor::element_as_double(int64_t i) const {
  switch (dtype_) {
    case DType::kF32: return data()[i];
    case DType::kI64: return static_cast<double>(data_as<int64_t>()[i]);
    case DType::kI32: return data_as<int32_t>()[i];
    case DType::kU8:
    case DType::kBool: return data_as<uint8_t>()[i];
    case DType::kI8: return data_as<int8_t>()[i];
    case DType::kF64: return data_as<double>()[i];
    case DType::kF16: return half_bits_to_float(data_as<uint16_t>()[i]);
    case DType::kI16: return data_as<int16_t>()[i];
    case DType::kU16: return data_as<uint16_t>()[i];
    case DType::kU32: return data_as<uint32_t>()[i];
    case DType::kU64: return static_cast<double>(data_as<uint64_t>()[i]);
  }
  return 0;
}

const float* Tensor::data() const {
  assert(storage_ == nullptr || dtype_ == DType::kF32);
  return static_cast<const float*>(raw_data());
}

float* Tensor::mutable_data() {
  assert(storage_ == nullptr || dtype_ == DType::kF32);
  return static_cast<float*>(mutable_raw_data());
}

uint64_t Tensor::storage_id() const { return storage_ ? storage_->id : 0; }
uint64_t Tensor::generation() const {
  return storage_ ? storage_->generation.load(std::memory_order_relaxed) : 0;
}
void Tensor::touch() {
  if (storage_) storage_->generation.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace vitrine
