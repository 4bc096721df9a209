// Pooling over NHWC images: max_pool2d, avg_pool2d and global_avg_pool2d (one family, one file).
//   max/avg inputs: x (N, H, W, C); attrs: kernel [kh, kw] (required), strides = kernel,
//     pads [top, left, bottom, right] = 0, ceil_mode = 0 (max only: round the output size up, as
//     PyTorch/ONNX do; the extra window positions see only real pixels); max also dilations = [1, 1].
//     avg excludes padding from the divisor (ONNX count_include_pad = 0).
//   global_avg_pool2d: x (N, H, W, C) -> (N, 1, 1, C)
// Backward: max routes each output gradient to its window's arg-max (padding never wins; ties go
// to the first maximum in row-major window order), avg spreads it evenly over the window's real
// pixels, global avg over all H·W pixels.
#include <cmath>

#include "../core/checked.h"
#include "vitrine/limits.h"
#include "xnn_lowering.h"
#include "conv_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

struct PoolParams {
  int64_t kh, kw, sh, sw, dh, dw, top, left, bottom, right;
  int64_t out_h, out_w;
};

Result<PoolParams> pool_params(const char* op, bool is_max, const Shape& x, const OpAttrs& a) {
  if (is_max) {
    VITRINE_RETURN_IF_ERROR(a.check_known(op, {"kernel", "strides", "pads", "dilations", "ceil_mode"}));
  } else {
    VITRINE_RETURN_IF_ERROR(a.check_known(op, {"kernel", "strides", "pads"}));
  }
  if (!a.ints.count("kernel")) return op_error(op, "attribute 'kernel' [kh, kw] is required");
  Result<std::vector<int64_t>> k = a.int_list("kernel", 2, {});
  if (!k.ok()) return k.status();
  Result<std::vector<int64_t>> s = a.int_list("strides", 2, k.value());
  Result<std::vector<int64_t>> d = a.int_list("dilations", 2, {1, 1});
  Result<std::vector<int64_t>> p = a.int_list("pads", 4, {0, 0, 0, 0});
  Result<int64_t> ceil_mode = a.integer("ceil_mode", 0);
  if (!s.ok()) return s.status();
  if (!d.ok()) return d.status();
  if (!p.ok()) return p.status();
  if (!ceil_mode.ok()) return ceil_mode.status();
  PoolParams c{k.value()[0], k.value()[1], s.value()[0], s.value()[1], d.value()[0], d.value()[1],
               p.value()[0], p.value()[1], p.value()[2], p.value()[3], 0, 0};
  if (x.rank() != 4) return op_error(op, "input must be (N, H, W, C), got " + x.to_string());
  if (c.kh < 1 || c.kw < 1 || c.sh < 1 || c.sw < 1 || c.dh < 1 || c.dw < 1) {
    return op_error(op, "kernel, strides and dilations must be >= 1");
  }
  if (c.top < 0 || c.left < 0 || c.bottom < 0 || c.right < 0) return op_error(op, "pads must be >= 0");
  for (int64_t v : {c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.top, c.left, c.bottom, c.right}) {
    // Below 2^31 (XNNPACK takes 32-bit sizes), so that the window arithmetic below cannot overflow
    // int64 with dimensions below 2^40.
    if (v > INT32_MAX) return op_error(op, "kernel, strides, dilations and pads must be below 2^31");
  }
  auto out_size = [&](int64_t in, int64_t k, int64_t st, int64_t dil, int64_t lo, int64_t* hi) -> int64_t {
    const int64_t eff = dil * (k - 1) + 1;
    const int64_t padded = in + lo + *hi;
    if (padded < eff) return -1;
    int64_t out = (padded - eff) / st + 1;
    if (ceil_mode.value() && (padded - eff) % st != 0) {
      out += 1;
      if ((out - 1) * st >= in + lo) out -= 1;  // the last window must start inside the image
      *hi += (out - 1) * st + eff - padded;     // extra bottom/right padding, never selected
      if (*hi < 0) *hi = 0;
    }
    return out;
  };
  c.out_h = out_size(x[1], c.kh, c.sh, c.dh, c.top, &c.bottom);
  c.out_w = out_size(x[2], c.kw, c.sw, c.dw, c.left, &c.right);
  if (c.out_h < 1 || c.out_w < 1) {
    return op_error(op, "window " + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
                            " does not fit the padded input " + x.to_string());
  }
  // The kernel keeps a pointer per window element and output position (XNNPACK's indirection
  // buffer): held to the tensor limit, so that a huge kernel padded to fit ("SAME") cannot ask for
  // terabytes.
  int64_t window = 0, taps = 0;
  if (!checked_mul(c.kh, c.kw, &window) || !checked_mul(window, c.out_h, &taps) || !checked_mul(taps, c.out_w, &taps) ||
      taps > default_limits().max_tensor_elements) {
    return Status::ResourceExhausted(std::string(op) + ": a " + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
                                     " window over a " + std::to_string(c.out_h) + "x" + std::to_string(c.out_w) +
                                     " output exceeds the limit of " + std::to_string(default_limits().max_tensor_elements) +
                                     " window elements (Limits::max_tensor_elements)");
  }
  return c;
}

