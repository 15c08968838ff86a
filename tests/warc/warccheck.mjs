#!/usr/bin/env node
/*
 * warccheck: verifies WARC files (and their CDXJ index) record by record.
 *
 *   node warccheck.mjs [--cdxj FILE]... [--cdxj-unsorted-ok] [--json OUT]
 *       [--expect-version 1.1] [--payload-digest entity|raw|either]
 *       [--quiet] FILE.warc.gz...
 *
 * Each problem is printed as "FAIL FILE@OFFSET: what is wrong" (OFFSET is
 * the compressed offset of the gzip member, the one an index would name);
 * things that are not the archive's fault (a server's broken gzip body, a
 * request never answered) are "WARN" lines.  Exit status: 0 clean, 1 any
 * FAIL, 2 bad usage.
 *
 * Two independent readers look at every file, and they must agree:
 *
 * - Our own reader, with node:zlib, walks the gzip members one by one
 *   (header, raw deflate, CRC-32 and ISIZE trailer), so it knows where each
 *   member starts and ends; every member must hold exactly one record and
 *   nothing may trail the last one.  It parses the WARC header, checks the
 *   block against Content-Length, and computes the block digest, the
 *   payload digests and the decoded content itself.
 * - Webrecorder's warcio.js (WARCParser, the reader pywb's JS replay and
 *   ArchiveWeb.page use) parses the whole file as a stream.  warcio.js
 *   verifies no digest and no Content-Length (it only warns when a record
 *   is not followed by its CRLFCRLF); what we take from it is its view of
 *   the file: record offsets and lengths, WARC and HTTP headers, the raw
 *   payload (after the HTTP headers) and the decoded content
 *   (record.readFully(true): chunking and Content-Encoding removed).  Any
 *   difference from our reader is a FAIL, except the decoded content, where
 *   warcio.js is lenient by design (it passes undecodable bodies through),
 *   so there a difference is a WARN.
 *
 * Payload digest: WARC 1.1 section 5.9 defines the payload of an
 * application/http block as its entity-body (RFC 2616), i.e. transfer coding
 * removed and content coding kept.  wget 1.21 and warcio.js's own
 * WARCSerializer digest the bytes after the HTTP headers as they are, chunk
 * framing included.  --payload-digest says which is required: "entity"
 * (default, the spec), "raw" (wget), or "either".  The two differ only for
 * Transfer-Encoding: chunked responses.  The IIPC settled on the entity
 * reading (iipc/warc-specifications#22); Python warcio's writer and many
 * crawlers still digest the raw bytes (webrecorder/warcio#74).
 *
 * --json OUT writes {"records": [...]}, one entry per record with file,
 * offset, length, type, uri, status, payload_digest, content_sha1 (sha1 hex
 * of the body with chunking and Content-Encoding removed: what a browser
 * gets; a revisit takes its original's), truncated, date, id.
 *
 * Files are read whole into memory: this is a test tool for test crawls.
 */

import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import zlib from "node:zlib";

/* Imported at run time so that a missing install says what to do. */
let WARCParser;
let getSurt;

const USAGE =
  "usage: node warccheck.mjs [--cdxj FILE]... [--cdxj-unsorted-ok] " +
  "[--json OUT] [--expect-version 1.1] [--payload-digest entity|raw|either] " +
  "[--quiet] FILE.warc.gz...";

let failures = 0;
let warnings = 0;

function where(file, offset) {
  return offset === undefined || offset === null ? file : `${file}@${offset}`;
}

function fail(file, offset, msg) {
  failures++;
  console.log(`FAIL ${where(file, offset)}: ${msg}`);
}

function warn(file, offset, msg) {
  warnings++;
  console.log(`WARN ${where(file, offset)}: ${msg}`);
}

/* ---------------------------------------------------------------- digests */

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(buf) {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) {
    out += B32[(value << (5 - bits)) & 31];
  }
  /* RFC 4648 pads to a multiple of 8; a sha1 (160 bits) needs none. */
  while (out.length % 8) {
    out += "=";
  }
  return out;
}

function sha1(buf) {
  return createHash("sha1").update(buf).digest();
}

function sha1b32(buf) {
  return "sha1:" + base32(sha1(buf));
}

const ALGOS = { sha1: "sha1", "sha-1": "sha1", sha256: "sha256",
  "sha-256": "sha256", sha512: "sha512", md5: "md5" };

/*
 * Checks a digest header value against data.  Returns null when it
 * verifies, else a message.  Any algorithm Node knows is verified, in
 * base32 or hex; the crawler's contract (sha1 in uppercase base32, 32
 * characters, which wget writes too) is checked apart by digestForm.
 */
function digestMismatch(value, data) {
  const m = /^([A-Za-z0-9-]+):(.+)$/.exec(value || "");
  if (!m) {
    return `malformed digest "${value}"`;
  }
  const algo = ALGOS[m[1].toLowerCase()];
  if (!algo) {
    return `unknown digest algorithm "${m[1]}"`;
  }
  const got = createHash(algo).update(data).digest();
  const want = m[2].replace(/=+$/, "");
  if (want.toUpperCase() === base32(got).replace(/=+$/, "") ||
      want.toLowerCase() === got.toString("hex")) {
    return null;
  }
  return `${value} does not match (computed sha1:${base32(sha1(data))})`;
}

