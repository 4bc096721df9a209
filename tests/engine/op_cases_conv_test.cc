// Backward kernels of the convolution and pooling ops: conv2d, conv_transpose2d, max_pool2d,
// avg_pool2d and global_avg_pool2d, checked against their references and central finite differences (op_cases.h) on
// small random shapes, plus direct checks of max-pool ties, argument validation and the chunked
// im2col path (against plain double-precision loops).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "op_cases.h"
#include "reference.h"

namespace vitrine {
namespace {

using testing::check_op_case;
using testing::expect_close;
using testing::OpCase;
using testing::CaseInput;
using testing::InputRole;
using testing::random_tensor;

OpAttrs conv_attrs(std::vector<int64_t> strides, std::vector<int64_t> dilations, std::vector<int64_t> pads,
                   int64_t groups) {
  OpAttrs a;
  a.ints["strides"] = std::move(strides);
  a.ints["dilations"] = std::move(dilations);
  a.ints["pads"] = std::move(pads);
  a.numbers["groups"] = static_cast<double>(groups);
  return a;
}

CaseInput activation(const Shape& shape) { return {shape, InputRole::kActivation, {}, 0.0f}; }

// x (activation), W (parameter) and, when `bias`, b (parameter).
std::vector<CaseInput> conv_inputs(const Shape& x, const Shape& w, bool bias) {
  std::vector<CaseInput> in{{x, InputRole::kActivation, {}, 0.0f}, {w, InputRole::kParameter, {}, 0.0f}};
  if (bias) in.push_back({Shape{w[0]}, InputRole::kParameter, {}, 0.0f});
  return in;
}

// ---------------------------------------------------------------------------------------------
// conv2d

TEST(GradConv2D, Plain) {
  check_op_case({"3x3, stride 1, bias", OpType::kConv2D, conv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, 1),
                   conv_inputs(Shape{2, 5, 5, 3}, Shape{4, 3, 3, 3}, true)});
  check_op_case({"1 input channel, no bias", OpType::kConv2D, conv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, 1),
                   conv_inputs(Shape{1, 4, 4, 1}, Shape{2, 2, 2, 1}, false)});
}

TEST(GradConv2D, StridesAndPadding) {
  check_op_case({"stride 2, asymmetric pads", OpType::kConv2D, conv_attrs({2, 2}, {1, 1}, {1, 0, 2, 1}, 1),
                   conv_inputs(Shape{1, 7, 6, 2}, Shape{3, 3, 2, 2}, true)});
  // H = 7, KH = 2, stride 3: rows 5 and 6 are never read, their gradient must be 0.
  check_op_case({"stride 3 leaves rows unused", OpType::kConv2D, conv_attrs({3, 2}, {1, 1}, {0, 0, 0, 0}, 1),
                   conv_inputs(Shape{2, 7, 5, 2}, Shape{2, 2, 2, 2}, true)});
}

TEST(GradConv2D, Dilation) {
  check_op_case({"dilation [2, 1], pads 1", OpType::kConv2D, conv_attrs({1, 1}, {2, 1}, {1, 1, 1, 1}, 1),
                   conv_inputs(Shape{2, 6, 7, 2}, Shape{2, 2, 3, 2}, true)});
  check_op_case({"dilation 2, stride 2", OpType::kConv2D, conv_attrs({2, 2}, {2, 2}, {0, 1, 1, 0}, 1),
                   conv_inputs(Shape{1, 7, 7, 3}, Shape{2, 2, 2, 3}, false)});
}

TEST(GradConv2D, Groups) {
  check_op_case({"2 groups", OpType::kConv2D, conv_attrs({2, 1}, {1, 1}, {1, 1, 1, 1}, 2),
                   conv_inputs(Shape{1, 5, 5, 4}, Shape{4, 3, 3, 2}, true)});
  check_op_case({"2 groups, 3 outputs each, dilated", OpType::kConv2D, conv_attrs({1, 2}, {1, 2}, {0, 2, 1, 0}, 2),
                   conv_inputs(Shape{2, 4, 6, 4}, Shape{6, 2, 2, 2}, true)});
}

