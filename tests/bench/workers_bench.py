#!/usr/bin/env python3
"""Many workers, one crawl (issue 11): the same recursive site crawled by one
process and, described in Redis, by 1, 2 and 4 workers started at once, with
the output on tmpfs and on the disk; plus what the crawl costs in Redis
memory per seen and per queued URL.

Workloads (the fixture's latency site /s/N, spread over H virtual hosts with
`--s-hosts`, so workers that own hosts by hash have hosts to share; every
name *.test resolves to 127.0.0.1 through the fixture's DNS):
  latency  5,000 pages, 5 links a page, delays U(0,1000) ms fixed per page,
           8 KiB, 32 hosts, -c 2000 --per-host 2000 (bench.py's recursive
           workload over hosts); its critical-path bound is bench.py's
           (site_bounds: every page starts the moment its first parent is
           done), so wall / bound says how close each crawl comes
  cpu      20,000 pages, 5 links, no delay, 8 KiB, 64 hosts, -c 64
           --per-host 8: CPU-bound, pages/s is what 2 and 4 workers buy;
           but the fixture and Redis run on the same 2 cores and cost a
           page about half what a worker does, which caps what a second
           worker can add (the report's "CPU ceiling" column)
  archive  5,000 pages of 64 KiB, 5 links, no delay, 64 hosts, -c 64
           --per-host 8, every process also archiving (--warc, gzip level
           6): CPU-bound with the CPU in the crawlers, as in an archiving
           crawl, so the cores left to the workers show what they scale to
  memory   Redis's INFO memory used_memory, empty vs (a) a crawl described
           with N seeds (-i, nothing fetched yet: bytes per queued URL) and
           (b) a whole recursive crawl of an N-page site by 2 workers (bytes
           per seen URL), N = 100,000; each split by key kind (MEMORY USAGE)

Every run gets a fresh fixture (its /_stats count that run's requests) and
fresh output directories; one private redis-server (127.0.0.1, free port,
its own directory on tmpfs, persistence off) serves the whole benchmark and
is emptied (FLUSHALL, CONFIG RESETSTAT) before each run.  A run with workers
first describes the crawl (`crawler --redis URL --crawl NAME -r -l inf ...
SEED`, timed apart), then starts the workers at once (`crawler --redis URL
--crawl NAME -o DIRi`); wall = first start to last exit.  Measured: CPU
(user+sys) of the crawler processes from wait4(), the fixture's and
redis-server's CPU, the workers' own Redis line (`crawler: redis: R round
trips, C commands, B bytes out, I bytes in, P pages`), and Redis's own
INFO commandstats (commands run, script calls and the commands inside them,
microseconds spent).  Every run is verified: the union of the manifests has
each page of the site once, status 200.

Nothing is asserted: the targets (issue 11) are printed beside the figures.

Usage: tests/bench/workers_bench.py [--quick] [--runs N] [--fs tmpfs,disk]
           [--workloads latency,cpu,archive,memory] [--workers 1,2,4]
           [--output FILE]
"""

import argparse
import collections
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bench as B  # noqa: E402  (Fixture, site_graph, site_bounds, raise_nofile)

REDIS_LINE = re.compile(r"redis: (\d+) round trips, (\d+) commands, (\d+) bytes out, "
                        r"(\d+) bytes in(?:, (\d+) pages)?")
