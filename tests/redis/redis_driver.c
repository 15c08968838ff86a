/*
 * redis_driver.c - crawler/redis.c against a real redis-server (or a hostile
 * fake one), one scenario per run; test_redis.py starts the servers and
 * runs the scenarios.  TAP on stdout.
 *
 *   redis_driver basic PORT        connect, commands, pipelining, auth, db,
 *                                  a host name through c-ares, refusals
 *   redis_driver unreachable PORT  nothing listens: a clear error, in time
 *   redis_driver silent PORT       a listener that never answers
 *   redis_driver stall PORT PID    SIGSTOP of redis: timeouts, the loop runs
 *   redis_driver restart PORT      prints KILL; the runner kills and restarts
 *                                  redis on PORT: reconnect with backoff
 *   redis_driver hostile PORT      malformed and hostile replies
 *
 * Guard rail: this program defines getaddrinfo, so hiredis's connect (and
 * anything else in the process) calls it first; a name that is not an IP
 * literal would be a blocking lookup, and aborts the run.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "crawler.h"
#include "dns.h"
#include "loop.h"
#include "redis.h"
#include "tap.h"

/* ---- the guard rail ---- */

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static unsigned gai_calls;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
  static gai_fn real;
  unsigned char tmp[sizeof(struct in6_addr)];

  if(node && inet_pton(AF_INET, node, tmp) != 1 && inet_pton(AF_INET6, node, tmp) != 1) {
    fprintf(stderr, "guard: getaddrinfo(\"%s\") would resolve a name, blocking\n", node);
    abort();
  }
  if(!real)
    real = (gai_fn)(uintptr_t)dlsym(RTLD_NEXT, "getaddrinfo");
  gai_calls++;
  return real(node, service, hints, res);
}

/* ---- helpers ---- */

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
  char name[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(name, sizeof(name), fmt, ap);
  va_end(ap);
  tap_check(cond, name, NULL, 0, NULL, NULL);
}

#define MAX_EVENTS 256

struct state_event {
  int up;
  double at;
  char reason[320];
};

struct ctx {
  struct cr_loop *loop;
  struct cr_dns *dns;
  struct cr_timer tick;
  struct cr_timer deadline;
  int (*cond)(struct ctx *);
  int timed_out;
  double last_tick;
  double max_tick_gap;
  unsigned ticks;
  struct state_event ev[MAX_EVENTS];
  unsigned nev;
  double start;
  /* for conditions */
  unsigned want_done;
  unsigned done;
  unsigned want_events;
};

/* One command's outcome. */
struct result {
  struct ctx *c;
  int done;
  double at;
  int type;
  long long integer;
  char str[512];
  size_t len;
  char err[320];
};

#define TICK_MS 20

static void on_tick(struct cr_loop *loop, struct cr_timer *t)
{
  struct ctx *c = t->arg;
  double now = cr_clock();

  if(c->last_tick > 0.0 && now - c->last_tick > c->max_tick_gap)
    c->max_tick_gap = now - c->last_tick;
  c->last_tick = now;
  c->ticks++;
  cr_timer_start(loop, t, TICK_MS);
}

static void on_deadline(struct cr_loop *loop, struct cr_timer *t)
{
  struct ctx *c = t->arg;

  c->timed_out = 1;
  cr_loop_break(loop);
}

static void on_pass(struct cr_loop *loop, void *arg)
{
  struct ctx *c = arg;

  if(c->dns)
    cr_dns_pass(c->dns);
  if(c->cond && c->cond(c))
    cr_loop_break(loop);
}

/* Runs the loop until cond holds (checked every pass) or ms elapse.
 * Returns 1 if cond held. */
static int run_until(struct ctx *c, int (*cond)(struct ctx *), unsigned ms)
{
  c->cond = cond;
  c->timed_out = 0;
  if(cond && cond(c))
    return 1;
  cr_timer_start(c->loop, &c->deadline, ms);
  cr_loop_run(c->loop);
  cr_timer_stop(c->loop, &c->deadline);
  c->cond = NULL;
  return !c->timed_out;
}

