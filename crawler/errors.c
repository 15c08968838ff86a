/* errors.c - names of the CR_E* codes. */
#include "crawler.h"

const char *cr_strerror(int err)
{
  switch(err) {
  case CR_OK: return "success";
  case CR_ENOMEM: return "out of memory";
  case CR_EINVAL: return "invalid argument";
  case CR_EIO: return "I/O error";
  case CR_ECURL: return "libcurl error";
  case CR_EARES: return "c-ares error";
  case CR_ELOOP: return "event loop error";
  case CR_EURL: return "unparsable URL";
  case CR_ESCHEME: return "not http or https";
  case CR_ETOOLONG: return "too long";
  case CR_EFULL: return "buffer full";
  case CR_EDUP: return "duplicate";
  case CR_ESTOPPED: return "stopped";
  case CR_ENOSPC: return "no space left on device";
  case CR_EDNS: return "host name did not resolve";
  case CR_EMFILE: return "too many open files";
  case CR_ESTATE: return "saved state of an unfinished crawl";
  case CR_ETIMEUP: return "--max-time reached";
  default: return "unknown error";
  }
}
