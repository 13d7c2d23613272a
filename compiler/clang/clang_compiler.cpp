#include "clang/clang_compiler.h"

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/Lex/PreprocessorOptions.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>

namespace lla::compiler::cpu {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void initialise_llvm_targets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  install_fatal_error_reporter();
}

CompileError error(CompileError::Stage stage, std::string message, std::string log = {}) {
  return CompileError{stage, std::move(message), std::move(log)};
}

struct CollectedDiagnostics {
  std::string text;
  std::vector<FunctionResources> resources;
};

FunctionResources& resources_of(std::vector<FunctionResources>& all, const std::string& function) {
  for (FunctionResources& r : all)
    if (r.function == function) return r;
  all.push_back(FunctionResources{function});
  return all.back();
}

// The leading count of a code generator remark ("1234 instructions in function").
int leading_count(const std::string& message) { return std::atoi(message.c_str()); }

// What LLVM reports through a context during code generation: warnings and errors as text;
// the code generator's remarks (instruction count, stack size, spills) as each function's
// resources.
void collect_diagnostic(const llvm::DiagnosticInfo& info, void* sink) {
  auto& collected = *static_cast<CollectedDiagnostics*>(sink);
  if (const auto* remark = llvm::dyn_cast<llvm::DiagnosticInfoOptimizationBase>(&info)) {
    FunctionResources& r = resources_of(collected.resources, remark->getFunction().getName().str());
    const std::string message = remark->getMsg();
    const llvm::StringRef name = remark->getRemarkName();
    if (name == "InstructionCount") r.instructions = leading_count(message);
    if (name == "StackSize") r.stack_bytes = leading_count(message);
    if (name == "SpillReloadCopies" || name == "LoopSpillReloadCopies") {
      // "N spills ... M reloads ..." over the function or one of its loops.
      const size_t spills = message.find(" spills");
      const size_t reloads = message.find(" reloads");
      if (spills != std::string::npos) r.spills += leading_count(message);
      if (reloads != std::string::npos) {
        const size_t begin = message.rfind(' ', reloads - 1);
        r.reloads += std::atoi(message.c_str() + (begin == std::string::npos ? 0 : begin + 1));
      }
    }
    return;
  }
  llvm::raw_string_ostream out(collected.text);
  llvm::DiagnosticPrinterRawOStream printer(out);
  out << llvm::LLVMContext::getDiagnosticMessagePrefix(info.getSeverity()) << ": ";
  info.print(printer);
  out << "\n";
}

std::unique_ptr<llvm::TargetMachine> target_machine(const CpuTarget& target, std::string& why) {
  const llvm::Target* llvm_target = llvm::TargetRegistry::lookupTarget(target.triple, why);
  if (!llvm_target) return nullptr;
  return std::unique_ptr<llvm::TargetMachine>(llvm_target->createTargetMachine(
      target.triple, target.cpu, feature_string(target), llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOpt::Aggressive));
}

// The optimisation pipeline. The templates are vectorised, tiled and unrolled by hand, so
// clang's -O3 pipeline (loop vectorisers, unrolling, loop idiom and the rest) found nothing to
// do here and took four times as long as this one, which keeps what the hand-written code
// needs: inlining the small helpers, the loops marked #pragma unroll unrolled (the others are
// marked rolled), registers for the arrays they index (SROA), redundancy and dead code
// removal, loads hoisted out of loops.
constexpr const char* kPipeline =
    "cgscc(inline),function(sroa,early-cse<memssa>,simplifycfg,loop(loop-rotate,loop-unroll-full),"
    "sroa,instcombine,simplifycfg,loop-mssa(licm),gvn,instcombine,simplifycfg,dse,adce)";

