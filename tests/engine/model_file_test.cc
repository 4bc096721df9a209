// Vitrine model files (safetensors + JSON architecture): round trips, clear errors, hostile bytes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "reference.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/npy.h"
#include "vitrine/safetensors.h"

namespace vitrine {
namespace {

using testing::random_tensor;

std::shared_ptr<Graph> small_cnn(std::mt19937& rng) {
  auto g = std::make_shared<Graph>();
  int x = g->add_input("image", Shape{1, 6, 6, 2}).value();
  int w = g->add_constant("conv.w", random_tensor(Shape{4, 3, 3, 2}, rng)).value();
  int b = g->add_constant("conv.b", random_tensor(Shape{4}, rng)).value();
  OpAttrs conv;
  conv.ints["pads"] = {1, 1, 1, 1};
  conv.ints["strides"] = {2, 2};
  int c = g->add(OpType::kConv2D, "conv", {x, w, b}, conv).value();
  OpAttrs clip;
  clip.numbers["min"] = 0;
  clip.numbers["max"] = 6;
  int r = g->add(OpType::kClip, "relu6", {c}, clip).value();
  int p = g->add(OpType::kGlobalAvgPool2D, "pool", {r}).value();
  int f = g->add(OpType::kFlatten, "flat", {p}).value();
  int d = g->add(OpType::kDense, "fc", {f, g->add_constant("fc.w", random_tensor(Shape{3, 4}, rng)).value()}).value();
  int s = g->add(OpType::kSoftmax, "probs", {d}).value();
  EXPECT_TRUE(g->add_output(s, "scores").ok());
  return g;
}

std::vector<float> run(const std::shared_ptr<Graph>& g, const Tensor& x) {
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(g, ctx.get());
  EXPECT_TRUE(ex.ok()) << ex.status().to_string();
  std::vector<Tensor> out;
  EXPECT_TRUE(ex.value()->run({x}, &out).ok());
  return std::vector<float>(out[0].data(), out[0].data() + out[0].num_elements());
}

TEST(ModelFile, RoundTripKeepsGraphWeightsAndMetadata) {
  std::mt19937 rng(1);
  auto g = small_cnn(rng);
  auto bytes = save_model(*g, {{"task", "tagging"}, {"labels", "[\"a\",\"b\",\"c\"]"}});
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto loaded = load_model(std::make_shared<const std::vector<uint8_t>>(bytes.value()));
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->format, "vitrine");
  EXPECT_EQ(loaded->metadata.at("task"), "tagging");
  EXPECT_EQ(loaded->metadata.count("architecture"), 0u);
  EXPECT_EQ(loaded->graph->output_names(), std::vector<std::string>{"scores"});
  EXPECT_EQ(loaded->graph->nodes().size(), g->nodes().size());
  Tensor x = random_tensor(Shape{1, 6, 6, 2}, rng);
  EXPECT_EQ(run(loaded->graph, x), run(g, x));
  EXPECT_FALSE(save_model(*g, {{"architecture", "x"}}).ok());
}

TEST(ModelFile, OnnxRoundTripWhenParityModelsExist) {
  const char* dir = std::getenv("VITRINE_PARITY_MODELS");
  if (!dir) GTEST_SKIP() << "VITRINE_PARITY_MODELS not set";
  for (const char* name : {"tiny_cnn", "mobilenet_v2"}) {
    auto onnx = read_binary_file(std::string(dir) + "/" + name + ".onnx");
    ASSERT_TRUE(onnx.ok());
    auto from_onnx = load_model(std::make_shared<const std::vector<uint8_t>>(onnx.value()));
    ASSERT_TRUE(from_onnx.ok()) << from_onnx.status().to_string();
    EXPECT_EQ(from_onnx->format, "onnx");
    auto saved = save_model(*from_onnx->graph);
    ASSERT_TRUE(saved.ok());
    auto again = load_model(std::make_shared<const std::vector<uint8_t>>(saved.value()));
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    auto x = read_binary_file(std::string(dir) + "/" + name + ".input.npy");
    Tensor input = parse_npy(x->data(), x->size()).value();
    EXPECT_EQ(run(again->graph, input), run(from_onnx->graph, input)) << name;
  }
}

// Rewrites the architecture JSON of a saved model.
std::vector<uint8_t> with_architecture(const std::vector<uint8_t>& bytes, const std::string& from, const std::string& to) {
  auto file = SafetensorsFile::parse(bytes.data(), bytes.size()).value();
  std::map<std::string, std::string> meta = file.metadata();
  std::string arch = meta["architecture"];
  size_t at = arch.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) arch.replace(at, from.size(), to);
  meta["architecture"] = arch;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& n : file.names()) tensors.emplace_back(n, file.tensor(n).value());
  return write_safetensors(tensors, meta).value();
}

