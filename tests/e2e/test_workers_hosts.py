"""A shared crawl whose workers are separate hosts: three network
namespaces, nothing shared but a veth network.

  R   redis-server, bound only to 192.168.77.1 on a bridge that lives in R
  W1  worker 1, 192.168.77.11 on a veth pair to R's bridge
  W2  worker 2, 192.168.77.12 on a veth pair to R's bridge

Each worker host runs its own copy of the fixture's site on its own loopback
(the site is a pure function of its options; every copy binds the same HTTP
and DNS ports as the reference's fixture in the root namespace, so URLs and
paths are the same everywhere).  The root namespace's network is not touched:
no address, route or link is added there, and nothing can leave the machine.

Checks: Redis is not on a worker's loopback (refused there), so the workers
can only reach it over the veth network; both workers exit 0 with their
Redis line, and each sent at least its reported Redis bytes over its veth;
both did pages; the union of their directories equals a one-process crawl
(files, bytes, one line per URL, statuses, depths); each copy of the site
was asked for exactly the pages its worker recorded, so across the hosts
every page was fetched once; Redis says the crawl is over.

Skipped (77) where namespaces or veth/bridge links cannot be made (not root,
no iproute2, no CAP_NET_ADMIN) or redis-server is missing.  Namespaces are
deleted in a finally block, after the processes in them are stopped.
"""

import collections
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "redis"))

import harness as h  # noqa: E402
import redisfix  # noqa: E402
import test_workers_redis as tw  # noqa: E402

TAG = "%d" % (os.getpid() % 100000)
NS_R, NS_W = "crwr" + TAG, ["crwa" + TAG, "crwb" + TAG]
NET = "192.168.77."
REDIS_ADDR = NET + "1"
WORKER_ADDR = [NET + "11", NET + "12"]
PAGES = 400


def ip(*args, ns=None, timeout=20):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["ip"] + list(args)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr.strip()))
    return p.stdout


def in_ns(ns):
    return ["ip", "netns", "exec", ns]


def make_net():
    """R with a bridge, two worker namespaces on veth pairs to it.  Raises
    Skip where the first namespace or link cannot be made."""
    try:
        ip("netns", "add", NS_R)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        raise h.Skip("cannot make a network namespace: %s" % e)
    try:
        ip("link", "set", "lo", "up", ns=NS_R)
        ip("link", "add", "br0", "type", "bridge", ns=NS_R)
    except RuntimeError as e:
        raise h.Skip("cannot make a bridge in a namespace: %s" % e)
    ip("addr", "add", REDIS_ADDR + "/24", "dev", "br0", ns=NS_R)
    ip("link", "set", "br0", "up", ns=NS_R)
    for i, ns in enumerate(NS_W):
        ip("netns", "add", ns)
        ip("link", "set", "lo", "up", ns=ns)
        # Both ends are made in R, so nothing appears in the root namespace
        # even for a moment; then one end moves to the worker's namespace.
        try:
            ip("link", "add", "sw%d" % i, "type", "veth", "peer", "name", "eth%d" % i,
               ns=NS_R)
        except RuntimeError as e:
            raise h.Skip("cannot make a veth pair: %s" % e)
        ip("link", "set", "eth%d" % i, "netns", ns, ns=NS_R)
        ip("link", "set", "sw%d" % i, "master", "br0", ns=NS_R)
        ip("link", "set", "sw%d" % i, "up", ns=NS_R)
        ip("addr", "add", WORKER_ADDR[i] + "/24", "dev", "eth%d" % i, ns=ns)
        ip("link", "set", "eth%d" % i, "up", ns=ns)


def ns_exists(ns):
    try:
        return ns in ip("netns", "list").split()
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False


def drop_net():
    """Stops whatever still runs in our namespaces (all started here), then
    deletes them (the bridge and veth pairs go with them)."""
    for ns in [NS_R] + NS_W:
        if not ns_exists(ns):
            continue
        try:
            pids = ip("netns", "pids", ns).split()
        except RuntimeError:
            pids = []
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ValueError, ProcessLookupError):
                pass
        try:
            ip("netns", "del", ns)
        except RuntimeError as e:
            h.info("could not delete namespace %s: %s" % (ns, e))


def tx_bytes(ns, dev):
    """Bytes sent by dev in ns (sysfs as the namespace sees it)."""
    out = subprocess.run(in_ns(ns) + ["cat", "/sys/class/net/%s/statistics/tx_bytes" % dev],
                         capture_output=True, text=True, timeout=20)
    return int(out.stdout.strip() or 0)


def site_copy(ctx, ns, ports, log_path):
    """The site's fixture in ns, on the reference's ports."""
    wrapper = os.path.join(ctx.tmp, "fixture-in-" + ns)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n" % (ns, ctx.fixture_exe))
    os.chmod(wrapper, 0o755)
    fx = h.Fixture(wrapper, lifetime=600,
                   extra=tw.site_args(PAGES, 20) + ["--http-port", str(ports[0]),
                                                    "--dns-port", str(ports[1]),
                                                    "--log", log_path])
    h.check(fx.http_port == ports[0] and fx.dns_port == ports[1],
            lambda: "the copy in %s is on %s, not %s" % (ns, (fx.http_port, fx.dns_port), ports))
    return fx


