// Plain double-precision reference implementations of every op, written from the op's documented
// formula (engine/src/ops/*.cc headers) and independent of its kernel or lowering: the op case
// table (op_cases.h) checks each op's forward against them. Each takes the op's inputs (and the
// attributes it needs) and returns its outputs' values in row-major order.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "vitrine/ops.h"
#include "vitrine/tensor.h"

namespace vitrine::testing {

using Outputs = std::vector<std::vector<double>>;

// Element i of a tensor of any dtype, as a double (bool: 0 or 1).
inline double at(const Tensor& t, int64_t i) { return t.element_as_double(i); }
inline void set_at(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::kF32: t.mutable_data()[i] = static_cast<float>(v); break;
    case DType::kI64: t.mutable_data_as<int64_t>()[i] = static_cast<int64_t>(v); break;
    case DType::kI32: t.mutable_data_as<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DType::kU8: case DType::kBool: t.mutable_data_as<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DType::kI8: t.mutable_data_as<int8_t>()[i] = static_cast<int8_t>(v); break;
  }
}
inline std::vector<double> values_of(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.num_elements()));
  for (int64_t i = 0; i < t.num_elements(); ++i) v[static_cast<size_t>(i)] = at(t, i);
  return v;
}

// Row-major multi-index of flat position `i` in `shape`.
inline std::vector<int64_t> unravel(int64_t i, const std::vector<int64_t>& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] == 0 ? 0 : i % shape[d];
    i = shape[d] == 0 ? 0 : i / shape[d];
  }
  return idx;
}

// Flat position in `in` (numpy-broadcast to the rank of `idx`, trailing dims aligned) of the
// output multi-index `idx`.
inline int64_t broadcast_offset(const std::vector<int64_t>& idx, const std::vector<int64_t>& in) {
  int64_t off = 0;
  const size_t shift = idx.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) off = off * in[d] + (in[d] == 1 ? 0 : idx[d + shift]);
  return off;
}

inline std::vector<int64_t> broadcast_shape(std::vector<std::vector<int64_t>> shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  std::vector<int64_t> out(rank, 1);
  for (const auto& s : shapes)
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t& o = out[rank - s.size() + d];
      if (s[d] != 1) o = s[d];
    }
  return out;
}

inline int64_t count(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// ---- element-wise ------------------------------------------------------------------------------

inline Outputs unary_ref(const Tensor& x, const std::function<double(double)>& f) {
  std::vector<double> y(static_cast<size_t>(x.num_elements()));
  for (int64_t i = 0; i < x.num_elements(); ++i) y[static_cast<size_t>(i)] = f(at(x, i));
  return {y};
}

inline Outputs binary_ref(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const std::vector<int64_t> sa = a.shape().to_vector(), sb = b.shape().to_vector();
  const std::vector<int64_t> out = broadcast_shape({sa, sb});
  std::vector<double> y(static_cast<size_t>(count(out)));
  for (int64_t i = 0; i < count(out); ++i) {
    const std::vector<int64_t> idx = unravel(i, out);
    y[static_cast<size_t>(i)] = f(at(a, broadcast_offset(idx, sa)), at(b, broadcast_offset(idx, sb)));
  }
  return {y};
}

inline double gelu_erf(double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }
inline double gelu_tanh(double v) {
  return 0.5 * v * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
}


// ---- typed ops ---------------------------------------------------------------------------------

// Cast of one value to `to`: truncation toward zero with saturation for float -> integer, wrap for
// integer -> narrower integer, != 0 for bool.
inline double cast_ref(double v, DType from, DType to) {
  if (to == DType::kBool) return v != 0 ? 1 : 0;
  if (to == DType::kF32) return static_cast<float>(v);
  double lo = 0, hi = 0;
  int bits = 0;
  switch (to) {
    case DType::kI64: lo = -9223372036854775808.0, hi = 9223372036854775807.0, bits = 64; break;
    case DType::kI32: lo = -2147483648.0, hi = 2147483647.0, bits = 32; break;
    case DType::kI8: lo = -128, hi = 127, bits = 8; break;
    default: lo = 0, hi = 255, bits = 8; break;  // u8
  }
  if (from == DType::kF32) {
    if (std::isnan(v)) return 0;
    const double t = std::trunc(v);
    return t < lo ? lo : t > hi ? hi : t;
  }
  if (bits == 64) return v;
  const int64_t m = int64_t{1} << bits;
  int64_t w = static_cast<int64_t>(v) % m;
  if (w < 0) w += m;
  if (lo < 0 && w > static_cast<int64_t>(hi)) w -= m;
  return static_cast<double>(w);
}

// Input coordinate and (index, weight) taps of output index o along one axis of Resize, from the
// ONNX Resize definition (edge taps read the border element).
inline std::vector<std::pair<int64_t, double>> resize_taps_ref(const OpAttrs& a, int axis, int64_t in, int64_t out, int64_t o) {
  static const char* keys[] = {"scale_0", "scale_1", "scale_2", "scale_3", "scale_4", "scale_5"};
  const double scale = a.ints.count("sizes") ? double(out) / in : a.number(keys[axis], 1.0);
  const std::string ct = a.string("coordinate_transformation_mode", "half_pixel");
  const std::string mode = a.string("mode", "nearest"), nm = a.string("nearest_mode", "round_prefer_floor");
  double x = ct == "asymmetric"           ? o / scale
             : ct == "align_corners"      ? (in * scale == 1 ? 0.0 : double(o) * (in - 1) / (in * scale - 1))
             : ct == "pytorch_half_pixel" ? (in * scale > 1 ? (o + 0.5) / scale - 0.5 : 0.0)
             : ct == "tf_half_pixel_for_nn" ? (o + 0.5) / scale
                                          : (o + 0.5) / scale - 0.5;
  auto edge = [in](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  if (mode == "nearest") {
    double r = nm == "floor" ? std::floor(x) : nm == "ceil" ? std::ceil(x)
             : nm == "round_prefer_ceil" ? std::floor(x + 0.5) : std::ceil(x - 0.5);
    return {{edge(static_cast<int64_t>(r)), 1.0}};
  }
  if (mode == "linear") {
    x = std::min(std::max(x, 0.0), double(in - 1));
    const double f = x - std::floor(x);
    const int64_t i0 = static_cast<int64_t>(std::floor(x));
    return {{edge(i0), 1 - f}, {edge(i0 + 1), f}};
  }
  const double A = a.number("cubic_coeff_a", -0.75);
  const double f = x - std::floor(x);
  const int64_t i0 = static_cast<int64_t>(std::floor(x));
  auto kernel = [A](double d) {  // Keys' cubic convolution kernel
    d = std::fabs(d);
    if (d <= 1) return (A + 2) * d * d * d - (A + 3) * d * d + 1;
    if (d < 2) return A * d * d * d - 5 * A * d * d + 8 * A * d - 4 * A;
    return 0.0;
  };
  std::vector<std::pair<int64_t, double>> taps;
  double sum = 0;
  for (int k = -1; k <= 2; ++k) {
    const bool outside = i0 + k < 0 || i0 + k >= in;
    const double w = a.number("exclude_outside", 0) != 0 && outside ? 0.0 : kernel(k - f);
    taps.push_back({edge(i0 + k), w});
    sum += w;
  }
  if (a.number("exclude_outside", 0) != 0)
    for (auto& t : taps) t.second /= sum;
  return taps;
}

inline Outputs resize_ref(const Tensor& x, const Shape& ys, const OpAttrs& a) {
  const std::vector<int64_t> xs = x.shape().to_vector(), yv = ys.to_vector();
  std::vector<double> y(static_cast<size_t>(count(yv)));
  for (int64_t i = 0; i < count(yv); ++i) {
    const std::vector<int64_t> idx = unravel(i, yv);
    std::vector<std::vector<std::pair<int64_t, double>>> taps;
    for (size_t d = 0; d < xs.size(); ++d) taps.push_back(resize_taps_ref(a, static_cast<int>(d), xs[d], yv[d], idx[d]));
    // Σ over every combination of one tap per axis of Π weights × x[taps].
    std::vector<size_t> pick(xs.size(), 0);
    double sum = 0;
    while (true) {
      double w = 1;
      int64_t off = 0;
      for (size_t d = 0; d < xs.size(); ++d) {
        w *= taps[d][pick[d]].second;
        off = off * xs[d] + taps[d][pick[d]].first;
      }
      sum += w * at(x, off);
      size_t d = xs.size();
      while (d-- > 0 && ++pick[d] == taps[d].size()) pick[d] = 0;
      if (d == static_cast<size_t>(-1)) break;
    }
    y[static_cast<size_t>(i)] = sum;
  }
  return {y};
}

// ---- normalizations over the last axis ---------------------------------------------------------

inline Outputs softmax_ref(const Tensor& x, bool log) {
  const int64_t k = x.shape().dim(-1), rows = x.num_elements() / k;
  std::vector<double> y;
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < k; ++i) mx = std::max(mx, at(x, r * k + i));
    for (int64_t i = 0; i < k; ++i) sum += std::exp(at(x, r * k + i) - mx);
    for (int64_t i = 0; i < k; ++i) {
      const double z = at(x, r * k + i) - mx;
      y.push_back(log ? z - std::log(sum) : std::exp(z) / sum);
    }
  }
  return {y};
}

