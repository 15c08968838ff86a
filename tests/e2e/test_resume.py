"""Kill and resume.  A recursive crawl of a 3,000-page fixture site is
SIGKILLed at several seeded-random moments and resumed with --resume each
time; the end result (the files, byte for byte, and the manifest: one line
per URL, the same fields) must equal an uninterrupted crawl's, and the
server's request log must show every page fetched once, plus at most what
was in flight at each kill: -c transfers, and as many pages between their
transfer's end and their journal record.  The same after SIGINT and SIGTERM, and
for a URL list (-i) with bad and repeated lines.  Also: saved state without
--resume/--fresh is refused (exit 2), a resume with other seeds is refused,
--fresh starts over, a torn journal tail is dropped, temporary files of a
killed run are removed, and a page recorded after the last sync point
whose file is gone (as after a power loss) is fetched again."""

import collections
import os
import random
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PAGES = 3000
LINKS = 8
CONC = 32           # -c and --per-host; twice this bounds refetches per kill
SITE_DELAY_MS = 4   # every answer waits this long, so kills land mid-crawl
SEED = 20261127
KILLS = 4

# Fields that must match an uninterrupted crawl.  Left out: seconds and
# attempts (timing), referrer (which page of a level links first is a race
# in any concurrent crawl; depth is not, the frontier goes by level).
SAME = ("final_url", "status", "path", "bytes", "content_type", "redirects",
        "depth", "error")


def site_args():
    return ["--pages", str(PAGES), "--site-links", str(LINKS),
            "--site-delay", str(SITE_DELAY_MS)]


def crawler_args(fx, extra=()):
    return ["-r", "-l", "inf", "-o", "out", "-q", "-c", str(CONC),
            "--per-host", str(CONC)] + list(extra) + [fx.url("/p/0")]


def page_counts(fx):
    """How often the server was asked for each /p/ target."""
    return collections.Counter(t for _, t in fx.log_lines()
                               if t.startswith("/p/"))


def reference(ctx, name, args_fn, fx_extra, stdin_file=None):
    """An uninterrupted crawl: (records by URL, {path: bytes})."""
    with ctx.fixture(log=True, extra=fx_extra) as fx:
        work = ctx.workdir(name)
        if stdin_file:
            stdin_file(work, fx)
        r = ctx.crawl(args_fn(fx), cwd=work, timeout=100)
        h.check(r.rc in (0, 1), lambda: "reference crawl failed\n" + r.describe())
        out = os.path.join(work, "out")
        recs = h.by_url(h.read_manifest(os.path.join(out, "manifest.jsonl")))
        h.check(not os.path.exists(os.path.join(out, ".crawler")),
                "a complete crawl left its state behind")
        return r.rc, recs, tree(out), fx.http_port


def tree(out):
    """{relative path: content} of every page file."""
    files = {}
    for rel in h.page_files(out):
        with open(os.path.join(out, rel), "rb") as f:
            files[rel] = f.read()
    return files


def run_until(ctx, args, work, manifest, target, sig):
    """Starts the crawler; once the manifest holds target bytes, sends sig
    (a signal number) and waits.  Returns (exit status, signalled)."""
    errf = open(os.path.join(work, "stderr.%d" % time.monotonic_ns()), "w+b")
    p = subprocess.Popen([ctx.crawler] + args, cwd=work,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=errf)
    signalled = False
    try:
        deadline = time.monotonic() + 90
        while p.poll() is None:
            try:
                size = os.path.getsize(manifest)
            except OSError:
                size = 0
            if size >= target:
                p.send_signal(sig)
                signalled = True
                break
            h.check(time.monotonic() < deadline, "crawler still running "
                    "after 90 s")
            time.sleep(0.003)
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    errf.seek(0)
    err = errf.read()
    errf.close()
    os.unlink(errf.name)
    h.check_sanitizers(err)
    if signalled and sig == signal.SIGKILL:
        h.check(rc == -signal.SIGKILL or rc in (0, 1),
                "unexpected exit %s after SIGKILL" % rc)
    elif signalled:
        h.check(rc in (130, 0, 1), lambda: "exit %s after signal %d:\n%s"
                % (rc, sig, h.tail(err)))
    return rc, signalled, err


