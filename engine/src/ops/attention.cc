// Scaled dot-product attention: softmax(q · kᵀ · scale + mask) · v over the last two axes.
//   inputs: q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv) [, mask: additive, broadcasting to
//           (..., Lq, Lk), e.g. 0 / -1e9 for padding]; leading (batch / head) dims broadcast.
//   attrs:  scale = 1 / sqrt(D), causal = 0 (1: position i attends to j <= i; needs Lq == Lk)
//   output: (..., Lq, Dv)
// Lowered to XNNPACK as batch matmul (kᵀ via the transpose flag), multiply, add, softmax, matmul.
#include <cmath>

#include "../graph/xnn_lowering.h"
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

}  // namespace

const OpInfo kAttentionInfo{OpType::kAttention, 33, "attention", 3, 4, &infer_attention, &lower_attention, nullptr};

}  // namespace vitrine