function digestForm(value) {
  return /^sha1:[A-Z2-7]{32}$/.test(value || "");
}

/* Compares digests by value, ignoring the label's case and a hex/base32
 * spelling difference for sha1. */
function digestKey(value) {
  const m = /^([A-Za-z0-9-]+):(.+)$/.exec(value || "");
  if (!m) {
    return value || "";
  }
  let v = m[2].replace(/=+$/, "");
  if (/^[0-9a-fA-F]{40}$/.test(v)) {
    v = base32(Buffer.from(v, "hex")).replace(/=+$/, "");
  }
  return (ALGOS[m[1].toLowerCase()] || m[1]) + ":" + v.toUpperCase();
}

/* zlib.crc32 came in Node 20.15 / 22.2; Debian 12's node 18 lacks it. */
let CRC_TABLE = null;
function crc32(buf) {
  if (typeof zlib.crc32 === "function") {
    return zlib.crc32(buf) >>> 0;
  }
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) {
        c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of buf) {
    c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/* ------------------------------------------------------------ gzip members */

/*
 * Reads the gzip member at buf[off].  Returns {length, data} or {error}.
 * The header is parsed here (RFC 1952) rather than by zlib's gunzip because
 * gunzip runs on into the next member, and the member boundaries are what
 * the index's offsets must hit.  wget writes an FEXTRA field ("sl"), so the
 * optional fields matter.
 */
function readMember(buf, off) {
  const avail = buf.length - off;
  if (avail < 18 || buf[off] !== 0x1f || buf[off + 1] !== 0x8b) {
    return { error: off === 0 ? "not a gzip file (the crawler writes .warc.gz)"
      : `${avail} trailing bytes that are not a gzip member` };
  }
  if (buf[off + 2] !== 8) {
    return { error: `gzip member with compression method ${buf[off + 2]}` };
  }
  const flg = buf[off + 3];
  let p = off + 10;
  if (flg & 4) {
    /* FEXTRA: XLEN, then XLEN bytes. */
    if (p + 2 > buf.length) {
      return { error: "gzip header cut short" };
    }
    p += 2 + buf.readUInt16LE(p);
  }
  for (const bit of [8, 16]) {
    /* FNAME, FCOMMENT: zero-terminated. */
    if (flg & bit) {
      const z = buf.indexOf(0, p);
      if (z < 0) {
        return { error: "gzip header cut short" };
      }
      p = z + 1;
    }
  }
  if (flg & 2) {
    p += 2;
  }
  if (p >= buf.length) {
    return { error: "gzip header cut short" };
  }
  let inflated;
  try {
    inflated = zlib.inflateRawSync(buf.subarray(p), { info: true });
  } catch (e) {
    return { error: `gzip member does not inflate: ${e.message}` +
      (e.code === "Z_BUF_ERROR" ? " (member cut short: truncated file?)" : "") };
  }
  const end = p + inflated.engine.bytesWritten;
  if (end + 8 > buf.length) {
    return { error: "gzip member lacks its 8-byte trailer (truncated file?)" };
  }
  const data = inflated.buffer;
  if (buf.readUInt32LE(end) !== crc32(data)) {
    return { error: "gzip member CRC-32 does not match its data" };
  }
  if (buf.readUInt32LE(end + 4) !== (data.length >>> 0)) {
    return { error: "gzip member ISIZE does not match its data" };
  }
  return { length: end + 8 - off, data };
}

/* ------------------------------------------------------------ WARC records */

const CRLF = Buffer.from("\r\n");
const CRLFCRLF = Buffer.from("\r\n\r\n");

/* WARC 1.1 section 5: fields that may repeat. */
const MULTI = new Set(["warc-concurrent-to", "warc-protocol"]);

const TYPES = new Set(["warcinfo", "response", "resource", "request",
  "metadata", "revisit", "conversion", "continuation"]);

const TRUNCATED = new Set(["length", "time", "disconnect", "unspecified"]);

const UUID_ID =
  /^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}>$/i;

const PROFILE = {
  "1.1": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
  "1.0": "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest",
};

/* Header lines "Name: value" (folded continuation lines joined) into
 * [[lowercase name, value]]; null with a message on a bad line. */
function parseFields(text) {
  const fields = [];
  for (const line of text.split("\r\n")) {
    if (/^[ \t]/.test(line) && fields.length) {
      fields[fields.length - 1][1] += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      return { error: `header line without a name: ${JSON.stringify(line)}` };
    }
    fields.push([line.slice(0, colon).trim().toLowerCase(),
      line.slice(colon + 1).trim()]);
  }
  return { fields };
}

function field(fields, name) {
  const f = fields.find(([n]) => n === name);
  return f ? f[1] : undefined;
}

function fieldAll(fields, name) {
  return fields.filter(([n]) => n === name).map(([, v]) => v);
}

/*
 * Splits one member's data into the WARC record.  Returns {version, fields,
 * block} or {error}; every deviation from "version line, fields, CRLF,
 * Content-Length bytes, CRLFCRLF, end of member" is an error, since the
 * crawler writes exactly that.
 */
