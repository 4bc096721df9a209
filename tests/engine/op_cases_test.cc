// The op case table: each row runs forward against a double-precision reference, the engine
// kernel against the lowering where an op has both, and backward against finite differences
// (op_cases.h). More rows per family live in op_cases_conv_test.cc (convolution, pooling) and
// op_cases_seq_test.cc (recurrent, attention, batch norm) with the same harness. The census fails
// when an ops.def entry has no row here with a reference, or no backward kernel.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "op_cases.h"

namespace vitrine {
namespace {

using testing::CaseInput;
using testing::InputRole;
using testing::OpCase;

// An If node's attributes: then = relu(a) + w (w a constant of the branch), else = -b; the node
// passes one input to each.
OpAttrs if_attrs(const Shape& shape) {
  auto then_graph = std::make_shared<Graph>();
  const int a = then_graph->add_input("a", shape).value();
  const int w = then_graph->add_constant("w", Tensor::from_values(Shape{1}, std::vector<float>{0.5f}.data(), 1).value()).value();
  const int r = then_graph->add(OpType::kRelu, "r", {a}).value();
  EXPECT_TRUE(then_graph->add_output(then_graph->add(OpType::kAdd, "y", {r, w}).value()).ok());
  auto else_graph = std::make_shared<Graph>();
  const int b = else_graph->add_input("b", shape).value();
  EXPECT_TRUE(else_graph->add_output(else_graph->add(OpType::kNeg, "y", {b}).value()).ok());
  OpAttrs attrs;
  attrs.ints["then_inputs"] = {1};
  for (auto& g : {then_graph, else_graph}) {
    auto sub = std::make_shared<Subgraph>();
    sub->graph = g;
    attrs.subgraphs.push_back(sub);
  }
  return attrs;
}

// If rows: the condition fixed to `take_then`, checked against the branch's formula.
OpCase if_case(bool take_then) {
  OpCase c;
  c.label = take_then ? "if, condition true (then: relu(a) + 0.5)" : "if, condition false (else: -b)";
  c.op = OpType::kIf;
  c.attrs = if_attrs(Shape{2, 3});
  c.inputs = {CaseInput{Shape{1}, InputRole::kIds, [take_then](Tensor& t, std::mt19937&) {
                          t.mutable_data_as<uint8_t>()[0] = take_then ? 1 : 0;
                        }, 0.0f, DType::kBool},
              CaseInput{Shape{2, 3}}, CaseInput{Shape{2, 3}}};
  c.reference = [take_then](const std::vector<Tensor>& in) {
    std::vector<double> y;
    for (int64_t i = 0; i < 6; ++i) {
      y.push_back(take_then ? std::max(0.0, testing::at(in[1], i)) + 0.5 : -testing::at(in[2], i));
    }
    return testing::Outputs{y};
  };
  return c;
}

OpAttrs attrs(std::initializer_list<std::pair<const char*, double>> numbers,
              std::initializer_list<std::pair<const char*, std::vector<int64_t>>> ints = {},
              std::initializer_list<std::pair<const char*, const char*>> strings = {}) {
  OpAttrs a;
  for (const auto& [k, v] : numbers) a.numbers[k] = v;
  for (const auto& [k, v] : ints) a.ints[k] = v;
  for (const auto& [k, v] : strings) a.strings[k] = v;
  return a;
}

CaseInput act(Shape s, float min_abs = 0.0f) { return CaseInput{s, InputRole::kActivation, nullptr, min_abs}; }
CaseInput param(Shape s) { return CaseInput{s, InputRole::kParameter, nullptr, 0.0f}; }
CaseInput positive(Shape s) {
  return CaseInput{s, InputRole::kActivation, [](Tensor& t, std::mt19937& rng) {
                     std::uniform_real_distribution<float> d(0.5f, 2.0f);
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
                   }};
}
CaseInput ids(Shape s, std::vector<float> values) {
  return CaseInput{s, InputRole::kIds, [values](Tensor& t, std::mt19937&) {
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = values[static_cast<size_t>(i)];
                   }};
}

// Values n + 0.2 .. n + 0.8 for integers n in [-3, 3): floor and ceil are flat there, so a
// finite-difference step never crosses an integer.
CaseInput between_integers(Shape s) {
  return CaseInput{s, InputRole::kActivation, [](Tensor& t, std::mt19937& rng) {
                     std::uniform_int_distribution<int> n(-3, 2);
                     std::uniform_real_distribution<float> f(0.2f, 0.8f);
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = static_cast<float>(n(rng)) + f(rng);
                   }};
}

// A non-f32 input (never differentiated): integers in [-3, 3] (bool: 0/1, u8: 0..6), or `fill`.
CaseInput typed(Shape s, DType dtype, std::function<void(Tensor&, std::mt19937&)> fill = nullptr) {
  return CaseInput{s, InputRole::kIds, std::move(fill), 0.0f, dtype};
}
// Integer-valued f32 activations in [-3, 3]: comparisons then see ties.
CaseInput small_integers(Shape s) {
  return CaseInput{s, InputRole::kActivation, [](Tensor& t, std::mt19937& rng) {
                     std::uniform_int_distribution<int> d(-3, 3);
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = static_cast<float>(d(rng));
                   }};
}
// f32 activations spread over [-lim, lim] (saturating casts).
CaseInput wide(Shape s, float lim) {
  return CaseInput{s, InputRole::kActivation, [lim](Tensor& t, std::mt19937& rng) {
                     std::uniform_real_distribution<float> d(-lim, lim);
                     for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
                   }};
}

// f32 activations uniform in [lo, hi], none within 0.01 of any of `avoid` (kinks, jumps).
CaseInput uniform(Shape s, float lo, float hi, std::vector<float> avoid = {}) {
  return CaseInput{s, InputRole::kActivation, [lo, hi, avoid](Tensor& t, std::mt19937& rng) {
                     std::uniform_real_distribution<float> d(lo, hi);
                     for (int64_t i = 0; i < t.num_elements(); ++i) {
                       float v;
                       bool near;
                       do {
                         v = d(rng);
                         near = false;
                         for (float p : avoid) near = near || std::fabs(v - p) < 0.01f;
                       } while (near);
                       t.mutable_data()[i] = v;
                     }
                   }};
}

CaseInput fixed(Shape s, std::function<void(Tensor&, std::mt19937&)> fill = nullptr) {
  return CaseInput{s, InputRole::kFixed, std::move(fill), 0.0f};
}
CaseInput lengths(std::vector<float> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return ids(Shape{n}, std::move(values));
}

// Recurrent and attention rows: a coarser step, tighter tolerances (smooth ops).
OpCase smooth(OpCase c) {
  c.eps = 1e-2f;
  c.atol = 2e-4;
  c.rtol = 2e-3;
  return c;
}

std::vector<OpCase> table() {
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
      {"elu", OpType::kElu, attrs({{"alpha", 0.7}}), {act(Shape{3, 5}, 0.05f)}},
      {"selu", OpType::kSelu, {}, {act(Shape{3, 5}, 0.05f)}},
      {"softplus", OpType::kSoftplus, {}, {act(Shape{3, 5})}},
      {"exp", OpType::kExp, {}, {act(Shape{3, 5})}},
      {"log", OpType::kLog, {}, {positive(Shape{3, 5})}},
      {"sqrt", OpType::kSqrt, {}, {positive(Shape{3, 5})}},
      {"neg", OpType::kNeg, {}, {act(Shape{3, 5})}},
      {"abs", OpType::kAbs, {}, {act(Shape{3, 5}, 0.05f)}},
      {"reciprocal", OpType::kReciprocal, {}, {positive(Shape{3, 5})}},
      {"erf", OpType::kErf, {}, {act(Shape{3, 5})}},
      {"floor", OpType::kFloor, {}, {between_integers(Shape{3, 5})}},
      {"ceil", OpType::kCeil, {}, {between_integers(Shape{3, 5})}},
      {"sin", OpType::kSin, {}, {act(Shape{3, 5})}},
      {"cos", OpType::kCos, {}, {act(Shape{3, 5})}},
      {"tan", OpType::kTan, {}, {act(Shape{3, 4})}},
      {"asin", OpType::kAsin, {}, {uniform(Shape{3, 4}, -0.8f, 0.8f)}},
      {"acos", OpType::kAcos, {}, {uniform(Shape{3, 4}, -0.8f, 0.8f)}},
      {"atan", OpType::kAtan, {}, {uniform(Shape{3, 4}, -3.0f, 3.0f)}},
      {"sinh", OpType::kSinh, {}, {uniform(Shape{3, 4}, -2.0f, 2.0f)}},
      {"cosh", OpType::kCosh, {}, {uniform(Shape{3, 4}, -2.0f, 2.0f)}},
      {"asinh", OpType::kAsinh, {}, {uniform(Shape{3, 4}, -3.0f, 3.0f)}},
      {"acosh", OpType::kAcosh, {}, {uniform(Shape{3, 4}, 1.2f, 4.0f)}},
      {"atanh", OpType::kAtanh, {}, {uniform(Shape{3, 4}, -0.8f, 0.8f)}},
      {"sign", OpType::kSign, {}, {act(Shape{3, 4}, 0.05f)}},
      {"round (halves to even)", OpType::kRound, {},
       {CaseInput{Shape{2, 6}, InputRole::kActivation, [](Tensor& t, std::mt19937& rng) {
                    std::uniform_real_distribution<float> f(0.1f, 0.4f);
                    const float halves[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f};
                    for (int64_t i = 0; i < 6; ++i) t.mutable_data()[i] = halves[i];
                    for (int64_t i = 6; i < 12; ++i) t.mutable_data()[i] = static_cast<float>(i - 9) + (i % 2 ? f(rng) : -f(rng));
                  }}},
       1e-3f, 2e-3, 5e-3, nullptr, 1e-5, 1e-4, /*check_backward=*/false},
      {"softsign", OpType::kSoftsign, {}, {uniform(Shape{3, 4}, -3.0f, 3.0f, {0.0f})}},
      {"thresholded_relu alpha 0.25", OpType::kThresholdedRelu, attrs({{"alpha", 0.25}}), {uniform(Shape{3, 4}, -1.0f, 1.0f, {0.25f})}},
      {"celu alpha 0.7", OpType::kCelu, attrs({{"alpha", 0.7}}), {uniform(Shape{3, 4}, -2.0f, 2.0f, {0.0f})}},
      {"shrink lambd 0.3 bias 0.1", OpType::kShrink, attrs({{"lambd", 0.3}, {"bias", 0.1}}), {uniform(Shape{3, 4}, -1.0f, 1.0f, {-0.3f, 0.3f})}},
      {"max broadcast", OpType::kMax, {}, {testing::distinct_values(Shape{2, 3, 4}), param(Shape{3, 1})}},
      {"min broadcast", OpType::kMin, {}, {act(Shape{4}), testing::distinct_values(Shape{2, 3, 4})}},
      {"pow", OpType::kPow, {}, {positive(Shape{2, 3}), act(Shape{2, 3})}},
      {"prelu per channel", OpType::kPRelu, {}, {act(Shape{2, 3, 4}, 0.05f), param(Shape{4})}},
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
      {"concat of 11 inputs (a chain of XNNPACK concatenations)", OpType::kConcat, attrs({{"axis", -1}}),
       {act(Shape{2, 1}), act(Shape{2, 2}), act(Shape{2, 3}), act(Shape{2, 1}), act(Shape{2, 2}), act(Shape{2, 1}),
        act(Shape{2, 3}), act(Shape{2, 1}), act(Shape{2, 2}), act(Shape{2, 1}), act(Shape{2, 4})}},
      {"slice", OpType::kSlice, attrs({}, {{"starts", {1, 0}}, {"ends", {3, -1}}, {"axes", {0, 2}}}), {act(Shape{4, 2, 5})}},
      {"pad", OpType::kPad, attrs({{"value", 0.5}}, {{"pads", {1, 0, 0, 2}}}), {act(Shape{2, 3})}},
      {"pad reflect", OpType::kPad, attrs({}, {{"pads", {1, 2, 0, 2, 1, 1}}}, {{"mode", "reflect"}}), {act(Shape{3, 4, 2})}},
      {"pad edge", OpType::kPad, attrs({}, {{"pads", {2, 0, 1, 3}}}, {{"mode", "edge"}}), {act(Shape{2, 3})}},
      {"reduce_mean", OpType::kReduceMean, attrs({{"keepdims", 0}}, {{"axes", {1}}}), {act(Shape{2, 3, 4})}},
      {"reduce_sum two axes", OpType::kReduceSum, attrs({}, {{"axes", {0, 2}}}), {act(Shape{2, 3, 4})}},
      {"reduce_max", OpType::kReduceMax, attrs({{"keepdims", 0}}, {{"axes", {-1}}}), {testing::distinct_values(Shape{2, 3, 4})}},
      {"reduce_min all", OpType::kReduceMin, {}, {testing::distinct_values(Shape{3, 4})}},
      {"reduce_sum_square", OpType::kReduceSumSquare, attrs({}, {{"axes", {1}}}), {act(Shape{2, 3, 4})}},
      {"reduce_l2", OpType::kReduceL2, attrs({{"keepdims", 0}}, {{"axes", {2}}}), {act(Shape{2, 3, 4}, 0.05f)}},
      {"reduce_prod", OpType::kReduceProd, attrs({}, {{"axes", {1}}}), {positive(Shape{2, 3, 2})}},
      {"reduce_l1", OpType::kReduceL1, attrs({}, {{"axes", {0}}}), {act(Shape{3, 4}, 0.05f)}},
      {"reduce_log_sum", OpType::kReduceLogSum, attrs({}, {{"axes", {1}}}), {positive(Shape{2, 3})}},
      {"reduce_log_sum_exp", OpType::kReduceLogSumExp, attrs({{"keepdims", 0}}, {{"axes", {1}}}), {act(Shape{2, 5, 2})}},
      {"cast f32 -> i32 (truncation)", OpType::kCast, attrs({}, {}, {{"to", "i32"}}), {wide(Shape{3, 4}, 5.0f)}},
      {"cast f32 -> u8 (saturation)", OpType::kCast, attrs({}, {}, {{"to", "u8"}}), {wide(Shape{2, 6}, 400.0f)}},
      {"cast f32 -> bool", OpType::kCast, attrs({}, {}, {{"to", "bool"}}), {small_integers(Shape{2, 5})}},
      {"cast f32 -> f32 (gradient passes)", OpType::kCast, attrs({}, {}, {{"to", "f32"}}), {act(Shape{2, 3})}},
      {"cast i64 -> f32", OpType::kCast, attrs({}, {}, {{"to", "f32"}}), {typed(Shape{2, 3}, DType::kI64)}},
      {"cast bool -> i64", OpType::kCast, attrs({}, {}, {{"to", "i64"}}), {typed(Shape{4}, DType::kBool)}},
      {"cast i32 -> i8 (wraps)", OpType::kCast, attrs({}, {}, {{"to", "i8"}}),
       {typed(Shape{5}, DType::kI32, [](Tensor& t, std::mt19937&) {
          const int32_t v[] = {127, 128, -129, 300, -3};
          for (int i = 0; i < 5; ++i) t.mutable_data_as<int32_t>()[i] = v[i];
        })}},
      {"equal i64 broadcast", OpType::kEqual, {}, {typed(Shape{2, 3}, DType::kI64), typed(Shape{3}, DType::kI64)}},
      {"less f32", OpType::kLess, {}, {small_integers(Shape{3, 4}), small_integers(Shape{3, 4})}},
      {"less_or_equal i32 broadcast", OpType::kLessOrEqual, {}, {typed(Shape{2, 1, 3}, DType::kI32), typed(Shape{4, 1}, DType::kI32)}},
      {"greater f32 scalar-like", OpType::kGreater, {}, {small_integers(Shape{2, 5}), small_integers(Shape{1})}},
      {"greater_or_equal u8", OpType::kGreaterOrEqual, {}, {typed(Shape{6}, DType::kU8), typed(Shape{6}, DType::kU8)}},
      {"and broadcast", OpType::kAnd, {}, {typed(Shape{3, 4}, DType::kBool), typed(Shape{4}, DType::kBool)}},
      {"or", OpType::kOr, {}, {typed(Shape{2, 3}, DType::kBool), typed(Shape{2, 3}, DType::kBool)}},
      {"xor broadcast", OpType::kXor, {}, {typed(Shape{2, 1}, DType::kBool), typed(Shape{1, 4}, DType::kBool)}},
      {"not", OpType::kNot, {}, {typed(Shape{7}, DType::kBool)}},
      {"where f32, three-way broadcast", OpType::kWhere, {}, {typed(Shape{2, 1, 3}, DType::kBool), act(Shape{4, 3}), act(Shape{2, 4, 1})}},
      {"where i64", OpType::kWhere, {}, {typed(Shape{5}, DType::kBool), typed(Shape{5}, DType::kI64), typed(Shape{1}, DType::kI64)}},
      {"arg_max f32 axis 1", OpType::kArgMax, attrs({{"axis", 1}, {"keepdims", 0}}), {testing::distinct_values(Shape{2, 4, 3})}},
      {"arg_min i32 last of ties", OpType::kArgMin, attrs({{"axis", -1}, {"select_last_index", 1}}), {typed(Shape{3, 6}, DType::kI32)}},
      {"arg_max f32 first of ties", OpType::kArgMax, {}, {small_integers(Shape{7, 2})}},
      {"resize nearest asymmetric floor x2 (PaddleOCR)", OpType::kResize,
       attrs({{"scale_1", 2}, {"scale_2", 2}}, {}, {{"coordinate_transformation_mode", "asymmetric"}, {"nearest_mode", "floor"}}),
       {act(Shape{1, 3, 4, 2})}},
      {"resize nearest half_pixel round_prefer_ceil, sizes", OpType::kResize,
       attrs({}, {{"sizes", {2, 5, 3}}}, {{"nearest_mode", "round_prefer_ceil"}}), {act(Shape{2, 3, 4})}},
      {"resize linear half_pixel down", OpType::kResize, attrs({}, {{"sizes", {1, 3, 2, 2}}}, {{"mode", "linear"}}),
       {act(Shape{1, 3, 5, 3})}},
      {"resize linear pytorch_half_pixel x1.7", OpType::kResize,
       attrs({{"scale_2", 1.7}}, {}, {{"mode", "linear"}, {"coordinate_transformation_mode", "pytorch_half_pixel"}}),
       {act(Shape{2, 2, 3})}},
      {"resize cubic align_corners", OpType::kResize,
       attrs({}, {{"sizes", {1, 6, 5}}}, {{"mode", "cubic"}, {"coordinate_transformation_mode", "align_corners"}}),
       {act(Shape{1, 4, 4})}},
      {"resize cubic exclude_outside, a = -0.5", OpType::kResize,
       attrs({{"cubic_coeff_a", -0.5}, {"exclude_outside", 1}, {"scale_0", 2.5}}, {}, {{"mode", "cubic"}}), {act(Shape{4, 2})}},
      {"gather axis 1, negative indices", OpType::kGather, attrs({{"axis", 1}}),
       {act(Shape{2, 4, 3}), typed(Shape{2, 2}, DType::kI64, [](Tensor& t, std::mt19937&) {
          const int64_t v[] = {0, -1, 2, 0};  // a repeated row: its gradient adds up
          for (int i = 0; i < 4; ++i) t.mutable_data_as<int64_t>()[i] = v[i];
        })}},
      {"gather i32 indices from an i64 table (embedding-like)", OpType::kGather, {},
       {typed(Shape{5, 2}, DType::kI64), typed(Shape{3}, DType::kI32, [](Tensor& t, std::mt19937&) {
          const int32_t v[] = {4, 0, 4};
          for (int i = 0; i < 3; ++i) t.mutable_data_as<int32_t>()[i] = v[i];
        })}},
      {"expand", OpType::kExpand, attrs({}, {{"shape", {2, 3, 4}}}), {act(Shape{3, 1})}},
      {"expand i32 new leading axes", OpType::kExpand, attrs({}, {{"shape", {2, 2, 3}}}), {typed(Shape{3}, DType::kI32)}},
      {"tile", OpType::kTile, attrs({}, {{"repeats", {2, 1, 3}}}), {act(Shape{2, 3, 2})}},
      {"tile bool", OpType::kTile, attrs({}, {{"repeats", {3, 2}}}), {typed(Shape{2, 2}, DType::kBool)}},
      {"cum_sum axis 1", OpType::kCumSum, attrs({{"axis", 1}}), {act(Shape{2, 4, 3})}},
      {"cum_sum exclusive reverse", OpType::kCumSum, attrs({{"axis", -1}, {"exclusive", 1}, {"reverse", 1}}), {act(Shape{3, 5})}},
      {"hardmax axis 1", OpType::kHardmax, attrs({{"axis", 1}}), {testing::distinct_values(Shape{2, 4, 3})}},
      {"add i64 broadcast", OpType::kAdd, {}, {typed(Shape{2, 3}, DType::kI64), typed(Shape{3}, DType::kI64)}},
      {"sub u8 (wraps below 0)", OpType::kSub, {}, {typed(Shape{6}, DType::kU8), typed(Shape{6}, DType::kU8)}, 1e-3f, 2e-3, 5e-3,
       [](const std::vector<Tensor>& in) {
         std::vector<double> y;
         for (int64_t i = 0; i < 6; ++i) y.push_back(std::fmod(testing::at(in[0], i) - testing::at(in[1], i) + 256.0, 256.0));
         return testing::Outputs{y};
       }},
      {"mul i8", OpType::kMul, {}, {typed(Shape{2, 2}, DType::kI8), typed(Shape{2, 2}, DType::kI8)}},
      {"div i32 (truncates)", OpType::kDiv, {},
       {typed(Shape{6}, DType::kI32), typed(Shape{6}, DType::kI32, [](Tensor& t, std::mt19937&) {
          const int32_t v[] = {2, -2, 3, -3, 1, 4};
          for (int i = 0; i < 6; ++i) t.mutable_data_as<int32_t>()[i] = v[i];
        })}},
      {"max i64", OpType::kMax, {}, {typed(Shape{3, 2}, DType::kI64), typed(Shape{1, 2}, DType::kI64)}},
      {"min i32", OpType::kMin, {}, {typed(Shape{4}, DType::kI32), typed(Shape{4}, DType::kI32)}},
      {"pow f32 ^ i64", OpType::kPow, {}, {act(Shape{2, 3}), typed(Shape{3}, DType::kI64, [](Tensor& t, std::mt19937&) {
          const int64_t v[] = {0, 2, 3};
          for (int i = 0; i < 3; ++i) t.mutable_data_as<int64_t>()[i] = v[i];
        })}},
      {"pow i32 ^ f32", OpType::kPow, {}, {typed(Shape{4}, DType::kI32, [](Tensor& t, std::mt19937&) {
          const int32_t v[] = {1, 2, 3, 5};
          for (int i = 0; i < 4; ++i) t.mutable_data_as<int32_t>()[i] = v[i];
        }), uniform(Shape{4}, 0.5f, 2.5f)}, 1e-3f, 2e-3, 5e-3, nullptr, 1e-5, 1e-4, /*check_backward=*/false},  // an i32 output: no gradient
      {"top_k largest axis 1", OpType::kTopK, attrs({{"k", 2}, {"axis", 1}}), {testing::distinct_values(Shape{2, 4, 3})}},
      {"top_k smallest, ties keep the lower index", OpType::kTopK, attrs({{"k", 3}, {"largest", 0}}), {typed(Shape{2, 6}, DType::kI32)}},
      {"gather_elements axis 1, negative indices", OpType::kGatherElements, attrs({{"axis", 1}}),
       {act(Shape{2, 4}), typed(Shape{2, 3}, DType::kI64, [](Tensor& t, std::mt19937&) {
          const int64_t v[] = {0, -1, 0, 3, 1, 1};  // repeats: their gradients add up
          for (int i = 0; i < 6; ++i) t.mutable_data_as<int64_t>()[i] = v[i];
        })}},
      {"scatter_elements axis 1 (distinct targets)", OpType::kScatterElements, attrs({{"axis", 1}}),
       {act(Shape{2, 4}), typed(Shape{2, 2}, DType::kI64, [](Tensor& t, std::mt19937&) {
          const int64_t v[] = {3, -4, 1, 2};
          for (int i = 0; i < 4; ++i) t.mutable_data_as<int64_t>()[i] = v[i];
        }), act(Shape{2, 2})}},
      {"scatter_elements add, repeated targets", OpType::kScatterElements, attrs({}, {}, {{"reduction", "add"}}),
       {act(Shape{3, 2}), typed(Shape{2, 2}, DType::kI32, [](Tensor& t, std::mt19937&) {
          const int32_t v[] = {1, 1, 1, 0};
          for (int i = 0; i < 4; ++i) t.mutable_data_as<int32_t>()[i] = v[i];
        }), act(Shape{2, 2})}},
      {"scatter_nd slices, last write wins", OpType::kScatterND, {},
       {act(Shape{4, 3}), typed(Shape{3, 1}, DType::kI64, [](Tensor& t, std::mt19937&) {
          const int64_t v[] = {2, 0, 2};
          for (int i = 0; i < 3; ++i) t.mutable_data_as<int64_t>()[i] = v[i];
        }), act(Shape{3, 3})}},
      {"scatter_nd mul, full index tuples", OpType::kScatterND, attrs({}, {}, {{"reduction", "mul"}}),
       {act(Shape{2, 3}), typed(Shape{2, 2}, DType::kI64, [](Tensor& t, std::mt19937&) {
          const int64_t v[] = {1, 2, 0, -1};
          for (int i = 0; i < 4; ++i) t.mutable_data_as<int64_t>()[i] = v[i];
        }), act(Shape{2})}, 1e-3f, 2e-3, 5e-3, nullptr, 1e-5, 1e-4, /*check_backward=*/false},  // mul: no gradient
      {"reshape i64", OpType::kReshape, attrs({}, {{"shape", {3, -1}}}), {typed(Shape{2, 3}, DType::kI64)}},
      {"transpose bool", OpType::kTranspose, attrs({}, {{"perm", {1, 2, 0}}}), {typed(Shape{2, 3, 4}, DType::kBool)}},
      {"concat i32", OpType::kConcat, attrs({{"axis", 1}}), {typed(Shape{2, 1, 2}, DType::kI32), typed(Shape{2, 3, 2}, DType::kI32)}},
      if_case(true),
      if_case(false),
      {"dense one row, 301 inputs, 7 outputs (matrix-vector kernel tails)", OpType::kDense, {},
       {act(Shape{1, 301}), param(Shape{7, 301}), param(Shape{7})}},
      {"dense six rows (kernel: matrix multiply + bias)", OpType::kDense, {},
       {act(Shape{6, 9}), param(Shape{5, 9}), param(Shape{5})}},
      {"slice steps 2 and -1 (reversed)", OpType::kSlice,
       attrs({}, {{"starts", {0, -1}}, {"ends", {5, INT64_MIN}}, {"axes", {0, 1}}, {"steps", {2, -1}}}), {act(Shape{5, 4})}},
      {"slice step -2 from past the end, i64", OpType::kSlice,
       attrs({}, {{"starts", {100}}, {"ends", {0}}, {"steps", {-2}}}), {typed(Shape{7}, DType::kI64)}},
      {"slice u8", OpType::kSlice, attrs({}, {{"starts", {1, -3}}, {"ends", {3, 100}}}), {typed(Shape{4, 5}, DType::kU8)}},
      {"identity i8", OpType::kIdentity, {}, {typed(Shape{3, 2}, DType::kI8)}},
      {"flatten i64", OpType::kFlatten, attrs({{"axis", 2}}), {typed(Shape{2, 3, 2}, DType::kI64)}},
      {"matmul batch broadcast", OpType::kMatMul, {}, {act(Shape{2, 3, 4}), param(Shape{4, 5})}},
      {"matmul both batched", OpType::kMatMul, {}, {act(Shape{2, 3, 4}), act(Shape{2, 4, 2})}},
      {"layer_norm", OpType::kLayerNorm, {}, {act(Shape{3, 6}), param(Shape{6}), param(Shape{6})}},
      {"batch_norm training", OpType::kBatchNorm, attrs({{"training", 1}, {"step", 0}}),
       {act(Shape{2, 3, 3, 4}), param(Shape{4}), param(Shape{4}), CaseInput{Shape{4}, InputRole::kFixed, nullptr, 0.0f},
        CaseInput{Shape{4}, InputRole::kFixed, [](Tensor& t, std::mt19937&) {
                    for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = 1.0f;
                  }, 0.0f}},
       1e-2f, 2e-4, 2e-3},
      {"dropout training", OpType::kDropout, attrs({{"training", 1}, {"step", 3}, {"rate", 0.4}}), {act(Shape{4, 5})}},
      {"embedding", OpType::kEmbedding, {}, {ids(Shape{2, 3}, {1, 0, 4, 4, 2, 1}), param(Shape{5, 3})}},
      {"embedding_bag mean", OpType::kEmbeddingBag, attrs({}, {}, {{"mode", "mean"}}),
       {ids(Shape{2, 3}, {1, 3, -1, 4, 4, 0}), param(Shape{5, 3}), positive(Shape{2, 3})}},
      {"embedding_bag sum", OpType::kEmbeddingBag, attrs({}, {}, {{"mode", "sum"}}),
       {ids(Shape{2, 3}, {1, 3, -1, 4, 4, 0}), param(Shape{5, 3}), act(Shape{2, 3})}},
      {"conv2d stride, dilation, asymmetric pads, 2 groups", OpType::kConv2D,
       attrs({{"groups", 2}}, {{"strides", {2, 1}}, {"dilations", {1, 2}}, {"pads", {1, 0, 1, 1}}}),
       {act(Shape{1, 5, 6, 4}), param(Shape{4, 3, 2, 2}), param(Shape{4})}},
      {"conv2d depthwise", OpType::kConv2D, attrs({{"groups", 3}}, {{"pads", {1, 1, 1, 1}}}),
       {act(Shape{2, 4, 4, 3}), param(Shape{3, 3, 3, 1})}},
      {"conv2d depthwise, multiplier 2, stride 2, bias", OpType::kConv2D, attrs({{"groups", 3}}, {{"strides", {2, 2}}, {"pads", {1, 0, 1, 1}}}),
       {act(Shape{1, 5, 6, 3}), param(Shape{6, 3, 2, 1}), param(Shape{6})}},
      {"conv_transpose2d stride 2, pads, output_padding", OpType::kConvTranspose2D,
       attrs({}, {{"strides", {2, 2}}, {"pads", {1, 0, 0, 1}}, {"output_padding", {1, 0}}}),
       {act(Shape{1, 3, 3, 2}), param(Shape{3, 2, 3, 2}), param(Shape{3})}},
      {"max_pool2d 3x3 stride 2 pads 1 ceil_mode", OpType::kMaxPool2D,
       attrs({{"ceil_mode", 1}}, {{"kernel", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}}),
       {testing::distinct_values(Shape{1, 6, 7, 2})}},
      {"max_pool2d dilation 2", OpType::kMaxPool2D, attrs({}, {{"kernel", {2, 2}}, {"strides", {1, 1}}, {"dilations", {2, 2}}}),
       {testing::distinct_values(Shape{2, 5, 5, 2})}},
      {"avg_pool2d 3x2 strides [2, 1] pads (not counted)", OpType::kAvgPool2D,
       attrs({}, {{"kernel", {3, 2}}, {"strides", {2, 1}}, {"pads", {1, 0, 1, 1}}}), {act(Shape{2, 5, 4, 3})}},
      {"global_avg_pool2d", OpType::kGlobalAvgPool2D, {}, {act(Shape{2, 3, 4, 3})}},
      {"batch_norm inference", OpType::kBatchNorm, attrs({{"epsilon", 1e-3}}),
       {act(Shape{2, 3, 2, 4}), param(Shape{4}), param(Shape{4}), fixed(Shape{4}),
        fixed(Shape{4}, [](Tensor& t, std::mt19937& rng) {
          std::uniform_real_distribution<float> d(0.5f, 1.5f);
          for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data()[i] = d(rng);
        })}},
      smooth({"gru bidirectional, ONNX reset, lengths", OpType::kGru,
              attrs({{"hidden_size", 3}, {"bidirectional", 1}, {"linear_before_reset", 0}}),
              {act(Shape{2, 3, 2}), param(Shape{18, 2}), param(Shape{18, 3}), param(Shape{18}), param(Shape{18}),
               lengths({3, 1})}}),
      smooth({"gru PyTorch reset", OpType::kGru, attrs({{"hidden_size", 2}}),
              {act(Shape{2, 3, 3}), param(Shape{6, 3}), param(Shape{6, 2}), param(Shape{6}), param(Shape{6})}}),
      smooth({"lstm reverse, lengths (one empty)", OpType::kLstm, attrs({{"hidden_size", 2}, {"reverse", 1}}),
              {act(Shape{3, 4, 2}), param(Shape{8, 2}), param(Shape{8, 2}), param(Shape{8}), param(Shape{8}),
               lengths({2, 4, 0})}}),
      smooth({"lstm bidirectional", OpType::kLstm, attrs({{"hidden_size", 2}, {"bidirectional", 1}}),
              {act(Shape{2, 3, 2}), param(Shape{16, 2}), param(Shape{16, 2}), param(Shape{16}), param(Shape{16})}}),
      smooth({"lstm bidirectional with an initial state", OpType::kLstm,
              attrs({{"hidden_size", 2}, {"bidirectional", 1}, {"initial_state", 1}}),
              {act(Shape{2, 3, 2}), param(Shape{16, 2}), param(Shape{16, 2}), param(Shape{16}), param(Shape{16}),
               lengths({3, 2}), act(Shape{2, 4}), act(Shape{2, 4})}}),
      smooth({"lstm one step from a state (streaming: row dot products)", OpType::kLstm,
              attrs({{"hidden_size", 3}, {"initial_state", 1}}),
              {act(Shape{1, 1, 5}), param(Shape{12, 5}), param(Shape{12, 3}), param(Shape{12}), param(Shape{12}),
               lengths({1}), act(Shape{1, 3}), act(Shape{1, 3})}}),
      smooth({"gru two steps, ONNX reset, from a state (row dot products)", OpType::kGru,
              attrs({{"hidden_size", 3}, {"linear_before_reset", 0}, {"initial_state", 1}}),
              {act(Shape{2, 2, 9}), param(Shape{9, 9}), param(Shape{9, 3}), param(Shape{9}), param(Shape{9}),
               lengths({2, 1}), act(Shape{2, 3})}}),
      smooth({"gru with an initial state", OpType::kGru, attrs({{"hidden_size", 2}, {"initial_state", 1}}),
              {act(Shape{2, 3, 3}), param(Shape{6, 3}), param(Shape{6, 2}), param(Shape{6}), param(Shape{6}),
               lengths({3, 0}), act(Shape{2, 2})}}),
      smooth({"attention with an additive mask", OpType::kAttention, {},
              {act(Shape{2, 3, 4}), act(Shape{2, 4, 4}), act(Shape{2, 4, 3}), act(Shape{3, 4})}}),
      smooth({"attention causal, rank 4, scale", OpType::kAttention, attrs({{"causal", 1}, {"scale", 0.7}}),
              {act(Shape{1, 2, 3, 2}), act(Shape{1, 2, 3, 2}), act(Shape{1, 2, 3, 3})}}),
  };
}

// Reflect pads must stay inside the dimension, modes are named; f16 is refused by computing ops.
TEST(OpCases, PadModesAndF16AreChecked) {
  Tensor x = Tensor::zeros(Shape{2, 3}).value();
  Result<std::vector<Tensor>> r = testing::run_node(OpType::kPad, attrs({}, {{"pads", {0, 3, 0, 0}}}, {{"mode", "reflect"}}), {x});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("smaller than its size 3"), std::string::npos) << r.status().to_string();
  r = testing::run_node(OpType::kPad, attrs({}, {{"pads", {0, 1, 0, 0}}}, {{"mode", "wrap"}}), {x});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown mode 'wrap'"), std::string::npos) << r.status().to_string();
  Tensor h = Tensor::zeros(Shape{2, 3}, DType::kF16).value();
  r = testing::run_node(OpType::kAdd, {}, {h, h});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("f16, which is storage only"), std::string::npos) << r.status().to_string();
  r = testing::run_node(OpType::kTranspose, attrs({}, {{"perm", {1, 0}}}), {h});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
}

