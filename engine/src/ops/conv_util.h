// Helpers for the backward kernels of conv2d and conv_transpose2d: argument checks, im2col / col2im
// over NHWC images, and XNNPACK's batch matrix multiply.
//
// Both ops relate an "image" side (conv2d: the input x; conv_transpose2d: the output y) to a grid of
// "patches" (conv2d: the output positions; conv_transpose2d: the input positions). im2col gathers,
// for every patch and group, the KH·KW·(C/groups) image values the kernel sees there (zero outside
// the image); col2im is its adjoint (scatter-add). Column order within a row is (ky, kx, c), which
// matches the (O, KH, KW, C/groups) weight layout of conv2d.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../core/xnn_util.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace conv_grad {

// im2col buffers are processed a few images at a time so they stay under this many floats (at
// least one image per chunk).
inline constexpr size_t kColsBudgetFloats = size_t{1} << 21;  // 8 MiB

// The shapes of `in` (min_inputs..max_inputs present, none null or empty), or an error naming `op`.
inline Result<std::vector<Shape>> input_shapes(const char* op, const std::vector<const Tensor*>& in,
                                               size_t min_inputs, size_t max_inputs) {
  if (in.size() < min_inputs || in.size() > max_inputs) {
    return op_error(op, "backward expects " + std::to_string(min_inputs) + " to " + std::to_string(max_inputs) +
                            " inputs, got " + std::to_string(in.size()));
  }
  std::vector<Shape> shapes;
  for (const Tensor* t : in) {
    if (t == nullptr || t->empty()) return op_error(op, "backward: missing input tensor");
    shapes.push_back(t->shape());
  }
  return shapes;
}

// Checks the gradient slots of a single-output op whose output has shape `out`: grad_outputs[0]
// (absent or null: zero gradient) must have that shape, every non-null grad_inputs[i] the shape of
// inputs[i]. Sets *dy to the output gradient or null.
inline Status check_grads(const char* op, const std::vector<const Tensor*>& in,
                          const std::vector<const Tensor*>& gout, const std::vector<Tensor*>& gin,
                          const Shape& out, const Tensor** dy) {
  if (gout.size() > 1) return op_error(op, "backward: the op has one output, got " + std::to_string(gout.size()) + " gradients");
  if (gin.size() > in.size()) return op_error(op, "backward: more gradient slots than inputs");
  *dy = gout.empty() ? nullptr : gout[0];
  if (*dy && (*dy)->empty()) *dy = nullptr;
  if (*dy && (*dy)->shape() != out) {
    return op_error(op, "output gradient has shape " + (*dy)->shape().to_string() + ", the output has " +
                            out.to_string());
  }
  for (size_t i = 0; i < gin.size(); ++i) {
    if (gin[i] && (gin[i]->empty() || gin[i]->shape() != in[i]->shape())) {
      return op_error(op, "gradient " + std::to_string(i) + " must have shape " + in[i]->shape().to_string() +
                              (gin[i]->empty() ? "" : ", got " + gin[i]->shape().to_string()));
    }
  }
  return Status::Ok();
}

inline void zero(Tensor* t) {
  if (t) std::fill_n(t->mutable_data(), t->num_elements(), 0.0f);
}

// Where the kernel taps of a patch land in the image: image position = patch·stride - pad +
// tap·dilation, ignored outside [0, image size).
struct Geometry {
  int64_t ih, iw, ic;  // image height, width, channels (all groups)
  int64_t ph, pw;      // patch grid height, width
  int64_t kh, kw, sh, sw, dh, dw, top, left, groups;

  int64_t icg() const { return ic / groups; }
  int64_t k() const { return kh * kw * icg(); }      // columns per group
  int64_t patches() const { return ph * pw; }        // rows per image
  // Images per im2col chunk under kColsBudgetFloats (>= 1).
  int64_t chunk_images() const {
    const int64_t per_image = std::max<int64_t>(1, patches() * k() * groups);
    return std::max<int64_t>(1, static_cast<int64_t>(kColsBudgetFloats) / per_image);
  }
};

// Visits every (group, row, tap) of images [n0, n0 + count): f(col, pix) with `col` the offset in
// cols (laid out (groups, count·patches, k)) of the icg() columns of that row and tap, and `pix` the
// offset in the image of the first of the icg() channels it sees, or -1 outside the image.
template <typename F>
inline void for_each_tap(const Geometry& g, int64_t n0, int64_t count, F&& f) {
  const int64_t icg = g.icg(), k = g.k(), rows = count * g.patches();
  for (int64_t n = 0; n < count; ++n)
    for (int64_t py = 0; py < g.ph; ++py)
      for (int64_t px = 0; px < g.pw; ++px) {
        const int64_t row = (n * g.ph + py) * g.pw + px;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t y = py * g.sh - g.top + ky * g.dh;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t x = px * g.sw - g.left + kx * g.dw;
            const bool inside = y >= 0 && y < g.ih && x >= 0 && x < g.iw;
            const int64_t pixel = inside ? (((n0 + n) * g.ih + y) * g.iw + x) * g.ic : -1;
            for (int64_t grp = 0; grp < g.groups; ++grp) {
              f((grp * rows + row) * k + (ky * g.kw + kx) * icg, inside ? pixel + grp * icg : -1);
            }
          }
        }
      }
}

// cols (groups, count·patches, k) = the image values each patch sees, for images [n0, n0 + count).
inline void im2col(const Geometry& g, const float* img, int64_t n0, int64_t count, float* cols) {
  const size_t bytes = static_cast<size_t>(g.icg()) * sizeof(float);
  for_each_tap(g, n0, count, [&](int64_t col, int64_t pix) {
    if (pix >= 0) std::memcpy(cols + col, img + pix, bytes);
    else std::memset(cols + col, 0, bytes);
  });
}

// img += the adjoint of im2col applied to cols (scatter-add), for images [n0, n0 + count).
inline void col2im(const Geometry& g, const float* cols, int64_t n0, int64_t count, float* img) {
  const int64_t icg = g.icg();
  for_each_tap(g, n0, count, [&](int64_t col, int64_t pix) {
    if (pix < 0) return;
    for (int64_t c = 0; c < icg; ++c) img[pix + c] += cols[col + c];
  });
}


// A zero-initialised float scratch buffer (padded for XNNPACK's over-reads).
inline Status scratch(AlignedBuffer& buf, int64_t floats) {
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(floats, 1)) * sizeof(float);
  VITRINE_RETURN_IF_ERROR(buf.reserve(bytes));
  std::memset(buf.data(), 0, bytes);
  return Status::Ok();
}

// db (O) = Σ over all positions of dy (..., O).
inline void bias_grad(const Tensor& dy, Tensor* db) {
  if (!db) return;
  const int64_t o = db->num_elements();
  float* d = db->mutable_data();
  std::fill_n(d, o, 0.0f);
  if (o == 0) return;
  const float* g = dy.data();
  const int64_t rows = dy.num_elements() / o;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < o; ++c) d[c] += g[r * o + c];
}

}  // namespace conv_grad
}  // namespace vitrine
