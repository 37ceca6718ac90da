/*
 * probe_store.c: one probe run into hosts, probe_runs, measurements and
 * clusters, all or nothing (see probe_store.h).
 */
#include "db/probe_store.h"

#include <stdio.h>

#include "db_internal.h"

/* The same machine probed again keeps its row: hostname plus a hash of
 * its topology XML identify it, so a rebuilt machine (new topology) under
 * an old name is a new host. */
static dml_status upsert_host(dml_db *db, const dml_db_host *h,
                              const char *seen_at, int64_t *host_id,
                              dml_error *err)
{
    char topo[17] = "";
    if (h->hwloc_xml && h->hwloc_xml[0])
        dml__db_hash_hex(h->hwloc_xml, topo);
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO hosts (hostname, topology_hash, cpu_model, packages,\n"
        "  numa_nodes, cores, pus, mem_bytes, mem_available_bytes, gpus,\n"
        "  hwloc_xml, first_seen, last_seen)\n"
        "VALUES (:hostname, :topo, :cpu, :packages, :numa, :cores, :pus,\n"
        "  :mem, :avail, :gpus, :xml, coalesce(:seen, " DML__SQL_NOW "),\n"
        "  coalesce(:seen, " DML__SQL_NOW "))\n"
        "ON CONFLICT (hostname, topology_hash) DO UPDATE SET\n"
        "  last_seen = excluded.last_seen,\n"
        "  mem_bytes = excluded.mem_bytes,\n"
        "  mem_available_bytes = excluded.mem_available_bytes,\n"
        "  gpus = excluded.gpus\n"
        "RETURNING id",
        "recording host", err));
    dml__q_text(&q, ":hostname", h->hostname);
    dml__q_text(&q, ":topo", topo);
    dml__q_opt(&q, ":cpu", h->cpu_model);
    dml__q_i64(&q, ":packages", h->packages);
    dml__q_i64(&q, ":numa", h->numa_nodes);
    dml__q_i64(&q, ":cores", h->cores);
    dml__q_i64(&q, ":pus", h->pus);
    dml__q_f64(&q, ":mem", h->mem_bytes);
    dml__q_f64(&q, ":avail", h->mem_available_bytes);
    dml__q_i64(&q, ":gpus", h->gpus);
    dml__q_opt(&q, ":xml", h->hwloc_xml);
    dml__q_opt(&q, ":seen", seen_at);
    return dml__q_once_id(&q, host_id, err);
}

static dml_status insert_run(dml_db *db, const dml_db_probe_run *r,
                             int64_t host_id, int64_t *run_id, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO probe_runs (started_at, finished_at, host_id, ranks,\n"
        "  nodes, quick, dml_version, status, summary_json)\n"
        "VALUES (coalesce(:started, " DML__SQL_NOW "),\n"
        "  coalesce(:finished, " DML__SQL_NOW "),\n"
        "  :host, :ranks, :nodes, :quick, :version,\n"
        "  coalesce(:status, 'ok'), :summary)\n"
        "RETURNING id",
        "recording probe run", err));
    dml__q_opt(&q, ":started", r->started_at);
    dml__q_opt(&q, ":finished", r->finished_at);
    dml__q_id(&q, ":host", host_id);
    dml__q_i64(&q, ":ranks", r->ranks);
    dml__q_i64(&q, ":nodes", r->nodes);
    dml__q_i64(&q, ":quick", r->quick ? 1 : 0);
    dml__q_opt(&q, ":version", r->dml_version);
    dml__q_opt(&q, ":status", r->status);
    dml__q_opt(&q, ":summary", r->summary_json);
    return dml__q_once_id(&q, run_id, err);
}

static void bind_measurement(dml__q *q, int64_t run_id, const void *row)
{
    const dml_measurement *m = row;
    dml__q_i64(q, ":run", run_id);
    dml__q_text(q, ":kind", m->kind);
    dml__q_text(q, ":op", m->op);
    dml__q_text(q, ":level", m->level);
    dml__q_i64(q, ":ranks", m->ranks);
    dml__q_i64(q, ":threads", m->threads);
    dml__q_f64(q, ":bytes", m->bytes);
    dml__q_f64(q, ":time", m->time_s);
    dml__q_f64(q, ":median", m->time_median_s);
    dml__q_f64(q, ":algbw", m->algbw_Bps);
    dml__q_f64(q, ":busbw", m->busbw_Bps);
    dml__q_f64(q, ":value", m->value);
    dml__q_text(q, ":unit", m->unit);
    dml__q_text(q, ":detail", m->detail);
}

static dml_status insert_measurements(dml_db *db, int64_t run_id,
                                      const dml_measurement *m, size_t n,
                                      dml_error *err)
{
    size_t bad = n;
    dml_status s = dml__q_batch(
        db,
        "INSERT INTO measurements (probe_run_id, kind, op, level, ranks,\n"
        "  threads, bytes, time_s, time_median_s, algbw_Bps, busbw_Bps,\n"
        "  value, unit, detail)\n"
        "VALUES (:run, :kind, :op, :level, :ranks, :threads, :bytes,\n"
        "  :time, :median, :algbw, :busbw, :value, :unit, :detail)",
        "recording measurements", run_id, m, n, sizeof *m, bind_measurement,
        &bad, err);
    if (s != DML_OK && bad < n)
        dml_error_prefix(err, "measurement %zu (%s %s): ", bad, m[bad].kind,
                         m[bad].op);
    return s;
}

dml_status dml_db_record_probe(dml_db *db, const dml_db_probe_record *rec,
                               int64_t *probe_run_id, int64_t *cluster_id,
                               dml_error *err)
{
    *probe_run_id = 0;
    if (cluster_id)
        *cluster_id = 0;
    if (rec->n_measurements > 0 && !rec->measurements)
        return dml_error_msg(err, DML_EINPUT,
                             "probe record: %zu measurements but no array",
                             rec->n_measurements);
    dml__tx tx;
    DML_CHECK(dml__tx_begin(db, &tx, err));
    int64_t host_id = 0, run_id = 0, cid = 0;
    dml_status s = upsert_host(db, &rec->host, rec->run.finished_at,
                               &host_id, err);
    if (s == DML_OK)
        s = insert_run(db, &rec->run, host_id, &run_id, err);
    if (s == DML_OK)
        s = insert_measurements(db, run_id, rec->measurements,
                                rec->n_measurements, err);
    if (s == DML_OK && rec->cluster)
        s = dml_db_record_cluster(db, rec->cluster, run_id, &cid, err);
    s = dml__tx_end(&tx, s, err);
    if (s == DML_OK) {
        *probe_run_id = run_id;
        if (cluster_id)
            *cluster_id = cid;
    }
    return s;
}
