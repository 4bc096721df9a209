// Finite-difference gradient checks for any op with a backward kernel: one GradCase describes the
// op, its attributes and its inputs; check_gradients() compares OpInfo::backward with central
// differences of L = Σ_k Σ outputs_k ⊙ R_k (R_k random) for every differentiable input.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vitrine/graph.h"

namespace vitrine::testing {

enum class InputRole {
  kActivation,  // a graph input; differentiable
  kParameter,   // a graph constant (weights); differentiable
  kIds,         // a graph input holding integers (ids, lengths); not differentiable
  kFixed,       // a graph constant that is not differentiated (e.g. running statistics)
};

struct GradInput {
  Shape shape;
  InputRole role = InputRole::kActivation;
  // Fills the tensor (default: uniform in [-1, 1], kept away from 0 by `min_abs`).
  std::function<void(Tensor&, std::mt19937&)> fill;
  float min_abs = 0.0f;
};

struct GradCase {
  std::string label;
  OpType op;
  OpAttrs attrs;
  std::vector<GradInput> inputs;
  float eps = 1e-3f;
  double atol = 2e-3, rtol = 5e-3;
};

inline Result<std::vector<Tensor>> forward_once(const GradCase& c, const std::vector<Tensor>& values, Context* ctx) {
  const OpInfo& info = op_info(c.op);
  if (c.attrs.number("training", 0) != 0 && info.train_forward) {  // training-mode forward, as the trainer runs it
    std::vector<const Tensor*> ins;
    std::vector<Tensor> copies;
    for (const Tensor& v : values) copies.push_back(v.clone().value());
    std::vector<Shape> shapes;
    for (const Tensor& v : copies) {
      ins.push_back(&v);
      shapes.push_back(v.shape());
    }
    Result<std::vector<Shape>> out_shapes = info.infer_shapes(shapes, c.attrs);
    if (!out_shapes.ok()) return out_shapes.status();
    std::vector<Tensor> outs;
    for (const Shape& s : out_shapes.value()) outs.push_back(Tensor::zeros(s).value());
    std::vector<Tensor*> out_ptrs;
    for (Tensor& t : outs) out_ptrs.push_back(&t);
    VITRINE_RETURN_IF_ERROR(info.train_forward(ctx, c.attrs, ins, out_ptrs));
    return outs;
  }
  auto g = std::make_shared<Graph>();
  std::vector<int> ids;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < values.size(); ++i) {
    const bool constant = c.inputs[i].role == InputRole::kParameter || c.inputs[i].role == InputRole::kFixed;
    Result<int> id = constant ? g->add_constant("in" + std::to_string(i), values[i].clone().value())
                              : g->add_input("in" + std::to_string(i), values[i].shape());
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
    if (!constant) feeds.push_back(values[i]);
  }
  Result<std::vector<int>> outs = g->add_node(c.op, "node", ids, c.attrs);
  if (!outs.ok()) return outs.status();
  for (int o : outs.value()) VITRINE_RETURN_IF_ERROR(g->add_output(o));
  Result<std::unique_ptr<Executor>> ex = Executor::create(g, ctx);
  if (!ex.ok()) return ex.status();
  std::vector<Tensor> result;
  VITRINE_RETURN_IF_ERROR(ex.value()->run(feeds, &result));
  std::vector<Tensor> copies;
  for (const Tensor& t : result) copies.push_back(t.clone().value());
  return copies;
}

inline void check_gradients(const GradCase& c, uint32_t seed = 20261128) {
  SCOPED_TRACE(c.label);
  const OpInfo& info = op_info(c.op);
  ASSERT_NE(info.backward, nullptr) << info.name << " has no backward kernel";
  std::mt19937 rng(seed);
  auto ctx = Context::create(1, 1).value();
  std::vector<Tensor> values;
  for (const GradInput& in : c.inputs) {
    Tensor t = Tensor::zeros(in.shape).value();
    if (in.fill) {
      in.fill(t, rng);
    } else {
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        float v = d(rng);
        if (std::fabs(v) < in.min_abs) v = v < 0 ? v - in.min_abs : v + in.min_abs;
        t.mutable_data()[i] = v;
      }
    }
    values.push_back(t);
  }
  Result<std::vector<Tensor>> outs = forward_once(c, values, ctx.get());
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  std::vector<Tensor> upstream;
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (const Tensor& o : outs.value()) {
    Tensor r = Tensor::zeros(o.shape()).value();
    for (int64_t i = 0; i < r.num_elements(); ++i) r.mutable_data()[i] = d(rng);
    upstream.push_back(r);
  }
  auto loss = [&](const std::vector<Tensor>& v) {
    Result<std::vector<Tensor>> o = forward_once(c, v, ctx.get());
    EXPECT_TRUE(o.ok()) << o.status().to_string();
    double l = 0;
    for (size_t k = 0; o.ok() && k < o->size(); ++k)
      for (int64_t i = 0; i < upstream[k].num_elements(); ++i) l += double(o.value()[k].data()[i]) * upstream[k].data()[i];
    return l;
  };
  std::vector<const Tensor*> in_ptrs, out_ptrs, up_ptrs;
  for (const Tensor& t : values) in_ptrs.push_back(&t);
  for (const Tensor& t : outs.value()) out_ptrs.push_back(&t);
  for (const Tensor& t : upstream) up_ptrs.push_back(&t);
  std::vector<Tensor> grads;
  std::vector<Tensor*> grad_ptrs;
  for (size_t i = 0; i < values.size(); ++i) grads.push_back(Tensor::zeros(values[i].shape()).value());
  for (size_t i = 0; i < values.size(); ++i) {
    const bool diff = c.inputs[i].role == InputRole::kActivation || c.inputs[i].role == InputRole::kParameter;
    grad_ptrs.push_back(diff ? &grads[i] : nullptr);
  }
  Status s = info.backward(ctx.get(), c.attrs, in_ptrs, out_ptrs, up_ptrs, grad_ptrs);
  ASSERT_TRUE(s.ok()) << s.to_string();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!grad_ptrs[i]) continue;
    size_t bad = 0;
    for (int64_t k = 0; k < values[i].num_elements(); ++k) {
      const float saved = values[i].data()[k];
      values[i].mutable_data()[k] = saved + c.eps;
      const double up = loss(values);
      values[i].mutable_data()[k] = saved - c.eps;
      const double down = loss(values);
      values[i].mutable_data()[k] = saved;
      const double numeric = (up - down) / (2.0 * c.eps);
      const double analytic = grads[i].data()[k];
      if (!(std::fabs(numeric - analytic) <= c.atol + c.rtol * std::fabs(numeric)) && bad++ < 5) {
        ADD_FAILURE() << info.name << " input " << i << " element " << k << ": backward " << analytic
                      << ", finite difference " << numeric;
      }
    }
    EXPECT_EQ(bad, 0u) << info.name << " input " << i;
  }
}

}  // namespace vitrine::testing
