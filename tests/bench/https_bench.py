#!/usr/bin/env python3
"""HTTPS benchmark (issue 13): the crawler, curl -Z and wget2 on the same
URL lists over HTTP/1.1 with TLS, HTTP/2, and plain HTTP for reference,
against the fixture's TLS listeners with certificates from a private CA
(tests/fixture/certs.py).  Runs alternate between tools; each tool's output
goes to tmpfs and to the disk (--fs).  Reported per tool: wall seconds
(median), CPU seconds per 1,000 pages, full TLS handshakes per page (the
fixture's counters: handshakes minus resumed), and the crawler's ratios.

Workloads:
  throughput  N URLs, no delay, 8 KiB, 64 connections (keep-alive); with
              --servers fixture,nginx also against nginx (the same
              certificates, one worker, every /p/N answered from one 8 KiB
              file), so that the figures do not rest on our own server alone
  list        N URLs, delays U(0,1000) ms, 2 KiB, as many connections as
              the tool takes (crawler -c N, curl -Z 300, wget2 500)

Usage: tests/bench/https_bench.py [--crawler PATH] [--fixture PATH]
           [--runs 3] [--n-throughput 20000] [--n-list 2000]
           [--fs tmpfs,disk] [--servers fixture,nginx] [--output FILE]
"""

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "compare"))
from wget_compare import free_port  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Server:
    """A server process with its own directory (self.proc, self.dir)."""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Fixture(Server):
    def __init__(self, exe, tmp, certs):
        self.dir = tempfile.mkdtemp(prefix="fx-", dir=tmp)
        pf = os.path.join(self.dir, "ports")
        self.proc = subprocess.Popen(
            [exe, "--quiet", "--port-file", pf, "--lifetime", "3600",
             "--https-port", "0", "--h2-port", "0",
             "--cert", os.path.join(certs, "good.pem"),
             "--key", os.path.join(certs, "good.key")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(pf):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("fixture did not start")
            time.sleep(0.02)
        with open(pf) as f:
            self.ports = {k: int(v) for k, v in (l.split("=", 1) for l in f.read().split())}

    def stats(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/_stats" % self.ports["http"],
                                    timeout=20) as r:
            return json.loads(r.read())



class Nginx(Server):
    """nginx on loopback with plain, TLS and h2 ports.  Handshakes are
    counted from its access log: a connection whose first request shows
    $ssl_session_reused "r" resumed, "." was a full handshake."""

    def __init__(self, tmp, certs):
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=tmp)
        root = os.path.join(self.dir, "root")
        os.mkdir(root)
        body = (b"<!doctype html><title>x</title>" + b"nginx page " * 800)[:8192]
        with open(os.path.join(root, "page.html"), "wb") as f:
            f.write(body)
        self.ports = {k: free_port() for k in ("http", "https", "h2")}
        self.log = os.path.join(self.dir, "access.log")
        conf = os.path.join(self.dir, "nginx.conf")
        loc = "root %s; location / { try_files /page.html =404; }" % root
        with open(conf, "w") as f:
            # user root: the workers must read a private temporary directory.
            f.write("""user root;
worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 8192; }
http {
  default_type text/html;
  log_format c "$connection $ssl_session_reused";
  access_log %(log)s c;
  keepalive_requests 1000000;
  client_body_temp_path %(d)s;
  proxy_temp_path %(d)s;
  fastcgi_temp_path %(d)s;
  uwsgi_temp_path %(d)s;
  scgi_temp_path %(d)s;
  ssl_certificate %(c)s/good.pem;
  ssl_certificate_key %(c)s/good.key;
  ssl_session_cache shared:bench:20m;
  server { listen 127.0.0.1:%(http)d; %(loc)s }
  server { listen 127.0.0.1:%(https)d ssl; %(loc)s }
  server { listen 127.0.0.1:%(h2)d ssl http2; %(loc)s }
}
""" % dict(self.ports, d=self.dir, log=self.log, c=certs, loc=loc))
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                for p in self.ports.values():
                    socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.05)

    def stats(self):
        first = {}
        with open(self.log) as f:
            for line in f:
                conn, _, reused = line.strip().partition(" ")
                first.setdefault(conn, reused)
        tls = [r for r in first.values() if r in ("r", ".")]
        return {"tls_handshakes": len(tls), "tls_resumed": sum(r == "r" for r in tls)}



