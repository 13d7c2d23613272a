#include "nvrtc/nvrtc_compiler.h"

#include <nvrtc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace lla::compiler {

namespace {

// Owns an nvrtcProgram so every exit path destroys it.
class Program {
 public:
  Program(const std::string& source, const std::string& name) {
    const nvrtcResult r =
        nvrtcCreateProgram(&program_, source.c_str(), name.c_str(), 0, nullptr, nullptr);
    if (r != NVRTC_SUCCESS)
      throw CompileError("nvrtcCreateProgram(" + name + "): " + nvrtcGetErrorString(r), "");
  }
  ~Program() { nvrtcDestroyProgram(&program_); }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  nvrtcProgram get() const { return program_; }

 private:
  nvrtcProgram program_ = nullptr;
};

void check(nvrtcResult r, const char* call, const std::string& name) {
  if (r != NVRTC_SUCCESS)
    throw CompileError(std::string(call) + "(" + name + "): " + nvrtcGetErrorString(r), "");
}

std::string program_log(nvrtcProgram program, const std::string& name) {
  size_t size = 0;
  check(nvrtcGetProgramLogSize(program, &size), "nvrtcGetProgramLogSize", name);
  std::string log(size, '\0');
  check(nvrtcGetProgramLog(program, log.data()), "nvrtcGetProgramLog", name);
  while (!log.empty() && log.back() == '\0') log.pop_back();
  return log;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// LINE of a "<program_name>(LINE): error..." log line; 0 for any other line.
long error_line_number(const std::string& line, const std::string& program_name) {
  const std::string prefix = program_name + "(";
  if (line.compare(0, prefix.size(), prefix) != 0) return 0;
  size_t digits_end = prefix.size();
  while (digits_end < line.size() && std::isdigit(static_cast<unsigned char>(line[digits_end])))
    ++digits_end;
  if (digits_end == prefix.size() || line.compare(digits_end, 9, "): error:") != 0) return 0;
  return std::stol(line.substr(prefix.size(), digits_end - prefix.size()));
}

// The log with the generated source around each error's line quoted under it, since the
// source only exists in memory.
std::string annotate_errors(const std::string& log, const std::string& program_name,
                            const std::string& source) {
  const std::vector<std::string> source_lines = split_lines(source);
  std::string out;
  for (const std::string& line : split_lines(log)) {
    out += line + "\n";
    const long at = error_line_number(line, program_name);
    if (at == 0) continue;
    for (long n = at - 1; n <= at + 1; ++n) {
      if (n < 1 || n > static_cast<long>(source_lines.size())) continue;
      char prefix[32];
      std::snprintf(prefix, sizeof prefix, "  %s %5ld | ", n == at ? ">" : " ", n);
      out += prefix + source_lines[n - 1] + "\n";
    }
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool is_executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string find_cuobjdump() {
  std::vector<std::string> candidates;
  if (const char* home = std::getenv("CUDA_HOME"))
    candidates.push_back(std::string(home) + "/bin/cuobjdump");
  candidates.push_back("/usr/local/cuda/bin/cuobjdump");
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (!dir.empty()) candidates.push_back(dir + "/cuobjdump");
  }
  for (const std::string& c : candidates)
    if (is_executable(c)) return c;
  throw std::runtime_error(
      "cuobjdump not found in $CUDA_HOME/bin, /usr/local/cuda/bin or PATH; install the CUDA "
      "Toolkit's cuobjdump to disassemble SASS");
}

// A temporary file removed when this goes out of scope.
class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& bytes) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/lla-cubin-XXXXXX";
    int fd = mkstemp(path_.data());
    if (fd < 0) throw std::runtime_error("cannot create a temporary file " + path_);
    size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
      if (n <= 0) {
        close(fd);
        unlink(path_.c_str());
        throw std::runtime_error("cannot write the temporary file " + path_);
      }
      written += static_cast<size_t>(n);
    }
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::vector<std::string> nvrtc_options(const std::string& arch) {
  // No --use_fast_math: the kernels are checked against a float64 reference, and fast
  // exp/div would cost accuracy the tolerances do not allow for.
  // --no-cache: where a CUDA driver is installed, NVRTC 13 serves repeated compiles from the
  // driver's compute cache and then runs no ptxas, so the log has no resource report (and
  // compile times mean nothing). lla caches binaries itself, under a complete key.
  // --split-compile=0: optimise and assemble a module's kernels on all cores at once (about
  // a fifth off a cold compile on two cores, more on larger hosts).
  return {"--gpu-architecture=" + arch, "-std=c++17", "-default-device", "--ptxas-options=-v",
          "-lineinfo", "--no-cache", "--split-compile=0"};
}

std::string join_options(const std::vector<std::string>& options) {
  std::string joined;
  for (const std::string& o : options) joined += (joined.empty() ? "" : " ") + o;
  return joined;
}

std::string nvrtc_version_string() {
  int major = 0, minor = 0;
  check(nvrtcVersion(&major, &minor), "nvrtcVersion", "");
  return std::to_string(major) + "." + std::to_string(minor);
}

CompiledModule compile(const GeneratedSource& src, const std::string& arch, bool want_ptx) {
  const auto start = std::chrono::steady_clock::now();
  const std::string program_name = src.name + ".cu";
  const std::vector<std::string> options = nvrtc_options(arch);
  std::vector<const char*> option_ptrs;
  for (const std::string& o : options) option_ptrs.push_back(o.c_str());

  Program program(src.source, program_name);
  const nvrtcResult compiled =
      nvrtcCompileProgram(program.get(), static_cast<int>(option_ptrs.size()), option_ptrs.data());
  CompiledModule module;
  module.log = program_log(program.get(), program_name);
  module.options = join_options(options);
  if (compiled != NVRTC_SUCCESS)
    throw CompileError("NVRTC could not compile " + program_name + " for " + arch + " (" +
                           nvrtcGetErrorString(compiled) + "):\n" +
                           annotate_errors(module.log, program_name, src.source),
                       module.log);

  size_t cubin_size = 0;
  check(nvrtcGetCUBINSize(program.get(), &cubin_size), "nvrtcGetCUBINSize", program_name);
  if (cubin_size == 0)
    throw CompileError("NVRTC produced no cubin for " + program_name + ": " + arch +
                           " is not a real target (expected sm_XY)",
                       module.log);
  module.cubin.resize(cubin_size);
  check(nvrtcGetCUBIN(program.get(), reinterpret_cast<char*>(module.cubin.data())), "nvrtcGetCUBIN",
        program_name);
  if (want_ptx) {
    size_t ptx_size = 0;
    check(nvrtcGetPTXSize(program.get(), &ptx_size), "nvrtcGetPTXSize", program_name);
    module.ptx.resize(ptx_size);
    check(nvrtcGetPTX(program.get(), module.ptx.data()), "nvrtcGetPTX", program_name);
    while (!module.ptx.empty() && module.ptx.back() == '\0') module.ptx.pop_back();
  }
  module.resources = parse_ptxas_resources(module.log);
  module.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return module;
}

std::vector<KernelResources> parse_ptxas_resources(const std::string& log) {
  // The NVRTC 13.0 ptxas -v report, per entry point:
  //   ptxas info    : Compiling entry function 'k' for 'sm_80'
  //   ptxas info    : Function properties for k
  //   ptxas         .     352 bytes stack frame, 36 bytes spill stores, 36 bytes spill loads
  //   ptxas info    : Used 24 registers, used 0 barriers, 1024 bytes smem, 364 bytes cmem[0]
  // "Function properties" also appear for non-inlined device functions; only the entry's own
  // count.
  static const std::regex entry(R"(Compiling entry function '([^']+)')");
  static const std::regex properties(R"(Function properties for (\S+))");
  static const std::regex frame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex registers(R"(Used (\d+) registers)");
  static const std::regex smem(R"((\d+) bytes smem)");
  static const std::regex cmem(R"((\d+) bytes cmem\[\d+\])");

  std::vector<KernelResources> kernels;
  std::string properties_of;
  for (const std::string& line : split_lines(log)) {
    std::smatch m;
    if (std::regex_search(line, m, entry)) {
      kernels.push_back(KernelResources{m[1]});
      properties_of.clear();
      continue;
    }
    if (kernels.empty()) continue;
    KernelResources& k = kernels.back();
    if (std::regex_search(line, m, properties)) {
      properties_of = m[1];
    } else if (std::regex_search(line, m, frame)) {
      if (properties_of == k.kernel) {
        k.stack_frame_bytes = std::stoi(m[1]);
        k.spill_store_bytes = std::stoi(m[2]);
        k.spill_load_bytes = std::stoi(m[3]);
      }
    } else if (std::regex_search(line, m, registers)) {
      k.registers = std::stoi(m[1]);
      if (std::regex_search(line, m, smem)) k.shared_bytes = std::stoi(m[1]);
      for (auto it = std::sregex_iterator(line.begin(), line.end(), cmem);
           it != std::sregex_iterator(); ++it)
        k.constant_bytes += std::stoi((*it)[1]);
    }
  }
  return kernels;
}

std::string disassemble_sass(const std::vector<uint8_t>& cubin) {
  const std::string cuobjdump = find_cuobjdump();
  TempFile file(cubin);
  const std::string command =
      shell_quote(cuobjdump) + " --dump-sass " + shell_quote(file.path()) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cuobjdump);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  const int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(cuobjdump + " --dump-sass failed:\n" + output);
  return output;
}

}  // namespace lla::compiler