TEST(GradConv2D, Depthwise) {
  check_op_case({"depthwise 3x3, pads 1", OpType::kConv2D, conv_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}, 3),
                   conv_inputs(Shape{2, 5, 6, 3}, Shape{3, 3, 3, 1}, true)});
  check_op_case({"depthwise, multiplier 2, stride 2, dilation", OpType::kConv2D,
                   conv_attrs({2, 2}, {1, 2}, {0, 1, 1, 1}, 2), conv_inputs(Shape{1, 6, 5, 2}, Shape{4, 3, 2, 1}, false)});
  // ConvNeXt's 7x7 (in wasm the engine kernel runs it): 23 channels take the 16-, 4- and
  // 1-channel paths; a stride and asymmetric pads on top.
  check_op_case({"depthwise 7x7, 23 channels, pads 3", OpType::kConv2D, conv_attrs({1, 1}, {1, 1}, {3, 3, 3, 3}, 23),
                   conv_inputs(Shape{1, 6, 5, 23}, Shape{23, 7, 7, 1}, true)});
  check_op_case({"depthwise 7x7, stride 2, no bias", OpType::kConv2D, conv_attrs({2, 1}, {1, 1}, {2, 3, 1, 0}, 20),
                   conv_inputs(Shape{2, 9, 8, 20}, Shape{20, 7, 7, 1}, false)});
}

TEST(GradConv2D, RandomShapes) {
  std::mt19937 rng(101);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t groups = trial % 3 == 2 ? 2 : 1, cg = pick(1, 2), og = pick(1, 2);
    const int64_t kh = pick(1, 3), kw = pick(1, 3), sh = pick(1, 2), sw = pick(1, 2), dh = pick(1, 2), dw = pick(1, 2);
    const int64_t pt = pick(0, 1), pl = pick(0, 1), pb = pick(0, 1), pr = pick(0, 1);
    const int64_t h = dh * (kh - 1) + 1 + pick(0, 3), w = dw * (kw - 1) + 1 + pick(0, 3);
    OpCase c{"random conv2d #" + std::to_string(trial), OpType::kConv2D,
               conv_attrs({sh, sw}, {dh, dw}, {pt, pl, pb, pr}, groups),
               conv_inputs(Shape{pick(1, 2), h, w, cg * groups}, Shape{og * groups, kh, kw, cg}, trial % 2 == 0)};
    check_op_case(c, 7 + static_cast<uint32_t>(trial));
  }
}

// ---------------------------------------------------------------------------------------------
// conv_transpose2d

OpAttrs deconv_attrs(std::vector<int64_t> strides, std::vector<int64_t> dilations, std::vector<int64_t> pads,
                     std::vector<int64_t> output_padding, int64_t groups) {
  OpAttrs a = conv_attrs(std::move(strides), std::move(dilations), std::move(pads), groups);
  a.ints["output_padding"] = std::move(output_padding);
  return a;
}

TEST(GradConvTranspose2D, Plain) {
  check_op_case({"3x3, stride 1, bias", OpType::kConvTranspose2D,
                   deconv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, {0, 0}, 1),
                   conv_inputs(Shape{2, 4, 4, 3}, Shape{2, 3, 3, 3}, true)});
}

TEST(GradConvTranspose2D, StridesPaddingOutputPadding) {
  check_op_case({"stride 2, pads, output_padding [1, 0]", OpType::kConvTranspose2D,
                   deconv_attrs({2, 2}, {1, 1}, {1, 1, 0, 1}, {1, 0}, 1),
                   conv_inputs(Shape{1, 3, 4, 2}, Shape{3, 3, 3, 2}, true)});
  check_op_case({"stride [3, 2], kernel 2x3, no bias", OpType::kConvTranspose2D,
                   deconv_attrs({3, 2}, {1, 1}, {0, 1, 1, 0}, {2, 1}, 1),
                   conv_inputs(Shape{2, 3, 3, 1}, Shape{2, 2, 3, 1}, false)});
}

