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

dml_status dml_test_planner_run(const char *model, const char *cluster,
                                int64_t nodes, int64_t batch,
                                const char *config, double tokens,
                                dml_framework fw, int top_k,
                                dml_planner **out, dml_error *err)
{
    dml_planner_request r;
    *out = NULL;
    DML_CHECK(dml_test_planner_request(&r, model, cluster, nodes, batch,
                                       config, err));
    r.tokens = tokens;
    r.framework = fw;
    if (top_k > 0)
        r.top_k = top_k;
    dml_status s = dml_planner_new(&r, out, err);
    if (s == DML_OK)
        s = dml_planner_run(*out, err);
    return s;
}
