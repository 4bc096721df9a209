// Small helpers around XNNPACK: an owning operator handle and status translation.
#pragma once

#include <xnnpack.h>

#include <cstdlib>
#include <string>

#include "vitrine/tensor.h"

#include "vitrine/status.h"

namespace vitrine {

// Owns one xnn_operator_t (deleted on destruction or reset).
class XnnOperator {
 public:
  XnnOperator() = default;
  ~XnnOperator() { reset(); }
  XnnOperator(const XnnOperator&) = delete;
  XnnOperator& operator=(const XnnOperator&) = delete;
  void reset() {
    if (op_) xnn_delete_operator(op_);
    op_ = nullptr;
  }
  xnn_operator_t get() const { return op_; }
  xnn_operator_t* out() { reset(); return &op_; }  // for xnn_create_*
  explicit operator bool() const { return op_ != nullptr; }

 private:
  xnn_operator_t op_ = nullptr;
};

// Scratch memory: 64-byte aligned, padded for XNNPACK's over-reads, grows but never shrinks.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  Status reserve(size_t bytes) {
    if (bytes <= capacity_ && data_) return Status::Ok();
    size_t alloc = (bytes + kTensorPadding + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
    void* p = std::aligned_alloc(kTensorAlignment, alloc);
    if (!p) return Status::ResourceExhausted("cannot allocate " + std::to_string(bytes) + " scratch bytes");
    std::free(data_);
    data_ = p;
    capacity_ = bytes;
    return Status::Ok();
  }
  void* data() const { return data_; }
  float* floats() const { return static_cast<float*>(data_); }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// The one mapping from XNNPACK's status to a Status: OK for success; parameters XNNPACK refuses
// (from a model's shapes or attributes) are InvalidArgument, unsupported ones Unimplemented, out of
// memory ResourceExhausted, anything else Internal. The message is "<what>: <reason> (xnn_status N)".
inline Status xnn_check(xnn_status status, const std::string& what) {
  const std::string tail = " (xnn_status " + std::to_string(static_cast<int>(status)) + ")";
  switch (status) {
    case xnn_status_success: return Status::Ok();
    case xnn_status_invalid_parameter: return Status::InvalidArgument(what + ": invalid parameter" + tail);
    case xnn_status_unsupported_parameter: return Status::Unimplemented(what + ": unsupported parameter" + tail);
    case xnn_status_unsupported_hardware: return Status::Unimplemented(what + ": unsupported on this hardware" + tail);
    case xnn_status_out_of_memory: return Status::ResourceExhausted(what + ": out of memory" + tail);
    default: return Status::Internal(what + ": XNNPACK failed" + tail);
  }
}

}  // namespace vitrine
