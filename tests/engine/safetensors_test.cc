#include "vitrine/safetensors.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vitrine/json.h"
#include "vitrine/tensor.h"

namespace vitrine {
namespace {

::testing::AssertionResult FailsWith(const Status& status, StatusCode code,
                                     const std::string& fragment) {
  if (status.ok()) return ::testing::AssertionFailure() << "expected an error, got OK";
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << status_code_name(code) << ", got " << status.to_string();
  }
  if (status.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\" lacks \"" << fragment << "\"";
  }
  return ::testing::AssertionSuccess();
}

// --- Hand-built files, following the format description directly (independent of the writer). ---

void AppendLittleEndian(std::vector<uint8_t>* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// 8-byte little-endian header length, the header text, the data buffer.
std::vector<uint8_t> BuildFile(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  AppendLittleEndian(&out, header.size(), 8);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> FloatBytes(const std::vector<float>& values) {
  std::vector<uint8_t> out;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    AppendLittleEndian(&out, bits, 4);
  }
  return out;
}

struct HandTensor {
  std::string name;
  std::string dtype;
  std::string shape;  // JSON text, e.g. "[2,3]"
  std::vector<uint8_t> bytes;
};

// A file holding `tensors` back to back in the given order; the header is padded with spaces to
// `header_multiple` bytes (plus `extra_spaces`).
std::vector<uint8_t> HandBuild(const std::vector<HandTensor>& tensors, const std::string& metadata,
                               size_t header_multiple = 8, size_t extra_spaces = 0) {
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + metadata;
  std::vector<uint8_t> data;
  for (const HandTensor& t : tensors) {
    if (header.size() > 1) header += ",";
    size_t begin = data.size();
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + t.shape +
              ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) +
              "]}";
  }
  header += "}";
  while (header.size() % header_multiple) header += ' ';
  header.append(extra_spaces, ' ');
  return BuildFile(header, data);
}

Result<SafetensorsFile> ParseHeader(const std::string& header, size_t data_size) {
  std::vector<uint8_t> file = BuildFile(header, std::vector<uint8_t>(data_size, 0));
  return SafetensorsFile::parse(file.data(), file.size());
}

Tensor RandomTensor(std::mt19937& rng, const Shape& shape) {
  Tensor t = Tensor::zeros(shape).value();
  std::normal_distribution<float> normal;
  float* data = t.mutable_data();
  for (int64_t i = 0; i < t.num_elements(); ++i) data[i] = normal(rng);
  return t;
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

// --------------------------------------------------------------------------------------------

TEST(Safetensors, RoundTripRandomShapes) {
  std::mt19937 rng(20240611);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    int count = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < count; ++i) {
      std::vector<int64_t> dims(rng() % 5);
      for (int64_t& d : dims) d = static_cast<int64_t>(rng() % 7);  // zero-size tensors too
      tensors.emplace_back("layer" + std::to_string(count - i) + ".w",
                           RandomTensor(rng, Shape::make(dims).value()));
    }
    std::map<std::string, std::string> metadata = {{"task", "trial " + std::to_string(trial)},
                                                   {"architecture", "{\"units\":[1,2]}"}};
    Result<std::vector<uint8_t>> bytes = write_safetensors(tensors, metadata);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= uint64_t{bytes.value()[i]} << (8 * i);
    EXPECT_EQ(header_size % 8, 0u);

    Result<SafetensorsFile> file = SafetensorsFile::parse(
        std::make_shared<const std::vector<uint8_t>>(std::move(bytes.value())));
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    EXPECT_EQ(file->metadata().at("task"), "trial " + std::to_string(trial));
    EXPECT_EQ(file->metadata().at("architecture"), "{\"units\":[1,2]}");
    EXPECT_EQ(file->metadata().at("format"), "vitrine");
    EXPECT_EQ(file->metadata().at("format_version"), "1");  // all f32
    EXPECT_TRUE(check_vitrine_metadata(file.value()).ok());
    ASSERT_EQ(file->names().size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& [name, expected] = tensors[i];
      EXPECT_EQ(file->names()[i], name);  // file order = write order
      TensorInfo info = file->info(name).value();
      EXPECT_EQ(info.dtype, "F32");
      EXPECT_EQ(info.shape, expected.shape().to_vector());
      EXPECT_EQ(info.num_elements, expected.num_elements());
      EXPECT_EQ(info.data_end - info.data_begin, expected.nbytes());
      EXPECT_EQ(info.file_offset, 8 + header_size + info.data_begin);
      EXPECT_EQ(info.file_offset % 4, 0u);
      Result<Tensor> loaded = file->tensor(name);
      ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
      EXPECT_TRUE(SameBits(loaded.value(), expected)) << name;
    }
  }
}

