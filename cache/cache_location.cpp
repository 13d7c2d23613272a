#include "cache_location.h"

#include <cstdlib>

namespace lla::cache {

namespace {
const char* nonempty_env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}
}  // namespace

std::string default_cache_dir() {
  if (const char* dir = nonempty_env("LLA_CACHE_DIR")) return dir;
  if (const char* xdg = nonempty_env("XDG_CACHE_HOME")) return std::string(xdg) + "/lla";
  if (const char* home = nonempty_env("HOME")) return std::string(home) + "/.cache/lla";
  return ".lla-cache";
}

}  // namespace lla::cache