def targets(kind, n, rng):
    if kind == "throughput":
        return ["/p/%d?s=8192" % i for i in range(n)]
    return ["/p/%d?d=%d&s=2048" % (i, rng.randint(0, 1000)) for i in range(n)]


def command(tool, proto, urls, out, work, ca, conc):
    lst = os.path.join(work, "urls")
    with open(lst, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    if tool == "crawler":
        cmd = [ARGS.crawler, "-q", "--no-state", "-i", lst, "-o", out, "-c", str(conc),
               "--per-host", str(conc), "--ca-certificate", ca]
        if proto == "https":
            cmd.append("--http1.1")
        return cmd
    if tool == "curl":
        cfg = os.path.join(work, "curl.cfg")
        with open(cfg, "w") as f:
            for i, u in enumerate(urls):
                f.write('url = "%s"\noutput = "%d"\n' % (u, i))
        cmd = ["curl", "-s", "-Z", "--parallel-max", str(min(conc, 300)),
               "--parallel-immediate", "--output-dir", out, "--cacert", ca, "-K", cfg]
        cmd.append("--http2" if proto == "h2" else "--http1.1")
        return cmd
    if tool == "wget2":
        cmd = ["wget2", "-q", "--no-config", "-i", lst, "-P", out, "--max-threads",
               str(min(conc, 500)), "--ca-certificate", ca, "--tries", "3"]
        if proto != "h2":
            cmd.append("--no-http2")
        return cmd
    raise ValueError(tool)


def one_run(fx, tool, proto, kind, urls, outbase, ca, conc):
    work = tempfile.mkdtemp(prefix="run-", dir=ARGS.tmp)
    out = tempfile.mkdtemp(prefix="out-", dir=outbase)
    try:
        cmd = command(tool, proto, urls, out, work, ca, conc)
        before = fx.stats()
        if outbase != ARGS.tmp:
            os.sync()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=600)
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = fx.stats()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        hs = after.get("tls_handshakes", 0) - before.get("tls_handshakes", 0)
        res = after.get("tls_resumed", 0) - before.get("tls_resumed", 0)
        files = sum(len(fs) for _, _, fs in os.walk(out))
        return {"wall": wall, "cpu": cpu, "full": hs - res, "hs": hs, "rc": p.returncode,
                "files": files}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crawler", default=os.path.join(TOP, "build-bench", "crawler", "crawler"))
    ap.add_argument("--fixture", default=os.path.join(TOP, "build-bench", "tests", "fixture",
                                                      "crawler-fixture"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n-throughput", type=int, default=20000)
    ap.add_argument("--n-list", type=int, default=2000)
    ap.add_argument("--fs", default="tmpfs,disk")
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    ap.add_argument("--disk", default="/var/tmp")
    ap.add_argument("--tools", default="crawler,curl,wget2")
    ap.add_argument("--servers", default="fixture",
                    help="fixture, nginx or both (nginx: the throughput workload only)")
    ap.add_argument("--output", default=os.path.join(TOP, "tests", "bench", "results-https.md"))
    ARGS = ap.parse_args()
    tools = [t for t in ARGS.tools.split(",") if t == "crawler" or shutil.which(t)]
    tmp = tempfile.mkdtemp(prefix="https-bench-", dir=ARGS.tmp)
    ARGS.tmp = tmp
    disk = tempfile.mkdtemp(prefix="https-bench-", dir=ARGS.disk)
    certs = os.path.join(tmp, "certs")
    subprocess.run([sys.executable, os.path.join(TOP, "tests", "fixture", "certs.py"), certs],
                   check=True)
    ca = os.path.join(certs, "ca.pem")
    servers = {}
    rng = random.Random(1)
    rows = []
    plans = []
    try:
        if "fixture" in ARGS.servers.split(","):
            servers["fixture"] = Fixture(ARGS.fixture, tmp, certs)
            plans += [("fixture", "throughput", "http", 64),
                      ("fixture", "throughput", "https", 64),
                      ("fixture", "throughput", "h2", 64),
                      ("fixture", "list", "https", ARGS.n_list),
                      ("fixture", "list", "h2", ARGS.n_list)]
        if "nginx" in ARGS.servers.split(","):
            servers["nginx"] = Nginx(tmp, certs)
            plans += [("nginx", "throughput", p, 64) for p in ("http", "https", "h2")]
        for server, kind, proto, conc in plans:
            fx = servers[server]
            n = ARGS.n_throughput if kind == "throughput" else ARGS.n_list
            tg = targets(kind, n, rng)
            port = fx.ports["http" if proto == "http" else proto]
            scheme = "http" if proto == "http" else "https"
            urls = ["%s://127.0.0.1:%d%s" % (scheme, port, t) for t in tg]
            for fs in ARGS.fs.split(","):
                outbase = tmp if fs == "tmpfs" else disk
                runs = {t: [] for t in tools}
                for k in range(ARGS.runs):
                    for t in tools:
                        if t == "wget2" and proto == "http":
                            # Plain HTTP is the crawler's own reference row.
                            continue
                        r = one_run(fx, t, proto, kind, urls, outbase, ca, conc)
                        log("https-bench: %s %s %s %s %s run %d: %.2f s, %.2f s CPU, %d full "
                            "handshakes, %d files, exit %d" % (server, kind, proto, fs, t, k + 1,
                                                              r["wall"], r["cpu"], r["full"],
                                                              r["files"], r["rc"]))
                        runs[t].append(r)
                for t in tools:
                    if not runs[t]:
                        continue
                    rs = runs[t]
                    rows.append({"server": server, "kind": kind, "proto": proto, "fs": fs,
                                 "tool": t, "n": n,
                                 "wall": statistics.median(r["wall"] for r in rs),
                                 "cpu": statistics.median(r["cpu"] for r in rs),
                                 "full": statistics.median(r["full"] for r in rs),
                                 "files": min(r["files"] for r in rs)})
    finally:
        for fx in servers.values():
            fx.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)
        os.sync()
    lines = ["# HTTPS benchmark", "",
             "`tests/bench/https_bench.py --runs %d --n-throughput %d --n-list %d --fs %s "
             "--servers %s`" % (ARGS.runs, ARGS.n_throughput, ARGS.n_list, ARGS.fs,
                                ARGS.servers), "",
             "| server | workload | protocol | output | tool | wall s | CPU ms / 1,000 pages | "
             "full handshakes / page | files | crawler/peer wall |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["server"], r["kind"], r["proto"], r["fs"], r["tool"]): r for r in rows}
    for r in rows:
        c = by.get((r["server"], r["kind"], r["proto"], r["fs"], "crawler"))
        ratio = "%.2f" % (c["wall"] / r["wall"]) if c and r["tool"] != "crawler" else ""
        lines.append("| %s | %s | %s | %s | %s | %.2f | %.0f | %.3f | %d | %s |" % (
            r["server"], r["kind"], r["proto"], r["fs"], r["tool"], r["wall"],
            r["cpu"] / r["n"] * 1e6, r["full"] / r["n"], r["files"], ratio))
    lines.append("")
    for server in servers:
        for fs in ARGS.fs.split(","):
            h = by.get((server, "throughput", "http", fs, "crawler"))
            for proto in ("https", "h2"):
                t = by.get((server, "throughput", proto, fs, "crawler"))
                if h and t:
                    lines.append("- crawler CPU per page, throughput over %s / plain HTTP "
                                 "(%s, %s): %.2fx" % (proto, server, fs, t["cpu"] / h["cpu"]))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(ARGS.output, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
