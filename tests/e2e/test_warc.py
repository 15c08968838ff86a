"""WARC output (--warc, issue 10).

A list of fixture URLs chosen to meet every way a body can arrive
(identity, gzip, chunked, gzip and chunked, large enough to spill to the
spool, an error status, a redirect, repeated payloads, one cut by
--max-size) is crawled with --warc, and the files are read back by an
independent reader (warcread.py): every record and digest checks out, the
index has one line per response at its record's offset and length, pages
replayed through the index alone give the bytes the fixture serves, the
mirror beside the WARC is byte-exact, repeated payloads are revisit
records.  Then: files rotate at --warc-max-size, each with its warcinfo;
--no-mirror writes no page files; a crawl SIGKILLed at random moments and
resumed leaves valid files in which every URL has exactly one response,
and so does a crawl stopped by a full disk (exit 3) and resumed with more
space;
warcio (tests/warc) parses every record and checks the digests; and the
record set equals what wget --warc-file writes for the same site (target
URIs, status codes, payloads)."""

import collections
import glob
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import warcread as wr  # noqa: E402

WARC_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "warc")


def warc_files(work, prefix="arc/crawl"):
    files = sorted(glob.glob(os.path.join(work, prefix + "-*.warc.gz")))
    idx = glob.glob(os.path.join(work, prefix + "-*.cdxj"))
    h.check(files, "no WARC file written under %s" % work)
    h.check(len(idx) == 1, "expected one index, found %r" % idx)
    return files, idx[0]


def responses_by_uri(recs):
    out = collections.defaultdict(list)
    for r in recs:
        if r.type in ("response", "revisit"):
            out[r.uri].append(r)
    return out


