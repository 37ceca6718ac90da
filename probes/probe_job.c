/*
 * probe_job.c: the whole dml-probe run across an MPI job (see probe_job.h).
 */
#include "probe_job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/name.h"
#include "common/quote.h"
#include "common/units.h"
#include "common/version.h"
#include "probes/busbw.h"
#include "probes/link_share.h"
#include "probes/nccl_collectives.h"

/* ---- running --------------------------------------------------------------- */

static double gemm_peak(const dml_gemm_result *g, dml_gemm_dtype dt,
                        int threads)
{
    const dml_gemm_peak *p = dml_gemm_find_peak(g, dt, threads);
    return p ? p->peak_flops : 0;
}

/* The median at m = n = k = n_sq and `threads` threads; where that count
 * was not swept, one thread's times threads (0: neither swept). */
static double solo_at(const dml_gemm_result *g, dml_gemm_dtype dt, int n_sq,
                      int threads)
{
    double one = 0;
    for (int i = 0; i < g->point_count; i++) {
        const dml_gemm_sample *p = &g->points[i];
        if (p->dtype != dt || p->m != n_sq || p->n != n_sq || p->k != n_sq)
            continue;
        if (p->threads == threads)
            return p->median_flops;
        if (p->threads == 1)
            one = p->median_flops;
    }
    return one * threads;
}

static void host_from_report(const dml_node_report *r, dml_probe_host *h)
{
    memset(h, 0, sizeof *h);
    const dml_topology_summary *t = &r->topology;
    snprintf(h->hostname, sizeof h->hostname, "%s", t->hostname);
    snprintf(h->cpu_model, sizeof h->cpu_model, "%s", t->cpu_model);
    h->packages = t->packages;
    h->cores = t->cores;
    h->pus = t->pus;
    h->gpus = t->gpus;
    h->mem_total_bytes = t->mem_total_bytes;
    h->mem_available_bytes = t->mem_available_bytes;
    h->llc_bytes = t->llc_bytes;
    if (r->have_membw) {
        h->triad_1t_Bps = r->membw_single.kernel[DML_MEMBW_TRIAD].best_Bps;
        h->triad_all_Bps = r->membw_all.kernel[DML_MEMBW_TRIAD].best_Bps;
    }
    if (r->have_gemm) {
        int all = t->cores > 0 ? t->cores : 1;
        h->dgemm_1t_flops = gemm_peak(&r->gemm, DML_GEMM_F64, 1);
        h->dgemm_all_flops = gemm_peak(&r->gemm, DML_GEMM_F64, all);
        h->sgemm_1t_flops = gemm_peak(&r->gemm, DML_GEMM_F32, 1);
        h->sgemm_all_flops = gemm_peak(&r->gemm, DML_GEMM_F32, all);
    }
}

/* Node probes on the first rank of each node; the verdict is agreed by
 * every rank so that no rank goes on to the collectives alone. */
static dml_status run_node_probes(const dml_probe_job_options *opt,
                                  const dml_comm_levels *lv,
                                  dml_probe_job *job, dml_progress *pr,
                                  dml_error *err)
{
    dml_status s = DML_OK;
    dml_node_probe_options no = dml_node_probe_options_default(opt->quick);
    no.progress = pr;
    no.topology = &opt->topology;
    if (!job->measured)
        no.membw = no.gemm = no.gpu = false;
    if (lv->local_rank == 0)
        s = dml_node_probe_run(&no, &job->node, err);
    dml_error werr;
    dml_status w = dml_comm_wait_quietly(lv->comm, &werr);
    if (s == DML_OK && w != DML_OK) {
        *err = werr;
        s = w;
    }
    return dml_comm_agree(lv->comm, s, err);
}

/* Every rank computes at once (gemm_busy.h); each node's mean goes to its
 * first rank, which reports it with the node's headline. Long enough to
 * span several 100 ms periods of a CPU quota. */
static dml_status run_busy_gemm(const dml_probe_job_options *opt,
                                const dml_comm_levels *lv,
                                dml_probe_job *job, dml_progress *pr,
                                dml_error *err)
{
    dml_progress_phase(pr, "GEMM, every rank at once", 0);
    /* Each rank its share of its node's cores: one thread where a rank a
     * core, all of them where a rank is the node's one device. */
    int n = 1, cores = job->node.topology.cores;
    MPI_Comm_size(lv->intra, &n);
    int rc = MPI_Bcast(&cores, 1, MPI_INT, 0, lv->intra);
    DML_CHECK(dml_comm_check(rc, "busy GEMM threads", err));
    int threads = cores > n ? cores / n : 1;
    DML_CHECK(dml_gemm_busy_run(lv->comm, DML_GEMM_BUSY_N, threads,
                                opt->quick ? 0.5 : 1.0, &job->busy, err));
    rc = MPI_Allreduce(job->busy.flops, job->busy_node_flops,
                           DML_GEMM_DTYPES, MPI_DOUBLE, MPI_SUM, lv->intra);
    DML_CHECK(dml_comm_check(rc, "busy GEMM node mean", err));
    for (int dt = 0; dt < DML_GEMM_DTYPES; dt++)
        job->busy_node_flops[dt] /= n;
    return DML_OK;
}

