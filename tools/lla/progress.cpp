#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace lla::tools {
namespace {

// "1:05", "12:00:03".
std::string clock_text(double seconds) {
  const long total = std::lround(std::max(0.0, seconds));
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

// Columns of the terminal, so the line never wraps (a wrapped line cannot be redrawn in place).
size_t terminal_columns(FILE* stream) {
  winsize size{};
  if (ioctl(fileno(stream), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

double Progress::steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Progress Progress::on_terminal(FILE* stream, bool json) {
  return Progress(stream, !json && isatty(fileno(stream)) == 1);
}

Progress::Progress(FILE* stream, bool enabled, Clock clock)
    : stream_(stream), enabled_(enabled), clock_(std::move(clock)), started_(clock_()) {}

Progress::~Progress() { clear(); }

void Progress::set_budget(double seconds) {
  started_ = clock_();
  budget_ = seconds;
}

void Progress::task(const std::string& what, size_t index, size_t count) {
  task_ = count > 1 ? "[" + std::to_string(index + 1) + "/" + std::to_string(count) + "] " + what
                    : what;
  step_.clear();
  draw();
}

void Progress::update(size_t done, size_t total, const std::string& unit, const std::string& note) {
  step_ = std::to_string(done) + "/" + std::to_string(total) + " " + unit;
  if (!note.empty()) step_ += ", " + note;
  draw();
}

void Progress::clear() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\x1b[K", stream_);
  std::fflush(stream_);
  drawn_ = false;
}

void Progress::draw() {
  if (!enabled_) return;
  const double spent = clock_() - started_;
  std::string line = task_;
  if (!step_.empty()) line += " | " + step_;
  line += " | " + clock_text(spent);
  if (budget_ > 0)
    line += ", " + clock_text(budget_ - spent) + " left of " + clock_text(budget_);
  else
    line += " so far";
  const size_t width = terminal_columns(stream_) - 1;
  if (line.size() > width) line = line.substr(0, width - 3) + "...";
  std::fprintf(stream_, "\r%s\x1b[K", line.c_str());
  std::fflush(stream_);
  drawn_ = true;
}

}  // namespace lla::tools
