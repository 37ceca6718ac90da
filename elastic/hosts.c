/*
 * hosts.c: hostfiles read and written (see hosts.h).
 */
#include "elastic/hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

/* One line's host and slots; false when it is not "HOST [slots=N]". */
static bool parse_line(char *line, dml_host *h)
{
    char *save = NULL, *name = strtok_r(line, " \t\r\n", &save);
    if (!name || strlen(name) >= sizeof h->name)
        return false;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->slots = 1;
    h->alive = true;
    char *tok = strtok_r(NULL, " \t\r\n", &save);
    if (!tok)
        return true;
    char *end = NULL;
    if (strncmp(tok, "slots=", 6) != 0)
        return false;
    long v = strtol(tok + 6, &end, 10);
    if (end == tok + 6 || *end || v < 1 || v > 1 << 20)
        return false;
    h->slots = (int)v;
    return strtok_r(NULL, " \t\r\n", &save) == NULL;
}

dml_status dml_hosts_read(const char *path, dml_hosts *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    DML_CHECK(dml_file_read_all(path, 1u << 20, &text, &len, err));
    dml_status s = DML_OK;
    int line = 0;
    for (char *p = text, *next; p && *p && s == DML_OK; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        line++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        if (strspn(p, " \t\r") == strlen(p))
            continue;
        dml_host h;
        if (out->n == DML_HOSTS_MAX)
            s = dml_error_set(err, DML_EINPUT, path, line, 0, NULL,
                              "more than %d hosts", DML_HOSTS_MAX);
        else if (!parse_line(p, &h))
            s = dml_error_set(err, DML_EINPUT, path, line, 0, NULL,
                              "expected \"HOST\" or \"HOST slots=N\"");
        for (int i = 0; s == DML_OK && i < out->n; i++)
            if (strcmp(out->h[i].name, h.name) == 0)
                s = dml_error_set(err, DML_EINPUT, path, line, 0, NULL,
                                  "host %s listed twice", h.name);
        if (s == DML_OK)
            out->h[out->n++] = h;
    }
    free(text);
    if (s == DML_OK && out->n == 0)
        s = dml_error_set(err, DML_EINPUT, path, 0, 0, NULL, "no host");
    return s;
}

int dml_hosts_slots(const dml_hosts *h)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        if (h->h[i].alive)
            n += h->h[i].slots;
    return n;
}

/* Set host `name`'s state; false when it is not listed. */
static bool set_alive(dml_hosts *h, const char *name, bool alive)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->h[i].name, name) == 0) {
            h->h[i].alive = alive;
            return true;
        }
    return false;
}

bool dml_hosts_lose(dml_hosts *h, const char *name)
{
    return set_alive(h, name, false);
}

bool dml_hosts_revive(dml_hosts *h, const char *name)
{
    return set_alive(h, name, true);
}

void dml_hosts_list(const dml_hosts *h, bool lost, char *out, size_t size)
{
    int total = 0, k = 0;
    for (int i = 0; i < h->n; i++)
        total += h->h[i].alive != lost;
    out[0] = '\0';
    for (int i = 0; i < h->n; i++) {
        if (h->h[i].alive == lost)
            continue;
        size_t len = strlen(out);
        k++;
        snprintf(out + len, size - len, "%s%s",
                 k == 1 ? "" : k == total ? " and " : ", ", h->h[i].name);
    }
    if (total == 0)
        snprintf(out, size, "none");
}

dml_status dml_hosts_write(const char *path, const dml_hosts *h, int ranks,
                           dml_error *err)
{
    char text[DML_HOSTS_MAX * (DML_HOST_NAME_MAX + 24)];
    size_t len = 0;
    for (int i = 0; i < h->n && ranks > 0; i++) {
        if (!h->h[i].alive)
            continue;
        int take = h->h[i].slots < ranks ? h->h[i].slots : ranks;
        ranks -= take;
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "%s slots=%d\n", h->h[i].name, take);
    }
    return dml_file_write_atomic(path, text, len, err);
}
