"""Many crawler processes, one crawl through Redis (--redis URL --crawl NAME,
issue 11), end to end: a private redis-server (tests/redis/redisfix.py) on a
free loopback port, the fixture's latency site spread over many virtual
hosts (--s-hosts, names *.test through the fixture's DNS), real crawler
processes started concurrently, each with its own -o directory.

  workers   a one-process reference crawl (-r -l inf), then the same crawl
            described in Redis and run by 1, 2 and 4 workers: the union of
            the workers' files is the reference's (same relative paths, same
            bytes), one manifest line per URL across all workers, the same
            URLs, statuses and depths; every worker exits 0 and prints the
            Redis line; Redis says the crawl is over (open 0, nothing queued
            or in flight)
  kill      kill -9 of one of 3 workers mid-crawl (--redis-lease 2, pages
            that take up to 300 ms): the others finish; every page has a
            line somewhere; duplicated lines only for URLs the killed worker
            recorded, at most its -c; the server's request log shows every
            page fetched once plus at most 2 x its -c (its transfers in
            flight, and those finished but not yet reported)
  restart   redis-server SIGKILLed mid-crawl, restarted after 1 s on the same
            port and directory (AOF, fsync always): the workers reconnect
            and finish; every page has a line; repeats within the in-flight
            bound
  stall     redis-server SIGSTOPped for 3 s mid-crawl, then SIGCONT: the
            workers neither die nor stop, and finish as after a restart
  join      a worker started 1 s after the first gets a share of the work;
            both exit 0; the union is complete
  errors    Redis unreachable: describe and worker exit 3 with a "redis"
            message; a worker for a crawl never described exits 2
  settings  describing again with another -l exits 2 naming both values; so
            does a worker given another -l; describing again with the same
            settings adds nothing and succeeds
  hostile   garbage records, a forged record (right format, wrong shard), a
            foreign key and a key of the wrong type in Redis before the
            workers start: reported on stderr, never trusted, and the crawl
            still ends with the reference's union

Every wait is bounded; workers and servers are killed in finally blocks.
Skipped (77) where redis-server is not installed.
"""

import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "redis"))

import harness as h  # noqa: E402
import redisfix  # noqa: E402

HOSTS = 32            # virtual hosts of the site: shards are by host
WORKER_TIMEOUT = 120  # seconds for a whole shared crawl
REDIS_LINE = re.compile(r"redis: (\d+) round trips, (\d+) commands, (\d+) bytes out, "
                        r"(\d+) bytes in(?:, (\d+) pages)?")
NO_CONFIG = os.path.join(tempfile.gettempdir(), "crawler-e2e-no-config")


# ---------------------------------------------------------------- the site

def site_args(pages, delay, links=4, hosts=HOSTS):
    return ["--s-hosts", str(hosts), "--s-pages", str(pages),
            "--s-delay", str(delay), "--s-links", str(links)]


class Site:
    """The latency site on HOSTS virtual hosts: page M is
    http://s{M % HOSTS}.test:PORT/s/M, every page reachable from /s/0."""

    def __init__(self, ctx, pages, delay, log=False, links=4, fixture_exe=None,
                 port=None):
        self.pages = pages
        self.args = site_args(pages, delay, links)
        extra = list(self.args)
        if port is not None:
            # The harness passes --http-port 0 first; the last one wins.
            extra += ["--http-port", str(port[0]), "--dns-port", str(port[1])]
        self.fx = h.Fixture(fixture_exe or ctx.fixture_exe, log=log,
                            lifetime=600, extra=extra)
        self.port = self.fx.http_port
        self.seed = self.url(0)
        self.urls = {self.url(m) for m in range(pages)}

    def url(self, m):
        return "http://s%d.test:%d/s/%d" % (m % HOSTS, self.port, m)

    def scope(self):
        """What decides the crawl (stored in Redis when described)."""
        return ["-r", "-l", "inf", "--span-hosts", "--domains", "test",
                "--dns-servers", self.fx.dns_arg()]

    def fetches(self):
        """{target: times the server was asked for it}, /s/ pages only."""
        return collections.Counter(t for _, t in self.fx.log_lines()
                                   if t.startswith("/s/"))

    def stop(self):
        self.fx.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------- workers

