// Resource limits applied to everything a model file (or another untrusted input) can make the
// engine allocate or loop over. A file that exceeds a limit fails with Status::ResourceExhausted
// whose message names the limit, e.g.
//   "ONNX model has 2000000 nodes; the limit is 1000000 (Limits::max_nodes)".
//
// The defaults suit a native build; a memory-constrained build (wasm32 in a browser tab) can lower
// them at start-up with set_default_limits(). Limits are process-wide and read at each check, so
// set them before loading models (changing them while another thread loads is a data race).
#pragma once

#include <cstdint>
#include <string>

#include "vitrine/status.h"

namespace vitrine {

struct Limits {
  // Elements of one tensor (weights, activations, inputs read from .npy): 2^28 (1 GiB of f32).
  int64_t max_tensor_elements = int64_t{1} << 28;
  // Bytes of one allocation, and of all constants one model file materialises: 1 GiB.
  int64_t max_total_bytes = int64_t{1} << 30;
  // Nodes of one graph (ONNX nodes, Vitrine architecture nodes).
  int64_t max_nodes = 1000000;
  // Attributes of one node.
  int64_t max_attributes = 10000;
  // Keys of a safetensors "__metadata__" object.
  int64_t max_metadata_keys = 10000;
  // Bytes of a safetensors JSON header: 100 MiB.
  int64_t max_header_bytes = int64_t{100} << 20;
  // Pixels of one image handed to the tagger: 2^26 (a 8192 x 8192 photo).
  int64_t max_image_pixels = int64_t{1} << 26;

  // The defaults of this build: the values above natively; in wasm32, where one instance has at
  // most 2 GiB, max_tensor_elements 2^27, max_total_bytes 768 MiB, max_header_bytes 16 MiB and
  // max_image_pixels 2^25.
  static Limits build_defaults();
};

// The limits in force (Limits::build_defaults() until set_default_limits is called).
const Limits& default_limits();
// Replaces the limits in force for the whole process. Every field must be >= 1 (InvalidArgument
// otherwise, and nothing changes).
Status set_limits(const Limits& limits);
// Like set_limits, for trusted values (tests, tools).
void set_default_limits(const Limits& limits);

// OK when `value` <= `limit`; otherwise ResourceExhausted:
//   "<what> has <value> <unit>; the limit is <limit> (Limits::<field>)".
inline Status check_limit(const std::string& what, int64_t value, const char* unit, int64_t limit,
                          const char* field) {
  if (value <= limit) return Status::Ok();
  return Status::ResourceExhausted(what + " has " + std::to_string(value) + " " + unit +
                                   "; the limit is " + std::to_string(limit) + " (Limits::" + field +
                                   ")");
}

}  // namespace vitrine
