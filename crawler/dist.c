/*
 * dist.c - one crawl shared by many crawler processes; see dist.h.
 *
 * The Redis side is three Lua scripts, each run by EVALSHA (EVAL when
 * Redis answers NOSCRIPT, as after a restart):
 *   CONF  stores the crawl's settings, or returns the stored ones;
 *   STEP  offers URLs, finishes URLs, takes URLs for this worker;
 *   BEAT  the heartbeat: renews leases, takes free shards up to the fair
 *         share, gives back drained ones, counts live workers.
 * Every key is derived from one prefix inside the scripts: all of a
 * crawl's keys share its hash tag, so they live on one node of a cluster.
 */
#include "dist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "crawler.h"
#include "dns.h"
#include "hash.h"
#include "loop.h"
#include "url.h"

#define FLUSH_MS 10            /* a batch waits this long for company */
#define BATCH_MAX 512          /* ... unless it is this large */
#define POLL_MIN_MS 10         /* a hungry worker whose shards had nothing
                                  asks again after this, ... */
#define POLL_MAX_MS 50         /* ... doubling up to this */
#define JOIN_MS 100            /* a worker's first beat only says it is
                                  there; shares are taken from the second,
                                  so workers started together share at once */
#define BEAT_MAX_MS 1000
#define SETTLE_MS 2000          /* after the start, beats come faster ... */
#define SETTLE_BEAT_MS 200      /* ... this often */
#define RETRY_MS 100           /* after a failed call, before the next */
#define AUDIT_MS 2000          /* an idle worker checks the open count */
#define LOAD_MS 5000           /* cr_dist_load's deadline */
#define REC_MAX 16384          /* a record longer than this is refused */
#define BAD_REPORTS 20         /* bad data reported; later ones counted */

/* ---- the scripts ---- */

/* ARGV: prefix, version, shards, lease_ms, argv, identity.  Returns nil
 * when it stored them, else the stored {version, shards, lease_ms, argv,
 * identity}. */
static const char CONF_LUA[] =
  "local p = ARGV[1]\n"
  "if redis.call('EXISTS', p..'conf') == 1 then\n"
  "  return redis.call('HMGET', p..'conf', 'version', 'shards', 'lease_ms', 'argv',"
  " 'identity')\n"
  "end\n"
  "redis.call('HSET', p..'conf', 'version', ARGV[2], 'shards', ARGV[3], 'lease_ms', ARGV[4],"
  " 'argv', ARGV[5], 'identity', ARGV[6])\n"
  "if redis.call('EXISTS', p..'open') == 0 then redis.call('SET', p..'open', 0) end\n"
  "return false\n";

/* ARGV: prefix, n_offer (pairs), n_done (pairs), take, seeds (1: offers
 * are seeds, listed for the scope), recover (1: return the records in
 * flight of the shards to take from, and this worker's lower records),
 * lower (1: a URL taken by a live worker and now seen at a smaller depth
 * gets a "lower" record, REQ 2 or 3, in that worker's low list, for it to
 * follow its links again from the shorter depth), audit (1: if the crawl
 * counts URLs open but no shard or worker has any queued or taken, they
 * were lost to changes made behind the crawl's back: count 0 and say so),
 * the worker's number ("0": none yet, nothing taken), then the offer pairs
 * (shard, record), the done pairs (shard, inflight field: the hash, with
 * "L" and the depth for a lower record; "-shard": a bad record taken,
 * deleted without counting, and the seen entry its take marked set back
 * to untaken, so the real record of that hash can still be taken;
 * "-shard>to": the same, and the record, its URL good but queued in the
 * wrong shard, queued again in shard to; "+shard" with a record: a good
 * record the script dropped as a copy because a bad one had marked its URL
 * taken, queued again if its URL is untaken now), the shards to take from.
 * A seen value is depth + W * the number of the worker that took the URL
 * (0: queued, not taken yet).
 * Returns {open, added, URLs the audit found lost, bad keys..., '', taken
 * shard, record, seen depth, ...}.  Wrong types in keys are skipped and
 * named (redis.pcall), never fatal to the script. */
static const char STEP_LUA1[] =
  "local p = ARGV[1]\n"
  "local no, nd, take = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
  "local seeds, recover, lower = ARGV[5] == '1', ARGV[6] == '1', ARGV[7] == '1'\n"
  "local audit, wn, W = ARGV[8] == '1', ARGV[9], 131072\n"
  "local bad, out, added, lowered, touched = {}, {}, 0, 0, {}\n"
  "if seeds then redis.call('SET', p..'describing', 1, 'PX', 15000) end\n"
  "local function ok(r, k)\n"
  "  if type(r) == 'table' and r.err then bad[#bad+1] = k; return false end\n"
  "  return true\n"
  "end\n"
  "local i = 10\n"
  "for j = 1, no do\n"
  "  local s, r = ARGV[i], ARGV[i+1]\n"
  "  i = i + 2\n"
  "  local h = string.sub(r, 1, 16)\n"
  "  local d = tonumber(string.match(r, '^%x+ (%d+) '))\n"
  "  local sk, f = p..'seen:'..string.sub(h, 1, 3), string.sub(h, 4)\n"
  "  local old = redis.pcall('HGET', sk, f)\n"
  "  if ok(old, sk) and d then\n"
  "    if not old then\n"
  "      if ok(redis.pcall('RPUSH', p..'q:'..s, r), p..'q:'..s) then\n"
  "        touched[s] = true\n"
  "        redis.call('HSET', sk, f, d)\n"
  "        added = added + 1\n"
  "        if seeds then\n"
  "          redis.call('RPUSH', p..'seeds', string.match(r, '\\n[^\\n]*\\n(.*)$'))\n"
  "        end\n"
  "      end\n"
  "    else\n"
  "      local ov = tonumber(old) or 0\n"
  "      local ow = math.floor(ov / W)\n"
  "      if ov % W > d then\n"
  "        redis.call('HSET', sk, f, string.format('%.0f', ow * W + d))\n"
  "        local lk = p..'low:'..ow\n"
  "        if lower and ow > 0 and redis.call('ZSCORE', p..'workers', tostring(ow)) then\n"
  "          local lr = string.gsub(r, '^(%x+ %d+ )([01])',"
  " function(a, b) return a .. (tonumber(b) + 2) end, 1)\n"
  "          if ok(redis.pcall('RPUSH', lk, s .. ' ' .. lr), lk) then lowered = lowered + 1 end\n"
  "        end\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "local gone = 0\n"
  "local function untaken(f)\n"
  "  local sk, sf = p..'seen:'..string.sub(f, 1, 3), string.sub(f, 4, 16)\n"
  "  return sk, sf, tonumber(redis.pcall('HGET', sk, sf))\n"
  "end\n"
  "for j = 1, nd do\n"
  "  local s, f = ARGV[i], ARGV[i+1]\n"
  "  if string.sub(s, 1, 1) == '+' then\n"
  "    local _, _, v = untaken(f)\n"
  "    s = string.sub(s, 2)\n"
  "    if v and v < W and redis.pcall('RPUSH', p..'q:'..s, f) then\n"
  "      redis.pcall('SADD', p..'ready', s)\n"
  "    end\n"
  "  else\n"
  "  local drop = string.sub(s, 1, 1) == '-'\n"
  "  local to = ''\n"
  "  if drop then s, to = string.match(string.sub(s, 2), '^(%d*)>?(%d*)$') end\n"
  "  local k = p..'inflight:'..s\n"
  "  local r = drop and to ~= '' and redis.pcall('HGET', k, f)\n"
  "  local n = redis.pcall('HDEL', k, f)\n"
  "  if ok(n, k) and not drop then gone = gone + n end\n"
  "  if drop and n == 1 and not string.find(f, 'L', 1, true) then\n"
  "    local sk, sf, v = untaken(f)\n"
  "    if v and v >= W and string.format('%.0f', math.floor(v / W)) == wn then\n"
  "      redis.pcall('HSET', sk, sf, string.format('%.0f', v % W))\n"
  "      if type(r) == 'string' and redis.pcall('RPUSH', p..'q:'..to, r) then\n"
  "        redis.pcall('SADD', p..'ready', to)\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "  if wn ~= '0' and (drop or string.find(f, 'L', 1, true)) then\n"
  "    n = redis.pcall('HDEL', p..'lowflight:'..wn, f)\n"
  "    if type(n) == 'number' and not drop then gone = gone + n end\n"
  "  end\n"
  "  end\n"
  "  i = i + 2\n"
  "end\n"
  "if added + lowered > 0 then redis.call('INCRBY', p..'open', added + lowered) end\n"
  "for s in pairs(touched) do redis.pcall('SADD', p..'ready', s) end\n"
  "if gone > 0 then redis.call('DECRBY', p..'open', gone) end\n"
  "local shards = {}\n"
  "for j = i, #ARGV do shards[#shards+1] = ARGV[j] end\n"
  "local function seen(r)\n"
  "  local h = string.sub(r, 1, 16)\n"
  "  local d = redis.pcall('HGET', p..'seen:'..string.sub(h, 1, 3), string.sub(h, 4))\n"
  "  d = tonumber(d)\n"
  "  if not d then return '' end\n"
  "  return string.format('%.0f', d % W)\n"
  "end\n"
  "if recover then\n"
  "  for _, s in ipairs(shards) do\n"
  "    local k = p..'inflight:'..s\n"
  "    local v = redis.pcall('HVALS', k)\n"
  "    if ok(v, k) then\n"
  "      for _, r in ipairs(v) do\n"
  "        out[#out+1] = s; out[#out+1] = r; out[#out+1] = seen(r)\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "  local v = redis.pcall('HVALS', p..'lowflight:'..wn)\n"
  "  if type(v) == 'table' and not v.err then\n"
  "    for _, e in ipairs(v) do\n"
  "      local s, r = string.match(e, '^(%d+) (.*)$')\n"
  "      if s then out[#out+1] = 'l'..s; out[#out+1] = r; out[#out+1] = seen(r) end\n"
  "    end\n"
  "  end\n"
  "end\n";
