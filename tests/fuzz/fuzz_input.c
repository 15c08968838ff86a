/*
 * fuzz_input.c - the URL list reader (input.h) under fuzzing.
 *
 * The input is a whole list.  It is written to a memfd and read back with
 * cr_input_open/cr_input_next, and every line returned must be the line a
 * plain reference split gives (newline and one trailing '\r' removed, cut
 * at CR_INPUT_LINE_MAX with *truncated set, NULs kept).  Each line then goes
 * through cr_input_line, whose verdict must agree with input.h, and a URL
 * it accepts through cr_url_normalize, which may refuse it but not for its
 * scheme: both read "name:" the same way.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crawler.h"
#include "fuzz.h"
#include "input.h"
#include "url.h"

static int in_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

/* Checks cr_input_line's verdict on line[0..len). */
static void in_check_line(const char *line, size_t len)
{
  const char *start = NULL;
  const char *reason = NULL;
  size_t ulen = 0;
  enum cr_line_kind k;
  size_t i;

  k = cr_input_line(line, len, &start, &ulen, &reason);
  switch(k) {
  case CR_LINE_SKIP:
    i = 0;
    while(i < len && in_space((unsigned char)line[i]))
      i++;
    FUZZ_CHECK(i == len || line[i] == '#', "a line with a URL skipped");
    FUZZ_CHECK(start == NULL && ulen == 0, "skip with a URL");
    break;
  case CR_LINE_URL: {
    char *out = NULL;
    const char *why = NULL;
    int rc;

    FUZZ_CHECK(start >= line && ulen > 0 && start + ulen <= line + len,
               "URL outside its line");
    FUZZ_CHECK(!in_space((unsigned char)start[0]) &&
               !in_space((unsigned char)start[ulen - 1]), "URL not trimmed");
    FUZZ_CHECK(start[0] != '#', "comment taken for a URL");
    for(i = 0; i < ulen; i++) {
      unsigned char c = (unsigned char)start[i];
      FUZZ_CHECK(c > 0x20 && c != 0x7f, "byte 0x%02x in a URL", c);
    }
    for(i = 0; line + i < start; i++)
      FUZZ_CHECK(in_space((unsigned char)line[i]), "text before the URL");
    rc = cr_url_normalize(start, ulen, &out, &why);
    if(rc == CR_ESCHEME) {
      fuzz_print(start, ulen);
    }
    FUZZ_CHECK(rc != CR_ESCHEME,
               "cr_input_line takes a URL that cr_url_normalize refuses "
               "for its scheme (%s)", why);
    free(out);
    break;
  }
  case CR_LINE_BAD:
    FUZZ_CHECK(reason && (strcmp(reason, "control character in URL") == 0 ||
                          strcmp(reason, "space in URL") == 0 ||
                          strcmp(reason, "not http or https") == 0),
               "undocumented reason %s", reason ? reason : "NULL");
    FUZZ_CHECK(start == NULL && ulen == 0, "bad line with a URL");
    break;
  default:
    FUZZ_CHECK(0, "cr_input_line returns %d", (int)k);
  }
}

/* Reads data back through cr_input_next and compares with a plain split. */
static void in_check_reader(const uint8_t *data, size_t size)
{
  struct cr_input *in = NULL;
  char path[64];
  unsigned long want_no = 0;
  size_t pos = 0;
  int fd;
  int rc;

  fd = memfd_create("fuzz_input", MFD_CLOEXEC);
  if(fd < 0)
    return;  /* no memfd: only the line check runs */
  if(size && write(fd, data, size) != (ssize_t)size) {
    close(fd);
    return;
  }
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  rc = cr_input_open(path, &in);
  FUZZ_CHECK(rc == 0, "cannot open %s", path);

  for(;;) {
    const char *line;
    size_t len;
    unsigned long no;
    int trunc;
    const char *nl;
    size_t raw;
    size_t want;

    rc = cr_input_next(in, &line, &len, &no, &trunc);
    if(pos >= size) {
      FUZZ_CHECK(rc == 0, "a line after the end (%d)", rc);
      break;
    }
    FUZZ_CHECK(rc == 1, "cr_input_next returns %d with %zu bytes left", rc,
               size - pos);
    nl = memchr(data + pos, '\n', size - pos);
    raw = nl ? (size_t)(nl - (const char *)data) - pos : size - pos;
    /* A trailing '\r' goes, unless the line was cut before it. */
    want = raw;
    if(want > 0 && want <= CR_INPUT_LINE_MAX + 1 && data[pos + want - 1] == '\r')
      want--;
    want_no++;
    FUZZ_CHECK(no == want_no, "line %lu numbered %lu", want_no, no);
    FUZZ_CHECK(!trunc == !(want > CR_INPUT_LINE_MAX),
               "line %lu of %zu bytes: truncated=%d", no, want, trunc);
    if(want > CR_INPUT_LINE_MAX)
      want = CR_INPUT_LINE_MAX;
    FUZZ_CHECK(len == want && memcmp(line, data + pos, len) == 0,
               "line %lu: %zu bytes, want %zu", no, len, want);
    FUZZ_CHECK(line[len] == '\0', "no NUL after line %lu", no);
    in_check_line(line, len);
    pos += raw + 1;
  }
  cr_input_free(&in);
  FUZZ_CHECK(in == NULL, "cr_input_free leaves the pointer");
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* The whole input as one line, newlines and all. */
  in_check_line((const char *)data, size);
  in_check_reader(data, size);
  return 0;
}
