/*
 * fetch.c - curl multi_socket on our loop; see fetch.h.
 */
#include "fetch.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cr_version.h"
#include "crawler.h"
#include "loop.h"

/* A finished transfer, copied out of curl's message queue. */
struct done_msg {
  CURL *h;
  CURLcode result;
};

struct cr_fetch {
  struct cr_loop *loop;
  CURLM *multi;
  CURLSH *share;             /* TLS sessions, shared by every handle */
  X509_STORE *store;         /* trusted CAs, built once; NULL: libcurl's */
  struct cr_timer timer;
  const struct cr_config *cfg;
  cr_fetch_write_cb write_cb;
  cr_fetch_done_cb done_cb;
  cr_fetch_ready_cb ready_cb;
  cr_fetch_closed_cb closed_cb;
  cr_fetch_capture_cb capture_cb;
  void *arg;
  /* Per descriptor of a connection libcurl opened through us: whether a
   * transfer has used it yet, and the ready callback's tag. */
  struct fetch_sock {
    void *tag;
    int used;
  } *socks;
  size_t nsocks;
  struct cr_easy *pool;
  char user_agent[256];
  /* Request headers: --header lines, with "Connection: close" [1] or not
   * [0], with the credential-bearing ones (only for the seeds' origins)
   * [1] or not [0]; lent to libcurl, which does not copy them. */
  struct curl_slist *headers[2][2];
  int cookies;               /* the cookie engine is on (shared jar) */
  unsigned buffer_size;      /* libcurl's receive buffer per transfer */
  struct done_msg *done;     /* scratch for fetch_read_info */
  size_t done_cap;
};

static void fetch_read_info(struct cr_fetch *f)
{
  size_t n = 0;
  size_t i;

  /* Drain the queue before removing any handle: curl_multi_remove_handle
   * searches the queue for the handle's message, so removing while many
   * messages wait costs O(k^2) for a burst of k completions. */
  for(;;) {
    int left;
    CURLMsg *msg = curl_multi_info_read(f->multi, &left);

    if(!msg)
      break;
    if(msg->msg != CURLMSG_DONE)
      continue;
    if(n == f->done_cap) {
      size_t ncap = f->done_cap ? f->done_cap * 2 : 64;
      struct done_msg *nd = realloc(f->done, ncap * sizeof(*nd));

      /* Out of memory here would strand finished transfers forever. */
      if(!nd)
        abort();
      f->done = nd;
      f->done_cap = ncap;
    }
    f->done[n].h = msg->easy_handle;
    f->done[n].result = msg->data.result;
    n++;
  }
  for(i = 0; i < n; i++) {
    struct cr_easy *e = NULL;
    CURLMcode mc;

    curl_easy_getinfo(f->done[i].h, CURLINFO_PRIVATE, (char **)&e);
    mc = curl_multi_remove_handle(f->multi, f->done[i].h);
    if(mc != CURLM_OK)
      fprintf(stderr, "crawler: curl_multi_remove_handle: %s\n", curl_multi_strerror(mc));
    f->done_cb(f->arg, e, f->done[i].result);
  }
}

static void fetch_on_io(struct cr_loop *loop, int fd, unsigned events, void *arg)
{
  struct cr_fetch *f = arg;
  int mask = 0;
  int running;
  CURLMcode mc;

  if(events & CR_READ)
    mask |= CURL_CSELECT_IN;
  if(events & CR_WRITE)
    mask |= CURL_CSELECT_OUT;
  if(events & CR_ERROR)
    mask |= CURL_CSELECT_ERR;
  mc = curl_multi_socket_action(f->multi, fd, mask, &running);
  if(mc != CURLM_OK)
    fprintf(stderr, "crawler: curl_multi_socket_action: %s\n", curl_multi_strerror(mc));
  fetch_read_info(f);
}

static void fetch_on_timer(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_fetch *f = t->arg;
  int running;
  CURLMcode mc;

  mc = curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  if(mc != CURLM_OK)
    fprintf(stderr, "crawler: curl_multi_socket_action: %s\n", curl_multi_strerror(mc));
  fetch_read_info(f);
}

/* CURLMOPT_TIMERFUNCTION: one replaceable timer.  Never calls back into
 * curl: 0 ms means "on the next pass". */
static int fetch_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  struct cr_fetch *f = userp;

  if(timeout_ms < 0)
    cr_timer_stop(f->loop, &f->timer);
  else
    cr_timer_start(f->loop, &f->timer, (uint64_t)timeout_ms);
  return 0;
}

