"""Hostile TLS and HTTP/2 servers (issue 13).

tests/hostile/tls_hostile.py runs one listener per fault: handshakes that
stall, answer garbage, send a 1 MB certificate chain, end in a FIN or a
RST; HTTP/2 connections that go away with streams in flight, refuse
streams, allow one stream at a time, or choose h2 by ALPN and then speak
HTTP/1.1; and two healthy listeners.  One crawl of a few URLs on every
listener, -c 8, --timeout 5, trusting the server's private CA through
--ca-certificate.  Each fault may cost only its own URLs, with a clear
reason, bounded in time; what a server merely refuses to do now (GOAWAY,
REFUSED_STREAM) must be retried, not lost; the healthy listeners' pages are
saved byte for byte and their hosts never declared dead.

Hostile listeners are reached as 127.0.0.1 and the healthy ones as
localhost (both in the test certificate; OpenSSL does not match its
*.test wildcard, a wildcard over a top-level name); every listener has a
port of its own, so each is a host of its own for the crawler.

All problems are gathered and reported together, so one run shows every
gap.  Skipped (77) without python3-h2, the openssl CLI or the crawler's
--ca-certificate."""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HOSTILE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "hostile")
sys.path.insert(0, HOSTILE_DIR)
import hostile  # noqa: E402

TIMEOUT = 5          # --timeout and --connect-timeout
RETRIES = 1          # --retries
CRAWL_SECONDS = 60   # the whole crawl must end well within this
# What one URL may cost at most: every attempt running into --timeout, the
# backoff between them, slack for a loaded machine.  A hang guard.  Not
# for tls_stall: a host whose handshakes fail gets fewer connections, so
# its URLs may wait for each other; the crawl's bound covers them.
CASE_SECONDS = (RETRIES + 1) * TIMEOUT + 20

# Listener -> URLs on it.  The HTTP/2 ones get more, so that streams pile
# up on a connection (h2_goaway needs three in flight).
PAGES = {"tls_stall": 3, "tls_garbage": 4, "tls_bigchain": 4,
         "tls_close": 4, "tls_reset": 4, "h2_goaway": 6, "h2_rst": 6,
         "h2_onestream": 6, "h2_lie": 4, "good_h2": 6, "good_h1": 6}
GOOD = ("good_h2", "good_h1")

# Listener -> the reason every one of its URLs must fail with (searched,
# case-insensitive).  None: every URL must be saved, byte for byte.
# tls_bigchain may go either way (see below).
EXPECT = {
    "tls_stall": r"^TLS: handshake timed out$",
    "tls_garbage": r"^TLS: handshake failed: the server does not speak TLS",
    "tls_close": r"^TLS: handshake failed: the server closed the connection",
    "tls_reset": r"^TLS: handshake failed: .*connection reset",
    # Saved after the crawler falls back to HTTP/1.1, or failed saying so.
    "h2_lie": r"HTTP/2|\bh2\b|ALPN",
    "h2_goaway": None,
    "h2_rst": None,
    "h2_onestream": None,
    "good_h2": None,
    "good_h1": None,
}
# A 1 MB chain is over OpenSSL's 100 KB limit on the certificate message:
# a failure naming the size is expected; success (a client that allows
# more) is fine too, if bounded and byte-exact.
BIGCHAIN = r"^TLS: .*(excessive message size|too (large|long|big))"


