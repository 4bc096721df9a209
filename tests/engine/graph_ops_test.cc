// Every graph op, lowered to XNNPACK by the Executor, against a plain reference on random shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "reference.h"
#include "vitrine/graph.h"

namespace vitrine {
namespace {

using testing::expect_close;
using testing::random_tensor;

std::unique_ptr<Context> ctx2() { return Context::create(2, 2).value(); }

// Builds input(s) -> op -> output; `constant[i]` marks inputs passed as graph constants.
Result<std::vector<Tensor>> run_op(OpType type, OpAttrs attrs, const std::vector<Tensor>& inputs,
                                   const std::vector<bool>& constant = {}) {
  auto graph = std::make_shared<Graph>();
  std::vector<int> ids;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    bool is_const = i < constant.size() && constant[i];
    Result<int> id = is_const ? graph->add_constant("c" + std::to_string(i), inputs[i])
                              : graph->add_input("x" + std::to_string(i), inputs[i].shape());
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
    if (!is_const) feeds.push_back(inputs[i]);
  }
  Result<int> out = graph->add(type, "node", ids, attrs);
  if (!out.ok()) return out.status();
  VITRINE_RETURN_IF_ERROR(graph->add_output(out.value()));
  static std::unique_ptr<Context> ctx = ctx2();
  auto ex = Executor::create(graph, ctx.get());
  if (!ex.ok()) return ex.status();
  std::vector<Tensor> outputs;
  VITRINE_RETURN_IF_ERROR(ex.value()->run(feeds, &outputs));
  return outputs;
}

// x (N,H,W,C), w (O,KH,KW,C/g): plain NHWC convolution.
std::vector<double> conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, int64_t sh, int64_t sw,
                             int64_t dh, int64_t dw, int64_t pt, int64_t pl, int64_t g, const Shape& out) {
  const Shape &xs = x.shape(), &ws = w.shape();
  const int64_t cig = ws[3], cog = ws[0] / g;
  std::vector<double> y(static_cast<size_t>(out.num_elements()));
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t oh = 0; oh < out[1]; ++oh)
      for (int64_t ow = 0; ow < out[2]; ++ow)
        for (int64_t oc = 0; oc < out[3]; ++oc) {
          const int64_t grp = oc / cog;
          double acc = b ? b->data()[oc] : 0.0;
          for (int64_t kh = 0; kh < ws[1]; ++kh)
            for (int64_t kw = 0; kw < ws[2]; ++kw) {
              const int64_t ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
              if (ih < 0 || iw < 0 || ih >= xs[1] || iw >= xs[2]) continue;
              for (int64_t ci = 0; ci < cig; ++ci)
                acc += double(x.data()[((n * xs[1] + ih) * xs[2] + iw) * xs[3] + grp * cig + ci]) *
                       w.data()[((oc * ws[1] + kh) * ws[2] + kw) * cig + ci];
            }
          y[static_cast<size_t>(((n * out[1] + oh) * out[2] + ow) * out[3] + oc)] = acc;
        }
  return y;
}

TEST(GraphOps, Conv2DMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(20261128);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 25; ++trial) {
    const int64_t g = trial % 5 == 0 ? pick(2, 4) : 1;
    const bool depthwise = trial % 4 == 1;
    const int64_t c = depthwise ? pick(2, 9) : g * pick(1, 5);
    const int64_t groups = depthwise ? c : g;
    const int64_t o = depthwise ? c * pick(1, 2) : g * pick(1, 6);
    const int64_t kh = pick(1, 4), kw = pick(1, 4), sh = pick(1, 3), sw = pick(1, 3), dh = pick(1, 2), dw = pick(1, 2);
    const int64_t pt = pick(0, 2), pl = pick(0, 2), pb = pick(0, 2), pr = pick(0, 2);
    const int64_t h = dh * (kh - 1) + 1 + pick(0, 8), w = dw * (kw - 1) + 1 + pick(0, 8), n = pick(1, 3);
    Tensor x = random_tensor(Shape{n, h, w, c}, rng);
    Tensor wt = random_tensor(Shape{o, kh, kw, c / groups}, rng);
    Tensor b = random_tensor(Shape{o}, rng);
    OpAttrs a;
    a.ints["strides"] = {sh, sw};
    a.ints["dilations"] = {dh, dw};
    a.ints["pads"] = {pt, pl, pb, pr};
    a.numbers["groups"] = static_cast<double>(groups);
    auto out = run_op(OpType::kConv2D, a, {x, wt, b}, {false, true, true});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const Tensor& y = out.value()[0];
    const int64_t oh = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1, ow = (w + pl + pr - dw * (kw - 1) - 1) / sw + 1;
    ASSERT_EQ(y.shape(), (Shape{n, oh, ow, o}));
    expect_close(y.data(), conv_ref(x, wt, &b, sh, sw, dh, dw, pt, pl, groups, y.shape()), 1e-4, 1e-4, "conv");
  }
}

