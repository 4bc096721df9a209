// Helpers for backward kernels: broadcast reduction and XNNPACK-backed matrix products.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "../core/xnn_util.h"
#include "op_util.h"

namespace vitrine {

// Calls f(i, pos) for every element i of shape `out` (row-major) with pos, the offset of the
// element of shape `in` (numpy-broadcast to `out`) that it reads.
template <typename F>
inline void for_each_broadcast(const Shape& in, const Shape& out, F&& f) {
  const int r = out.rank();
  std::vector<int64_t> in_stride(static_cast<size_t>(r), 0);
  int64_t stride = 1;
  for (int d = r - 1; d >= 0; --d) {
    const int di = d - (r - in.rank());
    if (di >= 0) {
      in_stride[static_cast<size_t>(d)] = in[di] == 1 ? 0 : stride;
      stride *= in[di];
    }
  }
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  const int64_t total = out.num_elements();
  int64_t pos = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(i, pos);
    for (int d = r - 1; d >= 0; --d) {
      const size_t du = static_cast<size_t>(d);
      ++idx[du];
      pos += in_stride[du];
      if (idx[du] < out[d]) break;
      pos -= in_stride[du] * idx[du];
      idx[du] = 0;
    }
  }
}

// Calls f(i, pos) for every element i of shape `out` (row-major) with pos[k], the offset of the
// element of shape ins[k] (numpy-broadcast to `out`) that it reads, for K inputs at once (no
// per-element index arrays).
template <size_t K, typename F>
inline void for_each_broadcast_k(const std::array<Shape, K>& ins, const Shape& out, F&& f) {
  const int r = out.rank();
  std::array<std::vector<int64_t>, K> stride;
  for (size_t k = 0; k < K; ++k) {
    stride[k].assign(static_cast<size_t>(r), 0);
    int64_t s = 1;
    for (int d = r - 1; d >= 0; --d) {
      const int di = d - (r - ins[k].rank());
      if (di >= 0) {
        stride[k][static_cast<size_t>(d)] = ins[k][di] == 1 ? 0 : s;
        s *= ins[k][di];
      }
    }
  }
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  std::array<int64_t, K> pos{};
  const int64_t total = out.num_elements();
  for (int64_t i = 0; i < total; ++i) {
    f(i, pos);
    for (int d = r - 1; d >= 0; --d) {
      const size_t du = static_cast<size_t>(d);
      ++idx[du];
      for (size_t k = 0; k < K; ++k) pos[k] += stride[k][du];
      if (idx[du] < out[d]) break;
      for (size_t k = 0; k < K; ++k) pos[k] -= stride[k][du] * idx[du];
      idx[du] = 0;
    }
  }
}

// dst (shape `in`) = Σ of g (shape `out`) over the dimensions along which `in` was broadcast to
// `out` (numpy rules). Overwrites dst.
inline void reduce_to_shape(const float* g, const Shape& out, const Shape& in, float* dst) {
  std::memset(dst, 0, static_cast<size_t>(in.num_elements()) * sizeof(float));
  for_each_broadcast(in, out, [&](int64_t i, int64_t pos) { dst[pos] += g[i]; });
}

// The gradient buffer of a one-input op's backward, or null when there is nothing more to do: no
// gradient was asked for (gin[0] null), or the output gradient is null, which means zero (dx is
// then zeroed here).
inline float* input_gradient(const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  if (!gin[0]) return nullptr;
  float* dx = gin[0]->mutable_data();
  if (gout[0]) return dx;
  std::fill_n(dx, gin[0]->num_elements(), 0.0f);
  return nullptr;
}

// c[b] (m, n) = a[b] (m, k) · B[b] for b in [0, batch), with B[b] stored (k, n), or stored (n, k)
// when transpose_b. All matrices contiguous, one after the other. Runs XNNPACK's batch matrix
// multiply on the context's threads; inputs must be readable kTensorPadding bytes past their end
// (tensor storage and AlignedBuffer are).
class BatchMatmul {
 public:
  BatchMatmul(Context* ctx, const char* op) : pool_(ctx ? ctx->threadpool() : nullptr), op_(op) {}

