/*
 * journal.h - the crawl's saved state: an append-only journal of records.
 *
 * Owns DIR/.crawler/journal and its descriptor.  The engine appends a record
 * when the frontier accepts a URL (seen set, depth, referrer), when a URL
 * gets its manifest line, and when a bad input line is recorded; replaying
 * the journal gives back the seen set, the frontier and the manifest, so a
 * killed crawl resumes where it stopped.
 *
 * Records are framed as [u32 length][u32 checksum][type][payload], length
 * counting type and payload, checksum over the same bytes, host byte order
 * (the state is not meant to move between machines).  Records are buffered
 * and handed to one write through the aio ring per loop pass
 * (cr_journal_flush), at the end of the file, at most one write in flight:
 * records that come meanwhile wait in a second buffer, so they reach the
 * file in order and the loop never waits.  A written record survives
 * SIGKILL in the page cache.
 *
 * Power loss.  cr_journal_sync queues an fsync of the journal behind its
 * last write (linked: it runs only if the write worked); when it completes,
 * a SYNC record is appended: every record handed to a write before the
 * fsync was submitted is on disk, and so are the pages they name.  Why the
 * pages too, on ext4 (data=ordered, the default): a DONE record is written
 * only after its page's data was written back (sync_file_range WAIT_AFTER,
 * store.h) and its rename completed; the fsync forces the jbd2 commit that
 * holds the journal's growth, and jbd2 commits transactions in order, so
 * the renames and block allocations of those pages are committed by it,
 * and the commit flushes the device's cache.  On file systems whose fsync
 * commits one file only (btrfs's log tree) only the journal is covered;
 * the replay's size check still catches a missing page.  The synchronous
 * backend (no io_uring) has no per-page writeback and keeps syncfs() after
 * the fsync, in the loop, as before.
 * A torn or corrupt tail (power loss, a full disk in the middle of a write)
 * fails its checksum; replay stops there and the file is cut back to the
 * last whole record.
 *
 * A full disk: the journal keeps a few MiB allocated beyond its end
 * (fallocate KEEP_SIZE), so the records of a crawl that stops because the
 * disk is full still fit; failing to renew that reserve is itself reported
 * as CR_ENOSPC, early, while the reserve lasts.
 */
#ifndef CR_JOURNAL_H
#define CR_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct cr_journal;
struct cr_aio;

/* Record types.  Payload layouts are the engine's (see engine.c). */
enum {
  CR_J_CONFIG = 'C',  /* first record: what crawl this is */
  CR_J_ADD = 'A',     /* a URL was accepted into the seen set */
  CR_J_DONE = 'D',    /* a URL got its manifest line */
  CR_J_BAD = 'B',     /* a bad input line got its manifest line */
  CR_J_SYNC = 'S',    /* everything before was on disk */
  CR_J_SCOPE = 'O',   /* a seed's redirect target joined the scope */
  CR_J_CRAWL = 'I',   /* the crawl's name in the manifest */
  CR_J_WARC = 'W',    /* the WARC files' written prefix */
  CR_J_WDONE = 'X',   /* that prefix and a DONE record in one */
};

/* Largest record accepted on replay; anything longer is a torn length. */
#define CR_JOURNAL_REC_MAX (512 * 1024)

/* Nonzero when DIR/.crawler/journal exists and holds at least one byte. */
int cr_journal_exists(const char *dir);

/* Opens (creating DIR/.crawler and the file if needed) the journal of the
 * crawl in DIR.  fresh: empty it first.  Returns 0, CR_EIO, CR_ENOSPC
 * (messages printed), CR_ENOMEM. */
int cr_journal_open(const char *dir, int fresh, struct cr_aio *aio, struct cr_journal **out);

/* Called for each whole record on replay; p/len is the payload (not
 * NUL-terminated, valid during the call).  synced: a SYNC record comes
 * later in the file.  A nonzero return stops the replay and is returned
 * by cr_journal_replay. */
typedef int (*cr_journal_replay_cb)(void *arg, int type, const char *p, size_t len,
                                    int synced);

/* Reads every record from the start.  A torn or corrupt tail is dropped
 * (the file is cut back, *dropped set to the bytes cut) and appending goes
 * on after the last whole record.  Returns 0, the callback's value,
 * CR_EIO, CR_ENOMEM. */
int cr_journal_replay(struct cr_journal *j, cr_journal_replay_cb cb, void *arg,
                      uint64_t *dropped);

/* Builds one record in the write buffer: _begin, any number of _put, then
 * _end.  Returns 0, CR_EFULL (record over CR_JOURNAL_REC_MAX), CR_ENOMEM,
 * or a write error from flushing a full buffer (CR_EIO, CR_ENOSPC). */
int cr_journal_begin(struct cr_journal *j, int type);
int cr_journal_put(struct cr_journal *j, const void *p, size_t n);
int cr_journal_end(struct cr_journal *j);

/* Queues the buffered records for one write (none while a write or an
 * fsync is in flight: they wait in order).  Returns 0, or the first error
 * of an earlier write or fsync (CR_EIO, CR_ENOSPC), which is sticky, or
 * CR_ENOMEM. */
int cr_journal_flush(struct cr_journal *j);

/* Asks for a sync point: an fsync queued behind the buffered records (now,
 * or once the write in flight completed), then a SYNC record.  Never
 * blocks with io_uring; call it on a bounded interval.  Returns like
 * cr_journal_flush. */
int cr_journal_sync(struct cr_journal *j);

/* Nonzero while a write is in flight. */
int cr_journal_writing(const struct cr_journal *j);

/* Nonzero while records wait or a write or fsync is in flight. */
int cr_journal_busy(const struct cr_journal *j);

/* Deletes the journal and DIR/.crawler (the crawl is complete) and frees
 * the journal; clears *j.  Accepts NULL. */
void cr_journal_remove(struct cr_journal **j);

/* Writes what is still buffered synchronously (the end of a run, after
 * cr_aio_drain), closes and clears *j; accepts NULL. */
void cr_journal_free(struct cr_journal **j);

#endif
