// ScatterElements: y = data with y[i with its attr-axis coordinate replaced by indices[i]] =
// updates[i] for every element i of `indices` (i64 or i32; the shape of updates, data's rank, every
// other dimension at most data's; negative values count from the end). attr reduction: "none"
// (default; with repeated indices the last write wins), "add" or "mul" (combine with what is
// there). Any number dtype. An index out of range fails the run. Engine kernel.
// Backward (f32, reduction none or add): d data = dy, zeroed where "none" overwrote it;
// d updates = dy read at the scattered positions (mul: no gradient, refused).
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::string> reduction_of(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("scatter_elements", {"axis", "reduction"}));
  return scatter_reduction("scatter_elements", a);
}

Result<std::vector<Shape>> infer_scatter_elements(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(reduction_of(a).status());
  if (in[0].rank() < 1 || in[1].rank() != in[0].rank() || in[2] != in[1]) {
    return op_error("scatter_elements", "indices and updates must share one shape of data's rank, got " + in[1].to_string() +
                                            " and " + in[2].to_string() + " for data " + in[0].to_string());
  }
  Result<int64_t> axis = a.integer("axis", 0);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis("scatter_elements", axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  for (int d = 0; d < in[0].rank(); ++d) {
    if (d != ax.value() && in[1][d] > in[0][d]) return op_error("scatter_elements", "indices exceed data on axis " + std::to_string(d));
  }
  return std::vector<Shape>{in[0]};
}

Result<std::vector<DType>> types_scatter_elements(const std::vector<DType>& in, const OpAttrs&) {
  if (in[1] != DType::kI64 && in[1] != DType::kI32) return type_error("", 1, in[1], "i64 or i32");
  if (in[2] != in[0]) return type_error("", 2, in[2], dtype_name(in[0]));
  return std::vector<DType>{in[0]};
}

// Calls f(i, dst): update i goes to data element dst; fails on an index out of range.
template <typename F>
Status for_each_write(const OpAttrs& a, const Shape& ds, const Tensor& indices, F&& f) {
  const Shape& is = indices.shape();
  const int ax = normalize_axis("scatter_elements", a.integer("axis", 0).value(), ds.rank()).value();
  const std::vector<int64_t> dstride = strides_of(ds);
  const int64_t n = ds[ax];
  for (int64_t i = 0; i < is.num_elements(); ++i) {
    int64_t rem = i, dst = 0;
    for (int d = is.rank() - 1; d >= 0; --d) {
      const int64_t c = rem % is[d];
      rem /= is[d];
      if (d != ax) dst += c * dstride[static_cast<size_t>(d)];
    }
    int64_t k = indices.dtype() == DType::kI64 ? indices.data_as<int64_t>()[i] : indices.data_as<int32_t>()[i];
    if (k < -n || k >= n) {
      return Status::OutOfRange("scatter_elements: index " + std::to_string(k) + " (element " + std::to_string(i) +
                                ") is outside an axis of size " + std::to_string(n));
    }
    if (k < 0) k += n;
    f(i, dst + k * dstride[static_cast<size_t>(ax)]);
  }
  return Status::Ok();
}

Status run_scatter_elements(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const std::string r = reduction_of(a).value();
  if (in[0]->nbytes()) std::memcpy(out[0]->mutable_raw_data(), in[0]->raw_data(), in[0]->nbytes());
  Status s;
  visit_dtype(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = out[0]->mutable_data_as<T>();
    const T* u = in[2]->data_as<T>();
    s = for_each_write(a, in[0]->shape(), *in[1], [&](int64_t i, int64_t dst) { y[dst] = scatter_combine(r, y[dst], u[i]); });
  });
  return s;
}

Status backward_scatter_elements(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                                 const std::vector<const Tensor*>&, const std::vector<const Tensor*>& gout,
                                 const std::vector<Tensor*>& gin) {
  const std::string r = reduction_of(a).value();
  if (r == "mul") return Status::Unimplemented("scatter_elements: no gradient through reduction = mul");
  const float* dy = gout[0] ? gout[0]->data() : nullptr;
  if (gin[0]) {
    float* dd = gin[0]->mutable_data();
    if (dy) std::copy(dy, dy + in[0]->num_elements(), dd);
    else std::fill_n(dd, in[0]->num_elements(), 0.0f);
    if (r == "none") VITRINE_RETURN_IF_ERROR(for_each_write(a, in[0]->shape(), *in[1], [&](int64_t, int64_t dst) { dd[dst] = 0.0f; }));
  }
  if (gin[2]) {
    float* du = gin[2]->mutable_data();
    std::fill_n(du, in[2]->num_elements(), 0.0f);
    if (!dy) return Status::Ok();
    // With "none" only the last write to a position reaches the output.
    std::vector<int64_t> last;
    if (r == "none") {
      last.assign(static_cast<size_t>(in[0]->num_elements()), -1);
      VITRINE_RETURN_IF_ERROR(for_each_write(a, in[0]->shape(), *in[1], [&](int64_t i, int64_t dst) { last[static_cast<size_t>(dst)] = i; }));
    }
    VITRINE_RETURN_IF_ERROR(for_each_write(a, in[0]->shape(), *in[1], [&](int64_t i, int64_t dst) {
      if (r != "none" || last[static_cast<size_t>(dst)] == i) du[i] = dy[dst];
    }));
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kScatterElementsInfo = VITRINE_OP_INFO(ScatterElements)
    .inputs(3, 3)
    .infer(&infer_scatter_elements)
    .types(&types_scatter_elements)
    .kernel(&run_scatter_elements)
    .gradient(&backward_scatter_elements)
    .not_differentiable(0x2);

}  // namespace vitrine
