# Warnings for our own executables (never pushed onto consumers through the INTERFACE target).
add_library(cadence_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(cadence_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(cadence_warnings INTERFACE -Wno-restrict)  # GCC 12 false positive on std::string + (PR 105329)
  endif()
endif()

# CADENCE_SANITIZE=ON: our executables under AddressSanitizer + UndefinedBehaviorSanitizer (the
# second build directory of `bash cmake/run.sh test`). LibTorch itself is not instrumented.
option(CADENCE_SANITIZE "Build cadence's own executables with -fsanitize=address,undefined" OFF)
if(CADENCE_SANITIZE)
  target_compile_options(cadence_warnings INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                         -fno-omit-frame-pointer)
  target_link_options(cadence_warnings INTERFACE -fsanitize=address,undefined)
endif()
