// Crafted (hostile) model files: each must end in a Status error, in bounded time and memory, never
// a crash, abort, SIGFPE or hang (issue 13). Every file is built here in memory; the small ones are
// also kept in tests/fixtures/hostile/ as a regression corpus that CorpusFilesFailCleanly loads (and
// that the wasm build can run too). Regenerate the corpus with
//   VITRINE_WRITE_HOSTILE=tests/fixtures/hostile build/native/tests/engine/vitrine_tests
//       --gtest_filter='HostileModel.*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "onnx_builder.h"
#include "vitrine/graph.h"
#include "vitrine/limits.h"
#include "vitrine/model_file.h"
#include "vitrine/npy.h"
#include "vitrine/onnx_import.h"
#include "vitrine/safetensors.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define VITRINE_HOSTILE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VITRINE_HOSTILE_SANITIZED 1
#endif
#if !defined(NDEBUG) && !defined(VITRINE_HOSTILE_SANITIZED)
#define VITRINE_HOSTILE_UNOPTIMIZED 1
#endif

namespace vitrine {
namespace {

namespace fs = std::filesystem;
using namespace onnx_test;

constexpr size_t kMaxCorpusFileBytes = 64 * 1024;

// Whether wall-clock bounds are meaningful in this build (not under sanitizers or -O0).
bool timing_is_meaningful() {
#if defined(VITRINE_HOSTILE_SANITIZED) || defined(VITRINE_HOSTILE_UNOPTIMIZED)
  return false;
#else
  return true;
#endif
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Loads `bytes` as a model (ONNX or Vitrine safetensors, detected by content) and, when that
// succeeds, runs it once on zero inputs of the graph's input shapes. The first error, or OK.
Status load_and_run(const std::string& bytes) {
  auto shared = std::make_shared<const std::vector<uint8_t>>(bytes.begin(), bytes.end());
  Result<LoadedModel> model = load_model(shared);
  if (!model.ok()) return model.status();
  Result<std::unique_ptr<Context>> ctx = Context::create(1, 1);
  if (!ctx.ok()) return ctx.status();
  Result<std::unique_ptr<Executor>> ex = Executor::create(model->graph, ctx->get());
  if (!ex.ok()) return ex.status();
  std::vector<Tensor> inputs;
  for (int id : model->graph->inputs()) {
    Result<Tensor> t = Tensor::zeros(model->graph->value(id).shape, model->graph->value(id).dtype);
    if (!t.ok()) return t.status();
    inputs.push_back(t.value());
  }
  std::vector<Tensor> outputs;
  return ex.value()->run(inputs, &outputs);
}

// Writes `bytes` to $VITRINE_WRITE_HOSTILE/<name> when that variable is set (regenerates the
// checked-in corpus). Large files stay generated-only.
void maybe_write_corpus(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("VITRINE_WRITE_HOSTILE");
  if (dir == nullptr || *dir == '\0' || bytes.size() > kMaxCorpusFileBytes) return;
  std::ofstream out(fs::path(dir) / name, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << (fs::path(dir) / name);
}

// The crafted file `name` must fail with a message containing `needle`, within a few seconds.
void expect_fails(const std::string& name, const std::string& bytes, StatusCode code, const std::string& needle) {
  SCOPED_TRACE(name);
  maybe_write_corpus(name, bytes);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = load_and_run(bytes);
  const double elapsed = seconds_since(t0);
  ASSERT_FALSE(s.ok()) << name << " loaded and ran";
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_TRUE(contains(s.message(), needle)) << "message: " << s.message() << "\nexpected to contain: " << needle;
  if (timing_is_meaningful()) {
    EXPECT_LT(elapsed, 2.0) << name;
  }
}

// Restores the process-wide limits when a test that changes them ends.
class LimitsGuard {
 public:
  LimitsGuard() : saved_(default_limits()) {}
  ~LimitsGuard() { set_default_limits(saved_); }

 private:
  Limits saved_;
};

// A 1x1x4x4 image through one node `op` with weights (1, 1, 3, 3) for Conv.
std::string image_model(const std::string& op, const std::vector<ProtoWriter>& attributes) {
  OnnxModelBuilder b(13);
  b.input("x", {1, 1, 4, 4});
  std::vector<std::string> inputs = {"x"};
  if (op == "Conv") {
    b.initializer(float_tensor("w", {1, 1, 3, 3}, std::vector<float>(9, 1.0f)));
    inputs.push_back("w");
  }
  b.node(op, inputs, {"y"}, attributes).output("y");
  return b.bytes();
}

// ---- 1, 2: strides ------------------------------------------------------------------------------

TEST(HostileModel, ZeroStrideWithSamePaddingFailsCleanly) {
  expect_fails("conv_zero_stride_same.onnx",
               image_model("Conv", {attr_ints("strides", {0, 0}), attr_string("auto_pad", "SAME_UPPER")}),
               StatusCode::kInvalidArgument, "strides must be >= 1");
  expect_fails("maxpool_zero_stride_same.onnx",
               image_model("MaxPool", {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {0, 1}),
                                       attr_string("auto_pad", "SAME_LOWER")}),
               StatusCode::kInvalidArgument, "strides must be >= 1");
  expect_fails("avgpool_zero_stride_same.onnx",
               image_model("AveragePool", {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {1, 0}),
                                           attr_string("auto_pad", "SAME_UPPER")}),
               StatusCode::kInvalidArgument, "strides must be >= 1");
  expect_fails("conv_zero_dilation_same.onnx",
               image_model("Conv", {attr_ints("dilations", {0, 0}), attr_string("auto_pad", "SAME_UPPER")}),
               StatusCode::kInvalidArgument, "dilations must be >= 1");
  expect_fails("maxpool_zero_kernel.onnx", image_model("MaxPool", {attr_ints("kernel_shape", {0, 2})}),
               StatusCode::kInvalidArgument, "kernel_shape must be >= 1");
}

TEST(HostileModel, EmptyStridesListFailsCleanly) {
  expect_fails("conv_empty_strides.onnx", image_model("Conv", {attr_ints("strides", {})}),
               StatusCode::kInvalidArgument, "strides");
  expect_fails("maxpool_empty_strides_same.onnx",
               image_model("MaxPool", {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {}),
                                       attr_string("auto_pad", "SAME_UPPER")}),
               StatusCode::kUnimplemented, "strides must hold 2 values");
  expect_fails("maxpool_empty_kernel_dilations_same.onnx",
               image_model("MaxPool", {attr_ints("kernel_shape", {2, 2}), attr_ints("dilations", {}),
                                       attr_string("auto_pad", "SAME_UPPER")}),
               StatusCode::kUnimplemented, "dilations must hold 2 values");
}

// ---- 3: constant folding ------------------------------------------------------------------------

// Reshape(x, a <op> b) with int64 constants a and b (folded at import).
std::string folded_shape_model(const std::string& op, int64_t a, int64_t b) {
  OnnxModelBuilder m(13);
  m.input("x", {1, 4});
  m.initializer(int64_tensor("a", {1}, {a})).initializer(int64_tensor("b", {1}, {b}));
  m.node(op, {"a", "b"}, {"shape"});
  m.node("Reshape", {"x", "shape"}, {"y"}).output("y");
  return m.bytes();
}

TEST(HostileModel, IntegerConstantFoldingOverflowAndDivisionByZeroFailCleanly) {
  expect_fails("fold_div_int64_min_by_minus_one.onnx", folded_shape_model("Div", INT64_MIN, -1),
               StatusCode::kInvalidArgument, "overflows int64");
  expect_fails("fold_div_by_zero.onnx", folded_shape_model("Div", 7, 0), StatusCode::kInvalidArgument,
               "division by zero");
  expect_fails("fold_mul_overflow.onnx", folded_shape_model("Mul", INT64_MAX / 2, 3),
               StatusCode::kInvalidArgument, "overflows int64");
  expect_fails("fold_add_overflow.onnx", folded_shape_model("Add", INT64_MAX, 1), StatusCode::kInvalidArgument,
               "overflows int64");
  expect_fails("fold_sub_overflow.onnx", folded_shape_model("Sub", INT64_MIN, 1), StatusCode::kInvalidArgument,
               "overflows int64");
  // Mod is not an op the importer knows: refused before any folding.
  expect_fails("fold_mod_by_zero.onnx", folded_shape_model("Mod", 7, 0), StatusCode::kUnimplemented, "Mod");
}

// Crafted shape arithmetic and typed ops: every one a clear error, none a crash, a hang or a huge
// allocation (found by review and fuzzing of the typed-tensor importer).
TEST(HostileModel, TypedShapeArithmeticFailsCleanly) {
  auto range_model = [](ProtoWriter start, ProtoWriter limit, ProtoWriter delta) {
    OnnxModelBuilder m(13);
    m.input("x", {1, 4});
    m.initializer(start).initializer(limit).initializer(delta);
    m.node("Range", {"s", "l", "d"}, {"r"});
    m.node("Reshape", {"x", "r"}, {"y"}).output("y");
    return m.bytes();
  };
  expect_fails("range_span_overflow.onnx",
               range_model(int64_tensor("s", {}, {INT64_MIN}), int64_tensor("l", {}, {INT64_MAX}), int64_tensor("d", {}, {1})),
               StatusCode::kInvalidArgument, "limit - start overflows int64");
  expect_fails("range_mixed_types.onnx",
               range_model(int64_tensor("s", {}, {0}), int64_tensor("l", {}, {4}), float_tensor("d", {}, {1.0f})),
               StatusCode::kInvalidArgument, "must have one type");
  expect_fails("range_huge.onnx",
               range_model(int64_tensor("s", {}, {0}), int64_tensor("l", {}, {INT64_MAX}), int64_tensor("d", {}, {1})),
               StatusCode::kResourceExhausted, "max_tensor_elements");
  {
    OnnxModelBuilder m(13);
    m.input("x", {1, 4});
    m.initializer(int64_tensor("shape", {2}, {int64_t{1} << 20, int64_t{1} << 20}));
    m.node("ConstantOfShape", {"shape"}, {"c"});
    m.node("Add", {"x", "c"}, {"y"}).output("y");
    expect_fails("constant_of_shape_huge.onnx", m.bytes(), StatusCode::kResourceExhausted, "max_tensor_elements");
  }
  {
    OnnxModelBuilder m(13);
    m.input("x", {1, 4});
    m.initializer(int64_tensor("reps", {2}, {int64_t{1} << 40, 1}));
    m.node("Tile", {"x", "reps"}, {"y"}).output("y");
    expect_fails("tile_huge.onnx", m.bytes(), StatusCode::kInvalidArgument, "more than 2^40 elements");
  }
  {
    OnnxModelBuilder m(13);
    m.input("x", {1, 1, 4, 4});
    m.initializer(float_tensor("scales", {4}, {1.0f, 1.0f, 1e12f, 1.0f}));
    m.node("Resize", {"x", "", "scales"}, {"y"}).output("y");
    expect_fails("resize_huge_scale.onnx", m.bytes(), StatusCode::kInvalidArgument, "gives output size");
  }
  {
    OnnxModelBuilder m(13);
    m.input("x", {2, 3});
    m.node("Transpose", {"x"}, {"y"}, {attr_ints("perm", {0})}).output("y");
    expect_fails("transpose_short_perm.onnx", m.bytes(), StatusCode::kInvalidArgument, "perm has 1 entries for a rank-2 input");
  }
  {
    OnnxModelBuilder m(13);
    m.input("x", {1, 4, 2, 2});
    m.node("DepthToSpace", {"x"}, {"y"}, {attr_int("blocksize", int64_t{1} << 40)}).output("y");
    expect_fails("depth_to_space_huge_block.onnx", m.bytes(), StatusCode::kInvalidArgument, "blocksize must be in [1, 4096]");
  }
}

// ---- 4: reshaped constants ----------------------------------------------------------------------

TEST(HostileModel, ReshapedConstantWithWrongElementCountFailsCleanly) {
  for (const std::string op : {"Gemm", "MatMul"}) {
    OnnxModelBuilder m(13);
    m.input("x", {1, 100});
    m.initializer(float_tensor("b", {6}, {1, 2, 3, 4, 5, 6}));
    m.initializer(int64_tensor("shape", {2}, {100, 100}));
    m.node("Reshape", {"b", "shape"}, {"b2"});
    m.node(op, {"x", "b2"}, {"y"}).output("y");
    expect_fails(std::string("reshape_constant_count_into_") + (op == "Gemm" ? "gemm" : "matmul") + ".onnx", m.bytes(),
                 StatusCode::kInvalidArgument,
                 "cannot reshape a constant of 6 values");
  }
  OnnxModelBuilder m(13);  // -1 that cannot be inferred
  m.input("x", {1, 4});
  m.initializer(float_tensor("b", {7}, std::vector<float>(7, 1.0f)));
  m.initializer(int64_tensor("shape", {2}, {-1, 2}));
  m.node("Reshape", {"b", "shape"}, {"b2"});
  m.node("MatMul", {"x", "b2"}, {"y"}).output("y");
  expect_fails("reshape_constant_bad_infer.onnx", m.bytes(), StatusCode::kInvalidArgument, "cannot infer -1");
}

// ---- 5: RNN weight counts -----------------------------------------------------------------------

std::string rnn_model(const std::string& op, int64_t hidden_size, int64_t input_size) {
  OnnxModelBuilder m(13);
  m.input("x", {1, 1, input_size});
  // dirs · gates · hidden_size · input_size wraps to 0 in int64 arithmetic: empty W and R "match".
  m.initializer(float_tensor("w", {1, 0, input_size}, {}));
  m.initializer(float_tensor("r", {1, 0, 1}, {}));
  m.node(op, {"x", "w", "r"}, {"y"}, {attr_int("hidden_size", hidden_size)}).output("y");
  return m.bytes();
}

TEST(HostileModel, RnnHiddenSizeWhoseWeightCountOverflowsFailsCleanly) {
  expect_fails("lstm_hidden_size_overflow.onnx", rnn_model("LSTM", int64_t{1} << 62, 1),
               StatusCode::kResourceExhausted, "hidden_size");
  expect_fails("gru_hidden_size_overflow.onnx", rnn_model("GRU", int64_t{1} << 62, 4),
               StatusCode::kResourceExhausted, "hidden_size");
  // Within the limit but not matching the (empty) weights.
  expect_fails("lstm_hidden_size_mismatch.onnx", rnn_model("LSTM", 1000, 1), StatusCode::kInvalidArgument,
               "wrong number of values");
}

// ---- 6: empty weights with huge dims ------------------------------------------------------------

TEST(HostileModel, ConvWeightsWithNoElementsButHugeDimsFailCleanly) {
  for (const auto& [name, dims] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"conv_empty_weights_huge_out.onnx", {int64_t{1} << 40, 0, 3, 3}},
           {"conv_empty_weights_huge_in.onnx", {1, int64_t{1} << 40, 0, 3}}}) {
    OnnxModelBuilder m(13);
    m.input("x", {1, 1, 4, 4});
    m.initializer(float_tensor("w", dims, {}));
    m.node("Conv", {"x", "w"}, {"y"}).output("y");
    expect_fails(name, m.bytes(), StatusCode::kInvalidArgument, "must be >= 1");
  }
  for (const std::string op : {"ConvTranspose", "Gemm"}) {
    OnnxModelBuilder m(13);
    m.input("x", op == "Gemm" ? std::vector<int64_t>{1, 4} : std::vector<int64_t>{1, 1, 4, 4});
    m.initializer(float_tensor("w", op == "Gemm" ? std::vector<int64_t>{0, int64_t{1} << 40}
                                                 : std::vector<int64_t>{1, int64_t{1} << 40, 0, 3},
                               {}));
    m.node(op, {"x", "w"}, {"y"}).output("y");
    expect_fails(std::string(op == "Gemm" ? "gemm" : "conv_transpose") + "_empty_weights_huge_dims.onnx", m.bytes(),
                 StatusCode::kInvalidArgument, "must be >= 1");
  }
}

