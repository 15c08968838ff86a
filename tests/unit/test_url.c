/* test_url.c - table-driven tests of cr_url_normalize, cr_url_resolve and
 * cr_url_split. */
#include <stdlib.h>
#include <string.h>

#include "crawler.h"
#include "tap.h"
#include "url.h"

/* A literal with its length, so inputs may hold NUL bytes. */
#define B(s) s, sizeof(s) - 1

struct norm_case {
  const char *in;
  size_t len;
  const char *want;   /* expected output, when rc is 0 */
  int rc;
  const char *reason; /* expected reason on failure, or NULL to skip */
};

static const struct norm_case norm_cases[] = {
  /* case and default ports */
  { B("HTTP://EXAMPLE.COM/A/B"), "http://example.com/A/B", 0, NULL },
  { B("HtTpS://Example.Com:443/"), "https://example.com/", 0, NULL },
  { B("http://example.com:80/"), "http://example.com/", 0, NULL },
  { B("https://example.com:80/x"), "https://example.com:80/x", 0, NULL },
  { B("http://example.com:443/x"), "http://example.com:443/x", 0, NULL },
  { B("http://example.com:8080"), "http://example.com:8080/", 0, NULL },
  { B("http://example.com:080/"), "http://example.com/", 0, NULL },
  { B("http://example.com:/x"), "http://example.com/x", 0, NULL },
  { B("http://example.com:0/"), NULL, CR_EURL, "bad port" },
  { B("http://example.com:65536/"), NULL, CR_EURL, "bad port" },
  { B("http://example.com:99999999999999999999/"), NULL, CR_EURL, "bad port" },
  /* no scheme: http, like curl and wget */
  { B("example.com"), "http://example.com/", 0, NULL },
  { B("example.com/x?y"), "http://example.com/x?y", 0, NULL },
  { B("example.com:8080/x"), "http://example.com:8080/x", 0, NULL },
  { B("localhost:8080"), "http://localhost:8080/", 0, NULL },
  { B("//example.com/x"), "http://example.com/x", 0, NULL },
  { B("[::1]:8080/x"), "http://[::1]:8080/x", 0, NULL },
  { B("127.0.0.1/x"), "http://127.0.0.1/x", 0, NULL },
  { B("/x"), NULL, CR_EURL, "empty host" },
  /* schemes */
  { B("ftp://example.com/"), NULL, CR_ESCHEME, "not http or https" },
  { B("file:///etc/passwd"), NULL, CR_ESCHEME, "not http or https" },
  { B("foo://example.com/"), NULL, CR_ESCHEME, "not http or https" },
  { B("mailto:a@example.com"), NULL, CR_ESCHEME, "not http or https" },
  { B("javascript:alert(1)"), NULL, CR_ESCHEME, "not http or https" },
  { B("data:text/html,hi"), NULL, CR_ESCHEME, "not http or https" },
  { B("urn:isbn:0451450523"), NULL, CR_ESCHEME, "not http or https" },
  { B("http:/example.com/x"), "http://example.com/x", 0, NULL },
  { B("http:example.com"), NULL, CR_EURL, NULL },
  /* hosts */
  { B("http://"), NULL, CR_EURL, "empty host" },
  { B("http:///"), NULL, CR_EURL, "empty host" },
  { B("http://:80/"), NULL, CR_EURL, "empty host" },
  { B("http://a b/"), NULL, CR_EURL, NULL },
  { B("http://h\\b/"), NULL, CR_EURL, NULL },
  { B("http://h%41st.com/"), "http://hast.com/", 0, NULL },
  { B("http://h.com./"), "http://h.com./", 0, NULL },
  { B("http://0x7f.1/"), "http://127.0.0.1/", 0, NULL },
  { B("http://2130706433/"), "http://127.0.0.1/", 0, NULL },
  /* digits and dots that are no IPv4 address are no host at all */
  { B("http://1.2.3.4.5/"), NULL, CR_EURL, "bad IPv4 address" },
  { B("http://4294967296/"), NULL, CR_EURL, "bad IPv4 address" },
  { B("http://256.1.1.1/"), NULL, CR_EURL, "bad IPv4 address" },
  { B("http://1..2/"), NULL, CR_EURL, "bad IPv4 address" },
  { B("http://a.1.2.3.4.5/"), "http://a.1.2.3.4.5/", 0, NULL },
  { B("http://[::1]/"), "http://[::1]/", 0, NULL },
  { B("http://[::1]:80/"), "http://[::1]/", 0, NULL },
  { B("http://[::FFFF:1.2.3.4]:8080/"), "http://[::ffff:1.2.3.4]:8080/", 0, NULL },
  { B("http://[0:0:0:0:0:0:0:1]/"), "http://[::1]/", 0, NULL },
  { B("http://[2001:DB8::A]/"), "http://[2001:db8::a]/", 0, NULL },
  { B("http://[fe80::1%25eth0]/"), NULL, CR_EURL, "IPv6 zone id in URL" },
  { B("http://a%2541/"), NULL, CR_EURL, "bad host name" },
  { B("http://a%/"), NULL, CR_EURL, "bad host name" },
  { B("http://a%7Fb/"), NULL, CR_EURL, "bad host name" },
  { B("http://\xcd\xbe/"), NULL, CR_EURL, "bad international host name" },
  { B("http://a\xef\xbc\x8f" "b/"), NULL, CR_EURL, NULL },
  { B("http://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.1/"), "http://127.0.0.1/", 0, NULL },
  { B("http://a%41/"), "http://aa/", 0, NULL },
  { B("http://3%35/"), "http://0.0.0.35/", 0, NULL },
  { B("http://0x%37f.1/"), "http://127.0.0.1/", 0, NULL },
  { B("http://1.2.3.%34/"), "http://1.2.3.4/", 0, NULL },
  { B("http://%66%61%63%65.de/"), "http://face.de/", 0, NULL },
  { B("http://[::1/"), NULL, CR_EURL, NULL },
  { B("http://[zz]/"), NULL, CR_EURL, NULL },
  /* international names become punycode, whatever the locale */
  { B("http://b\xc3\xbc" "cher.de/"), "http://xn--bcher-kva.de/", 0, NULL },
  { B("http://B\xc3\x9c" "CHER.DE/"), "http://xn--bcher-kva.de/", 0, NULL },
  { B("http://%C3%A9.com/"), "http://xn--9ca.com/", 0, NULL },
  { B("http://xn--bcher-kva.de/"), "http://xn--bcher-kva.de/", 0, NULL },
  { B("http://\xff.com/"), NULL, CR_EURL, NULL },
  /* userinfo and fragment are dropped */
  { B("http://user:pw@example.com/x"), "http://example.com/x", 0, NULL },
  { B("http://user@example.com/"), "http://example.com/", 0, NULL },
  { B("http://example.com/x#frag"), "http://example.com/x", 0, NULL },
  { B("http://example.com/#"), "http://example.com/", 0, NULL },
  { B("http://example.com/x?a#f?g"), "http://example.com/x?a", 0, NULL },
  /* root and trailing slash */
  { B("http://example.com"), "http://example.com/", 0, NULL },
  { B("http://example.com?q"), "http://example.com/?q", 0, NULL },
  { B("http://example.com/a"), "http://example.com/a", 0, NULL },
  { B("http://example.com/a/"), "http://example.com/a/", 0, NULL },
  /* dot segments and traversal */
  { B("http://h/../../etc/passwd"), "http://h/etc/passwd", 0, NULL },
  { B("http://h/a/b/../../../../x"), "http://h/x", 0, NULL },
  { B("http://h/%2e%2e/%2e%2e/x"), "http://h/x", 0, NULL },
  { B("http://h/a/%2E%2e/b"), "http://h/b", 0, NULL },
  { B("http://h/a/%2e%2e/../b"), "http://h/b", 0, NULL },
  { B("http://h/a/.%2e/b"), "http://h/b", 0, NULL },
  { B("http://h/a/%2e/b"), "http://h/a/b", 0, NULL },
  { B("http://h/..%2f..%2fx"), "http://h/..%2F..%2Fx", 0, NULL },
  { B("http://h/..\\..\\etc"), "http://h/..%5C..%5Cetc", 0, NULL },
  { B("http://h/./a/./b/."), "http://h/a/b/", 0, NULL },
  { B("http://h/a/b/.."), "http://h/a/", 0, NULL },
  { B("http://h/.."), "http://h/", 0, NULL },
  { B("http://h/%2e"), "http://h/", 0, NULL },
  { B("http://h/a/...b/..."), "http://h/a/...b/...", 0, NULL },
  { B("http://h/a//b"), "http://h/a//b", 0, NULL },
  { B("http://h/x?../../y"), "http://h/x?../../y", 0, NULL },
  /* control bytes are refused; escaped ones stay escaped */
  { B("http://h/a%00b"), "http://h/a%00b", 0, NULL },
  { B("http://h/a%0d%0Ab"), "http://h/a%0D%0Ab", 0, NULL },
  { B("http://h/a\0b"), NULL, CR_EURL, "control character in URL" },
  { B("http://h/a\x01"), NULL, CR_EURL, "control character in URL" },
  { B("http://h/a\x7f"), NULL, CR_EURL, "control character in URL" },
  { B("http://h/a\tb"), NULL, CR_EURL, "control character in URL" },
  { B("http://h/a\r\n"), NULL, CR_EURL, "control character in URL" },
  { B("\0"), NULL, CR_EURL, "control character in URL" },
  { B(""), NULL, CR_EURL, "empty URL" },
  /* percent-encoding */
  { B("http://h/%7e"), "http://h/~", 0, NULL },
  { B("http://h/~"), "http://h/~", 0, NULL },
  { B("http://h/%7E%41%2d%5F%2E%30"), "http://h/~A-_.0", 0, NULL },
  { B("http://h/%2f"), "http://h/%2F", 0, NULL },
  { B("http://h/a%2Fb/c"), "http://h/a%2Fb/c", 0, NULL },
  { B("http://h/%3a%40%21"), "http://h/%3A%40%21", 0, NULL },
  { B("http://h/%c3%a9"), "http://h/%C3%A9", 0, NULL },
  { B("http://h/\xc3\xa9"), "http://h/%C3%A9", 0, NULL },
  { B("http://h/\xff\xfe"), "http://h/%FF%FE", 0, NULL },
  { B("http://h/a b"), "http://h/a%20b", 0, NULL },
  { B("http://h/%zz"), "http://h/%25zz", 0, NULL },
  { B("http://h/50%"), "http://h/50%25", 0, NULL },
  { B("http://h/%4"), "http://h/%254", 0, NULL },
  { B("http://h/%25"), "http://h/%25", 0, NULL },
  { B("http://h/a|b{c}^`\"<>[]"),
    "http://h/a%7Cb%7Bc%7D%5E%60%22%3C%3E%5B%5D", 0, NULL },
  { B("http://h/!$&'()*+,;=:@"), "http://h/!$&'()*+,;=:@", 0, NULL },
  /* queries */
  { B("http://h/x?a=1"), "http://h/x?a=1", 0, NULL },
  { B("http://h/x?a=2"), "http://h/x?a=2", 0, NULL },
  { B("http://h/x?"), "http://h/x", 0, NULL },
  { B("http://h/?"), "http://h/", 0, NULL },
  { B("http://h/x?a b"), "http://h/x?a%20b", 0, NULL },
  { B("http://h/x?a+b"), "http://h/x?a+b", 0, NULL },
  { B("http://h/x?a=%7e&b=%26&c=%2f"), "http://h/x?a=~&b=%26&c=%2F", 0, NULL },
  { B("http://h/x?/a?b"), "http://h/x?/a?b", 0, NULL },
  { B("http://h/x?\xc3\xa9"), "http://h/x?%C3%A9", 0, NULL },
  { B("http://h/x?a\"b"), "http://h/x?a%22b", 0, NULL },
};

