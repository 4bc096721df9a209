// Engine-kernel ops (no XNNPACK lowering) against PyTorch golden values from
// scripts/models/export_op_goldens.py ($VITRINE_PARITY_MODELS/goldens), plus mixed graphs where
// XNNPACK segments and engine kernels alternate.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "op_cases.h"
#include "reference.h"
#include "vitrine/graph.h"
#include "vitrine/npy.h"

namespace vitrine {
namespace {

using testing::expect_close;
using testing::random_tensor;

std::string golden_dir(const std::string& name) { return testing::parity_dir("goldens", name); }
bool require() { return testing::require_models(); }
Tensor npy(const std::string& dir, const std::string& name) { return testing::load_npy(dir, name); }
std::vector<double> as_double(const Tensor& t) { return testing::to_doubles(t); }

// Runs one node whose first `n_inputs` tensors are graph inputs and the rest constants.
Result<std::vector<Tensor>> run_node(OpType type, const OpAttrs& attrs, const std::vector<Tensor>& tensors, size_t n_inputs) {
  std::vector<bool> constant(tensors.size(), true);
  for (size_t i = 0; i < n_inputs && i < tensors.size(); ++i) constant[i] = false;
  return testing::run_node(type, attrs, tensors, constant);
}

class RnnGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(RnnGolden, MatchesPyTorch) {
  const std::string name = GetParam();
  const std::string dir = golden_dir(name);
  Tensor x = npy(dir, "x");
  if (x.empty()) {
    if (require()) FAIL() << "golden " << name << " missing";
    GTEST_SKIP() << "no goldens (VITRINE_PARITY_MODELS)";
  }
  const bool lstm = name.rfind("lstm", 0) == 0;
  const bool bi = name.find("_bi") != std::string::npos;
  OpAttrs a;
  a.numbers["hidden_size"] = 6;
  a.numbers["bidirectional"] = bi ? 1 : 0;
  std::vector<Tensor> in = {x, npy(dir, "lengths"), npy(dir, "w_ih"), npy(dir, "w_hh"), npy(dir, "b_ih"), npy(dir, "b_hh")};
  // Graph input order: x, then the constants, with lengths last (as the op expects).
  std::vector<Tensor> ordered = {in[0], in[2], in[3], in[4], in[5], in[1]};
  auto g = std::make_shared<Graph>();
  std::vector<int> ids = {g->add_input("x", x.shape()).value()};
  for (size_t i = 1; i < 5; ++i) ids.push_back(g->add_constant("w" + std::to_string(i), ordered[i]).value());
  ids.push_back(g->add_input("lengths", ordered[5].shape()).value());
  auto outs = g->add_node(lstm ? OpType::kLstm : OpType::kGru, "rnn", ids, a);
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  for (int o : outs.value()) ASSERT_TRUE(g->add_output(o).ok());
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(g, ctx.get()).value();
  std::vector<Tensor> result;
  ASSERT_TRUE(ex->run({x, ordered[5]}, &result).ok());
  expect_close(result[0].data(), as_double(npy(dir, "y")), 1e-5, 1e-4, "y");
  expect_close(result[1].data(), as_double(npy(dir, "h_n")), 1e-5, 1e-4, "h_n");
  if (lstm) expect_close(result[2].data(), as_double(npy(dir, "c_n")), 1e-5, 1e-4, "c_n");
  // Bad lengths are refused with the position named.
  Tensor bad = ordered[5].clone().value();
  bad.mutable_data()[1] = 9;
  Status s = ex->run({x, bad}, &result);
  EXPECT_NE(s.message().find("lengths[1] = 9"), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Torch, RnnGolden,
                         ::testing::Values("gru_uni", "gru_bi", "gru_uni_lengths", "gru_bi_lengths", "lstm_uni", "lstm_bi",
                                           "lstm_uni_lengths", "lstm_bi_lengths"));

TEST(KernelOps, EmbeddingBagLayerNormLogSoftmaxMatchPyTorch) {
  for (const char* mode : {"mean", "sum"}) {
    const std::string dir = golden_dir(std::string("embedding_bag_") + mode);
    Tensor ids = npy(dir, "ids");
    if (ids.empty()) {
      if (require()) FAIL() << "goldens missing";
      GTEST_SKIP() << "no goldens";
    }
    OpAttrs a;
    a.strings["mode"] = mode;
    auto out = run_node(OpType::kEmbeddingBag, a, {ids, npy(dir, "table"), npy(dir, "weights")}, 1);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_close(out.value()[0].data(), as_double(npy(dir, "y")), 1e-5, 1e-5, mode);
  }
  std::string dir = golden_dir("layer_norm");
  auto ln = run_node(OpType::kLayerNorm, {}, {npy(dir, "x"), npy(dir, "gamma"), npy(dir, "beta")}, 1);
  ASSERT_TRUE(ln.ok()) << ln.status().to_string();
  expect_close(ln.value()[0].data(), as_double(npy(dir, "y")), 1e-5, 1e-4, "layer_norm");
  dir = golden_dir("log_softmax");
  auto ls = run_node(OpType::kLogSoftmax, {}, {npy(dir, "x")}, 1);
  ASSERT_TRUE(ls.ok());
  expect_close(ls.value()[0].data(), as_double(npy(dir, "y")), 1e-4, 1e-5, "log_softmax");
}

TEST(KernelOps, EmbeddingGathersRowsAndNamesBadIds) {
  std::mt19937 rng(1);
  Tensor table = random_tensor(Shape{5, 3}, rng);
  float idv[4] = {4, 0, 0, 2};
  Tensor ids = Tensor::from_values(Shape{2, 2}, idv, 4).value();
  auto out = run_node(OpType::kEmbedding, {}, {ids, table}, 1);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 2, 3}));
  std::vector<double> want;
  for (float id : idv)
    for (int d = 0; d < 3; ++d) want.push_back(table.data()[static_cast<int>(id) * 3 + d]);
  expect_close(out.value()[0].data(), want, 0, 0, "embedding");
  idv[2] = 5;
  out = run_node(OpType::kEmbedding, {}, {Tensor::from_values(Shape{2, 2}, idv, 4).value(), table}, 1);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(out.status().message().find("id 5 at position 2 is outside the table's 5 rows"), std::string::npos)
      << out.status().message();
  idv[2] = 1.5f;
  out = run_node(OpType::kEmbedding, {}, {Tensor::from_values(Shape{2, 2}, idv, 4).value(), table}, 1);
  EXPECT_NE(out.status().message().find("not an integer"), std::string::npos);
}

