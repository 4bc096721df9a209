// The op case table's harness. One OpCase names an op, its attributes, its inputs and (optionally)
// a double-precision reference of its outputs (op_reference.h); check_op_case() then checks, for
// that one case:
//   1. forward: the op run as a graph node by the Executor (its XNNPACK lowering or its engine
//      kernel) against the reference;
//   2. lowered vs engine kernel: for an op that has both, the kernel run directly against the
//      lowered run;
//   3. backward: OpInfo::backward against central differences of L = Σ_k Σ outputs_k ⊙ R_k
//      (R_k random) for every differentiable input.
// run_node() is the one way tests run a single op.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "op_reference.h"
#include "vitrine/graph.h"

namespace vitrine::testing {

enum class InputRole {
  kActivation,  // a graph input; differentiable
  kParameter,   // a graph constant (weights); differentiable
  kIds,         // a graph input holding integers (ids, lengths); not differentiable
  kFixed,       // a graph constant that is not differentiated (e.g. running statistics)
};

struct CaseInput {
  Shape shape;
  InputRole role = InputRole::kActivation;
  // Fills the tensor (default: uniform in [-1, 1], kept away from 0 by `min_abs`).
  std::function<void(Tensor&, std::mt19937&)> fill;
  float min_abs = 0.0f;
  DType dtype = DType::kF32;  // other dtypes default to integers in [-3, 3] (bool: 0 or 1; u8: 0..6)
};

// A fill of distinct values 0.1 apart in random order: max pooling is differentiable only away from
// arg-max switches, and a ±eps (1e-3) step then never changes which element is the maximum.
inline CaseInput distinct_values(const Shape& shape) {
  CaseInput in{shape, InputRole::kActivation, {}, 0.0f};
  in.fill = [](Tensor& t, std::mt19937& rng) {
    std::vector<int64_t> order(static_cast<size_t>(t.num_elements()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    std::shuffle(order.begin(), order.end(), rng);
    const float mid = static_cast<float>(order.size()) / 2.0f;
    for (size_t i = 0; i < order.size(); ++i) t.mutable_data()[i] = (static_cast<float>(order[i]) - mid) * 0.1f;
  };
  return in;
}

// The reference: the op's outputs (row-major values) computed in double precision from its inputs.
using Reference = std::function<Outputs(const std::vector<Tensor>& inputs)>;

struct OpCase {
  std::string label;
  OpType op;
  OpAttrs attrs;
  std::vector<CaseInput> inputs;
  float eps = 1e-3f;                 // finite-difference step
  double atol = 2e-3, rtol = 5e-3;   // backward vs finite differences
  // The reference; null: reference_for(op, attrs) (op_reference.h), which is null itself where the
  // output is random (training-mode dropout) — then forward is not compared.
  Reference reference = nullptr;
  double forward_atol = 1e-5, forward_rtol = 1e-4;
  bool check_backward = true;        // false: forward only (large random shapes)
};

// Runs one `type` node on `inputs`; constant[i] passes input i as a graph constant (weights),
// otherwise it is a graph input. Returns every output of the node.
inline Result<std::vector<Tensor>> run_node(OpType type, const OpAttrs& attrs, const std::vector<Tensor>& inputs,
                                            const std::vector<bool>& constant = {}, Context* ctx = nullptr) {
  static std::unique_ptr<Context> shared = Context::create(2, 2).value();
  if (ctx == nullptr) ctx = shared.get();
  auto g = std::make_shared<Graph>();
  std::vector<int> ids;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool is_constant = i < constant.size() && constant[i];
    Result<int> id = is_constant ? g->add_constant("in" + std::to_string(i), inputs[i])
                                 : g->add_input("in" + std::to_string(i), inputs[i].shape(), inputs[i].dtype());
    if (!id.ok()) return id.status();
    ids.push_back(id.value());
    if (!is_constant) feeds.push_back(inputs[i]);
  }
  Result<std::vector<int>> outs = g->add_node(type, "node", ids, attrs);
  if (!outs.ok()) return outs.status();
  for (int o : outs.value()) VITRINE_RETURN_IF_ERROR(g->add_output(o));
  Result<std::unique_ptr<Executor>> ex = Executor::create(g, ctx);
  if (!ex.ok()) return ex.status();
  std::vector<Tensor> result;
  VITRINE_RETURN_IF_ERROR(ex.value()->run(feeds, &result));
  return result;
}

// The case's op on `values`: as the trainer runs it in training mode (attr training = 1), else as
// a graph node. Outputs are copies the next run does not overwrite.
inline Result<std::vector<Tensor>> run_case(const OpCase& c, const std::vector<Tensor>& values, Context* ctx) {
  const OpInfo& info = op_info(c.op);
  std::vector<Tensor> outs;
  if (c.attrs.number("training", 0) != 0 && info.train_forward) {
    std::vector<Tensor> copies;
    std::vector<const Tensor*> ins;
    std::vector<Shape> shapes;
    for (const Tensor& v : values) copies.push_back(v.clone().value());
    for (const Tensor& v : copies) {
      ins.push_back(&v);
      shapes.push_back(v.shape());
    }
    Result<std::vector<Shape>> out_shapes = info.infer_shapes(shapes, c.attrs);
    if (!out_shapes.ok()) return out_shapes.status();
    for (const Shape& s : out_shapes.value()) outs.push_back(Tensor::zeros(s).value());
    std::vector<Tensor*> out_ptrs;
    for (Tensor& t : outs) out_ptrs.push_back(&t);
    VITRINE_RETURN_IF_ERROR(info.train_forward(ctx, c.attrs, ins, out_ptrs));
    return outs;
  }
  std::vector<bool> constant;
  std::vector<Tensor> copies;
  for (size_t i = 0; i < values.size(); ++i) {
    constant.push_back(c.inputs[i].role == InputRole::kParameter || c.inputs[i].role == InputRole::kFixed);
    copies.push_back(values[i].clone().value());
  }
  Result<std::vector<Tensor>> result = run_node(c.op, c.attrs, copies, constant, ctx);
  if (!result.ok()) return result.status();
  for (const Tensor& t : result.value()) outs.push_back(t.clone().value());
  return outs;
}

inline std::vector<Tensor> make_inputs(const OpCase& c, std::mt19937& rng) {
  std::vector<Tensor> values;
  for (const CaseInput& in : c.inputs) {
    Tensor t = Tensor::zeros(in.shape, in.dtype).value();
    if (in.fill) {
      in.fill(t, rng);
    } else if (in.dtype != DType::kF32) {
      std::uniform_int_distribution<int> d(in.dtype == DType::kBool ? 0 : -3, in.dtype == DType::kBool ? 1 : 3);
      for (int64_t i = 0; i < t.num_elements(); ++i) set_at(t, i, d(rng) + (in.dtype == DType::kU8 ? 3 : 0));
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
  return values;
}

inline void check_close(const Tensor& actual, const std::vector<double>& expected, double atol, double rtol,
                        const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(actual.num_elements()), expected.size()) << what << ": element count";
  size_t bad = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double got = at(actual, static_cast<int64_t>(i));
    const double err = std::fabs(got - expected[i]);
    if (!(err <= atol + rtol * std::fabs(expected[i])) && bad++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << got << ", expected " << expected[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << expected.size() << " elements differ";
}

inline void check_backward(const OpCase& c, std::vector<Tensor>& values, const std::vector<Tensor>& outs,
                           std::mt19937& rng, Context* ctx) {
  const OpInfo& info = op_info(c.op);
  std::vector<Tensor> upstream;
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (const Tensor& o : outs) {  // non-f32 outputs carry no gradient: a zero upstream
    Tensor r = Tensor::zeros(o.shape()).value();
    for (int64_t i = 0; o.dtype() == DType::kF32 && i < r.num_elements(); ++i) r.mutable_data()[i] = d(rng);
    upstream.push_back(r);
  }
  auto loss = [&](const std::vector<Tensor>& v) {
    Result<std::vector<Tensor>> o = run_case(c, v, ctx);
    EXPECT_TRUE(o.ok()) << o.status().to_string();
    double l = 0;
    for (size_t k = 0; o.ok() && k < o->size(); ++k)
      for (int64_t i = 0; o.value()[k].dtype() == DType::kF32 && i < upstream[k].num_elements(); ++i)
        l += double(o.value()[k].data()[i]) * upstream[k].data()[i];
    return l;
  };
  std::vector<const Tensor*> in_ptrs, out_ptrs, up_ptrs;
  for (const Tensor& t : values) in_ptrs.push_back(&t);
  for (const Tensor& t : outs) out_ptrs.push_back(&t);
  for (const Tensor& t : upstream) up_ptrs.push_back(&t);
  std::vector<Tensor> grads;
  std::vector<Tensor*> grad_ptrs;
  for (size_t i = 0; i < values.size(); ++i) grads.push_back(Tensor::zeros(values[i].shape()).value());
  for (size_t i = 0; i < values.size(); ++i) {
    const bool diff = (c.inputs[i].role == InputRole::kActivation || c.inputs[i].role == InputRole::kParameter) &&
                      values[i].dtype() == DType::kF32;
    grad_ptrs.push_back(diff ? &grads[i] : nullptr);
  }
  Status s = info.backward(ctx, c.attrs, in_ptrs, out_ptrs, up_ptrs, grad_ptrs);
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

inline void check_op_case(const OpCase& c, uint32_t seed = 20261128) {
  SCOPED_TRACE(c.label);
  const OpInfo& info = op_info(c.op);
  std::mt19937 rng(seed);
  auto ctx = Context::create(1, 1).value();
  std::vector<Tensor> values = make_inputs(c, rng);
  Result<std::vector<Tensor>> outs = run_case(c, values, ctx.get());
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  // 1. forward vs the reference
  const Reference reference = c.reference ? c.reference : reference_for(c.op, c.attrs);
  if (reference) {
    const Outputs want = reference(values);
    ASSERT_EQ(want.size(), outs->size()) << info.name << ": output count";
    for (size_t k = 0; k < want.size(); ++k) {
      check_close(outs.value()[k], want[k], c.forward_atol, c.forward_rtol,
                  std::string(info.name) + " output " + std::to_string(k));
    }
  }
  // 2. lowered vs engine kernel, for ops that have both
  bool all_f32 = true;
  for (const Tensor& v : values) all_f32 = all_f32 && v.dtype() == DType::kF32;
  if (info.lower && info.run && all_f32 && c.attrs.number("training", 0) == 0) {
    std::vector<const Tensor*> ins;
    std::vector<Shape> shapes;
    for (const Tensor& v : values) {
      ins.push_back(&v);
      shapes.push_back(v.shape());
    }
    std::vector<Tensor> kernel_outs;
    std::vector<Tensor*> kernel_ptrs;
    const std::vector<Shape> out_shapes = info.infer_shapes(shapes, c.attrs).value();
    for (const Shape& s : out_shapes) kernel_outs.push_back(Tensor::zeros(s).value());
    for (Tensor& t : kernel_outs) kernel_ptrs.push_back(&t);
    ASSERT_TRUE(info.run(ctx.get(), c.attrs, ins, kernel_ptrs).ok());
    for (size_t k = 0; k < kernel_outs.size(); ++k) {
      check_close(kernel_outs[k], values_of(outs.value()[k]), c.forward_atol, c.forward_rtol,
                  std::string(info.name) + " engine kernel vs lowering, output " + std::to_string(k));
    }
  }
  // 3. backward vs finite differences
  if (info.backward && c.check_backward) check_backward(c, values, outs.value(), rng, ctx.get());
}

}  // namespace vitrine::testing
