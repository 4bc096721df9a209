// TF.js Keras-layers import: npm nsfwjs's pretrained MobileNetV2 (uint8-quantized weights) against
// TensorFlow.js's own outputs (scripts/tagger/prepare-nsfwjs.mjs; folder in VITRINE_NSFWJS), plus
// small hand-written models for layouts, Sequential topologies and hostile manifests.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "reference.h"
#include "vitrine/keras_import.h"
#include "vitrine/npy.h"

namespace vitrine {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<float> read_f32(const std::string& path) {
  const std::string bytes = read_text(path);
  std::vector<float> v(bytes.size() / 4);
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

double max_abs_diff(const Tensor& got, const std::vector<float>& want) {
  if (static_cast<size_t>(got.num_elements()) != want.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want[i]));
  return worst;
}

TEST(KerasImport, NsfwjsMobileNetV2MatchesTensorFlowJs) {
  const char* dir_env = std::getenv("VITRINE_NSFWJS");
  if (!dir_env) {
    if (testing::require_models()) FAIL() << "VITRINE_NSFWJS is not set";
    GTEST_SKIP() << "no nsfwjs model (VITRINE_NSFWJS)";
  }
  const std::string dir = dir_env;
  const std::string json = read_text(dir + "/model.json");
  const std::string shard = read_text(dir + "/group1-shard1of1.bin");
  ASSERT_FALSE(json.empty());
  std::vector<float> inputs = read_f32(dir + "/inputs.f32");
  ASSERT_EQ(inputs.size(), 2u * 224 * 224 * 3);
  auto ctx = Context::create(0, 0).value();
  for (const char* layer : {"", "flatten_1"}) {
    KerasImportOptions o;
    o.output_layer = layer;
    Result<LoadedModel> m = import_keras_layers(json, reinterpret_cast<const uint8_t*>(shard.data()), shard.size(), o);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    auto ex = Executor::create(m->graph, ctx.get());
    ASSERT_TRUE(ex.ok()) << ex.status().to_string();
    std::vector<Tensor> out;
    Status s = ex.value()->run({Tensor::wrap(Shape{2, 224, 224, 3}, inputs.data())}, &out);
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(out.size(), 1u);
    const std::vector<float> want = read_f32(dir + (*layer ? "/features.f32" : "/probabilities.f32"));
    const double diff = max_abs_diff(out[0], want);
    EXPECT_LE(diff, 1e-4) << (*layer ? layer : "probabilities");
    std::printf("nsfwjs %s: max |vitrine - tfjs| = %.3g\n", *layer ? layer : "probabilities", diff);
  }
}

// A functional model: input (1, 4, 4, 2) -> Conv2D 3x3 'same' stride 2 (2 -> 3, relu6 via
// ReLU max_value) -> GlobalAveragePooling2D -> Dense(2, softmax); weights as float32 and uint8.
std::string tiny_model(bool quantized, const std::string& extra_layer = "") {
  std::string conv_q = quantized ? R"(, "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.01})" : "";
  return std::string(R"({"modelTopology": {"class_name": "Model", "config": {"name": "m", "layers": [
    {"name": "in", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 4, 2]}, "inbound_nodes": []},
    {"name": "conv", "class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 3], "strides": [2, 2],
       "padding": "same", "use_bias": true, "activation": "linear"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
    {"name": "r6", "class_name": "ReLU", "config": {"max_value": 6}, "inbound_nodes": [[["conv", 0, 0, {}]]]},
    {"name": "gap", "class_name": "GlobalAveragePooling2D", "config": {}, "inbound_nodes": [[["r6", 0, 0, {}]]]},
    {"name": "fc", "class_name": "Dense", "config": {"units": 2, "activation": "softmax"}, "inbound_nodes": [[["gap", 0, 0, {}]]]})") +
         extra_layer + R"(],
    "input_layers": [["in", 0, 0]], "output_layers": [["fc", 0, 0]]}},
  "weightsManifest": [{"paths": ["w.bin"], "weights": [
    {"name": "conv/kernel", "shape": [3, 3, 2, 3], "dtype": "float32")" + conv_q + R"(},
    {"name": "conv/bias", "shape": [3], "dtype": "float32"},
    {"name": "fc/kernel", "shape": [3, 2], "dtype": "float32"},
    {"name": "fc/bias", "shape": [2], "dtype": "float32"}]}]})";
}