TEST(KernelOps, MixedGraphsAlternateXnnpackAndEngineKernels) {
  std::mt19937 rng(2);
  auto g = std::make_shared<Graph>();
  int ids = g->add_input("ids", Shape{2, 3}).value();
  int table = g->add_constant("table", random_tensor(Shape{10, 8}, rng)).value();
  int bag = g->add(OpType::kEmbeddingBag, "bag", {ids, table}).value();
  int w1 = g->add_constant("w1", random_tensor(Shape{8, 8}, rng)).value();
  int h = g->add(OpType::kDense, "fc1", {bag, w1}).value();
  int gamma = g->add_constant("gamma", random_tensor(Shape{8}, rng)).value();
  int beta = g->add_constant("beta", random_tensor(Shape{8}, rng)).value();
  int n = g->add(OpType::kLayerNorm, "ln", {h, gamma, beta}).value();
  int r = g->add(OpType::kRelu, "relu", {n}).value();
  int w2 = g->add_constant("w2", random_tensor(Shape{4, 8}, rng)).value();
  int o = g->add(OpType::kDense, "fc2", {r, w2}).value();
  int p = g->add(OpType::kLogSoftmax, "logp", {o}).value();
  ASSERT_TRUE(g->add_output(p).ok());
  ASSERT_TRUE(g->add_output(h).ok());  // an intermediate value can be an output too
  auto ctx = Context::create(2, 2).value();
  auto ex = Executor::create(g, ctx.get()).value();
  float idv[6] = {1, 2, -1, 7, 7, 3};
  Tensor in = Tensor::from_values(Shape{2, 3}, idv, 6).value();
  std::vector<Tensor> out;
  ASSERT_TRUE(ex->run({in}, &out).ok());
  // Reference, step by step in plain C++.
  const Tensor& tb = g->value(table).constant;
  std::vector<double> ref_h, ref_p;
  for (int b = 0; b < 2; ++b) {
    std::vector<double> e(8, 0.0);
    int count = 0;
    for (int j = 0; j < 3; ++j) {
      int id = static_cast<int>(idv[b * 3 + j]);
      if (id < 0) continue;
      ++count;
      for (int d = 0; d < 8; ++d) e[d] += tb.data()[id * 8 + d];
    }
    for (double& v : e) v /= count;
    std::vector<double> hv(8, 0.0);
    for (int o2 = 0; o2 < 8; ++o2)
      for (int d = 0; d < 8; ++d) hv[o2] += e[d] * g->value(w1).constant.data()[o2 * 8 + d];
    ref_h.insert(ref_h.end(), hv.begin(), hv.end());
    double mean = 0, var = 0;
    for (double v : hv) mean += v / 8;
    for (double v : hv) var += (v - mean) * (v - mean) / 8;
    std::vector<double> rv(8);
    for (int d = 0; d < 8; ++d)
      rv[d] = std::max(0.0, (hv[d] - mean) / std::sqrt(var + 1e-5) * g->value(gamma).constant.data()[d] + g->value(beta).constant.data()[d]);
    std::vector<double> ov(4, 0.0);
    for (int o2 = 0; o2 < 4; ++o2)
      for (int d = 0; d < 8; ++d) ov[o2] += rv[d] * g->value(w2).constant.data()[o2 * 8 + d];
    double mx = *std::max_element(ov.begin(), ov.end()), sum = 0;
    for (double v : ov) sum += std::exp(v - mx);
    for (double v : ov) ref_p.push_back(v - mx - std::log(sum));
  }
  expect_close(out[0].data(), ref_p, 1e-4, 1e-4, "log probs");
  expect_close(out[1].data(), ref_h, 1e-4, 1e-4, "hidden");
  // A new batch size re-plans every segment.
  float more[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1};
  ASSERT_TRUE(ex->run({Tensor::from_values(Shape{4, 3}, more, 12).value()}, &out).ok());
  EXPECT_EQ(out[0].shape(), (Shape{4, 4}));
}

}  // namespace
}  // namespace vitrine

