/*
 * robots.c - robots.txt (RFC 9309) parsed and matched; see robots.h.
 *
 * Decisions beyond the RFC, for whoever reads a surprising result:
 *  - Keys are case-insensitive and trimmed.  Besides "user-agent",
 *    "allow", "disallow" and "crawl-delay" we accept the variants Google's
 *    parser accepts, because real files contain them and their authors
 *    meant the rule: "useragent", "user agent"; "disalow", "dissallow",
 *    "dissalow", "diasllow", "disallaw"; "crawldelay", "crawl delay".
 *    A line without ':' counts only when it is exactly "key value" with no
 *    further whitespace ("Disallow /x"), as in Google's parser.
 *  - A group is a run of user-agent lines and the lines after it, up to
 *    the next user-agent line that follows an Allow, Disallow or
 *    Crawl-delay line.  Other lines (Sitemap, unknown keys, garbage) do not
 *    end the run of user-agent lines.  Rules before the first user-agent
 *    line belong to no group and are ignored.
 *  - A user-agent value matches when its product token (the leading run of
 *    [A-Za-z_-]) equals ours, ignoring case: "crawler/0.1" and "Crawler"
 *    match "crawler", "crawlerbot" does not.  "*" is the global group.  A
 *    matching group with no rules is still the group that applies (so it
 *    allows everything, the "*" group notwithstanding), as in RFC 9309
 *    section 5.1's quxbot.
 *  - Patterns and paths are both brought to the percent-encoding of
 *    cr_url_normalize (escapes of unreserved bytes decoded, other escapes
 *    in upper-case hex, bytes outside RFC 3986 pchar, '/' and '?' escaped,
 *    a stray '%' written "%25"), so a raw UTF-8 pattern matches the escaped
 *    path.  The priority of a rule is the length in octets of its
 *    normalized pattern, '*' and '$' included (as Google counts it).
 *  - Empty Allow and Disallow values are ignored; so are patterns that
 *    start with neither '/' nor '*', since no path could match them.
 *  - Crawl-delay is a plain decimal ("2", "0.5", ".5", "2."): no sign, no
 *    exponent, nothing after it but a comment; anything else is ignored.
 *    When several merged groups give one, the largest wins (the polite
 *    reading).
 *  - When the file is longer than CR_ROBOTS_MAX, the line cut by the limit
 *    is dropped too: a truncated "Allow: /a/b" read as "Allow: /a" would
 *    allow more than the site said.
 *
 * Bounds: at most RB_RULES_MAX rules are kept for each of our group and the
 * "*" group, patterns longer than RB_PATTERN_MAX bytes as written are
 * dropped.  A kept rule costs sizeof(struct cr_robots_rule) (8 bytes) plus
 * its normalized pattern (at most 3 bytes per byte as written), so the
 * whole result is below 3 * CR_ROBOTS_MAX + 8 * RB_RULES_MAX bytes.
 *
 * Matching is greedy over the literal segments between '*'s: the first
 * segment must be a prefix, each middle one is taken at its leftmost
 * occurrence (leftmost is never worse when the only wildcard is '*'), and
 * the last one must be the suffix when the pattern ends in '$'.  memmem is
 * linear (glibc uses the two-way algorithm), so one rule costs
 * O(path + pattern) whatever the number of '*'s.  Rules are sorted longest
 * first, Allow first on a tie, so the first match decides.
 */
#include "robots.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chars.h"
#include "crawler.h"

#define RB_RULES_MAX 10000  /* rules kept per group kind; the rest dropped */
#define RB_PATTERN_MAX 2048 /* bytes of one pattern as written */

struct cr_robots_rule {
  uint32_t off;     /* start of the pattern in pats */
  uint16_t len;     /* normalized pattern length, '$' included: priority */
  uint8_t allow;    /* 1 for Allow, 0 for Disallow */
  uint8_t anchored; /* the pattern ends in '$' (not part of what matches) */
};

struct cr_robots {
  struct cr_robots_rule *rules; /* owned; longest first, Allow first */
  size_t nrules;
  char *pats;   /* owned; the normalized patterns, back to back */
  double delay; /* Crawl-delay in seconds, or -1 */
};

/* Rules gathered while parsing for one kind of group (ours or "*"). */
struct rb_set {
  struct cr_robots_rule *rules;
  size_t n;
  size_t cap;
  struct cr_buf pats;
  double delay;
  int seen; /* a group of this kind exists, even without rules */
};

static const char rb_hex[] = "0123456789ABCDEF";

static int rb_is_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int rb_is_digit(unsigned char c)
{
  return c >= '0' && c <= '9';
}

