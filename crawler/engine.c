/*
 * engine.c - the life of a URL: frontier -> DNS -> transfer -> store and
 * manifest, with retries and redirects, all on one loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cr_version.h"
#include "crawler.h"
#include "dist.h"
#include "dns.h"
#include "fetch.h"
#include "filter.h"
#include "frontier.h"
#include "hash.h"
#include "aio.h"
#include "journal.h"
#include "links.h"
#include "loop.h"
#include "convert.h"
#include "decode.h"
#include "manifest.h"
#include "pathmap.h"
#include "progress.h"
#include "recrawl.h"
#include "robots.h"
#include "scope.h"
#include "sitemap.h"
#include "store.h"
#include "url.h"
#include "warc.h"

#define PROGRESS_MS 250
#define KEEP_MAX_INFLIGHT 1024  /* see keep_alive_policy */
#define ROBOTS_MAX_REDIRECTS 5  /* RFC 9309 asks for at least five */
#define DEAD_AFTER 5            /* connect failures in a row that kill a host */
/* Retries of a URL whose connection failed in a burst its host's lowered
 * limit already answered (cr_frontier_connect_result): not counted as
 * attempts, but bounded, so a server that fails half its connections
 * forever cannot keep a URL going round. */
#define FREE_RETRIES 8
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 30000
/* How often the crawl state is forced to disk (an fsync of the journal
 * through the ring; syncfs in the synchronous backend).  A power loss
 * costs the pages finished since: they are fetched again. */
#define SYNC_MS 1000
/* How long the end of a run waits for file work in flight. */
#define DRAIN_MS 30000
#define STATE_MAGIC "crawler-state 1\n"
#define REPARSE_PER_PASS 8
#define REPARSE_MAX 8          /* reparses reading at once */
#define START_PER_PASS 32
#define RAMP_BATCH 16
#define PASS_BATCH 64
#define REPARSE_CHUNK (16 * 1024)  /* a body's read at most: the link budget */
/* Links taken from bodies per loop pass (see hold_body): about 3 ms of a
 * release build's time (resolution, scope, the seen set), 10 under ASan. */
#define LINKS_PER_PASS 1000
/* How far past --depth (0 without -r) page requisites reach: a page at
 * the last depth, its frame, the frame's style sheet, an @import of that,
 * and a font the import names are four.  The bound is there because a
 * hostile site can chain requisites without end as easily as pages. */
#define REQUISITE_LEVELS 5

/* A proxy of the configuration and how libcurl reaches it without
 * resolving a name itself: a host name is looked up once through c-ares
 * when the run starts (no transfer starts before), and every transfer
 * through the proxy carries the answer as a CURLOPT_RESOLVE entry, which
 * libcurl consults for the proxy's name as for any other. */
struct proxy {
  struct cr_engine *e;
  const char *url;             /* the configuration's */
  char *host;                  /* without brackets; NULL: no proxy */
  unsigned port;
  int is_ip;
  int waiting;                 /* the lookup is out */
  char *resolve;               /* "host:port:addr", or NULL (an IP) */
  struct cr_dns_req req;
};

struct cr_engine {
  struct cr_config cfg;
  char *manifest_path;
  char crawl_id[40];           /* names this crawl's manifest lines */
  struct cr_recrawl *prev;     /* -N: what the manifest says was saved */
  struct cr_loop *loop;
  struct cr_aio *aio;          /* file work off the loop (aio.h) */
  struct cr_store *store;
  struct cr_manifest *man;
  struct cr_dns *dns;
  struct cr_fetch *fetch;
  struct cr_frontier *fr;
  struct cr_scope *scope;      /* with -r or -p only */
  struct cr_filter *filter;    /* -A/-R and the type lists; NULL: none */
  struct cr_hset link_memo;    /* references already resolved, see links.h */
  char agent[64];              /* robots.txt product token */
  struct cr_item *running;     /* in flight, or waiting to retry */
  struct cr_item *held;        /* bodies paused for the link budget, oldest first */
  struct cr_item *held_last;
  unsigned pass_links;         /* links found in this pass */
  unsigned in_flight;
  unsigned waiting;
  unsigned saving;             /* bodies being published (store.h) */
  uint64_t rejected;           /* bad input lines, counted as done */
  cr_feed_cb feed;             /* NULL once the source is exhausted */
  void *feed_arg;
  unsigned feed_low;           /* pull more URLs below this many queued */
  struct cr_stats st;
  double t_start;
  int interrupted;
  int fatal;
  int sigfd;
  int sig_watch;
  sigset_t oldmask;
  int signals_blocked;
  struct cr_timer progress;
  struct cr_timer kick;        /* wakes the loop when work is ready */
  struct cr_timer deadline;    /* --max-time */
  int time_up;                 /* it fired */
  int creds;                   /* credentials to send (user, netrc, or a
                                  credential header) */
  struct cr_hset sitemap_origins; /* seeds' origins whose sitemaps are read */
  struct cr_hset sitemap_seen; /* sitemap URLs queued, by hash */
  unsigned sitemaps_queued;
  uint64_t sitemaps_read;      /* sitemap files that gave entries */
  uint64_t sitemap_urls;       /* <url> entries offered */
  struct cr_hset seed_origins; /* hashes of the seeds' origins: where
                                  credentials may go */
  struct cr_hset basic_origins; /* of those, the ones known to ask for
                                  Basic: credentials go at once */
  struct proxy proxies[2];     /* for http:// [0] and https:// [1] URLs */
  unsigned proxy_wait;         /* proxy lookups out: nothing starts */
  int line_shown;
  uint64_t rng;
  struct cr_buf scratch;
  struct cr_journal *jr;       /* the crawl state; NULL with CR_STATE_OFF */
  struct cr_hset bad_seen;     /* bad input lines recorded (for a resume) */
  struct cr_hmap lowered;      /* struct lowered: done URLs whose depth fell */
  struct cr_hmap where;        /* struct where: pages saved elsewhere */
  struct reparse *reparse_head; /* saved pages to read links from again */
  unsigned reparsing;          /* of those, being read now (aio.h) */
  struct reparse_run *reparse_wait; /* of those, waiting for the link budget */
  struct reparse **reparse_tail;
  struct cr_buf last_mapped;   /* save(): the path the URL mapped to */
  uint64_t reparsed;           /* saved pages whose links were read again */
  int64_t manifest_start;      /* where this crawl's lines begin, -1: unknown */
  uint64_t last_sync;          /* loop ms of the last cr_journal_sync */
  size_t man_mark;             /* manifest bytes whose records are being
                                  written (see on_pass) */
  unsigned unw_pending;        /* records not yet handed to a write */
  unsigned unw_inflight;       /* records in the journal write in flight */
  struct cr_warc *warc;        /* --warc; NULL: none */
  int warc_resume;             /* the journal recorded a WARC position */
  struct cr_warc_pos warc_pos; /* that position (replay), then the one
                                  the next DONE record carries */
  int warc_pos_due;            /* finish() writes it with its DONE */
  struct cr_dist *dist;        /* a shared crawl (dist.h); NULL: none */
  int dist_status;             /* the exit status its failure asks for */
  unsigned dist_refused;       /* records from Redis outside the scope */
};

void cr_config_defaults(struct cr_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->concurrency = 256;
  cfg->per_host = 16;
  cfg->sitemaps = 1;
  cfg->dns_in_flight = 512;
  cfg->timeout = 120.0;
  cfg->connect_timeout = 15.0;
  cfg->low_speed_time = 30;
  cfg->retries = 2;
  cfg->retry_after_max = 30.0;
  cfg->max_redirects = 10;
  cfg->progress = CR_PROGRESS_SUMMARY;
  cfg->handle_signals = 1;
  cfg->max_depth = 5;
  cfg->host_page_cap = 100000;
  cfg->max_url_len = 2048;
  cfg->max_path_segments = 32;
  cfg->max_segment_repeat = 3;
  cfg->robots = 1;
  cfg->max_crawl_delay = 30.0;
  cfg->warc_max_size = 1ull << 30;
  cfg->warc_level = 1;
  cfg->warc_dedup = 1;
}

/* Whether another transfer may start.  -c bounds transfers; pages between
 * their transfer's end and their journal record being written (published
 * through the ring, then recorded) have a bound of their own, as large, so
 * a disk slower than the network holds transfers back, but a page waiting
 * for its write-back never holds a connection's slot.  A kill costs at
 * most -c pages beyond the transfers in flight. */
static int may_start(const struct cr_engine *e)
{
  unsigned c = e->cfg.concurrency;

  return !e->proxy_wait && e->in_flight < c &&
         e->saving + e->unw_pending + e->unw_inflight < c;
}

/* ---- the running list ---- */

static void run_link(struct cr_engine *e, struct cr_item *it)
{
  it->run_prev = NULL;
  it->run_next = e->running;
  if(e->running)
    e->running->run_prev = it;
  e->running = it;
}

static void run_unlink(struct cr_engine *e, struct cr_item *it)
{
  if(it->run_prev)
    it->run_prev->run_next = it->run_next;
  else
    e->running = it->run_next;
  if(it->run_next)
    it->run_next->run_prev = it->run_prev;
  it->run_prev = NULL;
  it->run_next = NULL;
}

/* ---- the link budget ----
 *
 * Links cost the loop's own time: a page of 100,000 links held it for
 * 0.33 s (1-2.7 s under ASan), every other transfer stood still, and one
 * whose answer sat unread meanwhile failed libcurl's low-speed check.  So
 * a pass takes about LINKS_PER_PASS links from bodies; a body that would
 * give more waits for the next pass, paused (libcurl keeps the chunk and
 * stops reading its socket), and paused bodies go on first, in the order
 * they stopped, so none waits behind newcomers. */

static void held_unlink(struct cr_engine *e, struct cr_item *it)
{
  if(!it->held)
    return;
  if(it->held_prev)
    it->held_prev->held_next = it->held_next;
  else
    e->held = it->held_next;
  if(it->held_next)
    it->held_next->held_prev = it->held_prev;
  else
    e->held_last = it->held_prev;
  it->held_prev = NULL;
  it->held_next = NULL;
  it->held = 0;
}

static int may_hold(const struct cr_engine *e, const struct cr_item *it, CURL *h);

/* Nonzero when the chunk must wait for the next pass's budget. */
static int hold_body(struct cr_engine *e, struct cr_item *it)
{
  if(e->pass_links < LINKS_PER_PASS || !it->keep_body)
    return 0;
  /* A body that turned out to hold no links (not HTML or CSS, or past
   * --depth) goes on. */
  if(it->bytes && !it->links && !it->sm)
    return 0;
  /* Looked up only now: most passes never spend the budget. */
  if(it->may_hold < 0)
    it->may_hold = may_hold(e, it, it->easy->h);
  if(!it->may_hold)
    return 0;
  if(!it->held) {
    it->held = 1;
    it->held_prev = e->held_last;
    it->held_next = NULL;
    if(e->held_last)
      e->held_last->held_next = it;
    else
      e->held = it;
    e->held_last = it;
    /* The next pass resumes it: it must come without another event. */
    cr_timer_start(e->loop, &e->kick, 0);
  }
  return 1;
}

/* Outside any libcurl callback.  A paused transfer's held chunk is
 * delivered inside curl_easy_pause; if on_body refuses it there (--max-size,
 * a full disk), libcurl 7.88 returns the error without rescheduling the
 * transfer or watching its socket again: it sat until libcurl's speed-check
 * timer, a second later (e2e-bigpages' --max-size case: 1.0 s, against
 * 0.016 s).  Pausing and resuming once more (nothing held now) does both,
 * and the transfer ends at once with on_body's reason. */
static void resume_body(struct cr_item *it)
{
  CURL *h = it->easy->h;

  if(curl_easy_pause(h, CURLPAUSE_CONT) != CURLE_OK) {
    curl_easy_pause(h, CURLPAUSE_RECV);
    curl_easy_pause(h, CURLPAUSE_CONT);
  }
}

static void reparse_resume(struct cr_engine *e, int stop);

/* Start of a pass: a new budget, spent first on the bodies that waited,
 * oldest first; one that meets the budget again goes to the tail. */
static void release_held(struct cr_engine *e)
{
  if(e->pass_links > e->st.links_pass_max)
    e->st.links_pass_max = e->pass_links;
  e->pass_links = 0;
  while(e->held && e->pass_links < LINKS_PER_PASS) {
    struct cr_item *it = e->held;

    held_unlink(e, it);
    resume_body(it);
  }
  if(e->held)
    cr_timer_start(e->loop, &e->kick, 0);
  else
    reparse_resume(e, e->interrupted || e->fatal);
}

static void engine_fatal(struct cr_engine *e, int rc, const char *what)
{
  if(!e->fatal) {
    fprintf(stderr, "%scrawler: %s: %s; stopping\n", e->line_shown ? "\n" : "",
            what, cr_strerror(rc));
    e->line_shown = 0;
    e->fatal = rc;
  }
  cr_loop_break(e->loop);
}

static void fail(struct cr_engine *e, struct cr_item *it, const char *ctype, const char *error);
static int dist_open(struct cr_engine *e);

/* Forgets whatever an attempt received: temporary file, link parser,
 * robots.txt text.  A retry or a redirect starts from nothing. */
static void drop_body(struct cr_engine *e, struct cr_item *it)
{
  cr_store_discard(e->store, &it->file);
  cr_warc_cap_free(&it->wcap);
  cr_decode_free(&it->dec);
  cr_links_free(&it->links);
  cr_sitemap_free(&it->sm);
  if(it->robots_body) {
    cr_buf_cleanup(it->robots_body);
    free(it->robots_body);
    it->robots_body = NULL;
  }
}

static void sitemap_finish(struct cr_engine *e, struct cr_item *it, const char *error);
static void sitemaps_discover(struct cr_engine *e, const struct cr_item *robots);

/* ---- the crawl state (journal.h) ----
 *
 * Payloads, host byte order:
 *   CONFIG  u64 manifest size when the crawl began, then the identity text
 *   ADD     u32 depth (its top bit: J_REQUISITE), u32 url length, url,
 *           referrer (the rest; empty: none)
 *   DONE    u8 outcome (0 saved, 1 failed, 2 skipped by a filter), i64
 *           bytes, u32 url length, url, u32 path length, path, then the
 *           manifest line (the rest)
 *   BAD     u64 key (see bad_key), then the manifest line
 *   WARC    u32 serial, u64 WARC bytes, u64 index bytes: the archive's
 *           written prefix (warc.h) after a URL's records
 *   WDONE   the same position, then a DONE payload: one record, so a torn
 *           journal never keeps the position without the URL or the URL
 *           without its records
 */

/* A URL taken through a requisite link: a resumed crawl must judge its
 * redirects and its links as this one would (see follows_pages). */
#define J_REQUISITE 0x80000000u

static void journal_failed(struct cr_engine *e, int rc)
{
  engine_fatal(e, rc, "cannot write the crawl state");
}

static int put_u32(struct cr_journal *j, uint32_t v)
{
  return cr_journal_put(j, &v, sizeof(v));
}

/* cr_frontier_accept_cb: a URL entered the seen set. */
static void journal_add(void *arg, const char *url, unsigned depth, int requisite,
                        const char *referrer)
{
  struct cr_engine *e = arg;
  size_t n = strlen(url);
  int rc = cr_journal_begin(e->jr, CR_J_ADD);

  if(!rc)
    rc = put_u32(e->jr, depth | (requisite ? J_REQUISITE : 0));
  if(!rc)
    rc = put_u32(e->jr, (uint32_t)n);
  if(!rc)
    rc = cr_journal_put(e->jr, url, n);
  if(!rc && referrer)
    rc = cr_journal_put(e->jr, referrer, strlen(referrer));
  if(!rc)
    rc = cr_journal_end(e->jr);
  if(rc)
    journal_failed(e, rc);
}

/* A seed redirected: its target joined the scope, and must again on
 * resume, when the seed itself may be long done. */
static void journal_scope(struct cr_engine *e, const char *url)
{
  int rc;

  if(!e->jr)
    return;
  rc = cr_journal_begin(e->jr, CR_J_SCOPE);
  if(!rc)
    rc = cr_journal_put(e->jr, url, strlen(url));
  if(!rc)
    rc = cr_journal_end(e->jr);
  if(rc)
    journal_failed(e, rc);
}

static int put_warc_pos(struct cr_engine *e)
{
  uint32_t serial = e->warc_pos.serial;
  uint64_t ends[2];
  int rc = cr_journal_put(e->jr, &serial, sizeof(serial));

  ends[0] = e->warc_pos.warc_end;
  ends[1] = e->warc_pos.cdx_end;
  if(!rc)
    rc = cr_journal_put(e->jr, ends, sizeof(ends));
  return rc;
}

/* Records not tied to a URL's line were written (robots.txt, sitemaps). */
static void journal_warc(struct cr_engine *e)
{
  int rc;

  if(!e->jr)
    return;
  rc = cr_journal_begin(e->jr, CR_J_WARC);
  if(!rc)
    rc = put_warc_pos(e);
  if(!rc)
    rc = cr_journal_end(e->jr);
  if(rc)
    journal_failed(e, rc);
}

/* A URL got its manifest line (the one just formatted). */
static void journal_done(struct cr_engine *e, const struct cr_record *r)
{
  const char *line;
  size_t line_len;
  size_t n = strlen(r->url);
  size_t pn = r->path ? strlen(r->path) : 0;
  unsigned char failed = r->error ? 1 : r->skipped ? 2 : 0;
  int64_t bytes = r->bytes;
  int rc;

  if(!e->jr)
    return;
  cr_manifest_last(e->man, &line, &line_len);
  rc = cr_journal_begin(e->jr, e->warc_pos_due ? CR_J_WDONE : CR_J_DONE);
  if(!rc && e->warc_pos_due)
    rc = put_warc_pos(e);
  if(!rc)
    rc = cr_journal_put(e->jr, &failed, 1);
  if(!rc)
    rc = cr_journal_put(e->jr, &bytes, sizeof(bytes));
  if(!rc)
    rc = put_u32(e->jr, (uint32_t)n);
  if(!rc)
    rc = cr_journal_put(e->jr, r->url, n);
  if(!rc)
    rc = put_u32(e->jr, (uint32_t)pn);
  if(!rc && pn)
    rc = cr_journal_put(e->jr, r->path, pn);
  if(!rc)
    rc = cr_journal_put(e->jr, line, line_len);
  if(!rc)
    rc = cr_journal_end(e->jr);
  if(rc)
    journal_failed(e, rc);
}

/* A bad input line is known by its bytes and its reason (which names the
 * list and line), so a resumed run that reads the list again records it
 * once. */
static uint64_t bad_key(const char *raw, size_t len, const char *reason)
{
  return cr_hash64(raw, len) * 0x100000001b3ull ^ cr_hash64(reason, strlen(reason));
}

/* ---- depth without barriers ----
 *
 * Pages are fetched as soon as they are found, so a page can be reached
 * first by a longer path.  When the shorter one turns up, the frontier
 * gives the URL the shorter depth; for a page already done, the engine
 * corrects its manifest line at the end of the run (struct lowered) and
 * reads its links again from the saved file at the new depth (struct
 * reparse): the links may now reach further, or --depth may have cut
 * them.  Those links are offered again and lower their own targets in
 * turn, so depths end as a breadth-first crawl's, with no page fetched
 * twice. */

/* A saved page whose links are to be read again at a smaller depth. */
struct reparse {
  struct reparse *next;
  unsigned depth;
  int requisite;               /* as struct cr_item's */
  int css;
  char *base;                  /* final URL; NULL: see struct where */
  char *path;                  /* relative path; NULL: see struct where */
  char url[];
};

