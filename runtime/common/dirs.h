/* dirs.h: private folders (the base folder, sessions, sockets): mode 0700, owned by
 * this user, never a symlink; and files written or read in them without following one. */
#ifndef RL_DIRS_H
#define RL_DIRS_H
#include <stddef.h>
#include <stdio.h>

/* Creates the folder path, with any missing parents (mode 0755), as mode 0700. A path
 * that exists must be a folder (not a symlink) owned by this user; wider modes are
 * narrowed to 0700. Returns 0, or -1 with err saying what is wrong. */
int rl_dir_private(const char *path, char *err, size_t errlen);

/* The folder rayl keeps this user's state in (records, daemons/, the head's database,
 * session_* folders): $RAYL_TMPDIR, else /tmp/rayl-<euid>. Resolved, created if missing
 * and checked as rl_dir_private does on every call. Returns 0 with the path in out, or
 * -1 with err naming the folder and saying to set RAYL_TMPDIR. */
int rl_base_dir(char *out, size_t n, char *err, size_t errlen);

/* Replaces the file at path with data: written to a new file beside it (O_EXCL,
 * O_NOFOLLOW, mode 0600) that is renamed over path, so a symlink planted at path is
 * replaced, never followed, and readers see the old or the new contents (written to disk
 * before the rename). Returns 0, or -1 with err. */
int rl_file_replace(const char *path, const char *data, size_t len, char *err, size_t errlen);

/* Opens the regular file at path for reading without following a symlink at path.
 * Returns the stream (the caller's, fclose it) or NULL (absent, a symlink, not a
 * regular file). */
FILE *rl_file_open_read(const char *path);

#endif
