// Ops: the layers Vitrine runs and differentiates.
//
// Every op lives in one file under engine/src/ops/ (shape inference, XNNPACK lowering or engine
// kernel, backward, optional sparse gradient) and is listed once in ops.def; its file defines its
// OpInfo entry from VITRINE_OP_INFO(Name), which takes the id and name from ops.def. Inputs are
// ordered activations first, then parameters, as each op's factory documents. Shapes are validated by infer_shape() at build time;
// forward()/backward() re-check only what is cheap (ranks and sizes), never per element.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/status.h"
#include "vitrine/tensor.h"

namespace vitrine {

enum class OpType : uint16_t {
#define VITRINE_OP(Name, id, name) k##Name = id,
#include "vitrine/ops.def"
#undef VITRINE_OP
};

// Op attributes, as read from a model file or set by a builder: named numbers, integer lists and
// strings. Getters return the default when the key is absent and an error when it has a bad value.
struct Subgraph;  // vitrine/graph.h

struct OpAttrs {
  std::map<std::string, double> numbers;
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, std::string> strings;
  // Graphs a control-flow node runs (If: its two branches). Not stored in model files.
  std::vector<std::shared_ptr<Subgraph>> subgraphs;

  bool empty() const { return numbers.empty() && ints.empty() && strings.empty() && subgraphs.empty(); }
  double number(const std::string& key, double fallback) const;
  // An integer-valued number; InvalidArgument naming the key if it is not an integer.
  Result<int64_t> integer(const std::string& key, int64_t fallback) const;
  // A list of exactly `size` integers (size < 0: any length), or `fallback` when absent.
  Result<std::vector<int64_t>> int_list(const std::string& key, int size,
                                        std::vector<int64_t> fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  // Fails naming the first key not in `known` (catches typos in model files).
  Status check_known(const char* op, std::initializer_list<const char*> known) const;
};

struct XnnLowering;  // engine/src/ops/xnn_lowering.h

// Backward kernel: given the inputs and outputs of a forward run and dL/d(outputs) (a null entry
// means a zero gradient), writes (overwrites) dL/d(inputs[i]) into every non-null grad_inputs[i],
// shaped like inputs[i]. Gradients of integer-valued inputs (ids, lengths) are never requested.
using BackwardFn = Status (*)(Context* ctx, const OpAttrs& attrs, const std::vector<const Tensor*>& inputs,
                              const std::vector<const Tensor*>& outputs,
                              const std::vector<const Tensor*>& grad_outputs,
                              const std::vector<Tensor*>& grad_inputs);

// Shape inference: the output shapes for these input shapes and attributes, or an error naming the
// problem. Absent optional trailing inputs are simply not passed.
using InferShapesFn = Result<std::vector<Shape>> (*)(const std::vector<Shape>& inputs,
                                                     const OpAttrs& attrs);
// Type inference: the output dtypes for these input dtypes and attributes (one per output), or an
// error naming the input with a dtype the op does not take. An op without one takes f32 inputs
// only and gives f32 outputs.
using InferTypesFn = Result<std::vector<DType>> (*)(const std::vector<DType>& inputs, const OpAttrs& attrs);
// Lowers one graph node into an XNNPACK subgraph (null: the op runs as an engine kernel).
using LowerFn = Status (*)(XnnLowering& lowering);
// An engine kernel for inference: fills `outputs` (already shaped by infer_shapes) from `inputs`.
using RunFn = Status (*)(Context* ctx, const OpAttrs& attrs, const std::vector<const Tensor*>& inputs,
                         const std::vector<Tensor*>& outputs);

// Sparse gradient of a table input (embeddings): adds d loss / d inputs[table] into `table_grad`
// (the table's shape), touching only the rows the op read, instead of a dense table-sized gradient.
using SparseGradFn = Status (*)(const OpAttrs& attrs, const std::vector<const Tensor*>& inputs, const Tensor& output,
                                const Tensor& grad_output, Tensor* table_grad);

// The registry entry of one op. Each op's file defines its entry once, by name, from ops.def:
//   const OpInfo kSoftmaxInfo = VITRINE_OP_INFO(Softmax).inputs(1, 1).infer(&infer_softmax)
//                                   .lowering(&lower_softmax).gradient(&backward_softmax);
struct OpInfo {
  OpType type;
  uint16_t id;
  const char* name;
  int min_inputs;
  int max_inputs;
  InferShapesFn infer_shapes;
  LowerFn lower;
  // Inference kernel, used when the op has no XNNPACK lowering or a node has non-f32 values
  // (an op with both lowers its all-f32 nodes).
  RunFn run = nullptr;
  // Gradient kernel for training (null: the op cannot be trained through yet).
  BackwardFn backward = nullptr;
  // Training-mode forward for ops that behave differently while training (batch statistics,
  // random dropout). The trainer calls it with attrs "training" = 1 and "step" (the step count,
  // which seeds randomness) and passes the same attrs to backward.
  RunFn train_forward = nullptr;
  // Bit i set: input i never receives a gradient (ids, lengths, running statistics), so a constant
  // there is not a trainable parameter.
  uint32_t non_differentiable_inputs = 0;

