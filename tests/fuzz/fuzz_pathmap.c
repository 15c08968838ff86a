/*
 * fuzz_pathmap.c - the URL-to-path mapper (pathmap.h) under fuzzing.
 *
 * Input: one flag byte, then either raw parts or a URL.
 *  - flag bit 0 clear: the rest is "HOST\0PATH\0QUERY" - any bytes but NUL
 *    in each part, as pathmap.h allows ("whatever bytes the URL holds");
 *    flag bit 1 says whether there is a query at all, bits 2-7 pick a port
 *    (0 for none);
 *  - flag bit 0 set: the rest is normalized as a URL and mapped the way the
 *    engine maps it (cr_url_view, then cr_pathmap on its parts).
 * The result must keep every promise in pathmap.h: see pm_check.
 */
#include <string.h>

#include "buf.h"
#include "chars.h"
#include "crawler.h"
#include "fuzz.h"
#include "pathmap.h"
#include "url.h"

/* What is in the output buffer before the call: cr_pathmap appends. */
#define PM_PREFIX "pre/"

static int pm_upper_hex(unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Checks one name (a path segment of the result). */
static void pm_check_name(const char *rel, const char *s, size_t n, int last)
{
  size_t i = 0;

  FUZZ_CHECK(n > 0, "empty segment in %s", rel);
  FUZZ_CHECK(n <= CR_SEG_MAX, "segment of %zu bytes in %s", n, rel);
  FUZZ_CHECK(!(n == 1 && s[0] == '.'), "\".\" segment in %s", rel);
  FUZZ_CHECK(!(n == 2 && s[0] == '.' && s[1] == '.'), "\"..\" segment in %s",
             rel);
  while(i < n) {
    unsigned char c = (unsigned char)s[i];

    FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != '\\',
               "byte 0x%02x in %s", c, rel);
    FUZZ_CHECK(c != '?' || last, "'?' in a directory name of %s", rel);
    if(c == '%') {
      /* "%XX", or a made-up name's "%~". */
      FUZZ_CHECK(i + 1 < n, "'%%' ends a name in %s", rel);
      if(s[i + 1] != '~') {
        FUZZ_CHECK(i + 2 < n && pm_upper_hex((unsigned char)s[i + 1]) &&
                   pm_upper_hex((unsigned char)s[i + 2]),
                   "'%%' without two upper-case hex digits in %s", rel);
      }
    }
    if(c >= 0x80) {
      size_t u = cr_utf8_len((const unsigned char *)s + i, n - i);
      FUZZ_CHECK(u > 0, "invalid UTF-8 at byte %zu of %s", i, rel);
      i += u;
      continue;
    }
    i++;
  }
}

/* Everything pathmap.h promises about a relative path. */
static void pm_check(const char *rel, size_t n)
{
  size_t i = 0;

  FUZZ_CHECK(n > 0, "empty path");
  FUZZ_CHECK(n <= CR_RELPATH_MAX, "%zu bytes", n);
  FUZZ_CHECK(strlen(rel) == n, "NUL inside %s", rel);
  FUZZ_CHECK(rel[0] != '/', "absolute: %s", rel);
  FUZZ_CHECK(strchr(rel, '/') != NULL, "no file name under the host: %s",
             rel);
  while(i <= n) {
    size_t j = i;

    while(j < n && rel[j] != '/')
      j++;
    pm_check_name(rel, rel + i, j - i, j == n);
    i = j + 1;
  }
}

/* Percent-decodes s[0..n) into out (room for n bytes); returns the length.
 * A '%' that starts no escape stands for itself. */
static size_t pm_decode(const char *s, size_t n, char *out)
{
  size_t i;
  size_t o = 0;

  for(i = 0; i < n; i++) {
    if(cr_is_escape(s + i, n - i)) {
      out[o++] = (char)cr_unescape(s + i);
      i += 2;
    }
    else {
      out[o++] = s[i];
    }
  }
  return o;
}

/* pathmap.h: a name decodes back to its segment's bytes.  Checked for each
 * segment that kept its own name: not cut and hashed, not made up, and
 * (for the last) without the query that follows '?'. */
