/*
 * schema.c: the schema, as numbered forward-only migrations.
 *
 * Migration N takes a database from user_version N-1 to N. A released
 * migration is never edited: a change is a new migration appended to the
 * list (and DML_DB_SCHEMA_VERSION raised), so every database ever written
 * reaches the same schema by the same steps. schema.md explains the tables
 * for people who query the file with sqlite3.
 *
 * Conventions of the schema: ids are INTEGER PRIMARY KEY; times are ISO 8601
 * UTC text; quantities are SI units in REAL columns named with their unit
 * where it is not obvious; NULL means unknown (a probe or run that did not
 * measure it), never zero.
 */
#include "db_internal.h"

/* 1: every table. */
static const char migration_1[] =
    "CREATE TABLE hosts (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  hostname TEXT NOT NULL CHECK (hostname <> ''),\n"
    "  topology_hash TEXT NOT NULL DEFAULT '',\n" /* FNV-1a of hwloc_xml */
    "  cpu_model TEXT,\n"
    "  packages INTEGER,\n"
    "  numa_nodes INTEGER,\n"
    "  cores INTEGER,\n"
    "  pus INTEGER,\n"
    "  mem_bytes REAL,\n"
    "  mem_available_bytes REAL,\n"
    "  gpus INTEGER NOT NULL DEFAULT 0,\n"
    "  hwloc_xml TEXT,\n"
    "  first_seen TEXT NOT NULL,\n"
    "  last_seen TEXT NOT NULL,\n"
    "  UNIQUE (hostname, topology_hash)\n"
    ");\n"
    "CREATE TABLE probe_runs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  host_id INTEGER REFERENCES hosts(id),\n"
    "  ranks INTEGER NOT NULL DEFAULT 1 CHECK (ranks >= 1),\n"
    "  nodes INTEGER NOT NULL DEFAULT 1 CHECK (nodes >= 1),\n"
    "  quick INTEGER NOT NULL DEFAULT 0 CHECK (quick IN (0, 1)),\n"
    "  dml_version TEXT,\n"
    "  status TEXT NOT NULL DEFAULT 'ok',\n"
    "  summary_json TEXT\n"
    ");\n"
    "CREATE TABLE measurements (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  probe_run_id INTEGER NOT NULL\n"
    "    REFERENCES probe_runs(id) ON DELETE CASCADE,\n"
    "  kind TEXT NOT NULL CHECK (kind <> ''),\n"
    "  op TEXT NOT NULL CHECK (op <> ''),\n"
    "  level TEXT NOT NULL DEFAULT '',\n"
    "  ranks INTEGER NOT NULL DEFAULT 1,\n"
    "  threads INTEGER NOT NULL DEFAULT 1,\n"
    "  bytes REAL NOT NULL DEFAULT 0,\n"
    "  time_s REAL,\n"
    "  time_median_s REAL,\n"
    "  algbw_Bps REAL,\n"
    "  busbw_Bps REAL,\n"
    "  value REAL,\n"
    "  unit TEXT NOT NULL DEFAULT '',\n"
    "  detail TEXT NOT NULL DEFAULT ''\n"
    ");\n"
    "CREATE INDEX measurements_by_run ON measurements(probe_run_id, kind, op);\n"
    "CREATE TABLE clusters (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL CHECK (name <> ''),\n"
    "  fingerprint TEXT NOT NULL DEFAULT '',\n"
    "  source TEXT NOT NULL DEFAULT 'user',\n"
    "  spec_hash TEXT NOT NULL,\n" /* FNV-1a of spec_json */
    "  spec_json TEXT,\n"
    "  created_at TEXT NOT NULL,\n"
    "  probe_run_id INTEGER REFERENCES probe_runs(id) ON DELETE SET NULL,\n"
    "  UNIQUE (name, fingerprint, spec_hash)\n"
    ");\n"
    "CREATE INDEX clusters_by_fingerprint ON clusters(fingerprint);\n"
    "CREATE TABLE models (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL CHECK (name <> ''),\n"
    "  type TEXT NOT NULL CHECK (type <> ''),\n"
    "  spec_hash TEXT NOT NULL UNIQUE,\n"
    "  spec_json TEXT NOT NULL,\n"
    "  created_at TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE calibrations (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  cluster_fingerprint TEXT NOT NULL CHECK (cluster_fingerprint <> ''),\n"
    "  created_at TEXT NOT NULL,\n"
    "  n_runs INTEGER NOT NULL CHECK (n_runs >= 0),\n"
    "  params_json TEXT NOT NULL,\n"
    "  mape_before REAL,\n"
    "  mape_after REAL,\n"
    "  loo_mape_before REAL,\n"
    "  loo_mape_after REAL,\n"
    "  interval_pct REAL\n"
    ");\n"
    "CREATE INDEX calibrations_by_fingerprint\n"
    "  ON calibrations(cluster_fingerprint, id);\n"
    "CREATE TABLE plans (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  created_at TEXT NOT NULL,\n"
    "  model_id INTEGER NOT NULL REFERENCES models(id),\n"
    "  cluster_id INTEGER NOT NULL REFERENCES clusters(id),\n"
    "  dp INTEGER NOT NULL CHECK (dp >= 1),\n"
    "  tp INTEGER NOT NULL CHECK (tp >= 1),\n"
    "  pp INTEGER NOT NULL CHECK (pp >= 1),\n"
    "  v INTEGER NOT NULL DEFAULT 1 CHECK (v >= 1),\n"
    "  mbs INTEGER NOT NULL CHECK (mbs >= 1),\n"
    "  microbatches INTEGER NOT NULL CHECK (microbatches >= 1),\n"
    "  global_batch INTEGER NOT NULL CHECK (global_batch >= 1),\n"
    "  zero INTEGER NOT NULL DEFAULT 0 CHECK (zero BETWEEN 0 AND 3),\n"
    "  recompute TEXT NOT NULL DEFAULT 'none'\n"
    "    CHECK (recompute IN ('none', 'selective', 'full')),\n"
    "  sp INTEGER NOT NULL DEFAULT 0 CHECK (sp IN (0, 1)),\n"
    "  schedule TEXT NOT NULL DEFAULT '1f1b',\n"
    "  threads_per_rank INTEGER NOT NULL DEFAULT 1\n"
    "    CHECK (threads_per_rank >= 1),\n"
    "  predicted_step_s REAL,\n"
    "  predicted_mem_bytes REAL,\n"
    "  predicted_tokens_per_s REAL,\n"
    "  mfu REAL,\n"
    "  calibration_id INTEGER REFERENCES calibrations(id) ON DELETE SET NULL,\n"
    "  plan_json TEXT\n"
    ");\n"
    "CREATE INDEX plans_by_model_cluster ON plans(model_id, cluster_id);\n"
    "CREATE TABLE runs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  plan_id INTEGER NOT NULL REFERENCES plans(id),\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  status TEXT NOT NULL DEFAULT 'running'\n"
    "    CHECK (status IN ('running', 'ok', 'failed')),\n"
    "  ranks INTEGER NOT NULL CHECK (ranks >= 1),\n"
    "  layout TEXT,\n"
    "  hosts TEXT,\n"
    "  steps INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0),\n"
    "  predicted_step_s REAL,\n"
    "  measured_step_s REAL,\n"
    "  peak_rss_bytes REAL,\n"
    "  final_loss REAL,\n"
    "  test_accuracy REAL,\n"
    "  error TEXT\n"
    ");\n"
    "CREATE INDEX runs_by_plan ON runs(plan_id);\n"
    "CREATE TABLE steps (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  step INTEGER NOT NULL CHECK (step >= 0),\n"
    "  loss REAL,\n"
    "  lr REAL,\n"
    "  global_batch INTEGER,\n"
    "  step_s REAL,\n"
    "  compute_s REAL,\n"
    "  tp_comm_s REAL,\n"
    "  pp_comm_s REAL,\n"
    "  dp_comm_s REAL,\n"
    "  pipeline_idle_s REAL,\n"
    "  optimizer_s REAL,\n"
    "  samples_per_s REAL,\n"
    "  noise_scale REAL,\n"
    "  PRIMARY KEY (run_id, step)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE rank_timings (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  rank INTEGER NOT NULL CHECK (rank >= 0),\n"
    "  host TEXT,\n"
    "  step_median_s REAL,\n"
    "  compute_s REAL,\n"
    "  comm_s REAL,\n"
    "  idle_s REAL,\n"
    "  peak_rss_bytes REAL,\n"
    "  PRIMARY KEY (run_id, rank)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE checkpoints (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  step INTEGER NOT NULL CHECK (step >= 0),\n"
    "  dir TEXT NOT NULL CHECK (dir <> ''),\n"
    "  manifest_path TEXT,\n"
    "  bytes REAL,\n"
    "  sha256 TEXT,\n"
    "  created_at TEXT NOT NULL,\n"
    "  valid INTEGER NOT NULL DEFAULT 1 CHECK (valid IN (0, 1))\n"
    ");\n"
    "CREATE INDEX checkpoints_by_run ON checkpoints(run_id, step);\n"
    "CREATE TABLE events (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  at TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL CHECK (kind <> ''),\n"
    "  rank INTEGER,\n"
    "  step INTEGER,\n"
    "  message TEXT\n"
    ");\n"
    "CREATE INDEX events_by_run ON events(run_id, id);\n";

