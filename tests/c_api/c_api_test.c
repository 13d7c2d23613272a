/* The C API from C99: names, defaults, and lla_create / lla_forward behaviour with and
 * without a GPU. Prints one line per check and exits nonzero when any fails. */
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
}

static void check_null_context(void) {
  lla_problem problem;
  lla_forward_args args;
  memset(&args, 0, sizeof args);
  lla_problem_init(&problem, LLA_VARIANT_MAMBA2, LLA_DTYPE_BF16, 1, 64, 1, 1, 64, 64);
  check(lla_forward(NULL, &problem, &args, NULL) == LLA_ERR_INVALID_ARGUMENT,
        "lla_forward with a NULL context is LLA_ERR_INVALID_ARGUMENT");
  check(contains(lla_last_error(NULL), "ctx"), "and lla_last_error names ctx");
  check(lla_create(NULL, NULL) == LLA_ERR_INVALID_ARGUMENT,
        "lla_create with a NULL output is LLA_ERR_INVALID_ARGUMENT");
  lla_destroy(NULL);
  check(strcmp(lla_last_error(NULL), "") == 0, "lla_destroy(NULL) is harmless and clears the error");
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
  check_names();
  check_defaults();
  check_null_context();
  check_create();
  printf("%s: %d check(s) failed\n", failures ? "FAIL" : "ok  ", failures);
  return failures ? 1 : 0;
}