TEST(GraphOps, Conv2DRejectsBadShapes) {
  std::mt19937 rng(1);
  Tensor x = random_tensor(Shape{1, 5, 5, 3}, rng), w = random_tensor(Shape{4, 3, 3, 2}, rng);
  auto out = run_op(OpType::kConv2D, {}, {x, w}, {false, true});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("input has 3 channels"), std::string::npos) << out.status().message();
  Tensor big = random_tensor(Shape{4, 7, 7, 3}, rng);
  out = run_op(OpType::kConv2D, {}, {x, big}, {false, true});
  EXPECT_NE(out.status().message().find("does not fit"), std::string::npos) << out.status().message();
  OpAttrs typo;
  typo.ints["stride"] = {1, 1};
  out = run_op(OpType::kConv2D, typo, {x, random_tensor(Shape{2, 1, 1, 3}, rng)}, {false, true});
  EXPECT_NE(out.status().message().find("unknown attribute 'stride'"), std::string::npos);
  out = run_op(OpType::kConv2D, {}, {x, random_tensor(Shape{2, 1, 1, 3}, rng)}, {false, false});
  EXPECT_NE(out.status().message().find("must be constants"), std::string::npos) << out.status().message();
}

std::vector<double> pool_ref(const Tensor& x, bool is_max, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                             int64_t pt, int64_t pl, const Shape& out) {
  const Shape& xs = x.shape();
  std::vector<double> y(static_cast<size_t>(out.num_elements()));
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t oh = 0; oh < out[1]; ++oh)
      for (int64_t ow = 0; ow < out[2]; ++ow)
        for (int64_t c = 0; c < out[3]; ++c) {
          double acc = is_max ? -INFINITY : 0.0;
          int count = 0;
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t ih = oh * sh - pt + i, iw = ow * sw - pl + j;
              if (ih < 0 || iw < 0 || ih >= xs[1] || iw >= xs[2]) continue;
              double v = x.data()[((n * xs[1] + ih) * xs[2] + iw) * xs[3] + c];
              acc = is_max ? std::max(acc, v) : acc + v;
              ++count;
            }
          y[static_cast<size_t>(((n * out[1] + oh) * out[2] + ow) * out[3] + c)] = is_max ? acc : acc / count;
        }
  return y;
}

