#pragma once
// One option parser for every `lla` command. A command declares its options once (name, value,
// help, and what stores a value), and parsing, the errors and `--help` all come from those
// declarations: every command takes `--opt value` and `--opt=value`, names the option and the
// text in every error, and lists its options under `--help` (or -h). A declaration is a call
// with a setter, so a table (a kernel family's tensors, say) can declare options in a loop.
//
// Rules: a value may start with '-' when it is a number (--budget -3 is refused by --budget,
// not taken for an option); `--` ends the options (what follows are operands); an option given
// twice is set twice (the last wins, unless its setter collects, as --shape does).

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "generator/kernel_spec.h"

namespace lla::tools {

// Bad usage; the message names the option or argument ("unknown option --frobnicate",
// "--heads: 'many' is not an integer"). Commands print it with their usage and exit 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Stores an option's value, or throws std::invalid_argument saying why the text is not a value
// of it ("'many' is not an integer"); the parser puts the option's name in front.
using ValueSetter = std::function<void(const std::string& text)>;

class CommandLine {
 public:
  // `command`: "run", "bench --decode". `synopsis`: the forms of the command after "lla",
  // one a line ("run [options]"). `description`: what the command does, before the options.
  CommandLine(std::string command, std::vector<std::string> synopsis, std::string description);

  // --name, without a value: sets *target.
  CommandLine& flag(const std::string& name, const std::string& help, bool* target);
  // --name VALUE_NAME. The help should give the default.
  CommandLine& option(const std::string& name, const std::string& value_name,
                      const std::string& help, ValueSetter set);
  // The arguments that are not options, in order, to *target (a command that declares none
  // takes none). `name` as in the synopsis ("CASE.json...").
  CommandLine& operands(const std::string& name, const std::string& help,
                        std::vector<std::string>* target);
  // Text after the options in --help: exit statuses, notes.
  CommandLine& notes(const std::string& text);

  // Parses args into the declared targets; false when --help or -h was given (nothing else is
  // then checked). Throws UsageError.
  bool parse(const Args& args) const;

  // The --help text: usage, description, options, notes.
  std::string help() const;
  // The usage lines and where to find the options, for an error message.
  std::string usage() const;

  // Parses args and then runs `check` (which throws UsageError for what the declarations cannot
  // say, e.g. "no case files given"). After --help: the help on stdout, 0. After a UsageError:
  // "lla COMMAND: message" and the usage on stderr, 2. nullopt when the command should run.
  std::optional<int> handle(const Args& args, const std::function<void()>& check = {}) const;

 private:
  struct Option {
    std::string name;
    std::string value_name;  // empty for a flag
    std::string help;
    ValueSetter set;  // called with "" for a flag
  };
  const Option* find(const std::string& name) const;
  std::string unknown_option(const std::string& name) const;

  std::string command_;
  std::vector<std::string> synopsis_;
  std::string description_;
  std::vector<Option> options_;
  std::string operands_name_, operands_help_;
  std::vector<std::string>* operands_ = nullptr;
  std::string notes_;
};

// Setters for the common kinds of value. Each message says what the text is not.

// An int (at least `least` when given): "'x' is not an integer", "'0' is below 1".
ValueSetter integer(int* target, std::optional<int> least = std::nullopt);
ValueSetter integer64(int64_t* target, std::optional<int64_t> least = std::nullopt);
ValueSetter unsigned64(uint64_t* target);
// Comma-separated ints, each at least `least` when given: "1,16,64".
ValueSetter integer_list(std::vector<int>* target, std::optional<int> least = std::nullopt);
// A number above zero: "'x' is not a positive number".
ValueSetter positive_number(double* target);
// A number of seconds above zero: "'x' is not a positive number of seconds".
ValueSetter positive_seconds(double* target);
ValueSetter text(std::string* target);
// One of named values: "'x' is not one of a, b, c".
template <class T>
ValueSetter choice(T* target, std::vector<std::pair<std::string, T>> values);
// bf16, f16 or f32.
ValueSetter dtype(compiler::Dtype* target);

// "a, b, c" of the names, for messages and help.
std::string joined_names(const std::vector<std::string>& names);

template <class T>
ValueSetter choice(T* target, std::vector<std::pair<std::string, T>> values) {
  return [target, values = std::move(values)](const std::string& text) {
    std::vector<std::string> names;
    for (const auto& [name, value] : values) {
      if (name == text) {
        *target = value;
        return;
      }
      names.push_back(name);
    }
    throw std::invalid_argument("'" + text + "' is not one of " + joined_names(names));
  };
}

}  // namespace lla::tools
