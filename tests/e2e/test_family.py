"""-4/--inet4-only and -6/--inet6-only (issue 12, item 5): only A or only
AAAA lookups (the fixture's DNS answers A with 127.0.0.1 and AAAA with no
data), and the transfer is held to that family."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def body(ctx):
    with ctx.fixture() as fx:
        def crawl(name, flag, host):
            work = ctx.workdir(name)
            url = fx.url("/p/1", host)
            r = ctx.crawl(["-o", "out", "--retries", "0", "--dns-servers",
                           fx.dns_arg(), flag, url], cwd=work)
            rec = h.read_manifest(os.path.join(work, "out",
                                               "manifest.jsonl"))[0]
            return r, rec, fx.stats()["dns_by_name"]

        r, rec, names = crawl("v4", "-4", "four.test")
        r.expect_rc(0)
        h.expect_ok(rec)
        h.check(names.get("four.test|A") == 1
                and "four.test|AAAA" not in names,
                "-4 should ask for A only: %s" % names)

        r, rec, names = crawl("v4long", "--inet4-only", "fourl.test")
        r.expect_rc(0)
        h.check("fourl.test|AAAA" not in names, "--inet4-only: %s" % names)

        r, rec, names = crawl("v6", "-6", "six.test")
        r.expect_rc(1)
        h.expect_failed(rec, "DNS")
        h.check(names.get("six.test|AAAA", 0) >= 1
                and "six.test|A" not in names,
                "-6 should ask for AAAA only: %s" % names)

        # An IPv4 literal cannot be reached over IPv6 only.
        r, rec, _ = crawl("v6lit", "-6", "127.0.0.1")
        r.expect_rc(1)
        h.expect_failed(rec)
        h.info("-6 with an IPv4 literal: %s" % rec["error"])

        work = ctx.workdir("both")
        r = ctx.crawl(["-o", "out", "-4", "-6", fx.url("/p/1")], cwd=work)
        r.expect_rc(2)
        h.check_only_entries(work, [])


h.run_test(body)