class Worker:
    """One crawler process of a shared crawl, stderr to OUT.err."""

    def __init__(self, crawler, redis_url, name, out, extra=(), wrapper=()):
        self.out = out
        self.err_path = out + ".err"
        self.args = list(wrapper) + [crawler, "--redis", redis_url, "--crawl", name,
                                     "-o", out] + list(extra)
        env = dict(os.environ, XDG_CONFIG_HOME=NO_CONFIG)
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, env=env)
        self.started = time.monotonic()

    def running(self):
        return self.proc.poll() is None

    def lines(self):
        """Complete manifest lines written so far (0 before the file)."""
        try:
            with open(os.path.join(self.out, "manifest.jsonl"), "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def describe(self):
        return ("command: %s\nexit status: %s\nstderr (tail):\n%s"
                % (" ".join(self.args), self.proc.returncode, h.tail(self.stderr(), 40)))

    def kill(self):
        if self.running():
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def records(self, torn_ok=False):
        """The manifest's records.  torn_ok: a SIGKILLed worker's last line
        may be cut; it is dropped (and reported)."""
        path = os.path.join(self.out, "manifest.jsonl")
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            data = f.read()
        if torn_ok and data and not data.endswith(b"\n"):
            h.info("%s: a torn last manifest line dropped: %r"
                   % (self.out, data[data.rfind(b"\n") + 1:][:200]))
            data = data[:data.rfind(b"\n") + 1]
        return h.parse_manifest(data, path)


def wait_all(workers, timeout=WORKER_TIMEOUT):
    """Waits for every worker (bounded), killing all on a timeout."""
    deadline = time.monotonic() + timeout
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for x in workers:
                x.kill()
            raise h.Failure("a worker did not end within %d s:\n%s"
                            % (timeout, w.describe()))
    for w in workers:
        h.info("worker %s: exit %s after %.1f s, %d lines"
               % (os.path.basename(w.out), w.proc.returncode,
                  time.monotonic() - w.started, w.lines()))


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise h.Failure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def check_worker_ok(w, rc=0):
    """Exit status rc, no sanitizer report, the summary and the Redis line
    on stderr; returns the Redis line's numbers."""
    err = w.stderr()
    h.check_sanitizers(err, w.describe)
    check = h.check
    check(w.proc.returncode == rc, lambda: "worker exited %s, not %d\n%s"
          % (w.proc.returncode, rc, w.describe()))
    text = err.decode("utf-8", "replace")
    check("crawler: finished:" in text, lambda: "no 'finished' line\n" + w.describe())
    m = REDIS_LINE.search(text)
    check(m, lambda: "no 'crawler: redis: R round trips, ...' line\n" + w.describe())
    return [int(x) if x is not None else None for x in m.groups()]


def finished_records(ctx, site, ws, saved=True):
    """The workers' manifest records together, once each worker is checked:
    it ended well, its directory holds what its manifest says and (saved)
    every page saved is the site's, byte for byte."""
    recs = []
    for w in ws:
        check_worker_ok(w)
        mine = w.records()
        check_output_dir(w, mine)
        if saved:
            h.verify_saved(ctx.fixture_exe, w.out, mine, site.args)
        recs += mine
    return recs


def check_output_dir(w, recs):
    """A finished worker's directory: files and manifest agree, no
    temporary files left."""
    h.check_files_match_manifest(w.out, recs)
    h.check_no_tmp(w.out)


def files_of(out):
    """{relative path: bytes} of the saved pages under out."""
    got = {}
    for rel in h.page_files(out):
        with open(os.path.join(out, rel), "rb") as f:
            got[rel] = f.read()
    return got


def union_files(dirs):
    """{relative path: bytes} over several output directories; a path saved
    by two of them must hold the same bytes in both."""
    got = {}
    for d in dirs:
        for rel, data in files_of(d).items():
            h.check(rel not in got or got[rel] == data,
                    lambda: "%s saved by two workers with different bytes" % rel)
            got[rel] = data
    return got


def compare_to_reference(ref_recs, ref_files, recs, files, what, later):
    """One line per URL; the reference's URLs with its statuses; the
    reference's files, byte for byte.  A URL at another depth than the
    reference's is a failure appended to later (so the scenario's other
    checks still run)."""
    counts = collections.Counter(r["url"] for r in recs)
    dups = sorted(u for u, n in counts.items() if n > 1)
    h.check(not dups, lambda: "%s: URLs with more than one manifest line: %d, e.g. %s"
            % (what, len(dups), dups[:5]))
    ref = {r["url"]: r for r in ref_recs}
    missing = sorted(set(ref) - set(counts))
    extra = sorted(set(counts) - set(ref))
    h.check(not missing and not extra, lambda: "%s: %d URLs, reference %d; missing %s, extra %s"
            % (what, len(counts), len(ref), missing[:5], extra[:5]))
    for r in recs:
        want = ref[r["url"]]
        for k in ("status", "error", "path", "bytes"):
            h.check(r.get(k) == want.get(k), lambda: "%s: %s has %s=%r, the reference %r\n%s"
                    % (what, r["url"], k, r.get(k), want.get(k), h.show(r)))
    missing = sorted(set(ref_files) - set(files))
    extra = sorted(set(files) - set(ref_files))
    h.check(not missing and not extra, lambda: "%s: files missing %s, extra %s"
            % (what, missing[:5], extra[:5]))
    differ = sorted(k for k in files if files[k] != ref_files[k])
    h.check(not differ, lambda: "%s: files with other bytes than the reference's: %s"
            % (what, differ[:5]))
    # Last, so that a failure here says everything above held: the depth of
    # each URL is the one-process crawl's (its shortest link path, as the
    # frontier lowers a URL reached again by a shorter path).
    deeper = [(r["url"], r["depth"], ref[r["url"]]["depth"]) for r in recs
              if r["depth"] != ref[r["url"]]["depth"]]
    if deeper:
        later.append("%s: URLs, files, bytes and statuses are the reference's, but %d of %d "
                     "URLs have another depth (url, depth, reference's): %s"
                     % (what, len(deeper), len(recs), deeper[:5]))


def check_complete(site, recs, what, dup_bound=0, dup_owner=None):
    """Every page of the site has a manifest line, all saved with status 200
    and nothing else has one.  At most dup_bound URLs have two lines (never
    more than two), and each of them has one in dup_owner's records."""
    counts = collections.Counter(r["url"] for r in recs)
    missing = sorted(site.urls - set(counts))
    extra = sorted(set(counts) - site.urls)
    h.check(not missing, lambda: "%s: %d of %d pages have no manifest line, e.g. %s"
            % (what, len(missing), len(site.urls), missing[:5]))
    h.check(not extra, lambda: "%s: lines for URLs outside the site: %s" % (what, extra[:5]))
    bad = [r for r in recs if r["status"] != 200 or r["error"] is not None]
    h.check(not bad, lambda: "%s: pages not saved: %s" % (what, h.show(bad[0])))
    dups = sorted(u for u, n in counts.items() if n > 1)
    h.check(all(counts[u] == 2 for u in dups),
            lambda: "%s: URLs with three or more lines: %s"
            % (what, [u for u in dups if counts[u] > 2][:5]))
    h.check(len(dups) <= dup_bound, lambda: "%s: %d URLs with two manifest lines, at most %d "
            "allowed: %s" % (what, len(dups), dup_bound, dups[:10]))
    if dups and dup_owner is not None:
        own = {r["url"] for r in dup_owner}
        h.check(all(u in own for u in dups), lambda: "%s: URLs with two lines, neither in the "
                "killed worker's manifest: %s" % (what, [u for u in dups if u not in own][:5]))
    return len(dups)


def check_fetches(site, what, bound):
    """The server's log: every page fetched, in all at most bound repeats."""
    got = site.fetches()
    never = [m for m in range(site.pages) if got.get("/s/%d" % m, 0) == 0]
    h.check(not never, lambda: "%s: pages the server was never asked for: %s" % (what, never[:5]))
    again = sum(n - 1 for n in got.values())
    h.check(again <= bound, lambda: "%s: %d repeated fetches, at most %d allowed: %s"
            % (what, again, bound, sorted(t for t, n in got.items() if n > 1)[:10]))
    return again


def redis_over(redis, name, what, queues=True):
    """Redis says the crawl is over: open is 0, nothing in flight, and
    (queues) nothing queued."""
    p = "cr:{%s}:" % name
    op = redis.cli("GET", p + "open")
    h.check(op == b"0", lambda: "%s: %sopen is %r after the workers ended" % (what, p, op))
    left = redis.cli("KEYS", p + "inflight:*")
    h.check(not left, lambda: "%s: keys of URLs in flight left: %s" % (what, left[:5]))
    if queues:
        left = redis.cli("KEYS", p + "q:*")
        h.check(not left, lambda: "%s: queues left: %s" % (what, left[:5]))


class Crawls:
    """A Redis, the crawler, and the workers started (killed at the end)."""

    def __init__(self, ctx, redis):
        self.ctx = ctx
        self.redis = redis
        self.workers = []

    def describe(self, name, site, extra=(), rc=0, seeds=None):
        r = self.ctx.crawl(["--redis", self.redis.url, "--crawl", name] + site.scope()
                           + list(extra) + (seeds or [site.seed]), timeout=30)
        r.expect_rc(rc)
        return r

    def start(self, name, label, n=1, extra=()):
        base = os.path.join(self.ctx.tmp, label)
        os.makedirs(base, exist_ok=True)
        ws = [Worker(self.ctx.crawler, self.redis.url, name, os.path.join(base, "w%d" % i),
                     extra) for i in range(n)]
        self.workers += ws
        return ws

    def kill_all(self):
        for w in self.workers:
            w.kill()


def check_described(r, name, queued=1, seen=0):
    h.check(re.search(r"crawler: crawl %s: %d seeds queued in redis \(%d seen before\)"
                      % (re.escape(name), queued, seen), r.err),
            lambda: "no 'crawl %s: %d seeds queued in redis (%d seen before)' line\n%s"
            % (name, queued, seen, r.describe()))


# ---------------------------------------------------------------- scenarios

def reference_crawl(ctx, site, label):
    """The same crawl by one process: (records, {path: bytes})."""
    work = ctx.workdir(label)
    r = ctx.crawl(["-o", "out", "-q"] + site.scope() + [site.seed], cwd=work, timeout=120)
    r.expect_rc(0)
    out = os.path.join(work, "out")
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    h.by_url(recs)
    check_complete(site, recs, "the reference crawl")
    h.check_files_match_manifest(out, recs)
    n = h.verify_saved(ctx.fixture_exe, out, recs, site.args)
    h.info("reference: %d pages on %d hosts, %d checked against the fixture" %
           (len(recs), HOSTS, n))
    return recs, files_of(out)


def scenario_workers(ctx, cr, site, ref_recs, ref_files):
    later = []
    for n in (1, 2, 4):
        name = "all%d" % n
        check_described(cr.describe(name, site), name)
        ws = cr.start(name, name, n)
        wait_all(ws)
        recs = []
        busy = 0
        trips = 0
        for w in ws:
            line = check_worker_ok(w)
            mine = w.records()
            check_output_dir(w, mine)
            h.check(line[4] is None or line[4] == len(mine),
                    lambda: "%s: the Redis line says %s pages, its manifest has %d lines\n%s"
                    % (w.out, line[4], len(mine), w.describe()))
            trips += line[0]
            busy += 1 if mine else 0
            recs += mine
        compare_to_reference(ref_recs, ref_files, recs, union_files([w.out for w in ws]),
                             "%d workers" % n, later)
        h.check(n == 1 or busy >= 2, lambda: "%d workers started together, only %d got pages"
                % (n, busy))
        redis_over(cr.redis, name, "%d workers" % n)
        h.info("%d workers: %d pages, %s lines each, %d Redis round trips (%.2f a page)"
               % (n, len(recs), [w.lines() for w in ws], trips, trips / len(recs)))
    h.check(not later, lambda: "\n".join(later))


def scenario_kill(ctx, cr, conc=8):
    with Site(ctx, 800, 300, log=True) as site:
        name = "kill"
        cr.describe(name, site, ["--redis-lease", "2"])
        ws = cr.start(name, name, 3, ["-c", str(conc)])
        victim = ws[1]
        # Mid-crawl: the victim has done some pages, and the crawl is far from over.
        wait_until(lambda: victim.lines() >= 30 or not victim.running(), 60,
                   "the worker to kill to record 30 pages")
        h.check(victim.running(), lambda: "the worker to kill ended first\n" + victim.describe())
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=10)
        done_at_kill = sum(w.lines() for w in ws)
        h.info("kill -9 of %s after %d of its lines, %d in all"
               % (os.path.basename(victim.out), victim.lines(), done_at_kill))
        h.check(done_at_kill < site.pages * 3 // 4,
                lambda: "the kill came too late to matter: %d of %d pages done"
                % (done_at_kill, site.pages))
        rest = [ws[0], ws[2]]
        wait_all(rest)
        recs = finished_records(ctx, site, rest)
        theirs = victim.records(torn_ok=True)
        h.verify_saved(ctx.fixture_exe, victim.out, theirs, site.args)
        dups = check_complete(site, recs + theirs, "after kill -9", dup_bound=conc,
                              dup_owner=theirs)
        # The survivors alone never record a URL twice.
        h.by_url(recs)
        again = check_fetches(site, "after kill -9", 2 * conc)
        redis_over(cr.redis, name, "after kill -9")
        h.info("kill -9: %d pages, %d with two lines, %d fetched again (bounds %d, %d)"
               % (site.pages, dups, again, conc, 2 * conc))


