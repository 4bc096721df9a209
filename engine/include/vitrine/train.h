// Training: losses, optimizers and the Trainer that runs forward, backward and updates on a Graph.
//
// The parameters are the graph's constants that feed a differentiable input of some node (weights,
// biases, embedding tables, layer-norm scales); running statistics, sequence lengths and ids are
// not. They are updated in place, so an Executor built on the same graph after training (or
// rebuilt: packed weights are refreshed when a parameter changes) sees the new values.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/graph.h"

namespace vitrine {

// ---- losses -----------------------------------------------------------------------------------

enum class LossType {
  kSoftmaxCrossEntropy,  // logits (N, C); target class ids (N) or probabilities (N, C)
  kBinaryCrossEntropy,   // logits (N, C) (multi-label); targets (N, C) in [0, 1]
  kMeanSquaredError,     // prediction and target of the same shape
  kBpr,                  // scores (N, 2): [positive, negative]; target ignored (may be empty)
  kMultinomial,          // logits (N, I); target counts or weights (N, I) (Mult-VAE / Mult-DAE)
  kSampledSoftmax,       // logits (N, 1 + S): the positive item in column 0, S sampled negatives;
                         // target empty, or (N, 1 + S) log sampling probabilities (log-Q correction:
                         // subtracted from the logits before the softmax)
};

struct LossOptions {
  LossType type = LossType::kSoftmaxCrossEntropy;
  double label_smoothing = 0.0;  // softmax cross-entropy only, in [0, 1)
};

// Parses "softmax_cross_entropy" | "binary_cross_entropy" | "mse" | "bpr" | "multinomial" |
// "sampled_softmax".
Result<LossType> parse_loss(const std::string& name);

// The mean loss over the batch, and dL/d(prediction) in `grad` (shaped like prediction) when non-null.
Result<double> compute_loss(const LossOptions& options, const Tensor& prediction, const Tensor& target, Tensor* grad);

// KL(N(mu, exp(logvar)) || N(0, 1)) averaged over rows, with gradients (for VAEs).
Result<double> kl_normal(const Tensor& mu, const Tensor& logvar, Tensor* grad_mu, Tensor* grad_logvar);

// ---- optimizers -------------------------------------------------------------------------------

struct OptimizerOptions {
  std::string type = "adam";     // "sgd" | "adam" | "adamw"
  double learning_rate = 1e-3;
  double momentum = 0.0;         // sgd
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // adam, adamw
  double weight_decay = 0.0;     // sgd/adam: added to the gradient (L2); adamw: decoupled
  double clip_norm = 0.0;        // > 0: scale gradients so their global L2 norm is at most this
  std::string schedule = "constant";  // "constant" | "cosine" (to 0 over total_steps) | "step"
  int64_t warmup_steps = 0;      // linear warm-up from 0
  int64_t total_steps = 0;       // cosine
  int64_t step_size = 0;         // "step": multiply by gamma every step_size steps
  double gamma = 0.1;
};

// The learning rate at (0-based) step `step` under the options' schedule.
double scheduled_learning_rate(const OptimizerOptions& options, int64_t step);

// ---- trainer ----------------------------------------------------------------------------------

struct TrainerOptions {
  LossOptions loss;
  OptimizerOptions optimizer;
  int output = 0;  // which graph output the loss reads
};

class Trainer {
 public:
  // Keeps `graph` (shared; its parameters are updated in place) and `ctx` (not owned: must outlive
  // the trainer). Fails naming an op without a backward kernel on the path to a parameter.
  static Result<std::unique_ptr<Trainer>> create(std::shared_ptr<Graph> graph, Context* ctx, TrainerOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Parameters (graph constant names) in graph order; frozen ones are listed too.
  std::vector<std::string> parameter_names() const;
  // Freezes (or unfreezes) every parameter whose name starts with `prefix`; NotFound if none does.
  Status set_frozen(const std::string& prefix, bool frozen);

  // Forward + loss + backward + one optimizer update. Returns the batch's mean loss.
  Result<double> step(const std::vector<Tensor>& inputs, const Tensor& target);
  // Forward + loss + backward, adding the gradients to the accumulator (micro-batches) ...
  Result<double> accumulate(const std::vector<Tensor>& inputs, const Tensor& target);
  // ... and one update with the mean of the accumulated gradients.
  Status apply();
  // Forward + loss only.
  Result<double> evaluate(const std::vector<Tensor>& inputs, const Tensor& target);
  // The graph outputs of the last forward pass.
  const std::vector<Tensor>& outputs() const;

  int64_t steps_taken() const;
  // Optimizer state as named tensors ("optimizer/<param>/m", ".../v", "optimizer/step") for saving
  // next to the model, and loading it back (names and shapes must match).
  std::vector<std::pair<std::string, Tensor>> optimizer_state() const;
  Status load_optimizer_state(const std::map<std::string, Tensor>& state);

 private:
  Trainer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vitrine
