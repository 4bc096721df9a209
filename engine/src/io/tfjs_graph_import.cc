// TensorFlow.js graph-model import (tfjs_graph_import.h).
#include "vitrine/tfjs_graph_import.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "../core/checked.h"
#include "tfjs_weights.h"
#include "vitrine/json.h"
#include "vitrine/limits.h"

namespace vitrine {
namespace {

// Standard base64 (attribute strings); '=' padding optional.
Result<std::string> base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = value(c);
    if (v < 0) return Status::InvalidArgument("attribute string is not base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

const std::set<std::string>& supported() {
  static const std::set<std::string> ops = {
      "Placeholder", "Const", "Identity", "Conv2D", "_FusedConv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative",
      "MatMul", "_FusedMatMul", "BiasAdd", "MaxPool", "AvgPool", "Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh",
      "Softmax", "AddV2", "Add", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Reshape", "Squeeze", "ExpandDims",
      "Mean", "Max", "Min", "Sum", "Pad", "PadV2", "ConcatV2", "NoOp", "Prelu", "AddN", "Square", "Rsqrt", "Abs", "Sqrt", "Neg", "Exp", "ResizeBilinear", "Shape", "StridedSlice", "Pack",
      "DepthToSpace", "Conv2DBackpropInput"};
  return ops;
}

class GraphImporter {
 public:
  GraphImporter(std::map<std::string, Tensor> weights, const TfjsGraphImportOptions& options)
      : weights_(std::move(weights)), options_(options), graph_(std::make_shared<Graph>()) {}

  Status node(const JsonRef& n);
  Status finish(const JsonRef& root, const std::vector<std::string>& all_names, const std::set<std::string>& read);
  std::shared_ptr<Graph> graph() const { return graph_; }
  std::vector<std::vector<int64_t>> declared;  // each Placeholder's dims as declared
  std::vector<int64_t> import_batch;           // each Placeholder's batch at import
  bool batch_fixed = false;                    // a Shape folded an activation's sizes

 private:
  // --- attributes -------------------------------------------------------------------------------
  Status err(const std::string& what) const { return Status::InvalidArgument("TF.js " + op_ + " '" + name_ + "': " + what); }
  Status unsupported(const std::string& what) const { return Status::Unimplemented("TF.js " + op_ + " '" + name_ + "': " + what); }
  JsonRef attr(const char* key) const { return (*n_)["attr"][key]; }
  bool has_attr(const char* key) const { return attr(key).ok(); }
  Result<std::string> attr_s(const char* key, const std::string& fallback) const {
    const JsonRef a = attr(key);
    if (!a.ok()) return fallback;
    VITRINE_ASSIGN_OR_RETURN(std::string s, a["s"].as_string());
    return base64_decode(s);
  }
  Result<std::vector<std::string>> attr_strings(const char* key) const {
    std::vector<std::string> out;
    const JsonRef list = attr(key)["list"]["s"];
    if (!list.ok()) return out;
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* items, list.as_array());
    for (size_t i = 0; i < items->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(std::string s, list[i].as_string());
      VITRINE_ASSIGN_OR_RETURN(std::string d, base64_decode(s));
      out.push_back(d);
    }
    return out;
  }
  // An integer written as a JSON number or as a decimal string (TensorFlow's int64 in JSON).
  static Result<int64_t> json_int(const JsonRef& j) {
    if (j.ok() && j.get()->is_string()) {
      const std::string& s = j.get()->string_value();
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno != 0) return Status::InvalidArgument(j.path() + ": not an integer: '" + s + "'");
      return static_cast<int64_t>(v);
    }
    return j.as_int();
  }
  Result<std::vector<int64_t>> attr_ints(const char* key, std::vector<int64_t> fallback) const {
    const JsonRef list = attr(key)["list"]["i"];
    if (!attr(key).ok()) return fallback;
    std::vector<int64_t> out;
    if (!list.ok()) return out;
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* items, list.as_array());
    for (size_t i = 0; i < items->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(int64_t v, json_int(list[i]));
      out.push_back(v);
    }
    return out;
  }
  Result<double> attr_f(const char* key, double fallback) const {
    const JsonRef a = attr(key);
    if (!a.ok()) return fallback;
    return a["f"].number_or(fallback);
  }
  Result<bool> attr_b(const char* key, bool fallback) const {
    const JsonRef a = attr(key);
    if (!a.ok()) return fallback;
    return a["b"].bool_or(fallback);
  }

  // --- values -----------------------------------------------------------------------------------
  static std::string base_name(const std::string& input) {
    const size_t colon = input.find(':');
    return colon == std::string::npos ? input : input.substr(0, colon);
  }
  const Tensor* constant(size_t i) const {
    if (i >= inputs_.size()) return nullptr;
    auto it = consts_.find(base_name(inputs_[i]));
    return it == consts_.end() ? nullptr : &it->second;
  }
  Result<int> value(size_t i) {
    if (i >= inputs_.size()) return err("input " + std::to_string(i) + " is missing");
    const std::string& in = inputs_[i];
    if (in.find(':') != std::string::npos && in.substr(in.find(':')) != ":0") {
      return unsupported("reads output '" + in + "' (only first outputs are supported)");
    }
    const std::string base = base_name(in);
    auto v = values_.find(base);
    if (v != values_.end()) return v->second;
    auto c = consts_.find(base);
    if (c == consts_.end()) return err("input '" + in + "' is not produced by an earlier node");
    auto id = const_ids_.find(base);
    if (id != const_ids_.end()) return id->second;
    VITRINE_ASSIGN_OR_RETURN(int added, graph_->add_constant(base, c->second));
    const_ids_[base] = added;
    return added;
  }
  Result<std::vector<int64_t>> const_ints(size_t i) const {
    const Tensor* t = constant(i);
    if (!t) return unsupported("input " + std::to_string(i) + " must be a constant");
    if (t->dtype() != DType::kI32) return err("input " + std::to_string(i) + " must be int32");
    std::vector<int64_t> out;
    for (int64_t k = 0; k < t->num_elements(); ++k) out.push_back(t->data_as<int32_t>()[k]);
    return out;
  }
  const Shape& shape(int v) const { return graph_->value(v).shape; }
  Status set(int v) {
    values_[name_] = v;
    return Status::Ok();
  }
  Result<int> add(OpType type, std::vector<int> in, OpAttrs a = {}, const std::string& suffix = "") {
    Result<int> r = graph_->add(type, suffix.empty() ? name_ : name_ + "/" + suffix, std::move(in), std::move(a));
    if (!r.ok()) return Status(r.status().code(), "TF.js " + op_ + " '" + name_ + "': " + r.status().message());
    return r;
  }

