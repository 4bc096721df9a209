// Expand: y = x broadcast (numpy rules) to attr shape, which must be the broadcast of x's shape and
// itself (the importer computes it); any dtype. Engine kernel. Backward (f32): dx = dy summed over
// the broadcast dimensions.
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_expand(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("expand", {"shape"}));
  Result<std::vector<int64_t>> dims = a.int_list("shape", -1, {});
  if (!dims.ok()) return dims.status();
  Result<Shape> target = Shape::make(dims.value());
  if (!target.ok()) return target.status();
  Result<Shape> s = broadcast_shapes("expand", in[0], target.value());
  if (!s.ok()) return s.status();
  if (s.value() != target.value()) {
    return op_error("expand", in[0].to_string() + " broadcast to " + target->to_string() + " gives " + s->to_string() +
                                  "; attr shape must be the full output shape");
  }
  return std::vector<Shape>{s.value()};
}

Status run_expand(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const size_t es = dtype_size(in[0]->dtype());
  const char* x = static_cast<const char*>(in[0]->raw_data());
  char* y = static_cast<char*>(out[0]->mutable_raw_data());
  for_each_broadcast(in[0]->shape(), out[0]->shape(), [&](int64_t i, int64_t pos) {
    std::memcpy(y + static_cast<size_t>(i) * es, x + static_cast<size_t>(pos) * es, es);
  });
  return Status::Ok();
}

Status backward_expand(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& out,
                       const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  reduce_to_shape(gout[0]->data(), out[0]->shape(), in[0]->shape(), dx);
  return Status::Ok();
}

}  // namespace

const OpInfo kExpandInfo = VITRINE_OP_INFO(Expand)
    .inputs(1, 1)
    .infer(&infer_expand)
    .types(&types_like_first)
    .kernel(&run_expand)
    .gradient(&backward_expand);

}  // namespace vitrine
