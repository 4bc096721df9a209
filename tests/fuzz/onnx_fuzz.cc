// libFuzzer harness: ONNX bytes through the protobuf wire decoder, the ONNX decoder (parse_model),
// the importer (import_onnx) and, when the graph imports and is small, one run on zero inputs.
//
// Structure-aware: LLVMFuzzerCustomMutator decodes the input with the engine's own decoder, changes
// the model (attribute values and types, tensor dims and data, node inputs/outputs, op types from
// the importer's op list, nodes added/removed/duplicated, graph inputs and outputs, opsets) and
// writes it back with onnx_encoder.h; 1 input in 16, and every input that does not decode, goes to
// libFuzzer's own byte mutations instead (which keep the wire decoder itself covered).
// LLVMFuzzerCustomCrossOver splices nodes and initializers of one model into another.
//
// At exit the harness prints one line, "onnx-fuzz stats: inputs=N parse_rejected=P
// import_rejected=I ran=R", which scripts/fuzz.sh records (the share of inputs stopped by the first
// parse step).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "onnx_encoder.h"
#include "run_util.h"
#include "vitrine/onnx_import.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

using namespace vitrine;
using onnx::AttributeProto;
using onnx::AttributeType;
using onnx::ModelProto;
using onnx::NodeProto;
using onnx::TensorProto;
using onnx::ValueInfoProto;