static int rb_is_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static unsigned char rb_lower(unsigned char c)
{
  if(c >= 'A' && c <= 'Z')
    return (unsigned char)(c - 'A' + 'a');
  return c;
}

/* RFC 3986 unreserved: the only bytes whose escapes are decoded, as in
 * url.c. */
static int rb_unreserved(unsigned char c)
{
  return rb_is_alpha(c) || rb_is_digit(c) || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/* Bytes a normalized path-and-query keeps raw: pchar, '/' and '?'.  The
 * path part of a normalized URL never holds a raw '?', so any '?' is the
 * query's, and keeping it raw on both sides is consistent. */
static int rb_raw_ok(unsigned char c)
{
  if(rb_unreserved(c))
    return 1;
  switch(c) {
  case '!': case '$': case '&': case '\'': case '(': case ')':
  case '*': case '+': case ',': case ';': case '=':
  case ':': case '@': case '/': case '?':
    return 1;
  default:
    return 0;
  }
}

/* Writes s[0..n) re-encoded to out, which has room for 3 * n bytes.
 * Returns the length written. */
static size_t rb_normalize(const char *s, size_t n, char *out)
{
  size_t i;
  size_t o = 0;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];

    if(cr_is_escape(s + i, n - i)) {
      unsigned char v = cr_unescape(s + i);
      i += 2;
      if(rb_unreserved(v)) {
        out[o++] = (char)v;
        continue;
      }
      c = v;
    }
    else if(c != '%' && rb_raw_ok(c)) {
      out[o++] = (char)c;
      continue;
    }
    out[o++] = '%';
    out[o++] = rb_hex[c >> 4];
    out[o++] = rb_hex[c & 15];
  }
  return o;
}

/* Nonzero when rb_normalize would leave s[0..n) as it is, the usual case
 * for a path from a normalized URL; it then needs no copy. */
static int rb_is_normal(const char *s, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];

    if(c == '%') {
      if(!cr_is_escape(s + i, n - i))
        return 0;
      if(rb_unreserved(cr_unescape(s + i)))
        return 0;
      /* Lower-case hex is spelled differently once normalized. */
      if(rb_is_alpha((unsigned char)s[i + 1]) &&
         rb_lower((unsigned char)s[i + 1]) == s[i + 1])
        return 0;
      if(rb_is_alpha((unsigned char)s[i + 2]) &&
         rb_lower((unsigned char)s[i + 2]) == s[i + 2])
        return 0;
      i += 2;
    }
    else if(!rb_raw_ok(c)) {
      return 0;
    }
  }
  return 1;
}

/* Greedy match of the normalized pattern p[0..pn) ('$' removed) against
 * the normalized path s[0..sn); see the comment at the top for why greedy
 * is exact and linear. */
static int rb_match(const char *p, size_t pn, int anchored, const char *s,
                    size_t sn)
{
  const char *star = memchr(p, '*', pn);
  size_t pos;
  size_t k;

  if(!star) {
    if(anchored)
      return sn == pn && memcmp(s, p, pn) == 0;
    return sn >= pn && memcmp(s, p, pn) == 0;
  }
  k = (size_t)(star - p);
  if(sn < k || memcmp(s, p, k) != 0)
    return 0;
  pos = k;
  p += k + 1;
  pn -= k + 1;
  for(;;) {
    const char *found;

    star = memchr(p, '*', pn);
    if(!star)
      break;
    k = (size_t)(star - p);
    if(k > 0) {
      found = memmem(s + pos, sn - pos, p, k);
      if(!found)
        return 0;
      pos = (size_t)(found - s) + k;
    }
    p += k + 1;
    pn -= k + 1;
  }
  /* p[0..pn) is the segment after the last '*'. */
  if(anchored)
    return sn - pos >= pn && memcmp(s + sn - pn, p, pn) == 0;
  if(pn == 0)
    return 1;
  return memmem(s + pos, sn - pos, p, pn) != NULL;
}

static void rb_set_init(struct rb_set *set)
{
  set->rules = NULL;
  set->n = 0;
  set->cap = 0;
  /* Each byte of the file yields at most 3 bytes of pattern. */
  cr_buf_init(&set->pats, 3 * (size_t)CR_ROBOTS_MAX);
  set->delay = -1;
  set->seen = 0;
}

static void rb_set_cleanup(struct rb_set *set)
{
  free(set->rules);
  set->rules = NULL;
  cr_buf_cleanup(&set->pats);
}

/* Adds the normalized pattern p[0..pn) to set.  Past the caps the rule is
 * dropped and 0 returned: a file with too many rules is not an error.
 * Returns 0 or CR_ENOMEM. */
