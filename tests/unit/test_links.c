/* test_links.c - table-driven tests of link extraction (links.h).
 *
 * Every case is fed three ways: whole, one byte at a time, and in chunks of
 * random size (fixed seed).  All three must report the same links, in the
 * same order, as the case expects.  Links are written one a line as "P url"
 * (CR_LINK_PAGE) or "R url" (CR_LINK_RESOURCE), and a last line "nofollow"
 * when cr_links_nofollow() says so. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crawler.h"
#include "hash.h"
#include "links.h"
#include "tap.h"

/* A literal with its length, so inputs may hold NUL bytes. */
#define B(s) s, sizeof(s) - 1

#define PAGE "http://example.com/dir/page.html"
#define H "http://example.com"
#define CSS_PAGE "http://example.com/css/site.css"

struct links_case {
  const char *name;
  enum cr_links_type type;
  const char *page;   /* NULL for PAGE */
  const char *in;
  size_t len;
  const char *want;
};

static const struct links_case cases[] = {
  /* each element and attribute */
  { "a href", CR_LINKS_HTML, NULL, B("<a href=\"x.html\">x</a>"),
    "P " H "/dir/x.html\n" },
  { "area href", CR_LINKS_HTML, NULL,
    B("<map name=m><area shape=rect href=\"/map/1\"></map>"),
    "P " H "/map/1\n" },
  { "link href: requisite or page by rel", CR_LINKS_HTML, NULL,
    B("<link rel=stylesheet href=\"/s.css\"><link rel=alternate "
      "href=\"alt.html\"><link rel=icon href=/favicon.ico>"),
    "R " H "/s.css\nP " H "/dir/alt.html\nR " H "/favicon.ico\n" },
  { "link rel tokens, any case, rel after href", CR_LINKS_HTML, NULL,
    B("<link href=/a.css rel=\"Alternate  StyleSheet\"><link rel=\"shortcut icon\" "
      "href=/i.ico><link rel=apple-touch-icon href=/t.png><link rel=preload href=/f.woff2 "
      "as=font><link rel=modulepreload href=/m.js><link rel=manifest href=/w.json>"
      "<link rel=mask-icon href=/k.svg><link rel=next href=/p2><link rel=canonical "
      "href=/c><link rel=prefetch href=/n.html><link href=/norel><link rel=\"\" "
      "href=/empty><link rel=stylesheets href=/not-a-token>"),
    "R " H "/a.css\nR " H "/i.ico\nR " H "/t.png\nR " H "/f.woff2\nR " H "/m.js\nR " H
    "/w.json\nR " H "/k.svg\nP " H "/p2\nP " H "/c\nP " H "/n.html\nP " H "/norel\nP " H
    "/empty\nP " H "/not-a-token\n" },
  { "img src", CR_LINKS_HTML, NULL, B("<img src=\"i.png\" alt=\"\">"),
    "R " H "/dir/i.png\n" },
  { "img src and srcset, in attribute order", CR_LINKS_HTML, NULL,
    B("<img srcset=\"a-1x.png 1x, a-2x.png 2x\" src=\"a.png\">"),
    "R " H "/dir/a-1x.png\nR " H "/dir/a-2x.png\nR " H "/dir/a.png\n" },
  { "srcset descriptors, commas in URLs", CR_LINKS_HTML, NULL,
    B("<img srcset=\"  /w/320.jpg 320w,/w/640.jpg   640w ,  /w/a,b.jpg "
      "960w, /w/c.jpg, /w/d.jpg (x, y) 2x, /w/e.jpg\">"),
    "R " H "/w/320.jpg\nR " H "/w/640.jpg\nR " H "/w/a,b.jpg\nR " H
    "/w/c.jpg\nR " H "/w/d.jpg\nR " H "/w/e.jpg\n" },
  { "srcset edge cases", CR_LINKS_HTML, NULL,
    B("<img srcset=\"\"><img srcset=\" , ,, \"><img srcset=\"one.png\">"
      "<img srcset=\"two.png,,,\">"),
    "R " H "/dir/one.png\nR " H "/dir/two.png\n" },
  { "source src and srcset", CR_LINKS_HTML, NULL,
    B("<video><source src=\"/v.webm\" type=\"video/webm\"></video>"
      "<picture><source srcset=\"/p.avif 1x, /p2.avif 2x\">"
      "<img src=\"/p.jpg\"></picture>"),
    "R " H "/v.webm\nR " H "/p.avif\nR " H "/p2.avif\nR " H "/p.jpg\n" },
  { "script src", CR_LINKS_HTML, NULL,
    B("<script src=\"/js/app.js\"></script><script>var x;</script>"),
    "R " H "/js/app.js\n" },
  { "iframe, embed, object", CR_LINKS_HTML, NULL,
    B("<iframe src=if.html></iframe><embed src=/e.swf>"
      "<object data=/o.svg type=image/svg+xml></object>"),
    "R " H "/dir/if.html\nR " H "/e.swf\nR " H "/o.svg\n" },
  { "frames", CR_LINKS_HTML, NULL,
    B("<html><frameset><frame src=\"/f1\"><frame src=\"f2\"></frameset>"
      "</html>"),
    "R " H "/f1\nR " H "/dir/f2\n" },
  { "attributes that are not links", CR_LINKS_HTML, NULL,
    B("<a name=\"/n\" title=\"/t\">x</a><img alt=\"/a.png\" "
      "data-src=\"/d.png\"><div href=\"/div\"></div><link rel=x>"),
    "" },

  /* meta refresh */
  { "meta refresh variants", CR_LINKS_HTML, NULL,
    B("<meta http-equiv=\"refresh\" content=\"5; url=/r1\">"
      "<meta http-equiv=\"Refresh\" content=\"0;URL='/r2'\">"
      "<meta http-equiv=REFRESH content='0; url=\"/r3?a=1\"'>"
      "<meta http-equiv=\"refresh\" content=\"3;/r4\">"
      "<meta http-equiv=\"refresh\" content=\"  1 ,  URL = /r5 \">"
      "<meta content=\"0;url=/r6\" http-equiv=\" refresh \">"
      "<meta http-equiv=\"refresh\" content=\"0.5; url=/r7\">"
      "<meta http-equiv=\"refresh\" content=\"0; url='/r8'junk\">"
      "<meta http-equiv=\"refresh\" content=\"0; urlx=/r9\">"),
    "P " H "/r1\nP " H "/r2\nP " H "/r3?a=1\nP " H "/r4\nP " H "/r5\nP " H
    "/r6\nP " H "/r7\nP " H "/r8\nP " H "/dir/urlx=/r9\n" },
  { "meta refresh that names no URL", CR_LINKS_HTML, NULL,
    B("<meta http-equiv=\"refresh\" content=\"10\">"
      "<meta http-equiv=\"refresh\" content=\"10; \">"
      "<meta http-equiv=\"refresh\" content=\"x; url=/no\">"
      "<meta http-equiv=\"refresh\" content=\"5x; url=/no\">"
      "<meta name=\"refresh\" content=\"0; url=/no\">"
      "<meta http-equiv=\"refresh\" content=\"0; url=javascript:x()\">"
      "<meta http-equiv=\"refresh\">"),
    "" },

  /* base */
  { "base href absolute: links after it only", CR_LINKS_HTML, NULL,
    B("<a href=\"before\">1</a><base href=\"http://other.example.org/b/\">"
      "<a href=\"after\">2</a><base href=\"http://third.example/\">"
      "<img src=\"/img.png\"><a href=\"#top\">"),
    "P " H "/dir/before\nP http://other.example.org/b/after\n"
    "R http://other.example.org/img.png\nP http://other.example.org/b/\n" },
  { "base href relative", CR_LINKS_HTML, NULL,
    B("<head><base href=\"../up/\"></head><a href=\"x\">"),
    "P " H "/up/x\n" },
  { "base href that does not resolve keeps the page", CR_LINKS_HTML, NULL,
    B("<base href=\"javascript:void(0)\"><base href=\"/second/\">"
      "<a href=x>"),
    "P " H "/dir/x\n" },
  { "base without href does not count", CR_LINKS_HTML, NULL,
    B("<base target=_top><base href=\"/b/\"><a href=x>"),
    "P " H "/b/x\n" },

  /* reference forms */
  { "relative, absolute and other forms", CR_LINKS_HTML, NULL,
    B("<a href=\"//cdn.example.net/x\"></a><a href=\"../a\"></a>"
      "<a href=\"?a=1\"></a><a href=\"#frag\"></a>"
      "<a href=\"HTTPS://Other.Example.COM:443/Y\"></a><a href=\"/\"></a>"
      "<a href=\"./\"></a><a href=\"../../../../up\"></a>"
      "<a href=\"http://example.com:80/p#f\"></a>"),
    /* "#frag" names the page itself: not reported */
    "P http://cdn.example.net/x\nP " H "/a\nP " H "/dir/page.html?a=1\n"
    "P https://other.example.com/Y\nP " H "/\nP " H
    "/dir/\nP " H "/up\nP " H "/p\n" },
  { "protocol-relative on an https page", CR_LINKS_HTML,
    "https://secure.example.com/p", B("<a href=\"//cdn.example.net/x\">"),
    "P https://cdn.example.net/x\n" },
  { "other schemes are dropped", CR_LINKS_HTML, NULL,
    B("<a href=\"mailto:a@example.com\">m</a><a href=\"javascript:x()\">j</a>"
      "<img src=\"data:image/png;base64,AAAA\"><a href=\"ftp://f.example/f\">"
      "f</a><a href=\"tel:+123\">t</a><a href=\" JavaScript:x()\"></a>"
      "<a href=\"/kept\">"),
    "P " H "/kept\n" },
  { "empty references are dropped", CR_LINKS_HTML, NULL,
    B("<a href=\"\">e</a><a href=\"   \">s</a><a href>n</a><a>no</a>"
      "<img src><a href=\"/kept\">"),
    "P " H "/kept\n" },
  { "entities in attributes", CR_LINKS_HTML, NULL,
    B("<a href=\"/q?a=1&amp;b=2&#38;c=3&#x26;d=&lt;\">"
      "<a href=\"&#x2F;slash\"><img src=\"/caf&eacute;.png\">"),
    "P " H "/q?a=1&b=2&c=3&d=%3C\nP " H "/slash\nR " H "/caf%C3%A9.png\n" },
  { "upper-case tags and attributes", CR_LINKS_HTML, NULL,
    B("<A HREF=\"/UP\">x</A><IMG SRC=\"/I.PNG\"><LINK REL=stylesheet "
      "HREF=/S.CSS><Meta HTTP-EQUIV=Refresh CONTENT=\"0; URL=/R\">"),
    "P " H "/UP\nR " H "/I.PNG\nR " H "/S.CSS\nP " H "/R\n" },
  { "unquoted attributes", CR_LINKS_HTML, NULL,
    B("<a href=/u1 class=x>1</a><a class=y href=/u2>2</a>"
      "<img src=/u3.png alt=z><a href=u4/>"),
    "P " H "/u1\nP " H "/u2\nR " H "/u3.png\nP " H "/dir/u4/\n" },
  { "whitespace around and inside values", CR_LINKS_HTML, NULL,
    B("<a href=\"  /sp  \"><a href=\"\n\t/nl\r\n\"><a href=\"/a\n/b\t/c\">"
      "<a\fhref=/ff>"),
    "P " H "/sp\nP " H "/nl\nP " H "/a/b/c\nP " H "/ff\n" },
  { "duplicate attribute: the first counts", CR_LINKS_HTML, NULL,
    B("<a href=/first href=/second>"),
    "P " H "/first\n" },

  /* broken HTML */
  { "unclosed and stray tags", CR_LINKS_HTML, NULL,
    B("<div><p><a href=/b1>one<p></p></p></div></x></table><a href=/b2>two"
      "<b><i><a href=/b3></b></i></p></p></span>"),
    "P " H "/b1\nP " H "/b2\nP " H "/b3\n" },
  { "stray end tags first", CR_LINKS_HTML, NULL,
    B("</p></p><a href=/s1></a></a></div></body></html><a href=/s2>"),
    "P " H "/s1\nP " H "/s2\n" },
  { "<a href=x at the end", CR_LINKS_HTML, NULL,
    B("<p>text <a href=/eof"), "P " H "/eof\n" },
  { "<a href=\"x at the end", CR_LINKS_HTML, NULL,
    B("<a href=/ok>ok</a><a href=\"/eofq"), "P " H "/ok\nP " H "/eofq\n" },
  { "a lone < and odd markup", CR_LINKS_HTML, NULL,
    B("a < b <<a href=/lt1> c<  <a href=/lt2><a <a href=/lt3>"
      "<a href=/lt4 <b>"),
    "P " H "/lt1\nP " H "/lt2\nP " H "/lt3\nP " H "/lt4\n" },
  { "content after </html>", CR_LINKS_HTML, NULL,
    B("<html><body><a href=/in></a></body></html>\n<a href=/late>"
      "<img src=/late.png></html><a href=/later></body></html><!-- x -->"
      "<a href=/latest>"),
    "P " H "/in\nP " H "/late\nR " H "/late.png\nP " H "/later\nP " H
    "/latest\n" },
  { "doctype, head and body", CR_LINKS_HTML, NULL,
    B("<!DOCTYPE html>\n<html lang=en><head><title>T <a href=/t></title>"
      "<link href=/h.css rel=stylesheet></head><body><a href=/b>"
      "</body></html>\n"),
    /* title text is text, as in browsers */
    "R " H "/h.css\nP " H "/b\n" },

  /* bytes and encodings */
  { "NUL bytes and invalid UTF-8 before links", CR_LINKS_HTML, NULL,
    B("<p>a\0b\xff\xfe\xc3(\xed\xa0\x80<a href=\"/after-bad\">x</a>\0"
      "<img src=\"/i\0.png\"><a\0href=/nul-sep>"),
    "P " H "/after-bad\nR " H "/i%EF%BF%BD.png\n" },
  { "UTF-8 stays UTF-8 after an invalid byte", CR_LINKS_HTML, NULL,
    B("\xff<a href=\"/caf\xc3\xa9\">\xfe<a href=\"/\xe2\x82\xac\">"),
    "P " H "/caf%C3%A9\nP " H "/%E2%82%AC\n" },
  { "bytes that are not UTF-8 read as windows-1252", CR_LINKS_HTML, NULL,
    B("<a href=\"/caf\xe9\"><a href=\"/\x80\"><a href=\"/\xc3\"><a "
      "href=\"/\xf0\x9f\x98\">"),
    "P " H "/caf%C3%A9\nP " H "/%E2%82%AC\nP " H "/%C3%83\nP " H
    "/%C3%B0%C5%B8%CB%9C\n" },
  /* Control bytes reach the URL module, which trims them at the ends and
   * refuses them inside (url.h). */
  { "U+FFFE and control bytes", CR_LINKS_HTML, NULL,
    B("<p>\xef\xbf\xbe\xef\xbf\xbf\x01\x1f<a href=\"/n\xef\xbf\xbe\">"
      "<a href=\"/c\x01\"><a href=\"/d\x7fx\"><a href=/ok\x02>"),
    "P " H "/n%EF%BF%BD\nP " H "/c\nP " H "/ok\n" },
  { "4-byte UTF-8", CR_LINKS_HTML, NULL,
    B("<a href=\"/\xf0\x9f\x98\x80\">"), "P " H "/%F0%9F%98%80\n" },
  { "meta charset=utf-16 over ASCII", CR_LINKS_HTML, NULL,
    B("<html><head><meta charset=utf-16></head><body><a href=/l1>"
      "<img src=/l1.png>"),
    "P " H "/l1\nR " H "/l1.png\n" },
  { "meta charset=utf-32 over ASCII", CR_LINKS_HTML, NULL,
    B("<meta charset=\"utf-32\"><a href=/l2>"), "P " H "/l2\n" },
  { "meta content-type charset=ucs-2 over ASCII", CR_LINKS_HTML, NULL,
    B("<meta http-equiv=\"Content-Type\" content=\"text/html; "
      "charset=ucs-2\"><a href=/l3>"),
    "P " H "/l3\n" },
  { "meta charset=cp037 (EBCDIC) over ASCII", CR_LINKS_HTML, NULL,
    B("<meta charset=cp037><a href=/l4>"), "P " H "/l4\n" },
  { "meta charset=iso-8859-1 over UTF-8", CR_LINKS_HTML, NULL,
    B("<meta charset=iso-8859-1><a href=\"/caf\xc3\xa9\">"),
    "P " H "/caf%C3%A9\n" },
  { "UTF-8 byte order mark", CR_LINKS_HTML, NULL,
    B("\xef\xbb\xbf<a href=/bom8>"), "P " H "/bom8\n" },
  { "something like a byte order mark", CR_LINKS_HTML, NULL,
    B("\xef\xbb<a href=/nobom1>\xfe<a href=/nobom2>"),
    "P " H "/nobom1\nP " H "/nobom2\n" },

  /* robots */
  { "meta robots nofollow", CR_LINKS_HTML, NULL,
    B("<a href=/before><meta name=\"robots\" content=\"noindex, NoFollow\">"
      "<a href=/after><img src=/after.png>"),
    "P " H "/before\nnofollow\n" },
  { "meta robots none", CR_LINKS_HTML, NULL,
    B("<meta name=ROBOTS content=\" NONE \"><a href=/after>"),
    "nofollow\n" },
  { "meta robots without nofollow", CR_LINKS_HTML, NULL,
    B("<meta name=robots content=\"noindex,noarchive\"><meta name=googlebot "
      "content=nofollow><meta name=robots content=nofollowx>"
      "<meta content=nofollow><a href=/after>"),
    "P " H "/after\n" },

  /* CSS inside HTML */
  { "style element", CR_LINKS_HTML, NULL,
    B("<style>@import \"imp.css\"; @import url(imp2.css);\n"
      "@import url(\"imp3.css\") screen; body{background:url( \"bg.png\" )}\n"
      ".a{background:URL('q.png')} /* url(no.png) */\n"
      ".b{content:\"url(no2.png)\"} .c{background:url(  sp.png  )}\n"
      "</style><a href=/after-style>"),
    "R " H "/dir/imp.css\nR " H "/dir/imp2.css\nR " H "/dir/imp3.css\nR " H
    "/dir/bg.png\nR " H "/dir/q.png\nR " H "/dir/sp.png\nP " H
    "/after-style\n" },
  { "style element uses the base", CR_LINKS_HTML, NULL,
    B("<base href=\"/b/\"><style>a{background:url(x.png)}</style>"),
    "R " H "/b/x.png\n" },
  { "style elements do not run together", CR_LINKS_HTML, NULL,
    B("<style>a{background:url(/one.png)} .x{y:\"</style>"
      "<style>url(/fresh.png)\"}</style><style>/* open</style>"
      "<style>b{background:url(/two.png)}</style><style>c{d:url(/cut"
      "</style><style>)}</style>"),
    "R " H "/one.png\nR " H "/fresh.png\nR " H "/two.png\nR " H
    "/cut\n" },
  { "style element cut by the end", CR_LINKS_HTML, NULL,
    B("<style>a{background:url(/cut.png"), "R " H "/cut.png\n" },
  { "style attributes", CR_LINKS_HTML, NULL,
    B("<div style=\"background:url(/bg.png)\">x</div>"
      "<p style='background-image: url(\"p.png\"), url(q.png)'>"
      "<img style=\"background:url(/s.png)\" src=\"/i.png\">"
      "<span style=\"background:url(/cut.png\">"),
    "R " H "/bg.png\nR " H "/dir/p.png\nR " H "/dir/q.png\nR " H
    "/s.png\nR " H "/i.png\nR " H "/cut.png\n" },

  /* what is not markup */
  { "script text is not parsed", CR_LINKS_HTML, NULL,
    B("<script>document.write('<a href=\"/no\">'); var s = \"</div>\";"
      "if(a</b){}</script><a href=/yes><SCRIPT type=x>"
      "<img src=/no2></SCRIPT ><a href=/yes2>"),
    "P " H "/yes\nP " H "/yes2\n" },
  { "comments", CR_LINKS_HTML, NULL,
    B("<!-- <a href=\"/no\"> --><a href=/yes><!--x--><!----><a href=/yes2>"
      "<!--[if IE]><link href=/ie.css><![endif]--><a href=/yes3>"
      "<!-- a -- b --><a href=/yes4>"),
    "P " H "/yes\nP " H "/yes2\nP " H "/yes3\nP " H "/yes4\n" },
  { "empty comments and near misses", CR_LINKS_HTML, NULL,
    B("<!--><a href=/c1><!---><a href=/c2><!----><a href=/c3>"
      "<!--!><a href=/no1>--!><a href=/c4><!---!><a href=/no2>-->"
      "<a href=/c5><!-- -- --><a href=/c6><!-- --- ----><a href=/c7>"),
    "P " H "/c1\nP " H "/c2\nP " H "/c3\nP " H "/c4\nP " H "/c5\nP " H
    "/c6\nP " H "/c7\n" },
  { "end tags inside script text", CR_LINKS_HTML, NULL,
    B("<script>if(a</b){}; s='</div></p></a>'; t=\"</scrip\";"
      "u='</ScRiPt'</script><a href=/after>"
      "<style>a:after{content:'</p>'} b{c:url(/in-style.png)}</style>"
      "<script>x</></d</script><a href=/after2>"),
    "P " H "/after\nR " H "/in-style.png\nP " H "/after2\n" },
  /* "<![CDATA[" in HTML is a comment up to the first '>', as in
   * browsers (libxml2 alone would read the tag in it). */
  { "CDATA in HTML", CR_LINKS_HTML, NULL,
    B("<p><![CDATA[ <a href=\"/cdata\"> ]]><a href=/after-cdata>"),
    "P " H "/after-cdata\n" },
  { "media, input and background", CR_LINKS_HTML, NULL,
    B("<body background=/bg.png><table background=/t.png><tr>"
      "<td background=/td.png><th background=/th.png>"
      "<video src=/v.mp4 poster=/poster.jpg><track src=/sub.vtt>"
      "<source src=/v.webm></video><audio src=/a.ogg></audio>"
      "<input type=image src=/button.png><a href=/after-media>"),
    "R " H "/bg.png\nR " H "/t.png\nR " H "/td.png\nR " H "/th.png\nR " H
    "/v.mp4\nR " H "/poster.jpg\nR " H "/sub.vtt\nR " H "/v.webm\nR " H
    "/a.ogg\nR " H "/button.png\nP " H "/after-media\n" },
  /* Tokenized as the HTML standard says, not as libxml2 alone would. */
  { "slash between name and attribute", CR_LINKS_HTML, NULL,
    B("<a/href=/slash><img/src=/slash.png/>"),
    "P " H "/slash\nR " H "/slash.png/\n" },
  { "the first of two equal attributes wins", CR_LINKS_HTML, NULL,
    B("<a href=/first HREF=/second><img src=/1.png src=/2.png>"),
    "P " H "/first\nR " H "/1.png\n" },
  { "quotes inside values", CR_LINKS_HTML, NULL,
    B("<a href='/q\"uote'><a href=/x'y><a title=\"a'b\" href=/after-q>"),
    "P " H "/q%22uote\nP " H "/x'y\nP " H "/after-q\n" },
  { "raw text elements hold no markup", CR_LINKS_HTML, NULL,
    B("<iframe src=/frame.html><a href=/in-iframe></iframe>"
      "<textarea><a href=/in-textarea></TEXTAREA>"
      "<xmp><a href=/in-xmp></xmp><noembed><img src=/ne.png></noembed>"
      "<a href=/after-raw>"),
    "R " H "/frame.html\nP " H "/after-raw\n" },
  { "a raw end tag needs a delimiter", CR_LINKS_HTML, NULL,
    B("<script>x='</scripty><a href=/in-script>'</script\n><a href=/yes>"
      "<style>a{b:url(/s1.png)}</stylex>{c:url(/s2.png)}</style/>"
      "<a href=/yes2>"),
    "P " H "/yes\nR " H "/s1.png\nR " H "/s2.png\nP " H "/yes2\n" },
  { "comment-like text inside a value is the value", CR_LINKS_HTML, NULL,
    B("<a href=\"/v<!-->w\"><a href='/x<!--!>y'>"),
    "P " H "/v%3C!--%3Ew\nP " H "/x%3C!--!%3Ey\n" },
  { "comment forms", CR_LINKS_HTML, NULL,
    B("<!--><a href=/c1><!---><a href=/c2><!-- x --!><a href=/c3>"
      "<!-- <a href=/in-comment> -- > ---><a href=/c4>"
      "<! bogus <a href=/in-bogus><a href=/b1><?php x ?><a href=/b2>"
      "</ 3><a href=/b3>"),
    "P " H "/c1\nP " H "/c2\nP " H "/c3\nP " H "/c4\nP " H "/b1\nP "
    H "/b2\nP " H "/b3\n" },
  { "plaintext runs to the end", CR_LINKS_HTML, NULL,
    B("<a href=/before-pt><plaintext><a href=/in-plaintext></plaintext>"),
    "P " H "/before-pt\n" },
  { "end tags are read, not followed", CR_LINKS_HTML, NULL,
    B("</a href=/end-tag></div title='>'><a href=/after-end>"),
    "P " H "/after-end\n" },
  { "noscript is parsed", CR_LINKS_HTML, NULL,
    B("<noscript><img src=\"/ns.png\"><a href=/ns></a></noscript>"),
    "R " H "/ns.png\nP " H "/ns\n" },
  { "processing instruction", CR_LINKS_HTML, NULL,
    B("<?xml version=\"1.0\"?><?php echo '<a href=/no>' ?><a href=/yes>"),
    "P " H "/yes\n" },

  /* CSS bodies */
  { "CSS body", CR_LINKS_CSS, CSS_PAGE,
    B("@charset \"utf-8\";\n@import \"base.css\";\n"
      "@import url(print.css) print;\n"
      "/* url(commented.png) and @import \"no.css\"; */\n"
      "body { background: url(img/bg.png) }\n"
      ".a { background: URL( 'a.png' ) }\n"
      ".b { background: url(  \"b.png\"  ) }\n"
      ".c { content: \"url(no-string.png)\"; background: xurl(no.png) }\n"
      ".d { background: url() url( ) url('') }\n"
      ".e { background: url(data:image/png;base64,AAAA) }\n"
      ".f { background: url(f\\)x.png) }\n"
      ".g { background: url(\"g\\\"q.png\") }\n"
      ".h { background: url(h.png h2.png) url(h3(.png) url(h4\".png) }\n"
      "@font-face { src: url(/fonts/x.woff2) format(\"woff2\"),\n"
      "  url('/fonts/x.woff') format(\"woff\"); }\n"
      "@IMPORT'caps.css';\n"),
    "R " H "/css/base.css\nR " H "/css/print.css\nR " H
    "/css/img/bg.png\nR " H "/css/a.png\nR " H "/css/b.png\nR " H
    "/css/f)x.png\nR " H "/css/g%22q.png\nR " H "/fonts/x.woff2\nR " H
    "/fonts/x.woff\nR " H "/css/caps.css\n" },
  { "CSS comments", CR_LINKS_CSS, CSS_PAGE,
    B("/* a /* b */ url(yes.png) /*/ url(no.png) */ url(yes2.png)"
      "/**/url(yes3.png)/* url(no2.png) **/url(yes4.png) /* open url(no3)"),
    "R " H "/css/yes.png\nR " H "/css/yes2.png\nR " H "/css/yes3.png\nR " H
    "/css/yes4.png\n" },
  { "CSS strings and escapes", CR_LINKS_CSS, CSS_PAGE,
    B("a { content: 'it\\'s url(no.png)'; b: \"x\\\"url(no2)\" }\n"
      "c { content: \"bad\nurl(yes.png)\" }\n"
      "d { background: url(\"multi\\\nline.png\") }\n"),
    "R " H "/css/yes.png\nR " H "/css/multiline.png\n" },
  { "CSS cut by the end", CR_LINKS_CSS, CSS_PAGE,
    B("a{background:url(/end.png"), "R " H "/end.png\n" },
  { "CSS import string cut by the end", CR_LINKS_CSS, CSS_PAGE,
    B("@import \"/end.css"), "R " H "/end.css\n" },
  { "CSS with NUL and bytes over 0x7f", CR_LINKS_CSS, CSS_PAGE,
    B("a{b:url(/n\0ul.png)} c{d:url(/caf\xc3\xa9.png)}"),
    "R " H "/caf%C3%A9.png\n" },
};

