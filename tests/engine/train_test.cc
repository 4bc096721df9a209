// The trainer against PyTorch: the same models, initial weights, data and optimizer settings for
// 20 steps give the same losses and weights (scripts/models/export_train_goldens.py). Also
// optimizer-state save/restore, freezing, gradient accumulation and loss edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "reference.h"
#include "vitrine/model_file.h"
#include "vitrine/npy.h"
#include "vitrine/safetensors.h"
#include "vitrine/train.h"

namespace vitrine {
namespace {

using testing::expect_close;

std::string case_dir(const std::string& name) { return testing::parity_dir("train", name); }
bool require() { return testing::require_models(); }
Tensor npy(const std::string& dir, const std::string& name) { return testing::load_npy(dir, name); }
std::vector<double> values(const Tensor& t) { return testing::to_doubles(t); }

// dense(5 -> 7) -> relu -> dense(7 -> 3): logits
std::shared_ptr<Graph> mlp(const std::string& dir) {
  auto g = std::make_shared<Graph>();
  int x = g->add_input("x", Shape{8, 5}).value();
  int w1 = g->add_constant("fc1.w", npy(dir, "w1").clone().value()).value();
  int b1 = g->add_constant("fc1.b", npy(dir, "b1").clone().value()).value();
  int h = g->add(OpType::kDense, "fc1", {x, w1, b1}).value();
  int r = g->add(OpType::kRelu, "relu", {h}).value();
  int w2 = g->add_constant("fc2.w", npy(dir, "w2").clone().value()).value();
  int b2 = g->add_constant("fc2.b", npy(dir, "b2").clone().value()).value();
  int y = g->add(OpType::kDense, "fc2", {r, w2, b2}).value();
  EXPECT_TRUE(g->add_output(y, "logits").ok());
  return g;
}

const Tensor& param(const Graph& g, const char* name) { return g.value(g.find(name).value()).constant; }

void check_mlp(const std::string& name, TrainerOptions options) {
  const std::string dir = case_dir(name);
  if (npy(dir, "x").empty()) {
    if (require()) FAIL() << "train golden " << name << " missing";
    GTEST_SKIP() << "no goldens (VITRINE_PARITY_MODELS)";
  }
  auto g = mlp(dir);
  auto ctx = Context::create(1, 1).value();
  auto trainer = Trainer::create(g, ctx.get(), options);
  ASSERT_TRUE(trainer.ok()) << trainer.status().to_string();
  EXPECT_EQ(trainer.value()->parameter_names(), (std::vector<std::string>{"fc1.w", "fc1.b", "fc2.w", "fc2.b"}));
  std::vector<double> losses;
  for (int s = 0; s < 20; ++s) {
    auto loss = trainer.value()->step({npy(dir, "x")}, npy(dir, "y"));
    ASSERT_TRUE(loss.ok()) << loss.status().to_string();
    losses.push_back(loss.value());
  }
  Tensor want = npy(dir, "losses");
  for (int s = 0; s < 20; ++s) EXPECT_NEAR(losses[s], want.data()[s], 1e-4 * (1 + std::fabs(want.data()[s]))) << "step " << s;
  expect_close(param(*g, "fc1.w").data(), values(npy(dir, "final_w1")), 1e-4, 1e-3, "fc1.w");
  expect_close(param(*g, "fc1.b").data(), values(npy(dir, "final_b1")), 1e-4, 1e-3, "fc1.b");
  expect_close(param(*g, "fc2.w").data(), values(npy(dir, "final_w2")), 1e-4, 1e-3, "fc2.w");
  expect_close(param(*g, "fc2.b").data(), values(npy(dir, "final_b2")), 1e-4, 1e-3, "fc2.b");
}

TEST(TrainParity, MlpAdamMatchesPyTorch) {
  TrainerOptions o;
  o.optimizer.type = "adam";
  o.optimizer.learning_rate = 0.01;
  check_mlp("mlp_adam", o);
}

TEST(TrainParity, MlpAdamWLabelSmoothingClippingMatchesPyTorch) {
  TrainerOptions o;
  o.optimizer.type = "adamw";
  o.optimizer.learning_rate = 0.02;
  o.optimizer.weight_decay = 0.1;
  o.optimizer.clip_norm = 0.5;
  o.loss.label_smoothing = 0.1;
  check_mlp("mlp_adamw_smooth_clip", o);
}

// Matrix factorization with BPR: score = mean(u ⊙ v); the item table is shared by two lookups.
TEST(TrainParity, MatrixFactorizationBprSgdMomentumMatchesPyTorch) {
  const std::string dir = case_dir("mf_bpr");
  if (npy(dir, "U").empty()) {
    if (require()) FAIL() << "train golden mf_bpr missing";
    GTEST_SKIP() << "no goldens";
  }
  auto g = std::make_shared<Graph>();
  int users = g->add_input("users", Shape{16}).value();
  int pos = g->add_input("pos", Shape{16}).value();
  int neg = g->add_input("neg", Shape{16}).value();
  int U = g->add_constant("user_embeddings", npy(dir, "U").clone().value()).value();
  int V = g->add_constant("item_embeddings", npy(dir, "V").clone().value()).value();
  int eu = g->add(OpType::kEmbedding, "eu", {users, U}).value();
  int ep = g->add(OpType::kEmbedding, "ep", {pos, V}).value();
  int en = g->add(OpType::kEmbedding, "en", {neg, V}).value();
  OpAttrs mean;
  mean.ints["axes"] = {1};
  mean.numbers["keepdims"] = 1;
  int sp = g->add(OpType::kReduceMean, "sp", {g->add(OpType::kMul, "up", {eu, ep}).value()}, mean).value();
  int sn = g->add(OpType::kReduceMean, "sn", {g->add(OpType::kMul, "un", {eu, en}).value()}, mean).value();
  OpAttrs cat;
  cat.numbers["axis"] = 1;
  int scores = g->add(OpType::kConcat, "scores", {sp, sn}, cat).value();
  ASSERT_TRUE(g->add_output(scores).ok());
  auto ctx = Context::create(1, 1).value();
  TrainerOptions o;
  o.loss.type = LossType::kBpr;
  o.optimizer.type = "sgd";
  o.optimizer.learning_rate = 0.5;
  o.optimizer.momentum = 0.9;
  o.optimizer.weight_decay = 0.01;
  auto trainer = Trainer::create(g, ctx.get(), o).value();
  Tensor want = npy(dir, "losses");
  for (int s = 0; s < 20; ++s) {
    auto loss = trainer->step({npy(dir, "users"), npy(dir, "pos"), npy(dir, "neg")}, Tensor());
    ASSERT_TRUE(loss.ok()) << loss.status().to_string();
    EXPECT_NEAR(loss.value(), want.data()[s], 1e-4 * (1 + std::fabs(want.data()[s]))) << "step " << s;
  }
  expect_close(param(*g, "user_embeddings").data(), values(npy(dir, "final_U")), 1e-4, 1e-3, "U");
  expect_close(param(*g, "item_embeddings").data(), values(npy(dir, "final_V")), 1e-4, 1e-3, "V");
}

// NCHW (N, C, H, W) -> NHWC, and PyTorch conv weights (O, I, KH, KW) -> (O, KH, KW, I).
Tensor nchw_to_nhwc(const Tensor& t) {
  const Shape& s = t.shape();
  Tensor out = Tensor::zeros(Shape{s[0], s[2], s[3], s[1]}).value();
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t h = 0; h < s[2]; ++h)
        for (int64_t w = 0; w < s[3]; ++w)
          out.mutable_data()[((n * s[2] + h) * s[3] + w) * s[1] + c] = t.data()[((n * s[1] + c) * s[2] + h) * s[3] + w];
  return out;
}

// PyTorch flattens (C, H, W), Vitrine (H, W, C): permute a following linear layer's columns.
Tensor chw_columns_to_hwc(const Tensor& w, int64_t c, int64_t h, int64_t wd) {
  Tensor out = Tensor::zeros(w.shape()).value();
  const int64_t rows = w.shape()[0], cols = w.shape()[1];
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < wd; ++x)
          out.mutable_data()[o * cols + (y * wd + x) * c + ci] = w.data()[o * cols + (ci * h + y) * wd + x];
  return out;
}

