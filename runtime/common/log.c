/* log.c: rl_log's writer: timestamped lines to the process's log file. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int rl_log_level = RL_LOG_INFO;
static FILE *s_out;
static char s_component[32] = "rayl";

int rl_log_open(const char *component, const char *path) {
  const char *lvl = getenv("RAYL_LOG_LEVEL");
  if (lvl) {
    if (!strcmp(lvl, "error")) rl_log_level = RL_LOG_ERROR;
    else if (!strcmp(lvl, "warn")) rl_log_level = RL_LOG_WARN;
    else if (!strcmp(lvl, "debug")) rl_log_level = RL_LOG_DEBUG;
    else rl_log_level = RL_LOG_INFO;
  }
  if (component) snprintf(s_component, sizeof s_component, "%s", component);
  if (!path) return 0;
  FILE *f = fopen(path, "a");
  if (!f) return -1;
  setvbuf(f, NULL, _IOLBF, 0);
  if (s_out && s_out != stderr) fclose(s_out);
  s_out = f;
  return 0;
}

void rl_log_write(int level, const char *fmt, ...) {
  static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  FILE *out = s_out ? s_out : stderr;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char line[2048];
  int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03d %s[%d] %s ", tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (int)(tv.tv_usec / 1000), s_component, (int)getpid(),
                   names[level < 0 ? 0 : level > 3 ? 3 : level]);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && n < (int)sizeof line) vsnprintf(line + n, sizeof line - n, fmt, ap);
  va_end(ap);
  fprintf(out, "%s\n", line);
}
