/*
 * progress.h - the status line and the summary, as text.
 *
 * Pure formatting over struct cr_stats; the engine decides when to print.
 */
#ifndef CR_PROGRESS_H
#define CR_PROGRESS_H

#include "buf.h"
#include "crawler.h"

/* Appends the one-line live status (no newline). */
int cr_progress_line(struct cr_buf *b, const struct cr_stats *s);

/* Appends the end-of-crawl summary line (with newline). */
int cr_progress_summary(struct cr_buf *b, const struct cr_stats *s, int interrupted);

#endif
