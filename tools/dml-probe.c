/*
 * dml-probe: measure this machine, or under mpirun the machines of a job,
 * and write what was found as a cluster spec and as database rows.
 *
 * A thin main(): parse options, check every input before any measuring
 * (topology, --out, the database) so that bad input costs nothing and
 * leaves nothing behind, run the probe job (probes/probe_job.h) on every
 * rank, and let rank 0 record and print the result.
 */
#include <getopt.h>
#include <jansson.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/error.h"
#include "common/file.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/units.h"
#include "common/version.h"
#include "db/db.h"
#include "db/probe_store.h"
#include "probes/probe_job.h"
#include "probes/topology.h"

static const char usage_text[] =
    "usage: [mpirun -np N] dml-probe [--quick] [--json] [--out FILE]\n"
    "                 [--db PATH] [--topology-xml FILE | --synthetic DESC]\n"
    "                 [--fake-nodes N] [--quiet]\n"
    "\n"
    "Measure the hardware: topology (hwloc), STREAM memory bandwidth, OpenBLAS\n"
    "SGEMM/DGEMM over square and transformer-shaped sizes, and under mpirun\n"
    "point-to-point latency/bandwidth (OSU method) and collectives with algbw\n"
    "and busbw (nccl-tests definitions) per level, with alpha-beta fits;\n"
    "cuBLAS and NCCL where GPUs exist. Every run is recorded in the database.\n"
    "\n"
    "  --quick            short sweeps (about 10 s on a 2-core machine,\n"
    "                     against about 100 s without)\n"
    "  --json             one JSON document on stdout instead of tables\n"
    "  --out FILE         write the measured cluster spec (docs/formats.md)\n"
    "  --db PATH          database (default: $DML_DB, else ./dml.db)\n"
    "  --topology-xml F   describe the topology in hwloc XML file F (e.g.\n"
    "                     from `lstopo node.xml` on another host); nothing\n"
    "                     is measured, since this machine is not that one\n"
    "  --synthetic DESC   the same for an hwloc synthetic description,\n"
    "                     e.g. \"pack:2 core:8 pu:2\"\n"
    "  --fake-nodes N     split the ranks into N pretend nodes to exercise\n"
    "                     the inter-node level on one machine\n"
    "  --quiet            no progress line\n"
    "  --help, --version\n"
    "\n"
    "A probe is recorded whole, in one transaction at the end, or not at\n"
    "all: SIGINT or SIGTERM while it measures stops it at once with one\n"
    "line and records nothing; one that arrives while it records lets the\n"
    "record finish first.\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or bad input,\n"
    "128+N stopped by signal N (130 SIGINT, 143 SIGTERM).\n";

typedef struct options {
    dml_cli cli;              /* --help, --version */
    bool quick, json, quiet;
    const char *out;          /* --out, or NULL */
    const char *db;           /* --db, or NULL */
    const char *xml;          /* --topology-xml, or NULL */
    const char *synthetic;    /* --synthetic, or NULL */
    long fake_nodes;          /* --fake-nodes, 0 if not given */
} options;

/* Rank as the launcher sets it, so that a usage error found before
 * MPI_Init is printed once, not once per rank. */
static bool launcher_rank_zero(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                          "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v)
            return atoi(v) == 0;
    }
    return true;
}

enum { OPT_QUICK = DML_CLI_OPT_FIRST, OPT_JSON, OPT_OUT, OPT_DB, OPT_XML,
       OPT_SYN, OPT_FAKE, OPT_QUIET };

