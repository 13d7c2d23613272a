#include "pruning.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "device_fixtures.h"
#include "families/mamba2_forward.h"
#include "problem_bucket.h"

namespace lla::tuner {
namespace {

compiler::DeviceInfo h100() { return test::h100_device_info(); }

compiler::KernelSpec fma_spec() {
  compiler::KernelSpec spec;
  spec.tile.set("algorithm", static_cast<int>(compiler::mamba2::Algorithm::fma));
  return spec;
}

compiler::ProblemShape shape() {
  compiler::ProblemShape s;
  s.batch = 2;
  s.seq_len = 4096;
  s.heads = 16;
  s.groups = 16;
  return s;
}

TEST(Pruning, AValidConfigurationPassesTheStaticRules) {
  EXPECT_EQ(static_prune_reason(fma_spec(), shape(), h100()), std::nullopt);
}

TEST(Pruning, TooMuchSharedMemoryForTheDeviceIsPrunedWithTheSizes) {
  compiler::DeviceInfo small = h100();
  small.max_shared_per_block_optin = 1024;
  const auto reason = static_prune_reason(fma_spec(), shape(), small);
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("bytes of dynamic shared memory; the device allows 1024 per block"),
            std::string::npos)
      << *reason;
}

TEST(Pruning, ATileThatDoesNotDivideItsDimensionIsPrunedBeforeCompiling) {
  compiler::KernelSpec spec = fma_spec();
  spec.value_dim = 48;
  spec.tile.set("block_v", 32);
  const auto reason = static_prune_reason(spec, shape(), h100());
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("not generable for this problem"), std::string::npos) << *reason;
}

TEST(Pruning, TilesThatCannotFitInRegistersArePrunedBeforeCompiling) {
  compiler::KernelSpec spec = fma_spec();
  spec.chunk = 128;
  spec.tile = compiler::mamba2::ForwardTile{64, 64, 1, compiler::mamba2::Algorithm::fma};  // 2 x 128 x 64 accumulators on 32 threads
  const auto reason = static_prune_reason(spec, shape(), h100());
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("registers a thread"), std::string::npos) << *reason;
  EXPECT_NE(reason->find("above the 255"), std::string::npos) << *reason;
  spec.tile.set("warps", 8);
  EXPECT_EQ(static_prune_reason(spec, shape(), h100()), std::nullopt);
}

TEST(Pruning, AShapeTheLaunchPlanRejectsIsPruned) {
  compiler::ProblemShape too_many = shape();
  too_many.batch = 5000;  // batch * heads over the grid limit
  const auto reason = static_prune_reason(fma_spec(), too_many, h100());
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("batch * heads"), std::string::npos) << *reason;
}

class CompiledPruning : public ::testing::Test {
 protected:
  void SetUp() override { plan_ = compiler::plan_launches(fma_spec(), shape()); }
  compiler::KernelResources resources_of(int launch) const {
    compiler::KernelResources r;
    r.kernel = plan_.launches.at(launch).kernel;
    r.registers = 64;
    return r;
  }
  compiler::LaunchPlan plan_;
};

TEST_F(CompiledPruning, CleanResourcesPass) {
  EXPECT_EQ(compiled_prune_reason(plan_, {resources_of(0)}, h100()), std::nullopt);
}

TEST_F(CompiledPruning, SpillsArePrunedNamingTheKernel) {
  compiler::KernelResources r = resources_of(0);
  r.spill_store_bytes = 16;
  const auto reason = compiled_prune_reason(plan_, {r}, h100());
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find(r.kernel + " spills (16 bytes stored"), std::string::npos) << *reason;
}

TEST_F(CompiledPruning, AKernelThePlanDoesNotLaunchIsNotJudged) {
  compiler::KernelResources unlaunched;
  unlaunched.kernel = "lla_mamba2_scan";  // in a module of the scan, not in this fma plan
  ASSERT_TRUE(std::none_of(plan_.launches.begin(), plan_.launches.end(),
                           [&](const compiler::Launch& l) { return l.kernel == unlaunched.kernel; }));
  unlaunched.registers = 255;
  unlaunched.spill_store_bytes = 16;
  unlaunched.shared_bytes = 2 * h100().max_shared_per_block_optin;
  EXPECT_EQ(compiled_prune_reason(plan_, {resources_of(0), unlaunched}, h100()), std::nullopt);
}

TEST_F(CompiledPruning, RegistersBeyondAnSmArePruned) {
  compiler::KernelResources r = resources_of(0);
  const compiler::Launch& launch = plan_.launches[0];
  const int threads = static_cast<int>(launch.block[0] * launch.block[1] * launch.block[2]);
  r.registers = kRegistersPerSm / threads + 1;
  const auto reason = compiled_prune_reason(plan_, {r}, h100());
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("registers of an SM"), std::string::npos) << *reason;
}

TEST_F(CompiledPruning, StaticPlusDynamicSharedMemoryBeyondTheDeviceIsPruned) {
  compiler::KernelResources r = resources_of(static_cast<int>(plan_.launches.size()) - 1);
  r.shared_bytes = h100().max_shared_per_block_optin;
  const auto reason = compiled_prune_reason(plan_, {r}, h100());
  ASSERT_TRUE(reason.has_value()) << "launch " << plan_.launches.back().kernel;
  EXPECT_NE(reason->find("static +"), std::string::npos) << *reason;
}

TEST(ProblemBucket, NearbyShapesShareABucketAndOthersDoNot) {
  EXPECT_EQ(power_of_two_bucket(1), 1);
  EXPECT_EQ(power_of_two_bucket(3000), 4096);
  EXPECT_EQ(power_of_two_bucket(4096), 4096);
  compiler::Request a;
  a.shape = shape();
  a.shape.seq_len = 3000;
  compiler::Request b = a;
  b.shape.seq_len = 4000;
  b.shape.batch = 1;  // batch * heads 16 -> bucket 16, unlike 32
  EXPECT_NE(problem_key(a, 64), problem_key(b, 64));
  b.shape.batch = 2;
  EXPECT_EQ(problem_key(a, 64), problem_key(b, 64));
  for (auto change :
       {+[](compiler::Request& r) { r.shape.seq_len = 5000; },
        +[](compiler::Request& r) { r.key_dim = 64; }, +[](compiler::Request& r) { r.value_dim = 64; },
        +[](compiler::Request& r) { r.levels = 14; },
        +[](compiler::Request& r) { r.dtype = compiler::Dtype::f16; },
        +[](compiler::Request& r) { r.shape.groups = 1; }}) {
    compiler::Request changed = a;
    change(changed);
    EXPECT_NE(problem_key(changed, 64), problem_key(a, 64));
  }
  EXPECT_NE(problem_key(a, 32), problem_key(a, 64));
  compiler::DeviceInfo other = h100();
  other.sm_count = 114;
  EXPECT_NE(device_key(other), device_key(h100()));
}

}  // namespace
}  // namespace lla::tuner
