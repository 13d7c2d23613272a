# `cmake --install`: liblla (shared and static), lla.h, the lla program, a CMake package
# (find_package(lla CONFIG): lla::lla, and lla::lla_static with COMPONENTS static) and a
# pkg-config file (lla.pc). Both describe the installed tree wherever it was installed
# (cmake --install --prefix DIR), not only at CMAKE_INSTALL_PREFIX.
include(CMakePackageConfigHelpers)

set(LLA_CMAKE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lla)

# The installed library and program find NVRTC where this build found it, whether or not the
# toolkit's folder is in the loader's path.
set_target_properties(lla_shared lla PROPERTIES INSTALL_RPATH "${CUDAToolkit_LIBRARY_DIR}")

install(TARGETS lla_shared EXPORT llaTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS lla_static EXPORT llaStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS lla RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/include/lla/lla.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lla)

install(EXPORT llaTargets NAMESPACE lla:: DESTINATION ${LLA_CMAKE_PACKAGE_DIR})
install(EXPORT llaStaticTargets NAMESPACE lla:: DESTINATION ${LLA_CMAKE_PACKAGE_DIR})
set(LLA_CUDA_TOOLKIT_ROOT ${CUDAToolkit_LIBRARY_ROOT})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/llaConfig.cmake.in
  ${PROJECT_BINARY_DIR}/llaConfig.cmake INSTALL_DESTINATION ${LLA_CMAKE_PACKAGE_DIR})
# 0.x: a new minor version may change the binary interface.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/llaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/llaConfig.cmake ${PROJECT_BINARY_DIR}/llaConfigVersion.cmake
  DESTINATION ${LLA_CMAKE_PACKAGE_DIR})

# lla.pc locates the prefix from its own folder (${pcfiledir}), so it stays right when the
# tree is installed elsewhere or moved.
file(RELATIVE_PATH LLA_PC_PREFIX_FROM_PCFILEDIR
  /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" LLA_PC_PREFIX_FROM_PCFILEDIR "${LLA_PC_PREFIX_FROM_PCFILEDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/lla.pc.in ${PROJECT_BINARY_DIR}/lla.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lla.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
