#!/usr/bin/env python3
"""crawler-hostile: an adversarial HTTP/1.1 server for the crawler's tests.

One endpoint per hostile case of issue #5 (servers that lie, stall, flood,
reset, redirect in circles or to other schemes, bomb with gzip, trap a
crawler in endless link spaces) and a /names/ tree that answers any path, so
hostile *names* can be checked for where they land.  /index.html links to
every case, so one recursive crawl meets all of them.  See README.md.

Python 3 asyncio on raw streams, one thread.  It binds 127.0.0.1 only.
Everything is bounded so that a crawler bug cannot make the test machine
suffer: endless bodies and headers stop when the client goes away and after
STREAM_CAP bytes at most, a silent or trickling connection ends when the
client closes it, and the whole server exits after --lifetime seconds.

Pages are a pure function of (host, target), so a test can import this
module and compute the exact bytes a crawler should have saved:
hostile.served_body(host, target, port) gives them for every healthy
target, and None for the hostile ones.
"""

import argparse
import asyncio
import email.utils
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
import zlib

HEAD_MAX = 128 * 1024          # a request head larger than this is refused
STREAM_CAP = 256 * 1024 * 1024  # most bytes an "endless" response ever sends
HEADER_FLOOD_CAP = 32 * 1024 * 1024  # most bytes of an endless header block
BIG = 8 * 1024 * 1024          # size of the "larger than --max-size" bodies
MAX_SIZE = 4 * 1024 * 1024     # the --max-size the tests use; /size/exact
#                                (room for /many's 2.7 MB)
BOMB = 64 * 1024 * 1024        # decoded size of the gzip bombs
MANY_LINKS = 100000
REDIRECT_CHAIN = 20            # longer than the tests' --max-redirects 5

# ------------------------------------------------------------------ content


