#include "owned_context.h"

#include <stdexcept>
#include <string>

namespace lla::tools {

OwnedContext create_context(const lla_options* options) {
  lla_context* ctx = nullptr;
  if (lla_create(options, &ctx) != LLA_SUCCESS)
    throw std::runtime_error(std::string("lla_create: ") + lla_last_error(nullptr));
  return OwnedContext(ctx, lla_destroy);
}

}  // namespace lla::tools
