/*
 * aio.c - io_uring ring with a synchronous fallback; see aio.h.
 */
#include "aio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crawler.h"
#include "loop.h"

/* Submission queue entries; the completion queue is twice that, and no
 * more operations than it holds are ever in flight, so none overflows. */
#define RING_ENTRIES 1024
/* File slots: open temporary files at once, at most.  Each costs the
 * kernel a pointer while empty. */
#define SLOTS_MAX 16384
/* Completions handled in one loop pass (operations run, in the synchronous
 * backend): each runs the engine's callbacks
 * (manifest line, journal record, the next file operation), 15-20 us, and
 * a burst of 1,500 held one pass for 30 ms. */
#define REAP_PER_PASS 256

enum op_kind {
  OP_OPEN,
  OP_WRITE,
  OP_WRITE_FD,
  OP_READ,
  OP_SYNC_RANGE,
  OP_FSYNC,
  OP_CLOSE,
  OP_RENAME,
  OP_UNLINK,
  OP_MKDIR,
  OP_STATX,
};

struct op {
  struct op *next;
  enum op_kind kind;
  unsigned link;
  int fd;           /* a slot, or a plain descriptor (OP_WRITE_FD, OP_FSYNC) */
  int dirfd;
  int dirfd2;
  int flags;
  mode_t mode;
  const void *buf;
  size_t len;
  uint64_t off;
  cr_aio_cb cb;
  void *arg;
  char *path;       /* into data[] */
  char *path2;
  char data[];
};

struct cr_aio {
  struct cr_loop *loop;
  int ring_on;
  struct io_uring ring;
  int efd;
  int watch;
  unsigned cq_cap;
  unsigned in_flight;      /* handed to the kernel, not completed */
  struct op *head;         /* queued, not yet submitted */
  struct op *tail;
  unsigned queued;
  int *slot_fd;            /* synchronous backend: slot -> fd */
  int *free_slots;         /* stack of free slot numbers */
  unsigned nfree;
  unsigned nslots;
};

static void on_ring_ready(struct cr_loop *loop, int fd, unsigned events, void *arg);

/* CRAWLER_NO_URING: "1" (or any value but "0") plain calls, "0" the ring
 * even where the caller prefers plain calls; unset: the caller's choice. */
static int use_ring(int prefer_sync)
{
  const char *v = getenv("CRAWLER_NO_URING");

  if(!v || !*v)
    return !prefer_sync;
  return !strcmp(v, "0");
}

static int ring_start(struct cr_aio *a, int quiet)
{
  struct io_uring_params p;
  int rc;

  memset(&p, 0, sizeof(p));
  rc = io_uring_queue_init_params(RING_ENTRIES, &a->ring, &p);
  if(rc < 0) {
    if(!quiet)
      fprintf(stderr, "crawler: io_uring is unavailable (%s); file work runs in the loop\n",
              strerror(-rc));
    return -1;
  }
  /* io-wq keeps its default cap of 4 blocking workers a CPU: more (64
   * tried) only spun on the directory's lock (perf: rwsem_spin_on_owner
   * in ext4_create, 28% of the machine), taking the CPU from the loop. */
  a->cq_cap = p.cq_entries;
  rc = io_uring_register_files_sparse(&a->ring, a->nslots);
  if(rc < 0) {
    if(!quiet)
      fprintf(stderr, "crawler: io_uring cannot register files (%s); file work runs in "
              "the loop\n", strerror(-rc));
    io_uring_queue_exit(&a->ring);
    return -1;
  }
  a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if(a->efd < 0 || io_uring_register_eventfd(&a->ring, a->efd) < 0) {
    if(!quiet)
      fprintf(stderr, "crawler: io_uring eventfd failed; file work runs in the loop\n");
    if(a->efd >= 0)
      close(a->efd);
    a->efd = -1;
    io_uring_queue_exit(&a->ring);
    return -1;
  }
  a->ring_on = 1;
  return 0;
}

int cr_aio_errno(int err)
{
  if(err == ENOSPC || err == EDQUOT)
    return CR_ENOSPC;
  if(err == ENOMEM)
    return CR_ENOMEM;
  if(err == EMFILE || err == ENFILE)
    return CR_EMFILE;
  return CR_EIO;
}

