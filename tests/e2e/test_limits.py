"""Resource limits.  A descriptor limit below what --concurrency needs: the
crawler raises its soft limit to the hard one, or else lowers the
concurrency and says so; either way every URL is saved and none fails
with EMFILE.  A full disk (a small tmpfs): the crawl stops with exit 3, a
clear message and its state saved, recording no page as failed; after
space is freed, --resume finishes the job with every page saved once
(plus at most the transfers in flight at the stop).  Skipped (77) when
tmpfs cannot be mounted here."""

import collections
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 400
CONC = 16


def limited(soft, hard):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return set_limit


def run_limited(ctx, fx, name, soft, hard, conc):
    work = ctx.workdir(name)
    urls = [fx.url("/p/%d?d=100&links=0&x=%s" % (i, name)) for i in range(N)]
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("".join(u + "\n" for u in urls))
    before = fx.stats()["max_concurrent"]
    p = subprocess.run([ctx.crawler, "-i", "urls.txt", "-o", "out", "-q",
                        "-c", str(conc), "--per-host", str(conc)], cwd=work,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60,
                       preexec_fn=limited(soft, hard))
    err = p.stderr.decode("utf-8", "replace")
    h.check_sanitizers(p.stderr)
    h.check(p.returncode == 0, lambda: "%s: exit %d\n%s"
            % (name, p.returncode, h.tail(err)))
    out = os.path.join(work, "out")
    recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
    h.check(len(recs) == N, "%s: %d manifest lines, want %d"
            % (name, len(recs), N))
    for r in recs:
        h.expect_ok(r)
        h.check("open files" not in str(r["error"]), h.show(r))
    h.verify_saved(ctx.fixture_exe, out, recs)
    h.check_no_tmp(out)
    st = fx.stats()
    return err, st["max_concurrent"] if st["max_concurrent"] > before else None


def fd_limits(ctx):
    with ctx.fixture() as fx:
        # The hard limit leaves no room: concurrency goes down, and says so.
        err, _ = run_limited(ctx, fx, "hard128", 128, 128, 500)
        h.check("descriptor limit is 128" in err and "lowering --concurrency "
                "from 500 to 32" in err,
                lambda: "no notice of the lowered concurrency:\n" + err)
        err, _ = run_limited(ctx, fx, "hard24", 24, 24, 500)
        h.check("lowering --concurrency from 500 to 6" in err,
                lambda: "no notice of the lowered concurrency:\n" + err)
        # Only the soft limit is low: it is raised, silently, and the
        # transfers really run at the asked concurrency.
        err, peak = run_limited(ctx, fx, "soft100", 100, 4096, 300)
        h.check("descriptor" not in err, lambda: "unexpected notice:\n" + err)
        h.check(peak is not None and peak > 100, lambda: "the soft limit "
                "was not raised: the fixture saw at most %s at once" % peak)
        h.info("soft limit 100, -c 300: %d requests at once" % peak)


def full_disk(ctx):
    mnt = os.path.join(ctx.tmp, "mnt")
    os.mkdir(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise h.Skip("cannot mount a tmpfs: %s" % p.stdout.decode().strip())
    try:
        with ctx.fixture(log=True) as fx:
            # 400 pages of 64 KiB: 25 MiB for a 16 MiB file system.
            targets = ["/p/%d?s=65536&links=0" % i for i in range(N)]
            with open(os.path.join(mnt, "urls.txt"), "w") as f:
                f.write("".join(fx.url(t) + "\n" for t in targets))
            args = ["-i", "urls.txt", "-o", "out", "-c", str(CONC),
                    "--per-host", str(CONC)]
            r = ctx.crawl(args, cwd=mnt)
            r.expect_rc(3)
            h.check("no space left on device" in r.err and "--resume" in r.err,
                    lambda: "no clear message about the full disk:\n"
                    + r.describe())
            out = os.path.join(mnt, "out")
            h.check(os.path.isfile(os.path.join(out, ".crawler", "journal")),
                    "no crawl state after the disk filled up")
            h.check_no_tmp(out)
            recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
            h.check(0 < len(recs) < N, "the full disk stopped nothing: "
                    "%d lines" % len(recs))
            for rec in recs:
                h.expect_ok(rec)
            h.info("disk full after %d of %d pages" % (len(recs), N))

            # Without more space a resume stops again at once, cleanly.
            r = ctx.crawl(args + ["--resume"], cwd=mnt)
            h.check(r.rc == 3, lambda: "resume on a full disk\n" + r.describe())

            # Free space and resume: the job finishes.
            subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
            r = ctx.crawl(args + ["--resume"], cwd=mnt)
            r.expect_rc(0)
            recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
            got = h.by_url(recs)
            h.check(len(got) == N, "after resume: %d URLs, want %d"
                    % (len(got), N))
            for rec in recs:
                h.expect_ok(rec)
            n = h.verify_saved(ctx.fixture_exe, out, recs)
            h.check(n == N, "verified %d files" % n)
            h.check_files_match_manifest(out, recs)
            h.check_no_tmp(out)
            h.check(not os.path.exists(os.path.join(out, ".crawler")),
                    "state left after the crawl finished")
            counts = collections.Counter(t for _, t in fx.log_lines())
            extra = sum(c - 1 for c in counts.values())
            h.check(set(counts) == set(targets), "the server saw other targets")
            # Two stops, each dropping at most what was in flight: -c
            # transfers and as many pages waiting for their records.
            h.check(extra <= 2 * 2 * CONC, lambda: "%d repeated requests" % extra)
            h.info("full disk, then resume: %d pages, %d fetched twice"
                   % (N, extra))
    finally:
        if subprocess.run(["umount", mnt]).returncode != 0:
            subprocess.run(["umount", "-l", mnt])


def body(ctx):
    fd_limits(ctx)
    full_disk(ctx)


h.run_test(body)
