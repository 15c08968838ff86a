"""An independent reader of the crawler's WARC files, for the tests.

Written from the WARC 1.1 standard (ISO 28500:2017), not from the
crawler's code: it walks each file gzip member by member, parses every
record, recomputes both digests (block: sha1 of the block; payload: sha1
of the HTTP entity body with the transfer coding removed, as the standard
defines it), checks that requests and responses name each other, that a
revisit points at an earlier response with the same payload, and that the
CDXJ index has exactly one line per response or revisit, at the offset
and length of its gzip member.  Any fault raises harness.Failure.
warcio's own check runs beside it (tests/warc/), as archivists would."""

import base64
import hashlib
import json
import os
import re
import zlib

import harness as h

DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ID_RE = re.compile(r"^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   r"[0-9a-f]{12}>$")
REVISIT_PROFILE = ("http://netpreserve.org/warc/1.1/revisit/"
                   "identical-payload-digest")


def sha1_b32(data):
    return base64.b32encode(hashlib.sha1(data).digest()).decode()


def members(path):
    """[(offset, length, uncompressed bytes)] of a multi-member gzip file."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    off = 0
    while off < len(data):
        d = zlib.decompressobj(16 + 15)
        try:
            raw = d.decompress(data[off:])
        except zlib.error as e:
            raise h.Failure("%s: bad gzip member at offset %d: %s" % (path, off, e))
        h.check(d.eof, "%s: gzip member at offset %d is cut short" % (path, off))
        used = len(data) - off - len(d.unused_data)
        out.append((off, used, raw))
        off += used
    return out


def parse_record(raw, where):
    """(headers dict, block bytes) of one record, which must fill raw."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    h.check(sep, "%s: no end of the WARC header" % where)
    lines = head.decode("utf-8").split("\r\n")
    h.check(lines[0] == "WARC/1.1", "%s: version line %r" % (where, lines[0]))
    hdr = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        h.check(colon, "%s: bad header line %r" % (where, line))
        h.check(name not in hdr, "%s: %s twice" % (where, name))
        hdr[name] = value.strip()
    n = int(hdr.get("Content-Length", "-1"))
    h.check(n >= 0 and len(rest) == n + 4 and rest[n:] == b"\r\n\r\n",
            "%s: Content-Length %d does not fit the record (%d bytes after "
            "the header, which must end in CRLF CRLF)" % (where, n, len(rest)))
    for k in ("WARC-Type", "WARC-Record-ID", "WARC-Date", "Content-Length"):
        h.check(k in hdr, "%s: no %s" % (where, k))
    h.check(DATE_RE.match(hdr["WARC-Date"]), "%s: WARC-Date %r has no microseconds"
            % (where, hdr["WARC-Date"]))
    h.check(ID_RE.match(hdr["WARC-Record-ID"]), "%s: WARC-Record-ID %r is not a "
            "urn:uuid" % (where, hdr["WARC-Record-ID"]))
    return hdr, rest[:n]


def split_http(block):
    """(status, {lower name: value}, body) of an HTTP response block."""
    head, _, body = block.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


HEX = set(b"0123456789abcdefABCDEF")


def dechunk(body, broken_out=None):
    """The entity body inside chunked framing.  A body cut short (a
    truncated record) gives what its chunks carried; framing that is wrong
    in itself (a hostile server) leaves the entity body undefined, and the
    body as received is the payload, as the crawler digests it and archive
    readers fall back to (broken_out, a list, then gets True)."""
    out = bytearray()
    pos = 0
    n = len(body)
    while pos < n:
        end = pos
        while end < n and body[end] in HEX:
            end += 1
        digits = end - pos
        if end < n and (not digits or digits > 15 or body[end:end + 1] not in b";\r\n \t"):
            break
        if not digits or digits > 15:
            break
        size = int(body[pos:end], 16)
        nl = body.find(b"\n", end)
        if nl < 0:
            return bytes(out)
        pos = nl + 1
        if size == 0:
            return bytes(out)
        out += body[pos:pos + size]
        pos += size
        if pos >= n:
            return bytes(out)
        if body[pos:pos + 2] == b"\r\n" or (body[pos:pos + 1] == b"\r" and pos + 1 == n):
            pos += 2
        elif body[pos:pos + 1] == b"\n":
            pos += 1
        else:
            break
    else:
        return bytes(out)
    if broken_out is not None:
        broken_out.append(True)
    return body


def decode(payload, coding):
    """The content: every gzip/deflate layer undone."""
    names = [c.strip().lower() for c in (coding or "").split(",") if c.strip()]
    for name in reversed(names):
        if name in ("gzip", "x-gzip", "deflate"):
            try:
                payload = zlib.decompress(payload, 15 + 32)
            except zlib.error:
                payload = zlib.decompress(payload, -15)
    return payload


class Record:
    def __init__(self, file, offset, length, hdr, block):
        self.file = file
        self.offset = offset
        self.length = length
        self.hdr = hdr
        self.block = block
        self.type = hdr["WARC-Type"]
        self.uri = hdr.get("WARC-Target-URI")
        self.id = hdr["WARC-Record-ID"]
        self.status = None
        self.content = None    # decoded body (responses)
        self.payload = None    # entity body, content coding kept

    def __repr__(self):
        return "%s %s %s @%s:%d" % (self.type, self.uri, self.status,
                                    os.path.basename(self.file), self.offset)


def read_warc(files, cdxj=None, sorted_index=True):
    """Reads and checks every record of files (in order); returns the
    list of Records.  With cdxj, checks the index against them."""
    recs = []
    ids = {}
    for path in files:
        ms = members(path)
        h.check(ms, "%s: empty" % path)
        for i, (off, length, raw) in enumerate(ms):
            where = "%s@%d" % (os.path.basename(path), off)
            hdr, block = parse_record(raw, where)
            r = Record(path, off, length, hdr, block)
            h.check((i == 0) == (r.type == "warcinfo"), "%s: %s record; a warcinfo "
                    "record comes first in every file, and only there" % (where, r.type))
            if "WARC-Block-Digest" in hdr:
                h.check(hdr["WARC-Block-Digest"] == "sha1:" + sha1_b32(block),
                        "%s: block digest does not match" % where)
            h.check(r.id not in ids, "%s: record id used twice" % where)
            ids[r.id] = r
            if r.type in ("response", "revisit"):
                h.check(hdr.get("Content-Type") == "application/http;msgtype=response",
                        "%s: Content-Type %r" % (where, hdr.get("Content-Type")))
                status, hh, body = split_http(block)
                r.status = status
                if r.type == "response":
                    payload = body
                    if "chunked" in hh.get("transfer-encoding", "").lower():
                        payload = dechunk(body)
                    h.check(hdr.get("WARC-Payload-Digest") == "sha1:" + sha1_b32(payload),
                            "%s: payload digest does not match" % where)
                    r.payload = payload
                    if "WARC-Truncated" not in hdr:
                        try:
                            r.content = decode(payload, hh.get("content-encoding"))
                        except zlib.error:
                            r.content = None  # a broken server's body
                else:
                    h.check(body == b"", "%s: a revisit keeps no body" % where)
                    h.check(hdr.get("WARC-Profile") == REVISIT_PROFILE,
                            "%s: revisit profile %r" % (where, hdr.get("WARC-Profile")))
                    orig = ids.get(hdr.get("WARC-Refers-To"))
                    h.check(orig is not None and orig.type == "response",
                            "%s: WARC-Refers-To names no earlier response" % where)
                    h.check(hdr.get("WARC-Refers-To-Target-URI") == orig.uri and
                            hdr.get("WARC-Refers-To-Date") == orig.hdr["WARC-Date"] and
                            hdr.get("WARC-Payload-Digest") ==
                            orig.hdr["WARC-Payload-Digest"],
                            "%s: revisit does not match the record it refers to" % where)
                    r.content = orig.content
                    r.payload = orig.payload
            elif r.type == "request":
                h.check(hdr.get("Content-Type") == "application/http;msgtype=request",
                        "%s: Content-Type %r" % (where, hdr.get("Content-Type")))
                h.check(block.startswith(b"GET "), "%s: request block %r"
                        % (where, block[:40]))
            recs.append(r)
    # Requests and responses name each other.
    for r in recs:
        if r.type in ("request", "response", "revisit"):
            other = ids.get(r.hdr.get("WARC-Concurrent-To"))
            h.check(other is not None and other.hdr.get("WARC-Concurrent-To") == r.id
                    and other.uri == r.uri and (r.type == "request") !=
                    (other.type == "request"),
                    "%r: no request/response pair through WARC-Concurrent-To" % r)
    if cdxj is not None:
        check_index(recs, cdxj, sorted_index)
    return recs


def check_index(recs, cdxj, sorted_index=True):
    by_place = {(os.path.basename(r.file), r.offset): r for r in recs}
    with open(cdxj, "rb") as f:
        lines = f.read().decode("utf-8").splitlines()
    if sorted_index:
        h.check(lines == sorted(lines), "%s is not sorted" % cdxj)
    seen = set()
    for line in lines:
        key, ts, js = line.split(" ", 2)
        j = json.loads(js)
        r = by_place.get((j["filename"], int(j["offset"])))
        h.check(r is not None, "index line points at no record: %s" % line[:200])
        h.check(r.type in ("response", "revisit") and int(j["length"]) == r.length and
                j["url"] == r.uri and int(j["status"]) == r.status and
                "sha1:" + j["digest"] == r.hdr["WARC-Payload-Digest"] and
                ts == re.sub(r"[^0-9]", "", r.hdr["WARC-Date"])[:14],
                "index line does not match its record %r: %s" % (r, line[:300]))
        h.check((j["filename"], r.offset) not in seen, "two index lines for %r" % r)
        seen.add((j["filename"], r.offset))
    want = sum(1 for r in recs if r.type in ("response", "revisit"))
    h.check(len(seen) == want, "%d index lines for %d responses and revisits"
            % (len(seen), want))


def replay(cdxj, url, warc_dir):
    """The decoded body of url's record, found through the index alone:
    seek to its offset, read its length, inflate that one member."""
    with open(cdxj, "rb") as f:
        for line in f.read().decode("utf-8").splitlines():
            key, ts, js = line.split(" ", 2)
            j = json.loads(js)
            if j["url"] != url:
                continue
            with open(os.path.join(warc_dir, j["filename"]), "rb") as w:
                w.seek(int(j["offset"]))
                member = w.read(int(j["length"]))
            raw = zlib.decompress(member, 16 + 15)
            hdr, block = parse_record(raw, "replay of " + url)
            status, hh, body = split_http(block)
            if "chunked" in hh.get("transfer-encoding", "").lower():
                body = dechunk(body)
            return status, hdr, decode(body, hh.get("content-encoding"))
    raise h.Failure("no index line for %s" % url)
