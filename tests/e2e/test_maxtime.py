"""--max-time for the whole crawl (issue 12, item 5): when it elapses no
transfer starts, those in flight are aborted and get a manifest line
saying so, the exit status is 4, and --resume finishes the crawl, its
lines replacing those.  Bad values exit 2."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SLOW_MS = 8000


def body(ctx):
    with ctx.fixture() as fx:
        fast = [fx.url("/p/%d" % i) for i in range(3)]
        slow = [fx.url("/p/%d?d=%d" % (10 + i, SLOW_MS)) for i in range(3)]
        work = ctx.workdir("run")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("".join(u + "\n" for u in fast + slow))
        r = ctx.crawl(["-o", "out", "-i", "urls.txt", "--max-time", "1.5"],
                      cwd=work, timeout=30)
        r.expect_rc(4)
        h.check(r.seconds < SLOW_MS / 1000.0, "--max-time 1.5 took %.1f s"
                % r.seconds)
        h.check("--max-time" in r.err and "--resume" in r.err, r.describe())
        out = os.path.join(work, "out")
        recs = h.by_url(h.read_manifest(os.path.join(out, "manifest.jsonl")))
        for u in fast:
            h.expect_ok(recs[u])
        for u in slow:
            h.expect_failed(recs[u], "max-time")
        h.check_files_match_manifest(out, list(recs.values()))
        h.check_no_tmp(out)

        r = ctx.crawl(["-o", "out", "-i", "urls.txt", "--resume"], cwd=work,
                      timeout=60)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        got = h.by_url(recs)
        h.check(len(recs) == 6, "after the resume: one line per URL, "
                "got %d" % len(recs))
        for u in fast + slow:
            h.expect_ok(got[u])
        h.verify_saved(ctx.fixture_exe, out, recs)
        h.check(not os.path.exists(os.path.join(out, ".crawler")),
                "the finished crawl left its state")

        for i, v in enumerate(("0", "-1", "x", "")):
            d = ctx.workdir("bad%d" % i)
            r = ctx.crawl(["-o", "out", "--max-time", v, fast[0]], cwd=d)
            r.expect_rc(2)
            h.check("--max-time" in r.err, r.describe())
            h.check_only_entries(d, [])


h.run_test(body)
