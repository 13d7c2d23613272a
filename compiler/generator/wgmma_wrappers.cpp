#include "generator/wgmma_wrappers.h"

#include <stdexcept>

namespace lla::compiler {

namespace {

// "%first,%first+1,...", `count` operands.
std::string operand_list(int first, int count) {
  std::string list;
  for (int i = 0; i < count; ++i) list += (i ? ",%" : "%") + std::to_string(first + i);
  return list;
}

// The accumulators as read-write asm outputs, a line per eight.
std::string accumulator_constraints(int count) {
  std::string list;
  for (int i = 0; i < count; ++i) {
    list += i % 8 == 0 ? (i ? ",\n          " : "          ") : ", ";
    list += "\"+f\"(d[" + std::to_string(i) + "])";
  }
  return list;
}

std::string specialization(const std::string& inputs, int n) {
  const int regs = n / 2;
  const std::string r = std::to_string(regs);
  const auto op = [&](int offset) { return "%" + std::to_string(regs + offset); };
  const std::string instruction =
      "wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k16.f32." + inputs + "." + inputs;
  std::string s;
  s += "template <>\nstruct Wgmma<" + std::to_string(n) + "> {\n";
  s += "  template <int kTransposeB>\n";
  s += "  __device__ static void shared_a(float (&d)[" + r +
       "], WgmmaDescriptor a, WgmmaDescriptor b, bool accumulate) {\n";
  s += "    asm volatile(\n";
  s += "        \"{\\n.reg .pred p;\\n.reg .b64 da, db;\\nsetp.ne.b32 p, " + op(4) + ", 0;\\n\"\n";
  s += "        \"mov.b64 da, {" + op(0) + ", " + op(1) + "};\\nmov.b64 db, {" + op(2) + ", " + op(3) + "};\\n\"\n";
  s += "        \"" + instruction + "\\n\"\n";
  s += "        \"{" + operand_list(0, regs) + "},\\n\"\n";
  s += "        \"da, db, p, 1, 1, 0, " + op(5) + ";\\n}\\n\"\n";
  s += "        :\n" + accumulator_constraints(regs) + "\n";
  s += "        : \"r\"(a.lo), \"r\"(a.hi), \"r\"(b.lo), \"r\"(b.hi), \"r\"(static_cast<int>(accumulate)),\n"
       "          \"n\"(kTransposeB));\n";
  s += "  }\n";
  s += "  template <int kTransposeB>\n";
  s += "  __device__ static void register_a(float (&d)[" + r +
       "], const unsigned (&a)[4], WgmmaDescriptor b, bool accumulate) {\n";
  s += "    asm volatile(\n";
  s += "        \"{\\n.reg .pred p;\\n.reg .b64 db;\\nsetp.ne.b32 p, " + op(6) + ", 0;\\n\"\n";
  s += "        \"mov.b64 db, {" + op(4) + ", " + op(5) + "};\\n\"\n";
  s += "        \"" + instruction + "\\n\"\n";
  s += "        \"{" + operand_list(0, regs) + "},\\n\"\n";
  s += "        \"{" + operand_list(regs, 4) + "}, db, p, 1, 1, " + op(7) + ";\\n}\\n\"\n";
  s += "        :\n" + accumulator_constraints(regs) + "\n";
  s += "        : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"r\"(b.lo), \"r\"(b.hi),\n"
       "          \"r\"(static_cast<int>(accumulate)), \"n\"(kTransposeB));\n";
  s += "  }\n";
  s += "};\n";
  return s;
}

}  // namespace

std::string wgmma_wrappers(Dtype dtype, const std::vector<int>& widths) {
  if (dtype == Dtype::f32) throw std::invalid_argument("dtype=f32: wgmma takes f16 or bf16 inputs here");
  const std::string inputs = dtype_name(dtype);
  std::string s = "template <int kN>\nstruct Wgmma;\n";
  for (int n : widths) {
    if (n < 8 || n > 256 || n % 8 != 0)
      throw std::invalid_argument("wgmma width " + std::to_string(n) + ": must be a multiple of 8 in [8, 256]");
    s += specialization(inputs, n);
  }
  return s;
}

}  // namespace lla::compiler
