/*
 * frontier.h - what to fetch next.
 *
 * Owns the seen set (with each URL's depth), the per-host records and their
 * queues, and the ready lists: hosts that have queued URLs, a resolved
 * address and a free per-host slot.  Picking the next URL is O(1): a ready
 * list is a FIFO of hosts (round robin), never a scan over all hosts.
 *
 * No level waits for another: a page's links are queued as soon as they
 * are found.  Where slots are short, lower depth goes first: each host
 * queues its URLs by depth, and hosts wait on one ready list per depth of
 * their first URL.  Depth stays exact without barriers: a URL reached
 * later by a shorter path takes the shorter depth (queued, it moves up; in
 * flight, the engine sees the new depth when it ends; done, the engine is
 * told, to correct its manifest line and follow its links again from the
 * saved page, see cr_frontier_lower_cb).  Names are resolved eagerly
 * through the dns module as soon as a host gets its first URL, so lookups
 * overlap with transfers.
 *
 * This is the seam a distributed frontier plugs into: cr_frontier_add is
 * the only way a new URL enters (it may later route a URL to the worker that
 * owns its host instead of queuing it), the seen set is only asked "was
 * this added before", and cr_frontier_requeue takes back URLs that are
 * already owned (retries, redirects).
 *
 * Items: the frontier allocates them in cr_frontier_add; the engine owns an
 * item from cr_frontier_pop until it hands it back with cr_frontier_requeue
 * or frees it with cr_item_free after cr_frontier_release.
 */
#ifndef CR_FRONTIER_H
#define CR_FRONTIER_H

#include <stdint.h>

#include "buf.h"
#include "fetch.h"
#include "hash.h"
#include "loop.h"
#include "store.h"

struct cr_dns;
struct cr_engine;
struct cr_links;
struct cr_robots;
struct cr_host;
struct cr_frontier;

/* One URL on its way through the crawler. */
struct cr_warc_cap;
struct cr_warc_recs;
struct cr_decode;

struct cr_item {
  struct cr_item *next;       /* queue links (frontier) */
  struct cr_item *prev;
  struct cr_hnode live;       /* in the frontier's map of live URLs */
  int in_live;
  int queued;                 /* in a host queue (frontier) */
  unsigned qprio;             /* the priority it is queued under */
  struct cr_host *host;       /* host of cur (frontier) */
  char *url;                  /* the URL as added, normalized; owned */
  char *cur;                  /* the URL to fetch now (after redirects);
                                 owned; equal to url until a redirect */
  char *referrer;             /* the page that linked here, or NULL; owned */
  unsigned depth;
  int requisite;              /* its shortest path ends in a requisite
                                 link (see cr_frontier_add) */
  struct cr_host *robots_for; /* set on a robots.txt fetch: whose rules */
  /* Below: the engine's per-transfer state. */
  struct cr_engine *engine;
  struct cr_easy *easy;
  struct curl_slist *resolve;
  struct cr_file file;
  struct cr_timer retry;
  struct cr_item *run_prev;   /* list of transfers in flight or waiting */
  struct cr_item *run_next;
  struct cr_item *held_prev;  /* list of bodies paused for the link budget */
  struct cr_item *held_next;
  int held;                   /* on that list (engine) */
  int may_hold;               /* its body may be paused for it; -1: not
                                 looked at yet (engine) */
  double t0;                  /* first attempt started (cr_clock) */
  int64_t bytes;
  long status;
  const char *error;          /* static reason set while receiving */
  const char *skip;           /* static reason a filter gave not to save the
                                 body (engine); NULL: save it */
  int store_rc;
  unsigned attempts;
  unsigned failovers;         /* next-address retries since the last attempt */
  unsigned addr_seq;          /* cr_host_addr_seq when the transfer started */
  unsigned host_epoch;        /* its host's epoch when it started (frontier) */
  int h2_opener;              /* started to open an HTTP/2 connection of its
                                 host, not yet ready (frontier) */
  unsigned free_retries;      /* retries not counted as attempts (engine) */
  int h1_fallback;            /* nothing came back over h2: HTTP/1.1 (engine) */
  int auth;                   /* enum cr_auth of the transfer (engine) */
  struct cr_timer pace;       /* --limit-rate: resumes a paused body */
  double pace_t0;             /* its first body byte (cr_clock) */
  int64_t pace_bytes;         /* body bytes taken since */
  unsigned redirects;
  int keep_body;
  int checked;
  int keep_conn;              /* the connection may stay open afterwards */
  int links_started;          /* a link parser ran on this body ... */
  unsigned links_depth;       /* ... with the item at this depth */
  int links_pages;            /* ... following page links ... */
  int links_reqs;             /* ... and requisite links (engine) */
  int links_cut;              /* HTML or CSS whose links --depth cut */
  int links_css;              /* the body is CSS (else HTML) */
  struct cr_links *links;     /* link parser while an HTML/CSS body arrives */
  struct cr_buf *robots_body; /* robots.txt body while it arrives */
  /* Sitemaps (engine): a fetch of the engine's own, like robots.txt's. */
  int sitemap;                /* 1: listed (robots.txt, an index); 2:
                                 guessed (/sitemap.xml), silent if absent */
  unsigned sitemap_level;     /* 0, or 1 when listed by a sitemap index */
  int sitemap_stop;           /* the reader had enough: not an error */
  struct cr_sitemap *sm;      /* its reader while the body arrives */
  /* Re-crawls (engine). */
  struct curl_slist *cond_headers; /* request headers with the validators */
  int cond;                   /* the request carried validators */
  int kept;                   /* 304: the earlier file stays */
  int kept_links;             /* it is HTML or CSS (links_css) to read
                                 links from */
  char *etag;                 /* the response's validators, owned */
  char *last_modified;
  /* Archiving (engine, warc.h). */
  struct cr_warc_cap *wcap;   /* this attempt's capture */
  struct cr_decode *dec;      /* its body decoder (decode.h) */
  struct cr_warc_recs *wrecs; /* records of its attempts and redirects,
                                 written when it is finished */
  int warc_wait;              /* its records are being written */
  char *wait_path;            /* finish()'s arguments meanwhile */
  char *wait_ctype;
  char *wait_error;
};

