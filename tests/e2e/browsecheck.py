#!/usr/bin/env python3
"""Is a saved mirror browsable offline?  Opens its pages from file:// in
headless Chromium, with the network blocked, and says what did not work.

The driver is Chrome's DevTools protocol over a pipe
(--remote-debugging-pipe: the browser reads commands on its fd 3 and writes
replies and events on fd 4, each a JSON object ended by a NUL byte), so it
needs nothing but Debian's `chromium` (tests/deps.sh installs it): no
websocket library, no port, no npm package.

What check_mirror() asserts, for each page it opens (the start files, then
pages reached by following links, breadth first, up to max_pages):

1. The page opens: navigation ends at a file:// URL inside the mirror, the
   load event fires within the timeout, and the browser takes the file for
   HTML (document.contentType is text/html: a page saved without an .html
   suffix would show as text).
2. No request leaves the disk: every request the page makes (document,
   style sheets and their @imports, images, srcset candidates the browser
   picks, scripts, fonts, backgrounds) has a file: (or data:/blob:) URL
   inside the mirror.  Anything else (http, https, ws, ...) is failed by
   the browser before it is sent (Fetch interception; a dead proxy behind
   it) and reported.
3. Every sub-resource loads: no request of the page fails (a missing
   file, a file outside the mirror) and none is still pending after the
   load event, document.fonts.ready and a bounded quiet period.
4. Every image is decoded (complete, naturalWidth > 0) unless it is
   lazy.  (Whether a style sheet applied cannot be read from a file:
   page's script, its rules are cross-origin there: a probe reads a
   computed style it sets instead.)
5. Every reference to a requisite in the DOM (img src/srcset, source
   src/srcset, script src, link rel=stylesheet/icon href, video poster,
   iframe/frame/embed src, object data, input type=image src) resolves to
   an existing file inside the mirror (or is a data: URL), whether or not
   the browser fetched it (a 2x srcset candidate is not fetched at 1x).
6. Every link a reader can follow (a and area href; <link> elements of
   other rels than style sheets and icons, such as canonical, next or
   search, are metadata no click follows, and are not checked): a
   javascript:, mailto: or tel: link, or a fragment of the page itself, is
   left alone;
   a file: link must name an existing regular file inside the mirror (a
   directory does not count: the browser would list it); an http(s) link
   is allowed only to a URL the crawl did not save (wget -k leaves those
   absolute), a link to a saved page that still points at the server is a
   failure; anything else is a failure.
7. Caller probes: JavaScript expressions with an expected value (a colour
   a style sheet sets, a marker a script sets), evaluated in every page
   where their guard expression is true.
8. Following links stays inside the mirror: the in-mirror links of each
   page that name HTML files are opened in turn (bounded by max_pages),
   each checked as above.

The result is a Report: pages checked, every request made (URL, type,
failed or not), and a list of problems, each (page, kind, detail); no
problem means the mirror passed.  The caller also asserts that its servers
saw no request while this ran.

Run alone: browsecheck.py MIRROR_DIR START_FILE... (exit 0 pass, 1 fail,
77 when chromium is missing).
"""

import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]

# Sub-resource tags and attributes checked in the DOM (item 5), and the
# link rels that name requisites rather than pages.
_COLLECT_JS = r"""
(() => {
  const abs = (u) => { try { return new URL(u, document.baseURI).href; }
                       catch (e) { return 'invalid:' + u; } };
  const out = {url: location.href, contentType: document.contentType,
               readyState: document.readyState, title: document.title,
               links: [], reqs: [], srcsets: [], images: []};
  for (const a of document.querySelectorAll('a[href], area[href]'))
    out.links.push({tag: a.tagName.toLowerCase(), raw: a.getAttribute('href'),
                    url: a.href});
  for (const l of document.querySelectorAll('link[href]')) {
    const rel = (l.getAttribute('rel') || '').toLowerCase().split(/\s+/);
    const raw = l.getAttribute('href');
    if (rel.includes('stylesheet') || rel.includes('icon'))
      out.reqs.push({tag: 'link', raw: raw, url: l.href});
  }
  const attr = [['img', 'src'], ['script', 'src'], ['source', 'src'],
                ['video', 'poster'], ['iframe', 'src'], ['frame', 'src'],
                ['embed', 'src'], ['object', 'data'], ['audio', 'src'],
                ['track', 'src'], ['input[type=image]', 'src']];
  for (const [sel, name] of attr)
    for (const e of document.querySelectorAll(sel + '[' + name + ']'))
      out.reqs.push({tag: e.tagName.toLowerCase(), raw: e.getAttribute(name),
                     url: abs(e.getAttribute(name))});
  for (const e of document.querySelectorAll('img[srcset], source[srcset]'))
    out.srcsets.push({tag: e.tagName.toLowerCase(),
                      raw: e.getAttribute('srcset')});
  for (const i of document.images)
    out.images.push({raw: i.getAttribute('src'), current: i.currentSrc,
                     complete: i.complete, width: i.naturalWidth,
                     lazy: i.loading === 'lazy'});
  out.base = document.baseURI;
  return out;
})()
"""


