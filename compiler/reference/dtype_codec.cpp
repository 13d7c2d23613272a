#include "reference/dtype_codec.h"

#include <cstring>
#include <stdexcept>

namespace lla::reference {

namespace {

uint32_t float_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  return x;
}

float bits_float(uint32_t x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

// Rounds `value >> shift` to nearest, ties to even.
uint32_t shift_round_even(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t rest = value & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
}

}  // namespace

uint16_t float_to_bf16(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>(shift_round_even(x, 16));
}

float bf16_to_float(uint16_t bits) { return bits_float(static_cast<uint32_t>(bits) << 16); }

uint16_t float_to_f16(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int exponent = static_cast<int>((x >> 23) & 0xff);
  const uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0));
  const int e = exponent - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {  // a half subnormal (or zero): m * 2^-24
    if (e < -10) return static_cast<uint16_t>(sign);
    return static_cast<uint16_t>(sign | shift_round_even(mantissa | 0x800000u, 14 - e));
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return static_cast<uint16_t>(sign | shift_round_even((static_cast<uint32_t>(e) << 23) | mantissa, 13));
}

float f16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const int exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);  // m * 2^-24
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | (static_cast<uint32_t>(exponent - 15 + 127) << 23) | (mantissa << 13));
}

std::vector<uint8_t> encode(const std::vector<double>& values, compiler::Dtype d) {
  const size_t width = static_cast<size_t>(compiler::dtype_bytes(d));
  std::vector<uint8_t> bytes(values.size() * width);
  for (size_t i = 0; i < values.size(); ++i) {
    const float f = static_cast<float>(values[i]);
    uint8_t* out = bytes.data() + i * width;
    if (d == compiler::Dtype::f32) {
      std::memcpy(out, &f, 4);
    } else {
      const uint16_t h = d == compiler::Dtype::bf16 ? float_to_bf16(f) : float_to_f16(f);
      std::memcpy(out, &h, 2);
    }
  }
  return bytes;
}

std::vector<double> decode(const std::vector<uint8_t>& bytes, compiler::Dtype d) {
  const size_t width = static_cast<size_t>(compiler::dtype_bytes(d));
  if (bytes.size() % width != 0)
    throw std::invalid_argument("decode: byte count is not a multiple of the dtype size");
  std::vector<double> values(bytes.size() / width);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint8_t* in = bytes.data() + i * width;
    if (d == compiler::Dtype::f32) {
      float f;
      std::memcpy(&f, in, 4);
      values[i] = f;
    } else {
      uint16_t h;
      std::memcpy(&h, in, 2);
      values[i] = d == compiler::Dtype::bf16 ? bf16_to_float(h) : f16_to_float(h);
    }
  }
  return values;
}

std::vector<double> round_to(const std::vector<double>& values, compiler::Dtype d) {
  return decode(encode(values, d), d);
}

Inputs round_inputs(const Inputs& in, compiler::Dtype d) {
  Inputs out;
  out.q = round_to(in.q, d);
  out.k = round_to(in.k, d);
  out.v = round_to(in.v, d);
  out.lambda = round_to(in.lambda, d);
  out.beta = round_to(in.beta, d);
  out.g = round_to(in.g, compiler::Dtype::f32);
  return out;
}

}  // namespace lla::reference
