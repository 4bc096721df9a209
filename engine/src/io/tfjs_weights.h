// The weights of a TensorFlow.js model (layers or graph format): the weightsManifest of its
// model.json and the binary shards it lists, concatenated in manifest order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "vitrine/json.h"
#include "vitrine/tensor.h"

namespace vitrine {

// Decodes every weight of `manifest` from `data` (`size` bytes) into tensors by name: float32
// (also quantized: uint8 / uint16 affine with min + scale, or float16; dequantized to f32), int32
// (I32) and bool. Refuses non-finite floats, sizes beyond the data, and bytes the manifest does not
// account for, naming the weight.
Result<std::map<std::string, Tensor>> read_tfjs_weights(const JsonRef& manifest, const uint8_t* data, size_t size);

// A TensorFlow convolution filter (kh, kw, in, out) — depthwise: (kh, kw, in, multiplier) — in the
// engine's conv2d layout (O, kh, kw, in / groups). `k` is a 4-D f32 tensor.
Result<Tensor> tf_filter_to_ohwi(const Tensor& k, bool depthwise);

}  // namespace vitrine
