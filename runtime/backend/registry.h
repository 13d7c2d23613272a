#pragma once
// The backends of this build, and lla_options' choice among them (lla_backend).

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "lla/lla.h"

namespace lla::runtime::backend {

struct BackendEntry {
  compiler::BackendKind kind;
  lla_backend choice;                  // the lla_options.backend value that asks for it
  const Toolchain& (*toolchain)();     // needs no device
  // Opens the backend. Throws StatusError: LLA_ERR_NO_DEVICE when this machine has none (the
  // message says why), or the errors its implementation documents.
  std::unique_ptr<Backend> (*open)(const BackendOptions& options);
  // Its driver, toolchain and devices for `lla env`; never throws.
  BackendReport (*report)();
};

// The registered backends, in the order LLA_BACKEND_AUTO tries them.
const std::vector<BackendEntry>& registered_backends();

// "auto", "cuda", "cpu"; nullptr for a value that is not an lla_backend.
const char* lla_backend_name(lla_backend choice);

// Opens what `choice` asks for. LLA_BACKEND_AUTO: the first registered backend that opens
// (CUDA when a driver and a device exist, else the CPU once it is built); when every one
// reports LLA_ERR_NO_DEVICE, the first one's error; any other error at once. An explicit
// choice: that backend, or StatusError(LLA_ERR_NOT_SUPPORTED) naming lla_options.backend when
// this build has none, or (LLA_ERR_INVALID_ARGUMENT) for a value that is no lla_backend.
std::unique_ptr<Backend> open_backend(lla_backend choice, const BackendOptions& options);

// The toolchain of a backend kind; null when this build has none.
const Toolchain* find_toolchain(compiler::BackendKind kind);

}  // namespace lla::runtime::backend
