/*
 * fed_round.h: the price of one federated round (issue 18), pure: what
 * executor/federated/fed_train.c does, in bytes per link and seconds.
 *
 * A round of m = round(C N) clients on R ranks (rank 0 the server):
 *  - down: the server broadcasts the global model (4 P bytes) to the
 *    other R - 1 ranks; up: each rank's sum of its clients' updates comes
 *    back to the server (8 P bytes in double, 4 P under secure
 *    aggregation's 32-bit fixed point, plus 8 bytes per revealed pair
 *    seed). The server's link carries all of it: it is the busiest link,
 *    and the round's exchange takes (R - 1) (4 P + up) bytes through it
 *    (the links of the other ranks carry one model each way).
 *  - compute: a client trains ceil(E n / B) steps of B samples (one step
 *    of the whole shard when E is 0), 3 forward FLOPs per sample step
 *    (forward and backward); the ranks host ceil(m / R) clients one after
 *    the other, so the slowest rank's clients set the round's compute;
 *    secure aggregation adds, per client, m - 1 mask streams of P values.
 * Logical federated bytes (each client downloading the model and
 * uploading its update, as recorded in fed_rounds) are m 4 P down and
 * (m - dropped) up.
 */
#ifndef DML_COSTMODEL_FED_ROUND_H
#define DML_COSTMODEL_FED_ROUND_H

#include "costmodel/cluster_spec.h"
#include "costmodel/federated_spec.h"

typedef struct dml_fed_round_input {
    const dml_fed_spec *fed;     /* the federated knobs */
    double params;               /* P, model parameters */
    double samples;              /* training set size n (all clients) */
    double flops_per_sample;     /* forward FLOPs of one sample */
    double rank_flops;           /* sustained FLOP/s of one rank */
    double mask_values_per_s;    /* PRG values a rank draws per second */
    int ranks;                   /* R */
    dml_link_spec server_link;   /* the link between the server's rank
                                    and the others (the busiest) */
} dml_fed_round_input;

typedef struct dml_fed_round_price {
    int clients;                 /* m */
    double client_steps;         /* local steps of a full-work client */
    double compute_s;            /* the slowest rank's clients, s */
    double secagg_s;             /* masking of the slowest rank, s */
    double server_link_bytes;    /* bytes through the server's link */
    double comm_s;               /* their time on that link, s */
    double round_s;              /* compute + masking + exchange, s */
    double logical_down_bytes;   /* m clients x the model */
    double logical_up_bytes;     /* m clients x the update */
} dml_fed_round_price;

void dml_fed_round_price_of(const dml_fed_round_input *in,
                            dml_fed_round_price *out);

#endif
