// Resize: samples x (any rank, f32) onto a new grid, one axis at a time (the ONNX Resize modes).
// attrs:
//   sizes                 output size per axis; or, when absent,
//   scale_0 .. scale_5    per-axis scale (default 1): output = floor(input × scale). The scale used
//                         to map coordinates is scale_d when given, else output / input.
//   mode                  "nearest" (default), "linear" or "cubic"
//   coordinate_transformation_mode  "half_pixel" (default), "asymmetric", "align_corners",
//                         "pytorch_half_pixel", "tf_half_pixel_for_nn": how output index o maps to
//                         the input coordinate x (e.g. half_pixel: x = (o + 0.5) / scale - 0.5;
//                         align_corners: x = o (in - 1) / (in × scale - 1), the unrounded length)
//   nearest_mode          "round_prefer_floor" (default), "round_prefer_ceil", "floor", "ceil"
//   cubic_coeff_a         -0.75; exclude_outside 0: 1 drops taps outside the input and renormalizes
// Taps outside the input read its edge. Engine kernel; backward is the transposed sampling.
#include <algorithm>
#include <cmath>
#include <string>

#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

const char* const kScaleKeys[Shape::kMaxRank] = {"scale_0", "scale_1", "scale_2", "scale_3", "scale_4", "scale_5"};

Status check_attrs(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("resize", {"sizes", "scale_0", "scale_1", "scale_2", "scale_3", "scale_4", "scale_5",
                                                   "mode", "coordinate_transformation_mode", "nearest_mode",
                                                   "cubic_coeff_a", "exclude_outside"}));
  const std::string mode = a.string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") return op_error("resize", "unknown mode '" + mode + "'");
  const std::string ct = a.string("coordinate_transformation_mode", "half_pixel");
  if (ct != "half_pixel" && ct != "asymmetric" && ct != "align_corners" && ct != "pytorch_half_pixel" &&
      ct != "tf_half_pixel_for_nn") {
    return op_error("resize", "unknown coordinate_transformation_mode '" + ct + "'");
  }
  const std::string nm = a.string("nearest_mode", "round_prefer_floor");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil") {
    return op_error("resize", "unknown nearest_mode '" + nm + "'");
  }
  if (!std::isfinite(a.number("cubic_coeff_a", -0.75))) return op_error("resize", "cubic_coeff_a is not finite");
  return Status::Ok();
}

Result<std::vector<Shape>> infer_resize(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(check_attrs(a));
  const int rank = in[0].rank();
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  if (a.ints.count("sizes")) {
    Result<std::vector<int64_t>> sizes = a.int_list("sizes", rank, {});
    if (!sizes.ok()) return sizes.status();
    dims = sizes.value();
    for (int64_t d : dims)
      if (d < 1) return op_error("resize", "sizes must be >= 1");
  } else {
    for (int d = 0; d < rank; ++d) {
      const double s = a.number(kScaleKeys[d], 1.0);
      if (!(s > 0) || !std::isfinite(s)) return op_error("resize", std::string(kScaleKeys[d]) + " must be positive");
      const double out = std::floor(static_cast<double>(in[0][d]) * s);
      if (out < 1 || out > double(int64_t{1} << 40)) {
        return op_error("resize", "scale " + std::to_string(s) + " gives output size " + std::to_string(out) +
                                      " for axis " + std::to_string(d));
      }
      dims[static_cast<size_t>(d)] = static_cast<int64_t>(out);
    }
  }
  for (int d = 0; d < rank; ++d)
    if (in[0][d] == 0) return op_error("resize", "input dimension " + std::to_string(d) + " is empty");
  return one_shape(dims);
}

// The sampling of one axis: output o = Σ_t weight[o·taps + t] · input[index[o·taps + t]].
struct AxisTaps {
  int axis = 0;
  int64_t in = 0, out = 0;
  int taps = 1;
  std::vector<int64_t> index;
  std::vector<float> weight;
};

