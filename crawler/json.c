/* json.c - JSON text for the manifest; see json.h. */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chars.h"
#include "crawler.h"

/* The escape for an ASCII byte, written to esc (7 bytes), or 0 when the
 * byte goes out as it is.  DEL is escaped too: it is a control character
 * and the manifest is read by people as well as programs. */
static size_t json_ascii_escape(unsigned char c, char *esc)
{
  static const char hex[] = "0123456789abcdef";
  const char *two = NULL;

  switch(c) {
  case '"':
    two = "\\\"";
    break;
  case '\\':
    two = "\\\\";
    break;
  case '\b':
    two = "\\b";
    break;
  case '\f':
    two = "\\f";
    break;
  case '\n':
    two = "\\n";
    break;
  case '\r':
    two = "\\r";
    break;
  case '\t':
    two = "\\t";
    break;
  default:
    break;
  }
  if(two) {
    memcpy(esc, two, 2);
    return 2;
  }
  if(c >= 0x20 && c != 0x7f)
    return 0;
  memcpy(esc, "\\u00", 4);
  esc[4] = hex[c >> 4];
  esc[5] = hex[c & 15];
  return 6;
}

/* Writes the string's body.  Runs of bytes that need no change are copied
 * in one append. */
static int json_str_body(struct cr_buf *b, const unsigned char *s, size_t n)
{
  size_t i = 0;
  size_t run = 0; /* start of the pending run of plain bytes */
  int rc = 0;

  while(i < n) {
    char esc[8];
    size_t elen = 0;
    size_t step = 1;
    const char *rep = NULL;

    if(s[i] < 0x80) {
      elen = json_ascii_escape(s[i], esc);
      if(elen)
        rep = esc;
    }
    else {
      step = cr_utf8_len(s + i, n - i);
      if(step == 0) {
        /* One U+FFFD per byte that starts no valid sequence. */
        rep = "\xEF\xBF\xBD";
        elen = 3;
        step = 1;
      }
      else if(step == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 &&
              (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
        /* U+2028/U+2029 are valid JSON but end lines in JavaScript. */
        rep = s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
        elen = 6;
      }
    }
    if(rep) {
      if(i > run)
        rc = cr_buf_append(b, s + run, i - run);
      if(rc == 0)
        rc = cr_buf_append(b, rep, elen);
      if(rc)
        return rc;
      run = i + step;
    }
    i += step;
  }
  if(i > run)
    rc = cr_buf_append(b, s + run, i - run);
  return rc;
}

/* Undoes a partial write, so a failed call leaves the buffer as it was. */
static int json_restore(struct cr_buf *b, size_t len, int rc)
{
  if(rc && b->data) {
    b->len = len;
    b->data[len] = '\0';
  }
  return rc;
}

int cr_json_str(struct cr_buf *b, const char *s, size_t n)
{
  size_t len0 = b->len;
  int rc;

  rc = cr_buf_putc(b, '"');
  if(rc == 0 && n)
    rc = json_str_body(b, (const unsigned char *)s, n);
  if(rc == 0)
    rc = cr_buf_putc(b, '"');
  return json_restore(b, len0, rc);
}

int cr_json_str_or_null(struct cr_buf *b, const char *s)
{
  if(!s)
    return cr_buf_puts(b, "null");
  return cr_json_str(b, s, strlen(s));
}

int cr_json_key(struct cr_buf *b, const char *key, int first)
{
  size_t len0 = b->len;
  int rc = 0;

  if(!first)
    rc = cr_buf_putc(b, ',');
  if(rc == 0)
    rc = cr_json_str(b, key, strlen(key));
  if(rc == 0)
    rc = cr_buf_putc(b, ':');
  return json_restore(b, len0, rc);
}

/*
 * Numbers are written with "%.15g": 15 significant digits is DBL_DIG, the
 * most that survive a decimal -> double -> decimal trip, so values come out
 * as they were meant (0.1 + 0.2 prints 0.3, not 0.30000000000000004) while
 * seconds keep far more than microsecond precision.  Large or tiny values
 * use an exponent ("1e+20"), which JSON accepts.
 */
int cr_json_double(struct cr_buf *b, double v)
{
  char tmp[64];
  char num[64];
  size_t i;
  size_t o = 0;
  int n;

  if(!isfinite(v))
    return cr_buf_puts(b, "null");
  n = snprintf(tmp, sizeof(tmp), "%.15g", v);
  if(n < 0 || (size_t)n >= sizeof(tmp))
    return CR_EINVAL;
  /* printf follows LC_NUMERIC, which a front end may have set to a locale
   * with a decimal comma.  Whatever sits between the digits and is not
   * part of a number becomes the one '.' JSON knows. */
  for(i = 0; i < (size_t)n; i++) {
    char c = tmp[i];
    if((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')
      num[o++] = c;
    else if(o == 0 || num[o - 1] != '.')
      num[o++] = '.';
  }
  return cr_buf_append(b, num, o);
}

int cr_json_int(struct cr_buf *b, int64_t v)
{
  return cr_buf_printf(b, "%" PRId64, v);
}

/* ---- reading ---- */

struct json_rd {
  const char *p;
  const char *end;
};

static void json_ws(struct json_rd *r)
{
  while(r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

static int json_hex4(const char *p, unsigned *out)
{
  unsigned v = 0;
  int i;

  for(i = 0; i < 4; i++) {
    int c = (unsigned char)p[i];

    v <<= 4;
    if(c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if(c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if(c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static int json_put_cp(struct cr_buf *b, unsigned cp)
{
  char o[4];
  size_t n;

  if(cp < 0x80) {
    o[0] = (char)cp;
    n = 1;
  }
  else if(cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  }
  else if(cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  }
  else {
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return cr_buf_append(b, o, n);
}

/* A string at r->p (on its opening quote), decoded into b (reset first). */
static int json_read_str(struct json_rd *r, struct cr_buf *b)
{
  int rc = 0;

  cr_buf_reset(b);
  if(r->p >= r->end || *r->p != '"')
    return CR_EINVAL;
  r->p++;
  while(!rc) {
    const char *run = r->p;
    unsigned cp;

    while(r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20)
      r->p++;
    if(r->p > run)
      rc = cr_buf_append(b, run, (size_t)(r->p - run));
    if(rc)
      break;
    if(r->p >= r->end || (unsigned char)*r->p < 0x20)
      return CR_EINVAL;
    if(*r->p == '"') {
      r->p++;
      return 0;
    }
    if(r->end - r->p < 2)
      return CR_EINVAL;
    r->p++;
    switch(*r->p++) {
    case '"': rc = cr_buf_putc(b, '"'); break;
    case '\\': rc = cr_buf_putc(b, '\\'); break;
    case '/': rc = cr_buf_putc(b, '/'); break;
    case 'b': rc = cr_buf_putc(b, '\b'); break;
    case 'f': rc = cr_buf_putc(b, '\f'); break;
    case 'n': rc = cr_buf_putc(b, '\n'); break;
    case 'r': rc = cr_buf_putc(b, '\r'); break;
    case 't': rc = cr_buf_putc(b, '\t'); break;
    case 'u':
      if(r->end - r->p < 4 || json_hex4(r->p, &cp))
        return CR_EINVAL;
      r->p += 4;
      if(cp >= 0xD800 && cp < 0xDC00) {
        unsigned lo;

        if(r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' &&
           !json_hex4(r->p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
          r->p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        else
          cp = 0xFFFD;
      }
      else if(cp >= 0xDC00 && cp < 0xE000)
        cp = 0xFFFD;
      rc = json_put_cp(b, cp);
      break;
    default:
      return CR_EINVAL;
    }
  }
  return rc == CR_EFULL ? CR_EINVAL : rc;
}

static int json_word(struct json_rd *r, const char *w)
{
  size_t n = strlen(w);

  if((size_t)(r->end - r->p) < n || memcmp(r->p, w, n))
    return 0;
  r->p += n;
  return 1;
}

int cr_json_walk(const char *p, size_t n, size_t max, cr_json_member_cb cb, void *arg)
{
  struct json_rd r = { p, p + n };
  struct cr_buf key;
  struct cr_buf val;
  int rc = 0;

  cr_buf_init(&key, max);
  cr_buf_init(&val, max);
  json_ws(&r);
  if(r.p >= r.end || *r.p++ != '{') {
    rc = CR_EINVAL;
    goto done;
  }
  json_ws(&r);
  if(r.p < r.end && *r.p == '}') {
    r.p++;
    goto tail;
  }
  for(;;) {
    enum cr_json_type type;
    const char *v0;

    json_ws(&r);
    rc = json_read_str(&r, &key);
    if(rc)
      goto done;
    json_ws(&r);
    if(r.p >= r.end || *r.p++ != ':') {
      rc = CR_EINVAL;
      goto done;
    }
    json_ws(&r);
    if(r.p >= r.end) {
      rc = CR_EINVAL;
      goto done;
    }
    v0 = r.p;
    if(*r.p == '"') {
      rc = json_read_str(&r, &val);
      if(rc)
        goto done;
      type = CR_JSON_STRING;
    }
    else {
      if(json_word(&r, "null"))
        type = CR_JSON_NULL;
      else if(json_word(&r, "true") || json_word(&r, "false"))
        type = CR_JSON_BOOL;
      else {
        while(r.p < r.end && strchr("+-.0123456789eE", *r.p))
          r.p++;
        if(r.p == v0) {
          rc = CR_EINVAL;
          goto done;
        }
        type = CR_JSON_NUMBER;
      }
      cr_buf_reset(&val);
      rc = cr_buf_append(&val, v0, (size_t)(r.p - v0));
      if(rc) {
        rc = rc == CR_EFULL ? CR_EINVAL : rc;
        goto done;
      }
    }
    rc = cb(arg, key.data ? key.data : "", type, val.data ? val.data : "", val.len);
    if(rc)
      goto done;
    json_ws(&r);
    if(r.p < r.end && *r.p == ',') {
      r.p++;
      continue;
    }
    if(r.p < r.end && *r.p == '}') {
      r.p++;
      break;
    }
    rc = CR_EINVAL;
    goto done;
  }
tail:
  json_ws(&r);
  if(r.p != r.end)
    rc = CR_EINVAL;

done:
  cr_buf_cleanup(&key);
  cr_buf_cleanup(&val);
  return rc;
}
