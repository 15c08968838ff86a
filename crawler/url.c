/* url.c - URL normalization and splitting on libcurl's URL API; see url.h. */
#include "url.h"

#include <arpa/inet.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "chars.h"
#include "crawler.h"

/*
 * How the work is split between curl and this file.
 *
 * curl parses: it finds the scheme, userinfo, host, port, path, query and
 * fragment, validates and percent-decodes the host, turns numeric IPv4 forms
 * ("0x7f.1") into dotted quads, converts international names to punycode and
 * merges relative references.  Everything that makes two spellings compare
 * equal is done here, because curl 7.88 leaves it undone or does it in a way
 * that changes meaning:
 *  - it keeps the host's case and the IPv6 spelling ("[::FFFF:1.2.3.4]");
 *  - its dot-segment removal runs before "%2e" is decoded, so "/a/%2e%2e/../b"
 *    would become "/a/b" where a browser (and we) get "/b".  We set
 *    CURLU_PATH_AS_IS and remove dot segments ourselves after decoding;
 *  - CURLU_URLENCODE writes lower-case hex and turns a space in the query
 *    into '+', which a server reads as a literal plus.  So we do not use it:
 *    spaces and bytes >= 0x80 are escaped here before curl sees the string
 *    (curl percent-decodes the host, so an international host survives), and
 *    the path and query are re-encoded after curl returns them.
 */

/* Every curl_url_set: keep "." and ".." for our own removal (see above). */
#define URL_SET_FLAGS ((unsigned)CURLU_PATH_AS_IS)

/* Scratch cap for one component while it is re-encoded.  Escaping can triple
 * the input and a resolved path holds base and reference, so this is well
 * above CR_URL_MAX; the joined result is checked against CR_URL_MAX. */
#define URL_PART_MAX (8 * CR_URL_MAX)

static const char url_hex[] = "0123456789ABCDEF";

/* Sets *reason (when wanted) and returns code, so failures read as one line. */
static int url_fail(const char **reason, const char *msg, int code)
{
  if(reason)
    *reason = msg;
  return code;
}

static int url_is_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int url_is_digit(unsigned char c)
{
  return c >= '0' && c <= '9';
}

static unsigned char url_lower(unsigned char c)
{
  if(c >= 'A' && c <= 'Z')
    return (unsigned char)(c - 'A' + 'a');
  return c;
}

/* RFC 3986 unreserved: the only bytes whose escapes mean the same as the
 * bytes themselves, so the only ones we decode. */
static int url_unreserved(unsigned char c)
{
  return url_is_alpha(c) || url_is_digit(c) || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/* Bytes kept raw in a normalized path (RFC 3986 pchar and '/') or query
 * (also '?').  Anything else printable is escaped, so "/a|b" and "/a%7Cb"
 * compare equal. */
static int url_raw_ok(unsigned char c, int query)
{
  if(url_unreserved(c))
    return 1;
  switch(c) {
  case '!': case '$': case '&': case '\'': case '(': case ')':
  case '*': case '+': case ',': case ';': case '=':
  case ':': case '@': case '/':
    return 1;
  case '?':
    return query;
  default:
    return 0;
  }
}

/* Case-insensitive: is s[0..n) "http" or "https"? */
static int url_is_http(const char *s, size_t n)
{
  static const char http[] = "https";
  size_t i;

  if(n != 4 && n != 5)
    return 0;
  for(i = 0; i < n; i++) {
    if(url_lower((unsigned char)s[i]) != (unsigned char)http[i])
      return 0;
  }
  return 1;
}

/* Length of a leading RFC 3986 scheme followed by ':', or 0 if none. */
static size_t url_scheme_len(const char *s, size_t n)
{
  size_t i;

  if(n == 0 || !url_is_alpha((unsigned char)s[0]))
    return 0;
  for(i = 1; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(!url_is_alpha(c) && !url_is_digit(c) && c != '+' && c != '-' && c != '.')
      break;
  }
  if(i < n && s[i] == ':')
    return i;
  return 0;
}

/* Does s[0..n), the text after a "name:", look like a port ("8080", "",
 * "8080/x", "80?q")?  Then "name:" was a host, not a scheme. */
static int url_port_follows(const char *s, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    if(s[i] == '/' || s[i] == '?' || s[i] == '#')
      return 1;
    if(!url_is_digit((unsigned char)s[i]))
      return 0;
  }
  return 1;
}

