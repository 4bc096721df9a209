// Scaled dot-product attention: softmax(q · kᵀ · scale + mask) · v over the last two axes.
//   inputs: q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv) [, mask: additive, broadcasting to
//           (..., Lq, Lk), e.g. 0 / -1e9 for padding]; leading (batch / head) dims broadcast.
//   attrs:  scale = 1 / sqrt(D), causal = 0 (1: position i attends to j <= i; needs Lq == Lk)
//   output: (..., Lq, Dv)
// Lowered to XNNPACK as batch matmul (kᵀ via the transpose flag), multiply, add, softmax, matmul.
// Backward (engine kernel): gradients for q, k, v and the mask, through XNNPACK batch matmuls; inputs
// broadcast along batch dims get their gradients summed over those dims.
#include <algorithm>
#include <cmath>
#include <vector>

#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_attention(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("attention", {"scale", "causal"}));
  const Shape &q = in[0], &k = in[1], &v = in[2];
  if (q.rank() < 2 || k.rank() != q.rank() || v.rank() != q.rank()) {
    return op_error("attention", "q, k, v must have the same rank >= 2, got " + q.to_string() + ", " + k.to_string() +
                                     ", " + v.to_string());
  }
  if (q.dim(-1) != k.dim(-1)) return op_error("attention", "q and k must share the last dimension");
  if (k.dim(-2) != v.dim(-2)) return op_error("attention", "k and v must have the same length");
  Result<int64_t> causal = a.integer("causal", 0);
  if (!causal.ok()) return causal.status();
  if (causal.value() && q.dim(-2) != k.dim(-2)) return op_error("attention", "causal attention needs Lq == Lk");
  std::vector<int64_t> qb(q.to_vector()), kb(k.to_vector()), vb(v.to_vector());
  qb.resize(qb.size() - 2);
  kb.resize(kb.size() - 2);
  vb.resize(vb.size() - 2);
  Result<Shape> b1 = broadcast_shapes("attention", Shape::make(qb).value(), Shape::make(kb).value());
  if (!b1.ok()) return b1.status();
  Result<Shape> batch = broadcast_shapes("attention", b1.value(), Shape::make(vb).value());
  if (!batch.ok()) return batch.status();
  std::vector<int64_t> scores = batch->to_vector();
  scores.push_back(q.dim(-2));
  scores.push_back(k.dim(-2));
  if (in.size() == 4) {
    Result<Shape> m = broadcast_shapes("attention", Shape::make(scores).value(), in[3]);
    if (!m.ok() || m.value() != Shape::make(scores).value()) {
      return op_error("attention", "mask " + in[3].to_string() + " does not broadcast to the scores " +
                                       Shape::make(scores).value().to_string());
    }
  }
  std::vector<int64_t> out = batch->to_vector();
  out.push_back(q.dim(-2));
  out.push_back(v.dim(-1));
  return one_shape(out);
}

Status lower_attention(XnnLowering& l) {
  const Shape& q = l.input_shapes[0];
  const Shape& k = l.input_shapes[1];
  std::vector<int64_t> sdims = l.output_shapes[0].to_vector();
  sdims.back() = k.dim(-2);
  const Shape scores = Shape::make(sdims).value();
  Result<uint32_t> s = l.add_internal(scores);
  Result<uint32_t> scaled = l.add_internal(scores);
  Result<uint32_t> p = l.add_internal(scores);
  if (!s.ok()) return s.status();
  if (!scaled.ok()) return scaled.status();
  if (!p.ok()) return p.status();
  VITRINE_RETURN_IF_ERROR(l.check(
      xnn_define_batch_matrix_multiply(l.subgraph, l.inputs[0], l.inputs[1], s.value(), XNN_FLAG_TRANSPOSE_B),
      "define q·kᵀ"));
  const float scale = static_cast<float>(l.attrs->number("scale", 1.0 / std::sqrt(static_cast<double>(q.dim(-1)))));
  Result<Tensor> scale_t = Tensor::from_values(Shape{1}, &scale, 1);
  Result<uint32_t> scale_id = l.add_static(scale_t.value());
  if (!scale_id.ok()) return scale_id.status();
  VITRINE_RETURN_IF_ERROR(l.check(
      xnn_define_binary(l.subgraph, xnn_binary_multiply, nullptr, s.value(), scale_id.value(), scaled.value(), 0),
      "define scale"));
  uint32_t logits = scaled.value();
  if (l.attrs->integer("causal", 0).value()) {
    const int64_t len = q.dim(-2);
    Result<Tensor> mask = Tensor::zeros(Shape{len, len});
    if (!mask.ok()) return mask.status();
    for (int64_t i = 0; i < len; ++i)
      for (int64_t j = i + 1; j < len; ++j) mask->mutable_data()[i * len + j] = -INFINITY;
    Result<uint32_t> mask_id = l.add_static(mask.value());
    Result<uint32_t> masked = l.add_internal(scores);
    if (!mask_id.ok()) return mask_id.status();
    if (!masked.ok()) return masked.status();
    VITRINE_RETURN_IF_ERROR(l.check(
        xnn_define_binary(l.subgraph, xnn_binary_add, nullptr, logits, mask_id.value(), masked.value(), 0), "define causal mask"));
    logits = masked.value();
  }
  if (l.inputs.size() == 4) {
    Result<uint32_t> masked = l.add_internal(scores);
    if (!masked.ok()) return masked.status();
    VITRINE_RETURN_IF_ERROR(l.check(
        xnn_define_binary(l.subgraph, xnn_binary_add, nullptr, logits, l.inputs[3], masked.value(), 0), "define mask"));
    logits = masked.value();
  }
  VITRINE_RETURN_IF_ERROR(l.check(xnn_define_softmax(l.subgraph, logits, p.value(), 0), "define softmax"));
  return l.check(xnn_define_batch_matrix_multiply(l.subgraph, p.value(), l.inputs[2], l.outputs[0], 0), "define p·v");
}

