// Tests of the protobuf wire reader and the ONNX model decoder: hand-built byte sequences, the real
// ONNX test files of Debian's libonnx-testdata, and hostile input (truncations, byte flips).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../../engine/src/io/onnx_model.h"
#include "../../engine/src/io/protobuf_wire.h"
#include "onnx_builder.h"
#include "vitrine/graph.h"
#include "vitrine/model_file.h"
#include "vitrine/onnx_import.h"

namespace vitrine {
namespace {

namespace fs = std::filesystem;
using protobuf::FieldKey;
using protobuf::WireReader;
using protobuf::WireType;
// The hand-built byte helpers (ProtoWriter, field numbers, value infos) live in onnx_builder.h.
using namespace onnx_test;

Result<onnx::ModelProto> parse_model(const std::string& bytes) {
  return onnx::parse_model(bytes_of(bytes), bytes.size());
}
Result<onnx::TensorProto> parse_tensor(const std::string& bytes) {
  return onnx::parse_tensor(bytes_of(bytes), bytes.size());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}


// A Conv model exercising most fields. With `unknown_fields`, every message also carries fields
// this decoder does not know, of every wire type; the decoded model must be the same.
std::string build_conv_model(bool unknown_fields) {
  auto add_unknown = [unknown_fields](ProtoWriter& w) {
    if (!unknown_fields) return;
    w.varint_field(900, 12345)
        .fixed64_field(901, 0x0102030405060708ull)
        .fixed32_field(902, 7)
        .bytes_field(903, "ignored")
        .message_field(904, ProtoWriter().varint_field(1, 1));
  };
  ProtoWriter weight;
  weight.packed_varints(kTensorDims, {2, 1, 1, 1})
      .varint_field(kTensorDataType, onnx::DataType::kFloat);
  add_unknown(weight);
  weight.bytes_field(kTensorName, "w")
      .bytes_field(kTensorRawData, little_endian(0x3F800000, 4) + little_endian(0x40000000, 4));

  ProtoWriter strides;
  strides.bytes_field(kAttrName, "strides").packed_varints(kAttrInts, {2, 2});
  add_unknown(strides);
  strides.varint_field(kAttrType, onnx::AttributeType::kInts);
  ProtoWriter pads;  // unpacked ints
  pads.bytes_field(kAttrName, "pads")
      .varint_field(kAttrInts, 1)
      .varint_field(kAttrInts, 1)
      .varint_field(kAttrInts, 0)
      .varint_field(kAttrInts, 0)
      .varint_field(kAttrType, onnx::AttributeType::kInts);
  ProtoWriter auto_pad;
  auto_pad.bytes_field(kAttrName, "auto_pad")
      .bytes_field(kAttrS, "NOTSET")
      .varint_field(kAttrType, onnx::AttributeType::kString);
  ProtoWriter alpha;
  alpha.bytes_field(kAttrName, "alpha")
      .float_field(kAttrF, 0.25f)
      .varint_field(kAttrType, onnx::AttributeType::kFloat);
  ProtoWriter group;
  group.bytes_field(kAttrName, "group")
      .varint_field(kAttrI, static_cast<uint64_t>(int64_t{-3}))
      .varint_field(kAttrType, onnx::AttributeType::kInt);
  ProtoWriter scales;
  scales.bytes_field(kAttrName, "scales")
      .packed_floats(kAttrFloats, {0.5f, 1.5f})
      .float_field(kAttrFloats, 2.5f)
      .varint_field(kAttrType, onnx::AttributeType::kFloats);
  ProtoWriter names;
  names.bytes_field(kAttrName, "names")
      .bytes_field(kAttrStrings, "a")
      .bytes_field(kAttrStrings, "bc")
      .varint_field(kAttrType, onnx::AttributeType::kStrings);
  ProtoWriter value;
  value.bytes_field(kAttrName, "value")
      .message_field(kAttrT, weight)
      .varint_field(kAttrType, onnx::AttributeType::kTensor);

  ProtoWriter node;
  node.bytes_field(kNodeInput, "x")
      .bytes_field(kNodeInput, "w")
      .bytes_field(kNodeInput, "")
      .bytes_field(kNodeOutput, "y")
      .bytes_field(kNodeName, "conv0")
      .bytes_field(kNodeOpType, "Conv");
  add_unknown(node);
  node.message_field(kNodeAttribute, strides)
      .message_field(kNodeAttribute, pads)
      .message_field(kNodeAttribute, auto_pad)
      .message_field(kNodeAttribute, alpha)
      .message_field(kNodeAttribute, group)
      .message_field(kNodeAttribute, scales)
      .message_field(kNodeAttribute, names)
      .message_field(kNodeAttribute, value)
      .bytes_field(kNodeDocString, "a doc string")
      .bytes_field(kNodeDomain, "");

  ProtoWriter input = tensor_value_info(
      "x", onnx::DataType::kFloat, {dim_param("N"), dim_value(1), dim_value(224), ProtoWriter()});
  add_unknown(input);
  ProtoWriter output = tensor_value_info("y", onnx::DataType::kFloat, {});
  ProtoWriter sequence_info;  // a non-tensor type
  sequence_info.bytes_field(kValueInfoName, "seq")
      .message_field(kValueInfoType, ProtoWriter().message_field(kTypeSequenceType, ProtoWriter()));

  ProtoWriter graph;
  graph.message_field(kGraphNode, node).bytes_field(kGraphName, "conv_graph");
  add_unknown(graph);
  graph.message_field(kGraphInitializer, weight)
      .message_field(kGraphInput, input)
      .message_field(kGraphOutput, output)
      .message_field(kGraphValueInfo, sequence_info);

  ProtoWriter model;
  model.varint_field(kModelIrVersion, 8)
      .bytes_field(kModelProducerName, "vitrine-test")
      .bytes_field(kModelProducerVersion, "0.1")
      .message_field(kModelGraph, graph);
  add_unknown(model);
  model
      .message_field(kModelOpsetImport,
                     ProtoWriter().bytes_field(kOpsetDomain, "").varint_field(kOpsetVersion, 13))
      .message_field(
          kModelOpsetImport,
          ProtoWriter().bytes_field(kOpsetDomain, "com.microsoft").varint_field(kOpsetVersion, 1));
  return model.bytes();
}

// ---------------------------------------------------------------------------------------------------
// Wire reader.

TEST(OnnxProtobufWire, ReadsVarintsOfEveryLength) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 300, std::numeric_limits<uint64_t>::max()};
  for (int bits = 7; bits < 64; bits += 7) {
    values.push_back((uint64_t{1} << bits) - 1);
    values.push_back(uint64_t{1} << bits);
  }
  for (uint64_t expected : values) {
    ProtoWriter w;
    w.varint(expected);
    EXPECT_LE(w.bytes().size(), 10u);
    WireReader reader(bytes_of(w.bytes()), w.bytes().size());
    uint64_t value = 0;
    ASSERT_TRUE(reader.read_varint("test", &value).ok()) << expected;
    EXPECT_EQ(value, expected);
    EXPECT_TRUE(reader.at_end());
  }
}

TEST(OnnxProtobufWire, ReadsNegativeInt32AndInt64) {
  ProtoWriter w;
  w.varint_field(1, static_cast<uint64_t>(int64_t{-5}))
      .varint_field(2, static_cast<uint64_t>(int64_t{-7}));
  EXPECT_EQ(w.bytes().size(), 22u);  // negative values take 10 bytes
  WireReader reader(bytes_of(w.bytes()), w.bytes().size());
  FieldKey key;
  int32_t i32 = 0;
  int64_t i64 = 0;
  ASSERT_TRUE(reader.read_field_key("M", &key).ok());
  ASSERT_TRUE(protobuf::read_int32(reader, key, "M.a", &i32).ok());
  ASSERT_TRUE(reader.read_field_key("M", &key).ok());
  ASSERT_TRUE(protobuf::read_int64(reader, key, "M.b", &i64).ok());
  EXPECT_EQ(i32, -5);
  EXPECT_EQ(i64, -7);
}

TEST(OnnxProtobufWire, RejectsOverlongAndOverflowingVarints) {
  const std::string eleven_bytes = std::string(10, '\x80') + '\x00';
  WireReader overlong(bytes_of(eleven_bytes), eleven_bytes.size());
  uint64_t value = 0;
  Status status = overlong.read_varint("Msg.count", &value);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(status.message(), "longer than 10 bytes")) << status.message();
  EXPECT_TRUE(contains(status.message(), "Msg.count at byte 0")) << status.message();

  const std::string overflow = std::string(9, '\xFF') + '\x02';  // bit 64 set
  WireReader overflowing(bytes_of(overflow), overflow.size());
  status = overflowing.read_varint("Msg.count", &value);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(status.message(), "overflows")) << status.message();
}