  // --- op families ------------------------------------------------------------------------------
  Result<std::vector<int64_t>> pads(int x, int64_t kh, int64_t kw, const std::vector<int64_t>& strides,
                                    const std::vector<int64_t>& dilations);
  Status conv();
  Status matmul();
  Status pool();
  Status activation(const std::string& act, int x, int alpha_input);
  Status reduce();
  Status strided_slice();
  Status conv_backprop_input();
  // An int32 constant from values and dims, as this node's value.
  Status set_const(std::vector<int64_t> values, std::vector<int64_t> dims);

  std::map<std::string, Tensor> weights_;
  const TfjsGraphImportOptions& options_;
  std::shared_ptr<Graph> graph_;
  std::map<std::string, int> values_;     // node name -> its (first) output
  std::map<std::string, Tensor> consts_;  // Const node name -> value
  std::map<std::string, int> const_ids_;  // Const node name -> its graph constant, once read as a value
  // The node being imported.
  const JsonRef* n_ = nullptr;
  std::string op_, name_;
  std::vector<std::string> inputs_;
};

// TensorFlow's SAME padding (extra pixel at the bottom / right), VALID, or EXPLICIT; returns
// [top, left, bottom, right].
Result<std::vector<int64_t>> GraphImporter::pads(int x, int64_t kh, int64_t kw, const std::vector<int64_t>& strides,
                                                 const std::vector<int64_t>& dilations) {
  VITRINE_ASSIGN_OR_RETURN(std::string padding, attr_s("padding", "VALID"));
  if (padding == "VALID") return std::vector<int64_t>{0, 0, 0, 0};
  if (padding == "EXPLICIT") {
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> e, attr_ints("explicit_paddings", {}));
    if (e.size() != 8 || e[0] || e[1] || e[6] || e[7]) return err("explicit_paddings must pad height and width only");
    for (int64_t v : e)
      if (v < 0) return err("explicit_paddings must be >= 0");
    return std::vector<int64_t>{e[2], e[4], e[3], e[5]};
  }
  if (padding != "SAME") return err("padding '" + padding + "' (SAME, VALID or EXPLICIT)");
  const Shape& in = shape(x);
  std::vector<int64_t> p(4);
  const int64_t k[2] = {kh, kw};
  for (int i = 0; i < 2; ++i) {
    const int64_t n = in[1 + i], s = strides[static_cast<size_t>(i)], d = dilations[static_cast<size_t>(i)];
    const int64_t out = n / s + (n % s != 0);
    int64_t total = 0, reach = 0;
    if (!checked_mul(out - 1, s, &total) || !checked_mul(k[i] - 1, d, &reach) || !checked_add(total, reach, &total) ||
        !checked_add(total, 1 - n, &total)) {
      return err("kernel, strides and dilations overflow the padding arithmetic");
    }
    total = std::max<int64_t>(total, 0);
    p[static_cast<size_t>(i)] = total / 2;
    p[static_cast<size_t>(2 + i)] = total - total / 2;
  }
  return p;
}

// The (strides or dilations) attribute [1, h, w, 1] as [h, w].
Result<std::vector<int64_t>> hw_of(const std::vector<int64_t>& v, const char* what, const std::function<Status(std::string)>& err) {
  if (v.size() != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1) {
    return err(std::string(what) + " must be [1, h, w, 1] with h, w >= 1");
  }
  return std::vector<int64_t>{v[1], v[2]};
}

Status GraphImporter::activation(const std::string& act, int x, int alpha_input) {
  int y = x;
  if (act == "Relu") {
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kRelu, {x}, {}, "relu"));
  } else if (act == "Relu6") {
    OpAttrs a;
    a.numbers["min"] = 0;
    a.numbers["max"] = 6;
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kClip, {x}, a, "relu6"));
  } else if (act == "Elu") {
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kElu, {x}, {}, "elu"));
  } else if (act == "Sigmoid") {
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kSigmoid, {x}, {}, "sigmoid"));
  } else if (act == "Tanh") {
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kTanh, {x}, {}, "tanh"));
  } else if (act == "LeakyRelu") {
    OpAttrs a;
    VITRINE_ASSIGN_OR_RETURN(a.numbers["alpha"], attr_f("leakyrelu_alpha", 0.2));
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kLeakyRelu, {x}, a, "leaky_relu"));
  } else if (act == "Prelu") {
    if (alpha_input < 0) return err("Prelu needs its alpha argument");
    VITRINE_ASSIGN_OR_RETURN(int alpha, value(static_cast<size_t>(alpha_input)));
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kPRelu, {x, alpha}, {}, "prelu"));
  } else if (!act.empty()) {
    return unsupported("fused activation " + act);
  }
  return set(y);
}

Status GraphImporter::conv() {
  const bool depthwise = op_ == "FusedDepthwiseConv2dNative" || op_ == "DepthwiseConv2dNative";
  VITRINE_ASSIGN_OR_RETURN(std::string format, attr_s("data_format", "NHWC"));
  if (format != "NHWC") return unsupported("data_format " + format + " (NHWC only)");
  VITRINE_ASSIGN_OR_RETURN(int x, value(0));
  const Tensor* k = constant(1);
  if (!k || k->dtype() != DType::kF32) return unsupported("the filter must be a float32 constant");
  if (k->shape().rank() != 4 || shape(x).rank() != 4 || shape(x)[3] != k->shape()[2]) {
    return err("filter " + k->shape().to_string() + " does not fit input " + shape(x).to_string());
  }
  const int64_t kh = k->shape()[0], kw = k->shape()[1], ci = k->shape()[2], co = k->shape()[3];
  // TensorFlow (kh, kw, in, out) / depthwise (kh, kw, in, multiplier) -> ours (O, kh, kw, in / groups).
  const int64_t o = depthwise ? ci * co : co;
  VITRINE_ASSIGN_OR_RETURN(Tensor w, tf_filter_to_ohwi(*k, depthwise));
  VITRINE_ASSIGN_OR_RETURN(int wv, graph_->add_constant(name_ + "/filter_ohwi", std::move(w)));
  std::vector<int> args = {x, wv};
  std::vector<std::string> fused;
  if (op_ == "_FusedConv2D" || op_ == "FusedDepthwiseConv2dNative") {
    VITRINE_ASSIGN_OR_RETURN(fused, attr_strings("fused_ops"));
    if (fused.empty() || fused[0] != "BiasAdd") {
      return unsupported("fused ops " + (fused.empty() ? std::string("(none)") : fused[0]) + " (BiasAdd, then an activation)");
    }
    const Tensor* b = constant(2);
    if (!b || b->dtype() != DType::kF32 || b->num_elements() != o) return err("the bias must be a float32 constant of " + std::to_string(o) + " values");
    VITRINE_ASSIGN_OR_RETURN(Tensor b1, b->reshaped(Shape{o}));
    VITRINE_ASSIGN_OR_RETURN(int bv, graph_->add_constant(name_ + "/bias", b1));
    args.push_back(bv);
    if (fused.size() > 2) return unsupported("more than one fused activation");
  }
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> st, attr_ints("strides", {1, 1, 1, 1}));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> di, attr_ints("dilations", {1, 1, 1, 1}));
  auto e = [this](std::string m) { return err(std::move(m)); };
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> strides, hw_of(st, "strides", e));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> dilations, hw_of(di, "dilations", e));
  OpAttrs a;
  a.ints["strides"] = strides;
  a.ints["dilations"] = dilations;
  a.numbers["groups"] = depthwise ? static_cast<double>(ci) : 1.0;
  VITRINE_ASSIGN_OR_RETURN(a.ints["pads"], pads(x, kh, kw, strides, dilations));
  VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kConv2D, args, a));
  return activation(fused.size() > 1 ? fused[1] : "", y, 3);
}

