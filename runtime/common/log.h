/* log.h: one logging entry point for every process; level checked before formatting. */
#ifndef RL_LOG_H
#define RL_LOG_H

enum { RL_LOG_ERROR = 0, RL_LOG_WARN = 1, RL_LOG_INFO = 2, RL_LOG_DEBUG = 3 };

extern int rl_log_level;

/* rl_log(level, fmt, ...): writes "time component[pid] LEVEL message" to the log file
 * set by rl_log_open (stderr until then). Arguments are not evaluated when the level is
 * filtered out. */
#define rl_log(level, ...)                                              \
  do {                                                                  \
    if ((level) <= rl_log_level) rl_log_write((level), __VA_ARGS__);    \
  } while (0)

void rl_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Names this process in log lines and sends them to path (appended; NULL: stderr).
 * The level comes from RAYL_LOG_LEVEL (error|warn|info|debug), default info.
 * Returns 0, or -1 if the file cannot be opened (logging stays on stderr). */
int rl_log_open(const char *component, const char *path);

#endif
