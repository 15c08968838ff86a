#!/usr/bin/env python3
"""Many workers, one crawl (--redis, --crawl): a private redis-server on a
free loopback port, the fixture's latency site spread over many hosts
(--s-hosts), real crawler processes.

- a one-process reference crawl, then the same crawl described in Redis and
  worked by 1, 2 and 4 workers at once: the union of their directories has
  the reference's files byte for byte, one manifest line per URL across all
  manifests, the same statuses; each worker exits 0 and reports its Redis
  costs, under one round trip a page;
- a --depth-limited crawl with random delays: 4 workers take the same URLs
  at the same depths as one process (a URL reached later by a shorter path);
- kill -9 of one of 3 workers: the others finish; every URL has a line, and
  beyond one fetch a page only the killed worker's transfers were repeated;
- Redis killed and restarted mid-crawl (appendfsync always): workers
  reconnect and finish, nothing lost;
- a worker joining a running crawl gets work;
- Redis unreachable (exit 3), no such crawl (2), other settings (2), the
  local-only flags refused (2);
- hostile data in Redis (records that do not parse, of another URL, keys of
  the wrong type) is reported and dropped, and the crawl still completes.
Skipped (77) where redis-server is not installed (tests/run.sh installs it).
"""
import collections
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "redis"))

from harness import (Fixture, Skip, check, check_sanitizers, info,  # noqa: E402
                     list_tree, read_manifest, run_test, tail)
from redisfix import Redis, command, find_redis, free_port  # noqa: E402

HOSTS = 24
TIMEOUT = 90


def resp(port, *args):
    """One command to the Redis on 127.0.0.1:port, its reply."""
    return command("127.0.0.1", port, *args)


