/*
 * weights.h: the weight file of --init-weights / --save-weights.
 *
 * A whole MLP (never a shard), so that a run can be checked with any other
 * tool (format in executor/WEIGHTS.md): one line of JSON ending in '\n',
 *   {"schema_version":1,"kind":"dml-weights","model":"mlp-fmnist",
 *    "dtype":"float32","byte_order":"little","layers":[[784,256],...],
 *    "values":269322}
 * then "values" little-endian IEEE-754 float32 numbers: layer by layer,
 * the weight [out x in] row-major (PyTorch nn.Linear layout, y = x W^T + b)
 * then the bias [out]. layers[i] is [in, out] of linear layer i.
 */
#ifndef DML_EXECUTOR_WEIGHTS_H
#define DML_EXECUTOR_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Largest number of linear layers a weight file may describe. */
#define DML_WEIGHTS_MAX_LAYERS 65

/* An MLP's shape: widths[0] is the input, widths[layers] the output. */
typedef struct dml_mlp_shape {
    int layers;                               /* linear layers */
    int64_t widths[DML_WEIGHTS_MAX_LAYERS + 1]; /* in of layer 0, then the
                                                  out of each layer */
} dml_mlp_shape;

/* Values in the file: sum over layers of out*in + out. */
size_t dml_weights_count(const dml_mlp_shape *s);

/* Offset (in values) of layer's weight, or of its bias when bias != 0. */
size_t dml_weights_offset(const dml_mlp_shape *s, int layer, int bias);

/* Write values (dml_weights_count of them, in file order) atomically. */
dml_status dml_weights_write(const char *path, const char *model_name,
                             const dml_mlp_shape *s, const float *values,
                             dml_error *err);

/* Read a file whose layers must match s; *values (malloc'd, caller frees)
 * gets dml_weights_count values. A shape mismatch, a short or long file,
 * a bad header or a value that is NaN or infinite (named by its index,
 * tensor and byte offset) is DML_EINPUT naming the file. */
dml_status dml_weights_read(const char *path, const dml_mlp_shape *s,
                            float **values, dml_error *err);

#endif
