"""The hostile server crawled with --warc (issue 10): every case ends as
without it - the same checks as e2e-hostile's main crawl, reasons, files
and bounds - and the WARC files stay valid: every record and digest checks
out (warcread.py, and warcio when installed), the index matches, and every
URL whose response came back complete has its response archived."""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_hostile as th  # noqa: E402
import test_warc as tw  # noqa: E402
import warcread as wr  # noqa: E402


def body(ctx):
    hs = th.Hostile()
    try:
        with ctx.fixture() as fx:
            work, recs = th.main_crawl(ctx, fx, hs, warc="crawl")
    finally:
        hs.stop()
    files = sorted(glob.glob(os.path.join(work, "crawl-*.warc.gz")))
    idx = glob.glob(os.path.join(work, "crawl-*.cdxj"))
    h.check(files and len(idx) == 1, "no WARC files or no index")
    records = wr.read_warc(files, idx[0])
    by = tw.responses_by_uri(records)
    missing = [r for r in recs if r["path"] and r["final_url"] not in by]
    h.check(not missing, lambda: "saved pages without a response record:\n"
            + "\n".join(h.show(r) for r in missing[:5]))
    truncated = sum(1 for r in records if "WARC-Truncated" in r.hdr)
    h.info("hostile with --warc: %d records in %d files, %d truncated, %d MB"
           % (len(records), len(files), truncated,
              sum(os.path.getsize(f) for f in files) // 1000000))
    tw.warcio_check(files, idx[0])


h.run_test(body)
