/*
 * test_filter.c - -A/-R file-name lists and Content-Type lists (filter.c).
 */
#include <stdlib.h>
#include <string.h>

#include "crawler.h"
#include "filter.h"
#include "tap.h"

#define ACC "not matched by --accept"
#define REJ "rejected by --reject"
#define TACC "type not matched by --accept-type"
#define TREJ "type rejected by --reject-type"

struct name_case {
  const char *accept;
  const char *reject;
  int fold;
  const char *url;
  const char *want;       /* NULL: passes */
};

static const struct name_case names[] = {
  /* suffixes, as wget: no dot needed, case matters */
  { "pdf", NULL, 0, "http://a.org/doc/x.pdf", NULL },
  { "pdf", NULL, 0, "http://a.org/doc/xpdf", NULL },
  { ".pdf", NULL, 0, "http://a.org/doc/xpdf", ACC },
  { "pdf", NULL, 0, "http://a.org/doc/x.PDF", ACC },
  { "pdf", NULL, 1, "http://a.org/doc/x.PDF", NULL },
  { "pdf,jpg", NULL, 0, "http://a.org/p.jpg", NULL },
  { "pdf, jpg", NULL, 0, "http://a.org/p.jpg", NULL },
  { "pdf,jpg", NULL, 0, "http://a.org/p.png", ACC },
  /* the directory's page is index.html; the last segment only */
  { "pdf", NULL, 0, "http://a.org/pdf/", ACC },
  { "html", NULL, 0, "http://a.org/pdf/", NULL },
  { NULL, "index.html", 0, "http://a.org/", REJ },
  { NULL, "pdf", 0, "http://a.org/pdf/x.txt", NULL },
  /* globs match the whole name */
  { NULL, "*.tmp", 0, "http://a.org/a.tmp", REJ },
  { NULL, "*.tmp", 0, "http://a.org/a.tmpx", NULL },
  { NULL, "gif,*.tmp", 0, "http://a.org/a.gif", REJ },
  { "img-??.png", NULL, 0, "http://a.org/img-01.png", NULL },
  { "img-??.png", NULL, 0, "http://a.org/img-001.png", ACC },
  { "[ab]*.txt", NULL, 0, "http://a.org/b1.txt", NULL },
  { "[ab]*.txt", NULL, 0, "http://a.org/c1.txt", ACC },
  { "A*", NULL, 1, "http://a.org/abc", NULL },
  /* the query: the name alone or with it */
  { "pdf", NULL, 0, "http://a.org/x.pdf?v=2", NULL },
  { "pdf", NULL, 0, "http://a.org/get?f=a.pdf", NULL },
  { NULL, "index.html?*", 0, "http://a.org/d/index.html?C=N;O=D", REJ },
  { NULL, "index.html?*", 0, "http://a.org/d/index.html", NULL },
  { NULL, "index.html?*", 0, "http://a.org/d/?C=N;O=D", REJ },
  /* percent-decoded */
  { "my file.pdf", NULL, 0, "http://a.org/my%20file.pdf", NULL },
  { "*é*", NULL, 0, "http://a.org/caf%C3%A9.txt", NULL },
  /* both lists */
  { "jpg", "thumb*", 0, "http://a.org/big.jpg", NULL },
  { "jpg", "thumb*", 0, "http://a.org/thumb1.jpg", REJ },
  { "jpg", "thumb*", 0, "http://a.org/thumb1.png", ACC },
  /* nothing given */
  { NULL, NULL, 0, "http://a.org/x", NULL },
};

struct type_case {
  const char *accept;
  const char *reject;
  const char *ctype;
  const char *want;
};

static const struct type_case types[] = {
  { "text/html", NULL, "text/html", NULL },
  { "text/html", NULL, "text/html; charset=utf-8", NULL },
  { "text/html", NULL, "  Text/HTML ;charset=x", NULL },
  { "text/html", NULL, "text/htmlx", TACC },
  { "text/html", NULL, "text/plain", TACC },
  { "text/html", NULL, NULL, TACC },
  { "text/html", NULL, "", TACC },
  { "text/html,image/*", NULL, "image/png", NULL },
  { "TEXT/HTML, Image/*", NULL, "image/svg+xml", NULL },
  { "image/*", NULL, "image", TACC },
  { "image/*", NULL, "image/", TACC },
  { "image/*", NULL, "imagex/png", TACC },
  { NULL, "image/*", "image/gif", TREJ },
  { NULL, "image/*", "text/css", NULL },
  { NULL, "image/*", NULL, NULL },
  { "image/*", "image/gif", "image/gif", TREJ },
  { "image/*", "image/gif", "image/jpeg", NULL },
  { "application/vnd.ms-excel", NULL, "application/vnd.ms-excel", NULL },
};

