#include "vitrine/graph.h"

namespace vitrine {

Status Graph::check_new_name(const std::string& name) const {
  if (name.empty()) return Status::InvalidArgument("graph: value names must not be empty");
  if (value_index_.count(name)) return Status::InvalidArgument("graph: duplicate value name '" + name + "'");
  return Status::Ok();
}

Result<int> Graph::add_input(const std::string& name, const Shape& shape, DType dtype) {
  VITRINE_RETURN_IF_ERROR(check_new_name(name));
  GraphValue v;
  v.name = name;
  v.shape = shape;
  v.dtype = dtype;
  v.is_input = true;
  values_.push_back(std::move(v));
  value_index_.emplace(name, static_cast<int>(values_.size() - 1));
  inputs_.push_back(static_cast<int>(values_.size() - 1));
  return inputs_.back();
}

Result<int> Graph::add_constant(const std::string& name, Tensor value) {
  VITRINE_RETURN_IF_ERROR(check_new_name(name));
  if (value.empty()) return Status::InvalidArgument("graph constant '" + name + "' is empty");
  GraphValue v;
  v.name = name;
  v.shape = value.shape();
  v.dtype = value.dtype();
  v.constant = std::move(value);
  values_.push_back(std::move(v));
  value_index_.emplace(name, static_cast<int>(values_.size() - 1));
  return static_cast<int>(values_.size() - 1);
}

Status Graph::replace_constant(int value, Tensor tensor) {
  if (value < 0 || static_cast<size_t>(value) >= values_.size() || values_[static_cast<size_t>(value)].constant.empty()) {
    return Status::InvalidArgument("graph: value " + std::to_string(value) + " is not a constant");
  }
  GraphValue& v = values_[static_cast<size_t>(value)];
  if (tensor.shape() != v.shape || tensor.dtype() != v.dtype) {
    return Status::InvalidArgument("graph constant '" + v.name + "' is " + dtype_name(v.dtype) + " " + v.shape.to_string() +
                                   ", not " + dtype_name(tensor.dtype()) + " " + tensor.shape().to_string());
  }
  v.constant = std::move(tensor);
  return Status::Ok();
}

Result<std::vector<int>> Graph::add_node(OpType type, const std::string& name, std::vector<int> inputs,
                                         OpAttrs attrs) {
  const OpInfo& info = op_info(type);
  const std::string where = std::string(info.name) + " '" + name + "'";
  if (info.infer_shapes == nullptr) return Status::InvalidArgument("graph: unknown op for node '" + name + "'");
  if (static_cast<int>(inputs.size()) < info.min_inputs || static_cast<int>(inputs.size()) > info.max_inputs) {
    return Status::InvalidArgument(where + ": takes " + std::to_string(info.min_inputs) + ".." +
                                   std::to_string(info.max_inputs) + " inputs, got " +
                                   std::to_string(inputs.size()));
  }
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  for (int v : inputs) {
    if (v < 0 || v >= static_cast<int>(values_.size())) {
      return Status::OutOfRange(where + ": input value index " + std::to_string(v) + " does not exist");
    }
    shapes.push_back(values_[static_cast<size_t>(v)].shape);
    dtypes.push_back(values_[static_cast<size_t>(v)].dtype);
  }
  // f16 is storage: only Cast and the ops that move elements without computing on them take it.
  if (!takes_f16(type)) {
    for (size_t i = 0; i < dtypes.size(); ++i) {
      if (dtypes[i] == DType::kF16) {
        return Status::InvalidArgument(where + ": input " + std::to_string(i) + " ('" + values_[static_cast<size_t>(inputs[i])].name +
                                       "') is f16, which is storage only: cast it to f32 to compute");
      }
    }
  }
  Result<std::vector<Shape>> out = info.infer_shapes(shapes, attrs);
  if (!out.ok()) return Status(out.status().code(), where + ": " + out.status().message());
  std::vector<DType> out_types(out->size(), DType::kF32);
  if (info.infer_types) {
    Result<std::vector<DType>> t = info.infer_types(dtypes, attrs);
    if (!t.ok()) return Status(t.status().code(), where + ": " + t.status().message());
    if (t->size() != out->size()) return Status::Internal(where + ": type and shape inference disagree on the outputs");
    out_types = t.value();
  } else {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (dtypes[i] != DType::kF32) {
        return Status::InvalidArgument(where + ": takes f32 inputs; input " + std::to_string(i) + " ('" +
                                       values_[static_cast<size_t>(inputs[i])].name + "') is " + dtype_name(dtypes[i]));
      }
    }
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < out->size(); ++i) {
    names.push_back(out->size() == 1 ? name : name + ":" + std::to_string(i));
    VITRINE_RETURN_IF_ERROR(check_new_name(names.back()));
    for (size_t j = 0; j < i; ++j)
      if (names[j] == names[i]) return Status::InvalidArgument("graph: duplicate value name '" + names[i] + "'");
  }
  GraphNode node{type, name, std::move(attrs), std::move(inputs), {}};
  for (size_t i = 0; i < out->size(); ++i) {
    GraphValue v;
    v.name = names[i];
    v.shape = out.value()[i];
    v.dtype = out_types[i];
    v.producer = static_cast<int>(nodes_.size());
    values_.push_back(std::move(v));
    value_index_.emplace(names[i], static_cast<int>(values_.size() - 1));
    node.outputs.push_back(static_cast<int>(values_.size() - 1));
  }
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs;
}

