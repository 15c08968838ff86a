#!/usr/bin/env python3
"""Benchmark driver: the crawler against curl -Z, xargs+curl, wget2, aria2c,
Scrapy, Tornado and a raw epoll client, on loopback workloads served by the
test fixture (tests/fixture/).  See tests/bench/README.md.

Every run gets a fresh fixture (so its /_stats counters - requests, peak
concurrency, DNS queries - belong to that run alone) and a fresh output
directory, is measured with wait4() (wall, user+sys CPU of the whole process
tree, peak RSS), is cut off at a timeout, and has its output verified
afterwards: every expected file present and byte-exact against the body the
fixture says it served (`crawler-fixture --print-bodies`), for ALL files, not
a sample.  Results go to stdout and to a Markdown file.

Python 3 standard library only.  Nothing here is a pass/fail test: the
targets are printed next to the numbers, never asserted.
"""

import argparse
import copy
import hashlib
import heapq
import json
import os
import random
import re
import resource
import shutil
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYS_PY = "/usr/bin/python3"  # Debian's, where python3-scrapy/-tornado live
CURL_PARALLEL_MAX = 300  # curl clamps --parallel-max to this (tool_getparam.c)
APT_PACKAGES = ["time", "curl", "wget2", "aria2", "wrk", "python3-tornado",
                "python3-scrapy", "strace", "valgrind", "linux-perf"]

ALL_TOOLS = ["crawler", "raw", "curl", "xargs", "wget2", "aria2c", "scrapy",
             "tornado"]
