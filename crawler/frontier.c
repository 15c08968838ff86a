/*
 * frontier.c - seen set, per-host queues, ready list; see frontier.h.
 */
#include "frontier.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crawler.h"
#include "dns.h"
#include "hash.h"
#include "robots.h"
#include "url.h"
#include "decode.h"
#include "warc.h"

enum { H_IDLE, H_RESOLVING };

/* Queue order: a host's robots.txt first, then URLs by depth.  Depths past
 * PRIO_N - 2 share the last priority. */
#define PRIO_N 256

/* The seen set keeps a URL's depth in 13 bits (deeper ones share the
 * last value), whether the URL is a leaf (done, and no links worth
 * following again: not HTML or CSS, or failed) and whether it is CSS. */
#define TAG_DEPTH_MAX 0x1fffu
#define TAG_LEAF 0x8000u
#define TAG_CSS 0x4000u

/* URLs of one host and one priority, in arrival order. */
struct seg {
  unsigned prio;
  struct cr_item *head;
  struct cr_item *tail;
  struct seg *next;           /* next higher priority, or the free list */
};

/* robots.txt state of a host. */
enum { R_NONE, R_QUEUED, R_FETCHING, R_DONE };

struct cr_host {
  struct cr_hnode node;       /* key: "scheme://host:port" */
  char *key;
  char *name;                 /* for DNS and CURLOPT_RESOLVE, no brackets */
  unsigned port;
  int is_ip;
  int state;
  char *addrs;                /* last answer, NULL for IP literals */
  /* Failover: transfers get one address, addr; a failed connect moves the
   * host to the next one at once (cr_frontier_addr_failed).  libcurl given
   * the whole list waits seconds after a refusal (it splits the connect
   * timeout among addresses). */
  char addr[INET6_ADDRSTRLEN + 2]; /* the address in use: "1.2.3.4" or
                                      "[2001:db8::1]" */
  unsigned naddrs;            /* addresses in addrs */
  unsigned addr_idx;          /* index of addr in addrs */
  unsigned addr_seq;          /* changes whenever addr does */
  unsigned addr_fails;        /* addresses failed in a row, this sweep */
  struct seg *segs;           /* queued URLs, lowest priority value first */
  unsigned queued;
  unsigned in_flight;
  unsigned idle;              /* connections probably idle; see
                                 cr_host_take_idle */
  int on_ready;
  struct cr_host *next_ready;
  unsigned ready_prio;        /* which ready list it is on */
  uint64_t not_before;        /* loop ms */
  struct cr_timer wake;
  struct cr_dns_req dns;
  struct cr_frontier *f;
  int robots_state;
  struct cr_robots *robots;   /* rules once fetched; NULL: none apply */
  char *robots_why;           /* why robots.txt could not be had */
  uint64_t delay_ms;          /* between request starts: --delay or the
                                 robots.txt Crawl-delay, whichever is longer */
  uint64_t pages;             /* URLs accepted for this host */
  unsigned connect_fails;     /* in a row, at a limit of 1 */
  unsigned limit;             /* transfers it may run at once: ceiling,
                                 lowered by connection failures */
  unsigned ceiling;           /* --per-host */
  int speaks;                 /* 0 until a connection is ready, then 1
                                 (HTTP/1.x) or 2 (HTTP/2) */
  unsigned h2_conns;          /* HTTP/2 connections open and ready */
  int h2_opening;             /* a transfer is opening one more */
  unsigned epoch;             /* bumped each time limit comes down */
  int cold;                   /* https, no connection ready yet: one at a
                                 time, so the rest can resume its session */
  int dead;
};

struct cr_frontier {
  struct cr_loop *loop;
  struct cr_dns *dns;
  struct cr_frontier_config cfg;
  unsigned per_host;
  uint64_t rng;
  cr_frontier_fail_cb fail_cb;
  void *arg;
  cr_frontier_accept_cb accept_cb;
  void *accept_arg;
  cr_frontier_lower_cb lower_cb;
  struct cr_htag seen;        /* hash -> depth and leaf bit */
  struct cr_hmap hosts;
  struct cr_hmap live;        /* URL -> item, from add until done */
  struct cr_buf key;          /* scratch for host keys */
  /* Hosts that can start something now, one FIFO per priority of their
   * first URL: lower depth goes first when slots are short. */
  struct cr_host *ready_head[PRIO_N];
  struct cr_host **ready_tail[PRIO_N];
  unsigned ready_min;         /* no ready list below this one holds a host */
  struct seg *seg_free;
  uint64_t pending;
  uint64_t added;
};