# Our own calls to Redis, left out of the server-side counts.
ADMIN_CMDS = ("info", "config", "flushall", "memory", "scan", "dbsize", "ping", "type")
ARGS = None


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Redis: a private server and a small RESP client


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    """One connection to Redis; cmd() sends a command and parses the reply,
    pipeline() sends many and reads all the replies."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError("redis: " + rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("redis: bad reply %r" % line)

    def cmd(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read()

    def pipeline(self, cmds):
        out = []
        for i in range(0, len(cmds), 1000):
            chunk = cmds[i:i + 1000]
            self.sock.sendall(b"".join(self.encode(c) for c in chunk))
            for _ in chunk:
                try:
                    out.append(self.read())
                except RuntimeError as e:
                    out.append(e)
        return out

    def info(self, section):
        txt = self.cmd("INFO", section).decode()
        kv = {}
        for line in txt.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                kv[k] = v
        return kv

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


def find_redisfix():
    """tests/redis/redisfix.py's Redis class (the tests' private server),
    from this tree or the named checkouts, or None: then our own launcher."""
    for d in (os.path.join(ROOT, "tests", "redis"), "/work/main/tests/redis",
              "/work/wt-workers/tests/redis"):
        if os.path.exists(os.path.join(d, "redisfix.py")):
            sys.path.insert(0, d)
            try:
                import redisfix
                return redisfix.Redis, os.path.join(d, "redisfix.py")
            except ImportError:
                sys.path.remove(d)
    return None, None


# Persistence off: this measures the crawl, not Redis's disk (redisfix
# starts with AOF fsynced always; later arguments override earlier ones).
NO_PERSIST = ["--save", "", "--appendonly", "no"]


class RedisServer:
    """A private redis-server on 127.0.0.1 (free port, own directory on
    tmpfs, no persistence): redisfix's Redis when there is one, else a
    minimal launcher."""

    def __init__(self, exe, tmp):
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=tmp)
        self.fix = None
        cls, self.via = find_redisfix()
        if cls is not None:
            self.fix = cls(exe, workdir=self.dir, extra=NO_PERSIST).start()
            self.port = self.fix.port
            self.proc = self.fix.proc
            self.url = self.fix.url
            return
        self.via = "own launcher"
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.log = os.path.join(self.dir, "redis.log")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--daemonize", "no", "--logfile", self.log] + NO_PERSIST,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                r = Resp(self.port, timeout=1)
                ok = r.cmd("PING") == "PONG"
                r.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start: %s" % B.tail(self.log))

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def stop(self):
        if self.fix is not None:
            self.fix.stop()
        elif self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def command_stats(r):
    """{command: (calls, usec)} from INFO commandstats, our own left out."""
    out = {}
    for k, v in r.info("commandstats").items():
        name = k[len("cmdstat_"):]
        if name.split("|")[0] in ADMIN_CMDS:
            continue
        f = dict(x.split("=", 1) for x in v.split(","))
        out[name] = (int(f["calls"]), int(f["usec"]))
    return out


def used_memory(r):
    return int(r.info("memory")["used_memory"])


def key_kind(key):
    """cr:{NAME}:seen:0a1 -> seen; q:17 -> q; ..."""
    k = key.decode(errors="replace")
    rest = k.split("}:", 1)[1] if "}:" in k else k
    return rest.split(":", 1)[0]


def memory_by_kind(r):
    """{kind: (keys, bytes)}: MEMORY USAGE (exact, SAMPLES 0) of every key,
    summed by kind (seen, q, inflight, seeds, conf, ...)."""
    keys = []
    cur = b"0"
    while True:
        cur, batch = r.cmd("SCAN", cur, "COUNT", 1000)
        keys += batch
        if cur == b"0":
            break
    sizes = r.pipeline([("MEMORY", "USAGE", k, "SAMPLES", "0") for k in keys])
    out = collections.defaultdict(lambda: [0, 0])
    for k, s in zip(keys, sizes):
        kind = key_kind(k)
        out[kind][0] += 1
        out[kind][1] += s if isinstance(s, int) else 0
    return dict(out)


# --------------------------------------------------------------------------
# Processes


def proc_cpu(pid):
    """user+sys seconds of a live process (ours: the fixture, redis-server)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


STARTED = []  # every crawler process we started, killed if we stop early


def start(cmd, errpath):
    """A crawler process in its own session, stderr to errpath."""
    with open(errpath, "wb") as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True)
    STARTED.append(p)
    return p


def kill_started():
    for p in STARTED:
        if p.returncode is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass


def wait_all(procs, t0, timeout):
    """Waits for every process with wait4() (a thread each, so each end time
    is exact); kills those past t0 + timeout.  Returns [(rc, cpu s, end)]."""
    res = [None] * len(procs)

    def waiter(i, p):
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        res[i] = (p.returncode, ru.ru_utime + ru.ru_stime, time.monotonic())

    ths = [threading.Thread(target=waiter, args=(i, p), daemon=True)
           for i, p in enumerate(procs)]
    for t in ths:
        t.start()
    timed_out = False
    for t in ths:
        t.join(max(0.0, t0 + timeout - time.monotonic()))
        if t.is_alive():
            timed_out = True
            break
    if timed_out:
        for p, r in zip(procs, res):
            if r is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for t in ths:
            t.join(10)
    return res, timed_out


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Workloads


class Site:
    def __init__(self, name, pages, links, delay, size, hosts, conc, per_host, timeout,
                 warc_level=0):
        self.name = name
        self.warc_level = warc_level
        self.pages = pages
        self.links = links
        self.delay = delay
        self.size = size
        self.hosts = hosts
        self.conc = conc
        self.per_host = per_host
        self.timeout = timeout
        self.bound = None
        self.barrier = None
        self.levels = None

    def fixture_args(self):
        return ["--s-hosts", str(self.hosts), "--s-pages", str(self.pages),
                "--s-links", str(self.links), "--s-delay", str(self.delay),
                "--s-size", str(self.size), "--s-seed", "1"]

    def title(self):
        return ("%d pages over %d hosts, %d links a page, delays %s, %d B, -c %d --per-host %d%s"
                % (self.pages, self.hosts, self.links,
                   "U(0,%d) ms fixed per page" % self.delay if self.delay else "none",
                   self.size, self.conc, self.per_host,
                   ", each process also --warc --warc-level %d" % self.warc_level
                   if self.warc_level else ""))

    def compute_bound(self, fixture):
        g = B.site_graph(fixture, self.fixture_args())
        fin, bound, barrier, levels = B.site_bounds(g)
        if len(fin) != self.pages:
            raise RuntimeError("site: %d of %d pages reachable" % (len(fin), self.pages))
        self.bound = bound / 1000.0
        self.barrier = barrier / 1000.0
        self.levels = levels

    def url(self, port, m):
        return "http://s%d.test:%d/s/%d" % (m % self.hosts, port, m)

    def options(self, fx):
        """What decides the crawl (stored in Redis when described)."""
        return ["-r", "-l", "inf", "--no-robots", "--span-hosts", "--domains", "test",
                "--dns-servers", "127.0.0.1:%d" % fx.dns, "-c", str(self.conc),
                "--per-host", str(self.per_host)]