static int cond_never(struct ctx *c)
{
  return 0;
}

static int cond_done(struct ctx *c)
{
  return c->done >= c->want_done;
}

static int cond_events(struct ctx *c)
{
  return c->nev >= c->want_events;
}

static int cond_up(struct ctx *c)
{
  return c->nev && c->ev[c->nev - 1].up;
}

static void on_state(struct cr_redis *r, int up, const char *reason, void *arg)
{
  struct ctx *c = arg;
  struct state_event *e;

  if(c->nev >= MAX_EVENTS)
    return;
  e = &c->ev[c->nev++];
  e->up = up;
  e->at = cr_clock();
  snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
  tap_note("%.3f s: %s %s", e->at - c->start, up ? "up" : "down", e->reason);
}

static void on_reply(struct cr_redis *r, struct redisReply *reply, const char *err, void *arg)
{
  struct result *res = arg;

  res->done++;
  res->at = cr_clock();
  if(res->c)
    res->c->done++;
  if(err) {
    snprintf(res->err, sizeof(res->err), "%s", err);
    return;
  }
  res->type = reply->type;
  res->integer = reply->integer;
  if(reply->str) {
    res->len = reply->len < sizeof(res->str) - 1 ? reply->len : sizeof(res->str) - 1;
    memcpy(res->str, reply->str, res->len);
    res->str[res->len] = '\0';
  }
}

static void ctx_init(struct ctx *c)
{
  memset(c, 0, sizeof(*c));
  if(cr_loop_new(&c->loop)) {
    fprintf(stderr, "cannot make a loop\n");
    exit(1);
  }
  c->tick.cb = on_tick;
  c->tick.arg = c;
  c->deadline.cb = on_deadline;
  c->deadline.arg = c;
  c->start = cr_clock();
  cr_loop_set_pass(c->loop, on_pass, c);
  cr_timer_start(c->loop, &c->tick, TICK_MS);
}

static void ctx_cleanup(struct ctx *c)
{
  cr_timer_stop(c->loop, &c->tick);
  cr_dns_free(&c->dns);
  cr_loop_free(&c->loop);
}

static struct cr_redis *client(struct ctx *c, const char *url, struct cr_redis_config *cfg)
{
  struct cr_redis_config def;
  struct cr_redis *r = NULL;
  const char *why = NULL;
  int rc;

  if(!cfg) {
    cr_redis_config_defaults(&def);
    cfg = &def;
  }
  cfg->url = url;
  cfg->state_cb = on_state;
  cfg->state_arg = c;
  if(!cfg->dns)
    cfg->dns = c->dns;
  rc = cr_redis_new(c->loop, cfg, &r, &why);
  if(rc) {
    tap_note("cr_redis_new(%s): %s", url, why ? why : cr_strerror(rc));
    return NULL;
  }
  return r;
}

/* The number of threads of this process. */
static int thread_count(void)
{
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;

  if(!d)
    return -1;
  for(;;) {
    e = readdir(d);
    if(!e)
      break;
    if(e->d_name[0] != '.')
      n++;
  }
  closedir(d);
  return n;
}

static void stats_note(const char *what, const struct cr_redis_stats *s)
{
  tap_note("%s: commands %llu, replies %llu, round trips %llu, writes %llu, bytes out %llu, "
           "in %llu, connects %llu, ups %llu, failed %llu, timeouts %llu", what,
           (unsigned long long)s->commands, (unsigned long long)s->replies,
           (unsigned long long)s->round_trips, (unsigned long long)s->writes,
           (unsigned long long)s->bytes_out, (unsigned long long)s->bytes_in,
           (unsigned long long)s->connects, (unsigned long long)s->ups,
           (unsigned long long)s->failed, (unsigned long long)s->timeouts);
}

