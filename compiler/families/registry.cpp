// The registry of kernel families: one line per family.
#include <stdexcept>
#include <string>

#include "families/kernel_family.h"
#include "families/mamba2_decode.h"
#include "families/mamba2_forward.h"

namespace lla::compiler {

const std::vector<const KernelFamily*>& all_families() {
  static const std::vector<const KernelFamily*> families = {
      &mamba2::forward_family(),
      &mamba2::decode_family(),
  };
  return families;
}

const KernelFamily* find_family(FamilyKey key) {
  for (const KernelFamily* f : all_families())
    if (f->key() == key) return f;
  return nullptr;
}

const KernelFamily& family_for(FamilyKey key) {
  if (const KernelFamily* f = find_family(key)) return *f;
  throw std::invalid_argument(std::string("no kernel family for ") + variant_name(key.variant) + " " +
                              pass_name(key.pass) + " yet");
}

const KernelFamily* family_named(const std::string& name) {
  for (const KernelFamily* f : all_families())
    if (name == f->name()) return f;
  return nullptr;
}

}  // namespace lla::compiler
