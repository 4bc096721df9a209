// Reductions over attr axes (default: all), keeping them as size 1 when attr keepdims = 1
// (default); one family, one file:
//   reduce_mean, reduce_sum, reduce_max, reduce_min   lowered to XNNPACK's static reduce
//   reduce_sum_square                                 lowered (XNNPACK's sum of squares)
//   reduce_l2 = sqrt(sum x²)                          lowered (sum of squares, then square root)
//   reduce_prod, reduce_l1 = sum |x|, reduce_log_sum = log(sum x), reduce_log_sum_exp
//                                                     engine kernel (also run for every op, so the
//                                                     case table checks kernel against lowering)
//   input x (any shape); output: x's shape with the axes removed (or 1).
// Backward: dy spread over each output's window, times d(reduction)/dx: 1 (sum), 1/count (mean),
// 1 at the first max/min of the window, y/x (prod; the product of the others where x = 0), 2x,
// sign(x), x/y (l2), 1/sum (log_sum), exp(x - y) (log_sum_exp).
#include <algorithm>
#include <cmath>

#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

struct Axes {
  std::vector<size_t> list;  // sorted
  bool keep = true;
};

Result<Axes> reduce_axes(OpType type, const Shape& x, const OpAttrs& a) {
  const char* name = op_info(type).name;
  VITRINE_RETURN_IF_ERROR(a.check_known(name, {"axes", "keepdims"}));
  std::vector<int64_t> all;
  for (int i = 0; i < x.rank(); ++i) all.push_back(i);
  VITRINE_ASSIGN_OR_RETURN(std::vector<int64_t> list, a.int_list("axes", -1, all));
  VITRINE_ASSIGN_OR_RETURN(int64_t keepdims, a.integer("keepdims", 1));
  Axes out;
  out.keep = keepdims != 0;
  for (int64_t v : list) {
    VITRINE_ASSIGN_OR_RETURN(int ax, normalize_axis(name, v, x.rank()));
    if (std::find(out.list.begin(), out.list.end(), static_cast<size_t>(ax)) != out.list.end()) return op_error(name, "axis listed twice");
    out.list.push_back(static_cast<size_t>(ax));
  }
  std::sort(out.list.begin(), out.list.end());
  return out;
}

template <OpType kType>
Result<std::vector<Shape>> infer_reduce(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_ASSIGN_OR_RETURN(Axes axes, reduce_axes(kType, in[0], a));
  std::vector<int64_t> dims;
  for (int i = 0; i < in[0].rank(); ++i) {
    const bool reduced = std::find(axes.list.begin(), axes.list.end(), static_cast<size_t>(i)) != axes.list.end();
    if (!reduced) dims.push_back(in[0][i]);
    else if (axes.keep) dims.push_back(1);
  }
  return one_shape(dims);
}

// For every input element, the index of its output element (the reduced axes dropped).
std::vector<int64_t> output_index(const Shape& xs, const std::vector<size_t>& axes) {
  std::vector<bool> reduced(static_cast<size_t>(xs.rank()), false);
  for (size_t ax : axes) reduced[ax] = true;
  std::vector<int64_t> out(static_cast<size_t>(xs.num_elements()));
  for (int64_t i = 0; i < xs.num_elements(); ++i) {
    int64_t rem = i, dst = 0, stride = 1;
    for (int d = xs.rank() - 1; d >= 0; --d) {
      const int64_t idx = rem % xs[d];
      rem /= xs[d];
      if (!reduced[static_cast<size_t>(d)]) {
        dst += idx * stride;
        stride *= xs[d];
      }
    }
    out[static_cast<size_t>(i)] = dst;
  }
  return out;
}

