#!/usr/bin/env python3
"""Workers on separate hosts: Redis in one network namespace, each of two
workers in its own, joined by veth pairs on a bridge (a private /24 that
exists only inside this machine).  The fixture stays on 127.0.0.1; a relay
on the bridge's address forwards its HTTP and DNS ports, and the fixture
answers .test names with that address (--dns-answer).  Redis listens only on
its namespace's address, so the workers reach it over the veth network,
never through a shared loopback.  Checks: both workers work, and the union
of their directories equals a one-process crawl, byte for byte.
Skipped (77) where namespaces cannot be made (not root, no iproute2) or
redis-server is missing.
"""
import collections
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "redis"))

from harness import Fixture, Skip, check, info, read_manifest, run_test  # noqa: E402
from test_redis import find_redis  # noqa: E402
from test_workers import files_of, union, equal_to_reference, redis_line  # noqa: E402

TAG = "%04d" % (os.getpid() % 10000)
BR = "crb" + TAG
NET = "10.231.%d." % (os.getpid() % 200 + 20)
GW = NET + "1"
NS = {"crr" + TAG: NET + "2", "crw1" + TAG: NET + "3", "crw2" + TAG: NET + "4"}


def ip(*args, ns=None, check_rc=True):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["ip"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if check_rc and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


def setup_net():
    ip("link", "add", BR, "type", "bridge")
    ip("addr", "add", GW + "/24", "dev", BR)
    ip("link", "set", BR, "up")
    for k, (ns, addr) in enumerate(NS.items()):
        host_end, ns_end = "crv%s%da" % (TAG, k), "crv%s%db" % (TAG, k)
        ip("netns", "add", ns)
        ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        ip("link", "set", ns_end, "netns", ns)
        ip("link", "set", host_end, "master", BR)
        ip("link", "set", host_end, "up")
        ip("addr", "add", addr + "/24", "dev", ns_end, ns=ns)
        ip("link", "set", ns_end, "up", ns=ns)
        ip("link", "set", "lo", "up", ns=ns)


def teardown_net():
    for ns in NS:
        ip("netns", "del", ns, check_rc=False)
    ip("link", "del", BR, check_rc=False)


class Relay:
    """Forwards TCP GW:port -> 127.0.0.1:port and UDP likewise (threads:
    this is the test's side, not the crawler's)."""

    def __init__(self, tcp_port, udp_port):
        self.stop = False
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((GW, tcp_port))
        self.tcp.listen(512)
        self.tcp.settimeout(0.5)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((GW, udp_port))
        self.udp.settimeout(0.5)
        self.tcp_port = tcp_port
        self.udp_port = udp_port
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True),
                        threading.Thread(target=self.udp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def accept_loop(self):
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.tcp_port), timeout=10)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def udp_loop(self):
        while not self.stop:
            try:
                q, peer = self.udp.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                try:
                    s.sendto(q, ("127.0.0.1", self.udp_port))
                    a, _ = s.recvfrom(4096)
                    self.udp.sendto(a, peer)
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.tcp.close()
        self.udp.close()


def body(ctx):
    if os.geteuid() != 0 or not shutil.which("ip"):
        raise Skip("network namespaces need root and iproute2")
    exe = find_redis()
    if not exe:
        raise Skip("redis-server is not installed (tests/run.sh installs it)")
    try:
        setup_net()
    except (RuntimeError, OSError) as e:
        teardown_net()
        raise Skip("cannot make network namespaces here: %s" % e)
    redis = relay = None
    procs = []
    try:
        fx = Fixture(ctx.fixture_exe, lifetime=300,
                     extra=["--s-hosts", "16", "--s-pages", "500", "--s-delay", "40",
                            "--s-links", "4", "--dns-answer", GW])
        relay = Relay(fx.http_port, fx.dns_port)
        rns, raddr = list(NS.items())[0]
        rdir = os.path.join(ctx.tmp, "redis")
        os.mkdir(rdir)
        port = 6379
        redis = subprocess.Popen(["ip", "netns", "exec", rns, exe, "--port", str(port),
                                  "--bind", raddr, "--dir", rdir, "--save", "",
                                  "--appendonly", "no", "--protected-mode", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = "redis://%s:%d/0" % (raddr, port)
        seed = "http://s0.test:%d/s/0" % fx.http_port
        dns = "%s:%d" % (GW, fx.dns_port)
        scope = ["-r", "-l", "inf", "--span-hosts", "--domains", "test", "--dns-servers", dns]
        # The reference, from this namespace (the relay's address is local).
        work = ctx.workdir("ref")
        r = ctx.crawl(["-q", "-o", "out"] + scope + [seed], cwd=work, timeout=90)
        r.expect_rc(0)
        ref_out = os.path.join(work, "out")
        ref_files = files_of(ref_out)
        ref_recs = read_manifest(os.path.join(ref_out, "manifest.jsonl"))
        check(len(ref_recs) == 500, "reference: %d lines" % len(ref_recs))
        wns = list(NS)[1:]
        # Describe from a worker's namespace once Redis answers there.
        deadline = time.monotonic() + 15
        while True:
            r = ctx.crawl(["--redis", url, "--crawl", "net"] + scope + [seed],
                          wrapper=["ip", "netns", "exec", wns[0]], timeout=30)
            if r.rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        r.expect_rc(0)
        base = ctx.workdir("workers")
        for k, ns in enumerate(wns):
            out = os.path.join(base, "w%d" % k)
            err = open(out + ".err", "wb")
            p = subprocess.Popen(["ip", "netns", "exec", ns, ctx.crawler, "--redis", url,
                                  "--crawl", "net", "-o", out],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=err)
            err.close()
            p.out = out
            procs.append(p)
        for p in procs:
            p.wait(timeout=120)
            with open(p.out + ".err", "rb") as f:
                text = f.read().decode(errors="replace")
            check(p.returncode == 0, "worker in its namespace exited %s: %s"
                  % (p.returncode, text[-2000:]))
            trips = redis_line(text)[0]
            n = len(read_manifest(os.path.join(p.out, "manifest.jsonl")))
            info("%s: %d pages, %d round trips over the veth network" % (p.out, n, trips))
            check(n > 0, "a worker in its own namespace got no page")
        files, recs = union([p.out for p in procs])
        equal_to_reference(ref_files, ref_recs, files, recs, "2 workers in 2 namespaces")
        info("2 workers, Redis and the site in 3 namespaces: 500 pages = one process")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if redis:
            redis.terminate()
            try:
                redis.wait(timeout=10)
            except subprocess.TimeoutExpired:
                redis.kill()
        if relay:
            relay.close()
        teardown_net()


if __name__ == "__main__":
    run_test(body)
