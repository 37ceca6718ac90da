/*
 * quote.h: text from outside dml made safe for the two readers that
 * interpret it: a shell and a terminal.
 *
 * Names, paths, descriptions, host and CPU names come from files people
 * write, from the command line, from hwloc and from databases that older
 * versions filled. dml repeats them in generated scripts (--export) and in
 * tables, reports and messages. A shell would run a `$(...)` or a line
 * after a newline; a terminal would obey an escape sequence. So every such
 * value goes through one of these two functions on its way out:
 *
 *   dml_quote_shell     one shell word that reads back as exactly the
 *                       value, on one line (for generated scripts);
 *   dml_quote_terminal  the value with control characters written as
 *                       visible escapes (for tables, reports, comments
 *                       in scripts, and every error and log line).
 *
 * Both follow snprintf: they return the length of the whole result and
 * write as much as fits (always terminated when size > 0).
 */
#ifndef DML_QUOTE_H
#define DML_QUOTE_H

#include <stddef.h>

/*
 * s as one shell word. A non-empty s made only of bytes that no shell
 * treats specially ([A-Za-z0-9@%+=:,./_-]) is written as it is; anything
 * else is put in single quotes, with an embedded ' as '\'' and every
 * control byte (0x00-0x1f, 0x7f) as a $'\xNN' piece, so that the word
 * never spans lines (the $'...' form is bash, ksh, zsh and POSIX.1-2024
 * sh; the scripts dml generates are bash). "" is ''.
 * Unlike snprintf, when the result does not fit, out is left empty
 * rather than holding a word whose quote is never closed.
 */
size_t dml_quote_shell(const char *s, char *out, size_t size);

/*
 * s for a terminal: bytes 0x00-0x1f and 0x7f, the C1 controls U+0080 to
 * U+009F and bytes that are not valid UTF-8 are written as \n, \t, \r or
 * \xNN; valid UTF-8 text passes unchanged. A result cut short by size
 * ends before an escape or a character, never inside one.
 */
size_t dml_quote_terminal(const char *s, char *out, size_t size);

#endif
