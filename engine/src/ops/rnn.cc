// Recurrent layers (one family, one file), engine kernels: gru and lstm, batch-first, uni- or
// bidirectional, with optional per-sequence lengths (padding mask). Gate order and formulas follow
// PyTorch, so its weights load unchanged:
//   gru:  r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
//         n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))      (attr linear_before_reset = 1, PyTorch)
//         n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)      (linear_before_reset = 0, ONNX default)
//         h' = (1 - z) ⊙ n + z ⊙ h                           gates [r, z, n]
//   lstm: i, f, o = σ(...), g = tanh(...), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c')  gates [i, f, g, o]
// inputs:  x (N, T, I), w_ih (D·G·H, I), w_hh (D·G·H, H), b_ih (D·G·H), b_hh (D·G·H)
//          [, lengths (N): integers in [0, T]; steps at or past a sequence's length output zeros]
//          [, h_0 (N, D·H) [, lstm: c_0 (N, D·H)]: the initial state (attr initial_state = 1; then
//          lengths is present), zeros otherwise]
//          D = 2 when bidirectional (forward weights first), G = 3 (gru) or 4 (lstm).
// attrs:   hidden_size H (required), bidirectional = 0, reverse = 0 (a single direction that runs from
//          the last step to the first), initial_state = 0
// outputs: y (N, T, D·H) every step's state; h_n (N, D·H) the final state of each direction
//          (the reverse direction ends at step 0); lstm also c_n (N, D·H).
// backward: gradients for x and the four weight / bias inputs (never lengths) from gradients on any
//          of the outputs, by backpropagation through time (see backward_rnn).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#include "fast_math.h"
#include "grad_util.h"
#include "op_util.h"
#include "vitrine/limits.h"

