// safetensors: Vitrine's model file format (DESIGN.md §5).
//
// Layout: 8 bytes N (little-endian u64), N bytes of UTF-8 JSON header (may end in spaces), then the
// data buffer. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (byte offsets relative to the start of the data buffer, row-major, little-endian elements) and
// may hold "__metadata__": {string: string}. The tensors tile the data buffer exactly: no gaps, no
// overlap, nothing after the last one.
//
// Reading treats the bytes as hostile: every length, offset, count and field type is checked when
// the file is parsed, and a failure is a DataLoss status naming the tensor or field. A parsed file
// is then safe to read from without further checks.
//
// Vitrine files carry "format": "vitrine" and "format_version": "<major>[.<minor>]" in
// `__metadata__` (see check_vitrine_metadata); the architecture and preprocessing sit beside them
// as JSON text in further metadata values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vitrine/status.h"
#include "vitrine/tensor.h"

namespace vitrine {

// Major version of the Vitrine metadata convention this build reads and writes. A file whose
// "format_version" has a larger major number is refused; minor versions only add optional keys.
// Version 2 added typed (non-f32) inputs and constants; save_model writes 1 for all-f32 graphs so
// that older runtimes keep reading them.
inline constexpr int kFormatVersion = 2;
// Largest header accepted (the reference implementation uses the same limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull * 1000 * 1000;

// One tensor entry of a safetensors header.
struct TensorInfo {
  std::string name;
  std::string dtype;  // as in the file: "F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", ...
  std::vector<int64_t> shape;  // outermost first; empty for a scalar (one element)
  int64_t num_elements = 0;    // product of shape
  size_t element_size = 0;     // bytes per element of dtype
  uint64_t data_begin = 0;     // byte range [data_begin, data_end) in the data buffer
  uint64_t data_end = 0;
  uint64_t file_offset = 0;  // absolute offset of data_begin in the file
};

// A parsed safetensors file: the header, checked, plus the bytes it describes. Cheap to copy
// (copies share the bytes).
class SafetensorsFile {
 public:
  SafetensorsFile() = default;  // no tensors, no metadata

  // Parses and checks a whole file held in `bytes`. Keeps `bytes` alive (shared) for as long as
  // this object or any tensor view taken from it lives; never copies them.
  static Result<SafetensorsFile> parse(std::shared_ptr<const std::vector<uint8_t>> bytes);
  // Same, from caller memory: copies the `size` bytes at `data`, so the caller may free them after
  // the call.
  static Result<SafetensorsFile> parse(const uint8_t* data, size_t size);

  // The "__metadata__" strings (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // All tensor entries, in header order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // Tensor names in header order.
  std::vector<std::string> names() const;
  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }

  // The entry for `name`; NotFound naming it when absent.
  Result<TensorInfo> info(std::string_view name) const;

  // The tensor `name` as f32 with the file's shape (rank <= Shape::kMaxRank).
  //  - F32: a zero-copy view into the file bytes (sharing their ownership) when the data is 4-byte
  //    aligned and at least kTensorPadding file bytes follow it (XNNPACK may read that far past an
  //    input's end); otherwise a copy. Views must be treated as read-only: writing through
  //    mutable_data() would change the shared file bytes.
  //  - F16, BF16, F64: converted into a new f32 tensor (F64 rounds to nearest, overflows to inf).
  // Errors: NotFound (unknown name), Unimplemented naming the dtype (integer and other dtypes,
  // which Vitrine's DType cannot hold yet; see integers()), InvalidArgument (rank above
  // Shape::kMaxRank or more than 2^40 elements).
  Result<Tensor> tensor(std::string_view name) const;

  // The tensor `name` in its own dtype where Vitrine has it (I64, I32, U8, I8, BOOL: a copy, BOOL
  // elements normalized to 0/1); floating point dtypes as tensor() loads them. Errors as tensor(),
  // with Unimplemented for the other integer dtypes (I16, U16, U32, U64).
  Result<Tensor> typed_tensor(std::string_view name) const;

  // The elements of an integer tensor (I64, I32, I16, I8, U64, U32, U16, U8, BOOL as 0/1), widened
  // to int64 in row-major order. Errors: NotFound, InvalidArgument naming the dtype for a floating
  // point (or other non-integer) tensor, DataLoss for a U64 value above INT64_MAX.
  Result<std::vector<int64_t>> integers(std::string_view name) const;

  // The raw bytes of tensor `name` (little-endian elements of its dtype), pointing into the file
  // bytes: valid while this object or a copy of it lives. NotFound when absent.
  Result<std::pair<const uint8_t*, size_t>> raw_bytes(std::string_view name) const;

 private:
  Result<const TensorInfo*> find(std::string_view name) const;

  std::shared_ptr<const std::vector<uint8_t>> bytes_;  // the whole file
  size_t data_start_ = 0;                              // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Serializes `tensors` (F32, I64, I32, U8, I8 or BOOL, in the given order, tiled without gaps) and `metadata` into a
// safetensors file. Adds "format" = "vitrine" and "format_version" (2 when a tensor is not f32,
// else 1) to the metadata unless given. The header is padded with spaces to a multiple of 8 bytes, so the data buffer
// starts 8-byte aligned in the file and every F32 tensor 4-byte aligned (8-byte aligned when all
// tensors before it have an even number of elements). Does not keep the tensors.
//
// Errors (InvalidArgument): an empty (storage-less) tensor, a duplicate or reserved
// ("__metadata__") name, a name or metadata string that is not valid UTF-8.
// With `half`, f32 tensors are stored as F16 (round to nearest even): half the size, read back as f32
// by the loader; a value F16 cannot hold (non-finite or beyond +-65504) is an InvalidArgument.
Result<std::vector<uint8_t>> write_safetensors(
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {}, bool half = false);

// Checks the Vitrine convention in a parsed file's metadata: "format" must be "vitrine"
// (InvalidArgument otherwise, including a plain safetensors file without it) and "format_version"
// a version "<major>[.<minor>]" whose major is between 1 and kFormatVersion (Unimplemented for a
// newer major: the file needs a newer Vitrine; InvalidArgument when missing or malformed).
Status check_vitrine_metadata(const SafetensorsFile& file);

// Reads a whole file (native builds and Emscripten's virtual file system). NotFound when it does
// not exist; DataLoss on a read error.
Result<std::vector<uint8_t>> read_file(const std::string& path);
// Writes (creates or replaces) a file with `bytes`. Does not keep the bytes.
Status write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace vitrine