/* The prediction a run is compared with, its measurement and the signed
 * error, as both views of migration 2 give them, so the two cannot
 * disagree on what error_pct means. The prediction is the run's own when
 * it has one, as the executor may re-predict with a newer calibration.
 * Text of migration 2, frozen with it: a later view defines its own. */
#define M2_RUN_ERROR_COLUMNS                                                  \
    "  coalesce(r.predicted_step_s, p.predicted_step_s) AS predicted_step_s,\n" \
    "  r.measured_step_s AS measured_step_s,\n"                               \
    "  CASE WHEN r.measured_step_s > 0 THEN\n"                                \
    "    100.0 * (coalesce(r.predicted_step_s, p.predicted_step_s)\n"         \
    "             - r.measured_step_s) / r.measured_step_s\n"                 \
    "  END AS error_pct,\n"

/* 2: the views people and dml-history read. The two views over runs are
 * macros because migration 3 rebuilds the runs table and must drop and
 * create them again with the same text, and migration 4 makes them again
 * with columns appended: each is its text up to its last column (_AS),
 * that column, and its FROM clause (_FROM), joined into the same bytes as
 * when migration 2 was released. */
#define M2_V_TUNING_HISTORY \
    M2_V_TUNING_HISTORY_AS \
    "  r.started_at AS run_started_at\n" \
    M2_V_TUNING_HISTORY_FROM

