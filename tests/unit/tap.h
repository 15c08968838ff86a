/*
 * tap.h - the few helpers the unit tests share: TAP output ("ok 1 - ...",
 * "not ok 2 - ...", the plan "1..N" at the end) and a printer for inputs
 * that may hold any byte.  A test program returns tap_done(), which is
 * non-zero when a case failed.
 */
#ifndef CR_TAP_H
#define CR_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

/* Prints s[0..n) as a C string literal, so control bytes and invalid UTF-8
 * show up on a terminal.  Long inputs are abridged. */
static inline void tap_print_bytes(FILE *f, const char *s, size_t n)
{
  size_t i;
  size_t shown = n > 160 ? 120 : n;

  if(!s) {
    fputs("NULL", f);
    return;
  }
  fputc('"', f);
  for(i = 0; i < shown; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if(c < 0x20 || c >= 0x7f)
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
  if(shown < n)
    fprintf(f, "... (%zu bytes)", n);
}

/* Records one result.  On failure the name and, when given, the input,
 * the value got and the value expected go to stdout as TAP comments. */
static inline int tap_check(int ok, const char *name, const char *in,
                            size_t inlen, const char *got, const char *want)
{
  tap_count++;
  if(ok) {
    printf("ok %d - %s\n", tap_count, name);
    return 1;
  }
  tap_failed++;
  printf("not ok %d - %s\n", tap_count, name);
  if(in) {
    fputs("#   input: ", stdout);
    tap_print_bytes(stdout, in, inlen);
    fputc('\n', stdout);
  }
  fputs("#     got: ", stdout);
  tap_print_bytes(stdout, got, got ? strlen(got) : 0);
  fputs("\n#    want: ", stdout);
  tap_print_bytes(stdout, want, want ? strlen(want) : 0);
  fputc('\n', stdout);
  return 0;
}

/* Compares two strings (either may be NULL). */
static inline int tap_streq(const char *a, const char *b)
{
  if(!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

/* Writes a TAP comment line. */
static inline void tap_note(const char *fmt, ...)
  __attribute__((format(printf, 1, 2)));
static inline void tap_note(const char *fmt, ...)
{
  va_list ap;

  fputs("# ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
}

/* Prints the plan and a summary; returns the exit status. */
static inline int tap_done(void)
{
  printf("1..%d\n", tap_count);
  if(tap_failed)
    printf("# %d of %d failed\n", tap_failed, tap_count);
  return tap_failed ? 1 : 0;
}

#endif
