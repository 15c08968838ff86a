/*
 * loop.c - epoll plus a timer min-heap; see loop.h.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "crawler.h"

#define LOOP_BATCH 256
/* A pass longer than this takes fewer events next time (fit_batch). */
#define PASS_LONG_NS 5000000u
#define BATCH_MIN 4

struct watcher {
  int fd;          /* -1 when the slot is free */
  uint32_t gen;    /* bumped on every unwatch, so stale events are seen */
  unsigned events;
  cr_io_cb cb;
  void *arg;
  int next_free;
};

struct cr_loop {
  int epfd;
  int stop;
  uint64_t now;
  struct watcher *w;
  int w_cap;
  int free_head;          /* -1 when empty */
  struct cr_timer **heap;
  size_t heap_len;
  size_t heap_cap;
  cr_pass_cb pass_cb;
  void *pass_arg;
  int busy;               /* the owner has work in flight */
  int batch_cap;          /* events taken per epoll_wait, <= LOOP_BATCH */
  int batch;              /* this pass's share of it, <= batch_cap */
  uint64_t last_return;   /* ns of the last epoll_wait return, 0: none yet */
  uint64_t gap_max;       /* ns between two returns, while busy */
  uint64_t pass_max;      /* ns outside epoll_wait in one pass, while busy */
};

static uint64_t clock_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_ms(void)
{
  return clock_ns() / 1000000u;
}

double cr_clock(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t cr_loop_now(const struct cr_loop *loop)
{
  return loop->now;
}

int cr_loop_new(struct cr_loop **out)
{
  struct cr_loop *loop;

  *out = NULL;
  loop = calloc(1, sizeof(*loop));
  if(!loop)
    return CR_ENOMEM;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  if(loop->epfd < 0) {
    free(loop);
    return CR_ELOOP;
  }
  loop->free_head = -1;
  loop->batch = loop->batch_cap = LOOP_BATCH;
  loop->now = clock_ms();
  *out = loop;
  return 0;
}

void cr_loop_free(struct cr_loop **pl)
{
  struct cr_loop *loop;

  if(!pl || !*pl)
    return;
  loop = *pl;
  close(loop->epfd);
  free(loop->w);
  free(loop->heap);
  free(loop);
  *pl = NULL;
}

static uint32_t to_epoll(unsigned ev)
{
  uint32_t e = 0;

  if(ev & CR_READ)
    e |= EPOLLIN;
  if(ev & CR_WRITE)
    e |= EPOLLOUT;
  return e;
}

static int grow_watchers(struct cr_loop *loop)
{
  int ncap = loop->w_cap ? loop->w_cap * 2 : 64;
  struct watcher *nw = realloc(loop->w, (size_t)ncap * sizeof(*nw));
  int i;

  if(!nw)
    return CR_ENOMEM;
  /* New slots go on the free list in index order, lowest first. */
  for(i = ncap - 1; i >= loop->w_cap; i--) {
    nw[i].fd = -1;
    nw[i].gen = 0;
    nw[i].next_free = loop->free_head;
    loop->free_head = i;
  }
  loop->w = nw;
  loop->w_cap = ncap;
  return 0;
}

int cr_loop_watch(struct cr_loop *loop, int fd, unsigned events, cr_io_cb cb, void *arg)
{
  struct epoll_event ee;
  struct watcher *w;
  int id;

  if(loop->free_head < 0 && grow_watchers(loop))
    return CR_ENOMEM;
  id = loop->free_head;
  w = &loop->w[id];
  memset(&ee, 0, sizeof(ee));
  ee.events = to_epoll(events);
  ee.data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)id;
  if(epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
    return CR_ELOOP;
  loop->free_head = w->next_free;
  w->fd = fd;
  w->events = events;
  w->cb = cb;
  w->arg = arg;
  return id;
}

int cr_loop_modify(struct cr_loop *loop, int id, unsigned events)
{
  struct epoll_event ee;
  struct watcher *w = &loop->w[id];

  if(w->events == events)
    return 0;
  memset(&ee, 0, sizeof(ee));
  ee.events = to_epoll(events);
  ee.data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)id;
  if(epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ee) < 0)
    return CR_ELOOP;
  w->events = events;
  return 0;
}

