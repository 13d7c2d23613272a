#pragma once
// The binary store: compiled kernel images in SQLite under the complete key of design.md
// ("Cache keys"). Safe for many threads and processes at once; survives a process killed
// mid-write; never returns an image whose checksum does not match.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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

  struct Stats {
    int64_t binaries;
    int64_t bytes;
  };
  Stats stats();

  // The schema this build reads and writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 1;
  static constexpr const char* kFileName = "lla-cache.sqlite3";

 private:
  struct Connection;
  std::unique_ptr<Connection> connection_;
};

}  // namespace lla::cache
