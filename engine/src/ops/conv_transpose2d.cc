// ConvTranspose2D (GAN generators, decoders): the gradient of conv2d with respect to its input.
//   inputs: x (N, H, W, C), W (O, KH, KW, C / groups), b (O) optional
//   attrs:  strides = [1, 1], pads [top, left, bottom, right] = 0, output_padding [h, w] = 0,
//           dilations = [1, 1], groups = 1
//   output: (N, (H - 1)·sh - top - bottom + dh·(KH - 1) + 1 + output_padding_h, ..., O)
// Lowered to XNNPACK's deconvolution.
#include <cmath>

#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

struct DeconvParams {
  int64_t sh, sw, dh, dw, top, left, bottom, right, ah, aw, groups;
};

Result<DeconvParams> deconv_params(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("conv_transpose2d", {"strides", "pads", "output_padding", "dilations", "groups"}));
  Result<std::vector<int64_t>> s = a.int_list("strides", 2, {1, 1});
  Result<std::vector<int64_t>> d = a.int_list("dilations", 2, {1, 1});
  Result<std::vector<int64_t>> p = a.int_list("pads", 4, {0, 0, 0, 0});
  Result<std::vector<int64_t>> o = a.int_list("output_padding", 2, {0, 0});
  Result<int64_t> g = a.integer("groups", 1);
  for (const Status& st : {s.status(), d.status(), p.status(), o.status(), g.status()})
    if (!st.ok()) return st;
  DeconvParams c{s.value()[0], s.value()[1], d.value()[0], d.value()[1], p.value()[0], p.value()[1], p.value()[2],
                 p.value()[3], o.value()[0], o.value()[1], g.value()};
  if (c.sh < 1 || c.sw < 1 || c.dh < 1 || c.dw < 1 || c.groups < 1) {
    return op_error("conv_transpose2d", "strides, dilations and groups must be >= 1");
  }
  if (c.top < 0 || c.left < 0 || c.bottom < 0 || c.right < 0) return op_error("conv_transpose2d", "pads must be >= 0");
  if (c.ah < 0 || c.aw < 0 || c.ah >= std::max(c.sh, c.dh) || c.aw >= std::max(c.sw, c.dw)) {
    return op_error("conv_transpose2d", "output_padding must be >= 0 and smaller than the stride or dilation");
  }
  return c;
}

Result<std::vector<Shape>> infer_deconv(const std::vector<Shape>& in, const OpAttrs& attrs) {
  Result<DeconvParams> p = deconv_params(attrs);
  if (!p.ok()) return p.status();
  const DeconvParams& c = p.value();
  const Shape &x = in[0], &w = in[1];
  if (x.rank() != 4) return op_error("conv_transpose2d", "input must be (N, H, W, C), got " + x.to_string());
  if (w.rank() != 4) return op_error("conv_transpose2d", "weights must be (O, KH, KW, C/groups), got " + w.to_string());
  if (w[0] % c.groups != 0 || w[3] * c.groups != x[3]) {
    return op_error("conv_transpose2d", "input has " + std::to_string(x[3]) + " channels, weights " + w.to_string() +
                                            " with " + std::to_string(c.groups) + " groups expect " + std::to_string(w[3] * c.groups));
  }
  if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != w[0])) {
    return op_error("conv_transpose2d", "bias must be (" + std::to_string(w[0]) + "), got " + in[2].to_string());
  }
  const int64_t oh = (x[1] - 1) * c.sh - c.top - c.bottom + c.dh * (w[1] - 1) + 1 + c.ah;
  const int64_t ow = (x[2] - 1) * c.sw - c.left - c.right + c.dw * (w[2] - 1) + 1 + c.aw;
  if (oh < 1 || ow < 1) return op_error("conv_transpose2d", "pads leave no output");
  return one_shape({x[0], oh, ow, w[0]});
}

Status lower_deconv(XnnLowering& l) {
  DeconvParams c = deconv_params(*l.attrs).value();
  if (!l.constants[1] || (l.inputs.size() == 3 && !l.constants[2])) {
    return op_error(l.node_name, "weights and bias must be constants");
  }
  const Shape& w = l.input_shapes[1];
  return l.check(xnn_define_deconvolution_2d(
                     l.subgraph, static_cast<uint32_t>(c.top), static_cast<uint32_t>(c.right),
                     static_cast<uint32_t>(c.bottom), static_cast<uint32_t>(c.left), static_cast<uint32_t>(c.ah),
                     static_cast<uint32_t>(c.aw), static_cast<uint32_t>(w[1]), static_cast<uint32_t>(w[2]),
                     static_cast<uint32_t>(c.sh), static_cast<uint32_t>(c.sw), static_cast<uint32_t>(c.dh),
                     static_cast<uint32_t>(c.dw), static_cast<uint32_t>(c.groups), static_cast<size_t>(w[3]),
                     static_cast<size_t>(w[0] / c.groups), -INFINITY, INFINITY, l.inputs[0], l.inputs[1],
                     l.inputs.size() == 3 ? l.inputs[2] : XNN_INVALID_VALUE_ID, l.outputs[0], 0),
                 "define deconvolution");
}

}  // namespace

const OpInfo kConvTranspose2DInfo{OpType::kConvTranspose2D, 34, "conv_transpose2d", 2, 3, &infer_deconv, &lower_deconv, nullptr};

}  // namespace vitrine
