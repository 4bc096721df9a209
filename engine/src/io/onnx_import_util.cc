// ONNX import helpers: element types, constants, layouts, constant folding and emitting nodes.
#include "onnx_importer.h"

namespace vitrine::onnx_importer {


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


}  // namespace vitrine::onnx_importer
