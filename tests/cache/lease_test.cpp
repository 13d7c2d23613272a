// Leases and jobs that run once across processes; processes killed mid-write.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "binary_cache.h"
#include "child_process.h"
#include "content_hash.h"

namespace lla::cache {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

BinaryKey shared_key() {
  return {"gen-1", sha256_hex("the one kernel"), "-arch=sm_90a", "13.0", "sm_90a"};
}

BinaryRecord shared_record() {
  BinaryRecord record;
  record.image.resize(50000);
  std::mt19937 bytes(42);
  for (uint8_t& byte : record.image) byte = static_cast<uint8_t>(bytes());
  record.description = "the one kernel";
  return record;
}

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::path(LLA_TEST_BINARY_DIR) / "lease_scratch" / test->name();
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  std::string folder() const { return (directory_ / "db").string(); }
  fs::path directory_;
};

TEST_F(LeaseTest, ALiveLeaseHasOneHolder) {
  BinaryCache cache(folder());
  EXPECT_TRUE(cache.try_acquire_lease("job", "first", 60000));
  EXPECT_FALSE(cache.try_acquire_lease("job", "second", 60000));
  EXPECT_TRUE(cache.try_acquire_lease("job", "first", 60000)) << "a holder may take it again";
  EXPECT_TRUE(cache.try_acquire_lease("other job", "second", 60000));
  cache.release_lease("job", "second");
  EXPECT_FALSE(cache.try_acquire_lease("job", "second", 60000)) << "only the holder releases";
  cache.release_lease("job", "first");
  EXPECT_TRUE(cache.try_acquire_lease("job", "second", 60000));
}

TEST_F(LeaseTest, AnExpiredLeaseIsTakenAndARenewedOneIsNot) {
  BinaryCache cache(folder());
  ASSERT_TRUE(cache.try_acquire_lease("expiring", "first", 100));
  ASSERT_TRUE(cache.try_acquire_lease("renewed", "first", 100));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_TRUE(cache.renew_lease("renewed", "first", 60000));
  EXPECT_FALSE(cache.renew_lease("renewed", "second", 60000));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_TRUE(cache.try_acquire_lease("expiring", "second", 60000));
  EXPECT_FALSE(cache.try_acquire_lease("renewed", "second", 60000));
  EXPECT_FALSE(cache.renew_lease("expiring", "first", 60000)) << "first lost it";
}

TEST_F(LeaseTest, NonPositiveTimeToLiveIsRejectedNamingTheLease) {
  BinaryCache cache(folder());
  try {
    cache.try_acquire_lease("job", "me", 0);
    FAIL() << "no error";
  } catch (const CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("lease job: the time to live must be positive"),
              std::string::npos)
        << e.what();
  }
}

// Each build appends a line to a log file (O_APPEND, so lines from processes never mix) and
// takes long enough that every racer arrives while it runs.
BinaryRecord logged_build(const std::string& log_path) {
  {
    std::ofstream log(log_path, std::ios::app);
    log << getpid() << '\n';
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return shared_record();
}

TEST_F(LeaseTest, SixteenProcessesRacingForOneKeyBuildItOnce) {
  constexpr int kProcesses = 16;
  const std::string log_path = (directory_ / "builds.log").string();
  { BinaryCache first_use(folder()); }  // the schema exists before the race
  int start[2];
  ASSERT_EQ(pipe(start), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t child = fork();
    if (child == 0) {
      close(start[1]);
      char go = 0;
      if (read(start[0], &go, 1) != 0) _exit(3);  // released together when the pipe closes
      try {
        BinaryCache cache(folder());
        const BinaryRecord got =
            cache.load_or_build(shared_key(), [&] { return logged_build(log_path); });
        _exit(got.image == shared_record().image ? 0 : 1);
      } catch (const std::exception&) {
        _exit(2);
      }
    }
    children.push_back(child);
  }
  close(start[0]);
  close(start[1]);
  for (pid_t child : children) EXPECT_EQ(test::wait_for_child(child), 0);

  std::ifstream log(log_path);
  int builds = 0;
  for (std::string line; std::getline(log, line);) ++builds;
  EXPECT_EQ(builds, 1);
  BinaryCache cache(folder());
  EXPECT_TRUE(cache.verify().problems.empty());
  const auto stats = cache.stats();
  EXPECT_EQ(stats.binaries, 1);
  EXPECT_EQ(stats.leases, 0) << "every lease was released";
}

TEST_F(LeaseTest, HolderKilledMidBuildBlocksOthersOnlyUntilItsLeaseExpires) {
  constexpr int64_t kLeaseMs = 700;
  int taken[2];
  ASSERT_EQ(pipe(taken), 0);
  const pid_t holder = fork();
  if (holder == 0) {
    close(taken[0]);
    BinaryCache cache(folder());
    cache.load_or_build(
        shared_key(),
        [&]() -> BinaryRecord {
          if (write(taken[1], "t", 1) != 1) _exit(1);
          raise(SIGKILL);  // killed mid-build, holding the lease
          return {};
        },
        kLeaseMs);
    _exit(1);
  }
  close(taken[1]);
  char byte = 0;
  ASSERT_EQ(read(taken[0], &byte, 1), 1) << "the holder died before it took the lease";
  close(taken[0]);
  EXPECT_EQ(test::wait_for_child(holder), 128 + SIGKILL);

  BinaryCache cache(folder());
  EXPECT_EQ(cache.stats().leases, 1);
  const auto started = Clock::now();
  int builds = 0;
  const BinaryRecord got = cache.load_or_build(shared_key(), [&] {
    ++builds;
    return shared_record();
  });
  const double waited_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(got.image, shared_record().image);
  EXPECT_LT(waited_ms, kLeaseMs + 2000);
  EXPECT_EQ(cache.stats().leases, 0);
}

// A writer killed at an arbitrary point of its loop, most often inside a transaction: every
// batch it wrote is there whole, or not at all.
TEST_F(LeaseTest, TuningWriterKilledMidTransactionLeavesWholeBatchesOnly) {
  constexpr int kBatchRows = 200;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t writer = fork();
  if (writer == 0) {
    close(ready[0]);
    BinaryCache cache(folder());
    for (int batch = 0;; ++batch) {
      std::vector<TuningRow> rows(kBatchRows);
      for (int i = 0; i < kBatchRows; ++i) {
        rows[i].problem = "batch " + std::to_string(batch);
        rows[i].device = "device";
        rows[i].lla_version = "0.1.0";
        rows[i].config = "config " + std::to_string(i);
        rows[i].detail = std::string(200, 'x');
      }
      cache.put_tuning_rows(rows);
      if (batch == 5 && write(ready[1], "r", 1) != 1) _exit(1);
    }
  }
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the writer died before it got going";
  close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(writer, SIGKILL);
  EXPECT_EQ(test::wait_for_child(writer), 128 + SIGKILL);

  std::vector<std::string> warnings;
  BinaryCache cache(folder(), [&](const std::string& m) { warnings.push_back(m); });
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(cache.verify().problems.empty());
  std::map<std::string, int> rows_per_batch;
  for (const TuningRow& row : cache.all_tuning_rows()) ++rows_per_batch[row.problem];
  EXPECT_GE(rows_per_batch.size(), 6u);
  for (const auto& [batch, rows] : rows_per_batch) EXPECT_EQ(rows, kBatchRows) << batch;
}

}  // namespace
}  // namespace lla::cache
