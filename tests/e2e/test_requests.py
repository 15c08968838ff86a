"""What requests carry (issue 12, item 5): --header lines, credentials
(--user/--password, --netrc-file) sent only to the seeds' origins and never
to a redirect target or link on another origin, Basic sent at once after
the first challenge, no secret in any output file, state or message;
cookies kept through the crawler's own redirects, loaded and saved."""

import base64
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import pyserve  # noqa: E402

USER = "alice"
SECRET = "s3cr3t-Pw-7731"
TOKEN = "tok-9d1e2f-secret"
GOOD_AUTH = "Basic " + base64.b64encode(
    ("%s:%s" % (USER, SECRET)).encode()).decode()


def page(text, links=()):
    body = "<html><body>%s%s</body></html>" % (
        text, "".join('<a href="%s">x</a>' % l for l in links))
    return [("Content-Type", "text/html")], body.encode()


def main_site(other):
    """The seeds' site.  /private/* wants Basic USER:SECRET."""
    def fn(req):
        t = req["target"]
        hd = req["headers"]
        if t == "/echo":
            return 200, [("Content-Type", "application/json")], \
                json.dumps(hd, sort_keys=True).encode()
        if t.startswith("/private/"):
            if hd.get("authorization") != GOOD_AUTH:
                return 401, [("WWW-Authenticate", 'Basic realm="r"')], b"no"
            if t == "/private/index":
                hdrs, body = page("index", [other.url("/leak-link")])
                return 200, hdrs, body
            if t == "/private/slow":
                time.sleep(20)
            return 200, [("Content-Type", "text/plain")], b"private " + \
                t.encode()
        if t == "/redir-other":
            return 302, [("Location", other.url("/leak-redirect"))], b""
        if t == "/setcookie":
            return 302, [("Set-Cookie", "sid=abc123; Path=/"),
                         ("Location", "/needcookie")], b""
        if t == "/needcookie":
            ok = "sid=abc123" in hd.get("cookie", "")
            return (200 if ok else 403), [], b"cookie" if ok else b"none"
        if t == "/needloaded":
            ok = "pre=loaded1" in hd.get("cookie", "")
            return (200 if ok else 403), [], b"loaded" if ok else b"none"
        return 404, [], b"not found"
    return fn


def other_site(req):
    """Another origin, which asks every request for credentials: any it
    gets leaked."""
    return 401, [("WWW-Authenticate", 'Basic realm="other"')], b"other"


def all_output(work, r):
    """Every byte the crawl left: files under work, stdout, stderr."""
    blobs = [r.stdout, r.stderr]
    for dirpath, _, names in os.walk(work):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as f:
                blobs.append(f.read())
    return b"\n".join(blobs)


def body(ctx):
    with pyserve.serve(other_site) as other:
        site = pyserve.serve(main_site(other))
        try:
            run(ctx, site, other)
        finally:
            site.stop()