/* Gather each node's headline to rank 0, in node order. */
static dml_status gather_hosts(const dml_comm_levels *lv, dml_probe_job *job,
                               dml_error *err)
{
    dml_probe_host mine;
    memset(&mine, 0, sizeof mine);
    if (lv->local_rank == 0) {
        host_from_report(&job->node, &mine);
        mine.ranks = lv->ranks_per_node_max;
        mine.busy_threads = job->busy.threads;
        for (int dt = 0; dt < DML_GEMM_DTYPES; dt++) {
            mine.busy_flops[dt] = job->busy_node_flops[dt];
            if (job->node.have_gemm)
                mine.solo_flops[dt] =
                    solo_at(&job->node.gemm, (dml_gemm_dtype)dt,
                            DML_GEMM_BUSY_N, job->busy.threads);
        }
    }
    dml_probe_host *all = NULL;
    int *node_of = NULL;
    if (lv->rank == 0) {
        all = calloc((size_t)lv->size, sizeof *all);
        node_of = calloc((size_t)lv->size, sizeof *node_of);
    }
    /* Every rank takes part in both gathers before anyone may return. */
    int bad = lv->rank == 0 && (!all || !node_of);
    MPI_Bcast(&bad, 1, MPI_INT, 0, lv->comm);
    if (bad) {
        free(all);
        free(node_of);
        return dml_error_msg(err, DML_ENOMEM, "out of memory gathering hosts");
    }
    int rc = MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all,
                        (int)sizeof mine, MPI_BYTE, 0, lv->comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Gather(&lv->node, 1, MPI_INT, node_of, 1, MPI_INT, 0,
                        lv->comm);
    dml_status s = dml_comm_check(rc, "gathering node reports", err);
    if (s != DML_OK || lv->rank != 0) {
        free(all);
        free(node_of);
        return s;
    }
    /* Keep each node's first rank (the one that ran the node probes). */
    int n = 0;
    for (int r = 0; r < lv->size; r++) {
        bool first = true;
        for (int q = 0; q < r; q++)
            if (node_of[q] == node_of[r])
                first = false;
        if (first && all[r].cores > 0)
            all[n++] = all[r];
    }
    free(node_of);
    job->hosts = all;
    job->host_count = n;
    return DML_OK;
}

static dml_status run_comm_probes(const dml_probe_job_options *opt,
                                  const dml_comm_levels *lv,
                                  dml_probe_job *job, dml_progress *pr,
                                  dml_error *err)
{
    if (lv->size < 2) {
        snprintf(job->comm_skip, sizeof job->comm_skip,
                 "1 rank: run under mpirun -np 2 or more to measure "
                 "communication");
        snprintf(job->nccl_skip, sizeof job->nccl_skip, "%s", job->comm_skip);
        return DML_OK;
    }
    dml_p2p_options po =
        opt->quick ? dml_p2p_options_quick() : dml_p2p_options_default();
    po.progress = pr;
    DML_CHECK(dml_p2p_measure_levels(lv, &po, job->p2p, &job->p2p_count, err));
    /* a node's ranks sharing its links: 4 MiB (16 MiB) a pair, best of 2
     * (3) */
    DML_CHECK(dml_link_share_measure(lv, (opt->quick ? 4.0 : 16.0) * 1048576,
                                     opt->quick ? 2 : 3,
                                     &job->inter_share_Bps, err));
    dml_coll_options co =
        opt->quick ? dml_coll_options_quick() : dml_coll_options_default();
    co.progress = pr;
    DML_CHECK(dml_coll_measure_levels(lv, &co, job->coll, DML_PROBE_MAX_COLL,
                                      &job->coll_count, err));
    dml_coll_options no =
        opt->quick ? dml_nccl_options_quick() : dml_nccl_options_default();
    no.progress = pr;
    dml_progress_phase(pr, "NCCL", 0);
    dml_error nerr;
    dml_error_clear(&nerr);
    dml_status s = dml_nccl_measure_levels(lv, &no, job->nccl,
                                           DML_PROBE_MAX_COLL,
                                           &job->nccl_count, &nerr);
    if (s == DML_ENODEV) {
        snprintf(job->nccl_skip, sizeof job->nccl_skip, "%s", nerr.msg);
        job->nccl_count = 0;
    } else if (s != DML_OK) {
        *err = nerr;
        return s;
    }
    return DML_OK;
}

dml_status dml_probe_job_run(MPI_Comm comm, const dml_probe_job_options *opt,
                             dml_probe_job *job, dml_error *err)
{
    memset(job, 0, sizeof *job);
    job->quick = opt->quick;
    job->measured = opt->topology.kind == DML_TOPOLOGY_LIVE;
    double t0 = dml_clock_now_s();
    dml_clock_iso8601(job->started_at, sizeof job->started_at);

    dml_comm_levels lv;
    DML_CHECK(dml_comm_levels_split(comm, opt->fake_nodes, &lv, err));
    job->ranks = lv.size;
    job->nodes = lv.nodes;
    dml_comm_levels_describe(&lv, job->layout, sizeof job->layout);

    /* Rank 0 alone speaks: plain lines every few seconds where stderr is
     * not a terminal (under mpirun it never is), so a long probe is not
     * silent. */
    dml_progress pr;
    dml_progress_begin_lines(&pr, stderr, "dml-probe",
                             opt->progress && lv.rank == 0,
                             DML_PROBE_PROGRESS_INTERVAL_S);
    dml_status s = run_node_probes(opt, &lv, job, &pr, err);
    if (s == DML_OK && job->measured)
        s = run_busy_gemm(opt, &lv, job, &pr, err);
    if (s == DML_OK)
        s = gather_hosts(&lv, job, err);
    if (s == DML_OK && job->measured)
        s = run_comm_probes(opt, &lv, job, &pr, err);
    dml_progress_end(&pr);
    if (s == DML_OK && !job->measured)
        snprintf(job->comm_skip, sizeof job->comm_skip,
                 "foreign topology: described, not measured");
    dml_comm_levels_free(&lv);
    job->elapsed_s = dml_clock_now_s() - t0;
    dml_clock_iso8601(job->finished_at, sizeof job->finished_at);
    if (s != DML_OK)
        dml_probe_job_free(job);
    return s;
}

