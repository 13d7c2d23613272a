// The machine's fp32 FMA peak, as perf.md measures it: every worker runs kChains independent
// chains of vector fused multiply-adds, enough to cover the FMA latency on every pipe, with
// nothing else in the loop but the counter. FLOPs per item: iterations * kChains * kVector * 2.

namespace lla_cpu {
constexpr int kChains = lla_config::kChains;
}

extern "C" void lla_fma_peak(const void* params, long long item, void*) {
  using namespace lla_cpu;
  const FmaPeakParams& p = *static_cast<const FmaPeakParams*>(params);
  vfloat acc[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) acc[c] = splat(1.0f + 0.001f * c + 0.0001f * static_cast<float>(item));
  const vfloat m = splat(0.999999f), a = splat(1e-7f);
  LLA_ROLLED for (long long i = 0; i < p.iterations; ++i)
#pragma unroll
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * m + a;
  vfloat sum = acc[0];
#pragma unroll
  for (int c = 1; c < kChains; ++c) sum += acc[c];
  float lanes[kVector];
  store(lanes, sum);
  float total = 0.0f;
  for (int e = 0; e < kVector; ++e) total += lanes[e];
  p.sink[item] = total;
}

extern "C" const unsigned long long lla_fma_peak_params_bytes = sizeof(lla_cpu::FmaPeakParams);
