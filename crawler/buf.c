/* buf.c - growable byte buffer with a hard cap; see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler.h"

void cr_buf_init(struct cr_buf *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void cr_buf_cleanup(struct cr_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void cr_buf_reset(struct cr_buf *b)
{
  b->len = 0;
  if(b->data)
    b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL. */
static int buf_reserve(struct cr_buf *b, size_t n)
{
  size_t need;
  size_t ncap;
  char *p;

  if(n > b->max - b->len)
    return CR_EFULL;
  need = b->len + n + 1;
  if(need <= b->cap)
    return 0;
  ncap = b->cap ? b->cap : 64;
  while(ncap < need)
    ncap *= 2;
  if(ncap > b->max + 1)
    ncap = b->max + 1;
  p = realloc(b->data, ncap);
  if(!p)
    return CR_ENOMEM;
  b->data = p;
  b->cap = ncap;
  return 0;
}

int cr_buf_append(struct cr_buf *b, const void *p, size_t n)
{
  int rc = buf_reserve(b, n);

  if(rc)
    return rc;
  if(n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int cr_buf_puts(struct cr_buf *b, const char *s)
{
  return cr_buf_append(b, s, strlen(s));
}

int cr_buf_putc(struct cr_buf *b, char c)
{
  /* The tokenizers append a byte at a time: no reserve when it fits. */
  if(b->len + 2 <= b->cap && b->len < b->max) {
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
  }
  return cr_buf_append(b, &c, 1);
}

int cr_buf_printf(struct cr_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;
  int rc;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0)
    return CR_EINVAL;
  rc = buf_reserve(b, (size_t)n);
  if(rc)
    return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}