TEST(TrainParity, SmallCnnAdamMatchesPyTorch) {
  const std::string dir = case_dir("cnn_adam");
  if (npy(dir, "x").empty()) {
    if (require()) FAIL() << "train golden cnn_adam missing";
    GTEST_SKIP() << "no goldens";
  }
  auto g = std::make_shared<Graph>();
  int x = g->add_input("x", Shape{6, 8, 8, 1}).value();
  int cw = g->add_constant("conv.w", nchw_to_nhwc(npy(dir, "conv_w"))).value();
  int cb = g->add_constant("conv.b", npy(dir, "conv_b").clone().value()).value();
  OpAttrs conv;
  conv.ints["pads"] = {1, 1, 1, 1};
  int c = g->add(OpType::kConv2D, "conv", {x, cw, cb}, conv).value();
  OpAttrs pool;
  pool.ints["kernel"] = {2, 2};
  int p = g->add(OpType::kMaxPool2D, "pool", {g->add(OpType::kRelu, "relu", {c}).value()}, pool).value();
  int f = g->add(OpType::kFlatten, "flat", {p}).value();
  int fw = g->add_constant("fc.w", chw_columns_to_hwc(npy(dir, "fc_w"), 4, 4, 4)).value();
  int fb = g->add_constant("fc.b", npy(dir, "fc_b").clone().value()).value();
  ASSERT_TRUE(g->add_output(g->add(OpType::kDense, "fc", {f, fw, fb}).value()).ok());
  auto ctx = Context::create(2, 2).value();
  TrainerOptions o;
  o.optimizer.learning_rate = 0.01;
  auto trainer = Trainer::create(g, ctx.get(), o).value();
  Tensor xs = nchw_to_nhwc(npy(dir, "x"));
  Tensor want = npy(dir, "losses");
  for (int s = 0; s < 20; ++s) {
    auto loss = trainer->step({xs}, npy(dir, "y"));
    ASSERT_TRUE(loss.ok()) << loss.status().to_string();
    EXPECT_NEAR(loss.value(), want.data()[s], 1e-4 * (1 + std::fabs(want.data()[s]))) << "step " << s;
  }
  expect_close(param(*g, "conv.w").data(), values(nchw_to_nhwc(npy(dir, "final_conv_w"))), 1e-4, 1e-3, "conv.w");
  expect_close(param(*g, "conv.b").data(), values(npy(dir, "final_conv_b")), 1e-4, 1e-3, "conv.b");
  expect_close(param(*g, "fc.w").data(), values(chw_columns_to_hwc(npy(dir, "final_fc_w"), 4, 4, 4)), 1e-4, 1e-3, "fc.w");
}