namespace vitrine {
namespace {

template <int kGates>
Result<std::vector<Shape>> infer_rnn(const std::vector<Shape>& in, const OpAttrs& a) {
  const char* op = kGates == 3 ? "gru" : "lstm";
  if (kGates == 3) {
    VITRINE_RETURN_IF_ERROR(a.check_known(op, {"hidden_size", "bidirectional", "reverse", "linear_before_reset", "initial_state"}));
  } else {
    VITRINE_RETURN_IF_ERROR(a.check_known(op, {"hidden_size", "bidirectional", "reverse", "initial_state"}));
  }
  Result<int64_t> init = a.integer("initial_state", 0);
  if (!init.ok()) return init.status();
  if (init.value() != 0 && init.value() != 1) return op_error(op, "initial_state must be 0 or 1");
  const size_t n_state = init.value() ? (kGates == 4 ? 2 : 1) : 0;
  if (n_state && in.size() != 6 + n_state) {
    return op_error(op, "with initial_state, the inputs are x, the four weights, lengths and " +
                            std::string(kGates == 4 ? "h_0, c_0" : "h_0"));
  }
  if (!n_state && in.size() > 6) return op_error(op, "too many inputs (initial states need initial_state = 1)");
  Result<int64_t> rev = a.integer("reverse", 0);
  if (!rev.ok()) return rev.status();
  if (rev.value() != 0 && (rev.value() != 1 || a.integer("bidirectional", 0).value() != 0)) {
    return op_error(op, "reverse must be 0 or 1, and 0 when bidirectional");
  }
  Result<int64_t> h = a.integer("hidden_size", 0);
  Result<int64_t> bi = a.integer("bidirectional", 0);
  if (!h.ok()) return h.status();
  if (!bi.ok()) return bi.status();
  if (h.value() < 1) return op_error(op, "attribute hidden_size (>= 1) is required");
  if (bi.value() != 0 && bi.value() != 1) return op_error(op, "bidirectional must be 0 or 1");
  if (h.value() > default_limits().max_tensor_elements) {
    return Status::ResourceExhausted(std::string(op) + ": hidden_size " + std::to_string(h.value()) +
                                     " exceeds the limit of " + std::to_string(default_limits().max_tensor_elements) +
                                     " (Limits::max_tensor_elements)");
  }
  const int64_t hs = h.value(), dirs = 1 + bi.value(), rows = dirs * kGates * hs;
  const Shape& x = in[0];
  if (x.rank() != 3) return op_error(op, "input must be (N, T, I), got " + x.to_string());
  const std::vector<std::pair<const char*, Shape>> want = {
      {"w_ih", Shape{rows, x[2]}}, {"w_hh", Shape{rows, hs}}, {"b_ih", Shape{rows}}, {"b_hh", Shape{rows}}};
  for (size_t i = 0; i < want.size(); ++i) {
    if (in[i + 1] != want[i].second) {
      return op_error(op, std::string(want[i].first) + " must be " + want[i].second.to_string() + ", got " + in[i + 1].to_string());
    }
  }
  if (in.size() >= 6 && (in[5].rank() != 1 || in[5][0] != x[0])) {
    return op_error(op, "lengths must be (" + std::to_string(x[0]) + "), got " + in[5].to_string());
  }
  for (size_t i = 6; i < in.size(); ++i) {
    if (in[i] != Shape{x[0], dirs * hs}) {
      return op_error(op, std::string(i == 6 ? "h_0" : "c_0") + " must be " + Shape{x[0], dirs * hs}.to_string() +
                              ", got " + in[i].to_string());
    }
  }
  std::vector<Shape> out = {Shape{x[0], x[1], dirs * hs}, Shape{x[0], dirs * hs}};
  if (kGates == 4) out.push_back(Shape{x[0], dirs * hs});
  return out;
}

inline float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// Each sequence's length: input 5 when present (integers in [0, T]), else T.
Status read_lengths(const char* op, const std::vector<const Tensor*>& in, int64_t n, int64_t steps,
                    std::vector<int64_t>* lengths) {
  lengths->assign(static_cast<size_t>(n), steps);
  if (in.size() < 6 || in[5] == nullptr) return Status::Ok();
  for (int64_t b = 0; b < n; ++b) {
    const float v = in[5]->data()[b];
    if (!(v == std::floor(v)) || v < 0 || v > static_cast<float>(steps)) {
      return Status::OutOfRange(std::string(op) + ": lengths[" + std::to_string(b) + "] = " + std::to_string(v) +
                                " is not an integer in [0, " + std::to_string(steps) + "]");
    }
    (*lengths)[static_cast<size_t>(b)] = static_cast<int64_t>(v);
  }
  return Status::Ok();
}

// The state a sequence starts from: h_0 / c_0 at `offset` (inputs 6 and 7) when given, else zeros.
inline void initial_state(const std::vector<const Tensor*>& in, int64_t offset, int64_t hs, std::vector<float>* h,
                          std::vector<float>* c) {
  if (in.size() > 6 && in[6]) std::copy_n(in[6]->data() + offset, hs, h->begin());
  else std::fill(h->begin(), h->end(), 0.0f);
  if (in.size() > 7 && in[7]) std::copy_n(in[7]->data() + offset, hs, c->begin());
  else std::fill(c->begin(), c->end(), 0.0f);
}

// Σ_k a[k] · b[k], eight partial sums (wasm SIMD where available).
inline float dot(const float* a, const float* b, int64_t n) {
  int64_t k = 0;
  float total = 0.0f;
#if defined(__wasm_simd128__)
  v128_t s0 = wasm_f32x4_splat(0.0f), s1 = wasm_f32x4_splat(0.0f);
  for (; k + 8 <= n; k += 8) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + k), wasm_v128_load(b + k)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + k + 4), wasm_v128_load(b + k + 4)));
  }
  const v128_t s = wasm_f32x4_add(s0, s1);
  total = wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
          wasm_f32x4_extract_lane(s, 3);
#else
  float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) p[j] += a[k + j] * b[k + j];
  total = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
#endif
  for (; k < n; ++k) total += a[k] * b[k];
  return total;
}