/* Refuses NUL and control bytes: they never belong in a URL, and a NUL
 * would end the string curl sees early. */
static int url_check_bytes(const char *s, size_t n, const char **reason)
{
  size_t i;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c < 0x20 || c == 0x7f)
      return url_fail(reason, "control character in URL", CR_EURL);
  }
  return 0;
}

/* Copies s[0..n) after prefix into a new NUL-terminated string for curl,
 * escaping space and bytes >= 0x80 (upper-case hex) so curl stores them
 * unchanged.  Returns 0 or CR_ENOMEM. */
static int url_curl_string(const char *prefix, const char *s, size_t n, char **out)
{
  size_t plen = strlen(prefix);
  size_t extra = 0;
  size_t i;
  size_t o;
  char *p;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c == ' ' || c >= 0x80)
      extra += 2;
  }
  /* n <= CR_URL_MAX was checked, so this cannot overflow. */
  p = malloc(plen + n + extra + 1);
  if(!p)
    return CR_ENOMEM;
  memcpy(p, prefix, plen);
  o = plen;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c == ' ' || c >= 0x80) {
      p[o++] = '%';
      p[o++] = url_hex[c >> 4];
      p[o++] = url_hex[c & 15];
    }
    else
      p[o++] = (char)c;
  }
  p[o] = '\0';
  *out = p;
  return 0;
}

/* Translates a curl_url_set/get failure. */
static int url_curl_fail(CURLUcode uc, const char **reason)
{
  switch(uc) {
  case CURLUE_OUT_OF_MEMORY:
    return url_fail(reason, "out of memory", CR_ENOMEM);
  case CURLUE_UNSUPPORTED_SCHEME:
    return url_fail(reason, "not http or https", CR_ESCHEME);
  case CURLUE_BAD_PORT_NUMBER:
    return url_fail(reason, "bad port", CR_EURL);
  case CURLUE_NO_HOST:
    return url_fail(reason, "empty host", CR_EURL);
#if LIBCURL_VERSION_NUM >= 0x075100 /* these codes came in 7.81.0 */
  case CURLUE_BAD_SCHEME:
    return url_fail(reason, "not http or https", CR_ESCHEME);
  case CURLUE_BAD_HOSTNAME:
    return url_fail(reason, "bad host name", CR_EURL);
  case CURLUE_BAD_IPV6:
    return url_fail(reason, "bad IPv6 address", CR_EURL);
#endif
  default:
    /* curl_url_strerror returns static text, as *reason requires. */
    return url_fail(reason, curl_url_strerror(uc), CR_EURL);
  }
}

/* Appends s[0..n) re-encoded: escapes of unreserved bytes decoded, other
 * escapes in upper-case hex, a '%' that starts no escape written "%25",
 * bytes outside the raw set escaped. */
static int url_encode_part(struct cr_buf *b, const char *s, size_t n, int query)
{
  size_t i;
  int rc = 0;

  for(i = 0; i < n && rc == 0; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[3];

    if(cr_is_escape((const char *)s + i, n - i)) {
      unsigned char v = cr_unescape((const char *)s + i);
      i += 2;
      if(url_unreserved(v)) {
        rc = cr_buf_putc(b, (char)v);
        continue;
      }
      c = v;
    }
    else if(c != '%' && url_raw_ok(c, query)) {
      rc = cr_buf_putc(b, (char)c);
      continue;
    }
    esc[0] = '%';
    esc[1] = url_hex[c >> 4];
    esc[2] = url_hex[c & 15];
    rc = cr_buf_append(b, esc, 3);
  }
  return rc;
}

