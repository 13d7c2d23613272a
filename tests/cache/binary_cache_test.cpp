#include "binary_cache.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "content_hash.h"

namespace lla::cache {
namespace {

namespace fs = std::filesystem;

BinaryKey key_number(int n) {
  return {"gen-1", sha256_hex("source " + std::to_string(n)), "-arch=sm_90a -O3 -std=c++17", "13.0",
          "sm_90a"};
}

// An image whose bytes follow from n, so any reader can tell what it should see.
BinaryRecord record_number(int n, size_t size = 4096) {
  BinaryRecord record;
  record.image.resize(size);
  std::mt19937 bytes(static_cast<uint32_t>(n));
  for (uint8_t& byte : record.image) byte = static_cast<uint8_t>(bytes());
  record.description = "kernel " + std::to_string(n);
  record.log = "log " + std::to_string(n);
  return record;
}

void expect_same(const BinaryRecord& actual, const BinaryRecord& expected) {
  EXPECT_EQ(actual.image, expected.image);
  EXPECT_EQ(actual.description, expected.description);
  EXPECT_EQ(actual.log, expected.log);
}

// A raw connection, for changing the file behind the cache's back.
class RawDatabase {
 public:
  explicit RawDatabase(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
  }
  ~RawDatabase() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << error;
      sqlite3_free(error);
    }
  }
  // Flips the bits of one byte of a stored image in place, as bit rot would.
  void flip_image_byte(const std::string& description, int offset) {
    sqlite3_stmt* statement = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, "SELECT rowid FROM binaries WHERE description = ?1", -1,
                                 &statement, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(statement, 1, description.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW) << description;
    const sqlite3_int64 rowid = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_blob* image = nullptr;
    ASSERT_EQ(sqlite3_blob_open(db_, "main", "binaries", "image", rowid, 1, &image), SQLITE_OK)
        << sqlite3_errmsg(db_);
    unsigned char byte = 0;
    EXPECT_EQ(sqlite3_blob_read(image, &byte, 1, offset), SQLITE_OK);
    byte = static_cast<unsigned char>(~byte);
    EXPECT_EQ(sqlite3_blob_write(image, &byte, 1, offset), SQLITE_OK);
    sqlite3_blob_close(image);
  }

  // Every row's key and description.
  std::vector<std::pair<BinaryKey, std::string>> rows() {
    std::vector<std::pair<BinaryKey, std::string>> result;
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_,
                                 "SELECT generator_version, source_hash, compile_options, "
                                 "nvrtc_version, arch, description FROM binaries",
                                 -1, &statement, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      std::array<std::string, 6> columns;
      for (int i = 0; i < 6; ++i) {
        columns[i] = reinterpret_cast<const char*>(sqlite3_column_text(statement, i));
      }
      result.push_back({{columns[0], columns[1], columns[2], columns[3], columns[4]}, columns[5]});
    }
    sqlite3_finalize(statement);
    return result;
  }

 private:
  sqlite3* db_ = nullptr;
};

class BinaryCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::path(LLA_TEST_BINARY_DIR) / "binary_cache_scratch" / test->name();
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }

  BinaryCache::WarningSink collect_warnings() {
    return [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(warnings_mutex_);
      warnings_.push_back(message);
    };
  }
  std::vector<std::string> warnings() {
    std::lock_guard<std::mutex> lock(warnings_mutex_);
    return warnings_;
  }
  std::string database_path() const { return (directory_ / BinaryCache::kFileName).string(); }

  // The files moved aside next to the database.
  std::vector<fs::path> moved_aside() const {
    std::vector<fs::path> result;
    for (const auto& entry : fs::directory_iterator(directory_)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(std::string(BinaryCache::kFileName) + ".corrupt-", 0) == 0) {
        result.push_back(entry.path());
      }
    }
    return result;
  }

  fs::path directory_;
  std::mutex warnings_mutex_;
  std::vector<std::string> warnings_;
};