void dml_probe_job_free(dml_probe_job *job)
{
    if (!job)
        return;
    dml_node_report_free(&job->node);
    free(job->hosts);
    job->hosts = NULL;
    job->host_count = 0;
}

/* ---- measurement rows ------------------------------------------------------ */

dml_status dml_probe_job_measurements(const dml_probe_job *job,
                                      dml_measurement **rows, int *count,
                                      dml_error *err)
{
    *rows = NULL;
    *count = 0;
    if (job->measured)
        DML_CHECK(dml_node_report_to_measurements(&job->node, rows, count,
                                                  err));
    dml_measurement buf[2 * DML_COMM_MAX_POINTS + 2];
    for (size_t i = 0; i < job->p2p_count; i++) {
        size_t n = dml_p2p_to_measurements(&job->p2p[i], buf,
                                           sizeof buf / sizeof buf[0]);
        for (size_t k = 0; k < n; k++)
            DML_CHECK(dml_node_report_append_row(rows, count, &buf[k], err));
    }
    const dml_coll_result *sets[2] = {job->coll, job->nccl};
    size_t counts[2] = {job->coll_count, job->nccl_count};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < counts[s]; i++) {
            size_t n = dml_coll_to_measurements(&sets[s][i], buf,
                                                sizeof buf / sizeof buf[0]);
            for (size_t k = 0; k < n; k++)
                DML_CHECK(dml_node_report_append_row(rows, count, &buf[k],
                                                     err));
        }
    }
    return DML_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

/* jansson refuses NaN and infinity; a figure that was not measured is null. */
static json_t *num(double x)
{
    return isfinite(x) && x != 0 ? json_real(x) : json_null();
}

static json_t *topology_json(const dml_topology_summary *t)
{
    json_t *pci = json_array();
    for (int i = 0; i < t->pci_count; i++) {
        const dml_topology_pci_device *d = &t->pci[i];
        json_array_append_new(
            pci, json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind",
                           dml_topology_pci_kind_name(d->kind), "busid",
                           d->busid, "name", d->name, "osdev", d->osdev,
                           "link_Bps", num(d->link_Bps)));
    }
    return json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:i, s:o, s:i, s:o, "
        "s:o, s:o, s:i, s:i, s:o}",
        "hostname", t->hostname, "cpu_model", t->cpu_model, "packages",
        t->packages, "numa_nodes", t->numa_nodes, "cores", t->cores, "pus",
        t->pus, "l1d_bytes", num(t->l1d_bytes), "l2_bytes", num(t->l2_bytes),
        "l3_bytes", num(t->l3_bytes), "llc_level", t->llc_level, "llc_bytes",
        num(t->llc_bytes), "llc_count", t->llc_count, "hwloc_mem_bytes",
        num(t->hwloc_mem_bytes), "mem_total_bytes", num(t->mem_total_bytes),
        "mem_available_bytes", num(t->mem_available_bytes), "gpus", t->gpus,
        "nics", t->nics, "pci", pci);
}

static json_t *membw_json(const dml_membw_result *m)
{
    json_t *o = json_pack("{s:i, s:o, s:b, s:b}", "threads", m->threads,
                          "array_bytes", num(m->array_bytes), "bound",
                          m->bound, "validated", m->validated);
    for (int k = 0; k < DML_MEMBW_KERNELS; k++) {
        const dml_membw_kernel_result *r = &m->kernel[k];
        json_object_set_new(
            o, dml_membw_kernel_name((dml_membw_kernel)k),
            json_pack("{s:o, s:o, s:o, s:o, s:o}", "bytes", num(r->bytes),
                      "time_s", num(r->time_s), "time_median_s",
                      num(r->time_median_s), "best_Bps", num(r->best_Bps),
                      "median_Bps", num(r->median_Bps)));
    }
    return o;
}

static json_t *gemm_json(const dml_probe_job *job)
{
    const dml_probe_host *h = &job->hosts[0];
    const dml_gemm_result *g = &job->node.gemm;
    json_t *points = json_array();
    for (int i = 0; i < g->point_count; i++) {
        const __typeof__(g->points[0]) *p = &g->points[i];
        json_array_append_new(
            points,
            json_pack("{s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o}",
                      "dtype", dml_gemm_dtype_name(p->dtype), "m", p->m, "n",
                      p->n, "k", p->k, "threads", p->threads, "time_s",
                      num(p->time_s), "best_flops", num(p->best_flops),
                      "median_flops", num(p->median_flops), "efficiency",
                      num(p->efficiency)));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:i, s:i, s:o}",
                     "dgemm_peak_flops", num(h->dgemm_all_flops),
                     "sgemm_peak_flops", num(h->sgemm_all_flops),
                     "dgemm_peak_1thread_flops", num(h->dgemm_1t_flops),
                     "sgemm_peak_1thread_flops", num(h->sgemm_1t_flops),
                     "all_cores_threads", h->cores, "all_cores_cpus",
                     g->all_cores_cpus, "points", points);
}

