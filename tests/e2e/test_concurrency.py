"""2,000 URLs with delays of 0..1000 ms at -c 2000 --per-host 2000: all
saved byte-exact, and the fixture saw more than 1,000 requests at once."""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 2000
SEED = 20240601


def body(ctx):
    rng = random.Random(SEED)
    with ctx.fixture() as fx:
        targets = ["/p/%d?d=%d&s=%d" % (i, rng.randint(0, 1000),
                                       rng.randint(1, 20000))
                   for i in range(N)]
        urls = [fx.url(t) for t in targets]
        work = ctx.workdir("run")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("".join(u + "\n" for u in urls))
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "-c", "2000",
                       "--per-host", "2000", "-q"], cwd=work, timeout=90)
        h.info("2,000 URLs, delays 0..1000 ms: %.2f s wall (informational)"
               % r.seconds)
        r.expect_rc(0)
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        h.check(len(recs) == N, lambda: "expected %d manifest lines, got %d"
                % (N, len(recs)))
        got = h.by_url(recs)
        missing = [u for u in urls if u not in got]
        h.check(not missing, lambda: "URLs missing from the manifest "
                "(first: %s); first record: %s"
                % (missing[0], h.show(recs[0])))
        for u, t in zip(urls, targets):
            rec = got[u]
            h.expect_ok(rec)
            h.check(rec["final_url"] == u and rec["redirects"] == 0
                    and rec["attempts"] == 1, lambda: "unexpected record:\n"
                    + h.show(rec))
            h.check(rec["path"] == "127.0.0.1:%d%s" % (fx.http_port, t),
                    lambda: "unexpected path:\n" + h.show(rec))
        n = h.verify_saved(ctx.fixture_exe, out, recs)
        h.check(n == N, "verified %d files, expected %d" % (n, N))
        h.check_files_match_manifest(out, recs)
        h.check_no_tmp(out)
        h.check_only_entries(work, ["urls.txt", "out"])

        st = fx.stats()
        h.info("fixture: max_concurrent %d, connections %d, requests %d"
               % (st["max_concurrent"], st["connections"], st["requests"]))
        h.check(st["requests"] == N, "fixture saw %d requests, expected %d"
                % (st["requests"], N))
        h.check(st["max_concurrent"] > 1000,
                "max_concurrent %d: the crawl did not run more than 1,000 "
                "requests at once" % st["max_concurrent"])


h.run_test(body)
