"""URL lists with comments, blank lines, CRLF, surrounding blanks, bad
lines of every kind and duplicates in several spellings: bad lines are
reported as FILE:LINE: reason on stderr and in the manifest, good URLs are
saved, a duplicate is fetched once; -i - reads standard input."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPORT_RE = re.compile(rb"^(.*?):(\d+): (.+)$", re.M)


def body(ctx):
    with ctx.fixture() as fx:
        port = fx.http_port
        base = "http://127.0.0.1:%d" % port
        # (line bytes, ending, kind): kind is "good", "bad", "dup" or "skip".
        lines = [
            (b"# a comment", b"\n", "skip"),                          # 1
            (b"", b"\r\n", "skip"),                                   # 2
            ((base + "/p/1").encode(), b"\r\n", "good"),              # 3
            (b"  \t" + (base + "/p/2").encode() + b" \t", b"\r\n",
             "good"),                                                 # 4
            (b"ftp://x/y", b"\r\n", "bad"),                           # 5
            (b"  \t ", b"\n", "skip"),                                # 6
            (b"http://exa mple.com/", b"\n", "bad"),                  # 7
            ((base + "/p/3").encode() + b"\x00x", b"\n", "bad"),      # 8
            ((base + "/p/4?x=").encode() + b"a" * 20000, b"\n",
             "bad"),                                                  # 9
            (b"mailto:a@b", b"\r\n", "bad"),                          # 10
            (("HTTP://127.0.0.1:%d/p/1" % port).encode(), b"\n",
             "dup"),                                                  # 11
            ((base + "/p/1#frag").encode(), b"\r\n", "dup"),          # 12
            ((base + "/./p/1").encode(), b"\n", "dup"),               # 13
            (("127.0.0.1:%d/p/%%31" % port).encode(), b"\n", "dup"),  # 14
            ((base + "/p/5?s=10").encode(), b"\n", "good"),           # 15
            (b"http://127.0.0.1:99999/p/1", b"\n", "bad"),            # 16
            ((base + "/x/../p/1").encode(), b"\n", "dup"),            # 17
            ((base + "/p/6").encode(), b"", "good"),                  # 18
        ]
        work = ctx.workdir("run")
        with open(os.path.join(work, "urls.txt"), "wb") as f:
            f.write(b"".join(text + end for text, end, _ in lines))
        with open(os.path.join(work, "more.txt"), "wb") as f:
            f.write((base + "/p/7\n").encode() + b"gopher://x/\n")
        expected_bad = set(("urls.txt", i) for i, (_, _, k)
                           in enumerate(lines, 1) if k == "bad")
        expected_bad.add(("more.txt", 2))
        good = [base + p for p in ("/p/1", "/p/2", "/p/5?s=10", "/p/6",
                                   "/p/7")]

        r = ctx.crawl(["-i", "urls.txt", "-o", "out", "-i", "more.txt",
                       base + "/p/1", base + "/p/7#x"], cwd=work)
        r.expect_rc(1)

        reported = {}
        for m in REPORT_RE.finditer(r.stderr):
            name = m.group(1).decode("utf-8", "replace")
            if name in ("urls.txt", "more.txt"):
                reported[(name, int(m.group(2)))] = \
                    m.group(0).decode("utf-8", "replace")
        h.check(set(reported) == expected_bad, lambda: "stderr should name "
                "exactly the bad lines %s as FILE:LINE: reason; missing %s,"
                " unexpected %s\n%s"
                % (sorted(expected_bad), sorted(expected_bad - reported),
                   sorted(set(reported) - expected_bad), r.describe()))

        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        in_manifest = set()
        for rec in recs:
            m = re.match(r"^(urls\.txt|more\.txt):(\d+): \S",
                         rec["error"] or "")
            if m:
                key = (m.group(1), int(m.group(2)))
                h.check(key not in in_manifest, "bad line %s:%d recorded "
                        "twice" % key)
                in_manifest.add(key)
                h.check(rec["path"] is None and rec["status"] == 0
                        and rec["final_url"] is None,
                        lambda: "a bad line's record:\n" + h.show(rec))
                # The same "FILE:LINE: reason" as on stderr.
                h.check(reported.get(key) == rec["error"],
                        lambda: "%s:%d: stderr says %r, the manifest says %r"
                        % (key + (reported.get(key), rec["error"])))
                # url is the raw text of the line (the 20,000-byte line may
                # be cut: lines are read with a cap).
                if key[0] == "urls.txt" and key[1] != 9:
                    raw = lines[key[1] - 1][0].decode("utf-8")
                    h.check(rec["url"] == raw, lambda: "%s:%d: the url "
                            "field should be the raw line %r:\n%s"
                            % (key + (raw, h.show(rec))))
        h.check(in_manifest == expected_bad, lambda: "the manifest should "
                "have an error 'FILE:LINE: reason' for each bad line; "
                "missing %s, unexpected %s"
                % (sorted(expected_bad - in_manifest),
                   sorted(in_manifest - expected_bad)))
        h.check(len(recs) == len(good) + len(expected_bad),
                lambda: "expected %d manifest lines (%d URLs, %d bad lines),"
                " got %d:\n%s" % (len(good) + len(expected_bad), len(good),
                                  len(expected_bad), len(recs),
                                  "\n".join(h.show(x) for x in recs)))
        got = h.by_url([x for x in recs if x["final_url"] is not None])
        for u in good:
            h.check(u in got, lambda: "no manifest line for %s (listed "
                    "URLs are normalized); records: %s"
                    % (u, sorted(got)))
            h.expect_ok(got[u])
        n = h.verify_saved(ctx.fixture_exe, out, recs)
        h.check(n == len(good), "%d files verified, expected %d"
                % (n, len(good)))
        h.check_files_match_manifest(out, recs)
        h.check_no_tmp(out)
        h.check_only_entries(work, ["urls.txt", "more.txt", "out"])

        st = fx.stats()
        h.check(st["by_target"].get("127.0.0.1 /p/1") == 1,
                "/p/1 (listed 7 times in 6 spellings) should be requested "
                "once: %s" % st["by_target"])
        h.check(st["requests"] == len(good), "expected %d requests, the "
                "fixture saw %d: %s" % (len(good), st["requests"],
                                        st["by_target"]))

        # Standard input.
        work = ctx.workdir("stdin")
        data = (base + "/p/20\r\n").encode() + b"ftp://z/\n" + \
            (b"  " + (base + "/p/21").encode() + b"  \r\n")
        r = ctx.crawl(["-i", "-", "-o", "out"], stdin=data, cwd=work)
        r.expect_rc(1)
        lines_named = set(int(m.group(2)) for m in
                          REPORT_RE.finditer(r.stderr))
        h.check(lines_named == {2}, lambda: "stdin: stderr should name "
                "line 2 only\n" + r.describe())
        out = os.path.join(work, "out")
        recs = h.read_manifest(os.path.join(out, "manifest.jsonl"))
        h.check(len(recs) == 3, "stdin: expected 3 manifest lines, got %d"
                % len(recs))
        bad = [x for x in recs if x["error"] and
               re.search(r":2: \S", x["error"])]
        h.check(len(bad) == 1 and bad[0]["path"] is None,
                lambda: "stdin: no error record for line 2:\n"
                + "\n".join(h.show(x) for x in recs))
        got = h.by_url(recs)
        for u in (base + "/p/20", base + "/p/21"):
            h.check(u in got, "stdin: no manifest line for %s" % u)
            h.expect_ok(got[u])
        h.check(h.verify_saved(ctx.fixture_exe, out, recs) == 2,
                "stdin: 2 files expected")
        h.check_files_match_manifest(out, recs)
        h.check_only_entries(work, ["out"])

        work = ctx.workdir("stdin-good")
        r = ctx.crawl(["-o", "out", "-i", "-"],
                      stdin=("# urls\n%s/p/30\n\n%s/p/31\n" % (base, base))
                      .encode(), cwd=work)
        r.expect_rc(0)
        recs = h.read_manifest(os.path.join(work, "out", "manifest.jsonl"))
        h.check(len(recs) == 2 and all(x["error"] is None for x in recs),
                lambda: "stdin, all good:\n"
                + "\n".join(h.show(x) for x in recs))


h.run_test(body)