/* Waits for one command's outcome. */
static int wait_one(struct ctx *c, struct result *res, unsigned ms)
{
  c->want_done = c->done + (res->done ? 0 : 1);
  return run_until(c, cond_done, ms);
}

/* ---- scenarios ---- */

#define PIPELINE 1000

static int scenario_basic(int port)
{
  struct ctx c;
  struct cr_redis *r;
  struct cr_redis *r2;
  struct cr_redis_config cfg;
  struct cr_redis_stats s0;
  struct cr_redis_stats s1;
  static struct result inc[PIPELINE];
  struct result res;
  char url[128];
  const char *argv[3];
  size_t argvlen[3];
  const char bin[] = "a\0b\r\nc";
  const char *why = NULL;
  unsigned i;
  int in_order = 1;
  int rc;

  ctx_init(&c);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  r = client(&c, url, NULL);
  ok(r != NULL, "client for %s", url);
  if(!r)
    return tap_done();
  ok(run_until(&c, cond_up, 3000), "connected");

  memset(&res, 0, sizeof(res));
  res.c = &c;
  ok(cr_redis_command(r, on_reply, &res, "SET %s %s", "k", "v") == 0, "SET issued");
  ok(wait_one(&c, &res, 2000) && !res.err[0] && res.type == REDIS_REPLY_STATUS &&
     !strcmp(res.str, "OK"), "SET answered OK");

  /* argv with binary bytes, then read back byte for byte. */
  argv[0] = "SET";
  argv[1] = "bin";
  argv[2] = bin;
  argvlen[0] = 3;
  argvlen[1] = 3;
  argvlen[2] = sizeof(bin) - 1;
  memset(&res, 0, sizeof(res));
  res.c = &c;
  ok(cr_redis_command_argv(r, on_reply, &res, 3, argv, argvlen) == 0, "argv SET issued");
  ok(wait_one(&c, &res, 2000) && !res.err[0], "argv SET answered");
  memset(&res, 0, sizeof(res));
  res.c = &c;
  ok(cr_redis_command(r, on_reply, &res, "GET %b", "bin", (size_t)3) == 0, "GET %%b issued");
  /* Arguments are evaluated in no set order: wait before ok(). */
  wait_one(&c, &res, 2000);
  ok(res.done && res.type == REDIS_REPLY_STRING && res.len == sizeof(bin) - 1 &&
     !memcmp(res.str, bin, res.len), "binary value read back (%zu bytes)", res.len);

  /* 1000 INCRs issued in one go: one write, few round trips. */
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "DEL ctr");
  wait_one(&c, &res, 2000);
  cr_redis_stats(r, &s0);
  for(i = 0; i < PIPELINE; i++) {
    inc[i].c = &c;
    rc = cr_redis_command(r, on_reply, &inc[i], "INCR ctr");
    if(rc) {
      ok(0, "INCR %u: %s", i, cr_strerror(rc));
      break;
    }
  }
  c.want_done = c.done + PIPELINE;
  ok(run_until(&c, cond_done, 5000), "%d pipelined INCRs answered", PIPELINE);
  cr_redis_stats(r, &s1);
  for(i = 0; i < PIPELINE; i++) {
    if(inc[i].err[0] || inc[i].integer != (long long)i + 1)
      in_order = 0;
  }
  ok(in_order, "replies in order, 1 to %d", PIPELINE);
  stats_note("pipeline", &s1);
  ok(s1.commands - s0.commands == PIPELINE, "counted %llu commands",
     (unsigned long long)(s1.commands - s0.commands));
  ok(s1.round_trips - s0.round_trips <= 2, "%d commands went out in %llu round trip(s), %llu write(s)",
     PIPELINE, (unsigned long long)(s1.round_trips - s0.round_trips),
     (unsigned long long)(s1.writes - s0.writes));
  /* "*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n" */
  ok(s1.bytes_out - s0.bytes_out == 23u * PIPELINE, "bytes out %llu == %u",
     (unsigned long long)(s1.bytes_out - s0.bytes_out), 23u * PIPELINE);
  ok(s1.bytes_in - s0.bytes_in >= 4u * PIPELINE, "bytes in %llu (TCP_INFO) >= %u",
     (unsigned long long)(s1.bytes_in - s0.bytes_in), 4u * PIPELINE);

  /* Redis's own error is a reply, not a failure of the client. */
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "INCR k");
  ok(wait_one(&c, &res, 2000) && !res.err[0] && res.type == REDIS_REPLY_ERROR,
     "an error reply is a reply: %s", res.str);

  /* Refusals, at once and without a callback. */
  ok(cr_redis_command(r, on_reply, &res, "SUBSCRIBE ch") == CR_EINVAL, "SUBSCRIBE refused");
  ok(cr_redis_command(r, on_reply, &res, "") == CR_EINVAL, "an empty command refused");
  ok(cr_redis_command_argv(r, on_reply, &res, 0, argv, NULL) == CR_EINVAL, "argc 0 refused");
  cr_redis_config_defaults(&cfg);
  cfg.max_pending = 64;
  r2 = client(&c, url, &cfg);
  ok(r2 && cr_redis_command(r2, on_reply, &res, "SET %s %s", "k",
                            "0123456789012345678901234567890123456789012345678901234567890123")
               == CR_EFULL, "past max_pending: CR_EFULL");
  cr_redis_free(&r2);

  /* A host name: refused without a resolver, through c-ares with one. */
  cr_redis_config_defaults(&cfg);
  snprintf(url, sizeof(url), "redis://localhost:%d", port);
  cfg.url = url;
  rc = cr_redis_new(c.loop, &cfg, &r2, &why);
  ok(rc == CR_EINVAL && why && strstr(why, "no resolver"), "a name without a resolver: %s",
     why ? why : "(none)");
  if(cr_dns_new(c.loop, NULL, 16, &c.dns) == 0) {
    unsigned before = c.nev;

    r2 = client(&c, url, NULL);
    c.want_events = before + 1;
    ok(r2 && run_until(&c, cond_events, 3000) && c.ev[before].up, "localhost through c-ares: up");
    cr_redis_free(&r2);
    cr_dns_free(&c.dns);
  }
  else
    ok(0, "cr_dns_new");

  /* AUTH and SELECT. */
  {
    unsigned before = c.nev;

    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", port);
    r2 = client(&c, url, NULL);
    c.want_events = before + 1;
    ok(r2 && run_until(&c, cond_events, 3000) && !c.ev[before].up &&
       strstr(c.ev[before].reason, "refused the handshake"), "a wrong password: down, %s",
       c.ev[before].reason);
    cr_redis_free(&r2);
  }
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "CONFIG SET requirepass %s", "s3 cret");
  ok(wait_one(&c, &res, 2000) && !res.err[0] && res.type == REDIS_REPLY_STATUS,
     "requirepass set");
  {
    const char *urls[] = { "redis://:s3 cret@127.0.0.1:%d/2", "redis://default:s3 cret@127.0.0.1:%d/3" };
    const char *dbs[] = { "db=2", "db=3" };

    for(i = 0; i < 2; i++) {
      unsigned before = c.nev;

      snprintf(url, sizeof(url), urls[i], port);
      r2 = client(&c, url, NULL);
      c.want_events = before + 1;
      ok(r2 && run_until(&c, cond_events, 3000) && c.ev[before].up, "%s: up", url);
      memset(&res, 0, sizeof(res));
      res.c = &c;
      if(r2)
        cr_redis_command(r2, on_reply, &res, "CLIENT INFO");
      ok(r2 && wait_one(&c, &res, 2000) && strstr(res.str, dbs[i]), "%s: %s", url, dbs[i]);
      cr_redis_free(&r2);
    }
  }
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "CONFIG SET requirepass %s", "");
  ok(wait_one(&c, &res, 2000) && !res.err[0], "requirepass cleared");

  /* Freeing with commands in flight: each gets its callback. */
  {
    struct result pend[10];

    memset(pend, 0, sizeof(pend));
    for(i = 0; i < 10; i++)
      cr_redis_command(r, on_reply, &pend[i], "GET k");
    cr_redis_free(&r);
    for(i = 0; i < 10; i++) {
      if(pend[i].done != 1 || strcmp(pend[i].err, "redis: client closed"))
        break;
    }
    ok(i == 10, "cr_redis_free: 10 pending callbacks with \"redis: client closed\"");
  }
  ok(r == NULL, "cr_redis_free cleared the pointer");

  ok(gai_calls > 0, "hiredis called getaddrinfo %u times, IP literals only", gai_calls);
  ok(thread_count() == 1, "one thread (%d)", thread_count());
  ctx_cleanup(&c);
  return tap_done();
}

