"""A private redis-server for tests: 127.0.0.1 (or an address given), a free
port, its own directory, AOF on with every write fsynced
(--appendonly yes --appendfsync always), no RDB snapshots (--save '').

    from redisfix import Redis, find_redis, free_port, SKIP

    exe = find_redis()              # None where redis-server is missing:
                                    # the test exits 77 (SKIP)
    with Redis(exe, workdir=d) as r:    # started; stopped on exit
        r.cli("SET", "k", "v")      # b'OK'... (a tiny RESP client)
        r.kill()                    # SIGKILL, as a crash
        r.pause(); r.resume()       # SIGSTOP, SIGCONT: a silent server
        r.start()                   # same port, same dir: the AOF is back
        r.restart(pause=1.0)        # stop, wait, start

Every wait is bounded: start() fails after start_timeout seconds without a
PONG, stop() escalates to SIGKILL after 10 s, cli() has a socket timeout.
A server still running at interpreter exit is killed (atexit), so none
outlives its test.  No redis-cli is needed: cli() speaks RESP itself.

wrapper (e.g. ["ip", "netns", "exec", "ns1"]) runs the server through a
command, and host is the address it binds and cli() connects to.  cli()
connects from where the test runs, unless cli_wrapper is given: then each
command runs as `CLI_WRAPPER python3 redisfix.py HOST PORT ARG...` (which
prints the reply's repr), e.g. in the server's network namespace.
"""

import ast
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77

_live = []


class RedisError(Exception):
    """An error reply (-ERR ..., -WRONGTYPE ...) from cli()."""


def free_port(host="127.0.0.1"):
    """A TCP port on host that nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def find_redis():
    """The redis-server executable, or None."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK)
        else None)


def tail(path, n=800):
    """The last n characters of a file, for failure messages."""
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return "(no log)"


def encode(*args):
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    """One RESP2 reply from a binary file object: bytes, int, None, a list,
    a str for a status reply, a RedisError for an error reply."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed in a reply: %r" % line)
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode("utf-8", "replace")
    if t == b"-":
        return RedisError(rest.decode("utf-8", "replace"))
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise ConnectionError("connection closed in a bulk string")
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ConnectionError("not a RESP reply: %r" % line[:100])


def command(host, port, *args, timeout=10.0, check=True):
    """Sends one command on a new connection and returns its reply.  An
    error reply is raised (check) or returned as a RedisError."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(encode(*args))
        with s.makefile("rb") as f:
            reply = read_reply(f)
    if check and isinstance(reply, RedisError):
        raise reply
    return reply


class Redis:
    """A private redis-server on host:port with its own directory.

    port defaults to a free one, workdir to a new temporary directory
    (removed by stop() only if it was made here).  The port and directory
    are kept across kill()/stop() and start(), so the data survives."""

    def __init__(self, exe=None, port=None, workdir=None, host="127.0.0.1",
                 wrapper=(), start_timeout=15.0, extra=(), cli_wrapper=None):
        self.exe = exe or find_redis()
        if not self.exe:
            raise FileNotFoundError("redis-server is not installed")
        self.host = host
        self.port = port or free_port(host if not wrapper else "127.0.0.1")
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="redisfix-")
        self.wrapper = list(wrapper)
        self.cli_wrapper = None if cli_wrapper is None else list(cli_wrapper)
        self.start_timeout = start_timeout
        self.extra = list(extra)
        self.log = os.path.join(self.dir, "redis.log")
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        """redis://HOST:PORT/0, as the crawler's --redis takes it."""
        return "redis://%s:%d/0" % (self.host, self.port)

    def start(self):
        """Starts the server and waits (bounded) until it answers PING with
        PONG, that is, until it has loaded its AOF."""
        if self.running():
            raise RuntimeError("redis-server already running")
        self.proc = subprocess.Popen(
            self.wrapper +
            [self.exe, "--port", str(self.port), "--bind", self.host,
             "--dir", self.dir, "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--daemonize", "no",
             "--protected-mode", "no", "--logfile", self.log] + self.extra,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        if self not in _live:
            _live.append(self)
        self.starts += 1
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited with %s: %s"
                                   % (self.proc.returncode, tail(self.log)))
            try:
                if self.cli("PING", timeout=1.0) == "PONG":
                    return self
            except (OSError, RedisError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("redis-server did not answer PING within %.0f s: %s"
                           % (self.start_timeout, tail(self.log)))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cli(self, *args, timeout=10.0, check=True):
        """One command on a new connection; the reply (see read_reply)."""
        if self.cli_wrapper is None:
            return command(self.host, self.port, *args, timeout=timeout,
                           check=check)
        p = subprocess.run(
            self.cli_wrapper + [sys.executable, os.path.abspath(__file__),
                                self.host, str(self.port)]
            + [a.decode("latin-1") if isinstance(a, bytes) else str(a)
               for a in args],
            stdin=subprocess.DEVNULL, capture_output=True,
            timeout=timeout + 10)
        if p.returncode == 3:
            raise ConnectionError(p.stderr.decode(errors="replace").strip())
        if p.returncode != 0:
            raise RuntimeError("redisfix cli exited with %d: %s"
                               % (p.returncode, p.stderr.decode(errors="replace")))
        reply = _revive(ast.literal_eval(p.stdout.decode()))
        if check and isinstance(reply, RedisError):
            raise reply
        return reply

    def kill(self):
        """SIGKILL (after SIGCONT, in case a test stopped it): a crash."""
        if self.running():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s."""
        if self.running():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def pause(self):
        """SIGSTOP: a server that holds its connections and answers
        nothing, until resume()."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self, pause=1.0, hard=True):
        """kill() (hard) or stop(), pause seconds, start() on the same port
        and directory."""
        if hard:
            self.kill()
        else:
            self.stop()
        time.sleep(pause)
        return self.start()

    def close(self):
        """stop(), and remove the directory if it was made here."""
        self.stop()
        if self in _live:
            _live.remove(self)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _kill_all():
    for r in list(_live):
        try:
            r.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_kill_all)


def _plain(reply):
    """A reply as literals (an error as ('ERR', text)), for repr()."""
    if isinstance(reply, RedisError):
        return ("ERR", str(reply))
    if isinstance(reply, list):
        return [_plain(x) for x in reply]
    return reply


def _revive(v):
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "ERR":
        return RedisError(v[1])
    if isinstance(v, list):
        return [_revive(x) for x in v]
    return v


def main(argv):
    """redisfix.py HOST PORT ARG...: one command, its reply's repr on
    stdout; exit 3 when the server cannot be reached."""
    if len(argv) < 4:
        print("usage: redisfix.py HOST PORT ARG...", file=sys.stderr)
        return 2
    try:
        reply = command(argv[1], int(argv[2]), *argv[3:], check=False)
    except OSError as e:
        print("redisfix: %s:%s: %s" % (argv[1], argv[2], e), file=sys.stderr)
        return 3
    print(repr(_plain(reply)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
