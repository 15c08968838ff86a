/*
 * buf.h - a growable byte buffer with a hard cap.
 *
 * The cap is set at init so memory is bounded when the buffer is created;
 * an append that would pass it fails with CR_EFULL and leaves the buffer as
 * it was.  data is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef CR_BUF_H
#define CR_BUF_H

#include <stddef.h>

struct cr_buf {
  char *data;   /* owned; NULL until the first append */
  size_t len;   /* bytes used */
  size_t cap;   /* bytes allocated */
  size_t max;   /* hard cap on len */
};

/* Prepares caller storage; nothing is allocated yet. */
void cr_buf_init(struct cr_buf *b, size_t max);
/* Releases the memory; the buffer may be reused after cr_buf_init. */
void cr_buf_cleanup(struct cr_buf *b);
/* Empties the buffer, keeping its memory. */
void cr_buf_reset(struct cr_buf *b);
/* Appends n bytes.  Returns 0, CR_EFULL past the cap, CR_ENOMEM. */
int cr_buf_append(struct cr_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int cr_buf_puts(struct cr_buf *b, const char *s);
/* Appends one byte. */
int cr_buf_putc(struct cr_buf *b, char c);
/* Appends printf-formatted text. */
int cr_buf_printf(struct cr_buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

#endif
