// A small, bounds-checked reader for the protobuf wire format (no protobuf library, no generated
// code).
//
// Decoders for concrete messages (onnx_model.cc) loop over a message's fields with WireReader:
//
//   FieldKey key;
//   while (!reader.at_end()) {
//     VITRINE_RETURN_IF_ERROR(reader.read_field_key("TensorProto", &key));
//     if (key.number == 8) {
//       VITRINE_RETURN_IF_ERROR(read_string(reader, key, "TensorProto.name", &tensor->name));
//     } else {
//       VITRINE_RETURN_IF_ERROR(reader.skip_field(key, "TensorProto"));
//     }
//   }
//
// Bytes are hostile: every read checks bounds, varints longer than 10 bytes are rejected, lengths
// are checked against the bytes left in the enclosing message, and nesting is limited to
// kMaxNestingDepth messages. Every failure is Status::DataLoss with a message naming the field and
// the byte offset (counted from the start of the whole buffer), e.g.
//   protobuf: TensorProto.raw_data at byte 57: length 4096 runs past the end of its message
//   (12 bytes left)
// Groups (wire types 3 and 4, deprecated in proto2 and absent from ONNX) are rejected, not skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vitrine/status.h"

namespace vitrine {
namespace protobuf {

// How a field's value is encoded (the low 3 bits of its tag).
enum class WireType : uint8_t {
  kVarint = 0,           // int32, int64, uint64, bool, enum
  kFixed64 = 1,          // double, fixed64
  kLengthDelimited = 2,  // string, bytes, nested message, packed repeated numbers
  kStartGroup = 3,       // deprecated; rejected
  kEndGroup = 4,         // deprecated; rejected
  kFixed32 = 5,          // float, fixed32
};

inline constexpr int kMaxVarintBytes = 10;   // a 64-bit value needs at most 10 groups of 7 bits
inline constexpr int kMaxNestingDepth = 64;  // nested messages below the top-level one
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

// A decoded field tag.
struct FieldKey {
  uint32_t number = 0;  // 1 .. kMaxFieldNumber
  WireType wire_type = WireType::kVarint;
  size_t offset = 0;  // where the tag starts, from the start of the whole buffer
};

// A forward-only cursor over the bytes of one message.
class WireReader {
 public:
  // Reads the top-level message in [data, data + size). Does not own or copy the bytes: the caller
  // keeps them alive while this reader, any reader made by read_message(), and any pointer returned
  // by read_bytes() are used.
  WireReader(const uint8_t* data, size_t size) : WireReader(data, size, 0, 0) {}
  WireReader() = default;  // over no bytes

  bool at_end() const { return position_ == size_; }
  size_t bytes_left() const { return size_ - position_; }
  // Current position, counted from the start of the whole buffer (for messages).
  size_t offset() const { return base_offset_ + position_; }
  // How many messages enclose this one (0 for the top-level message).
  int depth() const { return depth_; }

  // Reads a tag. `message` names the message being decoded, for error messages. Rejects field
  // number 0, field numbers above kMaxFieldNumber and wire types 6 and 7.
  Status read_field_key(const char* message, FieldKey* key);

  // Raw reads. `field` names what is read ("TensorProto.dims"), for error messages.
  Status read_varint(const char* field, uint64_t* value);
  Status read_fixed32(const char* field, uint32_t* value);  // little-endian
  Status read_fixed64(const char* field, uint64_t* value);  // little-endian
  // A length-delimited value: sets *data to its first byte inside this reader's buffer (no copy)
  // and *size to its length.
  Status read_bytes(const char* field, const uint8_t** data, size_t* size);
  // A length-delimited nested message: sets *message to a reader over exactly its bytes, one level
  // deeper. Fails when that would exceed kMaxNestingDepth.
  Status read_message(const char* field, WireReader* message);
  // A length-delimited packed run of numbers: sets *run to a reader over exactly its bytes, at the
  // same depth (a packed run is not a message).
  Status read_packed(const char* field, WireReader* run);

  // Skips the value of a field this decoder does not know. Groups are an error.
  Status skip_field(const FieldKey& key, const char* message);

 private:
  WireReader(const uint8_t* data, size_t size, size_t base_offset, int depth)
      : data_(data), size_(size), base_offset_(base_offset), depth_(depth) {}

  const uint8_t* data_ = nullptr;  // not owned
  size_t size_ = 0;
  size_t position_ = 0;     // next byte to read, from data_
  size_t base_offset_ = 0;  // offset of data_[0] in the whole buffer
  int depth_ = 0;
};

// Status::DataLoss("protobuf: <field> at byte <offset>: <problem>").
Status wire_error(const char* field, size_t offset, const std::string& problem);

// Typed reads for one field whose key was just read. Each checks that the wire type fits the
// declared protobuf type and fails with DataLoss naming `field` otherwise.
Status read_int64(WireReader& reader, const FieldKey& key, const char* field, int64_t* value);
// int32 and enum: a varint whose low 32 bits are the value (negative ones are sign-extended to 64).
Status read_int32(WireReader& reader, const FieldKey& key, const char* field, int32_t* value);
Status read_float(WireReader& reader, const FieldKey& key, const char* field, float* value);
// string and bytes (no UTF-8 validation).
Status read_string(WireReader& reader, const FieldKey& key, const char* field, std::string* value);
Status read_byte_vector(WireReader& reader, const FieldKey& key, const char* field,
                        std::vector<uint8_t>* value);
// A nested message: checks the wire type, then WireReader::read_message.
Status read_message(WireReader& reader, const FieldKey& key, const char* field,
                    WireReader* message);

// Repeated numeric fields: appends one element (unpacked encoding) or every element of a packed run
// (length-delimited encoding). Both encodings are accepted, mixed freely, as protobuf requires.
// Capacity reserved for a packed run is bounded by its byte length.
Status append_int64s(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<int64_t>* values);
Status append_int32s(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<int32_t>* values);
Status append_uint64s(WireReader& reader, const FieldKey& key, const char* field,
                      std::vector<uint64_t>* values);
Status append_floats(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<float>* values);
Status append_doubles(WireReader& reader, const FieldKey& key, const char* field,
                      std::vector<double>* values);

}  // namespace protobuf
}  // namespace vitrine
