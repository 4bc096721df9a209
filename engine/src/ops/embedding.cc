// Embedding lookups (one family, one file), engine kernels (XNNPACK has no gather):
//   embedding:     ids (...), table (V, D) -> (..., D); row ids[i] of the table.
//   embedding_bag: ids (N, L), table (V, D) [, weights (N, L)] -> (N, D); attr mode = "mean"|"sum".
//                  Negative ids are padding and ignored; a bag with no valid id gives zeros.
// Ids are float tensors holding integers (exact up to 2^24); a non-integer or out-of-range id is
// an OutOfRange error naming its position.
#include <cmath>
#include <cstring>

#include "op_util.h"

namespace vitrine {
namespace {

Result<int64_t> checked_id(const char* op, float value, int64_t vocab, int64_t position, bool allow_padding) {
  if (!(value == std::floor(value)) || std::fabs(value) > 16777216.0f) {
    return Status::OutOfRange(std::string(op) + ": id at position " + std::to_string(position) + " is not an integer (" +
                              std::to_string(value) + ")");
  }
  const int64_t id = static_cast<int64_t>(value);
  if (id < 0 && allow_padding) return int64_t{-1};
  if (id < 0 || id >= vocab) {
    return Status::OutOfRange(std::string(op) + ": id " + std::to_string(id) + " at position " + std::to_string(position) +
                              " is outside the table's " + std::to_string(vocab) + " rows");
  }
  return id;
}

Result<std::vector<Shape>> infer_embedding(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("embedding", {}));
  if (in[1].rank() != 2) return op_error("embedding", "table must be (V, D), got " + in[1].to_string());
  std::vector<int64_t> dims = in[0].to_vector();
  dims.push_back(in[1][1]);
  return one_shape(dims);
}

Status run_embedding(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& ids = *in[0];
  const Tensor& table = *in[1];
  const int64_t vocab = table.shape()[0], dim = table.shape()[1];
  float* y = out[0]->mutable_data();
  for (int64_t i = 0; i < ids.num_elements(); ++i) {
    Result<int64_t> id = checked_id("embedding", ids.data()[i], vocab, i, false);
    if (!id.ok()) return id.status();
    std::memcpy(y + i * dim, table.data() + id.value() * dim, static_cast<size_t>(dim) * sizeof(float));
  }
  return Status::Ok();
}

Result<std::vector<Shape>> infer_bag(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("embedding_bag", {"mode"}));
  const std::string mode = a.string("mode", "mean");
  if (mode != "mean" && mode != "sum") return op_error("embedding_bag", "mode must be 'mean' or 'sum'");
  if (in[0].rank() != 2) return op_error("embedding_bag", "ids must be (N, L), got " + in[0].to_string());
  if (in[1].rank() != 2) return op_error("embedding_bag", "table must be (V, D), got " + in[1].to_string());
  if (in.size() == 3 && in[2] != in[0]) {
    return op_error("embedding_bag", "weights must have the ids' shape " + in[0].to_string() + ", got " + in[2].to_string());
  }
  return one_shape({in[0][0], in[1][1]});
}

Status run_bag(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Tensor& ids = *in[0];
  const Tensor& table = *in[1];
  const float* weights = in.size() == 3 ? in[2]->data() : nullptr;
  const bool mean = a.string("mode", "mean") == "mean";
  const int64_t n = ids.shape()[0], len = ids.shape()[1], vocab = table.shape()[0], dim = table.shape()[1];
  float* y = out[0]->mutable_data();
  std::memset(y, 0, static_cast<size_t>(n * dim) * sizeof(float));
  for (int64_t b = 0; b < n; ++b) {
    float* row = y + b * dim;
    double total = 0;
    for (int64_t j = 0; j < len; ++j) {
      Result<int64_t> id = checked_id("embedding_bag", ids.data()[b * len + j], vocab, b * len + j, true);
      if (!id.ok()) return id.status();
      if (id.value() < 0) continue;
      const float w = weights ? weights[b * len + j] : 1.0f;
      if (!std::isfinite(w)) return Status::InvalidArgument("embedding_bag: weight at position " + std::to_string(b * len + j) + " is not finite");
      const float* e = table.data() + id.value() * dim;
      for (int64_t d = 0; d < dim; ++d) row[d] += w * e[d];
      total += w;
    }
    if (mean && total != 0) {
      const float inv = static_cast<float>(1.0 / total);
      for (int64_t d = 0; d < dim; ++d) row[d] *= inv;
    }
  }
  return Status::Ok();
}

// dtable[id] += dy row, for the looked-up rows only.
Status add_embedding_rows(const Tensor& ids, const Tensor& dy, float* dt, int64_t vocab, int64_t dim) {
  for (int64_t i = 0; i < ids.num_elements(); ++i) {
    Result<int64_t> id = checked_id("embedding", ids.data()[i], vocab, i, false);
    if (!id.ok()) return id.status();
    const float* g = dy.data() + i * dim;
    float* row = dt + id.value() * dim;
    for (int64_t d = 0; d < dim; ++d) row[d] += g[d];
  }
  return Status::Ok();
}

// The factor of bag b's rows: 1 / Σ_j w_j for a mean bag (1 when it has no valid id), else 1.
Result<float> bag_scale(const Tensor& ids, const float* weights, int64_t vocab, int64_t b, bool mean) {
  const int64_t len = ids.shape()[1];
  double total = 0;
  for (int64_t j = 0; j < len; ++j) {
    Result<int64_t> id = checked_id("embedding_bag", ids.data()[b * len + j], vocab, b * len + j, true);
    if (!id.ok()) return id.status();
    if (id.value() >= 0) total += weights ? weights[b * len + j] : 1.0f;
  }
  return mean && total != 0 ? static_cast<float>(1.0 / total) : 1.0f;
}

