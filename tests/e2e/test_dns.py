"""200 *.test hosts, 2 URLs each, resolved through the fixture's DNS with
--dns-delay 100: every page saved under HOST:PORT/, exactly one query per
host and address family, no other name queried; an NXDOMAIN host fails
with a DNS error and costs at most one query per family."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HOSTS = 200


def body(ctx):
    with ctx.fixture(dns_delay=100) as fx:
        good = []
        for i in range(HOSTS):
            host = "h%d.test" % i
            good.append((host, "/p/%d" % i))
            good.append((host, "/p/%d?s=%d" % (i + 1000, 100 + i)))
        bad = [fx.url("/p/1", "nx1.test"), fx.url("/p/2?s=10", "nx1.test")]
        urls = [fx.url(t, host) for host, t in good]
        # Interleave the NXDOMAIN host among the others.
        lines = urls[:150] + bad[:1] + urls[150:300] + bad[1:] + urls[300:]
        work = ctx.workdir("run")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("".join(u + "\n" for u in lines))
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "-c", "500",
                       "--per-host", "4", "--dns-servers", fx.dns_arg()],
                      cwd=work)
        r.expect_rc(1)
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        h.check(len(recs) == len(lines), lambda: "expected %d manifest "
                "lines, got %d" % (len(lines), len(recs)))
        got = h.by_url(recs)
        for (host, t), u in zip(good, urls):
            h.check(u in got, "no manifest line for %s" % u)
            rec = got[u]
            h.expect_ok(rec)
            want = "%s:%d%s" % (host, fx.http_port, t)
            h.check(rec["path"] == want, lambda: "expected path %s:\n%s"
                    % (want, h.show(rec)))
        for u in bad:
            h.check(u in got, "no manifest line for %s" % u)
            h.expect_failed(got[u], r"DNS")
            h.check(got[u]["status"] == 0, lambda: "status of an "
                    "unresolvable host should be 0:\n" + h.show(got[u]))
        n = h.verify_saved(ctx.fixture_exe, out, recs)
        h.check(n == len(good), "verified %d files, expected %d"
                % (n, len(good)))
        h.check_files_match_manifest(out, recs)
        h.check_no_tmp(out)
        h.check_only_entries(work, ["urls.txt", "out"])

        st = fx.stats()
        by_name = st["dns_by_name"]
        h.info("fixture: %d DNS queries, %d names"
               % (st["dns_queries"], len(by_name)))
        for i in range(HOSTS):
            for family in ("A", "AAAA"):
                key = "h%d.test|%s" % (i, family)
                h.check(by_name.get(key) == 1, lambda: "%s queried %s "
                        "times, expected exactly once (one lookup per host "
                        "and family)" % (key, by_name.get(key, 0)))
        for family in ("A", "AAAA"):
            key = "nx1.test|" + family
            h.check(by_name.get(key, 0) <= 1, "%s queried %d times, at "
                    "most once expected (a negative answer is shared by "
                    "both URLs)" % (key, by_name.get(key, 0)))
        allowed = set("h%d.test|%s" % (i, f) for i in range(HOSTS)
                      for f in ("A", "AAAA"))
        allowed |= {"nx1.test|A", "nx1.test|AAAA"}
        other = sorted(k for k in by_name if k not in allowed)
        h.check(not other, "names queried that no URL needs: %s"
                % other[:20])
        # Both URLs of a host went to the server under that host's name.
        for host, t in good:
            key = "%s %s" % (host, t)
            h.check(st["by_target"].get(key) == 1, "expected one request "
                    "%r, the fixture saw %s" % (key, st["by_target"].get(key)))
        h.check(st["requests"] == len(good), "fixture saw %d requests, "
                "expected %d" % (st["requests"], len(good)))


h.run_test(body)
