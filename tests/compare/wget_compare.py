#!/usr/bin/env python3
"""Recursive crawl of a real site, side by side with wget and wget2.

Serves the HTML documentation of a Debian package (default: python3.11-doc,
several hundred interlinked pages) with nginx on 127.0.0.1, crawls it with
`wget -r -l inf -np`, `wget2 -r -l inf -np` (default threads) and
`crawler -r -l inf --no-parent`, and compares the sets of HTML pages each
fetched.  Prints a table (pages, wall seconds) and every difference.

Usage: tests/compare/wget_compare.py [--crawler PATH] [--root DIR]
                                     [--install] [--runs N] [--tmp DIR]
                                     [--https] [--mirror [--sample N]]
--https serves the site over HTTPS (HTTP/2 by ALPN, nginx's session cache
on) with a certificate from a private CA made by tests/fixture/certs.py;
every tool is given that CA, and the crawler also crawls the plain-HTTP
port, so the table shows whether HTTPS gives the same page set as HTTP.
--tmp picks where the outputs go (default $TMPDIR or /tmp; here /tmp is on
the ext4 root, /dev/shm is tmpfs); the table names its file system.
--mirror makes browsable mirrors instead: `wget -m -k -p -E -np` and
`crawler -r -l inf -p -k -E --no-parent`, timed, their HTML page sets
compared, and the same sample of pages (index.html and N more, evenly
spread over the pages both saved; default 30) of each mirror opened from
file:// in headless Chromium by tests/e2e/browsecheck.py with nginx's
access log watched (no request may reach it), with probes of the Sphinx
theme (a border from pydoctheme.css?2022.1, the footer colour from
classic.css through two @imports, jQuery loaded).  Prints a table of
pages, seconds, problems by kind.  The crawler's part is skipped (exit
77 after wget's) while its --help lacks --convert-links.
Exit status: 0 when the crawler's HTML page set equals wget's (and, with
--mirror, its sample browses with no problem wget's does not also have), 1
otherwise, 77 when nginx or wget is missing (and --install was not given).
Bounded: every tool run has a timeout, nginx is stopped at exit."""

