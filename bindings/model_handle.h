// ModelHandle: a loaded model (graph + executor) with its input and output buffers. A header because
// the trainer binding (trainer_bindings.cc) takes one; registered in model_bindings.cc.
#pragma once

#include <emscripten/val.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/model_runner.h"
#include "vitrine/safetensors.h"
#include "vitrine/tfjs_graph_import.h"

namespace vitrine::wasm {

using emscripten::val;

// {"name": [d0, d1, ...]} -> shapes; each dimension an integer in [1, 2^40].
inline Status parse_input_shapes(const std::string& json, std::map<std::string, std::vector<int64_t>>* out) {
  VITRINE_ASSIGN_OR_RETURN(Json j, parse_json(json));
  const JsonRef root(j, "inputShapes");
  if (!j.is_object()) return Status::InvalidArgument("inputShapes must be an object { name: [dims] }");
  for (const auto& [name, dims] : j.object_members()) {
    const JsonRef list = root[name];
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* a, list.as_array());
    std::vector<int64_t> shape;
    for (size_t d = 0; d < a->size(); ++d) {
      VITRINE_ASSIGN_OR_RETURN(int64_t v, list[d].as_int());
      if (v < 1 || v > (int64_t{1} << 40)) return Status::InvalidArgument("inputShapes." + name + ": dimensions must be in [1, 2^40]");
      shape.push_back(v);
    }
    (*out)[name] = std::move(shape);
  }
  return Status::Ok();
}

class ModelHandle : public HandleBase {
 public:
  // Loads an ONNX or Vitrine (.safetensors) model from a Uint8Array (copied once into the wasm
  // heap; Vitrine files' weights are then used in place). `input_shapes`: "" or JSON
  // {"name": [d0, d1, ...]} for ONNX inputs with symbolic dimensions.
  int load(const val& bytes, const std::string& input_shapes) {
    Status s = ensure_context();
    OnnxImportOptions onnx;
    if (s.ok() && !input_shapes.empty()) s = parse_input_shapes(input_shapes, &onnx.input_shapes);
    Result<std::shared_ptr<std::vector<uint8_t>>> data = s.ok() ? bytes_from_js(bytes, "model bytes") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (s.ok() && !data.ok()) s = data.status();
    if (s.ok()) s = adopt(ModelRunner::load(data.value(), onnx, g_context.get()));
    return record(s, &error_);
  }

  // Loads a TF.js graph model: its model.json text and its weight shards concatenated in manifest
  // order (a Uint8Array). `input_shapes` as for load().
  int load_tfjs_graph(const std::string& model_json, const val& weights, const std::string& input_shapes) {
    Status s = ensure_context();
    TfjsGraphImportOptions options;
    if (s.ok() && !input_shapes.empty()) s = parse_input_shapes(input_shapes, &options.input_shapes);
    Result<std::shared_ptr<std::vector<uint8_t>>> data = s.ok() ? bytes_from_js(weights, "weights") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (s.ok() && !data.ok()) s = data.status();
    if (s.ok()) {
      std::vector<std::vector<int64_t>> declared;
      Result<LoadedModel> m = import_tfjs_graph(model_json, data.value()->data(), data.value()->size(), options, &declared);
      s = m.ok() ? adopt(ModelRunner::from_model(std::move(m).value(), declared, g_context.get())) : m.status();
    }
    return record(s, &error_);
  }

  val input_names() const { return names(false); }
  // Each input's dimensions as the model declares them: -1 where any size may be given at run
  // time (symbolic dimensions of an ONNX file, the batch of a Vitrine file).
  val declared_shapes() const {
    val out = val::array();
    if (!runner_) return out;
    for (const std::vector<int64_t>& dims : runner_->declared_dims()) {
      val a = val::array();
      for (int64_t d : dims) a.call<void>("push", static_cast<double>(d));
      out.call<void>("push", a);
    }
    return out;
  }
  val output_names() const { return names(true); }
  // Each input's load-time shape (the sizes the model was imported at).
  val input_shapes() const {
    val out = val::array();
    if (!graph_) return out;
    for (int id : graph_->inputs()) out.call<void>("push", shape_to_js(graph_->value(id).shape));
    return out;
  }

