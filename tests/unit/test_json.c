/* test_json.c - table-driven tests of the JSON writer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler.h"
#include "json.h"
#include "tap.h"

#define B(s) s, sizeof(s) - 1
#define FFFD "\xef\xbf\xbd"

struct str_case {
  const char *in;
  size_t len;
  const char *want;
};

static const struct str_case str_cases[] = {
  { B(""), "\"\"" },
  { B("plain"), "\"plain\"" },
  { B("say \"hi\""), "\"say \\\"hi\\\"\"" },
  { B("a\\b"), "\"a\\\\b\"" },
  { B("a/b"), "\"a/b\"" },
  { B("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"" },
  { B("\0"), "\"\\u0000\"" },
  { B("a\0b"), "\"a\\u0000b\"" },
  { B("\x1f\x7f"), "\"\\u001f\\u007f\"" },
  /* valid UTF-8 passes, at every boundary */
  { B("\xc3\xa9t\xc3\xa9"), "\"\xc3\xa9t\xc3\xa9\"" },
  { B("\xc2\x80"), "\"\xc2\x80\"" },                 /* U+0080 */
  { B("\xdf\xbf"), "\"\xdf\xbf\"" },                 /* U+07FF */
  { B("\xe0\xa0\x80"), "\"\xe0\xa0\x80\"" },         /* U+0800 */
  { B("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"" },         /* U+D7FF */
  { B("\xee\x80\x80"), "\"\xee\x80\x80\"" },         /* U+E000 */
  { B("\xef\xbf\xbf"), "\"\xef\xbf\xbf\"" },         /* U+FFFF */
  { B("\xf0\x90\x80\x80"), "\"\xf0\x90\x80\x80\"" }, /* U+10000 */
  { B("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"" }, /* U+10FFFF */
  { B("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"" }, /* emoji */
  /* line and paragraph separators are escaped */
  { B("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "\"a\\u2028b\\u2029\"" },
  { B("\xe2\x80\xa7"), "\"\xe2\x80\xa7\"" },
  /* invalid UTF-8: one U+FFFD per byte */
  { B("\x80"), "\"" FFFD "\"" },
  { B("a\x80z"), "\"a" FFFD "z\"" },
  { B("\xbf\x80"), "\"" FFFD FFFD "\"" },
  { B("\xc0\xaf"), "\"" FFFD FFFD "\"" },
  { B("\xc1\xbf"), "\"" FFFD FFFD "\"" },
  { B("\xe0\x80\xaf"), "\"" FFFD FFFD FFFD "\"" },
  { B("\xf0\x80\x80\xaf"), "\"" FFFD FFFD FFFD FFFD "\"" },
  { B("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\"" },
  { B("\xed\xbf\xbf"), "\"" FFFD FFFD FFFD "\"" },
  { B("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"" },
  { B("\xf5\x80"), "\"" FFFD FFFD "\"" },
  { B("\xfe\xff"), "\"" FFFD FFFD "\"" },
  { B("\xc3"), "\"" FFFD "\"" },
  { B("a\xe2\x82"), "\"a" FFFD FFFD "\"" },
  { B("\xf0\x9f\x98"), "\"" FFFD FFFD FFFD "\"" },
  { B("\xe2\x82" "A"), "\"" FFFD FFFD "A\"" },
  { B("\xc3\"") , "\"" FFFD "\\\"\"" },
};

static void check_str(const struct str_case *c)
{
  struct cr_buf b;
  int rc;

  cr_buf_init(&b, 4096);
  rc = cr_json_str(&b, c->in, c->len);
  tap_check(rc == 0 && tap_streq(b.data, c->want), "json string", c->in, c->len,
            b.data, c->want);
  cr_buf_cleanup(&b);
}

/* Every control character, one at a time. */
static void check_controls(void)
{
  static const char hex[] = "0123456789abcdef";
  unsigned c;
  int bad = 0;

  for(c = 0; c < 0x20; c++) {
    struct cr_buf b;
    char in[1];
    char want[16];

    in[0] = (char)c;
    memcpy(want, "\"\\u00", 5);
    want[5] = hex[c >> 4];
    want[6] = hex[c & 15];
    want[7] = '"';
    want[8] = '\0';
    if(c == '\b')
      memcpy(want, "\"\\b\"", 5);
    else if(c == '\f')
      memcpy(want, "\"\\f\"", 5);
    else if(c == '\n')
      memcpy(want, "\"\\n\"", 5);
    else if(c == '\r')
      memcpy(want, "\"\\r\"", 5);
    else if(c == '\t')
      memcpy(want, "\"\\t\"", 5);
    cr_buf_init(&b, 64);
    if(cr_json_str(&b, in, 1) != 0 || !tap_streq(b.data, want)) {
      bad++;
      tap_check(0, "control character", in, 1, b.data, want);
    }
    cr_buf_cleanup(&b);
  }
  tap_check(bad == 0, "all 32 control characters escaped", NULL, 0,
            bad ? "some wrong" : "all", "all");
}

/* A strict check that out is one JSON string in valid UTF-8. */
static int valid_json_string(const char *s, size_t n)
{
  size_t i = 1;

  if(n < 2 || s[0] != '"' || s[n - 1] != '"')
    return 0;
  while(i < n - 1) {
    unsigned char c = (unsigned char)s[i];
    if(c < 0x20 || c == '"')
      return 0;
    if(c == '\\') {
      if(i + 1 >= n - 1)
        return 0;
      if(strchr("\"\\/bfnrt", s[i + 1])) {
        i += 2;
        continue;
      }
      if(s[i + 1] != 'u' || i + 5 >= n - 1)
        return 0;
      i += 6;
      continue;
    }
    if(c < 0x80) {
      i++;
      continue;
    }
    {
      size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      size_t k;
      unsigned long cp;
      if(c < 0xC2 || c > 0xF4 || i + len > n - 1)
        return 0;
      cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
      for(k = 1; k < len; k++) {
        unsigned char d = (unsigned char)s[i + k];
        if((d & 0xC0) != 0x80)
          return 0;
        cp = (cp << 6) | (d & 0x3F);
      }
      if((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
         (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
      i += len;
    }
  }
  return 1;
}

/* xorshift64: the next pseudo-random value of *x. */
static uint64_t next_rand(uint64_t *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Random bytes always come out as a valid JSON string. */
static void check_random(void)
{
  uint64_t x = UINT64_C(88172645463325252);
  int bad = 0;
  int t;

  for(t = 0; t < 5000; t++) {
    struct cr_buf b;
    char in[24];
    size_t n;
    size_t i;

    n = (size_t)(next_rand(&x) % sizeof(in));
    for(i = 0; i < n; i++) {
      next_rand(&x);
      /* Bias toward the interesting bytes: controls and high bytes. */
      in[i] = (char)((x >> 8) % 4 == 0 ? (x >> 16) % 0x20 : 0x80 + (x >> 16) % 0x80);
      if((x >> 24) % 5 == 0)
        in[i] = (char)(x >> 32);
    }
    cr_buf_init(&b, 1024);
    if(cr_json_str(&b, in, n) != 0 || !valid_json_string(b.data, b.len)) {
      bad++;
      if(bad <= 5)
        tap_check(0, "random bytes give valid JSON", in, n, b.data, "(valid)");
    }
    cr_buf_cleanup(&b);
  }
  tap_check(bad == 0, "5000 random byte strings give valid JSON", NULL, 0,
            bad ? "some invalid" : "all valid", "all valid");
}

struct num_case {
  double v;
  const char *want;
};

static void check_numbers(void)
{
  const struct num_case nums[] = {
    { 0.0, "0" },
    { -0.0, "-0" },
    { 1.0, "1" },
    { 1.5, "1.5" },
    { -0.25, "-0.25" },
    { 0.1 + 0.2, "0.3" },
    { 123456.789, "123456.789" },
    { 0.001234, "0.001234" },
    { 1e-7, "1e-07" },
    { 1e20, "1e+20" },
    { 1234567890123.5, "1234567890123.5" },
    { NAN, "null" },
    { INFINITY, "null" },
    { -INFINITY, "null" },
  };
  const struct { int64_t v; const char *want; } ints[] = {
    { 0, "0" },
    { -1, "-1" },
    { 200, "200" },
    { INT64_MAX, "9223372036854775807" },
    { INT64_MIN, "-9223372036854775808" },
  };
  size_t i;

  for(i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
    struct cr_buf b;
    int rc;

    cr_buf_init(&b, 64);
    rc = cr_json_double(&b, nums[i].v);
    tap_check(rc == 0 && tap_streq(b.data, nums[i].want), "json double",
              nums[i].want, strlen(nums[i].want), b.data, nums[i].want);
    cr_buf_cleanup(&b);
  }
  for(i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
    struct cr_buf b;
    int rc;

    cr_buf_init(&b, 64);
    rc = cr_json_int(&b, ints[i].v);
    tap_check(rc == 0 && tap_streq(b.data, ints[i].want), "json int",
              ints[i].want, strlen(ints[i].want), b.data, ints[i].want);
    cr_buf_cleanup(&b);
  }
}

static void check_objects(void)
{
  struct cr_buf b;
  const char *want = "{\"url\":\"http://h/\",\"status\":200,\"error\":null,"
                     "\"time\":0.5,\"reason\":\"a\\\"b\"}";
  int rc = 0;

  cr_buf_init(&b, 1024);
  rc |= cr_buf_putc(&b, '{');
  rc |= cr_json_key(&b, "url", 1);
  rc |= cr_json_str_or_null(&b, "http://h/");
  rc |= cr_json_key(&b, "status", 0);
  rc |= cr_json_int(&b, 200);
  rc |= cr_json_key(&b, "error", 0);
  rc |= cr_json_str_or_null(&b, NULL);
  rc |= cr_json_key(&b, "time", 0);
  rc |= cr_json_double(&b, 0.5);
  rc |= cr_json_key(&b, "reason", 0);
  rc |= cr_json_str(&b, "a\"b", 3);
  rc |= cr_buf_putc(&b, '}');
  tap_check(rc == 0 && tap_streq(b.data, want), "object from keys and values",
            NULL, 0, b.data, want);
  cr_buf_cleanup(&b);

  /* NULL with length 0 is the empty string. */
  cr_buf_init(&b, 16);
  rc = cr_json_str(&b, NULL, 0);
  tap_check(rc == 0 && tap_streq(b.data, "\"\""), "NULL, 0 is \"\"", NULL, 0,
            b.data, "\"\"");
  cr_buf_cleanup(&b);

  /* A write that does not fit leaves the buffer as it was. */
  cr_buf_init(&b, 8);
  rc = cr_buf_puts(&b, "ab");
  rc = cr_json_str(&b, "0123456789", 10);
  tap_check(rc == CR_EFULL && tap_streq(b.data, "ab"),
            "failed string leaves the buffer alone", NULL, 0, b.data, "ab");
  rc = cr_json_key(&b, "long key", 0);
  tap_check(rc == CR_EFULL && tap_streq(b.data, "ab"),
            "failed key leaves the buffer alone", NULL, 0, b.data, "ab");
  rc = cr_json_str(&b, "\n\n\n\n", 4);
  tap_check(rc == CR_EFULL && tap_streq(b.data, "ab"),
            "failed escape leaves the buffer alone", NULL, 0, b.data, "ab");
  cr_buf_cleanup(&b);
}

/* ---- reading ---- */

struct walk_out {
  struct cr_buf b;   /* "key=type:value;" per member */
};

static int walk_cb(void *arg, const char *key, enum cr_json_type type, const char *val,
                   size_t vlen)
{
  struct walk_out *o = arg;
  static const char t[] = "nsxb";

  if(cr_buf_printf(&o->b, "%s=%c:", key, t[type]) || cr_buf_append(&o->b, val, vlen) ||
     cr_buf_putc(&o->b, ';'))
    return CR_ENOMEM;
  return 0;
}

static void check_walk(void)
{
  static const struct {
    const char *in;
    int rc;
    const char *want;
  } cases[] = {
    { "{}", 0, "" },
    { " { } \n", 0, "" },
    { "{\"url\":\"http://a/\",\"status\":200,\"path\":null,\"ok\":true}", 0,
      "url=s:http://a/;status=x:200;path=n:null;ok=b:true;" },
    { "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\"}", 0, "s=s:a\"b\\c/d\n\t;" },
    { "{\"e\":\"\\u00e9\\u2028\"}", 0, "e=s:\xc3\xa9\xe2\x80\xa8;" },
    { "{\"e\":\"\\ud83d\\ude00\"}", 0, "e=s:\xf0\x9f\x98\x80;" },
    { "{\"e\":\"\\ud83dx\"}", 0, "e=s:" FFFD "x;" },
    { "{\"e\":\"\\ude00\"}", 0, "e=s:" FFFD ";" },
    { "{\"n\":-1.5e+3, \"z\" : \"\"}", 0, "n=x:-1.5e+3;z=s:;" },
    { "", CR_EINVAL, NULL },
    { "[]", CR_EINVAL, NULL },
    { "{\"a\":[1]}", CR_EINVAL, NULL },
    { "{\"a\":{}}", CR_EINVAL, NULL },
    { "{\"a\":1", CR_EINVAL, NULL },
    { "{\"a\":1,}", CR_EINVAL, NULL },
    { "{\"a\" 1}", CR_EINVAL, NULL },
    { "{\"a\":\"x}", CR_EINVAL, NULL },
    { "{\"a\":\"\\x\"}", CR_EINVAL, NULL },
    { "{\"a\":\"\\u12\"}", CR_EINVAL, NULL },
    { "{\"a\":\"tab\there\"}", CR_EINVAL, NULL },
    { "{\"a\":1} x", CR_EINVAL, NULL },
    { "{\"a\":nul}", CR_EINVAL, NULL },
    { "{\"a\":\"0123456789abcdefX\"}", CR_EINVAL, NULL },   /* over max */
  };
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct walk_out o;
    int rc;

    cr_buf_init(&o.b, 4096);
    rc = cr_json_walk(cases[i].in, strlen(cases[i].in), 16, walk_cb, &o);
    if(cases[i].rc)
      tap_check(rc == cases[i].rc, "json walk refuses", cases[i].in, strlen(cases[i].in),
                rc ? "refused" : o.b.data, "refused");
    else
      tap_check(rc == 0 && tap_streq(o.b.data ? o.b.data : "", cases[i].want), "json walk",
                cases[i].in, strlen(cases[i].in), o.b.data, cases[i].want);
    cr_buf_cleanup(&o.b);
  }
}

struct one_str {
  struct cr_buf b;
  int n;
};

static int one_str_cb(void *arg, const char *key, enum cr_json_type type, const char *val,
                      size_t vlen)
{
  struct one_str *o = arg;

  (void)key;
  o->n++;
  if(type != CR_JSON_STRING)
    return CR_EINVAL;
  cr_buf_reset(&o->b);
  return cr_buf_append(&o->b, val, vlen);
}

/* Whatever the writer writes, the reader reads back: valid UTF-8 exactly
 * (invalid bytes were written as U+FFFD, which reads back as written). */
static void check_round_trip(void)
{
  uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
  int bad = 0;
  int t;

  for(t = 0; t < 3000; t++) {
    struct cr_buf line;
    struct cr_buf again;
    struct one_str o;
    char in[32];
    size_t n;
    size_t i;
    int rc;

    n = (size_t)(next_rand(&x) % sizeof(in));
    for(i = 0; i < n; i++) {
      next_rand(&x);
      in[i] = (char)(x >> 24);
    }
    cr_buf_init(&line, 4096);
    cr_buf_init(&again, 4096);
    cr_buf_init(&o.b, 4096);
    o.n = 0;
    rc = cr_buf_putc(&line, '{');
    if(!rc)
      rc = cr_json_key(&line, "k", 1);
    if(!rc)
      rc = cr_json_str(&line, in, n);
    if(!rc)
      rc = cr_buf_putc(&line, '}');
    if(!rc)
      rc = cr_json_walk(line.data, line.len, 4096, one_str_cb, &o);
    /* Read back and written again, the line is the same. */
    if(!rc)
      rc = cr_json_str(&again, o.b.data ? o.b.data : "", o.b.len);
    if(rc || o.n != 1 || strncmp(line.data + 5, again.data, again.len) ||
       line.len != 5 + again.len + 1) {
      bad++;
      if(bad <= 5)
        tap_check(0, "written and read back", in, n, line.data, again.data);
    }
    cr_buf_cleanup(&line);
    cr_buf_cleanup(&again);
    cr_buf_cleanup(&o.b);
  }
  tap_check(bad == 0, "3000 random strings written and read back", NULL, 0,
            bad ? "some differ" : "all same", "all same");
}

int main(void)
{
  size_t i;

  for(i = 0; i < sizeof(str_cases) / sizeof(str_cases[0]); i++)
    check_str(&str_cases[i]);
  check_controls();
  check_random();
  check_numbers();
  check_objects();
  check_walk();
  check_round_trip();
  return tap_done();
}
