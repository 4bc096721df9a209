// Pad with a constant: attr pads [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}] (>= 0, ONNX
// order), attr value = 0.
#include "../graph/xnn_lowering.h"
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
    dims[static_cast<size_t>(i)] += lo + hi;
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

}  // namespace

const OpInfo kPadInfo{OpType::kPad, 25, "pad", 1, 1, &infer_pad, &lower_pad, nullptr};

}  // namespace vitrine
