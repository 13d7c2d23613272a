#pragma once
// The CPU backend's workers: a persistent pool that runs a grid of independent work items, the
// CPU's kernel launch. Owned by whoever creates it (the lla context); no OpenMP.
//
// Work assignment is fixed: worker w runs items w, w + N, w + 2N, ... in that order (N
// workers; worker 0 is the calling thread), so a run is reproducible and its timing too. Each
// worker owns scratch memory (64-byte aligned) that grows to the largest size a run asks for
// and is kept between runs.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cpu/host_memory.h"

namespace lla::runtime::cpu {

// Cores this process may run on (its affinity mask), at least 1.
int available_cores();

class ThreadPool {
 public:
  // threads: workers including the caller; 0 means available_cores(). Throws
  // std::invalid_argument for a negative count, std::system_error when a thread cannot start.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(scratch_.size()); }

  using Item = std::function<void(int64_t item, void* scratch)>;

  // Runs item(i, scratch of the worker) for every i in [0, items) and returns when all are
  // done. One run at a time: a concurrent call waits for the running one. An exception thrown
  // by an item is rethrown here after every worker stopped (the first one, by worker order);
  // the other items of that worker are skipped. Throws std::bad_alloc when scratch cannot grow.
  void run(int64_t items, size_t scratch_bytes, const Item& item);

 private:
  void work(int worker);
  void worker_loop(int worker);

  std::vector<AlignedBuffer> scratch_;
  std::vector<std::exception_ptr> failures_;
  std::vector<std::thread> threads_;

  std::mutex run_mutex_;  // one run at a time
  std::mutex mutex_;      // guards the fields below
  std::condition_variable start_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  int running_ = 0;
  bool stopping_ = false;
  int64_t items_ = 0;
  const Item* item_ = nullptr;
};

}  // namespace lla::runtime::cpu
