#include "problem_bucket.h"

namespace lla::tuner {

int64_t power_of_two_bucket(int64_t n) {
  int64_t bucket = 1;
  while (bucket < n) bucket *= 2;
  return bucket;
}

std::string problem_key(const compiler::Request& request, int chunk) {
  const compiler::ProblemShape& s = request.shape;
  const int heads_per_group = s.groups > 0 ? s.heads / s.groups : 0;
  return std::string(compiler::family_for(request.family).name()) +
         " dtype=" + compiler::dtype_name(request.dtype) + " K=" + std::to_string(request.key_dim) +
         " V=" + std::to_string(request.value_dim) + " L=" + std::to_string(request.levels) +
         " C=" + std::to_string(chunk) + " heads_per_group=" + std::to_string(heads_per_group) +
         " batch_heads<=" + std::to_string(power_of_two_bucket(int64_t{s.batch} * s.heads)) +
         " T<=" + std::to_string(power_of_two_bucket(s.seq_len));
}

std::string device_key(const compiler::DeviceInfo& device) {
  return device.name + " cc=" + std::to_string(device.cc_major) + "." +
         std::to_string(device.cc_minor) + " sms=" + std::to_string(device.sm_count);
}

const char* lla_version() { return LLA_VERSION_STRING; }

}  // namespace lla::tuner
