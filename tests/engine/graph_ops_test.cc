// Ops on random shapes through the op case harness (forward against the references of
// op_reference.h, larger than the finite-difference rows of op_cases_test.cc), the errors the ops
// give for bad shapes and attributes, and the Executor's batch handling.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "op_cases.h"
#include "reference.h"
#include "vitrine/graph.h"

namespace vitrine {
namespace {

using testing::CaseInput;
using testing::expect_close;
using testing::InputRole;
using testing::OpCase;
using testing::random_tensor;
using testing::run_node;

std::unique_ptr<Context> ctx2() { return Context::create(2, 2).value(); }

CaseInput input(Shape s) { return CaseInput{s, InputRole::kActivation, nullptr, 0.0f}; }
CaseInput weight(Shape s) { return CaseInput{s, InputRole::kParameter, nullptr, 0.0f}; }

// A forward-only row (its backward is covered by the smaller rows of the case tables).
OpCase forward_row(std::string label, OpType op, OpAttrs a, std::vector<CaseInput> in) {
  OpCase c{std::move(label), op, std::move(a), std::move(in)};
  c.check_backward = false;
  c.forward_atol = 1e-4;
  return c;
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
    OpAttrs a;
    a.ints["strides"] = {sh, sw};
    a.ints["dilations"] = {dh, dw};
    a.ints["pads"] = {pt, pl, pb, pr};
    a.numbers["groups"] = static_cast<double>(groups);
    testing::check_op_case(forward_row("random conv2d #" + std::to_string(trial), OpType::kConv2D, a,
                                       {input(Shape{n, h, w, c}), weight(Shape{o, kh, kw, c / groups}), weight(Shape{o})}),
                           static_cast<uint32_t>(trial));
  }
}

TEST(GraphOps, PoolingMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(3);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 20; ++trial) {
    const bool is_max = trial % 2 == 0;
    const int64_t kh = pick(2, 3), kw = pick(2, 3);
    OpAttrs a;
    a.ints["kernel"] = {kh, kw};
    a.ints["strides"] = {pick(1, 2), pick(1, 2)};
    a.ints["pads"] = {pick(0, 1), pick(0, 1), pick(0, 1), pick(0, 1)};
    if (is_max && trial % 4 == 0) a.numbers["ceil_mode"] = 1;
    testing::check_op_case(forward_row("random pool #" + std::to_string(trial), is_max ? OpType::kMaxPool2D : OpType::kAvgPool2D,
                                       a, {input(Shape{pick(1, 2), kh + pick(0, 6), kw + pick(0, 6), pick(1, 5)})}),
                           static_cast<uint32_t>(trial));
  }
}

TEST(GraphOps, ConvTransposeMatchesReferenceOnRandomShapes) {
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t s = 1 + trial % 3, kh = 2 + trial % 2, kw = 3 - trial % 2, pad = trial % 2, adj = s > 1 ? trial % 2 : 0;
    OpAttrs a;
    a.ints["strides"] = {s, s};
    a.ints["pads"] = {pad, pad, pad, pad};
    a.ints["output_padding"] = {adj, adj};
    testing::check_op_case(forward_row("conv_transpose2d #" + std::to_string(trial), OpType::kConvTranspose2D, a,
                                       {input(Shape{1 + trial % 2, 3, 4, 2 + trial % 2}),
                                        weight(Shape{3, kh, kw, 2 + trial % 2}), weight(Shape{3})}),
                           static_cast<uint32_t>(trial));
  }
}

