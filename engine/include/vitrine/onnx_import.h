// ONNX import: an .onnx file (opsets 11-17, static shapes) to a Vitrine Graph.
//
// The graph keeps ONNX's interface: inputs and outputs have the ONNX names and layouts (NCHW
// images in, whatever the model outputs out). Inside, image tensors run NHWC (XNNPACK's layout);
// the importer inserts the few transposes needed at the edges and re-lays weights out once.
// BatchNormalization after a Conv is folded into the Conv's weights. Constant subgraphs (Shape of
// a static value, Constant, arithmetic on constants used as shapes) are folded.
//
// Supported ONNX ops are listed by onnx_supported_ops(). A model using others fails with one error
// that lists every unsupported op. Dimension 0 of each input is the batch and may change at run
// time; symbolic dimensions elsewhere must be fixed through `input_shapes` (the graph is then
// specialized to them; ModelRunner re-imports for other sizes).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/graph.h"

namespace vitrine {

struct OnnxImportOptions {
  // Shapes for inputs whose ONNX shape has symbolic dimensions (by input name). A symbolic batch
  // dimension (dim 0) defaults to 1.
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

// What an import learned about the model's inputs, for callers that run it at other shapes
// (ModelRunner).
struct OnnxImportInfo {
  // Each input's dimensions as the file declares them (graph input order); -1 where symbolic.
  // Empty for an input declared without a shape.
  std::vector<std::vector<int64_t>> declared_dims;
  // Per input (graph input order): declared as a scalar (rank 0; the graph holds it as (1)).
  std::vector<bool> scalar;
  // True when sizes read off activations were folded into the graph (Shape, Size, a recurrent
  // layer's output reshapes): another batch size then needs a fresh import, not just a reshape.
  bool shape_specialized = false;
};

// Imports a model. Does not keep `data` (weights are copied into the graph). `info`, when given,
// receives what the import learned about the inputs.
Result<std::shared_ptr<Graph>> import_onnx(const uint8_t* data, size_t size,
                                           const OnnxImportOptions& options = {}, OnnxImportInfo* info = nullptr);

// The ONNX op types the importer handles, sorted.
std::vector<std::string> onnx_supported_ops();

}  // namespace vitrine
