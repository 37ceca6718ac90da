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

/* The columns of runs around its status CHECK, which migration 3
 * widens by rebuilding the table with the same text otherwise. */
#define M1_RUNS_HEAD \
    "  id INTEGER PRIMARY KEY,\n" \
    "  plan_id INTEGER NOT NULL REFERENCES plans(id),\n" \
    "  started_at TEXT NOT NULL,\n" \
    "  finished_at TEXT,\n" \
    "  status TEXT NOT NULL DEFAULT 'running'\n"
#define M1_RUNS_TAIL \
    "  ranks INTEGER NOT NULL CHECK (ranks >= 1),\n" \
    "  layout TEXT,\n" \
    "  hosts TEXT,\n" \
    "  steps INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0),\n" \
    "  predicted_step_s REAL,\n" \
    "  measured_step_s REAL,\n" \
    "  peak_rss_bytes REAL,\n" \
    "  final_loss REAL,\n" \
    "  test_accuracy REAL,\n" \
    "  error TEXT\n" \
    ");\n"

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
    M1_RUNS_HEAD
    "    CHECK (status IN ('running', 'ok', 'failed')),\n"
    M1_RUNS_TAIL
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
 * Text of migration 2, frozen with it, which migration 5's views repeat;
 * a later migration that changes it defines its own. */
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

/* The probe summary of migration 2 (without the statement's end), which
 * migration 5 wraps: the same text in both, as the databases hold it. */
#define M2_PROBE_SUMMARY \
    "SELECT pr.id AS probe_run_id,\n" \
    "  h.hostname AS hostname,\n" \
    "  pr.started_at AS started_at,\n" \
    "  pr.finished_at AS finished_at,\n" \
    "  pr.ranks AS ranks,\n" \
    "  pr.nodes AS nodes,\n" \
    "  pr.quick AS quick,\n" \
    "  pr.status AS status,\n" \
    "  pr.dml_version AS dml_version,\n" \
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n" \
    "     AND m.kind = 'membw' AND m.op = 'triad') AS triad_Bps,\n" \
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n" \
    "     AND m.kind = 'gemm' AND m.op = 'dgemm') AS dgemm_flops,\n" \
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n" \
    "     AND m.kind = 'gemm' AND m.op = 'sgemm') AS sgemm_flops,\n" \
    "  (SELECT min(m.time_s) FROM measurements m WHERE m.probe_run_id = pr.id\n" \
    "     AND m.kind = 'p2p' AND m.op = 'latency' AND m.time_s > 0)\n" \
    "     AS p2p_latency_s,\n" \
    "  (SELECT max(m.value) FROM measurements m WHERE m.probe_run_id = pr.id\n" \
    "     AND m.kind = 'p2p' AND m.op = 'bandwidth') AS p2p_bw_Bps,\n" \
    "  (SELECT count(*) FROM measurements m WHERE m.probe_run_id = pr.id)\n" \
    "     AS n_measurements\n" \
    "FROM probe_runs pr LEFT JOIN hosts h ON h.id = pr.host_id"

static const char migration_2[] =
    /* One row per probe run with the headline figures of its measurements:
     * the best of each, since the minimum time (maximum rate) is what the
     * hardware can do and the rest is noise from a shared machine. */
    "CREATE VIEW v_probe_summary AS\n"
    M2_PROBE_SUMMARY ";\n"
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
    M1_RUNS_HEAD
    "    CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),\n"
    M1_RUNS_TAIL
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

#undef M1_RUNS_HEAD
#undef M1_RUNS_TAIL
#undef M2_V_TUNING_HISTORY
#undef M2_V_RUNS
#undef M2_V_TUNING_HISTORY_AS
#undef M2_V_TUNING_HISTORY_FROM
#undef M2_V_RUNS_AS
#undef M2_V_RUNS_FROM

