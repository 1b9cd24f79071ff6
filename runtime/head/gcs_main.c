/* gcs_main.c: the head process: arguments, log file, signals, the bound socket, and
 * clean-up (the ipc:// socket file) around rl_gcs_serve. */
#include "common/selftest.h"
#include "gcs/gcs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "head/dashboard.h"
#include "gcs/gcs_db.h"
#include "head/gcs_server.h"
#include "net/key.h"
#include "net/secure.h"
#include "wire/msg.h"
#include "wire/proto.h"

#define S_HWM 100000 /* messages queued per peer before ZeroMQ drops (router) */

typedef struct {
  const char *endpoint;
  const char *session;
  const char *db; /* the database, or "none" */
  const char *key; /* the cluster key file, or NULL */
  bool no_security;
  const char *dashboard_port; /* NULL: not given */
  rl_gcs_opts_t opts;
} s_args_t;

static void s_usage(FILE *out) {
  fprintf(out,
          "usage: rayl head --endpoint ENDPOINT [--session DIR] [--db PATH] [--parent-pid PID]\n"
          "                 [--heartbeat-timeout-ms N] [--cluster-key FILE | --no-security]\n"
          "                 [--dashboard-host H] [--dashboard-port P]\n"
          "Runs a cluster's head (its control store). rayl starts it itself (`rayl start\n"
          "--head`, `rayl script.lua`); run it by hand only to debug.\n"
          "  --endpoint ENDPOINT       address to bind (ipc://PATH or tcp://HOST:PORT)\n"
          "  --session DIR             session folder; the log goes to DIR/logs/gcs.log\n"
          "  --db PATH                 keep the node table and KV store in this SQLite file,\n"
          "                            loaded at start (default: DIR/gcs.sqlite3 with\n"
          "                            --session, else none; 'none': memory only)\n"
          "  --parent-pid PID          exit when process PID is gone\n"
          "  --heartbeat-timeout-ms N  mark a node dead after N ms without a heartbeat\n"
          "                            (default %d)\n"
          "  --cluster-key FILE        secure a tcp endpoint with this cluster key (CURVE):\n"
          "                            only peers holding it get in\n"
          "  --no-security             serve a tcp endpoint to anyone who reaches it\n"
          "  --dashboard-host H        serve the dashboard on this IPv4 address (127.0.0.1: only\n"
          "                            changes need its token; another: every request does)\n"
          "  --dashboard-port P        its port (default %d, or the next free one); without\n"
          "                            either option, RAYL_DASHBOARD_HOST/RAYL_DASHBOARD_PORT\n"
          "                            ask for it, else there is none\n",
          RL_GCS_DEFAULT_HEARTBEAT_TIMEOUT_MS, RL_DASHBOARD_DEFAULT_PORT);
}

