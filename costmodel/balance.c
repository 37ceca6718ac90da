/*
 * balance.c: micro-batch shares and stage boundaries for devices of
 * unequal speed (see balance.h). Pure arithmetic on the caller's arrays:
 * the cost model runs it per configuration, the executor per re-plan.
 */
#include "costmodel/balance.h"

#include <math.h>
#include <string.h>

static const char *const names[DML_BALANCE_COUNT] = {"equal", "static",
                                                     "dynamic"};

const char *dml_balance_name(dml_balance b)
{
    return (int)b >= 0 && b < DML_BALANCE_COUNT ? names[b] : "?";
}

bool dml_balance_parse(const char *text, dml_balance *out)
{
    for (int i = 0; i < DML_BALANCE_COUNT; i++)
        if (text && strcmp(text, names[i]) == 0) {
            *out = (dml_balance)i;
            return true;
        }
    return false;
}

void dml_balance_apportion(int64_t total, const double *weight, int n,
                           int64_t least, int64_t *out)
{
    /* Parts whose quota falls below `least` get `least` and leave the
     * rest to the others (out[i] == -1 marks a part still apportioned);
     * each round fixes at least one part or ends. */
    for (int i = 0; i < n; i++)
        out[i] = -1;
    int64_t left = total;
    double wsum = 0;
    for (int i = 0; i < n; i++)
        wsum += weight[i];
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < n; i++)
            if (out[i] < 0 && (double)left * weight[i] / wsum < (double)least) {
                out[i] = least;
                left -= least;
                wsum -= weight[i];
                again = true;
            }
    }
    int64_t given = 0;
    for (int i = 0; i < n; i++)
        if (out[i] < 0)
            given += (int64_t)floor((double)left * weight[i] / wsum);
    /* the units floor left over, one each to the largest remainders
     * (lower index first on a tie) */
    int64_t extra = left - given;
    for (int i = 0; i < n; i++)
        if (out[i] < 0)
            out[i] = -2 - (int64_t)floor((double)left * weight[i] / wsum);
    for (; extra > 0; extra--) {
        int best = -1;
        double best_r = -1;
        for (int i = 0; i < n; i++) {
            if (out[i] > -2)
                continue; /* fixed, or already given its extra unit */
            double q = (double)left * weight[i] / wsum;
            double r = q - floor(q);
            if (r > best_r) {
                best_r = r;
                best = i;
            }
        }
        out[best] = -out[best] - 2 + 1; /* its floor, plus one */
    }
    for (int i = 0; i < n; i++)
        if (out[i] <= -2)
            out[i] = -out[i] - 2;
}

/* ---- shares --------------------------------------------------------------- */

/* Micro-batches a replica of class k finishes within t (0: not even one). */
static int64_t cap_at(double t, double first, double slope)
{
    if (t < first)
        return 0;
    return (int64_t)floor((t - first) / slope) + 1;
}

static int64_t capacity(int n, const int64_t *count, const double *first,
                        const double *slope, double t)
{
    int64_t sum = 0;
    for (int k = 0; k < n; k++)
        sum += count[k] * cap_at(t, first[k], slope[k]);
    return sum;
}

double dml_balance_shares(int n, const int64_t *count, const double *first,
                          const double *slope, int64_t total, int64_t *m,
                          int64_t *up)
{
    /* The least makespan T: the smallest time in which the replicas,
     * each running what fits in T, cover the total. Bisection brackets
     * it to adjacent doubles; every replica then takes what fits. */
    double lo = 0, max_slope = 0;
    for (int k = 0; k < n; k++) {
        lo = fmax(lo, first[k]);
        max_slope = fmax(max_slope, slope[k]);
    }
    double hi = lo;
    if (capacity(n, count, first, slope, lo) < total) {
        /* room for the whole total on every replica, and a margin for
         * rounding in cap_at */
        hi = (lo + max_slope * (double)total) * (1 + 1e-9) + 1e-300;
        for (int it = 0; it < 200 && lo < hi; it++) {
            double mid = 0.5 * (lo + hi);
            if (mid <= lo || mid >= hi)
                break;
            if (capacity(n, count, first, slope, mid) >= total)
                hi = mid;
            else
                lo = mid;
        }
    }
    /* Class k: n_hi[k] replicas at top[k], the rest one below (the
     * outputs hold them meanwhile). */
    int64_t *top = m, *n_hi = up;
    int64_t excess = -total;
    for (int k = 0; k < n; k++) {
        top[k] = cap_at(hi, first[k], slope[k]);
        if (top[k] < 1)
            top[k] = 1;
        n_hi[k] = count[k];
        excess += count[k] * top[k];
    }
    /* Give back what exceeds the total from the replicas that finish
     * last, never below one micro-batch. */
    while (excess > 0) {
        int best = -1;
        double t_best = -1;
        for (int k = 0; k < n; k++) {
            if (top[k] == 1)
                continue;
            double t = first[k] + slope[k] * (double)(top[k] - 1);
            if (t > t_best) {
                t_best = t;
                best = k;
            }
        }
        if (best < 0)
            break; /* every replica at one: total < replicas */
        int64_t take = excess < n_hi[best] ? excess : n_hi[best];
        n_hi[best] -= take;
        excess -= take;
        if (n_hi[best] == 0) {
            top[best]--;
            n_hi[best] = count[best];
        }
    }
    double makespan = 0;
    for (int k = 0; k < n; k++) {
        makespan = fmax(makespan, first[k] + slope[k] * (double)(top[k] - 1));
        if (n_hi[k] == count[k]) {
            n_hi[k] = 0; /* all at top: none above it */
        } else {
            top[k]--;    /* the first n_hi[k] one above the rest */
        }
    }
    return makespan;
}

