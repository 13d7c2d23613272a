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