struct resolve_case {
  const char *base;
  const char *ref;
  size_t len;
  const char *want;
  int rc;
};

#define RFC_BASE "http://a/b/c/d;p?q"

static const struct resolve_case resolve_cases[] = {
  /* RFC 3986 5.4.1, normal examples (fragments dropped) */
  { RFC_BASE, B("g:h"), NULL, CR_ESCHEME },
  { RFC_BASE, B("g"), "http://a/b/c/g", 0 },
  { RFC_BASE, B("./g"), "http://a/b/c/g", 0 },
  { RFC_BASE, B("g/"), "http://a/b/c/g/", 0 },
  { RFC_BASE, B("/g"), "http://a/g", 0 },
  { RFC_BASE, B("//g"), "http://g/", 0 },
  { RFC_BASE, B("?y"), "http://a/b/c/d;p?y", 0 },
  { RFC_BASE, B("g?y"), "http://a/b/c/g?y", 0 },
  { RFC_BASE, B("#s"), "http://a/b/c/d;p?q", 0 },
  { RFC_BASE, B("g#s"), "http://a/b/c/g", 0 },
  { RFC_BASE, B("g?y#s"), "http://a/b/c/g?y", 0 },
  { RFC_BASE, B(";x"), "http://a/b/c/;x", 0 },
  { RFC_BASE, B("g;x"), "http://a/b/c/g;x", 0 },
  { RFC_BASE, B("g;x?y#s"), "http://a/b/c/g;x?y", 0 },
  { RFC_BASE, B(""), "http://a/b/c/d;p?q", 0 },
  { RFC_BASE, B("."), "http://a/b/c/", 0 },
  { RFC_BASE, B("./"), "http://a/b/c/", 0 },
  { RFC_BASE, B(".."), "http://a/b/", 0 },
  { RFC_BASE, B("../"), "http://a/b/", 0 },
  { RFC_BASE, B("../g"), "http://a/b/g", 0 },
  { RFC_BASE, B("../.."), "http://a/", 0 },
  { RFC_BASE, B("../../"), "http://a/", 0 },
  { RFC_BASE, B("../../g"), "http://a/g", 0 },
  /* RFC 3986 5.4.2, abnormal examples */
  { RFC_BASE, B("../../../g"), "http://a/g", 0 },
  { RFC_BASE, B("../../../../g"), "http://a/g", 0 },
  { RFC_BASE, B("/./g"), "http://a/g", 0 },
  { RFC_BASE, B("/../g"), "http://a/g", 0 },
  { RFC_BASE, B("g."), "http://a/b/c/g.", 0 },
  { RFC_BASE, B(".g"), "http://a/b/c/.g", 0 },
  { RFC_BASE, B("g.."), "http://a/b/c/g..", 0 },
  { RFC_BASE, B("..g"), "http://a/b/c/..g", 0 },
  { RFC_BASE, B("./../g"), "http://a/b/g", 0 },
  { RFC_BASE, B("./g/."), "http://a/b/c/g/", 0 },
  { RFC_BASE, B("g/./h"), "http://a/b/c/g/h", 0 },
  { RFC_BASE, B("g/../h"), "http://a/b/c/h", 0 },
  { RFC_BASE, B("g;x=1/./y"), "http://a/b/c/g;x=1/y", 0 },
  { RFC_BASE, B("g;x=1/../y"), "http://a/b/c/y", 0 },
  { RFC_BASE, B("g?y/./x"), "http://a/b/c/g?y/./x", 0 },
  { RFC_BASE, B("g?y/../x"), "http://a/b/c/g?y/../x", 0 },
  { RFC_BASE, B("g#s/./x"), "http://a/b/c/g", 0 },
  { RFC_BASE, B("g#s/../x"), "http://a/b/c/g", 0 },
  { RFC_BASE, B("http:g"), "http://a/b/c/g", 0 },
  /* our own */
  { RFC_BASE, B("mailto:a@b"), NULL, CR_ESCHEME },
  { RFC_BASE, B("javascript:void(0)"), NULL, CR_ESCHEME },
  { RFC_BASE, B("JavaScript:x"), NULL, CR_ESCHEME },
  { RFC_BASE, B("ftp://a/x"), NULL, CR_ESCHEME },
  { RFC_BASE, B("localhost:80/x"), NULL, CR_ESCHEME },
  { RFC_BASE, B("HTTPS://X/y"), "https://x/y", 0 },
  { RFC_BASE, B("//example.com"), "http://example.com/", 0 },
  { RFC_BASE, B("//b\xc3\xbc" "cher.de/x"), "http://xn--bcher-kva.de/x", 0 },
  { RFC_BASE, B("  g \n"), "http://a/b/c/g", 0 },
  { RFC_BASE, B("g\n/h\t/i"), "http://a/b/c/g/h/i", 0 },
  { RFC_BASE, B("g\0h"), NULL, CR_EURL },
  { RFC_BASE, B("g\0"), NULL, CR_EURL },
  { RFC_BASE, B("g\x01h"), NULL, CR_EURL },
  { RFC_BASE, B("%2e%2e/x"), "http://a/b/x", 0 },
  { RFC_BASE, B("x/%2E%2E/../y"), "http://a/b/y", 0 },
  { RFC_BASE, B("../../../../../etc/passwd"), "http://a/etc/passwd", 0 },
  { RFC_BASE, B("a b"), "http://a/b/c/a%20b", 0 },
  { RFC_BASE, B("?a b"), "http://a/b/c/d;p?a%20b", 0 },
  { RFC_BASE, B("\xc3\xa9"), "http://a/b/c/%C3%A9", 0 },
  { RFC_BASE, B("%7e"), "http://a/b/c/~", 0 },
  { RFC_BASE, B("\\\\evil\\x"), "http://a/b/c/%5C%5Cevil%5Cx", 0 },
  { "http://[::1]:8080/a/b", B("../c"), "http://[::1]:8080/c", 0 },
  { "http://h/dir/", B("x"), "http://h/dir/x", 0 },
  { "https://h/dir/", B("//other/y"), "https://other/y", 0 },
};

