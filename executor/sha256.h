/*
 * sha256.h: SHA-256 (FIPS 180-4) for checkpoint checksums.
 *
 * Checkpoint manifests carry the SHA-256 of every shard, and the database
 * records the SHA-256 of the manifest, so that a resumed run can tell a
 * complete checkpoint from a corrupt or partial one.
 */
#ifndef DML_EXECUTOR_SHA256_H
#define DML_EXECUTOR_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct dml_sha256 {
    uint32_t h[8];          /* chaining state */
    uint64_t bytes;         /* message length so far, bytes */
    unsigned char buf[64];  /* partial block */
    size_t used;            /* bytes in buf */
} dml_sha256;

void dml_sha256_init(dml_sha256 *c);
void dml_sha256_update(dml_sha256 *c, const void *data, size_t len);
/* 32-byte digest into out. */
void dml_sha256_final(dml_sha256 *c, unsigned char out[32]);

/* One-shot digest as 64 lower-case hex characters and a NUL into hex. */
void dml_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
