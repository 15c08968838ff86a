/*
 * crawler.h - the engine's public API.
 *
 * The engine owns one epoll loop, a libcurl multi handle, a c-ares channel,
 * the frontier and the store.  A front end fills a struct cr_config, creates
 * an engine, adds URLs and runs it to completion.  Everything the engine
 * learns about a URL ends up as one line in the manifest.
 *
 * Errors: 0 is success, a negative CR_E* value is failure; cr_strerror()
 * names it.
 */
#ifndef CRAWLER_H
#define CRAWLER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CR_OK = 0,
  CR_ENOMEM = -1,     /* allocation failed */
  CR_EINVAL = -2,     /* bad argument or value */
  CR_EIO = -3,        /* file system error; errno was reported */
  CR_ECURL = -4,      /* libcurl refused a call */
  CR_EARES = -5,      /* c-ares refused a call */
  CR_ELOOP = -6,      /* epoll or timer error */
  CR_EURL = -7,       /* URL cannot be parsed */
  CR_ESCHEME = -8,    /* URL scheme is not http or https */
  CR_ETOOLONG = -9,   /* input longer than its cap */
  CR_EFULL = -10,     /* a bounded buffer is full */
  CR_EDUP = -11,      /* already seen */
  CR_ESTOPPED = -12,  /* the engine was stopped */
  CR_ENOSPC = -13,    /* the output file system is full */
  CR_EDNS = -14,      /* the host name did not resolve */
  CR_EMFILE = -15,    /* out of file descriptors for now */
  CR_ESTATE = -16,    /* saved crawl state in the way (see cr_config.state) */
  CR_ETIMEUP = -17,   /* cr_config.max_time elapsed; the crawl stopped */
};

/* Returns a static, human-readable name for a CR_E* code. */
const char *cr_strerror(int err);

/* Progress display modes. */
enum cr_progress {
  CR_PROGRESS_NONE = 0,    /* print nothing */
  CR_PROGRESS_SUMMARY = 1, /* one summary at the end */
  CR_PROGRESS_LIVE = 2,    /* a status line a few times a second, then the summary */
};

/* What to do with the saved state of an unfinished crawl in the output
 * directory (DIR/.crawler). */
enum cr_state_mode {
  CR_STATE_ASK = 0,    /* refuse to start if there is one (CR_ESTATE) */
  CR_STATE_RESUME = 1, /* continue it; start a new crawl if there is none */
  CR_STATE_FRESH = 2,  /* discard it and start a new crawl */
  CR_STATE_OFF = 3,    /* keep no state at all: a killed crawl cannot resume */
};

/* Engine settings.  cr_config_defaults() fills every field with the default
 * documented beside it; the caller then overrides what it wants.  Strings are
 * borrowed and must outlive the engine. */
/* Which HTTP versions a crawl speaks. */
enum cr_http_version {
  CR_HTTP_AUTO,       /* HTTP/2 over TLS when the server offers it (ALPN), else 1.1 */
  CR_HTTP_1_1,        /* HTTP/1.1 only */
  CR_HTTP_2,          /* as AUTO, stated: h2 over TLS, 1.1 for plain http:// */
};

