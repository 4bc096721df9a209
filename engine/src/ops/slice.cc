// Slice: for each listed axis, keeps start, start + step, ... up to (not including) end (ONNX
// clamping: negative values count from the end; out-of-range values are clamped; a negative step
// walks backwards). attrs: starts, ends, axes (default 0..n-1), steps (default 1; never 0).
// Step 1 everywhere lowers to XNNPACK; other steps run the engine kernel.
#include <algorithm>

#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Status slice_bounds(const Shape& x, const OpAttrs& a, std::vector<int64_t>* begin, std::vector<int64_t>* size,
                    std::vector<int64_t>* step = nullptr) {
  VITRINE_RETURN_IF_ERROR(a.check_known("slice", {"starts", "ends", "axes", "steps"}));
  Result<std::vector<int64_t>> starts = a.int_list("starts", -1, {});
  if (!starts.ok()) return starts.status();
  const int n = static_cast<int>(starts->size());
  Result<std::vector<int64_t>> ends = a.int_list("ends", n, {});
  if (!ends.ok()) return ends.status();
  std::vector<int64_t> default_axes;
  for (int i = 0; i < n; ++i) default_axes.push_back(i);
  Result<std::vector<int64_t>> axes = a.int_list("axes", n, default_axes);
  if (!axes.ok()) return axes.status();
  Result<std::vector<int64_t>> steps = a.int_list("steps", n, std::vector<int64_t>(static_cast<size_t>(n), 1));
  if (!steps.ok()) return steps.status();
  std::vector<int64_t> local_step;
  if (step == nullptr) step = &local_step;
  step->assign(static_cast<size_t>(x.rank()), 1);
  begin->assign(static_cast<size_t>(x.rank()), 0);
  *size = x.to_vector();
  std::vector<bool> seen(static_cast<size_t>(x.rank()), false);
  for (int i = 0; i < n; ++i) {
    Result<int> ax = normalize_axis("slice", axes.value()[i], x.rank());
    if (!ax.ok()) return ax.status();
    if (seen[static_cast<size_t>(ax.value())]) return op_error("slice", "axis listed twice");
    seen[static_cast<size_t>(ax.value())] = true;
    const int64_t dim = x[ax.value()];
    const int64_t st = steps.value()[i];
    if (st == 0) return op_error("slice", "a step of 0");
    // A step beyond the dimension takes one element, as a step of dim + 1 does (keeps arithmetic small).
    const int64_t step_c = std::clamp<int64_t>(st, -dim - 1, dim + 1);
    (*step)[static_cast<size_t>(ax.value())] = step_c;
    auto wrap = [dim](int64_t v) { return v < 0 ? v + dim : v; };  // v >= INT64_MIN, dim >= 0: no overflow
    int64_t s = 0, count = 0;
    if (step_c > 0) {
      s = std::clamp<int64_t>(wrap(starts.value()[i]), 0, dim);
      const int64_t e = std::clamp<int64_t>(wrap(ends.value()[i]), 0, dim);
      count = e > s ? (e - s + step_c - 1) / step_c : 0;
    } else if (dim > 0) {
      s = std::clamp<int64_t>(wrap(starts.value()[i]), 0, dim - 1);
      const int64_t e = std::clamp<int64_t>(wrap(ends.value()[i]), -1, dim - 1);
      count = s > e ? (s - e + (-step_c) - 1) / (-step_c) : 0;
    }
    (*begin)[static_cast<size_t>(ax.value())] = s;
    (*size)[static_cast<size_t>(ax.value())] = count;
  }
  return Status::Ok();
}

Result<std::vector<Shape>> infer_slice(const std::vector<Shape>& in, const OpAttrs& a) {
  std::vector<int64_t> begin, size;
  VITRINE_RETURN_IF_ERROR(slice_bounds(in[0], a, &begin, &size));
  return one_shape(size);
}

bool slice_lowers(const OpAttrs& a, const std::vector<Shape>&) {
  Result<std::vector<int64_t>> steps = a.int_list("steps", -1, {});
  if (!steps.ok()) return false;
  for (int64_t s : steps.value())
    if (s != 1) return false;
  return true;
}

Status lower_slice(XnnLowering& l) {
  std::vector<int64_t> begin, size;
  VITRINE_RETURN_IF_ERROR(slice_bounds(l.input_shapes[0], *l.attrs, &begin, &size));
  std::vector<size_t> sizes(size.begin(), size.end());
  return l.check(xnn_define_static_slice_v2(l.subgraph, begin.size(), begin.data(), sizes.data(), l.inputs[0],
                                            l.outputs[0], 0),
                 "define slice");
}

// Engine kernel (any dtype).
Status run_slice(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  std::vector<int64_t> begin, size, step;
  VITRINE_RETURN_IF_ERROR(slice_bounds(in[0]->shape(), a, &begin, &size, &step));
  const std::vector<int64_t> xstride = strides_of(in[0]->shape());
  std::vector<int64_t> walk(xstride.size());
  int64_t offset = 0;
  for (size_t d = 0; d < begin.size(); ++d) {
    offset += begin[d] * xstride[d];
    walk[d] = xstride[d] * step[d];
  }
  if (out[0]->num_elements() == 0) return Status::Ok();
  const size_t es = dtype_size(in[0]->dtype());
  copy_block(static_cast<const char*>(in[0]->raw_data()) + offset * static_cast<int64_t>(es), walk,
             out[0]->mutable_raw_data(), strides_of(out[0]->shape()), out[0]->shape(), es);
  return Status::Ok();
}

Status backward_slice(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                      const std::vector<Tensor*>& gin) {
  if (!gin[0]) return Status::Ok();
  float* dx = gin[0]->mutable_data();
  std::fill_n(dx, in[0]->num_elements(), 0.0f);
  if (!gout[0]) return Status::Ok();
  std::vector<int64_t> begin, size, step;
  VITRINE_RETURN_IF_ERROR(slice_bounds(in[0]->shape(), a, &begin, &size, &step));
  const Shape& xs = in[0]->shape();
  const Shape& ys = out[0]->shape();
  const int rank = xs.rank();
  for (int64_t i = 0; i < ys.num_elements(); ++i) {
    int64_t rem = i, dst = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      dst += (rem % ys[d] * step[static_cast<size_t>(d)] + begin[static_cast<size_t>(d)]) * stride;
      rem /= ys[d];
      stride *= xs[d];
    }
    dx[dst] = gout[0]->data()[i];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kSliceInfo = VITRINE_OP_INFO(Slice)
    .inputs(1, 1)
    .infer(&infer_slice)
    .lowering(&lower_slice)
    .lowering_if(&slice_lowers)
    .kernel(&run_slice)
    .types(&types_like_first)
    .gradient(&backward_slice);

}  // namespace vitrine
