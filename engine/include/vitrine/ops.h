// Ops: the layers Vitrine runs and differentiates.
//
// Every op implements the Op interface (shape inference, forward, backward) in one file under
// engine/src/ops/, and is listed once in ops.def. Inputs are ordered activations first, then
// parameters, as each op's factory documents. Shapes are validated by infer_shape() at build time;
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

// Op attributes, as read from a model file or set by a builder: named numbers and strings.
struct OpAttrs {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual OpType type() const = 0;
  const char* name() const;

  // Checks the input shapes (activations, then parameters) and returns the output shape.
  virtual Result<Shape> infer_shape(const std::vector<Shape>& inputs) const = 0;

  // output = f(inputs). `output` must already have infer_shape()'s shape. Kernels (and packed
  // weights) are prepared on the first call and refreshed only when a shape or parameter changes.
  virtual Status forward(const std::vector<const Tensor*>& inputs, Tensor* output) = 0;

  // Given grad_output = dL/d(output) for the inputs last passed to forward(), writes (overwrites)
  // dL/d(inputs[i]) into every non-null grad_inputs[i], which must have inputs[i]'s shape.
  virtual Status backward(const std::vector<const Tensor*>& inputs, const Tensor& output,
                          const Tensor& grad_output, const std::vector<Tensor*>& grad_inputs) = 0;
};

// The registry entry of one op.
struct OpInfo {
  OpType type;
  uint16_t id;
  const char* name;
  // Creates the op. The op keeps `ctx` (not owned): the context must outlive it.
  Result<std::unique_ptr<Op>> (*create)(Context* ctx, const OpAttrs& attrs);
};

// All ops, in ops.def order.
const std::vector<OpInfo>& all_ops();
// Looks an op up by model-file name or id; NotFound names the unknown op.
Result<const OpInfo*> find_op(std::string_view name);
Result<const OpInfo*> find_op(uint16_t id);
const OpInfo& op_info(OpType type);

// Op factories, one per ops.def line (defined in the op's own file).
#define VITRINE_OP(Name, id, name) \
  Result<std::unique_ptr<Op>> create_##Name##Op(Context* ctx, const OpAttrs& attrs);
#include "vitrine/ops.def"
#undef VITRINE_OP

// Dense (fully connected): y = x · Wᵀ + b.
//   inputs: x (N, in) — or (..., in), leading dims flattened —, W (out, in), b (out) optional.
//   output: (N, out) — or (..., out).
//   attrs:  none yet.
// Forward runs XNNPACK's fully-connected kernel (weights packed once and re-packed only when W or b
// change). Backward: dx = dy · W and dW = dyᵀ · x through XNNPACK's batch matmul, db = Σ_rows dy.
Result<std::unique_ptr<Op>> create_dense(Context* ctx);

}  // namespace vitrine
