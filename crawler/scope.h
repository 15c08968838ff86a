/*
 * scope.h - which discovered links a recursive crawl follows.
 *
 * Pure: no I/O.  Owns the seed hosts, the --domains list, the accept and
 * reject regular expressions (POSIX extended), the --no-parent prefixes and
 * the trap guards.  A link is in scope when all of these hold:
 *  - its host is a seed's host (any port and either scheme, as wget does),
 *    or --span-hosts is on; with --domains, its host must also equal a
 *    listed domain or end with "." + one;
 *  - with --no-parent, its path starts with the directory of a seed on the
 *    same host (the seed's path up to its last '/');
 *  - it matches --accept-regex (when given) and not --reject-regex;
 *  - trap guards: at most max_url bytes, at most max_segments path
 *    segments, no path segment repeated more than max_repeat times.
 * Seeds themselves are always fetched; the scope only judges links.
 *
 * Page requisites (--page-requisites: what a saved page needs to render)
 * are judged by cr_scope_check_requisite, which keeps only the trap guards
 * and --reject-regex: a page's images and style sheets are often on
 * another host or above the seed's directory, and --accept-regex and
 * --domains describe which pages to crawl, not what those pages need.
 * The trap guards stay because a hostile page can name endless requisites
 * as easily as endless pages; --reject-regex stays because it is the one
 * way to say "never fetch this".
 */
#ifndef CR_SCOPE_H
#define CR_SCOPE_H

#include <stddef.h>

struct cr_scope;

struct cr_scope_config {
  int span_hosts;         /* follow links to any host */
  const char *domains;    /* "a.org,b.net" or NULL */
  const char *accept_re;  /* POSIX extended regex over the whole URL, or NULL */
  const char *reject_re;
  int no_parent;
  size_t max_url;         /* bytes; 0 = no cap */
  unsigned max_segments;  /* 0 = no cap */
  unsigned max_repeat;    /* 0 = no cap */
};

/* Creates a scope.  On a bad regex returns CR_EINVAL with a message in
 * err[0..errlen).  CR_ENOMEM otherwise failing. */
int cr_scope_new(const struct cr_scope_config *cfg, struct cr_scope **out,
                 char *err, size_t errlen);

/* Registers a seed (a normalized URL): its host joins the scope and, with
 * no_parent, its directory.  Returns 0, CR_EURL, CR_ENOMEM. */
int cr_scope_add_seed(struct cr_scope *s, const char *url);

/* Judges a normalized link.  Returns NULL when it is in scope, else a
 * static reason ("other host", "parent directory", "rejected by
 * --reject-regex", "URL too long", "path too deep", "repeated path
 * segment", ...). */
const char *cr_scope_check(const struct cr_scope *s, const char *url);

/* Judges a normalized link to a page requisite (see above): NULL when it
 * may be fetched, else a static reason ("URL too long", "path too deep",
 * "repeated path segment", "rejected by --reject-regex", ...). */
const char *cr_scope_check_requisite(const struct cr_scope *s, const char *url);

/* Frees and clears *s; accepts NULL. */
void cr_scope_free(struct cr_scope **s);

#endif