Status GraphImporter::matmul() {
  VITRINE_ASSIGN_OR_RETURN(bool ta, attr_b("transpose_a", false));
  VITRINE_ASSIGN_OR_RETURN(bool tb, attr_b("transpose_b", false));
  if (ta) return unsupported("transpose_a");
  VITRINE_ASSIGN_OR_RETURN(int x, value(0));
  const Tensor* k = constant(1);
  std::vector<std::string> fused;
  if (op_ == "_FusedMatMul") {
    VITRINE_ASSIGN_OR_RETURN(fused, attr_strings("fused_ops"));
    if (fused.empty() || fused[0] != "BiasAdd" || fused.size() > 2) return unsupported("fused ops other than BiasAdd and one activation");
  }
  int y = -1;
  if (k && k->dtype() == DType::kF32 && k->shape().rank() == 2 && shape(x).rank() == 2) {
    // A constant (K, N) (or (N, K) with transpose_b): a dense layer with W (N, K).
    const int64_t kk = k->shape()[tb ? 1 : 0], nn = k->shape()[tb ? 0 : 1];
    if (shape(x)[1] != kk) return err("weights " + k->shape().to_string() + " do not fit input " + shape(x).to_string());
    VITRINE_ASSIGN_OR_RETURN(Tensor w, Tensor::zeros(Shape{nn, kk}));
    for (int64_t i = 0; i < kk; ++i)
      for (int64_t j = 0; j < nn; ++j) w.mutable_data()[j * kk + i] = tb ? k->data()[j * kk + i] : k->data()[i * nn + j];
    VITRINE_ASSIGN_OR_RETURN(int wv, graph_->add_constant(name_ + "/weights_t", std::move(w)));
    std::vector<int> args = {x, wv};
    if (!fused.empty()) {
      const Tensor* b = constant(2);
      if (!b || b->dtype() != DType::kF32 || b->num_elements() != nn) return err("the bias must be a float32 constant of " + std::to_string(nn) + " values");
      VITRINE_ASSIGN_OR_RETURN(Tensor b1, b->reshaped(Shape{nn}));
      VITRINE_ASSIGN_OR_RETURN(int bv, graph_->add_constant(name_ + "/bias", b1));
      args.push_back(bv);
    }
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kDense, args));
  } else {
    if (tb) return unsupported("transpose_b with a non-constant operand");
    VITRINE_ASSIGN_OR_RETURN(int b, value(1));
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kMatMul, {x, b}));
    if (!fused.empty()) {
      VITRINE_ASSIGN_OR_RETURN(int bias, value(2));
      VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kAdd, {y, bias}, {}, "bias"));
    }
  }
  return activation(fused.size() > 1 ? fused[1] : "", y, 3);
}

Status GraphImporter::pool() {
  VITRINE_ASSIGN_OR_RETURN(std::string format, attr_s("data_format", "NHWC"));
  if (format != "NHWC") return unsupported("data_format " + format + " (NHWC only)");
  VITRINE_ASSIGN_OR_RETURN(int x, value(0));
  if (shape(x).rank() != 4) return err("input must be 4-D (N, H, W, C), got " + shape(x).to_string());
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> ks, attr_ints("ksize", {}));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> st, attr_ints("strides", {1, 1, 1, 1}));
  auto e = [this](std::string m) { return err(std::move(m)); };
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, hw_of(ks, "ksize", e));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> strides, hw_of(st, "strides", e));
  OpAttrs a;
  a.ints["kernel"] = kernel;
  a.ints["strides"] = strides;
  VITRINE_ASSIGN_OR_RETURN(a.ints["pads"], pads(x, kernel[0], kernel[1], strides, {1, 1}));
  // TensorFlow's AvgPool with SAME padding divides by the real pixels only, as avg_pool2d does.
  VITRINE_ASSIGN_OR_RETURN(int y, add(op_ == "MaxPool" ? OpType::kMaxPool2D : OpType::kAvgPool2D, {x}, a));
  return set(y);
}

Status GraphImporter::reduce() {
  VITRINE_ASSIGN_OR_RETURN(int x, value(0));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> axes, const_ints(1));
  VITRINE_ASSIGN_OR_RETURN(bool keep, attr_b("keep_dims", false));
  const int rank = shape(x).rank();
  for (int64_t& ax : axes) {
    if (ax < -rank || ax >= rank) return err("axis " + std::to_string(ax) + " out of range for rank " + std::to_string(rank));
    if (ax < 0) ax += rank;
  }
  OpAttrs a;
  a.ints["axes"] = axes;
  a.numbers["keepdims"] = keep ? 1 : 0;
  const OpType type = op_ == "Mean" ? OpType::kReduceMean : op_ == "Max" ? OpType::kReduceMax : op_ == "Min" ? OpType::kReduceMin : OpType::kReduceSum;
  VITRINE_ASSIGN_OR_RETURN(int y, add(type, {x}, a));
  return set(y);
}

