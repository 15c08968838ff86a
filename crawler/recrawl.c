/* recrawl.c - an earlier crawl's manifest, read for -N; see recrawl.h. */
#include "recrawl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "crawler.h"
#include "json.h"

#define LINE_MAX_BYTES (4u << 20)  /* longer lines are not ours */
#define READ_CHUNK (256u << 10)

/* The fields of one line that matter here. */
struct line {
  struct cr_buf url;
  struct cr_buf final_url;
  struct cr_buf path;
  struct cr_buf ctype;
  struct cr_buf etag;
  struct cr_buf lastmod;
  int has_url;
  int has_path;
  int has_ctype;
  int has_etag;
  int has_lastmod;
  int failed;                 /* error is not null */
  long status;
  int64_t bytes;
};

static int put_field(struct cr_buf *b, int *has, enum cr_json_type type, const char *val,
                     size_t vlen)
{
  cr_buf_reset(b);
  *has = type == CR_JSON_STRING;
  if(!*has)
    return 0;
  return cr_buf_append(b, val, vlen) == CR_ENOMEM ? CR_ENOMEM : 0;
}

static int on_member(void *arg, const char *key, enum cr_json_type type, const char *val,
                     size_t vlen)
{
  struct line *l = arg;
  int dummy;

  if(!strcmp(key, "url"))
    return put_field(&l->url, &l->has_url, type, val, vlen);
  if(!strcmp(key, "final_url"))
    return put_field(&l->final_url, &dummy, type, val, vlen);
  if(!strcmp(key, "path"))
    return put_field(&l->path, &l->has_path, type, val, vlen);
  if(!strcmp(key, "content_type"))
    return put_field(&l->ctype, &l->has_ctype, type, val, vlen);
  if(!strcmp(key, "etag"))
    return put_field(&l->etag, &l->has_etag, type, val, vlen);
  if(!strcmp(key, "last_modified"))
    return put_field(&l->lastmod, &l->has_lastmod, type, val, vlen);
  if(!strcmp(key, "error"))
    l->failed = type != CR_JSON_NULL;
  else if(!strcmp(key, "status") && type == CR_JSON_NUMBER)
    l->status = strtol(val, NULL, 10);
  else if(!strcmp(key, "bytes") && type == CR_JSON_NUMBER)
    l->bytes = strtoll(val, NULL, 10);
  return 0;
}

static void prev_free(struct cr_hnode *n)
{
  struct cr_prev *p = (struct cr_prev *)n;

  free(p->final_url);
  free(p->path);
  free(p->content_type);
  free(p->etag);
  free(p->last_modified);
  free(p);
}

static char *dup_or_null(const struct cr_buf *b, int has)
{
  return has ? strdup(b->data ? b->data : "") : NULL;
}

/* The line's fields become the URL's entry, replacing an older one. */
static int take_line(struct cr_recrawl *r, const struct line *l)
{
  struct cr_prev *old = (struct cr_prev *)cr_hmap_get(&r->map, l->url.data);
  size_t n = l->url.len;
  struct cr_prev *p = calloc(1, sizeof(*p) + n + 1);

  if(!p)
    return CR_ENOMEM;
  memcpy(p->url, l->url.data, n);
  p->node.key = p->url;
  p->final_url = strdup(l->final_url.len ? l->final_url.data : l->url.data);
  p->path = strdup(l->path.data);
  p->content_type = dup_or_null(&l->ctype, l->has_ctype);
  p->etag = dup_or_null(&l->etag, l->has_etag && l->etag.len);
  p->last_modified = dup_or_null(&l->lastmod, l->has_lastmod && l->lastmod.len);
  p->bytes = l->bytes;
  if(!p->final_url || !p->path || (l->has_ctype && !p->content_type) ||
     (l->has_etag && l->etag.len && !p->etag) ||
     (l->has_lastmod && l->lastmod.len && !p->last_modified)) {
    prev_free(&p->node);
    return CR_ENOMEM;
  }
  if(old) {
    cr_hmap_del(&r->map, &old->node);
    prev_free(&old->node);
  }
  if(cr_hmap_put(&r->map, &p->node)) {
    prev_free(&p->node);
    return CR_ENOMEM;
  }
  return 0;
}

static void line_init(struct line *l)
{
  memset(l, 0, sizeof(*l));
  cr_buf_init(&l->url, LINE_MAX_BYTES);
  cr_buf_init(&l->final_url, LINE_MAX_BYTES);
  cr_buf_init(&l->path, LINE_MAX_BYTES);
  cr_buf_init(&l->ctype, LINE_MAX_BYTES);
  cr_buf_init(&l->etag, LINE_MAX_BYTES);
  cr_buf_init(&l->lastmod, LINE_MAX_BYTES);
}

static void line_cleanup(struct line *l)
{
  cr_buf_cleanup(&l->url);
  cr_buf_cleanup(&l->final_url);
  cr_buf_cleanup(&l->path);
  cr_buf_cleanup(&l->ctype);
  cr_buf_cleanup(&l->etag);
  cr_buf_cleanup(&l->lastmod);
}

