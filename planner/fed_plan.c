/*
 * fed_plan.c: pricing and showing a federated plan's round (fed_plan.h).
 */
#include "planner/fed_plan.h"

#include "common/units.h"
#include "costmodel/flops.h"
#include "planner/config.h"

/* Forward FLOPs of one sample through every layer. */
static double forward_per_sample(const dml_model_spec *m)
{
    double f = 0;
    for (int64_t l = 0; l < m->layers; l++)
        f += dml_flops_layer_forward(m, (int)l, 1.0);
    return f + dml_flops_logits_forward(m, 1.0);
}

void dml_planner_fed_round(const dml_costmodel_ctx *ctx, const dml_plan *pl,
                           int64_t nodes, dml_fed_round_price *out)
{
    double fwd = forward_per_sample(&pl->model);
    double step_samples = (double)pl->par.mbs * (double)pl->par.microbatches;
    double compute = pl->pred.time.compute_s;
    dml_fed_round_input in = {
        .fed = &pl->fed,
        .params = dml_flops_total_params(&pl->model),
        .samples = DML_FED_TRAIN_SAMPLES,
        .flops_per_sample = fwd,
        .rank_flops = compute > 0 ? 3.0 * fwd * step_samples / compute
                                  : ctx->peak_flops,
        .mask_values_per_s = ctx->membound_Bps / 8.0,
        .ranks = (int)pl->devices,
        .server_link = nodes > 1 ? ctx->inter : ctx->intra,
    };
    dml_fed_round_price_of(&in, out);
}

json_t *dml_planner_fed_json(const dml_plan *pl, const dml_fed_round_price *r)
{
    json_t *j = dml_fed_spec_to_json(&pl->fed);
    json_t *round = json_pack(
        "{s:f, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "round_s",
        r->round_s, "clients_per_round", r->clients, "client_steps",
        r->client_steps, "compute_s", r->compute_s, "secagg_s", r->secagg_s,
        "comm_s", r->comm_s, "server_link_bytes", r->server_link_bytes,
        "logical_down_bytes", r->logical_down_bytes, "logical_up_bytes",
        r->logical_up_bytes);
    if (!j || !round || json_object_set_new(j, "round", round)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

void dml_planner_fed_explain(FILE *out, const dml_plan *pl, int64_t nodes,
                             const dml_fed_round_price *r)
{
    char knobs[160], a[32], b[32], c[32], d[32], e[32];
    int ranks = (int)pl->devices;
    int per_rank = (r->clients + ranks - 1) / (ranks > 0 ? ranks : 1);
    double model = 4.0 * dml_flops_total_params(&pl->model);
    double others = ranks > 1 ? ranks - 1 : 0;
    fprintf(out, "  federated round (%s): %d of %d clients on %d ranks, "
            "%s a round:\n",
            dml_planner_fed_format(&pl->fed, knobs, sizeof knobs),
            r->clients, pl->fed.clients, ranks,
            dml_units_seconds(r->round_s, a, sizeof a));
    fprintf(out, "    compute of the slowest rank's %d client%s (%.0f local "
            "steps of %lld samples each)  %s\n", per_rank,
            per_rank == 1 ? "" : "s", r->client_steps,
            (long long)pl->fed.batch,
            dml_units_seconds(r->compute_s, a, sizeof a));
    if (pl->fed.secagg)
        fprintf(out, "    masking (secure aggregation, %d mask stream%s a "
                "client)  %s\n", r->clients - 1,
                r->clients == 2 ? "" : "s",
                dml_units_seconds(r->secagg_s, a, sizeof a));
    fprintf(out, "    server's link (%s, the busiest): %s down + %s up "
            "(%s in all)  %s\n",
            nodes > 1 ? "between nodes" : "inside the node",
            dml_units_bytes(others * model, b, sizeof b),
            dml_units_bytes(r->server_link_bytes - others * model, c,
                            sizeof c),
            dml_units_bytes(r->server_link_bytes, d, sizeof d),
            dml_units_seconds(r->comm_s, a, sizeof a));
    fprintf(out, "    clients' traffic: %s down, %s up a round\n",
            dml_units_bytes(r->logical_down_bytes, e, sizeof e),
            dml_units_bytes(r->logical_up_bytes, b, sizeof b));
}
