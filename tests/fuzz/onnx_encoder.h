// Encodes the decoded ONNX structs of engine/src/io/onnx_model.h back to protobuf bytes, so that the
// onnx harness's structure-aware mutator can decode a model, change it, and write it out again.
// Writes every field the decoder keeps (and nothing else); parse_model(encode_model(m)) gives back
// m, except that negative ValueInfo dimensions come back as unknown (-1) ones.
#pragma once

#include <string>
#include <vector>

#include "tests/engine/onnx_builder.h"

namespace vitrine {
namespace fuzz {

using onnx_test::ProtoWriter;

inline ProtoWriter encode_graph(const onnx::GraphProto& graph);

inline bool tensor_is_empty(const onnx::TensorProto& t) {
  return t.name.empty() && t.data_type == 0 && t.dims.empty() && t.float_data.empty() &&
         t.int32_data.empty() && t.string_data.empty() && t.int64_data.empty() && t.double_data.empty() &&
         t.uint64_data.empty() && !t.has_raw_data;
}

inline ProtoWriter encode_tensor(const onnx::TensorProto& t) {
  ProtoWriter w;
  if (!t.dims.empty()) w.packed_varints(1, t.dims);
  if (t.data_type != 0) w.varint_field(2, static_cast<uint64_t>(static_cast<int64_t>(t.data_type)));
  if (!t.float_data.empty()) w.packed_floats(4, t.float_data);
  if (!t.int32_data.empty()) w.packed_varints(5, std::vector<int64_t>(t.int32_data.begin(), t.int32_data.end()));
  for (const std::string& s : t.string_data) w.bytes_field(6, s);
  if (!t.int64_data.empty()) w.packed_varints(7, t.int64_data);
  if (!t.name.empty()) w.bytes_field(8, t.name);
  if (t.has_raw_data) w.bytes_field(9, std::string(t.raw_data.begin(), t.raw_data.end()));
  if (!t.double_data.empty()) w.packed_doubles(10, t.double_data);
  if (!t.uint64_data.empty()) {
    w.packed_varints(11, std::vector<int64_t>(t.uint64_data.begin(), t.uint64_data.end()));
  }
  return w;
}

inline ProtoWriter encode_attribute(const onnx::AttributeProto& a) {
  namespace at = onnx;
  ProtoWriter w;
  if (!a.name.empty()) w.bytes_field(1, a.name);
  if (a.f != 0.0f || a.type == at::AttributeType::kFloat) w.float_field(2, a.f);
  if (a.i != 0 || a.type == at::AttributeType::kInt) w.varint_field(3, static_cast<uint64_t>(a.i));
  if (!a.s.empty() || a.type == at::AttributeType::kString) w.bytes_field(4, a.s);
  if (a.type == at::AttributeType::kTensor || !tensor_is_empty(a.t)) w.message_field(5, encode_tensor(a.t));
  if (a.g) w.message_field(6, encode_graph(*a.g));
  if (!a.floats.empty()) w.packed_floats(7, a.floats);
  if (!a.ints.empty()) w.packed_varints(8, a.ints);
  for (const std::string& s : a.strings) w.bytes_field(9, s);
  for (const onnx::TensorProto& t : a.tensors) w.message_field(10, encode_tensor(t));
  for (const onnx::GraphProto& g : a.graphs) w.message_field(11, encode_graph(g));
  if (a.type != 0) w.varint_field(20, static_cast<uint64_t>(static_cast<int64_t>(a.type)));
  if (!a.ref_attr_name.empty()) w.bytes_field(21, a.ref_attr_name);
  return w;
}

inline ProtoWriter encode_node(const onnx::NodeProto& n) {
  ProtoWriter w;
  for (const std::string& s : n.input) w.bytes_field(1, s);
  for (const std::string& s : n.output) w.bytes_field(2, s);
  if (!n.name.empty()) w.bytes_field(3, n.name);
  w.bytes_field(4, n.op_type);
  for (const onnx::AttributeProto& a : n.attribute) w.message_field(5, encode_attribute(a));
  if (!n.domain.empty()) w.bytes_field(7, n.domain);
  return w;
}

inline ProtoWriter encode_value_info(const onnx::ValueInfoProto& v) {
  ProtoWriter w;
  w.bytes_field(1, v.name);
  if (v.is_tensor) {
    ProtoWriter tensor_type;
    if (v.elem_type != 0) tensor_type.varint_field(1, static_cast<uint64_t>(static_cast<int64_t>(v.elem_type)));
    if (v.has_shape) {
      ProtoWriter shape;
      for (size_t i = 0; i < v.dims.size(); ++i) {
        ProtoWriter dim;
        const std::string param = i < v.dim_params.size() ? v.dim_params[i] : std::string();
        if (v.dims[i] >= 0) {
          dim.varint_field(1, static_cast<uint64_t>(v.dims[i]));
        } else if (!param.empty()) {
          dim.bytes_field(2, param);
        }
        shape.message_field(1, dim);
      }
      tensor_type.message_field(2, shape);
    }
    ProtoWriter type;
    type.message_field(1, tensor_type);
    w.message_field(2, type);
  }
  return w;
}

inline ProtoWriter encode_graph(const onnx::GraphProto& g) {
  ProtoWriter w;
  for (const onnx::NodeProto& n : g.node) w.message_field(1, encode_node(n));
  if (!g.name.empty()) w.bytes_field(2, g.name);
  for (const onnx::TensorProto& t : g.initializer) w.message_field(5, encode_tensor(t));
  for (const onnx::ValueInfoProto& v : g.input) w.message_field(11, encode_value_info(v));
  for (const onnx::ValueInfoProto& v : g.output) w.message_field(12, encode_value_info(v));
  for (const onnx::ValueInfoProto& v : g.value_info) w.message_field(13, encode_value_info(v));
  return w;
}

inline std::string encode_model(const onnx::ModelProto& m) {
  ProtoWriter w;
  if (m.ir_version != 0) w.varint_field(1, static_cast<uint64_t>(m.ir_version));
  if (!m.producer_name.empty()) w.bytes_field(2, m.producer_name);
  if (!m.producer_version.empty()) w.bytes_field(3, m.producer_version);
  w.message_field(7, encode_graph(m.graph));
  for (const onnx::OperatorSetIdProto& o : m.opset_import) {
    ProtoWriter op;
    if (!o.domain.empty()) op.bytes_field(1, o.domain);
    op.varint_field(2, static_cast<uint64_t>(o.version));
    w.message_field(8, op);
  }
  return w.bytes();
}

}  // namespace fuzz
}  // namespace vitrine
