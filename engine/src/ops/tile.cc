// Tile: y repeats x attr repeats[d] times along each axis d (one entry per axis, each >= 0): y has
// shape x[d] × repeats[d]; any dtype. Engine kernel. Backward (f32): dx = Σ over the copies of dy.
#include "grad_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_tile(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("tile", {"repeats"}));
  Result<std::vector<int64_t>> reps = a.int_list("repeats", in[0].rank(), {});
  if (!reps.ok()) return reps.status();
  if (!a.ints.count("repeats")) return op_error("tile", "attribute 'repeats' is required");
  std::vector<int64_t> dims;
  for (int d = 0; d < in[0].rank(); ++d) {
    const int64_t r = reps.value()[static_cast<size_t>(d)];
    if (r < 0) return op_error("tile", "repeats must be >= 0");
    if (r > 0 && in[0][d] > (int64_t{1} << 40) / r) return op_error("tile", "the output is too large");
    dims.push_back(in[0][d] * r);
  }
  return one_shape(dims);
}

// Calls f(i, pos): output element i reads input element pos.
template <typename F>
void for_each_tile(const Shape& xs, const Shape& ys, F&& f) {
  const std::vector<int64_t> xstride = strides_of(xs);
  const int r = ys.rank();
  for (int64_t i = 0; i < ys.num_elements(); ++i) {
    int64_t rem = i, pos = 0;
    for (int d = r - 1; d >= 0; --d) {
      pos += (rem % ys[d]) % xs[d] * xstride[static_cast<size_t>(d)];
      rem /= ys[d];
    }
    f(i, pos);
  }
}

Status run_tile(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const size_t es = dtype_size(in[0]->dtype());
  const char* x = static_cast<const char*>(in[0]->raw_data());
  char* y = static_cast<char*>(out[0]->mutable_raw_data());
  for_each_tile(in[0]->shape(), out[0]->shape(), [&](int64_t i, int64_t pos) {
    std::memcpy(y + static_cast<size_t>(i) * es, x + static_cast<size_t>(pos) * es, es);
  });
  return Status::Ok();
}

Status backward_tile(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<const Tensor*>& out,
                     const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  std::fill_n(dx, in[0]->num_elements(), 0.0f);
  const float* dy = gout[0]->data();
  for_each_tile(in[0]->shape(), out[0]->shape(), [&](int64_t i, int64_t pos) { dx[pos] += dy[i]; });
  return Status::Ok();
}

}  // namespace

const OpInfo kTileInfo = VITRINE_OP_INFO(Tile)
    .inputs(1, 1)
    .infer(&infer_tile)
    .types(&types_like_first)
    .kernel(&run_tile)
    .gradient(&backward_tile);

}  // namespace vitrine
