// Log-linear Mamba-2 forward on the CPU (spec/loglinear.md sections 3 and 7): the chunk scan.
//
// One work item walks the chunks of one (sequence, head) in order, with the Fenwick state of
// the chunks behind it in scratch memory: slot e holds the chunks of chunk level e (token level
// c + 1 + e, c = log2 C) that the current chunk reads, live iff bit e of the chunk's index is
// set. Per chunk a (absolute index; positions aC .. aC + C - 1, rows outside the call zero):
//   o  = (q k^T ∘ decay ∘ lambda^level) v                         the dense intra-chunk part
//      + sum over live e of diag(lambda^(c+1+e) e^G f_e) q slot_e   one product per live slot
//   then, before chunk a + 1 with p = ctz(a + 1), slots 0..p-1 and the chunk's own state merge
//   into slot p: slot_p = sum f_e slot_e + (e^(Glast - G) ∘ k)^T v.
// f_e is a slot's decay since it was formed, kept as one float instead of rescaling the slot.
// A sequence that continues from a Fenwick state S0 at position P starts with S0's chunk
// levels in the slots; when P is inside a chunk, S0's levels 0..c (the chunk's tokens before
// P) are read by the chunk's rows at level max(l, bit_length(t ^ (P-1))) and folded into its
// state (spec section 7). The last chunk writes the final state in the decode layout.
//
// A long sequence may be cut into segments, each an item: the pieces' items first sum the
// states of fixed runs of chunks, and a segment starts from the slots those pieces form.

namespace lla_cpu {

constexpr int kKeyDim = lla_config::kKeyDim;
constexpr int kValueDim = lla_config::kValueDim;
constexpr int kChunk = lla_config::kChunk;
constexpr int kLog2Chunk = lla_config::kLog2Chunk;
constexpr int kLevels = lla_config::kLevels;
// Chunk levels the levels can hold: token levels c + 1 .. L - 1.
constexpr int kSlots = kLevels - kLog2Chunk - 1 > 0 ? kLevels - kLog2Chunk - 1 : 0;
constexpr int kStateElements = kKeyDim * kValueDim;

static_assert(kChunk == 1 << kLog2Chunk, "chunk is a power of two");
static_assert(kKeyDim % kVector == 0 && kValueDim % kVector == 0 && kChunk % kVector == 0,
              "K, V and chunk are whole vectors");

// One worker's memory for an item (Launch::shared_bytes): the chunk's tiles and the slots.
struct ForwardScratch {
  alignas(64) float q[kChunk][kKeyDim];      // scale * q
  alignas(64) float kt[kKeyDim][kChunk];     // k transposed
  alignas(64) float kd[kKeyDim][kChunk];     // k transposed, each token decayed to the chunk end
  alignas(64) float v[kChunk][kValueDim];
  alignas(64) float scores[kChunk][kChunk];  // masked, decayed, weighed q k^T
  alignas(64) float o[kChunk][kValueDim];
  alignas(64) float qw[kChunk][kKeyDim];     // q rows weighed for one slot
  alignas(64) float lambda[kChunk][kLevels];
  alignas(64) float g[kChunk];               // inclusive cumsum of g from the chunk's start
  alignas(64) float eg[kChunk];              // exp(g)
  alignas(64) float to_end[kChunk];          // exp(g[last] - g)
  alignas(64) float lambda_row[kChunk];      // one row's lambda by source
  alignas(64) float slot_decay[kSlots + 1];
  alignas(64) float slots[kSlots + 1][kStateElements];
};
static_assert(sizeof(ForwardScratch) == lla_config::kScratchBytes, "the plan's scratch size");

// Where one (sequence, head) lives in the call's tensors.
struct HeadView {
  const Mamba2ForwardParams& p;
  ForwardSequence seq;
  int sequence;
  int head;
  int group;

