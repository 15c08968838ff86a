/* test_pathmap.c - table-driven tests of cr_pathmap, then a property check
 * over a few thousand generated paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "crawler.h"
#include "hash.h"
#include "pathmap.h"
#include "tap.h"

struct map_case {
  const char *host;
  unsigned port;
  const char *path;
  const char *query; /* NULL: none */
  const char *want;  /* NULL: an error is expected */
};

static const struct map_case map_cases[] = {
  /* root, trailing slash, plain names */
  { "example.com", 0, "/", NULL, "example.com/index.html" },
  { "example.com", 0, "", NULL, "example.com/index.html" },
  { "example.com", 0, NULL, NULL, "example.com/index.html" },
  { "example.com", 0, "/a", NULL, "example.com/a" },
  { "example.com", 0, "/a/", NULL, "example.com/a/index.html" },
  { "example.com", 0, "/a/b", NULL, "example.com/a/b" },
  { "example.com", 0, "a/b", NULL, "example.com/a/b" },
  /* As in wget, "/a/" and "/a/index.html" share a name; the store keeps
   * them apart within a run. */
  { "example.com", 0, "/a/index.html", NULL, "example.com/a/index.html" },
  { "example.com", 0, "/a/index.html/", NULL, "example.com/a/index.html/index.html" },
  { "example.com", 0, "/index.htm", NULL, "example.com/index.htm" },
  /* empty segments keep their place */
  { "example.com", 0, "/a//b", NULL, "example.com/a/%~empty/b" },
  { "example.com", 0, "//", NULL, "example.com/%~empty/index.html" },
  { "example.com", 0, "/a//", NULL, "example.com/a/%~empty/index.html" },
  /* hosts and ports */
  { "example.com", 8080, "/", NULL, "example.com:8080/index.html" },
  { "[::1]", 0, "/x", NULL, "[::1]/x" },
  { "[::1]", 8080, "/x", NULL, "[::1]:8080/x" },
  { "a:1", 0, "/", NULL, "a%3A1/index.html" },
  { "a", 1, "/", NULL, "a:1/index.html" },
  { "..", 0, "/", NULL, "%2E%2E/index.html" },
  { ".", 0, "/", NULL, "%2E/index.html" },
  { "a/b", 0, "/", NULL, "a%2Fb/index.html" },
  { "a\\b\x01", 0, "/", NULL, "a%5Cb%01/index.html" },
  { "", 0, "/", NULL, NULL },
  { NULL, 0, "/", NULL, NULL },
  /* traversal */
  { "h", 0, "/../../etc/passwd", NULL, "h/%2E%2E/%2E%2E/etc/passwd" },
  { "h", 0, "/%2e%2e/%2e%2e/x", NULL, "h/%2E%2E/%2E%2E/x" },
  { "h", 0, "/%2E./.%2e/x", NULL, "h/%2E%2E/%2E%2E/x" },
  { "h", 0, "/..%2f..%2fx", NULL, "h/..%2F..%2Fx" },
  { "h", 0, "/..\\..\\x", NULL, "h/..%5C..%5Cx" },
  { "h", 0, "/.", NULL, "h/%2E" },
  { "h", 0, "/..", NULL, "h/%2E%2E" },
  { "h", 0, "/a/./b", NULL, "h/a/%2E/b" },
  { "h", 0, "/...", NULL, "h/..." },
  { "h", 0, "/.hidden", NULL, "h/.hidden" },
  { "h", 0, "/%00", NULL, "h/%00" },
  { "h", 0, "/a\x01" "b\x7f", NULL, "h/a%01b%7F" },
  { "h", 0, "/a\nb", NULL, "h/a%0Ab" },
  /* percent-encoding */
  { "h", 0, "/%7e", NULL, "h/~" },
  { "h", 0, "/%7E", NULL, "h/~" },
  { "h", 0, "/~", NULL, "h/~" },
  { "h", 0, "/%41%3b%3D", NULL, "h/A;=" },
  { "h", 0, "/%2F", NULL, "h/%2F" },
  { "h", 0, "/a%2fb", NULL, "h/a%2Fb" },
  { "h", 0, "/%25", NULL, "h/%25" },
  { "h", 0, "/%", NULL, "h/%25" },
  { "h", 0, "/%zz", NULL, "h/%25zz" },
  { "h", 0, "/%4", NULL, "h/%254" },
  { "h", 0, "/a b", NULL, "h/a%20b" },
  { "h", 0, "/a%20b", NULL, "h/a%20b" },
  { "h", 0, "/a?b", NULL, "h/a%3Fb" },
  { "h", 0, "/%3F", NULL, "h/%3F" },
  { "h", 0, "/%23", NULL, "h/%23" },
  { "h", 0, "/!$&'()*+,;=:@-._~", NULL, "h/!$&'()*+,;=:@-._~" },
  { "h", 0, "/\"<>[]^`{|}", NULL, "h/%22%3C%3E%5B%5D%5E%60%7B%7C%7D" },
  /* UTF-8 passes, invalid bytes are escaped */
  { "h", 0, "/%C3%A9", NULL, "h/\xc3\xa9" },
  { "h", 0, "/\xc3\xa9", NULL, "h/\xc3\xa9" },
  { "h", 0, "/%E2%82%AC%F0%9F%98%80", NULL, "h/\xe2\x82\xac\xf0\x9f\x98\x80" },
  { "h", 0, "/%FF", NULL, "h/%FF" },
  { "h", 0, "/%80", NULL, "h/%80" },
  { "h", 0, "/%C0%AF", NULL, "h/%C0%AF" },
  { "h", 0, "/%ED%A0%80", NULL, "h/%ED%A0%80" },
  { "h", 0, "/%F4%90%80%80", NULL, "h/%F4%90%80%80" },
  { "h", 0, "/a%E2%82", NULL, "h/a%E2%82" },
  { "h", 0, "/a\xe2\x82", NULL, "h/a%E2%82" },
  { "h", 0, "/\xe2\x82" "a", NULL, "h/%E2%82a" },
  /* queries */
  { "h", 0, "/x", "a=1", "h/x?a=1" },
  { "h", 0, "/x", "a=2", "h/x?a=2" },
  { "h", 0, "/x", "", "h/x?" },
  { "h", 0, "/", "a=1", "h/index.html?a=1" },
  { "h", 0, "/a/", "", "h/a/index.html?" },
  { "h", 0, "/index.html", "a", "h/index.html?a" },
  { "h", 0, "/..", "x", "h/%2E%2E?x" },
  { "h", 0, "/x", "a/b", "h/x?a%2Fb" },
  { "h", 0, "/x", "a%2fb", "h/x?a%2Fb" },
  { "h", 0, "/x", "%7e%41", "h/x?~A" },
  { "h", 0, "/x", "a=b&c=d", "h/x?a=b&c=d" },
  { "h", 0, "/x", "a=b%26c=d", "h/x?a=b%26c=d" },
  { "h", 0, "/x", "a?b", "h/x?a?b" },
  { "h", 0, "/x", "%zz%", "h/x?%25zz%25" },
  { "h", 0, "/x", "\xc3\xa9", "h/x?\xc3\xa9" },
  { "h", 0, "/x", "%c3%a9", "h/x?%C3%A9" },
  { "h", 0, "/x", "a\\b c\x01", "h/x?a%5Cb%20c%01" },
  { "h", 0, "/x", "..", "h/x?.." },
  { "h", 0, "/x/", "../../y", "h/x/index.html?..%2F..%2Fy" },
};