Result<std::vector<Shape>> infer_max(const std::vector<Shape>& in, const OpAttrs& a) {
  Result<PoolParams> p = pool_params("max_pool2d", true, in[0], a);
  if (!p.ok()) return p.status();
  return one_shape({in[0][0], p->out_h, p->out_w, in[0][3]});
}

Result<std::vector<Shape>> infer_avg(const std::vector<Shape>& in, const OpAttrs& a) {
  Result<PoolParams> p = pool_params("avg_pool2d", false, in[0], a);
  if (!p.ok()) return p.status();
  return one_shape({in[0][0], p->out_h, p->out_w, in[0][3]});
}

Result<std::vector<Shape>> infer_global(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("global_avg_pool2d", {}));
  if (in[0].rank() != 4) return op_error("global_avg_pool2d", "input must be (N, H, W, C), got " + in[0].to_string());
  return one_shape({in[0][0], 1, 1, in[0][3]});
}

Status lower_max(XnnLowering& l) {
  PoolParams c = pool_params("max_pool2d", true, l.input_shapes[0], *l.attrs).value();
  if (c.kh == 1 && c.kw == 1 && c.sh == 1 && c.sw == 1 && c.top + c.left + c.bottom + c.right == 0) {
    return l.check(xnn_define_copy(l.subgraph, l.inputs[0], l.outputs[0], 0), "define copy");
  }
  return l.check(xnn_define_max_pooling_2d(
                     l.subgraph, static_cast<uint32_t>(c.top), static_cast<uint32_t>(c.right),
                     static_cast<uint32_t>(c.bottom), static_cast<uint32_t>(c.left), static_cast<uint32_t>(c.kh),
                     static_cast<uint32_t>(c.kw), static_cast<uint32_t>(c.sh), static_cast<uint32_t>(c.sw),
                     static_cast<uint32_t>(c.dh), static_cast<uint32_t>(c.dw), -INFINITY, INFINITY,
                     l.inputs[0], l.outputs[0], 0),
                 "define max pooling");
}

Status lower_avg(XnnLowering& l) {
  PoolParams c = pool_params("avg_pool2d", false, l.input_shapes[0], *l.attrs).value();
  return l.check(xnn_define_average_pooling_2d(
                     l.subgraph, static_cast<uint32_t>(c.top), static_cast<uint32_t>(c.right),
                     static_cast<uint32_t>(c.bottom), static_cast<uint32_t>(c.left), static_cast<uint32_t>(c.kh),
                     static_cast<uint32_t>(c.kw), static_cast<uint32_t>(c.sh), static_cast<uint32_t>(c.sw),
                     -INFINITY, INFINITY, l.inputs[0], l.outputs[0], 0),
                 "define average pooling");
}

Status lower_global(XnnLowering& l) {
  const size_t axes[2] = {1, 2};
  return l.check(xnn_define_static_reduce(l.subgraph, xnn_reduce_mean, 2, axes, l.inputs[0], l.outputs[0],
                                          XNN_FLAG_KEEP_DIMS),
                 "define mean reduction");
}


// Shared argument checks of the pooling backward kernels: x, the output gradient (null: zero
// gradient) and dx (null: nothing to do), with dx zeroed.
Status pool_grad_args(const char* op, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& gout,
                      const std::vector<Tensor*>& gin, const Shape& out, const Tensor** dy, Tensor** dx) {
  VITRINE_RETURN_IF_ERROR(conv_grad::check_grads(op, in, gout, gin, out, dy));
  *dx = gin.empty() ? nullptr : gin[0];
  conv_grad::zero(*dx);
  return Status::Ok();
}