static const struct option longopts[] = {
    {"quick", no_argument, NULL, OPT_QUICK},
    {"json", no_argument, NULL, OPT_JSON},
    {"out", required_argument, NULL, OPT_OUT},
    {"db", required_argument, NULL, OPT_DB},
    {"topology-xml", required_argument, NULL, OPT_XML},
    {"synthetic", required_argument, NULL, OPT_SYN},
    {"fake-nodes", required_argument, NULL, OPT_FAKE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    DML_CLI_OPTIONS_END,
};

static dml_status on_option(void *ctx, int id, const char *arg,
                            dml_error *err)
{
    options *o = ctx;
    switch (id) {
    case OPT_QUICK: o->quick = true; break;
    case OPT_JSON: o->json = true; break;
    case OPT_OUT: o->out = arg; break;
    case OPT_DB: o->db = arg; break;
    case OPT_XML: o->xml = arg; break;
    case OPT_SYN: o->synthetic = arg; break;
    case OPT_QUIET: o->quiet = true; break;
    case OPT_FAKE:
        if (!dml_units_parse_long(arg, 1, 1 << 20, &o->fake_nodes))
            return dml_error_msg(err, DML_EUSAGE,
                                 "--fake-nodes: \"%s\" is not a positive "
                                 "whole number", arg);
        break;
    }
    return DML_OK;
}

static dml_status parse_options(int argc, char **argv, options *o,
                                dml_error *err)
{
    memset(o, 0, sizeof *o);
    o->cli.style = DML_CLI_BARE;
    DML_CHECK(dml_cli_parse(&o->cli, argc, argv, longopts, on_option, o,
                            err));
    if (o->xml && o->synthetic)
        return dml_error_msg(err, DML_EUSAGE,
                             "--topology-xml and --synthetic exclude each "
                             "other");
    if (o->out && (o->xml || o->synthetic))
        return dml_error_msg(err, DML_EUSAGE,
                             "--out needs measurements, and a topology from "
                             "--topology-xml or --synthetic is only described");
    return DML_OK;
}

static dml_probe_job_options job_options(const options *o)
{
    dml_probe_job_options jo = {.quick = o->quick, .progress = !o->quiet,
                                .fake_nodes = (int)o->fake_nodes};
    jo.topology.kind = DML_TOPOLOGY_LIVE;
    if (o->xml) {
        jo.topology.kind = DML_TOPOLOGY_XML_FILE;
        jo.topology.text = o->xml;
    } else if (o->synthetic) {
        jo.topology.kind = DML_TOPOLOGY_SYNTHETIC;
        jo.topology.text = o->synthetic;
    }
    return jo;
}

/* Rank 0: every input checked in the order that leaves nothing behind. */
static dml_status check_inputs(const options *o, const dml_probe_job_options *jo,
                               dml_db **db, dml_error *err)
{
    if (jo->topology.kind != DML_TOPOLOGY_LIVE) {
        dml_topology *t = NULL;
        DML_CHECK(dml_topology_load(&jo->topology, &t, err));
        dml_topology_free(t);
    }
    if (o->out)
        DML_CHECK(dml_file_check_writable(o->out, err));
    return dml_db_open(dml_db_default_path(o->db), db, err);
}

static dml_status record(dml_db *db, const dml_probe_job *job,
                         const char *summary_json, const char *spec_json,
                         const dml_cluster_spec *spec, int64_t *run_id,
                         dml_error *err)
{
    dml_measurement *rows = NULL;
    int nrows = 0;
    DML_CHECK(dml_probe_job_measurements(job, &rows, &nrows, err));
    char *xml = NULL;
    dml_status s = dml_topology_export_xml(job->node.topo, &xml, err);
    if (s != DML_OK) {
        free(rows);
        return s;
    }
    const dml_topology_summary *t = &job->node.topology;
    dml_db_probe_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.host.hostname, sizeof rec.host.hostname, "%s",
             t->hostname[0] ? t->hostname : "unknown");
    snprintf(rec.host.cpu_model, sizeof rec.host.cpu_model, "%s", t->cpu_model);
    rec.host.packages = t->packages;
    rec.host.numa_nodes = t->numa_nodes;
    rec.host.cores = t->cores;
    rec.host.pus = t->pus;
    rec.host.mem_bytes = t->mem_total_bytes;
    rec.host.mem_available_bytes = t->mem_available_bytes;
    rec.host.gpus = t->gpus;
    rec.host.hwloc_xml = xml;
    snprintf(rec.run.started_at, sizeof rec.run.started_at, "%s",
             job->started_at);
    snprintf(rec.run.finished_at, sizeof rec.run.finished_at, "%s",
             job->finished_at);
    rec.run.ranks = job->ranks;
    rec.run.nodes = job->nodes;
    rec.run.quick = job->quick;
    snprintf(rec.run.dml_version, sizeof rec.run.dml_version, "%s",
             DML_VERSION);
    snprintf(rec.run.status, sizeof rec.run.status, "%s",
             job->measured ? "ok" : "topology");
    rec.run.summary_json = summary_json;
    rec.measurements = rows;
    rec.n_measurements = (size_t)nrows;
    dml_db_cluster cl;
    if (spec) {
        memset(&cl, 0, sizeof cl);
        snprintf(cl.name, sizeof cl.name, "%s", spec->name);
        snprintf(cl.fingerprint, sizeof cl.fingerprint, "%s",
                 spec->fingerprint);
        snprintf(cl.source, sizeof cl.source, "%s", spec->source);
        cl.spec_json = spec_json;
        rec.cluster = &cl;
    }
    s = dml_db_record_probe(db, &rec, run_id, NULL, err);
    free(xml);
    free(rows);
    return s;
}