// Found by fuzzing (tests/fuzz/onnx_fuzz.cc, reproducer in tests/fuzz/regressions/onnx/): a float
// constant with no elements but huge dimensions, added to an NHWC activation, made the importer's
// NCHW -> NHWC copy loop through 2^40 empty iterations (hours) before anything could refuse it.
TEST(HostileModel, EmptyConstantWithHugeDimsInImageArithmeticFailsCleanly) {
  OnnxModelBuilder m(13);
  m.input("x", {1, 1, 4, 4});
  m.initializer(float_tensor("w", {1, 1, 1, 1}, {1.0f}));
  m.initializer(float_tensor("c", {int64_t{1} << 40, 0, 1, 1}, {}));
  m.node("Conv", {"x", "w"}, {"y"});
  m.node("Add", {"y", "c"}, {"z"}).output("z");
  expect_fails("add_empty_constant_huge_dims_nhwc.onnx", m.bytes(), StatusCode::kInvalidArgument, "");
}

// Found by fuzzing: LayerNormalization over an activation with no elements but a huge normalized
// dimension sized its scale/bias vectors by that dimension (a 4 TiB allocation).
TEST(HostileModel, LayerNormOverEmptyActivationWithHugeDimsFailsCleanly) {
  OnnxModelBuilder m(17);
  m.input("x", {1, 0, int64_t{1} << 40});
  m.node("LayerNormalization", {"x"}, {"y"}, {attr_int("axis", -1)}).output("y");
  expect_fails("layer_norm_empty_activation_huge_dims.onnx", m.bytes(), StatusCode::kResourceExhausted,
               "max_tensor_elements");
}