TEST_F(BinaryCacheTest, StoreThenLoadRoundTrips) {
  BinaryCache cache(directory_.string(), collect_warnings());
  EXPECT_EQ(cache.path(), database_path());
  const BinaryRecord record = record_number(1);
  cache.store(key_number(1), record);
  const auto loaded = cache.load(key_number(1));
  ASSERT_TRUE(loaded.has_value());
  expect_same(*loaded, record);

  const BinaryRecord empty{{}, "empty image", ""};
  cache.store(key_number(2), empty);
  const auto loaded_empty = cache.load(key_number(2));
  ASSERT_TRUE(loaded_empty.has_value());
  expect_same(*loaded_empty, empty);

  const BinaryCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.binaries, 2);
  EXPECT_EQ(stats.bytes, 4096);
  EXPECT_TRUE(warnings().empty());
}

TEST_F(BinaryCacheTest, RecordsSurviveReopening) {
  BinaryCache(directory_.string()).store(key_number(1), record_number(1));
  const auto loaded = BinaryCache(directory_.string()).load(key_number(1));
  ASSERT_TRUE(loaded.has_value());
  expect_same(*loaded, record_number(1));
}

TEST_F(BinaryCacheTest, EmptyDatabaseMisses) {
  BinaryCache cache(directory_.string(), collect_warnings());
  EXPECT_FALSE(cache.load(key_number(1)).has_value());
  EXPECT_EQ(cache.stats().binaries, 0);
  EXPECT_EQ(cache.stats().bytes, 0);
}

TEST_F(BinaryCacheTest, StoreReplacesTheRecordUnderTheSameKey) {
  BinaryCache cache(directory_.string());
  cache.store(key_number(1), record_number(1));
  cache.store(key_number(1), record_number(2, 100));
  const auto loaded = cache.load(key_number(1));
  ASSERT_TRUE(loaded.has_value());
  expect_same(*loaded, record_number(2, 100));
  EXPECT_EQ(cache.stats().binaries, 1);
  EXPECT_EQ(cache.stats().bytes, 100);
}

TEST_F(BinaryCacheTest, ChangingEachKeyFieldAloneMisses) {
  BinaryCache cache(directory_.string());
  const BinaryKey stored = key_number(1);
  cache.store(stored, record_number(1));
  const std::pair<const char*, std::string BinaryKey::*> fields[] = {
      {"generator_version", &BinaryKey::generator_version},
      {"source_hash", &BinaryKey::source_hash},
      {"compile_options", &BinaryKey::compile_options},
      {"nvrtc_version", &BinaryKey::nvrtc_version},
      {"arch", &BinaryKey::arch},
  };
  for (const auto& [name, field] : fields) {
    BinaryKey changed = stored;
    changed.*field += "x";
    EXPECT_NE(key_digest(changed), key_digest(stored)) << name;
    EXPECT_FALSE(cache.load(changed).has_value()) << "changing " << name << " alone still hits";
  }
  BinaryKey sm90 = stored;
  sm90.arch = "sm_90";
  EXPECT_FALSE(cache.load(sm90).has_value()) << "sm_90 must not be served an sm_90a binary";
  EXPECT_TRUE(cache.load(stored).has_value());
}

TEST_F(BinaryCacheTest, KeyDigestSeparatesFieldBoundaries) {
  const BinaryKey a{"ab", "c", "", "", ""};
  const BinaryKey b{"a", "bc", "", "", ""};
  const BinaryKey c{"", "", "", "", "abc"};
  EXPECT_NE(key_digest(a), key_digest(b));
  EXPECT_NE(key_digest(a), key_digest(c));
  EXPECT_EQ(key_digest(a), key_digest(BinaryKey{"ab", "c", "", "", ""}));
  EXPECT_EQ(key_digest(a).size(), 64u);
}

TEST_F(BinaryCacheTest, CorruptedImageIsDiscardedWithAWarningAndReportedAsAMiss) {
  BinaryCache cache(directory_.string(), collect_warnings());
  cache.store(key_number(1), record_number(1));
  cache.store(key_number(2), record_number(2));
  RawDatabase(database_path()).flip_image_byte("kernel 1", 100);

  EXPECT_FALSE(cache.load(key_number(1)).has_value());
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("checksum"), std::string::npos) << warnings()[0];
  EXPECT_EQ(cache.stats().binaries, 1) << "the bad row must be deleted";
  EXPECT_TRUE(cache.load(key_number(2)).has_value());

  cache.store(key_number(1), record_number(1));
  const auto rebuilt = cache.load(key_number(1));
  ASSERT_TRUE(rebuilt.has_value());
  expect_same(*rebuilt, record_number(1));
  EXPECT_EQ(warnings().size(), 1u);
}

