#pragma once
// Host-side encoding of reference tensors into a kernel's storage dtype and back, with the
// rounding the device uses (round to nearest even). Checks feed the reference the decoded
// values, so reference and kernel see exactly the same inputs.

#include <cstdint>
#include <vector>

#include "generator/kernel_spec.h"
#include "reference/reference.h"

namespace lla::reference {

uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t bits);
uint16_t float_to_f16(float f);
float f16_to_float(uint16_t bits);

// values -> packed dtype bytes (dtype_bytes(d) per value).
std::vector<uint8_t> encode(const std::vector<double>& values, compiler::Dtype d);
// packed dtype bytes -> values. The byte count must be a multiple of dtype_bytes(d).
std::vector<double> decode(const std::vector<uint8_t>& bytes, compiler::Dtype d);
// decode(encode(values)): the values as the device will see them.
std::vector<double> round_to(const std::vector<double>& values, compiler::Dtype d);

// The inputs as a kernel of dtype d sees them: q, k, v, lambda, beta rounded to d, g to fp32.
Inputs round_inputs(const Inputs& in, compiler::Dtype d);

}  // namespace lla::reference
