#!/usr/bin/python3
"""Scrapy peer for the benchmark: fetch every URL of a list, save body i as OUTDIR/i.

A one-spider CrawlerProcess with CONCURRENT_REQUESTS and
CONCURRENT_REQUESTS_PER_DOMAIN = CONCURRENCY, no robots.txt, no cookies, no
throttling, default reactor (epoll).  Names are resolved by Scrapy's default
CachingThreadedResolver (getaddrinfo in Twisted's thread pool), whose pool is
raised to DNS_THREADS (Scrapy's default is 10).

Run with Debian's /usr/bin/python3 (python3-scrapy).  Exit 0 when every URL
was saved, 1 otherwise.
"""
import os
import sys

import scrapy
from scrapy.crawler import CrawlerProcess

STATE = {"saved": 0, "failed": 0}


class FetchSpider(scrapy.Spider):
    name = "bench"

    def __init__(self, urls, out, **kw):
        super().__init__(**kw)
        self.urls = urls
        self.out = out

    def start_requests(self):
        for i, url in enumerate(self.urls, 1):
            yield scrapy.Request(url, callback=self.save, errback=self.fail,
                                 meta={"i": i}, dont_filter=True)

    def save(self, response):
        if response.status != 200:
            STATE["failed"] += 1
            return
        with open(os.path.join(self.out, str(response.meta["i"])), "wb") as f:
            f.write(response.body)
        STATE["saved"] += 1

    def fail(self, failure):
        STATE["failed"] += 1
        if STATE["failed"] <= 5:
            print("scrapy_fetch: %s" % failure.value, file=sys.stderr)


def main():
    if len(sys.argv) < 4:
        print("usage: scrapy_fetch.py URLFILE OUTDIR CONCURRENCY [DNS_THREADS]", file=sys.stderr)
        return 2
    urls = [u.strip() for u in open(sys.argv[1]) if u.strip()]
    conc = int(sys.argv[3])
    dns_threads = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    process = CrawlerProcess(settings={
        "CONCURRENT_REQUESTS": conc,
        "CONCURRENT_REQUESTS_PER_DOMAIN": conc,
        "CONCURRENT_REQUESTS_PER_IP": 0,
        "REACTOR_THREADPOOL_MAXSIZE": dns_threads,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_TIMEOUT": 120,
        "RETRY_ENABLED": True,
        "LOG_LEVEL": "ERROR",
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "HTTPERROR_ALLOW_ALL": True,
    })
    process.crawl(FetchSpider, urls=urls, out=sys.argv[2])
    process.start()
    if STATE["saved"] != len(urls):
        print("scrapy_fetch: %d of %d saved, %d failed"
              % (STATE["saved"], len(urls), STATE["failed"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
