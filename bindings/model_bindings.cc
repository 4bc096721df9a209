// Embind bindings (one file per handle; this one: ModelHandle, model_handle.h). Thin RAII wrappers over the engine for
// the JS facade (web/src): no C++ exception and no abort crosses this boundary for a bad call; every
// method that can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the
// message for lastError().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "model_handle.h"

namespace vitrine::wasm {

EMSCRIPTEN_BINDINGS(vitrine_model) {
  using H = ModelHandle;
  bind_handle<H>("ModelHandle", method("load", &H::load), method("loadTfjsGraph", &H::load_tfjs_graph), method("inputNames", &H::input_names), method("outputNames", &H::output_names),
                                method("inputShapes", &H::input_shapes), method("declaredShapes", &H::declared_shapes),
                                method("inputDtypes", &H::input_dtypes),
                                method("outputDtypes", &H::output_dtypes), method("setInput", &H::set_input), method("run", &H::run),
                                method("output", &H::output), method("outputShape", &H::output_shape), method("metadata", &H::metadata),
                                method("save", &H::save), method("carry", &H::carry), method("input", &H::input),
                                method("inputShape", &H::input_shape), method("setProfiling", &H::set_profiling),
                                method("profile", &H::profile));
}

}  // namespace vitrine::wasm
