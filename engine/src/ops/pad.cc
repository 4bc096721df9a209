// Pad: attr pads [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}] (>= 0, ONNX order); attr mode
// "constant" (default: the new elements hold attr value = 0), "reflect" (mirrored about the edge,
// the edge not repeated: each pad < that dimension) or "edge" (the edge element repeated).
//   Any dtype. f32 constant padding lowers to XNNPACK; other modes and dtypes run the engine kernel.
//   Backward: each output element's gradient goes to the input element it was copied from
//   (summed where reflect and edge copy one element several times); constant pads get none.
#include "../core/checked.h"
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

enum class PadMode { kConstant, kReflect, kEdge };

Result<PadMode> pad_mode(const OpAttrs& a) {
  auto it = a.strings.find("mode");
  if (it == a.strings.end() || it->second == "constant") return PadMode::kConstant;
  if (it->second == "reflect") return PadMode::kReflect;
  if (it->second == "edge") return PadMode::kEdge;
  return op_error("pad", "unknown mode '" + it->second + "' (constant, reflect or edge)");
}

Result<std::vector<Shape>> infer_pad(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("pad", {"pads", "value", "mode"}));
  VITRINE_ASSIGN_OR_RETURN(PadMode mode, pad_mode(a));
  const int rank = in[0].rank();
  Result<std::vector<int64_t>> pads = a.int_list("pads", 2 * rank, std::vector<int64_t>(2 * rank, 0));
  if (!pads.ok()) return pads.status();
  std::vector<int64_t> dims = in[0].to_vector();
  for (int i = 0; i < rank; ++i) {
    int64_t lo = pads.value()[i], hi = pads.value()[i + rank];
    if (lo < 0 || hi < 0) return op_error("pad", "negative pads are not supported");
    const int64_t size = dims[static_cast<size_t>(i)];
    if ((lo || hi) && mode == PadMode::kReflect && (lo >= size || hi >= size)) {
      return op_error("pad", "reflect pads of axis " + std::to_string(i) + " must be smaller than its size " + std::to_string(size));
    }
    if ((lo || hi) && mode == PadMode::kEdge && size == 0) return op_error("pad", "edge padding of an empty axis");
    int64_t padded = 0;
    if (!checked_add(lo, hi, &padded) || !checked_add(size, padded, &dims[static_cast<size_t>(i)])) {
      return op_error("pad", "pads of axis " + std::to_string(i) + " overflow the dimension");
    }
  }
  return one_shape(dims);
}

bool pad_lowers(const OpAttrs& a, const std::vector<Shape>&) {
  Result<PadMode> mode = pad_mode(a);
  return mode.ok() && mode.value() == PadMode::kConstant;
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

// Calls f(output index, source input index or -1 for a constant element) for every output element.
template <typename F>
void for_each_source(const Shape& xs, const Shape& ys, const std::vector<int64_t>& p, PadMode mode, F&& f) {
  const int rank = xs.rank();
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  for (int64_t o = 0; o < ys.num_elements(); ++o) {
    int64_t rem = o, src = 0, stride = 1;
    bool outside = false;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t at = rem % ys[d] - p[static_cast<size_t>(d)], n = xs[d];
      rem /= ys[d];
      int64_t i = at;
      if (at < 0 || at >= n) {
        if (mode == PadMode::kConstant) outside = true;
        else if (mode == PadMode::kEdge) i = at < 0 ? 0 : n - 1;
        else i = at < 0 ? -at : 2 * (n - 1) - at;  // reflect (pads < n keep i inside)
      }
      src += i * stride;
      stride *= n;
    }
    f(o, outside ? -1 : src);
  }
}

Status run_pad(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  VITRINE_ASSIGN_OR_RETURN(PadMode mode, pad_mode(a));
  const int rank = in[0]->shape().rank();
  const std::vector<int64_t> p = a.int_list("pads", 2 * rank, std::vector<int64_t>(2 * rank, 0)).value();
  const double value = a.number("value", 0.0);
  visit_dtype(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T fill = in[0]->dtype() == DType::kF16 ? T(0) : saturate_cast<T>(value);
    const T* x = in[0]->data_as<T>();
    T* y = out[0]->mutable_data_as<T>();
    for_each_source(in[0]->shape(), out[0]->shape(), p, mode, [&](int64_t o, int64_t s) { y[o] = s < 0 ? fill : x[s]; });
  });
  return Status::Ok();
}

Status backward_pad(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                    const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                    const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  VITRINE_ASSIGN_OR_RETURN(PadMode mode, pad_mode(a));
  const int rank = in[0]->shape().rank();
  const std::vector<int64_t> p = a.int_list("pads", 2 * rank, std::vector<int64_t>(2 * rank, 0)).value();
  std::fill_n(dx, in[0]->num_elements(), 0.0f);
  const float* gy = gout[0]->data();
  for_each_source(in[0]->shape(), out[0]->shape(), p, mode, [&](int64_t o, int64_t s) {
    if (s >= 0) dx[s] += gy[o];
  });
  return Status::Ok();
}

}  // namespace

const OpInfo kPadInfo = VITRINE_OP_INFO(Pad)
    .inputs(1, 1)
    .infer(&infer_pad)
    .lowering(&lower_pad)
    .lowering_if(&pad_lowers)
    .kernel(&run_pad)
    .types(&types_like_first)
    .gradient(&backward_pad);

}  // namespace vitrine
