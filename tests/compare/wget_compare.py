#!/usr/bin/env python3
"""Recursive crawl of a real site, side by side with wget and wget2.

Serves the HTML documentation of a Debian package (default: python3.11-doc,
several hundred interlinked pages) with nginx on 127.0.0.1, crawls it with
`wget -r -l inf -np`, `wget2 -r -l inf -np` (default threads) and
`crawler -r -l inf --no-parent`, and compares the sets of HTML pages each
fetched.  Prints a table (pages, wall seconds) and every difference.

Usage: tests/compare/wget_compare.py [--crawler PATH] [--root DIR]
                                     [--install] [--runs N] [--tmp DIR]
                                     [--https]
--https serves the site over HTTPS (HTTP/2 by ALPN, nginx's session cache
on) with a certificate from a private CA made by tests/fixture/certs.py;
every tool is given that CA, and the crawler also crawls the plain-HTTP
port, so the table shows whether HTTPS gives the same page set as HTTP.
--tmp picks where the outputs go (default $TMPDIR or /tmp; here /tmp is on
the ext4 root, /dev/shm is tmpfs); the table names its file system.
Exit status: 0 when the crawler's HTML page set equals wget's, 1 otherwise,
77 when nginx or wget is missing (and --install was not given).
Bounded: every tool run has a timeout, nginx is stopped at exit."""

import argparse
import json
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
    a = ap.parse_args()
    if a.install:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx", "wget", "wget2",
                        "python3.11-doc"], check=False)
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
