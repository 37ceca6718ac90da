/*
 * data.c: IDX reading through zlib, synthetic data, the sample order.
 */
#include "executor/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/file.h"
#include "common/rng.h"

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
/* Refuse absurd headers before allocating: Fashion-MNIST has 60000 x 784. */
#define IDX_MAX_BYTES (1ull << 32)

void dml_data_idx_paths(const char *dir, const char *split, char *images,
                        size_t images_size, char *labels, size_t labels_size)
{
    snprintf(images, images_size, "%s/%s-images-idx3-ubyte.gz", dir, split);
    if (!dml_file_exists(images))
        snprintf(images, images_size, "%s/%s-images-idx3-ubyte", dir, split);
    snprintf(labels, labels_size, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    if (!dml_file_exists(labels))
        snprintf(labels, labels_size, "%s/%s-labels-idx1-ubyte", dir, split);
}

/* An open IDX file with its header read. */
typedef struct idx_file {
    gzFile gz;
    const char *path;
    uint32_t magic;
    uint32_t dims[3];
    int ndims;
    uint64_t payload; /* bytes after the header */
} idx_file;

static dml_status idx_read_exact(idx_file *f, void *buf, size_t len,
                                 const char *what, dml_error *err)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        size_t chunk = len - got > (1u << 30) ? (1u << 30) : len - got;
        int n = gzread(f->gz, p + got, (unsigned)chunk);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < len)
        return dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                             "truncated IDX file: %s needs %zu bytes, found "
                             "%zu", what, len, got);
    return DML_OK;
}

static dml_status idx_open(const char *path, uint32_t want_magic, idx_file *f,
                           dml_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    if (!dml_file_exists(path))
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "no such file (install dataset-fashion-mnist "
                             "or pass --data synthetic)");
    /* Opened by common/file, which refuses a FIFO before it can hang
     * gzopen; zlib then reads the checked descriptor (and closes it). */
    int fd;
    DML_CHECK(dml_file_open_regular(path, &fd, err));
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot open");
    }
    gzbuffer(f->gz, 1u << 17);
    unsigned char hdr[4];
    dml_status s = idx_read_exact(f, hdr, 4, "the header", err);
    if (s != DML_OK)
        return s;
    f->magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
               (uint32_t)hdr[2] << 8 | hdr[3];
    if (f->magic != want_magic)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "not an IDX %s file: magic 0x%08x, expected "
                             "0x%08x",
                             want_magic == IDX_MAGIC_IMAGES ? "image" : "label",
                             f->magic, want_magic);
    f->ndims = (int)(f->magic & 0xff);
    f->payload = 1;
    for (int i = 0; i < f->ndims; i++) {
        s = idx_read_exact(f, hdr, 4, "the header", err);
        if (s != DML_OK)
            return s;
        f->dims[i] = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                     (uint32_t)hdr[2] << 8 | hdr[3];
        if (f->dims[i] == 0)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "dimension %d of the IDX header is 0", i);
        f->payload *= f->dims[i];
        if (f->payload > IDX_MAX_BYTES)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "IDX header announces more than %llu bytes",
                                 (unsigned long long)IDX_MAX_BYTES);
    }
    return DML_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

/* Read the payload into buf (or into a scratch buffer that is dropped when
 * buf is NULL) and check that the file ends exactly there. */
static dml_status idx_read_payload(idx_file *f, unsigned char *buf,
                                   dml_error *err)
{
    dml_status s = DML_OK;
    if (buf) {
        s = idx_read_exact(f, buf, f->payload, "the data", err);
    } else {
        enum { CHUNK = 1 << 16 };
        unsigned char *tmp = malloc(CHUNK);
        if (!tmp)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        uint64_t left = f->payload;
        while (left > 0 && s == DML_OK) {
            size_t n = left > CHUNK ? CHUNK : (size_t)left;
            int got = gzread(f->gz, tmp, (unsigned)n);
            if (got < (int)n) {
                s = dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                                  "truncated IDX file: the data needs %llu "
                                  "bytes, found %llu",
                                  (unsigned long long)f->payload,
                                  (unsigned long long)(f->payload - left +
                                                       (got > 0 ? got : 0)));
                break;
            }
            left -= n;
        }
        free(tmp);
    }
    if (s != DML_OK)
        return s;
    unsigned char extra;
    if (gzread(f->gz, &extra, 1) > 0)
        return dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                             "IDX file is longer than its header says "
                             "(%llu data bytes)",
                             (unsigned long long)f->payload);
    int zerr = 0;
    const char *zmsg = gzerror(f->gz, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END)
        return dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                             "corrupt gzip stream: %s", zmsg);
    return DML_OK;
}

