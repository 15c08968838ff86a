#!/usr/bin/env python3
"""warc-tools: proves that warccheck.mjs, replay.py and warcdiff.py work,
and that each of them can fail, before any test trusts them with the
crawler's WARC files.

1. A small site on 127.0.0.1 (static files, plus chunked, gzip, chunked +
   gzip, empty, redirect and 404 responses) is crawled by wget --warc-file
   into several WARC files (--warc-max-size), twice, and a third time after
   a file changed.  warcio.js's own CDX indexer writes a CDXJ for the first
   crawl.  warccheck passes it as WARC/1.0 with raw payload digests (what
   wget writes) and fails it as WARC/1.1 and with entity payload digests;
   replay gives back every body the server sent; warcdiff finds the two
   crawls alike and the third different.
2. A WARC/1.1 file written here to the crawler's contract (microsecond
   dates, entity payload digests, request -> response links, a revisit)
   passes, and replays the revisit to its original's body.
3. Copies broken on purpose fail with the right message: a flipped body
   byte, a flipped compressed byte, a truncated last member, trailing
   bytes, two records in one member, a record split across two members, a
   CDXJ line with a wrong offset or length, unsorted CDXJ lines, revisits
   pointing at the wrong record, duplicate record IDs, a response without
   its request, dates without microseconds.

Exit 0 pass, 1 fail, 77 skip (node, warcio.js or wget missing; with
CI=true those are failures instead).  Every subprocess has a timeout and
the server is a thread of this process, so nothing outlives the test.
"""

import base64
import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import replay as replay_mod  # noqa: E402
import warcdiff  # noqa: E402

SKIP = 77
WARCCHECK = os.path.join(HERE, "warccheck.mjs")
WARCIO_CLI = os.path.join(HERE, "node_modules", "warcio", "dist", "cli.js")


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg() if callable(msg) else msg)


def run(cmd, cwd=None, timeout=60):
    """(exit status, stdout + stderr) of cmd."""
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def warccheck(args, cwd=None):
    return run(["node", WARCCHECK] + args, cwd=cwd)


def expect_ok(args, what, cwd=None):
    rc, out = warccheck(args, cwd)
    check(rc == 0 and "FAIL" not in out,
          lambda: "%s: warccheck exited %d:\n%s" % (what, rc, out))
    return out


def expect_fail(args, pattern, what, cwd=None):
    """Runs warccheck, which must exit 1 with a FAIL line matching
    pattern; returns the output."""
    rc, out = warccheck(args, cwd)
    fails = [l for l in out.splitlines() if l.startswith("FAIL ")]
    check(rc == 1 and any(re.search(pattern, l) for l in fails),
          lambda: "%s: expected exit 1 and a FAIL line matching %r, got %d:\n%s"
          % (what, pattern, rc, out))
    print("ok: %s -> %s" % (what, next(l for l in fails if re.search(pattern, l))))
    return out


# ---------------------------------------------------------------- the site

