/*
 * filter.c - -A/-R file-name lists and Content-Type lists; see filter.h.
 */
#include "filter.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler.h"
#include "url.h"

/* One -A/-R entry. */
struct name_entry {
  char *text;
  size_t len;
  int glob;
};

/* One type entry: "type/subtype", or "type/" for a '*' subtype. */
struct type_entry {
  char *text;    /* lower case */
  size_t len;
  int wild;
};

struct name_list {
  struct name_entry *v;
  size_t n;
};

struct type_list {
  struct type_entry *v;
  size_t n;
};

struct cr_filter {
  struct name_list accept;
  struct name_list reject;
  struct type_list accept_type;
  struct type_list reject_type;
  int has_accept;
  int has_reject;
  int has_accept_type;
  int has_reject_type;
  int ignore_case;
};

static int is_space(char c)
{
  return c == ' ' || c == '\t';
}

static char lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* RFC 9110 token characters, what a media type and subtype are made of,
 * except '*' (see add_type). */
static int is_tchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'+-.^_`|~", c));
}

/* Calls one(arg, entry, len) for each comma-separated entry of list,
 * spaces around it trimmed.  An empty entry is an error: "pdf,,jpg" or a
 * trailing comma is more likely a typo than a wish. */
static int each_entry(const char *list, const char *flag, char *err, size_t errlen,
                      int (*one)(void *, const char *, size_t, char *, size_t), void *arg)
{
  const char *p = list;

  for(;;) {
    size_t n = strcspn(p, ",");
    const char *s = p;
    size_t k = n;
    int rc;

    while(k && is_space(*s)) {
      s++;
      k--;
    }
    while(k && is_space(s[k - 1]))
      k--;
    if(!k) {
      if(errlen)
        snprintf(err, errlen, "invalid value '%s' for %s: an empty entry", list, flag);
      return CR_EINVAL;
    }
    rc = one(arg, s, k, err, errlen);
    if(rc)
      return rc;
    if(!p[n])
      return 0;
    p += n + 1;
  }
}

struct name_ctx {
  struct name_list *l;
  const char *flag;
};

static int add_name(void *arg, const char *s, size_t n, char *err, size_t errlen)
{
  struct name_ctx *c = arg;
  struct name_entry *nv;
  char *copy;

  if(memchr(s, '/', n)) {
    if(errlen)
      snprintf(err, errlen, "invalid entry '%.*s' for %s: a file name holds no '/' "
               "(--accept-regex and --reject-regex judge whole URLs)", (int)n, s, c->flag);
    return CR_EINVAL;
  }
  nv = realloc(c->l->v, (c->l->n + 1) * sizeof(*nv));
  if(!nv)
    return CR_ENOMEM;
  c->l->v = nv;
  copy = strndup(s, n);
  if(!copy)
    return CR_ENOMEM;
  nv[c->l->n].text = copy;
  nv[c->l->n].len = n;
  nv[c->l->n].glob = strpbrk(copy, "*?[]") != NULL;
  c->l->n++;
  return 0;
}

struct type_ctx {
  struct type_list *l;
  const char *flag;
};

static int add_type(void *arg, const char *s, size_t n, char *err, size_t errlen)
{
  struct type_ctx *c = arg;
  struct type_entry *tv;
  const char *slash = memchr(s, '/', n);
  size_t tl = slash ? (size_t)(slash - s) : 0;
  size_t sl = slash ? n - tl - 1 : 0;
  int wild = sl == 1 && slash[1] == '*';
  size_t i;
  char *copy;

  for(i = 0; slash && i < n; i++)
    if(i != tl && !(wild && i == n - 1) && !is_tchar(s[i]))
      break;
  /* '*' is a token character, but only a whole subtype may be one. */
  if(!slash || !tl || !sl || i < n) {
    if(errlen)
      snprintf(err, errlen, "invalid entry '%.*s' for %s: expected TYPE/SUBTYPE or "
               "TYPE/* (such as text/html or image/*), without parameters", (int)n, s,
               c->flag);
    return CR_EINVAL;
  }
  tv = realloc(c->l->v, (c->l->n + 1) * sizeof(*tv));
  if(!tv)
    return CR_ENOMEM;
  c->l->v = tv;
  /* A '*' subtype is dropped: "image/" is matched as a prefix. */
  copy = strndup(s, wild ? n - 1 : n);
  if(!copy)
    return CR_ENOMEM;
  for(i = 0; copy[i]; i++)
    copy[i] = lower(copy[i]);
  tv[c->l->n].text = copy;
  tv[c->l->n].len = wild ? n - 1 : n;
  tv[c->l->n].wild = wild;
  c->l->n++;
  return 0;
}

