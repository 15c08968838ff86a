/* rewrite.c - streaming link rewriting for -k; see rewrite.h.
 *
 * The HTML tokenizer is the sieve's (links.c), one byte at a time except
 * over text and comments (memchr), and with one difference of purpose:
 * every byte read is written again.  A byte goes to the output buffer,
 * or, inside a start tag, to the tag buffer, which is written when the
 * tag ends, with link values replaced.  End tags, comments and raw text
 * pass straight through; <style> text passes through the CSS rewriter.
 *
 * Why a tokenizer of its own rather than the sieve with offsets: the sieve
 * rebuilds tags for libxml2 and decodes the page to UTF-8 as it goes, so
 * its positions are not the file's; the states and their rules are the
 * same, so both read the same tags and values.
 */
#include "rewrite.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>

#include "crawler.h"

#define RW_OUT_FLUSH (64 * 1024)       /* output bytes gathered per write */
#define RW_TOK_MAX (4 * CR_LINK_MAX)   /* raw bytes of one CSS URL held */
#define RW_ATTS 32                     /* attributes of a tag remembered */
#define RW_VALUE_MAX (64 * 1024)       /* decoded value rewritten */

enum css_state {
  CSS_NORMAL = 0,
  CSS_COMMENT,
  CSS_STRING,
  CSS_IMPORT,
  CSS_URL_PRE,
  CSS_URL_RAW,
  CSS_URL_END,
  CSS_URL_BAD,
  CSS_URL_STR,
};

/* The CSS rewriter: links.c's CSS scanner, writing what it reads to sink,
 * except a URL's bytes, held in raw until the URL ends. */
struct rw_css {
  enum css_state state;
  unsigned char prev;
  unsigned char quote;  /* of the URL or string; 0: an unquoted url() */
  int esc;
  char ident[8];
  size_t identn;
  int holding;          /* a URL is being held */
  int over;             /* it was too long: written as it came */
  struct cr_buf raw;    /* the URL as written */
  struct cr_buf tok;    /* the URL as meant (escapes undone) */
  struct cr_buf *sink;
};

enum html_state {
  H_DATA = 0,
  H_LT,
  H_END_LT,
  H_TAG_NAME,
  H_BEFORE_ATTR,
  H_ATTR_NAME,
  H_AFTER_ATTR_NAME,
  H_BEFORE_VALUE,
  H_VALUE_DQ,
  H_VALUE_SQ,
  H_VALUE_UQ,
  H_AFTER_VALUE,
  H_SELF_CLOSING,
  H_MARKUP,
  H_MARKUP_DASH,
  H_BOGUS,
  H_COMMENT_START,
  H_COMMENT_START_DASH,
  H_COMMENT,
  H_COMMENT_END_DASH,
  H_COMMENT_END,
  H_COMMENT_END_BANG,
  H_RAW,
  H_PLAINTEXT,
};

/* An attribute of the tag being held: where its value lies in the tag. */
struct rw_att {
  char name[12];
  size_t namen;         /* > sizeof(name): longer than any we look for */
  size_t vs, ve;        /* the value, quotes excluded */
  unsigned char quote;  /* '"', '\'' or 0 */
  int hasval;
};

struct cr_rewrite {
  enum cr_links_type type;
  cr_rewrite_link_cb link;
  cr_rewrite_write_cb write;
  void *arg;
  int err;
  int sniffed;          /* the first bytes were looked at */
  int passthru;         /* UTF-16: everything passes unchanged */
  unsigned long count;
  struct cr_buf out;
  /* HTML */
  enum html_state st;
  int end;              /* an end tag */
  int holding;          /* the start tag is in tag */
  struct cr_buf tag;
  char name[12];
  size_t namen;
  struct rw_att atts[RW_ATTS];
  size_t natts;
  struct rw_att *cur;   /* the attribute being read, or NULL */
  const char *rawname;  /* raw text runs to "</rawname" */
  size_t rawm;          /* bytes of "</rawname" matched */
  char rawheld[12];     /* those bytes, as written */
  int rawcss;           /* the raw text is <style>'s */
  /* CSS: the stylesheet or <style> text; and one style="" value */
  struct rw_css css;
  struct rw_css css_attr;
  struct cr_buf attr_out;
  struct cr_buf val;    /* a decoded value */
  struct cr_buf repl;   /* the link callback's answer */
  struct cr_buf newval; /* a value rebuilt */
};

/* ------------------------------------------------------------------ */
/* Output                                                             */

static void rw_put(struct cr_rewrite *w, struct cr_buf *b, const void *p, size_t n)
{
  int rc;

  if(w->err || !n)
    return;
  rc = cr_buf_append(b, p, n);
  if(rc)
    w->err = rc == CR_EFULL ? CR_ENOMEM : rc;
}

static void rw_putc(struct cr_rewrite *w, struct cr_buf *b, unsigned char c)
{
  int rc;

  if(w->err)
    return;
  rc = cr_buf_putc(b, (char)c);
  if(rc)
    w->err = rc == CR_EFULL ? CR_ENOMEM : rc;
}

static void rw_flush(struct cr_rewrite *w, int all)
{
  int rc;

  if(w->err || !w->out.len || (!all && w->out.len < RW_OUT_FLUSH))
    return;
  rc = w->write(w->arg, w->out.data, w->out.len);
  if(rc)
    w->err = rc;
  cr_buf_reset(&w->out);
}

