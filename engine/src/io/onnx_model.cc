#include "onnx_model.h"

#include "../core/half.h"

#include <cstring>

#include "protobuf_wire.h"

namespace vitrine {
namespace onnx {
namespace {

using protobuf::append_doubles;
using protobuf::append_floats;
using protobuf::append_int32s;
using protobuf::append_int64s;
using protobuf::append_uint64s;
using protobuf::FieldKey;
using protobuf::read_byte_vector;
using protobuf::read_float;
using protobuf::read_int32;
using protobuf::read_int64;
using protobuf::read_string;
using protobuf::WireReader;

// Each message has a parse_*_field function that reads the one field `key` names into `out` (or
// skips it). Fields seen again merge as protobuf does: repeated ones append, scalars keep the last.

// Reads every field of one message with `parse_field`.
template <typename T, typename ParseField>
Status parse_fields(WireReader& reader, const char* message, T* out, ParseField parse_field) {
  FieldKey key;
  while (!reader.at_end()) {
    VITRINE_RETURN_IF_ERROR(reader.read_field_key(message, &key));
    VITRINE_RETURN_IF_ERROR(parse_field(reader, key, out));
  }
  return Status::Ok();
}

// Reads the nested message in field `key` into `out`.
template <typename T, typename ParseField>
Status parse_nested(WireReader& reader, const FieldKey& key, const char* field, T* out,
                    ParseField parse_field) {
  WireReader nested;
  VITRINE_RETURN_IF_ERROR(protobuf::read_message(reader, key, field, &nested));
  return parse_fields(nested, field, out, parse_field);
}

// Same, into a new last element of `list`.
template <typename T, typename ParseField>
Status parse_appended(WireReader& reader, const FieldKey& key, const char* field,
                      std::vector<T>* list, ParseField parse_field) {
  WireReader nested;
  VITRINE_RETURN_IF_ERROR(protobuf::read_message(reader, key, field, &nested));
  list->emplace_back();
  return parse_fields(nested, field, &list->back(), parse_field);
}

Status append_string(WireReader& reader, const FieldKey& key, const char* field,
                     std::vector<std::string>* list) {
  list->emplace_back();
  return read_string(reader, key, field, &list->back());
}

std::string tensor_label(const TensorProto& tensor) {
  return tensor.name.empty() ? std::string("unnamed tensor") : "tensor '" + tensor.name + "'";
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(dims[i]);
  }
  return text + ")";
}

Status unsupported_tensor(const TensorProto& tensor, const FieldKey& key, const char* what) {
  return Status::Unimplemented("onnx: " + tensor_label(tensor) + " (field at byte " +
                               std::to_string(key.offset) + "): " + what);
}

Status parse_tensor_field(WireReader& reader, const FieldKey& key, TensorProto* out) {
  switch (key.number) {
    case 1: return append_int64s(reader, key, "TensorProto.dims", &out->dims);
    case 2: return read_int32(reader, key, "TensorProto.data_type", &out->data_type);
    case 3: return unsupported_tensor(*out, key, "segmented tensors are not supported");
    case 4: return append_floats(reader, key, "TensorProto.float_data", &out->float_data);
    case 5: return append_int32s(reader, key, "TensorProto.int32_data", &out->int32_data);
    case 6: return append_string(reader, key, "TensorProto.string_data", &out->string_data);
    case 7: return append_int64s(reader, key, "TensorProto.int64_data", &out->int64_data);
    case 8: return read_string(reader, key, "TensorProto.name", &out->name);
    case 9:
      out->has_raw_data = true;
      return read_byte_vector(reader, key, "TensorProto.raw_data", &out->raw_data);
    case 10: return append_doubles(reader, key, "TensorProto.double_data", &out->double_data);
    case 11: return append_uint64s(reader, key, "TensorProto.uint64_data", &out->uint64_data);
    case 13:  // external_data: key/value pairs locating the bytes in another file
      return unsupported_tensor(*out, key,
                                "external data not supported (bytes in a separate file)");
    case 14: {  // data_location: 0 DEFAULT, 1 EXTERNAL
      int32_t location = 0;
      VITRINE_RETURN_IF_ERROR(read_int32(reader, key, "TensorProto.data_location", &location));
      if (location == 0) return Status::Ok();
      return unsupported_tensor(*out, key, "external data not supported (data_location EXTERNAL)");
    }
    default: return reader.skip_field(key, "TensorProto");
  }
}

// One TensorShapeProto.Dimension before it is appended to a ValueInfoProto.
struct Dimension {
  int64_t value = -1;  // -1: symbolic or unknown
  std::string param;   // symbolic name
};

Status parse_dimension_field(WireReader& reader, const FieldKey& key, Dimension* out) {
  switch (key.number) {
    case 1:
      VITRINE_RETURN_IF_ERROR(read_int64(reader, key, "Dimension.dim_value", &out->value));
      if (out->value < 0) {
        return protobuf::wire_error("Dimension.dim_value", key.offset,
                                    "negative dimension " + std::to_string(out->value));
      }
      out->param.clear();
      return Status::Ok();
    case 2: out->value = -1; return read_string(reader, key, "Dimension.dim_param", &out->param);
    default: return reader.skip_field(key, "TensorShapeProto.Dimension");
  }
}

Status parse_shape_field(WireReader& reader, const FieldKey& key, ValueInfoProto* out) {
  if (key.number != 1) return reader.skip_field(key, "TensorShapeProto");
  Dimension dimension;
  VITRINE_RETURN_IF_ERROR(
      parse_nested(reader, key, "TensorShapeProto.dim", &dimension, parse_dimension_field));
  out->dims.push_back(dimension.value);
  out->dim_params.push_back(std::move(dimension.param));
  return Status::Ok();
}

Status parse_tensor_type_field(WireReader& reader, const FieldKey& key, ValueInfoProto* out) {
  switch (key.number) {
    case 1: return read_int32(reader, key, "TypeProto.Tensor.elem_type", &out->elem_type);
    case 2:
      // A repeated shape field would merge its dims into the first; keep only the last one.
      out->has_shape = true;
      out->dims.clear();
      out->dim_params.clear();
      return parse_nested(reader, key, "TypeProto.Tensor.shape", out, parse_shape_field);
    default: return reader.skip_field(key, "TypeProto.Tensor");
  }
}

Status parse_type_field(WireReader& reader, const FieldKey& key, ValueInfoProto* out) {
  // Only tensor_type (1) is decoded; sequence, map, optional and sparse types are skipped.
  if (key.number != 1) return reader.skip_field(key, "TypeProto");
  out->is_tensor = true;
  return parse_nested(reader, key, "TypeProto.tensor_type", out, parse_tensor_type_field);
}

Status parse_value_info_field(WireReader& reader, const FieldKey& key, ValueInfoProto* out) {
  switch (key.number) {
    case 1: return read_string(reader, key, "ValueInfoProto.name", &out->name);
    case 2: return parse_nested(reader, key, "ValueInfoProto.type", out, parse_type_field);
    default: return reader.skip_field(key, "ValueInfoProto");
  }
}

Status parse_graph_field(WireReader& reader, const FieldKey& key, GraphProto* out);

Status parse_attribute_field(WireReader& reader, const FieldKey& key, AttributeProto* out) {
  switch (key.number) {
    case 1: return read_string(reader, key, "AttributeProto.name", &out->name);
    case 2: return read_float(reader, key, "AttributeProto.f", &out->f);
    case 3: return read_int64(reader, key, "AttributeProto.i", &out->i);
    case 4: return read_string(reader, key, "AttributeProto.s", &out->s);
    case 5: return parse_nested(reader, key, "AttributeProto.t", &out->t, parse_tensor_field);
    case 6: {
      auto graph = std::make_shared<GraphProto>();
      VITRINE_RETURN_IF_ERROR(
          parse_nested(reader, key, "AttributeProto.g", graph.get(), parse_graph_field));
      out->g = std::move(graph);
      return Status::Ok();
    }
    case 7: return append_floats(reader, key, "AttributeProto.floats", &out->floats);
    case 8: return append_int64s(reader, key, "AttributeProto.ints", &out->ints);
    case 9: return append_string(reader, key, "AttributeProto.strings", &out->strings);
    case 10:
      return parse_appended(reader, key, "AttributeProto.tensors", &out->tensors,
                            parse_tensor_field);
    case 11:
      return parse_appended(reader, key, "AttributeProto.graphs", &out->graphs, parse_graph_field);
    case 20: return read_int32(reader, key, "AttributeProto.type", &out->type);
    case 21: return read_string(reader, key, "AttributeProto.ref_attr_name", &out->ref_attr_name);
    default: return reader.skip_field(key, "AttributeProto");
  }
}

Status parse_node_field(WireReader& reader, const FieldKey& key, NodeProto* out) {
  switch (key.number) {
    case 1: return append_string(reader, key, "NodeProto.input", &out->input);
    case 2: return append_string(reader, key, "NodeProto.output", &out->output);
    case 3: return read_string(reader, key, "NodeProto.name", &out->name);
    case 4: return read_string(reader, key, "NodeProto.op_type", &out->op_type);
    case 5:
      return parse_appended(reader, key, "NodeProto.attribute", &out->attribute,
                            parse_attribute_field);
    case 7: return read_string(reader, key, "NodeProto.domain", &out->domain);
    default: return reader.skip_field(key, "NodeProto");
  }
}

Status parse_graph_field(WireReader& reader, const FieldKey& key, GraphProto* out) {
  switch (key.number) {
    case 1: return parse_appended(reader, key, "GraphProto.node", &out->node, parse_node_field);
    case 2: return read_string(reader, key, "GraphProto.name", &out->name);
    case 5:
      return parse_appended(reader, key, "GraphProto.initializer", &out->initializer,
                            parse_tensor_field);
    case 11:
      return parse_appended(reader, key, "GraphProto.input", &out->input, parse_value_info_field);
    case 12:
      return parse_appended(reader, key, "GraphProto.output", &out->output, parse_value_info_field);
    case 13:
      return parse_appended(reader, key, "GraphProto.value_info", &out->value_info,
                            parse_value_info_field);
    default: return reader.skip_field(key, "GraphProto");
  }
}

Status parse_opset_field(WireReader& reader, const FieldKey& key, OperatorSetIdProto* out) {
  switch (key.number) {
    case 1: return read_string(reader, key, "OperatorSetIdProto.domain", &out->domain);
    case 2: return read_int64(reader, key, "OperatorSetIdProto.version", &out->version);
    default: return reader.skip_field(key, "OperatorSetIdProto");
  }
}

Status parse_model_field(WireReader& reader, const FieldKey& key, ModelProto* out) {
  switch (key.number) {
    case 1: return read_int64(reader, key, "ModelProto.ir_version", &out->ir_version);
    case 2: return read_string(reader, key, "ModelProto.producer_name", &out->producer_name);
    case 3: return read_string(reader, key, "ModelProto.producer_version", &out->producer_version);
    case 7: return parse_nested(reader, key, "ModelProto.graph", &out->graph, parse_graph_field);
    case 8:
      return parse_appended(reader, key, "ModelProto.opset_import", &out->opset_import,
                            parse_opset_field);
    default: return reader.skip_field(key, "ModelProto");
  }
}

// Little-endian unsigned integer of `width` bytes (1..8).
uint64_t load_little_endian(const uint8_t* bytes, size_t width) {
  uint64_t value = 0;
  for (size_t i = width; i > 0; --i) value = (value << 8) | bytes[i - 1];
  return value;
}

// Sign-extends the low `width` bytes of `value`.
int64_t sign_extend(uint64_t value, size_t width) {
  if (width >= 8) return static_cast<int64_t>(value);
  const uint64_t sign_bit = uint64_t{1} << (8 * width - 1);
  return static_cast<int64_t>((value ^ sign_bit) - sign_bit);
}

float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

double double_from_bits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}


// Checks that exactly one place holds the elements: raw_data (then it must be count * element size
// bytes) or the typed field `typed_field` holding `typed_count` values (then that must equal
// count).
Status check_element_source(const TensorProto& tensor, uint64_t count, size_t typed_count,
                            const char* typed_field) {
  const char* type = data_type_name(tensor.data_type);
  if (tensor.has_raw_data) {
    if (typed_count != 0) {
      return Status::DataLoss("onnx: " + tensor_label(tensor) +
                              " holds elements in both raw_data and " + typed_field);
    }
    const uint64_t expected_bytes = count * data_type_size(tensor.data_type);
    if (tensor.raw_data.size() != expected_bytes) {
      return Status::DataLoss("onnx: " + tensor_label(tensor) + ": raw_data holds " +
                              std::to_string(tensor.raw_data.size()) + " bytes, " + type +
                              " dims " + dims_string(tensor.dims) + " need " +
                              std::to_string(expected_bytes));
    }
    return Status::Ok();
  }
  if (typed_count != count) {
    return Status::DataLoss("onnx: " + tensor_label(tensor) + ": " + typed_field + " holds " +
                            std::to_string(typed_count) + " values, " + type + " dims " +
                            dims_string(tensor.dims) + " need " + std::to_string(count));
  }
  return Status::Ok();
}

// Decodes raw_data elements with `convert(const uint8_t* element)`.
template <typename T, typename Convert>
std::vector<T> decode_raw(const TensorProto& tensor, uint64_t count, Convert convert) {
  const size_t width = data_type_size(tensor.data_type);
  std::vector<T> values(static_cast<size_t>(count));
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = convert(tensor.raw_data.data() + i * width);
  return values;
}

// Converts every typed-field value with `convert`.
template <typename T, typename Source, typename Convert>
std::vector<T> convert_all(const std::vector<Source>& source, Convert convert) {
  std::vector<T> values(source.size());
  for (size_t i = 0; i < source.size(); ++i) values[i] = convert(source[i]);
  return values;
}

bool is_signed_integer(int32_t data_type) {
  return data_type == DataType::kInt8 || data_type == DataType::kInt16 ||
         data_type == DataType::kInt32 || data_type == DataType::kInt64;
}

}  // namespace

