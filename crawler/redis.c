/*
 * redis.c - hiredis 0.14's async API on the loop; see redis.h.
 *
 * What hiredis 0.14 does, and this file relies on (async.c of 0.14.1):
 *
 * - redisAsyncConnect starts a non-blocking connect (after a getaddrinfo
 *   that, for an IP literal, only parses).  An error found at once (a
 *   refused loopback port) comes back in ac->err; otherwise the first read
 *   or write event checks SO_ERROR.  Nothing asks for that event by itself:
 *   the adapter is attached after the connect, so the handshake commands
 *   queued right after it are what ask for writability.
 * - Any failure (connect, read, write, protocol) ends in one teardown,
 *   __redisAsyncFree: first every pending reply callback with a NULL
 *   reply, then the adapter's cleanup hook (the descriptor is still open),
 *   then onDisconnect only if the connect had succeeded, then the context
 *   is freed.  So the cleanup hook is the one place that sees every
 *   connection end.
 * - redisAsyncFree from inside a reply callback only sets a flag: hiredis
 *   frees after the callback returns.  From the connect or disconnect
 *   callbacks it would free the context under hiredis, so this file sets
 *   neither and never frees from the cleanup hook.
 * - A reply that arrives with no callback pending and is not an error
 *   reply reaches an assert() in hiredis (it assumes pub/sub); a command
 *   with no argument reaches another.  Both are prevented here.
 */
#include "redis.h"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include "crawler.h"
#include "dns.h"
#include "loop.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_HOST_MAX 255
#define REDIS_WHY_MAX 320

enum {
  R_WAIT,        /* no connection; conn_timer is the backoff */
  R_RESOLVING,   /* waiting for c-ares; conn_timer is the connect deadline */
  R_CONNECTING,  /* TCP connect and handshake; conn_timer as above */
  R_UP,          /* handshake done */
};

/* A command accepted and not yet answered: in the queue (buf holds its
 * bytes) or in flight (buf NULL: hiredis has copied them). */
struct redis_cmd {
  struct redis_cmd *next;
  struct cr_redis *r;
  cr_redis_reply_cb cb;
  void *arg;
  char *buf;
  size_t len;
  uint64_t deadline;      /* loop ms */
  uint64_t sent;          /* loop ms it went to hiredis */
  const char *fail;       /* why it fails, when the client decided it */
};

struct cmd_list {
  struct redis_cmd *head;
  struct redis_cmd **tail;
  size_t n;
};

struct cr_redis {
  struct cr_loop *loop;
  struct cr_redis_config cfg;
  char host[REDIS_HOST_MAX + 1];
  int host_is_name;
  int port;
  char *user;             /* NULL: AUTH with the password only */
  char *password;         /* NULL: no AUTH */
  int db;                 /* -1: no SELECT */

  int state;
  int closing;            /* inside cr_redis_free */
  int in_cb;              /* depth of owner callbacks, for cr_redis_free */
  redisAsyncContext *ac;
  int watch_id;           /* -1 when none */
  unsigned events;        /* what the watcher asks for */
  char addr[INET6_ADDRSTRLEN];
  unsigned addr_idx;      /* which address of a name's answer to try */
  unsigned failures;      /* attempts failed since the last up: backoff */
  unsigned hs_pending;    /* handshake replies still to come */
  struct cr_dns_req dreq;

  struct cr_timer conn_timer;
  struct cr_timer cmd_timer;

  struct cmd_list queue;  /* waiting for a connection */
  struct cmd_list fly;    /* sent, in hiredis's reply order */
  size_t pending_bytes;

  /* Per connection: hiredis's reply builders wrapped (see guard_root). */
  redisReplyObjectFunctions fns;
  redisReplyObjectFunctions *orig_fns;
  uint64_t conn_cmds;     /* commands given to this connection */
  uint64_t conn_roots;    /* top-level replies read from it */
  int obuf_partial;       /* the last write left bytes behind */
  const char *drop_why;   /* set when this side ends the connection */
  char why[REDIS_WHY_MAX];

  uint64_t bytes_in_closed;
  uint64_t rng;
  struct cr_redis_stats st;
};

static const char MSG_CLOSED[] = "redis: client closed";
static const char MSG_TIMEOUT[] = "redis: command timed out";
static const char MSG_TIMEOUT_QUEUED[] = "redis: command timed out waiting for a connection";
static const char MSG_DROPPED[] = "redis: connection dropped (an earlier command timed out)";
static const char MSG_UNSOLICITED[] = "redis: protocol error: a reply no command asked for";
static const char MSG_HUGE_ARRAY[] = "redis: protocol error: array reply larger than max_reply";
static const char MSG_HUGE_REPLY[] = "redis: reply larger than max_reply";

