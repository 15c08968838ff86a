/*
 * journal.c - append-only state records; see journal.h.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "buf.h"
#include "crawler.h"

#define STATE_DIR ".crawler"
#define JOURNAL_NAME "journal"
#define HDR 8                       /* u32 length + u32 checksum */
#define FLUSH_AT (64 * 1024)        /* write early past this much */
/* Records that may wait while a write is in flight: a slow disk delays
 * the journal, never the crawl, up to this. */
#define PENDING_MAX (32 * 1024 * 1024)
#define READ_CHUNK (1024 * 1024)
/* Space kept allocated past the end of the journal, so that the records
 * of a crawl stopping on a full disk still have room. */
#define RESERVE (4 * 1024 * 1024)
#define RESERVE_LOW (2 * 1024 * 1024)

struct cr_journal {
  int dirfd;          /* DIR/.crawler */
  int fd;             /* the journal; written at explicit offsets */
  struct cr_aio *aio;
  struct cr_buf out;  /* records not yet written */
  struct cr_buf wr;   /* records lent to the write in flight */
  size_t wr_done;     /* bytes of wr written so far */
  int writing;        /* a write is in flight */
  int syncing;        /* an fsync is in flight */
  int sync_wanted;    /* cr_journal_sync asked for one */
  int err;            /* first error of a write or fsync, sticky */
  size_t rec_start;   /* offset in out of the record being built */
  int building;
  uint64_t size;      /* bytes in the file */
  uint64_t reserved;  /* allocated up to here (UINT64_MAX: cannot tell) */
};

/* Keeps RESERVE bytes allocated beyond the end (fallocate KEEP_SIZE does
 * not change the size a reader sees).  When the file system cannot give
 * them, the disk is full: CR_ENOSPC while the rest of the reserve still
 * holds the last records.  A file system without fallocate gets no
 * reserve. */
static int reserve(struct cr_journal *j)
{
  if(j->reserved == UINT64_MAX || j->reserved >= j->size + RESERVE_LOW)
    return 0;
  if(fallocate(j->fd, FALLOC_FL_KEEP_SIZE, (off_t)j->size, RESERVE) == 0) {
    j->reserved = j->size + RESERVE;
    return 0;
  }
  /* Said once: the crawl stops, and its last records go into what is
   * left of the reserve. */
  j->reserved = UINT64_MAX;
  if(errno == ENOSPC || errno == EDQUOT)
    return CR_ENOSPC;
  return 0;
}

/* Eight bytes per multiply: every page's records pass through here, and
 * a byte-at-a-time FNV hash was most of the journal's CPU cost.  It
 * only has to catch torn and corrupt records, not an adversary. */
