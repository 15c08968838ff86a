"""Page requisites, -p/--page-requisites (issue 12, item 1): what a saved
page needs to render (images, srcset, style sheets and what they import,
scripts, fonts, icons, frames, video posters) is fetched past --depth and
on other hosts, without -r too; page links are not; robots.txt, the trap
guards and --reject-regex still hold.  Two small servers, a.test and
b.test (two hosts: the fixture's DNS answers *.test with 127.0.0.1),
exact sets of URLs recorded and requested."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402

HTML = [("Content-Type", "text/html")]
CSS = [("Content-Type", "text/css")]
BIN = [("Content-Type", "application/octet-stream")]

# What the servers hold up, set per crawl: {target: seconds}.
SLOW = {}
SLOW_LOCK = threading.Lock()


def slow(target):
    with SLOW_LOCK:
        delay = SLOW.get(target, 0)
    if delay:
        time.sleep(delay)


def site_a(b):
    pages = {
        # The seed: one requisite of every kind, page links of every kind,
        # a requisite robots.txt on b.test refuses and one a trap guard
        # refuses, and one that moves to b.test.
        "/index.html": (
            '<html><head><link rel=stylesheet href="%s">'
            '<link rel="shortcut icon" href="/favicon.ico">'
            '<link rel=next href="/next.html"><link rel=canonical href="/index.html">'
            '<script src="/js/app.js"></script></head><body>'
            '<img src="/img/logo.png" srcset="/img/logo-2x.png 2x">'
            '<video poster="/img/poster.jpg"></video>'
            '<iframe src="%s"></iframe>'
            '<img src="%s"><img src="/x/a/x/b/x/c/x/trap.png">'
            '<img src="/img/moved.png">'
            '<a href="/p1.html">p1</a><a href="/slow.html">slow</a>'
            '</body></html>' % (b.url("/css/site.css", "b.test"),
                                b.url("/frame.html", "b.test"),
                                b.url("/private/secret.png", "b.test"))),
        "/p1.html": ('<link rel=stylesheet href="/css/p1.css"><img src="/img/p1.png">'
                     '<a href="/p2.html">p2</a>'),
        "/p2.html": '<img src="/img/p2.png"><iframe src="/deep.html"></iframe>',
        "/slow.html": '<a href="/deep.html">deep</a>',
        "/deep.html": '<img src="/img/deep.png"><a href="/deeper.html">deeper</a>',
        "/deeper.html": "deeper",
        "/next.html": "next",
        "/fromframe.html": "from the frame",
    }

    def fn(req):
        t = req["target"]
        slow(t)
        if t in pages:
            return 200, HTML, pages[t].encode()
        if t == "/css/p1.css":
            return 200, CSS, b"body { background: url(/img/bg1.png) }"
        if t == "/img/moved.png":
            return 302, [("Location", b.url("/img/cdn.png", "b.test"))], b""
        if t in ("/favicon.ico", "/js/app.js") or t.startswith("/img/"):
            return 200, BIN, ("A" + t).encode()
        return 404, [], b"not found"
    return fn


def site_b(a_port):
    a = "http://a.test:%d" % a_port

    def fn(req):
        t = req["target"]
        slow(t)
        if t == "/robots.txt":
            return 200, [("Content-Type", "text/plain")], \
                b"User-agent: *\nDisallow: /private/\n"
        if t == "/css/site.css":
            return 200, CSS, (b'@import "base.css";\n'
                              b'@font-face { font-family: f; src: url(/fonts/f.woff2) }\n'
                              b'.x { background: url(../img/b.png) }\n')
        if t == "/css/base.css":
            return 200, CSS, b"h1 { background: url('/img/base.png') }"
        if t == "/frame.html":
            # An off-host requisite's page link: never followed.
            return 200, HTML, ('<img src="/img/inframe.png">'
                               '<a href="%s/fromframe.html">x</a>' % a).encode()
        if t.startswith("/img/") or t.startswith("/fonts/") or t.startswith("/private/"):
            return 200, BIN, ("B" + t).encode()
        return 404, [], b"not found"
    return fn


# The seed's requisites, and theirs: what -p alone fetches.
REQ_A = ["/index.html", "/favicon.ico", "/js/app.js", "/img/logo.png",
         "/img/logo-2x.png", "/img/poster.jpg", "/img/moved.png"]
REQ_B = ["/css/site.css", "/css/base.css", "/fonts/f.woff2", "/img/b.png",
         "/img/base.png", "/frame.html", "/img/inframe.png"]


class Sites:
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def url(self, host, path):
        srv = self.a if host == "a" else self.b
        return "http://%s.test:%d%s" % (host, srv.port, path)

    def urls(self, a=(), b=()):
        return set(self.url("a", p) for p in a) | set(self.url("b", p) for p in b)

    def mark(self):
        return len(self.a.requests()), len(self.b.requests())

    def requested(self, mark):
        """{(host, target)} requested since mark."""
        got = set()
        for host, srv, n in (("a", self.a, mark[0]), ("b", self.b, mark[1])):
            got |= set((host, q["target"]) for q in srv.requests()[n:])
        return got


def crawl(ctx, fx, sites, name, args, rc):
    work = ctx.workdir(name)
    mark = sites.mark()
    # The requests checked are the pages'; sitemaps have a test of their own.
    r = ctx.crawl(["-o", "out", "-q", "--dns-servers", fx.dns_arg(), "--retries", "0",
                   "--no-sitemaps"] + args + [sites.url("a", "/index.html")], cwd=work)
    if rc is not None:
        r.expect_rc(rc)
    out = os.path.join(work, "out")
    recs = h.by_url(h.read_manifest(os.path.join(out, "manifest.jsonl")))
    h.check_files_match_manifest(out, recs.values())
    h.check_no_tmp(out)
    return r, recs, sites.requested(mark), work


def expect_urls(name, recs, want, r):
    got = set(recs)
    h.check(got == want, lambda: "%s: URLs recorded\n  missing: %s\n  extra: %s\n%s"
            % (name, sorted(want - got), sorted(got - want), r.describe()))


def expect_requests(name, got, want):
    h.check(got == want, lambda: "%s: requests\n  missing: %s\n  extra: %s"
            % (name, sorted(want - got), sorted(got - want)))


def requests_of(a=(), b=(), robots=("a", "b")):
    return set(("a", p) for p in a) | set(("b", p) for p in b) | \
        set((host, "/robots.txt") for host in robots)


def body(ctx):
    with ctx.fixture() as fx:
        a = pyserve.serve(lambda req: (500, [], b""))
        try:
            with pyserve.serve(site_b(a.port)) as b:
                a.fn = site_a(b)
                run(ctx, fx, Sites(a, b))
        finally:
            a.stop()


def run(ctx, fx, s):
    secret = s.url("b", "/private/secret.png")

    # -p alone: the seed and its requisites, theirs (the style sheet's
    # import, font and image, the frame's image), a requisite's redirect to
    # another host; no page link, not even the frame's; the robots.txt of
    # b.test refuses /private/ (a line, no request); the trap guard drops a
    # link with a segment repeated four times (no line, no request).
    r, recs, got, _ = crawl(ctx, fx, s, "p", ["-p"], 1)
    expect_urls("-p", recs, s.urls(REQ_A, REQ_B) | {secret}, r)
    for u, rec in recs.items():
        if u == secret:
            h.expect_failed(rec, "robots")
        elif u == s.url("a", "/img/moved.png"):
            h.check(rec["final_url"] == s.url("b", "/img/cdn.png") and rec["error"] is None,
                    lambda: "a requisite's redirect to another host: %s" % h.show(rec))
        else:
            h.expect_ok(rec)
    expect_requests("-p", got, requests_of(REQ_A, REQ_B + ["/img/cdn.png"]))
    # Depth is the length of the path: the font is the seed's style sheet's.
    h.check(recs[s.url("b", "/img/base.png")]["depth"] == 3
            and recs[s.url("b", "/fonts/f.woff2")]["depth"] == 2,
            lambda: "depths: %s" % [h.show(x) for x in recs.values()])

    # --reject-regex still holds for requisites; --accept-regex does not
    # (it says which pages to crawl, not what they need).
    r, recs, got, _ = crawl(ctx, fx, s, "reject", ["-p", "--reject-regex", r"\.woff2$",
                                                   "--accept-regex", r"index\.html$"], 1)
    expect_urls("-p --reject-regex", recs,
                s.urls(REQ_A, set(REQ_B) - {"/fonts/f.woff2"}) | {secret}, r)

    # -r -l 1 without -p: today's crawl.  Page links within depth, and the
    # seed's resources on its own host within depth (followed as links, as
    # -r always did); nothing of b.test, nothing of the depth-1 pages.
    r, recs, got, _ = crawl(ctx, fx, s, "r1", ["-r", "-l", "1"], 1)
    r1_a = ["/index.html", "/favicon.ico", "/js/app.js", "/img/logo.png",
            "/img/logo-2x.png", "/img/poster.jpg", "/img/moved.png", "/p1.html",
            "/slow.html", "/next.html"]
    expect_urls("-r -l 1", recs, s.urls(r1_a), r)
    h.expect_failed(recs[s.url("a", "/img/moved.png")], "redirect out of scope")
    expect_requests("-r -l 1", got, requests_of(r1_a, robots=("a",)))

    # -r -l 1 -p: the same pages, the requisites of every page (of the
    # depth-1 pages too, past --depth: p1's style sheet and its image),
    # never a depth-2 page.
    r, recs, got, _ = crawl(ctx, fx, s, "r1p", ["-r", "-l", "1", "-p"], 1)
    r1p_a = r1_a + ["/css/p1.css", "/img/p1.png", "/img/bg1.png"]
    expect_urls("-r -l 1 -p", recs, s.urls(r1p_a, REQ_B) | {secret}, r)
    expect_requests("-r -l 1 -p", got, requests_of(r1p_a, REQ_B + ["/img/cdn.png"]))
    h.check(recs[s.url("a", "/img/bg1.png")]["depth"] == 3,
            lambda: "bg1.png: %s" % h.show(recs[s.url("a", "/img/bg1.png")]))

    # A requisite later reached as a page link by a shorter path is a page:
    # -l 3, p2.html's frame /deep.html comes first at depth 3 (a requisite
    # past --depth: no page links), then /slow.html's link makes it a page
    # at depth 2, and its link to /deeper.html is followed.
    with SLOW_LOCK:
        SLOW.update({"/slow.html": 1.5})
    try:
        r, recs, got, _ = crawl(ctx, fx, s, "lower", ["-r", "-l", "3", "-p"], 1)
    finally:
        with SLOW_LOCK:
            SLOW.clear()
    deep = recs.get(s.url("a", "/deep.html"))
    h.check(deep and deep["depth"] == 2 and deep["referrer"] == s.url("a", "/slow.html"),
            lambda: "deep.html: %s" % (deep and h.show(deep)))
    h.check(s.url("a", "/deeper.html") in recs and s.url("a", "/img/deep.png") in recs,
            lambda: "the lowered requisite's links: %s" % sorted(recs))
    # The frame on b.test yields no page link at any depth.
    h.check(s.url("a", "/fromframe.html") not in recs,
            lambda: "an off-host frame's page link was followed")

    # --max-pages counts requisites.
    r, recs, got, _ = crawl(ctx, fx, s, "maxpages", ["-p", "--max-pages", "4"], None)
    h.check(len(recs) == 4, lambda: "--max-pages 4: %d lines\n%s" % (len(recs), r.describe()))

    # --max-time stops the crawl with the redirecting requisite in flight;
    # --resume finishes it as if never stopped: its redirect to b.test is
    # still a requisite's (the flag is in the crawl state).
    with SLOW_LOCK:
        SLOW.update({"/img/moved.png": 3})
    try:
        r, recs, got, work = crawl(ctx, fx, s, "resume", ["-p", "--max-time", "1.5"], 4)
    finally:
        with SLOW_LOCK:
            SLOW.clear()
    h.check("not done" in (recs[s.url("a", "/img/moved.png")]["error"] or ""),
            lambda: "moved.png should have been cut: %s" % r.describe())
    mark = s.mark()
    r = ctx.crawl(["-o", "out", "-q", "--dns-servers", fx.dns_arg(), "--retries", "0",
                   "--no-sitemaps", "-p", "--resume", s.url("a", "/index.html")], cwd=work)
    r.expect_rc(1)
    out = os.path.join(work, "out")
    recs = h.by_url(h.read_manifest(os.path.join(out, "manifest.jsonl")))
    expect_urls("-p, stopped and resumed", recs, s.urls(REQ_A, REQ_B) | {secret}, r)
    moved = recs[s.url("a", "/img/moved.png")]
    h.check(moved["error"] is None and moved["final_url"] == s.url("b", "/img/cdn.png"),
            lambda: "the resumed requisite's redirect: %s" % h.show(moved))
    h.check_files_match_manifest(out, recs.values())
    h.check(("a", "/img/moved.png") in s.requested(mark),
            "the resumed crawl did not fetch the requisite left in flight")


if __name__ == "__main__":
    h.run_test(body)