/* Frees an item and its strings; accepts NULL. */
void cr_item_free(struct cr_item *it);

/* Host facts the engine needs to start a transfer. */
const char *cr_host_name(const struct cr_host *h);      /* no brackets */
unsigned cr_host_port(const struct cr_host *h);          /* effective */
/* The one address a transfer to h connects to now, as CURLOPT_RESOLVE
 * takes it ("1.2.3.4" or "[2001:db8::1]"), or NULL for an IP literal host.
 * It stays on an address that works and moves on when connects fail
 * (cr_frontier_addr_failed).  Valid until the next call into the
 * frontier. */
const char *cr_host_addr(const struct cr_host *h);

/* How many addresses h has (1 for an IP literal). */
unsigned cr_host_naddrs(const struct cr_host *h);

/* A number that changes whenever cr_host_addr does: a transfer keeps the
 * value it started with, to report a failure of that address. */
unsigned cr_host_addr_seq(const struct cr_host *h);

/* Whether a new transfer to h should look for an idle keep-alive
 * connection.  libcurl 7.88 looks for one by walking every connection to
 * the host, busy ones included, so N transfers starting at once cost O(N^2);
 * the frontier counts connections that a finished transfer may have left
 * idle and says "don't look" when there can be none.  Returns 1 (look, and
 * one idle connection is taken) or 0 (open a fresh connection). */
int cr_host_take_idle(struct cr_host *h);

/* Notes that a transfer to h ended with its connection probably kept. */
void cr_host_put_idle(struct cr_host *h);

/* What h's last ready connection spoke: 0 none yet, 1 HTTP/1.x, 2 HTTP/2
 * (see cr_frontier_connected). */
int cr_host_speaks(const struct cr_host *h);

/* Nonzero once h was declared dead (see cr_frontier_connect_result). */
int cr_host_dead(const struct cr_host *h);

/* URLs of h waiting in its queue, and slots h could still start now
 * (its per-host limit less its transfers in flight). */
unsigned cr_host_queued(const struct cr_host *h);
unsigned cr_host_free_slots(const struct cr_host *h);

/* Called for an item the frontier gives up on (its host did not resolve);
 * the engine records it and frees it. */
typedef void (*cr_frontier_fail_cb)(void *arg, struct cr_item *it, const char *reason);