// y[r] += Σ_k x[k] · w[k · stride + r] for r in [0, n): a vector times a row-major matrix slice,
// 16 outputs at a time kept in registers over the whole k loop (the recurrent product of each step).
inline void vec_mat_accumulate(const float* x, int64_t k_count, const float* w, int64_t stride, float* y, int64_t n) {
  int64_t r0 = 0;
  for (; r0 + 16 <= n; r0 += 16) {
    float acc[16];
    for (int j = 0; j < 16; ++j) acc[j] = y[r0 + j];
    for (int64_t k = 0; k < k_count; ++k) {
      const float v = x[k];
      const float* wr = w + k * stride + r0;
      for (int j = 0; j < 16; ++j) acc[j] += v * wr[j];
    }
    for (int j = 0; j < 16; ++j) y[r0 + j] = acc[j];
  }
  for (; r0 < n; ++r0) {
    float a = y[r0];
    for (int64_t k = 0; k < k_count; ++k) a += x[k] * w[k * stride + r0];
    y[r0] = a;
  }
}

template <int kGates>
Status run_rnn(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const char* op = kGates == 3 ? "gru" : "lstm";
  const int64_t hs = a.integer("hidden_size", 0).value();
  const int64_t dirs = 1 + a.integer("bidirectional", 0).value();
  const bool linear_before_reset = a.integer("linear_before_reset", 1).value() != 0;
  const bool reverse_only = a.integer("reverse", 0).value() != 0;
  const Tensor& x = *in[0];
  const int64_t n = x.shape()[0], steps = x.shape()[1], isz = x.shape()[2], gh = kGates * hs, dgh = dirs * gh;
  auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  std::vector<int64_t> lengths;
  VITRINE_RETURN_IF_ERROR(read_lengths(op, in, n, steps, &lengths));
  float* y = out[0]->mutable_data();
  float* h_n = out[1]->mutable_data();
  float* c_n = kGates == 4 ? out[2]->mutable_data() : nullptr;
  std::memset(y, 0, sz(out[0]->num_elements()) * sizeof(float));
  // The input projections of every step and direction at once (one XNNPACK matmul):
  // xw (N·T, D·G·H) = x (N·T, I) · w_ihᵀ.
  VITRINE_ASSIGN_OR_RETURN(Tensor xw, Tensor::zeros(Shape{n * steps, dgh}));  // limits-checked
  // A few steps in all (streaming one frame at a time): row-by-row dot products, so that nothing
  // is packed or transposed per call; otherwise one XNNPACK matmul and W_hh transposed once.
  const bool few_steps = n * steps <= 4;
  if (few_steps) {
    for (int64_t row = 0; row < n * steps; ++row)
      for (int64_t r = 0; r < dgh; ++r) xw.mutable_data()[row * dgh + r] = dot(in[1]->data() + r * isz, x.data() + row * isz, isz);
  } else if (n * steps > 0) {
    // x and w_ih are tensor storage (padded for XNNPACK's reads): no staging copies.
    VITRINE_RETURN_IF_ERROR(BatchMatmul(ctx, op).run(1, sz(n * steps), sz(isz), sz(dgh), x.data(), in[1]->data(),
                                                     xw.mutable_data(), true));
  }
  // w_hhᵀ (H, G·H): the recurrent product's inner loop then runs over contiguous gates.
  std::vector<float> whh_t(few_steps ? 0 : sz(hs * gh));
  std::vector<float> pre(sz(gh)), ghh(sz(gh)), h(sz(hs)), c(sz(hs)), rh(sz(hs)), tc(sz(hs));
  for (int64_t d = 0; d < dirs; ++d) {
    const float* whh = in[2]->data() + d * gh * hs;
    const float* bih = in[3]->data() + d * gh;
    const float* bhh = in[4]->data() + d * gh;
    for (int64_t r = 0; !few_steps && r < gh; ++r)
      for (int64_t k = 0; k < hs; ++k) whh_t[sz(k * gh + r)] = whh[r * hs + k];
    // acc[r] += Σ_k v[k] · W_hh[row0 + r, k] for r in [0, count)
    auto recurrent = [&](const float* v, int64_t row0, float* acc, int64_t count) {
      if (few_steps) {
        for (int64_t r = 0; r < count; ++r) acc[r] += dot(whh + (row0 + r) * hs, v, hs);
      } else {
        vec_mat_accumulate(v, hs, whh_t.data() + row0, gh, acc, count);
      }
    };
    for (int64_t b = 0; b < n; ++b) {
      initial_state(in, b * dirs * hs + d * hs, hs, &h, &c);
      const int64_t len = lengths[sz(b)];
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = (d == 0 && !reverse_only) ? s : len - 1 - s;
        const float* gi = xw.data() + (b * steps + t) * dgh + d * gh;
        // ghh = b_hh + W_hh h over the gates that read h directly (GRU with linear_before_reset = 0:
        // r and z only; its n gate reads r ⊙ h below).
        const int64_t first = kGates == 3 && !linear_before_reset ? 2 * hs : gh;
        std::memcpy(ghh.data(), bhh, sz(gh) * sizeof(float));
        recurrent(h.data(), 0, ghh.data(), first);
        if (kGates == 3) {
          for (int64_t j = 0; j < 2 * hs; ++j) pre[sz(j)] = gi[j] + bih[j] + ghh[sz(j)];
          sigmoid_inplace(pre.data(), 2 * hs);  // [r, z]
          if (!linear_before_reset) {
            for (int64_t k = 0; k < hs; ++k) rh[sz(k)] = pre[sz(k)] * h[sz(k)];
            recurrent(rh.data(), 2 * hs, ghh.data() + 2 * hs, hs);
          }
          for (int64_t j = 0; j < hs; ++j) {
            const float hn = linear_before_reset ? pre[sz(j)] * ghh[sz(2 * hs + j)] : ghh[sz(2 * hs + j)];
            pre[sz(2 * hs + j)] = gi[2 * hs + j] + bih[2 * hs + j] + hn;
          }
          tanh_inplace(pre.data() + 2 * hs, hs);
          for (int64_t j = 0; j < hs; ++j) {
            const float z = pre[sz(hs + j)];
            h[sz(j)] = (1.0f - z) * pre[sz(2 * hs + j)] + z * h[sz(j)];
          }
        } else {
          for (int64_t j = 0; j < gh; ++j) pre[sz(j)] = gi[j] + bih[j] + ghh[sz(j)];
          sigmoid_inplace(pre.data(), 2 * hs);           // i, f
          tanh_inplace(pre.data() + 2 * hs, hs);         // g
          sigmoid_inplace(pre.data() + 3 * hs, hs);      // o
          for (int64_t j = 0; j < hs; ++j) c[sz(j)] = pre[sz(hs + j)] * c[sz(j)] + pre[sz(j)] * pre[sz(2 * hs + j)];
          std::memcpy(tc.data(), c.data(), sz(hs) * sizeof(float));
          tanh_inplace(tc.data(), hs);
          for (int64_t j = 0; j < hs; ++j) h[sz(j)] = pre[sz(3 * hs + j)] * tc[sz(j)];
        }
        std::memcpy(y + (b * steps + t) * dirs * hs + d * hs, h.data(), sz(hs) * sizeof(float));
      }
      std::memcpy(h_n + b * dirs * hs + d * hs, h.data(), sz(hs) * sizeof(float));
      if (c_n) std::memcpy(c_n + b * dirs * hs + d * hs, c.data(), sz(hs) * sizeof(float));
    }
  }
  return Status::Ok();
}

