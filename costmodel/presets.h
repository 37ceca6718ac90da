/*
 * presets.h: where the shipped model and cluster specs live, and how a
 * command-line word becomes a spec file.
 *
 * A word without '/' and without a ".json" suffix is a preset name, looked
 * up as DATA_DIR/KIND/NAME.json (KIND "models" or "clusters"); anything
 * else is a file path. DATA_DIR is what the tool passes (from
 * $DML_DATA_DIR), else the source tree's data/ folder compiled in as
 * DML_DATA_DIR, so presets are found when running from the build tree.
 */
#ifndef DML_COSTMODEL_PRESETS_H
#define DML_COSTMODEL_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* override when non-empty (tools pass getenv("DML_DATA_DIR")), else the
 * compiled-in data folder. Never NULL. */
const char *dml_costmodel_data_dir(const char *override);

/* True when the word names a file rather than a preset. */
bool dml_costmodel_is_path(const char *name_or_file);

/*
 * Resolve name_or_file to a file path in out. A preset that does not exist
 * is DML_ENOTFOUND ("unknown model \"x\": ..."); what is one of "model" or
 * "cluster", used in the message and to pick the folder.
 */
dml_status dml_costmodel_resolve(const char *name_or_file,
                                 const char *data_dir, const char *what,
                                 char *out, size_t size, dml_error *err);

/* Sorted preset names in data_dir/models (what "model") or
 * data_dir/clusters ("cluster"); free with dml_costmodel_list_free. */
dml_status dml_costmodel_list_presets(const char *data_dir, const char *what,
                                      char ***names, size_t *count,
                                      dml_error *err);
void dml_costmodel_list_free(char **names, size_t count);

#endif
