/* convert.c - link conversion after the crawl; see convert.h. */
#include "convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crawler.h"
#include "hash.h"
#include "links.h"
#include "pathmap.h"
#include "recrawl.h"
#include "rewrite.h"
#include "url.h"

#define CONV_CHUNK (64 * 1024)
#define CONV_TMP ".crawler-tmp"

/* A final URL (after redirects) and the file of the line it ended. */
struct conv_final {
  struct cr_hnode node;        /* key: the final URL */
  const char *path;            /* the entry's, borrowed */
  char url[];
};

/* A reference resolved against a base's directory: pages of one directory
 * repeat the same links (style sheets, the index, neighbours), and
 * resolving through libcurl's URL parser was a third of -k's time. */
struct conv_memo {
  struct cr_hnode node;        /* key: base directory, '\n', reference */
  char *url;                   /* the resolved URL; NULL: not a URL */
  char key[];
};

#define CONV_MEMO_MAX 200000   /* entries before the memo starts over */

struct conv {
  struct cr_recrawl *map;      /* url -> entry */
  struct cr_hmap memo;         /* struct conv_memo */
  struct cr_hmap finals;       /* final_url -> path */
  struct cr_hset paths;        /* hashes of every saved path */
  struct cr_hset done;         /* hashes of the paths converted */
  int dirfd;
  int tmpfd;                   /* the temporary file being written */
  /* the file being converted */
  const char *from;            /* its path */
  const char *page;            /* its URL */
  char *base;                  /* its <base href>, resolved, or NULL */
  int base_seen;
  struct cr_buf scratch;
};

static int conv_is_html(const char *ct)
{
  return ct && (!strncasecmp(ct, "text/html", 9) || !strncasecmp(ct, "application/xhtml+xml", 21));
}

static int conv_is_css(const char *ct)
{
  return ct && !strncasecmp(ct, "text/css", 8);
}

/* The file a URL was saved as, or NULL. */
static const char *conv_lookup(const struct conv *c, const char *url)
{
  const struct cr_prev *p = cr_recrawl_get(c->map, url);
  const struct conv_final *f;

  if(p)
    return p->path;
  f = (const struct conv_final *)cr_hmap_get(&c->finals, url);
  return f ? f->path : NULL;
}

static void memo_free(struct cr_hnode *n)
{
  struct conv_memo *m = (struct conv_memo *)n;

  free(m->url);
  free(m);
}

/* cr_url_resolve through the memo.  Only a reference that starts a path
 * (not "", "?...", "#...") depends on the base's directory alone.  Returns
 * 0 and a URL to free, or nonzero. */
static int conv_resolve(struct conv *c, const char *base, const char *ref, size_t n, char **url)
{
  const char *q = strpbrk(base, "?#");
  size_t dir = q ? (size_t)(q - base) : strlen(base);
  const char *hash = memchr(ref, '#', n);
  struct conv_memo *m;
  size_t klen;

  *url = NULL;
  /* The fragment is the caller's to keep; without it a page's many
   * "other.html#section" links are one entry. */
  if(hash)
    n = (size_t)(hash - ref);
  if(!n || ref[0] == '?' || memchr(ref, '\0', n) || memchr(ref, '\n', n))
    return cr_url_resolve(base, ref, hash ? n + 1 : n, url, NULL);
  while(dir && base[dir - 1] != '/')
    dir--;
  cr_buf_reset(&c->scratch);
  if(cr_buf_append(&c->scratch, base, dir) || cr_buf_putc(&c->scratch, '\n') ||
     cr_buf_append(&c->scratch, ref, n))
    return cr_url_resolve(base, ref, n, url, NULL);
  m = (struct conv_memo *)cr_hmap_get(&c->memo, c->scratch.data);
  if(!m) {
    if(c->memo.len >= CONV_MEMO_MAX) {
      cr_hmap_drain(&c->memo, memo_free);
      cr_hmap_init(&c->memo);
    }
    klen = c->scratch.len;
    m = calloc(1, sizeof(*m) + klen + 1);
    if(!m)
      return cr_url_resolve(base, ref, n, url, NULL);
    memcpy(m->key, c->scratch.data, klen + 1);
    m->node.key = m->key;
    if(cr_url_resolve(base, ref, n, &m->url, NULL))
      m->url = NULL;
    if(cr_hmap_put(&c->memo, &m->node)) {
      memo_free(&m->node);
      return cr_url_resolve(base, ref, n, url, NULL);
    }
  }
  if(!m->url)
    return -1;
  *url = strdup(m->url);
  return *url ? 0 : -1;
}

