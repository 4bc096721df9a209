#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../../engine/src/core/half.h"
#include "vitrine/status.h"
#include "vitrine/tensor.h"

namespace vitrine {
namespace {

// Every one of the 65536 halves decodes to the value IEEE binary16 gives it (sign, subnormals,
// infinities; NaNs stay NaN with their payload in the top mantissa bits).
TEST(Half, DecodesEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const int exponent = (h >> 10) & 0x1F;
    const int mantissa = h & 0x3FF;
    const float got = half_bits_to_float(static_cast<uint16_t>(h));
    uint32_t bits;
    std::memcpy(&bits, &got, 4);
    EXPECT_EQ(bits >> 31, h >> 15) << h;
    if (exponent == 0x1F) {
      if (mantissa == 0) EXPECT_TRUE(std::isinf(got)) << h;
      else EXPECT_TRUE(std::isnan(got) && (bits & 0x7FFFFFu) == static_cast<uint32_t>(mantissa) << 13) << h;
      continue;
    }
    const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
    EXPECT_EQ(static_cast<double>(std::fabs(got)), magnitude) << h;
  }
}

TEST(Shape, MakeRejectsNegativeAndTooManyDims) {
  EXPECT_FALSE(Shape::make({2, -1}).ok());
  EXPECT_NE(Shape::make({2, -1}).status().message().find("dimension 1"), std::string::npos);
  EXPECT_FALSE(Shape::make({1, 1, 1, 1, 1, 1, 1}).ok());
  EXPECT_FALSE(Shape::make({1 << 21, 1 << 21}).ok());  // 2^42 elements
  Result<Shape> s = Shape::make({2, 3, 4});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->num_elements(), 24);
  EXPECT_EQ(s->to_string(), "(2, 3, 4)");
  EXPECT_EQ(s->dim(-1), 4);
  EXPECT_EQ(Shape().num_elements(), 1);
}

TEST(Tensor, ZerosAreAlignedAndZero) {
  Tensor t = Tensor::zeros(Shape{3, 5}).value();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % kTensorAlignment, 0u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.data()[i], 0.0f);
  EXPECT_EQ(t.nbytes(), 60u);
}

TEST(Tensor, FromValuesChecksCount) {
  float v[6] = {1, 2, 3, 4, 5, 6};
  EXPECT_FALSE(Tensor::from_values(Shape{2, 2}, v, 6).ok());
  Tensor t = Tensor::from_values(Shape{2, 3}, v, 6).value();
  EXPECT_EQ(t.data()[5], 6.0f);
}

TEST(Tensor, ViewsShareStorageAndBumpGeneration) {
  float v[6] = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_values(Shape{3, 2}, v, 6).value();
  Tensor r = t.rows(1, 3).value();
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.data()[0], 3.0f);
  uint64_t gen = t.generation();
  r.mutable_data()[0] = 30;
  EXPECT_EQ(t.data()[2], 30.0f);
  EXPECT_GT(t.generation(), gen);
  EXPECT_EQ(t.storage_id(), r.storage_id());
  EXPECT_FALSE(t.rows(2, 4).ok());
  EXPECT_FALSE(t.reshaped(Shape{4}).ok());
  Tensor flat = t.reshaped(Shape{6}).value();
  EXPECT_EQ(flat.data()[2], 30.0f);
  Tensor copy = t.clone().value();
  copy.mutable_data()[0] = -1;
  EXPECT_EQ(t.data()[0], 1.0f);
  EXPECT_NE(copy.storage_id(), t.storage_id());
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::InvalidArgument("bad shape");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.to_string(), "InvalidArgument: bad shape");
  EXPECT_TRUE(Status::Ok().ok());
  Result<int> r = Status::NotFound("x");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vitrine
