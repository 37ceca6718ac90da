/*
 * rows.h: plans, models and clusters as the database's rows.
 *
 * dml-plan records the plans it ranks, dml-exec the plan it runs, and
 * tests record plans of their own; each fills db/'s row structs from the
 * cost model's types here, so that the same plan gives the same columns
 * (and finds the same plans row) whoever records it. What only one
 * recorder knows (the plan file's text, its prediction, row ids) the
 * caller adds.
 */
#ifndef DML_ROWS_H
#define DML_ROWS_H

#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "db/plan_store.h"
#include "db/spec_store.h"

/* The configuration columns of plan's plans row: its parallel knobs by
 * the names plan files use, the strategy as the sync knob writes it. */
void dml_rows_plan_config(const dml_plan *plan, dml_db_plan_config *c);

/* A models row for m (name and type) with its spec text (borrowed). */
void dml_rows_model(const dml_model_spec *m, const char *spec_json,
                    dml_db_model *out);

/* A clusters row: name, fingerprint, source ("user" when empty or NULL)
 * and the spec text (borrowed, NULL for none). */
void dml_rows_cluster(const char *name, const char *fingerprint,
                      const char *source, const char *spec_json,
                      dml_db_cluster *out);

#endif