template <OpType kType>
Status run_reduce(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Shape& xs = in[0]->shape();
  VITRINE_ASSIGN_OR_RETURN(Axes axes, reduce_axes(kType, xs, a));
  const std::vector<int64_t> to = output_index(xs, axes.list);
  const int64_t m = out[0]->num_elements();
  const float* x = in[0]->data();
  std::vector<double> acc(static_cast<size_t>(m));
  const double init = kType == OpType::kReduceMax ? -INFINITY : kType == OpType::kReduceMin ? INFINITY
                    : kType == OpType::kReduceProd ? 1.0 : 0.0;
  std::fill(acc.begin(), acc.end(), init);
  std::vector<double> peak;  // log_sum_exp: each window's max, for a stable sum
  if (kType == OpType::kReduceLogSumExp) {
    peak.assign(static_cast<size_t>(m), -INFINITY);
    for (int64_t i = 0; i < xs.num_elements(); ++i) peak[static_cast<size_t>(to[i])] = std::max<double>(peak[static_cast<size_t>(to[i])], x[i]);
  }
  for (int64_t i = 0; i < xs.num_elements(); ++i) {
    double& r = acc[static_cast<size_t>(to[static_cast<size_t>(i)])];
    const double v = x[i];
    switch (kType) {
      case OpType::kReduceMax: r = std::max(r, v); break;
      case OpType::kReduceMin: r = std::min(r, v); break;
      case OpType::kReduceProd: r *= v; break;
      case OpType::kReduceSumSquare:
      case OpType::kReduceL2: r += v * v; break;
      case OpType::kReduceL1: r += std::fabs(v); break;
      case OpType::kReduceLogSumExp: r += std::exp(v - peak[static_cast<size_t>(to[static_cast<size_t>(i)])]); break;
      default: r += v; break;  // sum, mean, log_sum
    }
  }
  const double count = m ? static_cast<double>(xs.num_elements()) / static_cast<double>(m) : 1.0;
  float* y = out[0]->mutable_data();
  for (int64_t j = 0; j < m; ++j) {
    const double r = acc[static_cast<size_t>(j)];
    switch (kType) {
      case OpType::kReduceMean: y[j] = static_cast<float>(r / count); break;
      case OpType::kReduceL2: y[j] = static_cast<float>(std::sqrt(r)); break;
      case OpType::kReduceLogSum: y[j] = static_cast<float>(std::log(r)); break;
      case OpType::kReduceLogSumExp: y[j] = static_cast<float>(peak[static_cast<size_t>(j)] + std::log(r)); break;
      default: y[j] = static_cast<float>(r); break;
    }
  }
  return Status::Ok();
}

template <OpType kType>
Status lower_reduce(XnnLowering& l) {
  VITRINE_ASSIGN_OR_RETURN(Axes axes, reduce_axes(kType, l.input_shapes[0], *l.attrs));
  const uint32_t flags = axes.keep ? XNN_FLAG_KEEP_DIMS : 0;
  xnn_reduce_operator op = xnn_reduce_invalid;
  switch (kType) {
    case OpType::kReduceMean: op = xnn_reduce_mean; break;
    case OpType::kReduceSum: op = xnn_reduce_sum; break;
    case OpType::kReduceMax: op = xnn_reduce_max; break;
    case OpType::kReduceMin: op = xnn_reduce_min; break;
    case OpType::kReduceSumSquare:
    case OpType::kReduceL2: op = xnn_reduce_sum_squared; break;
    default: return op_error(l.node_name, "no XNNPACK lowering");
  }
  if (kType != OpType::kReduceL2) {
    return l.check(xnn_define_static_reduce(l.subgraph, op, axes.list.size(), axes.list.data(), l.inputs[0], l.outputs[0], flags),
                   "define reduction");
  }
  VITRINE_ASSIGN_OR_RETURN(uint32_t squares, l.add_internal(l.output_shapes[0]));
  VITRINE_RETURN_IF_ERROR(l.check(xnn_define_static_reduce(l.subgraph, op, axes.list.size(), axes.list.data(), l.inputs[0], squares, flags),
                                  "define reduction"));
  return l.check(xnn_define_unary(l.subgraph, xnn_unary_square_root, nullptr, squares, l.outputs[0], 0), "define square root");
}

