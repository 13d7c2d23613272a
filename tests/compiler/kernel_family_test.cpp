// The family registry and what every descriptor promises the layers above: a lookup by
// (variant, pass), knobs that describe and round-trip, a heuristic inside its own space, a
// tensor table that names each tensor once, and sources that generate.
#include "families/kernel_family.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>

#include "families/family_rules.h"
#include "families/mamba2_decode.h"
#include "families/mamba2_forward.h"
#include "generator/source_generator.h"
#include "nvrtc/nvrtc_compiler.h"

namespace lla::compiler {
namespace {

using ::testing::HasSubstr;

DeviceInfo h100() {
  DeviceInfo d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.cc_major = 9;
  d.sm_count = 132;
  d.max_shared_per_block_optin = 227 * 1024;
  d.target = cuda_target("sm_90a");
  return d;
}

Request request_of(const KernelFamily& family) {
  Request r;
  r.family = family.key();
  r.shape.batch = 4;
  r.shape.seq_len = family.key().pass == Pass::decode ? 1 : 2048;
  r.shape.heads = 8;
  r.shape.groups = 8;
  r.shape.max_position = 1000;
  return r;
}

class EveryFamily : public ::testing::TestWithParam<const KernelFamily*> {};

TEST(FamilyRegistry, FindsEachFamilyByKeyAndName) {
  ASSERT_EQ(all_families().size(), 2u);
  EXPECT_STREQ(family_for(Variant::mamba2, Pass::forward).name(), "mamba2_forward");
  EXPECT_STREQ(family_for(Variant::mamba2, Pass::decode).name(), "mamba2_decode");
  EXPECT_EQ(family_named("mamba2_decode"), &family_for(Variant::mamba2, Pass::decode));
  EXPECT_EQ(family_named("mamba2"), nullptr);
  EXPECT_EQ(find_family({Variant::gated_deltanet, Pass::forward}), nullptr);
  try {
    family_for(Variant::gated_deltanet, Pass::decode);
    FAIL() << "a family lla does not have was found";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "no kernel family for gated_deltanet decode yet");
  }
}

TEST_P(EveryFamily, IsRegisteredUnderItsOwnKey) {
  const KernelFamily& f = *GetParam();
  EXPECT_EQ(&family_for(f.key()), &f);
  EXPECT_EQ(family_named(f.name()), &f);
}

TEST_P(EveryFamily, KnobsAreNamedOnceAndCanonicalConfigsHoldThemAll) {
  const KernelFamily& f = *GetParam();
  std::set<std::string> names;
  for (const KnobSchema& k : f.knobs()) EXPECT_TRUE(names.insert(k.name).second) << k.name;
  const TileConfig canonical = f.canonical({});
  ASSERT_EQ(canonical.knobs().size(), f.knobs().size());
  for (size_t i = 0; i < f.knobs().size(); ++i) {
    EXPECT_EQ(canonical.knobs()[i].name, f.knobs()[i].name);
    EXPECT_EQ(canonical.knobs()[i].value, f.knobs()[i].default_value);
  }
}

TEST_P(EveryFamily, TheHeuristicLiesInTheSpaceAndEveryConfigDescribesApart) {
  const KernelFamily& f = *GetParam();
  for (Dtype dtype : {Dtype::bf16, Dtype::f32}) {
    Request r = request_of(f);
    r.dtype = dtype;
    const KernelSpec heuristic = f.heuristic(r, h100());
    EXPECT_EQ(heuristic.family, f.key());
    EXPECT_NO_THROW(validate(heuristic));
    EXPECT_NO_THROW(plan_launches(heuristic, r.shape));
    const std::vector<TileConfig> space = f.config_space(heuristic);
    EXPECT_NE(std::find(space.begin(), space.end(), heuristic.tile), space.end()) << describe(heuristic);
    std::set<std::string> descriptions;
    for (const TileConfig& tile : space) {
      KernelSpec s = heuristic;
      s.tile = tile;
      EXPECT_EQ(f.canonical(tile), tile) << describe(s);
      EXPECT_TRUE(descriptions.insert(describe(s)).second) << describe(s);
    }
  }
}

TEST_P(EveryFamily, EachTensorIsDeclaredOnce) {
  const KernelFamily& f = *GetParam();
  std::set<Buffer> roles;
  std::set<std::string> fields;
  for (const TensorDecl& t : f.tensors()) {
    EXPECT_TRUE(roles.insert(t.role).second) << t.field;
    EXPECT_TRUE(fields.insert(t.field).second) << t.field;
    EXPECT_NE(t.role, Buffer::workspace) << t.field;
    EXPECT_FALSE(t.shape.empty()) << t.field;
    EXPECT_TRUE(t.alignment == 0 || is_power_of_two(t.alignment)) << t.field;  // 0: the element's size
    if (t.may_alias != Buffer::workspace) {
      EXPECT_TRUE(roles.count(t.may_alias)) << t.field;
    }
  }
}

TEST_P(EveryFamily, ItsHeuristicSpecGeneratesEveryEntryPoint) {
  const KernelFamily& f = *GetParam();
  const GeneratedSource g = generate(f.heuristic(request_of(f), h100()));
  ASSERT_FALSE(g.entry_points.empty());
  for (const std::string& entry : g.entry_points) EXPECT_NE(g.source.find(entry + "("), std::string::npos) << entry;
}

INSTANTIATE_TEST_SUITE_P(Registered, EveryFamily, ::testing::ValuesIn(all_families()),
                         [](const ::testing::TestParamInfo<const KernelFamily*>& info) {
                           return std::string(info.param->name());
                         });

TEST(KernelSpec, DecodeSpecsNameOnlyTheirOwnConstantsAndKnobs) {
  KernelSpec s;
  s.family = {Variant::mamba2, Pass::decode};
  s.tile = mamba2_decode::DecodeTile{16, 2};
  EXPECT_EQ(describe(s), "mamba2_decode dtype=bf16 K=128 V=128 L=15 block_v=16 warps=2 arch=sm_90a");
  EXPECT_EQ(generate(s).name, "mamba2_decode_bf16_k128_v128_l15_bv16_w2_sm_90a");
  s.chunk = 32;  // not one of its constants
  EXPECT_EQ(describe(s), "mamba2_decode dtype=bf16 K=128 V=128 L=15 block_v=16 warps=2 arch=sm_90a");
}

TEST(KernelSpec, AKnobTheFamilyLacksIsNamed) {
  KernelSpec s;
  s.family = {Variant::mamba2, Pass::decode};
  s.tile.set("block_k", 16);
  try {
    validate(s);
    FAIL() << "validate accepted a knob mamba2_decode does not have";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("tile.block_k=16: mamba2_decode has no such knob"));
  }
}