Status GraphImporter::set_const(std::vector<int64_t> values, std::vector<int64_t> dims) {
  VITRINE_ASSIGN_OR_RETURN(Shape shape, Shape::make(dims.empty() ? std::vector<int64_t>{1} : dims));
  VITRINE_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(shape, DType::kI32));
  if (static_cast<int64_t>(values.size()) != t.num_elements()) return Status::Internal("set_const: count mismatch");
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < INT32_MIN || values[i] > INT32_MAX) return err("an int32 value out of range");
    t.mutable_data_as<int32_t>()[i] = static_cast<int32_t>(values[i]);
  }
  consts_[name_] = t;
  return Status::Ok();
}

// StridedSlice with constant begin / end / strides and the begin, end and shrink-axis masks (no
// ellipsis or new axes): on an int32 constant it folds; on an activation it is a slice (steps
// allowed) and, for shrunk axes, a reshape.
Status GraphImporter::strided_slice() {
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> begin, const_ints(1));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> end, const_ints(2));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> strides, const_ints(3));
  if (begin.size() != end.size() || begin.size() != strides.size()) return err("begin, end and strides differ in length");
  auto mask = [&](const char* key) -> Result<int64_t> {
    const JsonRef a = attr(key);
    if (!a.ok()) return int64_t{0};
    return json_int(a["i"]);
  };
  VITRINE_ASSIGN_OR_RETURN(int64_t begin_mask, mask("begin_mask"));
  VITRINE_ASSIGN_OR_RETURN(int64_t end_mask, mask("end_mask"));
  VITRINE_ASSIGN_OR_RETURN(int64_t shrink, mask("shrink_axis_mask"));
  VITRINE_ASSIGN_OR_RETURN(int64_t ellipsis, mask("ellipsis_mask"));
  VITRINE_ASSIGN_OR_RETURN(int64_t new_axis, mask("new_axis_mask"));
  if (ellipsis || new_axis) return unsupported("ellipsis_mask or new_axis_mask");
  const Tensor* c = constant(0);
  Shape in_shape;
  int x = -1;
  if (c) {
    in_shape = c->shape();
  } else {
    VITRINE_ASSIGN_OR_RETURN(x, value(0));
    in_shape = shape(x);
  }
  const int rank = in_shape.rank();
  if (static_cast<int>(begin.size()) > rank) return err("slices more axes than the input has");
  std::vector<int64_t> starts, ends, axes, steps, out_dims;
  for (int d = 0; d < rank; ++d) {
    const size_t k = static_cast<size_t>(d);
    if (d >= static_cast<int>(begin.size())) {
      out_dims.push_back(in_shape[d]);
      continue;
    }
    if (strides[k] == 0) return err("a stride of 0");
    const bool sh = (shrink >> d) & 1;
    const int64_t dim = in_shape[d];
    int64_t b = (begin_mask >> d) & 1 ? (strides[k] > 0 ? 0 : dim - 1) : begin[k];
    int64_t e = (end_mask >> d) & 1 ? (strides[k] > 0 ? dim : -dim - 1) : end[k];
    if (sh) {  // one element at begin
      if (b < 0) b += dim;
      if (b < 0 || b >= dim) return err("shrinks axis " + std::to_string(d) + " at an index outside it");
      e = b + 1;
      starts.push_back(b);
      ends.push_back(e);
      steps.push_back(1);
      axes.push_back(d);
      continue;
    }
    starts.push_back(b);
    ends.push_back(e);
    steps.push_back(strides[k]);
    axes.push_back(d);
  }
  // The kept dimensions (slice sizes with ONNX clamping), for the output shape.
  std::vector<int64_t> sizes, first, step_of(static_cast<size_t>(rank), 1);
  for (int d = 0; d < rank; ++d) {
    sizes.push_back(in_shape[d]);
    first.push_back(0);
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    const int d = static_cast<int>(axes[i]);
    const int64_t dim = in_shape[d], st = steps[i];
    auto wrap = [dim](int64_t v) { return v < 0 ? v + dim : v; };
    int64_t s0 = 0, count = 0;
    if (st > 0) {
      s0 = std::clamp<int64_t>(wrap(starts[i]), 0, dim);
      const int64_t e0 = std::clamp<int64_t>(wrap(ends[i]), 0, dim);
      count = e0 > s0 ? (e0 - s0 + st - 1) / st : 0;
    } else if (dim > 0) {
      s0 = std::clamp<int64_t>(wrap(starts[i]), 0, dim - 1);
      const int64_t e0 = std::clamp<int64_t>(wrap(ends[i]), -1, dim - 1);
      count = s0 > e0 ? (s0 - e0 - st - 1) / -st : 0;
    }
    sizes[static_cast<size_t>(d)] = count;
    first[static_cast<size_t>(d)] = s0;
    step_of[static_cast<size_t>(d)] = st;
  }
  std::vector<int64_t> final_dims;
  for (int d = 0; d < rank; ++d)
    if (!((shrink >> d) & 1) || d >= static_cast<int>(begin.size())) final_dims.push_back(sizes[static_cast<size_t>(d)]);
  if (c) {
    if (c->dtype() != DType::kI32) return unsupported("StridedSlice of a non-int32 constant");
    std::vector<int64_t> out;
    const std::vector<int64_t> in_dims = in_shape.to_vector();
    int64_t total = 1;
    for (int64_t v : sizes) total *= v;
    for (int64_t i = 0; i < total; ++i) {
      int64_t rem = i, off = 0, stride = 1;
      for (int d = rank - 1; d >= 0; --d) {
        const size_t k = static_cast<size_t>(d);
        const int64_t idx = first[k] + (rem % sizes[k]) * step_of[k];
        rem /= sizes[k];
        off += idx * stride;
        stride *= in_dims[k];
      }
      out.push_back(c->data_as<int32_t>()[off]);
    }
    return set_const(out, final_dims);
  }
  OpAttrs a;
  a.ints["starts"] = starts;
  a.ints["ends"] = ends;
  a.ints["axes"] = axes;
  bool unit = true;
  for (int64_t st : steps) unit = unit && st == 1;
  if (!unit) a.ints["steps"] = steps;
  VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kSlice, {x}, a, shrink ? "slice" : ""));
  if (shrink) {
    OpAttrs r;
    r.ints["shape"] = final_dims.empty() ? std::vector<int64_t>{1} : final_dims;
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kReshape, {y}, r));
  }
  return set(y);
}