static json_t *fit_json(const dml_alphabeta *f, dml_status st)
{
    if (st != DML_OK)
        return json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "alpha_s",
                     json_real(f->alpha_s), "beta_s_per_B",
                     json_real(f->beta_s_per_B), "bw_Bps", num(f->bw_Bps),
                     "busbw_Bps", num(f->busbw_Bps), "max_rel_residual",
                     json_real(f->max_rel_residual), "rms_rel_residual",
                     json_real(f->rms_rel_residual));
}

static json_t *p2p_json(const dml_probe_job *job)
{
    if (job->p2p_count == 0)
        return json_pack("{s:n, s:n, s:s, s:[]}", "latency_s", "bandwidth_Bps",
                         "skipped", job->comm_skip, "levels");
    /* The headline is the closest level: ranks on one node when there are
     * two, else the only level measured. */
    const dml_p2p_result *head = &job->p2p[0];
    json_t *levels = json_array();
    for (size_t i = 0; i < job->p2p_count; i++) {
        const dml_p2p_result *r = &job->p2p[i];
        json_t *pts = json_array();
        for (size_t k = 0; k < r->npoints; k++) {
            const dml_p2p_point *p = &r->points[k];
            json_array_append_new(
                pts, json_pack("{s:f, s:o, s:o, s:o, s:o, s:o, s:o}",
                               "bytes", p->bytes,
                               "latency_s", num(p->latency_s),
                               "latency_median_s", num(p->latency_median_s),
                               "latency_mean_s", num(p->latency_mean_s),
                               "bandwidth_Bps", num(p->bandwidth_Bps),
                               "bandwidth_median_Bps",
                               num(p->bandwidth_median_Bps),
                               "bandwidth_mean_Bps",
                               num(p->bandwidth_mean_Bps)));
        }
        json_array_append_new(
            levels, json_pack("{s:s, s:i, s:o, s:o, s:o, s:o}", "level",
                              r->level, "ranks", r->ranks, "latency_s",
                              num(r->latency_s), "bandwidth_Bps",
                              num(r->bandwidth_Bps), "fit",
                              fit_json(&r->fit, r->fit_status), "points",
                              pts));
    }
    return json_pack("{s:o, s:o, s:s, s:o, s:o}", "latency_s",
                     num(head->latency_s), "bandwidth_Bps",
                     num(head->bandwidth_Bps), "level", head->level, "levels",
                     levels, "inter_node_per_device_Bps",
                     job->inter_share_Bps > 0 ? json_real(job->inter_share_Bps)
                                              : json_null());
}

/* Per collective a list of points, each naming its level; the fits beside. */
static void collectives_json(const dml_coll_result *res, size_t n,
                             json_t **points_out, json_t **fits_out)
{
    json_t *points = json_object();
    json_t *fits = json_object();
    for (int op = 0; op < DML_COLL_OP_COUNT; op++) {
        json_object_set_new(points, dml_coll_op_name((dml_coll_op)op),
                            json_array());
        json_object_set_new(fits, dml_coll_op_name((dml_coll_op)op),
                            json_object());
    }
    for (size_t i = 0; i < n; i++) {
        const dml_coll_result *r = &res[i];
        const char *op = dml_coll_op_name(r->op);
        json_t *arr = json_object_get(points, op);
        for (size_t k = 0; k < r->npoints; k++) {
            const dml_coll_point *p = &r->points[k];
            json_array_append_new(
                arr,
                json_pack("{s:s, s:i, s:f, s:I, s:o, s:o, s:o, s:o, s:o, "
                          "s:o, s:o, s:o}",
                          "level", r->level, "ranks", r->ranks, "bytes",
                          p->bytes, "count", (json_int_t)p->count, "time_s",
                          num(p->time_s), "time_median_s",
                          num(p->time_median_s), "time_mean_s",
                          num(p->time_mean_s), "algbw_Bps",
                          num(p->algbw_Bps), "busbw_Bps", num(p->busbw_Bps),
                          "algbw_mean_Bps", num(p->algbw_mean_Bps),
                          "busbw_mean_Bps", num(p->busbw_mean_Bps), "wrong",
                          p->wrong < 0 ? json_null()
                                       : json_integer(p->wrong)));
        }
        json_object_set_new(json_object_get(fits, op), r->level,
                            fit_json(&r->fit, r->fit_status));
    }
    *points_out = points;
    *fits_out = fits;
}

static double busy_fraction(const dml_probe_host *h, dml_gemm_dtype dt);

/* A host's busy GEMM rate or its fraction of the solo rate; null where
 * the busy probe did not run. */
static json_t *busy_num(const dml_probe_host *h, dml_gemm_dtype dt,
                        bool fraction)
{
    if (!(h->busy_flops[dt] > 0))
        return json_null();
    return num(fraction ? busy_fraction(h, dt) : h->busy_flops[dt]);
}

