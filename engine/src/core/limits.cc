#include "vitrine/limits.h"

#include <cstdint>
#include <utility>

namespace vitrine {
namespace {
Limits& current_limits() {
  static Limits limits = Limits::build_defaults();
  return limits;
}
}  // namespace

Limits Limits::build_defaults() {
  Limits l;
#if defined(__EMSCRIPTEN__) || SIZE_MAX <= 0xFFFFFFFFu
  l.max_tensor_elements = int64_t{1} << 27;
  l.max_total_bytes = int64_t{768} << 20;
  l.max_header_bytes = int64_t{16} << 20;
  l.max_image_pixels = int64_t{1} << 25;
#endif
  return l;
}

const Limits& default_limits() { return current_limits(); }

Status set_limits(const Limits& l) {
  const std::pair<const char*, int64_t> fields[] = {
      {"max_tensor_elements", l.max_tensor_elements}, {"max_total_bytes", l.max_total_bytes},
      {"max_nodes", l.max_nodes}, {"max_attributes", l.max_attributes}, {"max_metadata_keys", l.max_metadata_keys},
      {"max_header_bytes", l.max_header_bytes}, {"max_image_pixels", l.max_image_pixels}};
  for (const auto& [name, value] : fields) {
    if (value < 1) return Status::InvalidArgument(std::string("Limits::") + name + " must be >= 1, got " + std::to_string(value));
  }
  current_limits() = l;
  return Status::Ok();
}

void set_default_limits(const Limits& limits) { current_limits() = limits; }

}  // namespace vitrine