/* Politeness and trap settings. */
struct cr_frontier_config {
  unsigned per_host;        /* transfers in flight per host */
  int robots;               /* fetch /robots.txt first on every host */
  uint64_t delay_ms;        /* minimum time between request starts per host */
  int jitter;               /* vary each delay at random, 0.5x to 1.5x */
  uint64_t max_delay_ms;    /* cap on a robots.txt Crawl-delay */
  uint64_t host_page_cap;   /* URLs accepted per host, 0 = no cap */
  unsigned dead_after;      /* consecutive connect failures that kill a host */
  /* Whether a host's URLs go through a proxy, which resolves the name:
   * such a host is never looked up, and cr_host_addr gives NULL for it.
   * name is not NUL-terminated (IPv6 literals keep their brackets).
   * NULL: no proxy. */
  int (*proxied)(void *arg, const char *name, size_t len, int https);
  void *proxied_arg;
};

/* Creates a frontier.  Returns 0 or CR_ENOMEM. */
int cr_frontier_new(struct cr_loop *loop, struct cr_dns *dns,
                    const struct cr_frontier_config *cfg,
                    cr_frontier_fail_cb fail_cb, void *arg, struct cr_frontier **out);

/* Frees the frontier, its hosts and every queued item; clears *f. */
void cr_frontier_free(struct cr_frontier **f);

/* Offers a normalized URL found at depth (0 for a seed) on the page
 * referrer (NULL for a seed; copied); requisite: the link is a page
 * requisite that only --page-requisites lets in (the engine's to judge:
 * the frontier keeps it on the item with the depth, and a shorter path
 * replaces both).  Returns 0 (queued), CR_EDUP (seen before; if at a
 * greater depth, it now has this one and its requisite flag, see above),
 * CR_EFULL (its host reached host_page_cap), CR_EURL (cannot be split),
 * CR_ENOMEM.  A URL of a host already declared dead is queued and failed
 * at once through the fail callback. */
int cr_frontier_add(struct cr_frontier *f, const char *url, unsigned depth, int requisite,
                    const char *referrer);

/* Hands over a host's robots.txt rules (ownership moves to the frontier;
 * NULL means "fetch failed": allow nothing, and why, copied, becomes the
 * reason every URL of the host fails with).  Queued URLs the rules refuse
 * are failed through the fail callback as they come up. */
void cr_frontier_robots_done(struct cr_frontier *f, struct cr_host *h,
                             struct cr_robots *rules, const char *why);

/* Reports that a transfer could not connect to h's address of sequence
 * seq (refused, unreachable, timed out).  If that address is still the one
 * in use, h moves to its next address.  Returns 1 when h has an address
 * that has not failed in this sweep: retry there at once, without counting
 * an attempt or a connect failure.  Returns 0 when every address failed in
 * a row (or h has one): a real connect failure, to report with
 * cr_frontier_connect_result; the next attempt sweeps the addresses
 * again. */
int cr_frontier_addr_failed(struct cr_frontier *f, struct cr_host *h, unsigned seq);

/* Tells the frontier that transfer it has a ready connection (TCP up,
 * TLS handshake done); h2: it speaks HTTP/2; fresh: the connection is new.
 * An https host starts with one transfer at a time until then, so its
 * other connections resume the first one's TLS session instead of each
 * paying a full handshake (300 connections at once to one host: 300 full
 * handshakes); after it, --per-host.  An HTTP/2 host runs at most
 * CR_H2_STREAMS transfers on each of its connections, and opens one
 * connection at a time when they are full. */
void cr_frontier_connected(struct cr_frontier *f, struct cr_item *it, int h2, int fresh);

/* One of h's HTTP/2 connections (one reported fresh) closed. */
void cr_frontier_h2_closed(struct cr_frontier *f, struct cr_host *h);

/* Streams at once on one HTTP/2 connection: libcurl's
 * CURLMOPT_MAX_CONCURRENT_STREAMS default, and what most servers allow
 * (nginx 128, Apache and h2o 100).  Past the server's limit libcurl opens
 * another connection for each transfer that does not fit while the others
 * wait for theirs: 2,000 URLs at --per-host 500 against nginx took 148
 * connections (curl -Z --parallel-max 500: 159), where 100 streams each
 * take five, opened one after another. */
#define CR_H2_STREAMS 100

/* How a transfer's connection went, for cr_frontier_connect_result. */
enum {
  CR_CONN_OK,           /* connected (TCP, and TLS where there was one) */
  CR_CONN_UNREACHABLE,  /* TCP refused, unreachable, or timed out */
  CR_CONN_TLS,          /* TCP connected, the TLS handshake failed or timed out */
};
/* What the caller does with the URL, returned by it. */
enum {
  CR_CONN_FAILED = 3,   /* a failure like any other: retry or fail it */
  CR_CONN_ECHO,         /* part of a burst already answered: retry it
                           without counting an attempt */
  CR_CONN_DEAD,         /* the host is dead: fail it "host unreachable" */
};

