// vitrine-conformance: runs the official ONNX node tests (Debian's libonnx-testdata) through the
// ONNX importer and the Executor, and reports, per ONNX op that the importer claims to support
// (onnx_supported_ops()), how many of that op's tests pass.
//
//   vitrine-conformance [--testdata DIR] [--json FILE] [--strict] [--atol A] [--verbose]
//
// DIR defaults to /usr/share/libonnx-testdata/data/node; each test is a directory holding
// model.onnx and test_data_set_N/{input_i.pb, output_i.pb} (serialized TensorProtos; input_i is
// the i-th graph input that is not an initializer, output_i the i-th graph output).
//
// A test is attributed to the ONNX op whose name, lowercased, is the longest prefix of the test
// name after "test_" with underscores removed (test_reduce_mean_keepdims -> ReduceMean,
// test_convtranspose_1d -> ConvTranspose, not Conv), plus a few special cases (test_batchnorm_* ->
// BatchNormalization, test_basic_conv_* -> Conv, test_{constant,edge,reflect}_pad -> Pad,
// test_training_dropout* -> Dropout, test_tril* / test_triu* -> Trilu, test_instancenorm_* ->
// InstanceNormalization). The candidate op names are every op type used by any test
// model. Every test attributed to a claimed op is counted, including those whose model also uses
// an op we do not support (a failure: "uses unsupported op X") and those with inputs or outputs of
// an element type the engine does not hold (a failure: "dtype not held: ..."; the engine holds
// FLOAT, DOUBLE, FLOAT16, INT64, INT32, INT16, INT8, UINT64, UINT32, UINT16, UINT8 and BOOL). Tests of
// ops we do not claim are not counted.
//
// The node tests pass weights, shapes, axes and bounds as graph inputs, while the importer (static
// graphs, as exported by PyTorch) needs them as constants. So a test is first run as published,
// every input fed at run time; when that cannot start because the importer needs some input as a
// constant (an Unimplemented / InvalidArgument import error) or because an input after the first is
// not float, it is run again with every input after the first baked into the model as an
// initializer holding the data set's value, and only the first input fed. The report says which
// tests passed that way ("passed_with_constant_inputs") and marks failures from such runs
// ("constant_inputs": true). --strict skips that second run.
//
// Comparison follows the ONNX backend tests (numpy.testing.assert_allclose): an output matches when
// its shape equals the reference's and every element satisfies |a - b| <= atol + rtol * |b|, with
// rtol = 1e-3 and atol = 1e-5. (The ONNX backend default is atol = 1e-7; we allow 1e-5 because
// XNNPACK reassociates float sums, which moves results near zero by a few ulps of the terms.)
// NaN matches NaN; infinities must match exactly. A test passes when all its data sets pass.
//
// Output: a JSON report (default bench/results/onnx-conformance.json) and a table on stdout. The
// exit code is 0 whatever the results (it is a report); 2 when the test data directory is missing
// or the report cannot be written.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/onnx_model.h"
#include "io/protobuf_wire.h"
#include "vitrine/context.h"
#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/npy.h"
#include "vitrine/onnx_import.h"

using namespace vitrine;

