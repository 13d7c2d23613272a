#pragma once
// An lla context a command owns for its whole run.

#include <memory>

#include "lla/lla.h"

namespace lla::tools {

using OwnedContext = std::unique_ptr<lla_context, void (*)(lla_context*)>;

// lla_create with `options` (NULL: the defaults). Throws std::runtime_error
// "lla_create: <lla_last_error>" when it fails.
OwnedContext create_context(const lla_options* options);

}  // namespace lla::tools
