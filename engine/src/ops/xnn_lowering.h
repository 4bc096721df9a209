// What an op's lower() function sees: one graph node being added to an XNNPACK subgraph.
#pragma once

#include <xnnpack.h>

#include <functional>
#include <vector>

#include "vitrine/ops.h"
#include "vitrine/tensor.h"

namespace vitrine {

struct XnnLowering {
  xnn_subgraph_t subgraph = nullptr;
  const OpAttrs* attrs = nullptr;
  const char* node_name = "";
  std::vector<uint32_t> inputs;           // XNNPACK value ids of the node's inputs
  std::vector<uint32_t> outputs;          // ... and outputs (already defined)
  std::vector<Shape> input_shapes;
  std::vector<Shape> output_shapes;
  std::vector<const Tensor*> constants;   // per input: its data if it is a graph constant, else null
  // Adds a static tensor the executor keeps alive for the runtime's life (e.g. re-laid-out weights).
  std::function<Result<uint32_t>(Tensor)> add_static;
  // Adds an internal value of this shape (for ops lowered to several XNNPACK nodes).
  std::function<Result<uint32_t>(const Shape&)> add_internal;

  // "<op> '<node name>': <what>" from an XNNPACK status.
  Status check(xnn_status status, const char* what) const;
};

}  // namespace vitrine
