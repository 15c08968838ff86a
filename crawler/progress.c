/* progress.c - status line and summary text; see progress.h. */
#include "progress.h"

#include <stdio.h>

static double rate(double v, double secs)
{
  return secs > 0.0 ? v / secs : 0.0;
}

int cr_progress_line(struct cr_buf *b, const struct cr_stats *s)
{
  return cr_buf_printf(b,
    "%llu/%llu done, %llu in flight, %llu resolving, %.0f pages/s, %.2f MB/s, %llu errors",
    (unsigned long long)s->done, (unsigned long long)s->queued,
    (unsigned long long)s->in_flight, (unsigned long long)s->resolving,
    rate((double)s->done, s->elapsed), rate((double)s->bytes / 1e6, s->elapsed),
    (unsigned long long)s->failed);
}

int cr_progress_summary(struct cr_buf *b, const struct cr_stats *s, int interrupted)
{
  char skipped[48] = "";
  int rc;

  /* Only when a filter was at work: the usual line stays as it was. */
  if(s->skipped)
    snprintf(skipped, sizeof(skipped), ", %llu skipped by filters",
             (unsigned long long)s->skipped);
  rc = cr_buf_printf(b,
    "crawler: %s: %llu of %llu URLs done, %llu saved%s, %llu failed, %.2f MB in %.2f s "
    "(%.0f pages/s, %.2f MB/s), %llu DNS lookups, longest loop stall %.1f ms "
    "(pass %.1f ms, %llu links)\n",
    interrupted ? "interrupted" : "finished",
    (unsigned long long)s->done, (unsigned long long)s->queued,
    (unsigned long long)s->ok, skipped, (unsigned long long)s->failed,
    (double)s->bytes / 1e6, s->elapsed,
    rate((double)s->done, s->elapsed), rate((double)s->bytes / 1e6, s->elapsed),
    (unsigned long long)s->dns_queries, s->loop_stall_max * 1e3, s->loop_pass_max * 1e3,
    (unsigned long long)s->links_pass_max);

  if(!rc && s->recrawl)
    rc = cr_buf_printf(b, "crawler: re-crawl: %llu unchanged (kept), %llu changed, %llu new, "
                       "%llu gone (saved before, not this time)\n",
                       (unsigned long long)s->unchanged, (unsigned long long)s->changed,
                       (unsigned long long)s->fresh, (unsigned long long)s->gone);
  return rc;
}
