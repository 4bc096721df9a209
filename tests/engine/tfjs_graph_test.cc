// TF.js graph-model import: the fixture of scripts/models/export_tfjs_graph_fixture.py (a fused
// conv, a depthwise conv, a reshape, a fused matmul and a softmax, in TensorFlow's own node names and
// base64 attributes) against NumPy, with float32, float16, uint8 and uint16 weights; then the
// errors for bad or unsupported files.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/model_runner.h"
#include "vitrine/npy.h"
#include "vitrine/tfjs_graph_import.h"

namespace vitrine {
namespace {

namespace fs = std::filesystem;

fs::path fixtures() { return fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "tfjs-graph"; }

std::string text_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

Result<LoadedModel> import_text(const std::string& json, const std::string& weights,
                                const TfjsGraphImportOptions& options = {}) {
  return import_tfjs_graph(json, reinterpret_cast<const uint8_t*>(weights.data()), weights.size(), options);
}

Result<Tensor> read_npy(const fs::path& p) {
  const std::string bytes = text_of(p);
  return parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Context* ctx() {
  static std::unique_ptr<Context> c = Context::create(1, 1).value();
  return c.get();
}

TEST(TfjsGraph, FixtureMatchesNumPyInEveryWeightEncoding) {
  Result<Tensor> x = read_npy(fixtures() / "input.npy");
  ASSERT_TRUE(x.ok()) << x.status().to_string();
  for (const std::string suffix : {"", "-f16", "-u8", "-u16"}) {
    SCOPED_TRACE("model" + suffix);
    std::vector<std::vector<int64_t>> declared;
    Result<LoadedModel> m = import_tfjs_graph(text_of(fixtures() / ("model" + suffix + ".json")),
                                              reinterpret_cast<const uint8_t*>(text_of(fixtures() / ("weights" + suffix + ".bin")).data()), 0);
    // (size 0: the weights are refused with the byte count the manifest needs)
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("weights end early"), std::string::npos) << m.status().to_string();
    const std::string weights = text_of(fixtures() / ("weights" + suffix + ".bin"));
    m = import_tfjs_graph(text_of(fixtures() / ("model" + suffix + ".json")), reinterpret_cast<const uint8_t*>(weights.data()),
                          weights.size(), {}, &declared);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(m->format, "tfjs-graph");
    ASSERT_EQ(declared.size(), 1u);
    EXPECT_EQ(declared[0], (std::vector<int64_t>{-1, 6, 6, 2}));
    EXPECT_EQ(m->graph->output_names(), (std::vector<std::string>{"probs"}));
    Result<std::unique_ptr<ModelRunner>> r = ModelRunner::from_model(m.value(), declared, ctx());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    std::vector<Tensor> out;
    ASSERT_TRUE(r.value()->run({x.value()}, &out).ok());
    Result<Tensor> want = read_npy(fixtures() / ("expected" + suffix + ".npy"));
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(out[0].shape(), want->shape());
    for (int64_t i = 0; i < want->num_elements(); ++i) EXPECT_NEAR(out[0].data()[i], want->data()[i], 1e-5) << i;
    // A batch of two (the batch is free): each row as the single image gives.
    Tensor two = Tensor::zeros(Shape{2, 6, 6, 2}).value();
    std::copy_n(x->data(), 72, two.mutable_data());
    std::copy_n(x->data(), 72, two.mutable_data() + 72);
    ASSERT_TRUE(r.value()->run({two}, &out).ok());
    ASSERT_EQ(out[0].shape(), (Shape{2, 3}));
    for (int64_t i = 0; i < 3; ++i) EXPECT_NEAR(out[0].data()[3 + i], want->data()[i], 1e-5);
  }
}

// The fixture's model.json with `edit` applied to its parsed JSON.
std::string edited(const std::function<void(Json&)>& edit) {
  Json j = parse_json(text_of(fixtures() / "model.json")).value();
  edit(j);
  return j.dump();
}

Json* node_named(Json& j, const std::string& name) {
  Json& nodes = const_cast<Json&>(*j.find("modelTopology")->find("node"));
  for (const Json& n : nodes.array_items())
    if (n.find("name")->string_value() == name) return const_cast<Json*>(&n);
  return nullptr;
}

TEST(TfjsGraph, BadFilesGiveErrorsNamingTheNode) {
  const std::string weights = text_of(fixtures() / "weights.bin");
  // Unsupported ops are listed together.
  std::string json = edited([](Json& j) {
    node_named(j, "dw")->set("op", Json("Conv3D"));
    node_named(j, "probs")->set("op", Json("NonMaxSuppressionV5"));
  });
  Result<LoadedModel> m = import_text(json, weights);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(m.status().message().find("unsupported ops: Conv3D, NonMaxSuppressionV5"), std::string::npos) << m.status().to_string();
  // A node reading a node that does not exist; a cycle.
  m = import_text(edited([](Json& j) {
    Json in = Json::array();
    in.push_back(Json("nowhere"));
    node_named(j, "probs")->set("input", in);
  }), weights);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("reads unknown node 'nowhere'"), std::string::npos) << m.status().to_string();
  m = import_text(edited([](Json& j) {
    Json in = Json::array();
    in.push_back(Json("probs"));
    in.push_back(Json("conv/filter"));
    node_named(j, "conv")->set("input", in);
  }), weights);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("cycle"), std::string::npos) << m.status().to_string();
  // Attribute strings that are not base64; a padding TensorFlow does not have; a strides list of the wrong form.
  m = import_text(edited([](Json& j) {
    Json p = Json::object();
    p.set("s", Json("S@ME"));
    const_cast<Json&>(*node_named(j, "conv")->find("attr")).set("padding", p);
  }), weights);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not base64"), std::string::npos) << m.status().to_string();
  m = import_text(edited([](Json& j) {
    Json p = Json::object();
    p.set("s", Json("RlVMTA=="));  // "FULL"
    const_cast<Json&>(*node_named(j, "conv")->find("attr")).set("padding", p);
  }), weights);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("_FusedConv2D 'conv': padding 'FULL'"), std::string::npos) << m.status().to_string();
  m = import_text(edited([](Json& j) {
    Json l = Json::object(), list = Json::object(), i = Json::array();
    i.push_back(Json("2"));
    list.set("i", i);
    l.set("list", list);
    const_cast<Json&>(*node_named(j, "dw")->find("attr")).set("strides", l);
  }), weights);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("strides must be [1, h, w, 1]"), std::string::npos) << m.status().to_string();
  // A constant missing from the manifest; bytes beyond the manifest.
  m = import_text(edited([](Json& j) { node_named(j, "dw/filter")->set("name", Json("dw/other")); }), weights);
  ASSERT_FALSE(m.ok());
  m = import_text(text_of(fixtures() / "model.json"), weights + "xx");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  // Not a graph model; not JSON.
  m = import_text("{\"format\": \"layers-model\", \"modelTopology\": {}}", "");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not graph-model"), std::string::npos);
  EXPECT_FALSE(import_text("{\"modelTopology\": ", "").ok());
  // input_shapes for an input that does not exist; a fixed dimension given another size.
  TfjsGraphImportOptions o;
  o.input_shapes["y"] = {1, 6, 6, 2};
  EXPECT_FALSE(import_text(text_of(fixtures() / "model.json"), weights, o).ok());
  o.input_shapes.clear();
  o.input_shapes["x"] = {1, 7, 6, 2};
  m = import_text(text_of(fixtures() / "model.json"), weights, o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("dimension 1 is fixed at 6"), std::string::npos) << m.status().to_string();
}

}  // namespace
}  // namespace vitrine
