// torchvision models exported to ONNX by scripts/models/export_torchvision.py (random weights,
// fixed seed): Vitrine's outputs must match PyTorch's to 1e-4 max abs error. The folder comes from
// $VITRINE_PARITY_MODELS (scripts/test.sh sets it; missing models fail when VITRINE_REQUIRE_MODELS=1).
// Also: hostile model bytes (every truncation, random bit flips) never crash the importer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdlib>
#include <random>

#include "vitrine/graph.h"
#include "vitrine/model_runner.h"
#include "vitrine/npy.h"
#include "vitrine/onnx_import.h"
#include "../../engine/src/io/onnx_model.h"
#include "onnx_builder.h"

namespace vitrine {
namespace {

std::string models_dir() {
  const char* d = std::getenv("VITRINE_PARITY_MODELS");
  return d ? d : "";
}

bool require_models() {
  const char* r = std::getenv("VITRINE_REQUIRE_MODELS");
  return r && std::string(r) == "1";
}

Tensor load(const std::string& path) {
  auto bytes = read_binary_file(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  if (!bytes.ok()) return Tensor();
  auto t = parse_npy(bytes->data(), bytes->size());
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? t.value() : Tensor();
}

double max_abs_diff(const Tensor& a, const Tensor& b, int64_t offset = 0) {
  double m = 0;
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    double e = std::fabs(double(a.data()[offset + i]) - b.data()[i]);
    if (!(e <= m)) m = std::isnan(e) ? INFINITY : e;
  }
  return m;
}

class OnnxParity : public ::testing::TestWithParam<const char*> {};

TEST_P(OnnxParity, MatchesPyTorch) {
  const std::string dir = models_dir();
  const std::string name = GetParam();
  auto bytes = read_binary_file(dir + "/" + name + ".onnx");
  if (dir.empty() || !bytes.ok()) {
    if (require_models()) FAIL() << "parity model " << name << " missing in '" << dir << "'";
    GTEST_SKIP() << "set VITRINE_PARITY_MODELS (scripts/prepare-test-models.sh)";
  }
  auto graph = import_onnx(bytes->data(), bytes->size());
  ASSERT_TRUE(graph.ok()) << graph.status().to_string();
  Tensor x = load(dir + "/" + name + ".input.npy");
  Tensor want = load(dir + "/" + name + ".output.npy");
  for (int threads : {1, 2}) {
    auto ctx = Context::create(threads, threads).value();
    auto ex = Executor::create(graph.value(), ctx.get());
    ASSERT_TRUE(ex.ok()) << ex.status().to_string();
    std::vector<Tensor> out;
    ASSERT_TRUE(ex.value()->run({x}, &out).ok());
    ASSERT_EQ(out[0].shape(), want.shape());
    EXPECT_LE(max_abs_diff(out[0], want), 1e-4) << name << " with " << threads << " threads";
    Tensor two = Tensor::zeros(Shape{2, 3, 224, 224}).value();
    std::copy(x.data(), x.data() + x.num_elements(), two.mutable_data());
    std::copy(x.data(), x.data() + x.num_elements(), two.mutable_data() + x.num_elements());
    // ShuffleNet's channel shuffle reshapes to sizes computed from Shape(x) at export: folded at
    // import, they hold batch 1, so the graph itself refuses a batch of two (InvalidArgument,
    // never a wrong answer); ModelRunner re-imports it for that batch.
    if (name == "shufflenet_v2_x0_5") {
      Status s = ex.value()->run({two}, &out);
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
      auto runner = ModelRunner::load(std::make_shared<const std::vector<uint8_t>>(bytes.value()), {}, ctx.get());
      ASSERT_TRUE(runner.ok()) << runner.status().to_string();
      s = runner.value()->run({two}, &out);
      ASSERT_TRUE(s.ok()) << s.to_string();
      EXPECT_EQ(runner.value()->cached_shapes(), 1u);
    } else {
      // A batch of two copies gives the same answer twice (batch size changes without a rebuild).
      ASSERT_TRUE(ex.value()->run({two}, &out).ok());
    }
    ASSERT_EQ(out[0].shape(), (Shape{2, 1000}));
    EXPECT_LE(max_abs_diff(out[0], want, 0), 1e-4);
    EXPECT_LE(max_abs_diff(out[0], want, 1000), 1e-4);
  }
}

// The torchvision classification backbones a store may bring (issue 16): every family that needs
// no typed tensors — HardSigmoid/HardSwish gates (MobileNetV3), SiLU and squeeze-excitation
// (EfficientNet, RegNet), channel shuffle with a Cast in its shape arithmetic (ShuffleNet),
// concatenations of more than five tensors (DenseNet), layer norm and GELU decomposed at opset 13
// into ReduceMean, Pow, Sqrt and Erf (ConvNeXt).
INSTANTIATE_TEST_SUITE_P(Torchvision, OnnxParity,
                         ::testing::Values("mobilenet_v2", "resnet18", "squeezenet1_1", "mobilenet_v3_small", "efficientnet_b0",
                                           "regnet_y_400mf", "shufflenet_v2_x0_5", "mnasnet0_5", "densenet121", "convnext_tiny"));

// PyTorch text classifiers with int64 token ids and an attention mask (scripts/models/
// export_text_models.py): each exported once with symbolic batch and length and loaded once; runs
// at lengths 12 and 20 (and back) match PyTorch to 1e-4, the second length re-imported once and
// cached, its weights shared with the load-time graph (a change to them shows at every length).
class TextParity : public ::testing::TestWithParam<const char*> {};

TEST_P(TextParity, MatchesPyTorchAtTwoLengthsFromOneLoad) {
  const std::string dir = models_dir();
  const std::string name = GetParam();
  auto bytes = read_binary_file(dir + "/" + name + ".onnx");
  if (dir.empty() || !bytes.ok()) {
    if (require_models()) FAIL() << "text model " << name << " missing in '" << dir << "'";
    GTEST_SKIP() << "set VITRINE_PARITY_MODELS (scripts/prepare-test-models.sh)";
  }
  auto ctx = Context::create(1, 1).value();
  OnnxImportOptions options;
  options.input_shapes = {{"ids", {2, 12}}, {"mask", {2, 12}}};
  auto loaded = ModelRunner::load(std::make_shared<const std::vector<uint8_t>>(bytes.value()), options, ctx.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ModelRunner& runner = *loaded.value();
  EXPECT_EQ(runner.graph()->value(runner.graph()->inputs()[0]).dtype, DType::kI64);
  EXPECT_EQ(runner.declared_dims()[0], (std::vector<int64_t>{-1, -1}));
  std::map<int64_t, Tensor> logits;
  for (int64_t length : {12, 20, 12, 20}) {
    const std::string stem = dir + "/" + name + ".T" + std::to_string(length);
    Tensor ids = load(stem + ".ids.npy"), mask = load(stem + ".mask.npy");
    ASSERT_EQ(ids.dtype(), DType::kI64);
    std::vector<Tensor> out;
    Status s = runner.run({ids, mask}, &out);
    ASSERT_TRUE(s.ok()) << s.to_string();
    Tensor want = load(stem + ".output.npy");
    ASSERT_EQ(out[0].shape(), want.shape());
    EXPECT_LE(max_abs_diff(out[0], want), 1e-4) << name << " at length " << length;
    logits[length] = out[0].clone().value();
  }
  EXPECT_EQ(runner.cached_shapes(), 1u);
  // Wrong rank and wrong dtype are refused with the input's name.
  Tensor flat = Tensor::zeros(Shape{24}, DType::kI64).value();
  std::vector<Tensor> out;
  Status s = runner.run({flat, flat}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'ids' must have rank 2"), std::string::npos) << s.to_string();
  // The classifier's bias (the only (3) weight) + 1 moves every logit by 1 at both lengths: the
  // length-20 graph reads the load-time graph's weights and its executor re-packs them.
  int bias = -1;
  for (size_t v = 0; v < runner.graph()->values().size(); ++v) {
    const GraphValue& gv = runner.graph()->values()[v];
    if (!gv.constant.empty() && gv.dtype == DType::kF32 && gv.shape == Shape{3}) {
      ASSERT_EQ(bias, -1) << "two (3) weights in " << name;
      bias = static_cast<int>(v);
    }
  }
  ASSERT_GE(bias, 0);
  Tensor b = runner.graph()->value(bias).constant;
  for (int i = 0; i < 3; ++i) b.mutable_data()[i] += 1.0f;
  for (int64_t length : {20, 12}) {
    const std::string stem = dir + "/" + name + ".T" + std::to_string(length);
    ASSERT_TRUE(runner.run({load(stem + ".ids.npy"), load(stem + ".mask.npy")}, &out).ok());
    Tensor& before = logits[length];
    double worst = 0;
    for (int64_t i = 0; i < before.num_elements(); ++i) worst = std::max(worst, std::fabs(out[0].data()[i] - before.data()[i] - 1.0));
    EXPECT_LE(worst, 1e-5) << name << " at length " << length;
  }
}

// One ONNX file with symbolic height and width, loaded once: each image size matches PyTorch; a
// size the file fixes (3 channels) or another rank is refused, naming the dimension.
TEST(ModelRunner, AnyImageSizeFromOneLoad) {
  const std::string dir = models_dir();
  auto bytes = read_binary_file(dir + "/tiny_cnn_any_size.onnx");
  if (dir.empty() || !bytes.ok()) {
    if (require_models()) FAIL() << "tiny_cnn_any_size.onnx missing in '" << dir << "'";
    GTEST_SKIP() << "set VITRINE_PARITY_MODELS";
  }
  auto ctx = Context::create(1, 1).value();
  OnnxImportOptions options;
  options.input_shapes = {{"input", {1, 3, 20, 24}}};
  auto runner = ModelRunner::load(std::make_shared<const std::vector<uint8_t>>(bytes.value()), options, ctx.get());
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  EXPECT_EQ(runner.value()->declared_dims()[0][1], 3);
  std::vector<Tensor> out;
  for (const char* size : {"20x24", "33x17", "20x24"}) {
    Tensor x = load(dir + "/tiny_cnn_any_size." + size + ".input.npy");
    Tensor want = load(dir + "/tiny_cnn_any_size." + size + ".output.npy");
    Status s = runner.value()->run({x}, &out);
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(out[0].shape(), want.shape());
    EXPECT_LE(max_abs_diff(out[0], want), 1e-5) << size;
  }
  Status s = runner.value()->run({Tensor::zeros(Shape{1, 4, 20, 24}).value()}, &out);
  EXPECT_NE(s.message().find("dimension 1 is fixed at 3"), std::string::npos) << s.to_string();
  s = runner.value()->run({Tensor::zeros(Shape{3, 20, 24}).value()}, &out);
  EXPECT_NE(s.message().find("must have rank 4"), std::string::npos) << s.to_string();
  s = runner.value()->run({Tensor::zeros(Shape{1, 3, 20, 24}, DType::kI64).value()}, &out);
  EXPECT_NE(s.message().find("must be f32"), std::string::npos) << s.to_string();
}

INSTANTIATE_TEST_SUITE_P(PyTorchText, TextParity, ::testing::Values("text_transformer", "text_gru", "text_lstm"));

TEST(OnnxParity, TinyCnnMatchesPyTorch) {
  auto bytes = read_binary_file(models_dir() + "/tiny_cnn.onnx");
  if (models_dir().empty() || !bytes.ok()) {
    if (require_models()) FAIL() << "tiny_cnn.onnx missing in '" << models_dir() << "'";
    GTEST_SKIP() << "set VITRINE_PARITY_MODELS";
  }
  auto graph = import_onnx(bytes->data(), bytes->size());
  ASSERT_TRUE(graph.ok()) << graph.status().to_string();
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(graph.value(), ctx.get()).value();
  std::vector<Tensor> out;
  ASSERT_TRUE(ex->run({load(models_dir() + "/tiny_cnn.input.npy")}, &out).ok());
  EXPECT_LE(max_abs_diff(out[0], load(models_dir() + "/tiny_cnn.output.npy")), 1e-5);
}

// ONNX's own node tests of a single-node, single-input op, run through import + executor: outputs
// within 1e-5 of ONNX's reference. The node is written again at opset 13 with its float and int
// attributes (the node tests of ops unchanged since opset 6 declare opset 6, below the importer's).
void run_node_test(const std::string& name) {
  const std::string dir = "/usr/share/libonnx-testdata/data/node/" + name;
  auto original = read_binary_file(dir + "/model.onnx");
  if (!original.ok()) GTEST_SKIP() << "libonnx-testdata not installed";
  onnx::ModelProto m = onnx::parse_model(original->data(), original->size()).value();
  ASSERT_EQ(m.graph.node.size(), 1u);
  const onnx::NodeProto& node = m.graph.node[0];
  std::vector<onnx_test::ProtoWriter> attributes;
  for (const onnx::AttributeProto& a : node.attribute) {
    if (a.type == onnx::AttributeType::kFloat) attributes.push_back(onnx_test::attr_float(a.name, a.f));
    if (a.type == onnx::AttributeType::kInt) attributes.push_back(onnx_test::attr_int(a.name, a.i));
  }
  auto tensor = [&](const std::string& file) {
    auto b = read_binary_file(dir + "/test_data_set_0/" + file);
    EXPECT_TRUE(b.ok()) << file;
    onnx::TensorProto t = onnx::parse_tensor(b->data(), b->size()).value();
    std::vector<float> v = onnx::tensor_floats(t).value();
    return Tensor::from_values(Shape::make(t.dims).value(), v.data(), v.size()).value();
  };
  const Tensor x = tensor("input_0.pb"), want = tensor("output_0.pb");
  std::vector<int64_t> dims;
  for (int d = 0; d < x.shape().rank(); ++d) dims.push_back(x.shape().dim(d));
  onnx_test::OnnxModelBuilder b(13);
  b.input(node.input[0], dims);
  b.node(node.op_type, node.input, node.output, attributes).output(node.output[0]);
  const std::string bytes = b.bytes();
  auto graph = import_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_TRUE(graph.ok()) << name << ": " << graph.status().to_string();
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(graph.value(), ctx.get());
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  std::vector<Tensor> out;
  ASSERT_TRUE(ex.value()->run({x}, &out).ok());
  ASSERT_EQ(out[0].shape(), want.shape()) << name;
  EXPECT_LE(max_abs_diff(out[0], want), 1e-5) << name;
}

TEST(OnnxNodeTests, HardSigmoid) {
  for (const char* name : {"test_hardsigmoid", "test_hardsigmoid_default", "test_hardsigmoid_example"}) run_node_test(name);
}

TEST(OnnxImport, UnsupportedOpsAreListedInOneError) {
  // A model with two unknown ops (built from the conformance data when present).
  const std::string path = "/usr/share/libonnx-testdata/data/node/test_lrn/model.onnx";
  auto bytes = read_binary_file(path);
  if (!bytes.ok()) GTEST_SKIP() << "libonnx-testdata not installed";
  auto graph = import_onnx(bytes->data(), bytes->size());
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("unsupported ops: LRN"), std::string::npos) << graph.status().message();
}

// Control flow: the error names the unsupported ops inside the loop's body (the node test
// test_loop13_seq builds a sequence in its body).
TEST(OnnxImport, UnsupportedOpsInsideSubgraphsAreListed) {
  auto bytes = read_binary_file("/usr/share/libonnx-testdata/data/node/test_loop13_seq/model.onnx");
  if (!bytes.ok()) GTEST_SKIP() << "libonnx-testdata not installed";
  auto graph = import_onnx(bytes->data(), bytes->size());
  ASSERT_FALSE(graph.ok());
  const std::string& m = graph.status().message();
  EXPECT_NE(m.find("unsupported ops inside its subgraphs: "), std::string::npos) << m;
  EXPECT_NE(m.find("SequenceInsert"), std::string::npos) << m;
}

TEST(OnnxImport, HostileBytesNeverCrash) {
  auto bytes = read_binary_file(models_dir() + "/tiny_cnn.onnx");
  if (models_dir().empty() || !bytes.ok()) {
    if (require_models()) FAIL() << "tiny_cnn.onnx missing in '" << models_dir() << "'";
    GTEST_SKIP() << "set VITRINE_PARITY_MODELS (scripts/prepare-test-models.sh)";
  }
  const std::vector<uint8_t>& good = bytes.value();
  ASSERT_TRUE(import_onnx(good.data(), good.size()).ok());
  auto ctx = Context::create(1, 1).value();
  auto try_model = [&](const std::vector<uint8_t>& b) {
    auto g = import_onnx(b.data(), b.size());
    if (!g.ok()) {
      EXPECT_FALSE(g.status().message().empty());
      return;
    }
    auto ex = Executor::create(g.value(), ctx.get());
    if (!ex.ok()) return;
    std::vector<Tensor> in;
    for (int id : g.value()->inputs()) in.push_back(Tensor::zeros(g.value()->value(id).shape).value());
    std::vector<Tensor> out;
    (void)ex.value()->run(in, &out);
  };
  // Every strict truncation is refused with a code and a message (none imports as a smaller model).
  size_t accepted = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    auto g = import_onnx(prefix.data(), prefix.size());
    if (g.ok()) {
      if (accepted++ < 5) ADD_FAILURE() << "a truncation to " << n << " of " << good.size() << " bytes imported";
      continue;
    }
    EXPECT_NE(g.status().code(), StatusCode::kOk);
    EXPECT_FALSE(g.status().message().empty()) << n;
  }
  EXPECT_EQ(accepted, 0u);
  std::mt19937 rng(20261128);
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try_model(b);
  }
}

}  // namespace
}  // namespace vitrine
