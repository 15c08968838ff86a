/* test_rewrite.c - the -k rewriter: links replaced in HTML and CSS, fed
 * whole and cut at every byte; and the relative references between saved
 * files (cr_pathmap_relref, cr_pathmap_local). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crawler.h"
#include "pathmap.h"
#include "rewrite.h"
#include "tap.h"

/* The test's link map: a value starting "keep" stays, a <base href>
 * becomes "self.html", anything else gets an "X" in front. */
static int test_link(void *arg, const char *ref, size_t n, int base, struct cr_buf *out)
{
  (void)arg;
  if(n >= 4 && !memcmp(ref, "keep", 4))
    return 0;
  if(base)
    return cr_buf_puts(out, "self.html") == 0;
  return cr_buf_putc(out, 'X') == 0 && cr_buf_append(out, ref, n) == 0;
}

static int test_write(void *arg, const char *p, size_t n)
{
  return cr_buf_append(arg, p, n);
}

/* Rewrites in[0..n) fed in pieces of step bytes (0: whole); NULL on error. */
static char *run(enum cr_links_type type, const char *in, size_t n, size_t step)
{
  struct cr_rewrite *w = NULL;
  struct cr_buf out;
  size_t i = 0;
  int rc;

  cr_buf_init(&out, 1 << 20);
  rc = cr_rewrite_new(type, test_link, test_write, &out, &w);
  while(!rc && i < n) {
    size_t k = step && n - i > step ? step : n - i;

    rc = cr_rewrite_feed(w, in + i, k);
    i += k;
  }
  if(!rc)
    rc = cr_rewrite_end(w);
  cr_rewrite_free(&w);
  if(rc || cr_buf_putc(&out, '\0')) {
    cr_buf_cleanup(&out);
    return NULL;
  }
  return out.data ? out.data : strdup("");
}

struct rw_case {
  int css;
  const char *in;
  const char *want;
};

