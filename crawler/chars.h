/*
 * chars.h - byte-level helpers shared by the pure modules: hex digits and
 * UTF-8 validity.  Pure, no state.
 */
#ifndef CR_CHARS_H
#define CR_CHARS_H

#include <stddef.h>

/* The value of a hex digit (either case), or -1. */
int cr_hexval(unsigned char c);

/* Nonzero when s[0..n) starts with "%XX", two hex digits after the '%'. */
int cr_is_escape(const char *s, size_t n);

/* The byte an escape "%XX" at s stands for; s must pass cr_is_escape. */
unsigned char cr_unescape(const char *s);

/* Length of the valid UTF-8 sequence of 2-4 bytes starting at s[0..n), or
 * 0.  RFC 3629: no overlong forms (C0, C1, E0 80-9F, F0 80-8F), no
 * surrogates (ED A0-BF), nothing above U+10FFFF (F4 90-BF, F5-FF). */
size_t cr_utf8_len(const unsigned char *s, size_t n);

#endif
