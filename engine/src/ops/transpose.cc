// Transpose: output[i_perm[0], ...] = input[i_0, ...]; attr perm (a permutation of 0..rank-1).
#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_transpose(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("transpose", {"perm"}));
  const int rank = in[0].rank();
  std::vector<int64_t> perm;
  for (int i = rank - 1; i >= 0; --i) perm.push_back(i);  // default: reverse
  Result<std::vector<int64_t>> p = a.int_list("perm", rank, perm);
  if (!p.ok()) return p.status();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  std::vector<int64_t> dims;
  for (int64_t axis : p.value()) {
    if (axis < 0 || axis >= rank || seen[static_cast<size_t>(axis)]) {
      return op_error("transpose", "perm is not a permutation of 0.." + std::to_string(rank - 1));
    }
    seen[static_cast<size_t>(axis)] = true;
    dims.push_back(in[0][static_cast<int>(axis)]);
  }
  return one_shape(dims);
}

Status lower_transpose(XnnLowering& l) {
  const int rank = l.input_shapes[0].rank();
  std::vector<int64_t> def;
  for (int i = rank - 1; i >= 0; --i) def.push_back(i);
  std::vector<int64_t> p = l.attrs->int_list("perm", rank, def).value();
  std::vector<size_t> perm(p.begin(), p.end());
  return l.check(xnn_define_static_transpose(l.subgraph, perm.size(), perm.data(), l.inputs[0], l.outputs[0], 0),
                 "define transpose");
}

// Engine kernel (any dtype): walk the output, read the input through permuted strides.
Status run_transpose(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const int rank = in[0]->shape().rank();
  std::vector<int64_t> def;
  for (int i = rank - 1; i >= 0; --i) def.push_back(i);
  const std::vector<int64_t> perm = a.int_list("perm", rank, def).value();
  const std::vector<int64_t> xstride = strides_of(in[0]->shape());
  std::vector<int64_t> src(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) src[static_cast<size_t>(d)] = xstride[static_cast<size_t>(perm[static_cast<size_t>(d)])];
  copy_block(in[0]->raw_data(), src, out[0]->mutable_raw_data(), strides_of(out[0]->shape()), out[0]->shape(),
             dtype_size(in[0]->dtype()));
  return Status::Ok();
}

// dx[i] = dy[perm(i)]: walk the output, scatter into the input's positions.
Status backward_transpose(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                          const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                          const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const Shape& xs = in[0]->shape();
  const int rank = xs.rank();
  std::vector<int64_t> def;
  for (int i = rank - 1; i >= 0; --i) def.push_back(i);
  const std::vector<int64_t> perm = a.int_list("perm", rank, def).value();
  std::vector<int64_t> xstride(static_cast<size_t>(rank), 1);
  for (int d = rank - 2; d >= 0; --d) xstride[static_cast<size_t>(d)] = xstride[static_cast<size_t>(d + 1)] * xs[d + 1];
  const Shape& ys = out[0]->shape();
  const float* dy = gout[0]->data();
  for (int64_t i = 0; i < ys.num_elements(); ++i) {
    int64_t rem = i, src = 0;
    for (int d = rank - 1; d >= 0; --d) {
      src += (rem % ys[d]) * xstride[static_cast<size_t>(perm[static_cast<size_t>(d)])];
      rem /= ys[d];
    }
    dx[src] = dy[i];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kTransposeInfo = VITRINE_OP_INFO(Transpose)
    .inputs(1, 1)
    .infer(&infer_transpose)
    .lowering(&lower_transpose)
    .kernel(&run_transpose)
    .types(&types_like_first)
    .gradient(&backward_transpose);

}  // namespace vitrine
