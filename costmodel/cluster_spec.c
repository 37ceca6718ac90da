/*
 * cluster_spec.c: reading, checking, scaling and writing cluster specs
 * (see cluster_spec.h).
 */
#include "cluster_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/name.h"
#include "costmodel/presets.h"

static const char *const level_names[] = {"intra_node", "inter_node", NULL};
static const char *const device_types[] = {"gpu", "cpu", NULL};
static const char *const sources[] = {"preset", "dml-probe", "user", NULL};

const char *dml_link_level_name(dml_link_level l)
{
    return (int)l >= 0 && l < DML_LINK_LEVEL_COUNT ? level_names[l] : "?";
}

void dml_cluster_spec_init(dml_cluster_spec *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->source, sizeof c->source, "user");
}

void dml_node_group_init(dml_node_group *g)
{
    memset(g, 0, sizeof *g);
    g->nodes = 1;
    g->devices_per_node = 1;
    g->device.cores = 1;
    g->device.membound_efficiency = 0.8;
    for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++)
        g->links[l].efficiency = 1.0;
}

int64_t dml_cluster_spec_devices(const dml_cluster_spec *c)
{
    int64_t n = 0;
    for (int i = 0; i < c->group_count; i++)
        n += c->groups[i].nodes * c->groups[i].devices_per_node;
    return n;
}

int64_t dml_cluster_spec_nodes(const dml_cluster_spec *c)
{
    int64_t n = 0;
    for (int i = 0; i < c->group_count; i++)
        n += c->groups[i].nodes;
    return n;
}

/* ---- fingerprint --------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void dml_cluster_spec_fingerprint(const dml_cluster_spec *c,
                                  char out[DML_FINGERPRINT_MAX])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    char buf[256];
    for (int i = 0; i < c->group_count; i++) {
        const dml_node_group *g = &c->groups[i];
        const dml_device_spec *d = &g->device;
        snprintf(buf, sizeof buf, "g%d|%s|%s|%d|%.6g|%.6g|%d|", i,
                 device_types[d->type], d->model, g->devices_per_node,
                 d->mem_bytes, d->mem_bw_Bps, d->cores);
        h = fnv1a(h, buf);
        for (int t = 0; t < DML_DTYPE_COUNT; t++) {
            snprintf(buf, sizeof buf, "%.6g|", d->peak_flops[t]);
            h = fnv1a(h, buf);
        }
        for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++) {
            const dml_link_spec *k = &g->links[l];
            snprintf(buf, sizeof buf, "%d|%.6g|%.6g|%.6g|", k->present,
                     k->latency_s, k->bw_Bps, k->efficiency);
            h = fnv1a(h, buf);
        }
    }
    snprintf(out, DML_FINGERPRINT_MAX, "%016llx", (unsigned long long)h);
}

/* ---- consistency --------------------------------------------------------- */