Result<ModelProto> parse_model(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0)
    return Status::InvalidArgument("onnx: parse_model got null data");
  if (size == 0) return Status::DataLoss("onnx: the model file is empty");
  WireReader reader(data, size);
  ModelProto model;
  VITRINE_RETURN_IF_ERROR(parse_fields(reader, "ModelProto", &model, parse_model_field));
  return model;
}

Result<TensorProto> parse_tensor(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0)
    return Status::InvalidArgument("onnx: parse_tensor got null data");
  WireReader reader(data, size);
  TensorProto tensor;
  VITRINE_RETURN_IF_ERROR(parse_fields(reader, "TensorProto", &tensor, parse_tensor_field));
  return tensor;
}

const char* data_type_name(int32_t data_type) {
  switch (data_type) {
    case DataType::kUndefined: return "UNDEFINED";
    case DataType::kFloat: return "FLOAT";
    case DataType::kUint8: return "UINT8";
    case DataType::kInt8: return "INT8";
    case DataType::kUint16: return "UINT16";
    case DataType::kInt16: return "INT16";
    case DataType::kInt32: return "INT32";
    case DataType::kInt64: return "INT64";
    case DataType::kString: return "STRING";
    case DataType::kBool: return "BOOL";
    case DataType::kFloat16: return "FLOAT16";
    case DataType::kDouble: return "DOUBLE";
    case DataType::kUint32: return "UINT32";
    case DataType::kUint64: return "UINT64";
    case DataType::kComplex64: return "COMPLEX64";
    case DataType::kComplex128: return "COMPLEX128";
    case DataType::kBfloat16: return "BFLOAT16";
    default: return "unknown";
  }
}