// Backpropagation through time. The forward saves nothing, so the gate activations are recomputed
// first (the input projections of all steps in one XNNPACK matmul); then each direction runs
// backwards over every sequence, collecting the gradients of the input-side and hidden-side gate
// pre-activations of all steps into (N·T, D·G·H) matrices (zero rows at padded steps). The weight and
// input gradients are then whole-sequence products of those matrices, through XNNPACK:
//   dx = dGi · W_ih,  dW_ih = dGiᵀ · x,  dW_hh[d] = dGh[d]ᵀ · h_prev[d],  db = column sums.
// For gru with linear_before_reset = 0 the n rows of W_hh multiply r ⊙ h_prev instead of h_prev.
template <int kGates>
Status backward_rnn(Context* ctx, const OpAttrs& a, const std::vector<const Tensor*>& in,
                    const std::vector<const Tensor*>& /*out*/, const std::vector<const Tensor*>& gout,
                    const std::vector<Tensor*>& gin) {
  const char* op = kGates == 3 ? "gru" : "lstm";
  if (in.size() < 5 || in.size() > 8) return op_error(op, "backward expects 5 to 8 inputs");
  std::vector<Shape> shapes;
  for (const Tensor* t : in) {
    if (t == nullptr) return op_error(op, "backward: missing input");
    shapes.push_back(t->shape());
  }
  Result<std::vector<Shape>> out_shapes = infer_rnn<kGates>(shapes, a);
  if (!out_shapes.ok()) return out_shapes.status();
  auto grad_in = [&](size_t i) -> Tensor* { return i < gin.size() ? gin[i] : nullptr; };
  for (size_t i = 0; i < in.size(); ++i) {
    if (grad_in(i) && grad_in(i)->shape() != in[i]->shape()) {
      return op_error(op, "gradient " + std::to_string(i) + " must be " + in[i]->shape().to_string() + ", got " +
                              grad_in(i)->shape().to_string());
    }
  }
  auto grad_out = [&](size_t i) -> const float* {
    if (i >= gout.size() || gout[i] == nullptr) return nullptr;
    return gout[i]->data();
  };
  for (size_t i = 0; i < out_shapes->size(); ++i) {
    if (grad_out(i) && gout[i]->shape() != out_shapes.value()[i]) {
      return op_error(op, "output gradient " + std::to_string(i) + " must be " + out_shapes.value()[i].to_string() +
                              ", got " + gout[i]->shape().to_string());
    }
  }
  // Lengths are integers: their gradient is zero wherever it is asked for.
  if (grad_in(5)) std::fill_n(grad_in(5)->mutable_data(), grad_in(5)->num_elements(), 0.0f);
  Tensor* dx_t = grad_in(0);
  Tensor* dwih_t = grad_in(1);
  Tensor* dwhh_t = grad_in(2);
  Tensor* dbih_t = grad_in(3);
  Tensor* dbhh_t = grad_in(4);
  Tensor* dh0_t = grad_in(6);
  Tensor* dc0_t = kGates == 4 ? grad_in(7) : nullptr;
  if (!dx_t && !dwih_t && !dwhh_t && !dbih_t && !dbhh_t && !dh0_t && !dc0_t) return Status::Ok();

  const int64_t hs = a.integer("hidden_size", 0).value();
  const int64_t dirs = 1 + a.integer("bidirectional", 0).value();
  const bool lbr = kGates == 3 && a.integer("linear_before_reset", 1).value() != 0;
  const bool reverse_only = a.integer("reverse", 0).value() != 0;
  const Tensor& x = *in[0];
  const int64_t n = x.shape()[0], steps = x.shape()[1], isz = x.shape()[2], gh = kGates * hs, dgh = dirs * gh;
  const int64_t nt = n * steps;
  std::vector<int64_t> lengths;
  VITRINE_RETURN_IF_ERROR(read_lengths(op, in, n, steps, &lengths));
  const float* dy = grad_out(0);
  const float* dhn = grad_out(1);
  const float* dcn = kGates == 4 ? grad_out(2) : nullptr;
  auto sz = [](int64_t v) { return static_cast<size_t>(v); };

  // 1. Input projections of every step, all directions: xw (N·T, D·G·H) = x · W_ihᵀ (biases added below).
  std::vector<float> xw(sz(nt * dgh));
  VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, 1, sz(nt), sz(isz), sz(dgh), x.data(), in[1]->data(), xw.data(), true));

  // 2. Recompute the forward pass, keeping per (direction, row = b·T + t): the gate activations, the
  //    state entering the step, and gru: the hidden n term (W_hn h + b_hn, before reset) or r ⊙ h
  //    (after reset); lstm: the cell state entering and leaving the step.
  std::vector<float> act(sz(dirs * nt * gh), 0.0f), hprev(sz(dirs * nt * hs), 0.0f), aux(sz(dirs * nt * hs), 0.0f);
  std::vector<float> cnew(kGates == 4 ? sz(dirs * nt * hs) : 0, 0.0f);
  std::vector<float> h(sz(hs)), c(sz(hs)), pre(sz(gh)), hid(sz(gh)), rh(sz(hs));
  auto time_of = [&](int64_t d, int64_t len, int64_t s) { return (d == 0 && !reverse_only) ? s : len - 1 - s; };
  for (int64_t d = 0; d < dirs; ++d) {
    const float* whh = in[2]->data() + d * gh * hs;
    const float* bih = in[3]->data() + d * gh;
    const float* bhh = in[4]->data() + d * gh;
    for (int64_t b = 0; b < n; ++b) {
      initial_state(in, b * dirs * hs + d * hs, hs, &h, &c);
      const int64_t len = lengths[sz(b)];
      for (int64_t s = 0; s < len; ++s) {
        const int64_t row = b * steps + time_of(d, len, s);
        const int64_t idx = d * nt + row;
        float* g = act.data() + idx * gh;
        float* hp = hprev.data() + idx * hs;
        float* ax = aux.data() + idx * hs;
        std::copy(h.begin(), h.end(), hp);
        const float* xr = xw.data() + row * dgh + d * gh;
        for (int64_t r = 0; r < gh; ++r) pre[sz(r)] = xr[r] + bih[r];
        // Hidden projections of h (gru after reset: r and z rows only; the n rows follow below).
        const int64_t first = (kGates == 3 && !lbr) ? 2 * hs : gh;
        for (int64_t r = 0; r < first; ++r) {
          float acc = bhh[r];
          const float* w = whh + r * hs;
          for (int64_t k = 0; k < hs; ++k) acc += w[k] * h[sz(k)];
          hid[sz(r)] = acc;
        }
        if (kGates == 3) {
          for (int64_t j = 0; j < hs; ++j) {
            g[j] = sigmoid(pre[sz(j)] + hid[sz(j)]);
            g[hs + j] = sigmoid(pre[sz(hs + j)] + hid[sz(hs + j)]);
          }
          if (!lbr) {
            for (int64_t k = 0; k < hs; ++k) rh[sz(k)] = g[k] * h[sz(k)];
            for (int64_t j = 0; j < hs; ++j) {
              float acc = bhh[2 * hs + j];
              const float* w = whh + (2 * hs + j) * hs;
              for (int64_t k = 0; k < hs; ++k) acc += w[k] * rh[sz(k)];
              hid[sz(2 * hs + j)] = acc;
            }
            std::copy(rh.begin(), rh.end(), ax);
          } else {
            std::copy(hid.begin() + 2 * hs, hid.begin() + 3 * hs, ax);
          }
          for (int64_t j = 0; j < hs; ++j) {
            const float hn = lbr ? g[j] * hid[sz(2 * hs + j)] : hid[sz(2 * hs + j)];
            const float nv = std::tanh(pre[sz(2 * hs + j)] + hn);
            g[2 * hs + j] = nv;
            h[sz(j)] = (1.0f - g[hs + j]) * nv + g[hs + j] * h[sz(j)];
          }
        } else {
          std::copy(c.begin(), c.end(), ax);
          for (int64_t j = 0; j < hs; ++j) {
            g[j] = sigmoid(pre[sz(j)] + hid[sz(j)]);
            g[hs + j] = sigmoid(pre[sz(hs + j)] + hid[sz(hs + j)]);
            g[2 * hs + j] = std::tanh(pre[sz(2 * hs + j)] + hid[sz(2 * hs + j)]);
            g[3 * hs + j] = sigmoid(pre[sz(3 * hs + j)] + hid[sz(3 * hs + j)]);
            c[sz(j)] = g[hs + j] * c[sz(j)] + g[j] * g[2 * hs + j];
            h[sz(j)] = g[3 * hs + j] * std::tanh(c[sz(j)]);
          }
          std::copy(c.begin(), c.end(), cnew.data() + idx * hs);
        }
      }
    }
  }

  // 3. Backwards through time: gradients of the input-side (dgi) and hidden-side (dgh) gate
  //    pre-activations, row b·T + t, columns d·G·H + gate·H + j.
  std::vector<float> dgi(sz(nt * dgh), 0.0f), dghm(sz(nt * dgh), 0.0f);
  std::vector<float> dh(sz(hs)), dc(sz(hs)), dh_prev(sz(hs)), da(sz(gh)), drh(sz(hs));
  for (int64_t d = 0; d < dirs; ++d) {
    const float* whh = in[2]->data() + d * gh * hs;
    for (int64_t b = 0; b < n; ++b) {
      const int64_t state = b * dirs * hs + d * hs;
      for (int64_t j = 0; j < hs; ++j) {
        dh[sz(j)] = dhn ? dhn[state + j] : 0.0f;
        dc[sz(j)] = dcn ? dcn[state + j] : 0.0f;
      }
      const int64_t len = lengths[sz(b)];
      for (int64_t s = len - 1; s >= 0; --s) {
        const int64_t row = b * steps + time_of(d, len, s);
        const int64_t idx = d * nt + row;
        const float* g = act.data() + idx * gh;
        const float* hp = hprev.data() + idx * hs;
        const float* ax = aux.data() + idx * hs;
        float* gi_row = dgi.data() + row * dgh + d * gh;
        float* gh_row = dghm.data() + row * dgh + d * gh;
        if (dy) {
          const float* dyr = dy + row * dirs * hs + d * hs;
          for (int64_t j = 0; j < hs; ++j) dh[sz(j)] += dyr[j];
        }
        if (kGates == 3) {
          for (int64_t j = 0; j < hs; ++j) {
            const float r = g[j], z = g[hs + j], nv = g[2 * hs + j];
            const float dan = dh[sz(j)] * (1.0f - z) * (1.0f - nv * nv);
            const float dz = dh[sz(j)] * (hp[j] - nv);
            gi_row[2 * hs + j] = dan;
            gh_row[2 * hs + j] = lbr ? dan * r : dan;
            gi_row[hs + j] = gh_row[hs + j] = dz * z * (1.0f - z);
            dh_prev[sz(j)] = dh[sz(j)] * z;
          }
          if (!lbr) {  // d(r ⊙ h) = W_hnᵀ dan
            std::fill(drh.begin(), drh.end(), 0.0f);
            for (int64_t j = 0; j < hs; ++j) {
              const float v = gh_row[2 * hs + j];
              const float* w = whh + (2 * hs + j) * hs;
              for (int64_t k = 0; k < hs; ++k) drh[sz(k)] += w[k] * v;
            }
          }
          for (int64_t j = 0; j < hs; ++j) {
            const float r = g[j];
            const float dr = lbr ? gi_row[2 * hs + j] * ax[j] : drh[sz(j)] * hp[j];
            gi_row[j] = gh_row[j] = dr * r * (1.0f - r);
            if (!lbr) dh_prev[sz(j)] += drh[sz(j)] * r;
          }
          // dh_prev += W_hᵀ dgh over the rows that multiply h itself.
          const int64_t rows = lbr ? gh : 2 * hs;
          for (int64_t rr = 0; rr < rows; ++rr) {
            const float v = gh_row[rr];
            const float* w = whh + rr * hs;
            for (int64_t k = 0; k < hs; ++k) dh_prev[sz(k)] += w[k] * v;
          }
        } else {
          const float* cn = cnew.data() + idx * hs;
          for (int64_t j = 0; j < hs; ++j) {
            const float ig = g[j], fg = g[hs + j], gg = g[2 * hs + j], og = g[3 * hs + j];
            const float tc = std::tanh(cn[j]);
            const float dct = dc[sz(j)] + dh[sz(j)] * og * (1.0f - tc * tc);
            da[sz(j)] = dct * gg * ig * (1.0f - ig);
            da[sz(hs + j)] = dct * ax[j] * fg * (1.0f - fg);
            da[sz(2 * hs + j)] = dct * ig * (1.0f - gg * gg);
            da[sz(3 * hs + j)] = dh[sz(j)] * tc * og * (1.0f - og);
            dc[sz(j)] = dct * fg;
          }
          std::copy(da.begin(), da.end(), gi_row);
          std::copy(da.begin(), da.end(), gh_row);
          std::fill(dh_prev.begin(), dh_prev.end(), 0.0f);
          for (int64_t rr = 0; rr < gh; ++rr) {
            const float v = da[sz(rr)];
            const float* w = whh + rr * hs;
            for (int64_t k = 0; k < hs; ++k) dh_prev[sz(k)] += w[k] * v;
          }
        }
        std::swap(dh, dh_prev);
      }
      // What reaches the start of the sequence is the initial state's gradient.
      if (dh0_t) std::copy(dh.begin(), dh.end(), dh0_t->mutable_data() + state);
      if (dc0_t) std::copy(dc.begin(), dc.end(), dc0_t->mutable_data() + state);
    }
  }

  // 4. Whole-sequence products (XNNPACK) and bias sums.
  if (dx_t) {  // dx (N·T, I) = dgi (N·T, D·G·H) · W_ih (D·G·H, I)
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, 1, sz(nt), sz(dgh), sz(isz), dgi.data(), in[1]->data(),
                                         dx_t->mutable_data(), false));
  }
  std::vector<float> t(sz(dgh * nt));
  if (dwih_t) {  // dW_ih (D·G·H, I) = dgiᵀ (D·G·H, N·T) · x (N·T, I)
    transpose_batch(1, sz(nt), sz(dgh), dgi.data(), t.data());
    VITRINE_RETURN_IF_ERROR(
        batch_matmul(ctx, 1, sz(dgh), sz(nt), sz(isz), t.data(), x.data(), dwih_t->mutable_data(), false));
  }
  if (dwhh_t) {  // per direction: dW_hh[d] (G·H, H) = dgh[d]ᵀ (G·H, N·T) · h_prev[d] (N·T, H)
    transpose_batch(1, sz(nt), sz(dgh), dghm.data(), t.data());
    float* dw = dwhh_t->mutable_data();
    VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, sz(dirs), sz(gh), sz(nt), sz(hs), t.data(), hprev.data(), dw, false));
    if (kGates == 3 && !lbr) {  // the n rows multiply r ⊙ h_prev
      for (int64_t d = 0; d < dirs; ++d) {
        VITRINE_RETURN_IF_ERROR(batch_matmul(ctx, 1, sz(hs), sz(nt), sz(hs), t.data() + (d * gh + 2 * hs) * nt,
                                             aux.data() + d * nt * hs, dw + (d * gh + 2 * hs) * hs, false));
      }
    }
  }
  auto column_sums = [&](const std::vector<float>& m, Tensor* dst) {
    float* o = dst->mutable_data();
    std::fill_n(o, dgh, 0.0f);
    for (int64_t r = 0; r < nt; ++r)
      for (int64_t col = 0; col < dgh; ++col) o[col] += m[sz(r * dgh + col)];
  };
  if (dbih_t) column_sums(dgi, dbih_t);
  if (dbhh_t) column_sums(dghm, dbhh_t);
  return Status::Ok();
}

}  // namespace

const OpInfo kGruInfo = VITRINE_OP_INFO(Gru)
    .inputs(5, 7)
    .infer(&infer_rnn<3>)
    .kernel(&run_rnn<3>)
    .gradient(&backward_rnn<3>)
    .not_differentiable(1u << 5);  // lengths
const OpInfo kLstmInfo = VITRINE_OP_INFO(Lstm)
    .inputs(5, 8)
    .infer(&infer_rnn<4>)
    .kernel(&run_rnn<4>)
    .gradient(&backward_rnn<4>)
    .not_differentiable(1u << 5);  // lengths

}  // namespace vitrine
