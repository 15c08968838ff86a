"""Crawling again into the same directory (issue 12, items 4 and 7).

A site on loopback whose pages carry ETag and Last-Modified (some one,
some the other, one neither) and answer conditional requests as servers
do.  A first recursive crawl records the validators in the manifest; the
site then changes (one page edited, one removed, one added and linked);
a second crawl with -N must:
- send If-None-Match / If-Modified-Since for every page the manifest says
  was saved, and only for those;
- keep the files the server says are unchanged (304) as they were, byte
  for byte and inode for inode, and still follow their links (read from
  the saved files);
- replace the edited page with its new body, save the new page, and keep
  the removed page's file (what wget -N does);
- report the counts: unchanged, changed, new, gone;
- write lines that name their crawl: every line of one run has the same
  "crawl", the two runs' differ, and the second run's lines say "change".
Also: a page whose file was deleted locally is fetched whole; validators
that could inject a header line (an edited manifest) are never sent; -N
with the manifest on standard output is refused (exit 2)."""

import json
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402


class Site:
    """Pages by path: body, validators.  Bodies are HTML with links."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pages = {}
        self.version = {}

    def put(self, path, links, etag=True, lastmod=True, text=""):
        with self.lock:
            v = self.version.get(path, 0) + 1
            self.version[path] = v
            body = ("<html><body><p>%s v%d %s</p>%s</body></html>" % (
                path, v, text, "".join('<a href="%s">x</a>' % l
                                       for l in links))).encode()
            self.pages[path] = {
                "body": body,
                "etag": '"%s-%d"' % (path.strip("/").replace("/", "_") or "root", v)
                if etag else None,
                "lastmod": "Mon, 0%d Nov 2026 10:00:00 GMT" % v if lastmod else None,
            }

    def remove(self, path):
        with self.lock:
            del self.pages[path]

    def handle(self, req):
        t = req["target"]
        hd = req["headers"]
        with self.lock:
            p = self.pages.get(t)
        if t == "/robots.txt" or p is None:
            return 404, [("Content-Type", "text/plain")], b"none"
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if p["etag"]:
            headers.append(("ETag", p["etag"]))
        if p["lastmod"]:
            headers.append(("Last-Modified", p["lastmod"]))
        # RFC 9110 13.2.2: If-None-Match decides when present.
        inm = hd.get("if-none-match")
        ims = hd.get("if-modified-since")
        if inm is not None:
            fresh = p["etag"] is not None and inm == p["etag"]
        else:
            fresh = ims is not None and p["lastmod"] is not None and ims == p["lastmod"]
        if fresh:
            return 304, headers, b""
        return 200, headers, p["body"]


def conditional(req):
    hd = req["headers"]
    return "if-none-match" in hd or "if-modified-since" in hd


def body(ctx):
    site = Site()
    site.put("/", ["/a", "/b", "/c", "/d", "/gone"])
    site.put("/a", ["/a1"], lastmod=False)          # ETag only
    site.put("/a1", [])
    site.put("/b", [], etag=False)                  # Last-Modified only
    site.put("/c", [], etag=False, lastmod=False)   # no validators
    site.put("/d", [])
    site.put("/gone", [])
    with pyserve.serve(site.handle) as srv:
        run(ctx, site, srv)


def run(ctx, site, srv):
    u = srv.url
    work = ctx.workdir("recrawl")
    out = os.path.join(work, "out")
    man = os.path.join(out, "manifest.jsonl")

    # 1. The first crawl records validators and its name.
    r = ctx.crawl(["-o", "out", "-r", u("/")], cwd=work)
    r.expect_rc(0)
    first = h.read_manifest(man)
    got = h.by_url(first)
    h.check(len(first) == 7, "first crawl: %d lines" % len(first))
    crawls = {rec.get("crawl") for rec in first}
    h.check(len(crawls) == 1 and isinstance(next(iter(crawls)), str) and
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", next(iter(crawls))),
            "first crawl's lines name no single crawl: %r" % crawls)
    h.check(got[u("/a")]["etag"] == '"a-1"' and got[u("/a")]["last_modified"] is None,
            h.show(got[u("/a")]))
    h.check(got[u("/b")]["etag"] is None and
            got[u("/b")]["last_modified"] == "Mon, 01 Nov 2026 10:00:00 GMT",
            h.show(got[u("/b")]))
    h.check(all(rec.get("change") is None for rec in first),
            "change recorded without -N")
    h.check(not any(conditional(q) for q in srv.requests()),
            "the first crawl sent a conditional request")
    paths = {rec["url"]: os.path.join(out, rec["path"]) for rec in first}
    before = {k: (os.stat(p).st_ino, os.stat(p).st_mtime_ns, open(p, "rb").read())
              for k, p in paths.items()}

    # 2. The site changes; the crawl runs again with -N.
    site.put("/d", [], text="edited")
    site.remove("/gone")
    site.put("/", ["/a", "/b", "/c", "/d", "/new"])
    site.put("/new", [])
    n_log = len(srv.requests())
    r = ctx.crawl(["-o", "out", "-r", "-N", u("/")], cwd=work)
    r.expect_rc(0)
    reqs = srv.requests()[n_log:]
    lines = h.read_manifest(man)
    h.check(len(lines) == 7 + 7, "second crawl: %d lines in all" % len(lines))
    second = lines[7:]
    got = h.by_url(second)
    crawl2 = {rec.get("crawl") for rec in second}
    h.check(len(crawl2) == 1 and crawl2 != crawls,
            "second crawl's lines: crawl %r (first %r)" % (crawl2, crawls))

    # robots.txt and the guess at /sitemap.xml are the crawler's own.
    sent = {q["target"]: q for q in reqs if q["target"] not in ("/robots.txt", "/sitemap.xml")}
    h.check(sorted(sent) == sorted(["/", "/a", "/a1", "/b", "/c", "/d", "/new"]),
            "second crawl asked for %s" % sorted(sent))
    h.check(sent["/a"]["headers"].get("if-none-match") == '"a-1"' and
            "if-modified-since" not in sent["/a"]["headers"], sent["/a"])
    h.check(sent["/b"]["headers"].get("if-modified-since") ==
            "Mon, 01 Nov 2026 10:00:00 GMT" and
            "if-none-match" not in sent["/b"]["headers"], sent["/b"])
    h.check(sent["/d"]["headers"].get("if-none-match") == '"d-1"' and
            sent["/d"]["headers"].get("if-modified-since") ==
            "Mon, 01 Nov 2026 10:00:00 GMT", sent["/d"])
    for t in ("/c", "/new"):
        h.check(not conditional(sent[t]), "%s asked conditionally: %r" % (t, sent[t]))

    want = {"/": "changed", "/a": "unchanged", "/a1": "unchanged", "/b": "unchanged",
            "/c": "changed", "/d": "changed", "/new": "new"}
    for t, change in want.items():
        rec = got.get(u(t))
        h.check(rec is not None, "no line for %s in the second crawl" % t)
        h.check(rec["error"] is None and rec["change"] == change,
                "%s: expected %s:\n%s" % (t, change, h.show(rec)))
        h.check(rec["status"] == (304 if change == "unchanged" else 200), h.show(rec))
    # Unchanged: the very same file, and its line says where it is.
    for t in ("/a", "/a1", "/b"):
        rec = got[u(t)]
        p = os.path.join(out, rec["path"])
        h.check(p == paths[u(t)], "%s moved: %s" % (t, h.show(rec)))
        st = os.stat(p)
        h.check((st.st_ino, st.st_mtime_ns) == before[u(t)][:2],
                "%s: the kept file was rewritten" % t)
        h.check(rec["bytes"] == len(before[u(t)][2]), h.show(rec))
        h.check(rec["etag"] == got[u(t)]["etag"], h.show(rec))
    # /a1 is linked only from /a, kept unchanged: found through its file.
    h.check(u("/a1") in got, "the kept page's links were not followed")
    with open(paths[u("/d")], "rb") as f:
        h.check(b"edited" in f.read(), "/d was not replaced")
    h.check(os.path.exists(paths[u("/gone")]), "the removed page's file was deleted")
    h.check("re-crawl: 3 unchanged (kept), 3 changed, 1 new, 1 gone" in r.err,
            "summary: %s" % r.err)
    # The files: the second run's, and the removed page's from the first.
    h.check_files_match_manifest(out, second + [rec for rec in first
                                                if rec["url"] == u("/gone")])
    h.check_no_tmp(out)

    # 3. A file deleted locally is fetched whole; a tampered validator is
    # never sent.
    os.unlink(paths[u("/a")])
    with open(man, "rb") as f:
        data = f.read()
    data += (json.dumps({
        "url": u("/b"), "final_url": u("/b"), "status": 200,
        "path": got[u("/b")]["path"], "bytes": got[u("/b")]["bytes"],
        "content_type": "text/html", "seconds": 0, "attempts": 1, "redirects": 0,
        "depth": 1, "referrer": None, "error": None,
        "etag": '"x"\r\nX-Injected: 1', "last_modified": None}) + "\n").encode()
    data += b'{"url": "not a manifest line\n'
    with open(man, "wb") as f:
        f.write(data)
    n_log = len(srv.requests())
    r = ctx.crawl(["-o", "out", "-N", u("/a"), u("/b")], cwd=work)
    r.expect_rc(0)
    reqs = {q["target"]: q for q in srv.requests()[n_log:]}
    h.check(not conditional(reqs["/a"]), "asked for /a conditionally: its file is gone")
    h.check(not any("x-injected" in q["headers"] for q in reqs.values()) and
            not conditional(reqs["/b"]),
            "a validator with a line break was sent: %r" % reqs["/b"])
    h.check("skipped 1 of" in r.err, "the bad line was not reported: %s" % r.err)
    h.check(os.path.exists(paths[u("/a")]), "/a not saved again")

    # 4. -N needs the manifest in a file.
    r = ctx.crawl(["-o", "out", "-N", "--manifest", "-", u("/a")], cwd=work)
    r.expect_rc(2)
    h.check("-N" in r.err, r.describe())


h.run_test(body)
