/*
 * rebalance.h: balance=dynamic's decisions (issue 16): which data-parallel
 * replica is a straggler and why, and when to move micro-batches between
 * the replicas, from the compute and exchange times each replica measured
 * at each step.
 *
 * Synchronous training runs at the pace of its slowest replica, and the
 * gradient exchange makes every replica's step time look the same: the
 * fast ones wait inside the exchange for the slow one. The only place a
 * straggler shows is its compute time (forward and backward, before the
 * exchange), so each rank reports that and its exchange time at every
 * step, per replica, through the step's reduction over the ranks
 * (step_lag.h). This file is the pure decision logic on those series: no
 * MPI, no clock, the same answer on every rank given the same figures, so
 * the ranks change their shares at the same step without a word more.
 *
 * Straggler. A replica's figure is its compute time per micro-batch (its
 * share may differ from the others') over the median of the other
 * replicas', its ratio; the median of its last flag_steps ratios is its
 * level. It is over while the level exceeds flag_ratio; flag_steps
 * consecutive steps over flag it ("compute"), flag_steps consecutive
 * steps with the level under clear_ratio end the flag (hysteresis: a
 * replica hovering near the threshold is not flagged and cleared at every
 * step; the median makes a lone slow step count for nothing). A link
 * straggler is a replica whose compute is normal but whose exchange is
 * slow: its exchange time less the time it waited for the slowest
 * replica's compute (every replica waits max_j c_j - c_i in the exchange
 * for the slowest) over the others' median of the same, counted only
 * when the excess is at least link_floor of the median compute time (a
 * few milliseconds of exchange against a second of compute are no
 * straggler), with the same level, thresholds and steps.
 *
 * Shares. The shares leave the plan's only while some replica is flagged
 * for its compute, and return to the plan's at the step the last such
 * flag ends: the end of the slowdown is the flag's end, judged with the
 * flag's hysteresis, not the window's speeds (measured on a loaded
 * machine, a replica running a small share in short bursts looks faster
 * per micro-batch than it is, and a window of such speeds would move the
 * shares past the plan's before coming back). While a replica is
 * flagged, every `every` steps (and only once `every` steps have been
 * seen since the last change) each replica's speed is the median over those
 * steps of its compute time per micro-batch; the best shares for those
 * speeds are costmodel/balance.c's (dml_balance_shares: the slowest
 * replica's time least, every replica at least one micro-batch, the total
 * unchanged, so the global batch and every sample's 1/B weight are the
 * same and the step's gradient is the same average). The target is the
 * plan's own shares ("equal") when they come within equal_tol of the best,
 * else the best. The shares move to a target of uneven shares only when
 * that makes the slowest replica at least gain_min faster, and back to the
 * plan's shares when staying would be at least return_min slower than
 * them: between the two thresholds nothing changes, so measurement noise
 * near one threshold cannot make the shares oscillate (leaving the plan's
 * shares needs them 1.3 x slower than the best, coming back needs them
 * within 1.1 x of it: the speeds must change by a sixth or more between
 * the two). A flag that ends while the node is still slow (possible when
 * the machine's load hides most of the slowdown) takes the shares back to
 * the plan's; the flag's return takes them away again at the next
 * decision: at worst a slow cycle of about twenty steps, never a step to
 * step oscillation. Nor do the shares give more work to a replica still
 * flagged for its compute: when its window says it is fast (a CPU quota,
 * as the emulated cluster sets, lets a short burst through at full
 * speed, so a replica running one micro-batch looks quick per
 * micro-batch however slow it is at eight) the speeds contradict the
 * flag, and the shares hold.
 *
 * Why these numbers (dml_rebalance_params_default): a quiet run on a
 * shared machine shows step-to-step jitter of about 10 % on a rank's
 * compute (more when other work lands on its core for a moment). The
 * median of `every` = 10 steps cuts that to a few per cent, far below
 * gain_min = 1.3 and equal_tol = 1.1; a straggler at a third of the speed
 * gains 2 x or more. flag_ratio = 2 over the median of 5 steps for
 * flag_steps = 5 consecutive steps: on this 2-core machine at a load of
 * 20 a quiet replica's level reached 1.53 for the first ten steps of a
 * run (measured, emu_balance_dynamic); a replica at a third of the speed
 * stands at 3, an emulated one at a quota of 0.01 at 7 to 9. A burst of
 * another process on one core (a compile unit) inflates one rank's step
 * for a step or two, which the median of five ignores; a real straggler
 * is flagged about eight steps after it starts (three to move the
 * median, five to confirm). clear_ratio = 1.5 below flag_ratio is the
 * flag's hysteresis. Slowdowns under 2 x are not chased. return_min = 1.05: shares one micro-batch off the
 * plan's at 8 a replica (9, 9, 9, 5) are 1.125 x slower than the plan's
 * once the straggler is back, which the window's noise must not hide.
 * min_compute_s = 20 ms: a step computed in a
 * few milliseconds measures the scheduler (a time slice lost to another
 * process is 3-4 ms under CFS), not the device; four ranks of a tiny
 * model on two loaded cores showed 4 x differences between ten-step
 * medians, so such steps are not judged at all (and a model that small
 * has nothing to gain from balancing). link_floor = 0.25: on a shared machine the
 * exchange of a small model jitters by milliseconds when a rank is
 * descheduled, which is no link problem unless it is a fair part of the
 * step.
 */