/* Rules across fields; names the field path to blame. */
static bool consistent(const dml_cluster_spec *c, char *field, size_t fsize,
                       char *msg, size_t msize)
{
#define DML__BAD(...)                                                         \
    do {                                                                      \
        snprintf(msg, msize, __VA_ARGS__);                                    \
        return false;                                                         \
    } while (0)
    snprintf(field, fsize, "name");
    if (!dml_name_valid(c->name, msg, msize))
        return false;
    snprintf(field, fsize, "fingerprint");
    if (c->fingerprint[0] && !dml_fingerprint_valid(c->fingerprint, msg,
                                                    msize))
        return false;
    snprintf(field, fsize, "node_groups");
    if (c->group_count < 1 || c->group_count > DML_CLUSTER_GROUPS_MAX)
        DML__BAD("needs 1 to %d node groups, found %d", DML_CLUSTER_GROUPS_MAX,
                 c->group_count);
    for (int i = 0; i < c->group_count; i++) {
        const dml_node_group *g = &c->groups[i];
        const dml_device_spec *d = &g->device;
        snprintf(field, fsize, "node_groups[%d].name", i);
        if (g->name[0] && !dml_name_valid(g->name, msg, msize))
            return false;
        snprintf(field, fsize, "node_groups[%d].nodes", i);
        if (g->nodes < 1 || g->nodes > DML_CLUSTER_MAX_NODES)
            DML__BAD("%lld is out of range [1, %d]", (long long)g->nodes,
                     DML_CLUSTER_MAX_NODES);
        snprintf(field, fsize, "node_groups[%d].devices_per_node", i);
        if (g->devices_per_node < 1 ||
            g->devices_per_node > DML_CLUSTER_MAX_DEVICES_PER_NODE)
            DML__BAD("%d is out of range [1, %d]", g->devices_per_node,
                     DML_CLUSTER_MAX_DEVICES_PER_NODE);
        snprintf(field, fsize, "node_groups[%d].device.peak_flops", i);
        bool any = false;
        for (int t = 0; t < DML_DTYPE_COUNT; t++) {
            if (d->peak_flops[t] < 0 || !isfinite(d->peak_flops[t]))
                DML__BAD("%s peak must be positive", dml_dtype_name(t));
            any |= d->peak_flops[t] > 0;
        }
        if (!any)
            DML__BAD("needs at least one dtype");
        snprintf(field, fsize, "node_groups[%d].device.mem_bytes", i);
        if (!(d->mem_bytes > 0))
            DML__BAD("must be positive");
        snprintf(field, fsize, "node_groups[%d].device.mem_bw_Bps", i);
        if (!(d->mem_bw_Bps > 0))
            DML__BAD("must be positive");
        snprintf(field, fsize, "node_groups[%d].device.cores", i);
        if (d->cores < 1)
            DML__BAD("must be positive");
        snprintf(field, fsize, "node_groups[%d].device.membound_efficiency",
                 i);
        if (!(d->membound_efficiency > 0 && d->membound_efficiency <= 1))
            DML__BAD("must be in (0, 1]");
        snprintf(field, fsize, "node_groups[%d].device.kernel_floor_s", i);
        if (!(d->kernel_floor_s >= 0 && d->kernel_floor_s <= 1e-3))
            DML__BAD("must be in [0, 0.001] s");
        snprintf(field, fsize, "node_groups[%d].device.collective_floor_s", i);
        if (!(d->collective_floor_s >= 0 && d->collective_floor_s <= 1e-3))
            DML__BAD("must be in [0, 0.001] s");
        for (int p = 0; p < d->gemm_count; p++) {
            snprintf(field, fsize, "node_groups[%d].device.gemm_efficiency[%d]",
                     i, p);
            const dml_gemm_point *q = &d->gemm[p];
            if (!(q->m >= 1 && q->n >= 1 && q->k >= 1))
                DML__BAD("m, n and k must be at least 1");
            if (!(q->efficiency > 0 && q->efficiency <= 1))
                DML__BAD("efficiency must be in (0, 1]");
            if (d->peak_flops[q->dtype] <= 0)
                DML__BAD("no peak_flops for dtype %s",
                         dml_dtype_name(q->dtype));
        }
        for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++) {
            const dml_link_spec *k = &g->links[l];
            snprintf(field, fsize, "node_groups[%d].links.%s", i,
                     level_names[l]);
            if (!k->present)
                continue;
            if (!(k->bw_Bps > 0))
                DML__BAD("bw_Bps must be positive");
            if (!(k->latency_s >= 0))
                DML__BAD("latency_s must not be negative");
            if (!(k->efficiency > 0 && k->efficiency <= 1))
                DML__BAD("efficiency must be in (0, 1]");
        }
        snprintf(field, fsize, "node_groups[%d].links", i);
        if (g->devices_per_node > 1 && !g->links[DML_LINK_INTRA].present)
            DML__BAD("intra_node is required with %d devices per node",
                     g->devices_per_node);
        if ((g->nodes > 1 || c->group_count > 1) &&
            !g->links[DML_LINK_INTER].present)
            DML__BAD("inter_node is required with more than one node");
    }
    return true;
#undef DML__BAD
}

