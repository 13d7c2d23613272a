// lla cache: read and maintain the cache database (binaries, tuning rows, leases).
// Needs no GPU.

#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "binary_cache.h"
#include "cache_location.h"
#include "commands.h"
#include "options.h"
#include "tuning_exchange.h"

namespace lla::tools {

namespace {

using nlohmann::json;

constexpr int64_t kDefaultMaxBytes = int64_t{1} << 30;

struct Request {
  std::string cache_dir;
  bool as_json = false;
  std::vector<std::string> words;  // the subcommand and its operands, as given
  std::string subcommand;
  std::vector<std::string> operands;
  int64_t max_bytes = kDefaultMaxBytes;
};

const char* const kSubcommands =
    "subcommands:\n"
    "  stats                 counts and sizes of binaries, tuning rows and leases\n"
    "  ls                    every binary (most recently used first) and tuned problem\n"
    "  show TEXT             binaries whose key digest starts with TEXT and tuning rows whose\n"
    "                        problem, device or config contains TEXT\n"
    "  export FILE           write every tuning row to FILE (JSON, lla-tuning-v1)\n"
    "  import FILE           merge the rows of FILE: a row measured later replaces an earlier\n"
    "                        one of the same key; at equal times the smaller canonical text wins\n"
    "  verify                check the file's integrity and every binary's checksum (bad\n"
    "                        binaries are deleted); exit status 1 when anything was bad\n"
    "  gc [--max-bytes N]    evict least recently used binaries until they total at most N\n"
    "                        bytes (default 1 GiB); tuning rows are kept";

// The command line of `lla cache`, storing into *r.
CommandLine command_line(Request* r) {
  CommandLine c("cache", {"cache [--cache-dir DIR] [--json] SUBCOMMAND [OPERAND]"},
                "Reads and maintains the cache database (binaries, tuning rows, leases); needs no "
                "GPU.");
  c.option("--cache-dir", "DIR", "the cache folder (default: LLA_CACHE_DIR, else the XDG cache)",
           text(&r->cache_dir))
      .flag("--json", "print JSON instead of text", &r->as_json)
      .option("--max-bytes", "N", "gc: the bytes of binaries to keep at most (1 GiB)",
              [r](const std::string& text) {
                try {
                  integer64(&r->max_bytes, 0)(text);
                } catch (const std::invalid_argument&) {
                  throw std::invalid_argument("'" + text + "' is not a byte count");
                }
              })
      .operands("SUBCOMMAND [OPERAND]", "one of the subcommands below, and its operand",
                &r->words)
      .notes(kSubcommands);
  return c;
}

// The subcommand and its operands from the words; throws UsageError.
void split_words(Request* r) {
  if (r->words.empty()) throw UsageError("no subcommand given");
  r->subcommand = r->words.front();
  r->operands.assign(r->words.begin() + 1, r->words.end());
  const size_t wanted =
      (r->subcommand == "show" || r->subcommand == "export" || r->subcommand == "import") ? 1 : 0;
  if (r->operands.size() != wanted) {
    throw UsageError(r->subcommand + " takes " + std::to_string(wanted) +
                     " operand(s), got " + std::to_string(r->operands.size()));
  }
  if (r->cache_dir.empty()) r->cache_dir = cache::default_cache_dir();
}

std::string local_time(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  localtime_r(&t, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

json binary_json(const cache::BinaryCache::BinaryInfo& b) {
  return {{"key_digest", b.key_digest},    {"arch", b.arch}, {"nvrtc_version", b.nvrtc_version},
          {"description", b.description},  {"size", b.size}, {"created_at", b.created_at},
          {"last_used_at", b.last_used_at}};
}

void print_binary(const cache::BinaryCache::BinaryInfo& b) {
  std::printf("%.16s  %-7s %9lld B  used %s  %s\n", b.key_digest.c_str(), b.arch.c_str(),
              static_cast<long long>(b.size), local_time(b.last_used_at).c_str(),
              b.description.c_str());
}

void print_row(const cache::TuningRow& row) {
  std::printf("  %-6s", cache::tuning_status_name(row.status));
  if (row.status == cache::TuningStatus::timed) {
    std::printf(" %9.4f ms (min %.4f, max %.4f, noise %.4f, n=%d)", row.median_ms, row.min_ms,
                row.max_ms, row.noise_ms, row.repetitions);
  }
  std::printf("  %s", row.config.c_str());
  if (!row.detail.empty()) std::printf("  -- %s", row.detail.c_str());
  std::printf("\n");
}

// Rows grouped under a "problem | device | lla version" heading each time the group changes.
void print_rows(const std::vector<cache::TuningRow>& rows) {
  std::string group;
  for (const cache::TuningRow& row : rows) {
    const std::string this_group = row.problem + " | " + row.device + " | lla " + row.lla_version;
    if (this_group != group) {
      group = this_group;
      std::printf("%s\n", group.c_str());
    }
    print_row(row);
  }
}

json rows_json(const std::vector<cache::TuningRow>& rows) {
  return json::parse(cache::tuning_rows_to_json(rows))["rows"];
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int stats(cache::BinaryCache& db, const Request& r) {
  const auto s = db.stats();
  if (r.as_json) {
    std::printf("%s\n", json{{"path", db.path()},
                             {"binaries", s.binaries},
                             {"binary_bytes", s.bytes},
                             {"tuning_rows", s.tuning_rows},
                             {"leases", s.leases}}
                            .dump(1)
                            .c_str());
  } else {
    std::printf("cache: %s\nbinaries: %lld (%lld bytes)\ntuning rows: %lld\nleases: %lld\n",
                db.path().c_str(), static_cast<long long>(s.binaries),
                static_cast<long long>(s.bytes), static_cast<long long>(s.tuning_rows),
                static_cast<long long>(s.leases));
  }
  return 0;
}

int list(cache::BinaryCache& db, const Request& r) {
  const auto binaries = db.list_binaries();
  const auto rows = db.all_tuning_rows();
  if (r.as_json) {
    json listed = json::array();
    for (const auto& b : binaries) listed.push_back(binary_json(b));
    std::printf("%s\n",
                json{{"binaries", listed}, {"tuning_rows", rows_json(rows)}}.dump(1).c_str());
    return 0;
  }
  std::printf("binaries (%zu):\n", binaries.size());
  for (const auto& b : binaries) print_binary(b);
  std::printf("tuning rows (%zu):\n", rows.size());
  print_rows(rows);
  return 0;
}

int show(cache::BinaryCache& db, const Request& r) {
  const std::string& text = r.operands[0];
  std::vector<cache::BinaryCache::BinaryInfo> binaries;
  for (const auto& b : db.list_binaries())
    if (b.key_digest.compare(0, text.size(), text) == 0) binaries.push_back(b);
  std::vector<cache::TuningRow> rows;
  for (const auto& row : db.all_tuning_rows()) {
    for (const std::string* field : {&row.problem, &row.device, &row.config}) {
      if (field->find(text) != std::string::npos) {
        rows.push_back(row);
        break;
      }
    }
  }
  if (binaries.empty() && rows.empty()) {
    std::fprintf(stderr, "lla cache show: nothing in %s matches '%s'\n", db.path().c_str(),
                 text.c_str());
    return 1;
  }
  if (r.as_json) {
    json listed = json::array();
    for (const auto& b : binaries) listed.push_back(binary_json(b));
    std::printf("%s\n",
                json{{"binaries", listed}, {"tuning_rows", rows_json(rows)}}.dump(1).c_str());
    return 0;
  }
  for (const auto& b : binaries) print_binary(b);
  print_rows(rows);
  return 0;
}

int export_rows(cache::BinaryCache& db, const Request& r) {
  const auto rows = db.all_tuning_rows();
  std::ofstream out(r.operands[0], std::ios::binary | std::ios::trunc);
  out << cache::tuning_rows_to_json(rows);
  out.close();
  if (!out) throw std::runtime_error(r.operands[0] + ": cannot be written");
  if (r.as_json) {
    std::printf("%s\n", json{{"exported", rows.size()}, {"file", r.operands[0]}}.dump().c_str());
  } else {
    std::printf("exported %zu tuning rows to %s\n", rows.size(), r.operands[0].c_str());
  }
  return 0;
}

int import_rows(cache::BinaryCache& db, const Request& r) {
  const auto rows = cache::tuning_rows_from_json(read_file(r.operands[0]), r.operands[0]);
  const auto counts = db.merge_tuning_rows(rows);
  if (r.as_json) {
    std::printf("%s\n",
                json{{"added", counts.added}, {"replaced", counts.replaced}, {"kept", counts.kept}}
                    .dump()
                    .c_str());
  } else {
    std::printf("imported %s: %lld added, %lld replaced, %lld kept (the stored row won)\n",
                r.operands[0].c_str(), static_cast<long long>(counts.added),
                static_cast<long long>(counts.replaced), static_cast<long long>(counts.kept));
  }
  return 0;
}

int verify(cache::BinaryCache& db, const Request& r) {
  const auto result = db.verify();
  if (r.as_json) {
    std::printf("%s\n",
                json{{"checked", result.checked}, {"problems", result.problems}}.dump(1).c_str());
  } else {
    for (const std::string& problem : result.problems) std::printf("BAD  %s\n", problem.c_str());
    std::printf("verified %lld binaries: %zu problem(s)\n", static_cast<long long>(result.checked),
                result.problems.size());
  }
  return result.problems.empty() ? 0 : 1;
}

int collect_garbage(cache::BinaryCache& db, const Request& r) {
  const auto result = db.gc(r.max_bytes);
  if (r.as_json) {
    std::printf("%s\n", json{{"removed", result.removed},
                             {"removed_bytes", result.removed_bytes},
                             {"kept", result.kept},
                             {"kept_bytes", result.kept_bytes}}
                            .dump()
                            .c_str());
  } else {
    std::printf("removed %lld binaries (%lld bytes); kept %lld (%lld bytes, cap %lld)\n",
                static_cast<long long>(result.removed),
                static_cast<long long>(result.removed_bytes), static_cast<long long>(result.kept),
                static_cast<long long>(result.kept_bytes), static_cast<long long>(r.max_bytes));
  }
  return 0;
}

}  // namespace

int cache_command(const Args& args) {
  Request request;
  const CommandLine command = command_line(&request);
  if (const std::optional<int> exit = command.handle(args, [&] { split_words(&request); }))
    return *exit;
  using Handler = int (*)(cache::BinaryCache&, const Request&);
  const std::pair<const char*, Handler> handlers[] = {
      {"stats", stats},        {"ls", list},       {"show", show},         {"export", export_rows},
      {"import", import_rows}, {"verify", verify}, {"gc", collect_garbage}};
  for (const auto& [name, handler] : handlers) {
    if (request.subcommand != name) continue;
    cache::BinaryCache db(request.cache_dir, [](const std::string& warning) {
      std::fprintf(stderr, "lla cache: warning: %s\n", warning.c_str());
    });
    return handler(db, request);
  }
  std::fprintf(stderr, "lla cache: unknown subcommand '%s'\n\n%s", request.subcommand.c_str(),
               command.usage().c_str());
  return 2;
}

}  // namespace lla::tools
