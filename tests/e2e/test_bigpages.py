"""Pages with thousands of links: every link is followed, and the loop
takes them a slice at a time.

A page of 100,000 links once held the loop for 0.33 s (2.7 s under ASan):
every other transfer stood still, and one whose answer sat unread failed
libcurl's low-speed check.  The engine now takes about LINKS_PER_PASS
links from bodies per loop pass and pauses a body that would give more
until the next one (crawler/engine.c, "the link budget").  The summary
tells the most links one pass took; that is a count, not a time, so it can
be held to its bound here: the budget, plus what one read can carry (the
check comes before a chunk is parsed), plus the few links a parser keeps
for its end.  Before the budget, a page that arrived in one go gave all
its links in one pass.

Crawls, each on its own loopback server (tests/e2e/pyserve.py):
- plain pages (identity bodies, the ones that are paused): every leaf
  saved, once, byte for byte; the bound holds;
- a gzip page (libcurl decodes it, so it is never paused: its links are
  taken as they come): every leaf saved;
- --warc (libcurl decodes nothing, the crawler does): every leaf, the
  bound;
- --limit-rate, whose pauses meet the budget's on the same transfers;
- a sitemap of thousands of entries;
- --max-size below the page: the cut comes while the body is paused, and
  the page fails with "max size exceeded"."""

import gzip
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402

LINKS_PER_PASS = 1000     # crawler/engine.c
BUFFER = 16384            # --buffer-size given to every crawl
LINK_BYTES = 29           # no link below is shorter in the page's bytes
PER_READ = BUFFER // LINK_BYTES
TAIL = 64                 # links a parser may still hold at the end
BOUND = LINKS_PER_PASS + PER_READ + TAIL


def leaf_body(target):
    return ("leaf %s\n" % target).encode()


def big_page(prefix, n):
    links = "".join('<a href="%s/%05d">%05d</a>\n' % (prefix, i, i) for i in range(n))
    page = "<html><body>\n%s</body></html>\n" % links
    assert all(len('<a href="%s/%05d">%05d</a>\n' % (prefix, i, i)) >= LINK_BYTES
               for i in (0, n - 1))
    return page.encode()


def urlset(locs):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' +
            "".join("<url><loc>%s</loc></url>\n" % l for l in locs) +
            "</urlset>\n").encode()


class Site:
    """Big pages at the given targets (prefix -> link count), leaves under
    each prefix, an index linking the big pages, and optionally a sitemap."""

    def __init__(self, pages, gz=(), sitemap=0):
        self.pages = pages
        self.gz = set(gz)
        self.sitemap = sitemap
        self.srv = pyserve.serve(self.answer)

    def answer(self, req):
        t = req["target"]
        if t == "/":
            body = "".join('<a href="%s">big</a>\n' % p for p in self.pages)
            return 200, [("Content-Type", "text/html")], body.encode()
        if t == "/robots.txt":
            return 404, [("Content-Type", "text/plain")], b"none\n"
        if t == "/sitemap.xml":
            if not self.sitemap:
                return 404, [("Content-Type", "text/plain")], b"none\n"
            locs = [self.srv.url("/sm/%05d" % i) for i in range(self.sitemap)]
            return 200, [("Content-Type", "application/xml")], urlset(locs)
        if t in self.pages:
            body = big_page(t, self.pages[t])
            if t in self.gz:
                return 200, [("Content-Type", "text/html"),
                             ("Content-Encoding", "gzip")], gzip.compress(body)
            return 200, [("Content-Type", "text/html")], body
        if t.startswith("/sm/") or any(t.startswith(p + "/") for p in self.pages):
            return 200, [("Content-Type", "text/plain")], leaf_body(t)
        return 404, [("Content-Type", "text/plain")], b"no\n"

    def leaves(self):
        out = set()
        for p, n in self.pages.items():
            out |= {self.srv.url("%s/%05d" % (p, i)) for i in range(n)}
        out |= {self.srv.url("/sm/%05d" % i) for i in range(self.sitemap)}
        return out

    def stop(self):
        self.srv.stop()