dml_status dml_cluster_spec_validate(const dml_cluster_spec *c,
                                     dml_error *err)
{
    char field[DML_JSON_PATH_MAX], msg[256];
    if (!consistent(c, field, sizeof field, msg, sizeof msg))
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, field, "%s", msg);
    return DML_OK;
}

/* ---- reading ------------------------------------------------------------- */

static dml_status parse_device(const dml_json_obj *o, dml_device_spec *d,
                               dml_error *err)
{
    static const char *const keys[] = {
        "type",  "model",           "peak_flops",          "mem_bytes",
        "mem_bw_Bps", "cores", "gemm_efficiency", "membound_efficiency",
        "kernel_floor_s", "collective_floor_s", NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    int t = 0;
    DML_CHECK(dml_json_get_enum(o, "type", true, device_types, &t, err));
    d->type = (dml_device_type)t;
    DML_CHECK(dml_json_get_text(o, "model", false, d->model, sizeof d->model, err));
    dml_json_obj pf;
    DML_CHECK(dml_json_get_obj(o, "peak_flops", true, &pf, NULL, err));
    DML_CHECK(dml_json_check_keys(&pf, dml_dtype_names, err));
    bool any = false;
    for (int k = 0; k < DML_DTYPE_COUNT; k++) {
        DML_CHECK(dml_json_get_f64(&pf, dml_dtype_names[k], false, 1e3, 1e20,
                                   &d->peak_flops[k], err));
        any |= d->peak_flops[k] > 0;
    }
    if (!any)
        return dml_json_doc_error(o->doc, err, pf.path, false,
                                  "needs at least one of fp64, fp32, tf32, "
                                  "fp16, bf16, fp8");
    DML_CHECK(dml_json_get_f64(o, "mem_bytes", true, 1, 1e18, &d->mem_bytes,
                               err));
    DML_CHECK(dml_json_get_f64(o, "mem_bw_Bps", true, 1, 1e16, &d->mem_bw_Bps,
                               err));
    int64_t cores = d->cores;
    DML_CHECK(dml_json_get_i64(o, "cores", false, 1, 1000000, &cores, err));
    d->cores = (int)cores;
    DML_CHECK(dml_json_get_f64(o, "membound_efficiency", false, 1e-6, 1,
                               &d->membound_efficiency, err));
    /* launch floors: a millisecond would be no GPU or CPU of this decade */
    DML_CHECK(dml_json_get_f64(o, "kernel_floor_s", false, 0, 1e-3,
                               &d->kernel_floor_s, err));
    DML_CHECK(dml_json_get_f64(o, "collective_floor_s", false, 0, 1e-3,
                               &d->collective_floor_s, err));
    json_t *arr = NULL;
    size_t n = 0;
    bool have = false;
    DML_CHECK(dml_json_get_array(o, "gemm_efficiency", false, &arr, &n, &have,
                                 err));
    if (have && n > DML_GEMM_POINTS_MAX) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, "gemm_efficiency");
        return dml_json_doc_error(o->doc, err, path, false,
                                  "%zu points, at most %d", n,
                                  DML_GEMM_POINTS_MAX);
    }
    static const char *const pkeys[] = {"dtype", "m", "n", "k", "efficiency",
                                        NULL};
    for (size_t i = 0; have && i < n; i++) {
        dml_json_obj p;
        DML_CHECK(dml_json_array_obj(o, "gemm_efficiency", arr, i, &p, err));
        DML_CHECK(dml_json_check_keys(&p, pkeys, err));
        dml_gemm_point *q = &d->gemm[i];
        int dt = 0;
        DML_CHECK(dml_json_get_enum(&p, "dtype", true, dml_dtype_names, &dt,
                                    err));
        q->dtype = (dml_dtype)dt;
        DML_CHECK(dml_json_get_f64(&p, "m", true, 1, 1e9, &q->m, err));
        DML_CHECK(dml_json_get_f64(&p, "n", true, 1, 1e9, &q->n, err));
        DML_CHECK(dml_json_get_f64(&p, "k", true, 1, 1e9, &q->k, err));
        DML_CHECK(dml_json_get_f64(&p, "efficiency", true, 1e-6, 1,
                                   &q->efficiency, err));
        if (d->peak_flops[q->dtype] <= 0) {
            char path[DML_JSON_PATH_MAX];
            dml_json_path_key(path, sizeof path, p.path, "dtype");
            return dml_json_doc_error(o->doc, err, path, false,
                                      "no peak_flops given for %s",
                                      dml_dtype_name(q->dtype));
        }
    }
    d->gemm_count = have ? (int)n : 0;
    return DML_OK;
}

