// Losses: mean over the batch, with gradients with respect to the prediction.
#include <cmath>
#include <string>
#include <vector>

#include "vitrine/train.h"

namespace vitrine {
namespace {

Status same_shape(const char* loss, const Tensor& p, const Tensor& t) {
  if (p.shape() != t.shape()) {
    return Status::InvalidArgument(std::string(loss) + ": target shape " + t.shape().to_string() +
                                   " differs from prediction shape " + p.shape().to_string());
  }
  return Status::Ok();
}

Status check_finite(const char* loss, const Tensor& t, const char* what) {
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (!std::isfinite(t.data()[i])) {
      return Status::InvalidArgument(std::string(loss) + ": " + what + " holds a non-finite value at index " + std::to_string(i));
    }
  }
  return Status::Ok();
}

// log Σ exp(row) with the max subtracted.
double log_sum_exp(const float* row, int64_t n, float* max_out) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, row[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(row[i] - mx));
  *max_out = mx;
  return mx + std::log(s);
}

}  // namespace

Result<LossType> parse_loss(const std::string& name) {
  if (name == "softmax_cross_entropy") return LossType::kSoftmaxCrossEntropy;
  if (name == "binary_cross_entropy") return LossType::kBinaryCrossEntropy;
  if (name == "mse") return LossType::kMeanSquaredError;
  if (name == "bpr") return LossType::kBpr;
  if (name == "multinomial") return LossType::kMultinomial;
  if (name == "sampled_softmax") return LossType::kSampledSoftmax;
  return Status::NotFound("unknown loss '" + name +
                          "' (softmax_cross_entropy, binary_cross_entropy, mse, bpr, multinomial, sampled_softmax)");
}

