/*
 * manifest.c - JSON lines; see manifest.h.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crawler.h"
#include "json.h"

#define MANIFEST_LINE_MAX (64 * 1024 + 4 * 8192)
#define MANIFEST_FLUSH_AT (64 * 1024)
/* Lines held back while their journal records are on their way (see
 * cr_manifest_hold): as much as the journal may hold waiting. */
#define MANIFEST_HELD_MAX (32 * 1024 * 1024)

struct cr_manifest {
  int fd;
  int own_fd;
  struct cr_buf out;   /* lines not yet written */
  struct cr_buf line;  /* scratch for one line */
  int hold;            /* no flush but the caller's (cr_manifest_hold) */
};

int cr_manifest_open(const char *path, struct cr_manifest **out)
{
  struct cr_manifest *m;

  *out = NULL;
  m = calloc(1, sizeof(*m));
  if(!m)
    return CR_ENOMEM;
  if(!strcmp(path, "-")) {
    m->fd = STDOUT_FILENO;
  }
  else {
    m->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if(m->fd < 0) {
      fprintf(stderr, "crawler: cannot open manifest %s: %s\n", path, strerror(errno));
      free(m);
      return CR_EIO;
    }
    m->own_fd = 1;
  }
  cr_buf_init(&m->out, MANIFEST_FLUSH_AT + MANIFEST_LINE_MAX);
  cr_buf_init(&m->line, MANIFEST_LINE_MAX);
  *out = m;
  return 0;
}

void cr_manifest_hold(struct cr_manifest *m)
{
  m->hold = 1;
  m->out.max = MANIFEST_HELD_MAX + MANIFEST_LINE_MAX;
}

size_t cr_manifest_pending(const struct cr_manifest *m)
{
  return m->out.len;
}

int cr_manifest_flush_part(struct cr_manifest *m, size_t n)
{
  size_t off = 0;

  if(n > m->out.len)
    n = m->out.len;
  while(off < n) {
    ssize_t w = write(m->fd, m->out.data + off, n - off);

    if(w < 0) {
      if(errno == EINTR)
        continue;
      return errno == ENOSPC || errno == EDQUOT ? CR_ENOSPC : CR_EIO;
    }
    off += (size_t)w;
  }
  if(!n)
    return 0;
  memmove(m->out.data, m->out.data + n, m->out.len - n);
  m->out.len -= n;
  m->out.data[m->out.len] = '\0';
  return 0;
}

int cr_manifest_flush(struct cr_manifest *m)
{
  return cr_manifest_flush_part(m, m->out.len);
}

static int put_str(struct cr_buf *b, const char *key, const char *v)
{
  int rc = cr_json_key(b, key, 0);

  return rc ? rc : cr_json_str_or_null(b, v);
}

static int put_int(struct cr_buf *b, const char *key, int64_t v)
{
  int rc = cr_json_key(b, key, 0);

  return rc ? rc : cr_json_int(b, v);
}

int cr_manifest_write(struct cr_manifest *m, const struct cr_record *r)
{
  struct cr_buf *b = &m->line;
  int rc;

  cr_buf_reset(b);
  rc = cr_buf_putc(b, '{');
  if(!rc)
    rc = cr_json_key(b, "url", 1);
  if(!rc)
    rc = r->url_len ? cr_json_str(b, r->url, r->url_len) : cr_json_str_or_null(b, r->url);
  if(!rc)
    rc = put_str(b, "final_url", r->final_url);
  if(!rc)
    rc = put_int(b, "status", r->status);
  if(!rc)
    rc = put_str(b, "path", r->path);
  if(!rc)
    rc = put_int(b, "bytes", r->bytes);
  if(!rc)
    rc = put_str(b, "content_type", r->content_type);
  if(!rc)
    rc = cr_json_key(b, "seconds", 0);
  if(!rc)
    rc = cr_json_double(b, r->seconds);
  if(!rc)
    rc = put_int(b, "attempts", r->attempts);
  if(!rc)
    rc = put_int(b, "redirects", r->redirects);
  if(!rc)
    rc = put_int(b, "depth", r->depth);
  if(!rc)
    rc = put_str(b, "referrer", r->referrer);
  if(!rc)
    rc = put_str(b, "error", r->error);
  if(!rc)
    rc = cr_buf_puts(b, "}\n");
  if(rc)
    return rc;
  return cr_manifest_write_raw(m, b->data, b->len);
}

int cr_manifest_write_raw(struct cr_manifest *m, const char *p, size_t n)
{
  int rc = cr_buf_append(&m->out, p, n);

  if(m->hold)
    return rc;
  if(rc == CR_EFULL) {
    rc = cr_manifest_flush(m);
    if(!rc)
      rc = cr_buf_append(&m->out, p, n);
  }
  if(!rc && m->out.len >= MANIFEST_FLUSH_AT)
    rc = cr_manifest_flush(m);
  return rc;
}

void cr_manifest_last(const struct cr_manifest *m, const char **p, size_t *n)
{
  *p = m->line.data;
  *n = m->line.len;
}

int64_t cr_manifest_size(struct cr_manifest *m)
{
  struct stat sb;

  /* Standard output is a stream even when the shell points it at a file:
   * a resume must not cut what it did not open. */
  if(!m->own_fd || cr_manifest_flush(m) || fstat(m->fd, &sb) < 0 || !S_ISREG(sb.st_mode))
    return -1;
  return (int64_t)sb.st_size;
}

int cr_manifest_truncate(struct cr_manifest *m, int64_t size)
{
  struct stat sb;

  cr_buf_reset(&m->out);
  if(fstat(m->fd, &sb) < 0)
    return CR_EIO;
  if(!m->own_fd || !S_ISREG(sb.st_mode))
    return 0;
  /* Never grow it: a manifest shortened by hand keeps what it has. */
  if(size < 0 || size > (int64_t)sb.st_size)
    size = (int64_t)sb.st_size;
  /* O_APPEND: later writes land at the new end. */
  if(ftruncate(m->fd, (off_t)size) < 0) {
    fprintf(stderr, "crawler: cannot cut the manifest back: %s\n", strerror(errno));
    return CR_EIO;
  }
  return 0;
}

void cr_manifest_free(struct cr_manifest **pm)
{
  struct cr_manifest *m;

  if(!pm || !*pm)
    return;
  m = *pm;
  cr_manifest_flush(m);
  if(m->own_fd)
    close(m->fd);
  cr_buf_cleanup(&m->out);
  cr_buf_cleanup(&m->line);
  free(m);
  *pm = NULL;
}
