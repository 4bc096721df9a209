// BatchNorm (inference): y = (x - mean) / sqrt(var + epsilon) * scale + bias over the last (channel)
// axis. inputs: x (..., C), scale (C), bias (C), mean (C), var (C) — all but x constants;
// attr epsilon = 1e-5. Importers fold it into the previous conv/dense; a standalone one lowers to
// one multiply and one add with precomputed per-channel constants.
// Backward (frozen statistics, for fine-tuning): gradients for x, scale and bias. While training
// (attr training = 1, set by the trainer) it uses and updates batch statistics (attr momentum = 0.1).
#include <algorithm>
#include <cmath>
#include <vector>

#include "xnn_lowering.h"
#include "op_util.h"

namespace vitrine {
namespace {

Result<std::vector<Shape>> infer_batch_norm(const std::vector<Shape>& in, const OpAttrs& a) {
  VITRINE_RETURN_IF_ERROR(a.check_known("batch_norm", {"epsilon", "momentum", "training", "step"}));
  if (!(a.number("momentum", 0.1) >= 0 && a.number("momentum", 0.1) <= 1)) return op_error("batch_norm", "momentum must be in [0, 1]");
  if (in[0].rank() < 1) return op_error("batch_norm", "input must have rank >= 1");
  const int64_t c = in[0].dim(-1);
  for (size_t i = 1; i < 5; ++i) {
    if (in[i].rank() != 1 || in[i][0] != c) {
      return op_error("batch_norm", "parameter " + std::to_string(i) + " must be (" + std::to_string(c) +
                                        "), got " + in[i].to_string());
    }
  }
  if (!(a.number("epsilon", 1e-5) >= 0)) return op_error("batch_norm", "epsilon must be >= 0");
  return std::vector<Shape>{in[0]};
}

Status lower_batch_norm(XnnLowering& l) {
  for (size_t i = 1; i < 5; ++i)
    if (!l.constants[i]) return op_error(l.node_name, "scale, bias, mean and var must be constants");
  const int64_t c = l.input_shapes[0].dim(-1);
  const float eps = static_cast<float>(l.attrs->number("epsilon", 1e-5));
  Result<Tensor> mul = Tensor::zeros(Shape{c});
  Result<Tensor> add = Tensor::zeros(Shape{c});
  if (!mul.ok()) return mul.status();
  if (!add.ok()) return add.status();
  const float *scale = l.constants[1]->data(), *bias = l.constants[2]->data(), *mean = l.constants[3]->data(),
              *var = l.constants[4]->data();
  float* m = mul->mutable_data();
  float* b = add->mutable_data();
  for (int64_t i = 0; i < c; ++i) {
    m[i] = scale[i] / std::sqrt(var[i] + eps);
    b[i] = bias[i] - mean[i] * m[i];
  }
  Result<uint32_t> mul_id = l.add_static(mul.value());
  Result<uint32_t> add_id = l.add_static(add.value());
  Result<uint32_t> scaled = l.add_internal(l.output_shapes[0]);
  if (!mul_id.ok()) return mul_id.status();
  if (!add_id.ok()) return add_id.status();
  if (!scaled.ok()) return scaled.status();
  VITRINE_RETURN_IF_ERROR(l.check(
      xnn_define_binary(l.subgraph, xnn_binary_multiply, nullptr, l.inputs[0], mul_id.value(), scaled.value(), 0),
      "define multiply"));
  return l.check(
      xnn_define_binary(l.subgraph, xnn_binary_add, nullptr, scaled.value(), add_id.value(), l.outputs[0], 0),
      "define add");
}

// Backward (inference mode: mean and var are constants). With inv = 1 / sqrt(var + epsilon),
// y = (x - mean) · inv · scale + bias, so per channel:
//   dx = dy · scale · inv,  dscale = Σ dy · (x - mean) · inv,  dbias = Σ dy.
// mean and var are normally frozen statistics and not differentiated; where their gradients are
// asked for anyway they are the exact ones: dmean = -Σ dy · scale · inv,
// dvar = -½ Σ dy · (x - mean) · scale · inv³.
// Training mode: normalize with the batch's statistics (over every row, i.e. N·H·W for images) and
// move the running statistics towards them: running = (1 - momentum)·running + momentum·batch, with
// the unbiased batch variance (as PyTorch).
// Per-channel mean and biased variance of x (rows, c), channels last.
void batch_statistics(const float* x, int64_t rows, int64_t c, std::vector<double>* mean, std::vector<double>* var) {
  mean->assign(static_cast<size_t>(c), 0.0);
  var->assign(static_cast<size_t>(c), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < c; ++j) (*mean)[static_cast<size_t>(j)] += x[r * c + j];
  for (double& m : *mean) m /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < c; ++j) {
      const double d = x[r * c + j] - (*mean)[static_cast<size_t>(j)];
      (*var)[static_cast<size_t>(j)] += d * d / static_cast<double>(rows);
    }
}

Status train_forward_batch_norm(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                                const std::vector<Tensor*>& out) {
  const int64_t c = in[0]->shape().dim(-1);
  const int64_t rows = c == 0 ? 0 : in[0]->num_elements() / c;
  if (rows < 2) return op_error("batch_norm", "training needs at least 2 values per channel");
  const float eps = static_cast<float>(a.number("epsilon", 1e-5));
  const double momentum = a.number("momentum", 0.1);
  const float *x = in[0]->data(), *scale = in[1]->data(), *bias = in[2]->data();
  std::vector<double> mean, var;
  batch_statistics(x, rows, c, &mean, &var);
  float* y = out[0]->mutable_data();
  std::vector<float> k(static_cast<size_t>(c)), shift(static_cast<size_t>(c));  // y = x k + shift
  for (int64_t j = 0; j < c; ++j) {
    const size_t ju = static_cast<size_t>(j);
    const double kj = scale[j] / std::sqrt(var[ju] + eps);
    k[ju] = static_cast<float>(kj);
    shift[ju] = static_cast<float>(bias[j] - mean[ju] * kj);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * k[static_cast<size_t>(j)] + shift[static_cast<size_t>(j)];
  }
  Tensor running_mean = *in[3], running_var = *in[4];  // handles sharing the model's statistics
  float* rm = running_mean.mutable_data();
  float* rv = running_var.mutable_data();
  for (int64_t j = 0; j < c; ++j) {
    const size_t ju = static_cast<size_t>(j);
    rm[j] = static_cast<float>((1 - momentum) * rm[j] + momentum * mean[ju]);
    rv[j] = static_cast<float>((1 - momentum) * rv[j] + momentum * var[ju] * static_cast<double>(rows) / static_cast<double>(rows - 1));
  }
  return Status::Ok();
}

// Training-mode backward (batch statistics): with x̂ = (x - μ_B)·σ_B⁻¹ over R rows,
// dx = γ σ_B⁻¹ (dy - mean(dy) - x̂ mean(dy x̂)), dγ = Σ dy x̂, dβ = Σ dy.
Status backward_batch_norm_training(const OpAttrs& a, const std::vector<const Tensor*>& in, const Tensor* g,
                                    const std::vector<Tensor*>& gin) {
  const int64_t c = in[0]->shape().dim(-1);
  const int64_t rows = c == 0 ? 0 : in[0]->num_elements() / c;
  const float eps = static_cast<float>(a.number("epsilon", 1e-5));
  const float *x = in[0]->data(), *scale = in[1]->data();
  std::vector<double> mean, var, sdy(static_cast<size_t>(c), 0.0), sdyx(static_cast<size_t>(c), 0.0);
  batch_statistics(x, rows, c, &mean, &var);
  std::vector<double> inv(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) inv[static_cast<size_t>(j)] = 1.0 / std::sqrt(var[static_cast<size_t>(j)] + eps);
  const float* dy = g ? g->data() : nullptr;
  if (dy) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < c; ++j) {
        const size_t ju = static_cast<size_t>(j);
        sdy[ju] += dy[r * c + j];
        sdyx[ju] += dy[r * c + j] * (x[r * c + j] - mean[ju]) * inv[ju];
      }
  }
  if (gin.size() > 0 && gin[0]) {
    float* dx = gin[0]->mutable_data();
    if (!dy) {
      std::fill(dx, dx + rows * c, 0.0f);
    } else {
      // dx = A dy + B x + C per channel (the formula above, expanded).
      std::vector<float> ca(static_cast<size_t>(c)), cb(static_cast<size_t>(c)), cc(static_cast<size_t>(c));
      const double n = static_cast<double>(rows);
      for (int64_t j = 0; j < c; ++j) {
        const size_t ju = static_cast<size_t>(j);
        const double a_j = scale[j] * inv[ju], b_j = -a_j * inv[ju] * sdyx[ju] / n;
        ca[ju] = static_cast<float>(a_j);
        cb[ju] = static_cast<float>(b_j);
        cc[ju] = static_cast<float>(-a_j * sdy[ju] / n - b_j * mean[ju]);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const float *xr = x + r * c, *dyr = dy + r * c;
        float* dxr = dx + r * c;
        for (int64_t j = 0; j < c; ++j) {
          const size_t ju = static_cast<size_t>(j);
          dxr[j] = ca[ju] * dyr[j] + cb[ju] * xr[j] + cc[ju];
        }
      }
    }
  }
  for (int64_t j = 0; j < c; ++j) {
    const size_t ju = static_cast<size_t>(j);
    if (gin.size() > 1 && gin[1]) gin[1]->mutable_data()[j] = static_cast<float>(sdyx[ju]);
    if (gin.size() > 2 && gin[2]) gin[2]->mutable_data()[j] = static_cast<float>(sdy[ju]);
    if (gin.size() > 3 && gin[3]) gin[3]->mutable_data()[j] = 0.0f;
    if (gin.size() > 4 && gin[4]) gin[4]->mutable_data()[j] = 0.0f;
  }
  return Status::Ok();
}

