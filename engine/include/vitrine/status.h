// Status and Result: how every public Vitrine function reports failure.
//
// No exception crosses a public function (and none crosses the wasm boundary). A function that can
// fail returns a Status (or a Result<T> holding either a value or a Status). The message names what
// was wrong in words a user can act on ("dense: input has 7 columns, the layer expects 8").
#pragma once

#include <cassert>
#include <string>
#include <utility>

namespace vitrine {

// Error categories. Stable numbers: the JS facade sees them.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,   // bad shape, bad option, NaN where a number is required
  kOutOfRange = 2,        // index or id outside its valid range
  kNotFound = 3,          // unknown id / name
  kDataLoss = 4,          // corrupt or truncated bytes
  kUnimplemented = 5,     // a feature that this build does not provide
  kResourceExhausted = 6, // allocation failed
  kInternal = 7,          // a dependency (XNNPACK, ...) failed unexpectedly
  kFailedPrecondition = 8,// call made in the wrong state (e.g. backward before forward)
  kCancelled = 9          // the caller asked to stop (a progress callback returned false)
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>", or "OK".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a T or a non-OK Status. Access the value only after checking ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status carries no value");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return value_; }
  const T& value() const& { assert(ok()); return value_; }
  T&& value() && { assert(ok()); return std::move(value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  T value_{};
};

}  // namespace vitrine

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define VITRINE_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::vitrine::Status vitrine_status_ = (expr);  \
    if (!vitrine_status_.ok()) return vitrine_status_; \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its Status from the enclosing function. `lhs` may
// declare a variable: VITRINE_ASSIGN_OR_RETURN(Tensor t, load(...));
#define VITRINE_STATUS_CONCAT_INNER(a, b) a##b
#define VITRINE_STATUS_CONCAT(a, b) VITRINE_STATUS_CONCAT_INNER(a, b)
#define VITRINE_ASSIGN_OR_RETURN(lhs, expr) \
  VITRINE_ASSIGN_OR_RETURN_IMPL(VITRINE_STATUS_CONCAT(vitrine_result_, __LINE__), lhs, expr)
#define VITRINE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
