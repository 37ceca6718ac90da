/*
 * cluster_query.c: the newest probed cluster and the newest measured noise
 * scale (see cluster_query.h).
 */
#include "db/cluster_query.h"

#include <stdlib.h>

#include "db_internal.h"

#include "common/stats.h"

dml_status dml_db_latest_probed_cluster(dml_db *db, char **spec_json,
                                        int64_t *cluster_id, dml_error *err)
{
    *spec_json = NULL;
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "SELECT id, spec_json FROM clusters\n"
        "WHERE source = 'dml-probe' AND spec_json IS NOT NULL\n"
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        "reading the probed cluster", err));
    bool row = false;
    dml_status s = dml__q_step(&q, &row, err);
    if (s == DML_OK && !row)
        s = dml_error_msg(err, DML_ENOTFOUND,
                          "no cluster measured by dml-probe in %s: run "
                          "`mpirun -np N dml-probe --db %s` on this machine "
                          "first, or name a cluster preset or spec file",
                          dml_db_path(db), dml_db_path(db));
    if (s == DML_OK) {
        if (cluster_id)
            *cluster_id = dml__col_i64(q.st, 0);
        *spec_json = dml__col_text_dup(q.st, 1);
        if (!*spec_json)
            s = dml_error_msg(err, DML_ENOMEM,
                              "reading the probed cluster: out of memory");
    }
    dml__q_finish(&q);
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