#define M2_V_TUNING_HISTORY_AS \
    /* Every plan, with each of its runs (a plan never run appears once with \
     * NULL measurements). */ \
    "CREATE VIEW v_tuning_history AS\n" \
    "SELECT p.id AS plan_id,\n" \
    "  r.id AS run_id,\n" \
    "  p.created_at AS planned_at,\n" \
    "  mo.name AS model,\n" \
    "  c.name AS cluster,\n" \
    "  c.fingerprint AS cluster_fingerprint,\n" \
    "  'dp=' || p.dp || ' tp=' || p.tp || ' pp=' || p.pp || ' v=' || p.v ||\n" \
    "  ' mbs=' || p.mbs || ' mb=' || p.microbatches ||\n" \
    "  ' gb=' || p.global_batch || ' zero=' || p.zero ||\n" \
    "  ' recompute=' || p.recompute || ' sp=' || p.sp ||\n" \
    "  ' ' || p.schedule || ' threads=' || p.threads_per_rank AS config,\n" \
    "  p.calibration_id AS calibration_id,\n" \
    M2_RUN_ERROR_COLUMNS \
    "  r.status AS status,\n"
#define M2_V_TUNING_HISTORY_FROM \
    "FROM plans p\n" \
    "  JOIN models mo ON mo.id = p.model_id\n" \
    "  JOIN clusters c ON c.id = p.cluster_id\n" \
    "  LEFT JOIN runs r ON r.plan_id = p.id;\n"

