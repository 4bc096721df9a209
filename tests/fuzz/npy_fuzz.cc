// libFuzzer harness: .npy decoding (engine/src/io/npy.cc). What parses must write back with to_npy
// and parse again to the same dtype, shape and bits.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_util.h"
#include "vitrine/npy.h"

using namespace vitrine;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<Tensor> tensor = parse_npy(data, size);
  if (!tensor.ok()) return 0;
  const std::vector<uint8_t> written = to_npy(tensor.value());
  Result<Tensor> again = parse_npy(written.data(), written.size());
  if (!again.ok() || again->shape() != tensor->shape() || again->dtype() != tensor->dtype() ||
      (tensor->nbytes() && std::memcmp(again->raw_data(), tensor->raw_data(), tensor->nbytes()) != 0)) {
    std::fprintf(stderr, "npy round trip failed: %s -> %s\n", tensor->shape().to_string().c_str(),
                 again.ok() ? again->shape().to_string().c_str() : again.status().to_string().c_str());
    std::abort();
  }
  return 0;
}
