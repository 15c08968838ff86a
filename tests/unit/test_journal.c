/* test_journal.c - the crawl state's journal over real files: records come
 * back in order with their sync flags; a torn tail, a corrupt record and an
 * oversized one are dropped and never hide what is appended later.  Writes
 * and the sync point go through the aio ring (or the synchronous backend,
 * with CRAWLER_NO_URING=1). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "crawler.h"
#include "journal.h"
#include "loop.h"
#include "tap.h"

static struct cr_aio *A;

struct seen {
  int n;
  char types[16];
  char payloads[16][64];
  int synced[16];
};

static int collect(void *arg, int type, const char *p, size_t len, int synced)
{
  struct seen *s = arg;

  if(s->n < 16) {
    s->types[s->n] = (char)type;
    snprintf(s->payloads[s->n], sizeof(s->payloads[0]), "%.*s", (int)len, p);
    s->synced[s->n] = synced;
  }
  s->n++;
  return 0;
}

static int put(struct cr_journal *j, int type, const char *text)
{
  int rc = cr_journal_begin(j, type);

  if(!rc)
    rc = cr_journal_put(j, text, strlen(text));
  if(!rc)
    rc = cr_journal_end(j);
  return rc;
}

static int replay(const char *dir, struct seen *s, uint64_t *dropped)
{
  struct cr_journal *j = NULL;
  int rc = cr_journal_open(dir, 0, A, &j);

  memset(s, 0, sizeof(*s));
  if(!rc)
    rc = cr_journal_replay(j, collect, s, dropped);
  cr_journal_free(&j);
  return rc;
}

static void append_raw(const char *path, const void *p, size_t n)
{
  int fd = open(path, O_WRONLY | O_APPEND);

  if(fd >= 0) {
    if(write(fd, p, n) != (ssize_t)n)
      perror("write");
    close(fd);
  }
}

static long file_size(const char *path)
{
  struct stat sb;

  return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

int main(void)
{
  char dir[] = "/tmp/crawler-test-journal-XXXXXX";
  char path[128];
  struct cr_journal *j = NULL;
  struct cr_loop *loop = NULL;
  struct seen s;
  uint64_t dropped = 99;
  long size;
  int rc;

  if(cr_loop_new(&loop) || cr_aio_new(loop, 0, 1, &A)) {
    fprintf(stderr, "cannot set up the loop and the ring\n");
    return 1;
  }

  if(!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof(path), "%s/.crawler/journal", dir);
  tap_check(!cr_journal_exists(dir), "no journal yet", NULL, 0, NULL, NULL);

  /* Records, a sync point, one more record. */
  rc = cr_journal_open(dir, 1, A, &j);
  tap_check(rc == 0, "open fresh", NULL, 0, cr_strerror(rc), "success");
  tap_check(put(j, CR_J_CONFIG, "config") == 0, "put config", NULL, 0, NULL, NULL);
  tap_check(put(j, CR_J_ADD, "one") == 0, "put one", NULL, 0, NULL, NULL);
  tap_check(cr_journal_sync(j) == 0, "sync", NULL, 0, NULL, NULL);
  /* The write, the fsync and the SYNC record it earns complete here. */
  tap_check(cr_aio_drain(A, 5000) == 0, "drain", NULL, 0, NULL, NULL);
  tap_check(put(j, CR_J_DONE, "two") == 0, "put two", NULL, 0, NULL, NULL);
  /* A record too large for the journal is refused whole. */
  {
    size_t big = CR_JOURNAL_REC_MAX + 1;
    char *b = calloc(1, big);

    rc = cr_journal_begin(j, CR_J_ADD);
    if(!rc && b)
      rc = cr_journal_put(j, b, big);
    free(b);
    tap_check(rc == CR_EFULL, "oversized record refused", NULL, 0, cr_strerror(rc),
              "buffer full");
  }
  tap_check(cr_journal_flush(j) == 0, "flush", NULL, 0, NULL, NULL);
  cr_aio_drain(A, 5000);
  tap_check(!cr_journal_busy(j), "nothing left in flight", NULL, 0, NULL, NULL);
  cr_journal_free(&j);
  tap_check(cr_journal_exists(dir), "journal exists", NULL, 0, NULL, NULL);

  rc = replay(dir, &s, &dropped);
  tap_check(rc == 0 && s.n == 3, "three records back", NULL, 0, NULL, NULL);
  tap_check(!strcmp(s.payloads[0], "config") && s.types[0] == CR_J_CONFIG &&
            !strcmp(s.payloads[1], "one") && s.types[1] == CR_J_ADD &&
            !strcmp(s.payloads[2], "two") && s.types[2] == CR_J_DONE,
            "in order, with their types", NULL, 0, s.payloads[2], "two");
  tap_check(s.synced[0] && s.synced[1] && !s.synced[2],
            "records before the sync point are synced, after it not", NULL, 0, NULL, NULL);
  tap_check(dropped == 0, "nothing dropped", NULL, 0, NULL, NULL);

  /* A torn header at the end: cut off, and what comes next is readable. */
  size = file_size(path);
  append_raw(path, "\x40\x00\x00", 3);
  rc = replay(dir, &s, &dropped);
  tap_check(rc == 0 && s.n == 3 && dropped == 3, "torn header dropped", NULL, 0, NULL, NULL);
  tap_check(file_size(path) == size, "file cut back to the last whole record", NULL, 0,
            NULL, NULL);
  rc = cr_journal_open(dir, 0, A, &j);
  if(!rc)
    rc = cr_journal_replay(j, collect, &s, &dropped);
  if(!rc)
    rc = put(j, CR_J_ADD, "three");
  cr_journal_free(&j);
  rc = replay(dir, &s, &dropped);
  tap_check(rc == 0 && s.n == 4 && !strcmp(s.payloads[3], "three"),
            "a record appended after the cut is read", NULL, 0, s.payloads[3], "three");

  /* A torn payload: a whole header whose bytes did not all arrive. */
  size = file_size(path);
  append_raw(path, "\x10\x00\x00\x00\x01\x02\x03\x04" "Ashort", 14);
  rc = replay(dir, &s, &dropped);
  tap_check(rc == 0 && s.n == 4 && dropped == 14 && file_size(path) == size,
            "torn payload dropped", NULL, 0, NULL, NULL);

  /* A flipped byte inside "one": it and everything after go. */
  {
    int fd = open(path, O_RDWR);
    char buf[256];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf), 0) : -1;
    char *at = n > 0 ? memmem(buf, (size_t)n, "one", 3) : NULL;

    if(at) {
      at[1] = 'X';
      if(pwrite(fd, buf, (size_t)n, 0) != n)
        perror("pwrite");
    }
    if(fd >= 0)
      close(fd);
    rc = replay(dir, &s, &dropped);
    tap_check(at && rc == 0 && s.n == 1 && !strcmp(s.payloads[0], "config") && dropped > 0,
              "a corrupt record ends the replay", NULL, 0, NULL, NULL);
  }

  /* A fresh open empties the journal. */
  {
    struct cr_journal *k = NULL;

    rc = cr_journal_open(dir, 1, A, &k);
    if(!rc)
      rc = put(k, CR_J_CONFIG, "x");
    cr_journal_free(&k);
    tap_check(rc == 0 && file_size(path) > 0, "fresh open empties, then writes", NULL, 0,
              NULL, NULL);
  }

  /* Removal takes the directory along. */
  rc = cr_journal_open(dir, 0, A, &j);
  tap_check(rc == 0, "reopen", NULL, 0, NULL, NULL);
  cr_journal_remove(&j);
  tap_check(!j && !cr_journal_exists(dir), "removed", NULL, 0, NULL, NULL);
  snprintf(path, sizeof(path), "%s/.crawler", dir);
  tap_check(access(path, F_OK) != 0, "state directory removed", NULL, 0, NULL, NULL);
  rmdir(dir);
  cr_aio_free(&A);
  cr_loop_free(&loop);
  return tap_done();
}
