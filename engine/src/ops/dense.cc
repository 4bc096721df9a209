// Dense (fully connected): y = x · Wᵀ + b. Validation, forward and backward.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../core/xnn_util.h"
#include "../graph/xnn_lowering.h"
#include "grad_util.h"
#include "vitrine/ops.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_dense(const std::vector<Shape>& in, const OpAttrs& attrs) {
  VITRINE_RETURN_IF_ERROR(attrs.check_known("dense", {}));
  if (in.size() != 2 && in.size() != 3) {
    return Status::InvalidArgument("dense: expects inputs (x, W) or (x, W, b), got " +
                                   std::to_string(in.size()));
  }
  const Shape& x = in[0];
  const Shape& w = in[1];
  if (w.rank() != 2) {
    return Status::InvalidArgument("dense: weights must be (out, in), got " + w.to_string());
  }
  if (x.rank() < 1) return Status::InvalidArgument("dense: input must have rank >= 1");
  if (x.dim(-1) != w[1]) {
    return Status::InvalidArgument("dense: input has " + std::to_string(x.dim(-1)) +
                                   " features (shape " + x.to_string() + "), the layer expects " +
                                   std::to_string(w[1]));
  }
  if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != w[0])) {
    return Status::InvalidArgument("dense: bias must be (" + std::to_string(w[0]) + "), got " +
                                   in[2].to_string());
  }
  if (w[0] == 0 || w[1] == 0) return Status::InvalidArgument("dense: weights have a zero dimension");
  std::vector<int64_t> out = x.to_vector();
  out.back() = w[0];
  Result<Shape> shape = Shape::make(out);
  if (!shape.ok()) return shape.status();
  return std::vector<Shape>{shape.value()};
}

Status lower_dense(XnnLowering& l) {
  uint32_t bias = l.inputs.size() == 3 ? l.inputs[2] : XNN_INVALID_VALUE_ID;
  return l.check(xnn_define_fully_connected(l.subgraph, -INFINITY, INFINITY, l.inputs[0], l.inputs[1],
                                            bias, l.outputs[0], 0),
                 "define fully connected");
}

// dx (N, in) = dy · W; dW (out, in) = dyᵀ · x; db = Σ_rows dy.
Status backward_dense(Context* ctx, const OpAttrs&, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                      const std::vector<Tensor*>& gin) {
  const size_t n_out = static_cast<size_t>(in[1]->shape()[0]), n_in = static_cast<size_t>(in[1]->shape()[1]);
  const size_t batch = static_cast<size_t>(in[0]->num_elements()) / n_in;
  if (!gout[0]) {
    for (Tensor* g : gin)
      if (g) std::fill_n(g->mutable_data(), g->num_elements(), 0.0f);
    return Status::Ok();
  }
  const float* dy = gout[0]->data();
  if (gin[0]) VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, 1, batch, n_out, n_in, dy, in[1]->data(), gin[0]->mutable_data(), false));
  if (gin.size() > 1 && gin[1]) {
    std::vector<float> dyt(n_out * batch);
    transpose_batch(1, batch, n_out, dy, dyt.data());
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, 1, n_out, batch, n_in, dyt.data(), in[0]->data(), gin[1]->mutable_data(), false));
  }
  if (gin.size() > 2 && gin[2]) {
    float* db = gin[2]->mutable_data();
    std::fill_n(db, n_out, 0.0f);
    for (size_t r = 0; r < batch; ++r)
      for (size_t c = 0; c < n_out; ++c) db[c] += dy[r * n_out + c];
  }
  return Status::Ok();
}

class DenseOp final : public Op {
 public:
  explicit DenseOp(Context* ctx) : ctx_(ctx) {}
  OpType type() const override { return OpType::kDense; }

  Result<Shape> infer_shape(const std::vector<Shape>& in) const override {
    Result<std::vector<Shape>> out = infer_dense(in, OpAttrs{});
    if (!out.ok()) return out.status();
    return out.value()[0];
  }