def run(ctx, site, other):
    # --header, and one replacing the User-Agent.
    work = ctx.workdir("headers")
    r = ctx.crawl(["-o", "out", "--header", "X-Test: one",
                   "--header=X-Other:two", "--header",
                   "User-Agent: custom/9", site.url("/echo")], cwd=work)
    r.expect_rc(0)
    recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
    with open(os.path.join(work, "out", recs[0]["path"])) as f:
        got = json.load(f)
    h.check(got.get("x-test") == "one" and got.get("x-other") == "two"
            and got.get("user-agent") == "custom/9",
            "headers sent: %r" % got)
    for i, bad in enumerate(("NoColon", "Bad Name: x", ": empty",
                             "X-A: b\nX-B: c")):
        work = ctx.workdir("badheader%d" % i)
        r = ctx.crawl(["-o", "out", "--header", bad, site.url("/echo")],
                      cwd=work)
        r.expect_rc(2)
        h.check("--header" in r.err, lambda: r.describe())
        h.check_only_entries(work, [])

    # Credentials: only to the seeds' origin; Basic at once after the
    # first 401; a redirect and a link to another origin get nothing.
    before = len(site.requests())
    work = ctx.workdir("auth")
    r = ctx.crawl(["-o", "out", "-c", "1", "--retries", "0", "--user", USER,
                   "--password", SECRET, "--header",
                   "Authorization-Hint: none", "-r", "--span-hosts",
                   "--no-robots", site.url("/private/index"),
                   site.url("/private/a"), site.url("/private/b"),
                   site.url("/redir-other")], cwd=work)
    r.expect_rc(1)
    recs = h.by_url(h.read_manifest(os.path.join(work, "out",
                                                 "manifest.jsonl")))
    for u in ("/private/index", "/private/a", "/private/b"):
        h.expect_ok(recs[site.url(u)])
    h.expect_failed(recs[site.url("/redir-other")], "401")
    h.expect_failed(recs[other.url("/leak-link")], "401")
    leaked = [q for q in other.requests() if "authorization" in q["headers"]]
    h.check(not leaked, "credentials went to another origin: %r" % leaked)
    mine = site.requests()[before:]
    challenged = [q for q in mine if q["target"].startswith("/private/")
                  and "authorization" not in q["headers"]]
    h.check(len(challenged) == 1, "one challenge, then Basic at once: "
            "%d requests went without credentials: %r"
            % (len(challenged), challenged))
    h.check(SECRET.encode() not in all_output(work, r),
            "the password is in the output, manifest or messages")

    # A wrong password: the 401 is the URL's failure.
    work = ctx.workdir("wrong")
    r = ctx.crawl(["-o", "out", "--user", USER, "--password", "nope",
                   site.url("/private/a")], cwd=work)
    r.expect_rc(1)
    rec = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))[0]
    h.expect_failed(rec, "401")
    work = ctx.workdir("nouser")
    r = ctx.crawl(["-o", "out", "--password", SECRET, site.url("/")],
                  cwd=work)
    r.expect_rc(2)
    h.check(SECRET not in r.err, "the password in a message: " + r.err)

    # netrc: the same, from a file; not to the other origin (same host
    # name, other port: netrc alone would send it).
    work = ctx.workdir("netrc")
    with open(os.path.join(work, "netrc"), "w") as f:
        f.write("machine 127.0.0.1 login %s password %s\n" % (USER, SECRET))
    before = len(other.requests())
    r = ctx.crawl(["-o", "out", "--netrc-file", "netrc",
                   site.url("/private/a"), site.url("/redir-other")],
                  cwd=work)
    r.expect_rc(1)
    recs = h.by_url(h.read_manifest(os.path.join(work, "out",
                                                 "manifest.jsonl")))
    h.expect_ok(recs[site.url("/private/a")])
    leaked = [q for q in other.requests()[before:]
              if "authorization" in q["headers"]]
    h.check(not leaked, "netrc credentials went to another origin: %r"
            % leaked)
    work = ctx.workdir("netrc-missing")
    r = ctx.crawl(["-o", "out", "--netrc-file", "nope", site.url("/")],
                  cwd=work)
    r.expect_rc(2)

    # A credential header goes where credentials go, no further.
    work = ctx.workdir("authheader")
    before = len(other.requests())
    r = ctx.crawl(["-o", "out", "--header", "Authorization: Bearer " + TOKEN,
                   site.url("/redir-other")], cwd=work)
    r.expect_rc(1)
    leaked = [q for q in other.requests()[before:]
              if "authorization" in q["headers"]]
    h.check(not leaked, "an Authorization header went to another origin: "
            "%r" % leaked)
    h.check(TOKEN.encode() not in all_output(work, r),
            "the token is in the output")

    # Interrupted with state kept: no secret in DIR/.crawler either.
    work = ctx.workdir("state")
    errp = os.path.join(ctx.tmp, "state.err")
    with open(errp, "wb") as ef:
        p = subprocess.Popen([ctx.crawler, "-o", "out", "--user", USER,
                              "--password", SECRET, "--header",
                              "Cookie: c=" + TOKEN, site.url("/private/a"),
                              site.url("/private/slow")], cwd=work,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=ef)
        try:
            deadline = time.monotonic() + 15
            while not any(q["target"] == "/private/slow" and
                          "authorization" in q["headers"]
                          for q in site.requests()):
                h.check(time.monotonic() < deadline and p.poll() is None,
                        "the slow page was never requested")
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    h.check(rc == 130, "SIGINT: exit status %s" % rc)
    h.check(os.path.isdir(os.path.join(work, "out", ".crawler")),
            "no crawl state kept")
    with open(errp, "rb") as f:
        err = f.read()
    h.check_sanitizers(err)
    blob = all_output(work, h.Result([], rc, b"", err, 0))
    h.check(SECRET.encode() not in blob and TOKEN.encode() not in blob,
            "a secret in the crawl state, manifest or messages")

    # Cookies: set by a 302 the crawler follows itself, sent on the next
    # request; loaded from a file; saved at the end.
    work = ctx.workdir("nocookies")
    r = ctx.crawl(["-o", "out", site.url("/setcookie")], cwd=work)
    r.expect_rc(1)
    work = ctx.workdir("cookies")
    with open(os.path.join(work, "in.txt"), "w") as f:
        f.write("# Netscape HTTP Cookie File\n"
                "127.0.0.1\tFALSE\t/\tFALSE\t0\tpre\tloaded1\n")
    r = ctx.crawl(["-o", "out", "--load-cookies", "in.txt", "--save-cookies",
                   "jar.txt", site.url("/setcookie"),
                   site.url("/needloaded")], cwd=work)
    r.expect_rc(0)
    recs = h.by_url(h.read_manifest(os.path.join(work, "out",
                                                 "manifest.jsonl")))
    h.check(recs[site.url("/setcookie")]["final_url"] ==
            site.url("/needcookie"), h.show(recs[site.url("/setcookie")]))
    with open(os.path.join(work, "jar.txt")) as f:
        jar = f.read()
    h.check("sid\tabc123" in jar and "pre\tloaded1" in jar,
            "saved cookies:\n" + jar)
    work = ctx.workdir("cookies-on")
    r = ctx.crawl(["-o", "out", "--cookies", site.url("/setcookie")],
                  cwd=work)
    r.expect_rc(0)
    for args in (["--load-cookies", "missing.txt"],
                 ["--save-cookies", "nodir/jar.txt"]):
        work = ctx.workdir("cookiebad" + args[0])
        r = ctx.crawl(["-o", "out"] + args + [site.url("/")], cwd=work)
        r.expect_rc(2)
        h.check(args[0] in r.err, r.describe())


h.run_test(body)