namespace {

constexpr double kRtol = 1e-3;
double g_atol = 1e-5;  // --atol

bool is_dir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string lower_no_underscores(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != '_') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

bool is_standard_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// The ONNX op a test exercises (see the header comment), or "" when none of `ops` matches.
std::string attribute_test(const std::string& test, const std::vector<std::string>& ops) {
  std::string name = starts_with(test, "test_") ? test.substr(5) : test;
  static const std::pair<const char*, const char*> kSpecial[] = {
      {"batchnorm", "BatchNormalization"}, {"constant_pad", "Pad"}, {"edge_pad", "Pad"},
      {"reflect_pad", "Pad"},              {"wrap_pad", "Pad"},     {"training_dropout", "Dropout"},
      {"tril", "Trilu"},                   {"triu", "Trilu"},       {"instancenorm", "InstanceNormalization"},
  };
  for (const auto& [prefix, op] : kSpecial)
    if (starts_with(name, prefix)) return op;
  if (starts_with(name, "basic_")) name = name.substr(6);  // test_basic_conv_*, test_basic_convinteger
  const std::string key = lower_no_underscores(name);
  std::string best;
  for (const std::string& op : ops) {
    const std::string l = lower_no_underscores(op);
    if (starts_with(key, l) && l.size() > lower_no_underscores(best).size()) best = op;
  }
  return best;
}

struct TestCase {
  std::string name;
  std::string dir;
  Result<onnx::ModelProto> model = Status::Internal("not parsed");
  std::string op;  // attributed op ("" when none)
};

Result<onnx::TensorProto> load_tensor(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_binary_file(path);
  if (!bytes.ok()) return bytes.status();
  Result<onnx::TensorProto> t = onnx::parse_tensor(bytes->data(), bytes->size());
  if (!t.ok()) return Status(t.status().code(), path + ": " + t.status().message());
  return t;
}

// "test_data_set_0", ... in numeric order.
std::vector<std::string> data_sets(const std::string& dir) {
  std::vector<std::pair<long, std::string>> found;
  for (const std::string& n : list_dir(dir)) {
    if (starts_with(n, "test_data_set_") && is_dir(dir + "/" + n)) found.emplace_back(std::atol(n.c_str() + 14), n);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

// Loads <set>/<prefix>_0.pb, <prefix>_1.pb, ... (count files).
Result<std::vector<onnx::TensorProto>> load_set(const std::string& set_dir, const char* prefix, size_t count) {
  std::vector<onnx::TensorProto> out;
  for (size_t i = 0; i < count; ++i) {
    const std::string path = set_dir + "/" + prefix + "_" + std::to_string(i) + ".pb";
    if (!is_file(path)) return Status::NotFound(path + " is missing");
    Result<onnx::TensorProto> t = load_tensor(path);
    if (!t.ok()) return t.status();
    out.push_back(std::move(t).value());
  }
  return out;
}

// The engine dtype of an ONNX element type it holds.
bool held_dtype(int32_t onnx_type, DType* dtype) {
  switch (onnx_type) {
    case onnx::DataType::kFloat: *dtype = DType::kF32; return true;
    case onnx::DataType::kInt64: *dtype = DType::kI64; return true;
    case onnx::DataType::kInt32: *dtype = DType::kI32; return true;
    case onnx::DataType::kUint8: *dtype = DType::kU8; return true;
    case onnx::DataType::kInt8: *dtype = DType::kI8; return true;
    case onnx::DataType::kBool: *dtype = DType::kBool; return true;
    case onnx::DataType::kDouble: *dtype = DType::kF64; return true;
    case onnx::DataType::kFloat16: *dtype = DType::kF16; return true;
    case onnx::DataType::kInt16: *dtype = DType::kI16; return true;
    case onnx::DataType::kUint16: *dtype = DType::kU16; return true;
    case onnx::DataType::kUint32: *dtype = DType::kU32; return true;
    case onnx::DataType::kUint64: *dtype = DType::kU64; return true;
    default: return false;
  }
}

double element(const Tensor& t, int64_t k) { return t.element_as_double(k); }

// A stored tensor as an engine tensor of its dtype.
Result<Tensor> to_tensor(const onnx::TensorProto& p) {
  DType dtype;
  if (!held_dtype(p.data_type, &dtype)) return Status::Unimplemented(std::string("dtype ") + onnx::data_type_name(p.data_type));
  Result<Shape> shape = Shape::make(p.dims.empty() ? std::vector<int64_t>{1} : p.dims);
  if (!shape.ok()) return shape.status();
  if (dtype == DType::kF32) {
    Result<std::vector<float>> values = onnx::tensor_floats(p);
    if (!values.ok()) return values.status();
    return Tensor::from_values(shape.value(), values->data(), values->size());
  }
  if (dtype == DType::kF64 || dtype == DType::kF16) {  // exact: raw little-endian bytes, double_data, or half bits in int32_data
    Result<Tensor> t = Tensor::zeros(shape.value(), dtype);
    if (!t.ok()) return t;
    const size_t n = static_cast<size_t>(t->num_elements());
    if (p.has_raw_data) {
      if (p.raw_data.size() != t->nbytes()) return Status::DataLoss("raw_data size differs from the shape");
      if (n) std::memcpy(t->mutable_raw_data(), p.raw_data.data(), t->nbytes());
    } else if (dtype == DType::kF64) {
      if (p.double_data.size() != n) return Status::DataLoss("double_data count differs from the shape");
      std::copy(p.double_data.begin(), p.double_data.end(), t->mutable_data_as<double>());
    } else {
      if (p.int32_data.size() != n) return Status::DataLoss("int32_data count differs from the shape");
      for (size_t k = 0; k < n; ++k) t->mutable_data_as<uint16_t>()[k] = static_cast<uint16_t>(p.int32_data[k]);
    }
    return t;
  }
  Result<std::vector<int64_t>> values = onnx::tensor_int64s(p);
  if (!values.ok()) return values.status();
  Result<Tensor> t = Tensor::zeros(shape.value(), dtype);
  if (!t.ok()) return t;
  if (static_cast<int64_t>(values->size()) != t->num_elements()) return Status::DataLoss("element count differs from the shape");
  for (size_t k = 0; k < values->size(); ++k) {
    const int64_t v = values.value()[k];
    switch (dtype) {
      case DType::kI64: t->mutable_data_as<int64_t>()[k] = v; break;
      case DType::kI32: t->mutable_data_as<int32_t>()[k] = static_cast<int32_t>(v); break;
      case DType::kI16: t->mutable_data_as<int16_t>()[k] = static_cast<int16_t>(v); break;
      case DType::kI8: t->mutable_data_as<int8_t>()[k] = static_cast<int8_t>(v); break;
      case DType::kU64: t->mutable_data_as<uint64_t>()[k] = static_cast<uint64_t>(v); break;
      case DType::kU32: t->mutable_data_as<uint32_t>()[k] = static_cast<uint32_t>(v); break;
      case DType::kU16: t->mutable_data_as<uint16_t>()[k] = static_cast<uint16_t>(v); break;
      default: t->mutable_data_as<uint8_t>()[k] = dtype == DType::kBool ? v != 0 : static_cast<uint8_t>(v); break;
    }
  }
  return t;
}

std::string shape_string(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

// Compares one output; "" when it matches, else the reason.
std::string compare(size_t index, const Tensor& got, const onnx::TensorProto& want) {
  const std::string what = "output " + std::to_string(index);
  if (got.shape().to_vector() != want.dims) {
    return what + " has shape " + shape_string(got.shape().to_vector()) + ", expected " + shape_string(want.dims);
  }
  DType want_dtype;
  if (!held_dtype(want.data_type, &want_dtype) || want_dtype != got.dtype()) {
    return what + " is " + dtype_name(got.dtype()) + ", expected " + onnx::data_type_name(want.data_type);
  }
  Result<Tensor> ref_tensor = to_tensor(want);
  if (!ref_tensor.ok()) return what + " reference: " + ref_tensor.status().to_string();
  if (ref_tensor->num_elements() != got.num_elements()) return what + ": element count differs";
  // Integers and bools must be equal.
  const bool exact = got.dtype() != DType::kF32 && got.dtype() != DType::kF64 && got.dtype() != DType::kF16;
  double max_err = 0;
  int64_t worst = -1;
  bool bad = false;
  for (int64_t k = 0; k < got.num_elements(); ++k) {
    const double x = element(got, k), y = element(ref_tensor.value(), k);
    double e;
    bool ok;
    if (std::isnan(y) || std::isnan(x)) {
      ok = std::isnan(x) && std::isnan(y);
      e = ok ? 0 : INFINITY;
    } else if (std::isinf(y) || std::isinf(x)) {
      ok = x == y;
      e = ok ? 0 : INFINITY;
    } else {
      e = std::fabs(x - y);
      ok = exact ? x == y : e <= g_atol + kRtol * std::fabs(y);
    }
    if (!ok) bad = true;
    if (!ok && (worst < 0 || e > max_err)) {
      max_err = e;
      worst = k;
    }
  }
  if (!bad) return "";
  return what + " differs: max abs err " + fmt("%.3g", max_err) + " at index " + std::to_string(worst) + " (got " +
         fmt("%.6g", element(got, worst)) + ", expected " + fmt("%.6g", element(ref_tensor.value(), worst)) + ")";
}

void put_varint(std::vector<uint8_t>* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

void put_bytes_field(std::vector<uint8_t>* out, uint32_t number, const uint8_t* data, size_t size) {
  put_varint(out, (uint64_t{number} << 3) | 2);
  put_varint(out, size);
  out->insert(out->end(), data, data + size);
}

// `model` with extra GraphProto.initializer entries: each a serialized TensorProto, renamed to the
// paired name. (Every top-level field is copied as is; the graph field gets the initializers
// appended, which protobuf reads as more elements of the repeated field.)
Result<std::vector<uint8_t>> with_initializers(const std::vector<uint8_t>& model,
                                               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& inits) {
  protobuf::WireReader reader(model.data(), model.size());
  std::vector<uint8_t> out;
  bool graph_seen = false;
  while (!reader.at_end()) {
    protobuf::FieldKey key;
    VITRINE_RETURN_IF_ERROR(reader.read_field_key("ModelProto", &key));
    if (key.number == 7 && key.wire_type == protobuf::WireType::kLengthDelimited && !graph_seen) {
      graph_seen = true;
      const uint8_t* data = nullptr;
      size_t size = 0;
      VITRINE_RETURN_IF_ERROR(reader.read_bytes("ModelProto.graph", &data, &size));
      std::vector<uint8_t> graph(data, data + size);
      for (const auto& [name, tensor] : inits) {
        std::vector<uint8_t> t = tensor;
        put_bytes_field(&t, 8, reinterpret_cast<const uint8_t*>(name.data()), name.size());  // name (last wins)
        put_bytes_field(&graph, 5, t.data(), t.size());
      }
      put_bytes_field(&out, 7, graph.data(), graph.size());
    } else {
      VITRINE_RETURN_IF_ERROR(reader.skip_field(key, "ModelProto"));
      out.insert(out.end(), model.begin() + static_cast<std::ptrdiff_t>(key.offset),
                 model.begin() + static_cast<std::ptrdiff_t>(reader.offset()));
    }
  }
  if (!graph_seen) return Status::DataLoss("model.onnx has no graph");
  return out;
}

// How a run ended: passed, or failed at some stage with a reason.
struct Outcome {
  enum Stage { kPassed, kTypes, kSetup, kImport, kRun, kCompare } stage = kPassed;
  std::string reason;
  bool frozen_input_type = false;  // kTypes: the offending tensor is a runtime input other than the first
};

Outcome fail_at(Outcome::Stage stage, std::string reason, bool later_input = false) {
  Outcome o;
  o.stage = stage;
  o.reason = std::move(reason);
  o.frozen_input_type = later_input;
  return o;
}

// Runs one test whose model uses only supported ops. With `freeze`, every graph input but the first
// is baked into the model as an initializer holding the data set's value (so the importer sees
// weights, shapes and axes as constants, as in an exported model), and only the first is fed.
Outcome run_test(const TestCase& t, Context* ctx, bool freeze) {
  const onnx::ModelProto& model = t.model.value();
  const onnx::GraphProto& g = model.graph;
  std::set<std::string> initializers;
  for (const onnx::TensorProto& init : g.initializer) initializers.insert(init.name);
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const onnx::ValueInfoProto& in : g.input)
    if (!initializers.count(in.name)) inputs.push_back(&in);
  const size_t fed = freeze ? std::min<size_t>(inputs.size(), 1) : inputs.size();

  // Element types: the model's declaration first, then the stored tensors.
  for (size_t i = 0; i < fed; ++i) {
    const onnx::ValueInfoProto* in = inputs[i];
    DType dt;
    if (!in->is_tensor) return fail_at(Outcome::kTypes, "dtype not held: input '" + in->name + "' is not a tensor", i > 0);
    if (!held_dtype(in->elem_type, &dt))
      return fail_at(Outcome::kTypes,
                     "dtype not held: input '" + in->name + "' is " + onnx::data_type_name(in->elem_type), i > 0);
  }
  for (const onnx::ValueInfoProto& out : g.output) {
    DType dt;
    if (!out.is_tensor) return fail_at(Outcome::kTypes, "dtype not held: output '" + out.name + "' is not a tensor");
    if (!held_dtype(out.elem_type, &dt))
      return fail_at(Outcome::kTypes,
                     "dtype not held: output '" + out.name + "' is " + onnx::data_type_name(out.elem_type));
  }
  const std::vector<std::string> sets = data_sets(t.dir);
  if (sets.empty()) return fail_at(Outcome::kSetup, "no test_data_set_* directory");
  Result<std::vector<uint8_t>> bytes = read_binary_file(t.dir + "/model.onnx");
  if (!bytes.ok()) return fail_at(Outcome::kSetup, bytes.status().to_string());

  OnnxImportOptions options;
  bool symbolic = false;
  for (size_t i = 0; i < fed; ++i) {
    if (!inputs[i]->has_shape) symbolic = true;
    for (int64_t d : inputs[i]->dims) symbolic = symbolic || d < 0;
  }
  if (symbolic) {
    Result<std::vector<onnx::TensorProto>> first = load_set(t.dir + "/" + sets[0], "input", fed);
    if (!first.ok()) return fail_at(Outcome::kSetup, first.status().to_string());
    for (size_t i = 0; i < fed; ++i) options.input_shapes[inputs[i]->name] = first.value()[i].dims;
  }

  std::shared_ptr<Graph> graph;
  std::unique_ptr<Executor> ex;
  std::vector<size_t> slot(fed), out_slot(g.output.size());
  // Imports `model_bytes` and builds the executor and the input / output slots.
  auto build = [&](const std::vector<uint8_t>& model_bytes) -> Outcome {
    Result<std::shared_ptr<Graph>> gr = import_onnx(model_bytes.data(), model_bytes.size(), options);
    if (!gr.ok()) return fail_at(Outcome::kImport, gr.status().to_string());
    graph = gr.value();
    ex.reset();
    Result<std::unique_ptr<Executor>> e = Executor::create(graph, ctx);
    if (!e.ok()) return fail_at(Outcome::kImport, e.status().to_string());
    ex = std::move(e).value();
    const Graph& vg = *graph;
    for (size_t i = 0; i < fed; ++i) {
      Result<int> id = vg.find(inputs[i]->name);
      size_t s = 0;
      while (id.ok() && s < vg.inputs().size() && vg.inputs()[s] != id.value()) ++s;
      if (!id.ok() || s == vg.inputs().size())
        return fail_at(Outcome::kImport, "input '" + inputs[i]->name + "' is not an input of the imported graph");
      slot[i] = s;
    }
    if (vg.inputs().size() != fed)
      return fail_at(Outcome::kImport, "the imported graph has " + std::to_string(vg.inputs().size()) + " inputs, expected " +
                                           std::to_string(fed));
    for (size_t i = 0; i < g.output.size(); ++i) {
      size_t s = 0;
      while (s < vg.output_names().size() && vg.output_names()[s] != g.output[i].name) ++s;
      if (s == vg.output_names().size())
        return fail_at(Outcome::kImport, "output '" + g.output[i].name + "' is not an output of the imported graph");
      out_slot[i] = s;
    }
    return Outcome{};
  };
  if (!freeze) {
    Outcome o = build(bytes.value());
    if (o.stage != Outcome::kPassed) return o;
  }

  for (const std::string& set : sets) {
    const std::string set_dir = t.dir + "/" + set;
    const std::string where = sets.size() > 1 ? " (" + set + ")" : "";
    Result<std::vector<onnx::TensorProto>> ins = load_set(set_dir, "input", fed);
    if (!ins.ok()) return fail_at(Outcome::kSetup, ins.status().to_string());
    Result<std::vector<onnx::TensorProto>> outs = load_set(set_dir, "output", g.output.size());
    if (!outs.ok()) return fail_at(Outcome::kSetup, outs.status().to_string());
    if (freeze) {  // this data set's values of the frozen inputs, as initializers
      std::vector<std::pair<std::string, std::vector<uint8_t>>> inits;
      for (size_t i = fed; i < inputs.size(); ++i) {
        Result<std::vector<uint8_t>> raw = read_binary_file(set_dir + "/input_" + std::to_string(i) + ".pb");
        if (!raw.ok()) return fail_at(Outcome::kSetup, raw.status().to_string());
        inits.emplace_back(inputs[i]->name, std::move(raw).value());
      }
      Result<std::vector<uint8_t>> frozen = with_initializers(bytes.value(), inits);
      if (!frozen.ok()) return fail_at(Outcome::kSetup, frozen.status().to_string());
      Outcome o = build(frozen.value());
      if (o.stage != Outcome::kPassed) {
        o.reason += where;
        return o;
      }
    }
    const Graph& vg = *graph;
    std::vector<Tensor> feeds(vg.inputs().size());
    for (size_t i = 0; i < fed; ++i) {
      const onnx::TensorProto& p = ins.value()[i];
      const std::string file = "input_" + std::to_string(i) + ".pb";
      DType dt;
      if (!held_dtype(p.data_type, &dt))
        return fail_at(Outcome::kTypes, "dtype not held: " + file + " is " + onnx::data_type_name(p.data_type), i > 0);
      Result<Tensor> tensor = to_tensor(p);
      if (!tensor.ok()) return fail_at(Outcome::kSetup, file + ": " + tensor.status().to_string());
      feeds[slot[i]] = tensor.value();
    }
    for (const onnx::TensorProto& p : outs.value()) {
      DType dt;
      if (!held_dtype(p.data_type, &dt))
        return fail_at(Outcome::kTypes, std::string("dtype not held: an output is ") + onnx::data_type_name(p.data_type));
    }
    std::vector<Tensor> results;
    Status s = ex->run(feeds, &results);
    if (!s.ok()) return fail_at(Outcome::kRun, s.to_string() + where);
    if (results.size() != vg.outputs().size())
      return fail_at(Outcome::kRun, "executor returned " + std::to_string(results.size()) + " outputs");
    for (size_t i = 0; i < g.output.size(); ++i) {
      std::string why = compare(i, results[out_slot[i]], outs.value()[i]);
      if (!why.empty()) return fail_at(Outcome::kCompare, why + where);
    }
  }
  return Outcome{};
}

// Runs a test as published (every graph input fed at run time); when that cannot even start because
// the importer needs some input as a constant (or an input after the first is not float), runs it
// again with the inputs after the first frozen as initializers. Sets *frozen when the reported
// outcome comes from that second run.
Outcome run_with_fallback(const TestCase& t, Context* ctx, bool strict, bool* frozen) {
  *frozen = false;
  Outcome plain = run_test(t, ctx, false);
  if (strict) return plain;
  size_t runtime_inputs = 0;
  std::set<std::string> initializers;
  for (const onnx::TensorProto& init : t.model->graph.initializer) initializers.insert(init.name);
  for (const onnx::ValueInfoProto& in : t.model->graph.input) runtime_inputs += !initializers.count(in.name);
  const bool retry = runtime_inputs > 1 && (plain.stage == Outcome::kImport ||
                                            (plain.stage == Outcome::kTypes && plain.frozen_input_type));
  if (!retry) return plain;
  *frozen = true;
  return run_test(t, ctx, true);
}

struct Failure {
  std::string test, reason;
  bool constant_inputs = false;  // the reason comes from the run with inputs after the first frozen
};

struct OpReport {
  int passed = 0;
  int total = 0;
  std::vector<std::string> passed_with_constant_inputs;  // tests that passed only with frozen inputs
  std::vector<Failure> failures;
};

std::string today() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string testdata = "/usr/share/libonnx-testdata/data/node";
  std::string json_path = "bench/results/onnx-conformance.json";
  bool verbose = false, strict = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--testdata" || arg == "--json") && i + 1 < argc) {
      (arg == "--testdata" ? testdata : json_path) = argv[++i];
    } else if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--strict") {
      strict = true;
    } else if (arg == "--atol" && i + 1 < argc) {
      g_atol = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: vitrine-conformance [--testdata DIR] [--json FILE] [--strict] [--atol A] [--verbose]\n");
      return 2;
    }
  }
  if (!is_dir(testdata)) {
    std::fprintf(stderr,
                 "vitrine-conformance: test data directory %s is missing (install Debian's libonnx-testdata or "
                 "pass --testdata DIR)\n",
                 testdata.c_str());
    return 2;
  }
  const std::vector<std::string> claimed_list = onnx_supported_ops();
  const std::set<std::string> claimed(claimed_list.begin(), claimed_list.end());

