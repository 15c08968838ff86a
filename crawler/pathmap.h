/*
 * pathmap.h - maps a URL to a relative path under the output directory.
 *
 * Pure: no I/O.  The result is HOST[:PORT]/SEGMENT/.../NAME with these
 * promises, whatever bytes the URL holds:
 *  - relative: never starts with '/', never contains an empty, "." or ".."
 *    segment, so it cannot leave the output directory;
 *  - no NUL, no control character (0x00-0x1f, 0x7f), no backslash;
 *  - every segment is at most CR_SEG_MAX bytes (NAME_MAX less room for the
 *    store's clash suffixes) and the whole path at most CR_RELPATH_MAX
 *    bytes; longer names are cut and given a hash suffix;
 *  - injective but for one case: two URLs whose decoded bytes differ get
 *    different paths, except that "/a/" and "/a/index.html" both map to
 *    "a/index.html", as in wget; the store tells them apart within a run.
 *    Percent-escapes of bytes that are safe in a file name are decoded
 *    ("%7E" -> "~"); unsafe bytes and '%' itself are written as "%XX" with
 *    upper-case hex.  So a '%' in a mapped name is always followed by two
 *    upper-case hex digits, except in names this module makes up (hash
 *    suffixes "%~", the store's clash suffixes "%~f"/"%~d"), which therefore
 *    can never equal a mapped URL.
 *  - a path ending in '/' (including the root) saves as "index.html";
 *  - a query is kept, appended to the last segment as "?QUERY" (with '/' in
 *    it escaped), so different queries give different names.  In the query
 *    only escapes of unreserved bytes are decoded, so "a=b%26c" and "a=b&c"
 *    stay apart;
 *  - an empty segment that is not the last ("/a//b") becomes the made-up
 *    name "%~empty"; a segment that decodes to "." or ".." becomes "%2E" or
 *    "%2E%2E".
 * Bytes written raw: ASCII letters, digits and - . _ ~ ! $ & ' ( ) * + , ;
 * = : @, and bytes >= 0x80 that form valid UTF-8.  Everything else is
 * "%XX".  In the host, '[' and ']' are raw too, and ':' only inside a
 * bracketed IPv6 literal.  pathmap.c has the full story.
 */
#ifndef CR_PATHMAP_H
#define CR_PATHMAP_H

#include "buf.h"

#define CR_NAME_MAX 255     /* bytes in one file name (NAME_MAX) */
#define CR_SEG_MAX (CR_NAME_MAX - 16) /* bytes of a mapped segment: the store
                                         may append "%~d", "%~f", "%~N" */
#define CR_RELPATH_MAX 3800 /* bytes in a whole relative path; below PATH_MAX
                               with room for the output directory */

/* Appends the relative path for a URL to out (which is not reset first).
 * host: lower-case host name, IPv6 literal with brackets.
 * port: explicit non-default port, or 0 (omitted from the path).
 * path: the URL path, percent-encoded, normally starting with '/'.
 * query: the query without '?', or NULL for none ("" is an empty query,
 *        distinct from none).
 * Returns 0, CR_EINVAL (empty host), CR_EFULL/CR_ENOMEM from the buffer. */
int cr_pathmap(const char *host, unsigned port, const char *path,
               const char *query, struct cr_buf *out);

/* Link conversion (-k).  Appends to out the relative reference from the
 * file at from to the file at to (both paths as the store writes them:
 * relative, '/'-separated, no empty, "." or ".." segment), written so that
 * a browser resolving it against from's file:// URL opens exactly to:
 * "../" for each directory of from not shared with to, then to's
 * remaining segments with every byte but ASCII letters, digits and
 * - . _ ~ ! $ & * + = @ ; written "%XX".  So a saved "a?b=1.html" is
 * "a%3Fb=1.html", '%' is "%25", '#' "%23", and the result is ASCII, holds
 * no quote, space, comma or parenthesis, and never looks like a scheme.
 * from equal to to gives its last name.  Returns 0, CR_EINVAL (a path
 * empty or ending in '/'), CR_EFULL/CR_ENOMEM from the buffer. */
int cr_pathmap_relref(const char *from, const char *to, struct cr_buf *out);

/* The converse, to recognise links already converted: appends to out the
 * path under the output directory that the relative reference ref[0..n)
 * names for a browser reading the file at from - path part only (up to
 * '?' or '#'), percent-decoded, "." and ".." resolved.  Returns 0, or
 * CR_EINVAL when ref has a scheme, is empty, starts with '/' or climbs out
 * of the output directory; CR_EFULL/CR_ENOMEM from the buffer. */
int cr_pathmap_local(const char *from, const char *ref, size_t n, struct cr_buf *out);

#endif
