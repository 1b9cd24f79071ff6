/* zygote.c: forking pre-loaded workers for the node manager. */
#include "host/zygote.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "gpu/visible.h"
#include "sched/gpus.h"

/* 'w', GPU ids, '\n' and the runtime_env (RL_NM_RUNTIME_ENV_MAX) */
#define S_PACKET_MAX ((64 << 10) + 2 + RL_GPU_MAX * 8)

/* Receives one request: two descriptors (stdout, stderr of the new worker) and, after a
 * 'w', the GPU ids it is bound to, a newline and the runtime_env it is for
 * (NUL-terminated into packet). */
static int s_recv_fds(int sock, int fds[2], char *packet) {
  struct iovec io = {packet, S_PACKET_MAX - 1};
  char control[CMSG_SPACE(2 * sizeof(int))];
  struct msghdr msg = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = recvmsg(sock, &msg, 0);
  if (n <= 0 || (msg.msg_flags & MSG_TRUNC)) return -1;
  packet[n] = 0;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int))) return -1;
  memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
  return 0;
}

/* In the new worker: take its output descriptors, GPU devices and runtime_env (spec:
 * "ids\nruntime_env"), and wait to become the node manager's child (it is the
 * subreaper once the middle process exits). */
static void s_become_worker(int sock, int fds[2], pid_t manager, char *spec) {
  close(sock);
  char *newline = strchr(spec, '\n');
  const char *runtime_env = newline ? newline + 1 : spec;
  if (newline) *newline = 0;
  rl_gpu_env_set(newline ? spec : "");
  if (*runtime_env) setenv("RAYL_RUNTIME_ENV", runtime_env, 1);
  else unsetenv("RAYL_RUNTIME_ENV");
  dup2(fds[0], 1);
  dup2(fds[1], 2);
  close(fds[0]);
  close(fds[1]);
  int64_t deadline = rl_now_ms() + 2000;
  while (getppid() != manager && rl_now_ms() < deadline) usleep(100);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != manager) _exit(1);
  setpgid(0, 0); /* its own process group: what its tasks start ends with it */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int rl_zygote_serve(void) {
  pid_t manager = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != manager) return 0;
  int sock = RL_ZYGOTE_FD;
  static char packet[S_PACKET_MAX];
  for (;;) {
    int fds[2];
    if (s_recv_fds(sock, fds, packet) != 0) return 0; /* the node manager closed its end */
    fflush(NULL);
    pid_t middle = fork();
    if (middle == 0) {
      /* Fork again and exit, so the worker is orphaned to the node manager. */
      pid_t worker = fork();
      if (worker == 0) {
        s_become_worker(sock, fds, manager, packet + 1);
        return 1;
      }
      int32_t pid = worker;
      ssize_t sent = send(sock, &pid, sizeof pid, MSG_NOSIGNAL);
      _exit(sent == sizeof pid ? 0 : 1);
    }
    close(fds[0]);
    close(fds[1]);
    if (middle < 0) {
      int32_t fail = -1;
      if (send(sock, &fail, sizeof fail, MSG_NOSIGNAL) < 0) return 0;
      continue;
    }
    while (waitpid(middle, NULL, 0) < 0 && errno == EINTR) {}
  }
}
