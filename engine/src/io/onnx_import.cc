// ONNX ModelProto -> Graph. Activations of rank 4 live in NHWC inside the graph; each ONNX value
// remembers its layout, and transposes are inserted only where a layout-sensitive consumer or a
// graph output needs the ONNX (NCHW) order.
#include "vitrine/onnx_import.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <functional>
#include <map>
#include <set>

#include "../core/checked.h"
#include "../ops/typed_util.h"
#include "onnx_model.h"
#include "vitrine/limits.h"

namespace vitrine {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;

enum class Layout { kPlain, kNHWC };

// A constant known at import time (initializer, Constant node, or folded shape arithmetic).
struct Const {
  std::vector<int64_t> dims;
  bool is_int = false;
  std::vector<float> f;    // float data (when !is_int)
  std::vector<int64_t> i;  // integer data (when is_int)
  int32_t onnx_type = 0;   // the ONNX element type of integer data (0: int64)
  int64_t count() const { return is_int ? static_cast<int64_t>(i.size()) : static_cast<int64_t>(f.size()); }
};

// An activation: a graph value plus the layout its data is in.
struct Act {
  int id = -1;
  Layout layout = Layout::kPlain;
};

const int64_t kToNhwc[4] = {0, 2, 3, 1};
const int64_t kToNchw[4] = {0, 3, 1, 2};
const int64_t kAxisNchwToNhwc[4] = {0, 3, 1, 2};  // NCHW axis -> NHWC axis

class Importer {
 public:
  Importer(const onnx::ModelProto& model, const OnnxImportOptions& options, OnnxImportInfo* info)
      : model_(model), options_(options), info_(info), opset_(onnx::opset_version(model)) {}

  Result<std::shared_ptr<Graph>> run();

  // One handler per supported ONNX op (onnx_supported_ops() lists this table's keys).
  using Handler = Status (Importer::*)(const NodeProto&);
  static const std::map<std::string, Handler>& handlers();

 private:
  // --- helpers --------------------------------------------------------------------------------
  std::string fresh(const std::string& base) { return "vitrine/" + base + "/" + std::to_string(counter_++); }
  Status err(const NodeProto& n, const std::string& what) const {
    return Status::InvalidArgument("ONNX " + n.op_type + " '" + (n.name.empty() ? n.output[0] : n.name) + "': " + what);
  }
  Status unsupported(const NodeProto& n, const std::string& what) const {
    return Status::Unimplemented("ONNX " + n.op_type + " '" + (n.name.empty() ? n.output[0] : n.name) + "': " + what);
  }
  bool has_input(const NodeProto& n, size_t i) const { return i < n.input.size() && !n.input[i].empty(); }
  const Const* constant(const std::string& name) const {
    auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  int64_t attr_i(const NodeProto& n, const char* name, int64_t fallback) const {
    const AttributeProto* a = onnx::find_attribute(n, name);
    return a ? a->i : fallback;
  }
  float attr_f(const NodeProto& n, const char* name, float fallback) const {
    const AttributeProto* a = onnx::find_attribute(n, name);
    return a ? a->f : fallback;
  }
  std::vector<int64_t> attr_ints(const NodeProto& n, const char* name, std::vector<int64_t> fallback) const {
    const AttributeProto* a = onnx::find_attribute(n, name);
    return a ? a->ints : fallback;
  }
  std::string attr_s(const NodeProto& n, const char* name, const std::string& fallback) const {
    const AttributeProto* a = onnx::find_attribute(n, name);
    return a ? a->s : fallback;
  }
  // ONNX-order dims of an activation.
  std::vector<int64_t> onnx_dims(const Act& a) const {
    std::vector<int64_t> d = graph_->value(a.id).shape.to_vector();
    if (a.layout == Layout::kNHWC) return {d[0], d[3], d[1], d[2]};
    return d;
  }
  Result<Act> act(const NodeProto& n, size_t i);
  Result<int> as_layout(const NodeProto& n, size_t i, Layout want);
  Result<int> transpose(int id, const int64_t* perm, const std::string& hint);
  Result<int> float_constant(const std::string& name, const Const& c, std::vector<int64_t> dims);
  // An integer constant as a graph constant of its dtype.
  Result<int> typed_constant(const std::string& name, const Const& c);
  // Checks a float weight constant: rank `rank`, every dimension >= 1, and exactly as many values as
  // its dims describe (so indexing by dims stays inside it).
  Status check_weight(const NodeProto& n, const Const& w, size_t rank, const char* what) const;
  // Checks 2-D window attributes (kernel, strides, dilations): two values, each >= 1.
  Status check_window(const NodeProto& n, const std::vector<int64_t>& v, const char* what) const;
  Result<std::vector<int64_t>> const_ints(const NodeProto& n, size_t i);
  Result<std::vector<float>> const_floats(const NodeProto& n, size_t i);
  Status emit(const NodeProto& n, OpType type, std::vector<int> inputs, OpAttrs attrs, Layout layout);
  // Adds a node named `name`; f64 / f16 inputs of an op that computes in f32 only go through casts
  // (the op runs in f32, its float output is cast back).
  Result<int> add_wide(OpType type, const std::string& name, std::vector<int> inputs, OpAttrs attrs = {});
  // Runs one node on constant inputs and records its output as a constant; false when the output
  // is too large to keep as one (then the node is added to the graph as usual).
  Result<bool> fold(const NodeProto& n, OpType type, const std::vector<int>& inputs, const OpAttrs& attrs);
  static constexpr int64_t kMaxFoldElements = int64_t{1} << 16;
  Status set_output(const NodeProto& n, int id, Layout layout);
  Status pads_for(const NodeProto& n, const std::vector<int64_t>& in_hw, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                  std::vector<int64_t>* pads);

  // --- op handlers ------------------------------------------------------------------------------
  Status conv(const NodeProto& n);
  Status conv1d(const NodeProto& n);
  // 1-D pooling (N, C, L): run as 2-D pooling over (N, C, 1, L).
  Status pool1d(const NodeProto& n);
  Status run_1d_as_2d(const NodeProto& n, Status (Importer::*handler)(const NodeProto&),
                      const std::function<Status(NodeProto*)>& prepare);
  // Exporters at opsets below 17 spell layer norm and GELU out in elementwise nodes; these find
  // those chains (only when no intermediate value is used elsewhere) and emit the one op.
  bool fuse_layer_norm(const NodeProto& mean_node, NodeProto* ln, std::vector<const NodeProto*>* parts);
  bool fuse_gelu(const NodeProto& div_node, NodeProto* gelu, std::vector<const NodeProto*>* parts);
  const NodeProto* only_consumer(const std::string& value, const char* op_type) const;
  std::optional<float> scalar_now(const std::string& value) const;
  Status batch_norm(const NodeProto& n);
  Status unary(const NodeProto& n);
  Status hard_sigmoid(const NodeProto& n);
  Status clip(const NodeProto& n);
  Status binary(const NodeProto& n);
  Status pool(const NodeProto& n);
  Status global_pool(const NodeProto& n);
  Status gemm(const NodeProto& n);
  // Einsum of one or two operands, each label at most once per operand (no diagonals, no
  // ellipsis): sums, transposes, inner, outer and batched matrix products.
  Status einsum(const NodeProto& n);
  Status matmul(const NodeProto& n);
  Status flatten(const NodeProto& n);
  Status reshape(const NodeProto& n);
  Status squeeze(const NodeProto& n);
  Status concat(const NodeProto& n);
  Status softmax(const NodeProto& n);
  Status transpose_op(const NodeProto& n);
  void compose_transposes(int* id, std::vector<int64_t>* perm) const;
  Status alias(const NodeProto& n);
  Status cast(const NodeProto& n);
  // Element-wise ops on plain-layout inputs of any dtype (comparisons, logic, Where).
  Status elementwise_typed(const NodeProto& n);
  Status arg_reduce(const NodeProto& n);
  Status resize(const NodeProto& n);
  // Shape arithmetic folded at import: Size, ConstantOfShape, Range (constant inputs).
  Status size_op(const NodeProto& n);
  Status constant_of_shape(const NodeProto& n);
  Status range_op(const NodeProto& n);
  Status expand_op(const NodeProto& n);
  Status tile_op(const NodeProto& n);
  Status cum_sum(const NodeProto& n);
  Status hardmax(const NodeProto& n);
  Status sum_mean(const NodeProto& n);
  Status split(const NodeProto& n);
  Status depth_space(const NodeProto& n);
  Status global_max_pool(const NodeProto& n);
  Status trilu(const NodeProto& n);
  Status instance_norm(const NodeProto& n);
  Status top_k(const NodeProto& n);
  Status gather_elements(const NodeProto& n);
  Status scatter(const NodeProto& n);
  // Counts `elements` constant values made at import (8 bytes each, as int64) against the
  // max_total_bytes budget shared with the initializers, and the element limit.
  Status charge_constant(const NodeProto& n, int64_t elements) {
    VITRINE_RETURN_IF_ERROR(check_limit("ONNX " + n.op_type + " '" + n.output[0] + "'", elements, "elements",
                                        default_limits().max_tensor_elements, "max_tensor_elements"));
    const_bytes_ += elements * 8;
    return check_limit("ONNX model (constants made up to " + n.op_type + " '" + n.output[0] + "')", const_bytes_, "bytes",
                       default_limits().max_total_bytes, "max_total_bytes");
  }
  // Adds one node on plain-layout values and returns its (single) output.
  Result<int> add_plain(OpType type, const std::string& hint, std::vector<int> inputs, OpAttrs attrs = {});
  Status constant_op(const NodeProto& n);
  Status shape_op(const NodeProto& n);
  Status gather(const NodeProto& n);
  Status pad(const NodeProto& n);
  Status reduce(const NodeProto& n);
  Status slice(const NodeProto& n);
  Status rnn(const NodeProto& n);
  Status conv_transpose(const NodeProto& n);
  Status layer_norm(const NodeProto& n);
  Result<int> permute(int id, std::vector<int64_t> perm, const std::string& hint);
  Result<int> reshape_to(int id, std::vector<int64_t> dims, const std::string& hint);

  const onnx::ModelProto& model_;
  const OnnxImportOptions& options_;
  OnnxImportInfo* info_;  // may be null
  // Records that a value was computed from an activation's shape (which the graph then holds).
  void reads_shape() {
    if (info_) info_->shape_specialized = true;
  }
  int64_t opset_;
  std::shared_ptr<Graph> graph_ = std::make_shared<Graph>();
  std::map<std::string, Const> consts_;
  std::map<std::string, Act> acts_;
  std::map<std::pair<int, int>, int> transposed_;  // (value, target layout) -> transposed value
  std::map<std::string, int> uses_;                // consumers per value name
  std::map<std::string, std::vector<const NodeProto*>> consumers_;  // value name -> nodes reading it
  int64_t const_bytes_ = 0;                         // bytes of constants decoded from the file
  std::set<std::string> folded_bn_;                // BatchNormalization outputs folded into a Conv
  std::set<const NodeProto*> fused_;               // nodes folded into a fused layer norm or GELU
  std::map<std::string, const NodeProto*> producers_;  // value name -> the node computing it
  int counter_ = 0;
  std::unique_ptr<Context> fold_ctx_;
  std::map<std::string, int> const_ids_;  // ONNX constant name -> its graph constant (act())  // runs nodes whose inputs are all constants (created on first use)
};

const std::map<std::string, Importer::Handler>& Importer::handlers() {
  static const std::map<std::string, Handler> table = {
      {"Add", &Importer::binary},
      {"AveragePool", &Importer::pool},
      {"BatchNormalization", &Importer::batch_norm},
      {"Clip", &Importer::clip},
      {"Concat", &Importer::concat},
      {"Constant", &Importer::constant_op},
      {"Conv", &Importer::conv},
      {"Div", &Importer::binary},
      {"Dropout", &Importer::alias},
      {"Flatten", &Importer::flatten},
      {"Gather", &Importer::gather},
      {"Gemm", &Importer::gemm},
      {"Einsum", &Importer::einsum},
      {"GlobalAveragePool", &Importer::global_pool},
      {"HardSigmoid", &Importer::hard_sigmoid},
      {"HardSwish", &Importer::unary},
      {"Identity", &Importer::alias},
      {"LeakyRelu", &Importer::unary},
      {"MatMul", &Importer::matmul},
      {"MaxPool", &Importer::pool},
      {"Mul", &Importer::binary},
      {"Pad", &Importer::pad},
      {"ReduceMean", &Importer::reduce},
      {"ReduceSum", &Importer::reduce},
      {"ReduceMax", &Importer::reduce},
      {"ReduceMin", &Importer::reduce},
      {"ReduceSumSquare", &Importer::reduce},
      {"ReduceL2", &Importer::reduce},
      {"ReduceProd", &Importer::reduce},
      {"ReduceL1", &Importer::reduce},
      {"ReduceLogSum", &Importer::reduce},
      {"ReduceLogSumExp", &Importer::reduce},
      {"Relu", &Importer::unary},
      {"Reshape", &Importer::reshape},
      {"Shape", &Importer::shape_op},
      {"Sigmoid", &Importer::unary},
      {"Slice", &Importer::slice},
      {"Softmax", &Importer::softmax},
      {"Squeeze", &Importer::squeeze},
      {"Sub", &Importer::binary},
      {"Tanh", &Importer::unary},
      {"Transpose", &Importer::transpose_op},
      {"Unsqueeze", &Importer::squeeze},
      {"LSTM", &Importer::rnn},
      {"GRU", &Importer::rnn},
      {"ConvTranspose", &Importer::conv_transpose},
      {"LayerNormalization", &Importer::layer_norm},
      {"LogSoftmax", &Importer::softmax},
      {"Elu", &Importer::unary},
      {"Selu", &Importer::unary},
      {"Softplus", &Importer::unary},
      {"Exp", &Importer::unary},
      {"Log", &Importer::unary},
      {"Sqrt", &Importer::unary},
      {"Neg", &Importer::unary},
      {"Abs", &Importer::unary},
      {"Reciprocal", &Importer::unary},
      {"Erf", &Importer::unary},
      {"Floor", &Importer::unary},
      {"Ceil", &Importer::unary},
      {"Sin", &Importer::unary},
      {"Cos", &Importer::unary},
      {"Tan", &Importer::unary},
      {"Asin", &Importer::unary},
      {"Acos", &Importer::unary},
      {"Atan", &Importer::unary},
      {"Sinh", &Importer::unary},
      {"Cosh", &Importer::unary},
      {"Asinh", &Importer::unary},
      {"Acosh", &Importer::unary},
      {"Atanh", &Importer::unary},
      {"Sign", &Importer::unary},
      {"Round", &Importer::unary},
      {"Softsign", &Importer::unary},
      {"ThresholdedRelu", &Importer::unary},
      {"Celu", &Importer::unary},
      {"Shrink", &Importer::unary},
      {"Max", &Importer::binary},
      {"Min", &Importer::binary},
      {"Pow", &Importer::binary},
      {"PRelu", &Importer::binary},
      {"Cast", &Importer::cast},
      {"Equal", &Importer::elementwise_typed},
      {"Less", &Importer::elementwise_typed},
      {"LessOrEqual", &Importer::elementwise_typed},
      {"Greater", &Importer::elementwise_typed},
      {"GreaterOrEqual", &Importer::elementwise_typed},
      {"And", &Importer::elementwise_typed},
      {"Or", &Importer::elementwise_typed},
      {"Xor", &Importer::elementwise_typed},
      {"Not", &Importer::elementwise_typed},
      {"Where", &Importer::elementwise_typed},
      {"ArgMax", &Importer::arg_reduce},
      {"ArgMin", &Importer::arg_reduce},
      {"Resize", &Importer::resize},
      {"Upsample", &Importer::resize},
      {"Size", &Importer::size_op},
      {"ConstantOfShape", &Importer::constant_of_shape},
      {"Range", &Importer::range_op},
      {"Expand", &Importer::expand_op},
      {"Tile", &Importer::tile_op},
      {"CumSum", &Importer::cum_sum},
      {"Hardmax", &Importer::hardmax},
      {"Sum", &Importer::sum_mean},
      {"Mean", &Importer::sum_mean},
      {"Split", &Importer::split},
      {"DepthToSpace", &Importer::depth_space},
      {"SpaceToDepth", &Importer::depth_space},
      {"GlobalMaxPool", &Importer::global_max_pool},
      {"Trilu", &Importer::trilu},
      {"InstanceNormalization", &Importer::instance_norm},
      {"TopK", &Importer::top_k},
      {"GatherElements", &Importer::gather_elements},
      {"ScatterElements", &Importer::scatter},
      {"Scatter", &Importer::scatter},
      {"ScatterND", &Importer::scatter},
  };
  return table;
}

// The engine dtype of an ONNX element type, or Unimplemented naming it.
Result<DType> engine_dtype(int32_t onnx_type, const std::string& what) {
  switch (onnx_type) {
    case onnx::DataType::kFloat: return DType::kF32;
    case 0:
    case onnx::DataType::kInt64: return DType::kI64;
    case onnx::DataType::kInt32: return DType::kI32;
    case onnx::DataType::kUint8: return DType::kU8;
    case onnx::DataType::kInt8: return DType::kI8;
    case onnx::DataType::kBool: return DType::kBool;
    case onnx::DataType::kDouble: return DType::kF64;
    case onnx::DataType::kFloat16: return DType::kF16;
    case onnx::DataType::kInt16: return DType::kI16;
    case onnx::DataType::kUint16: return DType::kU16;
    case onnx::DataType::kUint32: return DType::kU32;
    case onnx::DataType::kUint64: return DType::kU64;
    default: break;
  }
  return Status::Unimplemented(what + " has element type " + onnx::data_type_name(onnx_type) +
                               " (supported: FLOAT, DOUBLE, FLOAT16, INT64, INT32, INT16, INT8, UINT64, UINT32, UINT16, UINT8, BOOL)");
}

// An integer constant as a tensor of its own dtype (values were checked to fit when decoded).
Result<Tensor> typed_tensor(const Const& c, const std::string& what) {
  Result<DType> dtype = engine_dtype(c.onnx_type, what);
  if (!dtype.ok()) return dtype.status();
  Result<Shape> shape = Shape::make(c.dims);  // a scalar stays rank 0 (Gather drops its axis)
  if (!shape.ok()) return shape.status();
  if (shape->num_elements() != static_cast<int64_t>(c.i.size())) {
    return Status::InvalidArgument(what + ": " + std::to_string(c.i.size()) + " values for shape " + shape->to_string());
  }
  Result<Tensor> t = Tensor::zeros(shape.value(), dtype.value());
  if (!t.ok()) return t.status();
  visit_dtype(dtype.value(), [&](auto tag) {
    using T = decltype(tag);
    T* d = t->mutable_data_as<T>();
    for (size_t k = 0; k < c.i.size(); ++k) d[k] = dtype.value() == DType::kBool ? T(c.i[k] != 0) : static_cast<T>(c.i[k]);
  });
  return t;
}

Result<Const> to_const(const onnx::TensorProto& t) {
  Const c;
  c.dims = t.dims;
  if (t.data_type == onnx::DataType::kFloat || t.data_type == onnx::DataType::kDouble ||
      t.data_type == onnx::DataType::kFloat16 || t.data_type == onnx::DataType::kBfloat16) {
    Result<std::vector<float>> f = onnx::tensor_floats(t);
    if (!f.ok()) return f.status();
    c.f = std::move(f).value();
  } else {
    Result<std::vector<int64_t>> i = onnx::tensor_int64s(t);
    if (!i.ok()) return i.status();
    c.i = std::move(i).value();
    c.is_int = true;
    c.onnx_type = t.data_type;
  }
  return c;
}

Result<Act> Importer::act(const NodeProto& n, size_t i) {
  if (!has_input(n, i)) return err(n, "input " + std::to_string(i) + " is missing");
  auto it = acts_.find(n.input[i]);
  if (it != acts_.end()) return it->second;
  if (const Const* c = constant(n.input[i])) {
    auto cached = const_ids_.find(n.input[i]);  // one graph constant per ONNX constant, however often read
    if (cached != const_ids_.end()) return Act{cached->second, Layout::kPlain};
    Result<int> id = c->is_int ? typed_constant(n.input[i], *c) : float_constant(n.input[i], *c, c->dims);
    if (!id.ok()) return id.status();
    const_ids_[n.input[i]] = id.value();
    return Act{id.value(), Layout::kPlain};
  }
  return err(n, "input '" + n.input[i] + "' is not produced by any earlier node");
}

Result<int> Importer::transpose(int id, const int64_t* perm, const std::string& hint) {
  const int layout_key = perm == kToNhwc ? 1 : 0;
  auto key = std::make_pair(id, layout_key);
  auto it = transposed_.find(key);
  if (it != transposed_.end()) return it->second;
  OpAttrs a;
  a.ints["perm"] = std::vector<int64_t>(perm, perm + 4);
  Result<int> t = graph_->add(OpType::kTranspose, fresh(hint), {id}, a);
  if (t.ok()) transposed_[key] = t.value();
  return t;
}

Result<int> Importer::as_layout(const NodeProto& n, size_t i, Layout want) {
  Result<Act> a = act(n, i);
  if (!a.ok()) return a.status();
  if (a->layout == want) return a->id;
  const Shape& s = graph_->value(a->id).shape;
  if (s.rank() != 4) {
    if (want == Layout::kNHWC) {
      return unsupported(n, "only 4-D (N, C, H, W) inputs are supported (2-D spatial), got rank " + std::to_string(s.rank()));
    }
    return a->id;
  }
  // (N, C, 1, 1) and (N, 1, 1, C) hold the same bytes: a reshape is enough (free in XNNPACK).
  if (s[want == Layout::kPlain ? 1 : 2] == 1 && s[want == Layout::kPlain ? 2 : 3] == 1) {
    OpAttrs r;
    r.ints["shape"] = want == Layout::kPlain ? std::vector<int64_t>{0, s[3], 1, 1} : std::vector<int64_t>{0, 1, 1, s[1]};
    return graph_->add(OpType::kReshape, fresh("relayout"), {a->id}, r);
  }
  return transpose(a->id, want == Layout::kNHWC ? kToNhwc : kToNchw, want == Layout::kNHWC ? "to_nhwc" : "to_nchw");
}

Result<int> Importer::float_constant(const std::string& name, const Const& c, std::vector<int64_t> dims) {
  if (dims.empty()) dims = {1};
  Result<Shape> shape = Shape::make(dims);
  if (!shape.ok()) return shape.status();
  Result<Tensor> t = Tensor::from_values(shape.value(), c.f.data(), c.f.size());
  if (!t.ok()) return t.status();
  return graph_->add_constant(graph_->find(name).ok() ? fresh(name) : name, t.value());
}

Result<bool> Importer::fold(const NodeProto& n, OpType type, const std::vector<int>& inputs, const OpAttrs& attrs) {
  auto mini = std::make_shared<Graph>();
  std::vector<int> ids;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Result<int> id = mini->add_constant("c" + std::to_string(i), graph_->value(inputs[i]).constant);
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
  }
  Result<std::vector<int>> out = mini->add_node(type, "fold", ids, attrs);
  if (!out.ok()) return Status(out.status().code(), "ONNX " + n.op_type + " '" + n.output[0] + "': " + out.status().message());
  if (out->size() != 1 || mini->value(out.value()[0]).shape.num_elements() > kMaxFoldElements) return false;
  VITRINE_RETURN_IF_ERROR(mini->add_output(out.value()[0]));
  if (!fold_ctx_) {
    Result<std::unique_ptr<Context>> ctx = Context::create(1, 1);
    if (!ctx.ok()) return ctx.status();
    fold_ctx_ = std::move(ctx).value();
  }
  Result<std::unique_ptr<Executor>> ex = Executor::create(mini, fold_ctx_.get());
  if (!ex.ok()) return ex.status();
  std::vector<Tensor> result;
  Status s = ex.value()->run({}, &result);
  if (!s.ok()) return Status(s.code(), "ONNX " + n.op_type + " '" + n.output[0] + "' (on constants): " + s.message());
  const Tensor& t = result[0];
  VITRINE_RETURN_IF_ERROR(charge_constant(n, t.num_elements()));
  Const c;
  c.dims = t.shape().to_vector();
  switch (t.dtype()) {
    case DType::kF32: c.f.assign(t.data(), t.data() + t.num_elements()); break;
    case DType::kF64:
    case DType::kF16: return false;  // import-time constants are f32 or integers: the node runs in the graph
    default:
      c.is_int = true;
      switch (t.dtype()) {
        case DType::kI64: c.onnx_type = onnx::DataType::kInt64; break;
        case DType::kI32: c.onnx_type = onnx::DataType::kInt32; break;
        case DType::kI16: c.onnx_type = onnx::DataType::kInt16; break;
        case DType::kI8: c.onnx_type = onnx::DataType::kInt8; break;
        case DType::kU64: c.onnx_type = onnx::DataType::kUint64; break;
        case DType::kU32: c.onnx_type = onnx::DataType::kUint32; break;
        case DType::kU16: c.onnx_type = onnx::DataType::kUint16; break;
        case DType::kU8: c.onnx_type = onnx::DataType::kUint8; break;
        default: c.onnx_type = onnx::DataType::kBool; break;
      }
      visit_dtype(t.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* v = t.data_as<T>();
        c.i.assign(v, v + t.num_elements());
      });
  }
  consts_[n.output[0]] = std::move(c);
  return true;
}

