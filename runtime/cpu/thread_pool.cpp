#include "cpu/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lla::runtime::cpu {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

ThreadPool::ThreadPool(int threads) {
  if (threads < 0)
    throw std::invalid_argument("threads=" + std::to_string(threads) + " is negative (0: all cores)");
  const int n = threads == 0 ? available_cores() : threads;
  scratch_.resize(n);
  failures_.resize(n);
  try {
    for (int w = 1; w < n; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    start_.notify_all();
    for (std::thread& t : threads_) t.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::work(int worker) {
  try {
    for (int64_t i = worker; i < items_; i += size()) (*item_)(i, scratch_[worker].data());
  } catch (...) {
    failures_[worker] = std::current_exception();
  }
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    work(worker);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--running_ == 0) done_.notify_one();
  }
}

void ThreadPool::run(int64_t items, size_t scratch_bytes, const Item& item) {
  std::lock_guard<std::mutex> one_run(run_mutex_);
  if (items <= 0) return;
  for (AlignedBuffer& scratch : scratch_)
    if (!scratch.data() || scratch.size() < scratch_bytes) scratch = AlignedBuffer(scratch_bytes);
  for (std::exception_ptr& f : failures_) f = nullptr;
  items_ = items;
  item_ = &item;
  const int helpers = static_cast<int>(std::min<int64_t>(items, size())) - 1;
  if (helpers > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = size() - 1;
    ++generation_;
  }
  if (helpers > 0) start_.notify_all();
  work(0);
  if (helpers > 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return running_ == 0; });
  }
  item_ = nullptr;
  for (const std::exception_ptr& f : failures_)
    if (f) std::rethrow_exception(f);
}

}  // namespace lla::runtime::cpu
