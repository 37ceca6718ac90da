/*
 * check_input: run one input file through the reader dml uses for it and
 * print the verdict, for the bad-input corpus (tests/fixtures/bad/).
 *
 *   check_input model FILE          dml_model_spec_read_file
 *   check_input cluster FILE        dml_cluster_spec_read_file
 *   check_input plan FILE           dml_plan_load
 *   check_input ckpt PLAN ROOT      newest checkpoint under ROOT, rank 0,
 *                                   through dml_ckpt_read_shard, expecting
 *                                   the 1-rank PLAN's sizes and the
 *                                   identity of a run of it on synthetic
 *                                   data, seed 1, --shuffle none
 *   check_input weights PLAN FILE   dml_weights_read for PLAN's model
 *   check_input topology FILE       dml_topology_load of an hwloc XML file
 *
 * Accepted input prints "ok" and exits 0; a rejected one prints the
 * formatted error (`file:line:col: field: message`) on stderr and exits
 * with the code a tool maps its status to (2 for bad input). Readers for
 * which a tool exists are also run through that tool by the test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "executor/ckpt.h"
#include "executor/identity.h"
#include "executor/optim.h"
#include "executor/weights.h"
#include "probes/topology.h"

static int verdict(dml_status s, const dml_error *err)
{
    if (s == DML_OK) {
        puts("ok");
        return 0;
    }
    char line[DML_ERROR_FILE_MAX + DML_ERROR_FIELD_MAX + DML_ERROR_MSG_MAX];
    fprintf(stderr, "check_input: %s\n",
            dml_error_format(err, line, sizeof line));
    return dml_status_exit_code(s);
}

/* The MLP shape of a plan's model, as the executor builds it. */
static dml_status shape_of(const dml_plan *p, dml_mlp_shape *shape,
                           dml_error *err)
{
    const dml_model_spec *m = &p->model;
    if (m->type != DML_MODEL_MLP || m->layers > DML_WEIGHTS_MAX_LAYERS)
        return dml_error_msg(err, DML_EUSAGE, "check_input needs an mlp plan");
    memset(shape, 0, sizeof *shape);
    shape->layers = (int)m->layers;
    for (int l = 0; l < shape->layers; l++) {
        int64_t in, out;
        dml_model_spec_mlp_layer(m, l, &in, &out);
        shape->widths[l] = in;
        shape->widths[l + 1] = out;
    }
    return DML_OK;
}

static dml_status check_ckpt(const char *plan_path, const char *root,
                             dml_error *err)
{
    dml_plan *p = malloc(sizeof *p);
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_mlp_shape shape;
    dml_status s = dml_plan_load(plan_path, p, err);
    if (s == DML_OK && p->devices != 1)
        s = dml_error_msg(err, DML_EUSAGE, "check_input needs a 1-rank plan");
    if (s == DML_OK)
        s = shape_of(p, &shape, err);
    int64_t *steps = NULL;
    size_t n = 0;
    if (s == DML_OK)
        s = dml_ckpt_list(root, &steps, &n, err);
    if (s == DML_OK && n == 0)
        s = dml_error_set(err, DML_EINPUT, root, 0, 0, NULL,
                          "no checkpoint here");
    float *params = NULL, *state = NULL;
    size_t nparams = 0, nstate = 0;
    if (s == DML_OK) {
        nparams = dml_weights_count(&shape);
        nstate = (size_t)dml_optim_state_slots(p->sched.optimizer) * nparams;
        params = malloc(nparams * sizeof *params);
        state = malloc((nstate ? nstate : 1) * sizeof *state);
        if (!params || !state)
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    dml_identity *id = malloc(sizeof *id);
    if (s == DML_OK && !id)
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (s == DML_OK)
        s = dml_identity_make(p, "synthetic", 1, false, NULL, 0, id, err);
    if (s == DML_OK) {
        dml_ckpt_meta want, got;
        memset(&want, 0, sizeof want);
        snprintf(want.identity, sizeof want.identity, "%s", id->sha256);
        want.identity_text = id->text;
        want.world = 1;
        want.dp = want.tp = want.pp = 1;
        want.zero = p->par.zero;
        snprintf(want.optimizer, sizeof want.optimizer, "%s",
                 dml_optimizer_name(p->sched.optimizer));
        want.seed = 1;
        want.shuffle = false;
        s = dml_ckpt_read_shard(root, steps[0], 0, &want, params, nparams,
                                state, nstate, &got, err);
    }
    free(id);
    free(params);
    free(state);
    free(steps);
    free(p);
    return s;
}

static dml_status check_weights(const char *plan_path, const char *file,
                                dml_error *err)
{
    dml_plan *p = malloc(sizeof *p);
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_mlp_shape shape;
    float *values = NULL;
    dml_status s = dml_plan_load(plan_path, p, err);
    if (s == DML_OK)
        s = shape_of(p, &shape, err);
    if (s == DML_OK)
        s = dml_weights_read(file, &shape, &values, err);
    free(values);
    free(p);
    return s;
}

int main(int argc, char **argv)
{
    dml_error err;
    dml_error_clear(&err);
    const char *kind = argc > 1 ? argv[1] : "";
    dml_status s;
    if (argc == 3 && strcmp(kind, "model") == 0) {
        dml_model_spec m;
        s = dml_model_spec_read_file(argv[2], &m, &err);
    } else if (argc == 3 && strcmp(kind, "cluster") == 0) {
        /* About 60 kB: on the heap, like the tools keep it. */
        dml_cluster_spec *c = malloc(sizeof *c);
        s = c ? dml_cluster_spec_read_file(argv[2], c, &err)
              : dml_error_msg(&err, DML_ENOMEM, "out of memory");
        free(c);
    } else if (argc == 3 && strcmp(kind, "plan") == 0) {
        dml_plan *p = malloc(sizeof *p);
        s = p ? dml_plan_load(argv[2], p, &err)
              : dml_error_msg(&err, DML_ENOMEM, "out of memory");
        free(p);
    } else if (argc == 4 && strcmp(kind, "ckpt") == 0) {
        s = check_ckpt(argv[2], argv[3], &err);
    } else if (argc == 4 && strcmp(kind, "weights") == 0) {
        s = check_weights(argv[2], argv[3], &err);
    } else if (argc == 3 && strcmp(kind, "topology") == 0) {
        dml_topology_source src = {DML_TOPOLOGY_XML_FILE, argv[2]};
        dml_topology *t = NULL;
        s = dml_topology_load(&src, &t, &err);
        dml_topology_free(t);
    } else {
        fprintf(stderr, "usage: check_input model|cluster|plan|topology FILE\n"
                        "       check_input ckpt PLAN ROOT\n"
                        "       check_input weights PLAN FILE\n");
        return 2;
    }
    return verdict(s, &err);
}
