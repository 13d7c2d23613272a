// lla_cpu_bench: the CPU backend's benchmark (perf.md's CPU section), until `lla bench
// --backend cpu` takes it over. Measures on this machine, with lla's own JIT:
//   - the fp32 FMA peak: independent FMA chains on every worker (templates/cpu/fma_peak.h);
//   - the copy bandwidth: every worker memcpy's its share of a 512 MiB buffer (bytes read plus
//     bytes written);
//   (both the best of many short runs: on a shared machine the best run is the machine's own)
//   - the log-linear Mamba-2 forward, f32, T = 4096, B = 1, H = 8, K = V = 128, chunk 64,
//     against perf.md's floor work (intra 2C(K+V), one state write 2KV, 2KV per occupied level
//     of each token's chunk), checked against the float64 reference first;
//   - the decode step, f32, batch 16 at positions 4096..4111, H = 8, K = V = 128, against the
//     state bytes it must move (read and written), checked against the reference first, each
//     step on the next of four copies of the state (none left in the caches).
// Timing: a monotonic clock, warm-ups, then the median of the repetitions with min and max; the
// kernels' figures against the peak and the bandwidth are given for the median and the best run.
//
// Usage: lla_cpu_bench [--threads N] [--reps N] [--row-tile R --col-vectors V]
//                      [--value-tile N] [--split N] [--no-check]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "clang/clang_compiler.h"
#include "clang/toolchain.h"
#include "cpu/cpu_launch_plan.h"
#include "cpu/cpu_source_generator.h"
#include "cpu/host_memory.h"
#include "cpu/kernel_params.h"
#include "cpu/object_loader.h"
#include "cpu/plan_runner.h"
#include "cpu/thread_pool.h"
#include "kernels/mamba2_decode_plan.h"
#include "levels/fenwick_levels.h"
#include "reference/decode_reference.h"
#include "reference/reference.h"

namespace {

namespace ccpu = lla::compiler::cpu;
namespace rcpu = lla::runtime::cpu;
using lla::compiler::Buffer;
using Clock = std::chrono::steady_clock;

struct Options {
  int threads = 0;
  int reps = 20;
  int row_tile = 0, col_vectors = 0, value_tile = 0, split = 0;
  bool check = true;
};

// Wall-clock times, and the process's CPU time per worker over the same run: on a machine
// shared with other jobs the wall clock counts the time they take the cores, the CPU time does
// not (workers block when idle, so they add nothing while waiting).
struct Timing {
  double median_ms, min_ms, max_ms;
  double cpu_median_ms;  // process CPU time / workers, median
};

double process_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

Timing time_it(int warmups, int reps, int workers, const std::function<void()>& body) {
  for (int i = 0; i < warmups; ++i) body();
  std::vector<double> ms, cpu_ms;
  for (int i = 0; i < reps; ++i) {
    const double cpu0 = process_cpu_ms();
    const auto start = Clock::now();
    body();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    cpu_ms.push_back((process_cpu_ms() - cpu0) / workers);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu_ms.begin(), cpu_ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back(), cpu_ms[cpu_ms.size() / 2]};
}

template <typename T>
rcpu::AlignedBuffer host_copy(const std::vector<T>& values) {
  rcpu::AlignedBuffer m(values.size() * sizeof(T));
  std::memcpy(m.data(), values.data(), values.size() * sizeof(T));
  return m;
}

std::vector<float> floats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// The call's inputs as f32 host tensors, bound with o by their plan names.
struct Tensors {
  rcpu::AlignedBuffer q, k, v, g, lambda, o;
  rcpu::BufferTable table;
  explicit Tensors(const lla::reference::Inputs& in)
      : q(host_copy(floats(in.q))), k(host_copy(floats(in.k))), v(host_copy(floats(in.v))),
        g(host_copy(floats(in.g))), lambda(host_copy(floats(in.lambda))), o(in.v.size() * sizeof(float)) {
    table.set(Buffer::q, q.data());
    table.set(Buffer::k, k.data());
    table.set(Buffer::v, v.data());
    table.set(Buffer::g, g.data());
    table.set(Buffer::lambda, lambda.data());
    table.set(Buffer::o, o.data());
  }
  std::vector<double> output() const {
    const auto* f = reinterpret_cast<const float*>(o.data());
    return std::vector<double>(f, f + o.size() / sizeof(float));
  }
};

class Jit {
 public:
  rcpu::CpuJit::Module* load(const lla::compiler::GeneratedSource& source, double* compile_ms) {
    const auto code = ccpu::compile(source, ccpu::host_target());
    if (!code) {
      std::fprintf(stderr, "%s\n%s\n", code.error().message.c_str(), code.error().log.c_str());
      std::exit(1);
    }
    if (compile_ms) *compile_ms = code->compile_ms();
    return jit_.load(source.name, code->object);
  }
  std::function<rcpu::ModuleEntry(const std::string&)> entries(rcpu::CpuJit::Module* m) {
    return [this, m](const std::string& e) { return rcpu::module_entry(jit_, m, e); };
  }
  rcpu::CpuJit& jit() { return jit_; }