// Found by fuzzing: Pad whose pads sum past INT64_MAX overflowed the padded dimension (UB).
TEST(HostileModel, PadsThatOverflowTheDimensionFailCleanly) {
  OnnxModelBuilder m(13);
  m.input("x", {1, 4});
  m.initializer(int64_tensor("pads", {4}, {0, INT64_MAX, 0, 2}));
  m.node("Pad", {"x", "pads"}, {"y"}).output("y");
  expect_fails("pad_overflowing_pads.onnx", m.bytes(), StatusCode::kInvalidArgument, "overflow");
}

// ---- 7: Slice -----------------------------------------------------------------------------------

TEST(HostileModel, EmptySliceStartsFailsCleanly) {
  for (bool constant_data : {true, false}) {
    OnnxModelBuilder m(13);
    m.input("x", {1, 4});
    if (constant_data) m.initializer(float_tensor("c", {4}, {1, 2, 3, 4}));
    m.initializer(int64_tensor("starts", {0}, {})).initializer(int64_tensor("ends", {0}, {}));
    m.node("Slice", {constant_data ? "c" : "x", "starts", "ends"}, {"y"}).output("y");
    expect_fails(std::string("slice_empty_starts_") + (constant_data ? "constant" : "activation") + ".onnx",
                 m.bytes(), StatusCode::kInvalidArgument, "starts and ends");
  }
  OnnxModelBuilder m(13);  // starts and ends of different lengths
  m.input("x", {1, 4});
  m.initializer(float_tensor("c", {4}, {1, 2, 3, 4}));
  m.initializer(int64_tensor("starts", {2}, {0, 0})).initializer(int64_tensor("ends", {1}, {2}));
  m.node("Slice", {"c", "starts", "ends"}, {"y"}).output("y");
  expect_fails("slice_starts_ends_mismatch.onnx", m.bytes(), StatusCode::kInvalidArgument, "starts and ends");
}

