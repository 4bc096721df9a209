#include "protobuf_wire.h"

#include <cstring>

namespace vitrine {
namespace protobuf {
namespace {

const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kStartGroup: return "start-group";
    case WireType::kEndGroup: return "end-group";
    case WireType::kFixed32: return "fixed32";
  }
  return "invalid";
}

Status expect_wire_type(const FieldKey& key, WireType expected, const char* field) {
  if (key.wire_type == expected) return Status::Ok();
  return wire_error(field, key.offset,
                    std::string("wire type ") + wire_type_name(key.wire_type) + ", expected " +
                        wire_type_name(expected));
}

float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

double double_from_bits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Shared body of the append_* functions. `element_wire_type` is the unpacked encoding;
// `read_one(reader, out)` reads one element with that encoding.
template <typename T, typename ReadOne>
Status append_repeated(WireReader& reader, const FieldKey& key, const char* field,
                       WireType element_wire_type, size_t min_element_bytes, std::vector<T>* values,
                       ReadOne read_one) {
  if (key.wire_type == element_wire_type) {
    T value;
    VITRINE_RETURN_IF_ERROR(read_one(reader, &value));
    values->push_back(value);
    return Status::Ok();
  }
  if (key.wire_type != WireType::kLengthDelimited) {
    return wire_error(field, key.offset,
                      std::string("wire type ") + wire_type_name(key.wire_type) + ", expected " +
                          wire_type_name(element_wire_type) + " or packed");
  }
  WireReader packed;
  VITRINE_RETURN_IF_ERROR(reader.read_packed(field, &packed));
  const size_t packed_bytes = packed.bytes_left();
  if (packed_bytes % min_element_bytes != 0 && element_wire_type != WireType::kVarint) {
    return wire_error(field, packed.offset(),
                      "packed run of " + std::to_string(packed_bytes) +
                          " bytes is not a multiple of " + std::to_string(min_element_bytes));
  }
  values->reserve(values->size() + packed_bytes / min_element_bytes);  // bounded by the input
  while (!packed.at_end()) {
    T value;
    VITRINE_RETURN_IF_ERROR(read_one(packed, &value));
    values->push_back(value);
  }
  return Status::Ok();
}

}  // namespace

Status wire_error(const char* field, size_t offset, const std::string& problem) {
  return Status::DataLoss(std::string("protobuf: ") + field + " at byte " + std::to_string(offset) +
                          ": " + problem);
}

Status WireReader::read_field_key(const char* message, FieldKey* key) {
  key->offset = offset();
  uint64_t tag = 0;
  VITRINE_RETURN_IF_ERROR(read_varint(message, &tag));
  const uint64_t number = tag >> 3;
  const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
  if (number == 0 || number > kMaxFieldNumber) {
    return wire_error(message, key->offset, "invalid field number " + std::to_string(number));
  }
  if (wire_type > 5) {
    return wire_error(
        message, key->offset,
        "invalid wire type " + std::to_string(wire_type) + " in field " + std::to_string(number));
  }
  key->number = static_cast<uint32_t>(number);
  key->wire_type = static_cast<WireType>(wire_type);
  return Status::Ok();
}

Status WireReader::read_varint(const char* field, uint64_t* value) {
  const size_t start = offset();
  uint64_t result = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (position_ == size_) return wire_error(field, start, "truncated varint");
    const uint8_t byte = data_[position_++];
    // The 10th byte holds only bit 63; anything more overflows 64 bits.
    if (i == kMaxVarintBytes - 1 && (byte & 0x7E) != 0) {
      return wire_error(field, start, "varint overflows 64 bits");
    }
    result |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) {
      *value = result;
      return Status::Ok();
    }
  }
  return wire_error(field, start, "varint longer than 10 bytes");
}

Status WireReader::read_fixed32(const char* field, uint32_t* value) {
  if (bytes_left() < 4) {
    return wire_error(field, offset(),
                      "truncated fixed32 (" + std::to_string(bytes_left()) + " bytes left)");
  }
  const uint8_t* p = data_ + position_;
  *value = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  position_ += 4;
  return Status::Ok();
}

Status WireReader::read_fixed64(const char* field, uint64_t* value) {
  if (bytes_left() < 8) {
    return wire_error(field, offset(),
                      "truncated fixed64 (" + std::to_string(bytes_left()) + " bytes left)");
  }
  uint64_t result = 0;
  for (int i = 7; i >= 0; --i) result = (result << 8) | data_[position_ + i];
  *value = result;
  position_ += 8;
  return Status::Ok();
}

Status WireReader::read_bytes(const char* field, const uint8_t** data, size_t* size) {
  const size_t start = offset();
  uint64_t length = 0;
  VITRINE_RETURN_IF_ERROR(read_varint(field, &length));
  if (length > bytes_left()) {
    return wire_error(field, start,
                      "length " + std::to_string(length) + " runs past the end of its message (" +
                          std::to_string(bytes_left()) + " bytes left)");
  }
  *data = data_ + position_;
  *size = static_cast<size_t>(length);
  position_ += static_cast<size_t>(length);
  return Status::Ok();
}