 private:
  rcpu::CpuJit jit_;
};

// A machine figure by the wall clock's best run and by CPU time.
struct Figure {
  double best;
  double by_cpu_time;
};

Figure fma_peak_gflops(Jit& jit, rcpu::ThreadPool& pool, int vector_floats) {
  double flops_per_iteration = 0;
  rcpu::CpuJit::Module* m = jit.load(ccpu::generate_fma_peak(vector_floats, &flops_per_iteration), nullptr);
  const auto peak = jit.jit().entry_point(m, "lla_fma_peak");
  std::vector<float> sink(pool.size());
  // Short runs, many of them: on a shared machine the best one is the machine's.
  lla_cpu::FmaPeakParams params{10'000'000, sink.data()};
  const Timing t = time_it(2, 30, pool.size(), [&] {
    pool.run(pool.size(), 0, [&](int64_t item, void* scratch) { peak(&params, item, scratch); });
  });
  const double flops = flops_per_iteration * params.iterations * pool.size();
  std::printf("fma peak: %.1f GFLOP/s, best run (%d workers, %.1f ms median, %.1f-%.1f; by CPU time %.1f GFLOP/s)\n",
              flops / t.min_ms / 1e6, pool.size(), t.median_ms, t.min_ms, t.max_ms, flops / t.cpu_median_ms / 1e6);
  return {flops / t.min_ms / 1e6, flops / t.cpu_median_ms / 1e6};
}

Figure copy_gbps(rcpu::ThreadPool& pool) {
  const size_t bytes = size_t{512} << 20;
  rcpu::AlignedBuffer from(bytes), to(bytes);
  std::memset(from.data(), 1, bytes);
  std::memset(to.data(), 2, bytes);
  const size_t share = bytes / pool.size() / 64 * 64;
  const Timing t = time_it(1, 10, pool.size(), [&] {
    pool.run(pool.size(), 0, [&](int64_t item, void*) {
      std::memcpy(to.data() + item * share, from.data() + item * share, share);
    });
  });
  const double bytes_moved = 2.0 * share * pool.size();
  std::printf("copy bandwidth: %.1f GB/s read + write, best run (%.1f ms median for 2 x 512 MiB, %.1f-%.1f; "
              "by CPU time %.1f GB/s)\n", bytes_moved / t.min_ms / 1e6, t.median_ms, t.min_ms, t.max_ms,
              bytes_moved / t.cpu_median_ms / 1e6);
  return {bytes_moved / t.min_ms / 1e6, bytes_moved / t.cpu_median_ms / 1e6};
}

void forward(Jit& jit, rcpu::ThreadPool& pool, const Options& o, const Figure& peak) {
  const int T = 4096, H = 8, K = 128, V = 128, C = 64, L = lla::levels::num_levels(T);
  ccpu::CpuKernelSpec spec = ccpu::make_spec(ccpu::Family::mamba2_forward, lla::compiler::Dtype::f32,
                                             K, V, L, C, ccpu::vector_floats(ccpu::host_target()));
  if (o.row_tile) spec.tile.row_tile = o.row_tile;
  if (o.col_vectors) spec.tile.col_vectors = o.col_vectors;
  spec.tile.split = o.split;
  double compile_ms = 0;
  rcpu::CpuJit::Module* m = jit.load(ccpu::generate(spec), &compile_ms);

  lla::reference::Problem p = lla::reference::mamba2_problem(1, T, H, H, K, V);
  p.levels = L;
  const lla::reference::Inputs in = lla::reference::random_inputs(p, 1);
  Tensors t(in);
  lla::compiler::ProblemShape shape;
  shape.seq_len = T;
  shape.heads = H;
  shape.groups = H;
  const lla::compiler::LaunchPlan plan = ccpu::plan_forward(spec, shape, pool.size());
  rcpu::AlignedBuffer workspace(plan.workspace_bytes);
  const auto run = [&] { rcpu::run_plan(plan, jit.entries(m), t.table.binding(), workspace.data(), pool); };
  run();
  if (o.check) {
    const lla::reference::Result want = lla::reference::forward_chunkwise(p, in, C);
    const double err = lla::reference::relative_frobenius_error(t.output(), want.o);
    std::printf("forward check against float64: relative error %.2e (%s)\n", err, err < 1e-4 ? "ok" : "FAILED");
    if (err >= 1e-4) std::exit(1);
  }
  double floor_flops = 0;
  for (int t = 0; t < T; ++t)
    floor_flops += 2.0 * C * (K + V) + 2.0 * K * V + 2.0 * K * V * __builtin_popcount(static_cast<unsigned>(t / C));
  floor_flops *= H;
  const Timing time = time_it(2, o.reps, pool.size(), run);
  const double gflops = floor_flops / time.median_ms / 1e6, best = floor_flops / time.min_ms / 1e6;
  std::printf("forward f32 T=%d B=1 H=%d K=%d V=%d C=%d (%s, compile %.0f ms): %.2f ms median (%.2f-%.2f), "
              "%.1f GFLOP/s of floor work (%.2f GFLOP) = %.0f%% of the FMA peak (best run: %.1f GFLOP/s, %.0f%%)\n",
              T, H, K, V, C, ccpu::describe(spec).c_str(), compile_ms, time.median_ms, time.min_ms,
              time.max_ms, gflops, floor_flops / 1e9, 100 * gflops / peak.best, best, 100 * best / peak.best);
  const double by_cpu = floor_flops / time.cpu_median_ms / 1e6;
  std::printf("forward by CPU time: %.2f ms a worker, %.1f GFLOP/s = %.0f%% of the FMA peak by CPU time\n",
              time.cpu_median_ms, by_cpu, 100 * by_cpu / peak.by_cpu_time);
}

void decode(Jit& jit, rcpu::ThreadPool& pool, const Options& o, const Figure& bandwidth) {
  const int B = 16, H = 8, K = 128, V = 128, first = 4096;
  const int L = lla::levels::num_levels(first + B);
  ccpu::CpuKernelSpec spec = ccpu::make_spec(ccpu::Family::mamba2_decode, lla::compiler::Dtype::f32,
                                             K, V, L, 64, ccpu::vector_floats(ccpu::host_target()));
  if (o.value_tile) spec.tile.value_tile = o.value_tile;
  double compile_ms = 0;
  rcpu::CpuJit::Module* m = jit.load(ccpu::generate(spec), &compile_ms);

  lla::reference::Problem p = lla::reference::mamba2_problem(B, 1, H, H, K, V);
  p.levels = L;
  std::vector<int64_t> positions;
  for (int b = 0; b < B; ++b) positions.push_back(first + b);
  const lla::reference::Inputs in = lla::reference::random_inputs(p, 2);
  std::vector<double> state = lla::reference::random_state(p, positions, 0.1, 3);
  Tensors t(in);
  // Steps rotate over copies of the state, 4 x 117 MB: a step finds none of the levels it moves
  // in the caches the previous steps filled (perf.md: inputs rotated over more than twice the
  // last cache level).
  std::vector<rcpu::AlignedBuffer> states;
  for (int copy = 0; copy < 4; ++copy) states.push_back(host_copy(floats(state)));
  size_t next_state = 0;
  rcpu::AlignedBuffer pos = host_copy(std::vector<long long>(positions.begin(), positions.end()));
  t.table.set(Buffer::state, states[0].data());
  t.table.set(Buffer::positions, pos.data());
  lla::compiler::ProblemShape shape;
  shape.batch = B;
  shape.heads = H;
  shape.groups = H;
  shape.max_position = first + B;
  const lla::compiler::LaunchPlan plan = ccpu::plan_decode(spec, shape);
  const auto run = [&] {
    t.table.set(Buffer::state, states[next_state++ % states.size()].data());
    rcpu::run_plan(plan, jit.entries(m), t.table.binding(), nullptr, pool);
  };
  run();
  if (o.check) {
    const std::vector<double> want = lla::reference::decode_step(p, in, positions, state);
    const double err = lla::reference::relative_frobenius_error(t.output(), want);
    std::printf("decode check against float64: relative error %.2e (%s)\n", err, err < 1e-5 ? "ok" : "FAILED");
    if (err >= 1e-5) std::exit(1);
  }
  double bytes = 0;
  for (int64_t t : positions)
    bytes += double(lla::compiler::mamba2_decode::level_blocks_moved(t, L)) * K * V * 4 * H;
  const Timing time = time_it(3, o.reps, pool.size(), run);
  const double gbps = bytes / time.median_ms / 1e6, best = bytes / time.min_ms / 1e6;
  std::printf("decode f32 B=%d H=%d K=%d V=%d L=%d positions %d..%d (%s, compile %.0f ms): %.3f ms median "
              "(%.3f-%.3f), %.1f GB/s of state moved (%.1f MB) = %.0f%% of the copy bandwidth (best run: "
              "%.1f GB/s, %.0f%%)\n",
              B, H, K, V, L, first, first + B - 1, ccpu::describe(spec).c_str(), compile_ms, time.median_ms,
              time.min_ms, time.max_ms, gbps, bytes / 1e6, 100 * gbps / bandwidth.best, best,
              100 * best / bandwidth.best);
  const double by_cpu = bytes / time.cpu_median_ms / 1e6;
  std::printf("decode by CPU time: %.3f ms a worker, %.1f GB/s = %.0f%% of the copy bandwidth by CPU time\n",
              time.cpu_median_ms, by_cpu, 100 * by_cpu / bandwidth.by_cpu_time);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--threads") o.threads = next();
    else if (a == "--reps") o.reps = std::max(1, next());
    else if (a == "--row-tile") o.row_tile = next();
    else if (a == "--col-vectors") o.col_vectors = next();
    else if (a == "--value-tile") o.value_tile = next();
    else if (a == "--split") o.split = next();
    else if (a == "--no-check") o.check = false;
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--reps N] [--row-tile R --col-vectors V] [--value-tile N] "
                           "[--split N] [--no-check]\n", argv[0]);
      return 2;
    }
  }
  const ccpu::CpuTarget& target = ccpu::host_target();
  std::string load;
  std::getline(std::ifstream("/proc/loadavg"), load);
  rcpu::ThreadPool pool(o.threads);
  std::printf("machine: %s, cpu %s, %d floats a vector, %d workers, LLVM %s, load average %s\n",
              target.triple.c_str(), target.cpu.c_str(), ccpu::vector_floats(target), pool.size(),
              ccpu::llvm_version().c_str(), load.c_str());
  Jit jit;
  const Figure peak = fma_peak_gflops(jit, pool, ccpu::vector_floats(target));
  const Figure bandwidth = copy_gbps(pool);
  forward(jit, pool, o, peak);
  decode(jit, pool, o, bandwidth);
  return 0;
}