AxisTaps axis_taps(const OpAttrs& a, int axis, int64_t in, int64_t out) {
  AxisTaps t;
  t.axis = axis;
  t.in = in;
  t.out = out;
  const std::string mode = a.string("mode", "nearest");
  const std::string ct = a.string("coordinate_transformation_mode", "half_pixel");
  const std::string nm = a.string("nearest_mode", "round_prefer_floor");
  const double scale = a.ints.count("sizes") ? double(out) / double(in) : a.number(kScaleKeys[axis], 1.0);
  // The unrounded output length (input × scale), as ONNX uses it in align_corners and
  // pytorch_half_pixel: with scales, floor(in × scale) is only the number of samples.
  const double out_f = double(in) * scale;
  const double ca = a.number("cubic_coeff_a", -0.75);
  const bool exclude = a.number("exclude_outside", 0) != 0;
  t.taps = mode == "nearest" ? 1 : mode == "linear" ? 2 : 4;
  auto clamp = [in](int64_t i) { return i < 0 ? int64_t{0} : i >= in ? in - 1 : i; };
  for (int64_t o = 0; o < out; ++o) {
    double x;
    if (ct == "half_pixel") x = (double(o) + 0.5) / scale - 0.5;
    else if (ct == "asymmetric") x = double(o) / scale;
    else if (ct == "align_corners") x = out_f == 1 ? 0.0 : double(o) * double(in - 1) / (out_f - 1);
    else if (ct == "pytorch_half_pixel") x = out_f > 1 ? (double(o) + 0.5) / scale - 0.5 : 0.0;
    else x = (double(o) + 0.5) / scale;  // tf_half_pixel_for_nn
    if (mode == "nearest") {
      double r;
      if (nm == "round_prefer_floor") r = std::ceil(x - 0.5);
      else if (nm == "round_prefer_ceil") r = std::floor(x + 0.5);
      else if (nm == "floor") r = std::floor(x);
      else r = std::ceil(x);
      r = r < 0 ? 0 : r > double(in - 1) ? double(in - 1) : r;
      t.index.push_back(static_cast<int64_t>(r));
      t.weight.push_back(1.0f);
      continue;
    }
    if (mode == "linear") {
      if (x < 0) x = 0;
      if (x > double(in - 1)) x = double(in - 1);
      const double x0 = std::floor(x), f = x - x0;
      t.index.push_back(clamp(static_cast<int64_t>(x0)));
      t.index.push_back(clamp(static_cast<int64_t>(x0) + 1));
      t.weight.push_back(static_cast<float>(1 - f));
      t.weight.push_back(static_cast<float>(f));
      continue;
    }
    const double x0 = std::floor(x), f = x - x0;
    const double c[4] = {((ca * (f + 1) - 5 * ca) * (f + 1) + 8 * ca) * (f + 1) - 4 * ca,
                         ((ca + 2) * f - (ca + 3)) * f * f + 1,
                         ((ca + 2) * (1 - f) - (ca + 3)) * (1 - f) * (1 - f) + 1,
                         ((ca * (2 - f) - 5 * ca) * (2 - f) + 8 * ca) * (2 - f) - 4 * ca};
    double w[4], sum = 0;
    for (int k = 0; k < 4; ++k) {
      const int64_t i = static_cast<int64_t>(x0) - 1 + k;
      w[k] = exclude && (i < 0 || i >= in) ? 0.0 : c[k];
      sum += w[k];
    }
    for (int k = 0; k < 4; ++k) {
      t.index.push_back(clamp(static_cast<int64_t>(x0) - 1 + k));
      t.weight.push_back(static_cast<float>(exclude && sum != 0 ? w[k] / sum : w[k]));
    }
  }
  return t;
}

// The axes that change anything, in order, with the shape before each.
std::vector<AxisTaps> plan(const OpAttrs& a, const Shape& xs, const Shape& ys) {
  std::vector<AxisTaps> axes;
  for (int d = 0; d < xs.rank(); ++d) {
    AxisTaps t = axis_taps(a, d, xs[d], ys[d]);
    bool identity = t.in == t.out;
    for (int64_t o = 0; identity && o < t.out; ++o) {
      for (int k = 0; k < t.taps; ++k) {
        const size_t j = static_cast<size_t>(o * t.taps + k);
        if (t.weight[j] != 0.0f && (t.index[j] != o || t.weight[j] != 1.0f)) identity = false;
      }
    }
    if (!identity) axes.push_back(std::move(t));
  }
  // Shrinking axes first, growing ones last: every intermediate then holds at most
  // max(input, output) elements.
  std::stable_sort(axes.begin(), axes.end(), [](const AxisTaps& a, const AxisTaps& b) {
    return static_cast<double>(a.out) / static_cast<double>(a.in) < static_cast<double>(b.out) / static_cast<double>(b.in);
  });
  return axes;
}

