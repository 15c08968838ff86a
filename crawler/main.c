/*
 * main.c - the command-line front end: flags, URL lists, exit status.
 * A thin layer over the engine (include/crawler.h).
 */
#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libxml/xmlversion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "cr_version.h"
#include "crawler.h"
#include "dist.h"
#include "filter.h"
#include "input.h"

/* Exit codes; documented in the README and --help. */
enum {
  EXIT_ALL_OK = 0,
  EXIT_SOME_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_FATAL = 3,
  EXIT_TIME_UP = 4,
  EXIT_INTERRUPTED = 130,
};

/* Descriptors kept back from the concurrency budget: the manifest, the
 * event loop, c-ares, temporary files being written, stdio. */
#define FD_RESERVE 64
#define MAX_INPUTS 64

enum {
  OPT_MANIFEST = 256,
  OPT_PER_HOST,
  OPT_TIMEOUT,
  OPT_CONNECT_TIMEOUT,
  OPT_RETRIES,
  OPT_MAX_SIZE,
  OPT_USER_AGENT,
  OPT_DNS_SERVERS,
  OPT_DNS_CONCURRENCY,
  OPT_MAX_REDIRECTS,
  OPT_RETRY_AFTER_MAX,
  OPT_LOW_SPEED_TIME,
  OPT_PROGRESS,
  OPT_BUFFER_SIZE,
  OPT_SPAN_HOSTS,
  OPT_DOMAINS,
  OPT_ACCEPT_REGEX,
  OPT_REJECT_REGEX,
  OPT_NO_PARENT,
  OPT_MAX_PAGES,
  OPT_MAX_HOST_PAGES,
  OPT_MAX_URL_LENGTH,
  OPT_MAX_PATH_DEPTH,
  OPT_NO_ROBOTS,
  OPT_NO_SITEMAPS,
  OPT_WARC,
  OPT_WARC_MAX_SIZE,
  OPT_WARC_LEVEL,
  OPT_NO_WARC_DEDUP,
  OPT_NO_MIRROR,
  OPT_DELAY,
  OPT_JITTER,
  OPT_MAX_CRAWL_DELAY,
  OPT_RESUME,
  OPT_FRESH,
  OPT_NO_STATE,
  OPT_CA_CERTIFICATE,
  OPT_CA_DIRECTORY,
  OPT_NO_CHECK_CERTIFICATE,
  OPT_CERTIFICATE,
  OPT_PRIVATE_KEY,
  OPT_HTTP11,
  OPT_HTTP2,
  OPT_CONFIG,
  OPT_NO_CONFIG,
  OPT_HEADER,
  OPT_USER,
  OPT_PASSWORD,
  OPT_NETRC,
  OPT_NETRC_FILE,
  OPT_COOKIES,
  OPT_LOAD_COOKIES,
  OPT_SAVE_COOKIES,
  OPT_PROXY,
  OPT_NO_PROXY,
  OPT_LIMIT_RATE,
  OPT_MAX_TIME,
  OPT_TIMESTAMPING,
  OPT_IGNORE_CASE,
  OPT_ACCEPT_TYPE,
  OPT_REJECT_TYPE,
  OPT_REDIS,
  OPT_CRAWL,
  OPT_REDIS_LEASE,
};

#define MAX_HEADERS 64