TEST(GraphOps, PoolingMatchesReference) {
  std::mt19937 rng(3);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 20; ++trial) {
    const bool is_max = trial % 2 == 0;
    const bool ceil_mode = is_max && trial % 4 == 0;
    const int64_t kh = pick(2, 3), kw = pick(2, 3), sh = pick(1, 2), sw = pick(1, 2);
    const int64_t pt = pick(0, 1), pl = pick(0, 1), pb = pick(0, 1), pr = pick(0, 1);
    const int64_t h = kh + pick(0, 6), w = kw + pick(0, 6);
    Tensor x = random_tensor(Shape{pick(1, 2), h, w, pick(1, 5)}, rng);
    OpAttrs a;
    a.ints["kernel"] = {kh, kw};
    a.ints["strides"] = {sh, sw};
    a.ints["pads"] = {pt, pl, pb, pr};
    if (ceil_mode) a.numbers["ceil_mode"] = 1;
    auto out = run_op(is_max ? OpType::kMaxPool2D : OpType::kAvgPool2D, a, {x});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const Tensor& y = out.value()[0];
    auto size = [&](int64_t in, int64_t k, int64_t s, int64_t lo, int64_t hi) {
      int64_t num = in + lo + hi - k;
      int64_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
      if (ceil_mode && (o - 1) * s >= in + lo) --o;
      return o;
    };
    ASSERT_EQ(y.shape(), (Shape{x.shape()[0], size(h, kh, sh, pt, pb), size(w, kw, sw, pl, pr), x.shape()[3]}));
    expect_close(y.data(), pool_ref(x, is_max, kh, kw, sh, sw, pt, pl, y.shape()), 1e-5, 1e-5,
                 is_max ? "max pool" : "avg pool");
  }
  Tensor x = random_tensor(Shape{2, 5, 4, 3}, rng);
  auto out = run_op(OpType::kGlobalAvgPool2D, {}, {x});
  ASSERT_TRUE(out.ok());
  std::vector<double> ref(6, 0.0);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 20; ++i)
      for (int64_t c = 0; c < 3; ++c) ref[n * 3 + c] += x.data()[(n * 20 + i) * 3 + c] / 20.0;
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 1, 1, 3}));
  expect_close(out.value()[0].data(), ref, 1e-5, 1e-5, "global avg pool");
}

TEST(GraphOps, BinaryOpsBroadcast) {
  std::mt19937 rng(4);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {Shape{2, 3, 4}, Shape{2, 3, 4}}, {Shape{2, 3, 4}, Shape{4}}, {Shape{3, 1}, Shape{1, 5}},
      {Shape{1}, Shape{2, 2, 3}}, {Shape{2, 1, 4}, Shape{3, 1}}};
  for (OpType t : {OpType::kAdd, OpType::kSub, OpType::kMul, OpType::kDiv}) {
    for (const auto& [sa, sb] : cases) {
      Tensor a = random_tensor(sa, rng, 0.5f, 2.0f), b = random_tensor(sb, rng, 0.5f, 2.0f);
      auto out = run_op(t, {}, {a, b});
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      const Tensor& y = out.value()[0];
      const int r = y.shape().rank();
      std::vector<double> ref(static_cast<size_t>(y.num_elements()));
      for (int64_t i = 0; i < y.num_elements(); ++i) {
        int64_t rem = i, ia = 0, ib = 0, sa_stride = 1, sb_stride = 1;
        for (int d = r - 1; d >= 0; --d) {
          int64_t idx = rem % y.shape()[d];
          rem /= y.shape()[d];
          int da = d - (r - sa.rank()), db = d - (r - sb.rank());
          if (da >= 0) { ia += (sa[da] == 1 ? 0 : idx) * sa_stride; sa_stride *= sa[da]; }
          if (db >= 0) { ib += (sb[db] == 1 ? 0 : idx) * sb_stride; sb_stride *= sb[db]; }
        }
        double va = a.data()[ia], vb = b.data()[ib];
        ref[static_cast<size_t>(i)] = t == OpType::kAdd ? va + vb : t == OpType::kSub ? va - vb
                                      : t == OpType::kMul ? va * vb : va / vb;
      }
      expect_close(y.data(), ref, 1e-5, 1e-5, op_info(t).name);
    }
  }
  auto bad = run_op(OpType::kAdd, {}, {random_tensor(Shape{2, 3}, rng), random_tensor(Shape{4}, rng)});
  EXPECT_NE(bad.status().message().find("do not broadcast"), std::string::npos);
}

