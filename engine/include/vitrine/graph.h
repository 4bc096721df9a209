// Graph: a typed dataflow graph of ops, and the Executor that runs it.
//
// Values are graph inputs, constants (weights: tensors owned by the graph) or node outputs. Every
// value has a shape, inferred when its node is added; a bad node is refused at that moment with a
// message naming it. Image tensors are NHWC (XNNPACK's layout); importers convert.
//
// Dimension 0 of the inputs is the batch: an Executor built for one batch size runs others
// without being rebuilt (shapes are re-inferred and XNNPACK reshapes its runtime).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/ops.h"
#include "vitrine/status.h"
#include "vitrine/tensor.h"

namespace vitrine {

struct GraphValue {
  std::string name;
  Shape shape;
  DType dtype = DType::kF32;
  Tensor constant;      // non-empty for constants (weights)
  int producer = -1;    // index of the node that writes it; -1 for inputs and constants
  bool is_input = false;
};

struct GraphNode {
  OpType type;
  std::string name;
  OpAttrs attrs;
  std::vector<int> inputs;   // value indices
  std::vector<int> outputs;  // value indices
};

class Graph {
 public:
  // A graph input (batch first; a rank-0 input is a scalar, e.g. a value an If branch reads from
  // the enclosing graph). Names are unique across values.
  Result<int> add_input(const std::string& name, const Shape& shape, DType dtype = DType::kF32);
  // A constant; the graph shares the tensor's storage (no copy).
  Result<int> add_constant(const std::string& name, Tensor value);
  // Adds a node, checks its inputs and attributes, infers its output shapes and dtypes, and returns the output
  // value indices (named "<name>:0", "<name>:1", ... except a single output, named `name`).
  Result<std::vector<int>> add_node(OpType type, const std::string& name, std::vector<int> inputs,
                                    OpAttrs attrs = {});
  // Convenience for single-output nodes.
  Result<int> add(OpType type, const std::string& name, std::vector<int> inputs, OpAttrs attrs = {});
  // Makes constant `value` use `tensor`'s storage (shared, no copy), e.g. weights another graph of
  // the same model already holds. The tensor must have the constant's shape and dtype.
  Status replace_constant(int value, Tensor tensor);
  // Marks `value` as an output, published as `name` (default: the value's own name).
  Status add_output(int value, const std::string& name = "");

  const std::vector<GraphValue>& values() const { return values_; }
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  const GraphValue& value(int index) const { return values_[static_cast<size_t>(index)]; }
  // The value named `name` (constant time), or NotFound.
  Result<int> find(const std::string& name) const;

  // Shapes of every value for new input shapes (e.g. another batch size), or an error naming the
  // first node that cannot take them.
  Result<std::vector<Shape>> infer_shapes(const std::vector<Shape>& input_shapes) const;

 private:
  Status check_new_name(const std::string& name) const;
  std::vector<GraphValue> values_;
  std::vector<GraphNode> nodes_;
  std::vector<int> inputs_;
  std::vector<int> outputs_;
  std::vector<std::string> output_names_;
  // Lookups that keep building and importing linear in the graph size.
  std::unordered_map<std::string, int> value_index_;     // value name -> index in values_
  std::unordered_set<int> output_values_;                // values in outputs_
  std::unordered_set<std::string> output_name_set_;      // names in output_names_
};

// OK when every input, output and constant of `g` is f32 (what the task pipelines read with
// Tensor::data()); otherwise InvalidArgument naming `what` and the first typed value.
Status require_f32(const Graph& g, const std::string& what);

// OK when `inputs` are as many as `g`'s inputs, none empty, each of its input's dtype; otherwise
// InvalidArgument naming the input.
Status check_input_tensors(const Graph& g, const std::vector<Tensor>& inputs);

// How an executor is built.
struct ExecutorOptions {
  // Time every operator of every run (XNNPACK's per-operator timer inside its runtimes, a clock
  // around engine kernels); Executor::profile() reads the last run. Costs a clock read per operator.
  bool profile = false;
};

// One operator's share of an executor's last run (Executor::profile()).
struct OpTime {
  // What ran: an XNNPACK operator and its microkernel kind ("Convolution (NHWC, F32) DWConv") or an
  // engine kernel ("engine pad"). XNNPACK fuses some nodes into the operator before them (a Clip
  // after a Conv2D): those have no row of their own.
  std::string op;
  // The graph node it runs ("conv2d 'features.1.conv.0.0'") for convolutions, dense layers, matrix
  // products, attention (its two matrix products) and engine kernels; empty for other XNNPACK
  // operators.
  std::string node;
  // Milliseconds; XNNPACK times its operators in whole microseconds (rounded down).
  double ms = 0;
  // 2 × multiply-adds of the operator at the run's shapes (convolutions, dense layers, matrix
  // products, attention's two products); 0 for other operators.
  double flops = 0;
  int segment = 0;  // the XNNPACK runtime or engine kernel it belongs to, in run order
};

// Runs a graph: the whole graph (or its maximal XNNPACK-supported runs of nodes) lowered to XNNPACK
// runtimes; workspace is allocated once and reused; a new batch size only reshapes.
class Executor {
 public:
  // Builds the runtime(s). Keeps `graph` (shared) and `ctx` (not owned: must outlive the executor).
  static Result<std::unique_ptr<Executor>> create(std::shared_ptr<const Graph> graph, Context* ctx,
                                                  ExecutorOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs on `inputs` (graph input order; shapes the graph's shape inference accepts, e.g. another
  // batch size: XNNPACK reshapes, nothing is rebuilt; ModelRunner handles ONNX models whose other
  // dimensions change). Writes the
  // outputs (graph output order) into `outputs`, reusing their storage when shapes match.
  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);

  const Graph& graph() const { return *graph_; }

  // Per-operator times of the last run, in run order. FailedPrecondition when the executor was not
  // built with ExecutorOptions::profile or has not run yet.
  Result<std::vector<OpTime>> profile() const;

 private:
  Executor() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<const Graph> graph_;
};

// A graph that a control-flow node runs (an If branch). Its inputs are the outer values the node
// passes it (outer-scope values it reads), its outputs the node's outputs. A branch the importer
// could not build at these shapes holds `error` instead of a graph; running it returns the error.
// The executor is made on first use and kept.
struct Subgraph {
  std::shared_ptr<const Graph> graph;
  Status error = Status::Ok();
  std::mutex mu;                       // guards executor creation and runs
  std::unique_ptr<Executor> executor;  // made on first run
  // For backward: `graph` with every node output published, and its executor (made on first use).
  std::shared_ptr<Graph> trace_graph;
  std::unique_ptr<Executor> trace_executor;
};

}  // namespace vitrine
