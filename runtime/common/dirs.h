/* dirs.h: private folders (sessions, sockets): mode 0700, owned by this user. */
#ifndef RL_DIRS_H
#define RL_DIRS_H
#include <stddef.h>

/* Creates the folder path, with any missing parents (mode 0755), as mode 0700. A path
 * that exists must be a folder (not a symlink) owned by this user; wider modes are
 * narrowed to 0700. Returns 0, or -1 with err saying what is wrong. */
int rl_dir_private(const char *path, char *err, size_t errlen);

#endif
