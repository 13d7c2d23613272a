// lla env: what a bug report needs to know about this lla and this machine. Needs no GPU; says
// why a part is missing rather than failing.

#include <sys/utsname.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/logger.h"
#include "api/status_error.h"
#include "backend/registry.h"
#include "cache_location.h"
#include "commands.h"
#include "options.h"
#include "tune_policy.h"

extern char** environ;

namespace lla::tools {
namespace {

using nlohmann::json;

// Variables other than LLA_* that change what lla does here.
const char* const kRelevantVariables[] = {"XDG_CACHE_HOME", "CUDA_VISIBLE_DEVICES"};

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

json host() {
  utsname names{};
  uname(&names);
  return {{"os", std::string(names.sysname) + " " + names.release},
          {"machine", names.machine},
          {"cpu", cpu_model()},
          {"cpus", std::thread::hardware_concurrency()}};
}

// Every backend of this build by name, with its report (runtime/backend/registry.h).
using BackendReports = std::vector<std::pair<std::string, runtime::backend::BackendReport>>;

BackendReports backend_reports() {
  BackendReports reports;
  for (const runtime::backend::BackendEntry& entry : runtime::backend::registered_backends())
    reports.emplace_back(runtime::backend::lla_backend_name(entry.choice), entry.report());
  return reports;
}

// A backend's driver, toolchain and devices, each missing part with the reason.
json backend_json(const runtime::backend::BackendReport& report) {
  json out = {{"devices", json::array()}};
  for (const auto& fact : report.facts) out[fact.key] = fact.value ? json(*fact.value) : json(nullptr);
  if (!report.unavailable.empty()) out["unavailable"] = report.unavailable;
  for (const auto& d : report.devices) {
    json device = {{"ordinal", d.ordinal}};
    if (d.info)
      device.update({{"name", d.info->name},
                     {"compute_capability", std::to_string(d.info->cc_major) + "." + std::to_string(d.info->cc_minor)},
                     {"arch", d.info->target.name},
                     {"sm_count", d.info->sm_count},
                     {"shared_per_block_optin", d.info->max_shared_per_block_optin}});
    else
      device["error"] = d.error;
    out["devices"].push_back(device);
  }
  return out;
}



// The CPU backend's toolchain identity (LLVM version, target triple, CPU name and features)
// goes here once lla has a CPU backend: it is what keys its cached objects.
json cpu_backend() {
  return {{"available", false},
          {"unavailable",
           "not in this build of lla; its LLVM version and CPU features will show here"},
          {"llvm", nullptr},
          {"cpu_features", nullptr}};
}

json cache_folder() {
  namespace fs = std::filesystem;
  const std::string path = cache::default_cache_dir();
  json out = {{"path", path}};
  std::error_code error;
  if (!fs::exists(path, error)) {
    out["exists"] = false;
    return out;
  }
  out["exists"] = true;
  uintmax_t bytes = 0, files = 0;
  for (fs::recursive_directory_iterator it(path, error), end; !error && it != end;
       it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    bytes += it->file_size(error);
    ++files;
  }
  out["files"] = files;
  out["bytes"] = bytes;
  if (error) out["error"] = error.message();
  return out;
}

// The LLA_* variables (and the others that matter), and the settings they come to.
json environment() {
  json variables = json::object();
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    const size_t equals = text.find('=');
    if (text.rfind("LLA_", 0) == 0 && equals != std::string::npos)
      variables[text.substr(0, equals)] = text.substr(equals + 1);
  }
  for (const char* name : kRelevantVariables)
    if (const char* value = std::getenv(name)) variables[name] = value;
  json out = {{"variables", variables}};
  try {
    out["tuning"] = tuner::tune_policy_name(tuner::tune_policy_from_env());
  } catch (const std::invalid_argument& e) {
    out["tuning"] = std::string("invalid: ") + e.what();
  }
  try {
    out["log_level"] = runtime::log_level_name(runtime::log_level_from_env());
  } catch (const runtime::StatusError& e) {
    out["log_level"] = std::string("invalid: ") + e.what();
  }
  return out;
}

std::string byte_text(uintmax_t bytes) {
  char text[32];
  if (bytes >= (uintmax_t{1} << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else if (bytes >= 1024)
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024);
  else
    std::snprintf(text, sizeof text, "%ju bytes", bytes);
  return text;
}

void print_line(const char* label, const std::string& text) {
  std::printf("%-13s%s\n", label, text.c_str());
}

void print_text(const json& report, const BackendReports& reports) {
  const json& lla = report["lla"];
  print_line("lla", lla["version"].get<std::string>() + " (source " +
                        lla["source_id"].get<std::string>() + ")");
  const json& h = report["host"];
  print_line("host", h["os"].get<std::string>() + " " + h["machine"].get<std::string>() + ", " +
                         h["cpu"].get<std::string>() + ", " + std::to_string(h["cpus"].get<int>()) +
                         " CPUs");
  for (const BackendReports::value_type& backend : reports) {
    const json& c = report[backend.first];
    for (const auto& fact : backend.second.facts)
      print_line(fact.label.c_str(), c[fact.key].is_null() ? "none: " + c.value("unavailable", std::string("?"))
                                                           : c[fact.key].get<std::string>());
    if (c["devices"].empty()) print_line("devices", "no device");
    for (const json& d : c["devices"]) {
      const std::string ordinal = std::to_string(d["ordinal"].get<int>()) + ": ";
      print_line(d["ordinal"] == 0 ? "devices" : "",
                 d.contains("error")
                     ? ordinal + d["error"].get<std::string>()
                     : ordinal + d["name"].get<std::string>() + ", compute capability " +
                           d["compute_capability"].get<std::string>() + " (lla compiles for " +
                           d["arch"].get<std::string>() + "), " +
                           std::to_string(d["sm_count"].get<int>()) + " SMs, " +
                           byte_text(d["shared_per_block_optin"].get<uintmax_t>()) +
                           " shared memory a block");
    }
  }
  const json& cpu = report["cpu_backend"];
  print_line("CPU backend", cpu["available"].get<bool>() ? "available"
                                                         : cpu["unavailable"].get<std::string>());
  const json& cache = report["cache"];
  std::string cache_text = cache["path"].get<std::string>();
  if (!cache["exists"].get<bool>())
    cache_text += " (does not exist yet)";
  else
    cache_text += " (" + byte_text(cache["bytes"].get<uintmax_t>()) + " in " +
                  std::to_string(cache["files"].get<uintmax_t>()) + " files" +
                  (cache.contains("error") ? "; " + cache["error"].get<std::string>() : "") + ")";
  print_line("cache", cache_text);
  const json& env = report["environment"];
  if (env["variables"].empty()) print_line("environment", "no LLA_* variables set");
  bool first = true;
  for (const auto& [name, value] : env["variables"].items()) {
    print_line(first ? "environment" : "", name + "=" + value.get<std::string>());
    first = false;
  }
  print_line("settings", "tuning " + env["tuning"].get<std::string>() + ", log level " +
                             env["log_level"].get<std::string>());
}

}  // namespace

int env_command(const Args& args) {
  bool as_json = false;
  CommandLine command("env", {"env [--json]"},
                      "Prints what a bug report needs: the lla version and the commit it was built "
                      "from, the host, the CUDA driver and NVRTC versions (or why there is no "
                      "driver), every device with its compute capability and SM count, the CPU "
                      "backend, the cache folder and its size, and the LLA_* variables in force "
                      "with the settings they come to. Needs no GPU.");
  command.flag("--json", "print JSON instead of text", &as_json);
  if (const std::optional<int> exit = command.handle(args)) return *exit;

  const BackendReports reports = backend_reports();
  json report = {{"lla", {{"version", lla_version()}, {"source_id", lla_source_id()}}},
                 {"host", host()},
                 {"cpu_backend", cpu_backend()},
                 {"cache", cache_folder()},
                 {"environment", environment()}};
  for (const BackendReports::value_type& backend : reports) report[backend.first] = backend_json(backend.second);
  if (as_json)
    std::printf("%s\n", report.dump(1).c_str());
  else
    print_text(report, reports);
  return 0;
}

}  // namespace lla::tools