  // Parse every model; the op types they use are the candidates for attribution.
  std::vector<TestCase> tests;
  std::set<std::string> all_ops(claimed.begin(), claimed.end());
  for (const std::string& name : list_dir(testdata)) {
    const std::string dir = testdata + "/" + name;
    if (!starts_with(name, "test_") || !is_file(dir + "/model.onnx")) continue;
    TestCase t;
    t.name = name;
    t.dir = dir;
    Result<std::vector<uint8_t>> bytes = read_binary_file(dir + "/model.onnx");
    t.model = bytes.ok() ? onnx::parse_model(bytes->data(), bytes->size()) : Result<onnx::ModelProto>(bytes.status());
    if (t.model.ok()) {
      for (const onnx::NodeProto& n : t.model->graph.node)
        if (is_standard_domain(n.domain)) all_ops.insert(n.op_type);
    }
    tests.push_back(std::move(t));
  }
  if (tests.empty()) {
    std::fprintf(stderr, "vitrine-conformance: no test_*/model.onnx under %s\n", testdata.c_str());
    return 2;
  }
  const std::vector<std::string> candidates(all_ops.begin(), all_ops.end());

  Result<std::unique_ptr<Context>> ctx = Context::create(1, 1);
  if (!ctx.ok()) {
    std::fprintf(stderr, "vitrine-conformance: %s\n", ctx.status().to_string().c_str());
    return 2;
  }