/* ------------------------------------------------------------------ */

struct got {
  struct cr_buf buf;
  int failed;  /* the collector ran out of room */
};

static void on_link(void *arg, const char *url, enum cr_link_kind kind)
{
  struct got *g = arg;

  if(cr_buf_puts(&g->buf, kind == CR_LINK_PAGE ? "P " : "R ") ||
     cr_buf_puts(&g->buf, url) || cr_buf_putc(&g->buf, '\n'))
    g->failed = 1;
}

enum feed_mode { FEED_WHOLE = 0, FEED_BYTES, FEED_CHUNKS };

static const char *mode_names[] = { "whole", "bytes", "chunks" };

/* xorshift32: the same chunk sizes on every libc. */
static uint32_t rng_next(uint32_t *s)
{
  uint32_t x = *s;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

/* Runs one input through a parser; returns the links as text (malloc'ed),
 * or NULL when something failed. */
static char *run(enum cr_links_type type, const char *page, const char *in,
                 size_t len, enum feed_mode mode)
{
  struct cr_links *l = NULL;
  struct got g;
  uint32_t seed = 0x9E3779B9u;
  size_t max_chunk = len > 100000 ? 8192 : 97;
  size_t off = 0;
  char *out = NULL;
  int rc;

  memset(&g, 0, sizeof(g));
  cr_buf_init(&g.buf, 64u * 1024 * 1024);
  rc = cr_links_new(type, page ? page : PAGE, on_link, &g, &l);
  if(rc)
    goto done;
  while(off < len) {
    size_t n = len - off;
    if(mode == FEED_BYTES)
      n = 1;
    else if(mode == FEED_CHUNKS && n > 1)
      n = 1 + rng_next(&seed) % (n < max_chunk ? n : max_chunk);
    if(cr_links_feed(l, in + off, n) != 0)
      goto done;
    off += n;
  }
  if(cr_links_end(l) != 0)
    goto done;
  if(cr_links_nofollow(l) && cr_buf_puts(&g.buf, "nofollow\n"))
    g.failed = 1;
  if(g.failed)
    goto done;
  out = g.buf.data ? g.buf.data : strdup("");
  g.buf.data = NULL;

done:
  cr_links_free(&l);
  cr_buf_cleanup(&g.buf);
  return out;
}

/* Runs a case the three ways; one TAP line per way. */
static void check(const char *name, enum cr_links_type type, const char *page,
                  const char *in, size_t len, const char *want)
{
  int m;

  for(m = FEED_WHOLE; m <= FEED_CHUNKS; m++) {
    char title[256];
    char *got = run(type, page, in, len, (enum feed_mode)m);

    snprintf(title, sizeof(title), "%s (%s)", name, mode_names[m]);
    tap_check(got && strcmp(got, want) == 0, title, in, len, got, want);
    free(got);
  }
}

/* ------------------------------------------------------------------ */
/* Inputs built at run time                                           */

/* A growable string for building inputs; aborts the test on failure. */
struct sb {
  struct cr_buf b;
};

static void sb_init(struct sb *s)
{
  cr_buf_init(&s->b, 256u * 1024 * 1024);
}

static void sb_add(struct sb *s, const char *p, size_t n)
{
  if(cr_buf_append(&s->b, p, n) != 0) {
    fputs("out of memory building an input\n", stderr);
    exit(2);
  }
}

static void sb_puts(struct sb *s, const char *p)
{
  sb_add(s, p, strlen(p));
}

static void sb_repeat(struct sb *s, const char *p, size_t times)
{
  size_t i;

  for(i = 0; i < times; i++)
    sb_puts(s, p);
}

static void sb_fill(struct sb *s, char c, size_t times)
{
  char chunk[4096];
  size_t n;

  memset(chunk, c, sizeof(chunk));
  while(times) {
    n = times < sizeof(chunk) ? times : sizeof(chunk);
    sb_add(s, chunk, n);
    times -= n;
  }
}

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_built(const char *name, struct sb *in, struct sb *want)
{
  double t0 = now();

  check(name, CR_LINKS_HTML, NULL, in->b.data, in->b.len,
        want->b.data ? want->b.data : "");
  tap_note("%s: %zu bytes, three ways in %.2f s", name, in->b.len,
           now() - t0);
  cr_buf_reset(&in->b);
  cr_buf_reset(&want->b);
}

static void check_deep(void)
{
  struct sb in;
  struct sb want;

  sb_init(&in);
  sb_init(&want);

  /* 100,000 open elements, closed properly. */
  sb_repeat(&in, "<div>", 100000);
  sb_puts(&in, "<a href=/deep>x</a>");
  sb_repeat(&in, "</div>", 100000);
  sb_puts(&in, "<a href=/after-deep>");
  sb_puts(&want, "P " H "/deep\nP " H "/after-deep\n");
  check_built("100,000 nested <div>", &in, &want);

  /* Then stray end tags, each of which makes libxml2 walk its element
   * stack: without the depth cap this takes minutes. */
  sb_repeat(&in, "<div>", 100000);
  sb_repeat(&in, "</x>", 100000);
  sb_puts(&in, "<a href=/after-stray>");
  sb_puts(&want, "P " H "/after-stray\n");
  /* No clock here: a quadratic parse shows as the test timing out. */
  check_built("100,000 nested <div> and stray end tags", &in, &want);

  /* Nesting mixed with <style> and <script>: restarts never land inside
   * them, so no CSS is lost and no script is read as markup. */
  {
    size_t i;
    for(i = 0; i < 2000; i++) {
      sb_puts(&in, "<span><style>a{b:url(/s.png)}</style>"
                   "<script>x='<a href=/no>'</script>");
      sb_puts(&want, "R " H "/s.png\n");
    }
    check_built("nesting with style and script", &in, &want);
  }

  cr_buf_cleanup(&in.b);
  cr_buf_cleanup(&want.b);
}

static void check_many(void)
{
  struct sb in;
  struct sb want;
  char line[128];
  int i;

  sb_init(&in);
  sb_init(&want);
  sb_puts(&in, "<html><body><ul>\n");
  for(i = 0; i < 10000; i++) {
    snprintf(line, sizeof(line), "<li><a href=\"/p/%d\">page %d</a>\n", i, i);
    sb_puts(&in, line);
    snprintf(line, sizeof(line), "P " H "/p/%d\n", i);
    sb_puts(&want, line);
  }
  sb_puts(&in, "</ul></body></html>\n");
  check_built("10,000 links", &in, &want);
  cr_buf_cleanup(&in.b);
  cr_buf_cleanup(&want.b);
}

static void check_long(void)
{
  struct sb in;
  struct sb want;

  sb_init(&in);
  sb_init(&want);

  /* One byte over the cap, in each place a link can hide. */
  sb_puts(&in, "<a href=\"/");
  sb_fill(&in, 'a', CR_LINK_MAX);
  sb_puts(&in, "\">x</a><a href=/next>");
  sb_puts(&in, "<img srcset=\"/");
  sb_fill(&in, 'b', CR_LINK_MAX);
  sb_puts(&in, " 1x, /next-srcset.png 2x\">");
  sb_puts(&in, "<div style=\"background:url(/");
  sb_fill(&in, 'c', CR_LINK_MAX);
  sb_puts(&in, ") url(/next-style.png)\">");
  sb_puts(&in, "<style>a{b:url(/");
  sb_fill(&in, 'd', CR_LINK_MAX);
  sb_puts(&in, ")} c{d:url(/next-css.png)}</style>");
  sb_puts(&in, "<meta http-equiv=refresh content=\"0; url=/");
  sb_fill(&in, 'e', CR_LINK_MAX);
  sb_puts(&in, "\"><a href=/last>");
  sb_puts(&want, "P " H "/next\nR " H "/next-srcset.png\nR " H
                 "/next-style.png\nR " H "/next-css.png\nP " H "/last\n");
  check_built("links over CR_LINK_MAX are dropped", &in, &want);

  /* A 600 kB data: URI, as some pages inline images. */
  sb_puts(&in, "<img src=\"data:image/png;base64,");
  sb_fill(&in, 'A', 600 * 1024);
  sb_puts(&in, "\"><a href=/after-data>");
  sb_puts(&want, "P " H "/after-data\n");
  check_built("600 kB attribute", &in, &want);

  /* A 3 MB inline script with no "</" in it. */
  sb_puts(&in, "<a href=/before-script><script>var s = '<a href=/no>';");
  sb_fill(&in, 'x', 3 * 1024 * 1024);
  sb_puts(&in, "\xc3\xa9';</script><a href=/after-script>");
  sb_puts(&want, "P " H "/before-script\nP " H "/after-script\n");
  check_built("3 MB inline script", &in, &want);

  /* A 3 MB style: its URLs are still found. */
  sb_puts(&in, "<style>a{b:url(/style-start.png)}");
  sb_fill(&in, ' ', 3 * 1024 * 1024 / 2);
  sb_puts(&in, "c{d:url(/style-middle.png)}");
  sb_fill(&in, ' ', 3 * 1024 * 1024 / 2);
  sb_puts(&in, "e{f:url(/style-end.png)}</style><a href=/after-style>");
  sb_puts(&want, "R " H "/style-start.png\nR " H "/style-middle.png\nR " H
                 "/style-end.png\nP " H "/after-style\n");
  check_built("3 MB style", &in, &want);

  /* Many attributes: libxml2 compares each with all before it, so past
   * a cap the parser gives up instead of spending seconds on one tag. */
  {
    char attr[32];
    size_t i;

    sb_puts(&in, "<a");
    for(i = 0; i < 1000; i++) {
      snprintf(attr, sizeof(attr), " data-a%zu=\"%zu\"", i, i);
      sb_puts(&in, attr);
    }
    sb_puts(&in, " href=/many><a href=/after-many>");
    sb_puts(&want, "P " H "/many\nP " H "/after-many\n");
    check_built("tag with 1,000 attributes", &in, &want);

    sb_puts(&in, "<a href=/before-atts><a");
    for(i = 0; i < 100000; i++) {
      snprintf(attr, sizeof(attr), " x%zu", i);
      sb_puts(&in, attr);
    }
    sb_puts(&in, " href=/in-tag><a href=/after-atts>");
    sb_puts(&want, "P " H "/before-atts\nP " H "/in-tag\nP " H "/after-atts\n");
    check_built("tag with 100,000 attributes", &in, &want);
  }

  /* A long comment and long attributes are read through, never
   * buffered: a link's value over its cap is dropped alone. */
  sb_puts(&in, "<a href=/before-comment><!--");
  sb_fill(&in, 'x', 3 * 1024 * 1024);
  sb_puts(&in, "--><a href=/after-comment>");
  sb_puts(&want, "P " H "/before-comment\nP " H "/after-comment\n");
  check_built("3 MB comment", &in, &want);

  sb_puts(&in, "<a href=/before-attr><a title=\"");
  sb_fill(&in, 'x', 3 * 1024 * 1024);
  sb_puts(&in, "\" href=/with-attr><a href=/after-attr>");
  sb_puts(&want, "P " H "/before-attr\nP " H "/with-attr\nP " H "/after-attr\n");
  check_built("3 MB attribute", &in, &want);

  sb_puts(&in, "<a href=/before-href><a href=\"/");
  sb_fill(&in, 'x', 3 * 1024 * 1024);
  sb_puts(&in, "\"><a href=/after-href>");
  sb_puts(&want, "P " H "/before-href\nP " H "/after-href\n");
  check_built("3 MB href", &in, &want);

  cr_buf_cleanup(&in.b);
  cr_buf_cleanup(&want.b);
}

/* Appends s (UTF-8, BMP or not) as UTF-16, little or big endian. */
static void sb_utf16(struct sb *s, const char *u8, int le)
{
  const unsigned char *p = (const unsigned char *)u8;

  while(*p) {
    uint32_t cp;
    unsigned units[2];
    int n = 1;
    int i;

    if(*p < 0x80) {
      cp = *p++;
    }
    else if(*p < 0xE0) {
      cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
      p += 2;
    }
    else if(*p < 0xF0) {
      cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) |
           (p[2] & 0x3F);
      p += 3;
    }
    else {
      cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
           ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
      p += 4;
    }
    if(cp >= 0x10000) {
      units[0] = 0xD800 + ((cp - 0x10000) >> 10);
      units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
      n = 2;
    }
    else {
      units[0] = cp;
    }
    for(i = 0; i < n; i++) {
      char b[2];
      b[le ? 0 : 1] = (char)(units[i] & 0xFF);
      b[le ? 1 : 0] = (char)(units[i] >> 8);
      sb_add(s, b, 2);
    }
  }
}