// ---- other crafted ONNX files -------------------------------------------------------------------

// A pooling window of 2 x (2^31 - 1) padded to fit ("SAME_LOWER") asked XNNPACK for a pointer per
// window element and output position: a 9 TB indirection buffer (found by the onnx fuzzer in CI).
TEST(HostileModel, HugePoolingWindowPaddedToFitFailsCleanly) {
  expect_fails("maxpool_huge_kernel_same_lower.onnx",
               image_model("MaxPool", {attr_ints("kernel_shape", {2, 2147483647}), attr_string("auto_pad", "SAME_LOWER")}),
               StatusCode::kResourceExhausted, "window elements");
  expect_fails("avgpool_huge_kernel_same_upper.onnx",
               image_model("AveragePool", {attr_ints("kernel_shape", {65536, 65536}), attr_string("auto_pad", "SAME_UPPER")}),
               StatusCode::kResourceExhausted, "window elements");
}

// A model cut just before its opset_import (the last field) is still valid protobuf; the importer
// refuses it instead of guessing an opset.
TEST(HostileModel, ModelWithoutOpsetImportIsRefused) {
  std::string bytes = image_model("Relu", {});
  const std::string opset("\x42\x04\x0a\x00\x10\x0d", 6);  // opset_import { domain: "", version: 13 }
  ASSERT_EQ(bytes.substr(bytes.size() - opset.size()), opset);
  bytes.resize(bytes.size() - opset.size());
  expect_fails("no_opset_import.onnx", bytes, StatusCode::kInvalidArgument, "imports no opset");
}

