/*
 * dist.h - one crawl shared by many crawler processes through Redis.
 *
 * Owns the worker's side of the shared frontier: its Redis client
 * (redis.h), the batches of URLs offered and finished that wait to go, the
 * shards it holds and their leases, and the knowledge of when the whole
 * crawl is over.  The engine keeps its own frontier for what this worker
 * fetches (politeness, robots.txt, DNS, retries); this module decides which
 * URLs reach it.
 *
 * Ownership by hash.  A host (scheme://host:port, the frontier's host key)
 * belongs to shard cr_hash64(origin) % CR_DIST_SHARDS; a worker fetches the
 * URLs of the shards it holds a lease on, so one worker at a time talks to
 * a host and --per-host, --delay, Crawl-delay, Retry-After pauses and dead
 * hosts hold across the crawl.  Leases are renewed by a heartbeat (every
 * lease/5, at most 1 s); each heartbeat also counts the live workers and
 * takes free shards up to a fair share (ceil(shards / live workers)).  A
 * worker over its share stops taking URLs from its surplus shards and
 * gives each back once nothing of it is left in its hands, so a joining
 * worker gets its share within a few heartbeats.  A worker that stops
 * heartbeating loses its leases when they expire; whoever takes such a
 * shard first moves the URLs its last owner had taken (inflight:S) back to
 * the queue, so they come back exactly once.
 *
 * Keys, all under "cr:{NAME}:" (the braces make the crawl name a Redis
 * Cluster hash tag, so one crawl lives on one node):
 *   conf        hash: version, shards, lease_ms, argv (the crawl's options,
 *               NUL-separated), identity (the settings that decide what is
 *               crawled, compared with every joining worker's)
 *   seeds       list of the seed URLs (the scope is built from them)
 *   nworkers    the last worker number drawn (each worker draws one)
 *   workers     zset: worker number -> last heartbeat (ms, Redis's clock)
 *   lease:S     the owner's worker number, with a TTL of lease_ms
 *   q:S         list of URL records waiting (below)
 *   ready       set of the shards whose queue may have records: a take
 *               looks only there (and drops the shards it finds empty)
 *   inflight:S  hash: URL hash (16 hex digits) -> record, taken and not
 *               finished
 *   seen:BBB    hash, BBB the first 3 hex digits of the URL's hash (4096
 *               keys): field the other 13 digits, value the shortest depth
 *               seen + 131072 * the number of the worker that took it (0
 *               while queued).  Small hashes are stored by Redis as
 *               listpacks, about 26 bytes a URL where a set of URL strings
 *               costs 100+.
 *   low:N       list of lower records (below) for worker N, "S RECORD"
 *   lowflight:N hash: the lower records worker N took and has not finished
 *   open        URLs offered and not finished: the crawl is over at 0
 *   describing  present (15 s TTL, renewed) while seeds are being offered:
 *               the crawl is not over before they all are
 * A record is "HHHHHHHHHHHHHHHH DEPTH REQ\nREFERRER\nURL": H the URL's
 * cr_hash64 in hex, REQ 0 or 1 (the requisite flag, see frontier.h).
 * Records read back are checked (syntax, the hash against the URL, the
 * shard against the key): anything else in Redis is reported and dropped.
 *
 * Round trips.  Everything a worker has to say (URLs found, URLs finished,
 * how many URLs it wants) goes in one script call, at most one at a time:
 * what comes while a call is out waits for the next one, and when nothing
 * presses (the worker has enough to do) a batch waits up to FLUSH_MS for
 * company.  The scripts are idempotent where a call may be repeated: a
 * call whose fate is unknown (timeout, dropped connection, a Redis
 * restart) is sent again; a second offer of a URL finds it seen, a second
 * finish finds nothing to delete.  Only taking URLs is not: after such a
 * failure the next call also reads back the URLs this worker's shards
 * have in flight and delivers those it does not know.
 *
 * Depth.  A URL reached by a shorter path takes the shorter depth: queued,
 * when it is taken; taken already, through a "lower" record to the worker
 * that took it (whether or not it still holds the shard), which lowers it
 * in its own frontier (frontier.h: its links are followed again from the
 * saved page).  Only a URL whose taker is gone (killed, or silent for a
 * lease) keeps the longer depth; if it was not finished, whoever takes it
 * again takes it at the shorter one.
 *
 * Not shared: --max-pages and the per-host page cap count per worker.
 */
#ifndef CR_DIST_H
#define CR_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

struct cr_loop;
struct cr_dns;
struct cr_dist;

#define CR_DIST_SHARDS 256
#define CR_DIST_LEASE_MS 10000

/* What a crawl stored in Redis says (cr_dist_load). */
struct cr_dist_conf {
  char *argv;           /* options, each NUL-terminated, argv_len bytes */
  size_t argv_len;
  char *identity;       /* NUL-terminated */
  unsigned lease_ms;
  char **seeds;         /* n_seeds URLs */
  size_t n_seeds;
};

