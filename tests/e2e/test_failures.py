"""Failures: HTTP errors, refused and dropped connections, a stalled body,
retries (503, 429 with Retry-After), --max-size; gzip and chunked bodies
saved decoded.  A failed URL never leaves a file, final or temporary."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def crawl(ctx, name, urls, extra, rc):
    return ctx.crawl_checked(name, urls, extra, rc)[1]


def body(ctx):
    with ctx.fixture() as fx:
        u = fx.url
        closed = "http://127.0.0.1:%d/p/1" % h.free_port()

        # --retries 0: every failure is final at the first attempt.
        ok = u("/p/1")
        e404 = u("/p/1?st=404")
        e500 = u("/p/5?st=500")
        s201 = u("/p/7?st=201&s=333")
        drop = u("/drop")
        reset = u("/reset")
        stall = u("/stall")
        gz = u("/p/2?gz=1&s=30000")
        ch = u("/p/3?ch=1&s=12345")
        gzch = u("/p/4?ch=1&gz=1&s=54321")
        urls = [ok, e404, e500, s201, closed, drop, reset, stall, gz, ch,
                gzch]
        got = crawl(ctx, "retries0", urls,
                    ["--retries", "0", "--low-speed-time", "1"], 1)
        for x in (ok, gz, ch, gzch):
            h.expect_ok(got[x])
        h.expect_ok(got[s201], 201)
        for x, size in ((gz, 30000), (ch, 12345), (gzch, 54321)):
            h.check(got[x]["bytes"] == size, lambda: "expected %d decoded "
                    "bytes:\n%s" % (size, h.show(got[x])))
        h.expect_failed(got[e404], r"^HTTP 404$")
        h.check(got[e404]["status"] == 404, h.show(got[e404]))
        h.expect_failed(got[e500], r"^HTTP 500$")
        h.check(got[e500]["status"] == 500, h.show(got[e500]))
        for x in (closed, drop, reset, stall):
            h.expect_failed(got[x])
            h.info("%s: %s" % (x, got[x]["error"]))
        for x in (closed, drop, reset):
            h.check(got[x]["status"] == 0, lambda: "no HTTP status was "
                    "received:\n" + h.show(got[x]))
        for x in urls:
            h.check(got[x]["attempts"] == 1, lambda: "--retries 0 means "
                    "one attempt:\n" + h.show(got[x]))

        # --retries 2: 503 twice then 200; 429 with Retry-After: 1.
        f503 = u("/flaky/1?fail=2&st=503")
        f429 = u("/flaky/2?fail=1&st=429&ra=1")
        drop2 = u("/drop?x=2")
        n404 = u("/p/9?st=404")
        got = crawl(ctx, "retries2", [f503, f429, drop2, n404],
                    ["--retries", "2"], 1)
        h.expect_ok(got[f503])
        h.check(got[f503]["attempts"] == 3, lambda: "503, 503, 200 is 3 "
                "attempts:\n" + h.show(got[f503]))
        h.expect_ok(got[f429])
        h.check(got[f429]["attempts"] == 2, lambda: "429, 200 is 2 "
                "attempts:\n" + h.show(got[f429]))
        h.check(got[f429]["seconds"] >= 0.99, lambda: "Retry-After: 1 was "
                "not honoured (seconds < 1):\n" + h.show(got[f429]))
        h.expect_failed(got[drop2])
        h.check(got[drop2]["attempts"] == 3, lambda: "a dropped connection "
                "is retried (3 attempts):\n" + h.show(got[drop2]))
        h.expect_failed(got[n404], r"^HTTP 404$")
        h.check(got[n404]["attempts"] == 1, lambda: "a 404 is not "
                "retried:\n" + h.show(got[n404]))
        st = fx.stats()["by_target"]
        for key, n in (("/flaky/1?fail=2&st=503", 3),
                       ("/flaky/2?fail=1&st=429&ra=1", 2),
                       ("/p/9?st=404", 1)):
            h.check(st.get("127.0.0.1 " + key) == n, "expected %d requests "
                    "of %s, the fixture saw %s" % (n, key,
                                                   st.get("127.0.0.1 " + key)))
        # libcurl itself resends a request (up to 5 times) when a reused
        # keep-alive connection dies before any response, so one attempt
        # at /drop may cost several requests.
        n = st.get("127.0.0.1 /drop?x=2", 0)
        h.check(3 <= n <= 18, "expected 3 attempts (3 to 18 requests) of "
                "/drop?x=2, the fixture saw %d" % n)

        # --retries 1: two 503s are one too many.
        f503b = u("/flaky/3?fail=2&st=503")
        got = crawl(ctx, "retries1", [f503b], ["--retries", "1"], 1)
        h.expect_failed(got[f503b], r"^HTTP 503$")
        h.check(got[f503b]["status"] == 503 and got[f503b]["attempts"] == 2,
                lambda: "503, 503 with --retries 1:\n" + h.show(got[f503b]))

        # --max-size 1000, counted after decoding.
        big = u("/p/11?s=5000")
        exact = u("/p/12?s=1000")
        gzbig = u("/p/13?s=5000&gz=1")
        chbig = u("/p/14?s=5000&ch=1")
        huge = u("/big?s=10000000")
        got = crawl(ctx, "maxsize", [big, exact, gzbig, chbig, huge],
                    ["--max-size", "1000", "--retries", "0"], 1)
        h.expect_ok(got[exact])
        h.check(got[exact]["bytes"] == 1000, h.show(got[exact]))
        for x in (big, gzbig, chbig, huge):
            h.expect_failed(got[x], r"max size exceeded")
        got = crawl(ctx, "maxsize-k", [big], ["--max-size", "5k"], 0)
        h.expect_ok(got[big])


h.run_test(body)