def make_sites(a):
    q = a.quick
    sc = a.timeout_scale
    lat = Site("latency", 1000 if q else 5000, 5, 1000, 8192, 32, 2000, 2000, 0)
    cpu = Site("cpu", 5000 if q else 20000, 5, 0, 8192, 64, 64, 8, 0)
    mem = Site("memory", a.mem_urls or (5000 if q else 100000), 5, 0, 1024, 64, 64, 8, 0)
    # CPU-bound with the CPU in the crawlers: 64 KiB pages archived at
    # gzip level 6, so a page costs the crawler several times what it costs
    # the fixture and Redis, which share the same cores.
    arc = Site("archive", 2000 if q else 5000, 5, 0, 65536, 64, 64, 8, 0, warc_level=6)
    lat.compute_bound(a.fixture)
    lat.timeout = sc * max(60, 10 * lat.bound + 30)
    cpu.timeout = sc * max(60, cpu.pages / 100.0)
    mem.timeout = sc * max(120, mem.pages / 50.0)
    arc.timeout = sc * max(60, arc.pages / 20.0)
    return {"latency": lat, "cpu": cpu, "memory": mem, "archive": arc}


def verify(site, port, outs):
    """The union of the manifests against the site: every page once, 200."""
    want = {site.url(port, m) for m in range(site.pages)}
    urls = collections.Counter()
    ok = 0
    for d in outs:
        try:
            with open(os.path.join(d, "manifest.jsonl"), errors="replace") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    urls[rec.get("url")] += 1
                    if rec.get("status") == 200 and rec.get("url") in want:
                        ok += 1
        except OSError:
            pass
    files = 0
    for d in outs:
        for _, _, fs in os.walk(d):
            files += sum(1 for fn in fs if fn != "manifest.jsonl")
    uniq = len(set(urls) & want)
    return {"pages": uniq, "lines": sum(urls.values()),
            "dups": sum(n - 1 for n in urls.values() if n > 1),
            "missing": len(want - set(urls)), "extra": len(set(urls) - want),
            "ok200": ok, "files": files,
            "verified": uniq == site.pages and not (set(urls) - want)
            and sum(urls.values()) == site.pages and files == site.pages}


# --------------------------------------------------------------------------
# One run