/* Where a page was saved when that is not its URL's own mapped path (a
 * redirect, a clash): what a reparse needs to find it. */
struct where {
  struct cr_hnode node;        /* key: url */
  char *base;
  char *path;
  char url[];
};

static void reparse_push(struct cr_engine *e, const char *url, unsigned depth, int requisite,
                         int css, const char *base, const char *path)
{
  size_t n = strlen(url);
  struct reparse *rp = calloc(1, sizeof(*rp) + n + 1);

  /* Without memory the depths below this page stay as found. */
  if(!rp)
    return;
  memcpy(rp->url, url, n);
  rp->depth = depth;
  rp->requisite = requisite;
  rp->css = css;
  rp->base = base ? strdup(base) : NULL;
  rp->path = path ? strdup(path) : NULL;
  if((base && !rp->base) || (path && !rp->path)) {
    free(rp->base);
    free(rp->path);
    free(rp);
    return;
  }
  *e->reparse_tail = rp;
  e->reparse_tail = &rp->next;
}

static void where_put(struct cr_engine *e, const char *url, const char *base, const char *path)
{
  size_t n = strlen(url);
  struct where *w = (struct where *)cr_hmap_get(&e->where, url);

  if(w)
    return;
  w = calloc(1, sizeof(*w) + n + 1);
  if(!w)
    return;
  memcpy(w->url, url, n);
  w->node.key = w->url;
  w->base = strdup(base);
  w->path = strdup(path);
  if(!w->base || !w->path || cr_hmap_put(&e->where, &w->node)) {
    free(w->base);
    free(w->path);
    free(w);
  }
}

static void where_free(struct cr_hnode *n)
{
  struct where *w = (struct where *)n;

  free(w->base);
  free(w->path);
  free(w);
}

static void reparse_free(struct reparse *rp)
{
  free(rp->base);
  free(rp->path);
  free(rp);
}

/* ---- which links a page yields ----
 *
 * -r follows page links from pages within --depth, judged by the scope.
 * -p adds requisite links (images, style sheets, frames, see links.h)
 * from every saved HTML or CSS document up to REQUISITE_LEVELS past
 * --depth (0 without -r), judged by the trap guards and --reject-regex
 * only.  An item reached by a requisite link yields its page links only
 * while its final URL is in the scope: a style sheet on another host
 * yields its imports and fonts, an iframe there its images, and nothing
 * else; one on a seed's host within --depth is crawled as -r alone would
 * crawl it, so adding -p never takes a page away. */

/* Whether links are read at all. */
static int follows_links(const struct cr_engine *e)
{
  return e->cfg.recursive || e->cfg.page_requisites;
}

/* Whether an item at depth, reached by a requisite link or not, whose
 * final URL is cur (NULL: not known yet, taken as in scope) follows its
 * page links. */
static int follows_pages(const struct cr_engine *e, unsigned depth, int requisite,
                         const char *cur)
{
  int max = e->cfg.max_depth;

  if(!e->cfg.recursive || (max >= 0 && depth >= (unsigned)max))
    return 0;
  return !requisite || !cur || !cr_scope_check(e->scope, cur);
}

/* Whether an item at depth follows its requisite links (-p). */
static int follows_requisites(const struct cr_engine *e, unsigned depth)
{
  int max = e->cfg.recursive ? e->cfg.max_depth : 0;

  if(!e->cfg.page_requisites)
    return 0;
  return max < 0 || depth < (unsigned)max + REQUISITE_LEVELS;
}

/* After a page ended: tells the frontier what it was, and reads its links
 * again if it took a shorter depth while it was in flight. */
static void links_after(struct cr_engine *e, struct cr_item *it, const char *path)
{
  int kind;

  cr_frontier_done(e->fr, it);
  if(!follows_links(e))
    return;
  kind = !path || (!it->links_started && !it->links_cut && !it->kept_links) ? CR_DONE_LEAF
         : it->links_css ? CR_DONE_CSS : CR_DONE_HTML;
  cr_frontier_set_kind(e->fr, it->url, kind);
  if(kind == CR_DONE_LEAF)
    return;
  /* A page kept unchanged (-N) was not read as it came: its links come
   * from the file, as a lowered page's do. */
  if((follows_pages(e, it->depth, it->requisite, it->cur) ||
      follows_requisites(e, it->depth)) &&
     (it->links_cut || it->links_depth > it->depth || it->kept_links))
    reparse_push(e, it->url, it->depth, it->requisite, kind == CR_DONE_CSS, it->cur, path);
  /* A shorter path may still come; then the file must be found again. */
  if(it->kept || strcmp(it->cur, it->url) || strcmp(path, e->last_mapped.data))
    where_put(e, it->url, it->cur, path);
}

/* A URL whose manifest line was written before a shorter path reached it:
 * the line is corrected when the run ends (cr_manifest_fix). */
struct lowered {
  struct cr_hnode node;        /* key: url */
  unsigned depth;
  char *referrer;              /* owned, or NULL */
  char url[];
};

/* cr_frontier_lower_cb */
static void on_lower(void *arg, const char *url, unsigned depth, int requisite,
                     const char *referrer, int kind)
{
  struct cr_engine *e = arg;
  struct lowered *lw = (struct lowered *)cr_hmap_get(&e->lowered, url);
  char *ref = referrer ? strdup(referrer) : NULL;
  size_t n = strlen(url);

  /* Without memory the line keeps its longer depth: nothing else is lost. */
  if(referrer && !ref)
    return;
  if(!lw) {
    lw = calloc(1, sizeof(*lw) + n + 1);
    if(!lw) {
      free(ref);
      return;
    }
    memcpy(lw->url, url, n);
    lw->node.key = lw->url;
    if(cr_hmap_put(&e->lowered, &lw->node)) {
      free(lw);
      free(ref);
      return;
    }
  }
  free(lw->referrer);
  lw->referrer = ref;
  lw->depth = depth;
  /* The final URL is not known here: reparse_one judges with it. */
  if(follows_links(e) && kind != CR_DONE_LEAF &&
     (follows_pages(e, depth, requisite, NULL) || follows_requisites(e, depth)))
    reparse_push(e, url, depth, requisite, kind == CR_DONE_CSS, NULL, NULL);
}

/* cr_manifest_fix_cb */
static int fix_lowered(void *arg, const char *url, size_t len, unsigned *depth,
                       const char **referrer)
{
  struct cr_engine *e = arg;
  struct lowered *lw;

  cr_buf_reset(&e->scratch);
  if(cr_buf_append(&e->scratch, url, len))
    return 0;
  lw = (struct lowered *)cr_hmap_get(&e->lowered, e->scratch.data);
  if(!lw)
    return 0;
  *depth = lw->depth;
  *referrer = lw->referrer;
  return 1;
}

static void lowered_free(struct cr_hnode *n)
{
  struct lowered *lw = (struct lowered *)n;

  free(lw->referrer);
  free(lw);
}

/* Writes an item's manifest line, counts it and frees it. */
static void finish(struct cr_engine *e, struct cr_item *it, const char *path,
                   const char *content_type, const char *error);
static void abandon(struct cr_engine *e, struct cr_item *it);

/* cr_warc_cb: a finished URL's records are written; now its line. */
static void archived(void *arg, int rc)
{
  struct cr_item *it = arg;
  struct cr_engine *e = it->engine;

  e->saving--;
  if(rc) {
    engine_fatal(e, rc, "cannot write the WARC file");
    abandon(e, it);
    return;
  }
  cr_warc_position(e->warc, &e->warc_pos);
  e->warc_pos_due = 1;
  finish(e, it, it->wait_path, it->wait_ctype, it->wait_error);
  e->warc_pos_due = 0;
}

/* The same for robots.txt and sitemap fetches, which have no line. */
static void archived_own(void *arg, int rc)
{
  struct cr_engine *e = arg;

  e->saving--;
  if(rc) {
    engine_fatal(e, rc, "cannot write the WARC file");
    return;
  }
  cr_warc_position(e->warc, &e->warc_pos);
  journal_warc(e);
}

/* Hands an item's records to the archive; finished: archived() finishes
 * it once they are written (1 returned), else they go on their own.  0:
 * nothing to write. */
static int archive(struct cr_engine *e, struct cr_item *it, const char *path,
                   const char *content_type, const char *error)
{
  int rc;

  if(!e->warc || !it->wrecs)
    return 0;
  if(it->robots_for || it->sitemap) {
    e->saving++;
    rc = cr_warc_commit(e->warc, &it->wrecs, archived_own, e);
    if(rc) {
      e->saving--;
      engine_fatal(e, rc, "cannot write the WARC file");
    }
    return 0;
  }
  it->warc_wait = 1;
  it->wait_path = path ? strdup(path) : NULL;
  it->wait_ctype = content_type ? strdup(content_type) : NULL;
  it->wait_error = error ? strdup(error) : NULL;
  if((path && !it->wait_path) || (content_type && !it->wait_ctype) ||
     (error && !it->wait_error)) {
    engine_fatal(e, CR_ENOMEM, "cannot write the WARC file");
    abandon(e, it);
    return 1;
  }
  e->saving++;
  rc = cr_warc_commit(e->warc, &it->wrecs, archived, it);
  if(rc) {
    e->saving--;
    engine_fatal(e, rc, "cannot write the WARC file");
    abandon(e, it);
  }
  return 1;
}

static void finish(struct cr_engine *e, struct cr_item *it, const char *path,
                   const char *content_type, const char *error)
{
  struct cr_record r;
  int rc;

  if(!it->warc_wait && archive(e, it, path, content_type, error))
    return;
  memset(&r, 0, sizeof(r));
  r.url = it->url;
  r.final_url = it->cur;
  r.status = it->status;
  r.path = path;
  /* --no-mirror: what was archived counts as saved. */
  r.bytes = path || (e->cfg.no_mirror && !error && !it->skip) ? it->bytes : 0;
  r.content_type = content_type;
  /* Microseconds are all a manifest reader can use. */
  r.seconds = it->t0 > 0.0 ? (double)(int64_t)((cr_clock() - it->t0) * 1e6) / 1e6 : 0.0;
  r.attempts = it->attempts;
  r.redirects = it->redirects;
  r.error = error;
  r.skipped = error || path ? NULL : it->skip;
  r.depth = it->depth;
  r.referrer = it->referrer;
  r.etag = it->etag;
  r.last_modified = it->last_modified;
  if(e->prev && path && !error) {
    struct cr_prev *p = cr_recrawl_get(e->prev, it->url);

    if(it->kept) {
      r.change = "unchanged";
      e->st.unchanged++;
    }
    else if(p) {
      r.change = "changed";
      e->st.changed++;
    }
    else {
      r.change = "new";
      e->st.fresh++;
    }
    if(p)
      p->seen = 1;
  }
  rc = cr_manifest_write(e->man, &r);
  if(rc)
    engine_fatal(e, rc, "cannot write the manifest");
  else if(e->dist && cr_dist_done(e->dist, it->url))
    engine_fatal(e, CR_ENOMEM, "cannot keep the shared crawl's state");
  else if(e->jr) {
    journal_done(e, &r);
    e->unw_pending++;
  }
  e->st.done++;
  if(error)
    e->st.failed++;
  else if(r.skipped)
    e->st.skipped++;
  else {
    e->st.ok++;
    /* A kept file was not transferred. */
    if(!it->kept)
      e->st.bytes += (uint64_t)it->bytes;
  }
  drop_body(e, it);
  links_after(e, it, error ? NULL : path);
  cr_item_free(it);
}

/* Drops an item without a manifest line, as a stop drops transfers in
 * flight: a page that could not be saved for want of space is not done,
 * so a resumed crawl fetches it again. */
static void abandon(struct cr_engine *e, struct cr_item *it)
{
  drop_body(e, it);
  cr_frontier_done(e->fr, it);
  cr_item_free(it);
}

/* Gives a host the outcome of its robots.txt fetch (rules NULL: failed, so
 * nothing is allowed) and frees the fetch.  Not a URL of the crawl: no
 * manifest line, not counted. */
static void robots_finish(struct cr_engine *e, struct cr_item *it, struct cr_robots *rules,
                          const char *why)
{
  sitemaps_discover(e, it);
  cr_frontier_robots_done(e->fr, it->robots_for, rules, why);
  archive(e, it, NULL, NULL, NULL);
  drop_body(e, it);
  cr_item_free(it);
}

static void on_frontier_fail(void *arg, struct cr_item *it, const char *reason)
{
  struct cr_engine *e = arg;

  if(it->robots_for)
    robots_finish(e, it, NULL, reason);
  else if(it->sitemap)
    sitemap_finish(e, it, reason);
  else
    finish(e, it, NULL, NULL, reason);
}

/* A new URL joins the crawl: this process's frontier, or the shared one,
 * which hands it to the worker that owns its host. */
static int add_url(struct cr_engine *e, const char *url, unsigned depth, int requisite,
                   const char *referrer)
{
  if(e->dist)
    return cr_dist_offer(e->dist, url, depth, requisite, referrer);
  return cr_frontier_add(e->fr, url, depth, requisite, referrer);
}

/* ---- receiving ---- */

/* A link found on a page: judged by the scope (a requisite by the trap
 * guards and --reject-regex only), then offered to the frontier one level
 * deeper.  Without -p a requisite link is followed as a page link, as it
 * always was. */
static void on_link(void *arg, const char *url, enum cr_link_kind kind)
{
  struct cr_item *it = arg;
  struct cr_engine *e = it->engine;
  int requisite = kind == CR_LINK_RESOURCE && e->cfg.page_requisites;

  e->pass_links++;
  if(e->cfg.max_pages && cr_frontier_added(e->fr) >= e->cfg.max_pages)
    return;
  /* The requisite scope takes whatever the scope takes, so a requisite
   * link needs no second look as a page link. */
  if(requisite) {
    if(!it->links_reqs || cr_scope_check_requisite(e->scope, url))
      return;
  }
  else if(!it->links_pages || cr_scope_check(e->scope, url))
    return;
  /* -A/-R: a file that would not be saved is not fetched, unless it may
   * be a page whose links lead to files that would (wget, too, fetches
   * HTML pages whatever the lists say and deletes them afterwards).  At
   * the depth limit such a page would yield no links: not fetched. */
  if(e->filter && cr_filter_name(e->filter, url) &&
     (!cr_filter_may_hold_links(url) ||
      (e->cfg.max_depth >= 0 && it->depth + 1 >= (unsigned)e->cfg.max_depth)))
    return;
  /* Duplicates, and hosts at their page cap, are simply not queued. */
  add_url(e, url, it->depth + 1, requisite, it->cur);
}

/* The hash of url's origin, or 0 if url cannot be split. */
static uint64_t origin_key(const char *url)
{
  struct cr_url_view v;

  if(cr_url_view(url, &v))
    return 0;
  return cr_hash64(v.origin, v.origin_len) | 1;
}

/* ---- sitemaps ----
 *
 * With -r the seeds' hosts' sitemaps seed the crawl too, as wget2's
 * --follow-sitemaps does: the Sitemap: lines of their robots.txt, or
 * /sitemap.xml when it lists none (or robots.txt is not read).  A sitemap
 * is a fetch of the engine's own, like robots.txt: no manifest line, no
 * file, not in the seen set, so --resume reads it again.  Its <url>
 * entries are links from the seed (depth 1), judged by the scope like any
 * link; a sitemap index's entries are read too, one level down. */

#define SITEMAPS_MAX 1000     /* sitemap files per crawl */
#define SITEMAPS_PER_ROBOTS 64

static void sitemap_queue(struct cr_engine *e, const char *url, unsigned level, int guessed)
{
  struct cr_item *it;
  int rc;

  if(e->sitemaps_queued >= SITEMAPS_MAX)
    return;
  rc = cr_hset_add(&e->sitemap_seen, cr_hash64(url, strlen(url)));
  if(rc <= 0)
    return;
  it = calloc(1, sizeof(*it));
  if(!it)
    return;
  it->url = strdup(url);
  if(!it->url) {
    free(it);
    return;
  }
  it->cur = it->url;
  it->engine = e;
  it->sitemap = guessed ? 2 : 1;
  it->sitemap_level = level;
  cr_file_init(&it->file);
  if(cr_frontier_requeue(e->fr, it)) {
    cr_item_free(it);
    return;
  }
  e->sitemaps_queued++;
}

/* A seed: its origin's sitemaps will be read, once robots.txt said where
 * (or at once when robots.txt is not read). */
static int sitemap_seed(struct cr_engine *e, const char *url)
{
  struct cr_url_view v;
  uint64_t k;
  int rc;

  if(!e->cfg.recursive || !e->cfg.sitemaps || cr_url_view(url, &v))
    return 0;
  k = origin_key(url);
  rc = cr_hset_add(&e->sitemap_origins, k);
  if(rc < 0)
    return CR_ENOMEM;
  if(rc && !e->cfg.robots) {
    cr_buf_reset(&e->scratch);
    if(!cr_buf_append(&e->scratch, v.origin, v.origin_len) &&
       !cr_buf_puts(&e->scratch, "/sitemap.xml"))
      sitemap_queue(e, e->scratch.data, 0, 1);
  }
  return 0;
}

/* robots.txt of a host was fetched (or failed): for a seed's host, queue
 * the sitemaps it lists, or the usual /sitemap.xml. */