inline Outputs layer_norm_ref(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const int64_t d = x.shape().dim(-1), rows = x.num_elements() / d;
  std::vector<double> y;
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += at(x, r * d + i) / d;
    for (int64_t i = 0; i < d; ++i) var += (at(x, r * d + i) - mean) * (at(x, r * d + i) - mean) / d;
    for (int64_t i = 0; i < d; ++i) y.push_back((at(x, r * d + i) - mean) / std::sqrt(var + eps) * at(gamma, i) + at(beta, i));
  }
  return {y};
}

// Inference batch norm over the last (channel) axis with running statistics.
inline Outputs batch_norm_ref(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                              const Tensor& var, double eps) {
  const int64_t c = x.shape().dim(-1);
  std::vector<double> y;
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const int64_t k = i % c;
    y.push_back((at(x, i) - at(mean, k)) / std::sqrt(at(var, k) + eps) * at(scale, k) + at(bias, k));
  }
  return {y};
}

// ---- data movement -----------------------------------------------------------------------------

inline Outputs transpose_ref(const Tensor& x, const std::vector<int64_t>& perm) {
  const std::vector<int64_t> in = x.shape().to_vector();
  std::vector<int64_t> out(in.size());
  for (size_t d = 0; d < perm.size(); ++d) out[d] = in[static_cast<size_t>(perm[d])];
  std::vector<double> y;
  for (int64_t i = 0; i < count(out); ++i) {
    const std::vector<int64_t> o = unravel(i, out);
    std::vector<int64_t> src(in.size());
    for (size_t d = 0; d < perm.size(); ++d) src[static_cast<size_t>(perm[d])] = o[d];
    int64_t off = 0;
    for (size_t d = 0; d < in.size(); ++d) off = off * in[d] + src[d];
    y.push_back(at(x, off));
  }
  return {y};
}

inline Outputs concat_ref(const std::vector<Tensor>& xs, int64_t axis) {
  const int64_t rank = xs[0].shape().rank();
  if (axis < 0) axis += rank;
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= xs[0].shape()[static_cast<int>(d)];
  std::vector<double> y;
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor& t : xs) {
      const int64_t block = t.num_elements() / outer;
      for (int64_t i = 0; i < block; ++i) y.push_back(at(t, o * block + i));
    }
  return {y};
}

// ONNX slice: negative starts/ends count from the end, values clamped to the dimension.
inline Outputs slice_ref(const Tensor& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                         const std::vector<int64_t>& axes, const std::vector<int64_t>& steps = {}) {
  const std::vector<int64_t> in = x.shape().to_vector();
  std::vector<int64_t> begin(in.size(), 0), step(in.size(), 1);
  std::vector<int64_t> out = x.shape().to_vector();
  for (size_t k = 0; k < axes.size(); ++k) {
    const size_t a = static_cast<size_t>(axes[k] < 0 ? axes[k] + static_cast<int64_t>(in.size()) : axes[k]);
    const int64_t st = k < steps.size() ? steps[k] : 1;
    // ONNX: positive steps clamp start and end to [0, dim]; negative ones to [0, dim - 1] and [-1, dim - 1].
    auto wrap = [&](int64_t v) { return v < 0 ? v + in[a] : v; };
    const int64_t lo = st > 0 ? 0 : -1, hi = st > 0 ? in[a] : in[a] - 1;
    const int64_t s = std::clamp(wrap(starts[k]), int64_t{0}, hi);
    const int64_t e = std::clamp(wrap(ends[k]), lo, hi);
    int64_t n = 0;
    for (int64_t i = s; st > 0 ? i < e : i > e; i += st) ++n;
    begin[a] = s;
    step[a] = st;
    out[a] = n;
  }
  std::vector<double> y;
  for (int64_t i = 0; i < count(out); ++i) {
    const std::vector<int64_t> o = unravel(i, out);
    int64_t off = 0;
    for (size_t d = 0; d < in.size(); ++d) off = off * in[d] + begin[d] + o[d] * step[d];
    y.push_back(at(x, off));
  }
  return {y};
}

// pads = [begin_0 … begin_{r-1}, end_0 … end_{r-1}], filled with `value`.
// mode: "constant" (value), "reflect" (mirror without the edge) or "edge" (repeat the edge).
inline Outputs pad_ref(const Tensor& x, const std::vector<int64_t>& pads, double value, const std::string& mode = "constant") {
  const std::vector<int64_t> in = x.shape().to_vector();
  const size_t r = in.size();
  std::vector<int64_t> out(r);
  for (size_t d = 0; d < r; ++d) out[d] = in[d] + pads[d] + pads[d + r];
  std::vector<double> y;
  for (int64_t i = 0; i < count(out); ++i) {
    const std::vector<int64_t> o = unravel(i, out);
    int64_t off = 0;
    bool inside = true;
    for (size_t d = 0; d < r; ++d) {
      int64_t s = o[d] - pads[d];
      if (mode == "edge") s = std::min(std::max<int64_t>(s, 0), in[d] - 1);
      if (mode == "reflect") {
        while (s < 0 || s >= in[d]) s = s < 0 ? -s : 2 * (in[d] - 1) - s;
      }
      inside = inside && s >= 0 && s < in[d];
      off = off * in[d] + s;
    }
    y.push_back(inside ? at(x, off) : value);
  }
  return {y};
}