class Bench:
    def __init__(self, a, tmp, disk):
        self.a = a
        self.tmp = tmp
        self.disk = disk
        self.redis = RedisServer(a.redis_server, tmp)
        self.r = Resp(self.redis.port)
        self.seq = 0
        self.problems = []
        self.pending_delete = []

    def close(self):
        self.r.close()
        self.redis.stop()

    def fresh_redis(self):
        self.r.cmd("FLUSHALL")
        self.r.cmd("CONFIG", "RESETSTAT")

    def outdir(self, fs, tag):
        base = self.tmp if fs == "tmpfs" else self.disk
        return tempfile.mkdtemp(prefix="out-%s-" % tag, dir=base)

    def describe(self, name, opts, urls, listfile=None):
        cmd = [self.a.crawler, "--redis", self.redis.url, "--crawl", name] + opts
        cmd += ["-i", listfile] if listfile else urls
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=300)
        wall = time.monotonic() - t0
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            raise RuntimeError("describe %s: exit %d: %s" % (name, p.returncode, err[-500:]))
        return wall, err.strip()

    def run(self, site, fs, variant, k, keep_outs=None, sampler=None):
        """variant: 0 = one process, N = N workers.  Returns a result dict."""
        self.seq += 1
        fx = B.Fixture(self.a.fixture, self.tmp, site.timeout + 120, dns_port=0,
                       extra=site.fixture_args())
        work = tempfile.mkdtemp(prefix="run-", dir=self.tmp)
        outs = []
        warcs = []    # beside the outputs, so verify() sees pages only
        res = {"site": site.name, "fs": fs, "variant": variant, "run": k}
        try:
            opts = site.options(fx)
            seed = site.url(fx.http, 0)
            n = max(1, variant)
            if variant:
                name = "b%d-%s-%s-%d" % (self.seq, site.name, fs, variant)
                self.fresh_redis()
                res["info0"] = self.r.info("memory")
                res["mem0"] = int(res["info0"]["used_memory"])
                res["describe_wall"], _ = self.describe(name, opts, [seed])
                self.r.cmd("CONFIG", "RESETSTAT")
                cmds = [[self.a.crawler, "--redis", self.redis.url, "--crawl", name, "-o"]
                        for _ in range(n)]
            else:
                cmds = [[self.a.crawler] + opts + ["-o"] for _ in range(n)]
            for i in range(n):
                outs.append(self.outdir(fs, "%s%d" % ("w" if variant else "one", i)))
                cmds[i].append(outs[-1])
                if site.warc_level:
                    warcs.append(self.outdir(fs, "warc%d" % i))
                    cmds[i] += ["--warc", os.path.join(warcs[-1], "a"),
                                "--warc-level", str(site.warc_level)]
                if not variant:
                    cmds[i].append(seed)
            errs = [os.path.join(work, "err%d" % i) for i in range(n)]
            if fs != "tmpfs":
                os.sync()
            fx0 = proc_cpu(fx.proc.pid)
            rd0 = self.redis.cpu()
            t0 = time.monotonic()
            procs = [start(c, e) for c, e in zip(cmds, errs)]
            if sampler:
                sampler.start()
            ends, timed_out = wait_all(procs, t0, site.timeout)
            if sampler:
                sampler.stop()
            t1 = max((e[2] for e in ends if e), default=time.monotonic())
            res["wall"] = t1 - t0
            res["cpu"] = sum(e[1] for e in ends if e)
            res["fx_cpu"] = proc_cpu(fx.proc.pid) - fx0
            res["redis_cpu"] = self.redis.cpu() - rd0
            res["rcs"] = [e[0] if e else None for e in ends]
            res["timed_out"] = timed_out
            st = fx.stats()
            res["requests"] = st.get("requests")
            texts = [read_text(e) for e in errs]
            if self.a.verbose:
                for i, t in enumerate(texts):
                    for ln in t.strip().splitlines()[-3:]:
                        log("    %s %d: %s" % ("worker" if variant else "crawler", i, ln))
            lines = [REDIS_LINE.search(t) for t in texts]
            if variant:
                got = [[int(x or 0) for x in m.groups()] if m else None for m in lines]
                res["redis_client"] = got
                cs = command_stats(self.r)
                res["server_cmds"] = sum(c for c, _ in cs.values())
                # A script's usec includes the commands inside it: only
                # top-level calls (scripts, and what is never called from
                # one) are summed.
                script = [(c, u) for name, (c, u) in cs.items()
                          if name.split("|")[0] in ("eval", "evalsha", "fcall")]
                res["scripts"] = sum(c for c, _ in script)
                res["server_usec"] = sum(u for _, u in script)
                res["top_cmds"] = sorted(cs.items(), key=lambda kv: -kv[1][0])[:6]
                res["total_cmds"] = int(self.r.info("stats")["total_commands_processed"])
                res["info1"] = self.r.info("memory")
                res["mem1"] = int(res["info1"]["used_memory"])
                if keep_outs is not None:
                    res["by_kind"] = memory_by_kind(self.r)
            res.update(verify(site, fx.http, outs))
            bad = [i for i, e in enumerate(ends) if not e or e[0] != 0]
            if bad or timed_out or not res["verified"] or (variant and None in res["redis_client"]):
                msg = ("%s %s %s run %d: exit %s%s, %d/%d pages, %d lines, %d dups, %d missing, "
                       "%d extra, %d files" % (
                           site.name, fs, label(variant), k + 1, res["rcs"],
                           " (timed out after %.0f s)" % site.timeout if timed_out else "",
                           res["pages"], site.pages, res["lines"], res["dups"], res["missing"],
                           res["extra"], res["files"]))
                for i, t in enumerate(texts):
                    if i in bad or not lines[i] or not res["verified"]:
                        msg += "\n    stderr of %s %d: %s" % (
                            "worker" if variant else "crawler", i,
                            " | ".join(t.strip().splitlines()[-4:])[-600:])
                log("workers-bench: PROBLEM " + msg)
                self.problems.append(msg)
        finally:
            fx.stop()
            shutil.rmtree(work, ignore_errors=True)
            if fs == "tmpfs":
                for d in outs + warcs:
                    shutil.rmtree(d, ignore_errors=True)
            else:
                # Deleting a tree on ext4 just before a run would be charged
                # to it: disk outputs go at the end of the block, then sync.
                self.pending_delete += outs + warcs
        return res


def label(variant):
    return "one process" if variant == 0 else "%d worker%s" % (variant, "s" if variant > 1 else "")


class MemSampler:
    """used_memory every 200 ms while a crawl runs (its peak: queues grow
    mid-crawl)."""

    def __init__(self, port):
        self.port = port
        self.peak = 0
        self.th = None
        self.stop_ev = threading.Event()

    def start(self):
        def loop():
            r = Resp(self.port)
            try:
                while not self.stop_ev.wait(0.2):
                    self.peak = max(self.peak, used_memory(r))
            finally:
                r.close()
        self.th = threading.Thread(target=loop, daemon=True)
        self.th.start()

    def stop(self):
        self.stop_ev.set()
        self.th.join(5)


