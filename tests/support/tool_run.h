#pragma once
// Runs the built `lla` program (LLA_TOOL_PATH) as a user would, capturing what it prints.

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "scratch_files.h"

namespace lla::test {

struct ToolRun {
  int exit_status;
  std::string out;
  std::string err;
};

inline std::string shell_quoted(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// `lla <command> <args...>`; stderr goes through a scratch file named after the running test.
inline ToolRun run_tool(const std::string& command_name, const std::vector<std::string>& args) {
  const std::string err_path = scratch_path("stderr.txt");
  std::string command = shell_quoted(LLA_TOOL_PATH) + " " + command_name;
  for (const std::string& arg : args) command += " " + shell_quoted(arg);
  command += " 2>" + shell_quoted(err_path);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "", "popen failed"};
  ToolRun run{-1, "", ""};
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = read_text(err_path);
  return run;
}

}  // namespace lla::test