static void check_utf16(void)
{
  static const char doc[] =
    "<meta charset=utf-8><a href=\"/u16\">x</a>"
    "<a href=\"/caf\xc3\xa9\"><img src=\"/\xf0\x9f\x98\x80.png\">";
  static const char links[] =
    "P " H "/u16\nP " H "/caf%C3%A9\nR " H "/%F0%9F%98%80.png\n";
  struct sb in;
  struct sb want;

  sb_init(&in);
  sb_init(&want);

  sb_add(&in, "\xff\xfe", 2);
  sb_utf16(&in, doc, 1);
  sb_puts(&want, links);
  check_built("UTF-16LE with a byte order mark", &in, &want);

  sb_add(&in, "\xfe\xff", 2);
  sb_utf16(&in, doc, 0);
  sb_puts(&want, links);
  check_built("UTF-16BE with a byte order mark", &in, &want);

  /* A lone surrogate and an odd last byte: replaced, not fatal. */
  sb_add(&in, "\xff\xfe", 2);
  sb_utf16(&in, "<a href=\"/s", 1);
  sb_add(&in, "\x00\xd8", 2);
  sb_utf16(&in, "\"><a href=/t>", 1);
  sb_add(&in, "<", 1);
  sb_puts(&want, "P " H "/s%EF%BF%BD\nP " H "/t\n");
  check_built("UTF-16 with a lone surrogate", &in, &want);

  cr_buf_cleanup(&in.b);
  cr_buf_cleanup(&want.b);
}