static dml_status parse_link(const dml_json_obj *o, dml_link_spec *k,
                             dml_error *err)
{
    static const char *const keys[] = {"latency_s", "bw_Bps", "efficiency",
                                       NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    DML_CHECK(dml_json_get_f64(o, "latency_s", true, 0, 10, &k->latency_s,
                               err));
    DML_CHECK(dml_json_get_f64(o, "bw_Bps", true, 1, 1e15, &k->bw_Bps, err));
    k->efficiency = 1.0;
    DML_CHECK(dml_json_get_f64(o, "efficiency", false, 1e-6, 1,
                               &k->efficiency, err));
    k->present = true;
    return DML_OK;
}

static dml_status parse_group(const dml_json_obj *o, dml_node_group *g,
                              dml_error *err)
{
    static const char *const keys[] = {
        "name",  "nodes",       "devices_per_node", "device",
        "links", "collectives", "node_mtbf_s",      "storage_write_Bps",
        NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    DML_CHECK(dml_name_get(o, "name", false, g->name, sizeof g->name, err));
    DML_CHECK(dml_json_get_i64(o, "nodes", true, 1, DML_CLUSTER_MAX_NODES,
                               &g->nodes, err));
    int64_t dpn = 0;
    DML_CHECK(dml_json_get_i64(o, "devices_per_node", true, 1,
                               DML_CLUSTER_MAX_DEVICES_PER_NODE, &dpn, err));
    g->devices_per_node = (int)dpn;
    dml_json_obj dev;
    DML_CHECK(dml_json_get_obj(o, "device", true, &dev, NULL, err));
    DML_CHECK(parse_device(&dev, &g->device, err));

    dml_json_obj links;
    bool have = false;
    DML_CHECK(dml_json_get_obj(o, "links", false, &links, &have, err));
    if (have) {
        DML_CHECK(dml_json_check_keys(&links, level_names, err));
        for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++) {
            dml_json_obj lk;
            bool lp = false;
            DML_CHECK(dml_json_get_obj(&links, level_names[l], false, &lk, &lp,
                                       err));
            if (lp)
                DML_CHECK(parse_link(&lk, &g->links[l], err));
        }
    }
    if (g->devices_per_node > 1 && !g->links[DML_LINK_INTRA].present)
        return dml_json_doc_error(o->doc, err, have ? links.path : o->path,
                                  false,
                                  "links.intra_node is required with %d "
                                  "devices per node", g->devices_per_node);

    dml_json_obj coll;
    DML_CHECK(dml_json_get_obj(o, "collectives", false, &coll, &have, err));
    if (have) {
        const char *coll_names[DML_COLL_OP_COUNT + 1] = {NULL};
        for (int op = 0; op < DML_COLL_OP_COUNT; op++)
            coll_names[op] = dml_coll_op_name((dml_coll_op)op);
        DML_CHECK(dml_json_check_keys(&coll, coll_names, err));
        for (int op = 0; op < DML_COLL_OP_COUNT; op++) {
            dml_json_obj co;
            bool cp = false;
            DML_CHECK(dml_json_get_obj(&coll, coll_names[op], false, &co, &cp,
                                       err));
            if (!cp)
                continue;
            DML_CHECK(dml_json_check_keys(&co, level_names, err));
            for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++) {
                dml_json_obj f;
                bool fp = false;
                DML_CHECK(dml_json_get_obj(&co, level_names[l], false, &f, &fp,
                                           err));
                if (!fp)
                    continue;
                static const char *const fkeys[] = {"alpha_s", "busbw_Bps",
                                                    NULL};
                DML_CHECK(dml_json_check_keys(&f, fkeys, err));
                dml_coll_fit *fit = &g->coll[op][l];
                DML_CHECK(dml_json_get_f64(&f, "alpha_s", true, 0, 10,
                                           &fit->alpha_s, err));
                DML_CHECK(dml_json_get_f64(&f, "busbw_Bps", true, 1, 1e15,
                                           &fit->busbw_Bps, err));
                fit->present = true;
            }
        }
    }
    DML_CHECK(dml_json_get_f64(o, "node_mtbf_s", false, 1, 1e12,
                               &g->node_mtbf_s, err));
    DML_CHECK(dml_json_get_f64(o, "storage_write_Bps", false, 1, 1e15,
                               &g->storage_write_Bps, err));
    return DML_OK;
}

