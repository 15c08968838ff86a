/*
 * links.c - streaming link extraction from HTML and CSS; see links.h.
 *
 * An HTML body goes through four stages:
 *
 *  0. The sieve (see "Sieve" below) tokenizes the page as browsers do and
 *     passes on only the tags that can hold links, rebuilt with only their
 *     link attributes; text, comments, script text and every other tag
 *     stop here, at memchr speed.  It reads ASCII-compatible bytes: the
 *     page itself, or a UTF-16 page (byte order mark) turned into UTF-8.
 *
 *  1. A decoder turns what the sieve passes into valid UTF-8 holding only
 *     characters libxml2 accepts.  A byte order mark is honoured (UTF-8,
 *     UTF-16LE, UTF-16BE); everything else is read as UTF-8, and a byte that
 *     is not part of a valid sequence is read as windows-1252, alone.  The
 *     page's own charset declaration is ignored (HTML_PARSE_IGNORE_ENC).
 *     libxml2 2.9.14 is not trusted with encodings: on the first invalid
 *     UTF-8 byte it switches the whole rest of the document, including the
 *     part already buffered, to ISO-8859-1; a <meta charset> that lies
 *     ("utf-32", "ucs-2", "cp037" over ASCII) makes it decode garbage, stop
 *     finding tags and print to stderr; and it sniffs no byte order mark in
 *     push mode.  A link is an ASCII string almost always, so guessing the
 *     legacy charset right matters less than never losing the markup.
 *
 *  2. Decoded bytes collect in a small block that is handed to
 *     htmlParseChunk.  (Since the sieve, libxml2 sees no comment or script
 *     text, so most of what follows no longer arises; it is kept because
 *     a block may still end inside a tag.)  libxml2 2.9.14's push parser
 *     misreads constructs cut
 *     between two chunks, so the links found would depend on where the
 *     network cut the page.  Each case is kept from happening:
 *      - "</script>" cut after "</s" is taken for script text, and the
 *        rest of the page with it; a comment's "--" cut from its '>' is
 *        missed, and the comment waits for the next "-->": links_flush
 *        holds such ends back for the next block;
 *      - a chunk that ends inside a quoted attribute value leaves the tag
 *        waiting for the end of input: links_parse;
 *      - script text that starts a chunk with "</" (not "</script") makes
 *        a bogus end tag that can swallow the real one: links_fix_raw_end;
 *     After each block, the parser's state is checked against our caps
 *     (see links_check).
 *
 *  3. SAX callbacks pick the link attributes, style="" attributes (for
 *     the CSS scanner) and <base>/<meta>; every reference is resolved with
 *     cr_url_resolve and reported.  (<style> text goes from the sieve
 *     to the CSS scanner.)
 *
 * A CSS body goes straight to the CSS scanner.
 *
 * Caps, and what libxml2 does without them:
 *  - Depth: libxml2's HTML parser has no depth limit, and each unknown end
 *    tag walks the whole element stack, so a page of 100,000 open <div>s
 *    followed by stray end tags costs seconds.  Past LINKS_DEPTH_MAX open
 *    elements the parser is restarted on the unparsed rest: links only
 *    need the tag soup, not the tree.
 *  - Pending input: the push parser buffers a construct until it is
 *    complete, so an unterminated comment or attribute would buffer the
 *    whole page.  Past LINKS_PENDING_MAX we give up on the page.  (The
 *    sieve keeps script and style text away from libxml2 and caps what it
 *    passes on, so these caps guard against libxml2 only.)
 *  - Content after </html>: libxml2 2.9.14 stops parsing for good there;
 *    pages often carry scripts and links after it, so the parser is
 *    restarted on what follows.
 */
#include "links.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "buf.h"
#include "crawler.h"
#include "hash.h"
#include "url.h"

/* Decoded bytes handed to libxml2 at a time.  Small, so that the element
 * stack grows by at most a few hundred levels (LINKS_BLOCK / 3 for "<b>")
 * between two checks of the depth cap. */
#define LINKS_BLOCK 1024
/* A '<' this close to the end of a block waits for the next block, so that
 * libxml2 always sees "</script" (8 bytes) whole after a '<'; so does a
 * run of '-' and '!' this long at the end. */
#define LINKS_HOLD 10
/* Open elements before the parser is restarted; browsers stop nesting at
 * 512 (Chromium) and real pages stay far below. */
#define LINKS_DEPTH_MAX 256
/* Open elements at which we give up: only reachable when restarts keep
 * being put off because each check finds the parser inside a script. */
#define LINKS_DEPTH_HARD 4096
/* The longest srcset, style="" or meta content the sieve passes on. */
#define LINKS_RAW_MAX (64 * 1024)
/* Any other construct (tag, comment) buffered this long makes us give up.
 * Large enough for the inline data: URIs some pages carry in src. */
#define LINKS_PENDING_MAX (1024 * 1024)
/* Attributes (about) in one pending tag before we give up; real tags have
 * a few, and 2,000 cost libxml2 some milliseconds (see links_parse). */
#define LINKS_TAG_ATTS 2048

enum links_enc {
  ENC_SNIFF = 0, /* first bytes: looking for a byte order mark */
  ENC_UTF8,
  ENC_UTF16LE,
  ENC_UTF16BE,
};

/* The decoder's state between two feeds. */
struct links_dec {
  enum links_enc enc;
  unsigned char sniff[3]; /* first bytes, while enc is ENC_SNIFF */
  size_t sniffn;
  /* UTF-8: a sequence started in an earlier feed */
  unsigned need;          /* continuation bytes still expected */
  uint32_t cp;            /* code point so far */
  unsigned char lo, hi;   /* allowed range of the next byte (RFC 3629) */
  unsigned char held[4];  /* bytes of the sequence so far */
  size_t heldn;
  /* UTF-16 */
  unsigned char odd;      /* first byte of a code unit */
  int have_odd;
  unsigned hisur;         /* a high surrogate waiting for its pair, or 0 */
};

enum css_state {
  CSS_NORMAL = 0,
  CSS_COMMENT,  /* inside a comment */
  CSS_STRING,   /* inside a string that is not a URL */
  CSS_IMPORT,   /* after "@import", before its URL */
  CSS_URL_PRE,  /* after "url(", before the URL */
  CSS_URL_RAW,  /* an unquoted URL */
  CSS_URL_END,  /* after an unquoted URL, before ')' */
  CSS_URL_BAD,  /* a malformed url(), skipped to ')' */
  CSS_URL_STR,  /* a quoted URL in url() or after @import */
};

/* Where libxml2's scan for the '>' that ends a tag stands, as we replay
 * it: inside a quoted value or not, and how many attributes it passed. */
struct links_scan {
  char quote;           /* the quote of the value it is inside, or 0 */
  int space;            /* the last byte outside values was a space */
  size_t atts;          /* names after spaces outside values, about the
                           number of attributes */
};

/* The CSS scanner's state: bytes may stop anywhere, even inside "url(". */
struct links_css {
  enum css_state state;
  unsigned char prev;   /* previous byte, for comment delimiters */
  unsigned char quote;  /* the quote that ends the current string */
  int esc;              /* the previous byte was a backslash */
  char ident[8];        /* the name being read, lower case; a name of 8
                           bytes or more is longer than any we look for */
  size_t identn;
  struct cr_buf tok;    /* the URL being read, at most CR_LINK_MAX bytes */
  int tokover;          /* the URL was longer: drop it */
};

/* The sieve's state between two feeds (see "Sieve" below). */
struct links_sieve {
  int st;                 /* enum sieve_state */
  int end;                /* an end tag: read and dropped */
  unsigned char name[10]; /* the element name, lower case */
  size_t namen;
  int elem;               /* its row in sieve_elems, or -1 */
  unsigned char an[10];   /* the attribute name being read */
  size_t ann;
  int attr;               /* the kept attribute being read, or -1 */
  unsigned seen;          /* kept attributes read in this tag, as bits */
  int over;               /* the value is over its cap: dropped */
  size_t attrstart;       /* where the attribute starts in out */
  size_t valstart;        /* where its value starts */
  size_t valmax;
  struct cr_buf out;      /* the tag as written for libxml2 */
  int raw;                /* enum sieve_raw */
  const char *rawname;    /* the element whose raw text this is */
  size_t rawlen;
  size_t rawm;            /* bytes of "</name" matched */
};

struct cr_links {
  enum cr_links_type type;
  char *page;           /* normalized page URL */
  char *base;           /* resolved <base href>, or NULL */
  int base_seen;        /* a <base href> was seen, valid or not */
  cr_link_cb cb;
  void *arg;
  int nofollow;         /* <meta name=robots content=nofollow> */
  int stopped;          /* over a cap: nothing more is parsed */
  int ended;            /* cr_links_end was called */
  htmlParserCtxtPtr ctxt;
  int restart;          /* the depth cap was passed */
  struct links_scan scan; /* libxml2's scan for the end of the pending
                             tag, replayed (see links_parse) */
  struct links_dec dec;
  char block[LINKS_BLOCK];
  size_t blockn;
  struct links_css css;      /* the CSS body, or the current <style> */
  struct links_css css_attr; /* one style="" attribute */
  struct cr_hset *memo;      /* references resolved before, or NULL */
  uint64_t memo_salt;        /* mixed into every memo key */
  int memo_kinds;            /* keys tell page links from requisites */
  struct links_sieve sieve;
  /* Hashes of base prefixes for the memo: a page's references need only
   * a few (see links_memo_key).  keep + 1, so 0 is an empty slot. */
  size_t memo_keep[4];
  uint64_t memo_hash[4];
  unsigned char u16out[256]; /* UTF-16 decoded to UTF-8 for the sieve */
  size_t u16n;
};

/* windows-1252 for 0x80..0x9F; the five holes map to the C1 controls, as
 * in the WHATWG encoding standard.  0xA0..0xFF are ISO-8859-1. */
