/*
 * engine.h: the one measuring engine every probe uses.
 *
 * As in nccl-tests and the OSU benchmarks: warm up, then repeat the
 * operation and keep every sample, report min and median (the machine is
 * shared and noisy: the minimum is the capability, the median the typical
 * case). Repetitions stop at max_reps or once the time budget is spent,
 * whichever comes first, but never below min_reps.
 *
 * Under MPI every rank must run the same number of repetitions or the
 * collectives inside fn deadlock: MPI probes pass max_time_s = 0 (the loop
 * then runs exactly min_reps) with a count agreed by all ranks.
 */
#ifndef DML_PROBES_ENGINE_H
#define DML_PROBES_ENGINE_H

#include <stddef.h>

#include "common/error.h"

typedef struct dml_probe_budget {
    int warmup;        /* untimed runs first */
    int min_reps;      /* timed runs at least */
    int max_reps;      /* timed runs at most */
    double max_time_s; /* stop adding runs after this much timed work */
} dml_probe_budget;

typedef struct dml_probe_stats {
    int reps;        /* timed runs kept */
    double min_s;    /* fastest run, s */
    double median_s; /* median run, s */
    double mean_s;   /* mean run, s */
    double max_s;    /* slowest run, s */
} dml_probe_stats;

/* Times one run of the operation and returns its duration in seconds
 * through *elapsed_s (the callback times itself so that it can exclude
 * set-up and synchronise ranks as it needs). */
typedef dml_status (*dml_probe_fn)(void *ctx, double *elapsed_s,
                                   dml_error *err);

dml_status dml_probe_run(const dml_probe_budget *b, dml_probe_fn fn,
                         void *ctx, dml_probe_stats *out, dml_error *err);

/* Statistics over samples already taken; sorts samples in place. */
void dml_probe_stats_from(double *samples, int n, dml_probe_stats *out);

/*
 * Size the samples of a short operation (one call takes t_call_s): a
 * sample repeats the call until it lasts sample_time_s (at most 10,000
 * calls, returned in *calls) so that clock resolution and launch overhead
 * do not count, and the repetitions of base are cut so that the timed work
 * stays within point_time_s (at least one sample). No warm-up: the caller
 * has just run the call.
 */
dml_probe_budget dml_probe_budget_for_calls(const dml_probe_budget *base,
                                            double t_call_s,
                                            double sample_time_s,
                                            double point_time_s, int *calls);

/* Presets: quick (dml-probe --quick, whole run under 30 s) and default. */
dml_probe_budget dml_probe_budget_quick(void);
dml_probe_budget dml_probe_budget_default(void);

#endif
