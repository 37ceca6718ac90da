/*
 * record.h: putting a planner's plans into the database.
 *
 * The model, the cluster and every plan kept (the top K, with their
 * predictions and plan files) are written in one transaction: either all
 * of them are there afterwards or none is. Each plan's row id is stored in
 * its plan (plan.db_plan_id), so the plan file written afterwards names
 * the row it came from.
 */
#ifndef DML_PLANNER_RECORD_H
#define DML_PLANNER_RECORD_H

#include "common/error.h"
#include "db/db.h"
#include "planner/planner.h"

/* Record p's model, cluster and plans in db; fills plans[i].plan.db_plan_id
 * (left 0 on failure, when nothing is written). */
dml_status dml_planner_record(dml_db *db, dml_planner *p, dml_error *err);

/* Record one plan pl (not necessarily one of p's: a re-predicted copy),
 * made with calibration calibration_id (0: none), with p's model and
 * cluster, in one transaction; fills pl->plan.db_plan_id (0 on failure). */
dml_status dml_planner_record_one(dml_db *db, const dml_planner *p,
                                  dml_planned *pl, int64_t calibration_id,
                                  dml_error *err);

#endif
