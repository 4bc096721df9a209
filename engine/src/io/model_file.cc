#include "vitrine/model_file.h"

#include <cmath>

#include "vitrine/json.h"
#include "vitrine/limits.h"
#include "vitrine/onnx_import.h"
#include "vitrine/safetensors.h"

namespace vitrine {
namespace {

Json shape_json(const Shape& s) {
  Json a = Json::array();
  for (int i = 0; i < s.rank(); ++i) a.push_back(Json(s[i]));
  return a;
}

Status arch_error(const std::string& where, const std::string& what) {
  return Status::DataLoss("model architecture: " + where + ": " + what);
}

bool looks_like_safetensors(const std::vector<uint8_t>& b) {
  if (b.size() < 9) return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<size_t>(i)];
  return n > 0 && n <= b.size() - 8 && b[8] == '{';
}

}  // namespace

Result<std::vector<uint8_t>> save_model(const Graph& graph, const std::map<std::string, std::string>& metadata, bool half) {
  if (metadata.count("architecture")) return Status::InvalidArgument("save_model: 'architecture' is reserved");
  Json inputs = Json::array();
  for (int id : graph.inputs()) {
    Json in = Json::object();
    in.set("name", Json(graph.value(id).name));
    in.set("shape", shape_json(graph.value(id).shape));
    if (graph.value(id).dtype != DType::kF32) in.set("dtype", Json(dtype_name(graph.value(id).dtype)));
    inputs.push_back(std::move(in));
  }
  Json nodes = Json::array();
  for (const GraphNode& n : graph.nodes()) {
    Json node = Json::object();
    node.set("op", Json(op_info(n.type).name));
    node.set("name", Json(n.name));
    Json ins = Json::array();
    for (int v : n.inputs) ins.push_back(Json(graph.value(v).name));
    node.set("inputs", std::move(ins));
    if (!n.attrs.subgraphs.empty()) {
      return Status::Unimplemented("save_model: node '" + n.name + "' (" + op_info(n.type).name +
                                   ") runs subgraphs, which Vitrine model files do not store");
    }
    Json attrs = Json::object();
    for (const auto& [k, v] : n.attrs.numbers) {
      if (!std::isfinite(v)) return Status::InvalidArgument("save_model: attribute '" + k + "' of '" + n.name + "' is not finite");
      attrs.set(k, Json(v));
    }
    for (const auto& [k, v] : n.attrs.ints) {
      Json list = Json::array();
      for (int64_t x : v) list.push_back(Json(x));
      attrs.set(k, std::move(list));
    }
    for (const auto& [k, v] : n.attrs.strings) attrs.set(k, Json(v));
    node.set("attrs", std::move(attrs));
    nodes.push_back(std::move(node));
  }
  Json outputs = Json::array();
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    Json o = Json::object();
    o.set("value", Json(graph.value(graph.outputs()[i]).name));
    o.set("name", Json(graph.output_names()[i]));
    outputs.push_back(std::move(o));
  }
  Json arch = Json::object();
  arch.set("inputs", std::move(inputs));
  arch.set("nodes", std::move(nodes));
  arch.set("outputs", std::move(outputs));
  std::map<std::string, std::string> meta = metadata;
  meta["architecture"] = arch.dump();
  bool typed = false;
  for (const GraphValue& v : graph.values()) typed = typed || v.dtype != DType::kF32;
  if (!meta.count("format_version")) meta["format_version"] = typed ? "2" : "1";
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<bool> used(graph.values().size(), false);
  for (const GraphNode& n : graph.nodes())
    for (int v : n.inputs) used[static_cast<size_t>(v)] = true;
  for (size_t i = 0; i < graph.values().size(); ++i) {
    const GraphValue& v = graph.values()[i];
    if (v.constant.empty() || !used[i]) continue;
    // Model files read F64 and F16 weights back as f32 (weights from elsewhere); f64 and f16 values
    // are activations (inputs, casts), so a constant of either cannot be kept as itself.
    if (v.dtype == DType::kF64 || v.dtype == DType::kF16) {
      return Status::Unimplemented("model files hold f32 and integer constants; '" + v.name + "' is " + dtype_name(v.dtype));
    }
    tensors.emplace_back(v.name, v.constant);
  }
  return write_safetensors(tensors, meta, half);
}

