// ONNX control flow: If with a condition known at import (the branch is inlined, so branches may
// differ in shape) and known only at run time (an If node that runs one branch graph per call),
// branches reading outer-scope values, nested Ifs, and the errors around them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "../../engine/src/io/onnx_model.h"
#include "onnx_builder.h"
#include "vitrine/graph.h"
#include "vitrine/model_file.h"
#include "vitrine/model_runner.h"
#include "vitrine/onnx_import.h"
#include "vitrine/train.h"

namespace vitrine {
namespace {

using onnx_test::attr_graph;
using onnx_test::attr_int;
using onnx_test::float_tensor;
using onnx_test::int64_tensor;
using onnx_test::OnnxModelBuilder;

Context* ctx() {
  static std::unique_ptr<Context> c = Context::create(1, 1).value();
  return c.get();
}

Result<std::vector<Tensor>> run(const std::shared_ptr<Graph>& g, const std::vector<Tensor>& inputs) {
  Result<std::unique_ptr<Executor>> ex = Executor::create(g, ctx());
  if (!ex.ok()) return ex.status();
  std::vector<Tensor> out;
  Status s = ex.value()->run(inputs, &out);
  if (!s.ok()) return s;
  return out;
}

Tensor floats(const Shape& shape, std::vector<float> v) { return Tensor::from_values(shape, v.data(), v.size()).value(); }

bool has_op(const Graph& g, OpType type) {
  for (const GraphNode& n : g.nodes())
    if (n.type == type) return true;
  return false;
}

// then: y = relu(x) * w (w an outer initializer, relu(x) an outer activation); else: y = -x.
// The condition, sum(x) > 0, is known only at run time.
std::string runtime_if_model() {
  OnnxModelBuilder then_b, else_b;
  then_b.node("Mul", {"rx", "w"}, {"t"}).output("t");
  else_b.node("Neg", {"x"}, {"e"}).output("e");
  OnnxModelBuilder b;
  b.input("x", {1, 4});
  b.initializer(float_tensor("w", {4}, {1.0f, 2.0f, 3.0f, 4.0f}));
  b.initializer(float_tensor("zero", {}, {0.0f}));
  b.node("Relu", {"x"}, {"rx"});
  b.node("ReduceSum", {"x"}, {"s"}, {attr_int("keepdims", 0)});
  b.node("Greater", {"s", "zero"}, {"c"});
  b.node("If", {"c"}, {"y"}, {attr_graph("then_branch", then_b.graph()), attr_graph("else_branch", else_b.graph())});
  b.output("y");
  return b.bytes();
}

TEST(OnnxControlFlow, RuntimeIfRunsTheBranchTheConditionPicksEachCall) {
  const std::string bytes = runtime_if_model();
  Result<std::shared_ptr<Graph>> g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_TRUE(has_op(*g.value(), OpType::kIf));
  Result<std::unique_ptr<Executor>> ex = Executor::create(g.value(), ctx());
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  std::vector<Tensor> out;
  // sum > 0: then, relu(x) * w.
  ASSERT_TRUE(ex.value()->run({floats(Shape{1, 4}, {1.0f, -2.0f, 3.0f, 0.5f})}, &out).ok());
  EXPECT_EQ(out[0].shape(), (Shape{1, 4}));
  const std::vector<float> then_want = {1.0f, 0.0f, 9.0f, 2.0f};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[0].data()[i], then_want[static_cast<size_t>(i)]);
  // sum < 0: else, -x; then back again (each branch's executor is kept).
  ASSERT_TRUE(ex.value()->run({floats(Shape{1, 4}, {-1.0f, -2.0f, 3.0f, -0.5f})}, &out).ok());
  const std::vector<float> else_want = {1.0f, 2.0f, -3.0f, 0.5f};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[0].data()[i], else_want[static_cast<size_t>(i)]);
  ASSERT_TRUE(ex.value()->run({floats(Shape{1, 4}, {2.0f, 1.0f, 0.0f, 0.0f})}, &out).ok());
  EXPECT_FLOAT_EQ(out[0].data()[0], 2.0f);
  EXPECT_FLOAT_EQ(out[0].data()[1], 2.0f);
  // Another batch size reshapes the branches too.
  Result<std::vector<Tensor>> two = run(g.value(), {floats(Shape{2, 4}, {1, 1, 1, 1, 1, 1, 1, 1})});
  // (the condition then has one element still: ReduceSum over everything)
  ASSERT_TRUE(two.ok()) << two.status().to_string();
  EXPECT_EQ(two.value()[0].shape(), (Shape{2, 4}));
  EXPECT_FLOAT_EQ(two.value()[0].data()[7], 4.0f);
  // A Vitrine model file does not store branch graphs: saving says so.
  Result<std::vector<uint8_t>> saved = save_model(*g.value());
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.status().message().find("subgraphs"), std::string::npos) << saved.status().to_string();
}

