// Tuning rows, their JSON exchange and merge rule, schema migration, gc and verify.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "binary_cache.h"
#include "content_hash.h"
#include "tuning_exchange.h"

namespace lla::cache {
namespace {

namespace fs = std::filesystem;

TuningRow row_for(const std::string& config, double median_ms, int64_t measured_at) {
  TuningRow row;
  row.problem = "mamba2_forward dtype=bf16 K=128 V=128";
  row.device = "NVIDIA H100 80GB HBM3 cc=9.0 sms=132";
  row.lla_version = "0.1.0";
  row.config = config;
  row.status = TuningStatus::timed;
  row.median_ms = median_ms;
  row.min_ms = median_ms * 0.98;
  row.max_ms = median_ms * 1.05;
  row.noise_ms = median_ms * 0.01;
  row.repetitions = 20;
  row.provenance = {"NVIDIA H100 80GB HBM3", 132, "sm 1980 MHz", "13.0", "13.0", measured_at};
  return row;
}

void expect_same_rows(const std::vector<TuningRow>& actual,
                      const std::vector<TuningRow>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(tuning_rows_to_json({actual[i]}), tuning_rows_to_json({expected[i]})) << i;
  }
}

BinaryKey key_number(int n) {
  return {"gen-1", sha256_hex("source " + std::to_string(n)), "-arch=sm_90a", "13.0", "sm_90a"};
}

BinaryRecord record_number(int n) {
  BinaryRecord record;
  record.image.resize(1000 + n);
  std::mt19937 bytes(static_cast<uint32_t>(n));
  for (uint8_t& byte : record.image) byte = static_cast<uint8_t>(bytes());
  record.description = "kernel " + std::to_string(n);
  return record;
}

class TuningStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::path(LLA_TEST_BINARY_DIR) / "tuning_store_scratch" / test->name();
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  std::string folder(const std::string& name = "db") const { return (directory_ / name).string(); }
  std::string database_path() const {
    return (directory_ / "db" / BinaryCache::kFileName).string();
  }

  // Runs SQL on the file behind the cache's back.
  void raw_exec(const std::string& sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(database_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::vector<std::string> warnings_;
  BinaryCache::WarningSink collect() {
    return [this](const std::string& m) { warnings_.push_back(m); };
  }

  fs::path directory_;
};

TEST_F(TuningStoreTest, RowsRoundTripWithEveryField) {
  BinaryCache cache(folder());
  TuningRow failed = row_for("block_k=16 block_v=16 warps=2", 0, 1700000001);
  failed.status = TuningStatus::failed;
  failed.detail = "output differs from the trusted result: relative error 0.3";
  const std::vector<TuningRow> rows = {row_for("block_k=32 block_v=32 warps=4", 0.61, 1700000000),
                                       failed};
  cache.put_tuning_rows(rows);
  const auto read = cache.tuning_rows(rows[0].problem, rows[0].device, rows[0].lla_version);
  expect_same_rows(read, {failed, rows[0]});  // ordered by config text
  EXPECT_EQ(cache.stats().tuning_rows, 2);
}

TEST_F(TuningStoreTest, LookupSeparatesProblemDeviceAndVersion) {
  BinaryCache cache(folder());
  const TuningRow base = row_for("c", 1.0, 1);
  TuningRow other_problem = base, other_device = base, other_version = base;
  other_problem.problem += " T=4096";
  other_device.device = "NVIDIA H200 cc=9.0 sms=132";
  other_version.lla_version = "0.2.0";
  cache.put_tuning_rows({other_problem, other_device, other_version});
  EXPECT_TRUE(cache.tuning_rows(base.problem, base.device, base.lla_version).empty());
  cache.put_tuning_rows({base});
  EXPECT_EQ(cache.tuning_rows(base.problem, base.device, base.lla_version).size(), 1u);
  EXPECT_EQ(cache.all_tuning_rows().size(), 4u);
}

TEST_F(TuningStoreTest, PuttingARowAgainReplacesOnlyThatConfig) {
  BinaryCache cache(folder());
  cache.put_tuning_rows({row_for("a", 1.0, 1), row_for("b", 2.0, 1)});
  cache.put_tuning_rows({row_for("b", 3.0, 2)});
  const auto rows = cache.all_tuning_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].median_ms, 1.0);
  EXPECT_EQ(rows[1].median_ms, 3.0);
}