/* cr_rewrite_link_cb */
static int conv_link(void *arg, const char *ref, size_t n, int base, struct cr_buf *out)
{
  struct conv *c = arg;
  const char *hash = memchr(ref, '#', n);
  const char *path;
  char *url = NULL;
  int rc;

  if(base) {
    /* The first <base href> counts, as in browsers; it becomes the file
     * itself, so the converted links resolve against the file. */
    if(!c->base_seen && cr_url_resolve(c->page, ref, n, &c->base, NULL))
      c->base = NULL;
    c->base_seen = 1;
    return cr_pathmap_relref(c->from, c->from, out) == 0;
  }
  if(ref[0] == '#')
    return 0;  /* this document; its base, if any, is now the file */
  if(conv_resolve(c, c->base ? c->base : c->page, ref, n, &url))
    return 0;  /* not http(s), or not a URL: as it was */
  path = conv_lookup(c, url);
  if(path) {
    rc = cr_pathmap_relref(c->from, path, out);
  }
  else {
    /* Already a link to a saved file (converted by an earlier run)? */
    cr_buf_reset(&c->scratch);
    if(!c->base && !cr_pathmap_local(c->from, ref, n, &c->scratch) &&
       cr_hset_has(&c->paths, cr_hash64(c->scratch.data, c->scratch.len))) {
      free(url);
      return 0;
    }
    rc = cr_buf_puts(out, url);
  }
  free(url);
  if(!rc && hash)
    rc = cr_buf_append(out, hash, n - (size_t)(hash - ref));
  return rc == 0;
}

