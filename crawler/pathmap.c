/* pathmap.c - URL to relative file path; see pathmap.h. */
#include "pathmap.h"

#include <stdint.h>
#include <string.h>

#include "chars.h"
#include "crawler.h"
#include "hash.h"

/*
 * The encoding, one name at a time.
 *
 * A path segment is percent-decoded in full (a '%' that starts no escape is
 * a plain '%'), then each decoded byte is written
 *  - raw if it is "safe": ASCII letters, digits and - . _ ~ ! $ & ' ( ) * +
 *    , ; = : @ (the characters RFC 3986 lets a path segment hold raw, so a
 *    normalized URL's segment usually maps to itself), or if it belongs to a
 *    valid UTF-8 sequence of two to four bytes;
 *  - as "%XX" (upper-case hex) otherwise: controls, space, '%', '/', '\\',
 *    '?', '#', '"', '<', '>', '[', ']', '^', '`', '{', '|', '}', DEL and
 *    bytes of invalid UTF-8.  Shell-awkward bytes such as '$', '&', '*' and
 *    '(' stay raw: they are legal in file names, and escaping them would
 *    make common names ("a=1&b=2") unreadable.
 * So '%' in an encoded name always starts "%XX", the name decodes back to
 * the segment's bytes, and '?' never appears raw in a path name (it marks
 * the query).
 *
 * The query is written after the last name as "?QUERY".  Its escapes of
 * unreserved bytes (letters, digits, - . _ ~) are decoded; its other escapes
 * stay escaped, so "a=b%26c" (one parameter) and "a=b&c" (two) keep
 * different names.  Raw bytes follow the rules above, except that '?' may
 * stay raw (only the first '?' of a name separates).
 *
 * Names this module makes up all contain "%~", which no encoded name can:
 *  - "%~empty" for an empty segment that is not the last ("/a//b"), so it
 *    does not vanish and "/a//b" stays apart from "/a/b";
 *  - PREFIX "%~" HASH for a name longer than CR_NAME_MAX: PREFIX is the
 *    first PM_CUT bytes or fewer (never splitting a UTF-8 sequence or an
 *    escape), HASH is 16 lower-case hex digits of cr_hash64 (FNV-1a, mixed) of
 *    the whole name.  A relative path longer than CR_RELPATH_MAX keeps its
 *    host directory and becomes HOST/NAME, NAME made this way from
 *    everything after the host ('/' written "%2F" in the prefix, the hash
 *    over the path as it was).  Two long names collide only if their hashes
 *    do.
 * A decoded segment "." or ".." is written "%2E" or "%2E%2E", so neither
 * can climb.  The last segment saves as "index.html" when empty.
 *
 * The host is written with the same byte rules, taken as it is (hosts carry
 * no escapes); '[' and ']' stay raw and ':' too, but only inside a bracketed
 * IPv6 literal, so the ':' before a port is unambiguous.
 */

#define PM_CUT 200          /* bytes of a long name kept before its hash */
#define PM_EMPTY "%~empty"  /* an empty segment that is not the last */
#define PM_INDEX "index.html"

static const char pm_hex[] = "0123456789ABCDEF";

