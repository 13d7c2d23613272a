#include "binary_cache.h"

#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string_view>

#include "content_hash.h"

namespace lla::cache {

namespace {

constexpr int kBusyTimeoutMs = 10000;
// A hit refreshes last_used_at only when it is older than this, so hot loads rarely write.
constexpr int64_t kLastUsedResolutionS = 60;

// Schema version 1. Later versions (tuning rows, leases) migrate up from it in open().
// image is the last column so that reading the others never touches its overflow pages.
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

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// One sqlite3 connection and the file it is on; every failure becomes a CacheError naming both.
class Database {
 public:
  explicit Database(std::string path) : path_(std::move(path)) {}
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* get() const { return db_.get(); }

  void open() {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
        nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail("cannot open the cache database");
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  }
  void close() { db_.reset(); }

  [[noreturn]] void fail(const std::string& what) const {
    throw CacheError(path_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
  }

  void exec(const char* sql, const char* what) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(what);
  }

  Statement prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) !=
        SQLITE_OK) {
      fail(std::string("cannot prepare \"") + sql + "\"");
    }
    return Statement(statement);
  }

  // The result of a statement returning one integer, or the sqlite error code.
  int query_int(const char* sql, int64_t* value) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
    const Statement statement(raw);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) return rc;
    *value = sqlite3_column_int64(raw, 0);
    return SQLITE_OK;
  }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::string path_;
  std::unique_ptr<sqlite3, Closer> db_;
};

// BEGIN IMMEDIATE takes the write lock up front (waiting out the busy timeout), so a writer
// never fails halfway on a lock upgrade; whatever is not committed is rolled back.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& db) : db_(db) {
    db_.exec("BEGIN IMMEDIATE", "cannot begin a write transaction");
  }
  ~WriteTransaction() {
    if (!committed_) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  void commit() {
    db_.exec("COMMIT", "cannot commit");
    committed_ = true;
  }

 private:
  Database& db_;
  bool committed_ = false;
};

// Binds parameters to a prepared statement and resets it when done: an unreset SELECT would
// hold its read snapshot open.
class Binding {
 public:
  Binding(const Database& db, const Statement& statement) : db_(db), statement_(statement.get()) {}
  ~Binding() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Binding(const Binding&) = delete;
  Binding& operator=(const Binding&) = delete;

  // The bound bytes must outlive step().
  Binding& text(int index, const std::string& value) {
    return check(sqlite3_bind_text64(statement_, index, value.data(), value.size(), SQLITE_STATIC,
                                     SQLITE_UTF8));
  }
  Binding& integer(int index, int64_t value) {
    return check(sqlite3_bind_int64(statement_, index, value));
  }
  Binding& blob(int index, const std::vector<uint8_t>& value) {
    // A null pointer would bind SQL NULL rather than an empty blob.
    static const uint8_t kEmpty = 0;
    return check(sqlite3_bind_blob64(statement_, index, value.empty() ? &kEmpty : value.data(),
                                     value.size(), SQLITE_STATIC));
  }
  int step() { return sqlite3_step(statement_); }
  sqlite3_stmt* row() const { return statement_; }

 private:
  Binding& check(int rc) {
    if (rc != SQLITE_OK) db_.fail("cannot bind a parameter");
    return *this;
  }
  const Database& db_;
  sqlite3_stmt* statement_;
};

std::string column_text(sqlite3_stmt* row, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row, column));
  return text ? std::string(text, sqlite3_column_bytes(row, column)) : std::string();
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

struct BinaryCache::Connection {
  explicit Connection(std::string path, WarningSink warn)
      : db(std::move(path)), warn(std::move(warn)) {}

  Database db;
  WarningSink warn;
  // One operation at a time: prepared statements and transactions belong to the whole
  // connection, so concurrent callers must not interleave their steps.
  std::mutex mutex;
  bool read_only = false;
  Statement select_binary;
  Statement touch_binary;
  Statement insert_binary;
  Statement delete_binary;
  Statement count_binaries;

  void warning(const std::string& message) const {
    if (warn) {
      warn(message);
    } else {
      std::cerr << "lla: warning: " << message << '\n';
    }
  }

  std::optional<std::string> open();
  void move_aside(const std::string& reason);
  void discard(const std::string& digest, const std::string& why);
  void touch(const std::string& digest, int64_t now);
};

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
  if (version != 0 && version != kSchemaVersion) return unknown_version(version);

  if (read_only) {
    if (version == 0) db.fail("the cache database is read-only and has no lla schema");
  } else {
    db.exec("PRAGMA journal_mode=WAL", "cannot enable write-ahead logging");
    db.exec("PRAGMA synchronous=NORMAL", "cannot set synchronous=NORMAL");
    if (version == 0) {
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
  count_binaries = db.prepare("SELECT count(*), coalesce(sum(size), 0) FROM binaries");
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

void BinaryCache::Connection::discard(const std::string& digest, const std::string& why) {
  std::string message = db.path() + ": binary " + digest + " " + why + "; discarded, to be rebuilt";
  try {
    WriteTransaction transaction(db);
    {
      Binding binding(db, delete_binary);
      binding.text(1, digest);
      if (binding.step() != SQLITE_DONE) db.fail("cannot delete a bad binary");
    }
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
    checksum = column_text(row, 1);
    record.description = column_text(row, 2);
    record.log = column_text(row, 3);
    last_used = sqlite3_column_int64(row, 4);
    arch = column_text(row, 5);
  }
  if (sha256_hex(as_bytes(record.image)) != checksum) {
    c.discard(digest, "(" + arch + ", " + record.description + ") does not match its checksum");
    return std::nullopt;
  }
  const int64_t now = unix_seconds();
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
        .integer(9, unix_seconds())
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
  Binding binding(c.db, c.count_binaries);
  if (binding.step() != SQLITE_ROW) c.db.fail("cannot count binaries");
  return {sqlite3_column_int64(binding.row(), 0), sqlite3_column_int64(binding.row(), 1)};
}

}  // namespace lla::cache
