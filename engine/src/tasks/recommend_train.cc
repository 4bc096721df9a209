// Training the recommender models (recommend_train.h) with the engine's graph + Trainer.
#include "vitrine/recommend_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <unordered_set>

#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/train.h"
#include "train_util.h"

namespace vitrine {
namespace {

using train_util::Rng;
using train_util::random_tensor;

Result<int> constant(Graph& g, const std::string& name, const Shape& shape, Rng& rng, double scale, bool uniform) {
  VITRINE_ASSIGN_OR_RETURN(Tensor t, random_tensor(shape, rng, scale, uniform));
  return g.add_constant(name, std::move(t));
}


Result<Tensor> vector_tensor(const std::vector<float>& v, const Shape& shape) {
  return Tensor::from_values(shape, v.data(), v.size());
}

Json metadata_json(const RecTrainData& data, const RecTrainOptions& o) {
  Json::Array items;
  items.reserve(data.item_ids.size());
  for (const std::string& id : data.item_ids) items.emplace_back(id);
  Json::Object m = {{"kind", o.kind}, {"items", Json::array(std::move(items))}};
  if (o.kind == "mf-bpr") {
    m.emplace_back("fold_in", Json::object({{"epochs", o.fold_in_epochs}, {"lr", o.fold_in_lr}, {"l2", o.fold_in_l2},
                                            {"negatives", 1}}));
  }
  Json::Object t = {{"dim", o.dim}, {"epochs", o.epochs}, {"batch_size", o.batch_size},
                    {"learning_rate", o.learning_rate}, {"weight_decay", o.weight_decay}, {"optimizer", o.optimizer},
                    {"seed", static_cast<int64_t>(o.seed)}};
  if (o.kind == "mult-dae") t.emplace_back("dropout", o.dropout);
  if (o.kind == "gru4rec") {
    t.emplace_back("embedding_dim", o.embedding_dim);
    t.emplace_back("max_length", o.max_length);
  }
  m.emplace_back("training", Json::object(std::move(t)));
  return Json::object(std::move(m));
}

// The inference graph saved in the model file, with copies of the training graph's weights:
//   mult-dae: x (1, I) (L2-normalized history) -> enc -> tanh -> dec -> scores (1, I)
//   mf-bpr:   user (1, D) -> dense(item.emb, item.bias) -> scores (1, I); identity(user.mean) -> user_mean (D)
//   gru4rec:  items (1, max_length) -> item.emb -> gru -> final state -> out -> scores (1, I)
Result<LoadedModel> saved_model(const Graph& train, const RecTrainData& data, const RecTrainOptions& o) {
  auto g = std::make_shared<Graph>();
  const int64_t n = static_cast<int64_t>(data.item_ids.size());
  int out = -1, mean_out = -1;
  if (o.kind == "mult-dae") {
    VITRINE_ASSIGN_OR_RETURN(int x, g->add_input("x", Shape{1, n}));
    std::vector<int> c;
    for (const char* name : {"enc.w", "enc.b", "dec.w", "dec.b"}) {
      VITRINE_ASSIGN_OR_RETURN(Tensor t, train_util::constant_copy(train, name));
      VITRINE_ASSIGN_OR_RETURN(int v, g->add_constant(name, std::move(t)));
      c.push_back(v);
    }
    VITRINE_ASSIGN_OR_RETURN(int enc, g->add(OpType::kDense, "enc", {x, c[0], c[1]}));
    VITRINE_ASSIGN_OR_RETURN(int h, g->add(OpType::kTanh, "h", {enc}));
    VITRINE_ASSIGN_OR_RETURN(out, g->add(OpType::kDense, "dec", {h, c[2], c[3]}));
  } else if (o.kind == "mf-bpr") {
    // Training scores are means over the factors; dividing the item side by D makes them dots.
    VITRINE_ASSIGN_OR_RETURN(Tensor emb, train_util::constant_copy(train, "item.emb"));
    float* e = emb.mutable_data();
    for (int64_t i = 0; i < emb.num_elements(); ++i) e[i] /= static_cast<float>(o.dim);
    VITRINE_ASSIGN_OR_RETURN(Tensor b1, Tensor::zeros(Shape{n}));  // BPR-MF has no item bias here
    // The training users' mean embedding: what a shopper without history is folded in to.
    VITRINE_ASSIGN_OR_RETURN(Tensor users_t, train_util::constant_copy(train, "user.emb"));
    VITRINE_ASSIGN_OR_RETURN(Tensor mean, Tensor::zeros(Shape{o.dim}));
    const int64_t nu = users_t.shape()[0];
    for (int64_t r = 0; r < nu; ++r)
      for (int64_t j = 0; j < o.dim; ++j) mean.mutable_data()[j] += users_t.data()[r * o.dim + j] / static_cast<float>(nu);
    VITRINE_ASSIGN_OR_RETURN(int mean_id, g->add_constant("user.mean", std::move(mean)));
    VITRINE_ASSIGN_OR_RETURN(int u, g->add_input("user", Shape{1, o.dim}));
    VITRINE_ASSIGN_OR_RETURN(int w, g->add_constant("item.emb", std::move(emb)));
    VITRINE_ASSIGN_OR_RETURN(int b, g->add_constant("item.bias", std::move(b1)));
    VITRINE_ASSIGN_OR_RETURN(out, g->add(OpType::kDense, "scores_dense", {u, w, b}));
    // A second output reads user.mean, so that the model file keeps it (files keep the constants
    // nodes read) and RecModel finds it: an empty history starts from the average user.
    VITRINE_ASSIGN_OR_RETURN(mean_out, g->add(OpType::kIdentity, "user_mean", {mean_id}));
  } else {
    VITRINE_ASSIGN_OR_RETURN(int items, g->add_input("items", Shape{1, o.max_length}));
    std::vector<int> c;
    for (const char* name : {"item.emb", "gru.w_ih", "gru.w_hh", "gru.b_ih", "gru.b_hh", "out.w", "out.b"}) {
      VITRINE_ASSIGN_OR_RETURN(Tensor t, train_util::constant_copy(train, name));
      VITRINE_ASSIGN_OR_RETURN(int v, g->add_constant(name, std::move(t)));
      c.push_back(v);
    }
    VITRINE_ASSIGN_OR_RETURN(int x, g->add(OpType::kEmbedding, "x", {items, c[0]}));
    OpAttrs ga;
    ga.numbers["hidden_size"] = static_cast<double>(o.dim);
    ga.numbers["linear_before_reset"] = 1;
    VITRINE_ASSIGN_OR_RETURN(std::vector<int> gru, g->add_node(OpType::kGru, "gru", {x, c[1], c[2], c[3], c[4]}, ga));
    VITRINE_ASSIGN_OR_RETURN(out, g->add(OpType::kDense, "out", {gru[1], c[5], c[6]}));
  }
  VITRINE_RETURN_IF_ERROR(g->add_output(out, "scores"));
  if (mean_out >= 0) VITRINE_RETURN_IF_ERROR(g->add_output(mean_out, "user_mean"));
  LoadedModel m;
  m.graph = g;
  m.format = "vitrine";
  m.metadata["task"] = "recommend";
  m.metadata["recommender"] = metadata_json(data, o).dump();
  return m;
}

Status check(const RecTrainData& data, const RecTrainOptions& o) {
  const int64_t n = static_cast<int64_t>(data.item_ids.size());
  if (n < 2) return Status::InvalidArgument("recommender training: need at least 2 items");
  std::unordered_set<std::string> ids;
  for (const std::string& id : data.item_ids) {
    if (id.empty()) return Status::InvalidArgument("recommender training: empty item id");
    if (!ids.insert(id).second) return Status::InvalidArgument("recommender training: item id '" + id + "' appears twice");
  }
  if (data.histories.empty()) return Status::InvalidArgument("recommender training: no users");
  for (size_t u = 0; u < data.histories.size(); ++u) {
    for (int32_t i : data.histories[u]) {
      if (i < 0 || i >= n) {
        return Status::InvalidArgument("recommender training: user " + std::to_string(u) + " has item index " +
                                       std::to_string(i) + " outside [0, " + std::to_string(n) + ")");
      }
    }
  }
  if (o.kind != "mult-dae" && o.kind != "mf-bpr" && o.kind != "gru4rec" && o.kind != "linear") {
    return Status::InvalidArgument("unknown recommender kind '" + o.kind + "' (mult-dae, mf-bpr, gru4rec, linear)");
  }
  if (o.dim < 1 || o.embedding_dim < 1 || o.epochs < 0 || o.batch_size < 1 || o.max_length < 1 ||
      o.eval_every < 1 || !(o.dropout >= 0 && o.dropout < 1) || !(o.learning_rate > 0) || !(o.weight_decay >= 0) ||
      (o.optimizer != "adam" && o.optimizer != "adamw") || (o.schedule != "constant" && o.schedule != "cosine") || o.fold_in_epochs < 0 || o.fold_in_epochs > 10000 ||
      !(o.fold_in_lr >= 0) || !(o.fold_in_l2 >= 0)) {
    return Status::InvalidArgument("recommender training: option out of range");
  }
  return Status::Ok();
}

// One epoch's mini-batches: fills inputs/target for batch b and returns its size (0 = done).
struct Batcher {
  virtual ~Batcher() = default;
  virtual void start_epoch(Rng& rng) = 0;
  virtual Result<bool> next(std::vector<Tensor>* inputs, Tensor* target) = 0;
};

struct DaeBatcher : Batcher {
  const RecTrainData& d;
  int64_t n, batch;
  std::vector<size_t> order;
  size_t pos = 0;
  DaeBatcher(const RecTrainData& data, int64_t b) : d(data), n(static_cast<int64_t>(data.item_ids.size())), batch(b) {
    for (size_t u = 0; u < d.histories.size(); ++u)
      if (!d.histories[u].empty()) order.push_back(u);
  }
  void start_epoch(Rng& rng) override {
    std::shuffle(order.begin(), order.end(), rng);
    pos = 0;
  }
  Result<bool> next(std::vector<Tensor>* inputs, Tensor* target) override {
    if (pos >= order.size()) return false;
    const int64_t b = std::min<int64_t>(batch, static_cast<int64_t>(order.size() - pos));
    VITRINE_ASSIGN_OR_RETURN(Tensor x, Tensor::zeros(Shape{b, n}));
    VITRINE_ASSIGN_OR_RETURN(Tensor y, Tensor::zeros(Shape{b, n}));
    float* xp = x.mutable_data();
    float* yp = y.mutable_data();
    for (int64_t r = 0; r < b; ++r) {
      for (int32_t i : d.histories[order[pos + static_cast<size_t>(r)]]) yp[r * n + i] = 1.0f;
      float sq = 0;
      for (int64_t i = 0; i < n; ++i) sq += yp[r * n + i];
      const float inv = 1.0f / std::sqrt(sq);
      for (int64_t i = 0; i < n; ++i) xp[r * n + i] = yp[r * n + i] * inv;
    }
    pos += static_cast<size_t>(b);
    *inputs = {x};
    *target = y;
    return true;
  }
};

struct MfBatcher : Batcher {
  const RecTrainData& d;
  int64_t n, batch;
  std::vector<std::pair<int32_t, int32_t>> pairs;  // (user, item)
  std::vector<std::unordered_set<int32_t>> seen;
  std::vector<int32_t> neg;
  size_t pos = 0;
  MfBatcher(const RecTrainData& data, int64_t b) : d(data), n(static_cast<int64_t>(data.item_ids.size())), batch(b) {
    seen.resize(d.histories.size());
    for (size_t u = 0; u < d.histories.size(); ++u) {
      for (int32_t i : d.histories[u]) {
        if (seen[u].insert(i).second) pairs.emplace_back(static_cast<int32_t>(u), i);
      }
    }
  }
  void start_epoch(Rng& rng) override {
    std::shuffle(pairs.begin(), pairs.end(), rng);
    neg.resize(pairs.size());
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n - 1));
    for (size_t k = 0; k < pairs.size(); ++k) {
      const auto& s = seen[static_cast<size_t>(pairs[k].first)];
      int32_t q;
      int tries = 0;
      do q = pick(rng); while (s.count(q) && ++tries < 1000);
      neg[k] = q;
    }
    pos = 0;
  }
  Result<bool> next(std::vector<Tensor>* inputs, Tensor* target) override {
    if (pos >= pairs.size()) return false;
    const int64_t b = std::min<int64_t>(batch, static_cast<int64_t>(pairs.size() - pos));
    std::vector<float> u(static_cast<size_t>(b)), p(static_cast<size_t>(b)), q(static_cast<size_t>(b));
    for (int64_t r = 0; r < b; ++r) {
      const size_t k = pos + static_cast<size_t>(r);
      u[static_cast<size_t>(r)] = static_cast<float>(pairs[k].first);
      p[static_cast<size_t>(r)] = static_cast<float>(pairs[k].second);
      q[static_cast<size_t>(r)] = static_cast<float>(neg[k]);
    }
    pos += static_cast<size_t>(b);
    VITRINE_ASSIGN_OR_RETURN(Tensor tu, vector_tensor(u, Shape{b}));
    VITRINE_ASSIGN_OR_RETURN(Tensor tp, vector_tensor(p, Shape{b}));
    VITRINE_ASSIGN_OR_RETURN(Tensor tq, vector_tensor(q, Shape{b}));
    *inputs = {tu, tp, tq};
    *target = Tensor();
    return true;
  }
};

