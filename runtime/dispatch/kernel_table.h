#pragma once
// The in-process table of loaded modules of one context, keyed by describe(spec). A hit costs
// a mutex and a map lookup: no generation, SQLite or compiler work. A miss builds the module
// outside the table lock, at most one thread per key; other keys proceed in parallel. The
// modules are unloaded with the table.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"

namespace lla::runtime::dispatch {

// Where a call found its module: already loaded, in the binary cache, or compiled now.
enum class KernelSource { memory, cache, compile };
const char* kernel_source_name(KernelSource s);  // "memory", "cache", "compile"

struct LoadedModule {
  std::unique_ptr<backend::Module> module;
  KernelSource loaded_from = KernelSource::compile;  // cache or compile
  double compile_ms = 0;  // the toolchain's time, when compiled in this process
  double build_ms = 0;    // generation, cache lookup, compilation and loading together
};

class KernelTable {
 public:
  using Builder = std::function<std::unique_ptr<LoadedModule>()>;

  // The module under `key`, built with `build` when absent. `*was_loaded` tells whether it
  // was already in the table. A build that throws leaves the key absent, so a later call retries.
  const LoadedModule& find_or_build(const std::string& key, const Builder& build, bool* was_loaded);

  // How many modules the table holds.
  size_t size() const;

 private:
  struct Entry {
    std::mutex build_mutex;                            // held while building this key
    std::atomic<const LoadedModule*> ready{nullptr};   // set once built
    std::unique_ptr<LoadedModule> module;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;  // entries are never erased
};

}  // namespace lla::runtime::dispatch
