// The C API entries that need no context: versions, names, defaults, level counts.
#include "lla/lla.h"

#include <string_view>

#include "api/sized_structs.h"
#include "levels/fenwick_levels.h"

// The header's version macros agree with each other and with the version CMake builds (which
// it reads from them).
static_assert(LLA_VERSION_NUMBER ==
              LLA_VERSION_MAJOR * 1000000 + LLA_VERSION_MINOR * 1000 + LLA_VERSION_PATCH);
static_assert(std::string_view(LLA_VERSION) == LLA_VERSION_STRING);

using lla::runtime::write_sized;

extern "C" {

int lla_version_number(void) { return LLA_VERSION_NUMBER; }

const char* lla_version(void) { return LLA_VERSION; }

const char* lla_status_string(lla_status s) {
  switch (s) {
    case LLA_SUCCESS: return "LLA_SUCCESS";
    case LLA_ERR_INVALID_ARGUMENT: return "LLA_ERR_INVALID_ARGUMENT";
    case LLA_ERR_NOT_SUPPORTED: return "LLA_ERR_NOT_SUPPORTED";
    case LLA_ERR_NO_DEVICE: return "LLA_ERR_NO_DEVICE";
    case LLA_ERR_CUDA: return "LLA_ERR_CUDA";
    case LLA_ERR_COMPILE: return "LLA_ERR_COMPILE";
    case LLA_ERR_CACHE: return "LLA_ERR_CACHE";
    case LLA_ERR_OUT_OF_MEMORY: return "LLA_ERR_OUT_OF_MEMORY";
    case LLA_ERR_INTERNAL: return "LLA_ERR_INTERNAL";
  }
  return "LLA_ERR_UNKNOWN_STATUS";
}

int lla_num_levels(long long seq_len) {
  return seq_len < 1 ? 0 : lla::levels::num_levels(seq_len);
}

void lla_options_init_sized(lla_options* opts, size_t struct_size) {
  lla_options o{};
  o.device = 0;
  o.cache_dir = nullptr;
  o.tune = LLA_TUNE_FROM_ENV;
  o.log_level = LLA_LOG_FROM_ENV;
  o.tune_budget_seconds = 0;
  o.backend = LLA_BACKEND_AUTO;
  write_sized(opts, struct_size, o);
}

// The inits list the fields in their order (lla.h): a field appended later is left out here
// and so starts at zero, its default.
void lla_problem_init_sized(lla_problem* p, size_t struct_size, lla_variant variant,
                            lla_dtype dtype, int batch, int seq_len, int heads, int groups,
                            int key_dim, int value_dim) {
  const lla_problem defaults{struct_size, variant, dtype,   batch,
                             seq_len,     heads,   groups,  key_dim,
                             value_dim,   lla_num_levels(seq_len), /*chunk=*/0,
                             /*scale=*/1.0f, /*qk_l2norm=*/0};
  write_sized(p, struct_size, defaults);
}

void lla_forward_args_init_sized(lla_forward_args* a, size_t struct_size) {
  write_sized(a, struct_size, lla_forward_args{});
}

void lla_decode_problem_init_sized(lla_decode_problem* p, size_t struct_size,
                                   lla_variant variant, lla_dtype dtype, int batch, int heads,
                                   int groups, int key_dim, int value_dim,
                                   long long max_position) {
  const int levels =
      max_position < 0 ? 0 : lla::levels::bit_length(static_cast<uint64_t>(max_position)) + 1;
  const lla_decode_problem defaults{struct_size, variant,   dtype,  batch,
                                    heads,       groups,    key_dim, value_dim,
                                    levels,      max_position, /*scale=*/1.0f,
                                    /*qk_l2norm=*/0};
  write_sized(p, struct_size, defaults);
}

void lla_decode_args_init_sized(lla_decode_args* a, size_t struct_size) {
  write_sized(a, struct_size, lla_decode_args{});
}

}  // extern "C"