/* Nothing listens on port, or a listener never answers (silent): the first
 * failure is reported within the connect timeout, commands issued meanwhile
 * fail at their deadline, and the client keeps trying. */
static int scenario_unreachable(int port, int silent)
{
  struct ctx c;
  struct cr_redis *r;
  struct cr_redis_config cfg;
  struct cr_redis_stats s;
  struct result res;
  char url[128];
  double t0;
  double took;

  ctx_init(&c);
  cr_redis_config_defaults(&cfg);
  cfg.connect_timeout_ms = 500;
  cfg.command_timeout_ms = 800;
  cfg.backoff_min_ms = 50;
  cfg.backoff_max_ms = 200;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  t0 = cr_clock();
  r = client(&c, url, &cfg);
  ok(r != NULL, "client");
  if(!r)
    return tap_done();
  memset(&res, 0, sizeof(res));
  res.c = &c;
  ok(cr_redis_command(r, on_reply, &res, "PING") == 0, "a command while down is accepted (queued)");
  c.want_events = 1;
  ok(run_until(&c, cond_events, 2000) && !c.ev[0].up, "down reported");
  took = c.ev[0].at - t0;
  if(silent)
    ok(strstr(c.ev[0].reason, "no answer in 500 ms") && took >= 0.45 && took < 1.0,
       "silent server: \"%s\" after %.3f s", c.ev[0].reason, took);
  else
    ok(strstr(c.ev[0].reason, "Connection refused") && strstr(c.ev[0].reason, url + 8) &&
       took < 0.5, "refused: \"%s\" after %.3f s", c.ev[0].reason, took);
  wait_one(&c, &res, 2000);
  ok(res.done && strstr(res.err, "timed out waiting for a connection") &&
     res.at - t0 >= 0.75 && res.at - t0 < 1.3, "the queued command failed at its deadline: "
     "\"%s\" after %.3f s", res.err, res.at - t0);
  run_until(&c, cond_never, 600);
  cr_redis_stats(r, &s);
  stats_note("unreachable", &s);
  ok(s.ups == 0 && s.connects >= 2, "kept trying: %llu attempts, never up",
     (unsigned long long)s.connects);
  ok(c.max_tick_gap < 0.2, "the loop kept ticking (longest gap %.3f s)", c.max_tick_gap);
  cr_redis_free(&r);
  ctx_cleanup(&c);
  return tap_done();
}

