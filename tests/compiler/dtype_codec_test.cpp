#include "reference/dtype_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace lla::reference {
namespace {

TEST(DtypeCodec, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up to even.
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
}

TEST(DtypeCodec, F16MatchesIeeeHalf) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);  // rounds up to infinity
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to zero: ties to even
  EXPECT_EQ(float_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp: ties to even (2)
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
  EXPECT_EQ(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0xbc00), -1.0f);
  EXPECT_TRUE(std::isinf(f16_to_float(0x7c00)));
}

TEST(DtypeCodec, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = f16_to_float(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_f16(f), bits) << "half 0x" << std::hex << h;
    ASSERT_EQ(float_to_bf16(bf16_to_float(bits)), bits) << "bf16 0x" << std::hex << h;
  }
}

TEST(DtypeCodec, EncodeDecodeRoundsEachDtype) {
  const std::vector<double> values = {0.1, -3.5, 1e-3, 1234.5678};
  EXPECT_EQ(encode(values, compiler::Dtype::f32).size(), 16u);
  EXPECT_EQ(encode(values, compiler::Dtype::bf16).size(), 8u);
  const auto f32 = round_to(values, compiler::Dtype::f32);
  const auto bf16 = round_to(values, compiler::Dtype::bf16);
  const auto f16 = round_to(values, compiler::Dtype::f16);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f32[i], static_cast<double>(static_cast<float>(values[i])));
    EXPECT_NEAR(bf16[i], values[i], std::abs(values[i]) * std::ldexp(1.0, -8));
    EXPECT_NEAR(f16[i], values[i], std::abs(values[i]) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25));
  }
  EXPECT_EQ(round_to(bf16, compiler::Dtype::bf16), bf16);
  EXPECT_THROW(decode(std::vector<uint8_t>(3), compiler::Dtype::f16), std::invalid_argument);
}

}  // namespace
}  // namespace lla::reference
