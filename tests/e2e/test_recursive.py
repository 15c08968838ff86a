"""Recursive crawling against the fixture's generated site: two virtual
hosts that link to each other, crawled completely and each page exactly
once; --depth cuts where it should; robots.txt rules and Crawl-delay hold
(checked in the server's own request log); a link trap stops at its guard;
--no-parent, --reject-regex and --max-pages."""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PAGES = 1500
LINKS = 8        # links per page; every 7th goes to the other host
HOSTS = ["a.test", "b.test"]


def site_links(n, host):
    """The fixture's link formula (tests/fixture/fixture.c page_generate):
    link i of page n is /p/((n*31 + i*17 + 1) % PAGES), on the next host
    when i % 7 == 6."""
    out = []
    for i in range(LINKS):
        m = (n * 31 + i * 17 + 1) % PAGES
        other = HOSTS[(HOSTS.index(host) + 1) % len(HOSTS)]
        out.append((other if i % 7 == 6 else host, m))
    return out


def reachable(seed_host, seed_n, max_depth=None, allowed=lambda host, n: True):
    """Breadth-first over the generated site: {(host, n): depth}."""
    seen = {(seed_host, seed_n): 0}
    queue = collections.deque([(seed_host, seed_n)])
    while queue:
        cur = queue.popleft()
        d = seen[cur]
        if max_depth is not None and d >= max_depth:
            continue
        if not allowed(*cur):
            continue
        for nxt in site_links(cur[1], cur[0]):
            if nxt not in seen:
                seen[nxt] = d + 1
                queue.append(nxt)
    return seen


def fetched(fx):
    """(host, n) of every /p/ page the server was asked for, with counts."""
    counts = collections.Counter()
    for host, target in fx.log_lines():
        if target.startswith("/p/"):
            counts[(host.split(":")[0], int(target[3:].split("?")[0]))] += 1
    return counts


def pages_in(recs):
    out = {}
    for r in recs:
        if r["error"] is None and "/p/" in r["url"]:
            host = r["url"].split("//")[1].split(":")[0]
            out[(host, int(r["url"].rsplit("/", 1)[1]))] = r
    return out


def crawl(ctx, fx, name, args, rc=0, timeout=90):
    work = ctx.workdir(name)
    r = ctx.crawl(["-r", "-o", "out", "--dns-servers", fx.dns_arg(), "-q",
                   "-c", "200", "--per-host", "50"] + args,
                  cwd=work, timeout=timeout)
    r.expect_rc(rc)
    out = os.path.join(work, "out")
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    h.check_files_match_manifest(out, recs)
    h.check_no_tmp(out)
    h.check_only_entries(work, ["out"])
    return recs, out