/* The take; apart, as C11 promises string literals of 4,095 bytes only. */
static const char STEP_LUA2[] =
  "local cand, mineset, empty = shards, {}, {}\n"
  "if take > 0 then\n"
  "  for _, s in ipairs(shards) do mineset[s] = true end\n"
  "  local rd = redis.pcall('SMEMBERS', p..'ready')\n"
  "  if not audit and type(rd) == 'table' and not rd.err then\n"
  "    cand = {}\n"
  "    for _, s in ipairs(rd) do if mineset[s] then cand[#cand+1] = s end end\n"
  "  end\n"
  "end\n"
  "local n, more = 0, true\n"
  "while n < take and more do\n"
  "  more = false\n"
  "  for _, s in ipairs(cand) do\n"
  "    if n >= take then break end\n"
  "    local k = p..'q:'..s\n"
  "    local r = false\n"
  "    if not empty[s] then r = redis.pcall('LPOP', k) end\n"
  "    if r == false and not empty[s] then\n"
  "      empty[s] = true\n"
  "      redis.pcall('SREM', p..'ready', s)\n"
  "    end\n"
  "    if type(r) == 'string' then\n"
  "      more = true\n"
  "      n = n + 1\n"
  "      local f = string.sub(r, 1, 16)\n"
  "      local ld = string.match(r, '^%x+ (%d+) [23]')\n"
  "      local forged = false\n"
  "      if ld then f = f .. 'L' .. ld\n"
  "      else\n"
  "        local sk, sf = p..'seen:'..string.sub(f, 1, 3), string.sub(f, 4)\n"
  "        local v = tonumber(redis.pcall('HGET', sk, sf))\n"
  "        if not v or v >= W then forged = true\n"
  "        else redis.call('HSET', sk, sf, string.format('%.0f', wn * W + v)) end\n"
  "      end\n"
  "      if forged then out[#out+1] = s; out[#out+1] = r; out[#out+1] = '-'\n"
  "      else\n"
  "        redis.call('HSET', p..'inflight:'..s, f, r)\n"
  "        out[#out+1] = s; out[#out+1] = r; out[#out+1] = seen(r)\n"
  "      end\n"
  "    elseif r then\n"
  "      ok(r, k)\n"
  "      empty[s] = true\n"
  "    end\n"
  "  end\n"
  "end\n"
  "if wn ~= '0' then\n"
  "  local lk, fk = p..'low:'..wn, p..'lowflight:'..wn\n"
  "  for j = 1, 256 do\n"
  "    local e = redis.pcall('LPOP', lk)\n"
  "    if type(e) ~= 'string' then ok(e, lk); break end\n"
  "    local s, r = string.match(e, '^(%d+) (.*)$')\n"
  "    if not s then s, r = '0', e end\n"
  "    local f, ld = string.sub(r, 1, 16), string.match(r, '^%x+ (%d+) [23]')\n"
  "    if ld then f = f .. 'L' .. ld end\n"
  "    if ok(redis.pcall('HSET', fk, f, s .. ' ' .. r), fk) then\n"
  "      out[#out+1] = 'l'..s; out[#out+1] = r; out[#out+1] = seen(r)\n"
  "    end\n"
  "  end\n"
  "end\n"
  "local o = tonumber(redis.call('GET', p..'open') or '0') or -1\n"
  "local lost = 0\n"
  "if audit and o ~= 0 and redis.call('EXISTS', p..'describing') == 0 then\n"
  "  local n = 0\n"
  "  for s = 0, 255 do\n"
  "    local a = redis.pcall('LLEN', p..'q:'..s)\n"
  "    local b = redis.pcall('HLEN', p..'inflight:'..s)\n"
  "    if type(a) == 'number' then n = n + a end\n"
  "    if type(b) == 'number' then n = n + b end\n"
  "  end\n"
  "  for _, w in ipairs(redis.call('ZRANGE', p..'workers', 0, -1)) do\n"
  "    local a = redis.pcall('LLEN', p..'low:'..w)\n"
  "    local b = redis.pcall('HLEN', p..'lowflight:'..w)\n"
  "    if type(a) == 'number' then n = n + a end\n"
  "    if type(b) == 'number' then n = n + b end\n"
  "  end\n"
  "  if n == 0 then lost = o; o = 0; redis.call('SET', p..'open', 0) end\n"
  "end\n"
  "if redis.call('EXISTS', p..'describing') == 1 then o = o + 1 end\n"
  "local res = {o, added, lost}\n"
  "for _, k in ipairs(bad) do res[#res+1] = k end\n"
  "res[#res+1] = ''\n"
  "for _, v in ipairs(out) do res[#res+1] = v end\n"
  "return res\n";

/* ARGV: prefix, worker number, lease_ms, shards, first shard to look at,
 * n_keep, the shards held, the mode ("beat"; "join": the first, which
 * draws the worker's number and takes no shard yet; "leave": every held
 * shard is given back), then the shards to give back.  Workers gone
 * silent for a lease leave the workers set, and their lower records
 * (dist.h) are dropped.  Returns {live workers, fair share, the worker's
 * number, shards held...}. */
