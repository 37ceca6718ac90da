/*
 * probe.c: does a host answer a launch (see probe.h).
 */
#include "elastic/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/child.h"
#include "common/file.h"

#define WORDS_MAX 32

int dml_elastic_launcher_words(const char *launcher, char *argv[], int max,
                               char **words)
{
    int n = 0;
    *words = strdup(launcher ? launcher : "mpirun");
    char *save = NULL;
    for (char *w = *words ? strtok_r(*words, " \t", &save) : NULL;
         w && n < max; w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    return n;
}

bool dml_elastic_host_answers(const char *launcher, const char *exec,
                              const char *host, const char *hostfile_path,
                              double timeout_s)
{
    char line[300];
    int len = snprintf(line, sizeof line, "%s slots=1\n", host);
    dml_error err;
    dml_error_clear(&err);
    if (len < 0 || (size_t)len >= sizeof line ||
        dml_file_write_atomic(hostfile_path, line, (size_t)len, &err) !=
            DML_OK)
        return false;
    char *argv[WORDS_MAX + 8], *words = NULL;
    int n = dml_elastic_launcher_words(launcher, argv, WORDS_MAX, &words);
    argv[n++] = "--hostfile";
    argv[n++] = (char *)hostfile_path;
    argv[n++] = "-np";
    argv[n++] = "1";
    argv[n++] = (char *)exec;
    argv[n++] = "--version";
    argv[n] = NULL;
    dml_child_spec spec = {.argv = argv, .timeout_s = timeout_s,
                           .term_grace_s = 2, .stdout_max = 256,
                           .stderr_max = 256};
    dml_child_result r;
    memset(&r, 0, sizeof r);
    bool ok = dml_child_run(&spec, &r, &err) == DML_OK &&
              r.stop == DML_CHILD_EXITED && WIFEXITED(r.wstatus) &&
              WEXITSTATUS(r.wstatus) == 0;
    dml_child_result_free(&r);
    free(words);
    return ok;
}
