#pragma once
// The cache database: compiled kernel images under the complete key of design.md ("Cache
// keys"), tuning rows per (problem bucket, device), and leases that make a compile or a tuning
// job run once across processes. Safe for many threads and processes at once; survives a
// process killed mid-write; never returns an image whose checksum does not match.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tuning_row.h"

namespace lla::cache {

// Everything that could change a compiled image's bytes. A field left out here would let the
// cache serve a binary built for something else.
struct BinaryKey {
  std::string generator_version;
  std::string source_hash;      // sha256_hex of the generated source
  std::string compile_options;  // the full NVRTC option string
  std::string nvrtc_version;    // e.g. "13.0"
  std::string arch;             // with suffix, e.g. "sm_90a"
};

// sha256 over an unambiguous encoding of every field (length-prefixed); the primary key.
std::string key_digest(const BinaryKey& k);

struct BinaryRecord {
  std::vector<uint8_t> image;
  std::string description;
  std::string log;
};

class CacheError : public std::runtime_error {
  using runtime_error::runtime_error;
};

class BinaryCache {
 public:
  using WarningSink = std::function<void(const std::string&)>;

  // Opens (creating the folder and file as needed) <directory>/lla-cache.sqlite3.
  // Throws CacheError naming the path and cause when the folder cannot be created or the db
  // cannot be opened. A file that is not an SQLite database or has an unknown schema version is
  // moved aside to <file>.corrupt-<timestamp> with a warning and a fresh one is created.
  explicit BinaryCache(const std::string& directory, WarningSink warn = {});
  ~BinaryCache();
  BinaryCache(const BinaryCache&) = delete;
  BinaryCache& operator=(const BinaryCache&) = delete;

  // nullopt on miss; a row whose checksum does not match is deleted, warned about, and
  // reported as a miss.
  std::optional<BinaryRecord> load(const BinaryKey& key);
  // Insert or replace, in one transaction. Throws CacheError when the write fails (disk full,
  // read-only file); the caller decides whether to warn and continue.
  void store(const BinaryKey& key, const BinaryRecord& record);

  const std::string& path() const;

  // Returns the stored record of `key`, else builds it once across processes: under the lease
  // "binary:<key digest>" it looks again (another process may have stored it meanwhile), then
  // calls `build` and stores the result. A process that finds the lease held waits, polling,
  // until the record appears or the lease expires (its holder died). `build`'s exceptions
  // propagate after the lease is released. A failed store is a warning: the record is returned.
  BinaryRecord load_or_build(const BinaryKey& key, const std::function<BinaryRecord()>& build,
                             int64_t lease_ms = kDefaultBuildLeaseMs);

  struct Stats {
    int64_t binaries;
    int64_t bytes;
    int64_t tuning_rows;
    int64_t leases;
  };
  Stats stats();

  // Metadata of every binary, most recently used first.
  struct BinaryInfo {
    std::string key_digest;
    std::string arch;
    std::string nvrtc_version;
    std::string description;
    int64_t size = 0;
    int64_t created_at = 0;
    int64_t last_used_at = 0;
  };
  std::vector<BinaryInfo> list_binaries();

  // Evicts least recently used binaries (ties by key digest) until their total size is at most
  // `max_bytes`. Tuning rows are never evicted: they are small and cost GPU time to remake.
  struct GcResult {
    int64_t removed = 0;
    int64_t removed_bytes = 0;
    int64_t kept = 0;
    int64_t kept_bytes = 0;
  };
  GcResult gc(int64_t max_bytes);

  // Checks the file's integrity and every binary's checksum, deleting the bad ones (a later
  // load would discard them anyway). `problems` names each bad binary and what was wrong.
  struct VerifyResult {
    int64_t checked = 0;
    std::vector<std::string> problems;
  };
  VerifyResult verify();

  // Inserts or replaces rows (by their key) in one transaction.
  void put_tuning_rows(const std::vector<TuningRow>& rows);
  // The rows of one (problem, device, lla version), ordered by config text.
  std::vector<TuningRow> tuning_rows(const std::string& problem, const std::string& device,
                                     const std::string& lla_version);
  // Every row, ordered by key.
  std::vector<TuningRow> all_tuning_rows();
  // Merges rows from elsewhere (lla cache import) by the rule of tuning_exchange.h, in one
  // transaction. Returns how many rows were added or replaced.
  struct MergeCounts {
    int64_t added = 0;
    int64_t replaced = 0;
    int64_t kept = 0;  // the row already here won
  };
  MergeCounts merge_tuning_rows(const std::vector<TuningRow>& rows);

  // Leases: a named job that at most one holder runs at a time across processes. A lease
  // expires `ttl_ms` after it was taken or renewed, so a holder killed mid-job blocks nobody
  // for longer. try_acquire takes a free or expired lease (or renews one `holder` already has)
  // and says whether `holder` now holds it; renew extends it and says whether `holder` still
  // held it; release frees it when `holder` holds it.
  bool try_acquire_lease(const std::string& name, const std::string& holder, int64_t ttl_ms);
  bool renew_lease(const std::string& name, const std::string& holder, int64_t ttl_ms);
  void release_lease(const std::string& name, const std::string& holder);

  // A holder name unique to this process and object: host, pid and a random suffix.
  static std::string unique_holder_name();

  // The schema this build reads and writes (PRAGMA user_version). Version 1 (binaries only)
  // is migrated in place by adding the tables of version 2.
  static constexpr int kSchemaVersion = 2;
  static constexpr int64_t kDefaultBuildLeaseMs = 120000;
  static constexpr int64_t kLeasePollMs = 50;
  static constexpr const char* kFileName = "lla-cache.sqlite3";

 private:
  struct Connection;
  std::unique_ptr<Connection> connection_;
};

}  // namespace lla::cache