TEST(TrainParity, CnnWithTrainingModeBatchNormMatchesPyTorch) {
  const std::string dir = case_dir("cnn_bn_adam");
  if (npy(dir, "x").empty()) {
    if (require()) FAIL() << "train golden cnn_bn_adam missing";
    GTEST_SKIP() << "no goldens";
  }
  auto g = std::make_shared<Graph>();
  int x = g->add_input("x", Shape{6, 8, 8, 1}).value();
  OpAttrs conv;
  conv.ints["pads"] = {1, 1, 1, 1};
  int c = g->add(OpType::kConv2D, "conv", {x, g->add_constant("conv.w", nchw_to_nhwc(npy(dir, "conv_w"))).value()}, conv)
              .value();
  Tensor zeros = Tensor::zeros(Shape{4}).value();
  float one[4] = {1, 1, 1, 1};
  int bn = g->add(OpType::kBatchNorm, "bn",
                  {c, g->add_constant("bn.w", npy(dir, "bn_w").clone().value()).value(),
                   g->add_constant("bn.b", npy(dir, "bn_b").clone().value()).value(), g->add_constant("bn.mean", zeros).value(),
                   g->add_constant("bn.var", Tensor::from_values(Shape{4}, one, 4).value()).value()}).value();
  OpAttrs pool;
  pool.ints["kernel"] = {2, 2};
  int p = g->add(OpType::kMaxPool2D, "pool", {g->add(OpType::kRelu, "relu", {bn}).value()}, pool).value();
  int f = g->add(OpType::kFlatten, "flat", {p}).value();
  ASSERT_TRUE(g->add_output(g->add(OpType::kDense, "fc",
                                   {f, g->add_constant("fc.w", chw_columns_to_hwc(npy(dir, "fc_w"), 4, 4, 4)).value(),
                                    g->add_constant("fc.b", npy(dir, "fc_b").clone().value()).value()}).value()).ok());
  auto ctx = Context::create(1, 1).value();
  TrainerOptions o;
  o.optimizer.learning_rate = 0.01;
  auto trainer = Trainer::create(g, ctx.get(), o).value();
  EXPECT_EQ(trainer->parameter_names().size(), 5u);  // running statistics are not parameters
  Tensor xs = nchw_to_nhwc(npy(dir, "x"));
  Tensor want = npy(dir, "losses");
  for (int s = 0; s < 20; ++s) {
    auto loss = trainer->step({xs}, npy(dir, "y"));
    ASSERT_TRUE(loss.ok()) << loss.status().to_string();
    EXPECT_NEAR(loss.value(), want.data()[s], 1e-4 * (1 + std::fabs(want.data()[s]))) << "step " << s;
  }
  expect_close(param(*g, "bn.w").data(), values(npy(dir, "final_bn_w")), 1e-4, 1e-3, "bn.w");
  expect_close(param(*g, "bn.mean").data(), values(npy(dir, "running_mean")), 1e-4, 1e-3, "running mean");
  expect_close(param(*g, "bn.var").data(), values(npy(dir, "running_var")), 1e-4, 1e-3, "running var");
  expect_close(param(*g, "conv.w").data(), values(nchw_to_nhwc(npy(dir, "final_conv_w"))), 1e-4, 1e-3, "conv.w");
  // Evaluation uses the running statistics (inference mode).
  auto eval = trainer->evaluate({xs}, npy(dir, "y"));
  ASSERT_TRUE(eval.ok()) << eval.status().to_string();
}

