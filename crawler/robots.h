/*
 * robots.h - robots.txt (RFC 9309), parsed and matched.
 *
 * Pure: no I/O.  cr_robots_parse takes the whole file (at most
 * CR_ROBOTS_MAX bytes are read; the rest is ignored, as RFC 9309 allows)
 * and keeps only the rules of the group that applies to our user agent:
 * the groups whose user-agent lines match our product token
 * (case-insensitive; several user-agent lines may share a group, and
 * several groups for the same agent are merged), else the "*" groups, else
 * none (everything allowed).  Allow and Disallow paths are matched against
 * the URL's path and query (percent-encoding made consistent on both
 * sides), longest match wins, Allow wins a tie, "*" matches any run of
 * characters and a trailing "$" anchors the end.  An empty Disallow allows
 * everything.  /robots.txt itself is always allowed.  Crawl-delay is kept
 * when given for the applying group.  Lines are split on CR, LF or CRLF;
 * comments (#) and unknown lines are ignored; a BOM is skipped; garbage
 * never fails the parse.
 */
#ifndef CR_ROBOTS_H
#define CR_ROBOTS_H

#include <stddef.h>

#define CR_ROBOTS_MAX (512 * 1024) /* bytes of robots.txt parsed */

struct cr_robots;

/* Parses txt[0..len) for the user agent whose product token is agent (such
 * as "crawler": the part of a User-Agent before '/').  Returns 0 or
 * CR_ENOMEM; *out is freed with cr_robots_free. */
int cr_robots_parse(const char *txt, size_t len, const char *agent,
                    struct cr_robots **out);

/* Rules that allow everything (a 4xx robots.txt) or nothing (5xx, or the
 * host unreachable).  Returns 0 or CR_ENOMEM. */
int cr_robots_allow_all(struct cr_robots **out);
int cr_robots_disallow_all(struct cr_robots **out);

/* Nonzero when the path-and-query (starting with '/', percent-encoded as in
 * a normalized URL) may be fetched. */
int cr_robots_allowed(const struct cr_robots *r, const char *path, size_t len);

/* The Crawl-delay for our group in seconds, or a negative value if none. */
double cr_robots_crawl_delay(const struct cr_robots *r);

/* Frees and clears *r; accepts NULL. */
void cr_robots_free(struct cr_robots **r);

#endif