/* ---- 5: issue 12's database items, and the sync knob of issues 14-15 ----
 *
 * What it adds, and why each piece is written as it is:
 *
 * - plans.sync, the data-parallel strategy as the sync knob writes it
 *   (costmodel/sync_spec.h: allreduce, hierarchical, fp16, topk:0.01, ...).
 *   A plan recorded before has it in its plan file, under the names plan
 *   files used before the knob ("grad_compression": "fp16" or "topk" with
 *   "topk_ratio", "sync": "async"), which the UPDATE reads as
 *   costmodel/plan.c's parse_sync does; a plan without a readable file
 *   ran with allreduce, the default.
 * - plans.plan_hash and a UNIQUE index: a plan recorded again (same model
 *   row, cluster row, calibration and content) is the row already there
 *   (plan_store.c). The hash is DML__PLAN_KEY's text hashed by
 *   dml_plan_hash(), a function db.c registers on every connection (not
 *   one the sqlite3 shell has, which is why no view or index calls it).
 *   Rows recorded before that are the same plan keep their ids and their
 *   runs; the oldest of each such group gets the hash, so that it is the
 *   row the next recording of that plan finds.
 * - runs.dp_bytes_intra_per_step and dp_bytes_inter_per_step: what the
 *   run's data-parallel exchange sent per step (NULL before, and for a
 *   run that did not count it).
 * - The views again, every old column kept where it was (scripts read
 *   them by name and by position), with these changes and additions:
 *   v_tuning_history's config in --config syntax (M5_CONFIG) and its
 *   global batch, steps, throughput and sync; v_runs' sync, config,
 *   throughput and bytes per step; v_probe_summary's dgemm_flops_per_s
 *   and sgemm_flops_per_s (the old dgemm_flops and sgemm_flops hold
 *   FLOP/s too and stay, deprecated, for scripts that read them); and
 *   two new views, v_plans and v_strategy_comparison.
 */

/* A configuration as `--config` spells it, built from the columns of a
 * plans row p and its models row mo: exactly what
 * dml_planner_config_format (planner/config.c) writes for the plan (the
 * knobs in its order; attn for a transformer only; threads when not 1;
 * sync when not allreduce). tests/unit/planner/test_db_config.c checks
 * the two agree on every row. */
#define M5_CONFIG \
    "'dp=' || p.dp || ',tp=' || p.tp || ',pp=' || p.pp || ',v=' || p.v ||\n" \
    "  ',mbs=' || p.mbs || ',zero=' || p.zero ||\n" \
    "  ',recompute=' || p.recompute || ',sp=' || p.sp ||\n" \
    "  ',schedule=' || p.schedule ||\n" \
    "  CASE WHEN mo.type = 'transformer' THEN ',attn=' || p.attention\n" \
    "    ELSE '' END ||\n" \
    "  CASE WHEN p.threads_per_rank <> 1\n" \
    "    THEN ',threads=' || p.threads_per_rank ELSE '' END ||\n" \
    "  CASE WHEN p.sync <> 'allreduce' THEN ',sync=' || p.sync ELSE '' END"

/* Measured throughput of a run r of plan p of model mo: the plan's
 * global batch over the run's measured median step time, in samples/s,
 * and in tokens/s (samples times the sequence length of a transformer;
 * an MLP's sample is its token, as the cost model's tokens_per_s has
 * it). */
#define M5_SAMPLES_PER_S \
    "CASE WHEN r.measured_step_s > 0\n" \
    "    THEN p.global_batch / r.measured_step_s END"
#define M5_TOKENS_PER_S \
    "CASE WHEN r.measured_step_s > 0\n" \
    "    THEN p.global_batch / r.measured_step_s *\n" \
    "      CASE WHEN mo.type <> 'transformer' THEN 1\n" \
    "        WHEN json_valid(mo.spec_json)\n" \
    "        THEN json_extract(mo.spec_json, '$.seq_len') END END"

/* Each view's medians group by these (a model by its spec's row, a
 * cluster by name and hardware fingerprint: dml-plan and dml-exec record
 * the same cluster in rows of their own). */
#define SC_GROUP "model_id, cluster, cluster_fingerprint, sync"

/* v_strategy_comparison, which migration 6 makes again with more
 * figures: the pieces both spell alike, so that the two texts cannot
 * drift apart where they agree (a database holds each as written). */
