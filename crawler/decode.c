/*
 * decode.c - chunked transfer coding and gzip/deflate content coding
 * undone, a piece at a time; see decode.h.
 */
#include "decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "crawler.h"

#define OUT_BUF (16 * 1024)

enum chunk_state {
  C_SIZE,       /* hex digits of a chunk size */
  C_EXT,        /* a chunk extension, up to the line end */
  C_SIZE_LF,    /* the LF of the size line */
  C_DATA,
  C_DATA_CR,    /* the CRLF after a chunk's data */
  C_DATA_LF,
  C_TRAILER,    /* at the start of a trailer line */
  C_TRAILER_LINE,
  C_END_LF,     /* the LF of the blank line ending the trailers */
  C_DONE,
  C_BAD,        /* the framing broke: libcurl, parsing it too, says how */
};

/* As many content codings as libcurl undoes; more is a hostile server. */
#define LAYERS_MAX 5

struct layer {
  z_stream z;
  int ready;
  int deflate;        /* named deflate: raw deflate allowed */
  int ended;          /* a stream ended and no next member began */
  int any;            /* inflate took input without failing */
};

struct cr_decode {
  int chunked;
  enum chunk_state cs;
  int digits;
  uint64_t left;      /* of the chunk's data */
  const char *refused; /* a reason to refuse the body, found at start */
  const char *bad;    /* how the chunked framing broke */
  int nlayers;        /* content codings to undo, outermost first */
  struct layer layers[LAYERS_MAX];
  /* Output buffers, one per layer, made with it: most bodies have no
   * content coding and need none (an 80 KiB calloc per transfer was a
   * fifth of the CPU of a crawl with --warc). */
  unsigned char *out[LAYERS_MAX];
};

int cr_decode_new(int chunked, const char *coding, struct cr_decode **out)
{
  struct cr_decode *d = calloc(1, sizeof(*d));
  int names[16];
  int n = 0;
  int i;

  *out = NULL;
  if(!d)
    return CR_ENOMEM;
  d->chunked = chunked;
  /* The list names codings in the order they were applied: undone from
   * the last.  1: gzip, 2: deflate; identity is nothing to undo, and a
   * coding we do not know leaves the body as it is (as wget saves it). */
  while(coding && *coding && n < 16) {
    size_t len;

    while(*coding == ' ' || *coding == '\t' || *coding == ',')
      coding++;
    len = strcspn(coding, " \t,;");
    if(!len)
      break;
    if((len == 4 && !strncasecmp(coding, "gzip", 4)) ||
       (len == 6 && !strncasecmp(coding, "x-gzip", 6)))
      names[n++] = 1;
    else if(len == 7 && !strncasecmp(coding, "deflate", 7))
      names[n++] = 2;
    else if(!(len == 8 && !strncasecmp(coding, "identity", 8))) {
      n = 0;
      break;
    }
    coding += len;
    coding += strcspn(coding, ",");
  }
  if(n > LAYERS_MAX) {
    d->refused = "more than 5 content encodings";
    n = 0;
  }
  for(i = 0; i < n; i++) {
    struct layer *l = &d->layers[i];

    /* 15 + 32: a gzip or zlib header, whichever comes. */
    d->out[i] = malloc(OUT_BUF);
    if(!d->out[i] || inflateInit2(&l->z, 15 + 32) != Z_OK) {
      cr_decode_free(&d);
      return CR_ENOMEM;
    }
    l->ready = 1;
    l->deflate = names[n - 1 - i] == 2;
    d->nlayers = i + 1;
  }
  *out = d;
  return 0;
}

void cr_decode_free(struct cr_decode **pd)
{
  int i;

  if(!pd || !*pd)
    return;
  for(i = 0; i < LAYERS_MAX; i++) {
    if((*pd)->layers[i].ready)
      inflateEnd(&(*pd)->layers[i].z);
    free((*pd)->out[i]);
  }
  free(*pd);
  *pd = NULL;
}

int cr_decode_done(const struct cr_decode *d)
{
  return d->chunked && d->cs == C_DONE;
}