/* CURLMOPT_SOCKETFUNCTION: the socket's watcher id + 1 rides in curl's
 * per-socket pointer (curl_multi_assign), so 0 means "not watched yet". */
static int fetch_socket_cb(CURL *h, curl_socket_t s, int what, void *userp, void *socketp)
{
  struct cr_fetch *f = userp;
  intptr_t slot = (intptr_t)socketp;
  unsigned ev = 0;

  if(what == CURL_POLL_REMOVE) {
    if(slot) {
      cr_loop_unwatch(f->loop, (int)(slot - 1));
      curl_multi_assign(f->multi, s, NULL);
    }
    return 0;
  }
  if(what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    ev |= CR_READ;
  if(what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    ev |= CR_WRITE;
  if(!slot) {
    int id = cr_loop_watch(f->loop, s, ev, fetch_on_io, f);

    if(id < 0) {
      fprintf(stderr, "crawler: cannot watch socket %d: %s\n", (int)s, cr_strerror(id));
      return -1;
    }
    curl_multi_assign(f->multi, s, (void *)(intptr_t)(id + 1));
  }
  else if(cr_loop_modify(f->loop, (int)(slot - 1), ev)) {
    fprintf(stderr, "crawler: cannot change socket %d\n", (int)s);
    return -1;
  }
  return 0;
}

/* Parses a Content-Length value: digits between optional blanks, up to the
 * line end.  Returns -1 for anything else, which curl judges itself. */
static int64_t parse_length(const char *p, size_t len)
{
  int64_t v = 0;
  size_t i = 0;
  int digits = 0;

  while(i < len && (p[i] == ' ' || p[i] == '\t'))
    i++;
  while(i < len && p[i] >= '0' && p[i] <= '9') {
    if(v > (INT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (p[i] - '0');
    digits++;
    i++;
  }
  while(i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
    i++;
  return digits && i == len ? v : -1;
}

/* CURLOPT_HEADERFUNCTION: called once per complete header line, status
 * line and closing blank line included, for every response of a transfer
 * (a 1xx interim response starts a new block with its status line) and for
 * chunked trailers after the body.  Caps the header bytes of a transfer,
 * interim responses and trailers counted in, and refuses a response whose framing two Content-Length
 * headers dispute: which one libcurl believes decides where the body ends
 * and the next response on a kept connection begins (RFC 9112 6.3 says to
 * discard such a response and close). */
static size_t fetch_on_header(char *p, size_t size, size_t n, void *userdata)
{
  struct cr_easy *e = userdata;
  size_t len = size * n;

  /* The byte count runs over the whole transfer: endless 1xx responses
   * would otherwise each start from zero. */
  if(len >= 5 && !memcmp(p, "HTTP/", 5)) {
    e->content_length = -1;
    e->headers_done = 0;
  }
  e->header_bytes += len;
  if(e->header_bytes > CR_HEADERS_MAX) {
    e->reason = "response headers too large";
    return 0;
  }
  if(e->fetch->capture_cb)
    e->fetch->capture_cb(e->fetch->arg, e, 0, p, len);
  if(e->headers_done)
    return len;
  if(len <= 2 && len && (p[0] == '\r' || p[0] == '\n')) {
    e->headers_done = 1;
    return len;
  }
  if(len > 15 && !strncasecmp(p, "content-length:", 15)) {
    int64_t v = parse_length(p + 15, len - 15);

    if(v >= 0) {
      if(e->content_length >= 0 && v != e->content_length) {
        e->reason = "conflicting Content-Length headers";
        return 0;
      }
      e->content_length = v;
    }
  }
  return len;
}

const char *cr_fetch_reason(const struct cr_easy *e, CURLcode result)
{
  if(result == CURLE_OK)
    return NULL;
  if(e->reason)
    return e->reason;
  /* libcurl 7.88 refuses a header line over 100 KB with its dynamic
   * buffer's error, CURLE_OUT_OF_MEMORY, before the line reaches us. */
  if(result == CURLE_OUT_OF_MEMORY && !e->headers_done)
    return "response header line too long";
  return NULL;
}

/* libcurl's TLS failures (OpenSSL's wording) made into reasons a user can
 * act on. */
int cr_fetch_tls_reason(const struct cr_easy *e, CURLcode result, int handshaking,
                        char *out, size_t n)
{
  static const struct {
    const char *needle;
    const char *reason;
  } verify[] = {
    {"certificate has expired", "TLS: certificate expired"},
    {"certificate is not yet valid", "TLS: certificate not yet valid"},
    {"self-signed certificate in certificate chain",
     "TLS: certificate chain ends in an untrusted CA (--ca-certificate adds one)"},
    {"self-signed certificate", "TLS: self-signed certificate"},
    {"self signed certificate", "TLS: self-signed certificate"},
    {"unable to get local issuer certificate",
     "TLS: certificate issuer not trusted (unknown CA, or the server left out an "
     "intermediate certificate)"},
    {"unable to verify the first certificate",
     "TLS: certificate issuer not trusted (the server left out an intermediate "
     "certificate?)"},
    {"certificate revoked", "TLS: certificate revoked"},
  };
  const char *msg = e->errbuf[0] ? e->errbuf : curl_easy_strerror(result);
  const char *p;
  size_t i;

  switch(result) {
  case CURLE_PEER_FAILED_VERIFICATION:
    for(i = 0; i < sizeof(verify) / sizeof(verify[0]); i++) {
      if(strstr(msg, verify[i].needle)) {
        snprintf(out, n, "%s", verify[i].reason);
        return 1;
      }
    }
    p = strstr(msg, "target host name '");
    if(p) {
      const char *q;

      p += sizeof("target host name '") - 1;
      q = strchr(p, '\'');
      snprintf(out, n, "TLS: certificate is not for %.*s", (int)(q ? q - p : 200), p);
      return 1;
    }
    p = strstr(msg, "SSL certificate problem: ");
    snprintf(out, n, "TLS: %s", p ? p + sizeof("SSL certificate problem: ") - 1 : msg);
    return 1;
  case CURLE_SSL_CONNECT_ERROR:
    if(strstr(msg, "excessive message size"))
      snprintf(out, n, "TLS: handshake failed: the server's certificate chain is too large");
    else if(strstr(msg, "wrong version number") || strstr(msg, "packet length too long") ||
       strstr(msg, "record layer failure"))
      snprintf(out, n, "TLS: handshake failed: the server does not speak TLS here");
    else if(strstr(msg, "SSL_ERROR_SYSCALL") || strstr(msg, "unexpected eof"))
      snprintf(out, n, "TLS: handshake failed: the server closed the connection");
    else if(strstr(msg, "alert"))
      snprintf(out, n, "TLS: handshake failed: the server refused it (%s)", msg);
    else
      snprintf(out, n, "TLS: handshake failed: %s", msg);
    return 1;
  case CURLE_SSL_CERTPROBLEM:
    snprintf(out, n, "TLS: client certificate or key unusable: %s", msg);
    return 1;
  case CURLE_SSL_CACERT_BADFILE:
    snprintf(out, n, "TLS: cannot read the CA certificates: %s", msg);
    return 1;
  case CURLE_OPERATION_TIMEDOUT:
    if(handshaking) {
      snprintf(out, n, "TLS: handshake timed out");
      return 1;
    }
    return 0;
  default:
    return 0;
  }
}

static void easy_reset_headers(struct cr_easy *e)
{
  e->header_bytes = 0;
  e->content_length = -1;
  e->headers_done = 0;
  e->reason = NULL;
}

#define MULTI_SET(opt, val)                                                  \
  do {                                                                       \
    CURLMcode mc_ = curl_multi_setopt(f->multi, opt, val);                   \
    if(mc_ != CURLM_OK) {                                                    \
      fprintf(stderr, "crawler: curl_multi_setopt(%s): %s\n", #opt,          \
              curl_multi_strerror(mc_));                                     \
      goto fail;                                                             \
    }                                                                        \
  } while(0)

unsigned cr_fetch_buffer_size(const struct cr_config *cfg)
{
  unsigned size = CR_BUFFER_MAX;

  if(cfg->buffer_size)
    return cfg->buffer_size;
  /* libcurl allocates the whole buffer for every transfer in flight, even
   * one that only waits for its response: at 10,000 in flight, 16 KiB each
   * is 160 MB.  Give all of them together about 32 MB, in powers of two
   * between 2 and 16 KiB; the fewer the transfers, the bigger each read. */
  while(size > CR_BUFFER_MIN && (uint64_t)size * cfg->concurrency > CR_BUFFER_BUDGET)
    size /= 2;
  return size;
}

/* libcurl 7.88 tells the HTTP version only once a response arrives; the
 * frontier wants it before the host's next transfers start, and ALPN has
 * settled it by the time the request can go out. */
static int fetch_alpn_h2(CURL *h)
{
  struct curl_tlssessioninfo *ti = NULL;
  const unsigned char *proto = NULL;
  unsigned len = 0;

  if(curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
     ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
    return 0;
  SSL_get0_alpn_selected(ti->internals, &proto, &len);
  return len == 2 && !memcmp(proto, "h2", 2);
}

static int fetch_on_prereq(void *arg, char *conn_primary_ip, char *conn_local_ip,
                           int conn_primary_port, int conn_local_port)
{
  struct cr_easy *e = arg;
  struct cr_fetch *f = e->fetch;
  curl_socket_t fd = CURL_SOCKET_BAD;
  struct fetch_sock *s = NULL;
  void *tag;

  (void)conn_primary_ip;
  (void)conn_local_ip;
  (void)conn_primary_port;
  (void)conn_local_port;
  if(!f->ready_cb)
    return CURL_PREREQFUNC_OK;
  curl_easy_getinfo(e->h, CURLINFO_ACTIVESOCKET, &fd);
  if(fd != CURL_SOCKET_BAD && (size_t)fd < f->nsocks)
    s = &f->socks[fd];
  tag = f->ready_cb(f->arg, e, fetch_alpn_h2(e->h), s && !s->used);
  if(s && !s->used) {
    s->used = 1;
    s->tag = tag;
  }
  return CURL_PREREQFUNC_OK;
}

void cr_fetch_set_capture(struct cr_fetch *f, cr_fetch_capture_cb cb)
{
  f->capture_cb = cb;
}

/* CURLOPT_DEBUGFUNCTION, on only when archiving: the one place libcurl
 * shows the request headers exactly as they went out. */
static int fetch_on_debug(CURL *h, curl_infotype type, char *p, size_t n, void *arg)
{
  struct cr_easy *e = arg;

  (void)h;
  if(type == CURLINFO_HEADER_OUT && e->fetch->capture_cb)
    e->fetch->capture_cb(e->fetch->arg, e, 1, p, n);
  return 0;
}

void cr_fetch_set_conn_cbs(struct cr_fetch *f, cr_fetch_ready_cb ready,
                           cr_fetch_closed_cb closed)
{
  f->ready_cb = ready;
  f->closed_cb = closed;
}

static void fetch_sock_forget(struct cr_fetch *f, curl_socket_t fd)
{
  struct fetch_sock *s;

  if(fd < 0 || (size_t)fd >= f->nsocks)
    return;
  s = &f->socks[fd];
  if(s->tag && f->closed_cb)
    f->closed_cb(f->arg, s->tag);
  s->tag = NULL;
  s->used = 0;
}

/* Sockets are opened and closed here only to know when a connection
 * begins and ends: libcurl 7.88 tells neither, and the engine counts a
 * host's HTTP/2 connections to spread its streams over them. */
static curl_socket_t fetch_on_opensocket(void *arg, curlsocktype purpose,
                                         struct curl_sockaddr *addr)
{
  struct cr_fetch *f = arg;
  curl_socket_t fd;

  (void)purpose;
  fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if(fd < 0)
    return CURL_SOCKET_BAD;
  /* A descriptor number seen before was closed behind our back. */
  fetch_sock_forget(f, fd);
  if((size_t)fd >= f->nsocks) {
    size_t n = f->nsocks ? f->nsocks : 64;
    struct fetch_sock *p;

    while(n <= (size_t)fd)
      n *= 2;
    p = realloc(f->socks, n * sizeof(*p));
    if(!p) {
      close(fd);
      return CURL_SOCKET_BAD;
    }
    memset(p + f->nsocks, 0, (n - f->nsocks) * sizeof(*p));
    f->socks = p;
    f->nsocks = n;
  }
  return fd;
}

static int fetch_on_closesocket(void *arg, curl_socket_t fd)
{
  fetch_sock_forget(arg, fd);
  return close(fd);
}

static CURLcode fetch_on_ssl_ctx(CURL *h, void *ssl_ctx, void *arg)
{
  (void)h;
  SSL_CTX_set1_cert_store(ssl_ctx, arg);
  return CURLE_OK;
}

/* The trust store, built once.  libcurl 7.88 builds one per connection
 * from its CA file (the system bundle: 145 certificates, 25 ms of CPU in
 * the loop): its cache for it is off while a CA directory is set, as
 * Debian's libcurl sets by default, and missed by connections set up
 * together even with none (2,000 URLs at -c 500: 12.5 s of CPU, a pass of
 * 6 s).  Same trust as libcurl's: the CA file (--ca-certificate, or
 * libcurl's built-in bundle), --ca-directory if given, libcurl's flags.
 * Returns 0, or -1 after a message when a file cannot be loaded. */
static int build_store(struct cr_fetch *f, const struct cr_config *cfg)
{
  const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  const char *file = cfg->ca_file;
  char *builtin = NULL;

  if(cfg->insecure || !cv->ssl_version || strncmp(cv->ssl_version, "OpenSSL/", 8))
    return 0;  /* nothing to verify, or another TLS library: libcurl's way */
  if(!file) {
    CURL *h = curl_easy_init();

    if(h && curl_easy_getinfo(h, CURLINFO_CAINFO, &builtin) == CURLE_OK && builtin)
      file = builtin = strdup(builtin);
    curl_easy_cleanup(h);
  }
  if(!file && !cfg->ca_dir) {
    free(builtin);
    return 0;
  }
  f->store = X509_STORE_new();
  if(!f->store) {
    free(builtin);
    return -1;
  }
  X509_STORE_set_flags(f->store, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
  if(file && !X509_STORE_load_file(f->store, file)) {
    fprintf(stderr, "crawler: cannot load CA certificates from %s\n", file);
    free(builtin);
    return -1;
  }
  if(cfg->ca_dir && !X509_STORE_load_path(f->store, cfg->ca_dir)) {
    fprintf(stderr, "crawler: cannot use CA directory %s\n", cfg->ca_dir);
    free(builtin);
    return -1;
  }
  free(builtin);
  return 0;
}

/* Headers that carry credentials: like --user, they go only to the
 * seeds' origins, never to a host a link or redirect leads to. */
static int secret_header(const char *h)
{
  static const char *const names[] = {"authorization:", "cookie:",
                                      "proxy-authorization:"};
  size_t i;

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if(!strncasecmp(h, names[i], strlen(names[i])))
      return 1;
  }
  return 0;
}

/* Builds the four header lists.  Returns 0 or -1 (out of memory). */
static int build_headers(struct cr_fetch *f, const struct cr_config *cfg)
{
  int close;
  int creds;

  for(close = 0; close < 2; close++) {
    for(creds = 0; creds < 2; creds++) {
      struct curl_slist **l = &f->headers[close][creds];
      const char *const *h;

      for(h = cfg->headers; h && *h; h++) {
        struct curl_slist *n;

        if(!creds && secret_header(*h))
          continue;
        n = curl_slist_append(*l, *h);
        if(!n)
          return -1;
        *l = n;
      }
      if(close) {
        /* Saying so lets the server close first, so TIME_WAIT stays on
         * its side (see the engine's keep_alive_policy). */
        struct curl_slist *n = curl_slist_append(*l, "Connection: close");

        if(!n)
          return -1;
        *l = n;
      }
    }
  }
  return 0;
}

struct curl_slist *cr_fetch_headers(const struct cr_fetch *f, int close, int creds)
{
  return f->headers[close ? 1 : 0][creds ? 1 : 0];
}

static void free_headers(struct cr_fetch *f)
{
  int i;
  int j;

  for(i = 0; i < 2; i++) {
    for(j = 0; j < 2; j++) {
      curl_slist_free_all(f->headers[i][j]);
      f->headers[i][j] = NULL;
    }
  }
}

/* Reads a Netscape cookie file into the shared jar, through a handle made
 * for it: the handles of the pool only switch the cookie engine on (an
 * empty CURLOPT_COOKIEFILE), or each would read the file again at its
 * first transfer and undo what sites set since.  This is synchronous file
 * I/O, done once before the loop runs, when nothing waits on it.
 * Returns 0 or -1 after a message. */
static int load_cookies(struct cr_fetch *f, const char *path)
{
  CURL *h = curl_easy_init();
  CURLcode cc = CURLE_OUT_OF_MEMORY;

  if(h) {
    cc = curl_easy_setopt(h, CURLOPT_SHARE, f->share);
    if(cc == CURLE_OK)
      cc = curl_easy_setopt(h, CURLOPT_COOKIEFILE, path);
    if(cc == CURLE_OK)
      cc = curl_easy_setopt(h, CURLOPT_COOKIELIST, "RELOAD");
    curl_easy_cleanup(h);
  }
  if(cc != CURLE_OK) {
    fprintf(stderr, "crawler: cannot load cookies from %s: %s\n", path,
            curl_easy_strerror(cc));
    return -1;
  }
  return 0;
}

void cr_fetch_save_cookies(struct cr_fetch *f)
{
  CURL *h;

  if(!f->cookies || !f->cfg->save_cookies)
    return;
  /* Like the load, synchronous: the loop is over.  libcurl writes a
   * temporary file and renames it into place, and says nothing when that
   * fails; main checked at start that the directory takes files. */
  h = curl_easy_init();
  if(!h ||
     curl_easy_setopt(h, CURLOPT_SHARE, f->share) != CURLE_OK ||
     curl_easy_setopt(h, CURLOPT_COOKIEJAR, f->cfg->save_cookies) != CURLE_OK ||
     curl_easy_setopt(h, CURLOPT_COOKIELIST, "FLUSH") != CURLE_OK)
    fprintf(stderr, "crawler: cannot save cookies to %s\n", f->cfg->save_cookies);
  /* Written once: the cleanup would write the jar again. */
  if(h)
    curl_easy_setopt(h, CURLOPT_COOKIEJAR, NULL);
  curl_easy_cleanup(h);
}

void cr_fetch_set_auth(struct cr_fetch *f, struct cr_easy *e, enum cr_auth how)
{
  const struct cr_config *cfg = f->cfg;
  CURL *h = e->h;

  if(how == CR_AUTH_NONE) {
    curl_easy_setopt(h, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
    curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    return;
  }
  curl_easy_setopt(h, CURLOPT_USERNAME, cfg->user);
  curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password);
  if(cfg->netrc) {
    /* libcurl reads the file when it sets up a connection: a small file
     * from the page cache, and only for the seeds' origins. */
    curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
    curl_easy_setopt(h, CURLOPT_NETRC_FILE, cfg->netrc_file);
  }
  /* Two methods: libcurl asks without credentials first and answers the
   * server's 401 challenge with Digest if offered, else Basic, as wget
   * does; a password never crosses the network in the clear unasked.
   * Once an origin is known to want Basic, the engine says so and the
   * credentials go with the first request, with no extra round trip. */
  curl_easy_setopt(h, CURLOPT_HTTPAUTH, how == CR_AUTH_BASIC
                                        ? (long)CURLAUTH_BASIC
                                        : (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST));
}

int cr_fetch_new(struct cr_loop *loop, const struct cr_config *cfg,
                 cr_fetch_write_cb write_cb, cr_fetch_done_cb done_cb, void *arg,
                 struct cr_fetch **out)
{
  struct cr_fetch *f;
  CURLcode cc;

  *out = NULL;
  cc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if(cc != CURLE_OK) {
    fprintf(stderr, "crawler: curl_global_init: %s\n", curl_easy_strerror(cc));
    return CR_ECURL;
  }
  f = calloc(1, sizeof(*f));
  if(!f) {
    curl_global_cleanup();
    return CR_ENOMEM;
  }
  f->loop = loop;
  f->cfg = cfg;
  f->write_cb = write_cb;
  f->done_cb = done_cb;
  f->arg = arg;
  f->timer.cb = fetch_on_timer;
  f->timer.arg = f;
  f->multi = curl_multi_init();
  if(!f->multi) {
    fprintf(stderr, "crawler: curl_multi_init failed\n");
    goto fail;
  }
  MULTI_SET(CURLMOPT_SOCKETFUNCTION, fetch_socket_cb);
  MULTI_SET(CURLMOPT_SOCKETDATA, f);
  MULTI_SET(CURLMOPT_TIMERFUNCTION, fetch_timer_cb);
  MULTI_SET(CURLMOPT_TIMERDATA, f);
  /* Our frontier already caps transfers; curl's caps only have to be at
   * least as large, and its idle-connection cache must keep one connection
   * per slot or keep-alive is lost under load. */
  MULTI_SET(CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->concurrency);
  MULTI_SET(CURLMOPT_MAXCONNECTS, (long)cfg->concurrency);
  MULTI_SET(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  /* TLS sessions live in each easy handle unless shared: without this a
   * handle taken from the pool resumes only sessions it made itself, and
   * most connections to a host pay a full handshake.  One thread, so no
   * lock callbacks. */
  f->share = curl_share_init();
  if(!f->share ||
     curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
    fprintf(stderr, "crawler: cannot share TLS sessions between transfers\n");
    goto fail;
  }
  if(build_store(f, cfg))
    goto fail;
  if(build_headers(f, cfg)) {
    fprintf(stderr, "crawler: out of memory\n");
    goto fail;
  }
  if(cfg->cookies || cfg->load_cookies || cfg->save_cookies) {
    if(curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) != CURLSHE_OK) {
      fprintf(stderr, "crawler: cannot share cookies between transfers\n");
      goto fail;
    }
    f->cookies = 1;
    if(cfg->load_cookies && load_cookies(f, cfg->load_cookies))
      goto fail;
  }
  f->buffer_size = cr_fetch_buffer_size(cfg);
  if(cfg->user_agent)
    snprintf(f->user_agent, sizeof(f->user_agent), "%s", cfg->user_agent);
  else
    snprintf(f->user_agent, sizeof(f->user_agent), "crawler/%s", CR_VERSION);
  *out = f;
  return 0;

fail:
  free_headers(f);
  if(f->multi)
    curl_multi_cleanup(f->multi);
  if(f->share)
    curl_share_cleanup(f->share);
  X509_STORE_free(f->store);
  free(f);
  curl_global_cleanup();
  return CR_ECURL;
}

void cr_fetch_free(struct cr_fetch **pf)
{
  struct cr_fetch *f;

  if(!pf || !*pf)
    return;
  f = *pf;
  cr_timer_stop(f->loop, &f->timer);
  /* Transfers still running belong to the engine, which cancels them and
   * gives their handles back before freeing us. */
  while(f->pool) {
    struct cr_easy *e = f->pool;

    f->pool = e->next_free;
    curl_easy_cleanup(e->h);
    free(e);
  }
  curl_multi_cleanup(f->multi);
  curl_share_cleanup(f->share);
  free_headers(f);
  X509_STORE_free(f->store);
  free(f->done);
  free(f->socks);
  free(f);
  curl_global_cleanup();
  *pf = NULL;
}

#define EASY_SET(opt, val)                                                   \
  do {                                                                       \
    CURLcode cc_ = curl_easy_setopt(e->h, opt, val);                         \
    if(cc_ != CURLE_OK) {                                                    \
      fprintf(stderr, "crawler: curl_easy_setopt(%s): %s\n", #opt,           \
              curl_easy_strerror(cc_));                                      \
      goto fail;                                                             \
    }                                                                        \
  } while(0)

struct cr_easy *cr_fetch_easy_take(struct cr_fetch *f)
{
  const struct cr_config *cfg = f->cfg;
  struct cr_easy *e = f->pool;

  if(e) {
    f->pool = e->next_free;
    e->next_free = NULL;
    e->errbuf[0] = '\0';
    e->owner = NULL;
    easy_reset_headers(e);
    return e;
  }
  e = calloc(1, sizeof(*e));
  if(!e)
    return NULL;
  e->h = curl_easy_init();
  e->fetch = f;
  if(!e->h) {
    free(e);
    return NULL;
  }
  easy_reset_headers(e);
  /* Options every transfer shares, set once per handle: curl keeps them
   * across transfers of a reused handle. */
  EASY_SET(CURLOPT_PRIVATE, e);
  EASY_SET(CURLOPT_NOSIGNAL, 1L);
  EASY_SET(CURLOPT_ERRORBUFFER, e->errbuf);
  EASY_SET(CURLOPT_PROTOCOLS_STR, "http,https");
  EASY_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* Redirects come back to the engine so their host goes through c-ares. */
  EASY_SET(CURLOPT_FOLLOWLOCATION, 0L);
  if(cfg->warc) {
    /* The archive keeps the body as sent; we decode (decode.h), and
     * only what we can decode is asked for. */
    EASY_SET(CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
    EASY_SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
    EASY_SET(CURLOPT_HTTP_TRANSFER_DECODING, 0L);
    EASY_SET(CURLOPT_DEBUGFUNCTION, fetch_on_debug);
    EASY_SET(CURLOPT_DEBUGDATA, e);
    EASY_SET(CURLOPT_VERBOSE, 1L);
  }
  else
    EASY_SET(CURLOPT_ACCEPT_ENCODING, "");
  EASY_SET(CURLOPT_HTTP_VERSION, cfg->http_version == CR_HTTP_1_1
                                    ? (long)CURL_HTTP_VERSION_1_1
                                    : (long)CURL_HTTP_VERSION_2TLS);
  /* A transfer to a host whose connection is still being set up waits to
   * learn whether it speaks HTTP/2 and multiplexes on it, rather than
   * opening a connection of its own: one connection per h2 host. */
  EASY_SET(CURLOPT_PIPEWAIT, 1L);
  EASY_SET(CURLOPT_PREREQFUNCTION, fetch_on_prereq);
  EASY_SET(CURLOPT_PREREQDATA, e);
  EASY_SET(CURLOPT_OPENSOCKETFUNCTION, fetch_on_opensocket);
  EASY_SET(CURLOPT_OPENSOCKETDATA, f);
  EASY_SET(CURLOPT_CLOSESOCKETFUNCTION, fetch_on_closesocket);
  EASY_SET(CURLOPT_CLOSESOCKETDATA, f);
  EASY_SET(CURLOPT_SHARE, f->share);
  /* After the share: the jar is the shared one.  An empty name reads no
   * file; it switches on the cookie engine. */
  if(f->cookies)
    EASY_SET(CURLOPT_COOKIEFILE, "");
  /* Addresses come from c-ares, already of the family asked for; this
   * keeps libcurl to it for IP literals too. */
  if(cfg->ip_family)
    EASY_SET(CURLOPT_IPRESOLVE, cfg->ip_family == 4 ? (long)CURL_IPRESOLVE_V4
                                                    : (long)CURL_IPRESOLVE_V6);
  if(f->store) {
    /* Nothing for libcurl to load: every connection gets our store. */
    EASY_SET(CURLOPT_CAINFO, NULL);
    EASY_SET(CURLOPT_CAPATH, NULL);
    EASY_SET(CURLOPT_SSL_CTX_FUNCTION, fetch_on_ssl_ctx);
    EASY_SET(CURLOPT_SSL_CTX_DATA, f->store);
  }
  else {
    if(cfg->ca_file)
      EASY_SET(CURLOPT_CAINFO, cfg->ca_file);
    if(cfg->ca_dir)
      EASY_SET(CURLOPT_CAPATH, cfg->ca_dir);
  }
  if(cfg->client_cert)
    EASY_SET(CURLOPT_SSLCERT, cfg->client_cert);
  if(cfg->client_key)
    EASY_SET(CURLOPT_SSLKEY, cfg->client_key);
  if(cfg->insecure) {
    EASY_SET(CURLOPT_SSL_VERIFYPEER, 0L);
    EASY_SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  EASY_SET(CURLOPT_USERAGENT, f->user_agent);
  EASY_SET(CURLOPT_WRITEFUNCTION, f->write_cb);
  EASY_SET(CURLOPT_HEADERFUNCTION, fetch_on_header);
  EASY_SET(CURLOPT_HEADERDATA, e);
  EASY_SET(CURLOPT_TIMEOUT_MS, (long)(cfg->timeout * 1000.0));
  EASY_SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg->connect_timeout * 1000.0));
  EASY_SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
  EASY_SET(CURLOPT_LOW_SPEED_TIME, cfg->low_speed_time);
  /* Our CURLOPT_RESOLVE entries are re-added by every transfer with what
   * c-ares (and its TTLs) says now, so curl's cache never has to expire
   * them.  -1 also skips curl's cache pruning, which walks every cached
   * host on every transfer (O(hosts) each: 20% of the CPU with 2,000
   * hosts), and it means an entry can never lapse, so curl never falls
   * back to resolving a name itself. */
  EASY_SET(CURLOPT_DNS_CACHE_TIMEOUT, -1L);
  EASY_SET(CURLOPT_TCP_NODELAY, 1L);
  /* A transfer gets one address (the engine fails over itself), so there
   * is no second family to race.  libcurl 7.88 still arms its 200 ms
   * happy-eyeballs timer, and every transfer whose timer has expired is
   * run inside whichever curl_multi_socket_action call comes next: a burst
   * of connections started together came due together, and one call made
   * 400 TLS connections at once (10,000 https URLs to one host: passes of
   * 0.5-0.9 s, 13-22 ms without the timer). */
  EASY_SET(CURLOPT_HAPPY_EYEBALLS_TIMEOUT_MS, (long)(cfg->connect_timeout * 1000.0));
  EASY_SET(CURLOPT_BUFFERSIZE, (long)f->buffer_size);
  return e;

fail:
  curl_easy_cleanup(e->h);
  free(e);
  return NULL;
}

void cr_fetch_easy_give(struct cr_fetch *f, struct cr_easy *e)
{
  /* The handle keeps pointers to the caller's resolve list and write data;
   * clear them so nothing dangles while it sits in the pool. */
  curl_easy_setopt(e->h, CURLOPT_RESOLVE, NULL);
  curl_easy_setopt(e->h, CURLOPT_WRITEDATA, NULL);
  e->next_free = f->pool;
  f->pool = e;
}

int cr_fetch_start(struct cr_fetch *f, struct cr_easy *e)
{
  CURLMcode mc = curl_multi_add_handle(f->multi, e->h);

  if(mc != CURLM_OK) {
    fprintf(stderr, "crawler: curl_multi_add_handle: %s\n", curl_multi_strerror(mc));
    return CR_ECURL;
  }
  return 0;
}

void cr_fetch_cancel(struct cr_fetch *f, struct cr_easy *e)
{
  curl_multi_remove_handle(f->multi, e->h);
}