Result<int> Importer::typed_constant(const std::string& name, const Const& c) {
  Result<Tensor> t = typed_tensor(c, "constant '" + name + "'");
  if (!t.ok()) return t.status();
  return graph_->add_constant(graph_->find(name).ok() ? fresh(name) : name, t.value());
}

Result<std::vector<int64_t>> Importer::const_ints(const NodeProto& n, size_t i) {
  if (!has_input(n, i)) return err(n, "input " + std::to_string(i) + " is missing");
  const Const* c = constant(n.input[i]);
  if (!c) return unsupported(n, "input '" + n.input[i] + "' must be a constant (static graphs only)");
  if (!c->is_int) return err(n, "input '" + n.input[i] + "' must hold integers");
  return c->i;
}

Result<std::vector<float>> Importer::const_floats(const NodeProto& n, size_t i) {
  if (!has_input(n, i)) return err(n, "input " + std::to_string(i) + " is missing");
  const Const* c = constant(n.input[i]);
  if (!c) return unsupported(n, "input '" + n.input[i] + "' must be a constant");
  if (c->is_int) {
    std::vector<float> f(c->i.begin(), c->i.end());
    return f;
  }
  return c->f;
}

Status Importer::set_output(const NodeProto& n, int id, Layout layout) {
  if (n.output.empty() || n.output[0].empty()) return err(n, "has no output");
  acts_[n.output[0]] = Act{id, layout};
  return Status::Ok();
}

Status Importer::emit(const NodeProto& n, OpType type, std::vector<int> inputs, OpAttrs attrs, Layout layout) {
  if (n.output.empty() || n.output[0].empty()) return err(n, "has no output");
  // Constant folding: a node whose inputs are all small constants (shape arithmetic: Equal, Where,
  // Cast, ... on shapes) runs now, and its output becomes a constant later nodes can read.
  // Only cheap ops fold (bounded work per output element): no convolution or matrix product,
  // whose cost on even small constants could stall an import.
  static const std::set<OpType> cheap = {
      OpType::kCast, OpType::kEqual, OpType::kLess, OpType::kLessOrEqual, OpType::kGreater, OpType::kGreaterOrEqual,
      OpType::kAnd, OpType::kOr, OpType::kXor, OpType::kNot, OpType::kWhere, OpType::kGather, OpType::kAdd,
      OpType::kSub, OpType::kMul, OpType::kDiv, OpType::kMax, OpType::kMin, OpType::kPow, OpType::kReshape,
      OpType::kFlatten, OpType::kTranspose, OpType::kConcat, OpType::kSlice, OpType::kExpand, OpType::kTile,
      OpType::kIdentity, OpType::kNeg, OpType::kAbs, OpType::kSqrt, OpType::kReciprocal, OpType::kFloor,
      OpType::kCeil, OpType::kRound, OpType::kSign, OpType::kArgMax, OpType::kArgMin, OpType::kReduceSum,
      OpType::kReduceMax, OpType::kReduceMin, OpType::kReduceProd, OpType::kReduceMean, OpType::kCumSum};
  bool foldable = layout == Layout::kPlain && !inputs.empty() && cheap.count(type) != 0;
  for (int v : inputs) {
    const GraphValue& gv = graph_->value(v);
    foldable = foldable && !gv.constant.empty() && gv.constant.num_elements() <= kMaxFoldElements;
  }
  if (foldable) {
    Result<bool> folded = fold(n, type, inputs, attrs);
    if (!folded.ok()) return folded.status();
    if (folded.value()) return Status::Ok();
  }
  std::string name = graph_->find(n.output[0]).ok() ? fresh(n.output[0]) : n.output[0];
  Result<int> id = add_wide(type, name, std::move(inputs), std::move(attrs));
  if (!id.ok()) return Status(id.status().code(), "ONNX " + n.op_type + " '" + n.output[0] + "': " + id.status().message());
  return set_output(n, id.value(), layout);
}

Result<int> Importer::add_wide(OpType type, const std::string& name, std::vector<int> inputs, OpAttrs attrs) {
  // f64 or f16 values reaching an op that computes in f32 only (no typed kernel; for f16, every op
  // but Cast and the movers): cast them to f32, run the op, and cast its float output back.
  DType wide = DType::kF32;
  for (int v : inputs) {
    const DType d = graph_->value(v).dtype;
    if (d == DType::kF64 || d == DType::kF16) wide = d;
  }
  // Float constants are held in f32 (DOUBLE initializers included); next to f64 values they
  // become f64 constants, so that typed f64 kernels see one dtype.
  if (wide == DType::kF64 && op_info(type).infer_types != nullptr) {
    for (int& v : inputs) {
      const GraphValue& gv = graph_->value(v);
      if (gv.dtype != DType::kF32 || gv.constant.empty()) continue;
      VITRINE_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(gv.shape, DType::kF64));
      for (int64_t i = 0; i < gv.constant.num_elements(); ++i) t.mutable_data_as<double>()[i] = gv.constant.data()[i];
      VITRINE_ASSIGN_OR_RETURN(v, graph_->add_constant(fresh(gv.name + "_f64"), t));
    }
  }
  if (wide == DType::kF32 || (op_info(type).infer_types != nullptr && (wide == DType::kF64 || takes_f16(type)))) {
    return graph_->add(type, name, std::move(inputs), std::move(attrs));
  }
  OpAttrs to_f32;
  to_f32.strings["to"] = "f32";
  for (int& v : inputs) {
    const DType d = graph_->value(v).dtype;
    if (d != DType::kF64 && d != DType::kF16) continue;
    VITRINE_ASSIGN_OR_RETURN(v, graph_->add(OpType::kCast, fresh(name + "_f32_in"), {v}, to_f32));
  }
  VITRINE_ASSIGN_OR_RETURN(int out, graph_->add(type, fresh(name + "_f32"), std::move(inputs), std::move(attrs)));
  if (graph_->value(out).dtype != DType::kF32) return out;
  OpAttrs back;
  back.strings["to"] = dtype_name(wide);
  return graph_->add(OpType::kCast, name, {out}, back);
}

Status Importer::check_weight(const NodeProto& n, const Const& w, size_t rank, const char* what) const {
  if (w.is_int) return unsupported(n, std::string(what) + " must be a float constant");
  if (w.dims.size() != rank) {
    return unsupported(n, std::string(what) + " must have rank " + std::to_string(rank) + ", got " +
                              std::to_string(w.dims.size()));
  }
  int64_t count = 1;
  for (size_t i = 0; i < w.dims.size(); ++i) {
    if (w.dims[i] < 1) {
      return err(n, std::string(what) + " dimension " + std::to_string(i) + " is " + std::to_string(w.dims[i]) +
                        " (must be >= 1)");
    }
    if (!checked_mul(count, w.dims[i], &count)) return err(n, std::string(what) + ": element count overflows");
  }
  if (count != w.count()) {
    return err(n, std::string(what) + " hold " + std::to_string(w.count()) + " values, their dims describe " +
                      std::to_string(count));
  }
  return Status::Ok();
}

Status Importer::check_window(const NodeProto& n, const std::vector<int64_t>& v, const char* what) const {
  if (v.size() != 2) {
    return unsupported(n, std::string(what) + " must hold 2 values (2-D only), got " + std::to_string(v.size()));
  }
  if (v[0] < 1 || v[1] < 1) {
    return err(n, std::string(what) + " must be >= 1, got [" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "]");
  }
  return Status::Ok();
}

Status Importer::pads_for(const NodeProto& n, const std::vector<int64_t>& in_hw, const std::vector<int64_t>& kernel,
                          const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                          std::vector<int64_t>* pads) {
  const std::string auto_pad = attr_s(n, "auto_pad", "NOTSET");
  std::vector<int64_t> p = attr_ints(n, "pads", {0, 0, 0, 0});
  if (p.size() != 4) return unsupported(n, "only 2-D pads are supported");
  if (auto_pad == "NOTSET") {
    *pads = p;  // ONNX [top, left, bottom, right] == ours
    return Status::Ok();
  }
  if (auto_pad == "VALID") {
    *pads = {0, 0, 0, 0};
    return Status::Ok();
  }
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") return err(n, "unknown auto_pad '" + auto_pad + "'");
  VITRINE_RETURN_IF_ERROR(check_window(n, kernel, "kernel_shape"));
  VITRINE_RETURN_IF_ERROR(check_window(n, strides, "strides"));
  VITRINE_RETURN_IF_ERROR(check_window(n, dilations, "dilations"));
  if (in_hw.size() != 2) return err(n, "needs a 2-D image");
  pads->assign(4, 0);
  for (int d = 0; d < 2; ++d) {
    const int64_t out = in_hw[d] / strides[d] + (in_hw[d] % strides[d] != 0);  // ceil(in / stride)
    int64_t reach = 0, total = 0;
    if (!checked_mul(out - 1, strides[d], &total) || !checked_mul(dilations[d], kernel[d] - 1, &reach) ||
        !checked_add(total, reach, &total) || !checked_add(total, 1 - in_hw[d], &total)) {
      return err(n, "kernel_shape, strides and dilations overflow the padding arithmetic");
    }
    total = std::max<int64_t>(0, total);
    const int64_t small = total / 2, large = total - small;
    (*pads)[d] = auto_pad == "SAME_UPPER" ? small : large;
    (*pads)[d + 2] = auto_pad == "SAME_UPPER" ? large : small;
  }
  return Status::Ok();
}

// ---- handlers --------------------------------------------------------------------------------

// 1-D convolution (N, C, L) as a 2-D one over (N, C, 1, L): the node is rewritten with a kernel
// of height 1 (weights (O, I, K) -> (O, I, 1, K), windows and pads gain a leading 1 / 0) and
// handled by conv(); its NHWC (N, 1, L', O) result goes back to (N, O, L').
// Runs a 1-D node on (N, C, L) through its 2-D handler on (N, C, 1, L): window attributes gain a
// leading 1 (pads (b, e) become (0, b, 0, e)); `prepare` adjusts the rewritten node further (a
// convolution's weights); the result is reshaped back to (N, C', L').
Status Importer::run_1d_as_2d(const NodeProto& n, Status (Importer::*handler)(const NodeProto&),
                              const std::function<Status(NodeProto*)>& prepare) {
  VITRINE_ASSIGN_OR_RETURN(Act a, act(n, 0));
  const Shape xs = graph_->value(a.id).shape;
  if (xs.rank() != 3 || a.layout != Layout::kPlain) return unsupported(n, "a 1-D window needs an (N, C, L) input");
  OpAttrs in_shape;
  in_shape.ints["shape"] = {0, xs[1], 1, xs[2]};
  VITRINE_ASSIGN_OR_RETURN(int x4, graph_->add(OpType::kReshape, fresh("as_2d_in"), {a.id}, in_shape));
  NodeProto m = n;
  m.input[0] = fresh(n.input[0]);
  acts_[m.input[0]] = Act{x4, Layout::kPlain};
  m.output = {fresh(n.output[0])};
  for (onnx::AttributeProto& at : m.attribute) {
    if (at.name == "kernel_shape" || at.name == "strides" || at.name == "dilations") {
      if (at.ints.size() != 1) return err(n, at.name + " must have one value for a 1-D window");
      at.ints.insert(at.ints.begin(), 1);
    } else if (at.name == "pads") {
      if (at.ints.size() != 2) return err(n, "pads must have two values for a 1-D window");
      at.ints = {0, at.ints[0], 0, at.ints[1]};
    } else if (at.name == "output_padding" || at.name == "output_shape") {  // ConvTranspose
      if (at.ints.size() != 1) return err(n, at.name + " must have one value for a 1-D window");
      at.ints.insert(at.ints.begin(), at.name == "output_padding" ? 0 : 1);
    }
  }
  if (prepare) VITRINE_RETURN_IF_ERROR(prepare(&m));
  VITRINE_RETURN_IF_ERROR((this->*handler)(m));
  NodeProto back;
  back.op_type = n.op_type;
  back.input = {m.output[0]};
  back.output = {n.output[0]};
  VITRINE_ASSIGN_OR_RETURN(int y4, as_layout(back, 0, Layout::kPlain));  // (N, C', 1, L')
  const Shape ys = graph_->value(y4).shape;
  OpAttrs out_shape;
  out_shape.ints["shape"] = {0, ys[1], ys[3]};
  return emit(back, OpType::kReshape, {y4}, out_shape, Layout::kPlain);
}