void cr_item_free(struct cr_item *it)
{
  if(!it)
    return;
  if(it->cur != it->url)
    free(it->cur);
  free(it->url);
  free(it->referrer);
  free(it->etag);
  free(it->last_modified);
  cr_warc_cap_free(&it->wcap);
  cr_decode_free(&it->dec);
  cr_warc_recs_free(&it->wrecs);
  free(it->wait_path);
  free(it->wait_ctype);
  free(it->wait_error);
  free(it);
}

const char *cr_host_name(const struct cr_host *h)
{
  return h->name;
}

unsigned cr_host_port(const struct cr_host *h)
{
  return h->port;
}

const char *cr_host_addr(const struct cr_host *h)
{
  return h->addrs ? h->addr : NULL;
}

unsigned cr_host_naddrs(const struct cr_host *h)
{
  return h->addrs ? h->naddrs : 1;
}

unsigned cr_host_addr_seq(const struct cr_host *h)
{
  return h->addr_seq;
}

int cr_host_take_idle(struct cr_host *h)
{
  if(!h->idle)
    return 0;
  h->idle--;
  return 1;
}

void cr_host_put_idle(struct cr_host *h)
{
  /* More idle connections than transfers may run at once cannot be: the
   * cap keeps a server that closes every connection from inflating it. */
  if(h->idle < h->limit)
    h->idle++;
}

int cr_host_dead(const struct cr_host *h)
{
  return h->dead;
}

unsigned cr_host_queued(const struct cr_host *h)
{
  return h->queued;
}

unsigned cr_host_free_slots(const struct cr_host *h)
{
  return h->in_flight < h->limit ? h->limit - h->in_flight : 0;
}

static unsigned item_prio(const struct cr_item *it)
{
  if(it->robots_for)
    return 0;
  return it->depth < PRIO_N - 2 ? it->depth + 1 : PRIO_N - 1;
}

static struct cr_item *host_head(const struct cr_host *h)
{
  return h->segs ? h->segs->head : NULL;
}

/* Whether the next transfer of an HTTP/2 host needs a connection of its
 * own: every ready one carries CR_H2_STREAMS. */
static int h2_full(const struct cr_host *h)
{
  return h->in_flight - (unsigned)h->h2_opening >= h->h2_conns * CR_H2_STREAMS;
}

static int host_has_room(const struct cr_host *h)
{
  if(h->in_flight >= h->limit)
    return 0;
  /* libcurl opens a connection for every transfer that finds the ready
   * ones full, even while another is still opening: 2,000 URLs took 184
   * connections.  So one opens at a time, and the streams that would not
   * fit wait for it, as they would for the first. */
  return h->speaks != 2 || !h->h2_opening || !h2_full(h);
}

static int host_eligible(const struct cr_host *h)
{
  /* While its robots.txt is being fetched, a host starts nothing else but
   * that fetch, which a retry or redirect puts back at the head. */
  return h->queued && h->state == H_IDLE &&
         (h->robots_state != R_FETCHING || host_head(h)->robots_for) &&
         host_has_room(h) && h->not_before <= cr_loop_now(h->f->loop);
}

static void host_make_ready(struct cr_host *h)
{
  struct cr_frontier *f = h->f;
  unsigned p;

  if(h->on_ready || !host_eligible(h))
    return;
  p = item_prio(host_head(h));
  h->on_ready = 1;
  h->ready_prio = p;
  h->next_ready = NULL;
  *f->ready_tail[p] = h;
  f->ready_tail[p] = &h->next_ready;
  if(p < f->ready_min)
    f->ready_min = p;
}

/* The segment of priority prio, made if needed.  NULL: out of memory. */
static struct seg *seg_get(struct cr_host *h, unsigned prio)
{
  struct cr_frontier *f = h->f;
  struct seg **pp = &h->segs;
  struct seg *s;

  /* A host rarely has URLs of more than two or three depths queued. */
  while(*pp && (*pp)->prio < prio)
    pp = &(*pp)->next;
  if(*pp && (*pp)->prio == prio)
    return *pp;
  s = f->seg_free;
  if(s)
    f->seg_free = s->next;
  else {
    s = malloc(sizeof(*s));
    if(!s)
      return NULL;
  }
  s->prio = prio;
  s->head = NULL;
  s->tail = NULL;
  s->next = *pp;
  *pp = s;
  return s;
}

