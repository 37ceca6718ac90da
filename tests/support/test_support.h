/*
 * test_support.h: set-up shared by the tests and the calibration bench:
 * the mlp-fmnist plans they measure and price, the cost model's price of
 * a plan, and the parallel configurations and learning-rate schedule
 * several tests check numbers against. Nothing here asserts: each helper
 * returns a status (or a value) so that cmocka tests, the integration
 * programs and bench tools can all use it.
 */
#ifndef DML_TEST_SUPPORT_H
#define DML_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/status.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "costmodel/step_time.h"

/* A plan of the mlp-fmnist preset on dp x tp x pp ranks of threads
 * threads each, mbs samples a micro-batch and mb micro-batches a step
 * (global batch dp x mbs x mb), for the cluster of that name and
 * fingerprint, split into stages. Not validated: callers validate once
 * they have set what else they need. */
dml_status dml_test_plan_mlp(dml_plan *plan, const char *cluster_name,
                             const char *fingerprint, int dp, int tp, int pp,
                             int64_t mbs, int64_t mb, int threads,
                             dml_error *err);

/* Price plan on cluster c with the cost model: calibration cal (NULL: the
 * uncalibrated model), the optimizer the plan names. Fills plan->pred. */
dml_status dml_test_plan_predict(const dml_cluster_spec *c, dml_plan *plan,
                                 const dml_costmodel_calib *cal,
                                 dml_error *err);

/* A GPT model as Megatron builds it (Korthikanti et al. 2022 setup):
 * layers, hidden width, heads (as many KV heads), a feed-forward of 4 x
 * hidden, sequence length seq, vocabulary vocab, tied embeddings; the
 * dtype and the rest as dml_model_spec_init leaves them. */
void dml_test_gpt(dml_model_spec *m, const char *name, int64_t layers,
                  int64_t hidden, int64_t heads, int64_t seq, int64_t vocab);

/* A parallel configuration of the defaults but for dp, tp, pp, the
 * interleaving v (an interleaved schedule when above 1), the micro-batch
 * size mbs (samples) and mb micro-batches a step. */
dml_parallel_config dml_test_parallel(int dp, int tp, int pp, int v,
                                      int64_t mbs, int64_t mb);

/* The cosine schedule the learning-rate tests check values of: peak 1e-3,
 * floor 1e-4, 10 warm-up steps, 100 decay steps. */
void dml_test_cosine_schedule(dml_train_schedule *s);

/* Remove the database file at path and its -wal and -shm files (those
 * that exist). */
void dml_test_remove_db(const char *path);

/* A new, empty folder /tmp/dml-test-NAME-XXXXXX; its path goes to dir
 * (size bytes: 64 hold a short name). False when it cannot be made. */
bool dml_test_tmpdir(const char *name, char *dir, size_t size);

/* Remove path and everything below it, links not followed; false when
 * something could not be removed. */
bool dml_test_rmtree(const char *path);

#endif