struct cr_config {
  const char *output_dir;      /* where pages go; required (default NULL) */
  const char *manifest_path;   /* default NULL: OUTPUT_DIR/manifest.jsonl;
                                  "-" writes the manifest to stdout */
  unsigned concurrency;        /* transfers in flight; default 256 */
  unsigned per_host;           /* transfers in flight per host; default 16 */
  unsigned dns_in_flight;      /* most DNS lookups in flight (the pacing
                                  window starts at 32); default 512 */
  double timeout;              /* whole transfer, seconds; default 120 */
  double connect_timeout;      /* seconds; default 15 */
  long low_speed_time;         /* abort a body stalled below 1 byte/s for this
                                  many seconds; default 30 */
  unsigned retries;            /* extra attempts after a retryable failure
                                  (connect error, timeout, 429, 5xx); default 2 */
  double retry_after_max;      /* cap on an honoured Retry-After, s; default 30 */
  unsigned max_redirects;      /* default 10 */
  int64_t max_size;            /* decoded body cap in bytes, 0 = none; default 0 */
  unsigned buffer_size;        /* libcurl receive buffer per transfer, bytes
                                  (1024..524288); default 0: 16 KiB, halved
                                  down to 2 KiB as concurrency grows so all
                                  buffers stay near 32 MB */
  const char *user_agent;      /* default "crawler/VERSION" */
  const char *dns_servers;     /* "host[:port],..." for c-ares; default NULL:
                                  the system's resolv.conf */
  /* TLS.  NULL: libcurl's built-in default (the system's CA store). */
  const char *ca_file;         /* CA certificates, PEM; default NULL */
  const char *ca_dir;          /* a hashed CA directory (c_rehash); default NULL */
  const char *client_cert;     /* client certificate, PEM; default NULL */
  const char *client_key;      /* its private key, PEM; default NULL */
  int insecure;                /* do not verify certificates; default 0 */
  enum cr_http_version http_version; /* default CR_HTTP_AUTO */
  /* What requests carry.  Secrets (passwords, credential headers, cookie
   * files' contents) never reach the manifest, the crawl state or the
   * progress line. */
  const char *const *headers;  /* extra request headers, "Name: value", a
                                  NULL-terminated list; Authorization, Cookie
                                  and Proxy-Authorization go only where
                                  credentials go (below); default NULL */
  const char *user;            /* HTTP authentication, Basic or Digest as the
                                  server asks, sent only to the origins
                                  (scheme, host, port) of the seeds, never
                                  to another host a redirect or link leads
                                  to; default NULL */
  const char *password;        /* default NULL */
  int netrc;                   /* credentials from a netrc file, for the
                                  seeds' origins; default 0 */
  const char *netrc_file;      /* that file; default NULL: ~/.netrc */
  int cookies;                 /* keep the cookies sites set, for the whole
                                  crawl (on with either file below);
                                  default 0 */
  const char *load_cookies;    /* Netscape cookie file read at start;
                                  default NULL */
  const char *save_cookies;    /* cookie file written when the run ends;
                                  default NULL */
  /* Proxies, URLs as libcurl takes them ("http://host:port").  A proxied
   * URL's host name is resolved by the proxy, never by us. */
  const char *http_proxy;      /* for http:// URLs; default NULL: none */
  const char *https_proxy;     /* for https:// URLs; default NULL: none */
  const char *no_proxy;        /* hosts reached directly: "*", or names and
                                  domains, comma-separated; default NULL */
  int ip_family;               /* 4: IPv4 only, 6: IPv6 only; default 0:
                                  both */
  int64_t limit_rate;          /* bytes/s per transfer, 0 = none; default 0 */
  double max_time;             /* for the whole crawl, seconds, 0 = none;
                                  default 0 */
  int timestamping;            /* re-crawl: ask with the validators the
                                  manifest recorded (ETag, Last-Modified)
                                  and keep files the server says are
                                  unchanged (304); default 0 */
  /* Recursion (all off unless recursive or page_requisites is set). */
  int recursive;               /* follow links found in HTML and CSS; default 0 */
  int max_depth;               /* links followed from a seed, -1 = no limit;
                                  default 5 */
  int span_hosts;              /* follow links to other hosts; default 0 */
  const char *domains;         /* "a.org,b.net": hosts allowed (and their
                                  subdomains); default NULL */
  const char *accept_regex;    /* follow only links matching it; default NULL */
  const char *reject_regex;    /* never follow links matching it; default NULL */
  int no_parent;               /* stay below each seed's directory; default 0 */
  /* What is saved (see crawler/filter.h for the matching rules).  A page
   * that fails a list is fetched (seeds always are) but not saved: its
   * manifest line has "skipped" with the reason, and in a recursive crawl
   * an HTML or CSS body is still read for links.  A link whose file name
   * fails -A/-R is not followed at all unless its name looks like a page
   * that may hold links (cr_filter_may_hold_links) and those links are
   * within max_depth. */
  const char *accept;          /* wget's -A: file-name suffixes and globs,
                                  comma-separated; default NULL */
  const char *reject;          /* wget's -R; default NULL */
  int ignore_case;             /* -A/-R ignore case; default 0 */
  const char *accept_type;     /* Content-Types saved: "text/html,image/png";
                                  default NULL */
  const char *reject_type;     /* Content-Types never saved; default NULL */
  uint64_t max_pages;          /* URLs accepted in all, 0 = no limit; default 0 */
  uint64_t host_page_cap;      /* URLs accepted per host (trap guard), 0 = no
                                  limit; default 100000 */
  size_t max_url_len;          /* longest link followed (trap guard); default 2048 */
  unsigned max_path_segments;  /* deepest path followed (trap guard); default 32 */
  unsigned max_segment_repeat; /* a path segment repeated more often is a trap;
                                  default 3 */
  int page_requisites;         /* fetch what saved pages need to render
                                  (images, style sheets and their imports,
                                  scripts, fonts, frames), past max_depth
                                  and on any host; with or without
                                  recursive; default 0 */
  int convert_links;           /* -k: once the crawl is complete, links in
                                  the saved HTML and CSS point at the saved
                                  files (relative paths) or, for pages not
                                  saved, at absolute URLs; needs the
                                  manifest in a file; default 0 */
  int adjust_extension;        /* -E: HTML saved without .html/.htm gets
                                  ".html" appended, CSS without .css
                                  ".css"; default 0 */
  /* Archiving (crawler/warc.h): every response fetched, redirects and
   * errors included, as WARC 1.1 records. */
  const char *warc;            /* path prefix of the WARC files; default
                                  NULL: none */
  uint64_t warc_max_size;      /* bytes per WARC file; default 1 GiB */
  int warc_level;              /* gzip level of the records; default 1 */
  int warc_dedup;              /* a payload already archived becomes a
                                  revisit record; default 1 */
  int no_mirror;               /* with warc: no files under output_dir, only
                                  the manifest and crawl state; default 0 */
  int sitemaps;                 /* recursive: also start from the URLs the
                                  seeds' hosts list in sitemaps (robots.txt
                                  Sitemap: lines, else /sitemap.xml);
                                  default 1 */
  int robots;                  /* obey robots.txt when recursive or
                                  page_requisites; default 1 */
  uint64_t delay_ms;           /* per host, between request starts; default 0 */
  int jitter;                  /* vary the delay 0.5x..1.5x; default 0 */
  double max_crawl_delay;      /* cap on robots.txt Crawl-delay, s; default 30 */
  enum cr_progress progress;   /* default CR_PROGRESS_SUMMARY */
  int handle_signals;          /* stop cleanly on SIGINT/SIGTERM; default 1 */
  enum cr_state_mode state;    /* default CR_STATE_ASK */
  const char *identity;        /* the front end's description of its URL
                                  sources ("url=...\n", "input=...\n"),
                                  saved with the state and compared, with
                                  the settings that decide what is crawled,
                                  on resume; default NULL */
  /* Many workers, one crawl (dist.h).  redis_url NULL: a crawl of its own. */
  const char *redis_url;       /* redis://...; default NULL */
  const char *crawl_name;      /* the shared crawl's name */
  int redis_describe;          /* 1: store the settings and offer the URLs
                                  given, fetch nothing; 0: a worker */
  const char *redis_argv;      /* describing: the options to store, each
                                  NUL-terminated */
  size_t redis_argv_len;
  unsigned redis_lease_ms;     /* default 0: CR_DIST_LEASE_MS */
};

