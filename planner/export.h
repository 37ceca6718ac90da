/*
 * export.h: the chosen plan in the words of the tools people launch with:
 * Megatron-LM's arguments (pretrain_gpt.py, or examples/bert/
 * pretrain_bert.py for an encoder) with the environment they assert, a
 * DeepSpeed JSON config (for Megatron-DeepSpeed), a Slurm batch script and
 * a torchrun line.
 *
 * Each export carries the plan's degrees, micro-batching, ZeRO stage
 * (Megatron-LM: the distributed optimizer for ZeRO-1, Megatron-FSDP for
 * ZeRO-2/3), recomputation, sequence parallelism, the model's architecture
 * (vocabulary padded as Megatron-LM pads it, RoPE base, dropout, norm,
 * activation, GQA, biases, tied embeddings, an uneven pipeline's first
 * and last stages) and the learning-rate schedule and batch ramp as the
 * plan has them. What a target cannot run is never exported:
 * dml_export_check_plan says why in one line, and dml_export_pick finds
 * the best plan of a search the target can run. MLP plans run under
 * dml-exec, so for them the Slurm script launches dml-exec and Megatron-LM
 * and torchrun do not apply. docs/frameworks.md gives the source of every
 * rule.
 */
#ifndef DML_PLANNER_EXPORT_H
#define DML_PLANNER_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "planner/planner.h"

typedef enum dml_export_kind {
    DML_EXPORT_MEGATRON = 0,
    DML_EXPORT_DEEPSPEED,
    DML_EXPORT_SLURM,
    DML_EXPORT_TORCHRUN,
    DML_EXPORT_COUNT
} dml_export_kind;

/* "megatron", "deepspeed", "slurm", "torchrun". */
const char *dml_export_name(dml_export_kind k);
bool dml_export_parse(const char *name, dml_export_kind *out);

/* DML_EUSAGE with the reason when kind does not apply to the model
 * (Megatron-LM and torchrun for an MLP); DML_OK otherwise. */
dml_status dml_export_check(dml_export_kind kind, const dml_model_spec *m,
                            dml_error *err);

/* The runtime an export is for: megatron for DML_EXPORT_MEGATRON,
 * deepspeed for DML_EXPORT_DEEPSPEED (dml-plan --export implies its
 * --framework); false for slurm and torchrun, which launch the plan's
 * own (Megatron-LM, or Megatron-DeepSpeed with --deepspeed). */
bool dml_export_framework(dml_export_kind kind, dml_framework *out);

/*
 * DML_OK when the target can run plan pl as dml planned it; else
 * DML_EUSAGE with one line naming what it cannot run (an interleaved
 * schedule or ZeRO-2/3 with a pipeline in DeepSpeed, GPipe in Megatron-LM,
 * a data-parallel strategy other than allreduce, bf16 or fp16 where the
 * target has it, an optimizer or dtype it lacks, a batch ramp in a
 * DeepSpeed config, an uneven split Megatron-LM cannot express, a plan
 * priced for the other runtime).
 */
dml_status dml_export_check_plan(dml_export_kind kind, const dml_planner *p,
                                 const dml_planned *pl, dml_error *err);

/*
 * The plan to export: want if the target runs it, else the best of p's
 * plans that it runs (*index; *fallback true, and why says why want
 * was passed over, in one line). DML_EUSAGE when none of p's plans runs
 * there, with want's reason.
 */
dml_status dml_export_pick(dml_export_kind kind, const dml_planner *p,
                           const dml_planned *want, const dml_planned **out,
                           bool *fallback, char *why, size_t why_size,
                           dml_error *err);

/* What the launch exports need beyond the plan. Every field may be NULL.
 * The Slurm values go into #SBATCH lines, which sbatch reads with rules
 * of its own: dml_export_options_check refuses characters outside their
 * formats. */
typedef struct dml_export_options {
    const char *plan_file;       /* --out path the Slurm script of an MLP
                                    hands to dml-exec (NULL: plan.json) */
    const char *code_dir;        /* --code-dir: the Megatron-LM checkout the
                                    Slurm script and torchrun line cd into
                                    (NULL: $MEGATRON_LM, else the folder
                                    sbatch ran in) */
    const char *slurm_time;      /* --slurm-time: sbatch --time (NULL: the
                                    prediction and a fifth, when known) */
    const char *slurm_partition; /* --slurm-partition (NULL: a commented
                                    placeholder) */
    const char *slurm_account;   /* --slurm-account (NULL: placeholder) */
} dml_export_options;

/* DML_EUSAGE naming the option when a Slurm value has characters sbatch
 * would misread: --slurm-time takes digits, '-' and ':' (Slurm's
 * [days-]hours:minutes:seconds forms), partition and account letters,
 * digits and . _ - , (a partition list). */
dml_status dml_export_options_check(const dml_export_options *o,
                                    dml_error *err);

/*
 * The export of plan pl of planner p, malloc'd text (caller frees), ending
 * in a newline; DML_EUSAGE (dml_export_check_plan) when the target cannot
 * run pl. o may be NULL.
 */
dml_status dml_planner_export_with(dml_export_kind kind, const dml_planner *p,
                                   const dml_planned *pl,
                                   const dml_export_options *o, char **text,
                                   dml_error *err);

/* The same with only the plan file given (NULL: "plan.json"). */
dml_status dml_planner_export(dml_export_kind kind, const dml_planner *p,
                              const dml_planned *pl, const char *plan_file,
                              char **text, dml_error *err);

#endif