static const struct option long_opts[] = {
  {"input", required_argument, NULL, 'i'},
  {"output", required_argument, NULL, 'o'},
  {"manifest", required_argument, NULL, OPT_MANIFEST},
  {"concurrency", required_argument, NULL, 'c'},
  {"per-host", required_argument, NULL, OPT_PER_HOST},
  {"timeout", required_argument, NULL, OPT_TIMEOUT},
  {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
  {"low-speed-time", required_argument, NULL, OPT_LOW_SPEED_TIME},
  {"retries", required_argument, NULL, OPT_RETRIES},
  {"retry-after-max", required_argument, NULL, OPT_RETRY_AFTER_MAX},
  {"max-redirects", required_argument, NULL, OPT_MAX_REDIRECTS},
  {"max-size", required_argument, NULL, OPT_MAX_SIZE},
  {"buffer-size", required_argument, NULL, OPT_BUFFER_SIZE},
  {"user-agent", required_argument, NULL, OPT_USER_AGENT},
  {"dns-servers", required_argument, NULL, OPT_DNS_SERVERS},
  {"dns-concurrency", required_argument, NULL, OPT_DNS_CONCURRENCY},
  {"ca-certificate", required_argument, NULL, OPT_CA_CERTIFICATE},
  {"ca-directory", required_argument, NULL, OPT_CA_DIRECTORY},
  {"no-check-certificate", no_argument, NULL, OPT_NO_CHECK_CERTIFICATE},
  {"certificate", required_argument, NULL, OPT_CERTIFICATE},
  {"private-key", required_argument, NULL, OPT_PRIVATE_KEY},
  {"http1.1", no_argument, NULL, OPT_HTTP11},
  {"http2", no_argument, NULL, OPT_HTTP2},
  {"header", required_argument, NULL, OPT_HEADER},
  {"user", required_argument, NULL, OPT_USER},
  {"password", required_argument, NULL, OPT_PASSWORD},
  {"netrc", no_argument, NULL, OPT_NETRC},
  {"netrc-file", required_argument, NULL, OPT_NETRC_FILE},
  {"cookies", no_argument, NULL, OPT_COOKIES},
  {"load-cookies", required_argument, NULL, OPT_LOAD_COOKIES},
  {"save-cookies", required_argument, NULL, OPT_SAVE_COOKIES},
  {"proxy", required_argument, NULL, OPT_PROXY},
  {"no-proxy", no_argument, NULL, OPT_NO_PROXY},
  {"inet4-only", no_argument, NULL, '4'},
  {"inet6-only", no_argument, NULL, '6'},
  {"limit-rate", required_argument, NULL, OPT_LIMIT_RATE},
  {"max-time", required_argument, NULL, OPT_MAX_TIME},
  {"timestamping", no_argument, NULL, 'N'},
  {"recursive", no_argument, NULL, 'r'},
  {"depth", required_argument, NULL, 'l'},
  {"page-requisites", no_argument, NULL, 'p'},
  {"convert-links", no_argument, NULL, 'k'},
  {"adjust-extension", no_argument, NULL, 'E'},
  {"html-extension", no_argument, NULL, 'E'},
  {"span-hosts", no_argument, NULL, OPT_SPAN_HOSTS},
  {"domains", required_argument, NULL, OPT_DOMAINS},
  {"accept-regex", required_argument, NULL, OPT_ACCEPT_REGEX},
  {"reject-regex", required_argument, NULL, OPT_REJECT_REGEX},
  {"no-parent", no_argument, NULL, OPT_NO_PARENT},
  {"accept", required_argument, NULL, 'A'},
  {"reject", required_argument, NULL, 'R'},
  {"ignore-case", no_argument, NULL, OPT_IGNORE_CASE},
  {"accept-type", required_argument, NULL, OPT_ACCEPT_TYPE},
  {"reject-type", required_argument, NULL, OPT_REJECT_TYPE},
  {"max-pages", required_argument, NULL, OPT_MAX_PAGES},
  {"max-host-pages", required_argument, NULL, OPT_MAX_HOST_PAGES},
  {"max-url-length", required_argument, NULL, OPT_MAX_URL_LENGTH},
  {"max-path-depth", required_argument, NULL, OPT_MAX_PATH_DEPTH},
  {"no-robots", no_argument, NULL, OPT_NO_ROBOTS},
  {"no-sitemaps", no_argument, NULL, OPT_NO_SITEMAPS},
  {"warc", required_argument, NULL, OPT_WARC},
  {"warc-max-size", required_argument, NULL, OPT_WARC_MAX_SIZE},
  {"warc-level", required_argument, NULL, OPT_WARC_LEVEL},
  {"no-warc-dedup", no_argument, NULL, OPT_NO_WARC_DEDUP},
  {"no-mirror", no_argument, NULL, OPT_NO_MIRROR},
  {"delay", required_argument, NULL, OPT_DELAY},
  {"jitter", no_argument, NULL, OPT_JITTER},
  {"max-crawl-delay", required_argument, NULL, OPT_MAX_CRAWL_DELAY},
  {"resume", no_argument, NULL, OPT_RESUME},
  {"fresh", no_argument, NULL, OPT_FRESH},
  {"no-state", no_argument, NULL, OPT_NO_STATE},
  {"progress", no_argument, NULL, OPT_PROGRESS},
  {"quiet", no_argument, NULL, 'q'},
  {"redis", required_argument, NULL, OPT_REDIS},
  {"crawl", required_argument, NULL, OPT_CRAWL},
  {"redis-lease", required_argument, NULL, OPT_REDIS_LEASE},
  {"config", required_argument, NULL, OPT_CONFIG},
  {"no-config", no_argument, NULL, OPT_NO_CONFIG},
  {"help", no_argument, NULL, 'h'},
  {"version", no_argument, NULL, 'V'},
  {NULL, 0, NULL, 0},
};

/* The short options, as getopt takes them. */
static const char short_opts[] = "i:o:c:rl:pkEqhV46NA:R:";

/* Flags of wget and curl that the crawler does not have, with what to use
 * instead where there is an equivalent: a habit typed without thinking
 * gets an answer rather than "unknown option". */
struct foreign {
  const char *flag;           /* as typed, with its dashes */
  const char *tool;
  const char *instead;        /* what to do instead; NULL: no equivalent */
};

static const struct foreign foreign_flags[] = {
  {"--mirror", "wget", "use -r -l inf"},
  {"-m", "wget", "use -r -l inf"},
  {"--no-clobber", "wget", NULL},
  {"-nc", "wget", NULL},
  {"--continue", "wget", "use --resume (to continue an interrupted crawl)"},
  {"--wait", "wget", "use --delay MS (milliseconds between requests to a host)"},
  {"-w", "wget", "use --delay MS (milliseconds between requests to a host)"},
  {"--random-wait", "wget", "use --jitter"},
  {"--tries", "wget", "use --retries N"},
  {"-t", "wget", "use --retries N"},
  {"-T", "wget", "use --timeout SEC"},
  {"--read-timeout", "wget", "use --low-speed-time SEC"},
  {"--level", "wget", "use -l/--depth N"},
  {"-np", "wget", "use --no-parent"},
  {"-H", "wget or curl", "use --span-hosts (wget's -H) or --header (curl's -H)"},
  {"-D", "wget", "use --domains LIST"},
  {"--input-file", "wget", "use -i/--input FILE"},
  {"--directory-prefix", "wget", "use -o/--output DIR"},
  {"-P", "wget", "use -o/--output DIR"},
  {"--output-dir", "curl", "use -o/--output DIR"},
  {"--output-document", "wget", "use -o/--output DIR (pages are saved under it)"},
  {"-O", "wget or curl", "use -o/--output DIR (pages are saved under it)"},
  {"--remote-name", "curl", "use -o/--output DIR (pages are saved under it)"},
  {"--no-directories", "wget", NULL},
  {"-nd", "wget", NULL},
  {"--no-host-directories", "wget", NULL},
  {"-nH", "wget", NULL},
  {"--cut-dirs", "wget", NULL},
  {"--location", "curl", "redirects are always followed (--max-redirects N)"},
  {"-L", "curl", "redirects are always followed (--max-redirects N)"},
  {"--compressed", "curl", "gzip, deflate, br and zstd are always accepted"},
  {"--silent", "curl", "use -q/--quiet"},
  {"-s", "curl", "use -q/--quiet"},
  {"--no-verbose", "wget", "use -q/--quiet"},
  {"-nv", "wget", "use -q/--quiet"},
  {"--verbose", "wget or curl", "use --progress"},
  {"-v", "wget or curl", "use --progress"},
  {"--insecure", "curl", "use --no-check-certificate"},
  {"--cacert", "curl", "use --ca-certificate FILE"},
  {"--capath", "curl", "use --ca-directory DIR"},
  {"--cert", "curl", "use --certificate FILE"},
  {"--key", "curl", "use --private-key FILE"},
  {"--max-filesize", "curl", "use --max-size BYTES"},
  {"--warc-file", "wget", "use --warc PREFIX"},
  {"--no-warc-compression", "wget", NULL},
  {"--warc-dedup", "wget", "repeated payloads are revisit records by default"},
  {"--no-warc-digests", "wget", NULL},
  {"--quota", "wget", "use --max-size BYTES (per page) or --max-pages N"},
  {"-Q", "wget", "use --max-size BYTES (per page) or --max-pages N"},
  {"--retry", "curl", "use --retries N"},
  {"--cookie", "curl", "use --load-cookies FILE"},
  {"-b", "curl", "use --load-cookies FILE"},
  {"--cookie-jar", "curl", "use --save-cookies FILE"},
  {"--http-user", "wget", "use --user USER"},
  {"--http-password", "wget", "use --password PASS"},
  {"--http-passwd", "wget", "use --password PASS"},
  {"-u", "curl", "use --user USER --password PASS"},
  {"--proxy-user", "wget or curl", "use --proxy http://USER:PASS@HOST:PORT"},
  {"-x", "curl", "use --proxy URL"},
  {"--noproxy", "curl", "use the no_proxy environment variable"},
  {"--ipv4", "curl", "use -4/--inet4-only"},
  {"--ipv6", "curl", "use -6/--inet6-only"},
  {"-U", "wget", "use --user-agent STR"},
  {"--referer", "wget or curl", NULL},
  {"-e", "wget", "use --no-robots for -e robots=off"},
  {"--execute", "wget", "use --no-robots for -e robots=off"},
  {"--exclude-directories", "wget", "use --reject-regex RE"},
  {"-X", "wget or curl", "use --reject-regex RE (wget's -X); only GET is sent (curl's -X)"},
  {"--include-directories", "wget", "use --accept-regex RE"},
  {"-I", "wget or curl", "use --accept-regex RE (wget's -I)"},
  {"--request", "curl", NULL},
  {"--data", "curl", NULL},
  {"-d", "curl", NULL},
  {"--post-data", "wget", NULL},
  {"--head", "curl", NULL},
  {"--spider", "wget", NULL},
  {"--server-response", "wget", NULL},
  {"-S", "wget", NULL},
  {"--include", "curl", NULL},
  {"--fail", "curl", "HTTP errors are never saved"},
  {"-f", "curl", "HTTP errors are never saved"},
  {"--create-dirs", "curl", "directories are always created"},
  {"--resolve", "curl", "use --dns-servers LIST"},
  {"-C", "curl", "use --resume (to continue an interrupted crawl)"},
};

/* Looks a flag up in foreign_flags: name is the token up to any '='. */
static const struct foreign *find_foreign(const char *name, size_t n)
{
  size_t i;

  for(i = 0; i < sizeof(foreign_flags) / sizeof(foreign_flags[0]); i++) {
    const struct foreign *f = &foreign_flags[i];

    if(f->tool && strlen(f->flag) == n && !memcmp(f->flag, name, n))
      return f;
  }
  return NULL;
}

/* Says that a flag is not ours.  Returns -1. */
static int unknown_flag(const char *name, size_t n)
{
  const struct foreign *f = find_foreign(name, n);

  if(!f)
    fprintf(stderr, "crawler: unknown option '%.*s' (see --help)\n", (int)n, name);
  else if(f->instead)
    fprintf(stderr, "crawler: '%.*s' is a %s option the crawler does not have; %s\n",
            (int)n, name, f->tool, f->instead);
  else
    fprintf(stderr, "crawler: '%.*s' is a %s option the crawler does not have (see "
            "--help)\n", (int)n, name, f->tool);
  return -1;
}

/* Checks the whole command line before getopt_long sees it.  getopt_long
 * takes any unambiguous prefix of a long name, so `--user=u` (a wget and
 * curl habit) once set the User-Agent to "u" and the crawl went on: here
 * a long option must be spelt out in full, a short one must be ours, and
 * the values are where they belong.  Operands may come anywhere (getopt
 * permutes); "--" ends the options.  Returns 0, or -1 after a message. */
static int check_args(int argc, char **argv, const struct option *longs)
{
  int i;

  for(i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *p;

    if(!strcmp(a, "--"))
      break;
    if(a[0] != '-' || !a[1])
      continue;
    if(a[1] == '-') {
      const char *name = a + 2;
      const char *eq = strchr(name, '=');
      size_t n = eq ? (size_t)(eq - name) : strlen(name);
      const struct option *o;

      for(o = longs; o->name; o++) {
        if(strlen(o->name) == n && !memcmp(o->name, name, n))
          break;
      }
      if(!o->name)
        return unknown_flag(a, n + 2);
      if(o->has_arg == no_argument && eq) {
        fprintf(stderr, "crawler: option '--%s' takes no value\n", o->name);
        return -1;
      }
      if(o->has_arg == required_argument && !eq) {
        if(i + 1 >= argc) {
          fprintf(stderr, "crawler: option '--%s' needs a value\n", o->name);
          return -1;
        }
        i++;
      }
      continue;
    }
    /* wget's two-letter short flags (-nc, -np, -nH...) come whole. */
    if(strlen(a) == 3 && a[1] == 'n' && find_foreign(a, 3))
      return unknown_flag(a, 3);
    for(p = a + 1; *p; p++) {
      const char *s = *p == ':' ? NULL : strchr(short_opts, *p);
      char flag[3] = {'-', *p, '\0'};

      if(!s)
        return unknown_flag(flag, 2);
      if(s[1] == ':') {
        if(!p[1]) {
          if(i + 1 >= argc) {
            fprintf(stderr, "crawler: option '-%c' needs a value\n", *p);
            return -1;
          }
          i++;
        }
        break;
      }
    }
  }
  return 0;
}

static void usage(FILE *out)
{
  struct cr_config d;

  cr_config_defaults(&d);
  fprintf(out,
    "Usage: crawler [OPTION]... [URL]...\n"
    "Fetch many URLs at once and save each body under an output directory.\n"
    "URLs come from -i lists (one per line, '#' comments) and/or the arguments.\n"
    "\n"
    "  -i, --input FILE          read URLs from FILE ('-' for standard input);\n"
    "                            may be repeated\n"
    "  -o, --output DIR          save pages under DIR/HOST[:PORT]/PATH (default: .)\n"
    "      --manifest FILE       JSON-lines record of every URL ('-' for stdout)\n"
    "                            (default: DIR/manifest.jsonl)\n"
    "  -c, --concurrency N       transfers in flight (default: %u)\n"
    "      --per-host N          transfers in flight per host, HTTP/2 streams\n"
    "                            included, 100 per HTTP/2 connection\n"
    "                            (default: %u)\n"
    "      --timeout SEC         limit for a whole transfer (default: %g)\n"
    "      --connect-timeout SEC\n"
    "                            limit for connecting (default: %g)\n"
    "      --low-speed-time SEC  abort a body stalled this long (default: %ld)\n"
    "      --retries N           extra attempts after connect errors, timeouts,\n"
    "                            429 and 5xx, with backoff (default: %u)\n"
    "      --retry-after-max SEC\n"
    "                            cap on a server's Retry-After (default: %g)\n"
    "      --max-redirects N     redirects followed per URL (default: %u)\n"
    "      --max-size BYTES      abort bodies larger than this after decoding;\n"
    "                            suffixes k, M, G (default: no limit)\n"
    "      --buffer-size BYTES   receive buffer per transfer, 1k to 512k\n"
    "                            (default: 16k, less above 2,000 transfers\n"
    "                            in flight so all buffers stay near 32 MB)\n"
    "      --user-agent STR      User-Agent header (default: crawler/%s)\n"
    "      --dns-servers LIST    DNS servers, host[:port][,...] (default: the\n"
    "                            system's resolv.conf)\n"
    "      --dns-concurrency N   DNS lookups in flight (default: %u)\n",
    d.concurrency, d.per_host, d.timeout, d.connect_timeout, d.low_speed_time,
    d.retries, d.retry_after_max, d.max_redirects, CR_VERSION, d.dns_in_flight);
  fputs(
    "\n"
    "HTTPS:\n"
    "      --ca-certificate FILE trust the CA certificates in FILE (PEM) instead\n"
    "                            of the system's bundle (default: $SSL_CERT_FILE,\n"
    "                            then $CURL_CA_BUNDLE)\n"
    "      --ca-directory DIR    also trust the CAs in DIR, hashed as c_rehash\n"
    "                            makes it (default: $SSL_CERT_DIR)\n"
    "      --no-check-certificate\n"
    "                            INSECURE: accept any certificate, for any name;\n"
    "                            anyone on the path can read and change pages\n"
    "      --certificate FILE    client certificate (PEM) for servers that ask\n"
    "      --private-key FILE    its private key (PEM; default: in --certificate)\n"
    "      --http1.1             speak HTTP/1.1 only\n"
    "      --http2               HTTP/2 where TLS offers it, else 1.1 (the default)\n"
    "\n"
    "Requests:\n"
    "      --header 'NAME: VALUE' add a request header (may be repeated; one\n"
    "                            for User-Agent replaces --user-agent)\n"
    "      --user USER           HTTP user name, Basic or Digest as the server\n"
    "                            asks, sent only to the seeds' origins\n"
    "      --password PASS       its password (visible to other local users in\n"
    "                            the process list: --netrc-file is safer)\n"
    "      --netrc               credentials from ~/.netrc, for the seeds' origins\n"
    "      --netrc-file FILE     credentials from FILE (implies --netrc)\n"
    "      --cookies             keep the cookies sites set, for the whole crawl\n"
    "                            (default: off; on with the next two)\n"
    "      --load-cookies FILE   start with the cookies in FILE (Netscape format)\n"
    "      --save-cookies FILE   write the cookies to FILE when the crawl ends\n"
    "      --proxy URL           send every request through this proxy\n"
    "                            (http://HOST:PORT); the proxy resolves the\n"
    "                            names (default: $http_proxy, $https_proxy,\n"
    "                            except hosts in $no_proxy)\n"
    "      --no-proxy            ignore the proxy variables\n"
    "  -4, --inet4-only          connect over IPv4 only (A lookups only)\n"
    "  -6, --inet6-only          connect over IPv6 only (AAAA lookups only)\n"
    "      --limit-rate RATE     at most RATE bytes/s per transfer, as wget's is\n"
    "                            per download; suffixes k, M (default: none)\n"
    "      --max-time SEC        stop the whole crawl after SEC seconds: transfers\n"
    "                            in flight are recorded as not done, exit 4, and\n"
    "                            --resume continues (default: none)\n",
    out);
  fprintf(out,
    "\n"
    "Recursive crawling:\n"
    "  -r, --recursive           follow links in HTML and CSS (robots.txt obeyed)\n"
    "  -l, --depth N             follow links up to N deep, or 'inf' (default: %d)\n"
    "  -p, --page-requisites     also fetch what saved pages need to render\n"
    "                            (images, style sheets and their imports,\n"
    "                            scripts, fonts, frames), past --depth and on\n"
    "                            any host; with or without -r\n"
    "  -k, --convert-links       once the crawl is complete, make links in the\n"
    "                            saved HTML and CSS point at the saved files\n"
    "                            (relative paths), or at absolute URLs for\n"
    "                            pages not saved (as wget's -k)\n"
    "  -E, --adjust-extension    save HTML without an .html/.htm suffix as\n"
    "                            NAME.html, CSS without .css as NAME.css\n"
    "      --span-hosts          follow links to other hosts (default: the seeds'\n"
    "                            hosts only, any port)\n"
    "      --domains LIST        follow only these domains and their subdomains,\n"
    "                            comma-separated\n"
    "      --accept-regex RE     follow only links whose URL matches RE (POSIX ERE)\n"
    "      --reject-regex RE     never follow links whose URL matches RE\n"
    "      --no-parent           stay below each seed's directory\n"
    "      --max-pages N         stop taking new URLs after N (default: no limit)\n"
    "      --max-host-pages N    URLs taken per host, a trap guard (default: %llu)\n"
    "      --max-url-length N    longest link followed, bytes (default: %zu)\n"
    "      --max-path-depth N    most path segments in a link followed, and a\n"
    "                            segment repeated more than 3 times is a trap\n"
    "                            (default: %u)\n"
    "      --no-robots           ignore robots.txt\n"
    "      --no-sitemaps         do not start from the URLs the seeds' hosts\n"
    "                            list in sitemaps (robots.txt Sitemap: lines,\n"
    "                            else /sitemap.xml)\n"
    "      --delay MS            per host, wait MS between request starts\n"
    "                            (default: 0; robots.txt Crawl-delay can raise it)\n"
    "      --jitter              vary each --delay between 0.5x and 1.5x\n"
    "      --max-crawl-delay SEC\n"
    "                            cap on a robots.txt Crawl-delay (default: %g)\n"
    "\n"
    "What is saved (a URL given is always fetched, not always saved):\n"
    "  -A, --accept LIST         save only files whose name ends with an entry\n"
    "                            or matches it as a glob ('pdf,*.jp?g'); with\n"
    "                            -r, links to other names are not followed,\n"
    "                            except pages that may hold links (a directory,\n"
    "                            no suffix, html, php...): read, not saved\n"
    "  -R, --reject LIST         never save files whose name ends with an entry\n"
    "                            or matches it as a glob ('gif,*.tmp'); links\n"
    "                            as with -A.  Both lists may be repeated\n"
    "      --ignore-case         -A and -R ignore case\n"
    "      --accept-type LIST    save only bodies of these Content-Types\n"
    "                            ('text/html,image/*'); with -r, HTML and CSS\n"
    "                            are still read for links\n"
    "      --reject-type LIST    never save bodies of these Content-Types\n"
    "                            A body not saved gets a manifest line with\n"
    "                            \"skipped\" and the reason.\n",
    d.max_depth, (unsigned long long)d.host_page_cap, d.max_url_len, d.max_path_segments,
    d.max_crawl_delay);
  /* Apart: C11 promises string literals of 4,095 bytes only. */
  fputs(
    "\n"
    "Resuming (state in DIR/.crawler while a crawl is unfinished):\n"
    "      --resume              continue the unfinished crawl in DIR: finished\n"
    "                            URLs are not fetched again (a new crawl if there\n"
    "                            is none)\n"
    "      --fresh               discard the unfinished crawl's state, start anew\n"
    "      --no-state            keep no state (a killed crawl cannot resume)\n"
    "                            With state in DIR and neither flag: exit 2.\n"
    "\n"
    "Archiving (WARC 1.1, as wget --warc-file, Heritrix, pywb read it):\n"
    "      --warc PREFIX         also write every response fetched (redirects\n"
    "                            and errors too) with its request, as received,\n"
    "                            to PREFIX-TIME-NNNNN.warc.gz, and an index of\n"
    "                            them to PREFIX-TIME.cdxj (pywb's CDXJ)\n"
    "      --warc-max-size BYTES start a new WARC file past this size; suffixes\n"
    "                            k, M, G (default: 1G)\n"
    "      --warc-level N        gzip level of the records, 1-9 (default: 1)\n"
    "      --no-warc-dedup       write repeated payloads whole, not as revisit\n"
    "                            records\n"
    "      --no-mirror           with --warc: no files in DIR, only the WARC\n"
    "                            (DIR keeps the manifest and the crawl state)\n"
    "\n"
    "Crawling again (into the same DIR):\n"
    "  -N, --timestamping        ask the server whether each page the manifest\n"
    "                            says was saved has changed (If-None-Match,\n"
    "                            If-Modified-Since); keep the file on 304\n"
    "\n"
    "Output:\n"
    "      --progress            show the status line even when stderr is not a\n"
    "                            terminal\n"
    "  -q, --quiet               no status line and no summary\n"
    "      --config FILE         read long options from FILE, one a line\n"
    "                            ('name = value', 'name' for a flag) before\n"
    "                            the command line (default:\n"
    "                            ~/.config/crawler/config if it exists)\n"
    "      --no-config           read no config file\n"
    "\n"
    "Many workers, one crawl (Redis; see README \"Many workers\"):\n"
    "      --redis URL           redis://[:PASSWORD@]HOST[:PORT][/DB] holding\n"
    "                            the shared crawl\n"
    "      --crawl NAME          the shared crawl; with URLs (or -i): store its\n"
    "                            options and seeds, and exit; without: work on\n"
    "                            it (its options come from Redis) until it ends\n"
    "      --redis-lease SEC     a silent worker's hosts go to the others after\n"
    "                            this long (stored with the crawl; default: 10)\n"
    "  -h, --help                show this help and exit\n"
    "  -V, --version             show versions and exit\n"
    "\n"
    "Exit status: 0 every URL was saved or skipped by a filter; 1 finished,\n"
    "some URLs failed; 2 usage error; 3 fatal error (output not writable,\n"
    "disk full); 4 --max-time reached; 130 interrupted (SIGINT or SIGTERM).\n",
    out);
}

static void version(void)
{
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

  printf("crawler %s\nlibcurl %s (%s)\nc-ares %s\nlibxml2 %s\n", CR_VERSION,
         cv->version, cv->ssl_version ? cv->ssl_version : "no TLS",
         ares_version(NULL), LIBXML_DOTTED_VERSION);
}

static int bad_value(const char *opt, const char *val, const char *why)
{
  fprintf(stderr, "crawler: invalid value '%s' for %s: %s\n", val, opt, why);
  fprintf(stderr, "Try 'crawler --help' for more information.\n");
  return -1;
}

/* A file (dir: a directory) given to a TLS flag must be readable now, not
 * fail every transfer later. */
static int check_path(const char *opt, const char *path, int dir)
{
  struct stat sb;

  if(stat(path, &sb) < 0 || access(path, R_OK | (dir ? X_OK : 0)) < 0) {
    fprintf(stderr, "crawler: %s %s: %s\n", opt, path, strerror(errno));
    return -1;
  }
  if(dir ? !S_ISDIR(sb.st_mode) : S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "crawler: %s %s: %s\n", opt, path,
            dir ? "not a directory" : "is a directory");
    return -1;
  }
  return 0;
}

