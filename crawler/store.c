/*
 * store.c - body buffers, temporary files, safe directories, publishing
 * through the aio ring; see store.h.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "aio.h"
#include "crawler.h"
#include "hash.h"
#include "pathmap.h"

#define TMP_DIR ".crawler-tmp"
/* A body's buffer grows with the body up to this; a page that fits is
 * written with one write. */
#define BODY_BUF (16 * 1024)
#define BODY_BUF_MIN 2048

struct cr_store {
  int dirfd;
  int tmpfd;
  unsigned long next_id;
  struct cr_aio *aio;
  int durable;
  struct cr_body *wait_head; /* commits waiting for a free file slot */
  struct cr_body *wait_tail;
  struct cr_hset written;   /* hashes of paths taken in this run */
  struct cr_hset dirs;      /* hashes of directories known to be ours */
};

/* One body: owned by the store from its first byte until its last
 * operation completed. */
struct cr_body {
  struct cr_store *st;
  char *buf;                /* bytes not yet handed to a write */
  size_t len;
  size_t cap;
  unsigned writes;          /* writes in flight, each with its buffer */
  int slot;                 /* the temporary file's aio slot, -1 if none */
  unsigned long id;         /* names the temporary file; 0 when none */
  uint64_t off;             /* bytes handed to writes */
  unsigned ops;             /* callbacks still to come */
  int err;                  /* first error, CR_E* */
  int discarded;
  int opening;              /* the open of the temporary file is out */
  int dirs_done;            /* every directory of path is ours */
  size_t dir_start;         /* where the component being made starts */
  struct statx stx;         /* a component that was there already */
  struct cr_body *wait_next; /* in the store's list of commits waiting */
  int waiting;
  struct wr *held;          /* writes waiting for that open, in order */
  struct wr **held_tail;
  int committing;           /* the publishing chain was queued */
  int renaming;
  int published;
  struct cr_buf path;       /* where it is published */
  cr_store_commit_cb cb;
  void *arg;
};

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

