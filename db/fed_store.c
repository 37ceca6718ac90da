/*
 * fed_store.c: the fed_runs and fed_rounds rows (fed_store.h).
 */
#include "db/fed_store.h"

#include "db/db_internal.h"

dml_status dml_db_record_fed_run(dml_db *db, int64_t run_id,
                                 const dml_db_fed_run *r, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO fed_runs (run_id, clients, per_round, sample, epochs,\n"
        "  batch, split, prox, secagg, stragglers, straggler_work,\n"
        "  min_samples, max_samples, min_classes, max_classes,\n"
        "  mean_classes, mean_max_class_fraction)\n"
        "VALUES (:run, :clients, :per_round, :sample, :epochs, :batch,\n"
        "  :split, :prox, :secagg, :stragglers, :work, :min_s, :max_s,\n"
        "  :min_c, :max_c, :mean_c, :max_frac)",
        "recording a federated run", err));
    dml__q_id(&q, ":run", run_id);
    dml__q_i64(&q, ":clients", r->clients);
    dml__q_i64(&q, ":per_round", r->per_round);
    dml__q_f64(&q, ":sample", r->sample);
    dml__q_f64(&q, ":epochs", r->epochs);
    dml__q_i64(&q, ":batch", r->batch);
    dml__q_text(&q, ":split", r->split);
    dml__q_f64(&q, ":prox", r->prox);
    dml__q_i64(&q, ":secagg", r->secagg);
    dml__q_f64(&q, ":stragglers", r->stragglers);
    dml__q_text(&q, ":work", r->straggler_work);
    dml__q_i64(&q, ":min_s", r->min_samples);
    dml__q_i64(&q, ":max_s", r->max_samples);
    dml__q_i64(&q, ":min_c", r->min_classes);
    dml__q_i64(&q, ":max_c", r->max_classes);
    dml__q_f64(&q, ":mean_c", r->mean_classes);
    dml__q_f64(&q, ":max_frac", r->mean_max_fraction);
    return dml__q_once(&q, err);
}

dml_status dml_db_record_fed_round(dml_db *db, int64_t run_id,
                                   const dml_db_fed_round *r, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO fed_rounds (run_id, round, clients, dropped, partial,\n"
        "  bytes_down, bytes_up, train_loss, samples, compute_s,\n"
        "  test_accuracy, wall_s)\n"
        "VALUES (:run, :round, :clients, :dropped, :partial, :down, :up,\n"
        "  :loss, :samples, :compute, :acc, :wall)",
        "recording a federated round", err));
    dml__q_id(&q, ":run", run_id);
    dml__q_i64(&q, ":round", r->round);
    dml__q_i64(&q, ":clients", r->clients);
    dml__q_i64(&q, ":dropped", r->dropped);
    dml__q_i64(&q, ":partial", r->partial);
    dml__q_f64(&q, ":down", r->bytes_down);
    dml__q_f64(&q, ":up", r->bytes_up);
    dml__q_f64(&q, ":loss", r->train_loss);
    dml__q_i64(&q, ":samples", r->samples);
    dml__q_f64(&q, ":compute", r->compute_s);
    dml__q_f64(&q, ":acc", r->test_accuracy);
    dml__q_f64(&q, ":wall", r->wall_s);
    return dml__q_once(&q, err);
}
