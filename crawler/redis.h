/*
 * redis.h - an asynchronous Redis client on the loop (hiredis 0.14's async
 * API), for many crawler processes sharing one crawl.
 *
 * Owns one connection at a time (a redisAsyncContext), its watcher, three
 * timers (connect/backoff, command deadlines, deferred notices) and the
 * commands accepted but not yet answered.  hiredis joins the loop only
 * through its adapter hooks (addRead/delRead/addWrite/delWrite/cleanup),
 * which map onto one cr_loop watcher; hiredis 0.14 has no timer hook, so
 * every timeout is one of our cr_timers.  No thread, no blocking call:
 * hiredis's synchronous API is never used, a host name is resolved through
 * crawler/dns.h (c-ares) and hiredis is only ever given an IP literal (its
 * connect calls getaddrinfo, which for a literal parses and returns).
 *
 * Connection.  cr_redis_new parses the URL and starts connecting at once
 * (redisAsyncConnect, non-blocking).  The handshake is AUTH (when the URL
 * has a password), then SELECT (when it has a database), or PING when it
 * has neither, so "up" always means the server answered.  The connect
 * timeout covers resolving, the TCP connect and the handshake.  After any
 * failure or disconnect the client waits and tries again, forever: the
 * waits double from backoff_min_ms to backoff_max_ms, each drawn at random
 * in [1/2, 1] of its nominal value (so that many workers cut off by one
 * Redis restart do not come back in step), and start again from the
 * minimum once a connection is up.  The state callback says "up" when a
 * handshake completes and "down" (with the reason) when a connection is
 * lost or an attempt fails; every failed attempt is reported, so an owner
 * that must not start without Redis can give up on the first one.
 *
 * Commands.  Both styles, hiredis's format (cr_redis_command: %s for a C
 * string, %b for a pointer and a length) and argv (cr_redis_command_argv),
 * are formatted at once into the RESP bytes, so the caller's strings may go
 * away when the call returns.  Commands issued while the client is not up
 * are QUEUED, not failed: they are sent in order once the next handshake
 * completes.  The queue is bounded: commands accepted and not yet answered
 * (queued or in flight) may hold at most max_pending bytes; past that a
 * command is refused at once (CR_EFULL).  Every command has a deadline,
 * command_timeout_ms after it was issued, whether it waits in the queue or
 * on the wire: its callback is called exactly once, with the reply or an
 * error, at the latest at its deadline (plus a loop pass).  A command that
 * times out on the wire fails with "redis: command timed out" (its reply,
 * if it comes, is dropped).  A server that has not answered the oldest
 * command on the wire command_timeout_ms after it was sent is taken for
 * dead: the connection is dropped and made again, and the commands sent
 * after it fail with "redis: connection dropped" (Redis may or may not have
 * run them; only the owner knows whether one is safe to repeat, so nothing
 * sent is ever re-sent by this module).  So a command that waited in the
 * queue and is sent just before its deadline fails alone, and the fresh
 * connection stays.
 *
 * Pipelining is hiredis's own behaviour on this loop: a command is
 * appended to hiredis's output buffer and the watcher asks for writability,
 * so every command issued before the loop next waits goes out in one
 * write(2).  The counters show it: round_trips counts those batches.
 *
 * Guards against a broken or hostile server (hiredis 0.14 trusts it):
 * a reply that no command asked for would hit an assert() in hiredis and
 * end the process, an array header of 2^31 elements would be allocated
 * before its elements arrive, and a bulk string is buffered whole however
 * long it says it is.  The client wraps hiredis's reply builders to refuse
 * the first two and checks the read buffer against max_reply after every
 * read; each is reported as an error and the connection is dropped.
 *
 * Subscriptions (SUBSCRIBE, PSUBSCRIBE, MONITOR, ...) are refused: they
 * change how hiredis matches replies to callbacks.  Blocking commands
 * (BLPOP) run into the command timeout.
 *
 * hiredis writes with write(2), not send(MSG_NOSIGNAL): the process must
 * ignore SIGPIPE (main.c does), or a write to a connection Redis closed
 * ends it.
 *
 * Lifetimes.  The client borrows the loop and the resolver, which must
 * outlive it.  A reply is valid only during its callback (hiredis frees it
 * afterwards).  Callbacks are never called from inside the function that
 * issued the command.  cr_redis_free must not be called from any of the
 * client's callbacks (hiredis would free its context under itself); stop
 * the loop, or arm a timer, and free from there.
 *
 * Design note for the next session: the shared frontier on these calls.
 *
 *   Keys, all under one prefix per crawl, "cr:{crawl}:" (the braces make it
 *   a Redis Cluster hash tag, so a crawl can stay on one node, or move the
 *   tag to the shard, "cr:{crawl:s17}:", to spread the shards over a
 *   cluster later):
 *     conf           hash: the settings that decide what is crawled; a
 *                    joining worker compares, field by field.
 *     shards         the fixed number S of virtual shards (e.g. 1024);
 *                    shard = hash64(host) % S.
 *     lease:{s}      string, the owner's worker id, SET NX PX lease_ms;
 *                    renewed with a script "if GET == me then PEXPIRE".
 *     workers        zset worker id -> last heartbeat (ms); a heartbeat is
 *                    one pipelined batch: ZADD workers + the lease renewals
 *                    of its shards (EVALSHA of one script over all of them).
 *     seen:{s}       set of 8-byte binary strings (%b of a uint64_t hash of
 *                    the normalized URL); SADD answers 1 for a new URL, so
 *                    "add if unseen, then queue" is one script per batch:
 *                    for each (hash, record) SADD seen and RPUSH q:{s}.
 *                    (An estimate, to be measured with INFO memory: past
 *                    512 members a set is a hashtable, about 50 bytes per
 *                    8-byte member: a dict entry, an sds string, a bucket
 *                    pointer.  If that is too much, split seen:{s} into
 *                    many small hashes, which Redis packs as listpacks.)
 *     q:{s}          list of URL records (depth, referrer, URL) waiting;
 *     inflight:{s}   hash hash64 -> record, of the URLs a worker took
 *                    (one script: LPOP q + HSET inflight) and has not
 *                    finished; HDEL when its manifest line is written.  A
 *                    worker that takes over shard s after a lease expired
 *                    moves inflight:{s} back to q:{s} first (one script), so
 *                    in-flight URLs come back exactly once.
 *     done           counters for the end: nothing queued and nothing in
 *                    flight in any shard, read in one script.
 *   Links to hosts owned elsewhere are grouped per shard and sent as one
 *   EVALSHA per shard per loop pass: the pipelining above makes a pass's
 *   worth of those one write.
 *
 *   What hiredis 0.14 means for it: replies arrive in order on one
 *   connection, so a batch's callbacks run in order and a script's reply
 *   can carry many results (an array of 0/1 for the SADDs).  Use EVALSHA
 *   with a fallback to EVAL on NOSCRIPT (a restarted Redis forgets its
 *   scripts), and %b for binary hashes.  A command that failed with
 *   "connection dropped" may have run: the scripts must be idempotent
 *   (SADD and HSET are; a second LPOP is not, hence the inflight hash keyed
 *   by URL hash).  Leases must be much longer than command_timeout_ms plus
 *   the reconnect backoff, or a worker that merely reconnects loses its
 *   shards.
 */
