/*
 * run_state.h: the life of a dml-exec run, as one state diagram with the
 * function that performs each transition, and the invariants that hold
 * whatever happens to the job, the disk or the database. (This header
 * holds no declarations: it is the map; the functions live in the files
 * named beside them.)
 *
 * A run has three records that outlive its processes: its row in the
 * database (runs.status), one state file per rank under the checkpoint
 * directory (ROOT/ranks/rank-N, heartbeat.h; only with --checkpoint-dir),
 * and its checkpoints (ROOT/step-N/, ckpt.h). The diagrams below follow
 * each; a transition reads "event: function (file)".
 *
 * 1. The run's row
 *
 *                 dml_run_record_begin (run_record.c: db_begin,
 *      (none) ─────────────────────────▶ running
 *                 dml_db_run_begin)         │
 *                                           │ dml_run_record_end
 *                                           │ (run_record.c, from run_end
 *                                           │ in exec.c: dml_db_run_finish)
 *          ┌──────────────────┬─────────────┼──────────────────┐
 *          ▼                  ▼             ▼                  ▼
 *          ok              failed      interrupted       (still running:
 *   trained, everything   a loss or    SIGTERM/SIGINT,   the database refused
 *   recorded             parameters    agreed at a step  the end; rank 0's
 *                        not finite,   boundary          file is left
 *                        diverged, a   (steps_outcome,   "stopped")
 *                        checkpoint    exec.c)                 │
 *                        not written,                          │
 *                        something not                         │
 *                        recorded                              │
 *                                                              │
 *      running, and no process left (SIGKILL, a crash, a lost  │
 *      node, or the row above): ◀──────────────────────────────┘
 *          │ the next dml-exec on the same checkpoint directory, before
 *          │ its own row: recover_dead_run (run_record.c) reads the state
 *          │ files (dml_heartbeat_scan, dml_heartbeat_report_died) and
 *          ▼ calls dml_db_run_mark_dead (db/run_store.c)
 *        failed, with a 'fault' event naming the rank and step that died
 *
 *    Without --checkpoint-dir there are no state files: a run killed
 *    without a word stays 'running'.
 *
 * 2. A rank's state file (ROOT/ranks/rank-N: a state word and a step,
 *    write-locked by its process while it lives)
 *
 *                 dml_run_record_heartbeat (run_record.c) →
 *      (none) ─────────────────────────▶ running ◀───────────┐
 *                 dml_heartbeat_open        │  each step:     │
 *                 (heartbeat.c)             │  dml_heartbeat_step (train,
 *                                           │  exec.c)        │
 *                 before a checkpoint:      ▼                 │
 *                 dml_heartbeat_step ────▶ ckpt ──────────────┤
 *                 (train, exec.c)                             │
 *                 SIGCONT, SIGTERM, SIGINT: on_signal         │
 *                 (heartbeat.c) ─────────▶ stopped ───────────┘
 *                                           │ (the next step, if any)
 *                 the run's end, after its row:
 *                 dml_heartbeat_close (run_end, exec.c; or
 *                 dml_exec_close on an error) ─▶ finished | failed |
 *                                                stopped (end not recorded)
 *
 *    Read back by the next dml-exec: a locked file refuses the directory
 *    (check_not_in_use, input.c); all unlocked with some rank neither
 *    finished nor failed is a dead run (above), after which the files are
 *    removed (dml_heartbeat_clear) and replaced by this run's.
 *
 * 3. A checkpoint (ROOT/step-N/), written by dml_ckpt_job_write
 *    (ckpt_job.c) after train (exec.c) flushed the steps before it
 *
 *      (none) ── dml_ckpt_prepare (rank 0: the folder; stale temporary
 *         │      files of a killed writer removed)
 *         ▼
 *      shards ── dml_ckpt_write_shard (every rank: NAME.tmp.XXXXXX,
 *         │      fsync, rename into place)
 *         ▼
 *      complete ── dml_ckpt_write_manifest (rank 0, last: manifest.json
 *                  with every shard's size and SHA-256, renamed into
 *                  place), then its row (dml_run_record_checkpoint)
 *
 *    A failure at any point stops the run (failed, exit 1) and leaves the
 *    previous complete checkpoint as it was. dml_ckpt_job_resume takes
 *    the newest complete checkpoint that every rank verifies.
 *
 * 4. The database while a run records (record.h, rank 0)
 *
 *      writing ── a write fails: dml_record_flush_steps or
 *         ▲       dml_record_note (record.c), warned once by db_outcome
 *         │       (run_record.c)
 *         │                           ▼
 *         └── a retry succeeds ── failing (steps kept; retries after
 *             (the kept steps in       1 s, 2 s, ... 60 s)
 *             one transaction, a
 *             'database' event)
 *
 * Invariants
 *
 *   1. A run row leaves 'running' at most once: by its own
 *      dml_run_record_end, or by a later run's dml_db_run_mark_dead,
 *      which changes only a row that is still 'running'.
 *   2. All ranks leave the step loop at the same step boundary: whether
 *      to stop (a signal, a non-finite or diverged loss, a checkpoint not
 *      written) is decided from values every rank has after the same
 *      reduction (step_run, dml_groups_agree), so no rank is left waiting
 *      in a collective for one that has gone.
 *   3. A run row is 'running' only while some rank's heartbeat is fresh
 *      (its process holds the state file's lock) or the run was killed
 *      without a chance to record (SIGKILL, a crash, a lost node, or a
 *      database that refused its end); with --checkpoint-dir the files
 *      then say so, and the next dml-exec on that directory marks it
 *      failed.
 *   4. Rank 0's state file says finished or failed only after the run's
 *      end is in the database (dml_heartbeat_close follows
 *      dml_run_record_end); when the end could not be written it says
 *      stopped. So the files of a job never all say it ended while its
 *      row is 'running', and a job whose files all do is left alone.
 *   5. Two jobs never use one checkpoint directory: a job starts only
 *      when no state file under it is locked, and holds its own locks
 *      until its end.
 *   6. A step folder with a manifest is complete: every shard it lists
 *      was renamed into place, synced, before the manifest was written.
 *      Files are only ever renamed into place, so the newest complete
 *      checkpoint survives any fault of a later write.
 *   7. A run resumes only from a checkpoint of the same training (its
 *      identity, identity.h), not past --steps, and verified on every
 *      rank; else it starts from step 0 with a warning.
 *   8. Every step rank 0 has run is in the database, kept for it, or
 *      counted as lost (record.h, invariant 2); a run ends 'ok' only
 *      when nothing was lost.
 *   9. A state file is only ever a regular file that dml-exec created: a
 *      link, FIFO or device at its name is refused, never written or
 *      removed (dml_heartbeat_open, dml_heartbeat_clear).
 */
#ifndef DML_EXECUTOR_RUN_STATE_H
#define DML_EXECUTOR_RUN_STATE_H
#endif
