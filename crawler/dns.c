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
#define DNS_GIVE_UP_MS 5000    /* a lookup unanswered this long after its
                                  first query fails: "DNS: timeout", unless
                                  a server answered something meanwhile */
#define DNS_LOOKUP_MAX_MS 15000 /* ... and then at the latest */
#define DNS_RTO_INIT 1000      /* ms before the first answer (RFC 6298) */
#define DNS_RTO_MIN 100        /* ms; clamps of the retry timeout, and the */
#define DNS_RTO_MAX 2000       /* least margin above SRTT (as Linux's TCP) */
#define DNS_CWND_INIT 32       /* lookups in flight at the start: 64
                                  queries, well under dnsmasq's 150 */
#define DNS_CWND_MIN 4         /* lookups in flight after losses */
#define DNS_SERVER_MISSES 3    /* unanswered tries that move new lookups to
                                  the next server */

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
  /* While running: */
  unsigned round;            /* lookups of this name so far; tries of an
                                earlier round are stale */
  unsigned tries;            /* queries sent in this round */
  unsigned pending;          /* of those, still in c-ares */
  unsigned first_srv;        /* server of the first try */
  unsigned last_srv;         /* server of the latest try */
  uint64_t first_sent;       /* loop ms of the first try */
  uint64_t rto;              /* ms until the next try, doubled per try */
  int failover;              /* the timer sends to the next server now */
  struct cr_timer timer;     /* next try, or giving up */
};

/* One query sent through c-ares: the argument of its callback.  c-ares calls
 * back every query exactly once (ares_destroy with ARES_EDESTRUCTION), and
 * that call frees it.  The entry outlives it: entries are freed only after
 * ares_destroy. */
struct dns_try {
  struct dns_entry *e;
  unsigned srv;
  unsigned round;
  uint64_t sent;             /* loop ms */
};

/* One configured server with a c-ares channel of its own, so the crawler
 * chooses the server of every try: c-ares 1.18 starts every query at its
 * first server and moves on only after its own timeout. */
struct dns_server {
  struct cr_dns *d;
  ares_channel channel;
  unsigned misses;           /* tries unanswered since its last answer */
};

struct sock_watch {
  int id;                    /* loop watcher id, -1 when none */
  struct dns_server *srv;    /* whose socket it is, while id >= 0 */
};

struct cr_dns {
  struct cr_loop *loop;
  int family;                /* AF_UNSPEC, AF_INET or AF_INET6 */
  struct dns_server *servers;
  unsigned nservers;
  unsigned pref;             /* server of the next lookup's first try */
  struct cr_hmap names;
  struct dns_entry *queue_head;
  struct dns_entry **queue_tail;
  unsigned running;
  unsigned queued;
  unsigned max_in_flight;
  uint64_t queries;
  /* Pacing, as TCP's congestion control over lookups in flight: the
   * window grows by one per answer below ssthresh (doubling per round
   * trip) and by 1/cwnd above it, and halves at most once per round trip
   * when a try goes unanswered. */
  double cwnd;
  double ssthresh;
  uint64_t recover_until;    /* loop ms; no second halving before */
  /* Answer time, as TCP's SRTT and RTTVAR (RFC 6298), in ms. */
  double srtt;
  double rttvar;
  uint64_t last_answer;      /* loop ms of the last answer of any server */
  uint64_t drained;          /* loop ms of the last dns_drain */
  uint64_t rng;              /* xorshift state for the retry jitter */
  int sending;               /* inside ares_getaddrinfo: an answer now
                                came from /etc/hosts, not a server */
  /* Pacing: new lookups start at most at 2 cwnd / SRTT a ms in slow start,
   * 1.25 cwnd / SRTT above it (Linux TCP's ratios), not a window at once:
   * a server's receive buffer takes a steady stream it could not take as
   * one burst. */
  double pace_tokens;        /* lookups that may start now */
  uint64_t pace_last;        /* loop ms of the last refill */
  struct cr_timer pace_timer;
  struct cr_timer timer;
  struct sock_watch *socks;  /* indexed by fd */
  int socks_cap;
  int destroying;
};

static void dns_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai);

static void dns_on_pace(struct cr_loop *loop, struct cr_timer *t);

