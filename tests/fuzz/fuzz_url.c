/*
 * fuzz_url.c - the URL normalizer (url.h) under fuzzing.
 *
 * The input is normalized as a whole, resolved as a reference against a
 * few fixed bases, and, when it holds a newline, split there: the first
 * line normalized and used as the base of the rest.  Every URL that comes
 * out must keep url.h's promises - the checks in url_check_normal - and
 * every refusal must use one of the documented codes.
 */
#include <string.h>

#include "crawler.h"
#include "fuzz.h"
#include "url.h"

/* Normalized bases with something for each resolution rule to chew on: a
 * query, a file name, an IPv6 host with a port, escapes. */
static const char *const url_bases[] = {
  "http://example.com/dir/page.html?q=1",
  "https://[::1]:8443/a/b/c/",
  "http://xn--bcher-kva.de/%E2%82%AC/x;y=1",
};

static int url_is_hex_upper(unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static unsigned url_hexval(unsigned char c)
{
  return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

static int url_unreserved(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

/* The raw bytes url.h lets a normalized path (or query) hold. */
static int url_raw_ok(unsigned char c, int query)
{
  if(url_unreserved(c))
    return 1;
  if(strchr("!$&'()*+,;=:@/", c) && c != '\0')
    return 1;
  return query && c == '?';
}

/* Checks that s[0..n), a path or a query, is consistently encoded. */
static void url_check_encoding(const char *u, const char *s, size_t n,
                               int query)
{
  size_t i;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];

    if(c == '%') {
      unsigned v;

      FUZZ_CHECK(i + 2 < n, "'%%' at the end of %s in %s", query ? "query" : "path", u);
      FUZZ_CHECK(url_is_hex_upper((unsigned char)s[i + 1]) &&
                 url_is_hex_upper((unsigned char)s[i + 2]),
                 "escape not in upper-case hex in %s", u);
      v = url_hexval((unsigned char)s[i + 1]) * 16 +
          url_hexval((unsigned char)s[i + 2]);
      FUZZ_CHECK(!url_unreserved((unsigned char)v),
                 "escape of an unreserved byte left in %s", u);
      i += 2;
      continue;
    }
    FUZZ_CHECK(url_raw_ok(c, query), "raw byte 0x%02x in the %s of %s", c,
               query ? "query" : "path", u);
  }
}

/* Checks that the path has no "." or ".." segment left. */
static void url_check_dots(const char *u, const char *p, size_t n)
{
  size_t i = 0;

  while(i < n) {
    size_t j = i + 1;

    while(j < n && p[j] != '/')
      j++;
    /* p[i] is '/', the segment is p[i + 1 .. j). */
    FUZZ_CHECK(!(j - i - 1 == 1 && p[i + 1] == '.'), "\".\" segment in %s", u);
    FUZZ_CHECK(!(j - i - 1 == 2 && p[i + 1] == '.' && p[i + 2] == '.'),
               "\"..\" segment in %s", u);
    i = j;
  }
}

static int url_span_eq(const char *a, size_t an, const char *b)
{
  return b && strlen(b) == an && memcmp(a, b, an) == 0;
}

/* Everything url.h promises about a URL that came out of it. */
static void url_check_normal(const char *u)
{
  size_t len = strlen(u);
  struct cr_url_view v;
  struct cr_url_parts parts;
  char *again = NULL;
  const char *reason = NULL;
  size_t i;
  int rc;

  FUZZ_CHECK(len <= CR_URL_MAX, "%zu bytes out", len);
  FUZZ_CHECK(strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0,
             "not http(s): %s", u);
  for(i = 0; i < len; i++) {
    unsigned char c = (unsigned char)u[i];
    FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '#', "byte 0x%02x in %s", c, u);
  }

  rc = cr_url_view(u, &v);
  FUZZ_CHECK(rc == 0, "cr_url_view refuses %s", u);
  FUZZ_CHECK(v.host_len > 0 && v.path_len > 0 && v.path[0] == '/',
             "view of %s", u);
  FUZZ_CHECK(v.origin_len + v.path_len + (v.query ? 1 + v.query_len : 0) ==
             len, "view of %s does not add up", u);
  FUZZ_CHECK(!v.query || v.query_len > 0, "empty query kept in %s", u);
  for(i = 0; i < v.host_len; i++) {
    unsigned char c = (unsigned char)v.host[i];
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "upper-case host in %s", u);
    FUZZ_CHECK(c != '/' && c != '?' && c != '@' && c != '%' && c != '\\',
               "byte '%c' in the host of %s", c, u);
  }
  FUZZ_CHECK(v.port != (v.https ? 443u : 80u), "default port kept in %s", u);
  url_check_encoding(u, v.path, v.path_len, 0);
  url_check_dots(u, v.path, v.path_len);
  if(v.query)
    url_check_encoding(u, v.query, v.query_len, 1);

  /* A normalized URL is a fixed point. */
  rc = cr_url_normalize(u, len, &again, &reason);
  FUZZ_CHECK(rc == 0, "normalizing %s again fails: %s", u, reason);
  FUZZ_CHECK(strcmp(again, u) == 0, "not idempotent: %s gives %s", u, again);
  free(again);
  again = NULL;

  /* "" names the base itself. */
  rc = cr_url_resolve(u, "", 0, &again, &reason);
  FUZZ_CHECK(rc == 0 && strcmp(again, u) == 0,
             "\"\" against %s gives %s (%s)", u, again ? again : "-",
             rc ? reason : "");
  free(again);
  again = NULL;

  /* The split agrees with the view. */
  rc = cr_url_split(u, &parts);
  FUZZ_CHECK(rc == 0, "cr_url_split refuses %s", u);
  FUZZ_CHECK(strcmp(parts.scheme, v.https ? "https" : "http") == 0,
             "scheme of %s", u);
  FUZZ_CHECK(url_span_eq(v.host, v.host_len, parts.host),
             "host of %s: split says %s", u, parts.host);
  FUZZ_CHECK(parts.port == v.port && parts.effective_port == v.effective_port,
             "port of %s: split %u/%u, view %u/%u", u, parts.port,
             parts.effective_port, v.port, v.effective_port);
  FUZZ_CHECK(url_span_eq(v.path, v.path_len, parts.path),
             "path of %s: split says %s", u, parts.path);
  FUZZ_CHECK(v.query ? url_span_eq(v.query, v.query_len, parts.query)
                     : parts.query == NULL,
             "query of %s: split says %s", u,
             parts.query ? parts.query : "none");
  FUZZ_CHECK(!parts.is_ip == !v.is_ip, "is_ip of %s: split %d, view %d", u,
             parts.is_ip, v.is_ip);
  cr_url_parts_cleanup(&parts);
}

