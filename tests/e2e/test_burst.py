"""A burst against a server that is slow to accept (issue 13).

The server here listens with a backlog of 4 and accepts at most 10
connections every 50 ms, answering each with one small page and closing.
300 URLs at -c 300 --per-host 300 overflow its accept queue: the kernel
drops the SYNs it has no room for, and those connects time out
(--connect-timeout 1).  Before, five such failures in a row declared the
healthy host dead and failed nearly every URL "host unreachable".  Now the
failures lower how many connections the host gets (to one at a time), the
URLs caught in the burst are retried, and every page is saved.

A port where nothing listens still makes a host dead: its URLs fail
"host unreachable", fast (refused connections, no timeout to wait)."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 300
ACCEPT_EVERY = 0.05   # seconds between accept rounds
ACCEPT_BATCH = 10     # connections accepted per round
LIFETIME = 90.0       # the server stops by itself after this


def page(target):
    return ("page %s\n" % target).encode() * 20


class SlowServer:
    """One thread: accepts ACCEPT_BATCH connections every ACCEPT_EVERY
    seconds from a listen queue of 4, and serves each at once (one request,
    then close).  Counts requests per target."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.requests = {}
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def serve(self, conn):
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            target = data.split(b" ", 2)[1].decode("latin-1")
            self.requests[target] = self.requests.get(target, 0) + 1
            body = page(target)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body) + body)
        except OSError:
            pass
        finally:
            conn.close()

    def run(self):
        end = time.monotonic() + LIFETIME
        while not self.stop and time.monotonic() < end:
            for _ in range(ACCEPT_BATCH):
                try:
                    conn, _ = self.sock.accept()
                except (BlockingIOError, OSError):
                    break
                conn.setblocking(True)
                self.serve(conn)
            time.sleep(ACCEPT_EVERY)
        self.sock.close()

    def close(self):
        self.stop = True
        self.thread.join(5)


def body(ctx):
    srv = SlowServer()
    try:
        urls = ["http://127.0.0.1:%d/b/%d" % (srv.port, i) for i in range(N)]
        work = ctx.workdir("burst")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("\n".join(urls) + "\n")
        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "--no-state", "-q",
                       "-c", str(N), "--per-host", str(N),
                       "--connect-timeout", "1", "--timeout", "30"],
                      cwd=work, timeout=80)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        got = h.by_url(recs)
        failed = [rec for rec in recs if rec.get("error")]
        h.info("burst: %d of %d saved, %d failed in %.1f s; the server saw "
               "%d requests" % (len(recs) - len(failed), N, len(failed),
                                r.seconds, sum(srv.requests.values())))
        h.check(len(got) == N, "expected %d manifest lines, got %d"
                % (N, len(got)))
        h.check(not failed, lambda: "a server slow to accept lost URLs:\n"
                + "\n".join(h.show(rec) for rec in failed[:5]))
        r.expect_rc(0)
        out = os.path.join(work, "out", "127.0.0.1:%d" % srv.port, "b")
        for i in range(N):
            with open(os.path.join(out, str(i)), "rb") as f:
                h.check(f.read() == page("/b/%d" % i), "/b/%d: wrong bytes" % i)
    finally:
        srv.close()

    # Nothing listens: the host is dead, quickly.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound, never listened: refused from now on
    work = ctx.workdir("dead")
    urls = ["http://127.0.0.1:%d/x/%d" % (port, i) for i in range(50)]
    r = ctx.crawl(["-o", "out", "--no-state", "-q", "-c", "50", "--per-host", "50",
                   "--connect-timeout", "5"] + urls, cwd=work, timeout=60)
    r.expect_rc(1)
    recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
    dead = [rec for rec in recs if rec.get("error") == "host unreachable"]
    h.info("refusing port: %d of %d URLs 'host unreachable' in %.1f s"
           % (len(dead), len(urls), r.seconds))
    h.check(len(recs) == len(urls), "expected %d manifest lines, got %d"
            % (len(urls), len(recs)))
    for rec in recs:
        h.expect_failed(rec, r"host unreachable|connect")
    h.check(len(dead) >= len(urls) // 2, lambda: "the refusing host was "
            "never declared dead:\n" + "\n".join(h.show(rec) for rec in recs[:3]))


h.run_test(body)
