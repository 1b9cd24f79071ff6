/* log_tail.c: a log's last matching lines as the dashboard's JSON (log_tail.h). */
#include "common/selftest.h"
#include "head/log_tail.h"

#include <stdlib.h>
#include <string.h>

void rl_log_tail_json(rl_json_t *j, const char *name, uint64_t size, char *buf, size_t len, bool partial_first,
                      long lines, const char *search) {
  buf[len] = 0;
  /* Walk back from the end, keeping matching lines until there are enough. */
  size_t end = len, kept = 0, start_of_kept = end;
  if (end && buf[end - 1] == '\n') end--;
  size_t line_end = end;
  while (kept < (size_t)lines) {
    size_t b = line_end;
    while (b > 0 && buf[b - 1] != '\n') b--;
    if (b == 0 && partial_first) break; /* a cut first line: left out */
    buf[line_end] = 0;
    bool match = !search || strstr(buf + b, search);
    buf[line_end] = '\n';
    if (match) kept++;
    if (b == 0) {
      start_of_kept = 0;
      break;
    }
    start_of_kept = b;
    line_end = b - 1;
  }
  rl_json_obj(j);
  rl_json_kstr(j, "name", name);
  rl_json_kint(j, "size", (int64_t)size);
  rl_json_key(j, "lines");
  rl_json_arr(j);
  for (size_t p = start_of_kept; p < end;) {
    size_t e = p;
    while (e < end && buf[e] != '\n') e++;
    buf[e] = 0;
    if (!search || strstr(buf + p, search)) rl_json_strn(j, buf + p, e - p);
    p = e + 1;
  }
  rl_json_end(j);
  rl_json_end(j);
}