static int rb_set_add(struct rb_set *set, int allow, const char *p, size_t pn)
{
  struct cr_robots_rule *rule;
  int rc;

  if(set->n == RB_RULES_MAX)
    return 0;
  if(set->n == set->cap) {
    size_t ncap = set->cap ? set->cap * 2 : 16;
    struct cr_robots_rule *nr;

    if(ncap > RB_RULES_MAX)
      ncap = RB_RULES_MAX;
    nr = realloc(set->rules, ncap * sizeof(*nr));
    if(!nr)
      return CR_ENOMEM;
    set->rules = nr;
    set->cap = ncap;
  }
  rule = &set->rules[set->n];
  rule->off = (uint32_t)set->pats.len;
  rc = cr_buf_append(&set->pats, p, pn);
  if(rc == CR_EFULL)
    return 0;
  if(rc)
    return rc;
  rule->len = (uint16_t)pn;
  rule->allow = (uint8_t)(allow != 0);
  rule->anchored = (uint8_t)(pn > 0 && p[pn - 1] == '$');
  set->n++;
  return 0;
}

/* Longest first; on equal length Allow first, so the first match wins. */
static int rb_rule_cmp(const void *a, const void *b)
{
  const struct cr_robots_rule *x = a;
  const struct cr_robots_rule *y = b;

  if(x->len != y->len)
    return x->len > y->len ? -1 : 1;
  if(x->allow != y->allow)
    return x->allow ? -1 : 1;
  /* Keep file order among equals, so results never depend on qsort. */
  if(x->off != y->off)
    return x->off < y->off ? -1 : 1;
  return 0;
}

/* Case-insensitive: is s[0..n) equal to the NUL-terminated word? */
static int rb_eq(const char *s, size_t n, const char *word)
{
  size_t i;

  for(i = 0; i < n; i++) {
    if(word[i] == '\0' || rb_lower((unsigned char)s[i]) != (unsigned char)word[i])
      return 0;
  }
  return word[n] == '\0';
}

static int rb_eq_any(const char *s, size_t n, const char *const *words)
{
  size_t i;

  for(i = 0; words[i]; i++) {
    if(rb_eq(s, n, words[i]))
      return 1;
  }
  return 0;
}

enum rb_key { RB_OTHER, RB_AGENT, RB_ALLOW, RB_DISALLOW, RB_DELAY };

static enum rb_key rb_key(const char *s, size_t n)
{
  static const char *const agent[] = { "user-agent", "useragent", "user agent",
                                       NULL };
  static const char *const allow[] = { "allow", NULL };
  static const char *const disallow[] = { "disallow", "disalow", "dissallow",
                                          "dissalow", "diasllow", "disallaw",
                                          NULL };
  static const char *const delay[] = { "crawl-delay", "crawldelay",
                                       "crawl delay", NULL };

  if(rb_eq_any(s, n, agent))
    return RB_AGENT;
  if(rb_eq_any(s, n, allow))
    return RB_ALLOW;
  if(rb_eq_any(s, n, disallow))
    return RB_DISALLOW;
  if(rb_eq_any(s, n, delay))
    return RB_DELAY;
  return RB_OTHER;
}

/* Length of the product token at s[0..n): the leading [A-Za-z_-]. */
static size_t rb_token_len(const char *s, size_t n)
{
  size_t i = 0;

  while(i < n && (rb_is_alpha((unsigned char)s[i]) || s[i] == '_' ||
                  s[i] == '-'))
    i++;
  return i;
}

/* Case-insensitive equality of two byte strings. */
static int rb_eq_nocase(const char *a, size_t an, const char *b, size_t bn)
{
  size_t i;

  if(an != bn)
    return 0;
  for(i = 0; i < an; i++) {
    if(rb_lower((unsigned char)a[i]) != rb_lower((unsigned char)b[i]))
      return 0;
  }
  return 1;
}

/* Parses a Crawl-delay value; returns it, or -1 when it is not a plain
 * decimal.  Digits are read here rather than by strtod, which would also
 * take signs, exponents, hex, "inf" and "nan". */
static double rb_parse_delay(const char *s, size_t n)
{
  double v = 0;
  double scale = 1;
  size_t i = 0;
  size_t digits = 0;

  while(i < n && rb_is_digit((unsigned char)s[i])) {
    v = v * 10 + (s[i] - '0');
    i++;
    digits++;
  }
  if(i < n && s[i] == '.') {
    i++;
    while(i < n && rb_is_digit((unsigned char)s[i])) {
      scale /= 10;
      v += (s[i] - '0') * scale;
      i++;
      digits++;
    }
  }
  if(digits == 0 || i != n)
    return -1;
  return v;
}