// Integer division by zero (and INT_MIN / -1) fails the run with a message; no trap, no crash.
TEST(OpCases, IntegerDivisionErrorsAreStatuses) {
  Tensor a = Tensor::zeros(Shape{2}, DType::kI32).value();
  Tensor b = Tensor::zeros(Shape{2}, DType::kI32).value();
  a.mutable_data_as<int32_t>()[0] = 7;
  b.mutable_data_as<int32_t>()[0] = 2;  // b[1] = 0
  Result<std::vector<Tensor>> r = testing::run_node(OpType::kDiv, {}, {a, b});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("integer division by zero"), std::string::npos) << r.status().to_string();
  a.mutable_data_as<int32_t>()[1] = INT32_MIN;
  b.mutable_data_as<int32_t>()[1] = -1;
  r = testing::run_node(OpType::kDiv, {}, {a, b});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("overflows"), std::string::npos) << r.status().to_string();
  // Mixed integer types are refused when the graph is built, naming the input.
  Tensor c = Tensor::zeros(Shape{2}, DType::kI64).value();
  r = testing::run_node(OpType::kAdd, {}, {a, c});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("input 1 is i64, expected i32"), std::string::npos) << r.status().to_string();
}

TEST(OpCases, EveryRowMatchesItsReferenceAndFiniteDifferences) {
  for (const OpCase& c : table()) testing::check_op_case(c);
}

// Every op in ops.def has a row here whose forward is compared with a reference.
TEST(OpCases, CensusEveryOpHasACheckedRow) {
  std::map<OpType, int> checked;
  for (const OpCase& c : table())
    if (c.reference || testing::reference_for(c.op, c.attrs)) ++checked[c.op];
  for (const OpInfo& info : all_ops()) EXPECT_GT(checked[info.type], 0) << info.name << " has no row with a reference";
}

// Ops whose backward is still missing (none today). A new op must come with its backward or be
// added here knowingly; ops none of whose inputs is differentiable (comparisons, arg max, ...)
// need none.
TEST(Gradients, OpsWithoutBackwardAreKnown) {
  const std::set<std::string> pending = {};
  for (const OpInfo& info : all_ops()) {
    bool any_differentiable = false;
    for (int i = 0; i < info.max_inputs; ++i) any_differentiable = any_differentiable || info.differentiable_input(static_cast<size_t>(i));
    if (info.backward == nullptr && any_differentiable) {
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
