// Every lla_decode_step validation rule, on the CPU: the status and the field the message names.
// Device memory is simulated by a PointerInspector that knows the test's fake addresses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "api/decode_call.h"
#include "lla/lla.h"
#include "validation_test_support.h"

namespace lla::runtime {
namespace {

using testing::FakeInspector;

using ::testing::HasSubstr;

void* address(uintptr_t a) { return reinterpret_cast<void*>(a); }

// A valid Mamba-2 step of 4 sequences up to position 16383, tensors 4 GiB apart.
struct Call {
  Call() {
    lla_decode_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 4, 16, 1, 128, 128,
                            16383);
    lla_decode_args_init(&args);
    args.q = address(1ull << 32);
    args.k = address(2ull << 32);
    args.v = address(3ull << 32);
    args.g = static_cast<const float*>(address(4ull << 32));
    args.lambda = address(5ull << 32);
    args.o = address(6ull << 32);
    args.state = static_cast<float*>(address(7ull << 32));
    args.positions = static_cast<long long*>(address(8ull << 32));
  }
  ValidationResult validate() const { return validate_decode(&problem, &args, inspector); }

  lla_decode_problem problem;
  lla_decode_args args;
  FakeInspector inspector;
};

TEST(DecodeValidation, AcceptsAValidCall) {
  Call c;
  EXPECT_EQ(c.problem.levels, 15);
  const ValidationResult r = c.validate();
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST(DecodeValidation, RejectsNullProblemArgsAndTensors) {
  Call c;
  EXPECT_VERDICT(validate_decode(nullptr, &c.args, c.inspector), LLA_ERR_INVALID_ARGUMENT,
                 "lla_decode_problem");
  EXPECT_VERDICT(validate_decode(&c.problem, nullptr, c.inspector), LLA_ERR_INVALID_ARGUMENT,
                 "lla_decode_args");
  c.args.state = nullptr;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.state is NULL");
  c = Call();
  c.args.positions = nullptr;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.positions is NULL");
  c = Call();
  c.args.o = nullptr;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.o is NULL");
}

TEST(DecodeValidation, RejectsFieldsNoCallerCouldMean) {
  Call c;
  c.problem.variant = static_cast<lla_variant>(9);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem.variant");
  c = Call();
  c.problem.dtype = static_cast<lla_dtype>(9);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem.dtype");
  for (int* size : {&c.problem.batch, &c.problem.heads, &c.problem.groups, &c.problem.key_dim,
                    &c.problem.value_dim, &c.problem.levels}) {
    Call bad;
    const ptrdiff_t field = reinterpret_cast<char*>(size) - reinterpret_cast<char*>(&c.problem);
    *reinterpret_cast<int*>(reinterpret_cast<char*>(&bad.problem) + field) = 0;
    EXPECT_VERDICT(bad.validate(), LLA_ERR_INVALID_ARGUMENT, "must be at least 1");
  }
  c = Call();
  c.problem.groups = 3;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem.heads");
  c = Call();
  c.problem.scale = std::numeric_limits<float>::quiet_NaN();
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem.scale");
}

TEST(DecodeValidation, RejectsPositionsTheLevelsCannotHold) {
  Call c;
  c.problem.max_position = 16384;  // needs 16 levels
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem.levels: 15 levels "
                                                         "cannot hold max_position 16384, which "
                                                         "needs 16");
  c = Call();
  c.problem.max_position = -1;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem.max_position");
  c = Call();
  c.problem.max_position = std::numeric_limits<long long>::max();
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "needs 64");
  c = Call();
  c.problem.levels = 1;
  c.problem.max_position = 0;  // one level holds position 0
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;
}

TEST(DecodeValidation, RejectsTensorSizesBeyond64Bits) {
  Call c;
  c.problem.batch = 1 << 30;
  c.problem.heads = 1 << 20;
  c.problem.groups = 1;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_problem: the tensor of");
}

TEST(DecodeValidation, RejectsMisalignedTensors) {
  Call c;
  c.args.state = static_cast<float*>(address((7ull << 32) + 4));
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT,
                 "lla_decode_args.state: 0x700000004 is not 16-byte aligned");
  c = Call();
  c.args.positions = static_cast<long long*>(address((8ull << 32) + 4));
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "not 8-byte aligned");
}

TEST(DecodeValidation, RejectsWrittenTensorsOverlappingOthers) {
  Call c;
  c.args.o = address((7ull << 32) + 1024);  // inside the state
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.o: its");
  c = Call();
  c.args.state = static_cast<float*>(const_cast<void*>(c.args.q));
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.state: its");
  EXPECT_THAT(c.validate().message, HasSubstr("overlap lla_decode_args.q"));
  // Positions only read may share memory with an input; advanced, they may not.
  c = Call();
  c.args.positions = static_cast<long long*>(const_cast<void*>(c.args.v));
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;
  c.args.advance_positions = 1;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.positions: its");
}

TEST(DecodeValidation, BetaBelongsToGatedDeltaNetOnly) {
  Call c;
  c.args.beta = address(9ull << 32);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.beta: must be NULL");
  c = Call();
  c.problem.variant = LLA_VARIANT_GATED_DELTANET;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.beta is NULL");
}

TEST(DecodeValidation, RejectsMemoryThatIsNotOnTheDevice) {
  Call c;
  c.inspector.overrides[c.args.state] = {backend::cuda::MemoryKind::unregistered, -1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.state: 0x700000000 is "
                                                         "not CUDA memory");
  c = Call();
  c.inspector.overrides[c.args.positions] = {backend::cuda::MemoryKind::host, -1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_decode_args.positions");
  c = Call();
  c.inspector.overrides[c.args.o] = {backend::cuda::MemoryKind::device, 1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "is memory of device 1");
  c = Call();
  c.inspector.overrides[c.args.state] = {backend::cuda::MemoryKind::managed, -1};
  EXPECT_TRUE(c.validate().ok());
}

TEST(DecodeValidation, ReportsWhatLlaCannotRunYet) {
  Call c;
  c.problem.variant = LLA_VARIANT_GATED_DELTANET;
  c.args.beta = address(9ull << 32);
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "Gated DeltaNet decode step");
  c = Call();
  c.problem.qk_l2norm = 1;
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_decode_problem.qk_l2norm");
  c = Call();
  c.problem.key_dim = 136;
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_decode_problem.key_dim: 136");
  c = Call();
  c.problem.levels = 65;
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_decode_problem.levels: 65");
}

TEST(DecodeValidation, ProblemInitDefaults) {
  lla_decode_problem p;
  lla_decode_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_F16, 2, 4, 2, 64, 32, 0);
  EXPECT_EQ(p.levels, 1);
  EXPECT_EQ(p.max_position, 0);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.qk_l2norm, 0);
  lla_decode_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_F16, 2, 4, 2, 64, 32, 16384);
  EXPECT_EQ(p.levels, lla_num_levels(16385));
}

}  // namespace
}  // namespace lla::runtime
