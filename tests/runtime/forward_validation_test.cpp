// Every lla_forward validation rule, on the CPU: the status and the field the message names.
// Device memory is simulated by a PointerInspector that knows the test's fake addresses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "api/forward_call.h"
#include "lla/lla.h"
#include "validation_test_support.h"

namespace lla::runtime {
namespace {

using testing::FakeInspector;

using ::testing::AllOf;
using ::testing::HasSubstr;

const void* address(uintptr_t a) { return reinterpret_cast<const void*>(a); }

// Bytes of the forward's tensor `role` in a call of `p` (the pass's table, beta included).
int64_t bytes_of(const lla_problem& p, compiler::Buffer role) {
  for (const compiler::TensorDecl& t : compiler::tensors_of({compiler::Variant::gated_deltanet, compiler::Pass::forward}))
    if (t.role == role) return tensor_bytes(t, forward_sizes(p, p.batch), to_compiler_dtype(p.dtype));
  return -1;
}

// A valid Mamba-2 call whose tensors lie 4 GiB apart (far more than any of them needs).
struct Call {
  Call() {
    lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 2, 100, 4, 2, 64, 64);
    lla_forward_args_init(&args);
    args.q = address(1ull << 32);
    args.k = address(2ull << 32);
    args.v = address(3ull << 32);
    args.g = static_cast<const float*>(address(4ull << 32));
    args.lambda = address(5ull << 32);
    args.o = const_cast<void*>(address(6ull << 32));
  }
  ValidationResult validate() const { return validate_forward(&problem, &args, inspector); }

  lla_problem problem;
  lla_forward_args args;
  FakeInspector inspector;
};

TEST(ForwardValidation, AcceptsAValidCall) {
  Call c;
  const ValidationResult r = c.validate();
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.message, "");
}

TEST(ForwardValidation, RejectsNullProblemAndArgs) {
  Call c;
  EXPECT_VERDICT(validate_forward(nullptr, &c.args, c.inspector), LLA_ERR_INVALID_ARGUMENT,
                 "lla_problem");
  EXPECT_VERDICT(validate_forward(&c.problem, nullptr, c.inspector), LLA_ERR_INVALID_ARGUMENT,
                 "lla_forward_args");
}

TEST(ForwardValidation, RejectsUnknownEnums) {
  Call c;
  c.problem.variant = static_cast<lla_variant>(7);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.variant");
  c = Call();
  c.problem.dtype = static_cast<lla_dtype>(-1);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.dtype");
}

TEST(ForwardValidation, RejectsSizesBelowOne) {
  const struct {
    const char* field;
    int lla_problem::*member;
  } fields[] = {{"lla_problem.batch", &lla_problem::batch},
                {"lla_problem.seq_len", &lla_problem::seq_len},
                {"lla_problem.heads", &lla_problem::heads},
                {"lla_problem.groups", &lla_problem::groups},
                {"lla_problem.key_dim", &lla_problem::key_dim},
                {"lla_problem.value_dim", &lla_problem::value_dim},
                {"lla_problem.levels", &lla_problem::levels}};
  for (const auto& f : fields) {
    for (int bad : {0, -1, INT_MIN}) {
      SCOPED_TRACE(std::string(f.field) + " = " + std::to_string(bad));
      Call c;
      c.problem.*f.member = bad;
      EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, f.field);
    }
  }
}

TEST(ForwardValidation, RejectsHeadsNotAMultipleOfGroups) {
  Call c;
  c.problem.heads = 6;
  c.problem.groups = 4;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.heads");
  c.problem.groups = 3;
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;
}

TEST(ForwardValidation, HeadDimensionsOutsideTheKernelsAreNotSupported) {
  for (int key_dim : {8, 40, 100, 272, 512}) {
    SCOPED_TRACE("key_dim = " + std::to_string(key_dim));
    Call c;
    c.problem.key_dim = key_dim;
    EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_problem.key_dim");
  }
  for (int value_dim : {24, 520, 1024}) {
    SCOPED_TRACE("value_dim = " + std::to_string(value_dim));
    Call c;
    c.problem.value_dim = value_dim;
    EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_problem.value_dim");
  }
  for (auto [key_dim, value_dim] : {std::pair{16, 16}, std::pair{256, 512}}) {
    Call c;
    c.problem.key_dim = key_dim;
    c.problem.value_dim = value_dim;
    EXPECT_TRUE(c.validate().ok()) << c.validate().message;
  }
}

TEST(ForwardValidation, InvalidFieldsAreReportedBeforeUnsupportedOnes) {
  Call c;
  c.problem.key_dim = 40;  // not supported
  c.problem.heads = 5;     // invalid with groups = 2
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.heads");
}