static int scenario_stall(int port, pid_t pid)
{
  struct ctx c;
  struct cr_redis *r;
  struct cr_redis_config cfg;
  struct cr_redis_stats s;
  struct result a;
  struct result b;
  struct result res;
  char url[128];
  double t0;
  double pass_max = 0;
  unsigned i;
  int saw_timeout_down = 0;

  ctx_init(&c);
  cr_redis_config_defaults(&cfg);
  cfg.connect_timeout_ms = 400;
  cfg.command_timeout_ms = 600;
  cfg.backoff_min_ms = 50;
  cfg.backoff_max_ms = 400;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  r = client(&c, url, &cfg);
  ok(r && run_until(&c, cond_up, 3000), "connected");
  if(!r)
    return tap_done();
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "SET x 1");
  ok(wait_one(&c, &res, 2000) && !res.err[0], "SET x 1");

  cr_loop_set_busy(c.loop, 1);
  c.max_tick_gap = 0;
  ok(kill(pid, SIGSTOP) == 0, "SIGSTOP redis (pid %d)", (int)pid);
  t0 = cr_clock();
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.c = &c;
  b.c = &c;
  cr_redis_command(r, on_reply, &a, "GET x");
  run_until(&c, cond_never, 200);
  cr_redis_command(r, on_reply, &b, "GET x");
  c.want_done = c.done + (a.done ? 0 : 1) + (b.done ? 0 : 1);
  ok(run_until(&c, cond_done, 3000), "both commands ended");
  ok(strstr(a.err, "command timed out") && a.at - t0 >= 0.55 && a.at - t0 < 1.0,
     "the first timed out: \"%s\" after %.3f s", a.err, a.at - t0);
  ok(strstr(b.err, "connection dropped") != NULL, "the one behind it: \"%s\"", b.err);
  for(i = 0; i < c.nev; i++) {
    if(!c.ev[i].up && strstr(c.ev[i].reason, "did not answer in 600 ms"))
      saw_timeout_down = 1;
  }
  ok(saw_timeout_down, "down reported with the timeout");
  /* While stopped, the kernel still accepts connections: the handshake
   * times out instead. */
  run_until(&c, cond_never, 1200);
  ok(c.ticks > 0 && c.max_tick_gap < 0.2, "the loop kept ticking during the stall (longest gap "
     "%.3f s)", c.max_tick_gap);
  cr_loop_stall_max(c.loop, NULL, &pass_max);
  ok(pass_max < 0.1, "no pass blocked (longest %.3f s)", pass_max);
  ok(!cr_redis_up(r), "down while redis is stopped");
  ok(kill(pid, SIGCONT) == 0, "SIGCONT redis");
  ok(run_until(&c, cond_up, 5000), "up again");
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "GET x");
  ok(wait_one(&c, &res, 2000) && !strcmp(res.str, "1"), "GET x after the stall: %s", res.str);
  cr_redis_stats(r, &s);
  stats_note("stall", &s);
  ok(s.timeouts >= 1 && s.ups >= 2, "timeouts %llu, ups %llu", (unsigned long long)s.timeouts,
     (unsigned long long)s.ups);
  cr_redis_free(&r);
  ctx_cleanup(&c);
  return tap_done();
}