static const struct rw_case rw_cases[] = {
  { 0, "<a href=\"a.html\">t</a>", "<a href=\"Xa.html\">t</a>" },
  { 0, "<A HREF = 'a.html' href=\"b\">", "<A HREF = 'Xa.html' href=\"b\">" },
  { 0, "<a href=a.html>x", "<a href=\"Xa.html\">x" },
  { 0, "<a href=a.html/>", "<a href=\"Xa.html/\">" },
  { 0, "<a title=x href=\"p?a=1&amp;b=2\">", "<a title=x href=\"Xp?a=1&amp;b=2\">" },
  { 0, "<a href=\"p?a=1&#38;b&#x3d;2&copy=3\">", "<a href=\"Xp?a=1&amp;b=2&amp;copy=3\">" },
  { 0, "<a href='q\"x'>", "<a href='Xq\"x'>" },
  { 0, "<a href=\" sp.html \">", "<a href=\"Xsp.html\">" },
  { 0, "<a href=\"keep.html\"><a href=\"\">", "<a href=\"keep.html\"><a href=\"\">" },
  { 0, "<a name=x>", "<a name=x>" },
  { 0, "<img src=\"i.png\" srcset=\"i1.png 1x, i2.png  2x,i3.png\">",
    "<img src=\"Xi.png\" srcset=\"Xi1.png 1x, Xi2.png  2x,Xi3.png\">" },
  { 0, "<source srcset=\"a.png,, b.png 100w\">", "<source srcset=\"Xa.png,, Xb.png 100w\">" },
  { 0, "<!-- <a href=\"c.html\"> --><a href=c>", "<!-- <a href=\"c.html\"> --><a href=\"Xc\">" },
  { 0, "<!--><a href=c>", "<!--><a href=\"Xc\">" },
  { 0, "<script>var s = '<a href=\"d.html\">';</script><a href=d>",
    "<script>var s = '<a href=\"d.html\">';</script><a href=\"Xd\">" },
  { 0, "<script src=\"j.js\"></script >", "<script src=\"Xj.js\"></script >" },
  { 0, "<style>a{b:url(x</sty</STYLE\t><Title>x</TITLE>", "<style>a{b:url(x</sty</STYLE\t><Title>x</TITLE>" },
  { 0, "<textarea><a href=\"t.html\"></textarea><a href=t>",
    "<textarea><a href=\"t.html\"></textarea><a href=\"Xt\">" },
  { 0, "<style>@import \"s.css\"; b{background:url(b.png)} </sty </style><a href=s>",
    "<style>@import \"Xs.css\"; b{background:url(Xb.png)} </sty </style><a href=\"Xs\">" },
  { 0, "<p style=\"background: url('p.png')\">", "<p style=\"background: url('Xp.png')\">" },
  { 0, "<p style=\"background: url(&quot;p.png&quot;)\">",
    "<p style=\"background: url(&quot;Xp.png&quot;)\">" },
  { 0, "<meta http-equiv=\"refresh\" content=\"0; url=r.html\">",
    "<meta http-equiv=\"refresh\" content=\"0; url=Xr.html\">" },
  { 0, "<meta content=\"5;URL='r.html'\" http-equiv=Refresh>",
    "<meta content=\"5;URL='Xr.html'\" http-equiv=Refresh>" },
  { 0, "<meta name=x content=\"0; url=r.html\">", "<meta name=x content=\"0; url=r.html\">" },
  { 0, "<base href=\"http://h/d/\"><a href=x>", "<base href=\"self.html\"><a href=\"Xx\">" },
  { 0, "<body background=bg.png><td background='t.png'>",
    "<body background=\"Xbg.png\"><td background='Xt.png'>" },
  { 0, "<object data=o.swf></object><video poster=v.png src=v.mp4>",
    "<object data=\"Xo.swf\"></object><video poster=\"Xv.png\" src=\"Xv.mp4\">" },
  { 0, "<a href=\"x\"<b>", "<a href=\"Xx\"<b>" },
  { 0, "text < 3 and <? pi ?> <!DOCTYPE html></p><a\thref=x>",
    "text < 3 and <? pi ?> <!DOCTYPE html></p><a\thref=\"Xx\">" },
  { 0, "<a href=\"cut", "<a href=\"cut" },
  { 0, "<style>a{b:url(cut", "<style>a{b:url(cut" },
  { 0, "\xff\xfe<\0a\0 \0h\0r\0e\0f\0=\0x\0>\0", NULL },  /* UTF-16: see below */
  { 0, "<plaintext><a href=x>", "<plaintext><a href=x>" },
  { 1, "a{b:url(x.png)} c{d:url( \"y.png\" )} @import 'z.css'; @import url(w.css);",
    "a{b:url(Xx.png)} c{d:url( \"Xy.png\" )} @import 'Xz.css'; @import url(Xw.css);" },
  { 1, "a{b:url(a\\)b.png)}", "a{b:url(Xa\\)b.png)}" },
  { 1, "a{b:url( s p.png )}", "a{b:url( s p.png )}" },
  { 1, "a{b:url( sp.png )}", "a{b:url( Xsp.png )}" },
  { 1, "/* url(c.png) */ x{content:\"url(s.png)\"}", "/* url(c.png) */ x{content:\"url(s.png)\"}" },
  { 1, "a{b:url(bad\"x)} c{d:url(ok)}", "a{b:url(bad\"x)} c{d:url(Xok)}" },
  { 1, "@import\"q'.css\";", "@import\"Xq'.css\";" },
  { 1, "a{b:url('it''s')}", "a{b:url('Xit''s')}" },
  { 1, "a{b:url(\"keep.png\")}", "a{b:url(\"keep.png\")}" },
  { 1, "a{b:url(\"cut", "a{b:url(\"cut" },
};