/* Appends "%~" and the 16-hex hash the module should produce. */
static void hash_tail(char *dst, const char *s, size_t n)
{
  static const char lhex[] = "0123456789abcdef";
  uint64_t h = cr_hash64(s, n);
  int k;

  dst[0] = '%';
  dst[1] = '~';
  for(k = 0; k < 16; k++)
    dst[2 + k] = lhex[(h >> (60 - 4 * k)) & 15];
  dst[18] = '\0';
}

static void check_case(const struct map_case *c)
{
  struct cr_buf out;
  int rc;
  const char *path = c->path ? c->path : "(null)";

  cr_buf_init(&out, 1 << 16);
  rc = cr_pathmap(c->host, c->port, c->path, c->query, &out);
  if(!c->want)
    tap_check(rc == CR_EINVAL && out.len == 0, "pathmap refuses", path,
              strlen(path), out.data, "(an error)");
  else
    tap_check(rc == 0 && tap_streq(out.data, c->want),
              c->query ? c->query : "pathmap", path, strlen(path),
              rc ? "(an error)" : out.data, c->want);
  cr_buf_cleanup(&out);
}

/* Appends to a buffer that already holds text. */
static void check_appends(void)
{
  struct cr_buf out;
  int rc;

  cr_buf_init(&out, 1024);
  cr_buf_puts(&out, "out/");
  rc = cr_pathmap("h", 0, "/x", NULL, &out);
  tap_check(rc == 0 && tap_streq(out.data, "out/h/x"), "appends, no reset",
            "/x", 2, out.data, "out/h/x");
  cr_buf_cleanup(&out);

  cr_buf_init(&out, 4);
  rc = cr_pathmap("example.com", 0, "/x", NULL, &out);
  tap_check(rc == CR_EFULL && out.len == 0, "a full buffer is reported", "/x",
            2, rc == CR_EFULL ? "CR_EFULL" : "other", "CR_EFULL");
  cr_buf_cleanup(&out);
}

