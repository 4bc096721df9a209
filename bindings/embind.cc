// Embind bindings: thin RAII wrappers over the engine for the JS facade (web/src).
//
// Convention: no C++ exception and no abort crosses this boundary for a bad call. Every method that
// can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the message for
// lastError(); the facade turns a non-zero code into a JS Error carrying that message.
// Outputs are read back with accessor methods that return fresh Float32Array copies.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <memory>
#include <string>

#include "vitrine/context.h"
#include "vitrine/ops.h"

namespace vitrine::wasm {
namespace {

using emscripten::val;

// The one execution context of this module instance (threads are per module).
int g_max_threads = 1;
std::unique_ptr<Context> g_context;
std::string g_last_error;

int record(const Status& s, std::string* sink) {
  if (!s.ok()) *sink = s.message();
  return static_cast<int>(s.code());
}

Status ensure_context() {
  if (g_context) return Status::Ok();
  // The pool is sized once to the pthread workers the facade pre-started (g_max_threads).
  Result<std::unique_ptr<Context>> ctx = Context::create(g_max_threads, g_max_threads);
  if (!ctx.ok()) return ctx.status();
  g_context = std::move(ctx).value();
  return Status::Ok();
}

// Copies a JS Float32Array into `dst` (which has `count` floats), refusing other types, wrong
// lengths and non-finite values (the message names `what` and the first bad index).
Status copy_from_js(const val& src, float* dst, size_t count, const char* what) {
  if (!src.instanceof(val::global("Float32Array"))) {
    return Status::InvalidArgument(std::string(what) + " must be a Float32Array");
  }
  size_t length = src["length"].as<size_t>();
  if (length != count) {
    return Status::InvalidArgument(std::string(what) + " has " + std::to_string(length) +
                                   " values, expected " + std::to_string(count));
  }
  if (count == 0) return Status::Ok();
  val(emscripten::typed_memory_view(count, dst)).call<void>("set", src);
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(dst[i])) {
      return Status::InvalidArgument(std::string(what) + " holds a non-finite value (" +
                                     std::to_string(dst[i]) + ") at index " + std::to_string(i));
    }
  }
  return Status::Ok();
}

val copy_to_js(const Tensor& t) {
  if (t.empty()) return val::global("Float32Array").new_(0);
  val view(emscripten::typed_memory_view(static_cast<size_t>(t.num_elements()), t.data()));
  return val::global("Float32Array").new_(view);
}

// Module-wide settings and facts.
int set_max_threads(int n) {  // called once by the facade, first: the pthread pool size + 1
  if (g_context) {
    return record(Status::FailedPrecondition("setMaxThreads() must come before any other call"),
                  &g_last_error);
  }
  g_max_threads = threads_supported() ? (n < 1 ? 1 : n) : 1;
  return 0;
}

int set_num_threads(int n) {
  Status s = ensure_context();
  if (s.ok() && (n < 1 || n > g_max_threads)) {
    s = Status::InvalidArgument("thread count " + std::to_string(n) + " outside [1, " +
                                std::to_string(g_max_threads) + "] for the " + build_variant() +
                                " build");
  }
  if (s.ok()) s = g_context->set_num_threads(n);
  return record(s, &g_last_error);
}

val runtime_info() {
  val info = val::object();
  info.set("variant", std::string(build_variant()));
  info.set("threads", g_context ? g_context->num_threads() : 1);
  info.set("maxThreads", g_max_threads);
  info.set("threadsSupported", threads_supported());
  info.set("simd", true);
  return info;
}

std::string last_error() { return g_last_error; }

// A dense layer with its own weights, bias, activations and gradients.
class DenseLayer {
 public:
  DenseLayer() = default;

  // Creates the layer: weights (out, in) and bias (out) start at zero.
  int init(int in_features, int out_features) {
    Status s = ensure_context();
    if (s.ok() && (in_features < 1 || out_features < 1)) {
      s = Status::InvalidArgument("dense: feature counts must be >= 1, got in=" +
                                  std::to_string(in_features) + " out=" + std::to_string(out_features));
    }
    if (s.ok()) {
      Result<std::unique_ptr<Op>> op = create_dense(g_context.get());
      Result<Tensor> w = Tensor::zeros(Shape{out_features, in_features});
      Result<Tensor> b = Tensor::zeros(Shape{out_features});
      if (!op.ok()) s = op.status();
      else if (!w.ok()) s = w.status();
      else if (!b.ok()) s = b.status();
      else {
        op_ = std::move(op).value();
        w_ = w.value();
        b_ = b.value();
      }
    }
    return record(s, &error_);
  }