def warcio_check(files, cdxj=None, json_out=None):
    """warcio (Webrecorder's library) reads every record and checks the
    digests.  Skipped outside CI when node or the package is missing."""
    script = os.path.join(WARC_TOOLS, "warccheck.mjs")
    mods = os.path.join(WARC_TOOLS, "node_modules", "warcio")
    if not (os.path.exists(script) and os.path.isdir(mods)):
        h.check(os.environ.get("CI") != "true", "warcio is not installed (tests/warc/"
                "setup.sh); CI must run it")
        h.info("warcio not installed: its check skipped")
        return False
    args = ["node", script]
    if cdxj:
        args += ["--cdxj", cdxj]
    if json_out:
        args += ["--json", json_out]
    p = subprocess.run(args + list(files), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    h.check(p.returncode == 0, lambda: "warcio check failed:\n" + h.tail(p.stdout))
    h.info("warcio: " + h.tail(p.stdout, 3))
    return True


def list_crawl(ctx, fx):
    """Every way a body can arrive, in one list."""
    targets = ["/p/1", "/p/2?gz=1", "/p/3?ch=1", "/p/4?gz=1&ch=1&s=100000",
               "/p/5?s=300000", "/p/6?gz=1&s=400000", "/p/7?st=404", "/p/8?st=500",
               "/r/9", "/nope/1", "/nope/2", "/nope/3", "/p/10?s=600000"]
    urls = [fx.url(t) for t in targets]
    work = ctx.workdir("list")
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("\n".join(urls) + "\n")
    r = ctx.crawl(["-o", "out", "-i", "urls.txt", "--warc", "arc/crawl", "--retries", "0",
                   "--max-size", "450000"], cwd=work)
    r.expect_rc(1)
    recs_m = h.by_url(h.read_manifest(os.path.join(work, "out", "manifest.jsonl")))
    saved = [x for x in recs_m.values() if x["path"]]
    h.verify_saved(ctx.fixture_exe, os.path.join(work, "out"), list(recs_m.values()))
    files, cdxj = warc_files(work)
    recs = wr.read_warc(files, cdxj)
    by = responses_by_uri(recs)

    # Every response the crawl met is archived once, errors and redirects too.
    for t in targets:
        h.check(len(by[fx.url(t)]) == 1, "%s: %d response records" % (t, len(by[fx.url(t)])))
    h.check(len(by[fx.url("/p/9")]) == 1, "the redirect's target is archived too")
    h.check(by[fx.url("/r/9")][0].status == 302 and by[fx.url("/p/7?st=404")][0].status
            == 404 and by[fx.url("/p/8?st=500")][0].status == 500, "statuses as received")
    # Bytes as they came off the wire: gzip stays gzip, chunks stay chunks.
    gz = by[fx.url("/p/2?gz=1")][0]
    h.check(b"Content-Encoding: gzip" in gz.block and gz.payload[:2] == b"\x1f\x8b",
            "a gzip body is archived compressed, as sent")
    ch = by[fx.url("/p/4?gz=1&ch=1&s=100000")][0]
    h.check(b"Transfer-Encoding: chunked" in ch.block and
            ch.block.split(b"\r\n\r\n", 1)[1].startswith(b"3e8\r\n"),
            "a chunked body keeps its framing")
    # Repeated payloads: the fixture's 404 body for unknown paths.
    kinds = [by[fx.url("/nope/%d" % i)][0].type for i in (1, 2, 3)]
    h.check(kinds == ["response", "revisit", "revisit"] or
            sorted(kinds) == ["response", "revisit", "revisit"],
            "repeated payloads: %r" % kinds)
    # --max-size cut a body: archived as far as it came, and marked.
    cut = by[fx.url("/p/10?s=600000")][0]
    h.check(cut.hdr.get("WARC-Truncated") == "length", "a body cut by --max-size is "
            "WARC-Truncated: length (%r)" % cut.hdr.get("WARC-Truncated"))
    # Replay through the index: the bytes the fixture serves.
    want_targets = [t for t in targets if "st=" not in t and not t.startswith(("/r/", "/nope"))
                    and "600000" not in t]
    bodies = fx.print_bodies("127.0.0.1:%d" % fx.http_port, want_targets)
    for t, want in zip(want_targets, bodies):
        status, hdr, got = wr.replay(cdxj, fx.url(t), os.path.dirname(files[0]))
        h.check(status == 200 and got == want, "replay of %s: %d bytes, %d served"
                % (t, len(got), len(want)))
    h.info("list: %d records in %d files, %d pages saved; replay of %d pages exact"
           % (len(recs), len(files), len(saved), len(want_targets)))
    warcio_check(files, cdxj)


def rotation(ctx, fx):
    urls = [fx.url("/p/%d?s=300000" % i) for i in range(12)]
    work = ctx.workdir("rotate")
    r = ctx.crawl(["-o", "out", "--warc", "arc/crawl", "--warc-max-size", "1M",
                   "--no-mirror", "-c", "4"] + urls, cwd=work)
    r.expect_rc(0)
    files, cdxj = warc_files(work)
    h.check(len(files) >= 3, "12 pages of 300 KB (about 100 KB compressed) "
            "in files of 1 MB: %d files" % len(files))
    for f in files[:-1]:
        h.check(os.path.getsize(f) <= 1024 * 1024, "%s is over --warc-max-size" % f)
    recs = wr.read_warc(files, cdxj)
    by = responses_by_uri(recs)
    h.check(all(len(by[u]) == 1 for u in urls), "each page archived once")
    # --no-mirror: the manifest and nothing else.
    out = os.path.join(work, "out")
    h.check(h.page_files(out) == [], "--no-mirror saved page files: %r"
            % h.page_files(out)[:5])
    recs_m = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    h.check(all(x["path"] is None and x["error"] is None and x["bytes"] == 300000
                for x in recs_m), "--no-mirror manifest lines: no path, the bytes")
    warcio_check(files, cdxj)


def kill_resume(ctx, fx):
    """SIGKILL at random moments, --resume, and at the end every URL's
    response is in the files exactly once, the files valid to their last
    byte and the index matching."""
    rnd = random.Random(20261204)
    urls = [fx.url("/p/%d?d=%d%s" % (i, rnd.randrange(0, 600),
                                      rnd.choice(["", "&gz=1", "&ch=1", "&s=40000"])))
            for i in range(1500)]
    work = ctx.workdir("kill")
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("\n".join(urls) + "\n")
    args = ["-o", "out", "-q", "-i", "urls.txt", "-c", "150", "--per-host", "150",
            "--warc", "arc/crawl"]
    kills = 0
    for attempt in range(3):
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(ctx.tmp, "noconf"))
        p = subprocess.Popen([ctx.crawler] + args + (["--resume"] if attempt else []),
                             cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env)
        time.sleep(0.6 + rnd.random())
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(timeout=30)
    r = ctx.crawl(args + ["--resume"], cwd=work, timeout=120)
    r.expect_rc(0)
    h.check(kills >= 2, "the crawl ended before it could be killed twice")
    files, cdxj = warc_files(work)
    recs = wr.read_warc(files, cdxj)
    by = responses_by_uri(recs)
    twice = [u for u in urls if len(by[u]) != 1]
    h.check(not twice, lambda: "%d URLs without exactly one response after %d kills, "
            "e.g. %s: %d" % (len(twice), kills, twice[0], len(by[twice[0]])))
    h.check(set(by) == set(urls), "records of URLs not in the list")
    recs_m = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
    h.check(len(recs_m) == len(urls), "%d manifest lines" % len(recs_m))
    h.info("kill/resume: %d kills, %d records, each URL once" % (kills, len(recs)))
    warcio_check(files, cdxj)


