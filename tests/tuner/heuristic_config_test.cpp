#include "heuristic_config.h"

#include <gtest/gtest.h>

#include "device_fixtures.h"
#include "kernels/mamba2_forward_plan.h"

namespace lla::tuner {
namespace {

compiler::DeviceInfo h100() { return test::h100_device_info(); }

compiler::mamba2::ForwardTile tile(const compiler::KernelSpec& s) { return compiler::mamba2::tile_of(s); }

TEST(HeuristicConfig, SixteenBitInputsUseTheTensorCores) {
  compiler::Request r;
  r.key_dim = 128;
  r.value_dim = 64;
  const compiler::KernelSpec s = heuristic_spec(r, h100());
  EXPECT_EQ(s.chunk, 64);
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::mma);
  EXPECT_EQ(tile(s).block_v, 64);
  EXPECT_EQ(tile(s).warps, 4);
  EXPECT_EQ(s.target.name, "sm_90a");
  EXPECT_NO_THROW(compiler::validate(s));
  r.chunk = 128;
  EXPECT_EQ(tile(heuristic_spec(r, h100())).warps, 8);
}

TEST(HeuristicConfig, TheScanServesEnoughSequencesAndHeads) {
  compiler::Request r;
  r.shape.batch = 2;
  r.shape.seq_len = 16384;
  r.shape.heads = 16;
  r.levels = 15;
  compiler::KernelSpec s = heuristic_spec(r, h100());
  // 2 * 16 * 128 / 64 = 64 blocks, each sequence split in two segments: 128 on 132 SMs, on
  // warpgroups where there are any.
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan_wgmma);
  EXPECT_EQ(tile(s).block_v, 64);
  EXPECT_EQ(tile(s).warps, 4);
  EXPECT_NO_THROW(compiler::validate(s));
  compiler::DeviceInfo a100 = h100();
  a100.target = compiler::cuda_target("sm_80");
  a100.sm_count = 108;
  a100.max_shared_per_block_optin = 163 * 1024;
  s = heuristic_spec(r, a100);
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan);
  EXPECT_EQ(tile(s).block_v, 32);
  r.key_dim = 96;  // not in 64-row steps: the mma.sync scan
  r.value_dim = 96;
  EXPECT_EQ(tile(heuristic_spec(r, h100())).algorithm, compiler::mamba2::Algorithm::scan);
  r.key_dim = 128;
  r.value_dim = 128;
  r.shape.batch = 4;
  r.shape.seq_len = 8192;
  s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).block_v, 64);  // 4 * 16 * 2 blocks
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan_wgmma);
  EXPECT_EQ(tile(heuristic_spec(r, a100)).algorithm, compiler::mamba2::Algorithm::scan);
  r.shape.seq_len = 16384;  // 64 x 128 x 136 x 2 bytes a slot: the 64-wide scan's eight overflow,
  // and 256 blocks of 32 are two waves: the 64-wide scan on warpgroups (unpadded slots) fits
  s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan_wgmma);
  EXPECT_EQ(tile(s).block_v, 64);
  r.shape.batch = 2;  // the paper's model: 96 blocks of 64, not 192 of 32
  r.shape.heads = 48;
  r.shape.groups = 1;
  r.value_dim = 64;
  s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan_wgmma);
  EXPECT_EQ(tile(s).block_v, 64);
  r.shape.heads = 16;
  r.shape.groups = 16;
  r.value_dim = 128;
  r.shape.batch = 1;
  r.shape.heads = 8;  // 16 blocks of 64, split in segments of 16 chunks: 128 blocks
  s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan_wgmma);
  EXPECT_EQ(tile(s).block_v, 64);
  r.shape.heads = 2;  // 32 chunks: even 16 blocks of 16 split in two leave most SMs idle
  r.shape.seq_len = 2048;
  EXPECT_EQ(tile(heuristic_spec(r, h100())).algorithm, compiler::mamba2::Algorithm::mma);
  r.shape.heads = 16;
  r.shape.seq_len = 65536;
  r.levels = 17;
  s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::scan_wgmma);
  EXPECT_EQ(tile(s).block_v, 32);  // 64 of 32, split; ten 64-wide slots overflow shared memory
  r.levels = 15;
  r.shape.batch = 2;
  r.key_dim = 48;  // the scan reads K in steps of 32
  r.value_dim = 48;
  EXPECT_EQ(tile(heuristic_spec(r, h100())).algorithm, compiler::mamba2::Algorithm::mma);
  r.key_dim = 256;
  r.value_dim = 256;
  r.shape.seq_len = 1 << 22;  // 16 slots of 2 x 32 x 264 bytes and two K = 256 stages overflow
  r.levels = 23;
  EXPECT_EQ(tile(heuristic_spec(r, h100())).algorithm, compiler::mamba2::Algorithm::mma);
}

TEST(HeuristicConfig, Fp32InputsUseTheCudaCores) {
  compiler::Request r;
  r.dtype = compiler::Dtype::f32;
  const compiler::KernelSpec s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).algorithm, compiler::mamba2::Algorithm::fma);
  EXPECT_EQ(tile(s).block_k, 32);
  EXPECT_EQ(tile(s).block_v, 32);
  EXPECT_EQ(tile(s).warps, 4);
  EXPECT_NO_THROW(compiler::validate(s));
}

TEST(HeuristicConfig, NarrowTilesWhereWideOnesDoNotDivide) {
  compiler::Request r;
  r.key_dim = 48;
  r.value_dim = 80;
  r.chunk = 16;
  compiler::KernelSpec s = heuristic_spec(r, h100());
  EXPECT_EQ(tile(s).block_v, 16);
  EXPECT_EQ(tile(s).warps, 1);
  EXPECT_NO_THROW(compiler::validate(s));
  r.dtype = compiler::Dtype::f32;
  s = heuristic_spec(r, h100());
  EXPECT_EQ(s.chunk, 16);
  EXPECT_EQ(tile(s).block_k, 16);
  EXPECT_EQ(tile(s).block_v, 16);
  EXPECT_NO_THROW(compiler::validate(s));
}

TEST(HeuristicConfig, FitsTheDevicesSharedMemory) {
  compiler::Request r;
  r.chunk = 128;
  compiler::DeviceInfo small = h100();
  small.max_shared_per_block_optin = 100 * 1024;
  compiler::KernelSpec s = heuristic_spec(r, small);
  EXPECT_LE(compiler::mamba2::output_shared_bytes(s), small.max_shared_per_block_optin);
  EXPECT_EQ(tile(s).block_v, 32);
  r.dtype = compiler::Dtype::f32;
  s = heuristic_spec(r, small);
  EXPECT_LE(compiler::mamba2::output_shared_bytes(s), small.max_shared_per_block_optin);
  EXPECT_EQ(tile(s).block_v, 16);
  EXPECT_EQ(tile(s).block_k, 16);
}

}  // namespace
}  // namespace lla::tuner
