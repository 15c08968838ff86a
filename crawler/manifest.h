/*
 * manifest.h - one JSON line per URL.
 *
 * Owns the manifest stream.  Lines are buffered and flushed once per loop
 * pass (cr_manifest_flush), so a crash loses at most one pass of lines and
 * the crawl does not pay a write per page.  With the crawl state on, the
 * engine holds lines back until their journal records are written
 * (cr_manifest_hold).  The write itself stays a plain write(): the
 * manifest may be standard output (a pipe, whose reader paces us anyway).
 */
#ifndef CR_MANIFEST_H
#define CR_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

struct cr_manifest;

/* What the manifest says about one URL.  NULL strings become null. */
struct cr_record {
  const char *url;          /* as given (normalized), or the raw bad line */
  size_t url_len;           /* bytes of url when it may hold NUL; 0: strlen */
  const char *final_url;    /* after redirects */
  long status;              /* HTTP status, 0 when none */
  const char *path;         /* relative to the output directory, or NULL */
  int64_t bytes;            /* decoded body bytes saved */
  const char *content_type;
  double seconds;           /* from first attempt to the end */
  unsigned attempts;
  unsigned redirects;
  const char *error;        /* NULL on success */
  const char *skipped;      /* fetched, not saved by choice (a filter), or NULL */
  unsigned depth;           /* links followed from a seed (0 for a seed) */
  const char *referrer;     /* the page that linked here, or NULL */
  const char *etag;         /* the response's validators, or NULL */
  const char *last_modified;
  const char *change;       /* -N: "new", "changed" or "unchanged"; NULL:
                               not a re-crawl, or not saved */
};

/* Opens path for appending, or stdout for "-".  Returns 0 or CR_EIO. */
int cr_manifest_open(const char *path, struct cr_manifest **out);

/* Names the crawl every later line belongs to (copied; NULL: none), so
 * that runs appending to one manifest can be told apart. */
int cr_manifest_set_crawl(struct cr_manifest *m, const char *id);

/* Writes one line.  Returns 0 or CR_EIO/CR_ENOSPC/CR_ENOMEM. */
int cr_manifest_write(struct cr_manifest *m, const struct cr_record *r);

/* Flushes buffered lines.  Returns 0 or CR_EIO/CR_ENOSPC. */
int cr_manifest_flush(struct cr_manifest *m);

/* From now on lines are written only by the caller's flushes, so that a
 * line never reaches the file before its journal record (whose write
 * goes through the ring and completes later).  Up to 32 MiB of lines may
 * wait. */
void cr_manifest_hold(struct cr_manifest *m);

/* Bytes of lines buffered. */
size_t cr_manifest_pending(const struct cr_manifest *m);

/* Writes the first n buffered bytes (whole lines: a value from
 * cr_manifest_pending).  Returns 0 or CR_EIO/CR_ENOSPC. */
int cr_manifest_flush_part(struct cr_manifest *m, size_t n);

/* The last line cr_manifest_write formatted (newline included), valid
 * until the next write: what the crawl state records. */
void cr_manifest_last(const struct cr_manifest *m, const char **p, size_t *n);

/* Appends a line formatted earlier (a resumed crawl's), newline included.
 * Returns like cr_manifest_write. */
int cr_manifest_write_raw(struct cr_manifest *m, const char *p, size_t n);

/* The size of the manifest file now (buffered lines flushed first), or -1
 * for standard output and anything that is not a regular file. */
int64_t cr_manifest_size(struct cr_manifest *m);

/* Resuming: cuts the manifest back to size bytes, where the crawl started
 * writing it; the resumed crawl writes its lines again from there.  Does
 * nothing for a manifest that is not a regular file.  Returns 0, CR_EIO. */
int cr_manifest_truncate(struct cr_manifest *m, int64_t size);

/* Says what a line's URL should now record: returns 1 and sets *depth and
 * *referrer (NULL for none; valid until the next call) for a URL that took
 * a shorter depth after its line was written, else 0.  url is the line's
 * url field as written (JSON-escaped, which a normalized URL never is). */
typedef int (*cr_manifest_fix_cb)(void *arg, const char *url, size_t len, unsigned *depth,
                                  const char **referrer);

/* Rewrites the depth and referrer of the lines from offset start on that
 * fix says have changed, in place (the same file; the tail is rewritten
 * through an unnamed temporary file beside it).  Blocks on the disk: for
 * the end of a crawl, after the loop.  Does nothing for a manifest that is
 * not a regular file.  Returns 0, CR_EIO, CR_ENOSPC, CR_ENOMEM. */
int cr_manifest_fix(struct cr_manifest *m, const char *path, int64_t start,
                    cr_manifest_fix_cb fix, void *arg);

/* Flushes, closes (not stdout) and clears *m; accepts NULL. */
void cr_manifest_free(struct cr_manifest **m);

#endif
