# Build-time checks that are not unit tests.

# Every public header compiles on its own (and twice in one TU: its include guard works).
function(cadence_header_check)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR}/include CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/cadence/*.hpp)
  set(sources)
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER ${h} id)
    set(src ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cpp)
    set(content "#include \"${h}\"\n#include \"${h}\"\n")
    if(EXISTS ${src})
      file(READ ${src} old)
    endif()
    if(NOT old STREQUAL content)
      file(WRITE ${src} "${content}")
    endif()
    list(APPEND sources ${src})
  endforeach()
  add_library(cadence_header_check OBJECT ${sources})
  target_link_libraries(cadence_header_check PRIVATE cadence::cadence cadence_warnings)
  # what is checked is that each header compiles alone, not the code it makes: no optimiser, no debug
  # information (about 3x less time than the build type's -O3 for ~75 LibTorch-heavy translation units)
  target_compile_options(cadence_header_check PRIVATE -O0 -g0)
endfunction()

# Each compile_fail/<name>.cpp must fail to compile with the message in its first line
# (`// expect: <regex>`); each compile_fail/ok_<name>.cpp must compile (the harness itself works).
function(cadence_compile_fail_tests dir)
  file(GLOB snippets CONFIGURE_DEPENDS ${dir}/*.cpp)
  foreach(s IN LISTS snippets)
    get_filename_component(name ${s} NAME_WE)
    add_test(NAME compile_fail.${name}
      COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include ${s})
    if(NOT name MATCHES "^ok_")
      file(STRINGS ${s} first LIMIT_COUNT 1)
      string(REGEX REPLACE "^// expect: " "" expect "${first}")
      set_tests_properties(compile_fail.${name} PROPERTIES PASS_REGULAR_EXPRESSION "${expect}")
    endif()
  endforeach()
endfunction()

# Installs cadence into a scratch prefix and builds a consumer with find_package(cadence).
function(cadence_package_test dir)
  add_test(NAME package.find_package
    COMMAND ${CMAKE_COMMAND}
      -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${dir} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/package
      -DGENERATOR=${CMAKE_GENERATOR} -DCXX=${CMAKE_CXX_COMPILER}
      -P ${PROJECT_SOURCE_DIR}/cmake/PackageTest.cmake)
endfunction()