#define M2_V_RUNS \
    M2_V_RUNS_AS \
    "  r.error AS error\n" \
    M2_V_RUNS_FROM

#define M2_V_RUNS_AS \
    /* Runs with the configuration they ran and how they went. */ \
    "CREATE VIEW v_runs AS\n" \
    "SELECT r.id AS run_id,\n" \
    "  r.plan_id AS plan_id,\n" \
    "  mo.name AS model,\n" \
    "  c.name AS cluster,\n" \
    "  p.dp AS dp, p.tp AS tp, p.pp AS pp, p.v AS v, p.mbs AS mbs,\n" \
    "  p.microbatches AS microbatches, p.global_batch AS global_batch,\n" \
    "  p.zero AS zero, p.recompute AS recompute, p.sp AS sp,\n" \
    "  p.schedule AS schedule, p.threads_per_rank AS threads_per_rank,\n" \
    "  r.status AS status,\n" \
    "  r.ranks AS ranks,\n" \
    "  r.steps AS steps,\n" \
    "  r.started_at AS started_at,\n" \
    "  r.finished_at AS finished_at,\n" \
    /* julianday() carries about a millisecond of rounding error; the \
     * times themselves are whole seconds. */ \
    "  round((julianday(r.finished_at) - julianday(r.started_at)) * 86400.0,\n" \
    "        3) AS duration_s,\n" \
    M2_RUN_ERROR_COLUMNS \
    "  r.final_loss AS final_loss,\n" \
    "  r.test_accuracy AS test_accuracy,\n" \
    "  r.peak_rss_bytes AS peak_rss_bytes,\n"
#define M2_V_RUNS_FROM \
    "FROM runs r\n" \
    "  JOIN plans p ON p.id = r.plan_id\n" \
    "  JOIN models mo ON mo.id = p.model_id\n" \
    "  JOIN clusters c ON c.id = p.cluster_id;\n"

static const char migration_2[] =
    /* One row per probe run with the headline figures of its measurements:
     * the best of each, since the minimum time (maximum rate) is what the
     * hardware can do and the rest is noise from a shared machine. */
    "CREATE VIEW v_probe_summary AS\n"
    "SELECT pr.id AS probe_run_id,\n"
    "  h.hostname AS hostname,\n"
    "  pr.started_at AS started_at,\n"
    "  pr.finished_at AS finished_at,\n"
    "  pr.ranks AS ranks,\n"
    "  pr.nodes AS nodes,\n"
    "  pr.quick AS quick,\n"
    "  pr.status AS status,\n"
    "  pr.dml_version AS dml_version,\n"
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n"
    "     AND m.kind = 'membw' AND m.op = 'triad') AS triad_Bps,\n"
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n"
    "     AND m.kind = 'gemm' AND m.op = 'dgemm') AS dgemm_flops,\n"
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n"
    "     AND m.kind = 'gemm' AND m.op = 'sgemm') AS sgemm_flops,\n"
    "  (SELECT min(m.time_s) FROM measurements m WHERE m.probe_run_id = pr.id\n"
    "     AND m.kind = 'p2p' AND m.op = 'latency' AND m.time_s > 0)\n"
    "     AS p2p_latency_s,\n"
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n"
    "     AND m.kind = 'p2p' AND m.op = 'bandwidth') AS p2p_bw_Bps,\n"
    "  (SELECT count(*) FROM measurements m WHERE m.probe_run_id = pr.id)\n"
    "     AS n_measurements\n"
    "FROM probe_runs pr LEFT JOIN hosts h ON h.id = pr.host_id;\n"
    M2_V_TUNING_HISTORY
    M2_V_RUNS;

