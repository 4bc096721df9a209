// The ONNX importer's internals, shared by its files: onnx_import.cc (the driver and the op table),
// onnx_import_util.cc (constants, layouts, emitting nodes) and one file per op family, each
// registering its own ops (onnx_import_conv.cc, _math.cc, _rnn.cc, _shape.cc).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../core/checked.h"
#include "../ops/typed_util.h"
#include "onnx_model.h"
#include "vitrine/limits.h"
#include "vitrine/onnx_import.h"

namespace vitrine::onnx_importer {

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

inline constexpr int64_t kToNhwc[4] = {0, 2, 3, 1};
inline constexpr int64_t kToNchw[4] = {0, 3, 1, 2};
inline constexpr int64_t kAxisNchwToNhwc[4] = {0, 3, 1, 2};  // NCHW axis -> NHWC axis

class Importer {
 public:
  Importer(const onnx::ModelProto& model, const OnnxImportOptions& options, OnnxImportInfo* info)
      : model_(model), options_(options), info_(info), opset_(onnx::opset_version(model)) {}

  Result<std::shared_ptr<Graph>> run();

  // One handler per supported ONNX op (onnx_supported_ops() lists this table's keys).
  using Handler = Status (Importer::*)(const NodeProto&);
  static const std::map<std::string, Handler>& handlers();
  using HandlerTable = std::map<std::string, Handler>;
  // Each op family's file adds its rows (op type -> handler).
  static void register_conv_ops(HandlerTable* table);
  static void register_math_ops(HandlerTable* table);
  static void register_rnn_ops(HandlerTable* table);
  static void register_shape_ops(HandlerTable* table);
  static void register_control_ops(HandlerTable* table);

 private:
  // --- driver (onnx_import.cc) ------------------------------------------------------------------
  // Decodes `g`'s initializers into constants (counted against the model's byte budget).
  Status add_initializers(const onnx::GraphProto& g);
  // Counts each value's readers, including reads from inside subgraphs (which count for the node
  // holding the subgraph), and records each value's producer.
  void count_uses(const onnx::GraphProto& g, int depth);
  // Imports `g`'s nodes in order (a branch inlined into this graph, or this graph's own).
  Status import_nodes(const onnx::GraphProto& g);
  // Publishes `g`'s outputs as this graph's outputs (ONNX layout).
  Status set_outputs(const onnx::GraphProto& g);
  // In an importer made for a branch: makes an outer-scope value `name` known here, as a copy of
  // the outer constant or as a new graph input fed by the outer value (recorded in captures_).
  Status pull(const std::string& name);
  // In an importer made for a branch: imports it as a graph of its own.
  Result<std::shared_ptr<Graph>> import_branch(const onnx::GraphProto& g);

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
  // If: a condition known at import inlines the branch it picks (so branches may differ in shapes);
  // otherwise both branches become graphs of an If node, which picks one per run.
  Status if_op(const NodeProto& n);
  // Loop: unrolled at import when its trip count and every condition are known then (constants,
  // shapes); scan outputs are stacked. Others are refused with the reason.
  Status loop_op(const NodeProto& n);
  static constexpr int64_t kMaxUnroll = 256;
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
  Importer* parent_ = nullptr;   // the importer of the enclosing graph (branch importers only)
  std::vector<int> captures_;    // outer values this branch reads, in the order of its graph inputs
  int depth_ = 0;                // branch nesting
  std::unique_ptr<Context> fold_ctx_;     // runs nodes whose inputs are all constants (created on first use)
  std::map<std::string, int> const_ids_;  // ONNX constant name -> its graph constant (act())
};

// Helpers (onnx_import_util.cc).
Result<DType> engine_dtype(int32_t onnx_type, const std::string& what);
Result<Tensor> typed_tensor(const Const& c, const std::string& what);
Result<Const> to_const(const onnx::TensorProto& t);

}  // namespace vitrine::onnx_importer
