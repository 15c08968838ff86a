#!/usr/bin/env python3
"""WARC benchmark (issue 10): what --warc costs, measured beside the same
crawl without it and beside wget --warc-file, with the output (pages and
WARC files) on tmpfs and on the disk.  Runs alternate between variants;
reported per variant: wall seconds and CPU seconds (medians), CPU per
1,000 pages, WARC bytes, and the ratios to the crawl without --warc.

Variants: crawler (no archive), crawler --warc (gzip level 1, the
default), crawler --warc --warc-level 6, crawler --warc --no-mirror, and
wget --warc-file (sequential: the throughput workload only, and on a
tenth of the list, scaled).

Workloads (fixture, loopback):
  throughput  N URLs of 8 KiB, no delay, -c 64
  gzip        the same, gzip and chunked (gz=1&ch=1): the crawler decodes
              itself with --warc
  latency     N/4 URLs of 8 KiB, delays U(0,1000) ms, -c N/4
  docs        a real site: the Python documentation (python3.11-doc,
              about 500 HTML pages and their images) served by nginx,
              crawled recursively (-r -l inf --no-parent; wget -r -np)

Usage: tests/bench/warc_bench.py [--crawler PATH] [--fixture PATH] [--runs 3]
           [--n 20000] [--fs tmpfs,disk] [--workloads throughput,gzip,latency]
           [--output FILE]
"""

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "compare"))
from wget_compare import start_nginx  # noqa: E402
DOCS = "/usr/share/doc/python3.11/html"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def start_fixture(exe, tmp):
    d = tempfile.mkdtemp(prefix="fx-", dir=tmp)
    pf = os.path.join(d, "ports")
    proc = subprocess.Popen([exe, "--quiet", "--port-file", pf, "--lifetime", "3600",
                             "--http-port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(pf):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("fixture did not start")
        time.sleep(0.02)
    with open(pf) as f:
        ports = dict(l.split("=", 1) for l in f.read().split())
    return proc, int(ports["http"]), d


VARIANTS = ["crawler", "warc", "warc-l6", "warc-nomirror", "wget"]


def command(variant, lst, out, conc, seed=None):
    src = ["-r", "-l", "inf", "-np", seed] if seed else ["-i", lst]
    if variant == "wget":
        return ["wget", "-q", "-P", out, "--warc-file=" + os.path.join(out, "w"),
                "--no-warc-keep-log", "--tries", "1"] + src
    if seed:
        src = ["-r", "-l", "inf", "--no-parent", seed]
    cmd = [ARGS.crawler, "-q", "--no-state", "-o", out, "-c", str(conc),
           "--per-host", str(conc)] + src
    if variant != "crawler":
        cmd += ["--warc", os.path.join(out, "arc", "w")]
    if variant == "warc-l6":
        cmd += ["--warc-level", "6"]
    if variant == "warc-nomirror":
        cmd += ["--no-mirror"]
    return cmd


def one_run(variant, urls, outbase, conc, work, seed=None):
    out = tempfile.mkdtemp(prefix="out-", dir=outbase)
    lst = os.path.join(work, "urls-%s" % variant)
    with open(lst, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    try:
        cmd = command(variant, lst, out, conc, seed)
        if outbase != ARGS.tmp:
            os.sync()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        warc = 0
        files = 0
        for dp, _, fs in os.walk(out):
            for fn in fs:
                if fn.endswith(".warc.gz"):
                    warc += os.path.getsize(os.path.join(dp, fn))
                else:
                    files += 1
        return {"wall": wall, "cpu": cpu, "rc": p.returncode, "warc": warc, "files": files,
                "pages": files - (0 if variant == "wget" else 1),
                "err": p.stderr.decode("utf-8", "replace")[-300:]}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def targets(kind, n, rng):
    if kind == "throughput":
        return ["/p/%d?s=8192" % i for i in range(n)]
    if kind == "gzip":
        return ["/p/%d?s=8192&gz=1&ch=1" % i for i in range(n)]
    return ["/p/%d?d=%d&s=8192" % (i, rng.randint(0, 1000)) for i in range(n // 4)]


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crawler", default=os.path.join(TOP, "build-bench", "crawler", "crawler"))
    ap.add_argument("--fixture", default=os.path.join(TOP, "build-bench", "tests", "fixture",
                                                      "crawler-fixture"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--fs", default="tmpfs,disk")
    ap.add_argument("--workloads", default="throughput,gzip,latency")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    ap.add_argument("--disk", default="/var/tmp")
    ap.add_argument("--output", default=os.path.join(TOP, "tests", "bench", "results-warc.md"))
    ARGS = ap.parse_args()
    variants = [v for v in ARGS.variants.split(",") if v != "wget" or shutil.which("wget")]
    tmp = tempfile.mkdtemp(prefix="warc-bench-", dir=ARGS.tmp)
    ARGS.tmp = tmp
    disk = tempfile.mkdtemp(prefix="warc-bench-", dir=ARGS.disk)
    proc, port, fxdir = start_fixture(ARGS.fixture, tmp)
    ngx = None
    if "docs" in ARGS.workloads.split(","):
        if not (os.path.isdir(DOCS) and shutil.which("nginx")):
            sys.exit("docs: needs nginx and python3.11-doc (apt-get install nginx "
                     "python3.11-doc)")
        ngx, ngx_port, _ = start_nginx(DOCS, tempfile.mkdtemp(prefix="ngx-", dir=tmp))
    rng = random.Random(1)
    rows = []
    try:
        for kind in ARGS.workloads.split(","):
            seed = None
            if kind == "docs":
                seed = "http://127.0.0.1:%d/index.html" % ngx_port
                urls = []
                conc = 64
            else:
                tg = targets(kind, ARGS.n, rng)
                urls = ["http://127.0.0.1:%d%s" % (port, t) for t in tg]
                conc = 64 if kind != "latency" else len(urls)
            for fs in ARGS.fs.split(","):
                outbase = tmp if fs == "tmpfs" else disk
                runs = {v: [] for v in variants}
                for k in range(ARGS.runs):
                    for v in variants:
                        if v == "wget" and kind == "latency":
                            continue  # one at a time: N/4 x 0.5 s
                        u = urls[:len(urls) // 10] if v == "wget" else urls
                        r = one_run(v, u, outbase, conc, tmp, seed)
                        # docs: the pages each tool saved (the WARC-only
                        # variant counts the crawler's).
                        r["n"] = len(u) if not seed else max(r["pages"], 1)
                        log("warc-bench: %s %s %s run %d: %.2f s, %.2f s CPU, %.1f MB WARC, "
                            "%d files, exit %d" % (kind, fs, v, k + 1, r["wall"], r["cpu"],
                                                   r["warc"] / 1e6, r["files"], r["rc"]))
                        if r["rc"] not in (0, 8):
                            log(r["err"])
                        runs[v].append(r)
                for v in variants:
                    rs = runs[v]
                    if not rs:
                        continue
                    rows.append({"kind": kind, "fs": fs, "variant": v,
                                 "n": max(r["n"] for r in rs),
                                 "wall": statistics.median(r["wall"] for r in rs),
                                 "cpu": statistics.median(r["cpu"] for r in rs),
                                 "warc": statistics.median(r["warc"] for r in rs)})
    finally:
        proc.terminate()
        proc.wait(10)
        if ngx:
            ngx.terminate()
            ngx.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)
        os.sync()
    lines = ["# WARC benchmark", "",
             "`tests/bench/warc_bench.py --runs %d --n %d --fs %s --workloads %s`"
             % (ARGS.runs, ARGS.n, ARGS.fs, ARGS.workloads), "",
             "Medians of %d alternated runs.  wget runs a tenth of the list (it fetches one "
             "URL at a time); its wall is scaled to the whole list in the last column." % ARGS.runs,
             "",
             "| workload | output | variant | URLs | wall s | CPU s | CPU ms / 1,000 pages | "
             "WARC MB | wall / no-WARC | CPU / no-WARC |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["kind"], r["fs"], r["variant"]): r for r in rows}
    for r in rows:
        base = by.get((r["kind"], r["fs"], "crawler"))
        if r["variant"] == "warc-nomirror" and r["kind"] == "docs" and base:
            r["n"] = base["n"]
        if r["variant"] == "wget":
            scale = base["n"] / r["n"] if base else 1
            ratio_w = "%.1f (scaled)" % (r["wall"] * scale / base["wall"]) if base else ""
            ratio_c = "%.2f (per page)" % ((r["cpu"] / r["n"]) / (base["cpu"] / base["n"])) \
                if base else ""
        else:
            ratio_w = "%.2f" % (r["wall"] / base["wall"]) if base else ""
            ratio_c = "%.2f" % (r["cpu"] / base["cpu"]) if base else ""
        lines.append("| %s | %s | %s | %d | %.2f | %.2f | %.0f | %.1f | %s | %s |" % (
            r["kind"], r["fs"], r["variant"], r["n"], r["wall"], r["cpu"],
            r["cpu"] / r["n"] * 1e6, r["warc"] / 1e6, ratio_w, ratio_c))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(ARGS.output, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
