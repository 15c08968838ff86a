"""The command line: --help names every flag of README's table, --version
names the libraries, bad values exit 2 naming the flag, an output
directory that cannot be created exits 3, a good run exits 0."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")


def readme_flags():
    """The flags of README's table ("| flag | default | meaning |"), as
    (short or None, long) pairs."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^\| flag \| default \| meaning \|\n\|[- |]+\|\n"
                  r"((?:\|.*\n)+)", text, re.M)
    h.check(m, "no flag table in %s" % README)
    flags = []
    for row in m.group(1).splitlines():
        first = row.split("|")[1]
        longs = re.findall(r"--[a-z][a-z0-9-]*", first)
        shorts = re.findall(r"(?<![-\w])-[a-zA-Z]\b", first)
        h.check(len(longs) == 1, "README table row without one long flag: "
                + row)
        flags.append((shorts[0] if shorts else None, longs[0]))
    h.check(len(flags) >= 15, "only %d flags found in README's table"
            % len(flags))
    return flags


def body(ctx):
    flags = readme_flags()
    work = ctx.workdir("cli")

    r = ctx.crawl(["--help"], cwd=work, timeout=20)
    r.expect_rc(0)
    text = r.stdout.decode("utf-8", "replace")
    for short, long_ in flags:
        h.check(re.search(re.escape(long_) + r"(?![\w-])", text),
                "--help does not mention %s:\n%s" % (long_, text))
        if short:
            h.check(re.search(r"(?<![\w-])" + re.escape(short) + r"\b",
                              text),
                    "--help does not mention %s:\n%s" % (short, text))
    r2 = ctx.crawl(["-h"], cwd=work, timeout=20)
    r2.expect_rc(0)
    h.check(r2.stdout == r.stdout, "-h and --help differ")

    r = ctx.crawl(["--version"], cwd=work, timeout=20)
    r.expect_rc(0)
    text = r.stdout.decode("utf-8", "replace")
    for lib in ("crawler", "libcurl", "c-ares", "libxml2"):
        h.check(re.search(r"^%s\b.*\d+\.\d+" % re.escape(lib), text, re.M),
                "--version has no '%s VERSION' line:\n%s" % (lib, text))
    h.check(ctx.crawl(["-V"], cwd=work, timeout=20).stdout == r.stdout,
            "-V and --version differ")
    h.check_only_entries(work, [])

    with ctx.fixture(dns=False) as fx:
        good = fx.url("/p/1")
        # (args, names that may appear in the message)
        usage = [
            (["-c", "0"], ("-c", "--concurrency")),
            (["-c", "-5"], ("-c", "--concurrency")),
            (["-c", "abc"], ("-c", "--concurrency")),
            (["-c", "99999999999"], ("-c", "--concurrency")),
            (["-c", ""], ("-c", "--concurrency")),
            (["--concurrency=0"], ("--concurrency",)),
            (["--per-host", "0"], ("--per-host",)),
            (["--timeout", "0"], ("--timeout",)),
            (["--timeout", "-1"], ("--timeout",)),
            (["--connect-timeout", "x"], ("--connect-timeout",)),
            (["--low-speed-time", "0"], ("--low-speed-time",)),
            (["--max-size", "0"], ("--max-size",)),
            (["--max-size", "10X"], ("--max-size",)),
            (["--max-size", "-1k"], ("--max-size",)),
            (["--retries", "x"], ("--retries",)),
            (["--retries", "-1"], ("--retries",)),
            (["--max-redirects", "-1"], ("--max-redirects",)),
            (["--dns-concurrency", "0"], ("--dns-concurrency",)),
            (["--retry-after-max", "abc"], ("--retry-after-max",)),
            (["--no-such-flag"], ("--no-such-flag",)),
            (["-Z"], ("-Z", "'Z'")),
            (["-c"], ("-c", "--concurrency")),
        ]
        for args, names in usage:
            d = ctx.workdir("usage%d" % usage.index((args, names)))
            r = ctx.crawl(args + ["-o", "out", good], cwd=d, timeout=20)
            r.expect_rc(2)
            err = r.err
            h.check(any(n in err for n in names), lambda: "the message "
                    "should name %s\n%s" % (" or ".join(names),
                                            r.describe()))
            h.check_only_entries(d, [])
        d = ctx.workdir("nourls")
        r = ctx.crawl(["-o", "out"], cwd=d, timeout=20)
        r.expect_rc(2)
        h.check(r.err.strip(), "no message for a run without URLs")
        d = ctx.workdir("emptylist")
        open(os.path.join(d, "empty.txt"), "w").close()
        r = ctx.crawl(["-o", "out", "-i", "empty.txt"], cwd=d, timeout=20)
        # README leaves open whether an empty list is "no URLs" (2) or a
        # crawl of nothing (0); either, but nothing else.
        h.check(r.rc in (0, 2), lambda: "an empty list\n" + r.describe())
        d = ctx.workdir("nolist")
        r = ctx.crawl(["-o", "out", "-i", "missing.txt", good], cwd=d,
                      timeout=20)
        h.check(r.rc in (2, 3), lambda: "an input list that does not exist "
                "should be refused\n" + r.describe())
        h.check("missing.txt" in r.err, lambda: "the message should name "
                "missing.txt\n" + r.describe())
        st = fx.stats()
        h.check(st["requests"] == 0, "a refused command line still fetched "
                "%d URLs: %s" % (st["requests"], st["by_target"]))

        # An output directory under a regular file cannot be created.
        d = ctx.workdir("fatal")
        with open(os.path.join(d, "file"), "w") as f:
            f.write("x")
        r = ctx.crawl(["-o", "file/out", good], cwd=d, timeout=20)
        r.expect_rc(3)
        h.check("file/out" in r.err, lambda: "the message should name the "
                "output directory\n" + r.describe())
        h.check_only_entries(d, ["file"])
        r = ctx.crawl(["-o", "out", "--manifest", "file/m.jsonl", good],
                      cwd=d, timeout=20)
        r.expect_rc(3)

        # Everything fine: 0; flags in every spelling are accepted.
        d = ctx.workdir("good")
        r = ctx.crawl(["--output=out", "-c", "3", "--per-host=2",
                       "--timeout", "30", "--connect-timeout", "5",
                       "--low-speed-time", "5", "--retries", "0",
                       "--retry-after-max", "1", "--max-redirects", "3",
                       "--max-size", "1M", "--user-agent", "e2e/1",
                       "--dns-concurrency", "4", "-q", good,
                       fx.url("/r/2")], cwd=d, timeout=30)
        r.expect_rc(0)
        h.check(r.stderr == b"", lambda: "-q should print nothing\n"
                + r.describe())
        recs = h.read_manifest(os.path.join(d, "out", "manifest.jsonl"))
        h.check(len(recs) == 2 and all(x["error"] is None for x in recs),
                lambda: "\n".join(h.show(x) for x in recs))
        h.verify_saved(ctx.fixture_exe, os.path.join(d, "out"), recs)
        h.check_only_entries(d, ["out"])

        # The manifest is appended to.
        r = ctx.crawl(["-o", "out", "-q", fx.url("/p/3")], cwd=d, timeout=30)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(d, "out", "manifest.jsonl"))
        h.check(len(recs) == 3 and recs[2]["url"] == fx.url("/p/3"),
                lambda: "a second run should append to the manifest:\n"
                + "\n".join(h.show(x) for x in recs))

        # --manifest - writes the JSON lines to standard output.
        d = ctx.workdir("stdout")
        r = ctx.crawl(["-o", "out", "--manifest", "-", "-q", good], cwd=d,
                      timeout=30)
        r.expect_rc(0)
        recs = h.parse_manifest(r.stdout, "stdout")
        h.check(len(recs) == 1 and recs[0]["url"] == good
                and recs[0]["error"] is None,
                lambda: "--manifest -: %r" % r.stdout[:500])
        h.check(h.page_files(os.path.join(d, "out")) ==
                ["127.0.0.1:%d/p/1" % fx.http_port],
                "--manifest -: %s" % h.page_files(os.path.join(d, "out")))


h.run_test(body)