static void conn_down(struct cr_redis *r, const char *reason);
static void cmd_timer_arm(struct cr_redis *r);

void cr_redis_config_defaults(struct cr_redis_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->connect_timeout_ms = 2000;
  cfg->command_timeout_ms = 5000;
  cfg->backoff_min_ms = 100;
  cfg->backoff_max_ms = 5000;
  cfg->max_pending = 16u << 20;
  cfg->max_reply = 64u << 20;
}

/* ---- lists of commands ---- */

static void list_init(struct cmd_list *l)
{
  l->head = NULL;
  l->tail = &l->head;
  l->n = 0;
}

static void list_push(struct cmd_list *l, struct redis_cmd *c)
{
  c->next = NULL;
  *l->tail = c;
  l->tail = &c->next;
  l->n++;
}

static struct redis_cmd *list_shift(struct cmd_list *l)
{
  struct redis_cmd *c = l->head;

  if(!c)
    return NULL;
  l->head = c->next;
  if(!l->head)
    l->tail = &l->head;
  l->n--;
  c->next = NULL;
  return c;
}

/* ---- the owner's callbacks ---- */

static void notify_state(struct cr_redis *r, int up, const char *reason)
{
  if(!r->cfg.state_cb || r->closing)
    return;
  r->in_cb++;
  r->cfg.state_cb(r, up, reason, r->cfg.state_arg);
  r->in_cb--;
}

/* Ends a command: calls its callback once and frees it.  It must already
 * be off both lists. */
static void cmd_finish(struct cr_redis *r, struct redis_cmd *c, redisReply *reply,
                       const char *err)
{
  r->pending_bytes -= c->len;
  if(err && c->cb)
    r->st.failed++;
  if(c->cb) {
    r->in_cb++;
    c->cb(r, reply, err, c->arg);
    r->in_cb--;
  }
  free(c->buf);
  free(c);
}

/* ---- the adapter: hiredis's hooks on one loop watcher ---- */

static void watch_set(struct cr_redis *r, unsigned events)
{
  /* hiredis calls the hooks on every read and write, asking for what it
   * already has: only a change costs an epoll_ctl. */
  if(events == r->events || r->watch_id < 0)
    return;
  r->events = events;
  if(cr_loop_modify(r->loop, r->watch_id, events))
    fprintf(stderr, "crawler: redis: cannot change the watcher of fd %d\n", r->ac ? r->ac->c.fd : -1);
}

static void ev_add_read(void *privdata)
{
  struct cr_redis *r = privdata;

  watch_set(r, r->events | CR_READ);
}

static void ev_del_read(void *privdata)
{
  struct cr_redis *r = privdata;

  watch_set(r, r->events & ~(unsigned)CR_READ);
}

static void ev_add_write(void *privdata)
{
  struct cr_redis *r = privdata;

  watch_set(r, r->events | CR_WRITE);
}

static void ev_del_write(void *privdata)
{
  struct cr_redis *r = privdata;

  watch_set(r, r->events & ~(unsigned)CR_WRITE);
}

/* Bytes the kernel received on fd (Linux 4.1's tcpi_bytes_received): hiredis
 * reads into a stack buffer and feeds its parser, with no place to count. */