Status WireReader::read_message(const char* field, WireReader* message) {
  if (depth_ >= kMaxNestingDepth) {
    return wire_error(
        field, offset(),
        "messages nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  }
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  VITRINE_RETURN_IF_ERROR(read_bytes(field, &bytes, &size));
  *message = WireReader(bytes, size, base_offset_ + static_cast<size_t>(bytes - data_), depth_ + 1);
  return Status::Ok();
}

Status WireReader::read_packed(const char* field, WireReader* run) {
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  VITRINE_RETURN_IF_ERROR(read_bytes(field, &bytes, &size));
  *run = WireReader(bytes, size, base_offset_ + static_cast<size_t>(bytes - data_), depth_);
  return Status::Ok();
}

Status WireReader::skip_field(const FieldKey& key, const char* message) {
  switch (key.wire_type) {
    case WireType::kVarint: {
      uint64_t ignored;
      return read_varint(message, &ignored);
    }
    case WireType::kFixed64: {
      uint64_t ignored;
      return read_fixed64(message, &ignored);
    }
    case WireType::kLengthDelimited: {
      const uint8_t* ignored_data;
      size_t ignored_size;
      return read_bytes(message, &ignored_data, &ignored_size);
    }
    case WireType::kFixed32: {
      uint32_t ignored;
      return read_fixed32(message, &ignored);
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup: break;
  }
  return wire_error(
      message, key.offset,
      "field " + std::to_string(key.number) + " is a group; groups are not supported");
}

Status read_int64(WireReader& reader, const FieldKey& key, const char* field, int64_t* value) {
  VITRINE_RETURN_IF_ERROR(expect_wire_type(key, WireType::kVarint, field));
  uint64_t raw = 0;
  VITRINE_RETURN_IF_ERROR(reader.read_varint(field, &raw));
  *value = static_cast<int64_t>(raw);
  return Status::Ok();
}

Status read_int32(WireReader& reader, const FieldKey& key, const char* field, int32_t* value) {
  VITRINE_RETURN_IF_ERROR(expect_wire_type(key, WireType::kVarint, field));
  uint64_t raw = 0;
  VITRINE_RETURN_IF_ERROR(reader.read_varint(field, &raw));
  *value = static_cast<int32_t>(static_cast<uint32_t>(raw));
  return Status::Ok();
}

Status read_float(WireReader& reader, const FieldKey& key, const char* field, float* value) {
  VITRINE_RETURN_IF_ERROR(expect_wire_type(key, WireType::kFixed32, field));
  uint32_t bits = 0;
  VITRINE_RETURN_IF_ERROR(reader.read_fixed32(field, &bits));
  *value = float_from_bits(bits);
  return Status::Ok();
}

Status read_string(WireReader& reader, const FieldKey& key, const char* field, std::string* value) {
  VITRINE_RETURN_IF_ERROR(expect_wire_type(key, WireType::kLengthDelimited, field));
  const uint8_t* data = nullptr;
  size_t size = 0;
  VITRINE_RETURN_IF_ERROR(reader.read_bytes(field, &data, &size));
  value->assign(reinterpret_cast<const char*>(data), size);
  return Status::Ok();
}

Status read_byte_vector(WireReader& reader, const FieldKey& key, const char* field,
                        std::vector<uint8_t>* value) {
  VITRINE_RETURN_IF_ERROR(expect_wire_type(key, WireType::kLengthDelimited, field));
  const uint8_t* data = nullptr;
  size_t size = 0;
  VITRINE_RETURN_IF_ERROR(reader.read_bytes(field, &data, &size));
  value->assign(data, data + size);
  return Status::Ok();
}

Status read_message(WireReader& reader, const FieldKey& key, const char* field,
                    WireReader* message) {
  VITRINE_RETURN_IF_ERROR(expect_wire_type(key, WireType::kLengthDelimited, field));
  return reader.read_message(field, message);
}

Status append_int64s(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<int64_t>* values) {
  return append_repeated(reader, key, field, WireType::kVarint, 1, values,
                         [field](WireReader& r, int64_t* out) {
                           uint64_t raw = 0;
                           VITRINE_RETURN_IF_ERROR(r.read_varint(field, &raw));
                           *out = static_cast<int64_t>(raw);
                           return Status::Ok();
                         });
}

Status append_int32s(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<int32_t>* values) {
  return append_repeated(reader, key, field, WireType::kVarint, 1, values,
                         [field](WireReader& r, int32_t* out) {
                           uint64_t raw = 0;
                           VITRINE_RETURN_IF_ERROR(r.read_varint(field, &raw));
                           *out = static_cast<int32_t>(static_cast<uint32_t>(raw));
                           return Status::Ok();
                         });
}

Status append_uint64s(WireReader& reader, const FieldKey& key, const char* field,
                      std::vector<uint64_t>* values) {
  return append_repeated(
      reader, key, field, WireType::kVarint, 1, values,
      [field](WireReader& r, uint64_t* out) { return r.read_varint(field, out); });
}

Status append_floats(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<float>* values) {
  return append_repeated(reader, key, field, WireType::kFixed32, 4, values,
                         [field](WireReader& r, float* out) {
                           uint32_t bits = 0;
                           VITRINE_RETURN_IF_ERROR(r.read_fixed32(field, &bits));
                           *out = float_from_bits(bits);
                           return Status::Ok();
                         });
}

Status append_doubles(WireReader& reader, const FieldKey& key, const char* field,
                      std::vector<double>* values) {
  return append_repeated(reader, key, field, WireType::kFixed64, 8, values,
                         [field](WireReader& r, double* out) {
                           uint64_t bits = 0;
                           VITRINE_RETURN_IF_ERROR(r.read_fixed64(field, &bits));
                           *out = double_from_bits(bits);
                           return Status::Ok();
                         });
}

}  // namespace protobuf
}  // namespace vitrine