TEST(Safetensors, ZeroCopyViewOutlivesTheFile) {
  std::mt19937 rng(7);
  Tensor big = RandomTensor(rng, Shape{4, 40});
  Tensor filler = RandomTensor(rng, Shape{40});  // 160 bytes >= kTensorPadding after "big"
  Tensor tail = RandomTensor(rng, Shape{3});
  auto bytes = std::make_shared<const std::vector<uint8_t>>(
      write_safetensors({{"big", big}, {"filler", filler}, {"tail", tail}}).value());
  std::weak_ptr<const std::vector<uint8_t>> watch = bytes;
  const uint8_t* begin = bytes->data();
  const uint8_t* end = begin + bytes->size();

  Tensor view, tail_copy;
  {
    Result<SafetensorsFile> file = SafetensorsFile::parse(bytes);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    bytes.reset();  // the file object (and its views) now own the bytes
    view = file->tensor("big").value();
    tail_copy = file->tensor("tail").value();
    auto raw = file->raw_bytes("big").value();
    EXPECT_EQ(raw.second, big.nbytes());
    EXPECT_EQ(static_cast<const void*>(raw.first), static_cast<const void*>(view.data()));
  }
  EXPECT_FALSE(watch.expired());
  const auto* p = reinterpret_cast<const uint8_t*>(view.data());
  EXPECT_TRUE(p >= begin && p + view.nbytes() <= end) << "view does not point into the file bytes";
  EXPECT_TRUE(view.is_borrowed());
  EXPECT_TRUE(SameBits(view, big));
  // Fewer than kTensorPadding bytes follow the last tensor: it is copied, not viewed.
  EXPECT_FALSE(tail_copy.is_borrowed());
  EXPECT_TRUE(SameBits(tail_copy, tail));
  view = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(Safetensors, UnalignedF32IsCopied) {
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 1e-3f};
  std::vector<HandTensor> tensors = {{"w", "F32", "[2,2]", FloatBytes(values)},
                                     {"pad", "U8", "[200]", std::vector<uint8_t>(200, 7)}};
  for (size_t misalign : {0, 1, 2, 3}) {
    std::vector<uint8_t> file = HandBuild(tensors, "", 4, misalign);
    Result<SafetensorsFile> parsed =
        SafetensorsFile::parse(std::make_shared<const std::vector<uint8_t>>(std::move(file)));
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(parsed->info("w").value().file_offset % 4, misalign);
    Tensor w = parsed->tensor("w").value();
    EXPECT_EQ(w.is_borrowed(), misalign == 0) << misalign;
    EXPECT_EQ(w.shape(), (Shape{2, 2}));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(w.data()[i], values[i]);
  }
}

