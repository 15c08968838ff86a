/*
 * recrawl.h - what an earlier crawl into the same directory saved, for -N.
 *
 * Read once at start from the manifest the crawl appends to: for every URL
 * the last line that saved it (2xx, or 304 from an earlier re-crawl) gives
 * its file, size, type and validators (ETag, Last-Modified).  A re-crawl
 * asks the server with If-None-Match / If-Modified-Since and keeps the file
 * on 304.  Lines that are not JSON objects, or lack a field, are skipped and
 * counted: a manifest is ours to read, but it is a file a user may edit.
 */
#ifndef CR_RECRAWL_H
#define CR_RECRAWL_H

#include <stdint.h>

#include "hash.h"

/* One URL as the earlier crawl left it. */
struct cr_prev {
  struct cr_hnode node;       /* key: url */
  char *final_url;            /* after redirects; equal to url when none */
  char *path;                 /* relative to the output directory */
  char *content_type;         /* or NULL */
  char *etag;                 /* or NULL */
  char *last_modified;        /* or NULL */
  int64_t bytes;
  int seen;                   /* fetched or kept by this crawl */
  char url[];
};

struct cr_recrawl {
  struct cr_hmap map;
  uint64_t lines;             /* lines read */
  uint64_t skipped;           /* lines that were not manifest lines */
};

/* Reads the manifest at path; a missing file is an empty history.
 * Returns 0, CR_EIO (reported on stderr), CR_ENOMEM. */
int cr_recrawl_load(const char *path, struct cr_recrawl **out);

/* The same for the lines from byte start on (a crawl's own lines, for
 * -k); start must be where a line begins. */
int cr_recrawl_load_from(const char *path, int64_t start, struct cr_recrawl **out);

/* The earlier crawl's entry for url, or NULL. */
struct cr_prev *cr_recrawl_get(const struct cr_recrawl *r, const char *url);

/* Drops the entries for which keep(arg, entry) returns 0 (their file is
 * gone or changed on disk). */
void cr_recrawl_filter(struct cr_recrawl *r, int (*keep)(void *arg, const struct cr_prev *p),
                       void *arg);

/* Entries this crawl neither fetched nor kept. */
uint64_t cr_recrawl_unseen(const struct cr_recrawl *r);

/* Frees and clears *r; accepts NULL. */
void cr_recrawl_free(struct cr_recrawl **r);

#endif