/* Takes it out of its host's queue (it must be queued there). */
static void queue_remove(struct cr_host *h, struct cr_item *it)
{
  struct cr_frontier *f = h->f;
  struct seg **pp = &h->segs;
  struct seg *s;

  while((*pp)->prio != it->qprio)
    pp = &(*pp)->next;
  s = *pp;
  if(it->prev)
    it->prev->next = it->next;
  else
    s->head = it->next;
  if(it->next)
    it->next->prev = it->prev;
  else
    s->tail = it->prev;
  it->next = NULL;
  it->prev = NULL;
  it->queued = 0;
  h->queued--;
  f->pending--;
  if(!s->head) {
    *pp = s->next;
    s->next = f->seg_free;
    f->seg_free = s;
  }
}

static void host_on_wake(struct cr_loop *loop, struct cr_timer *t)
{
  host_make_ready(t->arg);
}

/* Fails every queued URL of a host whose name did not resolve or that died. */
static void host_flush(struct cr_host *h, const char *reason)
{
  struct cr_frontier *f = h->f;

  while(host_head(h)) {
    struct cr_item *it = host_head(h);

    queue_remove(h, it);
    f->fail_cb(f->arg, it, reason);
  }
}

/* Copies address idx of the list into h->addr.  Returns 0, or -1 when the
 * list has no such address (or it does not fit). */
static int addr_pick(struct cr_host *h, const char *list, unsigned idx)
{
  const char *p = list;
  size_t n;

  while(idx--) {
    p = strchr(p, ',');
    if(!p)
      return -1;
    p++;
  }
  n = strcspn(p, ",");
  if(!n || n >= sizeof(h->addr))
    return -1;
  memcpy(h->addr, p, n);
  h->addr[n] = '\0';
  return 0;
}

/* Takes a new answer.  The address in use stays if the new list still has
 * it (it is the one known to work); otherwise the first is taken. */
static int set_addrs(struct cr_host *h, const char *addrs)
{
  char keep[sizeof(h->addr)];
  char *copy;
  unsigned n = 1;
  unsigned i;
  const char *p;

  if(h->addrs && !strcmp(h->addrs, addrs))
    return 0;
  copy = strdup(addrs);
  if(!copy)
    return CR_ENOMEM;
  for(p = addrs; *p; p++) {
    if(*p == ',')
      n++;
  }
  memcpy(keep, h->addr, sizeof(keep));
  free(h->addrs);
  h->addrs = copy;
  h->naddrs = n;
  for(i = 0; keep[0] && i < n; i++) {
    if(!addr_pick(h, copy, i) && !strcmp(h->addr, keep))
      break;
  }
  if(!keep[0] || i == n) {
    i = 0;
    if(addr_pick(h, copy, 0))
      h->addr[0] = '\0';
  }
  h->addr_idx = i;
  h->addr_fails = 0;
  h->addr_seq++;
  return 0;
}

static void host_on_dns(struct cr_dns_req *req, int status, const char *addrs,
                        const char *reason)
{
  struct cr_host *h = req->arg;

  h->state = H_IDLE;
  if(!status && set_addrs(h, addrs))
    reason = "out of memory";
  if(status || !h->addrs)
    host_flush(h, reason);
  else
    host_make_ready(h);
}

/* Makes sure the host has a current address.  Returns 1 when it has one
 * now, 0 when a lookup is pending (the host waits), <0 when the host failed
 * (its queue was flushed). */
static int host_resolve(struct cr_host *h)
{
  const char *addrs = NULL;
  const char *reason = NULL;
  int rc;

  if(h->is_ip)
    return 1;
  if(h->state == H_RESOLVING)
    return 0;
  rc = cr_dns_lookup(h->f->dns, h->name, &h->dns, &addrs, &reason);
  if(rc == 1) {
    h->state = H_RESOLVING;
    return 0;
  }
  if(!rc && set_addrs(h, addrs)) {
    rc = CR_ENOMEM;
    reason = "out of memory";
  }
  if(rc) {
    host_flush(h, reason ? reason : cr_strerror(rc));
    return rc;
  }
  return 1;
}

