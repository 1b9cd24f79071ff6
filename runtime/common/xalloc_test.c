/* xalloc_test.c: xalloc.c's selftest, built into rl_selftest only (not librayl). */
#include "common/xalloc.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

/* Runs rl_xcalloc with a size that overflows in a child; returns what it wrote on
 * stderr (into out) and whether it ended by SIGABRT. */
static int s_child_fails(char *out, size_t n) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    void *p = rl_xcalloc(SIZE_MAX / 2, 4);
    free(p);
    _exit(0);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t r;
  while (got + 1 < n && (r = read(fds[0], out + got, n - 1 - got)) != 0) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    got += (size_t)r;
  }
  out[got] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int rl_xalloc_selftest(void) {
  char *s = rl_xstrdup("node-1");
  RL_CHECK_RETURN(!strcmp(s, "node-1"));
  s = rl_xrealloc(s, 64);
  RL_CHECK_RETURN(!strcmp(s, "node-1"));
  free(s);
  s = rl_xstrndup("endpoint", 3);
  RL_CHECK_RETURN(!strcmp(s, "end"));
  free(s);
  int *z = rl_xcalloc(4, sizeof *z);
  RL_CHECK_RETURN(z[0] == 0 && z[3] == 0);
  free(z);
  free(rl_xmalloc(0)); /* zero bytes: a valid pointer, never NULL */
  char out[512];
  RL_CHECK_RETURN(s_child_fails(out, sizeof out));
  char want[128];
  snprintf(want, sizeof want, "rayl: out of memory allocating %zu x 4 bytes in s_child_fails\n", SIZE_MAX / 2);
  if (strstr(out, want) != out) {
    fprintf(stderr, "xalloc selftest: the child wrote '%s', expected '%s'\n", out, want);
    return 1;
  }
  return 0;
}
