// BatchNorm (inference): y = (x - mean) / sqrt(var + epsilon) * scale + bias over the last (channel)
// axis. inputs: x (..., C), scale (C), bias (C), mean (C), var (C) — all but x constants;
// attr epsilon = 1e-5. Importers fold it into the previous conv/dense; a standalone one lowers to
// one multiply and one add with precomputed per-channel constants.
#include <cmath>

#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_batch_norm(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("batch_norm", {"epsilon"}));
  if (in[0].rank() < 1) return op_error("batch_norm", "input must have rank >= 1");
  const int64_t c = in[0].dim(-1);
  for (size_t i = 1; i < 5; ++i) {
    if (in[i].rank() != 1 || in[i][0] != c) {
      return op_error("batch_norm", "parameter " + std::to_string(i) + " must be (" + std::to_string(c) +
                                        "), got " + in[i].to_string());
    }
  }
  if (!(a.number("epsilon", 1e-5) >= 0)) return op_error("batch_norm", "epsilon must be >= 0");
  return std::vector<Shape>{in[0]};
}

Status lower_batch_norm(XnnLowering& l) {
  for (size_t i = 1; i < 5; ++i)
    if (!l.constants[i]) return op_error(l.node_name, "scale, bias, mean and var must be constants");
  const int64_t c = l.input_shapes[0].dim(-1);
  const float eps = static_cast<float>(l.attrs->number("epsilon", 1e-5));
  Result<Tensor> mul = Tensor::zeros(Shape{c});
  Result<Tensor> add = Tensor::zeros(Shape{c});
  if (!mul.ok()) return mul.status();
  if (!add.ok()) return add.status();
  const float *scale = l.constants[1]->data(), *bias = l.constants[2]->data(), *mean = l.constants[3]->data(),
              *var = l.constants[4]->data();
  float* m = mul->mutable_data();
  float* b = add->mutable_data();
  for (int64_t i = 0; i < c; ++i) {
    m[i] = scale[i] / std::sqrt(var[i] + eps);
    b[i] = bias[i] - mean[i] * m[i];
  }
  Result<uint32_t> mul_id = l.add_static(mul.value());
  Result<uint32_t> add_id = l.add_static(add.value());
  Result<uint32_t> scaled = l.add_internal(l.output_shapes[0]);
  if (!mul_id.ok()) return mul_id.status();
  if (!add_id.ok()) return add_id.status();
  if (!scaled.ok()) return scaled.status();
  VITRINE_RETURN_IF_ERROR(l.check(
      xnn_define_binary(l.subgraph, xnn_binary_multiply, nullptr, l.inputs[0], mul_id.value(), scaled.value(), 0),
      "define multiply"));
  return l.check(
      xnn_define_binary(l.subgraph, xnn_binary_add, nullptr, scaled.value(), add_id.value(), l.outputs[0], 0),
      "define add");
}

}  // namespace

const OpInfo kBatchNormInfo{OpType::kBatchNorm, 21, "batch_norm", 5, 5, &infer_batch_norm, &lower_batch_norm,
                            nullptr};

}  // namespace vitrine
