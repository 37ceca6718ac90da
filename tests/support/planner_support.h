/*
 * planner_support.h: the planner request several planner tests start
 * from. Kept apart from test_support.h so that tests below the planner do
 * not link it.
 */
#ifndef DML_TEST_PLANNER_SUPPORT_H
#define DML_TEST_PLANNER_SUPPORT_H

#include <stdint.h>

#include "common/error.h"
#include "common/status.h"
#include "planner/planner.h"

/* A request for model on nodes x cluster at global batch batch (0: the
 * planner's choice), with config (NULL: none) parsed as --config text;
 * the rest as dml_planner_request_init leaves it. */
dml_status dml_test_planner_request(dml_planner_request *r, const char *model,
                                    const char *cluster, int64_t nodes,
                                    int64_t batch, const char *config,
                                    dml_error *err);

#endif
