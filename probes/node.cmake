# Single-node probes: topology (hwloc), STREAM memory bandwidth, OpenBLAS
# GEMM, cuBLAS GEMM, and the report that runs them in sequence.
# gemm_point.c holds what the two GEMM probes share (plain C, every build).
#
# gpu_gemm.c is one file for both builds: with CUDA it is a CUDA source
# (compiled with DML_HAVE_CUDA, linked to cudart and cuBLAS through
# NCCL::NCCL); without, a plain source whose entry points answer "no GPU".
list(APPEND DML_PROBES_SOURCES topology.c topology_size.c membw.c gemm.c gemm_point.c
     node_report.c)
if(DML_HAVE_CUDA)
  list(APPEND DML_PROBES_CUDA_SOURCES gpu_gemm.c)
else()
  list(APPEND DML_PROBES_SOURCES gpu_gemm.c)
endif()

# The STREAM kernels must be vectorised for the figures to be honest; GCC
# vectorises loops of unknown trip count from -O3 (-O2 uses its
# "very cheap" cost model and leaves them scalar). The copy loop must stay
# a loop: as a memcpy call it would use non-temporal stores above a few MB
# and measure something other than STREAM's copy.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  set_source_files_properties(membw.c PROPERTIES
    COMPILE_OPTIONS "-O3;-fno-tree-loop-distribute-patterns")
endif()
