// LogSoftmax over the last axis: y = x - max - log(Σ exp(x - max)), stable for any logits.
// input x (..., K); attr axis = -1 (last axis only). Engine kernel.
#include <algorithm>
#include <cmath>

#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_log_softmax(const std::vector<Shape>& in, const OpAttrs& a) {
  return infer_last_axis_op("log_softmax", in, a);
}

Status run_log_softmax(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const int64_t k = in[0]->shape().dim(-1);
  const int64_t rows = k ? in[0]->num_elements() / k : 0;
  const float* x = in[0]->data();
  float* y = out[0]->mutable_data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * k;
    float mx = -INFINITY;
    for (int64_t i = 0; i < k; ++i) mx = std::max(mx, xr[i]);
    double sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += std::exp(static_cast<double>(xr[i] - mx));
    const float lse = mx + static_cast<float>(std::log(sum));
    for (int64_t i = 0; i < k; ++i) y[r * k + i] = xr[i] - lse;
  }
  return Status::Ok();
}

// dx = dy - softmax(x) Σ_row dy, with softmax(x) = exp(y).
Status backward_log_softmax(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                            const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                            const std::vector<Tensor*>& gin) {
  const int64_t k = in[0]->shape().dim(-1), rows = k ? in[0]->num_elements() / k : 0;
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const float *y = out[0]->data(), *dy = gout[0]->data();
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += dy[r * k + i];
    for (int64_t i = 0; i < k; ++i) dx[r * k + i] = dy[r * k + i] - std::exp(y[r * k + i]) * static_cast<float>(sum);
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kLogSoftmaxInfo = VITRINE_OP_INFO(LogSoftmax)
    .inputs(1, 1)
    .infer(&infer_log_softmax)
    .kernel(&run_log_softmax)
    .gradient(&backward_log_softmax);

}  // namespace vitrine