def scenario_restart(ctx, cr, conc=8):
    with Site(ctx, 800, 300, log=True) as site:
        name = "restart"
        cr.describe(name, site)
        ws = cr.start(name, name, 2, ["-c", str(conc)])
        wait_until(lambda: sum(w.lines() for w in ws) >= 100
                   or not all(w.running() for w in ws), 60, "100 pages before the restart")
        h.check(all(w.running() for w in ws), "a worker ended before the restart")
        before = sum(w.lines() for w in ws)
        cr.redis.kill()
        time.sleep(1.0)
        h.check(all(w.running() for w in ws),
                lambda: "a worker ended while Redis was down\n%s"
                % "\n".join(w.describe() for w in ws if not w.running()))
        during = sum(w.lines() for w in ws)
        cr.redis.start()
        h.info("redis-server killed after %d pages, back 1 s later (%d pages by then)"
               % (before, during))
        wait_all(ws)
        recs = finished_records(ctx, site, ws)
        h.check(during + 50 < site.pages, lambda: "the restart came too late to matter: %d of %d "
                "pages done when Redis came back" % (during, site.pages))
        # No worker died, so nothing should be repeated; the bound allowed
        # is what was in flight in both.
        dups = check_complete(site, recs, "after a Redis restart", dup_bound=2 * conc)
        again = check_fetches(site, "after a Redis restart", 2 * conc)
        redis_over(cr.redis, name, "after a Redis restart")
        h.info("restart: %d pages, %d with two lines, %d fetched again"
               % (site.pages, dups, again))