int cr_filter_new(const struct cr_filter_config *cfg, struct cr_filter **out,
                  char *err, size_t errlen)
{
  struct cr_filter *f = calloc(1, sizeof(*f));
  struct name_ctx nc;
  struct type_ctx tc;
  int rc = 0;

  *out = NULL;
  if(errlen)
    err[0] = '\0';
  if(!f)
    return CR_ENOMEM;
  f->ignore_case = cfg->ignore_case;
  if(cfg->accept) {
    nc.l = &f->accept;
    nc.flag = "--accept";
    f->has_accept = 1;
    rc = each_entry(cfg->accept, nc.flag, err, errlen, add_name, &nc);
  }
  if(!rc && cfg->reject) {
    nc.l = &f->reject;
    nc.flag = "--reject";
    f->has_reject = 1;
    rc = each_entry(cfg->reject, nc.flag, err, errlen, add_name, &nc);
  }
  if(!rc && cfg->accept_type) {
    tc.l = &f->accept_type;
    tc.flag = "--accept-type";
    f->has_accept_type = 1;
    rc = each_entry(cfg->accept_type, tc.flag, err, errlen, add_type, &tc);
  }
  if(!rc && cfg->reject_type) {
    tc.l = &f->reject_type;
    tc.flag = "--reject-type";
    f->has_reject_type = 1;
    rc = each_entry(cfg->reject_type, tc.flag, err, errlen, add_type, &tc);
  }
  if(rc) {
    cr_filter_free(&f);
    return rc;
  }
  *out = f;
  return 0;
}

int cr_filter_has_names(const struct cr_filter *f)
{
  return f && (f->has_accept || f->has_reject);
}