/* 3: runs may end 'interrupted' (stopped by SIGINT or SIGTERM, as opposed
 * to 'failed'). SQLite cannot change a CHECK constraint in place, so the
 * table is rebuilt as its documentation describes (lang_altertable.html,
 * "making other kinds of table schema changes"): foreign keys are off
 * while this runs (dml__db_migrate_to), so dropping the old table does not
 * cascade into steps, rank_timings, checkpoints and events, whose
 * REFERENCES runs(id) name the new table once it is renamed. The views
 * that read runs are dropped first and made again, unchanged. */
static const char migration_3[] =
    "DROP VIEW v_tuning_history;\n"
    "DROP VIEW v_runs;\n"
    "CREATE TABLE runs_new (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  plan_id INTEGER NOT NULL REFERENCES plans(id),\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  status TEXT NOT NULL DEFAULT 'running'\n"
    "    CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),\n"
    "  ranks INTEGER NOT NULL CHECK (ranks >= 1),\n"
    "  layout TEXT,\n"
    "  hosts TEXT,\n"
    "  steps INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0),\n"
    "  predicted_step_s REAL,\n"
    "  measured_step_s REAL,\n"
    "  peak_rss_bytes REAL,\n"
    "  final_loss REAL,\n"
    "  test_accuracy REAL,\n"
    "  error TEXT\n"
    ");\n"
    "INSERT INTO runs_new SELECT * FROM runs;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_new RENAME TO runs;\n"
    "CREATE INDEX runs_by_plan ON runs(plan_id);\n"
    M2_V_TUNING_HISTORY
    M2_V_RUNS;

/* 4: the runtime a plan is for and its attention kernel (issue 11), as
 * columns of plans. Plans recorded before were priced for Megatron-LM with
 * materialized attention, which the defaults say. ADD COLUMN takes a
 * CHECK that reads only the new column; the views that show the
 * configuration are made again with both, appended after every column
 * they had (so that a reader by position finds the old ones where they
 * were). */
static const char migration_4[] =
    "ALTER TABLE plans ADD COLUMN framework TEXT NOT NULL\n"
    "  DEFAULT 'megatron' CHECK (framework IN ('megatron', 'deepspeed'));\n"
    "ALTER TABLE plans ADD COLUMN attention TEXT NOT NULL\n"
    "  DEFAULT 'materialized'\n"
    "  CHECK (attention IN ('materialized', 'flash'));\n"
    "DROP VIEW v_tuning_history;\n"
    "DROP VIEW v_runs;\n"
    M2_V_TUNING_HISTORY_AS
    "  r.started_at AS run_started_at,\n"
    "  p.framework AS framework,\n"
    "  p.attention AS attention\n"
    M2_V_TUNING_HISTORY_FROM
    M2_V_RUNS_AS
    "  r.error AS error,\n"
    "  p.framework AS framework,\n"
    "  p.attention AS attention\n"
    M2_V_RUNS_FROM;

#undef M2_V_TUNING_HISTORY
#undef M2_V_RUNS
#undef M2_V_TUNING_HISTORY_AS
#undef M2_V_TUNING_HISTORY_FROM
#undef M2_V_RUNS_AS
#undef M2_V_RUNS_FROM
#undef M2_RUN_ERROR_COLUMNS

static const char *const migrations[] = {migration_1, migration_2,
                                           migration_3, migration_4};

_Static_assert(sizeof migrations / sizeof migrations[0] ==
                   DML_DB_SCHEMA_VERSION,
               "one migration per schema version");

const char *dml__db_migration_sql(int version)
{
    if (version < 1 || version > DML_DB_SCHEMA_VERSION)
        return NULL;
    return migrations[version - 1];
}
