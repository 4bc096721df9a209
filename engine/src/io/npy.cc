#include "vitrine/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vitrine {
namespace {

// The value of `key` in the header dict, e.g. "'descr': '<f4'" -> "'<f4'".
std::string dict_value(const std::string& header, const std::string& key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return "";
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) return "";
  size_t end = header[start] == '(' ? header.find(')', start) + 1 : header.find_first_of(",}", start);
  if (end == std::string::npos || end <= start) return "";
  return header.substr(start, end - start);
}

// The .npy descr of each dtype (bool is numpy's one-byte '|b1').
const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "<f4";
    case DType::kI64: return "<i8";
    case DType::kI32: return "<i4";
    case DType::kU8: return "|u1";
    case DType::kI8: return "|i1";
    case DType::kBool: return "|b1";
    case DType::kF64: return "<f8";
    case DType::kF16: return "<f2";
    case DType::kI16: return "<i2";
    case DType::kU16: return "<u2";
    case DType::kU32: return "<u4";
    case DType::kU64: return "<u8";
  }
  return "<f4";
}

}  // namespace

Result<Tensor> parse_npy(const uint8_t* data, size_t size) {
  if (data == nullptr || size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) return Status::DataLoss("npy: bad magic");
  const int major = data[6];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = data[8] | (size_t{data[9]} << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return Status::DataLoss("npy: truncated header");
    header_len = data[8] | (size_t{data[9]} << 8) | (size_t{data[10]} << 16) | (size_t{data[11]} << 24);
    offset = 12;
  } else {
    return Status::Unimplemented("npy: format version " + std::to_string(major));
  }
  if (header_len > size - offset) return Status::DataLoss("npy: header longer than the file");
  const std::string header(reinterpret_cast<const char*>(data + offset), header_len);
  offset += header_len;
  const std::string descr = dict_value(header, "descr");
  if (dict_value(header, "fortran_order") != "False") return Status::Unimplemented("npy: Fortran order");
  const std::string shape_text = dict_value(header, "shape");
  if (shape_text.size() < 2 || shape_text.front() != '(') return Status::DataLoss("npy: no shape in header");
  std::vector<int64_t> dims;
  size_t pos = 1;
  while (pos < shape_text.size() - 1) {
    size_t next = shape_text.find_first_of(",)", pos);
    std::string item = shape_text.substr(pos, next - pos);
    size_t first = item.find_first_not_of(' ');
    if (first != std::string::npos) {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(item.c_str() + first, &end, 10);
      if (end == item.c_str() + first || v < 0 || errno == ERANGE) return Status::DataLoss("npy: bad shape '" + shape_text + "'");
      dims.push_back(v);
    }
    pos = next + 1;
  }
  Result<Shape> shape = Shape::make(dims);
  if (!shape.ok()) return shape.status();
  // Every accepted descr maps to one dtype.
  DType dtype = DType::kF32;
  bool known = false;
  for (int i = 0; i < kNumDTypes && !known; ++i) {
    const std::string want = std::string("'") + npy_descr(static_cast<DType>(i)) + "'";
    // One-byte types may be written with '<' or '|' (and '=' for either) by different writers.
    const bool one_byte = dtype_size(static_cast<DType>(i)) == 1;
    if (descr == want || (one_byte && descr.size() == want.size() && descr.substr(2) == want.substr(2) &&
                          (descr[1] == '<' || descr[1] == '|' || descr[1] == '='))) {
      dtype = static_cast<DType>(i);
      known = true;
    }
  }
  if (!known) {
    return Status::Unimplemented("npy: dtype " + descr + " (only <f4, <f8, <f2, <i8, <i4, <i2, <u8, <u4, <u2, |u1, |i1 and |b1)");
  }
  const size_t elem = dtype_size(dtype);
  // Compared in 64 bits: a count that does not fit a 32-bit size_t (wasm32) must not wrap.
  const uint64_t elements = static_cast<uint64_t>(shape->num_elements());
  if (elements > static_cast<uint64_t>((size - offset) / elem)) {
    return Status::DataLoss("npy: data shorter than shape " + shape->to_string());
  }
  const size_t count = static_cast<size_t>(elements);
  Result<Tensor> t = Tensor::zeros(shape.value(), dtype);
  if (!t.ok()) return t.status();
  if (count) std::memcpy(t->mutable_raw_data(), data + offset, count * elem);
  if (dtype == DType::kBool) {
    uint8_t* b = t->mutable_data_as<uint8_t>();
    for (size_t i = 0; i < count; ++i) b[i] = b[i] != 0;
  }
  return t;
}

std::vector<uint8_t> to_npy(const Tensor& tensor) {
  std::string dims;
  for (int i = 0; i < tensor.shape().rank(); ++i) dims += std::to_string(tensor.shape()[i]) + ", ";
  if (tensor.shape().rank() > 1) dims.erase(dims.size() - 2 + 1);  // "(2, 3)" but "(4,)"
  std::string header = std::string("{'descr': '") + npy_descr(tensor.dtype()) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const uint8_t magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             static_cast<uint8_t>(header.size() & 0xFF), static_cast<uint8_t>(header.size() >> 8)};
  std::vector<uint8_t> out(10 + header.size() + tensor.nbytes());
  std::memcpy(out.data(), magic, 10);
  std::memcpy(out.data() + 10, header.data(), header.size());
  if (tensor.nbytes()) std::memcpy(out.data() + 10 + header.size(), tensor.raw_data(), tensor.nbytes());
  return out;
}

Result<std::vector<uint8_t>> read_binary_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::NotFound("cannot open '" + path + "'");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status::DataLoss("error reading '" + path + "'");
  return bytes;
}

Status write_binary_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Status::NotFound("cannot create '" + path + "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) return Status::DataLoss("error writing '" + path + "'");
  return Status::Ok();
}

}  // namespace vitrine
