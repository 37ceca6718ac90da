/*
 * dtype.h: the numeric formats a model trains in and a device is rated for.
 *
 * One enum shared by model specs (the training dtype), cluster specs (peak
 * FLOP/s per dtype, GEMM efficiency points per dtype) and the cost model
 * (bytes per element), so that the names in files map to one table.
 */
#ifndef DML_COSTMODEL_DTYPE_H
#define DML_COSTMODEL_DTYPE_H

#include <stdbool.h>

typedef enum dml_dtype {
    DML_DTYPE_FP64 = 0,
    DML_DTYPE_FP32,
    DML_DTYPE_TF32,
    DML_DTYPE_FP16,
    DML_DTYPE_BF16,
    DML_DTYPE_FP8,
    DML_DTYPE_COUNT
} dml_dtype;

/* "fp64", "fp32", "tf32", "fp16", "bf16", "fp8"; "?" out of range. */
const char *dml_dtype_name(dml_dtype t);

/* Parse a name as above; false when unknown. */
bool dml_dtype_parse(const char *name, dml_dtype *out);

/* Bytes one element takes in memory (tf32 is stored as 4 bytes). */
double dml_dtype_bytes(dml_dtype t);

/* NULL-terminated list of the names, in enum order, for enum readers. */
extern const char *const dml_dtype_names[];

/*
 * The unit a dtype's GEMMs run on, which is what a GEMM efficiency curve
 * describes: fp16 and bf16 run on the same tensor cores at the same peak
 * (A100, H100), so one curve serves both; tf32, fp8 and the plain fp32
 * and fp64 units each have their own.
 */
typedef enum dml_precision {
    DML_PREC_FP64 = 0,
    DML_PREC_FP32,
    DML_PREC_TF32,
    DML_PREC_TENSOR16, /* fp16 and bf16 */
    DML_PREC_FP8,
    DML_PREC_COUNT
} dml_precision;

dml_precision dml_dtype_precision(dml_dtype t);

/* "fp64", "fp32", "tf32", "fp16/bf16", "fp8". */
const char *dml_precision_name(dml_precision p);

#endif