ALL_WORKLOADS = ["latency", "recursive", "dns", "throughput", "memory", "scaling"]
# Where a run's output directory lives: tmpfs (--tmp), the disk (--disk), or
# the disk while another program's 1 GiB of writes is still dirty (latency
# only, issue 9's target).
ALL_FS = ["tmpfs", "disk", "dirty"]
FS_LABEL = {"tmpfs": "tmpfs", "disk": "disk", "dirty": "disk + 1 GiB dirty"}
DIRTY_MIB = 1024
# Tools that crawl recursively; the others have no recursive mode.
RECURSIVE_TOOLS = ["crawler", "wget2"]
LABEL = {
    "crawler": "crawler",
    "raw": "rawclient (ideal)",
    "curl": "curl -Z",
    "xargs": "xargs -P + curl",
    "wget2": "wget2",
    "aria2c": "aria2c",
    "scrapy": "Scrapy",
    "tornado": "Tornado (simple client)",
    "wrk": "wrk (ceiling)",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Environment


def raise_nofile():
    """Soft = hard = as high as we may (root may raise the hard limit up to
    fs.nr_open).  Children inherit it.  Returns the resulting limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard
    try:
        with open("/proc/sys/fs/nr_open") as f:
            nr_open = int(f.read())
        want = max(hard, min(nr_open, 1 << 20))
    except OSError:
        pass
    for lim in (want, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))
            return lim
        except (ValueError, OSError):
            continue
    return soft


def cmd_out(cmd, timeout=20):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.SubprocessError) as e:
        return "error: %s" % e


def first_line(s):
    return s.splitlines()[0] if s else ""


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_idle(max_wait, threshold=1.5):
    """The machine has few cores and other jobs: do not start measuring while
    something heavy runs.  Waits up to max_wait seconds; returns the load."""
    t0 = time.monotonic()
    ld = load1()
    while ld >= threshold and time.monotonic() - t0 < max_wait:
        log("bench: load %.2f >= %.1f, waiting for the machine to be idle" % (ld, threshold))
        time.sleep(15)
        ld = load1()
    return ld


def machine_line(args, nofile):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    vers = {
        "crawler": " / ".join(cmd_out([args.crawler, "-V"]).splitlines()),
        "curl": " ".join(first_line(cmd_out(["curl", "--version"])).split()[:2]),
        "wget2": first_line(cmd_out(["wget2", "--version"])).replace(" - multithreaded metalink/file/website downloader", ""),
        "aria2c": first_line(cmd_out(["aria2c", "--version"])),
        "wrk": first_line(cmd_out(["wrk", "--version"])).split(" Copyright")[0],
        "python": first_line(cmd_out([SYS_PY, "--version"])),
        "scrapy": first_line(cmd_out([SYS_PY, "-c", "import scrapy; print(scrapy.__version__)"])),
        "tornado": first_line(cmd_out([SYS_PY, "-c", "import tornado; print(tornado.version)"])),
    }
    rev = cmd_out(["git", "-C", ROOT, "log", "-1", "--format=%h %s", "--", "crawler"])
    dirty = cmd_out(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                     "--", "crawler"])
    lines = [
        "- crawler source: last commit to crawler/ %s%s; binary %s%s" % (
            rev, " + local changes" if dirty else "", args.crawler,
            " (rebuilt by ninja first)" if args.built else " (not rebuilt: --no-build)"),
        "- machine: %d CPUs (%s), %.1f GiB RAM, kernel %s, RLIMIT_NOFILE %d, load at start %.2f"
        % (os.cpu_count(), cpu, mem_gb, os.uname().release, nofile, load1()),
        "- tools: " + "; ".join("%s: %s" % (k, v) for k, v in vers.items()),
    ]
    return lines


def fs_type(path):
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, typ = line.split()[:3]
                if (path + "/").startswith(mnt.rstrip("/") + "/") and len(mnt) >= len(best):
                    best, kind = mnt, typ
    except OSError:
        pass
    return kind


def install_peers():
    log("bench: apt-get install -y " + " ".join(APT_PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y"] + APT_PACKAGES, env=env)
    if r.returncode != 0:
        # linux-perf may be missing from the mirror; it only feeds the profile.
        subprocess.run(["apt-get", "install", "-y"] + APT_PACKAGES[:-1], env=env)


def build_rawclient(tmp):
    exe = os.path.join(tmp, "rawclient")
    src = os.path.join(HERE, "rawclient.c")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-o", exe, src],
                       capture_output=True, text=True)
    if r.returncode != 0:
        log("bench: building rawclient failed:\n" + r.stderr)
        return None
    return exe


def python_module_ok(mod):
    if not os.access(SYS_PY, os.X_OK):
        return False
    r = subprocess.run([SYS_PY, "-c", "import " + mod], capture_output=True)
    return r.returncode == 0


def tool_availability(args):
    """tool -> None when usable, else the reason it is skipped."""
    why = {}
    for t in ALL_TOOLS:
        why[t] = None
    why["crawler"] = None if os.access(args.crawler, os.X_OK) else "not built: " + args.crawler
    if not args.rawclient:
        why["raw"] = "rawclient.c did not build"
    for t, exe in (("curl", "curl"), ("xargs", "curl"), ("wget2", "wget2"),
                   ("aria2c", "aria2c")):
        if shutil.which(exe) is None:
            why[t] = "%s not installed (apt-get install %s, or run with --install)" % (
                exe, {"aria2c": "aria2"}.get(exe, exe))
    if shutil.which("xargs") is None:
        why["xargs"] = "xargs not installed"
    if not python_module_ok("scrapy"):
        why["scrapy"] = "python3-scrapy not installed for %s (--install)" % SYS_PY
    if not python_module_ok("tornado"):
        why["tornado"] = "python3-tornado not installed for %s (--install)" % SYS_PY
    return why


# --------------------------------------------------------------------------
# Fixture


class Fixture:
    """One crawler-fixture process on ephemeral ports (DNS on a given port)."""

    def __init__(self, exe, tmp, lifetime, dns_port=None, dns_delay=0, extra=()):
        self.dir = tempfile.mkdtemp(prefix="fx-", dir=tmp)
        pf = os.path.join(self.dir, "ports")
        cmd = [exe, "--quiet", "--port-file", pf, "--lifetime", str(int(lifetime))]
        cmd += list(extra)
        if dns_port is not None:
            cmd += ["--dns-port", str(dns_port), "--dns-delay", str(dns_delay)]
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        self.http = self.dns = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(pf):
                with open(pf) as f:
                    kv = dict(l.split("=", 1) for l in f.read().split())
                self.http = int(kv["http"])
                self.dns = int(kv["dns"]) if "dns" in kv else None
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        self.err.seek(0)
        msg = self.err.read().strip()
        self.stop()
        raise RuntimeError("fixture did not start: " + (msg or "no port file"))

    def stats(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/_stats" % self.http, timeout=20) as r:
                return json.loads(r.read())
        except (OSError, ValueError) as e:
            log("bench: /_stats failed: %s" % e)
            return {}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def dns_port_53_usable(args, tmp):
    """glibc's resolver and aria2c's --async-dns-server only speak to port
    53, so the DNS workload's fixture binds 127.0.0.1:53 when it can."""
    try:
        fx = Fixture(args.fixture, tmp, 5, dns_port=53)
    except RuntimeError as e:
        return "fixture cannot bind 127.0.0.1:53 (%s)" % e
    fx.stop()
    r = subprocess.run(["unshare", "-m", "sh", "-c", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot make a private mount namespace for resolv.conf (%s)" % r.stderr.strip()
    return None


# --------------------------------------------------------------------------
# Workloads


class Workload:
    """A list of (host, target) pairs with their delays, plus how to run it.

    conc: transfers in flight for the tools that take any number (crawler,
    raw client, aria2c, Scrapy, Tornado); curl -Z is capped at 300 and
    xargs at --xargs-procs; wget2 gets its best thread count."""

    def __init__(self, name, key, items, delays, size, conc, per_host, timeout,
                 dns_delay=None, title=""):
        self.name = name  # section name: latency, dns, ...
        self.base = key  # id without the file system: scaling-10000 ...
        self.fs = "tmpfs"  # where the output goes: tmpfs, disk, dirty
        self.key = key  # unique id: scaling-10000/disk ...
        self.items = items  # [(host, target)]
        self.delays = delays  # ms, one per item
        self.size = size
        self.conc = conc
        self.per_host = per_host
        self.timeout = timeout
        self.dns_delay = dns_delay
        self.title = title
        self.expected = None  # [(len, sha1)] filled by expect()
        self.fixture_args = []  # extra crawler-fixture options (the site's)
        self.start = None  # recursive: the seed's target; items are what it reaches
        self.bound = None  # recursive: critical-path bound, s
        self.barrier = None  # recursive: sum of each depth level's slowest page, s
        self.levels = None
        self.site_delay = None  # recursive: {page: delay ms}

    def on(self, fs):
        """This workload with its output on fs (same items and bodies)."""
        w = copy.copy(self)
        w.fs = fs
        w.key = "%s/%s" % (self.base, fs)
        return w

    @property
    def n(self):
        return len(self.items)

    def little_bound(self, conc):
        """Wall-time bound from Little's law: N x mean delay / concurrency,
        and never less than the slowest page (plus the DNS delay)."""
        if not self.delays:
            return 0.0
        mean = statistics.mean(self.delays) / 1000.0
        slowest = max(self.delays) / 1000.0 + (self.dns_delay or 0) / 1000.0
        return max(slowest, self.n * mean / max(1, conc))

    def urls(self, port):
        return ["http://%s:%d%s" % (h, port, t) for h, t in self.items]


def page_target(n, delay, size):
    if delay > 0:
        return "/p/%d?d=%d&s=%d" % (n, delay, size)
    return "/p/%d?s=%d" % (n, size)


def make_delay_workload(name, key, n, max_delay, size, conc, per_host, timeout, rng,
                        title, fixed_delay=None):
    items, delays = [], []
    for i in range(n):
        d = fixed_delay if fixed_delay is not None else rng.randint(0, max_delay)
        items.append(("127.0.0.1", page_target(i + 1, d, size)))
        delays.append(d)
    return Workload(name, key, items, delays, size, conc, per_host, timeout, title=title)


def make_dns_workload(hosts, per, max_delay, size, dns_delay, timeout, rng):
    items, delays = [], []
    n = 0
    for h in range(hosts):
        host = "h%d.test" % (h + 1)
        for _ in range(per):
            n += 1
            d = rng.randint(0, max_delay)
            items.append((host, page_target(n, d, size)))
            delays.append(d)
    # Interleave hosts so no tool is helped or hurt by the list's order.
    order = list(range(len(items)))
    rng.shuffle(order)
    items = [items[i] for i in order]
    delays = [delays[i] for i in order]
    return Workload("dns", "dns", items, delays, size, len(items), max(per, 16), timeout,
                    dns_delay=dns_delay,
                    title="%d hosts x %d URLs, DNS answers after %d ms, delays U(0,%d) ms, %d B"
                    % (hosts, per, dns_delay, max_delay, size))


def site_graph(fixture_exe, args):
    """The latency site's graph from `crawler-fixture --print-site`:
    {page: (delay_ms, [links])}."""
    r = subprocess.run([fixture_exe] + args + ["--print-site"], capture_output=True,
                       text=True, check=True)
    g = {}
    for line in r.stdout.splitlines():
        f = [int(x) for x in line.split()]
        g[f[0]] = (f[1], f[2:])
    return g


def site_bounds(g, seed=0):
    """Critical-path bound of a recursive crawl of g from seed: a page starts
    the moment its FIRST parent is done (earliest finish = min over parents
    of the parent's finish + the page's delay; Dijkstra from the seed,
    finish(seed) = delay(seed)); the bound is the latest finish.  Also the
    time a crawler needs that waits for each depth level to end before the
    next starts: the sum over levels of the level's slowest page.  Returns
    (finish {page: ms}, bound ms, barrier ms, levels)."""
    fin = {seed: g[seed][0]}
    heap = [(fin[seed], seed)]
    done = set()
    while heap:
        t, n = heapq.heappop(heap)
        if n in done:
            continue
        done.add(n)
        for m in g[n][1]:
            tm = t + g[m][0]
            if m not in fin or tm < fin[m]:
                fin[m] = tm
                heapq.heappush(heap, (tm, m))
    depth = {seed: 0}
    order = [seed]
    for n in order:
        for m in g[n][1]:
            if m not in depth:
                depth[m] = depth[n] + 1
                order.append(m)
    slowest = {}
    for n, d in depth.items():
        slowest[d] = max(slowest.get(d, 0), g[n][0])
    return fin, max(fin.values()), sum(slowest.values()), len(slowest)


def make_recursive_workload(fixture_exe, pages, links, max_delay, size, seed, conc, timeout):
    """A recursive crawl of the fixture's latency site from /s/0: items are
    the pages the seed reaches (all of them, by the site's n -> n+1 link)."""
    args = ["--s-pages", str(pages), "--s-links", str(links), "--s-delay", str(max_delay),
            "--s-seed", str(seed), "--s-size", str(size)]
    g = site_graph(fixture_exe, args)
    fin, bound, barrier, levels = site_bounds(g)
    order = sorted(fin)
    wl = Workload("recursive", "recursive", [("127.0.0.1", "/s/%d" % n) for n in order],
                  [g[n][0] for n in order], size, conc, conc, timeout,
                  title="%d-page site from /s/0, %d links a page, delays U(0,%d) ms fixed per "
                  "page (seed %d), %d B" % (pages, links, max_delay, seed, size))
    wl.fixture_args = args
    wl.site_delay = {n: g[n][0] for n in order}
    wl.start = "/s/0"
    wl.bound = bound / 1000.0
    wl.barrier = barrier / 1000.0
    wl.levels = levels
    return wl


def expect(wl, fixture_exe):
    """(length, sha1) of every body the fixture serves for wl, from
    `crawler-fixture --print-bodies HOST` (bodies depend on host and target
    only, not the port)."""
    by_host = {}
    for i, (h, t) in enumerate(wl.items):
        by_host.setdefault(h, []).append((i, t))
    out = [None] * wl.n
    for h, lst in by_host.items():
        r = subprocess.run([fixture_exe] + wl.fixture_args + ["--print-bodies", h],
                           input=("".join(t + "\n" for _, t in lst)).encode(),
                           capture_output=True, check=True)
        buf, pos = r.stdout, 0
        for i, _ in lst:
            nl = buf.index(b"\n", pos)
            ln = int(buf[pos:nl])
            body = buf[nl + 1:nl + 1 + ln]
            out[i] = (ln, hashlib.sha1(body).digest())
            pos = nl + 1 + ln
    wl.expected = out


# --------------------------------------------------------------------------
# Measuring one process tree


class TreeRss:
    """Samples the summed memory of a process tree (xargs and its curls),
    4 times a second: private resident pages of every process plus the
    largest shared part once, an estimate of what the tree really holds."""

    def __init__(self, sid):
        self.sid = sid
        self.peak_kb = 0
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        self.th.start()

    def sample(self):
        priv, shared_max = 0, 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    st = f.read()
                fields = st[st.rindex(")") + 2:].split()
                if int(fields[3]) != self.sid:  # session id
                    continue
                with open("/proc/%s/statm" % pid) as f:
                    sm = f.read().split()
            except (OSError, ValueError, IndexError):
                continue
            rss, shared = int(sm[1]), int(sm[2])
            priv += rss - shared
            shared_max = max(shared_max, shared)
        return (priv + shared_max) * self.page_kb

    def loop(self):
        while not self.stop_ev.wait(0.25):
            self.peak_kb = max(self.peak_kb, self.sample())

    def stop(self):
        self.stop_ev.set()
        self.th.join()


TIME = "/usr/bin/time"


def measure(cmd, timeout, log_path, cwd=None, tree=False):
    """Runs cmd in its own session under /usr/bin/time; returns wall, user,
    sys, maxrss (KiB), rc, timed_out and, with tree=True, the sampled tree
    RSS.

    /usr/bin/time rather than our own wait4(): ru_maxrss survives execve,
    so a child forked from this Python process would report the driver's
    RSS as its own floor; time(1) forks from a process of ~2 MiB."""
    tfile = log_path + ".time"
    use_time = os.access(TIME, os.X_OK)
    full = ([TIME, "-o", tfile, "-f", "%e %U %S %M"] if use_time else []) + cmd
    with open(log_path, "wb") as logf:
        t0 = time.monotonic()
        p = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT, cwd=cwd,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        sampler = TreeRss(p.pid) if tree else None
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        # Whatever the tool left behind in its session (a killed xargs's
        # children) goes too; the session is ours alone.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if sampler:
            sampler.stop()
    user, sys_, rss = ru.ru_utime, ru.ru_stime, ru.ru_maxrss
    rc = p.returncode
    if use_time:
        try:
            with open(tfile) as f:
                txt = f.read().strip().splitlines()
            # "Command exited with non-zero status N" comes first on failure.
            m = re.match(r"Command exited with non-zero status (\d+)", txt[0])
            if m:
                rc = int(m.group(1))
            _, u, s_, m_ = txt[-1].split()
            user, sys_, rss = float(u), float(s_), int(m_)
        except (OSError, ValueError, IndexError):
            pass
    res = {
        "wall": wall, "user": user, "sys": sys_, "cpu": user + sys_, "rss_kb": rss,
        "rc": rc, "timed_out": timed_out.is_set(),
    }
    if sampler:
        res["rss_kb"] = max(sampler.peak_kb, rss)
        res["rss_note"] = "tree"
    return res


def meminfo_mib(*keys):
    """Sum of /proc/meminfo fields, MiB."""
    tot = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, v = line.split(":", 1)
                if k in keys:
                    tot += int(v.split()[0])
    except (OSError, ValueError):
        return None
    return tot / 1024.0


def make_dirty(path, mib):
    """Another program's writes, still dirty: `dd` writes mib MiB to path
    without syncing, just before the measured run.  Returns what
    /proc/meminfo calls Dirty + Writeback afterwards, MiB."""
    subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=%d" % mib,
                    "status=none"], check=True)
    return meminfo_mib("Dirty", "Writeback")


def crawler_summary(logp):
    """The loop's longest stall and pass from the crawler's summary line
    (`... longest loop stall X ms (pass Y ms)`), seconds; {} from a crawler
    that does not print them."""
    try:
        with open(logp, errors="replace") as f:
            txt = f.read()
    except OSError:
        return {}
    m = re.search(r"longest loop stall ([\d.]+) ms \(pass ([\d.]+) ms", txt)
    if not m:
        return {}
    return {"stall": float(m.group(1)) / 1e3, "pass": float(m.group(2)) / 1e3}


def tail(path, n=3):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4000))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(l.strip() for l in lines[-n:])[:300]
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Tools: the command for one run, and where each body lands


