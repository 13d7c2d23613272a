#pragma once
// The state behind a BinaryCache, shared by the files that implement its parts (binaries,
// tuning rows, leases). Internal to cache/.

#include <iostream>
#include <mutex>
#include <optional>
#include <string>

#include "binary_cache.h"
#include "sqlite_database.h"

namespace lla::cache {

struct BinaryCache::Connection {
  explicit Connection(std::string path, WarningSink warn)
      : db(std::move(path)), warn(std::move(warn)) {}

  sqlite::Database db;
  WarningSink warn;
  // One operation at a time: prepared statements and transactions belong to the whole
  // connection, so concurrent callers must not interleave their steps.
  std::mutex mutex;
  bool read_only = false;
  sqlite::Statement select_binary;
  sqlite::Statement touch_binary;
  sqlite::Statement insert_binary;
  sqlite::Statement delete_binary;

  void warning(const std::string& message) const {
    if (warn) {
      warn(message);
    } else {
      std::cerr << "lla: warning: " << message << '\n';
    }
  }

  std::optional<std::string> open();
  void move_aside(const std::string& reason);
  void delete_binary_row(const std::string& digest);
  void discard(const std::string& digest, const std::string& why);
  void touch(const std::string& digest, int64_t now);
};

}  // namespace lla::cache
