/*
 * planner_support.c: the shared planner request of planner_support.h.
 */
#include "tests/support/planner_support.h"

#include "planner/config.h"

dml_status dml_test_planner_request(dml_planner_request *r, const char *model,
                                    const char *cluster, int64_t nodes,
                                    int64_t batch, const char *config,
                                    dml_error *err)
{
    dml_planner_request_init(r);
    r->model = model;
    r->cluster = cluster;
    r->nodes = nodes;
    r->global_batch = batch;
    if (!config)
        return DML_OK;
    return dml_planner_config_parse(config, "--config", &r->config, err);
}