// then: unsqueeze to (1, 1, 4); else: x as is (1, 4). With the condition an initializer, the branch
// it picks joins the graph (no If node), whatever its shapes.
std::string constant_if_model(int64_t cond, bool runtime_cond = false) {
  OnnxModelBuilder then_b, else_b;
  then_b.initializer(int64_tensor("axes0", {1}, {0}));
  then_b.node("Unsqueeze", {"x", "axes0"}, {"t"}).output("t");
  else_b.node("Identity", {"x"}, {"e"}).output("e");
  OnnxModelBuilder b;
  b.input("x", {1, 4});
  if (runtime_cond) {
    b.initializer(float_tensor("zero", {}, {0.0f}));
    b.node("ReduceSum", {"x"}, {"s"}, {attr_int("keepdims", 0)});
    b.node("Greater", {"s", "zero"}, {"c"});
  } else {
    b.initializer(int64_tensor("c", {}, {cond}));
  }
  b.node("If", {"c"}, {"y"}, {attr_graph("then_branch", then_b.graph()), attr_graph("else_branch", else_b.graph())});
  b.node("Relu", {"y"}, {"z"});
  b.output("z");
  return b.bytes();
}

TEST(OnnxControlFlow, ConstantConditionInlinesItsBranchWithItsOwnShapes) {
  for (int64_t cond : {1, 0}) {
    const std::string bytes = constant_if_model(cond);
    Result<std::shared_ptr<Graph>> g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    EXPECT_FALSE(has_op(*g.value(), OpType::kIf));
    Result<std::vector<Tensor>> out = run(g.value(), {floats(Shape{1, 4}, {-1, 2, -3, 4})});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].shape(), cond ? (Shape{1, 1, 4}) : (Shape{1, 4}));
    EXPECT_FLOAT_EQ(out.value()[0].data()[0], 0.0f);
    EXPECT_FLOAT_EQ(out.value()[0].data()[3], 4.0f);
  }
}

TEST(OnnxControlFlow, RuntimeBranchesOfDifferentShapesAreRefusedByName) {
  const std::string bytes = constant_if_model(0, /*runtime_cond=*/true);
  Result<std::shared_ptr<Graph>> g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_FALSE(g.ok());
  const std::string& m = g.status().message();
  EXPECT_NE(m.find("(1, 1, 4) in the then branch and (1, 4) in the else branch"), std::string::npos) << m;
  EXPECT_NE(m.find("only known at run time"), std::string::npos) << m;
}

