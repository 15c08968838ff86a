/*
 * dns.c - c-ares in the loop, with a per-name cache; see dns.h.
 */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "crawler.h"
#include "hash.h"
#include "loop.h"

#define DNS_TTL_MIN 5          /* s; a TTL of 0 would mean a query per URL */
#define DNS_TTL_MAX 3600       /* s */
#define DNS_NEG_TTL 60         /* s, for NXDOMAIN and NODATA */
#define DNS_FAIL_TTL 10        /* s, for timeouts and server failures */
#define DNS_ADDRS_MAX 2048     /* bytes of one address list */
#define DNS_RCVBUF (4 << 20)   /* bytes of UDP receive buffer */

enum { E_IDLE, E_QUEUED, E_RUNNING };

struct dns_entry {
  struct cr_hnode node;      /* key is name */
  char *name;
  int state;
  int status;                /* 0 or CR_EDNS for the cached answer */
  char *addrs;               /* cached answer, or NULL */
  const char *reason;        /* static */
  uint64_t expires;          /* loop ms; 0 = nothing cached */
  struct cr_dns_req *waiters;
  struct dns_entry *next_queued;
  struct cr_dns *d;
};

struct sock_watch {
  int id;                    /* loop watcher id, -1 when none */
};

struct cr_dns {
  struct cr_loop *loop;
  ares_channel channel;
  struct cr_hmap names;
  struct dns_entry *queue_head;
  struct dns_entry **queue_tail;
  unsigned running;
  unsigned queued;
  unsigned max_in_flight;
  uint64_t queries;
  struct cr_timer timer;
  struct sock_watch *socks;  /* indexed by fd */
  int socks_cap;
  int destroying;
};

static void dns_on_io(struct cr_loop *loop, int fd, unsigned events, void *arg)
{
  struct cr_dns *d = arg;
  ares_socket_t r = (events & (CR_READ | CR_ERROR)) ? fd : ARES_SOCKET_BAD;
  ares_socket_t w = (events & CR_WRITE) ? fd : ARES_SOCKET_BAD;

  ares_process_fd(d->channel, r, w);
}

static void dns_on_timer(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_dns *d = t->arg;

  /* No descriptor: c-ares only checks its timeouts. */
  ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/* c-ares tells us which sockets to watch (ARES_OPT_SOCK_STATE_CB). */
static void dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
  struct cr_dns *d = data;
  unsigned ev = (readable ? CR_READ : 0) | (writable ? CR_WRITE : 0);

  if(fd >= d->socks_cap) {
    int ncap = d->socks_cap ? d->socks_cap : 64;
    struct sock_watch *ns;
    int i;

    while(ncap <= fd)
      ncap *= 2;
    ns = realloc(d->socks, (size_t)ncap * sizeof(*ns));
    if(!ns)
      return; /* the query will time out and fail; nothing better to do */
    for(i = d->socks_cap; i < ncap; i++)
      ns[i].id = -1;
    d->socks = ns;
    d->socks_cap = ncap;
  }
  if(!ev) {
    cr_loop_unwatch(d->loop, d->socks[fd].id);
    d->socks[fd].id = -1;
  }
  else if(d->socks[fd].id < 0) {
    int id = cr_loop_watch(d->loop, fd, ev, dns_on_io, d);

    if(id >= 0)
      d->socks[fd].id = id;
    else
      fprintf(stderr, "crawler: dns: cannot watch socket %d: %s\n", fd, cr_strerror(id));
  }
  else
    cr_loop_modify(d->loop, d->socks[fd].id, ev);
}

int cr_dns_new(struct cr_loop *loop, const char *servers, unsigned max_in_flight,
               struct cr_dns **out)
{
  struct cr_dns *d;
  struct ares_options opts;
  int optmask;
  int rc;

  *out = NULL;
  rc = ares_library_init(ARES_LIB_INIT_ALL);
  if(rc != ARES_SUCCESS) {
    fprintf(stderr, "crawler: ares_library_init: %s\n", ares_strerror(rc));
    return CR_EARES;
  }
  d = calloc(1, sizeof(*d));
  if(!d) {
    ares_library_cleanup();
    return CR_ENOMEM;
  }
  d->loop = loop;
  d->max_in_flight = max_in_flight ? max_in_flight : 1;
  d->queue_tail = &d->queue_head;
  d->timer.cb = dns_on_timer;
  d->timer.arg = d;
  cr_hmap_init(&d->names);

