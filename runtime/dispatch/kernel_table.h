#pragma once
// The in-process table of loaded modules of one context, keyed by describe(spec). A hit costs
// a mutex and a map lookup: no generation, SQLite or NVRTC work. A miss builds the module
// outside the table lock, at most one thread per key; other keys proceed in parallel.

#include <cuda.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace lla::runtime::dispatch {

// Where a call found its module: already loaded, in the binary cache, or compiled now.
enum class KernelSource { memory, cache, compile };
const char* kernel_source_name(KernelSource s);  // "memory", "cache", "compile"

struct LoadedFunction {
  CUfunction function = nullptr;
  int max_dynamic_shared_bytes = 0;  // the most a launch of it may ask for
};

struct LoadedModule {
  CUmodule module = nullptr;
  std::unordered_map<std::string, LoadedFunction> functions;  // by entry point name
  KernelSource loaded_from = KernelSource::compile;           // cache or compile
  double compile_ms = 0;  // NVRTC time, when compiled in this process
  double build_ms = 0;    // generation, cache lookup, compilation and loading together
};

class KernelTable {
 public:
  using Builder = std::function<std::unique_ptr<LoadedModule>()>;

  // The module under `key`, built with `build` when absent. `*was_loaded` tells whether it
  // was already in the table. A build that throws leaves the key absent, so a later call retries.
  const LoadedModule& find_or_build(const std::string& key, const Builder& build, bool* was_loaded);

  // Every module built so far (for unloading when the context is destroyed).
  std::vector<CUmodule> modules() const;

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