int cr_aio_new(struct cr_loop *loop, int prefer_sync, int quiet, struct cr_aio **out)
{
  struct cr_aio *a;
  struct rlimit rl;
  unsigned i;
  int rc = CR_ENOMEM;

  *out = NULL;
  a = calloc(1, sizeof(*a));
  if(!a)
    return CR_ENOMEM;
  a->loop = loop;
  a->efd = -1;
  a->watch = -1;
  a->nslots = SLOTS_MAX;
  /* The kernel refuses a file table larger than the descriptor limit. */
  if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < a->nslots)
    a->nslots = rl.rlim_cur > 16 ? (unsigned)rl.rlim_cur : 16;
  a->free_slots = malloc(a->nslots * sizeof(*a->free_slots));
  a->slot_fd = malloc(a->nslots * sizeof(*a->slot_fd));
  if(!a->free_slots || !a->slot_fd)
    goto fail;
  for(i = 0; i < a->nslots; i++) {
    a->free_slots[i] = (int)(a->nslots - 1 - i);
    a->slot_fd[i] = -1;
  }
  a->nfree = a->nslots;
  if(use_ring(prefer_sync) && ring_start(a, quiet) == 0) {
    a->watch = cr_loop_watch(loop, a->efd, CR_READ, on_ring_ready, a);
    if(a->watch < 0) {
      rc = a->watch;
      goto fail;
    }
  }
  *out = a;
  return 0;

fail:
  cr_aio_free(&a);
  return rc;
}

int cr_aio_is_ring(const struct cr_aio *a)
{
  return a->ring_on;
}

unsigned cr_aio_slots_free(const struct cr_aio *a)
{
  return a->nfree;
}

unsigned cr_aio_busy(const struct cr_aio *a)
{
  return a->queued + a->in_flight;
}

/* ---- queueing ---- */

static struct op *op_new(struct cr_aio *a, enum op_kind kind, unsigned link, const char *p1,
                         const char *p2, cr_aio_cb cb, void *arg)
{
  size_t n1 = p1 ? strlen(p1) + 1 : 0;
  size_t n2 = p2 ? strlen(p2) + 1 : 0;
  struct op *op = calloc(1, sizeof(*op) + n1 + n2);

  (void)a;
  if(!op)
    return NULL;
  op->kind = kind;
  op->link = link;
  op->cb = cb;
  op->arg = arg;
  op->fd = -1;
  if(p1) {
    op->path = op->data;
    memcpy(op->path, p1, n1);
  }
  if(p2) {
    op->path2 = op->data + n1;
    memcpy(op->path2, p2, n2);
  }
  return op;
}

static void op_queue(struct cr_aio *a, struct op *op)
{
  op->next = NULL;
  if(a->tail)
    a->tail->next = op;
  else
    a->head = op;
  a->tail = op;
  a->queued++;
}

int cr_aio_openat(struct cr_aio *a, int dirfd, const char *path, int flags, mode_t mode,
                  unsigned link, int *slot, cr_aio_cb cb, void *arg)
{
  struct op *op;

  if(!a->nfree)
    return CR_EMFILE;
  op = op_new(a, OP_OPEN, link, path, NULL, cb, arg);
  if(!op)
    return CR_ENOMEM;
  op->dirfd = dirfd;
  op->flags = flags;
  op->mode = mode;
  op->fd = a->free_slots[--a->nfree];
  *slot = op->fd;
  op_queue(a, op);
  return 0;
}

static int queue_io(struct cr_aio *a, enum op_kind kind, int fd, const void *buf, size_t len,
                    uint64_t off, unsigned flags, unsigned link, cr_aio_cb cb, void *arg)
{
  struct op *op = op_new(a, kind, link, NULL, NULL, cb, arg);

  if(!op)
    return CR_ENOMEM;
  op->fd = fd;
  op->buf = buf;
  op->len = len;
  op->off = off;
  op->flags = (int)flags;
  op_queue(a, op);
  return 0;
}

int cr_aio_write(struct cr_aio *a, int slot, const void *buf, size_t len, uint64_t off,
                 unsigned link, cr_aio_cb cb, void *arg)
{
  return queue_io(a, OP_WRITE, slot, buf, len, off, 0, link, cb, arg);
}

int cr_aio_read(struct cr_aio *a, int slot, void *buf, size_t len, uint64_t off,
                unsigned link, cr_aio_cb cb, void *arg)
{
  return queue_io(a, OP_READ, slot, buf, len, off, 0, link, cb, arg);
}