TEST(Safetensors, ConvertsF16BF16AndF64) {
  const float subnormal_ulp = std::ldexp(1.0f, -24);
  const std::pair<uint16_t, float> f16_cases[] = {
      {0x3C00, 1.0f},
      {0xC000, -2.0f},
      {0x3800, 0.5f},
      {0x7BFF, 65504.0f},
      {0x0001, subnormal_ulp},
      {0x03FF, 1023 * subnormal_ulp},
      {0x0400, std::ldexp(1.0f, -14)},
      {0x7C00, HUGE_VALF},
      {0xFC00, -HUGE_VALF},
      {0x7E00, NAN},
      {0x8000, -0.0f},
      {0x3555, 0.333251953125f},
  };
  std::vector<uint16_t> f16;
  std::vector<float> f16_expected;
  for (const auto& [bits, value] : f16_cases) {
    f16.push_back(bits);
    f16_expected.push_back(value);
  }
  std::vector<uint16_t> bf16 = {0x3F80, 0xC040, 0x7F80, 0x0001, 0x4049};
  std::vector<float> bf16_expected = {1.0f, -3.0f, HUGE_VALF, 9.18354961579912e-41f, 3.140625f};
  std::vector<double> f64 = {0.1, -1e300, 1e-50, 3.5, static_cast<double>(FLT_MAX), -7.0};
  std::vector<uint8_t> f16_bytes, bf16_bytes, f64_bytes;
  for (uint16_t h : f16) AppendLittleEndian(&f16_bytes, h, 2);
  for (uint16_t b : bf16) AppendLittleEndian(&bf16_bytes, b, 2);
  for (double d : f64) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    AppendLittleEndian(&f64_bytes, bits, 8);
  }
  std::vector<uint8_t> file = HandBuild({{"half", "F16", "[3,4]", f16_bytes},
                                         {"brain", "BF16", "[5]", bf16_bytes},
                                         {"double", "F64", "[2,3]", f64_bytes}},
                                        "");
  SafetensorsFile parsed = SafetensorsFile::parse(file.data(), file.size()).value();
  Tensor half = parsed.tensor("half").value();
  EXPECT_EQ(half.shape(), (Shape{3, 4}));
  for (size_t i = 0; i < f16.size(); ++i) {
    if (std::isnan(f16_expected[i])) {
      EXPECT_TRUE(std::isnan(half.data()[i]));
    } else {
      EXPECT_EQ(half.data()[i], f16_expected[i]) << "F16 element " << i;
      EXPECT_EQ(std::signbit(half.data()[i]), std::signbit(f16_expected[i])) << i;
    }
  }
  Tensor brain = parsed.tensor("brain").value();
  for (size_t i = 0; i < bf16.size(); ++i) EXPECT_EQ(brain.data()[i], bf16_expected[i]) << i;
  Tensor dbl = parsed.tensor("double").value();
  EXPECT_EQ(dbl.shape(), (Shape{2, 3}));
  EXPECT_EQ(dbl.data()[0], 0.1f);
  EXPECT_EQ(dbl.data()[1], -HUGE_VALF);
  EXPECT_EQ(dbl.data()[2], 0.0f);
  EXPECT_EQ(dbl.data()[3], 3.5f);
  EXPECT_EQ(dbl.data()[4], FLT_MAX);
  EXPECT_EQ(dbl.data()[5], -7.0f);
  EXPECT_TRUE(FailsWith(parsed.integers("half").status(), StatusCode::kInvalidArgument,
                        "tensor \"half\" has dtype F16, not an integer dtype"));
}

