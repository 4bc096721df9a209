// Helpers shared by the task trainers (recommend_train.cc, tag_train.cc): seeded initial weights
// and copies of a graph's current constants.
#pragma once

#include <random>
#include <string>

#include "vitrine/graph.h"

namespace vitrine::train_util {

using Rng = std::mt19937_64;

// A tensor of `shape` drawn from U(-scale, scale) (uniform) or N(0, scale); zeros when scale == 0.
inline Result<Tensor> random_tensor(const Shape& shape, Rng& rng, double scale, bool uniform) {
  VITRINE_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(shape));
  float* p = t.mutable_data();
  std::uniform_real_distribution<double> u(-scale, scale);
  std::normal_distribution<double> g(0.0, scale);
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = static_cast<float>(scale == 0 ? 0 : uniform ? u(rng) : g(rng));
  return t;
}

// A copy of the graph constant `name` (e.g. trained weights for the saved inference graph).
inline Result<Tensor> constant_copy(const Graph& g, const std::string& name) {
  VITRINE_ASSIGN_OR_RETURN(int v, g.find(name));
  return g.value(v).constant.clone();
}

}  // namespace vitrine::train_util
