/* sim_compile.c: the CPU simulator's compiler: finds the host's C++ compiler, builds a
 * kernel's CUDA C source against the prelude into a shared object, reports its errors. */
#include "common/xalloc.h"
#include "gpu/sim_compile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu/sim_abi.h"
#include "gpu/sim_prelude.h"
#include "gpu/sim_source.h"

extern char **environ;

#define S_MAX_WORDS 8
#define S_SOURCE "kernel.cu"
#define S_OUTPUT "kernel.so"
#define S_LOG "compile.log"

typedef struct {
  bool found;
  bool clang;
  char why[400];
  char words[1024]; /* $CXX split into words */
  char *argv[S_MAX_WORDS];
  int argc;
  char shown[64]; /* the compiler as the user knows it: "c++", $CXX's first word */
  char path[PATH_MAX];
  char arch[256];
} s_cxx_t;

/* What every compile passes. The linker drops what the kernel cannot reach (so the
 * loader sees which barriers and __shared__ variables it uses); the last flag only goes
 * to GCC (unique symbols would keep an image loaded after dlclose). */
static const char *const s_flags[] = {"-O2",
                                      "-fPIC",
                                      "-shared",
                                      "-fvisibility=hidden",
                                      "-fno-exceptions",
                                      "-fno-math-errno",
                                      "-ffunction-sections",
                                      "-fdata-sections",
                                      "-Wl,--gc-sections",
                                      "-fdiagnostics-color=never",
                                      "-Wl,--no-undefined",
                                      "-fno-gnu-unique",
                                      NULL};

/* Appended to the source: the entry point for kernel NAME (5 times), then its RL_SIM_USES_* as
 * the source shows them (the loader narrows them down from what the linker kept). */
static const char s_trampoline[] =
    "\n#line 1 \"rayl-sim-entry\"\n"
    "static_assert(::rl_sim::entry<decltype(&%s), &%s>::is_kernel,\n"
    "              \"the CPU simulator runs a __global__ function returning void: check the kernel's name\");\n"
    "extern \"C\" __attribute__((visibility(\"default\"))) rl_sim_abi *" RL_SIM_ABI_SYMBOL
    "(void) {\n"
    "  return ::rl_sim::abi< ::rl_sim::entry<decltype(&%s), &%s> >(\"%s\", %uu);\n"
    "}\n";

static uint64_t s_fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

