/* redact.c: a runtime_env as logs show it: the variables' names, never their values. */
#include "renv/redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/selftest.h"

const char *rl_renv_redact(const char *spec, char *out, size_t n) {
  size_t used = 0;
  if (n) out[0] = 0;
  for (const char *line = spec; *line && used + 1 < n;) {
    size_t len = strcspn(line, "\n");
    const char *eq = memchr(line, '=', len);
    bool env = !strncmp(line, "env:", 4) && eq;
    int shown = env ? (int)(eq - line) : (int)len;
    int w = snprintf(out + used, n - used, "%s%.*s%s", used ? "; " : "", shown, line, env ? "=(hidden)" : "");
    if (w < 0 || (size_t)w >= n - used) {
      out[used] = 0; /* whole lines only */
      break;
    }
    used += (size_t)w;
    line += len;
    while (*line == '\n') line++;
  }
  return out;
}
