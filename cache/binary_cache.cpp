#include "binary_cache.h"

#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <mutex>
#include <string_view>

#include "cache_connection.h"
#include "content_hash.h"

namespace lla::cache {

using sqlite::Binding;
using sqlite::WriteTransaction;

namespace {

// A hit refreshes last_used_at only when it is older than this, so hot loads rarely write.
constexpr int64_t kLastUsedResolutionS = 60;

// Schema version 1: binaries. image is the last column so that reading the others never
// touches its overflow pages.
constexpr const char* kCreateSchemaV1 = R"sql(
CREATE TABLE binaries (
  key_digest        TEXT PRIMARY KEY NOT NULL,
  generator_version TEXT NOT NULL,
  source_hash       TEXT NOT NULL,
  compile_options   TEXT NOT NULL,
  nvrtc_version     TEXT NOT NULL,
  arch              TEXT NOT NULL,
  checksum          TEXT NOT NULL,
  size              INTEGER NOT NULL,
  created_at        INTEGER NOT NULL,
  last_used_at      INTEGER NOT NULL,
  description       TEXT NOT NULL,
  log               TEXT NOT NULL,
  image             BLOB NOT NULL
);
PRAGMA user_version = 1;
)sql";

// Version 2 adds tuning rows and leases to version 1 (binaries unchanged), so a version 1 file
// migrates in place by running this.
constexpr const char* kUpgradeSchemaV1ToV2 = R"sql(
CREATE TABLE tuning_rows (
  problem        TEXT NOT NULL,
  device         TEXT NOT NULL,
  lla_version    TEXT NOT NULL,
  config         TEXT NOT NULL,
  status         TEXT NOT NULL,
  median_ms      REAL NOT NULL,
  min_ms         REAL NOT NULL,
  max_ms         REAL NOT NULL,
  noise_ms       REAL NOT NULL,
  repetitions    INTEGER NOT NULL,
  detail         TEXT NOT NULL,
  device_name    TEXT NOT NULL,
  sm_count       INTEGER NOT NULL,
  clocks         TEXT NOT NULL,
  driver_version TEXT NOT NULL,
  nvrtc_version  TEXT NOT NULL,
  measured_at    INTEGER NOT NULL,
  PRIMARY KEY (problem, device, lla_version, config)
);
CREATE TABLE leases (
  name       TEXT PRIMARY KEY NOT NULL,
  holder     TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX binaries_by_last_use ON binaries (last_used_at, key_digest);
PRAGMA user_version = 2;
)sql";

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::string_view as_bytes(const std::vector<uint8_t>& image) {
  return {reinterpret_cast<const char*>(image.data()), image.size()};
}

}  // namespace

std::string key_digest(const BinaryKey& k) {
  std::string encoded;
  for (const std::string* field :
       {&k.generator_version, &k.source_hash, &k.compile_options, &k.nvrtc_version, &k.arch}) {
    encoded += std::to_string(field->size());
    encoded += ':';
    encoded += *field;
  }
  return sha256_hex(encoded);
}

// Opens the file and brings it to kSchemaVersion. Returns why the file is unusable (not a
// database, an unknown schema) so the caller can move it aside; any other failure throws.
std::optional<std::string> BinaryCache::Connection::open() {
  db.open();
  read_only = sqlite3_db_readonly(db.get(), "main") == 1;

  int64_t version = 0;
  const int version_rc = db.query_int("PRAGMA user_version", &version);
  if ((version_rc & 0xff) == SQLITE_NOTADB) return "not an SQLite database";
  if (version_rc != SQLITE_OK) db.fail("cannot read the schema version");
  const auto unknown_version = [](int64_t v) {
    return "unknown schema version " + std::to_string(v) + " (this build knows " +
           std::to_string(kSchemaVersion) + ")";
  };
  if (version != 0 && version != 1 && version != kSchemaVersion) return unknown_version(version);

  if (read_only) {
    if (version != kSchemaVersion) {
      db.fail("the cache database is read-only and has schema version " +
              std::to_string(version) + ", not " + std::to_string(kSchemaVersion));
    }
  } else {
    db.exec("PRAGMA journal_mode=WAL", "cannot enable write-ahead logging");
    db.exec("PRAGMA synchronous=NORMAL", "cannot set synchronous=NORMAL");
    if (version != kSchemaVersion) {
      // Another process may be creating the schema too: decide again under the write lock.
      WriteTransaction transaction(db);
      if (db.query_int("PRAGMA user_version", &version) != SQLITE_OK) {
        db.fail("cannot read the schema version");
      }
      if (version == 0) {
        int64_t objects = 0;
        if (db.query_int("SELECT count(*) FROM sqlite_master", &objects) != SQLITE_OK) {
          db.fail("cannot read the schema");
        }
        if (objects != 0) return "an SQLite database without an lla schema version";
        db.exec(kCreateSchemaV1, "cannot create the schema");
        version = 1;
      }
      if (version == 1) {
        db.exec(kUpgradeSchemaV1ToV2, "cannot migrate the schema from version 1 to 2");
      } else if (version != kSchemaVersion) {
        return unknown_version(version);
      }
      transaction.commit();
    }
  }

  select_binary = db.prepare(
      "SELECT image, checksum, description, log, last_used_at, arch FROM binaries "
      "WHERE key_digest = ?1");
  touch_binary = db.prepare("UPDATE binaries SET last_used_at = ?2 WHERE key_digest = ?1");
  insert_binary = db.prepare(
      "INSERT OR REPLACE INTO binaries (key_digest, generator_version, source_hash, "
      "compile_options, nvrtc_version, arch, checksum, size, created_at, last_used_at, "
      "description, log, image) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12)");
  delete_binary = db.prepare("DELETE FROM binaries WHERE key_digest = ?1");
  return std::nullopt;
}

