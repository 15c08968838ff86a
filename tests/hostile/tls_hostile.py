#!/usr/bin/env python3
"""crawler-tls-hostile: hostile TLS and HTTP/2 servers for the crawler's tests.

One listener (port) per way a TLS or HTTP/2 server can hurt a crawler
(issue 13): handshakes that stall, answer garbage, send a 1 MB certificate
chain, or end in a FIN or a RST; HTTP/2 connections that go away with
streams in flight, refuse streams, allow one stream at a time, or negotiate
h2 and then speak HTTP/1.1; and two healthy listeners (h2 and HTTP/1.1) as
controls.  See README.md.

Python 3 asyncio, the standard ssl module and h2 (python3-h2), one thread.
It binds 127.0.0.1 only.  Everything is bounded so that a crawler bug cannot
make the test machine suffer: request heads, ClientHellos and bytes read
per connection have caps, live connections are capped, and the whole server
exits after --lifetime seconds.

Pages are a pure function of (host, target): /p/<n> serves
hostile.page_body(host, target), so a test can compute the exact bytes a
crawler should have saved.
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import page_body, reset_writer  # noqa: E402

HEAD_MAX = 64 * 1024            # an HTTP/1.1 request head larger is refused
HELLO_CAP = 64 * 1024           # most bytes of a ClientHello read
DRAIN_CAP = 1024 * 1024         # most bytes a silent listener drops
BODY_CAP = 1024 * 1024          # most bytes of a request body read
H2_IN_CAP = 16 * 1024 * 1024    # most bytes read on one HTTP/2 connection
MAX_CONNS = 512                 # live connections; more are dropped at once
HANDSHAKE_SECONDS = 30          # a TLS handshake that takes longer is dropped
GARBAGE = 4096                  # bytes tls_garbage answers a ClientHello with
DELAY = 0.2                     # h2_goaway and h2_onestream answer this late:
                                # long enough for three streams to overlap on
                                # a slow (sanitizer) build of the crawler
GOAWAY_AT = 3                   # h2_goaway: the stream that triggers GOAWAY
BIGCHAIN_CERTS = 64             # extra CA certificates in the big chain...
BIGCHAIN_PAD = 16000            # ...each padded with this many bytes (~1 MB)

# The listeners, in port-file order: name -> what it does (see README.md).
LISTENERS = {
    "tls_stall": "reads the ClientHello, never answers",
    "tls_garbage": "answers the ClientHello with 4 KiB that are not TLS",
    "tls_bigchain": "TLS with a certificate chain of about 1 MB",
    "tls_close": "reads the ClientHello, closes (FIN)",
    "tls_reset": "reads the ClientHello, resets (RST)",
    "h2_goaway": "GOAWAY(last = 1st stream) at the 3rd stream, then closes",
    "h2_rst": "/p/2, /p/4, ... REFUSED_STREAM the first time asked",
    "h2_onestream": "MAX_CONCURRENT_STREAMS = 1, answers after 20 ms",
    "h2_lie": "ALPN says h2, then HTTP/1.1 is spoken",
    "good_h2": "healthy, h2 by ALPN (HTTP/1.1 if not offered)",
    "good_h1": "healthy, HTTP/1.1 only",
}
RAW = ("tls_stall", "tls_garbage", "tls_close", "tls_reset")

# ------------------------------------------------------------------ certificates

CA_CNF = """[req]
distinguished_name = dn
prompt = no
x509_extensions = v3
[dn]
CN = %s
[v3]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
%s
"""

LEAF_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,DNS:*.test,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(args, cwd):
    """Runs the openssl CLI in cwd; raises with its stderr on failure."""
    p = subprocess.run(["openssl"] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:2]),
                                               p.stderr.decode(errors="replace")))


def new_key(cwd, name):
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", name], cwd)


def make_ca_and_leaf(tmp):
    """ca.key, ca.pem (a private CA) and good.key, good.pem (a leaf for
    localhost, *.test and 127.0.0.1 signed by it), ECDSA P-256, in tmp."""
    with open(os.path.join(tmp, "ca.cnf"), "w") as f:
        f.write(CA_CNF % ("crawler tls_hostile test CA", ""))
    with open(os.path.join(tmp, "leaf.cnf"), "w") as f:
        f.write(LEAF_CNF)
    new_key(tmp, "ca.key")
    openssl(["req", "-x509", "-new", "-key", "ca.key", "-sha256",
             "-days", "3650", "-config", "ca.cnf", "-set_serial",
             "0x" + secrets.token_hex(8), "-out", "ca.pem"], tmp)
    new_key(tmp, "good.key")
    openssl(["req", "-new", "-key", "good.key", "-config", "leaf.cnf",
             "-out", "good.csr"], tmp)
    openssl(["x509", "-req", "-in", "good.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-sha256", "-days", "3650", "-set_serial",
             "0x" + secrets.token_hex(8), "-extfile", "leaf.cnf",
             "-extensions", "v3", "-out", "good.pem"], tmp)


def make_bigchain(tmp, good_pem):
    """bigchain.pem in tmp: the good leaf, then BIGCHAIN_CERTS self-signed
    CA certificates of about BIGCHAIN_PAD bytes each (a padding comment
    extension), distinct subjects, one shared key: about 1 MB of DER."""
    new_key(tmp, "extra.key")
    pad = "nsComment = \"%s\"" % ("padding " * (BIGCHAIN_PAD // 8))
    parts = [open(good_pem, "rb").read()]
    for i in range(BIGCHAIN_CERTS):
        cnf = "extra-%d.cnf" % i
        with open(os.path.join(tmp, cnf), "w") as f:
            f.write(CA_CNF % ("crawler tls_hostile extra CA %d" % i, pad))
        openssl(["req", "-x509", "-new", "-key", "extra.key", "-sha256",
                 "-days", "3650", "-config", cnf, "-set_serial",
                 "0x" + secrets.token_hex(8), "-out", "extra.pem"], tmp)
        with open(os.path.join(tmp, "extra.pem"), "rb") as f:
            parts.append(f.read())
    with open(os.path.join(tmp, "bigchain.pem"), "wb") as f:
        f.write(b"".join(parts))


def ensure_certs(d):
    """Finds ca.pem, good.pem, good.key and bigchain.pem in d, or creates
    what is missing with the openssl CLI (in a temporary directory inside d,
    then renamed into place, so a reader never sees half a file).  A
    directory with some of ca.pem, good.pem, good.key but not all is an
    error: never overwrite someone's CA."""
    os.makedirs(d, exist_ok=True)
    core = ["ca.pem", "good.pem", "good.key"]
    have = [n for n in core if os.path.exists(os.path.join(d, n))]
    if have and len(have) != len(core):
        raise RuntimeError("%s has %s but not all of %s" % (d, have, core))
    need_big = not os.path.exists(os.path.join(d, "bigchain.pem"))
    if have and not need_big:
        return
    tmp = tempfile.mkdtemp(prefix=".certs-", dir=d)
    try:
        if not have:
            make_ca_and_leaf(tmp)
            for n in ("ca.key", "good.key", "ca.pem", "good.pem"):
                os.replace(os.path.join(tmp, n), os.path.join(d, n))
        make_bigchain(tmp, os.path.join(d, "good.pem"))
        os.replace(os.path.join(tmp, "bigchain.pem"),
                   os.path.join(d, "bigchain.pem"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tls_context(certs, chain, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, chain),
                        os.path.join(certs, "good.key"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx

# ------------------------------------------------------------------ helpers


def host_of(authority):
    """Lower-case host without the port, from a Host or :authority value."""
    host = authority.decode("latin-1").lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rpartition(":")[0] if ":" in host else host


def page(host, target):
    """(status, content type, body) of a target: /p/<n> pages, 404 else."""
    if target.startswith("/p/") and target[3:].isdigit():
        return 200, "text/html", page_body(host, target)
    return 404, "text/plain", b"not found\n"


def h1_response(status, ctype, body, keep):
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
              431: "Request Header Fields Too Large"}.get(status, "X")
    return (("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
             "Connection: %s\r\n\r\n")
            % (status, reason, ctype, len(body),
               "keep-alive" if keep else "close")).encode() + body




async def drain_until_gone(reader, cap):
    """Reads and drops what the client sends until it closes, or cap
    bytes."""
    n = 0
    try:
        while n < cap:
            data = await reader.read(65536)
            if not data:
                break
            n += len(data)
    except (ConnectionError, OSError):
        pass


async def send(writer, data):
    """Writes and waits until the kernel took it; False once the client is
    gone."""
    if writer.is_closing():
        return False
    try:
        writer.write(data)
        await writer.drain()
        return True
    except (ConnectionError, OSError):
        return False

# ------------------------------------------------------------------ server


class Server:
    def __init__(self, certs):
        self.stats = {name: {"connections": 0, "handshakes": 0,
                             "requests": {}, "max_streams": 0, "goaways": 0,
                             "rsts": 0} for name in LISTENERS}
        self.ports = {}
        self.writers = set()
        self.refused = {}   # h2_rst: listener -> targets refused once
        h2tls = ["h2", "http/1.1"]
        self.ctx = {
            "tls_bigchain": tls_context(certs, "bigchain.pem", h2tls),
            "h2_goaway": tls_context(certs, "good.pem", h2tls),
            "h2_rst": tls_context(certs, "good.pem", h2tls),
            "h2_onestream": tls_context(certs, "good.pem", h2tls),
            # Only h2 offered: a client that offers h2 gets it.
            "h2_lie": tls_context(certs, "good.pem", ["h2"]),
            "good_h2": tls_context(certs, "good.pem", h2tls),
            "good_h1": tls_context(certs, "good.pem", ["http/1.1"]),
        }

    def count(self, name, target):
        req = self.stats[name]["requests"]
        if target != "/_stats":
            req[target] = req.get(target, 0) + 1

    def stats_body(self):
        return json.dumps(self.stats, sort_keys=True).encode()

    def answer(self, host, target):
        """(status, content type, body) for any listener."""
        if target == "/_stats":
            return 200, "application/json", self.stats_body()
        return page(host, target)

    async def accept(self, name, reader, writer):
        if len(self.writers) >= MAX_CONNS:
            writer.transport.abort()
            return
        self.writers.add(writer)
        self.stats[name]["connections"] += 1
        try:
            if name in RAW:
                await self.raw(name, reader, writer)
            else:
                await self.tls(name, reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError,
                asyncio.TimeoutError, ssl.SSLError):
            pass
        except Exception as e:  # a test tool: say so, drop the connection
            print("tls_hostile: %s: %s: %r" % (name, type(e).__name__, e),
                  file=sys.stderr, flush=True)
        finally:
            self.writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    # ---- listeners that never finish a handshake

    async def raw(self, name, reader, writer):
        """Reads one TLS record (the ClientHello), then misbehaves.  A
        plain "GET " instead is answered like HTTP/1.1 (for /_stats)."""
        head = await reader.readexactly(5)
        if head[:4] == b"GET ":
            await self.h1(name, reader, writer, head)
            return
        if head[0] == 0x16:
            n = int.from_bytes(head[3:5], "big")
            await reader.readexactly(min(n, HELLO_CAP))
        if name == "tls_stall":
            await drain_until_gone(reader, DRAIN_CAP)
        elif name == "tls_garbage":
            junk = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                    b"Content-Length: 4000\r\n\r\n")
            filler = b"<p>this is not TLS</p>\n"
            junk += filler * ((GARBAGE - len(junk)) // len(filler) + 1)
            await send(writer, junk[:GARBAGE])
            writer.close()
        elif name == "tls_close":
            writer.close()
        elif name == "tls_reset":
            reset_writer(writer)

    # ---- TLS listeners

    async def tls(self, name, reader, writer):
        # The handshake runs on an accepted TCP stream so that connections
        # and completed handshakes are counted apart.  Nothing was read from
        # the stream yet: start_tls pauses reading before the first byte.
        await writer.start_tls(self.ctx[name],
                               ssl_handshake_timeout=HANDSHAKE_SECONDS)
        self.stats[name]["handshakes"] += 1
        alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        if name == "h2_lie":
            await self.lie(name, reader, writer)
        elif alpn == "h2":
            await H2Conn(self, name, reader, writer).run()
        else:
            await self.h1(name, reader, writer, b"")

    async def lie(self, name, reader, writer):
        """After ALPN chose h2: an HTTP/1.1 answer to whatever arrives (the
        client's connection preface, normally), then close."""
        data = await reader.read(65536)
        if not data:
            return
        line = data.split(b"\r\n", 1)[0].split(b" ")
        self.count(name, line[1].decode("latin-1") if len(line) == 3 else "?")
        body = b"<html><body>HTTP/1.1 on a connection that chose h2</body>" \
               b"</html>\n"
        await send(writer, h1_response(200, "text/html", body, keep=False))
        await asyncio.wait_for(drain_until_gone(reader, DRAIN_CAP), 5)

    async def h1(self, name, reader, writer, first):
        """HTTP/1.1 with keep-alive; first is what was already read."""
        buf = first
        while True:
            while b"\r\n\r\n" not in buf:
                if len(buf) > HEAD_MAX:
                    await send(writer, h1_response(431, "text/plain",
                                                   b"head too large\n", False))
                    return
                data = await reader.read(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            line, _, rest = head.partition(b"\r\n")
            parts = line.split(b" ")
            if len(parts) != 3:
                await send(writer, h1_response(400, "text/plain",
                                               b"bad request line\n", False))
                return
            hdrs = {}
            for hl in rest.split(b"\r\n"):
                k, _, v = hl.partition(b":")
                hdrs[k.strip().lower()] = v.strip()
            # A request body is read and dropped.
            try:
                blen = int(hdrs.get(b"content-length", b"0"))
            except ValueError:
                blen = -1
            if blen < 0 or blen > BODY_CAP:
                return
            while len(buf) < blen:
                data = await reader.read(65536)
                if not data:
                    return
                buf += data
            buf = buf[blen:]
            target = parts[1].decode("latin-1")
            self.count(name, target)
            keep = hdrs.get(b"connection", b"").lower() != b"close"
            st, ctype, body = self.answer(host_of(hdrs.get(b"host", b"")),
                                          target)
            if not await send(writer, h1_response(st, ctype, body, keep)) \
               or not keep:
                return


class H2Conn:
    """One HTTP/2 connection on an h2_* listener, good_h2 or tls_bigchain:
    healthy, except what the listener's fault says."""

    def __init__(self, srv, name, reader, writer):
        self.srv = srv
        self.name = name
        self.st = srv.stats[name]
        self.reader = reader
        self.writer = writer
        self.h2 = None
        self.pending = {}   # stream id -> body bytes not sent yet
        self.opened = set()  # streams the client opened that are not done
        self.timers = {}    # stream id -> task answering it later
        self.asked = {}     # stream id -> (host, target), for the timers
        self.nstreams = 0
        self.first = None   # h2_goaway: the connection's first stream
        self.going = False  # h2_goaway: GOAWAY sent, answer only the first
        self.done = False

    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def run(self):
        cfg = h2.config.H2Configuration(client_side=False,
                                        header_encoding=None)
        self.h2 = h2.connection.H2Connection(cfg)
        if self.name == "h2_onestream":
            # Advertise one stream at a time, but let h2 accept more: a
            # client that opens a second one is then seen (max_streams)
            # and refused with REFUSED_STREAM, instead of h2 ending the
            # whole connection with a PROTOCOL_ERROR.
            mcs = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
            self.h2.local_settings[mcs] = 1
            self.h2.local_settings.acknowledge()
            self.h2.initiate_connection()
            self.h2.local_settings[mcs] = 100
            self.h2.local_settings.acknowledge()
        else:
            self.h2.initiate_connection()
        self.flush()
        inbound = 0
        try:
            while not self.done:
                data = await self.reader.read(65536)
                if not data:
                    break
                inbound += len(data)
                if inbound > H2_IN_CAP:
                    break
                try:
                    events = self.h2.receive_data(data)
                except h2.exceptions.ProtocolError:
                    self.flush()
                    break
                for ev in events:
                    self.on_event(ev)
                self.pump()
                await self.writer.drain()
        finally:
            for t in self.timers.values():
                t.cancel()

    def on_event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            self.on_request(ev.stream_id, dict(ev.headers))
        elif isinstance(ev, h2.events.DataReceived):
            # Request bodies are dropped; keep the client's window open.
            if ev.flow_controlled_length:
                self.h2.acknowledge_received_data(ev.flow_controlled_length,
                                                  ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.forget(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.done = True

    def forget(self, sid):
        self.pending.pop(sid, None)
        self.asked.pop(sid, None)
        self.opened.discard(sid)
        t = self.timers.pop(sid, None)
        if t is not None:
            t.cancel()

    def on_request(self, sid, hdrs):
        target = hdrs.get(b":path", b"").decode("latin-1")
        host = host_of(hdrs.get(b":authority", hdrs.get(b"host", b"")))
        self.srv.count(self.name, target)
        self.nstreams += 1
        self.opened.add(sid)
        self.st["max_streams"] = max(self.st["max_streams"], len(self.opened))
        if self.name == "h2_goaway":
            if self.going:
                return          # after GOAWAY: never answered here
            if self.first is None:
                self.first = sid
            if self.nstreams == GOAWAY_AT:
                self.go_away()
                return
            self.later(sid, host, target)
        elif self.name == "h2_rst":
            # By target, not by stream number: whether a crawler puts two
            # streams on one connection depends on its connection budget
            # (at -c 8 over eleven hosts, libcurl closes idle connections
            # to make room), and the fault must be met every run.
            refused = self.srv.refused.setdefault(self.name, set())
            m = re.fullmatch(r"/p/(\d+)", target)
            if m and int(m.group(1)) % 2 == 0 and target not in refused:
                refused.add(target)
                self.refuse(sid)
            else:
                refused.add(target)
                self.respond(sid, host, target)
        elif self.name == "h2_onestream":
            if len(self.opened) > 1:
                self.refuse(sid)
            else:
                self.later(sid, host, target)
        else:
            self.respond(sid, host, target)

    def refuse(self, sid):
        self.st["rsts"] += 1
        self.forget(sid)
        self.h2.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)

    def later(self, sid, host, target):
        """Answers after DELAY (so that later streams pile up in flight)."""
        async def fire():
            await asyncio.sleep(DELAY)
            self.timers.pop(sid, None)
            if self.going and sid != self.first:
                return
            self.respond(sid, host, target)
            self.pump()
        self.asked[sid] = (host, target)
        self.timers[sid] = asyncio.get_running_loop().create_task(fire())

    def go_away(self):
        """GOAWAY with last_stream_id = the first stream: every later one,
        in flight now, was not processed and must be retried elsewhere.  The
        first is answered (at once if it was waiting), then the connection
        closes.  The frame is written by hand: h2 would refuse to send the
        first stream's answer after its own GOAWAY."""
        self.going = True
        self.st["goaways"] += 1
        self.flush()
        frame = hyperframe.frame.GoAwayFrame(0)
        frame.last_stream_id = self.first
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        self.writer.write(frame.serialize())
        for sid in list(self.timers):
            if sid == self.first:
                self.timers.pop(sid).cancel()
                self.respond(sid, *self.asked[sid])
            else:
                self.forget(sid)
        self.pump()

    def pump(self):
        """Sends what can be sent; after GOAWAY, closes once the first
        stream's answer went out whole."""
        self.send_pending()
        self.flush()
        if self.going and self.first not in self.pending \
           and self.first not in self.timers and not self.done:
            self.done = True
            self.writer.close()

    def respond(self, sid, host, target):
        st, ctype, body = self.srv.answer(host, target)
        try:
            self.h2.send_headers(sid, [(":status", str(st)),
                                       ("content-type", ctype),
                                       ("content-length", str(len(body)))])
        except h2.exceptions.StreamClosedError:
            self.forget(sid)
            return
        self.pending[sid] = body

    def send_pending(self):
        """Sends what flow control allows of every pending body."""
        for sid in list(self.pending):
            data = self.pending[sid]
            try:
                while True:
                    window = self.h2.local_flow_control_window(sid)
                    n = min(window, self.h2.max_outbound_frame_size,
                            len(data))
                    if n <= 0 and data:
                        break
                    end = n == len(data)
                    self.h2.send_data(sid, data[:n], end_stream=end)
                    data = data[n:]
                    if end:
                        break
            except (h2.exceptions.StreamClosedError,
                    h2.exceptions.ProtocolError):
                self.forget(sid)
                continue
            if data:
                self.pending[sid] = data
            else:
                self.forget(sid)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--certs", required=True,
                    help="directory of ca.pem, good.pem, good.key, "
                    "bigchain.pem (created if missing)")
    ap.add_argument("--port-file")
    ap.add_argument("--lifetime", type=float, default=300.0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    ensure_certs(args.certs)

    async def run():
        srv = Server(args.certs)
        servers = []
        for name in LISTENERS:
            async def cb(reader, writer, name=name):
                await srv.accept(name, reader, writer)
            s = await asyncio.start_server(cb, "127.0.0.1", 0,
                                           limit=HEAD_MAX, reuse_address=True)
            servers.append(s)
            srv.ports[name] = s.sockets[0].getsockname()[1]
        lines = "".join("%s=%d\n" % kv for kv in srv.ports.items())
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(lines)
            os.rename(tmp, args.port_file)
        if not args.quiet:
            print("tls_hostile: " + lines.replace("\n", " "),
                  file=sys.stderr, flush=True)
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                sig, lambda: stop.done() or stop.set_result(None))
        try:
            await asyncio.wait_for(stop, args.lifetime)
        except asyncio.TimeoutError:
            pass
        for s in servers:
            s.close()
        for w in list(srv.writers):
            w.transport.abort()

    asyncio.run(run())


if __name__ == "__main__":
    main()