namespace {

unsigned long long g_inputs = 0, g_parse_rejected = 0, g_import_rejected = 0, g_ran = 0;

void print_stats() {
  std::fprintf(stderr, "onnx-fuzz stats: inputs=%llu parse_rejected=%llu import_rejected=%llu ran=%llu\n",
               g_inputs, g_parse_rejected, g_import_rejected, g_ran);
}

std::vector<std::string> g_ops;  // importer ops + a few it lacks
std::vector<std::string> g_supported;  // importer ops only (sorted)

bool is_supported(const NodeProto& n) {
  return (n.domain.empty() || n.domain == "ai.onnx") &&
         std::binary_search(g_supported.begin(), g_supported.end(), n.op_type);
}

const char* const kAttributeNames[] = {
    "activations", "allowzero", "alpha", "auto_pad", "axes", "axis", "beta", "ceil_mode", "clip",
    "count_include_pad", "dilations", "direction", "end", "ends", "epsilon", "group", "hidden_size",
    "input_forget", "keepdims", "kernel_shape", "layout", "linear_before_reset", "max", "min", "mode",
    "output_padding", "output_shape", "pads", "perm", "start", "starts", "strides", "training_mode",
    "transA", "transB", "value", "to", "split", "momentum", "storage_order", "value_float",
    "value_ints", "noop_with_empty_axes", "steps", "shape"};
const char* const kStrings[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect",
                                "edge", "forward", "reverse", "bidirectional", "Sigmoid", "Tanh",
                                "Relu", "", "x"};
const int64_t kInts[] = {-1, 0, 1, 2, 3, 4, 5, 7, 8, 16, 64, 255, 256, 65536, -2, -3, -7,
                         int64_t{1} << 31, (int64_t{1} << 31) - 1, -(int64_t{1} << 31), int64_t{1} << 40,
                         std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max() / 2 + 1};
const float kFloats[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-5f, 1e-38f, 1e-45f, 65504.0f, 1e30f,
                         -1e30f, 3.4e38f, std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
const int32_t kDataTypes[] = {1, 1, 1, 7, 7, 6, 2, 3, 9, 10, 11, 16, 8, 0, 13, 14, 99, -1};

template <size_t N, typename T>
const T& pick(const T (&array)[N], std::mt19937& rng) {
  return array[rng() % N];
}
template <typename T>
T& pick(std::vector<T>& v, std::mt19937& rng) {
  return v[rng() % v.size()];
}

int64_t any_int(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0: return static_cast<int64_t>(rng() % 9) - 2;
    case 1: return static_cast<int64_t>(rng() % 300);
    default: return pick(kInts, rng);
  }
}
float any_float(std::mt19937& rng) {
  if (rng() % 3 == 0) return static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 100.0f;
  return pick(kFloats, rng);
}
int64_t any_dim(std::mt19937& rng) {
  switch (rng() % 6) {
    case 0: return pick(kInts, rng);
    case 1: return 0;
    default: return static_cast<int64_t>(rng() % 9);
  }
}

// Every value name a node could read: graph inputs, initializers, node outputs.
std::vector<std::string> value_names(const ModelProto& m) {
  std::vector<std::string> names;
  for (const ValueInfoProto& v : m.graph.input) names.push_back(v.name);
  for (const TensorProto& t : m.graph.initializer) names.push_back(t.name);
  for (const NodeProto& n : m.graph.node) names.insert(names.end(), n.output.begin(), n.output.end());
  return names;
}
std::string any_name(const ModelProto& m, std::mt19937& rng) {
  std::vector<std::string> names = value_names(m);
  if (names.empty() || rng() % 8 == 0) return rng() % 2 ? std::string() : "v" + std::to_string(rng() % 64);
  return pick(names, rng);
}

void mutate_vector_int(std::vector<int64_t>* v, std::mt19937& rng, bool dims) {
  const size_t choice = rng() % 6;
  if (v->empty() || choice == 0) {
    v->insert(v->begin() + static_cast<long>(v->empty() ? 0 : rng() % (v->size() + 1)), dims ? any_dim(rng) : any_int(rng));
  } else if (choice == 1) {
    v->erase(v->begin() + static_cast<long>(rng() % v->size()));
  } else if (choice == 2 && rng() % 4 == 0) {
    v->clear();
  } else {
    pick(*v, rng) = dims ? any_dim(rng) : any_int(rng);
  }
}

void mutate_tensor(TensorProto* t, std::mt19937& rng) {
  int64_t count = 1;
  for (int64_t d : t->dims) count = (d >= 0 && d < 4096 && count < 4096) ? count * d : 4096;
  switch (rng() % 7) {
    case 0: mutate_vector_int(&t->dims, rng, true); break;
    case 1: {  // data consistent with dims, in the type's field
      const size_t n = static_cast<size_t>(count);
      t->float_data.clear(); t->int64_data.clear(); t->int32_data.clear(); t->raw_data.clear();
      t->has_raw_data = false;
      if (t->data_type == onnx::DataType::kInt64) {
        for (size_t i = 0; i < n; ++i) t->int64_data.push_back(any_int(rng));
      } else if (t->data_type == onnx::DataType::kInt32) {
        for (size_t i = 0; i < n; ++i) t->int32_data.push_back(static_cast<int32_t>(any_int(rng)));
      } else {
        t->data_type = onnx::DataType::kFloat;
        for (size_t i = 0; i < n; ++i) t->float_data.push_back(any_float(rng));
      }
      break;
    }
    case 2:  // one element changed
      if (!t->float_data.empty()) pick(t->float_data, rng) = any_float(rng);
      else if (!t->int64_data.empty()) pick(t->int64_data, rng) = any_int(rng);
      else if (!t->raw_data.empty()) pick(t->raw_data, rng) = static_cast<uint8_t>(rng());
      else t->float_data.push_back(any_float(rng));
      break;
    case 3:  // element count off by one
      if (!t->float_data.empty() && rng() % 2) t->float_data.pop_back();
      else if (!t->int64_data.empty() && rng() % 2) t->int64_data.pop_back();
      else if (t->has_raw_data && !t->raw_data.empty()) t->raw_data.resize(t->raw_data.size() - 1 - rng() % t->raw_data.size());
      else t->float_data.push_back(1.0f);
      break;
    case 4: t->data_type = pick(kDataTypes, rng); break;
    case 5: {  // typed field -> raw_data
      if (!t->float_data.empty()) {
        t->raw_data.resize(t->float_data.size() * 4);
        std::memcpy(t->raw_data.data(), t->float_data.data(), t->raw_data.size());
        t->float_data.clear();
        t->has_raw_data = true;
      } else if (!t->int64_data.empty()) {
        t->raw_data.resize(t->int64_data.size() * 8);
        std::memcpy(t->raw_data.data(), t->int64_data.data(), t->raw_data.size());
        t->int64_data.clear();
        t->has_raw_data = true;
      } else {
        t->has_raw_data = !t->has_raw_data;
      }
      break;
    }
    default: t->dims.assign(1, count < 4096 ? count : 1); break;  // flatten (same count)
  }
}

AttributeProto random_attribute(std::mt19937& rng) {
  AttributeProto a;
  a.name = pick(kAttributeNames, rng);
  switch (rng() % 5) {
    case 0: a.type = AttributeType::kInt; a.i = any_int(rng); break;
    case 1: {
      a.type = AttributeType::kInts;
      const size_t n = rng() % 5;
      for (size_t i = 0; i < n; ++i) a.ints.push_back(any_int(rng));
      break;
    }
    case 2: a.type = AttributeType::kFloat; a.f = any_float(rng); break;
    case 3: a.type = AttributeType::kString; a.s = pick(kStrings, rng); break;
    default:
      a.type = AttributeType::kTensor;
      a.t.data_type = rng() % 2 ? onnx::DataType::kFloat : onnx::DataType::kInt64;
      a.t.dims.push_back(static_cast<int64_t>(rng() % 4));
      mutate_tensor(&a.t, rng);
      break;
  }
  return a;
}

void mutate_attribute(AttributeProto* a, std::mt19937& rng) {
  switch (rng() % 8) {
    case 0: a->name = pick(kAttributeNames, rng); return;
    case 1: a->type = static_cast<int32_t>(rng() % 15); return;
    default: break;
  }
  switch (a->type) {
    case AttributeType::kInt: a->i = any_int(rng); break;
    case AttributeType::kInts: mutate_vector_int(&a->ints, rng, false); break;
    case AttributeType::kFloat: a->f = any_float(rng); break;
    case AttributeType::kFloats:
      if (a->floats.empty() || rng() % 3 == 0) a->floats.push_back(any_float(rng));
      else pick(a->floats, rng) = any_float(rng);
      break;
    case AttributeType::kString: a->s = pick(kStrings, rng); break;
    case AttributeType::kTensor: mutate_tensor(&a->t, rng); break;
    default: *a = random_attribute(rng); break;
  }
}

void mutate_value_info(ValueInfoProto* v, std::mt19937& rng) {
  switch (rng() % 6) {
    case 0: v->elem_type = pick(kDataTypes, rng); break;
    case 1: v->has_shape = !v->has_shape; break;
    case 2: v->is_tensor = !v->is_tensor; break;
    default: {
      v->is_tensor = true;
      v->has_shape = true;
      mutate_vector_int(&v->dims, rng, true);
      v->dim_params.assign(v->dims.size(), std::string());
      if (!v->dims.empty() && rng() % 5 == 0) {  // a symbolic dimension
        const size_t i = rng() % v->dims.size();
        v->dims[i] = -1;
        v->dim_params[i] = rng() % 2 ? "batch" : "N";
      }
      break;
    }
  }
}

// Most seeds (the ONNX node tests) use ops the importer lacks, and every mutant of such a model
// stops at "unsupported op". One mutation in three of such a model first repairs it: either every
// unsupported node gets a supported op type, or the unsupported nodes are dropped and the last
// remaining node's output becomes the graph output.
void repair(ModelProto* m, std::mt19937& rng) {
  std::vector<NodeProto>& nodes = m->graph.node;
  if (rng() % 2) {
    for (NodeProto& n : nodes) {
      if (!is_supported(n)) {
        n.op_type = pick(g_supported, rng);
        n.domain.clear();
      }
    }
    return;
  }
  nodes.erase(std::remove_if(nodes.begin(), nodes.end(), [](const NodeProto& n) { return !is_supported(n); }),
              nodes.end());
  if (!nodes.empty() && !nodes.back().output.empty()) {
    ValueInfoProto out;
    out.name = nodes.back().output[0];
    out.is_tensor = true;
    out.elem_type = onnx::DataType::kFloat;
    m->graph.output.assign(1, out);
  }
}

std::string new_output_name(std::mt19937& rng) { return "fz" + std::to_string(rng() % 100000); }

void mutate_once(ModelProto* m, std::mt19937& rng) {
  onnx::GraphProto& g = m->graph;
  switch (rng() % 16) {
    case 0: case 1: case 2: {  // an attribute value / name / type
      if (g.node.empty()) break;
      NodeProto& n = pick(g.node, rng);
      if (n.attribute.empty() || rng() % 5 == 0) n.attribute.push_back(random_attribute(rng));
      else mutate_attribute(&pick(n.attribute, rng), rng);
      break;
    }
    case 3: {  // drop an attribute
      if (g.node.empty()) break;
      NodeProto& n = pick(g.node, rng);
      if (!n.attribute.empty()) n.attribute.erase(n.attribute.begin() + static_cast<long>(rng() % n.attribute.size()));
      break;
    }
    case 4: if (!g.node.empty()) pick(g.node, rng).op_type = pick(g_ops, rng); break;
    case 5: case 6: {  // node inputs
      if (g.node.empty()) break;
      NodeProto& n = pick(g.node, rng);
      const size_t c = rng() % 4;
      if (n.input.empty() || c == 0) n.input.push_back(any_name(*m, rng));
      else if (c == 1) n.input.erase(n.input.begin() + static_cast<long>(rng() % n.input.size()));
      else pick(n.input, rng) = any_name(*m, rng);
      break;
    }
    case 7: {  // node outputs
      if (g.node.empty()) break;
      NodeProto& n = pick(g.node, rng);
      const size_t c = rng() % 4;
      if (n.output.empty() || c == 0) n.output.push_back(rng() % 4 ? new_output_name(rng) : std::string());
      else if (c == 1) n.output.erase(n.output.begin() + static_cast<long>(rng() % n.output.size()));
      else pick(n.output, rng) = rng() % 2 ? any_name(*m, rng) : new_output_name(rng);
      break;
    }
    case 8: {  // a new node, often published as a graph output
      NodeProto n;
      n.op_type = pick(g_ops, rng);
      const size_t inputs = 1 + rng() % 3;
      for (size_t i = 0; i < inputs; ++i) n.input.push_back(any_name(*m, rng));
      n.output.push_back(new_output_name(rng));
      if (rng() % 2) n.attribute.push_back(random_attribute(rng));
      if (rng() % 2) {
        ValueInfoProto out;
        out.name = n.output[0];
        out.is_tensor = true;
        out.elem_type = onnx::DataType::kFloat;
        g.output.push_back(out);
      }
      g.node.insert(g.node.begin() + static_cast<long>(g.node.empty() ? 0 : rng() % (g.node.size() + 1)), n);
      break;
    }
    case 9: {  // remove, duplicate or swap nodes
      if (g.node.empty()) break;
      const size_t i = rng() % g.node.size(), j = rng() % g.node.size();
      const size_t c = rng() % 3;
      if (c == 0) g.node.erase(g.node.begin() + static_cast<long>(i));
      else if (c == 1 && g.node.size() < 256) g.node.insert(g.node.begin() + static_cast<long>(j), g.node[i]);
      else std::swap(g.node[i], g.node[j]);
      break;
    }
    case 10: case 11: {  // an initializer's dims or data
      if (g.initializer.empty() || rng() % 6 == 0) {
        TensorProto t;
        t.name = "w" + std::to_string(rng() % 1000);
        t.data_type = onnx::DataType::kFloat;
        t.dims.push_back(static_cast<int64_t>(1 + rng() % 4));
        mutate_tensor(&t, rng);
        g.initializer.push_back(t);
      } else {
        mutate_tensor(&pick(g.initializer, rng), rng);
      }
      break;
    }
    case 12: {  // a graph input's type or shape
      if (g.input.empty()) break;
      mutate_value_info(&pick(g.input, rng), rng);
      break;
    }
    case 13: {  // graph outputs
      const size_t c = rng() % 3;
      if (g.output.empty() || c == 0) {
        ValueInfoProto out;
        out.name = any_name(*m, rng);
        out.is_tensor = true;
        out.elem_type = onnx::DataType::kFloat;
        g.output.push_back(out);
      } else if (c == 1) {
        g.output.erase(g.output.begin() + static_cast<long>(rng() % g.output.size()));
      } else {
        pick(g.output, rng).name = any_name(*m, rng);
      }
      break;
    }
    case 14: {  // opset / IR version
      if (m->opset_import.empty() || rng() % 4 == 0) m->opset_import.push_back({"", 13});
      pick(m->opset_import, rng).version = rng() % 3 ? static_cast<int64_t>(1 + rng() % 20) : any_int(rng);
      if (rng() % 4 == 0) m->ir_version = any_int(rng);
      break;
    }
    default: {  // an attribute tensor (Constant's value) or the graph input list itself
      for (NodeProto& n : g.node) {
        for (AttributeProto& a : n.attribute) {
          if (a.type == AttributeType::kTensor && rng() % 2) {
            mutate_tensor(&a.t, rng);
            return;
          }
        }
      }
      if (!g.input.empty() && rng() % 2) g.input.erase(g.input.begin() + static_cast<long>(rng() % g.input.size()));
      else if (!g.initializer.empty()) {  // an initializer also listed as an input (IR < 4 style)
        ValueInfoProto in;
        in.name = pick(g.initializer, rng).name;
        in.is_tensor = true;
        in.elem_type = onnx::DataType::kFloat;
        g.input.push_back(in);
      }
      break;
    }
  }
}

size_t write_out(const std::string& bytes, uint8_t* data, size_t max_size) {
  if (bytes.size() > max_size) return 0;
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  g_ops = onnx_supported_ops();
  g_supported = g_ops;
  std::sort(g_supported.begin(), g_supported.end());
  for (const char* op : {"If", "Loop", "Resize", "Tile", "Expand", "Where", "Cast", "NoSuchOp"}) g_ops.push_back(op);
  std::atexit(print_stats);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  if (rng() % 16 == 0) return LLVMFuzzerMutate(data, size, max_size);
  Result<ModelProto> model = onnx::parse_model(data, size);
  if (!model.ok()) return LLVMFuzzerMutate(data, size, max_size);
  if (rng() % 3 == 0 && !std::all_of(model->graph.node.begin(), model->graph.node.end(), is_supported)) {
    repair(&model.value(), rng);
  }
  const int rounds = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < rounds; ++i) mutate_once(&model.value(), rng);
  const size_t written = write_out(fuzz::encode_model(model.value()), data, max_size);
  return written ? written : LLVMFuzzerMutate(data, size, max_size);
}

