// The PTX instruction stream of every algorithm's module, pinned. Each spec below is compiled
// through `lla inspect --emit ptx` (so the pin survives any change of the C++ interfaces behind
// it) and its PTX reduced to its shape: comments and debug information dropped, every symbol
// the module declares (kernels, device functions, shared and global variables, parameters)
// named SYM, labels numbered by first use within their function, and the module's top-level
// items sorted. A rename or a reordering of source passes; any changed instruction, operand,
// register count or directive fails. The hashes were taken at the commit that added this test
// (bbfe108's kernels) with NVRTC 13.0; another NVRTC emits other PTX, so there the test skips
// and says why.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nvrtc/nvrtc_compiler.h"
#include "scratch_files.h"
#include "tool_run.h"

namespace lla::test {
namespace {

constexpr const char* kPinnedNvrtc = "13.0";

struct PinnedModule {
  const char* name;
  std::vector<std::string> inspect_args;  // before --emit ptx
  uint64_t shape_hash;
};

std::vector<std::string> forward(std::vector<std::string> args) {
  std::vector<std::string> all = {"--variant", "mamba2", "--dk", "128", "--dv", "64", "--chunk",
                                  "64", "--levels", "15"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

std::vector<std::string> decode(std::vector<std::string> args) {
  std::vector<std::string> all = {"--variant", "mamba2_decode", "--dk", "128", "--dv", "128",
                                  "--levels", "15"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

void PrintTo(const PinnedModule& m, std::ostream* out) { *out << m.name; }

const std::vector<PinnedModule>& pinned_modules() {
  static const std::vector<PinnedModule> modules = {
      {"fma_f32_sm_80", forward({"--dtype", "f32", "--algorithm", "fma", "--block-k", "32", "--block-v", "32", "--warps", "4", "--arch", "sm_80"}), 0xd2b0bd743b0c970aull},
      {"fma_f32_sm_90a", forward({"--dtype", "f32", "--algorithm", "fma", "--block-k", "32", "--block-v", "32", "--warps", "4", "--arch", "sm_90a"}), 0x1c7e46ea11770ea2ull},
      {"fma_bf16_sm_90a", forward({"--dtype", "bf16", "--algorithm", "fma", "--block-k", "16", "--block-v", "64", "--warps", "8", "--arch", "sm_90a"}), 0x04aa170871c0e4ebull},
      {"mma_bf16_v32_sm_80", forward({"--dtype", "bf16", "--algorithm", "mma", "--block-v", "32", "--warps", "4", "--arch", "sm_80"}), 0xaa244298503549a6ull},
      {"mma_bf16_v64_sm_90a", forward({"--dtype", "bf16", "--algorithm", "mma", "--block-v", "64", "--warps", "4", "--arch", "sm_90a"}), 0x9f7b3785babe7bb0ull},
      {"mma_f16_v64_sm_80", forward({"--dtype", "f16", "--algorithm", "mma", "--block-v", "64", "--warps", "4", "--arch", "sm_80"}), 0x6e11a7721a6d4831ull},
      {"scan_bf16_v32_sm_80", forward({"--dtype", "bf16", "--algorithm", "scan", "--block-v", "32", "--warps", "4", "--arch", "sm_80"}), 0xe80f5984dbfa57beull},
      {"scan_bf16_v64_sm_80", forward({"--dtype", "bf16", "--algorithm", "scan", "--block-v", "64", "--warps", "4", "--arch", "sm_80"}), 0x163c1919701309b8ull},
      {"scan_bf16_v32_sm_90a", forward({"--dtype", "bf16", "--algorithm", "scan", "--block-v", "32", "--warps", "4", "--arch", "sm_90a"}), 0x3d68f5004f179a4eull},
      {"scan_f16_v64_sm_90a", forward({"--dtype", "f16", "--algorithm", "scan", "--block-v", "64", "--warps", "4", "--arch", "sm_90a"}), 0xfabb638c3bd3c577ull},
      {"scan_wgmma_bf16_v32_sm_90a", forward({"--dtype", "bf16", "--algorithm", "scan_wgmma", "--block-v", "32", "--warps", "4", "--arch", "sm_90a"}), 0x3e7ef9149ab4e21aull},
      {"scan_wgmma_bf16_v64_sm_90a", forward({"--dtype", "bf16", "--algorithm", "scan_wgmma", "--block-v", "64", "--warps", "4", "--arch", "sm_90a"}), 0x65a8274e569a1ddbull},
      {"scan_wgmma_f16_v64_sm_90a", forward({"--dtype", "f16", "--algorithm", "scan_wgmma", "--block-v", "64", "--warps", "4", "--arch", "sm_90a"}), 0xd978c80aa42ecfe4ull},
      {"decode_bf16_v32_w4_sm_80", decode({"--dtype", "bf16", "--block-v", "32", "--warps", "4", "--arch", "sm_80"}), 0xb0d0c6df7c69a3a4ull},
      {"decode_bf16_v32_w4_sm_90a", decode({"--dtype", "bf16", "--block-v", "32", "--warps", "4", "--arch", "sm_90a"}), 0x17e0d0c1dc885f6eull},
      {"decode_f32_v16_w2_sm_90a", decode({"--dtype", "f32", "--block-v", "16", "--warps", "2", "--arch", "sm_90a"}), 0xfd652e7e27fd046bull},
  };
  return modules;
}

std::string strip_comments(const std::string& ptx) {
  std::string out;
  for (size_t i = 0; i < ptx.size();) {
    if (ptx.compare(i, 2, "//") == 0) {
      i = ptx.find('\n', i);
      if (i == std::string::npos) break;
    } else if (ptx.compare(i, 2, "/*") == 0) {
      const size_t end = ptx.find("*/", i + 2);
      i = end == std::string::npos ? ptx.size() : end + 2;
    } else {
      out += ptx[i++];
    }
  }
  return out;
}

std::string trimmed(const std::string& line) {
  std::string out;
  bool space = false;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    out += c;
    space = false;
  }
  return out;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The names the module declares: entry points, device functions and variables of any space.
std::set<std::string> declared_symbols(const std::vector<std::string>& lines) {
  static const std::regex function(R"(\.(?:entry|func)\s+(?:\([^)]*\)\s*)?([A-Za-z_$%][\w$]*))");
  static const std::regex variable(
      R"(^(?:\.(?:visible|extern|weak)\s+)*\.(?:global|shared|const|local)\s.*?([A-Za-z_$][\w$]*)\s*(?:\[[^\]]*\])*\s*(?:=.*)?;$)");
  std::set<std::string> names;
  for (const std::string& line : lines) {
    std::smatch m;
    if (std::regex_search(line, m, function)) names.insert(m[1]);
    else if (std::regex_search(line, m, variable)) names.insert(m[1]);
  }
  return names;
}

// One top-level item with its symbols named SYM (parameters SYM_param_N) and its labels
// numbered by first appearance.
std::string canonical_item(const std::vector<std::string>& item, const std::set<std::string>& symbols) {
  static const std::regex identifier(R"([A-Za-z_$%][\w$]*)");
  static const std::regex label_definition(R"(^([A-Za-z_$][\w$]*):$)");
  std::set<std::string> labels;
  for (const std::string& line : item) {
    std::smatch m;
    if (std::regex_match(line, m, label_definition)) labels.insert(m[1]);
  }
  std::vector<std::string> label_order;
  std::string text;
  for (const std::string& line : item) {
    std::string out;
    auto begin = std::sregex_iterator(line.begin(), line.end(), identifier);
    size_t at = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      const std::string name = it->str();
      out += line.substr(at, it->position() - at);
      at = it->position() + it->length();
      if (labels.count(name)) {
        auto found = std::find(label_order.begin(), label_order.end(), name);
        if (found == label_order.end()) found = label_order.insert(label_order.end(), name);
        out += "L" + std::to_string(found - label_order.begin());
        continue;
      }
      const size_t param = name.rfind("_param_");
      if (symbols.count(name)) out += "SYM";
      else if (param != std::string::npos && symbols.count(name.substr(0, param)))
        out += "SYM" + name.substr(param);
      else out += name;
    }
    text += out + line.substr(at) + "\n";
  }
  return text;
}

// The name a top-level variable declaration declares; "" for any other item.
std::string declared_variable(const std::vector<std::string>& item) {
  static const std::regex variable(
      R"(^(?:\.(?:visible|extern|weak)\s+)*\.(?:global|shared|const|local)\s.*?([A-Za-z_$][\w$]*)\s*(?:\[[^\]]*\])*\s*(?:=.*)?;$)");
  std::smatch m;
  return item.size() == 1 && std::regex_search(item[0], m, variable) ? m[1].str() : "";
}

bool is_function(const std::vector<std::string>& item) {
  return std::any_of(item.begin(), item.end(), [](const std::string& line) {
    return line.find(".entry") != std::string::npos || line.find(".func") != std::string::npos;
  });
}

// The module's shape text: see the top of this file. Module-scope variables no function
// refers to (every namespace-scope constexpr of the source becomes one) are data, not part of
// the instruction stream, and are left out.
std::string ptx_shape(const std::string& ptx) {
  std::vector<std::string> lines;
  {
    std::istringstream in(strip_comments(ptx));
    bool in_debug_section = false;
    int depth = 0;
    for (std::string raw; std::getline(in, raw);) {
      const std::string line = trimmed(raw);
      if (line.empty() || starts_with(line, ".loc") || starts_with(line, ".file")) continue;
      if (starts_with(line, ".section")) in_debug_section = true;
      if (in_debug_section) {
        depth += static_cast<int>(std::count(line.begin(), line.end(), '{')) -
                 static_cast<int>(std::count(line.begin(), line.end(), '}'));
        if (depth <= 0 && line.find('}') != std::string::npos) in_debug_section = false;
        continue;
      }
      lines.push_back(line);
    }
  }
  std::vector<std::vector<std::string>> items;
  std::vector<std::string> item;
  int depth = 0;
  for (const std::string& line : lines) {
    item.push_back(line);
    depth += static_cast<int>(std::count(line.begin(), line.end(), '{')) -
             static_cast<int>(std::count(line.begin(), line.end(), '}'));
    const bool complete = depth == 0 && (line.back() == ';' || line.back() == '}' ||
                                         starts_with(line, ".version") || starts_with(line, ".target") ||
                                         starts_with(line, ".address_size"));
    if (complete) {
      items.push_back(item);
      item.clear();
    }
  }
  if (!item.empty()) items.push_back(item);

  static const std::regex identifier(R"([A-Za-z_$][\w$]*)");
  std::set<std::string> used;
  for (const std::vector<std::string>& i : items) {
    if (!is_function(i)) continue;
    for (const std::string& line : i)
      for (auto it = std::sregex_iterator(line.begin(), line.end(), identifier); it != std::sregex_iterator(); ++it)
        used.insert(it->str());
  }
  const std::set<std::string> symbols = declared_symbols(lines);
  std::vector<std::string> shapes;
  for (const std::vector<std::string>& i : items) {
    const std::string variable = declared_variable(i);
    if (!variable.empty() && !used.count(variable)) continue;
    shapes.push_back(canonical_item(i, symbols));
  }
  std::sort(shapes.begin(), shapes.end());
  std::string shape;
  for (const std::string& s : shapes) shape += s + "\n";
  return shape;
}

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string hex(uint64_t x) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%016llxull", static_cast<unsigned long long>(x));
  return text;
}

TEST(PtxShape, NamesLabelsCommentsAndOrderDoNotCount) {
  const std::string a =
      "//\n// Generated\n.version 9.0\n.target sm_90a\n.address_size 64\n"
      ".extern .shared .align 16 .b8 smem_a[];\n"
      ".visible .entry kernel_a(\n.param .u64 kernel_a_param_0\n)\n{\n.reg .b32 %r<3>;\n"
      ".loc 1 7 3\nld.param.u64 %rd1, [kernel_a_param_0];\n$L__BB0_1:\nadd.s32 %r1, %r1, 1;\n"
      "@%p1 bra.uni $L__BB0_1;\nret;\n}\n"
      ".func helper_a()\n{\nret;\n}\n"
      ".global .align 4 .u32 _ZN10lla_config6kChunkE = 64;\n"
      ".section .debug_str\n{\n.b8 65\n}\n";
  const std::string renamed =
      ".version 9.0\n.target sm_90a\n.address_size 64\n"
      ".func other_helper()\n{\nret; // moved\n}\n"
      ".extern .shared .align 16 .b8 scan_smem[];\n"
      ".visible .entry lla_kernel(\n.param .u64 lla_kernel_param_0\n)\n{\n.reg .b32 %r<3>;\n"
      "ld.param.u64 %rd1, [lla_kernel_param_0];\n$L__BB3_7:\nadd.s32 %r1, %r1, 1;\n"
      "@%p1 bra.uni $L__BB3_7;\nret;\n}\n";
  EXPECT_EQ(ptx_shape(a), ptx_shape(renamed));
  std::string changed = renamed;
  changed.replace(changed.find("add.s32 %r1, %r1, 1"), 19, "add.s32 %r1, %r1, 2");
  EXPECT_NE(ptx_shape(a), ptx_shape(changed));
  std::string more_registers = renamed;
  more_registers.replace(more_registers.find("%r<3>"), 5, "%r<4>");
  EXPECT_NE(ptx_shape(a), ptx_shape(more_registers));
}

class PinnedPtx : public ::testing::TestWithParam<PinnedModule> {};

TEST_P(PinnedPtx, InstructionStreamIsUnchanged) {
  const std::string nvrtc = compiler::nvrtc_version_string();
  if (nvrtc != kPinnedNvrtc)
    GTEST_SKIP() << "PTX shapes were pinned with NVRTC " << kPinnedNvrtc << "; this is NVRTC "
                 << nvrtc << ", which emits other PTX";
  const PinnedModule& pinned = GetParam();
  std::vector<std::string> args = pinned.inspect_args;
  args.insert(args.end(), {"--emit", "ptx"});
  const ToolRun run = run_tool("inspect", args);
  ASSERT_EQ(run.exit_status, 0) << run.err;
  ASSERT_NE(run.out.find(".entry"), std::string::npos) << run.out.substr(0, 2000);
  const std::string shape = ptx_shape(run.out);
  const std::string kept = write_scratch("shape.txt", shape);
  EXPECT_EQ(hex(fnv1a(shape)), hex(pinned.shape_hash))
      << pinned.name << ": the PTX instruction stream changed; its shape is in " << kept;
}

INSTANTIATE_TEST_SUITE_P(Modules, PinnedPtx, ::testing::ValuesIn(pinned_modules()),
                         [](const ::testing::TestParamInfo<PinnedModule>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace lla::test
