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

/*
 * A known divergence, left to links.c's owner (see README.md): libxml2
 * 2.9.14 finds the end of a start tag with a scan in which any quote opens
 * a value, but its tag parser takes a quote as a value's delimiter only
 * right after '='.  A stray quote ("<d\" c=\">", "<a x=y\" z=\">") makes
 * the two disagree, the parser reads a value to the end of what it has
 * buffered, and what it has buffered depends on the cut.  lk_stray_quote
 * replays the tag parser (2.9.14's htmlParseStartTag) over the body and
 * says whether such a quote occurs; a difference between the runs is then
 * reported but not fatal.  The replay skips comments and script and style
 * text as links.c and libxml2 read them, roughly: where it misreads them
 * it can be wrong either way (a false alarm, or a difference of another
 * cause excused).
 */
enum lk_tag { LK_NONE, LK_LT, LK_NAME, LK_BEFORE_ATTR, LK_JUNK, LK_ATTNAME,
              LK_AFTER_NAME, LK_BEFORE_VALUE, LK_UVALUE, LK_QVALUE };

#define LK_NAME_MAX 100 /* libxml2's HTML_PARSER_BUFFER_SIZE */

static int lk_letter(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int lk_name_char(int c)
{
  return lk_letter(c) || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
         c == '_' || c == '.';
}

static int lk_blank(int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Case-insensitive: does a[i..n) start with the lower-case word? */
static int lk_at(const char *a, size_t n, size_t i, const char *word)
{
  size_t k;

  for(k = 0; word[k]; k++) {
    if(i + k >= n)
      return 0;
    if(a[i + k] != word[k] && !(a[i + k] >= 'A' && a[i + k] <= 'Z' &&
                                a[i + k] + 32 == word[k]))
      return 0;
  }
  return 1;
}

/* Index of the first occurrence of word (case-insensitive) at or after i,
 * or n. */
static size_t lk_find(const char *a, size_t n, size_t i, const char *word)
{
  while(i < n && !lk_at(a, n, i, word))
    i++;
  return i;
}

/* Where the replay goes on after the '>' at i that ends a start tag: for
 * script and style (libxml2's raw text elements), at the end tag. */
static size_t lk_after_tag(const char *a, size_t n, size_t i,
                           const char *name, size_t namen)
{
  size_t e;

  if(namen == 6 && memcmp(name, "script", 6) == 0)
    e = lk_find(a, n, i + 1, "</script");
  else if(namen == 5 && memcmp(name, "style", 5) == 0)
    e = lk_find(a, n, i + 1, "</style");
  else
    return i;
  return e - 1;  /* the loop's i++ lands on the '<' */
}

static int lk_stray_quote(const uint8_t *b, size_t n)
{
  enum lk_tag st = LK_NONE;
  char name[8];
  size_t tagn = 0;
  size_t namen = 0;
  int quote = 0;
  char *a;
  size_t an = 0;
  size_t i;
  int found = 0;

  /* An ASCII projection of the body: UTF-16 one code unit at a time, and
   * NUL and anything non-ASCII as 0x01, which like them is no name byte for
   * libxml2 (links.c turns NUL into U+FFFD). */
  a = malloc(n + 1);
  FUZZ_CHECK(a != NULL, "out of memory");
  if(n >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
    for(i = 2; i + 2 <= n; i += 2) {
      unsigned u = b[0] == 0xFF ? b[i] | (unsigned)b[i + 1] << 8
                                : (unsigned)b[i] << 8 | b[i + 1];
      a[an++] = u < 0x80 && u != 0 ? (char)u : '\x01';
    }
  }
  else {
    for(i = 0; i < n; i++)
      a[an++] = b[i] < 0x80 && b[i] != 0 ? (char)b[i] : '\x01';
  }

  for(i = 0; i < an && !found; i++) {
    int c = (unsigned char)a[i];

    for(;;) {
      switch(st) {
      case LK_NONE:
        if(c == '<')
          st = LK_LT;
        break;
      case LK_LT:
        if(lk_letter(c)) {
          st = LK_NAME;
          name[0] = (char)(c | 0x20);
          namen = 1;
          break;
        }
        st = LK_NONE;
        if(lk_at(a, an, i, "!--")) {
          /* A comment, "<!-->" included (links.c makes it whole). */
          i = lk_find(a, an, i + 1, "-->");
          i = i + 2 < an ? i + 2 : an;
          break;
        }
        continue;
      case LK_NAME:
      case LK_ATTNAME:
        if(lk_name_char(c) && namen < LK_NAME_MAX) {
          if(st == LK_NAME && namen < sizeof(name))
            name[namen] = (char)(lk_letter(c) ? c | 0x20 : c);
          namen++;
          break;
        }
        if(st == LK_NAME)
          tagn = namen;
        /* A name cut at LK_NAME_MAX goes on as the next attribute. */
        st = st == LK_NAME || lk_name_char(c) ? LK_BEFORE_ATTR : LK_AFTER_NAME;
        continue;
      case LK_AFTER_NAME:
        if(lk_blank(c))
          break;
        if(c == '=') {
          st = LK_BEFORE_VALUE;
          break;
        }
        st = LK_BEFORE_ATTR;
        continue;
      case LK_BEFORE_ATTR:
        if(lk_blank(c))
          break;
        if(c == '>') {
          st = LK_NONE;
          i = lk_after_tag(a, an, i, name, tagn);
          break;
        }
        if(lk_letter(c) || c == '_' || c == ':' || c == '.') {
          st = LK_ATTNAME;
          namen = 1;
          break;
        }
        st = LK_JUNK;
        continue;
      case LK_JUNK:
      case LK_UVALUE:
        if(lk_blank(c)) {
          st = LK_BEFORE_ATTR;
        }
        else if(c == '>') {
          st = LK_NONE;
          i = lk_after_tag(a, an, i, name, tagn);
        }
        else if(c == '"' || c == '\'') {
          found = 1;
        }
        break;
      case LK_BEFORE_VALUE:
        if(lk_blank(c))
          break;
        if(c == '"' || c == '\'') {
          st = LK_QVALUE;
          quote = c;
          break;
        }
        st = LK_UVALUE;
        continue;
      case LK_QVALUE:
        if(c == quote)
          st = LK_BEFORE_ATTR;
        break;
      }
      break;
    }
  }
  free(a);
  return found;
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
  FUZZ_CHECK(nf1 == nf2 || (type == CR_LINKS_HTML &&
                            lk_stray_quote((const uint8_t *)body, n)),
             "nofollow %d whole, %d in chunks", nf1, nf2);
  if(use_memo) {
    lk_set(&whole.out);
    lk_set(&cut.out);
  }
  if(whole.out.len != cut.out.len ||
     (whole.out.len && memcmp(whole.out.data, cut.out.data, whole.out.len))) {
    int known = type == CR_LINKS_HTML &&
                lk_stray_quote((const uint8_t *)body, n);

    if(!known) {
      fprintf(stderr, "whole:\n%s\nin chunks (seed byte %u):\n%s\n",
              whole.out.data ? whole.out.data : "",
              data[1], cut.out.data ? cut.out.data : "");
    }
    FUZZ_CHECK(known, "the links depend on where the body was cut");
  }
  cr_hset_cleanup(&memo);
  cr_buf_cleanup(&cut.out);
  cr_buf_cleanup(&whole.out);
  return 0;
}
