/*
 * rewrite.h - streaming link rewriting in HTML and CSS, for -k.
 *
 * A cr_rewrite is made per file and fed its bytes in order; everything it
 * is fed comes out through the write callback, byte for byte, except the
 * values of links the link callback chooses to replace.  It never holds
 * the file: a start tag is held until its '>' (at most RW_TAG_MAX bytes;
 * a longer one passes unchanged) so that its attributes can be judged
 * together (a <meta>'s http-equiv may follow its content), and a CSS
 * url() or @import string until it ends (at most 4 * CR_LINK_MAX bytes).
 *
 * It reads what links.c reads, the way its sieve tokenizes (the HTML
 * standard's tokenizer: quoting, comments, raw text of script, style,
 * title, textarea, ...): a/area/link/base href, img/source src and srcset,
 * script/embed/frame/iframe/input/video/audio/track src, video poster,
 * object data, body/table/td/th background, <meta http-equiv=refresh>
 * content, any element's style="" and <style> text (CSS url() and
 * @import, quoted or not).  The first of two equal attributes counts, as
 * in browsers.
 *
 * Values reach the link callback as the page means them: character
 * references decoded in HTML attributes (&amp; &#38; &#x26; and the named
 * ones, with their ';'), backslash escapes in CSS (as links.c reads them:
 * "\)" is ')', hex escapes stay as written), ASCII white space trimmed.  A
 * replacement is plain text; it is written escaped for where it stands
 * ('&', '<', '>' and quotes as character references in HTML, quotes,
 * parentheses and backslashes escaped in CSS, an unquoted attribute value
 * gets double quotes), so it should be ASCII: every byte around it stays
 * in the file's own encoding.  A page with a UTF-16 byte order mark passes
 * unchanged.
 */
#ifndef CR_REWRITE_H
#define CR_REWRITE_H

#include <stddef.h>

#include "buf.h"
#include "links.h"

#define RW_TAG_MAX (256 * 1024) /* bytes of a start tag held for rewriting */

/* Called for each link, in document order.  ref[0..n) is the decoded value
 * (not NUL-terminated); base is nonzero for a <base href>.  To replace it,
 * append the new value to out and return 1; return 0 to keep the bytes as
 * they were written. */
typedef int (*cr_rewrite_link_cb)(void *arg, const char *ref, size_t n, int base,
                                  struct cr_buf *out);

/* Receives the output, in order.  Returns 0, or a negative CR_E* code that
 * stops the rewriter; feed and end then return it. */
typedef int (*cr_rewrite_write_cb)(void *arg, const char *p, size_t n);

struct cr_rewrite;

/* Starts a rewriter for one HTML or CSS file.  Returns 0 or CR_ENOMEM. */
int cr_rewrite_new(enum cr_links_type type, cr_rewrite_link_cb link, cr_rewrite_write_cb write,
                   void *arg, struct cr_rewrite **out);

/* Feeds the next n bytes.  Returns 0, CR_ENOMEM, or the write callback's
 * error; after an error the output is incomplete and the rewriter takes
 * nothing more. */
int cr_rewrite_feed(struct cr_rewrite *w, const char *p, size_t n);

/* Ends the file: what was held (a tag or token cut by the end) is written
 * as it was.  Returns like cr_rewrite_feed. */
int cr_rewrite_end(struct cr_rewrite *w);

/* Links replaced so far. */
unsigned long cr_rewrite_count(const struct cr_rewrite *w);

/* Frees the rewriter and clears *w; accepts NULL. */
void cr_rewrite_free(struct cr_rewrite **w);

#endif
