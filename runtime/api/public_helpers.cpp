// The C API entries that need no context: names, defaults, level counts.
#include "lla/lla.h"

#include "levels/fenwick_levels.h"

extern "C" {

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

void lla_options_init(lla_options* opts) {
  if (!opts) return;
  opts->device = 0;
  opts->cache_dir = nullptr;
  opts->tune = LLA_TUNE_FROM_ENV;
  opts->log_level = LLA_LOG_FROM_ENV;
  opts->tune_budget_seconds = 0;
}

void lla_problem_init(lla_problem* p, lla_variant variant, lla_dtype dtype, int batch,
                      int seq_len, int heads, int groups, int key_dim, int value_dim) {
  if (!p) return;
  p->variant = variant;
  p->dtype = dtype;
  p->batch = batch;
  p->seq_len = seq_len;
  p->heads = heads;
  p->groups = groups;
  p->key_dim = key_dim;
  p->value_dim = value_dim;
  p->levels = lla_num_levels(seq_len);
  p->chunk = 0;
  p->scale = 1.0f;
  p->qk_l2norm = 0;
}

void lla_decode_problem_init(lla_decode_problem* p, lla_variant variant, lla_dtype dtype,
                             int batch, int heads, int groups, int key_dim, int value_dim,
                             long long max_position) {
  if (!p) return;
  p->variant = variant;
  p->dtype = dtype;
  p->batch = batch;
  p->heads = heads;
  p->groups = groups;
  p->key_dim = key_dim;
  p->value_dim = value_dim;
  p->levels = max_position < 0 ? 0 : lla::levels::bit_length(static_cast<uint64_t>(max_position)) + 1;
  p->max_position = max_position;
  p->scale = 1.0f;
  p->qk_l2norm = 0;
}

}  // extern "C"
