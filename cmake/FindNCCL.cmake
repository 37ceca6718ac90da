# FindNCCL: the NCCL library and, with it, the CUDA runtime and cuBLAS.
#
# Looks under $NCCL_HOME, $CUDA_HOME and /usr/local/cuda. Defines
# NCCL_FOUND and the imported target NCCL::NCCL, which carries the CUDA
# runtime (CUDA::cudart) and cuBLAS (CUDA::cublas) so the GPU probes link
# one target. Optional: dml builds without it and skips the GPU probes.
set(_nccl_hints $ENV{NCCL_HOME} $ENV{CUDA_HOME} /usr/local/cuda)

if(NOT CUDAToolkit_ROOT AND DEFINED ENV{CUDA_HOME})
  set(CUDAToolkit_ROOT $ENV{CUDA_HOME})
elseif(NOT CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(CUDAToolkit QUIET)

find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} PATH_SUFFIXES include)
find_library(NCCL_LIBRARY nccl HINTS ${_nccl_hints}
             PATH_SUFFIXES lib64 lib lib/x86_64-linux-gnu)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR CUDAToolkit_FOUND)

if(NCCL_FOUND AND NOT TARGET NCCL::NCCL)
  add_library(NCCL::NCCL UNKNOWN IMPORTED)
  set_target_properties(NCCL::NCCL PROPERTIES
    IMPORTED_LOCATION "${NCCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "CUDA::cudart;CUDA::cublas")
endif()
mark_as_advanced(NCCL_INCLUDE_DIR NCCL_LIBRARY)