#ifndef CR_REDIS_H
#define CR_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct cr_loop;
struct cr_dns;
struct cr_redis;
struct redisReply;

/* Tells the owner the connection came up (up = 1, reason NULL) or that it
 * went down or an attempt failed (up = 0, reason says why, e.g. "redis:
 * connect 127.0.0.1:6379: Connection refused").  reason is valid during
 * the call only. */
typedef void (*cr_redis_state_cb)(struct cr_redis *r, int up, const char *reason, void *arg);

/* Delivers the outcome of one command: exactly one of reply and err is
 * non-NULL.  reply is Redis's answer, which may be an error reply
 * (reply->type == REDIS_REPLY_ERROR: Redis ran the command and refused
 * it); err is a failure of this side (timeout, connection lost, client
 * closed, a reply that could not be read).  Both are valid during the
 * call only. */
typedef void (*cr_redis_reply_cb)(struct cr_redis *r, struct redisReply *reply,
                                  const char *err, void *arg);

/* Client settings; cr_redis_config_defaults fills the defaults. */
struct cr_redis_config {
  const char *url;             /* redis://[[user]:password@]host[:port][/db];
                                  host an IPv4 or [IPv6] literal, or a name
                                  when dns is set; port 6379 if omitted;
                                  required (default NULL) */
  struct cr_dns *dns;          /* resolver for a host name; the owner calls
                                  cr_dns_pass each pass; default NULL: IP
                                  literals only */
  unsigned connect_timeout_ms; /* resolve + connect + handshake; default 2000 */
  unsigned command_timeout_ms; /* from issue to reply; default 5000 */
  unsigned backoff_min_ms;     /* first wait before reconnecting; default 100 */
  unsigned backoff_max_ms;     /* longest wait; default 5000 */
  size_t max_pending;          /* bytes of commands accepted, not answered;
                                  default 16 MiB */
  size_t max_reply;            /* bytes of one reply being read (and an
                                  array's element count times 8); default
                                  64 MiB */
  cr_redis_state_cb state_cb;  /* default NULL */
  void *state_arg;             /* default NULL */
};