TEST(OnnxProtobufWire, RejectsTruncatedValuesNamingFieldAndOffset) {
  uint64_t u64 = 0;
  uint32_t u32 = 0;
  const uint8_t* data = nullptr;
  size_t size = 0;
  const std::string varint = "\x01\x80";  // second varint truncated, starts at byte 1
  WireReader r1(bytes_of(varint), varint.size());
  ASSERT_TRUE(r1.read_varint("A.x", &u64).ok());
  Status s = r1.read_varint("A.y", &u64);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "protobuf: A.y at byte 1: truncated varint");

  const std::string three = "abc";
  WireReader r2(bytes_of(three), three.size());
  s = r2.read_fixed32("A.f", &u32);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(s.message(), "A.f")) << s.message();
  const std::string seven = "abcdefg";
  WireReader r3(bytes_of(seven), seven.size());
  EXPECT_EQ(r3.read_fixed64("A.d", &u64).code(), StatusCode::kDataLoss);

  const std::string length =
      "\x05"
      "abc";
  WireReader r4(bytes_of(length), length.size());
  s = r4.read_bytes("A.s", &data, &size);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(s.message(), "length 5 runs past the end")) << s.message();

  // A huge length must not be trusted either.
  ProtoWriter huge;
  huge.varint(std::numeric_limits<uint64_t>::max());
  WireReader r5(bytes_of(huge.bytes()), huge.bytes().size());
  EXPECT_EQ(r5.read_bytes("A.s", &data, &size).code(), StatusCode::kDataLoss);
}

TEST(OnnxProtobufWire, SkipsUnknownFieldsOfEveryWireType) {
  ProtoWriter w;
  w.varint_field(100, 1ull << 60)
      .fixed64_field(101, 42)
      .bytes_field(102, "skip me")
      .fixed32_field(103, 9)
      .varint_field(1, 77);
  WireReader reader(bytes_of(w.bytes()), w.bytes().size());
  FieldKey key;
  int64_t wanted = 0;
  std::set<WireType> skipped;
  while (!reader.at_end()) {
    ASSERT_TRUE(reader.read_field_key("M", &key).ok());
    if (key.number == 1) {
      ASSERT_TRUE(protobuf::read_int64(reader, key, "M.wanted", &wanted).ok());
    } else {
      skipped.insert(key.wire_type);
      ASSERT_TRUE(reader.skip_field(key, "M").ok());
    }
  }
  EXPECT_EQ(wanted, 77);
  EXPECT_EQ(skipped.size(), 4u);
}

TEST(OnnxProtobufWire, RejectsGroupsInvalidWireTypesAndFieldZero) {
  for (uint8_t wire_type : {3, 4}) {  // start / end group
    const std::string bytes = {static_cast<char>((5 << 3) | wire_type), 0};
    WireReader reader(bytes_of(bytes), bytes.size());
    FieldKey key;
    ASSERT_TRUE(reader.read_field_key("M", &key).ok());
    Status s = reader.skip_field(key, "M");
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_TRUE(contains(s.message(), "group")) << s.message();
  }
  for (uint8_t wire_type : {6, 7}) {
    const std::string bytes = {static_cast<char>((5 << 3) | wire_type), 0};
    WireReader reader(bytes_of(bytes), bytes.size());
    FieldKey key;
    Status s = reader.read_field_key("M", &key);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_TRUE(contains(s.message(), "invalid wire type")) << s.message();
  }
  const std::string field_zero = {0x00, 0x01};
  WireReader reader(bytes_of(field_zero), field_zero.size());
  FieldKey key;
  EXPECT_TRUE(contains(reader.read_field_key("M", &key).message(), "invalid field number 0"));
}

TEST(OnnxProtobufWire, WrongWireTypeForKnownFieldIsAnError) {
  ProtoWriter w;
  w.fixed32_field(1, 5);
  WireReader reader(bytes_of(w.bytes()), w.bytes().size());
  FieldKey key;
  ASSERT_TRUE(reader.read_field_key("M", &key).ok());
  int64_t value = 0;
  Status s = protobuf::read_int64(reader, key, "M.count", &value);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(s.message(), "M.count")) << s.message();
  EXPECT_TRUE(contains(s.message(), "expected varint")) << s.message();
}

TEST(OnnxProtobufWire, PackedAndUnpackedRepeatedFieldsMix) {
  ProtoWriter w;
  w.varint_field(1, 3).packed_varints(1, {4, 5, -1}).varint_field(1, 6);
  WireReader reader(bytes_of(w.bytes()), w.bytes().size());
  std::vector<int64_t> values;
  FieldKey key;
  while (!reader.at_end()) {
    ASSERT_TRUE(reader.read_field_key("M", &key).ok());
    ASSERT_TRUE(protobuf::append_int64s(reader, key, "M.values", &values).ok());
  }
  EXPECT_EQ(values, (std::vector<int64_t>{3, 4, 5, -1, 6}));

  // A packed float run whose length is not a multiple of 4.
  ProtoWriter bad;
  bad.bytes_field(1, "12345");
  WireReader bad_reader(bytes_of(bad.bytes()), bad.bytes().size());
  ASSERT_TRUE(bad_reader.read_field_key("M", &key).ok());
  std::vector<float> floats;
  Status s = protobuf::append_floats(bad_reader, key, "M.floats", &floats);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(s.message(), "not a multiple of 4")) << s.message();
}

TEST(OnnxProtobufWire, EnforcesNestingDepth) {
  auto nested = [](int levels) {
    ProtoWriter message;
    for (int i = 0; i < levels; ++i) message = ProtoWriter().message_field(1, message);
    return message.bytes();
  };
  // Descends until the innermost (empty) message; returns the first error.
  auto descend = [](const std::string& bytes, int* levels) {
    WireReader reader(bytes_of(bytes), bytes.size());
    *levels = 0;
    while (!reader.at_end()) {
      FieldKey key;
      VITRINE_RETURN_IF_ERROR(reader.read_field_key("M", &key));
      WireReader inner;
      VITRINE_RETURN_IF_ERROR(protobuf::read_message(reader, key, "M.child", &inner));
      reader = inner;
      ++*levels;
    }
    return Status::Ok();
  };
  int levels = 0;
  EXPECT_TRUE(descend(nested(protobuf::kMaxNestingDepth), &levels).ok());
  EXPECT_EQ(levels, protobuf::kMaxNestingDepth);
  Status s = descend(nested(protobuf::kMaxNestingDepth + 1), &levels);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(s.message(), "nested deeper than 64")) << s.message();
}

// ---------------------------------------------------------------------------------------------------
// TensorProto.