int cr_frontier_new(struct cr_loop *loop, struct cr_dns *dns,
                    const struct cr_frontier_config *cfg,
                    cr_frontier_fail_cb fail_cb, void *arg, struct cr_frontier **out)
{
  struct cr_frontier *f = calloc(1, sizeof(*f));
  unsigned i;

  *out = NULL;
  if(!f)
    return CR_ENOMEM;
  f->loop = loop;
  f->dns = dns;
  f->cfg = *cfg;
  f->per_host = cfg->per_host ? cfg->per_host : 1;
  f->rng = 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)f;
  f->fail_cb = fail_cb;
  f->arg = arg;
  for(i = 0; i < PRIO_N; i++)
    f->ready_tail[i] = &f->ready_head[i];
  f->ready_min = PRIO_N;
  cr_htag_init(&f->seen);
  cr_hmap_init(&f->hosts);
  cr_hmap_init(&f->live);
  cr_buf_init(&f->key, CR_URL_MAX);
  *out = f;
  return 0;
}

static void host_free(struct cr_frontier *f, struct cr_host *h)
{
  while(h->segs) {
    struct seg *s = h->segs;

    while(s->head) {
      struct cr_item *it = s->head;

      s->head = it->next;
      cr_item_free(it);
    }
    h->segs = s->next;
    free(s);
  }
  cr_dns_cancel(f->dns, &h->dns);
  cr_timer_stop(f->loop, &h->wake);
  cr_robots_free(&h->robots);
  free(h->robots_why);
  free(h->addrs);
  free(h->name);
  free(h->key);
  free(h);
}

void cr_frontier_free(struct cr_frontier **pf)
{
  struct cr_frontier *f;
  size_t i;

  if(!pf || !*pf)
    return;
  f = *pf;
  for(i = 0; i < f->hosts.nb; i++) {
    struct cr_hnode *n = f->hosts.b[i];

    while(n) {
      struct cr_hnode *next = n->next;

      host_free(f, (struct cr_host *)n);
      n = next;
    }
  }
  while(f->seg_free) {
    struct seg *s = f->seg_free;

    f->seg_free = s->next;
    free(s);
  }
  cr_hmap_cleanup(&f->hosts);
  cr_hmap_cleanup(&f->live);
  cr_htag_cleanup(&f->seen);
  cr_buf_cleanup(&f->key);
  free(f);
  *pf = NULL;
}

static int host_push(struct cr_host *h, struct cr_item *it, int front);

/* Queues the fetch of a new host's /robots.txt ahead of everything else.
 * It is not a URL of the crawl: not in the seen set, not counted. */
static int host_queue_robots(struct cr_host *h)
{
  struct cr_item *it = calloc(1, sizeof(*it));
  size_t n = strlen(h->key);

  if(!it)
    return CR_ENOMEM;
  it->url = malloc(n + sizeof("/robots.txt"));
  if(!it->url) {
    free(it);
    return CR_ENOMEM;
  }
  memcpy(it->url, h->key, n);
  memcpy(it->url + n, "/robots.txt", sizeof("/robots.txt"));
  it->cur = it->url;
  it->robots_for = h;
  cr_file_init(&it->file);
  if(host_push(h, it, 1)) {
    cr_item_free(it);
    return CR_ENOMEM;
  }
  h->robots_state = R_QUEUED;
  return 0;
}

/* Finds or creates the host record for a normalized URL. */
static int host_for(struct cr_frontier *f, const char *url, struct cr_host **out)
{
  struct cr_url_view v;
  struct cr_host *h;
  int rc;

  *out = NULL;
  rc = cr_url_view(url, &v);
  if(rc)
    return rc;
  /* The key is the URL's origin; normalization makes it canonical. */
  cr_buf_reset(&f->key);
  rc = cr_buf_append(&f->key, v.origin, v.origin_len);
  if(rc)
    return rc == CR_EFULL ? CR_EURL : rc;
  h = (struct cr_host *)cr_hmap_get(&f->hosts, f->key.data);
  if(h) {
    *out = h;
    return 0;
  }
  h = calloc(1, sizeof(*h));
  if(!h)
    return CR_ENOMEM;
  h->f = f;
  h->limit = f->per_host;
  h->ceiling = f->per_host;
  if(!strncmp(f->key.data, "https:", 6) && f->per_host > 1) {
    h->cold = 1;
    h->limit = 1;
  }
  h->key = strdup(f->key.data);
  /* IPv6 literals carry brackets in URLs but not in DNS or RESOLVE. */
  if(v.host[0] == '[')
    h->name = strndup(v.host + 1, v.host_len - 2);
  else
    h->name = strndup(v.host, v.host_len);
  h->port = v.effective_port;
  /* A proxied host needs no address of ours, as an IP literal. */
  h->is_ip = v.is_ip || (f->cfg.proxied &&
                         f->cfg.proxied(f->cfg.proxied_arg, v.host, v.host_len, v.https));
  h->wake.cb = host_on_wake;
  h->wake.arg = h;
  h->dns.cb = host_on_dns;
  h->dns.arg = h;
  h->node.key = h->key;
  h->delay_ms = f->cfg.delay_ms;
  if(!h->key || !h->name || cr_hmap_put(&f->hosts, &h->node)) {
    host_free(f, h);
    return CR_ENOMEM;
  }
  *out = h;
  return 0;
}

