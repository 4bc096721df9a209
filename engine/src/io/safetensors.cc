// safetensors reading (hostile bytes), writing, the Vitrine metadata convention and file helpers.
#include "vitrine/safetensors.h"
#include "vitrine/limits.h"

#include "../core/half.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "vitrine/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors views assume a little-endian host"
#endif

namespace vitrine {
namespace {

struct DTypeEntry {
  const char* name;
  size_t size;
};

// The safetensors dtypes with a whole number of bytes per element.
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8},
};

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kU8: return "U8";
    case DType::kI8: return "I8";
    case DType::kBool: return "BOOL";
    case DType::kF64: return "F64";
    case DType::kF16: return "F16";
    case DType::kI16: return "I16";
    case DType::kU16: return "U16";
    case DType::kU32: return "U32";
    case DType::kU64: return "U64";
  }
  return "F32";
}

size_t dtype_bytes(std::string_view name) {
  for (const DTypeEntry& d : kDTypes)
    if (name == d.name) return d.size;
  return 0;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + ")";
}

std::string range_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

Status data_loss(const std::string& message) { return Status::DataLoss("safetensors: " + message); }

Status tensor_data_loss(std::string_view name, const std::string& message) {
  return data_loss("tensor " + quoted(name) + ": " + message);
}

