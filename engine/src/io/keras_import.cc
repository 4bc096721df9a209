// TensorFlow.js layers-model import (keras_import.h).
#include "vitrine/keras_import.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "../core/checked.h"
#include "../core/half.h"
#include "tfjs_weights.h"
#include "vitrine/json.h"

namespace vitrine {
namespace {

Status layer_error(const std::string& layer, const std::string& message) {
  return Status::InvalidArgument("keras layer '" + layer + "': " + message);
}

// Integer pair from a Keras field: n or [a, b].
Result<std::vector<int64_t>> int_pair(const JsonRef& j, std::vector<int64_t> fallback) {
  if (j.is_missing() || (j.ok() && j.get()->is_null())) return fallback;
  VITRINE_RETURN_IF_ERROR(j.status());
  if (j.get()->is_number()) {
    VITRINE_ASSIGN_OR_RETURN(int64_t v, j.as_int());
    return std::vector<int64_t>{v, v};
  }
  VITRINE_ASSIGN_OR_RETURN(int64_t a, j[0].as_int());
  VITRINE_ASSIGN_OR_RETURN(int64_t b, j[1].as_int());
  return std::vector<int64_t>{a, b};
}

class KerasImporter {
 public:
  KerasImporter(std::map<std::string, Tensor> weights) : weights_(std::move(weights)) { graph_ = std::make_shared<Graph>(); }

  Status layer(const JsonRef& l, const std::vector<int>& inputs);
  std::shared_ptr<Graph> graph_;
  std::map<std::string, int> outputs_;  // layer name -> value

 private:
  Result<int> weight(const std::string& layer, const std::string& field, Tensor value) {
    return graph_->add_constant(layer + "/" + field, std::move(value));
  }
  Result<Tensor> take(const std::string& layer, const std::string& field) {
    auto it = weights_.find(layer + "/" + field);
    if (it == weights_.end()) return Status::NotFound("keras layer '" + layer + "': weight '" + field + "' is not in the manifest");
    if (it->second.dtype() != DType::kF32) return layer_error(layer, "weight '" + field + "' is not float32");
    return it->second;
  }
  Result<Shape> shape_of(int value) {
    VITRINE_ASSIGN_OR_RETURN(std::vector<Shape> shapes, graph_->infer_shapes(input_shapes_));
    return shapes[static_cast<size_t>(value)];
  }
  Result<int> activation(const std::string& layer, const std::string& act, int x);
  Result<std::vector<int64_t>> same_pads(int x, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                         const std::vector<int64_t>& d);