function parseRecord(data) {
  const eol = data.indexOf(CRLF);
  if (eol < 0 || !/^WARC\/\d+\.\d+$/.test(data.toString("latin1", 0, eol))) {
    return { error: "member does not start with a WARC version line " +
      `(${JSON.stringify(data.toString("latin1", 0, Math.min(20, data.length)))})` };
  }
  const version = data.toString("latin1", 5, eol);
  const hend = data.indexOf(CRLFCRLF, eol);
  if (hend < 0) {
    return { error: "WARC header not terminated by an empty line" };
  }
  const parsed = parseFields(data.toString("utf8", eol + 2, hend));
  if (parsed.error) {
    return { error: parsed.error };
  }
  const cl = field(parsed.fields, "content-length");
  if (cl === undefined || !/^\d+$/.test(cl)) {
    return { error: `missing or bad Content-Length ${JSON.stringify(cl)}` };
  }
  const start = hend + 4;
  const len = Number(cl);
  const have = data.length - start;
  if (have < len + 4) {
    const blockLen = data.subarray(start).indexOf(CRLFCRLF) >= 0 &&
      data.subarray(data.length - 4).equals(CRLFCRLF) ? have - 4 : have;
    return { error: `Content-Length ${len} but the member holds a ${blockLen}-byte ` +
      "block (wrong Content-Length, or a record split across gzip members)" };
  }
  const block = data.subarray(start, start + len);
  const rest = data.subarray(start + len);
  if (!rest.subarray(0, 4).equals(CRLFCRLF)) {
    return { error: `block of Content-Length ${len} is not followed by CRLFCRLF` };
  }
  if (rest.length > 4) {
    const more = rest.subarray(4);
    const second = more.subarray(0, 5).toString("latin1") === "WARC/";
    return { error: second ? "gzip member holds more than one record"
      : `${more.length} bytes after the record's CRLFCRLF in its member ` +
        "(Content-Length smaller than the block?)" };
  }
  return { version, fields: parsed.fields, block };
}

/*
 * The HTTP message at the start of a block: {line, fields, bodyStart} or
 * {error}.  HTTP/2 responses appear with "HTTP/2 200".
 */
function parseHttp(block) {
  const hend = block.indexOf(CRLFCRLF);
  if (hend < 0) {
    return { error: "HTTP header block not terminated by an empty line" };
  }
  const text = block.toString("latin1", 0, hend);
  const eol = text.indexOf("\r\n");
  const line = eol < 0 ? text : text.slice(0, eol);
  const rest = eol < 0 ? "" : text.slice(eol + 2);
  const parsed = rest === "" ? { fields: [] } : parseFields(rest);
  if (parsed.error) {
    return { error: "HTTP " + parsed.error };
  }
  return { line, fields: parsed.fields, bodyStart: hend + 4 };
}

/* Removes chunked framing (RFC 9112 section 7.1): {data} or {error}. */
/* {data}, or {error} with broken (the framing itself is wrong: the
 * entity body is undefined, and the crawler digests the body as received)
 * or not (the body was cut short: partial holds what its chunks carried). */
function dechunk(buf) {
  const parts = [];
  let p = 0;
  const cut = (error, extra) => ({ error, broken: false,
    partial: Buffer.concat(extra ? parts.concat([extra]) : parts) });
  const broken = (error) => ({ error, broken: true, partial: null });
  for (;;) {
    const eol = buf.indexOf(CRLF, p);
    const sizeEnd = eol < 0 ? buf.length : eol;
    const sizeText = buf.toString("latin1", p, sizeEnd).split(";")[0].trim();
    if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText) && !(eol < 0 && sizeText === "")) {
      return broken(`bad chunk size ${JSON.stringify(sizeText.slice(0, 20))} ` +
        `at payload byte ${p}`);
    }
    if (eol < 0) {
      return cut(`chunk size line missing at payload byte ${p}`);
    }
    const size = parseInt(sizeText, 16);
    p = eol + 2;
    if (size === 0) {
      break;
    }
    if (p + size + 2 > buf.length) {
      if (p + size <= buf.length && buf.length - (p + size) > 0 && buf[p + size] !== 13) {
        return broken(`chunk at payload byte ${p} not followed by CRLF`);
      }
      return cut(`chunk of ${size} bytes at payload byte ${p} runs past the block`,
        buf.subarray(p, Math.min(buf.length, p + size)));
    }
    if (buf[p + size] !== 13 || buf[p + size + 1] !== 10) {
      return broken(`chunk at payload byte ${p} not followed by CRLF`);
    }
    parts.push(buf.subarray(p, p + size));
    p += size + 2;
  }
  /* Trailer fields, then the final empty line. */
  for (;;) {
    const eol = buf.indexOf(CRLF, p);
    if (eol < 0) {
      return { error: "chunked body lacks its final empty line" };
    }
    const empty = eol === p;
    p = eol + 2;
    if (empty) {
      break;
    }
  }
  if (p !== buf.length) {
    return { error: `${buf.length - p} bytes after the last chunk` };
  }
  return { data: Buffer.concat(parts) };
}

/* Undoes Content-Encoding (applied left to right, so undone right to
 * left): {data} or {error}.  br via node:zlib; zstd is not in Node 20. */
