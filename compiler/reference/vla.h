#pragma once
// The float64 reference of Variational Linear Attention (spec/vla.md): the oracle of the VLA
// kernels. Plain, readable code; never a fast path.
//
// Per (batch, head), with d the head dim, the state is A (d x d, symmetric positive definite:
// the inverse of the penalty matrix), S (d x d, row = value dim: the memory) and z (d: the
// running sum of keys). For each token, in this order (spec 3.2, the "VLAv3" recurrence):
//
//   1. u~ = u / sqrt(d); w = A u~; delta = max(1 + u~.w, eps_stab); A -= w w^T / delta
//   2. A += eps_per I when (position + 1) mod period == 0 (position: the token's absolute index)
//   3. k^ = k / max(|k|, 1e-12); alpha = A k^; a^ = alpha / max(|alpha|, 1e-12)
//   4. e = v - S k^; S += e a^^T
//   5. z += k; o = S q / max(z.q, eps_den)
//
// q and k are the positive features ELU(x) + 1 and u the unit write-penalty direction of its
// head (vla_features.h makes them from the layer's projections); the functions here take them
// as given and do not require u to be unit, so every input has a gradient of its own.
//
// Layouts are time-first: q, k, u, v, o [B,T,H,d]; a state's A and S [B,H,d,d], z [B,H,d].
//
//   vla::Problem p;  // batch, seq_len, heads, head_dim, hyper
//   vla::Result r = vla::forward_chunkwise(p, inputs, 64);  // from A = I / lambda0
//   vla::Result next = vla::forward_recurrent(p_next, more, &r.final_state);  // continues

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lla::reference::vla {

// The recurrence's constants (spec 3.3). The defaults are the repository's latest ("fixed")
// notebook 07; notebook 05 and src/models/attention/vla_v3.py use lambda0 = 10, eps_den = 1e-6.
struct Hyper {
  double lambda0 = 0.1;    // A starts at I / lambda0; > 0
  int period = 20;         // the nudge comes after every period-th token; >= 1
  double eps_per = 1e-3;   // the nudge's size; >= 0 (0: no nudge)
  double eps_stab = 1e-4;  // the lower clamp of delta; > 0
  double eps_den = 1e-4;   // the lower clamp of the read-out's denominator z.q; > 0
};

struct Problem {
  int batch = 1;
  int seq_len = 1;  // T: tokens in this call
  int heads = 1;
  int head_dim = 1;  // d: key and value dim of a head
  Hyper hyper;
};

struct Inputs {
  std::vector<double> q, k;  // [B,T,H,d]: positive features (ELU + 1)
  std::vector<double> u;     // [B,T,H,d]: the write-penalty direction, before the 1 / sqrt(d)
  std::vector<double> v;     // [B,T,H,d]
};

// The state of every (batch, head) after `position` tokens of every sequence.
struct State {
  int64_t position = 0;
  std::vector<double> A;  // [B,H,d,d], symmetric positive definite
  std::vector<double> S;  // [B,H,d,d], row = value dim
  std::vector<double> z;  // [B,H,d]
};

struct Result {
  std::vector<double> o;  // [B,T,H,d]: each head's read-out, before heads are merged
  State final_state;      // after the call's last token
};

// Throws std::invalid_argument naming the field ("hyper.period: ...", "u: ...") when a size,
// a dimension or a constant is out of range.
void validate(const Problem& p);
void validate(const Problem& p, const Inputs& in);
// A state to continue from: sizes, position >= 0, and every head's A symmetric (to 1e-12
// relative) and positive definite.
void validate_initial_state(const Problem& p, const State& s);
// A chunk size of the chunkwise form: any positive number of tokens.
void validate_chunk(int chunk);

// Element counts; each throws std::invalid_argument naming its tensor when it overflows size_t.
size_t token_size(const Problem& p);   // B*T*H*d: q, k, u, v, o
size_t matrix_size(const Problem& p);  // B*H*d*d: A, S
size_t vector_size(const Problem& p);  // B*H*d: z

// The state before any token: A = I / lambda0, S = 0, z = 0, position 0.
State initial_state(const Problem& p);

// Whether the nudge of step 2 follows the token at absolute position `position`.
bool nudge_after(const Hyper& hyper, int64_t position);

// The recurrence above, token by token: the oracle of the oracle. Continues from `initial`
// (default: initial_state(p)); fills o and the final state.
Result forward_recurrent(const Problem& p, const Inputs& in, const State* initial = nullptr);

// The chunk-parallel form of spec 3.5, chunks of `chunk` tokens aligned to absolute positions:
// the precision path by a Cholesky factor per block (A_end = A_start - M^T M, with M the rows
// A_{t-1} u~_t / sqrt(delta_t)), the memory path as the generalised delta rule in UT form. A
// nudge changes A for the tokens after it, so the precision path's blocks end at each nudge as
// well as at each chunk end (spec 3.5's "split chunks at nudge points"): the form is exact for
// any chunk and period, equal to forward_recurrent to rounding (about 1e-15 relative). It does
// not clamp delta, which is >= 1 while A is positive definite (spec 3.6): with eps_stab > 1,
// where the recurrence would clamp, it throws std::domain_error saying so.
Result forward_chunkwise(const Problem& p, const Inputs& in, int chunk,
                         const State* initial = nullptr);

// Advances every sequence b by the one token of `in` (p.seq_len == 1) from positions[b]
// consumed tokens: `state` (A, S, z of every sequence; its position is not read) is updated in
// place and o ([B,H,d]) returned. Position 0 starts a fresh sequence: what `state` holds for it
// is replaced by the initial state, as a reused slot of a finished sequence may hold anything.
// Throws std::invalid_argument naming the field when sizes disagree or a position is negative.
std::vector<double> decode_step(const Problem& p, const Inputs& in,
                                const std::vector<int64_t>& positions, State& state);

}  // namespace lla::reference::vla
