// The struct_size rule of lla.h ("Growing structs"): what the init functions write and what
// the entry points accept, from callers built against this header, an older one and a newer
// one. Needs no device.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "api/sized_structs.h"
#include "api/status_error.h"
#include "lla/lla.h"

namespace lla::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The status and message read_sized_bytes throws for these bytes, or LLA_SUCCESS.
struct Outcome {
  lla_status status = LLA_SUCCESS;
  std::string message;
};

Outcome read_outcome(const std::vector<unsigned char>& bytes, const SizedLayout& layout,
                     std::vector<unsigned char>* copy) {
  copy->assign(layout.current_size, 0xee);
  try {
    read_sized_bytes(bytes.data(), copy->data(), layout);
    return {};
  } catch (const StatusError& e) {
    return {e.status(), e.what()};
  }
}

std::vector<unsigned char> struct_of_size(size_t size, unsigned char fill) {
  std::vector<unsigned char> bytes(size, fill);
  std::memcpy(bytes.data(), &size, sizeof size);
  return bytes;
}

// A struct of the rule's shape: first released at 24 bytes, 40 in this library.
const SizedLayout kLayout{"lla_thing", "lla_thing_init", 24, 40};

TEST(SizedStructs, InitsRecordTheCallersSizeAndTheDefaults) {
  lla_options options;
  lla_options_init(&options);
  EXPECT_EQ(options.struct_size, sizeof options);
  EXPECT_EQ(options.device, 0);
  EXPECT_EQ(options.cache_dir, nullptr);
  EXPECT_EQ(options.tune, LLA_TUNE_FROM_ENV);
  EXPECT_EQ(options.log_level, LLA_LOG_FROM_ENV);
  EXPECT_EQ(options.tune_budget_seconds, 0.0);

  lla_problem problem;
  lla_problem_init(&problem, LLA_VARIANT_GATED_DELTANET, LLA_DTYPE_F16, 2, 100, 4, 2, 64, 32);
  EXPECT_EQ(problem.struct_size, sizeof problem);
  EXPECT_EQ(problem.variant, LLA_VARIANT_GATED_DELTANET);
  EXPECT_EQ(problem.levels, lla_num_levels(100));

  lla_forward_args forward_args;
  std::memset(&forward_args, 0x5a, sizeof forward_args);
  lla_forward_args_init(&forward_args);
  EXPECT_EQ(forward_args.struct_size, sizeof forward_args);
  EXPECT_EQ(forward_args.q, nullptr);
  EXPECT_EQ(forward_args.final_positions, nullptr);
  EXPECT_EQ(forward_args.num_seqs, 0);

  lla_decode_problem decode_problem;
  lla_decode_problem_init(&decode_problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 4, 16, 1, 128,
                          128, 16383);
  EXPECT_EQ(decode_problem.struct_size, sizeof decode_problem);
  EXPECT_EQ(decode_problem.levels, 15);

  lla_decode_args decode_args;
  std::memset(&decode_args, 0x5a, sizeof decode_args);
  lla_decode_args_init(&decode_args);
  EXPECT_EQ(decode_args.struct_size, sizeof decode_args);
  EXPECT_EQ(decode_args.positions, nullptr);
  EXPECT_EQ(decode_args.advance_positions, 0);
}

TEST(SizedStructs, AnInitWritesExactlyTheCallersSize) {
  // A caller built against an older, smaller lla_forward_args: nothing past its size changes.
  std::vector<unsigned char> older(sizeof(lla_forward_args) + 16, 0x77);
  const size_t older_size = sizeof(lla_forward_args) - 8;
  lla_forward_args_init_sized(reinterpret_cast<lla_forward_args*>(older.data()), older_size);
  size_t recorded = 0;
  std::memcpy(&recorded, older.data(), sizeof recorded);
  EXPECT_EQ(recorded, older_size);
  for (size_t i = sizeof(size_t); i < older_size; ++i) EXPECT_EQ(older[i], 0) << i;
  for (size_t i = older_size; i < older.size(); ++i) EXPECT_EQ(older[i], 0x77) << i;

  // One built against a newer, larger one: the bytes this library does not know are zeroed.
  std::vector<unsigned char> newer(sizeof(lla_options) + 24, 0x77);
  lla_options_init_sized(reinterpret_cast<lla_options*>(newer.data()), newer.size());
  for (size_t i = sizeof(lla_options); i < newer.size(); ++i) EXPECT_EQ(newer[i], 0) << i;
  lla_options read;
  EXPECT_NO_THROW(read_sized(reinterpret_cast<const lla_options*>(newer.data()), &read));
  EXPECT_EQ(read.struct_size, sizeof(lla_options));

  lla_options_init_sized(nullptr, sizeof(lla_options));
  lla_decode_args_init_sized(nullptr, sizeof(lla_decode_args));
}

