#!/usr/bin/env python3
"""replay: one page back out of a WARC through its CDXJ index, as a replay
tool such as pywb does it: find the URL's index line, seek to its offset in
the WARC file it names, read exactly its length, gunzip that one member,
parse the WARC record and the HTTP response in it, remove the chunked
framing and the Content-Encoding, and hand back the body.

    python3 replay.py [--headers] [--timestamp TS] [-o OUT] INDEX.cdxj URL

writes the body to OUT (default stdout) and, with --headers, the status
and the HTTP headers to stderr.  Exit status 0, or 1 with the reason.

As a module (stdlib only):

    from replay import replay, ReplayError
    status, headers, body = replay("crawl.cdxj", "http://host/page")

headers is a list of (name, value) pairs in the order received.  A revisit
record gives its own status and headers and the body of the record it
refers to (WARC-Refers-To, else WARC-Refers-To-Target-URI and -Date).

Reading exactly one member is the point: a wrong offset or length in the
index, or a member that holds more or less than one record, is an error
here rather than something a lenient reader would step over.
"""

import argparse
import json
import os
import sys
import zlib


class ReplayError(Exception):
    """The index line, the member or the record is not what it should be."""


def read_cdxj(cdxj_path):
    """The index as a list of (surt, timestamp, fields dict)."""
    entries = []
    with open(cdxj_path, "rb") as f:
        for n, raw in enumerate(f, 1):
            line = raw.decode("utf-8").rstrip("\n")
            if not line:
                continue
            parts = line.split(" ", 2)
            if len(parts) != 3:
                raise ReplayError("%s:%d: not SURT TIMESTAMP {JSON}" % (cdxj_path, n))
            try:
                fields = json.loads(parts[2])
            except ValueError as e:
                raise ReplayError("%s:%d: %s" % (cdxj_path, n, e))
            entries.append((parts[0], parts[1], fields))
    return entries


def read_member(warc_path, offset, length):
    """The inflated bytes of the one gzip member at offset, which must be
    exactly length bytes long."""
    with open(warc_path, "rb") as f:
        f.seek(offset)
        comp = f.read(length)
    if len(comp) != length:
        raise ReplayError("%s: %d bytes at offset %d, the index says %d"
                          % (warc_path, len(comp), offset, length))
    # wbits 31: one gzip member (header, deflate, trailer) and no more.
    d = zlib.decompressobj(31)
    try:
        data = d.decompress(comp)
    except zlib.error as e:
        raise ReplayError("%s@%d: not a gzip member: %s" % (warc_path, offset, e))
    if not d.eof:
        raise ReplayError("%s@%d: the gzip member runs past the %d bytes the index "
                          "gives" % (warc_path, offset, length))
    if d.unused_data:
        raise ReplayError("%s@%d: the gzip member ends %d bytes before the length "
                          "the index gives" % (warc_path, offset, len(d.unused_data)))
    return data


def _fields(text):
    """Header lines into a list of (name, value)."""
    out = []
    for line in text.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ReplayError("header line without a colon: %r" % line)
        out.append((name.strip(), value.strip()))
    return out