void cr_loop_unwatch(struct cr_loop *loop, int id)
{
  struct watcher *w;

  if(id < 0 || id >= loop->w_cap)
    return;
  w = &loop->w[id];
  if(w->fd < 0)
    return;
  /* The descriptor may already be closed (EBADF) or replaced; either way
   * the kernel dropped or will drop it, and the generation bump below makes
   * any event already fetched for this slot stale. */
  epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  w->fd = -1;
  w->gen++;
  w->next_free = loop->free_head;
  loop->free_head = id;
}

/* ---- timer heap ---- */

/* Marks a timer taken off the heap to fire in this pass. */
#define SLOT_FIRING ((size_t)-1)

static void heap_set(struct cr_loop *loop, size_t i, struct cr_timer *t)
{
  loop->heap[i] = t;
  t->slot = i + 1;
}

static void heap_up(struct cr_loop *loop, size_t i)
{
  struct cr_timer *t = loop->heap[i];

  while(i > 0) {
    size_t parent = (i - 1) / 2;

    if(loop->heap[parent]->due <= t->due)
      break;
    heap_set(loop, i, loop->heap[parent]);
    i = parent;
  }
  heap_set(loop, i, t);
}

static void heap_down(struct cr_loop *loop, size_t i)
{
  struct cr_timer *t = loop->heap[i];

  for(;;) {
    size_t c = 2 * i + 1;

    if(c >= loop->heap_len)
      break;
    if(c + 1 < loop->heap_len && loop->heap[c + 1]->due < loop->heap[c]->due)
      c++;
    if(t->due <= loop->heap[c]->due)
      break;
    heap_set(loop, i, loop->heap[c]);
    i = c;
  }
  heap_set(loop, i, t);
}

void cr_timer_stop(struct cr_loop *loop, struct cr_timer *t)
{
  size_t i;
  struct cr_timer *last;

  if(!t->slot)
    return;
  if(t->slot == SLOT_FIRING) {
    t->slot = 0;
    return;
  }
  i = t->slot - 1;
  t->slot = 0;
  last = loop->heap[--loop->heap_len];
  if(last == t)
    return;
  heap_set(loop, i, last);
  heap_down(loop, i);
  heap_up(loop, last->slot - 1);
}

void cr_timer_start(struct cr_loop *loop, struct cr_timer *t, uint64_t ms)
{
  cr_timer_stop(loop, t);
  if(loop->heap_len == loop->heap_cap) {
    size_t ncap = loop->heap_cap ? loop->heap_cap * 2 : 256;
    struct cr_timer **nh = realloc(loop->heap, ncap * sizeof(*nh));

    /* Out of memory for a timer leaves nothing sane to do: the caller's
     * deadline would silently never fire. */
    if(!nh)
      abort();
    loop->heap = nh;
    loop->heap_cap = ncap;
  }
  t->due = loop->now + ms;
  loop->heap[loop->heap_len] = t;
  t->slot = loop->heap_len + 1;
  loop->heap_len++;
  heap_up(loop, loop->heap_len - 1);
}

int cr_timer_active(const struct cr_timer *t)
{
  return t->slot != 0 && t->slot != SLOT_FIRING;
}

static void run_timers(struct cr_loop *loop)
{
  struct cr_timer *list = NULL;
  struct cr_timer **tail = &list;

  /* Take every due timer off the heap first: a callback that re-arms its
   * timer for 0 ms must wait for the next pass, not spin here. */
  while(loop->heap_len && loop->heap[0]->due <= loop->now) {
    struct cr_timer *t = loop->heap[0];

    cr_timer_stop(loop, t);
    t->slot = SLOT_FIRING;
    t->next_due = NULL;
    *tail = t;
    tail = &t->next_due;
  }
  while(list) {
    struct cr_timer *t = list;

    list = t->next_due;
    /* An earlier callback may have stopped or re-armed it. */
    if(t->slot != SLOT_FIRING)
      continue;
    t->slot = 0;
    /* An earlier callback stopped the loop: this one is due still, and
     * fires when the loop runs again (a caller that runs it in steps, as
     * the Redis client's tests do, lost such timers for good). */
    if(loop->stop)
      cr_timer_start(loop, t, 0);
    else
      t->cb(loop, t);
  }
}