/* Links must come as the page arrives, not at its end: libxml2 2.9.14
 * loses track of a tag whose chunk ends inside a quoted attribute value.
 * Every cut of a page with quotes of both kinds is fed, then some text;
 * before cr_links_end, all links must be out. */
static void check_streaming(void)
{
  static const char page[] =
    "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
    "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">"
    "<a title=\"it's > here\" href=\"/one\">1</a>"
    "<a title='say \"hi\"' href='/two'>2</a><img alt=\"\" src=\"/three.png\" "
    "srcset=\"/four.png 1x, /five.png 2x\"><a href=/six>6</a>"
    "<a data-x='{\"k\": \"<v>\"}' href=\"/seven\">7</a>"
    "<!--no tag in this one--><a href=/eight><script>s='</p></div>'</script>"
    "<!-- a <b> and more text ---><a href=/nine>";
  static const char want[] =
    "P " H "/one\nP " H "/two\nR " H "/three.png\nR " H "/four.png\nR " H
    "/five.png\nP " H "/six\nP " H "/seven\nP " H "/eight\nP " H
    "/nine\n";
  static const char tail[] = "<p>and some more text to read";
  size_t len = sizeof(page) - 1;
  size_t cut;
  int ok = 1;
  char *bad = NULL;

  for(cut = 0; cut <= len && ok; cut++) {
    struct cr_links *l = NULL;
    struct got g;

    memset(&g, 0, sizeof(g));
    cr_buf_init(&g.buf, 1 << 20);
    if(cr_links_new(CR_LINKS_HTML, PAGE, on_link, &g, &l) != 0) {
      ok = 0;
      break;
    }
    cr_links_feed(l, page, cut);
    cr_links_feed(l, page + cut, len - cut);
    cr_links_feed(l, tail, sizeof(tail) - 1);
    if(!g.buf.data || strcmp(g.buf.data, want) != 0) {
      ok = 0;
      bad = g.buf.data ? strdup(g.buf.data) : NULL;
      tap_note("cut at %zu", cut);
    }
    cr_links_free(&l);
    cr_buf_cleanup(&g.buf);
  }
  tap_check(ok, "links come before the end, wherever the page is cut", page,
            len, ok ? want : bad, want);
  free(bad);
}

