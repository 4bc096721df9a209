// Elementwise activations (one family, one file): relu, clip (attrs min, max; relu6 = clip 0..6),
// leaky_relu (attr alpha = 0.01), sigmoid, tanh, hardswish, gelu (attr approximate = "none"|"tanh").
//   input x (any shape); output: same shape.
#include <cmath>

#include "xnn_lowering.h"
#include "grad_util.h"
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

template <OpType kType>
Status backward_unary(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                      const std::vector<Tensor*>& gin) {
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const int64_t n = in[0]->num_elements();
  const float *x = in[0]->data(), *y = out[0]->data(), *dy = gout[0]->data();
  const float lo = static_cast<float>(a.number("min", -INFINITY)), hi = static_cast<float>(a.number("max", INFINITY));
  const float alpha = static_cast<float>(a.number("alpha", 0.01));
  const bool tanh_gelu = a.string("approximate", "none") == "tanh";
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    float d = 0.0f;
    switch (kType) {
      case OpType::kRelu: d = v > 0 ? 1.0f : 0.0f; break;
      case OpType::kClip: d = v > lo && v < hi ? 1.0f : 0.0f; break;
      case OpType::kLeakyRelu: d = v > 0 ? 1.0f : alpha; break;
      case OpType::kSigmoid: d = y[i] * (1.0f - y[i]); break;
      case OpType::kTanh: d = 1.0f - y[i] * y[i]; break;
      case OpType::kHardSwish: d = v < -3.0f ? 0.0f : v > 3.0f ? 1.0f : (2.0f * v + 3.0f) / 6.0f; break;
      case OpType::kGelu:
        if (tanh_gelu) {
          const double c = std::sqrt(2.0 / M_PI), u = c * (v + 0.044715 * v * v * v);
          const double t = std::tanh(u);
          d = static_cast<float>(0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v));
        } else {
          d = static_cast<float>(0.5 * (1 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI));
        }
        break;
      default: return Status::Internal("not a unary op");
    }
    dx[i] = dy[i] * d;
  }
  return Status::Ok();
}

}  // namespace

#define VITRINE_UNARY_INFO(Name)                                                                       \
  const OpInfo k##Name##Info = VITRINE_OP_INFO(Name).inputs(1, 1).infer(&infer_unary<OpType::k##Name>)   \
                                   .lowering(&lower_unary<OpType::k##Name>).gradient(&backward_unary<OpType::k##Name>);
VITRINE_UNARY_INFO(Relu)
VITRINE_UNARY_INFO(Clip)
VITRINE_UNARY_INFO(LeakyRelu)
VITRINE_UNARY_INFO(Sigmoid)
VITRINE_UNARY_INFO(Tanh)
VITRINE_UNARY_INFO(HardSwish)
VITRINE_UNARY_INFO(Gelu)
#undef VITRINE_UNARY_INFO

}  // namespace vitrine