TEST(Safetensors, ReadsIntegerTensors) {
  std::vector<uint8_t> i64, i32, i16, u64_ok, u64_big;
  for (int64_t v : {int64_t{-5}, int64_t{1} << 40, INT64_MIN}) {
    AppendLittleEndian(&i64, static_cast<uint64_t>(v), 8);
  }
  for (int32_t v : {-1, 70000, INT32_MIN}) AppendLittleEndian(&i32, static_cast<uint32_t>(v), 4);
  for (int v : {-300, 300}) AppendLittleEndian(&i16, static_cast<uint16_t>(v), 2);
  AppendLittleEndian(&u64_ok, uint64_t{INT64_MAX}, 8);
  AppendLittleEndian(&u64_big, uint64_t{INT64_MAX} + 1, 8);
  std::vector<uint8_t> file = HandBuild({{"i64", "I64", "[3]", i64},
                                         {"i32", "I32", "[3]", i32},
                                         {"i16", "I16", "[2]", i16},
                                         {"i8", "I8", "[2]", {0xFF, 0x7F}},
                                         {"u8", "U8", "[2]", {0xFF, 0x00}},
                                         {"flags", "BOOL", "[3]", {0, 1, 2}},
                                         {"u16", "U16", "[1]", {0xFF, 0xFF}},
                                         {"u32", "U32", "[1]", {0xFF, 0xFF, 0xFF, 0xFF}},
                                         {"u64_ok", "U64", "[]", u64_ok},
                                         {"u64_big", "U64", "[1]", u64_big}},
                                        "{\"format\":\"pt\"}");
  SafetensorsFile parsed = SafetensorsFile::parse(file.data(), file.size()).value();
  EXPECT_EQ(parsed.integers("i64").value(),
            (std::vector<int64_t>{-5, int64_t{1} << 40, INT64_MIN}));
  EXPECT_EQ(parsed.integers("i32").value(), (std::vector<int64_t>{-1, 70000, INT32_MIN}));
  EXPECT_EQ(parsed.integers("i16").value(), (std::vector<int64_t>{-300, 300}));
  EXPECT_EQ(parsed.integers("i8").value(), (std::vector<int64_t>{-1, 127}));
  EXPECT_EQ(parsed.integers("u8").value(), (std::vector<int64_t>{255, 0}));
  EXPECT_EQ(parsed.integers("flags").value(), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(parsed.integers("u16").value(), (std::vector<int64_t>{65535}));
  EXPECT_EQ(parsed.integers("u32").value(), (std::vector<int64_t>{4294967295}));
  EXPECT_EQ(parsed.integers("u64_ok").value(), (std::vector<int64_t>{INT64_MAX}));
  EXPECT_TRUE(FailsWith(parsed.integers("u64_big").status(), StatusCode::kDataLoss,
                        "tensor \"u64_big\": U64 element 0 (9223372036854775808) does not fit"));
  EXPECT_TRUE(FailsWith(parsed.tensor("i64").status(), StatusCode::kUnimplemented,
                        "tensor \"i64\" has dtype I64"));
  EXPECT_TRUE(FailsWith(parsed.tensor("flags").status(), StatusCode::kUnimplemented, "dtype BOOL"));
  EXPECT_TRUE(FailsWith(parsed.integers("nope").status(), StatusCode::kNotFound,
                        "no tensor named \"nope\""));
  EXPECT_TRUE(
      FailsWith(parsed.tensor("nope").status(), StatusCode::kNotFound, "no tensor named \"nope\""));
  EXPECT_TRUE(FailsWith(parsed.info("nope").status(), StatusCode::kNotFound, "\"nope\""));
  EXPECT_TRUE(FailsWith(parsed.raw_bytes("nope").status(), StatusCode::kNotFound, "\"nope\""));
  EXPECT_TRUE(parsed.contains("u8"));
  EXPECT_FALSE(parsed.contains("nope"));
  EXPECT_EQ(parsed.raw_bytes("u8").value().second, 2u);
  EXPECT_EQ(parsed.raw_bytes("u8").value().first[0], 0xFF);
}

TEST(Safetensors, TensorRejectsShapesVitrineCannotHold) {
  std::vector<uint8_t> file =
      HandBuild({{"deep", "F32", "[1,1,1,1,1,1,1]", FloatBytes({1.0f})}}, "");
  SafetensorsFile parsed = SafetensorsFile::parse(file.data(), file.size()).value();
  EXPECT_EQ(parsed.info("deep").value().shape.size(), 7u);  // the header itself is fine
  EXPECT_TRUE(FailsWith(parsed.tensor("deep").status(), StatusCode::kInvalidArgument,
                        "tensor \"deep\": shape has rank 7"));
}

// Interop: a file laid out as the reference implementation writes it (keys sorted, "pt" metadata,
// header padded with spaces to 8 bytes), its bytes written out by hand.
TEST(Safetensors, ReadsAHandWrittenReferenceFile) {
  std::string header =
      R"({"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  while (header.size() % 8) header += ' ';
  std::vector<uint8_t> data = {
      0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40,  // weight: 1, 2
      0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x80, 0x40,  // 3, 4
      0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x00, 0xBF,  // bias: 0.5, -0.5
  };
  std::vector<uint8_t> file = BuildFile(header, data);
  SafetensorsFile parsed = SafetensorsFile::parse(file.data(), file.size()).value();
  EXPECT_EQ(parsed.names(), (std::vector<std::string>{"bias", "weight"}));  // header order
  EXPECT_EQ(parsed.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  Tensor weight = parsed.tensor("weight").value();
  EXPECT_EQ(weight.shape(), (Shape{2, 2}));
  EXPECT_EQ(std::vector<float>(weight.data(), weight.data() + 4), (std::vector<float>{1, 2, 3, 4}));
  Tensor bias = parsed.tensor("bias").value();
  EXPECT_EQ(std::vector<float>(bias.data(), bias.data() + 2), (std::vector<float>{0.5f, -0.5f}));
  TensorInfo info = parsed.info("bias").value();
  EXPECT_EQ(info.data_begin, 16u);
  EXPECT_EQ(info.data_end, 24u);
  EXPECT_EQ(info.file_offset, 8 + header.size() + 16);
  EXPECT_TRUE(FailsWith(check_vitrine_metadata(parsed), StatusCode::kInvalidArgument,
                        "\"format\" is \"pt\", expected \"vitrine\""));
}

// The writer's bytes, checked against the format description byte for byte.
TEST(Safetensors, WriterOutputMatchesTheFormatByteForByte) {
  Tensor w = Tensor::from_values(Shape{2}, std::vector<float>{1.0f, -2.0f}.data(), 2).value();
  std::vector<uint8_t> bytes = write_safetensors({{"w", w}}).value();
  std::string header = R"({"__metadata__":{"format":"vitrine","format_version":"1"},)"
                       R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while (header.size() % 8) header += ' ';
  std::vector<uint8_t> expected =
      BuildFile(header, {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0});
  EXPECT_EQ(bytes, expected);
  EXPECT_EQ(std::string(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header.size())),
            header);
}

TEST(Safetensors, AcceptsPaddingZeroSizeTensorsAndEmptyFiles) {
  // Header padded with trailing spaces; a zero-size tensor sharing its offset with another.
  std::string header =
      R"({"empty":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
      R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"s":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}       )";
  Result<SafetensorsFile> parsed = ParseHeader(header, 12);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->tensor("empty").value().shape(), (Shape{0, 3}));
  EXPECT_EQ(parsed->tensor("s").value().shape(), Shape());
  EXPECT_EQ(parsed->info("s").value().num_elements, 1);
  // A header with no tensors and no data is a valid (empty) file.
  Result<SafetensorsFile> empty = ParseHeader("{}", 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->names().empty());
  EXPECT_TRUE(empty->metadata().empty());
  EXPECT_TRUE(ParseHeader(R"({"__metadata__":{}})", 0).ok());
}

