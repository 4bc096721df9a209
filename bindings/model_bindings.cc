// Embind bindings (one file per handle; this one: ModelHandle, model_handle.h). Thin RAII wrappers over the engine for
// the JS facade (web/src): no C++ exception and no abort crosses this boundary for a bad call; every
// method that can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the
// message for lastError().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "model_handle.h"

namespace vitrine::wasm {


EMSCRIPTEN_BINDINGS(vitrine_model) {
  emscripten::class_<ModelHandle>("ModelHandle")
      .constructor<>()
      .function("load", &ModelHandle::load)
      .function("inputNames", &ModelHandle::input_names)
      .function("outputNames", &ModelHandle::output_names)
      .function("inputShapes", &ModelHandle::input_shapes)
      .function("setInput", &ModelHandle::set_input)
      .function("run", &ModelHandle::run)
      .function("output", &ModelHandle::output)
      .function("outputShape", &ModelHandle::output_shape)
      .function("metadata", &ModelHandle::metadata)
      .function("save", &ModelHandle::save)
      .function("lastError", &ModelHandle::last_error);
}

}  // namespace vitrine::wasm
