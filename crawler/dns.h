/*
 * dns.h - asynchronous name resolution with c-ares, inside the loop.
 *
 * Owns the c-ares channel, its sockets' watchers, its timer and a cache of
 * answers by host name.  A name is looked up once while its TTL lasts;
 * failures are cached too (NXDOMAIN and NODATA for a minute, other failures
 * briefly).  Concurrent requests for one name share one lookup.
 *
 * Lookups are paced so that a server that drops what it cannot read is not
 * flooded: a congestion window over lookups in flight starts at 32, grows
 * while answers come back (slow start, then one per window), halves when a
 * try goes unanswered, and never exceeds max_in_flight; the rest wait in
 * FIFO order, and start at most at 2 (slow start) or 1.25 windows per
 * answer time, not in bursts.  c-ares makes one try per query; the module
 * retries a lookup itself after a timeout taken from the measured answer
 * times (SRTT + max(4 RTTVAR, 100 ms), at most 2 s, doubled per try, with
 * +-25% jitter), and the first answer of any try wins.  A lookup that has
 * no answer 5 s after its first query fails with "DNS: timeout" if no
 * server answered anything in the last 5 s (a dead server: the queued
 * lookups fail with it at once); while servers answer other lookups, its
 * queries were lost at random and it is retried for up to 15 s.
 *
 * Each configured server gets its own c-ares channel, so the module picks
 * the server of every try: retries go round the servers, a server that
 * failed (SERVFAIL, REFUSED, port closed) is followed by the next one at
 * once, and one that leaves 3 tries in a row unanswered hands the first try
 * of new lookups to the next.
 *
 * Answers are given as the address list libcurl's CURLOPT_RESOLVE takes:
 * "1.2.3.4,[2001:db8::1]".
 */
#ifndef CR_DNS_H
#define CR_DNS_H

#include <stdint.h>

struct cr_loop;
struct cr_dns;
struct cr_dns_req;
struct dns_entry;

/* Delivers the answer to a pending request: status 0 with addrs, or CR_EDNS
 * with a reason.  Both strings are valid only during the call. */
typedef void (*cr_dns_cb)(struct cr_dns_req *req, int status,
                          const char *addrs, const char *reason);

/* A pending lookup, in caller storage.  Set cb and arg. */
struct cr_dns_req {
  cr_dns_cb cb;
  void *arg;
  struct cr_dns_req *next;   /* private */
  struct dns_entry *entry;   /* private; non-NULL while pending */
};

/* Creates the resolver.  servers: "host[:port],..." or NULL for the system's
 * configuration.  Returns 0, CR_EARES (message printed), CR_ENOMEM. */
int cr_dns_new(struct cr_loop *loop, const char *servers, unsigned max_in_flight,
               struct cr_dns **out);

/* Asks only for IPv4 (ip_version 4: A records) or IPv6 (6: AAAA) addresses,
 * or both (0, the default).  Call before the first lookup. */
void cr_dns_set_family(struct cr_dns *d, int ip_version);

/* Cancels everything (callbacks are not called) and frees; clears *d. */
void cr_dns_free(struct cr_dns **d);

/* Looks up name.  From the cache: returns 0 with *addrs set (valid until the
 * next loop pass), or CR_EDNS with *reason; req is not used.  Otherwise
 * returns 1: the answer comes later through req->cb, exactly once, unless
 * cr_dns_cancel is called first.  CR_ENOMEM on allocation failure. */
int cr_dns_lookup(struct cr_dns *d, const char *name, struct cr_dns_req *req,
                  const char **addrs, const char **reason);

/* Withdraws a pending request; its callback will not be called. */
void cr_dns_cancel(struct cr_dns *d, struct cr_dns_req *req);

/* Runs once per loop pass: starts queued lookups and re-arms the c-ares
 * timer (ares_timeout walks every query, so it is called once per pass). */
void cr_dns_pass(struct cr_dns *d);

/* Lookups in flight or queued. */
unsigned cr_dns_busy(const struct cr_dns *d);

/* Tries sent to c-ares since the start (each is an A and an AAAA query),
 * retries included. */
uint64_t cr_dns_queries(const struct cr_dns *d);

#endif