  std::map<std::string, OpReport> reports;
  for (const std::string& op : claimed) reports[op];
  std::vector<std::pair<std::string, std::string>> unclaimed_runnable;  // (test, "passed" / reason)
  for (TestCase& t : tests) {
    t.op = attribute_test(t.name, candidates);
    const bool counted = claimed.count(t.op) > 0;
    std::string reason;
    bool runnable = true;
    if (!t.model.ok()) {
      reason = "model.onnx: " + t.model.status().to_string();
      runnable = false;
    } else {
      std::set<std::string> unsupported;
      for (const onnx::NodeProto& n : t.model->graph.node) {
        if (!is_standard_domain(n.domain)) unsupported.insert(n.domain + "." + n.op_type);
        else if (!claimed.count(n.op_type)) unsupported.insert(n.op_type);
      }
      if (!unsupported.empty()) {
        std::string list;
        for (const std::string& u : unsupported) list += (list.empty() ? "" : ", ") + u;
        reason = "uses unsupported op" + std::string(unsupported.size() > 1 ? "s " : " ") + list;
        runnable = false;
      }
    }
    if (!counted && !runnable) continue;
    bool frozen = false;
    if (runnable) reason = run_with_fallback(t, ctx->get(), strict, &frozen).reason;
    if (verbose) {
      std::fprintf(stderr, "%-50s %-20s %s%s\n", t.name.c_str(), t.op.c_str(), frozen ? "[constant inputs] " : "",
                   reason.empty() ? "ok" : reason.c_str());
    }
    if (!counted) {
      unclaimed_runnable.emplace_back(t.name, reason.empty() ? "passed" : reason);
      continue;
    }
    OpReport& r = reports[t.op];
    r.total++;
    if (reason.empty()) {
      r.passed++;
      if (frozen) r.passed_with_constant_inputs.push_back(t.name);
    } else {
      r.failures.push_back({t.name, reason, frozen});
    }
  }