class BrowserError(Exception):
    """The browser did not start, answer or behave within its bounds."""


class Problem:
    def __init__(self, page, kind, detail):
        self.page = page
        self.kind = kind
        self.detail = detail

    def __repr__(self):
        return "%s: %s: %s" % (self.page, self.kind, self.detail)


class Report:
    """What check_mirror() found: pages (file paths, relative to the
    mirror), requests ((page, url, type, failed error or None)), problems
    (Problem), skipped links to unsaved http(s) URLs, probe values."""

    def __init__(self):
        self.pages = []
        self.requests = []
        self.problems = []
        self.online_links = set()
        self.probes = {}

    def kinds(self):
        return sorted(set(p.kind for p in self.problems))

    def summary(self, limit=40):
        lines = ["%d pages opened, %d requests, %d problems (%s), "
                 "%d links to unsaved URLs left online"
                 % (len(self.pages), len(self.requests), len(self.problems),
                    ", ".join(self.kinds()) or "none",
                    len(self.online_links))]
        for p in self.problems[:limit]:
            lines.append("  " + repr(p))
        if len(self.problems) > limit:
            lines.append("  ... %d more" % (len(self.problems) - limit))
        return "\n".join(lines)


def find_chromium():
    """The Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    """One headless Chromium, one page (tab) at a time.

    Browser(exe, timeout) starts it and attaches to a fresh tab; every
    command waits at most timeout seconds; close() ends it (Browser.close,
    then SIGKILL to its process group).  Use as a context manager.  Should
    this process die first, the browser sees its pipe close and quits."""

    def __init__(self, exe=None, timeout=30.0):
        self.exe = exe or find_chromium()
        if not self.exe:
            raise BrowserError("chromium is not installed")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="browsecheck-profile-")
        self.stderr_path = os.path.join(self.profile, "stderr")
        self._next_id = 0
        self._id_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._replies = {}
        self._reply_cv = threading.Condition()
        self._events = queue.Queue()
        self._blocked = []
        self._blocked_lock = threading.Lock()
        self._closed = False
        self.session = None
        self.proc = None
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        # The browser needs them as fds 3 and 4 exactly.  bash moves them
        # there before it execs the browser (no Python runs between fork and
        # exec, as it would in a preexec_fn, unsafe beside threads such as
        # the test's servers); copies at 10 or above cannot be 3 or 4.
        child_in = fcntl.fcntl(to_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_r)
        os.close(from_w)
        bash = shutil.which("bash") or "/bin/bash"
        move = ('exec 3<&%d 4>&%d %d<&- %d>&-; exec "$@"'
                % (child_in, child_out, child_in, child_out))

        # A dead proxy behind the request interception: should anything
        # escape it, the request still reaches no server (our servers are on
        # loopback, hence <-loopback>).  Port 9 is discard; nothing listens.
        args = [self.exe] + CHROMIUM_FLAGS + [
            "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            # Containers often have a small /dev/shm; Chromium then crashes
            # on big pages unless it keeps shared memory in /tmp.
            "--disable-dev-shm-usage",
            "--no-default-browser-check", "--disable-extensions",
            "--disable-sync", "--metrics-recording-only", "--mute-audio",
            "--window-size=1024,768", "about:blank"]
        self._stderr = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [bash, "-c", move, "browsecheck"] + args,
                stdin=subprocess.DEVNULL, stdout=self._stderr,
                stderr=self._stderr, pass_fds=(child_in, child_out),
                start_new_session=True)
        finally:
            os.close(child_in)
            os.close(child_out)
        self._w = to_w
        self._r = from_r
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        try:
            self.version = self.call("Browser.getVersion")["product"]
            target = self.call("Target.createTarget", {"url": "about:blank"})
            att = self.call("Target.attachToTarget",
                            {"targetId": target["targetId"], "flatten": True})
            self.session = att["sessionId"]
            for m, p in (("Page.enable", {}), ("Network.enable", {}),
                         ("Runtime.enable", {}),
                         # Every page's requests must show, none served
                         # from the memory cache without an event.
                         ("Network.setCacheDisabled", {"cacheDisabled": True}),
                         ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})):
                self.call(m, p, session=True)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ protocol

    def _read_loop(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, _, buf = buf.partition(b"\0")
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if "id" in msg:
                    with self._reply_cv:
                        self._replies[msg["id"]] = msg
                        self._reply_cv.notify_all()
                elif msg.get("method") == "Fetch.requestPaused":
                    self._paused(msg)
                else:
                    self._events.put(msg)
        with self._reply_cv:
            self._closed = True
            self._reply_cv.notify_all()
        self._events.put(None)

    def _paused(self, msg):
        """A request about to be sent: files go on, anything else is
        recorded and failed here, before it leaves the browser."""
        p = msg["params"]
        url = p["request"]["url"]
        scheme = url.split(":", 1)[0].lower()
        if scheme in ("file", "data", "blob"):
            self._send("Fetch.continueRequest", {"requestId": p["requestId"]},
                       msg.get("sessionId"))
            return
        with self._blocked_lock:
            self._blocked.append((url, p.get("resourceType")))
        self._send("Fetch.failRequest", {"requestId": p["requestId"],
                                         "errorReason": "BlockedByClient"},
                   msg.get("sessionId"))

    def _send(self, method, params, session):
        with self._id_lock:
            self._next_id += 1
            mid = self._next_id
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        with self._write_lock:
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self._w, view)
                except OSError as e:
                    raise BrowserError("cannot write to the browser: %s" % e)
                view = view[n:]
        return mid

    def call(self, method, params=None, session=False, timeout=None):
        """Sends a command and returns its result; raises BrowserError on
        an error reply, a dead browser or no reply within timeout."""
        mid = self._send(method, params or {}, self.session if session else None)
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._reply_cv:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError("%s: %s" % (
                        method, "browser gone" if self._closed else "no reply"
                        " within %.0f s" % (timeout or self.timeout))
                        + "\n" + self.stderr_tail())
                self._reply_cv.wait(min(left, 1.0))
            msg = self._replies.pop(mid)
        if "error" in msg:
            raise BrowserError("%s: %s" % (method, msg["error"]))
        return msg.get("result", {})

    def events(self):
        """Events received so far (drains the queue)."""
        out = []
        while True:
            try:
                m = self._events.get_nowait()
            except queue.Empty:
                return out
            if m is not None:
                out.append(m)

    def wait_event(self, pred, timeout):
        """Events until one satisfies pred (returned last) or timeout
        passes; returns (events, found)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got, False
            try:
                m = self._events.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if m is None:
                return got, False
            got.append(m)
            if pred(m):
                return got, True

    def take_blocked(self):
        with self._blocked_lock:
            out = self._blocked
            self._blocked = []
        return out

    def evaluate(self, expr, await_promise=False, timeout=None):
        """The value of a JavaScript expression in the page (by value)."""
        r = self.call("Runtime.evaluate",
                      {"expression": expr, "returnByValue": True,
                       "awaitPromise": await_promise},
                      session=True, timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("evaluate %s: %s" % (
                expr[:80], d.get("exception", {}).get("description") or d.get("text")))
        return r.get("result", {}).get("value")

    def stderr_tail(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._send("Browser.close", {}, None)
                self.proc.wait(timeout=10)
            except (BrowserError, subprocess.TimeoutExpired):
                pass
        if self.proc is not None:
            # Its renderers and helpers are in the group we started.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for fd in ("_w", "_r"):
            if getattr(self, fd, None) is not None:
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                setattr(self, fd, None)
        if getattr(self, "_stderr", None):
            self._stderr.close()
            self._stderr = None
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------ one page

    def open_page(self, url, load_timeout=20.0, settle=0.3, settle_max=5.0):
        """Navigates to url and waits (bounded) for the load event, the
        fonts and a quiet network.  Returns (loaded, requests, blocked,
        error): requests {requestId: dict(url, type, failed, finished)} of
        this navigation, blocked [(url, type)] refused before sending,
        error a navigation or fonts error, else None."""
        self.events()
        self.take_blocked()
        nav = self.call("Page.navigate", {"url": url}, session=True)
        if nav.get("errorText"):
            return False, {}, self.take_blocked(), nav["errorText"]
        loader = nav.get("loaderId")
        reqs = {}

        def note(m):
            meth = m.get("method", "")
            p = m.get("params", {})
            if meth == "Network.requestWillBeSent":
                if loader and p.get("loaderId") not in (loader, None):
                    return
                reqs[p["requestId"]] = {"url": p["request"]["url"],
                                        "type": p.get("type"),
                                        "failed": None, "finished": False}
            elif meth in ("Network.loadingFinished", "Network.loadingFailed"):
                r = reqs.get(p["requestId"])
                if r is None:
                    return
                r["finished"] = True
                if meth == "Network.loadingFailed":
                    r["failed"] = (p.get("blockedReason") or p.get("errorText")
                                   or "failed")

        got, loaded = self.wait_event(
            lambda m: m.get("method") == "Page.loadEventFired", load_timeout)
        for m in got:
            note(m)
        err = None
        if loaded:
            try:
                self.evaluate("document.fonts.ready.then(() => true)",
                              await_promise=True, timeout=settle_max + 5)
            except BrowserError as e:
                err = str(e)
            # Quiet: nothing pending and no event for `settle` seconds.
            deadline = time.monotonic() + settle_max
            while time.monotonic() < deadline:
                got, _ = self.wait_event(lambda m: True, settle)
                for m in got:
                    note(m)
                pending = [r for r in reqs.values() if not r["finished"]]
                if not got and not pending:
                    break
        return loaded, reqs, self.take_blocked(), err


# ---------------------------------------------------------------- checking

def _file_path(url):
    """The local path of a file: URL (decoded), without query/fragment."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.unquote(parts.path)


def _inside(path, root):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def normalize_http(url):
    """scheme://host[:port]/path?query with case, default port and the
    fragment normalized away, for comparing against saved URLs."""
    p = urllib.parse.urlsplit(url)
    host = (p.hostname or "").lower()
    port = p.port
    default = {"http": 80, "https": 443}.get(p.scheme.lower())
    netloc = host if port in (None, default) else "%s:%d" % (host, port)
    return urllib.parse.urlunsplit((p.scheme.lower(), netloc, p.path or "/",
                                    p.query, ""))


def _srcset_urls(value):
    """The URLs of a srcset value (candidates split at commas; a URL with
    a comma in it is not supported)."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if part:
            out.append(part.split()[0])
    return out


def _looks_html(path):
    """A page to follow: <!doctype html> or <html> near the start (an XML
    or text file linked from a page is checked to exist, not opened)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024).lower()
    except OSError:
        return False
    return b"<!doctype html" in head or b"<html" in head


def check_mirror(root, start_files, saved_urls=(), probes=(), max_pages=40,
                 browser=None, load_timeout=20.0, log=None):
    """Checks the mirror under root (see the module docstring).

    start_files: paths relative to root, opened first.  saved_urls: the
    http(s) URLs the crawl saved (a link still pointing at one of them is a
    failure).  probes: (name, guard_js, value_js, expected); value_js is
    evaluated where guard_js is true and must equal expected.  max_pages
    bounds the pages opened.  browser: a Browser to reuse, else one is
    started and closed here.  Returns a Report."""
    root = os.path.realpath(root)
    saved = set(normalize_http(u) for u in saved_urls)
    rep = Report()
    own = browser is None
    if own:
        browser = Browser()
    try:
        queue_ = []
        seen = set()
        for f in start_files:
            p = os.path.realpath(os.path.join(root, f))
            if p not in seen:
                seen.add(p)
                queue_.append(p)
        while queue_ and len(rep.pages) < max_pages:
            path = queue_.pop(0)
            rel = os.path.relpath(path, root)
            if log:
                log("browse %s" % rel)
            for target in _check_page(browser, root, path, rel, saved, probes,
                                      rep, load_timeout):
                if target not in seen:
                    seen.add(target)
                    queue_.append(target)
    finally:
        if own:
            browser.close()
    return rep


def _check_page(browser, root, path, rel, saved, probes, rep, load_timeout):
    """One page: the checks of the module docstring; returns the in-mirror
    HTML files it links to."""
    def bad(kind, detail):
        rep.problems.append(Problem(rel, kind, detail))

    rep.pages.append(rel)
    if not os.path.isfile(path):
        bad("missing-page", "no such file")
        return []
    url = "file://" + urllib.parse.quote(path)
    loaded, reqs, blocked, err = browser.open_page(url, load_timeout)
    for u, t in blocked:
        bad("network-request", "%s %s" % (t, u))
    for r in reqs.values():
        rep.requests.append((rel, r["url"], r["type"], r["failed"]))
        scheme = r["url"].split(":", 1)[0].lower()
        if scheme in ("data", "blob", "about"):
            continue
        if scheme != "file":
            # Already reported through `blocked` when Fetch failed it; a
            # request we never saw paused is reported here.
            if not any(b[0] == r["url"] for b in blocked):
                bad("network-request", "%s %s" % (r["type"], r["url"]))
            continue
        if not _inside(_file_path(r["url"]), root):
            bad("outside-mirror", "%s %s" % (r["type"], r["url"]))
        elif r["failed"]:
            bad("failed-" + (r["type"] or "request").lower(),
                "%s (%s)" % (r["url"], r["failed"]))
        elif not r["finished"]:
            bad("pending-" + (r["type"] or "request").lower(), r["url"])
    if not loaded:
        bad("no-load", err or "no load event within %.0f s" % load_timeout)
        return []
    if err:
        bad("fonts", err)
    d = browser.evaluate(_COLLECT_JS)
    if not d["url"].startswith("file:") or not _inside(_file_path(d["url"]), root):
        bad("left-mirror", "page is at %s" % d["url"])
    if d["contentType"] != "text/html":
        bad("not-html", "opened as %s" % d["contentType"])

    for im in d["images"]:
        if im["lazy"]:
            continue
        if not im["complete"] or im["width"] <= 0:
            bad("image-not-shown", "%r (current %s)" % (im["raw"], im["current"]))

    def requisite(tag, raw, target):
        scheme = target.split(":", 1)[0].lower()
        if scheme == "data":
            return
        if scheme != "file":
            bad("requisite-online", "<%s> %r -> %s" % (tag, raw, target))
            return
        fp = _file_path(target)
        if not _inside(fp, root):
            bad("requisite-outside", "<%s> %r -> %s" % (tag, raw, target))
        elif not os.path.isfile(fp):
            bad("requisite-missing", "<%s> %r -> %s" % (tag, raw, fp))

    for q in d["reqs"]:
        requisite(q["tag"], q["raw"], q["url"])
    for s in d["srcsets"]:
        for u in _srcset_urls(s["raw"]):
            requisite(s["tag"] + " srcset", u, urllib.parse.urljoin(d["base"], u))

    follow = []
    page_nofrag = d["url"].split("#", 1)[0]
    for ln in d["links"]:
        target = ln["url"]
        raw = ln["raw"] or ""
        scheme = target.split(":", 1)[0].lower()
        if scheme in ("javascript", "mailto", "tel"):
            continue
        nofrag = target.split("#", 1)[0]
        if scheme == "file":
            fp = _file_path(nofrag)
            if nofrag == page_nofrag:
                continue
            if not _inside(fp, root):
                bad("link-outside", "<%s> %r -> %s" % (ln["tag"], raw, target))
            elif not os.path.isfile(fp):
                bad("link-missing", "<%s> %r -> %s" % (ln["tag"], raw, fp))
            elif _looks_html(fp):
                follow.append(os.path.realpath(fp))
        elif scheme in ("http", "https"):
            n = normalize_http(nofrag)
            if n in saved:
                bad("link-online", "<%s> %r -> %s (saved, not converted)"
                    % (ln["tag"], raw, target))
            else:
                rep.online_links.add(n)
        else:
            bad("link-scheme", "<%s> %r -> %s" % (ln["tag"], raw, target))

    for name, guard, expr, want in probes:
        try:
            if not browser.evaluate(guard):
                continue
            got = browser.evaluate(expr, await_promise=True)
        except BrowserError as e:
            got = "error: %s" % e
        rep.probes.setdefault(name, []).append((rel, got))
        if got != want:
            bad("probe-" + name, "%s gave %r, expected %r" % (expr, got, want))
    return follow


def main(argv):
    if len(argv) < 3:
        print("usage: browsecheck.py MIRROR_DIR START_FILE...", file=sys.stderr)
        return 2
    if not find_chromium():
        print("SKIP: chromium is not installed")
        return 77
    rep = check_mirror(argv[1], argv[2:], log=lambda s: print(s, flush=True))
    print(rep.summary())
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
