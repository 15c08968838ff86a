/*
 * input.h - reading URL lists.
 *
 * A list has one URL per line.  Blank lines and lines whose first non-blank
 * character is '#' are skipped; whitespace around a URL is trimmed.  Lines
 * are read with a fixed cap, so a huge line costs no memory: it is reported
 * as too long and skipped.
 */
#ifndef CR_INPUT_H
#define CR_INPUT_H

#include <stddef.h>
#include <stdio.h>

#define CR_INPUT_LINE_MAX 8192 /* bytes kept of one line */

enum cr_line_kind {
  CR_LINE_SKIP = 0,  /* blank or comment */
  CR_LINE_URL = 1,   /* a candidate URL, delimited by *start and *ulen */
  CR_LINE_BAD = 2,   /* not a URL; *reason says why */
};

/* Classifies one line (without its newline; any bytes, NUL included).
 * Pure.  For CR_LINE_URL, *start and *ulen delimit the trimmed URL inside
 * line; it still has to be normalized (cr_url_normalize), which can refuse
 * it.  For CR_LINE_BAD, *reason is a static string: "control character in
 * URL", "space in URL" (a space or tab inside the trimmed URL), "not http or
 * https" (a scheme other than http/https: "ftp://x", but also "mailto:x",
 * "javascript:x", "data:x"; "example.com:8080/x", a host and port, stays a
 * URL).  Trimming removes ASCII whitespace (space, \t, \n, \v, \f, \r)
 * at both ends. */
enum cr_line_kind cr_input_line(const char *line, size_t len,
                                const char **start, size_t *ulen,
                                const char **reason);

struct cr_input; /* a line reader over a FILE */

/* Starts reading from path, or standard input for "-".  Returns 0 or CR_EIO
 * (errno set).  *out is freed with cr_input_free. */
int cr_input_open(const char *path, struct cr_input **out);

/* Reads the next line.  Returns 1 with *line and *len (valid until the next call;
 * the newline and a trailing '\r' removed; NUL bytes kept and counted in
 * *len, and a NUL after the end), *lineno (1-based) and *truncated
 * (nonzero when the line was longer than CR_INPUT_LINE_MAX: its first
 * CR_INPUT_LINE_MAX bytes are returned and the rest was discarded), 0 at end
 * of input, CR_EIO on a read error. */
int cr_input_next(struct cr_input *in, const char **line, size_t *len,
                  unsigned long *lineno, int *truncated);

/* Closes the reader (not stdin's FILE) and clears *in; accepts NULL. */
void cr_input_free(struct cr_input **in);

#endif