TEST(GraphOps, ActivationsMatchReference) {
  std::mt19937 rng(5);
  Tensor x = random_tensor(Shape{3, 17}, rng, -5.f, 5.f);
  struct Case { OpType t; OpAttrs a; double (*f)(double); double tol; };
  OpAttrs clip;
  clip.numbers["min"] = 0;
  clip.numbers["max"] = 6;
  OpAttrs leaky;
  leaky.numbers["alpha"] = 0.2;
  std::vector<Case> cases = {
      {OpType::kRelu, {}, [](double v) { return std::max(v, 0.0); }, 1e-6},
      {OpType::kClip, clip, [](double v) { return std::min(std::max(v, 0.0), 6.0); }, 1e-6},
      {OpType::kLeakyRelu, leaky, [](double v) { return v < 0 ? 0.2 * v : v; }, 1e-6},
      {OpType::kSigmoid, {}, [](double v) { return 1 / (1 + std::exp(-v)); }, 1e-5},
      {OpType::kTanh, {}, [](double v) { return std::tanh(v); }, 1e-5},
      {OpType::kHardSwish, {}, [](double v) { return v * std::min(std::max(v + 3, 0.0), 6.0) / 6; }, 1e-5},
      {OpType::kGelu, {}, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, 1e-4},
  };
  for (const Case& c : cases) {
    auto out = run_op(c.t, c.a, {x});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    std::vector<double> ref;
    for (int64_t i = 0; i < x.num_elements(); ++i) ref.push_back(c.f(x.data()[i]));
    expect_close(out.value()[0].data(), ref, c.tol, c.tol, op_info(c.t).name);
  }
  OpAttrs bad_clip;
  bad_clip.numbers["min"] = 2;
  bad_clip.numbers["max"] = 1;
  EXPECT_FALSE(run_op(OpType::kClip, bad_clip, {x}).ok());
}

TEST(GraphOps, SoftmaxRowsSumToOne) {
  std::mt19937 rng(6);
  Tensor x = random_tensor(Shape{4, 10}, rng, -8.f, 8.f);
  auto out = run_op(OpType::kSoftmax, {}, {x});
  ASSERT_TRUE(out.ok());
  std::vector<double> ref;
  for (int r = 0; r < 4; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < 10; ++i) mx = std::max(mx, double(x.data()[r * 10 + i]));
    for (int i = 0; i < 10; ++i) sum += std::exp(x.data()[r * 10 + i] - mx);
    for (int i = 0; i < 10; ++i) ref.push_back(std::exp(x.data()[r * 10 + i] - mx) / sum);
  }
  expect_close(out.value()[0].data(), ref, 1e-6, 1e-5, "softmax");
  OpAttrs axis0;
  axis0.numbers["axis"] = 0;
  EXPECT_NE(run_op(OpType::kSoftmax, axis0, {x}).status().message().find("last axis"), std::string::npos);
}

TEST(GraphOps, ShapeOpsMoveDataCorrectly) {
  std::mt19937 rng(7);
  Tensor x = random_tensor(Shape{2, 3, 4}, rng);
  OpAttrs r;
  r.ints["shape"] = {0, -1};
  auto out = run_op(OpType::kReshape, r, {x});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 12}));
  std::vector<double> same(x.data(), x.data() + 24);
  expect_close(out.value()[0].data(), same, 0, 0, "reshape");
  out = run_op(OpType::kFlatten, {}, {x});
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 12}));
  r.ints["shape"] = {5, -1};
  EXPECT_FALSE(run_op(OpType::kReshape, r, {x}).ok());

  OpAttrs t;
  t.ints["perm"] = {2, 0, 1};
  out = run_op(OpType::kTranspose, t, {x});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value()[0].shape(), (Shape{4, 2, 3}));
  std::vector<double> tref;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) tref.push_back(x.data()[(i * 3 + j) * 4 + k]);
  expect_close(out.value()[0].data(), tref, 0, 0, "transpose");

  Tensor y = random_tensor(Shape{2, 5, 4}, rng);
  OpAttrs c;
  c.numbers["axis"] = -2;
  out = run_op(OpType::kConcat, c, {x, y});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 8, 4}));
  std::vector<double> cref;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 12; ++j) cref.push_back(x.data()[i * 12 + j]);
    for (int j = 0; j < 20; ++j) cref.push_back(y.data()[i * 20 + j]);
  }
  expect_close(out.value()[0].data(), cref, 0, 0, "concat");
  EXPECT_FALSE(run_op(OpType::kConcat, {}, {x, y}).ok());

  OpAttrs s;
  s.ints["starts"] = {1, -3};
  s.ints["ends"] = {100, -1};
  s.ints["axes"] = {1, 2};
  out = run_op(OpType::kSlice, s, {x});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 2, 2}));
  std::vector<double> sref;
  for (int i = 0; i < 2; ++i)
    for (int j = 1; j < 3; ++j)
      for (int k = 1; k < 3; ++k) sref.push_back(x.data()[(i * 3 + j) * 4 + k]);
  expect_close(out.value()[0].data(), sref, 0, 0, "slice");

  OpAttrs p;
  p.ints["pads"] = {0, 1, 0, 0, 0, 2};
  p.numbers["value"] = -1;
  out = run_op(OpType::kPad, p, {x});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 4, 6}));
  EXPECT_EQ(out.value()[0].data()[0], -1.0f);
  EXPECT_EQ(out.value()[0].data()[6], x.data()[0]);
  EXPECT_EQ(out.value()[0].data()[10], -1.0f);

  OpAttrs m;
  m.ints["axes"] = {1};
  m.numbers["keepdims"] = 0;
  out = run_op(OpType::kReduceMean, m, {x});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 4}));
  std::vector<double> mref;
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 4; ++k) {
      double acc = 0;
      for (int j = 0; j < 3; ++j) acc += x.data()[(i * 3 + j) * 4 + k];
      mref.push_back(acc / 3);
    }
  expect_close(out.value()[0].data(), mref, 1e-6, 1e-5, "reduce_mean");
}