static uint64_t tcp_bytes_in(int fd)
{
  struct tcp_info ti;
  socklen_t len = sizeof(ti);

  memset(&ti, 0, sizeof(ti));
  if(fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
    return 0;
  if(len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
    return 0;
  return ti.tcpi_bytes_received;
}

/* hiredis ends the connection: called once per context from its teardown,
 * after the pending callbacks ran and before the descriptor is closed. */
static void ev_cleanup(void *privdata)
{
  struct cr_redis *r = privdata;
  redisAsyncContext *ac = r->ac;
  const char *reason = r->drop_why;
  int was_up = r->state == R_UP;

  if(!ac)
    return;
  r->bytes_in_closed += tcp_bytes_in(ac->c.fd);
  cr_loop_unwatch(r->loop, r->watch_id);
  r->watch_id = -1;
  r->events = 0;
  r->ac = NULL;
  r->hs_pending = 0;
  if(r->closing)
    return;
  if(!reason) {
    const char *what = ac->errstr && ac->err ? ac->errstr : "closed";

    if(was_up)
      snprintf(r->why, sizeof(r->why), "redis: connection to %s:%d lost: %s", r->addr, r->port, what);
    else
      snprintf(r->why, sizeof(r->why), "redis: connect %s:%d: %s", r->addr, r->port, what);
    reason = r->why;
  }
  conn_down(r, reason);
}

/* ---- guards on hiredis's reply builders ---- */

/* A top-level reply (task->parent NULL) must answer a command given to this
 * connection.  hiredis 0.14 asserts otherwise, unless it is an error reply
 * (Redis sends one unasked before closing, e.g. "max number of clients");
 * returning NULL makes its parser fail instead ("Out of memory"), which
 * ends the connection like any protocol error. */
static int guard_root(const redisReadTask *task)
{
  struct cr_redis *r = task->privdata;

  if(task->parent)
    return 1;
  r->conn_roots++;
  if(r->conn_roots > r->conn_cmds && task->type != REDIS_REPLY_ERROR) {
    r->drop_why = MSG_UNSOLICITED;
    return 0;
  }
  return 1;
}

static void *guard_string(const redisReadTask *task, char *str, size_t len)
{
  struct cr_redis *r = task->privdata;

  if(!guard_root(task))
    return NULL;
  return r->orig_fns->createString(task, str, len);
}

static void *guard_array(const redisReadTask *task, int elements)
{
  struct cr_redis *r = task->privdata;

  if(!guard_root(task))
    return NULL;
  /* hiredis allocates the element array from the header alone: "*2147483647"
   * would be 16 GB before a single element arrived. */
  if(elements > 0 && (size_t)elements > r->cfg.max_reply / sizeof(void *)) {
    r->drop_why = MSG_HUGE_ARRAY;
    return NULL;
  }
  return r->orig_fns->createArray(task, elements);
}

static void *guard_integer(const redisReadTask *task, long long value)
{
  struct cr_redis *r = task->privdata;

  if(!guard_root(task))
    return NULL;
  return r->orig_fns->createInteger(task, value);
}

static void *guard_nil(const redisReadTask *task)
{
  struct cr_redis *r = task->privdata;

  if(!guard_root(task))
    return NULL;
  return r->orig_fns->createNil(task);
}

/* ---- connection ---- */

/* Ends the connection from this side, with the reason its pending commands
 * and the owner will see.  Outside hiredis callbacks it tears down at once;
 * inside one, hiredis does it when the callback returns. */
static void conn_drop(struct cr_redis *r, const char *why)
{
  if(!r->ac)
    return;
  if(!r->drop_why)
    r->drop_why = why;
  redisAsyncFree(r->ac);
}

static void on_io(struct cr_loop *loop, int fd, unsigned events, void *arg)
{
  struct cr_redis *r = arg;
  redisAsyncContext *ac = r->ac;

  if(!ac)
    return;
  if(events & (CR_READ | CR_ERROR)) {
    redisAsyncHandleRead(ac);
    /* A callback may have dropped it; a new one is only made from a timer,
     * so the same pointer is the same connection. */
    if(r->ac != ac)
      return;
    /* hiredis buffers a bulk string whole, whatever length it claims. */
    if(ac->c.reader->len - ac->c.reader->pos > r->cfg.max_reply) {
      conn_drop(r, MSG_HUGE_REPLY);
      return;
    }
  }
  if(events & CR_WRITE) {
    size_t before = sdslen(ac->c.obuf);
    size_t after;

    redisAsyncHandleWrite(ac);
    if(r->ac != ac)
      return;
    after = sdslen(ac->c.obuf);
    if(after < before) {
      r->st.writes++;
      r->st.bytes_out += before - after;
      if(!r->obuf_partial)
        r->st.round_trips++;
      r->obuf_partial = after > 0;
    }
  }
}

static void cmd_on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Hands a command to hiredis.  Returns 0, or -1 if hiredis refused it (it
 * is tearing the connection down); the command then stays the caller's. */
static int cmd_send(struct cr_redis *r, struct redis_cmd *c)
{
  if(redisAsyncFormattedCommand(r->ac, cmd_on_reply, c, c->buf, c->len) != REDIS_OK)
    return -1;
  free(c->buf);
  c->buf = NULL;
  c->sent = cr_loop_now(r->loop);
  r->conn_cmds++;
  r->st.commands++;
  list_push(&r->fly, c);
  return 0;
}

/* Whether a command may go to hiredis now. */
static int can_send(const struct cr_redis *r)
{
  return r->state == R_UP && r->ac && !(r->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

static void queue_flush(struct cr_redis *r)
{
  while(r->queue.head && can_send(r)) {
    struct redis_cmd *c = list_shift(&r->queue);

    if(cmd_send(r, c)) {
      /* Put it back at the head: order is kept. */
      c->next = r->queue.head;
      r->queue.head = c;
      if(!c->next)
        r->queue.tail = &c->next;
      r->queue.n++;
      break;
    }
  }
}

static void hs_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
  struct cr_redis *r = privdata;
  redisReply *rep = reply;

  /* NULL: the connection is going; the cleanup hook reports it. */
  if(!rep || r->ac != ac)
    return;
  r->st.replies++;
  if(rep->type == REDIS_REPLY_ERROR) {
    snprintf(r->why, sizeof(r->why), "redis: %s:%d refused the handshake: %.*s", r->addr,
             r->port, (int)(rep->len < 200 ? rep->len : 200), rep->str ? rep->str : "");
    conn_drop(r, r->why);
    return;
  }
  if(--r->hs_pending)
    return;
  r->state = R_UP;
  r->failures = 0;
  r->st.ups++;
  cr_timer_stop(r->loop, &r->conn_timer);
  /* What waited goes first, before anything the owner issues on "up". */
  queue_flush(r);
  notify_state(r, 1, NULL);
}

/* Sends one handshake command. */
static void hs_send(struct cr_redis *r, int argc, const char **argv)
{
  if(redisAsyncCommandArgv(r->ac, hs_on_reply, r, argc, argv, NULL) != REDIS_OK)
    return; /* only on allocation failure; the connect timeout ends it */
  r->hs_pending++;
  r->conn_cmds++;
  r->st.commands++;
}

/* Starts a connection to the first or next address of addrs (the list
 * dns.h gives: "1.2.3.4,[2001:db8::1]"), or to the literal host. */
static void conn_open(struct cr_redis *r, const char *addrs)
{
  const char *p = addrs;
  const char *end;
  size_t n = 0;
  size_t pick;
  size_t len;
  char dbuf[16];
  const char *argv[3];

  for(end = addrs; *end; end++)
    n += *end == ',';
  n++;
  pick = r->addr_idx % n;
  while(pick--)
    p = strchr(p, ',') + 1;
  end = strchr(p, ',');
  len = end ? (size_t)(end - p) : strlen(p);
  if(len >= 2 && p[0] == '[') {
    p++;
    len -= 2;
  }
  if(len >= sizeof(r->addr)) {
    conn_down(r, "redis: bad address from the resolver");
    return;
  }
  memcpy(r->addr, p, len);
  r->addr[len] = '\0';

  r->ac = redisAsyncConnect(r->addr, r->port);
  if(!r->ac) {
    conn_down(r, "redis: out of memory");
    return;
  }
  if(r->ac->err) {
    snprintf(r->why, sizeof(r->why), "redis: connect %s:%d: %s", r->addr, r->port, r->ac->errstr);
    redisAsyncFree(r->ac);
    r->ac = NULL;
    conn_down(r, r->why);
    return;
  }
  r->watch_id = cr_loop_watch(r->loop, r->ac->c.fd, 0, on_io, r);
  if(r->watch_id < 0) {
    snprintf(r->why, sizeof(r->why), "redis: connect %s:%d: cannot watch the socket: %s", r->addr,
             r->port, cr_strerror(r->watch_id));
    redisAsyncFree(r->ac);
    r->ac = NULL;
    r->watch_id = -1;
    conn_down(r, r->why);
    return;
  }
  r->events = 0;
  r->ac->data = r;
  r->ac->ev.data = r;
  r->ac->ev.addRead = ev_add_read;
  r->ac->ev.delRead = ev_del_read;
  r->ac->ev.addWrite = ev_add_write;
  r->ac->ev.delWrite = ev_del_write;
  r->ac->ev.cleanup = ev_cleanup;
  r->orig_fns = r->ac->c.reader->fn;
  r->fns = *r->orig_fns;
  r->fns.createString = guard_string;
  r->fns.createArray = guard_array;
  r->fns.createInteger = guard_integer;
  r->fns.createNil = guard_nil;
  r->ac->c.reader->fn = &r->fns;
  r->ac->c.reader->privdata = r;
  r->conn_cmds = 0;
  r->conn_roots = 0;
  r->obuf_partial = 0;
  r->drop_why = NULL;
  r->state = R_CONNECTING;

  /* The handshake: these also ask hiredis for the first write event,
   * which is how the end of the connect is noticed. */
  if(r->password) {
    argv[0] = "AUTH";
    if(r->user) {
      argv[1] = r->user;
      argv[2] = r->password;
      hs_send(r, 3, argv);
    }
    else {
      argv[1] = r->password;
      hs_send(r, 2, argv);
    }
  }
  if(r->db >= 0) {
    snprintf(dbuf, sizeof(dbuf), "%d", r->db);
    argv[0] = "SELECT";
    argv[1] = dbuf;
    hs_send(r, 2, argv);
  }
  if(!r->password && r->db < 0) {
    argv[0] = "PING";
    hs_send(r, 1, argv);
  }
}

static void on_resolved(struct cr_dns_req *req, int status, const char *addrs, const char *reason)
{
  struct cr_redis *r = req->arg;

  if(status) {
    snprintf(r->why, sizeof(r->why), "redis: resolving %s: %s", r->host, reason ? reason : "failed");
    conn_down(r, r->why);
    return;
  }
  conn_open(r, addrs);
}

/* Starts one connection attempt (the connect deadline covers all of it). */
static void conn_start(struct cr_redis *r)
{
  const char *addrs = NULL;
  const char *reason = NULL;
  int rc;

  r->st.connects++;
  r->drop_why = NULL;
  cr_timer_start(r->loop, &r->conn_timer, r->cfg.connect_timeout_ms);
  if(!r->host_is_name) {
    r->state = R_CONNECTING;
    conn_open(r, r->host);
    return;
  }
  r->state = R_RESOLVING;
  r->dreq.cb = on_resolved;
  r->dreq.arg = r;
  rc = cr_dns_lookup(r->cfg.dns, r->host, &r->dreq, &addrs, &reason);
  if(rc == 0)
    conn_open(r, addrs);
  else if(rc == CR_EDNS) {
    snprintf(r->why, sizeof(r->why), "redis: resolving %s: %s", r->host, reason ? reason : "failed");
    conn_down(r, r->why);
  }
  else if(rc < 0)
    conn_down(r, "redis: out of memory");
}

static uint64_t rng_next(struct cr_redis *r)
{
  r->rng ^= r->rng << 13;
  r->rng ^= r->rng >> 7;
  r->rng ^= r->rng << 17;
  return r->rng;
}

/* No connection now (an attempt failed, or an up connection ended): wait,
 * then try again.  The waits double per failure, each drawn in [1/2, 1] of
 * its nominal value. */
static void conn_down(struct cr_redis *r, const char *reason)
{
  uint64_t ms = r->cfg.backoff_min_ms ? r->cfg.backoff_min_ms : 1;
  unsigned i;

  if(r->state == R_RESOLVING)
    cr_dns_cancel(r->cfg.dns, &r->dreq);
  if(r->state != R_UP)
    r->addr_idx++; /* a name's next address, next time */
  for(i = 0; i < r->failures && ms < r->cfg.backoff_max_ms; i++)
    ms *= 2;
  if(ms > r->cfg.backoff_max_ms)
    ms = r->cfg.backoff_max_ms;
  ms = ms / 2 + rng_next(r) % (ms - ms / 2 + 1);
  if(r->failures < 64)
    r->failures++;
  r->state = R_WAIT;
  cr_timer_start(r->loop, &r->conn_timer, ms);
  cmd_timer_arm(r);
  notify_state(r, 0, reason);
}

static void on_conn_timer(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_redis *r = t->arg;

  switch(r->state) {
  case R_WAIT:
    conn_start(r);
    break;
  case R_RESOLVING:
    snprintf(r->why, sizeof(r->why), "redis: resolving %s: no answer in %u ms", r->host,
             r->cfg.connect_timeout_ms);
    conn_down(r, r->why);
    break;
  case R_CONNECTING:
    snprintf(r->why, sizeof(r->why), "redis: connect %s:%d: no answer in %u ms", r->addr, r->port,
             r->cfg.connect_timeout_ms);
    conn_drop(r, r->why);
    break;
  default:
    break;
  }
}

/* ---- commands ---- */

/* hiredis calls this once per command: with the reply, or with NULL when
 * the connection ends before it. */
static void cmd_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
  struct redis_cmd *c = privdata;
  struct cr_redis *r = c->r;
  char msg[REDIS_WHY_MAX];
  const char *err = NULL;

  /* Replies come in order, so it is the head. */
  if(r->fly.head != c) {
    fprintf(stderr, "crawler: redis: reply out of order\n");
    abort();
  }
  list_shift(&r->fly);
  if(reply)
    r->st.replies++;
  else if(c->fail)
    err = c->fail;
  else if(r->drop_why)
    err = r->drop_why;
  else {
    snprintf(msg, sizeof(msg), "redis: connection to %s:%d lost: %s", r->addr, r->port,
             ac->err && ac->errstr ? ac->errstr : "closed");
    err = msg;
  }
  cmd_finish(r, c, reply, err);
  if(!r->closing)
    cmd_timer_arm(r);
}

/* The first command on the wire whose caller still waits (one that timed
 * out there has no callback left; its reply is dropped when it comes). */
static struct redis_cmd *fly_waiting(const struct cr_redis *r)
{
  struct redis_cmd *c = r->fly.head;

  while(c && !c->cb)
    c = c->next;
  return c;
}

/* Arms cmd_timer for the earliest deadline: a command's own, or the time
 * the connection has been silent too long (the oldest command on the wire
 * sent command_timeout_ms ago).  Deadlines grow in issue order and both
 * lists keep it. */
static void cmd_timer_arm(struct cr_redis *r)
{
  uint64_t due = UINT64_MAX;
  uint64_t now = cr_loop_now(r->loop);
  struct redis_cmd *w = fly_waiting(r);

  if(r->fly.head)
    due = r->fly.head->sent + r->cfg.command_timeout_ms;
  if(w && w->deadline < due)
    due = w->deadline;
  if(r->queue.head && r->queue.head->deadline < due)
    due = r->queue.head->deadline;
  if(due == UINT64_MAX) {
    cr_timer_stop(r->loop, &r->cmd_timer);
    return;
  }
  cr_timer_start(r->loop, &r->cmd_timer, due > now ? due - now : 0);
}

static void on_cmd_timer(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_redis *r = t->arg;
  uint64_t now = cr_loop_now(loop);
  struct redis_cmd *c;

  while(r->queue.head && r->queue.head->deadline <= now) {
    c = list_shift(&r->queue);
    r->st.timeouts++;
    cmd_finish(r, c, NULL, MSG_TIMEOUT_QUEUED);
  }
  if(r->fly.head && r->fly.head->sent + r->cfg.command_timeout_ms <= now && r->ac) {
    /* A server silent that long is taken for dead: the connection goes,
     * and every command on it fails. */
    for(c = r->fly.head; c; c = c->next) {
      if(c->deadline <= now) {
        c->fail = MSG_TIMEOUT;
        r->st.timeouts += c->cb != NULL;
      }
      else
        c->fail = MSG_DROPPED;
    }
    snprintf(r->why, sizeof(r->why), "redis: %s:%d did not answer in %u ms; reconnecting",
             r->addr, r->port, r->cfg.command_timeout_ms);
    conn_drop(r, r->why);
  }
  else {
    /* Sent late (it waited in the queue): it fails at its deadline, and
     * the connection, just made, stays; its reply is dropped when it
     * comes. */
    while((c = fly_waiting(r)) && c->deadline <= now) {
      cr_redis_reply_cb cb = c->cb;

      c->cb = NULL;
      r->st.timeouts++;
      r->st.failed++;
      r->in_cb++;
      cb(r, NULL, MSG_TIMEOUT, c->arg);
      r->in_cb--;
    }
  }
  cmd_timer_arm(r);
}

/* Rejects what hiredis cannot match replies to: no argument at all (an
 * assert() in hiredis) and the subscription commands.  buf is RESP:
 * "*N\r\n$L\r\nNAME\r\n...". */
static int cmd_check(const char *buf, size_t len)
{
  static const char *const refused[] = {
    "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "monitor", "ssubscribe",
    "sunsubscribe",
  };
  const char *p = memchr(buf, '$', len);
  const char *name;
  char *end;
  unsigned long n;
  size_t i;

  if(!p)
    return CR_EINVAL;
  n = strtoul(p + 1, &end, 10);
  if(end[0] != '\r' || n > len || (size_t)(end + 2 - buf) + n > len)
    return CR_EINVAL;
  name = end + 2;
  for(i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    if(strlen(refused[i]) == n && !strncasecmp(name, refused[i], n))
      return CR_EINVAL;
  }
  return 0;
}

/* Takes buf (malloc'ed RESP of len bytes) in every case. */
static int cmd_submit(struct cr_redis *r, cr_redis_reply_cb cb, void *arg, char *buf, size_t len)
{
  struct redis_cmd *c;
  int rc;

  if(r->closing) {
    free(buf);
    return CR_ESTOPPED;
  }
  rc = cmd_check(buf, len);
  if(rc) {
    free(buf);
    return rc;
  }
  if(len > r->cfg.max_pending || r->pending_bytes > r->cfg.max_pending - len) {
    free(buf);
    return CR_EFULL;
  }
  c = calloc(1, sizeof(*c));
  if(!c) {
    free(buf);
    return CR_ENOMEM;
  }
  c->r = r;
  c->cb = cb;
  c->arg = arg;
  c->buf = buf;
  c->len = len;
  c->deadline = cr_loop_now(r->loop) + r->cfg.command_timeout_ms;
  r->pending_bytes += len;
  /* Anything still queued goes first. */
  if(r->queue.head || !can_send(r) || cmd_send(r, c))
    list_push(&r->queue, c);
  queue_flush(r);
  if(!cr_timer_active(&r->cmd_timer))
    cmd_timer_arm(r);
  return 0;
}

int cr_redis_command(struct cr_redis *r, cr_redis_reply_cb cb, void *arg, const char *fmt, ...)
{
  char *buf = NULL;
  va_list ap;
  int len;

  va_start(ap, fmt);
  len = redisvFormatCommand(&buf, fmt, ap);
  va_end(ap);
  /* -1 is an allocation failure, -2 a bad format. */
  if(len < 0)
    return len == -1 ? CR_ENOMEM : CR_EINVAL;
  return cmd_submit(r, cb, arg, buf, (size_t)len);
}

int cr_redis_command_argv(struct cr_redis *r, cr_redis_reply_cb cb, void *arg, int argc,
                          const char **argv, const size_t *argvlen)
{
  char *buf = NULL;
  int len;

  if(argc < 1)
    return CR_EINVAL;
  len = redisFormatCommandArgv(&buf, argc, argv, argvlen);
  if(len < 0)
    return CR_ENOMEM;
  return cmd_submit(r, cb, arg, buf, (size_t)len);
}

/* ---- URL ---- */

/* Copies s[0..n) into a new string.  NULL on allocation failure. */
static char *dup_n(const char *s, size_t n)
{
  char *d = malloc(n + 1);

  if(d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

/* Parses redis://[[user]:password@]host[:port][/db] into r.  Returns 0,
 * CR_EINVAL with *reason, or CR_ENOMEM. */
static int url_parse(struct cr_redis *r, const char *url, const char **reason)
{
  const char *p;
  const char *at;
  const char *slash;
  const char *hend;
  const char *host;
  size_t hlen;
  unsigned char tmp[sizeof(struct in6_addr)];
  size_t i;

  if(!url || strncasecmp(url, "redis://", 8) != 0) {
    *reason = "redis: the URL must begin with redis://";
    return CR_EINVAL;
  }
  p = url + 8;
  slash = strchr(p, '/');
  if(!slash)
    slash = p + strlen(p);
  /* The last '@' before the path ends the credentials. */
  at = NULL;
  for(hend = p; hend < slash; hend++) {
    if(*hend == '@')
      at = hend;
  }
  if(at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));

    if(!colon) {
      *reason = "redis: credentials in the URL must be [user]:password@";
      return CR_EINVAL;
    }
    if(colon > p) {
      r->user = dup_n(p, (size_t)(colon - p));
      if(!r->user)
        return CR_ENOMEM;
    }
    r->password = dup_n(colon + 1, (size_t)(at - colon - 1));
    if(!r->password)
      return CR_ENOMEM;
    p = at + 1;
  }
  if(*p == '[') {
    host = p + 1;
    hend = memchr(host, ']', (size_t)(slash - host));
    if(!hend) {
      *reason = "redis: unclosed [ in the URL's host";
      return CR_EINVAL;
    }
    hlen = (size_t)(hend - host);
    p = hend + 1;
  }
  else {
    host = p;
    hend = memchr(p, ':', (size_t)(slash - p));
    if(!hend)
      hend = slash;
    hlen = (size_t)(hend - host);
    p = hend;
  }
  if(!hlen || hlen > REDIS_HOST_MAX) {
    *reason = "redis: no host, or a host too long, in the URL";
    return CR_EINVAL;
  }
  memcpy(r->host, host, hlen);
  r->host[hlen] = '\0';
  r->port = REDIS_DEFAULT_PORT;
  if(p < slash && *p == ':') {
    long v = 0;

    p++;
    if(p == slash) {
      *reason = "redis: empty port in the URL";
      return CR_EINVAL;
    }
    for(; p < slash; p++) {
      if(*p < '0' || *p > '9' || v > 65535) {
        *reason = "redis: bad port in the URL";
        return CR_EINVAL;
      }
      v = v * 10 + (*p - '0');
    }
    if(v < 1 || v > 65535) {
      *reason = "redis: bad port in the URL";
      return CR_EINVAL;
    }
    r->port = (int)v;
  }
  else if(p != slash) {
    *reason = "redis: unexpected characters after the URL's host";
    return CR_EINVAL;
  }
  r->db = -1;
  if(*slash == '/' && slash[1]) {
    long v = 0;

    for(p = slash + 1; *p; p++) {
      if(*p < '0' || *p > '9' || v > 1000000) {
        *reason = "redis: the URL's path must be a database number";
        return CR_EINVAL;
      }
      v = v * 10 + (*p - '0');
    }
    r->db = (int)v;
  }
  if(inet_pton(AF_INET, r->host, tmp) == 1 || inet_pton(AF_INET6, r->host, tmp) == 1)
    return 0;
  for(i = 0; i < hlen; i++) {
    char ch = r->host[i];

    if(!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '.')) {
      *reason = "redis: the URL's host is neither an IP address nor a host name";
      return CR_EINVAL;
    }
  }
  /* hiredis would hand a name to getaddrinfo, which blocks: names go
   * through c-ares, or not at all. */
  if(!r->cfg.dns) {
    *reason = "redis: the URL's host is a name and no resolver was given "
              "(only IP addresses can be used without one)";
    return CR_EINVAL;
  }
  r->host_is_name = 1;
  return 0;
}

/* ---- lifetime ---- */

int cr_redis_new(struct cr_loop *loop, const struct cr_redis_config *cfg,
                 struct cr_redis **out, const char **reason)
{
  struct cr_redis *r;
  int rc;

  *out = NULL;
  *reason = NULL;
  r = calloc(1, sizeof(*r));
  if(!r)
    return CR_ENOMEM;
  r->loop = loop;
  r->cfg = *cfg;
  if(!r->cfg.backoff_max_ms || r->cfg.backoff_max_ms < r->cfg.backoff_min_ms)
    r->cfg.backoff_max_ms = r->cfg.backoff_min_ms;
  r->watch_id = -1;
  r->state = R_WAIT;
  list_init(&r->queue);
  list_init(&r->fly);
  r->conn_timer.cb = on_conn_timer;
  r->conn_timer.arg = r;
  r->cmd_timer.cb = on_cmd_timer;
  r->cmd_timer.arg = r;
  r->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)r ^ (uint64_t)(cr_clock() * 1e9);
  if(!r->rng)
    r->rng = 1;
  rc = url_parse(r, cfg->url, reason);
  if(rc) {
    free(r->user);
    free(r->password);
    free(r);
    if(rc == CR_ENOMEM)
      *reason = "redis: out of memory";
    return rc;
  }
  /* The first attempt starts on the next pass: no callback from here. */
  cr_timer_start(loop, &r->conn_timer, 0);
  *out = r;
  return 0;
}