#define RESTART_GETS 64

static int scenario_restart(int port)
{
  struct ctx c;
  struct cr_redis *r;
  struct cr_redis_config cfg;
  struct cr_redis_stats s;
  static struct result gets[RESTART_GETS];
  struct result res;
  char url[128];
  unsigned issued = 0;
  unsigned i;
  unsigned downs = 0;
  unsigned first_down = 0;
  unsigned up_after = 0;
  double first_gap = -1;
  double last_gap = -1;
  double prev = 0;

  ctx_init(&c);
  cr_redis_config_defaults(&cfg);
  cfg.connect_timeout_ms = 500;
  cfg.command_timeout_ms = 1000;
  cfg.backoff_min_ms = 50;
  cfg.backoff_max_ms = 800;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  r = client(&c, url, &cfg);
  ok(r && run_until(&c, cond_up, 3000), "connected");
  if(!r)
    return tap_done();
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "SET persist %s", "kept");
  ok(wait_one(&c, &res, 2000) && !res.err[0], "SET persist kept");

  first_down = c.nev;
  printf("KILL\n");
  fflush(stdout);
  /* A GET every 150 ms until the connection is back after going down. */
  while(issued < RESTART_GETS) {
    memset(&gets[issued], 0, sizeof(gets[issued]));
    gets[issued].c = &c;
    cr_redis_command(r, on_reply, &gets[issued], "GET persist");
    issued++;
    run_until(&c, cond_never, 150);
    for(i = first_down; i < c.nev && !up_after; i++) {
      if(c.ev[i].up && i > first_down)
        up_after = i;
    }
    if(up_after)
      break;
  }
  ok(up_after > 0, "up again after the restart");
  for(i = first_down; i < c.nev && i < up_after; i++) {
    if(c.ev[i].up)
      continue;
    downs++;
    if(prev > 0) {
      if(first_gap < 0)
        first_gap = c.ev[i].at - prev;
      last_gap = c.ev[i].at - prev;
    }
    prev = c.ev[i].at;
  }
  ok(downs >= 3, "%u failures reported while redis was down", downs);
  ok(first_gap >= 0 && last_gap > first_gap && last_gap >= 0.15,
     "the waits grew: first %.3f s, last %.3f s", first_gap, last_gap);
  c.want_done = c.done;
  for(i = 0; i < issued; i++)
    c.want_done += gets[i].done ? 0 : 1;
  ok(run_until(&c, cond_done, 3000), "every GET ended");
  for(i = 0; i < issued; i++) {
    if(gets[i].done != 1 || (!gets[i].err[0] && strcmp(gets[i].str, "kept")))
      break;
  }
  ok(i == issued, "%u GETs: each called back once, each reply \"kept\"", issued);
  ok(!gets[issued - 1].err[0], "the last GET succeeded");
  memset(&res, 0, sizeof(res));
  res.c = &c;
  cr_redis_command(r, on_reply, &res, "GET persist");
  ok(wait_one(&c, &res, 2000) && !strcmp(res.str, "kept"), "persist survived the restart (AOF)");
  cr_redis_stats(r, &s);
  stats_note("restart", &s);
  ok(s.ups == 2, "ups %llu: one reconnect", (unsigned long long)s.ups);
  cr_redis_free(&r);
  ctx_cleanup(&c);
  return tap_done();
}

