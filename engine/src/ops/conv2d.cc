// Conv2D: 2-D convolution over NHWC images with stride, padding, dilation and groups (depthwise
// when groups == channels). Lowered to XNNPACK's convolution.
//   inputs: x (N, H, W, C), W (O, KH, KW, C / groups), b (O) optional
//   attrs:  strides [sh, sw] = [1, 1], dilations [dh, dw] = [1, 1],
//           pads [top, left, bottom, right] = 0, groups = 1
//   output: (N, OH, OW, O), OH = (H + top + bottom - dh (KH - 1) - 1) / sh + 1
#include <cmath>

#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

struct ConvParams {
  int64_t sh, sw, dh, dw, top, left, bottom, right, groups;
};

Result<ConvParams> conv_params(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("conv2d", {"strides", "dilations", "pads", "groups"}));
  Result<std::vector<int64_t>> s = a.int_list("strides", 2, {1, 1});
  Result<std::vector<int64_t>> d = a.int_list("dilations", 2, {1, 1});
  Result<std::vector<int64_t>> p = a.int_list("pads", 4, {0, 0, 0, 0});
  Result<int64_t> g = a.integer("groups", 1);
  if (!s.ok()) return s.status();
  if (!d.ok()) return d.status();
  if (!p.ok()) return p.status();
  if (!g.ok()) return g.status();
  ConvParams c{s.value()[0], s.value()[1], d.value()[0], d.value()[1], p.value()[0], p.value()[1],
               p.value()[2], p.value()[3], g.value()};
  if (c.sh < 1 || c.sw < 1 || c.dh < 1 || c.dw < 1) return op_error("conv2d", "strides and dilations must be >= 1");
  if (c.top < 0 || c.left < 0 || c.bottom < 0 || c.right < 0) return op_error("conv2d", "pads must be >= 0");
  if (c.groups < 1) return op_error("conv2d", "groups must be >= 1");
  return c;
}

Result<std::vector<Shape>> infer_conv2d(const std::vector<Shape>& in, const OpAttrs& attrs) {
  Result<ConvParams> p = conv_params(attrs);
  if (!p.ok()) return p.status();
  const ConvParams& c = p.value();
  const Shape& x = in[0];
  const Shape& w = in[1];
  if (x.rank() != 4) return op_error("conv2d", "input must be (N, H, W, C), got " + x.to_string());
  if (w.rank() != 4) return op_error("conv2d", "weights must be (O, KH, KW, C/groups), got " + w.to_string());
  if (x[3] % c.groups != 0 || w[0] % c.groups != 0) {
    return op_error("conv2d", std::to_string(c.groups) + " groups do not divide " + std::to_string(x[3]) +
                                  " input and " + std::to_string(w[0]) + " output channels");
  }
  if (w[3] * c.groups != x[3]) {
    return op_error("conv2d", "input has " + std::to_string(x[3]) + " channels, weights " + w.to_string() +
                                  " with " + std::to_string(c.groups) + " groups expect " +
                                  std::to_string(w[3] * c.groups));
  }
  if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != w[0])) {
    return op_error("conv2d", "bias must be (" + std::to_string(w[0]) + "), got " + in[2].to_string());
  }
  const int64_t eff_h = c.dh * (w[1] - 1) + 1, eff_w = c.dw * (w[2] - 1) + 1;
  const int64_t ph = x[1] + c.top + c.bottom, pw = x[2] + c.left + c.right;
  if (w[1] < 1 || w[2] < 1 || ph < eff_h || pw < eff_w) {
    return op_error("conv2d", "kernel " + std::to_string(w[1]) + "x" + std::to_string(w[2]) +
                                  " does not fit the padded " + std::to_string(ph) + "x" + std::to_string(pw) +
                                  " input");
  }
  return one_shape({x[0], (ph - eff_h) / c.sh + 1, (pw - eff_w) / c.sw + 1, w[0]});
}

Status lower_conv2d(XnnLowering& l) {
  ConvParams c = conv_params(*l.attrs).value();
  if (!l.constants[1] || (l.inputs.size() == 3 && !l.constants[2])) {
    return op_error(l.node_name, "weights and bias must be constants");
  }
  const Shape& w = l.input_shapes[1];
  return l.check(
      xnn_define_convolution_2d(
          l.subgraph, static_cast<uint32_t>(c.top), static_cast<uint32_t>(c.right),
          static_cast<uint32_t>(c.bottom), static_cast<uint32_t>(c.left), static_cast<uint32_t>(w[1]),
          static_cast<uint32_t>(w[2]), static_cast<uint32_t>(c.sh), static_cast<uint32_t>(c.sw),
          static_cast<uint32_t>(c.dh), static_cast<uint32_t>(c.dw), static_cast<uint32_t>(c.groups),
          static_cast<size_t>(w[3]), static_cast<size_t>(w[0] / c.groups), -INFINITY, INFINITY,
          l.inputs[0], l.inputs[1], l.inputs.size() == 3 ? l.inputs[2] : XNN_INVALID_VALUE_ID, l.outputs[0], 0),
      "define convolution");
}

}  // namespace

const OpInfo kConv2DInfo{OpType::kConv2D, 1, "conv2d", 2, 3, &infer_conv2d, &lower_conv2d, nullptr};

}  // namespace vitrine