  memset(&opts, 0, sizeof(opts));
  opts.sock_state_cb = dns_sock_state;
  opts.sock_state_cb_data = d;
  /* 2 s per try, 3 tries: a dead server costs a host ~6 s, not the 20 s+
   * of c-ares's defaults. */
  opts.timeout = 2000;
  opts.tries = 3;
  /* Hundreds of answers can arrive in one burst; the default receive
   * buffer (~200 KB, a few hundred datagrams with their overhead) drops the
   * rest, and each drop costs a 2 s retry.  The kernel caps this at
   * net.core.rmem_max. */
  opts.socket_receive_buffer_size = DNS_RCVBUF;
  optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_RCVBUF;
  rc = ares_init_options(&d->channel, &opts, optmask);
  if(rc != ARES_SUCCESS) {
    fprintf(stderr, "crawler: ares_init_options: %s\n", ares_strerror(rc));
    goto fail;
  }
  if(servers) {
    rc = ares_set_servers_ports_csv(d->channel, servers);
    if(rc != ARES_SUCCESS) {
      fprintf(stderr, "crawler: --dns-servers '%s': %s\n", servers, ares_strerror(rc));
      goto fail;
    }
  }
  *out = d;
  return 0;

fail:
  if(d->channel)
    ares_destroy(d->channel);
  free(d);
  ares_library_cleanup();
  return CR_EARES;
}

static void entry_free(struct dns_entry *e)
{
  free(e->addrs);
  free(e->name);
  free(e);
}

void cr_dns_free(struct cr_dns **pd)
{
  struct cr_dns *d;
  size_t i;

  if(!pd || !*pd)
    return;
  d = *pd;
  d->destroying = 1;
  cr_timer_stop(d->loop, &d->timer);
  /* Calls every pending callback with ARES_EDESTRUCTION; dns_on_answer
   * ignores them because of the flag above. */
  ares_destroy(d->channel);
  for(i = 0; i < d->names.nb; i++) {
    struct cr_hnode *n = d->names.b[i];

    while(n) {
      struct cr_hnode *next = n->next;

      entry_free((struct dns_entry *)n);
      n = next;
    }
  }
  cr_hmap_cleanup(&d->names);
  if(d->socks) {
    int fd;

    for(fd = 0; fd < d->socks_cap; fd++)
      cr_loop_unwatch(d->loop, d->socks[fd].id);
  }
  free(d->socks);
  free(d);
  ares_library_cleanup();
  *pd = NULL;
}

/* Nonzero when tok is one of the comma-separated entries of list: a
 * substring test would take 10.0.0.1 for a part of 10.0.0.10. */
static int listed(const struct cr_buf *list, const char *tok)
{
  size_t n = strlen(tok);
  const char *p = list->data;

  if(!list->len)
    return 0;
  while(p) {
    if(!strncmp(p, tok, n) && (p[n] == ',' || p[n] == '\0'))
      return 1;
    p = strchr(p, ',');
    if(p)
      p++;
  }
  return 0;
}

/* Formats one answer as CURLOPT_RESOLVE's address list.  Addresses are
 * de-duplicated and IPv4 comes first: it is what most sites serve best. */
static char *format_addrs(const struct ares_addrinfo *ai, int *ttl)
{
  struct cr_buf b;
  const struct ares_addrinfo_node *n;
  int pass;
  char ip[INET6_ADDRSTRLEN];
  char tok[INET6_ADDRSTRLEN + 2];

  cr_buf_init(&b, DNS_ADDRS_MAX);
  *ttl = DNS_TTL_MAX;
  for(pass = 0; pass < 2; pass++) {
    int family = pass == 0 ? AF_INET : AF_INET6;

    for(n = ai->nodes; n; n = n->ai_next) {
      const void *src;

      if(n->ai_family != family)
        continue;
      if(family == AF_INET)
        src = &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr;
      else
        src = &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr;
      if(!inet_ntop(family, src, ip, sizeof(ip)))
        continue;
      if(n->ai_ttl < *ttl)
        *ttl = n->ai_ttl;
      if(family == AF_INET6)
        snprintf(tok, sizeof(tok), "[%s]", ip);
      else
        snprintf(tok, sizeof(tok), "%s", ip);
      /* The same address may come twice (once per socket type). */
      if(listed(&b, tok))
        continue;
      if(b.len && cr_buf_putc(&b, ','))
        break;
      if(cr_buf_puts(&b, tok))
        break;
    }
  }
  if(!b.len) {
    cr_buf_cleanup(&b);
    return NULL;
  }
  return b.data;
}

/* Hands the entry's answer to every waiter.  A callback may cancel other
 * waiters, so the list is re-read after every call. */
static void deliver(struct dns_entry *e)
{
  while(e->waiters) {
    struct cr_dns_req *r = e->waiters;

    e->waiters = r->next;
    r->next = NULL;
    r->entry = NULL;
    r->cb(r, e->status, e->addrs, e->reason);
  }
}