TEST(HostileModel, OtherMalformedNodesFailCleanly) {
  {
    OnnxModelBuilder m(13);  // a node without inputs
    m.input("x", {1, 4});
    m.node("Shape", {}, {"s"});
    m.node("Reshape", {"x", "s"}, {"y"}).output("y");
    expect_fails("shape_without_inputs.onnx", m.bytes(), StatusCode::kInvalidArgument, "has no inputs");
  }
  {
    OnnxModelBuilder m(11);  // Unsqueeze listing one axis twice
    m.input("x", {1, 4});
    m.node("Unsqueeze", {"x"}, {"y"}, {attr_ints("axes", {0, 0})}).output("y");
    expect_fails("unsqueeze_duplicate_axes.onnx", m.bytes(), StatusCode::kInvalidArgument, "listed twice");
  }
  {
    OnnxModelBuilder m(13);  // Conv with absurd pads: refused by shape inference, no overflow
    m.initializer(float_tensor("w", {1, 1, 1, 1}, {1}));
    m.input("x", {1, 1, 4, 4});
    m.node("Conv", {"x", "w"}, {"y"}, {attr_ints("pads", {INT64_MAX, 0, INT64_MAX, 0})}).output("y");
    expect_fails("conv_huge_pads.onnx", m.bytes(), StatusCode::kInvalidArgument, "below 2^31");
  }
  {
    OnnxModelBuilder m(13);  // an initializer above Limits::max_tensor_elements (declared, not stored)
    m.input("x", {1, 4});
    m.initializer(float_tensor("big", {int64_t{1} << 20, int64_t{1} << 10}, {}));
    m.node("Add", {"x", "big"}, {"y"}).output("y");
    expect_fails("initializer_over_limit.onnx", m.bytes(), StatusCode::kResourceExhausted,
                 "Limits::max_tensor_elements");
  }
  {
    OnnxModelBuilder m(13);  // the same as a Constant node's value
    m.input("x", {1, 4});
    m.node("Constant", {}, {"big"},
           {ProtoWriter()
                .bytes_field(kAttrName, "value")
                .message_field(kAttrT, float_tensor("", {int64_t{1} << 20, int64_t{1} << 10}, {}))
                .varint_field(kAttrType, onnx::AttributeType::kTensor)});
    m.node("Add", {"x", "big"}, {"y"}).output("y");
    expect_fails("constant_over_limit.onnx", m.bytes(), StatusCode::kResourceExhausted,
                 "Limits::max_tensor_elements");
  }
}

