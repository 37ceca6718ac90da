/*
 * ckpt_relayout.h: resuming a checkpoint written by another layout (other
 * dp, tp, pp, ZeRO-1 sharding or micro-batch split) of the same training.
 *
 * Every shard's header carries its map (ckpt.h): its stage's layers, its
 * place in the TP group and the flat ranges whose optimizer state it
 * holds. A rank of the new layout reads every shard of the checkpoint
 * (each checked against the manifest as on the same layout: size,
 * SHA-256, header, finite values), puts each value at its place in the
 * full tensors of the model (parameters, and each optimizer state slot),
 * and takes its own shard of them: its stage and TP slice of the
 * parameters, the state of the ranges it updates (all, or its ZeRO-1
 * shard). Step and stream position come from the manifest, so the data
 * order continues from the same sample and the learning-rate schedule from
 * the same step; the global batch is in the identity, so it is the same
 * (the new layout reaches it by its own micro-batch count).
 *
 * Refused, one line each (the checkpoint is then skipped as any invalid
 * one): another training (the identity differs in a field other than the
 * layout's, named), another optimizer, seed or shuffle; a shard without
 * its map (written before maps: it resumes on its own layout); a
 * data-parallel strategy that keeps state of its own per replica
 * (top-k's residuals, PowerSGD's Q and residual, local SGD's replicas):
 * that state belongs to the replicas that made it, and no other set of
 * replicas continues it; a checkpoint that leaves a value of this rank
 * uncovered. A strategy whose state is the same on every rank of every
 * layout (sync.h's state_layout_free: SSP's clock, saved where nothing is
 * in flight) has it handed on from rank 0's shard.
 */
#ifndef DML_EXECUTOR_CKPT_RELAYOUT_H
#define DML_EXECUTOR_CKPT_RELAYOUT_H

#include <stdint.h>

#include "common/error.h"
#include "executor/ckpt_job.h"

/* True when the checkpoint old (its manifest) was written by this run's
 * layout (j->meta): then it is read shard for shard. */
bool dml_ckpt_same_layout(const dml_ckpt_meta *old, const dml_ckpt_meta *now);

/*
 * Read checkpoint step of layout old (its manifest's fields and identity
 * text) into this rank's params (st->nflat values) and the optimizer
 * state (dml_update_state_values values). Not collective: every rank reads
 * the shards itself. DML_EINPUT with the reason when it is refused.
 */
dml_status dml_ckpt_relayout_read(const dml_ckpt_job *j, int64_t step,
                                  const dml_ckpt_meta *old,
                                  const char *old_identity_text,
                                  float *params, float *state,
                                  dml_error *err);

#endif