function decodeContent(data, encoding) {
  const codings = (encoding || "").split(",").map((s) => s.trim().toLowerCase())
    .filter((s) => s && s !== "identity");
  let out = data;
  for (const c of codings.reverse()) {
    try {
      if (c === "gzip" || c === "x-gzip") {
        out = zlib.gunzipSync(out);
      } else if (c === "deflate") {
        /* Servers send both zlib-wrapped and raw deflate as "deflate". */
        try {
          out = zlib.inflateSync(out);
        } catch {
          out = zlib.inflateRawSync(out);
        }
      } else if (c === "br") {
        out = zlib.brotliDecompressSync(out);
      } else {
        return { error: `Content-Encoding "${c}" not decoded` };
      }
    } catch (e) {
      return { error: `Content-Encoding ${c} does not decode: ${e.message}` };
    }
  }
  return { data: out };
}

function isChunked(fields) {
  const te = fieldAll(fields, "transfer-encoding").join(",").toLowerCase()
    .split(",").map((s) => s.trim()).filter(Boolean);
  return te.length > 0 && te[te.length - 1] === "chunked";
}

/* ----------------------------------------------------------- one WARC file */

/*
 * Our pass over one file.  Returns the list of record summaries (with the
 * member offsets and lengths) and pushes each into ctx.records.
 */
function checkFileOwn(ctx, file) {
  const buf = readFileSync(file);
  const out = [];
  let off = 0;
  let first = true;
  while (off < buf.length) {
    const m = readMember(buf, off);
    if (m.error) {
      fail(file, off, m.error);
      break;
    }
    const rec = { file, offset: off, length: m.length };
    out.push(rec);
    checkRecord(ctx, rec, m.data, first);
    first = false;
    off += m.length;
  }
  if (buf.length === 0) {
    fail(file, 0, "empty file");
  }
  return out;
}