struct bad_case {
  const char *accept;
  const char *reject;
  const char *accept_type;
  const char *reject_type;
  const char *want;       /* in the message */
};

static const struct bad_case bad[] = {
  { "", NULL, NULL, NULL, "--accept" },
  { "pdf,,jpg", NULL, NULL, NULL, "empty entry" },
  { "pdf,", NULL, NULL, NULL, "empty entry" },
  { NULL, " , ", NULL, NULL, "--reject" },
  { NULL, "a/b.pdf", NULL, NULL, "no '/'" },
  { NULL, NULL, "text", NULL, "TYPE/SUBTYPE" },
  { NULL, NULL, "text/", NULL, "'text/'" },
  { NULL, NULL, "/html", NULL, "'/html'" },
  { NULL, NULL, "*/*", NULL, "--accept-type" },
  { NULL, NULL, "text/html; charset=utf-8", NULL, "parameters" },
  { NULL, NULL, NULL, "text/h tml", "--reject-type" },
  { NULL, NULL, NULL, "image/*x", "--reject-type" },
  { NULL, NULL, NULL, "text/html,", "empty entry" },
};

struct link_case {
  const char *url;
  int want;
};

static const struct link_case links[] = {
  { "http://a.org/", 1 },
  { "http://a.org/docs/", 1 },
  { "http://a.org/docs/intro", 1 },
  { "http://a.org/a.html", 1 },
  { "http://a.org/a.HTM", 1 },
  { "http://a.org/list.php?page=2", 1 },
  { "http://a.org/x.aspx", 1 },
  { "http://a.org/s.css", 1 },
  { "http://a.org/a.pdf", 0 },
  { "http://a.org/a.tar.gz", 0 },
  { "http://a.org/v1.2/", 1 },
  { "http://a.org/v1.2/img.png?x=a.html", 0 },
};

int main(void)
{
  size_t i;
  char name[512];
  char err[512];

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    const struct name_case *c = &names[i];
    struct cr_filter_config cfg = { c->accept, c->reject, NULL, NULL, c->fold };
    struct cr_filter *f = NULL;
    const char *got;

    snprintf(name, sizeof(name), "name: -A %s -R %s%s %s", c->accept ? c->accept : "-",
             c->reject ? c->reject : "-", c->fold ? " --ignore-case" : "", c->url);
    if(cr_filter_new(&cfg, &f, err, sizeof(err))) {
      tap_check(0, name, NULL, 0, err, "a filter");
      continue;
    }
    got = cr_filter_name(f, c->url);
    tap_check(tap_streq(got, c->want), name, c->url, strlen(c->url), got, c->want);
    tap_check(!cr_filter_type(f, "anything/at-all"), "no type list: any type", NULL, 0,
              NULL, NULL);
    cr_filter_free(&f);
    tap_check(f == NULL, "free clears", NULL, 0, NULL, NULL);
  }
  for(i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    const struct type_case *c = &types[i];
    struct cr_filter_config cfg = { NULL, NULL, c->accept, c->reject, 0 };
    struct cr_filter *f = NULL;
    const char *got;

    snprintf(name, sizeof(name), "type: --accept-type %s --reject-type %s: %s",
             c->accept ? c->accept : "-", c->reject ? c->reject : "-",
             c->ctype ? c->ctype : "(none)");
    if(cr_filter_new(&cfg, &f, err, sizeof(err))) {
      tap_check(0, name, NULL, 0, err, "a filter");
      continue;
    }
    got = cr_filter_type(f, c->ctype);
    tap_check(tap_streq(got, c->want), name, NULL, 0, got, c->want);
    tap_check(!cr_filter_name(f, "http://a.org/x.bin") && !cr_filter_has_names(f),
              "no name list: any name", NULL, 0, NULL, NULL);
    cr_filter_free(&f);
  }
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const struct bad_case *c = &bad[i];
    struct cr_filter_config cfg = { c->accept, c->reject, c->accept_type, c->reject_type, 0 };
    struct cr_filter *f = NULL;
    int rc;

    snprintf(name, sizeof(name), "refused: %s", c->accept ? c->accept : c->reject ? c->reject
             : c->accept_type ? c->accept_type : c->reject_type);
    err[0] = '\0';
    rc = cr_filter_new(&cfg, &f, err, sizeof(err));
    tap_check(rc == CR_EINVAL && !f && strstr(err, c->want), name, NULL, 0, err, c->want);
  }
  for(i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
    int got = cr_filter_may_hold_links(links[i].url);

    snprintf(name, sizeof(name), "may hold links: %s", links[i].url);
    tap_check(got == links[i].want, name, NULL, 0, got ? "yes" : "no",
              links[i].want ? "yes" : "no");
  }
  return tap_done();
}