static int hexval(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Appends s[0..n), percent-decoded, to out at *len (room is checked by
 * the caller: decoding never grows). */
static void decode(const char *s, size_t n, char *out, size_t *len)
{
  size_t i;

  for(i = 0; i < n; i++) {
    if(s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out[(*len)++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    }
    else
      out[(*len)++] = s[i];
  }
}

/* The last path segment of a view: empty when the path ends in '/'. */
static void last_segment(const struct cr_url_view *v, const char **seg, size_t *n)
{
  size_t i = v->path_len;

  while(i && v->path[i - 1] != '/')
    i--;
  *seg = v->path + i;
  *n = v->path_len - i;
}

static int ends_with(const char *s, size_t n, const char *suf, size_t sn, int fold)
{
  if(sn > n)
    return 0;
  return fold ? !strncasecmp(s + n - sn, suf, sn) : !memcmp(s + n - sn, suf, sn);
}

/* Whether an entry of l matches name (a NUL-terminated string that may
 * hold NUL bytes decoded from %00: only the first n bytes count, and a
 * glob simply sees less). */
static int in_list(const struct name_list *l, const char *name, size_t n, int fold)
{
  size_t i;

  for(i = 0; i < l->n; i++) {
    const struct name_entry *en = &l->v[i];

    if(en->glob ? !fnmatch(en->text, name, fold ? FNM_CASEFOLD : 0)
                : ends_with(name, n, en->text, en->len, fold))
      return 1;
  }
  return 0;
}

const char *cr_filter_name(const struct cr_filter *f, const char *url)
{
  struct cr_url_view v;
  const char *seg;
  size_t sn;
  size_t base;
  size_t full;
  char *name;
  const char *why = NULL;
  int acc;
  int rej;

  if(!cr_filter_has_names(f))
    return NULL;
  if(cr_url_view(url, &v))
    return f->has_accept ? "not matched by --accept" : NULL;
  last_segment(&v, &seg, &sn);
  /* Decoding never grows a string; "index.html" may replace an empty
   * segment. */
  name = malloc(sn + v.query_len + 16);
  if(!name)
    return f->has_accept ? "not matched by --accept" : NULL;
  base = 0;
  if(sn)
    decode(seg, sn, name, &base);
  else {
    memcpy(name, "index.html", 10);
    base = 10;
  }
  full = base;
  name[base] = '\0';
  acc = !f->has_accept || in_list(&f->accept, name, base, f->ignore_case);
  rej = f->has_reject && in_list(&f->reject, name, base, f->ignore_case);
  if(v.query && (!acc || !rej)) {
    name[full++] = '?';
    decode(v.query, v.query_len, name, &full);
    name[full] = '\0';
    if(!acc)
      acc = in_list(&f->accept, name, full, f->ignore_case);
    if(!rej)
      rej = f->has_reject && in_list(&f->reject, name, full, f->ignore_case);
  }
  if(!acc)
    why = "not matched by --accept";
  else if(rej)
    why = "rejected by --reject";
  free(name);
  return why;
}

static int type_in(const struct type_list *l, const char *t, size_t n)
{
  size_t i;

  for(i = 0; i < l->n; i++) {
    const struct type_entry *en = &l->v[i];

    if(en->wild ? n > en->len && !strncasecmp(t, en->text, en->len)
                : n == en->len && !strncasecmp(t, en->text, n))
      return 1;
  }
  return 0;
}

const char *cr_filter_type(const struct cr_filter *f, const char *ctype)
{
  const char *t = ctype ? ctype : "";
  size_t n;

  if(!f || (!f->has_accept_type && !f->has_reject_type))
    return NULL;
  while(is_space(*t))
    t++;
  n = strcspn(t, "; \t");
  if(f->has_accept_type && !type_in(&f->accept_type, t, n))
    return "type not matched by --accept-type";
  if(f->has_reject_type && type_in(&f->reject_type, t, n))
    return "type rejected by --reject-type";
  return NULL;
}

int cr_filter_may_hold_links(const char *url)
{
  static const char *const pages[] = {
    "html", "htm", "xhtml", "shtml", "phtml", "php", "php3", "php4", "php5",
    "asp", "aspx", "jsp", "jspx", "cfm", "cgi", "pl", "css",
  };
  struct cr_url_view v;
  const char *seg;
  const char *dot;
  size_t sn;
  size_t i;

  if(cr_url_view(url, &v))
    return 0;
  last_segment(&v, &seg, &sn);
  if(!sn)
    return 1;
  dot = NULL;
  for(i = 0; i < sn; i++)
    if(seg[i] == '.')
      dot = seg + i;
  if(!dot)
    return 1;
  dot++;
  for(i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
    if(strlen(pages[i]) == (size_t)(seg + sn - dot) &&
       !strncasecmp(dot, pages[i], (size_t)(seg + sn - dot)))
      return 1;
  return 0;
}

static void free_names(struct name_list *l)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    free(l->v[i].text);
  free(l->v);
}

static void free_types(struct type_list *l)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    free(l->v[i].text);
  free(l->v);
}

void cr_filter_free(struct cr_filter **pf)
{
  struct cr_filter *f;

  if(!pf || !*pf)
    return;
  f = *pf;
  free_names(&f->accept);
  free_names(&f->reject);
  free_types(&f->accept_type);
  free_types(&f->reject_type);
  free(f);
  *pf = NULL;
}