function checkRecord(ctx, rec, data, first) {
  const F = (msg) => fail(rec.file, rec.offset, msg);
  const W = (msg) => warn(rec.file, rec.offset, msg);
  const r = parseRecord(data);
  if (r.error) {
    F(r.error);
    rec.broken = true;
    return;
  }
  const fields = r.fields;
  const get = (n) => field(fields, n);
  rec.version = r.version;
  if (r.version !== ctx.version) {
    F(`version line WARC/${r.version}, expected WARC/${ctx.version}`);
  }
  for (const [n, v] of fields) {
    if (!MULTI.has(n) && fields.filter(([m]) => m === n).length > 1) {
      F(`header ${n} appears more than once`);
      break;
    }
    if (v === "") {
      F(`header ${n} is empty`);
    }
  }
  for (const n of ["warc-record-id", "content-length", "warc-date", "warc-type"]) {
    if (get(n) === undefined) {
      F(`mandatory header ${n} missing`);
    }
  }
  const type = get("warc-type");
  rec.type = type || null;
  rec.id = get("warc-record-id") || null;
  rec.date = get("warc-date") || null;
  rec.truncated = get("warc-truncated") || null;
  if (type && !TYPES.has(type)) {
    F(`unknown WARC-Type ${type}`);
  }
  if (first && type !== "warcinfo") {
    F(`first record of the file is ${type}, not warcinfo`);
  }
  if (rec.id !== null) {
    if (!UUID_ID.test(rec.id)) {
      F(`WARC-Record-ID ${rec.id} is not <urn:uuid:...>`);
    }
    const seen = ctx.ids.get(rec.id);
    if (seen) {
      F(`WARC-Record-ID ${rec.id} already used at ${where(seen.file, seen.offset)}`);
    } else {
      ctx.ids.set(rec.id, rec);
    }
  }
  if (rec.date !== null) {
    checkDate(ctx, rec.date, "WARC-Date", F);
  }
  if (rec.truncated !== null && !TRUNCATED.has(rec.truncated)) {
    F(`WARC-Truncated "${rec.truncated}" is not length|time|disconnect|unspecified`);
  }
  const ip = get("warc-ip-address");
  if (ip !== undefined && !isIP(ip)) {
    F(`WARC-IP-Address "${ip}" is not an IP address`);
  }
  let uri = get("warc-target-uri");
  if (uri !== undefined && uri.startsWith("<") && uri.endsWith(">")) {
    /* wget follows the WARC 1.0 draft grammar, <uri>; 1.1 forbids it. */
    if (ctx.version !== "1.0") {
      F(`WARC-Target-URI ${uri} is wrapped in <>`);
    }
    uri = uri.slice(1, -1);
  }
  rec.uri = uri === undefined ? null : uri;
  rec.concurrentTo = fieldAll(fields, "warc-concurrent-to");
  for (const c of rec.concurrentTo) {
    if (!UUID_ID.test(c)) {
      F(`WARC-Concurrent-To ${c} is not <urn:uuid:...>`);
    }
  }
  rec.status = null;
  rec.payload_digest = get("warc-payload-digest") || null;
  rec.content_sha1 = null;

  const block = r.block;
  const ct = (get("content-type") || "").replace(/\s+/g, "").toLowerCase();
  const blockDigest = get("warc-block-digest");
  if (blockDigest !== undefined) {
    if (!digestForm(blockDigest)) {
      F(`WARC-Block-Digest ${blockDigest} is not sha1: and 32 base32 characters`);
    }
    const bad = digestMismatch(blockDigest, block);
    if (bad) {
      F(`WARC-Block-Digest ${bad} over the ${block.length}-byte block`);
    }
  } else if (type !== "warcinfo" && block.length > 0 && ctx.version === "1.1") {
    F("WARC-Block-Digest missing");
  }
  if (rec.payload_digest !== null && !digestForm(rec.payload_digest)) {
    F(`WARC-Payload-Digest ${rec.payload_digest} is not sha1: and 32 base32 characters`);
  }

  if (type === "warcinfo") {
    if (ct !== "application/warc-fields") {
      F(`warcinfo Content-Type "${get("content-type")}", expected application/warc-fields`);
    }
    return;
  }
  if (type !== "request" && type !== "response" && type !== "revisit") {
    return;
  }
  if (rec.uri === null) {
    F(`${type} record without WARC-Target-URI`);
  }
  if (type === "revisit" && block.length === 0) {
    /* A revisit may carry no HTTP headers at all; nothing to parse. */
    checkRevisit(ctx, rec, fields, Buffer.alloc(0), F);
    return;
  }
  const msgtype = type === "request" ? "request" : "response";
  if (ct !== `application/http;msgtype=${msgtype}`) {
    F(`${type} Content-Type "${get("content-type")}", expected ` +
      `application/http;msgtype=${msgtype}`);
  }
  const http = parseHttp(block);
  if (http.error) {
    F(http.error);
    return;
  }
  const payload = block.subarray(http.bodyStart);
  rec.rawPayloadSha1 = sha1(payload).toString("hex");
  /* A response with no header field at all ("HTTP/1.1 200 OK" and the
   * blank line): warcio.js 2.4 then looks for the end of the headers past
   * that blank line, inside the body.  Its reading is wrong there, not
   * the record, so a disagreement is only a warning. */
  rec.noHeaderFields = /^[^\r\n]*\r\n\r\n/.test(block.toString("latin1", 0, 512));
  if (type === "request") {
    if (!/^[A-Z]+ \S+ HTTP\/\d(\.\d)?$/.test(http.line)) {
      F(`request line ${JSON.stringify(http.line)} is not METHOD TARGET HTTP/x`);
    }
    return;
  }
  const sl = /^HTTP\/\d(?:\.\d)? (\d{3})(?: .*)?$/.exec(http.line);
  if (!sl) {
    F(`status line ${JSON.stringify(http.line)} is not HTTP/x NNN`);
    return;
  }
  rec.status = Number(sl[1]);
  const ctype = fieldAll(http.fields, "content-type")[0];
  rec.mime = ctype === undefined ? null : ctype.split(";")[0].trim();
  if (type === "revisit") {
    checkRevisit(ctx, rec, fields, payload, F);
    return;
  }

  /* A response: its payload digest and what a browser would get. */
  const chunked = isChunked(http.fields);
  let entity = payload;
  if (chunked && payload.length > 0) {
    const d = dechunk(payload);
    if (d.error) {
      (rec.truncated ? W : F)(`Transfer-Encoding: chunked payload: ${d.error}`);
      /* Cut short (truncated records only): the chunks that came.  Broken
       * framing: no entity body, the digest is over the body as received. */
      entity = rec.truncated && !d.broken ? d.partial : null;
      rec.framingBroken = d.broken;
    } else {
      entity = d.data;
    }
  }
  if (rec.payload_digest !== null) {
    checkPayloadDigest(ctx, rec, payload, entity, chunked, F);
  } else if (ctx.version === "1.1") {
    F("response without WARC-Payload-Digest");
  }
  if (entity !== null) {
    const dec = decodeContent(entity, fieldAll(http.fields, "content-encoding").join(","));
    if (dec.error) {
      W(dec.error);
    } else {
      rec.content_sha1 = sha1(dec.data).toString("hex");
    }
  }
  if (rec.payload_digest !== null) {
    const key = digestKey(rec.payload_digest);
    if (!ctx.byPayload.has(key)) {
      ctx.byPayload.set(key, []);
    }
    ctx.byPayload.get(key).push(rec);
  }
}

function checkDate(ctx, value, name, F) {
  /* WARC 1.1 allows any fraction; the crawler writes microseconds.  WARC
   * 1.0 allows whole seconds only. */
  const re = ctx.version === "1.0"
    ? /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
    : /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
  if (!re.test(value) || Number.isNaN(Date.parse(value))) {
    F(`${name} ${value} is not ${ctx.version === "1.0"
      ? "YYYY-MM-DDThh:mm:ssZ" : "YYYY-MM-DDThh:mm:ss.ffffffZ"}`);
  }
}