/* Fills every field of cfg with its default. */
void cr_config_defaults(struct cr_config *cfg);

/* The settings that decide what a crawl takes, as text, one "name=value"
 * line each: what --resume and the workers of a shared crawl compare.
 * shared: without the local parts (manifest, URL sources, WARC prefix).
 * Returns a malloc'd string, or NULL. */
char *cr_config_identity(const struct cr_config *cfg, int shared);

/* Counters, readable at any time and after the run. */
struct cr_stats {
  uint64_t queued;       /* URLs accepted into the frontier */
  uint64_t done;         /* URLs with a final manifest line */
  uint64_t ok;           /* of those, saved with a 2xx status */
  uint64_t failed;       /* of those, not saved for an error */
  uint64_t skipped;      /* of those, fetched but not saved: a filter
                            (accept, reject, accept_type, reject_type)
                            turned them down; not failures */
  uint64_t in_flight;    /* transfers running now */
  uint64_t resolving;    /* DNS lookups running now */
  uint64_t bytes;        /* decoded body bytes saved */
  uint64_t dns_queries;  /* lookups sent to c-ares, retries included */
  double elapsed;        /* seconds since cr_engine_run started */
  double loop_stall_max; /* longest time between two returns from epoll_wait
                            while transfers were in flight, seconds */
  double loop_pass_max;  /* longest time outside epoll_wait in one pass while
                            transfers were in flight (the loop's own work,
                            what a blocking call inflates), seconds */
  uint64_t links_pass_max; /* most links taken from bodies in one pass */
  /* A re-crawl (timestamping), this run's pages against the manifest's. */
  int recrawl;
  uint64_t unchanged;    /* kept: the server said 304 */
  uint64_t changed;      /* saved before, saved again */
  uint64_t fresh;        /* not saved before */
  uint64_t gone;         /* saved before, not saved nor kept this time */
  /* Archiving. */
  uint64_t warc_bytes;   /* written to WARC files in this run */
  uint64_t warc_revisits; /* revisit records written for repeated payloads */
};