/* What the client did since it was made. */
struct cr_redis_stats {
  uint64_t commands;     /* commands handed to hiredis (handshakes included) */
  uint64_t replies;      /* replies received */
  uint64_t round_trips;  /* write batches: a write(2) that began an empty
                            output buffer's worth of pipelined commands */
  uint64_t writes;       /* write(2) calls that sent something */
  uint64_t bytes_out;    /* bytes written */
  uint64_t bytes_in;     /* bytes received (the kernel's TCP_INFO count;
                            0 where the kernel does not keep it) */
  uint64_t connects;     /* connection attempts */
  uint64_t ups;          /* handshakes completed; ups - 1 are reconnects */
  uint64_t failed;       /* commands that failed on this side (err set) */
  uint64_t timeouts;     /* of those, by their deadline */
  uint64_t queued;       /* commands waiting for a connection now */
  uint64_t in_flight;    /* commands sent and not answered now */
};

/* Fills every field of cfg with its default. */
void cr_redis_config_defaults(struct cr_redis_config *cfg);

/* Makes a client and starts connecting.  Returns 0; CR_EINVAL with *reason
 * set (a static string: bad URL, or a host name without a resolver);
 * CR_ENOMEM.  Neither callback is called from inside this call. */
int cr_redis_new(struct cr_loop *loop, const struct cr_redis_config *cfg,
                 struct cr_redis **out, const char **reason);

/* Closes the connection and frees the client; clears *r; accepts NULL.
 * Every command not yet answered gets its callback with err "redis: client
 * closed"; commands issued from those callbacks are refused.  Must not be
 * called from a callback of this client. */
void cr_redis_free(struct cr_redis **r);

/* Issues a command in hiredis's format (a reply_cb may be NULL to ignore
 * the outcome).  Returns 0 when accepted: cb will be called exactly once,
 * later.  CR_EINVAL: bad format, or a subscription command; CR_EFULL:
 * max_pending would be exceeded; CR_ESTOPPED: the client is being freed;
 * CR_ENOMEM.  On an error cb is never called. */
int cr_redis_command(struct cr_redis *r, cr_redis_reply_cb cb, void *arg, const char *fmt, ...);

/* The same with argc arguments of argvlen[i] bytes each (argvlen NULL: C
 * strings). */
int cr_redis_command_argv(struct cr_redis *r, cr_redis_reply_cb cb, void *arg, int argc,
                          const char **argv, const size_t *argvlen);

/* Nonzero while a connection is up (handshake done). */
int cr_redis_up(const struct cr_redis *r);

/* Copies the counters into *st. */
void cr_redis_stats(const struct cr_redis *r, struct cr_redis_stats *st);

#endif