static int rw_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static unsigned char rw_lower(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Asks the link callback about ref[0..n) (trimmed here); the answer is in
 * w->repl when it returns 1. */
static int rw_ask(struct cr_rewrite *w, const char *ref, size_t n, int base)
{
  while(n && rw_space((unsigned char)ref[0])) {
    ref++;
    n--;
  }
  while(n && rw_space((unsigned char)ref[n - 1]))
    n--;
  cr_buf_reset(&w->repl);
  if(!n || n > CR_LINK_MAX)
    return 0;
  if(!w->link(w->arg, ref, n, base, &w->repl))
    return 0;
  w->count++;
  return 1;
}

/* ------------------------------------------------------------------ */
/* CSS                                                                */

static void css_init(struct rw_css *s, struct cr_buf *sink)
{
  memset(s, 0, sizeof(*s));
  cr_buf_init(&s->raw, RW_TOK_MAX);
  cr_buf_init(&s->tok, CR_LINK_MAX);
  s->sink = sink;
}

static void css_cleanup(struct rw_css *s)
{
  cr_buf_cleanup(&s->raw);
  cr_buf_cleanup(&s->tok);
}

static void css_reset(struct rw_css *s)
{
  s->state = CSS_NORMAL;
  s->prev = 0;
  s->quote = 0;
  s->esc = 0;
  s->identn = 0;
  s->holding = 0;
  s->over = 0;
  cr_buf_reset(&s->raw);
  cr_buf_reset(&s->tok);
}

static void css_tok_begin(struct rw_css *s, unsigned char quote)
{
  s->holding = 1;
  s->over = 0;
  s->quote = quote;
  cr_buf_reset(&s->raw);
  cr_buf_reset(&s->tok);
}

/* A byte of the URL as written: held, or written once the URL is over
 * its cap. */
static void css_hold(struct cr_rewrite *w, struct rw_css *s, unsigned char c)
{
  if(s->over) {
    rw_putc(w, s->sink, c);
    return;
  }
  if(cr_buf_putc(&s->raw, (char)c)) {
    rw_put(w, s->sink, s->raw.data, s->raw.len);
    rw_putc(w, s->sink, c);
    cr_buf_reset(&s->raw);
    s->over = 1;
  }
}

static void css_tok_put(struct rw_css *s, unsigned char c)
{
  if(!s->over && cr_buf_putc(&s->tok, (char)c))
    s->over = 1;  /* flushed by the next css_hold, or at the end */
}

/* Writes a replacement escaped for CSS: inside quotes, the quote, '\\'
 * and line breaks; unquoted, also parentheses, quotes and white space. */
static void css_write_repl(struct cr_rewrite *w, struct rw_css *s, const char *p, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t i;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];

    if(c == '\n' || c == '\r' || c == '\f' || (!s->quote && (c == ' ' || c == '\t'))) {
      char e[4] = { '\\', hex[c >> 4], hex[c & 15], ' ' };
      rw_put(w, s->sink, e, 4);
      continue;
    }
    if(c == '\\' || c == s->quote ||
       (!s->quote && (c == '(' || c == ')' || c == '"' || c == '\'')))
      rw_putc(w, s->sink, '\\');
    rw_putc(w, s->sink, c);
  }
}

/* The URL ended (ok: properly, so it counts): its replacement or its own
 * bytes go out. */
static void css_tok_end(struct cr_rewrite *w, struct rw_css *s, int ok)
{
  if(!s->holding)
    return;
  s->holding = 0;
  if(s->over) {
    rw_put(w, s->sink, s->raw.data, s->raw.len);
  }
  else if(ok && s->tok.len && rw_ask(w, s->tok.data, s->tok.len, 0)) {
    size_t k = s->raw.len;

    css_write_repl(w, s, w->repl.data, w->repl.len);
    /* The white space before an unquoted URL's ')' stays. */
    while(k && rw_space((unsigned char)s->raw.data[k - 1]))
      k--;
    rw_put(w, s->sink, s->raw.data + k, s->raw.len - k);
  }
  else {
    rw_put(w, s->sink, s->raw.data, s->raw.len);
  }
  cr_buf_reset(&s->raw);
  cr_buf_reset(&s->tok);
  s->over = 0;
  if(s->sink == &w->out)
    rw_flush(w, 0);
}

static int css_name_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '@' || c >= 0x80;
}

static int css_name_is(const struct rw_css *s, const char *kw)
{
  return s->identn == strlen(kw) && memcmp(s->ident, kw, s->identn) == 0;
}

