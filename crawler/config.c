/*
 * config.c - options from a file, read before the command line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest line taken; a longer one is an error, not a silent cut. */
#define LINE_MAX_LEN 8192

/* The rebuilt argv: kept reachable for the life of the process. */
static char **built;

static void free_built(void)
{
  char **v;

  for(v = built; v && *v; v++)
    free(*v);
  free(built);
}

struct args {
  char **v;
  int n;
  int cap;
};

static int args_push(struct args *a, char *s)
{
  char **nv;

  if(!s)
    return -1;
  if(a->n + 1 >= a->cap) {
    a->cap = a->cap ? a->cap * 2 : 32;
    nv = realloc(a->v, (size_t)a->cap * sizeof(*nv));
    if(!nv) {
      free(s);
      return -1;
    }
    a->v = nv;
  }
  a->v[a->n++] = s;
  a->v[a->n] = NULL;
  return 0;
}

static char *trim(char *s)
{
  char *end;

  while(*s == ' ' || *s == '\t')
    s++;
  end = s + strlen(s);
  while(end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                    end[-1] == '\r'))
    *--end = '\0';
  return s;
}

static const struct option *find(const struct option *opts, const char *name)
{
  for(; opts->name; opts++)
    if(!strcmp(opts->name, name))
      return opts;
  return NULL;
}

/* Flag values a user may write for "on"; "off" drops the line. */
static int flag_value(const char *v)
{
  if(!*v || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") ||
     !strcmp(v, "true"))
    return 1;
  if(!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false"))
    return 0;
  return -1;
}

static char *join_option(const char *name, const char *value)
{
  size_t n = strlen(name) + (value ? strlen(value) + 1 : 0) + 3;
  char *s = malloc(n);

  if(!s)
    return NULL;
  if(value)
    snprintf(s, n, "--%s=%s", name, value);
  else
    snprintf(s, n, "--%s", name);
  return s;
}

/* One line: 0 taken (or nothing to take), -1 error (printed). */
static int parse_line(const char *path, unsigned lineno, char *line,
                      const struct option *opts, struct args *a)
{
  const struct option *o;
  char *name = trim(line);
  char *value;
  size_t vlen;
  int on;

  if(!*name || *name == '#')
    return 0;
  if(name[0] == '-' && name[1] == '-')
    name += 2;
  value = name + strcspn(name, " \t=");
  if(*value) {
    *value++ = '\0';
    value = trim(value);
    if(*value == '=')
      value = trim(value + 1);
  }
  vlen = strlen(value);
  if(vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
    value[vlen - 1] = '\0';
    value++;
  }
  o = find(opts, name);
  if(!o || !strcmp(name, "help") || !strcmp(name, "version") ||
     !strcmp(name, "config") || !strcmp(name, "no-config")) {
    fprintf(stderr, "crawler: %s:%u: %s '%s'\n", path, lineno,
            o ? "not an option for a config file:" : "unknown option", name);
    return -1;
  }
  if(o->has_arg == no_argument) {
    on = flag_value(value);
    if(on < 0) {
      fprintf(stderr, "crawler: %s:%u: '%s' is a flag; write it alone (or = yes/no), "
              "not = '%s'\n", path, lineno, name, value);
      return -1;
    }
    return on ? args_push(a, join_option(name, NULL)) : 0;
  }
  if(!*value) {
    fprintf(stderr, "crawler: %s:%u: '%s' needs a value\n", path, lineno, name);
    return -1;
  }
  if(args_push(a, join_option(name, value))) {
    fprintf(stderr, "crawler: out of memory\n");
    return -1;
  }
  return 0;
}

static int read_file(const char *path, const struct option *opts, struct args *a)
{
  char line[LINE_MAX_LEN];
  unsigned lineno = 0;
  FILE *f;
  int rc = 0;

  /* Read once, before the loop exists: a blocking read is harmless here. */
  f = fopen(path, "r");
  if(!f) {
    fprintf(stderr, "crawler: cannot read config file %s: %s\n", path, strerror(errno));
    return -1;
  }
  while(!rc && fgets(line, sizeof(line), f)) {
    lineno++;
    if(!strchr(line, '\n') && !feof(f)) {
      fprintf(stderr, "crawler: %s:%u: line longer than %d bytes\n", path, lineno,
              LINE_MAX_LEN - 2);
      rc = -1;
      break;
    }
    rc = parse_line(path, lineno, line, opts, a);
  }
  if(!rc && ferror(f)) {
    fprintf(stderr, "crawler: cannot read config file %s: %s\n", path, strerror(errno));
    rc = -1;
  }
  fclose(f);
  return rc;
}

/* The default file, or NULL if there is none. */
static char *default_path(void)
{
  const char *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  char *p;
  size_t n;

  if(xdg && *xdg) {
    n = strlen(xdg) + sizeof("/crawler/config");
    p = malloc(n);
    if(p)
      snprintf(p, n, "%s/crawler/config", xdg);
  }
  else if(home && *home) {
    n = strlen(home) + sizeof("/.config/crawler/config");
    p = malloc(n);
    if(p)
      snprintf(p, n, "%s/.config/crawler/config", home);
  }
  else
    return NULL;
  if(p && access(p, F_OK)) {
    free(p);
    return NULL;
  }
  return p;
}

int cr_config_argv(int argc, char **argv, const struct option *opts, int *out_argc,
                   char ***out_argv)
{
  struct args a = {NULL, 0, 0};
  const char *path = NULL;
  char *found = NULL;
  int none = 0;
  int i;
  int rc = 0;

  for(i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    if(!strcmp(argv[i], "--no-config"))
      none = 1;
    else if(!strcmp(argv[i], "--config")) {
      if(i + 1 >= argc) {
        fprintf(stderr, "crawler: --config needs a FILE\n");
        return -1;
      }
      path = argv[++i];
    }
    else if(!strncmp(argv[i], "--config=", 9))
      path = argv[i] + 9;
  }
  if(args_push(&a, strdup(argv[0])))
    goto oom;
  if(path && !none)
    rc = read_file(path, opts, &a);
  else if(!none && (found = default_path()) != NULL)
    rc = read_file(found, opts, &a);
  free(found);
  if(rc)
    goto fail;
  for(i = 1; i < argc; i++)
    if(args_push(&a, strdup(argv[i])))
      goto oom;
  built = a.v;
  atexit(free_built);
  *out_argc = a.n;
  *out_argv = a.v;
  return 0;

oom:
  fprintf(stderr, "crawler: out of memory\n");
fail:
  for(i = 0; i < a.n; i++)
    free(a.v[i]);
  free(a.v);
  return -1;
}