struct cr_engine;

/* Creates an engine: the output directory, manifest, loop, curl multi handle
 * and c-ares channel, and the crawl state in DIR/.crawler.  With
 * CR_STATE_RESUME and saved state, the state is replayed: finished URLs
 * keep their manifest lines and are never fetched again, the seen set and
 * the queue come back.  On failure returns a CR_E* code (CR_ESTATE: saved
 * state and CR_STATE_ASK, or state of a crawl with other settings), *out
 * stays NULL and a message has been printed to stderr. */
int cr_engine_new(const struct cr_config *cfg, struct cr_engine **out);

/* Offers one URL from the front end.  The URL is normalized; a URL that is
 * not http(s) or cannot be parsed is recorded in the manifest with the reason
 * and CR_EURL/CR_ESCHEME/CR_ETOOLONG is returned, with *reason (if reason is
 * not NULL) set to the static text recorded; a duplicate returns CR_EDUP and
 * is not recorded; once max_pages URLs were taken, CR_EFULL.  `origin` (may be NULL) names where the URL came from,
 * such as "urls.txt:12", and prefixes the recorded reason. */
int cr_engine_add(struct cr_engine *e, const char *url, size_t len, const char *origin,
                  const char **reason);

/* A source of URLs the engine pulls from while it runs: called when fewer
 * than about `want` URLs are queued, it adds some with cr_engine_add (or
 * cr_engine_reject) and returns nonzero while more may come, 0 once it is
 * exhausted.  So a list of any length costs memory only for the URLs queued
 * and in flight, plus 8 bytes each in the seen set. */
typedef int (*cr_feed_cb)(void *arg, struct cr_engine *e, unsigned want);

/* Sets the feed (NULL to clear).  Call before cr_engine_run. */
void cr_engine_set_feed(struct cr_engine *e, cr_feed_cb cb, void *arg);

/* A shared crawl's worker (cr_config.redis_url): tells the scope about a
 * seed of the crawl, which another process offered.  Returns 0, CR_EURL,
 * CR_ENOMEM. */
int cr_engine_seed_scope(struct cr_engine *e, const char *url);

/* The exit status a shared crawl's failure asks for (2: settings differ
 * from the stored ones, 3: Redis unreachable at the start), or 0. */
int cr_engine_shared_status(const struct cr_engine *e);

/* Describing a shared crawl: URLs offered, and of those new to it. */
void cr_engine_shared_counts(const struct cr_engine *e, uint64_t *offered, uint64_t *added);

/* Records a bad input line in the manifest without fetching anything. */
void cr_engine_reject(struct cr_engine *e, const char *raw, size_t len, const char *reason);

/* Runs the loop until every URL is done or cr_engine_stop() / a signal /
 * max_time ends it.  Returns 0, CR_ESTOPPED when interrupted, CR_ETIMEUP
 * when max_time elapsed (transfers in flight then get a manifest line
 * saying so, but no record in the crawl state, so a resume fetches them
 * and its lines replace those), or a fatal CR_E* code (the
 * output cannot be written; CR_ENOSPC: the disk is full).  A complete crawl
 * removes its saved state; an interrupted or failed one leaves it synced
 * for a resume. */
int cr_engine_run(struct cr_engine *e);

/* Asks a running engine to stop: transfers in flight are dropped, their
 * temporary files removed, and cr_engine_run returns CR_ESTOPPED. */
void cr_engine_stop(struct cr_engine *e);

/* Copies the counters. */
void cr_engine_stats(const struct cr_engine *e, struct cr_stats *out);

/* Frees the engine and clears *e; accepts NULL. */
void cr_engine_free(struct cr_engine **e);

#ifdef __cplusplus
}
#endif
#endif
