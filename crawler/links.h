/*
 * links.h - streaming link extraction from HTML and CSS.
 *
 * A cr_links parser is made per page and fed the same body chunks that go
 * to disk, in order, as they arrive; it never holds the page.  HTML goes
 * through a tokenizer that keeps only the tags able to hold links, then
 * libxml2's HTML push parser (htmlCreatePushParserCtxt / htmlParseChunk)
 * with SAX callbacks; CSS (a text/css body, <style>
 * elements and style="" attributes) through a small incremental scanner for
 * url(...) and @import.  Memory is bounded: one attribute value or CSS
 * token is at most CR_LINK_MAX bytes (longer ones are dropped), and the
 * parser's own state is capped (deeply nested or endless markup is cut off,
 * not followed into ever more memory).
 *
 * Every link found is resolved against the page URL, or the first
 * <base href> when the page has one, with cr_url_resolve, and handed to the
 * callback as an absolute, normalized http(s) URL.  Links that are not http
 * or https (mailto:, javascript:, data:, ...), empty, or unparsable are
 * dropped silently, and so is a bare fragment ("#x") on a page without
 * <base href>: it names the page itself.  The same URL may be reported
 * more than once; the frontier's seen set deduplicates.
 *
 * Followed, as wget and wget2 do: a/area href, link href, img src and
 * srcset, script src, iframe/frame/embed src, object data, source src and
 * srcset, input src, video src and poster, audio and track src, body,
 * table, td and th background,
 * <meta http-equiv=refresh content="N; url=...">, CSS url() and
 * @import in .css bodies, <style> and style="".  <meta name=robots
 * content=nofollow> (or "none") turns following off for the page:
 * cr_links_nofollow() tells, and links seen after it are not reported.
 */
#ifndef CR_LINKS_H
#define CR_LINKS_H

#include <stddef.h>
#include <stdint.h>

#define CR_LINK_MAX 8192 /* bytes of one raw link before resolution */

enum cr_links_type {
  CR_LINKS_HTML = 0,  /* text/html, application/xhtml+xml */
  CR_LINKS_CSS = 1,   /* text/css */
};

/* What kind of reference a link is; a crawler may follow page links and
 * page requisites differently.  A requisite is what the page needs to
 * render, as wget's inline links: everything but the page links below,
 * iframe and frame documents included.  A <link> is a requisite when its
 * rel holds stylesheet, icon, apple-touch-icon(-precomposed), mask-icon,
 * preload, modulepreload or manifest; rel=next, alternate, canonical and
 * the others (or no rel) name documents: page links. */
enum cr_link_kind {
  CR_LINK_PAGE = 0,     /* a/area href, meta refresh, <link> but the rels
                           above */
  CR_LINK_RESOURCE = 1, /* img, script, iframe/frame, embed, object, source,
                           video/audio/track, input, backgrounds, <link
                           rel=stylesheet...>, CSS url() and @import */
};

/* Called for each link: url is NUL-terminated, absolute and normalized,
 * valid only during the call. */
typedef void (*cr_link_cb)(void *arg, const char *url, enum cr_link_kind kind);

struct cr_links;

/* Starts a parser for one page.  page_url is the page's final URL
 * (normalized); it is copied.  Returns 0, CR_ENOMEM, CR_EURL (page_url not
 * absolute http(s)). */
int cr_links_new(enum cr_links_type type, const char *page_url, cr_link_cb cb,
                 void *arg, struct cr_links **out);

struct cr_hset;

/* Shares a set of references already resolved on other pages (borrowed;
 * it must outlive the parser).  A reference whose result is known is not
 * resolved or reported again: only right when whatever a repeat would be
 * offered to drops duplicates anyway, as the frontier's seen set does. */
void cr_links_set_memo(struct cr_links *l, struct cr_hset *memo);

/* Keys the memo by kind too (default: off): needed when a crawler drops
 * some page links but follows requisites, as the same reference may come
 * as both.  Off, a reference is reported once whatever its kind. */
void cr_links_set_memo_kinds(struct cr_links *l, int on);

/* Keeps this parser's memo entries apart from those of parsers with
 * another salt: a crawler whose pages' links go to a depth passes the
 * depth, so a reference met again on a page nearer the seed is offered
 * again (its target may take the smaller depth). */
void cr_links_set_memo_salt(struct cr_links *l, uint64_t salt);

/* Feeds the next n bytes of the body (any bytes: NULs, invalid UTF-8, a
 * charset that lies).  Returns 0; a parser that gave up (markup over its
 * caps) keeps returning 0 and reports nothing more. */
int cr_links_feed(struct cr_links *l, const char *p, size_t n);

/* Ends the body: flushes what the parser held back.  Returns 0. */
int cr_links_end(struct cr_links *l);

/* Nonzero once the page said <meta name=robots content=nofollow>. */
int cr_links_nofollow(const struct cr_links *l);

/* Frees the parser and clears *l; accepts NULL. */
void cr_links_free(struct cr_links **l);

#endif