TEST_F(TuningStoreTest, Version1DatabaseIsMigratedKeepingItsBinaries) {
  BinaryCache(folder()).store(key_number(1), record_number(1));
  raw_exec(
      "DROP TABLE tuning_rows; DROP TABLE leases; DROP INDEX binaries_by_last_use; "
      "PRAGMA user_version = 1;");
  BinaryCache cache(folder(), collect());
  EXPECT_TRUE(warnings_.empty());
  const auto loaded = cache.load(key_number(1));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->image, record_number(1).image);
  cache.put_tuning_rows({row_for("a", 1.0, 1)});
  EXPECT_EQ(cache.stats().tuning_rows, 1);
}

TEST_F(TuningStoreTest, GarbageFileIsMovedAsideAndTuningWorksAfterwards) {
  fs::create_directories(folder());
  std::ofstream(database_path(), std::ios::binary) << std::string(8192, '\x5a');
  BinaryCache cache(folder(), collect());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("moved it aside"), std::string::npos) << warnings_[0];
  cache.put_tuning_rows({row_for("a", 1.0, 1)});
  EXPECT_EQ(cache.all_tuning_rows().size(), 1u);
}

TEST_F(TuningStoreTest, ExportThenImportRoundTrips) {
  BinaryCache source(folder("source"));
  TuningRow pruned = row_for("p", 0, 5);
  pruned.status = TuningStatus::pruned;
  pruned.detail = "needs 300000 bytes of shared memory; the device allows 232448";
  source.put_tuning_rows({row_for("a", 1.25, 3), row_for("b", 0.5, 4), pruned});
  const std::string exported = tuning_rows_to_json(source.all_tuning_rows());
  EXPECT_EQ(tuning_rows_to_json(source.all_tuning_rows()), exported) << "export is deterministic";

  BinaryCache target(folder("target"));
  const auto counts = target.merge_tuning_rows(tuning_rows_from_json(exported, "export.json"));
  EXPECT_EQ(counts.added, 3);
  EXPECT_EQ(counts.replaced, 0);
  expect_same_rows(target.all_tuning_rows(), source.all_tuning_rows());
  const auto again = target.merge_tuning_rows(tuning_rows_from_json(exported, "export.json"));
  EXPECT_EQ(again.added, 0);
  EXPECT_EQ(again.kept, 3) << "importing the same file twice changes nothing";
}

TEST_F(TuningStoreTest, MergeKeepsTheLaterMeasurement) {
  BinaryCache cache(folder());
  cache.put_tuning_rows({row_for("a", 1.0, 100), row_for("b", 1.0, 100)});
  const auto counts = cache.merge_tuning_rows({row_for("a", 2.0, 200), row_for("b", 3.0, 50)});
  EXPECT_EQ(counts.replaced, 1);
  EXPECT_EQ(counts.kept, 1);
  const auto rows = cache.all_tuning_rows();
  EXPECT_EQ(rows[0].median_ms, 2.0) << "newer incoming row replaces";
  EXPECT_EQ(rows[1].median_ms, 1.0) << "older incoming row is dropped";
}

TEST_F(TuningStoreTest, MergeIsIndependentOfImportOrder) {
  // Conflicts at equal and different times, and a duplicate key inside one file.
  const std::vector<TuningRow> first = {row_for("a", 1.0, 100), row_for("b", 2.0, 100),
                                        row_for("c", 9.0, 300), row_for("c", 8.0, 300)};
  const std::vector<TuningRow> second = {row_for("a", 1.5, 100), row_for("b", 2.5, 200),
                                         row_for("c", 7.0, 100)};
  BinaryCache forward(folder("forward"));
  forward.merge_tuning_rows(first);
  forward.merge_tuning_rows(second);
  BinaryCache backward(folder("backward"));
  backward.merge_tuning_rows(second);
  backward.merge_tuning_rows({first.rbegin(), first.rend()});
  expect_same_rows(forward.all_tuning_rows(), backward.all_tuning_rows());
  const auto rows = forward.all_tuning_rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].median_ms, 1.0) << "equal times: the smaller canonical text wins";
  EXPECT_EQ(rows[1].median_ms, 2.5);
  EXPECT_EQ(rows[2].median_ms, 8.0);
}