Shape with_last_two(const std::vector<int64_t>& batch, int64_t a, int64_t b) {
  std::vector<int64_t> dims = batch;
  dims.push_back(a);
  dims.push_back(b);
  return Shape::make(dims).value();
}

// Backward. With P = softmax(S), S = scale · q kᵀ (+ causal) (+ mask), o = P v, and g = dL/do:
//   dv = Pᵀ g,  dP = g vᵀ,  dS = P ⊙ (dP - rowsum(dP ⊙ P)),  dmask = dS,  dq = scale · dS k,
//   dk = scale · dSᵀ q.
// P is recomputed (q·kᵀ through XNNPACK, softmax here); every product runs as an XNNPACK batch
// matmul over the broadcast batch. Inputs broadcast along batch dims are expanded first and their
// gradients summed back over the broadcast dims.
Status backward_attention(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in,
                          const std::vector<const Tensor*>& /*out*/, const std::vector<const Tensor*>& gout,
                          const std::vector<Tensor*>& gin) {
  if (in.size() < 3 || in.size() > 4) return op_error("attention", "backward expects 3 or 4 inputs");
  std::vector<Shape> shapes;
  for (const Tensor* t : in) {
    if (t == nullptr) return op_error("attention", "backward: missing input");
    shapes.push_back(t->shape());
  }
  Result<std::vector<Shape>> out_shapes = infer_attention(shapes, a);
  if (!out_shapes.ok()) return out_shapes.status();
  const Shape& o_shape = out_shapes.value()[0];
  auto grad_in = [&](size_t i) -> Tensor* { return i < gin.size() ? gin[i] : nullptr; };
  for (size_t i = 0; i < in.size(); ++i) {
    if (grad_in(i) && grad_in(i)->shape() != shapes[i]) {
      return op_error("attention", "gradient " + std::to_string(i) + " must be " + shapes[i].to_string() +
                                       ", got " + grad_in(i)->shape().to_string());
    }
  }
  const Tensor* g = gout.empty() ? nullptr : gout[0];
  if (g && g->shape() != o_shape) {
    return op_error("attention", "output gradient must be " + o_shape.to_string() + ", got " + g->shape().to_string());
  }
  if (!g) {
    for (size_t i = 0; i < in.size(); ++i)
      if (grad_in(i)) std::fill_n(grad_in(i)->mutable_data(), grad_in(i)->num_elements(), 0.0f);
    return Status::Ok();
  }
  Tensor* dq_t = grad_in(0);
  Tensor* dk_t = grad_in(1);
  Tensor* dv_t = grad_in(2);
  Tensor* dm_t = in.size() == 4 ? grad_in(3) : nullptr;
  if (!dq_t && !dk_t && !dv_t && !dm_t) return Status::Ok();

  const Shape &qs = shapes[0], &ks = shapes[1], &vs = shapes[2];
  const int64_t lq = qs.dim(-2), dk = qs.dim(-1), lk = ks.dim(-2), dv = vs.dim(-1);
  std::vector<int64_t> batch_dims = o_shape.to_vector();
  batch_dims.resize(batch_dims.size() - 2);
  int64_t nb = 1;
  for (int64_t v : batch_dims) nb *= v;
  const Shape qf = with_last_two(batch_dims, lq, dk), kf = with_last_two(batch_dims, lk, dk),
              vf = with_last_two(batch_dims, lk, dv), sf = with_last_two(batch_dims, lq, lk);
  auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  const size_t B = sz(nb), Lq = sz(lq), Lk = sz(lk), D = sz(dk), Dv = sz(dv);

  // Inputs at the full batch shape (expanded only where they broadcast).
  std::vector<float> q_buf, k_buf, v_buf;
  auto full = [&](size_t i, const Shape& f, std::vector<float>* buf) -> const float* {
    if (shapes[i] == f) return in[i]->data();
    buf->assign(sz(f.num_elements()), 0.0f);
    expand_to_shape(in[i]->data(), shapes[i], f, buf->data());
    return buf->data();
  };
  const float* q = full(0, qf, &q_buf);
  const float* k = full(1, kf, &k_buf);

  // P = softmax(scale · q kᵀ + causal + mask), row by row.
  std::vector<float> p(B * Lq * Lk);
  VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, B, Lq, D, Lk, q, k, p.data(), true));
  const float scale = static_cast<float>(a.number("scale", 1.0 / std::sqrt(static_cast<double>(dk))));
  const bool causal = a.integer("causal", 0).value() != 0;
  std::vector<float> mask;
  if (in.size() == 4) {
    mask.assign(p.size(), 0.0f);
    expand_to_shape(in[3]->data(), shapes[3], sf, mask.data());
  }
  for (size_t row = 0; row < B * Lq; ++row) {
    float* s = p.data() + row * Lk;
    const size_t i = row % Lq;
    float mx = -INFINITY;
    for (size_t j = 0; j < Lk; ++j) {
      s[j] *= scale;
      if (causal && j > i) s[j] = -INFINITY;
      if (!mask.empty()) s[j] += mask[row * Lk + j];
      mx = std::max(mx, s[j]);
    }
    if (mx == -INFINITY) {  // nothing to attend to: no gradient flows through this row
      std::fill_n(s, Lk, 0.0f);
      continue;
    }
    float sum = 0.0f;
    for (size_t j = 0; j < Lk; ++j) {
      s[j] = std::exp(s[j] - mx);
      sum += s[j];
    }
    for (size_t j = 0; j < Lk; ++j) s[j] /= sum;
  }

  // Writes a full-batch gradient into `dst` (shape `in_shape`), summing over broadcast dims.
  std::vector<float> tmp;
  auto target = [&](Tensor* dst, const Shape& f) -> float* {
    if (dst->shape() == f) return dst->mutable_data();
    tmp.assign(sz(f.num_elements()), 0.0f);
    return tmp.data();
  };
  auto finish = [&](Tensor* dst, const Shape& f, float* computed) {
    if (computed != dst->mutable_data()) reduce_to_shape(computed, f, dst->shape(), dst->mutable_data());
  };
  std::vector<float> t(B * Lq * Lk);
  if (dv_t) {  // dv (Lk, Dv) = Pᵀ (Lk, Lq) · g (Lq, Dv)
    transpose_batch(B, Lq, Lk, p.data(), t.data());
    float* dst = target(dv_t, vf);
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, B, Lk, Lq, Dv, t.data(), g->data(), dst, false));
    finish(dv_t, vf, dst);
  }
  if (!dq_t && !dk_t && !dm_t) return Status::Ok();
  // dS = P ⊙ (dP - rowsum(dP ⊙ P)), dP (Lq, Lk) = g (Lq, Dv) · vᵀ.
  const float* v = full(2, vf, &v_buf);
  std::vector<float> ds(B * Lq * Lk);
  VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, B, Lq, Dv, Lk, g->data(), v, ds.data(), true));
  for (size_t row = 0; row < B * Lq; ++row) {
    float* d = ds.data() + row * Lk;
    const float* pr = p.data() + row * Lk;
    float dot = 0.0f;
    for (size_t j = 0; j < Lk; ++j) dot += d[j] * pr[j];
    for (size_t j = 0; j < Lk; ++j) d[j] = pr[j] * (d[j] - dot);
  }
  if (dm_t) reduce_to_shape(ds.data(), sf, shapes[3], dm_t->mutable_data());
  for (float& e : ds) e *= scale;
  if (dq_t) {  // dq (Lq, D) = scale · dS (Lq, Lk) · k (Lk, D)
    float* dst = target(dq_t, qf);
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, B, Lq, Lk, D, ds.data(), k, dst, false));
    finish(dq_t, qf, dst);
  }
  if (dk_t) {  // dk (Lk, D) = scale · dSᵀ (Lk, Lq) · q (Lq, D)
    transpose_batch(B, Lq, Lk, ds.data(), t.data());
    float* dst = target(dk_t, kf);
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, B, Lk, Lq, D, t.data(), q, dst, false));
    finish(dk_t, kf, dst);
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kAttentionInfo = VITRINE_OP_INFO(Attention)
    .inputs(3, 4)
    .infer(&infer_attention)
    .lowering(&lower_attention)
    .gradient(&backward_attention);

}  // namespace vitrine
