// Concat: joins inputs along attr axis (default 0, may be negative); other dimensions must match.
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_concat(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("concat", {"axis"}));
  Result<int64_t> axis = a.integer("axis", 0);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("concat", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  std::vector<int64_t> dims = in[0].to_vector();
  for (size_t i = 1; i < in.size(); ++i) {
    bool ok = in[i].rank() == in[0].rank();
    for (int d = 0; ok && d < in[0].rank(); ++d) ok = d == ax.value() || in[i][d] == in[0][d];
    if (!ok) return op_error("concat", "input " + std::to_string(i) + " has shape " + in[i].to_string() +
                                           ", incompatible with " + in[0].to_string() + " along axis " +
                                           std::to_string(ax.value()));
    dims[static_cast<size_t>(ax.value())] += in[i][ax.value()];
  }
  return one_shape(dims);
}

// Engine kernel (any dtype): each input into its window of the output.
Status run_concat(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const int axis = normalize_axis("concat", a.integer("axis", 0).value(), in[0]->shape().rank()).value();
  const std::vector<int64_t> ystride = strides_of(out[0]->shape());
  const size_t es = dtype_size(in[0]->dtype());
  int64_t at = 0;
  for (const Tensor* x : in) {
    copy_block(x->raw_data(), strides_of(x->shape()),
               static_cast<char*>(out[0]->mutable_raw_data()) + at * ystride[static_cast<size_t>(axis)] * static_cast<int64_t>(es),
               ystride, x->shape(), es);
    at += x->shape()[axis];
  }
  return Status::Ok();
}

Status lower_concat(XnnLowering& l) {
  int axis = normalize_axis("concat", l.attrs->integer("axis", 0).value(), l.input_shapes[0].rank()).value();
  if (l.inputs.size() == 1) return l.check(xnn_define_copy(l.subgraph, l.inputs[0], l.outputs[0], 0), "define copy");
  // XNNPACK joins at most kMax tensors at once (DenseNet's blocks join more): a chain, each link
  // joining the previous partial result with up to kMax - 1 more inputs.
  constexpr size_t kMax = 5;
  std::vector<int64_t> dims = l.output_shapes[0].to_vector();
  int64_t joined = 0;  // the axis extent of the inputs joined so far
  size_t next = 0;     // the first input not joined yet
  uint32_t partial = 0;
  while (l.inputs.size() - next > (next == 0 ? kMax : kMax - 1)) {
    std::vector<uint32_t> group;
    if (next > 0) group.push_back(partial);
    while (group.size() < kMax) {
      joined += l.input_shapes[next][axis];
      group.push_back(l.inputs[next++]);
    }
    dims[static_cast<size_t>(axis)] = joined;
    VITRINE_ASSIGN_OR_RETURN(Shape s, Shape::make(dims));
    VITRINE_ASSIGN_OR_RETURN(partial, l.add_internal(s));
    VITRINE_RETURN_IF_ERROR(l.check(xnn_define_concatenate(l.subgraph, axis, group.size(), group.data(), partial, 0), "define concatenate"));
  }
  std::vector<uint32_t> last;
  if (next > 0) last.push_back(partial);
  last.insert(last.end(), l.inputs.begin() + static_cast<std::ptrdiff_t>(next), l.inputs.end());
  return l.check(xnn_define_concatenate(l.subgraph, axis, last.size(), last.data(), l.outputs[0], 0), "define concatenate");
}

// Each input's gradient is its slab of dy along the axis.
Status backward_concat(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  const Shape& ys = out[0]->shape();
  const int axis = normalize_axis("concat", a.integer("axis", 0).value(), ys.rank()).value();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= ys[d];
  for (int d = axis + 1; d < ys.rank(); ++d) inner *= ys[d];
  int64_t offset = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const int64_t len = in[i]->shape()[axis];
    if (gin[i]) {
      float* dx = gin[i]->mutable_data();
      for (int64_t o = 0; o < outer; ++o) {
        if (gout[0]) {
          std::memcpy(dx + o * len * inner, gout[0]->data() + (o * ys[axis] + offset) * inner,
                      static_cast<size_t>(len * inner) * sizeof(float));
        } else {
          std::fill_n(dx + o * len * inner, len * inner, 0.0f);
        }
      }
    }
    offset += len;
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kConcatInfo = VITRINE_OP_INFO(Concat)
    .inputs(1, 64)
    .infer(&infer_concat)
    .lowering(&lower_concat)
    .kernel(&run_concat)
    .types(&types_like_first)
    .gradient(&backward_concat);

}  // namespace vitrine