/* Every place a CSS url( or an HTML tag can be cut in two. */
static void check_splits(void)
{
  static const struct {
    enum cr_links_type type;
    const char *in;
    const char *want;
  } split[] = {
    { CR_LINKS_CSS, "a{background:URL( \"/x.png\" )} @import url(/y.css);"
                    "/* url(/no) */@import '/z.css';",
      "R " H "/x.png\nR " H "/y.css\nR " H "/z.css\n" },
    { CR_LINKS_HTML, "<p><script>a='</p>'</script><style>b{c:url(/s.png)}"
                     "</style><a href=\"/a&amp;b\"><!-- <a href=/no> -->"
                     "<img srcset=\"/1.png 1x,/2.png 2x\">",
      "R " H "/s.png\nP " H "/a&b\nR " H "/1.png\nR " H "/2.png\n" },
  };
  size_t i;

  for(i = 0; i < sizeof(split) / sizeof(split[0]); i++) {
    size_t len = strlen(split[i].in);
    size_t cut;
    int ok = 1;
    char *bad = NULL;

    for(cut = 0; cut <= len && ok; cut++) {
      struct cr_links *l = NULL;
      struct got g;

      memset(&g, 0, sizeof(g));
      cr_buf_init(&g.buf, 1 << 20);
      if(cr_links_new(split[i].type, split[i].type == CR_LINKS_CSS ?
                      CSS_PAGE : PAGE, on_link, &g, &l) != 0) {
        ok = 0;
        break;
      }
      cr_links_feed(l, split[i].in, cut);
      cr_links_feed(l, split[i].in + cut, len - cut);
      cr_links_end(l);
      cr_links_free(&l);
      if(!g.buf.data || strcmp(g.buf.data, split[i].want) != 0) {
        ok = 0;
        bad = g.buf.data ? strdup(g.buf.data) : NULL;
        tap_note("cut at %zu", cut);
      }
      cr_buf_cleanup(&g.buf);
    }
    tap_check(ok, split[i].type == CR_LINKS_CSS ? "CSS cut at every byte"
                                                : "HTML cut at every byte",
              split[i].in, len, ok ? split[i].want : bad, split[i].want);
    free(bad);
  }
}