#define SC_OK_COLUMNS \
    "CREATE VIEW v_strategy_comparison AS\n" \
    "WITH ok AS (\n" \
    "  SELECT p.model_id AS model_id, mo.name AS model, c.name AS cluster,\n" \
    "    c.fingerprint AS cluster_fingerprint, p.sync AS sync,\n" \
    "    r.measured_step_s AS measured_step_s,\n" \
    "    coalesce(r.predicted_step_s, p.predicted_step_s)\n" \
    "      AS predicted_step_s,\n" \
    "    r.final_loss AS final_loss, r.test_accuracy AS test_accuracy,\n" \
    "    r.dp_bytes_intra_per_step AS dp_bytes_intra_per_step,\n"
#define SC_OK_FIGURES \
    "  FROM runs r\n" \
    "    JOIN plans p ON p.id = r.plan_id\n" \
    "    JOIN models mo ON mo.id = p.model_id\n" \
    "    JOIN clusters c ON c.id = p.cluster_id\n" \
    "  WHERE r.status = 'ok'),\n" \
    "figures(" SC_GROUP ", figure, x) AS (\n" \
    "  SELECT " SC_GROUP ", 'measured', measured_step_s FROM ok\n" \
    "  UNION ALL SELECT " SC_GROUP ", 'predicted',\n" \
    "    predicted_step_s FROM ok\n" \
    "  UNION ALL SELECT " SC_GROUP ", 'loss', final_loss FROM ok\n" \
    "  UNION ALL SELECT " SC_GROUP ", 'accuracy', test_accuracy\n" \
    "    FROM ok\n" \
    "  UNION ALL SELECT " SC_GROUP ", 'intra',\n" \
    "    dp_bytes_intra_per_step FROM ok\n" \
    "  UNION ALL SELECT " SC_GROUP ", 'inter',\n"
#define SC_MEDIANS \
    "ranked AS (\n" \
    "  SELECT " SC_GROUP ", figure, x,\n" \
    "    row_number() OVER (PARTITION BY " SC_GROUP ", figure\n" \
    "      ORDER BY x) AS i,\n" \
    "    count(*) OVER (PARTITION BY " SC_GROUP ", figure) AS n\n" \
    "  FROM figures WHERE x IS NOT NULL),\n" \
    "medians AS (\n" \
    "  SELECT " SC_GROUP ", figure, avg(x) AS median\n" \
    "  FROM ranked WHERE i IN ((n + 1) / 2, (n + 2) / 2)\n" \
    "  GROUP BY " SC_GROUP ", figure),\n" \
    "groups AS (\n"
#define SC_SELECT \
    "SELECT g.model AS model,\n" \
    "  g.cluster AS cluster,\n" \
    "  g.cluster_fingerprint AS cluster_fingerprint,\n" \
    "  g.sync AS sync,\n" \
    "  g.runs AS runs,\n" \
    "  max(CASE WHEN m.figure = 'measured' THEN m.median END)\n" \
    "    AS median_measured_step_s,\n" \
    "  max(CASE WHEN m.figure = 'predicted' THEN m.median END)\n" \
    "    AS median_predicted_step_s,\n" \
    "  max(CASE WHEN m.figure = 'loss' THEN m.median END)\n" \
    "    AS median_final_loss,\n" \
    "  max(CASE WHEN m.figure = 'accuracy' THEN m.median END)\n" \
    "    AS median_test_accuracy,\n" \
    "  max(CASE WHEN m.figure = 'intra' THEN m.median END)\n" \
    "    AS median_dp_bytes_intra_per_step,\n" \
    "  max(CASE WHEN m.figure = 'inter' THEN m.median END)\n" \
    "    AS median_dp_bytes_inter_per_step,\n"
#define SC_END \
    "FROM groups g\n" \
    "  LEFT JOIN medians m USING (" SC_GROUP ")\n"