// The recurrent layers' vectorizable activations (engine/src/ops/fast_math.h) against libm.
#include "../../engine/src/ops/fast_math.h"

namespace vitrine {
namespace {

TEST(FastMath, ExpSigmoidAndTanhMatchLibm) {
  double worst_exp = 0, worst_sig = 0, worst_tanh = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = static_cast<float>(i) * 4.4e-4f;  // [-88, 88]
    const double e = std::exp(static_cast<double>(x));
    if (x >= -87.0f) worst_exp = std::max(worst_exp, std::fabs(exp_approx(x) - e) / e);  // clamped below -87
    float s = x / 4, t = x / 8;  // sigmoid on [-22, 22], tanh on [-11, 11]
    sigmoid_inplace(&s, 1);
    tanh_inplace(&t, 1);
    worst_sig = std::max(worst_sig, std::fabs(s - 1.0 / (1.0 + std::exp(-static_cast<double>(x) / 4))));
    const double tt = std::tanh(static_cast<double>(x) / 8);
    worst_tanh = std::max(worst_tanh, std::fabs(t - tt) / std::max(std::fabs(tt), 1e-30));
  }
  EXPECT_LT(worst_exp, 3e-7);
  EXPECT_LT(worst_sig, 2e-7);   // absolute
  EXPECT_LT(worst_tanh, 1e-6);  // relative, small arguments included
  float edge[] = {-1000.0f, 1000.0f};
  sigmoid_inplace(edge, 2);
  EXPECT_EQ(edge[1], 1.0f);
  EXPECT_GE(edge[0], 0.0f);
  EXPECT_LT(edge[0], 1e-37f);
}

}  // namespace
}  // namespace vitrine

