// ConvTranspose2D (GAN generators, decoders): the gradient of conv2d with respect to its input.
//   inputs: x (N, H, W, C), W (O, KH, KW, C / groups), b (O) optional
//   attrs:  strides = [1, 1], pads [top, left, bottom, right] = 0, output_padding [h, w] = 0,
//           dilations = [1, 1], groups = 1
//   output: (N, (H - 1)·sh - top - bottom + dh·(KH - 1) + 1 + output_padding_h, ..., O)
// Lowered to XNNPACK's deconvolution.
// Backward: conv_transpose2d is the adjoint of conv2d with W'[c, ky, kx, o] = W[o, ky, kx, c], so
// with cols = im2col(dy) over the input grid, per group (the batch of XNNPACK's batch matrix
// multiply): dx_g = cols_g · W'_gᵀ (a conv2d forward of dy) and dW'_g = x_gᵀ · cols_g; db = Σ dy.
#include <cmath>

#include "xnn_lowering.h"
#include "../core/checked.h"
#include "conv_util.h"
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
  for (int64_t v : {c.sh, c.sw, c.dh, c.dw, c.top, c.left, c.bottom, c.right, c.groups}) {
    // Below 2^31 (XNNPACK takes 32-bit sizes); with dimensions below 2^40 the output size
    // arithmetic then stays far inside int64.
    if (v > INT32_MAX) return op_error("conv_transpose2d", "strides, dilations, pads and groups must be below 2^31");
  }
  if (c.top < 0 || c.left < 0 || c.bottom < 0 || c.right < 0) return op_error("conv_transpose2d", "pads must be >= 0");
  if (c.ah < 0 || c.aw < 0 || c.ah >= c.sh || c.aw >= c.sw) {  // XNNPACK: adjustment < stride
    return op_error("conv_transpose2d", "output_padding must be >= 0 and smaller than the stride");
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
  int64_t expected_channels = 0;
  if (w[0] % c.groups != 0 || !checked_mul(w[3], c.groups, &expected_channels) || expected_channels != x[3]) {
    return op_error("conv_transpose2d", "input has " + std::to_string(x[3]) + " channels, weights " + w.to_string() +
                                            " with " + std::to_string(c.groups) + " groups expect " + std::to_string(w[3] * c.groups));
  }
  if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != w[0])) {
    return op_error("conv_transpose2d", "bias must be (" + std::to_string(w[0]) + "), got " + in[2].to_string());
  }
  // (in - 1)·s - pads + d·(k - 1) + 1 + output_padding, each step checked.
  auto out_size = [](int64_t in, int64_t s, int64_t pads, int64_t d, int64_t k, int64_t adj, int64_t* out) {
    int64_t a = 0, b = 0;
    return checked_mul(in - 1, s, &a) && checked_mul(d, k - 1, &b) && checked_add(a, b, &a) &&
           checked_sub(a, pads, &a) && checked_add(a, 1 + adj, out);
  };
  int64_t oh = 0, ow = 0;
  if (!out_size(x[1], c.sh, c.top + c.bottom, c.dh, w[1], c.ah, &oh) ||
      !out_size(x[2], c.sw, c.left + c.right, c.dw, w[2], c.aw, &ow)) {
    return op_error("conv_transpose2d", "the output size overflows int64");
  }
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