  Status run(size_t batch, size_t m, size_t k, size_t n, const float* a, const float* b, float* c,
             bool transpose_b) {
    if (batch == 0 || m == 0 || n == 0) return Status::Ok();
    if (k == 0) {
      std::fill_n(c, batch * m * n, 0.0f);
      return Status::Ok();
    }
    XnnOperator& mm = transpose_b ? transposed_ : plain_;
    if (!mm) {
      VITRINE_RETURN_IF_ERROR(xnn_check(
          xnn_create_batch_matrix_multiply_nc_f32(transpose_b ? XNN_FLAG_TRANSPOSE_B : 0, mm.out()), what("create")));
    }
    size_t workspace_size = 0;
    VITRINE_RETURN_IF_ERROR(xnn_check(
        xnn_reshape_batch_matrix_multiply_nc_f32(mm.get(), 1, &batch, &batch, m, k, n, &workspace_size, pool_),
        what("reshape")));
    VITRINE_RETURN_IF_ERROR(workspace_.reserve(workspace_size));
    VITRINE_RETURN_IF_ERROR(
        xnn_check(xnn_setup_batch_matrix_multiply_nc_f32(mm.get(), workspace_.data(), a, b, c), what("setup")));
    return xnn_check(xnn_run_operator(mm.get(), pool_), what("run"));
  }

 private:
  const char* what(const char* step) {
    what_ = std::string(op_) + " backward: matmul " + step;
    return what_.c_str();
  }

  pthreadpool_t pool_;
  const char* op_;
  std::string what_;
  XnnOperator plain_, transposed_;
  AlignedBuffer workspace_;
};

// c[b] (m, n) = a[b] (m, k) · op(b[b]) for b in [0, batch), op(B) = B (k, n) or, with
// transpose_b, Bᵀ of a B stored (n, k). For callers whose inputs are not padded tensor storage
// (plain vectors): they are copied into padded scratch first, since XNNPACK may read past the end.
inline Status batch_matmul(Context* ctx, size_t batch, size_t m, size_t k, size_t n, const float* a, const float* b,
                           float* c, bool transpose_b) {
  AlignedBuffer pa, pb;
  VITRINE_RETURN_IF_ERROR(pa.reserve(batch * m * k * sizeof(float)));
  VITRINE_RETURN_IF_ERROR(pb.reserve(batch * k * n * sizeof(float)));
  std::memcpy(pa.data(), a, batch * m * k * sizeof(float));
  std::memcpy(pb.data(), b, batch * k * n * sizeof(float));
  return BatchMatmul(ctx, "matmul").run(batch, m, k, n, pa.floats(), pb.floats(), c, transpose_b);
}

// dst (cols, rows) = src (rows, cols)ᵀ for each of `batch` matrices.
inline void transpose_batch(size_t batch, size_t rows, size_t cols, const float* src, float* dst) {
  for (size_t b = 0; b < batch; ++b)
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) dst[(b * cols + c) * rows + r] = src[(b * rows + r) * cols + c];
}

// dst (shape `out`) = src (shape `in`, numpy-broadcast to `out`).
inline void expand_to_shape(const float* src, const Shape& in, const Shape& out, float* dst) {
  for_each_broadcast(in, out, [&](int64_t i, int64_t pos) { dst[i] = src[pos]; });
}

// Backward of ops that only move or relabel data element for element (reshape, flatten, identity,
// dropout at inference): dx = dy.
inline Status backward_copy(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                            const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                            const std::vector<Tensor*>& gin) {
  if (!gin[0]) return Status::Ok();
  if (!gout[0]) std::fill_n(gin[0]->mutable_data(), in[0]->num_elements(), 0.0f);
  else std::memcpy(gin[0]->mutable_data(), gout[0]->data(), static_cast<size_t>(in[0]->num_elements()) * sizeof(float));
  return Status::Ok();
}

}  // namespace vitrine
