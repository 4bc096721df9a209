// Elementwise unary ops (one family, one file):
//   activations  relu, clip (attrs min, max; relu6 = clip 0..6), leaky_relu (alpha = 0.01), sigmoid,
//                tanh, hardswish, gelu (approximate = "none"|"tanh"), elu (alpha = 1),
//                selu (alpha = 1.67326..., gamma = 1.0507...), softplus
//                softsign (x / (1 + |x|)), thresholded_relu (alpha = 1: x > alpha ? x : 0),
//                celu (alpha = 1: max(0, x) + min(0, alpha (exp(x / alpha) - 1))),
//                shrink (lambd = 0.5, bias = 0: x < -lambd ? x + bias : x > lambd ? x - bias : 0)
//   math         exp, log, sqrt, neg, abs, reciprocal, erf, floor, ceil, sin, cos, tan, asin, acos,
//                atan, sinh, cosh, asinh, acosh, atanh, sign, round (halves to even)
//   input x (any shape); output: same shape.
// Each has an engine kernel (the formula below) and, where XNNPACK has the function, a lowering;
// the op case table checks one against the other. Backward: dx = dy * f'(x) (floor, ceil, round, sign: 0;
// abs at 0: 0; log, sqrt, reciprocal follow the formula, infinite at 0 as in PyTorch).
#include <cmath>

#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"

namespace vitrine {
namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluGamma = 1.0507009873554804934193349852946;

struct Params {
  float lo = -INFINITY, hi = INFINITY;  // clip
  float alpha = 0.01f;                  // leaky_relu slope, elu / selu alpha
  float gamma = 1.0f;                   // selu scale
  bool tanh_gelu = false;
  float lambd = 0.5f, bias = 0.0f;      // shrink
};

Result<Params> params(OpType type, const OpAttrs& a) {
  const char* name = op_info(type).name;
  Params p;
  switch (type) {
    case OpType::kClip:
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {"min", "max"}));
      if (!(a.number("min", -INFINITY) <= a.number("max", INFINITY))) return op_error(name, "min must be <= max");
      p.lo = static_cast<float>(a.number("min", -INFINITY));
      p.hi = static_cast<float>(a.number("max", INFINITY));
      return p;
    case OpType::kLeakyRelu:
    case OpType::kElu:
    case OpType::kSelu: {
      VITRINE_RETURN_IF_ERROR(type == OpType::kSelu ? a.check_known(name, {"alpha", "gamma"}) : a.check_known(name, {"alpha"}));
      const double fallback = type == OpType::kLeakyRelu ? 0.01 : type == OpType::kElu ? 1.0 : kSeluAlpha;
      const double alpha = a.number("alpha", fallback), gamma = a.number("gamma", kSeluGamma);
      if (!std::isfinite(alpha) || !std::isfinite(gamma)) return op_error(name, "alpha and gamma must be finite");
      p.alpha = static_cast<float>(alpha);
      p.gamma = type == OpType::kSelu ? static_cast<float>(gamma) : 1.0f;
      return p;
    }
    case OpType::kGelu: {
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {"approximate"}));
      const std::string mode = a.string("approximate", "none");
      if (mode != "none" && mode != "tanh") return op_error(name, "approximate must be 'none' or 'tanh'");
      p.tanh_gelu = mode == "tanh";
      return p;
    }
    case OpType::kThresholdedRelu:
    case OpType::kCelu: {
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {"alpha"}));
      const double alpha = a.number("alpha", 1.0);
      if (!std::isfinite(alpha) || (type == OpType::kCelu && alpha == 0)) return op_error(name, "alpha must be finite (and non-zero for celu)");
      p.alpha = static_cast<float>(alpha);
      return p;
    }
    case OpType::kShrink: {
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {"lambd", "bias"}));
      const double lambd = a.number("lambd", 0.5), bias = a.number("bias", 0.0);
      if (!std::isfinite(lambd) || !std::isfinite(bias)) return op_error(name, "lambd and bias must be finite");
      p.lambd = static_cast<float>(lambd);
      p.bias = static_cast<float>(bias);
      return p;
    }
    default:
      VITRINE_RETURN_IF_ERROR(a.check_known(name, {}));
      return p;
  }
}

