#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "reference.h"
#include "vitrine/context.h"
#include "vitrine/dense_layer.h"
#include "vitrine/ops.h"

namespace vitrine {
namespace {

using testing::dense_reference;
using testing::expect_close;
using testing::numeric_gradient;
using testing::random_tensor;

std::unique_ptr<Context> make_context(int threads) {
  Result<std::unique_ptr<Context>> ctx = Context::create(threads, threads);
  EXPECT_TRUE(ctx.ok()) << ctx.status().to_string();
  return std::move(ctx).value();
}

TEST(OpTable, DenseIsRegistered) {
  Result<const OpInfo*> info = find_op("dense");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info.value()->id, 0);
  EXPECT_EQ(op_info(OpType::kDense).name, std::string("dense"));
  EXPECT_FALSE(find_op("no-such-op").ok());
  EXPECT_NE(find_op("no-such-op").status().message().find("no-such-op"), std::string::npos);
  EXPECT_FALSE(find_op(uint16_t{999}).ok());
}

void copy_into(Tensor& dst, const Tensor& src) {
  std::copy(src.data(), src.data() + src.num_elements(), dst.mutable_data());
}

// Forward on random shapes against the double-precision reference, on 1, 2 and 3 threads.
TEST(DenseLayer, ForwardMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> dim(1, 70);
  for (int threads : {1, 2, 3}) {
    auto ctx = make_context(threads);
    for (int trial = 0; trial < 12; ++trial) {
      const int64_t n = dim(rng), in = dim(rng), out = dim(rng);
      const bool with_bias = trial % 3 != 0;
      auto layer = DenseLayer::create(ctx.get(), in, out).value();
      Tensor x = random_tensor(Shape{n, in}, rng);
      Tensor w = random_tensor(Shape{out, in}, rng);
      Tensor b = random_tensor(Shape{out}, rng);
      copy_into(layer->weights(), w);
      if (with_bias) copy_into(layer->bias(), b);
      Result<Tensor> y = layer->forward(x);
      ASSERT_TRUE(y.ok()) << y.status().to_string();
      ASSERT_EQ(y->shape(), (Shape{n, out}));
      expect_close(y->data(), dense_reference(x, w, with_bias ? &b : nullptr), 1e-4, 1e-4, "y");
    }
  }
}

TEST(DenseLayer, RepacksWhenWeightsChangeAndHandlesNewBatchSizes) {
  std::mt19937 rng(7);
  auto ctx = make_context(2);
  auto layer = DenseLayer::create(ctx.get(), 4, 5).value();
  copy_into(layer->weights(), random_tensor(Shape{5, 4}, rng));
  copy_into(layer->bias(), random_tensor(Shape{5}, rng));
  for (int64_t n : {3, 17, 1, 17}) {
    Tensor x = random_tensor(Shape{n, 4}, rng);
    Result<Tensor> y = layer->forward(x);
    ASSERT_TRUE(y.ok());
    expect_close(y->data(), dense_reference(x, layer->weights(), &layer->bias()), 1e-5, 1e-5, "y");
    layer->weights().mutable_data()[3] += 0.5f;  // the next call must see the new weight
    layer->bias().mutable_data()[1] -= 0.25f;
  }
}

TEST(DenseLayer, HigherRankInputFlattensLeadingDims) {
  std::mt19937 rng(3);
  auto ctx = make_context(1);
  auto layer = DenseLayer::create(ctx.get(), 6, 4).value();
  copy_into(layer->weights(), random_tensor(Shape{4, 6}, rng));
  Tensor x = random_tensor(Shape{2, 3, 6}, rng);
  Result<Tensor> y = layer->forward(x);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->shape(), (Shape{2, 3, 4}));
  expect_close(y->data(), dense_reference(x, layer->weights(), nullptr), 1e-5, 1e-5, "y");
}