static const uint16_t links_cp1252[32] = {
  0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
  0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
  0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
  0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Which attributes of which elements hold links. */
struct links_attr {
  const char *elem;
  const char *attr;
  enum cr_link_kind kind;
  int srcset;           /* a srcset list rather than one URL */
};

static const struct links_attr links_attrs[] = {
  { "a", "href", CR_LINK_PAGE, 0 },
  { "area", "href", CR_LINK_PAGE, 0 },
  /* A frame's document is part of how the page looks, as wget has it
   * (inline); its own links are the crawler's to judge. */
  { "iframe", "src", CR_LINK_RESOURCE, 0 },
  { "frame", "src", CR_LINK_RESOURCE, 0 },
  /* The kind comes from rel, see links_rel_kind. */
  { "link", "href", CR_LINK_PAGE, 0 },
  { "img", "src", CR_LINK_RESOURCE, 0 },
  { "img", "srcset", CR_LINK_RESOURCE, 1 },
  { "source", "src", CR_LINK_RESOURCE, 0 },
  { "source", "srcset", CR_LINK_RESOURCE, 1 },
  { "script", "src", CR_LINK_RESOURCE, 0 },
  { "embed", "src", CR_LINK_RESOURCE, 0 },
  { "object", "data", CR_LINK_RESOURCE, 0 },
  { "input", "src", CR_LINK_RESOURCE, 0 },
  { "video", "src", CR_LINK_RESOURCE, 0 },
  { "video", "poster", CR_LINK_RESOURCE, 0 },
  { "audio", "src", CR_LINK_RESOURCE, 0 },
  { "track", "src", CR_LINK_RESOURCE, 0 },
  /* body, table, td and th background, which the sieve writes as span:
   * libxml2 drops a second <body>, and one is implied early */
  { "span", "background", CR_LINK_RESOURCE, 0 },
};

#define LINKS_NATTRS (sizeof(links_attrs) / sizeof(links_attrs[0]))

static void links_flush(struct cr_links *l, int final);
static void sieve_run(struct cr_links *l, const unsigned char *s, size_t n);
static void sieve_end(struct cr_links *l);

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */

/* HTML's ASCII whitespace: space, tab, LF, FF, CR. */
static int links_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static unsigned char links_lower(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Trims ASCII whitespace around s[0..*n). */
static const char *links_trim(const char *s, size_t *n)
{
  size_t len = *n;

  while(len && links_space((unsigned char)s[0])) {
    s++;
    len--;
  }
  while(len && links_space((unsigned char)s[len - 1]))
    len--;
  *n = len;
  return s;
}

/* Nonzero when s[0..n) is the lower-case keyword kw, in any case. */
static int links_ieq(const char *s, size_t n, const char *kw)
{
  size_t i;

  if(n != strlen(kw))
    return 0;
  for(i = 0; i < n; i++) {
    if(links_lower((unsigned char)s[i]) != (unsigned char)kw[i])
      return 0;
  }
  return 1;
}

/* Nonzero when the NUL-terminated s, trimmed, is kw in any case. */
static int links_is(const char *s, const char *kw)
{
  size_t n = strlen(s);

  s = links_trim(s, &n);
  return links_ieq(s, n, kw);
}

static int links_active(const struct cr_links *l)
{
  return !l->stopped && !l->nofollow;
}

static const char *links_base(const struct cr_links *l)
{
  return l->base ? l->base : l->page;
}

/* Nonzero for the elements whose text libxml2 reads raw, to the end tag. */
static int links_raw(const xmlChar *name)
{
  return name && (strcmp((const char *)name, "script") == 0 ||
                  strcmp((const char *)name, "style") == 0);
}

/* ------------------------------------------------------------------ */
/* Reporting                                                          */

/* Whether the reference s[0..n), resolved against this page's base, was
 * already resolved on some page; records it if not.  The key is the part
 * of the base the result depends on (RFC 3986 5.2): nothing for an
 * absolute reference, the scheme for "//host", the origin for "/path", the
 * directory for a relative path, the whole base for "?q", "#f" or "".  So
 * the navigation links every page of a site repeats are resolved once per
 * directory instead of once per page: resolution (libcurl's URL parser) is
 * the dearest step of link extraction. */
static uint64_t links_memo_key(struct cr_links *l, const char *s, size_t n)
{
  const char *base = links_base(l);
  size_t blen = strlen(base);
  size_t keep = 0;
  size_t i = 0;
  const char *hash = memchr(s, '#', n);

  /* The fragment is dropped by normalization: "a.html#x" and "a.html#y"
   * are one link.  A reference that is only a fragment keeps it, so the
   * whole-base rule below still applies.  So does one whose fragment
   * holds a byte cr_url_resolve refuses (NUL, a control other than tab,
   * LF, CR): that reference fails, and keyed without its fragment it
   * would hide a valid "a.html#x" met later. */
  if(hash && hash != s) {
    size_t k;

    for(k = (size_t)(hash - s) + 1; k < n; k++) {
      unsigned char c = (unsigned char)s[k];
      if((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        break;
    }
    if(k == n)
      n = (size_t)(hash - s);
  }

  while(i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                  (i && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
                         s[i] == '.'))))
    i++;
  if(i && i < n && s[i] == ':')
    /* Only "scheme://..." stands alone: "http:a.css" and "http:/a.css"
     * take the base's directory or host, as curl resolves them. */
    keep = n >= i + 3 && s[i + 1] == '/' && s[i + 2] == '/' ? 0 : blen;
  else if(n >= 2 && s[0] == '/' && s[1] == '/')
    keep = (size_t)(strchr(base, ':') - base) + 1;
  else if(n >= 1 && s[0] == '/')
    keep = (size_t)(strchr(base + strlen("https://") - 1, '/') - base);
  else if(n == 0 || s[0] == '?' || s[0] == '#')
    keep = blen;
  else {
    /* The directory: up to the last '/' before any query. */
    size_t q = strcspn(base, "?");

    keep = q;
    while(keep && base[keep - 1] != '/')
      keep--;
  }
  for(i = 0; i < 4 && l->memo_keep[i] && l->memo_keep[i] != keep + 1; i++)
    ;
  if(i == 4)
    i = 3;
  if(l->memo_keep[i] != keep + 1) {
    l->memo_keep[i] = keep + 1;
    l->memo_hash[i] = cr_hash64(base, keep);
  }
  return (l->memo_hash[i] ^ (cr_hash64(s, n) * 0x9e3779b97f4a7c15ull)) + l->memo_salt;
}

/* Offsets a memo key by the kind of link, when kinds matter: a reference
 * dropped as a page link may still be wanted as a requisite. */
static uint64_t links_kind_key(const struct cr_links *l, uint64_t key,
                               enum cr_link_kind kind)
{
  return l->memo_kinds && kind == CR_LINK_RESOURCE ? key ^ 0x9fb21c651e98df25ull : key;
}

static int links_memo_seen(struct cr_links *l, const char *s, size_t n,
                           enum cr_link_kind kind)
{
  return cr_hset_add(l->memo, links_kind_key(l, links_memo_key(l, s, n), kind)) == 0;
}

/* Resolves the reference s[0..n) against the base and reports it.  Empty,
 * over-long, unparsable and non-http(s) references are dropped here, as is
 * everything once the page said nofollow. */
static void links_ref(struct cr_links *l, const char *s, size_t n,
                      enum cr_link_kind kind)
{
  char *url = NULL;
  int rc;

  if(!links_active(l))
    return;
  s = links_trim(s, &n);
  if(n == 0 || n > CR_LINK_MAX)
    return;
  if(l->memo && links_memo_seen(l, s, n, kind))
    return;
  /* Any failure, out of memory included, costs this one link only. */
  rc = cr_url_resolve(links_base(l), s, n, &url, NULL);
  if(rc == 0) {
    l->cb(l->arg, url, kind);
    free(url);
  }
}

void cr_links_set_memo_kinds(struct cr_links *l, int on)
{
  l->memo_kinds = on;
}

void cr_links_set_memo_salt(struct cr_links *l, uint64_t salt)
{
  l->memo_salt = salt;
}

void cr_links_set_memo(struct cr_links *l, struct cr_hset *memo)
{
  l->memo = memo;
}

/* ------------------------------------------------------------------ */
/* CSS scanner                                                        */

static void css_init(struct links_css *s)
{
  memset(s, 0, sizeof(*s));
  cr_buf_init(&s->tok, CR_LINK_MAX);
}

static void css_cleanup(struct links_css *s)
{
  cr_buf_cleanup(&s->tok);
}

static void css_tok_reset(struct links_css *s)
{
  cr_buf_reset(&s->tok);
  s->tokover = 0;
}

/* Starts over, as for a new stylesheet; keeps the token's memory. */
static void css_reset(struct links_css *s)
{
  s->state = CSS_NORMAL;
  s->prev = 0;
  s->quote = 0;
  s->esc = 0;
  s->identn = 0;
  css_tok_reset(s);
}

static void css_tok_put(struct links_css *s, unsigned char c)
{
  /* Past CR_LINK_MAX (CR_EFULL) or out of memory: the URL is dropped
   * when it ends, and the scanner goes on. */
  if(!s->tokover && cr_buf_putc(&s->tok, (char)c) != 0)
    s->tokover = 1;
}

static void css_emit(struct cr_links *l, struct links_css *s)
{
  if(!s->tokover && s->tok.len)
    links_ref(l, s->tok.data, s->tok.len, CR_LINK_RESOURCE);
  css_tok_reset(s);
}

static int css_space(unsigned char c)
{
  return links_space(c);
}

/* Letters, digits, '-', '_', '@' and non-ASCII: what a CSS name (or an
 * at-keyword) is made of, escapes aside. */
static int css_name_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '@' ||
         c >= 0x80;
}

static int css_name_is(const struct links_css *s, const char *kw)
{
  return s->identn == strlen(kw) && memcmp(s->ident, kw, s->identn) == 0;
}

/* Advances the scanner by one byte. */
static void css_byte(struct cr_links *l, struct links_css *s, unsigned char c)
{
  for(;;) {
    switch(s->state) {
    case CSS_NORMAL:
      if(s->prev == '/' && c == '*') {
        s->state = CSS_COMMENT;
        s->prev = 0;  /* so that the comment opener's star cannot close it */
        s->identn = 0;
        return;
      }
      s->prev = c;
      if(css_name_char(c)) {
        if(s->identn < sizeof(s->ident))
          s->ident[s->identn++] = (char)links_lower(c);
        return;
      }
      if(c == '(' && css_name_is(s, "url")) {
        s->state = CSS_URL_PRE;
        css_tok_reset(s);
      }
      else if(css_name_is(s, "@import") &&
              (css_space(c) || c == '"' || c == '\'')) {
        s->identn = 0;
        s->state = CSS_IMPORT;
        continue;  /* the quote, if it is one, starts the URL */
      }
      else if(c == '"' || c == '\'') {
        /* A string may say "url(x)" without being one. */
        s->state = CSS_STRING;
        s->quote = c;
        s->esc = 0;
      }
      s->identn = 0;
      return;
    case CSS_COMMENT:
      if(s->prev == '*' && c == '/') {
        s->state = CSS_NORMAL;
        s->prev = 0;
      }
      else {
        s->prev = c;
      }
      return;
    case CSS_STRING:
      if(s->esc)
        s->esc = 0;
      else if(c == '\\')
        s->esc = 1;
      else if(c == s->quote || c == '\n')
        s->state = CSS_NORMAL;  /* a newline ends a bad string */
      return;
    case CSS_IMPORT:
      if(css_space(c))
        return;
      if(c == '"' || c == '\'') {
        s->state = CSS_URL_STR;
        s->quote = c;
        s->esc = 0;
        css_tok_reset(s);
        return;
      }
      /* "@import url(x)": the url() is found by the normal path. */
      s->state = CSS_NORMAL;
      s->prev = 0;
      continue;
    case CSS_URL_PRE:
      if(css_space(c))
        return;
      if(c == '"' || c == '\'') {
        s->state = CSS_URL_STR;
        s->quote = c;
        s->esc = 0;
        return;
      }
      if(c == ')') {
        s->state = CSS_NORMAL;  /* url() names nothing */
        s->prev = 0;
        return;
      }
      s->state = CSS_URL_RAW;
      continue;
    case CSS_URL_RAW:
      if(s->esc) {
        /* Minimal escapes: "\)" and the like stand for themselves; hex
         * escapes are not decoded. */
        s->esc = 0;
        if(c != '\n')
          css_tok_put(s, c);
        return;
      }
      if(c == '\\') {
        s->esc = 1;
        return;
      }
      if(c == ')') {
        css_emit(l, s);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      if(css_space(c)) {
        s->state = CSS_URL_END;
        return;
      }
      if(c == '"' || c == '\'' || c == '(') {
        s->state = CSS_URL_BAD;  /* CSS makes these a bad-url token */
        return;
      }
      css_tok_put(s, c);
      return;
    case CSS_URL_END:
      if(css_space(c))
        return;
      if(c == ')') {
        css_emit(l, s);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      s->state = CSS_URL_BAD;
      continue;
    case CSS_URL_BAD:
      if(s->esc) {
        s->esc = 0;
      }
      else if(c == '\\') {
        s->esc = 1;
      }
      else if(c == ')') {
        css_tok_reset(s);
        s->state = CSS_NORMAL;
        s->prev = 0;
      }
      return;
    case CSS_URL_STR:
      if(s->esc) {
        /* A backslash before a newline continues the string. */
        s->esc = 0;
        if(c != '\n' && c != '\r' && c != '\f')
          css_tok_put(s, c);
        return;
      }
      if(c == '\\') {
        s->esc = 1;
        return;
      }
      if(c == s->quote) {
        /* What follows, up to ')' or ';', changes nothing. */
        css_emit(l, s);
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      if(c == '\n') {
        css_tok_reset(s);  /* a bad string names nothing */
        s->state = CSS_NORMAL;
        s->prev = 0;
        return;
      }
      css_tok_put(s, c);
      return;
    }
    return;
  }
}

static void css_scan(struct cr_links *l, struct links_css *s, const char *p,
                     size_t n)
{
  size_t i;

  for(i = 0; i < n && links_active(l); i++)
    css_byte(l, s, (unsigned char)p[i]);
}

/* Ends a stylesheet.  CSS closes what is open at its end, so a url() or
 * @import string cut by the end still counts. */
static void css_finish(struct cr_links *l, struct links_css *s)
{
  if(s->state == CSS_URL_RAW || s->state == CSS_URL_END ||
     s->state == CSS_URL_STR)
    css_emit(l, s);
  css_reset(s);
}

/* ------------------------------------------------------------------ */
/* Attribute values                                                   */

/* srcset: comma-separated candidates, each a URL and optional descriptors
 * ("a.png 1x, b.png 480w").  As in the HTML standard, a URL is a run of
 * non-space bytes (so it may hold commas), trailing commas end it, and
 * descriptors run to the next comma outside parentheses. */
static void links_srcset(struct cr_links *l, const char *s, size_t n,
                         enum cr_link_kind kind)
{
  size_t i = 0;

  while(i < n && links_active(l)) {
    size_t start;
    size_t end;
    unsigned depth = 0;

    while(i < n && (links_space((unsigned char)s[i]) || s[i] == ','))
      i++;
    if(i >= n)
      break;
    start = i;
    while(i < n && !links_space((unsigned char)s[i]))
      i++;
    end = i;
    if(s[end - 1] == ',') {
      while(end > start && s[end - 1] == ',')
        end--;
      links_ref(l, s + start, end - start, kind);
      continue;  /* no descriptors */
    }
    links_ref(l, s + start, end - start, kind);
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
}

/* <meta http-equiv=refresh content="5; url=/x">, read as the HTML standard
 * reads it: a number, then ';' or ',', then "url=" (optional), then the URL,
 * quoted or not. */
static void links_refresh(struct cr_links *l, const char *s)
{
  size_t n = strlen(s);
  size_t i = 0;
  size_t start;
  char quote = 0;
  const char *end;

  while(i < n && links_space((unsigned char)s[i]))
    i++;
  if(i >= n || !((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
    return;  /* not a refresh */
  while(i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
    i++;
  if(i < n && !(links_space((unsigned char)s[i]) || s[i] == ';' ||
                s[i] == ','))
    return;
  while(i < n && links_space((unsigned char)s[i]))
    i++;
  if(i < n && (s[i] == ';' || s[i] == ','))
    i++;
  while(i < n && links_space((unsigned char)s[i]))
    i++;
  if(i >= n)
    return;  /* a plain reload of this page */
  start = i;
  /* "url =" is skipped if it is all there; otherwise the URL starts at
   * start, whatever it looks like. */
  if(n - i >= 3 && links_ieq(s + i, 3, "url")) {
    size_t j = i + 3;
    while(j < n && links_space((unsigned char)s[j]))
      j++;
    if(j < n && s[j] == '=') {
      j++;
      while(j < n && links_space((unsigned char)s[j]))
        j++;
      start = j;
    }
  }
  if(start < n && (s[start] == '"' || s[start] == '\'')) {
    quote = s[start];
    start++;
  }
  end = s + n;
  if(quote) {
    const char *q = memchr(s + start, quote, n - start);
    if(q)
      end = q;
  }
  links_ref(l, s + start, (size_t)(end - (s + start)), CR_LINK_PAGE);
}

/* Nonzero when a robots content list ("noindex, nofollow") holds nofollow
 * or none. */
static int links_robots_nofollow(const char *s)
{
  size_t i = 0;
  size_t n = strlen(s);

  while(i < n) {
    size_t start;
    while(i < n && (links_space((unsigned char)s[i]) || s[i] == ','))
      i++;
    start = i;
    while(i < n && !links_space((unsigned char)s[i]) && s[i] != ',')
      i++;
    if(links_ieq(s + start, i - start, "nofollow") ||
       links_ieq(s + start, i - start, "none"))
      return 1;
  }
  return 0;
}

static const char *links_attr(const xmlChar **atts, const char *name)
{
  size_t i;

  for(i = 0; atts[i]; i += 2) {
    if(strcmp((const char *)atts[i], name) == 0)
      return (const char *)atts[i + 1];
  }
  return NULL;
}

/* What a <link> points at, from its rel tokens: what the page needs to
 * render (style sheets, icons, preloads, the web app manifest) is a
 * requisite, as wget's inline links; next, alternate, canonical and the
 * rest name other documents, and so does a <link> without rel. */
static enum cr_link_kind links_rel_kind(const char *rel)
{
  static const char *const needed[] = {
    "stylesheet", "icon", "apple-touch-icon", "apple-touch-icon-precomposed",
    "mask-icon", "preload", "modulepreload", "manifest",
  };
  size_t i = 0;
  size_t n = rel ? strlen(rel) : 0;

  while(i < n) {
    size_t start;
    size_t k;

    while(i < n && links_space((unsigned char)rel[i]))
      i++;
    start = i;
    while(i < n && !links_space((unsigned char)rel[i]))
      i++;
    for(k = 0; k < sizeof(needed) / sizeof(needed[0]); k++)
      if(links_ieq(rel + start, i - start, needed[k]))
        return CR_LINK_RESOURCE;
  }
  return CR_LINK_PAGE;
}

static void links_meta(struct cr_links *l, const xmlChar **atts)
{
  const char *equiv = links_attr(atts, "http-equiv");
  const char *name = links_attr(atts, "name");
  const char *content = links_attr(atts, "content");

  if(!content)
    return;
  if(equiv && links_is(equiv, "refresh"))
    links_refresh(l, content);
  if(name && links_is(name, "robots") && links_robots_nofollow(content))
    l->nofollow = 1;
}

/* The first <base> with an href sets the base for the links after it.  One
 * that does not resolve leaves the page URL, as in browsers. */
static void links_base_elem(struct cr_links *l, const xmlChar **atts)
{
  const char *href = links_attr(atts, "href");
  size_t n;
  char *url = NULL;

  if(!href || l->base_seen)
    return;
  l->base_seen = 1;
  n = strlen(href);
  href = links_trim(href, &n);
  if(n > CR_LINK_MAX)
    return;
  if(cr_url_resolve(l->page, href, n, &url, NULL) == 0)
    l->base = url;
  /* The memo's base prefixes were the page URL's. */
  memset(l->memo_keep, 0, sizeof(l->memo_keep));
}

/* ------------------------------------------------------------------ */
/* SAX callbacks                                                      */

static void links_start_elem(void *ctx, const xmlChar *xname,
                             const xmlChar **atts)
{
  struct cr_links *l = ctx;
  const char *name = (const char *)xname;
  size_t first;
  size_t i;
  size_t k;

  /* Checked after this chunk, where the parser can be replaced. */
  if(l->ctxt->nameNr > LINKS_DEPTH_MAX)
    l->restart = 1;
  if(!links_active(l) || !name)
    return;
  if(!atts)
    return;
  if(strcmp(name, "base") == 0)
    links_base_elem(l, atts);
  else if(strcmp(name, "meta") == 0)
    links_meta(l, atts);
  /* Most elements (span, div, p, ...) carry no link: find this element's
   * rows of links_attrs once, not once per attribute.  Rows of one element
   * are adjacent. */
  for(first = 0; first < LINKS_NATTRS; first++)
    if(strcmp(links_attrs[first].elem, name) == 0)
      break;
  for(i = 0; atts[i] && links_active(l); i += 2) {
    const char *an = (const char *)atts[i];
    const char *av = (const char *)atts[i + 1];

    if(!av)
      continue;  /* <a href> */
    if(strcmp(an, "style") == 0) {
      css_reset(&l->css_attr);
      css_scan(l, &l->css_attr, av, strlen(av));
      css_finish(l, &l->css_attr);
      continue;
    }
    for(k = first; k < LINKS_NATTRS && strcmp(links_attrs[k].elem, name) == 0; k++) {
      const struct links_attr *la = &links_attrs[k];
      enum cr_link_kind kind = la->kind;

      if(strcmp(la->attr, an) != 0)
        continue;
      if(strcmp(name, "link") == 0)
        kind = links_rel_kind(links_attr(atts, "rel"));
      if(la->srcset)
        links_srcset(l, av, strlen(av), kind);
      else
        links_ref(l, av, strlen(av), kind);
      break;
    }
  }
}

/* libxml2 reports every recoverable HTML error; a crawler has nothing to do
 * with them, and nothing may reach stderr. */
static void links_silence(void *ctx, xmlErrorPtr err)
{
  (void)ctx;
  (void)err;
}

/* ------------------------------------------------------------------ */
/* libxml2 parser                                                     */

/* A new push parser reporting to l.  Returns 0 or CR_ENOMEM. */
static int links_ctxt_new(struct cr_links *l, htmlParserCtxtPtr *out)
{
  htmlSAXHandler sax;
  htmlParserCtxtPtr c;
  int bad;

  *out = NULL;
  memset(&sax, 0, sizeof(sax));
  /* XML_SAX2_MAGIC makes libxml2 use serror, per parser; the HTML parser
   * still calls the SAX1-style startElement. */
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElement = links_start_elem;
  sax.serror = links_silence;
  /* UTF-8, not XML_CHAR_ENCODING_NONE: with NONE, libxml2 2.9.14 reads
   * the first byte over 0x7F as the start of ISO-8859-1 (or of whatever a
   * "charset=" anywhere in its buffer says), and every valid UTF-8 URL
   * after it comes out double-encoded. */
  c = htmlCreatePushParserCtxt(&sax, l, NULL, 0, NULL,
                               XML_CHAR_ENCODING_UTF8);
  if(!c)
    return CR_ENOMEM;  /* its only failure is an allocation */
  /* It returns the options it did not apply.  libxml2 2.9.14 does not
   * know HTML_PARSE_NONET here (and its HTML parser, with no entity
   * loader in our SAX table, fetches nothing anyway); any other option
   * missing means a library we cannot trust to keep encodings away, and
   * the parser is not used. */
  bad = htmlCtxtUseOptions(c, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                                HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
  if(bad & ~HTML_PARSE_NONET) {
    htmlFreeParserCtxt(c);
    return CR_ENOMEM;
  }
  *out = c;
  return 0;
}

/* Nonzero when libxml2 waits for the end of a construct (a tag, comment,
 * doctype, end of script...) and will resume its scan for it where it
 * stopped: in 2.9.14 at checkIndex, an index into its buffer. */
static int links_resumes(htmlParserCtxtPtr c)
{
  return c->instate != XML_PARSER_EOF &&
         c->checkIndex > (long)(c->input->cur - c->input->base);
}

/* Nonzero when that scan, one for the '>' of a tag or doctype, stopped
 * inside a quoted attribute value: the low bit of hasPErefs (otherwise
 * unused by the HTML parser) says so. */
static int links_in_value(htmlParserCtxtPtr c)
{
  return links_resumes(c) && (c->hasPErefs & 1);
}

/* Replays libxml2's scan for the end of a tag over p[0..n): a quote opens
 * a value that only the same quote closes.  Attributes are counted as
 * names that follow a space outside values. */
static void links_scan_run(struct links_scan *s, const char *p, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    char c = p[i];

    if(s->quote) {
      if(c == s->quote)
        s->quote = 0;
    }
    else if(c == '"' || c == '\'') {
      s->quote = c;
      s->space = 0;
    }
    else if(links_space((unsigned char)c)) {
      s->space = 1;
    }
    else {
      if(s->space)
        s->atts++;
      s->space = 0;
    }
  }
}

/* Script and style text are read by htmlParseScript, to the matching end
 * tag or to the end of the buffer.  libxml2 2.9.14 then switches to "end
 * tag" if the text it started at began with "</", whatever followed; when
 * a chunk of script text starts with "</div" (say), the next '>' ends a
 * bogus end tag that can swallow the real "</script>", and the rest of the
 * page is read as script.  After a genuine switch the parser stands at
 * "</script" or "</style"; anywhere else it goes back to reading text. */
static void links_fix_raw_end(htmlParserCtxtPtr c)
{
  const char *cur;
  size_t avail;
  size_t len;

  if(c->instate != XML_PARSER_END_TAG || !links_raw(c->name))
    return;
  cur = (const char *)c->input->cur;
  avail = (size_t)(c->input->end - c->input->cur);
  len = strlen((const char *)c->name);
  if(avail >= len + 2 && cur[0] == '<' && cur[1] == '/' &&
     links_ieq(cur + 2, len, (const char *)c->name))
    return;
  c->instate = XML_PARSER_CONTENT;
}

/* htmlParseChunk, around a bug and a cost of libxml2 2.9.14.
 *
 * The bug: when a chunk ends inside a quoted attribute value of a tag not
 * yet closed, libxml2 remembers that it is inside a value but not which
 * quote opened it, so it never sees the value end, and the rest of the
 * page waits for the end of input (or, here, for LINKS_PENDING_MAX).  We
 * replay its scan and keep the quote: a chunk that holds the closing quote
 * is handed over in two parts, the first ending with that quote, and in
 * between libxml2 is told that the value is closed.
 *
 * The cost: libxml2 checks each attribute of a tag against all those
 * before it, so a tag of 100,000 short attributes takes seconds.  The
 * replay counts attributes while a tag is pending; past LINKS_TAG_ATTS we
 * give up before libxml2 gets to parse it.
 *
 * htmlParseChunk's result is the last recoverable error, set on most real
 * pages; the parser's state is what tells. */
static void links_parse(struct cr_links *l, const char *p, size_t n)
{
  while(n && !l->stopped) {
    htmlParserCtxtPtr c = l->ctxt;
    size_t take = n;
    size_t before = (size_t)(c->input->end - c->input->cur);
    int was_in = links_in_value(c);
    int closing = 0;
    int resume;
    const char *from;
    const char *end;

    if(was_in && !l->scan.quote) {
      /* Not expected; libxml2 scans the construct again from its start,
       * which is right, only slower. */
      c->checkIndex = 0;
      c->hasPErefs &= ~1;
      was_in = 0;
    }
    resume = links_resumes(c);
    if(was_in) {
      const char *cq = memchr(p, l->scan.quote, n);
      if(cq) {
        take = (size_t)(cq - p) + 1;
        closing = 1;
      }
    }
    (void)htmlParseChunk(c, p, (int)take, 0);
    links_fix_raw_end(c);
    p += take;
    n -= take;
    if(!links_resumes(c)) {
      memset(&l->scan, 0, sizeof(l->scan));
      continue;
    }
    /* Replay the scan on what libxml2 read: the new bytes when it went on
     * with the same construct, else all of the one it now waits for. */
    end = (const char *)c->input->end;
    if(resume && (size_t)(end - (const char *)c->input->cur) == before + take) {
      from = end - take;
    }
    else {
      from = (const char *)c->input->cur;
      memset(&l->scan, 0, sizeof(l->scan));
    }
    links_scan_run(&l->scan, from, (size_t)(end - from));
    if(links_in_value(c) && !l->scan.quote) {
      if(closing) {
        c->hasPErefs &= ~1;  /* it took the closing quote for more value */
      }
      else {
        c->checkIndex = 0;  /* not expected: a scan from the start */
        c->hasPErefs &= ~1;
      }
    }
    if(c->instate == XML_PARSER_START_TAG && l->scan.atts > LINKS_TAG_ATTS)
      l->stopped = 1;
  }
}

/* Replaces the parser with a new one fed prefix (may be NULL) and the last
 * keep bytes the old one had not parsed.  The old parser's buffer is read
 * before it is freed.  Returns 0 or CR_ENOMEM. */
static int links_restart(struct cr_links *l, const char *prefix, size_t keep)
{
  htmlParserCtxtPtr old = l->ctxt;
  htmlParserCtxtPtr c = NULL;
  const char *rest = (const char *)old->input->end - keep;
  int rc;

  rc = links_ctxt_new(l, &c);
  if(rc)
    return rc;
  /* The callbacks read l->ctxt, so it must be the new parser already. */
  l->ctxt = c;
  l->restart = 0;
  memset(&l->scan, 0, sizeof(l->scan));
  if(prefix)
    links_parse(l, prefix, strlen(prefix));
  if(keep)
    links_parse(l, rest, keep);
  htmlFreeParserCtxt(old);
  return 0;
}

/* Nonzero when p[0..n) has more than blanks. */
static int links_markup(const char *p, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    if(!links_space((unsigned char)p[i]))
      return 1;
  }
  return 0;
}

/* Looks at the parser after a chunk: restarts it where libxml2 stopped
 * early or went too deep, gives up past the caps. */
static void links_check(struct cr_links *l)
{
  size_t stalled = SIZE_MAX;

  while(!l->stopped) {
    htmlParserCtxtPtr c = l->ctxt;
    const char *cur = (const char *)c->input->cur;
    size_t pending = (size_t)(c->input->end - c->input->cur);
    int raw = links_raw(c->name);
    int rc;

    if(c->instate == XML_PARSER_EOF ||
       (c->instate == XML_PARSER_EPILOG && links_markup(cur, pending))) {
      /* After </html>, libxml2 takes only blanks and comments, and stops
       * for good at anything else (it stops when out of memory, too); it
       * may also sit in that state until more input comes, which at the
       * end of the page is never.  The rest of the page still counts, so
       * a new parser takes it.  One that stops again without using any of
       * it makes us give up. */
      if(pending && pending >= stalled) {
        l->stopped = 1;
        break;
      }
      stalled = pending;
      rc = links_restart(l, NULL, pending);
    }
    else if(l->restart && !raw) {
      /* Never inside a script: its text would be read as markup. */
      rc = links_restart(l, NULL, pending);
    }
    else if(pending > LINKS_PENDING_MAX || c->nameNr > LINKS_DEPTH_HARD) {
      l->stopped = 1;
      break;
    }
    else {
      break;
    }
    if(rc)
      l->stopped = 1;
  }
}

static void links_push(struct cr_links *l, const char *p, size_t n)
{
  links_parse(l, p, n);
  links_check(l);
}

/* Hands the block to libxml2.  Unless final, some bytes at its end stay
 * behind for the next block, where libxml2 2.9.14 would misread a cut: a
 * '<' in the last LINKS_HOLD bytes, with what follows it ("</script>" cut
 * after "</s" is read as script text). */
static void links_flush(struct cr_links *l, int final)
{
  size_t n = l->blockn;
  size_t keep = 0;
  size_t i;

  if(!final) {
    for(i = n > LINKS_HOLD ? n - LINKS_HOLD : 0; i < n; i++) {
      if(l->block[i] == '<') {
        keep = n - i;
        break;
      }
    }
  }
  if(n > keep && !l->stopped)
    links_push(l, l->block, n - keep);
  memmove(l->block, l->block + n - keep, keep);
  l->blockn = keep;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                            */

/* Appends one code point as UTF-8.  What libxml2 cannot take becomes
 * U+FFFD (NUL, as in HTML; surrogates; U+FFFE and U+FFFF, which would make
 * libxml2 switch encodings), and form feed becomes a space because libxml2
 * does not count it as whitespace between attributes. */
/* Appends one ASCII byte.  (The sieve writes no comment, so the
 * comment-end cases libxml2 2.9.14 reads differently by the cut cannot
 * arise; a value holding "<!--" goes through untouched.) */
static void links_ascii(struct cr_links *l, char c)
{
  if(l->blockn + 1 > LINKS_BLOCK)
    links_flush(l, 0);
  l->block[l->blockn++] = c;
}

/* Writes cp (at most U+10FFFF) as UTF-8 to o; returns the length. */
static size_t links_enc8(uint32_t cp, unsigned char *o)
{
  if(cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if(cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if(cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

static void links_putcp(struct cr_links *l, uint32_t cp)
{
  if(cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
     cp == 0xFFFE || cp == 0xFFFF)
    cp = 0xFFFD;
  else if(cp == '\f')
    cp = ' ';
  if(cp < 0x80) {
    links_ascii(l, (char)cp);
    return;
  }
  if(l->blockn + 4 > LINKS_BLOCK)
    links_flush(l, 0);
  l->blockn += links_enc8(cp, (unsigned char *)l->block + l->blockn);
}

/* A byte that is not part of valid UTF-8, read as windows-1252. */
static void links_put1252(struct cr_links *l, unsigned char b)
{
  links_putcp(l, (b >= 0x80 && b < 0xA0) ? links_cp1252[b - 0x80] : b);
}

/* Gives up a UTF-8 sequence that turned out invalid: each of its bytes is
 * read on its own. */
static void links_utf8_drop(struct cr_links *l)
{
  struct links_dec *d = &l->dec;
  size_t i;

  for(i = 0; i < d->heldn; i++)
    links_put1252(l, d->held[i]);
  d->heldn = 0;
  d->need = 0;
}

static void links_utf8(struct cr_links *l, const unsigned char *s, size_t n)
{
  struct links_dec *d = &l->dec;
  size_t i;

  for(i = 0; i < n && !l->stopped; i++) {
    unsigned char c = s[i];

    if(d->need) {
      if(c >= d->lo && c <= d->hi) {
        d->cp = (d->cp << 6) | (c & 0x3F);
        d->held[d->heldn++] = c;
        d->lo = 0x80;
        d->hi = 0xBF;
        if(--d->need == 0) {
          d->heldn = 0;
          links_putcp(l, d->cp);
        }
        continue;
      }
      links_utf8_drop(l);  /* and c starts afresh */
    }
    if(c < 0x80) {
      size_t j = i;

      if(c == 0 || c == '\f') {
        links_putcp(l, c);
        continue;
      }
      /* The common case: a run of plain ASCII goes in whole. */
      while(j + 1 < n && s[j + 1] > 0 && s[j + 1] < 0x80 && s[j + 1] != '\f')
        j++;
      if(l->blockn + (j - i + 1) <= LINKS_BLOCK) {
        memcpy(l->block + l->blockn, s + i, j - i + 1);
        l->blockn += j - i + 1;
        i = j;
        continue;
      }
      links_ascii(l, (char)c);
      continue;
    }
    /* RFC 3629: the ranges of the second byte rule out overlong forms,
     * surrogates and code points past U+10FFFF. */
    d->lo = 0x80;
    d->hi = 0xBF;
    if(c >= 0xC2 && c <= 0xDF) {
      d->need = 1;
      d->cp = c & 0x1F;
    }
    else if(c >= 0xE0 && c <= 0xEF) {
      d->need = 2;
      d->cp = c & 0x0F;
      if(c == 0xE0)
        d->lo = 0xA0;
      else if(c == 0xED)
        d->hi = 0x9F;
    }
    else if(c >= 0xF0 && c <= 0xF4) {
      d->need = 3;
      d->cp = c & 0x07;
      if(c == 0xF0)
        d->lo = 0x90;
      else if(c == 0xF4)
        d->hi = 0x8F;
    }
    else {
      links_put1252(l, c);
      continue;
    }
    d->held[0] = c;
    d->heldn = 1;
  }
}

/* UTF-16 is turned into UTF-8 first: the sieve reads ASCII-compatible
 * bytes only. */
static void links_u16_flush(struct cr_links *l)
{
  size_t n = l->u16n;

  l->u16n = 0;
  sieve_run(l, l->u16out, n);
}

static void links_u16_put(struct cr_links *l, uint32_t cp)
{
  if(l->u16n + 4 > sizeof(l->u16out))
    links_u16_flush(l);
  l->u16n += links_enc8(cp, l->u16out + l->u16n);
}

static void links_utf16_unit(struct cr_links *l, unsigned u)
{
  struct links_dec *d = &l->dec;

  if(d->hisur) {
    unsigned hi = d->hisur;
    d->hisur = 0;
    if(u >= 0xDC00 && u <= 0xDFFF) {
      links_u16_put(l, 0x10000 + ((uint32_t)(hi - 0xD800) << 10) + (u - 0xDC00));
      return;
    }
    links_u16_put(l, 0xFFFD);  /* a lone high surrogate */
  }
  if(u >= 0xD800 && u <= 0xDBFF)
    d->hisur = u;
  else if(u >= 0xDC00 && u <= 0xDFFF)
    links_u16_put(l, 0xFFFD);  /* a lone low surrogate */
  else
    links_u16_put(l, u);
}

static void links_utf16(struct cr_links *l, const unsigned char *s, size_t n)
{
  struct links_dec *d = &l->dec;
  size_t i;

  for(i = 0; i < n && !l->stopped; i++) {
    unsigned u;

    if(!d->have_odd) {
      d->odd = s[i];
      d->have_odd = 1;
      continue;
    }
    d->have_odd = 0;
    if(d->enc == ENC_UTF16LE)
      u = d->odd | ((unsigned)s[i] << 8);
    else
      u = ((unsigned)d->odd << 8) | s[i];
    links_utf16_unit(l, u);
  }
  links_u16_flush(l);
}

static void links_decode_more(struct cr_links *l, const unsigned char *s,
                              size_t n)
{
  if(l->dec.enc == ENC_UTF8)
    sieve_run(l, s, n);
  else
    links_utf16(l, s, n);
}

/* Decides the encoding from the first bytes: a byte order mark, or UTF-8.
 * Returns 0 while the bytes so far could still start a mark. */
static int links_sniff(struct cr_links *l, int final)
{
  struct links_dec *d = &l->dec;
  const unsigned char *b = d->sniff;
  size_t n = d->sniffn;
  size_t skip = 0;

  d->enc = ENC_UTF8;
  if(n >= 2 && b[0] == 0xFE && b[1] == 0xFF) {
    d->enc = ENC_UTF16BE;
    skip = 2;
  }
  else if(n >= 2 && b[0] == 0xFF && b[1] == 0xFE) {
    d->enc = ENC_UTF16LE;
    skip = 2;
  }
  else if(n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
    skip = 3;
  }
  else if(!final && ((n == 1 && (b[0] == 0xEF || b[0] == 0xFE ||
                                 b[0] == 0xFF)) ||
                     (n == 2 && b[0] == 0xEF && b[1] == 0xBB))) {
    d->enc = ENC_SNIFF;
    return 0;
  }
  links_decode_more(l, b + skip, n - skip);
  return 1;
}

static void links_decode(struct cr_links *l, const unsigned char *s, size_t n)
{
  struct links_dec *d = &l->dec;

  while(d->enc == ENC_SNIFF && n) {
    d->sniff[d->sniffn++] = *s++;
    n--;
    links_sniff(l, 0);
  }
  if(n)
    links_decode_more(l, s, n);
}

/* Ends the input: what the decoder holds is flushed as best it can. */
static void links_decode_end(struct cr_links *l)
{
  struct links_dec *d = &l->dec;

  if(d->enc == ENC_SNIFF)
    links_sniff(l, 1);
  if(d->enc == ENC_UTF8) {
    links_utf8_drop(l);
  }
  else {
    if(d->have_odd)
      links_u16_put(l, 0xFFFD);
    if(d->hisur)
      links_u16_put(l, 0xFFFD);
    d->have_odd = 0;
    d->hisur = 0;
    links_u16_flush(l);
  }
  sieve_end(l);
  links_utf8_drop(l);
}

/* ------------------------------------------------------------------ */
/* Sieve                                                              */

/* Of 2.1 million tags in a typical documentation site, about one in ten
 * can hold a link, and text is a quarter of the bytes; libxml2 spends
 * about 150 ns on every tag and walks every character of text.  So before
 * libxml2 sees anything, the sieve tokenizes the page as the HTML standard
 * does (tags, attributes with their quoting, comments, raw text of script,
 * style, title, textarea, ...), which mostly is memchr over text and
 * comments, and hands on only the tags that matter, rebuilt with only the
 * attributes that matter, quoted one way: <a href="...">, <img src srcset>,
 * <base>, <meta>, any element's style="" as <span style="...">.  libxml2
 * still parses each of those (entities, names, values), but never sees a
 * comment, script text or a cut construct.  Non-void elements get their
 * end tag at once, so libxml2's tree stays flat.
 *
 * Where the sieve reads differently from libxml2 reading the whole page,
 * it reads as a browser does: iframe, noembed, noframes, xmp, title and
 * textarea hold text, not markup; "<a/href=x>" has an href; the first of
 * two equal attributes wins.  <style> text goes straight to the CSS
 * scanner, undecoded, as a text/css body does. */

enum sieve_state {
  SV_DATA = 0,
  SV_LT,            /* after '<' */
  SV_END_LT,        /* after "</" */
  SV_TAG_NAME,
  SV_BEFORE_ATTR,
  SV_ATTR_NAME,
  SV_AFTER_ATTR_NAME,
  SV_BEFORE_VALUE,
  SV_VALUE_DQ,
  SV_VALUE_SQ,
  SV_VALUE_UQ,
  SV_AFTER_VALUE,   /* after a quoted value */
  SV_SELF_CLOSING,  /* after '/' in a tag */
  SV_MARKUP,        /* after "<!" */
  SV_MARKUP_DASH,   /* after "<!-" */
  SV_BOGUS,         /* <!DOCTYPE ...>, <?...>, </3>: to the next '>' */
  SV_COMMENT_START,
  SV_COMMENT_START_DASH,
  SV_COMMENT,
  SV_COMMENT_END_DASH,
  SV_COMMENT_END,
  SV_COMMENT_END_BANG,
  SV_RAW,           /* text of script, style, ...: to "</name" */
  SV_PLAINTEXT,     /* after <plaintext>: text to the end */
};

/* The attributes the sieve keeps, as bits. */
enum {
  SA_HREF = 1 << 0,
  SA_SRC = 1 << 1,
  SA_SRCSET = 1 << 2,
  SA_DATA = 1 << 3,
  SA_STYLE = 1 << 4,
  SA_EQUIV = 1 << 5,
  SA_NAME = 1 << 6,
  SA_CONTENT = 1 << 7,
  SA_POSTER = 1 << 8,
  SA_BACKGROUND = 1 << 9,
  SA_REL = 1 << 10,
};

static const char *const sieve_attr_names[] = {
  "href", "src", "srcset", "data", "style", "http-equiv", "name", "content",
  "poster", "background", "rel",
};

static const size_t sieve_attr_lens[] = { 4, 3, 6, 4, 5, 10, 4, 7, 6, 10, 3 };

#define SIEVE_NATTR (sizeof(sieve_attr_names) / sizeof(sieve_attr_names[0]))

enum sieve_raw {
  RAW_NONE = 0,
  RAW_DROP,     /* script, title, ...: text skipped */
  RAW_CSS,      /* style: text to the CSS scanner */
  RAW_ALL,      /* plaintext: never ends */
};

struct sieve_elem {
  const char *name;
  size_t len;
  unsigned attrs;       /* SA_* kept, besides style */
  const char *emit;     /* written as this element (NULL: its own name) */
  enum sieve_raw raw;
  int isvoid;           /* no end tag is written after it */
};

/* Elements that hold links (see links_attrs) or change tokenizing.  Any
 * other element is written as <span style="..."> when it has a style. */
static const struct sieve_elem sieve_elems[] = {
  { "a", 1, SA_HREF, NULL, RAW_NONE, 0 },
  { "area", 4, SA_HREF, NULL, RAW_NONE, 1 },
  { "audio", 5, SA_SRC, NULL, RAW_NONE, 0 },
  { "base", 4, SA_HREF, NULL, RAW_NONE, 1 },
  { "body", 4, SA_BACKGROUND, "span", RAW_NONE, 0 },
  { "embed", 5, SA_SRC, NULL, RAW_NONE, 1 },
  { "frame", 5, SA_SRC, NULL, RAW_NONE, 1 },
  { "iframe", 6, SA_SRC, NULL, RAW_DROP, 0 },
  { "img", 3, SA_SRC | SA_SRCSET, NULL, RAW_NONE, 1 },
  { "input", 5, SA_SRC, NULL, RAW_NONE, 1 },
  { "link", 4, SA_HREF | SA_REL, NULL, RAW_NONE, 1 },
  { "meta", 4, SA_EQUIV | SA_NAME | SA_CONTENT, NULL, RAW_NONE, 1 },
  { "noembed", 7, 0, NULL, RAW_DROP, 0 },
  { "noframes", 8, 0, NULL, RAW_DROP, 0 },
  { "object", 6, SA_DATA, NULL, RAW_NONE, 0 },
  { "plaintext", 9, 0, NULL, RAW_ALL, 0 },
  { "script", 6, SA_SRC, NULL, RAW_DROP, 0 },
  { "source", 6, SA_SRC | SA_SRCSET, NULL, RAW_NONE, 1 },
  { "style", 5, 0, NULL, RAW_CSS, 0 },
  { "table", 5, SA_BACKGROUND, "span", RAW_NONE, 0 },
  { "td", 2, SA_BACKGROUND, "span", RAW_NONE, 0 },
  { "textarea", 8, 0, NULL, RAW_DROP, 0 },
  { "th", 2, SA_BACKGROUND, "span", RAW_NONE, 0 },
  { "title", 5, 0, NULL, RAW_DROP, 0 },
  { "track", 5, SA_SRC, NULL, RAW_NONE, 1 },
  { "video", 5, SA_SRC | SA_POSTER, NULL, RAW_NONE, 0 },
  { "xmp", 3, 0, NULL, RAW_DROP, 0 },
};

#define SIEVE_NELEMS (sizeof(sieve_elems) / sizeof(sieve_elems[0]))

/* Raw bytes kept of one value: a link's value may hold entities, so it is
 * allowed a few times CR_LINK_MAX (links_ref caps the decoded value);
 * srcset, style and content hold lists. */
#define SIEVE_VALUE_MAX (4 * CR_LINK_MAX)
#define SIEVE_LIST_MAX LINKS_RAW_MAX

/* Bytes that end a tag or attribute name. */
enum { SC_WS = 1, SC_SLASH = 2, SC_GT = 4, SC_EQ = 8 };

static const unsigned char sieve_class[256] = {
  [' '] = SC_WS, ['\t'] = SC_WS, ['\n'] = SC_WS, ['\f'] = SC_WS,
  ['\r'] = SC_WS, ['/'] = SC_SLASH, ['>'] = SC_GT, ['='] = SC_EQ,
};

static int sieve_ws(unsigned char c)
{
  return sieve_class[c] == SC_WS;
}

static int sieve_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void sieve_tag_begin(struct links_sieve *v, int end)
{
  v->end = end;
  v->namen = 0;
  v->elem = -1;
  v->seen = 0;
  v->attr = -1;
  cr_buf_reset(&v->out);
}

/* Appends a name byte, lower case; a name longer than the buffer matches
 * nothing, which namen > sizeof says. */
static void sieve_name_put(unsigned char *buf, size_t size, size_t *n,
                           unsigned char c)
{
  if(*n < size)
    buf[*n] = (unsigned char)links_lower(c);
  if(*n <= size)
    (*n)++;
}

static int sieve_name_is(const unsigned char *buf, size_t size, size_t n,
                         const char *kw, size_t kwlen)
{
  return n == kwlen && n <= size && buf[0] == (unsigned char)kw[0] &&
         memcmp(buf, kw, n) == 0;
}

static void sieve_tag_named(struct links_sieve *v)
{
  size_t i;

  if(v->end)
    return;
  for(i = 0; i < SIEVE_NELEMS; i++) {
    if(sieve_name_is(v->name, sizeof(v->name), v->namen, sieve_elems[i].name,
                     sieve_elems[i].len)) {
      v->elem = (int)i;
      return;
    }
  }
}

/* An attribute name is complete: decide whether its value is kept. */
static void sieve_attr_named(struct links_sieve *v)
{
  unsigned allowed = SA_STYLE;
  size_t i;

  v->attr = -1;
  if(v->end)
    return;
  if(v->elem >= 0)
    allowed |= sieve_elems[v->elem].attrs;
  for(i = 0; i < SIEVE_NATTR; i++) {
    if((allowed & (1u << i)) && !(v->seen & (1u << i)) &&
       sieve_name_is(v->an, sizeof(v->an), v->ann, sieve_attr_names[i],
                     sieve_attr_lens[i])) {
      v->seen |= 1u << i;  /* a second one is ignored, as in browsers */
      v->attr = (int)i;
      return;
    }
  }
}

/* The element name written for libxml2: its own when it holds links. */
static const char *sieve_emit_name(const struct links_sieve *v)
{
  if(v->elem >= 0 && sieve_elems[v->elem].attrs)
    return sieve_elems[v->elem].emit ? sieve_elems[v->elem].emit
                                     : sieve_elems[v->elem].name;
  return "span";
}

/* A kept attribute's value starts: write ' name="'. */
static void sieve_value_begin(struct links_sieve *v)
{
  int rc = 0;

  if(v->attr < 0)
    return;
  v->attrstart = v->out.len;
  v->over = 0;
  if(v->out.len == 0) {
    rc |= cr_buf_putc(&v->out, '<');
    rc |= cr_buf_puts(&v->out, sieve_emit_name(v));
  }
  rc |= cr_buf_putc(&v->out, ' ');
  rc |= cr_buf_puts(&v->out, sieve_attr_names[v->attr]);
  rc |= cr_buf_puts(&v->out, "=\"");
  v->valstart = v->out.len;
  v->valmax = (1u << v->attr) & (SA_SRCSET | SA_STYLE | SA_CONTENT)
                ? SIEVE_LIST_MAX : SIEVE_VALUE_MAX;
  if(rc)
    v->over = 1;
}

static void sieve_value_put(struct links_sieve *v, const unsigned char *p,
                            size_t n)
{
  size_t i;
  size_t from = 0;

  if(v->attr < 0 || v->over)
    return;
  if(v->out.len - v->valstart + n > v->valmax) {
    v->over = 1;
    return;
  }
  /* Every value is written in double quotes. */
  for(i = 0; i < n; i++) {
    if(p[i] == '"') {
      if(cr_buf_append(&v->out, p + from, i - from) ||
         cr_buf_puts(&v->out, "&quot;")) {
        v->over = 1;
        return;
      }
      from = i + 1;
    }
  }
  if(cr_buf_append(&v->out, p + from, n - from))
    v->over = 1;
}

/* Nonzero when the kept value just read is a link the memo already has:
 * libxml2 need not see it.  Only for plain values, where the raw bytes are
 * what libxml2 would hand back (no entity, no byte it would decode); the
 * memo is only read here, links_ref records. */
static int sieve_known(struct cr_links *l)
{
  const struct links_sieve *v = &l->sieve;
  const char *p = v->out.data + v->valstart;
  size_t n = v->out.len - v->valstart;
  uint64_t key;
  size_t i;

  if(!((1u << v->attr) & (SA_HREF | SA_SRC | SA_DATA | SA_POSTER | SA_BACKGROUND)) ||
     (v->elem >= 0 && strcmp(sieve_elems[v->elem].name, "base") == 0))
    return 0;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if(c == '&' || c < 0x20 || c >= 0x7F)
      return 0;
  }
  p = links_trim(p, &n);
  /* "#x" with no <base> names this very page, which is being fetched: a
   * third of the links of a documentation page are such anchors. */
  if(n && p[0] == '#' && !l->base_seen)
    return 1;
  if(!l->memo || !n || n > CR_LINK_MAX)
    return 0;
  /* The sieve cannot tell a <link>'s kind before its rel: when kinds
   * matter, a reference is known only once known as both. */
  key = links_memo_key(l, p, n);
  return cr_hset_has(l->memo, key) &&
         (!l->memo_kinds || cr_hset_has(l->memo, links_kind_key(l, key, CR_LINK_RESOURCE)));
}

/* A value ended; one over its cap, or already known, is dropped with its
 * name.  An attribute without a value is not written (libxml2 gives no
 * value for it). */
static void sieve_value_end(struct cr_links *l)
{
  struct links_sieve *v = &l->sieve;

  if(v->attr < 0)
    return;
  if(v->over || sieve_known(l) || cr_buf_putc(&v->out, '"')) {
    v->out.len = v->attrstart;
    if(v->out.data)
      v->out.data[v->out.len] = '\0';
  }
  v->attr = -1;
}

static void sieve_emit(struct cr_links *l, const char *p, size_t n)
{
  links_utf8(l, (const unsigned char *)p, n);
}

/* The tag ended with '>' (or with the body): write it if it kept anything,
 * and say what follows it. */
static void sieve_tag_end(struct cr_links *l)
{
  struct links_sieve *v = &l->sieve;
  enum sieve_raw raw = RAW_NONE;

  v->st = SV_DATA;
  if(v->end)
    return;
  if(v->out.len) {
    const char *name = sieve_emit_name(v);
    int isvoid = v->elem >= 0 && sieve_elems[v->elem].attrs &&
                 !sieve_elems[v->elem].emit && sieve_elems[v->elem].isvoid;

    sieve_emit(l, v->out.data, v->out.len);
    sieve_emit(l, ">", 1);
    if(!isvoid) {
      sieve_emit(l, "</", 2);
      sieve_emit(l, name, strlen(name));
      sieve_emit(l, ">", 1);
    }
    /* The sieve reads ahead of libxml2, and sieve_known keys the memo by
     * the base: libxml2 must take a <base> before the sieve goes on. */
    if(v->elem >= 0 && strcmp(sieve_elems[v->elem].name, "base") == 0)
      links_flush(l, 1);
  }
  if(v->elem >= 0)
    raw = sieve_elems[v->elem].raw;
  if(raw == RAW_NONE)
    return;
  v->raw = raw;
  v->rawname = sieve_elems[v->elem].name;
  v->rawlen = sieve_elems[v->elem].len;
  v->rawm = 0;
  v->st = raw == RAW_ALL ? SV_PLAINTEXT : SV_RAW;
  if(raw == RAW_CSS) {
    /* libxml2 must have seen the <base> before this text's url()s. */
    links_flush(l, 1);
    css_reset(&l->css);
  }
}

/* Hands raw text to the CSS scanner when it is <style>'s. */
static void sieve_css(struct cr_links *l, const void *p, size_t n)
{
  if(l->sieve.raw == RAW_CSS && n)
    css_scan(l, &l->css, p, n);
}

/* A partial "</name" match failed: its bytes were text after all. */
static void sieve_raw_miss(struct cr_links *l)
{
  struct links_sieve *v = &l->sieve;

  if(v->rawm > 0)
    sieve_css(l, "<", 1);
  if(v->rawm > 1)
    sieve_css(l, "/", 1);
  if(v->rawm > 2)
    sieve_css(l, v->rawname, v->rawm - 2);
  v->rawm = 0;
}

/* Raw text: looks for "</name" then a space, '/' or '>'.  The bytes of a
 * match so far are held back from the CSS scanner until it fails.
 * Returns bytes used. */
static size_t sieve_raw(struct cr_links *l, const unsigned char *s, size_t n)
{
  struct links_sieve *v = &l->sieve;
  size_t len = v->rawlen;
  size_t i = 0;

  while(i < n) {
    unsigned char c = s[i];

    if(v->rawm == 0) {
      const unsigned char *lt = memchr(s + i, '<', n - i);
      size_t at = lt ? (size_t)(lt - s) : n;

      sieve_css(l, s + i, at - i);
      if(!lt)
        return n;
      i = at + 1;
      v->rawm = 1;
      continue;
    }
    if(v->rawm == 1 ? c == '/' :
       v->rawm < 2 + len ? links_lower(c) == (unsigned char)v->rawname[v->rawm - 2] :
       (sieve_ws(c) || c == '/' || c == '>')) {
      if(v->rawm < 2 + len) {
        v->rawm++;
        i++;
        continue;
      }
      if(v->raw == RAW_CSS)
        css_finish(l, &l->css);
      v->raw = RAW_NONE;
      /* The end tag's own attributes are read, and dropped. */
      sieve_tag_begin(v, 1);
      v->st = SV_BEFORE_ATTR;
      return i;
    }
    sieve_raw_miss(l);  /* and c is looked at again */
  }
  return n;
}

/* The tokenizer proper.  Each state is a label, entered from the switch
 * when a feed resumes there and by goto within a feed, so a tag costs no
 * dispatch per byte.  STEP consumes the byte in c and, at the end of the
 * feed, stops in the given state. */
#define STEP(state)                                                          \
  do {                                                                       \
    if(++s == e) {                                                           \
      v->st = (state);                                                       \
      return;                                                                \
    }                                                                        \
    c = *s;                                                                  \
  } while(0)

static void sieve_run(struct cr_links *l, const unsigned char *s, size_t n)
{
  struct links_sieve *v = &l->sieve;
  const unsigned char *e = s + n;
  const unsigned char *q;
  unsigned char c;
  unsigned char quote;

  while(s < e) {
    c = *s;
    switch((enum sieve_state)v->st) {
    case SV_DATA:
      goto data;
    case SV_LT:
      goto lt;
    case SV_END_LT:
      goto end_lt;
    case SV_TAG_NAME:
      goto tag_name;
    case SV_BEFORE_ATTR:
      goto before_attr;
    case SV_ATTR_NAME:
      goto attr_name;
    case SV_AFTER_ATTR_NAME:
      goto after_attr_name;
    case SV_BEFORE_VALUE:
      goto before_value;
    case SV_VALUE_DQ:
      quote = '"';
      goto value_q;
    case SV_VALUE_SQ:
      quote = '\'';
      goto value_q;
    case SV_VALUE_UQ:
      goto value_uq;
    case SV_AFTER_VALUE:
      goto after_value;
    case SV_SELF_CLOSING:
      goto self_closing;
    case SV_MARKUP:
      goto markup;
    case SV_MARKUP_DASH:
      goto markup_dash;
    case SV_BOGUS:
      goto bogus;
    case SV_COMMENT_START:
      goto comment_start;
    case SV_COMMENT_START_DASH:
      goto comment_start_dash;
    case SV_COMMENT:
      goto comment;
    case SV_COMMENT_END_DASH:
      goto comment_end_dash;
    case SV_COMMENT_END:
      goto comment_end;
    case SV_COMMENT_END_BANG:
      goto comment_end_bang;
    case SV_RAW:
      s += sieve_raw(l, s, (size_t)(e - s));
      continue;
    case SV_PLAINTEXT:
      return;
    }
    return;  /* not reached: every state has its case */

  data:
    if(!links_active(l)) {
      v->st = SV_PLAINTEXT;  /* nothing more is reported: read no more */
      return;
    }
    q = memchr(s, '<', (size_t)(e - s));
    if(!q) {
      v->st = SV_DATA;
      return;
    }
    s = q;
    c = '<';
    STEP(SV_LT);
  lt:
    if(sieve_alpha(c)) {
      sieve_tag_begin(v, 0);
      goto tag_name;  /* the name starts with c */
    }
    if(c == '/') {
      STEP(SV_END_LT);
      goto end_lt;
    }
    if(c == '!') {
      STEP(SV_MARKUP);
      goto markup;
    }
    if(c == '?')
      goto bogus;
    goto data;  /* '<' was text; c is read again */

  end_lt:
    if(sieve_alpha(c)) {
      sieve_tag_begin(v, 1);
      goto tag_name;
    }
    if(c == '>') {  /* "</>" is nothing */
      STEP(SV_DATA);
      goto data;
    }
    goto bogus;

  tag_name:
    while(!(sieve_class[c] & (SC_WS | SC_SLASH | SC_GT))) {
      if(!v->end)  /* an end tag's name does not matter */
        sieve_name_put(v->name, sizeof(v->name), &v->namen, c);
      STEP(SV_TAG_NAME);
    }
    sieve_tag_named(v);
    /* fall through: c is read again */
  before_attr:
    while(sieve_ws(c))
      STEP(SV_BEFORE_ATTR);
    if(c == '/' || c == '>') {
      v->attr = -1;
      goto after_attr_name;
    }
    v->ann = 0;
    sieve_name_put(v->an, sizeof(v->an), &v->ann, c);  /* even '=' */
    STEP(SV_ATTR_NAME);
  attr_name:
    while(!sieve_class[c]) {
      sieve_name_put(v->an, sizeof(v->an), &v->ann, c);
      STEP(SV_ATTR_NAME);
    }
    sieve_attr_named(v);
    if(c == '=') {
      STEP(SV_BEFORE_VALUE);
      goto before_value;
    }
    /* fall through: a space, '/' or '>' */
  after_attr_name:
    while(sieve_ws(c))
      STEP(SV_AFTER_ATTR_NAME);
    if(c == '=') {
      STEP(SV_BEFORE_VALUE);
      goto before_value;
    }
    v->attr = -1;  /* it had no value */
    if(c == '/') {
      STEP(SV_SELF_CLOSING);
      goto self_closing;
    }
    if(c == '>')
      goto tag_end;
    v->ann = 0;
    goto attr_name;  /* c starts the next name */

  before_value:
    while(sieve_ws(c))
      STEP(SV_BEFORE_VALUE);
    if(c == '>') {
      v->attr = -1;  /* "href=>": no value */
      goto tag_end;
    }
    sieve_value_begin(v);
    if(c == '"' || c == '\'') {
      quote = c;
      STEP(c == '"' ? SV_VALUE_DQ : SV_VALUE_SQ);
      goto value_q;
    }
    /* fall through: c starts an unquoted value */
  value_uq:
    q = s;
    while(q < e && !(sieve_class[*q] & (SC_WS | SC_GT)))
      q++;
    sieve_value_put(v, s, (size_t)(q - s));
    s = q;
    if(s == e) {
      v->st = SV_VALUE_UQ;
      return;
    }
    c = *s;
    sieve_value_end(l);
    goto before_attr;

  value_q:
    q = memchr(s, quote, (size_t)(e - s));
    sieve_value_put(v, s, (size_t)((q ? q : e) - s));
    if(!q) {
      v->st = quote == '"' ? SV_VALUE_DQ : SV_VALUE_SQ;
      return;
    }
    s = q;
    sieve_value_end(l);
    STEP(SV_AFTER_VALUE);
  after_value:
    if(c == '>')
      goto tag_end;
    if(c == '/') {
      STEP(SV_SELF_CLOSING);
      goto self_closing;
    }
    goto before_attr;

  self_closing:
    if(c == '>')
      goto tag_end;
    goto before_attr;

  tag_end:
    sieve_tag_end(l);  /* sets the state after the tag */
    s++;
    continue;

  markup:
    if(c == '-') {
      STEP(SV_MARKUP_DASH);
      goto markup_dash;
    }
    goto bogus;
  markup_dash:
    if(c == '-') {
      STEP(SV_COMMENT_START);
      goto comment_start;
    }
    goto bogus;

  bogus:
    q = memchr(s, '>', (size_t)(e - s));
    if(!q) {
      v->st = SV_BOGUS;
      return;
    }
    s = q;
    STEP(SV_DATA);
    goto data;

  comment_start:  /* "<!-->" is a whole comment, and so is "<!--->" */
    if(c == '>') {
      STEP(SV_DATA);
      goto data;
    }
    if(c == '-') {
      STEP(SV_COMMENT_START_DASH);
      goto comment_start_dash;
    }
    goto comment;
  comment_start_dash:
    if(c == '>') {
      STEP(SV_DATA);
      goto data;
    }
    if(c == '-') {
      STEP(SV_COMMENT_END);
      goto comment_end;
    }
    goto comment;

  comment:
    q = memchr(s, '-', (size_t)(e - s));
    if(!q) {
      v->st = SV_COMMENT;
      return;
    }
    s = q;
    STEP(SV_COMMENT_END_DASH);
  comment_end_dash:
    if(c == '-') {
      STEP(SV_COMMENT_END);
      goto comment_end;
    }
    goto comment;
  comment_end:
    if(c == '>') {
      STEP(SV_DATA);
      goto data;
    }
    if(c == '!') {
      STEP(SV_COMMENT_END_BANG);
      goto comment_end_bang;
    }
    if(c == '-') {
      STEP(SV_COMMENT_END);
      goto comment_end;
    }
    goto comment;
  comment_end_bang:
    if(c == '>') {
      STEP(SV_DATA);
      goto data;
    }
    if(c == '-') {
      STEP(SV_COMMENT_END_DASH);
      goto comment_end_dash;
    }
    goto comment;
  }
}

#undef STEP

/* The body ended: a start tag cut by the end is written as it stands, so a
 * truncated page's last link still counts; open <style> text ends. */
static void sieve_end(struct cr_links *l)
{
  struct links_sieve *v = &l->sieve;

  switch(v->st) {
  case SV_TAG_NAME:
    sieve_tag_named(v);
    /* fall through */
  case SV_BEFORE_ATTR:
  case SV_ATTR_NAME:
  case SV_AFTER_ATTR_NAME:
  case SV_BEFORE_VALUE:
  case SV_AFTER_VALUE:
  case SV_SELF_CLOSING:
    v->attr = -1;
    sieve_tag_end(l);
    break;
  case SV_VALUE_DQ:
  case SV_VALUE_SQ:
  case SV_VALUE_UQ:
    sieve_value_end(l);
    sieve_tag_end(l);
    break;
  case SV_RAW:
    sieve_raw_miss(l);
    if(v->raw == RAW_CSS)
      css_finish(l, &l->css);
    break;
  default:
    break;
  }
  v->st = SV_PLAINTEXT;
}

/* ------------------------------------------------------------------ */
/* API                                                                */

int cr_links_new(enum cr_links_type type, const char *page_url, cr_link_cb cb,
                 void *arg, struct cr_links **out)
{
  struct cr_links *l = NULL;
  char *page = NULL;
  int rc;

  /* The contract has no code for a bad argument; a missing URL is "not an
   * absolute URL", and so is everything else a caller could get wrong. */
  if(!out)
    return CR_EURL;
  *out = NULL;
  if(!page_url || !cb || (type != CR_LINKS_HTML && type != CR_LINKS_CSS))
    return CR_EURL;
  rc = cr_url_normalize(page_url, strlen(page_url), &page, NULL);
  if(rc) {
    rc = rc == CR_ENOMEM ? CR_ENOMEM : CR_EURL;
    goto done;
  }
  l = calloc(1, sizeof(*l));
  if(!l) {
    rc = CR_ENOMEM;
    goto done;
  }
  l->type = type;
  l->page = page;
  page = NULL;
  l->cb = cb;
  l->arg = arg;
  l->dec.enc = ENC_SNIFF;
  css_init(&l->css);
  css_init(&l->css_attr);
  cr_buf_init(&l->sieve.out, 4 * LINKS_RAW_MAX + 4096);
  l->sieve.elem = -1;
  l->sieve.attr = -1;
  if(type == CR_LINKS_HTML) {
    /* Idempotent; libxml2 wants it before the first parser. */
    xmlInitParser();
    rc = links_ctxt_new(l, &l->ctxt);
    if(rc)
      goto done;
  }
  *out = l;
  l = NULL;

done:
  free(page);
  cr_links_free(&l);
  return rc;
}

int cr_links_feed(struct cr_links *l, const char *p, size_t n)
{
  if(!l || !p || !n || l->ended || !links_active(l))
    return 0;
  if(l->type == CR_LINKS_CSS) {
    css_scan(l, &l->css, p, n);
    return 0;
  }
  links_decode(l, (const unsigned char *)p, n);
  /* Hand over what is decoded now, so links come as the page arrives. */
  links_flush(l, 0);
  return 0;
}

int cr_links_end(struct cr_links *l)
{
  if(!l || l->ended)
    return 0;
  l->ended = 1;
  if(!links_active(l))
    return 0;
  if(l->type == CR_LINKS_CSS) {
    css_finish(l, &l->css);
    return 0;
  }
  links_decode_end(l);
  links_flush(l, 1);
  /* The end closes what is open: a tag cut by the end of the body is
   * reported, open elements get their end callbacks. */
  if(!l->stopped)
    (void)htmlParseChunk(l->ctxt, NULL, 0, 1);
  return 0;
}

int cr_links_nofollow(const struct cr_links *l)
{
  return l ? l->nofollow : 0;
}

void cr_links_free(struct cr_links **lp)
{
  struct cr_links *l;

  if(!lp || !*lp)
    return;
  l = *lp;
  if(l->ctxt)
    htmlFreeParserCtxt(l->ctxt);
  css_cleanup(&l->css);
  css_cleanup(&l->css_attr);
  cr_buf_cleanup(&l->sieve.out);
  free(l->page);
  free(l->base);
  free(l);
  *lp = NULL;
}