static const char migration_5[] =
    "ALTER TABLE plans ADD COLUMN sync TEXT NOT NULL DEFAULT 'allreduce'\n"
    "  CHECK (sync <> '');\n"
    "UPDATE plans SET sync = CASE\n"
    "    WHEN json_extract(plan_json, '$.parallel.grad_compression') = 'fp16'\n"
    "      THEN 'fp16'\n"
    "    WHEN json_extract(plan_json, '$.parallel.grad_compression') = 'topk'\n"
    "      THEN 'topk:' || printf('%.15g', coalesce(\n"
    "        json_extract(plan_json, '$.parallel.topk_ratio'), 0.01))\n"
    "    WHEN json_extract(plan_json, '$.parallel.sync') = 'async'\n"
    "      THEN 'ssp:1'\n"
    "    WHEN json_type(plan_json, '$.parallel.sync') = 'text'\n"
    "      AND json_extract(plan_json, '$.parallel.sync') NOT IN ('', 'sync')\n"
    "      THEN json_extract(plan_json, '$.parallel.sync')\n"
    "    ELSE 'allreduce' END\n"
    "  WHERE json_valid(plan_json);\n"
    "ALTER TABLE plans ADD COLUMN plan_hash TEXT;\n"
    "UPDATE plans SET plan_hash = dml_plan_hash(" DML__PLAN_KEY("plans") ")\n"
    "  WHERE id IN (SELECT min(id) FROM plans\n"
    "    GROUP BY model_id, cluster_id, coalesce(calibration_id, 0),\n"
    "      " DML__PLAN_KEY("plans") ");\n"
    /* NULLs are distinct in a UNIQUE index: a plan without calibration is
     * keyed by 0, which no calibration row has. */
    "CREATE UNIQUE INDEX plans_by_content ON plans(model_id, cluster_id,\n"
    "  coalesce(calibration_id, 0), plan_hash) WHERE plan_hash IS NOT NULL;\n"
    "ALTER TABLE runs ADD COLUMN dp_bytes_intra_per_step REAL\n"
    "  CHECK (dp_bytes_intra_per_step >= 0);\n"
    "ALTER TABLE runs ADD COLUMN dp_bytes_inter_per_step REAL\n"
    "  CHECK (dp_bytes_inter_per_step >= 0);\n"
    "DROP VIEW v_probe_summary;\n"
    "DROP VIEW v_tuning_history;\n"
    "DROP VIEW v_runs;\n"
    /* Migration 2's columns, then the same two figures named with their
     * unit (FLOP/s). */
    "CREATE VIEW v_probe_summary AS\n"
    "SELECT s.*, s.dgemm_flops AS dgemm_flops_per_s,\n"
    "  s.sgemm_flops AS sgemm_flops_per_s\n"
    "FROM (" M2_PROBE_SUMMARY ") s;\n"
    /* Every plan with its configuration in --config syntax, its
     * prediction and how its runs went (dml-history --plans reads it). */
    "CREATE VIEW v_plans AS\n"
    "SELECT p.id AS plan_id,\n"
    "  p.created_at AS created_at,\n"
    "  mo.name AS model,\n"
    "  mo.type AS model_type,\n"
    "  c.name AS cluster,\n"
    "  c.fingerprint AS cluster_fingerprint,\n"
    "  " M5_CONFIG " AS config,\n"
    "  p.dp AS dp, p.tp AS tp, p.pp AS pp, p.v AS v, p.mbs AS mbs,\n"
    "  p.microbatches AS microbatches, p.global_batch AS global_batch,\n"
    "  p.zero AS zero, p.recompute AS recompute, p.sp AS sp,\n"
    "  p.schedule AS schedule, p.threads_per_rank AS threads_per_rank,\n"
    "  p.framework AS framework, p.attention AS attention, p.sync AS sync,\n"
    "  p.predicted_step_s AS predicted_step_s,\n"
    "  p.predicted_mem_bytes AS predicted_mem_bytes,\n"
    "  p.predicted_tokens_per_s AS predicted_tokens_per_s,\n"
    "  p.mfu AS mfu,\n"
    "  p.calibration_id AS calibration_id,\n"
    "  (SELECT count(*) FROM runs r WHERE r.plan_id = p.id) AS runs,\n"
    "  (SELECT min(r.measured_step_s) FROM runs r\n"
    "     WHERE r.plan_id = p.id AND r.status = 'ok')\n"
    "     AS best_measured_step_s\n"
    "FROM plans p\n"
    "  JOIN models mo ON mo.id = p.model_id\n"
    "  JOIN clusters c ON c.id = p.cluster_id;\n"
    /* Migration 4's columns in its order, config now in --config syntax,
     * then the throughput and the strategy. */
    "CREATE VIEW v_tuning_history AS\n"
    "SELECT p.id AS plan_id,\n"
    "  r.id AS run_id,\n"
    "  p.created_at AS planned_at,\n"
    "  mo.name AS model,\n"
    "  c.name AS cluster,\n"
    "  c.fingerprint AS cluster_fingerprint,\n"
    "  " M5_CONFIG " AS config,\n"
    "  p.calibration_id AS calibration_id,\n"
    M2_RUN_ERROR_COLUMNS
    "  r.status AS status,\n"
    "  r.started_at AS run_started_at,\n"
    "  p.framework AS framework,\n"
    "  p.attention AS attention,\n"
    "  p.global_batch AS global_batch,\n"
    "  r.steps AS steps,\n"
    "  " M5_SAMPLES_PER_S " AS measured_samples_per_s,\n"
    "  " M5_TOKENS_PER_S " AS measured_tokens_per_s,\n"
    "  p.sync AS sync\n"
    "FROM plans p\n"
    "  JOIN models mo ON mo.id = p.model_id\n"
    "  JOIN clusters c ON c.id = p.cluster_id\n"
    "  LEFT JOIN runs r ON r.plan_id = p.id;\n"
    "CREATE VIEW v_runs AS\n"
    "SELECT r.id AS run_id,\n"
    "  r.plan_id AS plan_id,\n"
    "  mo.name AS model,\n"
    "  c.name AS cluster,\n"
    "  p.dp AS dp, p.tp AS tp, p.pp AS pp, p.v AS v, p.mbs AS mbs,\n"
    "  p.microbatches AS microbatches, p.global_batch AS global_batch,\n"
    "  p.zero AS zero, p.recompute AS recompute, p.sp AS sp,\n"
    "  p.schedule AS schedule, p.threads_per_rank AS threads_per_rank,\n"
    "  r.status AS status,\n"
    "  r.ranks AS ranks,\n"
    "  r.steps AS steps,\n"
    "  r.started_at AS started_at,\n"
    "  r.finished_at AS finished_at,\n"
    /* Times carry milliseconds from version 5 on (whole seconds before);
     * julianday() adds about a millisecond of rounding, which round()
     * takes off. */
    "  round((julianday(r.finished_at) - julianday(r.started_at)) * 86400.0,\n"
    "        3) AS duration_s,\n"
    M2_RUN_ERROR_COLUMNS
    "  r.final_loss AS final_loss,\n"
    "  r.test_accuracy AS test_accuracy,\n"
    "  r.peak_rss_bytes AS peak_rss_bytes,\n"
    "  r.error AS error,\n"
    "  p.framework AS framework,\n"
    "  p.attention AS attention,\n"
    "  p.sync AS sync,\n"
    "  " M5_CONFIG " AS config,\n"
    "  " M5_SAMPLES_PER_S " AS measured_samples_per_s,\n"
    "  " M5_TOKENS_PER_S " AS measured_tokens_per_s,\n"
    "  r.dp_bytes_intra_per_step AS dp_bytes_intra_per_step,\n"
    "  r.dp_bytes_inter_per_step AS dp_bytes_inter_per_step\n"
    "FROM runs r\n"
    "  JOIN plans p ON p.id = r.plan_id\n"
    "  JOIN models mo ON mo.id = p.model_id\n"
    "  JOIN clusters c ON c.id = p.cluster_id;\n"
    /* One row per model, cluster and strategy, over the runs that ended
     * 'ok': how many, and the median of each figure over those that have
     * it. SQLite has no median(): each figure's values are ranked within
     * their group (one ranking for all figures, as rows of (figure,
     * value)), and the median is the middle value, or the mean of the two
     * middle ones, (n + 1) / 2 and (n + 2) / 2 in integer division. */
    SC_OK_COLUMNS
    "    r.dp_bytes_inter_per_step AS dp_bytes_inter_per_step\n"
    SC_OK_FIGURES
    "    dp_bytes_inter_per_step FROM ok),\n"
    SC_MEDIANS
    "  SELECT " SC_GROUP ", min(model) AS model, count(*) AS runs\n"
    "  FROM ok GROUP BY " SC_GROUP ")\n"
    SC_SELECT
    "  g.model_id AS model_id\n"
    SC_END
    "GROUP BY g.model_id, g.cluster, g.cluster_fingerprint, g.sync;\n";