/* cr_rewrite_write_cb */
static int conv_write(void *arg, const char *p, size_t n)
{
  struct conv *c = arg;

  while(n) {
    ssize_t w = write(c->tmpfd, p, n);

    if(w < 0 && errno == EINTR)
      continue;
    if(w < 0)
      return errno == ENOSPC ? CR_ENOSPC : CR_EIO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Converts one file in place.  Returns 0 (converted or unchanged), or an
 * error (the file is as it was). */
static int conv_file(struct conv *c, const struct cr_prev *p, struct cr_convert_stats *st,
                     char *chunk)
{
  struct cr_rewrite *w = NULL;
  char tmp[64];
  struct stat sb;
  int fd = -1;
  int rc;

  c->from = p->path;
  c->page = p->final_url;
  free(c->base);
  c->base = NULL;
  c->base_seen = 0;
  c->tmpfd = -1;
  snprintf(tmp, sizeof(tmp), CONV_TMP "/convert.%ld", (long)getpid());
  fd = openat(c->dirfd, p->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if(fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
    rc = CR_EIO;
    goto done;
  }
  c->tmpfd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                    sb.st_mode & 0777);
  if(c->tmpfd < 0) {
    rc = CR_EIO;
    goto done;
  }
  rc = cr_rewrite_new(conv_is_css(p->content_type) ? CR_LINKS_CSS : CR_LINKS_HTML, conv_link,
                      conv_write, c, &w);
  st->files++;
  while(!rc) {
    ssize_t got = read(fd, chunk, CONV_CHUNK);

    if(got < 0 && errno == EINTR)
      continue;
    if(got < 0) {
      rc = CR_EIO;
      break;
    }
    if(got == 0)
      break;
    rc = cr_rewrite_feed(w, chunk, (size_t)got);
  }
  if(!rc)
    rc = cr_rewrite_end(w);
  if(!rc && cr_rewrite_count(w)) {
    /* The new file is whole before it replaces the old. */
    if(close(c->tmpfd) < 0)
      rc = CR_EIO;
    c->tmpfd = -1;
    if(!rc && renameat(c->dirfd, tmp, c->dirfd, p->path) < 0)
      rc = CR_EIO;
    if(!rc) {
      st->changed++;
      st->links += cr_rewrite_count(w);
    }
  }

done:
  cr_rewrite_free(&w);
  if(fd >= 0)
    close(fd);
  if(c->tmpfd >= 0)
    close(c->tmpfd);
  c->tmpfd = -1;
  unlinkat(c->dirfd, tmp, 0);  /* gone already when renamed */
  return rc;
}

static void final_free(struct cr_hnode *n)
{
  free(n);
}

/* Adds the final URLs that are not some line's url too, and the paths. */
static int conv_index(struct conv *c)
{
  size_t i;

  for(i = 0; i < c->map->map.nb; i++) {
    const struct cr_hnode *n;

    for(n = c->map->map.b[i]; n; n = n->next) {
      const struct cr_prev *p = (const struct cr_prev *)n;
      size_t len = strlen(p->final_url);
      struct conv_final *f;

      if(cr_hset_add(&c->paths, cr_hash64(p->path, strlen(p->path))) < 0)
        return CR_ENOMEM;
      if(cr_recrawl_get(c->map, p->final_url) || cr_hmap_get(&c->finals, p->final_url))
        continue;
      f = malloc(sizeof(*f) + len + 1);
      if(!f)
        return CR_ENOMEM;
      memcpy(f->url, p->final_url, len + 1);
      f->node.key = f->url;
      f->path = p->path;
      if(cr_hmap_put(&c->finals, &f->node)) {
        free(f);
        return CR_ENOMEM;
      }
    }
  }
  return 0;
}

int cr_convert_run(const char *dir, const char *manifest_path, int64_t start,
                   struct cr_convert_stats *st)
{
  struct conv c;
  char *chunk = NULL;
  size_t i;
  int rc;

  memset(st, 0, sizeof(*st));
  memset(&c, 0, sizeof(c));
  c.dirfd = -1;
  c.tmpfd = -1;
  cr_hmap_init(&c.finals);
  cr_hmap_init(&c.memo);
  cr_hset_init(&c.paths);
  cr_hset_init(&c.done);
  cr_buf_init(&c.scratch, CR_RELPATH_MAX + CR_LINK_MAX + 16);
  rc = cr_recrawl_load_from(manifest_path, start, &c.map);
  if(rc)
    goto done;
  rc = conv_index(&c);
  if(rc)
    goto done;
  chunk = malloc(CONV_CHUNK);
  if(!chunk) {
    rc = CR_ENOMEM;
    goto done;
  }
  c.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(c.dirfd < 0) {
    fprintf(stderr, "crawler: -k: cannot open %s: %s\n", dir, strerror(errno));
    rc = CR_EIO;
    goto done;
  }
  /* The store made it; a later run's store clears what a crash left. */
  if(mkdirat(c.dirfd, CONV_TMP, 0700) < 0 && errno != EEXIST) {
    fprintf(stderr, "crawler: -k: cannot create %s/%s: %s\n", dir, CONV_TMP, strerror(errno));
    rc = CR_EIO;
    goto done;
  }
  for(i = 0; i < c.map->map.nb; i++) {
    const struct cr_hnode *n;

    for(n = c.map->map.b[i]; n; n = n->next) {
      const struct cr_prev *p = (const struct cr_prev *)n;
      int frc;
      int added;

      if(!conv_is_html(p->content_type) && !conv_is_css(p->content_type))
        continue;
      /* Two URLs may name one file (a redirect and its target's line). */
      added = cr_hset_add(&c.done, cr_hash64(p->path, strlen(p->path)));
      if(added < 0) {
        rc = CR_ENOMEM;
        goto done;
      }
      if(!added)
        continue;
      frc = conv_file(&c, p, st, chunk);
      if(frc == CR_ENOMEM) {
        rc = frc;
        goto done;
      }
      if(frc) {
        st->failed++;
        fprintf(stderr, "crawler: -k: %s/%s left unconverted: %s\n", dir, p->path,
                cr_strerror(frc));
      }
    }
  }

done:
  if(c.dirfd >= 0)
    close(c.dirfd);
  free(chunk);
  free(c.base);
  cr_buf_cleanup(&c.scratch);
  cr_hset_cleanup(&c.paths);
  cr_hset_cleanup(&c.done);
  cr_hmap_drain(&c.finals, final_free);
  cr_hmap_drain(&c.memo, memo_free);
  cr_recrawl_free(&c.map);
  return rc;
}
