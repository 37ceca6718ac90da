/*
 * identity.h: what determines the result of a dml-exec run, as text and
 * as its SHA-256, so that --resume takes only a checkpoint of the same
 * training.
 *
 * Checkpoints carry the identity (ckpt.h): the manifest the SHA-256 and
 * every field, each shard the SHA-256. A checkpoint whose identity is not
 * this run's is skipped with a warning that names the first field that
 * differs. The identity is one "key=value" line per field, in this order:
 *
 *   dml-exec identity 1          the version of this list
 *   model.type, model.widths     "mlp", "32,16,16,4" (input, hidden, output)
 *   model.activation, .dtype     "relu", "fp32"
 *   parallel.dp .tp .pp .zero    the layout (also checked on its own)
 *   parallel.mbs .microbatches   the micro-batch split
 *   parallel.schedule            "1f1b" or "gpipe"
 *   parallel.sync                the data-parallel strategy as the knob
 *                                writes it ("topk:0.01"), when it is not
 *                                allreduce (a text without the line, as
 *                                every one before strategies, means
 *                                allreduce)
 *   placement.stages             "0-1,2-2": each stage's layers
 *   schedule.global_batch        samples per step
 *   schedule.batch_ramp          "until:batch,..." or "none"
 *   schedule.optimizer           "adamw", then the hyper-parameters the
 *                                optimizer uses: weight_decay, and momentum
 *                                (sgd, lars) or beta1, beta2, eps (adam,
 *                                adamw, lamb)
 *   schedule.no_decay            "biases": the tensors without weight
 *                                decay or trust ratio (optim.h); written
 *                                only where that matters (weight decay,
 *                                LAMB, LARS), so the identities of other
 *                                runs are those of before (a checkpoint
 *                                written when biases decayed lacks it)
 *   schedule.peak_lr .min_lr .warmup_steps .decay .decay_steps
 *   data                         "synthetic <input>x<classes>", or
 *                                "sha256:<hex>" of the training images
 *                                file followed by the training labels
 *                                file, as they lie on disk
 *   seed, shuffle                --seed, "none" or "epoch"
 *   init_weights                 "none" or "sha256:<hex>" of the values
 *                                of --init-weights
 *
 * Integers are printed as such and doubles with the fewest of 15, 16 or
 * 17 significant digits that read back as the same double ("0.95"), so
 * the text is the same on every machine. Left out, because they do not change the
 * weights: the model's and cluster's names, the prediction, the plan's
 * database id, threads per rank, --steps, the bucket size. A field that
 * changes the result and is added to the executor later must be added here
 * with a new version.
 */
#ifndef DML_EXECUTOR_IDENTITY_H
#define DML_EXECUTOR_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"

#define DML_IDENTITY_TEXT_MAX 4096

typedef struct dml_identity {
    char text[DML_IDENTITY_TEXT_MAX]; /* "key=value\n" lines (see above) */
    char sha256[65];                  /* SHA-256 of text, lower-case hex */
} dml_identity;

/*
 * The identity of a run of plan p on data ("synthetic" or a Fashion-MNIST
 * directory, whose training files are read and hashed: about 0.4 s for
 * the 26 MB of Fashion-MNIST) with seed and shuffle, started from
 * init_weights (n values; NULL: the seeded initialisation). DML_EINPUT
 * when a data file cannot be read.
 */
dml_status dml_identity_make(const dml_plan *p, const char *data,
                             uint64_t seed, bool shuffle,
                             const float *init_weights, size_t n,
                             dml_identity *out, dml_error *err);

/*
 * The first field of text a (lines "key=value") whose value differs from
 * text b, or that one of them lacks: writes "key is A there, B here" (a
 * missing value reads "absent") into out. False when every field is the
 * same.
 */
bool dml_identity_diff(const char *a, const char *b, char *out,
                       size_t size);

/* The same, leaving out the layout's fields (parallel.dp, .tp, .pp,
 * .zero, .mbs, .microbatches, .schedule and placement.stages): false when
 * a and b are the same training on two layouts, which a checkpoint of one
 * resumes on the other (ckpt_relayout.h). */
bool dml_identity_diff_training(const char *a, const char *b, char *out,
                                size_t size);

#endif
