#include "option_values.h"

#include <stdexcept>

namespace lla::tools {

int parse_int(const std::string& option, const std::string& text) {
  size_t used = 0;
  int parsed = 0;
  try {
    parsed = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw std::invalid_argument(option + ": '" + text + "' is not an integer");
  return parsed;
}

double parse_positive_seconds(const std::string& option, const std::string& text) {
  size_t used = 0;
  double parsed = 0;
  try {
    parsed = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(parsed > 0))
    throw std::invalid_argument(option + ": '" + text + "' is not a positive number of seconds");
  return parsed;
}

compiler::Dtype parse_dtype(const std::string& text) {
  for (compiler::Dtype d : {compiler::Dtype::bf16, compiler::Dtype::f16, compiler::Dtype::f32})
    if (text == compiler::dtype_name(d)) return d;
  throw std::invalid_argument("--dtype: '" + text + "' is not one of bf16, f16, f32");
}

}  // namespace lla::tools