int cr_store_new(const char *dir, struct cr_aio *aio, struct cr_store **out)
{
  struct cr_store *st;

  *out = NULL;
  st = calloc(1, sizeof(*st));
  if(!st)
    return CR_ENOMEM;
  st->dirfd = -1;
  st->tmpfd = -1;
  st->aio = aio;
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

void cr_store_set_durable(struct cr_store *st, int durable)
{
  st->durable = durable;
}

int cr_store_on_tmpfs(const char *dir)
{
  char buf[4096];
  size_t len = strlen(dir);
  struct statfs sf;

  if(len >= sizeof(buf))
    return 0;
  memcpy(buf, dir, len + 1);
  /* The directory may not exist yet: its nearest existing parent's. */
  for(;;) {
    char *slash;

    if(statfs(len ? buf : ".", &sf) == 0)
      return sf.f_type == TMPFS_MAGIC;
    if(errno != ENOENT || !len || (len == 1 && buf[0] == '/'))
      return 0;
    slash = strrchr(buf, '/');
    if(!slash) {
      len = 0;
      continue;
    }
    if(slash == buf) {
      buf[1] = '\0';
      len = 1;
      continue;
    }
    *slash = '\0';
    len = (size_t)(slash - buf);
  }
}

void cr_file_init(struct cr_file *f)
{
  f->body = NULL;
}

static void tmp_name(const struct cr_body *b, char *buf, size_t n)
{
  snprintf(buf, n, "%lu", b->id);
}

static void body_free(struct cr_body *b)
{
  free(b->buf);
  cr_buf_cleanup(&b->path);
  free(b);
}

static void note_err(struct cr_body *b, int res)
{
  if(res < 0 && !b->err)
    b->err = res == -ECANCELED ? CR_EIO : cr_aio_errno(-res);
}

/* The temporary file goes (close if open, then unlink) with nothing waiting
 * for it: a discarded or failed body.  b is freed. */
static void body_drop(struct cr_body *b)
{
  struct cr_store *st = b->st;
  char name[32];

  if(b->slot >= 0)
    cr_aio_close(st->aio, b->slot, CR_AIO_HARDLINK, NULL, NULL);
  b->slot = -1;
  if(b->id) {
    tmp_name(b, name, sizeof(name));
    /* Out of memory here leaves a temporary file that the next run's
     * start removes. */
    cr_aio_unlinkat(st->aio, st->tmpfd, name, 0, 0, NULL, NULL);
  }
  body_free(b);
}

static void body_step(struct cr_body *b);
static void on_op(void *arg, int res);
static void wake_waiting(struct cr_store *st);

/* ---- directories ----
 *
 * Every directory of a page's path (all but the last component) must exist
 * and be a real directory of ours; a component that clashes with a file or
 * symlink is renamed "NAME%~d".  Done through the ring, one component at a
 * time, and only for components not already in the cache: a mkdirat, and
 * when the name was taken a statx(AT_SYMLINK_NOFOLLOW) of it.  Under another
 * program's write-back a mkdirat can wait seconds for the file system's
 * journal, so it must not run in the loop. */

static void dir_next(struct cr_body *b, size_t end)
{
  b->dir_start = end + 1;
}

/* The end of the component being made. */
static size_t dir_end(const struct cr_body *b)
{
  const char *slash = memchr(b->path.data + b->dir_start, '/', b->path.len - b->dir_start);

  return slash ? (size_t)(slash - b->path.data) : (size_t)-1;
}

static void on_dir_stat(void *arg, int res)
{
  struct cr_body *b = arg;
  struct cr_store *st = b->st;
  size_t end = dir_end(b);
  int rc = 0;

  b->ops--;
  if(res < 0)
    note_err(b, res);
  else if(S_ISDIR(b->stx.stx_mode)) {
    if(cr_hset_add(&b->st->dirs, cr_hash64(b->path.data, end)) < 0)
      rc = CR_ENOMEM;
    dir_next(b, end);
  }
  else {
    /* A file (or a symlink) holds this name: the directory goes beside
     * it under a name no URL maps to.  Insert "%~d" before the slash and
     * examine the renamed component again. */
    struct cr_buf tail;

    cr_buf_init(&tail, b->path.max);
    rc = cr_buf_append(&tail, b->path.data + end, b->path.len - end);
    if(!rc) {
      b->path.len = end;
      rc = cr_buf_puts(&b->path, "%~d");
    }
    if(!rc)
      rc = cr_buf_append(&b->path, tail.data, tail.len);
    cr_buf_cleanup(&tail);
  }
  if(rc && !b->err)
    b->err = rc;
  body_step(b);
  wake_waiting(st);
}

static void on_dir_made(void *arg, int res)
{
  struct cr_body *b = arg;
  struct cr_store *st = b->st;
  size_t end = dir_end(b);
  int rc = 0;

  b->ops--;
  if(res == -EEXIST) {
    /* Ours from an earlier run, another page's just now, or something
     * in the way: look without following it. */
    b->path.data[end] = '\0';
    rc = cr_aio_statx(b->st->aio, b->st->dirfd, b->path.data, AT_SYMLINK_NOFOLLOW,
                      STATX_TYPE, &b->stx, 0, on_dir_stat, b);
    b->path.data[end] = '/';
    if(!rc) {
      b->ops++;
      return;
    }
  }
  else if(res < 0)
    note_err(b, res);
  else {
    if(cr_hset_add(&b->st->dirs, cr_hash64(b->path.data, end)) < 0)
      rc = CR_ENOMEM;
    dir_next(b, end);
  }
  if(rc && !b->err)
    b->err = rc;
  body_step(b);
  wake_waiting(st);
}

/* Skips the components known to be ours and queues the making of the next
 * one.  Returns 0 with an operation queued, 1 when every directory is
 * there, or a CR_E* error. */
static int dirs_step(struct cr_body *b)
{
  struct cr_store *st = b->st;

  for(;;) {
    size_t end = dir_end(b);
    int rc;

    if(end == (size_t)-1)
      return 1;
    if(cr_hset_has(&st->dirs, cr_hash64(b->path.data, end))) {
      dir_next(b, end);
      continue;
    }
    b->path.data[end] = '\0';
    rc = cr_aio_mkdirat(st->aio, st->dirfd, b->path.data, 0755, 0, on_dir_made, b);
    b->path.data[end] = '/';
    if(rc)
      return rc;
    b->ops++;
    return 0;
  }
}
static void on_write(void *arg, int res);

/* One write's buffer, lent to the kernel until its completion. */
struct wr {
  struct cr_body *b;
  struct wr *next;
  char *buf;
  size_t len;
  uint64_t off;
};

/* The temporary file is open (or not): the writes that came meanwhile go
 * out now, at their offsets.  They could not go before: a write on a slot
 * whose open is still running would fail with EBADF. */
static void on_open(void *arg, int res)
{
  struct cr_body *b = arg;

  b->opening = 0;
  while(b->held) {
    struct wr *w = b->held;
    int rc = res;

    b->held = w->next;
    if(rc >= 0)
      rc = cr_aio_write(b->st->aio, b->slot, w->buf, w->len, w->off, 0, on_write, w) ?
           -ENOMEM : 0;
    if(rc < 0) {
      /* Its error is the open's, or out of memory. */
      b->writes--;
      b->ops--;
      if(!b->err)
        b->err = rc == -ENOMEM ? CR_ENOMEM : CR_EIO;
      free(w->buf);
      free(w);
    }
  }
  b->held_tail = &b->held;
  on_op(arg, res);
}

/* Every operation with a callback of this body ends here. */
/* Starts commits that waited for a file slot, while slots are free. */
static void wake_waiting(struct cr_store *st)
{
  while(st->wait_head && cr_aio_slots_free(st->aio)) {
    struct cr_body *b = st->wait_head;

    st->wait_head = b->wait_next;
    if(!st->wait_head)
      st->wait_tail = NULL;
    b->waiting = 0;
    body_step(b);
  }
}

static void on_op(void *arg, int res)
{
  struct cr_body *b = arg;
  struct cr_store *st = b->st;

  b->ops--;
  note_err(b, res);
  body_step(b);
  /* A close may have freed a slot. */
  wake_waiting(st);
}

static void on_write(void *arg, int res)
{
  struct wr *w = arg;
  struct cr_body *b = w->b;

  /* A short write to a regular file means the space ran out. */
  if(res >= 0 && (size_t)res != w->len)
    res = -ENOSPC;
  free(w->buf);
  free(w);
  b->writes--;
  on_op(b, res);
}

/* Opens the temporary file (first write only) and writes len bytes of buf
 * at the body's offset.  The write is hard-linked to what follows, so the
 * close of a chain runs even when the write fails. */
static int queue_write(struct cr_body *b, char *buf, size_t len, unsigned link)
{
  struct cr_store *st = b->st;
  struct wr *w;
  char name[32];
  int rc;
  int held = b->opening;

  if(b->slot < 0) {
    b->id = ++st->next_id;
    tmp_name(b, name, sizeof(name));
    rc = cr_aio_openat(st->aio, st->tmpfd, name,
                       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644, CR_AIO_LINK,
                       &b->slot, on_open, b);
    if(rc) {
      b->id = 0;
      return rc;
    }
    b->ops++;
    b->opening = 1;
  }
  if(!len)
    return 0;
  w = malloc(sizeof(*w));
  rc = CR_ENOMEM;
  if(w) {
    w->b = b;
    w->next = NULL;
    w->buf = buf;
    w->len = len;
    w->off = b->off;
    if(held) {
      /* The open went out in an earlier pass; see on_open. */
      *b->held_tail = w;
      b->held_tail = &w->next;
      rc = 0;
    }
    else
      rc = cr_aio_write(st->aio, b->slot, buf, len, b->off, link, on_write, w);
  }
  if(rc) {
    free(w);
    if(!held) {
      /* The open is queued, linked to whatever comes next: its close
       * must come next. */
      if(!cr_aio_close(st->aio, b->slot, 0, on_op, b))
        b->ops++;
      b->slot = -1;
    }
    return rc;
  }
  b->off += len;
  b->ops++;
  b->writes++;
  return 0;
}

/* A body with nothing written yet; NULL when out of memory. */
static struct cr_body *body_new(struct cr_store *st)
{
  struct cr_body *b = calloc(1, sizeof(*b));

  if(!b)
    return NULL;
  b->st = st;
  b->slot = -1;
  b->held_tail = &b->held;
  cr_buf_init(&b->path, CR_RELPATH_MAX + 64);
  return b;
}

int cr_store_write(struct cr_store *st, struct cr_file *f, const void *p, size_t n)
{
  struct cr_body *b = f->body;
  int rc;

  if(!b) {
    b = body_new(st);
    if(!b)
      return CR_ENOMEM;
    f->body = b;
  }
  if(b->err)
    return b->err;
  /* No pause while writes are out: libcurl 7.88 keeps every byte a
   * paused transfer's decoder produces (a gzip bomb's whole output), and
   * resumed transfers stalled.  Bytes lent to the ring are bounded by
   * the disk keeping up with the network instead; see store.h. */
  while(n) {
    size_t room;
    size_t take;
    size_t max = BODY_BUF;

    if(b->len == BODY_BUF) {
      rc = queue_write(b, b->buf, b->len, 0);
      if(rc)
        return rc;
      b->buf = NULL;
      b->len = 0;
      b->cap = 0;
    }
    if(b->len == b->cap) {
      /* Grown with the body: most pages never need the whole buffer. */
      size_t cap = b->cap ? b->cap * 2 : BODY_BUF_MIN;
      char *nb;

      if(b->len >= max)
        return CR_EFULL;
      while(cap < b->len + n && cap < max)
        cap *= 2;
      if(cap > max)
        cap = max;
      nb = realloc(b->buf, cap);
      if(!nb)
        return CR_ENOMEM;
      b->buf = nb;
      b->cap = cap;
    }
    room = b->cap - b->len;
    take = n < room ? n : room;
    memcpy(b->buf + b->len, p, take);
    b->len += take;
    p = (const char *)p + take;
    n -= take;
  }
  return 0;
}

/* The publishing chain: what is left of the body, writeback, close. */
static int queue_publish(struct cr_body *b)
{
  struct cr_store *st = b->st;
  int rc;
  int sync = st->durable && cr_aio_is_ring(st->aio);

  rc = queue_write(b, b->buf, b->len, CR_AIO_HARDLINK);
  if(rc)
    return rc;
  if(!b->len)
    free(b->buf);
  b->buf = NULL;
  b->len = 0;
  b->cap = 0;
  if(sync && b->off) {
    /* The data reaches the device before the name does, so the journal's
     * next fsync (which commits the rename) never names a file whose
     * blocks were not written; see journal.h. */
    rc = cr_aio_sync_range(st->aio, b->slot, 0, 0,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                           SYNC_FILE_RANGE_WAIT_AFTER,
                           CR_AIO_HARDLINK, on_op, b);
    if(rc)
      return rc;
    b->ops++;
  }
  rc = cr_aio_close(st->aio, b->slot, 0, on_op, b);
  if(rc)
    return rc;
  b->slot = -1;
  b->ops++;
  return 0;
}

/* Picks the name: a path another URL of this run took gets "%~N".  The
 * name is taken at once. */
static int pick_name(struct cr_body *b, size_t base_len)
{
  struct cr_store *st = b->st;
  unsigned n = 1;
  int rc;

  while(cr_hset_has(&st->written, cr_hash64(b->path.data, b->path.len))) {
    b->path.len = base_len;
    rc = cr_buf_printf(&b->path, "%%~%u", ++n);
    if(rc)
      return rc;
  }
  return cr_hset_add(&st->written, cr_hash64(b->path.data, b->path.len)) < 0 ? CR_ENOMEM : 0;
}

static void on_rename(void *arg, int res)
{
  struct cr_body *b = arg;
  int rc;

  b->ops--;
  if(res == -EISDIR && !b->err) {
    /* A directory holds the name (URL /a/b came before /a). */
    rc = cr_buf_puts(&b->path, "%~f");
    if(!rc)
      rc = pick_name(b, b->path.len);
    if(rc)
      b->err = rc;
    b->renaming = 0;
    body_step(b);
    return;
  }
  note_err(b, res);
  if(!b->err) {
    b->id = 0;  /* the temporary name is gone */
    b->published = 1;
  }
  body_step(b);
}

/* Decides what a body does next whenever one of its operations completed
 * (or a commit or discard began). */
static void body_step(struct cr_body *b)
{
  struct cr_store *st = b->st;
  char name[32];
  int rc;

  if(b->ops)
    return;
  if(b->discarded) {
    body_drop(b);
    return;
  }
  if(!b->committing)
    return;
  if(b->err) {
    cr_store_commit_cb cb = b->cb;
    void *arg = b->arg;
    int err = b->err;

    body_drop(b);
    cb(arg, err, NULL);
    return;
  }
  if(!b->dirs_done) {
    rc = dirs_step(b);
    if(rc == 1) {
      b->dirs_done = 1;
      rc = pick_name(b, b->path.len);
    }
    if(rc) {
      b->err = rc;
      body_step(b);
      return;
    }
    if(!b->dirs_done)
      return;
  }
  if(!b->published && (b->slot >= 0 || b->len || !b->id)) {
    /* The rest of the body has yet to be written and closed. */
    if(b->slot < 0 && !cr_aio_slots_free(st->aio)) {
      /* Every file slot is busy publishing: wait in line for one rather
       * than fail (a failure would cost a fetch again). */
      b->waiting = 1;
      b->wait_next = NULL;
      if(st->wait_tail)
        st->wait_tail->wait_next = b;
      else
        st->wait_head = b;
      st->wait_tail = b;
      return;
    }
    rc = queue_publish(b);
    if(rc) {
      b->err = rc;
      if(b->slot >= 0) {
        cr_aio_close(st->aio, b->slot, 0, on_op, b);
        b->slot = -1;
        b->ops++;
      }
      if(b->ops)
        return;
      body_step(b);
    }
    return;
  }
  if(!b->published) {
    if(b->renaming)
      return;
    b->renaming = 1;
    tmp_name(b, name, sizeof(name));
    rc = cr_aio_renameat(st->aio, st->tmpfd, name, st->dirfd, b->path.data, 0, on_rename, b);
    if(rc) {
      b->err = rc;
      body_step(b);
      return;
    }
    b->ops++;
    return;
  }
  /* Published. */
  {
    cr_store_commit_cb cb = b->cb;
    void *arg = b->arg;

    cb(arg, 0, b->path.data);
    body_free(b);
  }
}

void cr_store_discard(struct cr_store *st, struct cr_file *f)
{
  struct cr_body *b = f->body;

  (void)st;
  f->body = NULL;
  if(!b)
    return;
  b->discarded = 1;
  body_step(b);
}

int cr_store_commit(struct cr_store *st, struct cr_file *f, const char *relpath,
                    cr_store_commit_cb cb, void *arg)
{
  struct cr_body *b = f->body;
  int rc;

  if(!b) {
    /* An empty body: nothing arrived, the file is still made. */
    b = body_new(st);
    if(!b)
      return CR_ENOMEM;
  }
  f->body = NULL;
  rc = b->err;
  if(!rc)
    rc = cr_buf_puts(&b->path, relpath);
  if(rc) {
    b->discarded = 1;
    body_step(b);
    return rc;
  }
  b->cb = cb;
  b->arg = arg;
  b->committing = 1;
  body_step(b);
  return 0;
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

int cr_store_dirfd(const struct cr_store *st)
{
  return st->dirfd;
}