// Splices a run of nodes (with the initializers they read) of model 2 into model 1.
extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1, const uint8_t* data2, size_t size2,
                                            uint8_t* out, size_t max_out_size, unsigned int seed) {
  std::mt19937 rng(seed);
  Result<ModelProto> a = onnx::parse_model(data1, size1);
  Result<ModelProto> b = onnx::parse_model(data2, size2);
  if (!a.ok() || !b.ok() || b->graph.node.empty()) return 0;
  const size_t begin = rng() % b->graph.node.size();
  const size_t end = begin + 1 + rng() % (b->graph.node.size() - begin);
  const size_t at = a->graph.node.empty() ? 0 : rng() % (a->graph.node.size() + 1);
  a->graph.node.insert(a->graph.node.begin() + static_cast<long>(at), b->graph.node.begin() + static_cast<long>(begin),
                       b->graph.node.begin() + static_cast<long>(end));
  for (size_t i = 0; i < b->graph.initializer.size() && i < 16; ++i) a->graph.initializer.push_back(b->graph.initializer[i]);
  if (rng() % 2 && !b->graph.node[end - 1].output.empty()) {
    ValueInfoProto o;
    o.name = b->graph.node[end - 1].output[0];
    o.is_tensor = true;
    o.elem_type = onnx::DataType::kFloat;
    a->graph.output.push_back(o);
  }
  return write_out(fuzz::encode_model(a.value()), out, max_out_size);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ++g_inputs;
  Result<ModelProto> model = onnx::parse_model(data, size);
  if (!model.ok()) {
    ++g_parse_rejected;
    return 0;
  }
  (void)onnx::opset_version(model.value());
  Result<std::shared_ptr<Graph>> graph = import_onnx(data, size);
  if (!graph.ok()) {
    ++g_import_rejected;
    return 0;
  }
  if (fuzz::run_once_if_small(graph.value())) ++g_ran;
  return 0;
}