/* The fake server answers "GET case:NAME" with the case's bytes. */
static int scenario_hostile(int port)
{
  static const struct {
    const char *name;
    const char *want;    /* in the command's error, or NULL: a reply */
    const char *down;    /* in the down reason that follows */
  } cases[] = {
    { "malformed", "Protocol error", NULL },
    { "truncated", "Server closed the connection", NULL },
    { "unsolicited", NULL, "no command asked for" },
    { "hugearray", "array reply larger than max_reply", NULL },
    { "hugebulk", "reply larger than max_reply", NULL },
    { "deep", "nested multi bulk", NULL },
    { "badlen", "Bulk string length out of range", NULL },
    { "ok", NULL, NULL },
  };
  struct ctx c;
  struct cr_redis *r;
  struct cr_redis_config cfg;
  struct cr_redis_stats s;
  struct result res;
  char url[128];
  size_t i;

  ctx_init(&c);
  cr_redis_config_defaults(&cfg);
  cfg.connect_timeout_ms = 1000;
  cfg.command_timeout_ms = 3000;
  cfg.backoff_min_ms = 20;
  cfg.backoff_max_ms = 100;
  cfg.max_reply = 1u << 20;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  r = client(&c, url, &cfg);
  ok(r != NULL, "client");
  if(!r)
    return tap_done();
  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    unsigned before;
    unsigned j;
    int seen = 0;

    ok(run_until(&c, cond_up, 3000), "%s: up", cases[i].name);
    before = c.nev;
    memset(&res, 0, sizeof(res));
    res.c = &c;
    cr_redis_command(r, on_reply, &res, "GET case:%s", cases[i].name);
    ok(wait_one(&c, &res, 4000), "%s: answered", cases[i].name);
    if(cases[i].want)
      ok(strstr(res.err, cases[i].want) != NULL, "%s: error \"%s\"", cases[i].name, res.err);
    else
      ok(!res.err[0], "%s: a reply (%s)", cases[i].name, res.str);
    if(cases[i].down) {
      c.want_events = before + 1;
      run_until(&c, cond_events, 2000);
      for(j = before; j < c.nev; j++) {
        if(!c.ev[j].up && strstr(c.ev[j].reason, cases[i].down))
          seen = 1;
      }
      ok(seen, "%s: connection dropped with \"%s\"", cases[i].name, cases[i].down);
    }
  }
  cr_redis_stats(r, &s);
  stats_note("hostile", &s);
  cr_redis_free(&r);
  ctx_cleanup(&c);
  return tap_done();
}

