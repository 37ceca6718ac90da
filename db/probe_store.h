/*
 * probe_store.h: recording what dml-probe measured.
 *
 * One probe run is one record: the host it ran on (with its hwloc topology
 * XML), when and how it ran, every measurement the probes produced
 * (common/measurement.h, one row each) and, when dml-probe wrote a cluster
 * spec, that spec. dml_db_record_probe writes all of it in one transaction:
 * after a failure none of it is in the database.
 */
#ifndef DML_DB_PROBE_STORE_H
#define DML_DB_PROBE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/measurement.h"
#include "db/db.h"
#include "db/spec_store.h"

typedef struct dml_db_host {
    char hostname[256];         /* required */
    char cpu_model[128];        /* "AMD EPYC 7B13", "" if unknown */
    int packages;               /* CPU sockets */
    int numa_nodes;             /* NUMA nodes */
    int cores;                  /* physical cores */
    int pus;                    /* hardware threads */
    double mem_bytes;           /* total memory (/proc/meminfo), bytes */
    double mem_available_bytes; /* memory available to programs, bytes */
    int gpus;                   /* GPUs found, 0 if none */
    const char *hwloc_xml;      /* topology XML (borrowed), NULL if none */
} dml_db_host;

typedef struct dml_db_probe_run {
    char started_at[DML_DB_TIME_MAX];  /* ISO 8601 UTC; "" = now */
    char finished_at[DML_DB_TIME_MAX]; /* ISO 8601 UTC; "" = now */
    int ranks;                         /* MPI ranks of the probe job, >= 1 */
    int nodes;                         /* hosts of the probe job, >= 1 */
    bool quick;                        /* dml-probe --quick */
    char dml_version[32];              /* DML_VERSION of the prober */
    char status[16];                   /* "ok", "partial", "failed"; "" = ok */
    const char *summary_json;          /* dml-probe --json summary
                                          (borrowed), NULL if none */
} dml_db_probe_run;

typedef struct dml_db_probe_record {
    dml_db_host host;                      /* where it ran */
    dml_db_probe_run run;                  /* how it ran */
    const dml_measurement *measurements;   /* borrowed array */
    size_t n_measurements;                 /* its length */
    const dml_db_cluster *cluster;         /* spec written, NULL if none */
} dml_db_probe_record;

/*
 * Record a whole probe run in one transaction (a savepoint inside one the
 * caller holds): the host (inserted, or found by hostname + topology and
 * its last_seen updated), the probe_runs row, every measurement, and the
 * cluster linked to the run. *probe_run_id gets the new run's id;
 * *cluster_id (may be NULL) the cluster's, or 0 when rec->cluster is NULL.
 */
dml_status dml_db_record_probe(dml_db *db, const dml_db_probe_record *rec,
                               int64_t *probe_run_id, int64_t *cluster_id,
                               dml_error *err);

#endif
