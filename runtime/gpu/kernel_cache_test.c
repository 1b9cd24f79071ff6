/* kernel_cache_test.c: kernel_cache.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/kernel_cache.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* A test double for a backend: "compiles" to a deterministic image (big, so a half-written
 * file would show), counts compiles, fails on sources containing ERROR. */
static unsigned s_compiles;
static size_t s_image_size = 64;

static bool s_t_available(char *why, size_t n) {
  (void)why, (void)n;
  return true;
}
static const char *s_t_arch(void) { return "test-arch"; }

static void s_t_fill(char *img, size_t len, const char *source, const char *name) {
  uint32_t h = 2166136261u;
  for (const char *p = source; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  for (size_t i = 0; i < len; i++) img[i] = (char)((h >> (i % 4 * 8)) + i);
}

static int s_t_compile(const char *source, const char *name, const char *const *options, size_t noptions, char **image,
                       size_t *image_len, char **log, char *err, size_t errlen) {
  (void)options, (void)noptions;
  s_compiles++;
  *log = NULL;
  if (strstr(source, "ERROR")) {
    *log = strdup("test.cu(1): error: ERROR found");
    snprintf(err, errlen, "could not compile %s", name);
    return -1;
  }
  struct timespec ts = {0, 2000000}; /* 2 ms: long enough for workers to race */
  nanosleep(&ts, NULL);
  *image = malloc(s_image_size);
  if (!*image) return -1;
  s_t_fill(*image, s_image_size, source, name);
  *image_len = s_image_size;
  return 0;
}

static const rl_gpu_backend_t s_test_backend = {
    .mode = "test", .available = s_t_available, .arch = s_t_arch, .compile = s_t_compile};

/* One get through a new cache on dir; 0 when the image is whole and came from where
 * `want` says (0: anywhere). */
static int s_get_check(const char *dir, const char *src, rl_kcache_from_t want) {
  rl_kcache_t *c = rl_kcache_new(dir);
  const char *img;
  size_t len;
  rl_kcache_from_t from;
  char err[300], *log = NULL, *expect = malloc(s_image_size);
  int rc = 1;
  if (c && expect && rl_kcache_get(c, &s_test_backend, src, "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == 0) {
    s_t_fill(expect, s_image_size, src, "k");
    rc = len == s_image_size && memcmp(img, expect, len) == 0 && (!want || from == want) ? 0 : 1;
  }
  free(expect);
  free(log);
  rl_kcache_destroy(&c);
  return rc;
}

#define S_RACE_ROUNDS 10

/* Several processes get the same kernel at once from an empty folder, again and again:
 * each sees a whole image (compiled or read), none a half-written file. */
static int s_race(const char *dir) {
  enum { WORKERS = 4, ROUNDS = S_RACE_ROUNDS };
  pid_t pids[WORKERS];
  for (int w = 0; w < WORKERS; w++) {
    if ((pids[w] = fork()) == 0) {
      int bad = 0;
      for (int r = 0; r < ROUNDS; r++) {
        char src[64];
        snprintf(src, sizeof src, "race %d", r);
        bad += s_get_check(dir, src, 0);
        bad += s_get_check(dir, src, 0);
      }
      if (s_damaged) fprintf(stderr, "a worker read %u half-written files\n", s_damaged);
      _exit(bad || s_damaged ? 1 : 0);
    }
  }
  int failed = 0;
  for (int w = 0; w < WORKERS; w++) {
    int st = 0;
    if (pids[w] < 0 || waitpid(pids[w], &st, 0) != pids[w] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
  }
  return failed;
}

/* Counts files in dir whose name contains part. */
static int s_count(const char *dir, const char *part) {
  char cmd[PATH_MAX + 100];
  snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -- '%s'", dir, part);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (p && fscanf(p, "%d", &n) != 1) n = -1;
  if (p) pclose(p);
  return n;
}

int rl_kernel_cache_selftest(void) {
  char tmpl[] = "/tmp/rl_kcache_XXXXXX", dir[PATH_MAX], path[PATH_MAX + 80], key[RL_KCACHE_KEY], k2[RL_KCACHE_KEY];
  char err[300], *log = NULL;
  const char *img;
  size_t len;
  rl_kcache_from_t from;
  rl_kcache_t *c = NULL;
  int rc = 1;
  S_CHECK(mkdtemp(tmpl) != NULL);
  snprintf(dir, sizeof dir, "%s/kernels", tmpl);
  /* Keys: every field counts, and fields do not run into each other. */
  const char *o1[] = {"-O3"}, *o2[] = {"-O2"};
  rl_kcache_key("src", "k", o1, 1, "nvrtc 13.0", "sm_90", key);
  S_CHECK(strlen(key) == 64);
  rl_kcache_key("src", "k", o2, 1, "nvrtc 13.0", "sm_90", k2);
  S_CHECK(strcmp(key, k2) != 0);
  rl_kcache_key("src", "k", o1, 1, "nvrtc 13.0", "sm_80", k2);
  S_CHECK(strcmp(key, k2) != 0);
  rl_kcache_key("src", "k", o1, 1, "nvrtc 12.4", "sm_90", k2);
  S_CHECK(strcmp(key, k2) != 0);
  rl_kcache_key("sr", "ck", o1, 1, "nvrtc 13.0", "sm_90", k2);
  S_CHECK(strcmp(key, k2) != 0);
  rl_kcache_key("src", "k", o1, 1, "nvrtc 13.0", "sm_90", k2);
  S_CHECK(strcmp(key, k2) == 0);
  /* Compiled once; then memory; a new cache (as a new process would) reads the disk. */
  unsigned before = s_compiles;
  S_CHECK((c = rl_kcache_new(dir)) != NULL);
  S_CHECK(rl_kcache_get(c, &s_test_backend, "src", "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == 0);
  S_CHECK(from == RL_KCACHE_COMPILED && s_compiles == before + 1 && len == s_image_size);
  S_CHECK(rl_kcache_get(c, &s_test_backend, "src", "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == 0);
  S_CHECK(from == RL_KCACHE_MEMORY && s_compiles == before + 1);
  rl_kcache_stats_t stats = rl_kcache_stats(c);
  S_CHECK(stats.compiled == 1 && stats.memory == 1 && stats.disk == 0);
  struct stat st;
  S_CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
  rl_kcache_destroy(&c);
  S_CHECK(s_get_check(dir, "src", RL_KCACHE_DISK) == 0 && s_compiles == before + 1);
  pid_t pid = fork();
  if (pid == 0) _exit(s_get_check(dir, "src", RL_KCACHE_DISK) == 0 && s_compiles == before + 1 ? 0 : 1);
  int wst = 0;
  S_CHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
  /* A damaged file (truncated) is a miss: compiled again and replaced. */
  rl_kcache_key("src", "k", NULL, 0, "test", "test-arch", key);
  snprintf(path, sizeof path, "%s/%s.test", dir, key);
  S_CHECK(truncate(path, S_HDR + 10) == 0);
  S_CHECK(s_get_check(dir, "src", RL_KCACHE_COMPILED) == 0 && s_compiles == before + 2 && s_damaged == 1);
  s_damaged = 0;
  S_CHECK(s_get_check(dir, "src", RL_KCACHE_DISK) == 0);
  /* A compile error: the log comes back and nothing is kept. */
  S_CHECK((c = rl_kcache_new(dir)) != NULL);
  S_CHECK(rl_kcache_get(c, &s_test_backend, "ERROR", "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == -1);
  S_CHECK(log && strstr(log, "test.cu(1)") && strstr(err, "could not compile k"));
  free(log);
  log = NULL;
  before = s_compiles;
  S_CHECK(rl_kcache_get(c, &s_test_backend, "ERROR", "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == -1);
  S_CHECK(s_compiles == before + 1);
  free(log);
  log = NULL;
  rl_kcache_destroy(&c);
  /* A folder that cannot be used (a file is there): memory only, still works. */
  snprintf(path, sizeof path, "%s/afile", tmpl);
  FILE *f = fopen(path, "w");
  S_CHECK(f && fclose(f) == 0);
  S_CHECK((c = rl_kcache_new(path)) != NULL);
  S_CHECK(rl_kcache_get(c, &s_test_backend, "m", "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == 0);
  S_CHECK(from == RL_KCACHE_COMPILED && strcmp(rl_kcache_dir(c), "") == 0);
  S_CHECK(rl_kcache_get(c, &s_test_backend, "m", "k", NULL, 0, &img, &len, &from, &log, err, sizeof err) == 0);
  S_CHECK(from == RL_KCACHE_MEMORY);
  rl_kcache_destroy(&c);
  rl_kcache_destroy(&c); /* safe twice */
  /* Parallel workers with a 1 MB image: whole files only, no temporary left behind. */
  s_image_size = 1u << 20;
  S_CHECK(s_race(dir) == 0);
  S_CHECK(s_count(dir, ".tmp.") == 0 && s_count(dir, "\\.test$") == 1 + S_RACE_ROUNDS);
  /* The default folder. */
  char def[PATH_MAX];
  const char *old_cache = getenv("RAYL_CUDA_CACHE");
  char *saved = old_cache ? strdup(old_cache) : NULL;
  setenv("RAYL_CUDA_CACHE", "/x/cache", 1);
  S_CHECK(rl_kcache_default_dir(def, sizeof def) == 0 && strcmp(def, "/x/cache") == 0);
  unsetenv("RAYL_CUDA_CACHE");
  S_CHECK(rl_kcache_default_dir(def, sizeof def) == 0 && strstr(def, "rayl/kernels"));
  if (saved) setenv("RAYL_CUDA_CACHE", saved, 1);
  free(saved);
  rc = 0;
fail:
  free(log);
  rl_kcache_destroy(&c);
  snprintf(path, sizeof path, "rm -rf '%s'", tmpl);
  if (system(path) != 0) rc = 1;
  return rc;
}
