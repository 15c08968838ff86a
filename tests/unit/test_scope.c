/*
 * test_scope.c - which links a recursive crawl follows (scope.c).
 */
#include <stdlib.h>
#include <string.h>

#include "crawler.h"
#include "scope.h"
#include "tap.h"

struct scope_case {
  const char *seeds;      /* seed URLs, separated by spaces */
  struct cr_scope_config cfg;
  const char *link;
  const char *want;       /* NULL: in scope; else the reason */
};

#define GUARDS 2048, 32, 3

static const struct scope_case cases[] = {
  /* default: the seeds' hosts, any port and scheme */
  { "http://a.org/x/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://a.org/y", NULL },
  { "http://a.org/x/", { 0, NULL, NULL, NULL, 0, GUARDS }, "https://a.org:8443/y", NULL },
  { "http://a.org/x/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://b.a.org/y", "other host" },
  { "http://a.org/x/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://b.org/y", "other host" },
  { "http://a.org/ http://b.org/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://b.org/z", NULL },
  { "http://[::1]:8080/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://[::1]/x", NULL },
  /* --span-hosts, --domains */
  { "http://a.org/", { 1, NULL, NULL, NULL, 0, GUARDS }, "http://c.net/", NULL },
  { "http://a.org/", { 1, "a.org, .b.net", NULL, NULL, 0, GUARDS }, "http://x.b.net/", NULL },
  { "http://a.org/", { 1, "a.org,b.net", NULL, NULL, 0, GUARDS }, "http://b.net/", NULL },
  { "http://a.org/", { 1, "a.org,b.net", NULL, NULL, 0, GUARDS }, "http://xb.net/", "not in --domains" },
  { "http://a.org/", { 1, "A.ORG", NULL, NULL, 0, GUARDS }, "http://www.a.org/", NULL },
  { "http://a.org/", { 0, "b.net", NULL, NULL, 0, GUARDS }, "http://b.net/", "other host" },
  /* --no-parent */
  { "http://a.org/docs/guide/index.html", { 0, NULL, NULL, NULL, 1, GUARDS },
    "http://a.org/docs/guide/ch1.html", NULL },
  { "http://a.org/docs/guide/index.html", { 0, NULL, NULL, NULL, 1, GUARDS },
    "http://a.org/docs/guide/sub/ch1.html", NULL },
  { "http://a.org/docs/guide/index.html", { 0, NULL, NULL, NULL, 1, GUARDS },
    "http://a.org/docs/other.html", "parent directory" },
  { "http://a.org/docs/guide/index.html", { 0, NULL, NULL, NULL, 1, GUARDS },
    "http://a.org/docs/guidex/a.html", "parent directory" },
  { "http://a.org/docs/guide/", { 0, NULL, NULL, NULL, 1, GUARDS },
    "http://a.org/docs/guide/", NULL },
  /* regexes */
  { "http://a.org/", { 0, NULL, "\\.html$", NULL, 0, GUARDS }, "http://a.org/x.html", NULL },
  { "http://a.org/", { 0, NULL, "\\.html$", NULL, 0, GUARDS }, "http://a.org/x.png",
    "not matched by --accept-regex" },
  { "http://a.org/", { 0, NULL, NULL, "[?&]sid=", 0, GUARDS }, "http://a.org/x?a=1&sid=9",
    "rejected by --reject-regex" },
  { "http://a.org/", { 0, NULL, NULL, "[?&]sid=", 0, GUARDS }, "http://a.org/x?a=1", NULL },
  /* trap guards */
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, 30, 32, 3 }, "http://a.org/0123456789012345678901",
    "URL too long" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, 2048, 4, 3 }, "http://a.org/a/b/c/d", NULL },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, 2048, 4, 3 }, "http://a.org/a/b/c/d/e",
    "path too deep" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://a.org/x/a/x/b/x/c", NULL },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://a.org/x/a/x/b/x/c/x/",
    "repeated path segment" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, 0, 0, 0 },
    "http://a.org/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x", NULL },
};

/* Page requisites: only the trap guards and --reject-regex apply. */
static const struct scope_case requisite_cases[] = {
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://cdn.b.net/x.png", NULL },
  { "http://a.org/", { 0, "a.org", NULL, NULL, 0, GUARDS }, "http://b.net/x.css", NULL },
  { "http://a.org/docs/", { 0, NULL, NULL, NULL, 1, GUARDS }, "http://a.org/static/x.css",
    NULL },
  { "http://a.org/", { 0, NULL, "\\.html$", NULL, 0, GUARDS }, "http://a.org/x.png", NULL },
  { "http://a.org/", { 0, NULL, NULL, "\\.woff2$", 0, GUARDS }, "http://b.net/f.woff2",
    "rejected by --reject-regex" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, 30, 32, 3 }, "http://b.net/0123456789012345678901",
    "URL too long" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, 2048, 4, 3 }, "http://b.net/a/b/c/d/e.png",
    "path too deep" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, GUARDS }, "http://b.net/x/a/x/b/x/c/x/i.png",
    "repeated path segment" },
  { "http://a.org/", { 0, NULL, NULL, NULL, 0, GUARDS }, "mailto:x@a.org", "unparsable URL" },
};

static void check(const struct scope_case *c, int requisite)
{
  struct cr_scope *s = NULL;
  char err[256] = "";
  char *seeds = strdup(c->seeds);
  char *p = seeds;
  const char *got = "setup failed";
  int rc = cr_scope_new(&c->cfg, &s, err, sizeof(err));

  while(!rc && p && *p) {
    char *sp = strchr(p, ' ');

    if(sp)
      *sp = '\0';
    rc = cr_scope_add_seed(s, p);
    p = sp ? sp + 1 : NULL;
  }
  if(!rc)
    got = requisite ? cr_scope_check_requisite(s, c->link) : cr_scope_check(s, c->link);
  tap_check(!rc && (c->want ? got && !strcmp(got, c->want) : !got), c->seeds,
            c->link, strlen(c->link), got ? got : "in scope", c->want ? c->want : "in scope");
  cr_scope_free(&s);
  free(seeds);
}

int main(void)
{
  size_t i;
  struct cr_scope *s = NULL;
  struct cr_scope_config bad = { 0, NULL, "a(", NULL, 0, GUARDS };
  char err[256] = "";

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check(&cases[i], 0);
  for(i = 0; i < sizeof(requisite_cases) / sizeof(requisite_cases[0]); i++)
    check(&requisite_cases[i], 1);
  tap_check(cr_scope_new(&bad, &s, err, sizeof(err)) == CR_EINVAL && !s &&
            strstr(err, "--accept-regex"), "a bad regex is refused with its flag",
            "a(", 2, err, "--accept-regex 'a(': ...");
  return tap_done();
}