// Runs kPipeline over `module` for `machine`'s target; an error names the pipeline's problem.
std::string run_pipeline(llvm::Module& module, llvm::TargetMachine& machine) {
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgsccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgsccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgsccs, modules);
  llvm::ModulePassManager passes;
  if (llvm::Error e = builder.parsePassPipeline(passes, kPipeline)) return llvm::toString(std::move(e));
  passes.run(module, modules);
  return {};
}

}  // namespace

const char* stage_name(CompileError::Stage s) {
  switch (s) {
    case CompileError::Stage::options: return "options";
    case CompileError::Stage::front_end: return "front end";
    case CompileError::Stage::optimisation: return "optimisation";
    case CompileError::Stage::code_generation: return "code generation";
  }
  return "unknown";
}

std::vector<std::string> clang_options(const CpuTarget& target) {
  std::vector<std::string> options = {
      "-triple", target.triple, "-target-cpu", target.cpu,
      // The templates include nothing: no header search at all keeps a compile in
      // milliseconds and makes a stray #include an error.
      "-nostdsysteminc", "-nobuiltininc", "-ffreestanding",
      "-std=c++17", "-fno-rtti", "-O3",
      // clang's -O3 pipeline is replaced by kPipeline (run by optimise()).
      "-disable-llvm-passes",
      // Release clang drops IR value names too: they only cost string-map work here.
      "-discard-value-names",
      "-ffp-contract=fast", "-mrelocation-model", "pic", "-pic-level", "2",
      "-Wall", "-x", "c++"};
  for (const std::string& feature : target.features) {
    options.push_back("-target-feature");
    options.push_back(feature);
  }
  return options;
}

OptimisedModule::OptimisedModule(std::unique_ptr<llvm::LLVMContext> context,
                                 std::unique_ptr<llvm::Module> module, std::string name,
                                 CpuTarget target, std::string diagnostics, double front_end_ms)
    : context_(std::move(context)),
      module_(std::move(module)),
      name_(std::move(name)),
      target_(std::move(target)),
      diagnostics_(std::move(diagnostics)),
      front_end_ms_(front_end_ms) {}
OptimisedModule::OptimisedModule(OptimisedModule&&) noexcept = default;
OptimisedModule& OptimisedModule::operator=(OptimisedModule&& other) noexcept {
  module_.reset();  // before the context it lives in
  context_ = std::move(other.context_);
  module_ = std::move(other.module_);
  name_ = std::move(other.name_);
  target_ = std::move(other.target_);
  diagnostics_ = std::move(other.diagnostics_);
  front_end_ms_ = other.front_end_ms_;
  return *this;
}
OptimisedModule::~OptimisedModule() { module_.reset(); }

std::string OptimisedModule::llvm_ir() const {
  std::string text;
  llvm::raw_string_ostream out(text);
  module_->print(out, nullptr);
  return out.str();
}

