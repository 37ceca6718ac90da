/*
 * framework.c: the runtimes' behaviours and features (see framework.h and
 * docs/frameworks.md for the sources).
 */
#include "costmodel/framework.h"

void dml_framework_traits_of(dml_framework f, const dml_parallel_config *par,
                             const dml_model_spec *m,
                             dml_framework_traits *out)
{
    if (f == DML_FRAMEWORK_DEEPSPEED) {
        bool pipe = par->pp > 1;
        /* PipelineEngine: pipe_partitioned (default true) partitions the
         * outputs over the slice-parallel (TP) group; p2p.send/recv are
         * blocking and issued one by one. */
        out->p2p_scatter_gather = true;
        out->p2p_batched = false;
        /* _exec_reduce_grads runs after the last backward of the flush;
         * without a pipeline the engine's ZeRO hooks reduce during the
         * backward when overlap_comm is on. */
        out->dp_overlap = !pipe;
        /* BF16_Optimizer in the pipeline engine: clear_lp_grads before
         * each backward (2 bytes written), update_hp_grads after it,
         * hp.add_(lp.grad.to(fp32)): the bf16 gradient read and an fp32
         * copy of it written (2 + 4), then the copy and the fp32 gradient
         * read and the sum written (4 + 4 + 4): 20 bytes a parameter. */
        out->grad_accum_bytes =
            pipe && m->dtype == DML_DTYPE_BF16 ? 20.0 : 0.0;
        /* _bf16_reduce_grads -> buffered_allreduce_fallback, and ZeRO-1's
         * reduce_gradients without partition_gradients: allreduce of the
         * whole (fp32) gradients; the updated shards are all-gathered */
        out->zero1_allreduce = true;
        return;
    }
    out->p2p_scatter_gather = true;
    out->p2p_batched = true;
    out->dp_overlap = true;
    out->grad_accum_bytes = 0;
    out->zero1_allreduce = false;
}

dml_status dml_framework_check(const dml_parallel_config *par,
                               const dml_model_spec *m, dml_error *err)
{
    (void)m;
    if (par->framework != DML_FRAMEWORK_DEEPSPEED)
        return DML_OK;
    if (par->schedule == DML_PP_INTERLEAVED)
        return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "schedule",
                             "DeepSpeed's pipeline engine has no interleaved "
                             "schedule (its TrainSchedule is 1F1B); use "
                             "--framework megatron or schedule=1f1b");
    if (par->schedule == DML_PP_GPIPE)
        return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "schedule",
                             "DeepSpeed's pipeline engine runs 1F1B only");
    if (par->pp > 1 && par->zero >= 2)
        return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "zero",
                             "DeepSpeed runs ZeRO-%d only without pipeline "
                             "parallelism (its pipeline engine takes ZeRO-0 "
                             "or 1)",
                             par->zero);
    return DML_OK;
}
