// Test-only helpers that build ONNX bytes by hand: a tiny protobuf encoder (ProtoWriter), the
// onnx.proto field numbers, and a small builder for whole models (OnnxModelBuilder). Shared by
// onnx_model_test.cc (decoder tests) and hostile_model_test.cc (crafted files).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../../engine/src/io/onnx_model.h"
#include "../../engine/src/io/protobuf_wire.h"

namespace vitrine {
namespace onnx_test {

using protobuf::WireType;

// A tiny protobuf encoder for building test inputs.
class ProtoWriter {
 public:
  ProtoWriter& varint_field(uint32_t field, uint64_t value) {
    tag(field, WireType::kVarint);
    varint(value);
    return *this;
  }
  ProtoWriter& fixed32_field(uint32_t field, uint32_t value) {
    tag(field, WireType::kFixed32);
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<char>(value >> (8 * i)));
    return *this;
  }
  ProtoWriter& fixed64_field(uint32_t field, uint64_t value) {
    tag(field, WireType::kFixed64);
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>(value >> (8 * i)));
    return *this;
  }
  ProtoWriter& float_field(uint32_t field, float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return fixed32_field(field, bits);
  }
  ProtoWriter& bytes_field(uint32_t field, const std::string& value) {
    tag(field, WireType::kLengthDelimited);
    varint(value.size());
    bytes_ += value;
    return *this;
  }
  ProtoWriter& message_field(uint32_t field, const ProtoWriter& message) {
    return bytes_field(field, message.bytes());
  }
  ProtoWriter& packed_varints(uint32_t field, const std::vector<int64_t>& values) {
    ProtoWriter run;
    for (int64_t v : values) run.varint(static_cast<uint64_t>(v));
    return bytes_field(field, run.bytes());
  }
  ProtoWriter& packed_floats(uint32_t field, const std::vector<float>& values) {
    std::string run;
    for (float v : values) {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      for (int i = 0; i < 4; ++i) run.push_back(static_cast<char>(bits >> (8 * i)));
    }
    return bytes_field(field, run);
  }
  ProtoWriter& packed_doubles(uint32_t field, const std::vector<double>& values) {
    std::string run;
    for (double v : values) {
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      for (int i = 0; i < 8; ++i) run.push_back(static_cast<char>(bits >> (8 * i)));
    }
    return bytes_field(field, run);
  }
  ProtoWriter& raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  void tag(uint32_t field, WireType wire_type) {
    varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
  }
  void varint(uint64_t value) {
    while (value >= 0x80) {
      bytes_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    bytes_.push_back(static_cast<char>(value));
  }

  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

inline const uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

inline std::string little_endian(uint64_t value, int width) {
  std::string bytes;
  for (int i = 0; i < width; ++i) bytes.push_back(static_cast<char>(value >> (8 * i)));
  return bytes;
}

// Field numbers (onnx.proto).
// clang-format off
enum : uint32_t { kModelIrVersion = 1, kModelProducerName = 2, kModelProducerVersion = 3,
                  kModelGraph = 7, kModelOpsetImport = 8 };
enum : uint32_t { kOpsetDomain = 1, kOpsetVersion = 2 };
enum : uint32_t { kGraphNode = 1, kGraphName = 2, kGraphInitializer = 5, kGraphInput = 11,
                  kGraphOutput = 12, kGraphValueInfo = 13 };
enum : uint32_t { kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4,
                  kNodeAttribute = 5, kNodeDocString = 6, kNodeDomain = 7 };
enum : uint32_t { kAttrName = 1, kAttrF = 2, kAttrI = 3, kAttrS = 4, kAttrT = 5, kAttrG = 6,
                  kAttrFloats = 7, kAttrInts = 8, kAttrStrings = 9, kAttrGraphs = 11,
                  kAttrType = 20 };
enum : uint32_t { kTensorDims = 1, kTensorDataType = 2, kTensorFloatData = 4,
                  kTensorInt64Data = 7, kTensorName = 8, kTensorRawData = 9,
                  kTensorExternalData = 13, kTensorDataLocation = 14 };
enum : uint32_t { kValueInfoName = 1, kValueInfoType = 2 };
enum : uint32_t { kTypeTensorType = 1, kTypeSequenceType = 4 };
enum : uint32_t { kTensorTypeElemType = 1, kTensorTypeShape = 2 };
enum : uint32_t { kShapeDim = 1 };
enum : uint32_t { kDimValue = 1, kDimParam = 2 };
// clang-format on

inline ProtoWriter tensor_value_info(const std::string& name, int32_t elem_type,
                                     const std::vector<ProtoWriter>& dims) {
  ProtoWriter shape;
  for (const ProtoWriter& dim : dims) shape.message_field(kShapeDim, dim);
  ProtoWriter tensor_type;
  tensor_type.varint_field(kTensorTypeElemType, static_cast<uint64_t>(elem_type))
      .message_field(kTensorTypeShape, shape);
  ProtoWriter type;
  type.message_field(kTypeTensorType, tensor_type);
  ProtoWriter info;
  info.bytes_field(kValueInfoName, name).message_field(kValueInfoType, type);
  return info;
}
inline ProtoWriter dim_value(int64_t v) {
  return ProtoWriter().varint_field(kDimValue, static_cast<uint64_t>(v));
}
inline ProtoWriter dim_param(const std::string& p) { return ProtoWriter().bytes_field(kDimParam, p); }

// AttributeProto builders.
inline ProtoWriter attr_int(const std::string& name, int64_t v) {
  return ProtoWriter()
      .bytes_field(kAttrName, name)
      .varint_field(kAttrI, static_cast<uint64_t>(v))
      .varint_field(kAttrType, onnx::AttributeType::kInt);
}
inline ProtoWriter attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  ProtoWriter a;
  a.bytes_field(kAttrName, name);
  if (!v.empty()) a.packed_varints(kAttrInts, v);
  a.varint_field(kAttrType, onnx::AttributeType::kInts);
  return a;
}
inline ProtoWriter attr_string(const std::string& name, const std::string& v) {
  return ProtoWriter()
      .bytes_field(kAttrName, name)
      .bytes_field(kAttrS, v)
      .varint_field(kAttrType, onnx::AttributeType::kString);
}
inline ProtoWriter attr_float(const std::string& name, float v) {
  return ProtoWriter()
      .bytes_field(kAttrName, name)
      .float_field(kAttrF, v)
      .varint_field(kAttrType, onnx::AttributeType::kFloat);
}
inline ProtoWriter attr_graph(const std::string& name, const ProtoWriter& graph) {
  return ProtoWriter()
      .bytes_field(kAttrName, name)
      .message_field(kAttrG, graph)
      .varint_field(kAttrType, onnx::AttributeType::kGraph);
}

// TensorProto builders (the name is set by the caller's use: initializer or attribute).
inline ProtoWriter float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
  ProtoWriter t;
  if (!dims.empty()) t.packed_varints(kTensorDims, dims);
  t.varint_field(kTensorDataType, onnx::DataType::kFloat);
  if (!values.empty()) t.packed_floats(kTensorFloatData, values);
  if (!name.empty()) t.bytes_field(kTensorName, name);
  return t;
}
inline ProtoWriter int64_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& values) {
  ProtoWriter t;
  if (!dims.empty()) t.packed_varints(kTensorDims, dims);
  t.varint_field(kTensorDataType, onnx::DataType::kInt64);
  if (!values.empty()) t.packed_varints(kTensorInt64Data, values);
  if (!name.empty()) t.bytes_field(kTensorName, name);
  return t;
}

