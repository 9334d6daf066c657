# Install rules and packaging (included by the top-level CMakeLists.txt after
# every subdirectory, when ARK_INSTALL is on). doc/install.md describes the result:
#
#   bin/ark-host, bin/ark-dash, bin/ark-bench
#   lib/libark_{kv,actors,runtime,testing}.so*         (soname .so.<ARK_SOVERSION>)
#   lib/ark/modules/libark_<example>.so                (examples/CMakeLists.txt installs them)
#   include/ark/...                                    the public headers (and ark/detail/, which they include)
#   lib/cmake/ark/ark-config.cmake, ...-version.cmake, ark-targets*.cmake,
#                 ArkModule.cmake (ark_add_module), FindCAF.cmake
#   lib/pkgconfig/ark.pc
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(ARK_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/ark")

install(TARGETS ark_kv ark_actors ark_runtime ark_testing
  EXPORT ark-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(ark_programs ark-host ark-dash)
if(TARGET ark-bench)
  list(APPEND ark_programs ark-bench)
endif()
install(TARGETS ${ark_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The headers of the three libraries. fault_env.hpp belongs to
# libark_fault_env, a test library that is not installed.
install(DIRECTORY
    ${PROJECT_SOURCE_DIR}/kv/include/
    ${PROJECT_SOURCE_DIR}/actors/include/
    ${PROJECT_SOURCE_DIR}/runtime/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp"
  PATTERN "fault_env.hpp" EXCLUDE)

# The CMake package. No export() to the build tree and no package registry
# entry: find_package(ark) finds an installed ark only.
install(EXPORT ark-targets
  NAMESPACE ark::
  FILE ark-targets.cmake
  DESTINATION ${ARK_CMAKE_INSTALL_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ark-config.cmake.in
  ${PROJECT_BINARY_DIR}/ark-config.cmake
  INSTALL_DESTINATION ${ARK_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR ARK_MODULE_INSTALL_DIR)
# 0.x: a minor release may break the API, so only the same minor version
# satisfies a request (find_package(ark 0.1) accepts 0.1.z).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(ark_compatibility SameMinorVersion)
else()
  set(ark_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ark-config-version.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY ${ark_compatibility})
install(FILES
    ${PROJECT_BINARY_DIR}/ark-config.cmake
    ${PROJECT_BINARY_DIR}/ark-config-version.cmake
    ${PROJECT_SOURCE_DIR}/cmake/ArkModule.cmake
    ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
  DESTINATION ${ARK_CMAKE_INSTALL_DIR})

# pkg-config: ark.pc names the prefix it is installed to (the --prefix of
# cmake --install, /usr in the .deb), so it is written at install time.
set(ARK_PC_PREFIX "@ARK_PC_PREFIX@")  # kept for the install-time pass
configure_file(${PROJECT_SOURCE_DIR}/cmake/ark.pc.in ${PROJECT_BINARY_DIR}/ark.pc.in @ONLY)
install(CODE "
  set(ARK_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/ark.pc.in\" \"${PROJECT_BINARY_DIR}/ark.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/ark.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CPack: `cpack -G DEB` in the build directory makes ark_<version>_amd64.deb,
# installing under /usr: the programs, the libraries and the SDK.
if(PROJECT_IS_TOP_LEVEL)
  set(CPACK_PACKAGE_NAME ark)
  set(CPACK_PACKAGE_VENDOR "ark")
  set(CPACK_PACKAGE_CONTACT "ark maintainers <ark@localhost>")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
  set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
  set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
  set(CPACK_GENERATOR DEB)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # ark_<version>_<arch>.deb
  set(CPACK_DEBIAN_PACKAGE_SECTION devel)
  set(CPACK_STRIP_FILES ON)  # debug info stays in the build tree
  # CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY on the Description line; this is the rest.
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
      "ark-host serves actor modules, ark-dash inspects data directories and hosts,\n"
      "ark-bench measures. The package is also the SDK: headers, the shared\n"
      "libraries, a CMake package (find_package(ark), ark_add_module) and ark.pc.")
  string(REPLACE ";" "" CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_DEBIAN_PACKAGE_DESCRIPTION}")
  # Runtime libraries: found by dpkg-shlibdeps from the binaries. The -dev
  # packages: the SDK's headers include CAF, msgpack-c, nlohmann-json and
  # (ark/client_cli.hpp) CLI11, and the module template's unit test uses doctest.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libcaf-dev (>= 0.17.6), libmsgpack-cxx-dev, nlohmann-json3-dev, libcli11-dev, doctest-dev")
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake (>= 3.25), g++, pkg-config")
  # Shared libraries in a public directory: an shlibs file and the ldconfig trigger.
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
  include(CPack)
endif()
