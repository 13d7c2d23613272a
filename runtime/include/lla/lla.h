/* lla: JIT-compiled, autotuned log-linear attention. The C API.
 *
 * This header is the documentation of the API: what each call does, what it accepts, what every
 * NULL means and how long everything it returns lives.
 *
 * Style of the cuDNN/cuBLAS family: an opaque context, plain structs in, a status out, the
 * caller's stream, no hidden synchronisation, no exceptions across the boundary. The header is
 * C99 (and C++); liblla is C++ with C linkage for everything here.
 *
 * Errors. Every call that returns an lla_status leaves a message on the calling thread, read
 * with lla_last_error(): "" after a success, else the offending field or cause, named as
 * "<struct>.<field>" (e.g. "lla_problem.key_dim: 40 is not a multiple of 16"). A NULL where a
 * pointer is required is LLA_ERR_INVALID_ARGUMENT naming the argument, never a crash.
 *
 * Threads. Calls on different contexts are independent. One context may be used from several
 * threads at once (lla_forward, lla_decode_step, lla_tune), except that lla_destroy must not
 * overlap any other call on the same context. Last-error messages and tuning reports are per
 * thread.
 *
 * Memory. Every string and report lla returns is owned by lla; each call says how long it
 * stays valid. lla keeps no pointer from a struct the caller passes beyond the call that takes
 * it (lla_options.cache_dir, host arrays and device pointers of the args alike); device work a
 * call queues reads and writes the device tensors on the caller's stream, after the call
 * returns.
 *
 * Tensors are memory of the context's backend (lla_backend: device or managed memory of its GPU
 * for CUDA) in the time-first layout of spec/loglinear.md:
 *   q, k    [B, T, G, K]   dtype of the problem
 *   v, o    [B, T, H, V]   dtype of the problem
 *   g       [B, T, H]      float32, per-token log decay (<= 0)
 *   beta    [B, T, H]      dtype of the problem (Gated DeltaNet only)
 *   lambda  [B, T, H, L]   dtype of the problem
 *   state   [B, H, L, K, V] float32 (a Fenwick state)
 * Head h reads q/k group h / (H / G). All tensors are dense (row-major, no strides).
 */
#ifndef LLA_LLA_H
#define LLA_LLA_H