  // Report.
  Json ops = Json::object();
  int passed = 0, total = 0;
  for (const auto& [op, r] : reports) {
    Json failures = Json::array();
    for (const Failure& f : r.failures) {
      Json item = Json::object({{"test", Json(f.test)}, {"reason", Json(f.reason)}});
      if (f.constant_inputs) item.set("constant_inputs", Json(true));
      failures.push_back(item);
    }
    Json frozen = Json::array();
    for (const std::string& test : r.passed_with_constant_inputs) frozen.push_back(Json(test));
    ops.set(op, Json::object({{"passed", Json(r.passed)},
                              {"total", Json(r.total)},
                              {"passed_with_constant_inputs", frozen},
                              {"failures", failures}}));
    passed += r.passed;
    total += r.total;
  }
  Json other = Json::array();
  for (const auto& [test, result] : unclaimed_runnable) {
    other.push_back(Json::object({{"test", Json(test)}, {"result", Json(result)}}));
  }
  Json report = Json::object({
      {"generated_by", Json("npm run conformance")},
      {"testdata", Json(testdata)},
      {"date", Json(today())},
      {"constant_input_fallback", Json(!strict)},
      {"tolerance", Json::object({{"rtol", Json(kRtol)}, {"atol", Json(g_atol)},
                                  {"rule", Json("|got - expected| <= atol + rtol * |expected|, shapes equal")}})},
      {"ops", ops},
      {"totals", Json::object({{"passed", Json(passed)}, {"total", Json(total)}})},
      // Tests of ops we do not claim whose models happen to use only supported ops: run for
      // information, not counted above.
      {"unclaimed_op_tests", other},
  });
  std::string text = report.dump();
  text.push_back('\n');
  Status w = write_binary_file(json_path, std::vector<uint8_t>(text.begin(), text.end()));
  if (!w.ok()) {
    std::fprintf(stderr, "vitrine-conformance: cannot write %s: %s\n", json_path.c_str(), w.to_string().c_str());
    return 2;
  }

