/* where.c: the Lua side of `rayl stack` and `rayl memory`: the Lua thread's traceback
 * on request (a count hook set from the thread that asks, run by the Lua thread at its
 * next instruction), and the call site ("file:line") of the objects it creates. */
#include <dlfcn.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/selftest.h"
#include "common/xalloc.h"
#include "host/host.h"

/* The request and answer between the asking thread and the Lua thread. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  lua_State *L;
  pthread_t lua_thread;
  pid_t lua_tid; /* its kernel thread id, for /proc/self/task/<tid>/syscall */
  uint64_t asked, answered;
  lua_Hook prev;
  int prev_mask, prev_count;
  char tb[8192];
} s_w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void s_copy_top(lua_State *L, char *out, size_t n) {
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  snprintf(out, n, "%s", s ? s : "");
  lua_pop(L, 1);
}

/* Runs on the Lua thread at its next instruction: records its traceback, puts back
 * the hook that was there before. */
static void s_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, s_w.prev, s_w.prev_mask, s_w.prev_count);
  luaL_traceback(L, L, NULL, 0);
  pthread_mutex_lock(&s_w.mu);
  s_copy_top(L, s_w.tb, sizeof s_w.tb);
  s_w.answered = s_w.asked;
  pthread_cond_broadcast(&s_w.cv);
  pthread_mutex_unlock(&s_w.mu);
}

/* Turns a /proc/<pid>/task/<tid>/syscall line into words for rayl stack. */
static void s_describe_syscall(const char *line, char *out, size_t n) {
  long nr;
  uint64_t a[6], sp, pc;
  if (!strncmp(line, "running", 7)) {
    snprintf(out, n, "on a CPU: compiled Lua (a JIT trace) or C code");
    return;
  }
  if (sscanf(line, "%ld %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64
                   " %" SCNx64,
             &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &sp, &pc) != 9) {
    snprintf(out, n, "position unknown (the kernel did not say)");
    return;
  }
  Dl_info info;
  if (pc && dladdr((void *)(uintptr_t)pc, &info) && info.dli_sname) {
    const char *lib = info.dli_fname ? strrchr(info.dli_fname, '/') : NULL;
    snprintf(out, n, "in C: blocked in system call %ld, in %s+0x%" PRIxPTR " (%s)", nr, info.dli_sname,
             (uintptr_t)pc - (uintptr_t)info.dli_saddr, lib ? lib + 1 : info.dli_fname ? info.dli_fname : "?");
  } else {
    snprintf(out, n, "in C: blocked in system call %ld at 0x%" PRIx64, nr, pc);
  }
}

/* Where a thread that ran no Lua instruction is, from the kernel's view of it
 * (/proc/self/task/<tid>/syscall: "running", or the system call it is blocked in and
 * its user-space pc, named with dladdr): written into out (n > 0). */
static void s_c_position(pid_t tid, char *out, size_t n) {
  char path[64], line[512] = "";
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
  }
  s_describe_syscall(line, out, n);
}

/* rl_cw_stack_fn: on the Lua thread itself (it serves while it waits in a call) the
 * traceback is taken at once; from the I/O thread the hook is set and waited for. */
static bool s_stack(void *ctx, char *tb, size_t n, int timeout_ms) {
  (void)ctx;
  lua_State *L = s_w.L;
  if (pthread_equal(pthread_self(), s_w.lua_thread)) {
    if (!lua_checkstack(L, 8)) return false;
    luaL_traceback(L, L, NULL, 0);
    s_copy_top(L, tb, n);
    return true;
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&s_w.mu);
  uint64_t want = ++s_w.asked;
  if (lua_gethook(L) != s_hook) {
    s_w.prev = lua_gethook(L);
    s_w.prev_mask = lua_gethookmask(L);
    s_w.prev_count = lua_gethookcount(L);
  }
  lua_sethook(L, s_hook, LUA_MASKCOUNT, 1);
  int rc = 0;
  while (s_w.answered < want && rc == 0) rc = pthread_cond_timedwait(&s_w.cv, &s_w.mu, &until);
  bool got = s_w.answered >= want;
  if (got) snprintf(tb, n, "%s", s_w.tb);
  pthread_mutex_unlock(&s_w.mu);
  if (!got) s_c_position(s_w.lua_tid, tb, n);
  return got;
}

void rl_where_install(lua_State *L, rl_cw_t *cw) {
  s_w.L = L;
  s_w.lua_thread = pthread_self();
  s_w.lua_tid = gettid();
  rl_cw_set_stack_fn(cw, s_stack, NULL);
}

/* ---- call sites ---- */

typedef struct s_site {
  struct s_site *next;
  char text[];
} s_site_t;

#define S_SITE_BUCKETS 1024
static s_site_t *s_sites[S_SITE_BUCKETS];

/* The interned copy of text (lives as long as the process). Can't fail. */
static const char *s_intern(const char *text) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) h = (h ^ *p) * 16777619u;
  s_site_t **b = &s_sites[h % S_SITE_BUCKETS];
  for (s_site_t *s = *b; s; s = s->next)
    if (!strcmp(s->text, text)) return s->text;
  size_t len = strlen(text);
  s_site_t *s = rl_xmalloc(sizeof *s + len + 1);
  memcpy(s->text, text, len + 1);
  s->next = *b;
  *b = s;
  return s->text;
}

/* Whether source is one of rayl's own Lua modules (".../rayl/<name>.lua"). */
static bool s_ours(const char *source) {
  size_t n = strlen(source);
  if (n < 4 || strcmp(source + n - 4, ".lua")) return false;
  const char *slash = source + n - 4;
  while (slash > source && *slash != '/') slash--;
  return slash - source >= 5 && !strncmp(slash - 5, "/rayl", 5);
}

/* RAYL_RECORD_REF_CREATION_SITES=1 turns recording on (off by default, as Ray's
 * RAY_record_ref_creation_sites: reading the caller's frame costs about half a put). */
static int s_record = -1;

const char *rl_where_call_site(lua_State *L) {
  if (s_record < 0) {
    const char *v = getenv("RAYL_RECORD_REF_CREATION_SITES");
    s_record = v && !strcmp(v, "1");
  }
  if (!s_record) return NULL;
  lua_Debug ar;
  for (int level = 1; level < 8 && lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0 || s_ours(ar.source)) continue;
    char text[300];
    snprintf(text, sizeof text, "%s:%d", ar.short_src, ar.currentline);
    return s_intern(text);
  }
  return NULL;
}