TEST(GraphOps, MatMulBatchNormIdentityDense) {
  std::mt19937 rng(8);
  Tensor a = random_tensor(Shape{3, 4, 5}, rng), b = random_tensor(Shape{5, 6}, rng);
  auto out = run_op(OpType::kMatMul, {}, {a, b});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape(), (Shape{3, 4, 6}));
  std::vector<double> ref;
  for (int n = 0; n < 3; ++n)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 6; ++j) {
        double acc = 0;
        for (int k = 0; k < 5; ++k) acc += double(a.data()[(n * 4 + i) * 5 + k]) * b.data()[k * 6 + j];
        ref.push_back(acc);
      }
  expect_close(out.value()[0].data(), ref, 1e-5, 1e-5, "matmul");
  EXPECT_FALSE(run_op(OpType::kMatMul, {}, {a, a}).ok());

  Tensor x = random_tensor(Shape{2, 3, 3, 4}, rng);
  Tensor scale = random_tensor(Shape{4}, rng), bias = random_tensor(Shape{4}, rng),
         mean = random_tensor(Shape{4}, rng), var = random_tensor(Shape{4}, rng, 0.1f, 2.f);
  OpAttrs bn;
  bn.numbers["epsilon"] = 1e-3;
  out = run_op(OpType::kBatchNorm, bn, {x, scale, bias, mean, var}, {false, true, true, true, true});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::vector<double> bref;
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    int c = static_cast<int>(i % 4);
    bref.push_back((x.data()[i] - mean.data()[c]) / std::sqrt(var.data()[c] + 1e-3) * scale.data()[c] + bias.data()[c]);
  }
  expect_close(out.value()[0].data(), bref, 1e-5, 1e-5, "batch_norm");

  out = run_op(OpType::kIdentity, {}, {x});
  ASSERT_TRUE(out.ok());
  expect_close(out.value()[0].data(), std::vector<double>(x.data(), x.data() + x.num_elements()), 0, 0, "identity");

  Tensor dx = random_tensor(Shape{5, 7}, rng), w = random_tensor(Shape{3, 7}, rng), db = random_tensor(Shape{3}, rng);
  out = run_op(OpType::kDense, {}, {dx, w, db}, {false, true, true});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_close(out.value()[0].data(), testing::dense_reference(dx, w, &db), 1e-5, 1e-5, "dense");
}

