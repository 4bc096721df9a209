// ONNX import, elementwise math, matrix products, reductions and fusions: unary and binary math, Clip, Cast, comparisons and logic, Gemm, MatMul, Einsum, Softmax, LayerNormalization (and the fusions that find it and GELU), reductions, ArgMax/ArgMin, CumSum, Hardmax, TopK.
// (The importer: onnx_importer.h; its driver and op table: onnx_import.cc.)
#include "onnx_importer.h"

namespace vitrine::onnx_importer {

void Importer::register_math_ops(HandlerTable* table) {
  table->insert({
      {"Add", &Importer::binary},
      {"Clip", &Importer::clip},
      {"Div", &Importer::binary},
      {"Gemm", &Importer::gemm},
      {"Einsum", &Importer::einsum},
      {"HardSigmoid", &Importer::hard_sigmoid},
      {"HardSwish", &Importer::unary},
      {"LeakyRelu", &Importer::unary},
      {"MatMul", &Importer::matmul},
      {"Mul", &Importer::binary},
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
      {"Sigmoid", &Importer::unary},
      {"Softmax", &Importer::softmax},
      {"Sub", &Importer::binary},
      {"Tanh", &Importer::unary},
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
      {"CumSum", &Importer::cum_sum},
      {"Hardmax", &Importer::hardmax},
      {"Sum", &Importer::sum_mean},
      {"Mean", &Importer::sum_mean},
      {"TopK", &Importer::top_k},
  });
}

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
        visit_dtype(dtype, [&](auto tag) { t.mutable_data_as<decltype(tag)>()[0] = saturate_cast<decltype(tag)>(v); });
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

}  // namespace vitrine::onnx_importer