/* One long segment and one long path, with their exact expected names. */
static void check_long(void)
{
  char path[6000];
  char want[600];
  char tail[19];
  struct cr_buf out;
  size_t i;
  int rc;

  /* 300 'a': the first 200 kept, then the hash of all 300. */
  path[0] = '/';
  memset(path + 1, 'a', 300);
  path[301] = '\0';
  hash_tail(tail, path + 1, 300);
  memcpy(want, "h/", 2);
  memset(want + 2, 'a', 200);
  memcpy(want + 202, tail, 19);
  cr_buf_init(&out, 1 << 16);
  rc = cr_pathmap("h", 0, path, NULL, &out);
  tap_check(rc == 0 && tap_streq(out.data, want), "300-byte segment", path,
            301, out.data, want);
  cr_buf_reset(&out);

  /* With a query, the hash covers "NAME?QUERY". */
  rc = cr_pathmap("h", 0, path, "q=1", &out);
  memcpy(path + 301, "?q=1", 5);
  hash_tail(tail, path + 1, 304);
  memcpy(want + 202, tail, 19);
  tap_check(rc == 0 && tap_streq(out.data, want), "300-byte segment and query",
            path, 305, out.data, want);
  cr_buf_reset(&out);

  /* 199 'a' then two-byte characters: the cut backs off to 199 so no
   * character is split. */
  path[0] = '/';
  memset(path + 1, 'a', 199);
  for(i = 0; i < 50; i++)
    memcpy(path + 200 + 2 * i, "\xc3\xa9", 2);
  path[300] = '\0';
  rc = cr_pathmap("h", 0, path, NULL, &out);
  hash_tail(tail, path + 1, 299);
  memcpy(want, "h/", 2);
  memset(want + 2, 'a', 199);
  memcpy(want + 201, tail, 19);
  tap_check(rc == 0 && tap_streq(out.data, want), "cut on a UTF-8 boundary",
            path, 300, out.data, want);
  cr_buf_reset(&out);

  /* 199 'a' then escapes: the cut does not split "%01". */
  path[0] = '/';
  memset(path + 1, 'a', 199);
  for(i = 0; i < 40; i++)
    memcpy(path + 200 + 3 * i, "%01", 3);
  path[320] = '\0';
  rc = cr_pathmap("h", 0, path, NULL, &out);
  hash_tail(tail, path + 1, 319);
  memcpy(want, "h/", 2);
  memset(want + 2, 'a', 199);
  memcpy(want + 201, tail, 19);
  tap_check(rc == 0 && tap_streq(out.data, want), "cut outside an escape",
            path, 320, out.data, want);
  cr_buf_reset(&out);

  /* 5000 bytes of path in 50 segments: collapsed under the host. */
  for(i = 0; i < 50; i++) {
    path[100 * i] = '/';
    memset(path + 100 * i + 1, 'a' + (int)(i % 26), 99);
  }
  path[5000] = '\0';
  rc = cr_pathmap("example.com", 0, path, NULL, &out);
  {
    const char *slash = out.data ? strchr(out.data, '/') : NULL;
    int ok = rc == 0 && slash && strncmp(out.data, "example.com/", 12) == 0 &&
             !strchr(slash + 1, '/') && strlen(slash + 1) <= CR_SEG_MAX &&
             strstr(slash + 1, "%~") && strncmp(slash + 1, "aaa", 3) == 0;
    tap_check(ok, "5000-byte path collapses to HOST/NAME", path, 5000,
              out.data, "example.com/aaa...%2Fbbb...%~HASH");
  }
  cr_buf_reset(&out);

  /* A 300-byte host keeps its port. */
  memset(path, 'h', 300);
  path[300] = '\0';
  rc = cr_pathmap(path, 8080, "/", NULL, &out);
  {
    const char *slash = out.data ? strchr(out.data, '/') : NULL;
    int ok = rc == 0 && slash && (size_t)(slash - out.data) <= CR_SEG_MAX &&
             slash - out.data > 5 && memcmp(slash - 5, ":8080", 5) == 0 &&
             tap_streq(slash, "/index.html");
    tap_check(ok, "300-byte host keeps its port", path, 300, out.data,
              "hhh...%~HASH:8080/index.html");
  }
  cr_buf_cleanup(&out);
}