function checkPayloadDigest(ctx, rec, payload, entity, chunked, F) {
  const d = rec.payload_digest;
  const rawOk = digestMismatch(d, payload) === null;
  const entityOk = entity !== null && digestMismatch(d, entity) === null;
  rec.payloadDigestBasis = rawOk && entityOk ? "both" : rawOk ? "raw"
    : entityOk ? "entity" : null;
  const mode = ctx.payloadMode;
  if (mode === "entity" && entity === null && rec.framingBroken && rawOk) {
    return;
  }
  if ((mode === "entity" && entityOk) || (mode === "raw" && rawOk) ||
      (mode === "either" && (rawOk || entityOk))) {
    return;
  }
  const entityText = entity === null ? "cannot be dechunked"
    : `digests to ${sha1b32(entity)}`;
  if (!chunked) {
    F(`WARC-Payload-Digest ${d} does not match the ${payload.length}-byte ` +
      `payload (computed ${sha1b32(payload)})`);
  } else if (mode === "entity" && rawOk) {
    F(`WARC-Payload-Digest ${d} is over the chunk-framed payload; the entity ` +
      `body (chunking removed, as WARC 1.1 defines the payload) ${entityText}`);
  } else if (mode === "raw" && entityOk) {
    F(`WARC-Payload-Digest ${d} is over the dechunked entity body; ` +
      `--payload-digest raw wants the chunk-framed payload (${sha1b32(payload)})`);
  } else {
    F(`WARC-Payload-Digest ${d} matches neither the entity body (chunking ` +
      `removed: ${entityText}) nor the chunk-framed payload (${sha1b32(payload)})`);
  }
}

function checkRevisit(ctx, rec, fields, payload, F) {
  const get = (n) => field(fields, n);
  const profile = get("warc-profile");
  const want = PROFILE[ctx.version] || PROFILE["1.1"];
  if (profile !== want) {
    F(`revisit WARC-Profile ${profile}, expected ${want}`);
  }
  if (payload.length > 0) {
    F(`revisit block has ${payload.length} bytes after the HTTP headers; ` +
      "it should hold the headers only");
  }
  rec.refersToUri = get("warc-refers-to-target-uri");
  rec.refersToDate = get("warc-refers-to-date");
  rec.refersTo = get("warc-refers-to");
  for (const n of ["warc-refers-to-target-uri", "warc-refers-to-date",
    "warc-refers-to", "warc-payload-digest"]) {
    if (get(n) === undefined) {
      F(`revisit without ${n}`);
    }
  }
  if (rec.refersToDate !== undefined) {
    checkDate(ctx, rec.refersToDate, "WARC-Refers-To-Date", F);
  }
  if (rec.payload_digest === null) {
    return;
  }
  const earlier = ctx.byPayload.get(digestKey(rec.payload_digest)) || [];
  if (earlier.length === 0) {
    F(`revisit payload digest ${rec.payload_digest} matches no earlier response`);
    return;
  }
  const orig = earlier.find((e) => e.id === rec.refersTo) ||
    (rec.refersTo === undefined ? earlier.find((e) =>
      e.uri === rec.refersToUri && e.date === rec.refersToDate) : undefined);
  if (!orig) {
    F(`revisit WARC-Refers-To ${rec.refersTo} is none of the earlier responses ` +
      `with payload digest ${rec.payload_digest} (${earlier.map((e) => e.id).join(", ")})`);
    return;
  }
  if (orig.uri !== rec.refersToUri) {
    F(`revisit WARC-Refers-To-Target-URI ${rec.refersToUri}, but ${orig.id} ` +
      `is for ${orig.uri}`);
  }
  if (orig.date !== rec.refersToDate) {
    F(`revisit WARC-Refers-To-Date ${rec.refersToDate}, but ${orig.id} ` +
      `is dated ${orig.date}`);
  }
  rec.content_sha1 = orig.content_sha1;
}

/* ------------------------------------------------------------ warcio pass */

/*
 * Reads the file with warcio.js and compares what it sees with our pass.
 * warcio.js reports a record overrunning its Content-Length only through
 * console.warn, so that is captured for the duration.
 */
async function checkFileWarcio(file, own) {
  const seen = [];
  const warned = [];
  const origWarn = console.warn;
  console.warn = (...a) => warned.push(a.join(" "));
  try {
    const parser = new WARCParser(createReadStream(file));
    for await (const record of parser) {
      const raw = await record.readFully(false);
      let content = null;
      if (record.httpHeaders && record.warcType === "response") {
        try {
          content = await record.readFully(true);
        } catch (e) {
          content = null;
        }
      }
      let uri = record.warcTargetURI;
      seen.push({
        offset: parser.offset,
        length: parser.recordLength,
        type: record.warcType,
        id: record.warcHeader("WARC-Record-ID"),
        uri: uri === undefined ? null : uri,
        status: record.httpHeaders && record.warcType !== "request"
          ? Number(record.httpHeaders.statusCode) : null,
        rawSha1: record.httpHeaders ? sha1(raw).toString("hex") : null,
        contentSha1: content === null ? null : sha1(content).toString("hex"),
      });
    }
  } catch (e) {
    fail(file, null, `warcio.js cannot parse the file: ${e.message}`);
    return;
  } finally {
    console.warn = origWarn;
  }
  for (const w of warned) {
    fail(file, null, `warcio.js: ${w}`);
  }
  /* Matched by offset, so that one disagreement (a record split over two
   * members, say) is reported once and not as a shift of every later one. */
  if (seen.length !== own.length) {
    fail(file, null, `warcio.js reads ${seen.length} records, our member-by-member ` +
      `reader ${own.length} members`);
  }
  const byOffset = new Map(seen.map((s) => [s.offset, s]));
  const memberStarts = new Set(own.map((o) => o.offset));
  const astray = seen.filter((s) => !memberStarts.has(s.offset));
  for (const s of astray.slice(0, 3)) {
    fail(file, s.offset, `warcio.js reads a ${s.type} record ${s.id} starting ` +
      "here, which is not the start of a gzip member");
  }
  if (astray.length > 3) {
    fail(file, null, `warcio.js reads ${astray.length - 3} more records that do ` +
      "not start a gzip member");
  }
  for (const o of own) {
    const s = byOffset.get(o.offset);
    if (o.broken) {
      continue;
    }
    if (!s) {
      fail(o.file, o.offset, `warcio.js reads no record starting at this member`);
      continue;
    }
    const diffs = [];
    if (s.length !== o.length) {
      diffs.push(`length ${s.length} (member ${o.length})`);
    }
    for (const k of ["type", "id", "uri", "status"]) {
      if (o[k] !== undefined && s[k] !== o[k]) {
        diffs.push(`${k} ${JSON.stringify(s[k])} (ours ${JSON.stringify(o[k])})`);
      }
    }
    if (o.rawPayloadSha1 !== undefined && s.rawSha1 !== o.rawPayloadSha1) {
      diffs.push("payload after the HTTP headers differs");
    }
    if (diffs.length === 1 && o.noHeaderFields &&
        diffs[0] === "payload after the HTTP headers differs") {
      warn(o.file, o.offset, "warcio.js reads the body of a response without header " +
        "fields from the wrong place (a warcio.js limit)");
    } else if (diffs.length) {
      fail(o.file, o.offset, `warcio.js reads this record differently: ${diffs.join("; ")}`);
    } else if (o.type === "response" && o.content_sha1 !== null &&
               s.contentSha1 !== o.content_sha1) {
      warn(o.file, o.offset, `warcio.js decodes the body to sha1 ${s.contentSha1}, ` +
        `we to ${o.content_sha1}`);
    }
  }
}

