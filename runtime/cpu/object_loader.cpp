#include "cpu/object_loader.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>

#include <algorithm>
#include <mutex>

namespace lla::runtime::cpu {

struct CpuJit::Module {
  std::string name;
  llvm::orc::JITDylib* dylib = nullptr;
};

struct CpuJit::State {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::mutex mutex;  // guards modules
  std::vector<std::unique_ptr<Module>> modules;
};

namespace {

std::string message(llvm::Error error) { return llvm::toString(std::move(error)); }

void initialise_native_target() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

}  // namespace

CpuJit::CpuJit() : state_(std::make_unique<State>()) {
  initialise_native_target();
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit) throw LoadError("lla: cannot create an LLVM JIT for this process: " + message(jit.takeError()));
  state_->jit = std::move(*jit);
}

CpuJit::~CpuJit() = default;

CpuJit::Module* CpuJit::load(const std::string& name, const std::vector<uint8_t>& object) {
  llvm::orc::LLJIT& jit = *state_->jit;
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (const std::unique_ptr<Module>& m : state_->modules)
    if (m->name == name) throw LoadError("lla: cannot load CPU module " + name + ": the name is taken");
  auto dylib = jit.createJITDylib(name);
  if (!dylib) throw LoadError("lla: cannot load CPU module " + name + ": " + message(dylib.takeError()));
  auto from_process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      jit.getDataLayout().getGlobalPrefix());
  if (!from_process) {
    llvm::consumeError(jit.getExecutionSession().removeJITDylib(*dylib));
    throw LoadError("lla: cannot load CPU module " + name +
                    ": no symbol generator for the process: " + message(from_process.takeError()));
  }
  dylib->addGenerator(std::move(*from_process));
  const llvm::StringRef bytes(reinterpret_cast<const char*>(object.data()), object.size());
  if (llvm::Error e = jit.addObjectFile(*dylib, llvm::MemoryBuffer::getMemBufferCopy(bytes, name))) {
    llvm::consumeError(jit.getExecutionSession().removeJITDylib(*dylib));
    throw LoadError("lla: cannot load CPU module " + name + ": " + message(std::move(e)));
  }
  state_->modules.push_back(std::make_unique<Module>(Module{name, &*dylib}));
  return state_->modules.back().get();
}

void* CpuJit::lookup(Module* module, const std::string& symbol) {
  auto address = state_->jit->lookup(*module->dylib, symbol);
  if (!address)
    throw LoadError("lla: CPU module " + module->name + " has no symbol " + symbol + ": " +
                    message(address.takeError()));
  return address->toPtr<void*>();
}

void CpuJit::unload(Module* module) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto& modules = state_->modules;
  const auto it = std::find_if(modules.begin(), modules.end(),
                               [&](const std::unique_ptr<Module>& m) { return m.get() == module; });
  if (it == modules.end()) return;
  llvm::Error e = state_->jit->getExecutionSession().removeJITDylib(*module->dylib);
  const std::string name = module->name;
  modules.erase(it);
  if (e) throw LoadError("lla: cannot unload CPU module " + name + ": " + message(std::move(e)));
}

}  // namespace lla::runtime::cpu
