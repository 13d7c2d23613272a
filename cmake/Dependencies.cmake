# Every external dependency of lla, found once. A missing one stops configuration with the
# package that provides it on Debian (tools/scripts/ install these by themselves).

function(lla_require found what install)
  if(NOT ${found})
    message(FATAL_ERROR "lla needs ${what}. Install it with: ${install}")
  endif()
endfunction()

if(NOT DEFINED CUDAToolkit_ROOT AND DEFINED ENV{CUDA_HOME})
  set(CUDAToolkit_ROOT $ENV{CUDA_HOME})
endif()
if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(CUDAToolkit QUIET)
lla_require(CUDAToolkit_FOUND "the CUDA Toolkit (cuda.h and NVRTC)"
  "NVIDIA's CUDA Toolkit installer; then set CUDA_HOME to its folder (default /usr/local/cuda)")
if(NOT TARGET CUDA::nvrtc)
  message(FATAL_ERROR "lla needs NVRTC from the CUDA Toolkit at ${CUDAToolkit_LIBRARY_DIR}; install the toolkit's nvrtc component")
endif()

find_package(SQLite3 QUIET)
lla_require(SQLite3_FOUND "SQLite 3 headers and library" "apt-get install libsqlite3-dev")

find_package(nlohmann_json 3 QUIET)
lla_require(nlohmann_json_FOUND "nlohmann/json" "apt-get install nlohmann-json3-dev")

find_package(Threads REQUIRED)

# The CPU backend compiles generated C++ in process with clang and runs it through LLVM ORC.
# Debian's llvm-16-dev / libclang-cpp16-dev / libclang-16-dev / clang-16 packages, found by
# their own CMake folders: a bare find_package(Clang) would pair LLVM 16 with Clang 14's
# config. Both are linked as the shared libLLVM-16 and libclang-cpp.
option(LLA_CPU_BACKEND "Build the CPU backend (clang + LLVM ORC 16)" ON)
if(LLA_CPU_BACKEND)
  set(lla_llvm_install "apt-get install llvm-16-dev libclang-cpp16-dev libclang-16-dev clang-16 (or configure with -DLLA_CPU_BACKEND=OFF)")
  find_package(LLVM 16 CONFIG QUIET PATHS /usr/lib/llvm-16/lib/cmake/llvm NO_DEFAULT_PATH)
  lla_require(LLVM_FOUND "LLVM 16 (its CMake package)" "${lla_llvm_install}")
  find_package(Clang CONFIG QUIET PATHS ${LLVM_INSTALL_PREFIX}/lib/cmake/clang NO_DEFAULT_PATH)
  lla_require(Clang_FOUND "Clang 16 (its CMake package and libclang-cpp)" "${lla_llvm_install}")
  if(NOT TARGET clang-cpp OR NOT LLVM_LINK_LLVM_DYLIB)
    message(FATAL_ERROR "lla links LLVM and Clang as shared libraries (libLLVM-16, libclang-cpp); "
                        "the packages at ${LLVM_DIR} do not provide them")
  endif()
  # liblla links the two shared libraries by path, so its exported link interface names files,
  # not the packages' imported targets (which a program linking lla would have to import too).
  find_library(LLA_LIBLLVM NAMES LLVM-${LLVM_VERSION_MAJOR} PATHS ${LLVM_LIBRARY_DIR} NO_DEFAULT_PATH)
  find_library(LLA_LIBCLANG_CPP NAMES clang-cpp PATHS ${LLVM_LIBRARY_DIR} NO_DEFAULT_PATH)
  lla_require(LLA_LIBLLVM "libLLVM-16.so" "${lla_llvm_install}")
  lla_require(LLA_LIBCLANG_CPP "libclang-cpp.so (Clang 16)" "${lla_llvm_install}")
  message(STATUS "lla: CPU backend with LLVM ${LLVM_PACKAGE_VERSION} (${LLVM_DIR})")
else()
  message(STATUS "lla: CPU backend off (LLA_CPU_BACKEND=OFF)")
endif()

if(BUILD_TESTING OR NOT DEFINED BUILD_TESTING)
  find_package(GTest QUIET)
  lla_require(GTest_FOUND "GoogleTest" "apt-get install googletest libgtest-dev")
  find_program(LLA_FILECHECK NAMES FileCheck FileCheck-14 FileCheck-15
    PATHS /usr/lib/llvm-14/bin /usr/lib/llvm-15/bin /usr/lib/llvm-16/bin)
  lla_require(LLA_FILECHECK "LLVM's FileCheck" "apt-get install llvm-14-tools")
  find_program(LLA_PKG_CONFIG NAMES pkg-config pkgconf)
  lla_require(LLA_PKG_CONFIG "pkg-config (the install test links through it)"
    "apt-get install pkg-config")
endif()
