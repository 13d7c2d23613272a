// Log-linear Mamba-2 decode step on the CPU (spec/loglinear.md section 5): one token per
// sequence, every sequence at its own position, the Fenwick state [B, H, L, K, V] fp32
// updated in place. The same rule as the GPU step (templates/mamba2_decode.cuh): for the token
// at position t >= 1 with p = ctz(t),
//   S[p+1] <- a (S[0] + ... + S[p]),  S[1..p] <- 0,  S[l] <- a S[l] for the other live l,
//   S[0] <- k v^T,  o = sum_l lambda_l S[l]^T (scale q),  a = exp(g);
// position 0 clears levels 1..L-1 of the slot (a finished sequence's slot is reused as it is);
// a position outside [0, max_position] leaves the state untouched and writes NaN to o.
//
// One work item per (sequence, head). The state streams through once, a V tile of
// kValueTile columns at a time, with o's tile accumulated in registers.

namespace lla_cpu {

constexpr int kKeyDim = lla_config::kKeyDim;
constexpr int kValueDim = lla_config::kValueDim;
constexpr int kLevels = lla_config::kLevels;
constexpr int kValueTile = lla_config::kValueTile;
constexpr int kTileVectors = kValueTile / kVector;
constexpr long long kLevelElements = static_cast<long long>(kKeyDim) * kValueDim;
static_assert(kValueDim % kValueTile == 0 && kValueTile % kVector == 0,
              "the V tile divides V and is whole vectors");

struct DecodeScratch {
  alignas(64) float q[kKeyDim];  // scale * q
  alignas(64) float k[kKeyDim];
  alignas(64) float v[kValueDim];
  alignas(64) float lambda[kLevels];
};
static_assert(sizeof(DecodeScratch) == lla_config::kScratchBytes, "the plan's scratch size");

struct TileSum {
  vfloat acc[kTileVectors];
  void add(float w, const vfloat* x) {
#pragma unroll
    for (int u = 0; u < kTileVectors; ++u) acc[u] += w * x[u];
  }
};

// One V tile (columns [col, col + kValueTile)) of every level a step at t touches.
inline void step_tile(const DecodeScratch& s, float* state, long long t, float decay, int col,
                      TileSum& out) {
  const auto at = [&](int level, int row) { return state + level * kLevelElements + row * kValueDim + col; };
  vfloat x[kTileVectors];
  const vfloat zero = splat(0.0f);
  if (t == 0) {
    LLA_ROLLED for (int level = 1; level < kLevels; ++level)
      LLA_ROLLED for (int row = 0; row < kKeyDim; ++row)
#pragma unroll
        for (int u = 0; u < kTileVectors; ++u) store(at(level, row) + u * kVector, zero);
  } else {
    const int merge = __builtin_ctzll(static_cast<unsigned long long>(t)) + 1;  // p + 1
    const float weight = s.lambda[merge];
    LLA_ROLLED for (int row = 0; row < kKeyDim; ++row) {
#pragma unroll
      for (int u = 0; u < kTileVectors; ++u) x[u] = load(at(0, row) + u * kVector);
      LLA_ROLLED for (int level = 1; level < merge; ++level)
#pragma unroll
        for (int u = 0; u < kTileVectors; ++u) {
          x[u] += load(at(level, row) + u * kVector);
          store(at(level, row) + u * kVector, zero);
        }
#pragma unroll
      for (int u = 0; u < kTileVectors; ++u) {
        x[u] *= decay;
        store(at(merge, row) + u * kVector, x[u]);
      }
      out.add(weight * s.q[row], x);
    }
    LLA_ROLLED for (int level = merge + 1; level < kLevels; ++level) {
      if (((t >> (level - 1)) & 1) == 0) continue;
      LLA_ROLLED for (int row = 0; row < kKeyDim; ++row) {
#pragma unroll
        for (int u = 0; u < kTileVectors; ++u) {
          x[u] = decay * load(at(level, row) + u * kVector);
          store(at(level, row) + u * kVector, x[u]);
        }
        out.add(s.lambda[level] * s.q[row], x);
      }
    }
  }
  vfloat v[kTileVectors];
#pragma unroll
  for (int u = 0; u < kTileVectors; ++u) v[u] = load(&s.v[col + u * kVector]);
  float qk = 0.0f;
  LLA_ROLLED for (int row = 0; row < kKeyDim; ++row) {
    qk += s.q[row] * s.k[row];
#pragma unroll
    for (int u = 0; u < kTileVectors; ++u) store(at(0, row) + u * kVector, s.k[row] * v[u]);
  }
  out.add(s.lambda[0] * qk, v);
}

}  // namespace lla_cpu

extern "C" void lla_mamba2_decode_step(const void* params, long long item, void* scratch) {
  using namespace lla_cpu;
  const Mamba2DecodeParams& p = *static_cast<const Mamba2DecodeParams*>(params);
  DecodeScratch& s = *static_cast<DecodeScratch*>(scratch);
  const long long b = item / p.heads;
  const int h = static_cast<int>(item % p.heads);
  Element* o = static_cast<Element*>(p.o) + item * kValueDim;
  const long long t = p.positions[b];
  if (t < 0 || t > p.max_position) {
    const float nan = __builtin_nanf("");
    LLA_ROLLED for (int c = 0; c < kValueDim; ++c) store_element(o + c, nan);
    return;
  }
  const long long qk_row = (b * p.groups + h / (p.heads / p.groups)) * kKeyDim;
  const Element* q = static_cast<const Element*>(p.q) + qk_row;
  const Element* k = static_cast<const Element*>(p.k) + qk_row;
  const Element* v = static_cast<const Element*>(p.v) + item * kValueDim;
  const Element* lambda = static_cast<const Element*>(p.lambda) + item * kLevels;
  LLA_ROLLED for (int x = 0; x < kKeyDim; x += kVector) {
    store(&s.q[x], p.scale * load_elements(q + x));
    store(&s.k[x], load_elements(k + x));
  }
  LLA_ROLLED for (int x = 0; x < kValueDim; x += kVector) store(&s.v[x], load_elements(v + x));
  LLA_ROLLED for (int l = 0; l < kLevels; ++l) s.lambda[l] = to_float(lambda[l]);
  const float decay = exp(p.g[item]);
  float* state = p.state + item * kLevels * kLevelElements;
  LLA_ROLLED for (int col = 0; col < kValueDim; col += kValueTile) {
    TileSum out{};
    step_tile(s, state, t, decay, col, out);
#pragma unroll
    for (int u = 0; u < kTileVectors; ++u) store_elements(o + col + u * kVector, out.acc[u]);
  }
}

// After a step: every position the step accepted moves on by one.
extern "C" void lla_mamba2_decode_advance(const void* params, long long, void*) {
  const lla_cpu::Mamba2DecodeParams& p = *static_cast<const lla_cpu::Mamba2DecodeParams*>(params);
  LLA_ROLLED for (int b = 0; b < p.batch; ++b)
    if (p.positions[b] >= 0 && p.positions[b] <= p.max_position) ++p.positions[b];
}

extern "C" const unsigned long long lla_mamba2_decode_step_params_bytes =
    sizeof(lla_cpu::Mamba2DecodeParams);
extern "C" const unsigned long long lla_mamba2_decode_advance_params_bytes =
    sizeof(lla_cpu::Mamba2DecodeParams);
