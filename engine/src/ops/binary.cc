// Elementwise binary ops with numpy broadcasting (one family, one file): add, sub, mul, div,
// max, min, pow (a^b), prelu (a where a >= 0, else b * a: b is the learned slope).
//   inputs: a, b (shapes that broadcast); output: the broadcast shape.
// Types: add, sub, mul, div, max, min take two inputs of one dtype (f32 or an integer type);
// pow takes any number types and gives a's; prelu is f32. Integer add, sub and mul wrap (two's
// complement), div truncates and fails on a zero divisor (or INT_MIN / -1); integer pow rounds
// the double result toward zero. f32 nodes lower to XNNPACK; the engine kernel runs the rest.
// Backward at the broadcast shape, summed back to each input's shape. max/min ties send the
// gradient to a; pow's gradient to the exponent is a^b * ln(a) for a > 0 and 0 elsewhere.
#include <cmath>
#include <limits>
#include <type_traits>

#include "xnn_lowering.h"
#include "grad_util.h"
#include "op_util.h"
#include "typed_util.h"

namespace vitrine {
namespace {

template <OpType kType>
Result<std::vector<Shape>> infer_binary(const std::vector<Shape>& in, const OpAttrs& a) {
  const char* name = op_info(kType).name;
  VITRINE_RETURN_IF_ERROR(a.check_known(name, {}));
  Result<Shape> s = broadcast_shapes(name, in[0], in[1]);
  if (!s.ok()) return s.status();
  return std::vector<Shape>{s.value()};
}

template <OpType kType>
Result<std::vector<DType>> types_binary(const std::vector<DType>& in, const OpAttrs&) {
  for (size_t i = 0; i < 2; ++i)
    if (in[i] == DType::kBool) return type_error("", i, in[i], "a number type");
  if (kType != OpType::kPow) VITRINE_RETURN_IF_ERROR(same_dtypes("", in));
  return std::vector<DType>{in[0]};
}

template <OpType kType, typename T>
Status apply(T x, T y, T* out) {
  using U = std::make_unsigned_t<T>;
  switch (kType) {
    case OpType::kAdd: *out = static_cast<T>(static_cast<U>(x) + static_cast<U>(y)); break;
    case OpType::kSub: *out = static_cast<T>(static_cast<U>(x) - static_cast<U>(y)); break;
    case OpType::kMul: *out = static_cast<T>(static_cast<U>(x) * static_cast<U>(y)); break;
    case OpType::kDiv:
      if (y == 0) return Status::InvalidArgument("integer division by zero");
      if (std::is_signed_v<T> && x == std::numeric_limits<T>::min() && y == static_cast<T>(-1)) {
        return Status::InvalidArgument("integer division overflows (" + std::to_string(x) + " / -1)");
      }
      *out = static_cast<T>(x / y);
      break;
    case OpType::kMax: *out = x > y ? x : y; break;
    case OpType::kMin: *out = x < y ? x : y; break;
    default: return Status::Internal("not an integer binary op");
  }
  return Status::Ok();
}

// The engine kernel: f32 by the formula (as the lowering computes it), integers as documented above.
template <OpType kType>
Status run_binary(Context*, const OpAttrs&, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const Shape& ys = out[0]->shape();
  Status status;
  visit_dtype(in[0]->dtype(), [&](auto ta) {
    using A = decltype(ta);
    const A* a = in[0]->data_as<A>();
    A* y = out[0]->mutable_data_as<A>();
    visit_dtype(in[1]->dtype(), [&](auto tb) {
      using B = decltype(tb);
      const B* b = in[1]->data_as<B>();
      for_each_broadcast_k<2>({in[0]->shape(), in[1]->shape()}, ys, [&](int64_t i, const std::array<int64_t, 2>& p) {
        if (!status.ok()) return;
        const int64_t pos = p[0];
        const B bv = b[p[1]];
        if constexpr (kType == OpType::kPow) {
          const double r = std::pow(static_cast<double>(a[pos]), static_cast<double>(bv));
          if constexpr (std::is_floating_point_v<A>) {
            y[i] = static_cast<A>(r);
          } else {  // toward zero, saturated (no undefined conversion)
            const double t = std::isnan(r) ? 0.0 : std::trunc(r);
            y[i] = t <= double(std::numeric_limits<A>::min()) ? std::numeric_limits<A>::min()
                 : t >= double(std::numeric_limits<A>::max()) ? std::numeric_limits<A>::max() : static_cast<A>(t);
          }
        } else if constexpr (std::is_floating_point_v<A>) {
          const A x = a[pos], z = static_cast<A>(bv);  // f32 or f64
          switch (kType) {
            case OpType::kAdd: y[i] = x + z; break;
            case OpType::kSub: y[i] = x - z; break;
            case OpType::kMul: y[i] = x * z; break;
            case OpType::kDiv: y[i] = x / z; break;
            case OpType::kMax: y[i] = std::fmax(x, z); break;
            case OpType::kMin: y[i] = std::fmin(x, z); break;
            case OpType::kPRelu: y[i] = x >= 0 ? x : z * x; break;
            default: break;
          }
        } else if constexpr (std::is_same_v<A, B>) {
          Status s = apply<kType, A>(a[pos], bv, &y[i]);
          if (!s.ok()) status = s;
        }
      });
    });
  });
  return status;
}

template <xnn_binary_operator kOp>
Status lower_binary(XnnLowering& l) {
  return l.check(xnn_define_binary(l.subgraph, kOp, nullptr, l.inputs[0], l.inputs[1], l.outputs[0], 0),
                 "define binary operator");
}

// d(a ∘ b): computed at the broadcast shape, then summed back to each input's shape.
template <OpType kType>
Status backward_binary(Context*, const OpAttrs&, const std::vector<const Tensor*>& in,
                       const std::vector<const Tensor*>& out, const std::vector<const Tensor*>& gout,
                       const std::vector<Tensor*>& gin) {
  const Shape& os = out[0]->shape();
  const int64_t total = os.num_elements();
  std::vector<float> full(static_cast<size_t>(total));
  // Values of a and b broadcast to the output shape (only what the derivative needs).
  auto expand = [&](const Tensor& t, std::vector<float>* dst) {  // any dtype (pow's exponent), as f32
    dst->resize(static_cast<size_t>(total));
    visit_dtype(t.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* v = t.data_as<T>();
      for_each_broadcast(t.shape(), os, [&](int64_t i, int64_t pos) { (*dst)[static_cast<size_t>(i)] = static_cast<float>(v[pos]); });
    });
  };
  std::vector<float> av, bv;
  if (kType != OpType::kAdd && kType != OpType::kSub) {
    expand(*in[0], &av);
    expand(*in[1], &bv);
  }
  for (size_t which = 0; which < 2; ++which) {
    if (!gin[which]) continue;
    if (!gout[0]) {
      std::fill_n(gin[which]->mutable_data(), gin[which]->num_elements(), 0.0f);
      continue;
    }
    const float* dy = gout[0]->data();
    for (int64_t i = 0; i < total; ++i) {
      const size_t k = static_cast<size_t>(i);
      float g = dy[i];
      switch (kType) {
        case OpType::kAdd: break;
        case OpType::kSub: g = which == 0 ? g : -g; break;
        case OpType::kMul: g *= which == 0 ? bv[k] : av[k]; break;
        case OpType::kDiv: g = which == 0 ? g / bv[k] : -g * av[k] / (bv[k] * bv[k]); break;
        case OpType::kMax: g = (which == 0) == (av[k] >= bv[k]) ? g : 0.0f; break;
        case OpType::kMin: g = (which == 0) == (av[k] <= bv[k]) ? g : 0.0f; break;
        case OpType::kPow:
          g = which == 0 ? g * bv[k] * std::pow(av[k], bv[k] - 1.0f)
                         : av[k] > 0 ? g * std::pow(av[k], bv[k]) * std::log(av[k]) : 0.0f;
          break;
        case OpType::kPRelu: g = which == 0 ? (av[k] >= 0 ? g : g * bv[k]) : (av[k] >= 0 ? 0.0f : g * av[k]); break;
        default: return Status::Internal("not a binary op");
      }
      full[k] = g;
    }
    reduce_to_shape(full.data(), os, in[which]->shape(), gin[which]->mutable_data());
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kAddInfo = VITRINE_OP_INFO(Add)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kAdd>)
    .types(&types_binary<OpType::kAdd>)
    .kernel(&run_binary<OpType::kAdd>)
    .lowering(&lower_binary<xnn_binary_add>)
    .gradient(&backward_binary<OpType::kAdd>);
const OpInfo kSubInfo = VITRINE_OP_INFO(Sub)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kSub>)
    .types(&types_binary<OpType::kSub>)
    .kernel(&run_binary<OpType::kSub>)
    .lowering(&lower_binary<xnn_binary_subtract>)
    .gradient(&backward_binary<OpType::kSub>);
const OpInfo kMulInfo = VITRINE_OP_INFO(Mul)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kMul>)
    .types(&types_binary<OpType::kMul>)
    .kernel(&run_binary<OpType::kMul>)
    .lowering(&lower_binary<xnn_binary_multiply>)
    .gradient(&backward_binary<OpType::kMul>);