void BinaryCache::Connection::move_aside(const std::string& reason) {
  db.close();
  const std::string& path = db.path();
  const std::string stem = path + ".corrupt-" + utc_timestamp();
  std::string aside = stem;
  for (int n = 1; std::filesystem::exists(aside); ++n) aside = stem + "-" + std::to_string(n);
  // The write-ahead log and shared-memory index go too: a stale log left beside a fresh
  // database would be replayed into it.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string from = path + suffix;
    std::error_code ec;
    if (!std::filesystem::exists(from, ec)) continue;
    std::filesystem::rename(from, aside + suffix, ec);
    if (ec) {
      throw CacheError(path + ": " + reason + ", and it cannot be moved aside to " + aside +
                       suffix + ": " + ec.message());
    }
  }
  warning(path + ": " + reason + "; moved it aside to " + aside + " and started a fresh cache");
}

// Within the caller's write transaction.
void BinaryCache::Connection::delete_binary_row(const std::string& digest) {
  Binding binding(db, delete_binary);
  binding.text(1, digest);
  if (binding.step() != SQLITE_DONE) db.fail("cannot delete binary " + digest);
}

void BinaryCache::Connection::discard(const std::string& digest, const std::string& why) {
  std::string message = db.path() + ": binary " + digest + " " + why + "; discarded, to be rebuilt";
  try {
    WriteTransaction transaction(db);
    delete_binary_row(digest);
    transaction.commit();
  } catch (const CacheError& error) {
    message += std::string(" (it stays in the file: ") + error.what() + ")";
  }
  warning(message);
}

// Best effort: a hit is still a hit when its timestamp cannot be refreshed.
void BinaryCache::Connection::touch(const std::string& digest, int64_t now) {
  try {
    WriteTransaction transaction(db);
    {
      Binding binding(db, touch_binary);
      binding.text(1, digest).integer(2, now);
      if (binding.step() != SQLITE_DONE) db.fail("cannot update last_used_at");
    }
    transaction.commit();
  } catch (const CacheError& error) {
    warning(error.what());
  }
}

BinaryCache::BinaryCache(const std::string& directory, WarningSink warn)
    : connection_(std::make_unique<Connection>(
          (std::filesystem::path(directory) / kFileName).string(), std::move(warn))) {
  Connection& c = *connection_;
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    throw CacheError(c.db.path() + ": cannot create the folder " + directory + ": " + ec.message());
  }
  if (const auto unusable = c.open()) {
    c.move_aside(*unusable);
    if (const auto still_unusable = c.open()) {
      throw CacheError(c.db.path() + ": " + *still_unusable);
    }
  }
}

BinaryCache::~BinaryCache() = default;

const std::string& BinaryCache::path() const { return connection_->db.path(); }

std::optional<BinaryRecord> BinaryCache::load(const BinaryKey& key) {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  const std::string digest = key_digest(key);
  BinaryRecord record;
  std::string checksum;
  std::string arch;
  int64_t last_used = 0;
  {
    Binding binding(c.db, c.select_binary);
    binding.text(1, digest);
    const int rc = binding.step();
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) c.db.fail("cannot read a binary");
    sqlite3_stmt* row = binding.row();
    const auto* image = static_cast<const uint8_t*>(sqlite3_column_blob(row, 0));
    record.image.assign(image, image + sqlite3_column_bytes(row, 0));
    checksum = sqlite::column_text(row, 1);
    record.description = sqlite::column_text(row, 2);
    record.log = sqlite::column_text(row, 3);
    last_used = sqlite3_column_int64(row, 4);
    arch = sqlite::column_text(row, 5);
  }
  if (sha256_hex(as_bytes(record.image)) != checksum) {
    c.discard(digest, "(" + arch + ", " + record.description + ") does not match its checksum");
    return std::nullopt;
  }
  const int64_t now = sqlite::unix_seconds();
  if (!c.read_only && now - last_used >= kLastUsedResolutionS) c.touch(digest, now);
  return record;
}