  Status forward(const std::vector<const Tensor*>& in, Tensor* y) override {
    VITRINE_RETURN_IF_ERROR(check(in, y));
    const Tensor& x = *in[0];
    const Tensor& w = *in[1];
    const Tensor* b = in.size() == 3 ? in[2] : nullptr;
    const size_t out_features = static_cast<size_t>(w.shape()[0]);
    const size_t in_features = static_cast<size_t>(w.shape()[1]);
    const size_t batch = static_cast<size_t>(x.num_elements()) / in_features;

    if (!fc_ || w.storage_id() != w_id_ || w.generation() != w_gen_ ||
        (b ? b->storage_id() : 0) != b_id_ || (b ? b->generation() : 0) != b_gen_ ||
        in_features != fc_in_ || out_features != fc_out_) {
      // (Re)pack the weights: first call, new shape, or W / b changed since the last pack.
      VITRINE_RETURN_IF_ERROR(xnn_check(
          xnn_create_fully_connected_nc_f32(in_features, out_features, in_features, out_features,
                                            w.data(), b ? b->data() : nullptr,
                                            -std::numeric_limits<float>::infinity(),
                                            std::numeric_limits<float>::infinity(), 0, nullptr,
                                            fc_.out()),
          "dense: create"));
      w_id_ = w.storage_id();
      w_gen_ = w.generation();
      b_id_ = b ? b->storage_id() : 0;
      b_gen_ = b ? b->generation() : 0;
      fc_in_ = in_features;
      fc_out_ = out_features;
      fc_batch_ = std::numeric_limits<size_t>::max();
    }
    if (batch == 0) return Status::Ok();
    if (batch != fc_batch_) {
      VITRINE_RETURN_IF_ERROR(xnn_check(
          xnn_reshape_fully_connected_nc_f32(fc_.get(), batch, ctx_->threadpool()), "dense: reshape"));
      fc_batch_ = batch;
    }
    VITRINE_RETURN_IF_ERROR(
        xnn_check(xnn_setup_fully_connected_nc_f32(fc_.get(), x.data(), y->mutable_data()),
                  "dense: setup"));
    return xnn_check(xnn_run_operator(fc_.get(), ctx_->threadpool()), "dense: run");
  }

  Status backward(const std::vector<const Tensor*>& in, const Tensor& y, const Tensor& dy,
                  const std::vector<Tensor*>& grads) override {
    VITRINE_RETURN_IF_ERROR(check(in, &y));
    if (dy.shape() != y.shape()) {
      return Status::InvalidArgument("dense: output gradient has shape " + dy.shape().to_string() +
                                     ", the output has " + y.shape().to_string());
    }
    if (grads.size() > in.size()) return Status::InvalidArgument("dense: too many gradient slots");
    for (size_t i = 0; i < grads.size(); ++i) {
      if (grads[i] && grads[i]->shape() != in[i]->shape()) {
        return Status::InvalidArgument("dense: gradient " + std::to_string(i) + " has shape " +
                                       grads[i]->shape().to_string() + ", expected " +
                                       in[i]->shape().to_string());
      }
    }
    const Tensor& x = *in[0];
    const Tensor& w = *in[1];
    const size_t n_out = static_cast<size_t>(w.shape()[0]);  // out
    const size_t n_in = static_cast<size_t>(w.shape()[1]);   // in
    const size_t batch = static_cast<size_t>(x.num_elements()) / n_in;
    Tensor* dx = grads.size() > 0 ? grads[0] : nullptr;  // (N, in)
    Tensor* dw = grads.size() > 1 ? grads[1] : nullptr;  // (out, in)
    Tensor* db = grads.size() > 2 ? grads[2] : nullptr;  // (out)

    if (batch == 0) {
      if (dw) std::fill_n(dw->mutable_data(), dw->num_elements(), 0.0f);
      if (db) std::fill_n(db->mutable_data(), db->num_elements(), 0.0f);
      return Status::Ok();
    }
    if (dx) {  // dx (N, in) = dy (N, out) · W (out, in)
      VITRINE_RETURN_IF_ERROR(matmul(batch, n_out, n_in, dy.data(), w.data(), dx->mutable_data()));
    }
    if (dw) {  // dW (out, in) = dyᵀ (out, N) · x (N, in)
      VITRINE_RETURN_IF_ERROR(dy_t_.reserve(n_out * batch * sizeof(float)));
      float* t = dy_t_.floats();
      const float* g = dy.data();
      for (size_t r = 0; r < batch; ++r)
        for (size_t c = 0; c < n_out; ++c) t[c * batch + r] = g[r * n_out + c];
      VITRINE_RETURN_IF_ERROR(matmul(n_out, batch, n_in, t, x.data(), dw->mutable_data()));
    }
    if (db) {  // db (out) = Σ_rows dy
      float* d = db->mutable_data();
      std::fill_n(d, n_out, 0.0f);
      const float* g = dy.data();
      for (size_t r = 0; r < batch; ++r)
        for (size_t c = 0; c < n_out; ++c) d[c] += g[r * n_out + c];
    }
    return Status::Ok();
  }