#undef M5_CONFIG
#undef M5_SAMPLES_PER_S
#undef M5_TOKENS_PER_S
#undef M2_RUN_ERROR_COLUMNS

/*
 * 6 (issue 15): what strategies that change the mathematics are compared
 * by. steps.staleness: the largest staleness of the step's gradients over
 * the replicas (sync=ssp:S: how many of the other replicas' steps the
 * weights a gradient was computed on lacked, 0..S); steps.test_accuracy:
 * the test-set accuracy after the step (dml-exec --eval-every); the view
 * v_accuracy_curve (each evaluated step of each run with its training
 * time so far: steps and time to a target accuracy); and
 * v_strategy_comparison made again with migration 5's columns in their
 * order, then the median over the runs of each run's mean step time
 * (local SGD's step is cheap 15 times in 16 and dear once: its median
 * says little), the largest staleness, and the median over the runs of
 * the best test accuracy an evaluation saw.
 */
static const char migration_6[] =
    "ALTER TABLE steps ADD COLUMN staleness REAL CHECK (staleness >= 0);\n"
    "ALTER TABLE steps ADD COLUMN test_accuracy REAL\n"
    "  CHECK (test_accuracy >= 0 AND test_accuracy <= 1);\n"
    "DROP VIEW v_strategy_comparison;\n"
    /* train_time_s: the run's step times summed up to the step (the
     * evaluations' own time is not in it) */
    "CREATE VIEW v_accuracy_curve AS\n"
    "WITH timed AS (\n"
    "  SELECT s.run_id AS run_id, s.step AS step, s.loss AS loss,\n"
    "    s.test_accuracy AS test_accuracy,\n"
    "    sum(s.step_s) OVER (PARTITION BY s.run_id ORDER BY s.step)\n"
    "      AS train_time_s\n"
    "  FROM steps s)\n"
    "SELECT t.run_id AS run_id,\n"
    "  r.plan_id AS plan_id,\n"
    "  mo.name AS model,\n"
    "  c.name AS cluster,\n"
    "  c.fingerprint AS cluster_fingerprint,\n"
    "  p.sync AS sync,\n"
    "  p.global_batch AS global_batch,\n"
    "  r.status AS status,\n"
    "  t.step + 1 AS steps,\n"
    "  t.train_time_s AS train_time_s,\n"
    "  t.loss AS loss,\n"
    "  t.test_accuracy AS test_accuracy\n"
    "FROM timed t\n"
    "  JOIN runs r ON r.id = t.run_id\n"
    "  JOIN plans p ON p.id = r.plan_id\n"
    "  JOIN models mo ON mo.id = p.model_id\n"
    "  JOIN clusters c ON c.id = p.cluster_id\n"
    "WHERE t.test_accuracy IS NOT NULL;\n"
    /* As migration 5's, with three more figures (see above): a run's mean
     * step leaves out its first step, the warm-up, as measured_step_s
     * does when there are more. */
    SC_OK_COLUMNS
    "    r.dp_bytes_inter_per_step AS dp_bytes_inter_per_step,\n"
    "    (SELECT CASE WHEN count(*) > 1\n"
    "        THEN (sum(s.step_s) - (SELECT s0.step_s FROM steps s0\n"
    "          WHERE s0.run_id = r.id ORDER BY s0.step LIMIT 1))\n"
    "          / (count(*) - 1)\n"
    "        ELSE avg(s.step_s) END\n"
    "      FROM steps s WHERE s.run_id = r.id) AS mean_step_s,\n"
    "    (SELECT max(s.staleness) FROM steps s WHERE s.run_id = r.id)\n"
    "      AS max_staleness,\n"
    "    (SELECT max(s.test_accuracy) FROM steps s WHERE s.run_id = r.id)\n"
    "      AS best_test_accuracy\n"
    SC_OK_FIGURES
    "    dp_bytes_inter_per_step FROM ok\n"
    "  UNION ALL SELECT " SC_GROUP ", 'mean', mean_step_s FROM ok\n"
    "  UNION ALL SELECT " SC_GROUP ", 'best',\n"
    "    best_test_accuracy FROM ok),\n"
    SC_MEDIANS
    "  SELECT " SC_GROUP ", min(model) AS model, count(*) AS runs,\n"
    "    max(max_staleness) AS max_staleness\n"
    "  FROM ok GROUP BY " SC_GROUP ")\n"
    SC_SELECT
    "  g.model_id AS model_id,\n"
    "  max(CASE WHEN m.figure = 'mean' THEN m.median END)\n"
    "    AS median_mean_step_s,\n"
    "  g.max_staleness AS max_staleness,\n"
    "  max(CASE WHEN m.figure = 'best' THEN m.median END)\n"
    "    AS median_best_test_accuracy\n"
    SC_END
    "GROUP BY g.model_id, g.cluster, g.cluster_fingerprint, g.sync;\n";