// dx (N, H, W, C), dW (O, KH, KW, C/g), db (O) from dy (N, OH, OW, O); any of them may be null.
Status backward_deconv(Context* ctx, const OpAttrs& attrs, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  Result<std::vector<Shape>> shapes = conv_grad::input_shapes("conv_transpose2d", in, 2, 3);
  if (!shapes.ok()) return shapes.status();
  Result<std::vector<Shape>> out = infer_deconv(shapes.value(), attrs);
  if (!out.ok()) return out.status();
  const Tensor* dyp = nullptr;
  VITRINE_RETURN_IF_ERROR(conv_grad::check_grads("conv_transpose2d", in, gout, gin, out.value()[0], &dyp));
  Tensor* dx = gin.size() > 0 ? gin[0] : nullptr;
  Tensor* dw = gin.size() > 1 ? gin[1] : nullptr;
  Tensor* db = gin.size() > 2 ? gin[2] : nullptr;
  for (Tensor* t : {dx, dw, db}) conv_grad::zero(t);
  if (!dyp || (!dx && !dw && !db)) return Status::Ok();
  const DeconvParams c = deconv_params(attrs).value();
  const Tensor &x = *in[0], &w = *in[1], &dy = *dyp;
  conv_grad::bias_grad(dy, db);
  if (!dx && !dw) return Status::Ok();

  // The image side is dy (output positions), the patch grid the input positions.
  const Shape &xs = x.shape(), &ws = w.shape(), &ys = dy.shape();
  const conv_grad::Geometry geo{ys[1], ys[2], ys[3], xs[1], xs[2], ws[1], ws[2], c.sh, c.sw,
                                c.dh,  c.dw,  c.top, c.left, c.groups};
  const int64_t groups = c.groups, ch = xs[3], cg = ch / groups, og = ws[0] / groups, taps = ws[1] * ws[2];
  const int64_t k = geo.k(), images = xs[0];  // k = taps · og, columns ordered (ky, kx, o)
  const int64_t chunk = std::min<int64_t>(geo.chunk_images(), std::max<int64_t>(images, 1));
  const int64_t max_rows = chunk * geo.patches();
  AlignedBuffer cols, wt, xt, tmp, dwt;
  VITRINE_RETURN_IF_ERROR(conv_grad::scratch(cols, groups * max_rows * k));
  if (dx) {
    // W' (g, cg, k): W'[g][c][(ky, kx, o)] = W[g·og + o, ky, kx, c]
    VITRINE_RETURN_IF_ERROR(conv_grad::scratch(wt, groups * cg * k));
    const float* wp = w.data();
    for (int64_t gi = 0; gi < groups; ++gi)
      for (int64_t j = 0; j < og; ++j)
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t ci = 0; ci < cg; ++ci)
            wt.floats()[(gi * cg + ci) * k + t * og + j] = wp[((gi * og + j) * taps + t) * cg + ci];
    if (groups > 1) VITRINE_RETURN_IF_ERROR(conv_grad::scratch(tmp, groups * max_rows * cg));
  }
  if (dw) {
    VITRINE_RETURN_IF_ERROR(conv_grad::scratch(xt, groups * cg * max_rows));
    VITRINE_RETURN_IF_ERROR(conv_grad::scratch(dwt, 2 * groups * cg * k));  // accumulator, then one chunk
  }
  BatchMatmul mm(ctx, "conv_transpose2d");
  const size_t g = static_cast<size_t>(groups);
  for (int64_t n0 = 0; n0 < images; n0 += chunk) {
    const int64_t count = std::min(chunk, images - n0), rows = count * geo.patches();
    const int64_t first = n0 * geo.patches() * ch;  // of x and dx, (rows, C)
    conv_grad::im2col(geo, dy.data(), n0, count, cols.floats());
    if (dx) {
      // dx_g (rows, cg) = cols_g (rows, k) · W'_gᵀ, W'_g stored (cg, k).
      float* d = dx->mutable_data() + first;
      float* target = groups > 1 ? tmp.floats() : d;
      VITRINE_RETURN_IF_ERROR(mm.run(g, static_cast<size_t>(rows), static_cast<size_t>(k), static_cast<size_t>(cg),
                                     cols.floats(), wt.floats(), target, true));
      if (groups > 1) {
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t gi = 0; gi < groups; ++gi)
            std::memcpy(d + r * ch + gi * cg, target + (gi * rows + r) * cg, static_cast<size_t>(cg) * sizeof(float));
      }
    }
    if (dw) {
      // dW'_g (cg, k) += x_gᵀ (cg, rows) · cols_g (rows, k)
      const float* xp = x.data() + first;
      float* t = xt.floats();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t ci = 0; ci < ch; ++ci) t[ci * rows + r] = xp[r * ch + ci];  // (g, cg, rows)
      float* part = dwt.floats() + groups * cg * k;
      VITRINE_RETURN_IF_ERROR(mm.run(g, static_cast<size_t>(cg), static_cast<size_t>(rows), static_cast<size_t>(k), t,
                                     cols.floats(), part, false));
      for (int64_t i = 0; i < groups * cg * k; ++i) dwt.floats()[i] += part[i];
    }
  }
  if (dw) {
    float* d = dw->mutable_data();
    for (int64_t gi = 0; gi < groups; ++gi)
      for (int64_t j = 0; j < og; ++j)
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t ci = 0; ci < cg; ++ci)
            d[((gi * og + j) * taps + t) * cg + ci] = dwt.floats()[(gi * cg + ci) * k + t * og + j];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kConvTranspose2DInfo = VITRINE_OP_INFO(ConvTranspose2D)
    .inputs(2, 3)
    .infer(&infer_deconv)
    .lowering(&lower_deconv)
    .gradient(&backward_deconv);

}  // namespace vitrine
