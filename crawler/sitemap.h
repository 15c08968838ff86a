/*
 * sitemap.h - streaming reader of sitemaps (sitemaps.org protocol 0.9).
 *
 * A parser is made per sitemap file and fed its body as it arrives, like
 * the link extractor: plain XML or gzip (told by its first two bytes,
 * whatever the Content-Type says).  It never holds the file; it reports
 * each <url><loc> of a <urlset> and each <sitemap><loc> of a
 * <sitemapindex> as the element closes, with its <lastmod> if any.
 *
 * Bounded as the protocol bounds a sitemap: at most CR_SITEMAP_MAX_URLS
 * entries and CR_SITEMAP_MAX_BYTES bytes after decompression; past either
 * the parser stops and says so.  A <loc> longer than CR_SITEMAP_LOC_MAX is
 * dropped.  libxml2 parses without network access, without substituting
 * entities and without a DTD, so an XML bomb or an external entity yields
 * nothing.  Element names are matched by their local name; a file that is
 * not a sitemap (HTML, garbage) yields nothing.
 */
#ifndef CR_SITEMAP_H
#define CR_SITEMAP_H

#include <stddef.h>

#define CR_SITEMAP_MAX_URLS 50000
#define CR_SITEMAP_MAX_BYTES (50u << 20)
#define CR_SITEMAP_LOC_MAX 8192

/* Called for each entry: index is 1 for a <sitemap> of a sitemap index, 0
 * for a <url>; loc is trimmed, not resolved or checked; lastmod is NULL
 * when absent.  Both valid during the call only. */
typedef void (*cr_sitemap_cb)(void *arg, int index, const char *loc, const char *lastmod);

struct cr_sitemap;

/* Returns 0 or CR_ENOMEM. */
int cr_sitemap_new(cr_sitemap_cb cb, void *arg, struct cr_sitemap **out);

/* Feeds the next n bytes.  Returns 0 to go on, CR_EFULL once a limit was
 * reached (feed no more), CR_EINVAL for a gzip stream that is broken. */
int cr_sitemap_feed(struct cr_sitemap *s, const char *p, size_t n);

/* Ends the file: what the parser held back is reported.  Returns 0. */
int cr_sitemap_end(struct cr_sitemap *s);

/* Entries reported so far. */
unsigned cr_sitemap_count(const struct cr_sitemap *s);

/* Frees and clears *s; accepts NULL. */
void cr_sitemap_free(struct cr_sitemap **s);

#endif
