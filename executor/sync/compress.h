/*
 * compress.h: the arithmetic of the compressed gradient exchanges, apart
 * from their communication, so that unit tests can pin it down: the
 * 16-bit formats of half.c, the top-k selection of topk.c and the
 * orthogonalisation of powersgd.c. Each is defined in its strategy's
 * file; all are deterministic (the same input gives the same bits on
 * every rank and machine), which the strategies rely on.
 */
#ifndef DML_EXECUTOR_SYNC_COMPRESS_H
#define DML_EXECUTOR_SYNC_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* IEEE 754 binary16 (fp16: 5 exponent bits, 10 mantissa bits) from fp32,
 * rounded to nearest, ties to even: above 65504 (from 65520 on) it is
 * infinity, below 2^-14 a subnormal (steps of 2^-24), NaN stays NaN. */
uint16_t dml_fp16_from_f32(float x);
float dml_fp16_to_f32(uint16_t h);

/* bfloat16 (fp32's 8 exponent bits, 7 mantissa bits) from fp32: the top
 * 16 bits rounded to nearest, ties to even; fp32's range, NaN stays NaN
 * (quiet). */
uint16_t dml_bf16_from_f32(float x);
float dml_bf16_to_f32(uint16_t h);

/* The k entries of v[0..n) of largest |v[i]|, NaN counted as the largest
 * (so that the guard sees it after the exchange), ties broken by the
 * lower index: their indices in increasing order into idx[0..k). keys:
 * scratch of n floats. 0 < k <= n. The set is the first k of one total
 * order, so it does not depend on how it is found. */
void dml_topk_select(const float *v, size_t n, size_t k, float *keys,
                     uint64_t *idx);

/* Columns of the rows x cols row-major matrix p made orthonormal in
 * place, from the first (modified Gram-Schmidt in double, twice, as
 * reorthogonalisation needs); a column that is (numerically) in the span
 * of the ones before it becomes zero. work: rows doubles. */
void dml_orthonormalise(float *p, int rows, int cols, double *work);

#endif
