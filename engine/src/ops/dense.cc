// Dense (fully connected): y = x · Wᵀ + b. Validation, forward and backward.
#include <algorithm>
#include <cmath>
#include <vector>

#include "xnn_lowering.h"
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
  // Tensors' storage is padded as XNNPACK needs, so they go to the matmul uncopied.
  const float* dy = gout[0]->data();
  BatchMatmul mm(ctx, "dense");
  if (gin[0]) VITRINE_RETURN_IF_ERROR(mm.run(1, batch, n_out, n_in, dy, in[1]->data(), gin[0]->mutable_data(), false));
  if (gin.size() > 1 && gin[1]) {
    AlignedBuffer dyt;  // dyᵀ (out, N)
    VITRINE_RETURN_IF_ERROR(dyt.reserve(n_out * batch * sizeof(float)));
    transpose_batch(1, batch, n_out, dy, dyt.floats());
    VITRINE_RETURN_IF_ERROR(mm.run(1, n_out, batch, n_in, dyt.floats(), in[0]->data(), gin[1]->mutable_data(), false));
  }
  if (gin.size() > 2 && gin[2]) {
    float* db = gin[2]->mutable_data();
    std::fill_n(db, n_out, 0.0f);
    for (size_t r = 0; r < batch; ++r)
      for (size_t c = 0; c < n_out; ++c) db[c] += dy[r * n_out + c];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kDenseInfo = VITRINE_OP_INFO(Dense)
    .inputs(2, 3)
    .infer(&infer_dense)
    .lowering(&lower_dense)
    .gradient(&backward_dense);

}  // namespace vitrine
