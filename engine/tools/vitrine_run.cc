// vitrine-run: runs a model file (.onnx, Vitrine .safetensors or a TF.js graph model's model.json) on .npy inputs and writes its
// outputs as .npy, for outside checks (e.g. against PyTorch or onnxruntime); --save converts the
// model to a Vitrine model file.
//
//   vitrine-run MODEL [--input NAME=FILE.npy]... [--out DIR] [--threads N] [--compare NAME=FILE.npy]...
//               [--save OUT.safetensors] [--bench RUNS] [--profile RUNS] [--shape NAME=d0,d1,...]...
// --shape fixes an ONNX input's symbolic dimensions (a sequence length, an image size) at load;
// inputs of other sizes run too (the model is re-imported for them, see ModelRunner).
// --bench times RUNS runs after 5 warm-up runs and prints {"median_ms", "p10_ms", "p90_ms"} as JSON.
// --profile RUNS times each operator over RUNS runs after 5 warm-up runs and prints one JSON object:
// {"runs", "threads", "total_ms" (median run), "ops": [{"op", "node", "ms" (median), "flops"}]}
// (see OpTime in vitrine/graph.h). --bench and --profile write no outputs and compare nothing.
//
// Inputs are matched to the model's inputs by name (a single input may omit NAME=). Each output
// is written to DIR/<output name>.npy; --compare prints the max |difference| against a reference
// and exits 1 if it exceeds --tolerance (default 1e-4).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "vitrine/graph.h"
#include "tool_util.h"
#include "vitrine/npy.h"
#include "vitrine/model_file.h"
#include "vitrine/model_runner.h"
#include "vitrine/tfjs_graph_import.h"

using namespace vitrine;