// Plain attention over (B, L, D) with optional causal masking and an additive (Lq, Lk) mask.
std::vector<double> attention_ref(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, bool causal) {
  const int64_t b = q.shape()[0], lq = q.shape()[1], d = q.shape()[2], lk = k.shape()[1], dv = v.shape()[2];
  std::vector<double> out;
  for (int64_t n = 0; n < b; ++n)
    for (int64_t i = 0; i < lq; ++i) {
      std::vector<double> s(static_cast<size_t>(lk));
      double mx = -INFINITY;
      for (int64_t j = 0; j < lk; ++j) {
        double acc = 0;
        for (int64_t e = 0; e < d; ++e) acc += double(q.data()[(n * lq + i) * d + e]) * k.data()[(n * lk + j) * d + e];
        acc /= std::sqrt(double(d));
        if (mask) acc += mask->data()[i * lk + j];
        if (causal && j > i) acc = -INFINITY;
        s[j] = acc;
        mx = std::max(mx, acc);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t e = 0; e < dv; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < lk; ++j) acc += s[j] / sum * v.data()[(n * lk + j) * dv + e];
        out.push_back(acc);
      }
    }
  return out;
}

TEST(GraphOps, AttentionMatchesReference) {
  std::mt19937 rng(10);
  Tensor q = random_tensor(Shape{2, 5, 8}, rng), k = random_tensor(Shape{2, 7, 8}, rng), v = random_tensor(Shape{2, 7, 3}, rng);
  auto out = run_op(OpType::kAttention, {}, {q, k, v});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape(), (Shape{2, 5, 3}));
  expect_close(out.value()[0].data(), attention_ref(q, k, v, nullptr, false), 1e-5, 1e-4, "attention");
  Tensor mask = random_tensor(Shape{5, 7}, rng, -3.f, 0.f);
  out = run_op(OpType::kAttention, {}, {q, k, v, mask});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_close(out.value()[0].data(), attention_ref(q, k, v, &mask, false), 1e-5, 1e-4, "masked attention");
  Tensor k2 = random_tensor(Shape{2, 5, 8}, rng), v2 = random_tensor(Shape{2, 5, 4}, rng);
  OpAttrs causal;
  causal.numbers["causal"] = 1;
  out = run_op(OpType::kAttention, causal, {q, k2, v2});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  expect_close(out.value()[0].data(), attention_ref(q, k2, v2, nullptr, true), 1e-5, 1e-4, "causal attention");
  EXPECT_FALSE(run_op(OpType::kAttention, causal, {q, k, v}).ok());  // causal needs Lq == Lk
  EXPECT_FALSE(run_op(OpType::kAttention, {}, {q, v, v}).ok());
}

TEST(GraphOps, ConvTransposeMatchesScatterReference) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t s = 1 + trial % 3, kh = 2 + trial % 2, kw = 3 - trial % 2, pad = trial % 2, adj = s > 1 ? trial % 2 : 0;
    const int64_t n = 1 + trial % 2, h = 3, w = 4, c = 2 + trial % 2, o = 3;
    Tensor x = random_tensor(Shape{n, h, w, c}, rng), wt = random_tensor(Shape{o, kh, kw, c}, rng), b = random_tensor(Shape{o}, rng);
    OpAttrs a;
    a.ints["strides"] = {s, s};
    a.ints["pads"] = {pad, pad, pad, pad};
    a.ints["output_padding"] = {adj, adj};
    auto out = run_op(OpType::kConvTranspose2D, a, {x, wt, b}, {false, true, true});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const Shape& ys = out.value()[0].shape();
    const int64_t oh = (h - 1) * s - 2 * pad + kh + adj, ow = (w - 1) * s - 2 * pad + kw + adj;
    ASSERT_EQ(ys, (Shape{n, oh, ow, o}));
    std::vector<double> ref(static_cast<size_t>(ys.num_elements()));
    for (int64_t bi = 0; bi < n; ++bi)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t z = 0; z < ow; ++z)
          for (int64_t oc = 0; oc < o; ++oc) ref[((bi * oh + y) * ow + z) * o + oc] = b.data()[oc];
    for (int64_t bi = 0; bi < n; ++bi)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j)
          for (int64_t ki = 0; ki < kh; ++ki)
            for (int64_t kj = 0; kj < kw; ++kj) {
              const int64_t y = i * s - pad + ki, z = j * s - pad + kj;
              if (y < 0 || z < 0 || y >= oh || z >= ow) continue;
              for (int64_t oc = 0; oc < o; ++oc)
                for (int64_t ic = 0; ic < c; ++ic)
                  ref[((bi * oh + y) * ow + z) * o + oc] +=
                      double(x.data()[((bi * h + i) * w + j) * c + ic]) * wt.data()[((oc * kh + ki) * kw + kj) * c + ic];
            }
    expect_close(out.value()[0].data(), ref, 1e-4, 1e-4, "conv_transpose2d");
  }
}

