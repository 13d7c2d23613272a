#pragma once
// The SQLite plumbing every table of the cache database shares: one connection whose failures
// name the file, write transactions that roll back unless committed, and statement bindings
// that reset themselves. Internal to cache/.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "binary_cache.h"

namespace lla::cache::sqlite {

constexpr int kBusyTimeoutMs = 10000;

inline int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
  Binding& real(int index, double value) {
    return check(sqlite3_bind_double(statement_, index, value));
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

inline std::string column_text(sqlite3_stmt* row, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row, column));
  return text ? std::string(text, sqlite3_column_bytes(row, column)) : std::string();
}

inline int64_t unix_milliseconds() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace lla::cache::sqlite