#undef SC_GROUP
#undef SC_OK_COLUMNS
#undef SC_OK_FIGURES
#undef SC_MEDIANS
#undef SC_SELECT
#undef SC_END

/* Migration 7 (issue 16): how a plan splits the work over devices of
 * unequal speed, as the balance knob writes it; the shares and stage
 * boundaries themselves are in plan_json's placement. Plans recorded
 * before the knob split evenly. */
static const char migration_7[] =
    "ALTER TABLE plans ADD COLUMN balance TEXT NOT NULL DEFAULT 'equal'\n"
    "  CHECK (balance IN ('equal', 'static', 'dynamic'));\n";
/*
 * Migration 8 (issue 17): jobs that dml-run supervises. A job is one
 * training that outlives its launches: each launch of dml-exec is a run
 * of its own (runs), the job holds what the supervisor decided between
 * them (job_events: failure seen, hosts alive, new plan, resume step, in
 * that order for each failure) and its goodput: the time training, the
 * time lost to failures (the work since the checkpoint each relaunch
 * resumed from) and the time from a failure to its detection and from
 * the detection to training again.
 */
static const char migration_8[] =
    "CREATE TABLE jobs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  status TEXT NOT NULL\n"
    "    CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),\n"
    "  command TEXT,\n"
    "  checkpoint_dir TEXT,\n"
    "  ranks INTEGER,\n"
    "  restarts INTEGER NOT NULL DEFAULT 0,\n"
    "  wall_s REAL,\n"
    "  compute_s REAL,\n"
    "  lost_s REAL,\n"
    "  detect_s REAL,\n"
    "  restart_s REAL,\n"
    "  reason TEXT\n"
    ");\n"
    "CREATE TABLE job_events (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
    "  at TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL CHECK (kind <> ''),\n"
    "  step INTEGER,\n"
    "  ranks INTEGER,\n"
    "  seconds REAL,\n"
    "  message TEXT\n"
    ");\n"
    "CREATE INDEX job_events_by_job ON job_events(job_id, id);\n";

