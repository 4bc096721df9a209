// Conv2D: 2-D convolution over NHWC images with stride, padding, dilation and groups (depthwise
// when groups == channels). Lowered to XNNPACK's convolution.
//   inputs: x (N, H, W, C), W (O, KH, KW, C / groups), b (O) optional
//   attrs:  strides [sh, sw] = [1, 1], dilations [dh, dw] = [1, 1],
//           pads [top, left, bottom, right] = 0, groups = 1
//   output: (N, OH, OW, O), OH = (H + top + bottom - dh (KH - 1) - 1) / sh + 1
// Backward: dW = dyᵀ · im2col(x) and dx = col2im(dy · W) per group through XNNPACK's batch matrix
// multiply (groups are the batch), db = Σ dy; depthwise convolutions use direct loops instead.
#include <cmath>
#include <cstring>

#include <pthreadpool.h>

#include "xnn_lowering.h"
#include "../core/checked.h"
#include "conv_util.h"
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
  constexpr int64_t kMax = INT32_MAX;  // XNNPACK takes 32-bit sizes
  if (c.sh > kMax || c.sw > kMax || c.dh > kMax || c.dw > kMax || c.top > kMax || c.left > kMax ||
      c.bottom > kMax || c.right > kMax || c.groups > kMax) {
    return op_error("conv2d", "strides, dilations, pads and groups must be below 2^31");
  }
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
  int64_t expected_channels = 0;
  if (!checked_mul(w[3], c.groups, &expected_channels) || expected_channels != x[3]) {
    return op_error("conv2d", "input has " + std::to_string(x[3]) + " channels, weights " + w.to_string() +
                                  " with " + std::to_string(c.groups) + " groups expect " +
                                  std::to_string(w[3] * c.groups));
  }
  if (in.size() == 3 && (in[2].rank() != 1 || in[2][0] != w[0])) {
    return op_error("conv2d", "bias must be (" + std::to_string(w[0]) + "), got " + in[2].to_string());
  }
  int64_t eff_h = 0, eff_w = 0, ph = 0, pw = 0;
  if (w[1] < 1 || w[2] < 1 || !checked_mul(c.dh, w[1] - 1, &eff_h) || !checked_mul(c.dw, w[2] - 1, &eff_w) ||
      !checked_add(x[1], c.top + c.bottom, &ph) || !checked_add(x[2], c.left + c.right, &pw)) {
    return op_error("conv2d", "kernel " + w.to_string() + " with these dilations and pads is out of range");
  }
  eff_h += 1;
  eff_w += 1;
  if (ph < eff_h || pw < eff_w) {
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


// The engine kernel: depthwise convolutions with large kernels under wasm, where XNNPACK's wasm
// depthwise path is slow for them (a 7x7 on 56x56x96 took ~3x onnxruntime-web's time), and every
// other convolution when called directly (direct loops, checked against the lowering by the op
// case table).
bool conv2d_lowers(const OpAttrs&, const std::vector<Shape>& in) {
#if defined(__wasm__)
  const Shape& w = in[1];  // (O, KH, KW, C/groups)
  const bool depthwise = w[3] == 1 && w[0] == in[0][3];
  return !(depthwise && w[1] * w[2] > 25);
#else
  (void)in;
  return true;
#endif
}

typedef float v4f __attribute__((vector_size(16)));
inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }

struct DepthwiseJob {
  const float* x;
  const float* w;  // (KH, KW, C): repacked so that taps are contiguous over channels
  const float* b;  // (C) or null
  float* y;
  int64_t H, W, C, OH, OW, KH, KW;
  ConvParams c;
};

