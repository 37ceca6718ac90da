# Sourced by the scripts: Open MPI as root on a small machine, one OpenBLAS
# thread per rank unless a plan says otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# No InfiniBand or shared-memory transport quirks inside containers.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