TEST(TrainParity, GruClassifierAdamMatchesPyTorch) {
  const std::string dir = case_dir("gru_adam");
  if (npy(dir, "ids").empty()) {
    if (require()) FAIL() << "train golden gru_adam missing";
    GTEST_SKIP() << "no goldens";
  }
  auto g = std::make_shared<Graph>();
  int ids = g->add_input("ids", Shape{6, 4}).value();
  int emb = g->add_constant("emb", npy(dir, "emb").clone().value()).value();
  int e = g->add(OpType::kEmbedding, "lookup", {ids, emb}).value();
  std::vector<int> gru_in = {e};
  for (const char* n : {"w_ih", "w_hh", "b_ih", "b_hh"}) gru_in.push_back(g->add_constant(std::string("gru.") + n, npy(dir, n).clone().value()).value());
  OpAttrs a;
  a.numbers["hidden_size"] = 5;
  auto outs = g->add_node(OpType::kGru, "gru", gru_in, a).value();
  int fw = g->add_constant("fc.w", npy(dir, "fc_w").clone().value()).value();
  int fb = g->add_constant("fc.b", npy(dir, "fc_b").clone().value()).value();
  ASSERT_TRUE(g->add_output(g->add(OpType::kDense, "fc", {outs[1], fw, fb}).value()).ok());
  auto ctx = Context::create(1, 1).value();
  TrainerOptions o;
  o.optimizer.learning_rate = 0.01;
  auto trainer = Trainer::create(g, ctx.get(), o).value();
  Tensor want = npy(dir, "losses");
  for (int s = 0; s < 20; ++s) {
    auto loss = trainer->step({npy(dir, "ids")}, npy(dir, "y"));
    ASSERT_TRUE(loss.ok()) << loss.status().to_string();
    EXPECT_NEAR(loss.value(), want.data()[s], 1e-4 * (1 + std::fabs(want.data()[s]))) << "step " << s;
  }
  expect_close(param(*g, "emb").data(), values(npy(dir, "final_emb")), 1e-4, 1e-3, "emb");
  expect_close(param(*g, "gru.w_ih").data(), values(npy(dir, "final_w_ih")), 1e-4, 1e-3, "w_ih");
  expect_close(param(*g, "gru.w_hh").data(), values(npy(dir, "final_w_hh")), 1e-4, 1e-3, "w_hh");
  expect_close(param(*g, "fc.w").data(), values(npy(dir, "final_fc_w")), 1e-4, 1e-3, "fc.w");
}