TEST(KerasImport, SmallFunctionalModelMatchesDirectComputation) {
  // Kernel values k[a][b][i][o] = 0.01 * ((a * 3 + b) * 6 + i * 3 + o) - 0.5 (uint8: q = 50 + that * 100).
  std::vector<float> kernel(54);
  for (size_t i = 0; i < 54; ++i) kernel[i] = 0.01f * static_cast<float>(i) - 0.5f;
  const std::vector<float> bias = {0.1f, -0.2f, 0.3f}, fck = {1, -1, 0.5f, 0.25f, -0.5f, 2}, fcb = {0.0f, 0.1f};
  std::vector<uint8_t> f32_bytes, q_bytes;
  auto put = [](std::vector<uint8_t>* b, const std::vector<float>& v) {
    const size_t at = b->size();
    b->resize(at + v.size() * 4);
    std::memcpy(b->data() + at, v.data(), v.size() * 4);
  };
  put(&f32_bytes, kernel);
  for (float k : kernel) q_bytes.push_back(static_cast<uint8_t>(std::lround((k + 1.0f) / 0.01f)));
  for (auto* b : {&f32_bytes, &q_bytes}) {
    put(b, bias);
    put(b, fck);
    put(b, fcb);
  }
  std::vector<float> x(32);
  for (size_t i = 0; i < 32; ++i) x[i] = std::sin(static_cast<float>(i));
  // Direct computation: 'same' with stride 2 on 4x4: out 2x2, total pad 1 -> top/left 0, bottom/right 1.
  std::vector<double> pooled(3, 0.0);
  for (int oy = 0; oy < 2; ++oy)
    for (int ox = 0; ox < 2; ++ox)
      for (int o = 0; o < 3; ++o) {
        double s = bias[o];
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) {
            const int y = oy * 2 + a, xx = ox * 2 + b;
            if (y >= 4 || xx >= 4) continue;
            for (int i = 0; i < 2; ++i) s += x[(y * 4 + xx) * 2 + i] * kernel[((a * 3 + b) * 2 + i) * 3 + o];
          }
        pooled[o] += std::min(6.0, std::max(0.0, s)) / 4.0;
      }
  double logits[2];
  for (int j = 0; j < 2; ++j) {
    logits[j] = fcb[j];
    for (int i = 0; i < 3; ++i) logits[j] += pooled[i] * fck[i * 2 + j];
  }
  const double m = std::max(logits[0], logits[1]);
  const double e0 = std::exp(logits[0] - m), e1 = std::exp(logits[1] - m);
  auto ctx = Context::create(1, 1).value();
  for (int quantized = 0; quantized < 2; ++quantized) {
    const std::vector<uint8_t>& bytes = quantized ? q_bytes : f32_bytes;
    Result<LoadedModel> model = import_keras_layers(tiny_model(quantized), bytes.data(), bytes.size());
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto ex = Executor::create(model->graph, ctx.get()).value();
    std::vector<Tensor> out;
    ASSERT_TRUE(ex->run({Tensor::wrap(Shape{1, 4, 4, 2}, x.data())}, &out).ok());
    EXPECT_NEAR(out[0].data()[0], e0 / (e0 + e1), 1e-5) << quantized;
    EXPECT_NEAR(out[0].data()[1], e1 / (e0 + e1), 1e-5) << quantized;
  }
}