class RunCtx:
    def __init__(self, wl, port, dns_port, work, out, conc, opts):
        self.wl = wl
        self.port = port
        self.dns_port = dns_port
        self.work = work  # scratch dir for lists
        self.out = out  # output dir
        self.conc = conc
        self.opts = opts  # argparse namespace


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return path


def resolv_wrap(ctx, cmd):
    """For the DNS workload, tools that resolve with getaddrinfo() run in a
    private mount namespace whose /etc/resolv.conf names the fixture
    (127.0.0.1, port 53)."""
    if ctx.wl.dns_delay is None:
        return cmd
    rc = write_lines(os.path.join(ctx.work, "resolv.conf"),
                     ["nameserver 127.0.0.1", "options timeout:5 attempts:2"])
    return ["unshare", "-m", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && exec "$@"', rc] + cmd


def run_crawler(ctx):
    wl = ctx.wl
    # Not -q: the summary line carries the loop's longest stall.
    if wl.start:
        cmd = [ctx.opts.crawler, "-r", "-l", "inf", "--no-robots", "-o", ctx.out,
               "-c", str(ctx.conc), "--per-host", str(min(ctx.conc, wl.per_host)),
               "http://127.0.0.1:%d%s" % (ctx.port, wl.start)]
    else:
        lst = write_lines(os.path.join(ctx.work, "urls"), wl.urls(ctx.port))
        cmd = [ctx.opts.crawler, "-i", lst, "-o", ctx.out, "-c", str(ctx.conc),
               "--per-host", str(min(ctx.conc, wl.per_host))]
    if wl.dns_delay is not None:
        cmd += ["--dns-servers", "127.0.0.1:%d" % ctx.dns_port,
                "--dns-concurrency", str(len({h for h, _ in wl.items}))]
    hostdir = {h: "%s:%d" % (h, ctx.port) for h in {h for h, _ in wl.items}}

    def path(i, host, target):
        return os.path.join(ctx.out, hostdir[host], target.lstrip("/"))
    return cmd, path


def run_raw(ctx):
    lst = write_lines(os.path.join(ctx.work, "urls"), ctx.wl.urls(ctx.port))
    return [ctx.opts.rawclient, "-c", str(ctx.conc), "-t", str(ctx.wl.timeout), lst], None


def run_curl(ctx):
    cfg = os.path.join(ctx.work, "curl.cfg")
    with open(cfg, "w") as f:
        for i, u in enumerate(ctx.wl.urls(ctx.port), 1):
            f.write('url = "%s"\noutput = "%d"\n' % (u, i))
    cmd = ["curl", "-s", "-S", "-Z", "--parallel-max", str(ctx.conc), "--parallel-immediate",
           "--output-dir", ctx.out, "-K", cfg]
    return resolv_wrap(ctx, cmd), lambda i, h, t: os.path.join(ctx.out, str(i + 1))


def run_xargs(ctx):
    lst = os.path.join(ctx.work, "xargs.in")
    batch = ctx.opts.xargs_batch_for(ctx.wl)
    with open(lst, "w") as f:
        for i, u in enumerate(ctx.wl.urls(ctx.port), 1):
            f.write("-o %s %s\n" % (os.path.join(ctx.out, str(i)), u))
    cmd = ["xargs", "-a", lst, "-P", str(ctx.conc), "-n", str(3 * batch), "curl", "-s", "-S"]
    return resolv_wrap(ctx, cmd), lambda i, h, t: os.path.join(ctx.out, str(i + 1))


def run_wget2(ctx):
    if ctx.wl.start:
        # Robots off like the crawler's --no-robots (the fixture has none
        # unless told, so it is one 404 either way).
        cmd = ["wget2", "-q", "--no-config", "-r", "-l", "inf", "--robots=off", "-P", ctx.out,
               "--max-threads", str(ctx.conc), "--tries", "3", "--timeout", "120",
               "http://127.0.0.1:%d%s" % (ctx.port, ctx.wl.start)]
        # -r keeps the tree, under the host without its port.
        return cmd, lambda i, h, t: os.path.join(ctx.out, h, t.lstrip("/"))
    lst = write_lines(os.path.join(ctx.work, "urls"), ctx.wl.urls(ctx.port))
    cmd = ["wget2", "-q", "--no-config", "-i", lst, "-P", ctx.out, "--max-threads", str(ctx.conc),
           "--tries", "3", "--timeout", "120"]
    # wget2 saves the last path segment with its query: p/7?d=5&s=8192 -> 7?d=5&s=8192
    return resolv_wrap(ctx, cmd), lambda i, h, t: os.path.join(ctx.out, t.rsplit("/", 1)[1])


def run_aria2c(ctx):
    lst = os.path.join(ctx.work, "aria2.in")
    with open(lst, "w") as f:
        for i, u in enumerate(ctx.wl.urls(ctx.port), 1):
            f.write("%s\n  out=%d\n" % (u, i))
    cmd = ["aria2c", "-q", "--no-conf", "-i", lst, "-d", ctx.out, "-j", str(ctx.conc),
           "--deferred-input=true", "--file-allocation=none", "--auto-file-renaming=false",
           "--allow-overwrite=true", "--max-connection-per-server=1", "--split=1",
           "--summary-interval=0", "--console-log-level=error", "--download-result=hide",
           "--remote-time=false", "--timeout=120"]
    if ctx.wl.dns_delay is not None:
        cmd += ["--async-dns=true", "--async-dns-server=127.0.0.1"]
    return cmd, lambda i, h, t: os.path.join(ctx.out, str(i + 1))


def run_python_peer(script):
    def run(ctx):
        lst = write_lines(os.path.join(ctx.work, "urls"), ctx.wl.urls(ctx.port))
        hosts = len({h for h, _ in ctx.wl.items})
        cmd = [SYS_PY, os.path.join(HERE, "peers", script), lst, ctx.out, str(ctx.conc),
               str(min(256, max(16, hosts)))]
        return resolv_wrap(ctx, cmd), lambda i, h, t: os.path.join(ctx.out, str(i + 1))
    return run


RUNNERS = {
    "crawler": run_crawler, "raw": run_raw, "curl": run_curl, "xargs": run_xargs,
    "wget2": run_wget2, "aria2c": run_aria2c,
    "scrapy": run_python_peer("scrapy_fetch.py"),
    "tornado": run_python_peer("tornado_fetch.py"),
}


def verify(wl, pathfn, out, ignore=("manifest.jsonl",)):
    """Every expected file present and byte-exact (length + SHA-1 of the
    whole body against the fixture's).  Returns (good, missing, wrong,
    extra files)."""
    good = missing = wrong = 0
    seen = set()
    for i, (h, t) in enumerate(wl.items):
        p = pathfn(i, h, t)
        seen.add(p)
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            missing += 1
            continue
        ln, digest = wl.expected[i]
        if len(data) == ln and hashlib.sha1(data).digest() == digest:
            good += 1
        else:
            wrong += 1
    total = 0
    for dirpath, _, files in os.walk(out):
        for fn in files:
            if fn in ignore:
                continue
            total += 1
    extra = total - (good + wrong)
    return good, missing, wrong, extra


# --------------------------------------------------------------------------
# Running a workload


class Bench:
    def __init__(self, args):
        self.args = args
        self.t_start = time.monotonic()
        self.results = {}  # (wl.key, tool) -> dict
        self.notes = []

    def over_budget(self):
        return time.monotonic() - self.t_start > self.args.budget * 60

    def one_run(self, wl, tool, conc, tag=""):
        """One measured run with a fresh fixture and output dir."""
        a = self.args
        work = tempfile.mkdtemp(prefix="run-%s-%s-" % (wl.key.replace("/", "-"), tool),
                                dir=a.tmp)
        # Lists, logs and the fixture stay on tmpfs; only the output (and
        # with it the crawler's state) moves to the disk.
        outdir = work if wl.fs == "tmpfs" else tempfile.mkdtemp(prefix="out-", dir=a.disk_tmp)
        out = os.path.join(outdir, "out")
        os.mkdir(out)
        dns_port = None
        if wl.dns_delay is not None:
            dns_port = 53 if a.dns53_problem is None else 0
        fx = Fixture(a.fixture, a.tmp, wl.timeout + 60, dns_port=dns_port,
                     dns_delay=wl.dns_delay or 0, extra=wl.fixture_args)
        dirty = None
        try:
            ctx = RunCtx(wl, fx.http, fx.dns, work, out, conc, a)
            cmd, pathfn = RUNNERS[tool](ctx)
            logp = os.path.join(work, "log")
            if wl.fs != "tmpfs":
                # Each disk run starts from a clean page cache: what earlier
                # runs (or others on the machine) left dirty is written
                # back first, unmeasured.
                os.sync()
            if wl.fs == "dirty":
                dirty = os.path.join(a.disk_tmp, "dirty-%d" % os.getpid())
                dirty_mib = make_dirty(dirty, DIRTY_MIB)
            res = measure(cmd, wl.timeout, logp, cwd=work, tree=(tool == "xargs"))
            if dirty:
                res["dirty_mib"] = dirty_mib
            if tool == "crawler":
                res.update(crawler_summary(logp))
            st = fx.stats()
            res["requests"] = st.get("requests")
            res["peak_conc"] = st.get("max_concurrent")
            res["dns_queries"] = st.get("dns_queries")
            res["connections"] = st.get("connections")
            res["cmd"] = cmd
            if tool == "raw":
                txt = open(logp).read()
                m = re.search(r"ok=(\d+) failed=(\d+) bytes=(\d+)", txt)
                ok = int(m.group(1)) if m else 0
                good_bytes = m and int(m.group(3)) == sum(l for l, _ in wl.expected)
                res["good"] = ok if good_bytes else 0
                res["missing"] = wl.n - ok
                res["wrong"] = res["extra"] = 0
                res["verify"] = "counted"
            else:
                if tool == "crawler" and wl.name in ("latency", "scaling", "memory", "dns",
                                                     "recursive"):
                    res["overhead"] = manifest_overhead(os.path.join(out, "manifest.jsonl"),
                                                        wl.site_delay)
                good, missing, wrong, extra = verify(wl, pathfn, out)
                res.update(good=good, missing=missing, wrong=wrong, extra=extra, verify="sha1")
            if res["good"] != wl.n or res["timed_out"] or res["rc"] != 0:
                res["log_tail"] = tail(logp)
            return res
        finally:
            fx.stop()
            if dirty and os.path.exists(dirty):
                os.unlink(dirty)
            if not a.keep:
                # Disk outputs stay until the end: on ext4, deleting a tree
                # just before a run is charged to that run (inode allocation
                # steps over recently freed inodes; see
                # tests/compare/wget_compare.py).
                shutil.rmtree(work, ignore_errors=True)

    def runs(self, wl, tool, conc, nruns, first=0):
        rs = []
        for k in range(first, first + nruns):
            if self.over_budget():
                self.notes.append("%s/%s: stopped after %d runs, time budget (--budget) spent"
                                  % (wl.key, tool, k))
                break
            r = self.one_run(wl, tool, conc)
            log("bench: %-20s %-8s c=%-5d run %d: %.2f s wall, %.2f s CPU, %d MiB, %d/%d ok%s%s"
                % (wl.key, tool, conc, k + 1, r["wall"], r["cpu"], r["rss_kb"] // 1024,
                   r["good"], wl.n, " TIMEOUT" if r["timed_out"] else "",
                   ", loop stall %.1f ms, pass %.1f ms" % (r["stall"] * 1e3, r["pass"] * 1e3)
                   if "stall" in r else ""))
            rs.append(r)
            if r["timed_out"]:
                break  # do not burn more time on a tool that cannot finish
        return rs

    def tool_conc(self, wl, tool):
        if wl.name == "recursive":
            return wl.conc  # wget2 too: --max-threads as the crawler's -c (issue 9)
        if tool == "curl":
            return min(CURL_PARALLEL_MAX, wl.conc)
        if tool == "xargs":
            return min(self.args.xargs_procs, wl.conc)
        if tool == "wget2":
            wkind = "throughput" if wl.name == "throughput" else "delay"
            return min(self.wget2_best.get(wkind, wl.conc), wl.conc)
        return wl.conc

    def calibrate_wget2(self, wl, candidates):
        """wget2 at its best thread count: one run per candidate, keep the
        fastest that verified."""
        best, best_t = None, None
        tried = []
        for t in sorted({min(c, wl.n) for c in candidates}):
            r = self.one_run(wl, "wget2", t)
            ok = r["good"] == wl.n and not r["timed_out"]
            tried.append("%d: %.2f s%s" % (t, r["wall"], "" if ok else " (incomplete)"))
            log("bench: calibrate wget2 on %s, %d threads: %.2f s" % (wl.key, t, r["wall"]))
            if ok and (best_t is None or r["wall"] < best_t):
                best, best_t = t, r["wall"]
        self.notes.append("wget2 thread calibration on %s: %s -> %s" % (
            wl.key, ", ".join(tried), best if best else "none complete"))
        return best or max(candidates)

    def run_workload(self, wl, tools):
        a = self.args
        log("bench: workload %s: %s" % (wl.key, wl.title))
        if wl.expected is None:
            expect(wl, a.fixture)
        plan = []
        for tool in tools:
            if self.over_budget():
                self.results[(wl.key, tool)] = {"skip": "time budget (--budget) spent"}
                continue
            why = a.why.get(tool)
            if why is None and wl.dns_delay is not None and tool != "crawler":
                why = a.dns_skip.get(tool)
            if why is None and wl.name == "recursive" and tool not in RECURSIVE_TOOLS:
                why = "no recursive mode" if tool != "scrapy" else \
                    "no recursive peer script (scrapy_fetch.py fetches a list)"
            if why is None and tool == "raw" and wl.fs != "tmpfs":
                why = "writes no files: the tmpfs row stands"
            if why is None and wl.fs == "dirty" and tool not in a.dirty_tools:
                why = "not in --dirty-tools"
            if why:
                self.results[(wl.key, tool)] = {"skip": why}
                continue
            # wget2's best thread count is found once for the delay
            # workloads (on the first of them) and once for throughput.
            wkind = "throughput" if wl.name == "throughput" else "delay"
            if tool == "wget2" and wkind not in self.wget2_best and wl.name != "recursive":
                cands = a.wget2_threads_tp if wkind == "throughput" else a.wget2_threads
                if len(cands) > 1:
                    self.wget2_best[wkind] = self.calibrate_wget2(wl, cands)
                else:
                    self.wget2_best[wkind] = cands[0]
            plan.append((tool, self.tool_conc(wl, tool)))
        # Runs alternate between tools (crawler, peer, crawler, peer...):
        # on a shared VM's disk the machine drifts by 2x within minutes,
        # and tool-after-tool blocks would measure the drift.
        done = {tool: [] for tool, _ in plan}
        stopped = set()
        for k in range(a.runs):
            for tool, conc in plan:
                if tool in stopped:
                    continue
                rs = self.runs(wl, tool, conc, 1, first=k)
                if not rs:
                    stopped.add(tool)
                    continue
                done[tool] += rs
                if rs[-1]["timed_out"]:
                    stopped.add(tool)
        for tool, conc in plan:
            if not done[tool]:
                self.results[(wl.key, tool)] = {"skip": "time budget (--budget) spent"}
                continue
            self.results[(wl.key, tool)] = summarize(done[tool], conc)
            if wl.name == "memory":
                self.results[(wl.key, tool)]["baseline_kb"] = self.baseline(tool)

    def baseline(self, tool):
        """Idle RSS of a tool: one URL, no delay."""
        if tool in self.baselines:
            return self.baselines[tool]
        wl = make_delay_workload("baseline", "baseline", 1, 0, 8192, 1, 1, 60,
                                 random.Random(1), "1 URL", fixed_delay=0)
        expect(wl, self.args.fixture)
        r = self.one_run(wl, tool, 1)
        self.baselines[tool] = r["rss_kb"]
        return r["rss_kb"]

    def wrk(self, wl, conc):
        """wrk on one page of the throughput workload, same connection
        count: the server's ceiling on this machine."""
        if shutil.which("wrk") is None:
            return {"skip": "wrk not installed (apt-get install wrk, or --install)"}
        rates = []
        for _ in range(max(1, self.args.runs)):
            fx = Fixture(self.args.fixture, self.args.tmp, 60)
            try:
                url = "http://127.0.0.1:%d%s" % (fx.http, wl.items[0][1])
                cmd = ["wrk", "-t", "1", "-c", str(conc), "-d", str(self.args.wrk_seconds), url]
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
                if m:
                    rates.append(float(m.group(1)))
            finally:
                fx.stop()
        if not rates:
            return {"skip": "wrk produced no rate"}
        return {"rate": statistics.median(rates), "min": min(rates), "max": max(rates),
                "cmd": cmd}


def summarize(rs, conc):
    walls = [r["wall"] for r in rs]
    med = statistics.median(walls)
    # The run whose wall time is the median supplies the other columns.
    mid = sorted(rs, key=lambda r: r["wall"])[(len(rs) - 1) // 2]
    s = dict(mid)
    for k in ("stall", "pass"):
        if all(k in r for r in rs):
            s[k] = max(r[k] for r in rs)  # the worst run's: a stall is rare
    s.update(wall=med, wall_min=min(walls), wall_max=max(walls), nruns=len(rs),
             cpu=statistics.median(r["cpu"] for r in rs),
             rss_kb=max(r["rss_kb"] for r in rs), conc=conc,
             good=min(r["good"] for r in rs), timed_out=any(r["timed_out"] for r in rs),
             missing=max(r["missing"] for r in rs), wrong=max(r["wrong"] for r in rs),
             extra=max(r["extra"] for r in rs))
    return s


def manifest_overhead(path, site_delay=None):
    """From the crawler's manifest: each page's time minus the delay the
    fixture was told to wait (d=, or the latency site's own delay), i.e.
    what the crawler itself added."""
    extra = []
    try:
        with open(path) as f:
            for line in f:
                o = json.loads(line)
                url = o.get("url") or ""
                m = re.search(r"[?&]d=(\d+)", url)
                d = int(m.group(1)) if m else None
                m = re.search(r"/s/(\d+)$", url)
                if site_delay and m:
                    d = site_delay.get(int(m.group(1)))
                if d is not None and o.get("seconds") is not None:
                    extra.append(o["seconds"] - d / 1000.0)
    except (OSError, ValueError):
        return None
    if not extra:
        return None
    extra.sort()
    q = lambda p: extra[min(len(extra) - 1, int(p * len(extra)))]
    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": extra[-1]}


# --------------------------------------------------------------------------
# Profiling (side section)


def profile(bench, wl):
    """strace -c -f and perf record of the crawler on the throughput
    workload: syscalls per page and where the CPU goes."""
    a = bench.args
    lines = []
    if shutil.which("strace") is None:
        return ["strace not installed; no syscall profile"]
    work = tempfile.mkdtemp(prefix="prof-", dir=a.tmp)
    out = os.path.join(work, "out")
    fx = Fixture(a.fixture, a.tmp, 600)
    try:
        ctx = RunCtx(wl, fx.http, None, work, out, wl.conc, a)
        cmd, _ = run_crawler(ctx)
        sfile = os.path.join(work, "strace.txt")
        t0 = time.monotonic()
        subprocess.run(["strace", "-c", "-f", "-o", sfile] + cmd, capture_output=True,
                       timeout=wl.timeout * 4)
        lines.append("`strace -c -f` of the crawler, %d URLs, -c %d (%.1f s under strace):"
                     % (wl.n, wl.conc, time.monotonic() - t0))
        lines.append("")
        lines.append("| syscall | calls | per page | errors | % time |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        rows = []
        total = None
        for line in open(sfile):
            f = line.split()
            if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
                calls = int(f[3])
                errors = int(f[4]) if len(f) == 6 else 0
                rows.append((calls, f[-1], errors, f[0]))
            elif len(f) >= 5 and f[-1] == "total":
                total = int(f[3])
        rows.sort(reverse=True)
        for calls, name, errors, pct in rows[:14]:
            lines.append("| %s | %d | %.2f | %d | %s |" % (name, calls, calls / wl.n, errors, pct))
        if total:
            lines.append("| **total** | %d | %.2f | | |" % (total, total / wl.n))
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        lines.append("strace failed: %s" % e)
    finally:
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines.append("")
    lines += perf_profile(bench, wl)
    return lines


def heap_profile(bench, n=1000, delay=3000):
    """valgrind massif of the crawler with n transfers all waiting: the
    heap at its peak, largest allocation sites, bytes per transfer."""
    a = bench.args
    if shutil.which("valgrind") is None or shutil.which("ms_print") is None:
        return ["valgrind not installed; no heap profile"]
    wl = make_delay_workload("memory", "heap", n, delay, 8192, n, n, 300, random.Random(1),
                             "", fixed_delay=delay)
    work = tempfile.mkdtemp(prefix="massif-", dir=a.tmp)
    out = os.path.join(work, "out")
    fx = Fixture(a.fixture, a.tmp, 600)
    lines = []
    try:
        ctx = RunCtx(wl, fx.http, None, work, out, n, a)
        cmd, _ = run_crawler(ctx)
        msf = os.path.join(work, "massif.out")
        subprocess.run(["valgrind", "--tool=massif", "--massif-out-file=" + msf] + cmd,
                       capture_output=True, timeout=300)
        txt = subprocess.run(["ms_print", "--threshold=2", msf], capture_output=True,
                             text=True, timeout=60).stdout
        m = re.search(r"Detailed snapshots: \[[^\]]*?(\d+) \(peak\)", txt)
        if not m:
            return ["massif: no peak snapshot"]
        peak = m.group(1)
        sec = txt.split("\n %s " % peak, 1)[1] if ("\n %s " % peak) in txt else ""
        total = int(sec.split()[1].replace(",", "")) if sec else 0
        lines.append("`valgrind --tool=massif` of the crawler, %d transfers all waiting %d ms: "
                     "heap at its peak %.1f MiB = %.1f KiB per transfer; largest sites "
                     "(libcurl has no symbols here; 16,385 B a transfer is its receive buffer, "
                     "CURLOPT_BUFFERSIZE 16 KiB + 1, allocated before connecting):"
                     % (n, delay, total / 2**20, total / n / 1024.0))
        lines.append("")
        lines.append("```")
        count = 0
        sl = sec.splitlines()[1:]
        for k, l in enumerate(sl):
            if re.match(r"^\s*\d+\s+[\d,]+\s+[\d,]+", l):
                break
            mm = re.match(r"^->\s*([\d.]+)% \(([\d,]+)B\) (.*)", l)
            if mm:
                b = int(mm.group(2).replace(",", ""))
                where = re.sub(r"^0x[0-9A-F]+: ", "", mm.group(3))
                # The first caller with a name says more than an address.
                for l2 in sl[k + 1:k + 6]:
                    m2 = re.match(r"^[| ]*->.*?0x[0-9A-F]+: ([A-Za-z_]\w*) ", l2)
                    if m2:
                        where += " <- " + m2.group(1)
                        break
                    if l2.startswith("->"):
                        break
                lines.append("%5s%%  %5.1f KiB/transfer  %s" % (mm.group(1), b / n / 1024.0,
                                                              where[:110]))
                count += 1
                if count >= 10:
                    break
        lines.append("```")
        lines.append("")
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
        lines.append("massif failed: %s" % e)
    finally:
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return lines


def start_order(bench, wl):
    """strace of connect() and sendto() on the latency workload: how many
    connections the crawler opens before it sends its first request."""
    a = bench.args
    if shutil.which("strace") is None:
        return []
    work = tempfile.mkdtemp(prefix="order-", dir=a.tmp)
    out = os.path.join(work, "out")
    fx = Fixture(a.fixture, a.tmp, 600)
    lines = []
    try:
        ctx = RunCtx(wl, fx.http, None, work, out, wl.conc, a)
        cmd, _ = run_crawler(ctx)
        tf = os.path.join(work, "trace")
        subprocess.run(["strace", "-f", "-ttt", "-e", "trace=connect,sendto", "-o", tf] + cmd,
                       capture_output=True, timeout=wl.timeout * 4)
        connects = sends = 0
        t_first_conn = t_last_conn = t_first_send = None
        before = None
        for l in open(tf):
            f = l.split(None, 2)
            if len(f) < 3:
                continue
            t = float(f[1])
            if f[2].startswith("connect("):
                connects += 1
                t_first_conn = t_first_conn or t
                t_last_conn = t
            elif f[2].startswith("sendto(") and "GET " in f[2]:
                if sends == 0:
                    before = connects
                    t_first_send = t
                sends += 1
        if before is not None:
            lines.append("Start-up order (strace -f -ttt of connect/sendto, latency workload, "
                         "%d URLs, -c %d; strace slows every call, so read the order, not the "
                         "times): %d connect() calls before the first request is sent; first "
                         "connect to last connect %.3f s; first connect to first request %.3f s."
                         % (wl.n, wl.conc, before, t_last_conn - t_first_conn,
                            t_first_send - t_first_conn))
            lines.append("")
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        lines.append("strace order failed: %s" % e)
    finally:
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return lines


def perf_profile(bench, wl):
    a = bench.args
    if shutil.which("perf") is None:
        return ["perf not installed; no CPU profile"]
    work = tempfile.mkdtemp(prefix="perf-", dir=a.tmp)
    out = os.path.join(work, "out")
    fx = Fixture(a.fixture, a.tmp, 600)
    lines = []
    try:
        ctx = RunCtx(wl, fx.http, None, work, out, wl.conc, a)
        cmd, _ = run_crawler(ctx)
        data = os.path.join(work, "perf.data")
        r = subprocess.run(["perf", "record", "-F", "1999", "-g", "-o", data, "--"] + cmd,
                           capture_output=True, text=True, timeout=wl.timeout * 2)
        if r.returncode != 0 or not os.path.exists(data):
            return ["perf record failed: " + first_line(r.stderr)]
        for sort, title, limit in (("dso", "by library", "1"), ("dso,sym", "by function", "0.7")):
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                  "--sort", sort, "-g", "none", "--percent-limit", limit],
                                 capture_output=True, text=True, timeout=300)
            rows = [l.rstrip() for l in rep.stdout.splitlines()
                    if l.strip() and not l.startswith("#")]
            lines.append("`perf record` of the crawler (same workload), self time %s:" % title)
            lines.append("")
            lines.append("```")
            lines += rows[:25]
            lines.append("```")
            lines.append("")
    except (OSError, subprocess.SubprocessError) as e:
        lines.append("perf failed: %s" % e)
    finally:
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return lines


# --------------------------------------------------------------------------
# Report


def fmt_s(x):
    return "%.2f" % x if x < 100 else "%.0f" % x


def fmt_mib(kb):
    return "%.1f" % (kb / 1024.0)


def ratio(a, b):
    if not a or not b:
        return "-"
    return "%.2f" % (a / b)


def verified(r, wl):
    if r.get("timed_out"):
        return "TIMEOUT (%d/%d)" % (r["good"], wl.n)
    if r["good"] == wl.n and not r["wrong"]:
        s = "%d/%d" % (r["good"], wl.n)
        if r.get("extra"):
            s += " +%d extra" % r["extra"]
        return s
    return "**%d/%d** (%d missing, %d wrong)" % (r["good"], wl.n, r["missing"], r["wrong"])


def table(bench, wl, tools, ideal, ideal_label, kind):
    res = bench.results
    cr = res.get((wl.key, "crawler"), {})
    head = ["tool", "conc", "wall s median (min-max)", "x ideal", "CPU s (u+s)", "peak RSS MiB"]
    if kind == "throughput":
        head += ["pages/s", "CPU us/page"]
    if kind == "memory":
        head += ["in flight (fixture)", "idle RSS MiB", "KiB/in-flight"]
    if kind == "dns":
        head += ["DNS queries"]
    if wl.fs == "dirty":
        head += ["dirty MiB at start"]
    head += ["peak conc", "conns", "verified", "loop stall / pass ms", "crawler/peer wall", "CPU",
             "RSS"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tool in tools:
        r = res.get((wl.key, tool))
        if r is None:
            continue
        if "skip" in r:
            lines.append("| %s | skipped: %s |" % (LABEL[tool], r["skip"]) + " |" * (len(head) - 2))
            continue
        killed = r.get("timed_out")
        row = [LABEL[tool], str(r["conc"]),
               "%s (%s-%s)" % (fmt_s(r["wall"]), fmt_s(r["wall_min"]), fmt_s(r["wall_max"])),
               (">" if killed else "") + ratio(r["wall"], ideal),
               # A killed run has no rusage: time(1) died with it.
               "killed" if killed else "%.2f (%.2f+%.2f)" % (r["cpu"], r["user"], r["sys"]),
               fmt_mib(r["rss_kb"]) + (" (tree)" if r.get("rss_note") == "tree" else "")]
        if kind == "throughput":
            row += ["%.0f" % (wl.n / r["wall"]), "-" if killed else "%.0f" % (r["cpu"] / wl.n * 1e6)]
        if kind == "memory":
            inflight = r.get("peak_conc") or r["conc"]
            base = r.get("baseline_kb") or 0
            row += [str(inflight), fmt_mib(base),
                    "%.1f" % (max(0, r["rss_kb"] - base) / max(1, inflight))]
        if kind == "dns":
            row += [str(r.get("dns_queries"))]
        if wl.fs == "dirty":
            row += ["%.0f" % r["dirty_mib"] if r.get("dirty_mib") is not None else "-"]
        row += [str(r.get("peak_conc")), str(r.get("connections")), verified(r, wl), stall_cell(r)]
        if tool == "crawler" or "wall" not in cr:
            row += ["", "", ""]
        elif killed:
            row += ["<" + ratio(cr["wall"], r["wall"]), "-", "-"]
        else:
            row += [ratio(cr["wall"], r["wall"]), ratio(cr["cpu"], r["cpu"]),
                    ratio(cr["rss_kb"], r["rss_kb"])]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def stall_cell(r):
    if "stall" not in r:
        return ""
    return "%.1f / %.1f" % (r["stall"] * 1e3, r["pass"] * 1e3)


def fs_heading(bench, wl):
    """"output on tmpfs (/dev/shm)" and the like, for section titles."""
    a = bench.args
    where = a.tmp if wl.fs == "tmpfs" else a.disk_tmp
    return "output on %s (%s, %s)" % (FS_LABEL[wl.fs], fs_type(where), os.path.dirname(where))


def fs_compare(bench, wls, tools):
    """Wall time of every workload and tool on each output place side by
    side, the crawler's loop stall beside it."""
    res = bench.results
    fss = [f for f in bench.args.fs_list]
    if len(fss) < 2:
        return []
    bases = []
    for wl in wls:
        if wl.base not in bases:
            bases.append(wl.base)
    head = ["workload", "tool"]
    for f in fss:
        head += ["%s wall s" % FS_LABEL[f]]
        if f != "tmpfs":
            head += ["x tmpfs"]
    head += ["crawler loop stall / pass ms (%s)" % ", ".join(FS_LABEL[f] for f in fss)]
    L = ["## disk and tmpfs", "",
         "Wall seconds (median) with the output on each place; x tmpfs = the same tool's "
         "disk time over its tmpfs time. Loop stall = the crawler's longest time between two "
         "returns from epoll_wait while transfers were in flight, pass = its longest time "
         "outside epoll_wait in one pass (worst run).", "",
         "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for base in bases:
        for tool in tools:
            rows = {f: res.get(("%s/%s" % (base, f), tool)) for f in fss}
            if not any(r and "wall" in r for r in rows.values()):
                continue
            t = rows.get("tmpfs") or {}
            row = [base, LABEL[tool]]
            for f in fss:
                r = rows.get(f)
                if r is None:
                    row += [""]
                elif "skip" in r:
                    row += ["-"]
                else:
                    row += [(">" if r.get("timed_out") else "") + fmt_s(r["wall"])]
                if f != "tmpfs":
                    row += [ratio(r["wall"], t.get("wall")) if r and "wall" in r else ""]
            row += [", ".join(stall_cell(rows[f]) or "-" for f in fss if rows.get(f))
                    if tool == "crawler" else ""]
            L.append("| " + " | ".join(row) + " |")
    return L + [""]


def overhead_line(cr, what=""):
    o = cr.get("overhead")
    if not o:
        return []
    return ["crawler, time added per page (manifest `seconds` minus the page's delay%s), median "
            "run: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms." % (
                ", " + what if what else "", o["p50"] * 1e3, o["p90"] * 1e3, o["p99"] * 1e3,
                o["max"] * 1e3), ""]


PEER_NOTES = [
    "curl -Z: `--parallel-max 300` (curl clamps it there) `--parallel-immediate`, URLs and "
    "`output = i` lines from a `-K` config file, `--output-dir`.",
    "xargs -P + curl: `xargs -P P -n 3K curl -s -S` over lines `-o FILE URL`; K URLs per curl "
    "process (1, or 20 on the throughput workload, where one process per URL would measure "
    "fork+exec, not HTTP); P = min(concurrency, --xargs-procs).",
    "wget2: `-i list -P dir --max-threads T`, T calibrated once for the delay workloads and once "
    "for throughput (one run per candidate, fastest complete one kept; see notes).",
    "aria2c: `-i list` with `out=i` per URL, `-j N`, `--deferred-input`, `--file-allocation=none`.",
    "Scrapy 2.8 (Debian python3-scrapy, /usr/bin/python3): one spider, CONCURRENT_REQUESTS = "
    "CONCURRENT_REQUESTS_PER_DOMAIN = N, default reactor, threaded resolver with "
    "REACTOR_THREADPOOL_MAXSIZE up to 256; tests/bench/peers/scrapy_fetch.py.",
    "Tornado 6.2 (Debian python3-tornado): the simple client (SimpleAsyncHTTPClient, pure "
    "Python, no keep-alive), max_clients = N, ThreadedResolver up to 256 threads; "
    "tests/bench/peers/tornado_fetch.py.",
    "recursive workload: only the crawler and wget2 crawl recursively here (wget2 `-r -l inf "
    "--robots=off --max-threads N`, N as the crawler's -c, as issue 9 measured). wget 1.x `-r` "
    "uses one connection, so the 5,000-page site would take about the sum of its delays "
    "(~2,500 s): not run. curl, xargs, aria2c, the raw client and the Python peers fetch lists.",
    "rawclient: tests/bench/rawclient.c, one epoll loop, one `GET ... Connection: close` per "
    "connection, no files, counts bytes: the floor for the delay workloads.",
]


def report(bench, wls, tools, header):
    a = bench.args
    res = bench.results
    L = ["# crawler benchmark (%s)" % ("quick" if a.quick else "full"), ""]
    L += header
    L += ["- %d run(s) per tool; wall = median, (min-max); CPU = user+sys of the whole process "
          "tree (wait4), median run; RSS = peak (ru_maxrss; for xargs the sampled sum over its "
          "curls: private pages + shared once); every run has a fresh fixture and output dir; "
          "verified = files present and byte-exact (length + SHA-1 of EVERY body against "
          "`crawler-fixture --print-bodies`), rawclient only counts bytes; peak conc = the "
          "fixture's max_concurrent; crawler/peer < 1 means the crawler is better." % a.runs,
          ""]
    targets = []
    for wl in wls:
        on = " [%s]" % FS_LABEL[wl.fs]
        cr = res.get((wl.key, "crawler"), {})
        if wl.name == "latency":
            # The raw client writes nothing: its tmpfs run is the ideal everywhere.
            raw = res.get((wl.key, "raw")) or {}
            if "wall" not in raw:
                raw = res.get((wl.base + "/tmpfs", "raw")) or {}
            ideal = raw.get("wall")
            bound = wl.little_bound(wl.conc)
            L += ["## latency, %s: %s" % (fs_heading(bench, wl), wl.title), "",
                  "ideal = rawclient's median %s s; Little's-law bound %.2f s (slowest page)."
                  % (fmt_s(ideal) if ideal else "?", bound), ""]
            L += table(bench, wl, tools, ideal or bound, "raw", "latency") + [""]
            L += overhead_line(cr)
            if cr.get("wall") and ideal and wl.fs == "tmpfs":
                x = cr["wall"] / ideal
                targets.append("latency%s at most 1.15x the raw client: %.2fx -> %s"
                               % (on, x, "met" if x <= 1.15 else "NOT met"))
            tm = res.get((wl.base + "/tmpfs", "crawler"), {})
            if cr.get("wall") and wl.fs == "dirty" and tm.get("wall"):
                x = cr["wall"] / tm["wall"]
                targets.append("latency%s at most 1.15x the same crawl into tmpfs: %.2f / %.2f s "
                               "= %.2fx -> %s" % (on, cr["wall"], tm["wall"], x,
                                                  "met" if x <= 1.15 else "NOT met"))
            low = [LABEL[t] for t in tools if (res.get((wl.key, t)) or {}).get("dirty_mib")
                   is not None and res[(wl.key, t)]["dirty_mib"] < DIRTY_MIB / 2]
            if low:
                L += ["**Warning**: less than half of the %d MiB was still dirty when %s started: "
                      "something wrote it back first (another program's sync or syncfs, such as "
                      "a crawler test running on the same file system), so those rows did not "
                      "measure a crawl beside dirty data. Run on an otherwise idle machine."
                      % (DIRTY_MIB, ", ".join(low)), ""]
            if cr.get("stall") is not None and wl.fs == "dirty":
                targets.append("latency%s longest loop stall under 20 ms: %.1f ms (pass %.1f ms) "
                               "-> %s" % (on, cr["stall"] * 1e3, cr["pass"] * 1e3,
                                          "met" if cr["stall"] < 0.020 else "NOT met"))
        elif wl.name == "recursive":
            L += ["## recursive, %s: %s" % (fs_heading(bench, wl), wl.title), "",
                  "`crawler -r -l inf -c N --per-host N --no-robots` and `wget2 -r -l inf "
                  "--max-threads N --robots=off` from /s/0, N = %d. bound = %.2f s: the "
                  "critical path, every page started the moment its first parent is done "
                  "(from `crawler-fixture --print-site`). A crawler that waits for each "
                  "depth level to end needs the sum of the levels' slowest pages: %.2f s "
                  "over %d levels." % (wl.conc, wl.bound, wl.barrier, wl.levels), ""]
            L += table(bench, wl, tools, wl.bound, "bound", "recursive") + [""]
            L += overhead_line(cr, "the page's own delay from the site")
            wg = res.get((wl.key, "wget2"), {})
            if cr.get("wall"):
                x = cr["wall"] / wl.bound
                ahead = wg.get("wall") and cr["wall"] < wg["wall"] and not cr.get("timed_out")
                targets.append("recursive%s at most 1.15x its bound and ahead of wget2: %.2f s = "
                               "%.2fx the %.2f s bound, wget2 %s s -> %s"
                               % (on, cr["wall"], x, wl.bound,
                                  fmt_s(wg["wall"]) if wg.get("wall") else "?",
                                  "met" if x <= 1.15 and ahead else "NOT met"))
        elif wl.name == "dns":
            ideal = wl.dns_delay / 1000.0 + max(wl.delays) / 1000.0
            L += ["## dns, %s: %s" % (fs_heading(bench, wl), wl.title), "",
                  "ideal = DNS delay + slowest page = %.2f s. crawler: c-ares, "
                  "`--dns-servers 127.0.0.1:%s`; aria2c: `--async-dns-server=127.0.0.1` (port 53 "
                  "only); curl, xargs+curl, wget2, Scrapy, Tornado: getaddrinfo() in a private "
                  "mount namespace whose /etc/resolv.conf says `nameserver 127.0.0.1` (Debian's "
                  "curl is built without c-ares, so it has no `--dns-servers`: `%s`)."
                  % (ideal, "53" if a.dns53_problem is None else "PORT", a.curl_dns_msg), ""]
            L += table(bench, wl, tools, ideal, "bound", "dns") + [""]
            L += overhead_line(cr, "which starts after the name is resolved")
            if cr.get("wall"):
                targets.append("dns%s <= DNS delay + slowest page + 15%% (%.2f s): %.2f s -> %s"
                               % (on, ideal * 1.15, cr["wall"], "met" if cr["wall"] <= ideal * 1.15 else "NOT met"))
        elif wl.name == "throughput":
            w = bench.wrk_result
            L += ["## throughput, %s: %s" % (fs_heading(bench, wl), wl.title), ""]
            if "rate" in w:
                ideal = wl.n / w["rate"]
                L += ["ceiling = `%s`: %.0f pages/s (min %.0f, max %.0f) -> ideal %.2f s for %d pages."
                      % (" ".join(w["cmd"][:-1]) + " URL", w["rate"], w["min"], w["max"], ideal, wl.n), ""]
            else:
                ideal = None
                L += ["ceiling: wrk skipped: %s" % w["skip"], ""]
            L += table(bench, wl, tools, ideal, "wrk", "throughput") + [""]
            cu = res.get((wl.key, "curl"), {})
            if cr.get("wall") and cu.get("wall"):
                ok = cr["wall"] <= cu["wall"] and cr["cpu"] <= cu["cpu"]
                targets.append("throughput%s >= curl -Z with less CPU/page: %.0f vs %.0f pages/s, "
                               "%.0f vs %.0f us/page -> %s"
                               % (on, wl.n / cr["wall"], wl.n / cu["wall"], cr["cpu"] / wl.n * 1e6,
                                  cu["cpu"] / wl.n * 1e6, "met" if ok else "NOT met"))
        elif wl.name == "memory":
            L += ["## memory, %s: %s" % (fs_heading(bench, wl), wl.title), "",
                  "KiB/in-flight = (peak RSS - idle RSS with 1 URL) / peak concurrent requests "
                  "seen by the fixture. ideal wall = the delay.", ""]
            L += table(bench, wl, tools, max(wl.delays) / 1000.0, "delay", "memory") + [""]
            L += overhead_line(cr)
            if cr.get("wall"):
                per = max(0, cr["rss_kb"] - (cr.get("baseline_kb") or 0)) / max(1, cr.get("peak_conc") or cr["conc"])
                targets.append("memory%s <= 16 KiB RSS per in-flight transfer: %.1f KiB -> %s"
                               % (on, per, "met" if per <= 16 else "NOT met"))
    sc = [wl for wl in wls if wl.name == "scaling"]
    if sc:
        L += ["## scaling: latency workload at %s URLs" % ", ".join(
            str(n) for n in sorted({w.n for w in sc})), "",
              "bound = Little's law: max(slowest page, N x mean delay / concurrency), per tool's "
              "own concurrency; concurrency capped at %d (descriptors, ephemeral ports)."
              % a.scaling_cap, "",
              "| N | output | tool | conc | wall s median (min-max) | bound s | x bound | CPU s | "
              "peak RSS MiB | verified | crawler/peer wall | time added per page p50/p99/max ms | "
              "loop stall / pass ms |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for wl in sc:
            cr = res.get((wl.key, "crawler"), {})
            for tool in tools:
                r = res.get((wl.key, tool))
                if r is None:
                    continue
                if "skip" in r:
                    L.append("| %d | %s | %s | skipped: %s | | | | | | | | | |"
                             % (wl.n, FS_LABEL[wl.fs], LABEL[tool], r["skip"]))
                    continue
                b = wl.little_bound(r["conc"])
                o = r.get("overhead")
                added = "%.0f / %.0f / %.0f" % (o["p50"] * 1e3, o["p99"] * 1e3, o["max"] * 1e3) if o else ""
                L.append("| %d | %s | %s | %d | %s (%s-%s) | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s |" % (
                    wl.n, FS_LABEL[wl.fs], LABEL[tool], r["conc"], fmt_s(r["wall"]),
                    fmt_s(r["wall_min"]), fmt_s(r["wall_max"]), b, r["wall"] / b, r["cpu"],
                    fmt_mib(r["rss_kb"]), verified(r, wl),
                    "" if tool == "crawler" or not cr.get("wall") else ratio(cr["wall"], r["wall"]),
                    added, stall_cell(r)))
                if tool == "crawler":
                    x = r["wall"] / b
                    targets.append("scaling N=%d [%s] within 20%% of Little's-law bound: %.2fx -> %s"
                                   % (wl.n, FS_LABEL[wl.fs], x, "met" if x <= 1.2 else "NOT met"))
        L.append("")
    top = fs_compare(bench, wls, tools)
    if targets:
        top = ["## targets (reported, never asserted)", ""] + ["- " + t for t in targets] + \
            [""] + top
    L[len(header) + 4:len(header) + 4] = top
    skipped = sorted({(t, r["skip"]) for (k, t), r in res.items() if "skip" in r})
    if skipped:
        L += ["## skipped", ""] + ["- %s: %s" % (LABEL[t], why) for t, why in skipped] + [""]
    L += ["## peers", ""] + ["- " + n for n in PEER_NOTES] + [""]
    if bench.notes:
        L += ["## notes", ""] + ["- " + n for n in bench.notes] + [""]
    L += ["## commands (median run)", ""]
    for wl in wls:
        for tool in tools:
            r = res.get((wl.key, tool))
            if r and "cmd" in r:
                c = shlex.join(r["cmd"])
                if len(c) > 400:
                    c = c[:400] + " ..."
                L.append("- %s / %s: `%s`" % (wl.key, tool, c))
    L.append("")
    if bench.profile_lines:
        L += ["## profile: where the crawler's time and memory go", ""]
        L += bench.profile_lines
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------


def mount_opts(path):
    best, opts = "", ""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, typ, o = line.split()[:4]
                if (path + "/").startswith(mnt.rstrip("/") + "/") and len(mnt) >= len(best):
                    best, opts = mnt, o
    except OSError:
        pass
    return opts.split(",")


def default_tmp():
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return "/tmp"


def create_cost(d, n=300):
    """CPU microseconds to create, write 8 KiB to and close one file in d:
    the floor every saving tool pays per page on that filesystem."""
    probe = tempfile.mkdtemp(prefix="probe-", dir=d)
    try:
        t = time.process_time()
        for i in range(n):
            fd = os.open(os.path.join(probe, str(i)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, b"x" * 8192)
            os.close(fd)
        return (time.process_time() - t) / n * 1e6
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--crawler", default=os.path.join(ROOT, "build-bench/crawler/crawler"))
    p.add_argument("--fixture", default=os.path.join(ROOT, "build-bench/tests/fixture/crawler-fixture"))
    p.add_argument("--quick", action="store_true", help="small sizes, 1 run each (development)")
    p.add_argument("--runs", type=int, help="runs per tool (default 3, quick 1)")
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS))
    p.add_argument("--tools", default=",".join(ALL_TOOLS))
    p.add_argument("--scaling-tools", default="crawler,raw,curl",
                   help="tools for the scaling workload (default crawler,raw,curl)")
    p.add_argument("--install", action="store_true", help="apt-get install the peers first")
    p.add_argument("--output", help="Markdown file (default tests/bench/results-latest.md, "
                   "quick: results-quick.md)")
    p.add_argument("--tmp", default=default_tmp(),
                   help="where run directories (and every tool's output) go; default "
                   "/dev/shm (tmpfs) when it exists, else /tmp")
    p.add_argument("--disk", default="/var/tmp",
                   help="where output directories go for --fs disk and dirty: a directory on "
                   "the disk users crawl to (default /var/tmp, on this machine's ext4 root)")
    p.add_argument("--fs", default=",".join(ALL_FS),
                   help="output places to run every workload on, of tmpfs (--tmp), disk "
                   "(--disk) and dirty (--disk while another program's 1 GiB of writes is "
                   "still dirty; the latency workload only); default tmpfs,disk,dirty")
    p.add_argument("--dirty-tools", default="crawler,wget2",
                   help="tools run in the dirty variant (default crawler,wget2)")
    p.add_argument("--site-pages", type=int, default=5000,
                   help="pages of the recursive workload's site (5000, quick too)")
    p.add_argument("--site-seed", type=int, default=1,
                   help="crawler-fixture --s-seed of the recursive site (1)")
    p.add_argument("--rec-conc", type=int, default=2000,
                   help="recursive workload: crawler -c/--per-host and wget2 --max-threads (2000)")
    p.add_argument("--keep", action="store_true", help="keep run directories")
    p.add_argument("--seed", type=int, default=20240)
    p.add_argument("--tp-conns", type=int, default=64,
                   help="connections for the throughput workload, every tool and wrk (64)")
    p.add_argument("--xargs-procs", type=int, default=1000, help="xargs -P cap (1000)")
    p.add_argument("--xargs-batch", type=int, default=0,
                   help="URLs per curl process under xargs (default: 1, throughput 20)")
    p.add_argument("--wget2-threads", default="500,2000,10000",
                   help="candidates for wget2 --max-threads on delay workloads")
    p.add_argument("--wget2-threads-tp", default="8,64",
                   help="candidates for wget2 --max-threads on the throughput workload")
    p.add_argument("--scaling-cap", type=int, default=10000)
    p.add_argument("--wrk-seconds", type=int, default=5)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--timeout-scale", type=float, default=1.0,
                   help="multiply every per-run timeout by this")
    p.add_argument("--no-build", action="store_true",
                   help="do not run ninja in the binaries' build directory first")
    p.add_argument("--budget", type=float, help="minutes; later runs are skipped (full 240, quick 20)")
    p.add_argument("--wait-idle", type=int, help="seconds to wait for load < 1.5 (full 900, quick 0)")
    a = p.parse_args()
    if a.runs is None:
        a.runs = 1 if a.quick else 3
    if a.budget is None:
        a.budget = 20 if a.quick else 240
    if a.wait_idle is None:
        a.wait_idle = 0 if a.quick else 900
    if a.output is None:
        a.output = os.path.join(HERE, "results-quick.md" if a.quick else "results-latest.md")
    a.wget2_threads = [int(x) for x in a.wget2_threads.split(",")]
    a.wget2_threads_tp = [int(x) for x in a.wget2_threads_tp.split(",")]
    a.fs_list = [f for f in a.fs.split(",") if f]
    a.dirty_tools = [t for t in a.dirty_tools.split(",") if t]
    a.xargs_batch_for = lambda wl: a.xargs_batch or (20 if wl.name == "throughput" else 1)
    return a


def main():
    a = parse_args()
    if a.install:
        install_peers()
    a.built = False
    if not a.no_build:
        # The binaries must be the source's: others commit while we measure.
        bdirs = {exe.split("/crawler/crawler")[0].split("/tests/fixture/")[0]
                 for exe in (a.crawler, a.fixture)}
        for bdir in sorted(bdirs):
            if os.path.exists(os.path.join(bdir, "build.ninja")) and shutil.which("ninja"):
                r = subprocess.run(["ninja", "-C", bdir], capture_output=True, text=True)
                if r.returncode != 0:
                    log("bench: ninja -C %s failed:\n%s" % (bdir, r.stdout[-2000:]))
                    return 2
                a.built = True
    nofile = raise_nofile()
    for exe in (a.crawler, a.fixture):
        if not os.access(exe, os.X_OK):
            log("bench: %s not found; build it: meson setup build-bench --buildtype=release "
                "&& ninja -C build-bench (or pass --crawler/--fixture)" % exe)
            return 2
    tools = [t for t in a.tools.split(",") if t]
    wnames = [w for w in a.workloads.split(",") if w]
    for t in tools:
        if t not in ALL_TOOLS:
            log("bench: unknown tool %s (known: %s)" % (t, ", ".join(ALL_TOOLS)))
            return 2
    for w in wnames:
        if w not in ALL_WORKLOADS:
            log("bench: unknown workload %s (known: %s)" % (w, ", ".join(ALL_WORKLOADS)))
            return 2
    for f in a.fs_list:
        if f not in ALL_FS:
            log("bench: unknown --fs %s (known: %s)" % (f, ", ".join(ALL_FS)))
            return 2
    a.tmp = tempfile.mkdtemp(prefix="crawler-bench-", dir=a.tmp)
    a.disk_tmp = None
    if any(f != "tmpfs" for f in a.fs_list):
        a.disk_tmp = tempfile.mkdtemp(prefix="crawler-bench-", dir=a.disk)
    try:
        ld = wait_idle(a.wait_idle)
        if ld >= 1.5:
            log("bench: load is still %.2f; numbers will be noisy" % ld)
        a.rawclient = build_rawclient(a.tmp)
        a.why = tool_availability(a)
        a.curl_dns_msg = first_line(cmd_out(["curl", "-s", "--dns-servers", "127.0.0.1",
                                             "http://x.test/"])) if shutil.which("curl") else ""
        a.dns53_problem = None
        a.dns_skip = {}
        if "dns" in wnames:
            a.dns53_problem = dns_port_53_usable(a, a.tmp)
            for t in ALL_TOOLS:
                if a.dns53_problem and t != "crawler":
                    a.dns_skip[t] = "no DNS path: " + a.dns53_problem
            a.dns_skip["raw"] = "rawclient does not resolve names"
        header = machine_line(a, nofile)
        fs = "- output directories: tmpfs rows under %s (%s), creating + writing + closing " \
            "one 8 KiB file costs %.0f us CPU there" % (a.tmp, fs_type(a.tmp), create_cost(a.tmp))
        if a.disk_tmp:
            fs += "; disk rows under %s (%s%s), %.0f us" % (
                a.disk_tmp, fs_type(a.disk_tmp),
                ", mounted with discard" if "discard" in mount_opts(a.disk_tmp) else "",
                create_cost(a.disk_tmp))
            if "dirty" in a.fs_list:
                fs += "; dirty rows: the disk while `dd` has just written %d MiB to it without " \
                    "syncing (deleted after each run), /proc/meminfo's Dirty + Writeback " \
                    "at the start is in the table" % DIRTY_MIB
        header.append(fs)
        if a.disk_tmp and fs_type(a.disk_tmp) in ("tmpfs", "ramfs"):
            log("bench: --disk %s is on %s, not a disk" % (a.disk, fs_type(a.disk_tmp)))
        bench = Bench(a)
        bench.wget2_best = {}
        bench.baselines = {}
        bench.profile_lines = []
        bench.wrk_result = {}
        rng = random.Random(a.seed)
        q = a.quick
        # The crawler budgets 5/4 descriptor per transfer plus 64 (a socket
        # each, a temporary file for a quarter of them): crawler/main.c.
        fdcap = max(100, (nofile - 64) * 4 // 5 - 16)
        wls = []
        for w in wnames:
            if w == "recursive":
                c = min(a.rec_conc, fdcap)
                wls.append(make_recursive_workload(a.fixture, a.site_pages, 5, 1000, 8192,
                                                   a.site_seed, c, 120 if q else 180))
            elif w == "latency":
                n = 1000 if q else 10000
                wls.append(make_delay_workload(
                    "latency", "latency", n, 1000, 8192, min(n, fdcap), min(n, fdcap),
                    120 if q else 180, rng,
                    "%d URLs, one host, delays U(0,1000) ms, 8 KiB bodies" % n))
            elif w == "dns":
                hosts = 200 if q else 2000
                wl = make_dns_workload(hosts, 5, 500, 8192, 200, 60 if q else 120, rng)
                wl.conc = min(wl.conc, fdcap)
                wls.append(wl)
            elif w == "throughput":
                n = 5000 if q else 50000
                wls.append(make_delay_workload(
                    "throughput", "throughput", n, 0, 8192, a.tp_conns, a.tp_conns,
                    180 if q else 400, rng,
                    "%d URLs, no delay, 8 KiB bodies, %d connections" % (n, a.tp_conns),
                    fixed_delay=0))
            elif w == "memory":
                n = 1000 if q else 10000
                wls.append(make_delay_workload(
                    "memory", "memory", n, 3000, 8192, min(n, fdcap), min(n, fdcap),
                    120 if q else 180, rng,
                    "%d URLs that all wait 3 s, 8 KiB bodies" % n, fixed_delay=3000))
            elif w == "scaling":
                for n in ([500, 2000, 5000] if q else [1000, 10000, 50000]):
                    c = min(n, a.scaling_cap, fdcap)
                    wls.append(make_delay_workload(
                        "scaling", "scaling-%d" % n, n, 1000, 8192, c, c,
                        120 if q else 300, rng,
                        "%d URLs, delays U(0,1000) ms, concurrency %d" % (n, c)))
        for wl in wls:
            wl.timeout = max(5, int(wl.timeout * a.timeout_scale))
        # Every workload on every output place, one after the other, with
        # the same URLs and bodies; dirty is issue 9's latency case only.
        variants = []
        for wl in wls:
            expect(wl, a.fixture)
            for f in a.fs_list:
                if f != "dirty" or wl.name == "latency":
                    variants.append(wl.on(f))
        wls = variants
        first_fs = a.fs_list[0] if a.fs_list else "tmpfs"
        for wl in wls:
            wtools = tools
            if wl.name == "scaling":
                wtools = [t for t in a.scaling_tools.split(",") if t in tools]
            bench.run_workload(wl, wtools)
            # The side measurements once per workload, on the first place.
            profiled = a.no_profile or a.why.get("crawler") is not None or wl.fs != first_fs
            if wl.name == "throughput" and wl.fs == first_fs:
                bench.wrk_result = bench.wrk(wl, a.tp_conns)
                if not profiled:
                    bench.profile_lines += profile(bench, wl)
            if wl.name == "latency" and not profiled:
                bench.profile_lines += start_order(bench, wl)
            if wl.name == "memory" and not profiled:
                bench.profile_lines += heap_profile(bench)
        text = report(bench, wls, tools, header)
        sys.stdout.write(text)
        with open(a.output, "w") as f:
            f.write(text)
        log("bench: written to %s (%.0f s)" % (a.output, time.monotonic() - bench.t_start))
    finally:
        if not a.keep:
            shutil.rmtree(a.tmp, ignore_errors=True)
            if a.disk_tmp:
                shutil.rmtree(a.disk_tmp, ignore_errors=True)
                # On a disk mounted with `discard` the freed blocks are
                # trimmed at the journal's next commits, for minutes after
                # a large tree goes; the next benchmark must not pay it.
                os.sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
