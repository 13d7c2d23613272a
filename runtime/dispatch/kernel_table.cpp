#include "dispatch/kernel_table.h"

namespace lla::runtime::dispatch {

const char* kernel_source_name(KernelSource s) {
  switch (s) {
    case KernelSource::memory: return "memory";
    case KernelSource::cache: return "cache";
    case KernelSource::compile: return "compile";
  }
  return "?";
}

const LoadedModule& KernelTable::find_or_build(const std::string& key, const Builder& build,
                                               bool* was_loaded) {
  Entry* entry = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<Entry>& slot = entries_[key];
    if (!slot) slot = std::make_unique<Entry>();
    entry = slot.get();
  }
  if (const LoadedModule* ready = entry->ready.load(std::memory_order_acquire)) {
    *was_loaded = true;
    return *ready;
  }
  std::lock_guard<std::mutex> build_lock(entry->build_mutex);
  // Another thread may have built it while this one waited for the build lock.
  if (const LoadedModule* ready = entry->ready.load(std::memory_order_acquire)) {
    *was_loaded = true;
    return *ready;
  }
  entry->module = build();
  entry->ready.store(entry->module.get(), std::memory_order_release);
  *was_loaded = false;
  return *entry->module;
}

size_t KernelTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t built = 0;
  for (const auto& [key, entry] : entries_) built += entry->ready.load(std::memory_order_acquire) != nullptr;
  return built;
}

}  // namespace lla::runtime::dispatch