struct split_case {
  const char *in;
  int rc;
  const char *scheme;
  const char *host;
  unsigned port;
  unsigned effective_port;
  const char *path;
  const char *query;
  int is_ip;
};

static const struct split_case split_cases[] = {
  { "http://Example.com:8080/a?b", 0, "http", "example.com", 8080, 8080,
    "/a", "b", 0 },
  { "https://h/", 0, "https", "h", 0, 443, "/", NULL, 0 },
  { "https://h:443", 0, "https", "h", 0, 443, "/", NULL, 0 },
  { "http://h:443/", 0, "http", "h", 443, 443, "/", NULL, 0 },
  { "http://[::1]/x", 0, "http", "[::1]", 0, 80, "/x", NULL, 1 },
  { "http://127.0.0.1/x?", 0, "http", "127.0.0.1", 0, 80, "/x", NULL, 1 },
  { "http://1.2.3.4.example/", 0, "http", "1.2.3.4.example", 0, 80, "/",
    NULL, 0 },
  { "example.com", 0, "http", "example.com", 0, 80, "/", NULL, 0 },
  { "http://h/%7e?%7e", 0, "http", "h", 0, 80, "/~", "~", 0 },
  { "ftp://h/", CR_ESCHEME, NULL, NULL, 0, 0, NULL, NULL, 0 },
  { "http://", CR_EURL, NULL, NULL, 0, 0, NULL, NULL, 0 },
};