  long long row(long long position) const { return seq.row0 + (position - seq.start); }
  const Element* q(long long r) const {
    return static_cast<const Element*>(p.q) + (r * p.groups + group) * kKeyDim;
  }
  const Element* k(long long r) const {
    return static_cast<const Element*>(p.k) + (r * p.groups + group) * kKeyDim;
  }
  const Element* v(long long r) const {
    return static_cast<const Element*>(p.v) + (r * p.heads + head) * kValueDim;
  }
  Element* o(long long r) const { return static_cast<Element*>(p.o) + (r * p.heads + head) * kValueDim; }
  float g(long long r) const { return p.g[r * p.heads + head]; }
  const Element* lambda(long long r) const {
    return static_cast<const Element*>(p.lambda) + (r * p.heads + head) * kLevels;
  }
  const float* initial_level(int level) const {
    return p.initial_state + ((static_cast<long long>(sequence) * p.heads + head) * kLevels + level) *
                                 kStateElements;
  }
  float* final_level(int level) const {
    return p.final_state + ((static_cast<long long>(sequence) * p.heads + head) * kLevels + level) *
                               kStateElements;
  }
};

inline HeadView head_view(const Mamba2ForwardParams& p, const ForwardItem& item) {
  return {p, p.sequences[item.sequence], item.sequence, item.head, item.head / (p.heads / p.groups)};
}

// The rows [lo, hi) of chunk a that belong to the call.
struct ChunkRows {
  long long base;  // position of the chunk's first row
  int lo;
  int hi;
};

inline ChunkRows chunk_rows(const ForwardSequence& seq, int a) {
  const long long base = static_cast<long long>(a) * kChunk;
  const long long begin = seq.start > base ? seq.start : base;
  const long long end = seq.start + seq.length < base + kChunk ? seq.start + seq.length : base + kChunk;
  return {base, static_cast<int>(begin - base), static_cast<int>(end - base)};
}

// k, v and g of the chunk's rows (zero outside [lo, hi)), g's cumsum, its exp and each row's
// decay to the chunk's end; with `all`, also scaled q and lambda.
LLA_OUTLINED void load_chunk(ForwardScratch& s, const HeadView& h, const ChunkRows& rows, bool all) {
  LLA_ROLLED for (int i = 0; i < kChunk; ++i) {
    const bool in = i >= rows.lo && i < rows.hi;
    const long long r = in ? h.row(rows.base + i) : 0;
    LLA_ROLLED for (int x = 0; x < kKeyDim; x += kVector) {
      const vfloat kv = in ? load_elements(h.k(r) + x) : splat(0.0f);
#pragma unroll
      for (int e = 0; e < kVector; ++e) s.kt[x + e][i] = kv[e];
      if (all) store(&s.q[i][x], in ? h.p.scale * load_elements(h.q(r) + x) : splat(0.0f));
    }
    LLA_ROLLED for (int x = 0; x < kValueDim; x += kVector)
      store(&s.v[i][x], in ? load_elements(h.v(r) + x) : splat(0.0f));
    s.g[i] = in ? h.g(r) : 0.0f;
    if (all)
      LLA_ROLLED for (int m = 0; m < kLevels; ++m) s.lambda[i][m] = in ? to_float(h.lambda(r)[m]) : 0.0f;
  }
  float run = 0.0f;
  LLA_ROLLED for (int i = 0; i < kChunk; ++i) s.g[i] = run += s.g[i];
  const float last = s.g[kChunk - 1];
  LLA_ROLLED for (int i = 0; i < kChunk; i += kVector) {
    store(&s.eg[i], exp(load(&s.g[i])));
    store(&s.to_end[i], exp(last - load(&s.g[i])));
  }
  LLA_ROLLED for (int x = 0; x < kKeyDim; ++x)
    LLA_ROLLED for (int j = 0; j < kChunk; j += kVector) store(&s.kd[x][j], load(&s.kt[x][j]) * load(&s.to_end[j]));
}

// scores[i][j] = q_i . k_j * exp(g_i - g_j) * lambda_i^level(i,j) for j <= i, else 0.
LLA_OUTLINED void intra_scores(ForwardScratch& s, const ChunkRows& rows) {
  product<kChunk, kChunk>({&s.scores[0][0], kChunk, &s.q[0][0], kKeyDim, &s.kt[0][0], kChunk}, 0,
                          kKeyDim, Accumulate::no, Shape::lower_c);
  LLA_ROLLED for (int i = 0; i < kChunk; ++i) {
    const bool in = i >= rows.lo && i < rows.hi;
    // Sources of row i by level: itself, then the aligned buckets below it (spec 2.1).
    s.lambda_row[i] = s.lambda[i][0];
    LLA_ROLLED for (int m = 1; m <= kLog2Chunk; ++m)
      if ((i >> (m - 1)) & 1) {
        const int begin = (i >> m) << m;
        LLA_ROLLED for (int j = begin; j < begin + (1 << (m - 1)); ++j) s.lambda_row[j] = s.lambda[i][m];
      }
    LLA_ROLLED for (int j = 0; j < kChunk; j += kVector) {
      vint index;
#pragma unroll
      for (int e = 0; e < kVector; ++e) index[e] = j + e;
      if (!in || j > i) {
        store(&s.scores[i][j], splat(0.0f));
        continue;
      }
      const vfloat weighed = load(&s.scores[i][j]) * exp(s.g[i] - load(&s.g[j])) * load(&s.lambda_row[j]);
      const vint keep = index <= i;
      store(&s.scores[i][j], __builtin_bit_cast(vfloat, __builtin_bit_cast(vint, weighed) & keep));
    }
  }
}

// o += diag(w) q b for a [K, V] state b: one slot's (or an initial level's) read.
LLA_OUTLINED void read_state(ForwardScratch& s, const float* w, const float* state) {
  LLA_ROLLED for (int i = 0; i < kChunk; ++i)
    LLA_ROLLED for (int x = 0; x < kKeyDim; x += kVector) store(&s.qw[i][x], w[i] * load(&s.q[i][x]));
  product<kChunk, kValueDim>({&s.o[0][0], kValueDim, &s.qw[0][0], kKeyDim, state, kValueDim}, 0,
                             kKeyDim, Accumulate::yes);
}

// to = (e^(Glast - G) ∘ k)^T v over the chunk's rows [j0, j1), added to `to` or replacing it.
inline void chunk_state(ForwardScratch& s, float* to, Accumulate add, int j0 = 0, int j1 = kChunk) {
  product<kKeyDim, kValueDim>({to, kValueDim, &s.kd[0][0], kChunk, &s.v[0][0], kValueDim}, j0, j1, add);
}

inline bool level_occupied(long long last, int level) {
  return level == 0 || ((last >> (level - 1)) & 1);
}

// Copies (or zeroes) the state of an empty sequence: it stays what it was.
LLA_OUTLINED void pass_state_through(const HeadView& h) {
  if (!h.p.final_state) return;
  const bool has_initial = h.p.initial_state && h.seq.start > 0;
  if (has_initial && h.p.initial_state == h.p.final_state) return;
  LLA_ROLLED for (int l = 0; l < kLevels; ++l) {
    if (has_initial)
      copy(h.final_level(l), h.initial_level(l), kStateElements);
    else
      fill(h.final_level(l), kStateElements, 0.0f);
  }
}

// The state after the sequence's last token F (in chunk a, rows [lo, hi)): levels 0..c from
// the chunk (and from S0's levels 0..c when the chunk also holds P - 1), the live slots above.
// Written in an order that lets final_state be initial_state's memory.
LLA_OUTLINED void write_final_state(ForwardScratch& s, const HeadView& h, const ChunkRows& rows, int a,
                              bool prefix, float decay) {
  const long long F = rows.base + rows.hi - 1;
  const long long P1 = h.seq.start - 1;
  const int jF = prefix ? bit_length(static_cast<unsigned long long>(F ^ P1)) : -1;
  const int f = rows.hi - 1;  // F's row in the chunk
  // The chunk's tokens of F's level-m bucket: [j0, j1) within [lo, hi).
  const auto tokens = [&](int m, int& j0, int& j1) {
    if (m == 0) {
      j0 = f;
      j1 = f + 1;
    } else if ((f >> (m - 1)) & 1) {
      j0 = (f >> m) << m;
      j1 = j0 + (1 << (m - 1));
    } else {
      j0 = j1 = 0;
    }
    if (j0 < rows.lo) j0 = rows.lo;
    if (j1 < j0) j1 = j0;
  };
  const auto new_tokens = [&](int m, Accumulate add) {
    int j0, j1;
    tokens(m, j0, j1);
    if (j0 < j1)
      chunk_state(s, h.final_level(m), add, j0, j1);
    else if (add == Accumulate::no) {
      fill(h.final_level(m), kStateElements, 0.0f);
    }
  };
  if (prefix) {
    // S0's levels below jF join level jF; those above stay where they are.
    float* to = h.final_level(jF);
    LLA_ROLLED for (int x = 0; x < kStateElements; x += kVector) {
      vfloat sum = level_occupied(P1, jF) ? load(h.initial_level(jF) + x) : splat(0.0f);
      LLA_ROLLED for (int l = 0; l < jF; ++l)
        if (level_occupied(P1, l)) sum += load(h.initial_level(l) + x);
      store(to + x, decay * sum);
    }
    new_tokens(jF, Accumulate::yes);
    LLA_ROLLED for (int m = jF + 1; m <= kLog2Chunk && m < kLevels; ++m) {
      if (level_occupied(P1, m))
        scale_copy(h.final_level(m), h.initial_level(m), decay, kStateElements);
      else
        fill(h.final_level(m), kStateElements, 0.0f);
    }
    LLA_ROLLED for (int m = 0; m < jF; ++m) new_tokens(m, Accumulate::no);
  } else {
    LLA_ROLLED for (int m = 0; m <= kLog2Chunk && m < kLevels; ++m) new_tokens(m, Accumulate::no);
  }
  LLA_ROLLED for (int e = 0; e < kSlots; ++e) {
    float* to = h.final_level(kLog2Chunk + 1 + e);
    if ((a >> e) & 1)
      scale_copy(to, s.slots[e], s.slot_decay[e] * decay, kStateElements);
    else
      fill(to, kStateElements, 0.0f);
  }
}

// The slots a segment starting at chunk s0 (a multiple of piece_chunks) reads: the pieces
// before it, each decayed to s0's start, summed into the chunk level they share with s0.
LLA_OUTLINED void seed_from_pieces(ForwardScratch& s, const HeadView& h, int s0) {
  const int piece_chunks = h.p.piece_chunks;
  const long long first = h.seq.piece_base + static_cast<long long>(h.head) * h.seq.pieces_per_head;
  bool formed[kSlots + 1] = {};
  float decay = 1.0f;
  LLA_ROLLED for (int piece = s0 / piece_chunks - 1; piece >= 0; --piece) {
    const int e = bit_length(static_cast<unsigned>(s0 ^ (piece * piece_chunks))) - 1;
    const float* state = h.p.piece_states + (first + piece) * kStateElements;
    if (formed[e])
      scale_add(s.slots[e], state, decay, kStateElements);
    else
      scale_copy(s.slots[e], state, decay, kStateElements);
    formed[e] = true;
    s.slot_decay[e] = 1.0f;
    decay *= h.p.piece_decays[first + piece];
  }
}

// The slots of the sequence's first chunk a0 from its initial state S0 at position P > 0.
LLA_OUTLINED void seed_from_initial_state(ForwardScratch& s, const HeadView& h, int a0) {
  const long long P = h.seq.start;
  if (P % kChunk != 0) {
    // P - 1 is in chunk a0 itself: its chunk levels are a0's slots.
    LLA_ROLLED for (int e = 0; e < kSlots; ++e)
      if ((a0 >> e) & 1) {
        copy(s.slots[e], h.initial_level(kLog2Chunk + 1 + e), kStateElements);
        s.slot_decay[e] = 1.0f;
      }
    return;
  }
  // P - 1 ends chunk a0 - 1: the merge before a0 folds S0's levels 0..c + p into slot p.
  const int p = __builtin_ctz(static_cast<unsigned>(a0));
  LLA_ROLLED for (int e = p + 1; e < kSlots; ++e)
    if ((a0 >> e) & 1) {
      copy(s.slots[e], h.initial_level(kLog2Chunk + 1 + e), kStateElements);
      s.slot_decay[e] = 1.0f;
    }
  float* merged = s.slots[p];
  copy(merged, h.initial_level(0), kStateElements);
  LLA_ROLLED for (int l = 1; l <= kLog2Chunk + p; ++l)
    if (level_occupied(P - 1, l)) scale_add(merged, h.initial_level(l), 1.0f, kStateElements);
  s.slot_decay[p] = 1.0f;
}

}  // namespace lla_cpu