class Crawl:
    """A site, a Redis and the crawler, with helpers to run workers."""

    def __init__(self, ctx, redis, fx, tag, scope):
        self.ctx = ctx
        self.redis = redis
        self.fx = fx
        self.tag = tag
        self.url = "redis://127.0.0.1:%d/0" % redis.port
        self.seed = "http://s0.test:%d/s/0" % fx.http_port
        self.scope = list(scope) + ["--span-hosts", "--domains", "test",
                                    "--dns-servers", fx.dns_arg()]

    def describe(self, name, extra=(), rc=0):
        r = self.ctx.crawl(["--redis", self.url, "--crawl", name] + self.scope + list(extra)
                           + [self.seed], timeout=30)
        r.expect_rc(rc)
        return r

    def start(self, name, out, extra=()):
        err = open(out + ".err", "wb")
        p = subprocess.Popen([self.ctx.crawler, "--redis", self.url, "--crawl", name,
                              "-o", out] + list(extra),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        p.out = out
        return p

    def finish(self, procs, want_rc=0):
        deadline = time.monotonic() + TIMEOUT
        for p in procs:
            try:
                p.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise AssertionError("worker %s did not end in %d s: %s"
                                     % (p.out, TIMEOUT, self.err(p)))
            if want_rc is not None:
                check(p.returncode == want_rc, lambda: "worker %s exited %s, not %s: %s"
                      % (p.out, p.returncode, want_rc, self.err(p)))
            with open(p.out + ".err", "rb") as f:
                check_sanitizers(f.read(), lambda: p.out)

    @staticmethod
    def err(p):
        with open(p.out + ".err", "rb") as f:
            return tail(f.read().decode(errors="replace"), 60)


def files_of(root):
    """{relative path: bytes} of the pages under root (no manifest)."""
    out = {}
    for rel in list_tree(root)[0]:
        p = os.path.join(root, rel)
        if os.path.isfile(p) and rel != "manifest.jsonl" and not rel.endswith(".err"):
            with open(p, "rb") as f:
                out[rel] = f.read()
    return out


def union(dirs, twice=False):
    """The pages and manifest lines of several workers' directories.  A
    page saved twice (twice: allowed, after a kill) must have one content."""
    files = {}
    recs = []
    for d in dirs:
        for rel, data in files_of(d).items():
            check(rel not in files or (twice and files[rel] == data),
                  "%s saved by two workers" % rel)
            files[rel] = data
        recs += read_manifest(os.path.join(d, "manifest.jsonl"))
    return files, recs


def redis_line(text):
    m = re.search(r"redis: (\d+) round trips, (\d+) commands, (\d+) bytes out, "
                  r"(\d+) bytes in, (\d+) pages", text)
    check(m, "no redis line in: %s" % text)
    return [int(x) for x in m.groups()]


def site(ctx, pages, delay, links=4, log=False):
    return Fixture(ctx.fixture_exe, log=log, lifetime=300,
                   extra=["--s-hosts", str(HOSTS), "--s-pages", str(pages),
                          "--s-delay", str(delay), "--s-links", str(links)])


def reference(ctx, c, name, extra=()):
    work = ctx.workdir(name)
    r = ctx.crawl(["-o", "out", "-q"] + c.scope + list(extra) + [c.seed], cwd=work, timeout=TIMEOUT)
    r.expect_rc(0)
    out = os.path.join(work, "out")
    return files_of(out), read_manifest(os.path.join(out, "manifest.jsonl"))


def equal_to_reference(ref_files, ref_recs, files, recs, what):
    urls = collections.Counter(r["url"] for r in recs)
    dups = [u for u, n in urls.items() if n > 1]
    check(not dups, lambda: "%s: URLs with two lines: %s" % (what, dups[:5]))
    ref = {r["url"]: r for r in ref_recs}
    check(set(urls) == set(ref), lambda: "%s: %d URLs, reference %d; missing %s, extra %s"
          % (what, len(urls), len(ref), sorted(set(ref) - set(urls))[:5],
             sorted(set(urls) - set(ref))[:5]))
    for r in recs:
        check(r["status"] == ref[r["url"]]["status"] and r["depth"] == ref[r["url"]]["depth"],
              lambda: "%s: %s status/depth %s/%s, reference %s/%s" % (
                  what, r["url"], r["status"], r["depth"], ref[r["url"]]["status"],
                  ref[r["url"]]["depth"]))
    check(set(files) == set(ref_files), lambda: "%s: files differ: missing %s, extra %s" % (
        what, sorted(set(ref_files) - set(files))[:5], sorted(set(files) - set(ref_files))[:5]))
    bad = [k for k in files if files[k] != ref_files[k]]
    check(not bad, lambda: "%s: bytes differ: %s" % (what, bad[:5]))


def scenario_workers(ctx, redis):
    with site(ctx, 600, 30) as fx:
        c = Crawl(ctx, redis, fx, "w", ["-r", "-l", "inf"])
        ref_files, ref_recs = reference(ctx, c, "ref")
        check(len(ref_recs) == 600, "reference crawl: %d lines" % len(ref_recs))
        for n in (1, 2, 4):
            name = "w%d" % n
            r = c.describe(name)
            check("1 seeds queued" in r.err, r.describe)
            base = ctx.workdir(name)
            procs = [c.start(name, os.path.join(base, "o%d" % i)) for i in range(n)]
            c.finish(procs)
            files, recs = union([p.out for p in procs])
            equal_to_reference(ref_files, ref_recs, files, recs, "%d workers" % n)
            trips = sum(redis_line(c.err(p))[0] for p in procs)
            busy = sum(1 for p in procs if read_manifest(os.path.join(p.out, "manifest.jsonl")))
            info("%d workers: %d pages, %d round trips (%.2f a page), %d did work"
                 % (n, len(recs), trips, trips / len(recs), busy))
            check(trips < len(recs), "%d round trips for %d pages" % (trips, len(recs)))
            check(n == 1 or busy >= 2, "%d workers, only %d had pages" % (n, busy))
            # Over: nothing queued, nothing in flight, no lease left.
            check(resp(redis.port, "GET", "cr:{%s}:open" % name) == b"0", "open is not 0")
            left = resp(redis.port, "KEYS", "cr:{%s}:lease:*" % name)
            check(not left, "leases left after the end: %s" % left[:3])


def scenario_depth(ctx, redis):
    with site(ctx, 3000, 600, links=5) as fx:
        c = Crawl(ctx, redis, fx, "d", ["-r", "-l", "4"])
        ref_files, ref_recs = reference(ctx, c, "ref-depth")
        c.describe("depth")
        base = ctx.workdir("depth")
        procs = [c.start("depth", os.path.join(base, "o%d" % i)) for i in range(4)]
        c.finish(procs)
        files, recs = union([p.out for p in procs])
        equal_to_reference(ref_files, ref_recs, files, recs, "-l 4, 4 workers")
        info("-l 4: %d URLs at the reference's depths" % len(recs))


def fetch_counts(fx):
    return collections.Counter(t for h, t in fx.log_lines() if t.startswith("/s/"))


def scenario_kill(ctx, redis):
    with site(ctx, 1200, 300, log=True) as fx:
        c = Crawl(ctx, redis, fx, "k", ["-r", "-l", "inf", "--redis-lease", "2"])
        c.describe("kill")
        base = ctx.workdir("kill")
        procs = [c.start("kill", os.path.join(base, "o%d" % i), ["-c", "16"]) for i in range(3)]
        time.sleep(1.5)
        procs[1].kill()
        procs[1].wait(timeout=10)
        c.finish([procs[0], procs[2]])
        files, recs = union([p.out for p in procs], twice=True)
        urls = collections.Counter(r["url"] for r in recs)
        check(len(urls) == 1200, "after a kill: %d URLs have lines, not 1200" % len(urls))
        again = sum(n - 1 for n in fetch_counts(fx).values())
        dup = sum(n - 1 for n in urls.values())
        info("kill -9: 1200 URLs; %d fetched twice, %d with two lines" % (again, dup))
        # Its transfers in flight (-c 16), and what it finished in its last
        # batch before saying so.
        check(again <= 32, "%d pages fetched again after a kill of a -c 16 worker" % again)
        check(dup <= again, "%d lines twice, %d fetches again" % (dup, again))


def scenario_restart(ctx, redis):
    with site(ctx, 1200, 300, log=True) as fx:
        c = Crawl(ctx, redis, fx, "r", ["-r", "-l", "inf"])
        c.describe("restart")
        base = ctx.workdir("restart")
        procs = [c.start("restart", os.path.join(base, "o%d" % i)) for i in range(2)]
        time.sleep(1.2)
        redis.kill()
        time.sleep(1.0)
        redis.start()
        c.finish(procs)
        files, recs = union([p.out for p in procs])
        urls = collections.Counter(r["url"] for r in recs)
        check(len(urls) == 1200, "after a restart: %d URLs, not 1200" % len(urls))
        check(all(n == 1 for n in urls.values()), "after a restart: URLs with two lines")
        again = sum(n - 1 for n in fetch_counts(fx).values())
        check(again == 0, "%d pages fetched again across a Redis restart" % again)
        text = "".join(c.err(p) for p in procs)
        check("connected again" in text, "no reconnect reported: %s" % text)
        info("restart: 1200 URLs once, reconnected")


def scenario_join(ctx, redis):
    with site(ctx, 2000, 600) as fx:
        c = Crawl(ctx, redis, fx, "j", ["-r", "-l", "inf"])
        ref_files, ref_recs = reference(ctx, c, "join-ref")
        c.describe("join")
        base = ctx.workdir("join")
        first = c.start("join", os.path.join(base, "first"))
        time.sleep(1.5)
        check(first.poll() is None, "the first worker ended before the second joined")
        second = c.start("join", os.path.join(base, "second"))
        # Within a few beats the shards are split evenly: the first gives
        # back the surplus once what it took of them is done (delays of at
        # most 600 ms here).
        time.sleep(1.5)
        owners = collections.Counter(resp(redis.port, "MGET", *resp(
            redis.port, "KEYS", "cr:{join}:lease:*")) or [])
        info("join: leases %s" % sorted(owners.values()))
        check(first.poll() is not None or
              (len(owners) == 2 and min(owners.values()) >= 100),
              "shards not shared 1.5 s after a join: %s" % dict(owners))
        c.finish([first, second])
        files, recs = union([first.out, second.out])
        n2 = len(read_manifest(os.path.join(second.out, "manifest.jsonl")))
        # Shards moved while the first worker had URLs of them in hand:
        # URLs it took at a depth later found shorter are lowered by it
        # (their lower records follow the taker, not the shard).
        equal_to_reference(ref_files, ref_recs, files, recs, "join")
        check(n2 > 0, "the joining worker got no page")
        info("join: the second worker did %d of 2000" % n2)


def scenario_errors(ctx, redis):
    dead = "redis://127.0.0.1:%d/0" % free_port()
    r = ctx.crawl(["--redis", dead, "--crawl", "x", "-r", "http://a.test/"], timeout=30)
    r.expect_rc(3)
    check("redis" in r.err and "refused" in r.err, r.describe)
    r = ctx.crawl(["--redis", dead, "--crawl", "x", "-o", os.path.join(ctx.tmp, "x")], timeout=30)
    r.expect_rc(3)
    url = "redis://127.0.0.1:%d/0" % redis.port
    r = ctx.crawl(["--redis", url, "--crawl", "nothing", "-o", os.path.join(ctx.tmp, "y")])
    r.expect_rc(2)
    check("no crawl 'nothing'" in r.err, r.describe)
    ctx.crawl(["--redis", url, "--crawl", "e", "-r", "-l", "2", "http://a.test/"]).expect_rc(0)
    r = ctx.crawl(["--redis", url, "--crawl", "e", "-r", "-l", "3", "http://a.test/"])
    r.expect_rc(2)
    check("depth=2" in r.err and "depth=3" in r.err, r.describe)
    r = ctx.crawl(["--redis", url, "--crawl", "e", "-l", "3", "-o", os.path.join(ctx.tmp, "z")])
    r.expect_rc(2)
    check("depth=2" in r.err and "depth=3" in r.err, r.describe)
    for flags in (["-k"], ["-N"], ["--resume"], ["--max-pages", "5"]):
        r = ctx.crawl(["--redis", url, "--crawl", "f", "-r"] + flags + ["http://a.test/"])
        r.expect_rc(2)
    r = ctx.crawl(["--redis", url, "-r", "http://a.test/"])
    r.expect_rc(2)
    r = ctx.crawl(["--redis", url, "--crawl", "a b", "http://a.test/"])
    r.expect_rc(2)
    # A conf that is not a crawl's.
    resp(redis.port, "SET", "cr:{bad}:conf", "garbage")
    r = ctx.crawl(["--redis", url, "--crawl", "bad", "-o", os.path.join(ctx.tmp, "b")])
    r.expect_rc(3)
    check("WRONGTYPE" in r.err, r.describe)
    info("errors: exits 3, 2, 2, 2 with their messages")


def scenario_hostile(ctx, redis):
    with site(ctx, 400, 20) as fx:
        c = Crawl(ctx, redis, fx, "h", ["-r", "-l", "inf"])
        ref_files, ref_recs = reference(ctx, c, "ref-hostile")
        c.describe("hostile")
        p = "cr:{hostile}:"
        # Records that do not parse, one whose hash is not its URL's, one
        # whose URL belongs to another shard, and keys of the wrong type.
        resp(redis.port, "RPUSH", p + "q:3", "garbage", "0123456789abcdef 1 0\n\nhttp://evil.test/x",
             "zz" * 9000)
        resp(redis.port, "RPUSH", p + "q:4", "%016x 0 0\n\n%s" % (0, c.seed))
        # Not the seed's queue: overwriting it would lose the seed (which
        # the audit finds, and the crawl ends empty, as the last part shows).
        seed_q = [s for s in range(256) if resp(redis.port, "LLEN", p + "q:%d" % s)]
        for s in range(5, 256, 7):
            if s not in seed_q:
                resp(redis.port, "SET", p + "q:%d" % s, "not a list")
        resp(redis.port, "SET", p + "seen:abc", "not a hash")
        # Lower records waiting for the two workers (numbers 1 and 2, drawn
        # as they join): garbage, a forged hash, a URL outside the site.
        resp(redis.port, "RPUSH", p + "low:1", "garbage", "7 0123456789abcdef 1 2\n\nhttp://evil.test/y")
        resp(redis.port, "RPUSH", p + "low:2", "no shard", "9 %016x 0 2\n\n%s" % (0, c.seed))
        base = ctx.workdir("hostile")
        procs = [c.start("hostile", os.path.join(base, "o%d" % i)) for i in range(2)]
        c.finish(procs)
        files, recs = union([q.out for q in procs])
        # The URLs of the shards whose queue key is broken cannot be queued:
        # they are reported; every other page is there, byte for byte.
        text = "".join(c.err(q) for q in procs)
        check("bad record" in text or "does not parse" in text, "no bad record reported: %s" % text)
        check("wrong type" in text, "no wrong-type key reported: %s" % text)
        check(p + "low:1 ('garbage')" in text and p + "low:2 ('no shard')" in text,
              "bad lower records not reported: %s" % text)
        check(not any("evil.test" in r["url"] for r in recs), "a forged record was fetched")
        check(not resp(redis.port, "KEYS", p + "low*"), "lower records left in Redis")
        urls = {r["url"] for r in recs}
        check(urls <= {r["url"] for r in ref_recs}, "URLs outside the site")
        for rel, data in files.items():
            check(ref_files.get(rel) == data, "%s differs from the reference" % rel)
        info("hostile: %d of %d pages, the bad data reported" % (len(recs), len(ref_recs)))
        # A queue overwritten with its URLs in it: the crawl would count
        # them open for ever; an idle worker's audit finds none anywhere,
        # says so and the crawl ends.
        c.describe("lost")
        q = [s for s in range(256) if resp(redis.port, "LLEN", "cr:{lost}:q:%d" % s)]
        check(len(q) == 1, "the seed is not in one queue: %s" % q)
        resp(redis.port, "SET", "cr:{lost}:q:%d" % q[0], "not a list")
        w = c.start("lost", os.path.join(base, "lost"))
        c.finish([w])
        check("lost to changes made in Redis" in c.err(w), "the lost URL not reported: %s"
              % c.err(w))


def body(ctx):
    exe = find_redis()
    if not exe:
        raise Skip("redis-server is not installed (tests/run.sh installs it)")
    rdir = os.path.join(ctx.tmp, "redis")
    os.mkdir(rdir)
    redis = Redis(exe, free_port(), rdir)
    redis.start()
    # CRAWLER_WORKERS_ONLY=join,kill runs those alone (as in test_workers_redis).
    only = [s for s in os.environ.get("CRAWLER_WORKERS_ONLY", "").split(",") if s]
    try:
        for name, fn in (("errors", scenario_errors), ("workers", scenario_workers),
                         ("depth", scenario_depth), ("kill", scenario_kill),
                         ("restart", scenario_restart), ("join", scenario_join),
                         ("hostile", scenario_hostile)):
            if not only or name in only:
                fn(ctx, redis)
    finally:
        redis.stop()


if __name__ == "__main__":
    run_test(body)