// ---- 8: a 200k-node graph -----------------------------------------------------------------------

// x (1, 1, 2, 2) through `nodes` nodes: a 1x1 Conv every 8th node (each with its own weight), Relu
// otherwise.
std::string long_chain_model(int nodes) {
  OnnxModelBuilder m(13);
  m.input("x", {1, 1, 2, 2});
  std::string prev = "x";
  for (int i = 0; i < nodes; ++i) {
    const std::string out = "v" + std::to_string(i);
    if (i % 8 == 0) {
      const std::string w = "w" + std::to_string(i);
      m.initializer(float_tensor(w, {1, 1, 1, 1}, {1.0f}));
      m.node("Conv", {prev, w}, {out});
    } else {
      m.node("Relu", {prev}, {out});
    }
    prev = out;
  }
  m.output(prev);
  return m.bytes();
}

TEST(HostileModel, GraphWith200kNodesImportsInLinearTime) {
  const std::string bytes = long_chain_model(200000);
  const auto t0 = std::chrono::steady_clock::now();
  Result<std::shared_ptr<Graph>> graph = import_onnx(bytes_of(bytes), bytes.size());
  const double elapsed = seconds_since(t0);
  ASSERT_TRUE(graph.ok()) << graph.status().to_string();
  EXPECT_GE(graph.value()->nodes().size(), 200000u);
  std::printf("[ timing ] import of a 200000-node ONNX graph (%zu bytes): %.3f s\n", bytes.size(), elapsed);
  if (timing_is_meaningful()) {
    EXPECT_LT(elapsed, 2.0);
  }
}

