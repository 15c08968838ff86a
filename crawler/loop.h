/*
 * loop.h - the one event loop: epoll for descriptors, a min-heap for timers.
 *
 * The loop knows nothing of HTTP or DNS.  It owns the epoll instance and the
 * timer heap; watchers and timers belong to their users.
 *
 * Watchers live in a table inside the loop and are named by a small integer
 * id.  epoll_data carries the id and a generation number, so an event for a
 * watcher that was removed (or removed and its slot reused) during the same
 * epoll_wait batch is recognized as stale and dropped: any callback may close
 * any descriptor.
 *
 * Timers are caller storage (struct cr_timer) kept in a binary heap by
 * pointer; start, stop and restart cost O(log n), so thousands of
 * per-transfer deadlines stay cheap.  The earliest deadline is the epoll_wait
 * timeout.
 */
#ifndef CR_LOOP_H
#define CR_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct cr_loop;

enum {
  CR_READ = 1,
  CR_WRITE = 2,
  CR_ERROR = 4, /* reported only, never requested: EPOLLERR or EPOLLHUP */
};

/* Called when fd is ready; events is a mask of CR_READ/CR_WRITE/CR_ERROR. */
typedef void (*cr_io_cb)(struct cr_loop *loop, int fd, unsigned events, void *arg);
/* Called once per loop pass, before the loop waits. */
typedef void (*cr_pass_cb)(struct cr_loop *loop, void *arg);

struct cr_timer;
typedef void (*cr_timer_cb)(struct cr_loop *loop, struct cr_timer *t);

/* A one-shot timer.  Fill cb and arg, then start it; it is stopped when it
 * fires, before cb runs, so cb may start it again. */
struct cr_timer {
  cr_timer_cb cb;
  void *arg;
  uint64_t due;   /* monotonic ms; private */
  size_t slot;    /* heap index + 1, 0 when not armed; private */
  struct cr_timer *next_due; /* private: list of timers firing this pass */
};

/* Creates a loop.  Returns 0, CR_ELOOP (errno set) or CR_ENOMEM. */
int cr_loop_new(struct cr_loop **out);

/* Frees the loop and clears *loop; accepts NULL.  Watchers still registered
 * are dropped (their descriptors are not closed). */
void cr_loop_free(struct cr_loop **loop);

/* Starts watching fd for events (CR_READ|CR_WRITE, may be 0).  Returns a
 * watcher id >= 0, or CR_ELOOP / CR_ENOMEM. */
int cr_loop_watch(struct cr_loop *loop, int fd, unsigned events, cr_io_cb cb, void *arg);

/* Changes the events of watcher id.  Returns 0 or CR_ELOOP. */
int cr_loop_modify(struct cr_loop *loop, int id, unsigned events);

/* Stops watcher id; pending events for it in this pass are dropped.  Safe to
 * call after the descriptor was closed. */
void cr_loop_unwatch(struct cr_loop *loop, int id);

/* Arms t to fire after ms milliseconds (0: on the next pass), replacing any
 * earlier deadline. */
void cr_timer_start(struct cr_loop *loop, struct cr_timer *t, uint64_t ms);

/* Disarms t; harmless if it is not armed. */
void cr_timer_stop(struct cr_loop *loop, struct cr_timer *t);

/* Nonzero while t is armed. */
int cr_timer_active(const struct cr_timer *t);

/* Sets the hook run once per pass before waiting (NULL to clear). */
void cr_loop_set_pass(struct cr_loop *loop, cr_pass_cb cb, void *arg);

/* Runs until cr_loop_break().  Returns 0, or CR_ELOOP if epoll fails. */
int cr_loop_run(struct cr_loop *loop);

/* Makes cr_loop_run return after the current pass. */
void cr_loop_break(struct cr_loop *loop);

/* The loop's clock: monotonic milliseconds, refreshed once per pass. */
uint64_t cr_loop_now(const struct cr_loop *loop);

/* Tells the loop whether its owner has work in flight (transfers waiting on
 * the network).  The loop measures its stalls only while busy: when nothing
 * is in flight, a long wait in epoll_wait is idleness, not a stall.  The
 * value in force when the loop enters epoll_wait counts for that pass. */
void cr_loop_set_busy(struct cr_loop *loop, int busy);

/* Caps the events handled per pass (1 to 256, the default); descriptors
 * are level-triggered, so what is not taken now comes back next pass. */
void cr_loop_set_batch(struct cr_loop *loop, int n);

/* The longest stalls seen while busy, in seconds: *gap_max is the longest
 * time between two returns from epoll_wait (how late an event that was
 * ready could be noticed), *pass_max the longest time spent outside
 * epoll_wait in one pass (callbacks and bookkeeping: what a blocking call
 * inflates).  Either pointer may be NULL. */
void cr_loop_stall_max(const struct cr_loop *loop, double *gap_max, double *pass_max);

/* Reads the monotonic clock now, in seconds, for measurements. */
double cr_clock(void);

#endif
