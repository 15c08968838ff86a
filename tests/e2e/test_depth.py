"""Depth without level barriers: on a site where the long path to a page
is faster than the short one, the crawler (which starts every page as soon
as it is found) saves the same pages as wget's breadth-first crawl for
-l 1, 2, 3 and inf, gives every page its shortest-path depth in the
manifest, and fetches no page twice.

The site is served by a small threaded HTTP server in this script (one
thread per connection, so each page's delay is its own): a hand-made
trap - the seed links a slow page S and a fast chain F1 -> F2; both S and
F2 link X, so X is reached first at depth 3 and only later at depth 2,
and with -l 3 its links (Y) must be followed then - plus a random part
with slow and fast pages."""

import collections
import http.server
import os
import random
import shutil
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RANDOM_PAGES = 80


def make_site():
    """{name: (delay_s, [link names])}, seed "p0"."""
    rng = random.Random(9)
    site = {
        "p0": (0.0, ["slow", "f1", "r0", "r1"]),
        "slow": (0.6, ["x"]),
        "f1": (0.0, ["f2"]),
        "f2": (0.0, ["x", "r2"]),
        "x": (0.0, ["y", "style.css"]),
        "y": (0.0, ["z"]),
        "z": (0.0, []),
        "style.css": (0.0, ["bg"]),
        "bg": (0.0, []),
    }
    names = ["r%d" % i for i in range(RANDOM_PAGES)]
    for n in names:
        delay = 0.35 if rng.random() < 0.15 else rng.random() * 0.03
        links = rng.sample(names, 3)
        if rng.random() < 0.1:
            links.append(rng.choice(["x", "y", "slow"]))
        site[n] = (delay, links)
    return site


def body_of(name, links):
    if name.endswith(".css"):
        return "".join("a { background: url(%s) }\n" % l for l in links).encode()
    out = ["<!DOCTYPE html><html><head><title>%s</title>" % name]
    for l in links:
        if l.endswith(".css"):
            out.append('<link rel="stylesheet" href="%s">' % l)
    out.append("</head><body>\n")
    for l in links:
        if not l.endswith(".css"):
            out.append('<a href="%s">%s</a>\n' % (l, l))
    out.append("</body></html>\n")
    return "".join(out).encode()


class Site:
    def __init__(self, site):
        self.site = site
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                with owner.lock:
                    owner.counts[name] += 1
                if name not in owner.site:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                delay, links = owner.site[name]
                time.sleep(delay)
                data = body_of(name, links)
                self.send_response(200)
                self.send_header("Content-Type", "text/css" if name.endswith(".css")
                                 else "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def reset(self):
        with self.lock:
            self.counts.clear()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def bfs(site, max_depth):
    seen = {"p0": 0}
    q = collections.deque(["p0"])
    while q:
        cur = q.popleft()
        if max_depth is not None and seen[cur] >= max_depth:
            continue
        for nxt in site[cur][1]:
            if nxt not in seen:
                seen[nxt] = seen[cur] + 1
                q.append(nxt)
    return seen


def saved_names(out, port):
    root = os.path.join(out, "127.0.0.1:%d" % port)
    return set(os.listdir(root)) if os.path.isdir(root) else set()


def body(ctx):
    site = make_site()
    srv = Site(site)
    try:
        for depth in ["1", "2", "3", "inf"]:
            want = bfs(site, None if depth == "inf" else int(depth))
            # The crawler.
            srv.reset()
            work = ctx.workdir("l" + depth)
            r = ctx.crawl(["-r", "-l", depth, "-q", "--no-robots", "-o", "out",
                           "-c", "200", "--per-host", "200", srv.url("p0")],
                          cwd=work, timeout=60)
            r.expect_rc(0)
            out = os.path.join(work, "out")
            recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
            h.check_files_match_manifest(out, recs)
            got = {rec["url"].rsplit("/", 1)[1]: rec for rec in recs}
            h.check(set(got) == set(want), lambda: "-l %s: pages %s, want %s (missing %s, "
                    "extra %s)" % (depth, len(got), len(want), sorted(set(want) - set(got)),
                                   sorted(set(got) - set(want))))
            for name, rec in got.items():
                h.check(rec["depth"] == want[name], lambda: "-l %s: depth of %s is %s, want "
                        "%d" % (depth, name, rec["depth"], want[name]))
                h.check((rec["referrer"] is None) == (rec["depth"] == 0),
                        lambda: "-l %s: referrer of %s: %r" % (depth, name, rec["referrer"]))
            twice = [n for n, c in srv.counts.items() if c > 1]
            h.check(not twice, lambda: "-l %s: fetched more than once: %s" % (depth, twice))
            if depth != "1":
                h.check(got["x"]["depth"] == 2 and got["x"]["referrer"].endswith("/slow"),
                        lambda: "-l %s: the trap page x: %r" % (depth, got["x"]))

            # wget on the same site: the same set of pages.
            wdir = os.path.join(ctx.tmp, "wget-l" + depth)
            shutil.rmtree(wdir, ignore_errors=True)
            subprocess.run(["wget", "-q", "-r", "-l", depth, "-e", "robots=off", "-P", wdir,
                            srv.url("p0")], timeout=120, check=False)
            wgot = saved_names(wdir, srv.port)
            h.check(wgot == set(got), lambda: "-l %s: wget saved %s, the crawler %s"
                    % (depth, sorted(wgot ^ set(got)), "(differences shown)"))
            h.info("-l %s: %d pages, depths and set equal to wget's" % (depth, len(got)))
    finally:
        srv.stop()


if __name__ == "__main__":
    if not shutil.which("wget"):
        print("SKIP: wget is not installed")
        sys.exit(77)
    h.run_test(body)