def compare(name, ref_recs, ref_tree, ref_port, out, port):
    """The resumed crawl's output equals the reference's (ports differ:
    each crawl had its own fixture)."""
    def fix(v):
        if isinstance(v, str):
            return v.replace(":%d" % port, ":%d" % ref_port)
        return v
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    got = h.by_url([{k: fix(v) for k, v in r.items()} for r in recs])
    h.check(set(got) == set(ref_recs), lambda: "%s: manifest URLs differ: %d "
            "vs %d; missing e.g. %s, extra e.g. %s"
            % (name, len(got), len(ref_recs),
               sorted(set(ref_recs) - set(got))[:3],
               sorted(set(got) - set(ref_recs))[:3]))
    for u, want in ref_recs.items():
        g = got[u]
        diff = [k for k in SAME if g[k] != want[k]]
        h.check(not diff, lambda: "%s: %s differs in %s:\n%s\n%s"
                % (name, u, diff, h.show(g), h.show(want)))
    files = {fix(k): v for k, v in tree(out).items()}
    h.check(set(files) == set(ref_tree), lambda: "%s: files differ: missing "
            "%s, extra %s" % (name, sorted(set(ref_tree) - set(files))[:5],
                              sorted(set(files) - set(ref_tree))[:5]))
    bad = [k for k in files if files[k] != ref_tree[k]]
    h.check(not bad, lambda: "%s: contents differ: %s" % (name, bad[:5]))
    h.check_files_match_manifest(out, recs)
    h.check_no_tmp(out)
    h.check(not os.path.exists(os.path.join(out, ".crawler")),
            "%s: the finished crawl left its state behind" % name)
    return len(got)


def check_requests(name, fx, refetch_budget):
    """Every page once, plus at most refetch_budget extra requests."""
    counts = page_counts(fx)
    extra = sum(c - 1 for c in counts.values())
    h.info("%s: %d pages requested, %d requests more than once (budget %d)"
           % (name, len(counts), extra, refetch_budget))
    h.check(extra <= refetch_budget, lambda: "%s: %d repeated requests, more "
            "than the %d pages in flight at the interruptions; e.g. %s"
            % (name, extra, refetch_budget,
               [t for t, c in counts.items() if c > 1][:5]))