TEST(Safetensors, RejectsBadLengths) {
  std::vector<uint8_t> tiny = {1, 0, 0, 0, 0};
  EXPECT_TRUE(FailsWith(SafetensorsFile::parse(tiny.data(), tiny.size()).status(),
                        StatusCode::kDataLoss, "the file has 5 bytes, too few"));
  EXPECT_TRUE(FailsWith(SafetensorsFile::parse(nullptr, 0).status(), StatusCode::kDataLoss,
                        "the file has 0 bytes"));
  EXPECT_TRUE(FailsWith(SafetensorsFile::parse(nullptr, 4).status(), StatusCode::kInvalidArgument,
                        "null data pointer"));
  EXPECT_TRUE(
      FailsWith(SafetensorsFile::parse(std::shared_ptr<const std::vector<uint8_t>>()).status(),
                StatusCode::kInvalidArgument, "no bytes"));

  std::vector<uint8_t> file = BuildFile("{}", {});
  std::vector<uint8_t> past_end = file;
  past_end[0] = 100;
  EXPECT_TRUE(FailsWith(
      SafetensorsFile::parse(past_end.data(), past_end.size()).status(), StatusCode::kDataLoss,
      "header length 100 runs past the end of the file (2 bytes follow the length)"));
  for (uint64_t huge : {uint64_t{100000001}, uint64_t{1} << 40, ~uint64_t{0}}) {
    std::vector<uint8_t> big = file;
    for (int i = 0; i < 8; ++i) big[i] = static_cast<uint8_t>(huge >> (8 * i));
    EXPECT_TRUE(FailsWith(
        SafetensorsFile::parse(big.data(), big.size()).status(), StatusCode::kDataLoss,
        "header length " + std::to_string(huge) + " exceeds the limit of 100000000 bytes"));
  }
}

