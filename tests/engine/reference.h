// Plain reference implementations (double accumulation) and test helpers for op tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <functional>
#include <random>
#include <vector>

#include "vitrine/npy.h"
#include "vitrine/tensor.h"

namespace vitrine::testing {

// $VITRINE_PARITY_MODELS/<sub>/<name> (scripts/prepare-test-models.sh), or "" when unset.
inline std::string parity_dir(const std::string& sub, const std::string& name) {
  const char* d = std::getenv("VITRINE_PARITY_MODELS");
  return d ? std::string(d) + "/" + sub + "/" + name : "";
}

// Whether missing reference data must fail (CI sets VITRINE_REQUIRE_MODELS=1) rather than skip.
inline bool require_models() {
  const char* r = std::getenv("VITRINE_REQUIRE_MODELS");
  return r && std::string(r) == "1";
}

// <dir>/<name>.npy, or an empty tensor when it is missing or unreadable.
inline Tensor load_npy(const std::string& dir, const std::string& name) {
  auto bytes = read_binary_file(dir + "/" + name + ".npy");
  if (!bytes.ok()) return Tensor();
  auto t = parse_npy(bytes->data(), bytes->size());
  return t.ok() ? t.value() : Tensor();
}

inline std::vector<double> to_doubles(const Tensor& t) { return std::vector<double>(t.data(), t.data() + t.num_elements()); }

inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::zeros(shape).value();
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.mutable_data();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = dist(rng);
  return t;
}

// y (N, out) = x (N, in) · W (out, in)ᵀ + b (out)
inline std::vector<double> dense_reference(const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t out = w.shape()[0], in = w.shape()[1], n = x.num_elements() / in;
  std::vector<double> y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b ? b->data()[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += double(x.data()[r * in + i]) * w.data()[o * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

// Expects |actual - expected| <= atol + rtol * |expected| element-wise.
inline void expect_close(const float* actual, const std::vector<double>& expected, double atol,
                         double rtol, const char* what) {
  size_t bad = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    double err = std::fabs(actual[i] - expected[i]);
    if (!(err <= atol + rtol * std::fabs(expected[i]))) {
      if (bad++ < 5) {
        ADD_FAILURE() << what << "[" << i << "]: got " << actual[i] << ", expected " << expected[i];
      }
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << expected.size() << " elements differ";
}

// Central finite differences of the scalar `loss` with respect to every element of `param`.
inline std::vector<double> numeric_gradient(Tensor& param, const std::function<double()>& loss,
                                            float eps) {
  std::vector<double> g(static_cast<size_t>(param.num_elements()));
  for (int64_t i = 0; i < param.num_elements(); ++i) {
    float saved = param.data()[i];
    param.mutable_data()[i] = saved + eps;
    double up = loss();
    param.mutable_data()[i] = saved - eps;
    double down = loss();
    param.mutable_data()[i] = saved;
    g[static_cast<size_t>(i)] = (up - down) / (2.0 * eps);
  }
  return g;
}

}  // namespace vitrine::testing
