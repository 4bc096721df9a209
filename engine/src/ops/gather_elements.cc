// GatherElements: y[i] = data[i with its attr-axis coordinate replaced by indices[i]]: y has the
// shape of `indices` (i64 or i32, same rank as data, every other dimension at most data's;
// negative values count from the end). Any data dtype. An index out of range fails the run.
// Engine kernel. Backward (f32 data): dy added back at the positions read.
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_gather_elements(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("gather_elements", {"axis"}));
  if (in[0].rank() < 1 || in[1].rank() != in[0].rank()) {
    return op_error("gather_elements", "indices must have data's rank (" + std::to_string(in[0].rank()) + "), got " + in[1].to_string());
  }
  Result<int64_t> axis = a.integer("axis", 0);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("gather_elements", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  for (int d = 0; d < in[0].rank(); ++d) {
    if (d != ax.value() && in[1][d] > in[0][d]) {
      return op_error("gather_elements", "indices " + in[1].to_string() + " exceed data " + in[0].to_string() + " on axis " + std::to_string(d));
    }
  }
  return std::vector<Shape>{in[1]};
}

Result<std::vector<DType>> types_gather_elements(const std::vector<DType>& in, const OpAttrs&) {
  if (in[1] != DType::kI64 && in[1] != DType::kI32) return type_error("", 1, in[1], "i64 or i32");
  return std::vector<DType>{in[0]};
}

// Calls f(i, src): output element i reads data element src; fails on an index out of range.
template <typename F>
Status for_each_read(const OpAttrs& a, const Tensor& data, const Tensor& indices, F&& f) {
  const Shape& ds = data.shape();
  const Shape& is = indices.shape();
  const int ax = normalize_axis("gather_elements", a.integer("axis", 0).value(), ds.rank()).value();
  const std::vector<int64_t> dstride = strides_of(ds);
  const int64_t n = ds[ax];
  for (int64_t i = 0; i < is.num_elements(); ++i) {
    int64_t rem = i, src = 0;
    for (int d = is.rank() - 1; d >= 0; --d) {
      const int64_t c = rem % is[d];
      rem /= is[d];
      if (d != ax) src += c * dstride[static_cast<size_t>(d)];
    }
    int64_t k = indices.dtype() == DType::kI64 ? indices.data_as<int64_t>()[i] : indices.data_as<int32_t>()[i];
    if (k < -n || k >= n) {
      return Status::OutOfRange("gather_elements: index " + std::to_string(k) + " (element " + std::to_string(i) +
                                ") is outside an axis of size " + std::to_string(n));
    }
    if (k < 0) k += n;
    f(i, src + k * dstride[static_cast<size_t>(ax)]);
  }
  return Status::Ok();
}

Status run_gather_elements(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const size_t es = dtype_size(in[0]->dtype());
  const char* x = static_cast<const char*>(in[0]->raw_data());
  char* y = static_cast<char*>(out[0]->mutable_raw_data());
  return for_each_read(a, *in[0], *in[1], [&](int64_t i, int64_t src) {
    std::memcpy(y + static_cast<size_t>(i) * es, x + static_cast<size_t>(src) * es, es);
  });
}

Status backward_gather_elements(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                                const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                                const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  std::fill_n(dx, in[0]->num_elements(), 0.0f);
  const float* dy = gout[0]->data();
  return for_each_read(a, *in[0], *in[1], [&](int64_t i, int64_t src) { dx[src] += dy[i]; });
}

}  // namespace

const OpInfo kGatherElementsInfo = VITRINE_OP_INFO(GatherElements)
    .inputs(2, 2)
    .infer(&infer_gather_elements)
    .types(&types_gather_elements)
    .kernel(&run_gather_elements)
    .gradient(&backward_gather_elements)
    .not_differentiable(0x2);

}  // namespace vitrine