static void sitemaps_discover(struct cr_engine *e, const struct cr_item *robots)
{
  const struct cr_buf *b = robots->robots_body;
  struct cr_url_view v;
  unsigned listed = 0;
  size_t i = 0;

  if(!e->cfg.recursive || !e->cfg.sitemaps || cr_url_view(robots->url, &v) ||
     !cr_hset_has(&e->sitemap_origins, origin_key(robots->url)))
    return;
  while(b && robots->status >= 200 && robots->status < 300 && i < b->len &&
        listed < SITEMAPS_PER_ROBOTS) {
    const char *line = b->data + i;
    const char *nl = memchr(line, '\n', b->len - i);
    size_t n = nl ? (size_t)(nl - line) : b->len - i;
    char *abs = NULL;
    size_t k = 0;

    i += n + 1;
    while(k < n && (line[k] == ' ' || line[k] == '\t'))
      k++;
    /* "Sitemap:" is outside the groups and its case is free (RFC 9309
     * leaves it to sitemaps.org, which spells it so). */
    if(n - k < 8 || strncasecmp(line + k, "sitemap:", 8))
      continue;
    k += 8;
    while(n > k && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
      n--;
    if(!cr_url_resolve(robots->url, line + k, n - k, &abs, NULL)) {
      sitemap_queue(e, abs, 0, 0);
      listed++;
    }
    free(abs);
  }
  if(!listed) {
    cr_buf_reset(&e->scratch);
    if(!cr_buf_append(&e->scratch, v.origin, v.origin_len) &&
       !cr_buf_puts(&e->scratch, "/sitemap.xml"))
      sitemap_queue(e, e->scratch.data, 0, 1);
  }
}

/* cr_sitemap_cb */
static void on_sitemap_entry(void *arg, int index, const char *loc, const char *lastmod)
{
  struct cr_item *it = arg;
  struct cr_engine *e = it->engine;
  char *abs = NULL;

  (void)lastmod;
  if(cr_url_resolve(it->cur, loc, strlen(loc), &abs, NULL))
    return;
  /* The protocol allows no index of indexes: one level is followed. */
  if(index) {
    if(!it->sitemap_level)
      sitemap_queue(e, abs, 1, 0);
  }
  else {
    e->sitemap_urls++;
    on_link(it, abs, CR_LINK_PAGE);
  }
  free(abs);
}

static size_t sitemap_body(struct cr_item *it, const char *p, size_t len)
{
  int rc;

  if(!it->sm && cr_sitemap_new(on_sitemap_entry, it, &it->sm))
    return 0;
  rc = cr_sitemap_feed(it->sm, p, len);
  if(rc == CR_EFULL || rc == CR_EINVAL) {
    /* Enough (the protocol's limits), or a broken gzip stream: what was
     * read counts, the rest is not fetched. */
    it->sitemap_stop = 1;
    return 0;
  }
  return rc ? 0 : len;
}

/* A sitemap fetch ended: its last entries, then it goes.  A listed one
 * that failed is worth a word on stderr; a guessed one is often absent. */
static void sitemap_finish(struct cr_engine *e, struct cr_item *it, const char *error)
{
  if(it->sm && !error) {
    cr_sitemap_end(it->sm);
    if(cr_sitemap_count(it->sm))
      e->sitemaps_read++;
  }
  if(error && it->sitemap == 1 && e->cfg.progress != CR_PROGRESS_NONE)
    fprintf(stderr, "%scrawler: sitemap %s: %s\n", e->line_shown ? "\r\033[K" : "",
            it->cur, error);
  archive(e, it, NULL, NULL, NULL);
  drop_body(e, it);
  cr_frontier_done(e->fr, it);
  cr_item_free(it);
}

/* The link memo is kept per depth and per what the parse follows: a
 * repeat from a page nearer the seed, or from one that follows more, must
 * reach the frontier, which may lower its target's depth. */
static uint64_t memo_salt(unsigned depth, int pages, int requisites)
{
  return (uint64_t)depth * 0xc2b2ae3d27d4eb4full + (pages ? 0x165667b19e3779f9ull : 0) +
         (requisites ? 0x27d4eb2f165667c5ull : 0);
}

/* Starts a link parser for it (item or reparse stand-in) with what it
 * follows set.  Returns 0 or a CR_E* code (no parser). */
static int links_open(struct cr_engine *e, struct cr_item *it, enum cr_links_type type)
{
  int rc = cr_links_new(type, it->cur, on_link, it, &it->links);

  if(rc)
    return rc;
  cr_links_set_memo(it->links, &e->link_memo);
  cr_links_set_memo_kinds(it->links, e->cfg.page_requisites);
  cr_links_set_memo_salt(it->links, memo_salt(it->depth, it->links_pages, it->links_reqs));
  return 0;
}

/* Whether a Content-Type (NULL: none) is one whose links are read: 1
 * with *type set, else 0. */
static int links_type(const char *ctype, enum cr_links_type *type)
{
  if(!ctype)
    return 0;
  if(!strncasecmp(ctype, "text/html", 9) || !strncasecmp(ctype, "application/xhtml+xml", 21))
    *type = CR_LINKS_HTML;
  else if(!strncasecmp(ctype, "text/css", 8))
    *type = CR_LINKS_CSS;
  else
    return 0;
  return 1;
}

/* Starts a link parser when the page is HTML or CSS and links from it
 * would still be within --depth. */
static void start_links(struct cr_engine *e, struct cr_item *it)
{
  char *ctype = NULL;
  enum cr_links_type type;

  if(!follows_links(e))
    return;
  curl_easy_getinfo(it->easy->h, CURLINFO_CONTENT_TYPE, &ctype);
  if(!links_type(ctype, &type))
    return;
  it->links_pages = follows_pages(e, it->depth, it->requisite, it->cur);
  it->links_reqs = follows_requisites(e, it->depth);
  /* Remembered: if a shorter path reaches this page later, its links are
   * followed then (see links_after). */
  if(!it->links_pages && !it->links_reqs) {
    it->links_cut = 1;
    it->links_css = type == CR_LINKS_CSS;
    return;
  }
  /* Without a parser the page is still saved; it only yields no links. */
  if(!links_open(e, it, type)) {
    it->links_started = 1;
    it->links_depth = it->depth;
  }
  it->links_css = type == CR_LINKS_CSS;
}

/* Keeps robots.txt in memory, up to what the parser reads. */
static size_t robots_body(struct cr_item *it, const char *p, size_t len)
{
  if(!it->robots_body) {
    it->robots_body = malloc(sizeof(*it->robots_body));
    if(!it->robots_body)
      return 0;
    cr_buf_init(it->robots_body, CR_ROBOTS_MAX);
  }
  /* Past the cap the rest is ignored, as RFC 9309 allows, and not even
   * read: an endless robots.txt would otherwise run into --timeout and
   * take the whole host down with it.  on_done sees the full buffer and
   * parses it as a complete file. */
  if(it->robots_body->len < CR_ROBOTS_MAX) {
    size_t room = CR_ROBOTS_MAX - it->robots_body->len;

    if(cr_buf_append(it->robots_body, p, len < room ? len : room))
      return 0;
  }
  return it->robots_body->len < CR_ROBOTS_MAX ? len : 0;
}

/* Whether a robots.txt transfer was stopped by robots_body at the cap. */
static int robots_cut(const struct cr_item *it, CURLcode result)
{
  return it->robots_for && result == CURLE_WRITE_ERROR && it->robots_body &&
         it->robots_body->len >= CR_ROBOTS_MAX;
}

/* --limit-rate: the pace timer fired; the body may flow again.  Outside
 * any libcurl callback, so curl_easy_pause may deliver the held chunk
 * to on_body right here. */
static void on_pace(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_item *it = t->arg;

  (void)loop;
  if(it->easy)
    resume_body(it);
}

/* --limit-rate, per transfer as wget's is per download.  libcurl 7.88's
 * own limit (CURLOPT_MAX_RECV_SPEED_LARGE) reads up to 100 buffers before
 * it looks at the clock, so a body under 1.6 MB was never slowed at all.
 * Here a chunk that would run ahead of the rate pauses the transfer
 * (libcurl keeps the chunk and stops reading the socket, so the sender is
 * held back by TCP) and a loop timer resumes it when the chunk is due.
 * Returns nonzero when the chunk must wait. */
static int pace(struct cr_engine *e, struct cr_item *it, size_t len)
{
  double rate = (double)e->cfg.limit_rate;
  double now = cr_clock();
  double due;

  if(!it->pace_bytes && it->pace_t0 <= 0.0)
    it->pace_t0 = now;
  due = it->pace_t0 + (double)(it->pace_bytes + (int64_t)len) / rate;
  /* A chunk is let through when at most a quarter second early. */
  if(it->pace_bytes && due - now > 0.25) {
    it->pace.cb = on_pace;
    it->pace.arg = it;
    cr_timer_start(e->loop, &it->pace, (uint64_t)((due - now) * 1000.0));
    return 1;
  }
  it->pace_bytes += (int64_t)len;
  return 0;
}

/* Decides, once a 2xx response's headers are in, whether its body will be
 * saved: the filters judge the name it would be saved under (the final
 * URL's) and its Content-Type.  Seeds are judged too: they are always
 * fetched, not always saved.  Sets it->skip. */
static void judge_body(struct cr_engine *e, struct cr_item *it, CURL *h)
{
  char *ctype = NULL;

  if(!e->filter || it->robots_for || it->sitemap)
    return;
  it->skip = cr_filter_name(e->filter, it->cur);
  if(!it->skip) {
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    it->skip = cr_filter_type(e->filter, ctype);
  }
}

/* The body's decoded bytes: saved, parsed for links, or only counted.
 * Returns len to go on, anything else to end the transfer. */
static size_t body_content(struct cr_engine *e, struct cr_item *it, const char *p, size_t len)
{
  int rc;

  /* Error pages and redirect bodies are not saved. */
  if(!it->keep_body)
    return len;
  if(it->robots_for)
    return robots_body(it, p, len);
  if(it->sitemap)
    return sitemap_body(it, p, len);
  if(!it->bytes && !it->links && !it->links_cut)
    start_links(e, it);
  /* A body that will not be saved is read only for its links.  Without a
   * parser there is nothing to learn from the rest: the transfer ends
   * here, and on_done records the skip. */
  if(it->skip && !it->links)
    return 0;
  /* Counted after decoding: curl (or decode.h) hands us decoded bytes. */
  if(e->cfg.max_size && (int64_t)len > e->cfg.max_size - it->bytes) {
    it->error = "max size exceeded";
    return 0;
  }
  if(!it->skip && !e->cfg.no_mirror) {
    rc = cr_store_write(e->store, &it->file, p, len);
    if(rc) {
      it->store_rc = rc;
      return 0;
    }
  }
  it->bytes += (int64_t)len;
  if(it->links)
    cr_links_feed(it->links, p, len);
  return len;
}

static int on_payload(void *arg, const char *p, size_t n)
{
  struct cr_item *it = arg;

  if(it->wcap)
    cr_warc_cap_payload(it->wcap, p, n);
  return 0;
}

static int on_content(void *arg, const char *p, size_t n)
{
  struct cr_item *it = arg;

  return body_content(it->engine, it, p, n) == n ? 0 : 1;
}

/* Archiving: the body as it came off the wire, into the capture, then
 * decoded by us (decode.h) for everything else. */
static size_t wire_body(struct cr_engine *e, struct cr_item *it, const char *p, size_t len)
{
  const char *why = NULL;
  int rc;

  if(!it->dec) {
    struct curl_header *te = NULL;
    struct curl_header *ce = NULL;
    int chunked = 0;

    if(curl_easy_header(it->easy->h, "Transfer-Encoding", 0, CURLH_HEADER, -1, &te) ==
       CURLHE_OK && te->value)
      chunked = strcasestr(te->value, "chunked") != NULL;
    if(curl_easy_header(it->easy->h, "Content-Encoding", 0, CURLH_HEADER, -1, &ce) !=
       CURLHE_OK)
      ce = NULL;
    if(cr_decode_new(chunked, ce ? ce->value : NULL, &it->dec) ||
       (chunked && it->wcap && cr_warc_cap_chunked(it->wcap))) {
      it->store_rc = CR_ENOMEM;
      return 0;
    }
  }
  if(it->wcap) {
    rc = cr_warc_cap_body(it->wcap, p, len);
    if(rc) {
      it->store_rc = rc;
      return 0;
    }
  }
  rc = cr_decode_feed(it->dec, p, len, on_payload, on_content, it, &why);
  if(rc == CR_EINVAL && why && !it->error)
    it->error = why;
  return rc ? 0 : len;
}

/* Whether the body may wait for the link budget (hold_body): it may hold
 * links, and libcurl hands it over as it came, so a paused chunk it
 * keeps is one read at most.  Never one libcurl decodes (gzip, br, zstd):
 * 7.88 decodes the rest of the read into its pause buffer, up to 64 MB,
 * and a bomb would fail there with "Out of memory" after taking it all.
 * Such bodies are parsed as they come, over the budget if they must. */
static int may_hold(const struct cr_engine *e, const struct cr_item *it, CURL *h)
{
  struct curl_header *ce = NULL;
  char *ctype = NULL;
  enum cr_links_type type;

  if(it->robots_for)
    return 0;
  if(!it->sitemap) {
    if(!follows_links(e))
      return 0;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    if(!links_type(ctype, &type))
      return 0;
  }
  if(e->warc)
    return 1;
  return curl_easy_header(h, "Content-Encoding", 0, CURLH_HEADER, -1, &ce) != CURLHE_OK ||
         !ce->value || !strcasecmp(ce->value, "identity");
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
  struct cr_item *it = userdata;
  struct cr_engine *e = it->engine;
  size_t len = size * n;

  if(!it->checked) {
    curl_easy_getinfo(it->easy->h, CURLINFO_RESPONSE_CODE, &it->status);
    it->checked = 1;
    it->keep_body = it->status >= 200 && it->status < 300;
    if(it->keep_body)
      judge_body(e, it, it->easy->h);
  }
  /* Refused before (it->error, it->store_rc): refused again, should
   * libcurl offer more after a resume (resume_body). */
  if(it->error || it->store_rc)
    return 0;
  /* Before pace, which counts what it lets through. */
  if(hold_body(e, it))
    return CURL_WRITEFUNC_PAUSE;
  if(e->cfg.limit_rate && pace(e, it, len))
    return CURL_WRITEFUNC_PAUSE;
  if(e->warc)
    return wire_body(e, it, p, len);
  return body_content(e, it, p, len);
}

/* ---- credentials ----
 *
 * The crawler follows redirects itself, so libcurl's own rule (credentials
 * only to the host of the first request) cannot apply: a transfer gets the
 * credentials only if its URL's origin (scheme, host and port) is one of
 * the seeds'.  A link or a redirect to any other origin goes without, as
 * curl does with its own redirects. */

/* A seed: its origin may get the credentials. */
static int note_seed(struct cr_engine *e, const char *url)
{
  uint64_t k;

  if(!e->creds)
    return 0;
  k = origin_key(url);
  if(!k)
    return 0;
  return cr_hset_add(&e->seed_origins, k) < 0 ? CR_ENOMEM : 0;
}

static enum cr_auth auth_for(const struct cr_engine *e, const char *url)
{
  uint64_t k;

  if(!e->creds)
    return CR_AUTH_NONE;
  k = origin_key(url);
  if(!k || !cr_hset_has(&e->seed_origins, k))
    return CR_AUTH_NONE;
  return cr_hset_has(&e->basic_origins, k) ? CR_AUTH_BASIC : CR_AUTH_ASK;
}

/* After a transfer that had credentials to offer: an origin that answered
 * a challenge with Basic only will get them with the first request from
 * now on, as wget remembers such hosts. */
static void auth_learn(struct cr_engine *e, struct cr_item *it, CURL *h, long status)
{
  long avail = 0;
  uint64_t k;

  if(it->auth != CR_AUTH_ASK || status == 401 || status < 200)
    return;
  if(curl_easy_getinfo(h, CURLINFO_HTTPAUTH_AVAIL, &avail) != CURLE_OK)
    return;
  if(!(avail & CURLAUTH_BASIC) || (avail & CURLAUTH_DIGEST))
    return;
  k = origin_key(it->cur);
  /* Without memory the next transfer asks first again: nothing lost. */
  if(k)
    (void)cr_hset_add(&e->basic_origins, k);
}

/* ---- proxies ---- */

/* Whether host (len bytes, IPv6 literals bracketed) matches the no_proxy
 * list: "*", or a name or domain, with or without a leading dot, matched
 * on label boundaries, case-insensitively, ports ignored, as curl does
 * (without its CIDR ranges). */
static int no_proxy_match(const char *list, const char *host, size_t len)
{
  const char *p = list;

  if(len >= 2 && host[0] == '[') {
    host++;
    len -= 2;
  }
  while(*p) {
    size_t n = strcspn(p, ",");
    const char *t = p;
    size_t tn = n;

    p += n;
    if(*p == ',')
      p++;
    while(tn && (*t == ' ' || *t == '\t')) {
      t++;
      tn--;
    }
    while(tn && (t[tn - 1] == ' ' || t[tn - 1] == '\t'))
      tn--;
    if(tn == 1 && *t == '*')
      return 1;
    if(tn && *t == '[') {
      const char *rb = memchr(t, ']', tn);

      if(!rb)
        continue;
      t++;
      tn = (size_t)(rb - t);
    }
    else if(tn && memchr(t, ':', tn) && memchr(t, ':', tn) == memrchr(t, ':', tn))
      tn = (size_t)((const char *)memchr(t, ':', tn) - t);  /* host:port */
    if(tn && *t == '.') {
      t++;
      tn--;
    }
    if(!tn || tn > len)
      continue;
    if(!strncasecmp(host + len - tn, t, tn) && (tn == len || host[len - tn - 1] == '.'))
      return 1;
  }
  return 0;
}

/* The proxy for a URL of host (len bytes), or NULL to go direct. */
static const struct proxy *proxy_for(const struct cr_engine *e, const char *host, size_t len,
                                     int https)
{
  const struct proxy *px = &e->proxies[https ? 1 : 0];

  if(!px->host)
    return NULL;
  if(e->cfg.no_proxy && no_proxy_match(e->cfg.no_proxy, host, len))
    return NULL;
  return px;
}

/* The frontier's proxied callback. */
static int host_proxied(void *arg, const char *name, size_t len, int https)
{
  return proxy_for(arg, name, len, https) != NULL;
}

/* Splits a proxy URL (checked by the front end).  Returns 0, CR_EURL or
 * CR_ENOMEM. */
static int proxy_init(struct cr_engine *e, struct proxy *px, const char *url)
{
  CURLU *u = curl_url();
  char *host = NULL;
  char *port = NULL;
  unsigned char buf[16];
  int rc = CR_EURL;

  px->e = e;
  px->url = url;
  px->req.cb = NULL;
  if(!u)
    return CR_ENOMEM;
  /* A proxy without a scheme speaks http, on port 1080, as curl says. */
  if(curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ||
     curl_url_get(u, CURLUPART_HOST, &host, 0))
    goto done;
  if(curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
    char *end;
    unsigned long v = strtoul(port, &end, 10);

    if(*end || !v || v > 65535)
      goto done;
    px->port = (unsigned)v;
  }
  else
    px->port = 1080;
  if(host[0] == '[')
    px->host = strndup(host + 1, strlen(host) - 2);
  else
    px->host = strdup(host);
  rc = px->host ? 0 : CR_ENOMEM;
  if(!rc)
    px->is_ip = inet_pton(AF_INET, px->host, buf) == 1 ||
                inet_pton(AF_INET6, px->host, buf) == 1;

done:
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

static void proxy_cleanup(struct proxy *px)
{
  free(px->host);
  free(px->resolve);
  px->host = NULL;
  px->resolve = NULL;
}

/* cr_dns_cb: the proxy's address, or the end of the crawl. */
static void proxy_on_dns(struct cr_dns_req *req, int status, const char *addrs,
                         const char *reason)
{
  struct proxy *px = req->arg;
  struct cr_engine *e = px->e;
  struct cr_buf b;

  px->waiting = 0;
  e->proxy_wait--;
  cr_buf_init(&b, 512);
  if(!status && addrs && *addrs &&
     !cr_buf_printf(&b, "%s:%u:%.*s", px->host, px->port, (int)strcspn(addrs, ","), addrs)) {
    free(px->resolve);
    px->resolve = b.data;
    cr_timer_start(e->loop, &e->kick, 0);
    return;
  }
  cr_buf_cleanup(&b);
  if(!e->fatal)
    fprintf(stderr, "%scrawler: cannot resolve the proxy %s: %s\n", e->line_shown ? "\n" : "",
            px->host, status ? (reason ? reason : cr_strerror(status)) : "out of memory");
  e->line_shown = 0;
  engine_fatal(e, CR_EDNS, "no proxy");
}

/* Starts the lookups of the proxies' names; called as the run starts. */
static void proxy_lookups(struct cr_engine *e)
{
  unsigned i;

  for(i = 0; i < 2; i++) {
    struct proxy *px = &e->proxies[i];
    const char *addrs = NULL;
    const char *reason = NULL;
    int rc;

    if(!px->host || px->is_ip || px->resolve || px->waiting)
      continue;
    /* The other scheme's proxy may be this one. */
    if(i == 1 && e->proxies[0].host && !strcmp(px->host, e->proxies[0].host) &&
       e->proxies[0].port == px->port && e->proxies[0].resolve) {
      px->resolve = strdup(e->proxies[0].resolve);
      if(px->resolve)
        continue;
    }
    px->req.cb = proxy_on_dns;
    px->req.arg = px;
    rc = cr_dns_lookup(e->dns, px->host, &px->req, &addrs, &reason);
    px->waiting = 1;
    e->proxy_wait++;
    if(rc != 1)
      proxy_on_dns(&px->req, rc, addrs, reason);
  }
}

/* ---- starting ---- */

/* Decides, as a transfer starts, whether its connection is worth keeping
 * and whether to look for an idle one.  libcurl 7.88 pays O(connections)
 * for both: finding a reusable connection walks every connection to the
 * host, busy ones included, and removing a finished transfer whose
 * connection was kept walks the whole connection cache.  At 10,000
 * transfers in flight that is O(N^2) of pure overhead, so:
 *  - the connection is kept only if this host has more URLs queued than it
 *    can start right now, so that some will wait for a connection to free
 *    up; otherwise nobody would reuse it (CURLOPT_FORBID_REUSE);
 *  - on plain http, not above KEEP_MAX_INFLIGHT transfers in flight: there
 *    the walk costs more CPU than the TCP handshake it saves (measured:
 *    ~100 us per transfer at 10,000 in flight, against ~30 us for a new
 *    loopback connection).  A TLS handshake costs far more, so https
 *    keeps its connections at any concurrency;
 *  - over HTTP/1.x (one transfer per connection: plain http, and https
 *    once the host's first connection said so through ALPN) the search for
 *    an idle connection is skipped when none can be idle
 *    (CURLOPT_FRESH_CONNECT).  On https at -c 10000 the walk was a third of
 *    the crawler's CPU: TLS connections live longer, so more of them are
 *    walked.  An https host not known to be HTTP/1.x keeps the search and
 *    waits for the first connection (CURLOPT_PIPEWAIT): HTTP/2 multiplexes
 *    streams over a busy one. */
static void keep_alive_policy(struct cr_engine *e, struct cr_item *it)
{
  struct cr_host *h = it->host;
  CURL *c = it->easy->h;
  unsigned global_free = e->cfg.concurrency - e->in_flight - 1;
  unsigned free_now = cr_host_free_slots(h);
  int https = !strncmp(it->cur, "https:", 6);

  if(free_now > global_free)
    free_now = global_free;
  it->keep_conn = cr_host_queued(h) > free_now &&
                  (https || e->in_flight < KEEP_MAX_INFLIGHT);
  /* An HTTP/2 connection carries the host's other streams: closing it
   * after this one would send them all to new connections (a slow feed of
   * URLs made one h2 host take 33 connections). */
  if(cr_host_speaks(h) == 2)
    it->keep_conn = 1;
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, it->keep_conn ? 0L : 1L);
  /* Saying so lets the server close first, so TIME_WAIT stays on its side
   * and does not pile up on ours, where it slows every later connect()
   * searching for a free local port. */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER,
                   cr_fetch_headers(e->fetch, !it->keep_conn, it->auth != CR_AUTH_NONE));
  if(!https || cr_host_speaks(h) == 1 || e->cfg.http_version == CR_HTTP_1_1) {
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 0L);
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, cr_host_take_idle(h) ? 0L : 1L);
  }
  else {
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 0L);
  }
}