/*
 * Migration 9 (issue 16): balance=dynamic's events. Each straggler flag
 * (a data-parallel replica whose compute, or link, is the outlier), its
 * end, and each change of the replicas' shares, with the shares before
 * and after (micro-batches a full-batch step, comma-separated in replica
 * order) and the speeds measured (micro-batches per second of compute,
 * the same order), so that a run's balancing can be read back and its
 * measured speeds reused.
 */
static const char migration_9[] =
    "CREATE TABLE balance_events (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  at TEXT NOT NULL,\n"
    "  step INTEGER NOT NULL CHECK (step >= 0),\n"
    "  kind TEXT NOT NULL\n"
    "    CHECK (kind IN ('straggler', 'recovered', 'rebalance')),\n"
    "  replica INTEGER CHECK (replica >= 0),\n"
    "  cause TEXT CHECK (cause IN ('compute', 'link')),\n"
    "  ratio REAL,\n"
    "  old_shares TEXT NOT NULL,\n"
    "  new_shares TEXT NOT NULL,\n"
    "  speeds TEXT\n"
    ");\n"
    "CREATE INDEX balance_events_by_run ON balance_events(run_id, id);\n";

/*
 * 10 (issue 18): steps.consensus, gossip's consensus distance (sync=
 * gossip:G): the mean over the replicas of the squared L2 distance of
 * each one's weights to their mean, on the steps it was measured
 * (executor/sync/gossip.c, every 50 steps by default).
 */