static void check_api(void)
{
  static const char *bad_pages[] = {
    "ftp://example.com/", "mailto:a@example.com", "http://", "/relative",
    "http://exa mple.com/",
  };
  struct cr_links *l = NULL;
  struct got g;
  size_t i;
  int rc;

  for(i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
    l = (struct cr_links *)&g;  /* must be cleared */
    rc = cr_links_new(CR_LINKS_HTML, bad_pages[i], on_link, NULL, &l);
    tap_check(rc == CR_EURL && l == NULL, "bad page URL is refused",
              bad_pages[i], strlen(bad_pages[i]),
              rc == CR_EURL ? "CR_EURL" : "other", "CR_EURL");
  }
  rc = cr_links_new(CR_LINKS_HTML, NULL, on_link, NULL, &l);
  tap_check(rc == CR_EURL && l == NULL, "NULL page URL is refused", NULL, 0,
            rc == CR_EURL ? "CR_EURL" : "other", "CR_EURL");

  cr_links_free(NULL);
  l = NULL;
  cr_links_free(&l);
  tap_check(cr_links_nofollow(NULL) == 0, "free and nofollow accept NULL",
            NULL, 0, NULL, NULL);

  /* A page URL that is not normalized is normalized first. */
  memset(&g, 0, sizeof(g));
  cr_buf_init(&g.buf, 1 << 20);
  rc = cr_links_new(CR_LINKS_HTML, "HTTP://Example.COM:80/a/../b/c", on_link,
                    &g, &l);
  if(rc == 0) {
    cr_links_feed(l, B("<a href=d>"));
    cr_links_end(l);
    /* Fed after the end: ignored. */
    cr_links_feed(l, B("<a href=/late>"));
    cr_links_end(l);
  }
  cr_links_free(&l);
  tap_check(rc == 0 && l == NULL && g.buf.data &&
            strcmp(g.buf.data, "P " H "/b/d\n") == 0,
            "page URL normalized; nothing after the end", NULL, 0, g.buf.data,
            "P " H "/b/d\n");
  cr_buf_cleanup(&g.buf);

  /* Freed without an end, in the middle of a tag: no leak (ASan). */
  rc = cr_links_new(CR_LINKS_HTML, PAGE, on_link, NULL, &l);
  if(rc == 0)
    cr_links_feed(l, B("<html><body><a href=\"/x"));
  cr_links_free(&l);
  tap_check(rc == 0 && l == NULL, "free in the middle of a page", NULL, 0,
            NULL, NULL);
}