static const char BEAT_LUA[] =
  "local p, me = ARGV[1], ARGV[2]\n"
  "local lease, S, first = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
  "local nkeep = tonumber(ARGV[6])\n"
  "local mode = ARGV[7 + nkeep]\n"
  "if mode == 'join' then me = tostring(redis.call('INCR', p..'nworkers')) end\n"
  "local t = redis.call('TIME')\n"
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
  "local function requeue(s)\n"
  "  local inf = p..'inflight:'..s\n"
  "  if redis.call('TYPE', inf).ok == 'hash' then\n"
  "    for _, r in ipairs(redis.call('HVALS', inf)) do\n"
  "      local sk, sf = p..'seen:'..string.sub(r, 1, 3), string.sub(r, 4, 16)\n"
  "      local v = tonumber(redis.pcall('HGET', sk, sf))\n"
  "      if v and v >= 131072 and not string.match(r, '^%x+ %d+ [23]') then\n"
  "        redis.pcall('HSET', sk, sf, string.format('%.0f', v % 131072))\n"
  "      end\n"
  "      if redis.pcall('LPUSH', p..'q:'..s, r) then redis.pcall('SADD', p..'ready', s) end\n"
  "    end\n"
  "  end\n"
  "  redis.call('DEL', inf)\n"
  "end\n"
  "local function drop_low(w)\n"
  "  local n, v = 0, {}\n"
  "  local k, fk = p..'low:'..w, p..'lowflight:'..w\n"
  "  if redis.call('TYPE', k).ok == 'list' then v = redis.call('LRANGE', k, 0, -1) end\n"
  "  if redis.call('TYPE', fk).ok == 'hash' then\n"
  "    for _, e in ipairs(redis.call('HVALS', fk)) do v[#v+1] = e end\n"
  "  end\n"
  "  for _, e in ipairs(v) do\n"
  "    if string.match(e, '^%d+ %x+ %d+ [23]\\n') then n = n + 1 end\n"
  "  end\n"
  "  redis.call('DEL', k, fk)\n"
  "  if n > 0 then redis.call('DECRBY', p..'open', n) end\n"
  "end\n"
  "local function give(s)\n"
  "  local k = p..'lease:'..s\n"
  "  if redis.call('GET', k) ~= me then return end\n"
  "  requeue(s)\n"
  "  redis.call('DEL', k)\n"
  "end\n"
  "local mine, gone = {}, {}\n"
  "for j = 8 + nkeep, #ARGV do gone[ARGV[j]] = true end\n"
  "for j = 7, 6 + nkeep do\n"
  "  local s = ARGV[j]\n"
  "  if gone[s] then give(s)\n"
  "  else\n"
  "    local k = p..'lease:'..s\n"
  "    local o = redis.call('GET', k)\n"
  "    if o == me then redis.call('PEXPIRE', k, lease); mine[#mine+1] = s\n"
  "    elseif not o then redis.call('SET', k, me, 'PX', lease); mine[#mine+1] = s end\n"
  "  end\n"
  "end\n"
  "if mode == 'leave' then\n"
  "  for _, s in ipairs(mine) do give(s) end\n"
  "  redis.call('ZREM', p..'workers', me)\n"
  "  drop_low(me)\n"
  "  return {0, 0, tonumber(me) or 0}\n"
  "end\n"
  "redis.call('ZADD', p..'workers', now, me)\n"
  "for _, w in ipairs(redis.call('ZRANGEBYSCORE', p..'workers', '-inf', now - lease)) do\n"
  "  drop_low(w)\n"
  "end\n"
  "redis.call('ZREMRANGEBYSCORE', p..'workers', '-inf', now - lease)\n"
  "local live = redis.call('ZCARD', p..'workers')\n"
  "local share = math.ceil(S / live)\n"
  "if mode == 'join' then share = 0 end\n"
  "for j = 0, S - 1 do\n"
  "  if #mine >= share then break end\n"
  "  local s = tostring((first + j) % S)\n"
  "  local k = p..'lease:'..s\n"
  "  if redis.call('SET', k, me, 'NX', 'PX', lease) then\n"
  "    requeue(s)\n"
  "    local len = redis.pcall('LLEN', p..'q:'..s)\n"
  "    if type(len) ~= 'number' or len > 0 then redis.pcall('SADD', p..'ready', s) end\n"
  "    mine[#mine+1] = s\n"
  "  end\n"
  "end\n"
  "local res = {live, share, tonumber(me) or 0}\n"
  "for _, s in ipairs(mine) do res[#res+1] = s end\n"
  "return res\n";

enum { S_CONF, S_STEP, S_BEAT, S_N };

static char STEP_LUA[sizeof(STEP_LUA1) + sizeof(STEP_LUA2)];

static const char *const script_text[S_N] = { CONF_LUA, STEP_LUA, BEAT_LUA };

/* ---- string vectors ---- */

struct strv {
  char **v;
  size_t *len;
  size_t n;
  size_t cap;
};

static int strv_push(struct strv *s, const char *p, size_t n)
{
  char *c;

  if(s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    char **v = realloc(s->v, cap * sizeof(*v));
    size_t *len;

    if(!v)
      return CR_ENOMEM;
    s->v = v;
    len = realloc(s->len, cap * sizeof(*len));
    if(!len)
      return CR_ENOMEM;
    s->len = len;
    s->cap = cap;
  }
  c = malloc(n + 1);
  if(!c)
    return CR_ENOMEM;
  memcpy(c, p, n);
  c[n] = 0;
  s->v[s->n] = c;
  s->len[s->n++] = n;
  return 0;
}

static void strv_clear(struct strv *s)
{
  size_t i;

  for(i = 0; i < s->n; i++)
    free(s->v[i]);
  s->n = 0;
}

static void strv_free(struct strv *s)
{
  strv_clear(s);
  free(s->v);
  free(s->len);
  memset(s, 0, sizeof(*s));
}

/* Moves every string of from to the end of to. */
static int strv_take(struct strv *to, struct strv *from)
{
  size_t i;

  for(i = 0; i < from->n; i++) {
    if(to->n == to->cap) {
      if(strv_push(to, "", 0))
        return CR_ENOMEM;
      free(to->v[--to->n]);
    }
    to->v[to->n] = from->v[i];
    to->len[to->n++] = from->len[i];
  }
  from->n = 0;
  return 0;
}

/* ---- the module ---- */

/* Bad records of one step's reply remembered by hash (take_record). */
#define BOGUS_MAX 64

struct cr_dist {
  uint64_t bogus[BOGUS_MAX];
  size_t nbogus;
  struct cr_loop *loop;
  struct cr_redis *r;
  enum cr_dist_role role;
  char prefix[80];
  char name[72];
  char me[24];                 /* this worker's number (the first beat
                                  draws it); "" before */
  char sha[S_N][41];
  int loaded[S_N];             /* SCRIPT LOAD answered since the last up */
  char *identity;
  char *argv;
  size_t argv_len;
  unsigned lease_ms;
  unsigned backlog;
  cr_dist_deliver_cb deliver;
  cr_dist_deliver_cb lower_cb;
  int lower;
  cr_dist_fatal_cb fatal;
  void *arg;
  int ever_up;
  int dead;                    /* fatal was called */
  int conf_ok;                 /* DESCRIBE: settings stored or equal */
  int conf_out;
  /* What waits to go, and what is out. */
  struct strv offers;          /* shard, record, ... */
  struct strv dones;           /* shard, hash, ... */
  struct strv step_offers;     /* the step out */
  struct strv step_dones;
  int step_out;
  unsigned step_take;
  uint64_t steps_sent;
  uint64_t steps_done;         /* answered or failed */
  int recover;                 /* the last take's fate is unknown */
  uint64_t first_due;          /* loop ms the oldest waiting entry came */
  uint64_t retry_at;           /* no call before (one failed) */
  uint64_t next_audit;         /* no audit before */
  uint64_t next_poll;          /* a hungry worker asks no earlier */
  unsigned poll_ms;            /* the wait after an empty take */
  int more;                    /* the last take got all it asked for */
  int mine_offered;            /* offered a URL of a shard held here since
                                  the last take */
  int64_t open;                /* the crawl's open count, last seen */
  int open_fresh;              /* ... from a step sent with nothing before
                                  it waiting, while this worker was idle */
  int idle_asked;
  int last_idle;
  int over;
  /* Shards. */
  unsigned char held[CR_DIST_SHARDS];
  unsigned char draining[CR_DIST_SHARDS];
  uint64_t drain_after[CR_DIST_SHARDS];  /* steps_sent when it began to
                                            drain */
  uint32_t local[CR_DIST_SHARDS];   /* URLs delivered and not finished */
  unsigned n_held;
  unsigned share;
  int beat_out;
  uint64_t beats;              /* beats sent */
  uint64_t t_start;            /* loop ms at cr_dist_new */
  struct cr_timer beat;
  struct cr_timer flush;
  int leaving;                 /* 1: saying the rest; 2: leave sent */
  int left;
  struct cr_htag mine;         /* URLs delivered: 1 in hand, 2 finished */
  struct cr_dist_stats st;
  uint64_t rng;
};

static uint64_t rnd(struct cr_dist *d)
{
  d->rng ^= d->rng << 13;
  d->rng ^= d->rng >> 7;
  d->rng ^= d->rng << 17;
  return d->rng;
}

static void bad_data(struct cr_dist *d, const char *what, const char *key, const char *p,
                     size_t n)
{
  d->st.bad++;
  if(d->st.bad > BAD_REPORTS)
    return;
  fprintf(stderr, "crawler: redis: %s in %s%s%.*s%s; dropped\n", what, key,
          p ? " ('" : "", p ? (int)(n > 80 ? 80 : n) : 0, p ? p : "", p ? "')" : "");
  if(d->st.bad == BAD_REPORTS)
    fprintf(stderr, "crawler: redis: further bad data is counted, not shown\n");
}

static void die(struct cr_dist *d, int status, const char *fmt, ...)
{
  char msg[600];
  va_list ap;

  if(d->dead)
    return;
  d->dead = 1;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  d->fatal(d->arg, msg, status);
}

static unsigned shard_of(const char *url, uint64_t *hash)
{
  struct cr_url_view v;

  *hash = cr_hash64(url, strlen(url));
  if(cr_url_view(url, &v))
    return CR_DIST_SHARDS;
  return (unsigned)(cr_hash64(v.origin, v.origin_len) % CR_DIST_SHARDS);
}

static void sha1_hex(const char *s, char out[41])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  unsigned i;

  EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL);
  for(i = 0; i < n && i < 20; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  out[40] = 0;
}

/* ---- sending ---- */

