// LayerNorm over the last axis: y = (x - mean) / sqrt(var + epsilon) * gamma + beta.
//   inputs: x (..., D), gamma (D), beta (D); attrs epsilon = 1e-5, stats = 0.
//   outputs: y (..., D); with stats = 1 also mean (..., 1) and inv_std = 1 / sqrt(var + eps) (..., 1)
//   (what backward needs, and ONNX's optional outputs). Engine kernel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_layer_norm(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("layer_norm", {"epsilon", "stats"}));
  if (in[0].rank() < 1) return op_error("layer_norm", "input must have rank >= 1");
  const int64_t d = in[0].dim(-1);
  for (size_t i = 1; i < 3; ++i) {
    if (in[i].rank() != 1 || in[i][0] != d) {
      return op_error("layer_norm", std::string(i == 1 ? "gamma" : "beta") + " must be (" + std::to_string(d) + "), got " + in[i].to_string());
    }
  }
  if (!(a.number("epsilon", 1e-5) > 0)) return op_error("layer_norm", "epsilon must be > 0");
  if (a.number("stats", 0) == 0) return std::vector<Shape>{in[0]};
  std::vector<int64_t> stat = in[0].to_vector();
  stat.back() = 1;
  Shape s = Shape::make(stat).value();
  return std::vector<Shape>{in[0], s, s};
}

Status run_layer_norm(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const int64_t d = in[0]->shape().dim(-1);
  const int64_t rows = d ? in[0]->num_elements() / d : 0;
  const float eps = static_cast<float>(a.number("epsilon", 1e-5));
  const float *x = in[0]->data(), *gamma = in[1]->data(), *beta = in[2]->data();
  float* y = out[0]->mutable_data();
  float* mean_out = out.size() == 3 ? out[1]->mutable_data() : nullptr;
  float* inv_out = out.size() == 3 ? out[2]->mutable_data() : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += xr[i];
    mean /= static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(d);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    if (mean_out) {
      mean_out[r] = m;
      inv_out[r] = inv;
    }
    for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
  }
  return Status::Ok();
}

// x̂ = (x - μ)·σ⁻¹; dγ = Σ dy x̂; dβ = Σ dy; dx = σ⁻¹ (g - mean(g) - x̂ mean(g x̂)) with g = dy γ.
Status backward_layer_norm(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                           const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                           const std::vector<Tensor*>& gin) {
  if (gout.size() > 1 && ((gout[1] != nullptr) || (gout.size() > 2 && gout[2] != nullptr))) {
    return Status::Unimplemented("layer_norm: gradients through the mean / inv_std outputs");
  }
  const int64_t d = in[0]->shape().dim(-1), rows = d ? in[0]->num_elements() / d : 0;
  const float eps = static_cast<float>(a.number("epsilon", 1e-5));
  const float *x = in[0]->data(), *gamma = in[1]->data();
  float* dx = gin[0] ? gin[0]->mutable_data() : nullptr;
  float* dgamma = gin[1] ? gin[1]->mutable_data() : nullptr;
  float* dbeta = gin[2] ? gin[2]->mutable_data() : nullptr;
  if (dgamma) std::fill_n(dgamma, d, 0.0f);
  if (dbeta) std::fill_n(dbeta, d, 0.0f);
  if (!gout[0]) {
    if (dx) std::fill_n(dx, in[0]->num_elements(), 0.0f);
    return Status::Ok();
  }
  const float* dy = gout[0]->data();
  std::vector<double> xhat(static_cast<size_t>(d)), g(static_cast<size_t>(d));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += xr[i];
    mean /= static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(var + eps);
    double mean_g = 0, mean_gx = 0;
    for (int64_t i = 0; i < d; ++i) {
      const size_t k = static_cast<size_t>(i);
      xhat[k] = (xr[i] - mean) * inv;
      g[k] = double(dy[r * d + i]) * gamma[i];
      mean_g += g[k];
      mean_gx += g[k] * xhat[k];
      if (dgamma) dgamma[i] += static_cast<float>(dy[r * d + i] * xhat[k]);
      if (dbeta) dbeta[i] += dy[r * d + i];
    }
    mean_g /= static_cast<double>(d);
    mean_gx /= static_cast<double>(d);
    if (dx) {
      for (int64_t i = 0; i < d; ++i) {
        const size_t k = static_cast<size_t>(i);
        dx[r * d + i] = static_cast<float>(inv * (g[k] - mean_g - xhat[k] * mean_gx));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kLayerNormInfo = VITRINE_OP_INFO(LayerNorm)
    .inputs(3, 3)
    .infer(&infer_layer_norm)
    .kernel(&run_layer_norm)
    .gradient(&backward_layer_norm);

}  // namespace vitrine