def scenario_stall(ctx, cr, conc=8, seconds=3.0):
    with Site(ctx, 600, 300, log=True) as site:
        name = "stall"
        cr.describe(name, site)
        ws = cr.start(name, name, 2, ["-c", str(conc)])
        wait_until(lambda: sum(w.lines() for w in ws) >= 80
                   or not all(w.running() for w in ws), 60, "80 pages before the stall")
        cr.redis.pause()
        try:
            before = sum(w.lines() for w in ws)
            time.sleep(seconds)
            h.check(all(w.running() for w in ws),
                    lambda: "a worker ended while Redis was stopped\n%s"
                    % "\n".join(w.describe() for w in ws if not w.running()))
            during = sum(w.lines() for w in ws)
        finally:
            cr.redis.resume()
        h.info("redis-server stopped (SIGSTOP) for %.0f s after %d pages; %d by SIGCONT"
               % (seconds, before, during))
        h.check(during + 50 < site.pages, lambda: "the stall came too late to matter: %d of %d "
                "pages done when Redis went on" % (during, site.pages))
        wait_all(ws)
        recs = finished_records(ctx, site, ws, saved=False)
        dups = check_complete(site, recs, "after a Redis stall", dup_bound=2 * conc)
        again = check_fetches(site, "after a Redis stall", 2 * conc)
        redis_over(cr.redis, name, "after a Redis stall")
        h.info("stall: %d pages, %d with two lines, %d fetched again"
               % (site.pages, dups, again))