TEST_F(BinaryCacheTest, GarbageFileIsMovedAsideWithAWarning) {
  std::string garbage(16384, '\0');
  std::mt19937 bytes(7);
  for (char& byte : garbage) byte = static_cast<char>(bytes());
  std::ofstream(database_path(), std::ios::binary) << garbage;

  BinaryCache cache(directory_.string(), collect_warnings());
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("not an SQLite database"), std::string::npos) << warnings()[0];
  const auto aside = moved_aside();
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_NE(warnings()[0].find(aside[0].string()), std::string::npos) << warnings()[0];
  std::ifstream moved(aside[0], std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(moved), {}), garbage);

  cache.store(key_number(1), record_number(1));
  EXPECT_TRUE(cache.load(key_number(1)).has_value());
}

TEST_F(BinaryCacheTest, FutureSchemaVersionIsMovedAsideWithAWarning) {
  BinaryCache(directory_.string()).store(key_number(1), record_number(1));
  RawDatabase(database_path())
      .exec("PRAGMA user_version = " + std::to_string(BinaryCache::kSchemaVersion + 1));

  BinaryCache cache(directory_.string(), collect_warnings());
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("unknown schema version"), std::string::npos) << warnings()[0];
  EXPECT_EQ(moved_aside().size(), 1u);
  EXPECT_FALSE(cache.load(key_number(1)).has_value());
  cache.store(key_number(1), record_number(1));
  EXPECT_TRUE(cache.load(key_number(1)).has_value());
}

TEST_F(BinaryCacheTest, ForeignDatabaseIsMovedAsideWithAWarning) {
  RawDatabase(database_path()).exec("CREATE TABLE something_else (x)");
  BinaryCache cache(directory_.string(), collect_warnings());
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_EQ(moved_aside().size(), 1u);
  cache.store(key_number(1), record_number(1));
  EXPECT_TRUE(cache.load(key_number(1)).has_value());
}