// One output row (n·OH + oy): per pixel, channel blocks of 16 accumulate over every tap in
// registers, then blocks of 4, then single channels.
void depthwise_row(void* context, size_t row) {
  const DepthwiseJob& j = *static_cast<const DepthwiseJob*>(context);
  const int64_t n = static_cast<int64_t>(row) / j.OH, oy = static_cast<int64_t>(row) % j.OH, C = j.C;
  for (int64_t ox = 0; ox < j.OW; ++ox) {
    float* out = j.y + ((n * j.OH + oy) * j.OW + ox) * C;
    const int64_t iy0 = oy * j.c.sh - j.c.top, ix0 = ox * j.c.sw - j.c.left;
    auto taps = [&](int64_t c0, auto&& body) {
      for (int64_t ky = 0; ky < j.KH; ++ky) {
        const int64_t iy = iy0 + ky * j.c.dh;
        if (iy < 0 || iy >= j.H) continue;
        for (int64_t kx = 0; kx < j.KW; ++kx) {
          const int64_t ix = ix0 + kx * j.c.dw;
          if (ix < 0 || ix >= j.W) continue;
          body(j.x + ((n * j.H + iy) * j.W + ix) * C + c0, j.w + (ky * j.KW + kx) * C + c0);
        }
      }
    };
    int64_t c0 = 0;
    for (; c0 + 16 <= C; c0 += 16) {
      v4f a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
      if (j.b) a0 = load4(j.b + c0), a1 = load4(j.b + c0 + 4), a2 = load4(j.b + c0 + 8), a3 = load4(j.b + c0 + 12);
      taps(c0, [&](const float* xi, const float* wi) {
        a0 += load4(xi) * load4(wi);
        a1 += load4(xi + 4) * load4(wi + 4);
        a2 += load4(xi + 8) * load4(wi + 8);
        a3 += load4(xi + 12) * load4(wi + 12);
      });
      store4(out + c0, a0), store4(out + c0 + 4, a1), store4(out + c0 + 8, a2), store4(out + c0 + 12, a3);
    }
    for (; c0 + 4 <= C; c0 += 4) {
      v4f a = j.b ? load4(j.b + c0) : v4f{0, 0, 0, 0};
      taps(c0, [&](const float* xi, const float* wi) { a += load4(xi) * load4(wi); });
      store4(out + c0, a);
    }
    for (; c0 < C; ++c0) {
      float a = j.b ? j.b[c0] : 0.0f;
      taps(c0, [&](const float* xi, const float* wi) { a += *xi * *wi; });
      out[c0] = a;
    }
  }
}

Status run_conv2d(Context* ctx, const OpAttrs& attrs, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  VITRINE_ASSIGN_OR_RETURN(ConvParams c, conv_params(attrs));
  const Shape& xs = in[0]->shape();
  const Shape& ws = in[1]->shape();
  const Shape& ys = out[0]->shape();
  const int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3], O = ws[0], KH = ws[1], KW = ws[2], CG = ws[3];
  const int64_t OH = ys[1], OW = ys[2], OG = O / c.groups;
  const float* x = in[0]->data();
  const float* w = in[1]->data();
  const float* b = in.size() == 3 ? in[2]->data() : nullptr;
  float* y = out[0]->mutable_data();
  if (CG == 1 && O == C) {  // depthwise, one output per channel
    std::vector<float> packed(static_cast<size_t>(KH * KW * C));
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t t = 0; t < KH * KW; ++t) packed[static_cast<size_t>(t * C + ch)] = w[ch * KH * KW + t];
    DepthwiseJob job{x, packed.data(), b, y, H, W, C, OH, OW, KH, KW, c};
    if (ctx && ctx->threadpool()) {
      pthreadpool_parallelize_1d(ctx->threadpool(), &depthwise_row, &job, static_cast<size_t>(N * OH), 0);
    } else {
      for (size_t r = 0; r < static_cast<size_t>(N * OH); ++r) depthwise_row(&job, r);
    }
    return Status::Ok();
  }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox)
        for (int64_t o = 0; o < O; ++o) {
          const int64_t g = o / OG;
          double acc = b ? b[o] : 0.0;
          for (int64_t ky = 0; ky < KH; ++ky) {
            const int64_t iy = oy * c.sh - c.top + ky * c.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; ++kx) {
              const int64_t ix = ox * c.sw - c.left + kx * c.dw;
              if (ix < 0 || ix >= W) continue;
              const float* xi = x + ((n * H + iy) * W + ix) * C + g * CG;
              const float* wi = w + ((o * KH + ky) * KW + kx) * CG;
              for (int64_t ci = 0; ci < CG; ++ci) acc += double(xi[ci]) * wi[ci];
            }
          }
          y[((n * OH + oy) * OW + ox) * O + o] = static_cast<float>(acc);
        }
  return Status::Ok();
}