// Builds a whole model: float inputs with fixed shapes, nodes, initializers, outputs.
//
//   OnnxModelBuilder b(13);
//   b.input("x", {1, 1, 4, 4});
//   b.initializer(float_tensor("w", {1, 1, 3, 3}, std::vector<float>(9, 1.0f)));
//   b.node("Conv", {"x", "w"}, {"y"}, {attr_ints("strides", {0, 0})});
//   b.output("y");
//   std::string bytes = b.bytes();
class OnnxModelBuilder {
 public:
  explicit OnnxModelBuilder(int64_t opset = 13) : opset_(opset) {}

  OnnxModelBuilder& input(const std::string& name, const std::vector<int64_t>& dims) {
    std::vector<ProtoWriter> d;
    for (int64_t v : dims) d.push_back(dim_value(v));
    graph_.message_field(kGraphInput, tensor_value_info(name, onnx::DataType::kFloat, d));
    return *this;
  }
  // An input whose dimensions are sizes or symbols: {"batch", "3", "height", "width"}.
  OnnxModelBuilder& symbolic_input(const std::string& name, const std::vector<std::string>& dims) {
    std::vector<ProtoWriter> d;
    for (const std::string& v : dims) d.push_back(!v.empty() && v[0] >= '0' && v[0] <= '9' ? dim_value(std::stoll(v)) : dim_param(v));
    graph_.message_field(kGraphInput, tensor_value_info(name, onnx::DataType::kFloat, d));
    return *this;
  }
  // An input of any element type (onnx::DataType), e.g. a scalar int64 sample rate: dims {}.
  OnnxModelBuilder& typed_input(const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims) {
    std::vector<ProtoWriter> d;
    for (int64_t v : dims) d.push_back(dim_value(v));
    graph_.message_field(kGraphInput, tensor_value_info(name, elem_type, d));
    return *this;
  }
  OnnxModelBuilder& output(const std::string& name) {
    graph_.message_field(kGraphOutput, tensor_value_info(name, onnx::DataType::kFloat, {}));
    return *this;
  }
  OnnxModelBuilder& initializer(const ProtoWriter& tensor) {
    graph_.message_field(kGraphInitializer, tensor);
    return *this;
  }
  OnnxModelBuilder& node(const std::string& op_type, const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs,
                         const std::vector<ProtoWriter>& attributes = {}) {
    ProtoWriter n;
    for (const std::string& in : inputs) n.bytes_field(kNodeInput, in);
    for (const std::string& out : outputs) n.bytes_field(kNodeOutput, out);
    n.bytes_field(kNodeOpType, op_type);
    for (const ProtoWriter& a : attributes) n.message_field(kNodeAttribute, a);
    graph_.message_field(kGraphNode, n);
    return *this;
  }
  // The GraphProto built so far (a branch for attr_graph()).
  const ProtoWriter& graph() const { return graph_; }
  // The serialized ModelProto.
  std::string bytes() const {
    ProtoWriter model;
    model.varint_field(kModelIrVersion, 8)
        .message_field(kModelGraph, graph_)
        .message_field(kModelOpsetImport, ProtoWriter().bytes_field(kOpsetDomain, "").varint_field(
                                              kOpsetVersion, static_cast<uint64_t>(opset_)));
    return model.bytes();
  }

 private:
  int64_t opset_;
  ProtoWriter graph_;
};

}  // namespace onnx_test
}  // namespace vitrine
