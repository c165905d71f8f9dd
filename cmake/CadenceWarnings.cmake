# Warnings for our own executables (never pushed onto consumers through the INTERFACE target).
add_library(cadence_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(cadence_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(cadence_warnings INTERFACE -Wno-restrict)  # GCC 12 false positive on std::string + (PR 105329)
  endif()
endif()
