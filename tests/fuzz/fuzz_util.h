// Shared helpers of the libFuzzer harnesses (tests/fuzz/*_fuzz.cc; run them with scripts/fuzz.sh).
//
// Every harness lowers the engine's resource limits once (set_fuzz_limits) so that a crafted size
// field ends in ResourceExhausted long before libFuzzer's -rss_limit_mb / -malloc_limit_mb would
// report a (spurious) out-of-memory, and reads its inputs with ByteReader, which never fails: past
// the end it yields zeros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "vitrine/limits.h"

namespace vitrine {
namespace fuzz {

// Limits small enough that every accepted input is cheap to decode and run (4M elements = 16 MiB
// per tensor, 256 MiB in all, 4096 nodes).
inline void set_fuzz_limits() {
  Limits limits;
  limits.max_tensor_elements = int64_t{1} << 22;
  limits.max_total_bytes = int64_t{256} << 20;
  limits.max_nodes = 4096;
  limits.max_attributes = 256;
  limits.max_metadata_keys = 256;
  limits.max_header_bytes = int64_t{1} << 20;
  set_default_limits(limits);
}

// Consumes bytes from the front of an input.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t left() const { return size_ - pos_; }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
  float f32() {
    uint32_t bits = u32();
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  // Up to n bytes (fewer at the end).
  std::string bytes(size_t n) {
    n = n < left() ? n : left();
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  std::string rest() { return bytes(left()); }
  const uint8_t* here() const { return data_ + pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The directory holding the running executable (from /proc/self/exe), with a trailing '/'.
inline std::string executable_dir() {
  std::vector<char> buf(4096);
  ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "./";
  std::string path(buf.data(), static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1);
}

// Reads a file the harness needs at start-up; $env (when set) overrides `relative`, a path from the
// repository root, which is looked up from the executable (build/fuzz/tests/fuzz/) and from the
// working directory. Exits with a message when it is missing: a harness without its fixture would
// fuzz nothing.
inline std::vector<uint8_t> read_fixture(const char* env, const std::string& relative) {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv(env)) candidates.push_back(p);
  candidates.push_back(executable_dir() + "../../../" + relative);
  candidates.push_back(relative);
  for (const std::string& path : candidates) {
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::fprintf(stderr, "fuzz harness: cannot read %s (set %s)\n", relative.c_str(), env);
  std::exit(2);
}

}  // namespace fuzz
}  // namespace vitrine