TEST_F(TuningStoreTest, ImportRejectsWhatIsNotAnExportNamingTheCause) {
  const auto error_of = [](const std::string& text) {
    try {
      tuning_rows_from_json(text, "in.json");
    } catch (const CacheError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("{not json").find("in.json: not JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"format":"other","rows":[]})").find("not an lla tuning export"),
            std::string::npos);
  const std::string good = tuning_rows_to_json({row_for("a", 1.0, 1)});
  std::string missing = good;
  missing.replace(missing.find("\"median_ms\""), std::string("\"median_ms\"").size(), "\"median\"");
  EXPECT_NE(error_of(missing).find("rows[0]: missing field \"median_ms\""), std::string::npos)
      << error_of(missing);
  std::string bad_status = good;
  bad_status.replace(bad_status.find("\"timed\""), 7, "\"great\"");
  EXPECT_NE(error_of(bad_status).find("unknown tuning row status \"great\""), std::string::npos)
      << error_of(bad_status);
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"repetitions\": 20"), 17, "\"repetitions\": \"x\"");
  EXPECT_NE(error_of(wrong_type).find("\"repetitions\" has the wrong type"), std::string::npos)
      << error_of(wrong_type);
}

TEST_F(TuningStoreTest, GcEvictsTheLeastRecentlyUsedBinariesFirst) {
  {
    BinaryCache cache(folder());
    for (int n = 1; n <= 3; ++n) cache.store(key_number(n), record_number(n));
  }
  // 2 was used longest ago, then 1, then 3.
  raw_exec(
      "UPDATE binaries SET last_used_at = 300 WHERE description = 'kernel 3';"
      "UPDATE binaries SET last_used_at = 200 WHERE description = 'kernel 1';"
      "UPDATE binaries SET last_used_at = 100 WHERE description = 'kernel 2';");
  BinaryCache cache(folder());
  const int64_t size_1 = 1001, size_3 = 1003;
  const auto result = cache.gc(size_1 + size_3);
  EXPECT_EQ(result.removed, 1);
  EXPECT_EQ(result.removed_bytes, 1002);
  EXPECT_EQ(result.kept_bytes, size_1 + size_3);
  EXPECT_FALSE(cache.load(key_number(2)).has_value());
  EXPECT_TRUE(cache.load(key_number(3)).has_value());
  const auto all_gone = cache.gc(0);
  EXPECT_EQ(all_gone.removed, 2);
  EXPECT_EQ(cache.stats().binaries, 0);
  EXPECT_THROW(cache.gc(-1), CacheError);
}

TEST_F(TuningStoreTest, VerifyFindsAndDeletesABinaryThatFailsItsChecksum) {
  {
    BinaryCache cache(folder());
    cache.store(key_number(1), record_number(1));
    cache.store(key_number(2), record_number(2));
  }
  raw_exec("UPDATE binaries SET image = zeroblob(1002) WHERE description = 'kernel 2'");
  BinaryCache cache(folder());
  const auto result = cache.verify();
  EXPECT_EQ(result.checked, 2);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_NE(result.problems[0].find("kernel 2"), std::string::npos) << result.problems[0];
  EXPECT_EQ(cache.stats().binaries, 1);
  EXPECT_TRUE(cache.verify().problems.empty());
}

TEST_F(TuningStoreTest, ListsBinariesMostRecentlyUsedFirst) {
  {
    BinaryCache cache(folder());
    for (int n = 1; n <= 2; ++n) cache.store(key_number(n), record_number(n));
  }
  raw_exec("UPDATE binaries SET last_used_at = 5 WHERE description = 'kernel 1'");
  BinaryCache cache(folder());
  const auto listed = cache.list_binaries();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].description, "kernel 2");
  EXPECT_EQ(listed[1].size, 1001);
  EXPECT_EQ(listed[1].key_digest, key_digest(key_number(1)));
}

}  // namespace
}  // namespace lla::cache