const OpInfo kDivInfo = VITRINE_OP_INFO(Div)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kDiv>)
    .types(&types_binary<OpType::kDiv>)
    .kernel(&run_binary<OpType::kDiv>)
    .lowering(&lower_binary<xnn_binary_divide>)
    .gradient(&backward_binary<OpType::kDiv>);
const OpInfo kMaxInfo = VITRINE_OP_INFO(Max)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kMax>)
    .types(&types_binary<OpType::kMax>)
    .kernel(&run_binary<OpType::kMax>)
    .lowering(&lower_binary<xnn_binary_maximum>)
    .gradient(&backward_binary<OpType::kMax>);
const OpInfo kMinInfo = VITRINE_OP_INFO(Min)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kMin>)
    .types(&types_binary<OpType::kMin>)
    .kernel(&run_binary<OpType::kMin>)
    .lowering(&lower_binary<xnn_binary_minimum>)
    .gradient(&backward_binary<OpType::kMin>);
const OpInfo kPowInfo = VITRINE_OP_INFO(Pow)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kPow>)
    .types(&types_binary<OpType::kPow>)
    .kernel(&run_binary<OpType::kPow>)
    .lowering(&lower_binary<xnn_binary_pow>)
    .gradient(&backward_binary<OpType::kPow>);
const OpInfo kPReluInfo = VITRINE_OP_INFO(PRelu)
    .inputs(2, 2)
    .infer(&infer_binary<OpType::kPRelu>)
    .kernel(&run_binary<OpType::kPRelu>)
    .lowering(&lower_binary<xnn_binary_prelu>)
    .gradient(&backward_binary<OpType::kPRelu>);

}  // namespace vitrine
