/*
 * bench_plan.c: how fast dml-plan's full search is (issue 3, "Speed").
 *
 * For each case: load the presets, scale the cluster, prepare the cost
 * model and search the whole space (dml_planner_new + dml_planner_run, the
 * work of one dml-plan call without printing or recording), REPEAT times.
 * Prints the configurations priced, those pruned, the feasible ones, the
 * search time (min and median over the repeats), the candidates priced per
 * second at the median, and the whole call's wall time (median).
 *
 *   dml-bench-plan [REPEAT]      (default 5)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "common/clock.h"
#include "planner/planner.h"

typedef struct bench_case {
    const char *label;
    const char *model;
    const char *cluster;
    int64_t nodes;
    int64_t global_batch;
} bench_case;

int main(int argc, char **argv)
{
    int repeat = argc > 1 ? atoi(argv[1]) : 5;
    if (repeat < 1 || repeat > 1000) {
        fprintf(stderr, "usage: dml-bench-plan [REPEAT (1-1000)]\n");
        return 2;
    }
    /* Batches of the published runs: GPT-3 175B on 1024 A100s at 1536
     * sequences (Narayanan et al. SC21, Table 1); Llama 3 405B at 16M
     * tokens = 2048 sequences of 8192 (Llama 3 Herd of Models, §3.4). */
    const bench_case cases[] = {
        {"gpt3-175b on 128 x dgx-a100-80g (1024 GPUs), batch 1536",
         "gpt3-175b", "dgx-a100-80g", 128, 1536},
        {"llama3-405b on 2048 x dgx-h100 (16384 GPUs), batch 2048",
         "llama3-405b", "dgx-h100", 2048, 2048},
    };
    printf("%-58s %10s %9s %9s %10s %10s %12s %10s\n", "case", "priced",
           "pruned", "feasible", "search_min", "search_med", "priced/s",
           "wall_med");
    int rc = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bench_case *b = &cases[c];
        double *search = calloc((size_t)repeat, sizeof *search);
        double *wall = calloc((size_t)repeat, sizeof *wall);
        if (!search || !wall) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        int64_t priced = 0, pruned = 0, feasible = 0;
        for (int r = 0; r < repeat; r++) {
            dml_planner_request req;
            dml_planner_request_init(&req);
            req.model = b->model;
            req.cluster = b->cluster;
            req.nodes = b->nodes;
            req.global_batch = b->global_batch;
            req.data_dir = getenv("DML_DATA_DIR");
            dml_error err;
            dml_planner *p = NULL;
            double t0 = dml_clock_now_s();
            dml_status s = dml_planner_new(&req, &p, &err);
            if (s == DML_OK)
                s = dml_planner_run(p, &err);
            wall[r] = dml_clock_now_s() - t0;
            if (s != DML_OK) {
                fprintf(stderr, "%s: %s\n", b->label, err.msg);
                dml_planner_free(p);
                rc = 1;
                break;
            }
            search[r] = p->result.elapsed_s;
            priced = p->result.candidates;
            pruned = p->result.pruned;
            feasible = p->result.feasible;
            dml_planner_free(p);
        }
        if (rc == 0) {
            dml_stats_sort(search, (size_t)repeat);
            dml_stats_sort(wall, (size_t)repeat);
            double med = search[repeat / 2];
            printf("%-58s %10lld %9lld %9lld %9.4fs %9.4fs %12.0f %9.4fs\n",
                   b->label, (long long)priced, (long long)pruned,
                   (long long)feasible, search[0], med,
                   med > 0 ? (double)priced / med : 0, wall[repeat / 2]);
        }
        free(search);
        free(wall);
    }
    return rc;
}
