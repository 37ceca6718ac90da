/*
 * framework.h: the training runtimes a plan is priced for, and what each
 * can run.
 *
 * Megatron-LM and DeepSpeed execute the same parallel layout differently,
 * and the difference is time. Each runtime is described by the behaviours
 * the cost model prices and by the features the planner may propose for
 * it; docs/frameworks.md gives the source of every line. In short:
 *
 *   Megatron-LM   pipeline sends split over the TP ranks and re-gathered,
 *                 a stage's send and receive batched into one call; the
 *                 data-parallel reduction overlapped with the backward pass
 *                 (--overlap-grad-reduce); gradients accumulated in fp32
 *                 inside the weight-gradient GEMM; 1F1B, interleaved;
 *                 ZeRO-1 (distributed optimizer), ZeRO-2/3 (Megatron-FSDP).
 *   DeepSpeed     pipeline engine: activations partitioned over the TP
 *                 ranks, each send and receive a blocking call of its own;
 *                 the data-parallel reduction and optimizer step after the
 *                 pipeline flush, not overlapped; ZeRO-1 allreduces the
 *                 whole gradients before each rank updates its shard;
 *                 with bf16 every
 *                 micro-batch's gradients added into fp32 copies by a pass
 *                 of their own; 1F1B only; ZeRO-2/3 not with pipeline
 *                 parallelism. Without a pipeline, ZeRO's reduction
 *                 overlaps the backward pass (overlap_comm, as the export
 *                 writes it).
 */
#ifndef DML_COSTMODEL_FRAMEWORK_H
#define DML_COSTMODEL_FRAMEWORK_H

#include <stdbool.h>

#include "common/error.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"

#define DML_FRAMEWORK_COUNT 2

/* How a runtime moves data, for the cost model. */
typedef struct dml_framework_traits {
    bool p2p_scatter_gather; /* pipeline sends split over the TP ranks and
                                re-gathered (all-gather) on arrival */
    bool p2p_batched;        /* a stage's send and receive of one phase in
                                one call (else two blocking calls) */
    bool dp_overlap;         /* the DP reduction overlaps the last
                                backward pass (else it follows the flush) */
    double grad_accum_bytes; /* memory traffic per parameter and
                                micro-batch to accumulate gradients outside
                                the GEMMs, bytes (0: fused) */
    bool zero1_allreduce;    /* ZeRO-1 allreduces the whole gradients (each
                                rank then updates its shard) instead of
                                reduce-scattering them */
} dml_framework_traits;

/* The traits of framework f for configuration par of model m. */
void dml_framework_traits_of(dml_framework f, const dml_parallel_config *par,
                             const dml_model_spec *m,
                             dml_framework_traits *out);

/* DML_EUSAGE, with one line, when framework par->framework cannot run par
 * (interleaved schedule in DeepSpeed, ZeRO-2/3 with a DeepSpeed pipeline);
 * err->field names the knob ("schedule", "zero"). */
dml_status dml_framework_check(const dml_parallel_config *par,
                               const dml_model_spec *m, dml_error *err);

#endif