// Conv2DBackpropInput (a transposed convolution): input_sizes, filter (kh, kw, out, in), x.
Status GraphImporter::conv_backprop_input() {
  VITRINE_ASSIGN_OR_RETURN(std::string format, attr_s("data_format", "NHWC"));
  if (format != "NHWC") return unsupported("data_format " + format + " (NHWC only)");
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, const_ints(0));
  const Tensor* k = constant(1);
  VITRINE_ASSIGN_OR_RETURN(int x, value(2));
  if (!k || k->dtype() != DType::kF32 || k->shape().rank() != 4) return unsupported("the filter must be a 4-D float32 constant");
  if (sizes.size() != 4 || shape(x).rank() != 4 || shape(x)[3] != k->shape()[3]) return err("filter or sizes do not fit the input");
  const int64_t kh = k->shape()[0], kw = k->shape()[1], o = k->shape()[2], c = k->shape()[3];
  if (sizes[3] != o) return err("input_sizes' channels differ from the filter's");
  VITRINE_ASSIGN_OR_RETURN(Tensor w, Tensor::zeros(Shape{o, kh, kw, c}));
  for (int64_t a = 0; a < kh; ++a)
    for (int64_t b = 0; b < kw; ++b)
      for (int64_t i = 0; i < o; ++i)
        for (int64_t j = 0; j < c; ++j) w.mutable_data()[((i * kh + a) * kw + b) * c + j] = k->data()[((a * kw + b) * o + i) * c + j];
  VITRINE_ASSIGN_OR_RETURN(int wv, graph_->add_constant(name_ + "/filter_ohwi", std::move(w)));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> st, attr_ints("strides", {1, 1, 1, 1}));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> di, attr_ints("dilations", {1, 1, 1, 1}));
  auto e = [this](std::string m) { return err(std::move(m)); };
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> strides, hw_of(st, "strides", e));
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> dilations, hw_of(di, "dilations", e));
  // The padding of the forward convolution from (N, sizes) to x's grid.
  VITRINE_ASSIGN_OR_RETURN(std::string padding, attr_s("padding", "VALID"));
  std::vector<int64_t> p = {0, 0, 0, 0};
  if (padding == "SAME") {
    const int64_t kk[2] = {kh, kw};
    for (int i = 0; i < 2; ++i) {
      const int64_t n = sizes[static_cast<size_t>(1 + i)], s0 = strides[static_cast<size_t>(i)], d0 = dilations[static_cast<size_t>(i)];
      const int64_t out = n / s0 + (n % s0 != 0);
      const int64_t total = std::max<int64_t>((out - 1) * s0 + (kk[i] - 1) * d0 + 1 - n, 0);
      p[static_cast<size_t>(i)] = total / 2;
      p[static_cast<size_t>(2 + i)] = total - total / 2;
    }
  } else if (padding != "VALID") {
    return unsupported("padding " + padding);
  }
  std::vector<int64_t> output_padding(2);
  const int64_t kk[2] = {kh, kw};
  for (int i = 0; i < 2; ++i) {
    const size_t u = static_cast<size_t>(i);
    const int64_t natural = (shape(x)[1 + i] - 1) * strides[u] - p[u] - p[2 + u] + dilations[u] * (kk[i] - 1) + 1;
    output_padding[u] = sizes[1 + u] - natural;
    if (output_padding[u] < 0 || output_padding[u] >= std::max(strides[u], dilations[u])) {
      return err("input_sizes do not match a transposed convolution of this input");
    }
  }
  OpAttrs a;
  a.ints["strides"] = strides;
  a.ints["dilations"] = dilations;
  a.ints["pads"] = p;
  a.ints["output_padding"] = output_padding;
  VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kConvTranspose2D, {x, wv}, a));
  return set(y);
}

