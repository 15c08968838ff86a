/*
 * store.h - saving bodies under the output directory.
 *
 * Owns the output directory's descriptor, its temporary-file directory
 * (DIR/.crawler-tmp) and the set of paths written in this run.  A body is
 * written to a temporary file while it arrives and renamed into place only
 * when the transfer succeeds, so a failed or interrupted transfer leaves no
 * file behind.  The store is the first sink of the fetch path; a WARC writer
 * will take the same begin/write/commit/discard calls.
 *
 * Safety: relative paths come from cr_pathmap (no "..", no absolute paths).
 * Directories are created one component at a time and checked with
 * fstatat(AT_SYMLINK_NOFOLLOW), so a symlink or file in the way is never
 * followed.  Clashes are resolved so that nothing is lost:
 *  - a directory needed where a file already is (URL /a saved, then /a/b)
 *    uses the name "a%~d" for the directory;
 *  - a file wanted where a directory already is (/a/b saved, then /a) is
 *    saved as "a%~f";
 *  - a path written earlier in this run by another URL (e.g. /x/ and
 *    /x/index.html) gets "%~2", "%~3", ... appended.
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

/* A body being written: caller storage, initialized with cr_file_init. */
struct cr_file {
  int fd;            /* -1 when no temporary file is open */
  unsigned long id;  /* names the temporary file; 0 when there is none */
};

/* Creates DIR (and parents) if needed and opens it.  Leftover temporary
 * files of an earlier run are removed.  Returns 0, CR_EIO (message printed),
 * CR_ENOMEM. */
int cr_store_new(const char *dir, struct cr_store **out);

/* Removes the temporary directory if empty, closes and clears *st. */
void cr_store_free(struct cr_store **st);

void cr_file_init(struct cr_file *f);

/* Opens a temporary file for f.  Returns 0, CR_EIO, CR_ENOSPC, CR_EMFILE
 * (out of descriptors: worth another try later). */
int cr_store_open(struct cr_store *st, struct cr_file *f);

/* Appends n bytes.  Returns 0, CR_EIO, CR_ENOSPC. */
int cr_store_write(struct cr_store *st, struct cr_file *f, const void *p, size_t n);

/* Moves f's body (an empty file if none was opened) to relpath, resolving
 * clashes as described above, and appends the path actually used to out.
 * f is closed either way.  Returns 0, CR_EIO, CR_ENOSPC, CR_ENOMEM. */
int cr_store_commit(struct cr_store *st, struct cr_file *f, const char *relpath,
                    struct cr_buf *out);

/* Closes and deletes f's temporary file, if any. */
void cr_store_discard(struct cr_store *st, struct cr_file *f);

/* Resuming: notes that an earlier run of this crawl saved relpath, so that
 * another URL mapping to the same name gets "%~2" as in one run.  Returns
 * 0 or CR_ENOMEM. */
int cr_store_note_written(struct cr_store *st, const char *relpath);

/* Nonzero when relpath is a regular file (not a symlink) of exactly size
 * bytes: how a resume checks a page saved after the last sync point. */
int cr_store_has_file(struct cr_store *st, const char *relpath, int64_t size);

/* Opens relpath, a file this crawl saved, for reading (never through a
 * symlink at its last component).  Returns the descriptor, or -1. */
int cr_store_open_read(struct cr_store *st, const char *relpath);

#endif
