// Softmax over the last axis. input x (..., K); attr axis = -1 (only the last axis is supported);
// output: same shape, each row sums to 1.
#include "xnn_lowering.h"
#include <algorithm>

#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_softmax(const std::vector<Shape>& in, const OpAttrs& a) {
  return infer_last_axis_op("softmax", in, a);
}

Status lower_softmax(XnnLowering& l) {
  return l.check(xnn_define_softmax(l.subgraph, l.inputs[0], l.outputs[0], 0), "define softmax");
}

// dx = y ⊙ (dy - Σ_row dy ⊙ y)
Status backward_softmax(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                        const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                        const std::vector<Tensor*>& gin) {
  const int64_t k = in[0]->shape().dim(-1), rows = k ? in[0]->num_elements() / k : 0;
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const float *y = out[0]->data(), *dy = gout[0]->data();
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0;
    for (int64_t i = 0; i < k; ++i) dot += double(dy[r * k + i]) * y[r * k + i];
    for (int64_t i = 0; i < k; ++i) dx[r * k + i] = y[r * k + i] * (dy[r * k + i] - static_cast<float>(dot));
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kSoftmaxInfo = VITRINE_OP_INFO(Softmax)
    .inputs(1, 1)
    .infer(&infer_softmax)
    .lowering(&lower_softmax)
    .gradient(&backward_softmax);

}  // namespace vitrine
