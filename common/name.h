/*
 * name.h: the one rule for names, and for fingerprints.
 *
 * A name (a model spec's `name`, a cluster spec's `name` and node-group
 * `name`, a plan file's `model.name` and `cluster.name`, a preset named on
 * the command line) is an identifier dml repeats where text is
 * interpreted: generated shell scripts and Slurm job names (--export),
 * table cells on a terminal, database keys, preset file names. So every
 * reader takes names through dml_name_get() and every writer that builds
 * a spec in C (dml-probe) through dml_name_from_text(), and a name is:
 *
 *   1. 1 to DML_NAME_MAX_BYTES (63) bytes;
 *   2. made of ASCII letters, digits, '.', '_', '+' and '-' only: no
 *      whitespace, no control characters, no shell metacharacters, no '/'
 *      (a name never reads as a path), nothing outside ASCII;
 *   3. started by a letter or a digit (never an option, never "." or "..").
 *
 * Every preset under data/ and every fixture satisfies it. Free text
 * (`description`, a device's `model`) is not a name: it may hold anything
 * but goes out through dml_quote_terminal() (common/quote.h).
 *
 * A fingerprint (a cluster spec's or a plan's `fingerprint`, the key of
 * calibrations) is 1 to DML_FINGERPRINT_HEX_MAX hexadecimal digits.
 */
#ifndef DML_NAME_H
#define DML_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "json.h"

#define DML_NAME_MAX_BYTES 63      /* bytes of a name, NUL not counted */
#define DML_FINGERPRINT_HEX_MAX 64 /* hex digits of a fingerprint */

/* The rule in words, for messages and --help. */
#define DML_NAME_RULE                                                         \
    "a name is 1 to 63 bytes of ASCII letters, digits, '.', '_', '+' and "    \
    "'-', starting with a letter or digit"

/*
 * Is s a name? When not and why is not NULL, why[size] says what is wrong
 * in the words of an error message: "must not be empty", "longer than 63
 * bytes (70 bytes)", "a newline (0x0a) is not allowed (character 2); ...".
 */
bool dml_name_valid(const char *s, char *why, size_t size);

/* DML_OK, or DML_EINPUT with err naming field (no position) and why. */
dml_status dml_name_check(const char *s, const char *field, dml_error *err);

/*
 * The string o.key as a name, copied into dst[size] (size greater than
 * DML_NAME_MAX_BYTES). Absent and not required leaves dst untouched;
 * anything that is not a name is DML_EINPUT at the value's position,
 * whatever its length (a 1 MB name is refused, not cut).
 */
dml_status dml_name_get(const dml_json_obj *o, const char *key, bool required,
                        char *dst, size_t size, dml_error *err);

/*
 * A name made from text that need not be one (a host name from hwloc or
 * gethostname, a CPU model): each run of bytes a name cannot hold becomes
 * one '-', leading characters that cannot start a name are dropped, and
 * the result is cut to DML_NAME_MAX_BYTES (and size - 1). When nothing is
 * left, fallback (itself a name) is used. out[size], size > 1.
 */
void dml_name_from_text(const char *text, const char *fallback, char *out,
                        size_t size);

/* Is s 1 to DML_FINGERPRINT_HEX_MAX hexadecimal digits? why as above. */
bool dml_fingerprint_valid(const char *s, char *why, size_t size);

/* The optional string o.key as a fingerprint into dst[size] (size greater
 * than DML_FINGERPRINT_HEX_MAX); absent leaves dst untouched. */
dml_status dml_fingerprint_get(const dml_json_obj *o, const char *key,
                               char *dst, size_t size, dml_error *err);

#endif