static void dns_on_io(struct cr_loop *loop, int fd, unsigned events, void *arg)
{
  struct dns_server *srv = arg;
  ares_socket_t r = (events & (CR_READ | CR_ERROR)) ? fd : ARES_SOCKET_BAD;
  ares_socket_t w = (events & CR_WRITE) ? fd : ARES_SOCKET_BAD;

  ares_process_fd(srv->channel, r, w);
}

static void dns_on_pace(struct cr_loop *loop, struct cr_timer *t)
{
  /* Nothing to do: firing runs another loop pass, and cr_dns_pass starts
   * what the pacing now allows. */
}

static void dns_on_timer(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_dns *d = t->arg;
  unsigned i;

  /* No descriptor: c-ares only checks its timeouts. */
  for(i = 0; i < d->nservers; i++)
    ares_process_fd(d->servers[i].channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/* c-ares tells us which sockets to watch (ARES_OPT_SOCK_STATE_CB).  Every
 * channel has sockets of its own, so an fd names one server. */
static void dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
  struct dns_server *srv = data;
  struct cr_dns *d = srv->d;
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
    int id = cr_loop_watch(d->loop, fd, ev, dns_on_io, srv);

    if(id >= 0) {
      d->socks[fd].id = id;
      d->socks[fd].srv = srv;
    }
    else
      fprintf(stderr, "crawler: dns: cannot watch socket %d: %s\n", fd, cr_strerror(id));
  }
  else
    cr_loop_modify(d->loop, d->socks[fd].id, ev);
}

/* Opens one channel.  servers: a CSV list for ares_set_servers_ports_csv,
 * or NULL for the system's; one: a single server to use instead, or NULL.
 * Returns 0 or CR_EARES (message printed). */
static int channel_open(struct cr_dns *d, struct dns_server *srv, const char *servers,
                        struct ares_addr_port_node *one)
{
  struct ares_options opts;
  int optmask;
  int rc;

  memset(&opts, 0, sizeof(opts));
  opts.sock_state_cb = dns_sock_state;
  opts.sock_state_cb_data = srv;
  /* One try per query, lasting as long as the lookup may: the crawler
   * sends the retries itself, on the scale of the measured answer time
   * (dns_on_retry), and c-ares 1.18 cannot cancel a query early.  An answer
   * to an earlier try that comes late still counts. */
  opts.timeout = DNS_GIVE_UP_MS;
  opts.tries = 1;
  /* Hundreds of answers can arrive in one burst; the default receive
   * buffer (~200 KB, a few hundred datagrams with their overhead) drops the
   * rest.  The kernel caps this at net.core.rmem_max. */
  opts.socket_receive_buffer_size = DNS_RCVBUF;
  optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_RCVBUF;
  srv->d = d;
  rc = ares_init_options(&srv->channel, &opts, optmask);
  if(rc != ARES_SUCCESS) {
    fprintf(stderr, "crawler: ares_init_options: %s\n", ares_strerror(rc));
    srv->channel = NULL;
    return CR_EARES;
  }
  if(one)
    rc = ares_set_servers_ports(srv->channel, one);
  else if(servers)
    rc = ares_set_servers_ports_csv(srv->channel, servers);
  if(rc != ARES_SUCCESS) {
    fprintf(stderr, "crawler: --dns-servers '%s': %s\n", servers ? servers : "", ares_strerror(rc));
    return CR_EARES;
  }
  return 0;
}

void cr_dns_set_family(struct cr_dns *d, int ip_version)
{
  d->family = ip_version == 4 ? AF_INET : ip_version == 6 ? AF_INET6 : AF_UNSPEC;
}

