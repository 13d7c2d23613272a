#pragma once
// CPU object code -> callable entry points, through LLVM ORC (LLJIT): the CPU backend's
// "load". One CpuJit holds any number of modules, each in a JITDylib of its own, so a module
// is unloaded without touching the others. Symbols the object does not define (memcpy, memset,
// the ones LLVM emits for large copies) resolve from this process. Loading a cached object
// links it in place: no compile, a fraction of a millisecond.
//
// Thread safety: load, lookup and unload may be called from several threads at once; an
// entry point stays callable until its module is unloaded or the CpuJit destroyed.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lla::runtime::cpu {

// The signature of every CPU entry point (templates/cpu/kernel_params.h): the launch's
// parameter struct, the work item to run, and scratch memory owned by the calling worker
// (Launch::shared_bytes bytes, 64-byte aligned).
using EntryPoint = void (*)(const void* params, long long item, void* scratch);

// A failure to create the JIT, link an object or find a symbol; the message names the module
// and LLVM's reason.
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CpuJit {
 public:
  // Throws LoadError when LLVM cannot build a JIT for this process.
  CpuJit();
  ~CpuJit();
  CpuJit(const CpuJit&) = delete;
  CpuJit& operator=(const CpuJit&) = delete;

  // A loaded module: its JITDylib, named `name` (unique within this CpuJit).
  struct Module;

  // Links `object` (a relocatable object file for this machine) as a new module. Throws
  // LoadError (a duplicate name, an object LLVM cannot read or link).
  Module* load(const std::string& name, const std::vector<uint8_t>& object);
  // The address of `symbol` in `module`; throws LoadError naming both when it is undefined.
  // Looking up the first symbol of a module finalises its code (the link happens then).
  void* lookup(Module* module, const std::string& symbol);
  EntryPoint entry_point(Module* module, const std::string& name) {
    return reinterpret_cast<EntryPoint>(lookup(module, name));
  }
  // Releases the module's code; its addresses become invalid. Throws LoadError when LLVM
  // reports a failure to free it.
  void unload(Module* module);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lla::runtime::cpu