uint64_t load_le(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

float bf16_to_f32(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

float f64_to_f32(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  // Beyond FLT_MAX + half an ulp the cast is undefined; IEEE rounding would give inf.
  if (std::fabs(d) >= 0x1.ffffffp127) return d > 0 ? HUGE_VALF : -HUGE_VALF;
  return static_cast<float>(d);
}

// a * b, or false when it overflows uint64.
bool multiply_checked(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}

// Checks one header entry against a data buffer of `data_size` bytes.
Result<TensorInfo> parse_entry(const std::string& name, const Json& entry, uint64_t data_size) {
  if (!entry.is_object()) {
    return tensor_data_loss(name, std::string("expected an object with dtype, shape and "
                                              "data_offsets, got ") +
                                      Json::type_name(entry.type()));
  }
  JsonRef ref = entry.ref();
  TensorInfo info;
  info.name = name;

  Result<std::string> dtype = ref["dtype"].as_string();
  if (!dtype.ok()) return tensor_data_loss(name, dtype.status().message());
  info.dtype = dtype.value();
  info.element_size = dtype_bytes(info.dtype);
  if (info.element_size == 0) return tensor_data_loss(name, "unknown dtype " + quoted(info.dtype));

  Result<const Json::Array*> shape = ref["shape"].as_array();
  if (!shape.ok()) return tensor_data_loss(name, shape.status().message());
  uint64_t elements = 1;
  for (size_t i = 0; i < shape.value()->size(); ++i) {
    Result<int64_t> dim = ref["shape"][i].as_int();
    if (!dim.ok()) return tensor_data_loss(name, dim.status().message());
    if (dim.value() < 0) {
      return tensor_data_loss(name, "shape[" + std::to_string(i) + "] is negative (" +
                                        std::to_string(dim.value()) + ")");
    }
    info.shape.push_back(dim.value());
    if (!multiply_checked(elements, static_cast<uint64_t>(dim.value()), &elements)) {
      return tensor_data_loss(
          name, "the element count of shape " + dims_text(info.shape) + "... overflows 64 bits");
    }
  }
  uint64_t needed_bytes;
  if (!multiply_checked(elements, info.element_size, &needed_bytes) ||
      elements > static_cast<uint64_t>(INT64_MAX)) {
    return tensor_data_loss(name, "the byte size of shape " + dims_text(info.shape) + " of " +
                                      info.dtype + " overflows 64 bits");
  }
  info.num_elements = static_cast<int64_t>(elements);

  Result<const Json::Array*> offsets = ref["data_offsets"].as_array();
  if (!offsets.ok()) return tensor_data_loss(name, offsets.status().message());
  if (offsets.value()->size() != 2) {
    return tensor_data_loss(name, "data_offsets: expected [begin, end], got an array of " +
                                      std::to_string(offsets.value()->size()) + " elements");
  }
  int64_t bounds[2];
  for (int i = 0; i < 2; ++i) {
    Result<int64_t> v = ref["data_offsets"][i].as_int();
    if (!v.ok()) return tensor_data_loss(name, v.status().message());
    if (v.value() < 0) {
      return tensor_data_loss(name, "data_offsets[" + std::to_string(i) + "] is negative (" +
                                        std::to_string(v.value()) + ")");
    }
    bounds[i] = v.value();
  }
  info.data_begin = static_cast<uint64_t>(bounds[0]);
  info.data_end = static_cast<uint64_t>(bounds[1]);
  if (info.data_begin > info.data_end) {
    return tensor_data_loss(name, "data_offsets " + range_text(info.data_begin, info.data_end) +
                                      " begin after they end");
  }
  if (info.data_end > data_size) {
    return tensor_data_loss(name, "data_offsets " + range_text(info.data_begin, info.data_end) +
                                      " run past the end of the data buffer (" +
                                      std::to_string(data_size) + " bytes)");
  }
  if (info.data_end - info.data_begin != needed_bytes) {
    return tensor_data_loss(name, "data_offsets " + range_text(info.data_begin, info.data_end) +
                                      " hold " + std::to_string(info.data_end - info.data_begin) +
                                      " bytes, but shape " + dims_text(info.shape) + " of " +
                                      info.dtype + " needs " + std::to_string(needed_bytes));
  }
  return info;
}

// The tensors must cover [0, data_size) exactly once.
Status check_tiling(const std::vector<TensorInfo>& tensors, uint64_t data_size) {
  std::vector<const TensorInfo*> order;
  order.reserve(tensors.size());
  for (const TensorInfo& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->data_begin != b->data_begin ? a->data_begin < b->data_begin
                                          : a->data_end < b->data_end;
  });
  uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : order) {
    if (t->data_begin > covered) {
      return data_loss("bytes " + range_text(covered, t->data_begin) +
                       " of the data buffer belong to no tensor (a gap before tensor " +
                       quoted(t->name) + ")");
    }
    if (t->data_begin < covered) {
      return tensor_data_loss(t->name, "data_offsets " + range_text(t->data_begin, t->data_end) +
                                           " overlap tensor " + quoted(previous->name) + " at " +
                                           range_text(previous->data_begin, previous->data_end));
    }
    covered = t->data_end;
    previous = t;
  }
  if (covered != data_size) {
    return data_loss("bytes " + range_text(covered, data_size) +
                     " of the data buffer belong to no tensor (" +
                     (previous ? "after tensor " + quoted(previous->name)
                               : std::string("the header lists no tensors")) +
                     ")");
  }
  return Status::Ok();
}

}  // namespace