TEST(ForwardValidation, RejectsTooFewLevelsNamingTheMinimum) {
  Call c;  // seq_len 100 needs 8 levels
  c.problem.levels = 7;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.levels");
  EXPECT_THAT(c.validate().message, HasSubstr("8"));
  c.problem.levels = 8;
  EXPECT_TRUE(c.validate().ok());
  c.problem.levels = 64;  // more levels than needed are fine
  EXPECT_TRUE(c.validate().ok());
  c.problem.levels = 65;
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_problem.levels");
}

TEST(ForwardValidation, ChunkMustBeZeroOrASupportedPowerOfTwo) {
  for (int chunk : {0, 16, 32, 64, 128}) {
    Call c;
    c.problem.chunk = chunk;
    EXPECT_TRUE(c.validate().ok()) << chunk << ": " << c.validate().message;
  }
  for (int chunk : {-16, 3, 48, 100}) {
    SCOPED_TRACE("chunk = " + std::to_string(chunk));
    Call c;
    c.problem.chunk = chunk;
    EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.chunk");
  }
  for (int chunk : {1, 8, 256}) {
    SCOPED_TRACE("chunk = " + std::to_string(chunk));
    Call c;
    c.problem.chunk = chunk;
    EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_problem.chunk");
  }
}

TEST(ForwardValidation, ScaleMustBeFinite) {
  for (float scale : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
    Call c;
    c.problem.scale = scale;
    EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_problem.scale");
  }
  for (float scale : {0.0f, -0.5f, 0.125f}) {
    Call c;
    c.problem.scale = scale;
    EXPECT_TRUE(c.validate().ok());
  }
}

TEST(ForwardValidation, RejectsSizesThatOverflow64Bits) {
  lla_problem p;
  lla_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_F32, INT_MAX, INT_MAX, INT_MAX, 1, 256, 512);
  EXPECT_VERDICT(check_forward_problem(&p), LLA_ERR_INVALID_ARGUMENT, "lla_problem");
  EXPECT_THAT(check_forward_problem(&p).message, HasSubstr("64-bit"));
}

TEST(ForwardValidation, TensorBytesFollowTheLayout) {
  lla_problem p;
  lla_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_F16, 2, 10, 4, 2, 32, 48);
  p.levels = 5;
  EXPECT_EQ(bytes_of(p, compiler::Buffer::q), 2 * 10 * 2 * 32 * 2);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::k), 2 * 10 * 2 * 32 * 2);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::v), 2 * 10 * 4 * 48 * 2);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::o), 2 * 10 * 4 * 48 * 2);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::g), 2 * 10 * 4 * 4);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::beta), 2 * 10 * 4 * 2);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::lambda), 2 * 10 * 4 * 5 * 2);
  EXPECT_EQ(bytes_of(p, compiler::Buffer::final_state), 2 * 4 * 5 * 32 * 48 * 4);
}

TEST(ForwardValidation, GatedDeltaNetIsNotSupportedYetButItsFieldsAreChecked) {
  Call c;
  c.problem.variant = LLA_VARIANT_GATED_DELTANET;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.beta");  // beta NULL
  c.args.beta = address(7ull << 32);
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_problem.variant");
  EXPECT_THAT(c.validate().message, HasSubstr("Gated DeltaNet forward kernel is not available"));
  c.args.beta = address((7ull << 32) + 1);  // beta must be aligned to its element size
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.beta");
}

TEST(ForwardValidation, BetaMustBeNullForMamba2) {
  Call c;
  c.args.beta = address(7ull << 32);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.beta");
}

TEST(ForwardValidation, QkL2normIsNotSupportedForMamba2) {
  Call c;
  c.problem.qk_l2norm = 1;
  EXPECT_VERDICT(c.validate(), LLA_ERR_NOT_SUPPORTED, "lla_problem.qk_l2norm");
}

// The tensor fields with their required alignment.
const struct {
  const char* name;
  const void* lla_forward_args::*member;
  uintptr_t alignment;
} kTensorFields[] = {
    {"lla_forward_args.q", &lla_forward_args::q, 16},
    {"lla_forward_args.k", &lla_forward_args::k, 16},
    {"lla_forward_args.v", &lla_forward_args::v, 16},
    {"lla_forward_args.lambda", &lla_forward_args::lambda, 16},
};

TEST(ForwardValidation, RejectsNullTensors) {
  for (const auto& f : kTensorFields) {
    Call c;
    c.args.*f.member = nullptr;
    EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, std::string(f.name) + " is NULL");
  }
  Call c;
  c.args.g = nullptr;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.g is NULL");
  c = Call();
  c.args.o = nullptr;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.o is NULL");
}

