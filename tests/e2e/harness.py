"""Shared helpers for the end-to-end tests of the real crawler binary.

Each test is one script run as

    python3 test_NAME.py CRAWLER_EXE FIXTURE_EXE

and uses run_test(body) from this module: body(ctx) gets a Context with the
two executables and a fresh temporary directory.  A test passes when body
returns, fails (exit status 1, with the message on stderr) when a check
fails or anything raises, and is skipped (exit status 77) on Skip.

Everything is bounded: the fixture is started with --lifetime, every wait
polls with a deadline, every crawler run has a subprocess timeout, and the
fixture is stopped (SIGTERM, then SIGKILL) in a finally block and at exit.
Wall-clock times are printed for information only, never asserted.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

SKIP = 77


class Failure(Exception):
    """A check failed; the message says what was expected and what came."""


class Skip(Exception):
    """The test cannot run here (a tool is missing); exit status 77."""


def check(cond, msg):
    """Fails the test with msg (a string or a callable giving one) unless
    cond is true."""
    if not cond:
        raise Failure(msg() if callable(msg) else msg)


def tail(text, n=30):
    """The last n lines of text (str or bytes), for failure messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(lines) > n:
        lines = ["... (%d lines before)" % (len(lines) - n)] + lines[-n:]
    return "\n".join(lines)


def info(msg):
    """An informational line on stdout (shown in the meson test log)."""
    print(msg, flush=True)


# ---------------------------------------------------------------- fixture

_live_fixtures = []


def stop_process(proc):
    """SIGTERM, then SIGKILL after 5 s: a server must never outlive its
    test."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _stop_all_fixtures():
    for fx in list(_live_fixtures):
        fx.stop()


atexit.register(_stop_all_fixtures)


def wait_port_file(proc, path, timeout, what, stderr_fn):
    """Waits for a server's port file (NAME=PORT lines, written by temp file
    and rename) and returns {NAME: PORT}; fails if the server exits first or
    writes none within timeout seconds."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        rc = proc.poll()
        if rc is not None:
            raise Failure("%s exited with %d before writing its port file:\n%s"
                          % (what, rc, stderr_fn()))
        if time.monotonic() > deadline:
            raise Failure("%s wrote no port file within %.0f s" % (what, timeout))
        time.sleep(0.02)
    ports = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if v:
                ports[k] = int(v)
    return ports


