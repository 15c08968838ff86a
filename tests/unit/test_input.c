/* test_input.c - table-driven tests of cr_input_line and of the capped
 * line reader over real temporary files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crawler.h"
#include "input.h"
#include "tap.h"

#define B(s) s, sizeof(s) - 1

struct line_case {
  const char *in;
  size_t len;
  enum cr_line_kind kind;
  const char *want; /* the URL for CR_LINE_URL, the reason for CR_LINE_BAD */
};

static const struct line_case line_cases[] = {
  /* blanks and comments */
  { B(""), CR_LINE_SKIP, NULL },
  { B("   "), CR_LINE_SKIP, NULL },
  { B("\t \t"), CR_LINE_SKIP, NULL },
  { B("\r"), CR_LINE_SKIP, NULL },
  { B("# a comment"), CR_LINE_SKIP, NULL },
  { B("  # indented"), CR_LINE_SKIP, NULL },
  { B("#"), CR_LINE_SKIP, NULL },
  { B("# http://example.com/"), CR_LINE_SKIP, NULL },
  { B("#\0binary comment"), CR_LINE_SKIP, NULL },
  /* URLs, trimmed */
  { B("http://example.com/"), CR_LINE_URL, "http://example.com/" },
  { B("  http://example.com/  "), CR_LINE_URL, "http://example.com/" },
  { B("\thttp://example.com/\t"), CR_LINE_URL, "http://example.com/" },
  { B("http://example.com/\r"), CR_LINE_URL, "http://example.com/" },
  { B("http://example.com/#frag"), CR_LINE_URL, "http://example.com/#frag" },
  { B("http://example.com/\xc3\xa9"), CR_LINE_URL, "http://example.com/\xc3\xa9" },
  /* bytes that cannot be in a URL */
  { B("http://example.com/a b"), CR_LINE_BAD, "space in URL" },
  { B("http://example.com/a\tb"), CR_LINE_BAD, "space in URL" },
  { B("http://a/ b\0"), CR_LINE_BAD, "space in URL" },
  { B("http://example.com/a\0b"), CR_LINE_BAD, "control character in URL" },
  { B("http://example.com/\0"), CR_LINE_BAD, "control character in URL" },
  { B("\0"), CR_LINE_BAD, "control character in URL" },
  { B("http://example.com/\x01"), CR_LINE_BAD, "control character in URL" },
  { B("http://example.com/\x7f"), CR_LINE_BAD, "control character in URL" },
  { B("http://a/\rb"), CR_LINE_BAD, "control character in URL" },
  { B("http://a/\vb"), CR_LINE_BAD, "control character in URL" },
  { B("http://a/\x1b[31m"), CR_LINE_BAD, "control character in URL" },
  /* schemes */
  { B("HTTP://example.com/"), CR_LINE_URL, "HTTP://example.com/" },
  { B("Https://example.com/"), CR_LINE_URL, "Https://example.com/" },
  { B("ftp://example.com/"), CR_LINE_BAD, "not http or https" },
  { B("FTP://example.com/"), CR_LINE_BAD, "not http or https" },
  { B("file:///etc/passwd"), CR_LINE_BAD, "not http or https" },
  { B("httpx://example.com/"), CR_LINE_BAD, "not http or https" },
  { B("mailto:a@example.com"), CR_LINE_BAD, "not http or https" },
  { B("javascript:alert(1)"), CR_LINE_BAD, "not http or https" },
  { B("data:text/html,hi"), CR_LINE_BAD, "not http or https" },
  { B("ftp:example.com"), CR_LINE_BAD, "not http or https" },
  { B("urn:isbn:0451450523"), CR_LINE_BAD, "not http or https" },
  { B("host:port"), CR_LINE_BAD, "not http or https" },
  /* no scheme: left to the normalizer, which reads them as http */
  { B("example.com"), CR_LINE_URL, "example.com" },
  { B("example.com/x"), CR_LINE_URL, "example.com/x" },
  { B("example.com:8080/x"), CR_LINE_URL, "example.com:8080/x" },
  { B("example.com:8080"), CR_LINE_URL, "example.com:8080" },
  { B("localhost:8080?q"), CR_LINE_URL, "localhost:8080?q" },
  { B("example.com:/x"), CR_LINE_URL, "example.com:/x" },
  { B("example.com/a:b"), CR_LINE_URL, "example.com/a:b" },
  { B("example.com/r?u=ftp://x/"), CR_LINE_URL, "example.com/r?u=ftp://x/" },
  { B("//example.com/x"), CR_LINE_URL, "//example.com/x" },
  { B("[::1]:8080/"), CR_LINE_URL, "[::1]:8080/" },
  { B("127.0.0.1:80"), CR_LINE_URL, "127.0.0.1:80" },
  { B("http:example.com"), CR_LINE_URL, "http:example.com" },
};

