// MatMul with numpy semantics for rank >= 2: (..., M, K) · (..., K, N) -> (..., M, N), leading
// (batch) dimensions broadcast. Lowered to XNNPACK's batch matrix multiply.
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_matmul(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("matmul", {}));
  const Shape &x = in[0], &y = in[1];
  if (x.rank() < 2 || y.rank() < 2) {
    return op_error("matmul", "inputs must have rank >= 2, got " + x.to_string() + " and " + y.to_string());
  }
  if (x.dim(-1) != y.dim(-2)) {
    return op_error("matmul", "inner dimensions differ: " + x.to_string() + " · " + y.to_string());
  }
  std::vector<int64_t> xb(x.to_vector()), yb(y.to_vector());
  xb.resize(xb.size() - 2);
  yb.resize(yb.size() - 2);
  Result<Shape> xs = Shape::make(xb), ys = Shape::make(yb);
  Result<Shape> batch = broadcast_shapes("matmul", xs.value(), ys.value());
  if (!batch.ok()) return batch.status();
  std::vector<int64_t> dims = batch->to_vector();
  dims.push_back(x.dim(-2));
  dims.push_back(y.dim(-1));
  return one_shape(dims);
}

Status lower_matmul(XnnLowering& l) {
  return l.check(xnn_define_batch_matrix_multiply(l.subgraph, l.inputs[0], l.inputs[1], l.outputs[0], 0),
                 "define batch matrix multiply");
}

// dA = dC · Bᵀ and dB = Aᵀ · dC per batch (XNNPACK), computed at the broadcast batch shape and
// summed back over broadcast batch dimensions.
Status backward_matmul(Context* ctx, const OpAttrs&, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  const Shape &as = in[0]->shape(), &bs = in[1]->shape(), &cs = out[0]->shape();
  const int r = cs.rank();
  const size_t m = static_cast<size_t>(as.dim(-2)), k = static_cast<size_t>(as.dim(-1)), n = static_cast<size_t>(bs.dim(-1));
  const size_t batch = static_cast<size_t>(cs.num_elements()) / (m * n);
  for (size_t i = 0; i < 2; ++i)
    if (gin[i] && !gout[0]) std::fill_n(gin[i]->mutable_data(), gin[i]->num_elements(), 0.0f);
  if (!gout[0]) return Status::Ok();
  // A and B broadcast to the full batch.
  auto expand = [&](const Tensor& t, size_t rows, size_t cols, std::vector<float>* dst) {
    std::vector<int64_t> dims = cs.to_vector();
    dims[static_cast<size_t>(r - 2)] = static_cast<int64_t>(rows);
    dims[static_cast<size_t>(r - 1)] = static_cast<int64_t>(cols);
    const Shape full = Shape::make(dims).value();
    dst->resize(static_cast<size_t>(full.num_elements()));
    expand_to_shape(t.data(), t.shape(), full, dst->data());
    return full;
  };
  std::vector<float> a_full, b_full;
  const Shape a_shape = expand(*in[0], m, k, &a_full);
  const Shape b_shape = expand(*in[1], k, n, &b_full);
  const float* dc = gout[0]->data();
  if (gin[0]) {  // dA (m, k) = dC (m, n) · Bᵀ: B is stored (k, n), i.e. "n × k transposed"
    std::vector<float> da(batch * m * k);
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, batch, m, n, k, dc, b_full.data(), da.data(), true));
    reduce_to_shape(da.data(), a_shape, as, gin[0]->mutable_data());
  }
  if (gin[1]) {  // dB (k, n) = Aᵀ (k, m) · dC (m, n)
    std::vector<float> at(batch * k * m), db(batch * k * n);
    transpose_batch(batch, m, k, a_full.data(), at.data());
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, batch, k, m, n, at.data(), dc, db.data(), false));
    reduce_to_shape(db.data(), b_shape, bs, gin[1]->mutable_data());
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kMatMulInfo = VITRINE_OP_INFO(MatMul)
    .inputs(2, 2)
    .infer(&infer_matmul)
    .lowering(&lower_matmul)
    .gradient(&backward_matmul);

}  // namespace vitrine
