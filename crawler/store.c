/*
 * store.c - temporary files, safe directories, rename into place; see
 * store.h.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crawler.h"
#include "hash.h"
#include "pathmap.h"

#define TMP_DIR ".crawler-tmp"

struct cr_store {
  int dirfd;
  int tmpfd;
  unsigned long next_id;
  struct cr_hset written;   /* hashes of paths committed in this run */
  struct cr_hset dirs;      /* hashes of directories known to be ours */
};

static int errno_to_cr(int err)
{
  if(err == ENOSPC || err == EDQUOT)
    return CR_ENOSPC;
  if(err == ENOMEM)
    return CR_ENOMEM;
  if(err == EMFILE || err == ENFILE)
    return CR_EMFILE;
  return CR_EIO;
}

/* Creates every component of path (absolute or relative to the cwd). */
static int mkdir_parents(const char *path)
{
  char buf[4096];
  size_t len = strlen(path);
  size_t i;

  if(len >= sizeof(buf))
    return -1;
  memcpy(buf, path, len + 1);
  for(i = 1; i <= len; i++) {
    if(buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];

      buf[i] = '\0';
      if(mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -1;
      buf[i] = c;
    }
  }
  return 0;
}

static void clean_tmp(int tmpfd)
{
  int fd = dup(tmpfd);
  DIR *d;
  struct dirent *de;

  if(fd < 0)
    return;
  d = fdopendir(fd);
  if(!d) {
    close(fd);
    return;
  }
  while((de = readdir(d)) != NULL) {
    if(de->d_name[0] != '.')
      unlinkat(tmpfd, de->d_name, 0);
  }
  closedir(d);
}

