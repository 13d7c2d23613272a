// The parameter structs of the CPU entry points. Written once and read twice: the host
// includes this file (compiler/cpu plans, runtime/cpu), and the generator pastes it into every
// CPU kernel's source, so both sides see one declaration. Plain types only (no headers on the
// JIT side); a module exports sizeof of its struct as <entry>_params_bytes, which the loader
// checks against the host's. Launch plans list a struct's fields in declaration order
// (compiler/kernels/launch_plan.h: one KernelArg per field).
//
// Every entry point is
//   extern "C" void <entry>(const void* params, long long item, void* scratch);
// run once per work item; scratch is the calling worker's own memory (Launch::shared_bytes,
// 64-byte aligned), reused from item to item.
#ifndef LLA_CPU_KERNEL_PARAMS_H
#define LLA_CPU_KERNEL_PARAMS_H

namespace lla_cpu {

// bfloat16 as its bits (the storage type of bf16 tensors): a type of its own, so the kernels'
// loads and stores overload on it.
struct bf16 {
  unsigned short bits;
};

// One sequence of a forward call: `length` tokens at rows [row0, row0 + length) of the packed
// [rows, ...] tensors, at absolute positions [start, start + length). A sequence split along
// its chunks keeps its pieces' states at piece_base + head * pieces_per_head onwards.
struct ForwardSequence {
  long long row0;
  int start;
  int length;
  int piece_base;
  int pieces_per_head;
};

// A work item of the forward: absolute chunks [first_chunk, last_chunk] of one (sequence,
// head). The scan's items cover every chunk of their sequence in order (a segment after the
// first starts from the pieces' states); the pieces' items cover one piece each.
struct ForwardItem {
  int sequence;
  int head;
  int first_chunk;
  int last_chunk;
};

// lla_mamba2_forward_scan and lla_mamba2_forward_pieces. Tensors as in lla.h (rows = the
// packed token rows): q, k [rows, G, K]; v, o [rows, H, V]; g [rows, H] float; lambda
// [rows, H, L]; states [sequences, H, L, K, V] float.
struct Mamba2ForwardParams {
  const void* q;
  const void* k;
  const void* v;
  const float* g;
  const void* lambda;
  void* o;
  const float* initial_state;  // null: every sequence starts at its position with no state
  float* final_state;          // null: not written; may equal initial_state
  const ForwardSequence* sequences;
  const ForwardItem* items;
  float* piece_states;  // [pieces, K, V]: a piece's chunks' state at its last token
  float* piece_decays;  // [pieces]: exp(sum of g over the piece)
  int heads;
  int groups;
  float scale;
  int piece_chunks;  // chunks of a piece (a power of two)
};

// lla_mamba2_decode_step (one item per (sequence, head): item = b * heads + h) and
// lla_mamba2_decode_advance (one item). Tensors as in lla.h's decode section.
struct Mamba2DecodeParams {
  const void* q;
  const void* k;
  const void* v;
  const float* g;
  const void* lambda;
  void* o;
  float* state;
  long long* positions;
  int batch;
  int heads;
  int groups;
  float scale;
  long long max_position;
};

// lla_fma_peak (templates/cpu/fma_peak.h): one item per worker, each `iterations` rounds of
// independent fused multiply-adds; sink[item] receives a sum that keeps them alive.
struct FmaPeakParams {
  long long iterations;
  float* sink;
};

}  // namespace lla_cpu

#endif  // LLA_CPU_KERNEL_PARAMS_H