int cr_dns_new(struct cr_loop *loop, const char *servers, unsigned max_in_flight,
               struct cr_dns **out)
{
  struct cr_dns *d;
  struct dns_server probe;
  struct ares_addr_port_node *list = NULL;
  struct ares_addr_port_node *n;
  unsigned count = 0;
  unsigned i;
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
  memset(&probe, 0, sizeof(probe));
  d->loop = loop;
  d->family = AF_UNSPEC;
  d->max_in_flight = max_in_flight ? max_in_flight : 1;
  d->cwnd = DNS_CWND_INIT < d->max_in_flight ? DNS_CWND_INIT : d->max_in_flight;
  d->ssthresh = d->max_in_flight;
  d->queue_tail = &d->queue_head;
  d->timer.cb = dns_on_timer;
  d->timer.arg = d;
  d->pace_timer.cb = dns_on_pace;
  d->pace_timer.arg = d;
  d->pace_tokens = d->cwnd;
  d->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)d;
  cr_hmap_init(&d->names);

  /* A first channel reads the configuration (resolv.conf or the list)
   * only to learn the servers; each then gets a channel of its own. */
  rc = channel_open(d, &probe, servers, NULL);
  if(rc)
    goto fail;
  rc = ares_get_servers_ports(probe.channel, &list);
  if(rc != ARES_SUCCESS) {
    fprintf(stderr, "crawler: ares_get_servers_ports: %s\n", ares_strerror(rc));
    rc = CR_EARES;
    goto fail;
  }
  for(n = list; n; n = n->next)
    count++;
  d->servers = calloc(count ? count : 1, sizeof(*d->servers));
  if(!d->servers) {
    rc = CR_ENOMEM;
    goto fail;
  }
  if(count <= 1) {
    /* Nothing to split.  A fresh channel rather than the probe: the
     * probe's callback data is on this stack. */
    d->nservers = 1;
    rc = channel_open(d, &d->servers[0], servers, NULL);
    if(rc)
      goto fail;
  }
  else {
    for(n = list, i = 0; n; n = n->next, i++) {
      struct ares_addr_port_node one = *n;

      one.next = NULL;
      d->nservers = i + 1;
      rc = channel_open(d, &d->servers[i], servers, &one);
      if(rc)
        goto fail;
    }
  }
  rc = 0;
  *out = d;