// A scalar int64 input picks the branch (as Silero VAD's sample rate does); inside the then branch
// an If on a shape (known at import) is inlined, and the branch reads the outer input and weights.
TEST(OnnxControlFlow, NestedIfOnAScalarInputAndOnAShape) {
  OnnxModelBuilder inner_then, inner_else;
  inner_then.node("Mul", {"x", "w"}, {"it"}).output("it");
  inner_else.node("Neg", {"x"}, {"ie"}).output("ie");
  OnnxModelBuilder then_b, else_b;
  then_b.initializer(int64_tensor("i1", {}, {1}));
  then_b.node("Shape", {"x"}, {"sh"});
  then_b.initializer(int64_tensor("i0", {}, {0}));
  then_b.node("Gather", {"sh", "i0"}, {"n"});
  then_b.node("Equal", {"n", "i1"}, {"batch1"});
  then_b.node("If", {"batch1"}, {"t"},
              {attr_graph("then_branch", inner_then.graph()), attr_graph("else_branch", inner_else.graph())});
  then_b.output("t");
  else_b.node("Add", {"x", "w"}, {"e"}).output("e");
  OnnxModelBuilder b;
  b.input("x", {1, 2});
  b.typed_input("sr", onnx::DataType::kInt64, {});
  b.initializer(float_tensor("w", {2}, {10.0f, 100.0f}));
  b.initializer(int64_tensor("k16", {}, {16000}));
  b.node("Equal", {"sr", "k16"}, {"c"});
  b.node("If", {"c"}, {"y"}, {attr_graph("then_branch", then_b.graph()), attr_graph("else_branch", else_b.graph())});
  b.output("y");
  const std::string bytes = b.bytes();
  auto shared = std::make_shared<const std::vector<uint8_t>>(bytes.begin(), bytes.end());
  Result<std::unique_ptr<ModelRunner>> r = ModelRunner::load(shared, {}, ctx());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r.value()->declared_dims()[1].empty());  // sr: a scalar
  auto sr = [](int64_t v) {
    Tensor t = Tensor::zeros(Shape{}, DType::kI64).value();
    t.mutable_data_as<int64_t>()[0] = v;
    return t;
  };
  std::vector<Tensor> out;
  ASSERT_TRUE(r.value()->run({floats(Shape{1, 2}, {2, 3}), sr(16000)}, &out).ok());
  EXPECT_FLOAT_EQ(out[0].data()[0], 20.0f);
  EXPECT_FLOAT_EQ(out[0].data()[1], 300.0f);
  ASSERT_TRUE(r.value()->run({floats(Shape{1, 2}, {2, 3}), sr(8000)}, &out).ok());
  EXPECT_FLOAT_EQ(out[0].data()[0], 12.0f);
  EXPECT_FLOAT_EQ(out[0].data()[1], 103.0f);
  // A one-element (1) tensor is taken for the scalar too; a longer one is refused by name.
  ASSERT_TRUE(r.value()->run({floats(Shape{1, 2}, {2, 3}), Tensor::zeros(Shape{1}, DType::kI64).value()}, &out).ok());
  EXPECT_FLOAT_EQ(out[0].data()[0], 12.0f);
  Status bad = r.value()->run({floats(Shape{1, 2}, {2, 3}), Tensor::zeros(Shape{2}, DType::kI64).value()}, &out);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'sr'"), std::string::npos) << bad.to_string();
}

TEST(OnnxControlFlow, BranchMissingOrShadowingIsAClearError) {
  OnnxModelBuilder then_b;
  then_b.node("Neg", {"x"}, {"x"}).output("x");  // redefines the outer x
  OnnxModelBuilder b;
  b.input("x", {1, 2});
  b.initializer(int64_tensor("c", {}, {1}));
  b.node("If", {"c"}, {"y"}, {attr_graph("then_branch", then_b.graph()), attr_graph("else_branch", then_b.graph())});
  b.output("y");
  std::string bytes = b.bytes();
  Result<std::shared_ptr<Graph>> g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("has the name of an outer value"), std::string::npos) << g.status().to_string();

  OnnxModelBuilder c;
  c.input("x", {1, 2});
  c.initializer(int64_tensor("c", {}, {1}));
  c.node("If", {"c"}, {"y"}, {attr_graph("then_branch", then_b.graph())});
  c.output("y");
  bytes = c.bytes();
  g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("needs then_branch and else_branch"), std::string::npos) << g.status().to_string();
}

