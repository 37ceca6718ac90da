# Communication probes (included by probes/CMakeLists.txt): MPI
# point-to-point and collectives per link level, alpha-beta fits, the text
# tables both print (table.c), and NCCL collectives. nccl_collectives.c is
# built either way: with CUDA/NCCL it holds the probe (DML_HAVE_CUDA is
# defined for the CUDA sources), without them a fallback returning
# DML_ENODEV, so callers need no #ifdef.
list(APPEND DML_PROBES_SOURCES
     busbw.c alphabeta.c comm_levels.c p2p.c collectives.c table.c)
if(DML_HAVE_CUDA)
  list(APPEND DML_PROBES_CUDA_SOURCES nccl_collectives.c)
else()
  list(APPEND DML_PROBES_SOURCES nccl_collectives.c)
endif()