import argparse
import collections
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_nginx(root, work, certs=None):
    port = free_port()
    tls = ""
    tls_port = None
    if certs:
        tls_port = free_port()
        tls = """
  ssl_certificate %(c)s/good.pem;
  ssl_certificate_key %(c)s/good.key;
  ssl_session_cache shared:crawler:10m;
  server {
    listen 127.0.0.1:%(t)d ssl http2;
    root %(r)s;
  }""" % {"c": certs, "t": tls_port, "r": root}
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
pid %(w)s/nginx.pid;
error_log %(w)s/error.log;
events { worker_connections 1024; }
http {
  access_log %(w)s/access.log;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  client_body_temp_path %(w)s;
  proxy_temp_path %(w)s;
  fastcgi_temp_path %(w)s;
  uwsgi_temp_path %(w)s;
  scgi_temp_path %(w)s;
  server {
    listen 127.0.0.1:%(p)d;
    root %(r)s;
  }%(tls)s
}
""" % {"w": work, "p": port, "r": root, "tls": tls})
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", work],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            for p in (port, tls_port):
                if p:
                    socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
            return proc, port, tls_port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("nginx did not start")


def timed(cmd, cwd, timeout=600):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    return time.monotonic() - t0, p.returncode, p.stderr


def fs_type(path):
    """The file system type of the mount that holds path."""
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            mnt, typ = line.split()[1:3]
            if (path + "/").startswith(mnt.rstrip("/") + "/") and len(mnt) >= len(best):
                best, kind = mnt, typ
    return kind


def html_paths_on_disk(top):
    """URL paths of the .html files a wget-style tool saved under top
    (HOST:PORT/path)."""
    out = set()
    for d, _, files in os.walk(top):
        for name in files:
            if name.endswith(".html"):
                rel = os.path.relpath(os.path.join(d, name), top)
                out.add("/" + rel.split("/", 1)[1])
    return out


def html_paths_in_manifest(path):
    out = set()
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            ct = (r.get("content_type") or "").lower()
            if r["error"] is None and ct.startswith("text/html"):
                out.add(urllib.parse.unquote(urllib.parse.urlsplit(r["final_url"]).path))
    return out


# --mirror: the Sphinx theme applied, through the query-string style sheet
# and the @import chain, and the scripts ran.
DOC_PROBES = [
    ("theme", "!!document.querySelector('div.related')",
     "getComputedStyle(document.querySelector('div.related')).borderBottomStyle",
     "solid"),
    ("import", "!!document.querySelector('div.footer')",
     "getComputedStyle(document.querySelector('div.footer')).color",
     "rgb(85, 85, 85)"),
    ("jquery", "!!document.querySelector('script[src*=jquery]')",
     "typeof window.jQuery", "function"),
]

_WGET_SAVED = re.compile(r'URL: ?(\S+) \[[^\]]*\] -> "([^"]*)"')


def wget_saved(log, prefix="out/"):
    """{url: path under out} from a wget -nv log."""
    out = {}
    with open(log, errors="replace") as f:
        for m in _WGET_SAVED.finditer(f.read()):
            path = m.group(2)
            out[m.group(1)] = path[len(prefix):] if path.startswith(prefix) else path
    return out


def url_path(u):
    return urllib.parse.unquote(urllib.parse.urlsplit(u).path)


def crawler_has_convert_links(exe):
    try:
        p = subprocess.run([exe, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--convert-links" in p.stdout


def log_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def mirror_mode(a, work, port):
    """--mirror: see the module docstring."""
    sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
    import browsecheck
    if not browsecheck.find_chromium():
        print("SKIP: chromium is not installed (tests/deps.sh chromium)")
        return 77
    seed = "http://127.0.0.1:%d/index.html" % port
    cmds = [("wget", ["wget", "-m", "-k", "-p", "-E", "-np", "-nv", "-o", "wget.log",
                      "-P", "out", seed])]
    have_k = crawler_has_convert_links(a.crawler)
    if have_k:
        cmds.append(("crawler", [a.crawler, "-q", "-r", "-l", "inf", "-p", "-k", "-E",
                                 "--no-parent", "-o", "out", seed]))
    else:
        print("crawler: skipped, %s --help does not list --convert-links" % a.crawler)
    # wget2 for the time only: its mirror is not parsed or opened here.
    if shutil.which("wget2"):
        d = os.path.join(work, "wget2")
        os.mkdir(d)
        os.sync()
        cmd = ["wget2", "-q", "--no-config", "-m", "-k", "-p", "-E", "-np", "-P", "out", seed]
        secs, rc, _ = timed(cmd, d, timeout=900)
        print("wget2: exit %d in %.1f s, %d HTML files (timed only): %s"
              % (rc, secs, len(html_paths_on_disk(os.path.join(d, "out"))), " ".join(cmd)),
              flush=True)
    mirrors = {}
    for name, cmd in cmds:
        d = os.path.join(work, name)
        os.mkdir(d)
        os.sync()
        secs, rc, err = timed(cmd, d, timeout=900)
        print("%s: exit %d in %.1f s: %s" % (name, rc, secs, " ".join(cmd)), flush=True)
        out = os.path.join(d, "out")
        if name == "wget":
            saved = wget_saved(os.path.join(d, "wget.log"))
            pages = {u: p for u, p in saved.items() if p.endswith(".html")}
        else:
            saved, pages = {}, {}
            mf = os.path.join(out, "manifest.jsonl")
            if os.path.exists(mf):
                with open(mf) as f:
                    for line in f:
                        r = json.loads(line)
                        if r["path"] is None:
                            continue
                        saved[r["url"]] = r["path"]
                        if (r.get("content_type") or "").lower().startswith("text/html"):
                            pages[r["url"]] = r["path"]
        mirrors[name] = {"out": out, "secs": secs, "rc": rc, "saved": saved,
                         "pages": pages}
    # The sample: index.html and N pages both saved, evenly spread.
    common = sorted(set.intersection(*(set(url_path(u) for u in m["pages"])
                                       for m in mirrors.values())))
    step = max(1, len(common) // max(1, a.sample))
    sample = ["/index.html"] + [p for p in common[::step] if p != "/index.html"][:a.sample]
    access = os.path.join(work, "access.log")
    for name, m in mirrors.items():
        by_path = {url_path(u): p for u, p in m["pages"].items()}
        starts = [by_path[p] for p in sample if p in by_path]
        before = log_lines(access)
        t0 = time.monotonic()
        rep = browsecheck.check_mirror(m["out"], starts, saved_urls=list(m["saved"]),
                                       probes=DOC_PROBES, max_pages=len(starts))
        m["browse_secs"] = time.monotonic() - t0
        m["server_hits"] = log_lines(access) - before
        m["report"] = rep
        m["sampled"] = len(starts)
    print("\n| tool | HTML pages | files | wall s | exit | pages browsed | requests "
          "| problems | server hits while browsing |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, m in mirrors.items():
        rep = m["report"]
        kinds = collections.Counter(p.kind for p in rep.problems)
        print("| %s | %d | %d | %.1f | %d | %d | %d | %s | %d |"
              % (name, len(m["pages"]), len(m["saved"]), m["secs"], m["rc"],
                 len(rep.pages), len(rep.requests),
                 ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "0",
                 m["server_hits"]))
    for name, m in mirrors.items():
        print("\n%s: %s" % (name, m["report"].summary(limit=15)))
        for pname, vals in sorted(m["report"].probes.items()):
            print("  probe %s: %d pages" % (pname, len(vals)))
    ok = all(m["server_hits"] == 0 for m in mirrors.values())
    if "crawler" in mirrors:
        w = set(url_path(u) for u in mirrors["wget"]["pages"])
        c = set(url_path(u) for u in mirrors["crawler"]["pages"])
        print("\nHTML pages: wget %d, crawler %d, both %d" % (len(w), len(c), len(w & c)))
        for p in sorted(w - c)[:50]:
            print("  only wget:    %s" % p)
        for p in sorted(c - w)[:50]:
            print("  only crawler: %s" % p)
        wk = set(p.kind for p in mirrors["wget"]["report"].problems)
        extra = [p for p in mirrors["crawler"]["report"].problems if p.kind not in wk]
        ok = ok and w == c and not extra
        print("same page set as wget: %s; crawler problems of a kind wget has not: %d"
              % ("yes" if w == c else "NO", len(extra)))
        return 0 if ok else 1
    return 77 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=os.path.join(TOP, "build", "crawler", "crawler"))
    ap.add_argument("--root", default="/usr/share/doc/python3.11/html")
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tmp", default=tempfile.gettempdir(),
                    help="directory for nginx's files and every tool's output")
    ap.add_argument("--https", action="store_true",
                    help="crawl over HTTPS and HTTP/2 with a private CA")
    ap.add_argument("--mirror", action="store_true",
                    help="wget -m -k -p -E against crawler -k -E, checked in Chromium")
    ap.add_argument("--sample", type=int, default=30,
                    help="--mirror: pages opened in the browser besides index.html")
    a = ap.parse_args()
    # The tools run in their own work directories.
    a.crawler = os.path.abspath(a.crawler)
    if a.mirror and a.https:
        ap.error("--mirror runs over plain HTTP only")
    if a.install:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx", "wget", "wget2",
                        "python3.11-doc"] + (["chromium"] if a.mirror else []),
                       check=False)
    for tool in ("nginx", "wget"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed (use --install)" % tool)
            return 77
    if not os.path.isdir(a.root):
        print("SKIP: %s does not exist (apt-get install python3.11-doc)" % a.root)
        return 77
    work = tempfile.mkdtemp(prefix="crawler-cmp-", dir=a.tmp)
    certs = None
    if a.https:
        certs = os.path.join(work, "certs")
        subprocess.run([sys.executable, os.path.join(TOP, "tests", "fixture", "certs.py"),
                        certs], check=True, timeout=60)
    nginx, port, tls_port = start_nginx(a.root, work, certs)
    try:
        if a.mirror:
            return mirror_mode(a, work, port)
        seed = "http://127.0.0.1:%d/index.html" % port
        trust = {}
        if a.https:
            plain_seed = seed
            seed = "https://127.0.0.1:%d/index.html" % tls_port
            ca = os.path.join(certs, "ca.pem")
            trust = {"wget": ["--ca-certificate", ca], "wget2": ["--ca-certificate", ca],
                     "crawler": ["--ca-certificate", ca]}
        results = {}
        tools = [
            ("wget", ["wget", "-q", "-r", "-l", "inf", "-np", "-P", "out", seed]
             + trust.get("wget", [])),
            ("wget2", ["wget2", "-q", "--no-config", "-r", "-l", "inf", "-np",
                       "-P", "out", seed] + trust.get("wget2", [])),
            ("crawler", [a.crawler, "-q", "-r", "-l", "inf", "--no-parent",
                         "-o", "out", seed] + trust.get("crawler", [])),
        ]
        if a.https:
            tools.append(("crawler-http", [a.crawler, "-q", "-r", "-l", "inf", "--no-parent",
                                           "-o", "out", plain_seed]))
        tools = [(n, c) for n, c in tools
                 if shutil.which(c[0]) or os.access(c[0], os.X_OK)]
        times = {name: [] for name, _ in tools}
        # Rounds, each tool once per round, so that a slow spell of the
        # machine hits all of them.  No output is deleted until the end and
        # dirty pages are written back before each run: on ext4, deleting a
        # tree just before a run, or a previous tool's writeback, would be
        # charged to whichever tool runs next (inode allocation skips
        # recently deleted inodes one by one).
        for i in range(a.runs):
            for name, cmd in tools:
                d = os.path.join(work, "%s-%d" % (name, i))
                os.mkdir(d)
                os.sync()
                secs, rc, err = timed(cmd, d)
                times[name].append(secs)
                if name.startswith("crawler"):
                    pages = html_paths_in_manifest(os.path.join(d, "out", "manifest.jsonl"))
                else:
                    pages = html_paths_on_disk(os.path.join(d, "out"))
                results[name] = (pages, rc)
        for name, _ in tools:
            t = sorted(times[name])
            results[name] = results[name] + (t[len(t) // 2], t[0], t[-1])
        print("output under %s (%s)\n" % (work, fs_type(work)))
        print("| tool | HTML pages | wall s (median, min-max of %d) | exit |" % a.runs)
        print("|---|---|---|---|")
        for name, (pages, rc, med, lo, hi) in results.items():
            print("| %s | %d | %.2f (%.2f-%.2f) | %d |" % (name, len(pages), med, lo, hi, rc))
        ok = True
        if "wget" in results and "crawler" in results:
            w, c = results["wget"][0], results["crawler"][0]
            only_w, only_c = sorted(w - c), sorted(c - w)
            print("\nHTML pages: wget %d, crawler %d, both %d" % (len(w), len(c), len(w & c)))
            for p in only_w[:50]:
                print("  only wget:    %s" % p)
            for p in only_c[:50]:
                print("  only crawler: %s" % p)
            ok = not only_w and not only_c
            print("same page set as wget: %s" % ("yes" if ok else "NO"))
        if "crawler-http" in results:
            s, p = results["crawler"][0], results["crawler-http"][0]
            for x in sorted(s - p)[:50]:
                print("  only over https: %s" % x)
            for x in sorted(p - s)[:50]:
                print("  only over http:  %s" % x)
            same = s == p
            print("same page set over HTTPS as over HTTP: %s" % ("yes" if same else "NO"))
            ok = ok and same
        return 0 if ok else 1
    finally:
        nginx.send_signal(signal.SIGTERM)
        try:
            nginx.wait(timeout=5)
        except subprocess.TimeoutExpired:
            nginx.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
