#include "options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace lla::tools {
namespace {

constexpr size_t kHelpWidth = 100;        // columns of --help text
constexpr size_t kOptionColumnMax = 30;   // option names longer than this get their own line

// Whether `text` is a whole number, which an option's value may be even when it starts with '-'.
bool is_number(const std::string& text) {
  if (text.empty()) return false;
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return *end == '\0';
}

bool looks_like_option(const std::string& text) {
  return text.size() > 1 && text[0] == '-' && !is_number(text);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// `text` wrapped to kHelpWidth with every line after the first indented by `indent` columns;
// the first line starts at column `start`. Existing line breaks are kept, and a line that
// starts with a space (a table) is kept as it is.
std::string wrapped(const std::string& text, size_t start, size_t indent) {
  std::string out;
  size_t column = start;
  std::istringstream lines(text);
  std::string line;
  bool first_line = true;
  while (std::getline(lines, line)) {
    if (!first_line) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    }
    first_line = false;
    if (!line.empty() && line[0] == ' ') {
      out += line;
      column += line.size();
      continue;
    }
    std::istringstream words(line);
    std::string word;
    bool first_word = true;
    while (words >> word) {
      if (!first_word && column + 1 + word.size() > kHelpWidth) {
        out += "\n" + std::string(indent, ' ');
        column = indent;
        first_word = true;
      }
      if (!first_word) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
      first_word = false;
    }
  }
  return out;
}

template <class Int>
Int parse_integer(const std::string& text, std::optional<Int> least) {
  size_t used = 0;
  long long parsed = 0;
  bool out_of_range = false;
  try {
    parsed = std::stoll(text, &used);
  } catch (const std::out_of_range&) {
    out_of_range = true;
  } catch (const std::invalid_argument&) {
    used = 0;
  }
  out_of_range = out_of_range || parsed < std::numeric_limits<Int>::min() ||
                 parsed > std::numeric_limits<Int>::max();
  if (!out_of_range && (used == 0 || used != text.size()))
    throw std::invalid_argument("'" + text + "' is not an integer");
  if (out_of_range) throw std::invalid_argument("'" + text + "' is out of range");
  if (least && parsed < *least)
    throw std::invalid_argument("'" + text + "' is below " + std::to_string(*least));
  return static_cast<Int>(parsed);
}

double parse_positive(const std::string& text, const char* what) {
  char* end = nullptr;
  const double parsed = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(parsed) || !(parsed > 0))
    throw std::invalid_argument("'" + text + "' is not a positive " + what);
  return parsed;
}

}  // namespace

CommandLine::CommandLine(std::string command, std::vector<std::string> synopsis,
                         std::string description)
    : command_(std::move(command)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)) {}

CommandLine& CommandLine::flag(const std::string& name, const std::string& help, bool* target) {
  options_.push_back({name, "", help, [target](const std::string&) { *target = true; }});
  return *this;
}

CommandLine& CommandLine::option(const std::string& name, const std::string& value_name,
                                 const std::string& help, ValueSetter set) {
  options_.push_back({name, value_name, help, std::move(set)});
  return *this;
}

CommandLine& CommandLine::operands(const std::string& name, const std::string& help,
                                   std::vector<std::string>* target) {
  operands_name_ = name;
  operands_help_ = help;
  operands_ = target;
  return *this;
}

CommandLine& CommandLine::notes(const std::string& text) {
  notes_ = text;
  return *this;
}

const CommandLine::Option* CommandLine::find(const std::string& name) const {
  for (const Option& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

std::string CommandLine::unknown_option(const std::string& name) const {
  std::string message = "unknown option " + name;
  const Option* closest = nullptr;
  size_t closest_distance = 3;  // suggest only near misses
  for (const Option& o : options_) {
    const size_t distance =
        o.name.rfind(name, 0) == 0 && name.size() > 2 ? 1 : edit_distance(name, o.name);
    if (distance < closest_distance) {
      closest = &o;
      closest_distance = distance;
    }
  }
  if (closest) message += " (did you mean " + closest->name + "?)";
  return message;
}

bool CommandLine::parse(const Args& args) const {
  const auto end_of_options = std::find(args.begin(), args.end(), "--");
  for (auto it = args.begin(); it != end_of_options; ++it)
    if (*it == "--help" || *it == "-h") return false;

  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!options_ended && arg == "--") {
      options_ended = true;
      continue;
    }
    if (options_ended || !looks_like_option(arg)) {
      if (!operands_) throw UsageError("unexpected argument '" + arg + "'");
      operands_->push_back(arg);
      continue;
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.rfind("--", 0) == 0 ? arg.substr(0, equals) : arg;
    const Option* option = find(name);
    if (!option) throw UsageError(unknown_option(name));
    std::string value;
    if (option->value_name.empty()) {
      if (equals != std::string::npos) throw UsageError(name + " takes no value");
    } else if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < args.size() && !looks_like_option(args[i + 1])) {
      value = args[++i];
    } else {
      throw UsageError(name + " needs a value (" + option->value_name + ")");
    }
    try {
      option->set(value);
    } catch (const std::invalid_argument& e) {
      throw UsageError(name + ": " + e.what());
    }
  }
  return true;
}

