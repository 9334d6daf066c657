# ark_add_module(NAME [OUTPUT_DIRECTORY DIR] SOURCES...)
#
# Builds an ark actor module: a shared library that ark-host loads with
# `--module` (and `ark-dash migrate` too), whose sources register actor types
# with ARK_ACTOR(...). It links ark::actors, so the module and the host that
# loads it share one libark_actors.so, hence one actor registry.
#
# Targets made:
#   NAME         the module, libNAME.so in DIR (default ${PROJECT_BINARY_DIR}/modules)
#   NAME_actors  an object library holding the compiled sources. The module
#                links it, and so can in-process unit tests (ark::testing), so
#                the code under test is the module's and each binary holds
#                exactly one copy of the ARK_ACTOR registrations. Add include
#                directories or libraries the sources need to NAME_actors.
#
# Used by ark's own build (examples/, tests/) and installed with ark's CMake
# package: after find_package(ark CONFIG REQUIRED) it is available as is.
include_guard(GLOBAL)

function(ark_add_module name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIRECTORY" "")
  set(sources ${ARG_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "ark_add_module(${name}): no source files given: "
                        "ark_add_module(NAME [OUTPUT_DIRECTORY DIR] SOURCES...)")
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/modules)
  endif()
  if(NOT TARGET ark::actors)
    message(FATAL_ERROR "ark_add_module(${name}): target ark::actors is not defined: "
                        "call find_package(ark CONFIG REQUIRED) (or add ark's source tree) first")
  endif()
  add_library(${name}_actors OBJECT ${sources})
  target_link_libraries(${name}_actors PUBLIC ark::actors)
  set_target_properties(${name}_actors PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(${name} MODULE)
  target_link_libraries(${name} PRIVATE ${name}_actors)
  set_target_properties(${name} PROPERTIES PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
endfunction()