Result<int> Graph::add(OpType type, const std::string& name, std::vector<int> inputs, OpAttrs attrs) {
  Result<std::vector<int>> out = add_node(type, name, std::move(inputs), std::move(attrs));
  if (!out.ok()) return out.status();
  if (out->size() != 1) return Status::InvalidArgument("graph: node '" + name + "' has several outputs");
  return out.value()[0];
}

Status Graph::add_output(int value, const std::string& name) {
  if (value < 0 || value >= static_cast<int>(values_.size())) {
    return Status::OutOfRange("graph: output value index " + std::to_string(value) + " does not exist");
  }
  if (output_values_.count(value)) {
    return Status::InvalidArgument("graph: '" + values_[value].name + "' is already an output");
  }
  const std::string& public_name = name.empty() ? values_[value].name : name;
  if (output_name_set_.count(public_name)) {
    return Status::InvalidArgument("graph: duplicate output name '" + public_name + "'");
  }
  outputs_.push_back(value);
  output_names_.push_back(public_name);
  output_values_.insert(value);
  output_name_set_.insert(public_name);
  return Status::Ok();
}

Result<int> Graph::find(const std::string& name) const {
  auto it = value_index_.find(name);
  if (it != value_index_.end()) return it->second;
  return Status::NotFound("graph has no value named '" + name + "'");
}

Status require_f32(const Graph& g, const std::string& what) {
  for (const GraphValue& v : g.values()) {
    const bool boundary = v.is_input || !v.constant.empty();
    if (boundary && v.dtype != DType::kF32) {
      return Status::InvalidArgument(what + ": '" + v.name + "' is " + dtype_name(v.dtype) + "; this model must be all f32");
    }
  }
  for (int o : g.outputs()) {
    if (g.value(o).dtype != DType::kF32) {
      return Status::InvalidArgument(what + ": output '" + g.value(o).name + "' is " + dtype_name(g.value(o).dtype) +
                                     "; this model must be all f32");
    }
  }
  return Status::Ok();
}

Status check_input_tensors(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs().size()) {
    return Status::InvalidArgument("model takes " + std::to_string(g.inputs().size()) + " inputs, got " +
                                   std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const GraphValue& want = g.value(g.inputs()[i]);
    if (inputs[i].empty()) return Status::InvalidArgument("input '" + want.name + "' is empty");
    if (inputs[i].dtype() != want.dtype) {
      return Status::InvalidArgument("input '" + want.name + "' must be " + dtype_name(want.dtype) + ", got " +
                                     dtype_name(inputs[i].dtype()));
    }
  }
  return Status::Ok();
}

Result<std::vector<Shape>> Graph::infer_shapes(const std::vector<Shape>& input_shapes) const {
  if (input_shapes.size() != inputs_.size()) {
    return Status::InvalidArgument("graph takes " + std::to_string(inputs_.size()) + " inputs, got " +
                                   std::to_string(input_shapes.size()));
  }
  std::vector<Shape> shapes;
  for (const GraphValue& v : values_) shapes.push_back(v.shape);
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Shape& want = values_[inputs_[i]].shape;
    const Shape& got = input_shapes[i];
    bool ok = got.rank() == want.rank() && (got[0] >= 1 || got[0] == want[0]);  // an empty batch only if built so
    for (int d = 1; ok && d < want.rank(); ++d) ok = got[d] == want[d];
    if (!ok) {
      return Status::InvalidArgument("input '" + values_[inputs_[i]].name + "' must have shape " +
                                     want.to_string() + " (any batch size), got " + got.to_string());
    }
    shapes[static_cast<size_t>(inputs_[i])] = got;
  }
  for (const GraphNode& node : nodes_) {
    std::vector<Shape> in;
    for (int v : node.inputs) in.push_back(shapes[static_cast<size_t>(v)]);
    Result<std::vector<Shape>> out = op_info(node.type).infer_shapes(in, node.attrs);
    if (!out.ok()) {
      return Status(out.status().code(), std::string(op_info(node.type).name) + " '" + node.name +
                                             "': " + out.status().message());
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) shapes[static_cast<size_t>(node.outputs[i])] = out.value()[i];
  }
  return shapes;
}

}  // namespace vitrine