/* Content coding layer k onwards: n bytes to the content callback. */
static int content(struct cr_decode *d, int k, const unsigned char *p, size_t n,
                   cr_decode_cb cb, void *arg, const char **why)
{
  struct layer *l;
  int rc;

  if(!cb || !n)
    return 0;
  if(k == d->nlayers)
    return cb(arg, (const char *)p, n);
  l = &d->layers[k];
  l->z.next_in = (unsigned char *)p;
  l->z.avail_in = (uInt)n;
  while(l->z.avail_in) {
    int zr;
    size_t got;

    if(l->ended) {
      /* Another gzip member may follow (RFC 1952 allows several);
       * anything else after the end is ignored, as libcurl does. */
      if(l->z.next_in[0] != 0x1f || inflateReset(&l->z) != Z_OK)
        return 0;
      l->ended = 0;
    }
    l->z.next_out = d->out[k];
    l->z.avail_out = OUT_BUF;
    zr = inflate(&l->z, Z_NO_FLUSH);
    if(zr == Z_DATA_ERROR && l->deflate && !l->any) {
      /* "deflate" is meant to be zlib-wrapped; some servers send it raw,
       * and clients (libcurl too) accept that. */
      inflateEnd(&l->z);
      l->ready = 0;
      if(inflateInit2(&l->z, -15) != Z_OK)
        return CR_ENOMEM;
      l->ready = 1;
      l->deflate = 0;
      return content(d, k, p, n, cb, arg, why);
    }
    if(zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
      *why = "content unencoding failed: bad gzip or deflate data";
      return CR_EINVAL;
    }
    l->any = 1;
    got = OUT_BUF - l->z.avail_out;
    if(got) {
      /* The next layer takes this output whole before ours goes on. */
      const unsigned char *next_in = l->z.next_in;
      uInt avail = l->z.avail_in;

      rc = content(d, k + 1, d->out[k], got, cb, arg, why);
      if(rc)
        return rc;
      l->z.next_in = (unsigned char *)next_in;
      l->z.avail_in = avail;
    }
    if(zr == Z_STREAM_END)
      l->ended = 1;
    else if(zr == Z_BUF_ERROR && !got)
      break;
  }
  return 0;
}

static int hexval(unsigned char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Payload bytes: to the payload callback, then through the content
 * coding. */
static int payload(struct cr_decode *d, const unsigned char *p, size_t n, cr_decode_cb pcb,
                   cr_decode_cb ccb, void *arg, const char **why)
{
  int rc;

  if(pcb) {
    rc = pcb(arg, (const char *)p, n);
    if(rc)
      return rc;
  }
  return content(d, 0, p, n, ccb, arg, why);
}

/* libcurl parses the same framing and fails the transfer with its own
 * words: from here on the rest is ignored, and cr_decode_bad tells a
 * caller whose transfer still ended well. */
static int framing(struct cr_decode *d, const char *why)
{
  d->bad = why;
  d->cs = C_BAD;
  return 0;
}

const char *cr_decode_bad(const struct cr_decode *d)
{
  return d->bad;
}

int cr_decode_feed(struct cr_decode *d, const char *cp, size_t n, cr_decode_cb pcb,
                   cr_decode_cb ccb, void *arg, const char **why)
{
  const unsigned char *p = (const unsigned char *)cp;
  size_t i = 0;
  int rc;

  *why = NULL;
  if(d->refused) {
    *why = d->refused;
    return CR_EINVAL;
  }
  if(!d->chunked)
    return payload(d, p, n, pcb, ccb, arg, why);
  while(i < n) {
    unsigned char c = p[i];

    switch(d->cs) {
    case C_SIZE: {
      int v = hexval(c);

      if(v >= 0) {
        /* 15 hex digits is 2^60 bytes: more is no real chunk. */
        if(++d->digits > 15) {
          return framing(d, "bad chunked encoding (chunk size too long)");
        }
        d->left = d->left * 16 + (uint64_t)v;
        i++;
        break;
      }
      if(!d->digits) {
        return framing(d, "bad chunked encoding (no chunk size)");
      }
      if(c == ';' || c == ' ' || c == '\t')
        d->cs = C_EXT;
      else if(c == '\r')
        d->cs = C_SIZE_LF;
      else if(c == '\n')
        d->cs = d->left ? C_DATA : C_TRAILER;
      else {
        return framing(d, "bad chunked encoding (junk after chunk size)");
      }
      i++;
      break;
    }
    case C_EXT:
      if(c == '\n')
        d->cs = d->left ? C_DATA : C_TRAILER;
      i++;
      break;
    case C_SIZE_LF:
      if(c != '\n') {
        return framing(d, "bad chunked encoding (CR without LF)");
      }
      d->cs = d->left ? C_DATA : C_TRAILER;
      i++;
      break;
    case C_DATA: {
      size_t take = n - i;

      if((uint64_t)take > d->left)
        take = (size_t)d->left;
      rc = payload(d, p + i, take, pcb, ccb, arg, why);
      if(rc)
        return rc;
      i += take;
      d->left -= take;
      if(!d->left)
        d->cs = C_DATA_CR;
      break;
    }
    case C_DATA_CR:
      if(c == '\r')
        d->cs = C_DATA_LF;
      else if(c == '\n') {
        d->cs = C_SIZE;
        d->digits = 0;
      }
      else {
        return framing(d, "bad chunked encoding (no CRLF after chunk data)");
      }
      i++;
      break;
    case C_DATA_LF:
      if(c != '\n') {
        return framing(d, "bad chunked encoding (no CRLF after chunk data)");
      }
      d->cs = C_SIZE;
      d->digits = 0;
      i++;
      break;
    case C_TRAILER:
      d->cs = c == '\r' ? C_END_LF : c == '\n' ? C_DONE : C_TRAILER_LINE;
      i++;
      break;
    case C_TRAILER_LINE:
      if(c == '\n')
        d->cs = C_TRAILER;
      i++;
      break;
    case C_END_LF:
      d->cs = C_DONE;
      i++;
      break;
    case C_DONE:
    case C_BAD:
      /* libcurl ends the body at the framing's end; nothing follows. */
      return 0;
    }
  }
  return 0;
}