/* Queues the host's robots.txt before the first URL that will be fetched
 * there.  Not at host creation: a resumed crawl creates hosts for URLs that
 * are already done (cr_frontier_mark_seen) and must not fetch anything for
 * them. */
static int host_want_robots(struct cr_host *h)
{
  if(!h->f->cfg.robots || h->robots_state != R_NONE)
    return 0;
  return host_queue_robots(h);
}

/* Queues it on h: at the front of its priority (a retry, a redirect) or at
 * the back.  Returns 0 or CR_ENOMEM (it is not queued). */
static int host_push(struct cr_host *h, struct cr_item *it, int front)
{
  struct cr_frontier *f = h->f;
  unsigned prio = item_prio(it);
  struct seg *s = seg_get(h, prio);

  if(!s)
    return CR_ENOMEM;
  it->host = h;
  it->qprio = prio;
  it->queued = 1;
  if(front) {
    it->prev = NULL;
    it->next = s->head;
    if(s->head)
      s->head->prev = it;
    else
      s->tail = it;
    s->head = it;
  }
  else {
    it->next = NULL;
    it->prev = s->tail;
    if(s->tail)
      s->tail->next = it;
    else
      s->head = it;
    s->tail = it;
  }
  h->queued++;
  f->pending++;
  /* Resolve as soon as a host has work, so DNS overlaps with transfers. */
  if(host_resolve(h) == 1)
    host_make_ready(h);
  return 0;
}

static uint16_t depth_tag(unsigned depth)
{
  return (uint16_t)(depth < TAG_DEPTH_MAX ? depth : TAG_DEPTH_MAX);
}

/* hv: cr_hash64 of it->url, which the seen set computed already. */
static int live_put(struct cr_frontier *f, struct cr_item *it, uint64_t hv)
{
  it->live.key = it->url;
  if(cr_hmap_put_hashed(&f->live, &it->live, hv))
    return CR_ENOMEM;
  it->in_live = 1;
  return 0;
}

/* Replaces it's referrer with a copy of referrer (kept on failure). */
static void set_referrer(struct cr_item *it, const char *referrer)
{
  char *copy = referrer ? strdup(referrer) : NULL;

  if(referrer && !copy)
    return;
  free(it->referrer);
  it->referrer = copy;
}

/* A URL seen before at a greater depth was reached by a shorter path: it
 * takes the shorter depth (and that path's referrer).  Queued, it moves
 * to its new priority; in flight, the engine reads the new depth when it
 * ends; done, the engine is told (its manifest line and its links). */
static void lower(struct cr_frontier *f, const char *url, unsigned depth, int requisite,
                  const char *referrer, uint16_t old_tag)
{
  struct cr_hnode *n = cr_hmap_get(&f->live, url);

  if(f->accept_cb)
    f->accept_cb(f->accept_arg, url, depth, requisite, referrer);
  if(n) {
    struct cr_item *it = (struct cr_item *)((char *)n - offsetof(struct cr_item, live));

    if(depth >= it->depth)
      return;
    /* The shorter path's kind of link comes with its depth. */
    it->depth = depth;
    it->requisite = requisite != 0;
    set_referrer(it, referrer);
    if(it->queued && item_prio(it) != it->qprio) {
      struct cr_host *h = it->host;

      queue_remove(h, it);
      /* seg_get can only fail for want of memory; the item then fails
       * as any URL the frontier cannot hold. */
      if(host_push(h, it, 0))
        f->fail_cb(f->arg, it, "out of memory");
    }
    return;
  }
  if(f->lower_cb)
    f->lower_cb(f->arg, url, depth, requisite, referrer,
                old_tag & TAG_LEAF ? CR_DONE_LEAF : old_tag & TAG_CSS ? CR_DONE_CSS
                                                                      : CR_DONE_HTML);
}