TEST(GradConvTranspose2D, DilationAndGroups) {
  check_op_case({"2 groups, stride 2, dilation 2", OpType::kConvTranspose2D,
                   deconv_attrs({2, 2}, {2, 2}, {1, 0, 0, 1}, {0, 0}, 2),
                   conv_inputs(Shape{1, 3, 3, 4}, Shape{4, 2, 2, 2}, true)});
  check_op_case({"dilation 2, stride [2, 1], output_padding [1, 0]", OpType::kConvTranspose2D,
                   deconv_attrs({2, 1}, {2, 2}, {0, 0, 0, 0}, {1, 0}, 1),
                   conv_inputs(Shape{1, 3, 4, 2}, Shape{2, 2, 2, 2}, false)});
}

TEST(GradConvTranspose2D, Depthwise) {
  check_op_case({"depthwise, stride 2", OpType::kConvTranspose2D,
                   deconv_attrs({2, 2}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 3),
                   conv_inputs(Shape{2, 3, 4, 3}, Shape{3, 3, 3, 1}, true)});
  check_op_case({"depthwise, multiplier 2", OpType::kConvTranspose2D,
                   deconv_attrs({1, 2}, {1, 1}, {0, 0, 0, 0}, {0, 1}, 2),
                   conv_inputs(Shape{1, 3, 3, 2}, Shape{4, 2, 2, 1}, true)});
}

TEST(GradConvTranspose2D, RandomShapes) {
  std::mt19937 rng(202);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t groups = trial % 3 == 1 ? 2 : 1, cg = pick(1, 2), og = pick(1, 2);
    const int64_t kh = pick(1, 3), kw = pick(1, 3), sh = pick(1, 2), sw = pick(1, 2), dh = pick(1, 2), dw = pick(1, 2);
    const int64_t pt = pick(0, 1), pl = pick(0, 1), pb = pick(0, 1), pr = pick(0, 1);
    // output_padding below the stride: the forward (XNNPACK's deconvolution) rejects larger values.
    const int64_t ah = pick(0, static_cast<int>(sh) - 1), aw = pick(0, static_cast<int>(sw) - 1);
    OpCase c{"random conv_transpose2d #" + std::to_string(trial), OpType::kConvTranspose2D,
               deconv_attrs({sh, sw}, {dh, dw}, {pt, pl, pb, pr}, {ah, aw}, groups),
               conv_inputs(Shape{pick(1, 2), pick(2, 4), pick(2, 4), cg * groups}, Shape{og * groups, kh, kw, cg},
                           trial % 2 == 1)};
    check_op_case(c, 11 + static_cast<uint32_t>(trial));
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling

OpAttrs pool_attrs(std::vector<int64_t> kernel, std::vector<int64_t> strides, std::vector<int64_t> pads) {
  OpAttrs a;
  a.ints["kernel"] = std::move(kernel);
  a.ints["strides"] = std::move(strides);
  a.ints["pads"] = std::move(pads);
  return a;
}

CaseInput tie_free(const Shape& shape) { return testing::distinct_values(shape); }

TEST(GradConvMaxPool, Variants) {
  OpAttrs ceil = pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1});
  ceil.numbers["ceil_mode"] = 1;
  OpAttrs ceil_only = pool_attrs({3, 2}, {2, 2}, {0, 0, 0, 0});  // 6x5 input: one extra window per axis
  ceil_only.numbers["ceil_mode"] = 1;
  OpAttrs dilated = pool_attrs({2, 2}, {1, 2}, {1, 0, 0, 1});
  dilated.ints["dilations"] = {2, 2};
  OpAttrs dilated_ceil = pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0});
  dilated_ceil.ints["dilations"] = {2, 1};
  dilated_ceil.numbers["ceil_mode"] = 1;
  const std::vector<OpCase> cases = {
      {"2x2 stride 2", OpType::kMaxPool2D, pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}), {tie_free(Shape{2, 4, 6, 3})}},
      {"3x3 stride 1 overlapping, pads 1", OpType::kMaxPool2D, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}),
       {tie_free(Shape{1, 5, 5, 2})}},
      {"3x3 stride 2 pads 1 ceil_mode", OpType::kMaxPool2D, ceil, {tie_free(Shape{2, 6, 7, 2})}},
      {"3x2 stride 2 ceil_mode, no pads", OpType::kMaxPool2D, ceil_only, {tie_free(Shape{1, 6, 5, 3})}},
      {"2x3 strides [1, 2], asymmetric pads", OpType::kMaxPool2D, pool_attrs({2, 3}, {1, 2}, {0, 1, 1, 0}),
       {tie_free(Shape{1, 5, 6, 4})}},
      {"dilation 2, asymmetric pads", OpType::kMaxPool2D, dilated, {tie_free(Shape{2, 6, 6, 2})}},
      {"dilation [2, 1], ceil_mode", OpType::kMaxPool2D, dilated_ceil, {tie_free(Shape{1, 7, 6, 2})}},
  };
  for (const OpCase& c : cases) check_op_case(c);
}

