/*
 * decode.h - an HTTP body as it came off the wire, made into what it
 * means: chunked transfer coding removed, then gzip or deflate content
 * coding undone.
 *
 * Used when the crawler archives (--warc): a WARC response record keeps
 * the bytes as received, so libcurl is told to decode nothing and the
 * crawler decodes for the mirror and the link parser itself.  Two outputs
 * per input: the payload (dechunked, still content-coded: what the WARC
 * payload digest covers) and the content (decoded: what is saved).
 *
 * Bounded memory: the chunk parser keeps a few bytes of state, zlib its
 * window, and content is handed on 16 KiB at a time however much a
 * compressed chunk expands (a gzip bomb costs disk or --max-size, never
 * memory).  A coding the crawler does not know (br, zstd: never asked for
 * in Accept-Encoding) passes through as it is, as wget saves it.
 */
#ifndef CR_DECODE_H
#define CR_DECODE_H

#include <stddef.h>

struct cr_decode;

/* Returns 0 to go on; anything else stops cr_decode_feed, which returns
 * it. */
typedef int (*cr_decode_cb)(void *arg, const char *p, size_t n);

/* chunked: Transfer-Encoding ends in chunked; coding: the
 * Content-Encoding header value, or NULL.  Returns 0 or CR_ENOMEM. */
int cr_decode_new(int chunked, const char *coding, struct cr_decode **out);

/* Feeds n wire bytes.  payload and content may be NULL.  Returns 0, what a
 * callback returned, or CR_EINVAL when the compressed data or the content
 * coding is bad or refused (*why then says how; static). */
int cr_decode_feed(struct cr_decode *d, const char *p, size_t n, cr_decode_cb payload,
                   cr_decode_cb content, void *arg, const char **why);

/* How the chunked framing broke, or NULL.  Such bytes are not passed on,
 * and feeding goes on quietly: libcurl parses the framing too and ends
 * the transfer with its own message. */
const char *cr_decode_bad(const struct cr_decode *d);

/* Nonzero once the chunked framing ended (the last chunk and trailers). */
int cr_decode_done(const struct cr_decode *d);

void cr_decode_free(struct cr_decode **d);

#endif
