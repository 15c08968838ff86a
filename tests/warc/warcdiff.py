#!/usr/bin/env python3
"""warcdiff: compares two crawls of the same URLs through the --json
summaries warccheck.mjs writes (say ours and wget --warc-file's).

    python3 warcdiff.py [--ignore REGEX]... [--only-common]
        [--labels A,B] A.json B.json

For every target URI of a response or revisit record it compares the HTTP
status and content_sha1, the sha1 of the body with chunking and
Content-Encoding removed (what a browser gets).  That, not the payload
digest, is the comparison that survives differences the WARC allows: one
side keeps chunk framing in its digest (wget) and the other not, chunk
sizes differ between two fetches, one side asked for gzip.

A URI fetched more than once on one side is compared as the set of its
(status, content) pairs.  --ignore drops URIs matching a regex (re.search;
repeatable), e.g. robots.txt or sitemap.xml, fetched by one crawler only;
--only-common compares only the URIs both sides have.  Prints one line per
difference and a summary; exit status 1 if anything differs, 2 on bad
input.
"""

import argparse
import json
import re
import sys


def load(path, ignore):
    """{uri: set of (status, content_sha1)} of the response and revisit
    records in a warccheck --json summary."""
    with open(path) as f:
        records = json.load(f)["records"]
    out = {}
    for r in records:
        if r.get("type") not in ("response", "revisit"):
            continue
        uri = r.get("uri")
        if uri is None or any(rx.search(uri) for rx in ignore):
            continue
        out.setdefault(uri, set()).add((r.get("status"), r.get("content_sha1")))
    return out


def diff(a, b, labels=("A", "B"), only_common=False):
    """The differences between two load() results, as printable lines."""
    lines = []
    for uri in sorted(set(a) | set(b)):
        if uri not in b or uri not in a:
            if not only_common:
                side = labels[0] if uri in a else labels[1]
                lines.append("only in %s: %s" % (side, uri))
            continue
        if a[uri] == b[uri]:
            continue
        sa = sorted(s for s, _ in a[uri])
        sb = sorted(s for s, _ in b[uri])
        if sa != sb:
            lines.append("status differs: %s: %s %s, %s %s"
                         % (uri, labels[0], sa, labels[1], sb))
            continue
        ca = sorted(str(c) for _, c in a[uri])
        cb = sorted(str(c) for _, c in b[uri])
        lines.append("content differs: %s: %s %s, %s %s"
                     % (uri, labels[0], ", ".join(ca), labels[1], ", ".join(cb)))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--ignore", action="append", default=[], metavar="REGEX",
                    help="skip target URIs matching REGEX (repeatable)")
    ap.add_argument("--only-common", action="store_true",
                    help="compare only URIs present on both sides")
    ap.add_argument("--labels", default=None,
                    help="names for the two sides, comma-separated")
    args = ap.parse_args()
    labels = tuple(args.labels.split(",", 1)) if args.labels else (args.a, args.b)
    try:
        ignore = [re.compile(x) for x in args.ignore]
        a = load(args.a, ignore)
        b = load(args.b, ignore)
    except (OSError, ValueError, KeyError, re.error) as e:
        print("warcdiff: %s" % e, file=sys.stderr)
        return 2
    lines = diff(a, b, labels, args.only_common)
    for line in lines:
        print(line)
    print("warcdiff: %d URIs, %d differences" % (len(set(a) | set(b)), len(lines)))
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