#ifndef DML_EXECUTOR_REBALANCE_H
#define DML_EXECUTOR_REBALANCE_H

#include <stdbool.h>
#include <stdint.h>

/* Replicas a dynamic run balances at most (their figures ride on each
 * step's reduction, three doubles a replica). */
#define DML_REBALANCE_REPLICAS_MAX 64
/* Longest decision window, steps. */
#define DML_REBALANCE_WINDOW_MAX 64

typedef struct dml_rebalance_params {
    int every;          /* steps between share decisions, and the window
                           whose medians they use (<= WINDOW_MAX) */
    int flag_steps;     /* consecutive steps to flag or clear a straggler */
    double flag_ratio;  /* over: figure > flag_ratio x others' median */
    double clear_ratio; /* under: figure < clear_ratio x others' median */
    double link_floor;  /* a link straggler's excess exchange at least
                           this fraction of the median compute time */
    double gain_min;    /* move to uneven shares: slowest replica's time
                           at least this factor shorter */
    double equal_tol;   /* the plan's shares are the target when within
                           this factor of the best */
    double return_min;  /* back to the plan's shares when the current
                           ones are at least this factor slower */
    double min_compute_s; /* steps whose median compute is shorter are
                           not judged, s */
} dml_rebalance_params;

typedef enum dml_rebalance_kind {
    DML_REBALANCE_STRAGGLER, /* a replica flagged (replica, cause, ratio) */
    DML_REBALANCE_RECOVERED, /* its flag ended */
    DML_REBALANCE_SHARES,    /* the shares changed (old, new, speeds) */
} dml_rebalance_kind;

typedef struct dml_rebalance_event {
    dml_rebalance_kind kind;
    int64_t step;            /* the step whose figures decided it */
    int replica;             /* straggler/recovered: which; shares: -1 */
    const char *cause;       /* "compute" or "link" (straggler, recovered);
                                NULL for shares */
    double ratio;            /* straggler: its figure over the others'
                                median that step; shares: the slowest
                                replica's time with the old shares over
                                the new, at the measured speeds */
    bool to_equal;           /* shares: back to the plan's own */
    int n;                   /* replicas */
    int64_t old_shares[DML_REBALANCE_REPLICAS_MAX]; /* micro-batches a step
                                at the full batch, before */
    int64_t new_shares[DML_REBALANCE_REPLICAS_MAX]; /* and after */
    double speed[DML_REBALANCE_REPLICAS_MAX]; /* shares: measured
                                micro-batches per second of compute (window
                                medians); else this step's */
} dml_rebalance_event;

typedef struct dml_rebalance {
    dml_rebalance_params p;
    int n;                        /* replicas */
    int64_t total;                /* micro-batches a full-batch step */
    int64_t equal[DML_REBALANCE_REPLICAS_MAX]; /* the plan's shares */
    int64_t cur[DML_REBALANCE_REPLICAS_MAX];   /* the shares in force */
    double win[DML_REBALANCE_WINDOW_MAX][DML_REBALANCE_REPLICAS_MAX];
                                  /* compute s per micro-batch, by step */
    int seen;                     /* steps in win since the last change */
    int since_decision;           /* steps since the last decision */
    int over[DML_REBALANCE_REPLICAS_MAX];  /* consecutive steps over */
    int under[DML_REBALANCE_REPLICAS_MAX]; /* consecutive steps under
                                             (while flagged) */
    int link_over[DML_REBALANCE_REPLICAS_MAX];
    double ratio[DML_REBALANCE_WINDOW_MAX][DML_REBALANCE_REPLICAS_MAX];
                                  /* compute per micro-batch over the
                                     others' median, last flag_steps */
    double link[DML_REBALANCE_WINDOW_MAX][DML_REBALANCE_REPLICAS_MAX];
                                  /* link scores, last flag_steps */
    int64_t steps;                /* steps observed */
    const char *flag[DML_REBALANCE_REPLICAS_MAX]; /* cause, NULL: none */
} dml_rebalance;

/* The documented defaults (see above). */
void dml_rebalance_params_default(dml_rebalance_params *p);

/* n replicas (1..REPLICAS_MAX) whose plan gives them shares[i]
 * micro-batches each at the full batch. */
void dml_rebalance_init(dml_rebalance *r, const dml_rebalance_params *p,
                        int n, const int64_t *shares);

/*
 * One step's figures per replica: compute_s[i] (forward and backward, the
 * slowest of its ranks), exchange_s[i] (the gradient exchange, waiting
 * included) and mb[i], the micro-batches it ran that step. Writes the
 * events the step causes into ev (room for max_ev; at most n + 1 are
 * written, stragglers before shares) and returns their count. After a
 * shares event the new shares are r->cur.
 */
int dml_rebalance_observe(dml_rebalance *r, int64_t step,
                          const double *compute_s, const double *exchange_s,
                          const int64_t *mb, dml_rebalance_event *ev,
                          int max_ev);

/* "4,4,4,4": n shares comma-separated into buf (size cap). */
char *dml_rebalance_format(const int64_t *shares, int n, char *buf,
                           int cap);

#endif