/* A file to be written at the end must have a directory that takes it
 * now, not fail after the whole crawl. */
static int check_writable(const char *opt, const char *path)
{
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  struct stat sb;

  if(!*path || n >= sizeof(dir)) {
    fprintf(stderr, "crawler: %s '%s': not a usable file name\n", opt, path);
    return -1;
  }
  if(!slash)
    memcpy(dir, ".", 2);
  else if(!n)
    memcpy(dir, "/", 2);
  else {
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  if(access(dir, W_OK | X_OK) < 0) {
    fprintf(stderr, "crawler: %s %s: %s: %s\n", opt, path, dir, strerror(errno));
    return -1;
  }
  if(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "crawler: %s %s: is a directory\n", opt, path);
    return -1;
  }
  return 0;
}

/* A --header line: a field name (RFC 9110 token characters), a colon,
 * a value without line breaks.  libcurl would send anything. */
static int check_header(const char *h)
{
  static const char tchar[] = "!#$%&'*+-.^_`|~";
  const char *p;

  for(p = h; *p && *p != ':'; p++) {
    if(!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
         (*p >= '0' && *p <= '9') || strchr(tchar, *p)))
      break;
  }
  if(p == h || *p != ':') {
    bad_value("--header", h, "expected 'Name: value'");
    return -1;
  }
  if(strpbrk(p, "\r\n")) {
    bad_value("--header", h, "a line break in the value");
    return -1;
  }
  return 0;
}