// f(x), in double for the few transcendental cases the float kernels would round twice.
template <OpType kType>
inline float forward(float x, const Params& p) {
  const double v = x;
  switch (kType) {
    case OpType::kRelu: return x > 0 ? x : 0.0f;
    case OpType::kClip: return std::fmin(std::fmax(x, p.lo), p.hi);
    case OpType::kLeakyRelu: return x < 0 ? p.alpha * x : x;
    case OpType::kSigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-v)));
    case OpType::kTanh: return std::tanh(x);
    case OpType::kHardSwish: return static_cast<float>(v * std::fmin(std::fmax(v + 3, 0.0), 6.0) / 6);
    case OpType::kGelu:
      if (p.tanh_gelu) return static_cast<float>(0.5 * v * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
      return static_cast<float>(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    case OpType::kElu:
    case OpType::kSelu: return static_cast<float>(p.gamma * (v > 0 ? v : p.alpha * std::expm1(v)));
    case OpType::kSoftplus: return static_cast<float>(v > 20 ? v : std::log1p(std::exp(v)));
    case OpType::kExp: return std::exp(x);
    case OpType::kLog: return std::log(x);
    case OpType::kSqrt: return std::sqrt(x);
    case OpType::kNeg: return -x;
    case OpType::kAbs: return std::fabs(x);
    case OpType::kReciprocal: return 1.0f / x;
    case OpType::kErf: return std::erf(x);
    case OpType::kFloor: return std::floor(x);
    case OpType::kCeil: return std::ceil(x);
    case OpType::kSin: return std::sin(x);
    case OpType::kCos: return std::cos(x);
    case OpType::kTan: return std::tan(x);
    case OpType::kAsin: return std::asin(x);
    case OpType::kAcos: return std::acos(x);
    case OpType::kAtan: return std::atan(x);
    case OpType::kSinh: return std::sinh(x);
    case OpType::kCosh: return std::cosh(x);
    case OpType::kAsinh: return std::asinh(x);
    case OpType::kAcosh: return std::acosh(x);
    case OpType::kAtanh: return std::atanh(x);
    case OpType::kSign: return x > 0 ? 1.0f : x < 0 ? -1.0f : x;  // NaN stays NaN, -0 stays -0
    case OpType::kRound: return std::nearbyint(x);                 // the default mode: halves to even
    case OpType::kSoftsign: return x / (1.0f + std::fabs(x));
    case OpType::kThresholdedRelu: return x > p.alpha ? x : 0.0f;
    case OpType::kCelu: return static_cast<float>(std::fmax(0.0, v) + std::fmin(0.0, p.alpha * std::expm1(v / p.alpha)));
    case OpType::kShrink: return x < -p.lambd ? x + p.bias : x > p.lambd ? x - p.bias : 0.0f;
    default: return NAN;
  }
}

// f'(x) given x and y = f(x).
template <OpType kType>
inline float derivative(float x, float y, const Params& p) {
  const double v = x;
  switch (kType) {
    case OpType::kRelu: return x > 0 ? 1.0f : 0.0f;
    case OpType::kClip: return x > p.lo && x < p.hi ? 1.0f : 0.0f;
    case OpType::kLeakyRelu: return x > 0 ? 1.0f : p.alpha;
    case OpType::kSigmoid: return y * (1.0f - y);
    case OpType::kTanh: return 1.0f - y * y;
    case OpType::kHardSwish: return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f;
    case OpType::kGelu:
      if (p.tanh_gelu) {
        const double c = std::sqrt(2.0 / M_PI), t = std::tanh(c * (v + 0.044715 * v * v * v));
        return static_cast<float>(0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v));
      }
      return static_cast<float>(0.5 * (1 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI));
    case OpType::kElu:
    case OpType::kSelu: return static_cast<float>(p.gamma * (v > 0 ? 1.0 : p.alpha * std::exp(v)));
    case OpType::kSoftplus: return static_cast<float>(1.0 / (1.0 + std::exp(-v)));
    case OpType::kExp: return y;
    case OpType::kLog: return 1.0f / x;
    case OpType::kSqrt: return 0.5f / y;
    case OpType::kNeg: return -1.0f;
    case OpType::kAbs: return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
    case OpType::kReciprocal: return -y * y;
    case OpType::kErf: return static_cast<float>(2.0 / std::sqrt(M_PI) * std::exp(-v * v));
    case OpType::kFloor:
    case OpType::kCeil: return 0.0f;
    case OpType::kSin: return std::cos(x);
    case OpType::kCos: return -std::sin(x);
    case OpType::kTan: return 1.0f + y * y;
    case OpType::kAsin: return static_cast<float>(1.0 / std::sqrt(1.0 - v * v));
    case OpType::kAcos: return static_cast<float>(-1.0 / std::sqrt(1.0 - v * v));
    case OpType::kAtan: return static_cast<float>(1.0 / (1.0 + v * v));
    case OpType::kSinh: return std::cosh(x);
    case OpType::kCosh: return std::sinh(x);
    case OpType::kAsinh: return static_cast<float>(1.0 / std::sqrt(v * v + 1.0));
    case OpType::kAcosh: return static_cast<float>(1.0 / std::sqrt(v * v - 1.0));
    case OpType::kAtanh: return static_cast<float>(1.0 / (1.0 - v * v));
    case OpType::kSign:
    case OpType::kRound: return 0.0f;
    case OpType::kSoftsign: return static_cast<float>(1.0 / ((1.0 + std::fabs(v)) * (1.0 + std::fabs(v))));
    case OpType::kThresholdedRelu: return x > p.alpha ? 1.0f : 0.0f;
    case OpType::kCelu: return x > 0 ? 1.0f : static_cast<float>(std::exp(v / p.alpha));
    case OpType::kShrink: return x < -p.lambd || x > p.lambd ? 1.0f : 0.0f;
    default: return NAN;
  }
}