def read_log(path):
    """/s/ targets of a fixture's --log, counted (read after it stopped)."""
    got = collections.Counter()
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            target = line.partition(b" ")[2].decode("latin-1")
            if target.startswith("/s/"):
                got[target] += 1
    return got


def body(ctx):
    if os.geteuid() != 0:
        raise h.Skip("network namespaces need root")
    if not shutil.which("ip"):
        raise h.Skip("iproute2 (ip) is not installed")
    exe = redisfix.find_redis()
    if not exe:
        raise h.Skip("redis-server is not installed (tests/deps.sh installs it)")
    copies = []
    workers = []
    redis = None
    try:
        make_net()
        with tw.Site(ctx, PAGES, 20) as site:
            ref_recs, ref_files = tw.reference_crawl(ctx, site, "reference")
            ports = (site.fx.http_port, site.fx.dns_port)
            logs = [os.path.join(ctx.tmp, "site-%d.log" % i) for i in range(2)]
            for i, ns in enumerate(NS_W):
                copies.append(site_copy(ctx, ns, ports, logs[i]))
            rdir = os.path.join(ctx.tmp, "redis")
            os.mkdir(rdir)
            redis = redisfix.Redis(exe, workdir=rdir, host=REDIS_ADDR, wrapper=in_ns(NS_R),
                                   cli_wrapper=in_ns(NS_R))
            redis.start()
            # Not on a worker's loopback: only the veth network leads to it.
            local = redisfix.Redis(exe, port=redis.port, workdir=rdir,
                                   cli_wrapper=in_ns(NS_W[0]))
            try:
                local.cli("PING")
                raise h.Failure("Redis answers on 127.0.0.1 in a worker's namespace")
            except ConnectionError:
                pass
            for i, ns in enumerate(NS_W):
                pong = redisfix.Redis(exe, port=redis.port, workdir=rdir, host=REDIS_ADDR,
                                      cli_wrapper=in_ns(ns)).cli("PING")
                h.check(pong == "PONG", "no PONG from %s over the veth network" % ns)
            name = "hosts"
            tx0 = [tx_bytes(ns, "eth%d" % i) for i, ns in enumerate(NS_W)]
            # Described from a worker host too.
            r = ctx.crawl(["--redis", redis.url, "--crawl", name] + site.scope() + [site.seed],
                          timeout=30, wrapper=in_ns(NS_W[0]))
            r.expect_rc(0)
            tw.check_described(r, name)
            for i, ns in enumerate(NS_W):
                workers.append(tw.Worker(ctx.crawler, redis.url, name,
                                         os.path.join(ctx.tmp, "w%d" % i),
                                         ["--dns-servers", "127.0.0.1:%d" % ports[1]],
                                         wrapper=in_ns(ns)))
            tw.wait_all(workers)
            recs = []
            for i, w in enumerate(workers):
                line = tw.check_worker_ok(w)
                mine = w.records()
                tw.check_output_dir(w, mine)
                h.check(mine, lambda: "the worker in %s did no page\n%s" % (NS_W[i], w.describe()))
                sent = tx_bytes(NS_W[i], "eth%d" % i) - tx0[i]
                h.check(sent >= line[2], lambda: "the worker in %s reports %d bytes to Redis, "
                        "its veth sent %d" % (NS_W[i], line[2], sent))
                h.info("%s: %d pages, %d bytes to Redis, %d bytes through its veth"
                       % (NS_W[i], len(mine), line[2], sent))
                recs.append(mine)
            later = []
            tw.compare_to_reference(ref_recs, ref_files, recs[0] + recs[1],
                                    tw.union_files([w.out for w in workers]),
                                    "two workers in two namespaces", later)
            h.check(not later, lambda: "\n".join(later))
            tw.redis_over(redis, name, "two workers in two namespaces")
            for fx in copies:
                fx.stop()
            for i in range(2):
                got = read_log(logs[i])
                want = collections.Counter(h.split_url(rec["url"])[1] for rec in recs[i])
                h.check(got == want, lambda: "the site in %s was asked for other pages than its "
                        "worker recorded: asked, not recorded %s; recorded, not asked %s"
                        % (NS_W[i], sorted(got - want)[:5], sorted(want - got)[:5]))
            h.info("two hosts: %d + %d pages, each fetched once, union = one process"
                   % (len(recs[0]), len(recs[1])))
    finally:
        for w in workers:
            w.kill()
        for fx in copies:
            fx.stop()
        if redis is not None:
            redis.close()
        drop_net()


if __name__ == "__main__":
    h.run_test(body)
