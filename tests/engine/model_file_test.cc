// Vitrine model files (safetensors + JSON architecture): round trips, clear errors, hostile bytes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
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

// A graph with typed values end to end: an i64 input of token ids gathers rows of an f32 table,
// a bool mask (from comparing the ids with an i64 constant) selects rows or zeros, ArgMax gives an
// i64 output. It runs, saves with its dtypes, loads and gives the same outputs.
TEST(ModelFile, TypedInputsConstantsAndOutputsRoundTrip) {
  std::mt19937 rng(3);
  auto g = std::make_shared<Graph>();
  int ids = g->add_input("ids", Shape{2, 3}, DType::kI64).value();
  int table = g->add_constant("table", random_tensor(Shape{5, 4}, rng)).value();
  Tensor pad = Tensor::zeros(Shape{1}, DType::kI64).value();
  int pad_id = g->add_constant("pad_id", pad).value();
  int zero = g->add_constant("zero", Tensor::zeros(Shape{1}).value()).value();
  int rows = g->add(OpType::kGather, "rows", {table, ids}).value();
  int is_pad = g->add(OpType::kEqual, "is_pad", {ids, pad_id}).value();
  OpAttrs unsq;
  unsq.ints["shape"] = {2, 3, 1};
  int mask = g->add(OpType::kReshape, "mask", {is_pad}, unsq).value();
  int kept = g->add(OpType::kWhere, "kept", {mask, zero, rows}).value();
  OpAttrs arg;
  arg.numbers["axis"] = 2;
  arg.numbers["keepdims"] = 0;
  int best = g->add(OpType::kArgMax, "best", {kept}, arg).value();
  ASSERT_TRUE(g->add_output(kept, "embedded").ok());
  ASSERT_TRUE(g->add_output(best, "best").ok());
  EXPECT_EQ(g->value(mask).dtype, DType::kBool);
  EXPECT_EQ(g->value(best).dtype, DType::kI64);

  Tensor x = Tensor::zeros(Shape{2, 3}, DType::kI64).value();
  const int64_t v[] = {1, 0, 4, -1, 2, 0};
  for (int i = 0; i < 6; ++i) x.mutable_data_as<int64_t>()[i] = v[i];
  auto run_all = [&](const std::shared_ptr<Graph>& graph) {
    auto ctx = Context::create(1, 1).value();
    auto ex = Executor::create(graph, ctx.get());
    EXPECT_TRUE(ex.ok()) << ex.status().to_string();
    std::vector<Tensor> out;
    Status s = ex.value()->run({x}, &out);
    EXPECT_TRUE(s.ok()) << s.to_string();
    // The wrong dtype is refused, naming the input and both dtypes.
    Status wrong = ex.value()->run({Tensor::zeros(Shape{2, 3}).value()}, &out);
    EXPECT_NE(wrong.message().find("'ids' must be i64, got f32"), std::string::npos) << wrong.to_string();
    EXPECT_TRUE(ex.value()->run({x}, &out).ok());
    return out;
  };
  std::vector<Tensor> want = run_all(g);
  ASSERT_EQ(want.size(), 2u);
  EXPECT_EQ(want[1].dtype(), DType::kI64);
  for (int i = 0; i < 6; ++i) {  // row i is table[ids[i]] or zeros where ids[i] == 0
    const int64_t id = v[i] < 0 ? v[i] + 5 : v[i];
    for (int j = 0; j < 4; ++j) {
      const float expected = v[i] == 0 ? 0.0f : g->value(table).constant.data()[id * 4 + j];
      EXPECT_EQ(want[0].data()[i * 4 + j], expected) << i << "," << j;
    }
  }
  auto bytes = save_model(*g, {}, /*half=*/true);  // f16 applies to the f32 table only
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  // Typed graphs are format version 2 (older runtimes refuse them); all-f32 graphs stay version 1.
  EXPECT_EQ(SafetensorsFile::parse(bytes->data(), bytes->size())->metadata().at("format_version"), "2");
  auto plain = save_model(*small_cnn(rng)).value();
  EXPECT_EQ(SafetensorsFile::parse(plain.data(), plain.size())->metadata().at("format_version"), "1");
  auto loaded = load_model(std::make_shared<const std::vector<uint8_t>>(bytes.value()));
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const Graph& lg = *loaded->graph;
  EXPECT_EQ(lg.value(lg.inputs()[0]).dtype, DType::kI64);
  EXPECT_EQ(lg.value(lg.find("pad_id").value()).dtype, DType::kI64);
  std::vector<Tensor> got = run_all(loaded->graph);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(got[1].data_as<int64_t>()[i], want[1].data_as<int64_t>()[i]);
  for (int64_t i = 0; i < 24; ++i) EXPECT_NEAR(got[0].data()[i], want[0].data()[i], 1e-3);

  // An index out of range fails the run with a clear message, no crash.
  x.mutable_data_as<int64_t>()[2] = 5;
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(loaded->graph, ctx.get()).value();
  std::vector<Tensor> out;
  Status s = ex->run({x}, &out);
  EXPECT_NE(s.message().find("index 5"), std::string::npos) << s.to_string();
  // A float op refuses a typed input, naming it.
  Graph bad;
  int b_in = bad.add_input("ids", Shape{2}, DType::kI32).value();
  Result<int> relu = bad.add(OpType::kRelu, "relu", {b_in});
  ASSERT_FALSE(relu.ok());
  EXPECT_NE(relu.status().message().find("input 0 ('ids') is i32"), std::string::npos) << relu.status().to_string();
}

TEST(Npy, EveryDtypeRoundTrips) {
  for (int d = 0; d < kNumDTypes; ++d) {
    const DType dtype = static_cast<DType>(d);
    Tensor t = Tensor::zeros(Shape{2, 3}, dtype).value();
    uint8_t* b = static_cast<uint8_t*>(t.mutable_raw_data());
    for (size_t i = 0; i < t.nbytes(); ++i) b[i] = dtype == DType::kBool ? (i % 2) : static_cast<uint8_t>(i * 37 + 1);
    const std::vector<uint8_t> bytes = to_npy(t);
    Result<Tensor> back = parse_npy(bytes.data(), bytes.size());
    ASSERT_TRUE(back.ok()) << dtype_name(dtype) << ": " << back.status().to_string();
    EXPECT_EQ(back->dtype(), dtype);
    EXPECT_EQ(back->shape(), t.shape());
    EXPECT_EQ(std::memcmp(back->raw_data(), t.raw_data(), t.nbytes()), 0) << dtype_name(dtype);
  }
  // A bool byte other than 0/1 reads as true (1); an unknown dtype names itself.
  Tensor t = Tensor::zeros(Shape{2}, DType::kBool).value();
  std::vector<uint8_t> bytes = to_npy(t);
  bytes.back() = 7;
  Result<Tensor> back = parse_npy(bytes.data(), bytes.size());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data_as<uint8_t>()[1], 1);
  std::string text(bytes.begin(), bytes.end());
  text.replace(text.find("|b1"), 3, "<c8");
  Result<Tensor> u2 = parse_npy(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  ASSERT_FALSE(u2.ok());
  EXPECT_NE(u2.status().message().find("<c8"), std::string::npos);
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
  meta["format_version"] = "3";
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