dml_status dml_cluster_spec_parse(const dml_json_obj *o, dml_cluster_spec *out,
                                  dml_error *err)
{
    static const char *const keys[] = {"schema_version", "name",
                                       "description",    "source",
                                       "fingerprint",    "node_groups",
                                       NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    dml_cluster_spec *c = calloc(1, sizeof *c);
    if (!c)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_cluster_spec_init(c);
    dml_status s = DML_OK;
    int64_t version = 1;
#define DML__TRY(expr)                                                        \
    do {                                                                      \
        s = (expr);                                                           \
        if (s != DML_OK)                                                      \
            goto done;                                                        \
    } while (0)
    DML__TRY(dml_json_get_i64(o, "schema_version", false, 1, 1, &version,
                              err));
    DML__TRY(dml_name_get(o, "name", true, c->name, sizeof c->name, err));
    DML__TRY(dml_json_get_text(o, "description", false, c->description,
                      sizeof c->description, err));
    int src = 2;
    DML__TRY(dml_json_get_enum(o, "source", false, sources, &src, err));
    snprintf(c->source, sizeof c->source, "%s", sources[src]);
    DML__TRY(dml_fingerprint_get(o, "fingerprint", c->fingerprint,
                                 sizeof c->fingerprint, err));
    json_t *arr = NULL;
    size_t n = 0;
    DML__TRY(dml_json_get_array(o, "node_groups", true, &arr, &n, NULL, err));
    if (n < 1 || n > DML_CLUSTER_GROUPS_MAX) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, "node_groups");
        s = dml_json_doc_error(o->doc, err, path, false,
                               "needs 1 to %d node groups, found %zu",
                               DML_CLUSTER_GROUPS_MAX, n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        dml_json_obj g;
        DML__TRY(dml_json_array_obj(o, "node_groups", arr, i, &g, err));
        dml_node_group_init(&c->groups[i]);
        DML__TRY(parse_group(&g, &c->groups[i], err));
        c->group_count = (int)i + 1;
    }
    char field[DML_JSON_PATH_MAX], msg[256];
    if (!consistent(c, field, sizeof field, msg, sizeof msg)) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, field);
        s = dml_json_doc_error(o->doc, err, path, false, "%s", msg);
        goto done;
    }
    if (!c->fingerprint[0])
        dml_cluster_spec_fingerprint(c, c->fingerprint);
    *out = *c;
done:
    free(c);
    return s;
#undef DML__TRY
}

/* dml_json_parse_fn for cluster specs. */
static dml_status parse_any(const dml_json_obj *root, void *out,
                            dml_error *err)
{
    return dml_cluster_spec_parse(root, out, err);
}

dml_status dml_cluster_spec_read_file(const char *path, dml_cluster_spec *out,
                                      dml_error *err)
{
    return dml_json_parse_file(path, parse_any, out, err);
}

dml_status dml_cluster_spec_from_json(const json_t *j, const char *name,
                                      dml_cluster_spec *out, dml_error *err)
{
    return dml_json_parse_value(j, name, "cluster spec", parse_any, out,
                                err);
}

dml_status dml_cluster_spec_load(const char *name_or_file,
                                 const char *data_dir, dml_cluster_spec *out,
                                 dml_error *err)
{
    char path[1024];
    DML_CHECK(dml_costmodel_resolve(name_or_file, data_dir, "cluster", path,
                                    sizeof path, err));
    return dml_cluster_spec_read_file(path, out, err);
}

