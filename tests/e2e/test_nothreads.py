"""One process, one thread: a 200-URL crawl (with *.test hosts resolved
through the fixture's DNS and a cross-host redirect) under strace makes no
clone, clone3, fork or vfork call at all, nor do hosts of digits and dots
that are no address.  Skipped without strace."""

import os
import re
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CALLS = ("clone", "clone3", "fork", "vfork")


def body(ctx):
    strace = shutil.which("strace")
    if not strace:
        raise h.Skip("strace is not installed")
    probe = subprocess.run([strace, "-f", "-o", os.devnull, "true"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
    if probe.returncode != 0:
        raise h.Skip("strace cannot trace here: %s"
                     % probe.stderr.decode("utf-8", "replace").strip())

    with ctx.fixture() as fx:
        urls = []
        for i in range(150):
            urls.append(fx.url("/p/%d?d=%d" % (i, i % 50)))
        for i in range(40):
            urls.append(fx.url("/p/%d" % i, "t%d.test" % (i % 10)))
        urls.append(fx.url("/r/5?to=" + urllib.parse.quote(
            fx.url("/p/5?s=500", "other.test"), safe=""), "t1.test"))
        for i in range(9):
            urls.append(fx.url("/r/%d" % (100 + i)))
        h.check(len(urls) == 200, "the list should have 200 URLs")
        work = ctx.workdir("run")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("".join(u + "\n" for u in urls))
        trace = os.path.join(ctx.tmp, "strace.out")
        env = dict(os.environ)
        # LeakSanitizer's exit-time check runs in a task it clones; that is
        # the sanitizer's, not the crawler's, so it is turned off here.
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":detect_leaks=0").lstrip(":")
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "-c", "100",
                       "--per-host", "50", "--dns-servers", fx.dns_arg()],
                      cwd=work, env=env, timeout=90,
                      wrapper=[strace, "-f", "-qq", "-e",
                               "trace=" + ",".join(CALLS), "-o", trace])
        r.expect_rc(0)
        with open(trace, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        calls = [line for line in text.splitlines()
                 if re.search(r"\b(%s)\(" % "|".join(CALLS), line)]
        h.check(not calls, lambda: "the crawler created %d threads or "
                "processes:\n%s" % (len(calls), "\n".join(calls[:10])))
        h.info("strace: no %s calls" % "/".join(CALLS))

        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        h.check(len(recs) == 200, "expected 200 manifest lines, got %d"
                % len(recs))
        bad = [x for x in recs if x["error"] is not None]
        h.check(not bad, lambda: "failed URLs:\n"
                + "\n".join(h.show(x) for x in bad[:5]))
        h.check(h.verify_saved(ctx.fixture_exe, out, recs) == 200,
                "200 files expected")
        h.check_files_match_manifest(out, recs)
        by_name = fx.stats()["dns_by_name"]
        h.check("other.test|A" in by_name and "t3.test|A" in by_name,
                "the *.test names were not resolved through the fixture: %s"
                % by_name)

        # Hosts of digits and dots that are no address once passed for one
        # and went to libcurl's own resolver, on a thread: as redirect
        # targets and as list entries they are refused, and nothing clones.
        odd = ["http://1.2.3.4.5:%d/x" % fx.http_port,
               "http://4294967296:%d/x" % fx.http_port,
               "http://999.1.1.1:%d/x" % fx.http_port]
        urls = odd + [fx.url("/r/%d?to=%s" % (i, urllib.parse.quote(u, safe="")))
                      for i, u in enumerate(odd)]
        work = ctx.workdir("numeric")
        trace = os.path.join(ctx.tmp, "strace-numeric.out")
        r = ctx.crawl(["-o", "out", "--retries", "0", "--dns-servers",
                       fx.dns_arg()] + urls, cwd=work, env=env, timeout=60,
                      wrapper=[strace, "-f", "-qq", "-e",
                               "trace=" + ",".join(CALLS), "-o", trace])
        r.expect_rc(1)
        with open(trace, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        calls = [line for line in text.splitlines()
                 if re.search(r"\b(%s)\(" % "|".join(CALLS), line)]
        h.check(not calls, lambda: "numeric hosts made threads:\n%s"
                % "\n".join(calls[:10]))
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == len(urls), "expected %d manifest lines, got %d"
                % (len(urls), len(recs)))
        for rec in recs:
            h.expect_failed(rec, r"bad IPv4 address")


h.run_test(body)
