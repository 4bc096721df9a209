// ONNX import, convolutions, pooling and normalization layers: Conv (1-D and 2-D), ConvTranspose, BatchNormalization, pooling, InstanceNormalization.
// (The importer: onnx_importer.h; its driver and op table: onnx_import.cc.)
#include "onnx_importer.h"

namespace vitrine::onnx_importer {

void Importer::register_conv_ops(HandlerTable* table) {
  table->insert({
      {"AveragePool", &Importer::pool},
      {"BatchNormalization", &Importer::batch_norm},
      {"Conv", &Importer::conv},
      {"GlobalAveragePool", &Importer::global_pool},
      {"MaxPool", &Importer::pool},
      {"ConvTranspose", &Importer::conv_transpose},
      {"GlobalMaxPool", &Importer::global_max_pool},
      {"InstanceNormalization", &Importer::instance_norm},
  });
}

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
        const int64_t kLimit = int64_t{1} << 31;  // the arithmetic below then stays far inside int64
        if (in > kLimit || begin < 0 || begin > kLimit || end < 0 || end > kLimit || k[d] > kLimit || strides[d] > kLimit) {
          return err(n, "ceil_mode with sizes, pads, kernel or strides above 2^31");
        }
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

}  // namespace vitrine::onnx_importer
