// Runs an imported/loaded graph once on zero inputs when it is small enough to be cheap (a fuzz
// harness must do bounded work per input). Shared by the onnx, keras and model_file harnesses.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/graph.h"

namespace vitrine {
namespace fuzz {

// One single-threaded context for the whole process (made on first use; never released).
inline Context* fuzz_context() {
  static Context* ctx = [] {
    Result<std::unique_ptr<Context>> made = Context::create(1, 1);
    return made.ok() ? std::move(made).value().release() : nullptr;
  }();
  return ctx;
}

// Sum of the elements of every value of `graph` (inputs, constants, activations), saturating.
inline int64_t graph_elements(const Graph& graph) {
  int64_t total = 0;
  for (const GraphValue& v : graph.values()) {
    int64_t n = v.shape.num_elements();
    if (n < 0 || n > (int64_t{1} << 40)) return int64_t{1} << 40;
    total += n;
  }
  return total;
}

// Creates an executor and runs `graph` once on zero inputs when it has at most `max_nodes` nodes and
// `max_elements` elements in all its values. Returns whether it ran (errors are fine: they are
// Status values; only crashes and sanitizer reports are findings).
inline bool run_once_if_small(const std::shared_ptr<Graph>& graph, int64_t max_nodes = 64,
                              int64_t max_elements = int64_t{1} << 18) {
  if (!graph || static_cast<int64_t>(graph->nodes().size()) > max_nodes) return false;
  if (graph_elements(*graph) > max_elements) return false;
  Context* ctx = fuzz_context();
  if (ctx == nullptr) return false;
  Result<std::unique_ptr<Executor>> executor = Executor::create(graph, ctx);
  if (!executor.ok()) return false;
  std::vector<Tensor> inputs;
  for (int index : graph->inputs()) {
    Result<Tensor> zeros = Tensor::zeros(graph->value(index).shape);
    if (!zeros.ok()) return false;
    inputs.push_back(std::move(zeros).value());
  }
  std::vector<Tensor> outputs;
  (void)executor.value()->run(inputs, &outputs);
  return true;
}

}  // namespace fuzz
}  // namespace vitrine
