# Build-time checks that are not unit tests.

# The LibTorch headers a cadence header reaches through its own includes (and those of the cadence
# headers it includes, recursively), in ${out}: each `<torch/...>` once. A `<torch/...>` header is
# followed into LibTorch's own `<torch/...>` includes (found in TORCH_INCLUDE_DIRS), so that a header
# that includes only <torch/nn/module.h> or <torch/optim/adamw.h> is known to reach <torch/types.h>.
function(cadence_torch_closure header out)
  get_property(known GLOBAL PROPERTY cadence_torch_closure_${header} SET)
  if(known)
    get_property(result GLOBAL PROPERTY cadence_torch_closure_${header})
    set(${out} "${result}" PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY cadence_torch_closure_${header} "")  # a cycle ends here
  set(file ${PROJECT_SOURCE_DIR}/include/${header})
  if(header MATCHES "^torch/")
    set(file)
    foreach(dir IN LISTS TORCH_INCLUDE_DIRS)
      if(EXISTS ${dir}/${header})
        set(file ${dir}/${header})
        break()
      endif()
    endforeach()
  endif()
  set(result)
  if(file)
    file(STRINGS ${file} lines REGEX "^#include [<\"](torch|cadence)/")
  else()
    set(lines)
  endif()
  foreach(line IN LISTS lines)
    if(line MATCHES "^#include <(torch/[^>]+)>")
      list(APPEND result ${CMAKE_MATCH_1})
      cadence_torch_closure(${CMAKE_MATCH_1} sub)
      list(APPEND result ${sub})
    elseif(line MATCHES "^#include \"(cadence/[^\"]+)\"")
      cadence_torch_closure(${CMAKE_MATCH_1} sub)
      list(APPEND result ${sub})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES result)
  set_property(GLOBAL PROPERTY cadence_torch_closure_${header} "${result}")
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

# Every public header compiles on its own (and twice in one TU: its include guard works).
# Parsing LibTorch is most of each check's time, so a header whose own includes reach <torch/nn.h>
# (or else <torch/types.h>) is checked with that LibTorch header precompiled: prepending what the
# header includes anyway hides no missing include (a header that reaches neither gets no precompiled
# header). Measured on one header each, alone on 2 cores: efficientnet_v2.hpp 18.7 -> 9.6 s,
# augment/vflip.hpp 9.2 -> 3.7 s (docs/performance.md).
function(cadence_header_check)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR}/include CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/cadence/*.hpp)
  set(nn_sources)
  set(types_sources)
  set(plain_sources)
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
    cadence_torch_closure(${h} torch_headers)
    if("torch/nn.h" IN_LIST torch_headers)
      list(APPEND nn_sources ${src})
    elseif("torch/types.h" IN_LIST torch_headers)
      list(APPEND types_sources ${src})
    else()
      list(APPEND plain_sources ${src})
    endif()
  endforeach()
  foreach(group nn types plain)
    if(NOT ${group}_sources)
      continue()
    endif()
    set(target cadence_header_check_${group})
    add_library(${target} OBJECT ${${group}_sources})
    target_link_libraries(${target} PRIVATE cadence::cadence cadence_warnings)
    # what is checked is that each header compiles alone, not the code it makes: no optimiser, no debug
    # information (about 3x less time than the build type's -O3 for ~75 LibTorch-heavy translation units)
    target_compile_options(${target} PRIVATE -O0 -g0)
    # GCC collects its garbage each time its heap grows by ggc-min-expand % past ggc-min-heapsize (at most
    # 128 MiB by default); with LibTorch precompiled, each collection walks the whole precompiled heap
    # again. From 1 GiB on it collects rarely: recipes/holdout.hpp's check 16.5 -> 14.0 s, nn/resize.hpp's
    # 12.8 -> 10.9 s, for ~200 MiB more memory each (AMD EPYC avx2; the unit-test batches and seti, measured
    # the same way, did not gain, so they keep GCC's default).
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE --param=ggc-min-expand=100 --param=ggc-min-heapsize=1048576)
    endif()
    if(group STREQUAL "nn")
      target_precompile_headers(${target} PRIVATE <torch/nn.h>)
    elseif(group STREQUAL "types")
      target_precompile_headers(${target} PRIVATE <torch/types.h>)
    endif()
  endforeach()
  add_custom_target(cadence_header_check ALL)
  foreach(group nn types plain)
    if(TARGET cadence_header_check_${group})
      add_dependencies(cadence_header_check cadence_header_check_${group})
    endif()
  endforeach()
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
