/* test_robots.c - table-driven tests of cr_robots: RFC 9309's examples,
 * Google's documented pattern examples, group selection, parsing oddities,
 * crawl-delay, and the bounds (huge files, many rules, many '*'s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "crawler.h"
#include "robots.h"
#include "tap.h"

struct allow_case {
  const char *txt;
  const char *agent;
  const char *path;
  int want; /* 1 allowed, 0 disallowed */
};

/* RFC 9309 section 5.1. */
#define RFC_SIMPLE                                                          \
  "User-Agent: *\n"                                                         \
  "Disallow: *.gif$\n"                                                      \
  "Disallow: /example/\n"                                                   \
  "Allow: /publications/\n"                                                 \
  "\n"                                                                      \
  "User-Agent: foobot\n"                                                    \
  "Disallow:/\n"                                                            \
  "Allow:/example/page.html\n"                                              \
  "Allow:/example/allowed.gif\n"                                            \
  "\n"                                                                      \
  "User-Agent: barbot\n"                                                    \
  "User-Agent: bazbot\n"                                                    \
  "Disallow: /example/page.html\n"                                          \
  "\n"                                                                      \
  "User-Agent: quxbot\n"                                                    \
  "\n"                                                                      \
  "EOF\n"

/* RFC 9309 section 5.2. */
#define RFC_LONGEST                                                         \
  "User-Agent: foobot\n"                                                    \
  "Allow: /example/page/\n"                                                 \
  "Disallow: /example/page/disallowed.gif\n"

#define G(rule) "user-agent: *\ndisallow: " rule "\n"
#define AD(a, d) "user-agent: *\nallow: " a "\ndisallow: " d "\n"