Status backward_batch_norm(Context*, const OpAttrs& a, const std::vector<const Tensor*>& in,
                           const std::vector<const Tensor*>& /*out*/, const std::vector<const Tensor*>& gout,
                           const std::vector<Tensor*>& gin) {
  if (in.size() != 5) return op_error("batch_norm", "backward expects 5 inputs");
  std::vector<Shape> shapes;
  for (const Tensor* t : in) {
    if (t == nullptr) return op_error("batch_norm", "backward: missing input");
    shapes.push_back(t->shape());
  }
  VITRINE_RETURN_IF_ERROR(infer_batch_norm(shapes, a).status());
  auto grad_in = [&](size_t i) -> Tensor* { return i < gin.size() ? gin[i] : nullptr; };
  for (size_t i = 0; i < in.size(); ++i) {
    if (grad_in(i) && grad_in(i)->shape() != shapes[i]) {
      return op_error("batch_norm", "gradient " + std::to_string(i) + " must be " + shapes[i].to_string() +
                                        ", got " + grad_in(i)->shape().to_string());
    }
  }
  const Tensor* g = gout.empty() ? nullptr : gout[0];
  if (g && g->shape() != shapes[0]) {
    return op_error("batch_norm", "output gradient must be " + shapes[0].to_string() + ", got " +
                                      g->shape().to_string());
  }
  if (a.number("training", 0) != 0) return backward_batch_norm_training(a, in, g, gin);
  const int64_t c = shapes[0].dim(-1);
  const int64_t rows = c == 0 ? 0 : shapes[0].num_elements() / c;
  const float eps = static_cast<float>(a.number("epsilon", 1e-5));
  const float *x = in[0]->data(), *scale = in[1]->data(), *mean = in[3]->data(), *var = in[4]->data();
  const float* dy = g ? g->data() : nullptr;
  float* dx = grad_in(0) ? grad_in(0)->mutable_data() : nullptr;
  std::vector<float> inv(static_cast<size_t>(c)), sum_dy(static_cast<size_t>(c), 0.0f),
      sum_dy_xhat(static_cast<size_t>(c), 0.0f);
  for (int64_t j = 0; j < c; ++j) inv[static_cast<size_t>(j)] = 1.0f / std::sqrt(var[j] + eps);
  if (dy) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * c;
      const float* gr = dy + r * c;
      for (int64_t j = 0; j < c; ++j) {
        const size_t ju = static_cast<size_t>(j);
        sum_dy[ju] += gr[j];
        sum_dy_xhat[ju] += gr[j] * (xr[j] - mean[j]) * inv[ju];
        if (dx) dx[r * c + j] = gr[j] * scale[j] * inv[ju];
      }
    }
  } else if (dx) {
    std::fill_n(dx, shapes[0].num_elements(), 0.0f);
  }
  for (int64_t j = 0; j < c; ++j) {
    const size_t ju = static_cast<size_t>(j);
    if (grad_in(1)) grad_in(1)->mutable_data()[j] = sum_dy_xhat[ju];
    if (grad_in(2)) grad_in(2)->mutable_data()[j] = sum_dy[ju];
    if (grad_in(3)) grad_in(3)->mutable_data()[j] = -sum_dy[ju] * scale[j] * inv[ju];
    if (grad_in(4)) grad_in(4)->mutable_data()[j] = -0.5f * sum_dy_xhat[ju] * scale[j] * inv[ju] * inv[ju];
  }
  return Status::Ok();
}

}  // namespace

const OpInfo kBatchNormInfo = VITRINE_OP_INFO(BatchNorm)
    .inputs(5, 5)
    .infer(&infer_batch_norm)
    .lowering(&lower_batch_norm)
    .gradient(&backward_batch_norm)
    .training_forward(&train_forward_batch_norm)
    .not_differentiable((1u << 3) | (1u << 4));  // the running mean and variance

}  // namespace vitrine