def body(ctx):
    site = ["--pages", str(PAGES), "--site-links", str(LINKS),
            "--site-peers", ",".join(HOSTS)]

    # 1. The whole site over two hosts, each page exactly once.
    with ctx.fixture(log=True, extra=site) as fx:
        seed = "http://a.test:%d/p/0" % fx.http_port
        recs, out = crawl(ctx, fx, "full", ["-l", "inf", "--span-hosts",
                                            "--domains", "a.test,b.test", seed])
        want = reachable("a.test", 0)
        got = pages_in(recs)
        h.check(set(got) == set(want), lambda: "full crawl: %d pages expected, %d "
                "saved; missing e.g. %s, extra e.g. %s"
                % (len(want), len(got), sorted(set(want) - set(got))[:5],
                   sorted(set(got) - set(want))[:5]))
        counts = fetched(fx)
        twice = [k for k, c in counts.items() if c > 1]
        h.check(not twice, lambda: "pages fetched more than once: %s" % twice[:5])
        h.check(set(counts) == set(want), "server saw other pages than the site")
        for key, rec in got.items():
            h.check(rec["depth"] == want[key], lambda: "depth of %s: %s, want %d"
                    % (key, rec["depth"], want[key]))
            h.check((rec["depth"] == 0) == (rec["referrer"] is None),
                    lambda: "referrer of %s: %r" % (key, rec["referrer"]))
        h.verify_saved(ctx.fixture_exe, out, recs, extra=site)
        h.info("full crawl: %d pages on 2 hosts, each once" % len(got))

    # 2. --depth cuts exactly; other hosts stay out without --span-hosts.
    with ctx.fixture(log=True, extra=site) as fx:
        seed = "http://a.test:%d/p/7" % fx.http_port
        recs, _ = crawl(ctx, fx, "depth2", ["-l", "2", seed])
        want = {k: d for k, d in reachable("a.test", 7, max_depth=2).items()
                if k[0] == "a.test"}
        # Pages on a.test reached only through b.test are out of scope too.
        want = {k: d for k, d in reachable(
            "a.test", 7, max_depth=2,
            allowed=lambda host, n: host == "a.test").items() if k[0] == "a.test"}
        got = pages_in(recs)
        h.check(set(got) == set(want), lambda: "-l 2: %d expected, %d saved"
                % (len(want), len(got)))
        h.check(all(k[0] == "a.test" for k in fetched(fx)),
                "a page of b.test was fetched without --span-hosts")

    # 3. robots.txt: Disallow and Crawl-delay, from the server's log.
    robots = os.path.join(ctx.tmp, "robots.txt")
    with open(robots, "w") as f:
        f.write("User-agent: otherbot\nDisallow: /\n\n"
                "User-agent: *\nDisallow: /p/1\nAllow: /p/1$\nCrawl-delay: 0.05\n")
    with ctx.fixture(log=True, extra=site + ["--robots", robots, "--log-times"]) as fx:
        seed = "http://a.test:%d/p/1" % fx.http_port
        recs, _ = crawl(ctx, fx, "robots", ["-l", "3", "--max-pages", "60", seed], rc=1)
        # With --log-times a line is "MS HOST TARGET".
        lines = [(int(ms), rest.split(" ", 1)[1]) for ms, rest in fx.log_lines()]
        h.check(lines and lines[0][1] == "/robots.txt",
                lambda: "first request was not /robots.txt: %r" % lines[:2])
        paths = [p for _, p in lines]
        bad = [p for p in paths if p.startswith("/p/1") and p != "/p/1"]
        h.check(not bad, lambda: "robots.txt disallowed paths fetched: %s" % bad[:5])
        refused = [r for r in recs if r["error"] == "robots.txt disallows"]
        h.check(refused, "no URL was recorded as refused by robots.txt")
        # Request starts are 50 ms apart at the crawler; the server sees
        # them with scheduling jitter, so judge the whole span, and each gap
        # only against "no delay at all".
        times = [ms for ms, p in lines if p.startswith("/p/")]
        gaps = [b - a for a, b in zip(times, times[1:])]
        h.check(len(gaps) >= 10, lambda: "too few pages to judge: %d" % len(times))
        h.check(times[-1] - times[0] >= 0.9 * 50 * len(gaps) and min(gaps) >= 15,
                lambda: "Crawl-delay 0.05 s not kept: %d requests in %d ms, "
                "smallest gap %d ms" % (len(times), times[-1] - times[0], min(gaps)))

    # 4. A trap stops at the guard; --reject-regex, --max-pages.
    with ctx.fixture(log=True) as fx:
        seed = "http://127.0.0.1:%d/trap/" % fx.http_port
        recs, _ = crawl(ctx, fx, "trap", ["-l", "inf", "--max-host-pages", "40",
                                          "--reject-regex", "day=1[0-9]", seed],
                        timeout=60)
        paths = [t for _, t in fx.log_lines() if t.startswith("/trap/")]
        deep = max(p.count("x/") for p in paths)
        h.check(deep == 3, lambda: "trap depth reached %d repeats, want 3" % deep)
        h.check(not any("day=1" in p and p != "/trap/cal?day=1" for p in paths),
                "--reject-regex did not stop the calendar at day=10")
        h.check(len(paths) <= 40 + 1, lambda: "per-host page cap passed: %d" % len(paths))

    # 5. An unreachable host: its robots.txt cannot be had, so nothing is
    # fetched there, and the crawl ends (it once waited forever).
    dead = "http://127.0.0.1:%d/index.html" % h.free_port()
    work = ctx.workdir("dead")
    r = ctx.crawl(["-r", "-q", "-o", "out", "--retries", "1", dead], cwd=work, timeout=30)
    r.expect_rc(1)
    recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
    h.check(len(recs) == 1 and recs[0]["error"].startswith("robots.txt unavailable"),
            lambda: "unreachable seed: %r" % recs)

    # 6. --max-pages caps a plain list too.
    with ctx.fixture(log=True) as fx:
        work = ctx.workdir("maxpages")
        lst = os.path.join(work, "urls.txt")
        with open(lst, "w") as f:
            f.write("".join("%s\n" % fx.url("/p/%d" % n) for n in range(100)))
        r = ctx.crawl(["-q", "-o", "out", "-i", lst, "--max-pages", "30"], cwd=work)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == 30, lambda: "--max-pages 30: %d lines" % len(recs))
        h.check(len([t for _, t in fx.log_lines() if t.startswith("/p/")]) == 30,
                "--max-pages 30: the server saw another count")

    # 7. --no-parent.
    with ctx.fixture(log=True) as fx:
        seed = "http://127.0.0.1:%d/trap/x/" % fx.http_port
        recs, _ = crawl(ctx, fx, "noparent", ["-l", "inf", "--no-parent", seed])
        paths = [t for _, t in fx.log_lines() if t.startswith("/trap/")]
        h.check(not any(p.startswith("/trap/cal") for p in paths),
                lambda: "--no-parent let /trap/cal through: %s" % paths[:5])


    # 8. A seed that redirects to another host takes that host into the
    # scope (http to https, example.org to www.): the crawl goes on there.
    with ctx.fixture(log=True, extra=site) as fx:
        target = "http://b.test:%d/p/5" % fx.http_port
        seed = "http://a.test:%d/r/0?to=%s" % (fx.http_port, target)
        recs, _ = crawl(ctx, fx, "seedredirect", ["-l", "2", seed])
        got = pages_in(recs)
        on_b = [k for k in got if k[0] == "b.test"]
        h.check(len(on_b) > 1, lambda: "after the seed's redirect to b.test, "
                "%d b.test pages were saved" % len(on_b))
        seed_rec = [r for r in recs if r["url"] == seed]
        h.check(seed_rec and seed_rec[0]["final_url"] == target,
                lambda: "the seed's record: %r" % seed_rec)


h.run_test(body)
