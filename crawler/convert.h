/*
 * convert.h - link conversion (-k) once a crawl is complete.
 *
 * Reads the crawl's own manifest lines (from where the crawl began writing
 * them, so a resumed crawl's replayed lines count) for the map URL -> saved
 * path: a line's url and its final_url (after redirects) both name its
 * file.  Then every saved HTML and CSS file (by the line's Content-Type)
 * is streamed through the rewriter (rewrite.h) into a temporary file in
 * DIR/.crawler-tmp and renamed over itself, so a crash leaves each file
 * either as it was or converted; a file in which nothing changes is left
 * alone.  Each link is resolved against the page's final URL (or its
 * <base href>) and becomes
 *  - the relative path to the file that URL was saved as, escaped for a
 *    browser, with the link's own #fragment;
 *  - left as it is when it already names a saved file relative to this one
 *    (a file converted before: converting is idempotent);
 *  - otherwise the absolute URL, as wget does.
 * A <base href> becomes the file's own name, so that the relative links
 * resolve against the file.  Links that are not http(s) (mailto:, data:,
 * javascript:) and bare #fragments stay as they are.
 *
 * Memory: the map (one entry per saved URL) and one file's rewriter; no
 * file is held whole.  Blocks on the disk: for after the event loop.
 */
#ifndef CR_CONVERT_H
#define CR_CONVERT_H

#include <stdint.h>

struct cr_convert_stats {
  uint64_t files;     /* HTML and CSS files read */
  uint64_t changed;   /* of those, files rewritten */
  uint64_t links;     /* links replaced */
  uint64_t failed;    /* files left as they were after an error */
};

/* Converts the files saved under dir by the manifest lines at
 * manifest_path from byte start on.  Errors on one file leave that file
 * as it was (reported on stderr) and the others go on.  Returns 0,
 * CR_EIO (the manifest or dir cannot be read), CR_ENOMEM. */
int cr_convert_run(const char *dir, const char *manifest_path, int64_t start,
                   struct cr_convert_stats *st);

#endif