TEST(Safetensors, RejectsHostileHeaders) {
  struct Case {
    std::string header;
    size_t data_size;
    std::string fragment;
  };
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}";
  };
  const Case cases[] = {
      {"", 0, "the header must be a JSON object starting with '{'"},
      {"[]", 0, "starting with '{'"},
      {" {}", 0, "starting with '{'"},
      {"{\"w\":", 0, "header: JSON: byte 5: expected a value"},
      {"{\"w\xFF\":1}", 0, "header: JSON: byte 3: expected valid UTF-8"},
      {"{} x", 0, "header: JSON: byte 3: expected end of input"},
      {"{" + entry("w", "3", "[2]", "[0,8]") + "}", 8,
       "tensor \"w\": dtype: expected a string, got a number"},
      {"{" + entry("w", "\"F128\"", "[2]", "[0,8]") + "}", 8,
       "tensor \"w\": unknown dtype \"F128\""},
      {"{" + entry("w", "\"f32\"", "[2]", "[0,8]") + "}", 8, "tensor \"w\": unknown dtype \"f32\""},
      {"{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor \"w\": dtype: missing"},
      {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "tensor \"w\": shape: missing"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor \"w\": data_offsets: missing"},
      {"{" + entry("w", "\"F32\"", "\"2\"", "[0,8]") + "}", 8,
       "tensor \"w\": shape: expected an array, got a string"},
      {"{" + entry("w", "\"F32\"", "[2,-1]", "[0,8]") + "}", 8,
       "tensor \"w\": shape[1] is negative (-1)"},
      {"{" + entry("w", "\"F32\"", "[2.5]", "[0,8]") + "}", 8,
       "tensor \"w\": shape[0]: expected an integer, got 2.5"},
      {"{" + entry("w", "\"F32\"", "[\"2\"]", "[0,8]") + "}", 8,
       "tensor \"w\": shape[0]: expected a number, got a string"},
      {"{" + entry("w", "\"F32\"", "[1e300]", "[0,8]") + "}", 8,
       "tensor \"w\": shape[0]: integer 1e+300 is outside"},
      {"{" + entry("w", "\"F32\"", "[4294967296,4294967296,4294967296]", "[0,8]") + "}", 8,
       "tensor \"w\": the element count of shape (4294967296, 4294967296)... overflows 64 bits"},
      {"{" + entry("w", "\"F64\"", "[2147483648,2147483648]", "[0,8]") + "}", 8,
       "tensor \"w\": the byte size of shape (2147483648, 2147483648) of F64 overflows 64 bits"},
      {"{" + entry("w", "\"U8\"", "[4294967296,2147483648]", "[0,8]") + "}", 8,
       "the byte size of shape (4294967296, 2147483648) of U8 overflows"},
      {"{" + entry("w", "\"F32\"", "[2]", "{}") + "}", 8,
       "tensor \"w\": data_offsets: expected an array, got an object"},
      {"{" + entry("w", "\"F32\"", "[2]", "[0]") + "}", 8,
       "tensor \"w\": data_offsets: expected [begin, end], got an array of 1 elements"},
      {"{" + entry("w", "\"F32\"", "[2]", "[0,8,8]") + "}", 8, "got an array of 3 elements"},
      {"{" + entry("w", "\"F32\"", "[2]", "[-8,0]") + "}", 8,
       "tensor \"w\": data_offsets[0] is negative (-8)"},
      {"{" + entry("w", "\"F32\"", "[2]", "[0,8.5]") + "}", 8,
       "tensor \"w\": data_offsets[1]: expected an integer, got 8.5"},
      {"{" + entry("w", "\"F32\"", "[2]", "[0,1e20]") + "}", 8,
       "tensor \"w\": data_offsets[1]: integer 1e+20 is outside"},
      {"{" + entry("w", "\"F32\"", "[2]", "[8,0]") + "}", 8,
       "tensor \"w\": data_offsets [8, 0) begin after they end"},
      {"{" + entry("w", "\"F32\"", "[4]", "[0,16]") + "}", 8,
       "tensor \"w\": data_offsets [0, 16) run past the end of the data buffer (8 bytes)"},
      {"{" + entry("w", "\"F32\"", "[3]", "[0,8]") + "}", 8,
       "tensor \"w\": data_offsets [0, 8) hold 8 bytes, but shape (3) of F32 needs 12"},
      {"{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," + entry("b", "\"F32\"", "[2]", "[4,12]") +
           "}",
       12, "tensor \"b\": data_offsets [4, 12) overlap tensor \"a\" at [0, 8)"},
      {"{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," + entry("b", "\"F32\"", "[2]", "[0,8]") +
           "}",
       8, "overlap tensor"},
      {"{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," + entry("z", "\"U8\"", "[0]", "[4,4]") +
           "}",
       8, "tensor \"z\": data_offsets [4, 4) overlap tensor \"a\" at [0, 8)"},
      {"{" + entry("a", "\"F32\"", "[1]", "[0,4]") + "," + entry("b", "\"F32\"", "[1]", "[8,12]") +
           "}",
       12, "bytes [4, 8) of the data buffer belong to no tensor (a gap before tensor \"b\")"},
      {"{" + entry("b", "\"F32\"", "[1]", "[4,8]") + "}", 8,
       "bytes [0, 4) of the data buffer belong to no tensor (a gap before tensor \"b\")"},
      {"{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "}", 12,
       "bytes [8, 12) of the data buffer belong to no tensor (after tensor \"a\")"},
      {"{}", 4,
       "bytes [0, 4) of the data buffer belong to no tensor (the header lists no tensors)"},
      {"{" + entry("w", "\"F32\"", "[1]", "[0,4]") + "," + entry("w", "\"F32\"", "[1]", "[4,8]") +
           "}",
       8, "header: JSON: byte 54: duplicate key \"w\""},
      {"{\"__metadata__\":{\"version\":1}}", 0,
       "__metadata__.version: expected a string, got a number"},
      {"{\"__metadata__\":{\"a\":\"x\",\"b\":null}}", 0,
       "__metadata__.b: expected a string, got null"},
      {"{\"__metadata__\":[\"x\"]}", 0, "__metadata__: expected an object, got an array"},
      {"{\"w\":[1]}", 0,
       "tensor \"w\": expected an object with dtype, shape and data_offsets, got an array"},
  };
  for (const Case& c : cases) {
    Result<SafetensorsFile> parsed = ParseHeader(c.header, c.data_size);
    EXPECT_TRUE(FailsWith(parsed.status(), StatusCode::kDataLoss, c.fragment))
        << "header: " << c.header;
    EXPECT_EQ(parsed.status().message().rfind("safetensors: ", 0), 0u) << parsed.status().message();
  }
}