// dst (dims with axis t.axis = t.out) from src (the same dims with t.in), or the transpose of that
// (accumulating into src) when `transposed`.
void apply_axis(const AxisTaps& t, const std::vector<int64_t>& dims, const float* src, float* dst, bool transposed,
                float* src_grad, const float* dst_grad) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < t.axis; ++d) outer *= dims[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(t.axis) + 1; d < dims.size(); ++d) inner *= dims[d];
  for (int64_t p = 0; p < outer; ++p) {
    for (int64_t o = 0; o < t.out; ++o) {
      const int64_t* idx = &t.index[static_cast<size_t>(o * t.taps)];
      const float* w = &t.weight[static_cast<size_t>(o * t.taps)];
      const int64_t yoff = (p * t.out + o) * inner;
      if (!transposed) {
        float* y = dst + yoff;
        for (int64_t j = 0; j < inner; ++j) y[j] = 0.0f;
        for (int k = 0; k < t.taps; ++k) {
          if (w[k] == 0.0f) continue;
          const float* x = src + (p * t.in + idx[k]) * inner;
          for (int64_t j = 0; j < inner; ++j) y[j] += w[k] * x[j];
        }
      } else {
        const float* dy = dst_grad + yoff;
        for (int k = 0; k < t.taps; ++k) {
          if (w[k] == 0.0f) continue;
          float* dx = src_grad + (p * t.in + idx[k]) * inner;
          for (int64_t j = 0; j < inner; ++j) dx[j] += w[k] * dy[j];
        }
      }
    }
  }
}

Status run_resize(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const std::vector<AxisTaps> axes = plan(a, in[0]->shape(), out[0]->shape());
  std::vector<int64_t> dims = in[0]->shape().to_vector();
  std::vector<float> cur(in[0]->data(), in[0]->data() + in[0]->num_elements()), next;
  for (const AxisTaps& t : axes) {
    std::vector<int64_t> nd = dims;
    nd[static_cast<size_t>(t.axis)] = t.out;
    int64_t n = 1;
    for (int64_t d : nd) n *= d;
    next.assign(static_cast<size_t>(n), 0.0f);
    apply_axis(t, dims, cur.data(), next.data(), false, nullptr, nullptr);
    cur.swap(next);
    dims = nd;
  }
  std::copy(cur.begin(), cur.end(), out[0]->mutable_data());
  return Status::Ok();
}

Status backward_resize(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const std::vector<AxisTaps> axes = plan(a, in[0]->shape(), out[0]->shape());
  std::vector<std::vector<int64_t>> dims_before{in[0]->shape().to_vector()};
  for (const AxisTaps& t : axes) {
    std::vector<int64_t> nd = dims_before.back();
    nd[static_cast<size_t>(t.axis)] = t.out;
    dims_before.push_back(nd);
  }
  std::vector<float> g(gout[0]->data(), gout[0]->data() + gout[0]->num_elements()), prev;
  for (size_t k = axes.size(); k-- > 0;) {
    int64_t n = 1;
    for (int64_t d : dims_before[k]) n *= d;
    prev.assign(static_cast<size_t>(n), 0.0f);
    apply_axis(axes[k], dims_before[k], nullptr, nullptr, true, prev.data(), g.data());
    g.swap(prev);
  }
  std::copy(g.begin(), g.end(), dx);
  return Status::Ok();
}

}  // namespace

const OpInfo kResizeInfo = VITRINE_OP_INFO(Resize)
    .inputs(1, 1)
    .infer(&infer_resize)
    .kernel(&run_resize)
    .gradient(&backward_resize);

}  // namespace vitrine
