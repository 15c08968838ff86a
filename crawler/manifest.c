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
  char *crawl;         /* cr_manifest_set_crawl */
};

int cr_manifest_set_crawl(struct cr_manifest *m, const char *id)
{
  char *c = id ? strdup(id) : NULL;

  if(id && !c)
    return CR_ENOMEM;
  free(m->crawl);
  m->crawl = c;
  return 0;
}

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
    rc = put_str(b, "skipped", r->skipped);
  if(!rc)
    rc = put_str(b, "etag", r->etag);
  if(!rc)
    rc = put_str(b, "last_modified", r->last_modified);
  if(!rc)
    rc = put_str(b, "change", r->change);
  if(!rc)
    rc = put_str(b, "crawl", m->crawl);
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

/* Writes all of p[0..n) to fd. */
static int write_all(int fd, const char *p, size_t n)
{
  while(n) {
    ssize_t w = write(fd, p, n);

    if(w < 0) {
      if(errno == EINTR)
        continue;
      return errno == ENOSPC || errno == EDQUOT ? CR_ENOSPC : CR_EIO;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Writes line (newline included) to fd, with its depth and referrer
 * replaced when fix knows its URL. */
static int fix_line(int fd, const char *line, size_t n, struct cr_buf *b,
                    cr_manifest_fix_cb fix, void *arg)
{
  static const char url_key[] = "{\"url\":\"";
  static const char depth_key[] = ",\"depth\":";
  static const char error_key[] = ",\"error\":";
  const char *u;
  const char *ue;
  const char *d;
  const char *er;
  const char *referrer = NULL;
  unsigned depth = 0;
  int rc;

  if(n < sizeof(url_key) || memcmp(line, url_key, sizeof(url_key) - 1))
    return write_all(fd, line, n);
  u = line + sizeof(url_key) - 1;
  ue = memchr(u, '"', n - (size_t)(u - line));
  /* Inside a JSON string every '"' is escaped, so the keys below occur
   * once each, outside the values. */
  d = ue ? memmem(ue, n - (size_t)(ue - line), depth_key, sizeof(depth_key) - 1) : NULL;
  er = d ? memmem(d, n - (size_t)(d - line), error_key, sizeof(error_key) - 1) : NULL;
  if(!er || !fix(arg, u, (size_t)(ue - u), &depth, &referrer))
    return write_all(fd, line, n);
  cr_buf_reset(b);
  rc = cr_buf_append(b, line, (size_t)(d - line));
  if(!rc)
    rc = cr_json_key(b, "depth", 0);
  if(!rc)
    rc = cr_json_int(b, depth);
  if(!rc)
    rc = put_str(b, "referrer", referrer);
  if(!rc)
    rc = cr_buf_append(b, er, n - (size_t)(er - line));
  if(rc)
    return write_all(fd, line, n);
  return write_all(fd, b->data, b->len);
}

/* Copies fd from its offset to its end into out, fixing each line. */
static int fix_copy(int in, int out, cr_manifest_fix_cb fix, void *arg)
{
  struct cr_buf acc;
  struct cr_buf b;
  char chunk[65536];
  int rc = 0;

  cr_buf_init(&acc, MANIFEST_LINE_MAX + sizeof(chunk));
  cr_buf_init(&b, MANIFEST_LINE_MAX + 4096);
  for(;;) {
    ssize_t r = read(in, chunk, sizeof(chunk));
    size_t pos = 0;

    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0) {
      rc = CR_EIO;
      break;
    }
    if(r == 0) {
      /* A last line without its newline is copied as it is. */
      if(acc.len)
        rc = write_all(out, acc.data, acc.len);
      break;
    }
    rc = cr_buf_append(&acc, chunk, (size_t)r);
    if(rc)
      break;
    for(;;) {
      char *nl = memchr(acc.data + pos, '\n', acc.len - pos);

      if(!nl)
        break;
      rc = fix_line(out, acc.data + pos, (size_t)(nl - acc.data - pos) + 1, &b, fix, arg);
      if(rc)
        goto done;
      pos = (size_t)(nl - acc.data) + 1;
    }
    memmove(acc.data, acc.data + pos, acc.len - pos);
    acc.len -= pos;
    /* A line longer than any the crawler writes: not ours, leave it. */
    if(acc.len > MANIFEST_LINE_MAX) {
      rc = write_all(out, acc.data, acc.len);
      acc.len = 0;
      if(rc)
        break;
    }
  }

done:
  cr_buf_cleanup(&acc);
  cr_buf_cleanup(&b);
  return rc;
}

int cr_manifest_fix(struct cr_manifest *m, const char *path, int64_t start,
                    cr_manifest_fix_cb fix, void *arg)
{
  struct stat sb;
  struct cr_buf dir;
  const char *slash = strrchr(path, '/');
  int tmp = -1;
  int in = -1;
  int rc;

  rc = cr_manifest_flush(m);
  if(rc)
    return rc;
  if(!m->own_fd || fstat(m->fd, &sb) < 0 || !S_ISREG(sb.st_mode) || start < 0 ||
     start > (int64_t)sb.st_size)
    return 0;
  cr_buf_init(&dir, 8192);
  rc = slash ? cr_buf_append(&dir, path, slash == path ? 1 : (size_t)(slash - path))
             : cr_buf_puts(&dir, ".");
  if(rc)
    goto done;
  rc = CR_EIO;
  tmp = open(dir.data, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  in = open(path, O_RDONLY | O_CLOEXEC);
  if(tmp < 0 || in < 0 || lseek(in, (off_t)start, SEEK_SET) < 0)
    goto done;
  rc = fix_copy(in, tmp, fix, arg);
  if(rc)
    goto done;
  /* The same file keeps its name, owner and links: cut it back and copy
   * the fixed tail in (O_APPEND writes land at the new end). */
  rc = CR_EIO;
  if(lseek(tmp, 0, SEEK_SET) < 0 || ftruncate(m->fd, (off_t)start) < 0)
    goto done;
  for(;;) {
    char chunk[65536];
    ssize_t r = read(tmp, chunk, sizeof(chunk));

    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0)
      goto done;
    if(r == 0)
      break;
    rc = write_all(m->fd, chunk, (size_t)r);
    if(rc)
      goto done;
  }
  rc = 0;

done:
  if(rc)
    fprintf(stderr, "crawler: cannot correct the depths in the manifest %s: %s\n", path,
            cr_strerror(rc));
  if(tmp >= 0)
    close(tmp);
  if(in >= 0)
    close(in);
  cr_buf_cleanup(&dir);
  return rc;
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
  free(m->crawl);
  free(m);
  *pm = NULL;
}