namespace {

int fail(const Status& s) { return tools::fail("vitrine-run", s); }
using tools::load_npy;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: vitrine-run MODEL(.onnx|.safetensors|model.json) [--input NAME=FILE.npy]... [--out DIR]\n"
                         "                   [--threads N] [--compare NAME=FILE.npy]... [--tolerance T] [--save OUT]\n"
                         "                   [--shape NAME=d0,d1,...]... [--bench RUNS] [--profile RUNS]\n");
    return 2;
  }
  std::string model_path = argv[1], out_dir, save_path;
  OnnxImportOptions onnx;
  std::vector<std::pair<std::string, std::string>> inputs, compares;
  int threads = 1;
  int bench_runs = 0;
  int profile_runs = 0;
  double tolerance = 1e-4;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto split = tools::split_assignment;
    if (arg == "--input") inputs.push_back(split(next()));
    else if (arg == "--compare") compares.push_back(split(next()));
    else if (arg == "--out") out_dir = next();
    else if (arg == "--save") save_path = next();
    else if (arg == "--bench") bench_runs = std::atoi(next().c_str());
    else if (arg == "--profile") profile_runs = std::atoi(next().c_str());
    else if (arg == "--threads") threads = std::atoi(next().c_str());
    else if (arg == "--tolerance") tolerance = std::atof(next().c_str());
    else if (arg == "--shape") {
      const auto [name, text] = split(next());
      std::vector<int64_t> dims;
      for (size_t at = 0; at <= text.size();) {
        const size_t comma = std::min(text.find(',', at), text.size());
        char* end = nullptr;
        const std::string field = text.substr(at, comma - at);
        const long long v = std::strtoll(field.c_str(), &end, 10);
        if (field.empty() || *end != '\0' || v < 1) return fail(Status::InvalidArgument("--shape " + name + "=" + text + ": dimensions must be positive integers"));
        dims.push_back(v);
        at = comma + 1;
      }
      if (name.empty()) return fail(Status::InvalidArgument("--shape needs NAME=d0,d1,..."));
      onnx.input_shapes[name] = dims;
    }
    else return fail(Status::InvalidArgument("unknown argument '" + arg + "'"));
  }
  Result<std::vector<uint8_t>> bytes = read_binary_file(model_path);
  if (!bytes.ok()) return fail(bytes.status());
  Result<std::unique_ptr<Context>> ctx = Context::create(threads, threads);
  if (!ctx.ok()) return fail(ctx.status());
  Result<std::unique_ptr<ModelRunner>> model = Status::Internal("unset");
  if (model_path.size() > 5 && model_path.compare(model_path.size() - 5, 5, ".json") == 0) {
    // A TF.js graph model: model.json and the weight files it lists beside it.
    const std::string text(bytes->begin(), bytes->end());
    Result<std::vector<uint8_t>> weights = tools::read_tfjs_shards(text, model_path);
    if (!weights.ok()) return fail(weights.status());
    TfjsGraphImportOptions options;
    options.input_shapes = onnx.input_shapes;
    std::vector<std::vector<int64_t>> declared;
    Result<LoadedModel> m = import_tfjs_graph(text, weights->data(), weights->size(), options, &declared);
    if (!m.ok()) return fail(m.status());
    model = ModelRunner::from_model(std::move(m).value(), declared, ctx->get());
  } else {
    model = ModelRunner::load(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()), onnx, ctx->get());
  }
  if (!model.ok()) return fail(model.status());
  std::shared_ptr<Graph> graph = model.value()->graph();
  if (!save_path.empty()) {
    Result<std::vector<uint8_t>> saved = save_model(*graph, model.value()->metadata());
    if (!saved.ok()) return fail(saved.status());
    Status w = write_binary_file(save_path, saved.value());
    if (!w.ok()) return fail(w);
    std::printf("saved %s (%zu bytes)\n", save_path.c_str(), saved->size());
    if (inputs.empty()) return 0;
  }
  const Graph& g = *graph;
  std::vector<Tensor> feeds(g.inputs().size());
  for (const auto& [name, path] : inputs) {
    size_t slot = 0;
    if (!name.empty()) {
      Result<int> id = g.find(name);
      if (!id.ok()) return fail(id.status());
      while (slot < g.inputs().size() && g.inputs()[slot] != id.value()) ++slot;
      if (slot == g.inputs().size()) return fail(Status::NotFound("'" + name + "' is not a model input"));
    } else if (g.inputs().size() != 1) {
      return fail(Status::InvalidArgument("the model has several inputs: use --input NAME=FILE.npy"));
    }
    Result<Tensor> t = load_npy(path, g.value(g.inputs()[slot]).dtype);
    if (!t.ok()) return fail(t.status());
    feeds[slot] = t.value();
  }
  for (size_t i = 0; i < feeds.size(); ++i)
    if (feeds[i].empty()) return fail(Status::InvalidArgument("missing input '" + g.value(g.inputs()[i]).name + "'"));
  std::vector<Tensor> outputs;
  Status s = model.value()->run(feeds, &outputs);
  if (!s.ok()) return fail(s);
  if (profile_runs > 0) {
    s = model.value()->set_profiling(true);
    if (!s.ok()) return fail(s);
    std::vector<std::vector<OpTime>> samples;
    std::vector<double> totals;
    for (int i = 0; i < 5 + profile_runs; ++i) {
      s = model.value()->run(feeds, &outputs);
      if (!s.ok()) return fail(s);
      Result<std::vector<OpTime>> p = model.value()->profile();
      if (!p.ok()) return fail(p.status());
      if (i < 5) continue;
      double total = 0;
      for (const OpTime& t : p.value()) total += t.ms;
      totals.push_back(total);
      samples.push_back(std::move(p).value());
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    auto quote = [](const std::string& text) {
      std::string q = "\"";
      for (char c : text) {
        if (c == '"' || c == '\\') q += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof(esc), "\\u%04x", c);
          q += esc;
        } else {
          q += c;
        }
      }
      return q + "\"";
    };
    std::printf("{\"runs\": %d, \"threads\": %d, \"total_ms\": %.4f, \"ops\": [", profile_runs,
                ctx.value()->num_threads(), median(totals));
    const std::vector<OpTime>& first = samples.front();
    for (size_t k = 0; k < first.size(); ++k) {
      std::vector<double> ms;
      for (const auto& run : samples)
        if (k < run.size()) ms.push_back(run[k].ms);
      std::printf("%s\n  {\"op\": %s, \"node\": %s, \"segment\": %d, \"ms\": %.4f, \"flops\": %.0f}", k ? "," : "",
                  quote(first[k].op).c_str(), quote(first[k].node).c_str(), first[k].segment, median(ms), first[k].flops);
    }
    std::printf("\n]}\n");
    return 0;
  }
  if (bench_runs > 0) {
    for (int i = 0; i < 5; ++i) (void)model.value()->run(feeds, &outputs);
    std::vector<double> ms;
    for (int i = 0; i < bench_runs; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      s = model.value()->run(feeds, &outputs);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!s.ok()) return fail(s);
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms[static_cast<size_t>(p * static_cast<double>(ms.size() - 1) + 0.5)]; };
    std::printf("{\"median_ms\": %.4f, \"p10_ms\": %.4f, \"p90_ms\": %.4f, \"runs\": %d, \"threads\": %d}\n",
                pct(0.5), pct(0.1), pct(0.9), bench_runs, ctx.value()->num_threads());
    return 0;
  }
  int rc = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string& name = g.output_names()[i];
    std::printf("%s %s\n", name.c_str(), outputs[i].shape().to_string().c_str());
    if (!out_dir.empty()) {
      Status w = write_binary_file(out_dir + "/" + name + ".npy", to_npy(outputs[i]));
      if (!w.ok()) return fail(w);
    }
  }
  for (const auto& [name, path] : compares) {
    size_t slot = 0;
    while (slot < g.output_names().size() && !name.empty() && g.output_names()[slot] != name) ++slot;
    if (slot == g.output_names().size()) return fail(Status::NotFound("no output named '" + name + "'"));
    Result<Tensor> ref = load_npy(path, DType::kF64);
    if (!ref.ok()) return fail(ref.status());
    if (ref->num_elements() != outputs[slot].num_elements()) {
      return fail(Status::InvalidArgument("reference " + path + " has shape " + ref->shape().to_string()));
    }
    // Any dtype, compared as doubles (an integer reference may check a float output and back).
    double max_err = 0;
    for (int64_t k = 0; k < ref->num_elements(); ++k) {
      double e = std::fabs(ref->element_as_double(k) - outputs[slot].element_as_double(k));
      if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
    }
    std::printf("max |%s - reference| = %.3g (tolerance %.3g)\n", g.output_names()[slot].c_str(), max_err, tolerance);
    if (!(max_err <= tolerance)) rc = 1;
  }
  return rc;
}
