/*
 * fetch.h - the libcurl multi handle in socket mode, driven by the loop.
 *
 * Owns the multi handle, a pool of easy handles with the options every
 * transfer shares, and the glue that lets curl watch its sockets
 * (CURLMOPT_SOCKETFUNCTION -> cr_loop_watch) and keep one timer
 * (CURLMOPT_TIMERFUNCTION -> a cr_timer).  Finished transfers are read with
 * curl_multi_info_read, removed from the multi handle and handed to the
 * done callback; what a transfer means is the engine's business.
 *
 * libcurl never resolves a name itself: every transfer carries its
 * addresses in a CURLOPT_RESOLVE list (set by the caller), redirects are not
 * followed (CURLOPT_FOLLOWLOCATION off), and only http and https are allowed.
 */
#ifndef CR_FETCH_H
#define CR_FETCH_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

struct cr_loop;
struct cr_config;
struct cr_fetch;

/* A pooled easy handle with its error buffer.  CURLOPT_PRIVATE points to
 * this struct; owner is the caller's, for its per-transfer state. */
struct cr_easy {
  CURL *h;
  struct cr_fetch *fetch;
  void *owner;
  char errbuf[CURL_ERROR_SIZE];
  struct cr_easy *next_free;
  /* What the header callback saw of the current response; reset by each
   * status line (but header_bytes) and by cr_fetch_easy_take. */
  size_t header_bytes;       /* header bytes of this transfer, 1xx and
                                trailers included; reset only by take */
  int64_t content_length;    /* first Content-Length value, -1 if none */
  int headers_done;          /* the blank line ending the block arrived */
  const char *reason;        /* static: why the header callback aborted */
};

/* Called for each finished transfer, after it left the multi handle. */
typedef void (*cr_fetch_done_cb)(void *arg, struct cr_easy *easy, CURLcode result);

/* Body chunks; returns n to go on, anything else aborts the transfer
 * (CURLE_WRITE_ERROR).  userdata is what CURLOPT_WRITEDATA was set to. */
typedef size_t (*cr_fetch_write_cb)(char *p, size_t size, size_t n, void *userdata);

/* Called when a transfer's connection is ready (TCP connected, TLS
 * handshake done, or a connection reused), just before its request goes
 * out; h2 is 1 when TLS negotiated HTTP/2 for it, fresh is 1 when this is
 * the connection's first transfer.  A fresh connection may be tagged by
 * returning non-NULL: the closed callback gets the tag back when the
 * connection's socket closes.  Set with cr_fetch_set_conn_cbs; arg as
 * given to cr_fetch_new. */
typedef void *(*cr_fetch_ready_cb)(void *arg, struct cr_easy *easy, int h2, int fresh);
typedef void (*cr_fetch_closed_cb)(void *arg, void *tag);
/* Either may be NULL; a NULL closed callback drops tags unreported (for
 * teardown, once what the tags point to is gone). */
void cr_fetch_set_conn_cbs(struct cr_fetch *f, cr_fetch_ready_cb ready,
                           cr_fetch_closed_cb closed);

/* Archiving (cfg->warc): libcurl decodes nothing (the caller gets the
 * body as it came off the wire, chunked framing and content coding kept,
 * and only gzip and deflate are asked for), and the capture callback gets
 * each request header block as sent (request 1) and each response header
 * line as received (request 0).  Set before the first transfer. */
typedef void (*cr_fetch_capture_cb)(void *arg, struct cr_easy *easy, int request,
                                    const char *p, size_t n);
void cr_fetch_set_capture(struct cr_fetch *f, cr_fetch_capture_cb cb);

/* Most header bytes of one transfer, 1xx responses and trailers counted.
 * libcurl 7.88 stores every header for its header API and, unpatched, has
 * no total cap (CVE-2023-38039), so endless headers would grow without
 * end; its per-line cap is 100 KB.  A little under the 300 KB that later
 * libcurl allows, so the reason is ours whichever libcurl runs. */