  // Each input's and output's dtype name (f32, i64, i32, u8, i8, bool).
  val input_dtypes() const { return dtypes(false); }
  val output_dtypes() const { return dtypes(true); }
  // Copies a typed array of the input's dtype (Float32Array, BigInt64Array, Int32Array, Uint8Array,
  // Int8Array; bool: Uint8Array) of `shape` (a JS array of dimensions) into input `index`.
  int set_input(int index, const val& data, const val& shape) {
    if (!graph_) return not_loaded();
    Status s;
    if (index < 0 || index >= static_cast<int>(inputs_.size())) {
      s = Status::OutOfRange("input index " + std::to_string(index) + " outside [0, " + std::to_string(inputs_.size()) + ")");
    }
    std::vector<int64_t> dims;
    if (s.ok()) {
      const size_t rank = shape["length"].as<size_t>();
      for (size_t i = 0; i < rank; ++i) dims.push_back(static_cast<int64_t>(shape[i].as<double>()));
    }
    Result<Shape> sh = s.ok() ? Shape::make(dims) : Result<Shape>(s);
    if (s.ok() && !sh.ok()) s = sh.status();
    if (s.ok()) {
      Tensor& t = inputs_[static_cast<size_t>(index)];
      const DType dtype = graph_->value(graph_->inputs()[static_cast<size_t>(index)]).dtype;
      if (t.empty() || t.shape() != sh.value() || t.dtype() != dtype) {
        Result<Tensor> fresh = Tensor::zeros(sh.value(), dtype);
        if (!fresh.ok()) s = fresh.status();
        else t = fresh.value();
      }
      if (s.ok()) {
        std::string what = "input '" + graph_->value(graph_->inputs()[static_cast<size_t>(index)]).name + "'";
        s = copy_tensor_from_js(data, &t, what.c_str());
      }
    }
    return record(s, &error_);
  }

  int run() {
    if (!graph_) return not_loaded();
    Status s;
    for (size_t i = 0; s.ok() && i < inputs_.size(); ++i) {
      if (inputs_[i].empty()) s = Status::FailedPrecondition("input '" + graph_->value(graph_->inputs()[i]).name + "' was not set");
    }
    if (s.ok()) s = runner_->run(inputs_, &outputs_);
    return record(s, &error_);
  }

  // Makes output `output` of the last run the next run's input `input` (a recurrent state) without a
  // copy: the two tensors swap storage, so the next run writes its output into the old input's.
  int carry(int output, int input) {
    if (!graph_) return not_loaded();
    Status s;
    if (output < 0 || output >= static_cast<int>(outputs_.size())) {
      s = Status::FailedPrecondition("carry: output index " + std::to_string(output) + " has no value (run first)");
    } else if (input < 0 || input >= static_cast<int>(inputs_.size())) {
      s = Status::OutOfRange("carry: input index " + std::to_string(input) + " outside [0, " + std::to_string(inputs_.size()) + ")");
    } else {
      const GraphValue& in = graph_->value(graph_->inputs()[static_cast<size_t>(input)]);
      const Tensor& out = outputs_[static_cast<size_t>(output)];
      if (out.dtype() != in.dtype) {
        s = Status::InvalidArgument("carry: output '" + graph_->output_names()[static_cast<size_t>(output)] + "' is " +
                                    dtype_name(out.dtype()) + ", input '" + in.name + "' takes " + dtype_name(in.dtype));
      } else {
        std::swap(outputs_[static_cast<size_t>(output)], inputs_[static_cast<size_t>(input)]);
      }
    }
    return record(s, &error_);
  }
  // Input `index` as last set or carried (a copy), or null when it was never set.
  val input(int index) const {
    if (index < 0 || index >= static_cast<int>(inputs_.size()) || inputs_[static_cast<size_t>(index)].empty()) return val::null();
    return copy_tensor_to_js(inputs_[static_cast<size_t>(index)]);
  }
  val input_shape(int index) const {
    if (index < 0 || index >= static_cast<int>(inputs_.size()) || inputs_[static_cast<size_t>(index)].empty()) return val::null();
    return shape_to_js(inputs_[static_cast<size_t>(index)].shape());
  }

