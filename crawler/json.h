/*
 * json.h - JSON text for the manifest.
 *
 * Pure.  Whatever bytes go in, the output is valid JSON in UTF-8.
 */
#ifndef CR_JSON_H
#define CR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends s[0..n) as a JSON string literal, quotes included.  Valid UTF-8
 * passes through; '"', '\\' and control characters are escaped (\n, \t, ...
 * or \u00XX); U+2028/U+2029 are escaped too; each byte of an invalid UTF-8
 * sequence (including overlong forms and surrogates) becomes U+FFFD.
 * s may be NULL when n is 0... use cr_json_str_or_null for NULL. */
int cr_json_str(struct cr_buf *b, const char *s, size_t n);

/* Appends s as a JSON string, or null when s is NULL. */
int cr_json_str_or_null(struct cr_buf *b, const char *s);

/* Appends "key": (with quotes and colon, preceded by a comma unless first). */
int cr_json_key(struct cr_buf *b, const char *key, int first);

/* Appends a number; NaN and infinities become null. */
int cr_json_double(struct cr_buf *b, double v);
int cr_json_int(struct cr_buf *b, int64_t v);

#endif