/* RFC 3986 5.2.4 remove_dot_segments, in place, on a path that starts with
 * '/'.  The output never grows, so writing behind the read position is
 * safe.  Returns the new length. */
static size_t url_remove_dots(char *p, size_t n)
{
  size_t i = 0;
  size_t o = 0;

  while(i < n) {
    size_t rest = n - i;
    size_t j;

    if(rest >= 3 && memcmp(p + i, "/./", 3) == 0) {
      i += 2;
      continue;
    }
    if(rest == 2 && memcmp(p + i, "/.", 2) == 0) {
      p[o++] = '/';
      break;
    }
    if((rest >= 4 && memcmp(p + i, "/../", 4) == 0) ||
       (rest == 3 && memcmp(p + i, "/..", 3) == 0)) {
      /* Drop the last output segment with its '/'; above the root there
       * is nothing to drop, which is what keeps "/../x" inside the site. */
      while(o > 0 && p[o - 1] != '/')
        o--;
      if(o > 0)
        o--;
      if(rest == 3) {
        p[o++] = '/';
        break;
      }
      i += 3;
      continue;
    }
    /* Copy "/segment". */
    j = i + 1;
    while(j < n && p[j] != '/')
      j++;
    memmove(p + o, p + i, j - i);
    o += j - i;
    i = j;
  }
  if(o == 0)
    p[o++] = '/';
  p[o] = '\0';
  return o;
}

/* Copies a curl string into malloc'ed memory (the parts struct is freed with
 * free(), curl's strings with curl_free()). */