static void check_norm(const struct norm_case *c)
{
  char *out = NULL;
  const char *reason = NULL;
  int rc = cr_url_normalize(c->in, c->len, &out, &reason);
  int ok;

  if(c->rc == 0)
    ok = rc == 0 && tap_streq(out, c->want);
  else
    ok = rc == c->rc && !out && reason &&
         (!c->reason || strcmp(reason, c->reason) == 0);
  if(rc && !ok)
    tap_note("rc %d (%s), want %d", rc, reason ? reason : "no reason", c->rc);
  tap_check(ok, "normalize", c->in, c->len, rc ? reason : out,
            c->rc ? (c->reason ? c->reason : "(an error)") : c->want);

  /* A normalized URL is a fixed point. */
  if(rc == 0 && out) {
    char *again = NULL;
    int rc2 = cr_url_normalize(out, strlen(out), &again, &reason);
    tap_check(rc2 == 0 && tap_streq(again, out), "normalize is idempotent",
              out, strlen(out), rc2 ? reason : again, out);
    free(again);
  }
  free(out);
}

static void check_resolve(const struct resolve_case *c)
{
  char *out = NULL;
  const char *reason = NULL;
  int rc = cr_url_resolve(c->base, c->ref, c->len, &out, &reason);
  int ok;

  if(c->rc == 0)
    ok = rc == 0 && tap_streq(out, c->want);
  else
    ok = rc == c->rc && !out && reason;
  if(rc && !ok)
    tap_note("rc %d (%s), want %d", rc, reason ? reason : "no reason", c->rc);
  tap_check(ok, c->base, c->ref, c->len, rc ? reason : out,
            c->rc ? "(an error)" : c->want);
  if(rc == 0 && out) {
    char *again = NULL;
    int rc2 = cr_url_normalize(out, strlen(out), &again, &reason);
    tap_check(rc2 == 0 && tap_streq(again, out), "resolved URL is normalized",
              out, strlen(out), rc2 ? reason : again, out);
    free(again);
  }
  free(out);
}