Status Importer::conv1d(const NodeProto& n) {
  const Const* w = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  if (!w || w->is_int || w->dims.size() != 3) return unsupported(n, "a 1-D convolution needs float constant weights of rank 3");
  return run_1d_as_2d(n, &Importer::conv, [&](NodeProto* m) {
    Const w4 = *w;
    w4.dims = {w->dims[0], w->dims[1], 1, w->dims[2]};
    m->input[1] = fresh(n.input[1]);
    consts_[m->input[1]] = std::move(w4);
    return Status::Ok();
  });
}

Status Importer::pool1d(const NodeProto& n) { return run_1d_as_2d(n, &Importer::pool, nullptr); }

// The single node reading `value` (of type op_type), when `value` has exactly one use.
const NodeProto* Importer::only_consumer(const std::string& value, const char* op_type) const {
  auto u = uses_.find(value);
  auto c = consumers_.find(value);
  if (u == uses_.end() || u->second != 1 || c == consumers_.end() || c->second.size() != 1) return nullptr;
  return c->second[0]->op_type == op_type && c->second[0]->domain.empty() ? c->second[0] : nullptr;
}

// A one-element float constant: an initializer, an imported constant, or a Constant node not yet
// imported (fusion looks ahead of the import order).
std::optional<float> Importer::scalar_now(const std::string& value) const {
  if (const Const* c = constant(value)) {
    if (c->count() != 1) return std::nullopt;
    return c->is_int ? static_cast<float>(c->i[0]) : c->f[0];
  }
  auto p = producers_.find(value);
  if (p == producers_.end() || p->second->op_type != "Constant" || p->second->attribute.empty()) return std::nullopt;
  const AttributeProto& a = p->second->attribute[0];
  if (a.name == "value_float") return a.f;
  if (a.name != "value") return std::nullopt;
  Result<Const> c = to_const(a.t);
  if (!c.ok() || c->count() != 1) return std::nullopt;
  return c->is_int ? static_cast<float>(c->i[0]) : c->f[0];
}

// mean = ReduceMean(x, last axis); d = x - mean; v = ReduceMean(d ^ 2, last axis);
// y = d / sqrt(v + eps) [* gamma] [+ beta]   ->   LayerNormalization(x, gamma, beta, eps)
bool Importer::fuse_layer_norm(const NodeProto& n, NodeProto* ln, std::vector<const NodeProto*>* parts) {
  if (opset_ >= 18 || n.input.size() != 1 || attr_i(n, "keepdims", 1) != 1) return false;
  auto a = acts_.find(n.input[0]);
  if (a == acts_.end() || a->second.layout != Layout::kPlain) return false;
  const int rank = graph_->value(a->second.id).shape.rank();
  const std::vector<int64_t> axes = attr_ints(n, "axes", {});
  auto last_axis = [&](const std::vector<int64_t>& v) { return v.size() == 1 && (v[0] == -1 || v[0] == rank - 1); };
  if (!last_axis(axes)) return false;
  const std::string& x = n.input[0];
  const NodeProto* sub = only_consumer(n.output[0], "Sub");
  if (!sub || sub->input.size() != 2 || sub->input[0] != x || sub->input[1] != n.output[0]) return false;
  const std::string& d = sub->output[0];
  auto dc = consumers_.find(d);
  if (uses_[d] != 2 || dc == consumers_.end() || dc->second.size() != 2) return false;
  const NodeProto *pow = nullptr, *div = nullptr;
  for (const NodeProto* c : dc->second) {
    if (c->op_type == "Pow" && c->input.size() == 2 && c->input[0] == d) pow = c;
    if (c->op_type == "Div" && c->input.size() == 2 && c->input[0] == d) div = c;
  }
  if (!pow || !div || scalar_now(pow->input[1]) != 2.0f) return false;
  const NodeProto* var = only_consumer(pow->output[0], "ReduceMean");
  if (!var || var->input.size() != 1 || !last_axis(attr_ints(*var, "axes", {})) || attr_i(*var, "keepdims", 1) != 1) return false;
  const NodeProto* add = only_consumer(var->output[0], "Add");
  if (!add || add->input.size() != 2) return false;
  const std::optional<float> eps = scalar_now(add->input[0] == var->output[0] ? add->input[1] : add->input[0]);
  if (!eps || !(*eps > 0)) return false;
  const NodeProto* sqrt = only_consumer(add->output[0], "Sqrt");
  if (!sqrt || only_consumer(sqrt->output[0], "Div") != div || div->input[1] != sqrt->output[0]) return false;
  *parts = {sub, pow, var, add, sqrt, div};
  std::string out = div->output[0], gamma, beta;
  auto vector_const = [&](const std::string& name) {
    const Const* c = constant(name);
    return c && !c->is_int && c->dims.size() == 1;
  };
  if (const NodeProto* mul = only_consumer(out, "Mul"); mul && mul->input.size() == 2) {
    const std::string& other = mul->input[0] == out ? mul->input[1] : mul->input[0];
    if (vector_const(other)) {
      gamma = other;
      out = mul->output[0];
      parts->push_back(mul);
    }
  }
  if (const NodeProto* plus = only_consumer(out, "Add"); plus && plus->input.size() == 2) {
    const std::string& other = plus->input[0] == out ? plus->input[1] : plus->input[0];
    if (vector_const(other)) {
      beta = other;
      out = plus->output[0];
      parts->push_back(plus);
    }
  }
  ln->op_type = "LayerNormalization";
  ln->name = n.name.empty() ? out : n.name;
  ln->input = {x, gamma, beta};
  ln->output = {out};
  AttributeProto e;
  e.name = "epsilon";
  e.type = onnx::AttributeType::kFloat;
  e.f = *eps;
  AttributeProto ax;
  ax.name = "axis";
  ax.type = onnx::AttributeType::kInt;
  ax.i = -1;
  ln->attribute = {e, ax};
  return true;
}

// x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5 (in either order of the products)   ->   Gelu(x)
bool Importer::fuse_gelu(const NodeProto& n, NodeProto* gelu, std::vector<const NodeProto*>* parts) {
  if (n.input.size() != 2 || !acts_.count(n.input[0])) return false;
  const std::optional<float> root2 = scalar_now(n.input[1]);
  if (!root2 || std::fabs(*root2 - 1.41421356f) > 1e-4f) return false;
  const std::string& x = n.input[0];
  const NodeProto* erf = only_consumer(n.output[0], "Erf");
  if (!erf) return false;
  const NodeProto* add = only_consumer(erf->output[0], "Add");
  if (!add || add->input.size() != 2 || scalar_now(add->input[0] == erf->output[0] ? add->input[1] : add->input[0]) != 1.0f) return false;
  const NodeProto* m1 = only_consumer(add->output[0], "Mul");
  if (!m1 || m1->input.size() != 2) return false;
  const std::string& o1 = m1->input[0] == add->output[0] ? m1->input[1] : m1->input[0];
  const NodeProto* m2 = only_consumer(m1->output[0], "Mul");
  if (!m2 || m2->input.size() != 2) return false;
  const std::string& o2 = m2->input[0] == m1->output[0] ? m2->input[1] : m2->input[0];
  // One product is by x, the other by 0.5: (1 + erf) * x * 0.5 or (1 + erf) * 0.5 * x.
  const bool x_then_half = o1 == x && scalar_now(o2) == 0.5f, half_then_x = o2 == x && scalar_now(o1) == 0.5f;
  if (!x_then_half && !half_then_x) return false;
  *parts = {erf, add, m1, m2};
  gelu->op_type = "Gelu";
  gelu->name = n.name.empty() ? m2->output[0] : n.name;
  gelu->input = {x};
  gelu->output = {m2->output[0]};
  return true;
}

Status Importer::conv(const NodeProto& n) {
  if (Result<Act> a = act(n, 0); a.ok() && graph_->value(a->id).shape.rank() == 3) return conv1d(n);
  Result<int> x = as_layout(n, 0, Layout::kNHWC);
  if (!x.ok()) return x.status();
  const Const* w = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  if (!w || w->is_int) return unsupported(n, "weights must be a float constant");
  if (w->dims.size() != 4) return unsupported(n, "only 2-D convolution is supported (weights of rank 4)");
  VITRINE_RETURN_IF_ERROR(check_weight(n, *w, 4, "weights"));
  const int64_t o = w->dims[0], ci = w->dims[1], kh = w->dims[2], kw = w->dims[3];
  std::vector<float> bias(static_cast<size_t>(o), 0.0f);
  bool has_bias = has_input(n, 2);
  if (has_bias) {
    Result<std::vector<float>> b = const_floats(n, 2);
    if (!b.ok()) return b.status();
    if (b->size() != static_cast<size_t>(o)) return err(n, "bias must have " + std::to_string(o) + " values");
    bias = b.value();
  }
  // (O, I, KH, KW) -> (O, KH, KW, I), folding a following BatchNormalization if there is one.
  std::vector<float> scale(static_cast<size_t>(o), 1.0f);
  // Only the value's consumers are candidates (a scan of every node here made import quadratic).
  static const std::vector<const NodeProto*> kNoConsumers;
  auto consumers_it = consumers_.find(n.output[0]);
  const std::vector<const NodeProto*>& consumers =
      consumers_it == consumers_.end() ? kNoConsumers : consumers_it->second;
  auto bn_it = std::find_if(consumers.begin(), consumers.end(), [&](const NodeProto* mp) {
    const NodeProto& m = *mp;
    return m.op_type == "BatchNormalization" && !m.input.empty() && m.input[0] == n.output[0] &&
           uses_[n.output[0]] == 1 && m.input.size() >= 5 && constant(m.input[1]) && constant(m.input[2]) &&
           constant(m.input[3]) && constant(m.input[4]) && m.output.size() >= 1 && attr_i(m, "training_mode", 0) == 0 &&
           (m.output.size() == 1 || std::all_of(m.output.begin() + 1, m.output.end(), [](const std::string& o) { return o.empty(); }));
  });
  const NodeProto* bn = bn_it == consumers.end() ? nullptr : *bn_it;
  if (bn) {
    const float eps = attr_f(*bn, "epsilon", 1e-5f);
    std::vector<float> g = const_floats(*bn, 1).value(), beta = const_floats(*bn, 2).value(),
                       mean = const_floats(*bn, 3).value(), var = const_floats(*bn, 4).value();
    if (g.size() != static_cast<size_t>(o) || beta.size() != g.size() || mean.size() != g.size() || var.size() != g.size()) {
      return err(*bn, "parameters must have " + std::to_string(o) + " values");
    }
    for (int64_t c = 0; c < o; ++c) {
      scale[c] = g[c] / std::sqrt(var[c] + eps);
      bias[c] = (bias[c] - mean[c]) * scale[c] + beta[c];
    }
    has_bias = true;
    folded_bn_.insert(bn->output[0]);
  }
  Result<Shape> wshape = Shape::make({o, kh, kw, ci});
  if (!wshape.ok()) return err(n, "weights: " + wshape.status().message());
  Result<Tensor> wt = Tensor::zeros(wshape.value());
  if (!wt.ok()) return wt.status();
  float* dst = wt->mutable_data();
  for (int64_t a = 0; a < o; ++a)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t z = 0; z < kw; ++z)
          dst[((a * kh + y) * kw + z) * ci + i] = w->f[static_cast<size_t>(((a * ci + i) * kh + y) * kw + z)] * scale[a];
  Result<int> wid = graph_->add_constant(fresh(n.input[1]), wt.value());
  if (!wid.ok()) return wid.status();
  std::vector<int> inputs = {x.value(), wid.value()};
  if (has_bias) {
    Result<Tensor> bt = Tensor::from_values(Shape{o}, bias.data(), bias.size());
    if (!bt.ok()) return bt.status();
    Result<int> bid = graph_->add_constant(fresh("bias"), bt.value());
    if (!bid.ok()) return bid.status();
    inputs.push_back(bid.value());
  }
  const std::vector<int64_t> strides = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
  const std::vector<int64_t> ks = attr_ints(n, "kernel_shape", {kh, kw});
  if (strides.size() != 2 || dil.size() != 2 || ks != std::vector<int64_t>{kh, kw}) {
    return err(n, "strides/dilations/kernel_shape do not describe a 2-D convolution with these weights");
  }
  VITRINE_RETURN_IF_ERROR(check_window(n, strides, "strides"));
  VITRINE_RETURN_IF_ERROR(check_window(n, dil, "dilations"));
  const Shape& xs = graph_->value(x.value()).shape;
  OpAttrs a;
  a.ints["strides"] = strides;
  a.ints["dilations"] = dil;
  std::vector<int64_t> pads;
  VITRINE_RETURN_IF_ERROR(pads_for(n, {xs[1], xs[2]}, {kh, kw}, strides, dil, &pads));
  a.ints["pads"] = pads;
  a.numbers["groups"] = static_cast<double>(attr_i(n, "group", 1));
  VITRINE_RETURN_IF_ERROR(emit(n, OpType::kConv2D, inputs, a, Layout::kNHWC));
  if (bn) acts_[bn->output[0]] = acts_[n.output[0]];
  return Status::Ok();
}

Status Importer::batch_norm(const NodeProto& n) {
  if (folded_bn_.count(n.output[0])) return Status::Ok();
  if (attr_i(n, "training_mode", 0) != 0) return unsupported(n, "training_mode = 1 (normalising by batch statistics)");
  if (opset_ < 7 && attr_i(n, "spatial", 1) == 0) return unsupported(n, "spatial = 0 (opset 6: statistics per element)");
  for (size_t i = 1; i < n.output.size(); ++i)
    if (!n.output[i].empty()) return unsupported(n, "the running mean / variance outputs (training mode)");
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const int rank = graph_->value(a->id).shape.rank();
  Layout layout = rank == 4 ? Layout::kNHWC : Layout::kPlain;
  if (rank != 4 && rank != 2) return unsupported(n, "only (N, C) and (N, C, H, W) inputs are supported");
  Result<int> x = as_layout(n, 0, layout);
  if (!x.ok()) return x.status();
  std::vector<int> inputs = {x.value()};
  for (size_t i = 1; i < 5; ++i) {
    Result<std::vector<float>> v = const_floats(n, i);
    if (!v.ok()) return v.status();
    Const c;
    c.f = v.value();
    Result<int> id = float_constant(n.input[i], c, {static_cast<int64_t>(c.f.size())});
    if (!id.ok()) return id.status();
    inputs.push_back(id.value());
  }
  OpAttrs attrs;
  attrs.numbers["epsilon"] = attr_f(n, "epsilon", 1e-5f);
  return emit(n, OpType::kBatchNorm, inputs, attrs, layout);
}

Status Importer::unary(const NodeProto& n) {
  if (const Const* c = constant(n.input[0]); c && c->is_int && (n.op_type == "Neg" || n.op_type == "Abs")) {
    Const out = *c;  // integer shape arithmetic, folded
    for (int64_t& v : out.i) {
      if (v == INT64_MIN) return err(n, "negating INT64_MIN overflows");
      v = n.op_type == "Neg" ? -v : (v < 0 ? -v : v);
    }
    consts_[n.output[0]] = std::move(out);
    return Status::Ok();
  }
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  static const std::map<std::string, OpType> types = {
      {"Relu", OpType::kRelu}, {"Sigmoid", OpType::kSigmoid}, {"Tanh", OpType::kTanh}, {"HardSwish", OpType::kHardSwish},
      {"LeakyRelu", OpType::kLeakyRelu}, {"Elu", OpType::kElu}, {"Selu", OpType::kSelu}, {"Softplus", OpType::kSoftplus},
      {"Exp", OpType::kExp}, {"Log", OpType::kLog}, {"Sqrt", OpType::kSqrt}, {"Neg", OpType::kNeg}, {"Abs", OpType::kAbs},
      {"Reciprocal", OpType::kReciprocal}, {"Erf", OpType::kErf}, {"Floor", OpType::kFloor}, {"Ceil", OpType::kCeil},
      {"Sin", OpType::kSin}, {"Cos", OpType::kCos}, {"Gelu", OpType::kGelu}, {"Tan", OpType::kTan},
      {"Asin", OpType::kAsin}, {"Acos", OpType::kAcos}, {"Atan", OpType::kAtan}, {"Sinh", OpType::kSinh},
      {"Cosh", OpType::kCosh}, {"Asinh", OpType::kAsinh}, {"Acosh", OpType::kAcosh}, {"Atanh", OpType::kAtanh},
      {"Sign", OpType::kSign}, {"Round", OpType::kRound}, {"Softsign", OpType::kSoftsign},
      {"ThresholdedRelu", OpType::kThresholdedRelu}, {"Celu", OpType::kCelu}, {"Shrink", OpType::kShrink}};
  const OpType type = types.at(n.op_type);
  OpAttrs attrs;
  if (type == OpType::kLeakyRelu) attrs.numbers["alpha"] = attr_f(n, "alpha", 0.01f);
  // Gelu: only the fused form (fuse_gelu) reaches here; ONNX's own Gelu is opset 20.
  if (type == OpType::kElu || type == OpType::kThresholdedRelu || type == OpType::kCelu) {
    attrs.numbers["alpha"] = attr_f(n, "alpha", 1.0f);
  }
  if (type == OpType::kShrink) {
    attrs.numbers["lambd"] = attr_f(n, "lambd", 0.5f);
    attrs.numbers["bias"] = attr_f(n, "bias", 0.0f);
  }
  if (type == OpType::kSelu) {  // ONNX's defaults, as float32
    attrs.numbers["alpha"] = attr_f(n, "alpha", 1.67326319217681884765625f);
    attrs.numbers["gamma"] = attr_f(n, "gamma", 1.05070102214813232421875f);
  }
  return emit(n, type, {a->id}, attrs, a->layout);
}

Status Importer::hard_sigmoid(const NodeProto& n) {
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  OpAttrs attrs;
  attrs.numbers["alpha"] = attr_f(n, "alpha", 0.2f);
  attrs.numbers["beta"] = attr_f(n, "beta", 0.5f);
  return emit(n, OpType::kHardSigmoid, {a->id}, attrs, a->layout);
}