std::string CommandLine::usage() const {
  std::string out;
  for (size_t i = 0; i < synopsis_.size(); ++i)
    out += (i == 0 ? "usage: lla " : "       lla ") + synopsis_[i] + "\n";
  return out + "`lla " + command_ + " --help` describes the options.\n";
}

std::string CommandLine::help() const {
  std::string out;
  for (size_t i = 0; i < synopsis_.size(); ++i)
    out += (i == 0 ? "usage: lla " : "       lla ") + synopsis_[i] + "\n";
  if (!description_.empty()) out += "\n" + wrapped(description_, 0, 0) + "\n";

  struct Row {
    std::string left, help;
  };
  std::vector<Row> rows;
  for (const Option& o : options_)
    rows.push_back({o.name + (o.value_name.empty() ? "" : " " + o.value_name), o.help});
  rows.push_back({"-h, --help", "this help"});
  const Row operands_row{operands_name_, operands_help_};
  size_t column = 0;
  for (const Row& r : rows)
    if (r.left.size() <= kOptionColumnMax) column = std::max(column, r.left.size());
  if (operands_ && operands_row.left.size() <= kOptionColumnMax)
    column = std::max(column, operands_row.left.size());
  column += 4;  // two spaces of indent, two before the help
  const auto add_row = [&](const Row& r) {
    out += "  " + r.left;
    if (r.left.size() + 4 > column) {
      out += "\n" + std::string(column, ' ');
    } else {
      out += std::string(column - 2 - r.left.size(), ' ');
    }
    out += wrapped(r.help, column, column) + "\n";
  };
  if (operands_) {
    out += "\noperands:\n";
    add_row(operands_row);
  }
  out += "\noptions:\n";
  for (const Row& r : rows) add_row(r);
  if (!notes_.empty()) out += "\n" + wrapped(notes_, 0, 0) + "\n";
  return out;
}

std::optional<int> CommandLine::handle(const Args& args, const std::function<void()>& check) const {
  try {
    if (!parse(args)) {
      std::fputs(help().c_str(), stdout);
      return 0;
    }
    if (check) check();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "lla %s: %s\n\n%s", command_.c_str(), e.what(), usage().c_str());
    return 2;
  }
  return std::nullopt;
}

ValueSetter integer(int* target, std::optional<int> least) {
  return [target, least](const std::string& text) { *target = parse_integer<int>(text, least); };
}

ValueSetter integer64(int64_t* target, std::optional<int64_t> least) {
  return [target, least](const std::string& text) {
    *target = parse_integer<int64_t>(text, least);
  };
}

ValueSetter unsigned64(uint64_t* target) {
  return [target](const std::string& text) {
    *target = static_cast<uint64_t>(parse_integer<int64_t>(text, int64_t{0}));
  };
}

ValueSetter integer_list(std::vector<int>* target, std::optional<int> least) {
  return [target, least](const std::string& text) {
    std::vector<int> values;
    size_t start = 0;
    while (start <= text.size()) {
      const size_t comma = std::min(text.find(',', start), text.size());
      values.push_back(parse_integer<int>(text.substr(start, comma - start), least));
      start = comma + 1;
    }
    *target = std::move(values);
  };
}

ValueSetter positive_number(double* target) {
  return [target](const std::string& text) { *target = parse_positive(text, "number"); };
}

ValueSetter positive_seconds(double* target) {
  return [target](const std::string& text) {
    *target = parse_positive(text, "number of seconds");
  };
}

ValueSetter text(std::string* target) {
  return [target](const std::string& value) { *target = value; };
}

ValueSetter dtype(compiler::Dtype* target) {
  std::vector<std::pair<std::string, compiler::Dtype>> values;
  for (compiler::Dtype d : {compiler::Dtype::bf16, compiler::Dtype::f16, compiler::Dtype::f32})
    values.emplace_back(compiler::dtype_name(d), d);
  return choice(target, std::move(values));
}

std::string joined_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace lla::tools
