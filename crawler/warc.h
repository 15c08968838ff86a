/*
 * warc.h - archiving what was fetched as WARC 1.1 (ISO 28500:2017).
 *
 * Files PREFIX-STAMP-NNNNN.warc.gz, STAMP the crawl's start (UTC,
 * YYYYMMDDhhmmss, the same across --resume), NNNNN a serial; a file is
 * closed and the next begun when a record would take it past the size
 * limit.  Each file starts with a warcinfo record; each record is a gzip
 * member of its own, so a reader can seek to any record.  Beside them,
 * PREFIX-STAMP.cdxj indexes every response and revisit record (pywb's
 * CDXJ: SURT key, 14-digit time, JSON with url, mime, status, digest,
 * length, offset, filename), sorted once the crawl completes.
 *
 * A transfer is captured while it runs (struct cr_warc_cap): the request
 * as libcurl sent it, the final response's header block as received, the
 * body as it came off the wire (chunked framing and content coding kept).
 * The body is compressed as it arrives, as a raw deflate stream that will
 * become the second half of its record's gzip member: a 16 KiB buffer in
 * memory, spilled to an anonymous spool file (O_TMPFILE beside the WARC
 * files) through aio.h when it grows past that.  So a body is never held
 * whole in memory and is compressed exactly once.  When the transfer
 * ends, its record pair is composed (digests known, so the WARC headers
 * can be written) and kept with the URL (struct cr_warc_recs) until the
 * URL is finished: its redirects, retried errors and final response are
 * then written together, contiguous in the file.
 *
 * Writing: cr_warc_commit reserves the records' offsets at the end of the
 * current file and hands the writes to aio.h (the spool copied a chunk at
 * a time); several commits write at once, but their callbacks run in
 * file order, each only when every byte before its end is written.  So
 * the URLs finished in the crawl state (journal.h) are always those of a
 * prefix of the WARC file, and cr_warc_position says where that prefix
 * ends: the engine journals it, and a resumed crawl cuts the files there
 * (cr_warc_opts.resume_*), removing a torn last record and records of URLs
 * it will fetch again, so that each is written once.
 *
 * Dedup: a response whose payload digest (sha1 of the entity body, as
 * the WARC standard defines it) equals one already written in this run
 * becomes a revisit record (identical-payload-digest profile) of the
 * headers only.
 */
#ifndef CR_WARC_H
#define CR_WARC_H

#include <stddef.h>
#include <stdint.h>

struct cr_aio;
struct cr_warc;
struct cr_warc_cap;
struct cr_warc_recs;

struct cr_warc_opts {
  const char *prefix;      /* path prefix of the files */
  const char *stamp;       /* YYYYMMDDhhmmss */
  uint64_t max_size;       /* bytes per file (a single bigger record gets
                              a file of its own); 0: 1 GiB */
  int level;               /* gzip level, 1..9 */
  int dedup;               /* revisit records for repeated payloads */
  const char *info;        /* warcinfo fields, "name: value\r\n" lines */
  /* Resume: the position the crawl state last recorded (resume set), or
   * a fresh start (resume 0: files of this prefix and stamp are
   * replaced). */
  int resume;
  unsigned resume_serial;
  uint64_t resume_warc_end;
  uint64_t resume_cdx_end;
};

/* Where the written prefix ends. */
struct cr_warc_pos {
  unsigned serial;
  uint64_t warc_end;       /* bytes of file serial */
  uint64_t cdx_end;        /* bytes of the index */
};

/* Opens (or, resuming, cuts back) the index and the last WARC file.
 * Start-up, so synchronous.  Returns 0, CR_EIO (message printed),
 * CR_ENOMEM. */
int cr_warc_new(const struct cr_warc_opts *o, struct cr_aio *aio, struct cr_warc **out);

/* Cuts the last file and the index to the written prefix (nothing
 * partial is left after an error or a stop), closes, clears *w.  Call
 * after the aio drained; synchronous.  sort_index: the crawl completed,
 * so the index is sorted for replay tools. */
void cr_warc_free(struct cr_warc **w, int sort_index);

void cr_warc_position(const struct cr_warc *w, struct cr_warc_pos *pos);

/* Bytes written to WARC files in this run, and revisit records. */
uint64_t cr_warc_bytes(const struct cr_warc *w);
uint64_t cr_warc_revisits(const struct cr_warc *w);

/* ---- capture of one transfer ---- */

int cr_warc_cap_new(struct cr_warc *w, struct cr_warc_cap **out);
void cr_warc_cap_free(struct cr_warc_cap **c);

/* The request headers as sent (libcurl's CURLINFO_HEADER_OUT).  A request
 * after a response began (authentication) starts the capture over. */
int cr_warc_cap_request(struct cr_warc_cap *c, const char *p, size_t n);

/* One response header line, status line and blank line included.  A
 * status line starts the block over (1xx responses are not kept). */
int cr_warc_cap_header(struct cr_warc_cap *c, const char *p, size_t n);

/* Body bytes as received.  Returns 0, CR_ENOMEM, CR_EMFILE (no file slot
 * for the spool), or an earlier spool write's error. */
int cr_warc_cap_body(struct cr_warc_cap *c, const char *p, size_t n);

/* The body is chunked: call before its first byte.  Returns 0 or
 * CR_ENOMEM. */
int cr_warc_cap_chunked(struct cr_warc_cap *c);

/* The chunked framing broke (a hostile or broken server): the entity
 * body is undefined, and the payload digest covers the body as received,
 * as archive readers fall back to. */
void cr_warc_cap_framing_broken(struct cr_warc_cap *c);

/* The payload (body without the chunked framing), for its digest. */
void cr_warc_cap_payload(struct cr_warc_cap *c, const char *p, size_t n);

/* Nonzero when the capture holds a complete response header block. */
int cr_warc_cap_has_response(const struct cr_warc_cap *c);

/* Ends the capture (*c cleared either way) and composes its request and
 * response (or revisit) records onto *recs (created if NULL).  truncated:
 * NULL, or the WARC-Truncated reason ("length", "time", "disconnect",
 * "unspecified").  Returns 0 or CR_ENOMEM. */
int cr_warc_cap_end(struct cr_warc *w, struct cr_warc_cap **c, const char *uri,
                    const char *ip, const char *truncated, struct cr_warc_recs **recs);

/* ---- writing ---- */

/* rc 0, or CR_EIO / CR_ENOSPC: the records could not be written (the
 * crawl should stop; the files keep their written prefix). */
typedef void (*cr_warc_cb)(void *arg, int rc);

/* Writes *recs (cleared) and calls cb once they and every record before
 * them are written; cb never runs inside this call.  Returns 0, or a
 * CR_E* (cb will not run; *recs is freed). */
int cr_warc_commit(struct cr_warc *w, struct cr_warc_recs **recs, cr_warc_cb cb, void *arg);

/* Drops records not written (a URL abandoned); accepts NULL. */
void cr_warc_recs_free(struct cr_warc_recs **recs);

#endif
