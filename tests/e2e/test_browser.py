"""A mirror is browsable offline, in a real browser (issue 12, item 3).

A small site on 127.0.0.1 (pyserve) has what real sites have: a style
sheet with a query string (css/site.css?v=3, as Sphinx writes them) that
@imports another and uses url() for a font and a background image, an
<img> with a srcset, a script with a query string (js/app.js?1) that sets
a marker, pages without an .html suffix (/docs/intro, /docs/, /page?id=2,
/page?id=3), a page beside its clash sibling (/a and /a/b), a text
file beside a directory of the same name (/files/data and
/files/data/more.txt, a clash -E does not undo), a 404 link,
and a link to an "external" site (localhost, another port) that no tool
may fetch.  Each mirror is opened from file:// in headless Chromium by
browsecheck.check_mirror (its docstring says exactly what it asserts),
with both servers counting requests: none may arrive while the browser
looks, and the external one none at all.

1. `wget -m -k -p -E -nv -o wget.log -P out --no-config URL` (robots.txt
   obeyed; the site has none): the checker passes, but for one link: wget deletes the
   file /files/data to make the directory, so the link to it names a
   directory (allowed for wget only); every HTML file wget saved is opened
   (reached from index.html by following links); the probes (a colour
   from the style sheet, one from the @imported sheet, the script's
   marker, the font loaded, the background image decoded from a file: URL)
   held on every page; the external and the 404 links stayed http URLs; nothing reached either server.
2. The checker can fail: the same command without -k gives a mirror the
   browser cannot use (absolute and query-string references miss), and a
   copy of mirror 1 with the imported sheet, the font, the background
   image and the 2x image removed and two references pointed back at the
   server fails with each of those named, while the server still sees
   nothing (the browser refused the requests).
3. When `crawler --help` lists --convert-links: `crawler -r -l inf -p -k
   -E -o out URL` passes the same check, and the URLs of the HTML pages it
   saved equal wget's (layouts differ: DIR/HOST:PORT/PATH either way, the
   names of clashes and queries may not).  Without --convert-links the
   test ends with exit 77 after parts 1 and 2 (which still must pass).

Chromium and wget missing: skipped, unless CI=true (then a failure:
tests/deps.sh installs both)."""

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browsecheck as bc  # noqa: E402
import harness as h  # noqa: E402
import pyserve  # noqa: E402

HTML = [("Content-Type", "text/html; charset=utf-8")]


def png(w, h_, rgb):
    """A w x h PNG of one colour."""
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c))
    row = b"\0" + bytes(rgb) * w
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h_, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * h_))
            + chunk(b"IEND", b""))


def find_font():
    """The smallest TrueType font installed (fontconfig, a dependency of
    chromium, brings DejaVu), or None."""
    best = None
    for d, _, names in os.walk("/usr/share/fonts"):
        for n in names:
            if n.lower().endswith(".ttf"):
                p = os.path.join(d, n)
                if best is None or os.path.getsize(p) < os.path.getsize(best):
                    best = p
    return best


def page(title, prefix, links):
    """A page of the site: every one carries the same requisites, with
    references relative to prefix ('/' for absolute paths, '../' from
    /docs/)."""
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            '<title>%(t)s</title>'
            '<link rel="stylesheet" href="%(p)scss/site.css?v=3">'
            '<link rel="icon" href="%(p)simg/logo.png">'
            '</head><body>'
            '<h1 id="brand">%(t)s</h1><p id="imported">styled by an @import</p>'
            '<img id="logo" src="%(p)simg/logo.png" '
            'srcset="%(p)simg/logo.png 1x, %(p)simg/logo-2x.png 2x" alt="logo">'
            '<ul>%(l)s</ul>'
            '<script src="%(p)sjs/app.js?1"></script>'
            '</body></html>\n'
            % {"t": title, "p": prefix,
               "l": "".join('<li><a href="%s">%s</a></li>' % (u, u) for u in links)})


