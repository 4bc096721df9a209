// ReduceMean over attr axes (default: all), keeping them as size 1 when attr keepdims = 1 (default).
#include <algorithm>

#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Status reduce_axes(const Shape& x, const OpAttrs& a, std::vector<size_t>* axes, bool* keep) {
  VITRINE_RETURN_IF_ERROR(a.check_known("reduce_mean", {"axes", "keepdims"}));
  std::vector<int64_t> all;
  for (int i = 0; i < x.rank(); ++i) all.push_back(i);
  Result<std::vector<int64_t>> list = a.int_list("axes", -1, all);
  if (!list.ok()) return list.status();
  Result<int64_t> keepdims = a.integer("keepdims", 1);
  if (!keepdims.ok()) return keepdims.status();
  *keep = keepdims.value() != 0;
  axes->clear();
  for (int64_t v : list.value()) {
    Result<int> ax = normalize_axis("reduce_mean", v, x.rank());
    if (!ax.ok()) return ax.status();
    if (std::find(axes->begin(), axes->end(), static_cast<size_t>(ax.value())) != axes->end()) {
      return op_error("reduce_mean", "axis listed twice");
    }
    axes->push_back(static_cast<size_t>(ax.value()));
  }
  std::sort(axes->begin(), axes->end());
  return Status::Ok();
}

Result<std::vector<Shape>> infer_reduce_mean(const std::vector<Shape>& in, const OpAttrs& a) {
  std::vector<size_t> axes;
  bool keep = true;
  VITRINE_RETURN_IF_ERROR(reduce_axes(in[0], a, &axes, &keep));
  std::vector<int64_t> dims;
  for (int i = 0; i < in[0].rank(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), static_cast<size_t>(i)) != axes.end();
    if (!reduced) dims.push_back(in[0][i]);
    else if (keep) dims.push_back(1);
  }
  return one_shape(dims);
}

Status lower_reduce_mean(XnnLowering& l) {
  std::vector<size_t> axes;
  bool keep = true;
  VITRINE_RETURN_IF_ERROR(reduce_axes(l.input_shapes[0], *l.attrs, &axes, &keep));
  return l.check(xnn_define_static_reduce(l.subgraph, xnn_reduce_mean, axes.size(), axes.data(), l.inputs[0],
                                          l.outputs[0], keep ? XNN_FLAG_KEEP_DIMS : 0),
                 "define mean reduction");
}

Status backward_reduce_mean(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                            const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                            const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const Shape& xs = in[0]->shape();
  std::vector<size_t> axes;
  bool keep = true;
  VITRINE_RETURN_IF_ERROR(reduce_axes(xs, a, &axes, &keep));
  std::vector<bool> reduced(static_cast<size_t>(xs.rank()), false);
  int64_t count = 1;
  for (size_t ax : axes) {
    reduced[ax] = true;
    count *= xs[static_cast<int>(ax)];
  }
  const int rank = xs.rank();
  for (int64_t i = 0; i < xs.num_elements(); ++i) {
    int64_t rem = i, src = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t idx = rem % xs[d];
      rem /= xs[d];
      if (!reduced[static_cast<size_t>(d)]) {
        src += idx * stride;
        stride *= xs[d];
      }
    }
    dx[i] = gout[0]->data()[src] / static_cast<float>(count);
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kReduceMeanInfo = VITRINE_OP_INFO(ReduceMean)
    .inputs(1, 1)
    .infer(&infer_reduce_mean)
    .lowering(&lower_reduce_mean)
    .gradient(&backward_reduce_mean);

}  // namespace vitrine