TEST(SizedStructs, ASizeThatIsNoVersionOfTheStructIsNamedWithItsInit) {
  std::vector<unsigned char> copy;
  for (size_t size : {size_t{0}, size_t{8}, size_t{16}, size_t{28}, size_t{1} << 40}) {
    std::vector<unsigned char> bytes(64, 0);
    std::memcpy(bytes.data(), &size, sizeof size);
    const Outcome outcome = read_outcome(bytes, kLayout, &copy);
    EXPECT_EQ(outcome.status, LLA_ERR_INVALID_ARGUMENT) << size;
    EXPECT_THAT(outcome.message, AllOf(HasSubstr("lla_thing.struct_size: " + std::to_string(size)),
                                       HasSubstr("fill the struct with lla_thing_init()")));
  }
}

TEST(SizedStructs, AnOlderCallersMissingFieldsReadAsTheirDefaults) {
  // Built against the first layout (24 bytes): the 16 bytes this library added read as zero,
  // whatever lies past the caller's struct.
  std::vector<unsigned char> older = struct_of_size(24, 0x11);
  older.resize(40, 0x99);
  std::vector<unsigned char> copy;
  ASSERT_EQ(read_outcome(older, kLayout, &copy).status, LLA_SUCCESS);
  size_t recorded = 0;
  std::memcpy(&recorded, copy.data(), sizeof recorded);
  EXPECT_EQ(recorded, 40u);
  for (size_t i = 8; i < 24; ++i) EXPECT_EQ(copy[i], 0x11) << i;
  for (size_t i = 24; i < 40; ++i) EXPECT_EQ(copy[i], 0) << i;
}

TEST(SizedStructs, ANewerCallerIsAcceptedWhileItsNewFieldsAreDefaults) {
  std::vector<unsigned char> newer = struct_of_size(56, 0x22);
  std::fill(newer.begin() + 40, newer.end(), 0);
  std::vector<unsigned char> copy;
  ASSERT_EQ(read_outcome(newer, kLayout, &copy).status, LLA_SUCCESS);
  for (size_t i = 8; i < 40; ++i) EXPECT_EQ(copy[i], 0x22) << i;

  newer[50] = 1;
  const Outcome outcome = read_outcome(newer, kLayout, &copy);
  EXPECT_EQ(outcome.status, LLA_ERR_NOT_SUPPORTED);
  EXPECT_THAT(outcome.message,
              AllOf(HasSubstr("lla_thing: the caller's struct is 56 bytes and sets byte 50"),
                    HasSubstr("past the 40 bytes lla " LLA_VERSION " knows"),
                    HasSubstr("newer lla.h")));
}

TEST(SizedStructs, EntryPointsReadEveryStructThroughTheRule) {
  lla_problem zeroed{};
  lla_problem problem;
  EXPECT_EQ(read_sized<lla_problem>(nullptr, &problem), nullptr);
  try {
    read_sized(&zeroed, &problem);
    FAIL() << "a zeroed lla_problem was accepted";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status(), LLA_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("lla_problem.struct_size: 0"));
    EXPECT_THAT(e.what(), HasSubstr("lla_problem_init()"));
  }
  lla_problem given;
  lla_problem_init(&given, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 3, 77, 4, 2, 64, 32);
  given.chunk = 32;
  const lla_problem* read = read_sized(&given, &problem);
  ASSERT_EQ(read, &problem);
  EXPECT_EQ(std::memcmp(read, &given, sizeof given), 0);

  // The first layouts the rule keeps accepting (lla 0.2.0's sizes on x86-64).
  EXPECT_EQ(SizedStruct<lla_options>::layout.first_size, 40u);
  EXPECT_EQ(SizedStruct<lla_problem>::layout.first_size, 56u);
  EXPECT_EQ(SizedStruct<lla_forward_args>::layout.first_size, 112u);
  EXPECT_EQ(SizedStruct<lla_decode_problem>::layout.first_size, 56u);
  EXPECT_EQ(SizedStruct<lla_decode_args>::layout.first_size, 84u);
}

TEST(SizedStructs, CreateRefusesAZeroedOptionsStructBeforeLookingForADevice) {
  lla_options zeroed;
  std::memset(&zeroed, 0, sizeof zeroed);
  lla_context* ctx = reinterpret_cast<lla_context*>(0x1);
  EXPECT_EQ(lla_create(&zeroed, &ctx), LLA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ctx, nullptr);
  EXPECT_THAT(lla_last_error(nullptr), HasSubstr("lla_options.struct_size: 0"));
}

}  // namespace
}  // namespace lla::runtime