def scenario_join(ctx, cr, conc=8):
    with Site(ctx, 600, 300) as site:
        name = "join"
        cr.describe(name, site)
        first = cr.start(name, name + "-first", 1, ["-c", str(conc)])[0]
        wait_until(lambda: first.lines() >= 20 or not first.running(), 60,
                   "the first worker's first pages")
        time.sleep(1.0)
        h.check(first.running(), lambda: "the first worker ended before the second joined\n"
                + first.describe())
        at_join = first.lines()
        second = cr.start(name, name + "-second", 1, ["-c", str(conc)])[0]
        wait_all([first, second])
        recs = finished_records(ctx, site, (first, second))
        check_complete(site, recs, "a joining worker")
        n2 = second.lines()
        left = site.pages - at_join
        h.check(n2 >= left // 10, lambda: "the joining worker did %d of the %d pages left when "
                "it joined (less than a tenth)" % (n2, left))
        redis_over(cr.redis, name, "a joining worker")
        h.info("join: %d pages done when the second worker joined; it did %d of the %d left"
               % (at_join, n2, left))


def scenario_errors(ctx, cr):
    closed = redisfix.free_port()
    dead = "redis://127.0.0.1:%d/0" % closed
    out = os.path.join(ctx.tmp, "err-out")
    t0 = time.monotonic()
    r = ctx.crawl(["--redis", dead, "--crawl", "nowhere", "-r", "-l", "inf",
                   "http://s0.test:1/s/0"], timeout=60)
    r.expect_rc(3)
    h.check(re.search(r"crawler: redis: ", r.err) and str(closed) in r.err,
            lambda: "describing with Redis unreachable: no 'crawler: redis: ...' message "
            "naming port %d\n%s" % (closed, r.describe()))
    w = ctx.crawl(["--redis", dead, "--crawl", "nowhere", "-o", out], timeout=60)
    w.expect_rc(3)
    h.check(re.search(r"crawler: redis: ", w.err) and str(closed) in w.err,
            lambda: "a worker with Redis unreachable: no 'crawler: redis: ...' message "
            "naming port %d\n%s" % (closed, w.describe()))
    h.info("Redis unreachable: exits 3 in %.1f s: %s"
           % (time.monotonic() - t0, w.err.strip().splitlines()[-1:]))
    r = ctx.crawl(["--redis", cr.redis.url, "--crawl", "never-described", "-o", out],
                  timeout=60)
    r.expect_rc(2)
    h.check("never-described" in r.err, lambda: "a worker for a crawl never described: "
            "the message does not name it\n" + r.describe())
    h.check(not os.path.exists(os.path.join(out, "manifest.jsonl"))
            or os.path.getsize(os.path.join(out, "manifest.jsonl")) == 0,
            "a refused worker wrote manifest lines")
    h.info("no such crawl: exit 2: %s" % r.err.strip().splitlines()[-1:])


