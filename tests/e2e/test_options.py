"""Option matching (issue 12, item 7): long options only by their full
name (getopt's prefix matching once made `--user=u` set the User-Agent),
wget and curl flags the crawler lacks answered with their name and what to
use instead, anything else "unknown option", all with exit status 2 and
nothing fetched or created."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# (arguments, text the message must hold)
REFUSED = [
    (["--user-agen=x"], "unknown option '--user-agen'"),
    (["--user-agen", "x"], "unknown option '--user-agen'"),
    (["--recurs"], "unknown option '--recurs'"),
    (["--conc=3"], "unknown option '--conc'"),
    (["--foo"], "unknown option '--foo' (see --help)"),
    (["-Z"], "unknown option '-Z'"),
    (["-rZ"], "unknown option '-Z'"),
    (["--mirror"], "-r -l inf"),
    (["-m"], "-r -l inf"),
    (["--wait=2"], "--delay"),
    (["-w", "2"], "--delay"),
    (["--compressed"], "always accepted"),
    (["--location"], "redirects are always followed"),
    (["-L"], "redirects are always followed"),
    (["--silent"], "--quiet"),
    (["-O", "x.html"], "--output"),
    (["--no-clobber"], "'--no-clobber' is a wget option"),
    (["-nc"], "'-nc' is a wget option"),
    (["-np"], "--no-parent"),
    (["--tries=3"], "--retries"),
    (["--insecure"], "--no-check-certificate"),
    (["--recursive=yes"], "'--recursive' takes no value"),
    (["--timeout"], "'--timeout' needs a value"),
]


def body(ctx):
    url = "http://127.0.0.1:%d/p/1" % h.free_port()
    for i, (args, want) in enumerate(REFUSED):
        d = ctx.workdir("refused%d" % i)
        # The URL last, so a flag missing its value finds none.
        r = ctx.crawl(["-o", "out"] + ([url] if args[-1] != "--timeout"
                                       else []) + args, cwd=d, timeout=20)
        r.expect_rc(2)
        h.check(want in r.err, lambda: "the message for %s should say %r\n%s"
                % (args, want, r.describe()))
        h.check_only_entries(d, [])

    # Exact names, values with '=' or apart, operands anywhere, "--" ends
    # the options: all accepted (the URL is refused, so nothing runs long).
    # wget's -A/-R and their long names are ours.
    d = ctx.workdir("good")
    r = ctx.crawl([url, "--output=out", "--retries", "0", "-qc2", "-l3",
                   "--connect-timeout=2", "-Rgif", "--reject=tmp", "-A", "1",
                   "--accept", "x", "--", url + "?x"], cwd=d, timeout=30)
    h.check(r.rc == 1, lambda: "a good command line\n" + r.describe())
    recs = h.read_manifest(os.path.join(d, "out", "manifest.jsonl"))
    h.check(len(recs) == 2, "two URLs, two lines: %r" % recs)


h.run_test(body)