def make_site(ext_url):
    """{target: (status, headers, body)} of the site."""
    font = find_font()
    css = ('@import url("base.css");\n'
           '@font-face { font-family: SiteFont; src: url("../fonts/site.ttf") '
           'format("truetype"); }\n'
           '#brand { color: rgb(1, 2, 3); font-family: SiteFont, sans-serif; }\n'
           'body { background: url(../img/bg.png) repeat-x; }\n')
    if font is None:
        css = re.sub(r"@font-face[^\n]*\n", "", css)
    site = {
        "/": page("home", "/", [
            "/docs/intro", "/docs/intro#part2", "docs/", "/page?id=2", "/a",
            "/a/b", "deep/x.html", "/files/data", "/files/data/more.txt",
            "/missing.html", "#top",
            "mailto:someone@example.org", ext_url]),
        "/docs/": page("docs", "../", ["intro", "../"]),
        "/docs/intro": page("intro", "../", ["../page?id=2", "../a/b", "./", "#part2"]),
        "/page?id=2": page("page 2", "/", ["/page?id=3", "/docs/intro"]),
        "/page?id=3": page("page 3", "/", ["/", "page?id=2"]),
        "/a": page("a", "/", ["a/b", "/"]),
        "/a/b": page("a/b", "/", ["../a", "../docs/intro"]),
        "/deep/x.html": page("x", "/", ["../a", ext_url]),
    }
    out = {t: (200, HTML, body.encode()) for t, body in site.items()}
    # A clash -E does not remove: /files/data stays a file, and a directory
    # of the same name is needed for /files/data/more.txt.
    out["/files/data"] = (200, [("Content-Type", "text/plain")], b"data\n")
    out["/files/data/more.txt"] = (200, [("Content-Type", "text/plain")], b"more\n")
    out["/css/site.css?v=3"] = (200, [("Content-Type", "text/css")], css.encode())
    out["/css/base.css"] = (200, [("Content-Type", "text/css")],
                            b"#imported { color: rgb(4, 5, 6); }\n")
    out["/js/app.js?1"] = (200, [("Content-Type", "application/javascript")],
                           b'document.body.dataset.js = "ok";\n')
    out["/img/logo.png"] = (200, [("Content-Type", "image/png")], png(16, 8, (200, 0, 0)))
    out["/img/logo-2x.png"] = (200, [("Content-Type", "image/png")], png(32, 16, (0, 200, 0)))
    out["/img/bg.png"] = (200, [("Content-Type", "image/png")], png(4, 4, (0, 0, 200)))
    if font:
        with open(font, "rb") as f:
            out["/fonts/site.ttf"] = (200, [("Content-Type", "font/ttf")], f.read())
    return out, font is not None


def probes(with_font):
    """(name, guard, expression, expected) for browsecheck: every page of
    the site carries them all, so the guard is always true."""
    p = [
        ("css", "true",
         "getComputedStyle(document.getElementById('brand')).color", "rgb(1, 2, 3)"),
        ("import", "true",
         "getComputedStyle(document.getElementById('imported')).color", "rgb(4, 5, 6)"),
        ("js", "true", "document.body.dataset.js || null", "ok"),
        # The background image's resolved URL is a file and it decodes.
        ("background", "true",
         "new Promise(done => {"
         " const m = /^url\\(\"(file:[^\"]*)\"\\)$/.exec("
         "   getComputedStyle(document.body).backgroundImage);"
         " if (!m) return done(false);"
         " const i = new Image();"
         " i.onload = () => done(i.naturalWidth > 0);"
         " i.onerror = () => done(false);"
         " i.src = m[1]; })", True),
    ]
    if with_font:
        p.append(("font", "true",
                  "[...document.fonts].some(f => f.family.replace(/\"/g, '') === "
                  "'SiteFont' && f.status === 'loaded')", True))
    return p


def serve(routes):
    def fn(req):
        r = routes.get(req["target"])
        if r is None:
            return 404, [("Content-Type", "text/plain")], b"not here"
        return r
    return pyserve.serve(fn)


def tool_missing(what):
    msg = "%s is not installed (tests/deps.sh installs it)" % what
    if os.environ.get("CI") == "true":
        raise h.Failure(msg + "; CI=true, so this is a failure")
    raise h.Skip(msg)


_WGET_SAVED = re.compile(r'URL: ?(\S+) \[[^\]]*\] -> "([^"]*)"')


def run_wget(work, args, url):
    """Runs wget with args in work (output under work/out); returns
    {url: local path relative to out} of what it saved (from its -nv
    log), and the command line."""
    cmd = ["wget"] + args + ["-nv", "-o", "wget.log", "-P", "out",
                             "--no-config", url]
    try:
        p = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
    except subprocess.TimeoutExpired:
        raise h.Failure("wget did not finish within 120 s: %s" % " ".join(cmd))
    with open(os.path.join(work, "wget.log"), errors="replace") as f:
        log = f.read()
    # 8: some URL failed (the 404 link), which is expected.
    h.check(p.returncode in (0, 8), lambda: "%s exited %d\n%s"
            % (" ".join(cmd), p.returncode, h.tail(log)))
    saved = {}
    for m in _WGET_SAVED.finditer(log):
        rel = m.group(2)
        if rel.startswith("out/"):
            rel = rel[4:]
        saved[m.group(1)] = rel
    h.info("%s: exit %d, %d files" % (" ".join(cmd), p.returncode, len(saved)))
    return saved, " ".join(cmd)


