// Pad with a constant: attr pads [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}] (>= 0, ONNX
// order), attr value = 0.
#include "../core/checked.h"
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_pad(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("pad", {"pads", "value"}));
  const int rank = in[0].rank();
  Result<std::vector<int64_t>> pads = a.int_list("pads", 2 * rank, std::vector<int64_t>(2 * rank, 0));
  if (!pads.ok()) return pads.status();
  std::vector<int64_t> dims = in[0].to_vector();
  for (int i = 0; i < rank; ++i) {
    int64_t lo = pads.value()[i], hi = pads.value()[i + rank];
    if (lo < 0 || hi < 0) return op_error("pad", "negative pads are not supported");
    int64_t padded = 0;
    if (!checked_add(lo, hi, &padded) || !checked_add(dims[static_cast<size_t>(i)], padded, &dims[static_cast<size_t>(i)])) {
      return op_error("pad", "pads of axis " + std::to_string(i) + " overflow the dimension");
    }
  }
  return one_shape(dims);
}

Status lower_pad(XnnLowering& l) {
  const int rank = l.input_shapes[0].rank();
  std::vector<int64_t> p = l.attrs->int_list("pads", 2 * rank, std::vector<int64_t>(2 * rank, 0)).value();
  std::vector<size_t> pre(p.begin(), p.begin() + rank), post(p.begin() + rank, p.end());
  return l.check(xnn_define_static_constant_pad_v2(l.subgraph, pre.size(), pre.data(), post.data(),
                                                   static_cast<float>(l.attrs->number("value", 0.0)),
                                                   l.inputs[0], l.outputs[0], 0),
                 "define constant pad");
}

Status backward_pad(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                    const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                    const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const Shape& xs = in[0]->shape();
  const Shape& ys = out[0]->shape();
  const int rank = xs.rank();
  const std::vector<int64_t> p = a.int_list("pads", 2 * rank, std::vector<int64_t>(2 * rank, 0)).value();
  for (int64_t i = 0; i < xs.num_elements(); ++i) {
    int64_t rem = i, src = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      src += (rem % xs[d] + p[static_cast<size_t>(d)]) * stride;
      rem /= xs[d];
      stride *= ys[d];
    }
    dx[i] = gout[0]->data()[src];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kPadInfo = VITRINE_OP_INFO(Pad)
    .inputs(1, 1)
    .infer(&infer_pad)
    .lowering(&lower_pad)
    .gradient(&backward_pad);

}  // namespace vitrine