/* Finds program `name` (a path, or a name searched on path_env) into out. */
static bool s_which(const char *name, const char *path_env, char *out, size_t n) {
  struct stat st;
  if (strchr(name, '/')) {
    snprintf(out, n, "%s", name);
    return access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode);
  }
  for (const char *p = path_env ? path_env : ""; *p || p == path_env;) {
    const char *e = strchr(p, ':');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    snprintf(out, n, "%.*s%s%s", (int)len, len ? p : ".", "/", name);
    if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

/* The arch string: machine, compiler, and a hash of what decides an image's bytes. */
static void s_arch(s_cxx_t *c) {
  char real[PATH_MAX];
  struct stat st;
  struct utsname u;
  uint64_t h = 1469598103934665603ull;
  if (!realpath(c->path, real)) snprintf(real, sizeof real, "%s", c->path);
  if (stat(real, &st) == 0) {
    h = s_fnv(h, &st.st_size, sizeof st.st_size);
    h = s_fnv(h, &st.st_mtim, sizeof st.st_mtim);
  }
  h = s_fnv(h, real, strlen(real));
  for (int i = 1; i < c->argc; i++) h = s_fnv(h, c->argv[i], strlen(c->argv[i]) + 1);
  for (int i = 0; s_flags[i]; i++) h = s_fnv(h, s_flags[i], strlen(s_flags[i]) + 1);
  for (int i = 0; rl_sim_headers[i].name; i++) {
    h = s_fnv(h, rl_sim_headers[i].name, strlen(rl_sim_headers[i].name) + 1);
    h = s_fnv(h, rl_sim_headers[i].text, strlen(rl_sim_headers[i].text) + 1);
  }
  h = s_fnv(h, s_trampoline, sizeof s_trampoline);
  unsigned v = RL_SIM_ABI_VERSION;
  h = s_fnv(h, &v, sizeof v);
  const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
  c->clang = strstr(base, "clang") != NULL;
  snprintf(c->arch, sizeof c->arch, "sim-%s-%.64s-%016llx", uname(&u) == 0 ? u.machine : "unknown", base,
           (unsigned long long)h);
}

/* Looks the compiler up: $CXX (cxx_env, words), else c++, g++, clang++ on path_env. */
static void s_cxx_find(const char *cxx_env, const char *path_env, s_cxx_t *c) {
  memset(c, 0, sizeof *c);
  if (cxx_env && strlen(cxx_env) < sizeof c->words) {
    char *save = NULL;
    snprintf(c->words, sizeof c->words, "%s", cxx_env);
    for (char *w = strtok_r(c->words, " \t", &save); w && c->argc < S_MAX_WORDS - 1; w = strtok_r(NULL, " \t", &save))
      c->argv[c->argc++] = w;
  }
  if (c->argc > 0) {
    snprintf(c->shown, sizeof c->shown, "%s", c->argv[0]);
    if (!s_which(c->argv[0], path_env, c->path, sizeof c->path)) {
      snprintf(c->why, sizeof c->why,
               "the CPU simulator's compiler is CXX=%.200s, but '%.60s' is not a program on PATH: set CXX to a C++ "
               "compiler (e.g. g++), or unset it",
               cxx_env, c->argv[0]);
      return;
    }
  } else {
    static const char *const names[] = {"c++", "g++", "clang++"};
    for (size_t i = 0; i < sizeof names / sizeof *names && !c->argc; i++)
      if (s_which(names[i], path_env, c->path, sizeof c->path)) {
        snprintf(c->shown, sizeof c->shown, "%s", names[i]);
        c->argc = 1;
      }
    if (!c->argc) {
      snprintf(c->why, sizeof c->why,
               "the CPU simulator needs a C++ compiler and found none (c++, g++ or clang++ on PATH): install g++ "
               "(apt-get install g++) or set CXX to one");
      return;
    }
  }
  c->argv[0] = c->path;
  c->found = true;
  s_arch(c);
}

static s_cxx_t s_cxx;
static pthread_once_t s_cxx_once = PTHREAD_ONCE_INIT;

static void s_cxx_init(void) { s_cxx_find(getenv("CXX"), getenv("PATH"), &s_cxx); }

static const s_cxx_t *s_cxx_get(void) {
  pthread_once(&s_cxx_once, s_cxx_init);
  return &s_cxx;
}

bool rl_sim_cxx_available(char *why, size_t whylen) {
  const s_cxx_t *c = s_cxx_get();
  if (!c->found && why && whylen) snprintf(why, whylen, "%s", c->why);
  return c->found;
}

const char *rl_sim_cxx_arch(void) {
  const s_cxx_t *c = s_cxx_get();
  return c->found ? c->arch : NULL;
}

/* A kernel name the trampoline can use: a C++ (qualified, template) function name. */
static bool s_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 200 || !(name[0] == '_' || name[0] == ':' || ((name[0] | 32) >= 'a' && (name[0] | 32) <= 'z')))
    return false;
  return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:<>, *&") == n;
}

/* ---- options ---- */

/* NVRTC options that only steer GPU code generation: ignored here (each matched alone or
 * as name=value). */