void cr_loop_set_pass(struct cr_loop *loop, cr_pass_cb cb, void *arg)
{
  loop->pass_cb = cb;
  loop->pass_arg = arg;
}

void cr_loop_break(struct cr_loop *loop)
{
  loop->stop = 1;
}

void cr_loop_set_batch(struct cr_loop *loop, int n)
{
  loop->batch_cap = n < 1 ? 1 : n > LOOP_BATCH ? LOOP_BATCH : n;
  if(loop->batch > loop->batch_cap)
    loop->batch = loop->batch_cap;
}

/* Sizes the next pass from the last one's length: halved after a pass
 * longer than PASS_LONG_NS, doubled after one shorter than a quarter of
 * it, within BATCH_MIN..the cap.  What an event costs varies by three
 * orders of magnitude (a readable socket: microseconds; a loopback
 * connect or close, which runs the peer's TCP receive path in our call:
 * 0.5 ms), so a count alone cannot bound a pass. */
static void fit_batch(struct cr_loop *loop, uint64_t pass_ns)
{
  if(pass_ns > PASS_LONG_NS) {
    if(loop->batch > BATCH_MIN)
      loop->batch /= 2;
  }
  else if(pass_ns < PASS_LONG_NS / 4 && loop->batch < loop->batch_cap) {
    loop->batch *= 2;
    if(loop->batch > loop->batch_cap)
      loop->batch = loop->batch_cap;
  }
}

void cr_loop_set_busy(struct cr_loop *loop, int busy)
{
  loop->busy = busy != 0;
}

void cr_loop_stall_max(const struct cr_loop *loop, double *gap_max, double *pass_max)
{
  if(gap_max)
    *gap_max = (double)loop->gap_max / 1e9;
  if(pass_max)
    *pass_max = (double)loop->pass_max / 1e9;
}

int cr_loop_run(struct cr_loop *loop)
{
  struct epoll_event ev[LOOP_BATCH];

  loop->stop = 0;
  loop->last_return = 0;
  while(!loop->stop) {
    int timeout = -1;
    int busy;
    uint64_t t;
    int n;
    int i;

    if(loop->pass_cb)
      loop->pass_cb(loop, loop->pass_arg);
    if(loop->stop)
      break;
    /* Two clock reads a pass (vDSO, tens of ns) buy the stall figures:
     * from the last return to here is this pass's own work. */
    t = clock_ns();
    busy = loop->busy;
    if(loop->last_return) {
      if(busy && t - loop->last_return > loop->pass_max)
        loop->pass_max = t - loop->last_return;
      fit_batch(loop, t - loop->last_return);
    }
    if(loop->heap_len) {
      uint64_t due = loop->heap[0]->due;

      loop->now = t / 1000000u;
      timeout = due <= loop->now ? 0 : (int)(due - loop->now);
    }
    n = epoll_wait(loop->epfd, ev, loop->batch, timeout);
    if(n < 0) {
      if(errno == EINTR)
        continue;
      return CR_ELOOP;
    }
    t = clock_ns();
    if(busy && loop->last_return && t - loop->last_return > loop->gap_max)
      loop->gap_max = t - loop->last_return;
    loop->last_return = t;
    loop->now = t / 1000000u;
    for(i = 0; i < n && !loop->stop; i++) {
      int id = (int)(uint32_t)ev[i].data.u64;
      uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
      struct watcher *w = &loop->w[id];
      unsigned what = 0;

      /* The slot may have been freed, or freed and reused, by an earlier
       * callback of this batch. */
      if(w->fd < 0 || w->gen != gen)
        continue;
      if(ev[i].events & EPOLLIN)
        what |= CR_READ;
      if(ev[i].events & EPOLLOUT)
        what |= CR_WRITE;
      if(ev[i].events & (EPOLLERR | EPOLLHUP))
        what |= CR_ERROR;
      w->cb(loop, w->fd, what, w->arg);
    }
    run_timers(loop);
  }
  return 0;
}