int cr_aio_write_fd(struct cr_aio *a, int fd, const void *buf, size_t len, uint64_t off,
                    unsigned link, cr_aio_cb cb, void *arg)
{
  return queue_io(a, OP_WRITE_FD, fd, buf, len, off, 0, link, cb, arg);
}

int cr_aio_sync_range(struct cr_aio *a, int slot, uint64_t off, uint64_t len, unsigned flags,
                      unsigned link, cr_aio_cb cb, void *arg)
{
  return queue_io(a, OP_SYNC_RANGE, slot, NULL, (size_t)len, off, flags, link, cb, arg);
}

int cr_aio_fsync_fd(struct cr_aio *a, int fd, int datasync, unsigned link, cr_aio_cb cb,
                    void *arg)
{
  return queue_io(a, OP_FSYNC, fd, NULL, 0, 0, (unsigned)datasync, link, cb, arg);
}

int cr_aio_close(struct cr_aio *a, int slot, unsigned link, cr_aio_cb cb, void *arg)
{
  return queue_io(a, OP_CLOSE, slot, NULL, 0, 0, 0, link, cb, arg);
}

int cr_aio_renameat(struct cr_aio *a, int olddirfd, const char *oldpath, int newdirfd,
                    const char *newpath, unsigned link, cr_aio_cb cb, void *arg)
{
  struct op *op = op_new(a, OP_RENAME, link, oldpath, newpath, cb, arg);

  if(!op)
    return CR_ENOMEM;
  op->dirfd = olddirfd;
  op->dirfd2 = newdirfd;
  op_queue(a, op);
  return 0;
}

int cr_aio_unlinkat(struct cr_aio *a, int dirfd, const char *path, int flags, unsigned link,
                    cr_aio_cb cb, void *arg)
{
  struct op *op = op_new(a, OP_UNLINK, link, path, NULL, cb, arg);

  if(!op)
    return CR_ENOMEM;
  op->dirfd = dirfd;
  op->flags = flags;
  op_queue(a, op);
  return 0;
}

int cr_aio_statx(struct cr_aio *a, int dirfd, const char *path, int flags, unsigned mask,
                 struct statx *buf, unsigned link, cr_aio_cb cb, void *arg)
{
  struct op *op = op_new(a, OP_STATX, link, path, NULL, cb, arg);

  if(!op)
    return CR_ENOMEM;
  op->dirfd = dirfd;
  op->flags = flags;
  op->mode = mask;
  op->buf = buf;
  op_queue(a, op);
  return 0;
}

int cr_aio_mkdirat(struct cr_aio *a, int dirfd, const char *path, mode_t mode, unsigned link,
                   cr_aio_cb cb, void *arg)
{
  struct op *op = op_new(a, OP_MKDIR, link, path, NULL, cb, arg);

  if(!op)
    return CR_ENOMEM;
  op->dirfd = dirfd;
  op->mode = mode;
  op_queue(a, op);
  return 0;
}

/* ---- completion, common to both backends ---- */

/* Slot bookkeeping, then the user's callback, then the op is freed.  A
 * close cancelled by its chain still owns the slot's file (its open may
 * have worked): it is queued again alone, so a slot is free exactly when
 * a close of it really ran. */
static void complete(struct cr_aio *a, struct op *op, int res)
{
  if(op->kind == OP_CLOSE) {
    if(res == -ECANCELED) {
      op->link = 0;
      op_queue(a, op);
      return;
    }
    if(!a->ring_on && op->fd >= 0 && a->slot_fd[op->fd] >= 0) {
      a->slot_fd[op->fd] = -1;
    }
    a->free_slots[a->nfree++] = op->fd;
  }
  if(op->cb)
    op->cb(op->arg, res);
  free(op);
}

/* ---- the synchronous backend ---- */

