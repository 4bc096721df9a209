// Sparse row gradients of embedding tables: the trainer adds the looked-up rows' gradients straight
// into a parameter's gradient accumulator instead of materializing a dense table-sized gradient.
#pragma once

#include <vector>

#include "vitrine/ops.h"

namespace vitrine {

// For an embedding or embedding_bag node with inputs `in` (ids, table [, weights]), output `out`
// and output gradient `dy`: adds d loss / d table into `table_grad` (table-shaped), touching only
// the rows the ids look up. Errors name a bad id.
Status accumulate_table_grad(OpType type, const OpAttrs& attrs, const std::vector<const Tensor*>& in,
                             const Tensor& out, const Tensor& dy, Tensor* table_grad);

}  // namespace vitrine