void BinaryCache::store(const BinaryKey& key, const BinaryRecord& record) {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  const std::string digest = key_digest(key);
  const std::string checksum = sha256_hex(as_bytes(record.image));
  WriteTransaction transaction(c.db);
  {
    Binding binding(c.db, c.insert_binary);
    binding.text(1, digest)
        .text(2, key.generator_version)
        .text(3, key.source_hash)
        .text(4, key.compile_options)
        .text(5, key.nvrtc_version)
        .text(6, key.arch)
        .text(7, checksum)
        .integer(8, static_cast<int64_t>(record.image.size()))
        .integer(9, sqlite::unix_seconds())
        .text(10, record.description)
        .text(11, record.log)
        .blob(12, record.image);
    if (binding.step() != SQLITE_DONE) c.db.fail("cannot store a binary");
  }
  transaction.commit();
}

BinaryCache::Stats BinaryCache::stats() {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  Stats stats{};
  auto count = [&](const char* sql, int64_t* value) {
    if (c.db.query_int(sql, value) != SQLITE_OK) c.db.fail(std::string("cannot run ") + sql);
  };
  count("SELECT count(*) FROM binaries", &stats.binaries);
  count("SELECT coalesce(sum(size), 0) FROM binaries", &stats.bytes);
  count("SELECT count(*) FROM tuning_rows", &stats.tuning_rows);
  count("SELECT count(*) FROM leases", &stats.leases);
  return stats;
}

std::vector<BinaryCache::BinaryInfo> BinaryCache::list_binaries() {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  const sqlite::Statement statement = c.db.prepare(
      "SELECT key_digest, arch, nvrtc_version, description, size, created_at, last_used_at "
      "FROM binaries ORDER BY last_used_at DESC, key_digest");
  Binding binding(c.db, statement);
  std::vector<BinaryInfo> binaries;
  int rc = SQLITE_ROW;
  while ((rc = binding.step()) == SQLITE_ROW) {
    sqlite3_stmt* row = binding.row();
    binaries.push_back({sqlite::column_text(row, 0), sqlite::column_text(row, 1),
                        sqlite::column_text(row, 2), sqlite::column_text(row, 3),
                        sqlite3_column_int64(row, 4), sqlite3_column_int64(row, 5),
                        sqlite3_column_int64(row, 6)});
  }
  if (rc != SQLITE_DONE) c.db.fail("cannot list binaries");
  return binaries;
}

BinaryCache::GcResult BinaryCache::gc(int64_t max_bytes) {
  if (max_bytes < 0) throw CacheError("the binary size cap must not be negative");
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  WriteTransaction transaction(c.db);
  std::vector<std::pair<std::string, int64_t>> oldest_first;
  {
    const sqlite::Statement statement = c.db.prepare(
        "SELECT key_digest, size FROM binaries ORDER BY last_used_at, key_digest");
    Binding binding(c.db, statement);
    int rc = SQLITE_ROW;
    while ((rc = binding.step()) == SQLITE_ROW) {
      oldest_first.emplace_back(sqlite::column_text(binding.row(), 0),
                                sqlite3_column_int64(binding.row(), 1));
    }
    if (rc != SQLITE_DONE) c.db.fail("cannot list binaries by last use");
  }
  GcResult result;
  for (const auto& entry : oldest_first) result.kept_bytes += entry.second;
  result.kept = static_cast<int64_t>(oldest_first.size());
  for (const auto& [digest, size] : oldest_first) {
    if (result.kept_bytes <= max_bytes) break;
    c.delete_binary_row(digest);
    ++result.removed;
    result.removed_bytes += size;
    --result.kept;
    result.kept_bytes -= size;
  }
  transaction.commit();
  return result;
}

BinaryCache::VerifyResult BinaryCache::verify() {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  VerifyResult result;
  {
    const sqlite::Statement integrity = c.db.prepare("PRAGMA integrity_check");
    Binding binding(c.db, integrity);
    int rc = SQLITE_ROW;
    while ((rc = binding.step()) == SQLITE_ROW) {
      const std::string line = sqlite::column_text(binding.row(), 0);
      if (line != "ok") result.problems.push_back("integrity check: " + line);
    }
    if (rc != SQLITE_DONE) c.db.fail("cannot run the integrity check");
  }
  std::vector<std::string> bad;
  {
    const sqlite::Statement statement =
        c.db.prepare("SELECT key_digest, description, checksum, image FROM binaries");
    Binding binding(c.db, statement);
    int rc = SQLITE_ROW;
    while ((rc = binding.step()) == SQLITE_ROW) {
      sqlite3_stmt* row = binding.row();
      ++result.checked;
      const std::string_view image(static_cast<const char*>(sqlite3_column_blob(row, 3)),
                                   static_cast<size_t>(sqlite3_column_bytes(row, 3)));
      if (sha256_hex(image) == sqlite::column_text(row, 2)) continue;
      bad.push_back(sqlite::column_text(row, 0));
      result.problems.push_back("binary " + bad.back() + " (" + sqlite::column_text(row, 1) +
                                ") does not match its checksum; deleted");
    }
    if (rc != SQLITE_DONE) c.db.fail("cannot read binaries");
  }
  if (!bad.empty()) {
    WriteTransaction transaction(c.db);
    for (const std::string& digest : bad) c.delete_binary_row(digest);
    transaction.commit();
  }
  return result;
}

}  // namespace lla::cache
