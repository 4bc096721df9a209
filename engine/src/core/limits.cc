#include "vitrine/limits.h"

namespace vitrine {
namespace {
Limits& current_limits() {
  static Limits limits;
  return limits;
}
}  // namespace

const Limits& default_limits() { return current_limits(); }
void set_default_limits(const Limits& limits) { current_limits() = limits; }

}  // namespace vitrine