static uint32_t checksum(const void *p, size_t n)
{
  const unsigned char *c = p;
  uint64_t h = 0x6a09e667f3bcc909ull ^ (uint64_t)n;
  uint64_t w;

  while(n >= 8) {
    memcpy(&w, c, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    c += 8;
    n -= 8;
  }
  w = 0;
  memcpy(&w, c, n);
  h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return (uint32_t)h;
}

int cr_journal_exists(const char *dir)
{
  struct cr_buf path;
  struct stat sb;
  int rc = 0;

  cr_buf_init(&path, 8192);
  if(!cr_buf_printf(&path, "%s/%s/%s", dir, STATE_DIR, JOURNAL_NAME) &&
     stat(path.data, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
    rc = 1;
  cr_buf_cleanup(&path);
  return rc;
}

int cr_journal_open(const char *dir, int fresh, struct cr_aio *aio, struct cr_journal **out)
{
  struct cr_journal *j;
  int dfd = -1;

  *out = NULL;
  j = calloc(1, sizeof(*j));
  if(!j)
    return CR_ENOMEM;
  j->dirfd = -1;
  j->fd = -1;
  j->aio = aio;
  cr_buf_init(&j->out, PENDING_MAX + CR_JOURNAL_REC_MAX + HDR + 1);
  cr_buf_init(&j->wr, PENDING_MAX + CR_JOURNAL_REC_MAX + HDR + 1);
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(dfd < 0)
    goto fail;
  if(mkdirat(dfd, STATE_DIR, 0700) < 0 && errno != EEXIST)
    goto fail;
  /* Never through a symlink: the state stays inside DIR. */
  j->dirfd = openat(dfd, STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if(j->dirfd < 0)
    goto fail;
  j->fd = openat(j->dirfd, JOURNAL_NAME,
                 O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (fresh ? O_TRUNC : 0),
                 0600);
  if(j->fd < 0)
    goto fail;
  close(dfd);
  {
    struct stat sb;

    if(fstat(j->fd, &sb) == 0)
      j->size = (uint64_t)sb.st_size;
  }
  if(reserve(j)) {
    fprintf(stderr, "crawler: no space left on device for the crawl state in %s/%s; free "
            "some space and run again\n", dir, STATE_DIR);
    cr_journal_free(&j);
    return CR_ENOSPC;
  }
  *out = j;
  return 0;

fail:
  fprintf(stderr, "crawler: cannot open the crawl state %s/%s/%s: %s\n", dir, STATE_DIR,
          JOURNAL_NAME, strerror(errno));
  if(dfd >= 0)
    close(dfd);
  cr_journal_free(&j);
  return CR_EIO;
}

/* Walks the records from offset 0.  With cb NULL it only measures: where
 * the whole records end (*end) and where the last SYNC record starts
 * (*last_sync, 0 if none).  With cb it calls cb for each record below
 * `end`, telling whether it lies before sync_at. */
static int walk(struct cr_journal *j, cr_journal_replay_cb cb, void *arg, uint64_t limit,
                uint64_t sync_at, uint64_t *end, uint64_t *last_sync)
{
  char *buf = malloc(READ_CHUNK + CR_JOURNAL_REC_MAX + HDR);
  size_t have = 0;   /* bytes in buf */
  size_t pos = 0;    /* start of the next record in buf */
  uint64_t off = 0;  /* file offset of buf[pos] */
  uint64_t rd = 0;   /* file offset of the next read */
  int eof = 0;
  int rc = 0;

  if(!buf)
    return CR_ENOMEM;
  if(end)
    *end = 0;
  if(last_sync)
    *last_sync = 0;
  for(;;) {
    size_t avail = have - pos;
    uint32_t len = 0;
    uint32_t sum;
    int need_more;

    if(avail >= HDR)
      memcpy(&len, buf + pos, 4);
    /* An oversized length is judged below, not read for. */
    need_more = avail < HDR || (len <= CR_JOURNAL_REC_MAX && avail < HDR + (size_t)len);
    if(need_more) {
      ssize_t n;

      if(eof)
        break;
      /* Keep the partial record at the front and read behind it. */
      memmove(buf, buf + pos, have - pos);
      have -= pos;
      pos = 0;
      n = pread(j->fd, buf + have, READ_CHUNK, (off_t)rd);
      if(n < 0) {
        if(errno == EINTR)
          continue;
        rc = CR_EIO;
        goto done;
      }
      if(n == 0)
        eof = 1;
      have += (size_t)n;
      rd += (uint64_t)n;
      continue;
    }
    if(off >= limit)
      break;
    memcpy(&sum, buf + pos + 4, 4);
    /* A zero length or one past the cap is a torn header: stop there. */
    if(!len || len > CR_JOURNAL_REC_MAX || checksum(buf + pos + HDR, len) != sum)
      break;
    if(!cb && buf[pos + HDR] == CR_J_SYNC && last_sync)
      *last_sync = off;
    if(cb && buf[pos + HDR] != CR_J_SYNC) {
      rc = cb(arg, (unsigned char)buf[pos + HDR], buf + pos + HDR + 1, len - 1, off < sync_at);
      if(rc)
        goto done;
    }
    pos += HDR + len;
    off += HDR + len;
    if(end)
      *end = off;
  }

done:
  free(buf);
  return rc;
}

int cr_journal_replay(struct cr_journal *j, cr_journal_replay_cb cb, void *arg,
                      uint64_t *dropped)
{
  struct stat sb;
  uint64_t end = 0;
  uint64_t last_sync = 0;
  int rc;

  *dropped = 0;
  if(fstat(j->fd, &sb) < 0)
    return CR_EIO;
  /* First the extent of the whole records and the last SYNC point, so
   * each record can be told whether it reached the disk for sure. */
  rc = walk(j, NULL, NULL, UINT64_MAX, 0, &end, &last_sync);
  if(rc)
    return rc;
  if((uint64_t)sb.st_size > end) {
    /* Appending after a torn record would hide everything written later. */
    if(ftruncate(j->fd, (off_t)end) < 0)
      return CR_EIO;
    *dropped = (uint64_t)sb.st_size - end;
  }
  j->size = end;
  return walk(j, cb, arg, end, last_sync, NULL, NULL);
}

static void on_write(void *arg, int res);

/* Hands wr (from wr_done on) to one write at the end of the file.  With
 * link, the fsync queued next runs after it, and only if it worked. */
static int write_out(struct cr_journal *j, unsigned link)
{
  int rc = cr_aio_write_fd(j->aio, j->fd, j->wr.data + j->wr_done, j->wr.len - j->wr_done,
                           j->size, link, on_write, j);

  if(!rc)
    j->writing = 1;
  return rc;
}

static void on_write(void *arg, int res)
{
  struct cr_journal *j = arg;

  j->writing = 0;
  if(res < 0) {
    if(!j->err)
      j->err = res == -ECANCELED ? CR_EIO : cr_aio_errno(-res);
    return;
  }
  j->size += (uint64_t)res;
  j->wr_done += (size_t)res;
  if(!j->err) {
    /* Synchronous, but once per RESERVE_LOW bytes of journal. */
    int rc = reserve(j);

    if(rc)
      j->err = rc;
  }
  if(j->wr_done < j->wr.len) {
    /* A short write: the rest goes next pass (or fails with ENOSPC). */
    return;
  }
  j->wr.len = 0;
  j->wr_done = 0;
}

static void on_fsync(void *arg, int res)
{
  struct cr_journal *j = arg;
  int rc = 0;

  j->syncing = 0;
  if(res == -ECANCELED)
    return; /* its write failed and said so */
  if(res < 0) {
    if(!j->err)
      j->err = cr_aio_errno(-res);
    return;
  }
  /* The synchronous backend keeps syncfs: its pages were written with no
   * writeback of their own, so only the whole file system covers them. */
  if(!cr_aio_is_ring(j->aio) && syncfs(j->fd) < 0)
    rc = cr_aio_errno(errno);
  if(!rc)
    rc = cr_journal_begin(j, CR_J_SYNC);
  if(!rc)
    rc = cr_journal_end(j);
  if(rc && !j->err)
    j->err = rc;
}

int cr_journal_flush(struct cr_journal *j)
{
  size_t lim = j->building ? j->rec_start : j->out.len;
  int rc;

  if(j->err)
    return j->err;
  if(j->writing)
    return 0; /* records wait in out; order is kept */
  if(!j->wr.len && lim) {
    /* Swap: the records go to wr, a record being built stays in out. */
    struct cr_buf t = j->wr;

    j->wr = j->out;
    j->out = t;
    j->out.len = 0;
    rc = cr_buf_append(&j->out, j->wr.data + lim, j->wr.len - lim);
    if(rc)
      return rc;
    j->wr.len = lim;
    j->wr_done = 0;
    if(j->building)
      j->rec_start = 0;
  }
  if(j->wr.len) {
    rc = write_out(j, j->sync_wanted ? CR_AIO_LINK : 0);
    if(rc)
      return rc;
  }
  if(j->sync_wanted && !j->syncing) {
    /* Covers every record handed to a write before it: the records
     * written so far and the ones just queued. */
    rc = cr_aio_fsync_fd(j->aio, j->fd, 0, 0, on_fsync, j);
    if(rc)
      return rc;
    j->sync_wanted = 0;
    j->syncing = 1;
  }
  return 0;
}

int cr_journal_begin(struct cr_journal *j, int type)
{
  char hdr[HDR + 1];
  int rc;

  if(j->err)
    return j->err;
  if(j->out.len >= FLUSH_AT && !j->building) {
    rc = cr_journal_flush(j);
    if(rc)
      return rc;
  }
  memset(hdr, 0, HDR);
  hdr[HDR] = (char)type;
  j->rec_start = j->out.len;
  rc = cr_buf_append(&j->out, hdr, sizeof(hdr));
  if(!rc)
    j->building = 1;
  return rc;
}

int cr_journal_put(struct cr_journal *j, const void *p, size_t n)
{
  int rc;

  if(!j->building)
    return CR_EINVAL;
  if(j->out.len - j->rec_start - HDR + n > CR_JOURNAL_REC_MAX)
    rc = CR_EFULL;
  else
    rc = cr_buf_append(&j->out, p, n);
  if(rc) {
    /* The record is abandoned whole, never written half. */
    j->out.len = j->rec_start;
    j->building = 0;
  }
  return rc;
}

int cr_journal_end(struct cr_journal *j)
{
  char *rec;
  uint32_t len;
  uint32_t sum;

  if(!j->building)
    return CR_EINVAL;
  rec = j->out.data + j->rec_start;
  len = (uint32_t)(j->out.len - j->rec_start - HDR);
  sum = checksum(rec + HDR, len);
  memcpy(rec, &len, 4);
  memcpy(rec + 4, &sum, 4);
  j->building = 0;
  return 0;
}

int cr_journal_sync(struct cr_journal *j)
{
  if(j->err)
    return j->err;
  if(!j->syncing)
    j->sync_wanted = 1;
  return cr_journal_flush(j);
}

int cr_journal_writing(const struct cr_journal *j)
{
  return j->writing;
}

int cr_journal_busy(const struct cr_journal *j)
{
  return j->writing || j->syncing || j->sync_wanted ||
         (j->out.len && !j->building) || j->wr.len;
}

void cr_journal_remove(struct cr_journal **pj)
{
  struct cr_journal *j;

  if(!pj || !*pj)
    return;
  j = *pj;
  j->out.len = 0;
  j->wr.len = 0;
  j->building = 0;
  unlinkat(j->dirfd, JOURNAL_NAME, 0);
  /* The directory goes too if nothing else was put there. */
  {
    int parent = openat(j->dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if(parent >= 0) {
      unlinkat(parent, STATE_DIR, AT_REMOVEDIR);
      close(parent);
    }
  }
  cr_journal_free(pj);
}

void cr_journal_free(struct cr_journal **pj)
{
  struct cr_journal *j;

  if(!pj || !*pj)
    return;
  j = *pj;
  if(j->fd >= 0) {
    /* The aio drained before this (see engine.c); whatever is still
     * buffered is written here, at the end of the run, synchronously. */
    if(!j->writing && !j->err) {
      size_t lim = j->building ? j->rec_start : j->out.len;

      if(j->wr.len > j->wr_done &&
         pwrite(j->fd, j->wr.data + j->wr_done, j->wr.len - j->wr_done, (off_t)j->size) ==
           (ssize_t)(j->wr.len - j->wr_done)) {
        j->size += j->wr.len - j->wr_done;
        j->wr.len = 0;
      }
      if(!j->wr.len && lim && pwrite(j->fd, j->out.data, lim, (off_t)j->size) == (ssize_t)lim)
        j->size += lim;
    }
    close(j->fd);
  }
  if(j->dirfd >= 0)
    close(j->dirfd);
  cr_buf_cleanup(&j->out);
  cr_buf_cleanup(&j->wr);
  free(j);
  *pj = NULL;
}