static const char migration_10[] =
    "ALTER TABLE steps ADD COLUMN consensus REAL CHECK (consensus >= 0);\n";

/*
 * Migration 11 (issue 17): a job's growth and its Young/Daly comparison.
 * failures and grows count the relaunches after failures and those on
 * more ranks when hosts returned (replan_s: from such a stop to training
 * again); the rest is the planner's model of checkpoints and failures
 * for the job (elastic/goodput.h): its mean step, checkpoint interval
 * and the checkpoint's write time by the cluster spec, the job's MTBF as
 * the spec states it and as the job saw it, Young's and Daly's
 * intervals, and the time lost, the restarts, the wall time and the
 * goodput the model expects at the failures the job saw.
 */
static const char migration_11[] =
    "ALTER TABLE jobs ADD COLUMN failures INTEGER;\n"
    "ALTER TABLE jobs ADD COLUMN grows INTEGER;\n"
    "ALTER TABLE jobs ADD COLUMN replan_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN step_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN ckpt_interval_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN ckpt_write_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN mtbf_plan_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN mtbf_seen_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN young_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN daly_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN expected_lost_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN expected_restart_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN expected_wall_s REAL;\n"
    "ALTER TABLE jobs ADD COLUMN expected_goodput REAL;\n";

/*
 * Migration 12 (issue 18): federated runs. fed_runs holds a run's knobs
 * and the statistics of its clients' shards; fed_rounds each round's
 * clients, bytes and results (a round is also the run's steps row).
 */
static const char migration_12[] =
    "CREATE TABLE fed_runs (\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  clients INTEGER NOT NULL CHECK (clients >= 1),\n"
    "  per_round INTEGER NOT NULL CHECK (per_round >= 1),\n"
    "  sample REAL NOT NULL,\n"
    "  epochs REAL NOT NULL,\n"
    "  batch INTEGER NOT NULL,\n"
    "  split TEXT NOT NULL,\n"
    "  prox REAL NOT NULL,\n"
    "  secagg INTEGER NOT NULL CHECK (secagg IN (0, 1)),\n"
    "  stragglers REAL NOT NULL,\n"
    "  straggler_work TEXT NOT NULL CHECK (straggler_work IN ('drop', "
    "'partial')),\n"
    "  min_samples INTEGER,\n"
    "  max_samples INTEGER,\n"
    "  min_classes INTEGER,\n"
    "  max_classes INTEGER,\n"
    "  mean_classes REAL,\n"
    "  mean_max_class_fraction REAL\n"
    ");\n"
    "CREATE TABLE fed_rounds (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  round INTEGER NOT NULL,\n"
    "  clients INTEGER NOT NULL,\n"
    "  dropped INTEGER NOT NULL,\n"
    "  partial INTEGER NOT NULL,\n"
    "  bytes_down REAL NOT NULL,\n"
    "  bytes_up REAL NOT NULL,\n"
    "  train_loss REAL,\n"
    "  samples INTEGER,\n"
    "  compute_s REAL,\n"
    "  test_accuracy REAL,\n"
    "  wall_s REAL,\n"
    "  PRIMARY KEY (run_id, round)\n"
    ");\n";

static const char *const migrations[] = {migration_1, migration_2,
                                           migration_3, migration_4,
                                           migration_5, migration_6,
                                           migration_7, migration_8,
                                           migration_9, migration_10,
                                           migration_11, migration_12};

_Static_assert(sizeof migrations / sizeof migrations[0] ==
                   DML_DB_SCHEMA_VERSION,
               "one migration per schema version");

const char *dml__db_migration_sql(int version)
{
    if (version < 1 || version > DML_DB_SCHEMA_VERSION)
        return NULL;
    return migrations[version - 1];
}
