/*
 * cluster_query.c: the newest probed cluster and the newest measured noise
 * scale (see cluster_query.h).
 */
#include "db/cluster_query.h"

#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#include "common/stats.h"

/* The origin of the row st stands on (columns of dml_db_this_cluster). */
static void read_origin(sqlite3_stmt *st, dml_db_probe_origin *o)
{
    memset(o, 0, sizeof *o);
    o->cluster_id = dml__col_i64(st, 0);
    o->probe_run_id = dml__col_i64(st, 2);
    dml__col_text(st, 3, o->finished_at, sizeof o->finished_at);
    dml__col_text(st, 4, o->host, sizeof o->host);
    o->ranks = (int)dml__col_i64(st, 5);
    o->nodes = (int)dml__col_i64(st, 6);
    o->quick = dml__col_i64(st, 7) != 0;
    o->link_measurements = dml__col_i64(st, 8);
}

dml_status dml_db_this_cluster(dml_db *db, char **spec_json,
                               dml_db_probe_origin *used,
                               dml_db_probe_origin *passed_over,
                               dml_error *err)
{
    *spec_json = NULL;
    memset(used, 0, sizeof *used);
    memset(passed_over, 0, sizeof *passed_over);
    dml__q q;
    /* Newest first; the loop stops at the first that measured links. */
    DML_CHECK(dml__q_prepare(
        &q, db,
        "SELECT c.id, c.spec_json, pr.id, pr.finished_at, h.hostname,\n"
        "       pr.ranks, pr.nodes, pr.quick,\n"
        "       (SELECT count(*) FROM measurements m\n"
        "        WHERE m.probe_run_id = pr.id\n"
        "          AND m.kind IN ('p2p', 'collective', 'nccl'))\n"
        "FROM clusters c\n"
        "LEFT JOIN probe_runs pr ON pr.id = c.probe_run_id\n"
        "LEFT JOIN hosts h ON h.id = pr.host_id\n"
        "WHERE c.source = 'dml-probe' AND c.spec_json IS NOT NULL\n"
        "ORDER BY c.created_at DESC, c.id DESC",
        "reading the probed cluster", err));
    dml_status s = DML_OK;
    bool any = false;
    for (;;) {
        bool row = false;
        s = dml__q_step(&q, &row, err);
        if (s != DML_OK || !row)
            break;
        dml_db_probe_origin o;
        read_origin(q.st, &o);
        if (!any || o.link_measurements > 0) {
            free(*spec_json);
            *spec_json = dml__col_text_dup(q.st, 1);
            if (!*spec_json) {
                s = dml_error_msg(err, DML_ENOMEM,
                                  "reading the probed cluster: out of "
                                  "memory");
                break;
            }
            if (any)
                *passed_over = *used; /* the newest, without links */
            *used = o;
        }
        any = true;
        if (o.link_measurements > 0)
            break;
    }
    dml__q_finish(&q);
    if (s == DML_OK && !any)
        s = dml_error_msg(err, DML_ENOTFOUND,
                          "no cluster measured by dml-probe in %s: run "
                          "`mpirun -np N dml-probe --db %s` on this machine "
                          "first, or name a cluster preset or spec file",
                          dml_db_path(db), dml_db_path(db));
    if (s != DML_OK) {
        free(*spec_json);
        *spec_json = NULL;
    }
    return s;
}

dml_status dml_db_latest_noise_scale(dml_db *db, const char *model_name,
                                     double *noise_scale, int64_t *run_id,
                                     int64_t *estimates, dml_error *err)
{
    *noise_scale = 0;
    dml__q q;
    /* Rows of the newest run first; the loop stops where the run changes. */
    DML_CHECK(dml__q_prepare(
        &q, db,
        "SELECT s.run_id, s.noise_scale FROM steps s\n"
        "JOIN runs r ON r.id = s.run_id\n"
        "JOIN plans p ON p.id = r.plan_id\n"
        "JOIN models m ON m.id = p.model_id\n"
        "WHERE m.name = :model AND s.noise_scale > 0\n"
        "ORDER BY s.run_id DESC, s.step",
        "reading the measured noise scale", err));
    dml__q_text(&q, ":model", model_name);
    double *vals = NULL;
    size_t n = 0, cap = 0;
    int64_t run = 0;
    dml_status s = DML_OK;
    for (;;) {
        bool row = false;
        s = dml__q_step(&q, &row, err);
        if (s != DML_OK || !row)
            break;
        int64_t r = dml__col_i64(q.st, 0);
        if (n > 0 && r != run)
            break;
        run = r;
        double *slot = dml__rows_push((void **)&vals, &n, &cap, sizeof *vals);
        if (!slot) {
            s = dml_error_msg(err, DML_ENOMEM,
                              "reading the noise scale: out of memory");
            break;
        }
        *slot = dml__col_f64(q.st, 1);
    }
    dml__q_finish(&q);
    if (s == DML_OK && n == 0)
        s = dml_error_msg(err, DML_ENOTFOUND,
                          "no gradient noise scale measured for model '%s' "
                          "in %s", model_name, dml_db_path(db));
    if (s == DML_OK) {
        *noise_scale = dml_stats_median_inplace(vals, n);
        if (run_id)
            *run_id = run;
        if (estimates)
            *estimates = (int64_t)n;
    }
    free(vals);
    return s;
}