dml_status dml_cluster_spec_list(const char *data_dir, char ***names,
                                 size_t *count, dml_error *err)
{
    return dml_costmodel_list_presets(data_dir, "cluster", names, count, err);
}

/* ---- scaling ------------------------------------------------------------- */

dml_status dml_cluster_spec_scale_nodes(dml_cluster_spec *c, int64_t nodes,
                                        dml_error *err)
{
    if (nodes < 1 || nodes > DML_CLUSTER_MAX_NODES)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, "--nodes",
                             "%lld is out of range [1, %d]", (long long)nodes,
                             DML_CLUSTER_MAX_NODES);
    int64_t total = dml_cluster_spec_nodes(c);
    if (total < 1)
        return dml_error_msg(err, DML_EINPUT, "cluster has no nodes");
    if (c->group_count > 1 && nodes % total != 0)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, "--nodes",
                             "cluster %s has %d node groups and %lld nodes; "
                             "--nodes must be a multiple of %lld",
                             c->name, c->group_count, (long long)total,
                             (long long)total);
    for (int i = 0; i < c->group_count; i++) {
        dml_node_group *g = &c->groups[i];
        int64_t n = c->group_count == 1 ? nodes : g->nodes * (nodes / total);
        if (n > 1 && !g->links[DML_LINK_INTER].present)
            return dml_error_set(err, DML_EINPUT, NULL, 0, 0, "--nodes",
                                 "cluster %s has no inter_node link, so it "
                                 "cannot have %lld nodes", c->name,
                                 (long long)nodes);
    }
    for (int i = 0; i < c->group_count; i++) {
        dml_node_group *g = &c->groups[i];
        g->nodes = c->group_count == 1 ? nodes : g->nodes * (nodes / total);
    }
    return DML_OK;
}

/* ---- writing ------------------------------------------------------------- */

static json_t *link_json(const dml_link_spec *k)
{
    return json_pack("{s:f, s:f, s:f}", "latency_s", k->latency_s, "bw_Bps",
                     k->bw_Bps, "efficiency", k->efficiency);
}