void cr_redis_free(struct cr_redis **pr)
{
  struct cr_redis *r;
  struct redis_cmd *c;

  if(!pr || !*pr)
    return;
  r = *pr;
  if(r->in_cb) {
    /* hiredis would free its context under its own feet. */
    fprintf(stderr, "crawler: redis: cr_redis_free called from a callback\n");
    abort();
  }
  r->closing = 1;
  cr_timer_stop(r->loop, &r->conn_timer);
  cr_timer_stop(r->loop, &r->cmd_timer);
  if(r->state == R_RESOLVING)
    cr_dns_cancel(r->cfg.dns, &r->dreq);
  if(r->ac) {
    for(c = r->fly.head; c; c = c->next)
      c->fail = MSG_CLOSED;
    /* Runs every pending callback (NULL reply, so MSG_CLOSED), then the
     * cleanup hook. */
    conn_drop(r, MSG_CLOSED);
  }
  while(r->queue.head) {
    c = list_shift(&r->queue);
    cmd_finish(r, c, NULL, MSG_CLOSED);
  }
  free(r->user);
  free(r->password);
  free(r);
  *pr = NULL;
}

int cr_redis_up(const struct cr_redis *r)
{
  return r->state == R_UP;
}

void cr_redis_stats(const struct cr_redis *r, struct cr_redis_stats *st)
{
  *st = r->st;
  st->bytes_in = r->bytes_in_closed + (r->ac ? tcp_bytes_in(r->ac->c.fd) : 0);
  st->queued = r->queue.n;
  st->in_flight = r->fly.n;
}