  std::map<std::string, Tensor> weights_;
  std::vector<Shape> input_shapes_;
};

Result<int> KerasImporter::activation(const std::string& layer, const std::string& act, int x) {
  if (act.empty() || act == "linear") return x;
  const std::string name = layer + "/" + act;
  if (act == "relu") return graph_->add(OpType::kRelu, name, {x});
  if (act == "relu6") {
    OpAttrs a;
    a.numbers["min"] = 0;
    a.numbers["max"] = 6;
    return graph_->add(OpType::kClip, name, {x}, a);
  }
  if (act == "sigmoid") return graph_->add(OpType::kSigmoid, name, {x});
  if (act == "tanh") return graph_->add(OpType::kTanh, name, {x});
  if (act == "softmax") {
    OpAttrs a;
    a.numbers["axis"] = -1;
    return graph_->add(OpType::kSoftmax, name, {x}, a);
  }
  return layer_error(layer, "activation '" + act + "' is not supported");
}

// TensorFlow's "same" padding: total = max((ceil(in / s) - 1) s + (k - 1) d + 1 - in, 0), the
// extra pixel at the bottom/right. Returns [top, left, bottom, right].
Result<std::vector<int64_t>> KerasImporter::same_pads(int x, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                                      const std::vector<int64_t>& d) {
  VITRINE_ASSIGN_OR_RETURN(Shape in, shape_of(x));
  std::vector<int64_t> p(4);
  if (k.size() != 2 || s.size() != 2 || d.size() != 2 || in.rank() != 4) {
    return Status::InvalidArgument("keras: \"same\" padding needs 2-D kernel, strides and dilation_rate");
  }
  for (int i = 0; i < 2; ++i) {
    if (k[i] < 1 || s[i] < 1 || d[i] < 1) {
      return Status::InvalidArgument("keras: kernel size, strides and dilation_rate must be >= 1, got " +
                                     std::to_string(k[i]) + ", " + std::to_string(s[i]) + ", " + std::to_string(d[i]));
    }
    const int64_t n = in[1 + i], out = n / s[i] + (n % s[i] != 0);
    int64_t total = 0, reach = 0;
    if (!checked_mul(out - 1, s[i], &total) || !checked_mul(k[i] - 1, d[i], &reach) ||
        !checked_add(total, reach, &total) || !checked_add(total, 1 - n, &total)) {
      return Status::InvalidArgument("keras: kernel size, strides and dilation_rate overflow the padding arithmetic");
    }
    total = std::max<int64_t>(total, 0);
    p[i] = total / 2;
    p[2 + i] = total - total / 2;
  }
  return p;
}

Status KerasImporter::layer(const JsonRef& l, const std::vector<int>& in) {
  VITRINE_ASSIGN_OR_RETURN(std::string cls, l["class_name"].as_string());
  const JsonRef c = l["config"];
  VITRINE_ASSIGN_OR_RETURN(std::string name, l["name"].string_or(""));
  if (name.empty()) {
    VITRINE_ASSIGN_OR_RETURN(name, c["name"].as_string());
  }
  VITRINE_ASSIGN_OR_RETURN(std::string act, c["activation"].string_or("linear"));
  auto one_input = [&]() -> Result<int> {
    if (in.size() != 1) return layer_error(name, cls + " takes one input, got " + std::to_string(in.size()));
    return in[0];
  };
  int y = -1;
  if (cls == "InputLayer") {
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* dims, c["batch_input_shape"].as_array());
    std::vector<int64_t> shape = {1};
    for (size_t i = 1; i < dims->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(int64_t v, c["batch_input_shape"][i].as_int());
      if (v < 1) return layer_error(name, "input dimensions must be fixed and positive");
      shape.push_back(v);
    }
    VITRINE_ASSIGN_OR_RETURN(Shape s, Shape::make(shape));
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add_input(name, s));
    input_shapes_.push_back(s);
  } else if (cls == "Conv2D" || cls == "DepthwiseConv2D") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(std::string format, c["data_format"].string_or("channels_last"));
    if (format != "channels_last") return layer_error(name, "only channels_last is supported");
    const bool depthwise = cls == "DepthwiseConv2D";
    VITRINE_ASSIGN_OR_RETURN(Tensor k, take(name, depthwise ? "depthwise_kernel" : "kernel"));
    if (k.shape().rank() != 4) return layer_error(name, "kernel must be 4-D, got " + k.shape().to_string());
    const int64_t kh = k.shape()[0], kw = k.shape()[1], ci = k.shape()[2], co = k.shape()[3];
    VITRINE_ASSIGN_OR_RETURN(Shape xs, shape_of(x));
    if (xs.rank() != 4 || xs[3] != ci) return layer_error(name, "kernel " + k.shape().to_string() + " does not fit input " + xs.to_string());
    // Keras (kh, kw, in, out) / depthwise (kh, kw, in, mult)  ->  ours (O, kh, kw, in / groups).
    const int64_t o = depthwise ? ci * co : co;
    VITRINE_ASSIGN_OR_RETURN(Tensor w, tf_filter_to_ohwi(k, depthwise));
    std::vector<int> args = {x};
    VITRINE_ASSIGN_OR_RETURN(int wv, weight(name, "kernel_ohwi", std::move(w)));
    args.push_back(wv);
    VITRINE_ASSIGN_OR_RETURN(bool use_bias, c["use_bias"].bool_or(true));
    if (use_bias) {
      VITRINE_ASSIGN_OR_RETURN(Tensor b, take(name, "bias"));
      if (b.num_elements() != o) return layer_error(name, "bias has " + std::to_string(b.num_elements()) + " values, expected " + std::to_string(o));
      VITRINE_ASSIGN_OR_RETURN(Tensor b1, b.reshaped(Shape{o}));
      VITRINE_ASSIGN_OR_RETURN(int bv, weight(name, "bias", std::move(b1)));
      args.push_back(bv);
    }
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> strides, int_pair(c["strides"], {1, 1}));
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> dil, int_pair(c["dilation_rate"], {1, 1}));
    VITRINE_ASSIGN_OR_RETURN(std::string padding, c["padding"].string_or("valid"));
    OpAttrs a;
    a.ints["strides"] = strides;
    a.ints["dilations"] = dil;
    a.numbers["groups"] = depthwise ? static_cast<double>(ci) : 1.0;
    if (padding == "same") {
      VITRINE_ASSIGN_OR_RETURN(a.ints["pads"], same_pads(x, {kh, kw}, strides, dil));
    } else if (padding != "valid") {
      return layer_error(name, "padding '" + padding + "' is not supported");
    }
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kConv2D, name, args, a));
    VITRINE_ASSIGN_OR_RETURN(y, activation(name, act, y));
  } else if (cls == "Dense") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(Tensor k, take(name, "kernel"));
    if (k.shape().rank() != 2) return layer_error(name, "kernel must be 2-D");
    const int64_t ni = k.shape()[0], no = k.shape()[1];
    VITRINE_ASSIGN_OR_RETURN(Tensor w, Tensor::zeros(Shape{no, ni}));
    for (int64_t i = 0; i < ni; ++i)
      for (int64_t j = 0; j < no; ++j) w.mutable_data()[j * ni + i] = k.data()[i * no + j];
    VITRINE_ASSIGN_OR_RETURN(int wv, weight(name, "kernel_t", std::move(w)));
    std::vector<int> args = {x, wv};
    VITRINE_ASSIGN_OR_RETURN(bool use_bias, c["use_bias"].bool_or(true));
    if (use_bias) {
      VITRINE_ASSIGN_OR_RETURN(Tensor b, take(name, "bias"));
      if (b.num_elements() != no) return layer_error(name, "bias size differs from units");
      VITRINE_ASSIGN_OR_RETURN(int bv, weight(name, "bias", b));
      args.push_back(bv);
    }
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kDense, name, args));
    VITRINE_ASSIGN_OR_RETURN(y, activation(name, act, y));
  } else if (cls == "BatchNormalization") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(Shape xs, shape_of(x));
    VITRINE_ASSIGN_OR_RETURN(int64_t axis, c["axis"].int_or(-1));
    if (axis != -1 && axis != xs.rank() - 1) return layer_error(name, "only the last axis is supported");
    const int64_t ch = xs.dim(-1);
    VITRINE_ASSIGN_OR_RETURN(bool scale, c["scale"].bool_or(true));
    VITRINE_ASSIGN_OR_RETURN(bool center, c["center"].bool_or(true));
    VITRINE_ASSIGN_OR_RETURN(double eps, c["epsilon"].number_or(1e-3));
    std::vector<int> args = {x};
    for (const char* field : {"gamma", "beta", "moving_mean", "moving_variance"}) {
      Tensor t;
      const std::string f = field;
      if ((f == "gamma" && !scale) || (f == "beta" && !center)) {
        VITRINE_ASSIGN_OR_RETURN(t, Tensor::zeros(Shape{ch}));
        if (f == "gamma") std::fill(t.mutable_data(), t.mutable_data() + ch, 1.0f);
      } else {
        VITRINE_ASSIGN_OR_RETURN(t, take(name, f));
      }
      if (t.num_elements() != ch) return layer_error(name, f + " has " + std::to_string(t.num_elements()) + " values, expected " + std::to_string(ch));
      VITRINE_ASSIGN_OR_RETURN(Tensor t1, t.reshaped(Shape{ch}));
      VITRINE_ASSIGN_OR_RETURN(int v, weight(name, f, std::move(t1)));
      args.push_back(v);
    }
    OpAttrs a;
    a.numbers["epsilon"] = eps;
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kBatchNorm, name, args, a));
  } else if (cls == "ReLU") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(double slope, c["negative_slope"].number_or(0));
    VITRINE_ASSIGN_OR_RETURN(double threshold, c["threshold"].number_or(0));
    if (slope != 0 || threshold != 0) return layer_error(name, "ReLU with negative_slope or threshold is not supported");
    const JsonRef mv = c["max_value"];
    if (mv.ok() && !mv.get()->is_null()) {
      VITRINE_ASSIGN_OR_RETURN(double m, mv.as_number());
      OpAttrs a;
      a.numbers["min"] = 0;
      a.numbers["max"] = m;
      VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kClip, name, {x}, a));
    } else {
      VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kRelu, name, {x}));
    }
  } else if (cls == "Activation") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(y, activation(name, act, x));
    if (y == x) {
      VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kIdentity, name, {x}));
    }
  } else if (cls == "Softmax") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(y, activation(name, "softmax", x));
  } else if (cls == "Dropout") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kIdentity, name, {x}));
  } else if (cls == "Add") {
    if (in.size() < 2) return layer_error(name, "Add needs at least two inputs");
    y = in[0];
    for (size_t i = 1; i < in.size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kAdd, i + 1 == in.size() ? name : name + "/" + std::to_string(i), {y, in[i]}));
    }
  } else if (cls == "Concatenate") {
    VITRINE_ASSIGN_OR_RETURN(int64_t axis, c["axis"].int_or(-1));
    OpAttrs a;
    a.numbers["axis"] = static_cast<double>(axis);
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kConcat, name, in, a));
  } else if (cls == "ZeroPadding2D") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    int64_t t = 1, b = 1, lft = 1, r = 1;
    const JsonRef p = c["padding"];
    if (p.ok() && p.get()->is_number()) {
      VITRINE_ASSIGN_OR_RETURN(t, p.as_int());
      b = lft = r = t;
    } else if (p.ok() && p[0].ok() && p[0].get()->is_number()) {
      VITRINE_ASSIGN_OR_RETURN(t, p[0].as_int());
      VITRINE_ASSIGN_OR_RETURN(lft, p[1].as_int());
      b = t;
      r = lft;
    } else if (p.ok()) {
      VITRINE_ASSIGN_OR_RETURN(t, p[0][0].as_int());
      VITRINE_ASSIGN_OR_RETURN(b, p[0][1].as_int());
      VITRINE_ASSIGN_OR_RETURN(lft, p[1][0].as_int());
      VITRINE_ASSIGN_OR_RETURN(r, p[1][1].as_int());
    }
    OpAttrs a;
    a.ints["pads"] = {0, t, lft, 0, 0, b, r, 0};
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kPad, name, {x}, a));
  } else if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> k, int_pair(c["pool_size"], {2, 2}));
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> s, int_pair(c["strides"], k));
    VITRINE_ASSIGN_OR_RETURN(std::string padding, c["padding"].string_or("valid"));
    OpAttrs a;
    a.ints["kernel"] = k;
    a.ints["strides"] = s;
    if (padding == "same") {
      VITRINE_ASSIGN_OR_RETURN(a.ints["pads"], same_pads(x, k, s, {1, 1}));
    } else if (padding != "valid") {
      return layer_error(name, "padding '" + padding + "' is not supported");
    }
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(cls == "MaxPooling2D" ? OpType::kMaxPool2D : OpType::kAvgPool2D, name, {x}, a));
  } else if (cls == "GlobalAveragePooling2D") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(int p, graph_->add(OpType::kGlobalAvgPool2D, name + "/pool", {x}));
    OpAttrs a;
    a.numbers["axis"] = 1;
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kFlatten, name, {p}, a));
  } else if (cls == "Flatten") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    OpAttrs a;
    a.numbers["axis"] = 1;
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kFlatten, name, {x}, a));
  } else if (cls == "Reshape") {
    VITRINE_ASSIGN_OR_RETURN(int x, one_input());
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* dims, c["target_shape"].as_array());
    std::vector<int64_t> shape = {0};
    for (size_t i = 0; i < dims->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(int64_t v, c["target_shape"][i].as_int());
      shape.push_back(v);
    }
    OpAttrs a;
    a.ints["shape"] = shape;
    VITRINE_ASSIGN_OR_RETURN(y, graph_->add(OpType::kReshape, name, {x}, a));
  } else {
    return layer_error(name, "layer type " + cls + " is not supported");
  }
  outputs_[name] = y;
  return Status::Ok();
}

}  // namespace