// Mean over `axes` (all when empty); the output keeps the remaining elements in order.
// Any reduction: each output gathers its window's values (in order) and `f` reduces them.
inline Outputs reduce_ref(const Tensor& x, std::vector<int64_t> axes, const std::function<double(const std::vector<double>&)>& f) {
  const std::vector<int64_t> in = x.shape().to_vector();
  if (axes.empty())
    for (size_t d = 0; d < in.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  std::vector<bool> reduced(in.size(), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a < 0 ? a + static_cast<int64_t>(in.size()) : a)] = true;
  std::vector<int64_t> out;
  for (size_t d = 0; d < in.size(); ++d) out.push_back(reduced[d] ? 1 : in[d]);
  std::vector<std::vector<double>> windows(static_cast<size_t>(count(out)));
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    std::vector<int64_t> idx = unravel(i, in);
    for (size_t d = 0; d < in.size(); ++d)
      if (reduced[d]) idx[d] = 0;
    int64_t off = 0;
    for (size_t d = 0; d < in.size(); ++d) off = off * out[d] + idx[d];
    windows[static_cast<size_t>(off)].push_back(at(x, i));
  }
  std::vector<double> y;
  for (const std::vector<double>& w : windows) y.push_back(f(w));
  return {y};
}

inline Outputs reduce_mean_ref(const Tensor& x, std::vector<int64_t> axes) {
  return reduce_ref(x, std::move(axes), [](const std::vector<double>& w) {
    double sum = 0;
    for (double v : w) sum += v;
    return sum / static_cast<double>(w.size());
  });
}

// ---- products ----------------------------------------------------------------------------------

// a (..., M, K) · b (..., K, N), batch dims broadcast (a rank-1 operand is not used here).
inline Outputs matmul_ref(const Tensor& a, const Tensor& b) {
  std::vector<int64_t> sa = a.shape().to_vector(), sb = b.shape().to_vector();
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  const std::vector<int64_t> ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const std::vector<int64_t> batch = broadcast_shape({ba, bb});
  std::vector<double> y;
  for (int64_t p = 0; p < count(batch); ++p) {
    const std::vector<int64_t> idx = unravel(p, batch);
    const int64_t oa = broadcast_offset(idx, ba) * m * k, ob = broadcast_offset(idx, bb) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q) acc += at(a, oa + i * k + q) * at(b, ob + q * n + j);
        y.push_back(acc);
      }
  }
  return {y};
}

// y (..., out) = x (..., in) · Wᵀ (W: (out, in)) + b.
inline Outputs dense_ref(const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t out = w.shape()[0], in = w.shape()[1], rows = x.num_elements() / in;
  std::vector<double> y;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b ? at(*b, o) : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += at(x, r * in + i) * at(w, o * in + i);
      y.push_back(acc);
    }
  return {y};
}

// ---- images (NHWC) -----------------------------------------------------------------------------

struct Window {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, top = 0, left = 0;
};

// x (N, H, W, C), w (O, KH, KW, C / groups) → out shape given.
inline Outputs conv2d_ref(const Tensor& x, const Tensor& w, const Tensor* b, const Window& k, int64_t groups,
                          const Shape& out) {
  const Shape &xs = x.shape(), &ws = w.shape();
  const int64_t cig = ws[3], cog = ws[0] / groups;
  std::vector<double> y(static_cast<size_t>(out.num_elements()));
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t oh = 0; oh < out[1]; ++oh)
      for (int64_t ow = 0; ow < out[2]; ++ow)
        for (int64_t oc = 0; oc < out[3]; ++oc) {
          const int64_t g = oc / cog;
          double acc = b ? at(*b, oc) : 0.0;
          for (int64_t i = 0; i < ws[1]; ++i)
            for (int64_t j = 0; j < ws[2]; ++j) {
              const int64_t ih = oh * k.sh - k.top + i * k.dh, iw = ow * k.sw - k.left + j * k.dw;
              if (ih < 0 || iw < 0 || ih >= xs[1] || iw >= xs[2]) continue;
              for (int64_t ci = 0; ci < cig; ++ci)
                acc += at(x, ((n * xs[1] + ih) * xs[2] + iw) * xs[3] + g * cig + ci) *
                       at(w, ((oc * ws[1] + i) * ws[2] + j) * cig + ci);
            }
          y[static_cast<size_t>(((n * out[1] + oh) * out[2] + ow) * out[3] + oc)] = acc;
        }
  return {y};
}

// The transpose of conv2d: every input pixel scatters x · W into the output (out shape given).
inline Outputs conv_transpose2d_ref(const Tensor& x, const Tensor& w, const Tensor* b, const Window& k,
                                    int64_t groups, const Shape& out) {
  const Shape &xs = x.shape(), &ws = w.shape();
  const int64_t cig = ws[3], cog = ws[0] / groups;
  std::vector<double> y(static_cast<size_t>(out.num_elements()), 0.0);
  for (int64_t i = 0; i < out.num_elements(); ++i) y[static_cast<size_t>(i)] = b ? at(*b, i % out[3]) : 0.0;
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t ih = 0; ih < xs[1]; ++ih)
      for (int64_t iw = 0; iw < xs[2]; ++iw)
        for (int64_t i = 0; i < ws[1]; ++i)
          for (int64_t j = 0; j < ws[2]; ++j) {
            const int64_t oh = ih * k.sh - k.top + i * k.dh, ow = iw * k.sw - k.left + j * k.dw;
            if (oh < 0 || ow < 0 || oh >= out[1] || ow >= out[2]) continue;
            for (int64_t oc = 0; oc < out[3]; ++oc) {
              const int64_t g = oc / cog;
              for (int64_t ci = 0; ci < cig; ++ci)
                y[static_cast<size_t>(((n * out[1] + oh) * out[2] + ow) * out[3] + oc)] +=
                    at(x, ((n * xs[1] + ih) * xs[2] + iw) * xs[3] + g * cig + ci) *
                    at(w, ((oc * ws[1] + i) * ws[2] + j) * cig + ci);
            }
          }
  return {y};
}