#include <stddef.h> /* size_t */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ------------------------------------------------------------------------------
 *
 * The macros are the version of this header; lla_version_number() and lla_version() are the
 * version of the liblla the program runs with, which may differ when liblla is a shared
 * library: compare them to check what you compiled against. LLA_VERSION_NUMBER is
 * MAJOR * 1000000 + MINOR * 1000 + PATCH, so versions compare as integers. While MAJOR is 0, a
 * new MINOR may change the binary interface (the shared library's soname carries MAJOR.MINOR);
 * the structs below only grow at their end (see "Growing structs"). */

#define LLA_VERSION_MAJOR 0
#define LLA_VERSION_MINOR 2
#define LLA_VERSION_PATCH 0
#define LLA_VERSION "0.2.0"
#define LLA_VERSION_NUMBER 2000

/* LLA_VERSION_NUMBER of the library. */
int lla_version_number(void);

/* LLA_VERSION of the library, e.g. "0.2.0". A static string; never NULL. */
const char *lla_version(void);

/* The source the library was built from: the git commit, with "-dirty" when the checkout had
 * uncommitted changes, or "unknown" when it was not built from a git checkout. A static
 * string; never NULL. Give it with lla_version() in bug reports (`lla env` prints both). */
const char *lla_source_id(void);

/* ---- Status --------------------------------------------------------------------------------- */

typedef enum lla_status {
  LLA_SUCCESS = 0,
  LLA_ERR_INVALID_ARGUMENT = 1, /* a field of an argument is wrong; the message names it */
  LLA_ERR_NOT_SUPPORTED = 2,    /* valid, but not (yet) supported by lla (e.g. a K too large) */
  LLA_ERR_NO_DEVICE = 3,        /* no CUDA driver or no device (and no other backend) */
  LLA_ERR_CUDA = 4,             /* a CUDA driver call failed */
  LLA_ERR_COMPILE = 5,          /* NVRTC rejected generated source (an lla bug) */
  LLA_ERR_CACHE = 6,            /* the cache could not be opened or written */
  LLA_ERR_OUT_OF_MEMORY = 7,    /* host or device allocation failed */
  LLA_ERR_INTERNAL = 8          /* an invariant of lla broke (an lla bug) */
} lla_status;

/* A static name for a status, e.g. "LLA_ERR_INVALID_ARGUMENT"; "LLA_ERR_UNKNOWN_STATUS" for a
 * value that is none of the above. Never NULL; valid for the life of the process. */
const char *lla_status_string(lla_status s);

typedef enum lla_variant {
  LLA_VARIANT_MAMBA2 = 0,        /* log-linear Mamba-2 */
  LLA_VARIANT_GATED_DELTANET = 1 /* log-linear Gated DeltaNet */
} lla_variant;

typedef enum lla_dtype { LLA_DTYPE_F32 = 0, LLA_DTYPE_F16 = 1, LLA_DTYPE_BF16 = 2 } lla_dtype;

typedef enum lla_tune_policy {
  LLA_TUNE_FROM_ENV = 0, /* LLA_TUNE, else on-miss */
  LLA_TUNE_OFF = 1,      /* the documented heuristic configuration; never times anything */
  LLA_TUNE_ON_MISS = 2,  /* tune the first time a problem bucket is seen on this device */
  LLA_TUNE_FORCE = 3     /* tune again even when a result is cached */
} lla_tune_policy;

typedef enum lla_log_level {
  LLA_LOG_FROM_ENV = 0, /* LLA_LOG, else warn */
  LLA_LOG_ERROR = 1,
  LLA_LOG_WARN = 2,
  LLA_LOG_INFO = 3,
  LLA_LOG_DEBUG = 4
} lla_log_level;

/* ---- Growing structs -----------------------------------------------------------------------
 *
 * Every struct the caller passes in (lla_options, lla_problem, lla_forward_args,
 * lla_decode_problem, lla_decode_args) begins with struct_size, and has an init function that
 * sets struct_size to sizeof the struct as the caller's compiler laid it out, and every other
 * field to its default. Fill a struct with its init before setting fields: a struct_size that
 * is no size of the struct (0 from a struct zeroed with memset or = {0}, and most of what an
 * uninitialised one holds) is LLA_ERR_INVALID_ARGUMENT naming struct_size and the init to
 * call. Copying an initialised struct (q = p) copies its struct_size and is fine.
 *
 * Why a size rather than new entry points for each change: these structs grow with the
 * families and backends still to come (a backend choice in lla_options, the adaptive-lambda
 * weights in lla_forward_args), and one entry point per struct version would multiply
 * lla_forward, lla_tune and every init with each of them. The size tells lla which fields a
 * program knows, so one entry point serves every version, in both directions:
 *
 *   - Fields are only ever appended; none is moved, retyped or removed, and a field's zero
 *     value is its default, the behaviour lla had before the field existed.
 *   - A program compiled against an older lla.h, run with a newer liblla: its struct_size is
 *     smaller, lla reads only the fields it covers and gives the later fields their defaults.
 *   - A program compiled against a newer lla.h, run with an older liblla: lla reads the fields
 *     it knows; the bytes past them must still be zero (the program left the newer fields at
 *     their defaults, as the older liblla's init left them), else the call fails with
 *     LLA_ERR_NOT_SUPPORTED naming the struct, both sizes and the first byte set.
 *
 * The init functions are static inline wrappers, so that sizeof is taken where the caller is
 * compiled; each calls an exported lla_*_init_sized(struct, size, ...), which bindings that do
 * not compile this header (ctypes, cffi) call with their own size. An init_sized writes exactly
 * struct_size bytes and does nothing when the pointer is NULL.
 *
 * lla_tune_report, which lla writes, is the exception: its layout is fixed, and what later
 * versions report beyond it goes into its details_json. */

/* ---- Context -------------------------------------------------------------------------------- */

/* Where kernels run. Tensors are memory of that backend: device (or managed) memory of the
 * context's GPU for CUDA; host memory for the CPU. */
typedef enum lla_backend {
  LLA_BACKEND_AUTO = 0, /* CUDA when a CUDA driver and device exist, else the CPU */
  LLA_BACKEND_CUDA = 1, /* a CUDA GPU (lla_options.device): NVRTC and the driver API */
  LLA_BACKEND_CPU = 2   /* this machine's CPU: not available yet (LLA_ERR_NOT_SUPPORTED) */
} lla_backend;

typedef struct lla_options {
  size_t struct_size;         /* set by lla_options_init */
  int device;                 /* CUDA device ordinal; default 0 */
  const char *cache_dir;      /* NULL or "": LLA_CACHE_DIR, else $XDG_CACHE_HOME/lla, else
                                 ~/.cache/lla. Copied by lla_create. */
  lla_tune_policy tune;       /* default LLA_TUNE_FROM_ENV */
  lla_log_level log_level;    /* default LLA_LOG_FROM_ENV; messages go to stderr */
  double tune_budget_seconds; /* the longest one problem's tuning may take; 0 (the default):
                                 30 s */
  lla_backend backend;        /* default LLA_BACKEND_AUTO */
} lla_options;

/* Sets struct_size and the defaults above. Nothing when opts is NULL. */
void lla_options_init_sized(lla_options *opts, size_t struct_size);
static inline void lla_options_init(lla_options *opts) {
  lla_options_init_sized(opts, sizeof(lla_options));
}

typedef struct lla_context lla_context;

/* Opens device opts->device and the cache, and resolves every "from the environment" setting
 * (a wrong LLA_TUNE or LLA_LOG is LLA_ERR_INVALID_ARGUMENT naming the variable). opts may be
 * NULL: the defaults. ctx must not be NULL. On success *ctx is a context that the caller owns
 * and frees with lla_destroy; on failure *ctx is NULL and lla_last_error(NULL) says why:
 * LLA_ERR_NO_DEVICE without a CUDA driver or device (the message says which),
 * LLA_ERR_INVALID_ARGUMENT for a device ordinal the driver does not have, LLA_ERR_NOT_SUPPORTED
 * for a device lla cannot use, LLA_ERR_CACHE when an explicit cache_dir cannot be opened (the
 * default location only warns and runs uncached). */
lla_status lla_create(const lla_options *opts, lla_context **ctx);

/* Waits for the work ctx queued on the device, then frees ctx and every kernel it loaded.
 * lla_destroy(NULL) is a no-op, like free(NULL). Like every call, clears this thread's
 * lla_last_error(). ctx must not be used afterwards, and no other call on ctx may run while it
 * is destroyed. */
void lla_destroy(lla_context *ctx);

/* The message of the last call on this thread that reports errors; "" when it succeeded.
 * Messages are per thread, not per context: ctx is accepted for symmetry and may be NULL
 * (e.g. after a failed lla_create). Never NULL; valid until the next lla call on this thread. */
const char *lla_last_error(const lla_context *ctx);

/* ---- Problems ------------------------------------------------------------------------------- */

typedef struct lla_problem {
  size_t struct_size; /* set by lla_problem_init */
  lla_variant variant;
  lla_dtype dtype;    /* of q, k, v, lambda, beta and o */
  int batch;          /* B >= 1 */
  int seq_len;        /* T >= 1 */
  int heads;          /* H >= 1 */
  int groups;         /* G >= 1 q/k groups, H % G == 0 */
  int key_dim;        /* K: multiple of 16, at most 256 */
  int value_dim;      /* V: multiple of 16, at most 512 */
  int levels;         /* L >= num_levels(T) = ceil(log2 T) + 1 */
  int chunk;          /* C: power of two from 16 to 128, or 0 to let lla choose */
  float scale;        /* q is multiplied by it (after l2norm when qk_l2norm); 0 means 1 */
  int qk_l2norm;      /* nonzero: q and k divided by sqrt(sum of squares + 1e-6) in-kernel */
} lla_problem;

/* Sets struct_size and a problem of the given variant, dtype and sizes, with
 * levels = lla_num_levels(seq_len), chunk 0, scale 1 and no l2norm. The sizes are not
 * checked here: lla_forward and lla_tune do, naming the field. Nothing when p is NULL. */
void lla_problem_init_sized(lla_problem *p, size_t struct_size, lla_variant variant,
                            lla_dtype dtype, int batch, int seq_len, int heads, int groups,
                            int key_dim, int value_dim);
static inline void lla_problem_init(lla_problem *p, lla_variant variant, lla_dtype dtype,
                                    int batch, int seq_len, int heads, int groups, int key_dim,
                                    int value_dim) {
  lla_problem_init_sized(p, sizeof(lla_problem), variant, dtype, batch, seq_len, heads, groups,
                         key_dim, value_dim);
}

/* Levels a sequence of length T needs: ceil(log2 T) + 1 (1 for T = 1); 0 for T < 1. */
int lla_num_levels(long long seq_len);

/* ---- Sequences and states of a forward (prefill) -------------------------------------------
 *
 * By default a forward runs B sequences of T tokens, each from position 0, and returns o
 * only. The optional fields below make it a prefill of a serving engine (spec/loglinear.md
 * section 7); leave them at their defaults (zero / NULL) otherwise.
 *
 * Packed sequences: with seq_offsets, the call holds num_seqs sequences packed along T (like
 * cu_seqlens of FlashAttention): batch must be 1, seq_len the packed token count, and
 * sequence s the rows [seq_offsets[s], seq_offsets[s+1]). No work is spent on padding. A
 * sequence may be empty (its final state is its initial state). Without seq_offsets the call
 * has num_seqs = batch sequences of seq_len tokens.
 *
 * Continuing: start_positions[s] = P says sequence s already consumed P tokens; its tokens
 * are positions P, P+1, ... and initial_state holds its Fenwick state after them (the state
 * layout of lla_decode_step: level 0 token P-1, level l >= 1 live iff bit l-1 of P-1 is set,
 * empty levels zero). Any P is exact: lla applies the rule of spec section 7 inside the
 * chunked pass. levels must cover every position: levels >= lla_num_levels(P + length).
 *
 * Handing on: final_state receives each sequence's Fenwick state after its last token, ready
 * for lla_decode_step at position P + length (final_positions receives that number). It may
 * be the initial_state memory itself (updated in place).
 *
 * seq_offsets, start_positions and final_positions are host memory, read and written during
 * the call only: lla plans the launches from them (a small table goes to the device with the
 * call). States are device memory, [num_seqs, H, L, K, V] float32, 16-byte aligned. */

typedef struct lla_forward_args {
  size_t struct_size;  /* set by lla_forward_args_init */
  const void *q;       /* 16-byte aligned */
  const void *k;       /* 16-byte aligned */
  const void *v;       /* 16-byte aligned */
  const float *g;      /* 4-byte aligned */
  const void *beta;    /* Gated DeltaNet only; NULL for Mamba-2 */
  const void *lambda;  /* 16-byte aligned */
  void *o;             /* 16-byte aligned; may not overlap the inputs */
  /* Optional (see above): */
  int num_seqs;                      /* with seq_offsets: the sequences packed along T */
  const long long *seq_offsets;      /* host, num_seqs + 1 entries, [0] = 0, non-decreasing,
                                        [num_seqs] = seq_len; NULL: batch x seq_len */
  const long long *start_positions;  /* host, one per sequence, >= 0; NULL: all 0 */
  const float *initial_state;        /* device; needed when a start position is > 0 */
  float *final_state;                /* device; NULL: not written */
  long long *final_positions;        /* host, one per sequence: P + length; may be NULL */
} lla_forward_args;

/* Sets struct_size, every pointer to NULL and num_seqs to 0. Nothing when a is NULL. */
void lla_forward_args_init_sized(lla_forward_args *a, size_t struct_size);
static inline void lla_forward_args_init(lla_forward_args *a) {
  lla_forward_args_init_sized(a, sizeof(lla_forward_args));
}

/* o = log-linear attention of the inputs, launched on `stream` (a CUstream; NULL for the
 * default stream). ctx, p and a must not be NULL. Returns once the work is queued. The first
 * call for a new kernel compiles it (or loads it from the cache), and under LLA_TUNE_ON_MISS
 * the first call of a new problem bucket tunes it first, within the context's tuning budget
 * (lla_options.tune_budget_seconds; this call then synchronises the device); later calls reuse
 * the kernel with no compile or database work. A plain call (none of the optional fields)
 * queues kernels only and can be captured in a CUDA graph; a call with sequences or states also
 * copies its table from host memory. */
lla_status lla_forward(lla_context *ctx, const lla_problem *p, const lla_forward_args *a,
                       void *stream);

/* ---- Decoding ------------------------------------------------------------------------------
 *
 * One token for each of B sequences, every sequence at its own position (continuous
 * batching), against its Fenwick state, which is updated in place. The tensors of a step are
 * the forward's with T = 1:
 *   q, k    [B, G, K]        v, o  [B, H, V]        g, beta  [B, H]      lambda  [B, H, L]
 *   state   [B, H, L, K, V] float32: level l as in spec/loglinear.md section 5 (level 0 the
 *           last token, level l >= 1 live iff bit l-1 of the last token's position is set,
 *           empty levels zero)
 *   positions [B] int64 in device memory: tokens sequence b consumed before this one.
 * A step at position t reads and writes only the 1 + popcount(t) live levels (and clears
 * the ctz(t) levels it merges). Position 0 starts a sequence: lla clears levels 1..L-1 of
 * that sequence's state, so the slot of a finished sequence is reused without a memset.
 *
 * Positions live in device memory, so lla cannot read them when the call is made. The caller
 * promises 0 <= positions[b] <= max_position, which lla checks against levels at the call;
 * a sequence whose position breaks the promise is not stepped: its state and position stay
 * as they were and its o is NaN.
 *
 * CUDA graphs: lla_decode_step queues one or two kernels and nothing else (no allocation, no
 * synchronisation), so it can be captured. The first call for a new shape loads (maybe
 * compiles) its kernel: make one call with the same problem before capturing. With
 * advance_positions, a replayed graph walks every sequence forward one token per replay. */

typedef struct lla_decode_problem {
  size_t struct_size;     /* set by lla_decode_problem_init */
  lla_variant variant;
  lla_dtype dtype;        /* of q, k, v, lambda, beta and o */
  int batch;              /* B >= 1 sequences, one token each */
  int heads;              /* H >= 1 */
  int groups;             /* G >= 1 q/k groups, H % G == 0 */
  int key_dim;            /* K: multiple of 16, at most 256 */
  int value_dim;          /* V: multiple of 16, at most 512 */
  int levels;             /* L >= lla_num_levels(max_position + 1) */
  long long max_position; /* >= 0: no positions[b] of this call exceeds it */
  float scale;            /* q is multiplied by it; 0 means 1 */
  int qk_l2norm;          /* nonzero: q and k l2-normalised in-kernel (Gated DeltaNet) */
} lla_decode_problem;

/* Sets struct_size and a problem of the given variant, dtype and sizes, with
 * levels = lla_num_levels(max_position + 1) (0 for a negative max_position, which
 * lla_decode_step refuses), scale 1 and no l2norm. Nothing when p is NULL. */
void lla_decode_problem_init_sized(lla_decode_problem *p, size_t struct_size,
                                   lla_variant variant, lla_dtype dtype, int batch, int heads,
                                   int groups, int key_dim, int value_dim,
                                   long long max_position);
static inline void lla_decode_problem_init(lla_decode_problem *p, lla_variant variant,
                                           lla_dtype dtype, int batch, int heads, int groups,
                                           int key_dim, int value_dim, long long max_position) {
  lla_decode_problem_init_sized(p, sizeof(lla_decode_problem), variant, dtype, batch, heads,
                                groups, key_dim, value_dim, max_position);
}

typedef struct lla_decode_args {
  size_t struct_size;    /* set by lla_decode_args_init */
  const void *q;         /* 16-byte aligned */
  const void *k;         /* 16-byte aligned */
  const void *v;         /* 16-byte aligned */
  const float *g;        /* 4-byte aligned */
  const void *beta;      /* Gated DeltaNet only; NULL for Mamba-2 */
  const void *lambda;    /* 16-byte aligned */
  void *o;               /* 16-byte aligned; may not overlap any other tensor */
  float *state;          /* 16-byte aligned; read and written; may not overlap any other tensor */
  long long *positions;  /* 8-byte aligned; written only with advance_positions */
  int advance_positions; /* nonzero: after the step, on the stream, every stepped position
                            grows by one */
} lla_decode_args;

/* Sets struct_size, every pointer to NULL and advance_positions to 0. Nothing when a is
 * NULL. */
void lla_decode_args_init_sized(lla_decode_args *a, size_t struct_size);
static inline void lla_decode_args_init(lla_decode_args *a) {
  lla_decode_args_init_sized(a, sizeof(lla_decode_args));
}

/* Advances every sequence by one token, launched on `stream` (a CUstream; NULL for the default
 * stream). ctx, p and a must not be NULL. Returns once the work is queued. The Gated DeltaNet
 * step is not available on the GPU yet (LLA_ERR_NOT_SUPPORTED). */
lla_status lla_decode_step(lla_context *ctx, const lla_decode_problem *p,
                           const lla_decode_args *a, void *stream);

/* ---- Tuning --------------------------------------------------------------------------------
 *
 * lla times the configurations of a kernel family on the device it runs on and keeps every
 * measurement in the cache, per problem bucket (same dtype, K, V, levels, chunk and grouping;
 * batch*heads and T rounded up to powers of two) and device. Under LLA_TUNE_ON_MISS the first
 * lla_forward of a new bucket tunes it; lla_tune does it ahead of time. Either stops starting
 * new measurements once the context's tuning budget (lla_options.tune_budget_seconds, 30 s by
 * default) has passed. */

/* Written by lla_tune; its layout is fixed (see "Growing structs"): no struct_size, no init,
 * and the caller need not initialise it. */
typedef struct lla_tune_report {
  int configs;         /* in the family's configuration space */
  int timed;           /* timed by this call */
  int reused;          /* already stored, from an earlier search or an import */
  int failed;          /* did not compile, launch or match the trusted output */
  int pruned;          /* rejected by a resource rule (shared memory, registers, spills) */
  int skipped;         /* not reached within the time budget or count limit */
  double winner_ms;    /* median time of the winner; 0 when nothing is timed */
  double heuristic_ms; /* median time of the untuned default; 0 when it has no timing */
  double elapsed_s;    /* of this call */
  char winner[256];    /* the winning kernel's description; "" when nothing is timed */
  /* Every configuration as JSON ({"problem", "device", "configs": [{"config", "outcome",
   * "median_ms", "min_ms", "max_ms", "noise_ms", "repetitions", "detail"}], "winner"}).
   * Owned by lla; valid until the next lla_tune on this thread. */
  const char *details_json;
} lla_tune_report;

/* Tunes the bucket of *p on ctx's device now, whatever ctx's tuning policy: times the
 * configurations that have no stored measurement, within the context's tuning budget, and
 * makes later lla_forward calls of the bucket use the winner. Waits for another process tuning
 * the same bucket to finish first. Blocks; synchronises the device. ctx and p must not be NULL;
 * report may be NULL (nothing is reported); on failure *report is left as it was. */
lla_status lla_tune(lla_context *ctx, const lla_problem *p, lla_tune_report *report);

#ifdef __cplusplus
}
#endif

#endif /* LLA_LLA_H */