CompileStage<OptimisedModule> optimise(const GeneratedSource& source, const CpuTarget& target) {
  initialise_llvm_targets();
  FatalErrorScope scope(source.name);
  const auto start = Clock::now();
  const std::string file = source.name + ".cpp";

  std::string diagnostics;
  llvm::raw_string_ostream diagnostics_out(diagnostics);
  auto diagnostic_options = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  auto* printer = new clang::TextDiagnosticPrinter(diagnostics_out, diagnostic_options.get());
  clang::DiagnosticsEngine parse_diagnostics(
      llvm::makeIntrusiveRefCnt<clang::DiagnosticIDs>(), diagnostic_options, printer);

  std::vector<std::string> options = clang_options(target);
  options.push_back(file);
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());
  auto invocation = std::make_shared<clang::CompilerInvocation>();
  if (!clang::CompilerInvocation::CreateFromArgs(*invocation, argv, parse_diagnostics) ||
      parse_diagnostics.hasErrorOccurred())
    return error(CompileError::Stage::options, source.name + ": clang rejected the options",
                 diagnostics_out.str());
  invocation->getPreprocessorOpts().addRemappedFile(
      file, llvm::MemoryBuffer::getMemBufferCopy(source.source, file).release());

  clang::CompilerInstance instance;
  instance.setInvocation(std::move(invocation));
  instance.setVerboseOutputStream(diagnostics_out);  // "N errors generated." goes there too
  instance.createDiagnostics(
      new clang::TextDiagnosticPrinter(diagnostics_out, &instance.getDiagnosticOpts()), true);

  auto context = std::make_unique<llvm::LLVMContext>();
  clang::EmitLLVMOnlyAction action(context.get());
  const bool parsed = instance.ExecuteAction(action);
  std::unique_ptr<llvm::Module> module = parsed ? action.takeModule() : nullptr;
  if (!module)
    return error(CompileError::Stage::front_end,
                 source.name + ": clang could not compile the generated source",
                 diagnostics_out.str());
  std::string why;
  std::unique_ptr<llvm::TargetMachine> machine = target_machine(target, why);
  if (!machine)
    return error(CompileError::Stage::optimisation,
                 source.name + ": no LLVM target for " + target.triple + ": " + why);
  module->setDataLayout(machine->createDataLayout());
  if (std::string failed = run_pipeline(*module, *machine); !failed.empty())
    return error(CompileError::Stage::optimisation, source.name + ": " + failed);
  return OptimisedModule(std::move(context), std::move(module), source.name, target,
                         diagnostics_out.str(), ms_since(start));
}

CompileStage<ObjectCode> generate_code(OptimisedModule&& optimised, bool want_assembly) {
  initialise_llvm_targets();
  FatalErrorScope scope(optimised.name());
  const auto start = Clock::now();
  OptimisedModule module = std::move(optimised);
  CollectedDiagnostics collected{module.diagnostics(), {}};
  module.module().getContext().setDiagnosticHandlerCallBack(collect_diagnostic, &collected);
  std::string& diagnostics = collected.text;

  std::string why;
  std::unique_ptr<llvm::TargetMachine> machine = target_machine(module.target(), why);
  if (!machine)
    return error(CompileError::Stage::code_generation,
                 module.name() + ": no LLVM target for " + module.target().triple + ": " + why);
  module.module().setDataLayout(machine->createDataLayout());
  module.module().setTargetTriple(module.target().triple);

  const auto emit = [&](llvm::Module& m, llvm::CodeGenFileType kind,
                        llvm::SmallVectorImpl<char>& bytes) {
    llvm::raw_svector_ostream out(bytes);
    llvm::legacy::PassManager passes;
    if (machine->addPassesToEmitFile(passes, out, nullptr, kind)) return false;
    passes.run(m);
    return true;
  };

  ObjectCode code;
  if (want_assembly) {
    std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module.module());
    llvm::SmallVector<char, 0> text;
    if (!emit(*copy, llvm::CGFT_AssemblyFile, text))
      return error(CompileError::Stage::code_generation,
                   module.name() + ": the target cannot emit assembly", diagnostics);
    code.assembly.assign(text.begin(), text.end());
  }
  llvm::SmallVector<char, 0> object;
  if (!emit(module.module(), llvm::CGFT_ObjectFile, object))
    return error(CompileError::Stage::code_generation,
                 module.name() + ": the target cannot emit an object file", diagnostics);
  code.object.assign(object.begin(), object.end());
  code.diagnostics = std::move(diagnostics);
  code.resources = std::move(collected.resources);
  code.front_end_ms = module.front_end_ms();
  code.code_generation_ms = ms_since(start);
  return code;
}

CompileStage<ObjectCode> compile(const GeneratedSource& source, const CpuTarget& target,
                                 bool want_assembly) {
  CompileStage<OptimisedModule> optimised = optimise(source, target);
  if (!optimised) return optimised.error();
  CompileStage<ObjectCode> code = generate_code(std::move(optimised).value(), want_assembly);
  if (code) code->entry_points = source.entry_points;
  return code;
}

}  // namespace lla::compiler::cpu
