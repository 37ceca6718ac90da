/*
 * presets.c: preset folders, name resolution and listing (see presets.h).
 */
#include "presets.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/name.h"

#ifndef DML_DATA_DIR
#define DML_DATA_DIR "data"
#endif

const char *dml_costmodel_data_dir(const char *override)
{
    if (override && override[0])
        return override;
    return DML_DATA_DIR;
}

bool dml_costmodel_is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".json") == 0);
}

static const char *folder(const char *what)
{
    return strcmp(what, "cluster") == 0 ? "clusters" : "models";
}

dml_status dml_costmodel_resolve(const char *name_or_file,
                                 const char *data_dir, const char *what,
                                 char *out, size_t size, dml_error *err)
{
    if (!name_or_file || !name_or_file[0])
        return dml_error_msg(err, DML_EUSAGE, "no %s given", what);
    if (dml_costmodel_is_path(name_or_file)) {
        snprintf(out, size, "%s", name_or_file);
        return DML_OK;
    }
    /* A preset's name is its file name: the rule for names keeps it
     * inside the preset folder. */
    if (!dml_name_valid(name_or_file, NULL, 0))
        return dml_error_msg(err, DML_ENOTFOUND,
                             "unknown %s \"%.64s\" (give a preset name "
                             "or a .json file)", what, name_or_file);
    snprintf(out, size, "%s/%s/%s.json", dml_costmodel_data_dir(data_dir),
             folder(what), name_or_file);
    if (!dml_file_exists(out))
        return dml_error_msg(err, DML_ENOTFOUND,
                             "unknown %s \"%.64s\": no preset %s (see "
                             "--list-%ss)", what, name_or_file, out, what);
    return DML_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dml_status dml_costmodel_list_presets(const char *data_dir, const char *what,
                                      char ***names, size_t *count,
                                      dml_error *err)
{
    *names = NULL;
    *count = 0;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", dml_costmodel_data_dir(data_dir),
             folder(what));
    DIR *d = opendir(dir);
    if (!d)
        return dml_error_set(err, DML_EINPUT, dir, 0, 0, NULL,
                             "cannot open the %s preset folder", what);
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || e->d_name[0] == '.' ||
            strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nl = realloc(list, cap * sizeof *nl);
            if (!nl)
                goto oom;
            list = nl;
        }
        list[n] = strndup(e->d_name, len - 5);
        if (!list[n])
            goto oom;
        n++;
    }
    closedir(d);
    if (n)
        qsort(list, n, sizeof *list, cmp_str);
    *names = list;
    *count = n;
    return DML_OK;
oom:
    closedir(d);
    dml_costmodel_list_free(list, n);
    return dml_error_msg(err, DML_ENOMEM, "out of memory listing presets");
}

void dml_costmodel_list_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}
