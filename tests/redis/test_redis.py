"""crawler/redis.c against a real redis-server: runs redis_driver's
scenarios, each against a private redis-server on 127.0.0.1 (a free port,
its own directory, AOF on, no RDB snapshots) or against a fake server made
here.  Exits 0 (pass), 1 (fail) or 77 (skip: no redis-server).

  basic        connect, SET/GET, argv, 1000 pipelined INCRs in few round
               trips, AUTH and SELECT, a host name through c-ares
  unreachable  nothing listens on the port: refused, within the timeout
  silent       a listener that never answers: the connect timeout
  stall        redis SIGSTOPped: a command timeout, the loop keeps ticking,
               then SIGCONT and the client comes back
  restart      redis SIGKILLed and restarted on the same port: reconnect
               with backoff, the data back from the AOF
  hostile      a fake server with malformed, truncated and oversized replies
  late         a fake server slow to answer the handshake: a command queued
               meanwhile times out on the wire alone, the connection stays

Usage: test_redis.py REDIS_DRIVER [SCENARIO...]"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The private redis-server, shared with the end-to-end tests of many workers.
from redisfix import Redis, find_redis, free_port, tail  # noqa: E402,F401

DRIVER_TIMEOUT = 40


# ---- fake servers ----

HOSTILE = {
    # A reply type byte RESP does not have.
    b"malformed": b"?what\r\n",
    # A bulk string cut short, then the connection closed.
    b"truncated": b"$10\r\nabc",
    # Two replies to one command: hiredis 0.14 would assert() on the second.
    b"unsolicited": b"+OK\r\n+OK\r\n",
    # An array header that would make hiredis allocate 16 GB.
    b"hugearray": b"*2147483647\r\n",
    # A bulk string that claims 100 MB and streams 2 MB of it.
    b"hugebulk": b"$100000000\r\n" + b"x" * (2 << 20),
    # Arrays nested deeper than hiredis's parser goes.
    b"deep": b"*1\r\n" * 9 + b":1\r\n",
    # A negative length other than -1.
    b"badlen": b"$-5\r\n",
    b"ok": b"+fine\r\n",
}
CLOSE_AFTER = {b"truncated"}


def parse_commands(buf):
    """Splits RESP arrays of bulk strings off buf: (commands, rest)."""
    cmds = []
    while True:
        if not buf.startswith(b"*"):
            return cmds, buf
        end = buf.find(b"\r\n")
        if end < 0:
            return cmds, buf
        n = int(buf[1:end])
        pos = end + 2
        args = []
        for _ in range(n):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return cmds, buf
            ln = int(buf[pos + 1:end])
            if len(buf) < end + 2 + ln + 2:
                return cmds, buf
            args.append(buf[end + 2:end + 2 + ln])
            pos = end + 2 + ln + 2
        cmds.append(args)
        buf = buf[pos:]


def serve_commands(conn, answer):
    """Reads commands off conn and answers each with answer(conn, args),
    which returns False to close the connection."""
    buf = b""
    try:
        conn.settimeout(20)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            cmds, buf = parse_commands(buf + data)
            for args in cmds:
                if not answer(conn, args):
                    return
    except OSError:
        pass
    finally:
        conn.close()


def answer_hostile(conn, args):
    name = args[0].upper()
    if name == b"PING":
        conn.sendall(b"+PONG\r\n")
    elif name == b"GET" and args[1].startswith(b"case:"):
        case = args[1][5:]
        conn.sendall(HOSTILE.get(case, b"-ERR no such case\r\n"))
        return case not in CLOSE_AFTER
    else:
        conn.sendall(b"+OK\r\n")
    return True


def answer_late(conn, args):
    """The handshake answered after 0.7 s, "GET slow" after 0.6 s (the
    driver's LATE_HS_MS and LATE_SLOW_MS), in order, on one thread."""
    name = args[0].upper()
    if name == b"PING":
        time.sleep(0.7)
        conn.sendall(b"+PONG\r\n")
    elif name == b"GET" and args[1] in (b"slow", b"fast"):
        if args[1] == b"slow":
            time.sleep(0.6)
        conn.sendall(b"$4\r\n" + args[1] + b"\r\n")
    else:
        conn.sendall(b"+OK\r\n")
    return True


def hostile_server(answer=answer_hostile):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def accept_loop():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve_commands, args=(conn, answer),
                             daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return srv


# ---- running the driver ----

def run_driver(driver, args, on_line=None):
    """Runs the driver; returns (rc, output).  on_line(line) sees each
    stdout line as it comes."""
    proc = subprocess.Popen([driver] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = []
    timer = threading.Timer(DRIVER_TIMEOUT, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            out.append(line)
            if on_line:
                on_line(line.rstrip("\n"))
        rc = proc.wait()
    finally:
        timer.cancel()
    return rc, "".join(out)


def scenario(name, driver, redis_exe, tmp):
    port = free_port()
    if name == "unreachable":
        return run_driver(driver, ["unreachable", str(port)])
    if name == "silent":
        # Listens and never accepts: the kernel completes the handshake,
        # nothing ever answers.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            return run_driver(driver, ["silent", str(s.getsockname()[1])])
    if name in ("hostile", "late"):
        srv = hostile_server(answer_hostile if name == "hostile" else answer_late)
        try:
            return run_driver(driver, [name, str(srv.getsockname()[1])])
        finally:
            srv.close()
    d = tempfile.mkdtemp(prefix=name + "-", dir=tmp)
    r = Redis(redis_exe, port, d)
    r.start()
    try:
        if name == "basic":
            return run_driver(driver, ["basic", str(port)])
        if name == "stall":
            return run_driver(driver, ["stall", str(port), str(r.proc.pid)])
        if name == "restart":
            def on_line(line):
                if line == "KILL":
                    r.kill()
                    # Long enough for several attempts with growing waits.
                    time.sleep(2.0)
                    r.start()
            return run_driver(driver, ["restart", str(port)], on_line)
        raise ValueError(name)
    finally:
        r.stop()


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    driver = sys.argv[1]
    names = sys.argv[2:] or ["basic", "unreachable", "silent", "stall",
                             "restart", "hostile", "late"]
    redis_exe = find_redis()
    needs_redis = {"basic", "stall", "restart"}
    if not redis_exe and needs_redis & set(names):
        print("SKIP: redis-server is not installed (tests/deps.sh installs it)")
        return 77
    failed = []
    with tempfile.TemporaryDirectory(prefix="redis-test-") as tmp:
        for name in names:
            t0 = time.monotonic()
            try:
                rc, out = scenario(name, driver, redis_exe, tmp)
            except Exception as e:  # noqa: BLE001 - reported as a failure
                rc, out = 1, "runner error: %r\n" % (e,)
            took = time.monotonic() - t0
            status = "ok" if rc == 0 else "FAILED (rc %d)" % rc
            print("== %s: %s in %.1f s" % (name, status, took))
            sys.stdout.write(out)
            if rc != 0:
                failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