Status GraphImporter::node(const JsonRef& n) {
  n_ = &n;
  VITRINE_ASSIGN_OR_RETURN(name_, n["name"].as_string());
  VITRINE_ASSIGN_OR_RETURN(op_, n["op"].as_string());
  inputs_.clear();
  if (n["input"].ok()) {
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* ins, n["input"].as_array());
    for (size_t i = 0; i < ins->size(); ++i) {
      const Json& in = (*ins)[i];
      if (!in.is_string()) return err("input " + std::to_string(i) + " is not a string");
      const std::string& text = in.string_value();
      if (!text.empty() && text[0] == '^') continue;  // a control dependency: order only
      inputs_.push_back(text);
    }
  }
  if (values_.count(name_) || consts_.count(name_)) return err("the node name is used twice");
  if (op_ == "NoOp") return Status::Ok();
  if (op_ == "Const") {
    auto it = weights_.find(name_);
    if (it == weights_.end()) return err("its value is not in the weightsManifest");
    consts_[name_] = it->second;
    return Status::Ok();
  }
  if (op_ == "Placeholder") {
    VITRINE_ASSIGN_OR_RETURN(std::string dtype, attr("dtype")["type"].string_or("DT_FLOAT"));
    DType dt = DType::kF32;
    if (dtype == "DT_INT32") dt = DType::kI32;
    else if (dtype != "DT_FLOAT") return unsupported("input dtype " + dtype);
    std::vector<int64_t> dims;
    const JsonRef dim = attr("shape")["shape"]["dim"];
    if (dim.ok()) {
      VITRINE_ASSIGN_OR_RETURN(const Json::Array* ds, dim.as_array());
      for (size_t d = 0; d < ds->size(); ++d) {
        VITRINE_ASSIGN_OR_RETURN(int64_t v, json_int(dim[d]["size"]));
        dims.push_back(v);
      }
    }
    declared.push_back(dims.empty() ? std::vector<int64_t>{-1} : dims);
    declared.back()[0] = -1;  // the batch is free unless a Shape folds it (import_tfjs_graph)
    auto given = options_.input_shapes.find(name_);
    if (given != options_.input_shapes.end()) {
      if (given->second.size() != dims.size()) return err("input_shapes gives rank " + std::to_string(given->second.size()) + ", the model declares " + std::to_string(dims.size()));
      for (size_t d = 0; d < dims.size(); ++d) {
        if (dims[d] >= 0 && dims[d] != given->second[d]) return err("dimension " + std::to_string(d) + " is fixed at " + std::to_string(dims[d]));
      }
      dims = given->second;
    }
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d] < 0 && d == 0) dims[d] = 1;
      if (dims[d] < 1) return err("dimension " + std::to_string(d) + " is " + std::to_string(dims[d]) + "; pass its size in input_shapes");
    }
    if (dims.empty()) dims = {1};
    import_batch.push_back(dims[0]);
    VITRINE_ASSIGN_OR_RETURN(Shape s, Shape::make(dims));
    VITRINE_ASSIGN_OR_RETURN(int id, graph_->add_input(name_, s, dt));
    return set(id);
  }
  if (op_ == "Identity") {
    if (const Tensor* c = constant(0)) {
      consts_[name_] = *c;
      return Status::Ok();
    }
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    return set(x);
  }
  if (op_ == "Conv2D" || op_ == "_FusedConv2D" || op_ == "FusedDepthwiseConv2dNative" || op_ == "DepthwiseConv2dNative") return conv();
  if (op_ == "MatMul" || op_ == "_FusedMatMul") return matmul();
  if (op_ == "MaxPool" || op_ == "AvgPool") return pool();
  if (op_ == "Mean" || op_ == "Max" || op_ == "Min" || op_ == "Sum") return reduce();
  if (op_ == "Relu" || op_ == "Relu6" || op_ == "Elu" || op_ == "Sigmoid" || op_ == "Tanh" || op_ == "LeakyRelu") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    if (op_ == "LeakyRelu") {
      OpAttrs a;
      VITRINE_ASSIGN_OR_RETURN(a.numbers["alpha"], attr_f("alpha", 0.2));
      VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kLeakyRelu, {x}, a));
      return set(y);
    }
    return activation(op_, x, -1);
  }
  if (op_ == "Square" || op_ == "Rsqrt" || op_ == "Abs" || op_ == "Sqrt" || op_ == "Neg" || op_ == "Exp") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    int y = -1;
    if (op_ == "Square") {
      VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kMul, {x, x}));
    } else if (op_ == "Rsqrt") {
      VITRINE_ASSIGN_OR_RETURN(int r, add(OpType::kSqrt, {x}, {}, "sqrt"));
      VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kReciprocal, {r}));
    } else {
      const OpType t = op_ == "Abs" ? OpType::kAbs : op_ == "Sqrt" ? OpType::kSqrt : op_ == "Neg" ? OpType::kNeg : OpType::kExp;
      VITRINE_ASSIGN_OR_RETURN(y, add(t, {x}));
    }
    return set(y);
  }
  if (op_ == "ResizeBilinear") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> size, const_ints(1));
    if (shape(x).rank() != 4 || size.size() != 2 || size[0] < 1 || size[1] < 1) return err("takes (N, H, W, C) images and a size [h, w] >= 1");
    VITRINE_ASSIGN_OR_RETURN(bool align, attr_b("align_corners", false));
    VITRINE_ASSIGN_OR_RETURN(bool half, attr_b("half_pixel_centers", false));
    if (align && half) return err("align_corners and half_pixel_centers are exclusive");
    OpAttrs a;
    a.ints["sizes"] = {shape(x)[0], size[0], size[1], shape(x)[3]};
    a.strings["mode"] = "linear";
    a.strings["coordinate_transformation_mode"] = align ? "align_corners" : half ? "half_pixel" : "asymmetric";
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kResize, {x}, a));
    return set(y);
  }
  if (op_ == "Shape") {
    if (const Tensor* c = constant(0)) {
      std::vector<int64_t> d = c->shape().to_vector();
      return set_const(d, {static_cast<int64_t>(d.size())});
    }
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    std::vector<int64_t> d = shape(x).to_vector();
    batch_fixed = true;  // the sizes, batch included, become constants of the graph
    return set_const(d, {static_cast<int64_t>(d.size())});
  }
  if (op_ == "StridedSlice") return strided_slice();
  if (op_ == "Conv2DBackpropInput") return conv_backprop_input();
  if (op_ == "Pack") {
    VITRINE_ASSIGN_OR_RETURN(int64_t axis, attr("axis").ok() ? json_int(attr("axis")["i"]) : Result<int64_t>(int64_t{0}));
    bool all_const = true;
    for (size_t i = 0; i < inputs_.size(); ++i) all_const = all_const && constant(i) && constant(i)->dtype() == DType::kI32;
    if (all_const && axis == 0) {
      std::vector<int64_t> out;
      std::vector<int64_t> dims = {static_cast<int64_t>(inputs_.size())};
      const Shape first = constant(0)->shape();
      for (size_t i = 0; i < inputs_.size(); ++i) {
        const Tensor* c = constant(i);
        if (c->shape() != first) return err("packs values of different shapes");
        for (int64_t k = 0; k < c->num_elements(); ++k) out.push_back(c->data_as<int32_t>()[k]);
      }
      // Scalars are held as (1): packing them gives a vector.
      if (!(first.rank() == 1 && first[0] == 1)) for (int64_t d : first.to_vector()) dims.push_back(d);
      return set_const(out, dims);
    }
    std::vector<int> parts;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(int v, value(i));
      std::vector<int64_t> d = shape(v).to_vector();
      const int64_t r = static_cast<int64_t>(d.size()) + 1;
      const int64_t ax = axis < 0 ? axis + r : axis;
      if (ax < 0 || ax >= r) return err("axis out of range");
      d.insert(d.begin() + ax, 1);
      OpAttrs a;
      a.ints["shape"] = d;
      VITRINE_ASSIGN_OR_RETURN(int u, add(OpType::kReshape, {v}, a, std::to_string(i)));
      parts.push_back(u);
    }
    OpAttrs a;
    a.numbers["axis"] = static_cast<double>(axis);
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kConcat, parts, a));
    return set(y);
  }
  if (op_ == "DepthToSpace") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    VITRINE_ASSIGN_OR_RETURN(int64_t b, attr("block_size").ok() ? json_int(attr("block_size")["i"]) : Result<int64_t>(int64_t{0}));
    VITRINE_ASSIGN_OR_RETURN(std::string format, attr_s("data_format", "NHWC"));
    const Shape xs = shape(x);
    if (format != "NHWC" || xs.rank() != 4 || b < 2 || xs[3] % (b * b) != 0) return err("takes NHWC input with channels divisible by block_size²");
    const int64_t c = xs[3] / (b * b);
    OpAttrs r1, t, r2;
    r1.ints["shape"] = {xs[0], xs[1], xs[2], b, b, c};
    t.ints["perm"] = {0, 1, 3, 2, 4, 5};
    r2.ints["shape"] = {xs[0], xs[1] * b, xs[2] * b, c};
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kReshape, {x}, r1, "split"));
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kTranspose, {y}, t, "interleave"));
    VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kReshape, {y}, r2));
    return set(y);
  }
  if (op_ == "Prelu") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    return activation("Prelu", x, 1);
  }
  if (op_ == "AddN") {
    if (inputs_.empty()) return err("needs inputs");
    VITRINE_ASSIGN_OR_RETURN(int y, value(0));
    for (size_t i = 1; i < inputs_.size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(int v, value(i));
      VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kAdd, {y, v}, {}, i + 1 == inputs_.size() ? "" : std::to_string(i)));
    }
    if (inputs_.size() == 1) {
      VITRINE_ASSIGN_OR_RETURN(y, add(OpType::kIdentity, {y}));
    }
    return set(y);
  }
  if (op_ == "Softmax") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    OpAttrs a;
    a.numbers["axis"] = -1;
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kSoftmax, {x}, a));
    return set(y);
  }
  static const std::map<std::string, OpType> binary = {
      {"AddV2", OpType::kAdd}, {"Add", OpType::kAdd}, {"BiasAdd", OpType::kAdd}, {"Sub", OpType::kSub}, {"Mul", OpType::kMul},
      {"RealDiv", OpType::kDiv}, {"Maximum", OpType::kMax}, {"Minimum", OpType::kMin}};
  if (auto b = binary.find(op_); b != binary.end()) {
    if (inputs_.size() != 2) return err("takes two inputs");
    const Tensor* ca = constant(0);
    const Tensor* cb = constant(1);
    if (ca && cb && ca->dtype() == DType::kI32 && cb->dtype() == DType::kI32 && op_ != "BiasAdd" &&
        (ca->num_elements() == 1 || cb->num_elements() == 1 || ca->shape() == cb->shape())) {
      // Shape arithmetic on int32 constants folds (a scalar broadcasts).
      const Tensor& big = ca->num_elements() >= cb->num_elements() ? *ca : *cb;
      std::vector<int64_t> out;
      for (int64_t i = 0; i < big.num_elements(); ++i) {
        const int64_t x = ca->data_as<int32_t>()[ca->num_elements() == 1 ? 0 : i];
        const int64_t y = cb->data_as<int32_t>()[cb->num_elements() == 1 ? 0 : i];
        int64_t r = 0;
        if (op_ == "AddV2" || op_ == "Add") r = x + y;
        else if (op_ == "Sub") r = x - y;
        else if (op_ == "Mul") r = x * y;
        else if (op_ == "Maximum") r = std::max(x, y);
        else if (op_ == "Minimum") r = std::min(x, y);
        else {
          if (y == 0) return err("integer division by zero");
          r = x / y;
        }
        out.push_back(r);
      }
      return set_const(out, big.shape().to_vector());
    }
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    VITRINE_ASSIGN_OR_RETURN(int y, value(1));
    VITRINE_ASSIGN_OR_RETURN(int z, add(b->second, {x, y}));
    return set(z);
  }
  if (op_ == "Reshape" || op_ == "Squeeze" || op_ == "ExpandDims") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    const std::vector<int64_t> in = shape(x).to_vector();
    std::vector<int64_t> dims;
    if (op_ == "Reshape") {
      VITRINE_ASSIGN_OR_RETURN(dims, const_ints(1));
      for (int64_t d : dims)
        if (d == 0 || d < -1) return unsupported("a target shape with a dimension of " + std::to_string(d));
    } else if (op_ == "Squeeze") {
      VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> axes, attr_ints("squeeze_dims", {}));
      const int64_t r = static_cast<int64_t>(in.size());
      for (int64_t& a : axes) {
        if (a < -r || a >= r) return err("squeeze axis out of range");
        if (a < 0) a += r;
      }
      for (int64_t d = 0; d < r; ++d) {
        const bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
        if (listed && in[static_cast<size_t>(d)] != 1) return err("squeezes a dimension of size " + std::to_string(in[static_cast<size_t>(d)]));
        if (!(listed || (axes.empty() && in[static_cast<size_t>(d)] == 1))) dims.push_back(in[static_cast<size_t>(d)]);
      }
    } else {
      VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> ax, const_ints(1));
      if (ax.size() != 1) return err("axis must be one value");
      const int64_t r = static_cast<int64_t>(in.size()) + 1;
      int64_t a = ax[0];
      if (a < -r || a >= r) return err("axis out of range");
      if (a < 0) a += r;
      dims = in;
      dims.insert(dims.begin() + a, 1);
    }
    OpAttrs a;
    a.ints["shape"] = dims;
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kReshape, {x}, a));
    return set(y);
  }
  if (op_ == "Pad" || op_ == "PadV2") {
    VITRINE_ASSIGN_OR_RETURN(int x, value(0));
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> p, const_ints(1));
    const size_t r = static_cast<size_t>(shape(x).rank());
    if (p.size() != 2 * r) return err("paddings must be (rank, 2)");
    OpAttrs a;
    std::vector<int64_t> onnx(2 * r);
    for (size_t d = 0; d < r; ++d) {
      if (p[2 * d] < 0 || p[2 * d + 1] < 0) return unsupported("negative paddings");
      onnx[d] = p[2 * d];
      onnx[r + d] = p[2 * d + 1];
    }
    a.ints["pads"] = onnx;
    if (op_ == "PadV2") {
      const Tensor* v = constant(2);
      if (!v || v->dtype() != DType::kF32 || v->num_elements() != 1) return unsupported("the pad value must be a float32 scalar constant");
      a.numbers["value"] = v->data()[0];
    }
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kPad, {x}, a));
    return set(y);
  }
  if (op_ == "ConcatV2") {
    if (inputs_.size() < 2) return err("needs inputs and an axis");
    VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> axis, const_ints(inputs_.size() - 1));
    if (axis.size() != 1) return err("axis must be one value");
    bool all_const = true;
    for (size_t i = 0; i + 1 < inputs_.size(); ++i) all_const = all_const && constant(i) && constant(i)->dtype() == DType::kI32 && constant(i)->shape().rank() == 1;
    if (all_const && (axis[0] == 0 || axis[0] == -1)) {  // shape arithmetic: 1-D int32 constants
      std::vector<int64_t> out;
      for (size_t i = 0; i + 1 < inputs_.size(); ++i)
        for (int64_t k = 0; k < constant(i)->num_elements(); ++k) out.push_back(constant(i)->data_as<int32_t>()[k]);
      return set_const(out, {static_cast<int64_t>(out.size())});
    }
    std::vector<int> parts;
    for (size_t i = 0; i + 1 < inputs_.size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(int v, value(i));
      parts.push_back(v);
    }
    OpAttrs a;
    a.numbers["axis"] = static_cast<double>(axis[0]);
    VITRINE_ASSIGN_OR_RETURN(int y, add(OpType::kConcat, parts, a));
    return set(y);
  }
  return unsupported("op is not supported");
}