extern "C" void lla_mamba2_forward_scan(const void* params, long long item_index, void* scratch) {
  using namespace lla_cpu;
  const Mamba2ForwardParams& p = *static_cast<const Mamba2ForwardParams*>(params);
  const ForwardItem item = p.items[item_index];
  const HeadView h = head_view(p, item);
  ForwardScratch& s = *static_cast<ForwardScratch*>(scratch);
  if (h.seq.length == 0) {
    pass_state_through(h);
    return;
  }
  const int a0 = static_cast<int>(h.seq.start / kChunk);
  const int a1 = static_cast<int>((static_cast<long long>(h.seq.start) + h.seq.length - 1) / kChunk);
  const bool continues = p.initial_state && h.seq.start > 0;
  if (item.first_chunk > a0)
    seed_from_pieces(s, h, item.first_chunk);
  else if (continues)
    seed_from_initial_state(s, h, a0);

  LLA_ROLLED for (int a = item.first_chunk; a <= item.last_chunk; ++a) {
    const ChunkRows rows = chunk_rows(h.seq, a);
    // S0's levels 0..c: tokens of this chunk before P.
    const bool prefix = continues && a == a0 && h.seq.start % kChunk != 0;
    load_chunk(s, h, rows, true);
    intra_scores(s, rows);
    product<kChunk, kValueDim>({&s.o[0][0], kValueDim, &s.scores[0][0], kChunk, &s.v[0][0], kValueDim},
                               0, kChunk, Accumulate::no, Shape::lower_a);
    float w[kChunk];
    LLA_ROLLED for (int e = 0; e < kSlots; ++e) {
      if (!((a >> e) & 1)) continue;
      LLA_ROLLED for (int i = 0; i < kChunk; ++i)
        w[i] = s.lambda[i][kLog2Chunk + 1 + e] * s.eg[i] * s.slot_decay[e];
      read_state(s, w, s.slots[e]);
    }
    if (prefix) {
      const long long P1 = h.seq.start - 1;
      LLA_ROLLED for (int l = 0; l <= kLog2Chunk && l < kLevels; ++l) {
        if (!level_occupied(P1, l)) continue;
        LLA_ROLLED for (int i = 0; i < kChunk; ++i) {
          const int j = bit_length(static_cast<unsigned long long>((rows.base + i) ^ P1));
          w[i] = s.lambda[i][l > j ? l : j] * s.eg[i];
        }
        read_state(s, w, h.initial_level(l));
      }
    }
    LLA_ROLLED for (int i = rows.lo; i < rows.hi; ++i) {
      Element* out = h.o(h.row(rows.base + i));
      LLA_ROLLED for (int x = 0; x < kValueDim; x += kVector) store_elements(out + x, load(&s.o[i][x]));
    }

    const float decay = s.eg[kChunk - 1];
    if (a < item.last_chunk) {
      // The merge before chunk a + 1 (a's p lowest bits are set, bit p is not).
      const int merge = __builtin_ctz(static_cast<unsigned>(a + 1));
      float* to = s.slots[merge];
      bool formed = false;
      LLA_ROLLED for (int e = 0; e < merge; ++e) {
        if (formed)
          scale_add(to, s.slots[e], s.slot_decay[e] * decay, kStateElements);
        else
          scale_copy(to, s.slots[e], s.slot_decay[e] * decay, kStateElements);
        formed = true;
      }
      if (prefix) {
        LLA_ROLLED for (int l = 0; l <= kLog2Chunk && l < kLevels; ++l) {
          if (!level_occupied(h.seq.start - 1, l)) continue;
          if (formed)
            scale_add(to, h.initial_level(l), decay, kStateElements);
          else
            scale_copy(to, h.initial_level(l), decay, kStateElements);
          formed = true;
        }
      }
      chunk_state(s, to, formed ? Accumulate::yes : Accumulate::no);
      LLA_ROLLED for (int e = merge + 1; e < kSlots; ++e) s.slot_decay[e] *= decay;
      s.slot_decay[merge] = 1.0f;
    } else if (p.final_state && a == a1) {
      write_final_state(s, h, rows, a, prefix, decay);
    }
  }
}