def scenario_settings(ctx, cr, site):
    name = "settings"
    base = ["--redis", cr.redis.url, "--crawl", name, "--span-hosts", "--domains", "test",
            "--dns-servers", site.fx.dns_arg(), "-r"]
    r = ctx.crawl(base + ["-l", "2", site.seed], timeout=30)
    r.expect_rc(0)
    check_described(r, name)
    r = ctx.crawl(base + ["-l", "3", site.seed], timeout=30)
    r.expect_rc(2)
    h.check("depth=2" in r.err and "depth=3" in r.err,
            lambda: "describing again with -l 3 (stored: -l 2): the message does not name "
            "'depth=2' and 'depth=3'\n" + r.describe())
    h.info("describe with another -l: %s" % r.err.strip().splitlines()[-1:])
    out = os.path.join(ctx.tmp, "settings-out")
    r = ctx.crawl(["--redis", cr.redis.url, "--crawl", name, "-l", "3", "-o", out],
                  timeout=30)
    r.expect_rc(2)
    h.check("depth=2" in r.err and "depth=3" in r.err,
            lambda: "a worker with -l 3 (stored: -l 2): the message does not name "
            "'depth=2' and 'depth=3'\n" + r.describe())
    h.check(not os.path.exists(os.path.join(out, "manifest.jsonl"))
            or os.path.getsize(os.path.join(out, "manifest.jsonl")) == 0,
            "a refused worker wrote manifest lines")
    h.info("worker with another -l: %s" % r.err.strip().splitlines()[-1:])
    # The same settings again: accepted, the seed seen before.
    r = ctx.crawl(base + ["-l", "2", site.seed], timeout=30)
    r.expect_rc(0)
    h.check(re.search(r"seeds queued in redis \(1 seen before\)", r.err),
            lambda: "describing again with the same settings and seed: no '(1 seen before)'\n"
            + r.describe())
    h.check(redis_llen(cr.redis, "cr:{%s}:" % name, site.seed) == 1,
            "the seed queued twice")


def redis_llen(redis, prefix, url):
    """How many records of url are queued in any q:S of the crawl."""
    n = 0
    for k in redis.cli("KEYS", prefix + "q:*"):
        for rec in redis.cli("LRANGE", k, 0, -1):
            if rec.endswith(b"\n" + url.encode()):
                n += 1
    return n


def hash64(data):
    """cr_hash64 (crawler/hash.c): FNV-1a, then murmur3's finalizer."""
    m = (1 << 64) - 1
    x = 0xcbf29ce484222325
    for b in data:
        x = ((x ^ b) * 0x100000001b3) & m
    x ^= x >> 33
    x = (x * 0xff51afd7ed558ccd) & m
    x ^= x >> 33
    x = (x * 0xc4ceb9fe1a85ec53) & m
    x ^= x >> 33
    return x


def shard_of(origin, shards=256):
    """crawler/dist.h: a host's shard is cr_hash64(origin) % shards."""
    return hash64(origin.encode()) % shards