// Max or average (padding not counted) pooling; out shape given.
inline Outputs pool_ref(const Tensor& x, bool is_max, const Window& k, const Shape& out) {
  const Shape& xs = x.shape();
  std::vector<double> y(static_cast<size_t>(out.num_elements()));
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t oh = 0; oh < out[1]; ++oh)
      for (int64_t ow = 0; ow < out[2]; ++ow)
        for (int64_t c = 0; c < out[3]; ++c) {
          double acc = is_max ? -INFINITY : 0.0;
          int cnt = 0;
          for (int64_t i = 0; i < k.kh; ++i)
            for (int64_t j = 0; j < k.kw; ++j) {
              const int64_t ih = oh * k.sh - k.top + i * k.dh, iw = ow * k.sw - k.left + j * k.dw;
              if (ih < 0 || iw < 0 || ih >= xs[1] || iw >= xs[2]) continue;
              const double v = at(x, ((n * xs[1] + ih) * xs[2] + iw) * xs[3] + c);
              acc = is_max ? std::max(acc, v) : acc + v;
              ++cnt;
            }
          y[static_cast<size_t>(((n * out[1] + oh) * out[2] + ow) * out[3] + c)] = is_max ? acc : acc / cnt;
        }
  return {y};
}

inline Outputs global_avg_pool_ref(const Tensor& x) {
  const Shape& s = x.shape();
  const int64_t hw = s[1] * s[2];
  std::vector<double> y(static_cast<size_t>(s[0] * s[3]), 0.0);
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < s[3]; ++c) y[static_cast<size_t>(n * s[3] + c)] += at(x, (n * hw + p) * s[3] + c) / hw;
  return {y};
}

// ---- sequences ---------------------------------------------------------------------------------

// softmax(q · kᵀ · scale + mask) · v over the last two axes, leading dims (and the mask) broadcast.
inline Outputs attention_ref(const std::vector<Tensor>& in, double scale, bool causal) {
  const Tensor &q = in[0], &k = in[1], &v = in[2];
  const Tensor* mask = in.size() > 3 ? &in[3] : nullptr;
  const std::vector<int64_t> sq = q.shape().to_vector(), sk = k.shape().to_vector(), sv = v.shape().to_vector();
  const int64_t lq = sq[sq.size() - 2], d = sq.back(), lk = sk[sk.size() - 2], dv = sv.back();
  const std::vector<int64_t> bq(sq.begin(), sq.end() - 2), bk(sk.begin(), sk.end() - 2), bv(sv.begin(), sv.end() - 2);
  const std::vector<int64_t> batch = broadcast_shape({bq, bk, bv});
  std::vector<double> y;
  for (int64_t p = 0; p < count(batch); ++p) {
    const std::vector<int64_t> idx = unravel(p, batch);
    const int64_t oq = broadcast_offset(idx, bq) * lq * d, ok = broadcast_offset(idx, bk) * lk * d,
                  ov = broadcast_offset(idx, bv) * lk * dv;
    for (int64_t i = 0; i < lq; ++i) {
      std::vector<double> s(static_cast<size_t>(lk));
      double mx = -INFINITY;
      for (int64_t j = 0; j < lk; ++j) {
        double acc = 0;
        for (int64_t e = 0; e < d; ++e) acc += at(q, oq + i * d + e) * at(k, ok + j * d + e);
        acc *= scale;
        if (mask) {
          std::vector<int64_t> full = idx;
          full.push_back(i);
          full.push_back(j);
          acc += at(*mask, broadcast_offset(full, mask->shape().to_vector()));
        }
        if (causal && j > i) acc = -INFINITY;
        s[static_cast<size_t>(j)] = acc;
        mx = std::max(mx, acc);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t e = 0; e < dv; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < lk; ++j) acc += s[static_cast<size_t>(j)] / sum * at(v, ov + j * dv + e);
        y.push_back(acc);
      }
    }
  }
  return {y};
}

// GRU (gates r, z, n) or LSTM (gates i, f, g, o), PyTorch's formulas, batch-first; the optional
// lengths input ends each sequence early (later steps output zeros; the reverse direction starts at
// the sequence's last step); inputs 6 and 7 (h_0, c_0: (N, D·H)), when given, are the initial state.
// Outputs y (N, T, D·H), h_n (N, D·H) [, c_n (N, D·H)].
inline Outputs rnn_ref(const std::vector<Tensor>& in, bool lstm, int64_t h, bool bidirectional, bool reverse,
                       bool linear_before_reset) {
  const Tensor &x = in[0], &wih = in[1], &whh = in[2], &bih = in[3], &bhh = in[4];
  const int64_t n = x.shape()[0], t = x.shape()[1], ni = x.shape()[2], g = lstm ? 4 : 3, dirs = bidirectional ? 2 : 1;
  std::vector<double> y(static_cast<size_t>(n * t * dirs * h), 0.0), hn(static_cast<size_t>(n * dirs * h), 0.0),
      cn(static_cast<size_t>(n * dirs * h), 0.0);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int64_t dir = 0; dir < dirs; ++dir) {
    const bool backwards = dir == 1 || reverse;
    const int64_t row0 = dir * g * h;
    for (int64_t b = 0; b < n; ++b) {
      const int64_t len = in.size() > 5 ? static_cast<int64_t>(at(in[5], b)) : t;
      std::vector<double> hs(static_cast<size_t>(h), 0.0), cs(static_cast<size_t>(h), 0.0);
      for (int64_t u = 0; u < h; ++u) {
        if (in.size() > 6) hs[static_cast<size_t>(u)] = at(in[6], b * dirs * h + dir * h + u);
        if (in.size() > 7) cs[static_cast<size_t>(u)] = at(in[7], b * dirs * h + dir * h + u);
      }
      for (int64_t step = 0; step < len; ++step) {
        const int64_t ts = backwards ? len - 1 - step : step;
        // gi[r] = W_ih[r] · x + b_ih[r], gh[r] = W_hh[r] · h + b_hh[r] for every gate row r.
        std::vector<double> gi(static_cast<size_t>(g * h)), gh(static_cast<size_t>(g * h));
        for (int64_t r = 0; r < g * h; ++r) {
          double a = at(bih, row0 + r), c = at(bhh, row0 + r);
          for (int64_t q = 0; q < ni; ++q) a += at(wih, (row0 + r) * ni + q) * at(x, (b * t + ts) * ni + q);
          for (int64_t q = 0; q < h; ++q) c += at(whh, (row0 + r) * h + q) * hs[static_cast<size_t>(q)];
          gi[static_cast<size_t>(r)] = a;
          gh[static_cast<size_t>(r)] = c;
        }
        std::vector<double> next(static_cast<size_t>(h));
        for (int64_t u = 0; u < h; ++u) {
          const size_t uu = static_cast<size_t>(u);
          if (lstm) {
            const double ig = sig(gi[uu] + gh[uu]), fg = sig(gi[h + uu] + gh[h + uu]),
                         gg = std::tanh(gi[2 * h + uu] + gh[2 * h + uu]), og = sig(gi[3 * h + uu] + gh[3 * h + uu]);
            cs[uu] = fg * cs[uu] + ig * gg;
            next[uu] = og * std::tanh(cs[uu]);
          } else {
            const double r = sig(gi[uu] + gh[uu]), z = sig(gi[h + uu] + gh[h + uu]);
            double hn_term;
            if (linear_before_reset) {
              hn_term = r * gh[2 * h + uu];
            } else {  // W_hn (r ⊙ h) + b_hn: each hidden unit q enters reset by its own gate r_q
              hn_term = at(bhh, row0 + 2 * h + u);
              for (int64_t q = 0; q < h; ++q) {
                const double rq = sig(gi[static_cast<size_t>(q)] + gh[static_cast<size_t>(q)]);
                hn_term += at(whh, (row0 + 2 * h + u) * h + q) * rq * hs[static_cast<size_t>(q)];
              }
            }
            const double nn = std::tanh(gi[2 * h + uu] + hn_term);
            next[uu] = (1 - z) * nn + z * hs[uu];
          }
        }
        hs = next;
        for (int64_t u = 0; u < h; ++u) y[static_cast<size_t>((b * t + ts) * dirs * h + dir * h + u)] = hs[static_cast<size_t>(u)];
      }
      for (int64_t u = 0; u < h; ++u) {
        hn[static_cast<size_t>(b * dirs * h + dir * h + u)] = hs[static_cast<size_t>(u)];
        cn[static_cast<size_t>(b * dirs * h + dir * h + u)] = cs[static_cast<size_t>(u)];
      }
    }
  }
  if (lstm) return {y, hn, cn};
  return {y, hn};
}