static const struct allow_case allow_cases[] = {
  /* RFC 9309 5.1 */
  { RFC_SIMPLE, "foobot", "/", 0 },
  { RFC_SIMPLE, "foobot", "/example/page.html", 1 },
  { RFC_SIMPLE, "foobot", "/example/allowed.gif", 1 },
  { RFC_SIMPLE, "foobot", "/example/other.gif", 0 },
  { RFC_SIMPLE, "foobot", "/publications/", 0 },
  { RFC_SIMPLE, "barbot", "/example/page.html", 0 },
  { RFC_SIMPLE, "barbot", "/example/page.htm", 1 },
  { RFC_SIMPLE, "barbot", "/x.gif", 1 },
  { RFC_SIMPLE, "bazbot", "/example/page.html", 0 },
  { RFC_SIMPLE, "bazbot", "/example/other", 1 },
  { RFC_SIMPLE, "quxbot", "/example/", 1 },
  { RFC_SIMPLE, "quxbot", "/x.gif", 1 },
  { RFC_SIMPLE, "otherbot", "/x.gif", 0 },
  { RFC_SIMPLE, "otherbot", "/a/b/c.gif", 0 },
  { RFC_SIMPLE, "otherbot", "/x.gif?q", 1 },
  { RFC_SIMPLE, "otherbot", "/example/", 0 },
  { RFC_SIMPLE, "otherbot", "/example/page.html", 0 },
  { RFC_SIMPLE, "otherbot", "/publications/", 1 },
  { RFC_SIMPLE, "otherbot", "/other", 1 },
  /* RFC 9309 5.2 */
  { RFC_LONGEST, "foobot", "/example/page/", 1 },
  { RFC_LONGEST, "foobot", "/example/page/x.html", 1 },
  { RFC_LONGEST, "foobot", "/example/page/disallowed.gif", 0 },
  { RFC_LONGEST, "foobot", "/example/page/disallowed.gif?x", 0 },
  { RFC_LONGEST, "otherbot", "/example/page/disallowed.gif", 1 },

  /* Google's examples: "/fish" */
  { G("/fish"), "x", "/fish", 0 },
  { G("/fish"), "x", "/fish.html", 0 },
  { G("/fish"), "x", "/fish/salmon.html", 0 },
  { G("/fish"), "x", "/fishheads", 0 },
  { G("/fish"), "x", "/fishheads/yummy.html", 0 },
  { G("/fish"), "x", "/fish.php?id=anything", 0 },
  { G("/fish"), "x", "/Fish.asp", 1 },
  { G("/fish"), "x", "/catfish", 1 },
  { G("/fish"), "x", "/?id=fish", 1 },
  { G("/fish"), "x", "/desert/fish", 1 },
  /* "/fish*" is "/fish" */
  { G("/fish*"), "x", "/fish", 0 },
  { G("/fish*"), "x", "/fish.html", 0 },
  { G("/fish*"), "x", "/fishheads/yummy.html", 0 },
  { G("/fish*"), "x", "/Fish.asp", 1 },
  { G("/fish*"), "x", "/catfish", 1 },
  { G("/fish*"), "x", "/desert/fish", 1 },
  /* "/fish/" */
  { G("/fish/"), "x", "/fish/", 0 },
  { G("/fish/"), "x", "/fish/?id=anything", 0 },
  { G("/fish/"), "x", "/fish/salmon.htm", 0 },
  { G("/fish/"), "x", "/fish", 1 },
  { G("/fish/"), "x", "/fish.html", 1 },
  { G("/fish/"), "x", "/animals/fish/", 1 },
  { G("/fish/"), "x", "/Fish/Salmon.asp", 1 },
  /* Google: any path containing ".php" */
  { G("/*.php"), "x", "/index.php", 0 },
  { G("/*.php"), "x", "/filename.php", 0 },
  { G("/*.php"), "x", "/folder/filename.php", 0 },
  { G("/*.php"), "x", "/folder/filename.php?parameters", 0 },
  { G("/*.php"), "x", "/folder/any.php.file.html", 0 },
  { G("/*.php"), "x", "/filename.php/", 0 },
  { G("/*.php"), "x", "/", 1 },
  { G("/*.php"), "x", "/windows.PHP", 1 },
  /* Google: any path ending in ".php" */
  { G("/*.php$"), "x", "/filename.php", 0 },
  { G("/*.php$"), "x", "/folder/filename.php", 0 },
  { G("/*.php$"), "x", "/filename.php?parameters", 1 },
  { G("/*.php$"), "x", "/filename.php/", 1 },
  { G("/*.php$"), "x", "/filename.php5", 1 },
  { G("/*.php$"), "x", "/windows.PHP", 1 },
  { G("/*.php$"), "x", "/a.php.php", 0 },
  /* "/fish*.php" */
  { G("/fish*.php"), "x", "/fish.php", 0 },
  { G("/fish*.php"), "x", "/fishheads/catfish.php?parameters", 0 },
  { G("/fish*.php"), "x", "/Fish.PHP", 1 },
  /* '$' only anchors at the end; elsewhere it is a byte */
  { G("/a$b"), "x", "/a$b", 0 },
  { G("/a$b"), "x", "/ab", 1 },
  { G("/a$"), "x", "/a", 0 },
  { G("/a$"), "x", "/ab", 1 },
  { G("/a*$"), "x", "/abc", 0 },
  { G("/$"), "x", "/", 0 },
  { G("/$"), "x", "/a", 1 },
  { G("/a**b"), "x", "/axb", 0 },
  { G("*"), "x", "/anything", 0 },
  { G("/*/b*c$"), "x", "/a/bxc", 0 },
  { G("/*/b*c$"), "x", "/a/bxcd", 1 },
  { G("/*ab*ab$"), "x", "/xabab", 0 },
  { G("/*ab*ab$"), "x", "/xab", 1 },
  { G("/a*bc*bc$"), "x", "/abcbc", 0 },
  { G("/a*bc*bc$"), "x", "/abc", 1 },

  /* Google's precedence examples, and the tie */
  { AD("/p", "/"), "x", "/page", 1 },
  { AD("/folder", "/folder"), "x", "/folder/page", 1 },
  { AD("/page", "/*.htm"), "x", "/page.htm", 0 },
  { AD("/page", "/*.ph"), "x", "/page.php", 1 },
  { AD("/$", "/"), "x", "/", 1 },
  { AD("/$", "/"), "x", "/page.htm", 0 },
  { "user-agent: *\ndisallow: /a\nallow: /a\n", "x", "/a", 1 },
  { AD("/page$", "/page"), "x", "/page", 1 },
  { AD("/page$", "/page"), "x", "/page2", 0 },
  { AD("/a", "/a/b"), "x", "/a/b", 0 },

  /* user-agent matching */
  { "User-agent: Crawler\nDisallow: /\n", "crawler", "/x", 0 },
  { "USER-AGENT: CRAWLER\nDISALLOW: /\n", "crawler", "/x", 0 },
  { "User-agent: crawler/0.1\nDisallow: /\n", "crawler", "/x", 0 },
  { "User-agent: crawler (+http://x/)\nDisallow: /\n", "crawler", "/x", 0 },
  { "User-agent: crawlerbot\nDisallow: /\n", "crawler", "/x", 1 },
  { "User-agent: crawl\nDisallow: /\n", "crawler", "/x", 1 },
  { "User-agent: my_crawler-2\nDisallow: /\n", "my_crawler", "/x", 1 },
  { "User-agent: my_crawler-\nDisallow: /\n", "my_crawler-", "/x", 0 },
  { "User-agent: crawler\nDisallow: /\n", "Crawler/0.1", "/x", 0 },
  { "User-agent: crawler\nDisallow: /\n", "", "/x", 1 },
  { "User-agent: crawler\nDisallow: /\n", NULL, "/x", 1 },
  { "User-agent: *\nDisallow: /\n", NULL, "/x", 0 },
  { "User-agent: *bot\nDisallow: /\n", "crawler", "/x", 1 },
  /* several user-agent lines share a group */
  { "User-agent: a\nUser-agent: crawler\nUser-agent: b\nDisallow: /x\n",
    "crawler", "/x", 0 },
  { "User-agent: a\nSitemap: http://s/\nUser-agent: crawler\nDisallow: /x\n",
    "crawler", "/x", 0 },
  /* a user-agent after rules starts a new group */
  { "User-agent: crawler\nDisallow: /x\nUser-agent: b\nDisallow: /y\n",
    "crawler", "/y", 1 },
  { "User-agent: crawler\nDisallow: /x\nUser-agent: b\nDisallow: /y\n",
    "crawler", "/x", 0 },
  { "User-agent: crawler\nCrawl-delay: 1\nUser-agent: b\nDisallow: /y\n",
    "crawler", "/y", 1 },
  /* groups for the same agent are merged */
  { "User-agent: crawler\nDisallow: /x\n\nUser-agent: b\nDisallow: /y\n\n"
    "User-agent: CRAWLER\nDisallow: /z\n", "crawler", "/x", 0 },
  { "User-agent: crawler\nDisallow: /x\n\nUser-agent: b\nDisallow: /y\n\n"
    "User-agent: CRAWLER\nDisallow: /z\n", "crawler", "/z", 0 },
  { "User-agent: crawler\nDisallow: /x\n\nUser-agent: crawler\nAllow: /x/y\n",
    "crawler", "/x/y", 1 },
  /* "*" groups merged, used only without a specific group */
  { "User-agent: *\nDisallow: /x\nUser-agent: b\nDisallow: /\n"
    "User-agent: *\nDisallow: /y\n", "crawler", "/y", 0 },
  { "User-agent: *\nDisallow: /x\nUser-agent: b\nDisallow: /\n"
    "User-agent: *\nDisallow: /y\n", "crawler", "/x", 0 },
  { "User-agent: *\nDisallow: /x\nUser-agent: b\nDisallow: /\n"
    "User-agent: *\nDisallow: /y\n", "crawler", "/z", 1 },
  { "User-agent: *\nDisallow: /\n\nUser-agent: crawler\nDisallow: /x\n",
    "crawler", "/y", 1 },
  { "User-agent: *\nDisallow: /\n\nUser-agent: crawler\nDisallow: /x\n",
    "other", "/y", 0 },
  { "User-agent: *\nDisallow: /\n\nUser-agent: crawler\n", "crawler", "/y",
    1 },
  { "User-agent: crawler\nUser-agent: *\nDisallow: /x\n", "crawler", "/x", 0 },
  { "User-agent: crawler\nUser-agent: *\nDisallow: /x\n", "other", "/x", 0 },
  { "User-agent: b\nDisallow: /\n", "crawler", "/x", 1 },
  /* rules before any user-agent line belong to no group */
  { "Disallow: /\nUser-agent: *\nDisallow: /x\n", "crawler", "/y", 1 },
  { "Disallow: /\n", "crawler", "/y", 1 },
  { "Allow: /\nUser-agent: *\nDisallow: /\n", "crawler", "/y", 0 },

  /* empty Disallow, empty file */
  { "User-agent: *\nDisallow:\n", "crawler", "/x", 1 },
  { "User-agent: *\nDisallow:   \n", "crawler", "/x", 1 },
  { "User-agent: *\nDisallow:\nDisallow: /y\n", "crawler", "/y", 0 },
  { "User-agent: *\nAllow:\nDisallow: /\n", "crawler", "/y", 0 },
  { "", "crawler", "/x", 1 },
  /* comments anywhere */
  { "# hello\nUser-agent: * # all\nDisallow: /x # not /y\n", "c", "/x", 0 },
  { "# hello\nUser-agent: * # all\nDisallow: /x # not /y\n", "c", "/y", 1 },
  { "User-agent: *\nDisallow: /a#b\n", "c", "/a", 0 },
  { "User-agent: *\nDisallow: #/\n", "c", "/a", 1 },
  { "User-agent: crawler#x\nDisallow: /\n", "crawler", "/a", 0 },
  { "# User-agent: *\n# Disallow: /\n", "c", "/a", 1 },
  /* line ends */
  { "User-agent: *\r\nDisallow: /x\r\n", "c", "/x", 0 },
  { "User-agent: *\r\nDisallow: /x\r\n", "c", "/x\r", 0 },
  { "User-agent: *\rDisallow: /x\rAllow: /x/y\r", "c", "/x/y", 1 },
  { "User-agent: *\rDisallow: /x\rAllow: /x/y\r", "c", "/x/z", 0 },
  { "User-agent: *\n\r\nDisallow: /x", "c", "/x", 0 },
  { "User-agent: b\r\rUser-agent: c\rDisallow: /x", "c", "/x", 0 },
  /* BOM, whitespace, key case */
  { "\xEF\xBB\xBFUser-agent: *\nDisallow: /x\n", "c", "/x", 0 },
  { "\xEF\xBBUser-agent: *\nDisallow: /x\n", "c", "/x", 1 },
  { "  User-agent :\t*  \n\tDISALLOW  :  /x  \n", "c", "/x", 0 },
  { "user-agent:*\ndisallow:/x\n", "c", "/x", 0 },
  /* typos and variants accepted */
  { "useragent: *\ndisalow: /x\n", "c", "/x", 0 },
  { "user agent: *\ndissallow: /x\n", "c", "/x", 0 },
  { "User-agent: *\ndissalow: /x\ndiasllow: /y\n", "c", "/y", 0 },
  { "User-agent: *\ndisallaw: /x\n", "c", "/x", 0 },
  { "User-agent *\nDisallow /x\n", "c", "/x", 0 },
  /* typos not accepted */
  { "User-agent: *\nDisalloww: /x\n", "c", "/x", 1 },
  { "User-agnet: *\nDisallow: /x\n", "c", "/x", 1 },
  { "User-agent: *\nDisallow /x /y\n", "c", "/x", 1 },
  /* garbage never fails the parse */
  { "<html><body>Not found</body></html>\n", "c", "/x", 1 },
  { "User-agent: *\n<html>\nDisallow: /x\n:::\n:\n\x01\x02\xff\n", "c",
    "/x", 0 },
  { "User-agent: *\nDisallow: x\n", "c", "/x", 1 },
  { "User-agent: *\nDisallow: http://h/x\n", "c", "/x", 1 },
  { "User-agent: *\nSitemap: http://h/s.xml\nDisallow: /x\n", "c", "/x", 0 },
  { "User-agent: *\nfoo: bar\nDisallow: /x\n", "c", "/x", 0 },
  { "\n\n\n", "c", "/x", 1 },
  { "User-agent: *\nDisallow: /x", "c", "/x", 0 },

  /* percent-encoding made consistent on both sides */
  { G("/a%3cd"), "c", "/a%3Cd", 0 },
  { G("/a%3Cd"), "c", "/a%3cd", 0 },
  { G("/a<d"), "c", "/a%3Cd", 0 },
  { G("/a%3Cd"), "c", "/a<d", 0 },
  { G("/%7Euser"), "c", "/~user", 0 },
  { G("/~user"), "c", "/%7euser", 0 },
  { G("/%41"), "c", "/A", 0 },
  { G("/a%2Fb"), "c", "/a/b", 1 },
  { G("/a/b"), "c", "/a%2Fb", 1 },
  { G("/a%2fb"), "c", "/a%2Fb", 0 },
  { G("/a b"), "c", "/a%20b", 0 },
  { G("/100%"), "c", "/100%25", 0 },
  { G("/100%"), "c", "/100%", 0 },
  { G("/%zz"), "c", "/%25zz", 0 },
  { G("/q?a=1"), "c", "/q?a=1&b=2", 0 },
  { G("/q?a=1"), "c", "/q%3Fa=1", 1 },
  /* non-ASCII in patterns and paths */
  { G("/\xC3\xBC"), "c", "/%C3%BC", 0 },
  { G("/\xC3\xBC"), "c", "/%c3%bc", 0 },
  { G("/\xC3\xBC"), "c", "/\xC3\xBC", 0 },
  { G("/%C3%BC"), "c", "/\xC3\xBCx", 0 },
  { G("/\xC3\xBC"), "c", "/u", 1 },
  { G("/*\xE6\x97\xA5$"), "c", "/a/%E6%97%A5", 0 },
  { G("/\xFF"), "c", "/%FF", 0 },
  { AD("/\xC3\xBC", "/%C3%BC"), "c", "/%C3%BC", 1 },
  /* patterns and paths are case-sensitive */
  { G("/Private"), "c", "/private", 1 },
  { G("/private"), "c", "/PRIVATE", 1 },

  /* /robots.txt is always allowed */
  { G("/"), "c", "/robots.txt", 1 },
  { G("/robots.txt"), "c", "/robots.txt", 1 },
  { G("/"), "c", "/robots%2Etxt", 1 },
  { G("/"), "c", "/robots.txt2", 0 },
  { G("/"), "c", "/a/robots.txt", 0 },
  /* an empty path is "/" */
  { G("/$"), "c", "", 0 },
};