static void dns_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
  struct dns_entry *e = arg;
  struct cr_dns *d = e->d;
  int ttl = DNS_FAIL_TTL;

  if(d->destroying) {
    ares_freeaddrinfo(ai);
    return;
  }
  d->running--;
  e->state = E_IDLE;
  free(e->addrs);
  e->addrs = NULL;
  if(status == ARES_SUCCESS && ai)
    e->addrs = format_addrs(ai, &ttl);
  if(e->addrs) {
    e->status = 0;
    e->reason = NULL;
    if(ttl < DNS_TTL_MIN)
      ttl = DNS_TTL_MIN;
  }
  else {
    e->status = CR_EDNS;
    switch(status) {
    case ARES_SUCCESS:
    case ARES_ENODATA:
      e->reason = "DNS: no address for host";
      ttl = DNS_NEG_TTL;
      break;
    case ARES_ENOTFOUND:
      e->reason = "DNS: host not found";
      ttl = DNS_NEG_TTL;
      break;
    case ARES_ETIMEOUT:
      e->reason = "DNS: timeout";
      break;
    case ARES_ECONNREFUSED:
      e->reason = "DNS: server refused";
      break;
    case ARES_ESERVFAIL:
      e->reason = "DNS: server failure";
      break;
    case ARES_EBADNAME:
      e->reason = "DNS: bad host name";
      ttl = DNS_NEG_TTL;
      break;
    default:
      e->reason = "DNS: lookup failed";
      break;
    }
  }
  ares_freeaddrinfo(ai);
  e->expires = cr_loop_now(d->loop) + (uint64_t)ttl * 1000u;
  /* Queued lookups start in the next cr_dns_pass, not from inside c-ares. */
  deliver(e);
}

static void dns_send(struct cr_dns *d, struct dns_entry *e)
{
  struct ares_addrinfo_hints hints;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  /* Without NOSORT, c-ares 1.18 connects a UDP socket per address to sort
   * them (RFC 6724): a blocking-ish syscall storm for nothing, as libcurl
   * does its own happy eyeballs. */
  hints.ai_flags = ARES_AI_NOSORT;
  e->state = E_RUNNING;
  d->running++;
  d->queries++;
  /* May call dns_on_answer before returning (e.g. /etc/hosts answers). */
  ares_getaddrinfo(d->channel, e->name, NULL, &hints, dns_on_answer, e);
}

static void dns_start_queued(struct cr_dns *d)
{
  while(d->queue_head && d->running < d->max_in_flight) {
    struct dns_entry *e = d->queue_head;

    d->queue_head = e->next_queued;
    if(!d->queue_head)
      d->queue_tail = &d->queue_head;
    d->queued--;
    e->next_queued = NULL;
    /* Everyone waiting may have gone away (cancelled) meanwhile. */
    if(!e->waiters) {
      e->state = E_IDLE;
      continue;
    }
    dns_send(d, e);
  }
}

int cr_dns_lookup(struct cr_dns *d, const char *name, struct cr_dns_req *req,
                  const char **addrs, const char **reason)
{
  struct dns_entry *e = (struct dns_entry *)cr_hmap_get(&d->names, name);

  if(!e) {
    e = calloc(1, sizeof(*e));
    if(!e)
      return CR_ENOMEM;
    e->name = strdup(name);
    if(!e->name) {
      free(e);
      return CR_ENOMEM;
    }
    e->node.key = e->name;
    e->d = d;
    if(cr_hmap_put(&d->names, &e->node)) {
      entry_free(e);
      return CR_ENOMEM;
    }
  }
  if(e->state == E_IDLE && e->expires > cr_loop_now(d->loop)) {
    if(e->status) {
      *reason = e->reason;
      return CR_EDNS;
    }
    *addrs = e->addrs;
    return 0;
  }
  req->entry = e;
  req->next = e->waiters;
  e->waiters = req;
  if(e->state == E_IDLE) {
    e->state = E_QUEUED;
    *d->queue_tail = e;
    d->queue_tail = &e->next_queued;
    d->queued++;
    /* Sent from cr_dns_pass, so a burst of new hosts is sent in one go and
     * the answer never arrives inside this call. */
  }
  return 1;
}

void cr_dns_cancel(struct cr_dns *d, struct cr_dns_req *req)
{
  struct cr_dns_req **pp;

  if(!req->entry)
    return;
  pp = &req->entry->waiters;
  while(*pp && *pp != req)
    pp = &(*pp)->next;
  if(*pp)
    *pp = req->next;
  req->next = NULL;
  req->entry = NULL;
}

void cr_dns_pass(struct cr_dns *d)
{
  struct timeval tv;
  struct timeval *tvp;

  dns_start_queued(d);
  if(!d->running) {
    cr_timer_stop(d->loop, &d->timer);
    return;
  }
  tvp = ares_timeout(d->channel, NULL, &tv);
  if(!tvp) {
    cr_timer_stop(d->loop, &d->timer);
    return;
  }
  cr_timer_start(d->loop, &d->timer,
                 (uint64_t)tvp->tv_sec * 1000u + (uint64_t)(tvp->tv_usec + 999) / 1000u);
}

unsigned cr_dns_busy(const struct cr_dns *d)
{
  return d->running + d->queued;
}

uint64_t cr_dns_queries(const struct cr_dns *d)
{
  return d->queries;
}