# --------------------------------------------------------------------------
# Report helpers


def med(rs, key):
    xs = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def client_sum(r, i):
    return sum(x[i] for x in r["redis_client"] if x)


def fmt(x, spec="%.2f"):
    return "" if x is None else spec % x


def memory_section(bench, site):
    """(a) N seeds described, nothing fetched: bytes per queued URL;
    (b) the N-page site crawled by 2 workers from one seed: bytes per seen
    URL.  Output on tmpfs."""
    a = bench.a
    out = {}
    fx = B.Fixture(a.fixture, bench.tmp, site.timeout + 120, dns_port=0,
                   extra=site.fixture_args())
    lst = os.path.join(bench.tmp, "seeds.txt")
    try:
        with open(lst, "w") as f:
            f.write("".join(site.url(fx.http, m) + "\n" for m in range(site.pages)))
        bench.fresh_redis()
        i0 = bench.r.info("memory")
        wall, msg = bench.describe("memq", site.options(fx), [], listfile=lst)
        i1 = bench.r.info("memory")
        m0, m1 = int(i0["used_memory"]), int(i1["used_memory"])
        out["queued"] = {"urls": site.pages, "delta": m1 - m0, "describe_wall": wall,
                         "msg": msg, "by_kind": memory_by_kind(bench.r),
                         "empty": m0, "parts": mem_parts(i0, i1)}
        log("workers-bench: memory: %d seeds described in %.2f s, used_memory +%d B"
            % (site.pages, wall, m1 - m0))
    finally:
        fx.stop()
        try:
            os.unlink(lst)
        except OSError:
            pass
    sampler = MemSampler(bench.redis.port)
    r = bench.run(site, "tmpfs", 2, 0, keep_outs=True, sampler=sampler)
    out["seen"] = {"urls": r["pages"], "delta": r["mem1"] - r["mem0"],
                   "peak": max(0, sampler.peak - r["mem0"]), "by_kind": r["by_kind"],
                   "wall": r["wall"], "verified": r["verified"], "empty": r["mem0"],
                   "parts": mem_parts(r["info0"], r["info1"])}
    log("workers-bench: memory: %d URLs crawled by 2 workers in %.2f s, used_memory +%d B "
        "(peak +%d B)" % (r["pages"], r["wall"], r["mem1"] - r["mem0"], out["seen"]["peak"]))
    return out


MEM_PARTS = ("used_memory_dataset", "used_memory_overhead", "used_memory_scripts",
             "used_memory_vm_eval", "used_memory_lua", "mem_fragmentation_bytes")


def mem_parts(i0, i1):
    """Deltas of INFO memory's parts: where used_memory went (dataset =
    the keys' data; overhead = dictionaries, client buffers, script cache)."""
    out = {}
    for k in MEM_PARTS:
        if k in i0 and k in i1:
            out[k] = int(i1[k]) - int(i0[k])
    return out


def git_line():
    def g(*args):
        try:
            return subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    dirty = g("status", "--porcelain", "--", "crawler")
    return "%s%s" % (g("log", "-1", "--format=%h %s", "--", "crawler")[:110],
                     " (+ local changes to crawler/)" if dirty else "")