Status Importer::clip(const NodeProto& n) {
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const DType dtype = graph_->value(a->id).dtype;
  if (opset_ >= 11 && dtype != DType::kF32 && dtype != DType::kF64 && dtype != DType::kF16) {
    // Integers: max(x, min) then min(., max) with bounds of x's dtype (absent bounds clip nothing).
    int x = a->id;
    for (size_t i : {size_t{1}, size_t{2}}) {
      if (!has_input(n, i)) continue;
      int bound = -1;
      if (const Const* c = constant(n.input[i])) {
        if (c->count() != 1) return err(n, i == 1 ? "min must be a scalar" : "max must be a scalar");
        const double v = c->is_int ? static_cast<double>(c->i[0]) : c->f[0];
        VITRINE_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(Shape{1}, dtype));
        visit_dtype(dtype, [&](auto tag) { t.mutable_data_as<decltype(tag)>()[0] = static_cast<decltype(tag)>(v); });
        VITRINE_ASSIGN_OR_RETURN(bound, graph_->add_constant(fresh(n.input[i]), t));
      } else {
        VITRINE_ASSIGN_OR_RETURN(bound, as_layout(n, i, Layout::kPlain));
      }
      VITRINE_ASSIGN_OR_RETURN(x, graph_->add(i == 1 ? OpType::kMax : OpType::kMin, fresh(n.output[0]), {x, bound}, {}));
    }
    if (x == a->id) return alias(n);
    return set_output(n, x, a->layout);
  }
  OpAttrs attrs;
  double lo = -INFINITY, hi = INFINITY;
  if (opset_ < 11) {
    lo = attr_f(n, "min", -INFINITY);
    hi = attr_f(n, "max", INFINITY);
  } else {
    // Bounds computed by the graph (a log-mel floor at max - 80 dB): max(x, min), then min(., max).
    const bool dynamic_lo = has_input(n, 1) && !constant(n.input[1]), dynamic_hi = has_input(n, 2) && !constant(n.input[2]);
    if (dynamic_lo || dynamic_hi) {
      VITRINE_ASSIGN_OR_RETURN(int x, as_layout(n, 0, Layout::kPlain));
      for (size_t i : {size_t{1}, size_t{2}}) {
        if (!has_input(n, i)) continue;
        VITRINE_ASSIGN_OR_RETURN(int bound, constant(n.input[i]) ? float_constant(fresh(n.input[i]), *constant(n.input[i]), {1})
                                                                 : as_layout(n, i, Layout::kPlain));
        if (graph_->value(bound).shape.num_elements() != 1) return err(n, i == 1 ? "min must be a scalar" : "max must be a scalar");
        VITRINE_ASSIGN_OR_RETURN(x, graph_->add(i == 1 ? OpType::kMax : OpType::kMin, fresh(n.output[0]), {x, bound}, {}));
      }
      return set_output(n, x, Layout::kPlain);
    }
    if (has_input(n, 1)) {
      Result<std::vector<float>> v = const_floats(n, 1);
      if (!v.ok()) return v.status();
      if (v->size() != 1) return err(n, "min must be a scalar");
      lo = v.value()[0];
    }
    if (has_input(n, 2)) {
      Result<std::vector<float>> v = const_floats(n, 2);
      if (!v.ok()) return v.status();
      if (v->size() != 1) return err(n, "max must be a scalar");
      hi = v.value()[0];
    }
  }
  if (std::isfinite(lo)) attrs.numbers["min"] = lo;
  if (std::isfinite(hi)) attrs.numbers["max"] = hi;
  return emit(n, lo == 0.0 && !std::isfinite(hi) ? OpType::kRelu : OpType::kClip, {a->id},
              lo == 0.0 && !std::isfinite(hi) ? OpAttrs{} : attrs, a->layout);
}

Status Importer::binary(const NodeProto& n) {
  static const std::map<std::string, OpType> types = {
      {"Add", OpType::kAdd}, {"Sub", OpType::kSub}, {"Mul", OpType::kMul}, {"Div", OpType::kDiv},
      {"Max", OpType::kMax}, {"Min", OpType::kMin}, {"Pow", OpType::kPow}, {"PRelu", OpType::kPRelu}};
  const OpType type = types.at(n.op_type);
  if ((type == OpType::kMax || type == OpType::kMin) && n.input.size() == 1) return alias(n);  // max of one tensor
  if ((type == OpType::kMax || type == OpType::kMin) && n.input.size() > 2) {  // a chain of pairs
    Result<int> acc = as_layout(n, 0, Layout::kPlain);
    if (!acc.ok()) return acc.status();
    for (size_t i = 1; i < n.input.size(); ++i) {
      Result<int> x = as_layout(n, i, Layout::kPlain);
      if (!x.ok()) return x.status();
      if (i + 1 == n.input.size()) return emit(n, type, {acc.value(), x.value()}, {}, Layout::kPlain);
      acc = add_plain(type, n.op_type, {acc.value(), x.value()});
      if (!acc.ok()) return acc.status();
    }
  }
  if (n.input.size() != 2) return err(n, "takes two inputs");
  // Opset 6 broadcast only with broadcast = 1, aligned at `axis`: numpy's rule when axis is absent.
  if (opset_ < 7 && attr_i(n, "broadcast", 0) != 0 && attr_i(n, "axis", INT64_MIN) != INT64_MIN) {
    return unsupported(n, "opset 6 broadcasting aligned at an axis");
  }
  const bool arithmetic = type == OpType::kAdd || type == OpType::kSub || type == OpType::kMul || type == OpType::kDiv;
  const Const* ca = constant(n.input[0]);
  const Const* cb = constant(n.input[1]);
  auto is_i64 = [](const Const* c) { return c->is_int && (c->onnx_type == 0 || c->onnx_type == onnx::DataType::kInt64); };
  // Shape arithmetic on int64 constants of one shape, checked for overflow (other constants fold
  // through the kernel in emit()).
  if (arithmetic && ca && cb && is_i64(ca) && is_i64(cb) && ca->dims == cb->dims && ca->i.size() == cb->i.size()) {
    Const c{ca->dims, true, {}, {}};
    for (size_t k = 0; k < ca->i.size(); ++k) {
      const int64_t x = ca->i[k], y = cb->i[k];
      int64_t r = 0;
      bool fits = true;
      if (type == OpType::kDiv) {
        if (y == 0) return err(n, "division by zero in a constant (element " + std::to_string(k) + ")");
        fits = !(x == INT64_MIN && y == -1);  // the quotient overflows int64 (and traps)
        if (fits) r = x / y;
      } else {
        fits = type == OpType::kAdd ? checked_add(x, y, &r) : type == OpType::kSub ? checked_sub(x, y, &r)
                                                                                : checked_mul(x, y, &r);
      }
      if (!fits) {
        return err(n, "constant " + n.op_type + " of " + std::to_string(x) + " and " + std::to_string(y) +
                          " overflows int64 (element " + std::to_string(k) + ")");
      }
      c.i.push_back(r);
    }
    consts_[n.output[0]] = c;
    return Status::Ok();
  }
  // Layout: NHWC if either side is an NHWC activation; constants and plain 4-D tensors follow it.
  bool nhwc = false;
  for (size_t i = 0; i < 2; ++i) {
    auto it = acts_.find(n.input[i]);
    if (it != acts_.end() && it->second.layout == Layout::kNHWC) nhwc = true;
  }
  std::vector<int> ids;
  for (size_t i = 0; i < 2; ++i) {
    const Const* c = constant(n.input[i]);
    if (c && nhwc) {
      if (c->is_int) return err(n, "integer constant in float arithmetic");
      std::vector<int64_t> d = c->dims;
      if (d.size() > 4) return err(n, "constant of rank > 4");
      while (d.size() < 4) d.insert(d.begin(), 1);
      Result<Tensor> t = Tensor::zeros(Shape{d[0], d[2], d[3], d[1]});
      if (!t.ok()) return t.status();
      float* dst = t->mutable_data();
      // A constant with no elements may still have huge dimensions ((2^40, 0, 1, 1)): the loops
      // below would spin through the outer ones doing nothing, for hours (found by fuzzing).
      if (c->f.empty()) d.assign(4, 0);
      for (int64_t a = 0; a < d[0]; ++a)
        for (int64_t ch = 0; ch < d[1]; ++ch)
          for (int64_t y = 0; y < d[2]; ++y)
            for (int64_t z = 0; z < d[3]; ++z)
              dst[((a * d[2] + y) * d[3] + z) * d[1] + ch] = c->f[static_cast<size_t>(((a * d[1] + ch) * d[2] + y) * d[3] + z)];
      Result<int> id = graph_->add_constant(fresh(n.input[i]), t.value());
      if (!id.ok()) return id.status();
      ids.push_back(id.value());
    } else {
      Result<int> id = as_layout(n, i, nhwc ? Layout::kNHWC : Layout::kPlain);
      if (!id.ok()) return id.status();
      ids.push_back(id.value());
    }
  }
  return emit(n, type, ids, {}, nhwc ? Layout::kNHWC : Layout::kPlain);
}

Status Importer::pool(const NodeProto& n) {
  const bool is_max = n.op_type == "MaxPool";
  if (n.output.size() > 1 && !n.output[1].empty()) return unsupported(n, "the Indices output is not supported");
  const std::vector<int64_t> k = attr_ints(n, "kernel_shape", {});
  if (k.size() == 1) return pool1d(n);
  if (k.size() != 2) {
    return unsupported(n, "only 1-D and 2-D pooling are supported, got a " + std::to_string(k.size()) + "-D kernel_shape");
  }
  Result<int> x = as_layout(n, 0, Layout::kNHWC);
  if (!x.ok()) return x.status();
  const std::vector<int64_t> strides = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
  VITRINE_RETURN_IF_ERROR(check_window(n, k, "kernel_shape"));
  VITRINE_RETURN_IF_ERROR(check_window(n, strides, "strides"));
  VITRINE_RETURN_IF_ERROR(check_window(n, dil, "dilations"));
  const Shape& xs = graph_->value(x.value()).shape;
  std::vector<int64_t> pads;
  VITRINE_RETURN_IF_ERROR(pads_for(n, {xs[1], xs[2]}, k, strides, dil, &pads));
  OpAttrs a;
  a.ints["kernel"] = k;
  a.ints["strides"] = strides;
  const int64_t ceil_mode = attr_i(n, "ceil_mode", 0);
  int input = x.value();
  const bool any_pad = pads[0] || pads[1] || pads[2] || pads[3];
  if (is_max) {
    a.ints["pads"] = pads;
    a.ints["dilations"] = dil;
    if (ceil_mode) a.numbers["ceil_mode"] = 1;
  } else {
    if (dil != std::vector<int64_t>{1, 1}) return unsupported(n, "dilated average pooling");
    if (ceil_mode) {
      // Rounding the output size up = more padding at the end; padding is not counted by the
      // average (count_include_pad = 0), and a window may not start in the end padding.
      if (attr_i(n, "count_include_pad", 0) && any_pad) return unsupported(n, "ceil_mode with count_include_pad = 1");
      for (int d = 0; d < 2; ++d) {
        const int64_t in = xs[1 + d], begin = pads[d], end = pads[d + 2];
        const int64_t span = in + begin + end - k[d];
        if (span < 0) continue;
        int64_t out = (span + strides[d] - 1) / strides[d] + 1;
        if ((out - 1) * strides[d] >= in + begin) --out;
        pads[d + 2] = std::max<int64_t>(end, (out - 1) * strides[d] + k[d] - in - begin);
      }
    }
    if (attr_i(n, "count_include_pad", 0) && any_pad) {
      OpAttrs p;  // padding counted as zeros: pad explicitly, then pool without padding
      p.ints["pads"] = {0, pads[0], pads[1], 0, 0, pads[2], pads[3], 0};
      Result<int> padded = graph_->add(OpType::kPad, fresh("pad"), {input}, p);
      if (!padded.ok()) return padded.status();
      input = padded.value();
    } else {
      a.ints["pads"] = pads;
    }
  }
  return emit(n, is_max ? OpType::kMaxPool2D : OpType::kAvgPool2D, {input}, a, Layout::kNHWC);
}

Status Importer::global_pool(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kNHWC);
  if (!x.ok()) return x.status();
  return emit(n, OpType::kGlobalAvgPool2D, {x.value()}, {}, Layout::kNHWC);
}

Status Importer::einsum(const NodeProto& n) {
  std::string eq;
  for (char c : attr_s(n, "equation", "")) if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t at = 0;;) {
    const size_t comma = lhs.find(',', at);
    terms.push_back(lhs.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  if (terms.size() != n.input.size() || terms.size() > 2) return unsupported(n, "'" + eq + "': one or two operands, one term each");
  std::string out;
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
  } else {  // implicit output: the labels used once, in alphabetical order
    std::map<char, int> uses;
    for (const std::string& t : terms) for (char c : t) uses[c]++;
    for (const auto& [c, k] : uses) if (k == 1) out += c;
  }
  auto letters_only = [](const std::string& t) {
    std::set<char> seen;
    for (char c : t) if (!std::isalpha(static_cast<unsigned char>(c)) || !seen.insert(c).second) return false;
    return true;
  };
  for (const std::string& t : terms) if (!letters_only(t)) return unsupported(n, "'" + eq + "': repeated labels (diagonals) or ellipsis");
  if (!letters_only(out)) return unsupported(n, "'" + eq + "': output labels");
  std::vector<int> ids;
  std::map<char, int64_t> size;
  for (size_t i = 0; i < terms.size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(int id, as_layout(n, i, Layout::kPlain));
    const Shape& s = graph_->value(id).shape;
    if (s.rank() != static_cast<int>(terms[i].size())) return err(n, "operand " + std::to_string(i) + " has rank " + std::to_string(s.rank()) + ", its term '" + terms[i] + "' " + std::to_string(terms[i].size()));
    for (size_t d = 0; d < terms[i].size(); ++d) {
      auto [it, fresh_label] = size.emplace(terms[i][d], s[static_cast<int>(d)]);
      if (!fresh_label && it->second != s[static_cast<int>(d)]) return err(n, std::string("label '") + terms[i][d] + "' has two sizes");
    }
    ids.push_back(id);
  }
  for (char c : out) if (!size.count(c)) return err(n, std::string("output label '") + c + "' is in no operand");
  // Sums a term's labels that appear nowhere else; returns the remaining term.
  auto sum_away = [&](int& id, std::string term, const std::string& keep) -> Result<std::string> {
    std::vector<int64_t> axes;
    std::string left;
    for (size_t d = 0; d < term.size(); ++d) {
      if (keep.find(term[d]) == std::string::npos) axes.push_back(static_cast<int64_t>(d));
      else left += term[d];
    }
    if (axes.empty()) return term;
    OpAttrs a;
    a.ints["axes"] = axes;
    a.numbers["keepdims"] = 0;
    VITRINE_ASSIGN_OR_RETURN(id, add_wide(OpType::kReduceSum, fresh(n.output[0] + "_sum"), {id}, a));
    return left;
  };
  auto permute_to = [&](int id, const std::string& from, const std::string& to) -> Result<int> {
    if (from == to) return id;
    std::vector<int64_t> perm;
    for (char c : to) perm.push_back(static_cast<int64_t>(from.find(c)));
    return permute(id, perm, "einsum_t");
  };
  auto product = [&](const std::string& labels) {
    int64_t p = 1;
    for (char c : labels) p *= size[c];
    return p;
  };
  std::string term;
  int result = -1;
  if (terms.size() == 1) {
    VITRINE_ASSIGN_OR_RETURN(term, sum_away(ids[0], terms[0], out));
    result = ids[0];
  } else {
    VITRINE_ASSIGN_OR_RETURN(std::string a, sum_away(ids[0], terms[0], terms[1] + out));
    VITRINE_ASSIGN_OR_RETURN(std::string b, sum_away(ids[1], terms[1], a + out));
    std::string batch, contract, m, k_out;
    for (char c : a) {
      const bool in_b = b.find(c) != std::string::npos, in_out = out.find(c) != std::string::npos;
      (in_b ? (in_out ? batch : contract) : m) += c;
    }
    for (char c : b) if (a.find(c) == std::string::npos) k_out += c;
    // (batch, M, K) · (batch, K, N) -> (batch, M, N)
    VITRINE_ASSIGN_OR_RETURN(int at, permute_to(ids[0], a, batch + m + contract));
    VITRINE_ASSIGN_OR_RETURN(int bt, permute_to(ids[1], b, batch + contract + k_out));
    VITRINE_ASSIGN_OR_RETURN(at, reshape_to(at, {product(batch), product(m), product(contract)}, "einsum_a"));
    VITRINE_ASSIGN_OR_RETURN(bt, reshape_to(bt, {product(batch), product(contract), product(k_out)}, "einsum_b"));
    VITRINE_ASSIGN_OR_RETURN(result, add_wide(OpType::kMatMul, fresh(n.output[0] + "_matmul"), {at, bt}));
    term = batch + m + k_out;
    std::vector<int64_t> dims;
    for (char c : term) dims.push_back(size[c]);
    VITRINE_ASSIGN_OR_RETURN(result, reshape_to(result, dims.empty() ? std::vector<int64_t>{1} : dims, "einsum_y"));
  }
  if (term.size() != out.size()) return err(n, "'" + eq + "': output labels");
  VITRINE_ASSIGN_OR_RETURN(result, permute_to(result, term, out));
  if (out.empty()) {  // a scalar
    OpAttrs scalar;
    scalar.ints["shape"] = {};
    return emit(n, OpType::kReshape, {result}, scalar, Layout::kPlain);
  }
  return emit(n, OpType::kIdentity, {result}, {}, Layout::kPlain);
}

