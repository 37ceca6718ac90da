/*
 * probes_comm_check.c: runs the communication probes in quick mode under
 * mpirun and checks that what rank 0 gets is sane: the level split matches
 * the layout the script launched, every time and bandwidth is positive
 * and finite, busbw = algbw × the nccl-tests factor, the fits have
 * alpha >= 0 and a positive bandwidth, rows and tables match the results,
 * and the NCCL probe either measures or says "no GPU" on every rank.
 * Timings are not compared with each other: the machine is shared.
 *
 *   probes_comm_check --nodes N --ranks-per-node R
 *   probes_comm_check --expect-split-error   (with a bad DML_PROBE_FAKE_NODES)
 *
 * --default uses the default budgets instead of quick ones (about a
 * minute; for timing by hand, not run by ctest).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "common/clock.h"
#include "common/log.h"
#include "probes/busbw.h"
#include "probes/collectives.h"
#include "probes/comm_levels.h"
#include "probes/nccl_collectives.h"
#include "probes/p2p.h"

static int failures = 0;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            failures++;                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

static int pos(double x)
{
    return isfinite(x) && x > 0;
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-12 * fabs(b);
}

static void check_p2p(const dml_p2p_result *r, const char *level, int ranks,
                      const dml_p2p_options *o)
{
    double sizes[DML_COMM_MAX_POINTS];
    size_t n = dml_comm_sweep_sizes(&o->sweep, sizes, DML_COMM_MAX_POINTS);
    CHECK(strcmp(r->level, level) == 0, "p2p level is '%s', want %s",
          r->level, level);
    CHECK(r->ranks == ranks, "p2p %s measured on %d ranks, want %d", level,
          r->ranks, ranks);
    CHECK(r->peer_a == 0 && r->peer_b == ranks - 1,
          "p2p %s between %d and %d, want 0 and the last rank", level,
          r->peer_a, r->peer_b);
    CHECK(r->npoints == n, "p2p %s has %zu sizes, want %zu", level,
          r->npoints, n);
    double small = INFINITY, best = 0;
    for (size_t i = 0; i < r->npoints && i < n; i++) {
        const dml_p2p_point *p = &r->points[i];
        CHECK(p->bytes == sizes[i], "p2p size %zu is %g, want %g", i,
              p->bytes, sizes[i]);
        CHECK(pos(p->latency_s) && p->latency_median_s >= p->latency_s,
              "p2p %s %g B: latency %g s, median %g s", level, p->bytes,
              p->latency_s, p->latency_median_s);
        CHECK(pos(p->bandwidth_Bps) &&
                  close_to(p->bandwidth_Bps, p->bytes / p->bw_time_s) &&
                  p->bandwidth_median_Bps <= p->bandwidth_Bps,
              "p2p %s %g B: bandwidth %g B/s over %g s per message", level,
              p->bytes, p->bandwidth_Bps, p->bw_time_s);
        CHECK(p->latency_iters >= 1 && p->bw_iters >= 1 && p->window >= 1,
              "p2p %s %g B: batch sizes %d, %d, window %d", level, p->bytes,
              p->latency_iters, p->bw_iters, p->window);
        CHECK(p->latency_reps >= o->budget.min_reps &&
                  p->latency_reps <= o->budget.max_reps &&
                  p->bw_reps >= o->budget.min_reps &&
                  p->bw_reps <= o->budget.max_reps,
              "p2p %s %g B: %d and %d reps outside the budget", level,
              p->bytes, p->latency_reps, p->bw_reps);
        CHECK(p->latency_mean_s >= p->latency_s &&
                  p->bandwidth_mean_Bps <= p->bandwidth_Bps &&
                  pos(p->bandwidth_mean_Bps),
              "p2p %s %g B: average latency %g s, bandwidth %g B/s, not "
              "behind the best", level, p->bytes, p->latency_mean_s,
              p->bandwidth_mean_Bps);
        if (p->bytes <= 8)
            small = fmin(small, p->latency_s);
        /* The headline is the largest size's (issue 12). */
        if (p->bytes == sizes[n - 1])
            best = p->bandwidth_Bps;
    }
    CHECK(r->latency_s == small, "p2p %s headline latency %g, want %g",
          level, r->latency_s, small);
    CHECK(r->bandwidth_Bps == best, "p2p %s headline bandwidth %g, want %g",
          level, r->bandwidth_Bps, best);
    CHECK((r->fit_status == DML_OK && r->fit.alpha_s >= 0 &&
           pos(r->fit.bw_Bps) && isfinite(r->fit.max_rel_residual)) ||
              (r->fit_status == DML_EVALIDATE && r->fit.bw_Bps == 0),
          "p2p %s fit: status %d alpha %g s, bw %g B/s", level,
          r->fit_status, r->fit.alpha_s, r->fit.bw_Bps);

    dml_measurement rows[2 * DML_COMM_MAX_POINTS];
    size_t k = dml_p2p_to_measurements(r, rows, 2 * DML_COMM_MAX_POINTS);
    CHECK(k == 2 * n, "p2p %s gives %zu rows, want %zu", level, k, 2 * n);
    for (size_t i = 0; i < k; i++)
        CHECK(strcmp(rows[i].kind, "p2p") == 0 &&
                  strcmp(rows[i].level, level) == 0 && rows[i].ranks == 2 &&
                  pos(rows[i].value) && pos(rows[i].time_s),
              "p2p row %zu: %s %s %s value %g", i, rows[i].kind, rows[i].op,
              rows[i].level, rows[i].value);
    dml_error err;
    fputc('\n', stdout);
    CHECK(dml_p2p_write_table(stdout, r, DML_P2P_TABLE_LATENCY, &err) ==
              DML_OK, "writing the p2p latency table");
    CHECK(dml_p2p_write_table(stdout, r, DML_P2P_TABLE_BANDWIDTH, &err) ==
              DML_OK, "writing the p2p bandwidth table");
    printf("# fit: alpha %.3g s, bandwidth %.3g B/s, max residual %.0f%%\n",
           r->fit.alpha_s, r->fit.bw_Bps, 100 * r->fit.max_rel_residual);
}