Result<SafetensorsFile> SafetensorsFile::parse(std::shared_ptr<const std::vector<uint8_t>> bytes) {
  if (!bytes) return Status::InvalidArgument("safetensors: no bytes (null pointer)");
  const std::vector<uint8_t>& file = *bytes;
  if (file.size() < 8) {
    return data_loss("the file has " + std::to_string(file.size()) +
                     " bytes, too few for the 8-byte header length");
  }
  uint64_t header_size = load_le(file.data(), 8);
  if (header_size > kMaxSafetensorsHeaderBytes) {
    return data_loss("header length " + std::to_string(header_size) + " exceeds the limit of " +
                     std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  if (header_size > file.size() - 8) {
    return data_loss("header length " + std::to_string(header_size) +
                     " runs past the end of the file (" + std::to_string(file.size() - 8) +
                     " bytes follow the length)");
  }
  // A length beyond the format's limit or the file is corrupt bytes (DataLoss, above); one that is
  // present but above the configurable limit (lowered e.g. in a browser) is ResourceExhausted.
  const Limits& limits = default_limits();
  if (header_size > static_cast<uint64_t>(limits.max_header_bytes)) {
    return Status::ResourceExhausted(
        "safetensors: header length " + std::to_string(header_size) + " exceeds the limit of " +
        std::to_string(limits.max_header_bytes) + " bytes (Limits::max_header_bytes)");
  }
  std::string_view header(reinterpret_cast<const char*>(file.data()) + 8,
                          static_cast<size_t>(header_size));
  if (header.empty() || header[0] != '{') {
    return data_loss("the header must be a JSON object starting with '{'");
  }
  Result<Json> json = parse_json(header);
  if (!json.ok()) return data_loss("header: " + json.status().message());

  SafetensorsFile result;
  result.data_start_ = 8 + static_cast<size_t>(header_size);
  uint64_t data_size = file.size() - result.data_start_;
  for (const Json::Member& member : json.value().object_members()) {
    const std::string& name = member.first;
    if (name == "__metadata__") {
      JsonRef metadata = member.second.ref("__metadata__");
      Result<const Json::Object*> entries = metadata.as_object();
      if (!entries.ok()) return data_loss(entries.status().message());
      VITRINE_RETURN_IF_ERROR(check_limit("safetensors: __metadata__",
                                          static_cast<int64_t>(entries.value()->size()), "keys",
                                          limits.max_metadata_keys, "max_metadata_keys"));
      for (const Json::Member& kv : *entries.value()) {
        // The member itself, not metadata[key]: a lookup by key scans the object (quadratic).
        if (!kv.second.is_string()) {
          return data_loss("__metadata__" + std::string(kv.first.empty() ? "" : ".") + kv.first +
                           ": expected a string, got " + Json::type_name(kv.second.type()));
        }
        result.metadata_.emplace_hint(result.metadata_.end(), kv.first, kv.second.string_value());
      }
      continue;
    }
    Result<TensorInfo> info = parse_entry(name, member.second, data_size);
    if (!info.ok()) return info.status();
    info.value().file_offset = result.data_start_ + info.value().data_begin;
    if (!result.index_.emplace(name, result.tensors_.size()).second) {
      return tensor_data_loss(name, "listed twice in the header");  // parse_json forbids it too
    }
    result.tensors_.push_back(std::move(info.value()));
  }
  VITRINE_RETURN_IF_ERROR(check_tiling(result.tensors_, data_size));
  result.bytes_ = std::move(bytes);
  return result;
}

Result<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) {
    return Status::InvalidArgument("safetensors: null data pointer with a non-zero size");
  }
  auto bytes = std::make_shared<std::vector<uint8_t>>(size);
  if (size) std::memcpy(bytes->data(), data, size);
  return parse(std::shared_ptr<const std::vector<uint8_t>>(std::move(bytes)));
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) out.push_back(t.name);
  return out;
}

Result<const TensorInfo*> SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return Status::NotFound("safetensors: no tensor named " + quoted(name) + " in the file (" +
                            std::to_string(tensors_.size()) + " tensors)");
  }
  return &tensors_[it->second];
}

Result<TensorInfo> SafetensorsFile::info(std::string_view name) const {
  Result<const TensorInfo*> t = find(name);
  if (!t.ok()) return t.status();
  return *t.value();
}

Result<std::pair<const uint8_t*, size_t>> SafetensorsFile::raw_bytes(std::string_view name) const {
  Result<const TensorInfo*> t = find(name);
  if (!t.ok()) return t.status();
  const TensorInfo& info = *t.value();
  return std::make_pair(bytes_->data() + info.file_offset,
                        static_cast<size_t>(info.data_end - info.data_begin));
}

