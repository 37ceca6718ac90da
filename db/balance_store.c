/*
 * balance_store.c: balance=dynamic's events (see balance_store.h).
 */
#include "db/balance_store.h"

#include "db_internal.h"

dml_status dml_db_balance_event_add(dml_db *db, int64_t run_id,
                                    const dml_db_balance_event *e,
                                    dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO balance_events (run_id, at, step, kind, replica,\n"
        "  cause, ratio, old_shares, new_shares, speeds)\n"
        "VALUES (:run, " DML__SQL_NOW ", :step, :kind, :replica, :cause,\n"
        "  :ratio, :old, :new, :speeds)",
        "recording balance event", err));
    dml__q_id(&q, ":run", run_id);
    dml__q_i64(&q, ":step", e->step);
    dml__q_text(&q, ":kind", e->kind);
    if (e->replica >= 0)
        dml__q_i64(&q, ":replica", e->replica);
    dml__q_opt(&q, ":cause", e->cause);
    dml__q_f64(&q, ":ratio", e->ratio);
    dml__q_text(&q, ":old", e->old_shares);
    dml__q_text(&q, ":new", e->new_shares);
    dml__q_opt(&q, ":speeds", e->speeds);
    return dml__q_once(&q, err);
}
