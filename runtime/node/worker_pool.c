/* worker_pool.c: the node's worker processes: started ahead of need, their output
 * logged and forwarded to drivers, their deaths reported and replaced. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/memory.h"
#include "common/xalloc.h"
#include "gpu/visible.h"
#include "node/nm.h"
#include "renv/redact.h"
#include "wire/proto.h"

void rl_pool_start_zygote(rl_nm_t *nm) {
  nm->zygote_fd = -1;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
  /* Workers forked by the zygote become our children when their parent exits. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(sv[1], 3); /* RL_ZYGOTE_FD, without close-on-exec */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The zygote loads the key once, before forking: its workers start holding it. */
    execl(nm->self_exe, nm->self_exe, "worker", "--zygote", "--node", nm->endpoint, "--session", nm->session_dir,
          nm->key_path[0] ? "--cluster-key" : (char *)NULL, nm->key_path, (char *)NULL);
    _exit(127);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return;
  }
  nm->zygote_fd = sv[0];
  nm->zygote_pid = pid;
}

/* Asks the zygote for a worker writing to out and err, bound to the devices gpus (their
 * ids as text) and set up for runtime_env: the packet is 'w', gpus, '\n', runtime_env.
 * Returns its pid, or -1. */
static pid_t s_fork_from_zygote(rl_nm_t *nm, int out, int err, const char *runtime_env, const char *gpus) {
  if (nm->zygote_fd < 0) return -1;
  size_t envlen = strlen(runtime_env), gpulen = strlen(gpus), len = 2 + gpulen + envlen;
  char *packet = rl_xmalloc(len);
  packet[0] = 'w';
  memcpy(packet + 1, gpus, gpulen);
  packet[1 + gpulen] = '\n';
  memcpy(packet + 2 + gpulen, runtime_env, envlen);
  struct iovec io = {packet, len};
  char control[CMSG_SPACE(2 * sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  int fds[2] = {out, err};
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  int32_t pid = -1;
  struct pollfd p = {nm->zygote_fd, POLLIN, 0};
  bool sent = sendmsg(nm->zygote_fd, &msg, MSG_NOSIGNAL) == (ssize_t)len;
  free(packet);
  if (!sent || poll(&p, 1, 2000) != 1 || recv(nm->zygote_fd, &pid, sizeof pid, 0) != sizeof pid || pid <= 0) {
    rl_log(RL_LOG_WARN, "the worker zygote did not answer; starting workers by exec from now on");
    close(nm->zygote_fd);
    nm->zygote_fd = -1;
    return -1;
  }
  return pid;
}

rl_worker_t *rl_pool_spawn(rl_nm_t *nm, const char *runtime_env, const rl_gpu_set_t *gpus) {
  int out[2], err[2];
  char gpu_ids[RL_GPU_MAX * 8];
  rl_gpu_set_format(gpus, gpu_ids, sizeof gpu_ids);
  char *env_copy = rl_xstrdup(runtime_env);
  if (pipe2(out, O_CLOEXEC) != 0) {
    free(env_copy);
    return NULL;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    free(env_copy);
    return NULL;
  }
  pid_t parent = getpid();
  pid_t pid = s_fork_from_zygote(nm, out[1], err[1], runtime_env, gpu_ids);
  if (pid <= 0) pid = fork();
  if (pid < 0) {
    rl_log(RL_LOG_ERROR, "cannot start a worker: fork: %s", strerror(errno));
    close(out[0]), close(out[1]), close(err[0]), close(err[1]);
    free(env_copy);
    return NULL;
  }
  if (pid == 0) {
    if (*runtime_env) setenv("RAYL_RUNTIME_ENV", runtime_env, 1);
    else unsetenv("RAYL_RUNTIME_ENV");
    rl_gpu_env_set(gpu_ids);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    setpgid(0, 0); /* its own process group: what its tasks start ends with it */
    dup2(out[1], 1);
    dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execl(nm->self_exe, nm->self_exe, "worker", "--node", nm->endpoint, "--session", nm->session_dir,
          nm->key_path[0] ? "--cluster-key" : (char *)NULL, nm->key_path, (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", nm->self_exe, strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  rl_worker_t *w = rl_xcalloc(1, sizeof *w);
  w->runtime_env = env_copy;
  w->gpus = *gpus;
  w->pid = pid;
  w->state = RL_W_STARTING;
  w->out_fd = out[0];
  w->err_fd = err[0];
  w->next = nm->workers;
  nm->workers = w;
  char shown[512];
  if (*runtime_env)
    rl_log(RL_LOG_INFO, "started worker pid %d for runtime_env {%s}%s%s", (int)pid,
           rl_renv_redact(runtime_env, shown, sizeof shown), gpus->n ? " on GPUs " : "", gpu_ids);
  else if (gpus->n) rl_log(RL_LOG_INFO, "started worker pid %d on GPUs %s", (int)pid, gpu_ids);
  else rl_log(RL_LOG_DEBUG, "started worker pid %d", (int)pid);
  return w;
}

rl_worker_t *rl_pool_by_id(rl_nm_t *nm, const rl_id_t *id) {
  for (rl_worker_t *w = nm->workers; w; w = w->next)
    if (w->registered && rl_id_eq(&w->id, id)) return w;
  return NULL;
}

rl_worker_t *rl_pool_by_pid(rl_nm_t *nm, pid_t pid) {
  for (rl_worker_t *w = nm->workers; w; w = w->next)
    if (w->pid == pid) return w;
  return NULL;
}

/* Appends text to the worker's log file and sends it to every driver. */
static void s_forward(rl_nm_t *nm, rl_worker_t *w, int stream, const char *text, size_t n) {
  char path[400];
  snprintf(path, sizeof path, "%s/logs/worker-%d.%s", nm->session_dir, (int)w->pid, stream ? "err" : "out");
  FILE *f = fopen(path, "a");
  if (f) {
    fwrite(text, 1, n, f);
    fclose(f);
  }
  rl_nm_log_msg_t log = {.pid = (uint64_t)w->pid, .stream = "out", .text = rl_wire_bytes(text, n)};
  if (stream) snprintf(log.stream, sizeof log.stream, "err");
  for (rl_client_t *c = nm->clients; c; c = c->next)
    if (c->kind == RL_CLIENT_DRIVER) rl_nm_send_to(nm, &c->id, RL_NM_LOG, &log);
}

/* Reads one pipe; forwards complete lines, keeps the rest. Returns bytes read. */
static ssize_t s_read_stream(rl_nm_t *nm, rl_worker_t *w, int stream, bool flush) {
  int fd = stream ? w->err_fd : w->out_fd;
  if (fd < 0) return 0;
  char buf[65536];
  ssize_t total = 0, n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    total += n;
    char *joined = realloc(w->partial[stream], w->partial_len[stream] + (size_t)n);
    if (!joined) break;
    memcpy(joined + w->partial_len[stream], buf, (size_t)n);
    w->partial[stream] = joined;
    w->partial_len[stream] += (size_t)n;
  }
  char *p = w->partial[stream];
  size_t len = w->partial_len[stream];
  size_t upto = 0;
  for (size_t i = len; i > 0; i--)
    if (p[i - 1] == '\n') {
      upto = i;
      break;
    }
  if (flush) upto = len;
  if (upto > 0) {
    s_forward(nm, w, stream, p, upto);
    memmove(p, p + upto, len - upto);
    w->partial_len[stream] = len - upto;
  }
  return total;
}

void rl_pool_read_output(rl_nm_t *nm, int fd) {
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    if (w->out_fd == fd) s_read_stream(nm, w, 0, false);
    if (w->err_fd == fd) s_read_stream(nm, w, 1, false);
  }
}

void rl_pool_flush_output(rl_nm_t *nm) {
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    s_read_stream(nm, w, 0, false);
    s_read_stream(nm, w, 1, false);
  }
}

static void s_describe(int status, char *out, size_t n) {
  if (WIFEXITED(status)) {
    snprintf(out, n, "it exited with code %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    snprintf(out, n, "it was killed by signal %d (%s)%s", sig, strsignal(sig),
             WCOREDUMP(status) ? ", core dumped" : "");
  } else {
    snprintf(out, n, "it stopped (status %d)", status);
  }
}

/* True if a worker that died with status was killed by the kernel's out-of-memory
 * killer: SIGKILL, not sent by us, while the kill count rose (since the heartbeat before
 * last: a kill and its reaping may straddle one). *kills caches the count across one reap. */
static bool s_oom_killed(rl_nm_t *nm, const rl_worker_t *w, int status, int64_t *kills) {
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL || w->killed) return false;
  if (*kills == -2) *kills = rl_mem_oom_kills();
  int64_t before = nm->oom_kills_prev >= 0 ? nm->oom_kills_prev : nm->oom_kills_last;
  return *kills >= 0 && before >= 0 && *kills > before;
}

void rl_pool_sample_oom_kills(rl_nm_t *nm) {
  nm->oom_kills_prev = nm->oom_kills_last;
  nm->oom_kills_last = rl_mem_oom_kills();
}

static void s_free_worker(rl_worker_t *w) {
  if (w->out_fd >= 0) close(w->out_fd);
  if (w->err_fd >= 0) close(w->err_fd);
  free(w->partial[0]);
  free(w->partial[1]);
  free(w->runtime_env);
  free(w);
}

void rl_pool_reap(rl_nm_t *nm) {
  int status;
  pid_t pid;
  int64_t kills = -2; /* not read yet */
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    rl_worker_t **pp = &nm->workers;
    while (*pp && (*pp)->pid != pid) pp = &(*pp)->next;
    if (!*pp) continue; /* a process a worker left behind, orphaned to us (we reap it) */
    rl_worker_t *w = *pp;
    *pp = w->next;
    /* As in Ray, what the worker's tasks started (its process group) ends with it. */
    kill(-pid, SIGKILL);
    s_read_stream(nm, w, 0, true);
    s_read_stream(nm, w, 1, true);
    char reason[300];
    bool oom = s_oom_killed(nm, w, status, &kills);
    if (oom) {
      char limit[200], node[RL_ID_HEX];
      rl_mem_limit_describe(limit, sizeof limit);
      snprintf(reason, sizeof reason, "it was killed by the kernel's out-of-memory killer on node %s (memory limit: %s)",
               rl_id_hex(&nm->node_id, node), limit);
    } else {
      s_describe(status, reason, sizeof reason);
    }
    rl_log(RL_LOG_INFO, "worker pid %d died: %s", (int)pid, reason);
    if (!w->registered) nm->failed_starts++;
    if (w->registered) {
      rl_nm_client_gone(nm, &w->id, RL_GONE_DIED);
      rl_nm_worker_died_msg_t died = {.worker_id = w->id, .pid = (uint64_t)pid, .reason = rl_wire_str(reason)};
      snprintf(died.endpoint, sizeof died.endpoint, "%s", w->endpoint);
      snprintf(died.error_type, sizeof died.error_type, "%s", oom ? "OutOfMemoryError" : "WorkerCrashedError");
      for (rl_client_t *c = nm->clients; c; c = c->next) rl_nm_send_to(nm, &c->id, RL_NM_WORKER_DIED, &died);
    }
    rl_leases_release_worker(nm, w);
    s_free_worker(w);
  }
  if (nm->failed_starts >= 5 && nm->failed_starts < 1000) {
    rl_log(RL_LOG_ERROR, "workers keep dying before they start; not starting more (see worker-*.err in %s/logs)",
           nm->session_dir);
    nm->failed_starts = 1000;
  }
  rl_pool_top_up(nm);
  rl_leases_serve(nm);
}

void rl_pool_top_up(rl_nm_t *nm) {
  int alive = 0;
  rl_gpu_set_t none = {.n = 0};
  for (rl_worker_t *w = nm->workers; w; w = w->next) alive += !w->dedicated && !*w->runtime_env && !w->gpus.n;
  while (alive < nm->min_workers && nm->failed_starts < 5 && rl_pool_spawn(nm, "", &none)) alive++;
}

void rl_pool_stop_all(rl_nm_t *nm) {
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    kill(w->pid, SIGKILL);
    kill(-w->pid, SIGKILL); /* and what its tasks started */
  }
  for (rl_worker_t *w = nm->workers, *next; w; w = next) {
    next = w->next;
    waitpid(w->pid, NULL, 0);
    s_free_worker(w);
  }
  nm->workers = NULL;
}
