// Gradient checks (finite differences, see op_cases.h) of the sequence ops' backward kernels:
// gru / lstm (backpropagation through time), attention and inference-mode batch_norm.
// Tolerances: with eps = 1e-2 the central differences of these smooth ops agree with the analytic
// gradients to ~3e-5 absolute / 3e-4 relative in float32; the checks allow about 7x that.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "op_cases.h"
#include "vitrine/graph.h"

namespace vitrine {
namespace {

using testing::check_op_case;
using testing::OpCase;
using testing::CaseInput;
using testing::InputRole;

struct RnnSpec {
  bool lstm = false;
  int64_t n = 2, t = 3, i = 3, h = 4;
  bool bidirectional = false, reverse = false;
  int linear_before_reset = 1;  // gru only
  std::vector<float> lengths;   // empty: no lengths input
};

OpCase rnn_case(const std::string& label, const RnnSpec& s) {
  OpCase c;
  c.label = label;
  c.op = s.lstm ? OpType::kLstm : OpType::kGru;
  c.attrs.numbers["hidden_size"] = static_cast<double>(s.h);
  if (s.bidirectional) c.attrs.numbers["bidirectional"] = 1;
  if (s.reverse) c.attrs.numbers["reverse"] = 1;
  if (!s.lstm) c.attrs.numbers["linear_before_reset"] = s.linear_before_reset;
  const int64_t rows = (s.bidirectional ? 2 : 1) * (s.lstm ? 4 : 3) * s.h;
  c.inputs = {CaseInput{Shape{s.n, s.t, s.i}, InputRole::kActivation, nullptr, 0.0f},
              CaseInput{Shape{rows, s.i}, InputRole::kParameter, nullptr, 0.0f},
              CaseInput{Shape{rows, s.h}, InputRole::kParameter, nullptr, 0.0f},
              CaseInput{Shape{rows}, InputRole::kParameter, nullptr, 0.0f},
              CaseInput{Shape{rows}, InputRole::kParameter, nullptr, 0.0f}};
  if (!s.lengths.empty()) {
    const std::vector<float> lengths = s.lengths;
    c.inputs.push_back(CaseInput{Shape{s.n}, InputRole::kIds,
                                 [lengths](Tensor& t, std::mt19937&) {
                                   for (size_t b = 0; b < lengths.size(); ++b) t.mutable_data()[b] = lengths[b];
                                 },
                                 0.0f});
  }
  c.eps = 1e-2f;
  c.atol = 2e-4;
  c.rtol = 2e-3;
  return c;
}

TEST(GradSeqGru, Unidirectional) {
  for (int lbr : {0, 1}) {
    RnnSpec s;
    s.linear_before_reset = lbr;
    check_op_case(rnn_case("gru uni lbr=" + std::to_string(lbr), s));
  }
}

TEST(GradSeqGru, Bidirectional) {
  for (int lbr : {0, 1}) {
    RnnSpec s;
    s.bidirectional = true;
    s.linear_before_reset = lbr;
    s.n = 3;
    s.i = 2;
    s.h = 3;
    check_op_case(rnn_case("gru bi lbr=" + std::to_string(lbr), s));
  }
}

TEST(GradSeqGru, Reverse) {
  for (int lbr : {0, 1}) {
    RnnSpec s;
    s.reverse = true;
    s.linear_before_reset = lbr;
    s.t = 4;
    check_op_case(rnn_case("gru reverse lbr=" + std::to_string(lbr), s));
  }
}

TEST(GradSeqGru, Lengths) {
  for (int lbr : {0, 1}) {
    RnnSpec s;
    s.n = 3;
    s.linear_before_reset = lbr;
    s.lengths = {3, 1, 2};
    check_op_case(rnn_case("gru uni lengths lbr=" + std::to_string(lbr), s));
    s.bidirectional = true;
    check_op_case(rnn_case("gru bi lengths lbr=" + std::to_string(lbr), s));
    s.bidirectional = false;
    s.reverse = true;
    s.t = 4;
    s.lengths = {4, 0, 2};  // an empty sequence: zero outputs, zero state, no gradient
    check_op_case(rnn_case("gru reverse lengths lbr=" + std::to_string(lbr), s));
  }
}

TEST(GradSeqLstm, Unidirectional) {
  RnnSpec s;
  s.lstm = true;
  check_op_case(rnn_case("lstm uni", s));
  s.n = 1;
  s.t = 4;
  s.i = 1;
  s.h = 2;
  check_op_case(rnn_case("lstm uni small", s));
}

TEST(GradSeqLstm, Bidirectional) {
  RnnSpec s;
  s.lstm = true;
  s.bidirectional = true;
  s.n = 3;
  s.i = 2;
  s.h = 3;
  check_op_case(rnn_case("lstm bi", s));
}

TEST(GradSeqLstm, Reverse) {
  RnnSpec s;
  s.lstm = true;
  s.reverse = true;
  s.t = 4;
  check_op_case(rnn_case("lstm reverse", s));
}

TEST(GradSeqLstm, Lengths) {
  RnnSpec s;
  s.lstm = true;
  s.n = 3;
  s.lengths = {3, 1, 2};
  check_op_case(rnn_case("lstm uni lengths", s));
  s.bidirectional = true;
  check_op_case(rnn_case("lstm bi lengths", s));
  s.bidirectional = false;
  s.reverse = true;
  s.t = 4;
  s.lengths = {2, 4, 0};
  check_op_case(rnn_case("lstm reverse lengths", s));
}

// A null output gradient means zero: the result equals passing explicit zeros, and with no output
// gradient at all every input gradient is zero (overwritten, not accumulated).
TEST(GradSeqRnn, NullOutputGradientsAreZero) {
  for (bool lstm : {false, true}) {
    SCOPED_TRACE(lstm ? "lstm" : "gru");
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    auto random = [&](const Shape& s) {
      Tensor t = Tensor::zeros(s).value();
      for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
      return t;
    };
    const int64_t n = 2, steps = 3, isz = 2, hs = 3, rows = 2 * (lstm ? 4 : 3) * hs;
    OpAttrs a;
    a.numbers["hidden_size"] = hs;
    a.numbers["bidirectional"] = 1;
    std::vector<Tensor> in = {random(Shape{n, steps, isz}), random(Shape{rows, isz}), random(Shape{rows, hs}),
                              random(Shape{rows}), random(Shape{rows})};
    float len[2] = {3, 2};
    in.push_back(Tensor::from_values(Shape{n}, len, 2).value());
    const OpInfo& info = op_info(lstm ? OpType::kLstm : OpType::kGru);
    auto ctx = Context::create(1, 1).value();
    std::vector<Tensor> outs = {Tensor::zeros(Shape{n, steps, 2 * hs}).value(), Tensor::zeros(Shape{n, 2 * hs}).value()};
    if (lstm) outs.push_back(Tensor::zeros(Shape{n, 2 * hs}).value());
    std::vector<const Tensor*> in_ptrs, out_ptrs;
    for (const Tensor& t : in) in_ptrs.push_back(&t);
    for (const Tensor& t : outs) out_ptrs.push_back(&t);
    Tensor dh = random(Shape{n, 2 * hs});
    Tensor zeros_y = Tensor::zeros(Shape{n, steps, 2 * hs}).value();
    Tensor zeros_h = Tensor::zeros(Shape{n, 2 * hs}).value();
    auto grads = [&](const std::vector<const Tensor*>& gout) {
      std::vector<Tensor> g;
      for (size_t i = 0; i < 5; ++i) {
        g.push_back(Tensor::zeros(in[i].shape()).value());
        std::fill_n(g.back().mutable_data(), g.back().num_elements(), 42.0f);  // must be overwritten
      }
      std::vector<Tensor*> ptrs;
      for (Tensor& t : g) ptrs.push_back(&t);
      ptrs.push_back(nullptr);  // lengths
      Status s = info.backward(ctx.get(), a, in_ptrs, out_ptrs, gout, ptrs);
      EXPECT_TRUE(s.ok()) << s.to_string();
      return g;
    };
    std::vector<const Tensor*> sparse = {nullptr, &dh};
    std::vector<const Tensor*> dense = {&zeros_y, &dh};
    std::vector<const Tensor*> none = {nullptr, nullptr};
    if (lstm) {
      sparse.push_back(nullptr);
      dense.push_back(&zeros_h);
      none.push_back(nullptr);
    }
    std::vector<Tensor> a_grads = grads(sparse), b_grads = grads(dense), z_grads = grads(none);
    for (size_t i = 0; i < 5; ++i) {
      for (int64_t k = 0; k < in[i].num_elements(); ++k) {
        EXPECT_EQ(a_grads[i].data()[k], b_grads[i].data()[k]) << "input " << i << " element " << k;
        EXPECT_EQ(z_grads[i].data()[k], 0.0f) << "input " << i << " element " << k;
      }
    }
    bool any = false;
    for (int64_t k = 0; k < in[0].num_elements(); ++k) any = any || a_grads[0].data()[k] != 0.0f;
    EXPECT_TRUE(any) << "dh_n alone must reach x";
  }
}

OpCase attention_case(const std::string& label, const std::vector<Shape>& shapes, bool causal = false) {
  OpCase c;
  c.label = label;
  c.op = OpType::kAttention;
  if (causal) c.attrs.numbers["causal"] = 1;
  for (const Shape& s : shapes) c.inputs.push_back(CaseInput{s, InputRole::kActivation, nullptr, 0.0f});
  c.eps = 1e-2f;
  c.atol = 2e-4;
  c.rtol = 2e-3;
  return c;
}

TEST(GradSeqAttention, Rank3) {
  check_op_case(attention_case("rank 3", {Shape{2, 3, 4}, Shape{2, 3, 4}, Shape{2, 3, 2}}));
  check_op_case(attention_case("rank 3, Lq != Lk", {Shape{2, 2, 3}, Shape{2, 4, 3}, Shape{2, 4, 3}}));
  OpCase scaled = attention_case("rank 3, scale", {Shape{1, 3, 2}, Shape{1, 2, 2}, Shape{1, 2, 3}});
  scaled.attrs.numbers["scale"] = 1.7;
  check_op_case(scaled);
}

TEST(GradSeqAttention, Rank3Mask) {
  check_op_case(attention_case("full mask", {Shape{2, 3, 4}, Shape{2, 4, 4}, Shape{2, 4, 3}, Shape{2, 3, 4}}));
  check_op_case(attention_case("broadcast mask", {Shape{2, 3, 4}, Shape{2, 4, 4}, Shape{2, 4, 3}, Shape{4}}));
  // A padding mask: one key blocked for every query of batch 1 (its gradient is ~0 there).
  OpCase padded = attention_case("padding mask", {Shape{2, 3, 2}, Shape{2, 3, 2}, Shape{2, 3, 2}, Shape{2, 1, 3}});
  padded.inputs[3].role = InputRole::kFixed;
  padded.inputs[3].fill = [](Tensor& t, std::mt19937&) {
    std::fill_n(t.mutable_data(), t.num_elements(), 0.0f);
    t.mutable_data()[5] = -1e9f;
  };
  check_op_case(padded);
}

TEST(GradSeqAttention, Causal) {
  check_op_case(attention_case("causal", {Shape{2, 4, 3}, Shape{2, 4, 3}, Shape{2, 4, 2}}, true));
  check_op_case(attention_case("causal + mask", {Shape{1, 3, 2}, Shape{1, 3, 2}, Shape{1, 3, 2}, Shape{1, 3, 3}}, true));
}

TEST(GradSeqAttention, Rank4) {
  check_op_case(attention_case("rank 4", {Shape{2, 2, 3, 4}, Shape{2, 2, 3, 4}, Shape{2, 2, 3, 2}}));
  check_op_case(attention_case("rank 4 mask (B, 1, 1, Lk)",
                                 {Shape{2, 2, 3, 2}, Shape{2, 2, 4, 2}, Shape{2, 2, 4, 3}, Shape{2, 1, 1, 4}}));
  check_op_case(attention_case("rank 4 causal", {Shape{1, 3, 3, 2}, Shape{1, 3, 3, 2}, Shape{1, 3, 3, 2}}, true));
}

TEST(GradSeqAttention, BroadcastBatch) {
  // Shared keys / values across heads (multi-query style): their gradients sum over the heads.
  check_op_case(attention_case("k, v broadcast over heads",
                                 {Shape{2, 3, 2, 2}, Shape{2, 1, 3, 2}, Shape{2, 1, 3, 2}, Shape{1, 3, 1, 3}}));
  check_op_case(attention_case("q broadcast over batch", {Shape{1, 2, 3}, Shape{3, 2, 3}, Shape{3, 2, 2}}, true));
}

OpCase batch_norm_case(const std::string& label, const Shape& x, bool stats_differentiable) {
  const int64_t c = x.dim(-1);
  OpCase g;
  g.label = label;
  g.op = OpType::kBatchNorm;
  g.attrs.numbers["epsilon"] = 1e-3;
  const InputRole stats = stats_differentiable ? InputRole::kParameter : InputRole::kFixed;
  g.inputs = {CaseInput{x, InputRole::kActivation, nullptr, 0.0f},
              CaseInput{Shape{c}, InputRole::kParameter, nullptr, 0.0f},
              CaseInput{Shape{c}, InputRole::kParameter, nullptr, 0.0f},
              CaseInput{Shape{c}, stats, nullptr, 0.0f},
              CaseInput{Shape{c}, stats,
                        [](Tensor& t, std::mt19937& rng) {
                          std::uniform_real_distribution<float> d(0.5f, 1.5f);
                          for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
                        },
                        0.0f}};
  g.eps = 1e-2f;
  g.atol = 2e-4;
  g.rtol = 2e-3;
  return g;
}

TEST(GradSeqBatchNorm, FrozenStatistics) {
  check_op_case(batch_norm_case("rank 2", Shape{5, 3}, false));
  check_op_case(batch_norm_case("rank 4 NHWC", Shape{2, 3, 2, 4}, false));
  check_op_case(batch_norm_case("rank 1", Shape{3}, false));
}

TEST(GradSeqBatchNorm, StatisticsGradientsWhenAsked) {
  check_op_case(batch_norm_case("mean / var differentiated", Shape{4, 3}, true));
}

}  // namespace
}  // namespace vitrine