def scenario_hostile(ctx, cr, site, ref_recs, ref_files):
    name = "hostile"
    p = "cr:{%s}:" % name
    cr.describe(name, site)
    origins = {"http://s%d.test:%d" % (i, site.port) for i in range(HOSTS)}
    used = {shard_of(o) for o in origins}
    seed_shard = shard_of("http://s0.test:%d" % site.port)
    # The seed's record where the spec says: "<hash> <depth> <req>\n<ref>\n<url>".
    # This also checks the shard function above, on which the rest relies.
    queued = cr.redis.cli("LRANGE", p + "q:%d" % seed_shard, 0, -1)
    want = b"%016x 0 0\n\n%s" % (hash64(site.seed.encode()), site.seed.encode())
    h.check(queued == [want], lambda: "the seed's record in %sq:%d is %r, expected [%r]"
            % (p, seed_shard, queued, want))
    free = sorted(set(range(256)) - used)
    other = sorted(used - {seed_shard})
    garbage = [b"garbage", b"0123456789abcdef 1 0\n", b"0123456789abcdef x 0\n\nhttp://a/",
               b"\xff" * 40, b"z" * 20000]
    # Garbage in front of the seed, and behind it; garbage in another used
    # shard's queue.
    cr.redis.cli("LPUSH", p + "q:%d" % seed_shard, garbage[0])
    cr.redis.cli("RPUSH", p + "q:%d" % seed_shard, *garbage[1:])
    cr.redis.cli("RPUSH", p + "q:%d" % other[0], b"truncated 3")
    # A record of the right form whose URL (a real page of the site) belongs
    # to another shard: taking it would fetch /s/1 through the wrong owner.
    s1 = site.url(1).encode()
    forged = b"%016x 1 0\n%s\n%s" % (hash64(s1), site.seed.encode(), s1)
    cr.redis.cli("RPUSH", p + "q:%d" % free[0], forged)
    # A record whose hash is not its URL's, for a host outside the site.
    evil = ("http://evil.test:%d/s/2" % site.port).encode()
    cr.redis.cli("RPUSH", p + "q:%d" % shard_of("http://evil.test:%d" % site.port),
                 b"%016x 1 0\n\n%s" % (hash64(s1), evil))
    # A record right in every field (hash, shard) for a host outside the
    # crawl's scope (--domains test), its URL forged into the seen set too,
    # so the script takes it for one the crawl queued: the worker's scope
    # refuses it.  And one without the seen entry: the script drops it.
    for path, seen in ((3, True), (4, False)):
        out_url = ("http://evil.example:%d/s/%d" % (site.port, path)).encode()
        hx = "%016x" % hash64(out_url)
        if seen:
            cr.redis.cli("HSET", p + "seen:" + hx[:3], hx[3:], "1")
        cr.redis.cli("RPUSH", p + "q:%d" % shard_of("http://evil.example:%d" % site.port),
                     b"%s 1 0\n\n%s" % (hx.encode(), out_url))
    out_url = ("http://evil.example:%d/s/3" % site.port).encode()
    # A key of the wrong type where a queue should be (of a shard no host of
    # the site maps to, so the crawl loses nothing by it), and a foreign key.
    cr.redis.cli("SET", p + "q:%d" % free[1], "not a list")
    cr.redis.cli("HSET", p + "foreign", "a", "b")
    ws = cr.start(name, name, 2)
    wait_all(ws)
    recs = []
    text = ""
    for w in ws:
        check_worker_ok(w, rc=0)
        mine = w.records()
        check_output_dir(w, mine)
        recs += mine
        text += w.stderr().decode("utf-8", "replace")
    later = []
    compare_to_reference(ref_recs, ref_files, recs, union_files([w.out for w in ws]),
                         "hostile data", later)
    h.check(not any("evil.test" in r["url"] or "evil.example" in r["url"] for r in recs),
            "a forged record was fetched")
    h.check("outside the crawl's scope (%s" % out_url.decode() in text,
            lambda: "no report of the record outside the scope:\n%s" % h.tail(text, 40))
    # Reported, naming the key (the spec's words: "bad record in cr:{NAME}:q:S").
    rec_re = r"crawler: redis: [^\n]*record[^\n]* in %sq:%d\b" % (re.escape(p), seed_shard)
    h.check(re.search(rec_re, text), lambda: "no report of the garbage in %sq:%d (/%s/):\n%s"
            % (p, seed_shard, rec_re, h.tail(text, 40)))
    h.check(re.search(r"crawler: redis: [^\n]*record[^\n]* in %sq:%d\b"
                      % (re.escape(p), free[0]), text),
            lambda: "no report of the forged record in %sq:%d:\n%s"
            % (p, free[0], h.tail(text, 40)))
    h.check(re.search(r"crawler: redis: [^\n]*wrong type[^\n]*%sq:%d\b"
                      % (re.escape(p), free[1]), text),
            lambda: "no report of the key of the wrong type %sq:%d:\n%s"
            % (p, free[1], h.tail(text, 40)))
    # Dropped means gone: nothing in flight or queued is left but the key of
    # the wrong type (which is not the crawler's to delete).
    redis_over(cr.redis, name, "hostile data", queues=False)
    left = sorted(k for k in cr.redis.cli("KEYS", p + "q:*") if k != b"%sq:%d" % (p.encode(), free[1]))
    h.check(not left, lambda: "hostile data: the crawl is complete and every bad record was "
            "reported as dropped, but bad records are still queued in Redis after the crawl "
            "(left in inflight:S when taken, put back in q:S when the shard was given back?): "
            "%s" % [(k, [x[:60] for x in cr.redis.cli("LRANGE", k, 0, 2)]) for k in left[:4]])
    shown = sorted(set(l for l in text.splitlines() if "crawler: redis: " in l
                       and "round trips" not in l))
    h.info("hostile: the crawl complete (%d pages); reported:\n  %s"
           % (len(recs), "\n  ".join(x[:160] for x in shown[:12])))
    h.check(not later, lambda: "\n".join(later))