int cr_frontier_add(struct cr_frontier *f, const char *url, unsigned depth, int requisite,
                    const char *referrer)
{
  struct cr_host *h;
  struct cr_item *it;
  uint64_t hv = cr_hash64(url, strlen(url));
  uint16_t *tag = cr_htag_get(&f->seen, hv);
  int rc;

  if(tag) {
    uint16_t old = *tag;

    if(depth_tag(depth) >= (old & TAG_DEPTH_MAX))
      return CR_EDUP;
    *tag = (uint16_t)(depth_tag(depth) | (old & ~TAG_DEPTH_MAX));
    lower(f, url, depth, requisite, referrer, old);
    return CR_EDUP;
  }
  rc = host_for(f, url, &h);
  if(rc)
    return rc;
  if(f->cfg.host_page_cap && h->pages >= f->cfg.host_page_cap)
    return CR_EFULL;
  rc = host_want_robots(h);
  if(rc)
    return rc;
  it = calloc(1, sizeof(*it));
  if(!it)
    return CR_ENOMEM;
  it->url = strdup(url);
  it->referrer = referrer ? strdup(referrer) : NULL;
  if(!it->url || (referrer && !it->referrer)) {
    cr_item_free(it);
    return CR_ENOMEM;
  }
  if(live_put(f, it, hv)) {
    cr_item_free(it);
    return CR_ENOMEM;
  }
  if(cr_htag_add(&f->seen, hv, depth_tag(depth)) < 0) {
    cr_hmap_del(&f->live, &it->live);
    cr_item_free(it);
    return CR_ENOMEM;
  }
  it->cur = it->url;
  it->depth = depth;
  it->requisite = requisite != 0;
  cr_file_init(&it->file);
  f->added++;
  h->pages++;
  /* Told before anything can fail it, so a journal sees the URL taken
   * before it sees the URL finished. */
  if(f->accept_cb)
    f->accept_cb(f->accept_arg, it->url, depth, it->requisite, it->referrer);
  if(h->dead) {
    f->fail_cb(f->arg, it, "host unreachable");
    return 0;
  }
  if(host_push(h, it, 0))
    f->fail_cb(f->arg, it, "out of memory");
  return 0;
}

int cr_frontier_requeue(struct cr_frontier *f, struct cr_item *it)
{
  struct cr_host *h;
  int rc = host_for(f, it->cur, &h);

  if(!rc)
    rc = host_want_robots(h);
  if(rc)
    return rc;
  return host_push(h, it, 1);
}

int cr_frontier_mark_seen(struct cr_frontier *f, const char *url, unsigned depth)
{
  struct cr_host *h;
  uint64_t hv = cr_hash64(url, strlen(url));
  int rc;

  if(cr_htag_get(&f->seen, hv))
    return CR_EDUP;
  rc = host_for(f, url, &h);
  if(rc)
    return rc;
  /* Not known to be a leaf: a shorter path found later follows its links
   * again (a fetch more at worst). */
  if(cr_htag_add(&f->seen, hv, depth_tag(depth)) < 0)
    return CR_ENOMEM;
  /* Counted as cr_frontier_add counts, so --max-pages and the per-host
   * cap hold across a resume. */
  f->added++;
  h->pages++;
  return 0;
}

int cr_frontier_seen(const struct cr_frontier *f, const char *url)
{
  return cr_htag_get(&f->seen, cr_hash64(url, strlen(url))) != NULL;
}

void cr_frontier_set_kind(struct cr_frontier *f, const char *url, int kind)
{
  uint16_t *tag = cr_htag_get(&f->seen, cr_hash64(url, strlen(url)));

  if(!tag)
    return;
  *tag &= TAG_DEPTH_MAX;
  if(kind == CR_DONE_LEAF)
    *tag |= TAG_LEAF;
  else if(kind == CR_DONE_CSS)
    *tag |= TAG_CSS;
}

void cr_frontier_set_lower(struct cr_frontier *f, cr_frontier_lower_cb cb)
{
  f->lower_cb = cb;
}