template <OpType kType>
Status backward_reduce(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& out,
                       const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const Shape& xs = in[0]->shape();
  VITRINE_ASSIGN_OR_RETURN(Axes axes, reduce_axes(kType, xs, a));
  const std::vector<int64_t> to = output_index(xs, axes.list);
  const float *x = in[0]->data(), *y = out[0]->data(), *dy = gout[0]->data();
  const int64_t n = xs.num_elements(), m = out[0]->num_elements();
  const double count = m ? static_cast<double>(n) / static_cast<double>(m) : 1.0;
  std::vector<bool> taken(static_cast<size_t>(m), false);  // max / min: the window's first extremum only
  // prod: each window's zero count and product of its non-zero elements (one pass, no rescans).
  std::vector<int64_t> zeros;
  std::vector<double> nonzero;
  if (kType == OpType::kReduceProd) {
    zeros.assign(static_cast<size_t>(m), 0);
    nonzero.assign(static_cast<size_t>(m), 1.0);
    for (int64_t i = 0; i < n; ++i) {
      const size_t j = static_cast<size_t>(to[static_cast<size_t>(i)]);
      if (x[i] == 0) ++zeros[j];
      else nonzero[j] *= x[i];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = to[static_cast<size_t>(i)];
    const double v = x[i], r = y[j];
    double d = 0;
    switch (kType) {
      case OpType::kReduceSum: d = 1; break;
      case OpType::kReduceMean: d = 1 / count; break;
      case OpType::kReduceMax:
      case OpType::kReduceMin:
        d = x[i] == y[j] && !taken[static_cast<size_t>(j)] ? 1 : 0;
        if (d != 0) taken[static_cast<size_t>(j)] = true;
        break;
      case OpType::kReduceProd:  // the product of the window's other elements
        if (v != 0) d = r / v;
        else d = zeros[static_cast<size_t>(j)] == 1 ? nonzero[static_cast<size_t>(j)] : 0;
        break;
      case OpType::kReduceSumSquare: d = 2 * v; break;
      case OpType::kReduceL1: d = v > 0 ? 1 : v < 0 ? -1 : 0; break;
      case OpType::kReduceL2: d = r > 0 ? v / r : 0; break;
      case OpType::kReduceLogSum: d = 1 / std::exp(r); break;
      case OpType::kReduceLogSumExp: d = std::exp(v - r); break;
      default: return Status::Internal("not a reduction");
    }
    dx[i] = static_cast<float>(dy[j] * d);
  }
  return Status::Ok();
}

}  // namespace

#define VITRINE_REDUCE_INFO(Name)                                                                           \
  const OpInfo k##Name##Info = VITRINE_OP_INFO(Name).inputs(1, 1).infer(&infer_reduce<OpType::k##Name>)       \
                                   .lowering(&lower_reduce<OpType::k##Name>).kernel(&run_reduce<OpType::k##Name>) \
                                   .gradient(&backward_reduce<OpType::k##Name>);
#define VITRINE_REDUCE_KERNEL_INFO(Name)                                                                    \
  const OpInfo k##Name##Info = VITRINE_OP_INFO(Name).inputs(1, 1).infer(&infer_reduce<OpType::k##Name>)       \
                                   .kernel(&run_reduce<OpType::k##Name>).gradient(&backward_reduce<OpType::k##Name>);
VITRINE_REDUCE_INFO(ReduceMean)
VITRINE_REDUCE_INFO(ReduceSum)
VITRINE_REDUCE_INFO(ReduceMax)
VITRINE_REDUCE_INFO(ReduceMin)
VITRINE_REDUCE_INFO(ReduceSumSquare)
VITRINE_REDUCE_INFO(ReduceL2)
VITRINE_REDUCE_KERNEL_INFO(ReduceProd)
VITRINE_REDUCE_KERNEL_INFO(ReduceL1)
VITRINE_REDUCE_KERNEL_INFO(ReduceLogSum)
VITRINE_REDUCE_KERNEL_INFO(ReduceLogSumExp)
#undef VITRINE_REDUCE_INFO
#undef VITRINE_REDUCE_KERNEL_INFO

}  // namespace vitrine
