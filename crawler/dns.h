/*
 * dns.h - asynchronous name resolution with c-ares, inside the loop.
 *
 * Owns the c-ares channel, its sockets' watchers, its timer and a cache of
 * answers by host name.  A name is looked up once while its TTL lasts;
 * failures are cached too (NXDOMAIN and NODATA for a minute, other failures
 * briefly).  Concurrent requests for one name share one lookup.  At most
 * max_in_flight lookups run at once; the rest wait in FIFO order.
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

/* Lookups sent to c-ares since the start. */
uint64_t cr_dns_queries(const struct cr_dns *d);

#endif
