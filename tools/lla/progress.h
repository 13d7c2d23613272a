#pragma once
// Progress of long work (tuning, sweeps, benchmarks) for a person at a terminal: one status
// line on stderr, redrawn in place, saying what is being done, how far it is, the time spent
// and the time left within the budget. It draws nothing when stderr is not a terminal or the
// command prints JSON, so piped output, logs and --json stay as they were.

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

namespace lla::tools {

class Progress {
 public:
  using Clock = std::function<double()>;  // seconds on a monotonic clock

  // Draws on `stream` only when it is a terminal and the command does not print JSON.
  static Progress on_terminal(FILE* stream, bool json);
  // Draws on `stream` when `enabled`; tests pass their own clock.
  Progress(FILE* stream, bool enabled, Clock clock = steady_seconds);
  ~Progress();  // erases the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }

  // The time the whole work may take, from now; the line then shows the time left. 0: none,
  // the line shows the time spent.
  void set_budget(double seconds);
  // A new piece of the work: what it is, and its place among `count` pieces (from 0).
  void task(const std::string& what, size_t index, size_t count);
  // How far the piece is: `done` of `total` `unit`s, and a note ("best 0.412 ms").
  void update(size_t done, size_t total, const std::string& unit, const std::string& note = "");
  // Erases the line, so that what is printed next starts on a clean one.
  void clear();

  static double steady_seconds();

 private:
  void draw();

  FILE* stream_;
  bool enabled_;
  Clock clock_;
  double started_ = 0, budget_ = 0;
  std::string task_, step_;
  bool drawn_ = false;
};

}  // namespace lla::tools
