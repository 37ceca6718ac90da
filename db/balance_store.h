/*
 * balance_store.h: balance=dynamic's events of a run (migration 9,
 * issue 16): each straggler flagged and recovered, each change of the
 * data-parallel shares, with the shares before and after and the speeds
 * measured. dml-exec writes them (executor/balance_run.h), dml-history
 * --balance lists them (history.h).
 */
#ifndef DML_DB_BALANCE_STORE_H
#define DML_DB_BALANCE_STORE_H

#include <stdint.h>

#include "db/db.h"

typedef struct dml_db_balance_event {
    int64_t step;            /* the step whose figures decided it */
    const char *kind;        /* "straggler", "recovered" or "rebalance" */
    int replica;             /* < 0: none (rebalance) */
    const char *cause;       /* "compute", "link", NULL: none */
    double ratio;            /* rebalance_h's ratio (NAN: none) */
    const char *old_shares;  /* "8,8,8,8" */
    const char *new_shares;  /* "10,10,10,2" */
    const char *speeds;      /* micro-batches per second, "12.1,12.3,..."
                                (NULL: none) */
} dml_db_balance_event;

dml_status dml_db_balance_event_add(dml_db *db, int64_t run_id,
                                    const dml_db_balance_event *e,
                                    dml_error *err);

#endif