Status Importer::gemm(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  if (graph_->value(x.value()).shape.rank() != 2) return err(n, "A must be 2-D, got " + graph_->value(x.value()).shape.to_string());
  if (attr_i(n, "transA", 0)) {
    x = permute(x.value(), {1, 0}, "gemm_a_t");
    if (!x.ok()) return x.status();
  }
  const Const* b = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  if (!b || b->is_int || b->dims.size() != 2) return unsupported(n, "B must be a 2-D float constant");
  VITRINE_RETURN_IF_ERROR(check_weight(n, *b, 2, "B"));
  const bool trans_b = attr_i(n, "transB", 0) != 0;
  const int64_t k = trans_b ? b->dims[1] : b->dims[0], out = trans_b ? b->dims[0] : b->dims[1];
  const float alpha = attr_f(n, "alpha", 1.0f), beta = attr_f(n, "beta", 1.0f);
  Result<Tensor> w = Tensor::zeros(Shape{out, k});  // dims checked by check_weight
  if (!w.ok()) return w.status();
  float* dst = w->mutable_data();
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < k; ++i)
      dst[o * k + i] = alpha * (trans_b ? b->f[static_cast<size_t>(o * k + i)] : b->f[static_cast<size_t>(i * out + o)]);
  Result<int> wid = graph_->add_constant(fresh(n.input[1]), w.value());
  if (!wid.ok()) return wid.status();
  std::vector<int> inputs = {x.value(), wid.value()};
  if (has_input(n, 2)) {
    Result<std::vector<float>> c = const_floats(n, 2);
    if (!c.ok()) return c.status();
    // C broadcasts to (M, N): a bias when it is a scalar, (N) or (1, N); an (M, 1) or (M, N) C is
    // added after the product (beta · C, broadcast by the add).
    const std::vector<int64_t>& cdims = constant(n.input[2])->dims;
    bool per_column = !cdims.empty() && cdims.back() == out;
    for (size_t d = 0; d + 1 < cdims.size(); ++d) per_column = per_column && cdims[d] == 1;
    std::vector<float> bias(static_cast<size_t>(out));
    if (c->size() == 1) std::fill(bias.begin(), bias.end(), beta * c.value()[0]);
    else if (per_column && c->size() == static_cast<size_t>(out)) for (int64_t o = 0; o < out; ++o) bias[o] = beta * c.value()[o];
    else {
      Const scaled = *constant(n.input[2]);
      for (float& v : scaled.f) v *= beta;
      VITRINE_ASSIGN_OR_RETURN(int cid, float_constant(fresh(n.input[2]), scaled, scaled.dims));
      NodeProto product = n;
      product.output = {fresh(n.output[0])};
      VITRINE_ASSIGN_OR_RETURN(int y, graph_->add(OpType::kDense, product.output[0], inputs));
      return emit(n, OpType::kAdd, {y, cid}, {}, Layout::kPlain);
    }
    Result<Tensor> bt = Tensor::from_values(Shape{out}, bias.data(), bias.size());
    if (!bt.ok()) return bt.status();
    Result<int> bid = graph_->add_constant(fresh("bias"), bt.value());
    if (!bid.ok()) return bid.status();
    inputs.push_back(bid.value());
  }
  return emit(n, OpType::kDense, inputs, {}, Layout::kPlain);
}

Status Importer::matmul(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Const* b = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  if (b && !b->is_int && b->dims.size() == 2) {  // x · B with constant B: a dense layer with W = Bᵀ
    VITRINE_RETURN_IF_ERROR(check_weight(n, *b, 2, "B"));
    const int64_t k = b->dims[0], out = b->dims[1];
    Result<Tensor> w = Tensor::zeros(Shape{out, k});
    if (!w.ok()) return w.status();
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < k; ++i) w->mutable_data()[o * k + i] = b->f[static_cast<size_t>(i * out + o)];
    Result<int> wid = graph_->add_constant(fresh(n.input[1]), w.value());
    if (!wid.ok()) return wid.status();
    return emit(n, OpType::kDense, {x.value(), wid.value()}, {}, Layout::kPlain);
  }
  Result<int> y = as_layout(n, 1, Layout::kPlain);
  if (!y.ok()) return y.status();
  return emit(n, OpType::kMatMul, {x.value(), y.value()}, {}, Layout::kPlain);
}

Status Importer::flatten(const NodeProto& n) {
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  OpAttrs attrs;
  attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", 1));
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  return emit(n, OpType::kFlatten, {x.value()}, attrs, Layout::kPlain);
}

Status Importer::reshape(const NodeProto& n) {
  Result<std::vector<int64_t>> shape = const_ints(n, 1);
  if (!shape.ok()) return shape.status();
  if (const Const* c = constant(n.input[0])) {  // reshape of a constant: fold
    Const out = *c;
    out.dims = shape.value();
    int64_t known = 1, at = -1;
    for (size_t i = 0; i < out.dims.size(); ++i) {
      if (out.dims[i] == 0 && i < c->dims.size()) out.dims[i] = c->dims[i];
      if (out.dims[i] == -1) {
        if (at >= 0) return err(n, "shape has more than one -1");
        at = static_cast<int64_t>(i);
      } else if (out.dims[i] < 0) {
        return err(n, "shape dimension " + std::to_string(i) + " is " + std::to_string(out.dims[i]));
      } else if (!checked_mul(known, out.dims[i], &known)) {
        return err(n, "the element count of the new shape overflows int64");
      }
    }
    if (at >= 0) {
      if (known == 0 || c->count() % known != 0) {
        return err(n, "cannot infer -1: " + std::to_string(c->count()) + " values into blocks of " +
                          std::to_string(known));
      }
      out.dims[static_cast<size_t>(at)] = c->count() / known;
    } else if (known != c->count()) {
      return err(n, "cannot reshape a constant of " + std::to_string(c->count()) + " values into a shape of " +
                        std::to_string(known) + " elements");
    }
    consts_[n.output[0]] = out;
    return Status::Ok();
  }
  if (attr_i(n, "allowzero", 0)) return unsupported(n, "allowzero = 1");
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  attrs.ints["shape"] = shape.value();
  return emit(n, OpType::kReshape, {x.value()}, attrs, Layout::kPlain);
}

Status Importer::squeeze(const NodeProto& n) {
  const bool un = n.op_type == "Unsqueeze";
  std::vector<int64_t> axes;
  if (opset_ >= 13) {
    if (has_input(n, 1)) {
      Result<std::vector<int64_t>> v = const_ints(n, 1);
      if (!v.ok()) return v.status();
      axes = v.value();
    }
  } else {
    axes = attr_ints(n, "axes", {});
  }
  std::vector<int64_t> in_dims;
  const Const* c = constant(n.input[0]);
  if (c) in_dims = c->dims;
  else {
    Result<Act> a = act(n, 0);
    if (!a.ok()) return a.status();
    in_dims = onnx_dims(a.value());
  }
  std::vector<int64_t> out;
  if (un) {
    const int64_t rank = static_cast<int64_t>(in_dims.size() + axes.size());
    std::vector<bool> inserted(static_cast<size_t>(rank), false);
    for (int64_t ax : axes) {
      if (ax < -rank || ax >= rank) return err(n, "axis out of range");
      const size_t at = static_cast<size_t>(ax < 0 ? ax + rank : ax);
      if (inserted[at]) return err(n, "axis " + std::to_string(ax) + " listed twice");
      inserted[at] = true;
    }
    size_t k = 0;
    for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? 1 : in_dims[k++]);
  } else {
    const int64_t rank = static_cast<int64_t>(in_dims.size());
    std::vector<bool> drop(in_dims.size(), false);
    for (int64_t ax : axes) {
      if (ax < -rank || ax >= rank) return err(n, "axis out of range");
      drop[static_cast<size_t>(ax < 0 ? ax + rank : ax)] = true;
    }
    for (size_t i = 0; i < in_dims.size(); ++i) {
      if (axes.empty() ? in_dims[i] == 1 : drop[i]) {
        if (in_dims[i] != 1) return err(n, "cannot squeeze a dimension of size " + std::to_string(in_dims[i]));
        continue;
      }
      out.push_back(in_dims[i]);
    }
  }
  if (c) {
    Const folded = *c;
    folded.dims = out;
    consts_[n.output[0]] = folded;
    return Status::Ok();
  }
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  if (!out.empty() && !in_dims.empty() && out[0] == in_dims[0] && (un ? axes.end() == std::find(axes.begin(), axes.end(), 0) : true)) {
    out[0] = 0;  // keep the batch dimension free
  }
  if (out.empty()) out = {1};
  attrs.ints["shape"] = out;
  return emit(n, OpType::kReshape, {x.value()}, attrs, Layout::kPlain);
}

Status Importer::concat(const NodeProto& n) {
  const int64_t axis = attr_i(n, "axis", 0);
  bool all_const = !n.input.empty() && constant(n.input[0]) != nullptr;
  for (const std::string& in : n.input) {
    all_const = all_const && constant(in) && constant(in)->is_int && constant(in)->dims.size() <= 1 &&
                constant(in)->onnx_type == constant(n.input[0])->onnx_type;
  }
  if (all_const) {  // shape arithmetic on 1-D integer constants of one type (others fold in emit())
    Const c;
    c.is_int = true;
    c.onnx_type = constant(n.input[0])->onnx_type;
    for (const std::string& in : n.input) {
      const Const* p = constant(in);
      c.i.insert(c.i.end(), p->i.begin(), p->i.end());
    }
    c.dims = {static_cast<int64_t>(c.i.size())};
    consts_[n.output[0]] = c;
    return Status::Ok();
  }
  bool nhwc = false;
  int rank = -1;
  for (size_t i = 0; i < n.input.size(); ++i) {
    Result<Act> a = act(n, i);
    if (!a.ok()) return a.status();
    rank = graph_->value(a->id).shape.rank();
    if (a->layout == Layout::kNHWC) nhwc = true;
  }
  int64_t ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) return err(n, "axis out of range");
  std::vector<int> ids;
  for (size_t i = 0; i < n.input.size(); ++i) {
    Result<int> id = as_layout(n, i, nhwc ? Layout::kNHWC : Layout::kPlain);
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
  }
  OpAttrs attrs;
  attrs.numbers["axis"] = static_cast<double>(nhwc ? kAxisNchwToNhwc[ax] : ax);
  return emit(n, OpType::kConcat, ids, attrs, nhwc ? Layout::kNHWC : Layout::kPlain);
}

// Softmax / LogSoftmax. Opset 13+: over one axis (moved last by a transpose when needed).
// Before 13: over the flattened dims [axis, rank) (a reshape to 2-D and back).
Status Importer::softmax(const NodeProto& n) {
  const OpType type = n.op_type == "LogSoftmax" ? OpType::kLogSoftmax : OpType::kSoftmax;
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape xs = graph_->value(x.value()).shape;
  const int rank = xs.rank();
  int64_t axis = attr_i(n, "axis", opset_ >= 13 ? -1 : 1);
  if (axis < -rank || axis >= rank) return err(n, "axis out of range");
  if (axis < 0) axis += rank;
  if (axis == rank - 1) return emit(n, type, {x.value()}, {}, Layout::kPlain);
  if (opset_ < 13) {
    int64_t before = 1, after = 1;
    for (int i = 0; i < rank; ++i) (i < axis ? before : after) *= xs[i];
    Result<int> flat = reshape_to(x.value(), {before, after}, "softmax_2d");
    if (!flat.ok()) return flat.status();
    Result<int> sm = graph_->add(type, fresh("softmax"), {flat.value()});
    if (!sm.ok()) return sm.status();
    OpAttrs back;
    back.ints["shape"] = xs.to_vector();
    return emit(n, OpType::kReshape, {sm.value()}, back, Layout::kPlain);
  }
  std::vector<int64_t> perm;
  for (int i = 0; i < rank; ++i) perm.push_back(i);
  std::swap(perm[static_cast<size_t>(axis)], perm.back());
  Result<int> moved = permute(x.value(), perm, "softmax_axis");
  if (!moved.ok()) return moved.status();
  Result<int> sm = graph_->add(type, fresh("softmax"), {moved.value()});
  if (!sm.ok()) return sm.status();
  OpAttrs back;
  back.ints["perm"] = perm;  // a swap is its own inverse
  return emit(n, OpType::kTranspose, {sm.value()}, back, Layout::kPlain);
}

// A transpose of a transpose is one transpose (its permutation composed), and nothing at all when
// the two cancel (batch-first <-> time-first around recurrent layers): the first one then has no
// reader left and the executor drops it.
void Importer::compose_transposes(int* id, std::vector<int64_t>* perm) const {
  const GraphValue& v = graph_->value(*id);
  if (v.producer < 0) return;
  const GraphNode& prev = graph_->nodes()[static_cast<size_t>(v.producer)];
  if (prev.type != OpType::kTranspose || !prev.attrs.ints.count("perm")) return;
  const std::vector<int64_t>& p0 = prev.attrs.ints.at("perm");
  if (p0.size() != perm->size()) return;
  std::vector<int64_t> combined(perm->size());
  for (size_t i = 0; i < perm->size(); ++i) {
    const int64_t k = (*perm)[i];
    if (k < 0 || k >= static_cast<int64_t>(p0.size())) return;  // invalid: left for the op to report
    combined[i] = p0[static_cast<size_t>(k)];
  }
  *id = prev.inputs[0];
  *perm = std::move(combined);
}

static bool is_identity_perm(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

Status Importer::transpose_op(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  std::vector<int64_t> perm = attr_ints(n, "perm", {});
  int src = x.value();
  if (!perm.empty()) {
    if (static_cast<int>(perm.size()) != graph_->value(src).shape.rank()) {
      return err(n, "perm has " + std::to_string(perm.size()) + " entries for a rank-" +
                        std::to_string(graph_->value(src).shape.rank()) + " input");
    }
    compose_transposes(&src, &perm);
    if (is_identity_perm(perm)) return set_output(n, src, Layout::kPlain);
    attrs.ints["perm"] = perm;
  }
  return emit(n, OpType::kTranspose, {src}, attrs, Layout::kPlain);
}

Result<int> Importer::permute(int id, std::vector<int64_t> perm, const std::string& hint) {
  compose_transposes(&id, &perm);
  if (is_identity_perm(perm)) return id;
  OpAttrs a;
  a.ints["perm"] = std::move(perm);
  return graph_->add(OpType::kTranspose, fresh(hint), {id}, a);
}

Result<int> Importer::reshape_to(int id, std::vector<int64_t> dims, const std::string& hint) {
  OpAttrs a;
  a.ints["shape"] = std::move(dims);
  return graph_->add(OpType::kReshape, fresh(hint), {id}, a);
}

// LSTM / GRU: ONNX's (T, N, I) layout, stacked gates in ONNX order and [Wb, Rb] biases are mapped
// onto the engine's batch-first op with PyTorch gate order; outputs are mapped back.
Status Importer::rnn(const NodeProto& n) {
  const bool lstm = n.op_type == "LSTM";
  const int64_t gates = lstm ? 4 : 3;
  const int64_t hs = attr_i(n, "hidden_size", 0);
  if (hs < 1) return err(n, "hidden_size is required");
  const std::string direction = attr_s(n, "direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    return err(n, "unknown direction '" + direction + "'");
  }
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (onnx::find_attribute(n, "clip")) return unsupported(n, "clip");
  if (attr_i(n, "input_forget", 0)) return unsupported(n, "input_forget = 1");
  if (const AttributeProto* acts = onnx::find_attribute(n, "activations")) {
    const std::vector<std::string> standard = lstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                                   : std::vector<std::string>{"Sigmoid", "Tanh"};
    for (size_t i = 0; i < acts->strings.size(); ++i)
      if (acts->strings[i] != standard[i % standard.size()]) return unsupported(n, "activation " + acts->strings[i]);
  }
  for (size_t i : {5u, 6u, 7u}) {
    if (!has_input(n, i)) continue;
    if (i == 7) return unsupported(n, "peephole weights");
    const Const* c = constant(n.input[i]);
    bool zero = c && !c->is_int;
    for (float v : zero ? c->f : std::vector<float>{}) zero = zero && v == 0.0f;
    if (!zero) return unsupported(n, "a non-zero initial state");
  }
  const int64_t layout = attr_i(n, "layout", 0);
  Result<Act> xa = act(n, 0);
  if (!xa.ok()) return xa.status();
  const Shape xs = graph_->value(xa->id).shape;
  if (xs.rank() != 3) return err(n, "X must be 3-D, got " + xs.to_string());
  int x = xa->id;
  if (layout == 0) {
    Result<int> t = permute(x, {1, 0, 2}, "rnn_x");
    if (!t.ok()) return t.status();
    x = t.value();
  }
  const int64_t isz = xs[2];
  const Const* w = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  const Const* r = has_input(n, 2) ? constant(n.input[2]) : nullptr;
  const Const* b = has_input(n, 3) ? constant(n.input[3]) : nullptr;
  if (!w || !r || w->is_int || r->is_int || (b && b->is_int)) return unsupported(n, "W, R and B must be float constants");
  if (hs > default_limits().max_tensor_elements) {
    return Status::ResourceExhausted("ONNX " + n.op_type + " '" + n.output[0] + "': hidden_size " + std::to_string(hs) +
                                     " exceeds the limit of " + std::to_string(default_limits().max_tensor_elements) +
                                     " (Limits::max_tensor_elements)");
  }
  int64_t rows = 0, w_count = 0, r_count = 0, b_count = 0;
  if (!checked_mul(dirs * gates, hs, &rows) || !checked_mul(rows, isz, &w_count) ||
      !checked_mul(rows, hs, &r_count) || !checked_mul(rows, 2, &b_count)) {
    return Status::ResourceExhausted("ONNX " + n.op_type + " '" + n.output[0] + "': the weight element count for hidden_size " +
                                     std::to_string(hs) + " overflows int64");
  }
  if (w->count() != w_count || r->count() != r_count || (b && b->count() != b_count)) {
    return err(n, "W, R or B has the wrong number of values for hidden_size " + std::to_string(hs) + " (W needs " +
                      std::to_string(w_count) + ", R " + std::to_string(r_count) + ", B " + std::to_string(b_count) + ")");
  }
  // ONNX gate blocks -> PyTorch order: LSTM [i, o, f, c] -> [i, f, c, o]; GRU [z, r, h] -> [r, z, h].
  const std::vector<int64_t> from = lstm ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{1, 0, 2};
  auto regate = [&](const float* src, int64_t cols, std::vector<float>* dst) {
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t g = 0; g < gates; ++g)
        for (int64_t j = 0; j < hs; ++j)
          for (int64_t k = 0; k < cols; ++k)
            dst->push_back(src[((d * gates + from[static_cast<size_t>(g)]) * hs + j) * cols + k]);
  };
  std::vector<float> wih, whh, bih, bhh;
  regate(w->f.data(), isz, &wih);
  regate(r->f.data(), hs, &whh);
  std::vector<float> wb(static_cast<size_t>(dirs * gates * hs), 0.0f), rb = wb;
  if (b) {
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t k = 0; k < gates * hs; ++k) {
        wb[static_cast<size_t>(d * gates * hs + k)] = b->f[static_cast<size_t>(d * 2 * gates * hs + k)];
        rb[static_cast<size_t>(d * gates * hs + k)] = b->f[static_cast<size_t>(d * 2 * gates * hs + gates * hs + k)];
      }
  }
  regate(wb.data(), 1, &bih);
  regate(rb.data(), 1, &bhh);
  std::vector<int> inputs = {x};
  const std::vector<std::pair<const std::vector<float>*, Shape>> params = {
      {&wih, Shape{rows, isz}}, {&whh, Shape{rows, hs}}, {&bih, Shape{rows}}, {&bhh, Shape{rows}}};
  for (const auto& [vec, shape] : params) {
    Result<Tensor> t = Tensor::from_values(shape, vec->data(), vec->size());
    if (!t.ok()) return t.status();
    Result<int> id = graph_->add_constant(fresh(n.op_type + "_w"), t.value());
    if (!id.ok()) return id.status();
    inputs.push_back(id.value());
  }
  if (has_input(n, 4)) {
    const Const* lens = constant(n.input[4]);
    if (!lens || !lens->is_int) return unsupported(n, "sequence_lens must be a constant");
    std::vector<float> f(lens->i.begin(), lens->i.end());
    Result<Tensor> t = Tensor::from_values(Shape{static_cast<int64_t>(f.size())}, f.data(), f.size());
    if (!t.ok()) return t.status();
    Result<int> id = graph_->add_constant(fresh("sequence_lens"), t.value());
    if (!id.ok()) return id.status();
    inputs.push_back(id.value());
  }
  OpAttrs a;
  a.numbers["hidden_size"] = static_cast<double>(hs);
  a.numbers["bidirectional"] = dirs == 2 ? 1 : 0;
  if (direction == "reverse") a.numbers["reverse"] = 1;
  if (!lstm) a.numbers["linear_before_reset"] = static_cast<double>(attr_i(n, "linear_before_reset", 0) != 0);
  Result<std::vector<int>> outs = graph_->add_node(lstm ? OpType::kLstm : OpType::kGru, fresh(n.op_type), inputs, a);
  if (!outs.ok()) return Status(outs.status().code(), "ONNX " + n.op_type + ": " + outs.status().message());
  const int64_t batch = xs[layout == 0 ? 1 : 0], steps = xs[layout == 0 ? 0 : 1];
  reads_shape();  // the outputs' reshapes hold the batch and step counts
  if (n.output.size() > 0 && !n.output[0].empty()) {  // Y: (T, D, N, H) or, with layout 1, (N, T, D, H)
    Result<int> y = reshape_to(outs.value()[0], {batch, steps, dirs, hs}, "rnn_y");
    if (!y.ok()) return y.status();
    int v = y.value();
    if (layout == 0) {
      Result<int> t = permute(v, {1, 2, 0, 3}, "rnn_y_t");
      if (!t.ok()) return t.status();
      v = t.value();
    }
    acts_[n.output[0]] = Act{v, Layout::kPlain};
  }
  for (size_t k = 1; k < n.output.size() && k <= (lstm ? 2u : 1u); ++k) {  // Y_h, Y_c: (D, N, H)
    if (n.output[k].empty()) continue;
    Result<int> h = reshape_to(outs.value()[k], {batch, dirs, hs}, "rnn_state");
    if (!h.ok()) return h.status();
    int v = h.value();
    if (layout == 0) {
      Result<int> t = permute(v, {1, 0, 2}, "rnn_state_t");
      if (!t.ok()) return t.status();
      v = t.value();
    }
    acts_[n.output[k]] = Act{v, Layout::kPlain};
  }
  return Status::Ok();
}

