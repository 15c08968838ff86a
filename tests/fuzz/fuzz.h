/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point's
 * prototype and a check that reports a broken invariant and aborts.
 *
 * Each target is one LLVMFuzzerTestOneInput.  It is linked either with
 * libFuzzer (-Dfuzzing=true, clang) or with replay.c, which runs it on the
 * files of the seed and regression directories as a Meson test; abort()
 * is how both learn that an input broke a promise.
 */
#ifndef CR_FUZZ_H
#define CR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Says which promise broke and where, then aborts: libFuzzer saves the
 * input, the replay driver dies with SIGABRT and the test fails. */
#define FUZZ_CHECK(cond, ...)                                               \
  do {                                                                      \
    if(!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__,  \
              #cond);                                                       \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
      abort();                                                              \
    }                                                                       \
  } while(0)

/* Prints s[0..n) as a C literal to stderr, for the messages above. */
static inline void fuzz_print(const char *s, size_t n)
{
  size_t i;

  fputc('"', stderr);
  for(i = 0; i < n && i < 300; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c == '"' || c == '\\')
      fprintf(stderr, "\\%c", c);
    else if(c < 0x20 || c >= 0x7f)
      fprintf(stderr, "\\x%02x", c);
    else
      fputc(c, stderr);
  }
  fputc('"', stderr);
  if(i < n)
    fprintf(stderr, "... (%zu bytes)", n);
  fputc('\n', stderr);
}

#endif
