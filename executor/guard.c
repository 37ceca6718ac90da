/*
 * guard.c: finiteness and divergence checks (see guard.h).
 */
#include "executor/guard.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* IEEE-754 binary32: NaN and the infinities, and only they, have every
 * exponent bit set. The largest exponent field over v is therefore all
 * ones exactly when some value is not finite; an integer maximum has no
 * branch and vectorises, where a float sum would not (without
 * -ffast-math) and could overflow. */
static bool all_finite(const float *v, size_t n)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        u &= 0x7f800000u;
        top = u > top ? u : top;
    }
    return top != 0x7f800000u;
}

size_t dml_guard_first_nonfinite(const float *v, size_t n)
{
    if (all_finite(v, n))
        return n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return n;
}

size_t dml_guard_count_nonfinite(const float *v, size_t n)
{
    if (all_finite(v, n))
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !isfinite(v[i]);
    return k;
}

double dml_guard_diverge_bound(double first)
{
    return DML_GUARD_DIVERGE_FACTOR *
           (isfinite(first) && first > 1.0 ? first : 1.0);
}

bool dml_guard_diverged(double loss, double first)
{
    return !isfinite(loss) || loss > dml_guard_diverge_bound(first);
}

bool dml_guard_step_failed(int64_t step, double loss, double nonfinite,
                           double first_loss, char *why, size_t size,
                           const char **kind)
{
    *kind = "nan";
    if (!isfinite(loss))
        snprintf(why, size, "the loss is not finite at step %lld",
                 (long long)step);
    else if (nonfinite > 0)
        snprintf(why, size, "%.0f parameter%s not finite after the update "
                 "of step %lld (loss %.6g)",
                 nonfinite, nonfinite == 1 ? " is" : "s are",
                 (long long)step, loss);
    else if (dml_guard_diverged(loss, first_loss)) {
        *kind = "diverged";
        snprintf(why, size, "the loss diverged at step %lld: %.6g is more "
                 "than %g x max(first loss %.6g, 1) = %.6g",
                 (long long)step, loss, DML_GUARD_DIVERGE_FACTOR, first_loss,
                 dml_guard_diverge_bound(first_loss));
    } else
        return false;
    return true;
}
