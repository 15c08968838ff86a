/*
 * store.h - saving bodies under the output directory.
 *
 * Owns the output directory's descriptor, its temporary-file directory
 * (DIR/.crawler-tmp), the set of paths written in this run, and every body
 * being received or published.  All file work goes through aio.h: the loop
 * never waits for the disk (with io_uring; the synchronous backend does the
 * same calls from the loop).
 *
 * A body accumulates in a buffer that grows with it up to BODY_BUF (16 KiB).
 * A page that fits is written with one write when the transfer succeeds;
 * a longer one goes to its temporary file in buffer-sized writes at
 * explicit offsets while it arrives.  Each write's buffer is freed when it
 * completes, so a transfer holds one buffer plus what the disk has not yet
 * taken: bounded as long as the disk keeps up with the network.  (Pausing
 * the transfer instead was tried: libcurl 7.88 then keeps all the decoded
 * output of a compressed chunk, a gzip bomb's included.)
 *
 * Publishing: make the missing directories, then one chain in the ring -
 * open the temporary file (a direct descriptor with io_uring, never a
 * descriptor of ours), write, write back the data and wait for it
 * (sync_file_range, io_uring backend with durability on), close - then
 * rename into place.  When every file slot is busy a commit waits in line
 * for one.  Only once the file is in place does the commit callback run,
 * with the path used:
 * a page counts as finished only when its file is published.  A failed or
 * interrupted transfer leaves no file behind.
 *
 * Safety: relative paths come from cr_pathmap (no "..", no absolute paths).
 * Directories are created one component at a time through the ring
 * (mkdirat, then statx(AT_SYMLINK_NOFOLLOW) when the name was taken), so a
 * symlink or file in the way is never followed; a cache of the directories
 * made keeps that to once per directory per run.  Clashes are resolved so
 * that nothing is lost:
 *  - a directory needed where a file already is (URL /a saved, then /a/b)
 *    uses the name "a%~d" for the directory;
 *  - a file wanted where a directory already is (/a/b saved, then /a) is
 *    saved as "a%~f" (the rename failed with EISDIR);
 *  - a path taken earlier in this run by another URL (e.g. /x/ and
 *    /x/index.html) gets "%~2", "%~3", ... appended.  A name is taken when
 *    its commit starts, so two commits in flight never pick the same one.
 * cr_pathmap never makes names with "%~", so these never collide with a
 * mapped URL.  Across runs, a page's file is replaced by the newer body.
 */
#ifndef CR_STORE_H
#define CR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct cr_store;
struct cr_aio;
struct cr_body;

/* A transfer's body: caller storage, initialized with cr_file_init.  The
 * body itself belongs to the store (its buffers may be lent to the
 * kernel); the caller only holds the handle. */
struct cr_file {
  struct cr_body *body;  /* NULL until the first byte */
};

/* Called once a commit ended: rc 0 and the relative path used (valid
 * during the call), or rc CR_EIO / CR_ENOSPC / CR_EMFILE / CR_ENOMEM and
 * NULL, with no file left behind. */
typedef void (*cr_store_commit_cb)(void *arg, int rc, const char *path);

/* Creates DIR (and parents) if needed and opens it.  Leftover temporary
 * files of an earlier run are removed.  Start-up, so synchronous.  Returns
 * 0, CR_EIO (message printed), CR_ENOMEM. */
int cr_store_new(const char *dir, struct cr_aio *aio, struct cr_store **out);

/* Removes the temporary directory if empty, closes and clears *st.  Call
 * after the aio has drained. */
void cr_store_free(struct cr_store **st);

/* durable: each page's data is written back before it is published (see
 * journal.h).  Off by default; only meaningful with io_uring, where the
 * journal no longer runs syncfs. */
void cr_store_set_durable(struct cr_store *st, int durable);

/* Nonzero when dir (or, if it does not exist yet, its nearest existing
 * parent) is on tmpfs. */
int cr_store_on_tmpfs(const char *dir);

void cr_file_init(struct cr_file *f);

/* Appends n bytes to f's body (creating it).  Returns 0, CR_ENOMEM,
 * CR_EMFILE (no file slot free: worth another try later), or the error of
 * an earlier write of this body (CR_EIO, CR_ENOSPC). */
int cr_store_write(struct cr_store *st, struct cr_file *f, const void *p, size_t n);

/* Publishes f's body (an empty file if none) at relpath, resolving clashes
 * as described above; cb runs later from the loop.  f is emptied either
 * way.  Returns 0 (cb will run), or CR_EIO, CR_ENOSPC, CR_ENOMEM, CR_EMFILE
 * (cb will not run; nothing is left behind). */
int cr_store_commit(struct cr_store *st, struct cr_file *f, const char *relpath,
                    cr_store_commit_cb cb, void *arg);

/* Forgets f's body: its temporary file is closed and deleted once what is
 * in flight completes.  f is emptied. */
void cr_store_discard(struct cr_store *st, struct cr_file *f);

/* Resuming: notes that an earlier run of this crawl saved relpath, so that
 * another URL mapping to the same name gets "%~2" as in one run.  Returns
 * 0 or CR_ENOMEM. */
int cr_store_note_written(struct cr_store *st, const char *relpath);

/* Nonzero when relpath is a regular file (not a symlink) of exactly size
 * bytes: how a resume checks a page saved after the last sync point.
 * Start-up only (synchronous). */
int cr_store_has_file(struct cr_store *st, const char *relpath, int64_t size);

/* The output directory's descriptor, for opening a saved file through
 * aio.h (O_NOFOLLOW: never through a symlink at its last component). */
int cr_store_dirfd(const struct cr_store *st);

#endif
