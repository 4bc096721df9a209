// Dense (fully connected): y = x · Wᵀ + b. Validation, forward and backward.
// Forward: XNNPACK's fully-connected, except one row against a large weight in wasm (a stream of
// small models scoring one frame): a matrix-vector kernel reading W's rows as they are stored,
// four at a time (no packing, one pass over the weights). The kernel takes any row count.
#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#include <pthreadpool.h>

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

// y[r] = b[r] + Σ_k x[k] · W[r, k] for rows r0 .. r0 + 3 of W (row-major (N, K)).
inline void dot4(const float* x, const float* w, int64_t k, const float* b, int64_t r0, float* y) {
  const float* w0 = w + r0 * k;
  const float* w1 = w0 + k;
  const float* w2 = w1 + k;
  const float* w3 = w2 + k;
  int64_t i = 0;
  float s[4] = {0, 0, 0, 0};
#if defined(__wasm_simd128__)
  v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 4 <= k; i += 4) {
    const v128_t xv = wasm_v128_load(x + i);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(xv, wasm_v128_load(w0 + i)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(xv, wasm_v128_load(w1 + i)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(xv, wasm_v128_load(w2 + i)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(xv, wasm_v128_load(w3 + i)));
  }
  const v128_t acc[4] = {a0, a1, a2, a3};
  for (int j = 0; j < 4; ++j) {
    s[j] = wasm_f32x4_extract_lane(acc[j], 0) + wasm_f32x4_extract_lane(acc[j], 1) + wasm_f32x4_extract_lane(acc[j], 2) +
           wasm_f32x4_extract_lane(acc[j], 3);
  }
#endif
  for (; i < k; ++i) {
    s[0] += x[i] * w0[i];
    s[1] += x[i] * w1[i];
    s[2] += x[i] * w2[i];
    s[3] += x[i] * w3[i];
  }
  for (int j = 0; j < 4; ++j) y[r0 + j] = s[j] + (b ? b[r0 + j] : 0.0f);
}

// Rows (outputs) c0 .. c0 + count of y = b + W · x for each of `rows` inputs: a tile of the
// matrix-vector kernel (tiles start at multiples of 4, so every output sums in the same order
// whatever the tiling).
struct MatvecJob {
  const float* x;
  const float* w;
  const float* b;
  float* y;
  int64_t rows, n, k;
};

void matvec_tile(void* context, size_t c0, size_t count) {
  const MatvecJob& j = *static_cast<const MatvecJob*>(context);
  const int64_t end = static_cast<int64_t>(c0 + count);
  for (int64_t r = 0; r < j.rows; ++r) {
    const float* xr = j.x + r * j.k;
    float* yr = j.y + r * j.n;
    int64_t c = static_cast<int64_t>(c0);
    for (; c + 4 <= end; c += 4) dot4(xr, j.w, j.k, j.b, c, yr);
    for (; c < end; ++c) {
      float s = j.b ? j.b[c] : 0.0f;
      for (int64_t i = 0; i < j.k; ++i) s += xr[i] * j.w[c * j.k + i];
      yr[c] = s;
    }
  }
}

// Whether a node runs XNNPACK's fully-connected (see the top): not for one row against a large
// weight in wasm, where the matrix-vector kernel reads the weights once, unpacked.
bool dense_lowers(const OpAttrs&, const std::vector<Shape>& in) {
#if defined(__wasm_simd128__)
  const int64_t k = in[1][1], n = in[1][0];
  return !(in[0].num_elements() == k && k * n >= (int64_t{1} << 16));
#else
  (void)in;
  return true;
#endif
}

Status run_dense(Context* ctx, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const int64_t n = in[1]->shape()[0], k = in[1]->shape()[1];
  const int64_t rows = in[0]->num_elements() / k;
  const float* x = in[0]->data();
  const float* w = in[1]->data();
  const float* b = in.size() > 2 ? in[2]->data() : nullptr;
  float* y = out[0]->mutable_data();
  if (rows > 4) {  // a batch: XNNPACK's matrix multiply against W (N, K) as stored, then the bias
    VITRINE_RETURN_IF_ERROR(BatchMatmul(ctx, "dense").run(1, static_cast<size_t>(rows), static_cast<size_t>(k),
                                                          static_cast<size_t>(n), x, w, y, true));
    if (b)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < n; ++c) y[r * n + c] += b[c];
    return Status::Ok();
  }
  MatvecJob job{x, w, b, y, rows, n, k};
  // Weights of 1 MB or more are split over the context's threads in tiles of whole 4-row groups
  // (smaller ones, a stream's per-frame heads, stay on the calling thread: a dispatch costs more).
  const int threads = ctx ? ctx->num_threads() : 1;
  if (threads > 1 && n * k >= (int64_t{1} << 18)) {
    const size_t tile = std::max<size_t>(64, (static_cast<size_t>(n) / (4 * static_cast<size_t>(threads)) + 3) / 4 * 4);
    pthreadpool_parallelize_1d_tile_1d(ctx->threadpool(), &matvec_tile, &job, static_cast<size_t>(n), tile, 0);
  } else {
    matvec_tile(&job, 0, static_cast<size_t>(n));
  }
  return Status::Ok();
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
    .lowering_if(&dense_lowers)
    .kernel(&run_dense)
    .gradient(&backward_dense);

}  // namespace vitrine
