/*
 * datadir.h: where dml's shared files (the model and cluster presets) are,
 * for a tool in the build tree and for one installed by `cmake --install`.
 *
 * In order:
 *   1. $DML_DATA_DIR, when set and not empty (the caller passes its value);
 *   2. <the executable's folder>/<DML_DATADIR_FROM_BINDIR>, the installed
 *      layout (bin/ and share/dml/ under one prefix, so "../share/dml"),
 *      when that folder holds models/; the executable is found through
 *      /proc/self/exe, so a copied or relocated prefix still works;
 *   3. the source tree's data/ folder, compiled in, for tools run from the
 *      build tree (tests, developers).
 * The cost model stays pure: it takes the folder from its callers (main()
 * resolves it here and passes it down) and never looks at /proc itself.
 */
#ifndef DML_DATADIR_H
#define DML_DATADIR_H

#include <stddef.h>

/*
 * The data folder (see above) into out[size], which is also returned.
 * env is $DML_DATA_DIR's value or NULL. Never fails: the last resort is
 * the compiled-in source path, which readers then report as missing.
 */
const char *dml_datadir_resolve(const char *env, char *out, size_t size);

/*
 * Rule 2 and 3 for a given executable path (tests pass their own):
 * <dirname(exe)>/<from_bindir> when it holds models/, else fallback.
 * exe may be NULL or have no '/', which goes straight to fallback.
 */
const char *dml_datadir_for_exe(const char *exe, const char *from_bindir,
                                const char *fallback, char *out, size_t size);

#endif
