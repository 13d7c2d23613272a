// The registry of backends: one line per backend.
#include "backend/registry.h"

#include <string>

#include "api/status_error.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_toolchain.h"

namespace lla::runtime::backend {

const std::vector<BackendEntry>& registered_backends() {
  static const std::vector<BackendEntry> entries = {
      {compiler::BackendKind::cuda, LLA_BACKEND_CUDA, cuda::cuda_toolchain, cuda::open_cuda_backend,
       cuda::report_cuda},
  };
  return entries;
}

const char* lla_backend_name(lla_backend choice) {
  switch (choice) {
    case LLA_BACKEND_AUTO: return "auto";
    case LLA_BACKEND_CUDA: return "cuda";
    case LLA_BACKEND_CPU: return "cpu";
  }
  return nullptr;
}

std::unique_ptr<Backend> open_backend(lla_backend choice, const BackendOptions& options) {
  if (!lla_backend_name(choice))
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      "lla_options.backend: " + std::to_string(choice) + " is not an lla_backend");
  if (choice != LLA_BACKEND_AUTO) {
    for (const BackendEntry& entry : registered_backends())
      if (entry.choice == choice) return entry.open(options);
    throw StatusError(LLA_ERR_NOT_SUPPORTED, std::string("lla_options.backend: the ") + lla_backend_name(choice) +
                                                 " backend is not available in this build of lla yet");
  }
  std::optional<StatusError> first;
  for (const BackendEntry& entry : registered_backends()) {
    try {
      return entry.open(options);
    } catch (const StatusError& e) {
      if (e.status() != LLA_ERR_NO_DEVICE) throw;
      if (!first) first = e;
    }
  }
  if (first) throw *first;
  throw StatusError(LLA_ERR_NO_DEVICE, "this build of lla has no backend");
}

const Toolchain* find_toolchain(compiler::BackendKind kind) {
  for (const BackendEntry& entry : registered_backends())
    if (entry.kind == kind) return &entry.toolchain();
  return nullptr;
}

}  // namespace lla::runtime::backend