// ---- tables ------------------------------------------------------------------------------------

inline Outputs embedding_ref(const Tensor& ids, const Tensor& table) {
  const int64_t d = table.shape()[1];
  std::vector<double> y;
  for (int64_t i = 0; i < ids.num_elements(); ++i)
    for (int64_t k = 0; k < d; ++k) y.push_back(at(table, static_cast<int64_t>(at(ids, i)) * d + k));
  return {y};
}

// Per row of ids (N, L): the (weighted) sum or mean of the table rows it names; ids < 0 are padding.
inline Outputs embedding_bag_ref(const Tensor& ids, const Tensor& table, const Tensor* weights, bool mean) {
  const int64_t n = ids.shape()[0], l = ids.shape()[1], d = table.shape()[1];
  std::vector<double> y(static_cast<size_t>(n * d), 0.0);
  for (int64_t r = 0; r < n; ++r) {
    double total = 0;
    for (int64_t j = 0; j < l; ++j) {
      const int64_t id = static_cast<int64_t>(at(ids, r * l + j));
      if (id < 0) continue;
      const double wgt = weights ? at(*weights, r * l + j) : 1.0;
      total += wgt;
      for (int64_t k = 0; k < d; ++k) y[static_cast<size_t>(r * d + k)] += wgt * at(table, id * d + k);
    }
    if (mean && total != 0)
      for (int64_t k = 0; k < d; ++k) y[static_cast<size_t>(r * d + k)] /= total;
  }
  return {y};
}

// ---- the reference of any op, from its attributes ------------------------------------------------

inline std::vector<int64_t> ints(const OpAttrs& a, const char* key, std::vector<int64_t> fallback) {
  auto it = a.ints.find(key);
  return it == a.ints.end() ? fallback : it->second;
}

// The first output's shape, by the op's own shape inference (references compute values, the
// registry's infer_shapes is tested separately).
inline Shape inferred_shape(OpType op, const OpAttrs& a, const std::vector<Tensor>& in) {
  std::vector<Shape> shapes;
  for (const Tensor& t : in) shapes.push_back(t.shape());
  return op_info(op).infer_shapes(shapes, a).value()[0];
}

