"""Link conversion, -k/--convert-links, and -E/--adjust-extension (issue 12,
item 2): a small site with style sheets that @import and url() fonts and
images, srcset, scripts, inline style="" and <style>, pages with query
strings, a file and its clash sibling (/data and /data/x.bin), a <base
href>, a redirect, a page the crawl rejects and a link to another host,
crawled with -r -p -k -E.  Then every link in every saved HTML and CSS
file, resolved as a browser resolves it against the file's file:// URL
(percent-decoded), must open a file inside the mirror, or be the absolute
http URL of a page not saved.  The same after SIGKILL and --resume."""

import html.parser
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402

HTML = [("Content-Type", "text/html; charset=utf-8")]
CSS = [("Content-Type", "text/css")]
BIN = [("Content-Type", "application/octet-stream")]

SLOW = {"delay": 0}


def site(port_ref):
    pages = {
        "/": (
            '<html><head><link rel=stylesheet href="_static/style.css?2022.1">'
            '<script src="js/app.js"></script>'
            '<style>@import url("_static/extra.css"); .b { background: url(img/s.png) }'
            '</style></head><body>'
            '<img src="img/a.png" srcset="img/a.png 1x, img/a2.png 2x">'
            '<p style="background: url(\'img/bg.png\')">x</p>'
            '<a href="page?id=1">1</a> <a href="page?id=2&amp;x=y#sec">2</a>'
            '<a href="a">a</a> <a href="a/b">ab</a> <a href="sub/">sub</a>'
            '<a href="data">data</a> <img src="data/x.bin">'
            '<a href="nocrawl.html">not crawled</a>'
            '<a href="http://other.test/x">other host</a>'
            '<a href="redir">moved</a> <a href="slow.html">slow</a>'
            '<a href="mailto:x@example.com">mail</a> <a href="#top">top</a>'
            '<a href="name%20with%20space.html">space</a>'
            '</body></html>'),
        "/page?id=1": '<a href="/">home</a> <a href="page?id=2&x=y">2</a>',
        "/page?id=2&x=y": '<a href="./?">home</a><img src="/img/a.png">',
        "/a": '<a href="a/b">ab</a><link rel=icon href=/img/a.png>',
        "/a/b": '<a href="../a">a</a> <img src=../img/a.png>',
        # The port is known once the server runs: see fn.
        "/sub/": ('<base href="http://127.0.0.1:%d/"><a href="page?id=1">1</a>'
                  '<img src="img/a.png">'),
        "/target.html": '<a href="/">home</a>',
        "/slow.html": '<img src="img/slow.png">',
        "/nocrawl.html": "never fetched",
        "/name%20with%20space.html": "spaces",
    }

    def fn(req):
        t = req["target"]
        if t == "/slow.html" and SLOW["delay"]:
            time.sleep(SLOW["delay"])
        if t == "/sub/":
            return 200, HTML, (pages[t] % port_ref[0]).encode()
        if t in pages:
            return 200, HTML, pages[t].encode()
        if t == "/_static/style.css?2022.1":
            return 200, CSS, (b'@import "base.css";\n'
                              b'@font-face { font-family: f; src: url(../fonts/f.woff2) }\n'
                              b'body { background: url( "../img/bg.png" ) }\n')
        if t == "/_static/base.css":
            return 200, CSS, b"h1 { background: url('/img/h.png') }"
        if t == "/_static/extra.css":
            return 200, CSS, b"h2 { background: url(../img/e.png) }"
        if t == "/redir":
            return 302, [("Location", "/target.html")], b""
        if t == "/robots.txt":
            return 404, [], b""
        if t.startswith("/img/") or t.startswith("/fonts/") or t.startswith("/js/") or \
                t.startswith("/data"):
            return 200, BIN, ("bytes of " + t).encode()
        return 404, [], b"not found"
    return fn