TEST(GradConvMaxPool, TiesGoToFirstMax) {
  // All-equal 3x3 image, 2x2 windows with stride 1: every window's first (top-left) pixel wins.
  auto ctx = Context::create(1, 1).value();
  Tensor x = Tensor::zeros(Shape{1, 3, 3, 1}).value();
  std::fill_n(x.mutable_data(), 9, 0.5f);
  Tensor dy = Tensor::zeros(Shape{1, 2, 2, 1}).value();
  for (int i = 0; i < 4; ++i) dy.mutable_data()[i] = static_cast<float>(i + 1);
  Tensor dx = Tensor::zeros(x.shape()).value();
  const OpAttrs a = pool_attrs({2, 2}, {1, 1}, {0, 0, 0, 0});
  Status s = op_info(OpType::kMaxPool2D).backward(ctx.get(), a, {&x}, {}, {&dy}, {&dx});
  ASSERT_TRUE(s.ok()) << s.to_string();
  const float expected[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(dx.data()[i], expected[i]) << "element " << i;
}

TEST(GradConvAvgPool, Variants) {
  const std::vector<OpCase> cases = {
      {"2x2 stride 2", OpType::kAvgPool2D, pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}), {activation(Shape{2, 4, 6, 3})}},
      {"3x3 stride 1 pads 1 (padding not counted)", OpType::kAvgPool2D, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}),
       {activation(Shape{1, 5, 5, 2})}},
      {"3x2 strides [2, 1], asymmetric pads", OpType::kAvgPool2D, pool_attrs({3, 2}, {2, 1}, {1, 0, 1, 1}),
       {activation(Shape{2, 6, 5, 2})}},
      {"2x3 stride 3, rows left over", OpType::kAvgPool2D, pool_attrs({2, 3}, {3, 3}, {0, 0, 0, 0}),
       {activation(Shape{1, 7, 7, 4})}},
  };
  for (const OpCase& c : cases) check_op_case(c);
}

TEST(GradConvGlobalAvgPool, Shapes) {
  for (const Shape& s : {Shape{2, 5, 4, 3}, Shape{1, 1, 1, 4}, Shape{2, 7, 3, 1}}) {
    check_op_case({"global avg " + s.to_string(), OpType::kGlobalAvgPool2D, {}, {activation(s)}});
  }
}

// ---------------------------------------------------------------------------------------------
// Validation and the zero-gradient convention

