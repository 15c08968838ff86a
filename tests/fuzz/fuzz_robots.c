/*
 * fuzz_robots.c - the robots.txt parser and matcher (robots.h) under
 * fuzzing.
 *
 * The first byte picks the product token we parse for; the rest is the
 * file.  The rules are then asked about fixed paths and about every value
 * in the file that looks like a path (so patterns meet the paths they were
 * written for), each also in a second spelling - unreserved bytes written
 * as lower-case escapes - that robots.h says must get the same answer.
 * /robots.txt is always allowed, the Crawl-delay is a number or negative,
 * and a second parse answers the same.
 *
 * A first byte '!' asks for one rule instead: the rest is "PATTERN\nPATH",
 * and the matcher's answer is compared with a plain reference matcher.
 */
#include <math.h>
#include <string.h>

#include "crawler.h"
#include "fuzz.h"
#include "robots.h"

static const char *const rb_agents[] = { "crawler", "Googlebot", "", "a-b_c" };

static const char *const rb_paths[] = {
  "/", "/a", "/a/b?c=d", "/%7Efoo/", "/x$", "/%E2%82%AC/z", "/a%2Fb",
  "/index.html", "/a/b/c/d/e/f/g/h/i/j/k", "/?", "/*", "/%",
};

static int rb_unreserved(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

/* Writes p[0..n) with every other unreserved byte as a lower-case escape
 * ("/abc" -> "/a%62c"); out has room for 3 * n bytes.  The two bytes after
 * a '%' are left alone: escaping them would change what "%4" followed by
 * '1' means. */
static size_t rb_respell(const char *p, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  size_t i;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    int after_pct = (i >= 1 && p[i - 1] == '%') || (i >= 2 && p[i - 2] == '%');
    if(i > 0 && rb_unreserved(c) && (i & 1) && !after_pct) {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
    else {
      out[o++] = (char)c;
    }
  }
  return o;
}

/* Asks both rule sets about p[0..n) and its respelling. */
static void rb_ask(const struct cr_robots *r, const struct cr_robots *r2,
                   const char *p, size_t n)
{
  char *alt;
  size_t an;
  int a;
  int b;

  a = cr_robots_allowed(r, p, n);
  FUZZ_CHECK(a == 0 || a == 1, "cr_robots_allowed returns %d", a);
  b = cr_robots_allowed(r2, p, n);
  FUZZ_CHECK(a == b, "two parses of one file disagree");
  alt = malloc(3 * n + 1);
  if(!alt)
    return;
  an = rb_respell(p, n, alt);
  b = cr_robots_allowed(r, alt, an);
  if(a != b) {
    fputs("path: ", stderr);
    fuzz_print(p, n);
    fputs("respelled: ", stderr);
    fuzz_print(alt, an);
  }
  FUZZ_CHECK(a == b, "a respelled path gets %d, the path %d", b, a);
  free(alt);
}

/* Bytes that normalization leaves as they are (rb_raw_ok in robots.c),
 * less '#', which starts a comment in the file. */
static int rb_plain(unsigned char c)
{
  return rb_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@/?", c));
}

/* The meaning of a pattern, by the book: '*' matches any run, a final '$'
 * anchors the end.  Dynamic programming over (pattern, path) positions,
 * so no greedy shortcut is involved. */
static int rb_ref_match(const char *p, size_t pn, const char *s, size_t sn)
{
  int anchored = pn > 0 && p[pn - 1] == '$';
  unsigned char *dp;
  size_t i;
  size_t j;
  int m;

  if(anchored)
    pn--;
  /* dp[i * (sn + 1) + j]: p[i..pn) matches a prefix of s[j..sn) (the
   * whole of it when anchored). */
  dp = calloc((pn + 1) * (sn + 1), 1);
  FUZZ_CHECK(dp != NULL, "out of memory");
  for(j = 0; j <= sn; j++)
    dp[pn * (sn + 1) + j] = !anchored || j == sn;
  for(i = pn; i-- > 0;) {
    for(j = sn + 1; j-- > 0;) {
      int v;

      if(p[i] == '*')
        v = dp[(i + 1) * (sn + 1) + j] || (j < sn && dp[i * (sn + 1) + j + 1]);
      else
        v = j < sn && p[i] == s[j] && dp[(i + 1) * (sn + 1) + j + 1];
      dp[i * (sn + 1) + j] = (unsigned char)v;
    }
  }
  m = dp[0];
  free(dp);
  return m;
}

/* One Disallow rule and one path, "PATTERN\nPATH", both of bytes that
 * normalization keeps: the answer must be the reference matcher's. */
static void rb_one_rule(const char *s, size_t n)
{
  static const char head[] = "User-agent: *\nDisallow: ";
  size_t hn = sizeof(head) - 1;
  const char *nl = memchr(s, '\n', n);
  struct cr_robots *r = NULL;
  char txt[64 + 256];
  char path[256];
  size_t pn;
  size_t sn;
  size_t i;
  int got;
  int want;

  if(!nl)
    return;
  pn = (size_t)(nl - s);
  sn = n - pn - 1;
  if(pn == 0 || pn > 200 || sn > 200 || (s[0] != '/' && s[0] != '*'))
    return;
  for(i = 0; i < n; i++) {
    if(i != pn && !rb_plain((unsigned char)s[i]))
      return;
  }
  memcpy(txt, head, hn);
  memcpy(txt + hn, s, pn);
  txt[hn + pn] = '\n';
  FUZZ_CHECK(cr_robots_parse(txt, hn + pn + 1, "crawler", &r) == 0, "parse");
  /* The path as a URL would give it: starting with '/'. */
  path[0] = '/';
  memcpy(path + 1, nl + 1, sn);
  sn++;
  got = cr_robots_allowed(r, path, sn);
  want = !rb_ref_match(s, pn, path, sn) ||
         (sn == 11 && memcmp(path, "/robots.txt", 11) == 0);
  if(got != want) {
    fputs("pattern: ", stderr);
    fuzz_print(s, pn);
    fputs("path: ", stderr);
    fuzz_print(path, sn);
  }
  FUZZ_CHECK(got == want, "allowed %d, the reference says %d", got, want);
  cr_robots_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cr_robots *r = NULL;
  struct cr_robots *r2 = NULL;
  const char *txt = (const char *)data + 1;
  const char *agent;
  size_t len;
  size_t i;
  double d;
  int rc;

  if(size < 1)
    return 0;
  if(data[0] == '!') {
    rb_one_rule((const char *)data + 1, size - 1);
    return 0;
  }
  agent = rb_agents[data[0] % (sizeof(rb_agents) / sizeof(rb_agents[0]))];
  len = size - 1;
  rc = cr_robots_parse(txt, len, agent, &r);
  FUZZ_CHECK(rc == 0 && r != NULL, "cr_robots_parse fails with %d", rc);
  rc = cr_robots_parse(txt, len, agent, &r2);
  FUZZ_CHECK(rc == 0 && r2 != NULL, "cr_robots_parse fails with %d", rc);

  d = cr_robots_crawl_delay(r);
  FUZZ_CHECK(!isnan(d), "Crawl-delay is NaN");
  FUZZ_CHECK(d == cr_robots_crawl_delay(r2), "two parses, two delays");
  FUZZ_CHECK(cr_robots_allowed(r, "/robots.txt", 11) == 1,
             "/robots.txt disallowed");
  FUZZ_CHECK(cr_robots_allowed(r, NULL, 0) == cr_robots_allowed(r, "/", 1),
             "no path is not \"/\"");

  for(i = 0; i < sizeof(rb_paths) / sizeof(rb_paths[0]); i++)
    rb_ask(r, r2, rb_paths[i], strlen(rb_paths[i]));

  /* Every "key: /value" in the file, value up to the line's end. */
  for(i = 0; i < len; i++) {
    size_t j;

    if(txt[i] != ':')
      continue;
    j = i + 1;
    while(j < len && (txt[j] == ' ' || txt[j] == '\t'))
      j++;
    if(j < len && txt[j] == '/') {
      size_t k = j;
      while(k < len && txt[k] != '\n' && txt[k] != '\r' && txt[k] != '#')
        k++;
      while(k > j && (txt[k - 1] == ' ' || txt[k - 1] == '\t'))
        k--;
      /* Without a trailing '$', which the path would carry literally. */
      if(k > j + 1 && txt[k - 1] == '$')
        k--;
      rb_ask(r, r2, txt + j, k - j);
    }
  }
  cr_robots_free(&r);
  cr_robots_free(&r2);
  FUZZ_CHECK(r == NULL, "cr_robots_free leaves the pointer");
  return 0;
}