static int is_noscript(const redisReply *rep)
{
  return rep && rep->type == REDIS_REPLY_ERROR && rep->str && !strncmp(rep->str, "NOSCRIPT", 8);
}

/* An error Redis gives while it cannot serve yet (loading its data after a
 * restart, a script running long, a replica without its master): the call
 * is made again a little later. */
static int is_transient(const redisReply *rep)
{
  static const char *const words[] = { "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN" };
  size_t i;

  if(!rep || rep->type != REDIS_REPLY_ERROR || !rep->str)
    return 0;
  for(i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if(!strncmp(rep->str, words[i], strlen(words[i])))
      return 1;
  return 0;
}

/* The call failed for now: the next waits a little. */
static void retry_later(struct cr_dist *d)
{
  d->retry_at = cr_loop_now(d->loop) + RETRY_MS;
  cr_timer_start(d->loop, &d->flush, RETRY_MS);
}

/* Issues script s with the arguments of parts[0..np), in order (after the
 * EVALSHA, sha and numkeys, which are put first); the strings are not
 * copied before cr_redis formats the command. */
static int eval_parts(struct cr_dist *d, int s, cr_redis_reply_cb cb, void *arg,
                      const struct strv *const *parts, size_t np)
{
  size_t n = 3;
  size_t at = 3;
  size_t i;
  const char **v;
  size_t *len;
  int rc;

  for(i = 0; i < np; i++)
    n += parts[i]->n;
  v = malloc(n * sizeof(*v));
  len = malloc(n * sizeof(*len));
  if(!v || !len) {
    free(v);
    free(len);
    return CR_ENOMEM;
  }
  if(d->loaded[s]) {
    v[0] = "EVALSHA";
    v[1] = d->sha[s];
  }
  else {
    v[0] = "EVAL";
    v[1] = script_text[s];
  }
  len[0] = strlen(v[0]);
  len[1] = strlen(v[1]);
  v[2] = "0";
  len[2] = 1;
  for(i = 0; i < np; i++) {
    if(!parts[i]->n)
      continue;
    memcpy(v + at, parts[i]->v, parts[i]->n * sizeof(*v));
    memcpy(len + at, parts[i]->len, parts[i]->n * sizeof(*len));
    at += parts[i]->n;
  }
  rc = cr_redis_command_argv(d->r, cb, arg, (int)n, v, len);
  free(v);
  free(len);
  return rc;
}

static int eval(struct cr_dist *d, int s, cr_redis_reply_cb cb, void *arg, const struct strv *a)
{
  return eval_parts(d, s, cb, arg, &a, 1);
}

static int push_str(struct strv *a, const char *s)
{
  return strv_push(a, s, strlen(s));
}

static int push_num(struct strv *a, uint64_t v)
{
  char b[24];

  snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
  return push_str(a, b);
}

static void on_script_load(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  int *loaded = arg;

  (void)r;
  if(rep && rep->type == REDIS_REPLY_STRING)
    *loaded = 1;
}

static void load_scripts(struct cr_dist *d)
{
  int s;

  for(s = 0; s < S_N; s++) {
    d->loaded[s] = 0;
    (void)cr_redis_command(d->r, on_script_load, &d->loaded[s], "SCRIPT LOAD %s",
                           script_text[s]);
  }
}

/* ---- CONF ---- */

void cr_dist_first_difference(const char *stored, const char *mine, char *out, size_t n)
{
  while(*stored || *mine) {
    size_t a = strcspn(stored, "\n");
    size_t b = strcspn(mine, "\n");

    if(a != b || memcmp(stored, mine, a)) {
      snprintf(out, n, "it has '%.*s', this run has '%.*s'", (int)(a ? a : 6),
               a ? stored : "(none)", (int)(b ? b : 6), b ? mine : "(none)");
      return;
    }
    stored += a + (stored[a] == '\n');
    mine += b + (mine[b] == '\n');
  }
  snprintf(out, n, "they differ");
}

static void on_conf(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  struct cr_dist *d = arg;
  char diff[400];

  (void)r;
  d->conf_out = 0;
  if(is_noscript(rep)) {
    d->loaded[S_CONF] = 0;
    return;
  }
  if(err || is_transient(rep)) {
    retry_later(d);
    return;
  }
  if(rep->type == REDIS_REPLY_ERROR) {
    /* Sent again on the next pass (err), or an error Redis will repeat. */
    if(!err)
      die(d, 3, "redis: %sconf: %s", d->prefix, rep->str ? rep->str : "error");
    return;
  }
  if(rep->type == REDIS_REPLY_NIL) {
    d->conf_ok = 1;
    return;
  }
  if(rep->type != REDIS_REPLY_ARRAY || rep->elements != 5 ||
     rep->element[4]->type != REDIS_REPLY_STRING) {
    die(d, 3, "redis: %sconf is not a crawl's settings", d->prefix);
    return;
  }
  if(strcmp(rep->element[4]->str, d->identity)) {
    cr_dist_first_difference(rep->element[4]->str, d->identity, diff, sizeof(diff));
    die(d, 2, "crawl '%s' in redis has other settings: %s.  Describe it with the same "
        "options, or give the crawl another name", d->name, diff);
    return;
  }
  d->conf_ok = 1;
}

static void send_conf(struct cr_dist *d)
{
  struct strv a = { 0 };
  int rc = push_str(&a, d->prefix);

  if(!rc)
    rc = push_str(&a, "1");
  if(!rc)
    rc = push_num(&a, CR_DIST_SHARDS);
  if(!rc)
    rc = push_num(&a, d->lease_ms);
  if(!rc)
    rc = strv_push(&a, d->argv ? d->argv : "", d->argv_len);
  if(!rc)
    rc = push_str(&a, d->identity);
  if(!rc)
    rc = eval(d, S_CONF, on_conf, d, &a);
  if(!rc)
    d->conf_out = 1;
  strv_free(&a);
}

/* ---- STEP ---- */

static void note_due(struct cr_dist *d);

/* Parses a record: 0 and the fields, or -1. */
static int parse_record(const char *p, size_t n, uint64_t *hash, unsigned *depth, int *req,
                        const char **ref, size_t *ref_len, const char **url, size_t *url_len)
{
  char hex[17];
  const char *e = p + n;
  const char *q;
  char *end;
  unsigned long dep;

  if(n < 22 || n > REC_MAX || memchr(p, 0, n))
    return -1;
  memcpy(hex, p, 16);
  hex[16] = 0;
  if(strspn(hex, "0123456789abcdef") != 16 || p[16] != ' ')
    return -1;
  *hash = strtoull(hex, NULL, 16);
  q = p + 17;
  if(*q < '0' || *q > '9')
    return -1;
  errno = 0;
  dep = strtoul(q, &end, 10);
  if(errno || dep > 100000 || end >= e || *end != ' ' || end + 3 > e ||
     end[1] < '0' || end[1] > '3' || end[2] != '\n')
    return -1;
  *depth = (unsigned)dep;
  /* 2 and 3: a lower record (see STEP_LUA), bit 0 the requisite flag. */
  *req = end[1] - '0';
  q = end + 3;
  end = memchr(q, '\n', (size_t)(e - q));
  if(!end)
    return -1;
  *ref = q;
  *ref_len = (size_t)(end - q);
  *url = end + 1;
  *url_len = (size_t)(e - *url);
  if(!*url_len || memchr(*url, '\n', *url_len))
    return -1;
  return 0;
}

/* A bad record taken from shard s leaves its inflight hash (under the
 * field STEP_LUA gave it) without being counted finished: it was never
 * counted open. */
static void drop_record(struct cr_dist *d, unsigned long s, const char *r, size_t n,
                        unsigned to)
{
  char sn[32];
  char field[48];
  size_t k = n < 16 ? n : 16;
  size_t h = strspn(r, "0123456789abcdefABCDEF");

  if(to < CR_DIST_SHARDS)
    snprintf(sn, sizeof(sn), "-%lu>%u", s, to);
  else
    snprintf(sn, sizeof(sn), "-%lu", s);
  memcpy(field, r, k);
  field[k] = 0;
  /* Lua's '^%x+ (%d+) [23]': a lower record's field ends in L and depth. */
  if(h && h < n && r[h] == ' ') {
    size_t dg = strspn(r + h + 1, "0123456789");

    if(dg && dg < 12 && h + 1 + dg + 1 < n && r[h + 1 + dg] == ' ' &&
       (r[h + 2 + dg] == '2' || r[h + 2 + dg] == '3'))
      snprintf(field + k, sizeof(field) - k, "L%.*s", (int)dg, r + h + 1);
  }
  note_due(d);
  if(!push_str(&d->dones, sn) && push_str(&d->dones, field))
    free(d->dones.v[--d->dones.n]);
}

static int finish_url(struct cr_dist *d, const char *url, uint16_t tag_to);

static void take_record(struct cr_dist *d, const redisReply *sh, const redisReply *rec,
                        const redisReply *seen)
{
  char key[128];
  uint64_t h;
  uint64_t h2;
  unsigned depth;
  int req;
  const char *ref;
  size_t ref_len;
  const char *url;
  size_t url_len;
  char *u = NULL;
  char *rf = NULL;
  unsigned long s;
  char *end;
  /* "lS": from this worker's low list, else from the queue of shard S. */
  int low;
  int forged;

  if(sh->type != REDIS_REPLY_STRING || rec->type != REDIS_REPLY_STRING)
    return;
  low = sh->str[0] == 'l';
  s = strtoul(sh->str + low, &end, 10);
  if(*end || s >= CR_DIST_SHARDS)
    return;
  if(low)
    snprintf(key, sizeof(key), "%slow:%s", d->prefix, d->me);
  else
    snprintf(key, sizeof(key), "%sq:%lu", d->prefix, s);
  /* "-": the script found no URL of this hash offered and waiting (a
   * record written behind the crawl's back, or a second copy of one
   * taken); it dropped the record itself, uncounted. */
  forged = seen->type == REDIS_REPLY_STRING && seen->len == 1 && seen->str[0] == '-';
  if(parse_record(rec->str, rec->len, &h, &depth, &req, &ref, &ref_len, &url, &url_len)) {
    bad_data(d, "a record that does not parse", key, rec->str, rec->len);
    if(!forged)
      drop_record(d, s, rec->str, rec->len, CR_DIST_SHARDS);
    return;
  }
  u = malloc(url_len + 1);
  rf = ref_len ? malloc(ref_len + 1) : NULL;
  if(!u || (ref_len && !rf))
    goto out;
  memcpy(u, url, url_len);
  u[url_len] = 0;
  if(rf) {
    memcpy(rf, ref, ref_len);
    rf[ref_len] = 0;
  }
  {
    unsigned us = shard_of(u, &h2);

    if(us != s || h2 != h) {
      bad_data(d, "a record of another URL or shard", key, rec->str, rec->len);
      if(!forged) {
        /* Its take marked the hash's URL taken: the real record of it
         * may be dropped as a copy until the script hears of this one
         * (a later record of this reply: below).  A good URL in the
         * wrong queue goes to its own. */
        drop_record(d, s, rec->str, rec->len,
                    !low && h2 == h && us < CR_DIST_SHARDS ? us : CR_DIST_SHARDS);
        if(!low && d->nbogus < BOGUS_MAX)
          d->bogus[d->nbogus++] = h;
      }
      goto out;
    }
  }
  if(forged) {
    size_t b;

    for(b = 0; b < d->nbogus && d->bogus[b] != h; b++)
      ;
    /* Dropped because a bad record of this reply had just marked its
     * URL taken: queued again (after that mark is undone). */
    if(b < d->nbogus && !low) {
      char sn[16];

      snprintf(sn, sizeof(sn), "+%lu", s);
      note_due(d);
      if(!push_str(&d->dones, sn) && strv_push(&d->dones, rec->str, rec->len))
        free(d->dones.v[--d->dones.n]);
      goto out;
    }
    bad_data(d, "a record of a URL the crawl did not queue, or a copy of one taken", key,
             rec->str, rec->len);
    goto out;
  }
  if(low && req < 2) {
    bad_data(d, "a record that is not a lower record", key, rec->str, rec->len);
    drop_record(d, s, rec->str, rec->len, CR_DIST_SHARDS);
    goto out;
  }
  if(req >= 2) {
    /* Reached by a shorter path after it was taken: whoever holds it
     * follows its links again (frontier.h's lowering); it is finished at
     * once. */
    char sn[12];
    char field[32];

    snprintf(sn, sizeof(sn), "%lu", s);
    /* One lower record per depth a URL reaches: each its own field. */
    snprintf(field, sizeof(field), "%016llxL%u", (unsigned long long)h, depth);
    d->local[s]++;
    if(d->lower_cb)
      d->lower_cb(d->arg, u, depth, req & 1, rf);
    note_due(d);
    if(!push_str(&d->dones, sn) && push_str(&d->dones, field))
      free(d->dones.v[--d->dones.n]);
    goto out;
  }
  /* Delivered before: a take whose answer was lost, or a shard that came
   * back.  In hand, it is finished once; finished, it is said again. */
  {
    uint16_t *tag = cr_htag_get(&d->mine, h);

    if(tag) {
      if(*tag >= 2) {
        d->local[s]++;
        (void)finish_url(d, u, *tag);
      }
      goto out;
    }
  }
  if(cr_htag_add(&d->mine, h, 1) < 0)
    goto out;
  if(seen->type == REDIS_REPLY_STRING && seen->len) {
    unsigned long sd = strtoul(seen->str, &end, 10);

    if(!*end && sd < depth)
      depth = (unsigned)sd;
  }
  d->local[s]++;
  d->st.taken++;
  d->deliver(d->arg, u, depth, req, rf);
out:
  free(u);
  free(rf);
}

static void step_failed(struct cr_dist *d)
{
  /* Sent again with the next step: the scripts are idempotent for these. */
  (void)strv_take(&d->offers, &d->step_offers);
  (void)strv_take(&d->dones, &d->step_dones);
  if(d->step_take)
    d->recover = 1;
  if(d->offers.n || d->dones.n)
    d->first_due = cr_loop_now(d->loop) > FLUSH_MS ? cr_loop_now(d->loop) - FLUSH_MS : 0;
}

/* Whether a script's reply is an array of at least n elements, the first
 * an integer.  If not, says why unless the call is simply to be made again
 * (NOSCRIPT: run it as EVAL next time; a Redis not ready yet; a lost
 * connection, err). */
static int script_ok(struct cr_dist *d, int script, const redisReply *rep, const char *err,
                     size_t n, const char *what)
{
  if(!err && rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= n &&
     rep->element[0]->type == REDIS_REPLY_INTEGER)
    return 1;
  if(is_noscript(rep))
    d->loaded[script] = 0;
  else if(rep && !is_transient(rep))
    fprintf(stderr, "crawler: redis: %s failed: %s\n", what,
            rep->type == REDIS_REPLY_ERROR && rep->str ? rep->str : "unexpected reply");
  return 0;
}

static void on_step(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  struct cr_dist *d = arg;
  size_t i;
  size_t k;

  (void)r;
  d->step_out = 0;
  d->steps_done++;
  if(!script_ok(d, S_STEP, rep, err, 4, "step")) {
    step_failed(d);
    if(!is_noscript(rep))
      retry_later(d);
    return;
  }
  /* Finished URLs are out of this worker's hands. */
  for(k = 0; k + 1 < d->step_dones.n; k += 2) {
    unsigned long s = strtoul(d->step_dones.v[k], NULL, 10);

    if(s < CR_DIST_SHARDS && d->local[s])
      d->local[s]--;
  }
  strv_clear(&d->step_offers);
  strv_clear(&d->step_dones);
  if(d->step_take)
    d->recover = 0;
  d->open = rep->element[0]->integer;
  {
    uint64_t before = d->st.taken;

    for(k = 3; k < rep->elements && rep->element[k]->type == REDIS_REPLY_STRING &&
        rep->element[k]->len; k++)
      ;
    d->nbogus = 0;
    for(k++; k + 2 < rep->elements; k += 3)
      take_record(d, rep->element[k], rep->element[k + 1], rep->element[k + 2]);
    if(d->step_take) {
      d->more = d->st.taken - before >= d->step_take;
      /* Nothing there: ask less and less often, until URLs come. */
      if(d->st.taken == before)
        d->poll_ms = d->poll_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS : d->poll_ms * 2;
      else
        d->poll_ms = POLL_MIN_MS;
      d->next_poll = cr_loop_now(d->loop) + d->poll_ms;
    }
  }
  if(rep->element[1]->type == REDIS_REPLY_INTEGER)
    d->st.added += (uint64_t)rep->element[1]->integer;
  if(rep->element[2]->type == REDIS_REPLY_INTEGER && rep->element[2]->integer > 0) {
    d->st.bad++;
    fprintf(stderr, "crawler: redis: the crawl counted %lld URLs unfinished, but none is "
            "queued or taken: they were lost to changes made in Redis; counted as "
            "finished\n", (long long)rep->element[2]->integer);
  }
  for(i = 3; i < rep->elements; i++) {
    redisReply *e = rep->element[i];

    if(e->type != REDIS_REPLY_STRING || !e->len)
      break;
    bad_data(d, "a key of the wrong type", e->str, NULL, 0);
  }
  if(d->idle_asked && d->last_idle && !d->offers.n && !d->dones.n)
    d->open_fresh = 1;
  d->idle_asked = 0;
}

/* The shards this worker takes URLs from. */
static int push_takers(struct cr_dist *d, struct strv *a)
{
  unsigned s;
  int rc = 0;

  for(s = 0; s < CR_DIST_SHARDS && !rc; s++)
    if(d->held[s] && !d->draining[s])
      rc = push_num(a, s);
  return rc;
}

static void send_step(struct cr_dist *d, unsigned take, int idle)
{
  struct strv a = { 0 };
  int audit;
  int rc;

  if(d->role == CR_DIST_WORKER && !d->n_held)
    take = 0;
  rc = push_str(&a, d->prefix);
  if(!rc)
    rc = push_num(&a, d->offers.n / 2);
  if(!rc)
    rc = push_num(&a, d->dones.n / 2);
  if(!rc)
    rc = push_num(&a, take);
  if(!rc)
    rc = push_str(&a, d->role == CR_DIST_DESCRIBE ? "1" : "0");
  if(!rc)
    rc = push_str(&a, d->recover && take ? "1" : "0");
  if(!rc)
    rc = push_str(&a, d->lower ? "1" : "0");
  /* An idle worker of a crawl that does not end checks, now and then, that
   * what is counted open is somewhere. */
  audit = idle && d->open != 0 && cr_loop_now(d->loop) >= d->next_audit;
  if(audit)
    d->next_audit = cr_loop_now(d->loop) + AUDIT_MS;
  if(!rc)
    rc = push_str(&a, audit ? "1" : "0");
  if(!rc)
    rc = push_str(&a, d->me[0] ? d->me : "0");
  if(rc) {
    strv_free(&a);
    return;
  }
  {
    struct strv takers = { 0 };
    const struct strv *parts[4];

    parts[0] = &a;
    parts[1] = &d->offers;
    parts[2] = &d->dones;
    parts[3] = &takers;
    if(take)
      rc = push_takers(d, &takers);
    if(!rc)
      rc = eval_parts(d, S_STEP, on_step, d, parts, 4);
    strv_free(&takers);
  }
  strv_free(&a);
  if(rc)
    return;
  d->step_out = 1;
  d->steps_sent++;
  d->step_take = take;
  d->idle_asked = idle && !d->offers.n && !d->dones.n;
  d->open_fresh = 0;
  (void)strv_take(&d->step_offers, &d->offers);
  (void)strv_take(&d->step_dones, &d->dones);
}

/* ---- BEAT ---- */

static void on_beat(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  struct cr_dist *d = arg;
  unsigned char now[CR_DIST_SHARDS];
  unsigned s;
  size_t i;

  (void)r;
  d->beat_out = 0;
  if(!script_ok(d, S_BEAT, rep, err, 3, "heartbeat")) {
    /* Leaving: sent again as EVAL, or given up (the leases expire). */
    if(d->leaving == 2 && is_noscript(rep))
      d->leaving = 1;
    else if(d->leaving == 2)
      d->left = 1;
    return;
  }
  if(d->leaving == 2) {
    d->left = 1;
    return;
  }
  if(rep->element[2]->type == REDIS_REPLY_INTEGER && rep->element[2]->integer > 0)
    snprintf(d->me, sizeof(d->me), "%lld", (long long)rep->element[2]->integer);
  memset(now, 0, sizeof(now));
  for(i = 3; i < rep->elements; i++) {
    redisReply *e = rep->element[i];
    unsigned long v;
    char *end;

    if(e->type != REDIS_REPLY_STRING)
      continue;
    v = strtoul(e->str, &end, 10);
    if(!*end && v < CR_DIST_SHARDS)
      now[v] = 1;
  }
  d->share = rep->element[1]->type == REDIS_REPLY_INTEGER ? (unsigned)rep->element[1]->integer
                                                          : CR_DIST_SHARDS;
  d->n_held = 0;
  for(s = 0; s < CR_DIST_SHARDS; s++) {
    /* A shard given back (or lost) is no longer drained. */
    if(!now[s])
      d->draining[s] = 0;
    /* New shards: there may be work at once. */
    if(now[s] && !d->held[s])
      d->next_poll = 0;
    d->held[s] = now[s];
    d->n_held += now[s];
  }
  /* Over the fair share: the surplus shards take no more URLs and go back
   * once nothing of them is in this worker's hands. */
  if(d->n_held > d->share) {
    unsigned over = d->n_held - d->share;

    for(s = CR_DIST_SHARDS; s-- > 0 && over;)
      if(d->held[s]) {
        /* A take sent before now may still bring URLs of it. */
        if(!d->draining[s])
          d->drain_after[s] = d->steps_sent;
        d->draining[s] = 1;
        over--;
      }
  }
}

static void send_beat(struct cr_dist *d, int leave)
{
  struct strv a = { 0 };
  unsigned s;
  unsigned n = 0;
  int rc = push_str(&a, d->prefix);

  for(s = 0; s < CR_DIST_SHARDS; s++)
    n += d->held[s];
  if(!rc)
    rc = push_str(&a, d->me);
  if(!rc)
    rc = push_num(&a, d->lease_ms);
  if(!rc)
    rc = push_num(&a, CR_DIST_SHARDS);
  if(!rc)
    rc = push_num(&a, rnd(d) % CR_DIST_SHARDS);
  if(!rc)
    rc = push_num(&a, n);
  for(s = 0; s < CR_DIST_SHARDS && !rc; s++)
    if(d->held[s])
      rc = push_num(&a, s);
  /* The mode: a plain beat, the first one, or the last. */
  if(!rc)
    rc = push_str(&a, leave ? "leave" : d->me[0] ? "beat" : "join");
  d->beats++;
  /* Drained shards go back: nothing delivered is unfinished, and no
   * finish of theirs waits to be sent. */
  for(s = 0; s < CR_DIST_SHARDS && !rc && !leave; s++)
    if(d->held[s] && d->draining[s] && !d->local[s] && d->steps_done >= d->drain_after[s]) {
      size_t k;
      int pending = 0;

      for(k = 0; k + 1 < d->dones.n && !pending; k += 2)
        pending = strtoul(d->dones.v[k], NULL, 10) == s;
      if(!pending)
        rc = push_num(&a, s);
    }
  if(!rc)
    rc = eval(d, S_BEAT, on_beat, d, &a);
  if(!rc)
    d->beat_out = 1;
  strv_free(&a);
}

static unsigned beat_ms(const struct cr_dist *d)
{
  unsigned ms = d->lease_ms / 5;
  unsigned s;

  /* While shares are settling (workers starting together, one joining,
   * shards draining), beats come fast so shards move in a fraction of a
   * second; a beat is one small script. */
  if(cr_loop_now(d->loop) < d->t_start + SETTLE_MS || d->n_held < d->share)
    return SETTLE_BEAT_MS < ms ? SETTLE_BEAT_MS : ms ? ms : 1;
  for(s = 0; s < CR_DIST_SHARDS; s++)
    if(d->draining[s])
      return SETTLE_BEAT_MS < ms ? SETTLE_BEAT_MS : ms ? ms : 1;
  return ms > BEAT_MAX_MS ? BEAT_MAX_MS : ms ? ms : 1;
}

static void on_beat_timer(struct cr_loop *loop, struct cr_timer *t)
{
  struct cr_dist *d = t->arg;

  cr_timer_start(loop, t, beat_ms(d));
  if(d->role == CR_DIST_WORKER && !d->leaving && !d->beat_out && cr_redis_up(d->r))
    send_beat(d, 0);
}

static void on_flush_timer(struct cr_loop *loop, struct cr_timer *t)
{
  /* Firing made the loop run a pass, which sends what is due. */
}

/* ---- state ---- */

static void on_state(struct cr_redis *r, int up, const char *reason, void *arg)
{
  struct cr_dist *d = arg;

  (void)r;
  if(up) {
    if(d->ever_up)
      fprintf(stderr, "crawler: redis: connected again\n");
    d->ever_up = 1;
    load_scripts(d);
    if(d->role == CR_DIST_WORKER && !d->leaving) {
      send_beat(d, 0);
      if(d->beats == 1)
        cr_timer_start(d->loop, &d->beat, JOIN_MS);
    }
    return;
  }
  if(!d->ever_up) {
    die(d, 3, "%s", reason ? reason : "redis: cannot connect");
    return;
  }
  fprintf(stderr, "crawler: %s; trying again\n", reason ? reason : "redis: connection lost");
}

/* ---- the interface ---- */

int cr_dist_name_ok(const char *name)
{
  size_t n = strlen(name);

  if(!n || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789._-") != n)
    return -1;
  return 0;
}

int cr_dist_new(struct cr_loop *loop, const struct cr_dist_config *cfg, struct cr_dist **out)
{
  struct cr_dist *d = calloc(1, sizeof(*d));
  struct cr_redis_config rc;
  const char *why = NULL;
  struct timespec ts;
  int s;
  int rv;

  *out = NULL;
  if(!d)
    return CR_ENOMEM;
  d->loop = loop;
  d->role = cfg->role;
  d->lease_ms = cfg->lease_ms ? cfg->lease_ms : CR_DIST_LEASE_MS;
  d->backlog = cfg->backlog ? cfg->backlog : 512;
  d->deliver = cfg->deliver;
  d->lower_cb = cfg->lower;
  d->lower = cfg->lower != NULL;
  d->fatal = cfg->fatal;
  d->arg = cfg->arg;
  snprintf(d->prefix, sizeof(d->prefix), "cr:{%s}:", cfg->name);
  snprintf(d->name, sizeof(d->name), "%s", cfg->name);
  clock_gettime(CLOCK_REALTIME, &ts);
  d->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
           (uintptr_t)d;
  d->rng |= 1;
  cr_htag_init(&d->mine);
  d->identity = strdup(cfg->identity ? cfg->identity : "");
  if(cfg->argv_len) {
    d->argv = malloc(cfg->argv_len);
    if(d->argv)
      memcpy(d->argv, cfg->argv, cfg->argv_len);
    d->argv_len = cfg->argv_len;
  }
  if(!d->identity || (cfg->argv_len && !d->argv)) {
    cr_dist_free(&d);
    return CR_ENOMEM;
  }
  if(!STEP_LUA[0])
    snprintf(STEP_LUA, sizeof(STEP_LUA), "%s%s", STEP_LUA1, STEP_LUA2);
  for(s = 0; s < S_N; s++)
    sha1_hex(script_text[s], d->sha[s]);
  d->open = -1;
  d->poll_ms = POLL_MIN_MS;
  d->beat.cb = on_beat_timer;
  d->beat.arg = d;
  d->flush.cb = on_flush_timer;
  d->flush.arg = d;
  cr_redis_config_defaults(&rc);
  rc.url = cfg->url;
  rc.dns = cfg->dns;
  rc.state_cb = on_state;
  rc.state_arg = d;
  rv = cr_redis_new(loop, &rc, &d->r, &why);
  if(rv) {
    if(why)
      fprintf(stderr, "crawler: --redis: %s\n", why);
    cr_dist_free(&d);
    return rv;
  }
  d->t_start = cr_loop_now(loop);
  d->share = CR_DIST_SHARDS;
  if(d->role == CR_DIST_WORKER)
    cr_timer_start(loop, &d->beat, beat_ms(d));
  *out = d;
  return 0;
}

void cr_dist_free(struct cr_dist **pd)
{
  struct cr_dist *d = *pd;

  if(!d)
    return;
  *pd = NULL;
  cr_timer_stop(d->loop, &d->beat);
  cr_timer_stop(d->loop, &d->flush);
  cr_redis_free(&d->r);
  strv_free(&d->offers);
  strv_free(&d->dones);
  strv_free(&d->step_offers);
  strv_free(&d->step_dones);
  cr_htag_cleanup(&d->mine);
  free(d->identity);
  free(d->argv);
  free(d);
}

static void note_due(struct cr_dist *d)
{
  if(!d->offers.n && !d->dones.n) {
    d->first_due = cr_loop_now(d->loop);
    cr_timer_start(d->loop, &d->flush, FLUSH_MS);
  }
}

int cr_dist_offer(struct cr_dist *d, const char *url, unsigned depth, int requisite,
                  const char *referrer)
{
  uint64_t h;
  unsigned s = shard_of(url, &h);
  char head[48];
  char sh[12];
  size_t ul = strlen(url);
  size_t rl = referrer ? strlen(referrer) : 0;
  char *rec;
  int n;
  int rc;

  if(s >= CR_DIST_SHARDS)
    return CR_EURL;
  if(d->held[s] && !d->draining[s])
    d->mine_offered = 1;
  /* A referrer with a line break cannot be stored; it is only a note. */
  if(referrer && memchr(referrer, '\n', rl))
    rl = 0;
  if(memchr(url, '\n', ul) || ul + rl + 48 > REC_MAX)
    return CR_EURL;
  n = snprintf(head, sizeof(head), "%016llx %u %d\n", (unsigned long long)h, depth,
               requisite ? 1 : 0);
  rec = malloc((size_t)n + rl + 1 + ul);
  if(!rec)
    return CR_ENOMEM;
  memcpy(rec, head, (size_t)n);
  if(rl)
    memcpy(rec + n, referrer, rl);
  rec[(size_t)n + rl] = '\n';
  memcpy(rec + n + rl + 1, url, ul);
  snprintf(sh, sizeof(sh), "%u", s);
  note_due(d);
  rc = push_str(&d->offers, sh);
  if(!rc) {
    rc = strv_push(&d->offers, rec, (size_t)n + rl + 1 + ul);
    if(rc)
      free(d->offers.v[--d->offers.n]);
  }
  free(rec);
  if(!rc)
    d->st.offered++;
  return rc;
}

/* tag: 2 finished, 3 refused (what a recovered copy of it gets again). */
static int finish_url(struct cr_dist *d, const char *url, uint16_t tag_to)
{
  uint64_t h;
  unsigned s = shard_of(url, &h);
  char sh[16];
  char hex[17];
  int rc;

  if(s >= CR_DIST_SHARDS)
    return 0;
  {
    uint16_t *tag = cr_htag_get(&d->mine, h);

    if(tag)
      *tag = tag_to;
  }
  /* "-S": dropped uncounted (STEP_LUA1's done pairs). */
  snprintf(sh, sizeof(sh), "%s%u", tag_to == 3 ? "-" : "", s);
  snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
  note_due(d);
  rc = push_str(&d->dones, sh);
  if(!rc) {
    rc = push_str(&d->dones, hex);
    if(rc)
      free(d->dones.v[--d->dones.n]);
  }
  return rc;
}

int cr_dist_done(struct cr_dist *d, const char *url)
{
  return finish_url(d, url, 2);
}

int cr_dist_refuse(struct cr_dist *d, const char *url)
{
  return finish_url(d, url, 3);
}

void cr_dist_pass(struct cr_dist *d, unsigned load, int idle)
{
  uint64_t now = cr_loop_now(d->loop);
  size_t waiting = (d->offers.n + d->dones.n) / 2;
  unsigned take = 0;
  int due;

  if(d->dead || !cr_redis_up(d->r))
    return;
  if(now < d->retry_at)
    return;
  if(d->role == CR_DIST_DESCRIBE) {
    if(!d->conf_ok) {
      if(!d->conf_out)
        send_conf(d);
      return;
    }
    if(!d->step_out && waiting)
      send_step(d, 0, 0);
    return;
  }
  if(d->leaving) {
    if(d->step_out || d->beat_out)
      return;
    if(waiting) {
      send_step(d, 0, 0);
      return;
    }
    if(d->leaving == 1) {
      d->leaving = 2;
      send_beat(d, 1);
    }
    return;
  }
  if(d->step_out)
    return;
  if(idle != d->last_idle)
    d->open_fresh = 0;
  d->last_idle = idle;
  /* Hungry (half the backlog gone): take at once when there is surely
   * more (the last take was full, or this worker offered URLs of its own
   * shards), else poll, less often while nothing comes. */
  if(d->n_held && (load <= d->backlog / 2 || d->recover) &&
     (d->more || d->mine_offered || d->recover || now >= d->next_poll))
    take = d->backlog - load;
  due = waiting >= BATCH_MAX || (waiting && now >= d->first_due + FLUSH_MS);
  if(take || due || (idle && now >= d->next_poll)) {
    if(take)
      d->mine_offered = 0;
    else if(idle)
      d->next_poll = now + (d->poll_ms ? d->poll_ms : POLL_MIN_MS);
    send_step(d, take, idle);
    return;
  }
  {
    uint64_t at = UINT64_MAX;

    if(waiting)
      at = d->first_due + FLUSH_MS;
    if((idle || (d->n_held && load <= d->backlog / 2)) && d->next_poll < at)
      at = d->next_poll;
    if(at != UINT64_MAX)
      cr_timer_start(d->loop, &d->flush, at > now ? at - now : 0);
  }
}

size_t cr_dist_waiting(const struct cr_dist *d)
{
  return (d->offers.n + d->dones.n + d->step_offers.n + d->step_dones.n) / 2;
}

int cr_dist_over(const struct cr_dist *d)
{
  if(d->role == CR_DIST_DESCRIBE)
    return d->conf_ok && !d->step_out && !d->offers.n;
  return d->open == 0 && d->open_fresh && !d->step_out && !d->offers.n && !d->dones.n;
}

static void on_described(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  struct cr_dist *d = arg;

  (void)r;
  d->left = 1;
}

void cr_dist_leave(struct cr_dist *d)
{
  char key[100];

  if(!d->leaving)
    d->leaving = 1;
  if(d->dead || !d->ever_up) {
    d->left = 1;
    return;
  }
  /* Every seed is offered: workers may now see the crawl end. */
  if(d->role == CR_DIST_DESCRIBE && d->leaving == 1) {
    d->leaving = 2;
    snprintf(key, sizeof(key), "%sdescribing", d->prefix);
    if(cr_redis_command(d->r, on_described, d, "DEL %s", key))
      d->left = 1;
  }
}

int cr_dist_left(const struct cr_dist *d)
{
  return d->left || !cr_redis_up(d->r);
}

void cr_dist_stats(const struct cr_dist *d, struct cr_dist_stats *st)
{
  *st = d->st;
  cr_redis_stats(d->r, &st->redis);
  st->shards = d->n_held;
}

/* ---- cr_dist_load: before the engine exists ---- */

struct loader {
  struct cr_loop *loop;
  struct cr_redis *r;
  int state;                   /* 0 waiting, 1 done, -1 failed */
  int rc;
  char *why;
  size_t why_len;
  struct cr_dist_conf *out;
  const char *prefix;
  struct cr_timer deadline;
};

static void load_fail(struct loader *l, int rc, const char *fmt, ...)
{
  va_list ap;

  if(l->state)
    return;
  va_start(ap, fmt);
  vsnprintf(l->why, l->why_len, fmt, ap);
  va_end(ap);
  l->state = -1;
  l->rc = rc;
  cr_loop_break(l->loop);
}

static void on_load_state(struct cr_redis *r, int up, const char *reason, void *arg)
{
  struct loader *l = arg;

  (void)r;
  if(!up)
    load_fail(l, CR_EIO, "%s", reason ? reason : "redis: cannot connect");
}

static void on_load_deadline(struct cr_loop *loop, struct cr_timer *t)
{
  load_fail(t->arg, CR_EIO, "redis: no answer in %u ms", LOAD_MS);
}

static void on_seeds(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  struct loader *l = arg;
  size_t i;

  (void)r;
  if(err || rep->type != REDIS_REPLY_ARRAY) {
    load_fail(l, CR_EIO, "redis: %sseeds: %s", l->prefix,
              err ? err : rep->type == REDIS_REPLY_ERROR ? rep->str : "not a list");
    return;
  }
  l->out->seeds = calloc(rep->elements + 1, sizeof(char *));
  if(!l->out->seeds) {
    load_fail(l, CR_ENOMEM, "out of memory");
    return;
  }
  for(i = 0; i < rep->elements; i++) {
    redisReply *e = rep->element[i];

    if(e->type != REDIS_REPLY_STRING || memchr(e->str, 0, e->len))
      continue;
    l->out->seeds[l->out->n_seeds] = strdup(e->str);
    if(!l->out->seeds[l->out->n_seeds]) {
      load_fail(l, CR_ENOMEM, "out of memory");
      return;
    }
    l->out->n_seeds++;
  }
  if(!l->state) {
    l->state = 1;
    cr_loop_break(l->loop);
  }
}

static void on_conf_load(struct cr_redis *r, redisReply *rep, const char *err, void *arg)
{
  struct loader *l = arg;
  redisReply *e[4];
  unsigned long lease;
  char *end;
  size_t i;

  (void)r;
  if(err || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
    load_fail(l, CR_EIO, "redis: %sconf: %s", l->prefix,
              err ? err : rep->type == REDIS_REPLY_ERROR ? rep->str : "not a crawl's settings");
    return;
  }
  for(i = 0; i < 4; i++)
    e[i] = rep->element[i];
  if(e[0]->type == REDIS_REPLY_NIL) {
    load_fail(l, CR_EINVAL, "no crawl");
    return;
  }
  if(e[0]->type != REDIS_REPLY_STRING || strcmp(e[0]->str, "1") ||
     e[1]->type != REDIS_REPLY_STRING || e[2]->type != REDIS_REPLY_STRING ||
     e[3]->type != REDIS_REPLY_STRING || memchr(e[3]->str, 0, e[3]->len)) {
    load_fail(l, CR_EIO, "redis: %sconf is not the settings of a crawl of this version",
              l->prefix);
    return;
  }
  lease = strtoul(e[1]->str, &end, 10);
  if(*end || lease < 100 || lease > 3600000) {
    load_fail(l, CR_EIO, "redis: %sconf has a bad lease_ms", l->prefix);
    return;
  }
  l->out->lease_ms = (unsigned)lease;
  l->out->identity = strdup(e[3]->str);
  l->out->argv = malloc(e[2]->len + 1);
  if(!l->out->identity || !l->out->argv) {
    load_fail(l, CR_ENOMEM, "out of memory");
    return;
  }
  memcpy(l->out->argv, e[2]->str, e[2]->len);
  l->out->argv[e[2]->len] = 0;
  l->out->argv_len = e[2]->len;
  /* Options must end with their NUL. */
  if(l->out->argv_len && l->out->argv[l->out->argv_len - 1]) {
    load_fail(l, CR_EIO, "redis: %sconf has a truncated argv", l->prefix);
    return;
  }
}

static void load_pass(struct cr_loop *loop, void *arg)
{
  (void)loop;
  cr_dns_pass(arg);
}

void cr_dist_conf_free(struct cr_dist_conf *c)
{
  size_t i;

  for(i = 0; i < c->n_seeds; i++)
    free(c->seeds[i]);
  free(c->seeds);
  free(c->argv);
  free(c->identity);
  memset(c, 0, sizeof(*c));
}

int cr_dist_load(const char *url, const char *name, const char *dns_servers,
                 struct cr_dist_conf *out, char *why, size_t why_len)
{
  struct loader l;
  struct cr_redis_config rc;
  struct cr_dns *dns = NULL;
  const char *reason = NULL;
  char prefix[80];
  char key[100];
  int rv;

  memset(out, 0, sizeof(*out));
  memset(&l, 0, sizeof(l));
  snprintf(prefix, sizeof(prefix), "cr:{%s}:", name);
  l.why = why;
  l.why_len = why_len;
  l.out = out;
  l.prefix = prefix;
  rv = cr_loop_new(&l.loop);
  if(rv) {
    snprintf(why, why_len, "cannot make an event loop");
    return rv;
  }
  rv = cr_dns_new(l.loop, dns_servers, 4, &dns);
  if(!rv) {
    cr_redis_config_defaults(&rc);
    rc.url = url;
    rc.dns = dns;
    rc.state_cb = on_load_state;
    rc.state_arg = &l;
    rv = cr_redis_new(l.loop, &rc, &l.r, &reason);
    if(rv && reason)
      snprintf(why, why_len, "--redis: %s", reason);
  }
  if(!rv) {
    snprintf(key, sizeof(key), "%sconf", prefix);
    rv = cr_redis_command(l.r, on_conf_load, &l, "HMGET %s version lease_ms argv identity", key);
  }
  if(!rv) {
    snprintf(key, sizeof(key), "%sseeds", prefix);
    rv = cr_redis_command(l.r, on_seeds, &l, "LRANGE %s 0 -1", key);
  }
  if(!rv) {
    l.deadline.cb = on_load_deadline;
    l.deadline.arg = &l;
    cr_timer_start(l.loop, &l.deadline, LOAD_MS);
    /* The loop stops at the answer, a failure or the deadline; c-ares
     * needs its pass for a host name. */
    cr_loop_set_pass(l.loop, load_pass, dns);
    while(!l.state)
      if(cr_loop_run(l.loop))
        load_fail(&l, CR_EIO, "event loop failed");
    cr_timer_stop(l.loop, &l.deadline);
    rv = l.state > 0 ? 0 : l.rc;
  }
  cr_redis_free(&l.r);
  cr_dns_free(&dns);
  cr_loop_free(&l.loop);
  if(rv)
    cr_dist_conf_free(out);
  return rv;
}
