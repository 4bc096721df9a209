#include "xnn_lowering.h"

#include "../core/xnn_util.h"

#include <string>

namespace vitrine {

Status XnnLowering::check(xnn_status status, const char* what) const {
  return xnn_check(status, std::string(node_name) + ": XNNPACK could not " + what);
}

}  // namespace vitrine