/* Parses a decimal integer in [lo, hi]. Returns 0, or -1. */
static int s_parse_int(const char *s, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error (message written). */
static int s_parse_args(int argc, char **argv, s_args_t *a) {
  memset(a, 0, sizeof *a);
  a->opts.heartbeat_timeout_ms = RL_GCS_DEFAULT_HEARTBEAT_TIMEOUT_MS;
  a->opts.kv_max_bytes = RL_GCS_DEFAULT_KV_MAX_BYTES;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      s_usage(stdout);
      return 1;
    }
    if (!strcmp(arg, "--no-security")) {
      a->no_security = true;
      continue;
    }
    static const char *const names[] = {"--endpoint", "--session", "--parent-pid", "--heartbeat-timeout-ms",
                                        "--db", "--cluster-key", "--dashboard-host", "--dashboard-port"};
    int which = -1;
    const char *val = NULL;
    for (int k = 0; k < 8 && which < 0; k++) {
      size_t n = strlen(names[k]);
      if (!strcmp(arg, names[k])) {
        which = k;
        if (i + 1 < argc) val = argv[++i];
      } else if (!strncmp(arg, names[k], n) && arg[n] == '=') {
        which = k;
        val = arg + n + 1;
      }
    }
    if (which < 0) {
      fprintf(stderr, "rayl head: unknown argument '%s'\n", arg);
      goto usage;
    }
    if (!val || !*val) {
      fprintf(stderr, "rayl head: %s needs a value\n", names[which]);
      goto usage;
    }
    long long v;
    switch (which) {
      case 0: a->endpoint = val; break;
      case 1: a->session = val; break;
      case 2:
        if (s_parse_int(val, 1, INT_MAX, &v) != 0) {
          fprintf(stderr, "rayl head: --parent-pid '%s' is not a process id\n", val);
          goto usage;
        }
        a->opts.parent_pid = (pid_t)v;
        break;
      case 3:
        if (s_parse_int(val, 1, 86400000, &v) != 0) {
          fprintf(stderr, "rayl head: --heartbeat-timeout-ms '%s' is not a number of ms in 1..86400000\n", val);
          goto usage;
        }
        a->opts.heartbeat_timeout_ms = v;
        break;
      case 4: a->db = val; break;
      case 5: a->key = val; break;
      case 6: a->opts.dashboard_host = val; break;
      case 7: a->dashboard_port = val; break;
    }
  }
  /* A private cluster's head serves a dashboard only when asked to (RAYL_DASHBOARD_*). */
  const char *env_host = getenv("RAYL_DASHBOARD_HOST"), *env_port = getenv("RAYL_DASHBOARD_PORT");
  if (!a->opts.dashboard_host && !a->dashboard_port && ((env_host && *env_host) || (env_port && *env_port))) {
    a->opts.dashboard_host = env_host && *env_host ? env_host : NULL;
    a->dashboard_port = env_port && *env_port ? env_port : NULL;
  }
  if (a->dashboard_port && !a->opts.dashboard_host) a->opts.dashboard_host = "127.0.0.1";
  if (a->dashboard_port) {
    long long v;
    if (s_parse_int(a->dashboard_port, 0, 65535, &v) != 0) {
      fprintf(stderr, "rayl head: --dashboard-port '%s' is not a port number in 0..65535 (0: %d or the next free)\n",
              a->dashboard_port, RL_DASHBOARD_DEFAULT_PORT);
      goto usage;
    }
    a->opts.dashboard_port = (int)v;
  }
  if (!a->endpoint) {
    fprintf(stderr, "rayl head: --endpoint is required\n");
    goto usage;
  }
  if (a->key && a->no_security) {
    fprintf(stderr, "rayl head: give --cluster-key FILE or --no-security, not both\n");
    goto usage;
  }
  if (!strncmp(a->endpoint, "tcp://", 6) && !a->key && !a->no_security) {
    fprintf(stderr, "rayl head: a tcp endpoint needs --cluster-key FILE (or --no-security to let anyone in)\n");
    goto usage;
  }
  return 0;
usage:
  s_usage(stderr);
  return 2;
}

/* mkdir -p for the directory part of path (the whole path if dir_itself). Errors are
 * left for the caller's open or bind to report. */
static void s_mkdirs(const char *path, bool dir_itself) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return;
  if (!dir_itself) {
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf) return;
    *slash = 0;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0700);
    *p = '/';
  }
  mkdir(buf, 0700);
}