Status Importer::conv_transpose(const NodeProto& n) {
  if (Result<Act> a = act(n, 0); a.ok() && graph_->value(a->id).shape.rank() == 3) {
    const Const* w = has_input(n, 1) ? constant(n.input[1]) : nullptr;
    if (!w || w->is_int || w->dims.size() != 3) return unsupported(n, "a 1-D transposed convolution needs float constant weights of rank 3");
    return run_1d_as_2d(n, &Importer::conv_transpose, [&](NodeProto* m) {
      Const w4 = *w;
      w4.dims = {w->dims[0], w->dims[1], 1, w->dims[2]};
      m->input[1] = fresh(n.input[1]);
      consts_[m->input[1]] = std::move(w4);
      return Status::Ok();
    });
  }
  Result<int> x = as_layout(n, 0, Layout::kNHWC);
  if (!x.ok()) return x.status();
  const Const* w = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  if (!w || w->is_int) return unsupported(n, "weights must be a float constant");
  if (w->dims.size() != 4) return unsupported(n, "only 2-D transposed convolution is supported");
  const std::string auto_pad = attr_s(n, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    return err(n, "unknown auto_pad '" + auto_pad + "'");
  }
  VITRINE_RETURN_IF_ERROR(check_weight(n, *w, 4, "weights"));
  const int64_t groups = attr_i(n, "group", 1);
  const int64_t cin = w->dims[0], cout_g = w->dims[1], kh = w->dims[2], kw = w->dims[3];
  if (groups < 1 || cin % groups != 0) return err(n, "group does not divide the input channels");
  const int64_t cin_g = cin / groups;
  int64_t cout = 0;
  if (!checked_mul(cout_g, groups, &cout)) return err(n, "output channels overflow int64");
  // ONNX (C_in, C_out/g, KH, KW) -> ours (g·C_out/g, KH, KW, C_in/g).
  Result<Shape> wshape = Shape::make({cout, kh, kw, cin_g});
  if (!wshape.ok()) return err(n, "weights: " + wshape.status().message());
  Result<Tensor> wt = Tensor::zeros(wshape.value());
  if (!wt.ok()) return wt.status();
  float* dst = wt->mutable_data();
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < cin_g; ++i)
      for (int64_t o = 0; o < cout_g; ++o)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t z = 0; z < kw; ++z)
            dst[(((g * cout_g + o) * kh + y) * kw + z) * cin_g + i] =
                w->f[static_cast<size_t>((((g * cin_g + i) * cout_g + o) * kh + y) * kw + z)];
  Result<int> wid = graph_->add_constant(fresh(n.input[1]), wt.value());
  if (!wid.ok()) return wid.status();
  std::vector<int> inputs = {x.value(), wid.value()};
  if (has_input(n, 2)) {
    Result<std::vector<float>> bias = const_floats(n, 2);
    if (!bias.ok()) return bias.status();
    Result<Tensor> bt = Tensor::from_values(Shape{cout}, bias->data(), bias->size());
    if (!bt.ok()) return err(n, "bias must have " + std::to_string(cout) + " values");
    Result<int> bid = graph_->add_constant(fresh("bias"), bt.value());
    if (!bid.ok()) return bid.status();
    inputs.push_back(bid.value());
  }
  OpAttrs a;
  a.ints["strides"] = attr_ints(n, "strides", {1, 1});
  a.ints["dilations"] = attr_ints(n, "dilations", {1, 1});
  a.ints["pads"] = auto_pad == "VALID" ? std::vector<int64_t>{0, 0, 0, 0} : attr_ints(n, "pads", {0, 0, 0, 0});
  a.ints["output_padding"] = attr_ints(n, "output_padding", {0, 0});
  a.numbers["groups"] = static_cast<double>(groups);
  // An output size (output_shape, or SAME: input size x stride) sets the pads (ONNX's formula: the
  // total is split in half, the odd one at the end for SAME_UPPER, at the start otherwise); an
  // output larger than the transposed convolution reaches grows at the end (output padding).
  const AttributeProto* shape_attr = onnx::find_attribute(n, "output_shape");
  if (shape_attr || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const std::vector<int64_t>& st = a.ints["strides"];
    const std::vector<int64_t>& dl = a.ints["dilations"];
    std::vector<int64_t>& op = a.ints["output_padding"];
    if (st.size() != 2 || dl.size() != 2 || op.size() != 2) return err(n, "strides, dilations and output_padding need two values");
    const Shape xs = graph_->value(x.value()).shape;  // NHWC
    std::vector<int64_t> want;
    if (shape_attr) {
      want = shape_attr->ints;
      if (want.size() == 4) want = {want[2], want[3]};
      if (want.size() != 2) return err(n, "output_shape needs the two spatial sizes");
    } else {
      for (int d = 0; d < 2; ++d) {
        int64_t v = 0;
        if (!checked_mul(xs[1 + d], st[static_cast<size_t>(d)], &v)) return err(n, "output size overflows int64");
        want.push_back(v);
      }
    }
    const int64_t ks[2] = {kh, kw};
    std::vector<int64_t> pads(4, 0);
    for (int d = 0; d < 2; ++d) {
      const size_t du = static_cast<size_t>(d);
      int64_t reach = 0, natural = 0;
      if (want[du] < 1 || !checked_mul(xs[1 + d] - 1, st[du], &natural) || !checked_mul(ks[d] - 1, dl[du], &reach) ||
          !checked_add(natural, reach + 1, &natural) || !checked_add(natural, op[du], &natural)) {
        return err(n, "output_shape, strides and dilations overflow the padding arithmetic");
      }
      const int64_t total = natural - want[du];
      if (total >= 0) {
        const bool upper = auto_pad == "SAME_UPPER";
        pads[du] = upper ? total / 2 : total - total / 2;
        pads[du + 2] = total - pads[du];
      } else {
        op[du] -= total;  // the extra rows or columns
      }
    }
    a.ints["pads"] = pads;
  }
  return emit(n, OpType::kConvTranspose2D, inputs, a, Layout::kNHWC);
}

Status Importer::layer_norm(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape xs = graph_->value(x.value()).shape;
  int64_t axis = attr_i(n, "axis", -1);
  if (axis < -xs.rank() || axis >= xs.rank()) return err(n, "axis out of range");
  if (axis < 0) axis += xs.rank();
  const bool stats = (n.output.size() > 1 && !n.output[1].empty()) || (n.output.size() > 2 && !n.output[2].empty());
  // Normalizing over dims [axis, rank) is a last-axis layer norm of the (before, after) reshape.
  // The activation may have no elements and still huge dimensions ((0, 2^40)): the normalized size
  // d sizes the scale and bias vectors below, so it is checked like a constant's element count
  // (found by fuzzing: a 4 TiB allocation).
  int64_t before = 1, d = 1;
  for (int i = 0; i < xs.rank(); ++i) {
    int64_t& size = i < axis ? before : d;
    if (!checked_mul(size, xs[i], &size)) return err(n, "normalized size overflows int64");
  }
  VITRINE_RETURN_IF_ERROR(check_limit("LayerNormalization '" + n.name + "' scale/bias", d, "elements",
                                      default_limits().max_tensor_elements, "max_tensor_elements"));
  const bool flatten = axis != xs.rank() - 1;
  std::vector<int> inputs = {x.value()};
  if (flatten) {
    Result<int> flat = reshape_to(x.value(), {before, d}, "layer_norm_2d");
    if (!flat.ok()) return flat.status();
    inputs = {flat.value()};
  }
  for (size_t i = 1; i < 3; ++i) {
    std::vector<float> v(static_cast<size_t>(d), i == 1 ? 1.0f : 0.0f);
    if (has_input(n, i)) {
      Result<std::vector<float>> c = const_floats(n, i);
      if (!c.ok()) return c.status();
      if (c->size() != static_cast<size_t>(d)) return unsupported(n, "scale and bias broadcasting over the normalized axes");
      v = c.value();
    }
    Result<Tensor> t = Tensor::from_values(Shape{d}, v.data(), v.size());
    if (!t.ok()) return t.status();
    Result<int> id = graph_->add_constant(fresh(i == 1 ? "ln_scale" : "ln_bias"), t.value());
    if (!id.ok()) return id.status();
    inputs.push_back(id.value());
  }
  OpAttrs a;
  a.numbers["epsilon"] = attr_f(n, "epsilon", 1e-5f);
  if (!flatten && !stats) return emit(n, OpType::kLayerNorm, inputs, a, Layout::kPlain);
  if (stats) a.numbers["stats"] = 1;
  Result<std::vector<int>> ln = graph_->add_node(OpType::kLayerNorm, fresh("layer_norm"), inputs, a);
  if (!ln.ok()) return ln.status();
  Result<int> y = reshape_to(ln.value()[0], xs.to_vector(), "layer_norm_y");
  if (!y.ok()) return y.status();
  acts_[n.output[0]] = Act{y.value(), Layout::kPlain};
  // Mean and InvStdDev: x's shape with the normalized axes set to 1.
  std::vector<int64_t> stat_dims = xs.to_vector();
  for (size_t i = static_cast<size_t>(axis); i < stat_dims.size(); ++i) stat_dims[i] = 1;
  for (size_t k = 1; stats && k < 3 && k < n.output.size(); ++k) {
    if (n.output[k].empty()) continue;
    Result<int> v = reshape_to(ln.value()[k], stat_dims, "layer_norm_stat");
    if (!v.ok()) return v.status();
    acts_[n.output[k]] = Act{v.value(), Layout::kPlain};
  }
  return Status::Ok();
}


Status Importer::alias(const NodeProto& n) {
  const bool mask = n.output.size() > 1 && !n.output[1].empty() && n.op_type == "Dropout";
  if (n.op_type == "Dropout" && has_input(n, 2)) {  // opset 12+: training_mode makes it random
    const Const* training = constant(n.input[2]);
    if (!training) return unsupported(n, "training_mode must be a constant");
    bool on = false;
    for (int64_t v : training->i) on = on || v != 0;
    for (float v : training->f) on = on || v != 0.0f;
    float ratio = 0.5f;
    if (has_input(n, 1)) {
      Result<std::vector<float>> r = const_floats(n, 1);
      if (!r.ok()) return r.status();
      if (r->size() != 1) return err(n, "ratio must be a scalar");
      ratio = r.value()[0];
    }
    if (on && ratio != 0.0f) return unsupported(n, "training_mode = true (random dropout)");
  }
  if (const Const* c = constant(n.input[0])) {
    consts_[n.output[0]] = *c;
    if (mask) {  // at inference every element is kept
      Const ones{c->dims, true, {}, std::vector<int64_t>(static_cast<size_t>(c->count()), 1), onnx::DataType::kBool};
      consts_[n.output[1]] = std::move(ones);
    }
    return Status::Ok();
  }
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  acts_[n.output[0]] = a.value();
  if (mask) {  // at inference every element is kept: b or not b, b = bool(x), of x's shape at any batch size
    Result<int> plain = as_layout(n, 0, Layout::kPlain);
    if (!plain.ok()) return plain.status();
    OpAttrs to_bool;
    to_bool.strings["to"] = "bool";
    Result<int> b = graph_->value(plain.value()).dtype == DType::kBool ? Result<int>(plain.value())
                                                                      : add_plain(OpType::kCast, "dropout_b", {plain.value()}, to_bool);
    if (!b.ok()) return b.status();
    Result<int> nb = add_plain(OpType::kNot, "dropout_not_b", {b.value()});
    if (!nb.ok()) return nb.status();
    const std::string name = graph_->find(n.output[1]).ok() ? fresh(n.output[1]) : n.output[1];
    Result<int> m = graph_->add(OpType::kOr, name, {b.value(), nb.value()});
    if (!m.ok()) return Status(m.status().code(), "ONNX Dropout '" + n.output[1] + "': " + m.status().message());
    acts_[n.output[1]] = Act{m.value(), Layout::kPlain};
  }
  return Status::Ok();
}

// Cast: a float value cast to a float type passes through (the engine computes in f32); other casts
// are Cast nodes (folded at import when the input is a small constant of a dtype the engine holds;
// other integer constants, e.g. int16 shape arithmetic, are converted here).
Status Importer::cast(const NodeProto& n) {
  const int64_t to = attr_i(n, "to", 0);
  const bool to_float = to == onnx::DataType::kFloat || to == onnx::DataType::kDouble || to == onnx::DataType::kFloat16 ||
                        to == onnx::DataType::kBfloat16;
  const bool to_int = to == onnx::DataType::kInt64 || to == onnx::DataType::kInt32 || to == onnx::DataType::kInt16 ||
                      to == onnx::DataType::kInt8 || to == onnx::DataType::kUint8 || to == onnx::DataType::kUint16 ||
                      to == onnx::DataType::kUint32 || to == onnx::DataType::kUint64 || to == onnx::DataType::kBool;
  if (!to_float && !to_int) return unsupported(n, "to = " + std::to_string(to));
  const Const* cc = constant(n.input[0]);
  // A constant of a dtype the engine holds, cast to one it holds, goes through the Cast kernel (by
  // constant folding in emit()), so that constant and run-time casts agree (saturation, wrapping).
  if (cc && !cc->is_int && to_float) {  // float to float: the engine's float is f32 either way
    consts_[n.output[0]] = *cc;
    return Status::Ok();
  }
  const bool held = cc && cc->count() <= kMaxFoldElements &&
                    engine_dtype(cc->is_int ? cc->onnx_type : onnx::DataType::kFloat, "").ok() &&
                    (to_float || engine_dtype(static_cast<int32_t>(to), "").ok());
  if (const Const* c = held ? nullptr : cc) {
    Const out{c->dims, to_int, {}, {}, static_cast<int32_t>(to_int ? to : 0)};
    if (to_int && !c->is_int) {
      for (float v : c->f) {
        if (!std::isfinite(v) || std::fabs(v) >= 9.2e18f) return err(n, "a constant value does not fit an integer type");
        out.i.push_back(to == onnx::DataType::kBool ? v != 0.0f : static_cast<int64_t>(v));  // truncation, as C casts
      }
    } else if (to_int) {
      for (int64_t v : c->i) out.i.push_back(to == onnx::DataType::kBool ? v != 0 : v);
    } else if (c->is_int) {
      for (int64_t v : c->i) out.f.push_back(static_cast<float>(v));
    } else {
      out.f = c->f;
    }
    consts_[n.output[0]] = std::move(out);
    return Status::Ok();
  }
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const DType from = graph_->value(a->id).dtype;
  // Float targets: f32, f64 and f16 are held; bfloat16 is computed as f32.
  const DType float_to = to == onnx::DataType::kDouble ? DType::kF64 : to == onnx::DataType::kFloat16 ? DType::kF16 : DType::kF32;
  if (to_float && from == float_to) {
    acts_[n.output[0]] = a.value();
    return Status::Ok();
  }
  Result<DType> dtype = to_float ? Result<DType>(float_to) : engine_dtype(static_cast<int32_t>(to), "the Cast target");
  if (!dtype.ok()) return unsupported(n, dtype.status().message());
  OpAttrs attrs;
  attrs.strings["to"] = dtype_name(dtype.value());
  return emit(n, OpType::kCast, {a->id}, attrs, a->layout);
}

Status Importer::elementwise_typed(const NodeProto& n) {
  static const std::map<std::string, std::pair<OpType, size_t>> types = {
      {"Equal", {OpType::kEqual, 2}}, {"Less", {OpType::kLess, 2}}, {"LessOrEqual", {OpType::kLessOrEqual, 2}},
      {"Greater", {OpType::kGreater, 2}}, {"GreaterOrEqual", {OpType::kGreaterOrEqual, 2}},
      {"And", {OpType::kAnd, 2}}, {"Or", {OpType::kOr, 2}}, {"Xor", {OpType::kXor, 2}}, {"Not", {OpType::kNot, 1}},
      {"Where", {OpType::kWhere, 3}}};
  const auto& [type, arity] = types.at(n.op_type);
  if (n.input.size() != arity) return err(n, "takes " + std::to_string(arity) + " inputs");
  std::vector<int> ids;
  for (size_t i = 0; i < arity; ++i) {
    Result<int> id = as_layout(n, i, Layout::kPlain);
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
  }
  return emit(n, type, ids, {}, Layout::kPlain);
}

