# The whole dml-probe job over MPI and its three renderings (human summary,
# --json document, cluster spec) plus the database rows.
list(APPEND DML_PROBES_SOURCES probe_job.c)
