/*
 * rawclient - the "ideal" HTTP client the benchmark driver compares the
 * crawler against: the least work that can fetch a list of URLs at once.
 *
 * One thread, one epoll loop, one nonblocking connection per URL, one
 * `GET ... Connection: close` per connection, no libcurl, no DNS, no files:
 * each response is parsed just enough to know its status and where its body
 * ends (Content-Length, or the server's close), and the body bytes are
 * counted and dropped.  At most -c connections are open at a time.
 *
 *   rawclient [-c N] [-t SEC] URLFILE        lines http://IPV4:PORT/PATH
 *   rawclient [-c N] [-t SEC] -a IPV4 -p PORT PATHFILE   lines /PATH
 *
 * Prints one line, `ok=N failed=N bytes=N seconds=S`, and exits 0 only when
 * every URL got a 200 with a complete body.  It is a benchmark tool: running
 * out of memory aborts, and a URL it cannot parse is a start-up error.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 4096

struct target {
  struct sockaddr_in addr;
  char *request; /* the whole GET, owned */
  size_t request_len;
};

struct conn {
  int fd;
  size_t target;  /* index into the target list */
  size_t sent;    /* request bytes written so far */
  bool head_done; /* the blank line after the headers was seen */
  int status;
  long long body_left; /* -1: read until the server closes */
  unsigned long long body_bytes;
  size_t head_len;
  char head[HEAD_MAX];
};

static struct target *targets;
static size_t n_targets, targets_cap;
static unsigned long long n_ok, n_failed, n_bytes;

static void *xmalloc(size_t n)
{
  void *p = malloc(n);

  if (p == NULL) {
    fputs("rawclient: out of memory\n", stderr);
    abort();
  }
  return p;
}

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds the request for (addr, port, path); 0, or -1 on a bad address. */
static int target_add(const char *ip, size_t ip_len, unsigned port,
                      const char *path, size_t path_len)
{
  char ipbuf[64];
  struct target *t;
  size_t cap;
  int n;

  if (ip_len == 0 || ip_len >= sizeof ipbuf || port == 0 || port > 65535)
    return -1;
  memcpy(ipbuf, ip, ip_len);
  ipbuf[ip_len] = '\0';
  if (n_targets == targets_cap) {
    targets_cap = targets_cap == 0 ? 1024 : targets_cap * 2;
    targets = realloc(targets, targets_cap * sizeof *targets);
    if (targets == NULL) {
      fputs("rawclient: out of memory\n", stderr);
      abort();
    }
  }
  t = &targets[n_targets];
  memset(&t->addr, 0, sizeof t->addr);
  t->addr.sin_family = AF_INET;
  t->addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ipbuf, &t->addr.sin_addr) != 1)
    return -1;
  cap = path_len + ip_len + 128;
  t->request = xmalloc(cap);
  n = snprintf(t->request, cap,
               "GET %.*s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: rawclient\r\n"
               "Connection: close\r\n\r\n",
               (int)path_len, path, ipbuf, port);
  if (n < 0 || (size_t)n >= cap)
    return -1;
  t->request_len = (size_t)n;
  n_targets++;
  return 0;
}

/* Parses "http://IPV4:PORT/PATH", or "/PATH" when ip is given. */
static int parse_line(const char *line, size_t len, const char *ip,
                      unsigned port)
{
  const char *p = line;
  const char *end = line + len;
  const char *host;
  const char *colon;
  const char *slash;
  unsigned long v = 0;

  if (ip != NULL)
    return target_add(ip, strlen(ip), port, line, len);
  if (len < 7 || memcmp(p, "http://", 7) != 0)
    return -1;
  host = p + 7;
  slash = memchr(host, '/', (size_t)(end - host));
  if (slash == NULL)
    slash = end;
  colon = memchr(host, ':', (size_t)(slash - host));
  if (colon == NULL) {
    v = 80;
    colon = slash;
  } else {
    const char *q;

    for (q = colon + 1; q < slash; q++) {
      if (*q < '0' || *q > '9' || v > 65535)
        return -1;
      v = v * 10 + (unsigned long)(*q - '0');
    }
  }
  if (slash == end)
    return target_add(host, (size_t)(colon - host), (unsigned)v, "/", 1);
  return target_add(host, (size_t)(colon - host), (unsigned)v, slash,
                    (size_t)(end - slash));
}

static int load(const char *file, const char *ip, unsigned port)
{
  FILE *f = fopen(file, "r");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  size_t lineno = 0;
  int rc = 0;

  if (f == NULL) {
    perror(file);
    return -1;
  }
  while ((n = getline(&line, &cap, f)) >= 0) {
    size_t len = (size_t)n;

    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                       line[len - 1] == ' '))
      len--;
    if (len == 0 || line[0] == '#')
      continue;
    if (parse_line(line, len, ip, port) < 0) {
      fprintf(stderr, "rawclient: %s:%zu: not http://IPV4:PORT/PATH\n", file,
              lineno);
      rc = -1;
      break;
    }
  }
  free(line);
  fclose(f);
  return rc;
}

/* Looks at the head once it is complete: status and Content-Length.  The
 * bytes after the blank line are body and are counted by the caller. */
static int head_parse(struct conn *c, size_t head_end)
{
  const char *h = c->head;
  const char *p;

  c->body_left = -1;
  if (head_end < 12 || memcmp(h, "HTTP/1.", 7) != 0)
    return -1;
  c->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  for (p = h; p < h + head_end; p++) {
    if (*p == '\n' && (size_t)(h + head_end - p) > 16 &&
        strncasecmp(p + 1, "content-length:", 15) == 0) {
      const char *q = p + 16;
      long long v = 0;

      while (*q == ' ')
        q++;
      while (*q >= '0' && *q <= '9')
        v = v * 10 + (*q++ - '0');
      c->body_left = v;
    }
  }
  return 0;
}