class Links(html.parser.HTMLParser):
    """The links of a page, as links.c reads them."""
    ATTRS = {"href", "src", "data", "poster", "background"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.base = None
        self.css = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        seen = set()
        for k, v in attrs:
            if k in seen or v is None:
                continue
            seen.add(k)
            if tag == "base" and k == "href":
                if self.base is None:
                    self.base = v
            elif k in self.ATTRS:
                self.links.append(v)
            elif k == "srcset":
                for cand in v.split(","):
                    if cand.strip():
                        self.links.append(cand.split()[0])
            elif k == "style":
                self.css.append(v)
        if tag == "style":
            self.in_style = True

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.css.append(data)


CSS_URL = re.compile(r'''url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)|'''
                     r'''@import\s*(?:"([^"]*)"|'([^']*)')''')


def css_links(text):
    out = []
    for m in CSS_URL.finditer(text):
        v = next(g for g in m.groups() if g is not None)
        out.append(re.sub(r"\\(.)", r"\1", v))
    return out


def check_mirror(out, port, recs, what):
    saved = {}
    for r in recs:
        if r["path"] is not None:
            saved[r["url"]] = r["path"]
            saved[r["final_url"]] = r["path"]
    base_http = "http://127.0.0.1:%d" % port
    absolute = set()
    checked = 0
    root = os.path.realpath(out)
    for r in recs:
        ct = (r["content_type"] or "").split(";")[0]
        if r["path"] is None or ct not in ("text/html", "text/css"):
            continue
        path = os.path.join(out, r["path"])
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        file_url = "file://" + urllib.parse.quote(os.path.realpath(path))
        if ct == "text/html":
            p = Links()
            p.feed(text)
            p.close()
            links = p.links + [u for c in p.css for u in css_links(c)]
            base = urllib.parse.urljoin(file_url, p.base) if p.base is not None else file_url
            h.check(p.base is None or not p.base.startswith("http"),
                    "%s: %s: <base href> still points at the web: %s" % (what, r["path"], p.base))
        else:
            links = css_links(text)
            base = file_url
        for link in links:
            link = link.strip()
            if not link or link.startswith("#") or link.startswith("mailto:"):
                continue
            checked += 1
            if link.startswith("http://") or link.startswith("https://"):
                h.check(urllib.parse.urldefrag(link)[0] not in saved,
                        "%s: %s links to %s, saved but not converted" % (what, r["path"], link))
                absolute.add(link)
                continue
            target = urllib.parse.urlsplit(urllib.parse.urljoin(base, link))
            h.check(target.scheme == "file" and not target.query,
                    "%s: %s: %r does not resolve to a local file" % (what, r["path"], link))
            fs = os.path.realpath(urllib.parse.unquote(target.path))
            h.check(fs.startswith(root + os.sep) and os.path.isfile(fs),
                    "%s: %s: %r opens %s, which is no file of the mirror"
                    % (what, r["path"], link, fs))
    h.check(checked > 30, "%s: only %d links checked" % (what, checked))
    want_abs = {base_http + "/nocrawl.html", "http://other.test/x"}
    h.check(absolute == want_abs, "%s: absolute links %s, want %s"
            % (what, sorted(absolute), sorted(want_abs)))
    # No request would leave the disk: the server's address is only in
    # the link to the page not saved.
    for r in recs:
        if r["path"] and (r["content_type"] or "").startswith(("text/html", "text/css")):
            with open(os.path.join(out, r["path"]), "rb") as f:
                data = f.read().decode()
            left = data.replace(base_http + "/nocrawl.html", "")
            h.check(base_http not in left and "%d/" % port not in left,
                    "%s: %s still names the server: %s" % (what, r["path"], data[:300]))


def check_names(recs, port, what):
    by = {r["url"]: r for r in recs}
    u = "http://127.0.0.1:%d" % port
    want = {
        u + "/": "127.0.0.1:%d/index.html" % port,
        u + "/page?id=1": "127.0.0.1:%d/page?id=1.html" % port,
        u + "/page?id=2&x=y": "127.0.0.1:%d/page?id=2&x=y.html" % port,
        u + "/a": "127.0.0.1:%d/a.html" % port,
        u + "/a/b": "127.0.0.1:%d/a/b.html" % port,
        u + "/sub/": "127.0.0.1:%d/sub/index.html" % port,
        u + "/_static/style.css?2022.1": "127.0.0.1:%d/_static/style.css?2022.1.css" % port,
        u + "/_static/base.css": "127.0.0.1:%d/_static/base.css" % port,
        u + "/redir": "127.0.0.1:%d/target.html" % port,
        u + "/img/a.png": "127.0.0.1:%d/img/a.png" % port,
    }
    for url, path in want.items():
        h.check(url in by, "%s: %s was not crawled" % (what, url))
        h.check(by[url]["path"] == path, "%s: -E: %s saved as %r, want %r"
                % (what, url, by[url]["path"], path))
    clash = sorted(by[u + p]["path"] for p in ("/data", "/data/x.bin"))
    h.check(any("%~" in p for p in clash), "%s: no clash name: %s" % (what, clash))
    h.check((u + "/nocrawl.html") not in by, "%s: the rejected page was fetched" % what)


def body(ctx):
    port_ref = [0]
    srv = pyserve.serve(site(port_ref))
    port_ref[0] = srv.port
    seed = srv.url("/")
    args = ["-r", "-l", "inf", "-p", "-k", "-E", "--no-sitemaps", "--retries", "0",
            "--reject-regex", "nocrawl", "-o", "out"]
    try:
        # One whole crawl.
        work = ctx.workdir("whole")
        r = ctx.crawl(args + [seed], cwd=work)
        r.expect_rc(0)
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        check_names(recs, srv.port, "whole")
        check_mirror(out, srv.port, recs, "whole")
        h.check_files_match_manifest(out, recs)
        h.check_no_tmp(out)
        with open(os.path.join(out, "127.0.0.1:%d/index.html" % srv.port)) as f:
            index = f.read()
        for frag in ('href="_static/style.css%3F2022.1.css"', 'href="page%3Fid=1.html"',
                     'href="page%3Fid=2&amp;x=y.html#sec"', 'href="target.html"',
                     'srcset="img/a.png 1x, img/a2.png 2x"', "url('img/bg.png')",
                     'href="name%2520with%2520space.html"'):
            h.check(frag in index, "index.html lacks %r:\n%s" % (frag, index))

        # Killed in the middle, then resumed: converted as well.
        SLOW["delay"] = 4
        work = ctx.workdir("resume")
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(ctx.tmp, "no-config"))
        p = subprocess.Popen([ctx.crawler, "-q"] + args + [seed], cwd=work, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                not any(q["target"] == "/slow.html" for q in srv.requests()):
            time.sleep(0.05)
        time.sleep(0.5)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=20)
        h.check(os.path.isdir(os.path.join(work, "out", ".crawler")),
                "the killed crawl left no state")
        SLOW["delay"] = 0
        r = ctx.crawl(["--resume"] + args + [seed], cwd=work)
        r.expect_rc(0)
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        check_names(recs, srv.port, "resumed")
        check_mirror(out, srv.port, recs, "resumed")
        h.check_no_tmp(out)

        # -k alone, on a crawl without -E: the same promises, original names.
        work = ctx.workdir("noE")
        r = ctx.crawl([a for a in args if a != "-E"] + [seed], cwd=work)
        r.expect_rc(0)
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        check_mirror(out, srv.port, recs, "without -E")
        by = {x["url"]: x for x in recs}
        # /a and /a/b clash without -E: one of them takes a "%~" name.
        h.check(by[srv.url("/a")]["path"] in ("127.0.0.1:%d/a" % srv.port,
                                              "127.0.0.1:%d/a%%~f" % srv.port),
                "without -E, /a saved as %s" % by[srv.url("/a")]["path"])

        # The manifest on standard output cannot give -k its map.
        work = ctx.workdir("stdout")
        r = ctx.crawl(["-k", "--manifest", "-", "-o", "out", seed], cwd=work)
        r.expect_rc(3 if r.rc == 3 else 2)
        h.check("-k" in r.err, "no word on -k with --manifest -: %s" % r.err)
    finally:
        srv.stop()
    threading.Event().wait(0)


if __name__ == "__main__":
    h.run_test(body)
