/* units.c: numbers as people read them: bytes as 16.48GiB, durations as 2m05s. */
#include "common/units.h"

#include <stdio.h>
#include <string.h>

#include "common/selftest.h"

char *rl_units_bytes(double bytes, char *buf, size_t n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  double v = bytes < 0 ? 0 : bytes;
  while (v >= 1024 && u < 5) v /= 1024, u++;
  if (u == 0) snprintf(buf, n, "%.0fB", v);
  else snprintf(buf, n, "%.2f%s", v, units[u]);
  return buf;
}

char *rl_units_duration(double seconds, char *buf, size_t n) {
  double s = seconds < 0 ? 0 : seconds;
  unsigned long long whole = (unsigned long long)s;
  if (s < 1) snprintf(buf, n, "%.0fms", s * 1000);
  else if (s < 60) snprintf(buf, n, "%.1fs", s);
  else if (whole < 3600) snprintf(buf, n, "%llum%02llus", whole / 60, whole % 60);
  else if (whole < 86400) snprintf(buf, n, "%lluh%02llum", whole / 3600, whole % 3600 / 60);
  else snprintf(buf, n, "%llud%02lluh", whole / 86400, whole % 86400 / 3600);
  return buf;
}
