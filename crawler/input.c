/* input.c - reading URL lists; see input.h. */
#include "input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crawler.h"

struct cr_input {
  FILE *f;
  int own;                 /* we opened f and close it */
  unsigned long lineno;    /* lines returned so far */
  /* One line, its possible trailing '\r' (decided only when the newline
   * comes) and a NUL for callers who print it. */
  char line[CR_INPUT_LINE_MAX + 2];
};

static int input_is_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

static int input_is_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Case-insensitive: is s[0..n) "http" or "https"? */
static int input_is_http(const char *s, size_t n)
{
  static const char http[] = "https";
  size_t i;

  if(n != 4 && n != 5)
    return 0;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c >= 'A' && c <= 'Z')
      c = (unsigned char)(c - 'A' + 'a');
    if(c != (unsigned char)http[i])
      return 0;
  }
  return 1;
}

/*
 * Decides whether a URL's leading "name:" is a scheme we refuse.  "name://"
 * always names a scheme.  Without "//", "name:" followed by digits up to the
 * end, '/', '?' or '#' is a host and port ("example.com:8080/x",
 * "localhost:8080"), which cr_url_normalize reads as http; anything else
 * ("mailto:a@b", "javascript:x", "data:,x", "urn:isbn:1") is a scheme.
 * http and https in any spelling pass, and the normalizer judges the rest.
 */
static int input_bad_scheme(const char *s, size_t n)
{
  size_t i;
  size_t j;

  if(n == 0 || !input_is_alpha((unsigned char)s[0]))
    return 0;
  for(i = 1; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(!input_is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' &&
       c != '.')
      break;
  }
  if(i >= n || s[i] != ':')
    return 0; /* no scheme: "example.com/x" */
  if(input_is_http(s, i))
    return 0;
  if(n - i >= 3 && s[i + 1] == '/' && s[i + 2] == '/')
    return 1;
  for(j = i + 1; j < n; j++) {
    if(s[j] == '/' || s[j] == '?' || s[j] == '#')
      return 0;
    if(s[j] < '0' || s[j] > '9')
      return 1;
  }
  return 0;
}

enum cr_line_kind cr_input_line(const char *line, size_t len,
                                const char **start, size_t *ulen,
                                const char **reason)
{
  size_t a = 0;
  size_t z = len;
  size_t i;

  *start = NULL;
  *ulen = 0;
  *reason = NULL;
  while(a < z && input_is_space((unsigned char)line[a]))
    a++;
  while(z > a && input_is_space((unsigned char)line[z - 1]))
    z--;
  if(a == z || line[a] == '#')
    return CR_LINE_SKIP;

  /* The first offending byte names the reason. */
  for(i = a; i < z; i++) {
    unsigned char c = (unsigned char)line[i];
    if(c == ' ' || c == '\t') {
      *reason = "space in URL";
      return CR_LINE_BAD;
    }
    if(c < 0x20 || c == 0x7f) {
      *reason = "control character in URL";
      return CR_LINE_BAD;
    }
  }
  if(input_bad_scheme(line + a, z - a)) {
    *reason = "not http or https";
    return CR_LINE_BAD;
  }
  *start = line + a;
  *ulen = z - a;
  return CR_LINE_URL;
}

int cr_input_open(const char *path, struct cr_input **out)
{
  struct cr_input *in;

  *out = NULL;
  in = calloc(1, sizeof(*in));
  if(!in) {
    errno = ENOMEM;
    return CR_EIO;
  }
  if(strcmp(path, "-") == 0) {
    in->f = stdin;
    in->own = 0;
  }
  else {
    /* "e": close-on-exec, so a file opened here leaks into no child. */
    in->f = fopen(path, "re");
    if(!in->f) {
      int saved = errno;
      free(in);
      errno = saved;
      return CR_EIO;
    }
    in->own = 1;
  }
  *out = in;
  return 0;
}

int cr_input_next(struct cr_input *in, const char **line, size_t *len,
                  unsigned long *lineno, int *truncated)
{
  size_t kept = 0;       /* bytes stored in in->line */
  size_t total = 0;      /* bytes in the line, stored or not */
  int c;

  for(;;) {
    c = getc_unlocked(in->f);
    if(c == EOF || c == '\n')
      break;
    /* Keep one byte past the cap: it may be the '\r' of a CRLF line of
     * exactly CR_INPUT_LINE_MAX bytes. */
    if(kept < CR_INPUT_LINE_MAX + 1)
      in->line[kept++] = (char)c;
    total++;
  }
  if(c == EOF) {
    if(ferror(in->f))
      return CR_EIO;
    if(total == 0)
      return 0; /* nothing after the last newline */
  }
  if(total == kept && kept > 0 && in->line[kept - 1] == '\r') {
    kept--;
    total--;
  }
  if(kept > CR_INPUT_LINE_MAX)
    kept = CR_INPUT_LINE_MAX;
  in->line[kept] = '\0';
  in->lineno++;
  *line = in->line;
  *len = kept;
  *lineno = in->lineno;
  *truncated = total > CR_INPUT_LINE_MAX;
  return 1;
}

void cr_input_free(struct cr_input **in)
{
  if(!in || !*in)
    return;
  if((*in)->own)
    fclose((*in)->f);
  free(*in);
  *in = NULL;
}
