/*
 * warc.c - WARC 1.1 records, gzip members, files, index; see warc.h.
 */
#include "warc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <curl/curl.h>
#include <libdeflate.h>

#include "aio.h"
#include "buf.h"
#include "cr_version.h"
#include "crawler.h"
#include "hash.h"
#include "json.h"

/* Compressed body bytes a capture keeps before spilling to its spool. */
#define MEM_BUF (16 * 1024)
/* A body is kept as received up to this (in a buffer that grows with it)
 * and compressed whole with its record when the transfer ends; past it,
 * it is compressed as it arrives (a zlib stream of its own) and spilled.
 * Most pages fit: they take libdeflate, 1.5x (HTML) to 3x (the fixture's
 * text) faster than zlib at level 1, measured on this machine. */
#define RAW_MAX (64 * 1024)
#define COPY_CHUNK (64 * 1024)
#define DEFAULT_MAX (1ull << 30)
#define HEAD_MAX (512 * 1024)      /* request or response header block */
#define GZ_HEADER_LEN 10
#define TEXT_MAX (256u << 20)      /* cap of a buffer of record text */
#define ZPOOL_MAX 32
/* SHORT_WRITE: a write to a regular file that takes fewer bytes than
 * given has met the end of the space (or the quota): the kernel fills
 * what fits and says so with the count, not with ENOSPC.  Taken as a full
 * disk, which stops the crawl with the state saved. */
/* The shared zlib stream only compresses record headers (a few KiB):
 * small tables, cleared at every reset. */
#define SHARED_MEMLEVEL 6
#define SHARED_WBITS 13

static const unsigned char gz_magic[GZ_HEADER_LEN] = {
  0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3  /* deflate, no flags, no time, Unix */
};

/* A body's compressed bytes past MEM_BUF: an anonymous file. */
struct spool {
  struct cr_warc *w;
  int slot;
  int opened;
  uint64_t len;              /* bytes handed to writes */
  unsigned inflight;         /* the open and writes not completed */
  int err;
  struct held *held;         /* writes waiting for the open */
  struct held **held_tail;
  struct copy *waiter;       /* the copy into a WARC file, waiting */
  int orphan;                /* its capture and record are gone */
};

struct held {
  struct held *next;
  struct spool *sp;
  char *buf;
  size_t len;
  uint64_t off;
};

struct cr_warc_cap {
  struct cr_warc *w;
  struct cr_buf req;
  struct cr_buf resp;
  int resp_started;
  int resp_done;
  struct timespec t;
  EVP_MD_CTX *block;
  EVP_MD_CTX *payload;
  EVP_MD_CTX *raw;           /* chunked bodies: the body as received */
  int raw_payload;           /* the framing broke: raw is the payload */
  int head_hashed;
  uint64_t payload_len;
  z_stream *z;               /* NULL while the body fits rawbuf */
  int z_ready;
  uint32_t crc;              /* of the body bytes given to z */
  uint64_t raw_len;
  unsigned char *mem;        /* z's output not yet spilled */
  size_t mem_len;
  char *rawbuf;              /* the body while it fits RAW_MAX: no stream */
  size_t rawlen;
  size_t rawcap;
  struct spool *sp;
  int err;
};

/* A composed record: a gzip member in up to three parts. */
struct wrec {
  struct wrec *next;
  char *pre;
  size_t pre_len;
  struct spool *sp;          /* NULL: none */
  uint64_t sp_len;
  char *post;
  size_t post_len;
  uint64_t len;
  char *cdx;                 /* index line up to its "length"; NULL: none */
  /* A response whose payload may repeat one already archived: what a
   * revisit record in its place needs.  Decided at commit, when every
   * record before it in the file is known. */
  char digest[33];
  char *id;
  char *uri;
  char *date;
  char *req_id;
  char *ip;
  char *http;                /* the response header block */
  size_t http_len;
  int status;
};

struct cr_warc_recs {
  struct wrec *head;
  struct wrec **tail;
};

struct wfile;

struct batch {
  struct batch *next;
  struct batch *held_next;   /* waiting for its file's open */
  struct cr_warc *w;
  struct wfile *f;
  struct wrec *recs;
  uint64_t start;
  uint64_t end;
  uint64_t cdx_start;
  uint64_t cdx_end;
  struct cr_buf cdx;
  unsigned pending;
  int issued;
  int rc;
  cr_warc_cb cb;
  void *arg;
};

struct copy {
  struct batch *b;
  struct wrec *r;
  uint64_t src;
  uint64_t dst;
  uint64_t left;
  size_t writing;            /* bytes of the write in flight */
  char *buf;
};

struct wfile {
  struct cr_warc *w;
  unsigned serial;
  char *path;
  const char *base;          /* in path */
  int slot;
  int opened;
  int failed;
  uint64_t reserved;
  uint64_t info_end;         /* where its warcinfo ends */
  unsigned batches;          /* not yet settled */
  int retired;
  struct batch *held;
  struct batch **held_tail;
};

struct dedup {
  struct cr_hnode node;      /* key: the base32 digest */
  char digest[33];
  char *id;
  char *uri;
  char *date;
};

struct cr_warc {
  struct cr_aio *aio;
  char *prefix;
  char stamp[15];
  uint64_t max_size;
  int level;
  int dedup;
  char *info;
  z_stream zs;               /* see gzip_parts */
  int zs_ready;
  struct libdeflate_compressor *ld; /* whole members, see gzip_parts */
  struct cr_buf whole;       /* their input, gathered */
  /* Body compressors given back, reset for the next large body: each is
   * ~256 KiB that malloc would map and unmap again (page faults, TLB
   * flushes) for every page over MEM_BUF. */
  z_stream *zpool[ZPOOL_MAX];
  unsigned nzpool;
  int dirfd;                 /* the files' directory, for spools */
  int cdx_fd;
  char *cdx_path;
  uint64_t cdx_reserved;
  struct wfile *cur;
  struct batch *q_head;      /* commits in file order, not yet settled */
  struct batch **q_tail;
  struct cr_warc_pos pos;
  int err;
  struct cr_hmap seen;       /* struct dedup */
  uint64_t rng[2];
  uint64_t bytes;
  uint64_t revisits;
};

/* ---- small pieces ---- */

static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* "<urn:uuid:...>", a random (version 4) UUID. */
static void new_id(struct cr_warc *w, char out[64])
{
  uint64_t hi = splitmix(&w->rng[0]);
  uint64_t lo = splitmix(&w->rng[1]);

  hi = (hi & ~0xf000ull) | 0x4000ull;
  lo = (lo & ~(3ull << 62)) | (2ull << 62);
  snprintf(out, 64, "<urn:uuid:%08x-%04x-%04x-%04x-%012llx>", (unsigned)(hi >> 32),
           (unsigned)(hi >> 16) & 0xffff, (unsigned)hi & 0xffff, (unsigned)(lo >> 48),
           (unsigned long long)(lo & 0xffffffffffffull));
}

/* WARC 1.1 dates carry microseconds. */
static void format_date(const struct timespec *t, char out[64])
{
  struct tm tm;

  gmtime_r(&t->tv_sec, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t->tv_nsec / 1000);
}

