// DenseLayer: a fully connected layer that owns its weights, for callers that train or run one
// layer by hand (the facade's createDenseLayer, benchmarks). It is the Dense op and nothing more:
// forward runs a one-node graph through the Executor (XNNPACK's fully-connected kernel, weights
// packed once and packed again only after W or b change); backward is the op table's Dense
// gradient, the same one the Trainer uses.
#pragma once

#include <memory>

#include "vitrine/context.h"
#include "vitrine/graph.h"
#include "vitrine/status.h"
#include "vitrine/tensor.h"

namespace vitrine {

class DenseLayer {
 public:
  // A layer with `in_features` inputs and `out_features` outputs; W (out, in) and b (out) start at
  // zero. `ctx` is not owned and must outlive the layer.
  static Result<std::unique_ptr<DenseLayer>> create(Context* ctx, int64_t in_features, int64_t out_features);

  int64_t in_features() const { return w_.shape()[1]; }
  int64_t out_features() const { return w_.shape()[0]; }

  // W (out, in) and b (out). Writing through mutable_data() (or mark_modified()) is seen by the
  // next forward().
  Tensor& weights() { return w_; }
  Tensor& bias() { return b_; }

  // y (..., out) = x (..., in) · Wᵀ + b; leading dimensions are flattened into the batch. The
  // layer keeps x (shared, not copied) for backward(); the returned y is the layer's buffer, valid
  // until the next forward().
  Result<Tensor> forward(const Tensor& x);

  // Given dL/dy (shaped like the last forward()'s y), writes dL/dx, dL/dW and dL/db into the
  // non-null arguments, which must be shaped like x, W and b.
  Status backward(const Tensor& dy, Tensor* dx, Tensor* dw, Tensor* db);

 private:
  DenseLayer() = default;

  Context* ctx_ = nullptr;
  std::shared_ptr<Graph> graph_;       // x (input) · W, b (constants sharing w_, b_) → y
  std::unique_ptr<Executor> executor_;  // rebuilt when W or b changed since it packed them
  uint64_t w_gen_ = 0, b_gen_ = 0;
  Tensor w_, b_;                 // (out, in), (out)
  Tensor x_, y_;                 // (..., in) and (..., out) of the last forward()
  std::vector<Tensor> outputs_;  // { y (N, out) }: the executor's output buffer
};

}  // namespace vitrine