TEST(DenseLayer, RejectsBadShapesWithReadableErrors) {
  const OpInfo& dense = op_info(OpType::kDense);
  auto msg = [&](std::vector<Shape> s, OpAttrs attrs = {}) { return dense.infer_shapes(s, attrs).status().message(); };
  EXPECT_NE(msg({Shape{2, 7}, Shape{3, 8}}).find("input has 7 features"), std::string::npos);
  EXPECT_NE(msg({Shape{2, 8}, Shape{3, 8}, Shape{4}}).find("bias must be (3)"), std::string::npos);
  EXPECT_NE(msg({Shape{2, 8}, Shape{8}}).find("weights must be (out, in)"), std::string::npos);
  EXPECT_NE(msg({Shape{2, 8}}).find("expects inputs"), std::string::npos);
  OpAttrs swish;
  swish.strings["activation"] = "swish";
  EXPECT_NE(msg({Shape{2, 8}, Shape{3, 8}}, swish).find("activation"), std::string::npos);

  auto ctx = make_context(1);
  EXPECT_EQ(DenseLayer::create(ctx.get(), 0, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(DenseLayer::create(nullptr, 2, 3).ok());
  auto layer = DenseLayer::create(ctx.get(), 8, 3).value();
  std::mt19937 rng(1);
  Result<Tensor> y = layer->forward(random_tensor(Shape{2, 7}, rng));
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(y.status().message().find("input must be (..., 8), got (2, 7)"), std::string::npos) << y.status().message();
  EXPECT_FALSE(layer->forward(Tensor()).ok());
  Tensor dx = Tensor::zeros(Shape{2, 8}).value();
  EXPECT_EQ(layer->backward(Tensor::zeros(Shape{2, 3}).value(), &dx, nullptr, nullptr).code(),
            StatusCode::kFailedPrecondition);
}

// Backward against finite differences of L = Σ y ⊙ R, and against the closed form.
TEST(DenseLayer, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> dim(1, 9);
  for (int threads : {1, 2}) {
    auto ctx = make_context(threads);
    for (int trial = 0; trial < 6; ++trial) {
      const int64_t n = dim(rng), in = dim(rng), out = dim(rng);
      auto layer = DenseLayer::create(ctx.get(), in, out).value();
      Tensor& w = layer->weights();
      Tensor& b = layer->bias();
      copy_into(w, random_tensor(Shape{out, in}, rng));
      copy_into(b, random_tensor(Shape{out}, rng));
      Tensor x = random_tensor(Shape{n, in}, rng);
      Tensor r = random_tensor(Shape{n, out}, rng);  // dL/dy
      auto loss = [&]() {
        Result<Tensor> y = layer->forward(x);
        EXPECT_TRUE(y.ok());
        double l = 0;
        for (int64_t i = 0; i < y->num_elements(); ++i) l += double(y->data()[i]) * r.data()[i];
        return l;
      };
      loss();
      Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value(),
             db = Tensor::zeros(b.shape()).value();
      ASSERT_TRUE(layer->backward(r, &dx, &dw, &db).ok());
      expect_close(dx.data(), numeric_gradient(x, loss, 1e-2f), 2e-3, 2e-3, "dx");
      expect_close(dw.data(), numeric_gradient(w, loss, 1e-2f), 2e-3, 2e-3, "dW");
      expect_close(db.data(), numeric_gradient(b, loss, 1e-2f), 2e-3, 2e-3, "db");
    }
  }
}

TEST(DenseLayer, BackwardLargeShapesMatchClosedForm) {
  std::mt19937 rng(11);
  auto ctx = make_context(2);
  const int64_t n = 33, in = 130, out = 65;
  auto layer = DenseLayer::create(ctx.get(), in, out).value();
  copy_into(layer->weights(), random_tensor(Shape{out, in}, rng));
  const Tensor& w = layer->weights();
  Tensor x = random_tensor(Shape{n, in}, rng);
  Tensor dy = random_tensor(Shape{n, out}, rng);
  ASSERT_TRUE(layer->forward(x).ok());
  Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value();
  ASSERT_TRUE(layer->backward(dy, &dx, &dw, nullptr).ok());
  std::vector<double> ref_dx(n * in, 0.0), ref_dw(out * in, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        ref_dx[r * in + i] += double(dy.data()[r * out + o]) * w.data()[o * in + i];
        ref_dw[o * in + i] += double(dy.data()[r * out + o]) * x.data()[r * in + i];
      }
  expect_close(dx.data(), ref_dx, 1e-4, 1e-4, "dx");
  expect_close(dw.data(), ref_dw, 1e-4, 1e-4, "dW");
  // Wrong gradient shapes are refused.
  Tensor bad = Tensor::zeros(Shape{n, in + 1}).value();
  EXPECT_FALSE(layer->backward(dy, &bad, nullptr, nullptr).ok());
  Tensor bad_dy = Tensor::zeros(Shape{n, out + 1}).value();
  EXPECT_FALSE(layer->backward(bad_dy, &dx, nullptr, nullptr).ok());
}

TEST(Context, ThreadCountIsARuntimeSetting) {
  auto ctx = Context::create(1, 3).value();
  EXPECT_EQ(ctx->num_threads(), 1);
  EXPECT_EQ(ctx->capacity(), 3);
  ASSERT_TRUE(ctx->set_num_threads(3).ok());
  EXPECT_EQ(ctx->num_threads(), 3);
  ASSERT_TRUE(ctx->set_num_threads(2).ok());
  EXPECT_EQ(ctx->num_threads(), 2);
  ASSERT_TRUE(ctx->set_num_threads(0).ok());
  EXPECT_EQ(ctx->num_threads(), 3);
  EXPECT_NE(ctx->threadpool(), nullptr);
  EXPECT_FALSE(ctx->set_num_threads(-1).ok());
  Status s = ctx->set_num_threads(4);
  EXPECT_NE(s.message().find("outside [1, 3]"), std::string::npos) << s.message();
  EXPECT_FALSE(Context::create(1, Context::kMaxThreads + 1).ok());
  EXPECT_FALSE(Context::create(-1, 2).ok());
  auto single = Context::create(1, 1).value();
  EXPECT_EQ(single->threadpool(), nullptr);
  EXPECT_STREQ(build_variant(), "native");
}

}  // namespace
}  // namespace vitrine