// A small random model independent of the goldens.
std::shared_ptr<Graph> random_mlp(uint32_t seed) {
  std::mt19937 rng(seed);
  auto g = std::make_shared<Graph>();
  int x = g->add_input("x", Shape{4, 3}).value();
  int w1 = g->add_constant("a.w", testing::random_tensor(Shape{5, 3}, rng)).value();
  int h = g->add(OpType::kTanh, "t", {g->add(OpType::kDense, "a", {x, w1}).value()}).value();
  int w2 = g->add_constant("b.w", testing::random_tensor(Shape{2, 5}, rng)).value();
  EXPECT_TRUE(g->add_output(g->add(OpType::kDense, "b", {h, w2}).value()).ok());
  return g;
}

TEST(Trainer, OptimizerStateRoundTripContinuesExactly) {
  std::mt19937 rng(5);
  Tensor x = testing::random_tensor(Shape{4, 3}, rng);
  float labels[4] = {0, 1, 1, 0};
  Tensor y = Tensor::from_values(Shape{4}, labels, 4).value();
  auto ctx = Context::create(1, 1).value();
  auto straight = random_mlp(1);
  auto t1 = Trainer::create(straight, ctx.get(), {}).value();
  for (int s = 0; s < 10; ++s) ASSERT_TRUE(t1->step({x}, y).ok());
  // Save model + optimizer state after 5 steps of a second run, reload, continue 5 more.
  auto first = random_mlp(1);
  auto t2 = Trainer::create(first, ctx.get(), {}).value();
  for (int s = 0; s < 5; ++s) ASSERT_TRUE(t2->step({x}, y).ok());
  auto model_bytes = save_model(*first).value();
  auto state_bytes = write_safetensors(t2->optimizer_state()).value();
  auto loaded = load_model(std::make_shared<const std::vector<uint8_t>>(model_bytes)).value();
  auto state_file = SafetensorsFile::parse(state_bytes.data(), state_bytes.size()).value();
  std::map<std::string, Tensor> state;
  for (const std::string& n : state_file.names()) state[n] = state_file.tensor(n).value().clone().value();
  // Loaded constants may be views into the file bytes: give the trainer its own copies.
  auto resumed_graph = std::make_shared<Graph>(*loaded.graph);
  auto t3 = Trainer::create(resumed_graph, ctx.get(), {}).value();
  ASSERT_TRUE(t3->load_optimizer_state(state).ok());
  EXPECT_EQ(t3->steps_taken(), 5);
  for (int s = 0; s < 5; ++s) ASSERT_TRUE(t3->step({x}, y).ok());
  for (const char* name : {"a.w", "b.w"}) {
    expect_close(param(*resumed_graph, name).data(), values(param(*straight, name)), 1e-6, 1e-5, name);
  }
  state.erase("optimizer/a.w/m");
  EXPECT_FALSE(t3->load_optimizer_state(state).ok());
}

