#pragma once
// The CPU a kernel is compiled for and the toolchain that compiles it: what the binary cache
// key of a CPU object holds (design.md, "Cache keys").
//
// The CPU name alone is not enough: under a hypervisor LLVM's getHostCPUName() can name a
// different model than the one running (it said "rocketlake" on a KVM guest), while
// getHostCPUFeatures() reads CPUID and is right. Code built for a feature the machine lacks
// dies with SIGILL, so the key holds the full feature list, and compiles pass every feature
// explicitly instead of trusting the name.

#include <string>
#include <vector>

namespace lla::compiler::cpu {

struct CpuTarget {
  std::string triple;                 // e.g. "x86_64-pc-linux-gnu"
  std::string cpu;                    // LLVM's CPU name, e.g. "znver3"
  std::vector<std::string> features;  // every feature LLVM knows for the CPU, sorted by
                                      // name, each "+name" or "-name"
  bool operator==(const CpuTarget& o) const {
    return triple == o.triple && cpu == o.cpu && features == o.features;
  }
  bool operator!=(const CpuTarget& o) const { return !(*this == o); }
};

// The machine this process runs on: LLVM's process triple, host CPU name and CPUID features.
// Computed once.
const CpuTarget& host_target();

// Whether `target` has `feature` (without its sign) enabled.
bool has_feature(const CpuTarget& target, const std::string& feature);

// The widest float vector the target's features make fast, in floats: 16 with AVX-512F, 8
// with AVX (x86-64), 4 otherwise (SSE, NEON). The CPU templates' vector width.
int vector_floats(const CpuTarget& target);

// Comma-joined features, e.g. "+adx,+aes,-avx512f,...".
std::string feature_string(const CpuTarget& target);

// Everything outside the source that could change a CPU object's bytes, as the binary cache
// key needs it: LLVM's version and the full clang option string (triple, CPU and every
// feature are in it, each also kept apart for readers).
struct ToolchainIdentity {
  std::string llvm_version;  // e.g. "16.0.6"
  std::string triple;
  std::string cpu;
  std::string features;  // feature_string(target)
  std::string options;   // the clang -cc1 options joined by spaces (clang_compiler.h)
  // One line holding every field, length-prefixed so no two identities share it.
  std::string key_text() const;
};

ToolchainIdentity toolchain_identity(const CpuTarget& target);

// LLVM's version, e.g. "16.0.6" (the headers'; a Debian package pins libLLVM to them).
std::string llvm_version();

// Installs, once per process, an LLVM fatal-error handler that prints
// "lla: LLVM fatal error while compiling <what>: <reason>" to stderr before LLVM ends the
// process, so no LLVM failure is silent. It replaces a handler the host application installed
// before (LLVM keeps one per process). Called by every compile.
void install_fatal_error_reporter();

// Names what the calling thread compiles, for the fatal-error report, until destroyed.
class FatalErrorScope {
 public:
  explicit FatalErrorScope(const std::string& what);
  ~FatalErrorScope();
  FatalErrorScope(const FatalErrorScope&) = delete;
  FatalErrorScope& operator=(const FatalErrorScope&) = delete;

 private:
  const std::string* previous_;
  std::string what_;
};

}  // namespace lla::compiler::cpu