def links_pass_max(r):
    m = re.search(r"longest loop stall [\d.]+ ms \(pass [\d.]+ ms, (\d+) links\)", r.err)
    h.check(m, lambda: "no links figure in the summary\n" + r.describe())
    return int(m.group(1))


def crawl(ctx, name, site, extra=(), timeout=120):
    work = ctx.workdir(name)
    r = ctx.crawl(["-o", "out", "-r", "-l", "2", "-c", "32", "--buffer-size", str(BUFFER),
                   "--timeout", "60"] + list(extra) + [site.srv.url("/")],
                  cwd=work, timeout=timeout)
    out = os.path.join(work, "out")
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    return r, recs, out


def check_all_leaves(name, site, r, recs, out):
    """Every leaf once in the manifest, saved byte for byte."""
    r.expect_rc(0)
    urls = [x["url"] for x in recs]
    h.check(len(urls) == len(set(urls)), "%s: a URL has two manifest lines" % name)
    want = site.leaves() | {site.srv.url("/")} | {site.srv.url(p) for p in site.pages}
    got = set(urls)
    h.check(got == want, lambda: "%s: %d URLs missing (e.g. %s), %d unexpected (e.g. %s)"
            % (name, len(want - got), sorted(want - got)[:3], len(got - want),
               sorted(got - want)[:3]))
    for rec in recs:
        h.expect_ok(rec)
        target = h.split_url(rec["url"])[1]
        if target.startswith("/sm/") or target.count("/") == 3:
            with open(os.path.join(out, rec["path"]), "rb") as f:
                h.check(f.read() == leaf_body(target),
                        "%s: %s saved with other bytes" % (name, rec["url"]))
    h.check_files_match_manifest(out, recs)
    h.check_no_tmp(out)


def case(ctx, name, site, extra=(), bounded=True):
    """One crawl of site: every leaf saved; with bounded, no pass over the
    budget's bound."""
    try:
        r, recs, out = crawl(ctx, name, site, extra)
        check_all_leaves(name, site, r, recs, out)
        if bounded:
            n = links_pass_max(r)
            h.info("%s: at most %d links in a pass (bound %d)" % (name, n, BOUND))
            h.check(0 < n <= BOUND, lambda: "%s: a pass took %d links; the budget allows "
                    "%d\n%s" % (name, n, BOUND, r.describe()))
    finally:
        site.stop()


def body(ctx):
    # Plain pages: paused and resumed many times each.
    case(ctx, "plain", Site({"/a": 3000, "/b": 3000}))
    # A gzip page: never paused, all its links still followed.
    case(ctx, "gzip", Site({"/g": 2000}, gz=["/g"]), bounded=False)
    # --warc: libcurl hands the wire bytes over; paused like plain pages.
    case(ctx, "warc", Site({"/w": 3000}), ["--warc", "arch"])
    # --limit-rate pauses the same bodies for its own reasons.
    case(ctx, "limit-rate", Site({"/l": 2000}), ["--limit-rate", "40k"])
    # A sitemap's entries count against the budget too.
    case(ctx, "sitemap", Site({}, sitemap=3000))

    # --max-size met by a chunk held for the budget: refused when it is
    # delivered on resume (curl_easy_pause returns the error), and the page
    # fails with that reason.
    site = Site({"/m1": 3000, "/m2": 3000})
    try:
        r, recs, out = crawl(ctx, "max-size", site, ["--max-size", "40000", "--max-pages", "8"])
        r.expect_rc(1)
        got = h.by_url(recs)
        for p in ("/m1", "/m2"):
            rec = got.get(site.srv.url(p))
            h.check(rec is not None, "%s has no manifest line" % p)
            h.expect_failed(rec, r"^max size exceeded$")
    finally:
        site.stop()


if __name__ == "__main__":
    h.run_test(body)