/* A header value an earlier response gave, fit to send back: no control
 * characters (a line break would start another header), not absurdly
 * long. */
static int header_value_ok(const char *v)
{
  size_t n = 0;

  for(; v[n]; n++)
    if((unsigned char)v[n] < 0x20 || v[n] == 0x7f)
      return 0;
  return n > 0 && n <= 1024;
}

/* Appends a header line to *l; returns 0, or -1 (*l unchanged). */
static int slist_add(struct curl_slist **l, const char *line)
{
  struct curl_slist *n = curl_slist_append(*l, line);

  if(!n)
    return -1;
  *l = n;
  return 0;
}

/* -N: asks whether the page changed since the earlier crawl saved it, with
 * the validators it recorded, on top of the shared headers (copied: a
 * list is lent to libcurl, not copied by it). */
static void conditional_headers(struct cr_engine *e, struct cr_item *it)
{
  const struct cr_prev *p;
  const struct curl_slist *base;
  struct curl_slist *l = NULL;
  int ok = 1;

  it->cond = 0;
  if(!e->prev || it->robots_for || it->sitemap)
    return;
  p = cr_recrawl_get(e->prev, it->url);
  /* The validators belong to the page the URL ended at last time. */
  if(!p || strcmp(p->final_url, it->cur) ||
     !((p->etag && header_value_ok(p->etag)) ||
       (p->last_modified && header_value_ok(p->last_modified))))
    return;
  base = cr_fetch_headers(e->fetch, !it->keep_conn, it->auth != CR_AUTH_NONE);
  for(; base && ok; base = base->next)
    ok = !slist_add(&l, base->data);
  if(ok && p->etag && header_value_ok(p->etag)) {
    cr_buf_reset(&e->scratch);
    ok = !cr_buf_printf(&e->scratch, "If-None-Match: %s", p->etag) &&
         !slist_add(&l, e->scratch.data);
  }
  if(ok && p->last_modified && header_value_ok(p->last_modified)) {
    cr_buf_reset(&e->scratch);
    ok = !cr_buf_printf(&e->scratch, "If-Modified-Since: %s", p->last_modified) &&
         !slist_add(&l, e->scratch.data);
  }
  /* Without memory the page is simply fetched whole. */
  if(!ok) {
    curl_slist_free_all(l);
    return;
  }
  it->cond_headers = l;
  it->cond = 1;
  curl_easy_setopt(it->easy->h, CURLOPT_HTTPHEADER, l);
}

/* The connect timeout of one address of a host with naddrs, in ms. */
static long connect_share(const struct cr_engine *e, unsigned naddrs)
{
  double ms = e->cfg.connect_timeout * 1000.0;
  double share = naddrs > 1 ? ms / naddrs : ms;

  if(share < 1000.0)
    share = ms < 1000.0 ? ms : 1000.0;
  return (long)share;
}

