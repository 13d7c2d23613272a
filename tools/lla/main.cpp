// lla: the command-line program. `lla help` lists the commands, `lla --version` says which lla
// this is.
#include <cstdio>
#include <cstring>
#include <exception>

#include "commands.h"
#include "lla/lla.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const lla::tools::Args&);
  const char* summary;
};

const Command kCommands[] = {
    {"run", lla::tools::run_command,
     "JIT-compile the default problem, run it on the GPU and verify it against the reference"},
    {"check", lla::tools::check_command,
     "run golden cases (lla-case-v1 JSON) through a backend: lla check [--backend reference|cuda] "
     "[--tolerance X] CASE.json..."},
    {"inspect", lla::tools::inspect_command,
     "show what lla generates for a kernel spec: source, PTX, SASS, resources"},
    {"bench", lla::tools::bench_command,
     "time the forward on perf.md's shapes (or --shape ...), or the decode step (--decode)"},
    {"tune", lla::tools::tune_command,
     "tune one problem, or a grid of shapes (--sweep), on the GPU; results go to the cache"},
    {"cache", lla::tools::cache_command,
     "read and maintain the cache: stats, ls, show, export, import, verify, gc"},
    {"env", lla::tools::env_command,
     "what a bug report needs: versions, driver, devices, cache, LLA_* variables"},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: lla <command> [options]\n       lla --version\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-8s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`lla <command> --help` (or `lla help <command>`) describes a command's "
                    "options.\n");
}

const Command* find_command(const char* name) {
  for (const Command& c : kCommands)
    if (!std::strcmp(name, c.name)) return &c;
  return nullptr;
}

int run(const Command& c, const lla::tools::Args& args) {
  try {
    return c.run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lla %s: %s\n", c.name, e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "--version")) {
    std::printf("lla %s (source %s)\n", lla_version(), lla_source_id());
    return 0;
  }
  if (argc >= 3 && !std::strcmp(argv[1], "help")) {
    if (const Command* c = find_command(argv[2])) return run(*c, {"--help"});
  }
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (const Command* c = find_command(argv[1])) return run(*c, lla::tools::Args(argv + 2, argv + argc));
  std::fprintf(stderr, "lla: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
