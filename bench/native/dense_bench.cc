// Google Benchmark: dense forward (and backward) natively, 1 and 2 threads.
//   build/native/bench/native/vitrine_bench --benchmark_filter=Dense
#include <benchmark/benchmark.h>

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

// args: batch, in, out, threads
void BM_DenseForward(benchmark::State& state) {
  const int64_t n = state.range(0), in = state.range(1), out = state.range(2);
  auto ctx = Context::create(static_cast<int>(state.range(3)), static_cast<int>(state.range(3))).value();
  auto layer = vitrine::DenseLayer::create(ctx.get(), in, out).value();
  std::mt19937 rng(1);
  fill_random(layer->weights(), rng);
  fill_random(layer->bias(), rng);
  Tensor x = random_tensor(Shape{n, in}, rng);
  for (auto _ : state) {
    auto y = layer->forward(x);
    if (!y.ok()) state.SkipWithError("forward failed");
    benchmark::DoNotOptimize(y->data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * in * out * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseBackward(benchmark::State& state) {
  const int64_t n = state.range(0), in = state.range(1), out = state.range(2);
  auto ctx = Context::create(static_cast<int>(state.range(3)), static_cast<int>(state.range(3))).value();
  auto layer = vitrine::DenseLayer::create(ctx.get(), in, out).value();
  std::mt19937 rng(1);
  fill_random(layer->weights(), rng);
  fill_random(layer->bias(), rng);
  Tensor x = random_tensor(Shape{n, in}, rng);
  Tensor dy = random_tensor(Shape{n, out}, rng), dx = Tensor::zeros(x.shape()).value(),
         dw = Tensor::zeros(Shape{out, in}).value(), db = Tensor::zeros(Shape{out}).value();
  if (!layer->forward(x).ok()) state.SkipWithError("forward failed");
  for (auto _ : state) {
    if (!layer->backward(dy, &dx, &dw, &db).ok()) state.SkipWithError("backward failed");
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * n * in * out * 1e-9,
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
