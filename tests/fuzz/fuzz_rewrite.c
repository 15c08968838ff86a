/*
 * fuzz_rewrite.c - the -k rewriter (rewrite.h) under fuzzing.
 *
 * Input: one flag byte, then a body.  Bit 0 picks CSS or HTML; the other
 * bits pick where the body is cut into two feeds.  Promises checked:
 *  - a link callback that keeps every link gives back the body byte for
 *    byte (nothing is lost, added or reordered, held bytes included);
 *  - with a callback that replaces every link, the output does not depend
 *    on where the body was cut.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crawler.h"
#include "fuzz.h"
#include "rewrite.h"

static int keep_link(void *arg, const char *ref, size_t n, int base, struct cr_buf *out)
{
  (void)arg;
  (void)ref;
  (void)n;
  (void)base;
  (void)out;
  return 0;
}

static int swap_link(void *arg, const char *ref, size_t n, int base, struct cr_buf *out)
{
  (void)arg;
  (void)base;
  return cr_buf_puts(out, "x/y%3Fz.html#") == 0 && cr_buf_append(out, ref, n < 8 ? n : 8) == 0;
}

static int put(void *arg, const char *p, size_t n)
{
  return cr_buf_append(arg, p, n);
}

static int run(enum cr_links_type type, cr_rewrite_link_cb cb, const char *p, size_t n,
               size_t cut, struct cr_buf *out)
{
  struct cr_rewrite *w = NULL;
  int rc = cr_rewrite_new(type, cb, put, out, &w);

  if(!rc)
    rc = cr_rewrite_feed(w, p, cut);
  if(!rc)
    rc = cr_rewrite_feed(w, p + cut, n - cut);
  if(!rc)
    rc = cr_rewrite_end(w);
  cr_rewrite_free(&w);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cr_buf a;
  struct cr_buf b;
  enum cr_links_type type;
  const char *p;
  size_t n;
  size_t cut;

  if(size < 1)
    return 0;
  type = data[0] & 1 ? CR_LINKS_CSS : CR_LINKS_HTML;
  p = (const char *)data + 1;
  n = size - 1;
  cut = n ? (size_t)(data[0] >> 1) * n / 127 : 0;
  if(cut > n)
    cut = n;
  cr_buf_init(&a, 64u << 20);
  cr_buf_init(&b, 64u << 20);
  if(!run(type, keep_link, p, n, cut, &a))
    FUZZ_CHECK(a.len == n && (n == 0 || !memcmp(a.data, p, n)),
               "kept links, yet %zu bytes came out of %zu", a.len, n);
  cr_buf_reset(&a);
  if(!run(type, swap_link, p, n, 0, &a) && !run(type, swap_link, p, n, cut, &b))
    FUZZ_CHECK(a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len)),
               "cut at %zu, the output differs", cut);
  cr_buf_cleanup(&a);
  cr_buf_cleanup(&b);
  return 0;
}
