// Vitrine model files: a safetensors file whose tensors are the graph's constants and whose
// __metadata__ holds the architecture as JSON (key "architecture"), plus free-form string entries
// (task, labels, normalization, ...). Format version kFormatVersion (safetensors.h).
//
//   "architecture": {"inputs": [{"name": "input", "shape": [1, 3, 224, 224]}],  (+ "dtype": "i64" ...; default f32)
//                    "nodes": [{"op": "conv2d", "name": "conv1", "inputs": ["input", "conv1.w"],
//                               "attrs": {"strides": [2, 2], "groups": 1}}, ...],
//                    "outputs": [{"value": "fc", "name": "logits"}]}
// Attribute values: JSON arrays are integer lists, numbers are numbers, strings are strings.
// A node with several outputs names them "<name>:0", "<name>:1", ...
//
// load_model() also accepts ONNX files (detected by content), so callers need not care.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/graph.h"
#include "vitrine/onnx_import.h"

namespace vitrine {

struct LoadedModel {
  std::shared_ptr<Graph> graph;
  std::map<std::string, std::string> metadata;  // everything in __metadata__ but "architecture"
  std::string format;                           // "vitrine" or "onnx"
};

// Serializes `graph` (its constants in their dtypes; f32 ones as F16 with `half`: half the size, loaded
// back as f32) with `metadata` entries added.
Result<std::vector<uint8_t>> save_model(const Graph& graph, const std::map<std::string, std::string>& metadata = {},
                                        bool half = false);

// Loads a Vitrine safetensors model (constants are zero-copy views into `bytes` where aligned) or
// an ONNX model. Errors name the offending node, value or field. `onnx` sets the shapes of ONNX
// inputs with symbolic dimensions; a Vitrine file's shapes are fixed, so there it must be empty.
// `info` receives what an ONNX import learned about the inputs (left empty for Vitrine files).
Result<LoadedModel> load_model(std::shared_ptr<const std::vector<uint8_t>> bytes, const OnnxImportOptions& onnx = {},
                               OnnxImportInfo* info = nullptr);

}  // namespace vitrine