json_t *dml_probe_job_to_json(const dml_probe_job *job)
{
    json_t *doc = json_pack(
        "{s:i, s:s, s:s, s:b, s:b, s:i, s:i, s:s, s:s, s:s, s:f}",
        "schema_version", DML_JSON_SCHEMA_VERSION, "tool", "dml-probe",
        "version", DML_VERSION, "quick", job->quick, "measured",
        job->measured, "ranks", job->ranks, "nodes", job->nodes, "layout",
        job->layout, "started_at", job->started_at, "finished_at",
        job->finished_at, "elapsed_s", job->elapsed_s);
    json_object_set_new(doc, "topology", topology_json(&job->node.topology));
    json_t *hosts = json_array();
    for (int i = 0; i < job->host_count; i++) {
        const dml_probe_host *h = &job->hosts[i];
        json_array_append_new(
            hosts,
            json_pack("{s:s, s:s, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, "
                      "s:o, s:o, s:o, s:o, s:o}",
                      "hostname", h->hostname, "cpu_model", h->cpu_model,
                      "ranks", h->ranks, "cores", h->cores, "gpus", h->gpus,
                      "mem_total_bytes", num(h->mem_total_bytes),
                      "mem_available_bytes", num(h->mem_available_bytes),
                      "triad_Bps", num(h->triad_all_Bps), "dgemm_peak_flops",
                      num(h->dgemm_all_flops), "sgemm_peak_flops",
                      num(h->sgemm_all_flops), "triad_1thread_Bps",
                      num(h->triad_1t_Bps), "busy_sgemm_flops",
                      busy_num(h, DML_GEMM_F32, false), "busy_dgemm_flops",
                      busy_num(h, DML_GEMM_F64, false),
                      "busy_sgemm_fraction", busy_num(h, DML_GEMM_F32, true),
                      "busy_dgemm_fraction",
                      busy_num(h, DML_GEMM_F64, true)));
    }
    json_object_set_new(doc, "hosts", hosts);
    if (!job->measured) {
        json_object_set_new(doc, "skipped", json_string(job->comm_skip));
        return doc;
    }
    const dml_node_report *r = &job->node;
    json_t *membw = json_object();
    if (r->have_membw) {
        json_object_set_new(
            membw, "triad_Bps",
            num(r->membw_all.kernel[DML_MEMBW_TRIAD].best_Bps));
        json_object_set_new(
            membw, "triad_1thread_Bps",
            num(r->membw_single.kernel[DML_MEMBW_TRIAD].best_Bps));
        json_object_set_new(membw, "single_thread", membw_json(&r->membw_single));
        json_object_set_new(membw, "all_cores", membw_json(&r->membw_all));
    }
    json_object_set_new(doc, "membw", membw);
    json_object_set_new(doc, "gemm", gemm_json(job));
    json_object_set_new(doc, "p2p", p2p_json(job));
    json_t *points, *fits;
    collectives_json(job->coll, job->coll_count, &points, &fits);
    json_object_set_new(doc, "collectives", points);
    json_object_set_new(doc, "collective_fits", fits);
    if (job->comm_skip[0])
        json_object_set_new(doc, "collectives_skipped",
                            json_string(job->comm_skip));
    json_t *gpu = json_object();
    json_object_set_new(gpu, "count", json_integer(r->gpu_count));
    if (r->gpu_skip[0])
        json_object_set_new(gpu, "skipped", json_string(r->gpu_skip));
    /* the launch floors a cluster spec's GPU device takes (issue 11) */
    double kfloor = 0;
    for (int i = 0; i < r->gpu_count; i++) {
        double f = dml_gpu_gemm_kernel_floor(&r->gpu[i]);
        if (f > kfloor)
            kfloor = f;
    }
    if (kfloor > 0)
        json_object_set_new(gpu, "kernel_floor_s", json_real(kfloor));
    if (job->nccl_count) {
        collectives_json(job->nccl, job->nccl_count, &points, &fits);
        json_object_set_new(gpu, "nccl", points);
        json_object_set_new(gpu, "nccl_fits", fits);
        json_object_set_new(
            gpu, "collective_floor_s",
            json_real(dml_coll_floor(job->nccl, job->nccl_count)));
    } else if (job->nccl_skip[0]) {
        json_object_set_new(gpu, "nccl_skipped", json_string(job->nccl_skip));
    }
    json_object_set_new(doc, "gpu", gpu);
    return doc;
}

/* ---- cluster spec ------------------------------------------------------------ */

/* Hosts of one kind share a node group: same CPU, core count and memory
 * (to the GB, since MemAvailable moves). */
static bool same_kind(const dml_probe_host *a, const dml_probe_host *b)
{
    return strcmp(a->cpu_model, b->cpu_model) == 0 && a->cores == b->cores &&
           a->gpus == b->gpus &&
           fabs(a->mem_total_bytes - b->mem_total_bytes) < 1e9;
}

/* Stable across probe runs of the same hardware (measured figures move;
 * the fingerprint must not, or calibration history would scatter). */
static void stable_fingerprint(const dml_probe_job *job, char *out,
                               size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    char buf[256];
    for (int i = 0; i < job->host_count; i++) {
        const dml_probe_host *p = &job->hosts[i];
        snprintf(buf, sizeof buf, "%s|%d|%d|%d|%.0f|", p->cpu_model, p->cores,
                 p->pus, p->gpus, floor(p->mem_total_bytes / 1e9));
        for (const char *c = buf; *c; c++) {
            h ^= (unsigned char)*c;
            h *= 1099511628211ULL;
        }
    }
    snprintf(out, size, "%016llx", (unsigned long long)h);
}

/*
 * A device's (one core's) GEMM rate when every core of the node computes
 * at once, as mem_bw_Bps below is its share of the all-core STREAM: the
 * all-core peak per core, never above one core alone (0: not measured,
 * one core's). Where the cores run at their single-core rate this is that
 * rate; where they do not (all-core clocks, a shared memory bus, or
 * nodes that share one machine's cores: containers, scripts/emu-cluster,
 * whose nodes run their node probes at the same time, as their ranks
 * will compute) it is what each rank of a full node gets (issue 14).
 */
