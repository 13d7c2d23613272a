// The heuristic configuration of the Mamba-2 decode step: enough blocks for the device, a
// tile whose rows per pass divide K, and a plan for every supported head size.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "heuristic_config.h"
#include "kernels/mamba2_decode_plan.h"

namespace lla::tuner {
namespace {

namespace decode = compiler::mamba2_decode;

decode::DecodeTile tile(const compiler::KernelSpec& s) { return decode::tile_of(s); }

compiler::ProblemShape shape_of(int batch, int heads) {
  compiler::ProblemShape shape;
  shape.batch = batch;
  shape.heads = heads;
  shape.max_position = 100;
  return shape;
}

TEST(Mamba2DecodeHeuristic, FillsTheDeviceAndFitsK) {
  compiler::DeviceInfo h100;
  h100.target = compiler::cuda_target("sm_90a");
  h100.sm_count = 132;
  compiler::Request request;
  request.family = {compiler::Variant::mamba2, compiler::Pass::decode};
  request.shape.batch = 64;
  request.shape.heads = 16;
  compiler::KernelSpec spec = heuristic_spec(request, h100);
  EXPECT_EQ(spec.family, request.family);
  EXPECT_EQ(tile(spec).block_v, 32);
  EXPECT_EQ(tile(spec).warps, 4);
  request.shape.batch = 1;
  spec = heuristic_spec(request, h100);
  EXPECT_EQ(tile(spec).block_v, 16);  // 16 heads x 4 tiles would leave SMs idle
  request.key_dim = 16;
  spec = heuristic_spec(request, h100);
  EXPECT_EQ(tile(spec).warps, 2);  // 16-wide tiles: 32 rows per pass at 4 warps, 16 at 2
  EXPECT_EQ(decode::rows_per_pass(tile(spec)), 16);
  for (int key_dim : {16, 48, 80, 128, 256})
    for (int value_dim : {16, 48, 128, 512}) {
      request.key_dim = key_dim;
      request.value_dim = value_dim;
      const compiler::KernelSpec chosen = heuristic_spec(request, h100);
      EXPECT_NO_THROW(decode::plan(chosen, shape_of(1, 16))) << key_dim << "x" << value_dim;
      const std::vector<compiler::TileConfig> space = decode::config_space(chosen);
      EXPECT_NE(std::find(space.begin(), space.end(), chosen.tile), space.end())
          << key_dim << "x" << value_dim << ": outside the configuration space";
    }
}

}  // namespace
}  // namespace lla::tuner
