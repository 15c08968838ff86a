/*
 * fuzz_links.c - streaming link extraction (links.h) under fuzzing.
 *
 * Input: a flag byte, a seed byte, then the body.
 *  - flag bit 0: CSS rather than HTML; bit 1: which page URL; bit 2: share
 *    a memo (cr_links_set_memo) in the second run.
 * The body is parsed twice: fed whole, then in chunks whose sizes come from
 * the seed (mostly a few bytes, now and then a few KB), so a construct cut
 * at every possible place is tried.  links.h promises what comes out does
 * not depend on the cut: both runs must report the same links in the same
 * order (the same set with a memo, which drops repeats) and agree on
 * nofollow.  Every link must be an absolute, normalized http(s) URL.
 */
#include <string.h>

#include "buf.h"
#include "crawler.h"
#include "fuzz.h"
#include "hash.h"
#include "links.h"
#include "url.h"

static const char *const lk_pages[] = {
  "http://example.com/dir/page.html",
  "https://[2001:db8::1]:8443/a/b/?q=1",
};

/* The links of one run, one a line as "P url" or "R url". */
struct lk_run {
  struct cr_buf out;
  size_t n;
};

static void lk_on_link(void *arg, const char *url, enum cr_link_kind kind)
{
  struct lk_run *run = arg;
  struct cr_url_view v;
  char *again = NULL;
  size_t len;
  int rc;

  FUZZ_CHECK(url != NULL, "NULL link");
  len = strlen(url);
  FUZZ_CHECK(len > 0, "empty link");
  FUZZ_CHECK(kind == CR_LINK_PAGE || kind == CR_LINK_RESOURCE, "kind %d",
             (int)kind);
  FUZZ_CHECK(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0,
             "not http(s): %s", url);
  FUZZ_CHECK(cr_url_view(url, &v) == 0, "cr_url_view refuses %s", url);
  rc = cr_url_normalize(url, len, &again, NULL);
  FUZZ_CHECK(rc == 0 && strcmp(again, url) == 0,
             "not normalized: %s gives %s", url, again ? again : "an error");
  free(again);
  rc = cr_buf_printf(&run->out, "%c %s\n", kind == CR_LINK_PAGE ? 'P' : 'R',
                     url);
  FUZZ_CHECK(rc == 0, "out of room for links");
  run->n++;
}

static uint32_t lk_rand(uint32_t *s)
{
  /* xorshift32: any sequence of sizes will do, as long as it repeats. */
  uint32_t x = *s;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* Parses body[0..n) into run; chunked when seed is nonzero.  Returns
 * cr_links_nofollow(). */
static int lk_parse(enum cr_links_type type, const char *page,
                    const char *body, size_t n, uint32_t seed,
                    struct cr_hset *memo, struct lk_run *run)
{
  struct cr_links *l = NULL;
  size_t off = 0;
  int nofollow;
  int rc;

  rc = cr_links_new(type, page, lk_on_link, run, &l);
  FUZZ_CHECK(rc == 0 && l, "cr_links_new fails with %d", rc);
  if(memo)
    cr_links_set_memo(l, memo);
  while(off < n) {
    size_t take = n - off;

    if(seed) {
      uint32_t r = lk_rand(&seed);
      /* One chunk in 16 is large, the rest 1 to 16 bytes. */
      take = (r & 0xF0) == 0 ? 1 + (r >> 8) % 4096 : 1 + (r >> 8) % 16;
      if(take > n - off)
        take = n - off;
    }
    rc = cr_links_feed(l, body + off, take);
    FUZZ_CHECK(rc == 0, "cr_links_feed returns %d", rc);
    off += take;
  }
  rc = cr_links_end(l);
  FUZZ_CHECK(rc == 0, "cr_links_end returns %d", rc);
  /* Feeding after the end is ignored. */
  rc = cr_links_feed(l, "<a href=/after-end>", 19);
  FUZZ_CHECK(rc == 0, "cr_links_feed after the end returns %d", rc);
  nofollow = cr_links_nofollow(l);
  cr_links_free(&l);
  FUZZ_CHECK(l == NULL, "cr_links_free leaves the pointer");
  return nofollow;
}


static int lk_line_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the lines of b and drops repeats, in place, keeping only the URLs:
 * the memo drops a repeat even when it comes as another kind of link. */
static void lk_set(struct cr_buf *b)
{
  char **lines;
  size_t n = 0;
  size_t i;
  size_t o = 0;
  char *p;
  char *copy;

  if(!b->len)
    return;
  copy = strndup(b->data, b->len);
  lines = malloc(b->len * sizeof(*lines));
  FUZZ_CHECK(copy && lines, "out of memory");
  for(p = copy; *p;) {
    char *nl = strchr(p, '\n');
    lines[n++] = p + 2;
    *nl = '\0';
    p = nl + 1;
  }
  qsort(lines, n, sizeof(*lines), lk_line_cmp);
  for(i = 0; i < n; i++) {
    size_t len;
    if(i > 0 && strcmp(lines[i], lines[i - 1]) == 0)
      continue;
    len = strlen(lines[i]);
    memcpy(b->data + o, lines[i], len);
    o += len;
    b->data[o++] = '\n';
  }
  b->len = o;
  b->data[o] = '\0';
  free(lines);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct lk_run whole;
  struct lk_run cut;
  struct cr_hset memo;
  enum cr_links_type type;
  const char *page;
  const char *body;
  size_t n;
  uint32_t seed;
  int use_memo;
  int nf1;
  int nf2;

  if(size < 2)
    return 0;
  type = (data[0] & 1) ? CR_LINKS_CSS : CR_LINKS_HTML;
  page = lk_pages[(data[0] >> 1) & 1];
  use_memo = (data[0] >> 2) & 1;
  /* Never 0, which would mean "whole". */
  seed = 0x9E3779B9u ^ ((uint32_t)data[1] * 0x01000193u);
  body = (const char *)data + 2;
  n = size - 2;

  /* Links are at most CR_LINK_MAX bytes before resolution and CR_URL_MAX
   * after; a body of n bytes cannot hold more than n links. */
  cr_buf_init(&whole.out, 64 * 1024 * 1024);
  cr_buf_init(&cut.out, 64 * 1024 * 1024);
  whole.n = 0;
  cut.n = 0;
  cr_hset_init(&memo);

  nf1 = lk_parse(type, page, body, n, 0, NULL, &whole);
  nf2 = lk_parse(type, page, body, n, seed, use_memo ? &memo : NULL, &cut);
  FUZZ_CHECK(nf1 == nf2, "nofollow %d whole, %d in chunks", nf1, nf2);
  if(use_memo) {
    lk_set(&whole.out);
    lk_set(&cut.out);
  }
  if(whole.out.len != cut.out.len ||
     (whole.out.len && memcmp(whole.out.data, cut.out.data, whole.out.len))) {
    fprintf(stderr, "whole:\n%s\nin chunks (seed byte %u):\n%s\n",
            whole.out.data ? whole.out.data : "",
            data[1], cut.out.data ? cut.out.data : "");
    FUZZ_CHECK(0, "the links depend on where the body was cut");
  }
  cr_hset_cleanup(&memo);
  cr_buf_cleanup(&cut.out);
  cr_buf_cleanup(&whole.out);
  return 0;
}
