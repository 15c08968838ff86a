/*
 * url.h - URL normalization and splitting, on libcurl's URL API (curl_url).
 *
 * Pure: no I/O, no global state.  Only absolute http and https URLs come out.
 * A normalized URL has a lower-case scheme and host, no default port, no dot
 * segments, no fragment, no userinfo, a path of at least "/", and consistent
 * percent-encoding (unreserved characters decoded, other escapes upper-case
 * hex, bytes that must be escaped are escaped).  Two spellings of one
 * resource normalize to the same string, so the seen set can compare bytes.
 *
 * The details, for whoever compares these strings:
 *  - userinfo ("user:pw@") is dropped, not refused: it is not part of what
 *    the resource is, and credentials must not reach the manifest;
 *  - an international host becomes punycode ("b<U+00FC>cher.de" gives
 *    "xn--bcher-kva.de"), the same in every locale; a host that cannot is
 *    refused.  IPv6 literals are rewritten in inet_ntop's form
 *    ("[::FFFF:1.2.3.4]" -> "[::ffff:1.2.3.4]"); a zone id is refused.
 *    A trailing dot ("example.com.") is kept.  Every IPv4 form libcurl
 *    knows becomes a dotted quad ("0x7f.1" -> "127.0.0.1"); a host of
 *    digits and dots that is still none ("1.2.3.4.5") is refused;
 *  - "%2e" counts as "." when dot segments are removed, as in browsers;
 *  - raw bytes kept in the path are RFC 3986 pchar and '/' (the query also
 *    keeps '?'); anything else, including space, '"', '<', '>', '\\', '|',
 *    '^', '`', '{', '}', '[', ']' and bytes >= 0x80, is escaped, and a '%'
 *    that starts no escape becomes "%25";
 *  - an empty query ("/x?") is dropped, as curl does when it writes a URL;
 *  - port 0 is refused.
 */
#ifndef CR_URL_H
#define CR_URL_H

#include <stddef.h>

/* URLs longer than this, before or after normalization, are refused. */
#define CR_URL_MAX 8192

/* Normalizes the absolute URL in[0..len) (any bytes; not NUL-terminated).
 * An input without "scheme://" is taken as http, the way curl and wget do:
 * "example.com/x", "example.com:8080/x", "//example.com/x".  "name:" with
 * something other than a port after it is a scheme ("mailto:x" gives
 * CR_ESCHEME).  NUL and control bytes give CR_EURL ("control character in
 * URL"); nothing is trimmed.
 * On success *out is a malloc'ed NUL-terminated string the caller frees.
 * Returns 0, CR_EURL (unparsable), CR_ESCHEME (not http/https), CR_ETOOLONG,
 * CR_ENOMEM.  *reason (if reason is not NULL) receives a static message on
 * failure, such as "not http or https". */
int cr_url_normalize(const char *in, size_t len, char **out, const char **reason);

/* Resolves the reference ref[0..reflen) against the normalized absolute URL
 * base (RFC 3986 section 5), then normalizes the result as cr_url_normalize
 * does.  Same returns.  The reference is cleaned as a browser cleans an
 * href: leading and trailing spaces and control characters go, tabs and
 * newlines inside go; any other control byte, and a NUL anywhere, gives
 * CR_EURL.  "" and "#frag" give the base itself; "name:..." is a scheme
 * (no host:port guessing here), so "mailto:x" gives CR_ESCHEME. */
int cr_url_resolve(const char *base, const char *ref, size_t reflen,
                   char **out, const char **reason);

/* The parts of a normalized URL, each malloc'ed and owned by the struct. */
struct cr_url_parts {
  char *scheme;   /* "http" or "https" */
  char *host;     /* lower case; IPv6 literals keep their brackets */
  unsigned port;  /* explicit non-default port, or 0 for the scheme default */
  unsigned effective_port; /* port to connect to: port, or 80/443 */
  char *path;     /* percent-encoded, starts with '/' */
  char *query;    /* without '?', or NULL when the URL has none */
  int is_ip;      /* host is an IPv4 or IPv6 literal */
};

/* Splits a URL (normalized or not) into parts.  The parts are normalized
 * as cr_url_normalize would write them.  Returns 0, CR_EURL, CR_ESCHEME,
 * CR_ETOOLONG, CR_ENOMEM; on failure p is left empty. */
int cr_url_split(const char *url, struct cr_url_parts *p);

/* Frees the parts and zeroes the struct; accepts an empty one. */
void cr_url_parts_cleanup(struct cr_url_parts *p);

/* The parts of a normalized URL as views into the string: no copy and no
 * libcurl call, for the per-transfer path.  Only for strings that
 * cr_url_normalize or cr_url_resolve produced; anything else may return
 * CR_EURL. */
struct cr_url_view {
  const char *origin;      /* "scheme://host[:port]", a host key */
  size_t origin_len;
  const char *host;        /* IPv6 literals keep their brackets */
  size_t host_len;
  unsigned port;           /* explicit port, or 0 for the scheme default */
  unsigned effective_port; /* port, or 80/443 */
  const char *path;        /* starts with '/' */
  size_t path_len;
  const char *query;       /* after '?', or NULL when there is none */
  size_t query_len;
  int https;
  int is_ip;               /* IPv4 dotted quad or bracketed IPv6 */
};

/* Fills v from the normalized URL url.  Returns 0 or CR_EURL. */
int cr_url_view(const char *url, struct cr_url_view *v);

#endif