static void check_split(const struct split_case *c)
{
  struct cr_url_parts p;
  int rc = cr_url_split(c->in, &p);
  int ok;

  if(c->rc)
    ok = rc == c->rc && !p.scheme && !p.host && !p.path && !p.query;
  else
    ok = rc == 0 && tap_streq(p.scheme, c->scheme) &&
         tap_streq(p.host, c->host) && p.port == c->port &&
         p.effective_port == c->effective_port && tap_streq(p.path, c->path) &&
         tap_streq(p.query, c->query) && p.is_ip == c->is_ip;
  if(!ok)
    tap_note("rc %d scheme %s host %s port %u/%u path %s query %s ip %d", rc,
             p.scheme ? p.scheme : "-", p.host ? p.host : "-", p.port,
             p.effective_port, p.path ? p.path : "-",
             p.query ? p.query : "(null)", p.is_ip);
  tap_check(ok, "split", c->in, strlen(c->in), p.host, c->host);
  cr_url_parts_cleanup(&p);
  tap_check(!p.scheme && !p.host && !p.path && !p.query && p.port == 0,
            "cleanup zeroes the parts", c->in, strlen(c->in), NULL, NULL);
}

/* Lengths around CR_URL_MAX, built at run time. */
static void check_lengths(void)
{
  size_t cap = CR_URL_MAX + 64;
  char *in = malloc(cap);
  char *out = NULL;
  const char *reason = NULL;
  size_t n;
  int rc;

  if(!in) {
    tap_check(0, "malloc", NULL, 0, NULL, NULL);
    return;
  }
  /* Exactly CR_URL_MAX bytes: accepted. */
  memcpy(in, "http://h/", 9);
  memset(in + 9, 'a', CR_URL_MAX - 9);
  n = CR_URL_MAX;
  rc = cr_url_normalize(in, n, &out, &reason);
  tap_check(rc == 0 && out && strlen(out) == CR_URL_MAX,
            "URL of CR_URL_MAX bytes is accepted", in, n, rc ? reason : "ok",
            "ok");
  free(out);
  out = NULL;

  /* One byte more: refused before parsing. */
  memset(in + 9, 'a', CR_URL_MAX + 1 - 9);
  n = CR_URL_MAX + 1;
  rc = cr_url_normalize(in, n, &out, &reason);
  tap_check(rc == CR_ETOOLONG && !out, "URL over CR_URL_MAX is refused", in, n,
            rc ? reason : out, "URL too long");
  free(out);
  out = NULL;

  /* Short enough as input, too long once spaces become "%20". */
  memset(in + 9, ' ', 3000);
  n = 9 + 3000;
  rc = cr_url_normalize(in, n, &out, &reason);
  tap_check(rc == CR_ETOOLONG && !out, "URL too long after escaping", in, n,
            rc ? reason : out, "URL too long");
  free(out);
  out = NULL;

  /* A reference over the cap. */
  memset(in, 'a', CR_URL_MAX + 1);
  rc = cr_url_resolve("http://h/", in, CR_URL_MAX + 1, &out, &reason);
  tap_check(rc == CR_ETOOLONG && !out, "reference over CR_URL_MAX is refused",
            in, CR_URL_MAX + 1, rc ? reason : out, "URL too long");
  free(out);
  free(in);
}