/* ------------------------------------------------ pairs across all records */

function checkPairs(ctx) {
  const answered = new Map();
  for (const rec of ctx.records) {
    for (const target of rec.concurrentTo || []) {
      const other = ctx.ids.get(target);
      if (!other) {
        fail(rec.file, rec.offset, `WARC-Concurrent-To ${target} names no record ` +
          "in the files checked");
        continue;
      }
      const pair = rec.type === "request" ? [rec, other] : [other, rec];
      const [req, resp] = pair;
      if (req.type === "request" &&
          (resp.type === "response" || resp.type === "revisit")) {
        if (req.uri !== resp.uri) {
          fail(rec.file, rec.offset, `WARC-Concurrent-To ${target} links ` +
            `${req.uri} (request) with ${resp.uri} (${resp.type})`);
        }
        if (!answered.has(resp)) {
          answered.set(resp, new Set());
        }
        answered.get(resp).add(req);
        req.answeredBy = resp;
      }
    }
  }
  for (const rec of ctx.records) {
    if (rec.type === "response" || rec.type === "revisit") {
      const reqs = answered.get(rec);
      if (!reqs) {
        fail(rec.file, rec.offset, `${rec.type} for ${rec.uri} has no request ` +
          "record linked to it by WARC-Concurrent-To");
      } else if (reqs.size > 1) {
        fail(rec.file, rec.offset, `${rec.type} for ${rec.uri} is linked to ` +
          `${reqs.size} request records`);
      }
    } else if (rec.type === "request" && !rec.answeredBy && !rec.broken) {
      warn(rec.file, rec.offset, `request for ${rec.uri} has no response ` +
        "linked to it (fetch failed?)");
    }
  }
}

/* ------------------------------------------------------------------ CDXJ */