/* Open both files of a split and check the headers against each other. */
static dml_status open_split(const char *dir, const char *split, idx_file *im,
                             idx_file *lb, char *ipath, size_t isz,
                             char *lpath, size_t lsz, dml_error *err)
{
    memset(im, 0, sizeof *im);
    memset(lb, 0, sizeof *lb);
    dml_data_idx_paths(dir, split, ipath, isz, lpath, lsz);
    DML_CHECK(idx_open(ipath, IDX_MAGIC_IMAGES, im, err));
    DML_CHECK(idx_open(lpath, IDX_MAGIC_LABELS, lb, err));
    if (im->dims[0] != lb->dims[0])
        return dml_error_set(err, DML_EINPUT, lpath, 0, 0, NULL,
                             "%u labels for %u images in %s", lb->dims[0],
                             im->dims[0], ipath);
    return DML_OK;
}

static dml_status check_labels(const uint8_t *y, int64_t n, int classes,
                               const char *path, dml_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (y[i] >= classes)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "label %u of sample %lld is not below the "
                                 "model's %d outputs",
                                 y[i], (long long)i, classes);
    return DML_OK;
}

dml_status dml_data_load_idx(const char *dir, const char *split,
                             bool want_images, bool want_labels, int classes,
                             dml_dataset *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    char ipath[1024], lpath[1024];
    idx_file im, lb;
    dml_status s = open_split(dir, split, &im, &lb, ipath, sizeof ipath, lpath,
                              sizeof lpath, err);
    if (s != DML_OK)
        goto done;
    out->n = im.dims[0];
    out->dim = (int64_t)im.dims[1] * im.dims[2];
    out->classes = classes;
    if (want_images) {
        out->pixels = malloc(im.payload);
        if (!out->pixels) {
            s = dml_error_msg(err, DML_ENOMEM, "out of memory for %s", ipath);
            goto done;
        }
        s = idx_read_payload(&im, out->pixels, err);
        if (s != DML_OK)
            goto done;
    }
    if (want_labels) {
        out->y = malloc(lb.payload);
        if (!out->y) {
            s = dml_error_msg(err, DML_ENOMEM, "out of memory for %s", lpath);
            goto done;
        }
        s = idx_read_payload(&lb, out->y, err);
        if (s == DML_OK)
            s = check_labels(out->y, out->n, classes, lpath, err);
    }
done:
    idx_close(&im);
    idx_close(&lb);
    if (s != DML_OK)
        dml_dataset_free(out);
    return s;
}

dml_status dml_data_check_dir(const char *dir, int64_t input, int classes,
                              dml_error *err)
{
    static const char *const splits[] = {"train", "t10k"};
    for (int k = 0; k < 2; k++) {
        char ipath[1024], lpath[1024];
        idx_file im, lb;
        uint8_t *y = NULL;
        dml_status s = open_split(dir, splits[k], &im, &lb, ipath,
                                  sizeof ipath, lpath, sizeof lpath, err);
        if (s == DML_OK && (int64_t)im.dims[1] * im.dims[2] != input)
            s = dml_error_set(err, DML_EINPUT, ipath, 0, 0, NULL,
                              "images are %ux%u = %lld values, the model's "
                              "input is %lld",
                              im.dims[1], im.dims[2],
                              (long long)im.dims[1] * im.dims[2],
                              (long long)input);
        if (s == DML_OK)
            s = idx_read_payload(&im, NULL, err);
        if (s == DML_OK) {
            y = malloc(lb.payload);
            if (!y)
                s = dml_error_msg(err, DML_ENOMEM, "out of memory");
        }
        if (s == DML_OK)
            s = idx_read_payload(&lb, y, err);
        if (s == DML_OK)
            s = check_labels(y, lb.dims[0], classes, lpath, err);
        free(y);
        idx_close(&im);
        idx_close(&lb);
        if (s != DML_OK)
            return s;
    }
    return DML_OK;
}

