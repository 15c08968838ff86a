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
};

enum coding { K_IDENTITY, K_ZLIB };

struct cr_decode {
  int chunked;
  enum chunk_state cs;
  int digits;
  uint64_t left;      /* of the chunk's data */
  enum coding kind;
  int deflate;        /* Content-Encoding: deflate (raw deflate allowed) */
  int z_ready;
  int z_ended;        /* a stream ended and no next member began */
  int z_any;          /* inflate took input without failing */
  z_stream z;
  unsigned char out[OUT_BUF];
};

int cr_decode_new(int chunked, const char *coding, struct cr_decode **out)
{
  struct cr_decode *d = calloc(1, sizeof(*d));

  *out = NULL;
  if(!d)
    return CR_ENOMEM;
  d->chunked = chunked;
  d->kind = K_IDENTITY;
  if(coding) {
    while(*coding == ' ' || *coding == '\t')
      coding++;
    /* One coding is all that crawlers and browsers meet; a list names
     * them in the order applied, and we asked for gzip or deflate. */
    if(!strncasecmp(coding, "gzip", 4) || !strncasecmp(coding, "x-gzip", 6))
      d->kind = K_ZLIB;
    else if(!strncasecmp(coding, "deflate", 7)) {
      d->kind = K_ZLIB;
      d->deflate = 1;
    }
  }
  if(d->kind == K_ZLIB) {
    /* 15 + 32: a gzip or zlib header, whichever comes. */
    if(inflateInit2(&d->z, 15 + 32) != Z_OK) {
      free(d);
      return CR_ENOMEM;
    }
    d->z_ready = 1;
  }
  *out = d;
  return 0;
}

void cr_decode_free(struct cr_decode **pd)
{
  if(!pd || !*pd)
    return;
  if((*pd)->z_ready)
    inflateEnd(&(*pd)->z);
  free(*pd);
  *pd = NULL;
}

int cr_decode_done(const struct cr_decode *d)
{
  return d->chunked && d->cs == C_DONE;
}

/* Content coding: n payload bytes to the content callback. */
static int content(struct cr_decode *d, const unsigned char *p, size_t n, cr_decode_cb cb,
                   void *arg, const char **why)
{
  int rc;

  if(!cb || !n)
    return 0;
  if(d->kind == K_IDENTITY)
    return cb(arg, (const char *)p, n);
  d->z.next_in = (unsigned char *)p;
  d->z.avail_in = (uInt)n;
  while(d->z.avail_in) {
    int zr;
    size_t got;

    if(d->z_ended) {
      /* Another gzip member may follow (RFC 1952 allows several);
       * anything else after the end is ignored, as libcurl does. */
      if(d->z.next_in[0] != 0x1f || inflateReset(&d->z) != Z_OK)
        return 0;
      d->z_ended = 0;
    }
    d->z.next_out = d->out;
    d->z.avail_out = sizeof(d->out);
    zr = inflate(&d->z, Z_NO_FLUSH);
    if(zr == Z_DATA_ERROR && d->deflate && !d->z_any) {
      /* "deflate" is meant to be zlib-wrapped; some servers send it raw,
       * and clients (libcurl too) accept that. */
      const unsigned char *again = p;
      size_t again_n = n;

      inflateEnd(&d->z);
      d->z_ready = 0;
      if(inflateInit2(&d->z, -15) != Z_OK)
        return CR_ENOMEM;
      d->z_ready = 1;
      d->deflate = 0;
      return content(d, again, again_n, cb, arg, why);
    }
    if(zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
      *why = "bad compressed data (Content-Encoding)";
      return CR_EINVAL;
    }
    d->z_any = 1;
    got = sizeof(d->out) - d->z.avail_out;
    if(got) {
      rc = cb(arg, (const char *)d->out, got);
      if(rc)
        return rc;
    }
    if(zr == Z_STREAM_END)
      d->z_ended = 1;
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
  return content(d, p, n, ccb, arg, why);
}

int cr_decode_feed(struct cr_decode *d, const char *cp, size_t n, cr_decode_cb pcb,
                   cr_decode_cb ccb, void *arg, const char **why)
{
  const unsigned char *p = (const unsigned char *)cp;
  size_t i = 0;
  int rc;

  *why = NULL;
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
          *why = "bad chunked encoding (chunk size too long)";
          return CR_EINVAL;
        }
        d->left = d->left * 16 + (uint64_t)v;
        i++;
        break;
      }
      if(!d->digits) {
        *why = "bad chunked encoding (no chunk size)";
        return CR_EINVAL;
      }
      if(c == ';' || c == ' ' || c == '\t')
        d->cs = C_EXT;
      else if(c == '\r')
        d->cs = C_SIZE_LF;
      else if(c == '\n')
        d->cs = d->left ? C_DATA : C_TRAILER;
      else {
        *why = "bad chunked encoding (junk after chunk size)";
        return CR_EINVAL;
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
        *why = "bad chunked encoding (CR without LF)";
        return CR_EINVAL;
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
        *why = "bad chunked encoding (no CRLF after chunk data)";
        return CR_EINVAL;
      }
      i++;
      break;
    case C_DATA_LF:
      if(c != '\n') {
        *why = "bad chunked encoding (no CRLF after chunk data)";
        return CR_EINVAL;
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
      /* libcurl ends the body at the framing's end; nothing follows. */
      return 0;
    }
  }
  return 0;
}
