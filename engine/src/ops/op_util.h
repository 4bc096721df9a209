// Helpers shared by op files: shape arithmetic and error formatting.
#pragma once

#include <string>
#include <vector>

#include "vitrine/ops.h"

namespace vitrine {

inline Status op_error(const char* op, const std::string& what) {
  return Status::InvalidArgument(std::string(op) + ": " + what);
}

inline Result<std::vector<Shape>> one_shape(const std::vector<int64_t>& dims) {
  Result<Shape> s = Shape::make(dims);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value()};
}

// Normalizes a possibly negative axis for a tensor of `rank`; error names the op.
inline Result<int> normalize_axis(const char* op, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) {
    return op_error(op, "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Shape inference of ops over the last axis only (softmax, log_softmax): attr axis = -1.
inline Result<std::vector<Shape>> infer_last_axis_op(const char* op, const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known(op, {"axis"}));
  if (in[0].rank() < 1) return op_error(op, "input must have rank >= 1");
  Result<int64_t> axis = a.integer("axis", -1);
  if (!axis.ok()) return axis.status();
  Result<int> ax = normalize_axis(op, axis.value(), in[0].rank());
  if (!ax.ok()) return ax.status();
  if (ax.value() != in[0].rank() - 1) return op_error(op, "only the last axis is supported");
  return std::vector<Shape>{in[0]};
}

// Numpy-style broadcast of two shapes.
inline Result<Shape> broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  int rank = a.rank() > b.rank() ? a.rank() : b.rank();
  std::vector<int64_t> out(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.rank() ? 1 : a[i - (rank - a.rank())];
    int64_t db = i < rank - b.rank() ? 1 : b[i - (rank - b.rank())];
    if (da != db && da != 1 && db != 1) {
      return op_error(op, "shapes " + a.to_string() + " and " + b.to_string() + " do not broadcast");
    }
    out[static_cast<size_t>(i)] = da == 1 ? db : da;
  }
  return Shape::make(out);
}

inline std::vector<size_t> xnn_dims(const Shape& s) {
  std::vector<size_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(static_cast<size_t>(s[i]));
  return d;
}

}  // namespace vitrine
