// Import of TensorFlow.js graph models (tfjs-converter's "graph-model" format: model.json with a
// TensorFlow GraphDef in "modelTopology", a "weightsManifest" and binary weight shards, float32
// weights optionally quantized to uint8 / uint16 / float16).
//
// Supported TensorFlow ops (NHWC, as the converter writes them): Placeholder, Const, Identity,
// Conv2D, _FusedConv2D and FusedDepthwiseConv2dNative (fused BiasAdd, then Relu, Relu6, Elu,
// Sigmoid, Tanh, LeakyRelu or Prelu), DepthwiseConv2dNative, Prelu, AddN, MatMul and _FusedMatMul, BiasAdd,
// MaxPool, AvgPool, ResizeBilinear (fixed batch), Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh, Softmax,
// Square, Rsqrt, Sqrt, Abs, Neg, Exp, AddV2, Add, Sub, Mul,
// RealDiv, Maximum, Minimum, Reshape, Squeeze, ExpandDims, Mean, Max, Min, Sum, Pad, PadV2,
// ConcatV2, Conv2DBackpropInput, DepthToSpace, StridedSlice (begin / end / shrink masks), Pack and
// Shape (folded: shapes are static, and a model that reads one has its batch fixed at import).
// Shape operands (Reshape's shape, reduction axes, paddings, concat axis) must be constants;
// arithmetic on int32 constants folds. A model using other ops fails with one error that lists all of them.
//
// The graph takes each Placeholder under its node name (a -1 dimension other than the batch needs
// `input_shapes`) and yields the signature's outputs (or, without a signature, every node no other
// node reads) under their node names. Errors name the node.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vitrine/model_file.h"

namespace vitrine {

struct TfjsGraphImportOptions {
  // Sizes for Placeholder dimensions given as -1 (by node name); a -1 batch (dimension 0) defaults
  // to 1 and stays free at run time.
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

// `model_json`: the model.json text; `weights`: all shards of its weightsManifest concatenated in
// manifest order (`size` bytes). Copies what it needs. `declared_dims`, when given, receives each
// input's dimensions as the model declares them (graph input order; -1 where any size is taken).
Result<LoadedModel> import_tfjs_graph(std::string_view model_json, const uint8_t* weights, size_t size,
                                      const TfjsGraphImportOptions& options = {},
                                      std::vector<std::vector<int64_t>>* declared_dims = nullptr);

// The TensorFlow op names the importer handles, sorted.
std::vector<std::string> tfjs_graph_supported_ops();

}  // namespace vitrine
