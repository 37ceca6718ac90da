/*
 * fuzz_export: libFuzzer target for the export writers (--export
 * megatron, torchrun, slurm, deepspeed).
 *
 * The input is a model name and a plan path, separated by the first NUL
 * byte; they go into two fixed plans (GPT-3 125M on two DGX A100 nodes,
 * the Fashion-MNIST MLP on a CPU node) behind the readers' back, as a
 * database or a caller of the C API could put them. Every export must
 * then be its template line for line: the export of the same plan named
 * "ok-name" with the path "ref-plan.json", where only the part standing
 * for the value may differ, so no line is written by anything but the
 * exporter. No line may hold a control character. The Slurm job name must
 * be a name, and the word after `dml-exec --plan` must read back, as bash
 * reads it, as the path exactly. (tests/integration/planner/
 * export_shell.sh runs the same checks, and bash itself, on chosen
 * values.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/name.h"
#include "fuzz/fuzz_common.h"
#include "planner/config.h"
#include "planner/export.h"

#define REF_NAME "ok-name"
#define REF_PATH "ref-plan.json"

typedef struct fixed_plan {
    dml_planner *p;
    char *ref[DML_EXPORT_COUNT]; /* template per export, NULL: n/a */
} fixed_plan;

static fixed_plan plans[2];

static char *export_text(dml_planner *p, dml_export_kind k, const char *path)
{
    char *text = NULL;
    dml_error err;
    dml_status s = dml_planner_export(k, p, &p->plans[0], path, &text, &err);
    DML_FUZZ_ASSERT(s == DML_OK && text != NULL);
    return text;
}

static void plan_one(fixed_plan *f, const char *model, const char *cluster,
                     int64_t nodes, const char *config)
{
    dml_planner_request r;
    dml_planner_request_init(&r);
    r.model = model;
    r.cluster = cluster;
    r.nodes = nodes;
    r.global_batch = 256;
    dml_error err;
    DML_FUZZ_ASSERT(dml_planner_config_parse(config, "--config", &r.config,
                                             &err) == DML_OK);
    DML_FUZZ_ASSERT(dml_planner_new(&r, &f->p, &err) == DML_OK);
    DML_FUZZ_ASSERT(dml_planner_run(f->p, &err) == DML_OK);
    snprintf(f->p->model.name, sizeof f->p->model.name, REF_NAME);
    for (int k = 0; k < DML_EXPORT_COUNT; k++)
        if (dml_export_check((dml_export_kind)k, &f->p->model, NULL) ==
            DML_OK)
            f->ref[k] = export_text(f->p, (dml_export_kind)k, REF_PATH);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* v=1: 1F1B, which every export runs (DeepSpeed's refuses
     * interleaving) */
    plan_one(&plans[0], "gpt3-125m", "dgx-a100-80g", 2, "tp=2,pp=2,v=1");
    plan_one(&plans[1], "mlp-fmnist", "cpu-node", 1, "dp=2,threads=1");
    return 0;
}

/* Line l of the output against line r of the template: equal, or, where
 * r holds the token, the same text before and after it. *mid and *mid_len
 * give what stands for the token (NULL when r has none). */
static void same_line(const char *r, size_t rlen, const char *l, size_t llen,
                      const char *token, const char **mid, size_t *mid_len)
{
    for (size_t i = 0; i < llen; i++)
        DML_FUZZ_ASSERT((unsigned char)l[i] >= 0x20 && l[i] != 0x7f &&
                        !((unsigned char)l[i] == 0xc2 && i + 1 < llen &&
                          (unsigned char)l[i + 1] >= 0x80 &&
                          (unsigned char)l[i + 1] <= 0x9f));
    *mid = NULL;
    const char *t = NULL;
    for (size_t i = 0; !t && i + strlen(token) <= rlen; i++)
        if (memcmp(r + i, token, strlen(token)) == 0)
            t = r + i;
    if (!t) {
        DML_FUZZ_ASSERT(llen == rlen && memcmp(l, r, rlen) == 0);
        return;
    }
    size_t pre = (size_t)(t - r), post = rlen - pre - strlen(token);
    DML_FUZZ_ASSERT(llen >= pre + post);
    DML_FUZZ_ASSERT(memcmp(l, r, pre) == 0);
    DML_FUZZ_ASSERT(memcmp(l + llen - post, r + rlen - post, post) == 0);
    *mid = l + pre;
    *mid_len = llen - pre - post;
}

/* Walk text and its template line by line; returns what stands for the
 * token in the line whose template starts with `key` (NULL: none). */
static const char *check(const char *text, const char *ref,
                         const char *token, const char *key, size_t *len)
{
    const char *found = NULL;
    while (*ref) {
        const char *re = strchr(ref, '\n'), *le = strchr(text, '\n');
        DML_FUZZ_ASSERT(re && le); /* same number of lines */
        const char *mid;
        size_t mid_len;
        same_line(ref, (size_t)(re - ref), text, (size_t)(le - text), token,
                  &mid, &mid_len);
        if (mid && key && strncmp(ref, key, strlen(key)) == 0) {
            found = mid;
            *len = mid_len;
        }
        ref = re + 1;
        text = le + 1;
    }
    DML_FUZZ_ASSERT(*text == '\0');
    return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 2);
    DML_FUZZ_ASSERT(in != NULL);
    memcpy(in, data, size);
    in[size] = in[size + 1] = '\0';
    /* Without a NUL the path is the empty string after the name. */
    const char *name = in, *path = in + strlen(in) + 1;
    for (int f = 0; f < 2; f++) {
        dml_planner *p = plans[f].p;
        snprintf(p->model.name, sizeof p->model.name, "%s", name);
        for (int k = 0; k < DML_EXPORT_COUNT; k++) {
            if (!plans[f].ref[k])
                continue;
            /* The name, with the reference path. */
            char *text = export_text(p, (dml_export_kind)k, REF_PATH);
            size_t len = 0;
            const char *job = check(text, plans[f].ref[k], REF_NAME,
                                    "#SBATCH --job-name=dml-", &len);
            if (job) {
                char j[DML_NAME_MAX_BYTES + 1];
                DML_FUZZ_ASSERT(len <= DML_NAME_MAX_BYTES);
                memcpy(j, job, len);
                j[len] = '\0';
                DML_FUZZ_ASSERT(dml_name_valid(j, NULL, 0));
            }
            free(text);
        }
        if (p->model.type != DML_MODEL_MLP || !path[0])
            continue;
        /* The path, with the reference name. */
        snprintf(p->model.name, sizeof p->model.name, REF_NAME);
        char *text = export_text(p, DML_EXPORT_SLURM, path);
        size_t len = 0;
        const char *word = check(text, plans[f].ref[DML_EXPORT_SLURM],
                                 REF_PATH, "srun ", &len);
        DML_FUZZ_ASSERT(word != NULL);
        size_t cap = len + 1;
        char *back = malloc(cap);
        DML_FUZZ_ASSERT(back != NULL);
        long got = dml_fuzz_shell_unquote(word, len, back, cap);
        DML_FUZZ_ASSERT(got == (long)strlen(path) &&
                        memcmp(back, path, strlen(path)) == 0);
        free(back);
        free(text);
    }
    free(in);
    return 0;
}
