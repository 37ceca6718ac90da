/*
 * dtype.c: names and sizes of the numeric formats (see dtype.h).
 */
#include "dtype.h"

#include <string.h>

const char *const dml_dtype_names[] = {"fp64", "fp32", "tf32", "fp16",
                                       "bf16", "fp8",  NULL};

static const double dtype_bytes[DML_DTYPE_COUNT] = {8, 4, 4, 2, 2, 1};

const char *dml_dtype_name(dml_dtype t)
{
    if ((int)t < 0 || t >= DML_DTYPE_COUNT)
        return "?";
    return dml_dtype_names[t];
}

bool dml_dtype_parse(const char *name, dml_dtype *out)
{
    for (int i = 0; i < DML_DTYPE_COUNT; i++)
        if (name && strcmp(name, dml_dtype_names[i]) == 0) {
            *out = (dml_dtype)i;
            return true;
        }
    return false;
}

dml_precision dml_dtype_precision(dml_dtype t)
{
    switch (t) {
    case DML_DTYPE_FP64: return DML_PREC_FP64;
    case DML_DTYPE_TF32: return DML_PREC_TF32;
    case DML_DTYPE_FP16:
    case DML_DTYPE_BF16: return DML_PREC_TENSOR16;
    case DML_DTYPE_FP8: return DML_PREC_FP8;
    case DML_DTYPE_FP32:
    case DML_DTYPE_COUNT: break;
    }
    return DML_PREC_FP32;
}

const char *dml_precision_name(dml_precision p)
{
    static const char *const names[DML_PREC_COUNT] = {
        "fp64", "fp32", "tf32", "fp16/bf16", "fp8"};
    return (int)p >= 0 && p < DML_PREC_COUNT ? names[p] : "?";
}

double dml_dtype_bytes(dml_dtype t)
{
    if ((int)t < 0 || t >= DML_DTYPE_COUNT)
        return 0;
    return dtype_bytes[t];
}
