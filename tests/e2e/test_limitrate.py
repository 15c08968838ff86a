"""--limit-rate (issue 12, item 5): a cap per transfer, as wget's is per
download: one 300 KB body at 100k/s takes about 3 s, two at once take
about as long, not twice.  Bad values exit 2."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402

SIZE = 300 * 1024


def body(ctx):
    with pyserve.serve(lambda req: (200, [("Content-Type",
                                           "application/octet-stream")],
                                    b"x" * SIZE)) as site:
        work = ctx.workdir("one")
        r = ctx.crawl(["-o", "out", "--limit-rate", "100k",
                       site.url("/a")], cwd=work, timeout=30)
        r.expect_rc(0)
        h.check(r.seconds >= 1.5, "300 KB at 100k/s took %.2f s"
                % r.seconds)
        one = r.seconds
        work = ctx.workdir("two")
        r = ctx.crawl(["-o", "out", "--limit-rate", "100k", site.url("/a"),
                       site.url("/b")], cwd=work, timeout=30)
        r.expect_rc(0)
        h.check(r.seconds < one * 1.8, "the limit is per transfer: one took "
                "%.2f s, two at once %.2f s" % (one, r.seconds))
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(all(x["bytes"] == SIZE for x in recs), "bodies: %r" % recs)
        for i, v in enumerate(("0", "x", "10X", "-1k", "")):
            d = ctx.workdir("bad%d" % i)
            r = ctx.crawl(["-o", "out", "--limit-rate", v, site.url("/a")],
                          cwd=d)
            r.expect_rc(2)
            h.check("--limit-rate" in r.err, r.describe())
            h.check_only_entries(d, [])


h.run_test(body)
