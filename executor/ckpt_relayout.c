/*
 * ckpt_relayout.c: a checkpoint of another layout re-sharded onto this
 * rank (see ckpt_relayout.h).
 */
#include "executor/ckpt_relayout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "executor/guard.h"
#include "executor/identity.h"

bool dml_ckpt_same_layout(const dml_ckpt_meta *old, const dml_ckpt_meta *now)
{
    return old->world == now->world && old->dp == now->dp &&
           old->tp == now->tp && old->pp == now->pp && old->zero == now->zero;
}

/* The same training, whatever the layout: optimizer, seed, shuffle and
 * the identity's fields but the layout's. */
static dml_status check_training(const dml_ckpt_job *j, int64_t step,
                                 const dml_ckpt_meta *old, const char *text,
                                 dml_error *err)
{
    const dml_ckpt_meta *now = &j->meta;
    char what[700];
    if (strcmp(old->optimizer, now->optimizer) != 0)
        snprintf(what, sizeof what, "optimizer %s there, %s here",
                 old->optimizer, now->optimizer);
    else if (old->seed != now->seed || old->shuffle != now->shuffle)
        snprintf(what, sizeof what, "seed or shuffle differ");
    else if (!now->identity_text)
        snprintf(what, sizeof what, "this run has no identity");
    else if (!dml_identity_diff_training(text, now->identity_text, what,
                                         sizeof what))
        return DML_OK;
    return dml_error_msg(err, DML_EINPUT,
                         "checkpoint step %lld, written by layout dp=%d "
                         "tp=%d pp=%d zero=%d, is of another training: %s",
                         (long long)step, old->dp, old->tp, old->pp,
                         old->zero, what);
}

/* Shard r's values put at their places in full (the parameters, then one
 * model-sized array per optimizer state slot). */
static dml_status gather_shard(const dml_ckpt_job *j, int64_t step,
                               const dml_ckpt_meta *old, int r, float *full,
                               size_t nfull, float *sync_state,
                               dml_error *err)
{
    float *p = NULL, *s = NULL, *tmp = NULL;
    size_t np = 0, ns = 0;
    dml_ckpt_map map;
    DML_CHECK(dml_ckpt_read_shard_any(j->root, step, r, old, &p, &np, &s,
                                      &ns, &map, err));
    dml_stage os;
    memset(&os, 0, sizeof os);
    dml_status st = DML_OK;
    size_t nsync = dml_sync_state_values(j->sync);
    if (map.sync_values != nsync)
        st = dml_error_msg(err, DML_EINPUT,
                           "rank %d's shard holds %llu values of the "
                           "data-parallel strategy's own state, this run "
                           "keeps %zu",
                           r, (unsigned long long)map.sync_values, nsync);
    else if (map.state_slots != j->up->state_slots ||
             map.tp_index != r % old->tp ||
             map.last_layer >= j->model->layers)
        st = dml_error_msg(err, DML_EINPUT,
                           "rank %d's shard map (layers %d-%d, TP place %d, "
                           "%d state slots) does not fit layout dp=%d tp=%d "
                           "pp=%d and this model",
                           r, map.first_layer, map.last_layer, map.tp_index,
                           map.state_slots, old->dp, old->tp, old->pp);
    if (st == DML_OK)
        st = dml_stage_init(&os, j->model, map.first_layer, map.last_layer,
                            old->tp, map.tp_index, MPI_COMM_NULL,
                            (size_t)old->dp, err);
    if (st == DML_OK && os.nflat != np)
        st = dml_error_msg(err, DML_EINPUT,
                           "rank %d's shard holds %zu parameters, layers "
                           "%d-%d at TP place %d of %d take %zu",
                           r, np, map.first_layer, map.last_layer,
                           map.tp_index, old->tp, os.nflat);
    if (st == DML_OK && !(tmp = calloc(np ? np : 1, sizeof(float))))
        st = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (st == DML_OK && r == 0 && nsync > 0) /* the same on every rank */
        memcpy(sync_state, s + (size_t)map.state_slots * map.owned_values,
               nsync * sizeof(float));
    if (st == DML_OK) {
        dml_stage_flat_to_full(&os, j->model, p, 0, os.nparams, full);
        for (int k = 0; k < map.state_slots; k++)
            for (int i = 0; i < map.nowned; i++) {
                const dml_ckpt_range *g = &map.owned[i];
                memcpy(tmp + g->lo,
                       s + (size_t)k * map.owned_values + g->state_off,
                       (g->hi - g->lo) * sizeof(float));
                dml_stage_flat_to_full(&os, j->model, tmp, g->lo, g->hi,
                                       full + (size_t)(k + 1) * nfull);
            }
    }
    free(tmp);
    dml_stage_free(&os);
    dml_ckpt_map_free(&map);
    free(p);
    free(s);
    return st;
}