/* The fake server answers the handshake after LATE_HS_MS and "GET slow"
 * after LATE_SLOW_MS: a command queued while connecting goes out shortly
 * before its deadline, which passes on the wire. */
#define LATE_HS_MS 700
#define LATE_SLOW_MS 600
static int scenario_late(int port)
{
  struct ctx c;
  struct cr_redis *r;
  struct cr_redis_config cfg;
  struct cr_redis_stats s;
  struct result slow;
  struct result fast;
  char url[128];
  double t0;

  ctx_init(&c);
  cr_redis_config_defaults(&cfg);
  cfg.connect_timeout_ms = 3000;
  cfg.command_timeout_ms = 1000;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
  r = client(&c, url, &cfg);
  ok(r != NULL, "client");
  if(!r)
    return tap_done();
  t0 = cr_clock();
  memset(&slow, 0, sizeof(slow));
  slow.c = &c;
  cr_redis_command(r, on_reply, &slow, "GET slow");
  ok(run_until(&c, cond_up, 3000), "up after the slow handshake");
  ok(wait_one(&c, &slow, 2000), "the queued command ended");
  ok(strstr(slow.err, "timed out") != NULL, "it timed out on the wire: \"%s\"", slow.err);
  ok(slow.at - t0 < 1.2, "at its deadline: %.3f s after it was issued", slow.at - t0);
  memset(&fast, 0, sizeof(fast));
  fast.c = &c;
  cr_redis_command(r, on_reply, &fast, "GET fast");
  ok(wait_one(&c, &fast, 2000) && !fast.err[0], "the next command on the same connection: "
     "\"%s\"%s", fast.str, fast.err);
  ok(!strcmp(fast.str, "fast"), "its own reply, not the late one");
  cr_redis_stats(r, &s);
  stats_note("late", &s);
  ok(s.ups == 1 && s.connects == 1, "the connection stayed: ups %llu, connects %llu",
     (unsigned long long)s.ups, (unsigned long long)s.connects);
  ok(slow.done == 1, "the timed-out command called back once (%d)", slow.done);
  cr_redis_free(&r);
  ctx_cleanup(&c);
  return tap_done();
}

static int usage(void)
{
  fprintf(stderr, "usage: redis_driver basic|unreachable|silent|restart|hostile|late PORT\n"
                  "       redis_driver stall PORT PID\n");
  return 2;
}

/* Parses a decimal number in [1, max]; 0 if it is not one. */
static long number(const char *s, long max)
{
  char *end;
  long v = strtol(s, &end, 10);

  if(end == s || *end || v < 1 || v > max)
    return 0;
  return v;
}

int main(int argc, char **argv)
{
  int port;

  setvbuf(stdout, NULL, _IOLBF, 0);
  /* A write to a connection the fake server closed must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  if(argc < 3)
    return usage();
  port = (int)number(argv[2], 65535);
  if(!port)
    return usage();
  if(!strcmp(argv[1], "basic"))
    return scenario_basic(port);
  if(!strcmp(argv[1], "unreachable"))
    return scenario_unreachable(port, 0);
  if(!strcmp(argv[1], "silent"))
    return scenario_unreachable(port, 1);
  if(!strcmp(argv[1], "stall") && argc > 3)
    return scenario_stall(port, (pid_t)number(argv[3], 1L << 22));
  if(!strcmp(argv[1], "restart"))
    return scenario_restart(port);
  if(!strcmp(argv[1], "hostile"))
    return scenario_hostile(port);
  if(!strcmp(argv[1], "late"))
    return scenario_late(port);
  return usage();
}
