/* sitemap.c - streaming sitemap reader; see sitemap.h. */
#include "sitemap.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "crawler.h"

#define LASTMOD_MAX 64
#define INFLATE_CHUNK 16384

enum { IN_NONE, IN_URL, IN_SITEMAP };
enum { TEXT_NONE, TEXT_LOC, TEXT_LASTMOD };

struct cr_sitemap {
  cr_sitemap_cb cb;
  void *arg;
  xmlParserCtxtPtr ctxt;
  int started;               /* the first bytes were seen */
  char first;                /* a first chunk of one byte, held back */
  int has_first;
  int gzip;                  /* the body is gzip: inflated first */
  z_stream z;
  int z_open;
  int z_done;                /* the gzip stream ended */
  unsigned char *zout;
  uint64_t bytes;            /* decompressed bytes fed to the parser */
  unsigned count;
  int full;                  /* a limit was reached: nothing more */
  int in;                    /* IN_URL or IN_SITEMAP, at depth 2 */
  int text;                  /* which child's text is being gathered */
  int depth;
  int too_long;              /* the loc being gathered overflowed */
  struct cr_buf loc;
  struct cr_buf lastmod;
};

static void sm_report(struct cr_sitemap *s)
{
  const char *loc = s->loc.data ? s->loc.data : "";
  const char *lm = s->lastmod.len ? s->lastmod.data : NULL;
  size_t a = 0;
  size_t b = s->loc.len;

  if(s->full)
    return;
  /* The protocol wants the value alone, but files in the wild indent it. */
  while(a < b && (loc[a] == ' ' || loc[a] == '\t' || loc[a] == '\n' || loc[a] == '\r'))
    a++;
  while(b > a && (loc[b - 1] == ' ' || loc[b - 1] == '\t' || loc[b - 1] == '\n' ||
                  loc[b - 1] == '\r'))
    b--;
  if(a == b || s->too_long)
    return;
  if(b < s->loc.len)
    s->loc.data[b] = '\0';
  if(lm) {
    while(*lm == ' ' || *lm == '\t' || *lm == '\n' || *lm == '\r')
      lm++;
    if(!*lm)
      lm = NULL;
  }
  s->count++;
  s->cb(s->arg, s->in == IN_SITEMAP, loc + a, lm);
  if(s->count >= CR_SITEMAP_MAX_URLS)
    s->full = 1;
}

static void sm_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
                     const xmlChar *uri, int nns, const xmlChar **ns, int nattrs,
                     int ndefaulted, const xmlChar **attrs)
{
  struct cr_sitemap *s = ((xmlParserCtxtPtr)ctx)->_private;
  const char *name = (const char *)local;

  (void)prefix;
  (void)uri;
  (void)nns;
  (void)ns;
  (void)nattrs;
  (void)ndefaulted;
  (void)attrs;
  s->depth++;
  /* <urlset><url><loc>: the entries sit at depth 2, their fields at 3. */
  if(s->depth == 2) {
    s->in = !strcmp(name, "url") ? IN_URL : !strcmp(name, "sitemap") ? IN_SITEMAP : IN_NONE;
    cr_buf_reset(&s->loc);
    cr_buf_reset(&s->lastmod);
    s->too_long = 0;
  }
  else if(s->depth == 3 && s->in != IN_NONE)
    s->text = !strcmp(name, "loc") ? TEXT_LOC : !strcmp(name, "lastmod") ? TEXT_LASTMOD
                                                                       : TEXT_NONE;
}

static void sm_end(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri)
{
  struct cr_sitemap *s = ((xmlParserCtxtPtr)ctx)->_private;

  (void)local;
  (void)prefix;
  (void)uri;
  if(s->depth == 3)
    s->text = TEXT_NONE;
  else if(s->depth == 2 && s->in != IN_NONE) {
    sm_report(s);
    s->in = IN_NONE;
  }
  s->depth--;
}

static void sm_chars(void *ctx, const xmlChar *ch, int len)
{
  struct cr_sitemap *s = ((xmlParserCtxtPtr)ctx)->_private;

  if(len <= 0 || s->depth != 3)
    return;
  if(s->text == TEXT_LOC && !s->too_long) {
    if(cr_buf_append(&s->loc, ch, (size_t)len))
      s->too_long = 1;
  }
  else if(s->text == TEXT_LASTMOD)
    (void)cr_buf_append(&s->lastmod, ch, (size_t)len);
}

/* Parse errors are the file's business, not the user's terminal's. */
static void sm_silence(void *ctx, xmlErrorPtr err)
{
  (void)ctx;
  (void)err;
}