Status Importer::arg_reduce(const NodeProto& n) {
  Result<int> id = as_layout(n, 0, Layout::kPlain);
  if (!id.ok()) return id.status();
  OpAttrs attrs;
  attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", 0));
  attrs.numbers["keepdims"] = static_cast<double>(attr_i(n, "keepdims", 1));
  attrs.numbers["select_last_index"] = static_cast<double>(attr_i(n, "select_last_index", 0));
  return emit(n, n.op_type == "ArgMax" ? OpType::kArgMax : OpType::kArgMin, {id.value()}, attrs, Layout::kPlain);
}

// Resize (opsets 10-17) and Upsample: scales or sizes must be constants; an NHWC activation stays
// NHWC (its per-axis scales are permuted).
Status Importer::resize(const NodeProto& n) {
  const bool upsample = n.op_type == "Upsample";
  const bool legacy = upsample || opset_ < 11;  // asymmetric coordinates, floor for nearest
  std::string mode = attr_s(n, "mode", "nearest");
  if (mode == "bilinear") mode = "linear";  // Upsample-7's spelling
  if (upsample && mode != "nearest" && mode != "linear") return unsupported(n, "mode '" + mode + "'");
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const std::vector<int64_t> in_dims = onnx_dims(a.value());
  const size_t rank = in_dims.size();
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (upsample && opset_ < 9) {
    const AttributeProto* at = onnx::find_attribute(n, "scales");
    if (!at) return err(n, "attribute 'scales' is required");
    scales = at->floats;
  } else {
    const size_t scales_at = legacy ? 1 : 2;
    if (has_input(n, scales_at)) {
      Result<std::vector<float>> sc = const_floats(n, scales_at);
      if (!sc.ok()) return sc.status();
      scales = sc.value();
    }
    if (!legacy && has_input(n, 3)) {
      Result<std::vector<int64_t>> sz = const_ints(n, 3);
      if (!sz.ok()) return sz.status();
      sizes = sz.value();
    }
  }
  if (!sizes.empty() && !scales.empty()) return err(n, "has both scales and sizes");
  if (sizes.empty() && scales.empty()) return err(n, "needs scales or sizes");
  if ((!sizes.empty() && sizes.size() != rank) || (!scales.empty() && scales.size() != rank)) {
    return err(n, "scales or sizes must hold one value per input dimension (" + std::to_string(rank) + ")");
  }
  const std::string ct = legacy ? "asymmetric" : attr_s(n, "coordinate_transformation_mode", "half_pixel");
  if (ct == "tf_crop_and_resize") return unsupported(n, "coordinate_transformation_mode tf_crop_and_resize");
  OpAttrs attrs;
  attrs.strings["mode"] = mode;
  attrs.strings["coordinate_transformation_mode"] = ct;
  attrs.strings["nearest_mode"] = legacy ? "floor" : attr_s(n, "nearest_mode", "round_prefer_floor");
  attrs.numbers["cubic_coeff_a"] = attr_f(n, "cubic_coeff_a", -0.75f);
  attrs.numbers["exclude_outside"] = static_cast<double>(attr_i(n, "exclude_outside", 0));
  const bool nhwc = a->layout == Layout::kNHWC;
  auto axis_of = [nhwc](size_t d) { return nhwc ? static_cast<size_t>(kAxisNchwToNhwc[d]) : d; };
  static const char* const keys[] = {"scale_0", "scale_1", "scale_2", "scale_3", "scale_4", "scale_5"};
  if (rank > 6) return unsupported(n, "rank above 6");
  if (!sizes.empty()) {
    std::vector<int64_t> s(rank);
    for (size_t d = 0; d < rank; ++d) s[axis_of(d)] = sizes[d];
    attrs.ints["sizes"] = s;
  } else {
    for (size_t d = 0; d < rank; ++d) {
      if (!(scales[d] > 0) || !std::isfinite(scales[d])) return err(n, "scales must be positive");
      attrs.numbers[keys[axis_of(d)]] = scales[d];
    }
  }
  return emit(n, OpType::kResize, {a->id}, attrs, a->layout);
}

Result<int> Importer::add_plain(OpType type, const std::string& hint, std::vector<int> inputs, OpAttrs attrs) {
  return graph_->add(type, fresh(hint), std::move(inputs), std::move(attrs));
}

// The ONNX-order dims of input i (constant or activation).
static std::vector<int64_t> dims_of_input(const Const* c, const std::vector<int64_t>& act_dims) {
  return c ? c->dims : act_dims;
}

Status Importer::size_op(const NodeProto& n) {
  const Const* c = constant(n.input[0]);
  std::vector<int64_t> dims;
  if (!c) {
    Result<Act> a = act(n, 0);
    if (!a.ok()) return a.status();
    dims = onnx_dims(a.value());
    reads_shape();
  }
  dims = dims_of_input(c, dims);
  int64_t total = 1;
  for (int64_t d : dims)
    if (!checked_mul(total, d, &total)) return err(n, "the element count overflows int64");
  Const out;
  out.is_int = true;
  out.i = {total};  // a scalar (dims {})
  consts_[n.output[0]] = out;
  return Status::Ok();
}

Status Importer::constant_of_shape(const NodeProto& n) {
  Result<std::vector<int64_t>> shape = const_ints(n, 0);
  if (!shape.ok()) return shape.status();
  int64_t total = 1;
  for (int64_t d : shape.value()) {
    if (d < 0) return err(n, "negative dimension " + std::to_string(d));
    if (!checked_mul(total, d, &total)) return err(n, "the element count overflows int64");
  }
  VITRINE_RETURN_IF_ERROR(charge_constant(n, total));
  Const out;
  out.dims = shape.value();
  if (const AttributeProto* v = onnx::find_attribute(n, "value")) {
    Result<Const> c = to_const(v->t);
    if (!c.ok()) return c.status();
    if (c->count() != 1) return err(n, "value must hold one element");
    out.is_int = c->is_int;
    out.onnx_type = c->onnx_type;
    if (out.is_int) out.i.assign(static_cast<size_t>(total), c->i[0]);
    else out.f.assign(static_cast<size_t>(total), c->f[0]);
  } else {
    out.f.assign(static_cast<size_t>(total), 0.0f);
  }
  consts_[n.output[0]] = std::move(out);
  return Status::Ok();
}

Status Importer::range_op(const NodeProto& n) {
  const Const* start = has_input(n, 0) ? constant(n.input[0]) : nullptr;
  const Const* limit = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  const Const* delta = has_input(n, 2) ? constant(n.input[2]) : nullptr;
  if (!start || !limit || !delta) return unsupported(n, "start, limit and delta must be constants");
  if (start->count() != 1 || limit->count() != 1 || delta->count() != 1) return err(n, "start, limit and delta must be scalars");
  if (start->is_int != limit->is_int || start->is_int != delta->is_int) return err(n, "start, limit and delta must have one type");
  Const out;
  out.is_int = start->is_int;
  out.onnx_type = start->onnx_type;
  int64_t count = 0;
  if (out.is_int) {  // exact: ceil((limit - start) / delta) in integers, every value checked
    const int64_t s0 = start->i[0], l0 = limit->i[0], d0 = delta->i[0];
    if (d0 == 0) return err(n, "delta must be non-zero");
    int64_t span = 0;
    if (!checked_sub(l0, s0, &span)) return err(n, "limit - start overflows int64");
    if ((span > 0 && d0 > 0) || (span < 0 && d0 < 0)) {
      const int64_t q = span / d0, r = span % d0;
      count = q + (r != 0 ? 1 : 0);
    }
  } else {
    const double s0 = start->f[0], l0 = limit->f[0], d0 = delta->f[0];
    if (d0 == 0 || !std::isfinite(s0) || !std::isfinite(l0) || !std::isfinite(d0)) return err(n, "delta must be non-zero and all finite");
    const double c = std::max(std::ceil((l0 - s0) / d0), 0.0);
    count = c > 9e15 ? INT64_MAX : static_cast<int64_t>(c);
  }
  VITRINE_RETURN_IF_ERROR(charge_constant(n, count));
  for (int64_t k = 0; k < count; ++k) {
    if (out.is_int) {
      int64_t step = 0, v = 0;
      if (!checked_mul(k, delta->i[0], &step) || !checked_add(start->i[0], step, &v)) return err(n, "a value overflows int64");
      out.i.push_back(v);
    } else {
      out.f.push_back(static_cast<float>(start->f[0] + static_cast<float>(k) * delta->f[0]));
    }
  }
  out.dims = {count};
  consts_[n.output[0]] = std::move(out);
  return Status::Ok();
}

Status Importer::expand_op(const NodeProto& n) {
  Result<std::vector<int64_t>> shape = const_ints(n, 1);
  if (!shape.ok()) return shape.status();
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  std::vector<int64_t> xd = graph_->value(x.value()).shape.to_vector();
  if (constant(n.input[0]) && constant(n.input[0])->dims.empty()) xd.clear();  // a scalar constant
  const std::vector<int64_t>& sd = shape.value();
  const size_t rank = std::max(xd.size(), sd.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {  // numpy broadcast of x's shape and the requested one
    const int64_t a = i < rank - xd.size() ? 1 : xd[i - (rank - xd.size())];
    const int64_t b = i < rank - sd.size() ? 1 : sd[i - (rank - sd.size())];
    if (a != b && a != 1 && b != 1) return err(n, "shape does not broadcast with the input's");
    out[i] = a == 1 ? b : a;
  }
  OpAttrs attrs;
  attrs.ints["shape"] = out;
  return emit(n, OpType::kExpand, {x.value()}, attrs, Layout::kPlain);
}

Status Importer::tile_op(const NodeProto& n) {
  Result<std::vector<int64_t>> repeats = const_ints(n, 1);
  if (!repeats.ok()) return repeats.status();
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  attrs.ints["repeats"] = repeats.value();
  return emit(n, OpType::kTile, {x.value()}, attrs, Layout::kPlain);
}

Status Importer::cum_sum(const NodeProto& n) {
  Result<std::vector<int64_t>> axis = const_ints(n, 1);
  if (!axis.ok()) return axis.status();
  if (axis->size() != 1) return err(n, "axis must be a scalar");
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  attrs.numbers["axis"] = static_cast<double>(axis.value()[0]);
  attrs.numbers["exclusive"] = static_cast<double>(attr_i(n, "exclusive", 0));
  attrs.numbers["reverse"] = static_cast<double>(attr_i(n, "reverse", 0));
  return emit(n, OpType::kCumSum, {x.value()}, attrs, Layout::kPlain);
}

// Hardmax before opset 13 works on the input flattened to 2-D at `axis` (default 1).
Status Importer::hardmax(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape shape = graph_->value(x.value()).shape;
  OpAttrs attrs;
  if (opset_ >= 13) {
    attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", -1));
    return emit(n, OpType::kHardmax, {x.value()}, attrs, Layout::kPlain);
  }
  const int64_t rank = shape.rank();
  int64_t axis = attr_i(n, "axis", 1);
  if (axis < -rank || axis > rank) return err(n, "axis out of range");
  if (axis < 0) axis += rank;
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? rows : cols) *= shape[static_cast<int>(d)];
  OpAttrs flat, back;
  flat.ints["shape"] = {rows, cols};
  back.ints["shape"] = shape.to_vector();
  Result<int> f = add_plain(OpType::kReshape, "hardmax_2d", {x.value()}, flat);
  if (!f.ok()) return f.status();
  Result<int> h = add_plain(OpType::kHardmax, "hardmax", {f.value()});
  if (!h.ok()) return h.status();
  return emit(n, OpType::kReshape, {h.value()}, back, Layout::kPlain);
}

Status Importer::sum_mean(const NodeProto& n) {
  if (n.input.empty()) return err(n, "needs at least one input");
  if (n.input.size() == 1 && n.op_type == "Sum") return alias(n);
  Result<int> acc = as_layout(n, 0, Layout::kPlain);
  if (!acc.ok()) return acc.status();
  for (size_t i = 1; i < n.input.size(); ++i) {
    Result<int> x = as_layout(n, i, Layout::kPlain);
    if (!x.ok()) return x.status();
    acc = add_plain(OpType::kAdd, n.op_type == "Sum" ? "sum" : "mean_sum", {acc.value(), x.value()});
    if (!acc.ok()) return acc.status();
  }
  if (n.op_type == "Sum") return set_output(n, acc.value(), Layout::kPlain);
  const float inv = 1.0f / static_cast<float>(n.input.size());
  Result<Tensor> scale = Tensor::from_values(Shape{1}, &inv, 1);
  if (!scale.ok()) return scale.status();
  Result<int> sid = graph_->add_constant(fresh("mean_scale"), scale.value());
  if (!sid.ok()) return sid.status();
  return emit(n, OpType::kMul, {acc.value(), sid.value()}, {}, Layout::kPlain);
}

// Split: one Slice per output (sizes from the split input or attribute, else equal parts).
Status Importer::split(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape shape = graph_->value(x.value()).shape;
  int64_t axis = attr_i(n, "axis", 0);
  if (axis < -shape.rank() || axis >= shape.rank()) return err(n, "axis out of range");
  if (axis < 0) axis += shape.rank();
  const int64_t dim = shape[static_cast<int>(axis)];
  std::vector<int64_t> sizes;
  if (opset_ >= 13 && has_input(n, 1)) {
    Result<std::vector<int64_t>> v = const_ints(n, 1);
    if (!v.ok()) return v.status();
    sizes = v.value();
  } else if (opset_ < 13) {
    sizes = attr_ints(n, "split", {});
  }
  const int64_t parts = static_cast<int64_t>(n.output.size());
  if (sizes.empty()) {
    if (parts == 0 || dim % parts != 0) return err(n, "axis size " + std::to_string(dim) + " does not split into " + std::to_string(parts) + " equal parts");
    sizes.assign(static_cast<size_t>(parts), dim / parts);
  }
  if (static_cast<int64_t>(sizes.size()) != parts) return err(n, "split sizes and outputs differ in number");
  int64_t begin = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] < 0 || sizes[k] > dim - begin) return err(n, "split sizes exceed the axis size " + std::to_string(dim));
    OpAttrs attrs;
    attrs.ints["starts"] = {begin};
    attrs.ints["ends"] = {begin + sizes[k]};
    attrs.ints["axes"] = {axis};
    begin += sizes[k];
    if (n.output[k].empty()) continue;
    const std::string name = graph_->find(n.output[k]).ok() ? fresh(n.output[k]) : n.output[k];
    Result<int> id = graph_->add(OpType::kSlice, name, {x.value()}, attrs);
    if (!id.ok()) return Status(id.status().code(), "ONNX Split '" + n.output[k] + "': " + id.status().message());
    acts_[n.output[k]] = Act{id.value(), Layout::kPlain};
  }
  if (begin != dim) return err(n, "split sizes add up to " + std::to_string(begin) + ", not the axis size " + std::to_string(dim));
  return Status::Ok();
}

// DepthToSpace (DCR or CRD) and SpaceToDepth on NCHW: reshape to 6-D, transpose, reshape back.
Status Importer::depth_space(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape s = graph_->value(x.value()).shape;
  if (s.rank() != 4) return unsupported(n, "only 4-D (N, C, H, W) inputs");
  const int64_t b = attr_i(n, "blocksize", 0);
  if (b < 1 || b > 4096) return err(n, "blocksize must be in [1, 4096]");
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  OpAttrs r1, t, r2;
  if (n.op_type == "DepthToSpace") {
    if (C % (b * b) != 0) return err(n, "channels are not a multiple of blocksize^2");
    const bool crd = attr_s(n, "mode", "DCR") == "CRD";
    if (!crd && attr_s(n, "mode", "DCR") != "DCR") return err(n, "mode must be DCR or CRD");
    r1.ints["shape"] = crd ? std::vector<int64_t>{N, C / (b * b), b, b, H, W} : std::vector<int64_t>{N, b, b, C / (b * b), H, W};
    t.ints["perm"] = crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
    r2.ints["shape"] = {N, C / (b * b), H * b, W * b};
  } else {
    if (H % b != 0 || W % b != 0) return err(n, "height and width are not multiples of blocksize");
    r1.ints["shape"] = {N, C, H / b, b, W / b, b};
    t.ints["perm"] = {0, 3, 5, 1, 2, 4};
    r2.ints["shape"] = {N, C * b * b, H / b, W / b};
  }
  Result<int> a = add_plain(OpType::kReshape, "blocks", {x.value()}, r1);
  if (!a.ok()) return a.status();
  Result<int> p = add_plain(OpType::kTranspose, "blocks_moved", {a.value()}, t);
  if (!p.ok()) return p.status();
  return emit(n, OpType::kReshape, {p.value()}, r2, Layout::kPlain);
}

Status Importer::global_max_pool(const NodeProto& n) {
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const int rank = graph_->value(a->id).shape.rank();
  if (rank < 3) return err(n, "input must have rank >= 3 (N, C, spatial...)");
  OpAttrs attrs;
  attrs.numbers["keepdims"] = 1;
  std::vector<int64_t> axes;
  if (a->layout == Layout::kNHWC) axes = {1, 2};
  else for (int d = 2; d < rank; ++d) axes.push_back(d);
  attrs.ints["axes"] = axes;
  return emit(n, OpType::kReduceMax, {a->id}, attrs, a->layout);
}

// Trilu: Where(mask, x, 0) with the constant mask of the kept triangle (shape (rows, cols)).
Status Importer::trilu(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape s = graph_->value(x.value()).shape;
  if (s.rank() < 2) return err(n, "input must have rank >= 2");
  int64_t k = 0;
  if (has_input(n, 1)) {
    Result<std::vector<int64_t>> kv = const_ints(n, 1);
    if (!kv.ok()) return kv.status();
    if (kv->size() != 1) return err(n, "k must be a scalar");
    k = kv.value()[0];
  }
  const bool upper = attr_i(n, "upper", 1) != 0;
  const int64_t rows = s.dim(-2), cols = s.dim(-1);
  Result<Tensor> mask = Tensor::zeros(Shape{rows, cols}, DType::kBool);
  if (!mask.ok()) return mask.status();
  uint8_t* m = mask->mutable_data_as<uint8_t>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m[i * cols + j] = upper ? (j - i >= k) : (j - i <= k);
  Result<int> mid = graph_->add_constant(fresh("trilu_mask"), mask.value());
  if (!mid.ok()) return mid.status();
  Result<Tensor> zero = Tensor::zeros(Shape{1}, graph_->value(x.value()).dtype);
  if (!zero.ok()) return zero.status();
  Result<int> zid = graph_->add_constant(fresh("trilu_zero"), zero.value());
  if (!zid.ok()) return zid.status();
  return emit(n, OpType::kWhere, {mid.value(), x.value(), zid.value()}, {}, Layout::kPlain);
}