void cr_frontier_set_accept(struct cr_frontier *f, cr_frontier_accept_cb cb, void *arg)
{
  f->accept_cb = cb;
  f->accept_arg = arg;
}

/* Nonzero when the host's robots.txt rules (if any) allow the item. */
static int robots_allow(const struct cr_host *h, const struct cr_item *it)
{
  struct cr_url_view v;

  if(h->robots_state != R_DONE)
    return 1;
  if(!h->robots)
    return 0;
  if(cr_url_view(it->cur, &v))
    return 1;
  /* The path runs on into the query: robots rules see both. */
  return cr_robots_allowed(h->robots, v.path, strlen(v.path));
}

/* Holds the host back for its politeness delay after a request starts. */
static void host_delay(struct cr_host *h)
{
  struct cr_frontier *f = h->f;
  uint64_t ms = h->delay_ms;

  if(f->cfg.jitter) {
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    ms = ms / 2 + f->rng % (ms + 1);
  }
  cr_frontier_backoff(f, h, ms);
}

struct cr_item *cr_frontier_pop(struct cr_frontier *f)
{
  for(;;) {
    struct cr_host *h;
    struct cr_item *it;
    unsigned p;
    int rc;

    while(f->ready_min < PRIO_N && !f->ready_head[f->ready_min])
      f->ready_min++;
    if(f->ready_min == PRIO_N)
      return NULL;
    p = f->ready_min;
    h = f->ready_head[p];
    f->ready_head[p] = h->next_ready;
    if(!f->ready_head[p])
      f->ready_tail[p] = &f->ready_head[p];
    h->on_ready = 0;
    if(!host_eligible(h))
      continue;
    /* The address may have expired since the host became ready. */
    rc = host_resolve(h);
    if(rc != 1)
      continue;
    it = host_head(h);
    queue_remove(h, it);
    if(it->robots_for)
      it->robots_for->robots_state = R_FETCHING;
    else if(!robots_allow(h, it)) {
      /* Refused by robots.txt: costs no slot; look at the next URL. */
      f->fail_cb(f->arg, it, h->robots ? "robots.txt disallows"
                             : h->robots_why ? h->robots_why : "robots.txt unavailable");
      host_make_ready(h);
      continue;
    }
    if(h->speaks == 2 && h2_full(h)) {
      it->h2_opener = 1;
      h->h2_opening = 1;
    }
    h->in_flight++;
    it->host_epoch = h->epoch;
    if(h->delay_ms)
      host_delay(h);
    host_make_ready(h);
    return it;
  }
}

void cr_frontier_done(struct cr_frontier *f, struct cr_item *it)
{
  if(it->in_live) {
    cr_hmap_del(&f->live, &it->live);
    it->in_live = 0;
  }
}

void cr_frontier_release(struct cr_frontier *f, struct cr_item *it)
{
  struct cr_host *h = it->host;

  if(!h)
    return;
  h->in_flight--;
  it->host = NULL;
  if(it->h2_opener) {
    /* Ended before its connection was ready. */
    it->h2_opener = 0;
    h->h2_opening = 0;
  }
  host_make_ready(h);
}

void cr_frontier_backoff(struct cr_frontier *f, struct cr_host *h, uint64_t ms)
{
  uint64_t until = cr_loop_now(f->loop) + ms;

  if(until <= h->not_before)
    return;
  h->not_before = until;
  cr_timer_start(f->loop, &h->wake, ms);
}

void cr_frontier_robots_done(struct cr_frontier *f, struct cr_host *h,
                             struct cr_robots *rules, const char *why)
{
  double delay;

  cr_robots_free(&h->robots);
  h->robots = rules;
  free(h->robots_why);
  h->robots_why = NULL;
  if(!rules && why) {
    size_t n = strlen(why);

    /* One allocation per host; without it the generic reason stands. */
    h->robots_why = malloc(n + sizeof("robots.txt unavailable: "));
    if(h->robots_why) {
      memcpy(h->robots_why, "robots.txt unavailable: ", sizeof("robots.txt unavailable: ") - 1);
      memcpy(h->robots_why + sizeof("robots.txt unavailable: ") - 1, why, n + 1);
    }
  }
  h->robots_state = R_DONE;
  delay = rules ? cr_robots_crawl_delay(rules) : -1.0;
  if(delay > 0.0) {
    uint64_t ms = (uint64_t)(delay * 1000.0);

    if(ms > f->cfg.max_delay_ms)
      ms = f->cfg.max_delay_ms;
    if(ms > h->delay_ms)
      h->delay_ms = ms;
  }
  host_make_ready(h);
}

