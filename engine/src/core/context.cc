#include "vitrine/context.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <thread>

namespace vitrine {

const char* build_variant() {
#if defined(__EMSCRIPTEN__) && defined(__EMSCRIPTEN_PTHREADS__)
  return "simd-threads";
#elif defined(__EMSCRIPTEN__)
  return "simd";
#else
  return "native";
#endif
}

bool threads_supported() {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  return false;
#else
  return true;
#endif
}

int hardware_threads() {
  if (!threads_supported()) return 1;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

namespace {
Status init_xnnpack() {
  static std::once_flag once;
  static xnn_status status = xnn_status_success;
  std::call_once(once, [] { status = xnn_initialize(nullptr); });
  if (status != xnn_status_success) {
    return Status::Internal("XNNPACK failed to initialise (xnn_status " +
                            std::to_string(static_cast<int>(status)) +
                            "); this CPU or browser may lack SIMD support");
  }
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<Context>> Context::create(int num_threads, int capacity) {
  VITRINE_RETURN_IF_ERROR(init_xnnpack());
  if (capacity < 0 || capacity > kMaxThreads) {
    return Status::InvalidArgument("thread pool capacity " + std::to_string(capacity) +
                                   " outside [0, " + std::to_string(kMaxThreads) + "]");
  }
  if (capacity == 0) capacity = std::max(hardware_threads(), num_threads);
  if (!threads_supported()) capacity = 1;
  std::unique_ptr<Context> ctx(new Context());
  ctx->capacity_ = std::min(capacity, kMaxThreads);
  if (ctx->capacity_ > 1) {
    ctx->pool_ = pthreadpool_create(static_cast<size_t>(ctx->capacity_));
    if (ctx->pool_ == nullptr) {
      return Status::ResourceExhausted("cannot start a pool of " + std::to_string(ctx->capacity_) +
                                       " threads");
    }
  }
  VITRINE_RETURN_IF_ERROR(ctx->set_num_threads(threads_supported() ? num_threads : 1));
  return ctx;
}

Context::~Context() {
  if (pool_) pthreadpool_destroy(pool_);
}

Status Context::set_num_threads(int num_threads) {
  if (num_threads < 0 || num_threads > capacity_) {
    return Status::InvalidArgument("thread count " + std::to_string(num_threads) + " outside [1, " +
                                   std::to_string(capacity_) + "] for this " + build_variant() +
                                   " context");
  }
  if (num_threads == 0) num_threads = capacity_;
  num_threads_ = pool_ ? static_cast<int>(pthreadpool_set_threads_count(
                             pool_, static_cast<size_t>(num_threads)))
                       : 1;
  return Status::Ok();
}

}  // namespace vitrine
