#pragma once
// The templates of templates/ (CUDA's *.cuh, in folders too; the CPU backend's cpu/*.h),
// embedded at build time.

#include <string_view>
#include <vector>

namespace lla::templates {

struct Template {
  std::string_view name;  // path below templates/: "mamba2_decode.cuh", "ptx/sm80.cuh", "cpu/common.h"
  std::string_view text;
};

// Every embedded template, in path order.
const std::vector<Template>& all();

// The text of the template called `name`; empty when there is none.
inline std::string_view find(std::string_view name) {
  for (const Template& t : all())
    if (t.name == name) return t.text;
  return {};
}

}  // namespace lla::templates
