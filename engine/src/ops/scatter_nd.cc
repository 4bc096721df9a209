// ScatterND: y = data with y[indices[j]] = updates[j] for every index tuple j: indices (i64 or
// i32) has shape (..., q) with q <= rank(data), each tuple naming a slice of data's last
// rank - q dimensions; updates has shape indices.shape[:-1] + data.shape[q:]. Negative entries
// count from the end. attr reduction: "none" (default; the last write wins), "add" or "mul".
// Any number dtype. An index out of range fails the run. Engine kernel.
// Backward (f32, none or add): d data = dy (zeroed where "none" overwrote); d updates = dy at the
// slices written (mul: refused).
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::string> reduction_of(const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("scatter_nd", {"reduction"}));
  return scatter_reduction("scatter_nd", a);
}

Result<std::vector<Shape>> infer_scatter_nd(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(reduction_of(a).status());
  const Shape &ds = in[0], &is = in[1], &us = in[2];
  if (is.rank() < 1) return op_error("scatter_nd", "indices must have rank >= 1");
  const int64_t q = is.dim(-1);
  if (q < 1 || q > ds.rank()) return op_error("scatter_nd", "the last dimension of indices must be in [1, rank(data)]");
  std::vector<int64_t> want;
  for (int d = 0; d < is.rank() - 1; ++d) want.push_back(is[d]);
  for (int d = static_cast<int>(q); d < ds.rank(); ++d) want.push_back(ds[d]);
  if (us.to_vector() != want) {
    return op_error("scatter_nd", "updates must have shape indices[:-1] + data[q:], got " + us.to_string());
  }
  return std::vector<Shape>{ds};
}

Result<std::vector<DType>> types_scatter_nd(const std::vector<DType>& in, const OpAttrs&) {
  if (in[1] != DType::kI64 && in[1] != DType::kI32) return type_error("", 1, in[1], "i64 or i32");
  if (in[2] != in[0]) return type_error("", 2, in[2], dtype_name(in[0]));
  return std::vector<DType>{in[0]};
}

// Calls f(j, offset, slice): update slice j (`slice` elements) goes to data elements from offset.
template <typename F>
Status for_each_slice(const Shape& ds, const Tensor& indices, F&& f) {
  const Shape& is = indices.shape();
  const int64_t q = is.dim(-1);
  const int64_t tuples = q ? indices.num_elements() / q : 0;
  const std::vector<int64_t> dstride = strides_of(ds);
  int64_t slice = 1;
  for (int d = static_cast<int>(q); d < ds.rank(); ++d) slice *= ds[d];
  for (int64_t j = 0; j < tuples; ++j) {
    int64_t off = 0;
    for (int64_t c = 0; c < q; ++c) {
      const int64_t e = j * q + c;
      int64_t k = indices.dtype() == DType::kI64 ? indices.data_as<int64_t>()[e] : indices.data_as<int32_t>()[e];
      const int64_t n = ds[static_cast<int>(c)];
      if (k < -n || k >= n) {
        return Status::OutOfRange("scatter_nd: index " + std::to_string(k) + " (tuple " + std::to_string(j) +
                                  ") is outside an axis of size " + std::to_string(n));
      }
      off += (k < 0 ? k + n : k) * dstride[static_cast<size_t>(c)];
    }
    f(j, off, slice);
  }
  return Status::Ok();
}

Status run_scatter_nd(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const std::string r = reduction_of(a).value();
  if (in[0]->nbytes()) std::memcpy(out[0]->mutable_raw_data(), in[0]->raw_data(), in[0]->nbytes());
  Status s;
  visit_dtype(in[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = out[0]->mutable_data_as<T>();
    const T* u = in[2]->data_as<T>();
    s = for_each_slice(in[0]->shape(), *in[1], [&](int64_t j, int64_t off, int64_t slice) {
      for (int64_t e = 0; e < slice; ++e) y[off + e] = scatter_combine(r, y[off + e], u[j * slice + e]);
    });
  });
  return s;
}

Status backward_scatter_nd(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>&,
                           const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  const std::string r = reduction_of(a).value();
  if (r == "mul") return Status::Unimplemented("scatter_nd: no gradient through reduction = mul");
  const float* dy = gout[0] ? gout[0]->data() : nullptr;
  if (gin[0]) {
    float* dd = gin[0]->mutable_data();
    if (dy) std::copy(dy, dy + in[0]->num_elements(), dd);
    else std::fill_n(dd, in[0]->num_elements(), 0.0f);
    if (r == "none") {
      VITRINE_RETURN_IF_ERROR(for_each_slice(in[0]->shape(), *in[1], [&](int64_t, int64_t off, int64_t slice) {
        std::fill_n(dd + off, slice, 0.0f);
      }));
    }
  }
  if (gin[2]) {
    float* du = gin[2]->mutable_data();
    std::fill_n(du, in[2]->num_elements(), 0.0f);
    if (!dy) return Status::Ok();
    std::vector<int64_t> last;  // "none": the tuple whose write survives at each slice start
    if (r == "none") {
      last.assign(static_cast<size_t>(in[0]->num_elements()), -1);
      VITRINE_RETURN_IF_ERROR(for_each_slice(in[0]->shape(), *in[1], [&](int64_t j, int64_t off, int64_t slice) {
        if (slice > 0) last[static_cast<size_t>(off)] = j;
      }));
    }
    VITRINE_RETURN_IF_ERROR(for_each_slice(in[0]->shape(), *in[1], [&](int64_t j, int64_t off, int64_t slice) {
      if (slice == 0 || (r == "none" && last[static_cast<size_t>(off)] != j)) return;
      std::copy(dy + off, dy + off + slice, du + j * slice);
    }));
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kScatterNDInfo = VITRINE_OP_INFO(ScatterND)
    .inputs(3, 3)
    .infer(&infer_scatter_nd)
    .types(&types_scatter_nd)
    .kernel(&run_scatter_nd)
    .gradient(&backward_scatter_nd)
    .not_differentiable(0x2);

}  // namespace vitrine