/* A proxy URL libcurl can use without resolving a name of its own:
 * http:// or https://, or no scheme (http), and a host. */
static int check_proxy(const char *opt, const char *url)
{
  CURLU *u = curl_url();
  char *scheme = NULL;
  char *host = NULL;
  int rc = -1;

  if(!u) {
    fprintf(stderr, "crawler: out of memory\n");
    return -1;
  }
  if(!*url)
    bad_value(opt, url, "empty");
  else if(curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ||
          curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
          curl_url_get(u, CURLUPART_HOST, &host, 0) || !*host)
    bad_value(opt, url, "not a proxy URL (http://HOST:PORT)");
  else if(strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))
    bad_value(opt, url, "only http:// and https:// proxies");
  else
    rc = 0;
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

/* The proxies, decided here once rather than by libcurl per transfer (the
 * engine always sets CURLOPT_PROXY): --proxy for both schemes, else the
 * variables curl reads, http_proxy (lower case only: a CGI program's
 * HTTP_PROXY can come from a request header) and https_proxy or
 * HTTPS_PROXY; no_proxy or NO_PROXY names hosts reached directly, for
 * --proxy too.  --no-proxy: none of them.  Returns 0 or -1 after a
 * message. */
static int proxy_from_env(struct cr_config *cfg, const char *proxy, int none)
{
  const char *v;

  if(none)
    return 0;
  if(proxy) {
    cfg->http_proxy = proxy;
    cfg->https_proxy = proxy;
  }
  else {
    v = getenv("http_proxy");
    if(v && *v) {
      if(check_proxy("http_proxy", v))
        return -1;
      cfg->http_proxy = v;
    }
    v = getenv("https_proxy");
    if(!v || !*v)
      v = getenv("HTTPS_PROXY");
    if(v && *v) {
      if(check_proxy("https_proxy", v))
        return -1;
      cfg->https_proxy = v;
    }
  }
  v = getenv("no_proxy");
  if(!v || !*v)
    v = getenv("NO_PROXY");
  if(v && *v)
    cfg->no_proxy = v;
  return 0;
}

/* Where no flag says, the trust store comes from the environment, as
 * OpenSSL's own tools and curl read it: SSL_CERT_FILE (then curl's
 * CURL_CA_BUNDLE) and SSL_CERT_DIR.  A variable naming nothing readable is
 * reported and ignored: it may be set for the whole system. */
static void tls_from_env(struct cr_config *cfg)
{
  static const char *const files[] = {"SSL_CERT_FILE", "CURL_CA_BUNDLE"};
  const char *v;
  size_t i;

  for(i = 0; !cfg->ca_file && i < sizeof(files) / sizeof(files[0]); i++) {
    v = getenv(files[i]);
    if(!v || !*v)
      continue;
    if(access(v, R_OK) == 0)
      cfg->ca_file = v;
    else
      fprintf(stderr, "crawler: ignoring %s=%s: %s\n", files[i], v, strerror(errno));
  }
  v = getenv("SSL_CERT_DIR");
  if(!cfg->ca_dir && v && *v) {
    /* OpenSSL takes a list; libcurl one directory: the first. */
    static char first[PATH_MAX];
    const char *colon = strchr(v, ':');

    if(colon) {
      size_t n = (size_t)(colon - v) < sizeof(first) - 1 ? (size_t)(colon - v)
                                                          : sizeof(first) - 1;

      fprintf(stderr, "crawler: SSL_CERT_DIR lists several directories; using the "
              "first\n");
      memcpy(first, v, n);
      first[n] = '\0';
      v = first;
    }
    if(access(v, R_OK | X_OK) == 0)
      cfg->ca_dir = v;
    else
      fprintf(stderr, "crawler: ignoring SSL_CERT_DIR=%s: %s\n", v, strerror(errno));
  }
}

/* Parses an unsigned integer in [min, max]. */
static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
                      unsigned long *out)
{
  char *end;
  unsigned long v;

  if(!*s || *s == '-' || *s == '+' || *s == ' ')
    return bad_value(opt, s, *s == '-' ? "must not be negative" : "not a number");
  errno = 0;
  v = strtoul(s, &end, 10);
  if(*end)
    return bad_value(opt, s, "not a number");
  if(errno == ERANGE || v > max) {
    char why[64];

    snprintf(why, sizeof(why), "must be at most %lu", max);
    return bad_value(opt, s, why);
  }
  if(v < min)
    return bad_value(opt, s, min == 1 ? "must be at least 1" : "too small");
  *out = v;
  return 0;
}