/* A refusal uses a documented code and says why. */
static void url_check_refusal(int rc, const char *reason, int resolve)
{
  FUZZ_CHECK(rc == CR_EURL || rc == CR_ESCHEME || rc == CR_ETOOLONG ||
             rc == CR_ENOMEM, "%s returns %d",
             resolve ? "cr_url_resolve" : "cr_url_normalize", rc);
  FUZZ_CHECK(reason != NULL, "no reason given for %d", rc);
}

/* Normalizes s[0..n); returns the result (caller frees) or NULL. */
static char *url_normalize(const char *s, size_t n)
{
  char *out = (char *)1;
  const char *reason = NULL;
  int ctl = 0;
  size_t i;
  int rc;

  rc = cr_url_normalize(s, n, &out, &reason);
  if(rc) {
    FUZZ_CHECK(out == NULL, "*out set on failure %d", rc);
    url_check_refusal(rc, reason, 0);
    return NULL;
  }
  /* url.h: NUL and control bytes give CR_EURL, nothing is trimmed. */
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c < 0x20 || c == 0x7f)
      ctl = 1;
  }
  FUZZ_CHECK(!ctl, "control byte accepted, gives %s", out);
  FUZZ_CHECK(n <= CR_URL_MAX, "%zu bytes accepted", n);
  url_check_normal(out);
  return out;
}

static void url_resolve(const char *base, const char *ref, size_t n)
{
  char *out = (char *)1;
  const char *reason = NULL;
  int rc;

  rc = cr_url_resolve(base, ref, n, &out, &reason);
  if(rc) {
    FUZZ_CHECK(out == NULL, "*out set on failure %d", rc);
    url_check_refusal(rc, reason, 1);
    return;
  }
  FUZZ_CHECK(memchr(ref, '\0', n) == NULL, "NUL accepted in a reference");
  url_check_normal(out);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  const char *nl;
  char *norm;
  size_t i;

  norm = url_normalize(s, size);
  free(norm);

  for(i = 0; i < sizeof(url_bases) / sizeof(url_bases[0]); i++)
    url_resolve(url_bases[i], s, size);

  nl = memchr(s, '\n', size);
  if(nl) {
    size_t head = (size_t)(nl - s);

    norm = url_normalize(s, head);
    if(norm)
      url_resolve(norm, nl + 1, size - head - 1);
    free(norm);
  }
  return 0;
}