template <OpType kType>
Result<std::vector<Shape>> infer_unary(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(params(kType, a).status());
  return std::vector<Shape>{in[0]};
}

template <OpType kType>
Status run_unary(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  VITRINE_ASSIGN_OR_RETURN(Params p, params(kType, a));
  const float* x = in[0]->data();
  float* y = out[0]->mutable_data();
  const int64_t n = in[0]->num_elements();
  for (int64_t i = 0; i < n; ++i) y[i] = forward<kType>(x[i], p);
  return Status::Ok();
}

// XNNPACK's function for the op, or xnn_unary_invalid (then the op is lowered some other way below).
template <OpType kType>
xnn_unary_operator xnn_function(const Params& p, xnn_unary_params* xp) {
  switch (kType) {
    case OpType::kRelu: xp->clamp = {0.0f, INFINITY}; return xnn_unary_clamp;
    case OpType::kClip: xp->clamp = {p.lo, p.hi}; return xnn_unary_clamp;
    case OpType::kLeakyRelu: xp->leaky_relu.negative_slope = p.alpha; return xnn_unary_leaky_relu;
    case OpType::kSigmoid: return xnn_unary_sigmoid;
    case OpType::kTanh: return xnn_unary_tanh;
    case OpType::kHardSwish: return xnn_unary_hardswish;
    case OpType::kGelu: return p.tanh_gelu ? xnn_unary_approxgelu : xnn_unary_gelu;
    case OpType::kElu:
    case OpType::kSelu: xp->elu.alpha = p.alpha; return xnn_unary_elu;
    case OpType::kExp: return xnn_unary_exp;
    case OpType::kLog: return xnn_unary_log;
    case OpType::kSqrt: return xnn_unary_square_root;
    case OpType::kNeg: return xnn_unary_negate;
    case OpType::kAbs: return xnn_unary_abs;
    case OpType::kFloor: return xnn_unary_floor;
    case OpType::kCeil: return xnn_unary_ceiling;
    case OpType::kSin: return xnn_unary_sine;
    case OpType::kCos: return xnn_unary_cosine;
    default: return xnn_unary_invalid;
  }
}

// selu = gamma * elu(x, alpha): elu, then a multiply by gamma. reciprocal = 1 / x: a divide.
template <OpType kType>
Status lower_unary(XnnLowering& l) {
  VITRINE_ASSIGN_OR_RETURN(Params p, params(kType, *l.attrs));
  if (kType == OpType::kReciprocal) {
    const float one = 1.0f;
    VITRINE_ASSIGN_OR_RETURN(Tensor t, Tensor::from_values(Shape{1}, &one, 1));
    VITRINE_ASSIGN_OR_RETURN(uint32_t one_id, l.add_static(t));
    return l.check(xnn_define_binary(l.subgraph, xnn_binary_divide, nullptr, one_id, l.inputs[0], l.outputs[0], 0), "define divide");
  }
  xnn_unary_params xp{};
  const xnn_unary_operator f = xnn_function<kType>(p, &xp);
  if (f == xnn_unary_invalid) return op_error(l.node_name, "no XNNPACK lowering");
  if (kType != OpType::kSelu) {
    return l.check(xnn_define_unary(l.subgraph, f, &xp, l.inputs[0], l.outputs[0], 0), "define unary operator");
  }
  VITRINE_ASSIGN_OR_RETURN(uint32_t elu, l.add_internal(l.output_shapes[0]));
  VITRINE_RETURN_IF_ERROR(l.check(xnn_define_unary(l.subgraph, f, &xp, l.inputs[0], elu, 0), "define elu"));
  VITRINE_ASSIGN_OR_RETURN(Tensor g, Tensor::from_values(Shape{1}, &p.gamma, 1));
  VITRINE_ASSIGN_OR_RETURN(uint32_t gamma_id, l.add_static(g));
  return l.check(xnn_define_binary(l.subgraph, xnn_binary_multiply, nullptr, elu, gamma_id, l.outputs[0], 0), "define multiply");
}

