// ONNX model decoding: plain structs for the parts of onnx.proto (IR version <= 8) that Vitrine's
// importer needs, filled by our own protobuf wire decoder (protobuf_wire.h).
//
// Field numbers follow onnx/onnx.proto. Fields not mirrored here (doc strings, metadata_props,
// sparse initializers, training info, model-local functions, quantization annotations, ...) are
// skipped. Bytes are treated as hostile: malformed input yields Status::DataLoss naming the field
// and byte offset; input that is well formed but uses a feature this decoder does not provide
// (external tensor data, segmented tensors) yields Status::Unimplemented. Memory used is
// proportional to the input size.
//
// Every struct owns all of its data (strings and vectors are copies of the input bytes), so the
// input buffer may be released as soon as a parse_* function returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/status.h"

namespace vitrine {
namespace onnx {

// TensorProto.DataType values (the numbers stored in files).
struct DataType {
  static constexpr int32_t kUndefined = 0;
  static constexpr int32_t kFloat = 1;
  static constexpr int32_t kUint8 = 2;
  static constexpr int32_t kInt8 = 3;
  static constexpr int32_t kUint16 = 4;
  static constexpr int32_t kInt16 = 5;
  static constexpr int32_t kInt32 = 6;
  static constexpr int32_t kInt64 = 7;
  static constexpr int32_t kString = 8;
  static constexpr int32_t kBool = 9;
  static constexpr int32_t kFloat16 = 10;
  static constexpr int32_t kDouble = 11;
  static constexpr int32_t kUint32 = 12;
  static constexpr int32_t kUint64 = 13;
  static constexpr int32_t kComplex64 = 14;
  static constexpr int32_t kComplex128 = 15;
  static constexpr int32_t kBfloat16 = 16;
};

// AttributeProto.AttributeType values.
struct AttributeType {
  static constexpr int32_t kUndefined = 0;
  static constexpr int32_t kFloat = 1;
  static constexpr int32_t kInt = 2;
  static constexpr int32_t kString = 3;
  static constexpr int32_t kTensor = 4;
  static constexpr int32_t kGraph = 5;
  static constexpr int32_t kFloats = 6;
  static constexpr int32_t kInts = 7;
  static constexpr int32_t kStrings = 8;
  static constexpr int32_t kTensors = 9;
  static constexpr int32_t kGraphs = 10;
  static constexpr int32_t kSparseTensor = 11;
  static constexpr int32_t kSparseTensors = 12;
  static constexpr int32_t kTypeProto = 13;
  static constexpr int32_t kTypeProtos = 14;
};

// A serialized tensor. Elements are row-major and stored in exactly one of the *_data fields or in
// raw_data (use tensor_floats / tensor_int64s rather than reading these directly). The counts of
// the typed fields are NOT checked against dims at parse time; the accessors below check them.
struct TensorProto {
  std::string name;  // optional for node-test data; required for initializers
  int32_t data_type = DataType::kUndefined;  // a DataType value, kept as stored (may be unknown)
  std::vector<int64_t> dims;      // shape; empty = scalar (one element). Not validated here.
  std::vector<float> float_data;  // FLOAT, COMPLEX64 (interleaved real, imaginary)
  // INT32, INT16, INT8, UINT16, UINT8, BOOL; FLOAT16 and BFLOAT16 as their 16 bits.
  std::vector<int32_t> int32_data;
  std::vector<std::string> string_data;  // STRING
  std::vector<int64_t> int64_data;       // INT64
  std::vector<double> double_data;       // DOUBLE, COMPLEX128
  std::vector<uint64_t> uint64_data;     // UINT32, UINT64
  std::vector<uint8_t> raw_data;         // fixed-width little-endian elements (BOOL: one byte each)
  bool has_raw_data = false;             // raw_data was present in the file (possibly empty)
};

struct GraphProto;

// A named attribute of a node. `type` says which value field is used.
struct AttributeProto {
  std::string name;
  int32_t type = AttributeType::kUndefined;  // an AttributeType value, kept as stored
  float f = 0.0f;                            // FLOAT
  int64_t i = 0;                             // INT
  std::string s;                             // STRING (bytes, not validated as UTF-8)
  TensorProto t;                             // TENSOR
  // GRAPH (a subgraph of If / Loop / Scan); null when absent. Shared (immutable) so that copies of
  // an attribute are cheap.
  std::shared_ptr<const GraphProto> g;
  std::vector<float> floats;         // FLOATS
  std::vector<int64_t> ints;         // INTS
  std::vector<std::string> strings;  // STRINGS
  std::vector<TensorProto> tensors;  // TENSORS
  std::vector<GraphProto> graphs;    // GRAPHS
  std::string ref_attr_name;         // set only inside function bodies
};

// One operator application.
struct NodeProto {
  std::vector<std::string> input;   // value names; "" marks an omitted optional input
  std::vector<std::string> output;  // value names; "" marks an omitted optional output
  std::string name;                 // optional
  std::string op_type;              // "Conv", "Relu", ...
  std::string domain;               // "" (or "ai.onnx") for standard operators
  std::vector<AttributeProto> attribute;
};

// The name, element type and shape of a graph input, output or intermediate value.
struct ValueInfoProto {
  std::string name;
  bool is_tensor = false;  // false for sequence / map / optional types (not decoded further)
  int32_t elem_type = DataType::kUndefined;  // a DataType value (tensor types only)
  bool has_shape = false;                    // false: the rank itself is unknown
  // One entry per dimension: its size, or -1 when it is symbolic (see dim_params) or unknown.
  std::vector<int64_t> dims;
  // Parallel to dims: the symbolic name ("batch", "N") of each -1 dimension, "" elsewhere.
  std::vector<std::string> dim_params;
};

// A computation graph. Nodes are in topological order.
struct GraphProto {
  std::vector<NodeProto> node;
  std::string name;
  std::vector<TensorProto> initializer;  // constant (weight) tensors, referenced by name
  std::vector<ValueInfoProto> input;     // may also list initializers (IR version < 4 requires it)
  std::vector<ValueInfoProto> output;
  std::vector<ValueInfoProto> value_info;  // optional shapes of intermediate values
};

// An imported operator set: nodes of `domain` bind to operators of this version.
struct OperatorSetIdProto {
  std::string domain;  // "" or "ai.onnx": the standard operators
  int64_t version = 0;
};

// A whole .onnx file.
struct ModelProto {
  int64_t ir_version = 0;
  std::vector<OperatorSetIdProto> opset_import;
  std::string producer_name;
  std::string producer_version;
  GraphProto graph;
};

// Decodes a ModelProto (the contents of a .onnx file). Does not keep `data`.
Result<ModelProto> parse_model(const uint8_t* data, size_t size);
// Decodes a serialized TensorProto (e.g. test_data_set_*/input_*.pb of the ONNX node tests).
// Does not keep `data`.
Result<TensorProto> parse_tensor(const uint8_t* data, size_t size);

// The standard name of a data type ("FLOAT", "INT64", ...), or "unknown" for numbers outside the
// enum.
const char* data_type_name(int32_t data_type);
// Bytes per element in raw_data (BOOL: 1), or 0 for STRING, UNDEFINED and unknown types.
size_t data_type_size(int32_t data_type);

// Number of elements that `tensor.dims` describe (1 for a scalar). InvalidArgument naming the
// tensor and dimension when a dimension is negative or the count exceeds 2^59 (so that count *
// element size never overflows 64 bits).
Result<int64_t> num_elements(const TensorProto& tensor);

// The elements of a FLOAT, DOUBLE, FLOAT16 or BFLOAT16 tensor as floats (double is rounded), from
// the typed field or from raw_data. InvalidArgument naming the type for any other data type;
// DataLoss naming the tensor when the stored element count or raw_data size does not match dims, or
// when both raw_data and a typed field hold elements.
Result<std::vector<float>> tensor_floats(const TensorProto& tensor);
// The elements of an integer or BOOL tensor (INT8/16/32/64, UINT8/16/32/64, BOOL) as int64, from
// the typed field or raw_data. Errors as tensor_floats; OutOfRange for a UINT64 value above
// INT64_MAX.
Result<std::vector<int64_t>> tensor_int64s(const TensorProto& tensor);

// The version of the standard operator set ("" or "ai.onnx") or of another `domain` that `model`
// imports; the highest one if listed twice; 0 when the domain is not imported.
int64_t opset_version(const ModelProto& model, const std::string& domain = "");

// The attribute of `node` called `name`, or null. The pointer is valid while `node` is unchanged.
const AttributeProto* find_attribute(const NodeProto& node, const std::string& name);

}  // namespace onnx
}  // namespace vitrine