/* Parser state across lines. */
struct rb_parser {
  const char *agent; /* our product token */
  size_t agent_len;
  int in_agents; /* the last significant line was a user-agent line */
  int cur_ours;  /* the current group is for us */
  int cur_star;  /* the current group is for "*" */
  struct rb_set ours;
  struct rb_set star;
};

static void rb_delay_put(struct rb_set *set, double d)
{
  if(d > set->delay)
    set->delay = d;
}

/* Handles one rule line of the current group.  Returns 0 or CR_ENOMEM. */
static int rb_rule(struct rb_parser *ps, enum rb_key key, const char *v,
                   size_t vn)
{
  char pat[3 * RB_PATTERN_MAX];
  size_t pn;
  int rc = 0;

  ps->in_agents = 0;
  /* Before the first user-agent line both are 0: such rules are lost. */
  if(!ps->cur_ours && !ps->cur_star)
    return 0;
  if(key == RB_DELAY) {
    double d = rb_parse_delay(v, vn);

    if(d < 0)
      return 0;
    if(ps->cur_ours)
      rb_delay_put(&ps->ours, d);
    if(ps->cur_star)
      rb_delay_put(&ps->star, d);
    return 0;
  }
  /* An empty value says nothing (an empty Disallow allows everything);
   * a value that starts with neither '/' nor '*' can match no path. */
  if(vn == 0 || vn > RB_PATTERN_MAX || (v[0] != '/' && v[0] != '*'))
    return 0;
  pn = rb_normalize(v, vn, pat);
  if(ps->cur_ours)
    rc = rb_set_add(&ps->ours, key == RB_ALLOW, pat, pn);
  if(rc == 0 && ps->cur_star)
    rc = rb_set_add(&ps->star, key == RB_ALLOW, pat, pn);
  return rc;
}

/* Handles a user-agent line. */
static void rb_agent_line(struct rb_parser *ps, const char *v, size_t vn)
{
  size_t tn;

  if(!ps->in_agents) {
    /* A user-agent line after rules starts a new group. */
    ps->in_agents = 1;
    ps->cur_ours = 0;
    ps->cur_star = 0;
  }
  if(vn > 0 && v[0] == '*' && (vn == 1 || rb_is_space((unsigned char)v[1]))) {
    ps->cur_star = 1;
    ps->star.seen = 1;
    return;
  }
  tn = rb_token_len(v, vn);
  if(tn > 0 && rb_eq_nocase(v, tn, ps->agent, ps->agent_len)) {
    ps->cur_ours = 1;
    ps->ours.seen = 1;
  }
}

/* Trims whitespace from both ends of [*s, *s + *n). */
static void rb_trim(const char **s, size_t *n)
{
  while(*n > 0 && rb_is_space((unsigned char)(*s)[0])) {
    (*s)++;
    (*n)--;
  }
  while(*n > 0 && rb_is_space((unsigned char)(*s)[*n - 1]))
    (*n)--;
}

/* Handles one line (without its end).  Returns 0 or CR_ENOMEM. */
static int rb_line(struct rb_parser *ps, const char *s, size_t n)
{
  const char *hash = memchr(s, '#', n);
  const char *colon;
  const char *k = s;
  size_t kn;
  const char *v;
  size_t vn;
  enum rb_key key;

  if(hash)
    n = (size_t)(hash - s);
  rb_trim(&k, &n);
  if(n == 0)
    return 0;
  colon = memchr(k, ':', n);
  if(colon) {
    kn = (size_t)(colon - k);
    v = colon + 1;
    vn = n - kn - 1;
  }
  else {
    /* "key value" without a colon counts only when the value is one
     * word, which keeps prose lines from reading as rules. */
    size_t i;

    kn = 0;
    while(kn < n && !rb_is_space((unsigned char)k[kn]))
      kn++;
    v = k + kn;
    vn = n - kn;
    rb_trim(&v, &vn);
    if(vn == 0)
      return 0;
    for(i = 0; i < vn; i++) {
      if(rb_is_space((unsigned char)v[i]))
        return 0;
    }
  }
  rb_trim(&k, &kn);
  rb_trim(&v, &vn);
  key = rb_key(k, kn);
  switch(key) {
  case RB_AGENT:
    rb_agent_line(ps, v, vn);
    return 0;
  case RB_ALLOW:
  case RB_DISALLOW:
  case RB_DELAY:
    return rb_rule(ps, key, v, vn);
  case RB_OTHER:
  default:
    /* Sitemap and unknown lines neither end nor start a group. */
    return 0;
  }
}

