/* test_loop.c - the loop's stall figures: a callback that blocks shows up as
 * the longest pass and the longest gap between epoll_wait returns while the
 * owner is busy, and not at all while it is idle (a long wait for a timer
 * is then idleness, not a stall). */
#include <stdio.h>
#include <time.h>

#include "crawler.h"
#include "loop.h"
#include "tap.h"

#define BLOCK_MS 30

struct run {
  int fired;
  int block;
};

static void sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

  while(nanosleep(&ts, &ts) != 0)
    ;
}

/* Fires three times: blocks (when asked) on the second, stops on the
 * third. */
static void on_tick(struct cr_loop *loop, struct cr_timer *t)
{
  struct run *r = t->arg;

  r->fired++;
  if(r->fired == 2 && r->block)
    sleep_ms(BLOCK_MS);
  if(r->fired == 3) {
    cr_loop_break(loop);
    return;
  }
  cr_timer_start(loop, t, r->block ? 1 : BLOCK_MS);
}

/* Runs the three ticks; busy says whether the owner reports work in
 * flight.  Returns 0 or -1 when the loop could not be made. */
static int run_ticks(int busy, int block, double *gap, double *pass)
{
  struct cr_loop *loop = NULL;
  struct cr_timer t = { 0 };
  struct run r = { 0, block };

  if(cr_loop_new(&loop))
    return -1;
  t.cb = on_tick;
  t.arg = &r;
  cr_loop_set_busy(loop, busy);
  cr_timer_start(loop, &t, 0);
  cr_loop_run(loop);
  cr_loop_stall_max(loop, gap, pass);
  cr_loop_free(&loop);
  return 0;
}

int main(void)
{
  double gap = -1.0;
  double pass = -1.0;
  char got[64];

  /* Busy, and a callback blocks for 30 ms: both figures see it. */
  if(run_ticks(1, 1, &gap, &pass) < 0)
    return 1;
  snprintf(got, sizeof(got), "gap %.1f ms pass %.1f ms", gap * 1e3, pass * 1e3);
  tap_check(pass >= (BLOCK_MS - 1) / 1e3, "a blocking callback is the longest pass", NULL,
            0, got, ">= 29 ms");
  tap_check(gap >= pass, "the gap between returns covers the pass", NULL, 0, got,
            "gap >= pass");
  tap_check(pass < 1.0, "the pass is measured, not invented", NULL, 0, got, "< 1 s");

  /* Busy, nothing blocks, but epoll_wait sleeps 30 ms for the timer: a
   * long gap, a short pass. */
  if(run_ticks(1, 0, &gap, &pass) < 0)
    return 1;
  snprintf(got, sizeof(got), "gap %.1f ms pass %.1f ms", gap * 1e3, pass * 1e3);
  tap_check(gap >= (BLOCK_MS - 1) / 1e3, "waiting in epoll_wait counts in the gap", NULL,
            0, got, "gap >= 29 ms");
  tap_check(pass < (BLOCK_MS - 1) / 1e3, "but not in the pass", NULL, 0, got,
            "pass < 29 ms");

  /* Idle: nothing is recorded, whatever happens. */
  if(run_ticks(0, 1, &gap, &pass) < 0)
    return 1;
  snprintf(got, sizeof(got), "gap %.1f ms pass %.1f ms", gap * 1e3, pass * 1e3);
  tap_check(gap == 0.0 && pass == 0.0, "nothing is measured while idle", NULL, 0, got,
            "0 and 0");
  return tap_done();
}