Result<Tensor> SafetensorsFile::tensor(std::string_view name) const {
  Result<const TensorInfo*> found = find(name);
  if (!found.ok()) return found.status();
  const TensorInfo& info = *found.value();
  const std::string& dtype = info.dtype;
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16" && dtype != "F64") {
    return Status::Unimplemented("safetensors: tensor " + quoted(name) + " has dtype " + dtype +
                                 ", which cannot be loaded as f32 (supported: F32, F16, BF16, "
                                 "F64; integer tensors: use integers())");
  }
  Result<Shape> shape = Shape::make(info.shape);
  if (!shape.ok()) {
    return Status::InvalidArgument("safetensors: tensor " + quoted(name) + ": " +
                                   shape.status().message());
  }
  const uint8_t* src = bytes_->data() + info.file_offset;
  size_t count = static_cast<size_t>(info.num_elements);
  if (dtype == "F32" && count > 0) {
    bool aligned = reinterpret_cast<uintptr_t>(src) % alignof(float) == 0;
    bool padded = bytes_->size() - (info.file_offset + count * 4) >= kTensorPadding;
    if (aligned && padded) {
      float* data = const_cast<float*>(reinterpret_cast<const float*>(src));
      return Tensor::wrap(shape.value(), data, bytes_);
    }
  }
  Result<Tensor> out = Tensor::zeros(shape.value());
  if (!out.ok()) return out;
  float* dst = out.value().mutable_data();
  if (dtype == "F32") {
    if (count) std::memcpy(dst, src, count * 4);
  } else if (dtype == "F16") {
    for (size_t i = 0; i < count; ++i)
      dst[i] = half_bits_to_float(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  } else if (dtype == "BF16") {
    for (size_t i = 0; i < count; ++i)
      dst[i] = bf16_to_f32(static_cast<uint16_t>(load_le(src + 2 * i, 2)));
  } else {  // F64
    for (size_t i = 0; i < count; ++i) {
      dst[i] = f64_to_f32(load_le(src + 8 * i, 8));
    }
  }
  return out;
}

Result<Tensor> SafetensorsFile::typed_tensor(std::string_view name) const {
  Result<const TensorInfo*> found = find(name);
  if (!found.ok()) return found.status();
  const TensorInfo& info = *found.value();
  DType dtype;
  if (info.dtype == "I64") dtype = DType::kI64;
  else if (info.dtype == "I32") dtype = DType::kI32;
  else if (info.dtype == "U8") dtype = DType::kU8;
  else if (info.dtype == "I8") dtype = DType::kI8;
  else if (info.dtype == "BOOL") dtype = DType::kBool;
  else if (info.dtype == "I16") dtype = DType::kI16;
  else if (info.dtype == "U16") dtype = DType::kU16;
  else if (info.dtype == "U32") dtype = DType::kU32;
  else if (info.dtype == "U64") dtype = DType::kU64;
  else return tensor(name);
  Result<Shape> shape = Shape::make(info.shape);
  if (!shape.ok()) {
    return Status::InvalidArgument("safetensors: tensor " + quoted(name) + ": " + shape.status().message());
  }
  Result<Tensor> out = Tensor::from_bytes(shape.value(), dtype, bytes_->data() + info.file_offset,
                                          static_cast<size_t>(info.data_end - info.data_begin));
  if (!out.ok()) return out;
  if (dtype == DType::kBool) {
    uint8_t* b = out->mutable_data_as<uint8_t>();
    for (int64_t i = 0; i < out->num_elements(); ++i) b[i] = b[i] != 0;
  }
  return out;
}