static void conn_finish(struct conn *c, bool ok)
{
  if (ok && c->head_done && c->status == 200 &&
      (c->body_left == 0 || c->body_left == -1))
    n_ok++;
  else
    n_failed++;
  n_bytes += c->body_bytes;
  close(c->fd);
  c->fd = -1;
}

/* Consumes received bytes; returns true when the response is complete. */
static bool conn_consume(struct conn *c, const char *buf, size_t len)
{
  if (!c->head_done) {
    size_t take = len;
    size_t i;
    size_t start = c->head_len > 3 ? c->head_len - 3 : 0;

    if (take > HEAD_MAX - c->head_len)
      take = HEAD_MAX - c->head_len;
    memcpy(c->head + c->head_len, buf, take);
    c->head_len += take;
    for (i = start; i + 4 <= c->head_len; i++) {
      if (memcmp(c->head + i, "\r\n\r\n", 4) == 0)
        break;
    }
    if (i + 4 > c->head_len) {
      if (c->head_len < HEAD_MAX)
        return false;
      c->status = -1; /* an oversized head is a failure */
      c->head_done = true;
      return true;
    }
    c->head_done = true;
    if (head_parse(c, i + 4) < 0) {
      c->status = -1;
      return true;
    }
    /* Whatever followed the head in this read is body. */
    buf += take - (c->head_len - (i + 4));
    len = c->head_len - (i + 4) + (len - take);
  }
  c->body_bytes += len;
  if (c->body_left >= 0) {
    c->body_left -= (long long)len;
    if (c->body_left <= 0) {
      c->body_left = 0;
      return true;
    }
  }
  return false;
}

static int conn_start(int ep, struct conn *c, size_t target)
{
  struct epoll_event ev;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->target = target;
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&targets[target].addr,
              sizeof targets[target].addr) < 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  c->fd = fd;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLOUT | EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    close(fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

static void raise_nofile(void)
{
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv)
{
  const char *ip = NULL;
  unsigned port = 0;
  long conc = 1000;
  double limit_s = 300;
  struct conn *conns;
  struct conn **idle;
  size_t n_idle;
  size_t next = 0;
  size_t active = 0;
  static struct epoll_event evs[1024];
  static char buf[65536];
  double t0;
  int ep;
  int opt;

  while ((opt = getopt(argc, argv, "c:t:a:p:")) != -1) {
    if (opt == 'c')
      conc = strtol(optarg, NULL, 10);
    else if (opt == 't')
      limit_s = strtod(optarg, NULL);
    else if (opt == 'a')
      ip = optarg;
    else if (opt == 'p')
      port = (unsigned)strtoul(optarg, NULL, 10);
    else
      goto usage;
  }
  if (optind + 1 != argc || conc < 1 || limit_s <= 0 ||
      (ip != NULL && port == 0))
    goto usage;
  if (load(argv[optind], ip, port) < 0)
    return 2;
  if ((size_t)conc > n_targets)
    conc = n_targets > 0 ? (long)n_targets : 1;
  raise_nofile();
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    perror("epoll_create1");
    return 2;
  }
  conns = xmalloc((size_t)conc * sizeof *conns);
  idle = xmalloc((size_t)conc * sizeof *idle);
  for (n_idle = 0; n_idle < (size_t)conc; n_idle++)
    idle[n_idle] = &conns[(size_t)conc - 1 - n_idle];

  t0 = now_s();
  for (;;) {
    int n;
    int i;

    while (n_idle > 0 && next < n_targets) {
      struct conn *c = idle[--n_idle];

      if (conn_start(ep, c, next++) < 0) {
        n_failed++;
        idle[n_idle++] = c;
        continue;
      }
      active++;
    }
    if (active == 0)
      break;
    if (now_s() - t0 > limit_s) {
      fprintf(stderr, "rawclient: time limit, %zu transfers cut\n", active);
      n_failed += active + (n_targets - next);
      break;
    }
    n = epoll_wait(ep, evs, 1024, 1000);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 2;
    }
    for (i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      const struct target *t = &targets[c->target];
      bool done = false;
      bool ok = true;

      if (c->sent < t->request_len && (evs[i].events & (EPOLLOUT | EPOLLERR))) {
        ssize_t w = send(c->fd, t->request + c->sent, t->request_len - c->sent,
                         MSG_NOSIGNAL);

        if (w < 0 && errno != EAGAIN) {
          done = true;
          ok = false;
        } else if (w > 0) {
          c->sent += (size_t)w;
          if (c->sent == t->request_len) {
            struct epoll_event ev;

            memset(&ev, 0, sizeof ev);
            ev.events = EPOLLIN;
            ev.data.ptr = c;
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          }
        }
      }
      while (!done && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);

        if (r > 0) {
          done = conn_consume(c, buf, (size_t)r);
          if ((size_t)r < sizeof buf)
            break;
          continue;
        }
        if (r == 0) {
          done = true;
          ok = c->head_done && c->body_left <= 0;
        } else if (errno != EAGAIN && errno != EINTR) {
          done = true;
          ok = false;
        }
        break;
      }
      if (done) {
        conn_finish(c, ok);
        idle[n_idle++] = c;
        active--;
      }
    }
  }
  printf("ok=%llu failed=%llu bytes=%llu seconds=%.3f\n", n_ok, n_failed,
         n_bytes, now_s() - t0);
  return n_failed == 0 && n_ok == n_targets ? 0 : 1;

usage:
  fputs("usage: rawclient [-c N] [-t SEC] URLFILE\n"
        "       rawclient [-c N] [-t SEC] -a IPV4 -p PORT PATHFILE\n",
        stderr);
  return 2;
}
