// Embind bindings (one file per handle; this one: module-wide settings: threads, limits, status names). Thin RAII wrappers over the engine for
// the JS facade (web/src): no C++ exception and no abort crosses this boundary for a bad call; every
// method that can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the
// message for lastError().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <string>

#include "binding_util.h"
#include "vitrine/context.h"
#include "vitrine/limits.h"
#include "vitrine/status.h"

namespace vitrine::wasm {
namespace {

using emscripten::val;

// Module-wide settings and facts.
int set_max_threads(int n) {  // called once by the facade, first: the pthread pool size + 1
  if (g_context) {
    return record(Status::FailedPrecondition("setMaxThreads() must come before any other call"),
                  &g_last_error);
  }
  g_max_threads = threads_supported() ? (n < 1 ? 1 : n) : 1;
  return 0;
}

int set_num_threads(int n) {
  Status s = ensure_context();
  if (s.ok() && (n < 1 || n > g_max_threads)) {
    s = Status::InvalidArgument("thread count " + std::to_string(n) + " outside [1, " +
                                std::to_string(g_max_threads) + "] for the " + build_variant() +
                                " build");
  }
  if (s.ok()) s = g_context->set_num_threads(n);
  return record(s, &g_last_error);
}

val runtime_info() {
  val info = val::object();
  info.set("variant", std::string(build_variant()));
  info.set("threads", g_context ? g_context->num_threads() : 1);
  info.set("maxThreads", g_max_threads);
  info.set("threadsSupported", threads_supported());
  info.set("simd", true);
  return info;
}

std::string last_error() { return g_last_error; }

// Status names by code (status.h), for the facade's VitrineError codes.
val status_names() {
  val names = val::array();
  for (int c = 0; c <= static_cast<int>(StatusCode::kCancelled); ++c) names.call<void>("push", std::string(status_code_name(static_cast<StatusCode>(c))));
  return names;
}

// The resource limits of this instance (limits.h), as { maxTensorElements, ... }.
constexpr std::pair<const char*, int64_t Limits::*> kLimitFields[] = {
    {"maxTensorElements", &Limits::max_tensor_elements}, {"maxTotalBytes", &Limits::max_total_bytes},
    {"maxNodes", &Limits::max_nodes}, {"maxAttributes", &Limits::max_attributes},
    {"maxMetadataKeys", &Limits::max_metadata_keys}, {"maxHeaderBytes", &Limits::max_header_bytes},
    {"maxImagePixels", &Limits::max_image_pixels}};

val limits() {
  val out = val::object();
  for (const auto& [name, field] : kLimitFields) out.set(name, static_cast<double>(default_limits().*field));
  return out;
}

// Changes some limits: an object with any of limits()'s keys (positive integers); unknown keys and
// bad values are refused and nothing changes.
int set_limits(const val& changes) {
  Limits l = default_limits();
  Status s;
  if (changes.isNull() || changes.typeOf().as<std::string>() != "object") s = Status::InvalidArgument("limits must be an object");
  const val keys = s.ok() ? val::global("Object").call<val>("keys", changes) : val::array();
  const int n = keys["length"].as<int>();
  for (int i = 0; s.ok() && i < n; ++i) {
    const std::string key = keys[i].as<std::string>();
    const auto* f = std::find_if(std::begin(kLimitFields), std::end(kLimitFields), [&](const auto& e) { return key == e.first; });
    const val v = changes[key];
    if (f == std::end(kLimitFields)) {
      s = Status::InvalidArgument("unknown limit '" + key + "'");
    } else if (!v.isNumber() || !val::global("Number").call<bool>("isSafeInteger", v) || v.as<double>() < 1) {
      s = Status::InvalidArgument("limit " + key + " must be a positive integer");
    } else {
      l.*(f->second) = static_cast<int64_t>(v.as<double>());
    }
  }
  if (s.ok()) s = set_limits(l);
  return record(s, &g_last_error);
}

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_runtime) {
  emscripten::function("setMaxThreads", &set_max_threads);
  emscripten::function("setNumThreads", &set_num_threads);
  emscripten::function("runtimeInfo", &runtime_info);
  emscripten::function("limits", &limits);
  emscripten::function("setLimits", &set_limits);
  emscripten::function("lastError", &last_error);
  emscripten::function("statusNames", &status_names);
}

}  // namespace vitrine::wasm