static int one_line(struct cr_recrawl *r, struct line *l, const char *p, size_t n)
{
  int rc;

  r->lines++;
  cr_buf_reset(&l->url);
  cr_buf_reset(&l->final_url);
  cr_buf_reset(&l->path);
  cr_buf_reset(&l->ctype);
  cr_buf_reset(&l->etag);
  cr_buf_reset(&l->lastmod);
  l->has_url = l->has_path = l->has_ctype = l->has_etag = l->has_lastmod = 0;
  l->failed = 1;
  l->status = 0;
  l->bytes = -1;
  rc = cr_json_walk(p, n, LINE_MAX_BYTES, on_member, l);
  if(rc == CR_ENOMEM)
    return rc;
  if(rc || !l->has_url || !l->url.len || l->bytes < 0) {
    r->skipped++;
    return 0;
  }
  /* Only a line that left a file says what the directory holds. */
  if(l->failed || !l->has_path || !l->path.len ||
     !((l->status >= 200 && l->status < 300) || l->status == 304))
    return 0;
  return take_line(r, l);
}

int cr_recrawl_load(const char *path, struct cr_recrawl **out)
{
  return cr_recrawl_load_from(path, 0, out);
}

int cr_recrawl_load_from(const char *path, int64_t start_at, struct cr_recrawl **out)
{
  struct cr_recrawl *r = calloc(1, sizeof(*r));
  struct cr_buf acc;
  struct line l;
  char *chunk = NULL;
  int fd = -1;
  int rc = 0;

  *out = NULL;
  if(!r)
    return CR_ENOMEM;
  cr_hmap_init(&r->map);
  cr_buf_init(&acc, LINE_MAX_BYTES + READ_CHUNK);
  line_init(&l);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0) {
    if(errno == ENOENT)
      goto done;
    fprintf(stderr, "crawler: -N: cannot read %s: %s\n", path, strerror(errno));
    rc = CR_EIO;
    goto done;
  }
  if(start_at > 0 && lseek(fd, (off_t)start_at, SEEK_SET) < 0) {
    fprintf(stderr, "crawler: cannot read %s: %s\n", path, strerror(errno));
    rc = CR_EIO;
    goto done;
  }
  chunk = malloc(READ_CHUNK);
  if(!chunk) {
    rc = CR_ENOMEM;
    goto done;
  }
  for(;;) {
    ssize_t got = read(fd, chunk, READ_CHUNK);
    size_t start = 0;
    size_t i;

    if(got < 0 && errno == EINTR)
      continue;
    if(got < 0) {
      fprintf(stderr, "crawler: -N: cannot read %s: %s\n", path, strerror(errno));
      rc = CR_EIO;
      goto done;
    }
    if(got == 0)
      break;
    for(i = 0; i < (size_t)got; i++) {
      if(chunk[i] != '\n')
        continue;
      if(acc.len) {
        rc = cr_buf_append(&acc, chunk + start, i - start);
        if(!rc)
          rc = one_line(r, &l, acc.data, acc.len);
        cr_buf_reset(&acc);
      }
      else
        rc = one_line(r, &l, chunk + start, i - start);
      if(rc == CR_EFULL) {
        r->skipped++;
        rc = 0;
      }
      if(rc)
        goto done;
      start = i + 1;
    }
    if(start < (size_t)got && cr_buf_append(&acc, chunk + start, (size_t)got - start)) {
      /* A line longer than any of ours: drop what came so far. */
      cr_buf_reset(&acc);
    }
  }
  /* A last line without its newline was cut by a crash: not trusted. */
  if(acc.len) {
    r->lines++;
    r->skipped++;
  }

done:
  if(fd >= 0)
    close(fd);
  free(chunk);
  line_cleanup(&l);
  cr_buf_cleanup(&acc);
  if(rc)
    cr_recrawl_free(&r);
  *out = r;
  return rc;
}

struct cr_prev *cr_recrawl_get(const struct cr_recrawl *r, const char *url)
{
  return r ? (struct cr_prev *)cr_hmap_get(&r->map, url) : NULL;
}

void cr_recrawl_filter(struct cr_recrawl *r, int (*keep)(void *arg, const struct cr_prev *p),
                       void *arg)
{
  size_t i;

  for(i = 0; i < r->map.nb; i++) {
    struct cr_hnode *n = r->map.b[i];

    while(n) {
      struct cr_hnode *next = n->next;

      if(!keep(arg, (struct cr_prev *)n)) {
        cr_hmap_del(&r->map, n);
        prev_free(n);
      }
      n = next;
    }
  }
}

uint64_t cr_recrawl_unseen(const struct cr_recrawl *r)
{
  uint64_t k = 0;
  size_t i;

  if(!r)
    return 0;
  for(i = 0; i < r->map.nb; i++) {
    const struct cr_hnode *n;

    for(n = r->map.b[i]; n; n = n->next)
      k += !((const struct cr_prev *)n)->seen;
  }
  return k;
}

void cr_recrawl_free(struct cr_recrawl **pr)
{
  if(!pr || !*pr)
    return;
  cr_hmap_drain(&(*pr)->map, prev_free);
  free(*pr);
  *pr = NULL;
}
