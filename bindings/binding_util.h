// Helpers shared by the Embind translation units (one per handle, *_bindings.cc): the module's one
// execution context, status recording and checked copies between JS typed arrays and C++.
#pragma once

#include <emscripten/bind.h>
#include <emscripten/heap.h>
#include <emscripten/val.h>
#include <malloc.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/json.h"
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

// Whether `bytes` more fit in this instance's heap: its maximum size less what is in use, keeping
// an eighth in reserve for the work that follows. Asked before any allocation whose size a caller
// chose (model bytes, pixels, texts), so that a too-large input is a ResourceExhausted error and
// not an abort (allocation failure aborts in a build without exceptions).
inline Status check_heap_room(size_t bytes, const char* what) {
  // mallinfo() walks the whole heap: ask only for copies large enough to matter (pixels of one
  // small image, a short text are always fine), not on every call of a hot path.
  if (bytes < (size_t{1} << 20)) return Status::Ok();
  const size_t max = emscripten_get_heap_max();
  const size_t used = static_cast<size_t>(mallinfo().uordblks);
  const size_t room = used + max / 8 < max ? max - used - max / 8 : 0;
  if (bytes <= room) return Status::Ok();
  return Status::ResourceExhausted(std::string(what) + " needs " + std::to_string(bytes) + " bytes; the engine has room for " +
                                   std::to_string(room) + " more (" + std::to_string(max >> 20) + " MiB in all)");
}

// A copy of a JS Uint8Array (or Uint8ClampedArray) in the wasm heap, after check_heap_room().
inline Result<std::shared_ptr<std::vector<uint8_t>>> bytes_from_js(const val& bytes, const char* what) {
  if (!bytes.instanceof(val::global("Uint8Array")) && !bytes.instanceof(val::global("Uint8ClampedArray"))) {
    return Status::InvalidArgument(std::string(what) + " must be a Uint8Array");
  }
  const size_t n = bytes["length"].as<size_t>();
  Status room = check_heap_room(n, what);
  if (!room.ok()) return room;
  auto out = std::make_shared<std::vector<uint8_t>>(n);
  if (n) val(emscripten::typed_memory_view(n, out->data())).call<void>("set", bytes);
  return out;
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

// The JS typed array class that carries tensors of `dtype` (bool: Uint8Array of 0/1; f16: Uint16Array
// of IEEE half bits).
inline const char* js_array_class(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "Float32Array";
    case DType::kI64: return "BigInt64Array";
    case DType::kI32: return "Int32Array";
    case DType::kU8: return "Uint8Array";
    case DType::kI8: return "Int8Array";
    case DType::kBool: return "Uint8Array";
    case DType::kF64: return "Float64Array";
    case DType::kF16: return "Uint16Array";  // IEEE half bits
    case DType::kI16: return "Int16Array";
    case DType::kU16: return "Uint16Array";
    case DType::kU32: return "Uint32Array";
    case DType::kU64: return "BigUint64Array";
  }
  return "Float32Array";
}

// Copies a JS typed array of the tensor's class (js_array_class) and length into `t`: f32 values
// must be finite, bool bytes become 0/1.
inline Status copy_tensor_from_js(const val& src, Tensor* t, const char* what) {
  const size_t count = static_cast<size_t>(t->num_elements());
  if (t->dtype() == DType::kF32) return copy_from_js(src, t->mutable_data(), count, what);
  const char* cls = js_array_class(t->dtype());
  if (!src.instanceof(val::global(cls))) {
    return Status::InvalidArgument(std::string(what) + " must be a " + cls + " (" + dtype_name(t->dtype()) + ")");
  }
  const size_t length = src["length"].as<size_t>();
  if (length != count) {
    return Status::InvalidArgument(std::string(what) + " has " + std::to_string(length) + " values, expected " +
                                   std::to_string(count));
  }
  if (count == 0) return Status::Ok();
  uint8_t* dst = static_cast<uint8_t*>(t->mutable_raw_data());
  val bytes = val::global("Uint8Array").new_(src["buffer"], src["byteOffset"], src["byteLength"]);
  val(emscripten::typed_memory_view(t->nbytes(), dst)).call<void>("set", bytes);
  if (t->dtype() == DType::kBool)
    for (size_t i = 0; i < count; ++i) dst[i] = dst[i] != 0;
  return Status::Ok();
}

// A JSON value as the plain JS value it describes (objects, arrays, strings, numbers, booleans,
// null): how handles return structured results, without a JSON string for the facade to parse.
inline val json_to_val(const Json& j) {
  switch (j.type()) {
    case Json::Type::kNull: return val::null();
    case Json::Type::kBool: return val(j.bool_value());
    case Json::Type::kNumber: return val(j.number_value());
    case Json::Type::kString: return val(j.string_value());
    case Json::Type::kArray: {
      val a = val::array();
      for (const Json& e : j.array_items()) a.call<void>("push", json_to_val(e));
      return a;
    }
    case Json::Type::kObject: {
      val o = val::object();
      for (const auto& [k, v] : j.object_members()) o.set(k, json_to_val(v));
      return o;
    }
  }
  return val::null();
}

inline val copy_to_js(const Tensor& t) {
  if (t.empty()) return val::global("Float32Array").new_(0);
  val view(emscripten::typed_memory_view(static_cast<size_t>(t.num_elements()), t.data()));
  return val::global("Float32Array").new_(view);
}

// A tensor of any dtype as a new JS typed array of its class (a copy).
inline val copy_tensor_to_js(const Tensor& t) {
  if (t.dtype() == DType::kF32 || t.empty()) return copy_to_js(t);
  val view(emscripten::typed_memory_view(t.nbytes(), static_cast<const uint8_t*>(t.raw_data())));
  val bytes = val::global("Uint8Array").new_(view);  // copied out of the wasm heap
  return val::global(js_array_class(t.dtype())).new_(bytes["buffer"]);
}

// What every handle keeps: the message of its last failure (lastError()) and, for calls that return
// null on failure, its status code (lastCode()).
class HandleBase {
 public:
  std::string last_error() const { return error_; }
  int last_code() const { return last_code_; }

 protected:
  // For methods that take a request object and return a value: runs `run(request, &out)` once the
  // module's context exists and the request is an object; returns out, or null with lastError() and
  // lastCode() set.
  template <typename F>
  val value_or_null(const val& request, F&& run) {
    val out = val::null();
    Status s = ensure_context();
    if (s.ok() && (request.isNull() || request.typeOf().as<std::string>() != "object")) {
      s = Status::InvalidArgument("the request must be an object");
    }
    if (s.ok()) s = run(request, &out);
    if (!s.ok()) {
      last_code_ = record(s, &error_);
      return val::null();
    }
    return out;
  }

  std::string error_;
  int last_code_ = 0;
};

// One JS method of a handle: its name and the member function behind it.
template <class M>
std::pair<const char*, M> method(const char* js_name, M member) {
  return {js_name, member};
}

// Registers handle class H (a HandleBase) as `name` with a default constructor, lastError(),
// lastCode() and `methods`.
template <class H, class... M>
void bind_handle(const char* name, std::pair<const char*, M>... methods) {
  const emscripten::class_<H> c(name);
  c.template constructor<>();
  c.function("lastError", static_cast<std::string (H::*)() const>(&H::last_error));
  c.function("lastCode", static_cast<int (H::*)() const>(&H::last_code));
  (c.function(methods.first, methods.second), ...);
}

}  // namespace vitrine::wasm
