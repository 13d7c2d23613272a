#include "cpu/cpu_launch_plan.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/kernel_params.h"
#include "cpu/cpu_source_generator.h"
#include "levels/fenwick_levels.h"

namespace lla::compiler::cpu {

namespace {

constexpr size_t kWorkspaceAlignment = 64;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

size_t align_up(size_t bytes) {
  return (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}

template <typename T>
size_t append(std::vector<uint8_t>& bytes, const std::vector<T>& entries) {
  const size_t offset = align_up(bytes.size());
  bytes.resize(offset + entries.size() * sizeof(T));
  if (!entries.empty()) std::memcpy(bytes.data() + offset, entries.data(), entries.size() * sizeof(T));
  return offset;
}

Launch cpu_launch(const char* entry, int64_t items, const CpuKernelSpec& spec) {
  Launch l;
  l.kernel = entry;
  l.grid[0] = static_cast<unsigned>(items);
  l.shared_bytes = static_cast<unsigned>(scratch_bytes(spec));
  return l;
}

std::vector<SequenceSpan> call_sequences(const ProblemShape& shape) {
  if (!shape.sequences.empty()) return shape.sequences;
  std::vector<SequenceSpan> spans;
  for (int b = 0; b < shape.batch; ++b)
    spans.push_back({int64_t{b} * shape.seq_len, 0, int64_t{shape.seq_len}});
  return spans;
}

}  // namespace

SequenceSplit split_sequence(const CpuKernelSpec& spec, int64_t chunks, int64_t items, int threads) {
  SequenceSplit split;
  split.segment_chunks = chunks;
  int64_t wanted = spec.tile.split;
  if (wanted == 0) wanted = items >= threads ? 1 : (threads + items - 1) / items;
  if (wanted <= 1 || chunks < 2 * kPieceChunks) return split;
  int64_t length = (chunks + wanted - 1) / wanted;
  length = (length + kPieceChunks - 1) / kPieceChunks * kPieceChunks;
  split.segments = (chunks + length - 1) / length;
  split.segment_chunks = split.segments > 1 ? length : chunks;
  return split;
}

LaunchPlan plan_forward(const CpuKernelSpec& spec, const ProblemShape& shape, int threads) {
  validate(spec);
  require(spec.family == Family::mamba2_forward,
          std::string("family=") + family_name(spec.family) + ": not a forward family");
  require(shape.batch >= 1, "batch must be at least 1");
  require(shape.seq_len >= 1, "seq_len must be at least 1");
  require(shape.heads >= 1 && shape.groups >= 1 && shape.heads % shape.groups == 0,
          "heads must be a positive multiple of groups");
  require(threads >= 1, "threads must be at least 1");
  require(shape.sequences.empty() ? !shape.initial_state && !shape.final_state : true,
          "initial and final states need the call's sequences");
  const std::vector<SequenceSpan> spans = call_sequences(shape);
  const int64_t rows = int64_t{shape.batch} * shape.seq_len;
  require(spans.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
          "too many sequences");

  int64_t busy_items = 0;  // (sequence, head) items with tokens
  for (const SequenceSpan& span : spans)
    if (span.length > 0) busy_items += shape.heads;

  std::vector<lla_cpu::ForwardSequence> sequences;
  std::vector<lla_cpu::ForwardItem> scan_items, piece_items;
  int64_t pieces = 0;
  for (size_t s = 0; s < spans.size(); ++s) {
    const SequenceSpan& span = spans[s];
    check_sequence_span(span, s, rows, spec.levels);
    lla_cpu::ForwardSequence entry{span.row0, static_cast<int>(span.start),
                                   static_cast<int>(span.length), 0, 0};
    if (span.length == 0) {
      if (shape.final_state)
        for (int h = 0; h < shape.heads; ++h) scan_items.push_back({static_cast<int>(s), h, 0, -1});
      sequences.push_back(entry);
      continue;
    }
    const int64_t a0 = span.start / spec.chunk;
    const int64_t a1 = (span.start + span.length - 1) / spec.chunk;
    SequenceSplit split;
    split.segment_chunks = a1 - a0 + 1;
    if (span.start == 0) split = split_sequence(spec, a1 + 1, busy_items, threads);
    if (split.segments > 1) {
      entry.piece_base = static_cast<int>(pieces);
      entry.pieces_per_head = static_cast<int>((split.segments - 1) * split.segment_chunks / kPieceChunks);
      pieces += int64_t{entry.pieces_per_head} * shape.heads;
      require(pieces <= std::numeric_limits<int32_t>::max(), "too many pieces");
      for (int h = 0; h < shape.heads; ++h)
        for (int piece = 0; piece < entry.pieces_per_head; ++piece)
          piece_items.push_back({static_cast<int>(s), h, piece * kPieceChunks,
                                 piece * kPieceChunks + kPieceChunks - 1});
    }
    for (int64_t segment = 0; segment < split.segments; ++segment) {
      const int64_t first = a0 + segment * split.segment_chunks;
      const int64_t last = std::min(a1, first + split.segment_chunks - 1);
      for (int h = 0; h < shape.heads; ++h)
        scan_items.push_back({static_cast<int>(s), h, static_cast<int>(first), static_cast<int>(last)});
    }
    sequences.push_back(entry);
  }

  LaunchPlan plan;
  const size_t sequences_at = append(plan.upload, sequences);
  const size_t scan_items_at = append(plan.upload, scan_items);
  const size_t piece_items_at = append(plan.upload, piece_items);
  size_t workspace = align_up(plan.upload.size());
  const size_t piece_states_at = workspace;
  workspace = align_up(workspace + static_cast<size_t>(pieces) * spec.key_dim * spec.value_dim * sizeof(float));
  const size_t piece_decays_at = workspace;
  workspace = align_up(workspace + static_cast<size_t>(pieces) * sizeof(float));
  plan.workspace_bytes = workspace;

  const KernelArg initial = shape.initial_state ? KernelArg{BufferArg{Buffer::initial_state}} : NullPointer{};
  const KernelArg final_state = shape.final_state ? KernelArg{BufferArg{Buffer::final_state}} : NullPointer{};
  const KernelArg piece_states = pieces > 0 ? KernelArg{BufferArg{Buffer::workspace, piece_states_at}} : NullPointer{};
  const KernelArg piece_decays = pieces > 0 ? KernelArg{BufferArg{Buffer::workspace, piece_decays_at}} : NullPointer{};
  const auto args = [&](size_t items_at) {
    return std::vector<KernelArg>{BufferArg{Buffer::q}, BufferArg{Buffer::k}, BufferArg{Buffer::v},
                                  BufferArg{Buffer::g}, BufferArg{Buffer::lambda}, BufferArg{Buffer::o},
                                  initial, final_state, BufferArg{Buffer::workspace, sequences_at},
                                  BufferArg{Buffer::workspace, items_at}, piece_states, piece_decays,
                                  int32_t{shape.heads}, int32_t{shape.groups}, shape.scale,
                                  int32_t{kPieceChunks}};
  };
  if (!piece_items.empty()) {
    Launch l = cpu_launch("lla_mamba2_forward_pieces", static_cast<int64_t>(piece_items.size()), spec);
    l.args = args(piece_items_at);
    plan.launches.push_back(std::move(l));
  }
  if (!scan_items.empty()) {
    Launch l = cpu_launch("lla_mamba2_forward_scan", static_cast<int64_t>(scan_items.size()), spec);
    l.args = args(scan_items_at);
    plan.launches.push_back(std::move(l));
  }
  return plan;
}

LaunchPlan plan_decode(const CpuKernelSpec& spec, const ProblemShape& shape) {
  validate(spec);
  require(spec.family == Family::mamba2_decode,
          std::string("family=") + family_name(spec.family) + ": not a decode family");
  require(shape.batch >= 1, "batch must be at least 1");
  require(shape.heads >= 1 && shape.groups >= 1 && shape.heads % shape.groups == 0,
          "heads must be a positive multiple of groups");
  require(shape.max_position >= 0, "max_position must not be negative");
  const int needed = levels::num_levels(shape.max_position + 1);
  require(spec.levels >= needed, "levels=" + std::to_string(spec.levels) + " cannot hold position " +
                                     std::to_string(shape.max_position) + ", which needs " +
                                     std::to_string(needed));
  const std::vector<KernelArg> args = {
      BufferArg{Buffer::q},      BufferArg{Buffer::k},         BufferArg{Buffer::v},
      BufferArg{Buffer::g},      BufferArg{Buffer::lambda},    BufferArg{Buffer::o},
      BufferArg{Buffer::state},  BufferArg{Buffer::positions}, int32_t{shape.batch},
      int32_t{shape.heads},      int32_t{shape.groups},        shape.scale,
      int64_t{shape.max_position}};
  LaunchPlan plan;
  Launch step = cpu_launch("lla_mamba2_decode_step", int64_t{shape.batch} * shape.heads, spec);
  step.args = args;
  plan.launches.push_back(std::move(step));
  if (shape.advance_positions) {
    Launch advance = cpu_launch("lla_mamba2_decode_advance", 1, spec);
    advance.args = args;
    plan.launches.push_back(std::move(advance));
  }
  return plan;
}

}  // namespace lla::compiler::cpu