TEST(HostileModel, NodeAndAttributeLimitsAreEnforced) {
  LimitsGuard guard;
  Limits limits = default_limits();
  limits.max_nodes = 1000;
  set_default_limits(limits);
  const std::string bytes = long_chain_model(2000);
  Result<std::shared_ptr<Graph>> graph = import_onnx(bytes_of(bytes), bytes.size());
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(graph.status().message(), "ONNX model has 2000 nodes; the limit is 1000 (Limits::max_nodes)");

  limits = Limits();
  limits.max_attributes = 3;
  set_default_limits(limits);
  Status s = load_and_run(image_model("MaxPool", {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {1, 1}),
                                                  attr_ints("pads", {0, 0, 0, 0}), attr_int("ceil_mode", 0)}));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_TRUE(contains(s.message(), "has 4 attributes; the limit is 3 (Limits::max_attributes)")) << s.message();
}

TEST(HostileModel, TensorAllocationRespectsLimits) {
  Result<Tensor> t = Tensor::zeros(Shape{int64_t{1} << 20, int64_t{1} << 10});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(contains(t.status().message(), "Limits::max_tensor_elements")) << t.status().message();
  // Shape::make refuses huge dimensions even when another dimension is 0.
  EXPECT_FALSE(Shape::make({0, int64_t{1} << 40, int64_t{1} << 40}).ok());
  EXPECT_FALSE(Shape::make({INT64_MAX, INT64_MAX}).ok());
}

// ---- 9: safetensors metadata --------------------------------------------------------------------

std::string safetensors_with_metadata_keys(int keys) {
  std::string header = "{\"__metadata__\":{";
  for (int i = 0; i < keys; ++i) {
    if (i) header += ',';
    header += "\"k" + std::to_string(i) + "\":\"v\"";
  }
  header += "}}";
  return little_endian(header.size(), 8) + header;
}