static double core_share(double one_core, double all_cores, int cores)
{
    if (!(all_cores > 0))
        return one_core;
    double per_core = all_cores / cores;
    return per_core < one_core ? per_core : one_core;
}

/* The fraction of its solo speed a rank of node h kept while every rank
 * of the job computed (gemm_busy.h): busy over the node probe's median at
 * the same shape and threads, at most 1 (1: not measured). A core's
 * share: with one rank a node of two cores at a quota of 0.3 of a core,
 * the rank's two threads reach 0.3 of one and the fraction is 0.15, so
 * the node's device (both cores) is 0.3 of a core. */
static double busy_fraction(const dml_probe_host *h, dml_gemm_dtype dt)
{
    if (!(h->busy_flops[dt] > 0) || !(h->solo_flops[dt] > 0))
        return 1.0;
    double f = h->busy_flops[dt] / h->solo_flops[dt];
    return f < 1.0 ? f : 1.0;
}

/* A node's device as measured: fp64 and fp32 GEMM peak per core with every
 * core busy, and each core's share of the all-core STREAM triad; each no
 * more than the one-core figure times the fraction the busy probe kept.
 * That bound is what sees cores shared between nodes when the nodes'
 * all-core sweeps did not overlap in time (their best samples then come
 * from moments the other node was idle), and CPU quotas, which no burst
 * shorter than a quota period sees; the time share a quota or a shared
 * core leaves a rank slows its memory traffic as much as its GEMMs. */
enum { SPEED_FP64, SPEED_FP32, SPEED_MEMBW, SPEEDS };

static void host_speeds(const dml_probe_host *h, double s[SPEEDS])
{
    int cores = h->cores > 0 ? h->cores : 1;
    double f64 = busy_fraction(h, DML_GEMM_F64);
    double f32 = busy_fraction(h, DML_GEMM_F32);
    s[SPEED_FP64] = fmin(core_share(h->dgemm_1t_flops, h->dgemm_all_flops,
                                    cores),
                         h->dgemm_1t_flops * f64);
    s[SPEED_FP32] = fmin(core_share(h->sgemm_1t_flops, h->sgemm_all_flops,
                                    cores),
                         h->sgemm_1t_flops * f32);
    s[SPEED_MEMBW] = h->triad_all_Bps / cores;
    if (h->triad_1t_Bps > 0)
        s[SPEED_MEMBW] = fmin(s[SPEED_MEMBW], h->triad_1t_Bps * f32);
}

/* Group of node h's kind at speeds sp (host_speeds, or a group's mean). */
static void fill_cpu_group(const dml_probe_job *job, const dml_probe_host *h,
                           const double sp[SPEEDS], dml_node_group *g)
{
    dml_node_group_init(g);
    /* A host name (from hwloc or gethostname) need not be a name. */
    dml_name_from_text(h->hostname, "node", g->name, sizeof g->name);
    g->nodes = 1;
    int cores = h->cores > 0 ? h->cores : 1;
    g->devices_per_node = cores;
    dml_device_spec *d = &g->device;
    d->type = DML_DEVICE_CPU;
    snprintf(d->model, sizeof d->model, "%s",
             h->cpu_model[0] ? h->cpu_model : "cpu");
    d->cores = 1;
    d->peak_flops[DML_DTYPE_FP64] = sp[SPEED_FP64];
    d->peak_flops[DML_DTYPE_FP32] = sp[SPEED_FP32];
    d->mem_bytes = h->mem_available_bytes / cores;
    /* Each rank's share when every core streams at once. */
    d->mem_bw_Bps = sp[SPEED_MEMBW];
    /* mem_bw_Bps is already what STREAM reached. */
    d->membound_efficiency = 1.0;
    const dml_gemm_result *gr = &job->node.gemm;
    for (int i = 0; i < gr->point_count && d->gemm_count < DML_GEMM_POINTS_MAX;
         i++) {
        if (gr->points[i].threads != 1 || gr->points[i].efficiency <= 0)
            continue;
        d->gemm[d->gemm_count].dtype = gr->points[i].dtype == DML_GEMM_F64
                                           ? DML_DTYPE_FP64
                                           : DML_DTYPE_FP32;
        d->gemm[d->gemm_count].m = gr->points[i].m;
        d->gemm[d->gemm_count].n = gr->points[i].n;
        d->gemm[d->gemm_count].k = gr->points[i].k;
        d->gemm[d->gemm_count].efficiency =
            fmin(1.0, gr->points[i].efficiency);
        d->gemm_count++;
    }
}

