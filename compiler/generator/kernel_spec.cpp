#include "generator/kernel_spec.h"

#include <stdexcept>
#include <string>

namespace lla::compiler {

namespace {

struct ArchEntry {
  const char* name;
  int sm;
};

// The NVRTC targets lla generates for; the suffixed ones enable architecture-specific
// instructions (wgmma, tcgen05) and run only on that exact compute capability.
constexpr ArchEntry kSupportedArchs[] = {
    {"sm_80", 80},   {"sm_86", 86},  {"sm_89", 89},     {"sm_90", 90},
    {"sm_90a", 90},  {"sm_100", 100}, {"sm_100a", 100}, {"sm_120", 120},
};

std::string supported_arch_list() {
  std::string list;
  for (const ArchEntry& a : kSupportedArchs)
    list += (list.empty() ? "" : ", ") + std::string(a.name);
  return list;
}

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

bool is_tile_width(int x) { return x == 16 || x == 32 || x == 64; }

[[noreturn]] void reject(const std::string& field, int value, const std::string& rule) {
  throw std::invalid_argument(field + "=" + std::to_string(value) + ": " + rule);
}

}  // namespace

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::f32: return "f32";
    case Dtype::f16: return "f16";
    case Dtype::bf16: return "bf16";
  }
  throw std::invalid_argument("dtype: unknown value " + std::to_string(static_cast<int>(d)));
}

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::fma: return "fma";
    case Algorithm::mma: return "mma";
    case Algorithm::scan: return "scan";
    case Algorithm::scan_wgmma: return "scan_wgmma";
  }
  throw std::invalid_argument("algorithm: unknown value " + std::to_string(static_cast<int>(a)));
}

bool uses_tensor_cores(Algorithm a) { return a != Algorithm::fma; }

bool is_scan(Algorithm a) { return a == Algorithm::scan || a == Algorithm::scan_wgmma; }

const char* family_name(Family f) {
  switch (f) {
    case Family::mamba2_forward: return "mamba2_forward";
    case Family::mamba2_decode: return "mamba2_decode";
  }
  throw std::invalid_argument("family: unknown value " + std::to_string(static_cast<int>(f)));
}

int dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::f32: return 4;
    case Dtype::f16: return 2;
    case Dtype::bf16: return 2;
  }
  throw std::invalid_argument("dtype: unknown value " + std::to_string(static_cast<int>(d)));
}

int arch_sm_number(const std::string& arch) {
  for (const ArchEntry& a : kSupportedArchs)
    if (arch == a.name) return a.sm;
  throw std::invalid_argument("arch=" + arch + ": must be one of " + supported_arch_list());
}

std::string describe(const KernelSpec& s) {
  return std::string(family_name(s.family)) + " dtype=" + dtype_name(s.dtype) +
         " K=" + std::to_string(s.key_dim) + " V=" + std::to_string(s.value_dim) +
         " C=" + std::to_string(s.chunk) + " L=" + std::to_string(s.levels) +
         " block_k=" + std::to_string(s.tile.block_k) +
         " block_v=" + std::to_string(s.tile.block_v) + " warps=" + std::to_string(s.tile.warps) +
         " algorithm=" + algorithm_name(s.tile.algorithm) + " arch=" + s.arch;
}

void validate(const KernelSpec& s) {
  // Both throw for an enum value cast from an out-of-range integer.
  family_name(s.family);
  dtype_name(s.dtype);
  if (s.key_dim < 16 || s.key_dim > 256 || s.key_dim % 16 != 0)
    reject("key_dim", s.key_dim, "must be a multiple of 16 in [16, 256]");
  if (s.value_dim < 16 || s.value_dim > 512 || s.value_dim % 16 != 0)
    reject("value_dim", s.value_dim, "must be a multiple of 16 in [16, 512]");
  if (s.chunk < 16 || s.chunk > 128 || !is_power_of_two(s.chunk))
    reject("chunk", s.chunk, "must be a power of two in [16, 128]");
  if (s.levels < 1 || s.levels > 64) reject("levels", s.levels, "must be in [1, 64]");
  algorithm_name(s.tile.algorithm);
  if (s.tile.algorithm == Algorithm::fma &&
      (!is_tile_width(s.tile.block_k) || s.key_dim % s.tile.block_k != 0))
    reject("tile.block_k", s.tile.block_k,
           "must be 16, 32 or 64 and divide key_dim=" + std::to_string(s.key_dim));
  if (!is_tile_width(s.tile.block_v) || s.value_dim % s.tile.block_v != 0)
    reject("tile.block_v", s.tile.block_v,
           "must be 16, 32 or 64 and divide value_dim=" + std::to_string(s.value_dim));
  if (!is_power_of_two(s.tile.warps) || s.tile.warps > 8)
    reject("tile.warps", s.tile.warps, "must be 1, 2, 4 or 8");
  if (uses_tensor_cores(s.tile.algorithm)) {
    const std::string algorithm = algorithm_name(s.tile.algorithm);
    if (s.dtype == Dtype::f32)
      throw std::invalid_argument("tile.algorithm=" + algorithm + ": needs bf16 or f16 inputs, not f32");
    if (s.tile.warps * 16 != s.chunk)
      reject("tile.warps", s.tile.warps,
             "must be chunk / 16 = " + std::to_string(s.chunk / 16) + " for algorithm " + algorithm);
  }
  // The scan reads K in 32-row steps. At chunk 128 its 16 warps get 128 registers each
  // (65536 a block) and spill, so it stops at 64.
  if (s.tile.algorithm == Algorithm::scan && s.key_dim % 32 != 0)
    reject("key_dim", s.key_dim, "must be a multiple of 32 for algorithm scan");
  if (s.tile.algorithm == Algorithm::scan && s.chunk > 64)
    reject("chunk", s.chunk, "must be at most 64 for algorithm scan");
  // A chunk is one warpgroup's 64 rows; slots form in 64-row steps of K; block_v is a wgmma N.
  if (s.tile.algorithm == Algorithm::scan_wgmma) {
    if (s.arch != "sm_90a")
      throw std::invalid_argument("arch=" + s.arch + ": algorithm scan_wgmma needs sm_90a (wgmma)");
    if (s.chunk != 64) reject("chunk", s.chunk, "must be 64 for algorithm scan_wgmma");
    if (s.key_dim % 64 != 0) reject("key_dim", s.key_dim, "must be a multiple of 64 for algorithm scan_wgmma");
    if (s.tile.block_v == 16) reject("tile.block_v", s.tile.block_v, "must be 32 or 64 for algorithm scan_wgmma");
  }
  arch_sm_number(s.arch);
}

}  // namespace lla::compiler
