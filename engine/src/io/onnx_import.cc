// ONNX ModelProto -> Graph. Activations of rank 4 live in NHWC inside the graph; each ONNX value
// remembers its layout, and transposes are inserted only where a layout-sensitive consumer or a
// graph output needs the ONNX (NCHW) order.
#include "onnx_importer.h"

namespace vitrine {
namespace onnx_importer {

const std::map<std::string, Importer::Handler>& Importer::handlers() {
  static const HandlerTable table = [] {
    HandlerTable t;
    register_conv_ops(&t);
    register_math_ops(&t);
    register_rnn_ops(&t);
    register_shape_ops(&t);
    register_control_ops(&t);
    return t;
  }();
  return table;
}

// ---- driver ----------------------------------------------------------------------------------

Status Importer::add_initializers(const onnx::GraphProto& g) {
  const Limits& limits = default_limits();
  for (const onnx::TensorProto& t : g.initializer) {
    Result<int64_t> elements = onnx::num_elements(t);
    if (!elements.ok()) return Status(elements.status().code(), "ONNX initializer '" + t.name + "': " + elements.status().message());
    VITRINE_RETURN_IF_ERROR(check_limit("ONNX initializer '" + t.name + "'", elements.value(), "elements",
                                        limits.max_tensor_elements, "max_tensor_elements"));
    const bool is_float = t.data_type == onnx::DataType::kFloat || t.data_type == onnx::DataType::kDouble ||
                          t.data_type == onnx::DataType::kFloat16 || t.data_type == onnx::DataType::kBfloat16;
    // Decoded as float or int64; each term is <= 2^31 and the sum is checked at every step.
    const_bytes_ += elements.value() * (is_float ? 4 : 8);
    VITRINE_RETURN_IF_ERROR(check_limit("ONNX model (initializers decoded up to '" + t.name + "')", const_bytes_, "bytes",
                                        limits.max_total_bytes, "max_total_bytes"));
    Result<Const> c = to_const(t);
    if (!c.ok()) return Status(c.status().code(), "ONNX initializer '" + t.name + "': " + c.status().message());
    consts_[t.name] = std::move(c).value();
  }
  return Status::Ok();
}

void Importer::count_uses(const onnx::GraphProto& g, int depth) {
  for (const NodeProto& n : g.node) {
    for (const std::string& in : n.input) {
      uses_[in]++;
      std::vector<const NodeProto*>& readers = consumers_[in];
      if (readers.empty() || readers.back() != &n) readers.push_back(&n);
    }
    for (const std::string& out : n.output) producers_[out] = &n;
    if (depth >= 32) continue;
    // Values read inside a branch or body count as read by the node that holds it, so that no
    // fusion removes them.
    for (const AttributeProto& a : n.attribute) {
      const onnx::GraphProto* sub = a.g.get();
      if (!sub) continue;
      std::set<std::string> inner;
      for (const NodeProto& m : sub->node)
        for (const std::string& out : m.output) inner.insert(out);
      count_uses(*sub, depth + 1);
      for (const NodeProto& m : sub->node)
        for (const std::string& in : m.input)
          if (!inner.count(in)) consumers_[in].push_back(&n);
    }
  }
  for (const onnx::ValueInfoProto& out : g.output) uses_[out.name]++;
}

Status Importer::pull(const std::string& name) {
  if (name.empty() || acts_.count(name) || consts_.count(name) || parent_ == nullptr) return Status::Ok();
  VITRINE_RETURN_IF_ERROR(parent_->pull(name));
  if (const Const* c = parent_->constant(name)) {
    consts_[name] = *c;
    return Status::Ok();
  }
  if (!parent_->acts_.count(name)) return Status::Ok();  // unknown: the reading node reports it
  NodeProto fake;
  fake.op_type = "If";
  fake.input = {name};
  fake.output = {name};
  Result<int> outer = parent_->as_layout(fake, 0, Layout::kPlain);
  if (!outer.ok()) return outer.status();
  const GraphValue& v = parent_->graph_->value(outer.value());
  Result<int> id = graph_->add_input(name, v.shape, v.dtype);
  if (!id.ok()) return id.status();
  acts_[name] = Act{id.value(), Layout::kPlain};
  captures_.push_back(outer.value());
  return Status::Ok();
}

Status Importer::import_nodes(const onnx::GraphProto& g) {
  for (const NodeProto& n : g.node) {
    if (fused_.count(&n)) continue;
    if (n.output.empty()) return Status::InvalidArgument("ONNX " + n.op_type + " node has no outputs");
    if (n.input.empty() && n.op_type != "Constant") return err(n, "has no inputs");
    for (const std::string& in : n.input) VITRINE_RETURN_IF_ERROR(pull(in));
    NodeProto fused;
    std::vector<const NodeProto*> parts;
    if ((n.op_type == "ReduceMean" && fuse_layer_norm(n, &fused, &parts)) || (n.op_type == "Div" && fuse_gelu(n, &fused, &parts))) {
      fused_.insert(parts.begin(), parts.end());
      VITRINE_RETURN_IF_ERROR(fused.op_type == "Gelu" ? unary(fused) : layer_norm(fused));
      continue;
    }
    auto handler = handlers().find(n.op_type);
    if (handler == handlers().end() || !(n.domain.empty() || n.domain == "ai.onnx")) {
      return Status::Unimplemented("ONNX model uses unsupported op " + (n.domain.empty() ? n.op_type : n.domain + "." + n.op_type));
    }
    VITRINE_RETURN_IF_ERROR((this->*handler->second)(n));
  }
  return Status::Ok();
}

Status Importer::set_outputs(const onnx::GraphProto& g) {
  std::set<int> output_values;
  for (const onnx::ValueInfoProto& out : g.output) {
    VITRINE_RETURN_IF_ERROR(pull(out.name));
    auto it = acts_.find(out.name);
    if (it == acts_.end()) {
      const Const* c = constant(out.name);
      if (!c) return Status::InvalidArgument("ONNX output '" + out.name + "' is never computed");
      Result<int> id = c->is_int ? typed_constant(out.name, *c) : float_constant(out.name, *c, c->dims);  // copied out below
      if (!id.ok()) return id.status();
      it = acts_.emplace(out.name, Act{id.value(), Layout::kPlain}).first;
    }
    NodeProto fake;
    fake.op_type = "output";
    fake.input = {out.name};
    fake.output = {out.name};
    Result<int> id = as_layout(fake, 0, Layout::kPlain);
    if (!id.ok()) return id.status();
    int value = id.value();
    bool taken = graph_->value(value).producer < 0 || output_values.count(value) != 0;
    if (taken) {
      Result<int> copy = graph_->add(OpType::kIdentity, fresh(out.name), {value});
      if (!copy.ok()) return copy.status();
      value = copy.value();
    }
    VITRINE_RETURN_IF_ERROR(graph_->add_output(value, out.name));
    output_values.insert(value);
  }
  return Status::Ok();
}

Result<std::shared_ptr<Graph>> Importer::import_branch(const onnx::GraphProto& g) {
  VITRINE_RETURN_IF_ERROR(add_initializers(g));
  count_uses(g, 0);
  VITRINE_RETURN_IF_ERROR(import_nodes(g));
  VITRINE_RETURN_IF_ERROR(set_outputs(g));
  if (graph_->outputs().empty()) return Status::InvalidArgument("ONNX subgraph '" + g.name + "' has no outputs");
  return graph_;
}


Result<std::shared_ptr<Graph>> Importer::run() {
  const onnx::GraphProto& g = model_.graph;
  if (opset_ == 0) {  // the ONNX spec requires it; a model cut short loses it last
    return Status::InvalidArgument("ONNX model imports no opset of the default domain (opset_import is required)");
  }
  if (opset_ < 1 || opset_ > 17) {
    return Status::Unimplemented("ONNX opset " + std::to_string(opset_) + " is not supported (1..17; tested 11..17)");
  }
  if (opset_ < 6) {
    // Opsets 1-5 only for ops whose meaning is the same as at opset 6 (they differ by at most the
    // ignored consumed_inputs attribute); anything else (broadcast attributes, shape attributes,
    // BatchNorm's spatial) is refused rather than guessed.
    static const std::set<std::string> same_as_opset6 = {
        "Abs", "Ceil", "Elu", "Exp", "Floor", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "Identity",
        "LeakyRelu", "Log", "Neg", "Not", "Reciprocal", "Relu", "Selu", "Sigmoid", "Softplus", "Softsign",
        "Sqrt", "Tanh"};
    for (const NodeProto& n : g.node) {
      if (!same_as_opset6.count(n.op_type)) {
        return Status::Unimplemented("ONNX opset " + std::to_string(opset_) + ": " + n.op_type +
                                     " is supported from opset 6 (opsets 1-5 only for ops unchanged since)");
      }
    }
  }
  // Every op the import lacks, in the graph and (for control flow's branches and bodies) in its
  // subgraphs, listed in one error.
  std::set<std::string> missing, missing_inside;
  std::function<void(const onnx::GraphProto&, int)> collect = [&](const onnx::GraphProto& graph, int depth) {
    for (const NodeProto& n : graph.node) {
      if (!((n.domain.empty() || n.domain == "ai.onnx") && handlers().count(n.op_type))) {
        (depth == 0 ? missing : missing_inside).insert(n.domain.empty() ? n.op_type : n.domain + "." + n.op_type);
      }
      if (depth >= 32) continue;  // (the parser bounds nesting; this bounds the walk as well)
      for (const AttributeProto& a : n.attribute) {
        if (a.g) collect(*a.g, depth + 1);
        for (const onnx::GraphProto& sub : a.graphs) collect(sub, depth + 1);
      }
    }
  };
  collect(g, 0);
  if (!missing.empty() || !missing_inside.empty()) {
    auto join = [](const std::set<std::string>& names) {
      std::string list;
      for (const std::string& m : names) list += (list.empty() ? "" : ", ") + m;
      return list;
    };
    if (missing.empty()) return Status::Unimplemented("ONNX model uses unsupported ops inside its subgraphs: " + join(missing_inside));
    return Status::Unimplemented("ONNX model uses unsupported ops: " + join(missing) +
                                 (missing_inside.empty() ? "" : "; inside their subgraphs also: " + join(missing_inside)));
  }
  const Limits& limits = default_limits();
  VITRINE_RETURN_IF_ERROR(check_limit("ONNX model", static_cast<int64_t>(g.node.size()), "nodes", limits.max_nodes,
                                      "max_nodes"));
  for (const NodeProto& n : g.node) {
    VITRINE_RETURN_IF_ERROR(check_limit("ONNX " + n.op_type + " node '" + (n.name.empty() ? (n.output.empty() ? std::string() : n.output[0]) : n.name) + "'",
                                        static_cast<int64_t>(n.attribute.size()), "attributes",
                                        limits.max_attributes, "max_attributes"));
  }
  VITRINE_RETURN_IF_ERROR(add_initializers(g));
  for (const auto& [name, given] : options_.input_shapes) {
    bool found = false;
    for (const onnx::ValueInfoProto& in : g.input) found = found || (in.name == name && !consts_.count(name));
    if (!found) return Status::InvalidArgument("input_shapes names '" + name + "', which is not an input of the model");
  }
  for (const onnx::ValueInfoProto& in : g.input) {
    if (consts_.count(in.name)) continue;
    if (!in.is_tensor) return Status::Unimplemented("ONNX input '" + in.name + "' is not a tensor");
    Result<DType> in_dtype = engine_dtype(in.elem_type, "ONNX input '" + in.name + "'");
    if (!in_dtype.ok()) return in_dtype.status();
    std::vector<int64_t> dims = in.dims;
    if (info_) {
      info_->declared_dims.push_back(in.has_shape ? in.dims : std::vector<int64_t>{});
      info_->scalar.push_back(in.has_shape && in.dims.empty());
    }
    auto it = options_.input_shapes.find(in.name);
    if (it != options_.input_shapes.end()) {  // a given shape: the declared rank, the declared fixed sizes
      const std::vector<int64_t>& given = it->second;
      std::string what = "input_shapes['" + in.name + "'] = (";
      for (size_t d = 0; d < given.size(); ++d) what += (d ? ", " : "") + std::to_string(given[d]);
      what += ")";
      for (int64_t v : given)
        if (v < 1) return Status::InvalidArgument(what + ": every dimension must be >= 1");
      if (in.has_shape && dims.empty() && given == std::vector<int64_t>{1}) {
        // a scalar: the graph holds it as (1)
      } else if (in.has_shape && given.size() != dims.size()) {
        return Status::InvalidArgument(what + ": the model declares rank " + std::to_string(dims.size()));
      }
      for (size_t d = 0; in.has_shape && d < dims.size(); ++d) {
        if (dims[d] >= 0 && dims[d] != given[d]) {
          return Status::InvalidArgument(what + ": dimension " + std::to_string(d) + " is fixed at " + std::to_string(dims[d]) + " in the model");
        }
      }
      dims = given;
    }
    if (!in.has_shape && it == options_.input_shapes.end()) {
      return Status::InvalidArgument("ONNX input '" + in.name + "' has no shape; pass it in input_shapes");
    }
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d] < 0 && d == 0) dims[d] = 1;
      if (dims[d] < 0) {
        return Status::InvalidArgument("ONNX input '" + in.name + "' has a symbolic dimension " + std::to_string(d) +
                                       " ('" + (d < in.dim_params.size() ? in.dim_params[d] : "") +
                                       "'); pass its shape in input_shapes");
      }
    }
    if (dims.empty()) dims = {1};
    Result<Shape> shape = Shape::make(dims);
    if (!shape.ok()) return shape.status();
    Result<int> id = graph_->add_input(in.name, shape.value(), in_dtype.value());
    if (!id.ok()) return id.status();
    acts_[in.name] = Act{id.value(), Layout::kPlain};
  }
  count_uses(g, 0);
  VITRINE_RETURN_IF_ERROR(import_nodes(g));
  VITRINE_RETURN_IF_ERROR(set_outputs(g));
  if (graph_->outputs().empty()) return Status::InvalidArgument("ONNX graph has no outputs");
  return graph_;
}

}  // namespace onnx_importer

using onnx_importer::Importer;


Result<std::shared_ptr<Graph>> import_onnx(const uint8_t* data, size_t size, const OnnxImportOptions& options,
                                           OnnxImportInfo* info) {
  if (info) *info = OnnxImportInfo();
  Result<onnx::ModelProto> model = onnx::parse_model(data, size);
  if (!model.ok()) return model.status();
  Importer importer(model.value(), options, info);
  return importer.run();
}

std::vector<std::string> onnx_supported_ops() {
  std::vector<std::string> ops;
  for (const auto& [name, handler] : Importer::handlers()) ops.push_back(name);
  return ops;  // sorted (a std::map)
}

}  // namespace vitrine
