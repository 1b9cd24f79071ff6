/* memory.c: the memory limit a process runs under, and the kernel's out-of-memory kill count. */
#include "common/memory.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_V1_ROOT "/sys/fs/cgroup/memory"
#define S_V2_ROOT "/sys/fs/cgroup"
#define S_PATH_MAX 1024

/* Where cgroup files are read from (the selftest points them at a folder of its own). */
typedef struct {
  const char *proc_cgroup; /* path of the /proc/self/cgroup text */
  const char *v1_root, *v2_root;
} s_roots_t;

static const s_roots_t s_system = {"/proc/self/cgroup", S_V1_ROOT, S_V2_ROOT};

int64_t rl_mem_counter(const char *text, const char *key) {
  size_t klen = strlen(key);
  for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    if (strncmp(line, key, klen) || (line[klen] != ' ' && line[klen] != '\t')) continue;
    char *end;
    long long v = strtoll(line + klen + 1, &end, 10);
    if (end != line + klen + 1 && v >= 0) return v;
  }
  return -1;
}

/* True if the comma-separated controller list [p, end) names "memory". */
static int s_names_memory(const char *p, const char *end) {
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    if (stop - p == 6 && !strncmp(p, "memory", 6)) return 1;
    p = stop + 1;
  }
  return 0;
}

int rl_mem_cgroup_path(const char *proc_cgroup, char *out, size_t n) {
  int found = 0;
  for (const char *line = proc_cgroup; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    const char *c1 = strchr(line, ':');
    const char *nl = strchr(line, '\n');
    if (!nl) nl = line + strlen(line);
    if (!c1 || c1 > nl) continue;
    const char *c2 = memchr(c1 + 1, ':', (size_t)(nl - c1 - 1));
    if (!c2 || c2[1] != '/') continue;
    int kind = s_names_memory(c1 + 1, c2) ? 1 : (c2 == c1 + 1 && !strncmp(line, "0:", 2)) ? 2 : 0;
    /* v1's memory controller wins: on a hybrid system v2 has no memory files. */
    if (!kind || (found == 1 && kind == 2)) continue;
    snprintf(out, n, "%.*s", (int)(nl - c2 - 1), c2 + 1);
    found = kind;
  }
  return found;
}

/* Reads a small file into buf (NUL-terminated). Returns 0, or -1 if it cannot. */
static int s_read(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t got = fread(buf, 1, n - 1, f);
  fclose(f);
  buf[got] = 0;
  return 0;
}

static int s_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* The folder of this process's memory cgroup with its kind (1, 2), or 0. A path that
 * is not under the mount (a cgroup namespace shows its own root) falls back to the root. */
static int s_cgroup_dir(const s_roots_t *r, char *dir, size_t n) {
  char text[4096], path[S_PATH_MAX];
  if (s_read(r->proc_cgroup, text, sizeof text) != 0) return 0;
  int kind = rl_mem_cgroup_path(text, path, sizeof path);
  if (!kind) return 0;
  const char *root = kind == 1 ? r->v1_root : r->v2_root;
  const char *probe = kind == 1 ? "memory.oom_control" : "memory.events";
  char file[S_PATH_MAX + 64];
  int w = snprintf(dir, n, "%s%s", root, strcmp(path, "/") ? path : "");
  snprintf(file, sizeof file, "%s/%s", dir, probe);
  if (w >= 0 && (size_t)w < n && s_exists(file)) return kind; /* too long: the root */
  snprintf(dir, n, "%s", root);
  snprintf(file, sizeof file, "%s/%s", dir, probe);
  return s_exists(file) ? kind : 0;
}

static int64_t s_oom_kills(const s_roots_t *r) {
  char dir[S_PATH_MAX], file[S_PATH_MAX + 64], text[4096];
  int kind = s_cgroup_dir(r, dir, sizeof dir);
  if (kind) {
    snprintf(file, sizeof file, "%s/%s", dir, kind == 1 ? "memory.oom_control" : "memory.events");
    int64_t v = s_read(file, text, sizeof text) == 0 ? rl_mem_counter(text, "oom_kill") : -1;
    if (v >= 0) return v;
  }
  static char vmstat[16384];
  return s_read("/proc/vmstat", vmstat, sizeof vmstat) == 0 ? rl_mem_counter(vmstat, "oom_kill") : -1;
}

int64_t rl_mem_oom_kills(void) { return s_oom_kills(&s_system); }

/* The smallest memory limit of the cgroup folder dir and its parents up to the root,
 * or 0 if none is set. */
static uint64_t s_cgroup_limit(const s_roots_t *r, int kind, const char *dir) {
  const char *root = kind == 1 ? r->v1_root : r->v2_root;
  char d[S_PATH_MAX], file[S_PATH_MAX + 64], text[64];
  snprintf(d, sizeof d, "%s", dir);
  uint64_t best = 0;
  for (;;) {
    snprintf(file, sizeof file, "%s/%s", d, kind == 1 ? "memory.limit_in_bytes" : "memory.max");
    char *end;
    unsigned long long v;
    if (s_read(file, text, sizeof text) == 0 && strncmp(text, "max", 3) && (v = strtoull(text, &end, 10)) > 0 &&
        end != text && v < (1ull << 62) && (!best || v < best))
      best = v; /* v1 says "no limit" with a number near 2^63 */
    char *slash = strrchr(d, '/');
    if (!strcmp(d, root) || !slash || (size_t)(slash - d) < strlen(root)) break;
    *slash = 0;
  }
  return best;
}

static void s_bytes(uint64_t v, char *out, size_t n) {
  if (v >= (1ull << 30)) snprintf(out, n, "%.1f GiB", (double)v / (1ull << 30));
  else snprintf(out, n, "%.1f MiB", (double)v / (1ull << 20));
}

static void s_limit_describe(const s_roots_t *r, char *out, size_t n) {
  uint64_t best = 0;
  const char *what = NULL;
  char dir[S_PATH_MAX], size[32];
  int kind = s_cgroup_dir(r, dir, sizeof dir);
  if (kind && (best = s_cgroup_limit(r, kind, dir)) > 0)
    what = kind == 1 ? "cgroup memory.limit_in_bytes" : "cgroup memory.max";
  static const struct {
    int res;
    const char *name;
  } rl[] = {{RLIMIT_AS, "RLIMIT_AS of the process"}, {RLIMIT_DATA, "RLIMIT_DATA of the process"}};
  for (size_t i = 0; i < sizeof rl / sizeof *rl; i++) {
    struct rlimit lim;
    if (getrlimit(rl[i].res, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) continue;
    if (!best || (uint64_t)lim.rlim_cur < best) {
      best = (uint64_t)lim.rlim_cur;
      what = rl[i].name;
    }
  }
  if (what) {
    s_bytes(best, size, sizeof size);
    snprintf(out, n, "%s (%s)", size, what);
    return;
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) {
    snprintf(out, n, "none set");
    return;
  }
  s_bytes((uint64_t)pages * (uint64_t)page, size, sizeof size);
  snprintf(out, n, "none set (the machine has %s)", size);
}

void rl_mem_limit_describe(char *out, size_t n) { s_limit_describe(&s_system, out, n); }