static const char *const s_ignored[] = {"-arch",
                                        "--gpu-architecture",
                                        "-rdc",
                                        "--relocatable-device-code",
                                        "-G",
                                        "--device-debug",
                                        "-lineinfo",
                                        "--generate-line-info",
                                        "-maxrregcount",
                                        "--maxrregcount",
                                        "-ftz",
                                        "--ftz",
                                        "-prec-sqrt",
                                        "--prec-sqrt",
                                        "-prec-div",
                                        "--prec-div",
                                        "-fmad",
                                        "--fmad",
                                        "-use_fast_math",
                                        "--use_fast_math",
                                        "-extra-device-vectorization",
                                        "--extra-device-vectorization",
                                        "-dopt",
                                        "--dopt",
                                        "-default-device",
                                        "--device-as-default-execution-space",
                                        "-w",
                                        "--disable-warnings",
                                        "-restrict",
                                        "--restrict",
                                        "-dlto",
                                        "--dlink-time-opt",
                                        "-lto",
                                        "-gen-lto",
                                        "--gen-opt-lto",
                                        "-Werror",
                                        "-Wreorder",
                                        "--Wreorder",
                                        "-Wno-deprecated-gpu-targets",
                                        "--Wno-deprecated-gpu-targets",
                                        "-Wno-deprecated-declarations",
                                        "--Wno-deprecated-declarations",
                                        "-time",
                                        "--time",
                                        "-split-compile",
                                        "--split-compile",
                                        "-diag-suppress",
                                        "--diag-suppress",
                                        "-diag-error",
                                        "--diag-error",
                                        "-diag-warn",
                                        "--diag-warn",
                                        "-ewp",
                                        "--extensible-whole-program",
                                        "-no-source-include",
                                        "--no-source-include",
                                        "-opt-info",
                                        "--optimization-info",
                                        "-err-no",
                                        "--display-error-number",
                                        "-no-err-no",
                                        "--no-display-error-number",
                                        "-pch",
                                        "--pch",
                                        "-create-pch",
                                        "--create-pch",
                                        "-use-pch",
                                        "--use-pch",
                                        "-pch-dir",
                                        "--pch-dir",
                                        "-pch-verbose",
                                        "--pch-verbose",
                                        "-pch-messages",
                                        "--pch-messages",
                                        "-instantiate-templates-in-pch",
                                        "--instantiate-templates-in-pch",
                                        "-builtin-move-forward",
                                        "--builtin-move-forward",
                                        "-builtin-initializer-list",
                                        "--builtin-initializer-list",
                                        "-device-stack-protector",
                                        "--device-stack-protector",
                                        "-fdevice-time-trace",
                                        "--fdevice-time-trace",
                                        "-jump-table-density",
                                        "--jump-table-density",
                                        "-minimal",
                                        "--minimal",
                                        "-fdevice-syntax-only",
                                        "--fdevice-syntax-only",
                                        "-Xptxas",
                                        "--ptxas-options",
                                        "-ofast-compile",
                                        "--Ofast-compile",
                                        "-modify-stack-limit",
                                        "--modify-stack-limit",
                                        NULL};

typedef struct {
  char **argv; /* NULL-terminated */
  int argc;
  char **owned; /* strings made here */
  int nowned;
  bool has_std;
} s_args_t;

static void s_arg(s_args_t *a, const char *s) {
  a->argv[a->argc++] = (char *)s;
  a->argv[a->argc] = NULL;
}

/* Whether option o starts with prefix (ending in '='); its value into *value. */
static bool s_opt(const char *o, const char *prefix, const char **value) {
  size_t n = strlen(prefix);
  if (strncmp(o, prefix, n) != 0) return false;
  *value = o + n;
  return true;
}