// The reference for `op` with attributes `a`, or null where the output is random (training-mode
// dropout) or depends on state the case does not model (training-mode batch norm, layer-norm
// statistics outputs).
inline std::function<Outputs(const std::vector<Tensor>&)> reference_for(OpType op, const OpAttrs& a) {
  const bool training = a.number("training", 0) != 0;
  auto same = [](const std::vector<Tensor>& in) { return Outputs{values_of(in[0])}; };
  auto unary = [](std::function<double(double)> f) {
    return [f](const std::vector<Tensor>& in) { return unary_ref(in[0], f); };
  };
  auto binary = [](std::function<double(double, double)> f) {
    return [f](const std::vector<Tensor>& in) { return binary_ref(in[0], in[1], f); };
  };
  auto window = [a](bool pool) {
    Window w;
    const std::vector<int64_t> k = ints(a, "kernel", {1, 1});
    const std::vector<int64_t> s = ints(a, "strides", pool ? k : std::vector<int64_t>{1, 1});
    const std::vector<int64_t> d = ints(a, "dilations", {1, 1});
    const std::vector<int64_t> p = ints(a, "pads", {0, 0, 0, 0});
    w.kh = k[0], w.kw = k[1], w.sh = s[0], w.sw = s[1], w.dh = d[0], w.dw = d[1], w.top = p[0], w.left = p[1];
    return w;
  };
  switch (op) {
    case OpType::kDense:
      return [](const std::vector<Tensor>& in) { return dense_ref(in[0], in[1], in.size() > 2 ? &in[2] : nullptr); };
    case OpType::kConv2D:
    case OpType::kConvTranspose2D: {
      const Window w = window(false);
      const int64_t groups = static_cast<int64_t>(a.number("groups", 1));
      return [op, a, w, groups](const std::vector<Tensor>& in) {
        const Tensor* b = in.size() > 2 ? &in[2] : nullptr;
        const Shape out = inferred_shape(op, a, in);
        return op == OpType::kConv2D ? conv2d_ref(in[0], in[1], b, w, groups, out)
                                     : conv_transpose2d_ref(in[0], in[1], b, w, groups, out);
      };
    }
    case OpType::kMaxPool2D:
    case OpType::kAvgPool2D: {
      const Window w = window(true);
      return [op, a, w](const std::vector<Tensor>& in) {
        return pool_ref(in[0], op == OpType::kMaxPool2D, w, inferred_shape(op, a, in));
      };
    }
    case OpType::kGlobalAvgPool2D: return [](const std::vector<Tensor>& in) { return global_avg_pool_ref(in[0]); };
    case OpType::kAdd: return binary([](double x, double y) { return x + y; });
    case OpType::kSub: return binary([](double x, double y) { return x - y; });
    case OpType::kMul: return binary([](double x, double y) { return x * y; });
    case OpType::kDiv:
      return [](const std::vector<Tensor>& in) {  // integers: the quotient truncated toward zero
        const bool ints = in[0].dtype() != DType::kF32;
        return binary_ref(in[0], in[1], [ints](double x, double y) { return ints ? std::trunc(x / y) : x / y; });
      };
    case OpType::kRelu: return unary([](double v) { return std::max(v, 0.0); });
    case OpType::kClip: {
      const double lo = a.number("min", -INFINITY), hi = a.number("max", INFINITY);
      return unary([lo, hi](double v) { return std::min(std::max(v, lo), hi); });
    }
    case OpType::kLeakyRelu: {
      const double alpha = a.number("alpha", 0.01);
      return unary([alpha](double v) { return v < 0 ? alpha * v : v; });
    }
    case OpType::kSigmoid: return unary([](double v) { return 1 / (1 + std::exp(-v)); });
    case OpType::kTanh: return unary([](double v) { return std::tanh(v); });
    case OpType::kHardSwish: return unary([](double v) { return v * std::min(std::max(v + 3, 0.0), 6.0) / 6; });
    case OpType::kHardSigmoid: {
      const double alpha = a.number("alpha", 0.2), beta = a.number("beta", 0.5);
      return unary([alpha, beta](double v) { return std::max(0.0, std::min(1.0, alpha * v + beta)); });
    }
    case OpType::kGelu:
      if (a.string("approximate", "none") == "tanh") return unary(gelu_tanh);
      return unary(gelu_erf);
    case OpType::kElu:
    case OpType::kSelu: {
      const bool selu = op == OpType::kSelu;
      const double alpha = a.number("alpha", selu ? 1.6732632423543772 : 1.0), gamma = selu ? a.number("gamma", 1.0507009873554805) : 1.0;
      return unary([alpha, gamma](double v) { return gamma * (v > 0 ? v : alpha * (std::exp(v) - 1)); });
    }
    case OpType::kSoftplus: return unary([](double v) { return std::log(1 + std::exp(v)); });
    case OpType::kExp: return unary([](double v) { return std::exp(v); });
    case OpType::kLog: return unary([](double v) { return std::log(v); });
    case OpType::kSqrt: return unary([](double v) { return std::sqrt(v); });
    case OpType::kNeg: return unary([](double v) { return -v; });
    case OpType::kAbs: return unary([](double v) { return std::fabs(v); });
    case OpType::kReciprocal: return unary([](double v) { return 1 / v; });
    case OpType::kErf: return unary([](double v) { return std::erf(v); });
    case OpType::kFloor: return unary([](double v) { return std::floor(v); });
    case OpType::kCeil: return unary([](double v) { return std::ceil(v); });
    case OpType::kSin: return unary([](double v) { return std::sin(v); });
    case OpType::kCos: return unary([](double v) { return std::cos(v); });
    case OpType::kTan: return unary([](double v) { return std::tan(v); });
    case OpType::kAsin: return unary([](double v) { return std::asin(v); });
    case OpType::kAcos: return unary([](double v) { return std::acos(v); });
    case OpType::kAtan: return unary([](double v) { return std::atan(v); });
    case OpType::kSinh: return unary([](double v) { return std::sinh(v); });
    case OpType::kCosh: return unary([](double v) { return std::cosh(v); });
    case OpType::kAsinh: return unary([](double v) { return std::log(v + std::sqrt(v * v + 1)); });
    case OpType::kAcosh: return unary([](double v) { return std::log(v + std::sqrt(v * v - 1)); });
    case OpType::kAtanh: return unary([](double v) { return 0.5 * std::log((1 + v) / (1 - v)); });
    case OpType::kSign: return unary([](double v) { return double((v > 0) - (v < 0)); });
    case OpType::kRound:
      return unary([](double v) {  // halves to the even neighbour
        const double f = std::floor(v), d = v - f;
        return d < 0.5 ? f : d > 0.5 ? f + 1 : (std::fmod(f, 2.0) == 0 ? f : f + 1);
      });
    case OpType::kSoftsign: return unary([](double v) { return v / (1 + std::fabs(v)); });
    case OpType::kThresholdedRelu: {
      const double alpha = a.number("alpha", 1.0);
      return unary([alpha](double v) { return v > alpha ? v : 0.0; });
    }
    case OpType::kCelu: {
      const double alpha = a.number("alpha", 1.0);
      return unary([alpha](double v) { return std::max(0.0, v) + std::min(0.0, alpha * (std::exp(v / alpha) - 1)); });
    }
    case OpType::kShrink: {
      const double lambd = a.number("lambd", 0.5), bias = a.number("bias", 0.0);
      return unary([lambd, bias](double v) { return v < -lambd ? v + bias : v > lambd ? v - bias : 0.0; });
    }
    case OpType::kMax: return binary([](double x, double y) { return std::max(x, y); });
    case OpType::kMin: return binary([](double x, double y) { return std::min(x, y); });
    case OpType::kPow:
      return [](const std::vector<Tensor>& in) {  // an integer base: the power truncated toward zero
        const bool ints = in[0].dtype() != DType::kF32;
        return binary_ref(in[0], in[1], [ints](double x, double y) { return ints ? std::trunc(std::pow(x, y)) : std::pow(x, y); });
      };
    case OpType::kPRelu: return binary([](double x, double y) { return x >= 0 ? x : y * x; });
    case OpType::kCast: {
      const DType to = dtype_from_name(a.string("to", "f32")).value();
      return [to](const std::vector<Tensor>& in) {
        std::vector<double> y;
        for (int64_t i = 0; i < in[0].num_elements(); ++i) y.push_back(cast_ref(at(in[0], i), in[0].dtype(), to));
        return Outputs{y};
      };
    }
    case OpType::kEqual: return binary([](double x, double y) { return x == y ? 1.0 : 0.0; });
    case OpType::kLess: return binary([](double x, double y) { return x < y ? 1.0 : 0.0; });
    case OpType::kLessOrEqual: return binary([](double x, double y) { return x <= y ? 1.0 : 0.0; });
    case OpType::kGreater: return binary([](double x, double y) { return x > y ? 1.0 : 0.0; });
    case OpType::kGreaterOrEqual: return binary([](double x, double y) { return x >= y ? 1.0 : 0.0; });
    case OpType::kAnd: return binary([](double x, double y) { return x != 0 && y != 0 ? 1.0 : 0.0; });
    case OpType::kOr: return binary([](double x, double y) { return x != 0 || y != 0 ? 1.0 : 0.0; });
    case OpType::kXor: return binary([](double x, double y) { return (x != 0) != (y != 0) ? 1.0 : 0.0; });
    case OpType::kNot: return [](const std::vector<Tensor>& in) { return unary_ref(in[0], [](double v) { return v != 0 ? 0.0 : 1.0; }); };
    case OpType::kWhere:
      return [](const std::vector<Tensor>& in) {
        const std::vector<int64_t> sc = in[0].shape().to_vector(), sx = in[1].shape().to_vector(), sz = in[2].shape().to_vector();
        const std::vector<int64_t> out = broadcast_shape({sc, sx, sz});
        std::vector<double> y;
        for (int64_t i = 0; i < count(out); ++i) {
          const std::vector<int64_t> idx = unravel(i, out);
          y.push_back(at(in[0], broadcast_offset(idx, sc)) != 0 ? at(in[1], broadcast_offset(idx, sx)) : at(in[2], broadcast_offset(idx, sz)));
        }
        return Outputs{y};
      };
    case OpType::kArgMax:
    case OpType::kArgMin: {
      const bool mx = op == OpType::kArgMax, last = a.number("select_last_index", 0) != 0;
      const int64_t axis_attr = static_cast<int64_t>(a.number("axis", 0));
      return [=](const std::vector<Tensor>& in) {
        const std::vector<int64_t> s = in[0].shape().to_vector();
        const size_t ax = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(s.size()) : axis_attr);
        std::vector<int64_t> rest = s;
        rest[ax] = 1;
        std::vector<double> y;
        for (int64_t i = 0; i < count(rest); ++i) {
          std::vector<int64_t> idx = unravel(i, rest);
          int64_t best = -1;
          double bv = 0;
          for (int64_t k = 0; k < s[ax]; ++k) {
            idx[ax] = k;
            int64_t off = 0;
            for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
            const double v = at(in[0], off);
            if (best < 0 || (mx ? v > bv : v < bv) || (last && v == bv)) best = k, bv = v;
          }
          y.push_back(static_cast<double>(best));
        }
        return Outputs{y};
      };
    }
    case OpType::kGather: {
      const int64_t axis_attr = static_cast<int64_t>(a.number("axis", 0));
      return [axis_attr](const std::vector<Tensor>& in) {
        const std::vector<int64_t> s = in[0].shape().to_vector(), is = in[1].shape().to_vector();
        const size_t ax = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(s.size()) : axis_attr);
        std::vector<int64_t> out(s.begin(), s.begin() + static_cast<int64_t>(ax));
        out.insert(out.end(), is.begin(), is.end());
        out.insert(out.end(), s.begin() + static_cast<int64_t>(ax) + 1, s.end());
        std::vector<double> y;
        for (int64_t i = 0; i < count(out); ++i) {
          const std::vector<int64_t> idx = unravel(i, out);
          int64_t ioff = 0;  // position in indices of the middle coordinates
          for (size_t d = 0; d < is.size(); ++d) ioff = ioff * is[d] + idx[ax + d];
          int64_t k = static_cast<int64_t>(at(in[1], ioff));
          if (k < 0) k += s[ax];
          int64_t off = 0;
          for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + (d < ax ? idx[d] : d == ax ? k : idx[d - 1 + is.size()]);
          y.push_back(at(in[0], off));
        }
        return Outputs{y};
      };
    }
    case OpType::kExpand:
    case OpType::kTile: {
      const std::vector<int64_t> target = a.ints.count("shape") ? a.ints.at("shape") : std::vector<int64_t>{};
      const std::vector<int64_t> reps = a.ints.count("repeats") ? a.ints.at("repeats") : std::vector<int64_t>{};
      const bool tile = op == OpType::kTile;
      return [=](const std::vector<Tensor>& in) {
        const std::vector<int64_t> xs = in[0].shape().to_vector();
        std::vector<int64_t> out = target;
        if (tile) {
          out = xs;
          for (size_t d = 0; d < xs.size(); ++d) out[d] *= reps[d];
        }
        std::vector<double> y;
        for (int64_t i = 0; i < count(out); ++i) {
          std::vector<int64_t> idx = unravel(i, out);
          if (tile) {
            for (size_t d = 0; d < xs.size(); ++d) idx[d] %= xs[d];
            int64_t off = 0;
            for (size_t d = 0; d < xs.size(); ++d) off = off * xs[d] + idx[d];
            y.push_back(at(in[0], off));
          } else {
            y.push_back(at(in[0], broadcast_offset(idx, xs)));
          }
        }
        return Outputs{y};
      };
    }
    case OpType::kCumSum:
    case OpType::kHardmax: {
      const bool hard = op == OpType::kHardmax;
      const int64_t axis_attr = static_cast<int64_t>(a.number("axis", hard ? -1 : 0));
      const bool exclusive = a.number("exclusive", 0) != 0, reverse = a.number("reverse", 0) != 0;
      return [=](const std::vector<Tensor>& in) {
        const std::vector<int64_t> s = in[0].shape().to_vector();
        const size_t ax = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(s.size()) : axis_attr);
        std::vector<double> y(static_cast<size_t>(count(s)));
        for (int64_t i = 0; i < count(s); ++i) {
          const std::vector<int64_t> idx = unravel(i, s);
          auto at_k = [&](int64_t k) {
            std::vector<int64_t> j = idx;
            j[ax] = k;
            int64_t off = 0;
            for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + j[d];
            return at(in[0], off);
          };
          if (hard) {
            int64_t best = 0;
            for (int64_t k = 1; k < s[ax]; ++k) if (at_k(k) > at_k(best)) best = k;
            y[static_cast<size_t>(i)] = idx[ax] == best ? 1.0 : 0.0;
          } else {
            double sum = 0;
            for (int64_t k = 0; k < s[ax]; ++k) {
              const bool before = reverse ? k > idx[ax] : k < idx[ax];
              if (before || (!exclusive && k == idx[ax])) sum += at_k(k);
            }
            y[static_cast<size_t>(i)] = sum;
          }
        }
        return Outputs{y};
      };
    }
    case OpType::kTopK: {
      const int64_t axis_attr = static_cast<int64_t>(a.number("axis", -1)), k = static_cast<int64_t>(a.number("k", 0));
      const bool largest = a.number("largest", 1) != 0;
      return [=](const std::vector<Tensor>& in) {
        const std::vector<int64_t> s = in[0].shape().to_vector();
        const size_t ax = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(s.size()) : axis_attr);
        std::vector<int64_t> os = s;
        os[ax] = k;
        std::vector<double> values(static_cast<size_t>(count(os))), indices(values.size());
        std::vector<int64_t> rest = s;
        rest[ax] = 1;
        for (int64_t r = 0; r < count(rest); ++r) {
          std::vector<int64_t> idx = unravel(r, rest);
          auto flat = [&](const std::vector<int64_t>& shape, int64_t along) {
            std::vector<int64_t> j = idx;
            j[ax] = along;
            int64_t off = 0;
            for (size_t d = 0; d < shape.size(); ++d) off = off * shape[d] + j[d];
            return off;
          };
          std::vector<std::pair<double, int64_t>> row;
          for (int64_t t = 0; t < s[ax]; ++t) row.push_back({at(in[0], flat(s, t)), t});
          std::stable_sort(row.begin(), row.end(), [&](const auto& p, const auto& q) { return largest ? p.first > q.first : p.first < q.first; });
          for (int64_t t = 0; t < k; ++t) {
            values[static_cast<size_t>(flat(os, t))] = row[static_cast<size_t>(t)].first;
            indices[static_cast<size_t>(flat(os, t))] = static_cast<double>(row[static_cast<size_t>(t)].second);
          }
        }
        return Outputs{values, indices};
      };
    }
    case OpType::kGatherElements: {
      const int64_t axis_attr = static_cast<int64_t>(a.number("axis", 0));
      return [axis_attr](const std::vector<Tensor>& in) {
        const std::vector<int64_t> s = in[0].shape().to_vector(), is = in[1].shape().to_vector();
        const size_t ax = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(s.size()) : axis_attr);
        std::vector<double> y;
        for (int64_t i = 0; i < count(is); ++i) {
          std::vector<int64_t> idx = unravel(i, is);
          int64_t k = static_cast<int64_t>(at(in[1], i));
          idx[ax] = k < 0 ? k + s[ax] : k;
          int64_t off = 0;
          for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
          y.push_back(at(in[0], off));
        }
        return Outputs{y};
      };
    }
    case OpType::kScatterElements:
    case OpType::kScatterND: {
      const int64_t axis_attr = static_cast<int64_t>(a.number("axis", 0));
      const std::string r = a.string("reduction", "none");
      const bool nd = op == OpType::kScatterND;
      return [=](const std::vector<Tensor>& in) {
        const std::vector<int64_t> s = in[0].shape().to_vector(), is = in[1].shape().to_vector();
        std::vector<double> y = values_of(in[0]);
        auto write = [&](int64_t dst, double u) { y[static_cast<size_t>(dst)] = r == "add" ? y[static_cast<size_t>(dst)] + u : r == "mul" ? y[static_cast<size_t>(dst)] * u : u; };
        if (!nd) {
          const size_t ax = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(s.size()) : axis_attr);
          for (int64_t i = 0; i < count(is); ++i) {
            std::vector<int64_t> idx = unravel(i, is);
            const int64_t k = static_cast<int64_t>(at(in[1], i));
            idx[ax] = k < 0 ? k + s[ax] : k;
            int64_t off = 0;
            for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
            write(off, at(in[2], i));
          }
        } else {
          const int64_t q = is.back(), tuples = count(is) / q;
          int64_t slice = 1;
          for (size_t d = static_cast<size_t>(q); d < s.size(); ++d) slice *= s[d];
          for (int64_t j = 0; j < tuples; ++j) {
            int64_t off = 0;
            for (int64_t c = 0; c < q; ++c) {
              const int64_t k = static_cast<int64_t>(at(in[1], j * q + c));
              off = off * s[static_cast<size_t>(c)] + (k < 0 ? k + s[static_cast<size_t>(c)] : k);
            }
            for (int64_t e = 0; e < slice; ++e) write(off * slice + e, at(in[2], j * slice + e));
          }
        }
        return Outputs{y};
      };
    }
    case OpType::kResize:
      return [a](const std::vector<Tensor>& in) {
        std::vector<Shape> shapes{in[0].shape()};
        return resize_ref(in[0], op_info(OpType::kResize).infer_shapes(shapes, a).value()[0], a);
      };
    case OpType::kSoftmax: return [](const std::vector<Tensor>& in) { return softmax_ref(in[0], false); };
    case OpType::kLogSoftmax: return [](const std::vector<Tensor>& in) { return softmax_ref(in[0], true); };
    case OpType::kReshape:
    case OpType::kFlatten:
    case OpType::kIdentity: return same;
    case OpType::kDropout: return training ? nullptr : std::function<Outputs(const std::vector<Tensor>&)>(same);
    case OpType::kTranspose:
      return [a](const std::vector<Tensor>& in) {
        std::vector<int64_t> perm;
        for (int64_t d = in[0].shape().rank() - 1; d >= 0; --d) perm.push_back(d);
        return transpose_ref(in[0], ints(a, "perm", perm));
      };
    case OpType::kConcat: {
      const int64_t axis = static_cast<int64_t>(a.number("axis", 0));
      return [axis](const std::vector<Tensor>& in) { return concat_ref(in, axis); };
    }
    case OpType::kSlice:
      return [a](const std::vector<Tensor>& in) {
        const std::vector<int64_t> starts = ints(a, "starts", {});
        std::vector<int64_t> axes;
        for (size_t d = 0; d < starts.size(); ++d) axes.push_back(static_cast<int64_t>(d));
        return slice_ref(in[0], starts, ints(a, "ends", {}), ints(a, "axes", axes), ints(a, "steps", {}));
      };
    case OpType::kPad:
      return [a](const std::vector<Tensor>& in) {
        return pad_ref(in[0], ints(a, "pads", std::vector<int64_t>(2 * static_cast<size_t>(in[0].shape().rank()), 0)),
                       a.number("value", 0), a.strings.count("mode") ? a.strings.at("mode") : "constant");
      };
    case OpType::kReduceMean:
      return [a](const std::vector<Tensor>& in) { return reduce_mean_ref(in[0], ints(a, "axes", {})); };
    case OpType::kReduceSum:
    case OpType::kReduceMax:
    case OpType::kReduceMin:
    case OpType::kReduceSumSquare:
    case OpType::kReduceL2:
    case OpType::kReduceProd:
    case OpType::kReduceL1:
    case OpType::kReduceLogSum:
    case OpType::kReduceLogSumExp:
      return [a, op](const std::vector<Tensor>& in) {
        return reduce_ref(in[0], ints(a, "axes", {}), [op](const std::vector<double>& w) {
          double r = op == OpType::kReduceMax ? -INFINITY : op == OpType::kReduceMin ? INFINITY : op == OpType::kReduceProd ? 1 : 0;
          for (double v : w) {
            if (op == OpType::kReduceMax) r = std::max(r, v);
            else if (op == OpType::kReduceMin) r = std::min(r, v);
            else if (op == OpType::kReduceProd) r *= v;
            else if (op == OpType::kReduceSumSquare || op == OpType::kReduceL2) r += v * v;
            else if (op == OpType::kReduceL1) r += std::fabs(v);
            else if (op == OpType::kReduceLogSumExp) r += std::exp(v);
            else r += v;
          }
          if (op == OpType::kReduceL2) return std::sqrt(r);
          if (op == OpType::kReduceLogSum || op == OpType::kReduceLogSumExp) return std::log(r);
          return r;
        });
      };
    case OpType::kBatchNorm: {
      if (training) return nullptr;
      const double eps = a.number("epsilon", 1e-5);
      return [eps](const std::vector<Tensor>& in) { return batch_norm_ref(in[0], in[1], in[2], in[3], in[4], eps); };
    }
    case OpType::kMatMul: return [](const std::vector<Tensor>& in) { return matmul_ref(in[0], in[1]); };
    case OpType::kEmbedding: return [](const std::vector<Tensor>& in) { return embedding_ref(in[0], in[1]); };
    case OpType::kEmbeddingBag: {
      const bool mean = a.string("mode", "mean") == "mean";
      return [mean](const std::vector<Tensor>& in) {
        return embedding_bag_ref(in[0], in[1], in.size() > 2 ? &in[2] : nullptr, mean);
      };
    }
    case OpType::kLayerNorm: {
      if (a.number("stats", 0) != 0) return nullptr;
      const double eps = a.number("epsilon", 1e-5);
      return [eps](const std::vector<Tensor>& in) { return layer_norm_ref(in[0], in[1], in[2], eps); };
    }
    case OpType::kGru:
    case OpType::kLstm: {
      const int64_t h = static_cast<int64_t>(a.number("hidden_size", 0));
      const bool bi = a.number("bidirectional", 0) != 0, rev = a.number("reverse", 0) != 0,
                 lbr = a.number("linear_before_reset", 1) != 0, lstm = op == OpType::kLstm;
      return [=](const std::vector<Tensor>& in) { return rnn_ref(in, lstm, h, bi, rev, lbr); };
    }
    case OpType::kAttention: {
      const bool causal = a.number("causal", 0) != 0;
      return [a, causal](const std::vector<Tensor>& in) {
        return attention_ref(in, a.number("scale", 1.0 / std::sqrt(double(in[0].shape().dim(-1)))), causal);
      };
    }
  }
  return nullptr;
}

}  // namespace vitrine::testing