  std::printf("ONNX node tests (%s), rtol %g, atol %g\n\n", testdata.c_str(), kRtol, g_atol);
  std::printf("%-20s %9s %7s  %s\n", "op", "passed", "%", "of which with constant inputs");
  int frozen_total = 0;
  for (const auto& [op, r] : reports) {
    const std::string pt = std::to_string(r.passed) + "/" + std::to_string(r.total);
    const int nf = static_cast<int>(r.passed_with_constant_inputs.size());
    frozen_total += nf;
    const std::string note = nf ? std::to_string(nf) : "";
    if (r.total) std::printf("%-20s %9s %6.0f%%  %s\n", op.c_str(), pt.c_str(), 100.0 * r.passed / r.total, note.c_str());
    else std::printf("%-20s %9s %7s\n", op.c_str(), pt.c_str(), "-");
  }
  const std::string pt = std::to_string(passed) + "/" + std::to_string(total);
  std::printf("%-20s %9s %6.0f%%  %d\n", "total", pt.c_str(), total ? 100.0 * passed / total : 0.0, frozen_total);
  int other_passed = 0;
  for (const auto& o : unclaimed_runnable) other_passed += o.second == "passed";
  if (!unclaimed_runnable.empty()) {
    std::printf("\n(%d tests of unclaimed ops use only supported ops; %d of them pass; not counted above)\n",
                static_cast<int>(unclaimed_runnable.size()), other_passed);
  }
  std::printf("\nreport: %s\n", json_path.c_str());
  return 0;
}
