#pragma once
// Where the cache lives when the caller names no folder.

#include <string>

namespace lla::cache {

// LLA_CACHE_DIR, else $XDG_CACHE_HOME/lla, else $HOME/.cache/lla, else ./.lla-cache.
std::string default_cache_dir();

}  // namespace lla::cache
