#include "api/sized_structs.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "api/status_error.h"

namespace lla::runtime {
namespace {

// No version of an lla struct will reach this size; a struct_size beyond it is garbage (an
// uninitialised struct), and reading that far past the caller's struct could fault.
constexpr size_t kLargestPlausibleSize = 4096;

// Each of these structs begins with a size_t, so every version's sizeof is a multiple of its
// alignment (a later field of larger alignment would not make older sizes wrong).
constexpr size_t kSizeMultiple = alignof(size_t);

}  // namespace

void write_sized_bytes(void* out, size_t size, const void* fields, const SizedLayout& layout) {
  if (!out) return;
  const size_t known = std::min(size, layout.current_size);
  std::memcpy(out, fields, known);
  std::memset(static_cast<char*>(out) + known, 0, size - known);
  if (size >= sizeof(size_t)) std::memcpy(out, &size, sizeof size);  // struct_size is first
}

void read_sized_bytes(const void* in, void* copy, const SizedLayout& layout) {
  size_t size = 0;
  std::memcpy(&size, in, sizeof size);
  if (size < layout.first_size || size % kSizeMultiple != 0 || size > kLargestPlausibleSize)
    throw StatusError(LLA_ERR_INVALID_ARGUMENT,
                      std::string(layout.name) + ".struct_size: " + std::to_string(size) +
                          " is not the size of an " + layout.name + " (" +
                          std::to_string(layout.current_size) + " bytes in lla " LLA_VERSION
                          "); fill the struct with " + layout.init +
                          "() before setting its fields");
  const unsigned char* bytes = static_cast<const unsigned char*>(in);
  for (size_t i = layout.current_size; i < size; ++i)
    if (bytes[i] != 0)
      throw StatusError(LLA_ERR_NOT_SUPPORTED,
                        std::string(layout.name) + ": the caller's struct is " +
                            std::to_string(size) + " bytes and sets byte " + std::to_string(i) +
                            ", past the " + std::to_string(layout.current_size) +
                            " bytes lla " LLA_VERSION " knows: the program uses a field of a "
                            "newer lla.h; run it with that liblla, or leave the field at its "
                            "default");
  const size_t known = std::min(size, layout.current_size);
  std::memset(copy, 0, layout.current_size);
  std::memcpy(copy, in, known);
  std::memcpy(copy, &layout.current_size, sizeof layout.current_size);
}

}  // namespace lla::runtime
