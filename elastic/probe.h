/*
 * probe.h: whether a host answers: one launch of `dml-exec --version` on
 * that host alone, through the job's launcher (LAUNCHER --hostfile H -np
 * 1 dml-exec --version), within a time limit. The same path a relaunch
 * takes (the launcher's remote start, the program on the host), so a host
 * that answers can take ranks again. dml-run probes the hosts it lost
 * this way (supervise.h).
 */
#ifndef DML_ELASTIC_PROBE_H
#define DML_ELASTIC_PROBE_H

#include <stdbool.h>

/* The launcher's words (NULL: "mpirun") into argv[0..], at most max;
 * *words holds their copy (free it). Returns how many. */
int dml_elastic_launcher_words(const char *launcher, char *argv[], int max,
                               char **words);

/* Whether host answers: the launch above, its hostfile written to
 * hostfile_path, exits 0 within timeout_s (else it is stopped). Its
 * output is swallowed. */
bool dml_elastic_host_answers(const char *launcher, const char *exec,
                              const char *host, const char *hostfile_path,
                              double timeout_s);

#endif