template <bool kMax>
Status backward_pool(Context*, const OpAttrs& attrs, const std::vector<const Tensor*>& in,
                     const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                     const std::vector<Tensor*>& gin) {
  const char* op = kMax ? "max_pool2d" : "avg_pool2d";
  Result<std::vector<Shape>> shapes = conv_grad::input_shapes(op, in, 1, 1);
  if (!shapes.ok()) return shapes.status();
  const Shape& xs = shapes.value()[0];
  Result<PoolParams> p = pool_params(op, kMax, xs, attrs);
  if (!p.ok()) return p.status();
  const PoolParams& c = p.value();
  const Tensor* dyp = nullptr;
  Tensor* dxp = nullptr;
  VITRINE_RETURN_IF_ERROR(
      pool_grad_args(op, in, gout, gin, Shape{xs[0], c.out_h, c.out_w, xs[3]}, &dyp, &dxp));
  if (!dyp || !dxp) return Status::Ok();
  const int64_t h = xs[1], w = xs[2], ch = xs[3];
  const float *x = in[0]->data(), *dy = dyp->data();
  float* dx = dxp->mutable_data();
  std::vector<float> best(static_cast<size_t>(ch));
  std::vector<int64_t> arg(static_cast<size_t>(ch));
  // Calls f(offset of the pixel's first channel) for each window tap inside the image.
  auto for_each_tap = [&](int64_t n, int64_t oy, int64_t ox, auto&& f) {
    for (int64_t ky = 0; ky < c.kh; ++ky) {
      const int64_t iy = oy * c.sh - c.top + ky * c.dh;
      if (iy < 0 || iy >= h) continue;
      for (int64_t kx = 0; kx < c.kw; ++kx) {
        const int64_t ix = ox * c.sw - c.left + kx * c.dw;
        if (ix >= 0 && ix < w) f(((n * h + iy) * w + ix) * ch);
      }
    }
  };
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t oy = 0; oy < c.out_h; ++oy)
      for (int64_t ox = 0; ox < c.out_w; ++ox) {
        const float* g = dy + ((n * c.out_h + oy) * c.out_w + ox) * ch;
        if (kMax) {
          std::fill(arg.begin(), arg.end(), int64_t{-1});
          for_each_tap(n, oy, ox, [&](int64_t pixel) {
            for (int64_t ci = 0; ci < ch; ++ci) {
              const size_t u = static_cast<size_t>(ci);
              if (arg[u] < 0 || x[pixel + ci] > best[u]) {
                best[u] = x[pixel + ci];
                arg[u] = pixel + ci;
              }
            }
          });
          for (int64_t ci = 0; ci < ch; ++ci)
            if (arg[static_cast<size_t>(ci)] >= 0) dx[arg[static_cast<size_t>(ci)]] += g[ci];
        } else {
          // Average over the real pixels only (padding is excluded from the divisor).
          int64_t count = 0;
          for_each_tap(n, oy, ox, [&](int64_t) { ++count; });
          if (count == 0) continue;
          const float scale = 1.0f / static_cast<float>(count);
          for_each_tap(n, oy, ox, [&](int64_t pixel) {
            for (int64_t ci = 0; ci < ch; ++ci) dx[pixel + ci] += g[ci] * scale;
          });
        }
      }
  return Status::Ok();
}

Status backward_global(Context*, const OpAttrs& attrs, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  Result<std::vector<Shape>> shapes = conv_grad::input_shapes("global_avg_pool2d", in, 1, 1);
  if (!shapes.ok()) return shapes.status();
  Result<std::vector<Shape>> out = infer_global(shapes.value(), attrs);
  if (!out.ok()) return out.status();
  const Tensor* dyp = nullptr;
  Tensor* dxp = nullptr;
  VITRINE_RETURN_IF_ERROR(pool_grad_args("global_avg_pool2d", in, gout, gin, out.value()[0], &dyp, &dxp));
  if (!dyp || !dxp) return Status::Ok();
  const Shape& xs = shapes.value()[0];
  const int64_t pixels = xs[1] * xs[2], ch = xs[3];
  if (pixels == 0) return Status::Ok();
  const float scale = 1.0f / static_cast<float>(pixels);
  const float* dy = dyp->data();
  float* dx = dxp->mutable_data();
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t i = 0; i < pixels; ++i)
      for (int64_t ci = 0; ci < ch; ++ci) dx[(n * pixels + i) * ch + ci] = dy[n * ch + ci] * scale;
  return Status::Ok();
}

}  // namespace

const OpInfo kMaxPool2DInfo = VITRINE_OP_INFO(MaxPool2D)
    .inputs(1, 1)
    .infer(&infer_max)
    .lowering(&lower_max)
    .gradient(&backward_pool<true>);
const OpInfo kAvgPool2DInfo = VITRINE_OP_INFO(AvgPool2D)
    .inputs(1, 1)
    .infer(&infer_avg)
    .lowering(&lower_avg)
    .gradient(&backward_pool<false>);
const OpInfo kGlobalAvgPool2DInfo = VITRINE_OP_INFO(GlobalAvgPool2D)
    .inputs(1, 1)
    .infer(&infer_global)
    .lowering(&lower_global)
    .gradient(&backward_global);

}  // namespace vitrine