/* ---- property check ---------------------------------------------------- */

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint32_t rng(void)
{
  /* xorshift64*: deterministic, so a failure reproduces. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

static const char *const tokens[] = {
  "a", "b", "A", "/", "/", "/", "/", ".", "..", "%2e", "%2E", "%2F", "%2f",
  "%", "%4", "%41", "%61", "%7e", "%7E", "~", "?", "\\", "%5C", "%00", "\x01",
  " ", "%20", "index.htm", "index%2Ehtm", "\xc3\xa9", "%C3%A9", "\xff",
  "%FF", "%ED%A0%80", "\xe2\x82", ":", "%3A", "%25", "#", "%~", "~e", "%~empty",
  "\x7f", "&", "=", "%26", "empty", "%3F", "[", "]", "/%~", "/\x01",
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

struct sample {
  char *out;
  char *key;     /* host, port, decoded path and query, for comparison */
  size_t keylen;
};

/* Appends the full percent-decoding of s to key (a '%' that starts no
 * escape is itself), which is what "decoded bytes" means in pathmap.h. */
static size_t decode_into(char *key, const char *s)
{
  size_t o = 0;
  size_t i;
  size_t n = strlen(s);

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(cr_is_escape(s + i, n - i)) {
      c = cr_unescape(s + i);
      i += 2;
    }
    key[o++] = (char)c;
  }
  return o;
}

static void gen(char *buf, size_t cap, size_t ntok)
{
  size_t len = 0;
  size_t i;

  buf[0] = '\0';
  for(i = 0; i < ntok; i++) {
    const char *t = tokens[rng() % NTOKENS];
    size_t tl = strlen(t);
    uint32_t r = rng() % 100;
    /* Sometimes a long name, now and then a path long enough to collapse. */
    size_t rep = r == 0 ? 400 : r < 3 ? 60 : 1;
    while(rep-- > 0 && len + tl < cap) {
      memcpy(buf + len, t, tl);
      len += tl;
    }
  }
  buf[len] = '\0';
}

/* The promises of pathmap.h about one result. */
static const char *bad_output(const char *s)
{
  size_t n = strlen(s);
  size_t i = 0;

  if(n == 0 || s[0] == '/')
    return "empty or absolute";
  if(n > CR_RELPATH_MAX)
    return "too long";
  while(i <= n) {
    size_t j = i;
    size_t k;
    while(j < n && s[j] != '/')
      j++;
    if(j == i)
      return "empty segment";
    if(j - i > CR_SEG_MAX)
      return "segment longer than CR_SEG_MAX";
    if((j - i == 1 && s[i] == '.') || (j - i == 2 && s[i] == '.' && s[i + 1] == '.'))
      return "dot segment";
    for(k = i; k < j; k++) {
      unsigned char c = (unsigned char)s[k];
      if(c < 0x20 || c == 0x7f || c == '\\')
        return "control byte or backslash";
    }
    /* Outside made-up names, '%' always starts "%XX". */
    if(!memmem(s + i, j - i, "%~", 2)) {
      for(k = i; k < j; k++) {
        if(s[k] == '%' && (k + 2 >= j || !strchr("0123456789ABCDEF", s[k + 1]) ||
                           !strchr("0123456789ABCDEF", s[k + 2]) ||
                           s[k + 1] == '\0' || s[k + 2] == '\0'))
          return "bare '%'";
      }
    }
    i = j + 1;
  }
  return NULL;
}

static int cmp_sample(const void *a, const void *b)
{
  const struct sample *x = a;
  const struct sample *y = b;
  int c = strcmp(x->out, y->out);

  if(c)
    return c;
  if(x->keylen != y->keylen)
    return x->keylen < y->keylen ? -1 : 1;
  return memcmp(x->key, y->key, x->keylen);
}