def full_disk(ctx, fx):
    """The disk fills up while pages and WARC records are written: exit 3
    with the usual message, the WARC files valid to their last byte; more
    space and --resume: every URL archived exactly once.  Root only (a
    small tmpfs is mounted); skipped otherwise."""
    mnt = os.path.join(ctx.tmp, "mnt")
    os.mkdir(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        h.info("full disk: cannot mount a tmpfs here, part skipped")
        return
    try:
        n = 300
        urls = [fx.url("/p/%d?s=65536&links=0" % i) for i in range(n)]
        with open(os.path.join(mnt, "urls.txt"), "w") as f:
            f.write("\n".join(urls) + "\n")
        args = ["-i", "urls.txt", "-o", "out", "-c", "16", "--per-host", "16",
                "--warc", "arc/crawl"]
        r = ctx.crawl(args, cwd=mnt)
        r.expect_rc(3)
        h.check("no space left on device" in r.err, lambda: "no clear message about the "
                "full disk:\n" + r.describe())
        files, cdxj = warc_files(mnt)
        recs = wr.read_warc(files, cdxj, sorted_index=False)
        first = sum(1 for x in recs if x.type == "response")
        h.check(0 < first < n, "%d responses archived before the disk filled" % first)
        subprocess.run(["mount", "-o", "remount,size=96m", mnt], check=True)
        r = ctx.crawl(args + ["--resume"], cwd=mnt, timeout=120)
        r.expect_rc(0)
        files, cdxj = warc_files(mnt)
        by = responses_by_uri(wr.read_warc(files, cdxj))
        bad = [u for u in urls if len(by[u]) != 1]
        h.check(not bad, lambda: "%d URLs without exactly one response after the full "
                "disk and a resume, e.g. %s: %d" % (len(bad), bad[0], len(by[bad[0]])))
        h.info("full disk: %d of %d archived before it filled, all %d once after --resume"
               % (first, n, n))
        warcio_check(files, cdxj)
    finally:
        if subprocess.run(["umount", mnt]).returncode != 0:
            subprocess.run(["umount", "-l", mnt])


def against_wget(ctx, fx):
    """The same recursive crawl through wget --warc-file: the same target
    URIs, status codes and (decoded) payloads."""
    if not h.shutil.which("wget"):
        raise h.Skip("no wget")
    seed = fx.url("/s/0")
    work = ctx.workdir("vswget")
    r = ctx.crawl(["-r", "-l", "inf", "-o", "out", "-q", "--no-sitemaps", "--warc",
                   "arc/crawl", seed], cwd=work, timeout=120)
    h.check(r.rc in (0, 1), r.describe)
    files, cdxj = warc_files(work)
    ours = responses_by_uri(wr.read_warc(files, cdxj))
    h.check(fx.url("/robots.txt") in ours, "robots.txt is archived, as wget does")
    p = subprocess.run(["wget", "-q", "-r", "-l", "inf", "-P", "wout", "--warc-file=wget",
                        "--no-warc-keep-log", seed], cwd=work, timeout=300,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    h.check(p.returncode in (0, 8), "wget failed: %s" % h.tail(p.stdout))
    theirs = collections.defaultdict(list)
    for rec in read_wget(os.path.join(work, "wget.warc.gz")):
        theirs[rec[0]].append(rec)
    h.check(set(ours) == set(theirs), lambda: "target URIs differ: ours only %r, wget "
            "only %r" % (sorted(set(ours) - set(theirs))[:5],
                         sorted(set(theirs) - set(ours))[:5]))
    for uri, recs in ours.items():
        mine = recs[0]
        _, status, content = theirs[uri][0]
        h.check(mine.status == status and mine.content == content,
                "%s: ours %s (%d bytes), wget's %s (%d bytes)"
                % (uri, mine.status, len(mine.content or b""), status, len(content)))
    h.info("against wget --warc-file: %d target URIs, same statuses and payloads"
           % len(ours))


def read_wget(path):
    """(uri, status, decoded body) of wget's response records (WARC/1.0)."""
    out = []
    for off, length, raw in wr.members(path):
        head, _, rest = raw.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in
                      head.decode("utf-8").split("\r\n")[1:] if ": " in line)
        if fields.get("WARC-Type") != "response":
            continue
        block = rest[:int(fields["Content-Length"])]
        status, hh, body = wr.split_http(block)
        if "chunked" in hh.get("transfer-encoding", "").lower():
            body = wr.dechunk(body)
        out.append((fields["WARC-Target-URI"].strip("<>"), status,
                    wr.decode(body, hh.get("content-encoding"))))
    return out


def body(ctx):
    with ctx.fixture(lifetime=600, extra=["--pages", "60", "--s-pages", "80",
                                                 "--s-links", "4", "--s-delay", "20"]) as fx:
        list_crawl(ctx, fx)
        rotation(ctx, fx)
        kill_resume(ctx, fx)
        full_disk(ctx, fx)
        against_wget(ctx, fx)


if __name__ == "__main__":
    h.run_test(body)