static void check_coll(const dml_coll_result *r, const char *kind,
                       const char *level, dml_coll_op op, int ranks,
                       const dml_coll_options *o)
{
    const char *name = dml_coll_op_name(op);
    double sizes[DML_COMM_MAX_POINTS];
    size_t n = dml_comm_sweep_sizes(&o->sweep, sizes, DML_COMM_MAX_POINTS);
    CHECK(strcmp(r->kind, kind) == 0 && strcmp(r->level, level) == 0 &&
              r->op == op && r->ranks == ranks,
          "%s %s %s: got %s %s %s on %d ranks, want %d", kind, name, level,
          r->kind, dml_coll_op_name(r->op), r->level, r->ranks, ranks);
    /* The whole sweep, or (MPI, a slow link) at least 2 sizes and every
     * size up to min_stop_bytes, stopped where the next size would take
     * longer than max_op_s. */
    double step = (double)(1L << o->sweep.stride_log2);
    bool stopped = strcmp(kind, "collective") == 0 && o->max_op_s > 0 &&
                   r->npoints >= 2 && r->npoints < n &&
                   sizes[r->npoints - 1] >= o->min_stop_bytes &&
                   r->points[r->npoints - 1].time_s * step > o->max_op_s;
    CHECK(r->npoints == n || stopped, "%s %s %s has %zu sizes, want %zu",
          kind, name, level, r->npoints, n);
    double f = dml_collective_busbw_factor(op, ranks);
    for (size_t i = 0; i < r->npoints && i < n; i++) {
        const dml_coll_point *p = &r->points[i];
        CHECK(pos(p->time_s) && p->time_median_s >= p->time_s,
              "%s %s %s %g B: time %g s, median %g s", kind, name, level,
              p->bytes, p->time_s, p->time_median_s);
        CHECK(p->bytes == 4.0 * (double)p->count && p->bytes <= sizes[i] &&
                  p->bytes > sizes[i] / 2,
              "%s %s %s: size %g B for %zu floats, asked %g B", kind, name,
              level, p->bytes, p->count, sizes[i]);
        CHECK(close_to(p->algbw_Bps, p->bytes / p->time_s) &&
                  close_to(p->busbw_Bps, p->algbw_Bps * f),
              "%s %s %s %g B: algbw %g, busbw %g, factor %g", kind, name,
              level, p->bytes, p->algbw_Bps, p->busbw_Bps, f);
        CHECK(p->reps >= o->budget.min_reps && p->reps <= o->budget.max_reps,
              "%s %s %s %g B: %d reps outside the budget", kind, name, level,
              p->bytes, p->reps);
        CHECK(p->time_mean_s >= p->time_s &&
                  close_to(p->busbw_mean_Bps,
                           p->bytes / p->time_mean_s * f),
              "%s %s %s %g B: average %g s, busbw %g", kind, name, level,
              p->bytes, p->time_mean_s, p->busbw_mean_Bps);
        /* Every result checked and right (a wrong one fails the probe). */
        CHECK(p->wrong == 0, "%s %s %s %g B: #wrong %lld", kind, name, level,
              p->bytes, p->wrong);
    }
    /* On an oversubscribed, noisy machine the times may not grow with the
     * size; the fit then refuses (DML_EVALIDATE) rather than invent an
     * alpha and a beta, and leaves them empty. */
    CHECK((r->fit_status == DML_OK && r->fit.alpha_s >= 0 &&
           pos(r->fit.bw_Bps) &&
           close_to(r->fit.busbw_Bps, f * r->fit.bw_Bps)) ||
              (r->fit_status == DML_EVALIDATE && r->fit.bw_Bps == 0 &&
               r->fit.busbw_Bps == 0),
          "%s %s %s fit: status %d alpha %g s, bw %g, busbw %g B/s", kind,
          name, level, r->fit_status, r->fit.alpha_s, r->fit.bw_Bps,
          r->fit.busbw_Bps);

    dml_measurement rows[DML_COMM_MAX_POINTS];
    size_t k = dml_coll_to_measurements(r, rows, DML_COMM_MAX_POINTS);
    CHECK(k == n, "%s %s %s gives %zu rows, want %zu", kind, name, level, k,
          n);
    for (size_t i = 0; i < k; i++)
        CHECK(strcmp(rows[i].kind, kind) == 0 &&
                  strcmp(rows[i].op, name) == 0 &&
                  rows[i].value == rows[i].busbw_Bps &&
                  strcmp(rows[i].unit, "B/s") == 0,
              "%s row %zu: %s %s value %g %s", kind, i, rows[i].kind,
              rows[i].op, rows[i].value, rows[i].unit);
    char table[8192];
    dml_coll_format_table(r, table, sizeof table);
    int lines = 0;
    for (const char *c = table; *c; c++)
        lines += *c == '\n';
    CHECK(lines == 4 + (int)r->npoints + 2 &&
              strstr(table, "#       size         count      type   redop "
                            "   root     time   algbw   busbw #wrong     "
                            "time   algbw   busbw #wrong\n") &&
              strstr(table, "# Out of bounds values : 0 OK\n") &&
              strstr(table, "# Avg bus bandwidth    : "),
          "%s %s %s table has %d lines:\n%s", kind, name, level, lines,
          table);
    printf("\n%s# fit: alpha %.3g s, busbw %.3g B/s, max residual %.0f%%\n",
           table, r->fit.alpha_s, r->fit.busbw_Bps,
           100 * r->fit.max_rel_residual);
}