// dtable[e_j] += w_j dy_b (/ Σ_j w_j for mean), for the looked-up rows only.
Status add_bag_rows(const OpAttrs& a, const std::vector<const Tensor*>& in, const Tensor& dy, float* dt) {
  const Tensor& ids = *in[0];
  const float* weights = in.size() == 3 ? in[2]->data() : nullptr;
  const bool mean = a.string("mode", "mean") == "mean";
  const int64_t n = ids.shape()[0], len = ids.shape()[1], vocab = in[1]->shape()[0], dim = in[1]->shape()[1];
  for (int64_t b = 0; b < n; ++b) {
    VITRINE_ASSIGN_OR_RETURN(const float scale, bag_scale(ids, weights, vocab, b, mean));
    const float* g = dy.data() + b * dim;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t id = static_cast<int64_t>(ids.data()[b * len + j]);
      if (id < 0) continue;
      const float w = (weights ? weights[b * len + j] : 1.0f) * scale;
      float* row = dt + id * dim;
      for (int64_t d = 0; d < dim; ++d) row[d] += w * g[d];
    }
  }
  return Status::Ok();
}

Status backward_embedding(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                          const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                          const std::vector<Tensor*>& gin) {
  if (gin.size() < 2 || !gin[1]) return Status::Ok();
  float* dt = gin[1]->mutable_data();
  std::fill_n(dt, gin[1]->num_elements(), 0.0f);
  if (!gout[0]) return Status::Ok();
  return add_embedding_rows(*in[0], *gout[0], dt, in[1]->shape()[0], in[1]->shape()[1]);
}

// y_b = Σ_j w_j e_j (/ Σ_j w_j for mean). dtable[e_j] += w_j dy_b (/ Σw); dw_j = dy_b · e_j
// (sum) or dy_b · (e_j - y_b) / Σw (mean).
Status backward_bag(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                    const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                    const std::vector<Tensor*>& gin) {
  const Tensor& ids = *in[0];
  const Tensor& table = *in[1];
  const float* weights = in.size() == 3 ? in[2]->data() : nullptr;
  const bool mean = a.string("mode", "mean") == "mean";
  const int64_t n = ids.shape()[0], len = ids.shape()[1], vocab = table.shape()[0], dim = table.shape()[1];
  float* dt = gin.size() > 1 && gin[1] ? gin[1]->mutable_data() : nullptr;
  float* dw = gin.size() > 2 && gin[2] ? gin[2]->mutable_data() : nullptr;
  if (dt) std::fill_n(dt, gin[1]->num_elements(), 0.0f);
  if (dw) std::fill_n(dw, gin[2]->num_elements(), 0.0f);
  if (!gout[0]) return Status::Ok();
  if (dt) VITRINE_RETURN_IF_ERROR(add_bag_rows(a, in, *gout[0], dt));
  if (!dw) return Status::Ok();
  for (int64_t b = 0; b < n; ++b) {
    VITRINE_ASSIGN_OR_RETURN(const float scale, bag_scale(ids, weights, vocab, b, mean));
    const float* g = gout[0]->data() + b * dim;
    const float* y = out[0]->data() + b * dim;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t id = static_cast<int64_t>(ids.data()[b * len + j]);
      if (id < 0) continue;
      const float* e = table.data() + id * dim;
      double acc = 0;
      for (int64_t d = 0; d < dim; ++d) acc += double(g[d]) * (mean ? e[d] - y[d] : e[d]);
      dw[b * len + j] = static_cast<float>(acc) * scale;
    }
  }
  return Status::Ok();
}

// Sparse table gradients (OpInfo::sparse_table_grad): only the looked-up rows.
Status sparse_embedding_grad(const OpAttrs&, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dy,
                             Tensor* table_grad) {
  if (in.size() < 2 || !table_grad || table_grad->shape() != in[1]->shape()) {
    return Status::InvalidArgument("embedding: the sparse gradient must have the table's shape");
  }
  return add_embedding_rows(*in[0], dy, table_grad->mutable_data(), in[1]->shape()[0], in[1]->shape()[1]);
}

Status sparse_bag_grad(const OpAttrs& attrs, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dy,
                       Tensor* table_grad) {
  if (in.size() < 2 || !table_grad || table_grad->shape() != in[1]->shape()) {
    return Status::InvalidArgument("embedding_bag: the sparse gradient must have the table's shape");
  }
  return add_bag_rows(attrs, in, dy, table_grad->mutable_data());
}

}  // namespace

const OpInfo kEmbeddingInfo = VITRINE_OP_INFO(Embedding)
    .inputs(2, 2)
    .infer(&infer_embedding)
    .kernel(&run_embedding)
    .gradient(&backward_embedding)
    .sparse_gradient(1, &sparse_embedding_grad)
    .not_differentiable(1u);  // ids
const OpInfo kEmbeddingBagInfo = VITRINE_OP_INFO(EmbeddingBag)
    .inputs(2, 3)
    .infer(&infer_bag)
    .kernel(&run_bag)
    .gradient(&backward_bag)
    .sparse_gradient(1, &sparse_bag_grad)
    .not_differentiable(1u);  // ids

}  // namespace vitrine