static void start_one(struct cr_engine *e, struct cr_item *it)
{
  const char *addr = cr_host_addr(it->host);
  unsigned naddrs = cr_host_naddrs(it->host);
  const struct proxy *px;
  struct cr_easy *ez;
  const char *err = "out of memory";

  if(it->t0 <= 0.0)
    it->t0 = cr_clock();
  it->attempts++;
  it->status = 0;
  it->bytes = 0;
  it->error = NULL;
  it->skip = NULL;
  it->store_rc = 0;
  it->checked = 0;
  it->keep_body = 0;
  it->may_hold = -1;
  it->links_started = 0;
  /* A sitemap's entries are a seed's page links, whatever the attempt. */
  it->links_pages = it->sitemap != 0;
  it->links_reqs = 0;
  it->links_cut = 0;
  it->links_css = 0;
  it->pace_t0 = 0.0;
  it->pace_bytes = 0;
  it->engine = e;
  if(e->warc) {
    cr_warc_cap_free(&it->wcap);
    cr_decode_free(&it->dec);
    if(cr_warc_cap_new(e->warc, &it->wcap))
      goto fail;
  }
  ez = cr_fetch_easy_take(e->fetch);
  if(!ez)
    goto fail;
  it->easy = ez;
  ez->owner = it;
  {
    struct cr_url_view v;

    px = cr_url_view(it->cur, &v) ? NULL : proxy_for(e, v.host, v.host_len, v.https);
  }
  if(px) {
    /* The proxy resolves the URL's host; we resolved the proxy's. */
    if(px->resolve) {
      it->resolve = curl_slist_append(NULL, px->resolve);
      if(!it->resolve)
        goto fail;
    }
  }
  else if(addr) {
    /* "+" makes curl's copy expire like a normal cache entry; every transfer
     * re-adds it, with the answer c-ares has now.  One address, not the
     * list: the crawler does the failover itself (on_done), at once after
     * a refusal, where libcurl would wait out a share of the connect
     * timeout. */
    cr_buf_reset(&e->scratch);
    if(cr_buf_printf(&e->scratch, "+%s:%u:%s", cr_host_name(it->host),
                     cr_host_port(it->host), addr))
      goto fail;
    it->resolve = curl_slist_append(NULL, e->scratch.data);
    if(!it->resolve)
      goto fail;
  }
  curl_easy_setopt(ez->h, CURLOPT_URL, it->cur);
  curl_easy_setopt(ez->h, CURLOPT_RESOLVE, it->resolve);
  /* Always set: an empty string keeps libcurl from reading the proxy
   * variables itself (main read them), and from a name it would resolve
   * on a thread. */
  curl_easy_setopt(ez->h, CURLOPT_PROXY, px ? px->url : "");
  /* Per transfer: a pooled handle may come from one that fell back. */
  curl_easy_setopt(ez->h, CURLOPT_HTTP_VERSION,
                   it->h1_fallback || e->cfg.http_version == CR_HTTP_1_1
                   ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
  /* Each address of a sweep gets an equal share of the connect timeout
   * (at least a second), as libcurl shares it among the addresses it is
   * given: a host whose first address drops SYNs still answers in time. */
  it->addr_seq = cr_host_addr_seq(it->host);
  curl_easy_setopt(ez->h, CURLOPT_CONNECTTIMEOUT_MS, connect_share(e, naddrs));
  curl_easy_setopt(ez->h, CURLOPT_WRITEDATA, it);
  it->auth = auth_for(e, it->cur);
  cr_fetch_set_auth(e->fetch, ez, it->auth);
  keep_alive_policy(e, it);
  conditional_headers(e, it);
  if(cr_fetch_start(e->fetch, ez)) {
    err = "libcurl refused the transfer";
    goto fail;
  }
  run_link(e, it);
  e->in_flight++;
  return;

fail:
  if(it->easy) {
    cr_fetch_easy_give(e->fetch, it->easy);
    it->easy = NULL;
  }
  curl_slist_free_all(it->resolve);
  it->resolve = NULL;
  curl_slist_free_all(it->cond_headers);
  it->cond_headers = NULL;
  cr_frontier_release(e->fr, it);
  fail(e, it, NULL, err);
}

/* At most START_PER_PASS transfers start in one loop pass.  libcurl
 * connects every transfer added in a pass when its timer fires next, and
 * on a fast network connect() does the whole handshake inside the call
 * (50-100 us each on loopback): starting 10,000 at once held the loop for
 * most of a second.  While more wait to start, the loop takes only
 * RAMP_BATCH events a pass, so starting keeps most of the time (what
 * finished can wait a little in the kernel; a transfer not yet started
 * finishes later by all the time it waits) and no pass grows long. */
static void start_transfers(struct cr_engine *e)
{
  unsigned started = 0;

  while(!e->fatal && !e->interrupted && may_start(e)) {
    struct cr_item *it;

    if(started == START_PER_PASS) {
      cr_loop_set_batch(e->loop, RAMP_BATCH);
      return;
    }
    it = cr_frontier_pop(e->fr);
    if(!it)
      break;
    start_one(e, it);
    started++;
  }
  cr_loop_set_batch(e->loop, PASS_BATCH);
}

/* ---- finishing ---- */

static void on_retry_due(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_item *it = t->arg;
  struct cr_engine *e = it->engine;

  run_unlink(e, it);
  e->waiting--;
  if(cr_frontier_requeue(e->fr, it))
    fail(e, it, NULL, "cannot requeue");
}

static uint64_t backoff_ms(struct cr_engine *e, unsigned attempt)
{
  uint64_t ms = BACKOFF_BASE_MS;
  unsigned i;

  for(i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
    ms *= 2;
  if(ms > BACKOFF_MAX_MS)
    ms = BACKOFF_MAX_MS;
  /* Up to 25% jitter, so retries of many URLs do not land together. */
  e->rng ^= e->rng << 13;
  e->rng ^= e->rng >> 7;
  e->rng ^= e->rng << 17;
  return ms + e->rng % (ms / 4 + 1);
}

/* Schedules another attempt after delay_ms; the item waits in the running
 * list so that stopping can find it. */
static void retry_later(struct cr_engine *e, struct cr_item *it, uint64_t delay_ms)
{
  drop_body(e, it);
  it->retry.cb = on_retry_due;
  it->retry.arg = it;
  run_link(e, it);
  e->waiting++;
  cr_timer_start(e->loop, &it->retry, delay_ms);
}

static int retryable_curl(CURLcode rc)
{
  switch(rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:  /* a handshake cut short under load */
    return 1;
  default:
    return 0;
  }
}

/* Ends an item that will not be saved.  For a robots.txt fetch that is
 * the host's answer: a 4xx means there are no rules (allow everything),
 * anything else that it could not be read (allow nothing, RFC 9309 2.3.1). */
static void fail(struct cr_engine *e, struct cr_item *it, const char *ctype, const char *error)
{
  struct cr_robots *rules = NULL;

  if(it->sitemap) {
    sitemap_finish(e, it, error);
    return;
  }
  if(!it->robots_for) {
    finish(e, it, NULL, ctype, error);
    return;
  }
  /* On allocation failure rules stays NULL: allow nothing, the safe side. */
  if(it->status >= 400 && it->status < 500 && it->status != 429)
    cr_robots_allow_all(&rules);
  robots_finish(e, it, rules, error);
}

/* A robots.txt arrived: parse it for our product token. */
static void robots_parsed(struct cr_engine *e, struct cr_item *it)
{
  struct cr_robots *rules = NULL;
  const char *txt = it->robots_body ? it->robots_body->data : "";
  size_t len = it->robots_body ? it->robots_body->len : 0;

  if(cr_robots_parse(txt, len, e->agent, &rules))
    rules = NULL;
  robots_finish(e, it, rules, "out of memory");
}

/* Maps a URL to its relative path under the output directory (without
 * the clash suffixes the store may add).  Returns 0 or a CR_E* code. */
static int map_url(struct cr_engine *e, const char *url, struct cr_buf *rel)
{
  struct cr_url_view v;
  struct cr_buf *parts = &e->scratch;
  int rc;

  /* pathmap wants NUL-terminated parts: "host\0path\0query\0". */
  cr_buf_reset(parts);
  rc = cr_url_view(url, &v);
  if(!rc)
    rc = cr_buf_append(parts, v.host, v.host_len);
  if(!rc)
    rc = cr_buf_putc(parts, '\0');
  if(!rc)
    rc = cr_buf_append(parts, v.path, v.path_len);
  if(!rc)
    rc = cr_buf_putc(parts, '\0');
  if(!rc && v.query)
    rc = cr_buf_append(parts, v.query, v.query_len);
  if(!rc) {
    const char *host = parts->data;
    const char *path = host + v.host_len + 1;

    rc = cr_pathmap(host, v.port, path, v.query ? path + v.path_len + 1 : NULL, rel);
  }
  return rc;
}

/* -E: the suffix a page of this Content-Type lacks at the end of rel, as
 * wget appends it (after a query too: "a?b=1" saves as "a?b=1.html"), or
 * NULL. */
static const char *adjust_suffix(const char *ctype, const char *rel, size_t n)
{
  int html = ctype && (!strncasecmp(ctype, "text/html", 9) ||
                       !strncasecmp(ctype, "application/xhtml+xml", 21));
  int css = ctype && !strncasecmp(ctype, "text/css", 8);

  if(html && !(n >= 5 && !strcasecmp(rel + n - 5, ".html")) &&
     !(n >= 4 && !strcasecmp(rel + n - 4, ".htm")))
    return ".html";
  if(css && !(n >= 4 && !strcasecmp(rel + n - 4, ".css")))
    return ".css";
  return NULL;
}

/* A page between its transfer's end and its file's publication. */
struct saving {
  struct cr_item *it;
  char *mapped;  /* the path its URL maps to, in the same allocation */
  char ctype[];  /* curl's copy goes with the handle */
};

/* cr_store_commit_cb: the page's file is in place (or could not be), so
 * now it gets its manifest line and DONE record. */
static void saved(void *arg, int rc, const char *path)
{
  struct saving *sv = arg;
  struct cr_item *it = sv->it;
  struct cr_engine *e = it->engine;
  const char *ctype = sv->ctype[0] ? sv->ctype : NULL;

  e->saving--;
  if(rc == CR_ENOSPC) {
    engine_fatal(e, rc, "cannot save pages");
    abandon(e, it);
  }
  else if(rc == CR_EMFILE && it->attempts <= e->cfg.retries && !e->fatal && !e->interrupted)
    retry_later(e, it, backoff_ms(e, it->attempts));
  else if(rc)
    finish(e, it, NULL, ctype, "cannot save file");
  else {
    /* links_after compares the two: a page saved elsewhere is noted. */
    cr_buf_reset(&e->last_mapped);
    if(cr_buf_puts(&e->last_mapped, sv->mapped))
      cr_buf_reset(&e->last_mapped);
    finish(e, it, path, ctype, NULL);
  }
  free(sv);
}

/* Starts saving a 2xx body under its mapped path; saved() records it. */
static void save(struct cr_engine *e, struct cr_item *it, const char *ctype)
{
  struct cr_buf rel;
  struct saving *sv = NULL;
  int rc;

  if(it->links) {
    /* The parser may hold back the last links until the end. */
    cr_links_end(it->links);
    cr_links_free(&it->links);
  }
  if(e->cfg.no_mirror) {
    finish(e, it, NULL, ctype, NULL);
    return;
  }
  /* Room for -E's suffix past pathmap's cap: segments leave room for
   * the store's clash suffixes, and a whole path for the directory. */
  cr_buf_init(&rel, CR_RELPATH_MAX + 8);
  rc = map_url(e, it->cur, &rel);
  if(!rc && e->cfg.adjust_extension) {
    const char *suffix = adjust_suffix(ctype, rel.data, rel.len);

    if(suffix)
      rc = cr_buf_puts(&rel, suffix);
  }
  if(!rc) {
    size_t n = ctype ? strlen(ctype) : 0;

    sv = malloc(sizeof(*sv) + n + 1 + rel.len + 1);
    if(!sv)
      rc = CR_ENOMEM;
    else {
      sv->it = it;
      memcpy(sv->ctype, ctype ? ctype : "", n + 1);
      sv->mapped = sv->ctype + n + 1;
      memcpy(sv->mapped, rel.data, rel.len);
      sv->mapped[rel.len] = '\0';
    }
  }
  e->saving++;
  if(!rc)
    rc = cr_store_commit(e->store, &it->file, rel.data, saved, sv);
  cr_buf_cleanup(&rel);
  if(rc && sv)
    saved(sv, rc, NULL);
  else if(rc) {
    e->saving--;
    drop_body(e, it);
    if(rc == CR_ENOSPC) {
      engine_fatal(e, rc, "cannot save pages");
      abandon(e, it);
    }
    else
      finish(e, it, NULL, ctype, "cannot save file");
  }
}

/* Reads the links of a saved page again (see struct reparse): a lowered
 * page, or one -N kept.  The file is read through aio.h a chunk at a
 * time, so a re-crawl of many unchanged pages on a cold disk never holds
 * the loop; the links are offered as if the page had just arrived at this
 * depth (on_link reads only engine, depth, cur and what the parse
 * follows). */
struct reparse_run {
  struct cr_engine *e;
  struct cr_item src;
  char *chunk;
  int slot;
  uint64_t off;
  struct reparse_run *wait_next;
};

static void reparse_on_close(void *arg, int res)
{
  struct reparse_run *run = arg;

  (void)res;
  run->e->reparsing--;
  free(run->src.cur);
  free(run->chunk);
  free(run);
}

static void reparse_end(struct reparse_run *run)
{
  struct cr_engine *e = run->e;

  if(run->src.links) {
    cr_links_end(run->src.links);
    cr_links_free(&run->src.links);
    e->reparsed++;
  }
  if(cr_aio_close(e->aio, run->slot, 0, reparse_on_close, run))
    reparse_on_close(run, 0);
}

static void reparse_on_read(void *arg, int res);

static void reparse_read(struct reparse_run *run)
{
  if(cr_aio_read(run->e->aio, run->slot, run->chunk, REPARSE_CHUNK, run->off, 0,
                 reparse_on_read, run))
    reparse_end(run);
}

static void reparse_on_read(void *arg, int res)
{
  struct reparse_run *run = arg;
  struct cr_engine *e = run->e;

  /* A stopped crawl takes no new links. */
  if(res <= 0 || e->interrupted || e->fatal) {
    if(res < 0 || e->interrupted || e->fatal)
      cr_links_free(&run->src.links);
    reparse_end(run);
    return;
  }
  cr_links_feed(run->src.links, run->chunk, (size_t)res);
  run->off += (uint64_t)res;
  if(e->cfg.max_size && (int64_t)run->off >= e->cfg.max_size)
    reparse_end(run);
  else if(e->pass_links >= LINKS_PER_PASS) {
    /* The next chunk is read in a pass with budget left (reparse_resume). */
    run->wait_next = e->reparse_wait;
    e->reparse_wait = run;
    cr_timer_start(e->loop, &e->kick, 0);
  }
  else
    reparse_read(run);
}

/* Reparses that waited for the link budget read on (one chunk each), or
 * with stop set, end. */
static void reparse_resume(struct cr_engine *e, int stop)
{
  while(e->reparse_wait) {
    struct reparse_run *run = e->reparse_wait;

    e->reparse_wait = run->wait_next;
    run->wait_next = NULL;
    if(stop) {
      cr_links_free(&run->src.links);
      reparse_end(run);
    }
    else
      reparse_read(run);
  }
}

static void reparse_on_open(void *arg, int res)
{
  struct reparse_run *run = arg;

  if(res < 0) {
    /* The file is gone (deleted by hand): its links are lost, no more. */
    cr_links_free(&run->src.links);
    reparse_on_close(run, 0);
    return;
  }
  reparse_read(run);
}

/* Starts one reparse.  Returns 0, or CR_EMFILE when no file slot is free
 * (try again later). */
static int reparse_start(struct cr_engine *e, struct reparse *rp)
{
  struct reparse_run *run;
  struct where *w;
  const char *base = rp->base;
  const char *path = rp->path;
  struct cr_buf rel;
  int rc = 0;

  if(!base) {
    w = (struct where *)cr_hmap_get(&e->where, rp->url);
    base = w ? w->base : rp->url;
    path = w ? w->path : NULL;
  }
  if(!follows_pages(e, rp->depth, rp->requisite, base) && !follows_requisites(e, rp->depth))
    return 0;
  cr_buf_init(&rel, CR_RELPATH_MAX + 1);
  if(!path) {
    if(map_url(e, rp->url, &rel))
      goto done;
    path = rel.data;
  }
  run = calloc(1, sizeof(*run));
  if(!run)
    goto done;
  run->e = e;
  run->chunk = malloc(REPARSE_CHUNK);
  run->src.engine = e;
  run->src.depth = rp->depth;
  run->src.requisite = rp->requisite;
  run->src.links_pages = follows_pages(e, rp->depth, rp->requisite, base);
  run->src.links_reqs = follows_requisites(e, rp->depth);
  /* The stand-in item's URL must outlive the struct reparse. */
  run->src.cur = strdup(base);
  if(!run->chunk || !run->src.cur ||
     links_open(e, &run->src, rp->css ? CR_LINKS_CSS : CR_LINKS_HTML)) {
    free(run->src.cur);
    free(run->chunk);
    free(run);
    goto done;
  }
  rc = cr_aio_openat(e->aio, cr_store_dirfd(e->store), path, O_RDONLY | O_NOFOLLOW, 0, 0,
                     &run->slot, reparse_on_open, run);
  if(rc) {
    cr_links_free(&run->src.links);
    free(run->src.cur);
    free(run->chunk);
    free(run);
    rc = rc == CR_EMFILE ? CR_EMFILE : 0;
    goto done;
  }
  e->reparsing++;

done:
  cr_buf_cleanup(&rel);
  return rc;
}

/* A few per loop pass, and a few at once, so a long chain of lowered
 * pages never holds the loop and never takes the file slots from the
 * pages being saved. */
static void reparse_pass(struct cr_engine *e)
{
  unsigned i;

  for(i = 0; i < REPARSE_PER_PASS && e->reparse_head && e->reparsing < REPARSE_MAX; i++) {
    struct reparse *rp = e->reparse_head;

    if(reparse_start(e, rp) == CR_EMFILE)
      break;
    e->reparse_head = rp->next;
    if(!e->reparse_head)
      e->reparse_tail = &e->reparse_head;
    reparse_free(rp);
  }
}

/* The response's ETag and Last-Modified, for the manifest and the next
 * re-crawl. */
static void take_validators(struct cr_item *it, CURL *h)
{
  static const char *const names[2] = { "ETag", "Last-Modified" };
  char **dst[2];
  int i;

  dst[0] = &it->etag;
  dst[1] = &it->last_modified;
  for(i = 0; i < 2; i++) {
    struct curl_header *hd = NULL;

    if(curl_easy_header(h, names[i], 0, CURLH_HEADER, -1, &hd) != CURLHE_OK ||
       !hd->value || !header_value_ok(hd->value))
      continue;
    free(*dst[i]);
    *dst[i] = strdup(hd->value);
  }
}

/* -N and the server said 304: the earlier file stays as it is, and so do
 * its validators unless the 304 brought new ones. */
static void keep_unchanged(struct cr_engine *e, struct cr_item *it)
{
  const struct cr_prev *p = cr_recrawl_get(e->prev, it->url);
  const char *ct;

  drop_body(e, it);
  if(!it->etag && p->etag)
    it->etag = strdup(p->etag);
  if(!it->last_modified && p->last_modified)
    it->last_modified = strdup(p->last_modified);
  it->kept = 1;
  it->bytes = p->bytes;
  ct = p->content_type;
  if(follows_links(e) && ct) {
    it->links_css = !strncasecmp(ct, "text/css", 8);
    it->kept_links = it->links_css || !strncasecmp(ct, "text/html", 9) ||
                     !strncasecmp(ct, "application/xhtml+xml", 21);
  }
  /* Taken in this run: no other URL may be saved over it. */
  (void)cr_store_note_written(e->store, p->path);
  finish(e, it, p->path, ct, NULL);
}

/* Follows a redirect: the target goes back through the frontier, so its
 * host is resolved by c-ares like any other. */
static void redirect(struct cr_engine *e, struct cr_item *it, const char *location)
{
  char *target = NULL;
  const char *reason = NULL;
  unsigned max = it->robots_for ? ROBOTS_MAX_REDIRECTS : e->cfg.max_redirects;
  int rc;

  if(it->redirects >= max) {
    fail(e, it, NULL, "too many redirects");
    return;
  }
  rc = cr_url_normalize(location, strlen(location), &target, &reason);
  if(rc) {
    char msg[128];

    snprintf(msg, sizeof(msg), "redirect to a bad URL: %s", reason ? reason : cr_strerror(rc));
    fail(e, it, NULL, rc == CR_ESCHEME ? "redirect to a URL that is not http or https" : msg);
    return;
  }
  /* Back to where this chain started or to itself: no later hop can end
   * it, so stop now rather than after --max-redirects requests.  Longer
   * cycles still end at the limit. */
  if(!strcmp(target, it->cur) || !strcmp(target, it->url)) {
    free(target);
    fail(e, it, NULL, "redirect loop");
    return;
  }
  /* A followed link stays in scope through its redirects, as in wget's
   * recursive mode, or a crawled server could send us anywhere.  A seed's
   * redirect (http to https, a www. host) is where the user meant to
   * start: its target joins the scope the way the seed did. */
  if(e->scope && !it->robots_for && !it->sitemap) {
    const char *why = NULL;

    /* A requisite may move to another host (a CDN) as its link could
     * have named one. */
    if(it->depth)
      why = it->requisite ? cr_scope_check_requisite(e->scope, target)
                          : cr_scope_check(e->scope, target);

    if(why) {
      char msg[128];

      snprintf(msg, sizeof(msg), "redirect out of scope: %s", why);
      free(target);
      fail(e, it, NULL, msg);
      return;
    }
    if(!it->depth && cr_scope_add_seed(e->scope, target) == 0)
      journal_scope(e, target);
  }
  drop_body(e, it);
  if(it->cur != it->url)
    free(it->cur);
  it->cur = target;
  it->redirects++;
  /* A redirect is not another attempt at the same URL. */
  it->attempts--;
  if(cr_frontier_requeue(e->fr, it))
    fail(e, it, NULL, "cannot requeue redirect");
}

/* Archiving: the attempt's exchange becomes records kept with the item
 * (warc.h), when a response header block came back.  A body a filter
 * turned down and cut is not archived: we chose not to fetch it. */
static void warc_take(struct cr_engine *e, struct cr_item *it, CURL *h, CURLcode result)
{
  const char *trunc = NULL;
  char *ip = NULL;
  int rc;

  if(it->dec && cr_decode_bad(it->dec)) {
    if(result == CURLE_OK && !it->error)
      it->error = cr_decode_bad(it->dec);
    if(it->wcap)
      cr_warc_cap_framing_broken(it->wcap);
  }
  cr_decode_free(&it->dec);
  if(!it->wcap)
    return;
  if(!cr_warc_cap_has_response(it->wcap) || (it->skip && result == CURLE_WRITE_ERROR)) {
    cr_warc_cap_free(&it->wcap);
    return;
  }
  if(result != CURLE_OK) {
    if(robots_cut(it, result) || (it->sitemap && it->sitemap_stop) ||
       (it->error && !strcmp(it->error, "max size exceeded")))
      trunc = "length";
    else if(result == CURLE_OPERATION_TIMEDOUT)
      trunc = "time";
    else if(it->store_rc || it->error)
      trunc = "unspecified";
    else
      trunc = "disconnect";
  }
  curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
  rc = cr_warc_cap_end(e->warc, &it->wcap, it->cur, ip && *ip ? ip : NULL, trunc, &it->wrecs);
  /* A spool that could not be written costs this record; the transfer's
   * own error (store_rc) decides what happens to the URL. */
  if(rc == CR_ENOMEM)
    engine_fatal(e, rc, "cannot archive");
}

/* cr_fetch_capture_cb */
static void on_capture(void *arg, struct cr_easy *ez, int request, const char *p, size_t n)
{
  struct cr_item *it = ez->owner;

  (void)arg;
  if(!it || !it->wcap)
    return;
  if(request)
    cr_warc_cap_request(it->wcap, p, n);
  else
    cr_warc_cap_header(it->wcap, p, n);
}

/* cr_fetch_ready_cb: the transfer's connection is up.  A new HTTP/2
 * connection is tagged with its host, to be counted off when it closes. */
static void *on_ready(void *arg, struct cr_easy *ez, int h2, int fresh)
{
  struct cr_engine *e = arg;
  struct cr_item *it = ez->owner;

  if(!it || !it->host)
    return NULL;
  cr_frontier_connected(e->fr, it, h2, fresh);
  return h2 && fresh ? it->host : NULL;
}

static void on_conn_closed(void *arg, void *tag)
{
  struct cr_engine *e = arg;

  cr_frontier_h2_closed(e->fr, tag);
}

static void on_done(void *arg, struct cr_easy *ez, CURLcode result)
{
  struct cr_engine *e = arg;
  struct cr_item *it = ez->owner;
  char *ctype = NULL;
  char *location = NULL;
  char msg[CURL_ERROR_SIZE + 64];
  curl_off_t retry_after = 0;
  long status = 0;
  struct curl_slist *resolve = it->resolve;
  struct curl_slist *cond_headers = it->cond_headers;
  struct cr_host *host = it->host;
  int tcp_connected;
  int nothing_sent;
  int handshaking;

  it->resolve = NULL;
  it->cond_headers = NULL;
  it->easy = NULL;
  cr_timer_stop(e->loop, &it->pace);
  held_unlink(e, it);
  run_unlink(e, it);
  e->in_flight--;
  curl_easy_getinfo(ez->h, CURLINFO_RESPONSE_CODE, &status);
  it->status = status;
  warc_take(e, it, ez->h, result);
  auth_learn(e, it, ez->h, status);
  /* A complete response usually leaves its connection in curl's cache. */
  if(result == CURLE_OK && it->keep_conn && host)
    cr_host_put_idle(host);
  cr_frontier_release(e->fr, it);

  if(it->store_rc == CR_EMFILE && it->attempts <= e->cfg.retries) {
    /* Descriptors are budgeted for sockets plus a share of bodies being
     * written at once; when many large bodies stream together, wait. */
    retry_later(e, it, backoff_ms(e, it->attempts));
    goto done;
  }
  if(it->store_rc == CR_ENOSPC && !it->robots_for) {
    engine_fatal(e, it->store_rc, "cannot save pages");
    abandon(e, it);
    goto done;
  }
  if(it->store_rc) {
    snprintf(msg, sizeof(msg), "cannot write file: %s", cr_strerror(it->store_rc));
    fail(e, it, NULL, msg);
    goto done;
  }
  if(it->error) {
    fail(e, it, NULL, it->error);
    goto done;
  }
  if(robots_cut(it, result)) {
    robots_parsed(e, it);
    goto done;
  }
  if(it->sitemap && it->sitemap_stop && result == CURLE_WRITE_ERROR) {
    sitemap_finish(e, it, NULL);
    goto done;
  }
  if(cr_fetch_reason(ez, result)) {
    fail(e, it, NULL, cr_fetch_reason(ez, result));
    goto done;
  }
  curl_easy_getinfo(ez->h, CURLINFO_CONTENT_TYPE, &ctype);
  {
    long sent = 0;
    curl_off_t tcp_us = 0;

    curl_easy_getinfo(ez->h, CURLINFO_REQUEST_SIZE, &sent);
    curl_easy_getinfo(ez->h, CURLINFO_CONNECT_TIME_T, &tcp_us);
    /* libcurl 7.88 leaves the connect time at 0 when a TLS handshake
     * fails or times out, TCP connected or not; its message tells them
     * apart: a TCP connect that failed says "Failed to connect". */
    tcp_connected = tcp_us > 0 ||
                    (result == CURLE_OPERATION_TIMEDOUT && ez->errbuf[0] &&
                     strncmp(ez->errbuf, "Failed to connect", 17) != 0) ||
                    result == CURLE_SSL_CONNECT_ERROR;
    nothing_sent = !status && !sent;
    handshaking = tcp_connected && nothing_sent && !strncmp(it->cur, "https:", 6);
  }
  if(host) {
    /* Only a failure to reach the server can count towards a dead host.
     * A timeout after the request went out means the server accepted and
     * then said nothing: that costs this URL, not every URL of the host.
     * A TLS handshake that failed or timed out on a connected socket is a
     * server that accepted but could not keep up (or a broken one): it
     * lowers how many connections the host gets, never kills it. */
    int how = CR_CONN_OK;
    int r;

    if(result == CURLE_COULDNT_CONNECT ||
       (result == CURLE_OPERATION_TIMEDOUT && nothing_sent && !tcp_connected))
      how = CR_CONN_UNREACHABLE;
    else if(nothing_sent &&
            (result == CURLE_SSL_CONNECT_ERROR || (result == CURLE_OPERATION_TIMEDOUT &&
                                                   handshaking)))
      how = CR_CONN_TLS;

    /* The next address of the host, at once and not as an attempt: only
     * a whole sweep of failing addresses counts towards a dead host.  The
     * cap keeps a host without the dead-host limit from looping. */
    if(how == CR_CONN_UNREACHABLE && !cr_host_dead(host) &&
       it->failovers < cr_host_naddrs(host) &&
       cr_frontier_addr_failed(e->fr, host, it->addr_seq)) {
      it->failovers++;
      it->attempts--;
      drop_body(e, it);
      if(cr_frontier_requeue(e->fr, it))
        fail(e, it, NULL, "cannot requeue");
      goto done;
    }
    it->failovers = 0;
    r = cr_frontier_connect_result(e->fr, it, host, how);
    if(r == CR_CONN_DEAD) {
      fail(e, it, NULL, "host unreachable");
      goto done;
    }
    if(r == CR_CONN_ECHO && it->free_retries < FREE_RETRIES && !e->fatal && !e->interrupted) {
      it->free_retries++;
      it->attempts--;
      retry_later(e, it, backoff_ms(e, 1));
      goto done;
    }
  }
  /* An empty 2xx body never reached on_body: judged here. */
  if(result == CURLE_OK && !it->checked && status >= 200 && status < 300)
    judge_body(e, it, ez->h);
  /* A body the filters turned down: cut on purpose (on_body), or read to
   * its end for links.  The page is done, not failed. */
  if(it->skip && (result == CURLE_OK || result == CURLE_WRITE_ERROR)) {
    if(it->links) {
      /* The parser may hold back the last links until the end. */
      cr_links_end(it->links);
      cr_links_free(&it->links);
    }
    finish(e, it, NULL, ctype, NULL);
    goto done;
  }
  if((result == CURLE_GOT_NOTHING || result == CURLE_HTTP2) && !status && !it->h1_fallback &&
     e->cfg.http_version != CR_HTTP_1_1 && !strncmp(it->cur, "https:", 6)) {
    /* Nothing came back over TLS: a server that takes h2 in ALPN and then
     * does not speak it looks like this.  Once more over HTTP/1.1 (not
     * counted as an attempt), as browsers fall back; if that fails too,
     * the reason says so. */
    it->h1_fallback = 1;
    it->attempts--;
    retry_later(e, it, 0);
    goto done;
  }
  if(result != CURLE_OK) {
    if(retryable_curl(result) && it->attempts <= e->cfg.retries) {
      retry_later(e, it, backoff_ms(e, it->attempts));
      goto done;
    }
    if(it->h1_fallback && (result == CURLE_GOT_NOTHING || result == CURLE_HTTP2))
      snprintf(msg, sizeof(msg), "no reply over HTTP/2 nor HTTP/1.1: %s",
               ez->errbuf[0] ? ez->errbuf : curl_easy_strerror(result));
    else if(!cr_fetch_tls_reason(ez, result, handshaking, msg, sizeof(msg)))
      snprintf(msg, sizeof(msg), "%s", ez->errbuf[0] ? ez->errbuf : curl_easy_strerror(result));
    fail(e, it, NULL, msg);
    goto done;
  }
  if(status >= 200 && status < 300) {
    if(it->robots_for)
      robots_parsed(e, it);
    else if(it->sitemap)
      sitemap_finish(e, it, NULL);
    else {
      take_validators(it, ez->h);
      save(e, it, ctype);
    }
    goto done;
  }
  if(status == 304 && it->cond) {
    take_validators(it, ez->h);
    keep_unchanged(e, it);
    goto done;
  }
  if(status >= 300 && status < 400) {
    curl_easy_getinfo(ez->h, CURLINFO_REDIRECT_URL, &location);
    if(location) {
      redirect(e, it, location);
      goto done;
    }
  }
  if((status == 429 || status >= 500) && it->attempts <= e->cfg.retries) {
    uint64_t delay = backoff_ms(e, it->attempts);

    curl_easy_getinfo(ez->h, CURLINFO_RETRY_AFTER, &retry_after);
    if(retry_after > 0) {
      double secs = (double)retry_after;

      if(secs > e->cfg.retry_after_max)
        secs = e->cfg.retry_after_max;
      delay = (uint64_t)(secs * 1000.0);
    }
    /* The server asked the whole host to slow down. */
    if(status == 429 || status == 503)
      cr_frontier_backoff(e->fr, host, delay);
    retry_later(e, it, delay);
    goto done;
  }
  snprintf(msg, sizeof(msg), "HTTP %ld", status);
  fail(e, it, ctype, msg);

done:
  /* The item is finished or requeued; the handle and its resolve list are
   * no longer used by curl (the transfer left the multi handle). */
  ez->owner = NULL;
  cr_fetch_easy_give(e->fetch, ez);
  curl_slist_free_all(resolve);
  curl_slist_free_all(cond_headers);
}

/* ---- the loop's side ---- */

static void fill_stats(struct cr_engine *e)
{
  e->st.queued = e->rejected + cr_frontier_added(e->fr);
  e->st.in_flight = e->in_flight;
  e->st.resolving = cr_dns_busy(e->dns);
  e->st.dns_queries = cr_dns_queries(e->dns);
  e->st.elapsed = e->t_start > 0.0 ? cr_clock() - e->t_start : 0.0;
  cr_loop_stall_max(e->loop, &e->st.loop_stall_max, &e->st.loop_pass_max);
  if(e->pass_links > e->st.links_pass_max)
    e->st.links_pass_max = e->pass_links;
}

static void show_line(struct cr_engine *e)
{
  struct cr_buf b;

  fill_stats(e);
  cr_buf_init(&b, 512);
  if(!cr_buf_puts(&b, "\r") && !cr_progress_line(&b, &e->st) && !cr_buf_puts(&b, "\033[K")) {
    ssize_t w = write(STDERR_FILENO, b.data, b.len);

    (void)w;
    e->line_shown = 1;
  }
  cr_buf_cleanup(&b);
}

static void on_progress(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_engine *e = t->arg;

  show_line(e);
  cr_timer_start(loop, t, PROGRESS_MS);
}

static void on_kick(struct cr_loop *loop, struct cr_timer *t)
{
  /* Nothing to do: firing made the loop run another pass. */
}

/* --max-time: the way SIGINT stops a crawl, and then the transfers in
 * flight get their lines (cancel_all). */
static void on_deadline(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_engine *e = t->arg;

  e->time_up = 1;
  e->interrupted = 1;
  cr_loop_break(loop);
}

static void on_signal(struct cr_loop *loop, int fd, unsigned events, void *arg)
{
  struct cr_engine *e = arg;
  struct signalfd_siginfo si;
  ssize_t n = read(fd, &si, sizeof(si));

  if(n != (ssize_t)sizeof(si))
    return;
  e->interrupted = 1;
  cr_loop_break(loop);
}

/* Once per loop pass: new transfers, DNS bookkeeping, manifest flush, and
 * the end of the crawl. */
static void on_pass(struct cr_loop *loop, void *arg)
{
  struct cr_engine *e = arg;
  int rc;

  release_held(e);
  if(e->jr) {
    /* One write per pass, queued before any new transfer starts and
     * submitted with this pass's other file work: what finished so far
     * survives a SIGKILL once it completes (next pass, or the one after
     * if a write was still out), so a kill costs the transfers in flight
     * and about a pass of finished ones. */
    int mrc = 0;

    /* The manifest after the journal: a line on standard output (which a
     * resume cannot take back) always has its record.  The lines whose
     * records went with the last journal write go once it completed. */
    if(e->man_mark && !cr_journal_writing(e->jr)) {
      mrc = cr_manifest_flush_part(e->man, e->man_mark);
      e->man_mark = 0;
      e->unw_inflight = 0;
    }
    rc = cr_journal_flush(e->jr);
    if(!rc && cr_loop_now(loop) - e->last_sync >= SYNC_MS) {
      e->last_sync = cr_loop_now(loop);
      rc = cr_journal_sync(e->jr);
    }
    if(!rc && !e->man_mark && cr_journal_writing(e->jr)) {
      e->man_mark = cr_manifest_pending(e->man);
      e->unw_inflight = e->unw_pending;
      e->unw_pending = 0;
    }
    if(rc)
      journal_failed(e, rc);
    if(mrc)
      engine_fatal(e, mrc, "cannot write the manifest");
  }
  if(e->feed && !e->interrupted && !e->fatal &&
     cr_frontier_pending(e->fr) < e->feed_low &&
     (!e->dist || cr_dist_waiting(e->dist) < e->feed_low)) {
    if(!e->feed(e->feed_arg, e, e->feed_low))
      e->feed = NULL;
    /* What it added may have failed at once (a cached DNS failure): come
     * back for more without waiting for an event that may never come.
     * Offers to a shared crawl wait for Redis's answer instead. */
    else if(cr_frontier_pending(e->fr) < e->feed_low &&
            (!e->dist || cr_dist_waiting(e->dist) < e->feed_low))
      cr_timer_start(loop, &e->kick, 0);
  }
  reparse_pass(e);
  start_transfers(e);
  /* Once per pass: sends the lookups asked for so far and re-arms the
   * c-ares timer.  An answer can come back at once (from /etc/hosts), making
   * a host ready after start_transfers ran; the kick makes the next pass
   * come without waiting for an event. */
  cr_dns_pass(e->dns);
  if(cr_frontier_has_ready(e->fr) && may_start(e))
    cr_timer_start(loop, &e->kick, 0);
  if(!e->jr) {
    rc = cr_manifest_flush(e->man);
    if(rc)
      engine_fatal(e, rc, "cannot write the manifest");
  }
  /* After the manifest's write: a URL is said to be finished only once its
   * line is in the file. */
  if(e->dist)
    cr_dist_pass(e->dist, (unsigned)cr_frontier_pending(e->fr) + e->in_flight + e->waiting,
                 !e->in_flight && !e->waiting && !e->saving && !e->reparsing &&
                 !e->reparse_head && !cr_frontier_pending(e->fr));
  /* All file work of this pass goes to the kernel at once.  The
   * synchronous backend runs it here; what its callbacks recorded is
   * written on the next pass, which the kick makes come. */
  if(cr_aio_submit(e->aio))
    cr_timer_start(loop, &e->kick, 0);
  /* The loop's stall figures count only while something waits on it. */
  cr_loop_set_busy(loop, e->in_flight > 0);
  if(e->fatal)
    cr_loop_break(loop);
  else if(e->reparse_head && e->reparsing < REPARSE_MAX)
    cr_timer_start(loop, &e->kick, 0);
  else if(!e->in_flight && !e->reparse_head && !e->waiting && !e->saving && !e->reparsing &&
          !cr_frontier_pending(e->fr) &&
          !e->feed && (!e->dist || cr_dist_over(e->dist)))
    cr_loop_break(loop);
}

/* ---- resuming ---- */

/* A URL an earlier run took but did not finish, while the journal is read. */
struct pend {
  struct cr_hnode node;       /* key: url */
  struct pend *prev;          /* journal order, kept for the re-queue */
  struct pend *next;
  unsigned depth;
  int requisite;              /* as struct cr_item's */
  char *referrer;             /* owned, or NULL */
  char url[];
};

struct replay {
  struct cr_engine *e;
  const struct cr_buf *identity;
  int manifest_lines;         /* the manifest is a file: rewrite its lines */
  int seen_config;
  struct cr_hmap map;
  struct pend *head;
  struct pend *tail;
  struct cr_buf key;          /* a URL from a record, NUL-terminated */
  uint64_t unverified;        /* pages of unsynced records not on disk */
};

/* Reads fields from a payload; `bad` is set when one runs past the end. */
struct rd {
  const char *p;
  size_t n;
  int bad;
};

static const char *rd_bytes(struct rd *r, size_t n)
{
  const char *p = r->p;

  if(r->bad || r->n < n) {
    r->bad = 1;
    return NULL;
  }
  r->p += n;
  r->n -= n;
  return p;
}

static uint32_t rd_u32(struct rd *r)
{
  const char *p = rd_bytes(r, 4);
  uint32_t v = 0;

  if(p)
    memcpy(&v, p, 4);
  return v;
}

static void pend_unlink(struct replay *rp, struct pend *pe)
{
  cr_hmap_del(&rp->map, &pe->node);
  if(pe->prev)
    pe->prev->next = pe->next;
  else
    rp->head = pe->next;
  if(pe->next)
    pe->next->prev = pe->prev;
  else
    rp->tail = pe->prev;
  free(pe->referrer);
  free(pe);
}

/* Bytes of p[0..n) before its first newline. */
static size_t line_len(const char *p, size_t n)
{
  const char *nl = memchr(p, '\n', n);

  return nl ? (size_t)(nl - p) : n;
}

/* Points out the first line where two identities differ. */
static void report_mismatch(struct cr_engine *e, const char *saved, size_t saved_len,
                            const char *now, size_t now_len)
{
  size_t i = 0;
  size_t j = 0;

  while(i < saved_len || j < now_len) {
    size_t a = i < saved_len ? line_len(saved + i, saved_len - i) : 0;
    size_t b = j < now_len ? line_len(now + j, now_len - j) : 0;

    if(i >= saved_len || j >= now_len || a != b || memcmp(saved + i, now + j, a)) {
      fprintf(stderr, "crawler: %s/.crawler holds an unfinished crawl with other URLs or "
              "settings: it has '%.*s', this run has '%.*s'.  Run it with the same URLs "
              "and options, or pass --fresh to discard it\n", e->cfg.output_dir,
              (int)(i < saved_len ? a : 6), i < saved_len ? saved + i : "(none)",
              (int)(j < now_len ? b : 6), j < now_len ? now + j : "(none)");
      return;
    }
    i += a + 1;
    j += b + 1;
  }
}

static int replay_config(struct replay *rp, const char *p, size_t len)
{
  struct cr_engine *e = rp->e;
  int64_t start;

  if(len < sizeof(start))
    return CR_EIO;
  memcpy(&start, p, sizeof(start));
  p += sizeof(start);
  len -= sizeof(start);
  if(len != rp->identity->len || memcmp(p, rp->identity->data, len)) {
    report_mismatch(e, p, len, rp->identity->data, rp->identity->len);
    return CR_ESTATE;
  }
  rp->seen_config = 1;
  e->manifest_start = start;
  /* The manifest is rebuilt from the journal: whatever the killed run left
   * after the crawl's first line (a torn line, lines the journal never
   * got) goes, and the journal's lines come back in their order. */
  if(rp->manifest_lines)
    return cr_manifest_truncate(e->man, start);
  return 0;
}

static int replay_add(struct replay *rp, const char *p, size_t len)
{
  struct rd r = { p, len, 0 };
  uint32_t dword = rd_u32(&r);
  unsigned depth = dword & ~J_REQUISITE;
  int requisite = (dword & J_REQUISITE) != 0;
  uint32_t n = rd_u32(&r);
  const char *url = rd_bytes(&r, n);
  struct pend *pe;

  if(r.bad)
    return CR_EIO;
  cr_buf_reset(&rp->key);
  if(cr_buf_append(&rp->key, url, n))
    return CR_ENOMEM;
  pe = (struct pend *)cr_hmap_get(&rp->map, rp->key.data);
  if(pe) {
    /* Reached again by a shorter path before it was done. */
    if(depth < pe->depth) {
      char *ref = r.n ? strndup(r.p, r.n) : NULL;

      if(r.n && !ref)
        return CR_ENOMEM;
      free(pe->referrer);
      pe->referrer = ref;
      pe->depth = depth;
      pe->requisite = requisite;
    }
    return 0;
  }
  if(cr_frontier_seen(rp->e->fr, rp->key.data)) {
    /* Done, then reached by a shorter path: the frontier lowers it (the
     * manifest line is corrected at the end, the links followed again). */
    char *ref = r.n ? strndup(r.p, r.n) : NULL;
    int rc;

    if(r.n && !ref)
      return CR_ENOMEM;
    rc = cr_frontier_add(rp->e->fr, rp->key.data, depth, requisite, ref);
    free(ref);
    return rc == CR_EDUP || !rc ? 0 : rc;
  }
  pe = calloc(1, sizeof(*pe) + n + 1);
  if(!pe)
    return CR_ENOMEM;
  memcpy(pe->url, url, n);
  pe->depth = depth;
  pe->requisite = requisite;
  if(r.n) {
    pe->referrer = strndup(r.p, r.n);
    if(!pe->referrer) {
      free(pe);
      return CR_ENOMEM;
    }
  }
  pe->node.key = pe->url;
  /* A seed widens the scope.  The front end gives its seeds again, but
   * only once the restored queue runs low, and links found before then
   * must be judged against every seed. */
  if(!depth && ((rp->e->scope && cr_scope_add_seed(rp->e->scope, pe->url)) ||
                 note_seed(rp->e, pe->url) || sitemap_seed(rp->e, pe->url))) {
    free(pe->referrer);
    free(pe);
    return CR_ENOMEM;
  }
  if(cr_hmap_put(&rp->map, &pe->node)) {
    free(pe->referrer);
    free(pe);
    return CR_ENOMEM;
  }
  pe->prev = rp->tail;
  if(rp->tail)
    rp->tail->next = pe;
  else
    rp->head = pe;
  rp->tail = pe;
  return 0;
}

static int replay_done(struct replay *rp, const char *p, size_t len, int synced)
{
  struct cr_engine *e = rp->e;
  struct rd r = { p, len, 0 };
  const char *failed = rd_bytes(&r, 1);
  const char *bytes_p = rd_bytes(&r, sizeof(int64_t));
  uint32_t n = rd_u32(&r);
  const char *url = rd_bytes(&r, n);
  uint32_t pn = rd_u32(&r);
  const char *path = rd_bytes(&r, pn);
  struct pend *pe;
  int64_t bytes = 0;
  int rc;

  if(r.bad)
    return CR_EIO;
  memcpy(&bytes, bytes_p, sizeof(bytes));
  cr_buf_reset(&rp->key);
  if(cr_buf_append(&rp->key, url, n))
    return CR_ENOMEM;
  pe = (struct pend *)cr_hmap_get(&rp->map, rp->key.data);
  /* Not taken, or finished already: a page fetched again after a power
   * loss has a second record, and the first one counts. */
  if(!pe)
    return 0;
  cr_buf_reset(&rp->key);
  if(pn && (cr_buf_append(&rp->key, path, pn)))
    return CR_ENOMEM;
  /* Past the last sync point a page file may not have reached the disk
   * (power loss): such a URL is fetched again. */
  if(pn && !synced && !cr_store_has_file(e->store, rp->key.data, bytes)) {
    rp->unverified++;
    return 0;
  }
  if(pn) {
    rc = cr_store_note_written(e->store, rp->key.data);
    if(rc)
      return rc;
  }
  rc = cr_frontier_mark_seen(e->fr, pe->url, pe->depth);
  if(rc && rc != CR_EDUP)
    return rc;
  if(e->prev && !*failed) {
    struct cr_prev *prev = cr_recrawl_get(e->prev, pe->url);

    if(prev)
      prev->seen = 1;
  }
  pend_unlink(rp, pe);
  if(rp->manifest_lines) {
    rc = cr_manifest_write_raw(e->man, r.p, r.n);
    if(rc)
      return rc;
  }
  e->st.done++;
  /* An older run wrote only 0 and 1. */
  if(*failed == 2)
    e->st.skipped++;
  else if(*failed)
    e->st.failed++;
  else {
    e->st.ok++;
    e->st.bytes += (uint64_t)bytes;
  }
  return 0;
}

static int replay_bad(struct replay *rp, const char *p, size_t len)
{
  struct cr_engine *e = rp->e;
  struct rd r = { p, len, 0 };
  const char *kp = rd_bytes(&r, sizeof(uint64_t));
  uint64_t key;
  int rc;

  if(r.bad)
    return CR_EIO;
  memcpy(&key, kp, sizeof(key));
  rc = cr_hset_add(&e->bad_seen, key);
  if(rc <= 0)
    return rc;
  if(rp->manifest_lines) {
    rc = cr_manifest_write_raw(e->man, r.p, r.n);
    if(rc)
      return rc;
  }
  e->rejected++;
  e->st.done++;
  e->st.failed++;
  return 0;
}

static int replay_scope(struct replay *rp, const char *p, size_t len)
{
  int rc;

  if(!rp->e->scope)
    return 0;
  cr_buf_reset(&rp->key);
  if(cr_buf_append(&rp->key, p, len))
    return CR_ENOMEM;
  rc = cr_scope_add_seed(rp->e->scope, rp->key.data);
  return rc == CR_EURL ? 0 : rc;
}

/* cr_journal_replay_cb */
static int replay_record(void *arg, int type, const char *p, size_t len, int synced)
{
  struct replay *rp = arg;

  if(type == CR_J_CONFIG)
    return rp->seen_config ? 0 : replay_config(rp, p, len);
  if(!rp->seen_config)
    return CR_EIO;
  switch(type) {
  case CR_J_ADD:
    return replay_add(rp, p, len);
  case CR_J_DONE:
    return replay_done(rp, p, len, synced);
  case CR_J_WARC:
  case CR_J_WDONE: {
    struct cr_engine *e = rp->e;
    uint32_t serial;
    uint64_t ends[2];

    if(len < sizeof(serial) + sizeof(ends))
      return CR_EIO;
    memcpy(&serial, p, sizeof(serial));
    memcpy(ends, p + sizeof(serial), sizeof(ends));
    e->warc_resume = 1;
    e->warc_pos.serial = serial;
    e->warc_pos.warc_end = ends[0];
    e->warc_pos.cdx_end = ends[1];
    if(type == CR_J_WARC)
      return 0;
    return replay_done(rp, p + sizeof(serial) + sizeof(ends),
                       len - sizeof(serial) - sizeof(ends), synced);
  }
  case CR_J_BAD:
    return replay_bad(rp, p, len);
  case CR_J_SCOPE:
    return replay_scope(rp, p, len);
  case CR_J_CRAWL:
    /* The first run's name goes on: one crawl, however many runs. */
    if(len && len < sizeof(rp->e->crawl_id)) {
      memcpy(rp->e->crawl_id, p, len);
      rp->e->crawl_id[len] = '\0';
      return cr_manifest_set_crawl(rp->e->man, rp->e->crawl_id);
    }
    return 0;
  default:
    /* A later version's record: nothing this one must know. */
    return 0;
  }
}

/* What decides which URLs a crawl takes: a resume under other settings
 * would mix two crawls in one output.  Limits of speed and politeness may
 * change between runs. */
static int identity_text(const struct cr_config *c, struct cr_buf *b, int shared)
{
  int rc = cr_buf_puts(b, STATE_MAGIC);

  if(!rc && !shared)
    rc = cr_buf_printf(b, "manifest=%s\n",
                       /* The default follows DIR, however DIR is spelt. */
                       c->manifest_path ? c->manifest_path : "(in the output directory)");
  if(!rc)
    rc = cr_buf_printf(b, "recursive=%d\n", c->recursive);
  if(!rc && (c->recursive || c->page_requisites))
    rc = cr_buf_printf(b, "depth=%d\nspan-hosts=%d\ndomains=%s\naccept-regex=%s\n"
                       "reject-regex=%s\nno-parent=%d\nmax-host-pages=%llu\n"
                       "max-url-length=%zu\nmax-path-depth=%u\nrobots=%d\n",
                       c->max_depth, c->span_hosts, c->domains ? c->domains : "",
                       c->accept_regex ? c->accept_regex : "",
                       c->reject_regex ? c->reject_regex : "", c->no_parent,
                       (unsigned long long)c->host_page_cap, c->max_url_len,
                       c->max_path_segments, c->robots);
  /* Only when on, so a crawl without it resumes from an older state. */
  if(!rc && c->page_requisites)
    rc = cr_buf_puts(b, "page-requisites=1\n");
  /* -E changes the names pages are saved as. */
  if(!rc && c->adjust_extension)
    rc = cr_buf_puts(b, "adjust-extension=1\n");
  if(!rc)
    rc = cr_buf_printf(b, "max-pages=%llu\n", (unsigned long long)c->max_pages);
  /* Only when given, so a crawl begun before these flags existed still
   * resumes. */
  if(!rc && (c->accept || c->reject))
    rc = cr_buf_printf(b, "accept=%s\nreject=%s\nignore-case=%d\n",
                       c->accept ? c->accept : "", c->reject ? c->reject : "",
                       c->ignore_case);
  if(!rc && (c->accept_type || c->reject_type))
    rc = cr_buf_printf(b, "accept-type=%s\nreject-type=%s\n",
                       c->accept_type ? c->accept_type : "",
                       c->reject_type ? c->reject_type : "");
  /* A resume writes on into the same WARC files, or none. */
  if(!rc && c->warc && !shared)
    rc = cr_buf_printf(b, "warc=%s\nno-mirror=%d\n", c->warc, c->no_mirror);
  if(!rc && c->identity && !shared)
    rc = cr_buf_puts(b, c->identity);
  return rc;
}

static int build_identity(struct cr_engine *e, struct cr_buf *b)
{
  return identity_text(&e->cfg, b, 0);
}

char *cr_config_identity(const struct cr_config *cfg, int shared)
{
  struct cr_buf b;
  char *out = NULL;

  cr_buf_init(&b, 512);
  if(!identity_text(cfg, &b, shared))
    out = strndup(b.data ? b.data : "", b.len);
  cr_buf_cleanup(&b);
  return out;
}

/* The crawl's name in its manifest lines: when it started, in UTC to the
 * millisecond, so that runs appending to one manifest can be told apart.
 * A resumed crawl keeps its first run's name (CR_J_CRAWL). */
static void crawl_name(struct cr_engine *e)
{
  struct timespec ts;
  struct tm tm;
  char when[32];

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(e->crawl_id, sizeof(e->crawl_id), "%.20s.%03uZ", when,
           (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* cr_recrawl_filter: an entry whose file is no longer what the manifest
 * says (deleted, edited) is fetched whole. */
static int recrawl_keep(void *arg, const struct cr_prev *p)
{
  struct cr_engine *e = arg;

  return cr_store_has_file(e->store, p->path, p->bytes);
}

/* -N: what the manifest says earlier crawls saved.  Read before the
 * crawl starts, as the journal is on --resume: the loop is not running
 * yet, so the disk holds up nothing. */
static int recrawl_open(struct cr_engine *e)
{
  int rc = cr_recrawl_load(e->manifest_path, &e->prev);

  if(rc) {
    if(rc == CR_ENOMEM)
      fprintf(stderr, "crawler: out of memory reading %s\n", e->manifest_path);
    return rc;
  }
  cr_recrawl_filter(e->prev, recrawl_keep, e);
  if(e->prev->skipped && e->cfg.progress != CR_PROGRESS_NONE)
    fprintf(stderr, "crawler: -N: skipped %llu of %llu lines of %s that are not manifest "
            "lines\n", (unsigned long long)e->prev->skipped,
            (unsigned long long)e->prev->lines, e->manifest_path);
  e->st.recrawl = 1;
  return 0;
}

/* Opens the crawl state: a new journal, or the replay of an earlier
 * run's. */
static int state_open(struct cr_engine *e)
{
  const struct cr_config *cfg = &e->cfg;
  struct cr_buf id;
  struct replay rp;
  uint64_t dropped = 0;
  uint64_t pending = 0;
  struct pend *pe;
  int exists;
  int resume;
  int rc;

  if(cfg->state == CR_STATE_OFF)
    return 0;
  memset(&rp, 0, sizeof(rp));
  cr_buf_init(&id, 64 * 1024);
  cr_hmap_init(&rp.map);
  cr_buf_init(&rp.key, CR_JOURNAL_REC_MAX + 1);
  exists = cr_journal_exists(cfg->output_dir);
  if(exists && cfg->state == CR_STATE_ASK) {
    fprintf(stderr, "crawler: %s/.crawler holds the state of an unfinished crawl; pass "
            "--resume to continue it or --fresh to start over\n", cfg->output_dir);
    rc = CR_ESTATE;
    goto done;
  }
  resume = exists && cfg->state == CR_STATE_RESUME;
  rc = build_identity(e, &id);
  if(rc) {
    fprintf(stderr, "crawler: the URLs and settings are too long to be saved\n");
    goto done;
  }
  rc = cr_journal_open(cfg->output_dir, !resume, e->aio, &e->jr);
  if(rc)
    goto done;
  if(!resume) {
    int64_t start = cr_manifest_size(e->man);

    e->manifest_start = start;
    rc = cr_journal_begin(e->jr, CR_J_CONFIG);
    if(!rc)
      rc = cr_journal_put(e->jr, &start, sizeof(start));
    if(!rc)
      rc = cr_journal_put(e->jr, id.data, id.len);
    if(!rc)
      rc = cr_journal_end(e->jr);
    if(!rc)
      rc = cr_journal_begin(e->jr, CR_J_CRAWL);
    if(!rc)
      rc = cr_journal_put(e->jr, e->crawl_id, strlen(e->crawl_id));
    if(!rc)
      rc = cr_journal_end(e->jr);
    if(!rc)
      rc = cr_journal_flush(e->jr);
    if(rc)
      fprintf(stderr, "crawler: cannot write the crawl state: %s\n", cr_strerror(rc));
    goto done;
  }
  rp.e = e;
  rp.identity = &id;
  rp.manifest_lines = cr_manifest_size(e->man) >= 0;
  rc = cr_journal_replay(e->jr, replay_record, &rp, &dropped);
  if(!rc && !rp.seen_config)
    rc = CR_EIO;
  if(rc) {
    if(rc != CR_ESTATE)
      fprintf(stderr, "crawler: cannot resume from %s/.crawler: %s; pass --fresh to start "
              "over\n", cfg->output_dir, rc == CR_EIO ? "the state is damaged"
                                                     : cr_strerror(rc));
    goto done;
  }
  while(rp.head) {
    pe = rp.head;
    rc = cr_frontier_add(e->fr, pe->url, pe->depth, pe->requisite, pe->referrer);
    if(rc && rc != CR_EDUP && rc != CR_EFULL) {
      fprintf(stderr, "crawler: cannot resume: %s\n", cr_strerror(rc));
      goto done;
    }
    pending++;
    pend_unlink(&rp, pe);
  }
  rc = 0;
  if(cfg->progress != CR_PROGRESS_NONE) {
    if(dropped)
      fprintf(stderr, "crawler: dropped a torn record (%llu bytes) at the end of the "
              "crawl state\n", (unsigned long long)dropped);
    fprintf(stderr, "crawler: resuming the crawl in %s: %llu URLs done, %llu to fetch again"
            "%s\n", cfg->output_dir, (unsigned long long)e->st.done,
            (unsigned long long)pending,
            rp.unverified ? " (some saved pages did not reach the disk)" : "");
  }

done:
  while(rp.head)
    pend_unlink(&rp, rp.head);
  cr_hmap_cleanup(&rp.map);
  cr_buf_cleanup(&rp.key);
  cr_buf_cleanup(&id);
  if(!rc && e->jr)
    cr_frontier_set_accept(e->fr, journal_add, e);
  return rc;
}

/* The WARC files: named after the crawl's start, which a resume keeps,
 * and cut back to the position the journal last recorded. */
static int warc_open(struct cr_engine *e)
{
  const struct cr_config *c = &e->cfg;
  struct cr_warc_opts o;
  struct cr_buf info;
  char stamp[15];
  const char *id = e->crawl_id;
  int rc;

  /* 2026-12-04T08:22:05.123Z -> 20261204082205 */
  snprintf(stamp, sizeof(stamp), "%.4s%.2s%.2s%.2s%.2s%.2s", id, id + 5, id + 8, id + 11,
           id + 14, id + 17);
  cr_buf_init(&info, 64 * 1024);
  rc = cr_buf_printf(&info, "operator-crawl: %s\r\nhttp-header-user-agent: %s\r\n"
                     "robots: %s\r\nrecursive: %d\r\ndepth: %d\r\n"
                     "page-requisites: %d\r\nspan-hosts: %d\r\n",
                     e->crawl_id, c->user_agent ? c->user_agent : "crawler/" CR_VERSION,
                     (c->recursive || c->page_requisites) && c->robots ? "obey" : "ignore",
                     c->recursive, c->max_depth, c->page_requisites, c->span_hosts);
  if(!rc && c->domains)
    rc = cr_buf_printf(&info, "domains: %s\r\n", c->domains);
  if(!rc && c->accept_regex)
    rc = cr_buf_printf(&info, "accept-regex: %s\r\n", c->accept_regex);
  if(!rc && c->reject_regex)
    rc = cr_buf_printf(&info, "reject-regex: %s\r\n", c->reject_regex);
  if(rc) {
    cr_buf_cleanup(&info);
    return rc;
  }
  memset(&o, 0, sizeof(o));
  o.prefix = c->warc;
  o.stamp = stamp;
  o.max_size = c->warc_max_size;
  o.level = c->warc_level;
  o.dedup = c->warc_dedup;
  o.info = info.data;
  o.resume = e->jr && e->warc_resume;
  o.resume_serial = e->warc_pos.serial;
  o.resume_warc_end = e->warc_pos.warc_end;
  o.resume_cdx_end = e->warc_pos.cdx_end;
  rc = cr_warc_new(&o, e->aio, &e->warc);
  cr_buf_cleanup(&info);
  return rc;
}

/* ---- public API ---- */

static int setup_signals(struct cr_engine *e)
{
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if(sigprocmask(SIG_BLOCK, &set, &e->oldmask) < 0)
    return CR_ELOOP;
  e->signals_blocked = 1;
  e->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if(e->sigfd < 0)
    return CR_ELOOP;
  e->sig_watch = cr_loop_watch(e->loop, e->sigfd, CR_READ, on_signal, e);
  return e->sig_watch < 0 ? e->sig_watch : 0;
}

int cr_engine_new(const struct cr_config *cfg, struct cr_engine **out)
{
  struct cr_engine *e;
  int rc;

  *out = NULL;
  if(!cfg->output_dir || !cfg->concurrency || !cfg->per_host) {
    fprintf(stderr, "crawler: invalid configuration\n");
    return CR_EINVAL;
  }
  e = calloc(1, sizeof(*e));
  if(!e)
    return CR_ENOMEM;
  e->cfg = *cfg;
  e->sigfd = -1;
  e->sig_watch = -1;
  e->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  e->progress.cb = on_progress;
  e->progress.arg = e;
  e->kick.cb = on_kick;
  e->kick.arg = e;
  e->deadline.cb = on_deadline;
  e->deadline.arg = e;
  cr_buf_init(&e->scratch, CR_URL_MAX + 8);
  cr_hset_init(&e->link_memo);
  cr_hset_init(&e->bad_seen);
  cr_hmap_init(&e->lowered);
  cr_hmap_init(&e->where);
  e->reparse_tail = &e->reparse_head;
  cr_buf_init(&e->last_mapped, CR_RELPATH_MAX + 1);
  e->manifest_start = -1;
  cr_hset_init(&e->seed_origins);
  cr_hset_init(&e->sitemap_origins);
  cr_hset_init(&e->sitemap_seen);
  cr_hset_init(&e->basic_origins);
  e->creds = cfg->user || cfg->password || cfg->netrc;
  {
    const char *const *hd;

    for(hd = cfg->headers; hd && *hd; hd++) {
      if(!strncasecmp(*hd, "authorization:", 14) || !strncasecmp(*hd, "cookie:", 7) ||
         !strncasecmp(*hd, "proxy-authorization:", 20))
        e->creds = 1;
    }
  }
  rc = cr_loop_new(&e->loop);
  if(rc) {
    fprintf(stderr, "crawler: cannot create the event loop: %s\n", strerror(errno));
    goto fail;
  }
  /* On tmpfs no file call waits for a device, and nothing survives a
   * power loss anyway: plain calls, without the ring's hand-off. */
  {
    /* The WARC files may be elsewhere: plain calls only when they too
     * are on tmpfs, or their writes would wait for a disk in the loop. */
    int sync = cr_store_on_tmpfs(cfg->output_dir);

    if(sync && cfg->warc) {
      char *dir = strdup(cfg->warc);
      char *slash = dir ? strrchr(dir, '/') : NULL;

      if(slash)
        slash[slash == dir ? 1 : 0] = '\0';
      sync = dir && cr_store_on_tmpfs(slash ? dir : ".");
      free(dir);
    }
    rc = cr_aio_new(e->loop, sync, cfg->progress == CR_PROGRESS_NONE, &e->aio);
  }
  if(rc)
    goto fail;
  rc = cr_store_new(cfg->output_dir, e->aio, &e->store);
  if(rc)
    goto fail;
  /* Per-page writeback only matters when a sync point will vouch for it. */
  cr_store_set_durable(e->store, cfg->state != CR_STATE_OFF);
  if(cfg->manifest_path) {
    e->manifest_path = strdup(cfg->manifest_path);
  }
  else {
    struct cr_buf b;

    cr_buf_init(&b, 8192);
    if(cr_buf_printf(&b, "%s/manifest.jsonl", cfg->output_dir))
      cr_buf_cleanup(&b);
    e->manifest_path = b.data;
  }
  rc = CR_ENOMEM;
  if(!e->manifest_path)
    goto fail;
  if(cfg->convert_links && !strcmp(e->manifest_path, "-")) {
    fprintf(stderr, "crawler: -k reads where each page was saved from the manifest, "
            "which must be a file, not standard output\n");
    rc = CR_EINVAL;
    goto fail;
  }
  if(cfg->timestamping) {
    if(!strcmp(e->manifest_path, "-")) {
      fprintf(stderr, "crawler: -N reads what the last crawl saved from its manifest, "
              "which must be a file, not standard output\n");
      rc = CR_EINVAL;
      goto fail;
    }
    rc = recrawl_open(e);
    if(rc)
      goto fail;
  }
  rc = cr_manifest_open(e->manifest_path, &e->man);
  if(rc)
    goto fail;
  crawl_name(e);
  rc = cr_manifest_set_crawl(e->man, e->crawl_id);
  if(rc)
    goto fail;
  rc = cr_dns_new(e->loop, cfg->dns_servers, cfg->dns_in_flight, &e->dns);
  if(rc)
    goto fail;
  cr_dns_set_family(e->dns, cfg->ip_family);
  rc = cr_fetch_new(e->loop, &e->cfg, on_body, on_done, e, &e->fetch);
  if(rc)
    goto fail;
  cr_fetch_set_conn_cbs(e->fetch, on_ready, on_conn_closed);
  if(cfg->warc)
    cr_fetch_set_capture(e->fetch, on_capture);
  if(cfg->http_proxy)
    rc = proxy_init(e, &e->proxies[0], cfg->http_proxy);
  if(!rc && cfg->https_proxy)
    rc = proxy_init(e, &e->proxies[1], cfg->https_proxy);
  if(rc) {
    fprintf(stderr, "crawler: cannot use the proxy: %s\n", cr_strerror(rc));
    goto fail;
  }
  {
    struct cr_frontier_config fc;

    memset(&fc, 0, sizeof(fc));
    fc.per_host = cfg->per_host;
    fc.robots = (cfg->recursive || cfg->page_requisites) && cfg->robots;
    fc.delay_ms = cfg->delay_ms;
    fc.jitter = cfg->jitter;
    fc.max_delay_ms = (uint64_t)(cfg->max_crawl_delay * 1000.0);
    fc.host_page_cap = cfg->recursive || cfg->page_requisites ? cfg->host_page_cap : 0;
    fc.dead_after = DEAD_AFTER;
    if(e->proxies[0].host || e->proxies[1].host) {
      fc.proxied = host_proxied;
      fc.proxied_arg = e;
    }
    rc = cr_frontier_new(e->loop, e->dns, &fc, on_frontier_fail, e, &e->fr);
    if(rc)
      goto fail;
    cr_frontier_set_lower(e->fr, on_lower);
  }
  if(cfg->recursive || cfg->page_requisites) {
    struct cr_scope_config sc;
    char err[512];

    memset(&sc, 0, sizeof(sc));
    sc.span_hosts = cfg->span_hosts;
    sc.domains = cfg->domains;
    sc.accept_re = cfg->accept_regex;
    sc.reject_re = cfg->reject_regex;
    sc.no_parent = cfg->no_parent;
    sc.max_url = cfg->max_url_len;
    sc.max_segments = cfg->max_path_segments;
    sc.max_repeat = cfg->max_segment_repeat;
    err[0] = '\0';
    rc = cr_scope_new(&sc, &e->scope, err, sizeof(err));
    if(rc) {
      fprintf(stderr, "crawler: %s\n", err[0] ? err : cr_strerror(rc));
      goto fail;
    }
  }
  if(cfg->accept || cfg->reject || cfg->accept_type || cfg->reject_type) {
    struct cr_filter_config fc;
    char err[512];

    fc.accept = cfg->accept;
    fc.reject = cfg->reject;
    fc.accept_type = cfg->accept_type;
    fc.reject_type = cfg->reject_type;
    fc.ignore_case = cfg->ignore_case;
    rc = cr_filter_new(&fc, &e->filter, err, sizeof(err));
    if(rc) {
      fprintf(stderr, "crawler: %s\n", err[0] ? err : cr_strerror(rc));
      goto fail;
    }
  }
  /* robots.txt groups are matched on the product token: the User-Agent up
   * to its first '/' or space. */
  {
    const char *ua = cfg->user_agent ? cfg->user_agent : "crawler";
    size_t n = strcspn(ua, "/ ");

    if(!n || n >= sizeof(e->agent)) {
      ua = "crawler";
      n = strlen(ua);
    }
    memcpy(e->agent, ua, n);
    e->agent[n] = '\0';
  }
  rc = state_open(e);
  if(rc)
    goto fail;
  if(cfg->warc) {
    rc = warc_open(e);
    if(rc)
      goto fail;
  }
  if(cfg->redis_url) {
    rc = dist_open(e);
    if(rc)
      goto fail;
  }
  if(e->manifest_start < 0)
    e->manifest_start = cr_manifest_size(e->man);
  if(cfg->handle_signals) {
    rc = setup_signals(e);
    if(rc) {
      fprintf(stderr, "crawler: cannot watch signals: %s\n", strerror(errno));
      goto fail;
    }
  }
  *out = e;
  return 0;

fail:
  cr_engine_free(&e);
  return rc;
}

/* cr_dist_deliver_cb: a URL of a shard this worker holds. */
static void dist_deliver(void *arg, const char *url, unsigned depth, int requisite,
                         const char *referrer)
{
  struct cr_engine *e = arg;
  int rc = 0;

  /* What Redis hands over is not trusted: a link the crawl's scope refuses
   * (it was checked when offered, so only a record written behind the
   * crawl's back gets here) is reported and dropped unfetched, uncounted. */
  if(depth && e->scope) {
    const char *why = requisite ? cr_scope_check_requisite(e->scope, url)
                                : cr_scope_check(e->scope, url);

    if(why) {
      if(e->dist_refused++ < 20)
        fprintf(stderr, "%scrawler: redis: a record outside the crawl's scope (%s: %s); "
                "dropped\n", e->line_shown ? "\n" : "", url, why);
      e->line_shown = 0;
      if(cr_dist_refuse(e->dist, url))
        engine_fatal(e, CR_ENOMEM, "cannot keep the shared crawl's state");
      return;
    }
  }
  /* A seed: its host's sitemaps are read by the worker that fetches it. */
  if(!rc && !depth && !referrer)
    rc = sitemap_seed(e, url);
  if(!rc)
    rc = cr_frontier_add(e->fr, url, depth, requisite, referrer);
  /* Refused here (a duplicate, a host at its page cap): finished. */
  if(rc && cr_dist_done(e->dist, url))
    engine_fatal(e, CR_ENOMEM, "cannot keep the shared crawl's state");
}

/* cr_dist_deliver_cb for lower records: a URL this worker took may have
 * a shorter depth now.  Known here, the frontier lowers it (and the
 * engine reads its links again from the saved page); unknown, it was
 * fetched by a worker that held its shard before. */
static void dist_lower(void *arg, const char *url, unsigned depth, int requisite,
                       const char *referrer)
{
  struct cr_engine *e = arg;

  if(cr_frontier_seen(e->fr, url))
    (void)cr_frontier_add(e->fr, url, depth, requisite, referrer);
}

/* cr_dist_fatal_cb */
static void dist_fatal(void *arg, const char *msg, int status)
{
  struct cr_engine *e = arg;

  fprintf(stderr, "%scrawler: %s\n", e->line_shown ? "\n" : "", msg);
  e->line_shown = 0;
  e->dist_status = status;
  if(!e->fatal)
    e->fatal = status == 2 ? CR_ESTATE : CR_EIO;
  cr_loop_break(e->loop);
}

static int dist_open(struct cr_engine *e)
{
  struct cr_dist_config dc;
  char *id = cr_config_identity(&e->cfg, 1);
  int rc;

  if(!id)
    return CR_ENOMEM;
  memset(&dc, 0, sizeof(dc));
  dc.url = e->cfg.redis_url;
  dc.name = e->cfg.crawl_name;
  dc.dns = e->dns;
  dc.role = e->cfg.redis_describe ? CR_DIST_DESCRIBE : CR_DIST_WORKER;
  dc.identity = id;
  dc.argv = e->cfg.redis_argv;
  dc.argv_len = e->cfg.redis_argv_len;
  dc.lease_ms = e->cfg.redis_lease_ms;
  /* Enough in hand to keep every slot busy through a burst of ends and
   * the round trip that brings more, as a URL list's feed does (feed_low);
   * what is in hand is not lost to a kill, only taken back. */
  dc.backlog = e->cfg.concurrency * 2 < 1024 ? 1024 : e->cfg.concurrency * 2;
  dc.deliver = dist_deliver;
  /* Also without a --depth limit: the manifest says the shortest depth,
   * as one process's does. */
  dc.lower = dist_lower;
  dc.fatal = dist_fatal;
  dc.arg = e;
  rc = cr_dist_new(e->loop, &dc, &e->dist);
  free(id);
  return rc;
}

int cr_engine_add(struct cr_engine *e, const char *url, size_t len, const char *origin,
                  const char **reason)
{
  char *norm = NULL;
  const char *why = NULL;
  int rc = cr_url_normalize(url, len, &norm, &why);

  if(rc) {
    char msg[512];

    if(!why)
      why = cr_strerror(rc);
    snprintf(msg, sizeof(msg), "%s%s%s", origin ? origin : "", origin ? ": " : "", why);
    cr_engine_reject(e, url, len, msg);
    if(reason)
      *reason = why;
    return rc;
  }
  /* --max-pages counts the URLs given too, not only links. */
  if(e->cfg.max_pages && cr_frontier_added(e->fr) >= e->cfg.max_pages) {
    free(norm);
    return CR_EFULL;
  }
  if(e->scope) {
    rc = cr_scope_add_seed(e->scope, norm);
    if(rc) {
      free(norm);
      return rc;
    }
  }
  rc = note_seed(e, norm);
  /* A shared crawl reads a seed's sitemaps where the seed is fetched. */
  if(!rc && !e->dist)
    rc = sitemap_seed(e, norm);
  if(rc) {
    free(norm);
    return rc;
  }
  rc = add_url(e, norm, 0, 0, NULL);
  free(norm);
  return rc;
}

int cr_engine_shared_status(const struct cr_engine *e)
{
  return e->dist_status;
}

void cr_engine_shared_counts(const struct cr_engine *e, uint64_t *offered, uint64_t *added)
{
  struct cr_dist_stats ds;

  memset(&ds, 0, sizeof(ds));
  if(e->dist)
    cr_dist_stats(e->dist, &ds);
  *offered = ds.offered;
  *added = ds.added;
}

int cr_engine_seed_scope(struct cr_engine *e, const char *url)
{
  char *norm = NULL;
  int rc = cr_url_normalize(url, strlen(url), &norm, NULL);

  if(rc)
    return rc;
  if(e->scope)
    rc = cr_scope_add_seed(e->scope, norm);
  if(!rc)
    rc = note_seed(e, norm);
  free(norm);
  return rc;
}

void cr_engine_set_feed(struct cr_engine *e, cr_feed_cb cb, void *arg)
{
  e->feed = cb;
  e->feed_arg = arg;
  /* Enough queued to keep every slot busy through a burst of completions,
   * few enough that a huge list stays on disk. */
  e->feed_low = e->cfg.concurrency * 2 < 1024 ? 1024 : e->cfg.concurrency * 2;
}

void cr_engine_reject(struct cr_engine *e, const char *raw, size_t len, const char *reason)
{
  struct cr_record r;
  uint64_t key = bad_key(raw, len, reason);
  int rc;

  /* Recorded by the run this one resumes. */
  if(cr_hset_has(&e->bad_seen, key))
    return;
  memset(&r, 0, sizeof(r));
  /* The raw line may hold any bytes, NUL included: it goes by length. */
  r.url = raw;
  r.url_len = len;
  r.error = reason;
  rc = cr_manifest_write(e->man, &r);
  if(rc)
    engine_fatal(e, rc, "cannot write the manifest");
  else if(e->jr) {
    const char *line;
    size_t line_len;

    cr_manifest_last(e->man, &line, &line_len);
    rc = cr_journal_begin(e->jr, CR_J_BAD);
    if(!rc)
      rc = cr_journal_put(e->jr, &key, sizeof(key));
    if(!rc)
      rc = cr_journal_put(e->jr, line, line_len);
    if(!rc)
      rc = cr_journal_end(e->jr);
    if(rc)
      journal_failed(e, rc);
  }
  e->rejected++;
  e->st.done++;
  e->st.failed++;
}

/* A transfer --max-time cut short: its manifest line says so, but no DONE
 * record goes to the crawl state, so a resumed crawl fetches it again and
 * rewrites the manifest from the state, without this line.  Not counted
 * as done. */
static void record_undone(struct cr_engine *e, struct cr_item *it)
{
  struct cr_record r;
  int rc;

  if(it->robots_for || it->sitemap)
    return;
  memset(&r, 0, sizeof(r));
  r.url = it->url;
  r.final_url = it->cur;
  r.status = it->status;
  r.seconds = it->t0 > 0.0 ? (double)(int64_t)((cr_clock() - it->t0) * 1e6) / 1e6 : 0.0;
  r.attempts = it->attempts;
  r.redirects = it->redirects;
  r.error = e->jr ? "not done: --max-time reached (--resume fetches it)"
                  : "not done: --max-time reached";
  r.depth = it->depth;
  r.referrer = it->referrer;
  rc = cr_manifest_write(e->man, &r);
  if(rc)
    engine_fatal(e, rc, "cannot write the manifest");
}

/* Drops every transfer in flight or waiting to retry. */
static void cancel_all(struct cr_engine *e)
{
  while(e->running) {
    struct cr_item *it = e->running;

    run_unlink(e, it);
    if(e->time_up)
      record_undone(e, it);
    if(it->easy) {
      cr_timer_stop(e->loop, &it->pace);
      held_unlink(e, it);
      cr_fetch_cancel(e->fetch, it->easy);
      it->easy->owner = NULL;
      cr_fetch_easy_give(e->fetch, it->easy);
      it->easy = NULL;
      e->in_flight--;
      cr_frontier_release(e->fr, it);
    }
    else {
      cr_timer_stop(e->loop, &it->retry);
      e->waiting--;
    }
    curl_slist_free_all(it->resolve);
    it->resolve = NULL;
    curl_slist_free_all(it->cond_headers);
    it->cond_headers = NULL;
    drop_body(e, it);
    cr_frontier_done(e->fr, it);
    cr_item_free(it);
  }
}

/* -k after the crawl: see convert.h.  A failure leaves files unconverted
 * and says so; the crawl itself succeeded. */
static void convert_links(struct cr_engine *e)
{
  struct cr_convert_stats cs;
  int rc = cr_convert_run(e->cfg.output_dir, e->manifest_path, e->manifest_start, &cs);

  if(rc)
    fprintf(stderr, "crawler: -k: links not converted: %s\n", cr_strerror(rc));
  else if(e->cfg.progress != CR_PROGRESS_NONE)
    fprintf(stderr, "%scrawler: -k: %llu links converted in %llu of %llu HTML and CSS files%s\n",
            e->line_shown ? "\n" : "", (unsigned long long)cs.links,
            (unsigned long long)cs.changed, (unsigned long long)cs.files,
            cs.failed ? "; some left unconverted" : "");
  e->line_shown = 0;
}

static void on_leave_deadline(struct cr_loop *loop, struct cr_timer *t)
{
  cr_loop_break(loop);
}

static void leave_pass(struct cr_loop *loop, void *arg)
{
  struct cr_engine *e = arg;

  cr_manifest_flush(e->man);
  cr_dist_pass(e->dist, 0, 1);
  cr_dns_pass(e->dns);
  if(cr_dist_left(e->dist))
    cr_loop_break(loop);
}

/* The crawl is over here, or stopped: what is left to say to Redis goes,
 * then the shards go back with the URLs taken and not finished (a stop
 * leaves some).  Bounded: a dead Redis takes them back when the leases
 * expire. */
static void dist_leave(struct cr_engine *e)
{
  struct cr_timer t;

  memset(&t, 0, sizeof(t));
  t.cb = on_leave_deadline;
  t.arg = e;
  cr_dist_leave(e->dist);
  if(cr_dist_left(e->dist))
    return;
  cr_loop_set_pass(e->loop, leave_pass, e);
  cr_timer_start(e->loop, &t, 3000);
  (void)cr_loop_run(e->loop);
  cr_timer_stop(e->loop, &t);
  cr_loop_set_pass(e->loop, NULL, NULL);
  if(!cr_dist_left(e->dist))
    fprintf(stderr, "crawler: redis: could not give the shards back; they go to the other "
            "workers when their leases expire\n");
}

int cr_engine_run(struct cr_engine *e)
{
  struct cr_buf b;
  int rc;

  e->t_start = cr_clock();
  if(e->cfg.progress == CR_PROGRESS_LIVE)
    cr_timer_start(e->loop, &e->progress, PROGRESS_MS);
  if(e->cfg.max_time > 0)
    cr_timer_start(e->loop, &e->deadline, (uint64_t)(e->cfg.max_time * 1000.0));
  if(e->jr) {
    /* Lines replayed from the journal go now; from here on a line waits
     * for its record's write (on_pass). */
    rc = cr_manifest_flush(e->man);
    if(rc) {
      engine_fatal(e, rc, "cannot write the manifest");
      return rc;
    }
    cr_manifest_hold(e->man);
  }
  cr_loop_set_pass(e->loop, on_pass, e);
  proxy_lookups(e);
  rc = cr_loop_run(e->loop);
  cr_loop_set_pass(e->loop, NULL, NULL);
  cr_timer_stop(e->loop, &e->progress);
  cr_timer_stop(e->loop, &e->kick);
  cr_timer_stop(e->loop, &e->deadline);
  if(e->time_up && e->cfg.progress != CR_PROGRESS_NONE) {
    fprintf(stderr, "%scrawler: --max-time %g s reached; stopping\n", e->line_shown ? "\n" : "",
            e->cfg.max_time);
    e->line_shown = 0;
  }
  if(rc)
    fprintf(stderr, "crawler: event loop failed: %s\n", strerror(errno));
  cancel_all(e);
  reparse_resume(e, 1);
  if(e->dist)
    dist_leave(e);
  /* The jar as the crawl leaves it, interrupted or not: cookies earned
   * are worth keeping either way. */
  cr_fetch_save_cookies(e->fetch);
  /* Pages being published finish first (their buffers are the kernel's
   * until then); their lines and records join the final flush.  The
   * wait is bounded: the crawl is over. */
  if(cr_aio_drain(e->aio, DRAIN_MS))
    fprintf(stderr, "crawler: file operations did not complete in time\n");
  if(e->jr) {
    int jrc = 0;
    int i;

    /* Every record written before the manifest's last lines go. */
    for(i = 0; i < 3 && !jrc && cr_journal_busy(e->jr); i++) {
      jrc = cr_journal_flush(e->jr);
      if(!jrc)
        cr_aio_drain(e->aio, DRAIN_MS);
    }
    if(jrc)
      journal_failed(e, jrc);
  }
  if(e->warc) {
    /* Cut back to what is written and recorded; sorted for replay tools
     * once the crawl is complete. */
    e->st.warc_bytes = cr_warc_bytes(e->warc);
    e->st.warc_revisits = cr_warc_revisits(e->warc);
    cr_warc_free(&e->warc, !rc && !e->fatal && !e->interrupted && !e->time_up);
  }
  if(!rc) {
    rc = cr_manifest_flush(e->man);
    if(rc && !e->fatal)
      engine_fatal(e, rc, "cannot write the manifest");
  }
  /* Lines written before a shorter path reached their URL get the shorter
   * depth: once, now that the loop is over, rather than holding lines back
   * while the crawl runs.  A failure keeps the longer depths (and says so);
   * the journal, if any, still knows better for a resume. */
  if(!rc && e->lowered.len && e->manifest_start >= 0)
    (void)cr_manifest_fix(e->man, e->manifest_path, e->manifest_start, fix_lowered, e);
  /* -k: the crawl is complete, so every page it will save is saved.  Before
   * the state goes: a crash while converting leaves it, and the resume
   * converts again (converted links are recognised and kept). */
  if(e->cfg.convert_links && !rc && !e->fatal && !e->interrupted && !e->time_up &&
     e->manifest_start >= 0)
    convert_links(e);
  if(e->jr && !rc && !e->fatal && !e->interrupted) {
    /* Complete: nothing to resume, and the next run starts afresh. */
    cr_journal_remove(&e->jr);
  }
  else if(e->jr) {
    int jrc = cr_journal_sync(e->jr);

    /* The fsync, then the SYNC record it earns, each through the ring. */
    if(!jrc && !cr_aio_drain(e->aio, DRAIN_MS))
      jrc = cr_journal_flush(e->jr);
    if(!jrc && !cr_aio_drain(e->aio, DRAIN_MS))
      jrc = cr_journal_flush(e->jr);
    if(jrc)
      fprintf(stderr, "crawler: cannot save the crawl state: %s; a resume fetches again "
              "what finished last\n", cr_strerror(jrc));
  }
  fill_stats(e);
  if(e->prev && !e->interrupted && !e->fatal && !rc)
    e->st.gone = cr_recrawl_unseen(e->prev);
  if(e->cfg.progress != CR_PROGRESS_NONE) {
    cr_buf_init(&b, 1024);
    if(e->line_shown)
      cr_buf_puts(&b, "\r\033[K");
    if(!cr_progress_summary(&b, &e->st, e->interrupted || e->fatal)) {
      ssize_t w = write(STDERR_FILENO, b.data, b.len);

      (void)w;
    }
    cr_buf_cleanup(&b);
    if(e->cfg.warc)
      fprintf(stderr, "crawler: WARC: %.1f MB written to %s-*.warc.gz, %llu revisit records "
              "for repeated payloads\n", (double)e->st.warc_bytes / 1e6, e->cfg.warc,
              (unsigned long long)e->st.warc_revisits);
    if(e->sitemaps_read)
      fprintf(stderr, "crawler: sitemaps: %llu read, %llu URLs listed\n",
              (unsigned long long)e->sitemaps_read, (unsigned long long)e->sitemap_urls);
    if(e->dist && !e->cfg.redis_describe) {
      struct cr_dist_stats ds;

      cr_dist_stats(e->dist, &ds);
      fprintf(stderr, "crawler: redis: %llu round trips, %llu commands, %llu bytes out, "
              "%llu bytes in, %llu pages\n", (unsigned long long)ds.redis.round_trips,
              (unsigned long long)ds.redis.commands, (unsigned long long)ds.redis.bytes_out,
              (unsigned long long)ds.redis.bytes_in, (unsigned long long)e->st.done);
    }
  }
  if(e->jr && e->cfg.progress != CR_PROGRESS_NONE && (e->fatal || e->interrupted))
    fprintf(stderr, "crawler: %sthe crawl state is saved in %s/.crawler; run the same "
            "command with --resume to finish\n",
            e->fatal == CR_ENOSPC ? "no space left on device: free some space; " : "",
            e->cfg.output_dir);
  else if(e->jr && e->fatal == CR_ENOSPC)
    fprintf(stderr, "crawler: no space left on device; the crawl state is saved, free some "
            "space and run again with --resume\n");
  if(e->fatal)
    return e->fatal;
  if(rc)
    return rc;
  if(e->time_up)
    return CR_ETIMEUP;
  return e->interrupted ? CR_ESTOPPED : 0;
}

void cr_engine_stop(struct cr_engine *e)
{
  e->interrupted = 1;
  cr_loop_break(e->loop);
}

void cr_engine_stats(const struct cr_engine *e, struct cr_stats *out)
{
  *out = e->st;
}

void cr_engine_free(struct cr_engine **pe)
{
  struct cr_engine *e;

  if(!pe || !*pe)
    return;
  e = *pe;
  if(e->running)
    cancel_all(e);
  /* Before anything a completion may touch goes. */
  if(e->aio)
    cr_aio_drain(e->aio, DRAIN_MS);
  /* Teardown mirrors setup. */
  if(e->sig_watch >= 0)
    cr_loop_unwatch(e->loop, e->sig_watch);
  if(e->sigfd >= 0)
    close(e->sigfd);
  if(e->signals_blocked)
    sigprocmask(SIG_SETMASK, &e->oldmask, NULL);
  /* Connections close with the multi handle, after the hosts are gone. */
  if(e->fetch)
    cr_fetch_set_conn_cbs(e->fetch, NULL, NULL);
  cr_dist_free(&e->dist);
  cr_frontier_free(&e->fr);
  cr_journal_free(&e->jr);
  cr_scope_free(&e->scope);
  cr_filter_free(&e->filter);
  cr_hset_cleanup(&e->link_memo);
  cr_hset_cleanup(&e->bad_seen);
  cr_hmap_drain(&e->lowered, lowered_free);
  cr_hmap_drain(&e->where, where_free);
  while(e->reparse_head) {
    struct reparse *rp = e->reparse_head;

    e->reparse_head = rp->next;
    reparse_free(rp);
  }
  cr_buf_cleanup(&e->last_mapped);
  cr_fetch_free(&e->fetch);
  cr_dns_free(&e->dns);
  proxy_cleanup(&e->proxies[0]);
  proxy_cleanup(&e->proxies[1]);
  cr_manifest_free(&e->man);
  free(e->manifest_path);
  cr_recrawl_free(&e->prev);
  cr_warc_free(&e->warc, 0);
  cr_store_free(&e->store);
  cr_aio_free(&e->aio);
  cr_loop_free(&e->loop);
  cr_buf_cleanup(&e->scratch);
  cr_hset_cleanup(&e->seed_origins);
  cr_hset_cleanup(&e->sitemap_origins);
  cr_hset_cleanup(&e->sitemap_seen);
  cr_hset_cleanup(&e->basic_origins);
  free(e);
  *pe = NULL;
}