struct GruBatcher : Batcher {
  const RecTrainData& d;
  int64_t n, batch, len;
  std::vector<std::pair<size_t, size_t>> windows;  // (user, start)
  size_t pos = 0;
  GruBatcher(const RecTrainData& data, int64_t b, int64_t t)
      : d(data), n(static_cast<int64_t>(data.item_ids.size())), batch(b), len(t) {
    for (size_t u = 0; u < d.histories.size(); ++u) {
      const size_t l = d.histories[u].size();
      for (size_t s = 0; s + 1 < l; s += static_cast<size_t>(len)) windows.emplace_back(u, s);
    }
  }
  void start_epoch(Rng& rng) override {
    std::shuffle(windows.begin(), windows.end(), rng);
    pos = 0;
  }
  Result<bool> next(std::vector<Tensor>* inputs, Tensor* target) override {
    if (pos >= windows.size()) return false;
    // Always full batches (the flattening reshape fixes the batch): missing rows have length 0,
    // so they output zeros and carry no target mass.
    const int64_t real = std::min<int64_t>(batch, static_cast<int64_t>(windows.size() - pos));
    const int64_t b = batch;
    VITRINE_ASSIGN_OR_RETURN(Tensor items, Tensor::zeros(Shape{b, len}));
    VITRINE_ASSIGN_OR_RETURN(Tensor lengths, Tensor::zeros(Shape{b}));
    VITRINE_ASSIGN_OR_RETURN(Tensor y, Tensor::zeros(Shape{b * len, n}));
    for (int64_t r = 0; r < real; ++r) {
      const auto [u, s] = windows[pos + static_cast<size_t>(r)];
      const std::vector<int32_t>& h = d.histories[u];
      const int64_t steps = std::min<int64_t>(len, static_cast<int64_t>(h.size() - 1 - s));
      lengths.mutable_data()[r] = static_cast<float>(steps);
      for (int64_t t = 0; t < steps; ++t) {
        items.mutable_data()[r * len + t] = static_cast<float>(h[s + static_cast<size_t>(t)]);
        y.mutable_data()[(r * len + t) * n + h[s + static_cast<size_t>(t) + 1]] = 1.0f;
      }
    }
    pos += static_cast<size_t>(real);
    *inputs = {items, lengths};
    *target = y;
    return true;
  }
};

}  // namespace