def get(headers, name):
    """The first value of header name (case-insensitive), or None."""
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def parse_record(data):
    """(WARC headers, block) of the single record in data."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"WARC/"):
        raise ReplayError("not a WARC record")
    lines = head.decode("utf-8").split("\r\n", 1)
    headers = _fields(lines[1]) if len(lines) > 1 else []
    length = get(headers, "Content-Length")
    if length is None or not length.isdigit():
        raise ReplayError("WARC record without a valid Content-Length")
    n = int(length)
    if rest[n:] != b"\r\n\r\n":
        raise ReplayError("the member holds %d bytes after the header, not "
                          "Content-Length %d and CRLFCRLF" % (len(rest), n))
    return headers, rest[:n]


def parse_http(block):
    """(status, headers, payload as stored) of an HTTP response block."""
    head, sep, payload = block.partition(b"\r\n\r\n")
    if not sep:
        raise ReplayError("HTTP headers not terminated")
    text = head.decode("latin-1")
    status_line, _, rest = text.partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ReplayError("bad status line %r" % status_line)
    return int(parts[1]), (_fields(rest) if rest else []), payload


def dechunk(payload):
    """The body with chunked framing removed."""
    out = []
    p = 0
    while True:
        eol = payload.find(b"\r\n", p)
        if eol < 0:
            raise ReplayError("chunk size line missing at payload byte %d" % p)
        size_text = payload[p:eol].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ReplayError("bad chunk size %r" % size_text[:20])
        p = eol + 2
        if size == 0:
            return b"".join(out)
        if payload[p + size:p + size + 2] != b"\r\n":
            raise ReplayError("chunk at payload byte %d cut short" % p)
        out.append(payload[p:p + size])
        p += size + 2


def decode_content(body, encoding):
    """The body with Content-Encoding (a comma list, undone right to left)
    removed: gzip, x-gzip, deflate (zlib or raw), identity."""
    codings = [c.strip().lower() for c in (encoding or "").split(",")]
    for c in reversed([c for c in codings if c and c != "identity"]):
        try:
            if c in ("gzip", "x-gzip"):
                # wbits 47 (32 + 15): gzip or zlib, header detected; a loop
                # for several members, as browsers accept.
                parts = []
                rest = body
                while rest:
                    d = zlib.decompressobj(47)
                    parts.append(d.decompress(rest))
                    if not d.eof:
                        raise ReplayError("gzip body cut short")
                    rest = d.unused_data
                body = b"".join(parts)
            elif c == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -15)
            else:
                raise ReplayError("Content-Encoding %r not supported" % c)
        except zlib.error as e:
            raise ReplayError("Content-Encoding %s does not decode: %s" % (c, e))
    return body


def _body(status, headers, payload):
    te = ",".join(v for k, v in headers if k.lower() == "transfer-encoding")
    codings = [c.strip().lower() for c in te.split(",") if c.strip()]
    if codings and codings[-1] == "chunked" and payload:
        payload = dechunk(payload)
    ce = ",".join(v for k, v in headers if k.lower() == "content-encoding")
    return decode_content(payload, ce)


def lookup(cdxj_path, url, timestamp=None, entries=None):
    """The index entry (surt, timestamp, fields) for url: the one at
    timestamp, else the latest."""
    if entries is None:
        entries = read_cdxj(cdxj_path)
    hits = [e for e in entries if e[2].get("url") == url and
            (timestamp is None or e[1] == timestamp)]
    if not hits:
        raise ReplayError("%s has no line for %s%s" % (
            cdxj_path, url, "" if timestamp is None else " at " + timestamp))
    return max(hits, key=lambda e: e[1])


def read_entry(cdxj_path, fields):
    """(WARC headers, block) of the record an index line names."""
    warc = os.path.join(os.path.dirname(os.path.abspath(cdxj_path)),
                        fields["filename"])
    data = read_member(warc, int(fields["offset"]), int(fields["length"]))
    return parse_record(data)


def replay(cdxj_path, url, timestamp=None):
    """(status, headers, body) of url as archived: body with chunking and
    Content-Encoding removed, what a browser would get."""
    entries = read_cdxj(cdxj_path)
    _, _, fields = lookup(cdxj_path, url, timestamp, entries)
    warc_headers, block = read_entry(cdxj_path, fields)
    wtype = get(warc_headers, "WARC-Type")
    if wtype == "response":
        status, headers, payload = parse_http(block)
        return status, headers, _body(status, headers, payload)
    if wtype != "revisit":
        raise ReplayError("%s: the indexed record is a %s" % (url, wtype))
    refers_to = get(warc_headers, "WARC-Refers-To")
    ref_uri = get(warc_headers, "WARC-Refers-To-Target-URI")
    ref_date = get(warc_headers, "WARC-Refers-To-Date")
    orig = None
    for _, _, f in entries:
        if f.get("url") != ref_uri:
            continue
        h, b = read_entry(cdxj_path, f)
        if get(h, "WARC-Type") != "response":
            continue
        if refers_to is not None:
            if get(h, "WARC-Record-ID") == refers_to:
                orig = (h, b)
                break
        elif get(h, "WARC-Date") == ref_date:
            orig = (h, b)
            break
    if orig is None:
        raise ReplayError("%s: revisit refers to %s (%s, %s), which the index "
                          "does not lead to" % (url, refers_to, ref_uri, ref_date))
    o_status, o_headers, o_payload = parse_http(orig[1])
    body = _body(o_status, o_headers, o_payload)
    if block:
        status, headers, _ = parse_http(block)
        return status, headers, body
    return o_status, o_headers, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cdxj")
    ap.add_argument("url")
    ap.add_argument("--timestamp", help="the 14-digit timestamp to pick")
    ap.add_argument("--headers", action="store_true",
                    help="status and headers to stderr")
    ap.add_argument("-o", "--output", help="file for the body (default stdout)")
    a = ap.parse_args()
    try:
        status, headers, body = replay(a.cdxj, a.url, a.timestamp)
    except (ReplayError, OSError, KeyError, ValueError) as e:
        print("replay: %s" % e, file=sys.stderr)
        return 1
    if a.headers:
        print(status, file=sys.stderr)
        for k, v in headers:
            print("%s: %s" % (k, v), file=sys.stderr)
    if a.output:
        with open(a.output, "wb") as f:
            f.write(body)
    else:
        sys.stdout.buffer.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