/* sha1 in base32 (RFC 4648), as the archive tools write it. */
static void digest_out(EVP_MD_CTX *ctx, char out[33])
{
  static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  unsigned bits = 0;
  unsigned acc = 0;
  size_t i;
  size_t o = 0;

  EVP_DigestFinal_ex(ctx, md, &mdlen);
  for(i = 0; i < mdlen && i < 20; i++) {
    acc = (acc << 8) | md[i];
    bits += 8;
    while(bits >= 5) {
      out[o++] = alpha[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  out[o] = '\0';
}

static EVP_MD_CTX *sha1_new(void)
{
  EVP_MD_CTX *c = EVP_MD_CTX_new();

  if(c && !EVP_DigestInit_ex(c, EVP_sha1(), NULL)) {
    EVP_MD_CTX_free(c);
    return NULL;
  }
  return c;
}

static void put_le32(unsigned char *p, uint32_t v);

/* Gzip members of records whose bytes are all at hand (every request,
 * warcinfo and revisit, and responses whose body stayed under RAW_MAX:
 * most pages), finish set, are compressed whole by libdeflate.  The start
 * of a member whose body streams (finish 0: the record's header, ended by
 * a sync flush, byte-aligned and not final, for the body's independent
 * raw deflate stream to follow) goes through one zlib stream kept by the
 * writer and reset for each.  A compressor per record cost more than the
 * compression (~256 KiB each: malloc, page faults, and the TLB flushes of
 * giving it back).  Returns 0 or CR_ENOMEM. */
static int gzip_parts(struct cr_warc *w, const char *const *ps, const size_t *ns, int np,
                      int finish, char **out, size_t *out_len)
{
  z_stream *z = &w->zs;
  uLong total = 0;
  uLong cap;
  uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
  char *buf;
  int i;

  if(finish) {
    size_t bound;

    if(!w->ld) {
      w->ld = libdeflate_alloc_compressor(w->level);
      if(!w->ld)
        return CR_ENOMEM;
    }
    cr_buf_reset(&w->whole);
    for(i = 0; i < np; i++) {
      if(ns[i] && cr_buf_append(&w->whole, ps[i], ns[i]))
        return CR_ENOMEM;
    }
    bound = libdeflate_gzip_compress_bound(w->ld, w->whole.len);
    buf = malloc(bound);
    if(!buf)
      return CR_ENOMEM;
    *out_len = libdeflate_gzip_compress(w->ld, w->whole.data ? w->whole.data : "",
                                        w->whole.len, buf, bound);
    if(!*out_len) {
      free(buf);
      return CR_ENOMEM;
    }
    *out = buf;
    return 0;
  }
  if(!w->zs_ready) {
    if(deflateInit2(z, w->level, Z_DEFLATED, -SHARED_WBITS, SHARED_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
      return CR_ENOMEM;
    w->zs_ready = 1;
  }
  else if(deflateReset(z) != Z_OK)
    return CR_ENOMEM;
  for(i = 0; i < np; i++)
    total += (uLong)ns[i];
  cap = GZ_HEADER_LEN + deflateBound(z, total) + 64 + 8;
  buf = malloc(cap);
  if(!buf)
    return CR_ENOMEM;
  memcpy(buf, gz_magic, GZ_HEADER_LEN);
  z->next_out = (unsigned char *)buf + GZ_HEADER_LEN;
  z->avail_out = (uInt)(cap - GZ_HEADER_LEN - 8);
  for(i = 0; i < np; i++) {
    int last = i == np - 1;
    int zr;

    /* An empty part in the middle: deflate would say Z_BUF_ERROR. */
    if(!ns[i] && !last)
      continue;
    z->next_in = (unsigned char *)ps[i];
    z->avail_in = (uInt)ns[i];
    crc = (uint32_t)crc32(crc, (const unsigned char *)ps[i], (uInt)ns[i]);
    zr = deflate(z, last ? (finish ? Z_FINISH : Z_SYNC_FLUSH) : Z_NO_FLUSH);
    if(z->avail_in || ((last && finish) ? zr != Z_STREAM_END : zr != Z_OK) || !z->avail_out) {
      free(buf);
      return CR_ENOMEM;
    }
  }
  *out_len = cap - 8 - z->avail_out;
  if(finish) {
    put_le32((unsigned char *)buf + *out_len, crc);
    put_le32((unsigned char *)buf + *out_len + 4, (uint32_t)total);
    *out_len += 8;
  }
  *out = buf;
  return 0;
}

static int gzip_whole(struct cr_warc *w, const char *p, size_t n, char **out, size_t *out_len)
{
  return gzip_parts(w, &p, &n, 1, 1, out, out_len);
}

static void put_le32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

/* ---- SURT keys for the index ---- */

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The SURT form replay tools search by (as Python's surt does by
 * default): scheme and "www." dropped, host labels reversed and
 * comma-joined, a port only when not the scheme's, query arguments
 * sorted, all in lower case, no fragment. */
static int surt(struct cr_buf *b, const char *url)
{
  const char *p = strstr(url, "://");
  const char *host;
  const char *host_end;
  const char *port = NULL;
  const char *rest;
  const char *q;
  const char *end;
  int https = !strncasecmp(url, "https:", 6);
  int rc = 0;
  size_t i;

  if(!p)
    return cr_buf_puts(b, url);
  host = p + 3;
  rest = host + strcspn(host, "/?#");
  end = rest + strcspn(rest, "#");
  host_end = rest;
  if(*host == '[') {
    const char *rb = memchr(host, ']', (size_t)(rest - host));

    if(rb && rb + 1 < rest && rb[1] == ':')
      port = rb + 2;
    host_end = rb ? rb + 1 : rest;
  }
  else {
    const char *c = memchr(host, ':', (size_t)(rest - host));

    if(c) {
      host_end = c;
      port = c + 1;
    }
  }
  if(host_end - host > 4 && !strncasecmp(host, "www.", 4))
    host += 4;
  if(*host == '[')
    rc = cr_buf_append(b, host, (size_t)(host_end - host));
  else {
    /* Labels last to first. */
    const char *e = host_end;

    while(!rc && e > host) {
      const char *s = e;

      while(s > host && s[-1] != '.')
        s--;
      for(i = 0; !rc && i < (size_t)(e - s); i++)
        rc = cr_buf_putc(b, (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]));
      e = s > host ? s - 1 : host;
      if(!rc && e > host)
        rc = cr_buf_putc(b, ',');
    }
  }
  if(!rc && port) {
    size_t plen = (size_t)(rest - port);

    if(!((https && plen == 3 && !memcmp(port, "443", 3)) ||
         (!https && plen == 2 && !memcmp(port, "80", 2))))
      rc = cr_buf_printf(b, ":%.*s", (int)plen, port);
  }
  if(!rc)
    rc = cr_buf_putc(b, ')');
  q = memchr(rest, '?', (size_t)(end - rest));
  {
    const char *path_end = q ? q : end;

    if(path_end == rest && !rc)
      rc = cr_buf_putc(b, '/');
    for(p = rest; !rc && p < path_end; p++)
      rc = cr_buf_putc(b, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
  }
  if(!rc && q && q + 1 < end) {
    size_t qn = (size_t)(end - q - 1);
    char *copy = malloc(qn + 1);
    char **args = NULL;
    size_t nargs = 0;
    char *save = NULL;
    char *tok;

    if(!copy)
      return CR_ENOMEM;
    for(i = 0; i < qn; i++)
      copy[i] = (char)(q[1 + i] >= 'A' && q[1 + i] <= 'Z' ? q[1 + i] + 32 : q[1 + i]);
    copy[qn] = '\0';
    args = malloc((qn / 2 + 2) * sizeof(*args));
    if(!args) {
      free(copy);
      return CR_ENOMEM;
    }
    for(tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save))
      args[nargs++] = tok;
    qsort(args, nargs, sizeof(*args), cmp_str);
    rc = cr_buf_putc(b, '?');
    for(i = 0; !rc && i < nargs; i++)
      rc = cr_buf_printf(b, "%s%s", i ? "&" : "", args[i]);
    free(args);
    free(copy);
  }
  return rc;
}

/* ---- spools ---- */

static void on_spool_close(void *arg, int res)
{
  (void)res;
  free(arg);
}

static void spool_maybe_free(struct spool *sp)
{
  if(sp->orphan && !sp->inflight && !sp->waiter) {
    if(sp->opened) {
      sp->opened = 0;
      /* Closing frees the anonymous file. */
      if(cr_aio_close(sp->w->aio, sp->slot, 0, on_spool_close, sp) == 0)
        return;
    }
    free(sp);
  }
}

static void copy_step(struct copy *c);

static void spool_idle(struct spool *sp)
{
  if(!sp->inflight && sp->waiter) {
    struct copy *c = sp->waiter;

    sp->waiter = NULL;
    copy_step(c);
  }
}

static void on_spool_write(void *arg, int res)
{
  struct held *h = arg;
  struct spool *sp = h->sp;

  if(res < 0 && !sp->err)
    sp->err = cr_aio_errno(-res);
  else if(res >= 0 && (size_t)res != h->len && !sp->err)
    sp->err = CR_ENOSPC;  /* see SHORT_WRITE */
  free(h->buf);
  free(h);
  sp->inflight--;
  spool_idle(sp);
  spool_maybe_free(sp);
}

static void spool_issue(struct spool *sp, struct held *h)
{
  if(cr_aio_write(sp->w->aio, sp->slot, h->buf, h->len, h->off, 0, on_spool_write, h)) {
    if(!sp->err)
      sp->err = CR_ENOMEM;
    free(h->buf);
    free(h);
    sp->inflight--;
  }
}

static void on_spool_open(void *arg, int res)
{
  struct spool *sp = arg;

  sp->inflight--;
  if(res < 0) {
    if(!sp->err)
      sp->err = cr_aio_errno(-res);
    while(sp->held) {
      struct held *h = sp->held;

      sp->held = h->next;
      free(h->buf);
      free(h);
      sp->inflight--;
    }
  }
  else {
    sp->opened = 1;
    while(sp->held) {
      struct held *h = sp->held;

      sp->held = h->next;
      spool_issue(sp, h);
    }
  }
  sp->held_tail = &sp->held;
  spool_idle(sp);
  spool_maybe_free(sp);
}

/* Hands buf (len bytes, malloc'ed; taken) to the capture's spool. */
static int spool_put(struct cr_warc_cap *c, char *buf, size_t len)
{
  struct spool *sp = c->sp;
  struct held *h;

  if(!sp) {
    int rc;

    sp = calloc(1, sizeof(*sp));
    if(!sp) {
      free(buf);
      return CR_ENOMEM;
    }
    sp->w = c->w;
    sp->slot = -1;
    sp->held_tail = &sp->held;
    rc = cr_aio_openat(c->w->aio, c->w->dirfd, ".", O_TMPFILE | O_RDWR, 0600, 0,
                       &sp->slot, on_spool_open, sp);
    if(rc) {
      free(sp);
      free(buf);
      return rc;
    }
    sp->inflight = 1;
    c->sp = sp;
  }
  if(sp->err) {
    free(buf);
    return sp->err;
  }
  h = calloc(1, sizeof(*h));
  if(!h) {
    free(buf);
    return CR_ENOMEM;
  }
  h->sp = sp;
  h->buf = buf;
  h->len = len;
  h->off = sp->len;
  sp->len += len;
  sp->inflight++;
  if(sp->opened)
    spool_issue(sp, h);
  else {
    *sp->held_tail = h;
    sp->held_tail = &h->next;
  }
  return 0;
}

/* ---- capture ---- */

int cr_warc_cap_new(struct cr_warc *w, struct cr_warc_cap **out)
{
  struct cr_warc_cap *c = calloc(1, sizeof(*c));

  *out = NULL;
  if(!c)
    return CR_ENOMEM;
  c->w = w;
  cr_buf_init(&c->req, HEAD_MAX);
  cr_buf_init(&c->resp, HEAD_MAX);
  *out = c;
  return 0;
}

static void cap_reset_response(struct cr_warc_cap *c)
{
  cr_buf_reset(&c->resp);
  c->resp_started = 0;
  c->resp_done = 0;
}

void cr_warc_cap_free(struct cr_warc_cap **pc)
{
  struct cr_warc_cap *c;

  if(!pc || !*pc)
    return;
  c = *pc;
  cr_buf_cleanup(&c->req);
  cr_buf_cleanup(&c->resp);
  EVP_MD_CTX_free(c->block);
  EVP_MD_CTX_free(c->payload);
  EVP_MD_CTX_free(c->raw);
  if(c->z) {
    struct cr_warc *w = c->w;

    if(w->nzpool < ZPOOL_MAX && deflateReset(c->z) == Z_OK)
      w->zpool[w->nzpool++] = c->z;
    else {
      deflateEnd(c->z);
      free(c->z);
    }
  }
  free(c->mem);
  free(c->rawbuf);
  if(c->sp) {
    c->sp->orphan = 1;
    spool_maybe_free(c->sp);
  }
  free(c);
  *pc = NULL;
}

int cr_warc_cap_request(struct cr_warc_cap *c, const char *p, size_t n)
{
  if(c->resp_started || !c->req.len) {
    /* A new request: whatever came before was another exchange (a
     * proxy's CONNECT, a 401 answered with credentials). */
    cap_reset_response(c);
    cr_buf_reset(&c->req);
    clock_gettime(CLOCK_REALTIME, &c->t);
  }
  return cr_buf_append(&c->req, p, n);
}

int cr_warc_cap_header(struct cr_warc_cap *c, const char *p, size_t n)
{
  if(n >= 5 && !memcmp(p, "HTTP/", 5))
    cap_reset_response(c);
  else if(c->resp_done || !c->resp_started)
    return 0;  /* trailers are in the body bytes */
  c->resp_started = 1;
  if(n <= 2 && (p[0] == '\r' || p[0] == '\n'))
    c->resp_done = 1;
  return cr_buf_append(&c->resp, p, n);
}

int cr_warc_cap_has_response(const struct cr_warc_cap *c)
{
  return c->resp_done;
}

static int cap_start_body(struct cr_warc_cap *c)
{
  if(!c->block)
    c->block = sha1_new();
  if(!c->payload)
    c->payload = sha1_new();
  if(!c->block || !c->payload)
    return CR_ENOMEM;
  if(!c->head_hashed) {
    EVP_DigestUpdate(c->block, c->resp.data ? c->resp.data : "", c->resp.len);
    c->head_hashed = 1;
  }
  if(!c->raw_len)
    c->crc = (uint32_t)crc32(0L, Z_NULL, 0);
  return 0;
}

static int cap_deflate(struct cr_warc_cap *c, const unsigned char *p, size_t n, int flush);

/* A body past MEM_BUF gets a compressor of its own, fed as it arrives:
 * what it held so far first. */
static int cap_start_stream(struct cr_warc_cap *c)
{
  struct cr_warc *w = c->w;
  int rc = 0;

  if(w->nzpool)
    c->z = w->zpool[--w->nzpool];
  else {
    c->z = calloc(1, sizeof(*c->z));
    if(!c->z)
      return CR_ENOMEM;
    if(deflateInit2(c->z, w->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      free(c->z);
      c->z = NULL;
      return CR_ENOMEM;
    }
  }
  c->z_ready = 1;
  /* The trailer's CRC covers the body: from here on it runs with it. */
  c->crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const unsigned char *)c->rawbuf,
                           (uInt)c->rawlen);
  if(c->rawlen)
    rc = cap_deflate(c, (const unsigned char *)c->rawbuf, c->rawlen, Z_NO_FLUSH);
  free(c->rawbuf);
  c->rawbuf = NULL;
  c->rawlen = 0;
  c->rawcap = 0;
  return rc;
}

/* Runs the body compressor over n bytes (flush: Z_FINISH at the end). */
static int cap_deflate(struct cr_warc_cap *c, const unsigned char *p, size_t n, int flush)
{
  c->z->next_in = (unsigned char *)p;
  c->z->avail_in = (uInt)n;
  for(;;) {
    int zr;

    if(!c->mem) {
      c->mem = malloc(MEM_BUF);
      if(!c->mem)
        return CR_ENOMEM;
      c->mem_len = 0;
    }
    c->z->next_out = c->mem + c->mem_len;
    c->z->avail_out = (uInt)(MEM_BUF - c->mem_len);
    zr = deflate(c->z, flush);
    c->mem_len = MEM_BUF - c->z->avail_out;
    if(zr == Z_STREAM_ERROR)
      return CR_ENOMEM;
    if(c->mem_len == MEM_BUF) {
      int rc = spool_put(c, (char *)c->mem, c->mem_len);

      c->mem = NULL;
      c->mem_len = 0;
      if(rc)
        return rc;
      continue;
    }
    if(flush == Z_FINISH ? zr == Z_STREAM_END : !c->z->avail_in)
      return 0;
  }
}

int cr_warc_cap_body(struct cr_warc_cap *c, const char *p, size_t n)
{
  int rc;

  if(c->err)
    return c->err;
  rc = cap_start_body(c);
  if(!rc) {
    EVP_DigestUpdate(c->block, p, n);
    if(c->raw)
      EVP_DigestUpdate(c->raw, p, n);
    c->raw_len += n;
    if(!c->z_ready && c->rawlen + n <= RAW_MAX) {
      if(c->rawlen + n > c->rawcap) {
        size_t cap = c->rawcap ? c->rawcap : MEM_BUF;
        char *nb;

        while(cap < c->rawlen + n)
          cap *= 2;
        nb = realloc(c->rawbuf, cap);
        if(!nb)
          rc = CR_ENOMEM;
        else {
          c->rawbuf = nb;
          c->rawcap = cap;
        }
      }
      if(!rc) {
        memcpy(c->rawbuf + c->rawlen, p, n);
        c->rawlen += n;
      }
    }
    else {
      if(!c->z_ready)
        rc = cap_start_stream(c);
      if(!rc)
        rc = cap_deflate(c, (const unsigned char *)p, n, Z_NO_FLUSH);
      c->crc = (uint32_t)crc32(c->crc, (const unsigned char *)p, (uInt)n);
    }
  }
  if(!rc && c->sp && c->sp->err)
    rc = c->sp->err;
  c->err = rc;
  return rc;
}

int cr_warc_cap_chunked(struct cr_warc_cap *c)
{
  if(!c->raw)
    c->raw = sha1_new();
  return c->raw ? 0 : CR_ENOMEM;
}

void cr_warc_cap_framing_broken(struct cr_warc_cap *c)
{
  c->raw_payload = c->raw != NULL;
}

void cr_warc_cap_payload(struct cr_warc_cap *c, const char *p, size_t n)
{
  if(c->payload) {
    EVP_DigestUpdate(c->payload, p, n);
    c->payload_len += n;
  }
}

/* ---- records ---- */

static void wrec_free(struct wrec *r)
{
  if(!r)
    return;
  free(r->pre);
  free(r->post);
  free(r->cdx);
  free(r->id);
  free(r->uri);
  free(r->date);
  free(r->req_id);
  free(r->ip);
  free(r->http);
  if(r->sp) {
    r->sp->orphan = 1;
    spool_maybe_free(r->sp);
  }
  free(r);
}

void cr_warc_recs_free(struct cr_warc_recs **precs)
{
  struct cr_warc_recs *rs;

  if(!precs || !*precs)
    return;
  rs = *precs;
  while(rs->head) {
    struct wrec *r = rs->head;

    rs->head = r->next;
    wrec_free(r);
  }
  free(rs);
  *precs = NULL;
}

static int recs_add(struct cr_warc_recs **precs, struct wrec *r)
{
  if(!*precs) {
    *precs = calloc(1, sizeof(**precs));
    if(!*precs)
      return CR_ENOMEM;
    (*precs)->tail = &(*precs)->head;
  }
  *(*precs)->tail = r;
  (*precs)->tail = &r->next;
  return 0;
}

/* A record held in memory whole: header fields, block, the closing two
 * CRLFs, one gzip member. */
static struct wrec *whole_record(struct cr_warc *w, const char *fields, const char *block,
                                 size_t block_len)
{
  struct cr_buf t;
  struct wrec *r = calloc(1, sizeof(*r));
  int rc;

  if(!r)
    return NULL;
  cr_buf_init(&t, TEXT_MAX);
  rc = cr_buf_printf(&t, "WARC/1.1\r\n%sContent-Length: %zu\r\n\r\n", fields, block_len);
  if(!rc && block_len)
    rc = cr_buf_append(&t, block, block_len);
  if(!rc)
    rc = cr_buf_puts(&t, "\r\n\r\n");
  if(!rc)
    rc = gzip_whole(w, t.data, t.len, &r->pre, &r->pre_len);
  cr_buf_cleanup(&t);
  if(rc) {
    free(r);
    return NULL;
  }
  r->len = r->pre_len;
  return r;
}

/* The status code and the media type of a response header block. */
static void response_facts(const struct cr_buf *resp, int *status, char *mime, size_t mime_n)
{
  const char *p = resp->data ? resp->data : "";
  const char *sp = strchr(p, ' ');
  const char *line;

  *status = sp ? atoi(sp + 1) : 0;
  snprintf(mime, mime_n, "unk");
  for(line = strchr(p, '\n'); line; line = strchr(line, '\n')) {
    line++;
    if(!strncasecmp(line, "content-type:", 13)) {
      const char *v = line + 13;
      size_t n;

      while(*v == ' ' || *v == '\t')
        v++;
      n = strcspn(v, ";\r\n \t");
      if(n && n < mime_n)
        snprintf(mime, mime_n, "%.*s", (int)n, v);
      break;
    }
  }
}

/* The start of an index line: key, time, JSON up to "length" (the rest
 * is known at commit). */
static char *cdx_start(const char *uri, const char *date, const char *mime, int status,
                       const char *digest)
{
  struct cr_buf b;
  char ts[15];
  int rc;

  /* 2026-12-04T08:22:05.123456Z -> 20261204082205 */
  snprintf(ts, sizeof(ts), "%.4s%.2s%.2s%.2s%.2s%.2s", date, date + 5, date + 8, date + 11,
           date + 14, date + 17);
  cr_buf_init(&b, TEXT_MAX);
  rc = surt(&b, uri);
  if(!rc)
    rc = cr_buf_printf(&b, " %s {\"url\":", ts);
  if(!rc)
    rc = cr_json_str(&b, uri, strlen(uri));
  if(!rc)
    rc = cr_buf_puts(&b, ",\"mime\":");
  if(!rc)
    rc = cr_json_str(&b, mime, strlen(mime));
  if(!rc)
    rc = cr_buf_printf(&b, ",\"status\":\"%d\",\"digest\":\"%s\"", status, digest);
  if(rc) {
    cr_buf_cleanup(&b);
    return NULL;
  }
  return b.data;
}

int cr_warc_cap_end(struct cr_warc *w, struct cr_warc_cap **pc, const char *uri,
                    const char *ip, const char *truncated, struct cr_warc_recs **recs)
{
  struct cr_warc_cap *c = *pc;
  struct cr_buf f;
  char req_id[64];
  char resp_id[64];
  char date[64];
  char block_digest[33];
  char payload_digest[33];
  char mime[128];
  int status;
  struct wrec *req = NULL;
  struct wrec *resp = NULL;
  char *head = NULL;
  size_t head_len = 0;
  int rc;

  *pc = NULL;
  if(!c->resp_done) {
    cr_warc_cap_free(&c);
    return 0;
  }
  rc = cap_start_body(c);
  if(!rc)
    rc = c->err;
  if(rc) {
    cr_warc_cap_free(&c);
    return rc;
  }
  /* The record's end: two CRLFs after the block, in the same stream. */
  if(c->z_ready) {
    rc = cap_deflate(c, (const unsigned char *)"\r\n\r\n", 4, Z_FINISH);
    if(rc) {
      cr_warc_cap_free(&c);
      return rc;
    }
    c->crc = (uint32_t)crc32(c->crc, (const unsigned char *)"\r\n\r\n", 4);
  }
  digest_out(c->block, block_digest);
  digest_out(c->raw_payload ? c->raw : c->payload, payload_digest);
  format_date(&c->t, date);
  new_id(w, req_id);
  new_id(w, resp_id);
  response_facts(&c->resp, &status, mime, sizeof(mime));
  cr_buf_init(&f, TEXT_MAX);

  /* The request: libcurl's header block as sent (a GET has no body). */
  rc = cr_buf_printf(&f, "WARC-Type: request\r\nWARC-Record-ID: %s\r\nWARC-Date: %s\r\n"
                     "WARC-Target-URI: %s\r\n", req_id, date, uri);
  if(!rc && ip)
    rc = cr_buf_printf(&f, "WARC-IP-Address: %s\r\n", ip);
  if(!rc) {
    EVP_MD_CTX *d = sha1_new();
    char rd[33];

    if(!d)
      rc = CR_ENOMEM;
    else {
      EVP_DigestUpdate(d, c->req.data ? c->req.data : "", c->req.len);
      digest_out(d, rd);
      EVP_MD_CTX_free(d);
      rc = cr_buf_printf(&f, "WARC-Concurrent-To: %s\r\n"
                         "Content-Type: application/http;msgtype=request\r\n"
                         "WARC-Block-Digest: sha1:%s\r\n", resp_id, rd);
    }
  }
  if(!rc) {
    req = whole_record(w, f.data, c->req.data, c->req.len);
    if(!req)
      rc = CR_ENOMEM;
  }
  cr_buf_reset(&f);

  if(!rc) {
    uint64_t block_len = c->resp.len + c->raw_len;
    uint64_t total;
    uint32_t crc;

    rc = cr_buf_printf(&f, "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: %s\r\n"
                       "WARC-Date: %s\r\nWARC-Target-URI: %s\r\n", resp_id, date, uri);
    if(!rc && ip)
      rc = cr_buf_printf(&f, "WARC-IP-Address: %s\r\n", ip);
    if(!rc)
      rc = cr_buf_printf(&f, "WARC-Concurrent-To: %s\r\n"
                         "Content-Type: application/http;msgtype=response\r\n"
                         "WARC-Block-Digest: sha1:%s\r\nWARC-Payload-Digest: sha1:%s\r\n",
                         req_id, block_digest, payload_digest);
    if(!rc && truncated)
      rc = cr_buf_printf(&f, "WARC-Truncated: %s\r\n", truncated);
    if(!rc)
      rc = cr_buf_printf(&f, "Content-Length: %llu\r\n\r\n", (unsigned long long)block_len);
    if(!rc)
      rc = cr_buf_append(&f, c->resp.data, c->resp.len);
    if(!rc && !c->z_ready) {
      /* A small body: one member from the shared compressor. */
      const char *ps[3] = { f.data, c->rawbuf ? c->rawbuf : "", "\r\n\r\n" };
      size_t ns[3] = { f.len, c->rawlen, 4 };

      resp = calloc(1, sizeof(*resp));
      if(!resp)
        rc = CR_ENOMEM;
      else
        rc = gzip_parts(w, ps, ns, 3, 1, &resp->pre, &resp->pre_len);
      if(!rc) {
        resp->len = resp->pre_len;
        resp->cdx = cdx_start(uri, date, mime, status, payload_digest);
        if(!resp->cdx)
          rc = CR_ENOMEM;
      }
    }
    else if(!rc) {
      const char *p0 = f.data;
      size_t n0 = f.len;

      rc = gzip_parts(w, &p0, &n0, 1, 0, &head, &head_len);
      if(!rc) {
        resp = calloc(1, sizeof(*resp));
        if(!resp)
          rc = CR_ENOMEM;
      }
    }
    if(!rc && c->z_ready) {
      resp->pre = head;
      resp->pre_len = head_len;
      head = NULL;
      resp->sp = c->sp;
      resp->sp_len = c->sp ? c->sp->len : 0;
      c->sp = NULL;
      /* The rest of the body's stream, then the gzip trailer. */
      resp->post = malloc(c->mem_len + 8);
      if(!resp->post)
        rc = CR_ENOMEM;
    }
    if(!rc && c->z_ready) {
      unsigned char *t;

      memcpy(resp->post, c->mem, c->mem_len);
      t = (unsigned char *)resp->post + c->mem_len;
      crc = (uint32_t)crc32_combine(crc32(crc32(0L, Z_NULL, 0), (const unsigned char *)f.data,
                                          (uInt)f.len),
                                    c->crc, (z_off_t)(c->raw_len + 4));
      total = f.len + c->raw_len + 4;
      put_le32(t, crc);
      put_le32(t + 4, (uint32_t)total);
      resp->post_len = c->mem_len + 8;
      resp->len = resp->pre_len + resp->sp_len + resp->post_len;
      resp->cdx = cdx_start(uri, date, mime, status, payload_digest);
      if(!resp->cdx)
        rc = CR_ENOMEM;
    }
    if(!rc && w->dedup && c->payload_len && !truncated) {
      memcpy(resp->digest, payload_digest, sizeof(resp->digest));
      resp->id = strdup(resp_id);
      resp->uri = strdup(uri);
      resp->date = strdup(date);
      resp->req_id = strdup(req_id);
      resp->ip = ip ? strdup(ip) : NULL;
      resp->http = malloc(c->resp.len + 1);
      resp->status = status;
      if(!resp->id || !resp->uri || !resp->date || !resp->req_id || (ip && !resp->ip) ||
         !resp->http)
        rc = CR_ENOMEM;
      else {
        memcpy(resp->http, c->resp.data, c->resp.len);
        resp->http_len = c->resp.len;
      }
    }
  }
  free(head);
  cr_buf_cleanup(&f);
  cr_warc_cap_free(&c);
  if(!rc)
    rc = recs_add(recs, req);
  if(!rc)
    req = NULL;
  if(!rc)
    rc = recs_add(recs, resp);
  if(!rc)
    resp = NULL;
  wrec_free(req);
  wrec_free(resp);
  return rc;
}

/* ---- files and writing ---- */

static void batch_settle(struct cr_warc *w);
static void batch_issue(struct batch *b);

static void op_done(struct batch *b, int res, size_t want)
{
  if(res < 0 && !b->rc)
    b->rc = cr_aio_errno(-res);
  else if(res >= 0 && want && (size_t)res != want && !b->rc)
    b->rc = CR_ENOSPC;  /* see SHORT_WRITE */
  b->pending--;
  if(!b->pending)
    batch_settle(b->w);
}

struct mem_op {
  struct batch *b;
  size_t len;
};

static void on_mem_write(void *arg, int res)
{
  struct mem_op *m = arg;
  struct batch *b = m->b;
  size_t len = m->len;

  free(m);
  op_done(b, res, len);
}

static void mem_write(struct batch *b, int slot, int fd, const char *p, size_t len,
                      uint64_t off)
{
  struct mem_op *m = malloc(sizeof(*m));
  int rc;

  b->pending++;
  if(!m) {
    op_done(b, -ENOMEM, 0);
    return;
  }
  m->b = b;
  m->len = len;
  rc = fd >= 0 ? cr_aio_write_fd(b->w->aio, fd, p, len, off, 0, on_mem_write, m)
               : cr_aio_write(b->w->aio, slot, p, len, off, 0, on_mem_write, m);
  if(rc) {
    free(m);
    op_done(b, -ENOMEM, 0);
  }
}

static void on_copy_write(void *arg, int res);

static void on_copy_read(void *arg, int res)
{
  struct copy *c = arg;

  if(res <= 0) {
    free(c->buf);
    c->r->sp->waiter = NULL;
    op_done(c->b, res < 0 ? res : -EIO, 0);
    free(c);
    return;
  }
  c->writing = (size_t)res;
  if(cr_aio_write(c->b->w->aio, c->b->f->slot, c->buf, (size_t)res, c->dst, 0, on_copy_write,
                  c)) {
    free(c->buf);
    op_done(c->b, -ENOMEM, 0);
    free(c);
    return;
  }
  c->src += (uint64_t)res;
  c->dst += (uint64_t)res;
  c->left -= (uint64_t)res;
}

static void on_copy_write(void *arg, int res)
{
  struct copy *c = arg;

  if(res < 0 || (size_t)res != c->writing) {
    free(c->buf);
    op_done(c->b, res < 0 ? res : -ENOSPC, 0);  /* see SHORT_WRITE */
    free(c);
    return;
  }
  copy_step(c);
}

/* The next chunk of a spool into its record's place, or the end. */
static void copy_step(struct copy *c)
{
  struct spool *sp = c->r->sp;
  size_t n;

  if(sp->err || !sp->opened) {
    free(c->buf);
    op_done(c->b, -EIO, 0);
    free(c);
    return;
  }
  if(!c->left) {
    free(c->buf);
    op_done(c->b, 0, 0);
    free(c);
    return;
  }
  n = c->left < COPY_CHUNK ? (size_t)c->left : COPY_CHUNK;
  if(cr_aio_read(sp->w->aio, sp->slot, c->buf, n, c->src, 0, on_copy_read, c)) {
    free(c->buf);
    op_done(c->b, -ENOMEM, 0);
    free(c);
  }
}

static void copy_start(struct batch *b, struct wrec *r, uint64_t dst)
{
  struct copy *c = calloc(1, sizeof(*c));

  b->pending++;
  if(c)
    c->buf = malloc(COPY_CHUNK);
  if(!c || !c->buf) {
    free(c);
    op_done(b, -ENOMEM, 0);
    return;
  }
  c->b = b;
  c->r = r;
  c->dst = dst;
  c->left = r->sp_len;
  if(r->sp->inflight)
    r->sp->waiter = c;  /* its last writes are still out */
  else
    copy_step(c);
}

/* Every write of a batch whose file is open. */
static void batch_issue(struct batch *b)
{
  struct wfile *f = b->f;
  uint64_t off = b->start;
  struct wrec *r;

  /* Held until all are queued, so no completion settles it early. */
  b->pending++;
  if(f->failed) {
    op_done(b, -EIO, 0);
    return;
  }
  for(r = b->recs; r; r = r->next) {
    mem_write(b, f->slot, -1, r->pre, r->pre_len, off);
    off += r->pre_len;
    if(r->sp) {
      copy_start(b, r, off);
      off += r->sp_len;
    }
    if(r->post_len) {
      mem_write(b, f->slot, -1, r->post, r->post_len, off);
      off += r->post_len;
    }
  }
  if(b->cdx.len)
    mem_write(b, -1, b->w->cdx_fd, b->cdx.data, b->cdx.len, b->cdx_start);
  b->issued = 1;
  op_done(b, 0, 0);
}

static void on_file_close(void *arg, int res)
{
  struct wfile *f = arg;

  (void)res;
  free(f->path);
  free(f);
}

static void file_release(struct wfile *f)
{
  if(!f->retired || f->batches || f->held)
    return;
  if(f->opened) {
    f->opened = 0;
    if(cr_aio_close(f->w->aio, f->slot, 0, on_file_close, f) == 0)
      return;
  }
  free(f->path);
  free(f);
}

static void on_file_open(void *arg, int res)
{
  struct wfile *f = arg;

  if(res < 0) {
    fprintf(stderr, "crawler: cannot open %s: %s\n", f->path, strerror(-res));
    f->failed = 1;
  }
  else
    f->opened = 1;
  while(f->held) {
    struct batch *b = f->held;

    f->held = b->held_next;
    batch_issue(b);
  }
  f->held_tail = &f->held;
}

static void batch_free(struct batch *b)
{
  while(b->recs) {
    struct wrec *r = b->recs;

    b->recs = r->next;
    wrec_free(r);
  }
  cr_buf_cleanup(&b->cdx);
  free(b);
}

/* Runs the callbacks of the batches at the head that are written, in
 * file order: the position only ever covers a written prefix. */
static void batch_settle(struct cr_warc *w)
{
  while(w->q_head && w->q_head->issued && !w->q_head->pending) {
    struct batch *b = w->q_head;
    struct wfile *f = b->f;
    int rc;

    w->q_head = b->next;
    if(!w->q_head)
      w->q_tail = &w->q_head;
    if(b->rc && !w->err)
      w->err = b->rc;
    rc = w->err;
    if(!rc) {
      w->pos.serial = f->serial;
      w->pos.warc_end = b->end;
      w->pos.cdx_end = b->cdx_end;
      w->bytes += b->end - b->start;
    }
    f->batches--;
    if(b->cb)
      b->cb(b->arg, rc);
    batch_free(b);
    file_release(f);
  }
}

/* Queues a batch on file f at its end. */
static void batch_queue(struct cr_warc *w, struct wfile *f, struct batch *b)
{
  b->w = w;
  b->f = f;
  b->start = f->reserved;
  {
    struct wrec *r;
    uint64_t len = 0;

    for(r = b->recs; r; r = r->next)
      len += r->len;
    f->reserved += len;
  }
  b->end = f->reserved;
  b->cdx_start = w->cdx_reserved;
  w->cdx_reserved += b->cdx.len;
  b->cdx_end = w->cdx_reserved;
  f->batches++;
  b->next = NULL;
  *w->q_tail = b;
  w->q_tail = &b->next;
  if(f->opened || f->failed)
    batch_issue(b);
  else {
    b->held_next = NULL;
    *f->held_tail = b;
    f->held_tail = &b->held_next;
  }
}

static char *file_path(const struct cr_warc *w, unsigned serial)
{
  char *p = NULL;

  if(asprintf(&p, "%s-%s-%05u.warc.gz", w->prefix, w->stamp, serial) < 0)
    return NULL;
  return p;
}

static struct wrec *warcinfo_record(struct cr_warc *w, const char *base)
{
  struct cr_buf f;
  char id[64];
  char date[64];
  struct timespec t;
  struct wrec *r = NULL;
  const curl_version_info_data *cv;

  clock_gettime(CLOCK_REALTIME, &t);
  format_date(&t, date);
  new_id(w, id);
  cr_buf_init(&f, TEXT_MAX);
  if(!cr_buf_printf(&f, "WARC-Type: warcinfo\r\nWARC-Record-ID: %s\r\nWARC-Date: %s\r\n"
                    "WARC-Filename: %s\r\nContent-Type: application/warc-fields\r\n",
                    id, date, base)) {
    struct cr_buf body;

    cr_buf_init(&body, TEXT_MAX);
    cv = curl_version_info(CURLVERSION_NOW);
    if(!cr_buf_printf(&body, "software: crawler/%s (libcurl/%s, zlib/%s)\r\n"
                      "format: WARC File Format 1.1\r\n"
                      "conformsTo: http://iipc.github.io/warc-specifications/"
                      "specifications/warc-format/warc-1.1/\r\n%s",
                      CR_VERSION, cv->version, zlibVersion(), w->info ? w->info : ""))
      r = whole_record(w, f.data, body.data, body.len);
    cr_buf_cleanup(&body);
  }
  cr_buf_cleanup(&f);
  return r;
}

/* Begins file serial (its warcinfo queued first).  fresh: created or
 * emptied; else it is the resumed file, already cut to end. */
static int file_begin(struct cr_warc *w, unsigned serial, int fresh, uint64_t end)
{
  struct wfile *f = calloc(1, sizeof(*f));
  int rc;

  if(!f)
    return CR_ENOMEM;
  f->w = w;
  f->serial = serial;
  f->slot = -1;
  f->held_tail = &f->held;
  f->path = file_path(w, serial);
  if(!f->path) {
    free(f);
    return CR_ENOMEM;
  }
  f->base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
  f->reserved = fresh ? 0 : end;
  rc = cr_aio_openat(w->aio, AT_FDCWD, f->path,
                     O_WRONLY | O_CREAT | (fresh ? O_TRUNC : 0), 0644, 0, &f->slot,
                     on_file_open, f);
  if(rc) {
    free(f->path);
    free(f);
    return rc;
  }
  if(w->cur)
    w->cur->retired = 1;
  {
    struct wfile *old = w->cur;

    w->cur = f;
    if(old)
      file_release(old);
  }
  if(fresh) {
    struct batch *b = calloc(1, sizeof(*b));

    if(!b)
      return CR_ENOMEM;
    cr_buf_init(&b->cdx, TEXT_MAX);
    b->recs = warcinfo_record(w, f->base);
    if(!b->recs) {
      free(b);
      return CR_ENOMEM;
    }
    batch_queue(w, f, b);
    f->info_end = f->reserved;
  }
  else
    f->info_end = end;
  return 0;
}

/* r repeats the payload of d, a response committed before it (so written
 * before it, or the crawl stops): r becomes a revisit record, the headers
 * only.  Returns 0 or CR_ENOMEM (r left as it was). */
static int make_revisit(struct cr_warc *w, struct wrec *r, const struct dedup *d)
{
  struct cr_buf f;
  struct wrec *v = NULL;
  char *cdx;
  EVP_MD_CTX *md = sha1_new();
  char hd[33];
  int rc;

  if(!md)
    return CR_ENOMEM;
  EVP_DigestUpdate(md, r->http, r->http_len);
  digest_out(md, hd);
  EVP_MD_CTX_free(md);
  cr_buf_init(&f, TEXT_MAX);
  rc = cr_buf_printf(&f, "WARC-Type: revisit\r\nWARC-Record-ID: %s\r\nWARC-Date: %s\r\n"
                     "WARC-Target-URI: %s\r\n", r->id, r->date, r->uri);
  if(!rc && r->ip)
    rc = cr_buf_printf(&f, "WARC-IP-Address: %s\r\n", r->ip);
  if(!rc)
    rc = cr_buf_printf(&f, "WARC-Concurrent-To: %s\r\n"
                       "WARC-Profile: http://netpreserve.org/warc/1.1/revisit/"
                       "identical-payload-digest\r\n"
                       "WARC-Refers-To: %s\r\nWARC-Refers-To-Target-URI: %s\r\n"
                       "WARC-Refers-To-Date: %s\r\n"
                       "Content-Type: application/http;msgtype=response\r\n"
                       "WARC-Block-Digest: sha1:%s\r\nWARC-Payload-Digest: sha1:%s\r\n",
                       r->req_id, d->id, d->uri, d->date, hd, r->digest);
  if(!rc)
    v = whole_record(w, f.data, r->http, r->http_len);
  cr_buf_cleanup(&f);
  if(!v)
    return CR_ENOMEM;
  cdx = cdx_start(r->uri, r->date, "warc/revisit", r->status, r->digest);
  if(!cdx) {
    wrec_free(v);
    return CR_ENOMEM;
  }
  free(r->pre);
  free(r->post);
  free(r->cdx);
  if(r->sp) {
    r->sp->orphan = 1;
    spool_maybe_free(r->sp);
  }
  r->pre = v->pre;
  r->pre_len = v->pre_len;
  r->sp = NULL;
  r->sp_len = 0;
  r->post = NULL;
  r->post_len = 0;
  r->len = v->len;
  r->cdx = cdx;
  v->pre = NULL;
  wrec_free(v);
  w->revisits++;
  return 0;
}

/* Revisits for payloads committed before; the others are noted. */
static void dedup_batch(struct cr_warc *w, struct wrec *recs)
{
  struct wrec *r;

  for(r = recs; r; r = r->next) {
    struct dedup *d;

    if(!r->id)
      continue;
    d = (struct dedup *)cr_hmap_get(&w->seen, r->digest);
    if(d) {
      (void)make_revisit(w, r, d);
      continue;
    }
    d = calloc(1, sizeof(*d));
    if(!d)
      continue;
    memcpy(d->digest, r->digest, sizeof(d->digest));
    d->node.key = d->digest;
    d->id = strdup(r->id);
    d->uri = strdup(r->uri);
    d->date = strdup(r->date);
    if(!d->id || !d->uri || !d->date || cr_hmap_put(&w->seen, &d->node)) {
      free(d->id);
      free(d->uri);
      free(d->date);
      free(d);
    }
  }
}

int cr_warc_commit(struct cr_warc *w, struct cr_warc_recs **precs, cr_warc_cb cb, void *arg)
{
  struct cr_warc_recs *rs = *precs;
  struct batch *b;
  struct wrec *r;
  uint64_t len = 0;
  uint64_t off;
  int rc = 0;

  *precs = NULL;
  if(!rs)
    return CR_EINVAL;
  b = calloc(1, sizeof(*b));
  if(!b) {
    cr_warc_recs_free(&rs);
    return CR_ENOMEM;
  }
  cr_buf_init(&b->cdx, TEXT_MAX);
  b->recs = rs->head;
  b->cb = cb;
  b->arg = arg;
  free(rs);
  if(w->dedup)
    dedup_batch(w, b->recs);
  for(r = b->recs; r; r = r->next)
    len += r->len;
  /* A new file when this would pass the limit, unless the current one
   * has no record yet (one record bigger than the limit gets a file). */
  if(w->cur->reserved > w->cur->info_end && w->cur->reserved + len > w->max_size)
    rc = file_begin(w, w->cur->serial + 1, 1, 0);
  if(rc) {
    batch_free(b);
    return rc;
  }
  off = w->cur->reserved;
  for(r = b->recs; r && !rc; r = r->next) {
    if(r->cdx)
      rc = cr_buf_printf(&b->cdx, "%s,\"length\":\"%llu\",\"offset\":\"%llu\",\"filename\":",
                         r->cdx, (unsigned long long)r->len, (unsigned long long)off);
    if(r->cdx && !rc)
      rc = cr_json_str(&b->cdx, w->cur->base, strlen(w->cur->base));
    if(r->cdx && !rc)
      rc = cr_buf_puts(&b->cdx, "}\n");
    off += r->len;
  }
  if(rc) {
    batch_free(b);
    return rc;
  }
  batch_queue(w, w->cur, b);
  return 0;
}

void cr_warc_position(const struct cr_warc *w, struct cr_warc_pos *pos)
{
  *pos = w->pos;
}

uint64_t cr_warc_bytes(const struct cr_warc *w)
{
  return w->bytes;
}

uint64_t cr_warc_revisits(const struct cr_warc *w)
{
  return w->revisits;
}

/* ---- start and end ---- */

/* Removes this crawl's files from serial on (a fresh start, or the files
 * a resume cuts away).  They are numbered without gaps. */
static void remove_from(struct cr_warc *w, unsigned serial)
{
  for(;; serial++) {
    char *p = file_path(w, serial);
    int r;

    if(!p)
      return;
    r = unlink(p);
    free(p);
    if(r < 0)
      return;
  }
}

int cr_warc_new(const struct cr_warc_opts *o, struct cr_aio *aio, struct cr_warc **out)
{
  struct cr_warc *w = calloc(1, sizeof(*w));
  char *dir = NULL;
  char *slash;
  int fd;
  int rc;

  *out = NULL;
  if(!w)
    return CR_ENOMEM;
  w->aio = aio;
  w->dirfd = -1;
  w->cdx_fd = -1;
  w->q_tail = &w->q_head;
  w->max_size = o->max_size ? o->max_size : DEFAULT_MAX;
  w->level = o->level >= 1 && o->level <= 9 ? o->level : 6;
  cr_buf_init(&w->whole, TEXT_MAX);
  w->dedup = o->dedup;
  cr_hmap_init(&w->seen);
  snprintf(w->stamp, sizeof(w->stamp), "%s", o->stamp);
  w->prefix = strdup(o->prefix);
  w->info = o->info ? strdup(o->info) : NULL;
  if(!w->prefix || (o->info && !w->info))
    goto nomem;
  if(getrandom(w->rng, sizeof(w->rng), GRND_NONBLOCK) != (ssize_t)sizeof(w->rng)) {
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    w->rng[0] = (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 32);
    w->rng[1] = (uint64_t)t.tv_sec ^ (uint64_t)(uintptr_t)w;
  }
  dir = strdup(w->prefix);
  if(!dir)
    goto nomem;
  slash = strrchr(dir, '/');
  if(slash)
    slash[slash == dir ? 1 : 0] = '\0';
  if(slash) {
    /* Made if missing, parents too, as -o makes its directory. */
    char *q;

    for(q = dir + 1; ; q++) {
      if(*q == '/' || !*q) {
        char c = *q;

        *q = '\0';
        if(mkdir(dir, 0755) < 0 && errno != EEXIST)
          break;
        *q = c;
        if(!c)
          break;
      }
    }
  }
  w->dirfd = open(slash ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if(w->dirfd < 0) {
    fprintf(stderr, "crawler: --warc: cannot use directory %s: %s\n", slash ? dir : ".",
            strerror(errno));
    goto fail;
  }
  /* Spools are anonymous files there: nothing is left after a crash. */
  fd = openat(w->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if(fd < 0) {
    fprintf(stderr, "crawler: --warc: cannot make temporary files in %s: %s\n",
            slash ? dir : ".", strerror(errno));
    goto fail;
  }
  close(fd);
  free(dir);
  dir = NULL;
  if(asprintf(&w->cdx_path, "%s-%s.cdxj", w->prefix, w->stamp) < 0) {
    w->cdx_path = NULL;
    goto nomem;
  }
  w->cdx_fd = open(w->cdx_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if(w->cdx_fd < 0 || ftruncate(w->cdx_fd, o->resume ? (off_t)o->resume_cdx_end : 0) < 0) {
    fprintf(stderr, "crawler: cannot write %s: %s\n", w->cdx_path, strerror(errno));
    goto fail;
  }
  w->cdx_reserved = o->resume ? o->resume_cdx_end : 0;
  if(o->resume && o->resume_warc_end) {
    char *p = file_path(w, o->resume_serial);
    struct stat sb;

    if(!p)
      goto nomem;
    /* Records past the recorded end are of URLs not finished: they are
     * fetched again, and written again. */
    if(stat(p, &sb) < 0 || (uint64_t)sb.st_size < o->resume_warc_end ||
       truncate(p, (off_t)o->resume_warc_end) < 0) {
      fprintf(stderr, "crawler: cannot resume the WARC file %s: %s\n", p,
              errno ? strerror(errno) : "shorter than the crawl state says");
      free(p);
      goto fail;
    }
    free(p);
    remove_from(w, o->resume_serial + 1);
    w->pos.serial = o->resume_serial;
    w->pos.warc_end = o->resume_warc_end;
    w->pos.cdx_end = o->resume_cdx_end;
    rc = file_begin(w, o->resume_serial, 0, o->resume_warc_end);
  }
  else {
    unsigned first = o->resume ? o->resume_serial : 0;

    remove_from(w, first);
    w->pos.serial = first;
    w->pos.cdx_end = w->cdx_reserved;
    rc = file_begin(w, first, 1, 0);
  }
  if(rc)
    goto fail_rc;
  *out = w;
  return 0;

nomem:
  rc = CR_ENOMEM;
  goto fail_rc;
fail:
  rc = CR_EIO;
fail_rc:
  free(dir);
  w->cur = NULL;  /* a file begun holds an open in flight: aio frees it */
  cr_warc_free(&w, 0);
  return rc;
}

static void dedup_free(struct cr_hnode *n)
{
  struct dedup *d = (struct dedup *)n;

  free(d->id);
  free(d->uri);
  free(d->date);
  free(d);
}

/* Sorts the index in place (through a temporary file and a rename):
 * replay tools search it by key.  Once, after the loop. */
static void sort_index(struct cr_warc *w)
{
  FILE *in = fopen(w->cdx_path, "r");
  char **lines = NULL;
  size_t n = 0;
  size_t cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t got;
  char *tmp = NULL;
  FILE *outf;
  size_t i;
  int ok = 1;

  if(!in)
    return;
  while((got = getline(&line, &lcap, in)) > 0) {
    if(n == cap) {
      size_t nc = cap ? cap * 2 : 1024;
      char **nl = realloc(lines, nc * sizeof(*nl));

      if(!nl) {
        ok = 0;
        break;
      }
      lines = nl;
      cap = nc;
    }
    lines[n] = strdup(line);
    if(!lines[n]) {
      ok = 0;
      break;
    }
    n++;
  }
  free(line);
  fclose(in);
  if(ok && n) {
    qsort(lines, n, sizeof(*lines), cmp_str);
    if(asprintf(&tmp, "%s.sorting", w->cdx_path) < 0)
      tmp = NULL;
    outf = tmp ? fopen(tmp, "w") : NULL;
    if(outf) {
      for(i = 0; i < n; i++)
        fputs(lines[i], outf);
      if(fclose(outf) == 0)
        rename(tmp, w->cdx_path);
      else
        unlink(tmp);
    }
    if(!outf)
      fprintf(stderr, "crawler: cannot sort %s\n", w->cdx_path);
  }
  for(i = 0; i < n; i++)
    free(lines[i]);
  free(lines);
  free(tmp);
}

void cr_warc_free(struct cr_warc **pw, int sort)
{
  struct cr_warc *w;

  if(!pw || !*pw)
    return;
  w = *pw;
  /* Commits whose writes never completed (the drain timed out) are
   * forgotten; the files are cut back to what is known written. */
  while(w->q_head) {
    struct batch *b = w->q_head;

    w->q_head = b->next;
    batch_free(b);
  }
  if(w->cur) {
    char *p = file_path(w, w->pos.serial);

    if(p && w->cur->serial == w->pos.serial && w->cur->reserved > w->pos.warc_end)
      (void)truncate(p, (off_t)w->pos.warc_end);
    else if(p && w->cur->serial > w->pos.serial)
      remove_from(w, w->pos.serial + 1);
    free(p);
    if(w->cur->opened)
      cr_aio_close(w->aio, w->cur->slot, 0, NULL, NULL);
    free(w->cur->path);
    free(w->cur);
  }
  if(w->cdx_fd >= 0) {
    if(w->cdx_reserved > w->pos.cdx_end)
      (void)ftruncate(w->cdx_fd, (off_t)w->pos.cdx_end);
    close(w->cdx_fd);
  }
  if(sort && !w->err && w->cdx_path)
    sort_index(w);
  if(w->dirfd >= 0)
    close(w->dirfd);
  cr_hmap_drain(&w->seen, dedup_free);
  if(w->ld)
    libdeflate_free_compressor(w->ld);
  cr_buf_cleanup(&w->whole);
  if(w->zs_ready)
    deflateEnd(&w->zs);
  while(w->nzpool) {
    z_stream *z = w->zpool[--w->nzpool];

    deflateEnd(z);
    free(z);
  }
  free(w->cdx_path);
  free(w->prefix);
  free(w->info);
  free(w);
  *pw = NULL;
}
