// The in-process kernel table: one build per key however many threads ask, builds of different
// keys in parallel, and a failed build retried by the next caller. No device needed: the
// modules are fake handles.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dispatch/kernel_table.h"

namespace lla::runtime::dispatch {
namespace {

using namespace std::chrono_literals;

// A module that counts how many of its kind are loaded.
std::atomic<int> g_loaded{0};
struct FakeModule : backend::Module {
  explicit FakeModule(uintptr_t handle) : handle(handle) { ++g_loaded; }
  ~FakeModule() override { --g_loaded; }
  uintptr_t handle;
};

std::unique_ptr<LoadedModule> fake_module(uintptr_t handle) {
  auto m = std::make_unique<LoadedModule>();
  m->module = std::make_unique<FakeModule>(handle);
  return m;
}

uintptr_t handle_of(const LoadedModule& m) { return static_cast<const FakeModule&>(*m.module).handle; }

TEST(KernelTable, BuildsOnceThenServesFromMemory) {
  KernelTable table;
  int builds = 0;
  auto build = [&] { ++builds; return fake_module(0x10); };
  bool was_loaded = true;
  const LoadedModule& first = table.find_or_build("a", build, &was_loaded);
  EXPECT_FALSE(was_loaded);
  const LoadedModule& second = table.find_or_build("a", build, &was_loaded);
  EXPECT_TRUE(was_loaded);
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(handle_of(first), 0x10u);
}

TEST(KernelTable, ModulesUnloadWithTheTable) {
  const int before = g_loaded.load();
  {
    KernelTable table;
    bool was_loaded = true;
    table.find_or_build("a", [] { return fake_module(0x1); }, &was_loaded);
    table.find_or_build("b", [] { return fake_module(0x2); }, &was_loaded);
    EXPECT_EQ(g_loaded.load(), before + 2);
  }
  EXPECT_EQ(g_loaded.load(), before);
}

TEST(KernelTable, ConcurrentCallersOfOneKeyShareOneBuild) {
  KernelTable table;
  std::atomic<int> builds{0};
  auto build = [&] {
    ++builds;
    std::this_thread::sleep_for(50ms);  // long enough for every thread to arrive meanwhile
    return fake_module(0x20);
  };
  constexpr int kThreads = 8;
  std::vector<const LoadedModule*> seen(kThreads);
  std::atomic<int> fresh_builds{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      bool was_loaded = true;
      seen[i] = &table.find_or_build("same", build, &was_loaded);
      if (!was_loaded) ++fresh_builds;
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(builds.load(), 1);
  EXPECT_EQ(fresh_builds.load(), 1);
  for (const LoadedModule* m : seen) EXPECT_EQ(m, seen[0]);
}

TEST(KernelTable, DifferentKeysBuildInParallel) {
  KernelTable table;
  std::mutex mutex;
  std::condition_variable changed;
  int started = 0;
  // Each build waits until both have started: this finishes only if neither build holds a
  // lock the other needs.
  auto build = [&](uintptr_t handle) {
    std::unique_lock<std::mutex> lock(mutex);
    ++started;
    changed.notify_all();
    const bool both = changed.wait_for(lock, 5s, [&] { return started == 2; });
    if (!both) throw std::runtime_error("the other build never started");
    return fake_module(handle);
  };
  bool a_loaded = true, b_loaded = true;
  std::thread a([&] { table.find_or_build("a", [&] { return build(0x1); }, &a_loaded); });
  std::thread b([&] { table.find_or_build("b", [&] { return build(0x2); }, &b_loaded); });
  a.join();
  b.join();
  EXPECT_FALSE(a_loaded);
  EXPECT_FALSE(b_loaded);
  EXPECT_EQ(table.size(), 2u);
}

TEST(KernelTable, AFailedBuildIsRetried) {
  KernelTable table;
  bool was_loaded = true;
  EXPECT_THROW(table.find_or_build(
                   "k", []() -> std::unique_ptr<LoadedModule> { throw std::runtime_error("nvrtc"); },
                   &was_loaded),
               std::runtime_error);
  EXPECT_EQ(table.size(), 0u);
  const LoadedModule& m = table.find_or_build("k", [] { return fake_module(0x30); }, &was_loaded);
  EXPECT_FALSE(was_loaded);
  EXPECT_EQ(handle_of(m), 0x30u);
}

TEST(KernelTable, SourceNames) {
  EXPECT_STREQ(kernel_source_name(KernelSource::memory), "memory");
  EXPECT_STREQ(kernel_source_name(KernelSource::cache), "cache");
  EXPECT_STREQ(kernel_source_name(KernelSource::compile), "compile");
}

}  // namespace
}  // namespace lla::runtime::dispatch
