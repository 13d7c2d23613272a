#pragma once
// Content hashing for cache keys and blob checksums. Self-contained so the cache module needs
// no crypto library.

#include <string>
#include <string_view>

namespace lla::cache {

// SHA-256 of bytes as 64 lowercase hex digits. Used for source hashes in keys and blob checksums.
std::string sha256_hex(std::string_view bytes);

}  // namespace lla::cache