TEST(ForwardValidation, RejectsMisalignedTensors) {
  for (const auto& f : kTensorFields) {
    for (uintptr_t offset : {uintptr_t{2}, uintptr_t{8}}) {
      Call c;
      c.args.*f.member = static_cast<const char*>(c.args.*f.member) + offset;
      EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, f.name);
      EXPECT_THAT(c.validate().message, HasSubstr("16-byte aligned"));
    }
  }
  Call c;
  c.args.o = static_cast<char*>(c.args.o) + 8;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.o");
  c = Call();
  c.args.g = reinterpret_cast<const float*>(reinterpret_cast<const char*>(c.args.g) + 2);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.g");
  EXPECT_THAT(c.validate().message, HasSubstr("4-byte aligned"));
  c = Call();
  c.args.g += 1;  // 4 bytes: enough for g
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;
}

TEST(ForwardValidation, RejectsAnOutputOverlappingAnInput) {
  Call c;
  c.args.o = const_cast<void*>(c.args.v);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.o");
  EXPECT_THAT(c.validate().message, HasSubstr("lla_forward_args.v"));

  const int64_t lambda_bytes = bytes_of(c.problem, compiler::Buffer::lambda);
  const int64_t vo_bytes = bytes_of(c.problem, compiler::Buffer::o);
  c.args.o = const_cast<char*>(static_cast<const char*>(c.args.lambda)) + lambda_bytes - 16;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.lambda");
  c.args.o = const_cast<char*>(static_cast<const char*>(c.args.lambda)) + lambda_bytes;
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;  // adjacent, not overlapping
  c.args.o = const_cast<char*>(static_cast<const char*>(c.args.q)) - vo_bytes + 16;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.q");
}

TEST(ForwardValidation, RejectsATensorRunningPastTheAddressSpace) {
  Call c;
  c.args.o = reinterpret_cast<void*>(UINTPTR_MAX - 15);
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.o");
}

TEST(ForwardValidation, AcceptsDeviceAndManagedMemoryOnly) {
  Call c;
  c.inspector.overrides[c.args.k] = {backend::cuda::MemoryKind::managed, -1};
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;

  c.inspector.overrides[c.args.v] = {backend::cuda::MemoryKind::host, -1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.v");
  EXPECT_THAT(c.validate().message, HasSubstr("page-locked host memory"));

  c.inspector.overrides.clear();
  c.inspector.overrides[c.args.lambda] = {backend::cuda::MemoryKind::unregistered, -1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.lambda");
  EXPECT_THAT(c.validate().message, HasSubstr("not CUDA memory"));

  c.inspector.overrides.clear();
  c.inspector.overrides[c.args.o] = {backend::cuda::MemoryKind::device, 1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.o");
  EXPECT_THAT(c.validate().message, AllOf(HasSubstr("device 1"), HasSubstr("device 0")));
}

TEST(ForwardValidation, ChecksGAsDeviceMemoryToo) {
  Call c;
  c.inspector.overrides[c.args.g] = {backend::cuda::MemoryKind::unregistered, -1};
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.g");
}

// A packed call: 3 sequences of 10, 0 and 90 tokens (seq_len 100), the last continuing from
// position 500.
struct PackedCall : Call {
  PackedCall() {
    problem.batch = 1;
    problem.levels = lla_num_levels(590);
    args.num_seqs = 3;
    args.seq_offsets = offsets;
    args.start_positions = starts;
    args.initial_state = static_cast<const float*>(address(7ull << 32));
    args.final_state = static_cast<float*>(const_cast<void*>(address(7ull << 32)));
  }
  PackedCall(const PackedCall&) = delete;  // args point into the object
  PackedCall& operator=(const PackedCall&) = delete;

  long long offsets[4] = {0, 10, 10, 100};
  long long starts[3] = {0, 0, 500};
};

// The verdict on a packed call after `change`.
template <typename Change>
ValidationResult packed_verdict(Change change) {
  PackedCall c;
  change(c);
  return c.validate();
}

TEST(ForwardSequences, AcceptsPackedSequencesWithStatesUpdatedInPlace) {
  PackedCall c;
  const ValidationResult r = c.validate();
  EXPECT_TRUE(r.ok()) << r.message;
  // Levels follow each sequence, not the packed count: the longest, 90 tokens, needs 8.
  c.starts[2] = 0;
  c.problem.levels = 8;
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;
}

TEST(ForwardSequences, OffsetsMustStartAtZeroNeverDecreaseAndEndAtSeqLen) {
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.offsets[0] = 1; }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.seq_offsets[0]");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.offsets[2] = 5; }),
                 LLA_ERR_INVALID_ARGUMENT,
                 "lla_forward_args.seq_offsets[2]: 5 is below seq_offsets[1] = 10");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.offsets[3] = 99; }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.seq_offsets[3]");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.problem.batch = 2; }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_problem.batch = 1");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.args.num_seqs = 0; }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.num_seqs");
}