function compareBytes(a, b) {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function checkCdxj(ctx, cdxj) {
  let text;
  try {
    text = readFileSync(cdxj, "utf8");
  } catch (e) {
    fail(cdxj, null, `cannot read: ${e.message}`);
    return;
  }
  const byFile = new Map();
  for (const rec of ctx.records) {
    byFile.set(path.resolve(rec.file), byFile.get(path.resolve(rec.file)) || new Map());
    byFile.get(path.resolve(rec.file)).set(rec.offset, rec);
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") {
    lines.pop();
  } else if (lines.length) {
    fail(cdxj, null, "last line not terminated by a newline");
  }
  let prev = null;
  lines.forEach((line, i) => {
    const F = (msg) => fail(`${cdxj}:${i + 1}`, null, msg);
    if (prev !== null && compareBytes(prev, line) > 0 && !ctx.cdxjUnsortedOk) {
      F("line sorts before the previous one (pywb needs byte order: LC_ALL=C sort)");
    }
    prev = line;
    const m = /^(\S+) (\d{14}) (\{.*\})$/.exec(line);
    if (!m) {
      F("not SURT TIMESTAMP14 {JSON}");
      return;
    }
    let j;
    try {
      j = JSON.parse(m[3]);
    } catch (e) {
      F(`JSON does not parse: ${e.message}`);
      return;
    }
    /* "mime" is checked below: warcio.js leaves it out when the response
     * has no Content-Type. */
    for (const k of ["url", "status", "digest", "length", "offset", "filename"]) {
      if (!(k in j)) {
        F(`JSON lacks "${k}"`);
      }
    }
    for (const k of ["length", "offset", "status"]) {
      if (k in j && !(typeof j[k] === "string" && /^\d+$/.test(j[k]))) {
        F(`"${k}" is ${JSON.stringify(j[k])}, not a string of digits as pywb writes`);
      }
    }
    if (typeof j.filename !== "string") {
      return;
    }
    const target = path.resolve(path.dirname(cdxj), j.filename);
    const members = byFile.get(target);
    if (!members) {
      F(`filename ${j.filename} is not among the WARC files checked (${target})`);
      return;
    }
    const rec = members.get(Number(j.offset));
    if (!rec) {
      F(`offset ${j.offset} is not the start of a gzip member in ${j.filename}`);
      return;
    }
    if (rec.length !== Number(j.length)) {
      F(`length ${j.length} but the gzip member at ${j.offset} is ${rec.length} bytes`);
    }
    if (rec.type !== "response" && rec.type !== "revisit") {
      F(`the record at ${j.filename}@${j.offset} is a ${rec.type}, not a response or revisit`);
      return;
    }
    rec.indexLines = (rec.indexLines || 0) + 1;
    if (j.url !== rec.uri) {
      F(`url ${j.url} but the record is for ${rec.uri}`);
    }
    const surt = rec.uri === null ? null : getSurt(rec.uri);
    if (m[1] !== surt) {
      F(`SURT ${m[1]}, warcio.js's getSurt gives ${surt}`);
    }
    const ts = (rec.date || "").replace(/[^0-9]/g, "").slice(0, 14);
    if (m[2] !== ts) {
      F(`timestamp ${m[2]} but WARC-Date is ${rec.date}`);
    }
    if (String(j.status) !== String(rec.status)) {
      F(`status ${j.status} but the record's HTTP status is ${rec.status}`);
    }
    const digest = String(j.digest || "");
    const want = rec.payload_digest || "";
    if (digestKey(digest.includes(":") ? digest : "sha1:" + digest) !== digestKey(want)) {
      F(`digest ${digest} but the record's WARC-Payload-Digest is ${want}`);
    }
    /* pywb writes warc/revisit for a revisit (the content type is
     * tolerated there), the media type of Content-Type for a response,
     * and "unk" when there is none. */
    const mimes = rec.mime === null ? ["unk", "", null, undefined] : [rec.mime];
    if (rec.type === "revisit") {
      mimes.push("warc/revisit");
    }
    if (!mimes.includes(j.mime)) {
      F(`mime ${JSON.stringify(j.mime)} but the record's is ` +
        `${JSON.stringify(rec.type === "revisit" ? "warc/revisit" : mimes[0])}`);
    }
  });
  for (const rec of ctx.records) {
    if (rec.type === "response" || rec.type === "revisit") {
      if (!rec.indexLines) {
        fail(rec.file, rec.offset, `${rec.type} for ${rec.uri} has no line in ${cdxj}`);
      } else if (rec.indexLines > 1) {
        fail(rec.file, rec.offset, `${rec.type} for ${rec.uri} has ` +
          `${rec.indexLines} lines in ${cdxj}`);
      }
      rec.indexLines = 0;
    }
  }
}

/* ------------------------------------------------------------------- main */

async function main() {
  try {
    ({ WARCParser, getSurt } = await import("warcio"));
  } catch (e) {
    console.error(`warccheck: cannot load warcio.js (${e.message}); ` +
      "run tests/warc/setup.sh");
    return 77;
  }
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        cdxj: { type: "string", multiple: true },
        "cdxj-unsorted-ok": { type: "boolean" },
        json: { type: "string" },
        "expect-version": { type: "string" },
        "payload-digest": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    return 2;
  }
  const o = args.values;
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const mode = o["payload-digest"] || "entity";
  const version = o["expect-version"] || "1.1";
  if (!args.positionals.length || !["entity", "raw", "either"].includes(mode) ||
      !/^\d+\.\d+$/.test(version)) {
    console.error(USAGE);
    return 2;
  }
  const ctx = {
    version,
    payloadMode: mode,
    cdxjUnsortedOk: Boolean(o["cdxj-unsorted-ok"]),
    ids: new Map(),
    byPayload: new Map(),
    records: [],
  };
  /* Files in the order given: a revisit must follow its original, so pass
   * the serials in order (a shell glob sorts them). */
  for (const file of args.positionals) {
    let own;
    try {
      own = checkFileOwn(ctx, file);
    } catch (e) {
      fail(file, null, `cannot read: ${e.message}`);
      continue;
    }
    ctx.records.push(...own);
    await checkFileWarcio(file, own);
  }
  checkPairs(ctx);
  for (const cdxj of o.cdxj || []) {
    checkCdxj(ctx, cdxj);
  }
  if (o.json) {
    const records = ctx.records.filter((r) => !r.broken).map((r) => ({
      file: r.file, offset: r.offset, length: r.length, type: r.type,
      uri: r.uri, status: r.status, payload_digest: r.payload_digest,
      payload_digest_basis: r.payloadDigestBasis || null,
      content_sha1: r.content_sha1, truncated: r.truncated, date: r.date,
      id: r.id,
    }));
    writeFileSync(o.json, JSON.stringify({ records }, null, 1) + "\n");
  }
  if (!o.quiet || failures) {
    console.log(`warccheck: ${ctx.records.length} records in ` +
      `${args.positionals.length} files, ${failures} failures, ${warnings} warnings ` +
      `(WARC/${version}, payload digest: ${mode})`);
  }
  return failures ? 1 : 0;
}

process.exitCode = await main();
