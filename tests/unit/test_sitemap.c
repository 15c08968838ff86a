/* test_sitemap.c - the streaming sitemap reader: urlsets, indexes, gzip,
 * any chunking, the protocol's limits, and files that are not sitemaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "crawler.h"
#include "sitemap.h"
#include "tap.h"

/* Every entry as "u LOC [LASTMOD]\n" or "s LOC [LASTMOD]\n". */
static void collect(void *arg, int index, const char *loc, const char *lastmod)
{
  struct cr_buf *b = arg;

  cr_buf_printf(b, "%c %s%s%s\n", index ? 's' : 'u', loc, lastmod ? " " : "",
                lastmod ? lastmod : "");
}

/* Runs the reader over body in chunks of `chunk` bytes (0: at once). */
static int run(const char *body, size_t n, size_t chunk, struct cr_buf *out, unsigned *count)
{
  struct cr_sitemap *s = NULL;
  size_t off = 0;
  int rc = 0;

  if(cr_sitemap_new(collect, out, &s))
    return CR_ENOMEM;
  while(off < n && !rc) {
    size_t k = chunk && n - off > chunk ? chunk : n - off;

    rc = cr_sitemap_feed(s, body + off, k);
    off += k;
  }
  cr_sitemap_end(s);
  if(count)
    *count = cr_sitemap_count(s);
  cr_sitemap_free(&s);
  return rc;
}