def h2_python():
    """An interpreter that can import h2 (python3-h2): this one, or
    Debian's when this one is another build (pyenv); None if neither."""
    seen = set()
    for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if not exe or exe in seen or not os.access(exe, os.X_OK):
            continue
        seen.add(exe)
        p = subprocess.run([exe, "-c", "import h2.connection, hyperframe"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        if p.returncode == 0:
            return exe
    return None


class TlsHostile:
    """tests/hostile/tls_hostile.py on ephemeral ports of 127.0.0.1, with a
    lifetime; stopped (SIGTERM, then SIGKILL) by stop() or at exit."""

    def __init__(self, python, certs, lifetime=180):
        self.dir = tempfile.mkdtemp(prefix="crawler-e2e-tls-")
        ports = os.path.join(self.dir, "ports")
        self.err_path = os.path.join(self.dir, "stderr")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [python, os.path.join(HOSTILE_DIR, "tls_hostile.py"),
             "--certs", certs, "--port-file", ports, "--lifetime",
             str(lifetime), "--quiet"],
            stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        # Making the certificates (65 openssl runs) comes first.
        self.ports = h.wait_port_file(self.proc, ports, 90, "tls_hostile.py",
                                      self.stderr)
        h.check(set(self.ports) == set(PAGES), "listeners %s, expected %s"
                % (sorted(self.ports), sorted(PAGES)))

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return h.tail(f.read())

    def host(self, name):
        return "localhost" if name in GOOD else "127.0.0.1"

    def url(self, name, target):
        return "https://%s:%d%s" % (self.host(name), self.ports[name], target)

    def stats(self):
        """Every listener's counters.  Asked in plain HTTP of tls_stall:
        the listeners that never finish a handshake answer a "GET " so."""
        with urllib.request.urlopen("http://127.0.0.1:%d/_stats"
                                    % self.ports["tls_stall"],
                                    timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        h.stop_process(self.proc)
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def crawler_has(exe, flag):
    p = subprocess.run([exe, "--help"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return flag.encode() in p.stdout


def body(ctx):
    if not crawler_has(ctx.crawler, "--ca-certificate"):
        raise h.Skip("the crawler has no --ca-certificate yet")
    if shutil.which("openssl") is None:
        raise h.Skip("the openssl CLI is not installed")
    python = h2_python()
    if python is None:
        raise h.Skip("python3-h2 is not installed (tests/deps.sh python3-h2)")
    certs = os.path.join(ctx.tmp, "certs")
    srv = TlsHostile(python, certs)
    try:
        crawl(ctx, srv, certs)
    finally:
        err = srv.stderr()
        srv.stop()
        if err.strip():
            h.info("tls_hostile.py stderr:\n" + err)


def crawl(ctx, srv, certs):
    urls = {}   # url -> (listener, target)
    for name, n in PAGES.items():
        for i in range(1, n + 1):
            urls[srv.url(name, "/p/%d" % i)] = (name, "/p/%d" % i)
    work = ctx.workdir("crawl")
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("".join(u + "\n" for u in urls))
    r = ctx.crawl(["-q", "-o", "out", "-i", "urls.txt", "-c", "8",
                   "--timeout", str(TIMEOUT), "--connect-timeout",
                   str(TIMEOUT), "--retries", str(RETRIES),
                   "--ca-certificate", os.path.join(certs, "ca.pem")],
                  cwd=work, timeout=CRAWL_SECONDS + 60)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r.expect_rc(1)
    out = os.path.join(work, "out")
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    got = h.by_url(recs)
    h.check(len(recs) == len(urls), lambda: "%d manifest lines for %d URLs"
            % (len(recs), len(urls)))
    h.check_files_match_manifest(out, recs)
    h.check_no_tmp(out)
    stats = srv.stats()

    # What happened, per URL and per listener, before any judgement.
    rows = []
    for u, (name, target) in urls.items():
        rec = got.get(u)
        h.check(rec is not None, "no manifest line for %s (%s)" % (u, name))
        rows.append("%-13s %-5s %-3s %-3s %6.2fs  %s" % (
            name, target, rec["status"], rec["attempts"], rec["seconds"],
            rec["error"] or "saved"))
    h.info("listener      url   st  att   time  reason\n" + "\n".join(rows))
    for name in PAGES:
        s = stats[name]
        h.info("%-13s connections %3d handshakes %3d max_streams %d "
               "goaways %d rsts %d requests %s"
               % (name, s["connections"], s["handshakes"], s["max_streams"],
                  s["goaways"], s["rsts"],
                  json.dumps(s["requests"], sort_keys=True)))
    h.info("crawl: %.1f s, peak RSS %d KiB (informational)"
           % (r.seconds, rss))

    problems = []

    def want(cond, msg):
        if not cond:
            problems.append(msg)

    # Bounded: the whole crawl, each URL, each URL's attempts; memory does
    # not grow with a 1 MB certificate chain.
    want(r.seconds < CRAWL_SECONDS, "the crawl took %.1f s, not under %d s"
         % (r.seconds, CRAWL_SECONDS))
    with open(ctx.crawler, "rb") as f:
        asan = b"__asan_init" in f.read()
    want(rss < (1024 if asan else 256) * 1024, "peak RSS %d KiB" % rss)
    for u, (name, target) in urls.items():
        rec = got[u]
        want(name == "tls_stall" or rec["seconds"] <= CASE_SECONDS,
             "%s took %.1f s, more than %d s:\n  %s"
             % (name, rec["seconds"], CASE_SECONDS, h.show(rec)))
        want(rec["attempts"] <= RETRIES + 1, "%s: attempts beyond "
             "--retries:\n  %s" % (name, h.show(rec)))

    # Every URL: saved with its exact bytes, or failed with its reason.
    for u, (name, target) in urls.items():
        rec = got[u]
        if name in ("tls_bigchain", "h2_lie") and rec["error"] is None:
            # Success is fine too: for h2_lie, the crawler's fallback to
            # HTTP/1.1 after nothing came back over h2.
            reason = None
        elif name == "tls_bigchain":
            reason = BIGCHAIN
        else:
            reason = EXPECT[name]
        if reason is None:
            if rec["error"] is not None or rec["status"] != 200:
                problems.append("%s: expected the page saved:\n  %s"
                                % (name, h.show(rec)))
                continue
            wanted = hostile.page_body(srv.host(name), target)
            if name == "h2_lie":
                # What tls_hostile.py's h2_lie answers any HTTP/1.1
                # request with (the crawler fell back to HTTP/1.1).
                wanted = (b"<html><body>HTTP/1.1 on a connection that chose "
                          b"h2</body></html>\n")
            with open(os.path.join(out, rec["path"]), "rb") as f:
                saved = f.read()
            want(saved == wanted and rec["bytes"] == len(wanted),
                 "%s: %d bytes saved, %d served:\n  %s"
                 % (name, len(saved), len(wanted), h.show(rec)))
        else:
            err = rec["error"] or ""
            want(rec["path"] is None and rec["bytes"] == 0 and err
                 and re.search(reason, err, re.I),
                 "%s: expected a failure matching /%s/:\n  %s"
                 % (name, reason, h.show(rec)))

    # A fault costs its own URLs, each with its own reason: no host is
    # declared dead, least of all a healthy one.
    dead = [rec for rec in recs if rec["error"] == "host unreachable"]
    want(not dead, "URLs failed as 'host unreachable' (a hostile TLS "
         "server counted as a dead host):\n  "
         + "\n  ".join(h.show(rec) for rec in dead[:8]))

    # The HTTP/2 faults were met, and what they refused was asked again.
    s = stats["h2_goaway"]
    want(s["goaways"] >= 1, "h2_goaway never had three streams in flight "
         "on one connection: the GOAWAY was not exercised")
    want(all(s["requests"].get(t, 0) >= 1 for n, t in urls.values()
             if n == "h2_goaway"), "h2_goaway: a URL never requested")
    s = stats["h2_rst"]
    want(s["rsts"] == PAGES["h2_rst"] // 2, "h2_rst refused %d streams, "
         "expected one per even-numbered page (%d)"
         % (s["rsts"], PAGES["h2_rst"] // 2))
    want(sum(s["requests"].values()) == PAGES["h2_rst"] + s["rsts"],
         "h2_rst: %d requests for %d pages and %d refusals"
         % (sum(s["requests"].values()), PAGES["h2_rst"], s["rsts"]))
    want(stats["h2_onestream"]["max_streams"] == 1,
         "h2_onestream: %d streams open at once, the server allows 1"
         % stats["h2_onestream"]["max_streams"])
    for name in ("h2_goaway", "h2_rst", "h2_onestream", "h2_lie", "good_h2"):
        want(stats[name]["handshakes"] >= 1, "%s: no handshake" % name)
    for name in ("tls_stall", "tls_garbage", "tls_close", "tls_reset"):
        want(stats[name]["connections"] >= 1 and
             stats[name]["handshakes"] == 0, "%s: %r" % (name, stats[name]))
    want(stats["good_h2"]["max_streams"] >= 1, "good_h2 spoke no h2")

    h.check(not problems, lambda: "%d problems:\n%s"
            % (len(problems), "\n".join("- " + p for p in problems)))


h.run_test(body)
