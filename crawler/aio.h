/*
 * aio.h - file operations off the loop: an io_uring ring, or plain calls.
 *
 * Owns the ring (or nothing, in the synchronous backend), its eventfd and
 * its watcher in the loop, a table of file slots, and every operation
 * queued or in flight.  Users queue operations with the cr_aio_* starters;
 * cr_aio_submit (once per loop pass) hands everything queued to the kernel
 * in one io_uring_enter, and each operation's callback runs from the loop
 * when it completes: from the eventfd watcher with io_uring, from
 * cr_aio_submit itself in the synchronous backend.  Either way a callback
 * never runs inside the starter, so the engine has one code path.
 *
 * Backends, chosen at cr_aio_new: io_uring when io_uring_queue_init works,
 * unless the caller prefers plain calls (files on tmpfs, which never wait
 * for a device: there the ring's hand-off to a worker costs more than the
 * call, 22 us a page measured) or CRAWLER_NO_URING=1 forces them;
 * CRAWLER_NO_URING=0 forces the ring.  The synchronous backend runs plain
 * openat/pwrite/close/renameat... in queue order.  The
 * io_uring kernel workers (io-wq) do the blocking; this process creates no
 * thread: no SQPOLL.
 *
 * File slots name open files: direct descriptors (a registered sparse file
 * table) with io_uring, so a page's open, write and close are one chain and
 * never take a descriptor of ours; a small slot -> fd table in the
 * synchronous backend.  A slot is taken by cr_aio_openat and given back
 * when its open fails or its close completes.
 *
 * Chains: CR_AIO_LINK makes the next queued operation start only after
 * this one succeeded (otherwise the rest of the chain completes with
 * -ECANCELED); CR_AIO_HARDLINK starts it whatever the result.  A chain is
 * always submitted whole.
 *
 * Lifetimes: paths are copied at the call; write buffers are the caller's
 * and must live until the callback.  Starters return 0 (the callback will
 * run exactly once) or a negative CR_E* (it never will).
 */
#ifndef CR_AIO_H
#define CR_AIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cr_aio;
struct cr_loop;

/* res: the system call's result, or -errno. */
typedef void (*cr_aio_cb)(void *arg, int res);

enum {
  CR_AIO_LINK = 1,      /* the next operation waits for this one's success */
  CR_AIO_HARDLINK = 2,  /* the next operation waits for this one, any result */
};

/* The CR_E* code of an errno from a file operation (res of a callback,
 * negated): CR_ENOSPC (ENOSPC, EDQUOT), CR_ENOMEM, CR_EMFILE (EMFILE,
 * ENFILE), else CR_EIO. */
int cr_aio_errno(int err);

/* Creates the backend; prefer_sync picks plain calls unless
 * CRAWLER_NO_URING=0.  quiet: no notice on stderr when io_uring is
 * unavailable.  Returns 0, CR_ENOMEM, CR_ELOOP. */
int cr_aio_new(struct cr_loop *loop, int prefer_sync, int quiet, struct cr_aio **out);

/* Waits (bounded) for what is in flight, running callbacks, then frees
 * the ring and clears *a; accepts NULL. */
void cr_aio_free(struct cr_aio **a);

/* Nonzero for the io_uring backend. */
int cr_aio_is_ring(const struct cr_aio *a);

/* Hands queued operations to the kernel (one io_uring_enter), or runs them
 * (synchronous backend, callbacks included, also those they queue, up to
 * a bound per call; the rest runs at the next call).  Returns how many
 * callbacks ran: nonzero means call again soon. */
unsigned cr_aio_submit(struct cr_aio *a);

/* Runs submit and completions until nothing is queued or in flight, or
 * timeout_ms passed.  Blocks: only for the end of a run.  Returns 0, or
 * CR_EIO when operations were still in flight at the deadline. */
int cr_aio_drain(struct cr_aio *a, unsigned timeout_ms);

/* File slots free for cr_aio_openat. */
unsigned cr_aio_slots_free(const struct cr_aio *a);

/* Operations queued or in flight. */
unsigned cr_aio_busy(const struct cr_aio *a);

/* Opens path relative to dirfd into a new slot (*slot).  Returns 0,
 * CR_EMFILE (no free slot), CR_ENOMEM. */
int cr_aio_openat(struct cr_aio *a, int dirfd, const char *path, int flags, mode_t mode,
                  unsigned link, int *slot, cr_aio_cb cb, void *arg);

/* Writes len bytes of buf at off to a slot. */
int cr_aio_write(struct cr_aio *a, int slot, const void *buf, size_t len, uint64_t off,
                 unsigned link, cr_aio_cb cb, void *arg);

/* Reads up to len bytes at off from a slot into buf (the caller's, alive
 * until cb); res is the count read, 0 at the end of the file. */
int cr_aio_read(struct cr_aio *a, int slot, void *buf, size_t len, uint64_t off,
                unsigned link, cr_aio_cb cb, void *arg);

/* The same for a plain descriptor of the caller's. */
int cr_aio_write_fd(struct cr_aio *a, int fd, const void *buf, size_t len, uint64_t off,
                    unsigned link, cr_aio_cb cb, void *arg);

/* sync_file_range(2) on a slot. */
int cr_aio_sync_range(struct cr_aio *a, int slot, uint64_t off, uint64_t len, unsigned flags,
                      unsigned link, cr_aio_cb cb, void *arg);

/* fsync (datasync: fdatasync) on a plain descriptor. */
int cr_aio_fsync_fd(struct cr_aio *a, int fd, int datasync, unsigned link, cr_aio_cb cb,
                    void *arg);

/* Closes a slot; the slot is free again when cb runs. */
int cr_aio_close(struct cr_aio *a, int slot, unsigned link, cr_aio_cb cb, void *arg);

int cr_aio_renameat(struct cr_aio *a, int olddirfd, const char *oldpath, int newdirfd,
                    const char *newpath, unsigned link, cr_aio_cb cb, void *arg);
int cr_aio_unlinkat(struct cr_aio *a, int dirfd, const char *path, int flags, unsigned link,
                    cr_aio_cb cb, void *arg);
/* statx(2); buf is the caller's and must live until cb. */
struct statx;
int cr_aio_statx(struct cr_aio *a, int dirfd, const char *path, int flags, unsigned mask,
                 struct statx *buf, unsigned link, cr_aio_cb cb, void *arg);
int cr_aio_mkdirat(struct cr_aio *a, int dirfd, const char *path, mode_t mode, unsigned link,
                   cr_aio_cb cb, void *arg);

#endif