int cr_frontier_addr_failed(struct cr_frontier *f, struct cr_host *h, unsigned seq)
{
  if(!h->addrs || h->naddrs < 2)
    return 0;
  /* Transfers that started on the same address fail together: the first
   * to report moves the host on, the others just follow. */
  if(seq == h->addr_seq) {
    h->addr_fails++;
    h->addr_idx = (h->addr_idx + 1) % h->naddrs;
    if(addr_pick(h, h->addrs, h->addr_idx)) {
      h->addr_idx = 0;
      addr_pick(h, h->addrs, 0);
    }
    h->addr_seq++;
  }
  if(h->addr_fails < h->naddrs)
    return 1;
  /* A whole sweep failed: that is one connect failure of the host, and
   * the next attempt sweeps again. */
  h->addr_fails = 0;
  return 0;
}

int cr_host_speaks(const struct cr_host *h)
{
  return h->speaks;
}

void cr_frontier_connected(struct cr_frontier *f, struct cr_item *it, int h2, int fresh)
{
  struct cr_host *h = it->host;

  (void)f;
  h->speaks = h2 ? 2 : 1;
  if(h2 && fresh)
    h->h2_conns++;
  if(it->h2_opener) {
    it->h2_opener = 0;
    h->h2_opening = 0;
  }
  if(h->cold) {
    h->cold = 0;
    if(h->limit < h->ceiling && !h->epoch)
      h->limit = h->ceiling;
  }
  host_make_ready(h);
}

void cr_frontier_h2_closed(struct cr_frontier *f, struct cr_host *h)
{
  (void)f;
  if(h->h2_conns)
    h->h2_conns--;
}

int cr_frontier_connect_result(struct cr_frontier *f, struct cr_item *it, struct cr_host *h,
                               int how)
{
  if(how == CR_CONN_OK) {
    h->connect_fails = 0;
    h->addr_fails = 0;
    if(h->limit < h->ceiling) {
      /* Back up one at a time, as TCP grows its window after a loss:
       * doubling went straight back into the burst that failed. */
      h->limit++;
      host_make_ready(h);
    }
    return CR_CONN_OK;
  }
  if(h->dead)
    return CR_CONN_DEAD;
  if(how == CR_CONN_TLS) {
    /* The server accepted but the handshake failed or stalled: fewer at
     * once, but the URL pays an attempt, so a server that stalls every
     * handshake costs --retries tries a URL, not more. */
    if(h->cold) {
      /* No session came of it to resume, so one at a time saves nothing:
       * a server that stalls every handshake would take them in series. */
      h->cold = 0;
      h->limit = h->ceiling > 1 ? h->ceiling / 2 : 1;
      h->epoch++;
      host_make_ready(h);
    }
    else if(it->host_epoch == h->epoch && h->limit > 1) {
      h->limit /= 2;
      h->epoch++;
    }
    return CR_CONN_FAILED;
  }
  if(it->host_epoch != h->epoch)
    /* Started before the limit last came down: one more of the burst
     * that brought it down, not news about the host. */
    return CR_CONN_ECHO;
  if(h->limit > 1) {
    /* Many connections failing together is what an overwhelmed server
     * looks like (a full accept queue drops SYNs): one at a time, and
     * nothing counted against the host yet. */
    h->limit = 1;
    h->epoch++;
    return CR_CONN_ECHO;
  }
  /* One at a time, and still failing: that is evidence. */
  h->connect_fails++;
  if(f->cfg.dead_after && h->connect_fails >= f->cfg.dead_after) {
    h->dead = 1;
    host_flush(h, "host unreachable");
    return CR_CONN_DEAD;
  }
  return CR_CONN_FAILED;
}

int cr_frontier_has_ready(const struct cr_frontier *f)
{
  unsigned p;

  for(p = f->ready_min; p < PRIO_N; p++)
    if(f->ready_head[p])
      return 1;
  return 0;
}

uint64_t cr_frontier_pending(const struct cr_frontier *f)
{
  return f->pending;
}

uint64_t cr_frontier_added(const struct cr_frontier *f)
{
  return f->added;
}
