"""URLs that try to escape the output directory or to collide: nothing is
written outside DIR, no name holds a control character, distinct URLs get
distinct files, every manifest path is relative, free of '..', and exists.
The crawl runs in a deeply nested directory so that an escape of up to
eight levels would land inside the test's own temporary tree and be seen;
a marker name under /tmp is checked as well."""

import os
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DEPTH = 8


def nested_workdir(ctx, name):
    d = os.path.join(ctx.tmp, name)
    for i in range(DEPTH):
        d = os.path.join(d, "n%d" % i)
    os.makedirs(os.path.join(d, "run"))
    return os.path.join(d, "run")


def check_tree(ctx, name, work, recs):
    """The whole temporary tree of this run holds the output and nothing
    else; names are clean; files and manifest agree."""
    out = os.path.join(work, "out")
    h.check_confined(os.path.join(ctx.tmp, name), out, ["urls.txt"])
    for rec in recs:
        if rec["path"] is not None:
            h.check_rel_path(rec["path"], rec)
    h.check_files_match_manifest(out, recs)
    h.check_no_tmp(out)
    ok = sum(1 for r in recs if r["error"] is None)
    pages = h.page_files(out)
    h.check(len(pages) == ok, "%d page files for %d saved URLs: distinct "
            "URLs must get distinct files" % (len(pages), ok))
    return out


def check_markers(marker):
    for suffix in ("", "-2", "-3", "-4"):
        for d in ("/tmp/", "/"):
            p = d + marker + suffix
            h.check(not os.path.lexists(p), "%s was created!" % p)


def body(ctx):
    marker = "crawler-e2e-escape-" + uuid.uuid4().hex
    up = "/.." * 12
    with ctx.fixture() as fx:
        u = fx.url
        # 404s: nothing at all may be written for these.
        missing = [
            up + "/tmp/" + marker,
            "/%2e%2e" * 12 + "/tmp/" + marker + "-2",
            "/..%2f..%2f..%2f..%2ftmp%2f" + marker + "-3",
            "/a/%2E%2E/%2E%2E/%2E%2E/y",
            "/%5c..%5c..%5cz",
            "/p/%00",
            "/p/%0a%0d",
            "/" + "s" * 300,
            "/" + "/".join(["L" * 49] * 100),
            "/c", "/c/", "/c/d",
            "/q?x=1", "/q?x=2", "/q",
        ]
        work = nested_workdir(ctx, "notfound")
        urls = [u(t) for t in missing]
        r = ctx.crawl(["-o", "out", "--retries", "0"] + urls, cwd=work)
        r.expect_rc(1)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == len(missing), lambda: "expected %d manifest "
                "lines, got %d\n%s" % (len(missing), len(recs),
                                       r.describe()))
        for rec in recs:
            h.expect_failed(rec, r"^HTTP 404$")
        out = check_tree(ctx, "notfound", work, recs)
        h.check(h.page_files(out) == [], "files saved for 404s: %s"
                % h.page_files(out)[:10])
        check_markers(marker)

        # 200s whose URLs carry tricky queries and tricky-but-valid paths.
        pages = [
            "/p/1?x=../../etc",
            "/p/1?x=%2F..%2F",
            "/p/1?x=/../../../" + marker + "-4",
            "/p/1?x=%5C..%5C..%5Cw",
            "/p/2?a=%00&b=%0A%0D&c=%1F&e=%7F",
            "/p/3?..",
            "/p/3?x=..",
            "/p/4?x=" + "a" * 300,
            "/p/4?x=" + "a" * 301,
            "/p/5?x=" + "b" * 5000,
            "/p/5?y=" + "b" * 5000,
            "/p/6?x=%FF%FE",
            "/p/7?x=%C3%A9",
            "/p/8?x=1", "/p/8?x=2", "/p/8",
            "/x/../p/9",
            up + "/p/10",
            "/%2e%2e/p/11",
            "/p/%31%32",
            "/p/13?x=%7E",
            "/p/14?x=%25",
            "/p/15?x=%2F%2e%2e%2F%2e%2e",
            "/r/16?to=" + urllib.parse.quote("../../../../p/16?s=99",
                                             safe=""),
        ]
        work = nested_workdir(ctx, "ok")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("".join(u(t) + "\n" for t in pages))
        r = ctx.crawl(["-i", "urls.txt", "-o", "out"], cwd=work)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        bad = [x for x in recs if x["error"] is not None]
        h.check(not bad, lambda: "pages that should have been saved:\n"
                + "\n".join(h.show(x) for x in bad[:5]))
        r.expect_rc(0)
        h.check(len(recs) == len(pages), lambda: "expected %d manifest "
                "lines, got %d\n%s" % (len(pages), len(recs),
                                       r.describe()))
        out = check_tree(ctx, "ok", work, recs)
        n = h.verify_saved(ctx.fixture_exe, out, recs)
        h.check(n == len(pages), "%d files verified, %d expected"
                % (n, len(pages)))
        prefix = "127.0.0.1:%d/" % fx.http_port
        for rec in recs:
            h.check(rec["path"].startswith(prefix), lambda: "page saved "
                    "outside %s:\n%s" % (prefix, h.show(rec)))
        check_markers(marker)


h.run_test(body)