static void test_allow_table(void)
{
  size_t i;

  for(i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++) {
    const struct allow_case *c = &allow_cases[i];
    struct cr_robots *r = NULL;
    char name[200];
    int rc = cr_robots_parse(c->txt, strlen(c->txt), c->agent, &r);
    int got = rc == 0 && cr_robots_allowed(r, c->path, strlen(c->path));

    snprintf(name, sizeof(name), "case %zu: %s %s for %s", i,
             c->want ? "allow" : "disallow", c->path,
             c->agent ? c->agent : "(null)");
    tap_check(rc == 0 && got == c->want, name, c->txt, strlen(c->txt),
              got ? "allowed" : "disallowed",
              c->want ? "allowed" : "disallowed");
    cr_robots_free(&r);
  }
}

struct delay_case {
  const char *txt;
  const char *agent;
  double want; /* negative: none */
};

static const struct delay_case delay_cases[] = {
  { "User-agent: *\nCrawl-delay: 2\n", "c", 2 },
  { "User-agent: *\nCrawl-delay: 2.5\n", "c", 2.5 },
  { "User-agent: *\nCrawl-delay: .5\n", "c", 0.5 },
  { "User-agent: *\nCrawl-delay: 3.\n", "c", 3 },
  { "User-agent: *\nCrawl-delay: 0\n", "c", 0 },
  { "User-agent: *\nCrawl-delay:   7   # seconds\n", "c", 7 },
  { "User-agent: *\ncrawl-DELAY: 4\n", "c", 4 },
  { "User-agent: *\ncrawldelay: 4\n", "c", 4 },
  { "User-agent: *\ncrawl delay: 4\n", "c", 4 },
  { "User-agent: *\nCrawl-delay: 10\r\n", "c", 10 },
  /* invalid values are ignored */
  { "User-agent: *\nCrawl-delay:\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: abc\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: -1\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: +1\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: 1e3\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: 5s\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: 1.2.3\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: .\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: inf\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: nan\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: 0x10\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: 1 2\n", "c", -1 },
  { "User-agent: *\nCrawl-delay: abc\nCrawl-delay: 3\n", "c", 3 },
  /* per group */
  { "User-agent: *\nCrawl-delay: 5\n\nUser-agent: c\nCrawl-delay: 10\n", "c",
    10 },
  { "User-agent: *\nCrawl-delay: 5\n\nUser-agent: c\nCrawl-delay: 10\n", "d",
    5 },
  { "User-agent: *\nCrawl-delay: 5\n\nUser-agent: c\nDisallow: /x\n", "c", -1 },
  { "User-agent: b\nCrawl-delay: 5\n", "c", -1 },
  { "Crawl-delay: 5\nUser-agent: *\nDisallow: /\n", "c", -1 },
  { "", "c", -1 },
  /* merged groups: the largest */
  { "User-agent: c\nCrawl-delay: 2\n\nUser-agent: c\nCrawl-delay: 8\n\n"
    "User-agent: c\nCrawl-delay: 4\n", "c", 8 },
  { "User-agent: c\nUser-agent: *\nCrawl-delay: 3\n", "d", 3 },
};