// Loop with a constant trip count: unrolled; y carried (y += x each time), the running y scanned.
std::string loop_model(bool runtime_trips) {
  OnnxModelBuilder body;
  body.typed_input("i", onnx::DataType::kInt64, {});
  body.typed_input("c_in", onnx::DataType::kBool, {});
  body.input("y_in", {1, 2});
  body.node("Add", {"y_in", "x"}, {"y_out"});
  body.node("Identity", {"c_in"}, {"c_out"});
  body.node("Identity", {"y_out"}, {"scan"});
  body.output("c_out").output("y_out").output("scan");
  OnnxModelBuilder b;
  b.input("x", {1, 2});
  if (runtime_trips) {
    b.typed_input("m", onnx::DataType::kInt64, {});
  } else {
    b.initializer(int64_tensor("m", {}, {3}));
  }
  b.initializer(float_tensor("y0", {1, 2}, {10.0f, 20.0f}));
  b.node("Loop", {"m", "", "y0"}, {"y_final", "ys"}, {attr_graph("body", body.graph())});
  b.output("y_final").output("ys");
  return b.bytes();
}

TEST(OnnxControlFlow, LoopWithAKnownTripCountIsUnrolled) {
  std::string bytes = loop_model(false);
  Result<std::shared_ptr<Graph>> g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  Result<std::vector<Tensor>> out = run(g.value(), {floats(Shape{1, 2}, {1, 2})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_FLOAT_EQ(out.value()[0].data()[0], 13.0f);
  EXPECT_FLOAT_EQ(out.value()[0].data()[1], 26.0f);
  ASSERT_EQ(out.value()[1].shape(), (Shape{3, 1, 2}));
  const std::vector<float> ys = {11, 22, 12, 24, 13, 26};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out.value()[1].data()[i], ys[static_cast<size_t>(i)]);
  // A trip count known only at run time is refused with the reason.
  bytes = loop_model(true);
  g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("trip count known only at run time"), std::string::npos) << g.status().to_string();
}

// Training through an If chosen at run time: h = x · W (W trained) picks relu(h) or -h by the sign
// of its sum; the gradient flows back through whichever branch ran, and the loss falls.
TEST(OnnxControlFlow, TrainingFlowsThroughTheBranchTaken) {
  OnnxModelBuilder then_b, else_b;
  then_b.node("Relu", {"h"}, {"t"}).output("t");
  else_b.node("Neg", {"h"}, {"e"}).output("e");
  OnnxModelBuilder b;
  b.input("x", {1, 3});
  b.initializer(float_tensor("W", {3, 2}, {0.5f, -0.2f, 0.1f, 0.4f, -0.3f, 0.2f}));
  b.initializer(float_tensor("zero", {}, {0.0f}));
  b.node("MatMul", {"x", "W"}, {"h"});
  b.node("ReduceSum", {"h"}, {"s"}, {attr_int("keepdims", 0)});
  b.node("Greater", {"s", "zero"}, {"c"});
  b.node("If", {"c"}, {"y"}, {attr_graph("then_branch", then_b.graph()), attr_graph("else_branch", else_b.graph())});
  b.output("y");
  const std::string bytes = b.bytes();
  Result<std::shared_ptr<Graph>> g = import_onnx(onnx_test::bytes_of(bytes), bytes.size());
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  TrainerOptions o;
  o.loss.type = LossType::kMeanSquaredError;
  o.optimizer.type = "sgd";
  o.optimizer.learning_rate = 0.1;
  Result<std::unique_ptr<Trainer>> t = Trainer::create(g.value(), ctx(), o);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  // x then -x: after the first, h = x · W sums above 0 for x (then: relu) and below for -x (else: -h).
  for (const std::vector<float>& xv : {std::vector<float>{1, 2, 3}, std::vector<float>{-1, -2, -3}}) {
    const Tensor x = floats(Shape{1, 3}, xv);
    const Tensor target = xv[0] > 0 ? floats(Shape{1, 2}, {0.5f, 0.25f}) : floats(Shape{1, 2}, {1.5f, 0.75f});
    Result<double> first = t.value()->step({x}, target);
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    double last = first.value();
    for (int i = 0; i < 20; ++i) {
      Result<double> l = t.value()->step({x}, target);
      ASSERT_TRUE(l.ok()) << l.status().to_string();
      last = l.value();
    }
    EXPECT_LT(last, 0.5 * first.value()) << "x = " << xv[0];
  }
}

}  // namespace
}  // namespace vitrine