TEST(Trainer, FreezingAndAccumulation) {
  std::mt19937 rng(6);
  Tensor x = testing::random_tensor(Shape{4, 3}, rng);
  float labels[4] = {0, 1, 1, 0};
  Tensor y = Tensor::from_values(Shape{4}, labels, 4).value();
  auto ctx = Context::create(1, 1).value();
  auto g = random_mlp(2);
  auto t = Trainer::create(g, ctx.get(), {}).value();
  ASSERT_TRUE(t->set_frozen("a.", true).ok());
  EXPECT_FALSE(t->set_frozen("zzz", true).ok());
  std::vector<double> before = values(param(*g, "a.w"));
  std::vector<double> b_before = values(param(*g, "b.w"));
  ASSERT_TRUE(t->step({x}, y).ok());
  expect_close(param(*g, "a.w").data(), before, 0, 0, "frozen a.w");
  EXPECT_NE(values(param(*g, "b.w")), b_before);
  // Two equal micro-batches accumulated = one step on both (mean losses, SGD).
  TrainerOptions sgd;
  sgd.optimizer.type = "sgd";
  sgd.optimizer.learning_rate = 0.1;
  auto whole = random_mlp(3);
  auto halves = random_mlp(3);
  Tensor x8 = Tensor::zeros(Shape{8, 3}).value();
  std::copy(x.data(), x.data() + 12, x8.mutable_data());
  std::copy(x.data(), x.data() + 12, x8.mutable_data() + 12);
  float l8[8] = {0, 1, 1, 0, 0, 1, 1, 0};
  auto whole_graph = std::make_shared<Graph>();
  {  // same weights, batch of 8
    int in = whole_graph->add_input("x", Shape{8, 3}).value();
    int a = whole_graph->add_constant("a.w", param(*whole, "a.w").clone().value()).value();
    int h = whole_graph->add(OpType::kTanh, "t", {whole_graph->add(OpType::kDense, "a", {in, a}).value()}).value();
    int b = whole_graph->add_constant("b.w", param(*whole, "b.w").clone().value()).value();
    ASSERT_TRUE(whole_graph->add_output(whole_graph->add(OpType::kDense, "b", {h, b}).value()).ok());
  }
  auto tw = Trainer::create(whole_graph, ctx.get(), sgd).value();
  ASSERT_TRUE(tw->step({x8}, Tensor::from_values(Shape{8}, l8, 8).value()).ok());
  auto th = Trainer::create(halves, ctx.get(), sgd).value();
  ASSERT_TRUE(th->accumulate({x}, y).ok());
  ASSERT_TRUE(th->accumulate({x}, y).ok());
  ASSERT_TRUE(th->apply().ok());
  expect_close(param(*halves, "a.w").data(), values(param(*whole_graph, "a.w")), 1e-6, 1e-5, "accumulated a.w");
  EXPECT_FALSE(th->apply().ok());  // nothing accumulated
}

