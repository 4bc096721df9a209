// ONNX import, shapes and data movement: Reshape, Flatten, Squeeze/Unsqueeze, Concat, Transpose, Slice, Split, Gather, Scatter, Pad, Resize, Expand, Tile, Trilu, DepthToSpace/SpaceToDepth, Constant, Shape, Size, ConstantOfShape, Range, Identity, Dropout.
// (The importer: onnx_importer.h; its driver and op table: onnx_import.cc.)
#include "onnx_importer.h"

namespace vitrine::onnx_importer {

void Importer::register_shape_ops(HandlerTable* table) {
  table->insert({
      {"Concat", &Importer::concat},
      {"Constant", &Importer::constant_op},
      {"Dropout", &Importer::alias},
      {"Flatten", &Importer::flatten},
      {"Gather", &Importer::gather},
      {"Identity", &Importer::alias},
      {"Pad", &Importer::pad},
      {"Reshape", &Importer::reshape},
      {"Shape", &Importer::shape_op},
      {"Slice", &Importer::slice},
      {"Squeeze", &Importer::squeeze},
      {"Transpose", &Importer::transpose_op},
      {"Unsqueeze", &Importer::squeeze},
      {"Resize", &Importer::resize},
      {"Upsample", &Importer::resize},
      {"Size", &Importer::size_op},
      {"ConstantOfShape", &Importer::constant_of_shape},
      {"Range", &Importer::range_op},
      {"Expand", &Importer::expand_op},
      {"Tile", &Importer::tile_op},
      {"Split", &Importer::split},
      {"DepthToSpace", &Importer::depth_space},
      {"SpaceToDepth", &Importer::depth_space},
      {"Trilu", &Importer::trilu},
      {"GatherElements", &Importer::gather_elements},
      {"ScatterElements", &Importer::scatter},
      {"Scatter", &Importer::scatter},
      {"ScatterND", &Importer::scatter},
  });
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
    if (s == 0) return err(n, "a step of 0");
  if (!steps.empty() && steps.size() != starts.size()) {
    return err(n, "steps must hold as many values as starts (" + std::to_string(starts.size()) + "), got " +
                      std::to_string(steps.size()));
  }
  bool unit_steps = true;
  for (int64_t s : steps) unit_steps = unit_steps && s == 1;
  if (starts.empty() || starts.size() != ends.size()) {
    return err(n, "starts and ends must hold the same, non-zero number of values (got " +
                      std::to_string(starts.size()) + " and " + std::to_string(ends.size()) + ")");
  }
  if (!axes.empty() && axes.size() != starts.size()) {
    return err(n, "axes must hold as many values as starts (" + std::to_string(starts.size()) + "), got " +
                      std::to_string(axes.size()));
  }
  if (const Const* c = constant(n.input[0]); c && unit_steps && c->dims.size() == 1 && (axes.empty() || axes == std::vector<int64_t>{0})) {
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
  if (!unit_steps) attrs.ints["steps"] = steps;
  return emit(n, OpType::kSlice, {x.value()}, attrs, Layout::kPlain);
}

}  // namespace vitrine::onnx_importer