static char *url_dup(const char *s, size_t n)
{
  char *p = malloc(n + 1);

  if(p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* Fetches the host as punycode.  curl 7.88 converts with idn2_lookup_ul,
 * which reads the input in the locale's charset; in the C locale every
 * non-ASCII name fails.  So the conversion runs under a thread-local UTF-8
 * locale (uselocale), leaving the process locale alone. */
static CURLUcode url_get_punycode(CURLU *h, char **host)
{
#ifdef CURLU_PUNYCODE
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  locale_t old = (locale_t)0;
  CURLUcode uc;

  if(utf8 != (locale_t)0)
    old = uselocale(utf8);
  uc = curl_url_get(h, CURLUPART_HOST, host, CURLU_PUNYCODE);
  if(utf8 != (locale_t)0) {
    uselocale(old);
    freelocale(utf8);
  }
  return uc;
#else
  (void)h;
  (void)host;
  return CURLUE_MALFORMED_INPUT;
#endif
}

/* curl reads numeric IPv4 forms ("35", "0x7f.1", "127.1") before it
 * percent-decodes the host, so "3%35" comes out as the name "35", which
 * the next parse turns into "0.0.0.35": not a fixed point.  A decoded host
 * that could be such a form (hex digits, 'x' and dots only, and not a
 * dotted quad already) is parsed once more on its own, and curl's reading
 * of it replaces *host.  Rare: real names of hex letters only are few.
 * Returns 0, or a CURLUcode when curl refuses the host on its own. */
static CURLUcode url_ipv4_again(char **host)
{
  const char *s = *host;
  size_t n = strlen(s);
  unsigned char bin[4];
  char *str = NULL;
  char *again = NULL;
  CURLU *h = NULL;
  CURLUcode uc = CURLUE_OK;
  size_t i;

  for(i = 0; i < n; i++) {
    if(cr_hexval((unsigned char)s[i]) < 0 && s[i] != 'x' && s[i] != '.')
      return CURLUE_OK;
  }
  if(inet_pton(AF_INET, s, bin) == 1)
    return CURLUE_OK;
  str = malloc(n + sizeof("http:///"));
  h = curl_url();
  if(!str || !h) {
    uc = CURLUE_OUT_OF_MEMORY;
    goto done;
  }
  memcpy(str, "http://", 7);
  memcpy(str + 7, s, n);
  memcpy(str + 7 + n, "/", 2);
  uc = curl_url_set(h, CURLUPART_URL, str, URL_SET_FLAGS);
  if(uc == CURLUE_OK)
    uc = curl_url_get(h, CURLUPART_HOST, &again, 0);
  if(uc == CURLUE_OK) {
    curl_free(*host);
    *host = again;
  }

done:
  curl_url_cleanup(h);
  free(str);
  return uc;
}

/* Fills p->host and p->is_ip from the handle. */
static int url_take_host(CURLU *h, struct cr_url_parts *p, const char **reason)
{
  char *host = NULL;
  char *zone = NULL;
  CURLUcode uc;
  size_t n;
  size_t i;
  int ascii = 1;
  int rc = 0;

  uc = curl_url_get(h, CURLUPART_HOST, &host, 0);
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  n = strlen(host);
  if(n == 0) {
    rc = url_fail(reason, "empty host", CR_EURL);
    goto done;
  }
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)host[i];

    if(c >= 0x80)
      ascii = 0;
    /* curl has decoded the host once.  It keeps a '%' that starts no
     * escape ("a%" or "a%2541" -> "a%41"), which the next parse would
     * decode again ("a%41" -> "aa"), so the result would not be
     * normalized; and it lets "%7F" through as a raw DEL.  No DNS name
     * holds either. */
    if(c == '%' || c <= 0x20 || c == 0x7f) {
      rc = url_fail(reason, "bad host name", CR_EURL);
      goto done;
    }
  }
  if(!ascii) {
    /* A name that cannot become punycode cannot be looked up either, so it
     * is refused rather than kept as UTF-8. */
    curl_free(host);
    host = NULL;
    uc = url_get_punycode(h, &host);
    if(uc) {
      rc = url_fail(reason, "bad international host name", CR_EURL);
      goto done;
    }
    n = strlen(host);
    /* IDNA mapping can turn a character into ASCII that no host may hold
     * (U+037E GREEK QUESTION MARK into ';', fullwidth forms into '/' or
     * '%'), which curl would refuse when it parses our result.  A valid
     * name comes out as letters, digits, '-' and dots. */
    for(i = 0; i < n; i++) {
      unsigned char c = (unsigned char)host[i];

      if(!url_is_alpha(c) && !url_is_digit(c) && c != '-' && c != '.' &&
         c != '_') {
        rc = url_fail(reason, "bad international host name", CR_EURL);
        goto done;
      }
    }
  }
  for(i = 0; i < n; i++)
    host[i] = (char)url_lower((unsigned char)host[i]);

  if(host[0] == '[') {
    /* One spelling per IPv6 address: inet_ntop's (RFC 5952 style). */
    char addr[INET6_ADDRSTRLEN + 2];
    unsigned char bin[16];

    uc = curl_url_get(h, CURLUPART_ZONEID, &zone, 0);
    if(uc == CURLUE_OK) {
      /* A scope id names an interface of this machine, not a site. */
      rc = url_fail(reason, "IPv6 zone id in URL", CR_EURL);
      goto done;
    }
    if(n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(addr)) {
      rc = url_fail(reason, "bad IPv6 address", CR_EURL);
      goto done;
    }
    memcpy(addr, host + 1, n - 2);
    addr[n - 2] = '\0';
    if(inet_pton(AF_INET6, addr, bin) != 1 ||
       !inet_ntop(AF_INET6, bin, addr + 1, INET6_ADDRSTRLEN)) {
      rc = url_fail(reason, "bad IPv6 address", CR_EURL);
      goto done;
    }
    addr[0] = '[';
    n = strlen(addr);
    addr[n++] = ']';
    p->host = url_dup(addr, n);
    p->is_ip = 1;
  }
  else {
    unsigned char bin[4];

    uc = url_ipv4_again(&host);
    if(uc) {
      rc = url_curl_fail(uc, reason);
      goto done;
    }
    n = strlen(host);
    p->is_ip = inet_pton(AF_INET, host, bin) == 1;
    /* libcurl has already turned every IPv4 form it knows ("0x7f.1",
     * "2130706433") into a dotted quad; digits and dots that are still not
     * one ("1.2.3.4.5", "4294967296", "127.0.0.1.") are no address and no
     * DNS name either (a top-level label is never all-numeric; browsers
     * refuse them too).  Kept, they would pass for an address downstream,
     * get no CURLOPT_RESOLVE entry, and libcurl would resolve them itself,
     * on a thread and with the system's resolver. */
    if(!p->is_ip && strspn(host, "0123456789.") == n) {
      rc = url_fail(reason, "bad IPv4 address", CR_EURL);
      goto done;
    }
    p->host = url_dup(host, n);
  }
  if(!p->host)
    rc = url_fail(reason, "out of memory", CR_ENOMEM);

done:
  curl_free(host);
  curl_free(zone);
  return rc;
}

