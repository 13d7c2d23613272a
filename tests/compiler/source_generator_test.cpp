#include "generator/source_generator.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>

#include "embedded_templates.h"
#include "families/mamba2_forward.h"

namespace lla::compiler {
namespace {

using mamba2::Algorithm;

int knob(Algorithm a) { return static_cast<int>(a); }

// A gtest-safe test name from free text: letters and digits kept, the rest turned to '_'.
std::string identifier(const std::string& text) {
  std::string id;
  for (char c : text) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

TEST(KernelSpec, DescribeIsCanonical) {
  EXPECT_EQ(describe(KernelSpec{}),
            "mamba2_forward dtype=bf16 K=128 V=128 C=64 L=15 block_k=32 block_v=32 warps=4 "
            "algorithm=fma arch=sm_90a");
}

TEST(KernelSpec, DtypeNamesAndSizes) {
  EXPECT_STREQ(dtype_name(Dtype::f32), "f32");
  EXPECT_STREQ(dtype_name(Dtype::f16), "f16");
  EXPECT_STREQ(dtype_name(Dtype::bf16), "bf16");
  EXPECT_EQ(dtype_bytes(Dtype::f32), 4);
  EXPECT_EQ(dtype_bytes(Dtype::f16), 2);
  EXPECT_EQ(dtype_bytes(Dtype::bf16), 2);
  EXPECT_STREQ(family_for(Variant::mamba2, Pass::forward).name(), "mamba2_forward");
}

TEST(KernelSpec, ArchSmNumbers) {
  EXPECT_EQ(arch_sm_number("sm_80"), 80);
  EXPECT_EQ(arch_sm_number("sm_86"), 86);
  EXPECT_EQ(arch_sm_number("sm_89"), 89);
  EXPECT_EQ(arch_sm_number("sm_90"), 90);
  EXPECT_EQ(arch_sm_number("sm_90a"), 90);
  EXPECT_EQ(arch_sm_number("sm_100"), 100);
  EXPECT_EQ(arch_sm_number("sm_100a"), 100);
  EXPECT_EQ(arch_sm_number("sm_120"), 120);
  EXPECT_THROW(arch_sm_number("sm_75"), std::invalid_argument);
}

TEST(KernelSpec, ValidateAcceptsTheDefaultsAndTheRangeEnds) {
  EXPECT_NO_THROW(validate(KernelSpec{}));
  KernelSpec low;
  low.key_dim = low.value_dim = low.chunk = 16;
  low.levels = 1;
  low.tile = mamba2::ForwardTile{16, 16, 1};
  low.target = cuda_target("sm_80");
  EXPECT_NO_THROW(validate(low));
  KernelSpec high;
  high.key_dim = 256;
  high.value_dim = 512;
  high.chunk = 128;
  high.levels = 64;
  high.tile = mamba2::ForwardTile{64, 64, 8};
  high.target = cuda_target("sm_120");
  EXPECT_NO_THROW(validate(high));
}

struct BadField {
  const char* expected_prefix;  // "<field>=<value>:"
  std::function<void(KernelSpec&)> corrupt;
};

void PrintTo(const BadField& f, std::ostream* os) { *os << f.expected_prefix; }

class ValidateRejects : public ::testing::TestWithParam<BadField> {};

TEST_P(ValidateRejects, NamingTheField) {
  KernelSpec spec;
  GetParam().corrupt(spec);
  try {
    validate(spec);
    FAIL() << "validate accepted a spec with " << GetParam().expected_prefix;
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind(GetParam().expected_prefix, 0), 0u) << e.what();
  }
  EXPECT_THROW(generate(spec), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, ValidateRejects,
    ::testing::Values(
        BadField{"key_dim=24:", [](KernelSpec& s) { s.key_dim = 24; }},
        BadField{"key_dim=0:", [](KernelSpec& s) { s.key_dim = 0; }},
        BadField{"key_dim=272:", [](KernelSpec& s) { s.key_dim = 272; }},
        BadField{"value_dim=24: must be a multiple of 16 in [16, 512]",
                 [](KernelSpec& s) { s.value_dim = 24; }},
        BadField{"value_dim=528:", [](KernelSpec& s) { s.value_dim = 528; }},
        BadField{"chunk=48:", [](KernelSpec& s) { s.chunk = 48; }},
        BadField{"chunk=8:", [](KernelSpec& s) { s.chunk = 8; }},
        BadField{"chunk=256:", [](KernelSpec& s) { s.chunk = 256; }},
        BadField{"levels=0:", [](KernelSpec& s) { s.levels = 0; }},
        BadField{"levels=65:", [](KernelSpec& s) { s.levels = 65; }},
        BadField{"tile.block_k=48:", [](KernelSpec& s) { s.tile.set("block_k", 48); }},
        BadField{"tile.block_k=128:", [](KernelSpec& s) { s.tile.set("block_k", 128); }},
        BadField{"tile.block_k=32:", [](KernelSpec& s) { s.key_dim = 48; }},
        BadField{"tile.block_v=8:", [](KernelSpec& s) { s.tile.set("block_v", 8); }},
        BadField{"tile.block_v=64:",
                 [](KernelSpec& s) {
                   s.value_dim = 96;
                   s.tile.set("block_v", 64);
                 }},
        BadField{"tile.warps=3:", [](KernelSpec& s) { s.tile.set("warps", 3); }},
        BadField{"tile.warps=0:", [](KernelSpec& s) { s.tile.set("warps", 0); }},
        BadField{"tile.warps=16:", [](KernelSpec& s) { s.tile.set("warps", 16); }},
        BadField{"key_dim=48: must be a multiple of 32 for algorithm scan",
                 [](KernelSpec& s) {
                   s.key_dim = 48;
                   s.tile.set("algorithm", knob(Algorithm::scan));
                 }},
        BadField{"chunk=128: must be at most 64 for algorithm scan",
                 [](KernelSpec& s) {
                   s.chunk = 128;
                   s.tile.set("warps", 8);
                   s.tile.set("algorithm", knob(Algorithm::scan));
                 }},
        BadField{"tile.warps=2: must be chunk / 16 = 4 for algorithm scan",
                 [](KernelSpec& s) {
                   s.tile.set("warps", 2);
                   s.tile.set("algorithm", knob(Algorithm::scan));
                 }},
        BadField{"tile.algorithm=scan: needs bf16 or f16 inputs",
                 [](KernelSpec& s) {
                   s.dtype = Dtype::f32;
                   s.tile.set("algorithm", knob(Algorithm::scan));
                 }},
        BadField{"arch=sm_80: algorithm scan_wgmma needs sm_90a",
                 [](KernelSpec& s) {
                   s.target = cuda_target("sm_80");
                   s.tile.set("algorithm", knob(Algorithm::scan_wgmma));
                 }},
        BadField{"chunk=32: must be 64 for algorithm scan_wgmma",
                 [](KernelSpec& s) {
                   s.chunk = 32;
                   s.tile.set("warps", 2);
                   s.tile.set("algorithm", knob(Algorithm::scan_wgmma));
                 }},
        BadField{"key_dim=96: must be a multiple of 64 for algorithm scan_wgmma",
                 [](KernelSpec& s) {
                   s.key_dim = 96;
                   s.tile.set("algorithm", knob(Algorithm::scan_wgmma));
                 }},
        BadField{"tile.block_v=16: must be 32 or 64 for algorithm scan_wgmma",
                 [](KernelSpec& s) {
                   s.tile.set("block_v", 16);
                   s.tile.set("algorithm", knob(Algorithm::scan_wgmma));
                 }},
        BadField{"arch=sm_75:", [](KernelSpec& s) { s.target = cuda_target("sm_75"); }},
        BadField{"arch=compute_90:", [](KernelSpec& s) { s.target = cuda_target("compute_90"); }},
        BadField{"arch=:", [](KernelSpec& s) { s.target = cuda_target(""); }}),
    [](const ::testing::TestParamInfo<BadField>& info) {
      const std::string prefix = info.param.expected_prefix;
      return identifier(prefix.substr(0, prefix.find(':')));
    });

TEST(SourceGenerator, IsDeterministic) {
  const GeneratedSource a = generate(KernelSpec{});
  const GeneratedSource b = generate(KernelSpec{});
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.entry_points, b.entry_points);
}

TEST(SourceGenerator, NameIsFileNameSafeAndSpellsTheSpec) {
  const GeneratedSource g = generate(KernelSpec{});
  EXPECT_EQ(g.name, "mamba2_forward_bf16_k128_v128_c64_l15_bk32_bv32_w4_fma_sm_90a");
  KernelSpec other;
  other.dtype = Dtype::f16;
  other.key_dim = 64;
  other.value_dim = 32;
  other.chunk = 16;
  other.levels = 3;
  other.tile = mamba2::ForwardTile{16, 16, 1, Algorithm::mma};
  other.target = cuda_target("sm_80");
  EXPECT_EQ(generate(other).name, "mamba2_forward_f16_k64_v32_c16_l3_bk16_bv16_w1_mma_sm_80");
}

TEST(SourceGenerator, FollowsTheTemplateContract) {
  const KernelSpec spec;
  const GeneratedSource g = generate(spec);
  const std::string common(templates::find("common.cuh"));
  const std::string family = std::string(templates::find("mamba2_forward_common.cuh")) +
                             std::string(templates::find("mamba2_forward_fma.cuh")) +
                             std::string(templates::find("mamba2_forward_state.cuh"));
  ASSERT_FALSE(common.empty());
  ASSERT_FALSE(templates::find("mamba2_forward_common.cuh").empty());
  ASSERT_FALSE(templates::find("mamba2_forward_fma.cuh").empty());
  const std::string expected = "// lla generated source: " + describe(spec) + "\n" +
                               "// generator version " + kGeneratorVersion + "\n" +
                               "#define LLA_TARGET_SM 90\n" + common +
                               (common.back() == '\n' ? "" : "\n") +
                               "namespace lla_config {\n"
                               "constexpr int kKeyDim = 128;\n"
                               "constexpr int kValueDim = 128;\n"
                               "constexpr int kChunk = 64;\n"
                               "constexpr int kLog2Chunk = 6;\n"
                               "constexpr int kLevels = 15;\n"
                               "using Element = lla_bf16;\n"
                               "constexpr int kBlockK = 32;\n"
                               "constexpr int kBlockV = 32;\n"
                               "constexpr int kWarps = 4;\n"
                               "constexpr int kThreads = 128;\n"
                               "constexpr int kStateSharedBytes = 0;\n"
                               "constexpr int kOutputSharedBytes = 46720;\n"
                               "}  // namespace lla_config\n" +
                               family;
  EXPECT_EQ(g.source, expected);
  EXPECT_EQ(g.source.find("#include"), std::string::npos);
}

TEST(SourceGenerator, ListsTheFamilysEntryPoints) {
  const GeneratedSource g = generate(KernelSpec{});
  const std::vector<std::string> expected = {"lla_mamba2_chunk_states", "lla_mamba2_merge_states",
                                             "lla_mamba2_output", "lla_mamba2_seed_prefix",
                                             "lla_mamba2_final_state"};
  EXPECT_EQ(g.entry_points, expected);
  for (const std::string& entry : g.entry_points)
    EXPECT_NE(g.source.find(entry + "("), std::string::npos) << entry;

  // A scan module keeps the tree kernels (calls with a sequence table run them) and adds its own
  // and those that split it along the sequence.
  KernelSpec scan;
  scan.tile.set("algorithm", knob(Algorithm::scan));
  const GeneratedSource s = generate(scan);
  std::vector<std::string> with_scan = expected;
  for (const char* name : {"lla_mamba2_scan", "lla_mamba2_scan_pieces", "lla_mamba2_scan_seeds"})
    with_scan.push_back(name);
  EXPECT_EQ(s.entry_points, with_scan);
  scan.tile.set("algorithm", knob(Algorithm::scan_wgmma));
  EXPECT_EQ(generate(scan).entry_points, with_scan);
  for (const std::string& entry : s.entry_points)
    EXPECT_NE(s.source.find(entry + "("), std::string::npos) << entry;
}

struct Variation {
  const char* expected_line;
  std::function<void(KernelSpec&)> change;
};

void PrintTo(const Variation& v, std::ostream* os) { *os << v.expected_line; }

class SpecChange : public ::testing::TestWithParam<Variation> {};

TEST_P(SpecChange, ChangesTheConstantsAndTheName) {
  KernelSpec spec;
  GetParam().change(spec);
  const GeneratedSource base = generate(KernelSpec{});
  const GeneratedSource changed = generate(spec);
  EXPECT_NE(changed.name, base.name);
  EXPECT_NE(changed.source, base.source);
  EXPECT_NE(changed.source.find(std::string(GetParam().expected_line) + "\n"), std::string::npos)
      << GetParam().expected_line;
  EXPECT_EQ(base.source.find(std::string(GetParam().expected_line) + "\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, SpecChange,
    ::testing::Values(
        Variation{"using Element = float;", [](KernelSpec& s) { s.dtype = Dtype::f32; }},
        Variation{"using Element = lla_f16;", [](KernelSpec& s) { s.dtype = Dtype::f16; }},
        Variation{"constexpr int kKeyDim = 64;", [](KernelSpec& s) { s.key_dim = 64; }},
        Variation{"constexpr int kValueDim = 256;", [](KernelSpec& s) { s.value_dim = 256; }},
        Variation{"constexpr int kLog2Chunk = 4;", [](KernelSpec& s) { s.chunk = 16; }},
        Variation{"constexpr int kChunk = 128;", [](KernelSpec& s) { s.chunk = 128; }},
        Variation{"constexpr int kLevels = 20;", [](KernelSpec& s) { s.levels = 20; }},
        Variation{"constexpr int kBlockK = 64;", [](KernelSpec& s) { s.tile.set("block_k", 64); }},
        Variation{"constexpr int kBlockV = 16;", [](KernelSpec& s) { s.tile.set("block_v", 16); }},
        Variation{"constexpr int kThreads = 256;", [](KernelSpec& s) { s.tile.set("warps", 8); }},
        Variation{"#define LLA_TARGET_SM 80", [](KernelSpec& s) { s.target = cuda_target("sm_80"); }},
        Variation{"#define LLA_TARGET_SM 120", [](KernelSpec& s) { s.target = cuda_target("sm_120"); }},
        Variation{"// lla generated source: mamba2_forward dtype=bf16 K=128 V=128 C=64 L=15 "
                  "block_k=32 block_v=32 warps=4 algorithm=fma arch=sm_90",
                  [](KernelSpec& s) { s.target = cuda_target("sm_90"); }},
        Variation{"constexpr int kStateSharedBytes = 23296;",  // 4*64 + 2*(32 + 128)*(64 + 8)
                  [](KernelSpec& s) { s.tile.set("algorithm", knob(Algorithm::mma)); }},
        Variation{"constexpr int kScanSlotBytes = 8704;",  // 2*32*(128 + 8)
                  [](KernelSpec& s) { s.tile.set("algorithm", knob(Algorithm::scan)); }}),
    [](const ::testing::TestParamInfo<Variation>& info) {
      return std::to_string(info.index) + "_" + identifier(info.param.expected_line).substr(0, 30);
    });

}  // namespace
}  // namespace lla::compiler