/* One byte, read as links.c's css_byte reads it. */
static void css_byte(struct cr_rewrite *w, struct rw_css *s, unsigned char c)
{
  for(;;) {
    switch(s->state) {
    case CSS_NORMAL:
      if(s->prev == '/' && c == '*') {
        rw_putc(w, s->sink, c);
        s->state = CSS_COMMENT;
        s->prev = 0;
        s->identn = 0;
        return;
      }
      if(css_name_is(s, "@import") && (rw_space(c) || c == '"' || c == '\'')) {
        s->identn = 0;
        s->state = CSS_IMPORT;
        continue;
      }
      rw_putc(w, s->sink, c);
      s->prev = c;
      if(css_name_char(c)) {
        if(s->identn < sizeof(s->ident))
          s->ident[s->identn++] = (char)rw_lower(c);
        return;
      }
      if(c == '(' && css_name_is(s, "url"))
        s->state = CSS_URL_PRE;
      else if(c == '"' || c == '\'') {
        s->state = CSS_STRING;
        s->quote = c;
        s->esc = 0;
      }
      s->identn = 0;
      return;
    case CSS_COMMENT:
      rw_putc(w, s->sink, c);
      if(s->prev == '*' && c == '/') {
        s->state = CSS_NORMAL;
        s->prev = 0;
      }
      else
        s->prev = c;
      return;
    case CSS_STRING:
      rw_putc(w, s->sink, c);
      if(s->esc)
        s->esc = 0;
      else if(c == '\\')
        s->esc = 1;
      else if(c == s->quote || c == '\n')
        s->state = CSS_NORMAL;
      return;
    case CSS_IMPORT:
      if(rw_space(c)) {
        rw_putc(w, s->sink, c);
        return;
      }
      if(c == '"' || c == '\'') {
        rw_putc(w, s->sink, c);
        s->state = CSS_URL_STR;
        s->esc = 0;
        css_tok_begin(s, c);
        return;
      }
      s->state = CSS_NORMAL;
      s->prev = 0;
      continue;
    case CSS_URL_PRE:
      if(rw_space(c)) {
        rw_putc(w, s->sink, c);
        return;
      }
      if(c == '"' || c == '\'') {
        rw_putc(w, s->sink, c);
        s->state = CSS_URL_STR;
        s->esc = 0;
        css_tok_begin(s, c);
        return;
      }
      if(c == ')') {
        rw_putc(w, s->sink, c);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      s->state = CSS_URL_RAW;
      s->esc = 0;
      css_tok_begin(s, 0);
      continue;
    case CSS_URL_RAW:
      if(s->esc) {
        s->esc = 0;
        css_hold(w, s, c);
        if(c != '\n')
          css_tok_put(s, c);
        return;
      }
      if(c == '\\') {
        s->esc = 1;
        css_hold(w, s, c);
        return;
      }
      if(c == ')') {
        css_tok_end(w, s, 1);
        rw_putc(w, s->sink, c);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      if(rw_space(c)) {
        css_hold(w, s, c);
        s->state = CSS_URL_END;
        return;
      }
      if(c == '"' || c == '\'' || c == '(') {
        css_tok_end(w, s, 0);
        rw_putc(w, s->sink, c);
        s->state = CSS_URL_BAD;
        return;
      }
      css_hold(w, s, c);
      css_tok_put(s, c);
      return;
    case CSS_URL_END:
      if(rw_space(c)) {
        css_hold(w, s, c);
        return;
      }
      if(c == ')') {
        css_tok_end(w, s, 1);
        rw_putc(w, s->sink, c);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      css_tok_end(w, s, 0);
      s->state = CSS_URL_BAD;
      continue;
    case CSS_URL_BAD:
      rw_putc(w, s->sink, c);
      if(s->esc)
        s->esc = 0;
      else if(c == '\\')
        s->esc = 1;
      else if(c == ')') {
        s->state = CSS_NORMAL;
        s->prev = 0;
      }
      return;
    case CSS_URL_STR:
      if(s->esc) {
        s->esc = 0;
        css_hold(w, s, c);
        if(c != '\n' && c != '\r' && c != '\f')
          css_tok_put(s, c);
        return;
      }
      if(c == '\\') {
        s->esc = 1;
        css_hold(w, s, c);
        return;
      }
      if(c == s->quote) {
        css_tok_end(w, s, 1);
        rw_putc(w, s->sink, c);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      if(c == '\n') {
        css_tok_end(w, s, 0);
        rw_putc(w, s->sink, c);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      css_hold(w, s, c);
      css_tok_put(s, c);
      return;
    }
    return;
  }
}

static void css_run(struct cr_rewrite *w, struct rw_css *s, const char *p, size_t n)
{
  size_t i;

  for(i = 0; i < n && !w->err; i++)
    css_byte(w, s, (unsigned char)p[i]);
}

/* Ends a stylesheet: a URL cut by the end goes out as it was.  (links.c
 * still reports it; rewriting half a construct is not worth the risk.) */
static void css_finish(struct cr_rewrite *w, struct rw_css *s)
{
  css_tok_end(w, s, 0);
  css_reset(s);
}

/* ------------------------------------------------------------------ */
/* Attribute values                                                   */

static void rw_utf8(struct cr_buf *b, uint32_t cp, int *err)
{
  unsigned char o[4];
  size_t n;

  if(cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    cp = 0xFFFD;
  if(cp < 0x80) {
    o[0] = (unsigned char)cp;
    n = 1;
  }
  else if(cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | cp >> 6);
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  }
  else if(cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | cp >> 12);
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  }
  else {
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  if(cr_buf_append(b, o, n))
    *err = 1;
}

/* Decodes the character references of an attribute value into out.
 * Numeric ones with or without ';'; named ones only with their ';' (in an
 * attribute, "&copy=1" is text, as the HTML standard reads it).  Returns
 * 0, or 1 when out is full. */
static int rw_decode(const char *p, size_t n, struct cr_buf *out)
{
  size_t i = 0;
  int err = 0;

  cr_buf_reset(out);
  while(i < n && !err) {
    const char *amp = memchr(p + i, '&', n - i);
    size_t at = amp ? (size_t)(amp - p) : n;

    if(cr_buf_append(out, p + i, at - i))
      return 1;
    i = at;
    if(i >= n)
      break;
    if(i + 2 < n && p[i + 1] == '#') {
      size_t j = i + 2;
      int hexa = p[j] == 'x' || p[j] == 'X';
      uint32_t cp = 0;
      size_t digits = 0;

      if(hexa)
        j++;
      for(; j < n; j++, digits++) {
        unsigned char c = (unsigned char)p[j];
        unsigned v;

        if(c >= '0' && c <= '9')
          v = c - '0';
        else if(hexa && c >= 'a' && c <= 'f')
          v = c - 'a' + 10;
        else if(hexa && c >= 'A' && c <= 'F')
          v = c - 'A' + 10;
        else
          break;
        if(cp <= 0x10FFFF)
          cp = cp * (hexa ? 16 : 10) + v;
      }
      if(digits) {
        if(j < n && p[j] == ';')
          j++;
        rw_utf8(out, cp, &err);
        i = j;
        continue;
      }
    }
    else {
      size_t j = i + 1;
      char name[12];

      while(j < n && j - i - 1 < sizeof(name) - 1 &&
            ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z') ||
             (p[j] >= '0' && p[j] <= '9')))
        j++;
      if(j < n && p[j] == ';' && j > i + 1) {
        const htmlEntityDesc *d;

        memcpy(name, p + i + 1, j - i - 1);
        name[j - i - 1] = '\0';
        d = htmlEntityLookup((const xmlChar *)name);
        if(d) {
          rw_utf8(out, d->value, &err);
          i = j + 1;
          continue;
        }
      }
    }
    if(cr_buf_putc(out, '&'))
      return 1;
    i++;
  }
  return err;
}

/* Writes a value escaped for an HTML attribute within quote ('"' or
 * '\''): '&' and that quote only, so what was written raw stays raw. */
static void rw_write_value(struct cr_rewrite *w, const char *p, size_t n, char quote)
{
  size_t i;
  size_t from = 0;

  for(i = 0; i < n; i++) {
    const char *e = NULL;

    if(p[i] == '&')
      e = "&amp;";
    else if(p[i] == quote)
      e = quote == '"' ? "&quot;" : "&#39;";
    if(!e)
      continue;
    rw_put(w, &w->out, p + from, i - from);
    rw_put(w, &w->out, e, strlen(e));
    from = i + 1;
  }
  rw_put(w, &w->out, p + from, n - from);
}

static int rw_ieq(const char *s, size_t n, const char *kw)
{
  size_t i;

  if(n != strlen(kw))
    return 0;
  for(i = 0; i < n; i++) {
    if(rw_lower((unsigned char)s[i]) != (unsigned char)kw[i])
      return 0;
  }
  return 1;
}

/* srcset: the decoded value with each candidate's URL replaced, into
 * newval (the candidates found as links.c's links_srcset finds them).
 * Returns the number replaced. */
static int rw_srcset(struct cr_rewrite *w, const char *s, size_t n)
{
  size_t i = 0;
  size_t from = 0;
  int changed = 0;

  cr_buf_reset(&w->newval);
  while(i < n) {
    size_t start;
    size_t end;
    unsigned depth = 0;

    while(i < n && (rw_space((unsigned char)s[i]) || s[i] == ','))
      i++;
    if(i >= n)
      break;
    start = i;
    while(i < n && !rw_space((unsigned char)s[i]))
      i++;
    end = i;
    while(end > start && s[end - 1] == ',')
      end--;
    if(end > start && rw_ask(w, s + start, end - start, 0)) {
      rw_put(w, &w->newval, s + from, start - from);
      rw_put(w, &w->newval, w->repl.data, w->repl.len);
      from = end;
      changed++;
    }
    if(end < i)
      continue;  /* trailing commas: no descriptors */
    while(i < n) {
      char c = s[i++];

      if(c == '(')
        depth++;
      else if(c == ')' && depth)
        depth--;
      else if(c == ',' && !depth)
        break;
    }
  }
  rw_put(w, &w->newval, s + from, n - from);
  return changed;
}

/* <meta http-equiv=refresh content="5; url=/x">: the URL's place as
 * links.c's links_refresh finds it; replaced into newval. */
static int rw_refresh(struct cr_rewrite *w, const char *s, size_t n)
{
  size_t i = 0;
  size_t start;
  size_t end;

  while(i < n && rw_space((unsigned char)s[i]))
    i++;
  if(i >= n || !((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
    return 0;
  while(i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
    i++;
  if(i < n && !(rw_space((unsigned char)s[i]) || s[i] == ';' || s[i] == ','))
    return 0;
  while(i < n && rw_space((unsigned char)s[i]))
    i++;
  if(i < n && (s[i] == ';' || s[i] == ','))
    i++;
  while(i < n && rw_space((unsigned char)s[i]))
    i++;
  if(i >= n)
    return 0;
  start = i;
  if(n - i >= 3 && rw_ieq(s + i, 3, "url")) {
    size_t j = i + 3;

    while(j < n && rw_space((unsigned char)s[j]))
      j++;
    if(j < n && s[j] == '=') {
      j++;
      while(j < n && rw_space((unsigned char)s[j]))
        j++;
      start = j;
    }
  }
  end = n;
  if(start < n && (s[start] == '"' || s[start] == '\'')) {
    const char *q = memchr(s + start + 1, s[start], n - start - 1);

    start++;
    if(q)
      end = (size_t)(q - s);
  }
  while(end > start && rw_space((unsigned char)s[end - 1]))
    end--;
  if(end <= start || !rw_ask(w, s + start, end - start, 0))
    return 0;
  cr_buf_reset(&w->newval);
  rw_put(w, &w->newval, s, start);
  rw_put(w, &w->newval, w->repl.data, w->repl.len);
  rw_put(w, &w->newval, s + end, n - end);
  return 1;
}

/* ------------------------------------------------------------------ */
/* Tags                                                               */

enum {
  RW_URL = 1,
  RW_SRCSET,
  RW_STYLE,
  RW_REFRESH,
  RW_BASE,
};

/* Which attribute of which element holds what: links.c's links_attrs. */
static int rw_role(const char *elem, const char *attr)
{
  static const struct {
    const char *elem;
    const char *attr;
    int role;
  } roles[] = {
    { "a", "href", RW_URL }, { "area", "href", RW_URL }, { "link", "href", RW_URL },
    { "base", "href", RW_BASE }, { "iframe", "src", RW_URL }, { "frame", "src", RW_URL },
    { "img", "src", RW_URL }, { "img", "srcset", RW_SRCSET }, { "source", "src", RW_URL },
    { "source", "srcset", RW_SRCSET }, { "script", "src", RW_URL },
    { "embed", "src", RW_URL }, { "object", "data", RW_URL }, { "input", "src", RW_URL },
    { "video", "src", RW_URL }, { "video", "poster", RW_URL }, { "audio", "src", RW_URL },
    { "track", "src", RW_URL }, { "body", "background", RW_URL },
    { "table", "background", RW_URL }, { "td", "background", RW_URL },
    { "th", "background", RW_URL }, { "meta", "content", RW_REFRESH },
  };
  size_t i;

  if(!strcmp(attr, "style"))
    return RW_STYLE;
  /* Most attributes (class, id, title...) hold no link: every name in the
   * table starts with one of these. */
  if(!attr[0] || !strchr("hsdbpc", attr[0]))
    return 0;
  for(i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
    if(!strcmp(roles[i].elem, elem) && !strcmp(roles[i].attr, attr))
      return roles[i].role;
  }
  return 0;
}

/* Raw text elements, as the sieve has them. */
static const char *rw_raw_elem(const char *name)
{
  static const char *const raw[] = {
    "script", "style", "title", "textarea", "iframe", "noembed", "noframes", "xmp",
    "plaintext",
  };
  size_t i;

  for(i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
    if(!strcmp(raw[i], name))
      return raw[i];
  }
  return NULL;
}

static const struct rw_att *rw_find(const struct cr_rewrite *w, const char *name)
{
  size_t i;

  for(i = 0; i < w->natts; i++) {
    if(w->atts[i].namen < sizeof(w->atts[i].name) && !strcmp(w->atts[i].name, name))
      return &w->atts[i];
  }
  return NULL;
}

/* The new value of attribute a, into w->newval, or 0 to keep it. */
static int rw_value(struct cr_rewrite *w, const struct rw_att *a, int role)
{
  const char *raw = w->tag.data + a->vs;
  size_t n = a->ve - a->vs;

  if(rw_decode(raw, n, &w->val))
    return 0;
  switch(role) {
  case RW_URL:
  case RW_BASE:
    if(!rw_ask(w, w->val.data, w->val.len, role == RW_BASE))
      return 0;
    cr_buf_reset(&w->newval);
    rw_put(w, &w->newval, w->repl.data, w->repl.len);
    return 1;
  case RW_SRCSET:
    return rw_srcset(w, w->val.data, w->val.len) > 0;
  case RW_REFRESH: {
    const struct rw_att *eq = rw_find(w, "http-equiv");
    size_t k;
    const char *s;

    if(!eq || !eq->hasval)
      return 0;
    s = w->tag.data + eq->vs;
    k = eq->ve - eq->vs;
    while(k && rw_space((unsigned char)s[0])) {
      s++;
      k--;
    }
    while(k && rw_space((unsigned char)s[k - 1]))
      k--;
    if(!rw_ieq(s, k, "refresh"))
      return 0;
    return rw_refresh(w, w->val.data, w->val.len);
  }
  case RW_STYLE: {
    unsigned long before = w->count;

    cr_buf_reset(&w->attr_out);
    css_reset(&w->css_attr);
    css_run(w, &w->css_attr, w->val.data, w->val.len);
    css_finish(w, &w->css_attr);
    if(w->count == before)
      return 0;
    cr_buf_reset(&w->newval);
    rw_put(w, &w->newval, w->attr_out.data, w->attr_out.len);
    return 1;
  }
  default:
    return 0;
  }
}

/* The held start tag ended: written with its link values replaced. */
static void rw_tag_write(struct cr_rewrite *w)
{
  size_t from = 0;
  size_t i;

  for(i = 0; i < w->natts && !w->err; i++) {
    const struct rw_att *a = &w->atts[i];
    int role;
    size_t k;
    int dup = 0;

    if(!a->hasval || a->namen >= sizeof(a->name) || w->namen >= sizeof(w->name))
      continue;
    for(k = 0; k < i; k++) {
      if(w->atts[k].namen < sizeof(w->atts[k].name) && !strcmp(w->atts[k].name, a->name))
        dup = 1;
    }
    role = dup ? 0 : rw_role(w->name, a->name);
    if(!role || !rw_value(w, a, role))
      continue;
    rw_put(w, &w->out, w->tag.data + from, a->vs - from);
    if(!a->quote)
      rw_putc(w, &w->out, '"');
    rw_write_value(w, w->newval.data, w->newval.len, a->quote ? (char)a->quote : '"');
    if(!a->quote)
      rw_putc(w, &w->out, '"');
    from = a->ve;
  }
  rw_put(w, &w->out, w->tag.data + from, w->tag.len - from);
  cr_buf_reset(&w->tag);
  w->holding = 0;
  rw_flush(w, 0);
}

/* A byte of markup: to the held tag or out. */
static void rw_mark(struct cr_rewrite *w, unsigned char c)
{
  if(!w->holding) {
    rw_putc(w, &w->out, c);
    return;
  }
  if(cr_buf_putc(&w->tag, (char)c)) {
    /* Over RW_TAG_MAX: the tag goes out as it is. */
    rw_put(w, &w->out, w->tag.data, w->tag.len);
    rw_putc(w, &w->out, c);
    cr_buf_reset(&w->tag);
    w->holding = 0;
    w->natts = 0;
    w->cur = NULL;
  }
}

static size_t rw_pos(const struct cr_rewrite *w)
{
  return w->tag.len;
}

static void rw_name_put(char *buf, size_t size, size_t *n, unsigned char c)
{
  if(*n < size - 1) {
    buf[*n] = (char)rw_lower(c);
    buf[*n + 1] = '\0';
  }
  if(*n < size)
    (*n)++;
}

static void rw_att_begin(struct cr_rewrite *w)
{
  w->cur = NULL;
  if(w->end || !w->holding || w->natts >= RW_ATTS)
    return;
  w->cur = &w->atts[w->natts++];
  memset(w->cur, 0, sizeof(*w->cur));
}

static void rw_value_begin(struct cr_rewrite *w, unsigned char quote)
{
  if(!w->cur || !w->holding)
    return;
  w->cur->hasval = 1;
  w->cur->quote = quote;
  w->cur->vs = rw_pos(w);
  w->cur->ve = w->cur->vs;
}

static void rw_value_end(struct cr_rewrite *w)
{
  if(w->cur && w->holding)
    w->cur->ve = rw_pos(w);
  w->cur = NULL;
}

/* The tag's '>' was read (and put): write it, and enter raw text. */
static void rw_tag_end(struct cr_rewrite *w)
{
  const char *raw;

  w->st = H_DATA;
  if(w->holding)
    rw_tag_write(w);
  if(w->end || w->namen >= sizeof(w->name))
    return;
  raw = rw_raw_elem(w->name);
  if(!raw)
    return;
  w->rawname = raw;
  w->rawm = 0;
  w->rawcss = !strcmp(raw, "style");
  w->st = !strcmp(raw, "plaintext") ? H_PLAINTEXT : H_RAW;
  if(w->rawcss)
    css_reset(&w->css);
}

static void rw_raw_text(struct cr_rewrite *w, const char *p, size_t n)
{
  if(w->rawcss)
    css_run(w, &w->css, p, n);
  else
    rw_put(w, &w->out, p, n);
}

/* Raw text: up to "</name" then a space, '/' or '>'.  A partial match is
 * held back from the CSS rewriter until it fails.  Returns bytes used. */
static size_t rw_raw(struct cr_rewrite *w, const unsigned char *s, size_t n)
{
  size_t len = strlen(w->rawname);
  size_t i = 0;

  while(i < n) {
    unsigned char c = s[i];

    if(w->rawm == 0) {
      const unsigned char *lt = memchr(s + i, '<', n - i);
      size_t at = lt ? (size_t)(lt - s) : n;

      rw_raw_text(w, (const char *)s + i, at - i);
      if(!lt)
        return n;
      i = at + 1;
      w->rawm = 1;
      w->rawheld[0] = '<';
      continue;
    }
    if(w->rawm == 1 ? c == '/'
       : w->rawm < 2 + len ? rw_lower(c) == (unsigned char)w->rawname[w->rawm - 2]
       : (rw_space(c) || c == '/' || c == '>')) {
      if(w->rawm < 2 + len) {
        w->rawheld[w->rawm++] = (char)c;
        i++;
        continue;
      }
      if(w->rawcss)
        css_finish(w, &w->css);
      w->rawcss = 0;
      rw_put(w, &w->out, w->rawheld, w->rawm);
      w->end = 1;
      w->holding = 0;
      w->namen = 0;
      w->st = H_BEFORE_ATTR;
      return i;
    }
    /* The match failed: its bytes were text, and c is read again. */
    rw_raw_text(w, w->rawheld, w->rawm);
    w->rawm = 0;
  }
  return n;
}

static int rw_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The tokenizer: one byte of markup at a time; text and comments in runs. */
static void rw_html(struct cr_rewrite *w, const unsigned char *s, size_t n)
{
  const unsigned char *e = s + n;

  while(s < e && !w->err) {
    unsigned char c = *s;
    const unsigned char *q;

    switch(w->st) {
    case H_DATA:
      q = memchr(s, '<', (size_t)(e - s));
      rw_put(w, &w->out, s, (size_t)((q ? q : e) - s));
      if(!q)
        return;
      s = q + 1;
      w->st = H_LT;
      continue;
    case H_LT:
      if(rw_alpha(c)) {
        w->end = 0;
        w->holding = 1;
        w->namen = 0;
        w->name[0] = '\0';
        w->natts = 0;
        w->cur = NULL;
        cr_buf_reset(&w->tag);
        rw_mark(w, '<');
        w->st = H_TAG_NAME;
        continue;
      }
      rw_putc(w, &w->out, '<');
      if(c == '/') {
        rw_putc(w, &w->out, c);
        w->st = H_END_LT;
        s++;
        continue;
      }
      if(c == '!') {
        rw_putc(w, &w->out, c);
        w->st = H_MARKUP;
        s++;
        continue;
      }
      w->st = c == '?' ? H_BOGUS : H_DATA;
      continue;
    case H_END_LT:
      if(rw_alpha(c)) {
        w->end = 1;
        w->holding = 0;
        w->namen = 0;
        w->st = H_TAG_NAME;
        continue;
      }
      if(c == '>') {
        rw_putc(w, &w->out, c);
        w->st = H_DATA;
        s++;
        continue;
      }
      w->st = H_BOGUS;
      continue;
    case H_TAG_NAME:
      if(rw_space(c) || c == '/' || c == '>') {
        w->st = H_BEFORE_ATTR;
        continue;
      }
      if(!w->end)
        rw_name_put(w->name, sizeof(w->name), &w->namen, c);
      rw_mark(w, c);
      s++;
      continue;
    case H_BEFORE_ATTR:
      rw_mark(w, c);
      s++;
      if(rw_space(c))
        continue;
      if(c == '>') {
        rw_tag_end(w);
        continue;
      }
      if(c == '/') {
        w->st = H_SELF_CLOSING;
        continue;
      }
      rw_att_begin(w);
      if(w->cur)
        rw_name_put(w->cur->name, sizeof(w->cur->name), &w->cur->namen, c);
      w->st = H_ATTR_NAME;
      continue;
    case H_ATTR_NAME:
      if(rw_space(c) || c == '/' || c == '>') {
        w->st = H_AFTER_ATTR_NAME;
        continue;
      }
      rw_mark(w, c);
      s++;
      if(c == '=') {
        w->st = H_BEFORE_VALUE;
        continue;
      }
      if(w->cur)
        rw_name_put(w->cur->name, sizeof(w->cur->name), &w->cur->namen, c);
      continue;
    case H_AFTER_ATTR_NAME:
      if(rw_space(c)) {
        rw_mark(w, c);
        s++;
        continue;
      }
      if(c == '=') {
        rw_mark(w, c);
        s++;
        w->st = H_BEFORE_VALUE;
        continue;
      }
      w->cur = NULL;  /* it had no value */
      w->st = H_BEFORE_ATTR;
      continue;
    case H_BEFORE_VALUE:
      if(rw_space(c)) {
        rw_mark(w, c);
        s++;
        continue;
      }
      if(c == '>') {
        w->cur = NULL;
        w->st = H_BEFORE_ATTR;
        continue;
      }
      if(c == '"' || c == '\'') {
        rw_mark(w, c);
        s++;
        rw_value_begin(w, c);
        w->st = c == '"' ? H_VALUE_DQ : H_VALUE_SQ;
        continue;
      }
      rw_value_begin(w, 0);
      w->st = H_VALUE_UQ;
      continue;
    case H_VALUE_DQ:
    case H_VALUE_SQ: {
      unsigned char quote = w->st == H_VALUE_DQ ? '"' : '\'';
      const unsigned char *r;

      q = memchr(s, quote, (size_t)(e - s));
      for(r = s; r < (q ? q : e); r++)
        rw_mark(w, *r);
      if(!q)
        return;
      rw_value_end(w);
      rw_mark(w, quote);
      s = q + 1;
      w->st = H_AFTER_VALUE;
      continue;
    }
    case H_VALUE_UQ:
      if(rw_space(c) || c == '>') {
        rw_value_end(w);
        w->st = H_BEFORE_ATTR;
        continue;
      }
      rw_mark(w, c);
      s++;
      continue;
    case H_AFTER_VALUE:
      /* '>', '/' or the next name: read where any attribute starts. */
      w->st = H_BEFORE_ATTR;
      continue;
    case H_SELF_CLOSING:
      if(c == '>') {
        rw_mark(w, c);
        s++;
        rw_tag_end(w);
        continue;
      }
      w->st = H_BEFORE_ATTR;
      continue;
    case H_MARKUP:
      if(c == '-') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = H_MARKUP_DASH;
        continue;
      }
      w->st = H_BOGUS;
      continue;
    case H_MARKUP_DASH:
      if(c == '-') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = H_COMMENT_START;
        continue;
      }
      w->st = H_BOGUS;
      continue;
    case H_BOGUS:
      q = memchr(s, '>', (size_t)(e - s));
      rw_put(w, &w->out, s, (size_t)((q ? q + 1 : e) - s));
      if(!q)
        return;
      s = q + 1;
      w->st = H_DATA;
      continue;
    case H_COMMENT_START:
    case H_COMMENT_START_DASH:
      if(c == '>') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = H_DATA;
        continue;
      }
      if(c == '-') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = w->st == H_COMMENT_START ? H_COMMENT_START_DASH : H_COMMENT_END;
        continue;
      }
      w->st = H_COMMENT;
      continue;
    case H_COMMENT:
      q = memchr(s, '-', (size_t)(e - s));
      rw_put(w, &w->out, s, (size_t)((q ? q + 1 : e) - s));
      if(!q)
        return;
      s = q + 1;
      w->st = H_COMMENT_END_DASH;
      continue;
    case H_COMMENT_END_DASH:
      if(c == '-') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = H_COMMENT_END;
        continue;
      }
      w->st = H_COMMENT;
      continue;
    case H_COMMENT_END:
      if(c == '>' || c == '!' || c == '-') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = c == '>' ? H_DATA : c == '!' ? H_COMMENT_END_BANG : H_COMMENT_END;
        continue;
      }
      w->st = H_COMMENT;
      continue;
    case H_COMMENT_END_BANG:
      if(c == '>' || c == '-') {
        rw_putc(w, &w->out, c);
        s++;
        w->st = c == '>' ? H_DATA : H_COMMENT_END_DASH;
        continue;
      }
      w->st = H_COMMENT;
      continue;
    case H_RAW:
      s += rw_raw(w, s, (size_t)(e - s));
      continue;
    case H_PLAINTEXT:
      rw_put(w, &w->out, s, (size_t)(e - s));
      return;
    }
  }
}

/* ------------------------------------------------------------------ */
/* API                                                                */

int cr_rewrite_new(enum cr_links_type type, cr_rewrite_link_cb link, cr_rewrite_write_cb write,
                   void *arg, struct cr_rewrite **out)
{
  struct cr_rewrite *w = calloc(1, sizeof(*w));

  *out = NULL;
  if(!w)
    return CR_ENOMEM;
  w->type = type;
  w->link = link;
  w->write = write;
  w->arg = arg;
  /* Written out past RW_OUT_FLUSH after each tag and URL; one tag may
   * grow by its replacements, each at most a few times a link. */
  cr_buf_init(&w->out, RW_OUT_FLUSH + 2 * RW_TAG_MAX + RW_ATTS * 8 * RW_VALUE_MAX);
  cr_buf_init(&w->tag, RW_TAG_MAX);
  cr_buf_init(&w->attr_out, 8 * RW_VALUE_MAX);
  cr_buf_init(&w->val, RW_VALUE_MAX);
  cr_buf_init(&w->repl, 4 * CR_LINK_MAX);
  cr_buf_init(&w->newval, 8 * RW_VALUE_MAX);
  css_init(&w->css, &w->out);
  css_init(&w->css_attr, &w->attr_out);
  *out = w;
  return 0;
}

int cr_rewrite_feed(struct cr_rewrite *w, const char *p, size_t n)
{
  if(w->err || !n)
    return w->err;
  if(!w->sniffed) {
    w->sniffed = 1;
    /* UTF-16 is not ASCII-compatible: the tokenizer would misread it. */
    if(n >= 2 && (((unsigned char)p[0] == 0xFF && (unsigned char)p[1] == 0xFE) ||
                  ((unsigned char)p[0] == 0xFE && (unsigned char)p[1] == 0xFF)))
      w->passthru = 1;
  }
  if(w->passthru) {
    rw_flush(w, 1);
    if(!w->err)
      w->err = w->write(w->arg, p, n);
    return w->err;
  }
  /* In slices, so the output buffer is written out as it fills. */
  while(n && !w->err) {
    size_t k = n < RW_OUT_FLUSH ? n : RW_OUT_FLUSH;

    if(w->type == CR_LINKS_CSS)
      css_run(w, &w->css, p, k);
    else
      rw_html(w, (const unsigned char *)p, k);
    rw_flush(w, 0);
    p += k;
    n -= k;
  }
  return w->err;
}

int cr_rewrite_end(struct cr_rewrite *w)
{
  if(w->err)
    return w->err;
  if(w->type == CR_LINKS_CSS) {
    css_finish(w, &w->css);
  }
  else {
    /* What is held goes out as it was read. */
    if(w->st == H_LT)
      rw_putc(w, &w->out, '<');
    else if(w->st == H_RAW) {
      rw_raw_text(w, w->rawheld, w->rawm);
      if(w->rawcss)
        css_finish(w, &w->css);
    }
    if(w->holding)
      rw_put(w, &w->out, w->tag.data, w->tag.len);
    w->holding = 0;
  }
  rw_flush(w, 1);
  return w->err;
}

unsigned long cr_rewrite_count(const struct cr_rewrite *w)
{
  return w ? w->count : 0;
}

void cr_rewrite_free(struct cr_rewrite **pw)
{
  struct cr_rewrite *w;

  if(!pw || !*pw)
    return;
  w = *pw;
  cr_buf_cleanup(&w->out);
  cr_buf_cleanup(&w->tag);
  cr_buf_cleanup(&w->attr_out);
  cr_buf_cleanup(&w->val);
  cr_buf_cleanup(&w->repl);
  cr_buf_cleanup(&w->newval);
  css_cleanup(&w->css);
  css_cleanup(&w->css_attr);
  free(w);
  *pw = NULL;
}