int cr_store_new(const char *dir, struct cr_store **out)
{
  struct cr_store *st;

  *out = NULL;
  st = calloc(1, sizeof(*st));
  if(!st)
    return CR_ENOMEM;
  st->dirfd = -1;
  st->tmpfd = -1;
  cr_hset_init(&st->written);
  cr_hset_init(&st->dirs);
  if(mkdir_parents(dir) < 0) {
    fprintf(stderr, "crawler: cannot create %s: %s\n", dir, strerror(errno));
    goto fail;
  }
  st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(st->dirfd < 0) {
    fprintf(stderr, "crawler: cannot open %s: %s\n", dir, strerror(errno));
    goto fail;
  }
  if(mkdirat(st->dirfd, TMP_DIR, 0700) < 0 && errno != EEXIST) {
    fprintf(stderr, "crawler: cannot create %s/%s: %s\n", dir, TMP_DIR, strerror(errno));
    goto fail;
  }
  st->tmpfd = openat(st->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(st->tmpfd < 0) {
    fprintf(stderr, "crawler: cannot open %s/%s: %s\n", dir, TMP_DIR, strerror(errno));
    goto fail;
  }
  /* Probe that the directory is writable now, not after the first page. */
  if(faccessat(st->tmpfd, ".", W_OK, AT_EACCESS) < 0) {
    fprintf(stderr, "crawler: cannot write to %s: %s\n", dir, strerror(errno));
    goto fail;
  }
  clean_tmp(st->tmpfd);
  *out = st;
  return 0;

fail:
  cr_store_free(&st);
  return CR_EIO;
}

void cr_store_free(struct cr_store **pst)
{
  struct cr_store *st;

  if(!pst || !*pst)
    return;
  st = *pst;
  if(st->tmpfd >= 0)
    close(st->tmpfd);
  if(st->dirfd >= 0) {
    unlinkat(st->dirfd, TMP_DIR, AT_REMOVEDIR); /* fails if not empty: fine */
    close(st->dirfd);
  }
  cr_hset_cleanup(&st->written);
  cr_hset_cleanup(&st->dirs);
  free(st);
  *pst = NULL;
}

void cr_file_init(struct cr_file *f)
{
  f->fd = -1;
  f->id = 0;
}

static void tmp_name(const struct cr_file *f, char *buf, size_t n)
{
  snprintf(buf, n, "%lu", f->id);
}

int cr_store_open(struct cr_store *st, struct cr_file *f)
{
  char name[32];

  f->id = ++st->next_id;
  tmp_name(f, name, sizeof(name));
  f->fd = openat(st->tmpfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if(f->fd < 0)
    return errno_to_cr(errno);
  return 0;
}

int cr_store_write(struct cr_store *st, struct cr_file *f, const void *p, size_t n)
{
  const char *c = p;

  while(n) {
    ssize_t w = write(f->fd, c, n);

    if(w < 0) {
      if(errno == EINTR)
        continue;
      return errno_to_cr(errno);
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

void cr_store_discard(struct cr_store *st, struct cr_file *f)
{
  char name[32];

  if(f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  if(!f->id)
    return;
  tmp_name(f, name, sizeof(name));
  unlinkat(st->tmpfd, name, 0);
  f->id = 0;
}

/* Makes sure every directory of path (all but the last component) exists
 * and is a real directory we may write into, renaming components that clash
 * with a file or symlink to "NAME%~d".  path is edited in place and may grow;
 * it is a cr_buf so that growth is bounded. */
static int make_dirs(struct cr_store *st, struct cr_buf *path)
{
  size_t start = 0;

  for(;;) {
    char *slash = memchr(path->data + start, '/', path->len - start);
    size_t end;
    struct stat sb;

    if(!slash)
      return 0;
    end = (size_t)(slash - path->data);
    *slash = '\0';
    if(cr_hset_has(&st->dirs, cr_hash64(path->data, end))) {
      *slash = '/';
      start = end + 1;
      continue;
    }
    if(mkdirat(st->dirfd, path->data, 0755) < 0) {
      if(errno != EEXIST) {
        int err = errno;

        *slash = '/';
        return errno_to_cr(err);
      }
      if(fstatat(st->dirfd, path->data, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        int err = errno;

        *slash = '/';
        return errno_to_cr(err);
      }
      if(!S_ISDIR(sb.st_mode)) {
        /* A file (or a symlink) holds this name: the directory goes beside
         * it under a name no URL maps to.  Insert "%~d" before the slash. */
        struct cr_buf tail;
        int rc;

        *slash = '/';
        cr_buf_init(&tail, path->max);
        rc = cr_buf_append(&tail, path->data + end, path->len - end);
        if(!rc) {
          path->len = end;
          rc = cr_buf_puts(path, "%~d");
        }
        if(!rc)
          rc = cr_buf_append(path, tail.data, tail.len);
        cr_buf_cleanup(&tail);
        if(rc)
          return rc;
        /* Re-examine the renamed component from the same start. */
        continue;
      }
    }
    if(cr_hset_add(&st->dirs, cr_hash64(path->data, end)) < 0) {
      *slash = '/';
      return CR_ENOMEM;
    }
    *slash = '/';
    start = end + 1;
  }
}

int cr_store_commit(struct cr_store *st, struct cr_file *f, const char *relpath,
                    struct cr_buf *out)
{
  struct cr_buf path;
  char name[32];
  size_t base_len;
  unsigned n = 1;
  int rc;

  cr_buf_init(&path, CR_RELPATH_MAX + 64);
  if(!f->id) {
    /* An empty body never opened a temporary file. */
    rc = cr_store_open(st, f);
    if(rc)
      goto done;
  }
  close(f->fd);
  f->fd = -1;
  tmp_name(f, name, sizeof(name));
  rc = cr_buf_puts(&path, relpath);
  if(rc)
    goto done;
  rc = make_dirs(st, &path);
  if(rc)
    goto done;
  base_len = path.len;
  for(;;) {
    struct stat sb;

    if(cr_hset_has(&st->written, cr_hash64(path.data, path.len))) {
      /* Another URL of this run already has this name. */
      path.len = base_len;
      rc = cr_buf_printf(&path, "%%~%u", ++n);
      if(rc)
        goto done;
      continue;
    }
    if(renameat(st->tmpfd, name, st->dirfd, path.data) == 0) {
      f->id = 0;
      break;
    }
    if(errno != EISDIR && errno != ENOTEMPTY && errno != EEXIST) {
      rc = errno_to_cr(errno);
      goto done;
    }
    if(fstatat(st->dirfd, path.data, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
      /* A directory holds the name (URL /a/b came before /a). */
      rc = cr_buf_puts(&path, "%~f");
      if(rc)
        goto done;
      base_len = path.len;
      continue;
    }
    rc = CR_EIO;
    goto done;
  }
  rc = cr_hset_add(&st->written, cr_hash64(path.data, path.len));
  if(rc < 0)
    goto done;
  rc = cr_buf_append(out, path.data, path.len);

done:
  if(rc)
    cr_store_discard(st, f);
  cr_buf_cleanup(&path);
  return rc;
}

int cr_store_note_written(struct cr_store *st, const char *relpath)
{
  return cr_hset_add(&st->written, cr_hash64(relpath, strlen(relpath))) < 0 ? CR_ENOMEM : 0;
}

int cr_store_has_file(struct cr_store *st, const char *relpath, int64_t size)
{
  struct stat sb;

  if(fstatat(st->dirfd, relpath, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  return S_ISREG(sb.st_mode) && (int64_t)sb.st_size == size;
}

int cr_store_open_read(struct cr_store *st, const char *relpath)
{
  return openat(st->dirfd, relpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}
