"""DNS servers that do not keep up (issue 9).

1. A slow reader: the fixture's DNS with the kernel's default receive
   buffer (--dns-rcvbuf 106496, doubled by the kernel to 212992), reading
   1,000 queries a second and answering each after 300 ms.  300 hosts x 2
   URLs: every page is saved, and the crawler's pacing keeps the server's
   socket from overflowing: few datagrams dropped by the kernel, few names
   asked twice.  Sent all at once (the old behaviour, up to 512 lookups =
   1,024 queries), about 430 of the 600 queries are dropped.
2. A server that never answers: every URL fails with "DNS: timeout", and
   the crawl ends near the documented give-up time (5 s), well before the
   14 s of c-ares's own 2 + 4 + 8 s.  The bound is a hang guard with room
   for a slow machine, not a measurement.
3. Two servers, the first never answering: every page is saved through
   the second.
4. Two servers, the first answering SERVFAIL to everything: every name is
   asked of the second once, and of the first at most once (after three
   failures it gets no more first tries).

No wall-clock figure is asserted except the generous bound of case 2;
times are printed for information."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HOSTS = 300
# Twice the old behaviour would be ~430 drops; the paced crawler drops
# none on an idle machine.  The bounds leave room for a loaded one, where
# the fixture reads late and its buffer fills anyway.
MAX_DROPS = 150
MAX_REPEATED = 150
GIVE_UP_BOUND = 11.0  # documented: 5 s; old code: 14 s


def write_urls(work, urls):
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("".join(u + "\n" for u in urls))


def slow_reader(ctx):
    with ctx.fixture(dns_delay=300,
                     extra=["--dns-rcvbuf", "106496", "--dns-rate",
                            "1000"]) as fx:
        urls = []
        for i in range(HOSTS):
            host = "h%d.test" % i
            urls.append(fx.url("/p/%d" % i, host))
            urls.append(fx.url("/p/%d?s=%d" % (i + 1000, 100 + i), host))
        work = ctx.workdir("slow")
        write_urls(work, urls)
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "-c", "600",
                       "--per-host", "4", "--no-state",
                       "--dns-servers", fx.dns_arg()], cwd=work, timeout=90)
        r.expect_rc(0)
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        h.check(len(recs) == len(urls), "expected %d manifest lines, got %d"
                % (len(urls), len(recs)))
        got = h.by_url(recs)
        for u in urls:
            h.check(u in got, "no manifest line for %s" % u)
            h.expect_ok(got[u])
            h.check(got[u]["attempts"] == 1, lambda: "expected 1 attempt:\n"
                    + h.show(got[u]))
        st = fx.stats()
        by_name = st["dns_by_name"]
        repeated = sum(n - 1 for n in by_name.values() if n > 1)
        h.info("slow reader: %d queries read, %d dropped by the kernel, "
               "%d repeated, %d names" % (st["dns_queries"], st["dns_drops"],
                                           repeated, len(by_name)))
        h.check(len(by_name) == 2 * HOSTS, "expected %d names|types asked, "
                "got %d" % (2 * HOSTS, len(by_name)))
        h.check(st["dns_drops"] <= MAX_DROPS, "the fixture's DNS socket "
                "dropped %d queries (at most %d expected): lookups are not "
                "paced" % (st["dns_drops"], MAX_DROPS))
        h.check(repeated <= MAX_REPEATED, "%d queries repeated (at most %d "
                "expected): retries are too eager" % (repeated, MAX_REPEATED))


def blackhole(ctx):
    with ctx.fixture() as fx, \
            ctx.fixture(extra=["--dns-blackhole"]) as dead:
        urls = []
        for i in range(50):
            host = "dead%d.test" % i
            urls.append(fx.url("/p/%d" % i, host))
            urls.append(fx.url("/p/%d?s=10" % i, host))
        work = ctx.workdir("blackhole")
        write_urls(work, urls)
        t0 = time.monotonic()
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "--no-state",
                       "--dns-servers", dead.dns_arg()], cwd=work, timeout=60)
        secs = time.monotonic() - t0
        r.expect_rc(1)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == len(urls), "expected %d manifest lines, got %d"
                % (len(urls), len(recs)))
        for rec in recs:
            h.expect_failed(rec, r"^DNS: timeout$")
        st = dead.stats()
        h.info("blackhole: %d queries unanswered, crawl %.2f s"
               % (st["dns_unanswered"], secs))
        h.check(secs < GIVE_UP_BOUND, "a dead DNS server took %.1f s to "
                "give up on; documented: 5 s" % secs)
        h.check(fx.stats()["requests"] == 0, "HTTP requests without an "
                "address")


def two_servers(ctx):
    with ctx.fixture() as fx, \
            ctx.fixture(extra=["--dns-blackhole"]) as dead:
        urls = [fx.url("/p/%d" % i, "two%d.test" % i) for i in range(60)]
        work = ctx.workdir("two")
        write_urls(work, urls)
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "--no-state",
                       "--dns-servers",
                       dead.dns_arg() + "," + fx.dns_arg()],
                      cwd=work, timeout=60)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == len(urls), "expected %d manifest lines, got %d"
                % (len(urls), len(recs)))
        for rec in recs:
            h.expect_ok(rec)
        h.info("two servers: %d queries to the dead one, %d to the live one"
               % (dead.stats()["dns_unanswered"], fx.stats()["dns_queries"]))


def servfail_first(ctx):
    with ctx.fixture() as fx, \
            ctx.fixture(extra=["--dns-servfail"]) as bad:
        urls = [fx.url("/p/%d" % i, "sf%d.test" % i) for i in range(40)]
        work = ctx.workdir("servfail")
        write_urls(work, urls)
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "--no-state",
                       "--dns-servers", bad.dns_arg() + "," + fx.dns_arg()],
                      cwd=work, timeout=60)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == len(urls), "expected %d manifest lines, got %d"
                % (len(urls), len(recs)))
        for rec in recs:
            h.expect_ok(rec)
        good = fx.stats()["dns_by_name"]
        failed = bad.stats()["dns_by_name"]
        h.info("servfail first: %d names|types asked of the failing server, "
               "%d of the good one" % (len(failed), len(good)))
        for i in range(40):
            for family in ("A", "AAAA"):
                key = "sf%d.test|%s" % (i, family)
                h.check(good.get(key) == 1, "%s asked %s times of the good "
                        "server, once expected" % (key, good.get(key, 0)))
                h.check(failed.get(key, 0) <= 1, "%s asked %d times of the "
                        "failing server: retried where another server was "
                        "left" % (key, failed.get(key, 0)))


def body(ctx):
    slow_reader(ctx)
    blackhole(ctx)
    two_servers(ctx)
    servfail_first(ctx)


h.run_test(body)