Result<LoadedModel> import_keras_layers(std::string_view model_json, const uint8_t* weights, size_t size,
                                        const KerasImportOptions& options) {
  VITRINE_ASSIGN_OR_RETURN(Json root, parse_json(model_json));
  const JsonRef r = root.ref("model.json");
  JsonRef topo = r["modelTopology"];
  if (!topo.ok()) return Status::InvalidArgument("model.json has no modelTopology (not a TF.js layers model)");
  if (topo["model_config"].ok()) topo = topo["model_config"];
  VITRINE_ASSIGN_OR_RETURN(std::string cls, topo["class_name"].as_string());
  if (cls != "Model" && cls != "Functional" && cls != "Sequential") {
    return Status::Unimplemented("model class " + cls + " (Model, Functional or Sequential)");
  }
  if (weights == nullptr && size > 0) return Status::InvalidArgument("weights pointer is null");
  VITRINE_ASSIGN_OR_RETURN(auto w, read_tfjs_weights(r["weightsManifest"], weights, size));
  KerasImporter im(std::move(w));
  const JsonRef cfg = topo["config"];
  const JsonRef layers = cfg.ok() && cfg.get()->is_array() ? cfg : cfg["layers"];
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* list, layers.as_array());
  int previous = -1;
  std::string last;
  for (size_t i = 0; i < list->size(); ++i) {
    const JsonRef l = layers[i];
    std::vector<int> inputs;
    const JsonRef inbound = l["inbound_nodes"];
    if (inbound.ok() && inbound.get()->is_array() && inbound.get()->size() > 0) {
      if (inbound.get()->size() > 1) return Status::Unimplemented("shared layers (a layer called more than once)");
      VITRINE_ASSIGN_OR_RETURN(const Json::Array* node, inbound[0].as_array());
      for (size_t k = 0; k < node->size(); ++k) {
        VITRINE_ASSIGN_OR_RETURN(std::string src, inbound[0][k][0].as_string());
        auto it = im.outputs_.find(src);
        if (it == im.outputs_.end()) return Status::InvalidArgument("layer " + std::to_string(i) + " reads unknown layer '" + src + "'");
        inputs.push_back(it->second);
      }
    } else if (previous >= 0) {
      inputs.push_back(previous);  // Sequential: the previous layer
    } else if (cls == "Sequential") {
      // A Sequential model's first layer carries the input shape.
      const JsonRef c = l["config"];
      VITRINE_ASSIGN_OR_RETURN(const Json::Array* dims, c["batch_input_shape"].as_array());
      std::vector<int64_t> shape = {1};
      for (size_t d = 1; d < dims->size(); ++d) {
        VITRINE_ASSIGN_OR_RETURN(int64_t v, c["batch_input_shape"][d].as_int());
        shape.push_back(v);
      }
      Json input = Json::object({{"class_name", "InputLayer"},
                                 {"name", "input"},
                                 {"config", Json::object({{"batch_input_shape", c["batch_input_shape"].get() ? *c["batch_input_shape"].get() : Json()}})}});
      VITRINE_RETURN_IF_ERROR(im.layer(input.ref(), {}));
      inputs.push_back(im.outputs_["input"]);
    }
    VITRINE_ASSIGN_OR_RETURN(std::string cls_name, l["class_name"].as_string());
    if (cls_name != "InputLayer" && inputs.empty()) return Status::InvalidArgument("layer " + std::to_string(i) + " has no input");
    VITRINE_RETURN_IF_ERROR(im.layer(l, inputs));
    VITRINE_ASSIGN_OR_RETURN(last, l["name"].string_or(""));
    if (last.empty()) {
      VITRINE_ASSIGN_OR_RETURN(last, l["config"]["name"].as_string());
    }
    previous = im.outputs_[last];
  }
  std::vector<std::string> outs;
  if (!options.output_layer.empty()) {
    outs.push_back(options.output_layer);
  } else if (cfg["output_layers"].ok()) {
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* o, cfg["output_layers"].as_array());
    for (size_t i = 0; i < o->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(std::string n, cfg["output_layers"][i][0].as_string());
      outs.push_back(n);
    }
  } else {
    outs.push_back(last);
  }
  for (const std::string& n : outs) {
    auto it = im.outputs_.find(n);
    if (it == im.outputs_.end()) return Status::NotFound("the model has no layer named '" + n + "'");
    VITRINE_RETURN_IF_ERROR(im.graph_->add_output(it->second, n));
  }
  std::vector<Shape> input_shapes;
  for (int i : im.graph_->inputs()) input_shapes.push_back(im.graph_->value(i).shape);
  VITRINE_RETURN_IF_ERROR(im.graph_->infer_shapes(input_shapes).status());
  LoadedModel m;
  m.graph = im.graph_;
  m.format = "tfjs-layers";
  return m;
}

}  // namespace vitrine
