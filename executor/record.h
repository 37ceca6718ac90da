/*
 * record.h: the steps rank 0 has not yet written to the database, kept
 * through a database that stops accepting writes in the middle of a run.
 *
 * dml-exec commits its steps in batches (a batch of DML_RECORD_BATCH steps
 * or a second's worth, whichever comes first). A batch that cannot be
 * written (another process holds the write lock past the busy timeout,
 * the database's disk is full, its file became unwritable) is kept and the
 * run goes on; later flushes retry after a pause that doubles from 1 s to
 * 60 s (each try may itself wait the busy timeout), and once the database
 * accepts writes again every kept step is written in one transaction.
 * Other rows (events, checkpoints, per-rank timings) are tried only while
 * the database is not failing; one that cannot be written is counted.
 *
 * Invariants (each holds whatever the database does):
 *   1. n <= cap <= keep_max: a step is stored only inside the buffer;
 *   2. every step added is written, kept, or counted in lost (with the
 *      first and last such step), never silently dropped;
 *   3. failing is true exactly while the newest write attempt failed.
 *
 * The writer is a function so that the unit test can make the database
 * fail at will; dml-exec passes dml_db_record_steps.
 */
#ifndef DML_EXECUTOR_RECORD_H
#define DML_EXECUTOR_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "db/run_store.h"

/* Steps per transaction in normal operation. */
#define DML_RECORD_BATCH 32
/* Steps kept at most while the database refuses writes (about 15 MB). */
#define DML_RECORD_KEEP_MAX ((size_t)1 << 17)
/* Pause before the first retry, and the longest pause, s. */
#define DML_RECORD_RETRY_FIRST_S 1.0
#define DML_RECORD_RETRY_MAX_S 60.0

/* Write n steps in one transaction (dml_db_record_steps with its run). */
typedef dml_status (*dml_record_write_fn)(void *ctx, const dml_db_step *steps,
                                          size_t n, dml_error *err);
/* The clock, s (dml_clock_now_s): read after a failed write, which may
 * have waited the busy timeout, so the pause counts from its end. */
typedef double (*dml_record_clock_fn)(void);

typedef struct dml_record {
    dml_record_write_fn write; /* the writer */
    void *ctx;                 /* its first argument */
    dml_record_clock_fn clock; /* the clock */
    dml_db_step *pending;      /* [cap] steps not yet written */
    size_t n;                  /* steps in pending */
    size_t cap;                /* allocated entries of pending */
    size_t keep_max;           /* cap never grows past this */
    double last_flush_s;       /* clock of the last write attempt, s */
    bool failing;              /* the newest write attempt failed */
    double retry_at_s;         /* no write attempt before this clock, s */
    double pause_s;            /* the pause after the next failure, s */
    int64_t failures;          /* failed write attempts in all */
    int64_t outage_step;       /* first step kept by the current (or last)
                                  outage, -1: none yet */
    int64_t lost;              /* steps neither written nor kept */
    int64_t lost_first;        /* first and last of them (when lost > 0) */
    int64_t lost_last;
    int64_t lost_rows;         /* other rows (events, ...) not written */
    char reason[512];          /* why the newest failed attempt failed */
} dml_record;

/* What a flush did. */
typedef enum dml_record_flush {
    DML_RECORD_IDLE = 0,   /* nothing due, nothing to write, or retry later */
    DML_RECORD_WROTE,      /* the kept steps are in the database */
    DML_RECORD_RECOVERED,  /* as WROTE, after one or more failed attempts */
    DML_RECORD_FAILED,     /* the attempt failed; steps kept */
    DML_RECORD_OUTAGE,     /* as FAILED, and the first failure of an outage */
} dml_record_flush;

/* Start with an empty buffer of DML_RECORD_BATCH entries; keep_max is
 * clamped to at least that. DML_ENOMEM when it cannot be allocated. */
dml_status dml_record_init(dml_record *r, dml_record_write_fn write,
                           void *ctx, dml_record_clock_fn clock,
                           size_t keep_max, dml_error *err);
void dml_record_free(dml_record *r);

/* Keep one step (grows the buffer up to keep_max; beyond it the step is
 * counted in lost). True when a flush is due: DML_RECORD_BATCH steps kept,
 * or a second since the last write attempt. */
bool dml_record_add(dml_record *r, const dml_db_step *step, double now_s);

/* Write the kept steps, unless the database is failing and its retry time
 * has not come (force: try anyway, as at the end of a run). */
dml_record_flush dml_record_flush_steps(dml_record *r, double now_s,
                                        bool force);

/* May another row be written now (the database is not failing, or its
 * retry time has come)? When not, the row is counted in lost_rows. */
bool dml_record_may_write(dml_record *r, double now_s);

/* The outcome of writing another row: a failure starts (or continues) an
 * outage and counts the row in lost_rows. Returns what
 * dml_record_flush_steps would for the same outcome. */
dml_record_flush dml_record_note(dml_record *r, dml_status s,
                                 const dml_error *err);

/* Did anything fail to reach the database (lost steps or rows), or is it
 * failing still? */
bool dml_record_incomplete(const dml_record *r);

/* One sentence on what is missing from the database, for the run's error
 * and the last line of dml-exec ("the database refused writes (reason):
 * steps 40-1000 (961) and 2 other rows are not recorded"). */
char *dml_record_describe(const dml_record *r, char *buf, size_t size);

#endif
