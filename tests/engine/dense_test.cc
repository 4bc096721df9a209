#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "reference.h"
#include "vitrine/context.h"
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

// Forward on random shapes against the double-precision reference, on 1, 2 and 3 threads.
TEST(Dense, ForwardMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> dim(1, 70);
  for (int threads : {1, 2, 3}) {
    auto ctx = make_context(threads);
    auto op = create_dense(ctx.get()).value();
    for (int trial = 0; trial < 12; ++trial) {
      const int64_t n = dim(rng), in = dim(rng), out = dim(rng);
      const bool with_bias = trial % 3 != 0;
      Tensor x = random_tensor(Shape{n, in}, rng);
      Tensor w = random_tensor(Shape{out, in}, rng);
      Tensor b = random_tensor(Shape{out}, rng);
      std::vector<const Tensor*> inputs = {&x, &w};
      if (with_bias) inputs.push_back(&b);
      std::vector<Shape> shapes;
      for (auto* t : inputs) shapes.push_back(t->shape());
      Shape ys = op->infer_shape(shapes).value();
      ASSERT_EQ(ys, (Shape{n, out}));
      Tensor y = Tensor::zeros(ys).value();
      ASSERT_TRUE(op->forward(inputs, &y).ok());
      expect_close(y.data(), dense_reference(x, w, with_bias ? &b : nullptr), 1e-4, 1e-4, "y");
    }
  }
}

TEST(Dense, RepacksWhenWeightsChangeAndHandlesNewBatchSizes) {
  std::mt19937 rng(7);
  auto ctx = make_context(2);
  auto op = create_dense(ctx.get()).value();
  Tensor w = random_tensor(Shape{5, 4}, rng);
  Tensor b = random_tensor(Shape{5}, rng);
  for (int64_t n : {3, 17, 1, 17}) {
    Tensor x = random_tensor(Shape{n, 4}, rng);
    Tensor y = Tensor::zeros(Shape{n, 5}).value();
    ASSERT_TRUE(op->forward({&x, &w, &b}, &y).ok());
    expect_close(y.data(), dense_reference(x, w, &b), 1e-5, 1e-5, "y");
    w.mutable_data()[3] += 0.5f;  // the next call must see the new weight
    b.mutable_data()[1] -= 0.25f;
  }
}

TEST(Dense, HigherRankInputFlattensLeadingDims) {
  std::mt19937 rng(3);
  auto ctx = make_context(1);
  auto op = create_dense(ctx.get()).value();
  Tensor x = random_tensor(Shape{2, 3, 6}, rng);
  Tensor w = random_tensor(Shape{4, 6}, rng);
  Shape ys = op->infer_shape({x.shape(), w.shape()}).value();
  EXPECT_EQ(ys, (Shape{2, 3, 4}));
  Tensor y = Tensor::zeros(ys).value();
  ASSERT_TRUE(op->forward({&x, &w}, &y).ok());
  expect_close(y.data(), dense_reference(x, w, nullptr), 1e-5, 1e-5, "y");
}

TEST(Dense, RejectsBadShapesWithReadableErrors) {
  auto ctx = make_context(1);
  auto op = create_dense(ctx.get()).value();
  auto msg = [&](std::vector<Shape> s) { return op->infer_shape(s).status().message(); };
  EXPECT_NE(msg({Shape{2, 7}, Shape{3, 8}}).find("input has 7 features"), std::string::npos);
  EXPECT_NE(msg({Shape{2, 8}, Shape{3, 8}, Shape{4}}).find("bias must be (3)"), std::string::npos);
  EXPECT_NE(msg({Shape{2, 8}, Shape{8}}).find("weights must be (out, in)"), std::string::npos);
  EXPECT_NE(msg({Shape{2, 8}}).find("expects inputs"), std::string::npos);

  std::mt19937 rng(1);
  Tensor x = random_tensor(Shape{2, 8}, rng), w = random_tensor(Shape{3, 8}, rng);
  Tensor wrong_y = Tensor::zeros(Shape{2, 4}).value();
  Status s = op->forward({&x, &w}, &wrong_y);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("output must have shape (2, 3)"), std::string::npos);
  EXPECT_FALSE(op->forward({&x, nullptr}, &wrong_y).ok());

  OpAttrs attrs;
  attrs.strings["activation"] = "swish";
  EXPECT_FALSE(create_DenseOp(ctx.get(), attrs).ok());
}

// Backward against finite differences of L = Σ y ⊙ R, and against the closed form.
TEST(Dense, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> dim(1, 9);
  for (int threads : {1, 2}) {
    auto ctx = make_context(threads);
    auto op = create_dense(ctx.get()).value();
    for (int trial = 0; trial < 6; ++trial) {
      const int64_t n = dim(rng), in = dim(rng), out = dim(rng);
      Tensor x = random_tensor(Shape{n, in}, rng);
      Tensor w = random_tensor(Shape{out, in}, rng);
      Tensor b = random_tensor(Shape{out}, rng);
      Tensor r = random_tensor(Shape{n, out}, rng);  // dL/dy
      Tensor y = Tensor::zeros(Shape{n, out}).value();
      auto loss = [&]() {
        EXPECT_TRUE(op->forward({&x, &w, &b}, &y).ok());
        double l = 0;
        for (int64_t i = 0; i < y.num_elements(); ++i) l += double(y.data()[i]) * r.data()[i];
        return l;
      };
      loss();
      Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value(),
             db = Tensor::zeros(b.shape()).value();
      ASSERT_TRUE(op->backward({&x, &w, &b}, y, r, {&dx, &dw, &db}).ok());
      expect_close(dx.data(), numeric_gradient(x, loss, 1e-2f), 2e-3, 2e-3, "dx");
      expect_close(dw.data(), numeric_gradient(w, loss, 1e-2f), 2e-3, 2e-3, "dW");
      expect_close(db.data(), numeric_gradient(b, loss, 1e-2f), 2e-3, 2e-3, "db");
    }
  }
}

TEST(Dense, BackwardLargeShapesMatchClosedForm) {
  std::mt19937 rng(11);
  auto ctx = make_context(2);
  auto op = create_dense(ctx.get()).value();
  const int64_t n = 33, in = 130, out = 65;
  Tensor x = random_tensor(Shape{n, in}, rng), w = random_tensor(Shape{out, in}, rng);
  Tensor dy = random_tensor(Shape{n, out}, rng), y = Tensor::zeros(Shape{n, out}).value();
  ASSERT_TRUE(op->forward({&x, &w}, &y).ok());
  Tensor dx = Tensor::zeros(x.shape()).value(), dw = Tensor::zeros(w.shape()).value();
  ASSERT_TRUE(op->backward({&x, &w}, y, dy, {&dx, &dw}).ok());
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
  EXPECT_FALSE(op->backward({&x, &w}, y, dy, {&bad}).ok());
  Tensor bad_dy = Tensor::zeros(Shape{n, out + 1}).value();
  EXPECT_FALSE(op->backward({&x, &w}, y, bad_dy, {&dx}).ok());
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