size_t data_type_size(int32_t data_type) {
  switch (data_type) {
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kBool: return 1;
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kFloat16:
    case DataType::kBfloat16: return 2;
    case DataType::kFloat:
    case DataType::kInt32:
    case DataType::kUint32: return 4;
    case DataType::kInt64:
    case DataType::kUint64:
    case DataType::kDouble:
    case DataType::kComplex64: return 8;
    case DataType::kComplex128: return 16;
    default: return 0;
  }
}

Result<int64_t> num_elements(const TensorProto& tensor) {
  constexpr int64_t kMaxElements = int64_t{1} << 59;
  int64_t count = 1;
  for (size_t i = 0; i < tensor.dims.size(); ++i) {
    const int64_t dim = tensor.dims[i];
    if (dim < 0) {
      return Status::InvalidArgument("onnx: " + tensor_label(tensor) + ": dimension " +
                                     std::to_string(i) + " is " + std::to_string(dim));
    }
    if (dim != 0 && count > kMaxElements / dim) {
      return Status::InvalidArgument("onnx: " + tensor_label(tensor) + ": dims " +
                                     dims_string(tensor.dims) + " hold more than 2^59 elements");
    }
    count *= dim;
  }
  return count;
}

Result<std::vector<float>> tensor_floats(const TensorProto& tensor) {
  Result<int64_t> count_or = num_elements(tensor);
  if (!count_or.ok()) return count_or.status();
  const uint64_t count = static_cast<uint64_t>(count_or.value());
  switch (tensor.data_type) {
    case DataType::kFloat:
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.float_data.size(), "float_data"));
      if (!tensor.has_raw_data) return tensor.float_data;
      return decode_raw<float>(tensor, count, [](const uint8_t* p) {
        return float_from_bits(static_cast<uint32_t>(load_little_endian(p, 4)));
      });
    case DataType::kDouble:
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.double_data.size(), "double_data"));
      if (!tensor.has_raw_data) {
        return convert_all<float>(tensor.double_data,
                                  [](double v) { return static_cast<float>(v); });
      }
      return decode_raw<float>(tensor, count, [](const uint8_t* p) {
        return static_cast<float>(double_from_bits(load_little_endian(p, 8)));
      });
    case DataType::kFloat16:
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.int32_data.size(), "int32_data"));
      if (!tensor.has_raw_data) {
        return convert_all<float>(tensor.int32_data, [](int32_t v) {
          return half_bits_to_float(static_cast<uint16_t>(v));
        });
      }
      return decode_raw<float>(tensor, count, [](const uint8_t* p) {
        return half_bits_to_float(static_cast<uint16_t>(load_little_endian(p, 2)));
      });
    case DataType::kBfloat16:
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.int32_data.size(), "int32_data"));
      if (!tensor.has_raw_data) {
        return convert_all<float>(tensor.int32_data, [](int32_t v) {
          return float_from_bits(static_cast<uint32_t>(static_cast<uint16_t>(v)) << 16);
        });
      }
      return decode_raw<float>(tensor, count, [](const uint8_t* p) {
        return float_from_bits(static_cast<uint32_t>(load_little_endian(p, 2)) << 16);
      });
    default:
      return Status::InvalidArgument(
          "onnx: " + tensor_label(tensor) + " has data type " + data_type_name(tensor.data_type) +
          " (" + std::to_string(tensor.data_type) +
          "); tensor_floats reads FLOAT, DOUBLE, FLOAT16 and BFLOAT16 only");
  }
}

