/*
 * export.h: the chosen plan in the words of the tools people launch with:
 * Megatron-LM's pretrain_gpt.py arguments, a DeepSpeed JSON config, a
 * Slurm batch script and a torchrun line.
 *
 * Each export carries the plan's degrees, micro-batching, ZeRO stage,
 * recomputation, sequence parallelism, the model's shape and the learning-
 * rate schedule. What a tool cannot express (ZeRO-2/3 in Megatron-LM, LAMB
 * there, tensor parallelism in a DeepSpeed config) is said in a comment or
 * a "_dml" note rather than dropped silently. MLP plans run under dml-exec,
 * so for them the Slurm script launches dml-exec and Megatron-LM and
 * torchrun do not apply.
 */
#ifndef DML_PLANNER_EXPORT_H
#define DML_PLANNER_EXPORT_H

#include <stdbool.h>

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
 * The export of plan pl of planner p, malloc'd text (caller frees), ending
 * in a newline. plan_file is the --out path the Slurm script hands to
 * dml-exec (NULL: "plan.json").
 */
dml_status dml_planner_export(dml_export_kind kind, const dml_planner *p,
                              const dml_planned *pl, const char *plan_file,
                              char **text, dml_error *err);

#endif
