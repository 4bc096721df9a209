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
//          D = 2 when bidirectional (forward weights first), G = 3 (gru) or 4 (lstm).
// attrs:   hidden_size H (required), bidirectional = 0, reverse = 0 (a single direction that runs from
//          the last step to the first)
// outputs: y (N, T, D·H) every step's state; h_n (N, D·H) the final state of each direction
//          (the reverse direction ends at step 0); lstm also c_n (N, D·H).
#include <cmath>
#include <cstring>
#include <vector>

#include "op_util.h"

namespace vitrine {
namespace {

template <int kGates>
Result<std::vector<Shape>> infer_rnn(const std::vector<Shape>& in, const OpAttrs& a) {
  const char* op = kGates == 3 ? "gru" : "lstm";
  if (kGates == 3) {
    VITRINE_RETURN_IF_ERROR(a.check_known(op, {"hidden_size", "bidirectional", "reverse", "linear_before_reset"}));
  } else {
    VITRINE_RETURN_IF_ERROR(a.check_known(op, {"hidden_size", "bidirectional", "reverse"}));
  }
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
  if (in.size() == 6 && (in[5].rank() != 1 || in[5][0] != x[0])) {
    return op_error(op, "lengths must be (" + std::to_string(x[0]) + "), got " + in[5].to_string());
  }
  std::vector<Shape> out = {Shape{x[0], x[1], dirs * hs}, Shape{x[0], dirs * hs}};
  if (kGates == 4) out.push_back(Shape{x[0], dirs * hs});
  return out;
}

inline float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

template <int kGates>
Status run_rnn(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
  const char* op = kGates == 3 ? "gru" : "lstm";
  const int64_t hs = a.integer("hidden_size", 0).value();
  const int64_t dirs = 1 + a.integer("bidirectional", 0).value();
  const bool linear_before_reset = a.integer("linear_before_reset", 1).value() != 0;
  const bool reverse_only = a.integer("reverse", 0).value() != 0;
  const Tensor& x = *in[0];
  const int64_t n = x.shape()[0], steps = x.shape()[1], isz = x.shape()[2], gh = kGates * hs;
  std::vector<int64_t> lengths(static_cast<size_t>(n), steps);
  if (in.size() == 6) {
    for (int64_t b = 0; b < n; ++b) {
      const float v = in[5]->data()[b];
      if (!(v == std::floor(v)) || v < 0 || v > static_cast<float>(steps)) {
        return Status::OutOfRange(std::string(op) + ": lengths[" + std::to_string(b) + "] = " + std::to_string(v) +
                                  " is not an integer in [0, " + std::to_string(steps) + "]");
      }
      lengths[static_cast<size_t>(b)] = static_cast<int64_t>(v);
    }
  }
  float* y = out[0]->mutable_data();
  float* h_n = out[1]->mutable_data();
  float* c_n = kGates == 4 ? out[2]->mutable_data() : nullptr;
  std::memset(y, 0, static_cast<size_t>(out[0]->num_elements()) * sizeof(float));
  // Transposed weights, (I, G·H) and (H, G·H): the inner loops then run over contiguous gates.
  std::vector<float> wih_t(static_cast<size_t>(isz * gh)), whh_t(static_cast<size_t>(hs * gh));
  std::vector<float> gi(static_cast<size_t>(gh)), ghh(static_cast<size_t>(gh)), h(static_cast<size_t>(hs)),
      c(static_cast<size_t>(hs)), rh(static_cast<size_t>(hs));
  for (int64_t d = 0; d < dirs; ++d) {
    const float* wih = in[1]->data() + d * gh * isz;
    const float* whh = in[2]->data() + d * gh * hs;
    const float* bih = in[3]->data() + d * gh;
    const float* bhh = in[4]->data() + d * gh;
    for (int64_t r = 0; r < gh; ++r) {
      for (int64_t k = 0; k < isz; ++k) wih_t[static_cast<size_t>(k * gh + r)] = wih[r * isz + k];
      for (int64_t k = 0; k < hs; ++k) whh_t[static_cast<size_t>(k * gh + r)] = whh[r * hs + k];
    }
    for (int64_t b = 0; b < n; ++b) {
      std::fill(h.begin(), h.end(), 0.0f);
      std::fill(c.begin(), c.end(), 0.0f);
      const int64_t len = lengths[static_cast<size_t>(b)];
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = (d == 0 && !reverse_only) ? s : len - 1 - s;
        const float* xt = x.data() + (b * steps + t) * isz;
        std::memcpy(gi.data(), bih, static_cast<size_t>(gh) * sizeof(float));
        std::memcpy(ghh.data(), bhh, static_cast<size_t>(gh) * sizeof(float));
        for (int64_t k = 0; k < isz; ++k) {
          const float v = xt[k];
          const float* w = wih_t.data() + k * gh;
          for (int64_t r = 0; r < gh; ++r) gi[static_cast<size_t>(r)] += v * w[r];
        }
        if (kGates == 3) {
          // r and z use W_h h; n uses W_hn h (linear before reset) or W_hn (r ⊙ h).
          const int64_t first = linear_before_reset ? gh : 2 * hs;
          for (int64_t k = 0; k < hs; ++k) {
            const float v = h[static_cast<size_t>(k)];
            const float* w = whh_t.data() + k * gh;
            for (int64_t r = 0; r < first; ++r) ghh[static_cast<size_t>(r)] += v * w[r];
          }
          for (int64_t j = 0; j < hs; ++j) {
            const float rg = sigmoid(gi[static_cast<size_t>(j)] + ghh[static_cast<size_t>(j)]);
            rh[static_cast<size_t>(j)] = rg;
          }
          if (!linear_before_reset) {
            for (int64_t k = 0; k < hs; ++k) {
              const float v = rh[static_cast<size_t>(k)] * h[static_cast<size_t>(k)];
              const float* w = whh_t.data() + k * gh + 2 * hs;
              for (int64_t j = 0; j < hs; ++j) ghh[static_cast<size_t>(2 * hs + j)] += v * w[j];
            }
          }
          for (int64_t j = 0; j < hs; ++j) {
            const size_t jj = static_cast<size_t>(j);
            const float z = sigmoid(gi[static_cast<size_t>(hs + j)] + ghh[static_cast<size_t>(hs + j)]);
            const float hn = linear_before_reset ? rh[jj] * ghh[static_cast<size_t>(2 * hs + j)] : ghh[static_cast<size_t>(2 * hs + j)];
            const float cand = std::tanh(gi[static_cast<size_t>(2 * hs + j)] + hn);
            h[jj] = (1.0f - z) * cand + z * h[jj];
          }
        } else {
          for (int64_t k = 0; k < hs; ++k) {
            const float v = h[static_cast<size_t>(k)];
            const float* w = whh_t.data() + k * gh;
            for (int64_t r = 0; r < gh; ++r) ghh[static_cast<size_t>(r)] += v * w[r];
          }
          for (int64_t j = 0; j < hs; ++j) {
            const size_t jj = static_cast<size_t>(j);
            const float ig = sigmoid(gi[jj] + ghh[jj]);
            const float fg = sigmoid(gi[static_cast<size_t>(hs + j)] + ghh[static_cast<size_t>(hs + j)]);
            const float gg = std::tanh(gi[static_cast<size_t>(2 * hs + j)] + ghh[static_cast<size_t>(2 * hs + j)]);
            const float og = sigmoid(gi[static_cast<size_t>(3 * hs + j)] + ghh[static_cast<size_t>(3 * hs + j)]);
            c[jj] = fg * c[jj] + ig * gg;
            h[jj] = og * std::tanh(c[jj]);
          }
        }
        std::memcpy(y + (b * steps + t) * dirs * hs + d * hs, h.data(), static_cast<size_t>(hs) * sizeof(float));
      }
      std::memcpy(h_n + b * dirs * hs + d * hs, h.data(), static_cast<size_t>(hs) * sizeof(float));
      if (c_n) std::memcpy(c_n + b * dirs * hs + d * hs, c.data(), static_cast<size_t>(hs) * sizeof(float));
    }
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kGruInfo{OpType::kGru, 31, "gru", 5, 6, &infer_rnn<3>, nullptr, nullptr, &run_rnn<3>};
const OpInfo kLstmInfo{OpType::kLstm, 32, "lstm", 5, 6, &infer_rnn<4>, nullptr, nullptr, &run_rnn<4>};

}  // namespace vitrine