# ---------------------------------------------------------------- driver

def scenario_misfiled(ctx, cr, site, ref_recs, ref_files):
    """A page of the site offered (seen, counted open) but its record filed
    in another shard's queue, as a hostile or broken writer could: taking
    it marks the URL taken, the worker refuses it as of another shard, and
    then it must go back untaken into its own shard's queue.  Before,
    nothing queued it again: the page was lost (the audit wrote it off),
    and so was the real record of a URL whenever a bad one of the same
    hash came first."""
    name = "misfiled"
    p = "cr:{%s}:" % name
    cr.describe(name, site)
    origins = {"http://s%d.test:%d" % (i, site.port) for i in range(HOSTS)}
    used = {shard_of(o) for o in origins}
    s1 = site.url(1).encode()
    hx = "%016x" % hash64(s1)
    wrong = sorted(set(range(256)) - used)[0]
    # What an offer at depth 1 does (dist.c's STEP_LUA1), but the record in
    # a shard no host of the site maps to; /s/0's own offer of /s/1 then
    # finds it seen and queues nothing.
    cr.redis.cli("HSET", p + "seen:" + hx[:3], hx[3:], "1")
    cr.redis.cli("RPUSH", p + "q:%d" % wrong,
                 b"%s 1 0\n%s\n%s" % (hx.encode(), site.seed.encode(), s1))
    cr.redis.cli("SADD", p + "ready", str(wrong))
    cr.redis.cli("INCR", p + "open")
    ws = cr.start(name, name, 2)
    wait_all(ws)
    recs = finished_records(ctx, site, ws)
    text = "".join(w.stderr().decode("utf-8", "replace") for w in ws)
    h.check(re.search(r"crawler: redis: [^\n]*another URL or shard[^\n]* in %sq:%d\b"
                      % (re.escape(p), wrong), text),
            lambda: "no report of the record in %sq:%d:\n%s" % (p, wrong, h.tail(text, 40)))
    later = []
    compare_to_reference(ref_recs, ref_files, recs, union_files([w.out for w in ws]),
                         "misfiled record", later)
    redis_over(cr.redis, name, "misfiled record")
    h.check(not later, lambda: "\n".join(later))


def body(ctx):
    exe = redisfix.find_redis()
    if not exe:
        raise h.Skip("redis-server is not installed (tests/deps.sh installs it)")
    rdir = os.path.join(ctx.tmp, "redis")
    os.mkdir(rdir)
    server = redisfix.Redis(exe, workdir=rdir)
    cr = Crawls(ctx, server)
    only = os.environ.get("CRAWLER_WORKERS_ONLY", "").split(",")
    want = (lambda s: s in only) if only != [""] else (lambda s: True)
    failures = []

    def run(label, fn, *args):
        """Runs one scenario; a failure is kept and the next one runs."""
        if not want(label):
            return
        t0 = time.monotonic()
        try:
            fn(*args)
            h.info("== %s: ok in %.1f s" % (label, time.monotonic() - t0))
        except h.Failure as e:
            h.info("== %s: FAILED in %.1f s" % (label, time.monotonic() - t0))
            failures.append("%s: %s" % (label, e))
        finally:
            cr.kill_all()

    try:
        server.start()
        run("errors", scenario_errors, ctx, cr)
        with Site(ctx, 400, 20) as site:
            ref_recs, ref_files = reference_crawl(ctx, site, "reference")
            run("settings", scenario_settings, ctx, cr, site)
            run("workers", scenario_workers, ctx, cr, site, ref_recs, ref_files)
            run("hostile", scenario_hostile, ctx, cr, site, ref_recs, ref_files)
            run("misfiled", scenario_misfiled, ctx, cr, site, ref_recs, ref_files)
        run("join", scenario_join, ctx, cr)
        run("kill", scenario_kill, ctx, cr)
        run("restart", scenario_restart, ctx, cr)
        run("stall", scenario_stall, ctx, cr)
    finally:
        cr.kill_all()
        server.close()
    h.check(not failures, lambda: "%d scenarios failed:\n\n%s"
            % (len(failures), "\n\n".join(failures)))


if __name__ == "__main__":
    h.run_test(body)
