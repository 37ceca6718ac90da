/*
 * data.h: training data for the executor: Fashion-MNIST IDX files or a
 * deterministic synthetic set, and the order in which samples are used.
 *
 * IDX (http://yann.lecun.com/exdb/mnist/, the format Fashion-MNIST reuses):
 * a big-endian header (magic 0x00000801 for a label vector, 0x00000803 for
 * an image array; then one u32 per dimension) followed by unsigned bytes.
 * Files are read through zlib, so both the .gz files of the Debian package
 * dataset-fashion-mnist and uncompressed copies work. A file whose magic,
 * dimensions or length disagree (a truncated download) is DML_EINPUT naming
 * the file and what is wrong. Pixels stay bytes in memory (a quarter of
 * the floats' size: 47 MB for the Fashion-MNIST training set) and are
 * scaled to [0, 1] as rows are copied out.
 *
 * Synthetic data: inputs uniform in [0, 1), labels the argmax of a fixed
 * random linear "teacher" of the centred inputs, so there is something to
 * learn. It depends only on the sizes and on DML_DATA_SYNTHETIC_SEED, never
 * on the run's --seed, so that runs with different seeds see the same data.
 *
 * Order (the layout-independence contract, documented in the README): the
 * training stream is position 0, 1, 2, ... ; a step that starts at position
 * p with global batch B uses positions p .. p+B-1. With shuffle off,
 * position q is sample q mod N (file order); with shuffle per epoch, it is
 * perm_e[q mod N] with e = q div N and perm_e a Fisher-Yates permutation
 * drawn from dml_rng seeded with seed + e * 0x9E3779B97F4A7C15. Within a
 * step, DP rank d takes positions [p + d B/dp, p + (d+1) B/dp) and its
 * micro-batch j the mbs of those starting at j*mbs; every layout therefore
 * sees the same samples in the same order.
 */
#ifndef DML_EXECUTOR_DATA_H
#define DML_EXECUTOR_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Seed of the synthetic data set (independent of the run's --seed). */
#define DML_DATA_SYNTHETIC_SEED 0x5EEDDA7AULL
/* Samples in the synthetic training and test sets. */
#define DML_DATA_SYNTHETIC_TRAIN 8192
#define DML_DATA_SYNTHETIC_TEST 2048

typedef struct dml_dataset {
    int64_t n;       /* samples */
    int64_t dim;     /* features per sample (784 for Fashion-MNIST) */
    int classes;     /* labels lie in [0, classes) */
    float *x;        /* [n x dim] features in [0, 1] (synthetic), or NULL */
    uint8_t *pixels; /* [n x dim] bytes, feature = byte / 255 (IDX), or NULL */
    uint8_t *y;      /* [n] labels, NULL when not loaded */
} dml_dataset;

/* File names of the IDX files of a split ("train" or "t10k") under dir;
 * the .gz name when it exists, else the uncompressed one. */
void dml_data_idx_paths(const char *dir, const char *split, char *images,
                        size_t images_size, char *labels, size_t labels_size);

/*
 * Read the images and/or labels of a split ("train" or "t10k") from dir.
 * Both files' headers are always checked against each other (same count);
 * the payload of a file is read fully (and so checked for truncation) only
 * when it is wanted. classes is the model's output width: a label outside
 * [0, classes) is DML_EINPUT.
 */
dml_status dml_data_load_idx(const char *dir, const char *split,
                             bool want_images, bool want_labels, int classes,
                             dml_dataset *out, dml_error *err);

/* Check the four files of a Fashion-MNIST directory completely (headers,
 * lengths, labels < classes, image size = input) without keeping the data:
 * what rank 0 does before any MPI work, so a bad directory is one clear
 * error line and exit 2 on every rank. */
dml_status dml_data_check_dir(const char *dir, int64_t input, int classes,
                              dml_error *err);

/* A synthetic set of n samples (see above); split 0 = train, 1 = test. */
dml_status dml_data_synthetic(int split, int64_t n, int64_t dim, int classes,
                              bool want_images, bool want_labels,
                              dml_dataset *out, dml_error *err);

void dml_dataset_free(dml_dataset *d);

/* The order of the training stream (see above). */
typedef struct dml_data_order {
    int64_t n;        /* samples in the training set */
    bool shuffle;     /* a fresh permutation per epoch */
    uint64_t seed;    /* --seed of the run */
    int64_t epoch;    /* epoch whose permutation perm holds, -1 for none */
    uint32_t *perm;   /* [n] permutation of that epoch (shuffle only) */
} dml_data_order;

dml_status dml_data_order_init(dml_data_order *o, int64_t n, bool shuffle,
                               uint64_t seed, dml_error *err);
void dml_data_order_free(dml_data_order *o);

/* Sample index used at stream position pos. */
int64_t dml_data_order_sample(dml_data_order *o, int64_t pos);

/* Features of sample i into out[dim] (the features must be loaded). */
void dml_data_features(const dml_dataset *d, int64_t i, float *out);

/* Copy rows pos .. pos+rows-1 of the stream: features into x ([rows x dim],
 * when x is not NULL and features are loaded) and labels into y (when y
 * and d->y are not NULL). */
void dml_data_gather(const dml_dataset *d, dml_data_order *o, int64_t pos,
                     int rows, float *x, uint8_t *y);

#endif
