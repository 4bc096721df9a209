// Helpers shared by the Embind translation units (embind.cc, tag_bindings.cc): the module's one
// execution context, status recording and checked copies between JS typed arrays and C++.
#pragma once

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <memory>
#include <string>

#include "vitrine/context.h"
#include "vitrine/status.h"
#include "vitrine/tensor.h"

namespace vitrine::wasm {

using emscripten::val;

// The one execution context of this module instance (threads are per module).
inline int g_max_threads = 1;
inline std::unique_ptr<Context> g_context;
inline std::string g_last_error;

inline int record(const Status& s, std::string* sink) {
  if (!s.ok()) *sink = s.message();
  return static_cast<int>(s.code());
}

inline Status ensure_context() {
  if (g_context) return Status::Ok();
  // The pool is sized once to the pthread workers the facade pre-started (g_max_threads).
  Result<std::unique_ptr<Context>> ctx = Context::create(g_max_threads, g_max_threads);
  if (!ctx.ok()) return ctx.status();
  g_context = std::move(ctx).value();
  return Status::Ok();
}

// Copies a JS Float32Array into `dst` (which has `count` floats), refusing other types, wrong
// lengths and non-finite values (the message names `what` and the first bad index).
inline Status copy_from_js(const val& src, float* dst, size_t count, const char* what) {
  if (!src.instanceof(val::global("Float32Array"))) {
    return Status::InvalidArgument(std::string(what) + " must be a Float32Array");
  }
  size_t length = src["length"].as<size_t>();
  if (length != count) {
    return Status::InvalidArgument(std::string(what) + " has " + std::to_string(length) +
                                   " values, expected " + std::to_string(count));
  }
  if (count == 0) return Status::Ok();
  val(emscripten::typed_memory_view(count, dst)).call<void>("set", src);
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(dst[i])) {
      return Status::InvalidArgument(std::string(what) + " holds a non-finite value (" +
                                     std::to_string(dst[i]) + ") at index " + std::to_string(i));
    }
  }
  return Status::Ok();
}

inline val copy_to_js(const Tensor& t) {
  if (t.empty()) return val::global("Float32Array").new_(0);
  val view(emscripten::typed_memory_view(static_cast<size_t>(t.num_elements()), t.data()));
  return val::global("Float32Array").new_(view);
}

}  // namespace vitrine::wasm
