/*
 * ckpt.h: checkpoint files: one shard per rank plus a manifest.
 *
 * Layout under the checkpoint directory ROOT:
 *   ROOT/step-00000010/rank-00000.bin   one per rank
 *   ROOT/step-00000010/manifest.json    written last, by rank 0
 * A shard is one JSON header line (schema_version, kind
 * "dml-checkpoint-shard", step, rank, layout, optimizer, seed, shuffle,
 * samples_seen, identity, params, state) followed by the rank's parameters
 * and its optimizer state as float32 in host byte order. The manifest
 * lists every shard with its size and SHA-256, and the run's identity
 * (identity.h) as its SHA-256 and its text, so that a checkpoint of
 * another plan, other data or another starting point is refused naming
 * the field that differs. A checkpoint written before the identity existed
 * (no "identity" field) is refused too: which plan it belongs to cannot be
 * told. Every file is written atomically
 * (common/file.h), and the manifest only after all shards are on disk, so a
 * checkpoint is complete exactly when its manifest exists and every shard
 * matches it; anything else is reported and skipped on resume.
 *
 * The shard holds everything a bitwise-identical continuation needs: the
 * parameters, the optimizer state (moments, momentum, or this rank's ZeRO-1
 * shard of them), the step count, and the position in the training stream.
 * The only randomness during training is the shuffle permutation, a pure
 * function of (seed, epoch), so seed and stream position are its state.
 *
 * A shard's header also carries its map (dml_ckpt_map): the layers of its
 * pipeline stage, its place in the TP group, and the ranges of the flat
 * parameter buffer whose optimizer state it holds (all of them, or its
 * ZeRO-1 shard). With the model that is enough to put every value of the
 * shard at its place in the full tensors, so a run of any layout can read
 * a checkpoint of any other (ckpt_relayout.h).
 */
#ifndef DML_EXECUTOR_CKPT_H
#define DML_EXECUTOR_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Range [lo, hi) of a shard's flat parameters whose optimizer state the
 * shard holds, from state_off on in each state slot. */
typedef struct dml_ckpt_range {
    uint64_t lo, hi;       /* offsets in the flat parameter buffer, values */
    uint64_t state_off;    /* offset of lo's state in a slot, values */
} dml_ckpt_range;

/* Where a shard's values lie in the model (see above). */
typedef struct dml_ckpt_map {
    int first_layer, last_layer; /* the stage's model layers, inclusive */
    int tp_index;          /* place in the TP group (of meta.tp) */
    int state_slots;       /* optimizer state values per owned parameter */
    int nowned;            /* ranges owned */
    dml_ckpt_range *owned; /* [nowned]; read: malloc'd (dml_ckpt_map_free) */
    uint64_t owned_values; /* sum of hi - lo: the values of one slot */
    uint64_t sync_values;  /* the exchange's own state, after the
                              state_slots x owned_values of the optimizer */
} dml_ckpt_map;

void dml_ckpt_map_free(dml_ckpt_map *m);

typedef struct dml_ckpt_meta {
    int64_t step;          /* optimizer steps completed */
    int world;             /* MPI ranks = dp * tp * pp */
    int dp, tp, pp;        /* layout it was written by */
    int zero;              /* ZeRO stage (0 or 1) */
    char optimizer[16];    /* "adamw", ... */
    uint64_t seed;         /* --seed of the run */
    bool shuffle;          /* --shuffle epoch */
    int64_t samples_seen;  /* training-stream position after step */
    char identity[65];     /* SHA-256 (hex) of the run's identity */
    const char *identity_text; /* its text (identity.h; borrowed), written
                                  into the manifest and used to name what
                                  differs; may be NULL */
    const dml_ckpt_map *map;   /* written into a shard's header (borrowed);
                                  NULL: none */
} dml_ckpt_meta;

/* ROOT/step-%08lld into out. */
void dml_ckpt_dir(const char *root, int64_t step, char *out, size_t size);