def killed_crawl(ctx, name, ref, sig, kills, rng, args_fn, prepare=None,
                 probes=False, extra_requests=0):
    ref_rc, ref_recs, ref_tree, ref_port = ref
    with ctx.fixture(log=True, extra=site_args()) as fx:
        work = ctx.workdir(name)
        if prepare:
            prepare(work, fx)
        out = os.path.join(work, "out")
        manifest = os.path.join(out, "manifest.jsonl")
        # Kill points in manifest bytes, spread over the crawl (a line is
        # about 250 bytes).
        total = 250 * len(ref_recs)
        targets = sorted(rng.randint(total // 20, total * 9 // 10)
                         for _ in range(kills))
        done_kills = 0
        lost = 0
        for i, target in enumerate(targets):
            rc, signalled, err = run_until(ctx, args_fn(fx, ["--resume"]),
                                           work, manifest, target, sig)
            if not signalled:
                break
            done_kills += 1
            h.check(os.path.isdir(os.path.join(out, ".crawler")),
                    "%s: no state left after the signal" % name)
            if sig != signal.SIGKILL:
                h.check(rc == 130, "%s: exit %s after the signal" % (name, rc))
            if probes and i == 0:
                lost = probe_state(ctx, fx, work, args_fn)
        h.info("%s: %d interruptions" % (name, done_kills))
        h.check(done_kills >= 1, "%s: the crawl ended before any "
                "interruption" % name)
        r = ctx.crawl(args_fn(fx, ["--resume"]), cwd=work, timeout=100)
        r.expect_rc(ref_rc)
        n = compare(name, ref_recs, ref_tree, ref_port, out, fx.http_port)
        check_requests(name, fx, done_kills * 2 * CONC + lost + extra_requests)
        h.info("%s: %d URLs, equal to the uninterrupted crawl" % (name, n))


def unsynced_pages(journal):
    """Paths of the pages whose DONE record comes after the journal's last
    sync mark (layout: crawler/journal.h, payloads: crawler/engine.c)."""
    with open(journal, "rb") as f:
        data = f.read()
    pos = 0
    paths = []
    while pos + 8 <= len(data):
        n = struct.unpack_from("<I", data, pos)[0]
        if n == 0 or pos + 8 + n > len(data):
            break
        kind, p = data[pos + 8:pos + 9], data[pos + 9:pos + 8 + n]
        if kind == b"S":
            paths = []
        elif kind == b"D":
            ulen = struct.unpack_from("<I", p, 9)[0]
            plen = struct.unpack_from("<I", p, 13 + ulen)[0]
            if plen:
                paths.append(p[17 + ulen:17 + ulen + plen].decode())
        pos += 8 + n
    return paths


def probe_state(ctx, fx, work, args_fn):
    """With saved state: no flag is refused, other seeds are refused, and
    leftover temporary files go at the next start.  Returns how many pages
    it made the resume fetch again."""
    out = os.path.join(work, "out")
    r = ctx.crawl(args_fn(fx, []), cwd=work)
    r.expect_rc(2)
    h.check("--resume" in r.err and "--fresh" in r.err,
            lambda: "no word of --resume/--fresh:\n" + r.describe())
    r = ctx.crawl(args_fn(fx, ["--resume"])[:-1] + [fx.url("/p/1")], cwd=work)
    r.expect_rc(2)
    h.check("other URLs or settings" in r.err and "/p/1" in r.err,
            lambda: "a resume with another seed was not refused with the "
            "difference:\n" + r.describe())
    # A temporary file as a killed run leaves it: removed at the next start.
    tmp = os.path.join(out, ".crawler-tmp")
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, "999999"), "wb") as f:
        f.write(b"partial body")
    # A torn record at the end of the journal, as a power loss may leave.
    journal = os.path.join(out, ".crawler", "journal")
    # A page finished after the last sync point whose data never reached
    # the disk: the resume must see it is gone and fetch it again.
    lost = unsynced_pages(journal)
    if lost:
        os.unlink(os.path.join(out, lost[-1]))
        h.info("removed %s, recorded after the last sync point" % lost[-1])
    with open(journal, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02")
    return 1 if lost else 0


def write_list(work, fx):
    """2,000 URLs with delays, some repeated, three bad lines."""
    rng = random.Random(SEED + 1)
    lines = []
    for i in range(2000):
        lines.append(fx.url("/p/%d?d=%d&links=0" % (i, rng.randint(0, 20))))
        if i % 97 == 0:
            lines.append(lines[rng.randrange(len(lines))])
        if i % 701 == 5:
            lines.append("ftp://127.0.0.1/not-http-%d" % i)
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def list_args(fx, extra=()):
    return ["-i", "urls.txt", "-o", "out", "-q", "-c", str(CONC),
            "--per-host", str(CONC)] + list(extra)


def redirect_args(fx, extra=()):
    """The seed redirects to another host, which so joins the scope; a
    resumed crawl must know that though the seed is long done."""
    seed = fx.url("/r/0?to=http://b.test:%d/p/0" % fx.http_port)
    return ["-r", "-l", "inf", "-o", "out", "-q", "-c", str(CONC),
            "--per-host", str(CONC), "--dns-servers", fx.dns_arg()] + \
        list(extra) + [seed]


def body(ctx):
    rng = random.Random(SEED)

    # The uninterrupted crawls everything is compared with.
    ref = reference(ctx, "ref", lambda fx: crawler_args(fx), site_args())
    h.check(len(ref[1]) == PAGES, "reference crawl: %d URLs, want %d"
            % (len(ref[1]), PAGES))

    # 1. SIGKILL at several moments, resumed each time.
    killed_crawl(ctx, "sigkill", ref, signal.SIGKILL, KILLS, rng,
                 lambda fx, extra: crawler_args(fx, extra), probes=True)

    # 2. SIGINT and SIGTERM: a clean stop, then resume.
    killed_crawl(ctx, "sigint", ref, signal.SIGINT, 2, rng,
                 lambda fx, extra: crawler_args(fx, extra))
    killed_crawl(ctx, "sigterm", ref, signal.SIGTERM, 1, rng,
                 lambda fx, extra: crawler_args(fx, extra))

    # 3. A URL list, killed twice.
    lref = reference(ctx, "listref", lambda fx: list_args(fx), site_args(),
                     stdin_file=write_list)
    killed_crawl(ctx, "list", lref, signal.SIGKILL, 2, rng,
                 lambda fx, extra: list_args(fx, extra), prepare=write_list)

    # 4. A seed redirected to another host: the host stays in scope.
    rref = reference(ctx, "redirref", lambda fx: redirect_args(fx), site_args())
    h.check(len(rref[1]) == PAGES + 1, "redirect reference: %d URLs, want %d"
            % (len(rref[1]), PAGES + 1))
    # b.test/p/0 is fetched twice in any crawl: as the seed's redirect
    # target and as a link (the seen set holds URLs taken, not targets).
    killed_crawl(ctx, "redirect", rref, signal.SIGKILL, 2, rng,
                 lambda fx, extra: redirect_args(fx, extra), extra_requests=1)

    # 5. --fresh discards the state: everything is fetched again.
    with ctx.fixture(log=True, extra=site_args()) as fx:
        work = ctx.workdir("fresh")
        out = os.path.join(work, "out")
        rc, signalled, _ = run_until(ctx, crawler_args(fx), work,
                                     os.path.join(out, "manifest.jsonl"),
                                     250 * 500, signal.SIGKILL)
        h.check(signalled, "fresh: the crawl ended before the kill")
        with open(os.path.join(out, "manifest.jsonl"), "rb") as f:
            done_before = f.read().count(b"\n")
        h.check(done_before >= 100, "fresh: only %d pages done before the kill"
                % done_before)
        os.unlink(os.path.join(out, "manifest.jsonl"))
        r = ctx.crawl(crawler_args(fx, ["--fresh"]), cwd=work, timeout=100)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        h.check(len(recs) == PAGES, "--fresh: %d lines, want %d"
                % (len(recs), PAGES))
        counts = page_counts(fx)
        # Every page the killed run finished is fetched again.
        again = sum(1 for c in counts.values() if c >= 2)
        h.check(again >= done_before, "--fresh did not fetch the finished pages "
                "again: %d of %d" % (again, done_before))


h.run_test(body)