/* Nothing may reach stderr, whatever the page: libxml2 prints some errors
 * (encoding conversions) by itself unless kept from them. */
static void check_silent(void)
{
  FILE *tmp = tmpfile();
  struct stat st;
  int saved;
  size_t i;

  if(!tmp) {
    tap_check(0, "tmpfile", NULL, 0, NULL, NULL);
    return;
  }
  fflush(stderr);
  saved = dup(2);
  if(saved < 0 || dup2(fileno(tmp), 2) < 0) {
    tap_check(0, "dup2", NULL, 0, NULL, NULL);
    fclose(tmp);
    return;
  }
  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    free(run(cases[i].type, cases[i].page, cases[i].in, cases[i].len,
             FEED_CHUNKS));
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  if(fstat(fileno(tmp), &st) != 0) {
    tap_check(0, "fstat", NULL, 0, NULL, NULL);
  }
  else {
    char head[201];
    size_t n;

    rewind(tmp);
    n = fread(head, 1, sizeof(head) - 1, tmp);
    head[n] = '\0';
    tap_check(st.st_size == 0, "nothing printed to stderr", NULL, 0, head,
              "");
  }
  fclose(tmp);
}

/* Pages sharing a memo: a reference known for the part of the base it
 * depends on is reported once; the sieve drops plain ones before libxml2,
 * links_ref the rest (here the one with an entity).  "#top" names the page
 * itself and is never reported, unless a <base> makes it another URL. */
