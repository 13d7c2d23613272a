#pragma once
// Runs test code in a forked child, for tests of what several processes do to one cache.

#include <sys/wait.h>
#include <unistd.h>

namespace lla::test {

// Forks, runs body() in the child (which exits with body's return value, skipping atexit
// handlers the parent owns) and waits. Returns the exit code, or 128 + the signal that ended it.
template <typename Body>
int run_in_child(Body body) {
  const pid_t child = fork();
  if (child == 0) _exit(body());
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The exit code (or 128 + signal) of an already forked child.
inline int wait_for_child(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace lla::test