TEST(KernelSpec, TileConfigsSetAndReadKnobs) {
  TileConfig t;
  EXPECT_EQ(t.get("warps", 4), 4);
  t.set("warps", 8);
  t.set("block_v", 64);
  t.set("warps", 2);
  EXPECT_EQ(t.get("warps", 4), 2);
  EXPECT_TRUE(t.has("block_v"));
  EXPECT_FALSE(t.has("block_k"));
  EXPECT_EQ(t.knobs().size(), 2u);
  const TileConfig canonical = mamba2::forward_family().canonical(t);
  EXPECT_EQ(canonical, TileConfig(mamba2::ForwardTile{32, 64, 2, mamba2::Algorithm::fma}));
}

// Tensors belong to the pass (its C API arguments); a variant takes the pass's tensors but
// those another variant alone takes, whether or not lla has its family yet.
TEST(TensorTable, EachVariantTakesThePasssTensorsButTheOthersOwn) {
  const auto has = [](FamilyKey key, Buffer role) {
    for (const TensorDecl& t : tensors_of(key))
      if (t.role == role) return true;
    return false;
  };
  for (Pass pass : {Pass::forward, Pass::decode}) {
    EXPECT_FALSE(has({Variant::mamba2, pass}, Buffer::beta)) << pass_name(pass);
    EXPECT_TRUE(has({Variant::gated_deltanet, pass}, Buffer::beta)) << pass_name(pass);
    EXPECT_EQ(tensors_of({Variant::gated_deltanet, pass}).size(), tensors_of({Variant::mamba2, pass}).size() + 1);
  }
  EXPECT_TRUE(has({Variant::mamba2, Pass::forward}, Buffer::final_state));
  EXPECT_TRUE(has({Variant::mamba2, Pass::decode}, Buffer::positions));
  EXPECT_EQ(&family_for(Variant::mamba2, Pass::decode).tensors(), &tensors_of({Variant::mamba2, Pass::decode}));
}