/* Levels the layout has, in measuring order, and their sizes. */
static int expected_levels(int nodes, int rpn, const char **name, int *ranks)
{
    int k = 0;
    if (rpn >= 2) {
        name[k] = "intra_node";
        ranks[k++] = rpn;
    }
    if (nodes >= 2) {
        name[k] = "inter_node";
        ranks[k++] = nodes;
    }
    return k;
}

static int run(int nodes, int rpn, int full)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    dml_error err;
    dml_comm_levels lv;
    dml_status s = dml_comm_levels_split(MPI_COMM_WORLD, 0, &lv, &err);
    CHECK(s == DML_OK, "split: %s", err.msg);
    if (s != DML_OK)
        return 1;
    char desc[128];
    if (rank == 0)
        printf("# layout: %s\n", dml_comm_levels_describe(&lv, desc,
                                                          sizeof desc));
    CHECK(lv.nodes == nodes && lv.ranks_per_node_min == rpn &&
              lv.ranks_per_node_max == rpn,
          "rank %d: %d nodes x %d-%d ranks, want %d x %d", rank, lv.nodes,
          lv.ranks_per_node_min, lv.ranks_per_node_max, nodes, rpn);
    CHECK(lv.node == rank / rpn && lv.local_rank == rank % rpn,
          "rank %d is rank %d of node %d, want %d of %d", rank,
          lv.local_rank, lv.node, rank % rpn, rank / rpn);

    /* Bad peers are refused before any message. */
    dml_p2p_options po =
        full ? dml_p2p_options_default() : dml_p2p_options_quick();
    static dml_p2p_result bad;
    CHECK(dml_p2p_measure(MPI_COMM_WORLD, 0, 0, "x", &po, &bad, &err) ==
              DML_EINPUT, "p2p accepted one rank as both peers");

    double t0 = dml_clock_now_s();
    static dml_p2p_result p2p[DML_COMM_LEVEL_COUNT];
    size_t np2p = 0;
    s = dml_p2p_measure_levels(&lv, &po, p2p, &np2p, &err);
    CHECK(s == DML_OK, "p2p: %s", err.msg);
    double t1 = dml_clock_now_s();

    dml_coll_options co =
        full ? dml_coll_options_default() : dml_coll_options_quick();
    static dml_coll_result coll[DML_COMM_LEVEL_COUNT * DML_COLL_OP_COUNT];
    size_t ncoll = 0;
    if (s == DML_OK) {
        s = dml_coll_measure_levels(&lv, &co, coll,
                                    DML_COMM_LEVEL_COUNT * DML_COLL_OP_COUNT,
                                    &ncoll, &err);
        CHECK(s == DML_OK, "collectives: %s", err.msg);
    }
    double t2 = dml_clock_now_s();

    dml_coll_options no =
        full ? dml_nccl_options_default() : dml_nccl_options_quick();
    static dml_coll_result nccl[DML_COMM_LEVEL_COUNT * DML_COLL_OP_COUNT];
    size_t nnccl = 0;
    dml_status ns = DML_OK;
    if (s == DML_OK) {
        ns = dml_nccl_measure_levels(&lv, &no, nccl,
                                     DML_COMM_LEVEL_COUNT * DML_COLL_OP_COUNT,
                                     &nnccl, &err);
        int mine[2] = {(int)ns, -(int)ns}, all[2];
        MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        CHECK(all[0] == -all[1], "ranks disagree on the NCCL status");
        CHECK(ns == DML_OK ||
                  (ns == DML_ENODEV && strncmp(err.msg, "no GPU", 6) == 0),
              "nccl: %s (%s)", err.msg, dml_status_name(ns));
        if (rank == 0 && ns == DML_ENODEV)
            printf("# nccl: skipped: %s\n", err.msg);
    }
    double t3 = dml_clock_now_s();

    if (rank == 0 && s == DML_OK) {
        const char *names[2];
        int sizes[2];
        int k = expected_levels(nodes, rpn, names, sizes);
        CHECK(np2p == (size_t)k, "p2p measured %zu levels, want %d", np2p, k);
        for (size_t i = 0; i < np2p && i < (size_t)k; i++)
            check_p2p(&p2p[i], names[i], sizes[i], &po);
        CHECK(ncoll == (size_t)k * DML_COLL_OP_COUNT,
              "%zu collective results, want %d", ncoll,
              k * DML_COLL_OP_COUNT);
        for (size_t i = 0; i < ncoll && i < (size_t)k * DML_COLL_OP_COUNT;
             i++)
            check_coll(&coll[i], "collective", names[i / DML_COLL_OP_COUNT],
                       (dml_coll_op)(i % DML_COLL_OP_COUNT),
                       sizes[i / DML_COLL_OP_COUNT], &co);
        if (ns == DML_OK) {
            CHECK(nnccl == (size_t)k * DML_COLL_OP_COUNT,
                  "%zu NCCL results, want %d", nnccl, k * DML_COLL_OP_COUNT);
            for (size_t i = 0;
                 i < nnccl && i < (size_t)k * DML_COLL_OP_COUNT; i++)
                check_coll(&nccl[i], "nccl", names[i / DML_COLL_OP_COUNT],
                           (dml_coll_op)(i % DML_COLL_OP_COUNT),
                           sizes[i / DML_COLL_OP_COUNT], &no);
        }
        printf("# time: p2p %.1f s, collectives %.1f s, nccl %.1f s\n",
               t1 - t0, t2 - t1, t3 - t2);
    }
    dml_comm_levels_free(&lv);
    return 0;
}

static int split_error(void)
{
    dml_error err;
    dml_comm_levels lv;
    dml_status s = dml_comm_levels_split(MPI_COMM_WORLD, 0, &lv, &err);
    CHECK(s == DML_EINPUT, "a bad %s gave %s", DML_PROBE_FAKE_NODES_ENV,
          dml_status_name(s));
    CHECK(strcmp(err.field, DML_PROBE_FAKE_NODES_ENV) == 0,
          "the error names '%s'", err.field);
    if (s == DML_OK)
        dml_comm_levels_free(&lv);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    dml_log_init("probes_comm_check");
    int nodes = 0, rpn = 0, want_error = 0, full = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc)
            nodes = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ranks-per-node") == 0 && i + 1 < argc)
            rpn = atoi(argv[++i]);
        else if (strcmp(argv[i], "--expect-split-error") == 0)
            want_error = 1;
        else if (strcmp(argv[i], "--default") == 0)
            full = 1;
    }
    if (want_error)
        split_error();
    else if (nodes < 1 || rpn < 1)
        CHECK(0, "usage: probes_comm_check --nodes N --ranks-per-node R | "
                 "--expect-split-error");
    else
        run(nodes, rpn, full);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
