// Execution context: XNNPACK initialisation and the thread pool.
//
// Every op is created against a Context and runs its kernels on the context's thread pool. The
// thread count is a runtime setting (set_num_threads); builds without threads (the wasm `simd`
// variant) always run on one thread and say so.
#pragma once

#include <memory>

#include "vitrine/status.h"

typedef struct pthreadpool* pthreadpool_t;

namespace vitrine {

// What this build is: "native", "simd" (wasm, one thread) or "simd-threads" (wasm + pthreads).
const char* build_variant();
// Whether this build can run more than one thread.
bool threads_supported();
// Hardware threads available (1 where threads are not supported).
int hardware_threads();

class Context {
 public:
  // Creates a context whose pool holds `capacity` threads (0 = hardware_threads()) and that runs on
  // `num_threads` of them (0 = all). Both are 1 where threads are not supported. The pool's threads
  // start once, here; set_num_threads() only changes how many take part. Initialises XNNPACK on
  // first use. Errors: negative counts, capacity above kMaxThreads, num_threads above capacity.
  static Result<std::unique_ptr<Context>> create(int num_threads = 0, int capacity = 0);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Sets how many of the pool's threads run kernels (0 = all). Cheap; threads are not restarted.
  // Must not be called while an op of this context is running. Errors: outside [0, capacity()].
  Status set_num_threads(int num_threads);
  int num_threads() const { return num_threads_; }
  int capacity() const { return capacity_; }
  // The pool ops pass to XNNPACK; null means "run on the calling thread". Owned by the context.
  pthreadpool_t threadpool() const { return pool_; }

  static constexpr int kMaxThreads = 64;

 private:
  Context() = default;
  pthreadpool_t pool_ = nullptr;
  int num_threads_ = 1;
  int capacity_ = 1;
};

}  // namespace vitrine
