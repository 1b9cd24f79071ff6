/* sessions.h: session folders in the base folder (session_<time>_<pid>): made private,
 * held while in use, `session_latest` pointing at the newest, the oldest unused removed. */
#ifndef RL_SESSIONS_H
#define RL_SESSIONS_H
#include <stddef.h>

#define RL_SESSIONS_KEPT_DEFAULT 10

/* Creates a new session folder in base (a folder rl_base_dir checked) with logs/, both
 * mode 0700; holds its lock (session.lock, a shared flock) through the returned file
 * descriptor (close-on-exec; a process that inherits it holds the session too); points
 * base/session_latest at it (a symlink replaced atomically); then removes the oldest
 * session folders beyond the newest $RAYL_SESSIONS_KEPT (default 10) whose lock no
 * process holds (folders without a lock file are left alone). Returns the descriptor
 * with the folder's path in session, or -1 with err (a bad RAYL_SESSIONS_KEPT too). */
int rl_session_new(const char *base, char *session, size_t n, char *err, size_t errlen);

/* How many session folders rl_session_new keeps: $RAYL_SESSIONS_KEPT, or the default.
 * Returns it, or -1 with err if the variable is not a whole number >= 1. */
int rl_sessions_kept(char *err, size_t errlen);

#endif
