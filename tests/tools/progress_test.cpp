// The progress line of long work (tools/lla/progress.h): drawn on a terminal, with what is
// done, how far, and the time left within the budget; nothing at all when the stream is a pipe
// or a file, or when the command prints JSON.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "progress.h"

namespace lla::tools {
namespace {

using ::testing::HasSubstr;

// A pseudo-terminal of `columns` columns (0: it reports none): `terminal` is its terminal end
// as a stream; what was written there is read back from the other end.
class PseudoTerminal {
 public:
  explicit PseudoTerminal(unsigned short columns = 200) {
    controller_ = posix_openpt(O_RDWR | O_NOCTTY);
    if (controller_ < 0 || grantpt(controller_) != 0 || unlockpt(controller_) != 0) return;
    terminal = std::fopen(ptsname(controller_), "w");
    winsize size{};
    size.ws_row = 24;
    size.ws_col = columns;
    if (terminal) ioctl(fileno(terminal), TIOCSWINSZ, &size);
  }
  ~PseudoTerminal() {
    if (terminal) std::fclose(terminal);
    if (controller_ >= 0) close(controller_);
  }
  // Everything written so far (the terminal's own processing turns "\n" into "\r\n").
  std::string written() {
    std::fflush(terminal);
    fcntl(controller_, F_SETFL, O_NONBLOCK);
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = read(controller_, buffer, sizeof buffer)) > 0) text.append(buffer, n);
    return text;
  }
  FILE* terminal = nullptr;

 private:
  int controller_ = -1;
};

// A clock the test moves.
struct FakeClock {
  double now = 100;
  Progress::Clock clock() {
    return [this] { return now; };
  }
};

TEST(Progress, OnATerminalShowsTheTaskHowFarAndTheTimeLeft) {
  PseudoTerminal pty;
  ASSERT_NE(pty.terminal, nullptr) << "no pseudo-terminal on this machine";
  FakeClock clock;
  {
    Progress progress(pty.terminal, true, clock.clock());
    progress.set_budget(300);
    progress.task("tuning T<=4096 bf16", 1, 13);
    clock.now += 42;
    progress.update(12, 40, "configs", "best 0.4123 ms");
  }
  const std::string shown = pty.written();
  EXPECT_THAT(shown, HasSubstr("\r[2/13] tuning T<=4096 bf16 | 0:00, 5:00 left of 5:00\x1b[K"));
  EXPECT_THAT(shown, HasSubstr("\r[2/13] tuning T<=4096 bf16 | 12/40 configs, best 0.4123 ms | "
                               "0:42, 4:18 left of 5:00\x1b[K"));
  // Destroyed: the line is erased, so what is printed next starts clean.
  EXPECT_EQ(shown.substr(shown.size() - 4), "\r\x1b[K");
}

TEST(Progress, WithoutABudgetShowsTheTimeSpent) {
  PseudoTerminal pty;
  ASSERT_NE(pty.terminal, nullptr) << "no pseudo-terminal on this machine";
  FakeClock clock;
  Progress progress(pty.terminal, true, clock.clock());
  clock.now += 3725;
  progress.task("shape 2048:16", 0, 1);
  EXPECT_THAT(pty.written(), HasSubstr("\rshape 2048:16 | 1:02:05 so far\x1b[K"));
}

TEST(Progress, OnATerminalDrawsOnlyWhenNoJsonIsAsked) {
  PseudoTerminal pty;
  ASSERT_NE(pty.terminal, nullptr) << "no pseudo-terminal on this machine";
  {
    Progress progress = Progress::on_terminal(pty.terminal, false);
    EXPECT_TRUE(progress.enabled());
    progress.task("benchmark", 0, 2);
  }
  EXPECT_THAT(pty.written(), HasSubstr("[1/2] benchmark"));
  {
    Progress progress = Progress::on_terminal(pty.terminal, true);
    EXPECT_FALSE(progress.enabled());
    progress.task("benchmark", 0, 2);
    progress.update(1, 2, "shapes");
  }
  EXPECT_EQ(pty.written(), "");
}

TEST(Progress, IntoAPipeOrAFileWritesNothing) {
  int ends[2];
  ASSERT_EQ(pipe(ends), 0);
  FILE* into_pipe = fdopen(ends[1], "w");
  FILE* into_file = std::tmpfile();
  for (FILE* stream : {into_pipe, into_file}) {
    Progress progress = Progress::on_terminal(stream, false);
    EXPECT_FALSE(progress.enabled());
    progress.set_budget(10);
    progress.task("tuning", 0, 3);
    progress.update(1, 5, "configs", "best 1 ms");
    progress.clear();
  }
  std::fclose(into_pipe);
  char byte;
  EXPECT_EQ(read(ends[0], &byte, 1), 0) << "the progress line reached a pipe";
  close(ends[0]);
  std::fflush(into_file);
  EXPECT_EQ(std::ftell(into_file), 0) << "the progress line reached a file";
  std::fclose(into_file);
}

TEST(Progress, ALongLineIsCutToTheTerminalWidth) {
  for (unsigned short columns : {60, 0}) {  // 0: the terminal reports none, 80 are assumed
    PseudoTerminal pty(columns);
    ASSERT_NE(pty.terminal, nullptr) << "no pseudo-terminal on this machine";
    Progress progress(pty.terminal, true);
    progress.task(std::string(500, 'x'), 0, 1);
    const std::string shown = pty.written();
    const size_t width = columns ? columns : 80;
    // "\r", the line one column short of the width (a full line would wrap), "\x1b[K".
    EXPECT_EQ(shown, "\r" + std::string(width - 4, 'x') + "...\x1b[K") << columns;
  }
}

}  // namespace
}  // namespace lla::tools
