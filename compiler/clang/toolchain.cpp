#include "clang/toolchain.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "clang/clang_compiler.h"

namespace lla::compiler::cpu {

namespace {

CpuTarget detect_host() {
  CpuTarget t;
  t.triple = llvm::sys::getProcessTriple();
  t.cpu = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> features;
  if (llvm::sys::getHostCPUFeatures(features))
    for (const auto& f : features) t.features.push_back((f.second ? "+" : "-") + f.first().str());
  std::sort(t.features.begin(), t.features.end(), [](const std::string& a, const std::string& b) {
    return a.compare(1, std::string::npos, b, 1, std::string::npos) < 0;
  });
  return t;
}

std::string length_prefixed(const std::string& field) {
  return std::to_string(field.size()) + ":" + field + ";";
}

thread_local const std::string* compiling = nullptr;

void report_fatal_error(void*, const char* reason, bool) {
  std::fprintf(stderr, "lla: LLVM fatal error while compiling %s: %s\n",
               compiling ? compiling->c_str() : "(not an lla compile)", reason);
  std::fflush(stderr);
}

}  // namespace

const CpuTarget& host_target() {
  static const CpuTarget host = detect_host();
  return host;
}

bool has_feature(const CpuTarget& target, const std::string& feature) {
  return std::find(target.features.begin(), target.features.end(), "+" + feature) !=
         target.features.end();
}

int vector_floats(const CpuTarget& target) {
  if (has_feature(target, "avx512f")) return 16;
  if (has_feature(target, "avx")) return 8;
  return 4;
}

std::string feature_string(const CpuTarget& target) {
  std::string joined;
  for (const std::string& f : target.features) joined += (joined.empty() ? "" : ",") + f;
  return joined;
}

std::string ToolchainIdentity::key_text() const {
  return "llvm=" + length_prefixed(llvm_version) + "triple=" + length_prefixed(triple) +
         "cpu=" + length_prefixed(cpu) + "features=" + length_prefixed(features) +
         "options=" + length_prefixed(options);
}

ToolchainIdentity toolchain_identity(const CpuTarget& target) {
  ToolchainIdentity id;
  id.llvm_version = llvm_version();
  id.triple = target.triple;
  id.cpu = target.cpu;
  id.features = feature_string(target);
  for (const std::string& option : clang_options(target))
    id.options += (id.options.empty() ? "" : " ") + option;
  return id;
}

std::string llvm_version() {
  return LLVM_VERSION_STRING;
}

void install_fatal_error_reporter() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::remove_fatal_error_handler();
    llvm::install_fatal_error_handler(report_fatal_error, nullptr);
  });
}

FatalErrorScope::FatalErrorScope(const std::string& what) : previous_(compiling), what_(what) {
  compiling = &what_;
}

FatalErrorScope::~FatalErrorScope() { compiling = previous_; }

}  // namespace lla::compiler::cpu