static void check_rewrite(void)
{
  size_t i;

  for(i = 0; i < sizeof(rw_cases) / sizeof(rw_cases[0]); i++) {
    const struct rw_case *c = &rw_cases[i];
    size_t n = c->want ? strlen(c->in) : 22;
    const char *want = c->want ? c->want : NULL;
    char *whole = run(c->css ? CR_LINKS_CSS : CR_LINKS_HTML, c->in, n, 0);
    int same = 1;
    size_t step;

    if(!want) {
      /* Passed through unchanged, NULs and all. */
      tap_check(whole && !memcmp(whole, c->in, n), "UTF-16 passes unchanged", c->in, n,
                whole, "(the input)");
      free(whole);
      continue;
    }
    tap_check(tap_streq(whole, want), "rewrite", c->in, n, whole, want);
    for(step = 1; step < n && same; step++) {
      char *cut = run(c->css ? CR_LINKS_CSS : CR_LINKS_HTML, c->in, n, step);

      same = tap_streq(cut, whole);
      if(!same)
        tap_check(0, "fed in pieces, the same output", c->in, n, cut, whole);
      free(cut);
    }
    if(same)
      tap_check(1, "fed in pieces, the same output", NULL, 0, NULL, NULL);
    free(whole);
  }
}

struct rel_case {
  const char *from;
  const char *to;
  const char *want;
};

static const struct rel_case rel_cases[] = {
  { "h/a/index.html", "h/a/b.css", "b.css" },
  { "h/a/index.html", "h/c/d.png", "../c/d.png" },
  { "h/a/index.html", "h/a/index.html", "index.html" },
  { "h/index.html", "h/_static/p.css?2022.1", "_static/p.css%3F2022.1" },
  { "h/a", "h2:8080/x", "../h2%3A8080/x" },
  { "h/a/b/c.html", "h/a%~d/x", "../../a%25~d/x" },
  { "h/x", "h/a#b c\xc3\xa9(1),'2'", "a%23b%20c%C3%A9%281%29%2C%272%27" },
  { "h/p?id=1.html", "h/p?id=2&x=y.html", "p%3Fid=2&x=y.html" },
  { "h/a/b", "h/a", "../a" },
  { "h/a", "h/a/b", "a/b" },
  { "h/a/", "h/b", NULL },
  { "", "h/b", NULL },
};

static const struct rel_case local_cases[] = {
  { "h/a/index.html", "b.css", "h/a/b.css" },
  { "h/a/index.html", "../c/d.png", "h/c/d.png" },
  { "h/a/index.html", "./p.css%3F2022.1#x", "h/a/p.css?2022.1" },
  { "h/a/index.html", "x?y=1", "h/a/x" },
  { "h/a/index.html", "../../x", "x" },
  { "h/index.html", "../../x", NULL },
  { "h/index.html", "http://h/x", NULL },
  { "h/index.html", "/x", NULL },
  { "h/index.html", "#top", NULL },
  { "h/index.html", "d/", NULL },
  { "h/index.html", "a%2Fb", NULL },
};

static void check_paths(void)
{
  size_t i;
  struct cr_buf b;

  cr_buf_init(&b, 8192);
  for(i = 0; i < sizeof(rel_cases) / sizeof(rel_cases[0]); i++) {
    const struct rel_case *c = &rel_cases[i];
    int rc;

    cr_buf_reset(&b);
    rc = cr_pathmap_relref(c->from, c->to, &b);
    tap_check(c->want ? !rc && tap_streq(b.data, c->want) : rc != 0, "relref", c->to,
              strlen(c->to), rc ? "(error)" : b.data, c->want ? c->want : "(error)");
    if(c->want && !rc) {
      char *ref = strdup(b.data);

      /* Back again: the browser's reading of the link is the file. */
      cr_buf_reset(&b);
      rc = cr_pathmap_local(c->from, ref, strlen(ref), &b);
      tap_check(!rc && tap_streq(b.data, c->to), "relref read back", ref, strlen(ref),
                rc ? "(error)" : b.data, c->to);
      free(ref);
    }
  }
  for(i = 0; i < sizeof(local_cases) / sizeof(local_cases[0]); i++) {
    const struct rel_case *c = &local_cases[i];
    int rc;

    cr_buf_reset(&b);
    rc = cr_pathmap_local(c->from, c->to, strlen(c->to), &b);
    tap_check(c->want ? !rc && tap_streq(b.data, c->want) : rc != 0, "local", c->to,
              strlen(c->to), rc ? "(error)" : b.data, c->want ? c->want : "(error)");
  }
  cr_buf_cleanup(&b);
}

int main(void)
{
  check_rewrite();
  check_paths();
  return tap_done();
}