static int pm_unreserved(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* ASCII bytes written raw in a name; see the comment at the top. */
static int pm_safe(unsigned char c)
{
  if(pm_unreserved(c))
    return 1;
  switch(c) {
  case '!': case '$': case '&': case '\'': case '(': case ')':
  case '*': case '+': case ',': case ';': case '=': case ':': case '@':
    return 1;
  default:
    return 0;
  }
}

static int pm_put_escape(struct cr_buf *b, unsigned char c)
{
  char esc[3];

  esc[0] = '%';
  esc[1] = pm_hex[c >> 4];
  esc[2] = pm_hex[c & 15];
  return cr_buf_append(b, esc, 3);
}

/* Appends bytes s[0..n) encoded.  extra lists further ASCII bytes to keep
 * raw (for the host and the query). */
static int pm_encode(struct cr_buf *b, const unsigned char *s, size_t n,
                     const char *extra)
{
  size_t i = 0;
  int rc = 0;

  while(i < n && rc == 0) {
    unsigned char c = s[i];
    size_t u;

    if(c < 0x80) {
      if(pm_safe(c) || (c != '\0' && strchr(extra, c)))
        rc = cr_buf_putc(b, (char)c);
      else
        rc = pm_put_escape(b, c);
      i++;
      continue;
    }
    u = cr_utf8_len(s + i, n - i);
    if(u) {
      rc = cr_buf_append(b, s + i, u);
      i += u;
    }
    else {
      rc = pm_put_escape(b, c);
      i++;
    }
  }
  return rc;
}

/* Percent-decodes s[0..n) into dec (reset first). */
static int pm_decode(const char *s, size_t n, struct cr_buf *dec)
{
  size_t i;
  int rc = 0;

  cr_buf_reset(dec);
  for(i = 0; i < n && rc == 0; i++) {
    unsigned char c = (unsigned char)s[i];
    if(cr_is_escape(s + i, n - i)) {
      c = cr_unescape(s + i);
      i += 2;
    }
    rc = cr_buf_putc(dec, (char)c);
  }
  return rc;
}

/* Appends the query's encoding (see the comment at the top). */
static int pm_encode_query(struct cr_buf *b, const char *q, size_t n)
{
  const unsigned char *s = (const unsigned char *)q;
  size_t i = 0;
  size_t run;
  int rc = 0;

  while(i < n && rc == 0) {
    if(cr_is_escape(q + i, n - i)) {
      unsigned char v = cr_unescape(q + i);
      if(pm_unreserved(v))
        rc = cr_buf_putc(b, (char)v);
      else
        rc = pm_put_escape(b, v);
      i += 3;
      continue;
    }
    /* A run of raw bytes up to the next '%' goes through the byte rules
     * (a lone '%' is a raw byte too and comes out as "%25"). */
    run = 1;
    while(i + run < n && s[i + run] != '%')
      run++;
    rc = pm_encode(b, s + i, run, "?");
    i += run;
  }
  return rc;
}

/* Appends the made-up short form of name[0..n): a prefix of at most PM_CUT
 * bytes, "%~", and the hash of hsrc[0..hn).  The cut never splits a UTF-8
 * sequence or a "%XX" escape, so the prefix stays valid text.  A '/' in the
 * prefix is written "%2F". */
static int pm_shorten(struct cr_buf *b, const char *name, size_t n,
                      const char *hsrc, size_t hn)
{
  static const char lhex[] = "0123456789abcdef";
  uint64_t h = cr_hash64(hsrc, hn);
  char tail[18];
  size_t cut = n < PM_CUT ? n : PM_CUT;
  size_t i;
  size_t out = 0;
  int rc = 0;
  int k;

  /* Each '/' grows to three bytes, so the prefix is measured as written. */
  for(i = 0; i < cut; i++) {
    out += name[i] == '/' ? 3 : 1;
    if(out > PM_CUT) {
      cut = i;
      break;
    }
  }
  while(cut > 0 && cut < n && ((unsigned char)name[cut] & 0xC0) == 0x80)
    cut--;
  if(cut >= 1 && name[cut - 1] == '%')
    cut -= 1;
  else if(cut >= 2 && name[cut - 2] == '%')
    cut -= 2;
  for(i = 0; i < cut && rc == 0; i++) {
    if(name[i] == '/')
      rc = cr_buf_append(b, "%2F", 3);
    else
      rc = cr_buf_putc(b, name[i]);
  }
  tail[0] = '%';
  tail[1] = '~';
  for(k = 0; k < 16; k++)
    tail[2 + k] = lhex[(h >> (60 - 4 * k)) & 15];
  if(rc == 0)
    rc = cr_buf_append(b, tail, sizeof(tail));
  return rc;
}

/* Appends name[0..n), or its short form when it is too long. */
static int pm_put_name(struct cr_buf *b, const char *name, size_t n)
{
  if(n <= CR_SEG_MAX)
    return cr_buf_append(b, name, n);
  return pm_shorten(b, name, n, name, n);
}

/* Builds, into name (reset first), the name for one path segment seg[0..n):
 * last says whether it is the file name.  query is appended to the last. */
static int pm_segment(struct cr_buf *name, struct cr_buf *dec, const char *seg,
                      size_t n, int last, const char *query)
{
  int rc;

  cr_buf_reset(name);
  rc = pm_decode(seg, n, dec);
  if(rc)
    return rc;
  if(dec->len == 0)
    rc = cr_buf_puts(name, last ? PM_INDEX : PM_EMPTY);
  else if(dec->len == 1 && dec->data[0] == '.')
    rc = cr_buf_puts(name, "%2E");
  else if(dec->len == 2 && memcmp(dec->data, "..", 2) == 0)
    rc = cr_buf_puts(name, "%2E%2E");
  else
    rc = pm_encode(name, (const unsigned char *)dec->data, dec->len, "");
  if(rc == 0 && last && query) {
    rc = cr_buf_putc(name, '?');
    if(rc == 0)
      rc = pm_encode_query(name, query, strlen(query));
  }
  return rc;
}

/* Builds the host directory's name into name (reset first). */
static int pm_host(struct cr_buf *name, const char *host, unsigned port)
{
  size_t n = strlen(host);
  int bracketed = n >= 2 && host[0] == '[' && host[n - 1] == ']';
  struct cr_buf tmp;
  int rc;

  cr_buf_reset(name);
  cr_buf_init(&tmp, name->max);
  if(n == 1 && host[0] == '.')
    rc = cr_buf_puts(&tmp, "%2E");
  else if(n == 2 && memcmp(host, "..", 2) == 0)
    rc = cr_buf_puts(&tmp, "%2E%2E");
  else
    rc = pm_encode(&tmp, (const unsigned char *)host, n, bracketed ? "[]" : "");
  if(rc)
    goto done;
  if(!bracketed) {
    /* ':' is safe elsewhere but would make "a:1" port 0 look like host "a"
     * port 1; escape it here.  Rare: a valid host name has no ':'. */
    size_t i;
    for(i = 0; i < tmp.len && rc == 0; i++) {
      if(tmp.data[i] == ':')
        rc = cr_buf_append(name, "%3A", 3);
      else
        rc = cr_buf_putc(name, tmp.data[i]);
    }
  }
  else
    rc = cr_buf_append(name, tmp.data, tmp.len);
  if(rc)
    goto done;
  if(name->len + (port ? 6 : 0) > CR_SEG_MAX) {
    /* Keep room for ":PORT" by shortening the host part alone. */
    cr_buf_reset(&tmp);
    rc = pm_shorten(&tmp, name->data, name->len, name->data, name->len);
    if(rc)
      goto done;
    cr_buf_reset(name);
    rc = cr_buf_append(name, tmp.data, tmp.len);
  }
  if(rc == 0 && port)
    rc = cr_buf_printf(name, ":%u", port);

done:
  cr_buf_cleanup(&tmp);
  return rc;
}

int cr_pathmap(const char *host, unsigned port, const char *path,
               const char *query, struct cr_buf *out)
{
  struct cr_buf rel;
  struct cr_buf name;
  struct cr_buf dec;
  size_t plen;
  size_t qlen;
  size_t cap;
  size_t hostlen;
  size_t i;
  int rc;

  if(!host || !host[0])
    return CR_EINVAL;
  if(!path)
    path = "";
  plen = strlen(path);
  qlen = query ? strlen(query) : 0;
  /* Scratch grows with the input (at most 3 bytes out per byte in, plus a
   * made-up name per '/'), so memory stays bounded by what the caller
   * holds already. */
  cap = 3 * strlen(host) + 8 * plen + 3 * qlen + 64;
  cr_buf_init(&rel, cap);
  cr_buf_init(&name, cap);
  cr_buf_init(&dec, plen + 1);

  rc = pm_host(&name, host, port);
  if(rc == 0)
    rc = cr_buf_append(&rel, name.data, name.len);
  if(rc)
    goto done;
  hostlen = rel.len;

  /* Segments are what lies between raw '/'s ("%2F" stays inside one);
   * a path without a leading '/' is read as if it had one. */
  i = plen > 0 && path[0] == '/' ? 1 : 0;
  for(;;) {
    size_t j = i;
    int last;

    while(j < plen && path[j] != '/')
      j++;
    last = j >= plen;
    rc = pm_segment(&name, &dec, path + i, j - i, last, query);
    if(rc == 0)
      rc = cr_buf_putc(&rel, '/');
    if(rc == 0)
      rc = pm_put_name(&rel, name.data, name.len);
    if(rc || last)
      break;
    i = j + 1;
  }
  if(rc)
    goto done;

  if(rel.len > CR_RELPATH_MAX) {
    /* Too deep: one made-up name under the host for everything else. */
    cr_buf_reset(&name);
    rc = pm_shorten(&name, rel.data + hostlen + 1, rel.len - hostlen - 1,
                    rel.data + hostlen + 1, rel.len - hostlen - 1);
    if(rc)
      goto done;
    rel.len = hostlen + 1;
    rc = cr_buf_append(&rel, name.data, name.len);
    if(rc)
      goto done;
  }
  rc = cr_buf_append(out, rel.data, rel.len);

done:
  cr_buf_cleanup(&dec);
  cr_buf_cleanup(&name);
  cr_buf_cleanup(&rel);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Relative references between saved files (link conversion)         */

/* Bytes a converted link holds raw.  Not '?', '#' or '%' (a browser reads
 * them as query, fragment or escape), not ':' (the first segment would
 * look like a scheme), not quotes, spaces, ',' or parentheses (the link
 * may stand unquoted in CSS url() or in a srcset list). */
static int pm_link_raw(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '$' || c == '&' ||
         c == '*' || c == '+' || c == '=' || c == '@' || c == ';';
}

int cr_pathmap_relref(const char *from, const char *to, struct cr_buf *out)
{
  size_t common = 0;  /* bytes of the directories from and to share */
  size_t i;
  int rc = 0;

  if(!*from || !*to || from[strlen(from) - 1] == '/' || to[strlen(to) - 1] == '/')
    return CR_EINVAL;
  for(i = 0; from[i] && from[i] == to[i]; i++) {
    if(from[i] == '/')
      common = i + 1;
  }
  for(i = common; from[i] && !rc; i++) {
    if(from[i] == '/')
      rc = cr_buf_puts(out, "../");
  }
  for(i = common; to[i] && !rc; i++) {
    unsigned char c = (unsigned char)to[i];

    if(c == '/' || pm_link_raw(c))
      rc = cr_buf_putc(out, (char)c);
    else {
      char esc[3] = { '%', pm_hex[c >> 4], pm_hex[c & 15] };
      rc = cr_buf_append(out, esc, 3);
    }
  }
  return rc;
}

static int pm_hexval(unsigned char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int cr_pathmap_local(const char *from, const char *ref, size_t n, struct cr_buf *out)
{
  const char *slash = strrchr(from, '/');
  size_t base = out->len;
  size_t i = 0;
  size_t end;
  int rc;

  end = 0;
  while(end < n && ref[end] != '?' && ref[end] != '#')
    end++;
  if(!end || ref[0] == '/' || ref[0] == '\\')
    return CR_EINVAL;
  /* A scheme: letters, digits, + - . before the first ':'. */
  for(i = 0; i < end && ref[i] != '/' && ref[i] != ':'; i++)
    ;
  if(i < end && ref[i] == ':')
    return CR_EINVAL;
  rc = slash ? cr_buf_append(out, from, (size_t)(slash - from) + 1) : 0;
  i = 0;
  while(!rc && i < end) {
    size_t seg = out->len;
    size_t j = i;

    while(j < end && ref[j] != '/')
      j++;
    for(; i < j && !rc; i++) {
      unsigned char c = (unsigned char)ref[i];
      int hi;
      int lo;

      if(c == '%' && i + 2 < j) {
        hi = pm_hexval((unsigned char)ref[i + 1]);
        lo = pm_hexval((unsigned char)ref[i + 2]);
        if(hi >= 0 && lo >= 0) {
          c = (unsigned char)(hi << 4 | lo);
          i += 2;
        }
      }
      if(c == '/' || c == 0)
        return CR_EINVAL;  /* "%2F" names no file a browser opens */
      rc = cr_buf_putc(out, (char)c);
    }
    if(rc)
      break;
    /* The segment just written: ".", ".." or a name. */
    if(out->len - seg == 1 && out->data[seg] == '.') {
      out->len = seg;
    }
    else if(out->len - seg == 2 && !memcmp(out->data + seg, "..", 2)) {
      size_t k;

      out->len = seg;
      if(out->len == base)
        return CR_EINVAL;
      /* Back over "dir/". */
      k = out->len - 1;
      while(k > base && out->data[k - 1] != '/')
        k--;
      out->len = k;
    }
    else if(j < end) {
      rc = cr_buf_putc(out, '/');
    }
    if(j < end)
      i = j + 1;
  }
  if(!rc && (out->len == base || out->data[out->len - 1] == '/'))
    rc = CR_EINVAL;
  if(!rc && out->data)
    out->data[out->len] = '\0';
  return rc;
}
