/*
 * filter.h - which fetched pages are saved: wget's -A/-R file-name lists
 * and the --accept-type/--reject-type Content-Type lists.
 *
 * Pure: no I/O.  Owns the parsed lists.
 *
 * Names (-A/-R, as wget): a comma-separated list.  An entry holding a
 * wildcard ('*', '?', '[' or ']') is a glob matched against the whole file
 * name (fnmatch); any other entry matches when the name ends with it, so
 * "pdf" takes "a.pdf" (and "apdf", as in wget).  The file name is the last
 * path segment, percent-decoded; a URL ending in '/' is named "index.html",
 * the name it is saved under.  An entry matches when it matches the name
 * alone or the name with '?' and the decoded query appended: wget checks
 * the name before the download and the saved file's name (query included)
 * after it, so "-R 'index.html?*'" drops a listing's sort links but keeps
 * index.html, and "-A pdf" takes "get?f=a.pdf".  With both lists a name
 * must match -A and not -R.  Case-sensitive unless ignore_case.
 *
 * Types: "type/subtype", or "type/" followed by '*' for every subtype of
 * a type (image, text...), comma-separated, compared without case with
 * the response's Content-Type stripped of its parameters.  With
 * --accept-type a response without a Content-Type is not accepted.
 */
#ifndef CR_FILTER_H
#define CR_FILTER_H

#include <stddef.h>

struct cr_filter;

struct cr_filter_config {
  const char *accept;       /* -A list or NULL */
  const char *reject;       /* -R list or NULL */
  const char *accept_type;  /* --accept-type list or NULL */
  const char *reject_type;  /* --reject-type list or NULL */
  int ignore_case;          /* -A/-R without regard to case */
};

/* Parses the lists.  A list with an empty entry, a name entry holding '/'
 * or a malformed type gives CR_EINVAL with a message naming the flag and
 * the entry in err[0..errlen); CR_ENOMEM otherwise failing.  *out is a
 * filter even when every list is NULL (then nothing is filtered). */
int cr_filter_new(const struct cr_filter_config *cfg, struct cr_filter **out,
                  char *err, size_t errlen);

/* Nonzero when -A or -R was given. */
int cr_filter_has_names(const struct cr_filter *f);

/* Judges the file name of a normalized URL.  Returns NULL when it passes,
 * else a static reason: "not matched by --accept" or "rejected by
 * --reject". */
const char *cr_filter_name(const struct cr_filter *f, const char *url);

/* Judges a Content-Type header value (may be NULL).  Returns NULL when it
 * passes, else a static reason: "type not matched by --accept-type" or
 * "type rejected by --reject-type". */
const char *cr_filter_type(const struct cr_filter *f, const char *ctype);

/* Nonzero when a normalized URL's name suggests a page that may hold
 * links: it ends in '/', has no '.' in its last segment, or a suffix of
 * server-side or markup pages (html, htm, php, asp, jsp, cgi, ...) or css.
 * A recursive crawl fetches such a page for its links even when -A/-R
 * will not let it be saved. */
int cr_filter_may_hold_links(const char *url);

/* Frees and clears *f; accepts NULL. */
void cr_filter_free(struct cr_filter **f);

#endif
