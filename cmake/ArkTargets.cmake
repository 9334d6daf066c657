# Properties every installed ark library and program shares (used by kv/,
# actors/, runtime/, tools/, bench/ and examples/). Included once by the
# top-level CMakeLists.txt, after GNUInstallDirs.
include_guard(GLOBAL)

# The shared libraries' ABI version. While ark is 0.x every minor release may
# change the ABI, so the soname carries the minor version: libark_kv.so.0.1.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(ARK_SOVERSION "0.${PROJECT_VERSION_MINOR}")
else()
  set(ARK_SOVERSION "${PROJECT_VERSION_MAJOR}")
endif()

# Where the example modules are installed (ark-host --module DIR/libark_counter.so).
set(ARK_MODULE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/ark/modules")

# Installed programs and modules find ark's libraries relative to themselves
# ($ORIGIN), so an install prefix can be moved (cmake --install --prefix P,
# or the .deb's /usr). Libraries outside the system's own directories that a
# target was linked with (e.g. a CAF under CAF_ROOT) are added as well.
file(RELATIVE_PATH ARK_BIN_TO_LIB "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")
file(RELATIVE_PATH ARK_MODULE_TO_LIB "${CMAKE_INSTALL_PREFIX}/${ARK_MODULE_INSTALL_DIR}"
     "${CMAKE_INSTALL_FULL_LIBDIR}")
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)

# ark_library_properties(TARGET EXPORT_NAME): a shared library exported as
# ark::EXPORT_NAME, with VERSION/SOVERSION.
function(ark_library_properties target export_name)
  set_target_properties(${target} PROPERTIES
    EXPORT_NAME ${export_name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${ARK_SOVERSION}
    POSITION_INDEPENDENT_CODE ON
    INSTALL_RPATH "$ORIGIN")
endfunction()

# ark_program_properties(TARGET): an installed program (bin/) finding ark's
# libraries in ../lib.
function(ark_program_properties target)
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/${ARK_BIN_TO_LIB}")
endfunction()
