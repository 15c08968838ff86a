/*
 * fuzz_sitemap.c - the streaming sitemap reader (sitemap.h) under fuzzing.
 *
 * The first byte picks the chunk size (1 to 256 bytes); the rest is the
 * file, fed in those chunks.  Every entry must be a non-empty string
 * without leading or trailing white space, at most CR_SITEMAP_LOC_MAX
 * bytes, and never more than CR_SITEMAP_MAX_URLS of them; the same file fed
 * at once must give the same entries (the reader's answer does not depend
 * on how the network cut the body).
 */
#include <string.h>

#include "buf.h"
#include "crawler.h"
#include "fuzz.h"
#include "sitemap.h"

struct sm_out {
  struct cr_buf b;
  unsigned n;
};

static void sm_entry(void *arg, int index, const char *loc, const char *lastmod)
{
  struct sm_out *o = arg;
  size_t n = strlen(loc);

  FUZZ_CHECK(n > 0 && n <= CR_SITEMAP_LOC_MAX, "loc of %zu bytes", n);
  FUZZ_CHECK(loc[0] != ' ' && loc[0] != '\n' && loc[n - 1] != ' ' && loc[n - 1] != '\n',
             "loc not trimmed: '%s'", loc);
  o->n++;
  FUZZ_CHECK(o->n <= CR_SITEMAP_MAX_URLS, "%u entries", o->n);
  cr_buf_printf(&o->b, "%d %s %s\n", index, loc, lastmod ? lastmod : "-");
}

static void sm_run(const uint8_t *p, size_t n, size_t chunk, struct sm_out *o)
{
  struct cr_sitemap *s = NULL;
  size_t off = 0;

  if(cr_sitemap_new(sm_entry, o, &s))
    return;
  while(off < n) {
    size_t k = n - off > chunk ? chunk : n - off;

    if(cr_sitemap_feed(s, (const char *)p + off, k))
      break;
    off += k;
  }
  cr_sitemap_end(s);
  FUZZ_CHECK(cr_sitemap_count(s) == o->n, "count %u, reported %u", cr_sitemap_count(s), o->n);
  cr_sitemap_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sm_out a;
  struct sm_out b;

  if(size < 1)
    return 0;
  cr_buf_init(&a.b, 64u << 20);
  cr_buf_init(&b.b, 64u << 20);
  a.n = b.n = 0;
  sm_run(data + 1, size - 1, (size_t)data[0] + 1, &a);
  sm_run(data + 1, size - 1, size, &b);
  FUZZ_CHECK(a.n == b.n && a.b.len == b.b.len &&
             (!a.b.len || !memcmp(a.b.data, b.b.data, a.b.len)),
             "chunked: %u entries, whole: %u", a.n, b.n);
  cr_buf_cleanup(&a.b);
  cr_buf_cleanup(&b.b);
  return 0;
}
