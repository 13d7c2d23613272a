#pragma once
// Generated C++ -> host object code, in process: clang's front end, an LLVM pass pipeline made
// for the hand-vectorised templates (clang_compiler.cpp's kPipeline) and LLVM's code generation
// at its highest level, for the CPU it runs on (or any CpuTarget), without a file or a process.
//
// Each stage is a value that holds its result or a structured error (CompileStage), so a
// caller inspects, reports or caches each step on its own. Every compile owns its own
// LLVMContext, CompilerInstance and TargetMachine, so concurrent compiles on several threads
// are safe; nothing here sets LLVM's process-global cl::opt flags.
//
// LLVM fatal errors: see install_fatal_error_reporter() in toolchain.h. A compile that LLVM
// ends with report_fatal_error still ends the process (after lla printed why); everything
// lla can check (unknown target, rejected option, source errors) comes back as a CompileError.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "clang/toolchain.h"
#include "generator/source_generator.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace lla::compiler::cpu {

// Why a stage failed.
struct CompileError {
  enum class Stage { options, front_end, optimisation, code_generation };
  Stage stage = Stage::options;
  std::string message;  // one line: what failed, naming the source
  std::string log;      // clang's diagnostics, each error followed by the source lines it names
};
const char* stage_name(CompileError::Stage s);  // "options", "front end", ...

// A stage's result or its error (the jitify2 pattern): check ok() before value().
template <typename T>
class CompileStage {
 public:
  CompileStage(T value) : result_(std::move(value)) {}  // NOLINT: implicit by design
  CompileStage(CompileError error) : result_(std::move(error)) {}  // NOLINT
  bool ok() const { return result_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(result_); }
  T& value() & { return std::get<0>(result_); }
  T&& value() && { return std::get<0>(std::move(result_)); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const CompileError& error() const { return std::get<1>(result_); }

 private:
  std::variant<T, CompileError> result_;
};

// The clang -cc1 options of every compile for `target` (C++17, -O3 code from the front end with
// LLVM's own pipeline replaced, no exceptions or RTTI, freestanding, no header search, fp
// contraction, the target's triple, CPU and every feature). Part of the cache key (toolchain.h).
std::vector<std::string> clang_options(const CpuTarget& target);

// Stage 1: the front end and the pass pipeline, to optimised IR. Owns the LLVMContext its
// module lives in; movable, not copyable.
class OptimisedModule {
 public:
  OptimisedModule(std::unique_ptr<llvm::LLVMContext> context, std::unique_ptr<llvm::Module> module,
                  std::string name, CpuTarget target, std::string diagnostics, double front_end_ms);
  OptimisedModule(OptimisedModule&&) noexcept;
  OptimisedModule& operator=(OptimisedModule&&) noexcept;
  ~OptimisedModule();

  const std::string& name() const { return name_; }
  const CpuTarget& target() const { return target_; }
  const std::string& diagnostics() const { return diagnostics_; }  // warnings, if any
  double front_end_ms() const { return front_end_ms_; }  // parse, IR generation, pipeline
  std::string llvm_ir() const;                          // textual IR
  llvm::Module& module() { return *module_; }

 private:
  std::unique_ptr<llvm::LLVMContext> context_;  // outlives module_ (declared first)
  std::unique_ptr<llvm::Module> module_;
  std::string name_;
  CpuTarget target_;
  std::string diagnostics_;
  double front_end_ms_ = 0;
};

CompileStage<OptimisedModule> optimise(const GeneratedSource& source, const CpuTarget& target);

// One function's machine code as LLVM's code generator reports it (its remarks).
struct FunctionResources {
  std::string function;
  int instructions = 0;
  int stack_bytes = 0;
  int spills = 0;   // spill stores the register allocator added
  int reloads = 0;  // and their reloads
};

// Stage 2: machine code. The object file is relocatable ELF (PIC) for the target, ready for
// the ORC loader (runtime/cpu/object_loader.h) and for the binary cache.
struct ObjectCode {
  std::vector<uint8_t> object;
  std::string assembly;  // empty unless asked for
  std::vector<std::string> entry_points;
  std::string diagnostics;                  // warnings of both stages, if any
  std::vector<FunctionResources> resources;  // every function the object defines
  double front_end_ms = 0;
  double code_generation_ms = 0;
  double compile_ms() const { return front_end_ms + code_generation_ms; }
};

// Consumes the module (code generation rewrites it). With want_assembly, the same module's
// assembly too.
CompileStage<ObjectCode> generate_code(OptimisedModule&& module, bool want_assembly = false);

// Both stages; entry_points copied from `source`.
CompileStage<ObjectCode> compile(const GeneratedSource& source, const CpuTarget& target,
                                 bool want_assembly = false);

}  // namespace lla::compiler::cpu