TEST(ForwardSequences, StartPositionsNeedAStateAndEnoughLevels) {
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) {
                   c.args.initial_state = nullptr;
                   c.args.final_state = nullptr;
                 }),
                 LLA_ERR_INVALID_ARGUMENT,
                 "lla_forward_args.initial_state: NULL, but start_positions[2] = 500");
  // The last token, position 589, needs lla_num_levels(590) levels.
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.problem.levels = lla_num_levels(590) - 1; }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_problem.levels");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) { c.starts[1] = -3; }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.start_positions[1]");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) {
                   c.starts[2] = 2147483600;
                   c.problem.levels = 40;
                 }),
                 LLA_ERR_NOT_SUPPORTED, "lla_forward_args.start_positions[2]");
}

TEST(ForwardSequences, StatesAreCheckedLikeTensors) {
  // Overlapping the initial state without being it, overlapping o, misaligned, host memory.
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) {
                   c.args.final_state = static_cast<float*>(const_cast<void*>(address((7ull << 32) + 16)));
                 }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.final_state");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) {
                   c.args.final_state = static_cast<float*>(const_cast<void*>(address(6ull << 32)));
                 }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.final_state");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) {
                   c.args.initial_state = static_cast<const float*>(address((8ull << 32) + 8));
                 }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.initial_state");
  EXPECT_VERDICT(packed_verdict([](PackedCall& c) {
                   c.inspector.overrides[c.args.initial_state] = {backend::cuda::MemoryKind::host, -1};
                 }),
                 LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.final_state");
}

TEST(ForwardSequences, BatchesWithoutOffsetsHaveBatchSequences) {
  Call c;
  long long starts[2] = {0, 64};
  c.args.start_positions = starts;
  c.args.initial_state = static_cast<const float*>(address(7ull << 32));
  c.problem.levels = lla_num_levels(164);
  EXPECT_TRUE(c.validate().ok()) << c.validate().message;
  c.args.num_seqs = 3;
  EXPECT_VERDICT(c.validate(), LLA_ERR_INVALID_ARGUMENT, "lla_forward_args.num_seqs");
}

TEST(ForwardEntry, NullContextIsAnInvalidArgument) {
  Call c;
  EXPECT_EQ(lla_forward(nullptr, &c.problem, &c.args, nullptr), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("ctx"));
}

TEST(PublicHelpers, StatusStringNamesEveryStatus) {
  const std::map<lla_status, std::string> names = {
      {LLA_SUCCESS, "LLA_SUCCESS"},
      {LLA_ERR_INVALID_ARGUMENT, "LLA_ERR_INVALID_ARGUMENT"},
      {LLA_ERR_NOT_SUPPORTED, "LLA_ERR_NOT_SUPPORTED"},
      {LLA_ERR_NO_DEVICE, "LLA_ERR_NO_DEVICE"},
      {LLA_ERR_CUDA, "LLA_ERR_CUDA"},
      {LLA_ERR_COMPILE, "LLA_ERR_COMPILE"},
      {LLA_ERR_CACHE, "LLA_ERR_CACHE"},
      {LLA_ERR_OUT_OF_MEMORY, "LLA_ERR_OUT_OF_MEMORY"},
      {LLA_ERR_INTERNAL, "LLA_ERR_INTERNAL"},
  };
  for (const auto& [status, name] : names) EXPECT_EQ(lla_status_string(status), name);
  EXPECT_STREQ(lla_status_string(static_cast<lla_status>(99)), "LLA_ERR_UNKNOWN_STATUS");
}

TEST(PublicHelpers, NumLevelsIsCeilLog2PlusOne) {
  EXPECT_EQ(lla_num_levels(-5), 0);
  EXPECT_EQ(lla_num_levels(0), 0);
  EXPECT_EQ(lla_num_levels(1), 1);
  EXPECT_EQ(lla_num_levels(2), 2);
  EXPECT_EQ(lla_num_levels(3), 3);
  EXPECT_EQ(lla_num_levels(4), 3);
  EXPECT_EQ(lla_num_levels(5), 4);
  EXPECT_EQ(lla_num_levels(100), 8);
  EXPECT_EQ(lla_num_levels(INT_MAX), 32);
  EXPECT_EQ(lla_num_levels(1ll << 40), 41);
  for (long long t = 2; t < 5000; ++t)
    ASSERT_EQ(lla_num_levels(t), static_cast<int>(std::ceil(std::log2(double(t)))) + 1) << t;
}

TEST(PublicHelpers, ProblemInitUsesTheLevelsTheSequenceNeeds) {
  lla_problem p;
  lla_problem_init(&p, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 300, 2, 1, 64, 64);
  EXPECT_EQ(p.levels, lla_num_levels(300));
  EXPECT_EQ(p.chunk, 0);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.qk_l2norm, 0);
}

}  // namespace
}  // namespace lla::runtime
