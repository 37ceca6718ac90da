/*
 * datadir.c: the data folder of an installed or a build-tree tool (see
 * datadir.h).
 */
#include "datadir.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by common/CMakeLists.txt; the defaults keep the file compilable. */
#ifndef DML_DATADIR_FROM_BINDIR
#define DML_DATADIR_FROM_BINDIR "../share/dml"
#endif
#ifndef DML_SOURCE_DATA_DIR
#define DML_SOURCE_DATA_DIR "data"
#endif

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *dml_datadir_for_exe(const char *exe, const char *from_bindir,
                                const char *fallback, char *out, size_t size)
{
    const char *slash = exe ? strrchr(exe, '/') : NULL;
    if (slash) {
        /* <bindir>/<from_bindir>, checked by its models/ folder: a build
         * tree's tools/ has no ../share/dml, an installed bin/ has. */
        char cand[PATH_MAX], probe[PATH_MAX + 16];
        int n = snprintf(cand, sizeof cand, "%.*s/%s", (int)(slash - exe),
                         exe, from_bindir);
        if (n > 0 && (size_t)n < sizeof cand) {
            snprintf(probe, sizeof probe, "%s/models", cand);
            if (is_dir(probe) &&
                (size_t)snprintf(out, size, "%s", cand) < size)
                return out;
        }
    }
    snprintf(out, size, "%s", fallback);
    return out;
}

const char *dml_datadir_resolve(const char *env, char *out, size_t size)
{
    if (env && env[0]) {
        snprintf(out, size, "%s", env);
        return out;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    return dml_datadir_for_exe(n > 0 ? exe : NULL, DML_DATADIR_FROM_BINDIR,
                               DML_SOURCE_DATA_DIR, out, size);
}