/* Reports how the transfer of it (just released) to h ended at the
 * connection level.  A host is never judged on a burst: a TCP failure
 * lowers how many transfers it may run at once to one, and the failures of
 * transfers started before that are "echoes" (retried without counting an
 * attempt); only TCP failures with one transfer at a time count towards
 * dead_after in a row, which declares the host dead and flushes its queue
 * with reason "host unreachable".  A failed TLS handshake on a connected
 * socket halves the limit and costs the URL an attempt, never the host.  Each success raises the limit by one, up to
 * --per-host.
 * Returns how (CR_CONN_OK) or one of CR_CONN_FAILED, _ECHO, _DEAD. */
int cr_frontier_connect_result(struct cr_frontier *f, struct cr_item *it, struct cr_host *h,
                               int how);

/* Puts back an item the engine holds, at the front of the queue of the host
 * of it->cur (which may have changed after a redirect).  Returns 0, CR_EURL,
 * CR_ENOMEM; on failure the engine still owns the item. */
int cr_frontier_requeue(struct cr_frontier *f, struct cr_item *it);

/* Takes the next item that may start now, counting it in its host's slots,
 * or returns NULL. */
struct cr_item *cr_frontier_pop(struct cr_frontier *f);

/* Tells the frontier an item is gone for good (saved, failed or dropped):
 * a shorter path found later no longer reaches it.  Call before freeing
 * any item that cr_frontier_add made. */
void cr_frontier_done(struct cr_frontier *f, struct cr_item *it);

/* What a done URL turned out to be, for cr_frontier_lower_cb. */
enum {
  CR_DONE_HTML,   /* a saved HTML page (the default) */
  CR_DONE_CSS,    /* a saved style sheet */
  CR_DONE_LEAF,   /* nothing to follow: failed, or another type */
};

/* Records what a done URL turned out to be (CR_DONE_*). */
void cr_frontier_set_kind(struct cr_frontier *f, const char *url, int kind);

/* Nonzero when url is in the seen set. */
int cr_frontier_seen(const struct cr_frontier *f, const char *url);

/* Frees the host slot an item held since cr_frontier_pop. */
void cr_frontier_release(struct cr_frontier *f, struct cr_item *it);

/* Keeps the host of it from starting anything for ms milliseconds (429 and
 * 503 back off the host, not just one URL). */
void cr_frontier_backoff(struct cr_frontier *f, struct cr_host *h, uint64_t ms);

/* Nonzero when cr_frontier_pop would (probably) return an item. */
int cr_frontier_has_ready(const struct cr_frontier *f);

/* URLs queued or waiting for DNS (not counting popped items). */
uint64_t cr_frontier_pending(const struct cr_frontier *f);

/* URLs accepted by cr_frontier_add. */
uint64_t cr_frontier_added(const struct cr_frontier *f);

/* Called when cr_frontier_add accepts a URL (not for a duplicate or a URL
 * over a cap), before the URL can fail, and again when a URL takes a
 * shorter depth: url and referrer
 * (NULL for a seed) are valid during the call. */
typedef void (*cr_frontier_accept_cb)(void *arg, const char *url, unsigned depth,
                                      int requisite, const char *referrer);

/* Sets the accept callback (NULL clears it). */
void cr_frontier_set_accept(struct cr_frontier *f, cr_frontier_accept_cb cb, void *arg);

/* Called when a URL already done takes a shorter depth, with the
 * requisite flag of that path (its manifest line had the longer one, and
 * its links were followed at that one, or cut by --depth); kind is
 * CR_DONE_*.  Arguments as for the accept callback, with the fail
 * callback's arg. */
typedef void (*cr_frontier_lower_cb)(void *arg, const char *url, unsigned depth,
                                     int requisite, const char *referrer, int kind);

/* Sets the lower callback (NULL clears it). */
void cr_frontier_set_lower(struct cr_frontier *f, cr_frontier_lower_cb cb);

/* Resuming: puts a URL that an earlier run finished at depth into the seen
 * set and counts it like an added URL (for --max-pages and the per-host
 * cap), without queuing it or fetching anything for its host.  Returns 0,
 * CR_EDUP, CR_EURL, CR_ENOMEM. */
int cr_frontier_mark_seen(struct cr_frontier *f, const char *url, unsigned depth);

#endif