  int set_weights(const val& weights) {  // Float32Array (out * in), row-major (out, in)
    if (!op_) return not_ready();
    return record(copy_from_js(weights, w_.mutable_data(), w_.num_elements(), "dense weights"), &error_);
  }
  int set_bias(const val& bias) {  // Float32Array (out)
    if (!op_) return not_ready();
    return record(copy_from_js(bias, b_.mutable_data(), b_.num_elements(), "dense bias"), &error_);
  }

  // y (batch, out) = x (batch, in) · Wᵀ + b for a Float32Array x of batch * in values.
  int forward(const val& input, int batch) {
    if (!op_) return not_ready();
    Status s;
    const int64_t in = w_.shape()[1], out = w_.shape()[0];
    if (batch < 1) s = Status::InvalidArgument("dense: batch must be >= 1, got " + std::to_string(batch));
    if (s.ok() && (x_.empty() || x_.shape()[0] != batch)) {
      Result<Tensor> x = Tensor::zeros(Shape{batch, in});
      Result<Tensor> y = Tensor::zeros(Shape{batch, out});
      if (!x.ok()) s = x.status();
      else if (!y.ok()) s = y.status();
      else { x_ = x.value(); y_ = y.value(); }
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
    if (s.ok()) s = op_->forward({&x_, &w_, &b_}, &y_);
    have_forward_ = s.ok();
    return record(s, &error_);
  }

  // Gradients for the last forward() given dL/dy (a Float32Array of batch * out values).
  int backward(const val& grad_output) {
    if (!op_) return not_ready();
    Status s;
    if (!have_forward_) s = Status::FailedPrecondition("dense: backward() needs a successful forward() first");
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
      dw_ = Tensor::zeros(w_.shape()).value();
      db_ = Tensor::zeros(b_.shape()).value();
      s = op_->backward({&x_, &w_, &b_}, y_, dy, {&dx_, &dw_, &db_});
    }
    return record(s, &error_);
  }

  val output() const { return copy_to_js(y_); }
  val grad_input() const { return copy_to_js(dx_); }
  val grad_weights() const { return copy_to_js(dw_); }
  val grad_bias() const { return copy_to_js(db_); }
  int in_features() const { return op_ ? static_cast<int>(w_.shape()[1]) : 0; }
  int out_features() const { return op_ ? static_cast<int>(w_.shape()[0]) : 0; }
  std::string last_error() const { return error_; }

 private:
  int not_ready() {
    return record(Status::FailedPrecondition("dense: layer is not initialised (or was disposed)"), &error_);
  }
  std::unique_ptr<Op> op_;
  Tensor w_, b_;       // (out, in), (out)
  Tensor x_, y_;       // (batch, in), (batch, out)
  Tensor dx_, dw_, db_;
  bool have_forward_ = false;
  std::string error_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine) {
  emscripten::function("setMaxThreads", &set_max_threads);
  emscripten::function("setNumThreads", &set_num_threads);
  emscripten::function("runtimeInfo", &runtime_info);
  emscripten::function("lastError", &last_error);
  emscripten::class_<DenseLayer>("DenseLayer")
      .constructor<>()
      .function("init", &DenseLayer::init)
      .function("setWeights", &DenseLayer::set_weights)
      .function("setBias", &DenseLayer::set_bias)
      .function("forward", &DenseLayer::forward)
      .function("backward", &DenseLayer::backward)
      .function("output", &DenseLayer::output)
      .function("gradInput", &DenseLayer::grad_input)
      .function("gradWeights", &DenseLayer::grad_weights)
      .function("gradBias", &DenseLayer::grad_bias)
      .function("inFeatures", &DenseLayer::in_features)
      .function("outFeatures", &DenseLayer::out_features)
      .function("lastError", &DenseLayer::last_error);
}

}  // namespace vitrine::wasm