static int run_sync(struct cr_aio *a, struct op *op)
{
  int res = 0;
  int fd;

  switch(op->kind) {
  case OP_OPEN:
    fd = openat(op->dirfd, op->path, op->flags | O_CLOEXEC, op->mode);
    if(fd < 0)
      return -errno;
    a->slot_fd[op->fd] = fd;
    return 0;
  case OP_WRITE:
  case OP_WRITE_FD: {
    const char *p = op->buf;
    size_t done = 0;

    fd = op->kind == OP_WRITE ? a->slot_fd[op->fd] : op->fd;
    while(done < op->len) {
      ssize_t w = pwrite(fd, p + done, op->len - done, (off_t)(op->off + done));

      if(w < 0) {
        if(errno == EINTR)
          continue;
        return done ? (int)done : -errno;
      }
      done += (size_t)w;
    }
    return (int)done;
  }
  case OP_READ: {
    ssize_t r;

    do
      r = pread(a->slot_fd[op->fd], (void *)op->buf, op->len, (off_t)op->off);
    while(r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  }
  case OP_SYNC_RANGE:
    res = sync_file_range(a->slot_fd[op->fd], (off_t)op->off, (off_t)op->len,
                          (unsigned)op->flags);
    break;
  case OP_FSYNC:
    res = op->flags ? fdatasync(op->fd) : fsync(op->fd);
    break;
  case OP_CLOSE:
    fd = a->slot_fd[op->fd];
    if(fd < 0)
      return -EBADF;
    a->slot_fd[op->fd] = -1;
    res = close(fd);
    break;
  case OP_RENAME:
    res = renameat(op->dirfd, op->path, op->dirfd2, op->path2);
    break;
  case OP_UNLINK:
    res = unlinkat(op->dirfd, op->path, op->flags);
    break;
  case OP_MKDIR:
    res = mkdirat(op->dirfd, op->path, op->mode);
    break;
  case OP_STATX:
    res = statx(op->dirfd, op->path, op->flags, (unsigned)op->mode, (struct statx *)op->buf);
    break;
  }
  return res < 0 ? -errno : res;
}

/* Runs the queue in order with io_uring's chain rules: after a failure in
 * a CR_AIO_LINK step the rest of the chain is cancelled. */
static unsigned submit_sync(struct cr_aio *a)
{
  unsigned ran = 0;
  int cancel = 0;

  while(a->head) {
    struct op *op = a->head;
    unsigned link = op->link;
    int res;

    a->head = op->next;
    if(!a->head)
      a->tail = NULL;
    a->queued--;
    if(cancel)
      res = -ECANCELED;
    else {
      res = run_sync(a, op);
      if(res < 0 && (link & CR_AIO_LINK))
        cancel = 1;
    }
    if(!(link & (CR_AIO_LINK | CR_AIO_HARDLINK)))
      cancel = 0;
    complete(a, op, res);
    ran++;
    /* Bounded like the ring's completions, between whole chains: 10,000
     * pages ending together made one pass of 0.9 s. */
    if(ran >= REAP_PER_PASS && !(link & (CR_AIO_LINK | CR_AIO_HARDLINK)))
      break;
  }
  return ran;
}

/* ---- the io_uring backend ---- */

static void prep(struct cr_aio *a, struct io_uring_sqe *sqe, struct op *op)
{
  switch(op->kind) {
  case OP_OPEN:
    /* A direct descriptor is no descriptor of ours: the kernel refuses
     * O_CLOEXEC on it (EINVAL), and nothing could inherit it anyway. */
    io_uring_prep_openat_direct(sqe, op->dirfd, op->path, op->flags, op->mode,
                                (unsigned)op->fd);
    break;
  case OP_WRITE:
    io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, op->off);
    sqe->flags |= IOSQE_FIXED_FILE;
    break;
  case OP_WRITE_FD:
    io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, op->off);
    break;
  case OP_READ:
    io_uring_prep_read(sqe, op->fd, (void *)op->buf, (unsigned)op->len, op->off);
    sqe->flags |= IOSQE_FIXED_FILE;
    break;
  case OP_SYNC_RANGE:
    io_uring_prep_sync_file_range(sqe, op->fd, (unsigned)op->len, op->off, op->flags);
    sqe->flags |= IOSQE_FIXED_FILE;
    break;
  case OP_FSYNC:
    io_uring_prep_fsync(sqe, op->fd, op->flags ? IORING_FSYNC_DATASYNC : 0);
    break;
  case OP_CLOSE:
    io_uring_prep_close_direct(sqe, (unsigned)op->fd);
    break;
  case OP_RENAME:
    io_uring_prep_renameat(sqe, op->dirfd, op->path, op->dirfd2, op->path2, 0);
    break;
  case OP_UNLINK:
    io_uring_prep_unlinkat(sqe, op->dirfd, op->path, op->flags);
    break;
  case OP_MKDIR:
    io_uring_prep_mkdirat(sqe, op->dirfd, op->path, op->mode);
    break;
  case OP_STATX:
    io_uring_prep_statx(sqe, op->dirfd, op->path, op->flags, (unsigned)op->mode,
                        (struct statx *)op->buf);
    break;
  }
  if(op->link & CR_AIO_HARDLINK)
    sqe->flags |= IOSQE_IO_HARDLINK;
  else if(op->link & CR_AIO_LINK)
    sqe->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data(sqe, op);
  (void)a;
}