def report(bench, sites, results, mem, header):
    a = bench.a
    L = ["# Many workers, one crawl: benchmark%s" % (" (quick)" if a.quick else ""), ""]
    L += header + [""]
    by = collections.defaultdict(list)
    for r in results:
        by[(r["site"], r["fs"], r["variant"])].append(r)
    fss = a.fs.split(",")
    wls = [w for w in a.workloads.split(",") if w != "memory"]

    def pps(key):
        rs = by.get(key)
        if not rs:
            return None
        return statistics.median(r["pages"] / r["wall"] for r in rs if r["wall"] > 0)

    # Targets
    T = []
    for fs in fss:
        if "latency" in wls:
            s = sites["latency"]
            for v in [0] + a.workers:
                w = med(by.get(("latency", fs, v), []), "wall")
                if w is not None:
                    T.append("latency [%s] %s: %.2f s = %.2fx the %.2f s bound (target <= 1.15x) "
                             "-> %s" % (fs, label(v), w, w / s.bound, s.bound,
                                        "met" if w / s.bound <= 1.15 else "NOT met"))
        for cw in ("cpu", "archive"):
            if cw not in wls or 2 not in a.workers:
                continue
            p1 = pps((cw, fs, 1))
            p2 = pps((cw, fs, 2))
            p0 = pps((cw, fs, 0))
            if p1 and p2:
                T.append("%s [%s] 2 workers: %.0f pages/s = %.2fx 1 worker's %.0f, %.2fx one "
                         "process's %s (target >= 1.7x) -> %s"
                         % (cw, fs, p2, p2 / p1, p1, p2 / p0 if p0 else 0, fmt(p0, "%.0f"),
                            "met" if p2 / p1 >= 1.7 else "NOT met"))
    for w in wls:
        rts = [client_sum(r, 0) / r["pages"] for r in results
               if r["site"] == w and r["variant"] and r.get("redis_client") and r["pages"]]
        if rts:
            T.append("%s: Redis round trips per page over the runs with workers: mean %.3f, "
                     "worst %.3f (target < 1) -> %s" % (w, statistics.mean(rts), max(rts),
                                                       "met" if max(rts) < 1 else "NOT met"))
    if T:
        L += ["## Targets (issue 11; reported, never asserted)", ""] + ["- " + t for t in T] + [""]

    for w in wls:
        s = sites[w]
        L += ["## %s: %s" % (w, s.title()), ""]
        if w == "latency":
            L += ["bound = %.2f s: the critical path (bench.py's site_bounds: every page "
                  "started the moment its first parent is done); a crawl that waits for "
                  "each depth level needs %.2f s over %d levels." % (s.bound, s.barrier,
                                                                   s.levels), ""]
        L += ["Medians of %d run(s). Wall = first start to last exit (the describe step, "
              "one seed, is apart: `describe s`). CPU = user+sys of the crawler "
              "processes (wait4); fixture and redis-server CPU beside it. x one process / "
              "x 1 worker = pages/s ratios. verified = every page once in the union of the "
              "manifests, status 200, one file each. CPU ceiling = the machine's %d cores over "
              "the CPU a page costs crawler + fixture + redis-server together: the pages/s a "
              "CPU-bound crawl cannot pass here." % (a.runs, os.cpu_count()), "",
              "| output | crawl | wall s (min-max) | pages/s | x one process | x 1 worker |%s "
              "crawler CPU ms/page | fixture CPU ms/page | redis CPU ms/page | CPU ceiling pages/s | "
              "describe s | fetches | pages per worker | verified |" % (
                  " wall / bound |" if w == "latency" else ""),
              "|---|---|---|---|---|---|%s---|---|---|---|---|---|---|---|" % (
                  "---|" if w == "latency" else "")]
        for fs in fss:
            for v in [0] + a.workers:
                rs = by.get((w, fs, v))
                if not rs:
                    continue
                wall = med(rs, "wall")
                p = pps((w, fs, v))
                p0 = pps((w, fs, 0))
                p1 = pps((w, fs, 1))
                pages = max(r["pages"] for r in rs)
                per = ""
                if v:
                    shares = [x[4] for r in rs for x in r["redis_client"] if x]
                    per = "%d-%d" % (min(shares), max(shares)) if shares else "?"
                cells = [fs, label(v), "%.2f (%.2f-%.2f)" % (wall, min(r["wall"] for r in rs),
                                                             max(r["wall"] for r in rs)),
                         "%.0f" % p, fmt(p / p0 if p0 else None), fmt(p / p1 if p1 else None)]
                if w == "latency":
                    cells.append("%.2f" % (wall / s.bound))
                tot = (med(rs, "cpu") + med(rs, "fx_cpu") + med(rs, "redis_cpu")) / pages
                cells += ["%.3f" % (med(rs, "cpu") / pages * 1e3),
                          "%.3f" % (med(rs, "fx_cpu") / pages * 1e3),
                          "%.3f" % (med(rs, "redis_cpu") / pages * 1e3),
                          "%.0f" % (os.cpu_count() / tot) if tot > 0 else "",
                          fmt(med(rs, "describe_wall")),
                          "%d" % max(r["requests"] or 0 for r in rs), per,
                          "%d/%d" % (sum(r["verified"] for r in rs), len(rs))]
                L.append("| " + " | ".join(cells) + " |")
        L += [""]
        L += ["Redis costs per page (pages = URLs of the site; client side from each worker's "
              "`crawler: redis:` line, summed; server side from INFO commandstats: every "
              "command Redis ran, those inside scripts included; script us = microseconds Redis "
              "spent in the workers' scripts).", "",
              "| output | crawl | round trips | round trips/s | client commands | bytes out | "
              "bytes in | server commands | script calls | script us | most run (calls/page) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
        for fs in fss:
            for v in a.workers:
                rs = [r for r in by.get((w, fs, v), []) if r.get("redis_client")]
                if not rs:
                    continue

                def per(f):
                    return statistics.median(f(r) / r["pages"] for r in rs if r["pages"])
                top = collections.Counter()
                for r in rs:
                    for name, (c, _) in r["top_cmds"]:
                        top[name] += c / r["pages"] / len(rs)
                L.append("| %s | %s | %.3f | %.0f | %.3f | %.0f | %.0f | %.2f | %.3f | %.1f | %s |"
                         % (fs, label(v), per(lambda r: client_sum(r, 0)),
                            statistics.median(client_sum(r, 0) / r["wall"] for r in rs),
                            per(lambda r: client_sum(r, 1)), per(lambda r: client_sum(r, 2)),
                    per(lambda r: client_sum(r, 3)), per(lambda r: r["server_cmds"]),
                    per(lambda r: r["scripts"]), per(lambda r: r["server_usec"]),
                    ", ".join("%s %.2f" % (n, c) for n, c in top.most_common(4))))
        L += [""]

    if mem:
        q, sn = mem["queued"], mem["seen"]

        def kinds(bk):
            return ", ".join("%s %d keys %.1f MB" % (kd, n, b / 1e6)
                             for kd, (n, b) in sorted(bk.items(), key=lambda kv: -kv[1][1]))

        def kind_b(bk, *names):
            return sum(bk.get(n, (0, 0))[1] for n in names)
        s = sites["memory"]
        L += ["## Redis memory per URL", "",
              "INFO memory used_memory minus the empty server's (%d B); by kind = MEMORY USAGE "
              "(SAMPLES 0) of every key, summed. Site: %s." % (q["empty"], s.title()), "",
              "| measure | URLs | used_memory delta | bytes / URL | seen set bytes / URL | "
              "queue bytes / URL | by kind |",
              "|---|---|---|---|---|---|---|",
              "| queued: %d seeds described (-i), nothing fetched (describe %.2f s) | %d | %.1f MB "
              "| %.0f | %.0f | %.0f | %s |" % (
                  q["urls"], q["describe_wall"], q["urls"], q["delta"] / 1e6,
                  q["delta"] / q["urls"], kind_b(q["by_kind"], "seen") / q["urls"],
                  kind_b(q["by_kind"], "q") / q["urls"], kinds(q["by_kind"])),
              "| seen: the whole site crawled by 2 workers from one seed (%.2f s, %s) | %d | "
              "%.1f MB (peak %.1f MB) | %.0f (peak %.0f) | %.0f | | %s |" % (
                  sn["wall"], "verified" if sn["verified"] else "NOT verified", sn["urls"],
                  sn["delta"] / 1e6, sn["peak"] / 1e6, sn["delta"] / max(1, sn["urls"]),
                  sn["peak"] / max(1, sn["urls"]), kind_b(sn["by_kind"], "seen") /
                  max(1, sn["urls"]), kinds(sn["by_kind"])), "",
              "INFO memory deltas (bytes / URL): queued: %s; seen: %s." % (
                  ", ".join("%s %+.0f" % (k[len("used_memory_"):] if k.startswith("used_memory_")
                                          else k, v / q["urls"])
                            for k, v in q["parts"].items()),
                  ", ".join("%s %+.0f" % (k[len("used_memory_"):] if k.startswith("used_memory_")
                                          else k, v / max(1, sn["urls"]))
                            for k, v in sn["parts"].items())), "",
              "A queued URL costs its record in `q:S` plus its seen entry; describing with "
              "-i also keeps every seed in `seeds` (the scope), which a crawl from one seed "
              "does not pay.", ""]

    # Scale-out estimate from the measured per-page costs.
    best = None
    for fs in fss:
        for v in sorted(a.workers, reverse=True):
            rs = [r for r in by.get(("cpu", fs, v), []) if r.get("redis_client") and r["pages"]]
            if rs and best is None:
                best = (fs, v, rs)
    if best:
        fs, v, rs = best
        rate = 10000.0

        def per(f):
            return statistics.median(f(r) / r["pages"] for r in rs)
        rt, sc, us = per(lambda r: client_sum(r, 0)), per(lambda r: r["server_cmds"]), \
            per(lambda r: r["server_usec"])
        by_io = per(lambda r: client_sum(r, 2) + client_sum(r, 3))
        rcpu = per(lambda r: r["redis_cpu"])
        L += ["## At 10,000 pages/s (estimated from the cpu workload, %s, %s)" % (fs, label(v)),
              "",
              "- round trips: %.0f/s; commands Redis runs: %.0f/s (scripts' inner calls "
              "included); network to and from Redis: %.1f MB/s" % (rt * rate, sc * rate,
                                                                  by_io * rate / 1e6),
              "- Redis busy time: %.0f ms/s in scripts (commandstats), %.0f ms/s of CPU "
              "(its process, event loop and I/O included) = %.0f%% of the one core a Redis "
              "instance uses" % (us * rate / 1e3, rcpu * rate * 1e3, rcpu * rate * 100)]
        if mem:
            per_seen = mem["seen"]["delta"] / max(1, mem["seen"]["urls"])
            L += ["- memory: %.0f bytes per seen URL -> %.1f GB for 100 million URLs"
                  % (per_seen, per_seen * 1e8 / 1e9)]
        L += [""]
    if bench.problems:
        L += ["## Problems", ""] + ["- " + p.replace("\n", "\n  ") for p in bench.problems] + [""]
    return "\n".join(L) + "\n"


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crawler", default=os.path.join(ROOT, "build-bench", "crawler", "crawler"))
    ap.add_argument("--fixture", default=os.path.join(ROOT, "build-bench", "tests", "fixture",
                                                      "crawler-fixture"))
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or
                    "/usr/bin/redis-server")
    ap.add_argument("--runs", type=int, default=None, help="runs of each crawl (3; quick 1)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (latency 1,000 pages, cpu 5,000, memory 5,000), 1 run")
    ap.add_argument("--fs", default="tmpfs,disk")
    ap.add_argument("--workloads", default="latency,cpu,archive,memory")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--mem-urls", type=int, default=None,
                    help="URLs of the memory measurement (100,000; quick 5,000)")
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    ap.add_argument("--disk", default="/var/tmp")
    ap.add_argument("--timeout-scale", type=float, default=1.0)
    ap.add_argument("--output", help="also write the report to this file")
    ap.add_argument("--verbose", action="store_true",
                    help="log each crawler's last lines (summary, Redis costs) after each run")
    a = ap.parse_args()
    ARGS = a
    if a.runs is None:
        a.runs = 1 if a.quick else 3
    a.workers = [int(x) for x in a.workers.split(",") if x]
    for exe in (a.crawler, a.fixture, a.redis_server):
        if not os.access(exe, os.X_OK):
            sys.exit("workers-bench: %s is not there (meson setup build-bench --buildtype=release "
                     "&& ninja -C build-bench; apt-get install redis-server)" % exe)
    h = subprocess.run([a.crawler, "--help"], capture_output=True, text=True).stdout
    if "--redis" not in h:
        sys.exit("workers-bench: %s has no --redis" % a.crawler)
    nofile = B.raise_nofile()
    tmp = tempfile.mkdtemp(prefix="workers-bench-", dir=a.tmp)
    disk = tempfile.mkdtemp(prefix="workers-bench-", dir=a.disk)
    try:
        sites = make_sites(a)
        bench = Bench(a, tmp, disk)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)
        raise
    ver = subprocess.run([a.crawler, "--version"], capture_output=True, text=True).stdout
    rver = subprocess.run([a.redis_server, "--version"], capture_output=True, text=True).stdout
    header = ["- command: `%s`" % " ".join(["tests/bench/workers_bench.py"] + sys.argv[1:]),
              "- crawler: %s; binary %s; last commit to crawler/: %s" % (
                  B.first_line(ver), a.crawler, git_line()),
              "- machine: %d CPUs, RLIMIT_NOFILE %d, load at start %.2f; %s" % (
                  os.cpu_count(), nofile, B.load1(), rver.strip()[:60]),
              "- Redis: one private redis-server on 127.0.0.1 (same machine, so it shares the "
              "%d cores with the workers and the fixture; started by %s), its directory on "
              "tmpfs, persistence off; FLUSHALL + CONFIG RESETSTAT before each run"
              % (os.cpu_count(), bench.redis.via),
              "- outputs: tmpfs under %s, disk under %s (%s); sync() before each disk run" % (
                  tmp, disk, B.fs_type(disk))]
    results = []
    mem = None
    try:
        for w in a.workloads.split(","):
            if w == "memory":
                try:
                    mem = memory_section(bench, sites["memory"])
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    log("workers-bench: PROBLEM memory: %s" % e)
                    bench.problems.append("memory: %s" % e)
                continue
            s = sites[w]
            log("workers-bench: %s: %s%s" % (w, s.title(), ", bound %.2f s" % s.bound
                                             if s.bound else ""))
            for fs in a.fs.split(","):
                for k in range(a.runs):
                    for v in [0] + a.workers:
                        try:
                            r = bench.run(s, fs, v, k)
                        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                            msg = "%s %s %s run %d: %s" % (w, fs, label(v), k + 1, e)
                            log("workers-bench: PROBLEM " + msg)
                            bench.problems.append(msg)
                            continue
                        results.append(r)
                        extra = ""
                        if v and r.get("redis_client"):
                            extra = ", %.3f round trips/page, %.2f server cmds/page" % (
                                client_sum(r, 0) / max(1, r["pages"]),
                                r["server_cmds"] / max(1, r["pages"]))
                        log("workers-bench: %s %s %s run %d: %.2f s, %.0f pages/s, %.2f s CPU, "
                            "%d/%d pages%s%s" % (w, fs, label(v), k + 1, r["wall"],
                                                 r["pages"] / r["wall"], r["cpu"], r["pages"],
                                                 s.pages, extra,
                                                 "" if r["verified"] else " NOT VERIFIED"))
                for d in bench.pending_delete:
                    shutil.rmtree(d, ignore_errors=True)
                bench.pending_delete = []
                if fs != "tmpfs":
                    os.sync()
    finally:
        kill_started()
        bench.close()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)
    text = report(bench, sites, results, mem, header)
    sys.stdout.write(text)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