TEST(GraphOps, DropoutIsIdentityAtInference) {
  std::mt19937 rng(12);
  Tensor x = random_tensor(Shape{3, 4}, rng);
  OpAttrs a;
  a.numbers["rate"] = 0.3;
  auto out = run_op(OpType::kDropout, a, {x});
  ASSERT_TRUE(out.ok());
  expect_close(out.value()[0].data(), std::vector<double>(x.data(), x.data() + 12), 0, 0, "dropout");
  a.numbers["rate"] = 1.0;
  EXPECT_FALSE(run_op(OpType::kDropout, a, {x}).ok());
}

TEST(Executor, NewBatchSizeWithoutRebuildAndClearInputErrors) {
  std::mt19937 rng(9);
  auto graph = std::make_shared<Graph>();
  int x = graph->add_input("image", Shape{1, 8, 8, 3}).value();
  int w = graph->add_constant("w", random_tensor(Shape{4, 3, 3, 3}, rng)).value();
  OpAttrs conv;
  conv.ints["pads"] = {1, 1, 1, 1};
  int c = graph->add(OpType::kConv2D, "conv", {x, w}, conv).value();
  int r = graph->add(OpType::kRelu, "relu", {c}).value();
  int p = graph->add(OpType::kGlobalAvgPool2D, "pool", {r}).value();
  int f = graph->add(OpType::kFlatten, "flat", {p}).value();
  int d = graph->add_constant("fc", random_tensor(Shape{5, 4}, rng)).value();
  int y = graph->add(OpType::kDense, "fc1", {f, d}).value();
  int s = graph->add(OpType::kSoftmax, "prob", {y}).value();
  ASSERT_TRUE(graph->add_output(s).ok());
  EXPECT_FALSE(graph->add_output(s).ok());
  EXPECT_FALSE(graph->add(OpType::kRelu, "relu", {c}).ok());  // duplicate name
  EXPECT_FALSE(graph->add(OpType::kRelu, "bad", {999}).ok());
  auto ctx = ctx2();
  auto ex = Executor::create(graph, ctx.get()).value();
  std::vector<Tensor> out;
  Tensor batch4 = random_tensor(Shape{4, 8, 8, 3}, rng);
  ASSERT_TRUE(ex->run({batch4}, &out).ok());
  ASSERT_EQ(out[0].shape(), (Shape{4, 5}));
  std::vector<float> first(out[0].data(), out[0].data() + 20);
  // Each row of a batch equals the same image run alone.
  for (int64_t i = 0; i < 4; ++i) {
    std::vector<Tensor> single;
    ASSERT_TRUE(ex->run({batch4.rows(i, i + 1).value().clone().value()}, &single).ok());
    ASSERT_EQ(single[0].shape(), (Shape{1, 5}));
    std::vector<double> want(first.begin() + i * 5, first.begin() + i * 5 + 5);
    expect_close(single[0].data(), want, 1e-6, 1e-5, "batch row");
  }
  Status bad = ex->run({random_tensor(Shape{2, 8, 7, 3}, rng)}, &out);
  EXPECT_NE(bad.message().find("must have shape (1, 8, 8, 3) (any batch size)"), std::string::npos) << bad.message();
  EXPECT_FALSE(ex->run({}, &out).ok());
  ASSERT_TRUE(ex->run({batch4}, &out).ok());  // still usable
}

}  // namespace
}  // namespace vitrine
