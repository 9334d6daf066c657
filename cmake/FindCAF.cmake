# FindCAF
# -------
# Finds the C++ Actor Framework 0.17 as packaged by Debian (libcaf-dev), which ships
# headers and shared libraries but no CMake package configuration.
#
# Components: core (always searched), io, openssl.
# Imported targets: CAF::core, CAF::io, CAF::openssl (each component found).
# Result variables: CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIR, CAF_<COMP>_LIBRARY.

include(FindPackageHandleStandardArgs)

find_path(CAF_INCLUDE_DIR NAMES caf/config.hpp)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  if(_caf_version_line MATCHES "CAF_VERSION ([0-9]+)")
    math(EXPR _major "${CMAKE_MATCH_1} / 10000")
    math(EXPR _minor "(${CMAKE_MATCH_1} / 100) % 100")
    math(EXPR _patch "${CMAKE_MATCH_1} % 100")
    set(CAF_VERSION "${_major}.${_minor}.${_patch}")
  endif()
endif()

set(_caf_components core ${CAF_FIND_COMPONENTS})
list(REMOVE_DUPLICATES _caf_components)
set(_caf_required_vars CAF_INCLUDE_DIR)
foreach(_comp IN LISTS _caf_components)
  string(TOUPPER "${_comp}" _upper)
  find_library(CAF_${_upper}_LIBRARY NAMES caf_${_comp})
  if(CAF_${_upper}_LIBRARY)
    set(CAF_${_comp}_FOUND TRUE)
  endif()
  if(CAF_FIND_REQUIRED_${_comp} OR _comp STREQUAL "core")
    list(APPEND _caf_required_vars CAF_${_upper}_LIBRARY)
  endif()
endforeach()

find_package_handle_standard_args(CAF
  REQUIRED_VARS ${_caf_required_vars}
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND)
  find_package(Threads REQUIRED)
  foreach(_comp IN LISTS _caf_components)
    string(TOUPPER "${_comp}" _upper)
    if(CAF_${_upper}_LIBRARY AND NOT TARGET CAF::${_comp})
      add_library(CAF::${_comp} UNKNOWN IMPORTED)
      set_target_properties(CAF::${_comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${_upper}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES Threads::Threads)
      if(NOT _comp STREQUAL "core")
        set_property(TARGET CAF::${_comp} APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
      endif()
    endif()
  endforeach()
endif()

mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY CAF_OPENSSL_LIBRARY)
