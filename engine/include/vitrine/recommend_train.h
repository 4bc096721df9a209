// Training the recommender models of recommend.h with the engine's Trainer (natively; the same
// code builds for wasm). Each returns a model file's content: a graph whose constants are the
// trained weights, and the "recommender" metadata that RecModel::create reads.
//
//   mult-dae  Mult-DAE (Liang et al. 2018): x / ||x|| -> dropout -> dense H -> tanh -> dense I,
//             multinomial log-likelihood of the user's items.
//   mf-bpr    matrix factorization with BPR (Rendle et al. 2009): score = mean(u ⊙ v_i), one
//             sampled negative per positive per epoch; new users are folded in by SGD on u.
//   gru4rec   GRU4Rec-style session model: item embedding -> GRU -> dense I, softmax cross-entropy
//             on the next item at every step (full softmax over the catalogue).
//   linear    EASE (Steck 2019) with emphasized denoising (EDLAE, Steck 2020: dropout p adds
//             p / (1 - p) * G_ii to the L2 of item i), fitted in closed form, no epochs: the
//             item-item weights as a product of two item tables of width <= dim, exact when the
//             training users are at most dim (recommend_linear.cc). Fold-in is the sum of the
//             history's rows; an empty history ranks by popularity.
//
// Model selection: when a validation function is given it is called every `eval_every` epochs
// on the current weights (higher is better) and the best weights are returned.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/model_file.h"
#include "vitrine/recommend.h"
#include "vitrine/status.h"

namespace vitrine {

struct RecTrainOptions {
  std::string kind = "mult-dae";  // "mult-dae" | "mf-bpr" | "gru4rec" | "linear"
  int64_t dim = 600;              // hidden units (mult-dae, gru4rec) or factors (mf-bpr)
  int64_t embedding_dim = 64;     // gru4rec item embedding size
  double dropout = 0.5;           // mult-dae input dropout; linear: the emphasis p
  double l2 = 100.0;              // linear: the L2 regularization lambda (> 0)
  int64_t epochs = 100;
  int64_t batch_size = 100;       // users (mult-dae), pairs (mf-bpr), sequences (gru4rec)
  int64_t max_length = 50;        // gru4rec: training windows of this many steps
  double learning_rate = 1e-3;
  double weight_decay = 0.0;      // L2 added to the gradient (adam) or decoupled (adamw)
  std::string optimizer = "adam"; // "adam" | "adamw"
  std::string schedule = "constant";  // "constant" | "cosine" (to 0 over all epochs)
  uint32_t seed = 20261128;
  int64_t eval_every = 5;
  // > 0: stop after the first epoch that ends past this many seconds of training (the best
  // validated weights so far are kept; validation then also runs on that last epoch).
  double max_seconds = 0;
  // mf-bpr fold-in, stored in the model file: SGD epochs over the history, step size, L2.
  int64_t fold_in_epochs = 30;
  double fold_in_lr = 1.0;
  double fold_in_l2 = 0.01;
};

// Training data: every training user's positives in time order, as item indices into item_ids.
struct RecTrainData {
  std::vector<std::vector<int32_t>> histories;
  std::vector<std::string> item_ids;
};

// Scores a candidate model (e.g. NDCG@100 on validation users); higher is better.
using RecValidateFn = std::function<Result<double>(const LoadedModel& model)>;
// Called after every epoch: epoch (1-based), mean training loss, validation score (NaN when not
// validated that epoch).
using RecProgressFn = std::function<void(int64_t epoch, double loss, double validation)>;

struct RecTrainResult {
  LoadedModel model;
  int64_t best_epoch = 0;        // the epoch whose weights were kept (the last without validation)
  double best_validation = 0.0;  // NaN without validation
  std::vector<double> epoch_losses;
};

// Held-out users for validation: for each, the folded-in history and the items to find (item
// indices into the training catalogue).
struct RecHeldOut {
  std::vector<std::vector<int32_t>> histories;
  std::vector<std::vector<int32_t>> targets;
};

// The mean NDCG@k over `users` (those with targets) of `model`'s rankings: each history folded
// in and ranked by recommend() (recommend.h; history items excluded), as on the device.
Result<double> mean_ndcg(const LoadedModel& model, const RecHeldOut& users, int64_t k, Context* ctx);
// The same for a loaded recommender (any kind, e.g. a blend from a compact file).
Result<double> mean_ndcg(const RecModel& model, const RecHeldOut& users, int64_t k, Context* ctx);

// A validator for train_recommender(): mean_ndcg() on `users` (kept by reference).
RecValidateFn ndcg_validator(const RecHeldOut& users, int64_t k, Context* ctx);

// Largest dim (table width) of the linear kind.
constexpr int64_t kMaxLinearDim = 2048;
// The linear kind's model file (what train_recommender returns for kind "linear", validation
// aside). InvalidArgument for options out of range.
Result<LoadedModel> fit_linear_recommender(const RecTrainData& data, const RecTrainOptions& options);

Result<RecTrainResult> train_recommender(const RecTrainData& data, const RecTrainOptions& options, Context* ctx,
                                         const RecValidateFn& validate = nullptr,
                                         const RecProgressFn& progress = nullptr);

}  // namespace vitrine