TEST_F(BinaryCacheTest, TwoCachesAndManyThreadsStayConsistent) {
  BinaryCache first(directory_.string(), collect_warnings());
  BinaryCache second(directory_.string(), collect_warnings());
  constexpr int kThreads = 8;
  constexpr int kOperations = 50;
  constexpr int kKeys = 12;
  const auto expected = [](int n) { return record_number(n, 1000 + 10 * n); };
  std::array<std::atomic<bool>, kKeys> stored{};
  std::atomic<int> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      BinaryCache& cache = t % 2 ? second : first;
      std::mt19937 choices(static_cast<uint32_t>(t));
      for (int op = 0; op < kOperations; ++op) {
        const int n = static_cast<int>(choices() % kKeys);
        if (choices() % 3 == 0) {
          cache.store(key_number(n), expected(n));
          stored[n] = true;
        } else if (const auto loaded = cache.load(key_number(n))) {
          expect_same(*loaded, expected(n));
          ++hits;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_GT(hits.load(), 0);
  int64_t stored_keys = 0;
  int64_t stored_bytes = 0;
  for (int n = 0; n < kKeys; ++n) {
    if (!stored[n]) continue;
    ++stored_keys;
    stored_bytes += static_cast<int64_t>(expected(n).image.size());
    for (BinaryCache* cache : {&first, &second}) {
      const auto loaded = cache->load(key_number(n));
      ASSERT_TRUE(loaded.has_value()) << n;
      expect_same(*loaded, expected(n));
    }
  }
  for (BinaryCache* cache : {&first, &second}) {
    EXPECT_EQ(cache->stats().binaries, stored_keys);
    EXPECT_EQ(cache->stats().bytes, stored_bytes);
  }
  EXPECT_TRUE(warnings().empty());
}

// The writer below cycles over fewer keys than it writes, so it also replaces rows; the
// description names the write, so a reader knows what each row must hold.
BinaryKey writer_key(int write) { return key_number(write % 200); }
BinaryRecord writer_record(int write) { return record_number(write, 2000 + 97 * (write % 300)); }

TEST_F(BinaryCacheTest, WriterKilledMidLoopLeavesAVerifiableDatabase) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t writer = fork();
  if (writer == 0) {
    close(ready[0]);
    BinaryCache cache(directory_.string());
    for (int n = 0;; ++n) {
      cache.store(writer_key(n), writer_record(n));
      if (n == 30 && write(ready[1], "r", 1) != 1) _exit(1);
    }
  }
  close(ready[1]);
  char signal_byte = 0;
  ASSERT_EQ(read(ready[0], &signal_byte, 1), 1) << "the writer died before it got going";
  close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(writer, SIGKILL);
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  BinaryCache cache(directory_.string(), collect_warnings());
  const auto rows = RawDatabase(database_path()).rows();
  EXPECT_GE(rows.size(), 30u);
  for (const auto& [key, description] : rows) {
    const int write = std::stoi(description.substr(std::string("kernel ").size()));
    EXPECT_EQ(key_digest(key), key_digest(writer_key(write))) << description;
    const auto loaded = cache.load(key);
    ASSERT_TRUE(loaded.has_value()) << description;
    expect_same(*loaded, writer_record(write));
  }
  EXPECT_EQ(cache.stats().binaries, static_cast<int64_t>(rows.size()));
  EXPECT_TRUE(warnings().empty());
}

TEST_F(BinaryCacheTest, FolderThatCannotBeCreatedThrowsNamingThePath) {
  const fs::path regular_file = directory_ / "a-file";
  std::ofstream(regular_file) << "not a folder";
  const std::string impossible = (regular_file / "cache").string();
  try {
    BinaryCache cache(impossible);
    FAIL() << "opened a cache under a regular file";
  } catch (const CacheError& error) {
    EXPECT_NE(std::string(error.what()).find(impossible), std::string::npos) << error.what();
  }
}

// RLIMIT_FSIZE makes the file system refuse to grow the files, as a full disk does.
TEST_F(BinaryCacheTest, StoreOnAFullDiskThrowsAndLeavesTheCacheUsable) {
  const int exit_code = test::run_in_child([this] {
    signal(SIGXFSZ, SIG_IGN);
    BinaryCache cache(directory_.string());
    cache.store(key_number(1), record_number(1, 1000));
    const rlimit limit{64 * 1024, 64 * 1024};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
    try {
      cache.store(key_number(2), record_number(2, 1 << 20));
      return 11;
    } catch (const CacheError& error) {
      if (std::string(error.what()).find(cache.path()) == std::string::npos) return 12;
    }
    if (cache.load(key_number(2))) return 13;
    if (!cache.load(key_number(1))) return 14;
    return 0;
  });
  ASSERT_EQ(exit_code, 0) << "see the return codes in the test body";

  BinaryCache cache(directory_.string(), collect_warnings());
  EXPECT_TRUE(cache.load(key_number(1)).has_value());
  EXPECT_FALSE(cache.load(key_number(2)).has_value());
  EXPECT_TRUE(warnings().empty());
}

// A reader without write permission on the file (root is made nobody, since root writes
// anything) still loads; its stores throw.
TEST_F(BinaryCacheTest, ReadOnlyDatabaseLoadsAndRefusesStores) {
  BinaryCache(directory_.string()).store(key_number(1), record_number(1));
  fs::permissions(database_path(),
                  fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(directory_, fs::perms::all);
  const int exit_code = test::run_in_child([this] {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) return 10;
    int warnings = 0;
    BinaryCache cache(directory_.string(), [&](const std::string&) { ++warnings; });
    const auto loaded = cache.load(key_number(1));
    if (!loaded || loaded->image != record_number(1).image) return 11;
    if (cache.load(key_number(2))) return 12;
    try {
      cache.store(key_number(2), record_number(2));
      return 13;
    } catch (const CacheError&) {
    }
    return warnings == 0 ? 0 : 14;
  });
  EXPECT_EQ(exit_code, 0) << "see the return codes in the test body";
}

}  // namespace
}  // namespace lla::cache