TEST(Losses, ValuesGradientsAndErrors) {
  float logits[6] = {2, 0, -1, 0.5f, 0.5f, 0.5f};
  Tensor p = Tensor::from_values(Shape{2, 3}, logits, 6).value();
  float ids[2] = {0, 2};
  Tensor g = Tensor::zeros(Shape{2, 3}).value();
  auto ce = compute_loss({}, p, Tensor::from_values(Shape{2}, ids, 2).value(), &g);
  ASSERT_TRUE(ce.ok());
  const double lse0 = std::log(std::exp(2.0) + 1 + std::exp(-1.0)), lse1 = std::log(3 * std::exp(0.5));
  EXPECT_NEAR(ce.value(), ((lse0 - 2) + (lse1 - 0.5)) / 2, 1e-6);
  EXPECT_NEAR(g.data()[0], (std::exp(2 - lse0) - 1) / 2, 1e-6);
  float bad_ids[2] = {0, 3};
  EXPECT_EQ(compute_loss({}, p, Tensor::from_values(Shape{2}, bad_ids, 2).value(), nullptr).status().code(),
            StatusCode::kOutOfRange);
  LossOptions mse{LossType::kMeanSquaredError, 0};
  EXPECT_FALSE(compute_loss(mse, p, Tensor::zeros(Shape{3, 2}).value(), nullptr).ok());
  float nan_logits[6] = {NAN, 0, 0, 0, 0, 0};
  EXPECT_NE(compute_loss({}, Tensor::from_values(Shape{2, 3}, nan_logits, 6).value(),
                         Tensor::from_values(Shape{2}, ids, 2).value(), nullptr).status().message().find("non-finite"),
            std::string::npos);
  LossOptions bce{LossType::kBinaryCrossEntropy, 0};
  float t[6] = {1, 0, 1, 0, 0, 1};
  auto b = compute_loss(bce, p, Tensor::from_values(Shape{2, 3}, t, 6).value(), &g);
  ASSERT_TRUE(b.ok());
  double want = 0;
  for (int i = 0; i < 6; ++i) {
    double s = 1 / (1 + std::exp(-logits[i]));
    want -= t[i] * std::log(s) + (1 - t[i]) * std::log(1 - s);
  }
  EXPECT_NEAR(b.value(), want / 6, 1e-6);
  EXPECT_TRUE(parse_loss("multinomial").ok());
  // Sampled softmax is cross-entropy with the positive in column 0, after the log-Q correction.
  LossOptions sampled{LossType::kSampledSoftmax, 0};
  float zero_ids[2] = {0, 0};
  Tensor gs = Tensor::zeros(Shape{2, 3}).value();
  auto s1 = compute_loss(sampled, p, Tensor(), &gs);
  auto s2 = compute_loss({}, p, Tensor::from_values(Shape{2}, zero_ids, 2).value(), &g);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_NEAR(s1.value(), s2.value(), 1e-9);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(gs.data()[i], g.data()[i], 1e-7);
  float logq[6] = {0.1f, -1, 2, 0, 0.5f, -0.5f};
  float corrected[6];
  for (int i = 0; i < 6; ++i) corrected[i] = logits[i] - logq[i];
  auto s3 = compute_loss(sampled, p, Tensor::from_values(Shape{2, 3}, logq, 6).value(), nullptr);
  auto s4 = compute_loss({}, Tensor::from_values(Shape{2, 3}, corrected, 6).value(), Tensor::from_values(Shape{2}, zero_ids, 2).value(), nullptr);
  EXPECT_NEAR(s3.value(), s4.value(), 1e-6);
  EXPECT_FALSE(compute_loss(sampled, Tensor::zeros(Shape{2, 1}).value(), Tensor(), nullptr).ok());
  EXPECT_FALSE(parse_loss("hinge").ok());
  OptimizerOptions cos;
  cos.schedule = "cosine";
  cos.learning_rate = 1.0;
  cos.warmup_steps = 2;
  cos.total_steps = 12;
  EXPECT_NEAR(scheduled_learning_rate(cos, 0), 0.5, 1e-12);
  EXPECT_NEAR(scheduled_learning_rate(cos, 7), 0.5, 1e-12);
  EXPECT_NEAR(scheduled_learning_rate(cos, 12), 0.0, 1e-12);
}

}  // namespace
}  // namespace vitrine

namespace vitrine {
namespace {

// The trainer refuses inputs and targets of the wrong dtype (a .npy of int64 labels, say) with a
// message, instead of reading their bytes as floats.
TEST(Trainer, WrongDtypesAreRefused) {
  auto g = std::make_shared<Graph>();
  int x = g->add_input("x", Shape{2, 3}).value();
  Tensor w = Tensor::zeros(Shape{2, 3}).value();
  int y = g->add(OpType::kDense, "fc", {x, g->add_constant("fc.w", w).value()}).value();
  ASSERT_TRUE(g->add_output(y).ok());
  auto ctx = Context::create(1, 1).value();
  TrainerOptions o;
  o.loss.type = LossType::kMeanSquaredError;
  auto trainer = Trainer::create(g, ctx.get(), o).value();
  Tensor input = Tensor::zeros(Shape{2, 3}).value();
  Result<double> bad_target = trainer->step({input}, Tensor::zeros(Shape{2, 2}, DType::kI64).value());
  ASSERT_FALSE(bad_target.ok());
  EXPECT_NE(bad_target.status().message().find("target must be f32, got i64"), std::string::npos) << bad_target.status().to_string();
  Result<double> bad_input = trainer->step({Tensor::zeros(Shape{2, 3}, DType::kU8).value()}, Tensor::zeros(Shape{2, 2}).value());
  ASSERT_FALSE(bad_input.ok());
  EXPECT_NE(bad_input.status().message().find("must be f32, got u8"), std::string::npos) << bad_input.status().to_string();
  EXPECT_TRUE(trainer->step({input}, Tensor::zeros(Shape{2, 2}).value()).ok());
}

}  // namespace
}  // namespace vitrine