 private:
  // Cheap per-call checks (ranks and sizes only).
  Status check(const std::vector<const Tensor*>& in, const Tensor* y) const {
    std::vector<Shape> shapes;
    for (const Tensor* t : in) {
      if (t == nullptr || t->empty()) return Status::InvalidArgument("dense: missing input tensor");
      shapes.push_back(t->shape());
    }
    Result<Shape> out = infer_shape(shapes);
    if (!out.ok()) return out.status();
    if (y == nullptr || y->empty() || y->shape() != out.value()) {
      return Status::InvalidArgument("dense: output must have shape " + out->to_string() +
                                     (y && !y->empty() ? ", got " + y->shape().to_string() : ""));
    }
    return Status::Ok();
  }

  // c (m, n) = a (m, k) · b (k, n) through XNNPACK's batch matmul (b packed per call).
  Status matmul(size_t m, size_t k, size_t n, const float* a, const float* b, float* c) {
    if (!bmm_) {
      VITRINE_RETURN_IF_ERROR(
          xnn_check(xnn_create_batch_matrix_multiply_nc_f32(0, bmm_.out()), "dense: create matmul"));
    }
    const size_t one = 1;
    size_t workspace_size = 0;
    VITRINE_RETURN_IF_ERROR(xnn_check(
        xnn_reshape_batch_matrix_multiply_nc_f32(bmm_.get(), 1, &one, &one, m, k, n,
                                                 &workspace_size, ctx_->threadpool()),
        "dense: reshape matmul"));
    VITRINE_RETURN_IF_ERROR(workspace_.reserve(workspace_size));
    VITRINE_RETURN_IF_ERROR(xnn_check(
        xnn_setup_batch_matrix_multiply_nc_f32(bmm_.get(), workspace_.data(), a, b, c),
        "dense: setup matmul"));
    return xnn_check(xnn_run_operator(bmm_.get(), ctx_->threadpool()), "dense: run matmul");
  }

  Context* ctx_;  // not owned
  XnnOperator fc_;
  uint64_t w_id_ = 0, w_gen_ = 0, b_id_ = 0, b_gen_ = 0;
  size_t fc_in_ = 0, fc_out_ = 0, fc_batch_ = 0;
  XnnOperator bmm_;
  AlignedBuffer dy_t_;       // (out, N) transposed output gradient
  AlignedBuffer workspace_;  // XNNPACK matmul workspace
};

}  // namespace

Result<std::unique_ptr<Op>> create_DenseOp(Context* ctx, const OpAttrs& attrs) {
  if (ctx == nullptr) return Status::InvalidArgument("dense: null context");
  VITRINE_RETURN_IF_ERROR(attrs.check_known("dense", {}));
  return std::unique_ptr<Op>(new DenseOp(ctx));
}

const OpInfo kDenseInfo = VITRINE_OP_INFO(Dense)
    .inputs(2, 3)
    .infer(&infer_dense)
    .lowering(&lower_dense)
    .op_factory(&create_DenseOp)
    .gradient(&backward_dense);

Result<std::unique_ptr<Op>> create_dense(Context* ctx) { return create_DenseOp(ctx, OpAttrs{}); }

}  // namespace vitrine