int cr_sitemap_new(cr_sitemap_cb cb, void *arg, struct cr_sitemap **out)
{
  struct cr_sitemap *s = calloc(1, sizeof(*s));
  xmlSAXHandler sax;

  *out = NULL;
  if(!s)
    return CR_ENOMEM;
  s->cb = cb;
  s->arg = arg;
  cr_buf_init(&s->loc, CR_SITEMAP_LOC_MAX);
  cr_buf_init(&s->lastmod, LASTMOD_MAX);
  memset(&sax, 0, sizeof(sax));
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElementNs = sm_start;
  sax.endElementNs = sm_end;
  sax.characters = sm_chars;
  sax.cdataBlock = sm_chars;
  sax.serror = sm_silence;
  s->ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL);
  if(!s->ctxt) {
    cr_sitemap_free(&s);
    return CR_ENOMEM;
  }
  /* No network, no DTD, no entity substitution: a sitemap needs none. */
  xmlCtxtUseOptions(s->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  s->ctxt->_private = s;
  *out = s;
  return 0;
}

static int sm_parse(struct cr_sitemap *s, const char *p, size_t n, int end)
{
  if(s->full)
    return CR_EFULL;
  if(n > CR_SITEMAP_MAX_BYTES - s->bytes) {
    n = (size_t)(CR_SITEMAP_MAX_BYTES - s->bytes);
    s->bytes = CR_SITEMAP_MAX_BYTES;
    xmlParseChunk(s->ctxt, p, (int)n, 0);
    s->full = 1;
    return CR_EFULL;
  }
  s->bytes += n;
  xmlParseChunk(s->ctxt, p, (int)n, end);
  /* A fatal error stops libxml2 for good: nothing more will come. */
  if(s->ctxt->disableSAX)
    s->full = 1;
  return s->full ? CR_EFULL : 0;
}

static int sm_inflate(struct cr_sitemap *s, const char *p, size_t n)
{
  s->z.next_in = (unsigned char *)p;
  s->z.avail_in = (uInt)n;
  while(!s->z_done) {
    int zrc;
    int rc;

    s->z.next_out = s->zout;
    s->z.avail_out = INFLATE_CHUNK;
    zrc = inflate(&s->z, Z_NO_FLUSH);
    /* What came out before an error counts, however the body was cut
     * into chunks (a bad checksum is found only after the last byte). */
    if(s->z.avail_out < INFLATE_CHUNK) {
      rc = sm_parse(s, (const char *)s->zout, INFLATE_CHUNK - s->z.avail_out, 0);
      if(rc)
        return rc;
    }
    if(zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
      return CR_EINVAL;
    if(zrc == Z_STREAM_END)
      s->z_done = 1;
    /* A full output buffer may leave more to come from input already
     * taken; otherwise the input is spent. */
    else if(zrc == Z_BUF_ERROR || (s->z.avail_out && !s->z.avail_in))
      break;
  }
  return 0;
}

int cr_sitemap_feed(struct cr_sitemap *s, const char *p, size_t n)
{
  if(s->full)
    return CR_EFULL;
  if(!n)
    return 0;
  if(!s->started) {
    unsigned char b0 = (unsigned char)(s->has_first ? s->first : p[0]);
    unsigned char b1 = (unsigned char)(s->has_first ? p[0] : p[1]);
    int rc;

    /* The gzip magic needs two bytes; chunks may come one at a time. */
    if(!s->has_first && n == 1) {
      s->first = p[0];
      s->has_first = 1;
      return 0;
    }
    s->started = 1;
    s->gzip = b0 == 0x1f && b1 == 0x8b;
    if(s->gzip) {
      s->zout = malloc(INFLATE_CHUNK);
      if(!s->zout || inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
        return CR_ENOMEM;
      s->z_open = 1;
    }
    if(s->has_first) {
      rc = s->gzip ? sm_inflate(s, &s->first, 1) : sm_parse(s, &s->first, 1, 0);
      if(rc)
        return rc;
    }
  }
  if(s->gzip)
    return sm_inflate(s, p, n);
  return sm_parse(s, p, n, 0);
}

int cr_sitemap_end(struct cr_sitemap *s)
{
  if(!s->started && s->has_first && !s->full)
    sm_parse(s, &s->first, 1, 0);
  if(!s->full)
    xmlParseChunk(s->ctxt, NULL, 0, 1);
  return 0;
}

unsigned cr_sitemap_count(const struct cr_sitemap *s)
{
  return s->count;
}

void cr_sitemap_free(struct cr_sitemap **ps)
{
  struct cr_sitemap *s;

  if(!ps || !*ps)
    return;
  s = *ps;
  if(s->ctxt) {
    /* libxml2 keeps a DOCTYPE's entities in a document of its own, even in
     * SAX mode ("expat compatibility"), and leaves it to the caller. */
    if(s->ctxt->myDoc)
      xmlFreeDoc(s->ctxt->myDoc);
    xmlFreeParserCtxt(s->ctxt);
  }
  if(s->z_open)
    inflateEnd(&s->z);
  free(s->zout);
  cr_buf_cleanup(&s->loc);
  cr_buf_cleanup(&s->lastmod);
  free(s);
  *ps = NULL;
}