/* Rank 0, after the job: build the outputs, record, print. */
static dml_status finish(const options *o, dml_db *db, const dml_probe_job *job,
                         dml_error *err)
{
    json_t *doc = dml_probe_job_to_json(job);
    json_t *spec_json = NULL;
    dml_cluster_spec spec;
    bool have_spec = false;
    char *spec_text = NULL, *doc_text = NULL;
    dml_status s = DML_OK;
    if (job->measured) {
        s = dml_probe_job_cluster_spec(job, &spec, err);
        if (s == DML_OK) {
            have_spec = true;
            spec_json = dml_cluster_spec_to_json(&spec);
            spec_text = json_dumps(spec_json, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        }
    }
    int64_t run_id = 0;
    if (s == DML_OK) {
        json_object_set_new(doc, "db", json_pack("{s:s}", "path",
                                                 dml_db_path(db)));
        doc_text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (!doc_text || (have_spec && !spec_text))
            s = dml_error_msg(err, DML_ENOMEM, "out of memory rendering JSON");
    }
    if (s == DML_OK)
        s = record(db, job, doc_text, spec_text, have_spec ? &spec : NULL,
                   &run_id, err);
    if (s == DML_OK && o->out) {
        size_t len = strlen(spec_text);
        spec_text[len] = '\n'; /* json_dumps leaves room for the NUL */
        s = dml_file_write_atomic(o->out, spec_text, len + 1, err);
        spec_text[len] = '\0';
    }
    if (s == DML_OK) {
        if (o->json) {
            json_object_set_new(json_object_get(doc, "db"), "probe_run_id",
                                json_integer(run_id));
            if (o->out)
                json_object_set_new(doc, "cluster_spec", json_string(o->out));
            json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
            fputc('\n', stdout);
        } else {
            dml_probe_job_print(job, stdout);
            printf("\nRecorded as probe run %lld in %s", (long long)run_id,
                   dml_db_path(db));
            if (o->out)
                printf("; cluster spec written to %s", o->out);
            printf(".\n");
        }
        if (fflush(stdout) != 0)
            s = dml_error_msg(err, DML_EIO, "cannot write to standard output");
    }
    free(spec_text);
    free(doc_text);
    json_decref(spec_json);
    json_decref(doc);
    return s;
}

int main(int argc, char **argv)
{
    dml_log_init(argv[0]);
    options o;
    dml_error err;
    dml_error_clear(&err);
    if (parse_options(argc, argv, &o, &err) != DML_OK)
        return launcher_rank_zero()
                   ? dml_cli_fail(stderr, "dml-probe", err.status, &err)
                   : dml_status_exit_code(err.status);
    if (dml_cli_print_help_version(&o.cli, "dml-probe", usage_text, stdout))
        return 0;
    if (o.quiet)
        dml_log_set_level(DML_LOG_ERROR);

    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* Measuring leaves nothing to tidy (the record is one transaction at
     * the end, --out is written after it): a signal ends the process at
     * once, rank 0 saying so. Installed after MPI_Init so that it is ours
     * that runs. */
    dml_interrupt_install(DML_INTERRUPT_EXIT, rank == 0 ? "dml-probe" : NULL,
                          "nothing recorded");
    dml_probe_job_options jo = job_options(&o);
    dml_db *db = NULL;
    dml_status s = DML_OK;
    if (rank == 0)
        s = check_inputs(&o, &jo, &db, &err);
    int verdict = (int)s;
    MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);
    dml_probe_job job;
    memset(&job, 0, sizeof job);
    if (verdict == DML_OK) {
        s = dml_probe_job_run(MPI_COMM_WORLD, &jo, &job, &err);
        /* From here on a signal waits for the record and --out to be
         * written whole. A handler already on its way to _exit (in another
         * thread) must not race a transaction: wait for it. */
        if (!dml_interrupt_defer())
            for (;;)
                pause();
        if (s == DML_OK && rank == 0)
            s = finish(&o, db, &job, &err);
    } else {
        s = (dml_status)verdict;
    }
    /* The job's ranks agree on failures, so rank 0 speaks for all unless
     * only another rank failed. */
    int s0 = (int)s;
    if (verdict == DML_OK)
        MPI_Bcast(&s0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int code = dml_status_exit_code(s);
    if (s != DML_OK && (rank == 0 || (verdict == DML_OK && s0 == DML_OK)))
        code = dml_cli_fail(stderr, "dml-probe", err.status, &err);
    int sig = dml_interrupt_signal();
    if (sig) {
        if (s == DML_OK && rank == 0)
            fprintf(stderr, "dml-probe: interrupted by %s after the probe "
                    "was recorded\n", dml_interrupt_name(sig));
        code = dml_interrupt_exit_code(sig);
    }
    dml_probe_job_free(&job);
    dml_db_close(db);
    /* One rank failing alone (say, MPI trouble) must not leave the others
     * waiting: agree on the worst exit code. */
    int worst = code;
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return rank == 0 ? worst : code;
}