static const char urlset[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
  "  <url><loc>http://a.test/</loc><lastmod>2026-11-01</lastmod></url>\n"
  "  <url>\n    <loc>\n      http://a.test/b?x=1&amp;y=2\n    </loc>\n  </url>\n"
  "  <url><loc><![CDATA[http://a.test/c]]></loc><priority>0.5</priority></url>\n"
  "  <url><lastmod>2026-01-01</lastmod></url>\n"
  "  <url><loc></loc></url>\n"
  "  <image:image xmlns:image=\"x\"><image:loc>http://a.test/img</image:loc></image:image>\n"
  "</urlset>\n";
static const char urlset_want[] =
  "u http://a.test/ 2026-11-01\n"
  "u http://a.test/b?x=1&y=2\n"
  "u http://a.test/c\n";

static const char index_xml[] =
  "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
  "<sitemap><loc>http://a.test/s1.xml.gz</loc><lastmod>2026-10-10T10:00:00Z</lastmod></sitemap>"
  "<sitemap><loc>http://a.test/s2.xml</loc></sitemap>"
  "</sitemapindex>";
static const char index_want[] =
  "s http://a.test/s1.xml.gz 2026-10-10T10:00:00Z\n"
  "s http://a.test/s2.xml\n";

static void check_plain(void)
{
  static const size_t chunks[] = { 0, 1, 2, 3, 7, 64 };
  size_t i;

  for(i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    struct cr_buf out;
    char name[64];

    cr_buf_init(&out, 1 << 20);
    run(urlset, sizeof(urlset) - 1, chunks[i], &out, NULL);
    snprintf(name, sizeof(name), "urlset in chunks of %zu", chunks[i]);
    tap_check(tap_streq(out.data ? out.data : "", urlset_want), name, NULL, 0, out.data,
              urlset_want);
    cr_buf_cleanup(&out);
    cr_buf_init(&out, 1 << 20);
    run(index_xml, sizeof(index_xml) - 1, chunks[i], &out, NULL);
    snprintf(name, sizeof(name), "sitemap index in chunks of %zu", chunks[i]);
    tap_check(tap_streq(out.data ? out.data : "", index_want), name, NULL, 0, out.data,
              index_want);
    cr_buf_cleanup(&out);
  }
}

static size_t gzip(const char *in, size_t n, unsigned char *out, size_t cap)
{
  z_stream z;
  size_t got;

  memset(&z, 0, sizeof(z));
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  deflate(&z, Z_FINISH);
  got = cap - z.avail_out;
  deflateEnd(&z);
  return got;
}

static void check_gzip(void)
{
  static unsigned char gz[4096];
  size_t n = gzip(urlset, sizeof(urlset) - 1, gz, sizeof(gz));
  static const size_t chunks[] = { 0, 1, 5, 100 };
  struct cr_buf out;
  size_t i;
  int rc;

  for(i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    char name[64];

    cr_buf_init(&out, 1 << 20);
    run((const char *)gz, n, chunks[i], &out, NULL);
    snprintf(name, sizeof(name), "gzip urlset in chunks of %zu", chunks[i]);
    tap_check(tap_streq(out.data ? out.data : "", urlset_want), name, NULL, 0, out.data,
              urlset_want);
    cr_buf_cleanup(&out);
  }
  /* A broken stream: the header, then garbage. */
  memset(gz + 10, 0xff, 40);
  cr_buf_init(&out, 1 << 20);
  rc = run((const char *)gz, 50, 0, &out, NULL);
  tap_check(rc == CR_EINVAL, "broken gzip refused", NULL, 0, rc == CR_EINVAL ? "EINVAL" : "ok",
            "EINVAL");
  cr_buf_cleanup(&out);
}

/* 60,000 entries: the reader stops at 50,000, as the protocol allows. */
static void check_limits(void)
{
  struct cr_buf body;
  struct cr_buf out;
  unsigned count = 0;
  int rc;
  int i;
  char want[64];
  char got[64];

  cr_buf_init(&body, 8u << 20);
  cr_buf_puts(&body, "<urlset>");
  for(i = 0; i < 60000; i++)
    cr_buf_printf(&body, "<url><loc>http://a.test/%d</loc></url>", i);
  cr_buf_puts(&body, "</urlset>");
  cr_buf_init(&out, 16u << 20);
  rc = run(body.data, body.len, 65536, &out, &count);
  snprintf(want, sizeof(want), "%d entries, stopped", CR_SITEMAP_MAX_URLS);
  snprintf(got, sizeof(got), "%u entries, %s", count, rc == CR_EFULL ? "stopped" : "not stopped");
  tap_check(count == CR_SITEMAP_MAX_URLS && rc == CR_EFULL, "50,000 entries at most", NULL, 0,
            got, want);
  cr_buf_cleanup(&body);
  cr_buf_cleanup(&out);
}

/* Not sitemaps: nothing comes out, nothing breaks. */
static void check_hostile(void)
{
  static const char *const cases[] = {
    "<html><body><a href=\"http://a.test/\">x</a><url><loc>http://x/</loc></url></body></html>",
    "<!DOCTYPE urlset [<!ENTITY a \"http://inner.test/\">]><urlset><url><loc>&a;</loc></url>"
    "</urlset>",
    "<!DOCTYPE urlset SYSTEM \"http://evil.test/x.dtd\"><urlset><url><loc>&ext;</loc></url>"
    "</urlset>",
    "\x00\x01\x02 not xml at all \xff\xfe",
    "<urlset><url><loc>http://a.test/ok</loc></url><url><loc>unclosed",
  };
  /* An internal entity is the file's own text, as if written out; an
   * external one is never fetched. */
  static const char *const want[] = { "", "u http://inner.test/\n", "", "",
                                      "u http://a.test/ok\n" };
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct cr_buf out;
    size_t n = i == 3 ? 20 : strlen(cases[i]);

    cr_buf_init(&out, 1 << 20);
    run(cases[i], n, 3, &out, NULL);
    tap_check(tap_streq(out.data ? out.data : "", want[i]), "not a sitemap, or a hostile one",
              cases[i], n, out.data, want[i]);
    cr_buf_cleanup(&out);
  }
}

/* An entity bomb: libxml2's amplification guard stops it; the reader
 * returns, having reported at most the one entry. */
static void check_bomb(void)
{
  struct cr_buf body;
  struct cr_buf out;
  unsigned count = 99;
  int i;

  cr_buf_init(&body, 1 << 20);
  cr_buf_puts(&body, "<!DOCTYPE urlset [<!ENTITY a0 \"http://x.test/aaaaaaaaaa\">");
  for(i = 1; i < 12; i++)
    cr_buf_printf(&body, "<!ENTITY a%d \"&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;\">",
                  i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
  cr_buf_puts(&body, "]><urlset><url><loc>&a11;</loc></url></urlset>");
  cr_buf_init(&out, 1 << 20);
  run(body.data, body.len, 0, &out, &count);
  tap_check(count <= 1 && out.len < 64 * 1024, "an entity bomb comes to nothing", NULL, 0,
            count <= 1 ? "bounded" : "unbounded", "bounded");
  cr_buf_cleanup(&body);
  cr_buf_cleanup(&out);
}

int main(void)
{
  check_plain();
  check_gzip();
  check_limits();
  check_hostile();
  check_bomb();
  return tap_done();
}