json_t *dml_cluster_spec_to_json(const dml_cluster_spec *c)
{
    json_t *j = json_object();
    json_t *groups = json_array();
    if (!j || !groups) {
        json_decref(j);
        json_decref(groups);
        return NULL;
    }
    int bad = 0;
    char fp[DML_FINGERPRINT_MAX];
    if (c->fingerprint[0])
        snprintf(fp, sizeof fp, "%s", c->fingerprint);
    else
        dml_cluster_spec_fingerprint(c, fp);
    bad |= json_object_set_new(j, "schema_version", json_integer(1));
    bad |= json_object_set_new(j, "name", json_string(c->name));
    if (c->description[0])
        bad |= json_object_set_new(j, "description",
                                   json_string(c->description));
    bad |= json_object_set_new(j, "source",
                               json_string(c->source[0] ? c->source : "user"));
    bad |= json_object_set_new(j, "fingerprint", json_string(fp));
    for (int i = 0; i < c->group_count; i++) {
        const dml_node_group *g = &c->groups[i];
        const dml_device_spec *d = &g->device;
        json_t *gj = json_object();
        json_t *dj = json_object();
        json_t *pf = json_object();
        json_t *ge = json_array();
        json_t *links = json_object();
        if (!gj || !dj || !pf || !ge || !links) {
            json_decref(gj);
            json_decref(dj);
            json_decref(pf);
            json_decref(ge);
            json_decref(links);
            json_decref(groups);
            json_decref(j);
            return NULL;
        }
        if (g->name[0])
            bad |= json_object_set_new(gj, "name", json_string(g->name));
        bad |= json_object_set_new(gj, "nodes", json_integer(g->nodes));
        bad |= json_object_set_new(gj, "devices_per_node",
                                   json_integer(g->devices_per_node));
        bad |= json_object_set_new(dj, "type",
                                   json_string(device_types[d->type]));
        if (d->model[0])
            bad |= json_object_set_new(dj, "model", json_string(d->model));
        for (int t = 0; t < DML_DTYPE_COUNT; t++)
            if (d->peak_flops[t] > 0)
                bad |= json_object_set_new(pf, dml_dtype_name(t),
                                           json_real(d->peak_flops[t]));
        bad |= json_object_set_new(dj, "peak_flops", pf);
        bad |= json_object_set_new(dj, "mem_bytes", json_real(d->mem_bytes));
        bad |= json_object_set_new(dj, "mem_bw_Bps",
                                   json_real(d->mem_bw_Bps));
        bad |= json_object_set_new(dj, "cores", json_integer(d->cores));
        for (int p = 0; p < d->gemm_count; p++) {
            const dml_gemm_point *q = &d->gemm[p];
            bad |= json_array_append_new(
                ge, json_pack("{s:s, s:f, s:f, s:f, s:f}", "dtype",
                              dml_dtype_name(q->dtype), "m", q->m, "n", q->n,
                              "k", q->k, "efficiency", q->efficiency));
        }
        if (d->gemm_count)
            bad |= json_object_set_new(dj, "gemm_efficiency", ge);
        else
            json_decref(ge);
        bad |= json_object_set_new(dj, "membound_efficiency",
                                   json_real(d->membound_efficiency));
        if (d->kernel_floor_s > 0)
            bad |= json_object_set_new(dj, "kernel_floor_s",
                                       json_real(d->kernel_floor_s));
        if (d->collective_floor_s > 0)
            bad |= json_object_set_new(dj, "collective_floor_s",
                                       json_real(d->collective_floor_s));
        bad |= json_object_set_new(gj, "device", dj);
        for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++)
            if (g->links[l].present)
                bad |= json_object_set_new(links, level_names[l],
                                           link_json(&g->links[l]));
        bad |= json_object_set_new(gj, "links", links);
        json_t *coll = NULL;
        for (int op = 0; op < DML_COLL_OP_COUNT; op++)
            for (int l = 0; l < DML_LINK_LEVEL_COUNT; l++) {
                const dml_coll_fit *f = &g->coll[op][l];
                if (!f->present)
                    continue;
                if (!coll)
                    coll = json_object();
                const char *name = dml_coll_op_name((dml_coll_op)op);
                json_t *oj = json_object_get(coll, name);
                if (!oj) {
                    oj = json_object();
                    bad |= json_object_set_new(coll, name, oj);
                }
                bad |= json_object_set_new(
                    oj, level_names[l],
                    json_pack("{s:f, s:f}", "alpha_s", f->alpha_s,
                              "busbw_Bps", f->busbw_Bps));
            }
        if (coll)
            bad |= json_object_set_new(gj, "collectives", coll);
        if (g->node_mtbf_s > 0)
            bad |= json_object_set_new(gj, "node_mtbf_s",
                                       json_real(g->node_mtbf_s));
        if (g->storage_write_Bps > 0)
            bad |= json_object_set_new(gj, "storage_write_Bps",
                                       json_real(g->storage_write_Bps));
        bad |= json_array_append_new(groups, gj);
    }
    bad |= json_object_set_new(j, "node_groups", groups);
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

void dml_cluster_spec_cut_devices(const dml_cluster_spec *in, int k,
                                  dml_cluster_spec *out)
{
    *out = *in;
    if (k <= 1)
        return;
    for (int i = 0; i < out->group_count; i++) {
        dml_node_group *g = &out->groups[i];
        g->devices_per_node *= k;
        g->device.cores = g->device.cores / k > 0 ? g->device.cores / k : 1;
        for (int t = 0; t < DML_DTYPE_COUNT; t++)
            g->device.peak_flops[t] /= k;
        g->device.mem_bytes /= k;
        g->device.mem_bw_Bps /= k;
        if (!g->links[DML_LINK_INTRA].present)
            g->links[DML_LINK_INTRA] = (dml_link_spec){
                .present = true, .latency_s = 1e-6,
                .bw_Bps = 0.5 * in->groups[i].device.mem_bw_Bps,
                .efficiency = 1.0};
    }
}
