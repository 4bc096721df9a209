// Dropout: the identity at inference. While training (attr training = 1, set by the trainer) each
// element is kept with probability 1 - rate and scaled by 1 / (1 - rate); the mask is a pure
// function of (attr seed, attr step, element index), so backward recomputes exactly the same one.
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_dropout(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("dropout", {"rate", "seed", "training", "step"}));
  const double rate = a.number("rate", 0.5);
  if (!(rate >= 0 && rate < 1)) return op_error("dropout", "rate must be in [0, 1)");
  return std::vector<Shape>{in[0]};
}

Status lower_dropout(XnnLowering& l) {
  return l.check(xnn_define_copy(l.subgraph, l.inputs[0], l.outputs[0], 0), "define copy");
}

// A uniform number in [0, 1) for element i at a training step (splitmix64 of the mixed key).
inline double keep_draw(const OpAttrs& a, int64_t i) {
  uint64_t z = static_cast<uint64_t>(a.number("seed", 0)) * 0x9E3779B97F4A7C15ull +
               static_cast<uint64_t>(a.number("step", 0)) * 0xD1B54A32D192ED03ull + static_cast<uint64_t>(i);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

Status train_forward_dropout(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                             const std::vector<Tensor*>& out) {
  const double rate = a.number("rate", 0.5);
  const float scale = static_cast<float>(1.0 / (1.0 - rate));
  const float* x = in[0]->data();
  float* y = out[0]->mutable_data();
  for (int64_t i = 0; i < in[0]->num_elements(); ++i) y[i] = keep_draw(a, i) >= rate ? x[i] * scale : 0.0f;
  return Status::Ok();
}

Status backward_dropout(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in,
                        const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                        const std::vector<Tensor*>& gin) {
  if (a.number("training", 0) == 0) return backward_copy(ctx, a, in, out, gout, gin);
  if (!gin[0]) return Status::Ok();
  const double rate = a.number("rate", 0.5);
  const float scale = static_cast<float>(1.0 / (1.0 - rate));
  float* dx = gin[0]->mutable_data();
  for (int64_t i = 0; i < in[0]->num_elements(); ++i) {
    dx[i] = gout[0] && keep_draw(a, i) >= rate ? gout[0]->data()[i] * scale : 0.0f;
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kDropoutInfo = VITRINE_OP_INFO(Dropout)
    .inputs(1, 1)
    .infer(&infer_dropout)
    .lowering(&lower_dropout)
    .gradient(&backward_dropout)
    .training_forward(&train_forward_dropout);

}  // namespace vitrine
