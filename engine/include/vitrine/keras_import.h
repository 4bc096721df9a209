// Import of TensorFlow.js "layers" models (a Keras model saved by tfjs-converter: model.json with
// "modelTopology" and "weightsManifest", plus binary weight shards).
//
// Supported layers (channels_last): InputLayer, Conv2D, DepthwiseConv2D, Dense, BatchNormalization,
// ReLU (incl. max_value = ReLU6), Activation, Softmax, Add, Concatenate, ZeroPadding2D,
// MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape, Dropout (identity).
// Activations: linear, relu, relu6, sigmoid, tanh, softmax, hard_sigmoid is not supported (error).
// Weights may be float32 or quantized (uint8 / uint16 affine with min + scale, or float16); they
// are dequantized to f32. Sequential and functional (Model) topologies are accepted.
//
// The result's graph takes the Keras input (N, H, W, C) under the input layer's name and yields the
// model's outputs under their layer names, or only `output_layer`'s output when given (e.g. the
// pooled features of a backbone, for transfer learning). Errors name the layer and the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vitrine/model_file.h"

namespace vitrine {

struct KerasImportOptions {
  std::string output_layer;  // "" = the model's own outputs
};

// `model_json`: the model.json text; `weights`: all shards of its weightsManifest concatenated in
// manifest order (size bytes). Copies what it needs (does not keep the pointers).
Result<LoadedModel> import_keras_layers(std::string_view model_json, const uint8_t* weights, size_t size,
                                        const KerasImportOptions& options = {});

}  // namespace vitrine
