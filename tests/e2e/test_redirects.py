"""Redirects: same host, across hosts through the fixture's DNS, a chain
longer than --max-redirects, and redirects to schemes other than http(s)."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def q(url):
    return urllib.parse.quote(url, safe="")


def crawl(ctx, fx, name, urls, extra=()):
    return ctx.crawl_checked(name, urls, ["--dns-servers", fx.dns_arg()] + list(extra))


def body(ctx):
    with ctx.fixture() as fx:
        port = fx.http_port
        same = fx.url("/r/7")
        same301 = fx.url("/r/8?code=301")
        cross_target = fx.url("/p/9?s=321", "b.test")
        cross = fx.url("/r/9?to=" + q(cross_target), "a.test")
        rel = fx.url("/r/10?to=" + q("../p/11?s=77"))
        chain = fx.url("/chain/12")
        ftp = fx.url("/r/1?to=" + q("ftp://127.0.0.1/x"))
        file_ = fx.url("/r/2?to=" + q("file:///etc/passwd"))

        r, got, out = crawl(ctx, fx, "default",
                            [same, same301, cross, rel, chain, ftp, file_])
        r.expect_rc(1)

        rec = got[same]
        h.expect_ok(rec)
        h.check(rec["final_url"] == fx.url("/p/7") and rec["redirects"] == 1
                and rec["path"] == "127.0.0.1:%d/p/7" % port,
                lambda: "same-host redirect:\n" + h.show(rec))
        rec = got[same301]
        h.expect_ok(rec)
        h.check(rec["final_url"] == fx.url("/p/8")
                and rec["redirects"] == 1 and rec["path"] == "127.0.0.1:%d/p/8"
                % port, lambda: "301 redirect:\n" + h.show(rec))

        rec = got[cross]
        h.expect_ok(rec)
        h.check(rec["final_url"] == cross_target and rec["redirects"] == 1
                and rec["path"] == "b.test:%d/p/9?s=321" % port,
                lambda: "cross-host redirect:\n" + h.show(rec))

        rec = got[rel]
        h.expect_ok(rec)
        h.check(rec["final_url"] == fx.url("/p/11?s=77")
                and rec["path"] == "127.0.0.1:%d/p/11?s=77" % port,
                lambda: "relative redirect:\n" + h.show(rec))

        rec = got[chain]
        h.expect_failed(rec, r"too many redirects")
        h.check(rec["redirects"] == 10, lambda: "a failed chain with "
                "--max-redirects 10 should count 10 redirects:\n"
                + h.show(rec))
        for u, what in ((ftp, "ftp://"), (file_, "file://")):
            h.expect_failed(got[u])
            h.info("redirect to %s: %s" % (what, got[u]["error"]))

        st = fx.stats()
        by_name = st["dns_by_name"]
        for key in ("a.test|A", "b.test|A"):
            h.check(by_name.get(key, 0) == 1, "%s queried %d times, expected"
                    " once: the redirect target must be resolved through "
                    "c-ares" % (key, by_name.get(key, 0)))
        h.check(st["by_target"].get("b.test /p/9?s=321") == 1,
                "the redirect target was not requested from b.test: %s"
                % st["by_target"])
        # The chain was abandoned after 10 redirects: 11 requests.
        chain_reqs = sum(v for k, v in st["by_target"].items()
                         if k.startswith("127.0.0.1 /chain/"))
        h.check(chain_reqs == 11, "expected 11 requests of /chain/*, the "
                "fixture saw %d" % chain_reqs)

        r, got, out = crawl(ctx, fx, "max20", [chain],
                            ["--max-redirects", "20"])
        r.expect_rc(0)
        rec = got[chain]
        h.expect_ok(rec)
        h.check(rec["final_url"] == fx.url("/chain/0") and
                rec["redirects"] == 12 and
                rec["path"] == "127.0.0.1:%d/chain/0" % port,
                lambda: "chain with --max-redirects 20:\n" + h.show(rec))

        r, got, out = crawl(ctx, fx, "max0", [same], ["--max-redirects", "0"])
        r.expect_rc(1)
        h.expect_failed(got[same], r"too many redirects")


h.run_test(body)