namespace vitrine {
namespace {

// f16 is storage: Cast to it rounds to nearest even, keeps NaN, turns overflow into infinities, and
// back is exact; f64 arithmetic runs in double; unsigned and 16-bit integers compare as themselves.
TEST(KernelOps, F16F64AndWideIntegerDtypes) {
  const float values[] = {1.0f, -2.5f, 65504.0f, 65520.0f, 1e-8f, NAN, -INFINITY, 0.1f};
  Tensor x = Tensor::from_values(Shape{8}, values, 8).value();
  OpAttrs to_f16, to_f32;
  to_f16.strings["to"] = "f16";
  to_f32.strings["to"] = "f32";
  Result<std::vector<Tensor>> h = testing::run_node(OpType::kCast, to_f16, {x});
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  ASSERT_EQ(h->at(0).dtype(), DType::kF16);
  const uint16_t* bits = h->at(0).data_as<uint16_t>();
  EXPECT_EQ(bits[0], 0x3c00);
  EXPECT_EQ(bits[2], 0x7bff);           // the largest half
  EXPECT_EQ(bits[3], 0x7c00);           // rounds past it: +inf
  EXPECT_EQ(bits[4], 0x0000);           // below half the smallest subnormal
  EXPECT_EQ(bits[5] & 0x7c00, 0x7c00);  // NaN stays NaN
  EXPECT_NE(bits[5] & 0x03ff, 0);
  EXPECT_EQ(bits[6], 0xfc00);
  Result<std::vector<Tensor>> back = testing::run_node(OpType::kCast, to_f32, {h->at(0)});
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->at(0).data()[1], -2.5f);
  EXPECT_EQ(back->at(0).data()[7], 0.0999755859375f);  // 0.1 to the nearest half
  EXPECT_TRUE(std::isnan(back->at(0).data()[5]));

  Tensor a = Tensor::zeros(Shape{2}, DType::kF64).value(), b = Tensor::zeros(Shape{2}, DType::kF64).value();
  a.mutable_data_as<double>()[0] = 0.1;
  b.mutable_data_as<double>()[0] = 0.2;
  a.mutable_data_as<double>()[1] = 1e300;
  b.mutable_data_as<double>()[1] = 1e300;
  Result<std::vector<Tensor>> sum = testing::run_node(OpType::kAdd, {}, {a, b});
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(sum->at(0).dtype(), DType::kF64);
  EXPECT_EQ(sum->at(0).data_as<double>()[0], 0.1 + 0.2);  // not the f32 sum
  EXPECT_EQ(sum->at(0).data_as<double>()[1], 2e300);

  Tensor u = Tensor::zeros(Shape{2}, DType::kU64).value(), v = Tensor::zeros(Shape{2}, DType::kU64).value();
  u.mutable_data_as<uint64_t>()[0] = uint64_t{1} << 63;  // above INT64_MAX
  v.mutable_data_as<uint64_t>()[0] = 5;
  Result<std::vector<Tensor>> mx = testing::run_node(OpType::kMax, {}, {u, v});
  ASSERT_TRUE(mx.ok()) << mx.status().to_string();
  EXPECT_EQ(mx->at(0).data_as<uint64_t>()[0], uint64_t{1} << 63);
  Tensor s = Tensor::zeros(Shape{1}, DType::kI16).value(), t = Tensor::zeros(Shape{1}, DType::kI16).value();
  s.mutable_data_as<int16_t>()[0] = -300;
  t.mutable_data_as<int16_t>()[0] = 200;
  Result<std::vector<Tensor>> mn = testing::run_node(OpType::kMin, {}, {s, t});
  ASSERT_TRUE(mn.ok()) << mn.status().to_string();
  EXPECT_EQ(mn->at(0).data_as<int16_t>()[0], -300);
}

}  // namespace
}  // namespace vitrine
