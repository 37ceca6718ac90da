/*
 * export_internal.h: what the export writers share (export.c,
 * export_megatron.c, export_deepspeed.c, export_launch.c); not part of
 * the planner's public interface.
 *
 * What the exports print is run by a shell, so nothing from outside dml
 * goes into them raw: a value in a command is one word from
 * dml_quote_shell (dml__export_word), a value in a comment is text from
 * dml_quote_terminal (dml__export_text), which cannot end the comment's
 * line. Numbers and dml's own keywords are the only other things printed.
 */
#ifndef DML_PLANNER_EXPORT_INTERNAL_H
#define DML_PLANNER_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "planner/export.h"
#include "planner/planner.h"

/* s for a comment or a JSON note: on one line, no control characters.
 * buf of DML_EXPORT_TEXT_MAX bytes. */
#define DML_EXPORT_TEXT_MAX 256
const char *dml__export_text(const char *s, char *buf);

/* s as one shell word on f; false when out of memory. */
bool dml__export_word(FILE *f, const char *s);

/* The configuration in --config syntax, and the runtime when it is not
 * Megatron-LM. */
char *dml__export_config_line(const dml_planner *p, const dml_planned *pl,
                              char *buf, size_t size);

/* Devices (ranks) the plan puts on each node. */
int dml__export_per_node(const dml_planner *p, const dml_planned *pl);

/* Samples the plan consumes in its first `steps` steps, following its
 * batch ramp (the frameworks count warmup, decay and length in samples
 * when the batch changes). */
double dml__export_samples_until(const dml_train_schedule *s, double steps);

/* Megatron-LM's padded vocabulary: the model's vocabulary rounded up to a
 * multiple of 128 x tp, as its tokenizer setup pads it
 * (megatron/core/tokenizers/utils/build_tokenizer.py,
 * vocab_size_with_padding, --make-vocab-size-divisible-by 128). */
int64_t dml__export_padded_vocab(int64_t vocab, int tp);

/* Megatron-LM's training script for the model, relative to a checkout:
 * pretrain_gpt.py for a decoder, examples/bert/pretrain_bert.py for an
 * encoder (causal false). */
const char *dml__export_megatron_script(const dml_model_spec *m);

/* How Megatron-LM can place the layers of an uneven pipeline: its
 * --decoder-first/last-pipeline-num-layers give the first and last
 * stages their own counts and split the rest evenly. */
typedef struct dml__export_split {
    bool uneven;        /* layers % pp != 0: first/last are given */
    bool account;       /* interleaved with the embedding and the loss
                           counted as a layer each (DML_SPLIT_EMBED_LOSS):
                           --account-for-embedding/loss-in-pipeline-split
                           and --num-virtual-stages-per-pipeline-rank */
    int64_t first;      /* layers of the first stage */
    int64_t middle;     /* layers of each of the pp - 2 others */
    int64_t last;       /* layers of the last stage */
} dml__export_split;

/* A split of the plan's layers over its pp stages that Megatron-LM can
 * express and whose fullest stage holds no more layers than the plan's
 * (the pipeline runs at the pace of that stage); an interleaved plan's
 * chunks as dml_plan_chunk_layers makes them; false when none exists. */
bool dml__export_megatron_split(const dml_model_spec *m,
                                const dml_parallel_config *c,
                                dml__export_split *out);

/* The export writers; f an open memory stream. */
dml_status dml__export_megatron(FILE *f, const dml_planner *p,
                                const dml_planned *pl,
                                const dml_export_options *o, dml_error *err);
dml_status dml__export_deepspeed(FILE *f, const dml_planner *p,
                                 const dml_planned *pl, dml_error *err);
dml_status dml__export_slurm(FILE *f, const dml_planner *p,
                             const dml_planned *pl,
                             const dml_export_options *o, dml_error *err);
dml_status dml__export_torchrun(FILE *f, const dml_planner *p,
                                const dml_planned *pl,
                                const dml_export_options *o, dml_error *err);

/* The environment and the MEGATRON_ARGS=( ... ) array of a Megatron-LM
 * launch (export_megatron.c), shared by the Slurm script. */
dml_status dml__export_megatron_env(FILE *f, const dml_planned *pl);
dml_status dml__export_megatron_args(FILE *f, const dml_planner *p,
                                     const dml_planned *pl, dml_error *err);

#endif
