# Communication probes (included by probes/CMakeLists.txt): MPI
# point-to-point and collectives per link level, alpha-beta fits, the text
# tables both print (table.c), and NCCL collectives. nccl_collectives.c is
# built either way: with CUDA/NCCL it holds the probe (DML_HAVE_CUDA is
# defined for the CUDA sources), without them a fallback returning
# DML_ENODEV, so callers need no #ifdef.
list(APPEND DML_PROBES_SOURCES
     busbw.c alphabeta.c comm_levels.c p2p.c link_share.c collectives.c
     coll_check.c gemm_busy.c
     table.c)
# The wrong-result test hook of collectives.c (DML_TEST_PROBE_CORRUPT) is
# compiled only into builds that have the test suite.
if(DML_BUILD_TESTS)
  set_property(SOURCE collectives.c APPEND PROPERTY COMPILE_DEFINITIONS
               DML_PROBE_TEST_HOOKS=1)
endif()
if(DML_HAVE_CUDA)
  list(APPEND DML_PROBES_CUDA_SOURCES nccl_collectives.c)
else()
  list(APPEND DML_PROBES_SOURCES nccl_collectives.c)
endif()
