# Finds what cadence needs and wraps LibTorch in an INTERFACE target.
# Used both by the build tree and by the installed cadenceConfig.cmake, so that a consumer's
# find_package(cadence) resolves exactly the same dependencies as our own build.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(Torch)
find_dependency(range-v3)
find_dependency(nlohmann_json 3.10)
# ATen's at::parallel_for is a header template; with an OpenMP build of LibTorch (Debian's and the
# official ones) its `#pragma omp parallel` only runs in parallel if *our* code is compiled with OpenMP.
find_package(OpenMP COMPONENTS CXX QUIET)

# LibTorch's config exposes variables rather than one usable target (its `torch` target lacks the
# C++ API include dir on some packagings, and TORCH_CXX_FLAGS carries the ABI flag), so wrap both.
if(NOT TARGET cadence_torch)
  add_library(cadence_torch INTERFACE IMPORTED)
  # PyTorch 2.11's wheels export std::filesystem functions from libtorch.so that crash when called
  # (remove_all jumps to address 0). Linking libstdc++ ahead of LibTorch puts it first in the
  # program's DT_NEEDED list, so those symbols resolve to libstdc++ itself.
  set(_cadence_stdcxx "")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(_cadence_stdcxx "stdc++")
  endif()
  set_property(TARGET cadence_torch PROPERTY INTERFACE_LINK_LIBRARIES ${_cadence_stdcxx} "${TORCH_LIBRARIES}")
  set_property(TARGET cadence_torch PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}")
  if(TARGET OpenMP::OpenMP_CXX)
    set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_LINK_LIBRARIES OpenMP::OpenMP_CXX)
  endif()
  if(TORCH_CXX_FLAGS)
    separate_arguments(_cadence_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    set_property(TARGET cadence_torch PROPERTY INTERFACE_COMPILE_OPTIONS "${_cadence_torch_flags}")
  endif()
endif()