/* Fills p->port and p->effective_port; p->scheme must be set. */
static int url_take_port(CURLU *h, struct cr_url_parts *p, const char **reason)
{
  char *port = NULL;
  CURLUcode uc;
  unsigned long v = 0;
  size_t i;
  int rc = 0;

  uc = curl_url_get(h, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
  if(uc == CURLUE_NO_PORT) {
    p->port = 0;
  }
  else if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  else {
    /* curl checked it is decimal and at most 65535; still parse strictly. */
    for(i = 0; port[i]; i++) {
      if(!url_is_digit((unsigned char)port[i]) || i >= 5) {
        rc = url_fail(reason, "bad port", CR_EURL);
        goto done;
      }
      v = v * 10 + (unsigned long)(port[i] - '0');
    }
    /* Port 0 cannot be connected to, and 0 means "default" in the parts. */
    if(i == 0 || v == 0 || v > 65535) {
      rc = url_fail(reason, "bad port", CR_EURL);
      goto done;
    }
    p->port = (unsigned)v;
  }
  if(p->port)
    p->effective_port = p->port;
  else
    p->effective_port = strcmp(p->scheme, "https") == 0 ? 443 : 80;

done:
  curl_free(port);
  return rc;
}

/* Fills p->path and p->query, re-encoded, dot segments removed. */
static int url_take_path(CURLU *h, struct cr_url_parts *p, const char **reason)
{
  struct cr_buf b;
  char *path = NULL;
  char *query = NULL;
  CURLUcode uc;
  int rc = 0;

  cr_buf_init(&b, URL_PART_MAX);
  uc = curl_url_get(h, CURLUPART_PATH, &path, 0);
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  if(path[0] != '/')
    rc = cr_buf_putc(&b, '/');
  if(rc == 0)
    rc = url_encode_part(&b, path, strlen(path), 0);
  if(rc)
    goto done;
  /* After decoding, so "%2e%2e" counts as "..". */
  b.len = url_remove_dots(b.data, b.len);
  p->path = url_dup(b.data, b.len);
  if(!p->path) {
    rc = CR_ENOMEM;
    goto done;
  }

  uc = curl_url_get(h, CURLUPART_QUERY, &query, 0);
  if(uc == CURLUE_NO_QUERY)
    goto done;
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  /* An empty query ("/x?") is dropped: curl drops it when it writes the URL
   * and servers treat "/x?" as "/x". */
  if(query[0] == '\0')
    goto done;
  cr_buf_reset(&b);
  rc = url_encode_part(&b, query, strlen(query), 1);
  if(rc)
    goto done;
  p->query = url_dup(b.data, b.len);
  if(!p->query)
    rc = CR_ENOMEM;

done:
  /* CR_EFULL and CR_ENOMEM come from our own buffers and copies. */
  if(rc == CR_EFULL)
    rc = url_fail(reason, "URL too long", CR_ETOOLONG);
  else if(rc == CR_ENOMEM)
    rc = url_fail(reason, "out of memory", CR_ENOMEM);
  curl_free(path);
  curl_free(query);
  cr_buf_cleanup(&b);
  return rc;
}

/* Reads the normalized parts out of a parsed handle.  User name, password
 * and fragment are never read: they are not part of what we fetch. */
static int url_from_handle(CURLU *h, struct cr_url_parts *p, const char **reason)
{
  char *scheme = NULL;
  CURLUcode uc;
  size_t n;
  size_t i;
  int rc = 0;

  memset(p, 0, sizeof(*p));
  uc = curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  n = strlen(scheme);
  if(!url_is_http(scheme, n)) {
    rc = url_fail(reason, "not http or https", CR_ESCHEME);
    goto done;
  }
  p->scheme = url_dup(scheme, n);
  if(!p->scheme) {
    rc = url_fail(reason, "out of memory", CR_ENOMEM);
    goto done;
  }
  for(i = 0; i < n; i++)
    p->scheme[i] = (char)url_lower((unsigned char)p->scheme[i]);
  rc = url_take_host(h, p, reason);
  if(rc == 0)
    rc = url_take_port(h, p, reason);
  if(rc == 0)
    rc = url_take_path(h, p, reason);

done:
  curl_free(scheme);
  if(rc)
    cr_url_parts_cleanup(p);
  return rc;
}

/* Writes the parts back as one string. */
static int url_join(const struct cr_url_parts *p, char **out, const char **reason)
{
  struct cr_buf b;
  int rc;

  cr_buf_init(&b, CR_URL_MAX);
  rc = cr_buf_puts(&b, p->scheme);
  if(rc == 0)
    rc = cr_buf_puts(&b, "://");
  if(rc == 0)
    rc = cr_buf_puts(&b, p->host);
  if(rc == 0 && p->port)
    rc = cr_buf_printf(&b, ":%u", p->port);
  if(rc == 0)
    rc = cr_buf_puts(&b, p->path);
  if(rc == 0 && p->query) {
    rc = cr_buf_putc(&b, '?');
    if(rc == 0)
      rc = cr_buf_puts(&b, p->query);
  }
  if(rc) {
    cr_buf_cleanup(&b);
    if(rc == CR_EFULL)
      return url_fail(reason, "URL too long", CR_ETOOLONG);
    return url_fail(reason, "out of memory", CR_ENOMEM);
  }
  *out = b.data;
  return 0;
}

/* Checks an absolute URL and returns the string to give curl: "http://" is
 * put in front of a URL without a scheme. */
static int url_prepare(const char *in, size_t len, char **str, const char **reason)
{
  const char *prefix = "";
  size_t slen;
  int rc;

  if(len > CR_URL_MAX)
    return url_fail(reason, "URL too long", CR_ETOOLONG);
  rc = url_check_bytes(in, len, reason);
  if(rc)
    return rc;
  if(len == 0)
    return url_fail(reason, "empty URL", CR_EURL);

  slen = url_scheme_len(in, len);
  if(slen == 0 && in[0] == '/' && (len < 2 || in[1] != '/')) {
    /* A bare path has no host to fetch it from. */
    return url_fail(reason, "empty host", CR_EURL);
  }
  if(slen == 0) {
    /* "example.com/x", "[::1]:8080/", "//example.com/x". */
    prefix = len >= 2 && in[0] == '/' && in[1] == '/' ? "http:" : "http://";
  }
  else if(url_is_http(in, slen)) {
    /* curl takes "http:/x" and "http:///x" like browsers do and refuses
     * "http:x"; either way it decides. */
  }
  else if(len - slen >= 3 && in[slen + 1] == '/' && in[slen + 2] == '/') {
    return url_fail(reason, "not http or https", CR_ESCHEME);
  }
  else if(url_port_follows(in + slen + 1, len - slen - 1)) {
    /* "example.com:8080/x": a host and port, not a scheme. */
    prefix = "http://";
  }
  else {
    /* "mailto:x", "javascript:...", "data:...", "urn:isbn:1". */
    return url_fail(reason, "not http or https", CR_ESCHEME);
  }
  rc = url_curl_string(prefix, in, len, str);
  if(rc)
    return url_fail(reason, "out of memory", rc);
  return 0;
}

/* Parses s into parts (the common tail of every entry point). */
static int url_parse(const char *in, size_t len, struct cr_url_parts *p,
                     const char **reason)
{
  CURLU *h = NULL;
  char *str = NULL;
  CURLUcode uc;
  int rc;

  memset(p, 0, sizeof(*p));
  rc = url_prepare(in, len, &str, reason);
  if(rc)
    goto done;
  h = curl_url();
  if(!h) {
    rc = url_fail(reason, "out of memory", CR_ENOMEM);
    goto done;
  }
  uc = curl_url_set(h, CURLUPART_URL, str, URL_SET_FLAGS);
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  rc = url_from_handle(h, p, reason);

done:
  curl_url_cleanup(h);
  free(str);
  return rc;
}

int cr_url_normalize(const char *in, size_t len, char **out, const char **reason)
{
  struct cr_url_parts p;
  int rc;

  *out = NULL;
  if(!in && len)
    return url_fail(reason, "empty URL", CR_EURL);
  rc = url_parse(in ? in : "", len, &p, reason);
  if(rc == 0)
    rc = url_join(&p, out, reason);
  cr_url_parts_cleanup(&p);
  return rc;
}

/* The WHATWG URL parser's cleanup of an href: leading and trailing C0
 * controls and spaces go, and so do tabs and newlines anywhere (HTML
 * attributes wrap).  Writes the result to a new buffer (*out, *outlen). */
static int url_clean_ref(const char *ref, size_t n, char **out, size_t *outlen)
{
  size_t a = 0;
  size_t z = n;
  size_t i;
  size_t o = 0;
  char *p;

  while(a < z && (unsigned char)ref[a] <= 0x20)
    a++;
  while(z > a && (unsigned char)ref[z - 1] <= 0x20)
    z--;
  p = malloc(z - a + 1);
  if(!p)
    return CR_ENOMEM;
  for(i = a; i < z; i++) {
    if(ref[i] != '\t' && ref[i] != '\n' && ref[i] != '\r')
      p[o++] = ref[i];
  }
  p[o] = '\0';
  *out = p;
  *outlen = o;
  return 0;
}

int cr_url_resolve(const char *base, const char *ref, size_t reflen,
                   char **out, const char **reason)
{
  struct cr_url_parts p;
  CURLU *h = NULL;
  char *clean = NULL;
  char *str = NULL;
  size_t clen = 0;
  size_t slen;
  CURLUcode uc;
  int rc;

  *out = NULL;
  memset(&p, 0, sizeof(p));
  if(!base) {
    rc = url_fail(reason, "no base URL", CR_EINVAL);
    goto done;
  }
  if(reflen > CR_URL_MAX) {
    rc = url_fail(reason, "URL too long", CR_ETOOLONG);
    goto done;
  }
  if(ref && memchr(ref, '\0', reflen)) {
    /* Checked before the cleanup below, which would strip an outer NUL. */
    rc = url_fail(reason, "control character in URL", CR_EURL);
    goto done;
  }
  rc = url_clean_ref(ref ? ref : "", ref ? reflen : 0, &clean, &clen);
  if(rc) {
    rc = url_fail(reason, "out of memory", rc);
    goto done;
  }
  rc = url_check_bytes(clean, clen, reason);
  if(rc)
    goto done;
  /* No guessing of "host:port" here: in a page, "name:" is a scheme, as it
   * is for a browser. */
  slen = url_scheme_len(clean, clen);
  if(slen && !url_is_http(clean, slen)) {
    rc = url_fail(reason, "not http or https", CR_ESCHEME);
    goto done;
  }
  if(slen && (slen + 1 == clen || clean[slen + 1] != '/') &&
     strlen(base) > slen && base[slen] == ':' && url_is_http(base, slen)) {
    /* "http:g" against an http base is the relative "g" (RFC 3986 5.2.2's
     * backward-compatible reading, and what browsers do). */
    memmove(clean, clean + slen + 1, clen - slen);
    clen -= slen + 1;
  }
  if(clen == 0 || clean[0] == '#') {
    /* RFC 3986: "" and "#frag" name the base document.  curl 7.88 gets both
     * wrong (it drops the last path segment), so they are answered here. */
    rc = cr_url_normalize(base, strlen(base), out, reason);
    goto done;
  }
  rc = url_curl_string("", clean, clen, &str);
  if(rc) {
    rc = url_fail(reason, "out of memory", rc);
    goto done;
  }

  h = curl_url();
  if(!h) {
    rc = url_fail(reason, "out of memory", CR_ENOMEM);
    goto done;
  }
  uc = curl_url_set(h, CURLUPART_URL, base, URL_SET_FLAGS);
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  /* A relative reference is merged with the base; an absolute one replaces
   * it.  Dot segments are removed afterwards, on the merged path, which is
   * what RFC 3986 5.2.2 asks for. */
  uc = curl_url_set(h, CURLUPART_URL, str, URL_SET_FLAGS);
  if(uc) {
    rc = url_curl_fail(uc, reason);
    goto done;
  }
  rc = url_from_handle(h, &p, reason);
  if(rc == 0)
    rc = url_join(&p, out, reason);

done:
  cr_url_parts_cleanup(&p);
  curl_url_cleanup(h);
  free(str);
  free(clean);
  return rc;
}

int cr_url_split(const char *url, struct cr_url_parts *p)
{
  if(!url) {
    memset(p, 0, sizeof(*p));
    return CR_EURL;
  }
  return url_parse(url, strlen(url), p, NULL);
}

void cr_url_parts_cleanup(struct cr_url_parts *p)
{
  free(p->scheme);
  free(p->host);
  free(p->path);
  free(p->query);
  memset(p, 0, sizeof(*p));
}

int cr_url_view(const char *url, struct cr_url_view *v)
{
  const char *p;
  const char *host_end;
  const char *colon = NULL;
  size_t i;

  memset(v, 0, sizeof(*v));
  if(!strncmp(url, "https://", 8)) {
    v->https = 1;
    p = url + 8;
  }
  else if(!strncmp(url, "http://", 7))
    p = url + 7;
  else
    return CR_EURL;
  v->origin = url;
  v->host = p;
  if(*p == '[') {
    host_end = strchr(p, ']');
    if(!host_end)
      return CR_EURL;
    host_end++;
    v->is_ip = 1;
  }
  else
    host_end = p + strcspn(p, ":/");
  v->host_len = (size_t)(host_end - p);
  if(!v->host_len)
    return CR_EURL;
  if(*host_end == ':')
    colon = host_end;
  v->path = colon ? strchr(colon, '/') : host_end;
  if(!v->path || *v->path != '/')
    return CR_EURL;
  v->origin_len = (size_t)(v->path - url);
  if(colon) {
    unsigned long port = 0;

    for(i = 1; colon + i < v->path; i++) {
      if(colon[i] < '0' || colon[i] > '9' || port > 65535)
        return CR_EURL;
      port = port * 10 + (unsigned long)(colon[i] - '0');
    }
    if(!port || port > 65535)
      return CR_EURL;
    v->port = (unsigned)port;
  }
  v->effective_port = v->port ? v->port : v->https ? 443 : 80;
  v->path_len = strcspn(v->path, "?");
  if(v->path[v->path_len] == '?') {
    v->query = v->path + v->path_len + 1;
    v->query_len = strlen(v->query);
  }
  if(!v->is_ip && v->host_len < INET_ADDRSTRLEN) {
    /* Normalized IPv4 is a dotted quad, but digits and dots alone do not
     * make one: curl keeps "1.2.3.4.5" and "1.2.3.4." as names.  Taking
     * those for addresses would skip c-ares and leave curl to resolve them
     * itself, so the test is the one cr_url_split makes. */
    char addr[INET_ADDRSTRLEN];
    unsigned char bin[4];

    memcpy(addr, v->host, v->host_len);
    addr[v->host_len] = '\0';
    v->is_ip = inet_pton(AF_INET, addr, bin) == 1;
  }
  return 0;
}
