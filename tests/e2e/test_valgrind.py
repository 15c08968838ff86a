"""A crawl under valgrind (memcheck): a recursive crawl of the fixture's
two-host site through its DNS, with robots.txt, redirects, gzip, chunked
bodies, an HTTP error, a dropped and a reset connection and a stalled body,
must show no memory error and no definite or indirect leak.  Registered
only for builds without sanitizers (valgrind and ASan exclude each other);
skipped when valgrind is missing (tests/deps.sh installs it)."""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PAGES = 150
HOSTS = ["a.test", "b.test"]


def body(ctx):
    valgrind = shutil.which("valgrind")
    if not valgrind:
        raise h.Skip("valgrind is not installed")
    site = ["--pages", str(PAGES), "--site-links", "6",
            "--site-peers", ",".join(HOSTS)]
    robots = os.path.join(ctx.tmp, "robots.txt")
    with open(robots, "w") as f:
        f.write("User-agent: *\nDisallow: /p/3\nAllow: /p/3$\n")
    with ctx.fixture(extra=site + ["--robots", robots]) as fx:
        a = "http://a.test:%d" % fx.http_port
        seeds = [a + "/p/0", a + "/r/5", a + "/chain/3", a + "/p/7?gz=1",
                 a + "/p/8?ch=1&gz=1", a + "/p/9?st=404", a + "/drop",
                 a + "/reset", a + "/stall", a + "/p/10?s=300000&links=50"]
        work = ctx.workdir("vg")
        log = os.path.join(ctx.tmp, "valgrind.log")
        cmd = [valgrind, "-q", "--error-exitcode=99", "--leak-check=full",
               "--show-leak-kinds=definite,indirect",
               "--errors-for-leak-kinds=definite,indirect",
               "--log-file=" + log, ctx.crawler,
               "-r", "-l", "inf", "--span-hosts", "--domains", "a.test,b.test",
               "-o", "out", "--dns-servers", fx.dns_arg(), "-q", "-c", "50",
               "--retries", "0", "--timeout", "20", "--low-speed-time", "2"] + seeds
        r = h.run_crawler(cmd[0], cmd[1:], timeout=300, cwd=work)
        with open(log) as f:
            report = f.read()
        h.check(r.rc != 99 and not re.search(r"==\d+== \S", report),
                lambda: "valgrind found errors (rc %d):\n%s" % (r.rc, h.tail(report, 60)))
        r.expect_rc(1)  # the 404, drop, reset and stall fail
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        ok = [x for x in recs if x["error"] is None]
        pages = [x for x in ok if "/p/" in x["url"]]
        h.check(len(pages) >= PAGES, lambda: "only %d pages saved" % len(pages))
        expected_bad = ("/drop", "/reset", "/stall", "/p/9?st=404")
        for x in recs:
            if x["error"] is None or x["error"] == "robots.txt disallows":
                continue
            h.check(x["url"].endswith(expected_bad),
                    lambda: "unexpected failure: %s" % h.show(x))
        failed = {x["url"] for x in recs if x["error"]}
        for want in expected_bad:
            h.check(a + want in failed, lambda: "%s did not fail" % want)
        h.check_files_match_manifest(out, recs)
        h.check_no_tmp(out)
        h.info("valgrind: %d URLs, %d saved, no errors, no leaks" % (len(recs), len(ok)))


if __name__ == "__main__":
    h.run_test(body)
