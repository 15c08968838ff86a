#!/usr/bin/env python3
"""Crawling the same site again (issue 12, item 4): what a re-crawl asks
of the server, the crawler's -N against wget's and wget2's -N.

Serves a copy of Debian's python3.11-doc HTML with nginx on 127.0.0.1
(nginx sends ETag and Last-Modified and answers conditional requests),
crawls it recursively with each tool into its own directory, edits a few
pages of the copy (a new mtime and a few bytes more), then crawls again
with -N into the same directory.  From nginx's access log, per tool and
run: requests, 200s, 304s, body bytes sent, and wall time; then checks
that each tool's second run saved the edited pages again (their new bytes
are on disk).

Usage: tests/compare/recrawl_compare.py [--crawler PATH]
           [--root /usr/share/doc/python3.11/html] [--tmp DIR] [--edit 5]
Needs nginx, wget, wget2 and python3.11-doc (`--install` apt-gets them).
The output directories go under --tmp (default /var/tmp: the disk)."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wget_compare as wc  # noqa: E402

TOP = wc.TOP
LOG_RE = re.compile(rb'"(?:GET|HEAD) (\S+) [^"]*" (\d{3}) (\d+)')


def log_since(path, offset):
    """(requests, 200s, 304s, body bytes, HEADs) in the access log after
    offset, and the new offset."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    reqs = ok = nm = body = heads = 0
    for line in data.splitlines():
        m = LOG_RE.search(line)
        if not m:
            continue
        reqs += 1
        heads += b'"HEAD ' in line
        st = int(m.group(2))
        ok += st == 200
        nm += st == 304
        body += int(m.group(3))
    return (reqs, ok, nm, body, heads), offset + len(data)


def commands(tool, url, out, crawler, again):
    if tool == "crawler":
        cmd = [crawler, "-q", "-r", "-l", "inf", "--no-parent", "-o", out, url]
        return cmd + (["-N"] if again else [])
    if tool == "wget":
        cmd = ["wget", "-q", "-r", "-l", "inf", "-np", "-P", out, url]
        return cmd + (["-N"] if again else [])
    if tool == "wget2":
        cmd = ["wget2", "-q", "--no-config", "-r", "-l", "inf", "-np", "-P", out, url]
        return cmd + (["-N"] if again else [])
    raise ValueError(tool)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crawler", default=os.path.join(TOP, "build", "crawler", "crawler"))
    ap.add_argument("--root", default="/usr/share/doc/python3.11/html")
    ap.add_argument("--tmp", default="/var/tmp")
    ap.add_argument("--edit", type=int, default=5, help="pages edited between the runs")
    ap.add_argument("--tools", default="crawler,wget,wget2")
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    # The tools run in the work directory.
    args.crawler = os.path.abspath(args.crawler)
    if args.install:
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx", "wget", "wget2",
                        "python3.11-doc"], check=True, stdout=subprocess.DEVNULL)
    if not os.path.isdir(args.root):
        sys.exit("%s is missing: apt-get install --reinstall python3.11-doc" % args.root)
    work = tempfile.mkdtemp(prefix="recrawl-", dir=args.tmp)
    site = os.path.join(work, "site")
    shutil.copytree(args.root, site, symlinks=False)
    proc, port, _ = wc.start_nginx(site, work)
    url = "http://127.0.0.1:%d/index.html" % port
    log = os.path.join(work, "access.log")
    rows = []
    try:
        # The same pages edited for every tool: sorted, every 50th page.
        pages = sorted(os.path.relpath(os.path.join(d, f), site)
                       for d, _, fs in os.walk(site) for f in fs if f.endswith(".html"))
        edited = pages[::50][:args.edit]
        originals = {p: open(os.path.join(site, p), "rb").read() for p in edited}
        for tool in args.tools.split(","):
            out = os.path.join(work, "out-" + tool)
            for p, data in originals.items():
                with open(os.path.join(site, p), "wb") as f:
                    f.write(data)
                os.utime(os.path.join(site, p), (time.time() - 86400, time.time() - 86400))
            offset = os.path.getsize(log) if os.path.exists(log) else 0
            t, rc, err = wc.timed(commands(tool, url, out, args.crawler, False), work)
            first, offset = log_since(log, offset)
            # Edited a second later, so Last-Modified moves too.
            time.sleep(1.1)
            for p in edited:
                with open(os.path.join(site, p), "ab") as f:
                    f.write(b"\n<!-- edited -->\n")
            t2, rc2, err2 = wc.timed(commands(tool, url, out, args.crawler, True), work)
            second, offset = log_since(log, offset)
            fresh = 0
            for p in edited:
                for d, _, fs in os.walk(out):
                    if os.path.basename(p) in fs:
                        cand = os.path.join(d, os.path.basename(p))
                        if cand.endswith(p) and open(cand, "rb").read().endswith(b"<!-- edited -->\n"):
                            fresh += 1
                            break
            rows.append((tool, t, rc, first, t2, rc2, second, fresh))
            print("recrawl: %s: first %.2f s exit %d %s, again %.2f s exit %d %s, edited pages "
                  "saved again %d of %d" % (tool, t, rc, first, t2, rc2, second, fresh,
                                             len(edited)), file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(10)
    print("Output under %s (%s); %d pages edited between the runs.\n" % (
        args.tmp, wc.fs_type(args.tmp), len(edited)))
    print("| tool | run | wall s | requests | 200 | 304 | HEAD | body MB | exit | edited pages saved again |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tool, t, rc, first, t2, rc2, second, fresh in rows:
        print("| %s | first | %.2f | %d | %d | %d | %d | %.1f | %d | |" % (
            tool, t, first[0], first[1], first[2], first[4], first[3] / 1e6, rc))
        print("| %s | -N | %.2f | %d | %d | %d | %d | %.1f | %d | %d of %d |" % (
            tool, t2, second[0], second[1], second[2], second[4], second[3] / 1e6, rc2,
            fresh, len(edited)))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