template <OpType kType>
Status backward_unary(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                      const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                      const std::vector<Tensor*>& gin) {
  VITRINE_ASSIGN_OR_RETURN(Params p, params(kType, a));
  float* dx = input_gradient(gout, gin);
  if (!dx) return Status::Ok();
  const int64_t n = in[0]->num_elements();
  const float *x = in[0]->data(), *y = out[0]->data(), *dy = gout[0]->data();
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * derivative<kType>(x[i], y[i], p);
  return Status::Ok();
}

}  // namespace

#define VITRINE_UNARY_INFO(Name)                                                                          \
  const OpInfo k##Name##Info = VITRINE_OP_INFO(Name).inputs(1, 1).infer(&infer_unary<OpType::k##Name>)      \
                                   .lowering(&lower_unary<OpType::k##Name>).kernel(&run_unary<OpType::k##Name>) \
                                   .gradient(&backward_unary<OpType::k##Name>);
#define VITRINE_UNARY_KERNEL_INFO(Name)                                                                   \
  const OpInfo k##Name##Info = VITRINE_OP_INFO(Name).inputs(1, 1).infer(&infer_unary<OpType::k##Name>)      \
                                   .kernel(&run_unary<OpType::k##Name>).gradient(&backward_unary<OpType::k##Name>);
VITRINE_UNARY_INFO(Relu)
VITRINE_UNARY_INFO(Clip)
VITRINE_UNARY_INFO(LeakyRelu)
VITRINE_UNARY_INFO(Sigmoid)
VITRINE_UNARY_INFO(Tanh)
VITRINE_UNARY_INFO(HardSwish)
VITRINE_UNARY_INFO(Gelu)
VITRINE_UNARY_INFO(Elu)
VITRINE_UNARY_INFO(Selu)
VITRINE_UNARY_KERNEL_INFO(Softplus)
VITRINE_UNARY_INFO(Exp)
VITRINE_UNARY_INFO(Log)
VITRINE_UNARY_INFO(Sqrt)
VITRINE_UNARY_INFO(Neg)
VITRINE_UNARY_INFO(Abs)
VITRINE_UNARY_INFO(Reciprocal)
VITRINE_UNARY_KERNEL_INFO(Erf)
VITRINE_UNARY_INFO(Floor)
VITRINE_UNARY_INFO(Ceil)
VITRINE_UNARY_INFO(Sin)
VITRINE_UNARY_INFO(Cos)
VITRINE_UNARY_KERNEL_INFO(Tan)
VITRINE_UNARY_KERNEL_INFO(Asin)
VITRINE_UNARY_KERNEL_INFO(Acos)
VITRINE_UNARY_KERNEL_INFO(Atan)
VITRINE_UNARY_KERNEL_INFO(Sinh)
VITRINE_UNARY_KERNEL_INFO(Cosh)
VITRINE_UNARY_KERNEL_INFO(Asinh)
VITRINE_UNARY_KERNEL_INFO(Acosh)
VITRINE_UNARY_KERNEL_INFO(Atanh)
VITRINE_UNARY_KERNEL_INFO(Sign)
VITRINE_UNARY_KERNEL_INFO(Round)
VITRINE_UNARY_KERNEL_INFO(Softsign)
VITRINE_UNARY_KERNEL_INFO(ThresholdedRelu)
VITRINE_UNARY_KERNEL_INFO(Celu)
VITRINE_UNARY_KERNEL_INFO(Shrink)
#undef VITRINE_UNARY_INFO
#undef VITRINE_UNARY_KERNEL_INFO

}  // namespace vitrine