TEST(GraphOps, BroadcastingAndLargerShapesMatchReferences) {
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {Shape{2, 3, 4}, Shape{2, 3, 4}}, {Shape{2, 3, 4}, Shape{4}}, {Shape{3, 1}, Shape{1, 5}},
      {Shape{1}, Shape{2, 2, 3}}, {Shape{2, 1, 4}, Shape{3, 1}}};
  auto positive = [](Shape s) {
    return CaseInput{s, InputRole::kActivation, [](Tensor& t, std::mt19937& rng) {
                       std::uniform_real_distribution<float> d(0.5f, 2.0f);
                       for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
                     }, 0.0f};
  };
  for (OpType t : {OpType::kAdd, OpType::kSub, OpType::kMul, OpType::kDiv})
    for (const auto& [sa, sb] : pairs)
      testing::check_op_case(forward_row(std::string(op_info(t).name) + " " + sa.to_string() + " " + sb.to_string(), t, {},
                                         {positive(sa), positive(sb)}));
  OpAttrs clip;
  clip.numbers["min"] = 0;
  clip.numbers["max"] = 6;
  for (OpType t : {OpType::kRelu, OpType::kClip, OpType::kSigmoid, OpType::kTanh, OpType::kHardSwish, OpType::kGelu,
                   OpType::kHardSigmoid, OpType::kSoftmax, OpType::kLogSoftmax}) {
    OpCase c = forward_row(std::string(op_info(t).name) + " on [-5, 5]", t, t == OpType::kClip ? clip : OpAttrs{},
                           {CaseInput{Shape{3, 17}, InputRole::kActivation, [](Tensor& x, std::mt19937& rng) {
                                        std::uniform_real_distribution<float> d(-5.f, 5.f);
                                        for (int64_t i = 0; i < x.num_elements(); ++i) x.mutable_data()[i] = d(rng);
                                      }, 0.0f}});
    testing::check_op_case(c);
  }
  testing::check_op_case(forward_row("matmul batched", OpType::kMatMul, {}, {input(Shape{3, 4, 5}), weight(Shape{5, 6})}));
  testing::check_op_case(forward_row("dense", OpType::kDense, {}, {input(Shape{5, 7}), weight(Shape{3, 7}), weight(Shape{3})}));
  OpAttrs slice;
  slice.ints["starts"] = {1, -3};
  slice.ints["ends"] = {100, -1};
  slice.ints["axes"] = {1, 2};
  testing::check_op_case(forward_row("slice: clamped and negative bounds", OpType::kSlice, slice, {input(Shape{2, 3, 4})}));
  OpAttrs pad;
  pad.ints["pads"] = {0, 1, 0, 0, 0, 2};
  pad.numbers["value"] = -1;
  testing::check_op_case(forward_row("pad rank 3", OpType::kPad, pad, {input(Shape{2, 3, 4})}));
  OpAttrs concat;
  concat.numbers["axis"] = -2;
  testing::check_op_case(forward_row("concat axis -2", OpType::kConcat, concat, {input(Shape{2, 3, 4}), input(Shape{2, 5, 4})}));
}

// The dense engine kernel (wasm's matrix-vector path for one row against a large weight) splits
// outputs over threads from 1 MB of weights; any split gives the one-thread results, bit for bit.
TEST(GraphOps, DenseKernelOnThreadsEqualsOneThread) {
  std::mt19937 rng(5);
  const OpInfo& info = op_info(OpType::kDense);
  ASSERT_NE(info.run, nullptr);
  auto one = Context::create(1, 1).value();
  auto two = ctx2();
  ASSERT_EQ(two->num_threads(), 2);
  for (const auto& [rows, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1000, 1280}, {3, 1001, 262}, {2, 7, 5}}) {
    Tensor x = random_tensor(Shape{rows, k}, rng), w = random_tensor(Shape{n, k}, rng), b = random_tensor(Shape{n}, rng);
    Tensor y1 = Tensor::zeros(Shape{rows, n}).value(), y2 = Tensor::zeros(Shape{rows, n}).value();
    ASSERT_TRUE(info.run(one.get(), {}, {&x, &w, &b}, {&y1}).ok());
    ASSERT_TRUE(info.run(two.get(), {}, {&x, &w, &b}, {&y2}).ok());
    std::vector<double> want(static_cast<size_t>(rows * n));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double acc = b.data()[c];
        for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(x.data()[r * k + i]) * w.data()[c * k + i];
        want[static_cast<size_t>(r * n + c)] = acc;
      }
    expect_close(y1.data(), want, 1e-4, 1e-4, "dense kernel, 1 thread");
    for (int64_t i = 0; i < rows * n; ++i) ASSERT_EQ(y1.data()[i], y2.data()[i]) << rows << "x" << n << "x" << k << " at " << i;
  }
}

