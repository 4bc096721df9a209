// Google Benchmark: dense forward (and backward) natively, 1 and 2 threads.
//   build/native/bench/native/vitrine_bench --benchmark_filter=Dense
#include <benchmark/benchmark.h>

#include <memory>
#include <random>

#include "vitrine/context.h"
#include "vitrine/dense_layer.h"

namespace {

using vitrine::Context;
using vitrine::Shape;
using vitrine::Tensor;

void fill_random(Tensor& t, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1, 1);
  float* p = t.mutable_data();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = d(rng);
}

Tensor random_tensor(const Shape& s, std::mt19937& rng) {
  Tensor t = Tensor::zeros(s).value();
  fill_random(t, rng);
  return t;
}

// args: batch, in, out, threads. A layer with random weights and a random input x (batch, in).
struct DenseSetup {
  std::unique_ptr<Context> ctx;
  std::unique_ptr<vitrine::DenseLayer> layer;
  Tensor x;
};

DenseSetup dense_setup(const benchmark::State& state) {
  const int64_t n = state.range(0), in = state.range(1), out = state.range(2);
  DenseSetup d;
  d.ctx = Context::create(static_cast<int>(state.range(3)), static_cast<int>(state.range(3))).value();
  d.layer = vitrine::DenseLayer::create(d.ctx.get(), in, out).value();
  std::mt19937 rng(1);
  fill_random(d.layer->weights(), rng);
  fill_random(d.layer->bias(), rng);
  d.x = random_tensor(Shape{n, in}, rng);
  return d;
}

void BM_DenseForward(benchmark::State& state) {
  DenseSetup d = dense_setup(state);
  for (auto _ : state) {
    auto y = d.layer->forward(d.x);
    if (!y.ok()) state.SkipWithError("forward failed");
    benchmark::DoNotOptimize(y->data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * state.range(0) * state.range(1) * state.range(2) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseBackward(benchmark::State& state) {
  DenseSetup d = dense_setup(state);
  std::mt19937 rng(2);
  Tensor dy = random_tensor(Shape{state.range(0), state.range(2)}, rng), dx = Tensor::zeros(d.x.shape()).value(),
         dw = Tensor::zeros(d.layer->weights().shape()).value(), db = Tensor::zeros(d.layer->bias().shape()).value();
  if (!d.layer->forward(d.x).ok()) state.SkipWithError("forward failed");
  for (auto _ : state) {
    if (!d.layer->backward(dy, &dx, &dw, &db).ok()) state.SkipWithError("backward failed");
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * state.range(0) * state.range(1) * state.range(2) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_DenseForward)->ArgNames({"N", "in", "out", "threads"})
    ->Args({256, 1024, 1024, 1})->Args({256, 1024, 1024, 2})
    ->Args({1, 1024, 1024, 1})->Args({64, 256, 256, 1})
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DenseBackward)->ArgNames({"N", "in", "out", "threads"})
    ->Args({256, 1024, 1024, 1})->Args({256, 1024, 1024, 2})
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
