// Shape-only ops (one family, one file): reshape and flatten. The data is not moved.
//   reshape: attr shape [d0, ...] where 0 copies the input's dimension at that index and one -1
//            is inferred (ONNX semantics).
//   flatten: attr axis = 1: (d0 ... d_{axis-1}, d_axis ... d_{r-1}) -> (prod before, prod after).
// Lowered to XNNPACK's reshape with dimension 0 left free, so a new batch size needs no rebuild.
#include "xnn_lowering.h"
#include "../core/checked.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_reshape(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("reshape", {"shape"}));
  if (!a.ints.count("shape")) return op_error("reshape", "attribute 'shape' is required");
  std::vector<int64_t> dims = a.ints.at("shape");
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0) {
      if (static_cast<int>(i) >= in[0].rank()) return op_error("reshape", "0 at index " + std::to_string(i) + " has no input dimension to copy");
      dims[i] = in[0][static_cast<int>(i)];
    }
    if (dims[i] == -1) {
      if (infer_at >= 0) return op_error("reshape", "more than one -1 in shape");
      infer_at = static_cast<int>(i);
    } else if (dims[i] < 0) {
      return op_error("reshape", "bad dimension " + std::to_string(dims[i]));
    } else if (!checked_mul(known, dims[i], &known)) {
      return op_error("reshape", "the element count of shape attribute overflows int64");
    }
  }
  const int64_t total = in[0].num_elements();
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) {
      return op_error("reshape", "cannot infer -1: " + std::to_string(total) + " elements into " +
                                     std::to_string(known) + "-element blocks");
    }
    dims[static_cast<size_t>(infer_at)] = total / known;
  } else if (known != total) {
    return op_error("reshape", "cannot reshape " + in[0].to_string() + " (" + std::to_string(total) +
                                   " elements) into " + std::to_string(known) + " elements");
  }
  return one_shape(dims);
}

Result<std::vector<Shape>> infer_flatten(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("flatten", {"axis"}));
  Result<int64_t> axis = a.integer("axis", 1);
  if (!axis.ok()) return axis.status();
  const int rank = in[0].rank();
  int64_t ax = axis.value() < 0 ? axis.value() + rank : axis.value();
  if (ax < 0 || ax > rank) return op_error("flatten", "axis " + std::to_string(axis.value()) + " out of range");
  int64_t before = 1, after = 1;
  for (int i = 0; i < rank; ++i) (i < ax ? before : after) *= in[0][i];
  return one_shape({before, after});
}

// The output shape with dimension 0 left to XNNPACK (0 = inferred) when the batch leads both shapes.
Status lower_reshape(XnnLowering& l) {
  std::vector<size_t> dims = xnn_dims(l.output_shapes[0]);
  const Shape& in = l.input_shapes[0];
  if (!dims.empty() && in.rank() >= 1 && static_cast<int64_t>(dims[0]) == in[0]) dims[0] = 0;
  return l.check(xnn_define_static_reshape(l.subgraph, dims.size(), dims.data(), l.inputs[0], l.outputs[0], 0),
                 "define reshape");
}

}  // namespace

const OpInfo kReshapeInfo = VITRINE_OP_INFO(Reshape)
    .inputs(1, 1)
    .infer(&infer_reshape)
    .lowering(&lower_reshape)
    .kernel(&run_copy_elements)
    .types(&types_like_first)
    .gradient(&backward_copy);
const OpInfo kFlattenInfo = VITRINE_OP_INFO(Flatten)
    .inputs(1, 1)
    .infer(&infer_flatten)
    .lowering(&lower_reshape)
    .kernel(&run_copy_elements)
    .types(&types_like_first)
    .gradient(&backward_copy);

}  // namespace vitrine
