/*
 * scope.c - link scope for recursive crawls; see scope.h.
 */
#include "scope.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler.h"
#include "url.h"

struct cr_scope {
  struct cr_scope_config cfg;
  char **hosts;           /* seed hosts, lower case, brackets kept */
  size_t nhosts;
  char **parents;         /* with no_parent: "host\0/dir/" pairs, see below */
  size_t nparents;
  char **domains;
  size_t ndomains;
  regex_t accept;
  regex_t reject;
  int has_accept;
  int has_reject;
};

static int push(char ***arr, size_t *n, const char *p, size_t len)
{
  char **na = realloc(*arr, (*n + 1) * sizeof(**arr));
  char *copy;

  if(!na)
    return CR_ENOMEM;
  *arr = na;
  copy = strndup(p, len);
  if(!copy)
    return CR_ENOMEM;
  na[(*n)++] = copy;
  return 0;
}

static int compile(regex_t *re, const char *src, const char *flag, char *err, size_t errlen)
{
  int rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB);

  if(rc) {
    char msg[256];

    regerror(rc, re, msg, sizeof(msg));
    if(errlen)
      snprintf(err, errlen, "%s '%s': %s", flag, src, msg);
    return CR_EINVAL;
  }
  return 0;
}

int cr_scope_new(const struct cr_scope_config *cfg, struct cr_scope **out,
                 char *err, size_t errlen)
{
  struct cr_scope *s = calloc(1, sizeof(*s));
  int rc = CR_ENOMEM;

  *out = NULL;
  if(!s)
    return CR_ENOMEM;
  s->cfg = *cfg;
  if(cfg->domains) {
    const char *p = cfg->domains;

    while(*p) {
      size_t n = strcspn(p, ",");
      size_t i;

      /* Trim spaces and a leading dot: ".example.org" means the same. */
      while(n && (*p == ' ' || *p == '.')) {
        p++;
        n--;
      }
      while(n && p[n - 1] == ' ')
        n--;
      if(n) {
        rc = push(&s->domains, &s->ndomains, p, n);
        if(rc)
          goto fail;
        for(i = 0; i < n; i++)
          s->domains[s->ndomains - 1][i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
      }
      p += strcspn(p, ",");
      if(*p == ',')
        p++;
    }
  }
  if(cfg->accept_re) {
    rc = compile(&s->accept, cfg->accept_re, "--accept-regex", err, errlen);
    if(rc)
      goto fail;
    s->has_accept = 1;
  }
  if(cfg->reject_re) {
    rc = compile(&s->reject, cfg->reject_re, "--reject-regex", err, errlen);
    if(rc)
      goto fail;
    s->has_reject = 1;
  }
  *out = s;
  return 0;

fail:
  cr_scope_free(&s);
  return rc;
}

static int has_entry(char **arr, size_t n, const char *str, size_t len)
{
  size_t i;

  for(i = 0; i < n; i++)
    if(strlen(arr[i]) == len && !memcmp(arr[i], str, len))
      return 1;
  return 0;
}

int cr_scope_add_seed(struct cr_scope *s, const char *url)
{
  struct cr_url_view v;
  int rc = cr_url_view(url, &v);

  if(rc)
    return rc;
  if(!has_entry(s->hosts, s->nhosts, v.host, v.host_len)) {
    rc = push(&s->hosts, &s->nhosts, v.host, v.host_len);
    if(rc)
      return rc;
  }
  if(s->cfg.no_parent) {
    /* Stored as "host/dir/": the host, then the path up to its last '/'. */
    const char *slash = v.path;
    size_t i;
    char *key;

    for(i = 0; i < v.path_len; i++)
      if(v.path[i] == '/')
        slash = v.path + i;
    key = malloc(v.host_len + (size_t)(slash - v.path) + 2);
    if(!key)
      return CR_ENOMEM;
    memcpy(key, v.host, v.host_len);
    memcpy(key + v.host_len, v.path, (size_t)(slash - v.path) + 1);
    key[v.host_len + (size_t)(slash - v.path) + 1] = '\0';
    /* Once each: a resumed crawl offers its seeds a second time. */
    if(!has_entry(s->parents, s->nparents, key, strlen(key)))
      rc = push(&s->parents, &s->nparents, key, strlen(key));
    free(key);
    if(rc)
      return rc;
  }
  return 0;
}

static int domain_ok(const struct cr_scope *s, const char *host, size_t len)
{
  size_t i;

  for(i = 0; i < s->ndomains; i++) {
    size_t dl = strlen(s->domains[i]);

    if(len == dl && !memcmp(host, s->domains[i], dl))
      return 1;
    if(len > dl && host[len - dl - 1] == '.' && !memcmp(host + len - dl, s->domains[i], dl))
      return 1;
  }
  return 0;
}

static int parent_ok(const struct cr_scope *s, const struct cr_url_view *v)
{
  size_t i;

  for(i = 0; i < s->nparents; i++) {
    const char *p = s->parents[i];
    size_t pl = strlen(p);

    if(pl < v->host_len || memcmp(p, v->host, v->host_len) || p[v->host_len] != '/')
      continue;
    if(v->path_len >= pl - v->host_len && !memcmp(v->path, p + v->host_len, pl - v->host_len))
      return 1;
  }
  return 0;
}

/* Counts segments and the most repeats of any one segment (bounded work:
 * the segment cap stops the quadratic comparison early). */
static const char *path_guard(const struct cr_scope *s, const struct cr_url_view *v)
{
  const char *seg[64];
  size_t seglen[64];
  unsigned n = 0;
  size_t i = 1;

  while(i <= v->path_len) {
    size_t j = i;
    unsigned k;
    unsigned same = 1;

    while(j < v->path_len && v->path[j] != '/')
      j++;
    if(s->cfg.max_segments && n + 1 > s->cfg.max_segments)
      return "path too deep";
    if(j > i && s->cfg.max_repeat) {
      for(k = 0; k < n && k < 64; k++)
        if(seglen[k] == j - i && !memcmp(seg[k], v->path + i, j - i))
          same++;
      if(same > s->cfg.max_repeat)
        return "repeated path segment";
    }
    if(n < 64) {
      seg[n] = v->path + i;
      seglen[n] = j - i;
    }
    n++;
    i = j + 1;
  }
  return NULL;
}

/* What every link must pass, page or requisite: parsable, within the
 * trap guards. */
static const char *scope_guards(const struct cr_scope *s, const char *url,
                                struct cr_url_view *v)
{
  if(cr_url_view(url, v))
    return "unparsable URL";
  if(s->cfg.max_url && strlen(url) > s->cfg.max_url)
    return "URL too long";
  return path_guard(s, v);
}

const char *cr_scope_check(const struct cr_scope *s, const char *url)
{
  struct cr_url_view v;
  const char *why = scope_guards(s, url, &v);

  if(why)
    return why;
  if(!s->cfg.span_hosts && !has_entry(s->hosts, s->nhosts, v.host, v.host_len))
    return "other host";
  if(s->ndomains && !domain_ok(s, v.host, v.host_len))
    return "not in --domains";
  if(s->cfg.no_parent && !parent_ok(s, &v))
    return "parent directory";
  if(s->has_accept && regexec(&s->accept, url, 0, NULL, 0))
    return "not matched by --accept-regex";
  if(s->has_reject && !regexec(&s->reject, url, 0, NULL, 0))
    return "rejected by --reject-regex";
  return NULL;
}

const char *cr_scope_check_requisite(const struct cr_scope *s, const char *url)
{
  struct cr_url_view v;
  const char *why = scope_guards(s, url, &v);

  if(why)
    return why;
  if(s->has_reject && !regexec(&s->reject, url, 0, NULL, 0))
    return "rejected by --reject-regex";
  return NULL;
}

static void free_list(char **arr, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    free(arr[i]);
  free(arr);
}

void cr_scope_free(struct cr_scope **ps)
{
  struct cr_scope *s;

  if(!ps || !*ps)
    return;
  s = *ps;
  free_list(s->hosts, s->nhosts);
  free_list(s->parents, s->nparents);
  free_list(s->domains, s->ndomains);
  if(s->has_accept)
    regfree(&s->accept);
  if(s->has_reject)
    regfree(&s->reject);
  free(s);
  *ps = NULL;
}