/* Appends a made string ("prefix" + value, a relative path made absolute) to a. */
static int s_arg_made(s_args_t *a, const char *prefix, const char *value, bool path) {
  char cwd[PATH_MAX] = "";
  if (path && value[0] != '/' && !getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  size_t n = strlen(prefix) + strlen(cwd) + strlen(value) + 2;
  char *s = malloc(n);
  if (!s) return -1;
  snprintf(s, n, "%s%s%s%s", prefix, cwd, cwd[0] ? "/" : "", value);
  a->owned[a->nowned++] = s;
  s_arg(a, s);
  return 0;
}

/* Adds the compiler arguments NVRTC option o stands for. Returns 0, or -1 with err. */
static int s_map_option(s_args_t *a, const char *o, const char *name, char *err, size_t errlen) {
  const char *v = NULL;
  int rc = 0;
  if (s_opt(o, "--define-macro=", &v) || (o[0] == '-' && o[1] == 'D' && (v = o + 2)))
    rc = s_arg_made(a, "-D", v, false);
  else if (s_opt(o, "--undefine-macro=", &v) || (o[0] == '-' && o[1] == 'U' && (v = o + 2)))
    rc = s_arg_made(a, "-U", v, false);
  else if (s_opt(o, "--include-path=", &v) || (o[0] == '-' && o[1] == 'I' && (v = o + 2)))
    rc = *v ? s_arg_made(a, "-I", v, true) : -2;
  else if (s_opt(o, "--pre-include=", &v) || s_opt(o, "-include=", &v)) {
    s_arg(a, "-include");
    rc = *v ? s_arg_made(a, "", v, true) : -2;
  } else if (s_opt(o, "--std=", &v) || s_opt(o, "-std=", &v)) {
    /* the prelude needs C++17: older standards compile as C++17 */
    bool old = !strcmp(v, "c++03") || !strcmp(v, "c++11") || !strcmp(v, "c++14") || !strcmp(v, "c++17");
    rc = s_arg_made(a, "-std=", old ? "c++17" : v, false);
    a->has_std = true;
  } else {
    for (int i = 0; s_ignored[i]; i++) {
      size_t n = strlen(s_ignored[i]);
      if (strncmp(o, s_ignored[i], n) == 0 && (o[n] == '\0' || o[n] == '=')) return 0;
    }
    rc = -2;
  }
  if (rc == -2)
    snprintf(err, errlen,
             "kernel %s: the CPU simulator does not know compile option '%.100s' (it passes on -D, -U, -I, -include "
             "and -std, and ignores NVRTC's code generation options)",
             name, o);
  else if (rc != 0)
    snprintf(err, errlen, "kernel %s: out of memory", name);
  return rc == 0 ? 0 : -1;
}

/* The compiler's command line: the compiler, the flags, options mapped, the source. */
static int s_args_build(s_args_t *a, const s_cxx_t *c, const char *const *options, size_t noptions, const char *name,
                        char *err, size_t errlen) {
  int cap = c->argc + (int)(sizeof s_flags / sizeof *s_flags) + 16 + 2 * (int)noptions;
  memset(a, 0, sizeof *a);
  a->argv = rl_xcalloc((size_t)cap, sizeof *a->argv);
  a->owned = rl_xcalloc(noptions + 1, sizeof *a->owned);
  for (int i = 0; i < c->argc; i++) s_arg(a, c->argv[i]);
  for (int i = 0; s_flags[i]; i++)
    if (!(c->clang && !strcmp(s_flags[i], "-fno-gnu-unique"))) s_arg(a, s_flags[i]);
  s_arg(a, "-include");
  s_arg(a, RL_SIM_PRELUDE_NAME);
  s_arg(a, "-I.");
  for (size_t i = 0; i < noptions; i++)
    if (options[i] && s_map_option(a, options[i], name, err, errlen) != 0) return -1;
  if (!a->has_std) s_arg(a, "-std=c++17");
  const char *tail[] = {"-x", "c++", S_SOURCE, "-x", "none", "-o", S_OUTPUT};
  for (size_t i = 0; i < sizeof tail / sizeof *tail; i++) s_arg(a, tail[i]);
  return 0;
}

static void s_args_free(s_args_t *a) {
  for (int i = 0; i < a->nowned; i++) free(a->owned[i]);
  free(a->owned);
  free(a->argv);
  memset(a, 0, sizeof *a);
}

/* ---- files and the compiler's process ---- */

static int s_write(const char *dir, const char *name, const char *text, char *err, size_t errlen) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  size_t len = strlen(text), off = 0;
  while (fd >= 0 && off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  int e = errno;
  if (fd >= 0) close(fd);
  if (fd < 0 || off < len) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
    return -1;
  }
  return 0;
}

/* The file's bytes (malloc'd, NUL added, *len without it), or NULL. */
static char *s_read(const char *dir, const char *name, size_t *len) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n = -1;
  if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
    buf[n] = '\0';
    *len = (size_t)n;
  } else {
    free(buf);
    buf = NULL;
  }
  if (f) fclose(f);
  return buf;
}

