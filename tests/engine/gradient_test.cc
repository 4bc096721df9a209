// Finite-difference checks of every backward kernel: one table drives them all (conv/pool cases live
// in gradient_conv_test.cc and recurrent/attention/batch-norm cases in gradient_seq_test.cc, with
// the same harness), and a census that names ops still without a backward kernel.
#include <gtest/gtest.h>

#include <set>

#include "gradcheck.h"

namespace vitrine {
namespace {

using testing::GradCase;
using testing::GradInput;
using testing::InputRole;

OpAttrs attrs(std::initializer_list<std::pair<const char*, double>> numbers,
              std::initializer_list<std::pair<const char*, std::vector<int64_t>>> ints = {},
              std::initializer_list<std::pair<const char*, const char*>> strings = {}) {
  OpAttrs a;
  for (const auto& [k, v] : numbers) a.numbers[k] = v;
  for (const auto& [k, v] : ints) a.ints[k] = v;
  for (const auto& [k, v] : strings) a.strings[k] = v;
  return a;
}

GradInput act(Shape s, float min_abs = 0.0f) { return GradInput{s, InputRole::kActivation, nullptr, min_abs}; }
GradInput param(Shape s) { return GradInput{s, InputRole::kParameter, nullptr, 0.0f}; }
GradInput positive(Shape s) {
  return GradInput{s, InputRole::kActivation, [](Tensor& t, std::mt19937& rng) {
                     std::uniform_real_distribution<float> d(0.5f, 2.0f);
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
                   }};
}
GradInput ids(Shape s, std::vector<float> values) {
  return GradInput{s, InputRole::kIds, [values](Tensor& t, std::mt19937&) {
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = values[static_cast<size_t>(i)];
                   }};
}

std::vector<GradCase> table() {
  return {
      {"dense with bias", OpType::kDense, {}, {act(Shape{3, 5}), param(Shape{4, 5}), param(Shape{4})}},
      {"dense rank 3", OpType::kDense, {}, {act(Shape{2, 3, 5}), param(Shape{2, 5})}},
      {"relu", OpType::kRelu, {}, {act(Shape{4, 6}, 0.05f)}},
      {"clip (relu6)", OpType::kClip, attrs({{"min", -0.5}, {"max", 0.5}}), {act(Shape{4, 6})}},
      {"leaky_relu", OpType::kLeakyRelu, attrs({{"alpha", 0.1}}), {act(Shape{3, 5}, 0.05f)}},
      {"sigmoid", OpType::kSigmoid, {}, {act(Shape{3, 5})}},
      {"tanh", OpType::kTanh, {}, {act(Shape{3, 5})}},
      {"hardswish", OpType::kHardSwish, {}, {act(Shape{3, 5})}},
      {"hard_sigmoid", OpType::kHardSigmoid, attrs({{"alpha", 1.0 / 6}, {"beta", 0.5}}), {act(Shape{3, 5})}},
      {"gelu", OpType::kGelu, {}, {act(Shape{3, 5})}},
      {"gelu tanh", OpType::kGelu, attrs({}, {}, {{"approximate", "tanh"}}), {act(Shape{3, 5})}},
      {"add broadcast", OpType::kAdd, {}, {act(Shape{2, 3, 4}), act(Shape{3, 1})}},
      {"sub broadcast", OpType::kSub, {}, {act(Shape{4}), act(Shape{2, 3, 4})}},
      {"mul broadcast", OpType::kMul, {}, {act(Shape{2, 1, 4}), param(Shape{3, 1})}},
      {"div", OpType::kDiv, {}, {act(Shape{2, 3}), positive(Shape{2, 3})}},
      {"softmax", OpType::kSoftmax, {}, {act(Shape{3, 6})}},
      {"log_softmax", OpType::kLogSoftmax, {}, {act(Shape{3, 6})}},
      {"reshape", OpType::kReshape, attrs({}, {{"shape", {0, -1}}}), {act(Shape{2, 3, 4})}},
      {"flatten", OpType::kFlatten, {}, {act(Shape{2, 3, 2})}},
      {"identity", OpType::kIdentity, {}, {act(Shape{3, 2})}},
      {"dropout (inference)", OpType::kDropout, attrs({{"rate", 0.2}}), {act(Shape{3, 2})}},
      {"transpose", OpType::kTranspose, attrs({}, {{"perm", {2, 0, 1}}}), {act(Shape{2, 3, 4})}},
      {"concat", OpType::kConcat, attrs({{"axis", 1}}), {act(Shape{2, 2, 3}), act(Shape{2, 4, 3})}},
      {"slice", OpType::kSlice, attrs({}, {{"starts", {1, 0}}, {"ends", {3, -1}}, {"axes", {0, 2}}}), {act(Shape{4, 2, 5})}},
      {"pad", OpType::kPad, attrs({{"value", 0.5}}, {{"pads", {1, 0, 0, 2}}}), {act(Shape{2, 3})}},
      {"reduce_mean", OpType::kReduceMean, attrs({{"keepdims", 0}}, {{"axes", {1}}}), {act(Shape{2, 3, 4})}},
      {"matmul batch broadcast", OpType::kMatMul, {}, {act(Shape{2, 3, 4}), param(Shape{4, 5})}},
      {"matmul both batched", OpType::kMatMul, {}, {act(Shape{2, 3, 4}), act(Shape{2, 4, 2})}},
      {"layer_norm", OpType::kLayerNorm, {}, {act(Shape{3, 6}), param(Shape{6}), param(Shape{6})}},
      {"batch_norm training", OpType::kBatchNorm, attrs({{"training", 1}, {"step", 0}}),
       {act(Shape{2, 3, 3, 4}), param(Shape{4}), param(Shape{4}), GradInput{Shape{4}, InputRole::kFixed, nullptr, 0.0f},
        GradInput{Shape{4}, InputRole::kFixed, [](Tensor& t, std::mt19937&) {
                    for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = 1.0f;
                  }, 0.0f}},
       1e-2f, 2e-4, 2e-3},
      {"dropout training", OpType::kDropout, attrs({{"training", 1}, {"step", 3}, {"rate", 0.4}}), {act(Shape{4, 5})}},
      {"embedding", OpType::kEmbedding, {}, {ids(Shape{2, 3}, {1, 0, 4, 4, 2, 1}), param(Shape{5, 3})}},
      {"embedding_bag mean", OpType::kEmbeddingBag, attrs({}, {}, {{"mode", "mean"}}),
       {ids(Shape{2, 3}, {1, 3, -1, 4, 4, 0}), param(Shape{5, 3}), positive(Shape{2, 3})}},
      {"embedding_bag sum", OpType::kEmbeddingBag, attrs({}, {}, {{"mode", "sum"}}),
       {ids(Shape{2, 3}, {1, 3, -1, 4, 4, 0}), param(Shape{5, 3}), act(Shape{2, 3})}},
  };
}

TEST(Gradients, EveryTableCaseMatchesFiniteDifferences) {
  for (const GradCase& c : table()) testing::check_gradients(c);
}

// Ops whose backward is still missing (none today). A new op must come with its backward or be
// added here knowingly.
TEST(Gradients, OpsWithoutBackwardAreKnown) {
  const std::set<std::string> pending = {};
  for (const OpInfo& info : all_ops()) {
    if (info.backward == nullptr) {
      EXPECT_TRUE(pending.count(info.name)) << info.name << " has no backward kernel";
    }
  }
}

// The registry: each entry carries ops.def's id and name (VITRINE_OP_INFO), infers shapes, runs
// somewhere (an XNNPACK lowering or an engine kernel), and names a sparse-gradient input that exists.
TEST(OpRegistry, EntriesMatchOpsDefAndAreComplete) {
  std::set<uint16_t> ids;
  std::set<std::string> names;
#define VITRINE_OP(Name, op_id, op_name)                \
  EXPECT_EQ(op_info(OpType::k##Name).id, op_id);       \
  EXPECT_STREQ(op_info(OpType::k##Name).name, op_name); \
  EXPECT_EQ(&op_info(OpType::k##Name), &op_info(find_op(op_name).value()->type));
#include "vitrine/ops.def"
#undef VITRINE_OP
  for (const OpInfo& info : all_ops()) {
    EXPECT_TRUE(ids.insert(info.id).second) << info.name;
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_NE(info.infer_shapes, nullptr) << info.name;
    EXPECT_TRUE(info.lower != nullptr || info.run != nullptr) << info.name << " runs nowhere";
    EXPECT_GE(info.min_inputs, 1) << info.name;
    EXPECT_LE(info.min_inputs, info.max_inputs) << info.name;
    if (info.sparse_table_grad != nullptr) {
      EXPECT_GE(info.sparse_table_input, 0) << info.name;
      EXPECT_LT(info.sparse_table_input, info.max_inputs) << info.name;
    }
  }
}

}  // namespace
}  // namespace vitrine
