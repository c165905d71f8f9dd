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

# Data-parallel runs (include/cadence/dist) use LibTorch's c10d. Its Gloo backend (CPUs) needs Gloo's
# headers matching the LibTorch: Debian's come with libgloo-dev (cmake/run.sh installs it); PyTorch's
# wheels and the official LibTorch do not ship them. Its NCCL backend (CUDA devices) needs nccl.h: the
# CUDA toolkit's NCCL, or PyTorch's nvidia-nccl wheel (set NCCL_INCLUDE_DIR to its include dir).
# Without either cadence still builds, and a run with WORLD_SIZE > 1 says what to install.
if(NOT CADENCE_C10D_DONE)
  set(CADENCE_C10D_DONE ON)
  find_path(CADENCE_GLOO_INCLUDE_DIR gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
  find_path(CADENCE_C10D_INCLUDE_DIR torch/csrc/distributed/c10d/TCPStore.hpp HINTS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
  if(CADENCE_GLOO_INCLUDE_DIR AND CADENCE_C10D_INCLUDE_DIR)
    set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS CADENCE_HAS_GLOO=1)
    find_library(CADENCE_GLOO_LIBRARY NAMES gloo)  # Debian's LibTorch links Gloo as a shared library
    if(CADENCE_GLOO_LIBRARY)
      set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_LINK_LIBRARIES "${CADENCE_GLOO_LIBRARY}")
    endif()
    message(STATUS "cadence: Gloo for data-parallel runs (${CADENCE_GLOO_INCLUDE_DIR})")
  else()
    message(STATUS "cadence: no Gloo headers next to LibTorch's (Debian: apt install libgloo-dev); data-parallel CPU runs are off")
  endif()
  if(CADENCE_C10D_INCLUDE_DIR AND (TORCH_CUDA_LIBRARIES OR CUDA_FOUND))
    find_path(CADENCE_NCCL_INCLUDE_DIR nccl.h HINTS $ENV{NCCL_INCLUDE_DIR} ${CUDAToolkit_INCLUDE_DIRS} ${CUDA_INCLUDE_DIRS})
    if(CADENCE_NCCL_INCLUDE_DIR)
      set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS CADENCE_HAS_NCCL=1)
      set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${CADENCE_NCCL_INCLUDE_DIR}")
      message(STATUS "cadence: NCCL for data-parallel CUDA runs (${CADENCE_NCCL_INCLUDE_DIR})")
    else()
      message(STATUS "cadence: a CUDA LibTorch without nccl.h (set NCCL_INCLUDE_DIR); data-parallel CUDA runs are off")
    endif()
  endif()
endif()

# Breakthrough Listen's HDF5 observations (include/cadence/observe/hdf5.hpp) need libhdf5 (Debian:
# libhdf5-dev) and, at run time, the bitshuffle filter plugin (Debian: bitshuffle). Without libhdf5
# cadence still builds; a scan of a .h5 file then says what to install. Filterbank (.fil) needs nothing.
if(NOT CADENCE_HDF5_DONE)
  set(CADENCE_HDF5_DONE ON)
  # by hand rather than FindHDF5, which needs the C language enabled; Debian keeps the serial build under hdf5/serial
  find_path(CADENCE_HDF5_INCLUDE_DIR hdf5.h PATH_SUFFIXES hdf5/serial)
  find_library(CADENCE_HDF5_LIBRARY NAMES hdf5_serial hdf5 PATH_SUFFIXES hdf5/serial)
  if(CADENCE_HDF5_INCLUDE_DIR AND CADENCE_HDF5_LIBRARY)
    set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS CADENCE_HAS_HDF5=1)
    set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${CADENCE_HDF5_INCLUDE_DIR}")
    set_property(TARGET cadence_torch APPEND PROPERTY INTERFACE_LINK_LIBRARIES "${CADENCE_HDF5_LIBRARY}")
    message(STATUS "cadence: HDF5 for .h5 observations (${CADENCE_HDF5_LIBRARY})")
  else()
    message(STATUS "cadence: no HDF5 (Debian: apt install libhdf5-dev); scanning .h5 observations is off, .fil works")
  endif()
endif()
