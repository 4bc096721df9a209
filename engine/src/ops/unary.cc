// Elementwise activations (one family, one file): relu, clip (attrs min, max; relu6 = clip 0..6),
// leaky_relu (attr alpha = 0.01), sigmoid, tanh, hardswish, gelu (attr approximate = "none"|"tanh").
//   input x (any shape); output: same shape.
#include <cmath>

#include "../graph/xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

Status check_attrs(OpType type, const OpAttrs& a) {
  const char* name = op_info(type).name;
  switch (type) {
    case OpType::kClip: {
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {"min", "max"}));
      if (!(a.number("min", -INFINITY) <= a.number("max", INFINITY))) return op_error(name, "min must be <= max");
      return Status::Ok();
    }
    case OpType::kLeakyRelu: return a.check_known(name, {"alpha"});
    case OpType::kGelu: {
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {"approximate"}));
      std::string mode = a.string("approximate", "none");
      if (mode != "none" && mode != "tanh") return op_error(name, "approximate must be 'none' or 'tanh'");
      return Status::Ok();
    }
    default: return a.check_known(name, {});
  }
}

template <OpType kType>
Result<std::vector<Shape>> infer_unary(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(check_attrs(kType, a));
  return std::vector<Shape>{in[0]};
}

template <OpType kType>
Status lower_unary(XnnLowering& l) {
  xnn_unary_params params{};
  xnn_unary_operator op = xnn_unary_invalid;
  switch (kType) {
    case OpType::kRelu:
      op = xnn_unary_clamp;
      params.clamp = {0.0f, INFINITY};
      break;
    case OpType::kClip:
      op = xnn_unary_clamp;
      params.clamp = {static_cast<float>(l.attrs->number("min", -INFINITY)),
                      static_cast<float>(l.attrs->number("max", INFINITY))};
      break;
    case OpType::kLeakyRelu:
      op = xnn_unary_leaky_relu;
      params.leaky_relu.negative_slope = static_cast<float>(l.attrs->number("alpha", 0.01));
      break;
    case OpType::kSigmoid: op = xnn_unary_sigmoid; break;
    case OpType::kTanh: op = xnn_unary_tanh; break;
    case OpType::kHardSwish: op = xnn_unary_hardswish; break;
    case OpType::kGelu:
      op = l.attrs->string("approximate", "none") == "tanh" ? xnn_unary_approxgelu : xnn_unary_gelu;
      break;
    default: return op_error(l.node_name, "not a unary op");
  }
  return l.check(xnn_define_unary(l.subgraph, op, &params, l.inputs[0], l.outputs[0], 0), "define unary operator");
}

}  // namespace

#define VITRINE_UNARY_INFO(Name, id, name) \
  const OpInfo k##Name##Info{OpType::k##Name, id, name, 1, 1, &infer_unary<OpType::k##Name>, \
                             &lower_unary<OpType::k##Name>, nullptr};
VITRINE_UNARY_INFO(Relu, 9, "relu")
VITRINE_UNARY_INFO(Clip, 10, "clip")
VITRINE_UNARY_INFO(LeakyRelu, 11, "leaky_relu")
VITRINE_UNARY_INFO(Sigmoid, 12, "sigmoid")
VITRINE_UNARY_INFO(Tanh, 13, "tanh")
VITRINE_UNARY_INFO(HardSwish, 14, "hardswish")
VITRINE_UNARY_INFO(Gelu, 15, "gelu")
#undef VITRINE_UNARY_INFO

}  // namespace vitrine