TEXT = b"".join(b"line %d of the chunked, gzipped text\n" % i for i in range(400))
GZ_TEXT = b"gzip with a Content-Length " * 50
CH_TEXT = bytes(range(256)) * 9


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _head(self, status, headers):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()

    def _chunks(self, body, size):
        for i in range(0, len(body), size):
            c = body[i:i + size]
            self.wfile.write(b"%x\r\n" % len(c) + c + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        if self.path == "/cg":
            # gzip.compress stamps the time: each fetch sends other bytes
            # for the same content, as real servers do.
            self._head(200, [("Content-Type", "text/plain"),
                             ("Content-Encoding", "gzip"),
                             ("Transfer-Encoding", "chunked")])
            self._chunks(gzip.compress(TEXT), 300)
        elif self.path == "/gz":
            body = gzip.compress(GZ_TEXT)
            self._head(200, [("Content-Type", "text/plain"),
                             ("Content-Encoding", "gzip"),
                             ("Content-Length", str(len(body)))])
            self.wfile.write(body)
        elif self.path == "/ch":
            self._head(200, [("Content-Type", "application/octet-stream"),
                             ("Transfer-Encoding", "chunked")])
            self._chunks(CH_TEXT, 1000)
        elif self.path == "/empty":
            self._head(200, [("Content-Type", "text/plain"),
                             ("Content-Length", "0")])
        elif self.path == "/old":
            self._head(301, [("Location", "/sub/a.html"),
                             ("Content-Length", "0")])
        else:
            super().do_GET()


def make_site(root):
    """The site's files; returns {path: (status, body a browser gets)}."""
    os.makedirs(os.path.join(root, "sub"))
    index = (b'<html><body><a href="sub/a.html">a</a> <a href="b.bin">b</a> '
             b'<a href="cg">cg</a> <a href="gz">gz</a> <a href="ch">ch</a> '
             b'<a href="empty">e</a> <a href="old">old</a> '
             b'<a href="missing.html">404</a></body></html>\n')
    a = b'<html><body><a href="../b.bin">b</a> page a</body></html>\n'
    b = hashlib.sha512(b"seed").digest() * 200  # binary, 12.8 KB
    for name, data in (("index.html", index), ("sub/a.html", a), ("b.bin", b)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return {"/": (200, index), "/sub/a.html": (200, a), "/b.bin": (200, b),
            "/cg": (200, TEXT), "/gz": (200, GZ_TEXT), "/ch": (200, CH_TEXT),
            "/empty": (200, b""), "/old": (301, b"")}


def start_server(root):
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: Handler(*a, directory=root, **k))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def wget_crawl(base, workdir, name):
    """wget -r into workdir/NAME-NNNNN.warc.gz; returns the WARC files in
    order (the -meta file, wget's log and arguments, last)."""
    os.makedirs(workdir)
    rc, out = run(["wget", "--no-verbose", "-r", "-l", "inf", "-P", "files",
                   "--tries=1", "--timeout=10", "--warc-file=" + name,
                   "--warc-max-size=6K", base + "/"], cwd=workdir, timeout=120)
    # wget exits 8 for the 404 it was sent on purpose.
    check(rc in (0, 8), lambda: "wget exited %d:\n%s" % (rc, out))
    names = sorted(f for f in os.listdir(workdir) if re.match(
        re.escape(name) + r"-\d{5}\.warc\.gz$", f))
    meta = name + "-meta.warc.gz"
    check(len(names) >= 2, "wget --warc-max-size wrote %s" % os.listdir(workdir))
    if os.path.exists(os.path.join(workdir, meta)):
        names.append(meta)
    return [os.path.join(workdir, n) for n in names]


def warcio_cdxj(warcs, out_path):
    """A CDXJ of the HTTP records in warcs, written by warcio.js's
    CDXIndexer (so the offsets come from another reader than ours), sorted
    bytewise as pywb wants."""
    wd = os.path.dirname(warcs[0])
    rc, out = run(["node", WARCIO_CLI, "cdx-index", "--format", "cdxj"] +
                  [os.path.basename(w) for w in warcs], cwd=wd)
    check(rc == 0, lambda: "warcio cdx-index exited %d:\n%s" % (rc, out))
    lines = [l for l in out.splitlines()
             if json.loads(l.split(" ", 2)[2])["url"].startswith("http")]
    check(lines, "warcio cdx-index wrote no HTTP line:\n" + out)
    lines.sort(key=lambda l: l.encode())
    with open(out_path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return lines


# ------------------------------------------------- gzip members, by hand

def members(path):
    """[(offset, compressed bytes, inflated bytes)] of a multi-member gzip."""
    data = open(path, "rb").read()
    out = []
    off = 0
    while off < len(data):
        d = zlib.decompressobj(31)
        rec = d.decompress(data[off:])
        used = len(data) - off - len(d.unused_data)
        out.append((off, data[off:off + used], rec))
        off += used
    return out


def write_members(path, parts):
    with open(path, "wb") as f:
        for p in parts:
            f.write(p)


def find_member(path, wtype, uri_part):
    for i, (off, comp, rec) in enumerate(members(path)):
        head = rec.split(b"\r\n\r\n", 1)[0]
        if (b"WARC-Type: " + wtype.encode()) in head and uri_part.encode() in head:
            return i
    return None


# ------------------------------------------- a WARC/1.1 to the contract

def b32sha1(data):
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warc_record(wtype, fields, block):
    head = ["WARC/1.1", "WARC-Type: " + wtype]
    head += ["%s: %s" % kv for kv in fields]
    if wtype != "warcinfo":
        head.append("WARC-Block-Digest: " + b32sha1(block))
    head.append("Content-Length: %d" % len(block))
    return ("\r\n".join(head) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def new_id():
    return "<urn:uuid:%s>" % uuid.uuid4()


def contract_warc(path, dates=None):
    """A WARC/1.1 file as the crawler is to write it: warcinfo; for /p a
    request and a chunked, gzipped response whose payload digest is over
    the dechunked entity; for /q (same content) a request and a revisit.
    Returns (record list as (offset, length, fields), body of /p)."""
    dates = dates or ["2026-12-04T08:22:05.123456Z", "2026-12-04T08:22:06.000001Z"]
    body = b"the same bytes twice " * 40
    entity = gzip.compress(body, mtime=0)
    chunked = b"".join(b"%x\r\n" % len(entity[i:i + 100]) + entity[i:i + 100] + b"\r\n"
                       for i in range(0, len(entity), 100)) + b"0\r\n\r\n"
    resp_head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
    info_id = new_id()
    recs = [warc_record("warcinfo", [
        ("WARC-Date", dates[0]), ("WARC-Record-ID", info_id),
        ("WARC-Filename", os.path.basename(path)),
        ("Content-Type", "application/warc-fields")],
        b"software: warc-tools test\r\nformat: WARC File Format 1.1\r\n")]
    p_resp = new_id()
    p_req = new_id()
    digest = b32sha1(entity)
    recs.append(warc_record("request", [
        ("WARC-Date", dates[0]), ("WARC-Record-ID", p_req),
        ("WARC-Target-URI", "http://127.0.0.1:8/p"),
        ("WARC-IP-Address", "127.0.0.1"), ("WARC-Concurrent-To", p_resp),
        ("Content-Type", "application/http;msgtype=request")],
        b"GET /p HTTP/1.1\r\nHost: 127.0.0.1:8\r\n\r\n"))
    recs.append(warc_record("response", [
        ("WARC-Date", dates[0]), ("WARC-Record-ID", p_resp),
        ("WARC-Target-URI", "http://127.0.0.1:8/p"),
        ("WARC-IP-Address", "127.0.0.1"), ("WARC-Payload-Digest", digest),
        ("Content-Type", "application/http;msgtype=response")],
        resp_head + chunked))
    q_rev = new_id()
    q_req = new_id()
    recs.append(warc_record("request", [
        ("WARC-Date", dates[1]), ("WARC-Record-ID", q_req),
        ("WARC-Target-URI", "http://127.0.0.1:8/q"),
        ("WARC-Concurrent-To", q_rev),
        ("Content-Type", "application/http;msgtype=request")],
        b"GET /q HTTP/1.1\r\nHost: 127.0.0.1:8\r\n\r\n"))
    recs.append(warc_record("revisit", [
        ("WARC-Date", dates[1]), ("WARC-Record-ID", q_rev),
        ("WARC-Target-URI", "http://127.0.0.1:8/q"),
        ("WARC-Profile",
         "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"),
        ("WARC-Refers-To-Target-URI", "http://127.0.0.1:8/p"),
        ("WARC-Refers-To-Date", dates[0]), ("WARC-Refers-To", p_resp),
        ("WARC-Payload-Digest", digest),
        ("Content-Type", "application/http;msgtype=response")],
        resp_head))
    write_members(path, [gzip.compress(r, mtime=0) for r in recs])
    return body


def edit_member(path, index, fn):
    """Rewrites member index of path with fn(inflated bytes)."""
    ms = members(path)
    parts = [c for _, c, _ in ms]
    parts[index] = gzip.compress(fn(ms[index][2]), mtime=0)
    write_members(path, parts)


def clone(src_dir, name):
    dst = os.path.join(os.path.dirname(src_dir), name)
    shutil.copytree(src_dir, dst)
    return dst


# ------------------------------------------------------------------ body

def body(tmp):
    if shutil.which("node") is None:
        raise Skip("node is not installed")
    if not os.path.exists(os.path.join(HERE, "node_modules", "warcio", "package.json")):
        raise Skip("warcio.js is not installed: run tests/warc/setup.sh")
    if shutil.which("wget") is None:
        raise Skip("wget is not installed")

    site = os.path.join(tmp, "site")
    served = make_site(site)
    srv = start_server(site)
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    try:
        w1 = wget_crawl(base, os.path.join(tmp, "w1"), "site")
        w2 = wget_crawl(base, os.path.join(tmp, "w2"), "site")
        with open(os.path.join(site, "sub", "a.html"), "ab") as f:
            f.write(b"<!-- changed -->\n")
        w3 = wget_crawl(base, os.path.join(tmp, "w3"), "site")
    finally:
        srv.shutdown()
        srv.server_close()
    print("wget wrote %s" % ", ".join(os.path.basename(w) for w in w1))

    # --- 1. wget's WARC/1.0 files -------------------------------------
    cdxj = os.path.join(tmp, "w1", "site.cdxj")
    lines = warcio_cdxj(w1, cdxj)
    j1 = os.path.join(tmp, "w1.json")
    out = expect_ok(["--expect-version", "1.0", "--payload-digest", "raw",
                     "--cdxj", cdxj, "--json", j1] + w1, "wget WARC, raw digests")
    print(out.strip().splitlines()[-1])
    recs = json.load(open(j1))["records"]
    by_uri = {r["uri"]: r for r in recs if r["type"] == "response"}
    for p, (status, content) in served.items():
        r = by_uri.get(base + p)
        check(r is not None, "no response record for %s in wget's WARC" % p)
        check(r["status"] == status, "%s: status %s in the summary" % (p, r["status"]))
        check(r["content_sha1"] == hashlib.sha1(content).hexdigest(),
              "%s: content_sha1 %s is not the sha1 of the served content" % (p, r["content_sha1"]))
    check(by_uri[base + "/cg"]["payload_digest_basis"] == "raw",
          "wget's digest of the chunked /cg is not over the raw payload")
    check(by_uri[base + "/missing.html"]["status"] == 404, "the 404 is not in the summary")
    check(len([r for r in recs if r["type"] == "warcinfo"]) == len(w1),
          "not one warcinfo per file")
    expect_fail(["--expect-version", "1.0", "--payload-digest", "entity"] + w1,
                r"site-\d{5}\.warc\.gz@\d+: WARC-Payload-Digest sha1:\S+ is over "
                r"the chunk-framed payload", "wget WARC, entity digests")
    expect_fail(w1, r"version line WARC/1\.0, expected WARC/1\.1", "wget WARC as 1.1")
    expect_fail(w1, r"WARC-Target-URI <http://\S+> is wrapped in <>", "wget's <uri> as 1.1")
    expect_fail(w1, r"WARC-Date \S+ is not YYYY-MM-DDThh:mm:ss\.ffffffZ",
                "wget's dates as 1.1")

    # Replay every served URL through the index: the bytes the server sent.
    for p, (status, content) in served.items():
        st, headers, got = replay_mod.replay(cdxj, base + p)
        check(st == status, "replay %s: status %d, served %d" % (p, st, status))
        check(got == content, "replay %s: %d bytes differ from the %d served"
              % (p, len(got), len(content)))
    rc, out = run([sys.executable, os.path.join(HERE, "replay.py"), "--headers",
                   cdxj, base + "/cg"])
    check(rc == 0 and TEXT.decode() in out and "Content-Encoding: gzip" in out,
          lambda: "replay.py CLI on /cg: %d\n%s" % (rc, out[:500]))
    rc, out = run([sys.executable, os.path.join(HERE, "replay.py"), cdxj, base + "/nope"])
    check(rc == 1 and "has no line for" in out, "replay.py of an unknown URL: %d %s" % (rc, out))
    print("ok: replay gives back the %d served bodies" % len(served))

    # warcdiff: two crawls of the same site agree; after a change, not.
    j2 = os.path.join(tmp, "w2.json")
    j3 = os.path.join(tmp, "w3.json")
    expect_ok(["--expect-version", "1.0", "--payload-digest", "raw", "--json", j2] + w2, "crawl 2")
    expect_ok(["--expect-version", "1.0", "--payload-digest", "raw", "--json", j3] + w3, "crawl 3")
    diff_py = os.path.join(HERE, "warcdiff.py")
    rc, out = run([sys.executable, diff_py, j1, j2])
    check(rc == 0, lambda: "warcdiff of two crawls of the same site: %d\n%s" % (rc, out))
    rc, out = run([sys.executable, diff_py, "--labels", "one,three", j1, j3])
    check(rc == 1 and re.search(r"content differs: \S+/sub/a\.html: one [0-9a-f]{40}, "
                                r"three [0-9a-f]{40}", out),
          lambda: "warcdiff after a change: %d\n%s" % (rc, out))
    rc, out = run([sys.executable, diff_py, "--ignore", r"/sub/a\.html$", j1, j3])
    check(rc == 0, lambda: "warcdiff --ignore: %d\n%s" % (rc, out))
    partial = json.load(open(j1))
    partial["records"] = [r for r in partial["records"] if not
                          (r["uri"] or "").endswith("/robots.txt")]
    for r in partial["records"]:
        if (r["uri"] or "").endswith("/gz") and r["type"] == "response":
            r["status"] = 500
    jp = os.path.join(tmp, "partial.json")
    json.dump(partial, open(jp, "w"))
    rc, out = run([sys.executable, diff_py, "--labels", "a,b", j1, jp])
    check(rc == 1 and re.search(r"only in a: \S+/robots\.txt", out) and
          re.search(r"status differs: \S+/gz: a \[200\], b \[500\]", out),
          lambda: "warcdiff of a doctored summary: %d\n%s" % (rc, out))
    rc, out = run([sys.executable, diff_py, "--only-common", "--ignore", "/gz$", j1, jp])
    check(rc == 0, lambda: "warcdiff --only-common: %d\n%s" % (rc, out))
    print("ok: warcdiff")

    # --- 2. a WARC/1.1 to the crawler's contract ----------------------
    cdir = os.path.join(tmp, "c")
    os.makedirs(cdir)
    cw = os.path.join(cdir, "crawl-20261204082205-00000.warc.gz")
    p_body = contract_warc(cw)
    ccdxj = os.path.join(cdir, "crawl-20261204082205.cdxj")
    clines = warcio_cdxj([cw], ccdxj)
    check(len(clines) == 2 and '"mime":"warc/revisit"' in clines[1],
          "warcio's index of the contract file:\n" + "\n".join(clines))
    cj = os.path.join(tmp, "c.json")
    expect_ok(["--cdxj", ccdxj, "--json", cj, cw], "the contract WARC/1.1")
    crecs = json.load(open(cj))["records"]
    want = hashlib.sha1(p_body).hexdigest()
    check([r["content_sha1"] for r in crecs if r["type"] in ("response", "revisit")]
          == [want, want], "content_sha1 of the response and its revisit")
    check(replay_mod.replay(ccdxj, "http://127.0.0.1:8/q")[2] == p_body,
          "replay of the revisit does not give the original's body")
    expect_fail(["--payload-digest", "raw", cw],
                r"WARC-Payload-Digest \S+ is over the dechunked entity body",
                "contract WARC with --payload-digest raw")

    # --- 3. broken copies ---------------------------------------------
    # wget's files: a body byte flipped (member re-gzipped, so only the
    # digests can tell).
    d = clone(os.path.join(tmp, "w1"), "flip")
    files = [os.path.join(d, os.path.basename(w)) for w in w1]
    for f in files:
        i = find_member(f, "response", "/b.bin")
        if i is not None:
            def flip(rec):
                b = bytearray(rec)
                b[-100] ^= 0x01
                return bytes(b)
            edit_member(f, i, flip)
            off = members(f)[i][0]
            break
    out = expect_fail(["--expect-version", "1.0", "--payload-digest", "raw"] + files,
                      r"@%d: WARC-Block-Digest sha1:\S+ does not match" % off,
                      "flipped body byte: block digest")
    check(re.search(r"@%d: WARC-Payload-Digest sha1:\S+ does not match the \d+-byte payload" % off, out),
          "flipped body byte: no payload digest failure:\n" + out)

    # A flipped byte in the compressed stream: the gzip layer notices.
    d = clone(os.path.join(tmp, "w1"), "zflip")
    f = os.path.join(d, os.path.basename(w1[0]))
    ms = members(f)
    raw = bytearray(open(f, "rb").read())
    raw[ms[1][0] + len(ms[1][1]) - 12] ^= 0x40  # inside the member's deflate data
    open(f, "wb").write(raw)
    expect_fail(["--expect-version", "1.0", "--payload-digest", "raw", f],
                r"@%d: gzip member (CRC-32|ISIZE|does not inflate)" % ms[1][0],
                "flipped compressed byte")

    # The last member of the last numbered file cut short by 10 bytes.
    d = clone(os.path.join(tmp, "w1"), "trunc")
    files = [os.path.join(d, os.path.basename(w)) for w in w1]
    last = files[-2] if files[-1].endswith("-meta.warc.gz") else files[-1]
    size = os.path.getsize(last)
    last_off = members(last)[-1][0]
    with open(last, "r+b") as fh:
        fh.truncate(size - 10)
    expect_fail(["--expect-version", "1.0", "--payload-digest", "raw"] + files,
                r"%s@%d: gzip member (lacks its 8-byte trailer|does not inflate)"
                % (re.escape(last), last_off), "truncated last member")

    # Bytes after the last member.
    d = clone(os.path.join(tmp, "w1"), "trail")
    f = os.path.join(d, os.path.basename(w1[0]))
    with open(f, "ab") as fh:
        fh.write(b"\n\n")
    expect_fail(["--expect-version", "1.0", "--payload-digest", "raw", f],
                r"2 trailing bytes that are not a gzip member", "trailing bytes")

    # Two records in one member; one record split over two members.
    for name, pattern in (("merge", r"gzip member holds more than one record"),
                          ("split", r"Content-Length \d+ but the member holds a \d+-byte "
                                    r"block .*split across gzip members")):
        d = clone(os.path.join(tmp, "w1"), name)
        f = os.path.join(d, os.path.basename(w1[0]))
        ms = members(f)
        parts = [c for _, c, _ in ms]
        if name == "merge":
            parts[1:3] = [gzip.compress(ms[1][2] + ms[2][2])]
        else:
            # Inside the block, past the WARC and HTTP headers.
            rec = ms[2][2]
            cut = rec.index(b"\r\n\r\n") + 200
            parts[2:3] = [gzip.compress(rec[:cut]), gzip.compress(rec[cut:])]
        write_members(f, parts)
        expect_fail(["--expect-version", "1.0", "--payload-digest", "raw", f],
                    "@%d: %s" % (ms[1 if name == "merge" else 2][0], pattern), name)

    # CDXJ lines: a wrong offset, a wrong length, out of order.
    d = clone(os.path.join(tmp, "w1"), "cdx")
    files = [os.path.join(d, os.path.basename(w)) for w in w1]
    bad = os.path.join(d, "site.cdxj")
    surt, ts, js = lines[0].split(" ", 2)
    j = json.loads(js)
    moved = dict(j, offset=str(int(j["offset"]) + 1))
    with open(bad, "w") as fh:
        fh.write("%s %s %s\n" % (surt, ts, json.dumps(moved)))
        fh.write("".join(l + "\n" for l in lines[1:]))
    out = expect_fail(["--expect-version", "1.0", "--payload-digest", "raw", "--cdxj", bad]
                      + files, r"site\.cdxj:1: offset %d is not the start of a gzip member"
                      % (int(j["offset"]) + 1), "CDXJ line with a wrong offset")
    check(re.search(r"response for %s has no line in" % re.escape(j["url"]), out),
          "the record that lost its line is not reported:\n" + out)
    with open(bad, "w") as fh:
        fh.write("%s %s %s\n" % (surt, ts, json.dumps(dict(j, length=str(int(j["length"]) - 1)))))
        fh.write("".join(l + "\n" for l in lines[1:]))
    expect_fail(["--expect-version", "1.0", "--payload-digest", "raw", "--cdxj", bad] + files,
                r"site\.cdxj:1: length \d+ but the gzip member at \d+ is \d+ bytes",
                "CDXJ line with a wrong length")
    with open(bad, "w") as fh:
        fh.write("".join(l + "\n" for l in reversed(lines)))
    expect_fail(["--expect-version", "1.0", "--payload-digest", "raw", "--cdxj", bad] + files,
                r"site\.cdxj:2: line sorts before the previous one", "unsorted CDXJ")
    expect_ok(["--expect-version", "1.0", "--payload-digest", "raw", "--cdxj", bad,
               "--cdxj-unsorted-ok"] + files, "unsorted CDXJ with --cdxj-unsorted-ok")
    try:
        replay_mod.replay(bad, j["url"])
    except replay_mod.ReplayError:
        raise Failure("replay through the reordered (but correct) index failed")
    with open(bad, "w") as fh:
        fh.write("%s %s %s\n" % (surt, ts, json.dumps(moved)))
    try:
        replay_mod.replay(bad, j["url"])
        raise Failure("replay through a wrong offset succeeded")
    except replay_mod.ReplayError as e:
        print("ok: replay through a wrong offset -> %s" % e)

    # The contract file, broken in the ways the crawler could break it.
    cases = [
        # Revisit naming a record that is not the original.
        (lambda r: re.sub(rb"WARC-Refers-To: <urn:uuid:[0-9a-f-]+>",
                          ("WARC-Refers-To: %s" % new_id()).encode(), r),
         4, r"revisit WARC-Refers-To <urn:uuid:\S+> is none of the earlier responses"),
        (lambda r: r.replace(b"WARC-Refers-To-Date: 2026-12-04T08:22:05.123456Z",
                             b"WARC-Refers-To-Date: 2026-12-04T08:22:05.123457Z"),
         4, r"revisit WARC-Refers-To-Date \S+, but <urn:uuid:\S+> is dated"),
        (lambda r: r.replace(b"WARC-Refers-To-Target-URI: http://127.0.0.1:8/p",
                             b"WARC-Refers-To-Target-URI: http://127.0.0.1:8/x"),
         4, r"revisit WARC-Refers-To-Target-URI http://127.0.0.1:8/x, but"),
        (lambda r: r.replace(b"/1.1/revisit/", b"/1.0/revisit/"),
         4, r"revisit WARC-Profile \S+1\.0\S+, expected \S+1\.1/revisit/identical-payload-digest"),
        # The /q request no longer names its revisit.
        (lambda r: re.sub(rb"WARC-Concurrent-To: [^\r]+\r\n", b"", r),
         3, r"revisit for http://127.0.0.1:8/q has no request record linked"),
        (lambda r: r.replace(b"2026-12-04T08:22:05.123456Z", b"2026-12-04T08:22:05Z"),
         2, r"WARC-Date 2026-12-04T08:22:05Z is not YYYY-MM-DDThh:mm:ss\.ffffffZ"),
        (lambda r: r.replace(b"WARC-Type: warcinfo", b"WARC-Type: metadata"),
         0, r"first record of the file is metadata, not warcinfo"),
    ]
    for n, (fn, index, pattern) in enumerate(cases):
        d = clone(cdir, "c%d" % n)
        f = os.path.join(d, os.path.basename(cw))
        edit_member(f, index, lambda rec: refresh_digest(fn(rec)))
        expect_fail([f], pattern, "contract file case %d" % n)
    # A duplicate record ID: the /q request takes the /p request's.
    d = clone(cdir, "dup")
    f = os.path.join(d, os.path.basename(cw))
    p_req_id = re.search(rb"WARC-Record-ID: (<[^>]+>)", members(f)[1][2]).group(1)
    edit_member(f, 3, lambda rec: re.sub(rb"WARC-Record-ID: <[^>]+>",
                                         b"WARC-Record-ID: " + p_req_id, rec))
    expect_fail([f], r"WARC-Record-ID \S+ already used at \S+@\d+", "duplicate record ID")


def refresh_digest(rec):
    """rec with WARC-Block-Digest and Content-Length recomputed, so that a
    case tests what it means to and not the digest."""
    head, block = rec[:-4].split(b"\r\n\r\n", 1)
    head = re.sub(rb"WARC-Block-Digest: [^\r]+", b"WARC-Block-Digest: " +
                  b32sha1(block).encode(), head)
    head = re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(block), head)
    return head + b"\r\n\r\n" + block + b"\r\n\r\n"


def main():
    tmp = tempfile.mkdtemp(prefix="crawler-warc-tools-")
    status = 0
    try:
        body(tmp)
        print("PASS")
    except Skip as e:
        if os.environ.get("CI") == "true":
            print("FAIL: %s; CI=true, so this is a failure" % e, file=sys.stderr)
            status = 1
        else:
            print("SKIP: %s" % e)
            status = SKIP
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        status = 1
    except BaseException:
        traceback.print_exc()
        print("FAIL: the test raised", file=sys.stderr)
        status = 1
    finally:
        if status == 0 or os.environ.get("CRAWLER_E2E_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s" % tmp, file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
