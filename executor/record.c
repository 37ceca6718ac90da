/*
 * record.c: steps kept until the database takes them (see record.h).
 *
 * The buffer grows by doubling from DML_RECORD_BATCH entries to keep_max,
 * so a run whose database never fails holds 32 entries, and one whose
 * database fails for a while holds what it needs, within a bound.
 */
#include "executor/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dml_status dml_record_init(dml_record *r, dml_record_write_fn write,
                           void *ctx, dml_record_clock_fn clock,
                           size_t keep_max, dml_error *err)
{
    memset(r, 0, sizeof *r);
    r->write = write;
    r->ctx = ctx;
    r->clock = clock;
    r->keep_max = keep_max < DML_RECORD_BATCH ? DML_RECORD_BATCH : keep_max;
    r->cap = DML_RECORD_BATCH;
    r->pending = calloc(r->cap, sizeof *r->pending);
    if (!r->pending)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    r->last_flush_s = clock();
    r->pause_s = DML_RECORD_RETRY_FIRST_S;
    r->outage_step = -1;
    return DML_OK;
}

void dml_record_free(dml_record *r)
{
    free(r->pending);
    r->pending = NULL;
    r->n = r->cap = 0;
}

bool dml_record_add(dml_record *r, const dml_db_step *step, double now_s)
{
    if (r->n == r->cap && r->cap < r->keep_max) {
        size_t cap = r->cap * 2 < r->keep_max ? r->cap * 2 : r->keep_max;
        dml_db_step *grown = realloc(r->pending, cap * sizeof *grown);
        if (grown) {
            r->pending = grown;
            r->cap = cap;
        }
    }
    if (r->n < r->cap) {
        if (r->failing && r->outage_step < 0)
            r->outage_step = step->step;
        r->pending[r->n++] = *step;
    } else {
        /* Full (or no memory to grow): count it, never write past. */
        if (r->lost == 0)
            r->lost_first = step->step;
        r->lost_last = step->step;
        r->lost++;
    }
    return r->n >= DML_RECORD_BATCH || now_s - r->last_flush_s >= 1.0;
}

/* A failed attempt: remember why, and wait longer before the next,
 * counted from now (the attempt itself may have waited long). */
static dml_record_flush failed(dml_record *r, const dml_error *err)
{
    double now_s = r->clock();
    bool first = !r->failing;
    if (first)
        r->outage_step = r->n > 0 ? r->pending[0].step : -1;
    r->failing = true;
    r->failures++;
    r->retry_at_s = now_s + r->pause_s;
    r->pause_s = r->pause_s * 2 < DML_RECORD_RETRY_MAX_S
                     ? r->pause_s * 2
                     : DML_RECORD_RETRY_MAX_S;
    if (err)
        dml_error_format(err, r->reason, sizeof r->reason);
    else
        snprintf(r->reason, sizeof r->reason, "write failed");
    return first ? DML_RECORD_OUTAGE : DML_RECORD_FAILED;
}

static dml_record_flush succeeded(dml_record *r)
{
    bool was = r->failing;
    r->failing = false;
    r->pause_s = DML_RECORD_RETRY_FIRST_S;
    return was ? DML_RECORD_RECOVERED : DML_RECORD_WROTE;
}

dml_record_flush dml_record_flush_steps(dml_record *r, double now_s,
                                        bool force)
{
    if (r->n == 0 || (r->failing && !force && now_s < r->retry_at_s))
        return DML_RECORD_IDLE;
    r->last_flush_s = now_s;
    dml_error err;
    dml_error_clear(&err);
    if (r->write(r->ctx, r->pending, r->n, &err) != DML_OK)
        return failed(r, &err);
    r->n = 0;
    return succeeded(r);
}

bool dml_record_may_write(dml_record *r, double now_s)
{
    if (!r->failing || now_s >= r->retry_at_s)
        return true;
    r->lost_rows++;
    return false;
}

dml_record_flush dml_record_note(dml_record *r, dml_status s,
                                 const dml_error *err)
{
    if (s == DML_OK)
        return succeeded(r);
    r->lost_rows++;
    return failed(r, err);
}

bool dml_record_incomplete(const dml_record *r)
{
    return r->failing || r->lost > 0 || r->lost_rows > 0;
}

char *dml_record_describe(const dml_record *r, char *buf, size_t size)
{
    char steps[160] = "", kept[96] = "", rows[64] = "";
    if (r->lost > 0)
        snprintf(steps, sizeof steps, "steps %lld-%lld (%lld, past the %zu "
                 "kept while it failed)",
                 (long long)r->lost_first, (long long)r->lost_last,
                 (long long)r->lost, r->keep_max);
    if (r->failing && r->n > 0)
        snprintf(kept, sizeof kept, "steps %lld-%lld (%zu)",
                 (long long)r->pending[0].step,
                 (long long)r->pending[r->n - 1].step, r->n);
    if (r->lost_rows > 0)
        snprintf(rows, sizeof rows, "%lld other row%s",
                 (long long)r->lost_rows, r->lost_rows == 1 ? "" : "s");
    const char *parts[3] = {steps, kept, rows};
    char what[400] = "";
    size_t len = 0;
    int k = 0;
    for (int i = 0; i < 3; i++) {
        if (!parts[i][0])
            continue;
        len += (size_t)snprintf(what + len, sizeof what - len, "%s%s",
                                k ? " and " : "", parts[i]);
        if (len >= sizeof what)
            len = sizeof what - 1;
        k++;
    }
    snprintf(buf, size, "the database refused writes (%s): %s not "
             "recorded%s",
             r->reason[0] ? r->reason : "no reason given",
             k ? what : "nothing", r->failing ? "; the run stays 'running' "
                                                "there" : "");
    return buf;
}