// InstanceNormalization: per sample and channel over the spatial axes,
// y = (x - mean) / sqrt(mean((x - mean)^2) + epsilon) * scale[c] + bias[c].
Status Importer::instance_norm(const NodeProto& n) {
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  const Shape s = graph_->value(x.value()).shape;
  if (s.rank() < 3) return err(n, "input must have rank >= 3 (N, C, spatial...)");
  const int64_t C = s[1];
  std::vector<int64_t> axes;
  for (int d = 2; d < s.rank(); ++d) axes.push_back(d);
  std::vector<int64_t> cshape{C};
  for (int d = 2; d < s.rank(); ++d) cshape.push_back(1);
  std::vector<int> params;
  for (size_t i = 1; i < 3; ++i) {
    Result<std::vector<float>> v = const_floats(n, i);
    if (!v.ok()) return v.status();
    if (static_cast<int64_t>(v->size()) != C) return err(n, "scale and B must hold one value per channel");
    Result<Tensor> t = Tensor::from_values(Shape::make(cshape).value(), v->data(), v->size());
    if (!t.ok()) return t.status();
    Result<int> id = graph_->add_constant(fresh(i == 1 ? "in_scale" : "in_bias"), t.value());
    if (!id.ok()) return id.status();
    params.push_back(id.value());
  }
  const float eps = attr_f(n, "epsilon", 1e-5f);
  Result<Tensor> et = Tensor::from_values(Shape{1}, &eps, 1);
  if (!et.ok()) return et.status();
  Result<int> eid = graph_->add_constant(fresh("in_eps"), et.value());
  if (!eid.ok()) return eid.status();
  OpAttrs mean_attrs;
  mean_attrs.ints["axes"] = axes;
  mean_attrs.numbers["keepdims"] = 1;
  Result<int> mean = add_plain(OpType::kReduceMean, "in_mean", {x.value()}, mean_attrs);
  if (!mean.ok()) return mean.status();
  Result<int> centered = add_plain(OpType::kSub, "in_centered", {x.value(), mean.value()});
  if (!centered.ok()) return centered.status();
  Result<int> sq = add_plain(OpType::kMul, "in_square", {centered.value(), centered.value()});
  if (!sq.ok()) return sq.status();
  Result<int> var = add_plain(OpType::kReduceMean, "in_var", {sq.value()}, mean_attrs);
  if (!var.ok()) return var.status();
  Result<int> ve = add_plain(OpType::kAdd, "in_var_eps", {var.value(), eid.value()});
  if (!ve.ok()) return ve.status();
  Result<int> sd = add_plain(OpType::kSqrt, "in_std", {ve.value()});
  if (!sd.ok()) return sd.status();
  Result<int> normed = add_plain(OpType::kDiv, "in_normed", {centered.value(), sd.value()});
  if (!normed.ok()) return normed.status();
  Result<int> scaled = add_plain(OpType::kMul, "in_scaled", {normed.value(), params[0]});
  if (!scaled.ok()) return scaled.status();
  return emit(n, OpType::kAdd, {scaled.value(), params[1]}, {}, Layout::kPlain);
}

Status Importer::top_k(const NodeProto& n) {
  int64_t k = attr_i(n, "k", -1);  // opset 1-9: an attribute; 10+: input 1
  if (opset_ >= 10) {
    Result<std::vector<int64_t>> kv = const_ints(n, 1);
    if (!kv.ok()) return kv.status();
    if (kv->size() != 1) return err(n, "K must hold one value");
    k = kv.value()[0];
  }
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  attrs.numbers["k"] = static_cast<double>(k);
  attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", -1));
  attrs.numbers["largest"] = static_cast<double>(attr_i(n, "largest", 1));
  if (attr_i(n, "sorted", 1) == 0) attrs.numbers["sorted"] = 0;  // sorted anyway (allowed: order is unspecified)
  Result<std::vector<int>> outs = graph_->add_node(OpType::kTopK, fresh("top_k"), {x.value()}, attrs);
  if (!outs.ok()) return Status(outs.status().code(), "ONNX TopK '" + n.output[0] + "': " + outs.status().message());
  for (size_t i = 0; i < 2 && i < n.output.size(); ++i)
    if (!n.output[i].empty()) acts_[n.output[i]] = Act{outs.value()[i], Layout::kPlain};
  return Status::Ok();
}

Status Importer::gather_elements(const NodeProto& n) {
  Result<int> d = as_layout(n, 0, Layout::kPlain);
  if (!d.ok()) return d.status();
  Result<int> i = as_layout(n, 1, Layout::kPlain);
  if (!i.ok()) return i.status();
  OpAttrs attrs;
  attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", 0));
  return emit(n, OpType::kGatherElements, {d.value(), i.value()}, attrs, Layout::kPlain);
}

// ScatterElements (and Scatter, its name before opset 11) and ScatterND.
Status Importer::scatter(const NodeProto& n) {
  if (n.input.size() != 3) return err(n, "takes data, indices and updates");
  std::vector<int> ids;
  for (size_t i = 0; i < 3; ++i) {
    Result<int> id = as_layout(n, i, Layout::kPlain);
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
  }
  OpAttrs attrs;
  const std::string reduction = attr_s(n, "reduction", "none");
  if (reduction != "none") attrs.strings["reduction"] = reduction;
  if (n.op_type == "ScatterND") return emit(n, OpType::kScatterND, ids, attrs, Layout::kPlain);
  attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", 0));
  return emit(n, OpType::kScatterElements, ids, attrs, Layout::kPlain);
}

Status Importer::constant_op(const NodeProto& n) {
  if (n.attribute.empty()) return err(n, "has no value");
  const AttributeProto& a = n.attribute[0];
  Const c;
  if (a.name == "value") {
    Result<int64_t> elements = onnx::num_elements(a.t);
    if (!elements.ok()) return Status(elements.status().code(), "ONNX Constant '" + n.output[0] + "': " + elements.status().message());
    VITRINE_RETURN_IF_ERROR(check_limit("ONNX Constant '" + n.output[0] + "'", elements.value(), "elements",
                                        default_limits().max_tensor_elements, "max_tensor_elements"));
    Result<Const> t = to_const(a.t);
    if (!t.ok()) return Status(t.status().code(), "ONNX Constant '" + n.output[0] + "': " + t.status().message());
    c = t.value();
  } else if (a.name == "value_float") {
    c.f = {a.f};
  } else if (a.name == "value_floats") {
    c.f = a.floats;
    c.dims = {static_cast<int64_t>(a.floats.size())};
  } else if (a.name == "value_int") {
    c.is_int = true;
    c.i = {a.i};
  } else if (a.name == "value_ints") {
    c.is_int = true;
    c.i = a.ints;
    c.dims = {static_cast<int64_t>(a.ints.size())};
  } else {
    return unsupported(n, "attribute '" + a.name + "'");
  }
  consts_[n.output[0]] = c;
  return Status::Ok();
}

Status Importer::shape_op(const NodeProto& n) {
  std::vector<int64_t> dims;
  if (const Const* c = constant(n.input[0])) dims = c->dims;
  else {
    Result<Act> a = act(n, 0);
    if (!a.ok()) return a.status();
    dims = onnx_dims(a.value());
    reads_shape();
  }
  // Opset 15: start / end select a range of dimensions (negative counts from the back; clamped).
  const int64_t rank = static_cast<int64_t>(dims.size());
  auto clamp_axis = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp_axis(attr_i(n, "start", 0)), end = clamp_axis(attr_i(n, "end", rank));
  dims = start < end ? std::vector<int64_t>(dims.begin() + start, dims.begin() + end) : std::vector<int64_t>{};
  Const c;
  c.is_int = true;
  c.i = dims;
  c.dims = {static_cast<int64_t>(dims.size())};
  consts_[n.output[0]] = c;
  return Status::Ok();
}

Status Importer::gather(const NodeProto& n) {
  const Const* data = has_input(n, 0) ? constant(n.input[0]) : nullptr;
  const Const* idx = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  if (!data || !idx || !idx->is_int || data->dims.size() != 1 || attr_i(n, "axis", 0) != 0) {
    // At run time: any data, integer indices (an embedding lookup, a token's row, ...).
    Result<int> d = as_layout(n, 0, Layout::kPlain);
    if (!d.ok()) return d.status();
    Result<int> i = as_layout(n, 1, Layout::kPlain);
    if (!i.ok()) return i.status();
    OpAttrs attrs;
    attrs.numbers["axis"] = static_cast<double>(attr_i(n, "axis", 0));
    return emit(n, OpType::kGather, {d.value(), i.value()}, attrs, Layout::kPlain);
  }
  Const c;
  c.is_int = data->is_int;
  c.onnx_type = data->onnx_type;
  c.dims = idx->dims;
  const int64_t size = data->count();
  for (int64_t i : idx->i) {
    if (i < -size || i >= size) return err(n, "index " + std::to_string(i) + " out of range");
    size_t k = static_cast<size_t>(i < 0 ? i + size : i);
    if (c.is_int) c.i.push_back(data->i[k]);
    else c.f.push_back(data->f[k]);
  }
  consts_[n.output[0]] = c;
  return Status::Ok();
}

Status Importer::pad(const NodeProto& n) {
  const std::string mode = attr_s(n, "mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") return unsupported(n, "mode '" + mode + "'");
  std::vector<int64_t> pads;
  float value = 0.0f;
  if (opset_ >= 11) {
    Result<std::vector<int64_t>> p = const_ints(n, 1);
    if (!p.ok()) return p.status();
    pads = p.value();
    if (has_input(n, 2)) {
      Result<std::vector<float>> v = const_floats(n, 2);
      if (!v.ok()) return v.status();
      if (!v->empty()) value = v.value()[0];
    }
    if (has_input(n, 3)) return unsupported(n, "the axes input");
  } else {
    pads = attr_ints(n, "pads", {});
    value = attr_f(n, "value", 0.0f);
  }
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const int rank = graph_->value(a->id).shape.rank();
  if (static_cast<int>(pads.size()) != 2 * rank) return err(n, "pads must hold 2 × rank values");
  OpAttrs attrs;
  attrs.numbers["value"] = value;
  if (mode != "constant") attrs.strings["mode"] = mode;
  if (a->layout == Layout::kNHWC) {  // map NCHW pads onto NHWC axes
    std::vector<int64_t> p(8);
    for (int d = 0; d < 4; ++d) {
      p[kAxisNchwToNhwc[d]] = pads[d];
      p[kAxisNchwToNhwc[d] + 4] = pads[d + 4];
    }
    attrs.ints["pads"] = p;
  } else {
    attrs.ints["pads"] = pads;
  }
  return emit(n, OpType::kPad, {a->id}, attrs, a->layout);
}

Status Importer::reduce(const NodeProto& n) {
  static const std::map<std::string, OpType> types = {
      {"ReduceMean", OpType::kReduceMean}, {"ReduceSum", OpType::kReduceSum}, {"ReduceMax", OpType::kReduceMax},
      {"ReduceMin", OpType::kReduceMin}, {"ReduceSumSquare", OpType::kReduceSumSquare}, {"ReduceL2", OpType::kReduceL2},
      {"ReduceProd", OpType::kReduceProd}, {"ReduceL1", OpType::kReduceL1}, {"ReduceLogSum", OpType::kReduceLogSum},
      {"ReduceLogSumExp", OpType::kReduceLogSumExp}};
  const OpType type = types.at(n.op_type);
  Result<Act> a = act(n, 0);
  if (!a.ok()) return a.status();
  const int rank = graph_->value(a->id).shape.rank();
  std::vector<int64_t> axes = attr_ints(n, "axes", {});
  // Axes became an input: ReduceSum at opset 13, the others at 18.
  const bool axes_input = opset_ >= (type == OpType::kReduceSum ? 13 : 18);
  if (axes_input && has_input(n, 1)) {
    Result<std::vector<int64_t>> v = const_ints(n, 1);
    if (!v.ok()) return v.status();
    axes = v.value();
  }
  if (axes_input && axes.empty() && attr_i(n, "noop_with_empty_axes", 0) != 0) return alias(n);
  const bool keep = attr_i(n, "keepdims", 1) != 0;
  for (int64_t& ax : axes) {
    if (ax < -rank || ax >= rank) return err(n, "axis out of range");
    if (ax < 0) ax += rank;
  }
  std::sort(axes.begin(), axes.end());
  OpAttrs attrs;
  attrs.numbers["keepdims"] = keep ? 1 : 0;
  if (a->layout == Layout::kNHWC && (keep || axes == std::vector<int64_t>{2, 3})) {
    std::vector<int64_t> mapped;
    for (int64_t ax : axes) mapped.push_back(kAxisNchwToNhwc[ax]);
    if (!axes.empty()) attrs.ints["axes"] = mapped;
    return emit(n, type, {a->id}, attrs, keep ? Layout::kNHWC : Layout::kPlain);
  }
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  if (!axes.empty()) attrs.ints["axes"] = axes;
  return emit(n, type, {x.value()}, attrs, Layout::kPlain);
}

Status Importer::slice(const NodeProto& n) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset_ >= 10) {
    Result<std::vector<int64_t>> s = const_ints(n, 1), e = const_ints(n, 2);
    if (!s.ok()) return s.status();
    if (!e.ok()) return e.status();
    starts = s.value();
    ends = e.value();
    if (has_input(n, 3)) {
      Result<std::vector<int64_t>> v = const_ints(n, 3);
      if (!v.ok()) return v.status();
      axes = v.value();
    }
    if (has_input(n, 4)) {
      Result<std::vector<int64_t>> v = const_ints(n, 4);
      if (!v.ok()) return v.status();
      steps = v.value();
    }
  } else {
    starts = attr_ints(n, "starts", {});
    ends = attr_ints(n, "ends", {});
    axes = attr_ints(n, "axes", {});
  }
  for (int64_t s : steps)
    if (s != 1) return unsupported(n, "steps other than 1");
  if (starts.empty() || starts.size() != ends.size()) {
    return err(n, "starts and ends must hold the same, non-zero number of values (got " +
                      std::to_string(starts.size()) + " and " + std::to_string(ends.size()) + ")");
  }
  if (!axes.empty() && axes.size() != starts.size()) {
    return err(n, "axes must hold as many values as starts (" + std::to_string(starts.size()) + "), got " +
                      std::to_string(axes.size()));
  }
  if (const Const* c = constant(n.input[0]); c && c->dims.size() == 1 && (axes.empty() || axes == std::vector<int64_t>{0})) {
    const int64_t size = c->count();
    auto clampi = [size](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + size : v, 0, size); };
    int64_t b = clampi(starts[0]), e = clampi(ends[0]);
    Const out;
    out.is_int = c->is_int;
    out.onnx_type = c->onnx_type;
    for (int64_t k = b; k < e; ++k) {
      if (c->is_int) out.i.push_back(c->i[static_cast<size_t>(k)]);
      else out.f.push_back(c->f[static_cast<size_t>(k)]);
    }
    out.dims = {std::max<int64_t>(0, e - b)};
    consts_[n.output[0]] = out;
    return Status::Ok();
  }
  Result<int> x = as_layout(n, 0, Layout::kPlain);
  if (!x.ok()) return x.status();
  OpAttrs attrs;
  attrs.ints["starts"] = starts;
  attrs.ints["ends"] = ends;
  if (!axes.empty()) attrs.ints["axes"] = axes;
  return emit(n, OpType::kSlice, {x.value()}, attrs, Layout::kPlain);
}

// ---- driver ----------------------------------------------------------------------------------

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
  std::set<std::string> missing;
  for (const NodeProto& n : g.node) {
    if ((n.domain.empty() || n.domain == "ai.onnx") && handlers().count(n.op_type)) continue;
    missing.insert(n.domain.empty() ? n.op_type : n.domain + "." + n.op_type);
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    return Status::Unimplemented("ONNX model uses unsupported ops: " + list);
  }
  const Limits& limits = default_limits();
  VITRINE_RETURN_IF_ERROR(check_limit("ONNX model", static_cast<int64_t>(g.node.size()), "nodes", limits.max_nodes,
                                      "max_nodes"));
  for (const NodeProto& n : g.node) {
    VITRINE_RETURN_IF_ERROR(check_limit("ONNX " + n.op_type + " node '" + (n.name.empty() ? (n.output.empty() ? std::string() : n.output[0]) : n.name) + "'",
                                        static_cast<int64_t>(n.attribute.size()), "attributes",
                                        limits.max_attributes, "max_attributes"));
  }
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
    if (info_) info_->declared_dims.push_back(in.has_shape ? in.dims : std::vector<int64_t>{});
    auto it = options_.input_shapes.find(in.name);
    if (it != options_.input_shapes.end()) {  // a given shape: the declared rank, the declared fixed sizes
      const std::vector<int64_t>& given = it->second;
      std::string what = "input_shapes['" + in.name + "'] = (";
      for (size_t d = 0; d < given.size(); ++d) what += (d ? ", " : "") + std::to_string(given[d]);
      what += ")";
      for (int64_t v : given)
        if (v < 1) return Status::InvalidArgument(what + ": every dimension must be >= 1");
      if (in.has_shape && given.size() != dims.size()) {
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
  for (const NodeProto& n : g.node) {
    for (const std::string& in : n.input) {
      uses_[in]++;
      std::vector<const NodeProto*>& readers = consumers_[in];
      if (readers.empty() || readers.back() != &n) readers.push_back(&n);
    }
  }
  for (const onnx::ValueInfoProto& out : g.output) uses_[out.name]++;
  for (const NodeProto& n : g.node)
    for (const std::string& out : n.output) producers_[out] = &n;
  for (const NodeProto& n : g.node) {
    if (fused_.count(&n)) continue;
    if (n.output.empty()) return Status::InvalidArgument("ONNX " + n.op_type + " node has no outputs");
    if (n.input.empty() && n.op_type != "Constant") return err(n, "has no inputs");
    NodeProto fused;
    std::vector<const NodeProto*> parts;
    if ((n.op_type == "ReduceMean" && fuse_layer_norm(n, &fused, &parts)) || (n.op_type == "Div" && fuse_gelu(n, &fused, &parts))) {
      fused_.insert(parts.begin(), parts.end());
      VITRINE_RETURN_IF_ERROR(fused.op_type == "Gelu" ? unary(fused) : layer_norm(fused));
      continue;
    }
    VITRINE_RETURN_IF_ERROR((this->*handlers().at(n.op_type))(n));
  }
  std::set<int> output_values;
  for (const onnx::ValueInfoProto& out : g.output) {
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
  if (graph_->outputs().empty()) return Status::InvalidArgument("ONNX graph has no outputs");
  return graph_;
}

}  // namespace

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