/* Moves whole chains from the queue to the submission queue while the
 * completion queue has room for them, then enters the kernel once (more
 * only if a batch outgrows the submission queue). */
static void submit_ring(struct cr_aio *a)
{
  int pending = 0;

  while(a->head) {
    struct op *op = a->head;
    unsigned n = 1;
    unsigned i;

    while(op->link & (CR_AIO_LINK | CR_AIO_HARDLINK) && op->next) {
      op = op->next;
      n++;
    }
    if(a->in_flight + n > a->cq_cap)
      break;
    if(io_uring_sq_space_left(&a->ring) < n) {
      io_uring_submit(&a->ring);
      pending = 0;
      if(io_uring_sq_space_left(&a->ring) < n)
        break;
    }
    for(i = 0; i < n; i++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

      op = a->head;
      a->head = op->next;
      a->queued--;
      prep(a, sqe, op);
      a->in_flight++;
    }
    if(!a->head)
      a->tail = NULL;
    pending = 1;
  }
  if(pending)
    io_uring_submit(&a->ring);
}

static unsigned reap(struct cr_aio *a, unsigned max)
{
  struct io_uring_cqe *cqe;
  unsigned ran = 0;

  while(ran < max && io_uring_peek_cqe(&a->ring, &cqe) == 0) {
    struct op *op = io_uring_cqe_get_data(cqe);
    int res = cqe->res;

    io_uring_cqe_seen(&a->ring, cqe);
    a->in_flight--;
    complete(a, op, res);
    ran++;
  }
  return ran;
}

static void on_ring_ready(struct cr_loop *loop, int fd, unsigned events, void *arg)
{
  struct cr_aio *a = arg;
  uint64_t v;
  ssize_t n = read(fd, &v, sizeof(v));

  (void)loop;
  (void)events;
  (void)n;
  reap(a, REAP_PER_PASS);
  /* The rest waits for the next pass, which the eventfd, readable again,
   * brings at once. */
  if(io_uring_cq_ready(&a->ring))
    eventfd_write(a->efd, 1);
}

unsigned cr_aio_submit(struct cr_aio *a)
{
  if(!a->ring_on)
    return submit_sync(a);
  submit_ring(a);
  return 0;
}

int cr_aio_drain(struct cr_aio *a, unsigned timeout_ms)
{
  double deadline = cr_clock() + timeout_ms / 1000.0;

  for(;;) {
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts;
    double left;

    cr_aio_submit(a);
    if(!a->ring_on) {
      if(!a->head)
        return 0;
      continue;
    }
    reap(a, UINT_MAX);
    if(!a->queued && !a->in_flight)
      return 0;
    left = deadline - cr_clock();
    if(left <= 0)
      return CR_EIO;
    ts.tv_sec = (long long)left;
    ts.tv_nsec = (long long)((left - (double)ts.tv_sec) * 1e9);
    if(a->in_flight)
      io_uring_wait_cqe_timeout(&a->ring, &cqe, &ts);
  }
}

void cr_aio_free(struct cr_aio **pa)
{
  struct cr_aio *a;
  unsigned i;

  if(!pa || !*pa)
    return;
  a = *pa;
  /* Buffers lent to the kernel must outlive it: wait, bounded. */
  if(cr_aio_drain(a, 10000))
    fprintf(stderr, "crawler: file operations still in flight at exit\n");
  if(a->watch >= 0)
    cr_loop_unwatch(a->loop, a->watch);
  if(a->ring_on)
    io_uring_queue_exit(&a->ring);
  if(a->efd >= 0)
    close(a->efd);
  while(a->head) {
    struct op *op = a->head;

    a->head = op->next;
    free(op);
  }
  if(a->slot_fd) {
    for(i = 0; i < a->nslots; i++) {
      if(a->slot_fd[i] >= 0)
        close(a->slot_fd[i]);
    }
  }
  free(a->slot_fd);
  free(a->free_slots);
  free(a);
  *pa = NULL;
}