/* Parses seconds: a positive decimal number up to max. */
static int parse_secs(const char *opt, const char *s, double max, double *out)
{
  char *end;
  double v;

  if(!*s || *s == ' ')
    return bad_value(opt, s, "not a number");
  errno = 0;
  v = strtod(s, &end);
  if(*end || errno == ERANGE || isnan(v))
    return bad_value(opt, s, "not a number");
  if(v < 0)
    return bad_value(opt, s, "must not be negative");
  if(v == 0)
    return bad_value(opt, s, "must be greater than 0");
  if(v > max)
    return bad_value(opt, s, "too large");
  *out = v;
  return 0;
}

/* Parses a byte count with an optional k/M/G suffix (powers of 1024). */
static int parse_size(const char *opt, const char *s, int64_t *out)
{
  char *end;
  unsigned long long v;
  unsigned long long mul = 1;

  if(!*s || *s == '-' || *s == '+' || *s == ' ')
    return bad_value(opt, s, *s == '-' ? "must not be negative" : "not a number");
  errno = 0;
  v = strtoull(s, &end, 10);
  if(end == s)
    return bad_value(opt, s, "not a number");
  if(*end) {
    if(end[1])
      return bad_value(opt, s, "unknown suffix");
    switch(*end) {
    case 'k': case 'K': mul = 1ull << 10; break;
    case 'm': case 'M': mul = 1ull << 20; break;
    case 'g': case 'G': mul = 1ull << 30; break;
    default: return bad_value(opt, s, "unknown suffix");
    }
  }
  if(errno == ERANGE || v > (unsigned long long)INT64_MAX / mul)
    return bad_value(opt, s, "too large");
  if(!v)
    return bad_value(opt, s, "must be greater than 0");
  *out = (int64_t)(v * mul);
  return 0;
}

/* -A and -R add to their list each time they are given, as in wget.
 * Returns 0, or -1 after a message. */
static int append_list(char **list, const char *val)
{
  size_t old = *list ? strlen(*list) : 0;
  size_t n = strlen(val);
  char *nl = realloc(*list, old + n + 2);

  if(!nl) {
    fprintf(stderr, "crawler: out of memory\n");
    return -1;
  }
  if(*list)
    nl[old++] = ',';
  memcpy(nl + old, val, n + 1);
  *list = nl;
  return 0;
}

/* The filter lists are parsed here once, so that a bad entry is a usage
 * error before anything is created; the engine parses them again.
 * Returns 0, or -1 after a message. */
static int check_filters(const struct cr_config *cfg)
{
  struct cr_filter_config fc;
  struct cr_filter *f = NULL;
  char err[512];
  int rc;

  fc.accept = cfg->accept;
  fc.reject = cfg->reject;
  fc.accept_type = cfg->accept_type;
  fc.reject_type = cfg->reject_type;
  fc.ignore_case = cfg->ignore_case;
  rc = cr_filter_new(&fc, &f, err, sizeof(err));
  cr_filter_free(&f);
  if(rc) {
    fprintf(stderr, "crawler: %s\n", err[0] ? err : cr_strerror(rc));
    return -1;
  }
  return 0;
}

/* Grows the kernel's descriptor table to n slots now.  Grown on demand,
 * each doubling past the first 256 sockets waits for an RCU grace period
 * in socket() (10-20 ms measured under load), in the loop. */
static void presize_fd_table(rlim_t n)
{
  int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int hi;

  if(base < 0)
    return;
  if(n > 2 && n <= INT_MAX) {
    hi = fcntl(base, F_DUPFD_CLOEXEC, (int)(n - 1));
    if(hi >= 0)
      close(hi);
  }
  close(base);
}

/* Makes room for the descriptors the crawl needs: raises the soft limit to
 * the hard one, and lowers concurrency if even that is not enough.  A
 * transfer holds a socket and, only while its body arrives, a temporary
 * file; a quarter of the transfers writing at the same moment is budgeted,
 * and a transfer that finds no descriptor for its file is retried. */