static void test_delay_table(void)
{
  size_t i;

  for(i = 0; i < sizeof(delay_cases) / sizeof(delay_cases[0]); i++) {
    const struct delay_case *c = &delay_cases[i];
    struct cr_robots *r = NULL;
    char name[120];
    char got[40];
    char want[40];
    int rc = cr_robots_parse(c->txt, strlen(c->txt), c->agent, &r);
    double d = rc == 0 ? cr_robots_crawl_delay(r) : -99;
    int ok;

    if(c->want < 0)
      ok = d < 0;
    else
      ok = d > c->want - 1e-9 && d < c->want + 1e-9;
    snprintf(name, sizeof(name), "crawl-delay case %zu", i);
    snprintf(got, sizeof(got), "%g", d);
    snprintf(want, sizeof(want), "%g", c->want);
    tap_check(rc == 0 && ok, name, c->txt, strlen(c->txt), got, want);
    cr_robots_free(&r);
  }
}

static double now_seconds(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses b's text for agent "c"; returns the parser's result. */
static int parse_buf(const struct cr_buf *b, struct cr_robots **r)
{
  return cr_robots_parse(b->data, b->len, "c", r);
}

/* A file past CR_ROBOTS_MAX: rules beyond the limit, and the line the
 * limit cuts, are ignored. */
static void test_big_file(void)
{
  struct cr_buf b;
  struct cr_robots *r = NULL;
  const char cut[] = "Disallow: /cutoff\n";
  int rc;

  cr_buf_init(&b, 2 * 1024 * 1024);
  rc = cr_buf_puts(&b, "User-agent: *\nDisallow: /a\n");
  /* Pad so that the limit falls after "Disallow: /c" in cut. */
  while(rc == 0 && b.len + 100 < CR_ROBOTS_MAX - 12)
    rc = cr_buf_puts(&b, "# padding padding padding padding padding padding "
                         "padding padding padding padding\n");
  while(rc == 0 && b.len < CR_ROBOTS_MAX - 12 - 1)
    rc = cr_buf_putc(&b, '#');
  if(rc == 0)
    rc = cr_buf_putc(&b, '\n');
  if(rc == 0)
    rc = cr_buf_puts(&b, cut);
  while(rc == 0 && b.len < 1024 * 1024)
    rc = cr_buf_puts(&b, "Disallow: /b\n");
  tap_check(rc == 0 && b.len >= 1024 * 1024 &&
              memcmp(b.data + CR_ROBOTS_MAX - 12, "Disallow: /c", 12) == 0,
            "1 MB file built, limit inside a rule", NULL, 0, NULL, NULL);
  rc = parse_buf(&b, &r);
  tap_check(rc == 0, "1 MB file parses", NULL, 0, NULL, NULL);
  tap_check(r && !cr_robots_allowed(r, "/a", 2), "1 MB: rule before the limit",
            NULL, 0, NULL, NULL);
  tap_check(r && cr_robots_allowed(r, "/b", 2), "1 MB: rules past the limit ignored",
            NULL, 0, NULL, NULL);
  tap_check(r && cr_robots_allowed(r, "/c", 2),
            "1 MB: the line cut by the limit is dropped", NULL, 0, NULL, NULL);
  cr_robots_free(&r);

  /* The same text cut exactly after a line end keeps that line. */
  rc = cr_robots_parse(b.data, CR_ROBOTS_MAX - 12, "c", &r);
  tap_check(rc == 0 && !cr_robots_allowed(r, "/a", 2),
            "file of exactly the parsed length", NULL, 0, NULL, NULL);
  cr_robots_free(&r);
  cr_buf_cleanup(&b);
}

/* 20,000 rules: the first 10,000 are kept. */
static void test_many_rules(void)
{
  struct cr_buf b;
  struct cr_robots *r = NULL;
  int rc;
  int i;
  int bad = 0;

  cr_buf_init(&b, CR_ROBOTS_MAX);
  rc = cr_buf_puts(&b, "User-agent: *\n");
  for(i = 0; i < 20000 && rc == 0; i++)
    rc = cr_buf_printf(&b, "Disallow: /r%05d$\n", i);
  tap_check(rc == 0, "20,000 rules built", NULL, 0, NULL, NULL);
  rc = parse_buf(&b, &r);
  tap_check(rc == 0, "20,000 rules parse", NULL, 0, NULL, NULL);
  for(i = 0; i < 20000 && r; i += 97) {
    char path[16];
    int n = snprintf(path, sizeof(path), "/r%05d", i);

    if(cr_robots_allowed(r, path, (size_t)n) != (i >= 10000))
      bad++;
  }
  tap_check(r && bad == 0, "rules past 10,000 dropped, earlier ones kept",
            NULL, 0, NULL, NULL);
  tap_check(r && !cr_robots_allowed(r, "/r09999", 7) &&
              cr_robots_allowed(r, "/r10000", 7),
            "the 10,000th rule is the last kept", NULL, 0, NULL, NULL);
  cr_robots_free(&r);
  cr_buf_cleanup(&b);
}

/* Long patterns are dropped, shorter ones kept. */
static void test_long_pattern(void)
{
  struct cr_buf b;
  struct cr_robots *r = NULL;
  int rc;
  size_t i;

  cr_buf_init(&b, 16384);
  rc = cr_buf_puts(&b, "User-agent: *\nDisallow: /");
  for(i = 0; i < 3000 && rc == 0; i++)
    rc = cr_buf_putc(&b, 'x');
  if(rc == 0)
    rc = cr_buf_puts(&b, "\nDisallow: /y\n");
  if(rc == 0)
    rc = parse_buf(&b, &r);
  tap_check(rc == 0 && cr_robots_allowed(r, b.data + 24, 3001) &&
              !cr_robots_allowed(r, "/y", 2),
            "a 3001-byte pattern is dropped", NULL, 0, NULL, NULL);
  cr_robots_free(&r);
  cr_buf_cleanup(&b);

  cr_buf_init(&b, 16384);
  rc = cr_buf_puts(&b, "User-agent: *\nDisallow: /");
  /* 2048 bytes as written, 6142 once the 2047 high bytes are escaped. */
  for(i = 0; i < 2047 && rc == 0; i++)
    rc = cr_buf_putc(&b, '\x80');
  if(rc == 0)
    rc = cr_buf_puts(&b, "\n");
  if(rc == 0)
    rc = parse_buf(&b, &r);
  tap_check(rc == 0 && !cr_robots_allowed(r, b.data + 24, 2048) &&
              cr_robots_allowed(r, "/y", 2),
            "a 2048-byte pattern of escaped bytes is kept", NULL, 0, NULL,
            NULL);
  cr_robots_free(&r);
  cr_buf_cleanup(&b);
}

/* Many '*'s against a long path: linear, not exponential. */
static void test_pathological(void)
{
  static const char txt[] =
    "User-agent: *\n"
    "Disallow: /*a*a*a*a*a*a*a*a*a*a*b\n"
    "Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b$\n"
    "Disallow: /**************************************************c\n"
    "Disallow: /*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n"
    "Allow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c$\n";
  struct cr_robots *r = NULL;
  size_t n = 100000;
  char *path = malloc(n + 1);
  double t0;
  double dt;
  int rc;
  int i;
  int ok = 1;

  if(!path) {
    tap_check(0, "pathological: malloc", NULL, 0, NULL, NULL);
    return;
  }
  path[0] = '/';
  memset(path + 1, 'a', n - 1);
  rc = cr_robots_parse(txt, sizeof(txt) - 1, "c", &r);
  t0 = now_seconds();
  for(i = 0; i < 100 && rc == 0; i++) {
    if(!cr_robots_allowed(r, path, n))
      ok = 0;
  }
  path[n - 1] = 'b';
  if(rc == 0 && cr_robots_allowed(r, path, n))
    ok = 0;
  path[n - 1] = 'c';
  if(rc == 0 && !cr_robots_allowed(r, path, n))
    ok = 0;
  path[n - 1] = 'd';
  path[n / 2] = 'c';
  if(rc == 0 && cr_robots_allowed(r, path, n))
    ok = 0;
  dt = now_seconds() - t0;
  tap_check(rc == 0 && ok, "pathological patterns give the right answers",
            NULL, 0, NULL, NULL);
  tap_note("100 matches of 5 rules against a 100 kB path: %.3f s", dt);
  tap_check(dt < 5, "pathological patterns are fast", NULL, 0, NULL, NULL);
  cr_robots_free(&r);
  free(path);
}

static void test_constructors(void)
{
  static const char nul[] = "User-agent: *\nDisallow: /a\0b\nDisallow: /c\n";
  struct cr_robots *r = NULL;
  int rc;

  rc = cr_robots_allow_all(&r);
  tap_check(rc == 0 && r && cr_robots_allowed(r, "/", 1) &&
              cr_robots_allowed(r, "/x?y", 4),
            "allow_all allows", NULL, 0, NULL, NULL);
  tap_check(r && cr_robots_crawl_delay(r) < 0, "allow_all has no delay", NULL,
            0, NULL, NULL);
  cr_robots_free(&r);
  tap_check(r == NULL, "free clears the pointer", NULL, 0, NULL, NULL);
  cr_robots_free(&r);
  cr_robots_free(NULL);

  rc = cr_robots_disallow_all(&r);
  tap_check(rc == 0 && r && !cr_robots_allowed(r, "/", 1) &&
              !cr_robots_allowed(r, "/x?y", 4) && !cr_robots_allowed(r, "", 0),
            "disallow_all disallows", NULL, 0, NULL, NULL);
  tap_check(r && cr_robots_allowed(r, "/robots.txt", 11),
            "disallow_all still allows /robots.txt", NULL, 0, NULL, NULL);
  tap_check(r && cr_robots_crawl_delay(r) < 0, "disallow_all has no delay",
            NULL, 0, NULL, NULL);
  cr_robots_free(&r);

  rc = cr_robots_parse(NULL, 0, "c", &r);
  tap_check(rc == 0 && r && cr_robots_allowed(r, "/x", 2),
            "NULL text allows all", NULL, 0, NULL, NULL);
  cr_robots_free(&r);

  /* The text is (ptr, len): bytes past len are never read. */
  rc = cr_robots_parse("User-agent: *\nDisallow: /xyz", 26, "c", &r);
  tap_check(rc == 0 && !cr_robots_allowed(r, "/x", 2) &&
              cr_robots_allowed(r, "/y", 2),
            "only len bytes are parsed", NULL, 0, NULL, NULL);
  cr_robots_free(&r);

  /* A NUL inside the text is an ordinary byte. */
  rc = cr_robots_parse(nul, sizeof(nul) - 1, "c", &r);
  tap_check(rc == 0 && !cr_robots_allowed(r, "/a%00b", 6) &&
              cr_robots_allowed(r, "/a", 2) && !cr_robots_allowed(r, "/c", 2),
            "NUL bytes do not end the text", NULL, 0, NULL, NULL);
  cr_robots_free(&r);
}

int main(void)
{
  test_allow_table();
  test_delay_table();
  test_big_file();
  test_many_rules();
  test_long_pattern();
  test_pathological();
  test_constructors();
  return tap_done();
}
