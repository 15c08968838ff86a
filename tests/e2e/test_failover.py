"""Failover between a host's addresses (issue 9).

lo2-3-1.test has three A records in this order: 127.0.0.2 and 127.0.0.3
(loopback, nothing listening on the fixture's port: the connection is
refused) and 127.0.0.1 (the fixture).  With --connect-timeout 60, libcurl
handed the whole list waited about 30 s before the third address; the
crawler hands one address per attempt and moves on at once after a
refusal.  The page is saved with attempts 1, and the manifest's seconds
stay far below that wait (the bound cannot be reached by a slow machine,
only by waiting out a connect timeout).

lo2-3.test has only refusing addresses: its URLs fail with "host
unreachable" or a connect error, after at most --retries + 1 attempts,
while the other host's pages are still saved."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BOUND = 10.0  # seconds; the old behaviour took ~30 s here


def body(ctx):
    with ctx.fixture(log=True) as fx:
        good = [fx.url("/p/%d" % i, "lo2-3-1.test") for i in range(3)]
        bad = [fx.url("/p/%d" % i, "lo2-3.test") for i in range(3)]
        work = ctx.workdir("first")
        r = ctx.crawl(["-o", "out", "--no-state", "--connect-timeout", "60",
                       "--per-host", "1", "--dns-servers", fx.dns_arg()]
                      + good + bad, cwd=work, timeout=100)
        r.expect_rc(1)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        got = h.by_url(recs)
        h.check(len(recs) == len(good) + len(bad), "expected %d manifest "
                "lines, got %d" % (len(good) + len(bad), len(recs)))
        for u in good:
            rec = got.get(u)
            h.check(rec, "no manifest line for %s" % u)
            h.expect_ok(rec)
            h.check(rec["attempts"] == 1, lambda: "a refused address cost "
                    "an attempt:\n" + h.show(rec))
            h.check(rec["seconds"] < BOUND, lambda: "took %.1f s to reach "
                    "the third address:\n%s" % (rec["seconds"], h.show(rec)))
        h.verify_saved(ctx.fixture_exe, os.path.join(work, "out"), recs)
        for u in bad:
            rec = got.get(u)
            h.check(rec, "no manifest line for %s" % u)
            h.expect_failed(rec, r"host unreachable|connect")
            h.check(rec["attempts"] <= 3, lambda: "more attempts than "
                    "--retries allows:\n" + h.show(rec))
        h.check(len(fx.log_lines()) == len(good), "expected %d requests at "
                "the fixture" % len(good))


h.run_test(body)