static void fit_fd_limit(struct cr_config *cfg)
{
  struct rlimit rl;
  rlim_t need = (rlim_t)cfg->concurrency * 5 / 4 + FD_RESERVE;

  if(getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return;
  if(rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if(rl.rlim_cur < need) {
    /* Under a small limit the whole reserve cannot be kept: a quarter of
     * the limit goes to transfers, their files take at most as much
     * again, and the rest is left to the loop, DNS, the manifest and the
     * crawl state, so no transfer fails for want of a socket (EMFILE). */
    rlim_t spare = rl.rlim_cur > 2 * FD_RESERVE ? (rl.rlim_cur - FD_RESERVE) * 4 / 5
                                                : rl.rlim_cur / 4;
    unsigned c = spare > 1 ? (unsigned)spare : 1;

    /* Said even with -q: the run does not do what was asked. */
    fprintf(stderr, "crawler: the descriptor limit is %llu; lowering --concurrency "
            "from %u to %u\n", (unsigned long long)rl.rlim_cur, cfg->concurrency, c);
    cfg->concurrency = c;
  }
  presize_fd_table(rl.rlim_cur < need ? rl.rlim_cur : need);
}

/* The URL sources as the saved crawl state records them, so that a resume
 * with other lists or URLs is caught: "input=PATH\n" per list (as given;
 * its content is not compared), then "url=URL\n" per argument.  Returns a
 * malloc'd string or NULL. */
static char *sources_identity(char **inputs, size_t n_inputs, char **args, int nargs)
{
  size_t len = 1;
  size_t off = 0;
  char *s;
  size_t k;
  int i;

  for(k = 0; k < n_inputs; k++)
    len += strlen(inputs[k]) + sizeof("input=\n");
  for(i = 0; i < nargs; i++)
    len += strlen(args[i]) + sizeof("url=\n");
  s = malloc(len);
  if(!s)
    return NULL;
  s[0] = '\0';
  for(k = 0; k < n_inputs; k++)
    off += (size_t)snprintf(s + off, len - off, "input=%s\n", inputs[k]);
  for(i = 0; i < nargs; i++)
    off += (size_t)snprintf(s + off, len - off, "url=%s\n", args[i]);
  return s;
}

/* Nonzero when path (or stdin for "-") is a regular file, which can be read
 * a little at a time from inside the loop without ever blocking it. */
static int is_regular(const char *path)
{
  struct stat sb;
  int rc = strcmp(path, "-") ? stat(path, &sb) : fstat(STDIN_FILENO, &sb);

  return rc == 0 && S_ISREG(sb.st_mode);
}

/* The URL sources, read lazily: the engine pulls more when its queue runs
 * low, so a list of millions of lines is never in memory at once. */
struct feeder {
  const char *names[MAX_INPUTS];  /* for messages: the path, or "(stdin)" */
  struct cr_input *in[MAX_INPUTS];
  size_t n;
  size_t cur;
  char **args;                    /* URLs given as arguments, fed last */
  int nargs;
  unsigned long bad;              /* bad lines and arguments */
  int failed;                     /* a list could not be read */
  int all_regular;                /* every list is a regular file */
  int full;                       /* --max-pages reached: read no more */
};

/* Hands one line of a list to the engine.  Returns 1 if a URL was queued. */
static int feed_line(struct feeder *fd, struct cr_engine *e, const char *line,
                     size_t len, unsigned long lineno, int truncated)
{
  const char *start = NULL;
  size_t ulen = 0;
  const char *reason = NULL;
  char origin[512];
  enum cr_line_kind kind;
  int rc;

  snprintf(origin, sizeof(origin), "%s:%lu", fd->names[fd->cur], lineno);
  if(truncated) {
    kind = CR_LINE_BAD;
    reason = "line too long";
  }
  else
    kind = cr_input_line(line, len, &start, &ulen, &reason);
  if(kind == CR_LINE_SKIP)
    return 0;
  if(kind == CR_LINE_BAD) {
    char msg[600];

    fprintf(stderr, "%s: %s\n", origin, reason);
    snprintf(msg, sizeof(msg), "%s: %s", origin, reason);
    cr_engine_reject(e, line, len, msg);
    fd->bad++;
    return 0;
  }
  rc = cr_engine_add(e, start, ulen, origin, &reason);
  if(rc == CR_EURL || rc == CR_ESCHEME || rc == CR_ETOOLONG) {
    /* The engine recorded it with the same words. */
    fprintf(stderr, "%s: %s\n", origin, reason);
    fd->bad++;
  }
  else if(rc == CR_EFULL)
    fd->full = 1;
  else if(rc && rc != CR_EDUP)
    fprintf(stderr, "crawler: %s: %s\n", origin, cr_strerror(rc));
  return rc == 0;
}

/* cr_feed_cb: reads lines until `want` URLs were queued or input ends. */
static int feed(void *arg, struct cr_engine *e, unsigned want)
{
  struct feeder *fd = arg;
  unsigned added = 0;
  int i;

  while(fd->cur < fd->n && added < want && !fd->full) {
    const char *line;
    size_t len;
    unsigned long lineno;
    int truncated;
    int rc = cr_input_next(fd->in[fd->cur], &line, &len, &lineno, &truncated);

    if(rc > 0) {
      added += (unsigned)feed_line(fd, e, line, len, lineno, truncated);
      continue;
    }
    if(rc < 0) {
      fprintf(stderr, "crawler: error reading %s: %s\n", fd->names[fd->cur], strerror(errno));
      fd->failed = 1;
    }
    cr_input_free(&fd->in[fd->cur]);
    fd->cur++;
  }
  if(fd->cur < fd->n && !fd->full)
    return 1;
  for(i = 0; i < fd->nargs && !fd->full; i++) {
    char origin[64];
    const char *reason = NULL;
    int rc;

    snprintf(origin, sizeof(origin), "argument %d", i + 1);
    rc = cr_engine_add(e, fd->args[i], strlen(fd->args[i]), origin, &reason);
    if(rc == CR_EFULL)
      break;
    if(rc == CR_EURL || rc == CR_ESCHEME || rc == CR_ETOOLONG) {
      fprintf(stderr, "crawler: %s: '%s': %s\n", origin, fd->args[i], reason);
      fd->bad++;
    }
  }
  fd->nargs = 0;
  return 0;
}

/* The options a shared crawl stores for its workers: all but where this
 * process reads and writes (-i, -o, --manifest, WARC files, a cookie jar to
 * save, the Redis flags, output and config-file flags), and not the URLs:
 * each worker gives its own.  Appended to out, each NUL-terminated.
 * check_args has vetted the command line. */
static int share_options(int argc, char **argv, struct cr_buf *out)
{
  static const int local[] = { 'i', 'o', OPT_MANIFEST, OPT_REDIS, OPT_CRAWL, OPT_REDIS_LEASE,
                               OPT_PROGRESS, 'q', OPT_CONFIG, OPT_NO_CONFIG, 'h', 'V',
                               OPT_WARC, OPT_WARC_MAX_SIZE, OPT_WARC_LEVEL, OPT_NO_WARC_DEDUP,
                               OPT_NO_MIRROR, OPT_SAVE_COOKIES };
  int i;

  for(i = 1; i < argc; i++) {
    const char *a = argv[i];
    int val = 0;
    int takes = 0;
    size_t k;
    int keep = 1;

    if(!strcmp(a, "--"))
      break;
    if(a[0] != '-' || !a[1])
      continue;
    if(a[1] == '-') {
      const char *eq = strchr(a + 2, '=');
      size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
      const struct option *o;

      for(o = long_opts; o->name; o++)
        if(strlen(o->name) == n && !memcmp(o->name, a + 2, n))
          break;
      if(!o->name)
        continue;
      val = o->val;
      takes = o->has_arg == required_argument && !eq;
    }
    else {
      const char *q = strchr(short_opts, a[1]);

      /* Bundles of flags are stored as typed; one taking a value ends
       * them. */
      val = a[1];
      takes = q && q[1] == ':' && !a[2];
    }
    for(k = 0; k < sizeof(local) / sizeof(local[0]); k++)
      if(local[k] == val)
        keep = 0;
    if(keep && cr_buf_append(out, a, strlen(a) + 1))
      return CR_ENOMEM;
    if(takes && i + 1 < argc) {
      i++;
      if(keep && cr_buf_append(out, argv[i], strlen(argv[i]) + 1))
        return CR_ENOMEM;
    }
  }
  return 0;
}

static int run(int argc, char **argv, const struct cr_dist_conf *shared);

/* A worker of a shared crawl: the crawl's stored options come first, this
 * command line's after them (so its -o, -c... apply), and the whole is
 * parsed as one. */
static int run_worker(int argc, char **argv, const char *redis, const char *name,
                      const char *dns_servers)
{
  struct cr_dist_conf conf;
  char why[512];
  char **av;
  int ac = 1;
  int rc;
  size_t off;

  rc = cr_dist_load(redis, name, dns_servers, &conf, why, sizeof(why));
  if(rc == CR_EINVAL) {
    fprintf(stderr, "crawler: no crawl '%s' in %s: describe it first, with its options and "
            "URLs (see --help)\n", name, redis);
    return EXIT_USAGE;
  }
  if(rc) {
    fprintf(stderr, "crawler: %s\n", rc == CR_ENOMEM ? "out of memory" : why);
    return EXIT_FATAL;
  }
  av = calloc((size_t)argc + conf.argv_len + 2, sizeof(*av));
  if(!av) {
    cr_dist_conf_free(&conf);
    fprintf(stderr, "crawler: out of memory\n");
    return EXIT_FATAL;
  }
  av[0] = argv[0];
  for(off = 0; off < conf.argv_len; off += strlen(conf.argv + off) + 1)
    av[ac++] = conf.argv + off;
  memcpy(av + ac, argv + 1, (size_t)(argc - 1) * sizeof(*av));
  ac += argc - 1;
  rc = run(ac, av, &conf);
  free(av);
  cr_dist_conf_free(&conf);
  return rc;
}

int main(int argc, char **argv)
{
  return run(argc, argv, NULL);
}

static int run(int argc, char **argv, const struct cr_dist_conf *shared)
{
  struct cr_config cfg;
  struct cr_engine *e = NULL;
  struct cr_stats st;
  struct feeder fd;
  char *inputs[MAX_INPUTS];
  char *headers[MAX_HEADERS + 1];
  size_t n_headers = 0;
  const char *header_agent = NULL;
  const char *proxy = NULL;
  int no_proxy = 0;
  char *accept_list = NULL;
  char *reject_list = NULL;
  char *identity = NULL;
  unsigned long v;
  int quiet = 0;
  int force_progress = 0;
  const char *redis = NULL;
  const char *crawl = NULL;
  double lease = 0.0;
  struct cr_buf shared_argv;
  char *shared_id = NULL;
  int status = EXIT_FATAL;
  int opt;
  int rc;
  size_t k;

  /* Before anything else: the file's options are parsed as if typed.  A
   * worker's second parse (run_worker) has them already. */
  cr_buf_init(&shared_argv, 256);
  optind = 0;
  if(!shared && cr_config_argv(argc, argv, long_opts, &argc, &argv))
    return EXIT_USAGE;
  memset(&fd, 0, sizeof(fd));
  fd.all_regular = 1;
  cr_config_defaults(&cfg);
  cfg.output_dir = ".";
  if(check_args(argc, argv, long_opts))
    goto usage_out;
  /* check_args said everything getopt would; anything it still finds is
   * reported below. */
  opterr = 0;
  for(;;) {
    opt = getopt_long(argc, argv, short_opts, long_opts, NULL);
    if(opt == -1)
      break;
    switch(opt) {
    case 'i':
      if(fd.n == MAX_INPUTS) {
        fprintf(stderr, "crawler: at most %d input lists\n", MAX_INPUTS);
        goto usage;
      }
      /* Opened now, so a missing file is a usage error before anything
       * is fetched. */
      if(cr_input_open(optarg, &fd.in[fd.n])) {
        fprintf(stderr, "crawler: cannot read %s: %s\n", optarg, strerror(errno));
        goto usage;
      }
      fd.all_regular &= is_regular(optarg);
      inputs[fd.n] = optarg;
      fd.names[fd.n++] = strcmp(optarg, "-") ? optarg : "(stdin)";
      break;
    case 'o':
      if(!*optarg) {
        bad_value("--output", optarg, "empty");
        goto usage_out;
      }
      cfg.output_dir = optarg;
      break;
    case OPT_MANIFEST:
      if(!*optarg) {
        bad_value("--manifest", optarg, "empty");
        goto usage_out;
      }
      cfg.manifest_path = optarg;
      break;
    case 'c':
      if(parse_uint("--concurrency", optarg, 1, 1000000, &v))
        goto usage_out;
      cfg.concurrency = (unsigned)v;
      break;
    case OPT_PER_HOST:
      if(parse_uint("--per-host", optarg, 1, 1000000, &v))
        goto usage_out;
      cfg.per_host = (unsigned)v;
      break;
    case OPT_DNS_CONCURRENCY:
      if(parse_uint("--dns-concurrency", optarg, 1, 100000, &v))
        goto usage_out;
      cfg.dns_in_flight = (unsigned)v;
      break;
    case OPT_RETRIES:
      if(parse_uint("--retries", optarg, 0, 100, &v))
        goto usage_out;
      cfg.retries = (unsigned)v;
      break;
    case OPT_MAX_REDIRECTS:
      if(parse_uint("--max-redirects", optarg, 0, 100, &v))
        goto usage_out;
      cfg.max_redirects = (unsigned)v;
      break;
    case OPT_TIMEOUT:
      if(parse_secs("--timeout", optarg, 7 * 86400, &cfg.timeout))
        goto usage_out;
      break;
    case OPT_CONNECT_TIMEOUT:
      if(parse_secs("--connect-timeout", optarg, 86400, &cfg.connect_timeout))
        goto usage_out;
      break;
    case OPT_RETRY_AFTER_MAX:
      if(parse_secs("--retry-after-max", optarg, 86400, &cfg.retry_after_max))
        goto usage_out;
      break;
    case OPT_LOW_SPEED_TIME:
      if(parse_uint("--low-speed-time", optarg, 1, 86400, &v))
        goto usage_out;
      cfg.low_speed_time = (long)v;
      break;
    case OPT_MAX_SIZE:
      if(parse_size("--max-size", optarg, &cfg.max_size))
        goto usage_out;
      break;
    case OPT_BUFFER_SIZE: {
      int64_t bs;

      if(parse_size("--buffer-size", optarg, &bs))
        goto usage_out;
      /* libcurl's own bounds (CURL_MIN_READ_SIZE, CURL_MAX_READ_SIZE). */
      if(bs < 1024 || bs > 512 * 1024) {
        bad_value("--buffer-size", optarg, "must be from 1k to 512k");
        goto usage_out;
      }
      cfg.buffer_size = (unsigned)bs;
      break;
    }
    case OPT_USER_AGENT:
      cfg.user_agent = optarg;
      break;
    case OPT_DNS_SERVERS:
      if(!*optarg) {
        bad_value("--dns-servers", optarg, "empty");
        goto usage_out;
      }
      cfg.dns_servers = optarg;
      break;
    case OPT_PROGRESS:
      force_progress = 1;
      break;
    case 'r':
      cfg.recursive = 1;
      break;
    case 'p':
      cfg.page_requisites = 1;
      break;
    case 'k':
      cfg.convert_links = 1;
      break;
    case 'E':
      cfg.adjust_extension = 1;
      break;
    case 'l':
      if(!strcmp(optarg, "inf") || !strcmp(optarg, "0")) {
        /* wget spells "no limit" both ways. */
        cfg.max_depth = -1;
        break;
      }
      if(parse_uint("--depth", optarg, 1, 100000, &v))
        goto usage_out;
      cfg.max_depth = (int)v;
      break;
    case OPT_SPAN_HOSTS:
      cfg.span_hosts = 1;
      break;
    case OPT_DOMAINS:
      if(!*optarg) {
        bad_value("--domains", optarg, "empty");
        goto usage_out;
      }
      cfg.domains = optarg;
      break;
    case OPT_ACCEPT_REGEX:
      cfg.accept_regex = optarg;
      break;
    case OPT_REJECT_REGEX:
      cfg.reject_regex = optarg;
      break;
    case OPT_NO_PARENT:
      cfg.no_parent = 1;
      break;
    case 'A':
      if(append_list(&accept_list, optarg))
        goto usage_out;
      cfg.accept = accept_list;
      break;
    case 'R':
      if(append_list(&reject_list, optarg))
        goto usage_out;
      cfg.reject = reject_list;
      break;
    case OPT_IGNORE_CASE:
      cfg.ignore_case = 1;
      break;
    case OPT_ACCEPT_TYPE:
      cfg.accept_type = optarg;
      break;
    case OPT_REJECT_TYPE:
      cfg.reject_type = optarg;
      break;
    case OPT_MAX_PAGES:
      if(parse_uint("--max-pages", optarg, 1, ULONG_MAX, &v))
        goto usage_out;
      cfg.max_pages = v;
      break;
    case OPT_MAX_HOST_PAGES:
      if(parse_uint("--max-host-pages", optarg, 1, ULONG_MAX, &v))
        goto usage_out;
      cfg.host_page_cap = v;
      break;
    case OPT_MAX_URL_LENGTH:
      if(parse_uint("--max-url-length", optarg, 16, 8192, &v))
        goto usage_out;
      cfg.max_url_len = v;
      break;
    case OPT_MAX_PATH_DEPTH:
      if(parse_uint("--max-path-depth", optarg, 1, 1000, &v))
        goto usage_out;
      cfg.max_path_segments = (unsigned)v;
      break;
    case OPT_NO_ROBOTS:
      cfg.robots = 0;
      break;
    case OPT_NO_SITEMAPS:
      cfg.sitemaps = 0;
      break;
    case OPT_WARC:
      if(!*optarg || optarg[strlen(optarg) - 1] == '/') {
        fprintf(stderr, "crawler: --warc takes a file name prefix, such as crawl or "
                "archive/crawl\n");
        goto usage_out;
      }
      cfg.warc = optarg;
      break;
    case OPT_WARC_MAX_SIZE: {
      int64_t sz;

      if(parse_size("--warc-max-size", optarg, &sz))
        goto usage_out;
      if(sz < 1024 * 1024) {
        fprintf(stderr, "crawler: --warc-max-size: at least 1M\n");
        goto usage_out;
      }
      cfg.warc_max_size = (uint64_t)sz;
      break;
    }
    case OPT_WARC_LEVEL:
      if(parse_uint("--warc-level", optarg, 1, 9, &v))
        goto usage_out;
      cfg.warc_level = (int)v;
      break;
    case OPT_NO_WARC_DEDUP:
      cfg.warc_dedup = 0;
      break;
    case OPT_NO_MIRROR:
      cfg.no_mirror = 1;
      break;
    case OPT_DELAY:
      if(parse_uint("--delay", optarg, 0, 3600000, &v))
        goto usage_out;
      cfg.delay_ms = v;
      break;
    case OPT_JITTER:
      cfg.jitter = 1;
      break;
    case OPT_MAX_CRAWL_DELAY:
      if(parse_secs("--max-crawl-delay", optarg, 86400, &cfg.max_crawl_delay))
        goto usage_out;
      break;
    case OPT_RESUME:
    case OPT_FRESH:
    case OPT_NO_STATE: {
      enum cr_state_mode m = opt == OPT_RESUME ? CR_STATE_RESUME
                             : opt == OPT_FRESH ? CR_STATE_FRESH : CR_STATE_OFF;

      if(cfg.state != CR_STATE_ASK && cfg.state != m) {
        fprintf(stderr, "crawler: --resume, --fresh and --no-state exclude each other\n");
        goto usage;
      }
      cfg.state = m;
      break;
    }
    case OPT_CA_CERTIFICATE:
      if(check_path("--ca-certificate", optarg, 0))
        goto usage_out;
      cfg.ca_file = optarg;
      break;
    case OPT_CA_DIRECTORY:
      if(check_path("--ca-directory", optarg, 1))
        goto usage_out;
      cfg.ca_dir = optarg;
      break;
    case OPT_CERTIFICATE:
      if(check_path("--certificate", optarg, 0))
        goto usage_out;
      cfg.client_cert = optarg;
      break;
    case OPT_PRIVATE_KEY:
      if(check_path("--private-key", optarg, 0))
        goto usage_out;
      cfg.client_key = optarg;
      break;
    case OPT_NO_CHECK_CERTIFICATE:
      cfg.insecure = 1;
      break;
    case OPT_HTTP11:
    case OPT_HTTP2: {
      enum cr_http_version hv = opt == OPT_HTTP11 ? CR_HTTP_1_1 : CR_HTTP_2;

      if(cfg.http_version != CR_HTTP_AUTO && cfg.http_version != hv) {
        fprintf(stderr, "crawler: --http1.1 and --http2 exclude each other\n");
        goto usage;
      }
      cfg.http_version = hv;
      break;
    }
    case OPT_HEADER:
      if(check_header(optarg))
        goto usage_out;
      if(n_headers == MAX_HEADERS) {
        fprintf(stderr, "crawler: at most %d --header options\n", MAX_HEADERS);
        goto usage;
      }
      headers[n_headers++] = optarg;
      headers[n_headers] = NULL;
      cfg.headers = (const char *const *)headers;
      /* robots.txt groups are matched on the User-Agent sent. */
      if(!strncasecmp(optarg, "user-agent:", 11)) {
        const char *ua = optarg + 11;

        while(*ua == ' ' || *ua == '\t')
          ua++;
        if(*ua)
          header_agent = ua;
      }
      break;
    case OPT_USER:
      cfg.user = optarg;
      break;
    case OPT_PASSWORD:
      cfg.password = optarg;
      break;
    case OPT_NETRC:
      cfg.netrc = 1;
      break;
    case OPT_NETRC_FILE:
      if(check_path("--netrc-file", optarg, 0))
        goto usage_out;
      cfg.netrc = 1;
      cfg.netrc_file = optarg;
      break;
    case OPT_COOKIES:
      cfg.cookies = 1;
      break;
    case OPT_LOAD_COOKIES:
      if(check_path("--load-cookies", optarg, 0))
        goto usage_out;
      cfg.load_cookies = optarg;
      break;
    case OPT_SAVE_COOKIES:
      if(check_writable("--save-cookies", optarg))
        goto usage_out;
      cfg.save_cookies = optarg;
      break;
    case OPT_PROXY:
      if(check_proxy("--proxy", optarg))
        goto usage_out;
      proxy = optarg;
      break;
    case OPT_NO_PROXY:
      no_proxy = 1;
      break;
    case '4':
    case '6':
      if(cfg.ip_family && cfg.ip_family != opt - '0') {
        fprintf(stderr, "crawler: -4 and -6 exclude each other\n");
        goto usage;
      }
      cfg.ip_family = opt - '0';
      break;
    case OPT_LIMIT_RATE:
      if(parse_size("--limit-rate", optarg, &cfg.limit_rate))
        goto usage_out;
      break;
    case OPT_MAX_TIME:
      if(parse_secs("--max-time", optarg, 365 * 86400.0, &cfg.max_time))
        goto usage_out;
      break;
    case 'N':
      cfg.timestamping = 1;
      break;
    case 'q':
      quiet = 1;
      break;
    case 'h':
      usage(stdout);
      status = EXIT_ALL_OK;
      goto done;
    case 'V':
      version();
      status = EXIT_ALL_OK;
      goto done;
    case OPT_CONFIG:
    case OPT_NO_CONFIG:
      /* Read by cr_config_argv already. */
      break;
    case OPT_REDIS:
      redis = optarg;
      break;
    case OPT_CRAWL:
      if(cr_dist_name_ok(optarg)) {
        fprintf(stderr, "crawler: --crawl: a name of 1 to 64 letters, digits, '.', '_' "
                "or '-'\n");
        goto usage_out;
      }
      crawl = optarg;
      break;
    case OPT_REDIS_LEASE:
      if(parse_secs("--redis-lease", optarg, 3600.0, &lease))
        goto usage_out;
      if(lease < 0.5) {
        fprintf(stderr, "crawler: --redis-lease: at least 0.5 seconds\n");
        goto usage_out;
      }
      break;
    default:
      fprintf(stderr, "crawler: bad option '%s' (see --help)\n",
              optind > 0 && optind <= argc ? argv[optind - 1] : "?");
      goto usage_out;
    }
  }
  if((redis != NULL) != (crawl != NULL)) {
    fprintf(stderr, "crawler: --redis and --crawl go together: where the shared crawl is, "
            "and its name\n");
    goto usage;
  }
  if(redis && !fd.n && optind >= argc && !shared) {
    for(k = 0; k < fd.n; k++)
      cr_input_free(&fd.in[k]);
    free(accept_list);
    free(reject_list);
    cr_buf_cleanup(&shared_argv);
    return run_worker(argc, argv, redis, crawl, cfg.dns_servers);
  }
  if(!fd.n && optind >= argc && !redis) {
    fprintf(stderr, "crawler: no URLs: give -i FILE or URLs as arguments\n");
    goto usage;
  }
  if(redis) {
    const char *no = cfg.convert_links ? "-k (links point across the workers' directories)"
                     : cfg.timestamping ? "-N"
                     : cfg.state == CR_STATE_RESUME || cfg.state == CR_STATE_FRESH ?
                       "--resume and --fresh (the crawl's state is in Redis)"
                     : cfg.max_pages ? "--max-pages (each worker would count its own)" : NULL;

    if(no) {
      fprintf(stderr, "crawler: a crawl shared through --redis cannot take %s\n", no);
      goto usage_out;
    }
    if(shared && lease > 0.0) {
      fprintf(stderr, "crawler: --redis-lease is the crawl's, stored when it was described\n");
      goto usage_out;
    }
    cfg.redis_url = redis;
    cfg.crawl_name = crawl;
    cfg.state = CR_STATE_OFF;
    if(!shared) {
      cfg.redis_describe = 1;
      cfg.redis_lease_ms = lease > 0.0 ? (unsigned)(lease * 1000.0) : 0;
      /* Bad lines are told on stderr; nothing is fetched or saved. */
      cfg.manifest_path = "/dev/null";
      cfg.output_dir = ".";
      cfg.warc = NULL;
      cfg.no_mirror = 0;
      cfg.save_cookies = NULL;
      quiet = 1;
      if(share_options(argc, argv, &shared_argv)) {
        fprintf(stderr, "crawler: out of memory\n");
        goto usage_out;
      }
      cfg.redis_argv = shared_argv.data;
      cfg.redis_argv_len = shared_argv.len;
    }
    else
      cfg.redis_lease_ms = shared->lease_ms;
  }
  fd.args = argv + optind;
  fd.nargs = argc - optind;
  if(header_agent)
    cfg.user_agent = header_agent;
  if(cfg.password && !cfg.user) {
    fprintf(stderr, "crawler: --password needs --user\n");
    goto usage;
  }
  if(cfg.client_key && !cfg.client_cert) {
    fprintf(stderr, "crawler: --private-key needs --certificate\n");
    goto usage;
  }
  if(check_filters(&cfg))
    goto usage;
  if(proxy && no_proxy) {
    fprintf(stderr, "crawler: --proxy and --no-proxy exclude each other\n");
    goto usage;
  }
  if(proxy_from_env(&cfg, proxy, no_proxy))
    goto usage;
  tls_from_env(&cfg);
  if(cfg.insecure)
    /* Said even with -q: every page of the crawl is exposed. */
    fprintf(stderr, "crawler: WARNING: --no-check-certificate: certificates are not "
            "checked; anyone on the path can read and change the pages\n");
  if(cfg.no_mirror && !cfg.warc) {
    fprintf(stderr, "crawler: --no-mirror keeps only the WARC files: it needs --warc "
            "PREFIX\n");
    goto usage_out;
  }
  if(cfg.no_mirror && (cfg.convert_links || cfg.timestamping || cfg.adjust_extension)) {
    fprintf(stderr, "crawler: --no-mirror saves no files, so %s has none to work on\n",
            cfg.convert_links ? "-k" : cfg.timestamping ? "-N" : "-E");
    goto usage_out;
  }
  if(cfg.timestamping && cfg.manifest_path && !strcmp(cfg.manifest_path, "-")) {
    fprintf(stderr, "crawler: -N reads what the last crawl saved from its manifest, "
            "which must be a file, not standard output\n");
    goto usage_out;
  }
  if(quiet)
    cfg.progress = CR_PROGRESS_NONE;
  else if(force_progress || isatty(STDERR_FILENO))
    cfg.progress = CR_PROGRESS_LIVE;
  else
    cfg.progress = CR_PROGRESS_SUMMARY;
  /* A closed stdout (manifest "-") must become an error, not a kill. */
  signal(SIGPIPE, SIG_IGN);
  fit_fd_limit(&cfg);
  identity = sources_identity(inputs, fd.n, fd.args, fd.nargs);
  if(!identity) {
    fprintf(stderr, "crawler: out of memory\n");
    goto done;
  }
  cfg.identity = identity;
  if(shared) {
    shared_id = cr_config_identity(&cfg, 1);
    if(!shared_id) {
      fprintf(stderr, "crawler: out of memory\n");
      goto done;
    }
    if(strcmp(shared_id, shared->identity)) {
      char diff[400];

      cr_dist_first_difference(shared->identity, shared_id, diff, sizeof(diff));
      fprintf(stderr, "crawler: crawl '%s' has other settings than this worker's options: "
              "%s.  Leave out the options that decide what is crawled: the crawl's "
              "own come from Redis\n", crawl, diff);
      status = EXIT_USAGE;
      goto done;
    }
  }

  rc = cr_engine_new(&cfg, &e);
  if(rc == CR_ESTATE)
    status = EXIT_USAGE;
  if(rc)
    goto done;
  if(shared) {
    size_t i;

    for(i = 0; i < shared->n_seeds && !rc; i++)
      rc = cr_engine_seed_scope(e, shared->seeds[i]);
    if(rc && rc != CR_EURL) {
      fprintf(stderr, "crawler: %s\n", cr_strerror(rc));
      goto done;
    }
    rc = 0;
  }
  /* A pipe or terminal could block the loop in read(), stalling every
   * transfer while the producer thinks: such input is read in full before
   * the crawl starts. */
  if(!fd.all_regular)
    while(feed(&fd, e, UINT_MAX))
      ;
  cr_engine_set_feed(e, fd.cur < fd.n || fd.nargs ? feed : NULL, &fd);
  rc = cr_engine_run(e);
  cr_engine_stats(e, &st);
  if(cr_engine_shared_status(e))
    status = cr_engine_shared_status(e);
  else if(rc == CR_ESTOPPED)
    status = EXIT_INTERRUPTED;
  else if(rc == CR_ETIMEUP)
    status = EXIT_TIME_UP;
  else if(rc)
    status = EXIT_FATAL;
  else if(fd.failed)
    status = EXIT_FATAL;
  else
    status = st.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
  if(!quiet && !rc && cfg.manifest_path == NULL)
    fprintf(stderr, "crawler: pages in %s/, manifest in %s/manifest.jsonl\n",
            cfg.output_dir, cfg.output_dir);
  if(cfg.redis_describe && !rc && !cr_engine_shared_status(e)) {
    uint64_t offered;
    uint64_t added;

    cr_engine_shared_counts(e, &offered, &added);
    fprintf(stderr, "crawler: crawl %s: %llu seeds queued in redis (%llu seen before)%s\n",
            crawl, (unsigned long long)added, (unsigned long long)(offered - added),
            fd.bad ? "; bad lines above were skipped" : "");
    status = fd.failed ? EXIT_FATAL : EXIT_ALL_OK;
  }

done:
  cr_engine_free(&e);
  free(shared_id);
  cr_buf_cleanup(&shared_argv);
  free(identity);
  free(accept_list);
  free(reject_list);
  for(k = 0; k < fd.n; k++)
    cr_input_free(&fd.in[k]);
  return status;

usage:
  fprintf(stderr, "Try 'crawler --help' for more information.\n");
usage_out:
  cr_buf_cleanup(&shared_argv);
  for(k = 0; k < fd.n; k++)
    cr_input_free(&fd.in[k]);
  free(accept_list);
  free(reject_list);
  return EXIT_USAGE;
}
