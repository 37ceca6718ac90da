/*
 * log.c: leveled diagnostics on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"

/* Process-wide by nature: one stderr, one verbosity per process. */
static dml_log_level current = DML_LOG_WARN;
static char prog[64] = "dml";

void dml_log_init(const char *program)
{
    if (program) {
        const char *slash = strrchr(program, '/');
        snprintf(prog, sizeof prog, "%s", slash ? slash + 1 : program);
    }
    const char *env = getenv("DML_LOG_LEVEL");
    if (!env)
        return;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(env, names[i]) == 0)
            current = (dml_log_level)i;
}

void dml_log_set_level(dml_log_level level) { current = level; }
dml_log_level dml_log_get_level(void) { return current; }

void dml_log(dml_log_level level, const char *fmt, ...)
{
    if (level > current)
        return;
    static const char *const tags[] = {"error", "warning", "info", "debug"};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* A message repeats paths, names and host names that came from
     * outside: it stays one line and cannot drive the terminal. */
    char safe[4 * sizeof line];
    dml_quote_terminal(line, safe, sizeof safe);
    /* One fprintf per line keeps lines from several ranks whole. */
    fprintf(stderr, "%s: %s: %s\n", prog, tags[level], safe);
}