TEST(GraphOps, Conv2DRejectsBadShapes) {
  std::mt19937 rng(1);
  Tensor x = random_tensor(Shape{1, 5, 5, 3}, rng), w = random_tensor(Shape{4, 3, 3, 2}, rng);
  auto out = run_node(OpType::kConv2D, {}, {x, w}, {false, true});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("input has 3 channels"), std::string::npos) << out.status().message();
  Tensor big = random_tensor(Shape{4, 7, 7, 3}, rng);
  out = run_node(OpType::kConv2D, {}, {x, big}, {false, true});
  EXPECT_NE(out.status().message().find("does not fit"), std::string::npos) << out.status().message();
  OpAttrs typo;
  typo.ints["stride"] = {1, 1};
  out = run_node(OpType::kConv2D, typo, {x, random_tensor(Shape{2, 1, 1, 3}, rng)}, {false, true});
  EXPECT_NE(out.status().message().find("unknown attribute 'stride'"), std::string::npos);
  out = run_node(OpType::kConv2D, {}, {x, random_tensor(Shape{2, 1, 1, 3}, rng)}, {false, false});
  EXPECT_NE(out.status().message().find("must be constants"), std::string::npos) << out.status().message();
}

TEST(GraphOps, BadShapesAndAttributesAreRefusedNamingTheProblem) {
  std::mt19937 rng(4);
  auto bad = run_node(OpType::kAdd, {}, {random_tensor(Shape{2, 3}, rng), random_tensor(Shape{4}, rng)});
  EXPECT_NE(bad.status().message().find("do not broadcast"), std::string::npos);
  Tensor x = random_tensor(Shape{2, 3, 4}, rng);
  OpAttrs bad_clip;
  bad_clip.numbers["min"] = 2;
  bad_clip.numbers["max"] = 1;
  EXPECT_FALSE(run_node(OpType::kClip, bad_clip, {x}).ok());
  OpAttrs axis0;
  axis0.numbers["axis"] = 0;
  EXPECT_NE(run_node(OpType::kSoftmax, axis0, {x}).status().message().find("last axis"), std::string::npos);
  OpAttrs r;
  r.ints["shape"] = {5, -1};
  EXPECT_FALSE(run_node(OpType::kReshape, r, {x}).ok());
  EXPECT_FALSE(run_node(OpType::kConcat, {}, {x, random_tensor(Shape{2, 5, 4}, rng)}).ok());
  Tensor a = random_tensor(Shape{3, 4, 5}, rng);
  EXPECT_FALSE(run_node(OpType::kMatMul, {}, {a, a}).ok());
  Tensor q = random_tensor(Shape{2, 5, 8}, rng), k = random_tensor(Shape{2, 7, 8}, rng), v = random_tensor(Shape{2, 7, 3}, rng);
  OpAttrs causal;
  causal.numbers["causal"] = 1;
  EXPECT_FALSE(run_node(OpType::kAttention, causal, {q, k, v}).ok());  // causal needs Lq == Lk
  EXPECT_FALSE(run_node(OpType::kAttention, {}, {q, v, v}).ok());
  OpAttrs dropout;
  dropout.numbers["rate"] = 1.0;
  EXPECT_FALSE(run_node(OpType::kDropout, dropout, {x}).ok());
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

TEST(Executor, ProfileNamesEachOperatorWithItsNodeAndFlops) {
  std::mt19937 rng(11);
  auto graph = std::make_shared<Graph>();
  int x = graph->add_input("image", Shape{1, 12, 10, 8}).value();
  OpAttrs same;
  same.ints["pads"] = {1, 1, 1, 1};
  OpAttrs depthwise = same;
  depthwise.numbers["groups"] = 8;
  int c1 = graph->add(OpType::kConv2D, "full", {x, graph->add_constant("w1", random_tensor(Shape{8, 3, 3, 8}, rng)).value()}, same).value();
  int r = graph->add(OpType::kRelu, "relu", {c1}).value();
  int c2 = graph->add(OpType::kConv2D, "dw", {r, graph->add_constant("w2", random_tensor(Shape{8, 3, 3, 1}, rng)).value()}, depthwise).value();
  int c3 = graph->add(OpType::kConv2D, "pointwise", {c2, graph->add_constant("w3", random_tensor(Shape{16, 1, 1, 8}, rng)).value()}).value();
  int h = graph->add(OpType::kHardmax, "hard", {c3}).value();  // an engine kernel between two runtimes
  int p = graph->add(OpType::kGlobalAvgPool2D, "pool", {h}).value();
  int f = graph->add(OpType::kFlatten, "flat", {p}).value();
  int y = graph->add(OpType::kDense, "fc", {f, graph->add_constant("fc_w", random_tensor(Shape{5, 16}, rng)).value()}).value();
  ASSERT_TRUE(graph->add_output(y).ok());
  ASSERT_EQ(graph->nodes().size(), 8u);
  auto ctx = ctx2();
  auto plain = Executor::create(graph, ctx.get()).value();
  std::vector<Tensor> out, profiled_out;
  Tensor image = random_tensor(Shape{1, 12, 10, 8}, rng);
  ASSERT_TRUE(plain->run({image}, &out).ok());
  EXPECT_EQ(plain->profile().status().code(), StatusCode::kFailedPrecondition);

  auto ex = Executor::create(graph, ctx.get(), ExecutorOptions{true}).value();
  EXPECT_EQ(ex->profile().status().code(), StatusCode::kFailedPrecondition);  // nothing ran yet
  for (int64_t batch : {1, 3}) {
    Tensor in = batch == 1 ? image : random_tensor(Shape{batch, 12, 10, 8}, rng);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(ex->run({in}, &profiled_out).ok());
    const double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (batch == 1) expect_close(profiled_out[0].data(), std::vector<double>(out[0].data(), out[0].data() + 5), 0, 0, "profiled run");
    Result<std::vector<OpTime>> rows = ex->profile();
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    std::string listing;
    for (const OpTime& t : rows.value()) listing += t.op + " | " + t.node + "\n";
    SCOPED_TRACE(listing);
    std::map<std::string, OpTime> by_node;
    std::set<int> segments;
    double sum_ms = 0;
    for (const OpTime& t : rows.value()) {
      sum_ms += t.ms;
      EXPECT_FALSE(t.op.empty());
      segments.insert(t.segment);
      if (!t.node.empty()) by_node[t.node] = t;
      else EXPECT_EQ(t.flops, 0) << t.op;
    }
    EXPECT_LE(sum_ms, wall_ms);  // operators' times fall inside the run
    EXPECT_EQ(segments, (std::set<int>{0, 1, 2}));  // runtime, engine kernel, runtime
    const double pixels = static_cast<double>(batch) * 12 * 10;
    ASSERT_EQ(by_node.count("conv2d 'full'"), 1u);
    EXPECT_EQ(by_node["conv2d 'full'"].flops, 2 * pixels * 8 * 9 * 8);
    EXPECT_EQ(by_node["conv2d 'full'"].op.rfind("Convolution", 0), 0u) << by_node["conv2d 'full'"].op;
    EXPECT_EQ(by_node["conv2d 'dw'"].flops, 2 * pixels * 8 * 9);
    EXPECT_NE(by_node["conv2d 'dw'"].op.find("DWConv"), std::string::npos) << by_node["conv2d 'dw'"].op;
    EXPECT_EQ(by_node["conv2d 'pointwise'"].flops, 2 * pixels * 16 * 8);
    EXPECT_EQ(by_node["hardmax 'hard'"].op, "engine hardmax");
    EXPECT_EQ(by_node["hardmax 'hard'"].segment, 1);
    EXPECT_EQ(by_node["dense 'fc'"].flops, 2.0 * batch * 5 * 16);
    EXPECT_EQ(by_node.size(), 5u);
  }
  // Attention lowers to two batch matrix multiplies: both rows name it, each with its own FLOPs.
  {
    auto att = std::make_shared<Graph>();
    int q = att->add_input("q", Shape{2, 5, 8}).value();
    int k = att->add_constant("k", random_tensor(Shape{2, 7, 8}, rng)).value();
    int v = att->add_constant("v", random_tensor(Shape{2, 7, 3}, rng)).value();
    int a = att->add(OpType::kAttention, "att", {q, k, v}).value();
    ASSERT_TRUE(att->add_output(a).ok());
    auto ax = Executor::create(att, ctx.get(), ExecutorOptions{true}).value();
    std::vector<Tensor> ao;
    ASSERT_TRUE(ax->run({random_tensor(Shape{2, 5, 8}, rng)}, &ao).ok());
    std::vector<double> flops;
    Result<std::vector<OpTime>> rows = ax->profile();
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    for (const OpTime& t : rows.value())
      if (t.node == "attention 'att'") flops.push_back(t.flops);
    EXPECT_EQ(flops, (std::vector<double>{2.0 * 2 * 5 * 7 * 8, 2.0 * 2 * 5 * 7 * 3}));
  }
  // A failed run leaves no profile to read.
  EXPECT_FALSE(ex->run({random_tensor(Shape{1, 12, 9, 8}, rng)}, &profiled_out).ok());
  EXPECT_EQ(ex->profile().status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vitrine
