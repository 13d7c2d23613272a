// Leases: jobs that run once across processes, with expiry so a killed holder blocks no one.
#include <unistd.h>

#include <mutex>
#include <random>
#include <thread>

#include "cache_connection.h"

namespace lla::cache {

using sqlite::Binding;
using sqlite::WriteTransaction;

namespace {

// Frees a lease when the job under it ends, however it ends.
class HeldLease {
 public:
  HeldLease(BinaryCache& cache, std::string name, std::string holder)
      : cache_(cache), name_(std::move(name)), holder_(std::move(holder)) {}
  ~HeldLease() {
    try {
      cache_.release_lease(name_, holder_);
    } catch (const CacheError&) {
      // It expires by itself; releasing early only saves the others some waiting.
    }
  }
  HeldLease(const HeldLease&) = delete;
  HeldLease& operator=(const HeldLease&) = delete;

 private:
  BinaryCache& cache_;
  std::string name_;
  std::string holder_;
};

}  // namespace

bool BinaryCache::try_acquire_lease(const std::string& name, const std::string& holder,
                                    int64_t ttl_ms) {
  if (ttl_ms <= 0) throw CacheError("lease " + name + ": the time to live must be positive");
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  const int64_t now = sqlite::unix_milliseconds();
  WriteTransaction transaction(c.db);
  const sqlite::Statement take = c.db.prepare(
      "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
      "WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder");
  Binding binding(c.db, take);
  binding.text(1, name).text(2, holder).integer(3, now + ttl_ms).integer(4, now);
  if (binding.step() != SQLITE_DONE) c.db.fail("cannot take lease " + name);
  const bool taken = sqlite3_changes(c.db.get()) == 1;
  transaction.commit();
  return taken;
}

bool BinaryCache::renew_lease(const std::string& name, const std::string& holder, int64_t ttl_ms) {
  if (ttl_ms <= 0) throw CacheError("lease " + name + ": the time to live must be positive");
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  WriteTransaction transaction(c.db);
  const sqlite::Statement renew =
      c.db.prepare("UPDATE leases SET expires_at = ?3 WHERE name = ?1 AND holder = ?2");
  Binding binding(c.db, renew);
  binding.text(1, name).text(2, holder).integer(3, sqlite::unix_milliseconds() + ttl_ms);
  if (binding.step() != SQLITE_DONE) c.db.fail("cannot renew lease " + name);
  const bool renewed = sqlite3_changes(c.db.get()) == 1;
  transaction.commit();
  return renewed;
}

void BinaryCache::release_lease(const std::string& name, const std::string& holder) {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  WriteTransaction transaction(c.db);
  const sqlite::Statement release =
      c.db.prepare("DELETE FROM leases WHERE name = ?1 AND holder = ?2");
  Binding binding(c.db, release);
  binding.text(1, name).text(2, holder);
  if (binding.step() != SQLITE_DONE) c.db.fail("cannot release lease " + name);
  transaction.commit();
}

std::string BinaryCache::unique_holder_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device entropy;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(entropy());
}

BinaryRecord BinaryCache::load_or_build(const BinaryKey& key,
                                        const std::function<BinaryRecord()>& build,
                                        int64_t lease_ms) {
  // A read-only cache can hold no lease: this process builds for itself.
  if (connection_->read_only) {
    if (auto hit = load(key)) return std::move(*hit);
    return build();
  }
  const std::string name = "binary:" + key_digest(key);
  const std::string holder = unique_holder_name();
  for (;;) {
    if (auto hit = load(key)) return std::move(*hit);
    if (!try_acquire_lease(name, holder, lease_ms)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kLeasePollMs));
      continue;
    }
    const HeldLease held(*this, name, holder);
    // Stored by the previous holder between our miss and our lease.
    if (auto hit = load(key)) return std::move(*hit);
    BinaryRecord built = build();
    try {
      store(key, built);
    } catch (const CacheError& e) {
      connection_->warning(std::string("could not store a built binary: ") + e.what());
    }
    return built;
  }
}

}  // namespace lla::cache
