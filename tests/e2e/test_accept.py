"""What is saved (issue 12, item 5): wget's -A/-R (--accept/--reject)
file-name lists, --ignore-case, and --accept-type/--reject-type on the
Content-Type.  A page whose name fails -A/-R is not fetched at all unless
it may hold links (a directory, no suffix, html, php...): then, in a
recursive crawl, it is read for its links and not saved, its manifest line
saying "skipped".  Seeds are always fetched.  A body whose type is turned
down is not saved (cut once its headers are in, unless it is HTML read for
links).  Skipped pages are not failures (exit 0).  Bad lists exit 2 before
anything is created."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402

BIG = 4 * 1024 * 1024


def html(*links):
    return [("Content-Type", "text/html; charset=utf-8")], (
        "<html><body>%s</body></html>" % "".join(
            '<a href="%s">x</a>' % l for l in links)).encode()


def typed(ctype, body):
    return [("Content-Type", ctype)], body


# target -> (headers, body); redirects and oddities in site() below.
PAGES = {
    "/": html("a.pdf", "b.jpg", "c.gif", "x.tmp", "doc.PDF", "big.bin",
              "sub/", "page.html", "list.php?p=1", "noext", "dl",
              "style.css"),
    "/sub/": html("d.pdf", "e.png"),
    "/page.html": html("f.pdf"),
    "/list.php?p=1": html("g.pdf"),
    "/noext": html("h.pdf"),
    "/style.css": typed("text/css", b"body { background: url(bg.png) }"),
    "/a.pdf": typed("application/pdf", b"%PDF a"),
    "/d.pdf": None,  # not linked from /: /sub/d.pdf is
    "/sub/d.pdf": typed("application/pdf", b"%PDF d"),
    "/f.pdf": typed("application/pdf", b"%PDF f"),
    "/g.pdf": typed("application/pdf", b"%PDF g"),
    "/h.pdf": typed("application/pdf", b"%PDF h"),
    "/files/r.pdf": typed("application/pdf", b"%PDF r"),
    "/doc.PDF": typed("application/pdf", b"%PDF upper"),
    "/b.jpg": typed("image/jpeg", b"JPEG b"),
    "/c.gif": typed("image/gif", b"GIF c"),
    "/sub/e.png": typed("image/png", b"PNG e"),
    "/bg.png": typed("image/png", b"PNG bg"),
    "/x.tmp": typed("application/octet-stream", b"tmp"),
    "/big.bin": typed("application/octet-stream", b"\0" * BIG),
    "/empty": typed("text/plain", b""),
}


def site(req):
    t = req["target"]
    if t == "/slow.pdf":
        time.sleep(2)
        return 200, [("Content-Type", "application/pdf")], b"%PDF slow"
    if t == "/dl":
        # No suffix: a page that may hold links, and in fact a PDF.
        return 302, [("Location", "/files/r.pdf")], b""
    page = PAGES.get(t)
    if page is None:
        return 404, [("Content-Type", "text/plain")], b"not found"
    return (200,) + tuple(page)


def crawl(ctx, srv, name, args, rc=0):
    """Crawls into WORK/out; returns (records by URL, saved files relative
    to the host's directory, targets requested, result)."""
    work = ctx.workdir(name)
    before = len(srv.requests())
    # The requests checked are the pages'; sitemaps have a test of their own.
    r = ctx.crawl(["-o", "out", "--no-robots", "--no-sitemaps", "-q"] + args, cwd=work,
                  timeout=60)
    r.expect_rc(rc)
    out = os.path.join(work, "out")
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    h.check_files_match_manifest(out, recs)
    h.check_no_tmp(out)
    host = "127.0.0.1:%d/" % srv.port
    files = sorted(f[len(host):] for f in h.page_files(out))
    asked = sorted(q["target"] for q in srv.requests()[before:])
    return h.by_url(recs), files, asked, r


def expect_skipped(rec, reason):
    h.check(rec["skipped"] == reason and rec["error"] is None
            and rec["path"] is None and rec["bytes"] == 0
            and rec["status"] == 200,
            lambda: "expected a page skipped for %r:\n%s" % (reason, h.show(rec)))


def same(what, got, want):
    h.check(got == sorted(want), lambda: "%s:\n  got  %s\n  want %s"
            % (what, got, sorted(want)))


def body(ctx):
    with pyserve.serve(site) as srv:
        run(ctx, srv)


def run(ctx, srv):
    u = srv.url

    # -r -A pdf: only PDFs saved; pages that may hold links (the seed,
    # a directory, .html, .php, no suffix, CSS) read for links and not
    # saved; other names never requested.
    recs, files, asked, r = crawl(ctx, srv, "accept", ["-r", "-A", "pdf", u("/")])
    same("files saved with -A pdf", files,
         ["a.pdf", "sub/d.pdf", "f.pdf", "g.pdf", "h.pdf", "files/r.pdf"])
    same("requests with -A pdf", asked,
         ["/", "/a.pdf", "/sub/", "/sub/d.pdf", "/page.html", "/f.pdf",
          "/list.php?p=1", "/g.pdf", "/noext", "/h.pdf", "/dl",
          "/files/r.pdf", "/style.css"])
    for t in ("/", "/sub/", "/page.html", "/list.php?p=1", "/noext", "/style.css"):
        expect_skipped(recs[u(t)], "not matched by --accept")
    h.check(recs[u("/dl")]["path"] == "127.0.0.1:%d/files/r.pdf" % srv.port,
            lambda: "a redirect is judged by the name it is saved under:\n"
            + h.show(recs[u("/dl")]))
    h.check("skipped by filters" in r.err or r.err == "", r.describe())

    # Depth: a page that may hold links but sits at the depth limit would
    # yield none, so it is not fetched either.
    recs, files, asked, r = crawl(ctx, srv, "accept-l1",
                                  ["-r", "-l", "1", "--accept", "pdf", u("/")])
    same("files saved with -l 1 -A pdf", files, ["a.pdf"])
    same("requests with -l 1 -A pdf", asked, ["/", "/a.pdf"])

    # wget's long name --reject, globs and suffixes, repeated: everything
    # but the rejected names, which are never requested.
    recs, files, asked, r = crawl(ctx, srv, "reject",
                                  ["-r", "--reject", "gif", "-R", "*.tmp,big*",
                                   u("/")])
    h.check(not {"/c.gif", "/x.tmp", "/big.bin"} & set(asked),
            "rejected names requested: %s" % asked)
    same("files saved with -R gif,*.tmp,big*", files,
         ["index.html", "a.pdf", "b.jpg", "doc.PDF", "sub/index.html",
          "sub/d.pdf", "sub/e.png", "page.html", "f.pdf", "list.php?p=1",
          "g.pdf", "noext", "h.pdf", "files/r.pdf", "style.css", "bg.png"])

    # Case: -A is case-sensitive, as wget's; --ignore-case is not.
    recs, files, asked, r = crawl(ctx, srv, "case",
                                  ["-r", "-l", "1", "-A", "pdf", "--ignore-case",
                                   u("/")])
    same("files saved with -A pdf --ignore-case", files, ["a.pdf", "doc.PDF"])

    # Seeds are always fetched; not saved when their name is turned down.
    recs, files, asked, r = crawl(ctx, srv, "seeds",
                                  ["-A", "pdf", u("/b.jpg"), u("/a.pdf")])
    same("seeds requested", asked, ["/a.pdf", "/b.jpg"])
    same("seeds saved", files, ["a.pdf"])
    expect_skipped(recs[u("/b.jpg")], "not matched by --accept")

    # --accept-type: HTML and CSS read for links, only images saved; the
    # 4 MB body is cut once its headers are in.
    recs, files, asked, r = crawl(ctx, srv, "accept-type",
                                  ["-r", "--accept-type", "image/*", u("/")])
    same("files saved with --accept-type image/*", files,
         ["b.jpg", "c.gif", "sub/e.png", "bg.png"])
    for t in ("/", "/sub/", "/a.pdf", "/big.bin", "/style.css"):
        expect_skipped(recs[u(t)], "type not matched by --accept-type")
    h.check(u("/h.pdf") in recs, "links of a page whose type is turned down "
            "were not followed")

    # --reject-type: parameters and case do not matter; HTML still read.
    recs, files, asked, r = crawl(ctx, srv, "reject-type",
                                  ["-r", "--reject-type", "TEXT/HTML,image/gif",
                                   "--reject", "big.bin", u("/")])
    same("files saved with --reject-type text/html,image/gif", files,
         ["a.pdf", "b.jpg", "doc.PDF", "sub/d.pdf", "sub/e.png", "f.pdf",
          "g.pdf", "h.pdf", "files/r.pdf", "x.tmp", "style.css", "bg.png"])
    expect_skipped(recs[u("/c.gif")], "type rejected by --reject-type")
    expect_skipped(recs[u("/")], "type rejected by --reject-type")

    # An empty body is judged too; a name and a type list together.
    recs, files, asked, r = crawl(ctx, srv, "empty",
                                  ["--reject-type", "text/plain", "-A", "pdf,empty",
                                   u("/empty"), u("/a.pdf")])
    same("files saved (empty body)", files, ["a.pdf"])
    expect_skipped(recs[u("/empty")], "type rejected by --reject-type")

    # Resumed: a page skipped before the cut stays skipped, not failed
    # (exit 0), and is not fetched again.
    work = ctx.workdir("resume")
    seeds = [u("/b.jpg"), u("/a.pdf"), u("/slow.pdf")]
    r = ctx.crawl(["-o", "out", "-q", "-A", "pdf", "--max-time", "1"] + seeds,
                  cwd=work, timeout=30)
    r.expect_rc(4)
    before = len(srv.requests())
    r = ctx.crawl(["-o", "out", "-q", "-A", "pdf", "--resume"] + seeds,
                  cwd=work, timeout=30)
    r.expect_rc(0)
    same("requests on resume", [q["target"] for q in srv.requests()[before:]],
         ["/slow.pdf"])
    recs = h.by_url(h.read_manifest(os.path.join(work, "out", "manifest.jsonl")))
    expect_skipped(recs[u("/b.jpg")], "not matched by --accept")
    h.expect_ok(recs[u("/slow.pdf")])

    # From a config file, as long options.
    work = ctx.workdir("config")
    with open(os.path.join(work, "conf"), "w") as f:
        f.write("accept = pdf\nreject-type = image/*\n")
    r = ctx.crawl(["--config", "conf", "-o", "out", "-q", "--no-robots", "--no-sitemaps",
                   "-r", "-l", "1", u("/")], cwd=work, timeout=60)
    r.expect_rc(0)
    out = os.path.join(work, "out")
    same("files saved (config file)", h.page_files(out),
         ["127.0.0.1:%d/a.pdf" % srv.port])

    # Bad lists: exit 2, a message naming the flag, nothing created.
    before = len(srv.requests())
    for i, (args, want) in enumerate([
            (["-A", ""], "--accept"),
            (["-A", "pdf,,jpg"], "empty entry"),
            (["--accept", "pdf", "-A", ""], "empty entry"),
            (["-R", "docs/*.pdf"], "--reject"),
            (["--reject", " , "], "--reject"),
            (["--accept-type", "text"], "--accept-type"),
            (["--accept-type", ""], "--accept-type"),
            (["--accept-type", "text/html; charset=utf-8"], "parameters"),
            (["--reject-type", "*/*"], "--reject-type"),
            (["--reject-type", "image/*,"], "empty entry"),
            (["-A"], "needs a value")]):
        work = ctx.workdir("bad%d" % i)
        # The URL first, so a flag missing its value finds none.
        r = ctx.crawl(["-o", "out", u("/")] + args, cwd=work, timeout=20)
        r.expect_rc(2)
        h.check(want in r.err, lambda: "the message for %s should say %r\n%s"
                % (args, want, r.describe()))
        h.check_only_entries(work, [])
    h.check(len(srv.requests()) == before, "a refused command line fetched")


h.run_test(body)
