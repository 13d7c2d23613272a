/* The C API from C99: versions, names, defaults, struct sizes, and lla_create / lla_forward
 * behaviour with and without a GPU. Prints one line per check and exits nonzero when any fails.
 * Built twice: against the build tree (c_api_test) and against an installed tree, through the
 * CMake package and pkg-config (tests/install). */
#define _POSIX_C_SOURCE 200809L /* dlopen, to tell whether a CUDA driver is installed */

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <lla/lla.h>

static int failures = 0;

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

static int contains(const char *text, const char *part) {
  return text != NULL && strstr(text, part) != NULL;
}

static void check_names(void) {
  check(strcmp(lla_status_string(LLA_SUCCESS), "LLA_SUCCESS") == 0, "status string of LLA_SUCCESS");
  check(strcmp(lla_status_string(LLA_ERR_NO_DEVICE), "LLA_ERR_NO_DEVICE") == 0,
        "status string of LLA_ERR_NO_DEVICE");
  check(strcmp(lla_status_string(LLA_ERR_INTERNAL), "LLA_ERR_INTERNAL") == 0,
        "status string of LLA_ERR_INTERNAL");
  check(strcmp(lla_status_string((lla_status)42), "LLA_ERR_UNKNOWN_STATUS") == 0,
        "status string of an unknown status");
  check(lla_num_levels(1) == 1 && lla_num_levels(1024) == 11 && lla_num_levels(1025) == 12,
        "lla_num_levels");
}

static void check_versions(void) {
  check(lla_version_number() == LLA_VERSION_NUMBER,
        "lla_version_number() is the header's LLA_VERSION_NUMBER");
  check(LLA_VERSION_NUMBER ==
            LLA_VERSION_MAJOR * 1000000 + LLA_VERSION_MINOR * 1000 + LLA_VERSION_PATCH,
        "LLA_VERSION_NUMBER is MAJOR * 1000000 + MINOR * 1000 + PATCH");
  check(strcmp(lla_version(), LLA_VERSION) == 0, "lla_version() is the header's LLA_VERSION");
  check(lla_source_id() != NULL && lla_source_id()[0] != '\0', "lla_source_id() names a source");
  printf("      liblla %s (%d), source %s\n", lla_version(), lla_version_number(), lla_source_id());
}

static void check_defaults(void) {
  lla_options options;
  lla_problem problem;
  lla_options_init(&options);
  check(options.device == 0 && options.cache_dir == NULL && options.tune == LLA_TUNE_FROM_ENV &&
            options.log_level == LLA_LOG_FROM_ENV,
        "lla_options_init fills the defaults");
  lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 2, 100, 4, 2, 64, 64);
  check(problem.levels == lla_num_levels(100) && problem.chunk == 0 && problem.scale == 1.0f,
        "lla_problem_init fills levels, chunk and scale");
  lla_options_init(NULL);
  lla_problem_init(NULL, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 1, 1, 1, 16, 16);
  check(1, "the init functions do nothing with NULL");
}