Result<RecTrainResult> train_recommender(const RecTrainData& data, const RecTrainOptions& o, Context* ctx,
                                         const RecValidateFn& validate, const RecProgressFn& progress) {
  VITRINE_RETURN_IF_ERROR(check(data, o));
  if (o.kind == "linear") {  // closed form: one fit, validated once
    RecTrainResult result;
    VITRINE_ASSIGN_OR_RETURN(result.model, fit_linear_recommender(data, o));
    result.best_epoch = 0;
    result.best_validation = std::numeric_limits<double>::quiet_NaN();
    if (validate) {
      VITRINE_ASSIGN_OR_RETURN(result.best_validation, validate(result.model));
    }
    if (progress) progress(0, 0.0, result.best_validation);
    return result;
  }
  const int64_t n = static_cast<int64_t>(data.item_ids.size());
  const int64_t users = static_cast<int64_t>(data.histories.size());
  Rng rng(o.seed);
  auto g = std::make_shared<Graph>();
  std::unique_ptr<Batcher> batcher;
  TrainerOptions to;
  to.optimizer.type = o.optimizer;
  to.optimizer.schedule = o.schedule;
  to.optimizer.learning_rate = o.learning_rate;
  to.optimizer.weight_decay = o.weight_decay;
  std::vector<std::string> frozen;
  int out = -1;
  if (o.kind == "mult-dae") {
    const double a_enc = std::sqrt(6.0 / static_cast<double>(n + o.dim));
    VITRINE_ASSIGN_OR_RETURN(int x, g->add_input("x", Shape{o.batch_size, n}));
    VITRINE_ASSIGN_OR_RETURN(int ew, constant(*g, "enc.w", Shape{o.dim, n}, rng, a_enc, true));
    VITRINE_ASSIGN_OR_RETURN(int eb, constant(*g, "enc.b", Shape{o.dim}, rng, 0, true));
    VITRINE_ASSIGN_OR_RETURN(int dw, constant(*g, "dec.w", Shape{n, o.dim}, rng, a_enc, true));
    VITRINE_ASSIGN_OR_RETURN(int db, constant(*g, "dec.b", Shape{n}, rng, 0, true));
    OpAttrs da;
    da.numbers["rate"] = o.dropout;
    da.numbers["seed"] = static_cast<double>(o.seed % 1000003u);
    VITRINE_ASSIGN_OR_RETURN(int xd, g->add(OpType::kDropout, "drop", {x}, da));
    VITRINE_ASSIGN_OR_RETURN(int enc, g->add(OpType::kDense, "enc", {xd, ew, eb}));
    VITRINE_ASSIGN_OR_RETURN(int h, g->add(OpType::kTanh, "h", {enc}));
    VITRINE_ASSIGN_OR_RETURN(out, g->add(OpType::kDense, "dec", {h, dw, db}));
    to.loss.type = LossType::kMultinomial;
    batcher = std::make_unique<DaeBatcher>(data, o.batch_size);
  } else if (o.kind == "mf-bpr") {
    VITRINE_ASSIGN_OR_RETURN(int u, g->add_input("users", Shape{o.batch_size}));
    VITRINE_ASSIGN_OR_RETURN(int p, g->add_input("pos", Shape{o.batch_size}));
    VITRINE_ASSIGN_OR_RETURN(int q, g->add_input("neg", Shape{o.batch_size}));
    // Unit-scale factors: the mean over D factors starts with scores of spread ~1/sqrt(D).
    VITRINE_ASSIGN_OR_RETURN(int ut, constant(*g, "user.emb", Shape{users, o.dim}, rng, 1.0, false));
    VITRINE_ASSIGN_OR_RETURN(int it, constant(*g, "item.emb", Shape{n, o.dim}, rng, 1.0, false));
    VITRINE_ASSIGN_OR_RETURN(int eu, g->add(OpType::kEmbedding, "eu", {u, ut}));
    VITRINE_ASSIGN_OR_RETURN(int ep, g->add(OpType::kEmbedding, "ep", {p, it}));
    VITRINE_ASSIGN_OR_RETURN(int en, g->add(OpType::kEmbedding, "en", {q, it}));
    OpAttrs mean;
    mean.ints["axes"] = {1};
    mean.numbers["keepdims"] = 1;
    VITRINE_ASSIGN_OR_RETURN(int up, g->add(OpType::kMul, "up", {eu, ep}));
    VITRINE_ASSIGN_OR_RETURN(int un, g->add(OpType::kMul, "un", {eu, en}));
    VITRINE_ASSIGN_OR_RETURN(int sp, g->add(OpType::kReduceMean, "mp", {up}, mean));
    VITRINE_ASSIGN_OR_RETURN(int sn, g->add(OpType::kReduceMean, "mn", {un}, mean));
    OpAttrs cat;
    cat.numbers["axis"] = 1;
    VITRINE_ASSIGN_OR_RETURN(out, g->add(OpType::kConcat, "scores", {sp, sn}, cat));
    to.loss.type = LossType::kBpr;
    batcher = std::make_unique<MfBatcher>(data, o.batch_size);
  } else {
    const double a_h = 1.0 / std::sqrt(static_cast<double>(o.dim));
    const int64_t h = o.dim, len = o.max_length;
    VITRINE_ASSIGN_OR_RETURN(int items, g->add_input("items", Shape{o.batch_size, len}));
    VITRINE_ASSIGN_OR_RETURN(int lengths, g->add_input("lengths", Shape{o.batch_size}));
    VITRINE_ASSIGN_OR_RETURN(int emb, constant(*g, "item.emb", Shape{n, o.embedding_dim}, rng, 0.1, false));
    VITRINE_ASSIGN_OR_RETURN(int wih, constant(*g, "gru.w_ih", Shape{3 * h, o.embedding_dim}, rng, a_h, true));
    VITRINE_ASSIGN_OR_RETURN(int whh, constant(*g, "gru.w_hh", Shape{3 * h, h}, rng, a_h, true));
    VITRINE_ASSIGN_OR_RETURN(int bih, constant(*g, "gru.b_ih", Shape{3 * h}, rng, a_h, true));
    VITRINE_ASSIGN_OR_RETURN(int bhh, constant(*g, "gru.b_hh", Shape{3 * h}, rng, a_h, true));
    VITRINE_ASSIGN_OR_RETURN(int ow, constant(*g, "out.w", Shape{n, h}, rng, std::sqrt(6.0 / static_cast<double>(n + h)), true));
    VITRINE_ASSIGN_OR_RETURN(int ob, constant(*g, "out.b", Shape{n}, rng, 0, true));
    VITRINE_ASSIGN_OR_RETURN(int x, g->add(OpType::kEmbedding, "x", {items, emb}));
    OpAttrs ga;
    ga.numbers["hidden_size"] = static_cast<double>(h);
    ga.numbers["linear_before_reset"] = 1;
    VITRINE_ASSIGN_OR_RETURN(std::vector<int> gru, g->add_node(OpType::kGru, "gru", {x, wih, whh, bih, bhh, lengths}, ga));
    OpAttrs rs;
    rs.ints["shape"] = {-1, h};
    VITRINE_ASSIGN_OR_RETURN(int flat, g->add(OpType::kReshape, "flat", {gru[0]}, rs));
    VITRINE_ASSIGN_OR_RETURN(out, g->add(OpType::kDense, "out", {flat, ow, ob}));
    to.loss.type = LossType::kMultinomial;  // one-hot next item per step; padded steps have no mass
    batcher = std::make_unique<GruBatcher>(data, o.batch_size, len);
  }
  VITRINE_RETURN_IF_ERROR(g->add_output(out, "out"));
  if (o.schedule == "cosine") {  // total steps: count one epoch's batches
    Rng probe(o.seed);
    batcher->start_epoch(probe);
    std::vector<Tensor> in;
    Tensor tg;
    int64_t per_epoch = 0;
    for (;;) {
      VITRINE_ASSIGN_OR_RETURN(bool more, batcher->next(&in, &tg));
      if (!more) break;
      ++per_epoch;
    }
    to.optimizer.total_steps = per_epoch * o.epochs;
  }
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, Trainer::create(g, ctx, to));

  RecTrainResult result;
  result.best_validation = std::numeric_limits<double>::quiet_NaN();
  bool have_best = false;
  const auto started = std::chrono::steady_clock::now();
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    batcher->start_epoch(rng);
    double sum = 0;
    int64_t batches = 0;
    std::vector<Tensor> inputs;
    Tensor target;
    for (;;) {
      VITRINE_ASSIGN_OR_RETURN(bool more, batcher->next(&inputs, &target));
      if (!more) break;
      VITRINE_ASSIGN_OR_RETURN(double loss, trainer->step(inputs, target));
      if (!std::isfinite(loss)) {
        return Status::FailedPrecondition("recommender training diverged (loss " + std::to_string(loss) +
                                          ") at epoch " + std::to_string(epoch) + ": lower the learning rate");
      }
      sum += loss;
      ++batches;
    }
    const double mean_loss = batches ? sum / static_cast<double>(batches) : 0.0;
    result.epoch_losses.push_back(mean_loss);
    const bool out_of_time =
        o.max_seconds > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() >= o.max_seconds;
    double val = std::numeric_limits<double>::quiet_NaN();
    if (validate && (epoch % o.eval_every == 0 || epoch == o.epochs || out_of_time)) {
      VITRINE_ASSIGN_OR_RETURN(LoadedModel m, saved_model(*g, data, o));
      VITRINE_ASSIGN_OR_RETURN(val, validate(m));
      if (!have_best || val > result.best_validation) {
        result.model = std::move(m);
        result.best_validation = val;
        result.best_epoch = epoch;
        have_best = true;
      }
    }
    if (progress) progress(epoch, mean_loss, val);
    if (out_of_time) break;
  }
  if (!have_best) {
    VITRINE_ASSIGN_OR_RETURN(result.model, saved_model(*g, data, o));
    result.best_epoch = static_cast<int64_t>(result.epoch_losses.size());
  }
  return result;
}

