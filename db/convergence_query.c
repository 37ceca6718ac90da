/*
 * convergence_query.c: the measured runs behind a convergence cost (see
 * convergence_query.h).
 */
#include "db/convergence_query.h"

#include <stdlib.h>

#include "db_internal.h"

#define F(m) DML__FIELD(dml_db_curve_point, m)
static const dml__field curve_fields[] = {
    F(run_id), F(sync),   F(cluster_fingerprint),
    F(step),   F(loss),   F(step_s),
    F(test_accuracy)};
#undef F
static const dml__row_def curve_row =
    DML__ROW_DEF(dml_db_curve_point, curve_fields);

dml_status dml_db_list_curves(dml_db *db, const char *model,
                              int64_t global_batch, dml_db_curve_point **rows,
                              size_t *n, dml_error *err)
{
    *rows = NULL;
    *n = 0;
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "SELECT s.run_id, p.sync, c.fingerprint, s.step, s.loss,\n"
        "  s.step_s, s.test_accuracy\n"
        "FROM steps s\n"
        "  JOIN runs r ON r.id = s.run_id\n"
        "  JOIN plans p ON p.id = r.plan_id\n"
        "  JOIN models mo ON mo.id = p.model_id\n"
        "  JOIN clusters c ON c.id = p.cluster_id\n"
        "WHERE (r.status = 'ok' OR EXISTS (SELECT 1 FROM events e\n"
        "       WHERE e.run_id = r.id AND e.kind IN ('diverged', 'nan')))\n"
        "  AND mo.name = :model\n"
        "  AND p.global_batch = :gb\n"
        "  AND (SELECT min(s0.step) FROM steps s0\n"
        "       WHERE s0.run_id = r.id) = 0\n"
        "ORDER BY s.run_id, s.step",
        "listing the measured runs of a model", err));
    dml__q_text(&q, ":model", model);
    dml__q_i64(&q, ":gb", global_batch);
    void *buf = NULL;
    dml_status s = dml__q_rows(&q, &curve_row, &buf, n, err);
    dml__q_finish(&q);
    *rows = buf;
    return s;
}