def html_files(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                head = f.read(64)
            if head.startswith(b"<!DOCTYPE html>"):
                out.add(os.path.relpath(p, root))
    return out


class Servers:
    def __init__(self, site, ext):
        self.site = site
        self.ext = ext

    def mark(self):
        return len(self.site.requests()), len(self.ext.requests())

    def since(self, mark):
        return ([q["target"] for q in self.site.requests()[mark[0]:]]
                + ["ext:" + q["target"] for q in self.ext.requests()[mark[1]:]])


def browse(browser, servers, root, starts, saved_urls, probes_, what):
    """check_mirror with the servers counting: returns the Report and
    fails if any request reached either server meanwhile."""
    mark = servers.mark()
    if isinstance(starts, str):
        starts = [starts]
    rep = bc.check_mirror(root, starts, saved_urls=saved_urls, probes=probes_,
                          max_pages=30, browser=browser)
    h.info("%s: %s" % (what, rep.summary(limit=12)))
    hits = servers.since(mark)
    h.check(not hits, lambda: "%s: the servers saw requests while the browser "
            "checked the mirror: %s" % (what, hits[:20]))
    return rep


def body(ctx):
    if not bc.find_chromium():
        tool_missing("chromium")
    if not shutil.which("wget"):
        tool_missing("wget")
    ext = serve({"/ext.html": (200, HTML, b"<!DOCTYPE html><p>elsewhere</p>")})
    routes = {}
    site = serve(routes)
    try:
        ext_url = ext.url("/ext.html", host="localhost")
        built, with_font = make_site(ext_url)
        routes.update(built)
        if not with_font:
            h.info("no TrueType font under /usr/share/fonts: the font probe is off")
        with bc.Browser() as browser:
            h.info("browser: %s" % browser.version)
            run(ctx, browser, Servers(site, ext), routes, ext_url, with_font)
    finally:
        site.stop()
        ext.stop()


def run(ctx, browser, servers, routes, ext_url, with_font):
    site = servers.site
    seed = site.url("/")
    hostdir = "127.0.0.1:%d" % site.port
    pages = [t for t, r in routes.items()
             if r[1] == HTML and r[0] == 200]
    saved_urls = [site.url(t) for t in routes]
    prb = probes(with_font)

    # 1. wget -m -k -p -E: browsable.
    work = ctx.workdir("wget-k")
    wsaved, wcmd = run_wget(work, ["-m", "-k", "-p", "-E"], seed)
    root = os.path.join(work, "out")
    want = set(site.url(t) for t in routes)
    h.check(set(wsaved) == want, lambda: "%s saved\n  missing: %s\n  extra: %s"
            % (wcmd, sorted(want - set(wsaved)), sorted(set(wsaved) - want)))
    rep = browse(browser, servers, root, hostdir + "/index.html", saved_urls, prb,
                 "wget -k")
    # wget's one known loss: it deletes the file /files/data to make the
    # directory /files/data/ ("directory danger"), and the link to it then
    # names a directory.  Allowed for wget only; the crawler keeps both.
    clash_dir = os.path.join(root, hostdir, "files", "data")
    lost = [p for p in rep.problems if p.kind == "link-missing"
            and p.detail.endswith(" -> " + clash_dir) and os.path.isdir(clash_dir)]
    if lost:
        h.info("wget lost /files/data to the directory /files/data/ (allowed): %s" % lost)
    rest = [p for p in rep.problems if p not in lost]
    h.check(not rest, lambda: "%s: the mirror is not browsable:\n%s"
            % (wcmd, rep.summary()))
    wget_html = html_files(root)
    h.check(set(rep.pages) == wget_html, lambda: "pages opened %s, HTML files %s"
            % (sorted(rep.pages), sorted(wget_html)))
    h.check(len(wget_html) == len(pages), "wget saved %d HTML files for %d pages"
            % (len(wget_html), len(pages)))
    for name, *_ in prb:
        n = len(rep.probes.get(name, []))
        h.check(n == len(wget_html), "probe %s ran on %d of %d pages"
                % (name, n, len(wget_html)))
    h.check(bc.normalize_http(ext_url) in rep.online_links,
            "the external link did not stay an http URL: %s" % sorted(rep.online_links))
    h.check(bc.normalize_http(site.url("/missing.html")) in rep.online_links,
            "the 404 link did not stay an http URL: %s" % sorted(rep.online_links))
    h.check(not servers.ext.requests(), "the external site was asked: %s"
            % [q["target"] for q in servers.ext.requests()])
    wget_pages = set(u for u, p in wsaved.items() if p.endswith(".html"))

    # 2a. Without -k: not browsable, and the checker says why.
    work2 = ctx.workdir("wget-nok")
    run_wget(work2, ["-m", "-p", "-E"], seed)
    # Every page is a start page here: links do not lead to them all.
    root2 = os.path.join(work2, "out")
    rep2 = browse(browser, servers, root2, sorted(html_files(root2)), saved_urls, prb,
                  "wget without -k")
    need = {"link-outside", "link-missing", "requisite-outside", "requisite-missing",
            "outside-mirror", "failed-stylesheet", "failed-script",
            "image-not-shown", "probe-css", "probe-js", "probe-import"}
    h.check(need <= set(rep2.kinds()), lambda: "without -k, the checker missed %s:\n%s"
            % (sorted(need - set(rep2.kinds())), rep2.summary()))

    # 2b. Mirror 1 damaged: each loss is named, and a reference pointed back
    # at the server is refused by the browser before the server sees it.
    broken = os.path.join(ctx.tmp, "broken")
    shutil.copytree(root, broken)
    bhost = os.path.join(broken, hostdir)
    for rel in ["css/base.css", "img/bg.png", "img/logo-2x.png"] + (
            ["fonts/site.ttf"] if with_font else []):
        os.unlink(os.path.join(bhost, rel))
    idx = os.path.join(bhost, "index.html")
    with open(idx, encoding="utf-8") as f:
        text = f.read()
    text = text.replace('<ul>', '<ul><li><a href="%s">back online</a></li>'
                        '<img id="online" src="%s">'
                        % (site.url("/a"), site.url("/img/logo.png")), 1)
    with open(idx, "w", encoding="utf-8") as f:
        f.write(text)
    rep3 = browse(browser, servers, broken, hostdir + "/index.html", saved_urls, prb,
                  "damaged wget -k mirror")
    need = {"probe-import", "failed-stylesheet", "failed-image", "probe-background",
            "requisite-missing", "link-online", "network-request", "requisite-online",
            "image-not-shown"} | ({"probe-font", "failed-font"} if with_font else set())
    h.check(need <= set(rep3.kinds()), lambda: "damaged mirror: the checker missed %s:\n%s"
            % (sorted(need - set(rep3.kinds())), rep3.summary()))

    # 3. The crawler, once it converts links.
    help_text = h.run_crawler(ctx.crawler, ["--help"]).stdout.decode()
    if "--convert-links" not in help_text:
        raise h.Skip("crawler --help does not list --convert-links: wget's "
                     "mirrors checked (browsable with -k, caught without), "
                     "the crawler's mirror not yet")
    work4 = ctx.workdir("crawler")
    args = ["-r", "-l", "inf", "-p", "-k", "-E", "-o", "out", seed]
    r = ctx.crawl(args, cwd=work4, timeout=120)
    h.check(r.rc in (0, 1), lambda: "crawler: unexpected exit status\n" + r.describe())
    out = os.path.join(work4, "out")
    recs = h.by_url(h.read_manifest(os.path.join(out, "manifest.jsonl")))
    h.check_files_match_manifest(out, recs.values())
    h.check_no_tmp(out)
    csaved = [u for u, rec in recs.items() if rec["path"] is not None]
    index_rec = recs.get(seed)
    h.check(index_rec and index_rec["path"], "crawler did not save %s" % seed)
    rep4 = browse(browser, servers, out, index_rec["path"], csaved, prb,
                  "crawler -k -E")
    h.check(not rep4.problems, lambda: "crawler %s: the mirror is not browsable:\n%s"
            % (" ".join(args), rep4.summary()))
    crawler_html = set(rel for rel in html_files(out))
    h.check(set(rep4.pages) == crawler_html, lambda: "pages opened %s, HTML files %s"
            % (sorted(rep4.pages), sorted(crawler_html)))
    crawler_pages = set(u for u, rec in recs.items() if rec["path"] is not None
                        and (rec["content_type"] or "").startswith("text/html"))
    h.check(crawler_pages == wget_pages, lambda: "HTML pages\n  only wget: %s\n"
            "  only crawler: %s" % (sorted(wget_pages - crawler_pages),
                                    sorted(crawler_pages - wget_pages)))
    h.check(not servers.ext.requests(), "the external site was asked: %s"
            % [q["target"] for q in servers.ext.requests()])


if __name__ == "__main__":
    h.run_test(body)