TEST(KerasImport, RejectsBadModelsAndManifests) {
  std::vector<uint8_t> bytes((54 + 3 + 6 + 2) * 4, 0);
  EXPECT_TRUE(import_keras_layers(tiny_model(false), bytes.data(), bytes.size()).ok());
  // Short and long weight data.
  EXPECT_EQ(import_keras_layers(tiny_model(false), bytes.data(), bytes.size() - 4).status().code(), StatusCode::kDataLoss);
  std::vector<uint8_t> longer(bytes.size() + 8, 0);
  EXPECT_EQ(import_keras_layers(tiny_model(false), longer.data(), longer.size()).status().code(), StatusCode::kDataLoss);
  // Not JSON, not a layers model, unknown layer type (named), unknown output layer.
  EXPECT_FALSE(import_keras_layers("{", bytes.data(), bytes.size()).ok());
  EXPECT_FALSE(import_keras_layers(R"({"format": "graph-model"})", bytes.data(), bytes.size()).ok());
  Result<LoadedModel> lstm = import_keras_layers(
      tiny_model(false, R"(, {"name": "odd", "class_name": "LSTM", "config": {}, "inbound_nodes": [[["fc", 0, 0, {}]]]})"),
      bytes.data(), bytes.size());
  ASSERT_FALSE(lstm.ok());
  EXPECT_NE(lstm.status().message().find("odd"), std::string::npos) << lstm.status().to_string();
  KerasImportOptions o;
  o.output_layer = "nope";
  EXPECT_EQ(import_keras_layers(tiny_model(false), bytes.data(), bytes.size(), o).status().code(), StatusCode::kNotFound);
  // Every strict truncation of the manifest (up to its last non-space character) and of the
  // weights is refused with a code.
  std::string manifest = tiny_model(false);
  while (!manifest.empty() && std::isspace(static_cast<unsigned char>(manifest.back()))) manifest.pop_back();
  for (size_t n = 0; n < manifest.size(); ++n) {
    Result<LoadedModel> cut = import_keras_layers(manifest.substr(0, n), bytes.data(), bytes.size());
    EXPECT_FALSE(cut.ok()) << "manifest cut to " << n << " bytes imported";
    if (!cut.ok()) EXPECT_FALSE(cut.status().message().empty());
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(import_keras_layers(tiny_model(false), cut.data(), cut.size()).status().code(), StatusCode::kDataLoss) << n;
  }
  // Non-finite float32 weights.
  std::vector<uint8_t> nan = bytes;
  const float q = std::nanf("");
  std::memcpy(nan.data() + 8, &q, 4);
  EXPECT_EQ(import_keras_layers(tiny_model(false), nan.data(), nan.size()).status().code(), StatusCode::kDataLoss);
}

TEST(KerasImport, SequentialModelsChainLayers) {
  const std::string json = R"({"modelTopology": {"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "Flatten", "config": {"name": "flat", "batch_input_shape": [null, 2, 2, 1]}},
      {"class_name": "Dense", "config": {"name": "d", "units": 1, "use_bias": false, "activation": "sigmoid"}}]}},
    "weightsManifest": [{"paths": ["x"], "weights": [{"name": "d/kernel", "shape": [4, 1], "dtype": "float32"}]}]})";
  const std::vector<float> k = {1, 2, 3, 4};
  Result<LoadedModel> m = import_keras_layers(json, reinterpret_cast<const uint8_t*>(k.data()), 16);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(m->graph, ctx.get()).value();
  std::vector<float> x = {0.1f, 0.2f, -0.3f, 0.05f};
  std::vector<Tensor> out;
  ASSERT_TRUE(ex->run({Tensor::wrap(Shape{1, 2, 2, 1}, x.data())}, &out).ok());
  EXPECT_NEAR(out[0].data()[0], 1.0 / (1.0 + std::exp(-(0.1 + 0.4 - 0.9 + 0.2))), 1e-6);
}

}  // namespace
}  // namespace vitrine
