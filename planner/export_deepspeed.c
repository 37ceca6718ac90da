/*
 * export_deepspeed.c: a plan as a DeepSpeed JSON config, the
 * --deepspeed_config of Megatron-DeepSpeed (which builds the model with
 * the plan's tensor and pipeline degrees: the "_dml" note says them).
 *
 * Only keys DeepSpeed reads are written (deepspeed/runtime/config.py,
 * zero/config.py, lr_schedules.py, pipe/engine.py): no "tensor_parallel"
 * (autotp_size would switch on DeepSpeed's own tensor parallelism on top
 * of Megatron-DeepSpeed's, and the batch check would count the replicas
 * wrongly), no pipeline "stages" or "partition" (the model's
 * PipelineModule sets them). The scheduler follows the plan's learning
 * rate step for step: linear warmup from 0, then cosine or linear decay
 * to the plan's floor, or the peak held when the plan has no length.
 * tests/integration/export checks each export with DeepSpeed's own
 * DeepSpeedConfig and schedulers where the package is installed.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "planner/export_internal.h"

/* DeepSpeed's "Adam" decouples the weight decay unless adam_w_mode is
 * false (runtime/engine.py, ADAM_W_MODE_DEFAULT True): the plan's adam
 * (L2 in the gradient) says so; its adamw is "AdamW". */
static json_t *optimizer_json(const dml_train_schedule *s)
{
    switch (s->optimizer) {
    case DML_OPT_ADAM:
        return json_pack("{s:s, s:{s:f, s:[f, f], s:f, s:f, s:b}}", "type",
                         "Adam", "params", "lr", s->peak_lr, "betas",
                         s->beta1, s->beta2, "eps", s->eps, "weight_decay",
                         s->weight_decay, "adam_w_mode", 0);
    case DML_OPT_ADAMW:
    case DML_OPT_LAMB:
        return json_pack("{s:s, s:{s:f, s:[f, f], s:f, s:f}}", "type",
                         s->optimizer == DML_OPT_LAMB ? "Lamb" : "AdamW",
                         "params", "lr", s->peak_lr, "betas", s->beta1,
                         s->beta2, "eps", s->eps, "weight_decay",
                         s->weight_decay);
    default:
        return json_pack("{s:s, s:{s:f, s:f, s:f}}", "type", "SGD", "params",
                         "lr", s->peak_lr, "momentum", s->momentum,
                         "weight_decay", s->weight_decay);
    }
}

/*
 * DeepSpeed's schedulers take warmup_num_steps >= 1 (0 raises; they use
 * at least 2) and warm up logarithmically unless told "linear". Without
 * warmup or decay no scheduler is the plan's constant rate. WarmupDecayLR
 * decays to its warmup's start, 0: its line, made longer by peak/(peak -
 * min), passes through the plan's floor at the plan's last step, with the
 * plan's slope.
 */
static json_t *scheduler_json(const dml_train_schedule *s, bool *none)
{
    *none = false;
    bool constant = s->decay == DML_DECAY_CONSTANT || s->decay_steps <= 0;
    int64_t warm = s->warmup_steps > 0 ? s->warmup_steps : 1;
    /* no warmup: the "warmup" starts at the peak */
    double warm_from = s->warmup_steps > 0 ? 0.0 : 1.0;
    if (constant && s->warmup_steps == 0) {
        *none = true;
        return NULL;
    }
    if (constant)
        return json_pack("{s:s, s:{s:f, s:f, s:I, s:s}}", "type", "WarmupLR",
                         "params", "warmup_min_lr", warm_from * s->peak_lr,
                         "warmup_max_lr", s->peak_lr, "warmup_num_steps",
                         (json_int_t)warm, "warmup_type", "linear");
    int64_t total = s->warmup_steps + s->decay_steps;
    double floor_ratio = s->peak_lr > 0 ? s->min_lr / s->peak_lr : 0.0;
    if (s->decay == DML_DECAY_LINEAR) {
        double stretch = floor_ratio < 1 ? 1.0 / (1.0 - floor_ratio) : 1.0;
        int64_t to_zero =
            s->warmup_steps + (int64_t)llround((double)s->decay_steps *
                                               stretch);
        return json_pack("{s:s, s:{s:I, s:f, s:f, s:I, s:s}}", "type",
                         "WarmupDecayLR", "params", "total_num_steps",
                         (json_int_t)to_zero, "warmup_min_lr",
                         warm_from * s->peak_lr, "warmup_max_lr",
                         s->peak_lr, "warmup_num_steps", (json_int_t)warm,
                         "warmup_type", "linear");
    }
    return json_pack("{s:s, s:{s:I, s:I, s:f, s:f, s:s}}", "type",
                     "WarmupCosineLR", "params", "total_num_steps",
                     (json_int_t)total, "warmup_num_steps", (json_int_t)warm,
                     "warmup_min_ratio", warm_from, "cos_min_ratio",
                     floor_ratio, "warmup_type", "linear");
}

