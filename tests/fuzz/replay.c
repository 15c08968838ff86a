/*
 * replay.c - runs a fuzz target on every file of the given directories (or
 * on the given files), without libFuzzer, so that any build - gcc, plain or
 * under ASan+UBSan - checks the seed corpus and the saved crashes.
 *
 * Files are run in name order, and each name is printed before its run, so
 * when a target aborts the last line says which input did it.  Names that
 * start with '.' (.gitkeep) are skipped.  A directory that cannot be read
 * is an error: a typo in a test's path must not pass as "nothing to do".
 * Exits 0 when every input ran, 1 when something could not be read; a
 * broken invariant aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads a whole file into a new buffer.  Returns 0, or -1 with errno. */
static int replay_read(const char *path, uint8_t **out, size_t *outlen)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0;
  size_t cap = 0;
  int rc = -1;

  *out = NULL;
  *outlen = 0;
  if(!f)
    return -1;
  for(;;) {
    size_t got;

    if(len == cap) {
      size_t ncap = cap ? 2 * cap : 4096;
      uint8_t *nb = realloc(buf, ncap);
      if(!nb)
        goto done;
      buf = nb;
      cap = ncap;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if(got == 0)
      break;
  }
  if(ferror(f))
    goto done;
  /* libFuzzer hands over an exact-size buffer, so ASan catches a read one
   * past the end; give the target the same. */
  *out = malloc(len ? len : 1);
  if(!*out)
    goto done;
  memcpy(*out, buf, len);
  *outlen = len;
  rc = 0;

done:
  free(buf);
  fclose(f);
  return rc;
}

static int replay_file(const char *path)
{
  uint8_t *data;
  size_t len;

  if(replay_read(path, &data, &len) != 0) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  printf("# %s (%zu bytes)\n", path, len);
  fflush(stdout);
  LLVMFuzzerTestOneInput(data, len);
  free(data);
  return 0;
}

static int replay_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of dir in name order.  Returns the number run, or -1. */
static long replay_dir(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  size_t cap = 0;
  size_t i;
  long ran = -1;

  if(!d) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  for(;;) {
    e = readdir(d);
    if(!e)
      break;
    if(e->d_name[0] == '.')
      continue;
    if(n == cap) {
      size_t ncap = cap ? 2 * cap : 64;
      char **nn = realloc(names, ncap * sizeof(*nn));
      if(!nn)
        goto done;
      names = nn;
      cap = ncap;
    }
    names[n] = strdup(e->d_name);
    if(!names[n])
      goto done;
    n++;
  }
  if(n > 1)
    qsort(names, n, sizeof(*names), replay_cmp);
  ran = 0;
  for(i = 0; i < n; i++) {
    size_t plen = strlen(dir) + strlen(names[i]) + 2;
    char *path = malloc(plen);
    struct stat st;

    if(!path) {
      ran = -1;
      break;
    }
    snprintf(path, plen, "%s/%s", dir, names[i]);
    if(stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      free(path);
      continue;
    }
    if(replay_file(path) != 0)
      ran = -1;
    else if(ran >= 0)
      ran++;
    free(path);
  }

done:
  for(i = 0; i < n; i++)
    free(names[i]);
  free(names);
  closedir(d);
  return ran;
}

int main(int argc, char **argv)
{
  int status = 0;
  int i;

  if(argc < 2) {
    fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  for(i = 1; i < argc; i++) {
    struct stat st;
    long ran;

    if(stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      status = 1;
      continue;
    }
    if(!S_ISDIR(st.st_mode)) {
      if(replay_file(argv[i]) != 0)
        status = 1;
      continue;
    }
    ran = replay_dir(argv[i]);
    if(ran < 0)
      status = 1;
    else
      printf("# %s: %ld inputs, all invariants held\n", argv[i], ran);
  }
  return status;
}