TEST(Safetensors, WriterRejectsBadInput) {
  Tensor ok = Tensor::zeros(Shape{2}).value();
  EXPECT_TRUE(FailsWith(write_safetensors({{"a", ok}, {"a", ok}}).status(),
                        StatusCode::kInvalidArgument, "tensor \"a\" is listed twice"));
  EXPECT_TRUE(FailsWith(write_safetensors({{"e", Tensor()}}).status(), StatusCode::kInvalidArgument,
                        "tensor \"e\" is empty"));
  EXPECT_TRUE(FailsWith(write_safetensors({{"__metadata__", ok}}).status(),
                        StatusCode::kInvalidArgument, "\"__metadata__\" is reserved"));
  EXPECT_TRUE(FailsWith(write_safetensors({{"bad\xFF", ok}}).status(), StatusCode::kInvalidArgument,
                        "is not valid UTF-8"));
  EXPECT_TRUE(FailsWith(write_safetensors({{"a", ok}}, {{"k", "\xC0\x80"}}).status(),
                        StatusCode::kInvalidArgument,
                        "metadata key \"k\" or its value is not valid UTF-8"));
  // Names and metadata that need JSON escaping survive.
  std::string odd = "we\"ird\\name\n\xC3\xA9";
  auto bytes = write_safetensors({{odd, ok}, {"", ok}}, {{"note", "line1\nline2\t\"q\""}});
  ASSERT_TRUE(bytes.ok());
  SafetensorsFile parsed = SafetensorsFile::parse(bytes->data(), bytes->size()).value();
  EXPECT_EQ(parsed.names(), (std::vector<std::string>{odd, ""}));
  EXPECT_EQ(parsed.metadata().at("note"), "line1\nline2\t\"q\"");
  // A view (rows of a larger tensor) writes its own elements only.
  float values[6] = {1, 2, 3, 4, 5, 6};
  Tensor rows = Tensor::from_values(Shape{3, 2}, values, 6).value().rows(1, 3).value();
  auto rows_file = write_safetensors({{"rows", rows}}).value();
  Tensor back =
      SafetensorsFile::parse(rows_file.data(), rows_file.size()).value().tensor("rows").value();
  EXPECT_EQ(std::vector<float>(back.data(), back.data() + 4), (std::vector<float>{3, 4, 5, 6}));
}

TEST(Safetensors, VitrineMetadataVersioning) {
  Tensor t = Tensor::zeros(Shape{1}).value();
  auto check = [&](const std::map<std::string, std::string>& metadata) {
    std::vector<uint8_t> bytes = write_safetensors({{"t", t}}, metadata).value();
    return check_vitrine_metadata(SafetensorsFile::parse(bytes.data(), bytes.size()).value());
  };
  EXPECT_TRUE(check({}).ok());
  EXPECT_TRUE(check({{"format_version", "1.7"}}).ok());  // newer minor: still readable
  EXPECT_TRUE(check({{"format_version", "2"}}).ok());  // typed inputs and constants
  EXPECT_TRUE(FailsWith(check({{"format_version", "3"}}), StatusCode::kUnimplemented,
                        "format_version 3, newer than this build reads (major version 2): update"));
  EXPECT_TRUE(FailsWith(check({{"format_version", "12.0"}}), StatusCode::kUnimplemented,
                        "format_version 12.0"));
  for (const char* bad : {"0", "x", "1.", ".1", "-1", "1.2.3", "", "99999999999"}) {
    EXPECT_TRUE(FailsWith(check({{"format_version", bad}}), StatusCode::kInvalidArgument,
                          "is not a version like"))
        << bad;
  }
  EXPECT_TRUE(FailsWith(check({{"format", "pt"}}), StatusCode::kInvalidArgument,
                        "not a Vitrine model file: __metadata__ \"format\" is \"pt\""));
  std::vector<uint8_t> plain = HandBuild({{"t", "F32", "[1]", FloatBytes({0.0f})}}, "");
  EXPECT_TRUE(
      FailsWith(check_vitrine_metadata(SafetensorsFile::parse(plain.data(), plain.size()).value()),
                StatusCode::kInvalidArgument, "has no \"format\" entry"));
  std::vector<uint8_t> unversioned =
      HandBuild({{"t", "F32", "[1]", FloatBytes({0.0f})}}, "{\"format\":\"vitrine\"}");
  EXPECT_TRUE(FailsWith(check_vitrine_metadata(
                            SafetensorsFile::parse(unversioned.data(), unversioned.size()).value()),
                        StatusCode::kInvalidArgument, "without a \"format_version\""));
}