TEST(GradConvValidation, RejectsBadShapesWithoutCrashing) {
  auto ctx = Context::create(1, 1).value();
  std::mt19937 rng(5);
  Tensor x = random_tensor(Shape{1, 5, 5, 2}, rng), w = random_tensor(Shape{3, 3, 3, 2}, rng);
  Tensor dy = random_tensor(Shape{1, 3, 3, 3}, rng), bad_dy = random_tensor(Shape{1, 3, 4, 3}, rng);
  Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value();
  Tensor bad_dx = Tensor::zeros(Shape{1, 5, 5, 3}).value();
  const OpAttrs a = conv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, 1);
  const BackwardFn conv = op_info(OpType::kConv2D).backward;
  EXPECT_TRUE(conv(ctx.get(), a, {&x, &w}, {}, {&dy}, {&dx, &dw}).ok());
  EXPECT_FALSE(conv(ctx.get(), a, {&x, &w}, {}, {&bad_dy}, {&dx, &dw}).ok());
  EXPECT_FALSE(conv(ctx.get(), a, {&x, &w}, {}, {&dy}, {&bad_dx, &dw}).ok());
  EXPECT_FALSE(conv(ctx.get(), a, {&x}, {}, {&dy}, {&dx}).ok());
  EXPECT_FALSE(conv(ctx.get(), a, {&x, nullptr}, {}, {&dy}, {&dx}).ok());
  EXPECT_FALSE(conv(ctx.get(), conv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, 3), {&x, &w}, {}, {&dy}, {&dx}).ok());
  EXPECT_FALSE(op_info(OpType::kConvTranspose2D).backward(ctx.get(), {}, {&x, &w}, {}, {&dy}, {&dx}).ok());
  EXPECT_FALSE(op_info(OpType::kMaxPool2D).backward(ctx.get(), pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}), {&x}, {},
                                                    {&dy}, {&dx})
                   .ok());
  EXPECT_FALSE(op_info(OpType::kAvgPool2D).backward(ctx.get(), {}, {&x}, {}, {&dy}, {&dx}).ok());  // no kernel
  EXPECT_FALSE(op_info(OpType::kGlobalAvgPool2D).backward(ctx.get(), {}, {&x}, {}, {&dy}, {&dx}).ok());
}

TEST(GradConvValidation, NullOutputGradientGivesZeros) {
  auto ctx = Context::create(1, 1).value();
  std::mt19937 rng(6);
  Tensor x = random_tensor(Shape{1, 4, 4, 2}, rng), w = random_tensor(Shape{2, 2, 2, 2}, rng);
  Tensor b = random_tensor(Shape{2}, rng);
  Tensor dx = random_tensor(x.shape(), rng), dw = random_tensor(w.shape(), rng), db = random_tensor(b.shape(), rng);
  for (OpType op : {OpType::kConv2D, OpType::kConvTranspose2D}) {
    Status s = op_info(op).backward(ctx.get(), {}, {&x, &w, &b}, {}, {nullptr}, {&dx, &dw, &db});
    ASSERT_TRUE(s.ok()) << s.to_string();
    for (const Tensor* t : {&dx, &dw, &db})
      for (int64_t i = 0; i < t->num_elements(); ++i) ASSERT_EQ(t->data()[i], 0.0f);
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs large enough that im2col runs in several chunks (and on two threads), against plain loops.

struct ConvGeometry {
  int64_t sh, sw, dh, dw, top, left, groups;
};

// Visits every (image position, patch position, tap) of a convolution whose patch grid is
// (ph, pw) and image (ih, iw): f(n, patch offset, image offset, tap).
template <typename F>
void for_each_pair(const ConvGeometry& c, int64_t n, int64_t ph, int64_t pw, int64_t ih, int64_t iw, int64_t kh,
                   int64_t kw, F&& f) {
  for (int64_t b = 0; b < n; ++b)
    for (int64_t py = 0; py < ph; ++py)
      for (int64_t px = 0; px < pw; ++px)
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            const int64_t y = py * c.sh - c.top + ky * c.dh, x = px * c.sw - c.left + kx * c.dw;
            if (y < 0 || x < 0 || y >= ih || x >= iw) continue;
            f((b * ph + py) * pw + px, (b * ih + y) * iw + x, ky * kw + kx);
          }
}

TEST(GradConv2D, ChunkedIm2colMatchesPlainLoops) {
  std::mt19937 rng(31);
  const ConvGeometry c{1, 1, 1, 1, 1, 1, 2};
  // Each image needs 48·48 rows × 144 columns × 2 groups of im2col: 3 images per chunk, so 2 chunks.
  Tensor x = random_tensor(Shape{4, 48, 48, 32}, rng), w = random_tensor(Shape{16, 3, 3, 16}, rng);
  Tensor b = random_tensor(Shape{16}, rng), dy = random_tensor(Shape{4, 48, 48, 16}, rng);
  Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value();
  Tensor db = Tensor::zeros(b.shape()).value();
  auto ctx = Context::create(2, 2).value();
  const OpAttrs a = conv_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}, 2);
  Status s = op_info(OpType::kConv2D).backward(ctx.get(), a, {&x, &w, &b}, {}, {&dy}, {&dx, &dw, &db});
  ASSERT_TRUE(s.ok()) << s.to_string();

  const int64_t cin = 32, cout = 16, cg = 16, og = 8, taps = 9;
  std::vector<double> rdx(static_cast<size_t>(x.num_elements())), rdw(static_cast<size_t>(w.num_elements()));
  std::vector<double> rdb(16);
  for_each_pair(c, 4, 48, 48, 48, 48, 3, 3, [&](int64_t p, int64_t i, int64_t t) {
    for (int64_t o = 0; o < cout; ++o) {
      const double g = dy.data()[p * cout + o];
      const int64_t grp = o / og;
      for (int64_t ci = 0; ci < cg; ++ci) {
        rdx[static_cast<size_t>(i * cin + grp * cg + ci)] += g * w.data()[(o * taps + t) * cg + ci];
        rdw[static_cast<size_t>((o * taps + t) * cg + ci)] += g * x.data()[i * cin + grp * cg + ci];
      }
    }
  });
  for (int64_t i = 0; i < dy.num_elements(); ++i) rdb[static_cast<size_t>(i % cout)] += dy.data()[i];
  expect_close(dx.data(), rdx, 1e-4, 1e-4, "conv2d dx");
  expect_close(dw.data(), rdw, 1e-2, 1e-4, "conv2d dW");
  expect_close(db.data(), rdb, 1e-2, 1e-4, "conv2d db");
}

