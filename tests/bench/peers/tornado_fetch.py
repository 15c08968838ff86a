#!/usr/bin/python3
"""Tornado peer for the benchmark: fetch every URL of a list, save body i as OUTDIR/i.

Uses Tornado's *simple* client (tornado.simple_httpclient.SimpleAsyncHTTPClient,
pure Python on asyncio, one connection per request, no keep-alive) with
max_clients = CONCURRENCY, fed by CONCURRENCY worker coroutines so no request
waits in the client's own queue (where its connect timeout would run).
Names are resolved by tornado.netutil.ThreadedResolver (getaddrinfo in a pool
of --dns-threads threads) instead of the default 6-thread executor.

Run with Debian's /usr/bin/python3 (python3-tornado).  Exit 0 when every URL
was saved, 1 otherwise; failures are counted on stderr.
"""
import asyncio
import os
import sys

import tornado.httpclient
import tornado.netutil


def main():
    if len(sys.argv) < 4:
        print("usage: tornado_fetch.py URLFILE OUTDIR CONCURRENCY [DNS_THREADS]", file=sys.stderr)
        return 2
    urls = [u.strip() for u in open(sys.argv[1]) if u.strip()]
    out = sys.argv[2]
    conc = int(sys.argv[3])
    dns_threads = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    tornado.netutil.Resolver.configure("tornado.netutil.ThreadedResolver", num_threads=dns_threads)
    tornado.httpclient.AsyncHTTPClient.configure(
        "tornado.simple_httpclient.SimpleAsyncHTTPClient", max_clients=conc)
    failed = 0

    async def worker(it, client):
        nonlocal failed
        for i, url in it:
            try:
                r = await client.fetch(url, connect_timeout=60, request_timeout=120,
                                       decompress_response=True)
                with open(os.path.join(out, str(i)), "wb") as f:
                    f.write(r.body)
            except Exception as e:  # one failed URL, the rest go on
                failed += 1
                if failed <= 5:
                    print("tornado_fetch: %s: %s" % (url, e), file=sys.stderr)

    async def run():
        client = tornado.httpclient.AsyncHTTPClient()
        it = iter(enumerate(urls, 1))
        await asyncio.gather(*(worker(it, client) for _ in range(min(conc, len(urls)))))

    asyncio.run(run())
    if failed:
        print("tornado_fetch: %d of %d failed" % (failed, len(urls)), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
