/* gcs_main_test.c: gcs_main.c's selftest, built into rl_selftest only (not librayl). */
#include "head/gcs_main.c" /* the code under test, with its file-local helpers */

/* ---- selftest: the real process, forked; arguments, SIGTERM, parent death ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* rl_gcs_main's exit code for argv, with its stdout/stderr silenced. */
static int s_main_quiet(int argc, char **argv) {
  fflush(stdout);
  fflush(stderr);
  int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
  dup2(null, 1);
  dup2(null, 2);
  int rc = rl_gcs_main(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(out, 1);
  dup2(err, 2);
  close(out);
  close(err);
  close(null);
  return rc;
}

/* Forks a head; returns its pid (or -1). */
static pid_t s_spawn(const char *endpoint, const char *session, const char *parent) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  char *argv[] = {"gcs", "--endpoint", (char *)endpoint, "--session", (char *)session,
                  "--heartbeat-timeout-ms", "1000", parent ? "--parent-pid" : NULL, (char *)parent, NULL};
  _exit(rl_gcs_main(parent ? 9 : 7, argv));
}

/* Waits up to ms for child pid; returns its exit code, or -1 if it did not exit. */
static int s_wait_exit(pid_t pid, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    usleep(10000);
  }
  return -1;
}

int rl_gcs_main_selftest(void) {
  char dir[] = "/tmp/rl-gcs-XXXXXX", ep[PATH_MAX + 8], sockpath[PATH_MAX], logpath[PATH_MAX];
  pid_t head = -1, sibling = -1;
  void *ctx = NULL, *dealer = NULL;
  S_CHECK(mkdtemp(dir));
  snprintf(sockpath, sizeof sockpath, "%s/sockets/gcs", dir);
  snprintf(ep, sizeof ep, "ipc://%s", sockpath);
  snprintf(logpath, sizeof logpath, "%s/logs/gcs.log", dir);

  /* Arguments. */
  char *help[] = {"gcs", "--help", NULL};
  char *bogus[] = {"gcs", "--endpoint", ep, "--bogus", NULL};
  char *noep[] = {"gcs", "--session", dir, NULL};
  char *novalue[] = {"gcs", "--endpoint", NULL};
  char *badpid[] = {"gcs", "--endpoint", ep, "--parent-pid", "12x", NULL};
  char *badtimeout[] = {"gcs", "--endpoint=tcp://127.0.0.1:1", "--heartbeat-timeout-ms=0", NULL};
  S_CHECK(s_main_quiet(2, help) == 0);
  S_CHECK(s_main_quiet(4, bogus) == 2);
  S_CHECK(s_main_quiet(3, noep) == 2);
  S_CHECK(s_main_quiet(2, novalue) == 2);
  S_CHECK(s_main_quiet(5, badpid) == 2);
  S_CHECK(s_main_quiet(3, badtimeout) == 2);
  char *nokey[] = {"gcs", "--endpoint", "tcp://127.0.0.1:1", NULL}; /* tcp needs a key or --no-security */
  char *badkey[] = {"gcs", "--endpoint", "tcp://127.0.0.1:1", "--cluster-key", "/nonexistent/cluster.key", NULL};
  S_CHECK(s_main_quiet(3, nokey) == 2);
  S_CHECK(s_main_quiet(5, badkey) == 2);
  S_CHECK(access(sockpath, F_OK) != 0); /* none of these bound anything */

  /* A head that answers, then stops on SIGTERM and removes its socket file. */
  head = s_spawn(ep, dir, NULL);
  S_CHECK(head > 0);
  ctx = zmq_ctx_new();
  dealer = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
  S_CHECK(zmq_connect(dealer, ep) == 0); /* ipc connects retry until the head binds */
  zmq_send(dealer, "junk", 4, 0);
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 1);
  msgpack_pack_uint64(&b.pk, 5);
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
  S_CHECK(zmq_poll(&it, 1, 5000) == 1);
  rl_msg_t m;
  uint64_t req = 0;
  S_CHECK(rl_msg_recv(dealer, false, &m) == 1);
  bool ok = m.type == RL_GCS_NODES && rl_field_u64(&m, 0, &req) && req == 5;
  rl_msg_close(&m);
  S_CHECK(ok);
  S_CHECK(access(sockpath, F_OK) == 0);
  S_CHECK(kill(head, SIGTERM) == 0);
  S_CHECK(s_wait_exit(head, 5000) == 0);
  head = -1;
  S_CHECK(access(sockpath, F_OK) != 0);
  struct stat st;
  S_CHECK(stat(logpath, &st) == 0 && st.st_size > 0);

  /* A head watching a process that is not its parent exits when that one is gone. */
  sibling = fork();
  if (sibling == 0) {
    for (;;) pause();
  }
  S_CHECK(sibling > 0);
  char spid[16];
  snprintf(spid, sizeof spid, "%d", (int)sibling);
  head = s_spawn(ep, dir, spid);
  S_CHECK(head > 0);
  usleep(300000);
  S_CHECK(waitpid(head, NULL, WNOHANG) == 0); /* still running */
  kill(sibling, SIGKILL);
  waitpid(sibling, NULL, 0);
  sibling = -1;
  S_CHECK(s_wait_exit(head, 5000) == 0);
  head = -1;
  S_CHECK(access(sockpath, F_OK) != 0);

  zmq_close(dealer);
  zmq_ctx_term(ctx);
  snprintf(logpath, sizeof logpath, "%s/gcs.sqlite3", dir); /* the default database */
  S_CHECK(access(logpath, F_OK) == 0);
  rl_gcs_db_remove(logpath);
  snprintf(logpath, sizeof logpath, "%s/logs/gcs.log", dir);
  unlink(logpath);
  snprintf(logpath, sizeof logpath, "%s/logs", dir);
  rmdir(logpath);
  snprintf(logpath, sizeof logpath, "%s/sockets", dir);
  rmdir(logpath);
  rmdir(dir);
  return 0;
fail:
  if (head > 0) {
    kill(head, SIGKILL);
    waitpid(head, NULL, 0);
  }
  if (sibling > 0) {
    kill(sibling, SIGKILL);
    waitpid(sibling, NULL, 0);
  }
  if (dealer) zmq_close(dealer);
  if (ctx) zmq_ctx_term(ctx);
  return 1;
}