Result<double> mean_ndcg(const LoadedModel& model, const RecHeldOut& users, int64_t k, Context* ctx) {
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<RecModel> m, RecModel::create(model, TablePrecision::kF32));
  return mean_ndcg(*m, users, k, ctx);
}

Result<double> mean_ndcg(const RecModel& model, const RecHeldOut& users, int64_t k, Context* ctx) {
  if (users.histories.size() != users.targets.size()) {
    return Status::InvalidArgument("held-out users: " + std::to_string(users.histories.size()) + " histories but " +
                                   std::to_string(users.targets.size()) + " target lists");
  }
  if (k < 1) return Status::InvalidArgument("ndcg: k must be >= 1");
  const RecModel* m = &model;
  std::vector<float> user;
  RecommendRequest r;
  r.k = k;
  r.explain = false;
  double sum = 0;
  int64_t count = 0;
  for (size_t u = 0; u < users.histories.size(); ++u) {
    const std::vector<int32_t>& targets = users.targets[u];
    if (targets.empty()) continue;
    r.history.clear();
    for (int32_t i : users.histories[u]) r.history.push_back({i, 1.0f});
    VITRINE_RETURN_IF_ERROR(m->fold_in(r.history, &user));
    Result<std::vector<Recommendation>> ranked = recommend(*m, nullptr, user.data(), r, ctx);
    if (!ranked.ok()) return Status(ranked.status().code(), "user " + std::to_string(u) + ": " + ranked.status().message());
    const std::unordered_set<int32_t> wanted(targets.begin(), targets.end());
    double dcg = 0, idcg = 0;
    for (size_t p = 0; p < ranked->size(); ++p)
      if (wanted.count(ranked.value()[p].item)) dcg += 1.0 / std::log2(static_cast<double>(p) + 2.0);
    for (int64_t p = 0; p < std::min<int64_t>(k, static_cast<int64_t>(wanted.size())); ++p)
      idcg += 1.0 / std::log2(static_cast<double>(p) + 2.0);
    sum += dcg / idcg;
    ++count;
  }
  return count ? sum / static_cast<double>(count) : 0.0;
}

RecValidateFn ndcg_validator(const RecHeldOut& users, int64_t k, Context* ctx) {
  return [&users, k, ctx](const LoadedModel& model) { return mean_ndcg(model, users, k, ctx); };
}

}  // namespace vitrine