  // The model (with its current, possibly fine-tuned weights) as a Vitrine model file.
  val save() {
    if (!graph_) {
      not_loaded();
      return val::null();
    }
    Result<std::vector<uint8_t>> bytes = save_model(*graph_, metadata_);
    if (!bytes.ok()) {
      record(bytes.status(), &error_);
      return val::null();
    }
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(bytes->size(), bytes->data()));
  }

  std::shared_ptr<Graph> graph() const { return graph_; }

  // Per-operator timing on or off (ModelRunner::set_profiling).
  int set_profiling(bool on) {
    if (!graph_) return not_loaded();
    return record(runner_->set_profiling(on), &error_);
  }

  // The last run's per-operator times: [{ op, node, ms, flops, segment }], or null with lastError()
  // and lastCode() set (profiling off, no run yet).
  val profile() {
    if (!graph_) {
      last_code_ = not_loaded();
      return val::null();
    }
    Result<std::vector<OpTime>> rows = runner_->profile();
    if (!rows.ok()) {
      last_code_ = record(rows.status(), &error_);
      return val::null();
    }
    val out = val::array();
    for (const OpTime& t : rows.value()) {
      val row = val::object();
      row.set("op", t.op);
      row.set("node", t.node);
      row.set("ms", t.ms);
      row.set("flops", t.flops);
      row.set("segment", t.segment);
      out.call<void>("push", row);
    }
    return out;
  }

  // The model file's metadata entries (task, labels, ...) as a plain object of strings.
  val metadata() const {
    val out = val::object();
    for (const auto& [k, v] : metadata_) out.set(k, v);
    return out;
  }

  val output(int index) const {
    if (index < 0 || index >= static_cast<int>(outputs_.size())) return val::null();
    return copy_tensor_to_js(outputs_[static_cast<size_t>(index)]);
  }
  val output_shape(int index) const {
    if (index < 0 || index >= static_cast<int>(outputs_.size())) return val::null();
    return shape_to_js(outputs_[static_cast<size_t>(index)].shape());
  }

 private:
  val dtypes(bool outputs) const {
    val out = val::array();
    if (!graph_) return out;
    for (int id : outputs ? graph_->outputs() : graph_->inputs()) out.call<void>("push", std::string(dtype_name(graph_->value(id).dtype)));
    return out;
  }
  static val shape_to_js(const Shape& s) {
    val a = val::array();
    for (int i = 0; i < s.rank(); ++i) a.call<void>("push", static_cast<double>(s[i]));
    return a;
  }
  val names(bool outputs) const {
    val out = val::array();
    if (!graph_) return out;
    if (outputs) {
      for (const std::string& n : graph_->output_names()) out.call<void>("push", n);
    } else {
      for (int id : graph_->inputs()) out.call<void>("push", graph_->value(id).name);
    }
    return out;
  }
  // Takes a freshly loaded runner (or its error) as this handle's model.
  Status adopt(Result<std::unique_ptr<ModelRunner>> runner) {
    if (!runner.ok()) return runner.status();
    runner_ = std::move(runner).value();
    graph_ = runner_->graph();
    metadata_ = runner_->metadata();
    inputs_.assign(graph_->inputs().size(), Tensor());
    outputs_.clear();
    return Status::Ok();
  }
  int not_loaded() { return record(Status::FailedPrecondition("model is not loaded (or was disposed)"), &error_); }

  std::unique_ptr<ModelRunner> runner_;
  std::shared_ptr<Graph> graph_;  // the runner's load-time graph
  std::vector<Tensor> inputs_, outputs_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace vitrine::wasm