fail:
  if(list)
    ares_free_data(list);
  if(probe.channel)
    ares_destroy(probe.channel);
  if(rc) {
    for(i = 0; i < d->nservers; i++) {
      if(d->servers[i].channel)
        ares_destroy(d->servers[i].channel);
    }
    free(d->servers);
    free(d);
    ares_library_cleanup();
  }
  return rc;
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
  cr_timer_stop(d->loop, &d->pace_timer);
  /* Calls every pending callback with ARES_EDESTRUCTION; dns_on_answer
   * only frees its try because of the flag above.  The entries are still
   * there for it. */
  for(i = 0; i < d->nservers; i++)
    ares_destroy(d->servers[i].channel);
  free(d->servers);
  for(i = 0; i < d->names.nb; i++) {
    struct cr_hnode *n = d->names.b[i];

    while(n) {
      struct cr_hnode *next = n->next;

      cr_timer_stop(d->loop, &((struct dns_entry *)n)->timer);
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

/* Caches a failure of e (not running) and tells its waiters. */
static void entry_fail(struct dns_entry *e, const char *reason, int ttl)
{
  struct cr_dns *d = e->d;

  e->state = E_IDLE;
  free(e->addrs);
  e->addrs = NULL;
  e->status = CR_EDNS;
  e->reason = reason;
  e->expires = cr_loop_now(d->loop) + (uint64_t)ttl * 1000u;
  deliver(e);
}

static const char *status_reason(int status, int *ttl)
{
  *ttl = DNS_FAIL_TTL;
  switch(status) {
  case ARES_SUCCESS:
  case ARES_ENODATA:
    *ttl = DNS_NEG_TTL;
    return "DNS: no address for host";
  case ARES_ENOTFOUND:
    *ttl = DNS_NEG_TTL;
    return "DNS: host not found";
  case ARES_ETIMEOUT:
    return "DNS: timeout";
  case ARES_ECONNREFUSED:
    return "DNS: server refused";
  case ARES_ESERVFAIL:
    return "DNS: server failure";
  case ARES_EBADNAME:
    *ttl = DNS_NEG_TTL;
    return "DNS: bad host name";
  default:
    return "DNS: lookup failed";
  }
}

/* ms scaled by a random factor in [0.75, 1.25): tries that went out
 * together (the first window, or many lost in one overflow) must not be
 * retried together, or each retry overflows the server again. */
static uint64_t jitter(struct cr_dns *d, uint64_t ms)
{
  d->rng ^= d->rng << 13;
  d->rng ^= d->rng >> 7;
  d->rng ^= d->rng << 17;
  return ms * 3 / 4 + d->rng % (ms / 2 + 1);
}

/* The current retry timeout: SRTT + max(4 RTTVAR, 100 ms), at most 2 s. */
static uint64_t dns_rto(const struct cr_dns *d)
{
  double rto;

  if(d->srtt <= 0.0)
    return DNS_RTO_INIT;
  /* The variance term has a floor: answers to one burst come back over
   * the time the server takes to read it, so the last of a burst waits
   * longer than the samples of the first. */
  rto = d->srtt + (4.0 * d->rttvar > DNS_RTO_MIN ? 4.0 * d->rttvar : DNS_RTO_MIN);
  if(rto > DNS_RTO_MAX)
    rto = DNS_RTO_MAX;
  return (uint64_t)rto;
}

/* One answer time.  Every try carries its own send time, so an answer to
 * a retried lookup is still an exact sample (no Karn ambiguity). */
static void rtt_sample(struct cr_dns *d, uint64_t ms)
{
  double r = (double)ms;

  if(d->srtt <= 0.0) {
    d->srtt = r > 1.0 ? r : 1.0;
    d->rttvar = r / 2.0;
    return;
  }
  d->rttvar = 0.75 * d->rttvar + 0.25 * (d->srtt > r ? d->srtt - r : r - d->srtt);
  d->srtt = 0.875 * d->srtt + 0.125 * r;
}

/* A try went unanswered for its retry timeout: halve the window, once per
 * round trip, so one overflow of the server's buffer (many drops at once)
 * counts once. */
static void window_loss(struct cr_dns *d)
{
  uint64_t now = cr_loop_now(d->loop);

  if(now < d->recover_until)
    return;
  d->ssthresh = d->cwnd / 2.0;
  if(d->ssthresh < DNS_CWND_MIN)
    d->ssthresh = DNS_CWND_MIN;
  d->cwnd = d->ssthresh;
  d->recover_until = now + dns_rto(d);
}

static void window_ack(struct cr_dns *d)
{
  if(d->cwnd < d->ssthresh)
    d->cwnd += 1.0;
  else
    d->cwnd += 1.0 / d->cwnd;
  if(d->cwnd > d->max_in_flight)
    d->cwnd = d->max_in_flight;
}

/* Sends one more try of a running lookup to server srv.  The try is freed by
 * its callback, which c-ares always calls. */
static void dns_send_try(struct cr_dns *d, struct dns_entry *e, unsigned srv)
{
  struct ares_addrinfo_hints hints;
  struct dns_try *t = malloc(sizeof(*t));

  if(!t)
    return; /* the retry timer tries again, or gives up */
  t->e = e;
  t->srv = srv;
  t->round = e->round;
  t->sent = cr_loop_now(d->loop);
  if(!e->tries) {
    e->first_srv = srv;
    e->first_sent = t->sent;
  }
  e->last_srv = srv;
  e->tries++;
  e->pending++;
  d->queries++;
  memset(&hints, 0, sizeof(hints));
  /* -4/-6: one query per try instead of an A and an AAAA. */
  hints.ai_family = d->family;
  /* Without NOSORT, c-ares 1.18 connects a UDP socket per address to sort
   * them (RFC 6724): a blocking-ish syscall storm for nothing. */
  hints.ai_flags = ARES_AI_NOSORT;
  /* May call dns_on_answer before returning (e.g. /etc/hosts answers). */
  d->sending = 1;
  ares_getaddrinfo(d->servers[srv].channel, e->name, NULL, &hints, dns_on_answer, t);
  d->sending = 0;
}

/* Ends a running lookup with c-ares's status and answer. */
static void entry_done(struct dns_entry *e, int status, struct ares_addrinfo *ai)
{
  struct cr_dns *d = e->d;
  int ttl = DNS_FAIL_TTL;

  d->running--;
  cr_timer_stop(d->loop, &e->timer);
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
    e->reason = status_reason(status, &ttl);
  }
  e->expires = cr_loop_now(d->loop) + (uint64_t)ttl * 1000u;
  /* Queued lookups start in the next cr_dns_pass, not from inside c-ares. */
  deliver(e);
}

/* Whether status is a server's answer: its time is a sample, and the
 * server is alive.  Timeouts, cancellations and local errors are not. */
static int status_answered(int status)
{
  switch(status) {
  case ARES_SUCCESS:
  case ARES_ENODATA:
  case ARES_ENOTFOUND:
  case ARES_ESERVFAIL:
  case ARES_EREFUSED:
  case ARES_EFORMERR:
  case ARES_ENOTIMP:
  case ARES_EBADRESP:
    return 1;
  default:
    return 0;
  }
}

/* Whether status says this server could not answer (an error of its own,
 * or its port closed), so another server might. */
static int status_server_failed(int status)
{
  switch(status) {
  case ARES_ESERVFAIL:
  case ARES_EREFUSED:
  case ARES_ENOTIMP:
  case ARES_EFORMERR:
  case ARES_EBADRESP:
  case ARES_ECONNREFUSED:
    return 1;
  default:
    return 0;
  }
}

/* A try of server srv went unanswered or failed.  A server that does so
 * several times in a row loses the first try of new lookups to the next
 * one. */
static void server_missed(struct cr_dns *d, unsigned srv)
{
  struct dns_server *s = &d->servers[srv];

  s->misses++;
  if(srv == d->pref && s->misses >= DNS_SERVER_MISSES && d->nservers > 1)
    d->pref = (d->pref + 1) % d->nservers;
}

static void dns_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
  struct dns_try *t = arg;
  struct dns_entry *e = t->e;
  struct cr_dns *d = e->d;
  uint64_t now;

  if(d->destroying)
    goto done;
  now = cr_loop_now(d->loop);
  if(t->round == e->round)
    e->pending--;
  /* An answer from /etc/hosts says nothing of the server or its time. */
  if(status_answered(status) && !d->sending) {
    rtt_sample(d, now - t->sent);
    d->last_answer = now;
  }
  if(status_server_failed(status) && !d->sending)
    server_missed(d, t->srv);
  else if(status_answered(status) && !d->sending)
    d->servers[t->srv].misses = 0;
  /* A try of a lookup that has already ended (answered by another try, or
   * given up), or a try that c-ares ended without an answer: the lookup's
   * own timer decides what happens next. */
  if(e->state != E_RUNNING || t->round != e->round)
    goto done;
  if(status == ARES_ETIMEOUT || status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
    goto done;
  if(status_server_failed(status) && e->tries < d->nservers) {
    /* Another server may know better; ask it now, from the timer, not
     * from inside c-ares. */
    e->failover = 1;
    cr_timer_start(d->loop, &e->timer, 0);
    goto done;
  }
  /* Every server was asked; a try still out may yet succeed. */
  if(status_server_failed(status) && e->pending)
    goto done;
  /* No undo of a halving when a retried try answers after all (TCP's
   * Eifel): in one overflow some tries are late and others lost, and
   * undoing on the first late one measured 2-4 times the drops. */
  if(status_answered(status) && !d->sending)
    window_ack(d);
  entry_done(e, status, ai);

done:
  if(ai)
    ares_freeaddrinfo(ai);
  free(t);
}

/* Fails every queued lookup: the servers answered nothing for the whole
 * give-up time, so each of them would only wait that long again.  The
 * queue is detached first, as a waiter's callback may queue new names. */
static void fail_queued(struct cr_dns *d)
{
  struct dns_entry *e = d->queue_head;

  d->queue_head = NULL;
  d->queue_tail = &d->queue_head;
  d->queued = 0;
  while(e) {
    struct dns_entry *next = e->next_queued;

    e->next_queued = NULL;
    entry_fail(e, "DNS: timeout", DNS_FAIL_TTL);
    e = next;
  }
}

/* Reads the answers already waiting in the DNS sockets.  A busy loop may
 * reach a retry timer before the readable socket holding the answer (the
 * timer's pass, or a later epoll batch): the server answered in time, and
 * a retry would only add load.  Once per loop pass: ares_process_fd also
 * walks every query for timeouts. */
static void dns_drain(struct cr_dns *d)
{
  uint64_t now = cr_loop_now(d->loop);
  int fd;

  if(d->drained == now)
    return;
  d->drained = now;
  for(fd = 0; fd < d->socks_cap; fd++) {
    if(d->socks[fd].id >= 0)
      ares_process_fd(d->socks[fd].srv->channel, fd, ARES_SOCKET_BAD);
  }
}

/* The retry timer of a running lookup: give up, or send one more try to
 * the next server with a doubled timeout. */
static void dns_on_retry(struct cr_loop *loop, struct cr_timer *timer)
{
  struct dns_entry *e = timer->arg;
  struct cr_dns *d = e->d;
  uint64_t now = cr_loop_now(loop);
  uint64_t elapsed = now - e->first_sent;
  uint64_t limit = DNS_GIVE_UP_MS;
  uint64_t left;
  uint64_t wait;
  unsigned srv;

  if(!e->failover) {
    dns_drain(d);
    if(e->state != E_RUNNING || cr_timer_active(timer))
      return;
  }
  /* A server that answers other lookups is alive, and this lookup's
   * queries were lost (an overflowing buffer drops at random): keep
   * trying for longer.  A silent server fails it after 5 s. */
  if(d->last_answer && now - d->last_answer < DNS_GIVE_UP_MS)
    limit = DNS_LOOKUP_MAX_MS;
  left = elapsed < limit ? limit - elapsed : 0;
  if(e->failover) {
    e->failover = 0;
    if(e->tries >= d->nservers) {
      /* Every server failed this round (only if the last answer was lost
       * meanwhile): let the give-up time decide. */
      cr_timer_start(loop, timer, left);
      return;
    }
  }
  else if(!left) {
    d->running--;
    entry_fail(e, "DNS: timeout", DNS_FAIL_TTL);
    if(!d->last_answer || now - d->last_answer >= DNS_GIVE_UP_MS)
      fail_queued(d);
    return;
  }
  else {
    window_loss(d);
    server_missed(d, e->last_srv);
  }
  srv = (e->first_srv + e->tries) % d->nservers;
  wait = jitter(d, e->rto);
  e->rto = e->rto * 2 < DNS_RTO_MAX ? e->rto * 2 : DNS_RTO_MAX;
  if(wait > left)
    wait = left;
  cr_timer_start(loop, timer, wait);
  dns_send_try(d, e, srv);
}

/* Starts a lookup: its first try and its retry timer. */
static void dns_send(struct cr_dns *d, struct dns_entry *e)
{
  e->state = E_RUNNING;
  e->round++;
  e->tries = 0;
  e->pending = 0;
  e->failover = 0;
  e->rto = dns_rto(d);
  e->timer.cb = dns_on_retry;
  e->timer.arg = e;
  d->running++;
  cr_timer_start(d->loop, &e->timer, jitter(d, e->rto));
  e->rto = e->rto * 2 < DNS_RTO_MAX ? e->rto * 2 : DNS_RTO_MAX;
  dns_send_try(d, e, d->pref);
}

/* Refills the pacing tokens; returns the rate in lookups per ms, 0 while
 * there is no answer time to pace by (the first window goes at once). */
static double pace_refill(struct cr_dns *d)
{
  uint64_t now = cr_loop_now(d->loop);
  double burst = d->cwnd / 8.0 > 4.0 ? d->cwnd / 8.0 : 4.0;
  double rate;

  if(d->srtt <= 0.0) {
    d->pace_last = now;
    return 0.0;
  }
  rate = (d->cwnd < d->ssthresh ? 2.0 : 1.25) * d->cwnd / d->srtt;
  d->pace_tokens += rate * (double)(now - d->pace_last);
  d->pace_last = now;
  if(d->pace_tokens > burst)
    d->pace_tokens = burst;
  return rate;
}

static void dns_start_queued(struct cr_dns *d)
{
  double rate = pace_refill(d);

  while(d->queue_head && d->running < d->max_in_flight && d->running < (unsigned)d->cwnd) {
    struct dns_entry *e = d->queue_head;

    if(rate > 0.0 && d->pace_tokens < 1.0) {
      uint64_t ms = (uint64_t)((1.0 - d->pace_tokens) / rate) + 1;

      if(!cr_timer_active(&d->pace_timer))
        cr_timer_start(d->loop, &d->pace_timer, ms);
      break;
    }

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
    if(rate > 0.0)
      d->pace_tokens -= 1.0;
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
  uint64_t best = UINT64_MAX;
  unsigned i;

  dns_start_queued(d);
  /* Tries of finished lookups may still be pending in c-ares: its timer
   * runs until ares_timeout has nothing left. */
  for(i = 0; i < d->nservers; i++) {
    struct timeval tv;
    struct timeval *tvp = ares_timeout(d->servers[i].channel, NULL, &tv);
    uint64_t ms;

    if(!tvp)
      continue;
    ms = (uint64_t)tvp->tv_sec * 1000u + (uint64_t)(tvp->tv_usec + 999) / 1000u;
    if(ms < best)
      best = ms;
  }
  if(best == UINT64_MAX)
    cr_timer_stop(d->loop, &d->timer);
  else
    cr_timer_start(d->loop, &d->timer, best);
}

unsigned cr_dns_busy(const struct cr_dns *d)
{
  return d->running + d->queued;
}

uint64_t cr_dns_queries(const struct cr_dns *d)
{
  return d->queries;
}
