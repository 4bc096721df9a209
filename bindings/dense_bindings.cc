// Embind bindings (one file per handle; this one: DenseLayer). Thin RAII wrappers over the engine for
// the JS facade (web/src): no C++ exception and no abort crosses this boundary for a bad call; every
// method that can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the
// message for lastError().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <memory>
#include <string>

#include "binding_util.h"
#include "vitrine/dense_layer.h"

namespace vitrine::wasm {
namespace {

using emscripten::val;

// A dense layer (engine DenseLayer) with its input, output and gradients kept for JS.
class DenseLayerHandle : public HandleBase {
 public:
  // Creates the layer: weights (out, in) and bias (out) start at zero.
  int init(int in_features, int out_features) {
    Status s = ensure_context();
    if (s.ok()) {
      Result<std::unique_ptr<DenseLayer>> layer = DenseLayer::create(g_context.get(), in_features, out_features);
      if (layer.ok()) layer_ = std::move(layer).value();
      else s = layer.status();
    }
    return record(s, &error_);
  }

  int set_weights(const val& weights) {  // Float32Array (out * in), row-major (out, in)
    if (!layer_) return not_ready();
    Tensor& w = layer_->weights();
    return record(copy_from_js(weights, w.mutable_data(), w.num_elements(), "dense weights"), &error_);
  }
  int set_bias(const val& bias) {  // Float32Array (out)
    if (!layer_) return not_ready();
    Tensor& b = layer_->bias();
    return record(copy_from_js(bias, b.mutable_data(), b.num_elements(), "dense bias"), &error_);
  }

  // y (batch, out) = x (batch, in) · Wᵀ + b for a Float32Array x of batch * in values.
  int forward(const val& input, int batch) {
    if (!layer_) return not_ready();
    Status s;
    const int64_t in = layer_->in_features();
    if (batch < 1) s = Status::InvalidArgument("dense: batch must be >= 1, got " + std::to_string(batch));
    if (s.ok() && (x_.empty() || x_.shape()[0] != batch)) {
      Result<Tensor> x = Tensor::zeros(Shape{batch, in});
      if (x.ok()) x_ = x.value();
      else s = x.status();
    }
    if (s.ok()) {
      s = copy_from_js(input, x_.mutable_data(), static_cast<size_t>(batch * in), "dense input");
      if (!s.ok() && input.instanceof(val::global("Float32Array")) &&
          input["length"].as<size_t>() % static_cast<size_t>(in) != 0) {
        s = Status::InvalidArgument("dense input has " + std::to_string(input["length"].as<size_t>()) +
                                    " values, not a multiple of the layer's " + std::to_string(in) +
                                    " input features");
      }
    }
    if (s.ok()) {
      Result<Tensor> y = layer_->forward(x_);
      if (y.ok()) y_ = y.value();
      else s = y.status();
    }
    if (!s.ok()) y_ = Tensor();
    return record(s, &error_);
  }

  // Gradients for the last forward() given dL/dy (a Float32Array of batch * out values).
  int backward(const val& grad_output) {
    if (!layer_) return not_ready();
    Status s;
    if (y_.empty()) s = Status::FailedPrecondition("dense: backward() needs a successful forward() first");
    Tensor dy;
    if (s.ok()) {
      Result<Tensor> t = Tensor::zeros(y_.shape());
      s = t.status();
      if (s.ok()) {
        dy = t.value();
        s = copy_from_js(grad_output, dy.mutable_data(), dy.num_elements(), "dense output gradient");
      }
    }
    if (s.ok()) {
      dx_ = Tensor::zeros(x_.shape()).value();
      dw_ = Tensor::zeros(layer_->weights().shape()).value();
      db_ = Tensor::zeros(layer_->bias().shape()).value();
      s = layer_->backward(dy, &dx_, &dw_, &db_);
    }
    return record(s, &error_);
  }

  val output() const { return copy_to_js(y_); }
  val grad_input() const { return copy_to_js(dx_); }
  val grad_weights() const { return copy_to_js(dw_); }
  val grad_bias() const { return copy_to_js(db_); }
  int in_features() const { return layer_ ? static_cast<int>(layer_->in_features()) : 0; }
  int out_features() const { return layer_ ? static_cast<int>(layer_->out_features()) : 0; }

 private:
  int not_ready() {
    return record(Status::FailedPrecondition("dense: layer is not initialised (or was disposed)"), &error_);
  }
  std::unique_ptr<DenseLayer> layer_;
  Tensor x_, y_;  // (batch, in), (batch, out)
  Tensor dx_, dw_, db_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_dense) {
  using H = DenseLayerHandle;
  bind_handle<H>("DenseLayer", method("init", &H::init), method("setWeights", &H::set_weights), method("setBias", &H::set_bias),
                               method("forward", &H::forward), method("backward", &H::backward), method("output", &H::output),
                               method("gradInput", &H::grad_input), method("gradWeights", &H::grad_weights), method("gradBias", &H::grad_bias),
                               method("inFeatures", &H::in_features), method("outFeatures", &H::out_features));
}

}  // namespace vitrine::wasm