void cr_dist_conf_free(struct cr_dist_conf *c);

/* Checks a crawl name: 1 to 64 of [A-Za-z0-9._-].  Returns 0 or -1. */
int cr_dist_name_ok(const char *name);

/* Reads a crawl's settings and seeds from Redis at url, on a loop of its
 * own (before the engine exists: the settings decide how it is made).
 * Returns 0; CR_EINVAL when no crawl of that name is there; CR_EIO when
 * Redis cannot be reached or answers nonsense (why says what, in words);
 * CR_ENOMEM. */
int cr_dist_load(const char *url, const char *name, const char *dns_servers,
                 struct cr_dist_conf *out, char *why, size_t why_len);

/* Says where two settings texts first differ ("it has 'depth=3', this run
 * has 'depth=2'"), into out. */
void cr_dist_first_difference(const char *stored, const char *mine, char *out, size_t n);

enum cr_dist_role {
  CR_DIST_DESCRIBE,     /* stores the settings, offers the seeds */
  CR_DIST_WORKER,       /* takes URLs and fetches them */
};

/* A URL taken from Redis for this worker: the engine queues it, and calls
 * cr_dist_done when it is finished (or refused). */
typedef void (*cr_dist_deliver_cb)(void *arg, const char *url, unsigned depth, int requisite,
                                   const char *referrer);

/* Something the crawl cannot go on with (a settings mismatch, Redis
 * unreachable at the start): msg says what; status is the exit status the
 * front end should give (2 for a mismatch, 3 otherwise). */
typedef void (*cr_dist_fatal_cb)(void *arg, const char *msg, int status);

struct cr_dist_config {
  const char *url;          /* redis://... */
  const char *name;         /* the crawl's name */
  struct cr_dns *dns;       /* for a host name in url; borrowed */
  enum cr_dist_role role;
  const char *identity;     /* this process's settings text */
  const char *argv;         /* DESCRIBE: the options to store */
  size_t argv_len;
  unsigned lease_ms;        /* DESCRIBE: stored; WORKER: as loaded */
  unsigned backlog;         /* WORKER: URLs to keep in hand */
  cr_dist_deliver_cb deliver;
  cr_dist_deliver_cb lower;     /* WORKER: a URL this worker may hold took a
                                   shorter depth; NULL: a URL keeps the
                                   depth it was first taken at */
  cr_dist_fatal_cb fatal;
  void *arg;
};

int cr_dist_new(struct cr_loop *loop, const struct cr_dist_config *cfg, struct cr_dist **out);

/* Frees at once; cr_dist_leave first for a clean exit. */
void cr_dist_free(struct cr_dist **d);

/* A URL found (normalized): it joins the crawl unless seen.  Returns 0 or
 * CR_ENOMEM / CR_EURL. */
int cr_dist_offer(struct cr_dist *d, const char *url, unsigned depth, int requisite,
                  const char *referrer);

/* A URL delivered to this worker is finished (its manifest line is
 * written) or refused (a duplicate, a host at its page cap).  Returns 0 or
 * CR_ENOMEM. */
int cr_dist_done(struct cr_dist *d, const char *url);

/* A URL delivered to this worker that no worker could have offered (the
 * crawl's scope refuses it: a record written behind the crawl's back) is
 * dropped, not finished: it was never counted open, so finishing it could
 * end the crawl early.  Returns 0 or CR_ENOMEM. */
int cr_dist_refuse(struct cr_dist *d, const char *url);

/* Once per loop pass, after the manifest's flush: sends what is due.
 * load: URLs this worker has queued or in flight; idle: it has nothing at
 * all to do (nothing queued, in flight, being saved). */
void cr_dist_pass(struct cr_dist *d, unsigned load, int idle);

/* Entries (URLs offered or finished) waiting to be sent. */
size_t cr_dist_waiting(const struct cr_dist *d);

/* Nonzero once the whole crawl is over (nothing queued, nothing taken
 * anywhere) and this worker has said all it had to say; for DESCRIBE, once
 * the settings are stored and every seed offered. */
int cr_dist_over(const struct cr_dist *d);

/* Starts leaving: what is still to say goes, then this worker's shards are
 * given back with the URLs it took and did not finish.  Run the loop
 * until cr_dist_left. */
void cr_dist_leave(struct cr_dist *d);
int cr_dist_left(const struct cr_dist *d);

struct cr_dist_stats {
  struct cr_redis_stats redis;
  uint64_t offered;         /* URLs offered */
  uint64_t added;           /* of those, new to the crawl */
  uint64_t taken;           /* URLs delivered to this worker */
  uint64_t bad;             /* records or keys in Redis refused */
  unsigned shards;          /* shards held now */
};

void cr_dist_stats(const struct cr_dist *d, struct cr_dist_stats *st);

#endif
