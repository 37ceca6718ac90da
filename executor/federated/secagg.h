/*
 * secagg.h: secure aggregation of a federated round, in the shape of
 * Bonawitz et al. 2017 ("Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning"), pure arithmetic (no MPI).
 *
 * Each client c of the round encodes its weighted update in fixed point,
 * x_c = round(w_c u_c 2^DML_SECAGG_FRAC_BITS) as a 32-bit integer (two's
 * complement), and sends y_c = x_c + sum_{d > c} PRG(s_cd) - sum_{d < c}
 * PRG(s_cd) mod 2^32 over the other clients d of the round, s_cd = s_dc a
 * seed the pair shares. Every pair's mask is added once and subtracted
 * once, so the sum of the y_c over all clients is the sum of the x_c
 * exactly (invariant 1: integer arithmetic mod 2^32 is exact; the
 * aggregate is bitwise the plaintext fixed-point sum while the true sum
 * lies within +-2^(31 - FRAC_BITS)). A client that drops out after
 * masking leaves, in the survivors' sum, the masks each survivor shares
 * with it; the survivors reveal those pair seeds (not their own inputs)
 * and the server removes the masks (dml_secagg_unmask_dropped): the sum
 * of the survivors' x_c, exactly (invariant 2).
 *
 * What the server sees: each y_c, which is uniform on 2^32 per value
 * whatever x_c is (one pair mask, uniform and unknown to the server,
 * hides it: a one-time pad), so a single client's update is not learnt;
 * the sum over the survivors, which it is meant to learn; for a dropped
 * client, the seeds it shared with the survivors, which reveal nothing of
 * its update because its y_c never counts. What it cannot see: any x_c
 * alone, or a sum over fewer than the survivors. Not modelled here: the
 * Diffie-Hellman key agreement that makes s_cd secret from the server
 * (the pair seeds are derived from the round's seed and the pair, which
 * in this simulation the server could compute), the Shamir shares that
 * let t survivors reveal a dropped client's seeds, and the self masks
 * that protect a client whose y_c arrives after it was declared dropped.
 * The arithmetic the server does and the bytes the clients send are the
 * protocol's; the secrecy of the seeds is assumed.
 */
#ifndef DML_EXECUTOR_FEDERATED_SECAGG_H
#define DML_EXECUTOR_FEDERATED_SECAGG_H

#include <stddef.h>
#include <stdint.h>

/* Fraction bits of the fixed point: resolution 2^-20 (about 1e-6), range
 * of the aggregate +-2^11. */
#define DML_SECAGG_FRAC_BITS 20
/* Bytes of one revealed pair seed. */
#define DML_SECAGG_SEED_BYTES 8

/* The seed clients a and b share in the round (symmetric in a, b). */
uint64_t dml_secagg_pair_seed(uint64_t round_seed, int a, int b);

/* x = round(weight * u * 2^FRAC_BITS) mod 2^32, each value clamped to
 * +-limit (in the encoded integers) so that a sum of that many clients
 * cannot wrap; returns the number of values clamped. */
size_t dml_secagg_encode(const float *u, size_t n, double weight,
                         int64_t limit, uint32_t *x);
/* The largest encoded magnitude each of m clients may send. */
int64_t dml_secagg_limit(int m);
/* Add client self's pair masks with each other client of clients[0..m)
 * (+ for a larger id, - for a smaller), mod 2^32. */
void dml_secagg_mask(uint32_t *y, size_t n, int self, const int *clients,
                     int m, uint64_t round_seed);
/* Remove from a survivors' sum the masks every survivor shares with each
 * dropped client (from the seeds the survivors reveal). */
void dml_secagg_unmask_dropped(uint32_t *sum, size_t n, const int *survivors,
                               int ns, const int *dropped, int nd,
                               uint64_t round_seed);
/* The signed fixed-point sum back to floats: out = sum 2^-FRAC_BITS. */
void dml_secagg_decode(const uint32_t *sum, size_t n, double *out);

/* Bytes a surviving client sends in a round of m clients of which
 * dropped drop out: its masked vector and, for each dropped client, the
 * seed it shares with it. The plaintext update is 4 n bytes. */
double dml_secagg_bytes_up(size_t n, int dropped);

#endif