  // Sparse gradient of input `sparse_table_input` (null: dense gradients only).
  SparseGradFn sparse_table_grad = nullptr;
  int sparse_table_input = -1;
  // Output dtypes (null: f32 in, f32 out).
  InferTypesFn infer_types = nullptr;
  // Whether a node with these attributes and input shapes lowers (null: every all-f32 node does);
  // others run the kernel.
  bool (*lowers_if)(const OpAttrs& attrs, const std::vector<Shape>& inputs) = nullptr;

  bool differentiable_input(size_t position) const {
    return position >= 32 || ((non_differentiable_inputs >> position) & 1u) == 0;
  }

  // The entry of `type` with its id and name from ops.def and nothing else set; the setters below
  // return a copy with one more field, so that an entry names every field it sets.
  static constexpr OpInfo of(OpType type) {
    switch (type) {
#define VITRINE_OP(Name, id, name) \
      case OpType::k##Name:        \
        return OpInfo{type, id, name, 0, 0, nullptr, nullptr};
#include "vitrine/ops.def"
#undef VITRINE_OP
    }
    return OpInfo{type, 0xFFFF, "invalid", 0, 0, nullptr, nullptr};
  }
  constexpr OpInfo inputs(int min, int max) const { OpInfo c = *this; c.min_inputs = min; c.max_inputs = max; return c; }
  constexpr OpInfo infer(InferShapesFn f) const { OpInfo c = *this; c.infer_shapes = f; return c; }
  constexpr OpInfo lowering(LowerFn f) const { OpInfo c = *this; c.lower = f; return c; }
  constexpr OpInfo kernel(RunFn f) const { OpInfo c = *this; c.run = f; return c; }
  constexpr OpInfo gradient(BackwardFn f) const { OpInfo c = *this; c.backward = f; return c; }
  constexpr OpInfo training_forward(RunFn f) const { OpInfo c = *this; c.train_forward = f; return c; }
  constexpr OpInfo types(InferTypesFn f) const { OpInfo c = *this; c.infer_types = f; return c; }
  constexpr OpInfo lowering_if(bool (*f)(const OpAttrs&, const std::vector<Shape>&)) const { OpInfo c = *this; c.lowers_if = f; return c; }
  constexpr OpInfo not_differentiable(uint32_t input_bits) const { OpInfo c = *this; c.non_differentiable_inputs = input_bits; return c; }
  constexpr OpInfo sparse_gradient(int input, SparseGradFn f) const {
    OpInfo c = *this;
    c.sparse_table_input = input;
    c.sparse_table_grad = f;
    return c;
  }
};

// The start of an op's registry entry: its id and name come from ops.def.
#define VITRINE_OP_INFO(Name) ::vitrine::OpInfo::of(::vitrine::OpType::k##Name)

// All ops, in ops.def order.
const std::vector<OpInfo>& all_ops();
// Looks an op up by model-file name or id; NotFound names the unknown op.
Result<const OpInfo*> find_op(std::string_view name);
Result<const OpInfo*> find_op(uint16_t id);
const OpInfo& op_info(OpType type);
// Whether `type` takes f16 inputs: Cast and the ops that only move elements (f16 is storage; other
// ops refuse it, and the ONNX importer computes them in f32 through casts).
bool takes_f16(OpType type);

// The registry entry each op's file defines (see ops.def).
#define VITRINE_OP(Name, id, name) extern const OpInfo k##Name##Info;
#include "vitrine/ops.def"
#undef VITRINE_OP

}  // namespace vitrine