/* Spellings of one resource must give one string. */
static void check_equivalents(void)
{
  static const char *const same[][4] = {
    { "http://h/~a", "http://h/%7ea", "HTTP://H:80/%7Ea", "http://H/b/../%7Ea#x" },
    { "http://h/%C3%A9", "http://h/%c3%a9", "http://h/\xc3\xa9",
      "http://user@h/./%c3%A9" },
    { "http://h/a%2Fb", "http://h/a%2fb", "http://h/a/./%2E./a%2Fb",
      "http://h:80/a%2Fb#" },
  };
  size_t i;
  size_t j;

  for(i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
    char *first = NULL;
    const char *reason = NULL;
    int rc = cr_url_normalize(same[i][0], strlen(same[i][0]), &first, &reason);

    for(j = 1; j < 4 && rc == 0; j++) {
      char *out = NULL;
      int rc2 = cr_url_normalize(same[i][j], strlen(same[i][j]), &out, &reason);
      tap_check(rc2 == 0 && tap_streq(out, first), "equivalent spellings",
                same[i][j], strlen(same[i][j]), out, first);
      free(out);
    }
    free(first);
  }
  /* '/' and "%2F" are different paths. */
  {
    char *a = NULL;
    char *b = NULL;
    const char *reason = NULL;
    int ra = cr_url_normalize(B("http://h/a/b"), &a, &reason);
    int rb = cr_url_normalize(B("http://h/a%2Fb"), &b, &reason);
    tap_check(ra == 0 && rb == 0 && !tap_streq(a, b), "'/' differs from %2F",
              "http://h/a%2Fb", 14, b, "not http://h/a/b");
    free(a);
    free(b);
  }
}

