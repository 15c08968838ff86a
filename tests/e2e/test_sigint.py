"""SIGINT (and SIGTERM) in the middle of a crawl of 300 slow pages: exit
status 130 soon after, temporary files removed, no page saved, the manifest
valid, the summary printed."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 300
DELAY_MS = 5000


def interrupt(ctx, fx, name, sig):
    work = ctx.workdir(name)
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("".join(fx.url("/p/%d?d=%d&x=%s" % (i, DELAY_MS, name))
                        + "\n" for i in range(N)))
    before = fx.stats()["requests"]
    errf = open(os.path.join(ctx.tmp, name + ".stderr"), "w+b")
    t0 = time.monotonic()
    p = subprocess.Popen([ctx.crawler, "-i", "urls.txt", "-o", "out",
                          "-c", str(N), "--per-host", str(N)],
                         cwd=work, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=errf)
    try:
        deadline = time.monotonic() + 20
        while True:
            st = fx.stats()
            if st["active"] >= 100:
                break
            h.check(p.poll() is None, "crawler exited (%s) before the "
                    "signal" % p.returncode)
            h.check(time.monotonic() < deadline, "the fixture never saw 100 "
                    "requests at once (active %d)" % st["active"])
            time.sleep(0.05)
        sent_after = time.monotonic() - t0
        h.info("%s: %d requests active; signal after %.2f s"
               % (name, st["active"], sent_after))
        p.send_signal(sig)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise h.Failure("%s: the crawler did not exit within 10 s of "
                            "the signal" % name)
        h.info("%s: exited %.2f s after the signal (informational)"
               % (name, time.monotonic() - t0 - sent_after))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    errf.seek(0)
    err = errf.read()
    errf.close()
    h.check_sanitizers(err)
    h.check(rc == 130, "%s: expected exit status 130, got %s\nstderr:\n%s"
            % (name, rc, h.tail(err)))
    h.check(b"interrupted" in err, "%s: no summary saying 'interrupted' on "
            "stderr:\n%s" % (name, h.tail(err)))
    out = os.path.join(work, "out")
    h.check_no_tmp(out)
    pages = h.page_files(out) if os.path.isdir(out) else []
    h.check(not pages, "%s: page files saved though no page could finish: "
            "%s" % (name, pages[:10]))
    mpath = os.path.join(out, "manifest.jsonl")
    recs = h.read_manifest(mpath) if os.path.exists(mpath) else []
    # A page takes DELAY_MS to answer; if the signal came well before, no
    # URL finished and none may have a line.
    if sent_after < DELAY_MS / 1000.0 - 1:
        h.check(not recs, lambda: "%s: manifest lines for URLs that had not "
                "finished:\n%s" % (name, "\n".join(h.show(x)
                                                   for x in recs[:5])))
    h.check_only_entries(work, ["urls.txt", "out"] if os.path.exists(out)
                         else ["urls.txt"])
    # Every connection was closed: the fixture sees its clients leave.
    deadline = time.monotonic() + 10
    while fx.stats()["active"] > 0:
        h.check(time.monotonic() < deadline, "%s: the fixture still serves "
                "%d requests after the crawler exited"
                % (name, fx.stats()["active"]))
        time.sleep(0.05)
    h.check(fx.stats()["requests"] - before <= N, "more requests than URLs")


def body(ctx):
    with ctx.fixture() as fx:
        interrupt(ctx, fx, "sigint", signal.SIGINT)
        interrupt(ctx, fx, "sigterm", signal.SIGTERM)


h.run_test(body)