Status GraphImporter::finish(const JsonRef& root, const std::vector<std::string>& all_names, const std::set<std::string>& read) {
  std::vector<std::string> outs;
  const JsonRef sig = root["signature"]["outputs"];
  if (sig.ok()) {
    VITRINE_ASSIGN_OR_RETURN(const Json::Object* o, sig.as_object());
    for (const auto& [key, spec] : *o) {
      const JsonRef s = sig[key];
      VITRINE_ASSIGN_OR_RETURN(std::string name, s["name"].string_or(key));
      outs.push_back(base_name(name));
    }
  } else {
    for (const std::string& n : all_names)
      if (!read.count(n) && values_.count(n)) outs.push_back(n);
  }
  if (outs.empty()) return Status::InvalidArgument("TF.js graph model: no outputs (no signature, and every node is read)");
  std::set<int> used;
  for (const std::string& o : outs) {
    auto it = values_.find(o);
    if (it == values_.end()) return Status::NotFound("TF.js graph model: output '" + o + "' is not a computed node");
    int v = it->second;
    if (graph_->value(v).producer < 0 || used.count(v)) {
      VITRINE_ASSIGN_OR_RETURN(v, graph_->add(OpType::kIdentity, o + "/output", {v}));
    }
    used.insert(v);
    VITRINE_RETURN_IF_ERROR(graph_->add_output(v, o));
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> tfjs_graph_supported_ops() { return std::vector<std::string>(supported().begin(), supported().end()); }

Result<LoadedModel> import_tfjs_graph(std::string_view model_json, const uint8_t* weights, size_t size,
                                      const TfjsGraphImportOptions& options, std::vector<std::vector<int64_t>>* declared_dims) {
  VITRINE_ASSIGN_OR_RETURN(Json root, parse_json(model_json));
  const JsonRef r = root.ref("model.json");
  VITRINE_ASSIGN_OR_RETURN(std::string format, r["format"].string_or("graph-model"));
  if (format != "graph-model") return Status::InvalidArgument("model.json format is '" + format + "', not graph-model");
  const JsonRef nodes = r["modelTopology"]["node"];
  if (!nodes.ok()) return Status::InvalidArgument("model.json has no modelTopology.node (not a TF.js graph model)");
  if (r["modelTopology"]["library"]["function"].ok() && r["modelTopology"]["library"]["function"].get()->size() > 0) {
    return Status::Unimplemented("TF.js graph model with functions (control flow)");
  }
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* list, nodes.as_array());
  VITRINE_RETURN_IF_ERROR(check_limit("TF.js graph model", static_cast<int64_t>(list->size()), "nodes", default_limits().max_nodes, "max_nodes"));
  // Every op the import lacks, in one error; each node's inputs as node indices.
  std::set<std::string> missing;
  std::vector<std::string> names;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < list->size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(std::string op, nodes[i]["op"].as_string());
    VITRINE_ASSIGN_OR_RETURN(std::string name, nodes[i]["name"].as_string());
    if (!supported().count(op)) missing.insert(op);
    if (!index.emplace(name, i).second) return Status::InvalidArgument("TF.js graph model: node name '" + name + "' is used twice");
    names.push_back(name);
  }
  if (!missing.empty()) {
    std::string all;
    for (const std::string& m : missing) all += (all.empty() ? "" : ", ") + m;
    return Status::Unimplemented("TF.js graph model uses unsupported ops: " + all);
  }
  std::set<std::string> read;
  std::vector<std::vector<size_t>> readers(list->size());
  std::vector<size_t> pending(list->size(), 0);
  for (size_t i = 0; i < list->size(); ++i) {
    if (!nodes[i]["input"].ok()) continue;
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* ins, nodes[i]["input"].as_array());
    for (size_t k = 0; k < ins->size(); ++k) {
      VITRINE_ASSIGN_OR_RETURN(std::string in, nodes[i]["input"][k].as_string());
      if (!in.empty() && in[0] == '^') in = in.substr(1);
      in = in.substr(0, in.find(':'));
      auto it = index.find(in);
      if (it == index.end()) return Status::InvalidArgument("TF.js graph model: node '" + names[i] + "' reads unknown node '" + in + "'");
      read.insert(in);
      readers[it->second].push_back(i);
      ++pending[i];
    }
  }
  VITRINE_ASSIGN_OR_RETURN(auto w, read_tfjs_weights(r["weightsManifest"], weights, size));
  GraphImporter im(std::move(w), options);
  // A GraphDef need not be sorted: nodes are imported once every node they read is (Kahn's order,
  // file order among the ready ones).
  std::vector<size_t> ready;
  for (size_t i = list->size(); i-- > 0;)
    if (pending[i] == 0) ready.push_back(i);
  std::reverse(ready.begin(), ready.end());
  size_t imported = 0;
  for (size_t q = 0; q < ready.size(); ++q) {
    const size_t i = ready[q];
    VITRINE_RETURN_IF_ERROR(im.node(nodes[i]));
    ++imported;
    for (size_t reader : readers[i])
      if (--pending[reader] == 0) ready.push_back(reader);
  }
  if (imported != list->size()) return Status::InvalidArgument("TF.js graph model: the graph has a cycle");
  VITRINE_RETURN_IF_ERROR(im.finish(r, names, read));
  std::vector<Shape> input_shapes;
  for (int i : im.graph()->inputs()) input_shapes.push_back(im.graph()->value(i).shape);
  VITRINE_RETURN_IF_ERROR(im.graph()->infer_shapes(input_shapes).status());
  for (const auto& [name, dims] : options.input_shapes) {
    if (!im.graph()->find(name).ok()) return Status::InvalidArgument("input_shapes names '" + name + "', which is not an input of the model");
  }
  if (im.batch_fixed)
    for (size_t i = 0; i < im.declared.size(); ++i) im.declared[i][0] = im.import_batch[i];
  if (declared_dims) *declared_dims = im.declared;
  LoadedModel m;
  m.graph = im.graph();
  m.format = "tfjs-graph";
  return m;
}

}  // namespace vitrine