// The state of a piece: chunks [first_chunk, last_chunk] of a sequence that starts at 0,
// summed and decayed to the piece's last token, and the piece's total decay.
extern "C" void lla_mamba2_forward_pieces(const void* params, long long item_index, void* scratch) {
  using namespace lla_cpu;
  const Mamba2ForwardParams& p = *static_cast<const Mamba2ForwardParams*>(params);
  const ForwardItem item = p.items[item_index];
  const HeadView h = head_view(p, item);
  ForwardScratch& s = *static_cast<ForwardScratch*>(scratch);
  const long long index = h.seq.piece_base + static_cast<long long>(item.head) * h.seq.pieces_per_head +
                          item.first_chunk / p.piece_chunks;
  float* state = p.piece_states + index * kStateElements;
  float log_decay = 0.0f;
  LLA_ROLLED for (int a = item.first_chunk; a <= item.last_chunk; ++a) {
    load_chunk(s, h, chunk_rows(h.seq, a), false);
    const float decay = s.eg[kChunk - 1];
    if (a > item.first_chunk) scale(state, decay, kStateElements);
    chunk_state(s, state, a > item.first_chunk ? Accumulate::yes : Accumulate::no);
    log_decay += s.g[kChunk - 1];
  }
  p.piece_decays[index] = exp(log_decay);
}

extern "C" const unsigned long long lla_mamba2_forward_scan_params_bytes =
    sizeof(lla_cpu::Mamba2ForwardParams);
extern "C" const unsigned long long lla_mamba2_forward_pieces_params_bytes =
    sizeof(lla_cpu::Mamba2ForwardParams);
