"""Sitemaps seed a recursive crawl (issue 12, item 4).

Three sites on loopback:
- A: robots.txt lists a sitemap index (relative, which we resolve) and a
  gzipped index served as application/x-gzip; the first lists a plain and
  a gzipped sitemap (and itself), the second an index of its own, whose
  entry is not followed (the protocol has no index of indexes).  The <url>
  entries name pages no page links to, a page on another host, a
  duplicate and a page robots.txt disallows.
- B: robots.txt lists no sitemap; /sitemap.xml exists.
- C: neither robots.txt nor /sitemap.xml: nothing to report.
Checked: every in-scope page a sitemap lists is crawled at depth 1 with
the sitemap as its referrer, and nothing else: no page on the other host,
the disallowed one recorded as robots.txt says, sitemaps themselves
neither saved nor in the manifest, each sitemap asked for once; a missing
/sitemap.xml costs no failure (exit 0); --no-sitemaps reads none;
--no-robots still reads /sitemap.xml; the summary counts them."""

import gzip
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402


def urlset(locs):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' +
            "".join("  <url><loc>%s</loc><lastmod>2026-11-01</lastmod></url>\n" % l
                    for l in locs) + "</urlset>\n").encode()


def index(locs):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' +
            "".join("  <sitemap><loc>%s</loc></sitemap>\n" % l for l in locs) +
            "</sitemapindex>\n").encode()


def html(text):
    return [("Content-Type", "text/html")], ("<html><body>%s</body></html>" % text).encode()


def site(routes):
    def fn(req):
        r = routes.get(req["target"])
        if r is None:
            return 404, [("Content-Type", "text/plain")], b"not here"
        if callable(r):
            r = r()
        return 200, r[0], r[1]
    return pyserve.serve(fn)


def targets(srv):
    return [q["target"] for q in srv.requests()]


def body(ctx):
    other = site({"/elsewhere": html("other host")})
    a_routes = {}
    a = site(a_routes)
    a_routes.update({
        "/robots.txt": ([("Content-Type", "text/plain")],
                        ("User-agent: *\nDisallow: /private\n\n"
                         "sitemap: /maps/index.xml\n"
                         "Sitemap: %s\n" % a.url("/maps/extra.xml.gz")).encode()),
        "/": html("home, no links"),
        "/maps/index.xml": ([("Content-Type", "application/xml")],
                            index([a.url("/maps/one.xml"), a.url("/maps/two.xml.gz"),
                                   a.url("/maps/index.xml")])),
        "/maps/one.xml": ([("Content-Type", "text/xml")],
                          urlset([a.url("/orphan1"), a.url("/orphan2"), a.url("/"),
                                  other.url("/elsewhere", host="localhost"), a.url("/private/x")])),
        "/maps/two.xml.gz": ([("Content-Type", "application/gzip")],
                             gzip.compress(urlset([a.url("/orphan3"), a.url("/orphan1")]))),
        "/maps/extra.xml.gz": ([("Content-Type", "application/x-gzip")],
                               gzip.compress(index([a.url("/maps/nested-index.xml")]))),
        "/maps/nested-index.xml": ([("Content-Type", "application/xml")],
                                   index([a.url("/maps/deep.xml")])),
        "/maps/deep.xml": ([("Content-Type", "application/xml")],
                           urlset([a.url("/orphan4")])),
        "/orphan1": html("o1"), "/orphan2": html("o2"), "/orphan3": html("o3"),
        "/orphan4": html("o4"), "/private/x": html("secret"),
    })
    b_routes = {"/": html("b home"), "/b-orphan": html("bo")}
    b = site(b_routes)
    b_routes["/sitemap.xml"] = ([("Content-Type", "application/xml")],
                                urlset([b.url("/b-orphan")]))
    c = site({"/": html("c home")})
    try:
        run(ctx, a, b, c, other)
    finally:
        for s in (a, b, c, other):
            s.stop()


def run(ctx, a, b, c, other):
    # 1. A: an index, a gzipped sitemap, a sitemap listed by an index of
    # the second level (the nested index is read, its own index is not).
    work = ctx.workdir("a")
    r = ctx.crawl(["-o", "out", "-r", "-l", "2", a.url("/")], cwd=work)
    r.expect_rc(1)          # the disallowed page is a failure, as a link's
    recs = h.by_url(h.read_manifest(os.path.join(work, "out", "manifest.jsonl")))
    want = {a.url("/"), a.url("/orphan1"), a.url("/orphan2"), a.url("/orphan3"),
            a.url("/private/x")}
    h.check(set(recs) == want, "manifest URLs: %s" % sorted(set(recs) ^ want))
    for u in ("/orphan1", "/orphan2", "/orphan3"):
        rec = recs[a.url(u)]
        h.expect_ok(rec)
        h.check(rec["depth"] == 1 and rec["referrer"].startswith(a.url("/maps/")),
                "%s: %s" % (u, h.show(rec)))
    h.check(recs[a.url("/private/x")]["error"] == "robots.txt disallows",
            h.show(recs[a.url("/private/x")]))
    h.check(not other.requests(), "the other host was asked: %s" % targets(other))
    asked = targets(a)
    for t in ("/maps/index.xml", "/maps/one.xml", "/maps/two.xml.gz", "/maps/extra.xml.gz",
              "/maps/nested-index.xml"):
        h.check(asked.count(t) == 1, "%s asked %d times: %s" % (t, asked.count(t), asked))
    h.check("/sitemap.xml" not in asked, "guessed /sitemap.xml though robots.txt listed some")
    h.check("/maps/deep.xml" not in asked, "followed an index listed by an index")
    h.check("/private/x" not in asked, "fetched a page robots.txt disallows")
    files = h.page_files(os.path.join(work, "out"))
    h.check(not any("maps" in f for f in files), "a sitemap was saved: %s" % files)
    h.check("sitemaps: 5 read, 7 URLs listed" in r.err, "summary: %s" % r.err)

    # 2. --no-sitemaps: the seed alone.
    work = ctx.workdir("a-off")
    n0 = len(a.requests())
    r = ctx.crawl(["-o", "out", "-r", "--no-sitemaps", a.url("/")], cwd=work)
    r.expect_rc(0)
    recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
    h.check([x["url"] for x in recs] == [a.url("/")], "with --no-sitemaps: %s"
            % [x["url"] for x in recs])
    h.check(not any(t.startswith("/maps/") for t in targets(a)[n0:]),
            "--no-sitemaps read a sitemap")

    # 3. B: /sitemap.xml guessed; C: nothing there, no failure.
    for flags in ([], ["--no-robots"]):
        work = ctx.workdir("bc" + "".join(flags))
        r = ctx.crawl(["-o", "out", "-r"] + flags + [b.url("/"), c.url("/")], cwd=work)
        r.expect_rc(0)
        recs = h.by_url(h.read_manifest(os.path.join(work, "out", "manifest.jsonl")))
        h.check(set(recs) == {b.url("/"), b.url("/b-orphan"), c.url("/")},
                "%s: %s" % (flags, sorted(recs)))
        h.check("/sitemap.xml" in targets(c), "C's /sitemap.xml was not tried")
        h.check_files_match_manifest(os.path.join(work, "out"), list(recs.values()))


h.run_test(body)