static void fill_links(const dml_probe_job *job, dml_node_group *g)
{
    for (size_t i = 0; i < job->p2p_count; i++) {
        const dml_p2p_result *r = &job->p2p[i];
        dml_link_level lvl =
            strcmp(r->level, "inter_node") == 0 ? DML_LINK_INTER : DML_LINK_INTRA;
        if (r->latency_s <= 0 || r->bandwidth_Bps <= 0)
            continue;
        g->links[lvl].present = true;
        g->links[lvl].latency_s = r->latency_s;
        g->links[lvl].bw_Bps = r->bandwidth_Bps;
        g->links[lvl].efficiency = 1.0; /* measured, so achievable */
        /* per device (docs/formats.md): what each rank gets when all of a
         * node's ranks cross at once, where they share the node's links */
        if (lvl == DML_LINK_INTER && job->inter_share_Bps > 0 &&
            job->inter_share_Bps < r->bandwidth_Bps)
            g->links[lvl].bw_Bps = job->inter_share_Bps;
    }
    for (size_t i = 0; i < job->coll_count; i++) {
        const dml_coll_result *r = &job->coll[i];
        if (r->fit_status != DML_OK || r->fit.busbw_Bps <= 0)
            continue;
        dml_link_level lvl =
            strcmp(r->level, "inter_node") == 0 ? DML_LINK_INTER : DML_LINK_INTRA;
        g->coll[r->op][lvl].present = true;
        g->coll[r->op][lvl].alpha_s = r->fit.alpha_s;
        g->coll[r->op][lvl].busbw_Bps = r->fit.busbw_Bps;
    }
}

/* With one rank on the node (dml-probe run without mpirun) nothing
 * measured the link between a node's ranks, so the node is described as
 * one device using all its cores through BLAS threads: per the format,
 * peak = single-core peak x cores, and the node's memory and all-core
 * STREAM bandwidth are that device's. */
static void one_device_per_node(dml_node_group *g)
{
    int cores = g->devices_per_node;
    dml_device_spec *d = &g->device;
    g->devices_per_node = 1;
    d->cores = cores;
    for (int t = 0; t < DML_DTYPE_COUNT; t++)
        d->peak_flops[t] *= cores;
    d->mem_bytes *= cores;
    d->mem_bw_Bps *= cores;
}

/* Figures within DML_PROBE_GROUP_TOLERANCE of each other (the larger at
 * most 1 + tolerance times the smaller) are one speed. */
static bool same_speed(const double a[SPEEDS], const double b[SPEEDS])
{
    for (int k = 0; k < SPEEDS; k++) {
        double lo = fmin(a[k], b[k]), hi = fmax(a[k], b[k]);
        if (hi > 0 && !(hi <= lo * (1 + DML_PROBE_GROUP_TOLERANCE)))
            return false;
    }
    return true;
}

/* The job's nodes as groups: runs of consecutive nodes of one kind and
 * speed (ranks fill the nodes in order, and the cost model places them
 * group by group, so a group is a run). rep[k] is group k's first node,
 * count[k] its nodes, mean[k] its mean speeds. Past
 * DML_CLUSTER_GROUPS_MAX runs a node joins the last group. */
static int group_hosts(const dml_probe_job *job, int *rep, int64_t *count,
                       double mean[][SPEEDS])
{
    int n = 0;
    double sum[DML_CLUSTER_GROUPS_MAX][SPEEDS];
    for (int i = 0; i < job->host_count; i++) {
        const dml_probe_host *h = &job->hosts[i];
        double sp[SPEEDS];
        host_speeds(h, sp);
        bool joins = n > 0 && same_kind(&job->hosts[rep[n - 1]], h) &&
                     same_speed(mean[n - 1], sp);
        if (!joins && n < DML_CLUSTER_GROUPS_MAX) {
            rep[n] = i;
            count[n] = 0;
            memset(sum[n], 0, sizeof sum[n]);
            n++;
        }
        count[n - 1]++;
        for (int k = 0; k < SPEEDS; k++) {
            sum[n - 1][k] += sp[k];
            mean[n - 1][k] = sum[n - 1][k] / (double)count[n - 1];
        }
    }
    return n;
}

dml_status dml_probe_job_cluster_spec(const dml_probe_job *job,
                                      dml_cluster_spec *out, dml_error *err)
{
    if (!job->measured || job->host_count == 0)
        return dml_error_msg(err, DML_EINPUT,
                             "a cluster spec needs measurements, and a "
                             "foreign topology is only described");
    dml_cluster_spec_init(out);
    char name[sizeof job->hosts[0].hostname + 8];
    snprintf(name, sizeof name, "probe-%s", job->hosts[0].hostname);
    dml_name_from_text(name, "probe", out->name, sizeof out->name);
    snprintf(out->source, sizeof out->source, "dml-probe");
    snprintf(out->description, sizeof out->description,
             "measured by dml-probe %s%s on %s (%s)", DML_VERSION,
             job->quick ? " --quick" : "", job->started_at, job->layout);
    int rep[DML_CLUSTER_GROUPS_MAX];
    int64_t count[DML_CLUSTER_GROUPS_MAX];
    double mean[DML_CLUSTER_GROUPS_MAX][SPEEDS];
    out->group_count = group_hosts(job, rep, count, mean);
    for (int k = 0; k < out->group_count; k++) {
        dml_node_group *g = &out->groups[k];
        fill_cpu_group(job, &job->hosts[rep[k]], mean[k], g);
        g->nodes = count[k];
        fill_links(job, g);
        if (g->devices_per_node > 1 && !g->links[DML_LINK_INTRA].present)
            one_device_per_node(g);
        if (job->nodes > 1)
            snprintf(g->name, sizeof g->name, "group%d", k);
    }
    stable_fingerprint(job, out->fingerprint, sizeof out->fingerprint);
    return dml_cluster_spec_validate(out, err);
}

/* ---- human summary ------------------------------------------------------------ */