TEST(Safetensors, ReadAndWriteFiles) {
  std::string path = ::testing::TempDir() + "vitrine_safetensors_test.safetensors";
  std::mt19937 rng(3);
  Tensor t = RandomTensor(rng, Shape{64, 33});
  std::vector<uint8_t> bytes = write_safetensors({{"t", t}}).value();
  ASSERT_TRUE(write_file(path, bytes).ok());
  Result<std::vector<uint8_t>> back = read_file(path);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back.value(), bytes);
  SafetensorsFile parsed =
      SafetensorsFile::parse(std::make_shared<const std::vector<uint8_t>>(std::move(back.value())))
          .value();
  EXPECT_TRUE(SameBits(parsed.tensor("t").value(), t));
  ASSERT_TRUE(write_file(path, {}).ok());
  EXPECT_TRUE(read_file(path).value().empty());
  std::remove(path.c_str());
  EXPECT_TRUE(FailsWith(read_file(path).status(), StatusCode::kNotFound, "cannot open"));
  EXPECT_FALSE(write_file(::testing::TempDir() + "no/such/dir/x.safetensors", bytes).ok());
}

// Every prefix and thousands of random corruptions of small valid files: an error or a valid file
// whose tensors all read back, never a crash (run under ASan/UBSan to check reads too).
TEST(Safetensors, SurvivesTruncationAndRandomCorruption) {
  std::mt19937 rng(424242);
  std::vector<std::vector<uint8_t>> seeds;
  seeds.push_back(write_safetensors({{"a", RandomTensor(rng, Shape{2, 3})},
                                     {"b", RandomTensor(rng, Shape{5})},
                                     {"c", RandomTensor(rng, Shape())}},
                                    {{"architecture", "{\"layers\":[1,2]}"}})
                      .value());
  std::vector<uint8_t> i64(16, 0xAB);
  seeds.push_back(HandBuild({{"h", "F16", "[2,2]", {0, 0x3C, 0, 0xC0, 0xFF, 0x7B, 1, 0}},
                             {"i", "I64", "[2]", i64},
                             {"f", "BOOL", "[3]", {1, 0, 1}},
                             {"d", "F64", "[1]", {0, 0, 0, 0, 0, 0, 0xF0, 0x3F}}},
                            "{\"format\":\"pt\"}", 1));

  auto exercise = [](const std::vector<uint8_t>& bytes) {
    Result<SafetensorsFile> file = SafetensorsFile::parse(bytes.data(), bytes.size());
    if (!file.ok()) {
      EXPECT_TRUE(file.status().code() == StatusCode::kDataLoss) << file.status().to_string();
      EXPECT_FALSE(file.status().message().empty());
      return false;
    }
    for (const TensorInfo& info : file->tensors()) {
      Result<Tensor> t = file->tensor(info.name);
      if (t.ok()) {
        volatile float sink = 0;
        for (int64_t i = 0; i < t->num_elements(); ++i) sink = sink + t->data()[i];
      }
      Result<std::vector<int64_t>> ints = file->integers(info.name);
      if (ints.ok()) {
        EXPECT_EQ(ints->size(), static_cast<size_t>(info.num_elements));
      }
      EXPECT_TRUE(file->raw_bytes(info.name).ok());
    }
    (void)check_vitrine_metadata(file.value());
    return true;
  };

  for (const std::vector<uint8_t>& seed : seeds) {
    ASSERT_TRUE(exercise(seed));
    for (size_t length = 0; length < seed.size(); ++length) {
      std::vector<uint8_t> prefix(seed.begin(), seed.begin() + static_cast<long>(length));
      EXPECT_FALSE(exercise(prefix)) << "a truncation to " << length << " bytes parsed";
    }
    int accepted = 0;
    for (int trial = 0; trial < 3000; ++trial) {
      std::vector<uint8_t> bytes = seed;
      int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        size_t pos = rng() % bytes.size();
        if (rng() % 2) {
          bytes[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
        } else {
          bytes[pos] = static_cast<uint8_t>(rng());
        }
      }
      accepted += exercise(bytes);
    }
    EXPECT_GT(accepted, 0);     // flips in the data buffer keep the file valid
    EXPECT_LT(accepted, 3000);  // flips in the header mostly do not
  }
}

}  // namespace
}  // namespace vitrine