Result<std::vector<int64_t>> SafetensorsFile::integers(std::string_view name) const {
  Result<const TensorInfo*> found = find(name);
  if (!found.ok()) return found.status();
  const TensorInfo& info = *found.value();
  const std::string& dtype = info.dtype;
  bool is_signed = dtype == "I64" || dtype == "I32" || dtype == "I16" || dtype == "I8";
  bool is_unsigned = dtype == "U64" || dtype == "U32" || dtype == "U16" || dtype == "U8";
  if (!is_signed && !is_unsigned && dtype != "BOOL") {
    return Status::InvalidArgument("safetensors: tensor " + quoted(name) + " has dtype " + dtype +
                                   ", not an integer dtype (use tensor() for floating point)");
  }
  const uint8_t* src = bytes_->data() + info.file_offset;
  size_t width = info.element_size;
  std::vector<int64_t> out(static_cast<size_t>(info.num_elements));
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t v = load_le(src + i * width, width);
    if (dtype == "BOOL") {
      out[i] = v != 0;
    } else if (is_signed && width < 8) {  // sign-extend
      uint64_t sign_bit = uint64_t{1} << (8 * width - 1);
      out[i] = static_cast<int64_t>((v ^ sign_bit) - sign_bit);
    } else if (dtype == "U64" && v > static_cast<uint64_t>(INT64_MAX)) {
      return tensor_data_loss(name, "U64 element " + std::to_string(i) + " (" + std::to_string(v) +
                                        ") does not fit in int64");
    } else {
      out[i] = static_cast<int64_t>(v);
    }
  }
  return out;
}

Result<std::vector<uint8_t>> write_safetensors(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata, bool half) {
  std::map<std::string, std::string> full_metadata = metadata;
  full_metadata.emplace("format", "vitrine");
  bool typed = false;  // version 2 only where needed: older runtimes keep reading f32 files
  for (const auto& named : tensors) typed = typed || (!named.second.empty() && named.second.dtype() != DType::kF32);
  full_metadata.emplace("format_version", typed ? "2" : "1");
  Json meta = Json::object();
  for (const auto& kv : full_metadata) {
    if (!is_valid_utf8(kv.first) || !is_valid_utf8(kv.second)) {
      return Status::InvalidArgument("write_safetensors: metadata key " + quoted(kv.first) +
                                     " or its value is not valid UTF-8");
    }
    meta.set(kv.first, Json(kv.second));
  }
  Json::Object header;  // built directly: Json::set() would rescan all members per tensor
  header.reserve(tensors.size() + 1);
  header.emplace_back("__metadata__", std::move(meta));
  std::set<std::string_view> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") {
      return Status::InvalidArgument(
          "write_safetensors: \"__metadata__\" is reserved, not a "
          "tensor name");
    }
    if (!is_valid_utf8(name)) {
      return Status::InvalidArgument("write_safetensors: tensor name " + quoted(name) +
                                     " is not valid UTF-8");
    }
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("write_safetensors: tensor " + quoted(name) +
                                     " is listed twice");
    }
    if (tensor.empty()) {
      return Status::InvalidArgument("write_safetensors: tensor " + quoted(name) +
                                     " is empty (no storage)");
    }
    const bool as_half = half && tensor.dtype() == DType::kF32;
    Json dims = Json::array();
    for (int64_t d : tensor.shape().to_vector()) dims.push_back(Json(d));
    Json entry = Json::object();
    if (as_half) {
      for (int64_t i = 0; i < tensor.num_elements(); ++i) {
        const float v = tensor.data()[i];
        if (!(std::fabs(v) <= 65504.0f)) {
          return Status::InvalidArgument("write_safetensors: tensor " + quoted(name) + " holds " + std::to_string(v) +
                                         " at " + std::to_string(i) + ", which F16 cannot store (save as F32)");
        }
      }
    }
    const uint64_t bytes = as_half ? tensor.nbytes() / 2 : tensor.nbytes();
    entry.set("dtype", Json(as_half ? "F16" : safetensors_dtype(tensor.dtype())));
    entry.set("shape", std::move(dims));
    entry.set("data_offsets", Json::array({Json(offset), Json(offset + bytes)}));
    header.emplace_back(name, std::move(entry));
    offset += bytes;
  }
  std::string text = Json::object(std::move(header)).dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data buffer starts at a multiple of 8

  std::vector<uint8_t> out(8 + text.size() + static_cast<size_t>(offset));
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* data = out.data() + 8 + text.size();
  for (const auto& named : tensors) {
    const Tensor& tensor = named.second;
    if (half && tensor.dtype() == DType::kF32) {
      for (int64_t i = 0; i < tensor.num_elements(); ++i) {
        const uint16_t h = f32_to_f16(tensor.data()[i]);
        std::memcpy(data + 2 * i, &h, 2);
      }
      data += tensor.nbytes() / 2;
      continue;
    }
    if (tensor.nbytes()) std::memcpy(data, tensor.raw_data(), tensor.nbytes());
    data += tensor.nbytes();
  }
  return out;
}

