/*
 * export_hostile.c: the four exports of dml-plan with hostile names and
 * paths, written to files for export_shell.sh to check with bash.
 *
 * The readers refuse such names now (common/name.h), so the names are put
 * into the planner through the C API, behind the readers' back: the
 * exporters must quote and escape on their own. For each export and value
 * i it writes OUT/KIND-MODEL-i.out; with the harmless value "ok-name" (or
 * the path "ref-plan.json") OUT/KIND-MODEL-ref.out, the template every
 * other output must follow line for line; and for the Slurm script of the
 * MLP, the plan path it was given as OUT/slurm-mlp-path-i.want.
 *
 *   export_hostile OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/export.h"
#include "tests/support/planner_support.h"

/* Every value runs `touch pwned` (in the script's folder) or rewrites the
 * terminal if a shell or a terminal took it as more than text. */
static const char *const hostile[] = {
    "x\ntouch pwned\n#",
    "$(touch pwned)",
    "`touch pwned`",
    "a'b\"c;touch pwned;#",
    "x' ; touch pwned ; echo '",
    "\x1b]0;title\x07\x1b[2J",
    "x\r\ntouch pwned",
    "\\\ntouch pwned",
    "-rf --help",
    "a\xc2\x9b" "31m",
    "--job-name=x\n#SBATCH --wrap=touch pwned",
    " ",
};
#define N_HOSTILE (sizeof hostile / sizeof hostile[0])

static int write_file(const char *out, const char *name, const char *text,
                      size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "export_hostile: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int export_one(const char *out, dml_planner *p, dml_export_kind k,
                      const char *model, const char *tag,
                      const char *plan_file)
{
    char *text = NULL;
    dml_error err;
    if (dml_planner_export(k, p, &p->plans[0], plan_file, &text, &err) !=
        DML_OK) {
        fprintf(stderr, "export_hostile: --export %s of %s (%s): %s\n",
                dml_export_name(k), model, tag, err.msg);
        return 1;
    }
    char name[256];
    snprintf(name, sizeof name, "%s-%s-%s.out", dml_export_name(k), model,
             tag);
    int rc = write_file(out, name, text, strlen(text));
    free(text);
    return rc;
}

static dml_planner *planner_for(const char *model, const char *cluster,
                                int64_t nodes, int64_t batch,
                                const char *config)
{
    dml_planner_request r;
    dml_error err;
    dml_planner *p = NULL;
    if (dml_test_planner_request(&r, model, cluster, nodes, batch, config,
                                 &err) != DML_OK ||
        dml_planner_new(&r, &p, &err) != DML_OK ||
        dml_planner_run(p, &err) != DML_OK) {
        fprintf(stderr, "export_hostile: planning %s: %s\n", model, err.msg);
        dml_planner_free(p);
        return NULL;
    }
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: export_hostile OUT\n");
        return 2;
    }
    const char *out = argv[1];
    int rc = 0;
    struct {
        const char *tag, *model, *cluster, *config;
        int64_t nodes, batch;
    } cases[] = {
        /* v=1: 1F1B, which every export runs (DeepSpeed's refuses
         * interleaving) */
        {"gpt", "gpt3-125m", "dgx-a100-80g", "tp=2,pp=2,v=1", 2, 256},
        {"mlp", "mlp-fmnist", "cpu-node", "dp=2,threads=1", 1, 256},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dml_planner *p = planner_for(cases[c].model, cases[c].cluster,
                                     cases[c].nodes, cases[c].batch,
                                     cases[c].config);
        if (!p)
            return 1;
        for (int k = 0; k < DML_EXPORT_COUNT; k++) {
            if (dml_export_check((dml_export_kind)k, &p->model, NULL) !=
                DML_OK)
                continue;
            snprintf(p->model.name, sizeof p->model.name, "ok-name");
            rc |= export_one(out, p, (dml_export_kind)k, cases[c].tag, "ref",
                             "ref-plan.json");
            for (size_t i = 0; i < N_HOSTILE; i++) {
                char tag[16];
                snprintf(tag, sizeof tag, "%zu", i);
                snprintf(p->model.name, sizeof p->model.name, "%s",
                         hostile[i]);
                rc |= export_one(out, p, (dml_export_kind)k, cases[c].tag,
                                 tag, "ref-plan.json");
            }
        }
        /* The plan path the Slurm script hands to dml-exec (an MLP). */
        if (p->model.type == DML_MODEL_MLP) {
            snprintf(p->model.name, sizeof p->model.name, "ok-name");
            for (size_t i = 0; i < N_HOSTILE; i++) {
                char tag[32], want[64];
                snprintf(tag, sizeof tag, "path-%zu", i);
                rc |= export_one(out, p, DML_EXPORT_SLURM, cases[c].tag, tag,
                                 hostile[i]);
                snprintf(want, sizeof want, "slurm-%s-%s.want", cases[c].tag,
                         tag);
                rc |= write_file(out, want, hostile[i], strlen(hostile[i]));
            }
        }
        dml_planner_free(p);
    }
    return rc;
}