static void check_line(const struct line_case *c)
{
  const char *start = NULL;
  const char *reason = NULL;
  size_t ulen = 0;
  enum cr_line_kind k = cr_input_line(c->in, c->len, &start, &ulen, &reason);
  char got[256];
  int ok = k == c->kind;

  if(k == CR_LINE_URL) {
    size_t n = ulen < sizeof(got) - 1 ? ulen : sizeof(got) - 1;
    memcpy(got, start, n);
    got[n] = '\0';
    ok = ok && start >= c->in && start + ulen <= c->in + c->len &&
         strlen(c->want) == ulen && memcmp(start, c->want, ulen) == 0;
  }
  else if(k == CR_LINE_BAD) {
    snprintf(got, sizeof(got), "BAD: %s", reason ? reason : "(none)");
    ok = ok && reason && tap_streq(reason, c->want);
  }
  else
    snprintf(got, sizeof(got), "SKIP");
  tap_check(ok, "classify line", c->in, c->len, got,
            c->kind == CR_LINE_SKIP ? "SKIP" : c->want);
}

/* Writes data[0..n) to a new temporary file; its name goes to path. */
static int write_temp(const void *data, size_t n, char *path, size_t cap)
{
  const char *dir = getenv("TMPDIR");
  FILE *f;
  int fd;

  snprintf(path, cap, "%s/cr_test_input_XXXXXX", dir && dir[0] ? dir : "/tmp");
  fd = mkstemp(path);
  if(fd < 0)
    return -1;
  f = fdopen(fd, "wb");
  if(!f) {
    close(fd);
    return -1;
  }
  if(n && fwrite(data, 1, n, f) != n) {
    fclose(f);
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

struct want_line {
  const char *text;
  size_t len;
  int truncated;
};

/* Reads a file made of data and compares each line. */
static void check_reader(const char *name, const void *data, size_t n,
                         const struct want_line *want, size_t nwant)
{
  char path[4096];
  struct cr_input *in = NULL;
  size_t i;
  int ok = 1;

  if(write_temp(data, n, path, sizeof(path)) != 0) {
    tap_check(0, "write a temporary file", name, strlen(name), strerror(errno),
              "ok");
    return;
  }
  if(cr_input_open(path, &in) != 0 || !in) {
    tap_check(0, "open", name, strlen(name), strerror(errno), "ok");
    unlink(path);
    return;
  }
  for(i = 0; i <= nwant && ok; i++) {
    const char *line = NULL;
    size_t len = 0;
    unsigned long lineno = 0;
    int trunc = -1;
    int rc = cr_input_next(in, &line, &len, &lineno, &trunc);

    if(i == nwant) {
      ok = rc == 0;
      if(!ok)
        tap_check(0, name, line, len, "another line", "end of input");
      break;
    }
    ok = rc == 1 && lineno == i + 1 && len == want[i].len &&
         memcmp(line, want[i].text, len) == 0 && line[len] == '\0' &&
         !!trunc == want[i].truncated;
    if(!ok) {
      tap_note("line %zu: rc %d lineno %lu len %zu (want %zu) truncated %d", i + 1,
               rc, lineno, len, want[i].len, trunc);
      tap_check(0, name, line, len, "(above)", want[i].text);
    }
  }
  if(ok)
    tap_check(1, name, NULL, 0, NULL, NULL);
  cr_input_free(&in);
  tap_check(in == NULL, "free clears the pointer", name, strlen(name), NULL, NULL);
  unlink(path);
}

static void check_files(void)
{
  static const char mixed[] = "http://a/\r\nhttp://b/\n\n# c\n  x  \nlast";
  const struct want_line mixed_want[] = {
    { B("http://a/"), 0 }, { B("http://b/"), 0 }, { B(""), 0 },
    { B("# c"), 0 },       { B("  x  "), 0 },     { B("last"), 0 },
  };
  static const char nul[] = "a\0b\nc\0\n";
  const struct want_line nul_want[] = { { B("a\0b"), 0 }, { B("c\0"), 0 } };
  const struct want_line empty_line[] = { { B(""), 0 } };
  const struct want_line cr_end[] = { { B("abc"), 0 } };
  const struct want_line crlf_only[] = { { B(""), 0 }, { B(""), 0 } };
  const struct want_line inner_cr[] = { { B("a\rb"), 0 } };
  size_t big = 100 * 1024;
  char *buf = malloc(big + 64);
  char *xs = malloc(CR_INPUT_LINE_MAX + 1);
  size_t n;

  check_reader("lines, CRLF, blank, comment, no final newline", mixed,
               sizeof(mixed) - 1, mixed_want, 6);
  check_reader("NUL bytes are kept", nul, sizeof(nul) - 1, nul_want, 2);
  check_reader("empty file", "", 0, NULL, 0);
  check_reader("one empty line", "\n", 1, empty_line, 1);
  check_reader("final CR without newline", "abc\r", 4, cr_end, 1);
  check_reader("CRLF only", "\r\n\r\n", 4, crlf_only, 2);
  check_reader("CR inside a line is kept", "a\rb\n", 4, inner_cr, 1);

  if(!buf || !xs) {
    tap_check(0, "malloc", NULL, 0, NULL, NULL);
    free(buf);
    free(xs);
    return;
  }
  memset(xs, 'x', CR_INPUT_LINE_MAX + 1);

  /* A 100 KB line is cut to CR_INPUT_LINE_MAX; the next line is intact. */
  memset(buf, 'x', big);
  n = big;
  memcpy(buf + n, "\nhttp://next/\n", 14);
  n += 14;
  {
    const struct want_line w[] = {
      { xs, CR_INPUT_LINE_MAX, 1 }, { B("http://next/"), 0 },
    };
    check_reader("100 KB line is truncated, the next one reads", buf, n, w, 2);
  }

  /* The same without a final newline after the long line. */
  {
    const struct want_line w[] = { { xs, CR_INPUT_LINE_MAX, 1 } };
    check_reader("100 KB last line without newline", buf, big, w, 1);
  }

  /* Exactly at the cap, one over, and at the cap with CRLF. */
  memset(buf, 'x', CR_INPUT_LINE_MAX);
  buf[CR_INPUT_LINE_MAX] = '\n';
  {
    const struct want_line w[] = { { xs, CR_INPUT_LINE_MAX, 0 } };
    check_reader("line of exactly CR_INPUT_LINE_MAX bytes", buf,
                 CR_INPUT_LINE_MAX + 1, w, 1);
  }
  memset(buf, 'x', CR_INPUT_LINE_MAX + 1);
  buf[CR_INPUT_LINE_MAX + 1] = '\n';
  {
    const struct want_line w[] = { { xs, CR_INPUT_LINE_MAX, 1 } };
    check_reader("line of CR_INPUT_LINE_MAX + 1 bytes", buf,
                 CR_INPUT_LINE_MAX + 2, w, 1);
  }
  memset(buf, 'x', CR_INPUT_LINE_MAX);
  memcpy(buf + CR_INPUT_LINE_MAX, "\r\nend\n", 6);
  {
    const struct want_line w[] = { { xs, CR_INPUT_LINE_MAX, 0 }, { B("end"), 0 } };
    check_reader("CRLF line of exactly CR_INPUT_LINE_MAX bytes", buf,
                 CR_INPUT_LINE_MAX + 6, w, 2);
  }
  free(buf);
  free(xs);
}

static void check_open_errors(void)
{
  struct cr_input *in = (struct cr_input *)&in; /* must be reset to NULL */
  struct cr_input *none = NULL;
  int rc;

  errno = 0;
  rc = cr_input_open("/nonexistent/dir/urls.txt", &in);
  tap_check(rc == CR_EIO && errno == ENOENT && in == NULL,
            "a missing file is CR_EIO with errno ENOENT", NULL, 0,
            rc == CR_EIO ? "CR_EIO" : "other", "CR_EIO");
  cr_input_free(NULL);
  cr_input_free(&none);
  tap_check(none == NULL, "free accepts NULL", NULL, 0, NULL, NULL);
}

/* "-" reads standard input and leaves it open. */
static void check_stdin(void)
{
  char path[4096];
  struct cr_input *in = NULL;
  const char *line = NULL;
  size_t len = 0;
  unsigned long lineno = 0;
  int trunc = 0;
  int rc;

  if(write_temp("from stdin\n", 11, path, sizeof(path)) != 0 ||
     !freopen(path, "r", stdin)) {
    tap_check(0, "redirect stdin", NULL, 0, strerror(errno), "ok");
    return;
  }
  rc = cr_input_open("-", &in);
  if(rc == 0)
    rc = cr_input_next(in, &line, &len, &lineno, &trunc);
  tap_check(rc == 1 && len == 10 && memcmp(line, "from stdin", 10) == 0,
            "\"-\" reads standard input", NULL, 0, rc == 1 ? line : "(no line)",
            "from stdin");
  cr_input_free(&in);
  tap_check(fileno(stdin) >= 0 && fgetc(stdin) == EOF && !ferror(stdin),
            "standard input stays open", NULL, 0, NULL, NULL);
  unlink(path);
}

int main(void)
{
  size_t i;

  for(i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++)
    check_line(&line_cases[i]);
  check_files();
  check_open_errors();
  check_stdin();
  return tap_done();
}
