// libFuzzer harness: TF.js graph model import (engine/src/io/tfjs_graph_import.cc) and its weight
// decoding (tfjs_weights.cc). Input layout: 4 bytes little-endian = length L of model.json, then L
// bytes of model.json, then the weights (all shards concatenated). A model that imports and is
// small runs once on zeros.
#include "fuzz_util.h"
#include "run_util.h"
#include "vitrine/tfjs_graph_import.h"

using namespace vitrine;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ByteReader in(data, size);
  const uint32_t json_length = in.u32();
  const std::string json = in.bytes(json_length);
  const std::string weights = in.rest();
  Result<LoadedModel> model = import_tfjs_graph(json, reinterpret_cast<const uint8_t*>(weights.data()), weights.size());
  if (!model.ok()) return 0;
  fuzz::run_once_if_small(model->graph);
  return 0;
}