// Depthwise (C/groups == 1, groups == C > 1): dx and dW by direct loops over the kernel taps, with
// the weights viewed tap-major (KH·KW, O) so the channel loop is contiguous.
Status backward_depthwise(const ConvParams& c, const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                          Tensor* dw) {
  const Shape &xs = x.shape(), &ws = w.shape(), &ys = dy.shape();
  const int64_t ch = xs[3], o = ws[0], mult = o / ch, taps = ws[1] * ws[2];
  AlignedBuffer wt, dwt;
  VITRINE_RETURN_IF_ERROR(conv_grad::scratch(wt, taps * o));
  VITRINE_RETURN_IF_ERROR(conv_grad::scratch(dwt, taps * o));
  const float* wp = w.data();
  for (int64_t oc = 0; oc < o; ++oc)
    for (int64_t t = 0; t < taps; ++t) wt.floats()[t * o + oc] = wp[oc * taps + t];
  const float *xp = x.data(), *g = dy.data();
  float* dxp = dx ? dx->mutable_data() : nullptr;
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t oy = 0; oy < ys[1]; ++oy)
      for (int64_t ox = 0; ox < ys[2]; ++ox) {
        const float* gp = g + ((n * ys[1] + oy) * ys[2] + ox) * o;
        for (int64_t ky = 0; ky < ws[1]; ++ky) {
          const int64_t iy = oy * c.sh - c.top + ky * c.dh;
          if (iy < 0 || iy >= xs[1]) continue;
          for (int64_t kx = 0; kx < ws[2]; ++kx) {
            const int64_t ix = ox * c.sw - c.left + kx * c.dw;
            if (ix < 0 || ix >= xs[2]) continue;
            const int64_t pixel = ((n * xs[1] + iy) * xs[2] + ix) * ch, t = ky * ws[2] + kx;
            const float* wrow = wt.floats() + t * o;
            float* dwrow = dwt.floats() + t * o;
            for (int64_t ci = 0; ci < ch; ++ci) {
              const float xv = xp[pixel + ci];
              float acc = 0.0f;
              for (int64_t j = 0; j < mult; ++j) {
                const int64_t oc = ci * mult + j;
                acc += gp[oc] * wrow[oc];
                dwrow[oc] += gp[oc] * xv;
              }
              if (dxp) dxp[pixel + ci] += acc;
            }
          }
        }
      }
  if (dw) {
    float* d = dw->mutable_data();
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t t = 0; t < taps; ++t) d[oc * taps + t] = dwt.floats()[t * o + oc];
  }
  return Status::Ok();
}