int rl_gcs_main(int argc, char **argv) {
  s_args_t a;
  int rc = s_parse_args(argc, argv, &a);
  if (rc) return rc == 1 ? 0 : 2;

  char db[PATH_MAX];
  if (a.db && strcmp(a.db, "none")) snprintf(db, sizeof db, "%s", a.db);
  else if (!a.db && a.session) snprintf(db, sizeof db, "%s/gcs.sqlite3", a.session);
  else db[0] = 0;
  if (db[0]) {
    s_mkdirs(db, false);
    a.opts.db_path = db;
  }
  /* Jobs: drivers run with this program and reach the head where it listens (a head
   * bound to every interface is reached on loopback). */
  char self[PATH_MAX], address[300];
  const char *bin = getenv("RAYL_BIN");
  ssize_t n = bin && *bin ? -1 : readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) self[n] = 0;
  a.opts.rayl_bin = bin && *bin ? bin : n > 0 ? self : NULL;
  a.opts.session_dir = a.session;
  if (!strncmp(a.endpoint, "tcp://0.0.0.0:", 14)) snprintf(address, sizeof address, "tcp://127.0.0.1:%s", a.endpoint + 14);
  else snprintf(address, sizeof address, "%s", a.endpoint);
  a.opts.address = address;

  char err[PATH_MAX + 200];
  if (a.key && rl_net_key_load(a.key, err, sizeof err) != 0) {
    fprintf(stderr, "rayl head: %s\n", err);
    return 2;
  }

  char token[RL_DASHBOARD_TOKEN_LEN + 1];
  rl_dashboard_token(token); /* from the key when one is held */
  a.opts.dashboard_token = token;

  rl_interrupt_install();
  rl_log_open("gcs", NULL);
  if (a.session) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/logs/gcs.log", a.session);
    s_mkdirs(path, false);
    if (rl_log_open("gcs", path) != 0)
      fprintf(stderr, "rayl head: cannot open %s (%s); logging to stderr\n", path, strerror(errno));
  }

  const char *ipc_path = strncmp(a.endpoint, "ipc://", 6) == 0 ? a.endpoint + 6 : NULL;
  if (ipc_path && *ipc_path) s_mkdirs(ipc_path, false);

  void *ctx = zmq_ctx_new(), *sock = NULL;
  rc = 1;
  if (!ctx) {
    rl_log(RL_LOG_ERROR, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
    goto done;
  }
  sock = zmq_socket(ctx, ZMQ_ROUTER);
  if (!sock) {
    rl_log(RL_LOG_ERROR, "cannot create the head's socket: %s", zmq_strerror(zmq_errno()));
    goto done;
  }
  int zero = 0, hwm = S_HWM;
  int64_t maxmsg = (int64_t)RL_MSG_MAX + 64; /* larger messages are refused by ZeroMQ itself */
  zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &zero, sizeof zero);
  zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
  if (rl_net_bind(ctx, sock, a.endpoint) != 0) {
    int e = zmq_errno();
    rl_log(RL_LOG_ERROR, "cannot bind %s: %s", a.endpoint, zmq_strerror(e));
    if (e == EADDRINUSE && !strncmp(a.endpoint, "tcp://", 6))
      fprintf(stderr, "rayl head: address %s is in use (another process listens there): choose another port\n",
              a.endpoint + 6);
    else fprintf(stderr, "rayl head: cannot bind %s: %s\n", a.endpoint, zmq_strerror(e));
    ipc_path = NULL; /* not ours to remove */
    goto done;
  }
  rl_log(RL_LOG_INFO, "head listening on %s (heartbeat timeout %lld ms, parent pid %d, database %s, %s)", a.endpoint,
         (long long)a.opts.heartbeat_timeout_ms, (int)a.opts.parent_pid, db[0] ? db : "none",
         rl_net_key_held() ? "CURVE with the cluster key" : "no security");
  atomic_int stop;
  atomic_init(&stop, 0);
  a.opts.zctx = ctx;
  rc = rl_gcs_serve(sock, &a.opts, &stop) == 0 ? 0 : 1;
done:
  if (sock) zmq_close(sock);
  rl_net_ctx_term(&ctx);
  if (ipc_path && *ipc_path && unlink(ipc_path) != 0 && errno != ENOENT)
    rl_log(RL_LOG_WARN, "cannot remove %s: %s", ipc_path, strerror(errno));
  rl_log(RL_LOG_INFO, "head exiting with status %d", rc);
  return rc;
}