TEST(OnnxTensor, DecodesPackedAndUnpackedRepeatedFields) {
  ProtoWriter w;
  w.varint_field(kTensorDims, 2)
      .varint_field(kTensorDims, 3)
      .varint_field(kTensorDataType, onnx::DataType::kFloat)
      .packed_floats(kTensorFloatData, {1, 2, 3})
      .float_field(kTensorFloatData, 4)
      .float_field(kTensorFloatData, 5)
      .packed_floats(kTensorFloatData, {6})
      .bytes_field(kTensorName, "t");
  Result<onnx::TensorProto> tensor = parse_tensor(w.bytes());
  ASSERT_TRUE(tensor.ok()) << tensor.status().to_string();
  EXPECT_EQ(tensor->name, "t");
  EXPECT_EQ(tensor->dims, (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(tensor->has_raw_data);
  Result<std::vector<float>> floats = onnx::tensor_floats(tensor.value());
  ASSERT_TRUE(floats.ok()) << floats.status().to_string();
  EXPECT_EQ(floats.value(), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  ProtoWriter ints;  // the same dims packed, int64 unpacked
  ints.packed_varints(kTensorDims, {3})
      .varint_field(kTensorDataType, onnx::DataType::kInt64)
      .varint_field(kTensorInt64Data, 7)
      .packed_varints(kTensorInt64Data, {-8, 1ll << 40});
  Result<onnx::TensorProto> int_tensor = parse_tensor(ints.bytes());
  ASSERT_TRUE(int_tensor.ok());
  EXPECT_EQ(onnx::tensor_int64s(int_tensor.value()).value(),
            (std::vector<int64_t>{7, -8, 1ll << 40}));
}

TEST(OnnxTensor, FloatsFromRawDataLittleEndian) {
  ProtoWriter w;
  w.packed_varints(kTensorDims, {2})
      .varint_field(kTensorDataType, onnx::DataType::kFloat)
      .bytes_field(kTensorRawData, std::string("\x00\x00\xC0\x3F\x00\x00\x00\xC0", 8));  // 1.5, -2
  Result<onnx::TensorProto> tensor = parse_tensor(w.bytes());
  ASSERT_TRUE(tensor.ok());
  EXPECT_TRUE(tensor->has_raw_data);
  EXPECT_EQ(onnx::tensor_floats(tensor.value()).value(), (std::vector<float>{1.5f, -2.0f}));
}

TEST(OnnxTensor, ConvertsDoubleFloat16AndBfloat16) {
  onnx::TensorProto doubles;
  doubles.data_type = onnx::DataType::kDouble;
  doubles.dims = {3};
  doubles.double_data = {0.5, -1e300, 3.25};
  std::vector<float> f = onnx::tensor_floats(doubles).value();
  EXPECT_EQ(f[0], 0.5f);
  EXPECT_TRUE(std::isinf(f[1]) && f[1] < 0);
  EXPECT_EQ(f[2], 3.25f);

  onnx::TensorProto raw_doubles;
  raw_doubles.data_type = onnx::DataType::kDouble;
  raw_doubles.dims = {1};
  raw_doubles.has_raw_data = true;
  const std::string bytes = little_endian(0x4004000000000000ull, 8);  // 2.5
  raw_doubles.raw_data.assign(bytes.begin(), bytes.end());
  EXPECT_EQ(onnx::tensor_floats(raw_doubles).value(), (std::vector<float>{2.5f}));

  onnx::TensorProto halves;
  halves.data_type = onnx::DataType::kFloat16;
  halves.dims = {7};
  // 1, -2, +inf, smallest subnormal, largest finite, -0, NaN.
  halves.int32_data = {0x3C00, 0xC000, 0x7C00, 0x0001, 0x7BFF, 0x8000, 0x7E00};
  f = onnx::tensor_floats(halves).value();
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], -2.0f);
  EXPECT_TRUE(std::isinf(f[2]) && f[2] > 0);
  EXPECT_EQ(f[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(f[4], 65504.0f);
  EXPECT_TRUE(f[5] == 0.0f && std::signbit(f[5]));
  EXPECT_TRUE(std::isnan(f[6]));

  onnx::TensorProto raw_halves;
  raw_halves.data_type = onnx::DataType::kFloat16;
  raw_halves.dims = {2};
  raw_halves.has_raw_data = true;
  raw_halves.raw_data = {0x00, 0x38, 0x00, 0x3E};  // 0.5, 1.5
  EXPECT_EQ(onnx::tensor_floats(raw_halves).value(), (std::vector<float>{0.5f, 1.5f}));

  onnx::TensorProto bfloats;
  bfloats.data_type = onnx::DataType::kBfloat16;
  bfloats.dims = {2};
  bfloats.int32_data = {0x3F80, 0xC040};  // 1, -3
  EXPECT_EQ(onnx::tensor_floats(bfloats).value(), (std::vector<float>{1.0f, -3.0f}));
}

TEST(OnnxTensor, FloatsRejectIntegerTypesNamingTheType) {
  onnx::TensorProto tensor;
  tensor.name = "shape";
  tensor.data_type = onnx::DataType::kInt64;
  tensor.dims = {1};
  tensor.int64_data = {4};
  Result<std::vector<float>> floats = onnx::tensor_floats(tensor);
  EXPECT_EQ(floats.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(floats.status().message(), "INT64")) << floats.status().message();
  EXPECT_TRUE(contains(floats.status().message(), "'shape'")) << floats.status().message();

  onnx::TensorProto text;
  text.data_type = onnx::DataType::kString;
  Result<std::vector<int64_t>> ints = onnx::tensor_int64s(text);
  EXPECT_EQ(ints.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(ints.status().message(), "STRING")) << ints.status().message();
  text.data_type = onnx::DataType::kFloat;
  EXPECT_TRUE(contains(onnx::tensor_int64s(text).status().message(), "FLOAT"));
}

TEST(OnnxTensor, Int64sFromEveryIntegerType) {
  struct Case {
    int32_t type;
    std::string raw;
    std::vector<int64_t> expected;
  };
  const std::vector<Case> cases = {
      {onnx::DataType::kInt8, std::string("\xFF\x7F", 2), {-1, 127}},
      {onnx::DataType::kUint8, std::string("\xFF\x7F", 2), {255, 127}},
      {onnx::DataType::kBool, std::string("\x01\x00", 2), {1, 0}},
      {onnx::DataType::kInt16, std::string("\xFF\xFF\x00\x80", 4), {-1, -32768}},
      {onnx::DataType::kUint16, std::string("\xFF\xFF\x00\x80", 4), {65535, 32768}},
      {onnx::DataType::kInt32, little_endian(0xFFFFFFFEu, 4) + little_endian(7, 4), {-2, 7}},
      {onnx::DataType::kUint32,
       little_endian(0xFFFFFFFEu, 4) + little_endian(7, 4),
       {4294967294, 7}},
      {onnx::DataType::kInt64,
       little_endian(static_cast<uint64_t>(-9), 8) + little_endian(1ull << 50, 8),
       {-9, 1ll << 50}},
      {onnx::DataType::kUint64, little_endian(5, 8) + little_endian(1ull << 62, 8), {5, 1ll << 62}},
  };
  for (const Case& c : cases) {
    onnx::TensorProto tensor;
    tensor.data_type = c.type;
    tensor.dims = {2};
    tensor.has_raw_data = true;
    tensor.raw_data.assign(c.raw.begin(), c.raw.end());
    Result<std::vector<int64_t>> values = onnx::tensor_int64s(tensor);
    ASSERT_TRUE(values.ok()) << onnx::data_type_name(c.type) << ": " << values.status().to_string();
    EXPECT_EQ(values.value(), c.expected) << onnx::data_type_name(c.type);
  }

  onnx::TensorProto typed;  // narrow types live in int32_data
  typed.data_type = onnx::DataType::kUint8;
  typed.dims = {3};
  typed.int32_data = {0, 200, 255};
  EXPECT_EQ(onnx::tensor_int64s(typed).value(), (std::vector<int64_t>{0, 200, 255}));
  typed.data_type = onnx::DataType::kUint32;
  typed.int32_data.clear();
  typed.uint64_data = {1, 4294967295u, 3};
  EXPECT_EQ(onnx::tensor_int64s(typed).value(), (std::vector<int64_t>{1, 4294967295ll, 3}));

  typed.data_type = onnx::DataType::kUint64;
  typed.uint64_data = {1, std::numeric_limits<uint64_t>::max(), 3};
  Result<std::vector<int64_t>> too_big = onnx::tensor_int64s(typed);
  EXPECT_EQ(too_big.status().code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(contains(too_big.status().message(), "element 1")) << too_big.status().message();
}

TEST(OnnxTensor, ElementCountMismatchIsDataLossNamingTheTensor) {
  onnx::TensorProto tensor;
  tensor.name = "conv1.weight";
  tensor.data_type = onnx::DataType::kFloat;
  tensor.dims = {2, 2};
  tensor.has_raw_data = true;
  tensor.raw_data.resize(12);
  Result<std::vector<float>> floats = onnx::tensor_floats(tensor);
  EXPECT_EQ(floats.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(floats.status().message(),
            "onnx: tensor 'conv1.weight': raw_data holds 12 bytes, FLOAT dims (2, 2) need 16");

  tensor.has_raw_data = false;
  tensor.raw_data.clear();
  tensor.float_data = {1, 2, 3};
  floats = onnx::tensor_floats(tensor);
  EXPECT_EQ(floats.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(floats.status().message(), "float_data holds 3 values"))
      << floats.status().message();

  tensor.float_data = {1, 2, 3, 4};
  tensor.has_raw_data = true;
  tensor.raw_data.resize(16);
  floats = onnx::tensor_floats(tensor);
  EXPECT_EQ(floats.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(floats.status().message(), "both raw_data and float_data"));

  onnx::TensorProto ints;
  ints.data_type = onnx::DataType::kInt64;
  ints.dims = {3};
  ints.has_raw_data = true;
  ints.raw_data.resize(23);
  EXPECT_EQ(onnx::tensor_int64s(ints).status().code(), StatusCode::kDataLoss);

  onnx::TensorProto empty;  // zero elements, no data: fine
  empty.data_type = onnx::DataType::kFloat;
  empty.dims = {0, 3};
  EXPECT_TRUE(onnx::tensor_floats(empty).value().empty());
}

TEST(OnnxTensor, NumElementsChecksNegativeDimsAndOverflow) {
  onnx::TensorProto tensor;
  tensor.name = "t";
  EXPECT_EQ(onnx::num_elements(tensor).value(), 1);  // scalar
  tensor.dims = {2, 3, 4};
  EXPECT_EQ(onnx::num_elements(tensor).value(), 24);
  tensor.dims = {0, 1ll << 62};
  EXPECT_EQ(onnx::num_elements(tensor).value(), 0);
  tensor.dims = {4, -1};
  Result<int64_t> count = onnx::num_elements(tensor);
  EXPECT_EQ(count.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(count.status().message(), "dimension 1 is -1")) << count.status().message();
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
           {1ll << 30, 1ll << 30},
           {std::numeric_limits<int64_t>::max(), 2},
           {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
            3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}}) {
    tensor.dims = dims;
    count = onnx::num_elements(tensor);
    EXPECT_FALSE(count.ok());
    EXPECT_TRUE(contains(count.status().message(), "more than 2^59")) << count.status().message();
  }
  tensor.dims = {1ll << 30, 1ll << 29};  // exactly 2^59 is allowed
  EXPECT_EQ(onnx::num_elements(tensor).value(), 1ll << 59);
  // A huge count must not be allocated before the data size is checked.
  tensor.data_type = onnx::DataType::kFloat;
  tensor.has_raw_data = true;
  EXPECT_EQ(onnx::tensor_floats(tensor).status().code(), StatusCode::kDataLoss);
}

TEST(OnnxTensor, ExternalDataIsNotSupported) {
  ProtoWriter location;
  location.bytes_field(1, "location").bytes_field(2, "weights.bin");
  ProtoWriter external;
  external.packed_varints(kTensorDims, {4})
      .varint_field(kTensorDataType, onnx::DataType::kFloat)
      .bytes_field(kTensorName, "big")
      .message_field(kTensorExternalData, location)
      .varint_field(kTensorDataLocation, 1);
  Result<onnx::TensorProto> tensor = parse_tensor(external.bytes());
  EXPECT_EQ(tensor.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(contains(tensor.status().message(), "external data not supported"))
      << tensor.status().message();
  EXPECT_TRUE(contains(tensor.status().message(), "'big'")) << tensor.status().message();

  ProtoWriter located;  // data_location EXTERNAL alone
  located.bytes_field(kTensorName, "big").varint_field(kTensorDataLocation, 1);
  EXPECT_EQ(parse_tensor(located.bytes()).status().code(), StatusCode::kUnimplemented);
  ProtoWriter default_location;  // DEFAULT is fine
  default_location.bytes_field(kTensorName, "small").varint_field(kTensorDataLocation, 0);
  EXPECT_TRUE(parse_tensor(default_location.bytes()).ok());

  // Inside a model, as an initializer.
  ProtoWriter graph;
  graph.message_field(kGraphInitializer, external);
  ProtoWriter model;
  model.varint_field(kModelIrVersion, 8).message_field(kModelGraph, graph);
  Result<onnx::ModelProto> parsed = parse_model(model.bytes());
  EXPECT_EQ(parsed.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(contains(parsed.status().message(), "external data not supported"));
}

TEST(OnnxTensor, DataTypeNamesAndSizes) {
  EXPECT_STREQ(onnx::data_type_name(onnx::DataType::kFloat), "FLOAT");
  EXPECT_STREQ(onnx::data_type_name(onnx::DataType::kInt64), "INT64");
  EXPECT_STREQ(onnx::data_type_name(onnx::DataType::kFloat16), "FLOAT16");
  EXPECT_STREQ(onnx::data_type_name(onnx::DataType::kBool), "BOOL");
  EXPECT_STREQ(onnx::data_type_name(999), "unknown");
  EXPECT_STREQ(onnx::data_type_name(-1), "unknown");
  EXPECT_EQ(onnx::data_type_size(onnx::DataType::kFloat), 4u);
  EXPECT_EQ(onnx::data_type_size(onnx::DataType::kDouble), 8u);
  EXPECT_EQ(onnx::data_type_size(onnx::DataType::kFloat16), 2u);
  EXPECT_EQ(onnx::data_type_size(onnx::DataType::kBool), 1u);
  EXPECT_EQ(onnx::data_type_size(onnx::DataType::kString), 0u);
}

// ---------------------------------------------------------------------------------------------------
// ModelProto from hand-built bytes.

void expect_conv_model(const onnx::ModelProto& model) {
  EXPECT_EQ(model.ir_version, 8);
  EXPECT_EQ(model.producer_name, "vitrine-test");
  EXPECT_EQ(model.producer_version, "0.1");
  ASSERT_EQ(model.opset_import.size(), 2u);
  EXPECT_EQ(model.opset_import[1].domain, "com.microsoft");

  const onnx::GraphProto& graph = model.graph;
  EXPECT_EQ(graph.name, "conv_graph");
  ASSERT_EQ(graph.node.size(), 1u);
  const onnx::NodeProto& node = graph.node[0];
  EXPECT_EQ(node.op_type, "Conv");
  EXPECT_EQ(node.name, "conv0");
  EXPECT_EQ(node.domain, "");
  EXPECT_EQ(node.input, (std::vector<std::string>{"x", "w", ""}));
  EXPECT_EQ(node.output, (std::vector<std::string>{"y"}));
  ASSERT_EQ(node.attribute.size(), 8u);
  EXPECT_EQ(onnx::find_attribute(node, "strides")->ints, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(onnx::find_attribute(node, "strides")->type, onnx::AttributeType::kInts);
  EXPECT_EQ(onnx::find_attribute(node, "pads")->ints, (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(onnx::find_attribute(node, "auto_pad")->s, "NOTSET");
  EXPECT_EQ(onnx::find_attribute(node, "alpha")->f, 0.25f);
  EXPECT_EQ(onnx::find_attribute(node, "group")->i, -3);
  EXPECT_EQ(onnx::find_attribute(node, "scales")->floats, (std::vector<float>{0.5f, 1.5f, 2.5f}));
  EXPECT_EQ(onnx::find_attribute(node, "names")->strings, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(onnx::find_attribute(node, "missing"), nullptr);
  const onnx::AttributeProto* value = onnx::find_attribute(node, "value");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(value->type, onnx::AttributeType::kTensor);
  EXPECT_EQ(value->t.name, "w");
  EXPECT_EQ(onnx::tensor_floats(value->t).value(), (std::vector<float>{1.0f, 2.0f}));

  ASSERT_EQ(graph.initializer.size(), 1u);
  EXPECT_EQ(graph.initializer[0].dims, (std::vector<int64_t>{2, 1, 1, 1}));
  EXPECT_EQ(onnx::tensor_floats(graph.initializer[0]).value(), (std::vector<float>{1.0f, 2.0f}));

  ASSERT_EQ(graph.input.size(), 1u);
  const onnx::ValueInfoProto& x = graph.input[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_TRUE(x.is_tensor);
  EXPECT_TRUE(x.has_shape);
  EXPECT_EQ(x.elem_type, onnx::DataType::kFloat);
  EXPECT_EQ(x.dims, (std::vector<int64_t>{-1, 1, 224, -1}));
  EXPECT_EQ(x.dim_params, (std::vector<std::string>{"N", "", "", ""}));
  ASSERT_EQ(graph.output.size(), 1u);
  EXPECT_TRUE(graph.output[0].is_tensor);
  EXPECT_TRUE(graph.output[0].has_shape);  // present, rank 0
  EXPECT_TRUE(graph.output[0].dims.empty());
  ASSERT_EQ(graph.value_info.size(), 1u);
  EXPECT_EQ(graph.value_info[0].name, "seq");
  EXPECT_FALSE(graph.value_info[0].is_tensor);
}

TEST(OnnxModel, ParsesHandBuiltModel) {
  Result<onnx::ModelProto> model = parse_model(build_conv_model(false));
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  expect_conv_model(model.value());
}

TEST(OnnxModel, SkipsUnknownFieldsAtEveryLevel) {
  const std::string plain = build_conv_model(false);
  const std::string with_unknown = build_conv_model(true);
  EXPECT_GT(with_unknown.size(), plain.size() + 100);
  Result<onnx::ModelProto> model = parse_model(with_unknown);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  expect_conv_model(model.value());
}

TEST(OnnxModel, OpsetVersion) {
  onnx::ModelProto model;
  EXPECT_EQ(onnx::opset_version(model), 0);
  model.opset_import = {{"ai.onnx", 11}, {"com.microsoft", 1}, {"", 13}, {"ai.onnx.ml", 3}};
  EXPECT_EQ(onnx::opset_version(model), 13);
  EXPECT_EQ(onnx::opset_version(model, "ai.onnx"), 13);
  EXPECT_EQ(onnx::opset_version(model, "com.microsoft"), 1);
  EXPECT_EQ(onnx::opset_version(model, "ai.onnx.ml"), 3);
  EXPECT_EQ(onnx::opset_version(model, "org.pytorch"), 0);
  Result<onnx::ModelProto> parsed = parse_model(build_conv_model(false));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(onnx::opset_version(parsed.value()), 13);
}

// A model whose graph has an If node nested `levels` deep (each then_branch holds the next If).
std::string nested_if_model(int levels) {
  ProtoWriter graph;
  graph.message_field(kGraphNode, ProtoWriter()
                                      .bytes_field(kNodeInput, "x")
                                      .bytes_field(kNodeOutput, "y")
                                      .bytes_field(kNodeOpType, "Identity"));
  for (int i = 0; i < levels; ++i) {
    ProtoWriter then_branch;
    then_branch.bytes_field(kAttrName, "then_branch")
        .message_field(kAttrG, graph)
        .varint_field(kAttrType, onnx::AttributeType::kGraph);
    ProtoWriter branches;
    branches.bytes_field(kAttrName, "branches")
        .message_field(kAttrGraphs, graph)
        .varint_field(kAttrType, onnx::AttributeType::kGraphs);
    ProtoWriter node;
    node.bytes_field(kNodeInput, "c")
        .bytes_field(kNodeOutput, "y")
        .bytes_field(kNodeOpType, "If")
        .message_field(kNodeAttribute, then_branch);
    if (i == 0) node.message_field(kNodeAttribute, branches);
    graph = ProtoWriter().message_field(kGraphNode, node);
  }
  return ProtoWriter().varint_field(kModelIrVersion, 8).message_field(kModelGraph, graph).bytes();
}

TEST(OnnxModel, ParsesSubgraphAttributes) {
  Result<onnx::ModelProto> model = parse_model(nested_if_model(3));
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const onnx::GraphProto* graph = &model->graph;
  for (int level = 0; level < 3; ++level) {
    ASSERT_EQ(graph->node.size(), 1u);
    EXPECT_EQ(graph->node[0].op_type, "If");
    const onnx::AttributeProto* then_branch = onnx::find_attribute(graph->node[0], "then_branch");
    ASSERT_NE(then_branch, nullptr);
    ASSERT_NE(then_branch->g, nullptr);
    const onnx::AttributeProto* branches = onnx::find_attribute(graph->node[0], "branches");
    if (level == 2) {  // the innermost If also lists its subgraph in `graphs`
      ASSERT_NE(branches, nullptr);
      ASSERT_EQ(branches->graphs.size(), 1u);
      EXPECT_EQ(branches->graphs[0].node[0].op_type, "Identity");
    } else {
      EXPECT_EQ(branches, nullptr);
    }
    graph = then_branch->g.get();
  }
  ASSERT_EQ(graph->node.size(), 1u);
  EXPECT_EQ(graph->node[0].op_type, "Identity");
  // Copies share subgraphs.
  onnx::ModelProto copy = model.value();
  EXPECT_EQ(copy.graph.node[0].attribute[0].g, model->graph.node[0].attribute[0].g);
}

TEST(OnnxModel, DeeplyNestedSubgraphsFailCleanly) {
  Result<onnx::ModelProto> deep = parse_model(nested_if_model(1000));
  EXPECT_EQ(deep.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(deep.status().message(), "nested deeper than 64"))
      << deep.status().message();
}

TEST(OnnxModel, ErrorsNameTheFieldAndOffset) {
  // op_type stored as a varint instead of a string.
  ProtoWriter node;
  node.bytes_field(kNodeInput, "x").varint_field(kNodeOpType, 3);
  ProtoWriter graph;
  graph.message_field(kGraphNode, node);
  ProtoWriter model;
  model.varint_field(kModelIrVersion, 8).message_field(kModelGraph, graph);
  // Bytes: 08 08 | 3a len | 0a len | 0a 01 'x' | 20 03 -> the op_type tag is at byte 9.
  Result<onnx::ModelProto> parsed = parse_model(model.bytes());
  EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(parsed.status().message(),
            "protobuf: NodeProto.op_type at byte 9: wire type varint, expected length-delimited");

  // A graph whose length runs past the end of the file.
  std::string truncated = model.bytes();
  truncated.pop_back();
  parsed = parse_model(truncated);
  EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(parsed.status().message(), "ModelProto.graph at byte 3: length"))
      << parsed.status().message();

  // A negative dimension.
  ProtoWriter bad_graph;
  bad_graph.message_field(kGraphInput,
                          tensor_value_info("x", onnx::DataType::kFloat, {dim_value(-2)}));
  parsed = parse_model(ProtoWriter().message_field(kModelGraph, bad_graph).bytes());
  EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(contains(parsed.status().message(), "negative dimension -2"))
      << parsed.status().message();
}

TEST(OnnxModel, RejectsEmptyAndNullInput) {
  EXPECT_EQ(onnx::parse_model(nullptr, 0).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(onnx::parse_model(nullptr, 5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(onnx::parse_tensor(nullptr, 5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(onnx::parse_tensor(nullptr, 0).ok());  // an empty TensorProto is valid protobuf
}

// ---------------------------------------------------------------------------------------------------
// Real files from Debian's libonnx-testdata.

const char* const kTestDataDir = "/usr/share/libonnx-testdata/data";

std::string node_test_dir(const std::string& name) {
  return std::string(kTestDataDir) + "/node/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

#define SKIP_WITHOUT_TEST_DATA()                                                   \
  if (!fs::is_directory(std::string(kTestDataDir) + "/node")) {                    \
    GTEST_SKIP() << kTestDataDir << " missing (apt-get install libonnx-testdata)"; \
  }

onnx::ModelProto load_model(const std::string& test) {
  const std::string bytes = read_file(node_test_dir(test) + "/model.onnx");
  Result<onnx::ModelProto> model = parse_model(bytes);
  EXPECT_TRUE(model.ok()) << test << ": " << model.status().to_string();
  return model.ok() ? std::move(model).value() : onnx::ModelProto();
}

onnx::TensorProto load_tensor(const std::string& test, const std::string& file) {
  const std::string bytes = read_file(node_test_dir(test) + "/test_data_set_0/" + file);
  EXPECT_FALSE(bytes.empty()) << test << "/" << file;
  Result<onnx::TensorProto> tensor = parse_tensor(bytes);
  EXPECT_TRUE(tensor.ok()) << test << "/" << file << ": " << tensor.status().to_string();
  return tensor.ok() ? std::move(tensor).value() : onnx::TensorProto();
}

TEST(OnnxTestData, Relu) {
  SKIP_WITHOUT_TEST_DATA();
  onnx::ModelProto model = load_model("test_relu");
  EXPECT_EQ(model.producer_name, "backend-test");
  EXPECT_GE(model.ir_version, 3);
  EXPECT_GE(onnx::opset_version(model), 1);
  ASSERT_EQ(model.graph.node.size(), 1u);
  EXPECT_EQ(model.graph.node[0].op_type, "Relu");
  EXPECT_EQ(model.graph.node[0].input, (std::vector<std::string>{"x"}));
  EXPECT_EQ(model.graph.node[0].output, (std::vector<std::string>{"y"}));
  ASSERT_EQ(model.graph.input.size(), 1u);
  EXPECT_EQ(model.graph.input[0].elem_type, onnx::DataType::kFloat);
  EXPECT_EQ(model.graph.input[0].dims, (std::vector<int64_t>{3, 4, 5}));

  onnx::TensorProto x = load_tensor("test_relu", "input_0.pb");
  onnx::TensorProto y = load_tensor("test_relu", "output_0.pb");
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dims, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(onnx::num_elements(x).value(), 60);
  std::vector<float> xs = onnx::tensor_floats(x).value();
  std::vector<float> ys = onnx::tensor_floats(y).value();
  ASSERT_EQ(xs.size(), 60u);
  ASSERT_EQ(ys.size(), 60u);
  int negatives = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(ys[i], xs[i] > 0 ? xs[i] : 0.0f) << i;
    negatives += xs[i] < 0;
  }
  EXPECT_GT(negatives, 0);
}

TEST(OnnxTestData, ConvWithStridesPadding) {
  SKIP_WITHOUT_TEST_DATA();
  onnx::ModelProto model = load_model("test_conv_with_strides_padding");
  ASSERT_EQ(model.graph.node.size(), 1u);
  const onnx::NodeProto& conv = model.graph.node[0];
  EXPECT_EQ(conv.op_type, "Conv");
  ASSERT_NE(onnx::find_attribute(conv, "strides"), nullptr);
  EXPECT_EQ(onnx::find_attribute(conv, "strides")->ints, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(onnx::find_attribute(conv, "pads")->ints, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(onnx::find_attribute(conv, "kernel_shape")->ints, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(onnx::find_attribute(conv, "kernel_shape")->type, onnx::AttributeType::kInts);

  onnx::TensorProto x = load_tensor("test_conv_with_strides_padding", "input_0.pb");
  onnx::TensorProto w = load_tensor("test_conv_with_strides_padding", "input_1.pb");
  onnx::TensorProto y = load_tensor("test_conv_with_strides_padding", "output_0.pb");
  EXPECT_EQ(x.dims, (std::vector<int64_t>{1, 1, 7, 5}));
  EXPECT_EQ(w.dims, (std::vector<int64_t>{1, 1, 3, 3}));
  EXPECT_EQ(y.dims, (std::vector<int64_t>{1, 1, 4, 3}));
  EXPECT_EQ(onnx::tensor_floats(x).value().size(), 35u);
  EXPECT_EQ(onnx::tensor_floats(w).value().size(), 9u);
  EXPECT_EQ(onnx::tensor_floats(y).value().size(), 12u);
  EXPECT_EQ(model.graph.output[0].dims, y.dims);
}

TEST(OnnxTestData, GemmDefaultNoBiasMatchesMatrixProduct) {
  SKIP_WITHOUT_TEST_DATA();
  onnx::ModelProto model = load_model("test_gemm_default_no_bias");
  ASSERT_EQ(model.graph.node.size(), 1u);
  EXPECT_EQ(model.graph.node[0].op_type, "Gemm");
  onnx::TensorProto a = load_tensor("test_gemm_default_no_bias", "input_0.pb");
  onnx::TensorProto b = load_tensor("test_gemm_default_no_bias", "input_1.pb");
  onnx::TensorProto y = load_tensor("test_gemm_default_no_bias", "output_0.pb");
  ASSERT_EQ(a.dims.size(), 2u);
  ASSERT_EQ(b.dims.size(), 2u);
  ASSERT_EQ(a.dims[1], b.dims[0]);
  EXPECT_EQ(y.dims, (std::vector<int64_t>{a.dims[0], b.dims[1]}));
  std::vector<float> av = onnx::tensor_floats(a).value();
  std::vector<float> bv = onnx::tensor_floats(b).value();
  std::vector<float> yv = onnx::tensor_floats(y).value();
  const int64_t m = a.dims[0], k = a.dims[1], n = b.dims[1];
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += static_cast<double>(av[i * k + p]) * bv[p * n + j];
      EXPECT_NEAR(yv[i * n + j], sum, 1e-4 * (1 + std::fabs(sum)));
    }
  }
}

TEST(OnnxTestData, AddUint8ReadsIntegerTensors) {
  SKIP_WITHOUT_TEST_DATA();
  onnx::ModelProto model = load_model("test_add_uint8");
  ASSERT_EQ(model.graph.node.size(), 1u);
  EXPECT_EQ(model.graph.node[0].op_type, "Add");
  EXPECT_EQ(model.graph.input[0].elem_type, onnx::DataType::kUint8);
  onnx::TensorProto a = load_tensor("test_add_uint8", "input_0.pb");
  onnx::TensorProto b = load_tensor("test_add_uint8", "input_1.pb");
  onnx::TensorProto y = load_tensor("test_add_uint8", "output_0.pb");
  EXPECT_EQ(a.data_type, onnx::DataType::kUint8);
  std::vector<int64_t> av = onnx::tensor_int64s(a).value();
  std::vector<int64_t> bv = onnx::tensor_int64s(b).value();
  std::vector<int64_t> yv = onnx::tensor_int64s(y).value();
  ASSERT_EQ(av.size(), 60u);
  ASSERT_EQ(yv.size(), av.size());
  for (size_t i = 0; i < av.size(); ++i) EXPECT_EQ(yv[i], (av[i] + bv[i]) % 256) << i;
  EXPECT_FALSE(onnx::tensor_floats(a).ok());
}

TEST(OnnxTestData, IfModelHasSubgraphs) {
  SKIP_WITHOUT_TEST_DATA();
  onnx::ModelProto model = load_model("test_if");
  ASSERT_EQ(model.graph.node.size(), 1u);
  const onnx::NodeProto& node = model.graph.node[0];
  EXPECT_EQ(node.op_type, "If");
  for (const char* branch : {"then_branch", "else_branch"}) {
    const onnx::AttributeProto* attribute = onnx::find_attribute(node, branch);
    ASSERT_NE(attribute, nullptr) << branch;
    EXPECT_EQ(attribute->type, onnx::AttributeType::kGraph);
    ASSERT_NE(attribute->g, nullptr);
    EXPECT_FALSE(attribute->g->node.empty());
    EXPECT_EQ(attribute->g->output.size(), 1u);
  }
}

// Checks one test_data_set file against the ValueInfoProto it feeds (or is produced by).
void check_data_file(const std::string& path, const onnx::ValueInfoProto& info,
                     std::vector<std::string>* failures, int* checked) {
  const std::string bytes = read_file(path);
  Result<onnx::TensorProto> tensor = parse_tensor(bytes);
  auto fail = [&](const std::string& why) { failures->push_back(path + ": " + why); };
  if (!tensor.ok()) return fail(tensor.status().to_string());
  // Two quirks of the ONNX 1.12 test data, not of the decoder: BFLOAT16 values are stored as
  // UINT16 tensors (numpy has no bfloat16), and CastLike's second input ("like", which only
  // supplies a type) holds one element although the graph declares a (3, 4) shape.
  const bool bfloat16_as_uint16 =
      info.elem_type == onnx::DataType::kBfloat16 && tensor->data_type == onnx::DataType::kUint16;
  const bool castlike_type_only =
      contains(path, "/test_castlike_") && contains(path, "/input_1.pb");
  if (tensor->data_type != info.elem_type && !bfloat16_as_uint16) {
    return fail(std::string("data type ") + onnx::data_type_name(tensor->data_type) +
                ", graph says " + onnx::data_type_name(info.elem_type));
  }
  if (info.has_shape && !castlike_type_only) {
    if (tensor->dims.size() != info.dims.size()) return fail("rank differs from the graph's");
    for (size_t i = 0; i < info.dims.size(); ++i) {
      if (info.dims[i] >= 0 && info.dims[i] != tensor->dims[i]) {
        return fail("dims differ from the graph's");
      }
    }
  }
  Result<int64_t> count = onnx::num_elements(tensor.value());
  if (!count.ok()) return fail(count.status().to_string());
  size_t decoded = 0;
  switch (tensor->data_type) {
    case onnx::DataType::kFloat:
    case onnx::DataType::kDouble:
    case onnx::DataType::kFloat16:
    case onnx::DataType::kBfloat16: {
      Result<std::vector<float>> values = onnx::tensor_floats(tensor.value());
      if (!values.ok()) return fail(values.status().to_string());
      decoded = values->size();
      break;
    }
    case onnx::DataType::kString: decoded = tensor->string_data.size(); break;
    case onnx::DataType::kComplex64:
    case onnx::DataType::kComplex128:
      decoded = static_cast<size_t>(count.value());  // not decoded by this API
      break;
    default: {
      Result<std::vector<int64_t>> values = onnx::tensor_int64s(tensor.value());
      if (!values.ok()) return fail(values.status().to_string());
      decoded = values->size();
    }
  }
  if (decoded != static_cast<size_t>(count.value())) return fail("element count differs from dims");
  ++*checked;
}

TEST(OnnxTestData, EveryModelAndTensorFileParses) {
  SKIP_WITHOUT_TEST_DATA();
  int models = 0;
  int tensors = 0;
  std::vector<std::string> failures;
  const auto start = std::chrono::steady_clock::now();
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    const fs::path suite_dir = fs::path(kTestDataDir) / suite;
    if (!fs::is_directory(suite_dir)) continue;
    for (const fs::directory_entry& test : fs::directory_iterator(suite_dir)) {
      const fs::path model_path = test.path() / "model.onnx";
      if (!fs::exists(model_path)) continue;
      Result<onnx::ModelProto> model = parse_model(read_file(model_path.string()));
      if (!model.ok()) {
        if (failures.size() < 20)
          failures.push_back(model_path.string() + ": " + model.status().to_string());
        continue;
      }
      ++models;
      EXPECT_GE(model->ir_version, 3) << model_path;
      EXPECT_FALSE(model->graph.node.empty()) << model_path;
      // Graph inputs that are not initializers feed input_<i>.pb in order.
      std::set<std::string> initializers;
      for (const onnx::TensorProto& t : model->graph.initializer) initializers.insert(t.name);
      std::vector<const onnx::ValueInfoProto*> inputs;
      for (const onnx::ValueInfoProto& v : model->graph.input) {
        if (!initializers.count(v.name)) inputs.push_back(&v);
      }
      for (const fs::directory_entry& data_set : fs::directory_iterator(test.path())) {
        if (!data_set.is_directory()) continue;
        for (size_t i = 0; i < inputs.size(); ++i) {
          const fs::path path = data_set.path() / ("input_" + std::to_string(i) + ".pb");
          if (inputs[i]->is_tensor && fs::exists(path))
            check_data_file(path.string(), *inputs[i], &failures, &tensors);
        }
        for (size_t i = 0; i < model->graph.output.size(); ++i) {
          const fs::path path = data_set.path() / ("output_" + std::to_string(i) + ".pb");
          const onnx::ValueInfoProto& info = model->graph.output[i];
          if (info.is_tensor && fs::exists(path))
            check_data_file(path.string(), info, &failures, &tensors);
        }
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& failure : failures) ADD_FAILURE() << failure;
  EXPECT_GT(models, 1000);
  EXPECT_GT(tensors, 3000);
  std::printf("parsed %d models and %d tensor files in %.2f s\n", models, tensors, seconds);
}

// ---------------------------------------------------------------------------------------------------
// Hostile input: must return an error or a valid model, never crash, hang or allocate absurdly.

// Parses `bytes` as a model and, when that succeeds, reads every tensor in it.
bool parse_and_touch_everything(const std::string& bytes) {
  // A copy of exactly the right size, so that reading past the end is caught by sanitizers.
  std::vector<uint8_t> exact(bytes.begin(), bytes.end());
  Result<onnx::ModelProto> model = onnx::parse_model(exact.data(), exact.size());
  if (!model.ok()) {
    EXPECT_FALSE(model.status().message().empty());
    return false;
  }
  std::vector<const onnx::GraphProto*> graphs = {&model->graph};
  while (!graphs.empty()) {
    const onnx::GraphProto* graph = graphs.back();
    graphs.pop_back();
    std::vector<const onnx::TensorProto*> tensors;
    for (const onnx::TensorProto& t : graph->initializer) tensors.push_back(&t);
    for (const onnx::NodeProto& node : graph->node) {
      for (const onnx::AttributeProto& a : node.attribute) {
        tensors.push_back(&a.t);
        for (const onnx::TensorProto& t : a.tensors) tensors.push_back(&t);
        if (a.g) graphs.push_back(a.g.get());
        for (const onnx::GraphProto& g : a.graphs) graphs.push_back(&g);
      }
    }
    for (const onnx::TensorProto* t : tensors) {
      Result<std::vector<float>> floats = onnx::tensor_floats(*t);
      Result<std::vector<int64_t>> ints = onnx::tensor_int64s(*t);
      // Decoded element counts can never exceed the input size (at least one byte per element).
      if (floats.ok()) {
        EXPECT_LE(floats->size(), bytes.size());
      }
      if (ints.ok()) {
        EXPECT_LE(ints->size(), bytes.size());
      }
    }
  }
  return true;
}

TEST(OnnxRobustness, EveryTruncationOfARealModel) {
  SKIP_WITHOUT_TEST_DATA();
  for (const char* test : {"test_relu", "test_conv_with_strides_padding", "test_if"}) {
    const std::string bytes = read_file(node_test_dir(test) + "/model.onnx");
    ASSERT_FALSE(bytes.empty()) << test;
    ASSERT_TRUE(parse_and_touch_everything(bytes)) << test;
    int errors = 0;
    for (size_t length = 0; length < bytes.size(); ++length) {
      errors += !parse_and_touch_everything(bytes.substr(0, length));
      // The importer refuses every strict truncation with a code, including the prefixes that end
      // on a field boundary and still parse as protobuf (they lose the opset_import, stored last).
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
      Result<std::shared_ptr<Graph>> g = import_onnx(prefix.data(), prefix.size());
      EXPECT_FALSE(g.ok()) << test << " truncated to " << length << " bytes imported";
      if (!g.ok()) EXPECT_FALSE(g.status().message().empty());
    }
    // Most prefixes cut a field; a few end exactly on a field boundary and are valid protobuf.
    EXPECT_GT(errors, static_cast<int>(bytes.size() * 3 / 4)) << test;
  }
  // Truncated tensor files too.
  const std::string tensor = read_file(node_test_dir("test_relu") + "/test_data_set_0/input_0.pb");
  for (size_t length = 0; length < tensor.size(); ++length) {
    std::vector<uint8_t> exact(tensor.begin(),
                               tensor.begin() + static_cast<std::ptrdiff_t>(length));
    Result<onnx::TensorProto> t = onnx::parse_tensor(exact.data(), exact.size());
    if (t.ok()) {
      Result<std::vector<float>> floats = onnx::tensor_floats(t.value());
      EXPECT_FALSE(floats.ok() && floats->size() == 60) << length;
    }
  }
}

TEST(OnnxRobustness, RandomByteFlipsNeverCrash) {
  SKIP_WITHOUT_TEST_DATA();
  std::mt19937 random(12345);
  int parsed = 0, rejected = 0;
  for (const char* test :
       {"test_relu", "test_conv_with_strides_padding", "test_gemm_default_no_bias", "test_if",
        "test_loop11", "test_scan_sum", "test_constant"}) {
    const std::string original = read_file(node_test_dir(test) + "/model.onnx");
    ASSERT_FALSE(original.empty()) << test;
    for (int trial = 0; trial < 3000; ++trial) {
      std::string bytes = original;
      const int flips = 1 + static_cast<int>(random() % 3);
      for (int f = 0; f < flips; ++f) {
        const size_t position = random() % bytes.size();
        uint8_t value = static_cast<uint8_t>(random());
        if (trial % 2 == 0) value = static_cast<uint8_t>(1u << (random() % 8));  // single bit
        bytes[position] =
            static_cast<char>(static_cast<uint8_t>(bytes[position]) ^ (value ? value : 1));
      }
      (parse_and_touch_everything(bytes) ? parsed : rejected)++;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(parsed, 0);
  std::printf("byte flips: %d parsed, %d rejected\n", parsed, rejected);
}

TEST(OnnxRobustness, RandomBytesNeverCrash) {
  std::mt19937 random(777);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes(1 + random() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    parse_and_touch_everything(bytes);
    std::vector<uint8_t> exact(bytes.begin(), bytes.end());
    Result<onnx::TensorProto> tensor = onnx::parse_tensor(exact.data(), exact.size());
    if (tensor.ok()) {
      Result<std::vector<float>> floats = onnx::tensor_floats(tensor.value());
      if (floats.ok()) {
        EXPECT_LE(floats->size(), bytes.size());
      }
    }
  }
}

}  // namespace
}  // namespace vitrine

namespace vitrine {
namespace {

// Symbolic dimensions beyond the batch (an audio length, an image size) are fixed at load by
// input_shapes; the shape must have the model's rank and agree with its fixed sizes; names that
// are not inputs and shapes for Vitrine files are refused.
TEST(OnnxImport, InputShapesFixSymbolicDimensions) {
  onnx_test::OnnxModelBuilder b(13);
  b.symbolic_input("x", {"batch", "3", "height", "width"}).node("Relu", {"x"}, {"y"}).output("y");
  const std::string bytes = b.bytes();
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  auto refused = import_onnx(data, bytes.size());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("symbolic dimension 2 ('height')"), std::string::npos) << refused.status().message();
  OnnxImportOptions o;
  o.input_shapes["x"] = {2, 3, 5, 7};
  auto g = import_onnx(data, bytes.size(), o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g.value()->value(g.value()->inputs()[0]).shape, (Shape{2, 3, 5, 7}));
  auto fails = [&](std::map<std::string, std::vector<int64_t>> shapes, const std::string& words) {
    OnnxImportOptions bad;
    bad.input_shapes = std::move(shapes);
    auto r = import_onnx(data, bytes.size(), bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
  };
  fails({{"x", {2, 4, 5, 7}}}, "dimension 1 is fixed at 3");
  fails({{"x", {3, 5, 7}}}, "declares rank 4");
  fails({{"x", {1, 3, 0, 7}}}, "must be >= 1");
  fails({{"x", {1, 3, 5, 7}}, {"z", {1}}}, "'z', which is not an input");
  // Through load_model: the same for ONNX; a Vitrine file refuses shapes.
  auto m = load_model(std::make_shared<const std::vector<uint8_t>>(bytes.begin(), bytes.end()), o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto saved = save_model(*m->graph);
  ASSERT_TRUE(saved.ok());
  auto v = load_model(std::make_shared<const std::vector<uint8_t>>(saved.value()), o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("Vitrine model file's input shapes are fixed"), std::string::npos);
}

// Runs a one-input ONNX model natively on x.
std::vector<float> run_onnx(const std::string& bytes, const Tensor& x) {
  auto g = import_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return {};
  auto ctx = Context::create(1, 1).value();
  auto ex = Executor::create(g.value(), ctx.get());
  EXPECT_TRUE(ex.ok()) << ex.status().message();
  std::vector<Tensor> out;
  EXPECT_TRUE(ex.value()->run({x}, &out).ok());
  return std::vector<float>(out[0].data(), out[0].data() + out[0].num_elements());
}

// 1-D convolution (rank-3 input, as audio front ends use) against a direct loop: stride 2,
// dilation 2, asymmetric pads, 2 groups, bias.
TEST(OnnxImport, Conv1dMatchesADirectLoop) {
  const int64_t n = 2, c = 4, l = 11, o = 6, k = 3, g = 2, stride = 2, dil = 2, pb = 2, pe = 1;
  std::vector<float> xv(static_cast<size_t>(n * c * l)), wv(static_cast<size_t>(o * (c / g) * k)), bv(static_cast<size_t>(o));
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(0.37f * static_cast<float>(i));
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = std::cos(0.91f * static_cast<float>(i));
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = 0.1f * static_cast<float>(i);
  onnx_test::OnnxModelBuilder b(13);
  b.input("x", {n, c, l}).initializer(onnx_test::float_tensor("w", {o, c / g, k}, wv)).initializer(onnx_test::float_tensor("b", {o}, bv));
  b.node("Conv", {"x", "w", "b"}, {"y"}, {onnx_test::attr_ints("strides", {stride}), onnx_test::attr_ints("dilations", {dil}),
                                          onnx_test::attr_ints("pads", {pb, pe}), onnx_test::attr_int("group", g)}).output("y");
  const Tensor x = Tensor::from_values(Shape{n, c, l}, xv.data(), xv.size()).value();
  const std::vector<float> got = run_onnx(b.bytes(), x);
  const int64_t lo = (l + pb + pe - dil * (k - 1) - 1) / stride + 1;
  ASSERT_EQ(got.size(), static_cast<size_t>(n * o * lo));
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t t = 0; t < lo; ++t) {
        double want = bv[static_cast<size_t>(oc)];
        const int64_t group = oc / (o / g);
        for (int64_t ic = 0; ic < c / g; ++ic)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t pos = t * stride + j * dil - pb;
            if (pos < 0 || pos >= l) continue;
            want += double(wv[static_cast<size_t>((oc * (c / g) + ic) * k + j)]) * xv[static_cast<size_t>((in * c + group * (c / g) + ic) * l + pos)];
          }
        EXPECT_NEAR(got[static_cast<size_t>((in * o + oc) * lo + t)], want, 1e-4) << in << "," << oc << "," << t;
      }
}

// Einsum with a constant second operand, summed, batch, contracted and kept labels in a new
// order ("bij,jk->bki" style: "bsj,jkb->kbs"), against a direct loop; diagonals are refused.
TEST(OnnxImport, EinsumMatchesADirectLoop) {
  const int64_t B = 2, S = 3, J = 4, K = 5;
  std::vector<float> xv(static_cast<size_t>(B * S * J)), wv(static_cast<size_t>(J * K * B));
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(0.37f * static_cast<float>(i));
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = std::cos(0.91f * static_cast<float>(i));
  onnx_test::OnnxModelBuilder b(13);
  b.input("x", {B, S, J}).initializer(onnx_test::float_tensor("w", {J, K, B}, wv));
  b.node("Einsum", {"x", "w"}, {"y"}, {onnx_test::attr_string("equation", "bsj, jkb -> kbs")}).output("y");
  const std::vector<float> got = run_onnx(b.bytes(), Tensor::from_values(Shape{B, S, J}, xv.data(), xv.size()).value());
  ASSERT_EQ(got.size(), static_cast<size_t>(K * B * S));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t bb = 0; bb < B; ++bb)
      for (int64_t s2 = 0; s2 < S; ++s2) {
        double want = 0;
        for (int64_t j = 0; j < J; ++j) want += double(xv[static_cast<size_t>((bb * S + s2) * J + j)]) * wv[static_cast<size_t>((j * K + k) * B + bb)];
        EXPECT_NEAR(got[static_cast<size_t>((k * B + bb) * S + s2)], want, 1e-5) << k << "," << bb << "," << s2;
      }
  onnx_test::OnnxModelBuilder d(13);
  d.input("x", {3, 3}).node("Einsum", {"x"}, {"y"}, {onnx_test::attr_string("equation", "ii->i")}).output("y");
  auto g = import_onnx(onnx_test::bytes_of(d.bytes()), d.bytes().size());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("repeated labels"), std::string::npos) << g.status().to_string();
}

// Clip whose bounds the graph computes (a log-mel floor: max(x) - 1.5): max(x, min) per element.
TEST(OnnxImport, ClipWithComputedBounds) {
  onnx_test::OnnxModelBuilder b(13);
  b.input("x", {2, 5}).initializer(onnx_test::float_tensor("range", {}, {1.5f})).initializer(onnx_test::float_tensor("hi", {}, {0.8f}));
  b.node("ReduceMax", {"x"}, {"m"}, {onnx_test::attr_int("keepdims", 0)}).node("Sub", {"m", "range"}, {"lo"});
  b.node("Clip", {"x", "lo", "hi"}, {"y"}).output("y");
  std::vector<float> xv = {0.1f, -2.0f, 0.9f, -0.5f, 0.3f, 0.2f, -1.0f, 0.75f, 0.0f, -0.6f};
  const std::vector<float> got = run_onnx(b.bytes(), Tensor::from_values(Shape{2, 5}, xv.data(), xv.size()).value());
  ASSERT_EQ(got.size(), xv.size());
  const float lo = 0.9f - 1.5f;
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_FLOAT_EQ(got[i], std::min(std::max(xv[i], lo), 0.8f)) << i;
}

// Counts a graph's nodes of one op.
int count_ops(const std::string& bytes, OpType op) {
  auto g = import_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!g.ok()) return -1;
  int k = 0;
  for (const GraphNode& n : g.value()->nodes()) k += n.type == op;
  return k;
}

// Layer norm and GELU spelled out in elementwise nodes (as exporters below opset 17 write them)
// become one op each, with the same values; a chain whose intermediate value is used elsewhere
// stays as written.
TEST(OnnxImport, FusesDecomposedLayerNormAndGelu) {
  using onnx_test::float_tensor;
  const int64_t rows = 3, d = 8;
  std::vector<float> gamma(d), beta(d), xv(rows * d);
  for (int64_t i = 0; i < d; ++i) gamma[static_cast<size_t>(i)] = 0.5f + 0.1f * static_cast<float>(i), beta[static_cast<size_t>(i)] = -0.2f * static_cast<float>(i);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(1.3f * static_cast<float>(i)) * 2.0f;
  auto build = [&](bool mean_is_output) {
    onnx_test::OnnxModelBuilder b(13);
    b.input("x", {rows, d});
    b.initializer(float_tensor("two", {}, {2.0f})).initializer(float_tensor("eps", {}, {1e-5f}));
    b.initializer(float_tensor("gamma", {d}, gamma)).initializer(float_tensor("beta", {d}, beta));
    b.initializer(float_tensor("root2", {}, {1.41421356f})).initializer(float_tensor("one", {}, {1.0f})).initializer(float_tensor("half", {}, {0.5f}));
    b.node("ReduceMean", {"x"}, {"mean"}, {onnx_test::attr_ints("axes", {-1})}).node("Sub", {"x", "mean"}, {"dev"});
    b.node("Pow", {"dev", "two"}, {"sq"}).node("ReduceMean", {"sq"}, {"var"}, {onnx_test::attr_ints("axes", {-1})});
    b.node("Add", {"var", "eps"}, {"ve"}).node("Sqrt", {"ve"}, {"sd"}).node("Div", {"dev", "sd"}, {"norm"});
    b.node("Mul", {"norm", "gamma"}, {"scaled"}).node("Add", {"scaled", "beta"}, {"ln"});
    b.node("Div", {"ln", "root2"}, {"u"}).node("Erf", {"u"}, {"e"}).node("Add", {"e", "one"}, {"e1"});
    b.node("Mul", {"ln", "e1"}, {"g1"}).node("Mul", {"g1", "half"}, {"y"}).output("y");
    if (mean_is_output) b.output("mean");
    return b.bytes();
  };
  const std::string fused = build(false), kept = build(true);
  EXPECT_EQ(count_ops(fused, OpType::kLayerNorm), 1);
  EXPECT_EQ(count_ops(fused, OpType::kGelu), 1);
  EXPECT_EQ(count_ops(fused, OpType::kReduceMean), 0);
  EXPECT_EQ(count_ops(kept, OpType::kLayerNorm), 0);  // the mean is an output too: nothing to fuse
  EXPECT_EQ(count_ops(kept, OpType::kGelu), 1);
  const Tensor x = Tensor::from_values(Shape{rows, d}, xv.data(), xv.size()).value();
  const std::vector<float> a = run_onnx(fused, x);
  ASSERT_EQ(a.size(), xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += xv[static_cast<size_t>(r * d + i)] / double(d);
    for (int64_t i = 0; i < d; ++i) var += std::pow(xv[static_cast<size_t>(r * d + i)] - mean, 2) / double(d);
    for (int64_t i = 0; i < d; ++i) {
      const double ln = (xv[static_cast<size_t>(r * d + i)] - mean) / std::sqrt(var + 1e-5) * gamma[static_cast<size_t>(i)] + beta[static_cast<size_t>(i)];
      EXPECT_NEAR(a[static_cast<size_t>(r * d + i)], 0.5 * ln * (1 + std::erf(ln / std::sqrt(2.0))), 1e-5) << r << "," << i;
    }
  }
}

}  // namespace
}  // namespace vitrine