Result<double> compute_loss(const LossOptions& o, const Tensor& p, const Tensor& t, Tensor* grad) {
  if (p.empty()) return Status::InvalidArgument("loss: empty prediction");
  if (grad && grad->shape() != p.shape()) return Status::InvalidArgument("loss: gradient must have the prediction's shape");
  VITRINE_RETURN_IF_ERROR(check_finite("loss", p, "the prediction"));
  float* g = grad ? grad->mutable_data() : nullptr;
  const float* x = p.data();
  double total = 0;
  switch (o.type) {
    case LossType::kSoftmaxCrossEntropy: {
      if (p.shape().rank() != 2) return Status::InvalidArgument("softmax_cross_entropy: logits must be (N, C), got " + p.shape().to_string());
      const int64_t n = p.shape()[0], c = p.shape()[1];
      const bool ids = t.shape() == Shape{n};
      if (!ids) VITRINE_RETURN_IF_ERROR(same_shape("softmax_cross_entropy", p, t));
      if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) return Status::InvalidArgument("label_smoothing must be in [0, 1)");
      const double eps = o.label_smoothing;
      for (int64_t r = 0; r < n; ++r) {
        const float* row = x + r * c;
        float mx;
        const double lse = log_sum_exp(row, c, &mx);
        int64_t label = -1;
        if (ids) {
          const float v = t.data()[r];
          if (!(v == std::floor(v)) || v < 0 || v >= static_cast<float>(c)) {
            return Status::OutOfRange("softmax_cross_entropy: target " + std::to_string(v) + " of row " + std::to_string(r) +
                                      " is not a class id in [0, " + std::to_string(c) + ")");
          }
          label = static_cast<int64_t>(v);
        }
        for (int64_t k = 0; k < c; ++k) {
          double target = ids ? (k == label ? 1.0 : 0.0) : t.data()[r * c + k];
          target = (1 - eps) * target + eps / static_cast<double>(c);
          total -= target * (row[k] - lse);
          if (g) g[r * c + k] = static_cast<float>((std::exp(row[k] - lse) - target) / static_cast<double>(n));
        }
      }
      return total / static_cast<double>(n);
    }
    case LossType::kBinaryCrossEntropy: {
      VITRINE_RETURN_IF_ERROR(same_shape("binary_cross_entropy", p, t));
      const int64_t count = p.num_elements();
      for (int64_t i = 0; i < count; ++i) {
        const double v = x[i], y = t.data()[i];
        if (!(y >= 0 && y <= 1)) return Status::OutOfRange("binary_cross_entropy: target at index " + std::to_string(i) + " is outside [0, 1]");
        total += std::max(v, 0.0) - v * y + std::log1p(std::exp(-std::fabs(v)));
        if (g) g[i] = static_cast<float>((1.0 / (1.0 + std::exp(-v)) - y) / static_cast<double>(count));
      }
      return total / static_cast<double>(count);
    }
    case LossType::kMeanSquaredError: {
      VITRINE_RETURN_IF_ERROR(same_shape("mse", p, t));
      VITRINE_RETURN_IF_ERROR(check_finite("mse", t, "the target"));
      const int64_t count = p.num_elements();
      for (int64_t i = 0; i < count; ++i) {
        const double d = double(x[i]) - t.data()[i];
        total += d * d;
        if (g) g[i] = static_cast<float>(2.0 * d / static_cast<double>(count));
      }
      return total / static_cast<double>(count);
    }
    case LossType::kBpr: {
      if (p.shape().rank() != 2 || p.shape()[1] != 2) return Status::InvalidArgument("bpr: scores must be (N, 2) [positive, negative], got " + p.shape().to_string());
      const int64_t n = p.shape()[0];
      for (int64_t r = 0; r < n; ++r) {
        const double d = double(x[2 * r]) - x[2 * r + 1];
        total += std::max(-d, 0.0) + std::log1p(std::exp(-std::fabs(d)));  // -log σ(d)
        const double s = 1.0 / (1.0 + std::exp(d));                        // σ(-d)
        if (g) {
          g[2 * r] = static_cast<float>(-s / static_cast<double>(n));
          g[2 * r + 1] = static_cast<float>(s / static_cast<double>(n));
        }
      }
      return total / static_cast<double>(n);
    }
    case LossType::kSampledSoftmax: {
      if (p.shape().rank() != 2 || p.shape()[1] < 2) {
        return Status::InvalidArgument("sampled_softmax: logits must be (N, 1 + S) with S >= 1, got " + p.shape().to_string());
      }
      const bool correct = !t.empty();
      if (correct) {
        VITRINE_RETURN_IF_ERROR(same_shape("sampled_softmax", p, t));
        VITRINE_RETURN_IF_ERROR(check_finite("sampled_softmax", t, "the log sampling probabilities"));
      }
      const int64_t n = p.shape()[0], c = p.shape()[1];
      std::vector<float> row(static_cast<size_t>(c));
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t k = 0; k < c; ++k) row[static_cast<size_t>(k)] = x[r * c + k] - (correct ? t.data()[r * c + k] : 0.0f);
        float mx;
        const double lse = log_sum_exp(row.data(), c, &mx);
        total += lse - row[0];
        if (g) {
          for (int64_t k = 0; k < c; ++k) {
            g[r * c + k] = static_cast<float>((std::exp(row[static_cast<size_t>(k)] - lse) - (k == 0 ? 1.0 : 0.0)) / static_cast<double>(n));
          }
        }
      }
      return total / static_cast<double>(n);
    }
    case LossType::kMultinomial: {
      VITRINE_RETURN_IF_ERROR(same_shape("multinomial", p, t));
      VITRINE_RETURN_IF_ERROR(check_finite("multinomial", t, "the target"));
      if (p.shape().rank() != 2) return Status::InvalidArgument("multinomial: logits must be (N, I)");
      const int64_t n = p.shape()[0], c = p.shape()[1];
      for (int64_t r = 0; r < n; ++r) {
        const float* row = x + r * c;
        float mx;
        const double lse = log_sum_exp(row, c, &mx);
        double mass = 0;
        for (int64_t k = 0; k < c; ++k) mass += t.data()[r * c + k];
        for (int64_t k = 0; k < c; ++k) {
          const double y = t.data()[r * c + k];
          total -= y * (row[k] - lse);
          if (g) g[r * c + k] = static_cast<float>((std::exp(row[k] - lse) * mass - y) / static_cast<double>(n));
        }
      }
      return total / static_cast<double>(n);
    }
  }
  return Status::Internal("unknown loss type");
}

Result<double> kl_normal(const Tensor& mu, const Tensor& logvar, Tensor* grad_mu, Tensor* grad_logvar) {
  if (mu.shape() != logvar.shape() || mu.shape().rank() < 1) return Status::InvalidArgument("kl_normal: mu and logvar must share a shape");
  const int64_t n = mu.shape()[0], count = mu.num_elements();
  double total = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double m = mu.data()[i], lv = logvar.data()[i];
    total += 0.5 * (std::exp(lv) + m * m - 1.0 - lv);
    if (grad_mu) grad_mu->mutable_data()[i] = static_cast<float>(m / static_cast<double>(n));
    if (grad_logvar) grad_logvar->mutable_data()[i] = static_cast<float>(0.5 * (std::exp(lv) - 1.0) / static_cast<double>(n));
  }
  return total / static_cast<double>(n);
}

double scheduled_learning_rate(const OptimizerOptions& o, int64_t step) {
  double lr = o.learning_rate;
  if (o.warmup_steps > 0 && step < o.warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const int64_t s = step - o.warmup_steps;
  if (o.schedule == "cosine" && o.total_steps > o.warmup_steps) {
    const double progress = std::min(1.0, static_cast<double>(s) / static_cast<double>(o.total_steps - o.warmup_steps));
    lr *= 0.5 * (1.0 + std::cos(M_PI * progress));
  } else if (o.schedule == "step" && o.step_size > 0) {
    lr *= std::pow(o.gamma, static_cast<double>(s / o.step_size));
  }
  return lr;
}

}  // namespace vitrine