Result<std::vector<int64_t>> tensor_int64s(const TensorProto& tensor) {
  Result<int64_t> count_or = num_elements(tensor);
  if (!count_or.ok()) return count_or.status();
  const uint64_t count = static_cast<uint64_t>(count_or.value());
  const int32_t type = tensor.data_type;
  const size_t width = data_type_size(type);
  const bool is_signed = is_signed_integer(type);
  auto from_raw = [width, is_signed](const uint8_t* p) {
    const uint64_t bits = load_little_endian(p, width);
    return is_signed ? sign_extend(bits, width) : static_cast<int64_t>(bits);
  };
  switch (type) {
    case DataType::kInt64:
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.int64_data.size(), "int64_data"));
      if (!tensor.has_raw_data) return tensor.int64_data;
      return decode_raw<int64_t>(tensor, count, from_raw);
    case DataType::kInt32:
    case DataType::kInt16:
    case DataType::kInt8:
    case DataType::kUint16:
    case DataType::kUint8:
    case DataType::kBool:
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.int32_data.size(), "int32_data"));
      if (!tensor.has_raw_data) {
        return convert_all<int64_t>(tensor.int32_data,
                                    [](int32_t v) { return static_cast<int64_t>(v); });
      }
      return decode_raw<int64_t>(tensor, count, from_raw);
    case DataType::kUint32:
    case DataType::kUint64: {
      VITRINE_RETURN_IF_ERROR(
          check_element_source(tensor, count, tensor.uint64_data.size(), "uint64_data"));
      std::vector<int64_t> values;
      if (tensor.has_raw_data) {
        values =
            decode_raw<int64_t>(tensor, count, from_raw);  // UINT64 above INT64_MAX wraps negative
      } else {
        values = convert_all<int64_t>(tensor.uint64_data,
                                      [](uint64_t v) { return static_cast<int64_t>(v); });
      }
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i] < 0) {
          return Status::OutOfRange(
              "onnx: " + tensor_label(tensor) + ": element " + std::to_string(i) + " is " +
              std::to_string(static_cast<uint64_t>(values[i])) + ", above the int64 range");
        }
      }
      return values;
    }
    default:
      return Status::InvalidArgument("onnx: " + tensor_label(tensor) + " has data type " +
                                     data_type_name(type) + " (" + std::to_string(type) +
                                     "); tensor_int64s reads integer and BOOL tensors only");
  }
}

int64_t opset_version(const ModelProto& model, const std::string& domain) {
  auto is_standard = [](const std::string& d) { return d.empty() || d == "ai.onnx"; };
  int64_t version = 0;
  for (const OperatorSetIdProto& opset : model.opset_import) {
    const bool matches = is_standard(domain) ? is_standard(opset.domain) : opset.domain == domain;
    if (matches && opset.version > version) version = opset.version;
  }
  return version;
}

const AttributeProto* find_attribute(const NodeProto& node, const std::string& name) {
  for (const AttributeProto& attribute : node.attribute) {
    if (attribute.name == name) return &attribute;
  }
  return nullptr;
}

}  // namespace onnx
}  // namespace vitrine