static void pm_check_decodes(const char *rel, const char *path, int query)
{
  size_t plen = strlen(path);
  size_t nseg = 1;
  size_t nout = 0;
  size_t i;
  const char *r;
  const char *p;
  char *a;
  char *b;

  /* A path without a leading '/' is read as if it had one. */
  for(i = 1; i < plen; i++)
    nseg += path[i] == '/';
  for(r = rel; *r; r++)
    nout += *r == '/';
  if(nout != nseg)
    return;  /* the whole path was cut into one made-up name */
  a = malloc(plen + 1);
  b = malloc(strlen(rel) + 1);
  FUZZ_CHECK(a && b, "out of memory");
  r = strchr(rel, '/') + 1;
  p = plen > 0 && path[0] == '/' ? path + 1 : path;
  for(;;) {
    const char *pe = strchr(p, '/');
    const char *re = strchr(r, '/');
    size_t pn = pe ? (size_t)(pe - p) : strlen(p);
    size_t rn = re ? (size_t)(re - r) : strlen(r);
    size_t an;
    size_t bn;

    int made_up = rn >= 2 && memmem(r, rn, "%~", 2) != NULL;

    if(!re && query && !made_up) {
      const char *q = memchr(r, '?', rn);
      FUZZ_CHECK(q != NULL, "query lost in %s", rel);
      rn = (size_t)(q - r);
    }
    an = pm_decode(p, pn, a);
    if(an > 0 && !made_up) {
      bn = pm_decode(r, rn, b);
      FUZZ_CHECK(an == bn && memcmp(a, b, an) == 0,
                 "a name does not decode to its segment in %s", rel);
    }
    if(!pe || !re)
      break;
    p = pe + 1;
    r = re + 1;
  }
  free(b);
  free(a);
}

/* Maps the parts and checks the result; the same parts map the same way
 * twice. */
static void pm_map(const char *host, unsigned port, const char *path,
                   const char *query)
{
  struct cr_buf out;
  struct cr_buf again;
  int rc;

  /* The engine's own buffer: the promised maximum, and one byte more. */
  cr_buf_init(&out, strlen(PM_PREFIX) + CR_RELPATH_MAX + 1);
  cr_buf_init(&again, CR_RELPATH_MAX + 1);
  rc = cr_buf_puts(&out, PM_PREFIX);
  FUZZ_CHECK(rc == 0, "buffer");
  rc = cr_pathmap(host, port, path, query, &out);
  if(!host[0]) {
    FUZZ_CHECK(rc == CR_EINVAL, "empty host gives %d", rc);
    goto done;
  }
  FUZZ_CHECK(rc == 0, "cr_pathmap fails with %d", rc);
  FUZZ_CHECK(memcmp(out.data, PM_PREFIX, strlen(PM_PREFIX)) == 0,
             "what was in the buffer changed");
  pm_check(out.data + strlen(PM_PREFIX), out.len - strlen(PM_PREFIX));
  pm_check_decodes(out.data + strlen(PM_PREFIX), path, query != NULL);

  rc = cr_pathmap(host, port, path, query, &again);
  FUZZ_CHECK(rc == 0 && again.len == out.len - strlen(PM_PREFIX) &&
             memcmp(again.data, out.data + strlen(PM_PREFIX), again.len) == 0,
             "a second call maps differently");

done:
  cr_buf_cleanup(&again);
  cr_buf_cleanup(&out);
}

/* Maps a URL the way the engine's save() does. */
static void pm_map_url(const char *s, size_t n)
{
  struct cr_url_view v;
  char *url = NULL;
  char *host;
  char *path;
  char *query = NULL;

  if(cr_url_normalize(s, n, &url, NULL) != 0)
    return;
  FUZZ_CHECK(cr_url_view(url, &v) == 0, "cr_url_view refuses %s", url);
  host = strndup(v.host, v.host_len);
  path = strndup(v.path, v.path_len);
  if(v.query)
    query = strndup(v.query, v.query_len);
  FUZZ_CHECK(host && path && (query || !v.query), "out of memory");
  pm_map(host, v.port, path, query);
  free(query);
  free(path);
  free(host);
  free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data + 1;
  size_t n;
  const char *parts[3] = { "", "", "" };
  char *copy;
  size_t i;
  size_t k = 0;
  unsigned flags;
  unsigned port;

  if(size < 1)
    return 0;
  flags = data[0];
  n = size - 1;
  if(flags & 1) {
    pm_map_url(s, n);
    return 0;
  }
  /* Ports from the flag byte: none, a common one, the extremes. */
  port = (flags >> 2) == 0 ? 0u : (flags >> 2) == 1 ? 65535u
       : (flags >> 2) * 1000u + 1u;
  copy = malloc(n + 1);
  if(!copy)
    return 0;
  memcpy(copy, s, n);
  copy[n] = '\0';
  parts[0] = copy;
  for(i = 0; i < n && k < 2; i++) {
    if(copy[i] == '\0')
      parts[++k] = copy + i + 1;
  }
  pm_map(parts[0], port, parts[1], (flags & 2) ? parts[2] : NULL);
  free(copy);
  return 0;
}
