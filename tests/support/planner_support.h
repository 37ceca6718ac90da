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

/* The planner of that request with tokens (0: none), runtime fw and at
 * most top_k plans (0: the default), run: *out, or the status of the
 * request, new or run with err. */
dml_status dml_test_planner_run(const char *model, const char *cluster,
                                int64_t nodes, int64_t batch,
                                const char *config, double tokens,
                                dml_framework fw, int top_k,
                                dml_planner **out, dml_error *err);

/* For cmocka tests (include cmocka.h first): text must hold, or must not
 * hold, needle; the failure shows the text. */
#define DML_TEST_HAS(text, needle)                                           \
    do {                                                                      \
        if (!strstr((text), (needle)))                                        \
            fail_msg("expected \"%s\" in:\n%s", (needle), (text));           \
    } while (0)
#define DML_TEST_LACKS(text, needle)                                         \
    do {                                                                      \
        if (strstr((text), (needle)))                                         \
            fail_msg("did not expect \"%s\" in:\n%s", (needle), (text));     \
    } while (0)

#endif