TEST(TensorTable, ShapesCountAndNameTheirSizes) {
  const TensorDecl& q = mamba2::forward_family().tensors().front();
  EXPECT_EQ(shape_text(q), "batch*seq_len*groups*key_dim");
  ProblemSizes sizes;
  sizes.batch = 2;
  sizes.seq_len = 100;
  sizes.groups = 4;
  sizes.key_dim = 64;
  EXPECT_EQ(element_count(q, sizes), 2 * 100 * 4 * 64);
  EXPECT_EQ(element_bytes(q, Dtype::bf16), 2);
  sizes.seq_len = int64_t{1} << 62;
  EXPECT_EQ(element_count(q, sizes), -1);
}

// A kernel's parameter struct: the host twin's bytes with its pointer fields cleared for the
// backend to bind, and (below) the device twin checked against the host's size by NVRTC.
struct StepParams {
  const void* q;
  float* o;
  int32_t heads;
  float scale;
};

TEST(ParamBlocks, HoldTheHostStructWithItsPointerFieldsCleared) {
  const StepParams params{reinterpret_cast<const void*>(0x1000), reinterpret_cast<float*>(0x2000), 16, 0.5f};
  const ParamBlock block = param_block(params, {{offsetof(StepParams, q), BufferArg{Buffer::q}},
                                                {offsetof(StepParams, o), NullPointer{}}});
  ASSERT_EQ(block.bytes.size(), sizeof(StepParams));
  StepParams read;
  std::memcpy(&read, block.bytes.data(), sizeof read);
  EXPECT_EQ(read.q, nullptr);
  EXPECT_EQ(read.o, nullptr);
  EXPECT_EQ(read.heads, 16);
  EXPECT_EQ(read.scale, 0.5f);
  ASSERT_EQ(block.pointers.size(), 2u);
  EXPECT_EQ(std::get<BufferArg>(block.pointers[0].target).buffer, Buffer::q);
  EXPECT_THROW(param_block(params, {{sizeof(StepParams), NullPointer{}}}), std::invalid_argument);  // past it
  EXPECT_THROW(param_block(params, {{offsetof(StepParams, heads) + 4, NullPointer{}}}), std::invalid_argument);
}

// What a template of a family with parameter structs does: static_assert its twin's size
// against the constant the family compiles in from the host's sizeof.
TEST(ParamBlocks, NvrtcRejectsADeviceTwinOfAnotherSize) {
  const auto source = [](const char* device_struct) {
    return GeneratedSource{"param_twin", std::string("namespace lla_config {\n") +
                                             cuda_constant("kStepParamsBytes", sizeof(StepParams)) +
                                             "}\n" + device_struct +
                                             "static_assert(sizeof(StepParams) == lla_config::kStepParamsBytes, "
                                             "\"the host and device StepParams differ\");\n"
                                             "extern \"C\" __global__ void step(StepParams p) { if (p.heads < 0) *p.o = p.scale; }\n",
                           {"step"}};
  };
  EXPECT_NO_THROW(compile(source("struct StepParams { const void* q; float* o; int heads; float scale; };\n"), "sm_80"));
  try {
    compile(source("struct StepParams { const void* q; float* o; int heads; };\n"), "sm_80");
    FAIL() << "a device twin missing a field compiled";
  } catch (const CompileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the host and device StepParams differ"));
  }
}

TEST(LaunchPlans, PlanLaunchesValidatesTheSpecFirst) {
  KernelSpec s;
  s.key_dim = 24;
  try {
    plan_launches(s, ProblemShape{});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("key_dim=24"));
  }
}

}  // namespace
}  // namespace lla::compiler
