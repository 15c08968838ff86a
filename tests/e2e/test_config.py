"""Config files: --config FILE and the default ~/.config/crawler/config
($XDG_CONFIG_HOME) hold long options that apply as if typed before the
command line, so the command line wins; --no-config reads none; a bad
line is refused with FILE:LINE and exit 2, before anything is fetched."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def body(ctx):
    fx = ctx.fixture(log=True)
    try:
        url = fx.url("/p/1")
        env = dict(os.environ)
        xdg = os.path.join(ctx.tmp, "xdg")
        os.makedirs(os.path.join(xdg, "crawler"))
        env["XDG_CONFIG_HOME"] = xdg
        # The default file: output dir and quiet come from it.
        write(os.path.join(xdg, "crawler", "config"),
              "# defaults\noutput = from-config\nquiet\nno-state = yes\n"
              "max-redirects \"3\"\n")
        d = ctx.workdir("default")
        r = ctx.crawl([url], cwd=d, env=env, timeout=30)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(d, "from-config", "manifest.jsonl"))
        h.expect_ok(recs[0])
        h.check(r.err.strip() == "", "quiet from the config file, yet:\n" + r.err)

        # The command line wins over the file.
        d = ctx.workdir("override")
        r = ctx.crawl(["-o", "cli", url], cwd=d, env=env, timeout=30)
        r.expect_rc(0)
        h.check(os.path.exists(os.path.join(d, "cli", "manifest.jsonl")) and
                not os.path.exists(os.path.join(d, "from-config")),
                "-o on the command line did not win: %s" % os.listdir(d))

        # --no-config: the default file is not read (so not quiet).
        d = ctx.workdir("none")
        r = ctx.crawl(["--no-config", "--no-state", "-o", "out", url], cwd=d, env=env,
                      timeout=30)
        r.expect_rc(0)
        h.check("finished" in r.err, "--no-config still read the file:\n" + r.err)

        # --config FILE instead of the default one.
        d = ctx.workdir("explicit")
        write(os.path.join(d, "my.conf"), "--output=mine\n\n  no-state\n")
        r = ctx.crawl(["--config", "my.conf", url], cwd=d, env=env, timeout=30)
        r.expect_rc(0)
        h.check(os.path.exists(os.path.join(d, "mine", "manifest.jsonl")),
                "--config FILE not read: %s" % os.listdir(d))

        # Bad lines: FILE:LINE, exit 2, nothing fetched.
        before = fx.stats()["requests"]
        for text, want in [("concurrency = 4\nbogus = 1\n", "bad.conf:2: unknown option 'bogus'"),
                           ("timeout\n", "bad.conf:1: 'timeout' needs a value"),
                           ("quiet = maybe\n", "bad.conf:1: 'quiet' is a flag"),
                           ("version\n", "bad.conf:1: not an option for a config file"),
                           ("concurrency = 0\n", "--concurrency")]:
            d = ctx.workdir("bad%d" % len(os.listdir(ctx.tmp)))
            write(os.path.join(d, "bad.conf"), text)
            r = ctx.crawl(["--config", "bad.conf", "-o", "out", url], cwd=d, env=env,
                          timeout=30)
            r.expect_rc(2)
            h.check(want in r.err, "expected %r in:\n%s" % (want, r.err))
        d = ctx.workdir("missing")
        r = ctx.crawl(["--config", "nope.conf", url], cwd=d, env=env, timeout=30)
        r.expect_rc(2)
        h.check("nope.conf" in r.err, "no message naming the missing file:\n" + r.err)
        h.check(fx.stats()["requests"] == before, "a refused config still fetched")
    finally:
        fx.stop()


h.run_test(body)