TEST(GradConvTranspose2D, ChunkedIm2colMatchesPlainLoops) {
  std::mt19937 rng(32);
  const ConvGeometry c{2, 2, 1, 1, 1, 1, 2};
  // Output 96x96x32; im2col over the 48x48 input grid: 48·48 rows × 144 columns × 2 groups per image.
  Tensor x = random_tensor(Shape{4, 48, 48, 8}, rng), w = random_tensor(Shape{32, 3, 3, 4}, rng);
  Tensor b = random_tensor(Shape{32}, rng), dy = random_tensor(Shape{4, 96, 96, 32}, rng);
  Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value();
  Tensor db = Tensor::zeros(b.shape()).value();
  auto ctx = Context::create(2, 2).value();
  OpAttrs a = conv_attrs({2, 2}, {1, 1}, {1, 1, 1, 1}, 2);
  a.ints["output_padding"] = {1, 1};
  Status s = op_info(OpType::kConvTranspose2D).backward(ctx.get(), a, {&x, &w, &b}, {}, {&dy}, {&dx, &dw, &db});
  ASSERT_TRUE(s.ok()) << s.to_string();

  const int64_t cin = 8, cout = 32, cg = 4, og = 16, taps = 9;
  std::vector<double> rdx(static_cast<size_t>(x.num_elements())), rdw(static_cast<size_t>(w.num_elements()));
  std::vector<double> rdb(32);
  // The patch grid is the input, the image the output.
  for_each_pair(c, 4, 48, 48, 96, 96, 3, 3, [&](int64_t p, int64_t i, int64_t t) {
    for (int64_t o = 0; o < cout; ++o) {
      const double g = dy.data()[i * cout + o];
      const int64_t grp = o / og;
      for (int64_t ci = 0; ci < cg; ++ci) {
        rdx[static_cast<size_t>(p * cin + grp * cg + ci)] += g * w.data()[(o * taps + t) * cg + ci];
        rdw[static_cast<size_t>((o * taps + t) * cg + ci)] += g * x.data()[p * cin + grp * cg + ci];
      }
    }
  });
  for (int64_t i = 0; i < dy.num_elements(); ++i) rdb[static_cast<size_t>(i % cout)] += dy.data()[i];
  expect_close(dx.data(), rdx, 1e-4, 1e-4, "conv_transpose2d dx");
  expect_close(dw.data(), rdw, 1e-2, 1e-4, "conv_transpose2d dW");
  expect_close(db.data(), rdb, 1e-2, 1e-4, "conv_transpose2d db");
}

}  // namespace
}  // namespace vitrine