TEST(HostileModel, SafetensorsWith300kMetadataKeysFailsFast) {
  const std::string bytes = safetensors_with_metadata_keys(300000);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = load_and_run(bytes);
  const double elapsed = seconds_since(t0);
  std::printf("[ timing ] safetensors header with 300000 __metadata__ keys (%zu bytes): %.3f s\n", bytes.size(),
              elapsed);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_TRUE(contains(s.message(), "has 300000 keys; the limit is 10000 (Limits::max_metadata_keys)"))
      << s.message();
  if (timing_is_meaningful()) {
    EXPECT_LT(elapsed, 2.0);
  }

  // With the limit raised, reading all of them is linear (was quadratic).
  LimitsGuard guard;
  Limits limits = default_limits();
  limits.max_metadata_keys = 1000000;
  set_default_limits(limits);
  const auto t1 = std::chrono::steady_clock::now();
  Result<SafetensorsFile> file = SafetensorsFile::parse(bytes_of(bytes), bytes.size());
  const double parse_elapsed = seconds_since(t1);
  std::printf("[ timing ] ... parsed with the limit raised: %.3f s\n", parse_elapsed);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->metadata().size(), 300000u);
  if (timing_is_meaningful()) {
    EXPECT_LT(parse_elapsed, 2.0);
  }
}

TEST(HostileModel, SafetensorsHeaderLimitAndBadMetadata) {
  {
    LimitsGuard guard;
    Limits limits = default_limits();
    limits.max_header_bytes = 16;
    set_default_limits(limits);
    Status s = load_and_run(safetensors_with_metadata_keys(3));
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
    EXPECT_TRUE(contains(s.message(), "Limits::max_header_bytes")) << s.message();
  }
  const std::string header = "{\"__metadata__\":{\"format\":7}}";
  expect_fails("safetensors_metadata_not_string.safetensors", little_endian(header.size(), 8) + header,
               StatusCode::kDataLoss, "__metadata__.format: expected a string, got a number");
  const std::string huge = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}";
  expect_fails("safetensors_empty_tensor_huge_dims.safetensors", little_endian(huge.size(), 8) + huge,
               StatusCode::kDataLoss, "overflows 64 bits");
}

// ---- npy ----------------------------------------------------------------------------------------

std::string npy_bytes(const std::string& shape, size_t data_bytes) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  std::string out = std::string("\x93NUMPY\x01\x00", 8) + little_endian(header.size(), 2) + header;
  return out + std::string(data_bytes, '\0');
}

TEST(HostileModel, NpyShapesThatOverflowFailCleanly) {
  for (const std::string shape : {"(4294967297,)", "(99999999999999999999,)", "(65536, 65537)",
                                  "(0, 9223372036854775807, 9223372036854775807)", "(1, 2, 3, 4, 5, 6, 7)"}) {
    const std::string bytes = npy_bytes(shape, 16);
    Result<Tensor> t = parse_npy(bytes_of(bytes), bytes.size());
    EXPECT_FALSE(t.ok()) << shape;
  }
}

// ---- the checked-in corpus ----------------------------------------------------------------------

fs::path corpus_dir() {
  if (const char* dir = std::getenv("VITRINE_HOSTILE_DIR")) return dir;
  return fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "hostile";
}

TEST(HostileModel, CorpusFilesFailCleanly) {
  const fs::path dir = corpus_dir();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) GTEST_SKIP() << "no corpus folder at " << dir;
  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name.front() == '.' || entry.path().extension() == ".md") continue;
    SCOPED_TRACE(name);
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_LE(bytes.size(), kMaxCorpusFileBytes);
    const auto t0 = std::chrono::steady_clock::now();
    Status s = load_and_run(bytes);
    // Files named *.ok.* are crafted to load and run; every other one must be refused.
    if (contains(name, ".ok.")) {
      EXPECT_TRUE(s.ok()) << s.to_string();
    } else {
      EXPECT_FALSE(s.ok()) << name << " loaded and ran";
    }
    if (timing_is_meaningful()) {
      EXPECT_LT(seconds_since(t0), 2.0);
    }
    ++files;
  }
  EXPECT_GT(files, 0) << "empty corpus folder " << dir;
}

}  // namespace
}  // namespace vitrine