Status check_vitrine_metadata(const SafetensorsFile& file) {
  const auto& metadata = file.metadata();
  auto format = metadata.find("format");
  if (format == metadata.end()) {
    return Status::InvalidArgument(
        "not a Vitrine model file: its __metadata__ has no \"format\" entry (a plain safetensors "
        "file?)");
  }
  if (format->second != "vitrine") {
    return Status::InvalidArgument("not a Vitrine model file: __metadata__ \"format\" is " +
                                   quoted(format->second) + ", expected \"vitrine\"");
  }
  auto version = metadata.find("format_version");
  if (version == metadata.end()) {
    return Status::InvalidArgument(
        "Vitrine model file without a \"format_version\" in __metadata__");
  }
  // "<major>" or "<major>.<minor>", decimal digits only.
  const std::string& text = version->second;
  size_t dot = text.find('.');
  std::string major = text.substr(0, dot);
  std::string minor = dot == std::string::npos ? "1" : text.substr(dot + 1);
  auto number = [](const std::string& s) -> long {  // -1 unless 1-9 decimal digits
    if (s.empty() || s.size() > 9) return -1;
    long v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  long major_number = number(major);
  if (major_number < 1 || number(minor) < 0) {
    return Status::InvalidArgument("Vitrine model file: \"format_version\" " + quoted(text) +
                                   " is not a version like \"1\" or \"1.2\"");
  }
  if (major_number > kFormatVersion) {
    return Status::Unimplemented("Vitrine model file has format_version " + text +
                                 ", newer than this build reads (major version " +
                                 std::to_string(kFormatVersion) + "): update Vitrine");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    std::string message = "cannot open " + quoted(path) + " for reading: " + std::strerror(err);
    if (err == ENOENT) return Status::NotFound(message);
    return Status::InvalidArgument(message);
  }
  // Read the size the file reports in one go, then whatever follows (a growing or unseekable file).
  size_t expected = 0;
  if (std::fseek(f, 0, SEEK_END) == 0) {
    long size = std::ftell(f);
    if (size > 0) expected = static_cast<size_t>(size);
  }
  std::rewind(f);
  std::vector<uint8_t> bytes(expected);
  size_t got = expected ? std::fread(bytes.data(), 1, expected, f) : 0;
  bytes.resize(got);
  int next = got == expected ? std::fgetc(f) : EOF;
  if (next != EOF) {
    bytes.push_back(static_cast<uint8_t>(next));
    constexpr size_t kChunk = 1 << 16;
    while (true) {
      size_t old_size = bytes.size();
      bytes.resize(old_size + kChunk);
      size_t n = std::fread(bytes.data() + old_size, 1, kChunk, f);
      bytes.resize(old_size + n);
      if (n < kChunk) break;
    }
  }
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status::DataLoss("error while reading " + quoted(path));
  return bytes;
}

Status write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    int err = errno;
    std::string message = "cannot open " + quoted(path) + " for writing: " + std::strerror(err);
    if (err == ENOENT) return Status::NotFound(message);
    return Status::InvalidArgument(message);
  }
  size_t written = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  bool ok = written == bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    return Status::Internal("error while writing " + std::to_string(bytes.size()) + " bytes to " +
                            quoted(path));
  }
  return Status::Ok();
}

}  // namespace vitrine