/* Create ROOT and its step directory (existing ones are fine) and remove a
 * stale manifest there, so that shards being rewritten are never paired
 * with an old manifest, and the temporary files a killed writer left.
 * Rank 0 calls it before the shards are written. */
dml_status dml_ckpt_prepare(const char *root, int64_t step, dml_error *err);

/* Write this rank's shard atomically, streamed (no copy of the state is
 * made); sha (65 chars) and bytes get its SHA-256 and size for the
 * manifest. A full disk or a file size limit is DML_EIO with the
 * system's reason, the temporary file removed. Test hook: see
 * DML_TEST_CKPT_STALL in executor/README.md. */
dml_status dml_ckpt_write_shard(const char *root, const dml_ckpt_meta *m,
                                int rank, const float *params, size_t nparams,
                                const float *state, size_t nstate,
                                char sha[65], uint64_t *bytes, dml_error *err);

/* Write the manifest (rank 0, after every shard): sha[r] and bytes[r] of
 * each of m->world shards. manifest_sha gets the manifest's own SHA-256,
 * total the bytes of the whole checkpoint. */
dml_status dml_ckpt_write_manifest(const char *root, const dml_ckpt_meta *m,
                                   const char (*sha)[65],
                                   const uint64_t *bytes,
                                   char manifest_sha[65], uint64_t *total,
                                   dml_error *err);

/* ROOT/stop-at-checkpoint: while this file exists, a run checkpointing
 * under ROOT stops right after its next scheduled checkpoint is written
 * (all ranks at that step boundary; dml-exec exits 75, the run recorded
 * interrupted) and removes it. dml-run writes it to re-plan for hosts
 * that returned (elastic/supervise.h). */
void dml_ckpt_stop_path(const char *root, char *out, size_t size);

/* dml-exec's exit status then: sysexits' EX_TEMPFAIL, resume it. */
#define DML_CKPT_STOP_EXIT 75

/* Whether ROOT/stop-at-checkpoint exists. */
bool dml_ckpt_stop_requested(const char *root);

/* Steps of the step-* directories under root, newest first (a missing root
 * gives none). *steps is malloc'd. */
dml_status dml_ckpt_list(const char *root, int64_t **steps, size_t *n,
                         dml_error *err);

/*
 * Read and verify this rank's shard of checkpoint step: the manifest must
 * exist and match expect's layout, optimizer, seed, shuffle and identity;
 * the shard must have the manifest's size and SHA-256, exactly nparams +
 * nstate values, and every one of them finite. Fills params, state and
 * *got (got->identity_text is NULL); on failure params and state may hold
 * anything. Any failure is DML_EINPUT with the reason (the caller reports
 * it and tries an older checkpoint).
 */
dml_status dml_ckpt_read_shard(const char *root, int64_t step, int rank,
                               const dml_ckpt_meta *expect, float *params,
                               size_t nparams, float *state, size_t nstate,
                               dml_ckpt_meta *got, dml_error *err);

/*
 * The manifest of checkpoint step, whatever its layout: *got its fields
 * and *identity_text (malloc'd) the identity's text, whose SHA-256 must be
 * the identity it names. DML_EINPUT with the reason otherwise (a missing
 * manifest: "the checkpoint is partial").
 */
dml_status dml_ckpt_read_manifest(const char *root, int64_t step,
                                  dml_ckpt_meta *got, char **identity_text,
                                  dml_error *err);

/*
 * Shard `rank` of checkpoint step written by a layout other than this
 * run's: checked as dml_ckpt_read_shard checks a shard against expect
 * (whose layout and identity are the checkpoint's own, from its
 * manifest), its value counts taken from its header, which must carry its
 * map (a shard written before maps existed is refused: it can only be
 * resumed on its own layout). *params, *state and map->owned malloc'd.
 */
dml_status dml_ckpt_read_shard_any(const char *root, int64_t step, int rank,
                                   const dml_ckpt_meta *expect,
                                   float **params, size_t *nparams,
                                   float **state, size_t *nstate,
                                   dml_ckpt_map *map, dml_error *err);

#endif
