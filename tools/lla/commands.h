#pragma once
// The subcommands of `lla`. Each takes the arguments after its name and returns the exit
// status: 0 success, 1 a check failed, 2 bad usage or bad input. Each parses its arguments
// with one CommandLine (options.h), so `lla <command> --help` lists its options.

#include <string>
#include <vector>

namespace lla::tools {

using Args = std::vector<std::string>;

int check_command(const Args& args);    // lla check [--backend reference|cuda] CASE.json...
int inspect_command(const Args& args);  // lla inspect --variant ... --emit source|ptx|sass|resources
int run_command(const Args& args);      // lla run: the main job
int cache_command(const Args& args);    // lla cache stats|ls|show|export|import|verify|gc
int tune_command(const Args& args);     // lla tune [--sweep]: tune on GPU 0
int bench_command(const Args& args);    // lla bench [--shape ...] | lla bench --decode ...
int env_command(const Args& args);      // lla env [--json]: what a bug report needs

}  // namespace lla::tools