static void check_property(void)
{
  enum { N = 4000 };
  static const char *const hosts[] = { "example.com", "[::1]", "h" };
  static const unsigned ports[] = { 0, 8080 };
  struct sample *s = calloc(N, sizeof(*s));
  char path[4096];
  char query[1024];
  size_t i;
  size_t bad = 0;
  size_t clashes = 0;
  size_t distinct = 0;
  size_t hashed = 0;
  size_t collapsed = 0;

  if(!s) {
    tap_check(0, "calloc", NULL, 0, NULL, NULL);
    return;
  }
  for(i = 0; i < N; i++) {
    const char *host = hosts[rng() % 3];
    unsigned port = ports[rng() % 2];
    unsigned qk = rng() % 6;
    const char *q = NULL;
    struct cr_buf out;
    const char *why;
    size_t o;
    int rc;

    gen(path, sizeof(path), rng() % 12);
    if(qk == 1)
      q = "";
    else if(qk >= 4) {
      gen(query, 256, 1 + rng() % 4);
      q = query;
    }
    cr_buf_init(&out, 1 << 16);
    rc = cr_pathmap(host, port, path, q, &out);
    why = rc ? "error" : bad_output(out.data);
    if(why) {
      bad++;
      if(bad <= 5)
        tap_check(0, why, path, strlen(path), out.data, "(a safe path)");
    }
    if(out.data && strstr(out.data, "%~") && !strstr(out.data, "%~empty"))
      hashed++;
    if(out.data && strstr(out.data, "%~") && strchr(out.data, '/') ==
       strrchr(out.data, '/') && strchr(path + 1, '/'))
      collapsed++;
    s[i].out = out.data ? out.data : calloc(1, 1);
    /* key: host NUL port NUL '/'-led decoded path NUL query flag, query */
    s[i].key = malloc(strlen(host) + 16 + strlen(path) + 256 + 8);
    if(!s[i].key || !s[i].out) {
      tap_check(0, "malloc", NULL, 0, NULL, NULL);
      break;
    }
    o = strlen(host) + 1;
    memcpy(s[i].key, host, o);
    s[i].key[o++] = (char)(port ? 1 : 0);
    if(path[0] != '/')
      s[i].key[o++] = '/';
    o += decode_into(s[i].key + o, path);
    s[i].key[o++] = '\0';
    s[i].key[o++] = (char)(q ? 1 : 0);
    if(q)
      o += decode_into(s[i].key + o, q);
    s[i].keylen = o;
  }
  tap_check(bad == 0, "every generated path keeps the promises", NULL, 0,
            bad ? "some failed" : "all", "all");

  /* Equal outputs must come from equal decoded inputs. */
  qsort(s, i, sizeof(*s), cmp_sample);
  {
    size_t n = i;
    size_t k;
    for(k = 0; k < n; k++) {
      if(k == 0 || strcmp(s[k].out, s[k - 1].out) != 0) {
        distinct++;
        continue;
      }
      if(s[k].keylen != s[k - 1].keylen ||
         memcmp(s[k].key, s[k - 1].key, s[k].keylen) != 0) {
        clashes++;
        if(clashes <= 5)
          tap_check(0, "two decoded inputs share a path", s[k].key + strlen(s[k].key) + 2,
                    s[k].keylen - strlen(s[k].key) - 2, s[k].out, "(distinct)");
      }
    }
    for(k = 0; k < n; k++) {
      free(s[k].out);
      free(s[k].key);
    }
  }
  tap_note("%zu generated paths, %zu distinct results, %zu with hashed names, "
           "%zu collapsed", (size_t)N, distinct, hashed, collapsed);
  tap_check(hashed > 0 && collapsed > 0, "long names and long paths were made",
            NULL, 0, hashed && collapsed ? "yes" : "no", "yes");
  tap_check(clashes == 0, "distinct decoded inputs get distinct paths", NULL, 0,
            clashes ? "clashes" : "none", "none");
  tap_check(distinct > N / 2, "the generator produced varied paths", NULL, 0,
            distinct > N / 2 ? "yes" : "no", "yes");
  free(s);
}

int main(void)
{
  size_t i;

  for(i = 0; i < sizeof(map_cases) / sizeof(map_cases[0]); i++)
    check_case(&map_cases[i]);
  check_appends();
  check_long();
  check_property();
  return tap_done();
}