#define CR_HEADERS_MAX (256u * 1024u)

#define CR_BUFFER_MIN 2048u           /* bytes; libcurl's floor is 1024 */
#define CR_BUFFER_MAX 16384u          /* libcurl's default */
#define CR_BUFFER_BUDGET (32u << 20)  /* bytes for all receive buffers */

/* The receive buffer size for each transfer: cfg->buffer_size, or when that
 * is 0, the largest power of two from CR_BUFFER_MIN to CR_BUFFER_MAX that
 * keeps concurrency x size within CR_BUFFER_BUDGET. */
unsigned cr_fetch_buffer_size(const struct cr_config *cfg);

/* Creates the multi handle.  Returns 0, CR_ECURL (message printed) or
 * CR_ENOMEM. */
int cr_fetch_new(struct cr_loop *loop, const struct cr_config *cfg,
                 cr_fetch_write_cb write_cb, cr_fetch_done_cb done_cb, void *arg,
                 struct cr_fetch **out);

/* Removes every transfer still running (no done callback), frees the pool
 * and the multi handle, and clears *f; accepts NULL. */
void cr_fetch_free(struct cr_fetch **f);

/* Takes an easy handle from the pool (or makes one) with the shared options
 * set.  Returns NULL when out of memory. */
struct cr_easy *cr_fetch_easy_take(struct cr_fetch *f);

/* Returns an easy handle to the pool. */
void cr_fetch_easy_give(struct cr_fetch *f, struct cr_easy *e);

/* Starts a transfer whose per-transfer options (URL, CURLOPT_RESOLVE,
 * CURLOPT_WRITEDATA) and owner the caller set.  Returns 0 or
 * CR_ECURL. */
int cr_fetch_start(struct cr_fetch *f, struct cr_easy *e);

/* A specific reason for a failed transfer that curl's own message would
 * hide or misname, or NULL: headers over CR_HEADERS_MAX, a header line over
 * libcurl's line cap (which 7.88 reports as "Out of memory"), conflicting
 * Content-Length headers.  Such failures are the server's doing and not
 * worth retrying.  The string is static. */
const char *cr_fetch_reason(const struct cr_easy *e, CURLcode result);

/* Writes to out a reason for a TLS failure that says what went wrong in
 * words a user can act on ("TLS: certificate expired", "TLS: certificate
 * is not for HOST", "TLS: handshake timed out"...) and returns 1, or
 * returns 0 when result is no TLS failure.  handshaking: the transfer was
 * over TLS, connected, and sent nothing (so a timeout hit the handshake). */
int cr_fetch_tls_reason(const struct cr_easy *e, CURLcode result, int handshaking,
                        char *out, size_t n);

/* The request headers for a transfer: the --header lines, the ones
 * carrying credentials only if creds, plus "Connection: close" if close.
 * Owned by f, valid until cr_fetch_free. */
struct curl_slist *cr_fetch_headers(const struct cr_fetch *f, int close, int creds);

/* Credentials of a transfer (set before each start: a pooled handle keeps
 * what it had). */
enum cr_auth {
  CR_AUTH_NONE,   /* none: not an origin of the seeds */
  CR_AUTH_ASK,    /* --user/--password/--netrc, sent when the server asks
                     (401), Digest or Basic */
  CR_AUTH_BASIC,  /* the same, Basic with the first request */
};
void cr_fetch_set_auth(struct cr_fetch *f, struct cr_easy *e, enum cr_auth how);

/* Writes the shared cookie jar to cfg->save_cookies, if set and cookies
 * are on.  Synchronous: call after the loop. */
void cr_fetch_save_cookies(struct cr_fetch *f);

/* Stops a running transfer without calling the done callback. */
void cr_fetch_cancel(struct cr_fetch *f, struct cr_easy *e);

#endif
