// DenseLayer: a one-node graph for forward, the op table's Dense gradient for backward.
#include "vitrine/dense_layer.h"

#include <string>

namespace vitrine {

Result<std::unique_ptr<DenseLayer>> DenseLayer::create(Context* ctx, int64_t in_features, int64_t out_features) {
  if (ctx == nullptr) return Status::InvalidArgument("dense: null context");
  if (in_features < 1 || out_features < 1) {
    return Status::InvalidArgument("dense: feature counts must be >= 1, got in=" + std::to_string(in_features) +
                                   " out=" + std::to_string(out_features));
  }
  std::unique_ptr<DenseLayer> layer(new DenseLayer());
  layer->ctx_ = ctx;
  Result<Tensor> w = Tensor::zeros(Shape{out_features, in_features});
  if (!w.ok()) return w.status();
  Result<Tensor> b = Tensor::zeros(Shape{out_features});
  if (!b.ok()) return b.status();
  layer->w_ = w.value();
  layer->b_ = b.value();
  auto g = std::make_shared<Graph>();
  Result<int> x_id = g->add_input("x", Shape{1, in_features});
  if (!x_id.ok()) return x_id.status();
  Result<int> w_id = g->add_constant("W", layer->w_);  // shares w_'s storage
  if (!w_id.ok()) return w_id.status();
  Result<int> b_id = g->add_constant("b", layer->b_);
  if (!b_id.ok()) return b_id.status();
  Result<int> y_id = g->add(OpType::kDense, "dense", {x_id.value(), w_id.value(), b_id.value()});
  if (!y_id.ok()) return y_id.status();
  VITRINE_RETURN_IF_ERROR(g->add_output(y_id.value(), "y"));
  layer->graph_ = std::move(g);
  return layer;
}

Result<Tensor> DenseLayer::forward(const Tensor& x) {
  if (x.empty() || x.shape().rank() < 1 || x.shape().dim(-1) != in_features()) {
    return Status::InvalidArgument("dense: input must be (..., " + std::to_string(in_features()) + "), got " +
                                   (x.empty() ? std::string("an empty tensor") : x.shape().to_string()));
  }
  if (!executor_ || w_.generation() != w_gen_ || b_.generation() != b_gen_) {
    executor_.reset();  // the old runtime's packed weights go first
    w_gen_ = w_.generation();
    b_gen_ = b_.generation();
    Result<std::unique_ptr<Executor>> ex = Executor::create(graph_, ctx_);
    if (!ex.ok()) return ex.status();
    executor_ = std::move(ex).value();
  }
  x_ = Tensor();
  y_ = Tensor();
  const int64_t rows = x.num_elements() / in_features();
  Result<Tensor> x2 = x.reshaped(Shape{rows, in_features()});  // (N, in): leading dims flattened
  if (!x2.ok()) return x2.status();
  VITRINE_RETURN_IF_ERROR(executor_->run({x2.value()}, &outputs_));
  std::vector<int64_t> dims = x.shape().to_vector();
  dims.back() = out_features();
  Result<Shape> y_shape = Shape::make(dims);
  if (!y_shape.ok()) return y_shape.status();
  Result<Tensor> y = outputs_[0].reshaped(y_shape.value());  // (..., out)
  if (!y.ok()) return y.status();
  x_ = x;
  y_ = y.value();
  return y_;
}

Status DenseLayer::backward(const Tensor& dy, Tensor* dx, Tensor* dw, Tensor* db) {
  if (x_.empty()) return Status::FailedPrecondition("dense: backward() needs a successful forward() first");
  const Tensor& y = y_;
  if (dy.shape() != y.shape()) {
    return Status::InvalidArgument("dense: output gradient has shape " + dy.shape().to_string() +
                                   ", the output has " + y.shape().to_string());
  }
  const Tensor* like[3] = {&x_, &w_, &b_};
  Tensor* grads[3] = {dx, dw, db};
  for (int i = 0; i < 3; ++i) {
    if (grads[i] && grads[i]->shape() != like[i]->shape()) {
      return Status::InvalidArgument(std::string("dense: gradient of ") + (i == 0 ? "x" : i == 1 ? "W" : "b") +
                                     " has shape " + grads[i]->shape().to_string() + ", expected " +
                                     like[i]->shape().to_string());
    }
  }
  return op_info(OpType::kDense).backward(ctx_, OpAttrs{}, {&x_, &w_, &b_}, {&y}, {&dy}, {dx, dw, db});
}

}  // namespace vitrine