class Fixture:
    """The fixture HTTP + DNS server in its own temporary directory.

    Fixture(exe, dns=True, dns_delay=None, log=False, extra=()) starts it on
    ephemeral ports and waits (bounded) for its port file.  Use it as a
    context manager, or call stop(); it is also stopped at exit."""

    def __init__(self, exe, dns=True, dns_delay=None, log=False, extra=(),
                 lifetime=120, start_timeout=10.0):
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="crawler-e2e-fx-")
        self.port_file = os.path.join(self.dir, "ports")
        self.log_file = os.path.join(self.dir, "requests.log") if log else None
        self.stderr_path = os.path.join(self.dir, "stderr")
        args = [exe, "--http-port", "0", "--port-file", self.port_file,
                "--lifetime", str(lifetime), "--quiet"]
        if dns:
            args += ["--dns-port", "0"]
        if dns_delay is not None:
            args += ["--dns-delay", str(dns_delay)]
        if self.log_file:
            args += ["--log", self.log_file]
        args += list(extra)
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr,
                                     cwd=self.dir)
        _live_fixtures.append(self)
        self.http_port = None
        self.dns_port = None
        try:
            self._wait_ports(dns, start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ports(self, dns, timeout):
        ports = wait_port_file(self.proc, self.port_file, timeout, "fixture",
                               self.stderr_text)
        self.ports = ports
        self.http_port = ports.get("http")
        self.dns_port = ports.get("dns")
        check(self.http_port, "fixture port file has no http= line")
        check(not dns or self.dns_port, "fixture port file has no dns= line")

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return tail(f.read())
        except OSError:
            return ""

    def url(self, target, host="127.0.0.1"):
        """http://HOST:PORT + target (target starts with '/')."""
        return "http://%s:%d%s" % (host, self.http_port, target)

    def dns_arg(self):
        """The value for the crawler's --dns-servers."""
        return "127.0.0.1:%d" % self.dns_port

    def stats(self, timeout=10.0):
        """GET /_stats, parsed.  Also flushes the request log."""
        with urllib.request.urlopen(self.url("/_stats"),
                                    timeout=timeout) as r:
            body = r.read()
        try:
            return json.loads(body)
        except ValueError as e:
            raise Failure("/_stats is not JSON (%s): %r" % (e, body[:300]))

    def log_lines(self):
        """The request log, one (host, target) pair per request; flushed
        through /_stats first."""
        check(self.log_file, "fixture started without log=True")
        self.stats()
        out = []
        with open(self.log_file, "rb") as f:
            for line in f.read().split(b"\n"):
                if line:
                    host, _, target = line.partition(b" ")
                    out.append((host.decode("latin-1"),
                                target.decode("latin-1")))
        return out

    def stop(self):
        stop_process(self.proc)
        if self in _live_fixtures:
            _live_fixtures.remove(self)
            self._stderr.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def print_bodies(self, host, targets, extra=()):
        """The exact identity bodies the fixture serves for each target of
        host, from ONE crawler-fixture --print-bodies process."""
        return print_bodies(self.exe, host, targets, extra)


def print_bodies(fixture_exe, host, targets, extra=()):
    """Runs `crawler-fixture --print-bodies HOST` once with the targets on
    stdin and returns their bodies, in order."""
    targets = list(targets)
    for t in targets:
        check("\n" not in t and "\r" not in t,
              "target with a line break cannot be printed: %r" % t)
    data = "".join(t + "\n" for t in targets).encode("latin-1")
    p = subprocess.run([fixture_exe] + list(extra) + ["--print-bodies", host],
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(p.returncode == 0, lambda: "--print-bodies exited with %d: %s"
          % (p.returncode, tail(p.stderr)))
    out = p.stdout
    bodies = []
    pos = 0
    for t in targets:
        nl = out.index(b"\n", pos)
        n = int(out[pos:nl])
        bodies.append(out[nl + 1:nl + 1 + n])
        pos = nl + 1 + n
    check(pos == len(out), "--print-bodies gave %d trailing bytes"
          % (len(out) - pos))
    return bodies


# ---------------------------------------------------------------- crawler

class Result:
    def __init__(self, args, rc, stdout, stderr, seconds):
        self.args = args
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    @property
    def err(self):
        return self.stderr.decode("utf-8", "replace")

    def describe(self):
        shown = [a if len(a) < 200 else a[:200] + "..." for a in self.args]
        return ("command: %s\nexit status: %s\nstderr (tail):\n%s"
                % (" ".join(shown), self.rc, tail(self.stderr)))

    def expect_rc(self, rc):
        check(self.rc == rc, lambda: "expected exit status %d\n%s"
              % (rc, self.describe()))


def run_crawler(exe, args, timeout=60, stdin=None, cwd=None, env=None,
                wrapper=()):
    """Runs the crawler with args (a list), bounded by timeout seconds.
    stdin is bytes or None.  Returns a Result; a run that does not end in
    time is killed and fails the test."""
    cmd = list(wrapper) + [exe] + list(args)
    if env is None or "XDG_CONFIG_HOME" not in env:
        # The user's own ~/.config/crawler/config must not change a test.
        env = dict(os.environ if env is None else env,
                   XDG_CONFIG_HOME=os.path.join(tempfile.gettempdir(), "crawler-e2e-no-config"))
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, input=stdin if stdin is not None else b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired as e:
        raise Failure("crawler did not finish within %d s\ncommand: %s\n"
                      "stderr (tail):\n%s"
                      % (timeout, " ".join(cmd)[:2000], tail(e.stderr or b"")))
    r = Result(cmd, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    info("crawler exit %d in %.2f s (informational)" % (r.rc, r.seconds))
    check_sanitizers(r.stderr, r.describe)
    return r


_SANITIZER_RE = re.compile(rb"ERROR: (Address|Leak|Memory|Thread)Sanitizer|"
                           rb"runtime error: |SUMMARY: \w+Sanitizer")


def check_sanitizers(stderr, describe=None):
    """Fails if stderr holds a sanitizer report (a report can come with
    exit status 1, which is also the status of a crawl with failures)."""
    m = _SANITIZER_RE.search(stderr)
    if m:
        start = max(0, m.start() - 200)
        raise Failure("sanitizer report on stderr:\n%s%s"
                      % (stderr[start:start + 4000].decode("utf-8",
                                                           "replace"),
                         "\n" + describe() if describe else ""))


MANIFEST_KEYS = ("url", "final_url", "status", "path", "bytes",
                 "content_type", "seconds", "attempts", "redirects", "error",
                 "skipped", "etag", "last_modified", "change", "crawl")


def read_manifest(path):
    """The manifest's records.  Every line must be a complete JSON object
    with every documented field."""
    check(os.path.isfile(path), "no manifest at %s" % path)
    with open(path, "rb") as f:
        data = f.read()
    return parse_manifest(data, path)


def parse_manifest(data, where="manifest"):
    check(data == b"" or data.endswith(b"\n"),
          "%s does not end with a newline: %r" % (where, data[-200:]))
    records = []
    for i, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            rec = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Failure("%s line %d is not JSON (%s): %r"
                          % (where, i, e, line[:300]))
        check(isinstance(rec, dict), "%s line %d is not an object: %r"
              % (where, i, line[:300]))
        missing = [k for k in MANIFEST_KEYS if k not in rec]
        check(not missing, "%s line %d lacks %s: %r"
              % (where, i, missing, line[:300]))
        records.append(rec)
    return records


def show(rec):
    """One manifest record as a line, for messages (long fields cut)."""
    s = json.dumps(rec)
    return s if len(s) < 600 else s[:600] + "..."


def by_url(records):
    """{url: record}; fails on a URL recorded twice."""
    out = {}
    for rec in records:
        check(rec["url"] not in out, "URL recorded twice in the manifest: "
              "%s\n%s" % (show(out.get(rec["url"], {})), show(rec)))
        out[rec["url"]] = rec
    return out


def expect_ok(rec, status=200):
    """A record of a saved page."""
    check(rec["error"] is None and rec["status"] == status
          and isinstance(rec["path"], str),
          lambda: "expected a saved page (status %d, error null):\n%s"
          % (status, show(rec)))


def expect_failed(rec, error_re=None):
    """A record of a failed URL: an error, no path, no bytes.  error_re is
    searched (case-insensitive) in the error."""
    check(isinstance(rec["error"], str) and rec["error"]
          and rec["path"] is None,
          lambda: "expected a failure without a file:\n%s" % show(rec))
    if error_re:
        check(re.search(error_re, rec["error"], re.I),
              lambda: "expected an error matching /%s/:\n%s"
              % (error_re, show(rec)))


_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)([^#]*)")


def split_url(url):
    """(host without port, lower case; target as sent) of an absolute
    URL."""
    m = _URL_RE.match(url)
    check(m, "not an absolute URL: %r" % url)
    authority, target = m.group(1), m.group(2)
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host = authority[:authority.index("]") + 1]
    else:
        host = authority.partition(":")[0]
    if not target.startswith("/"):
        target = "/" + target
    return host.lower(), target


def verify_saved(fixture_exe, out_dir, records, extra=()):
    """Every record with a path: the file exists there, relative to
    out_dir, and holds exactly the body the fixture serves for final_url
    (one --print-bodies process per host).  Returns the number checked."""
    groups = {}
    for rec in records:
        if rec["path"] is None:
            continue
        check_rel_path(rec["path"], rec)
        _, target = split_url(rec["final_url"])
        # As the Host header the crawler sent: with a non-default port,
        # which pages of the fixture's --site-peers mode show in links.
        host = _URL_RE.match(rec["final_url"]).group(1).rpartition("@")[2].lower()
        groups.setdefault(host, []).append((rec, target))
    n = 0
    for host, items in groups.items():
        bodies = print_bodies(fixture_exe, host, [t for _, t in items], extra)
        for (rec, target), want in zip(items, bodies):
            fp = os.path.join(out_dir, rec["path"])
            check(os.path.isfile(fp) and not os.path.islink(fp),
                  lambda: "manifest names a file that is not there: %s\n%s"
                  % (fp, show(rec)))
            with open(fp, "rb") as f:
                got = f.read()
            if got != want:
                at = next((i for i in range(min(len(got), len(want)))
                           if got[i] != want[i]), min(len(got), len(want)))
                raise Failure("%s differs from the fixture's body for %s %s:"
                              " %d bytes saved, %d expected, first "
                              "difference at byte %d\n%s"
                              % (fp, host, target, len(got), len(want), at,
                                 show(rec)))
            check(rec["bytes"] == len(want),
                  lambda: "manifest bytes %r, body has %d\n%s"
                  % (rec["bytes"], len(want), show(rec)))
            n += 1
    return n


def check_rel_path(p, rec=None):
    """A manifest path: relative, no '.' or '..' or empty component, no
    control character."""
    where = "\n" + show(rec) if rec else ""
    check(p and not p.startswith("/"), "path not relative: %r%s" % (p, where))
    parts = p.split("/")
    check(all(c not in ("", ".", "..") for c in parts),
          "path with an empty, '.' or '..' component: %r%s" % (p, where))
    check(not any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in p),
          "path with a control character: %r%s" % (p, where))


# ---------------------------------------------------------------- files

def list_tree(root):
    """Every entry under root, as relative paths: (files, dirs, others).
    Symlinks are not followed and count as others."""
    files, dirs, others = [], [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        for d in list(dirnames):
            p = os.path.normpath(os.path.join(rel, d))
            if os.path.islink(os.path.join(dirpath, d)):
                others.append(p)
                dirnames.remove(d)
            else:
                dirs.append(p)
        for f in filenames:
            p = os.path.normpath(os.path.join(rel, f))
            full = os.path.join(dirpath, f)
            if os.path.isfile(full) and not os.path.islink(full):
                files.append(p)
            else:
                others.append(p)
    return sorted(files), sorted(dirs), sorted(others)


def check_confined(root, out, allowed=()):
    """Every file under root lies inside out, except the files named in
    allowed beside out; nothing is a symlink or special file; no name holds
    a control character or a backslash or is longer than NAME_MAX."""
    files, dirs, others = list_tree(root)
    rel_out = os.path.relpath(out, root)
    ok_outside = set(os.path.join(os.path.dirname(rel_out), a)
                     for a in allowed)
    outside = [f for f in files if not f.startswith(rel_out + "/")
               and f not in ok_outside]
    check(not outside, "files written outside the output directory: %s"
          % outside[:10])
    check(not others, "symlinks or special files created: %s" % others[:10])
    for p in files + dirs:
        check(not any(ord(c) < 0x20 or ord(c) == 0x7f for c in p),
              "a name with a control character: %r" % p)
        for comp in p.split("/"):
            check("\\" not in comp, "a name with a backslash: %r" % p)
            check(len(os.fsencode(comp)) <= 255,
                  "a name longer than 255 bytes: %r" % comp)


def check_only_entries(parent, expected):
    """parent holds exactly the names in expected (nothing was created
    beside the output directory)."""
    got = sorted(os.listdir(parent))
    check(got == sorted(expected),
          lambda: "unexpected entries in %s (a file written outside the "
          "output directory?): %s, expected only %s"
          % (parent, [n for n in got if n not in expected], sorted(expected)))


def check_no_tmp(out_dir):
    """DIR/.crawler-tmp is absent or empty."""
    tmp = os.path.join(out_dir, ".crawler-tmp")
    if os.path.isdir(tmp):
        left = []
        for dirpath, _, names in os.walk(tmp):
            left += [os.path.join(dirpath, n) for n in names]
        check(not left, "temporary files left behind: %s" % left[:10])


def page_files(out_dir, manifest_name="manifest.jsonl"):
    """The regular files under out_dir except the manifest and anything
    in .crawler-tmp; fails on symlinks or special files."""
    files, _, others = list_tree(out_dir)
    check(not others, "symlinks or special files in the output: %s"
          % others[:10])
    return sorted(f for f in files if f != manifest_name
                  and f.split("/")[0] not in (".crawler-tmp", ".crawler"))


def check_files_match_manifest(out_dir, records):
    """The page files under out_dir are exactly the paths of the manifest's
    saved records: no file for a failed URL, no stray file."""
    files = set(page_files(out_dir))
    named = set(r["path"] for r in records if r["path"] is not None)
    extra = sorted(files - named)
    missing = sorted(named - files)
    check(not extra, lambda: "files that no manifest line names (a failed "
          "URL left a file?): %s" % extra[:10])
    check(not missing, lambda: "manifest paths with no file: %s"
          % missing[:10])
    check(len(named) == sum(1 for r in records if r["path"] is not None),
          "two manifest lines name the same file")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then
    closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- driver

class Context:
    def __init__(self, crawler, fixture, tmp):
        self.crawler = crawler
        self.fixture_exe = fixture
        self.tmp = tmp

    def fixture(self, **kw):
        return Fixture(self.fixture_exe, **kw)

    def workdir(self, name):
        """A fresh empty directory under the test's temporary dir, to run
        one crawl in (cwd), with its output dir at WORK/out."""
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        return d

    def crawl(self, args, timeout=60, **kw):
        return run_crawler(self.crawler, args, timeout=timeout, **kw)

    def crawl_checked(self, name, urls, extra=(), rc=None):
        """Crawls urls into WORK/out in a fresh work dir and checks what
        every crawl must satisfy: one manifest line per URL, saved pages
        byte-exact, files and manifest agreeing, no temporary files, nothing
        outside out/.  Returns (result, records by URL, out dir)."""
        work = self.workdir(name)
        r = self.crawl(["-o", "out"] + list(extra) + list(urls), cwd=work)
        if rc is not None:
            r.expect_rc(rc)
        out = os.path.join(work, "out")
        recs = read_manifest(os.path.join(out, "manifest.jsonl"))
        check(len(recs) == len(urls), lambda: "%s: expected %d manifest lines,"
              " got %d\n%s" % (name, len(urls), len(recs), r.describe()))
        verify_saved(self.fixture_exe, out, recs)
        check_files_match_manifest(out, recs)
        check_no_tmp(out)
        check_only_entries(work, ["out"])
        return r, by_url(recs), out


def run_test(body):
    """Runs body(ctx) with ctx.crawler, ctx.fixture_exe and ctx.tmp from
    argv, and exits 0 (pass), 1 (fail) or 77 (skip)."""
    if len(sys.argv) != 3:
        print("usage: %s CRAWLER FIXTURE" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    crawler, fixture = (os.path.abspath(a) for a in sys.argv[1:3])
    for exe in (crawler, fixture):
        if not os.access(exe, os.X_OK):
            print("FAIL: not executable: %s" % exe, file=sys.stderr)
            sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="crawler-e2e-")
    status = 0
    try:
        body(Context(crawler, fixture, tmp))
        info("PASS")
    except Skip as e:
        print("SKIP: %s" % e, flush=True)
        status = SKIP
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        status = 1
    except BaseException:
        traceback.print_exc()
        print("FAIL: the test raised", file=sys.stderr, flush=True)
        status = 1
    finally:
        _stop_all_fixtures()
        if status == 0 or os.environ.get("CRAWLER_E2E_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s" % tmp, file=sys.stderr)
    sys.exit(status)