/* The "_dml" note: what the JSON cannot say and where it goes. */
static json_t *note_json(const dml_planner *p, const dml_planned *pl)
{
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_model_spec *m = &p->model;
    char cfg[256], note[1024], name[DML_EXPORT_TEXT_MAX], sync[64];
    size_t n = (size_t)snprintf(
        note, sizeof note,
        "dml-plan: %s on %lld devices (%s); tensor and pipeline degrees are "
        "set where the model is built (Megatron-DeepSpeed: "
        "--tensor-model-parallel-size %d --pipeline-model-parallel-size %d)",
        dml__export_text(m->name, name), (long long)pl->plan.devices,
        dml__export_config_line(p, pl, cfg, sizeof cfg), c->tp, c->pp);
    if (n < sizeof note &&
        (s->decay_steps <= 0 || s->decay == DML_DECAY_CONSTANT))
        n += (size_t)snprintf(note + n, sizeof note - n,
                              "; the learning rate stays at its peak after "
                              "warmup: the plan has no training length "
                              "(dml-plan --tokens T)");
    if (n < sizeof note && c->sync.kind != DML_SYNC_ALLREDUCE)
        n += (size_t)snprintf(
            note + n, sizeof note - n,
            "; sync=%s is communication_data_type: 16 bits on the wire as "
            "priced, summed in 16 bits by NCCL where dml-exec sums in fp32",
            dml_sync_spec_format(&c->sync, sync, sizeof sync));
    json_t *dml = json_pack("{s:i, s:i, s:i, s:i, s:b, s:s, s:s, s:s, s:s}",
                            "dp", c->dp, "tp", c->tp, "pp", c->pp, "v", c->v,
                            "sp", (int)c->sp, "recompute",
                            dml_recompute_name(c->recompute), "sync",
                            dml_sync_spec_format(&c->sync, sync, sizeof sync),
                            "framework", dml_framework_name(c->framework),
                            "note", note);
    if (dml && m->type == DML_MODEL_TRANSFORMER)
        json_object_set_new(dml, "attention",
                            json_string(dml_attention_name(c->attention)));
    if (dml && pl->plan.db_plan_id > 0)
        json_object_set_new(dml, "db_plan_id",
                            json_integer((json_int_t)pl->plan.db_plan_id));
    return dml;
}

dml_status dml__export_deepspeed(FILE *f, const dml_planner *p,
                                 const dml_planned *pl, dml_error *err)
{
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_model_spec *m = &p->model;
    /* DeepSpeed's identity, checked by DeepSpeedConfig._batch_assertion
     * with the data-parallel size Megatron-DeepSpeed's mpu gives it:
     * train_batch_size = micro-batch x accumulation x dp. */
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:f, s:i, s:b, s:{s:i, s:b, s:b}, s:o}",
        "train_batch_size", (json_int_t)s->global_batch,
        "train_micro_batch_size_per_gpu", (json_int_t)c->mbs,
        "gradient_accumulation_steps", (json_int_t)c->microbatches,
        "gradient_clipping", 1.0, "steps_per_print", 10,
        "wall_clock_breakdown", 0, "zero_optimization", "stage", c->zero,
        "overlap_comm", 1, "contiguous_gradients", 1, "optimizer",
        optimizer_json(s));
    if (!j)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    bool none = false;
    json_t *sch = scheduler_json(s, &none);
    if (sch)
        json_object_set_new(j, "scheduler", sch);
    else if (!none) {
        json_decref(j);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    if (m->dtype == DML_DTYPE_BF16)
        json_object_set_new(j, "bf16", json_pack("{s:b}", "enabled", 1));
    else if (m->dtype == DML_DTYPE_FP16)
        json_object_set_new(j, "fp16",
                            json_pack("{s:b, s:i, s:i}", "enabled", 1,
                                      "loss_scale", 0, "initial_scale_power",
                                      16));
    if (c->sync.kind == DML_SYNC_BF16 || c->sync.kind == DML_SYNC_FP16)
        json_object_set_new(j, "communication_data_type",
                            json_string(c->sync.kind == DML_SYNC_BF16
                                            ? "bf16"
                                            : "fp16"));
    /* The pipeline engine reads activation_checkpoint_interval (it sets
     * the PipelineModule's); every layer is recomputed under full
     * recomputation. */
    if (c->pp > 1 && c->recompute == DML_RECOMPUTE_FULL)
        json_object_set_new(j, "pipeline",
                            json_pack("{s:i}",
                                      "activation_checkpoint_interval", 1));
    if (c->recompute != DML_RECOMPUTE_NONE)
        json_object_set_new(
            j, "activation_checkpointing",
            json_pack("{s:b, s:b, s:b}", "partition_activations",
                      (int)(c->tp > 1), "contiguous_memory_optimization", 0,
                      "cpu_checkpointing", 0));
    json_object_set_new(j, "_dml", note_json(p, pl));
    int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                  JSON_REAL_PRECISION(10));
    json_decref(j);
    if (rc)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    fputc('\n', f);
    return DML_OK;
}