TEST(ModelFile, BrokenArchitecturesNameTheProblem) {
  std::mt19937 rng(2);
  auto g = small_cnn(rng);
  const std::vector<uint8_t> good = save_model(*g).value();
  auto message = [](const std::vector<uint8_t>& b) {
    auto r = load_model(std::make_shared<const std::vector<uint8_t>>(b));
    return r.ok() ? std::string("OK") : r.status().message();
  };
  EXPECT_NE(message(with_architecture(good, "\"op\":\"conv2d\"", "\"op\":\"conv9d\"")).find("unknown op 'conv9d'"), std::string::npos);
  EXPECT_NE(message(with_architecture(good, "\"conv.w\"", "\"conv.v\"")).find("input 'conv.v' is neither"), std::string::npos);
  EXPECT_NE(message(with_architecture(good, "\"strides\":[2,2]", "\"strides\":[2,\"x\"]")).find("strides[1]: expected a number, got a string"), std::string::npos)
      << message(with_architecture(good, "\"strides\":[2,2]", "\"strides\":[2,\"x\"]"));
  EXPECT_NE(message(with_architecture(good, "\"strides\":[2,2]", "\"stride\":[2,2]")).find("unknown attribute 'stride'"), std::string::npos);
  EXPECT_NE(message(with_architecture(good, "\"value\":\"probs\"", "\"value\":\"nope\"")).find("unknown value 'nope'"), std::string::npos);
  // A newer major format version is refused with advice.
  auto file = SafetensorsFile::parse(good.data(), good.size()).value();
  std::map<std::string, std::string> meta = file.metadata();
  meta["format_version"] = "2";
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& n : file.names()) tensors.emplace_back(n, file.tensor(n).value());
  EXPECT_NE(message(write_safetensors(tensors, meta).value()).find("update Vitrine"), std::string::npos);
}

TEST(ModelFile, HostileBytesNeverCrash) {
  std::mt19937 rng(3);
  auto g = small_cnn(rng);
  const std::vector<uint8_t> good = save_model(*g).value();
  auto ctx = Context::create(1, 1).value();
  auto attempt = [&](std::vector<uint8_t> b) {
    auto r = load_model(std::make_shared<const std::vector<uint8_t>>(std::move(b)));
    if (!r.ok()) return;
    auto ex = Executor::create(r->graph, ctx.get());
    if (!ex.ok()) return;
    std::vector<Tensor> in, out;
    for (int id : r->graph->inputs()) in.push_back(Tensor::zeros(r->graph->value(id).shape).value());
    (void)ex.value()->run(in, &out);
  };
  // Every strict truncation is refused with a code and a message.
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = load_model(std::make_shared<const std::vector<uint8_t>>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    EXPECT_FALSE(r.ok()) << "a truncation to " << n << " of " << good.size() << " bytes loaded";
    if (!r.ok()) EXPECT_FALSE(r.status().message().empty()) << n;
  }
  // Bit flips: refused, or a model that loads and runs (flips in weight bytes) without crashing.
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = good;
    b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    refused += !load_model(std::make_shared<const std::vector<uint8_t>>(b)).ok();
    attempt(std::move(b));
  }
  EXPECT_GT(refused, 0);
  EXPECT_LT(refused, 3000);
}

}  // namespace
}  // namespace vitrine