Result<LoadedModel> load_model(std::shared_ptr<const std::vector<uint8_t>> bytes, const OnnxImportOptions& onnx,
                               OnnxImportInfo* info) {
  if (!bytes) return Status::InvalidArgument("load_model: no bytes");
  LoadedModel out;
  if (!looks_like_safetensors(*bytes)) {
    Result<std::shared_ptr<Graph>> g = import_onnx(bytes->data(), bytes->size(), onnx, info);
    if (!g.ok()) return g.status();
    out.graph = g.value();
    out.format = "onnx";
    return out;
  }
  if (!onnx.input_shapes.empty()) {
    return Status::InvalidArgument("input shapes are for ONNX models; a Vitrine model file's input shapes are fixed");
  }
  Result<SafetensorsFile> file = SafetensorsFile::parse(bytes);
  if (!file.ok()) return file.status();
  VITRINE_RETURN_IF_ERROR(check_vitrine_metadata(file.value()));
  out.format = "vitrine";
  out.metadata = file->metadata();
  auto arch_it = out.metadata.find("architecture");
  if (arch_it == out.metadata.end()) return Status::DataLoss("model file has no 'architecture' in its metadata");
  Result<Json> arch = parse_json(arch_it->second);
  if (!arch.ok()) return Status::DataLoss("model architecture: " + arch.status().message());
  out.metadata.erase(arch_it);
  const JsonRef root = arch->ref("architecture");

  auto graph = std::make_shared<Graph>();
  Result<const Json::Array*> inputs = root["inputs"].as_array();
  if (!inputs.ok()) return Status::DataLoss(inputs.status().message());
  for (size_t i = 0; i < inputs.value()->size(); ++i) {
    JsonRef in = root["inputs"][i];
    Result<std::string> name = in["name"].as_string();
    Result<const Json::Array*> dims = in["shape"].as_array();
    if (!name.ok()) return Status::DataLoss(name.status().message());
    if (!dims.ok()) return Status::DataLoss(dims.status().message());
    std::vector<int64_t> shape;
    for (size_t d = 0; d < dims.value()->size(); ++d) {
      Result<int64_t> v = in["shape"][d].as_int();
      if (!v.ok()) return Status::DataLoss(v.status().message());
      shape.push_back(v.value());
    }
    Result<Shape> s = Shape::make(shape);
    if (!s.ok()) return arch_error(in.path(), s.status().message());
    Result<std::string> dtype_text = in["dtype"].string_or("f32");
    if (!dtype_text.ok()) return Status::DataLoss(dtype_text.status().message());
    Result<DType> dtype = dtype_from_name(dtype_text.value());
    if (!dtype.ok()) return arch_error(in.path(), dtype.status().message());
    Result<int> id = graph->add_input(name.value(), s.value(), dtype.value());
    if (!id.ok()) return arch_error(in.path(), id.status().message());
  }
  Result<const Json::Array*> nodes = root["nodes"].as_array();
  if (!nodes.ok()) return Status::DataLoss(nodes.status().message());
  VITRINE_RETURN_IF_ERROR(check_limit("model architecture", static_cast<int64_t>(nodes.value()->size()), "nodes",
                                      default_limits().max_nodes, "max_nodes"));
  for (size_t i = 0; i < nodes.value()->size(); ++i) {
    JsonRef node = root["nodes"][i];
    Result<std::string> op = node["op"].as_string();
    Result<std::string> name = node["name"].as_string();
    Result<const Json::Array*> ins = node["inputs"].as_array();
    if (!op.ok()) return Status::DataLoss(op.status().message());
    if (!name.ok()) return Status::DataLoss(name.status().message());
    if (!ins.ok()) return Status::DataLoss(ins.status().message());
    Result<const OpInfo*> info = find_op(op.value());
    if (!info.ok()) return arch_error(node.path(), info.status().message() + " (a newer Vitrine may know it)");
    std::vector<int> ids;
    for (size_t k = 0; k < ins.value()->size(); ++k) {
      Result<std::string> in_name = node["inputs"][k].as_string();
      if (!in_name.ok()) return Status::DataLoss(in_name.status().message());
      Result<int> id = graph->find(in_name.value());
      if (!id.ok() && file->contains(in_name.value())) {
        Result<Tensor> t = file->typed_tensor(in_name.value());
        if (!t.ok()) return t.status();
        id = graph->add_constant(in_name.value(), t.value());
      }
      if (!id.ok()) return arch_error(node.path(), "input '" + in_name.value() + "' is neither a tensor nor an earlier value");
      ids.push_back(id.value());
    }
    OpAttrs attrs;
    if (const Json* a = node.get() ? node.get()->find("attrs") : nullptr) {
      if (!a->is_object()) return arch_error(node.path() + ".attrs", "expected an object");
      VITRINE_RETURN_IF_ERROR(check_limit("model architecture: " + node.path(), static_cast<int64_t>(a->size()),
                                          "attributes", default_limits().max_attributes, "max_attributes"));
      for (const auto& [key, value] : a->object_members()) {
        if (value.is_number()) attrs.numbers[key] = value.number_value();
        else if (value.is_string()) attrs.strings[key] = value.string_value();
        else if (value.is_array()) {
          std::vector<int64_t> list;
          const JsonRef items = value.ref(node.path() + ".attrs." + key);  // not node["attrs"][key]: a scan per element
          for (size_t k = 0; k < value.size(); ++k) {
            Result<int64_t> v = items[k].as_int();
            if (!v.ok()) return Status::DataLoss(v.status().message());
            list.push_back(v.value());
          }
          attrs.ints[key] = list;
        } else {
          return arch_error(node.path() + ".attrs." + key, "expected a number, a string or a list of integers");
        }
      }
    }
    Result<std::vector<int>> added = graph->add_node(info.value()->type, name.value(), ids, attrs);
    if (!added.ok()) return arch_error(node.path(), added.status().message());
  }
  Result<const Json::Array*> outputs = root["outputs"].as_array();
  if (!outputs.ok()) return Status::DataLoss(outputs.status().message());
  for (size_t i = 0; i < outputs.value()->size(); ++i) {
    Result<std::string> value = root["outputs"][i]["value"].as_string();
    Result<std::string> name = root["outputs"][i]["name"].string_or("");
    if (!value.ok()) return Status::DataLoss(value.status().message());
    if (!name.ok()) return Status::DataLoss(name.status().message());
    Result<int> id = graph->find(value.value());
    if (!id.ok()) return arch_error(root["outputs"][i].path(), "unknown value '" + value.value() + "'");
    Status s = graph->add_output(id.value(), name.value());
    if (!s.ok()) return arch_error(root["outputs"][i].path(), s.message());
  }
  if (graph->outputs().empty()) return arch_error("outputs", "the model has no outputs");
  out.graph = graph;
  return out;
}

}  // namespace vitrine