/* Every struct the caller passes carries its size (lla.h, "Growing structs"). */
static void check_struct_sizes(void) {
  lla_options options;
  lla_problem problem;
  lla_forward_args forward_args;
  lla_decode_problem decode_problem;
  lla_decode_args decode_args;
  lla_context *ctx = NULL;
  lla_status status;
  struct {
    lla_options known;
    double field_of_a_newer_header;
  } newer;

  lla_options_init(&options);
  lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 64, 1, 1, 64, 64);
  lla_forward_args_init(&forward_args);
  lla_decode_problem_init(&decode_problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 1, 1, 64, 64, 9);
  lla_decode_args_init(&decode_args);
  check(options.struct_size == sizeof options && problem.struct_size == sizeof problem &&
            forward_args.struct_size == sizeof forward_args &&
            decode_problem.struct_size == sizeof decode_problem &&
            decode_args.struct_size == sizeof decode_args,
        "each init sets struct_size to the caller's sizeof");
  check(forward_args.q == NULL && forward_args.seq_offsets == NULL && forward_args.num_seqs == 0 &&
            decode_args.state == NULL && decode_args.advance_positions == 0,
        "the args inits leave every tensor NULL");

  memset(&options, 0, sizeof options);
  status = lla_create(&options, &ctx);
  check(status == LLA_ERR_INVALID_ARGUMENT && ctx == NULL &&
            contains(lla_last_error(NULL), "lla_options.struct_size") &&
            contains(lla_last_error(NULL), "lla_options_init"),
        "a zeroed lla_options is refused, naming struct_size and lla_options_init");

  memset(&newer, 0xab, sizeof newer);
  lla_options_init_sized(&newer.known, sizeof newer);
  check(newer.known.struct_size == sizeof newer && newer.field_of_a_newer_header == 0.0,
        "lla_options_init_sized writes the caller's whole size, zero past what it knows");
  status = lla_create(&newer.known, &ctx);
  check(status == LLA_SUCCESS || status == LLA_ERR_NO_DEVICE,
        "a newer program's lla_options with its new field at the default is accepted");
  lla_destroy(ctx);
  newer.field_of_a_newer_header = 1.0;
  ctx = NULL;
  status = lla_create(&newer.known, &ctx);
  check(status == LLA_ERR_NOT_SUPPORTED && ctx == NULL &&
            contains(lla_last_error(NULL), "newer lla.h"),
        "a newer program's lla_options that sets its new field is LLA_ERR_NOT_SUPPORTED");
}

static void check_null_context(void) {
  lla_problem problem;
  lla_forward_args args;
  lla_forward_args_init(&args);
  lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 64, 1, 1, 64, 64);
  check(lla_forward(NULL, &problem, &args, NULL) == LLA_ERR_INVALID_ARGUMENT,
        "lla_forward with a NULL context is LLA_ERR_INVALID_ARGUMENT");
  check(contains(lla_last_error(NULL), "ctx"), "and lla_last_error names ctx");
  check(lla_create(NULL, NULL) == LLA_ERR_INVALID_ARGUMENT,
        "lla_create with a NULL output is LLA_ERR_INVALID_ARGUMENT");
  lla_destroy(NULL);
  check(strcmp(lla_last_error(NULL), "") == 0, "lla_destroy(NULL) is a no-op that clears the error");
}

static int driver_installed(void) {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) return 0;
  dlclose(library);
  return 1;
}

static void check_create(void) {
  lla_context *ctx = (lla_context *)&failures; /* any non-NULL value: lla_create must reset it */
  lla_status status = lla_create(NULL, &ctx);
  printf("      lla_create: %s%s%s\n", lla_status_string(status), status ? ": " : "",
         lla_last_error(NULL));
  if (!driver_installed()) {
    check(status == LLA_ERR_NO_DEVICE, "without libcuda.so.1, lla_create is LLA_ERR_NO_DEVICE");
    check(ctx == NULL, "and leaves *ctx NULL");
    check(contains(lla_last_error(NULL), "CUDA driver"), "and lla_last_error mentions the driver");
    return;
  }
  if (status == LLA_ERR_NO_DEVICE) {
    check(ctx == NULL, "a driver without a usable device: LLA_ERR_NO_DEVICE leaves *ctx NULL");
    return;
  }
  check(status == LLA_SUCCESS, "with a device, lla_create succeeds");
  if (status != LLA_SUCCESS) return;
  check(strcmp(lla_last_error(ctx), "") == 0, "and leaves no error message");
  {
    lla_problem problem;
    lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 64, 1, 1, 64, 64);
    check(lla_forward(ctx, &problem, NULL, NULL) == LLA_ERR_INVALID_ARGUMENT,
          "lla_forward with NULL args is LLA_ERR_INVALID_ARGUMENT");
    check(contains(lla_last_error(ctx), "lla_forward_args"), "and the message names lla_forward_args");
    problem.key_dim = 40;
    check(lla_forward(ctx, &problem, NULL, NULL) == LLA_ERR_INVALID_ARGUMENT,
          "invalid arguments are reported before unsupported sizes");
  }
  lla_destroy(ctx);
}

int main(void) {
  check_versions();
  check_names();
  check_defaults();
  check_struct_sizes();
  check_null_context();
  check_create();
  printf("%s: %d check(s) failed\n", failures ? "FAIL" : "ok  ", failures);
  return failures ? 1 : 0;
}
