#include "backend/cuda/cuda_toolchain.h"

#include <stdexcept>

#include "api/status_error.h"

namespace lla::runtime::backend::cuda {
namespace {

class NvrtcToolchain final : public Toolchain {
 public:
  compiler::BackendKind kind() const override { return compiler::BackendKind::cuda; }

  // The key lla's first caches were written under: the NVRTC version, its option string, the arch.
  ToolchainIdentity identity(const compiler::Target& target) const override {
    require_cuda(target);
    try {
      compiler::arch_sm_number(target.name);
    } catch (const std::invalid_argument& e) {
      throw StatusError(LLA_ERR_NOT_SUPPORTED, e.what());
    }
    return {compiler::nvrtc_version_string(), compiler::join_options(compiler::nvrtc_options(target.name)),
            target.name};
  }

  compiler::GeneratedSource generate(const compiler::KernelSpec& spec) const override {
    require_cuda(spec.target);
    try {
      return compiler::generate(spec);
    } catch (const std::invalid_argument& e) {
      throw StatusError(LLA_ERR_NOT_SUPPORTED, "lla cannot generate " + describe_or_family(spec) + ": " + e.what());
    }
  }

  CompiledImage compile(const compiler::GeneratedSource& source, const compiler::Target& target) const override {
    require_cuda(target);
    compiler::CompiledModule compiled;
    try {
      compiled = compiler::compile(source, target.name);
    } catch (const compiler::CompileError& e) {
      throw StatusError(LLA_ERR_COMPILE, "NVRTC rejected the generated source of " + source.name + ": " + e.what());
    }
    return {std::move(compiled.cubin), std::move(compiled.log), compiled.compile_ms};
  }

  std::vector<compiler::KernelResources> resources(const std::string& log) const override {
    return compiler::parse_ptxas_resources(log);
  }

 private:
  static void require_cuda(const compiler::Target& target) {
    if (target.backend != compiler::BackendKind::cuda)
      throw StatusError(LLA_ERR_INTERNAL, std::string("the CUDA toolchain was asked for a ") +
                                              compiler::backend_name(target.backend) + " target");
  }
  // The spec's description, or only its family when the spec is too broken to describe.
  static std::string describe_or_family(const compiler::KernelSpec& spec) {
    try {
      return compiler::describe(spec);
    } catch (const std::invalid_argument&) {
      return std::string(compiler::variant_name(spec.family.variant)) + " " + compiler::pass_name(spec.family.pass);
    }
  }
};

}  // namespace

const Toolchain& cuda_toolchain() {
  static const NvrtcToolchain toolchain;
  return toolchain;
}

}  // namespace lla::runtime::backend::cuda