static void s_cleanup(const char *dir) {
  char path[PATH_MAX];
  const char *mine[] = {S_SOURCE, S_OUTPUT, S_LOG};
  for (int i = 0; rl_sim_headers[i].name; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, rl_sim_headers[i].name);
    unlink(path);
  }
  for (size_t i = 0; i < sizeof mine / sizeof *mine; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, mine[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* Runs argv in dir, its output to dir/compile.log, in the C locale (plain quotes in
 * messages). Returns the exit status (a signal: 128 + it), or -1 with err. */
static int s_run(char *const argv[], const char *dir, char *err, size_t errlen) {
  char logpath[PATH_MAX];
  snprintf(logpath, sizeof logpath, "%s/%s", dir, S_LOG);
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **envp = rl_xcalloc(n + 2, sizeof *envp);
  size_t k = 0;
  envp[k++] = "LC_ALL=C";
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "LC_ALL=", 7) != 0) envp[k++] = environ[i];
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addchdir_np(&fa, dir);
  posix_spawnattr_t at; /* the compiler starts with no signal blocked (a caller may block SIGCHLD) */
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_init(&at);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, &at, argv, envp);
  posix_spawnattr_destroy(&at);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  if (rc != 0) {
    snprintf(err, errlen, "cannot run the C++ compiler %s: %s", argv[0], strerror(rc));
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      snprintf(err, errlen, "cannot wait for the C++ compiler: %s", strerror(errno));
      return -1;
    }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One line saying why the compile failed: a feature the simulator lacks (a static_assert
 * or #error of the prelude's), with the kernel's line that used it; else the first error. */
static void s_summary(const char *log, const char *name, const char *cxx, int status, char *err, size_t errlen) {
  const char *lacks = strstr(log, "rayl's CPU simulator does not support");
  if (lacks) {
    const char *at = !strncmp(log, S_SOURCE ":", strlen(S_SOURCE) + 1) ? log : strstr(log, "\n" S_SOURCE ":");
    if (at && at != log) at++;
    if (!at && (at = strstr(log, "from " S_SOURCE ":"))) at += 5;
    int where = at ? (int)strcspn(at, " \n") : 0;
    if (where > 0 && at[where - 1] == ':') where--;
    snprintf(err, errlen, "kernel %s: %.*s%s%.*s%s", name, (int)strcspn(lacks, "\"\n"), lacks, where ? " (at " : "",
             where, at ? at : "", where ? ")" : "");
    return;
  }
  const char *e = strstr(log, "error:");
  while (e && e > log && e[-1] != '\n') e--;
  if (!e) e = log;
  int len = (int)strcspn(e, "\n");
  if (!strncmp(e, "rayl-sim-entry:", 15))
    snprintf(err, errlen, "kernel %s: the source has no __global__ function named %s (%s: %.*s)", name, name, cxx,
             len > 300 ? 300 : len, e);
  else if (len == 0)
    snprintf(err, errlen, "kernel %s: the C++ compiler %s failed (exit status %d) and said nothing", name, cxx, status);
  else
    snprintf(err, errlen, "kernel %s: compile error (%s): %.*s", name, cxx, len > 400 ? 400 : len, e);
}

static char *s_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_strdupf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

/* Writes the headers and the source into a new private folder (its path into dir).
 * Returns 0; -1 with err once the folder exists (clean it up), -2 with err if not. */
static int s_stage(const char *text, char *dir, size_t dirlen, char *err, size_t errlen) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, dirlen, "%s/rayl-sim-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    snprintf(err, errlen, "cannot make a folder for the CPU simulator's compiler (%s): %s", dir, strerror(errno));
    return -2;
  }
  for (int i = 0; rl_sim_headers[i].name; i++)
    if (s_write(dir, rl_sim_headers[i].name, rl_sim_headers[i].text, err, errlen) != 0) return -1;
  return s_write(dir, S_SOURCE, text, err, errlen);
}

int rl_sim_compile(const char *source, const char *name, const char *const *options, size_t noptions, char **image,
                   size_t *image_len, char **log, char *err, size_t errlen) {
  const s_cxx_t *c = s_cxx_get();
  char dir[PATH_MAX] = "", why[300];
  char *text = NULL, *full = NULL, *out = NULL;
  s_args_t a = {0};
  unsigned flags = 0;
  int rc = -1, staged = -2; /* s_stage's result: 0 or -1 once the folder exists */
  *image = NULL;
  *image_len = 0;
  *log = NULL;
  if (!c->found) {
    snprintf(err, errlen, "%s", c->why);
    return -1;
  }
  if (!source || !name || !s_name_ok(name)) {
    snprintf(err, errlen, "kernel name '%.200s' is not a C++ function name (letters, digits, _, :: and <...>)",
             name ? name : "(none)");
    return -1;
  }
  if (!(text = rl_sim_source_rewrite(source, &flags, why, sizeof why))) {
    snprintf(err, errlen, "kernel %s: %s", name, why);
    *log = s_strdupf(S_SOURCE ": error: %s\n", why);
    return -1;
  }
  if (s_args_build(&a, c, options, noptions, name, err, errlen) != 0) goto done;
  char *tramp = s_strdupf(s_trampoline, name, name, name, name, name, flags);
  full = tramp ? s_strdupf("%s%s", text, tramp) : NULL;
  free(tramp);
  if (!full) {
    snprintf(err, errlen, "kernel %s: out of memory", name);
    goto done;
  }
  staged = s_stage(full, dir, sizeof dir, err, errlen);
  if (staged != 0) goto done;
  int status = s_run(a.argv, dir, err, errlen);
  if (status < 0) goto done;
  size_t loglen = 0;
  char *l = s_read(dir, S_LOG, &loglen);
  if (status != 0) {
    s_summary(l ? l : "", name, c->shown, status, err, errlen);
    *log = l;
    goto done;
  }
  free(l);
  if (!(out = s_read(dir, S_OUTPUT, image_len))) {
    snprintf(err, errlen, "kernel %s: the C++ compiler %s made no %s", name, c->shown, S_OUTPUT);
    goto done;
  }
  *image = out;
  rc = 0;
done:
  if (staged != -2) s_cleanup(dir);
  s_args_free(&a);
  free(text);
  free(full);
  return rc;
}
