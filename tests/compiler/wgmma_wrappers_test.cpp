#include "generator/wgmma_wrappers.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace lla::compiler {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(WgmmaWrappers, OneSpecializationPerWidthNamingEveryAccumulator) {
  const std::string s = wgmma_wrappers(Dtype::bf16, {32, 64});
  EXPECT_EQ(count(s, "template <>\nstruct Wgmma<"), 2u);
  EXPECT_EQ(count(s, "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16"), 2u);  // A shared, A registers
  EXPECT_EQ(count(s, "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16"), 2u);
  EXPECT_EQ(count(s, "float (&d)[16]"), 2u);
  EXPECT_EQ(count(s, "float (&d)[32]"), 2u);
  EXPECT_EQ(count(s, "\"+f\"(d[15])"), 4u);  // both widths
  EXPECT_EQ(count(s, "\"+f\"(d[31])"), 2u);  // 64 only
  EXPECT_EQ(count(s, "\"+f\"(d[32])"), 0u);
  // N = 32: accumulators %0..%15, then the operands after them.
  EXPECT_NE(s.find("{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15},\\n"), std::string::npos);
  // A shared: the descriptors' words %16..%19 joined into da and db, accumulate %20, the
  // transpose %21. A in registers: %16..%19, b's words %20, %21, accumulate %22, transpose %23.
  EXPECT_NE(s.find("mov.b64 da, {%16, %17};\\nmov.b64 db, {%18, %19};"), std::string::npos);
  EXPECT_NE(s.find("setp.ne.b32 p, %20, 0;"), std::string::npos);
  EXPECT_NE(s.find("\"da, db, p, 1, 1, 0, %21;"), std::string::npos);
  EXPECT_NE(s.find("mov.b64 db, {%20, %21};"), std::string::npos);
  EXPECT_NE(s.find("setp.ne.b32 p, %22, 0;"), std::string::npos);
  EXPECT_NE(s.find("\"{%16,%17,%18,%19}, db, p, 1, 1, %23;"), std::string::npos);
  EXPECT_EQ(count(s, "struct WgmmaDescriptor {"), 0u);  // ptx/sm90.cuh's
  EXPECT_NE(wgmma_wrappers(Dtype::f16, {32}).find("m64n32k16.f32.f16.f16"), std::string::npos);
}

TEST(WgmmaWrappers, RejectFp32AndWidthsWgmmaLacks) {
  EXPECT_THROW(wgmma_wrappers(Dtype::f32, {32}), std::invalid_argument);
  EXPECT_THROW(wgmma_wrappers(Dtype::bf16, {12}), std::invalid_argument);
  EXPECT_THROW(wgmma_wrappers(Dtype::bf16, {264}), std::invalid_argument);
}

}  // namespace
}  // namespace lla::compiler