static void check_memo(void)
{
  static const char html[] =
    "<a href=/x><a href=y.html><a href='#top'><a href=\"z.html?a=1&amp;b=2\">";
  static const struct {
    const char *page;
    const char *prefix;
    const char *want;
  } steps[] = {
    { "http://example.com/d/p1.html", "",
      "P " H "/x\nP " H "/d/y.html\nP " H "/d/z.html?a=1&b=2\n" },
    { "http://example.com/d/p2.html", "", "" },
    { "http://example.com/e/p3.html", "",
      "P " H "/e/y.html\nP " H "/e/z.html?a=1&b=2\n" },
    { "http://example.com/d/p4.html", "<base href=/f/>",
      "P " H "/f/y.html\nP " H "/f/\nP " H "/f/z.html?a=1&b=2\n" },
    { "http://example.com/d/p5.html", "<base href=/f/>", "" },
  };
  struct cr_hset memo;
  size_t i;

  cr_hset_init(&memo);
  for(i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    struct cr_links *l = NULL;
    struct got g;
    char name[64];
    const char *out;

    memset(&g, 0, sizeof(g));
    cr_buf_init(&g.buf, 1 << 20);
    if(cr_links_new(CR_LINKS_HTML, steps[i].page, on_link, &g, &l) == 0) {
      cr_links_set_memo(l, &memo);
      cr_links_feed(l, steps[i].prefix, strlen(steps[i].prefix));
      cr_links_feed(l, html, sizeof(html) - 1);
      cr_links_end(l);
    }
    out = g.buf.data ? g.buf.data : "";
    snprintf(name, sizeof(name), "memo, page %zu", i + 1);
    tap_check(l && !g.failed && strcmp(out, steps[i].want) == 0, name, html,
              sizeof(html) - 1, out, steps[i].want);
    cr_links_free(&l);
    cr_buf_cleanup(&g.buf);
  }
  cr_hset_cleanup(&memo);
}

/* With kinds in the memo, a reference met as a page link is still reported
 * as a requisite, on the same page or a later one; without, once. */
static void check_memo_kinds(void)
{
  static const char html[] =
    "<a href=/x.png><img src=/x.png><link rel=next href=/y.css>"
    "<link rel=stylesheet href=/y.css><img src=/x.png><a href=/x.png>";
  static const struct {
    int kinds;
    const char *want1;
    const char *want2;
  } runs[] = {
    { 1, "P " H "/x.png\nR " H "/x.png\nP " H "/y.css\nR " H "/y.css\n", "" },
    { 0, "P " H "/x.png\nP " H "/y.css\n", "" },
  };
  size_t r;

  for(r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
    struct cr_hset memo;
    int page;

    cr_hset_init(&memo);
    for(page = 0; page < 2; page++) {
      struct cr_links *l = NULL;
      struct got g;
      char name[64];
      const char *out;
      const char *want = page ? runs[r].want2 : runs[r].want1;

      memset(&g, 0, sizeof(g));
      cr_buf_init(&g.buf, 1 << 20);
      if(cr_links_new(CR_LINKS_HTML, page ? "http://example.com/p2.html" : PAGE, on_link,
                      &g, &l) == 0) {
        cr_links_set_memo(l, &memo);
        cr_links_set_memo_kinds(l, runs[r].kinds);
        cr_links_feed(l, html, sizeof(html) - 1);
        cr_links_end(l);
      }
      out = g.buf.data ? g.buf.data : "";
      snprintf(name, sizeof(name), "memo %s kinds, page %d", runs[r].kinds ? "with" : "without",
               page + 1);
      tap_check(l && !g.failed && strcmp(out, want) == 0, name, html, sizeof(html) - 1, out,
                want);
      cr_links_free(&l);
      cr_buf_cleanup(&g.buf);
    }
    cr_hset_cleanup(&memo);
  }
}

int main(void)
{
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check(cases[i].name, cases[i].type, cases[i].page, cases[i].in,
          cases[i].len, cases[i].want);
  check_utf16();
  check_splits();
  check_streaming();
  check_many();
  check_long();
  check_deep();
  check_api();
  check_memo();
  check_memo_kinds();
  check_silent();
  return tap_done();
}
