/*
 * spec_store.c: recording and reading model and cluster specs (see
 * spec_store.h).
 *
 * Both are upserts whose DO UPDATE changes nothing: that makes RETURNING
 * hand back the id of the row already there, in one statement, where
 * INSERT OR IGNORE would need a second SELECT.
 */
#include "db/spec_store.h"

#include "db_internal.h"

dml_status dml_db_record_model(dml_db *db, const dml_db_model *model,
                               int64_t *model_id, dml_error *err)
{
    if (!model->spec_json || !model->spec_json[0])
        return dml_error_msg(err, DML_EINPUT,
                             "model '%s': empty spec JSON", model->name);
    char hash[17];
    dml__db_hash_hex(model->spec_json, hash);
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO models (name, type, spec_hash, spec_json, created_at)\n"
        "VALUES (:name, :type, :hash, :spec, " DML__SQL_NOW ")\n"
        "ON CONFLICT (spec_hash) DO UPDATE SET spec_hash = excluded.spec_hash\n"
        "RETURNING id",
        "recording model", err));
    dml__q_text(&q, ":name", model->name);
    dml__q_text(&q, ":type", model->type);
    dml__q_text(&q, ":hash", model->hash[0] ? model->hash : hash);
    dml__q_text(&q, ":spec", model->spec_json);
    return dml__q_once_id(&q, model_id, err);
}

dml_status dml_db_record_cluster(dml_db *db, const dml_db_cluster *cluster,
                                 int64_t probe_run_id, int64_t *cluster_id,
                                 dml_error *err)
{
    char hash[17];
    dml__db_hash_hex(cluster->spec_json, hash);
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO clusters (name, fingerprint, source, spec_hash,\n"
        "                      spec_json, created_at, probe_run_id)\n"
        "VALUES (:name, :fp, coalesce(:source, 'user'), :hash, :spec,\n"
        "        " DML__SQL_NOW ", :probe)\n"
        "ON CONFLICT (name, fingerprint, spec_hash)\n"
        "  DO UPDATE SET spec_hash = excluded.spec_hash\n"
        "RETURNING id",
        "recording cluster", err));
    dml__q_text(&q, ":name", cluster->name);
    dml__q_text(&q, ":fp", cluster->fingerprint);
    dml__q_opt(&q, ":source", cluster->source);
    dml__q_text(&q, ":hash", hash);
    dml__q_opt(&q, ":spec", cluster->spec_json);
    dml__q_id(&q, ":probe", probe_run_id);
    return dml__q_once_id(&q, cluster_id, err);
}

dml_status dml_db_model_spec(dml_db *db, int64_t model_id, char **spec_json,
                             dml_error *err)
{
    return dml__db_read_text(db, "SELECT spec_json FROM models WHERE id = :id",
                             "model", model_id, spec_json, err);
}

dml_status dml_db_cluster_spec(dml_db *db, int64_t cluster_id,
                               char **spec_json, dml_error *err)
{
    return dml__db_read_text(db,
                             "SELECT spec_json FROM clusters WHERE id = :id",
                             "cluster", cluster_id, spec_json, err);
}
