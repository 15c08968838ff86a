"""Proxies (issue 12, item 5): --proxy and the http_proxy / no_proxy
variables send requests through a forward proxy, which resolves the names:
the crawler makes no DNS query for a proxied host (its DNS server here is a
port where nothing listens), and the proxy's own name is resolved through
c-ares, never by libcurl (no thread: strace sees no clone).  --no-proxy
ignores the variables; bad proxies exit 2, an unresolvable one 3."""

import http.client
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402


def site_fn(req):
    t = req["target"]
    if t == "/robots.txt":
        return 200, [("Content-Type", "text/plain")], b"User-agent: *\n"
    if t == "/one":
        return 200, [("Content-Type", "text/html")], \
            b'<html><a href="/three">3</a></html>'
    return 200, [("Content-Type", "text/plain")], \
        ("%s %s" % (req["headers"].get("host"), t)).encode()


def proxy_fn(site):
    """A forward proxy for absolute-form requests: every host goes to the
    test site (the proxy "resolves" names the crawler could not)."""
    def fn(req):
        u = urllib.parse.urlsplit(req["target"])
        if u.scheme != "http" or not u.hostname:
            return 400, [], b"absolute-form only"
        c = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
        path = u.path + ("?" + u.query if u.query else "")
        c.request("GET", path, headers={"Host": u.netloc})
        r = c.getresponse()
        body = r.read()
        hdrs = [(k, v) for k, v in r.getheaders()
                if k.lower() in ("content-type", "location")]
        c.close()
        return r.status, hdrs, body
    return fn


def env_without_proxies(**extra):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy",
                                "all_proxy")}
    env.update(extra)
    return env


def body(ctx):
    site = pyserve.serve(site_fn)
    proxy = pyserve.serve(proxy_fn(site))
    try:
        run(ctx, site, proxy)
    finally:
        proxy.stop()
        site.stop()


def manifest(work):
    return h.by_url(h.read_manifest(os.path.join(work, "out",
                                                 "manifest.jsonl")))


def run(ctx, site, proxy):
    dead_dns = "127.0.0.1:%d" % h.free_port()
    purl = "http://127.0.0.1:%d" % proxy.port
    a1 = site.url("/one", "a.test")
    b2 = site.url("/two", "b.test")

    # --proxy: every URL, robots.txt and a followed link through it.
    work = ctx.workdir("flag")
    r = ctx.crawl(["-o", "out", "--proxy", purl, "--dns-servers", dead_dns,
                   "-r", a1, b2], cwd=work, env=env_without_proxies())
    r.expect_rc(0)
    recs = manifest(work)
    three = site.url("/three", "a.test")
    for u in (a1, b2, three):
        h.expect_ok(recs[u])
    seen = [q["target"] for q in proxy.requests()]
    for u in (a1, b2, three, site.url("/robots.txt", "a.test")):
        h.check(u in seen, "%s did not go through the proxy: %s" % (u, seen))
    with open(os.path.join(work, "out", recs[b2]["path"])) as f:
        h.check(f.read() == "b.test:%d /two" % site.port, "the body of b2")

    # The variables: http_proxy, with no_proxy naming a host to reach
    # directly.
    work = ctx.workdir("env")
    n = len(proxy.requests())
    direct = site.url("/direct")
    r = ctx.crawl(["-o", "out", "--dns-servers", dead_dns, a1, direct],
                  cwd=work, env=env_without_proxies(
                      http_proxy=purl, no_proxy="localhost, 127.0.0.1"))
    r.expect_rc(0)
    seen = [q["target"] for q in proxy.requests()[n:]]
    h.check(a1 in seen and not any("/direct" in t for t in seen),
            "http_proxy with no_proxy: %s" % seen)
    h.check(any(q["target"] == "/direct" for q in site.requests()),
            "the no_proxy host was not reached directly")

    # --no-proxy: the variable is ignored; a.test must then be resolved,
    # and the DNS server is dead.
    work = ctx.workdir("noproxy")
    n = len(proxy.requests())
    r = ctx.crawl(["-o", "out", "--no-proxy", "--retries", "0",
                   "--dns-servers", dead_dns, a1], cwd=work,
                  env=env_without_proxies(http_proxy=purl), timeout=90)
    r.expect_rc(1)
    h.expect_failed(manifest(work)[a1], "DNS")
    h.check(len(proxy.requests()) == n, "--no-proxy still used the proxy")

    # The proxy by name, resolved through c-ares (the fixture's DNS), and
    # no name of a proxied URL looked up; under strace when there is one:
    # no thread either.
    with ctx.fixture() as fx:
        work = ctx.workdir("byname")
        env = env_without_proxies()
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":detect_leaks=0").lstrip(":")
        strace = shutil.which("strace")
        wrapper = []
        trace = os.path.join(ctx.tmp, "strace.out")
        if strace and subprocess.run([strace, "-f", "-o", os.devnull,
                                      "true"]).returncode == 0:
            wrapper = [strace, "-f", "-qq", "-e",
                       "trace=clone,clone3,fork,vfork", "-o", trace]
        r = ctx.crawl(["-o", "out", "--proxy",
                       "http://proxy.test:%d" % proxy.port,
                       "--dns-servers", fx.dns_arg(), a1, b2], cwd=work,
                      env=env, wrapper=wrapper)
        r.expect_rc(0)
        by_name = fx.stats()["dns_by_name"]
        h.check("proxy.test|A" in by_name, "the proxy's name was not "
                "resolved through c-ares: %s" % by_name)
        h.check(not any(k.startswith(("a.test", "b.test")) for k in by_name),
                "proxied names were looked up: %s" % by_name)
        if wrapper:
            with open(trace) as f:
                calls = [l for l in f if re.search(
                    r"\b(clone|clone3|fork|vfork)\(", l)]
            h.check(not calls, "threads or processes: %s" % calls[:5])
        else:
            h.info("no strace: thread check skipped")

        # A proxy name that does not resolve ends the run: exit 3.
        work = ctx.workdir("nxproxy")
        r = ctx.crawl(["-o", "out", "--proxy", "http://nx.test:1",
                       "--dns-servers", fx.dns_arg(), a1], cwd=work,
                      env=env_without_proxies())
        r.expect_rc(3)
        h.check("nx.test" in r.err, r.describe())

    for i, (args, env) in enumerate((
            (["--proxy", ""], {}),
            (["--proxy", "ftp://h:21"], {}),
            (["--proxy", "http://"], {}),
            (["--proxy", purl, "--no-proxy"], {}),
            ([], {"http_proxy": "socks9://x:1"}))):
        work = ctx.workdir("bad%d" % i)
        r = ctx.crawl(["-o", "out"] + args + [a1], cwd=work,
                      env=env_without_proxies(**env))
        r.expect_rc(2)
        h.check("proxy" in r.err, r.describe())
        h.check_only_entries(work, [])


h.run_test(body)