/* This rank's shard of the gathered model: its parameters, and the state
 * of the ranges it updates. A value no shard gave is still NaN. */
static dml_status take_mine(const dml_ckpt_job *j, int64_t step,
                            const float *full, size_t nfull, float *params,
                            float *state, dml_error *err)
{
    const dml_stage *st = j->st;
    const dml_sync *sync = j->sync;
    size_t nstate = j->up->nstate;
    memset(params, 0, st->nflat * sizeof(float));
    dml_stage_full_to_flat(st, j->model, full, params);
    size_t bad = dml_guard_first_nonfinite(params, st->nparams);
    float *tmp = calloc(st->nflat ? st->nflat : 1, sizeof(float));
    if (!tmp)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int k = 0; k < j->up->state_slots; k++) {
        dml_stage_full_to_flat(st, j->model, full + (size_t)(k + 1) * nfull,
                               tmp);
        for (int i = 0; i < sync->nowned; i++) {
            const dml_sync_owned *o = &sync->owned[i];
            memcpy(state + (size_t)k * nstate + o->state_off, tmp + o->lo,
                   (o->hi - o->lo) * sizeof(float));
        }
    }
    free(tmp);
    size_t nopt = dml_update_state_values(j->up);
    size_t bad_state = dml_guard_first_nonfinite(state, nopt);
    if (bad < st->nparams || bad_state < nopt)
        return dml_error_msg(err, DML_EINPUT,
                             "checkpoint step %lld gives no value for %s %zu "
                             "of this rank (layers %d-%d): its shards do not "
                             "cover the model",
                             (long long)step,
                             bad < st->nparams ? "parameter"
                                               : "optimizer state value",
                             bad < st->nparams ? bad : bad_state,
                             st->first_layer, st->last_layer);
    return DML_OK;
}

dml_status dml_ckpt_relayout_read(const dml_ckpt_job *j, int64_t step,
                                  const dml_ckpt_meta *old,
                                  const char *old_identity_text,
                                  float *params, float *state,
                                  dml_error *err)
{
    DML_CHECK(check_training(j, step, old, old_identity_text, err));
    if (dml_sync_state_values(j->sync) > 0 &&
        !j->sync->strategy->state_layout_free)
        return dml_error_msg(
            err, DML_EINPUT,
            "checkpoint step %lld was written by layout dp=%d tp=%d pp=%d "
            "zero=%d, and sync=%s keeps state of its own per replica that "
            "no other layout continues: resume it on that layout",
            (long long)step, old->dp, old->tp, old->pp, old->zero,
            j->sync->strategy->name);
    size_t nfull = dml_stage_model_values(j->model);
    size_t slots = (size_t)j->up->state_slots;
    float *full = malloc((slots + 1) * nfull * sizeof(float));
    if (!full)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (size_t i = 0; i < (slots + 1) * nfull; i++)
        full[i] = NAN;
    dml_status s = DML_OK;
    float *sync_state = state + dml_update_state_values(j->up);
    for (int r = 0; r < old->world && s == DML_OK; r++)
        s = gather_shard(j, step, old, r, full, nfull, sync_state, err);
    if (s == DML_OK)
        s = take_mine(j, step, full, nfull, params, state, err);
    free(full);
    if (s == DML_OK)
        return s;
    /* say which layout the checkpoint claims: a shard's own complaint
     * ("written by layout dp=1 ...") reads as a contradiction without */
    char buf[1400];
    dml_error_format(err, buf, sizeof buf);
    return dml_error_msg(err, s, "checkpoint step %lld, written by layout "
                         "dp=%d tp=%d pp=%d zero=%d, re-sharded for this "
                         "one: %s",
                         (long long)step, old->dp, old->tp, old->pp,
                         old->zero, buf);
}
