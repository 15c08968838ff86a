/*
 * json.h - JSON text for the manifest.
 *
 * Pure.  Whatever bytes go in, the output is valid JSON in UTF-8.  Every
 * function appends to b; one that fails (CR_EFULL, CR_ENOMEM) leaves b as
 * it was, so a record is never cut in the middle of a value.
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

/* Appends a number; NaN and infinities become null.  Doubles are written
 * with 15 significant digits ("%.15g", DBL_DIG): 0.1 + 0.2 prints 0.3,
 * large values take an exponent ("1e+20"), and the decimal point is '.'
 * whatever LC_NUMERIC says. */
int cr_json_double(struct cr_buf *b, double v);
int cr_json_int(struct cr_buf *b, int64_t v);

/* Reading back: the manifest's own lines, flat objects of strings,
 * numbers, booleans and null. */
enum cr_json_type {
  CR_JSON_NULL,
  CR_JSON_STRING,   /* decoded to UTF-8 (escapes undone; a lone surrogate
                       becomes U+FFFD) */
  CR_JSON_NUMBER,   /* as written */
  CR_JSON_BOOL,     /* "true" or "false" */
};

/* Called for each member: key and value NUL-terminated in scratch storage,
 * valid during the call.  A nonzero return stops the walk and is returned
 * by cr_json_walk. */
typedef int (*cr_json_member_cb)(void *arg, const char *key, enum cr_json_type type,
                                 const char *val, size_t vlen);

/* Walks the members of the object in p[0..n) (surrounding white space
 * allowed).  Nested objects and arrays, and anything else that is not
 * such an object, give CR_EINVAL; strings longer than max bytes decoded
 * also give CR_EINVAL.  Returns 0, CR_EINVAL, CR_ENOMEM or the callback's
 * value. */
int cr_json_walk(const char *p, size_t n, size_t max, cr_json_member_cb cb, void *arg);

#endif