def reset_writer(writer):
    """Closes an asyncio stream with RST instead of FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def page_body(host, target, size=None):
    """The body of a healthy page: names its host and target (so no two
    URLs share a body and an overwritten file is caught), then filler that
    depends on both.  host is lower case, without the port."""
    if isinstance(host, str):
        host = host.encode("utf-8", "surrogateescape")
    if isinstance(target, str):
        target = target.encode("utf-8", "surrogateescape")
    head = b"page " + host + b" " + target + b"\n"
    if size is None:
        size = 300 + int.from_bytes(hashlib.sha256(host + b" " + target)
                                    .digest()[:2], "big") % 3000
    out = bytearray(head)
    seed = hashlib.sha256(b"filler " + host + b" " + target).digest()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed.hex().encode()
    return bytes(out[:max(size, len(head))])


def gzip_bytes(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


_bombs = {}


def bomb(layers):
    """BOMB zero bytes gzipped `layers` times (computed once)."""
    if layers not in _bombs:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        zero = bytes(1024 * 1024)
        parts = [c.compress(zero) for _ in range(BOMB // len(zero))]
        data = b"".join(parts) + c.flush()
        for _ in range(layers - 1):
            data = gzip_bytes(data)
        _bombs[layers] = data
    return _bombs[layers]


# ------------------------------------------------------------------ server

class Conn:
    """One accepted connection."""

    def __init__(self, server, reader, writer):
        self.server = server
        self.reader = reader
        self.writer = writer

    async def send(self, data):
        """Writes and waits until the kernel took it; False once the
        client is gone."""
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
            return True
        except (ConnectionError, OSError):
            return False

    async def wait_gone(self, limit=None):
        """Waits until the client closes (reads and drops what it sends),
        or `limit` seconds."""
        async def drain_reader():
            try:
                while await self.reader.read(65536):
                    pass
            except (ConnectionError, OSError):
                pass
        try:
            await asyncio.wait_for(drain_reader(), limit)
        except asyncio.TimeoutError:
            pass

    def reset(self):
        """Closes with RST instead of FIN."""
        reset_writer(self.writer)

    def close(self):
        self.writer.close()

    async def respond(self, status, headers=(), body=b"", keep=False,
                      reason=None):
        reasons = {200: "OK", 204: "No Content", 301: "Moved Permanently",
                   302: "Found", 404: "Not Found", 429: "Too Many Requests",
                   503: "Service Unavailable"}
        lines = ["HTTP/1.1 %d %s" % (status, reason or reasons.get(status, "X"))]
        lines += ["%s: %s" % kv for kv in headers]
        if not any(k.lower() == "content-length" for k, _ in headers) \
           and status != 204:
            lines.append("Content-Length: %d" % len(body))
        lines.append("Connection: keep-alive" if keep else "Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return await self.send(head + body) and keep

    async def stream(self, chunks_left, chunk=65536, chunked=False):
        """Sends filler until chunks_left bytes went out or the client left;
        with chunked, as chunks (without the last one)."""
        block = bytes(range(256)) * (chunk // 256)
        sent = 0
        while sent < chunks_left:
            n = min(chunk, chunks_left - sent)
            data = block[:n]
            if chunked:
                data = b"%x\r\n" % n + data + b"\r\n"
            if not await self.send(data):
                return False
            sent += n
        return True


class Server:
    def __init__(self, args):
        self.args = args
        self.port = None
        self.counts = {}
        self.first = {}     # targets that answer differently the first time

    # ---- dispatch

    async def handle(self, reader, writer):
        conn = Conn(self, reader, writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, OSError):
                    break
                except asyncio.LimitOverrunError:
                    await conn.respond(431, body=b"head too large\n")
                    break
                line, _, rest = head.partition(b"\r\n")
                parts = line.split(b" ")
                if len(parts) != 3:
                    await conn.respond(400, body=b"bad request line\n")
                    break
                method, target = parts[0], parts[1]
                hdrs = {}
                for h in rest.split(b"\r\n"):
                    k, _, v = h.partition(b":")
                    hdrs[k.strip().lower()] = v.strip()
                host = hdrs.get(b"host", b"").decode("latin-1").lower()
                if host.startswith("["):
                    host = host[:host.find("]") + 1]
                else:
                    host = host.rpartition(":")[0] if ":" in host else host
                want_close = hdrs.get(b"connection", b"").lower() == b"close"
                t = target.decode("latin-1")
                if t != "/_stats":
                    key = host + " " + t
                    self.counts[key] = self.counts.get(key, 0) + 1
                keep = await self.route(conn, method, host, t, hdrs)
                if not keep or want_close:
                    break
        except Exception as e:  # a test tool: say so and drop the connection
            print("hostile: %s: %r" % (type(e).__name__, e), file=sys.stderr)
        finally:
            if not writer.is_closing():
                writer.close()

    async def route(self, c, method, host, t, hdrs):
        """Answers one request; returns True to read another one on the
        same connection."""
        path, _, query = t.partition("?")
        if path == "/_stats":
            body = json.dumps({"by_target": self.counts}).encode()
            await c.respond(200, [("Content-Type", "application/json")], body)
            return False
        if path in ("/", "/index.html"):
            return await c.respond(200, [("Content-Type", "text/html")],
                                   index_body(self.port), keep=True)
        if path == "/robots.txt":
            return await robots(self, c, host)
        handler = ROUTES.get(path)
        if handler:
            return await handler(self, c, host, t, query)
        for pfx, h in PREFIX_ROUTES:
            if path.startswith(pfx):
                return await h(self, c, host, t, path[len(pfx):], query)
        return await c.respond(404, body=b"not found\n", keep=True)

    def origin(self, host):
        return "http://%s:%d" % (host or "127.0.0.1", self.port)


# ------------------------------------------------------------------ routes
# Each takes (server, conn, host, target, query) and returns keep-alive.

ROUTES = {}
PREFIX_ROUTES = []

# What /index.html links to.  HEALTHY pages must be saved whatever their
# hostile neighbours do; every HOSTILE target is one case of issue #5 item
# 2 and must cost only itself.  TRAPS are link spaces without end.
HEALTHY = ["/ok/%d" % i for i in range(10)] + [
    "/ok/gzip", "/ok/chunked", "/ok/eof", "/ok/empty", "/ok/big-under-cap",
    "/size/exact", "/gzip/under-cap", "/redir/ok", "/redir/chain/3",
    "/retry/429-then-ok", "/cl/short"]
HOSTILE = [
    "/redir/self", "/redir/ping", "/redir/chain/%d" % REDIRECT_CHAIN,
    "/redir/file", "/redir/ftp", "/redir/javascript", "/redir/data",
    "/redir/mailto", "/redir/gopher", "/redir/ws", "/redir/huge",
    "/redir/badport", "/redir/numeric-host", "/redir/nolocation",
    "/redir/offsite",
    "/size/over-by-one", "/size/cl", "/size/eof", "/size/chunked",
    "/size/endless-chunked", "/size/endless-eof", "/size/cl-petabyte",
    "/gzip/bomb", "/gzip/double", "/gzip/six-layers", "/gzip/broken",
    "/slow/body-trickle", "/slow/header-trickle", "/slow/silent",
    "/slow/silent?again=1", "/slow/silent?again=2",
    "/slow/headers-then-silent",
    "/reset/before", "/reset/in-status", "/reset/in-body", "/reset/in-chunks",
    "/reset/fin-before",
    "/cl/long", "/cl/conflicting", "/cl/negative",
    "/chunk/bad-hex", "/chunk/overflow", "/chunk/negative", "/chunk/no-crlf",
    "/chunk/truncated", "/chunk/huge-size",
    "/hdr/huge-one", "/hdr/many", "/hdr/endless", "/hdr/endless-1xx",
    "/hdr/http09",
    "/hdr/bad-status",
    "/retry/429-seconds", "/retry/429-huge", "/retry/503-date",
    "/retry/429-garbage", "/retry/503-negative",
]
# Absolute on purpose (PORT is filled in): each lives on a host of its own,
# so a crawler's per-host page cap bounds each trap without starving the
# others.  The names resolve to 127.0.0.1 through the test's DNS server.
TRAPS = ["http://trap.test:PORT/trap/path/", "http://trap.test:PORT/trap/cal?d=0",
         "http://sid.test:PORT/trap/sid?sid=0", "http://many.test:PORT/many",
         "http://names.test:PORT/names/"]
# Hosts whose robots.txt is hostile (see robots()): endless, silent, a
# redirect loop.
ROBOTS = ["http://robots-endless.test:PORT/ok/1",
          "http://robots-endless.test:PORT/ok/private",
          "http://robots-silent.test:PORT/ok/1",
          "http://robots-loop.test:PORT/ok/1"]


def route(path):
    def deco(f):
        ROUTES[path] = f
        return f
    return deco


def prefix(p):
    def deco(f):
        PREFIX_ROUTES.append((p, f))
        return f
    return deco


HTML = ("Content-Type", "text/html; charset=utf-8")
OCTETS = ("Content-Type", "application/octet-stream")


@prefix("/ok/")
async def ok_page(s, c, host, t, rest, query):
    # /ok/<n> and the variants below with special framing.
    body = ok_body(host, t)
    if rest == "gzip":
        return await c.respond(200, [HTML, ("Content-Encoding", "gzip")],
                               gzip_bytes(body), keep=True)
    if rest == "chunked":
        head = ("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        data = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]), body[i:i + 100])
                        for i in range(0, len(body), 100))
        return await c.send(head + data + b"0\r\n\r\n")
    if rest == "eof":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                     b"Connection: close\r\n\r\n" + body)
        return False
    return await c.respond(200, [HTML], body, keep=True)


def ok_body(host, target):
    """What /ok/... serves (the decoded body).  /ok/<n> links a leaf one
    level deeper: a healthy page that must survive the hostile neighbours
    of the level above it."""
    rest = target[len("/ok/"):]
    if rest == "empty":
        return b""
    if rest == "big-under-cap":
        return page_body(host, target, MAX_SIZE - 1)
    body = page_body(host, target)
    if rest.isdigit():
        body = body.replace(b"\n", b'\n<a href="/ok/leaf-%s">leaf</a>\n' %
                            rest.encode(), 1)
    return body


def index_body(port):
    links = HEALTHY + HOSTILE + \
        [u.replace("PORT", str(port)) for u in TRAPS + ROBOTS]
    return ("<!DOCTYPE html><html><body>\n" +
            "".join('<a href="%s">%s</a>\n' % (u, u) for u in links) +
            "</body></html>\n").encode()


def served_body(host, target, port):
    """The decoded body a healthy target serves, or None for a target that
    is not healthy (a hostile case, or nothing at all).  For a redirect,
    ask for its final target."""
    if target in ("/", "/index.html"):
        return index_body(port)
    if target == "/names/":
        return names_index_body(port)
    if target == "/many":
        return many_body()
    if target.startswith("/trap/"):
        return trap_body(target)
    if target.startswith("/ok/"):
        return ok_body(host, target)
    if target in ("/size/exact",):
        return page_body(host, target, MAX_SIZE)
    if target == "/gzip/under-cap":
        return bytes(MAX_SIZE // 2)
    if target in ("/retry/429-then-ok", "/cl/short") or \
       target.startswith("/names/") and target != "/names/":
        return page_body(host, target)
    if target == "/hdr/many":
        return b"ok"
    if target.startswith("/m/"):
        return page_body(host, target, 64)
    return None


ROBOTS_RULES = b"User-agent: *\nDisallow: /ok/private\n"


async def robots(s, c, host):
    """robots.txt: none (404), except on the hosts named for a case."""
    if host == "robots-endless.test":
        # Rules, then comments without end: the first 512 KiB hold all
        # there is to know.
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" +
                     b"%x\r\n%s\r\n" % (len(ROBOTS_RULES), ROBOTS_RULES))
        line = b"# " + b"c" * 1000 + b"\n"
        block = b"%x\r\n%s\r\n" % (len(line) * 64, line * 64)
        sent = 0
        while sent < STREAM_CAP and await c.send(block):
            sent += len(block)
        return False
    if host == "robots-silent.test":
        await c.wait_gone()
        return False
    if host == "robots-loop.test":
        return await c.respond(302, [("Location", "/robots.txt")], keep=True)
    return await c.respond(404, body=b"no robots\n", keep=True)


# ---- redirects

@prefix("/redir/")
async def redirects(s, c, host, t, rest, query):
    o = s.origin(host)
    if rest.startswith("chain/"):
        n = int(rest[6:])
        to = "/redir/chain/%d" % (n - 1) if n > 0 else "/ok/chain-end"
        return await c.respond(302, [("Location", to)], keep=True)
    targets = {
        "self": "/redir/self",
        "ping": "/redir/pong",
        "pong": o + "/redir/ping",
        "ok": "/ok/redirected",
        "file": "file:///etc/passwd",
        "ftp": "ftp://127.0.0.1/pub/x",
        "javascript": "javascript:alert(1)",
        "data": "data:text/html,<h1>hi</h1>",
        "mailto": "mailto:root@localhost",
        "gopher": "gopher://127.0.0.1:70/1",
        "ws": "ws://127.0.0.1:%d/sock" % s.port,
        "huge": o + "/" + "a" * 70000,
        "badport": "http://127.0.0.1:99999/x",
        "numeric-host": "http://1.2.3.4.5:%d/x" % s.port,
        "offsite": "http://outside.example:%d/ok/offsite" % s.port,
    }
    if rest == "nolocation":
        return await c.respond(302, keep=True)
    if rest not in targets:
        return await c.respond(404, body=b"no such redirect\n", keep=True)
    return await c.respond(302, [("Location", targets[rest])], keep=True)


# ---- sizes

@prefix("/size/")
async def sizes(s, c, host, t, rest, query):
    if rest == "exact":
        return await c.respond(200, [OCTETS], page_body(host, t, MAX_SIZE),
                               keep=True)
    if rest == "over-by-one":
        return await c.respond(200, [OCTETS], page_body(host, t, MAX_SIZE + 1),
                               keep=True)
    if rest == "cl":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG)
        await c.stream(BIG)
    elif rest == "eof":
        await c.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        await c.stream(BIG)
    elif rest == "chunked":
        await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        if await c.stream(BIG, chunked=True):
            await c.send(b"0\r\n\r\n")
    elif rest == "endless-chunked":
        await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await c.stream(STREAM_CAP, chunked=True)
    elif rest == "endless-eof":
        await c.send(b"HTTP/1.1 200 OK\r\n\r\n")
        await c.stream(STREAM_CAP)
    elif rest == "cl-petabyte":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1125899906842624\r\n\r\n")
        await c.stream(STREAM_CAP)
    else:
        return await c.respond(404, keep=True)
    await c.wait_gone(5)
    return False


@prefix("/gzip/")
async def gzips(s, c, host, t, rest, query):
    layers = {"bomb": 1, "double": 2, "six-layers": 6}
    if rest in layers:
        enc = ", ".join(["gzip"] * layers[rest])
        return await c.respond(200, [OCTETS, ("Content-Encoding", enc)],
                               bomb(layers[rest]), keep=False)
    if rest == "under-cap":
        # Half the cap from a thousandth of it: a high ratio is no bomb.
        return await c.respond(200, [OCTETS, ("Content-Encoding", "gzip")],
                               gzip_bytes(bytes(MAX_SIZE // 2)), keep=True)
    if rest == "broken":
        return await c.respond(200, [OCTETS, ("Content-Encoding", "gzip")],
                               b"\x1f\x8b\x08\x00garbage" * 100, keep=False)
    return await c.respond(404, keep=True)


# ---- slow and silent

@prefix("/slow/")
async def slow(s, c, host, t, rest, query):
    if rest == "body-trickle":
        if await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"):
            for _ in range(100000):
                if not await c.send(b"x"):
                    break
                await asyncio.sleep(1)
    elif rest == "header-trickle":
        if await c.send(b"HTTP/1.1 200 OK\r\nX-Slow: "):
            for _ in range(100000):
                if not await c.send(b"y"):
                    break
                await asyncio.sleep(1)
    elif rest == "silent":
        await c.wait_gone()
    elif rest == "headers-then-silent":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" +
                     b"z" * 100)
        await c.wait_gone()
    else:
        return await c.respond(404, keep=True)
    return False


# ---- resets and lies about framing

@prefix("/reset/")
async def resets(s, c, host, t, rest, query):
    if rest == "before":
        pass
    elif rest == "in-status":
        await c.send(b"HTTP/1.1 20")
    elif rest == "in-body":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" +
                     b"r" * 5000)
    elif rest == "in-chunks":
        await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     b"1000\r\n" + b"q" * 4096 + b"\r\n" + b"1000\r\nqq")
    elif rest == "fin-before":
        c.close()
        return False
    else:
        return await c.respond(404, keep=True)
    # Let the bytes reach the client before the RST overtakes them.
    await asyncio.sleep(0.2)
    c.reset()
    return False


@prefix("/cl/")
async def content_length(s, c, host, t, rest, query):
    body = page_body(host, t)
    if rest == "long":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                     % (len(body) + 5000) + body)
        await asyncio.sleep(0.2)
        return False
    if rest == "short":
        # The extra bytes are a complete fake response: a client that
        # reused this connection would take it as the answer to its next
        # request and save "EVIL!" under another URL's name.  (Sent in the
        # same write: bytes a server sends *after* a client reused the
        # connection are indistinguishable from a real answer, and a server
        # may answer its own URLs with anything anyway.)
        evil = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                b"Content-Type: text/html\r\n\r\nEVIL!")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" \
               b"Content-Length: %d\r\n\r\n" % len(body)
        await c.send(head + body + evil)
        # Stay open: the client decides whether to reuse the connection.
        await c.wait_gone(10)
        return False
    if rest == "conflicting":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
                     b"Content-Length: 20\r\n\r\n" + b"c" * 20)
    elif rest == "negative":
        await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n" +
                     b"c" * 20)
    else:
        return await c.respond(404, keep=True)
    await asyncio.sleep(0.2)
    return False


@prefix("/chunk/")
async def chunks(s, c, host, t, rest, query):
    bad = {
        "bad-hex": b"zz\r\nhello\r\n0\r\n\r\n",
        "overflow": b"1ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        "negative": b"-5\r\nhello\r\n0\r\n\r\n",
        "no-crlf": b"5\r\nhelloXX5\r\nhello\r\n0\r\n\r\n",
        "truncated": b"5\r\nhello\r\n",
        "huge-size": b"7fffffffffffffff\r\n" + b"h" * 70000,
    }
    if rest not in bad:
        return await c.respond(404, keep=True)
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 bad[rest])
    await asyncio.sleep(0.2)
    return False


# ---- hostile headers

@prefix("/hdr/")
async def headers(s, c, host, t, rest, query):
    if rest == "huge-one":
        await c.send(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * 200 * 1024 +
                     b"\r\nContent-Length: 2\r\n\r\nok")
    elif rest == "many":
        await c.send(b"HTTP/1.1 200 OK\r\n" +
                     b"".join(b"X-Many-%05d: value %d\r\n" % (i, i)
                              for i in range(10000)) +
                     b"Connection: close\r\nContent-Length: 2\r\n\r\nok")
    elif rest == "endless":
        await c.send(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Endless: " + b"e" * 1000 + b"\r\n"
        block = line * 64
        sent = 0
        while sent < HEADER_FLOOD_CAP and await c.send(block):
            sent += len(block)
    elif rest == "endless-1xx":
        # Interim responses without end: each is a header block of its own.
        block = b"HTTP/1.1 100 Continue\r\nX-Pad: " + b"p" * 200 + \
            b"\r\n\r\n"
        block *= 256
        sent = 0
        while sent < HEADER_FLOOD_CAP and await c.send(block):
            sent += len(block)
    elif rest == "http09":
        await c.send(b"HELLO THERE\r\n\r\nthis is no HTTP response\n")
    elif rest == "bad-status":
        await c.send(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok")
    else:
        return await c.respond(404, keep=True)
    await c.wait_gone(5)
    return False


# ---- 429 and 503

@prefix("/retry/")
async def retry(s, c, host, t, rest, query):
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    cases = {
        "429-seconds": (429, "1"),
        "429-huge": (429, "99999999999999999999999"),
        "503-date": (503, future),
        "429-garbage": (429, "soon, maybe; \x7f\x01"),
        "503-negative": (503, "-10"),
    }
    if rest == "429-then-ok":
        if s.first.setdefault(t, 0) == 0:
            s.first[t] = 1
            return await c.respond(429, [("Retry-After", "1")],
                                   b"slow down\n", keep=True)
        return await c.respond(200, [HTML], page_body(host, t), keep=True)
    if rest not in cases:
        return await c.respond(404, keep=True)
    st, ra = cases[rest]
    return await c.respond(st, [("Retry-After", ra)], b"busy\n", keep=True)


# ---- link traps and huge link lists

def trap_body(t):
    """A trap page, or None for a target that is no trap."""
    path, _, query = t.partition("?")
    rest = path[len("/trap/"):]
    if rest.startswith("path/"):
        # Every page links two subdirectories: an endless tree.
        links = ["a/", "b/", "../" + rest.rstrip("/").split("/")[-1] + "/"]
    elif rest == "cal":
        # A calendar: every day links the next and the previous one.
        d = dict(kv.partition("=")[::2] for kv in query.split("&")).get("d")
        if not d or not d.lstrip("-").isdigit():
            return None
        links = ["cal?d=%d" % (int(d) + 1), "cal?d=%d" % (int(d) - 1)]
    elif rest == "sid":
        # A new session id on every link: every page is "new".
        h = hashlib.sha256(t.encode()).hexdigest()
        links = ["sid?sid=" + h[:16], "sid?sid=" + h[16:32]]
    else:
        return None
    return ("<html><body>" + "".join('<a href="%s">x</a>' % u for u in links)
            + "</body></html>\n").encode()


@prefix("/trap/")
async def traps(s, c, host, t, rest, query):
    body = trap_body(t)
    if body is None:
        return await c.respond(404, keep=True)
    return await c.respond(200, [HTML], body, keep=True)


def many_body():
    return ("<html><body>\n" +
            "".join("<a href=/m/%d>%d</a>\n" % (i, i) for i in range(MANY_LINKS))
            + "</body></html>\n").encode()


@route("/many")
async def many(s, c, host, t, query):
    return await c.respond(200, [HTML], many_body(), keep=True)


@prefix("/m/")
async def many_leaf(s, c, host, t, rest, query):
    return await c.respond(200, [("Content-Type", "text/plain")],
                           page_body(host, t, 64), keep=True)


# ---- hostile names: anything under /names/ is a page

@prefix("/names/")
async def names(s, c, host, t, rest, query):
    if t == "/names/":
        return await c.respond(200, [HTML], names_index_body(s.port),
                               keep=True)
    return await c.respond(200, [("Content-Type", "text/plain")],
                           page_body(host, t), keep=True)


def names_index_body(port):
    return (b"<!DOCTYPE html><html><body>\n" +
            b"".join(b'<a href="' + href + b'">x</a>\n'
                     for href in names_hrefs(port)) + b"</body></html>\n")


def names_hrefs(port):
    """The hostile hrefs of /names/, raw bytes (attribute-quoted with '"',
    so none holds one)."""
    deep = "/".join("x%03d" % i for i in range(900))
    long20 = "/".join(("L%02d" % i) + "l" * 247 for i in range(20))
    return [h.encode("utf-8") if isinstance(h, str) else h for h in [
        "dots/../plain",
        "%2e%2e/%2e%2e/%2e%2e/names/up-encoded",
        "..%2f..%2f..%2fetc%2fpasswd",
        "..%2F..%2Fescape",
        "back\\slash\\..\\..\\x",
        "/names/bs%5c..%5c..%5cy",
        "nul%00byte",
        b"raw\x00nul",
        "ctl%01%1b%7fchars",
        b"raw\x01ctl",
        "tab\tinside",
        "/names/" + "L" * 65536,
        "http://b\u00fccher.test:%d/names/idn" % port,
        "http://xn--bcher-kva.test:%d/names/idn" % port,
        "http://\u0414\u041e\u041c\u0415\u041d.test:%d/names/idn-cyrillic" % port,
        "http://user:secret@names.test:%d/names/userinfo" % port,
        "http://names.test:0/names/port0",
        "http://names.test:65536/names/port-big",
        "http://names.test:-1/names/port-neg",
        "http://names.test:8x/names/port-alpha",
        "http://1.2.3.4.5:%d/names/numeric-host" % port,
        "slash%2Finside",
        "slash/inside",
        "Case", "case", "CASE", "%63ase",
        "a", "a/b",
        "c", "c/", "c/index.html",
        "s" * 300,
        "s" * 299 + "t",
        "s" * 300 + "/child",
        "deep/" + deep,
        "deep/" + deep + "b",
        "long/" + long20,
        "long/" + long20 + "x",
        "q?../../x",
        "q?%2F..%2F..",
        "%C3%A9t%C3%A9",
        "\u00e9t\u00e9",
        "pct%zz", "pct%", "pct%2",
        "dot.", "..x", "...",
        "%2E%2E%2Fx",
    ]]


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--lifetime", type=float, default=300.0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    async def run():
        srv = Server(args)
        server = await asyncio.start_server(srv.handle, "127.0.0.1",
                                            args.http_port, limit=HEAD_MAX,
                                            reuse_address=True)
        srv.port = server.sockets[0].getsockname()[1]
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("http=%d\n" % srv.port)
            os.rename(tmp, args.port_file)
        if not args.quiet:
            print("hostile: http=%d" % srv.port, file=sys.stderr, flush=True)
        stop = asyncio.get_running_loop().create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(
                sig, lambda: stop.done() or stop.set_result(None))
        try:
            await asyncio.wait_for(stop, args.lifetime)
        except asyncio.TimeoutError:
            pass
        server.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