void dml_probe_job_print(const dml_probe_job *job, FILE *out)
{
    char a[32], b[32], c[32], d[32];
    fprintf(out, "dml-probe %s: %s%s, %.1f s\n", DML_VERSION, job->layout,
            job->quick ? ", --quick" : "", job->elapsed_s);
    dml_node_report_print(&job->node, out);
    if (job->host_count > 1) {
        fprintf(out, "\nNodes\n  %-24s %6s %12s %14s %14s %14s\n", "host",
                "cores", "triad", "dgemm", "sgemm", "sgemm busy");
        for (int i = 0; i < job->host_count; i++) {
            const dml_probe_host *h = &job->hosts[i];
            char host[4 * sizeof h->hostname];
            dml_quote_terminal(h->hostname, host, sizeof host);
            fprintf(out, "  %-24s %6d %12s %14s %14s %14s\n", host,
                    h->cores,
                    dml_units_bandwidth(h->triad_all_Bps, a, sizeof a),
                    dml_units_flops(h->dgemm_all_flops, b, sizeof b),
                    dml_units_flops(h->sgemm_all_flops, c, sizeof c),
                    dml_units_flops(h->busy_flops[DML_GEMM_F32], d,
                                    sizeof d));
        }
    }
    if (!job->measured) {
        fprintf(out, "\n(%s)\n", job->comm_skip);
        return;
    }
    if (job->host_count > 0 && job->hosts[0].busy_flops[DML_GEMM_F32] > 0) {
        const dml_probe_host *h = &job->hosts[0];
        fprintf(out,
                "\nGEMM %dx%dx%d, every rank of the job at once for %.1f s "
                "(%d thread%s each): sgemm %s, dgemm %s per rank (%.0f %% "
                "and %.0f %% of one rank alone; the cluster spec's devices "
                "are held to that fraction)\n",
                job->busy.n, job->busy.n, job->busy.n, job->busy.window_s,
                job->busy.threads, job->busy.threads == 1 ? "" : "s",
                dml_units_flops(h->busy_flops[DML_GEMM_F32], a, sizeof a),
                dml_units_flops(h->busy_flops[DML_GEMM_F64], b, sizeof b),
                100 * busy_fraction(h, DML_GEMM_F32),
                100 * busy_fraction(h, DML_GEMM_F64));
    }
    if (job->comm_skip[0]) {
        fprintf(out, "\nCommunication: skipped (%s)\n", job->comm_skip);
        return;
    }
    for (size_t i = 0; i < job->p2p_count; i++) {
        const dml_p2p_result *r = &job->p2p[i];
        double largest =
            r->npoints ? r->points[r->npoints - 1].bytes : 0;
        fprintf(out, "\nPoint-to-point, %s (ranks %d and %d): latency %s, "
                     "bandwidth %s (%s messages)\n",
                r->level, r->peer_a, r->peer_b,
                dml_units_seconds(r->latency_s, a, sizeof a),
                dml_units_bandwidth(r->bandwidth_Bps, b, sizeof b),
                dml_units_bytes_binary(largest, d, sizeof d));
        dml_p2p_write_table(out, r, DML_P2P_TABLE_LATENCY, NULL);
        dml_p2p_write_table(out, r, DML_P2P_TABLE_BANDWIDTH, NULL);
    }
    if (job->inter_share_Bps > 0)
        fprintf(out, "\nBetween nodes with every rank of a node sending at "
                     "once: %s per rank (the cluster spec's per-device "
                     "inter_node bandwidth where it is below the pair's)\n",
                dml_units_bandwidth(job->inter_share_Bps, b, sizeof b));
    fprintf(out, "\nCollectives (MPI), alpha-beta fits (busbw from the "
                 "largest sizes)\n");
    fprintf(out, "  %-14s %-11s %6s %12s %14s %9s %9s\n", "op", "level",
            "ranks", "alpha", "busbw", "rms resid", "max resid");
    for (size_t i = 0; i < job->coll_count; i++) {
        const dml_coll_result *r = &job->coll[i];
        if (r->fit_status == DML_OK)
            fprintf(out, "  %-14s %-11s %6d %12s %14s %8.0f%% %8.0f%%%s\n",
                    dml_coll_op_name(r->op), r->level, r->ranks,
                    dml_units_seconds(r->fit.alpha_s, a, sizeof a),
                    dml_units_bandwidth(r->fit.busbw_Bps, b, sizeof b),
                    100 * r->fit.rms_rel_residual,
                    100 * r->fit.max_rel_residual,
                    dml_alphabeta_residual_large(&r->fit) ? "  rough fit"
                                                          : "");
        else
            fprintf(out, "  %-14s %-11s %6d %12s %14s\n",
                    dml_coll_op_name(r->op), r->level, r->ranks, "-", "-");
    }
    for (size_t i = 0; i < job->coll_count; i++) {
        fprintf(out, "\n%s, %s, %d ranks\n", dml_coll_op_name(job->coll[i].op),
                job->coll[i].level, job->coll[i].ranks);
        dml_coll_write_table(out, &job->coll[i], NULL);
    }
    if (job->nccl_count) {
        fprintf(out, "\nNCCL collectives\n");
        for (size_t i = 0; i < job->nccl_count; i++)
            dml_coll_write_table(out, &job->nccl[i], NULL);
        char fb[32];
        fprintf(out, "collective floor (smallest call, best) %s\n",
                dml_units_seconds(dml_coll_floor(job->nccl, job->nccl_count),
                                  fb, sizeof fb));
    } else {
        fprintf(out, "\nNCCL: skipped (%s)\n",
                job->nccl_skip[0] ? job->nccl_skip : "no GPU");
    }
}