// dx (N, H, W, C), dW (O, KH, KW, C/g), db (O) from dy (N, OH, OW, O); any of them may be null.
Status backward_conv2d(Context* ctx, const OpAttrs& attrs, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  Result<std::vector<Shape>> shapes = conv_grad::input_shapes("conv2d", in, 2, 3);
  if (!shapes.ok()) return shapes.status();
  Result<std::vector<Shape>> out = infer_conv2d(shapes.value(), attrs);
  if (!out.ok()) return out.status();
  const Tensor* dyp = nullptr;
  VITRINE_RETURN_IF_ERROR(conv_grad::check_grads("conv2d", in, gout, gin, out.value()[0], &dyp));
  Tensor* dx = gin.size() > 0 ? gin[0] : nullptr;
  Tensor* dw = gin.size() > 1 ? gin[1] : nullptr;
  Tensor* db = gin.size() > 2 ? gin[2] : nullptr;
  for (Tensor* t : {dx, dw, db}) conv_grad::zero(t);
  if (!dyp || (!dx && !dw && !db)) return Status::Ok();
  const ConvParams c = conv_params(attrs).value();
  const Tensor &x = *in[0], &w = *in[1], &dy = *dyp;
  conv_grad::bias_grad(dy, db);
  if (!dx && !dw) return Status::Ok();

  const Shape &xs = x.shape(), &ws = w.shape(), &ys = dy.shape();
  if (ws[3] == 1 && c.groups > 1) return backward_depthwise(c, x, w, dy, dx, dw);

  const conv_grad::Geometry geo{xs[1], xs[2], xs[3], ys[1], ys[2], ws[1], ws[2], c.sh, c.sw,
                                c.dh,  c.dw,  c.top, c.left, c.groups};
  const int64_t groups = c.groups, o = ws[0], og = o / groups, k = geo.k(), images = xs[0];
  const int64_t chunk = std::min<int64_t>(geo.chunk_images(), std::max<int64_t>(images, 1));
  const int64_t max_rows = chunk * geo.patches();
  AlignedBuffer cols, dyg, wtmp;
  VITRINE_RETURN_IF_ERROR(conv_grad::scratch(cols, groups * max_rows * k));
  if (groups > 1 || dw) VITRINE_RETURN_IF_ERROR(conv_grad::scratch(dyg, groups * max_rows * og));
  if (dw) VITRINE_RETURN_IF_ERROR(conv_grad::scratch(wtmp, o * k));
  BatchMatmul mm(ctx, "conv2d");
  const size_t g = static_cast<size_t>(groups);
  for (int64_t n0 = 0; n0 < images; n0 += chunk) {
    const int64_t count = std::min(chunk, images - n0), rows = count * geo.patches();
    const float* gy = dy.data() + n0 * geo.patches() * o;  // (rows, O)
    if (dw) {
      // dW_g (og, k) += dy_gᵀ (og, rows) · cols_g (rows, k)
      conv_grad::im2col(geo, x.data(), n0, count, cols.floats());
      float* t = dyg.floats();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t oc = 0; oc < o; ++oc) t[oc * rows + r] = gy[r * o + oc];  // (g, og, rows)
      VITRINE_RETURN_IF_ERROR(mm.run(g, static_cast<size_t>(og), static_cast<size_t>(rows), static_cast<size_t>(k),
                                     t, cols.floats(), wtmp.floats(), false));
      float* d = dw->mutable_data();
      for (int64_t i = 0; i < o * k; ++i) d[i] += wtmp.floats()[i];
    }
    if (dx) {
      // dcols_g (rows, k) = dy_g (rows, og) · W_g (og, k), then scatter-add into dx.
      const float* a = gy;
      if (groups > 1) {
        float* t = dyg.floats();
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t gi = 0; gi < groups; ++gi)
            std::memcpy(t + (gi * rows + r) * og, gy + r * o + gi * og, static_cast<size_t>(og) * sizeof(float));
        a = t;
      }
      VITRINE_RETURN_IF_ERROR(mm.run(g, static_cast<size_t>(rows), static_cast<size_t>(og), static_cast<size_t>(k), a,
                                     w.data(), cols.floats(), false));
      conv_grad::col2im(geo, cols.floats(), n0, count, dx->mutable_data());
    }
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kConv2DInfo = VITRINE_OP_INFO(Conv2D)
    .inputs(2, 3)
    .infer(&infer_conv2d)
    .lowering(&lower_conv2d)
    .lowering_if(&conv2d_lowers)
    .kernel(&run_conv2d)
    .gradient(&backward_conv2d);

}  // namespace vitrine
