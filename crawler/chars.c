/* chars.c - hex digits and UTF-8 validity; see chars.h. */
#include "chars.h"

int cr_hexval(unsigned char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int cr_is_escape(const char *s, size_t n)
{
  return n >= 3 && s[0] == '%' && cr_hexval((unsigned char)s[1]) >= 0 &&
         cr_hexval((unsigned char)s[2]) >= 0;
}

unsigned char cr_unescape(const char *s)
{
  return (unsigned char)(cr_hexval((unsigned char)s[1]) * 16 +
                         cr_hexval((unsigned char)s[2]));
}

size_t cr_utf8_len(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  size_t len;
  size_t i;

  if(c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if(c >= 0xE0 && c <= 0xEF)
    len = 3;
  else if(c >= 0xF0 && c <= 0xF4)
    len = 4;
  else
    return 0;
  if(c == 0xE0)
    lo = 0xA0;
  else if(c == 0xED)
    hi = 0x9F;
  else if(c == 0xF0)
    lo = 0x90;
  else if(c == 0xF4)
    hi = 0x8F;
  if(n < len || s[1] < lo || s[1] > hi)
    return 0;
  for(i = 2; i < len; i++) {
    if(s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  }
  return len;
}