/* cr_url_view, the cheap reader of normalized URLs, must agree with the
 * full parser on every URL the normalizer produces. */
static void check_view(const char *in, size_t len)
{
  struct cr_url_parts p;
  struct cr_url_view v;
  char *out = NULL;
  const char *reason = NULL;
  int ok;

  if(cr_url_normalize(in, len, &out, &reason))
    return;
  ok = cr_url_split(out, &p) == 0 && cr_url_view(out, &v) == 0 &&
       v.host_len == strlen(p.host) && !memcmp(v.host, p.host, v.host_len) &&
       v.port == p.port && v.effective_port == p.effective_port &&
       v.path_len == strlen(p.path) && !memcmp(v.path, p.path, v.path_len) &&
       (p.query ? v.query && v.query_len == strlen(p.query) &&
                  !memcmp(v.query, p.query, v.query_len)
                : !v.query) &&
       v.is_ip == p.is_ip && v.https == !strcmp(p.scheme, "https") &&
       v.origin == out && v.path == out + v.origin_len;
  tap_check(ok, "cr_url_view agrees with cr_url_split", out, strlen(out),
            ok ? "same" : "differs", "same");
  cr_url_parts_cleanup(&p);
  free(out);
}

int main(void)
{
  size_t i;

  for(i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++)
    check_norm(&norm_cases[i]);
  for(i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++)
    check_resolve(&resolve_cases[i]);
  for(i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++)
    check_split(&split_cases[i]);
  check_lengths();
  check_equivalents();
  for(i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++)
    check_view(norm_cases[i].in, norm_cases[i].len ? norm_cases[i].len
                                                   : strlen(norm_cases[i].in));
  /* Digits and dots that curl keeps as names, not addresses. */
  check_view("http://1.2.3.4.5/", 17);
  check_view("http://1.2.3.4./x", 17);
  {
    /* Views of what the view must refuse. */
    struct cr_url_view v;

    tap_check(cr_url_view("ftp://h/", &v) == CR_EURL, "view refuses ftp",
              "ftp://h/", 8, NULL, NULL);
    tap_check(cr_url_view("http://h:99999/", &v) == CR_EURL, "view refuses bad port",
              "http://h:99999/", 15, NULL, NULL);
    tap_check(cr_url_view("http://h", &v) == CR_EURL, "view wants a path",
              "http://h", 8, NULL, NULL);
  }
  return tap_done();
}