/* Moves set's rules into a new cr_robots, sorted. */
static int rb_take(struct rb_set *set, struct cr_robots **out)
{
  struct cr_robots *r = calloc(1, sizeof(*r));

  if(!r)
    return CR_ENOMEM;
  if(set->n > 1)
    qsort(set->rules, set->n, sizeof(*set->rules), rb_rule_cmp);
  r->rules = set->rules;
  r->nrules = set->n;
  r->pats = set->pats.data;
  r->delay = set->delay;
  set->rules = NULL;
  set->n = 0;
  set->cap = 0;
  set->pats.data = NULL;
  set->pats.len = 0;
  set->pats.cap = 0;
  *out = r;
  return 0;
}

int cr_robots_parse(const char *txt, size_t len, const char *agent,
                    struct cr_robots **out)
{
  struct rb_parser ps;
  size_t i = 0;
  size_t start;
  int rc = 0;

  if(!out)
    return CR_EINVAL;
  *out = NULL;
  if(!txt)
    len = 0;
  if(!agent)
    agent = "";
  memset(&ps, 0, sizeof(ps));
  /* Only the product token counts, even if given a whole User-Agent. */
  ps.agent = agent;
  ps.agent_len = rb_token_len(agent, strlen(agent));
  rb_set_init(&ps.ours);
  rb_set_init(&ps.star);

  if(len > CR_ROBOTS_MAX) {
    /* Drop the line the limit cuts: a partial rule may mean more than
     * the whole one did. */
    len = CR_ROBOTS_MAX;
    while(len > 0 && txt[len - 1] != '\n' && txt[len - 1] != '\r')
      len--;
  }
  if(len >= 3 && memcmp(txt, "\xEF\xBB\xBF", 3) == 0)
    i = 3;
  while(i < len && rc == 0) {
    start = i;
    while(i < len && txt[i] != '\n' && txt[i] != '\r')
      i++;
    rc = rb_line(&ps, txt + start, i - start);
    if(i < len && txt[i] == '\r' && i + 1 < len && txt[i + 1] == '\n')
      i++;
    i++;
  }
  if(rc)
    goto done;
  /* Our groups apply if there are any, even empty ones; else "*". */
  rc = rb_take(ps.ours.seen ? &ps.ours : &ps.star, out);

done:
  rb_set_cleanup(&ps.ours);
  rb_set_cleanup(&ps.star);
  return rc;
}

int cr_robots_allow_all(struct cr_robots **out)
{
  struct cr_robots *r;

  if(!out)
    return CR_EINVAL;
  r = calloc(1, sizeof(*r));
  *out = r;
  if(!r)
    return CR_ENOMEM;
  r->delay = -1;
  return 0;
}

int cr_robots_disallow_all(struct cr_robots **out)
{
  struct rb_set set;
  int rc;

  if(!out)
    return CR_EINVAL;
  *out = NULL;
  rb_set_init(&set);
  rc = rb_set_add(&set, 0, "/", 1);
  if(rc == 0)
    rc = rb_take(&set, out);
  rb_set_cleanup(&set);
  return rc;
}

/* A NULL r has no rules, so it allows everything.  When the path needs
 * re-encoding and the copy cannot be allocated, the answer is "no": not
 * fetching is the safe side for the site. */
int cr_robots_allowed(const struct cr_robots *r, const char *path, size_t len)
{
  char *copy = NULL;
  const char *s = path;
  size_t n = len;
  size_t i;
  int allowed = 1;

  if(!path || len == 0) {
    s = "/";
    n = 1;
  }
  else if(!rb_is_normal(path, len)) {
    if(len > SIZE_MAX / 3)
      return 0;
    copy = malloc(3 * len);
    if(!copy)
      return 0;
    n = rb_normalize(path, len, copy);
    s = copy;
  }
  if(!r || (n == 11 && memcmp(s, "/robots.txt", 11) == 0))
    goto done;
  for(i = 0; i < r->nrules; i++) {
    const struct cr_robots_rule *rule = &r->rules[i];
    size_t pn = rule->len - rule->anchored;

    if(rb_match(r->pats + rule->off, pn, rule->anchored, s, n)) {
      allowed = rule->allow;
      break;
    }
  }

done:
  free(copy);
  return allowed;
}

double cr_robots_crawl_delay(const struct cr_robots *r)
{
  return r ? r->delay : -1;
}

void cr_robots_free(struct cr_robots **r)
{
  if(!r || !*r)
    return;
  free((*r)->rules);
  free((*r)->pats);
  free(*r);
  *r = NULL;
}
