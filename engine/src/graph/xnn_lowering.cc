#include "xnn_lowering.h"

#include <string>

namespace vitrine {

Status XnnLowering::check(xnn_status status, const char* what) const {
  if (status == xnn_status_success) return Status::Ok();
  return Status::InvalidArgument(std::string(node_name) + ": XNNPACK could not " + what +
                                 " (xnn_status " + std::to_string(static_cast<int>(status)) + ")");
}

}  // namespace vitrine