dml_status dml_data_synthetic(int split, int64_t n, int64_t dim, int classes,
                              bool want_images, bool want_labels,
                              dml_dataset *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->dim = dim;
    out->classes = classes;
    float *teacher = malloc((size_t)classes * dim * sizeof(float));
    float *x = malloc((size_t)n * dim * sizeof(float));
    uint8_t *y = want_labels ? malloc((size_t)n) : NULL;
    if (!teacher || !x || (want_labels && !y)) {
        free(teacher);
        free(x);
        free(y);
        return dml_error_msg(err, DML_ENOMEM, "out of memory for %lld "
                             "synthetic samples", (long long)n);
    }
    /* The teacher is the same for both splits; the inputs differ. */
    dml_rng r;
    dml_rng_seed(&r, DML_DATA_SYNTHETIC_SEED);
    for (int64_t i = 0; i < (int64_t)classes * dim; i++)
        teacher[i] = (float)dml_rng_normal(&r);
    dml_rng_seed(&r, DML_DATA_SYNTHETIC_SEED + 1 + (uint64_t)split);
    for (int64_t i = 0; i < n * dim; i++)
        x[i] = (float)dml_rng_uniform(&r);
    if (y) {
        for (int64_t i = 0; i < n; i++) {
            const float *xi = x + i * dim;
            int best = 0;
            double best_v = 0.0;
            for (int c = 0; c < classes; c++) {
                const float *t = teacher + (int64_t)c * dim;
                double v = 0.0;
                for (int64_t j = 0; j < dim; j++)
                    v += (double)t[j] * ((double)xi[j] - 0.5);
                if (c == 0 || v > best_v) {
                    best = c;
                    best_v = v;
                }
            }
            y[i] = (uint8_t)best;
        }
    }
    free(teacher);
    if (want_images) {
        out->x = x;
    } else {
        free(x);
    }
    out->y = y;
    return DML_OK;
}

void dml_dataset_free(dml_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->pixels);
    free(d->y);
    d->x = NULL;
    d->pixels = NULL;
    d->y = NULL;
}

dml_status dml_data_order_init(dml_data_order *o, int64_t n, bool shuffle,
                               uint64_t seed, dml_error *err)
{
    memset(o, 0, sizeof *o);
    if (n <= 0 || n > UINT32_MAX)
        return dml_error_msg(err, DML_EINPUT, "training set of %lld samples "
                             "is empty or too large", (long long)n);
    o->n = n;
    o->shuffle = shuffle;
    o->seed = seed;
    o->epoch = -1;
    if (shuffle) {
        o->perm = malloc((size_t)n * sizeof *o->perm);
        if (!o->perm)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    return DML_OK;
}

void dml_data_order_free(dml_data_order *o)
{
    free(o->perm);
    o->perm = NULL;
}

int64_t dml_data_order_sample(dml_data_order *o, int64_t pos)
{
    int64_t off = pos % o->n;
    if (!o->shuffle)
        return off;
    int64_t epoch = pos / o->n;
    if (epoch != o->epoch) {
        dml_rng r;
        dml_rng_seed(&r, o->seed + (uint64_t)epoch * 0x9E3779B97F4A7C15ull);
        for (int64_t i = 0; i < o->n; i++)
            o->perm[i] = (uint32_t)i;
        dml_rng_shuffle(&r, o->perm, (uint64_t)o->n);
        o->epoch = epoch;
    }
    return o->perm[off];
}

void dml_data_features(const dml_dataset *d, int64_t i, float *out)
{
    if (d->x) {
        memcpy(out, d->x + i * d->dim, (size_t)d->dim * sizeof(float));
    } else if (d->pixels) {
        const uint8_t *p = d->pixels + i * d->dim;
        for (int64_t j = 0; j < d->dim; j++)
            out[j] = (float)p[j] / 255.0f;
    }
}

void dml_data_gather(const dml_dataset *d, dml_data_order *o, int64_t pos,
                     int rows, float *x, uint8_t *y)
{
    for (int r = 0; r < rows; r++) {
        int64_t s = dml_data_order_sample(o, pos + r);
        if (x)
            dml_data_features(d, s, x + (size_t)r * d->dim);
        if (y && d->y)
            y[r] = d->y[s];
    }
}
