// Gather: y = data indexed along attr axis (default 0) by `indices` (i64 or i32, any shape;
// negative values count from the end): y has shape data[:axis] + indices + data[axis+1:].
// data may have any dtype. An index out of range fails the run, naming it. Engine kernel.
// Backward (f32 data): d data = rows of dy added back at the indices they were read from.
#include <cstring>

#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_gather(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("gather", {"axis"}));
  if (in[0].rank() < 1) return op_error("gather", "data must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", 0);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("gather", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  std::vector<int64_t> dims;
  for (int d = 0; d < ax.value(); ++d) dims.push_back(in[0][d]);
  for (int d = 0; d < in[1].rank(); ++d) dims.push_back(in[1][d]);
  for (int d = ax.value() + 1; d < in[0].rank(); ++d) dims.push_back(in[0][d]);
  return one_shape(dims);
}

Result<std::vector<DType>> types_gather(const std::vector<DType>& in, const OpAttrs&) {
  if (in[1] != DType::kI64 && in[1] != DType::kI32) return type_error("", 1, in[1], "i64 or i32");
  return std::vector<DType>{in[0]};
}

struct GatherDims {
  int64_t outer = 1, n = 0, inner = 1, count = 0;
};

GatherDims dims_of(const OpAttrs& a, const Tensor& data, const Tensor& indices) {
  const Shape& s = data.shape();
  const int ax = normalize_axis("gather", a.integer("axis", 0).value(), s.rank()).value();
  GatherDims g;
  for (int d = 0; d < ax; ++d) g.outer *= s[d];
  g.n = s[ax];
  for (int d = ax + 1; d < s.rank(); ++d) g.inner *= s[d];
  g.count = indices.num_elements();
  return g;
}

// Index k of `indices`, checked against [-n, n) and made non-negative.
Result<int64_t> index_at(const Tensor& indices, int64_t k, int64_t n) {
  const int64_t i = indices.dtype() == DType::kI64 ? indices.data_as<int64_t>()[k] : indices.data_as<int32_t>()[k];
  if (i < -n || i >= n) {
    return Status::OutOfRange("gather: index " + std::to_string(i) + " (element " + std::to_string(k) +
                              ") is outside an axis of size " + std::to_string(n));
  }
  return i < 0 ? i + n : i;
}

Status run_gather(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const GatherDims g = dims_of(a, *in[0], *in[1]);
  const size_t es = dtype_size(in[0]->dtype());
  const size_t row = static_cast<size_t>(g.inner) * es;
  const char* x = static_cast<const char*>(in[0]->raw_data());
  char* y = static_cast<char*>(out[0]->mutable_raw_data());
  for (int64_t k = 0; k < g.count; ++k) {
    Result<int64_t> i = index_at(*in[1], k, g.n);
    if (!i.ok()) return i.status();
    for (int64_t o = 0; o < g.outer; ++o) {
      std::memcpy(y + static_cast<size_t>(o * g.count + k) * row, x + static_cast<size_t>(o * g.n + i.value()) * row, row);
    }
  }
  return Status::Ok();
}

Status backward_gather(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>&,
                       const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  std::fill_n(dx, in[0]->num_elements(), 0.0f);
  const GatherDims g = dims_of(a, *in[0], *in[1]);
  const float* dy = gout[0]->data();
  for (int64_t k = 0; k < g.count; ++k) {
    Result<int64_t> i = index_at(*in[1], k, g.n);
    if (!i.ok()) return i.status();
    for (int64_t o = 0; o < g.outer; ++o) {
      const float* src = dy + (o * g.count + k) * g.inner;
      float* dst = dx + (o * g.n + i.value()) * g.inner;
      for (int64_t j = 0; j < g.inner; ++j) dst[j] += src[j];
    }
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kGatherInfo = VITRINE_OP_INFO(Gather)
    .inputs(2, 2)
    .infer(&infer_gather)
    .types(&types_gather)
    .kernel(&run_gather)
    .gradient(&backward_gather)
    .not_differentiable(0x2);

}  // namespace vitrine