/* ---- stage boundaries ------------------------------------------------------- */

static double stage_time(const dml_balance_stage *s, double work)
{
    return s->extra_s + s->time_per_work * work;
}

double dml_balance_bottleneck(int n, const double *work, int p,
                              const dml_balance_stage *stage,
                              const int64_t *count)
{
    double worst = 0;
    int64_t next = 0;
    for (int r = 0; r < p; r++) {
        double w = 0;
        for (int64_t i = next; i < next + count[r] && i < n; i++)
            w += work ? work[i] : 1.0;
        next += count[r];
        worst = fmax(worst, stage_time(&stage[r], w));
    }
    return worst;
}

bool dml_balance_partition(int n, const double *work,
                           const double *param_bytes, const double *act_bytes,
                           int p, const dml_balance_stage *stage,
                           int64_t *count)
{
    enum { N = DML_BALANCE_ITEMS_MAX + 1 };
    if (n < 1 || n > DML_BALANCE_ITEMS_MAX || p < 1 || p > n)
        return false;
    double W[N], P[N], A[N];
    W[0] = P[0] = A[0] = 0;
    for (int i = 0; i < n; i++) {
        W[i + 1] = W[i] + work[i];
        P[i + 1] = P[i] + (param_bytes ? param_bytes[i] : 0);
        A[i + 1] = A[i] + (act_bytes ? act_bytes[i] : 0);
    }
    /* f[r][j]: the least bottleneck of items 0..j-1 on stages 0..r-1;
     * from[r][j]: where run r-1 starts in it. */
    double f[N][N];
    short from[N][N];
    for (int j = 0; j <= n; j++)
        f[0][j] = j == 0 ? 0 : INFINITY;
    for (int r = 1; r <= p; r++) {
        const dml_balance_stage *s = &stage[r - 1];
        for (int j = 0; j <= n; j++) {
            f[r][j] = INFINITY;
            from[r][j] = -1;
            /* stages after this one need an item each */
            if (j < r || j > n - (p - r))
                continue;
            for (int i = r - 1; i < j; i++) {
                if (!isfinite(f[r - 1][i]))
                    continue;
                double mem = P[j] - P[i] + s->inflight * (A[j] - A[i]);
                if (mem > s->mem_cap_bytes)
                    continue;
                double t = fmax(f[r - 1][i], stage_time(s, W[j] - W[i]));
                if (t < f[r][j]) {
                    f[r][j] = t;
                    from[r][j] = (short)i;
                }
            }
        }
    }
    if (!isfinite(f[p][n]))
        return false;
    for (int r = p, j = n; r >= 1; r--) {
        int i = from[r][j];
        count[r - 1] = j - i;
        j = i;
    }
    return true;
}

/* Identical items a stage's memory holds (at most n). */
static int64_t uniform_mem_max(const dml_balance_stage *s, int64_t n,
                               double param_bytes, double act_bytes)
{
    double per = param_bytes + s->inflight * act_bytes;
    double c = per > 0 ? floor(s->mem_cap_bytes / per) : INFINITY;
    return c >= (double)n ? n : (int64_t)c;
}

/* Identical items stage s holds within t (and its memory). */
static int64_t uniform_fit(const dml_balance_stage *s, double work,
                           int64_t mem_max, double t)
{
    double per = s->time_per_work * work;
    if (t < s->extra_s + per)
        return 0;
    double c = floor((t - s->extra_s) / per);
    return c < (double)mem_max ? (int64_t)c : mem_max;
}

bool dml_balance_partition_uniform(int64_t n, double work, double param_bytes,
                                   double act_bytes, int p,
                                   const dml_balance_stage *stage,
                                   int64_t *count)
{
    if (p < 1 || n < p || !(work > 0))
        return false;
    /* count[] holds each stage's memory bound until the cut is made */
    int64_t *mem_max = count, mem_sum = 0;
    double lo = 0, hi = 0;
    for (int r = 0; r < p; r++) {
        const dml_balance_stage *s = &stage[r];
        if (!(s->time_per_work > 0))
            return false;
        mem_max[r] = uniform_mem_max(s, n, param_bytes, act_bytes);
        if (mem_max[r] < 1)
            return false;
        mem_sum += mem_max[r];
        lo = fmax(lo, stage_time(s, work));
        hi = fmax(hi, stage_time(s, work * (double)n));
    }
    hi = hi * (1 + 1e-9) + 1e-300; /* a margin for rounding in the fits */
    if (mem_sum < n)
        return false;
    /* smallest t whose fits cover n: every stage at least one item */
    for (int it = 0; it < 200 && lo < hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        int64_t sum = 0;
        for (int r = 0; r < p; r++)
            sum += uniform_fit(&stage[r], work, mem_max[r], mid);
        if (sum >= n)
            hi = mid;
        else
            lo = mid;
    }
    int64_t sum = 0;
    for (int r = 0; r < p; r++) {
        count[r] = uniform_fit(&stage[r], work, mem_max[r], hi);
        if (count[r] < 1)
            count[r] = 1;
        sum += count[r];
    }
    if (sum < n)
        return false; /* cannot happen: hi fits every stage's memory */
    /* the items beyond n come off the stages that finish last */
    while (sum > n) {
        int best = -1;
        double t_best = -1;
        for (int r = 0; r < p; r++) {
            double t = stage_time(&stage[r], work * (double)count[r]);
            if (count[r] > 1 && t > t_best) {
                t_best = t;
                best = r;
            }
        }
        count[best]--;
        sum--;
    }
    return true;
}
