/* cluster.c: `rayl start`, `rayl stop` and `rayl status`: a long-lived cluster on
 * this machine (a head and node managers that outlive the command that started them),
 * and what it holds and waits for. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/dirs.h"
#include "common/sessions.h"
#include "common/units.h"
#include "net/key.h"
#include "renv/package.h"
#include "sched/gpus.h"
#include "sched/resources.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"

#define S_ERR 1200
#define S_HEAD_RESOURCE "node:__internal_head__"
#define S_NODES_LISTED 512 /* nodes read from the head's list when starting one (dead ones included) */

static const char *s_start_usage =
    "usage: rayl start --head [--port 6380] [options]\n"
    "       rayl start --address HOST:PORT [options]\n"
    "Starts a head (cluster control store) and/or a node manager that keep running after\n"
    "this command returns; `rayl stop` stops them.\n"
    "  --head                   start the head here (and a node manager)\n"
    "  --port P                 the head's port (default 6380)\n"
    "  --address HOST:PORT      join the cluster whose head is there\n"
    "  --node-ip-address IP     address other nodes reach this node on (default 127.0.0.1)\n"
    "  --num-cpus N             CPUs to offer (default: all cores)\n"
    "  --num-gpus N             GPUs to offer (default: those the CUDA driver finds)\n"
    "  --resources '{\"k\": n}'   custom resources\n"
    "  --object-store-memory B  bytes of shared memory for objects\n"
    "  --heartbeat-timeout-ms N with --head: a node silent this long is dead (default 5000)\n"
    "  --cluster-key FILE       the cluster key (CURVE): with --address, the key the head's\n"
    "                           machine keeps in <session>/cluster.key (found by itself on that\n"
    "                           machine); with --head, use this key instead of making one\n"
    "  --no-security            with --head: no key; anyone who reaches the ports gets in\n"
    "  --dashboard-host H       with --head: serve the dashboard on this IPv4 address (default\n"
    "                           127.0.0.1; another, e.g. 0.0.0.0, needs the token for every\n"
    "                           request: `rayl dashboard` prints the URL with it)\n"
    "  --dashboard-port P       with --head: the dashboard's port (default 8265, or the next\n"
    "                           free one; a given port that is busy leaves the head without it)\n";

static const char *s_stop_usage =
    "usage: rayl stop\n"
    "Stops the rayl head and node managers that `rayl start` started on this machine (those\n"
    "recorded under $RAYL_TMPDIR, default /tmp/rayl-<uid>), and the jobs they run, and forgets the\n"
    "stopped cluster's tables. Takes no options.\n";

static const char *s_status_usage =
    "usage: rayl status [--address HOST:PORT] [--cluster-key FILE] [--format table|json]\n"
    "Shows the cluster's nodes (the head's marked), their total and available resources, the\n"
    "resource demands that wait (pending, or infeasible: no node has them) and placement groups.\n"
    "  --address HOST:PORT  the cluster's head (default: RAYL_ADDRESS, else the cluster\n"
    "                       `rayl start` runs on this machine)\n"
    "  --cluster-key FILE   the cluster key, on a machine that has not recorded it\n"
    "  --format table|json  lines for people (default), or one JSON object\n";

/* This user's base folder (rl_base_dir), checked by the command that runs. */
static char s_base[PATH_MAX];
/* The session folder's lock (rl_session_new): the daemons inherit it and hold it. */
static int s_session_lock = -1;

/* Resolves and checks the base folder into s_base. Returns 0, or -1 (reported). */
static int s_use_base(const char *command) {
  char err[S_ERR];
  if (rl_base_dir(s_base, sizeof s_base, err, sizeof err) == 0) return 0;
  fprintf(stderr, "rayl %s: %s\n", command, err);
  return -1;
}

/* Parses {"name": number, ...} into "--resource name=number" argument pairs. */
static int s_parse_resources(const char *json, char specs[][80], int max) {
  int n = 0;
  const char *p = json;
  while (*p == ' ') p++;
  if (*p++ != '{') return -1;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == '}') return n;
    if (*p++ != '"' || n >= max) return -1;
    const char *name = p;
    while (*p && *p != '"') p++;
    if (*p != '"') return -1;
    int len = (int)(p - name);
    p++;
    while (*p == ' ') p++;
    if (*p++ != ':') return -1;
    char *end;
    double v = strtod(p, &end);
    if (end == p) return -1;
    p = end;
    snprintf(specs[n++], 80, "%.*s=%.17g", len, name, v);
  }
}

/* Checks the "name=amount" specs by the rules rayl.init and tasks follow (CPU and GPU
 * are counted with --num-cpus / --num-gpus; amounts finite and >= 0), so a bad one is
 * refused here rather than by a node that exits. Returns 0, or -1 having said why. */
static int s_check_resources(char specs[][80], int n) {
  rl_resources_t res;
  char err[200];
  rl_res_clear(&res);
  for (int i = 0; i < n; i++) {
    char *eq = strrchr(specs[i], '=');
    *eq = 0;
    bool counted = !strcmp(specs[i], "CPU") || !strcmp(specs[i], "GPU");
    int rc = counted ? -1 : rl_res_set(&res, specs[i], atof(eq + 1), err, sizeof err);
    if (counted)
      fprintf(stderr, "rayl start: --resources must not name %s; use --num-%s instead\n", specs[i],
              !strcmp(specs[i], "CPU") ? "cpus" : "gpus");
    else if (rc != 0)
      fprintf(stderr, "rayl start: --resources: %s\n", err);
    *eq = '=';
    if (rc != 0) return -1;
  }
  return 0;
}

/* Starts a daemon detached from this terminal and session; records its pid. */
static pid_t s_daemon(char *const argv[], const char *log_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  setsid();
  int devnull = open("/dev/null", O_RDWR);
  int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (devnull >= 0) dup2(devnull, 0);
  if (log >= 0) {
    dup2(log, 1);
    dup2(log, 2);
  }
  if (s_session_lock >= 0) fcntl(s_session_lock, F_SETFD, 0); /* the daemon holds its session */
  execv(getenv("RAYL_BIN"), argv);
  _exit(127);
}

/* Records daemon pid (what: "head" or "node") in daemons/, for `rayl stop`. */
static void s_record(pid_t pid, const char *what) {
  char path[PATH_MAX + 32], err[S_ERR], text[16];
  snprintf(path, sizeof path, "%s/daemons", s_base);
  int n = snprintf(text, sizeof text, "%s\n", what);
  if (rl_dir_private(path, err, sizeof err) == 0) {
    snprintf(path, sizeof path, "%s/daemons/%d", s_base, (int)pid);
    if (rl_file_replace(path, text, (size_t)n, err, sizeof err) == 0) return;
  }
  fprintf(stderr, "rayl start: warning: cannot record daemon %d (`rayl stop` will not find it): %s\n", (int)pid, err);
}

/* The head's database: one per machine, so a head started again finds it. */
static void s_db_path(char *path, size_t n) { snprintf(path, n, "%s/gcs.sqlite3", s_base); }

/* Reads up to n-1 bytes of /proc/PID/<what> into buf (NUL-terminated). Returns the
 * count, or -1. */
static ssize_t s_proc_read(pid_t pid, const char *what, char *buf, size_t n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = read(fd, buf, n - 1);
  close(fd);
  if (got >= 0) buf[got] = 0;
  return got;
}

/* True if the program pid runs is this one: the same file, or (rebuilt since it
 * started) the same path. */
static bool s_runs_rayl(pid_t pid) {
  char exe[64], mine[PATH_MAX], theirs[PATH_MAX];
  struct stat a, b;
  snprintf(exe, sizeof exe, "/proc/%d/exe", (int)pid);
  if (stat(exe, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    return true;
  ssize_t n = readlink(exe, theirs, sizeof theirs - 1), m = readlink("/proc/self/exe", mine, sizeof mine - 1);
  if (n <= 0 || m <= 0) return false;
  theirs[n] = mine[m] = 0;
  const char *gone = " (deleted)";
  size_t len = strlen(theirs), glen = strlen(gone);
  if (len > glen && !strcmp(theirs + len - glen, gone)) theirs[len - glen] = 0;
  return !strcmp(theirs, mine);
}

/* True if pid is a rayl daemon of kind ("head" or "node") of a session in this base
 * folder, run by this user: its program is this one, its real and effective uid are
 * ours and its command line is `rayl KIND ... --session BASE/session_...`. A pid the
 * kernel gave to another process since, or one planted in daemons/, is not. */
static bool s_ours(pid_t pid, const char *kind) {
  char status[4096], cmd[8192], prefix[PATH_MAX + 16];
  if (pid <= 0 || s_proc_read(pid, "status", status, sizeof status) <= 0) return false;
  const char *uid = strstr(status, "\nUid:");
  unsigned real, effective;
  if (!uid || sscanf(uid + 5, "%u %u", &real, &effective) != 2 || real != geteuid() || effective != geteuid())
    return false;
  if (!s_runs_rayl(pid)) return false;
  ssize_t n = s_proc_read(pid, "cmdline", cmd, sizeof cmd);
  if (n <= 0) return false;
  snprintf(prefix, sizeof prefix, "%s/session_", s_base);
  const char *end = cmd + n, *arg = cmd + strlen(cmd) + 1; /* argv[1] */
  if (arg >= end || strcmp(arg, kind)) return false;
  for (; arg < end; arg += strlen(arg) + 1)
    if (!strcmp(arg, "--session") && arg + strlen(arg) + 1 < end)
      return !strncmp(arg + strlen(arg) + 1, prefix, strlen(prefix));
  return false;
}

/* The kind ("head", "node") a daemons/ record names, into what; false if unreadable. */
static bool s_record_kind(const char *path, char *what, size_t n) {
  FILE *f = rl_file_open_read(path);
  if (!f) return false;
  if (!fgets(what, (int)n, f)) what[0] = 0;
  fclose(f);
  what[strcspn(what, "\n")] = 0;
  return what[0] != 0;
}

/* True if process pid runs: exists and is not a zombie (a killed daemon whose new
 * parent does not reap it still answers kill(pid, 0)). */
static bool s_alive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) return false;
  char path[64], stat[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return true; /* no /proc: trust kill */
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *paren = strrchr(stat, ')');
  return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* How many recorded daemons of this kind ("head" or "node") are running; records of
 * daemons that are gone are removed. */
static int s_running(const char *kind) {
  char dir[PATH_MAX + 16], err[S_ERR];
  snprintf(dir, sizeof dir, "%s/daemons", s_base);
  DIR *d = rl_dir_private(dir, err, sizeof err) == 0 ? opendir(dir) : NULL;
  int n = 0;
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char path[PATH_MAX + 300], what[16] = "";
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (!s_record_kind(path, what, sizeof what)) continue;
    pid_t pid = (pid_t)atoi(e->d_name);
    if (!s_alive(pid) || !s_ours(pid, what)) unlink(path);
    else if (!strcmp(what, kind)) n++;
  }
  closedir(d);
  return n;
}

/* The daemons one `rayl start` started (its children until it returns): their pids and
 * logs, so a failed start can say why and take them back. */
typedef struct {
  pid_t pid[2];         /* 0 once reaped */
  pid_t pid_started[2]; /* as started (the records' names) */
  const char *what[2];  /* "head", "node" */
  char log[2][400];
  int n;
  char new_db[PATH_MAX + 16]; /* the head's database if this start made it, else "" */
} s_started_t;

/* Index of a started daemon that has exited (reaped here), or -1. */
static int s_exited(s_started_t *st) {
  for (int i = 0; i < st->n; i++)
    if (st->pid[i] > 0 && waitpid(st->pid[i], NULL, WNOHANG) == st->pid[i]) {
      st->pid[i] = 0;
      return i;
    }
  return -1;
}

/* Waits until the head lists at least `want` live nodes other than the nknown in
 * known (the live ones before a node was started: another node dying meanwhile does
 * not hide the new one). Returns how many, -1 after timeout_ms, or -2 - i as soon as
 * started daemon i has exited. */
static int s_wait_nodes(const char *gcs, int want, const rl_id_t *known, int nknown, int timeout_ms,
                        s_started_t *st) {
  int64_t deadline = rl_now_ms() + timeout_ms;
  char err[S_ERR];
  static rl_node_info_t nodes[S_NODES_LISTED];
  while (rl_now_ms() < deadline) {
    int gone = s_exited(st);
    if (gone >= 0) return -2 - gone;
    int n = rl_gcs_nodes(gcs, nodes, S_NODES_LISTED, 250, err, sizeof err), fresh = 0;
    for (int i = 0; i < n; i++) {
      bool was = false;
      for (int k = 0; k < nknown && !was; k++) was = rl_id_eq(&known[k], &nodes[i].id);
      fresh += nodes[i].alive && !was;
    }
    if (n >= 0 && fresh >= want) return fresh;
    usleep(20000);
  }
  return -1;
}

/* Why a daemon that exited at start did: the last line it wrote to its log that names
 * it ("rayl head: ..."), without that prefix, else its last line; "" if none. */
static void s_exit_cause(const char *log, const char *what, char *out, size_t n) {
  char line[1024], prefix[32];
  snprintf(prefix, sizeof prefix, "rayl %s: ", what);
  out[0] = 0;
  FILE *f = fopen(log, "r");
  if (!f) return;
  bool named = false;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    bool is_named = !strncmp(line, prefix, strlen(prefix));
    if (!line[0] || (named && !is_named)) continue;
    named = is_named;
    snprintf(out, n, "%s", is_named ? line + strlen(prefix) : line);
  }
  fclose(f);
}

/* Removes the base folder's session_latest link if it names session (removed). */
static void s_forget_latest(const char *session) {
  char link[PATH_MAX + 32], target[PATH_MAX];
  snprintf(link, sizeof link, "%s/session_latest", s_base);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return;
  target[n] = 0;
  const char *name = strrchr(session, '/');
  if (!strcmp(target, name ? name + 1 : session)) unlink(link);
}

/* Takes back a failed start: stops the daemons it started that still run, removes
 * their records and its session folder (its key and logs: the cause is printed). */
static void s_abandon(s_started_t *st, const char *session) {
  for (int i = 0; i < st->n; i++)
    if (st->pid[i] > 0) kill(st->pid[i], SIGTERM);
  int64_t deadline = rl_now_ms() + 3000;
  for (int i = 0; i < st->n; i++) {
    while (st->pid[i] > 0 && waitpid(st->pid[i], NULL, WNOHANG) == 0 && rl_now_ms() < deadline) usleep(10000);
    if (st->pid[i] > 0 && kill(st->pid[i], SIGKILL) == 0) waitpid(st->pid[i], NULL, 0);
  }
  for (int i = 0; i < st->n; i++) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/daemons/%d", s_base, (int)st->pid_started[i]);
    unlink(path);
  }
  rl_package_remove_tree(session);
  s_forget_latest(session);
  if (st->new_db[0]) {
    char side[PATH_MAX + 32];
    unlink(st->new_db);
    snprintf(side, sizeof side, "%s-wal", st->new_db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", st->new_db);
    unlink(side);
  }
}

/* Starts daemon argv (its output to log), records it, and adds it to st. */
static void s_start_daemon(s_started_t *st, const char *what, char *const argv[], const char *log) {
  int i = st->n++;
  snprintf(st->log[i], sizeof st->log[i], "%s", log);
  st->what[i] = what;
  st->pid[i] = st->pid_started[i] = s_daemon(argv, log);
  s_record(st->pid[i], what);
}

/* Reports a start that failed (wait: what s_wait_nodes returned) and takes it back.
 * Returns the exit code, 1. */
static int s_start_failed(s_started_t *st, int wait, const char *session, const char *waited_for) {
  if (wait <= -2) {
    int i = -2 - wait;
    char cause[1024];
    s_exit_cause(st->log[i], st->what[i], cause, sizeof cause);
    fprintf(stderr, "rayl start: the %s exited at start: %s\n", !strcmp(st->what[i], "head") ? "head" : "node manager",
            cause[0] ? cause : "(it gave no reason)");
  } else {
    fprintf(stderr, "rayl start: %s within 10 s; its logs were:\n", waited_for);
    for (int i = 0; i < st->n; i++) {
      char cause[1024];
      s_exit_cause(st->log[i], st->what[i], cause, sizeof cause);
      fprintf(stderr, "  %s: %s\n", st->what[i], cause[0] ? cause : "(nothing)");
    }
  }
  s_abandon(st, session);
  return 1;
}

/* Records the cluster this machine belongs to (read by rl_cluster_record). */
static void s_write_record(const char *address, const char *key) {
  char path[PATH_MAX + 32], text[PATH_MAX + 300], err[S_ERR];
  snprintf(path, sizeof path, "%s/rayl_current_cluster", s_base);
  int n = snprintf(text, sizeof text, "%s\n%s\n", address, key);
  if (rl_file_replace(path, text, (size_t)n, err, sizeof err) != 0)
    fprintf(stderr, "rayl start: warning: cannot record the cluster (`rayl status` will not find it): %s\n", err);
}

/* Takes up the key a new head uses: the one named, the running cluster's (a head
 * restarted while its nodes run), or a new one. Returns 0, or -1 (reported). */
static int s_head_key(const char *key_file, bool restart, char *err, size_t errlen) {
  char address[200], recorded[PATH_MAX];
  if (key_file) return rl_net_key_load(key_file, err, errlen);
  if (restart && rl_cluster_record(address, sizeof address, recorded, sizeof recorded) == 0) {
    if (!recorded[0]) {
      snprintf(err, errlen, "the running nodes were started with --no-security: add --no-security");
      return -1;
    }
    return rl_net_key_load(recorded, err, errlen);
  }
  return rl_net_key_generate(err, errlen);
}

int rl_cli_start(int argc, char **argv) {
  bool head = false, no_security = false;
  const char *port = "6380", *address = NULL, *ip = "127.0.0.1", *cpus = NULL, *gpus = NULL, *store = NULL,
             *resources = NULL, *heartbeat = "5000", *key_file = NULL, *dash_host = "127.0.0.1", *dash_port = NULL;
  const rl_cli_option_t opts[] = {
      {"--head", NULL, &head},
      {"--no-security", NULL, &no_security},
      {"--port", &port, NULL},
      {"--address", &address, NULL},
      {"--node-ip-address", &ip, NULL},
      {"--num-cpus", &cpus, NULL},
      {"--num-gpus", &gpus, NULL},
      {"--object-store-memory", &store, NULL},
      {"--resources", &resources, NULL},
      {"--heartbeat-timeout-ms", &heartbeat, NULL},
      {"--cluster-key", &key_file, NULL},
      {"--dashboard-host", &dash_host, NULL},
      {"--dashboard-port", &dash_port, NULL},
  };
  int rc = rl_cli_options("start", s_start_usage, argc, argv, opts, sizeof opts / sizeof opts[0]);
  if (rc >= 0) return rc;
  if (head == (address != NULL)) {
    fprintf(stderr, "rayl start: give either --head or --address HOST:PORT\n%s", s_start_usage);
    return 2;
  }
  if (no_security && (!head || key_file)) {
    fprintf(stderr, "rayl start: --no-security goes with --head and no --cluster-key (a joining node follows its "
                    "cluster)\n");
    return 2;
  }
  if (dash_port) {
    char *end;
    long p = strtol(dash_port, &end, 10);
    if (!*dash_port || *end || p < 1 || p > 65535) {
      fprintf(stderr, "rayl start: --dashboard-port must be a port number in 1..65535, not '%s'\n", dash_port);
      return 2;
    }
  }
  char specs[16][80];
  int nres = resources ? s_parse_resources(resources, specs, 16) : 0;
  if (nres < 0) {
    fprintf(stderr, "rayl start: --resources must be a JSON object of numbers, e.g. '{\"sim\": 4}'\n");
    return 2;
  }
  if (s_check_resources(specs, nres) != 0) return 2;
  char gcs[200], err[S_ERR], addr[160];
  int ngpus;
  if (gpus && rl_gpus_parse_count(gpus, &ngpus, err, sizeof err) != 0) {
    fprintf(stderr, "rayl start: %s\n", err);
    return 2;
  }
  if (head) snprintf(addr, sizeof addr, "%s:%s", ip, port);
  else snprintf(addr, sizeof addr, "%s", address);
  if (rl_cluster_resolve(addr, gcs, sizeof gcs, err, sizeof err) != 0) {
    fprintf(stderr, "rayl start: %s\n", err);
    return 2;
  }
  /* A session folder for this machine's part of the cluster, held by its daemons. */
  char session[300], logs[340], log[400], key[340];
  if (s_use_base("start") != 0) return 1;
  s_session_lock = rl_session_new(s_base, session, sizeof session, err, sizeof err);
  if (s_session_lock < 0) {
    fprintf(stderr, "rayl start: %s\n", err);
    return 1;
  }
  snprintf(logs, sizeof logs, "%s/logs", session);
  snprintf(key, sizeof key, "%s/cluster.key", session);
  /* The daemons' security: "--cluster-key FILE" (this session's copy of the key) or
   * "--no-security" (a head started so, and nodes joining such a cluster). */
  char *security[2] = {"--no-security", NULL};
  static rl_id_t live_before[S_NODES_LISTED]; /* joining: the live nodes before ours */
  int nlive_before = 0;
  s_started_t started = {.n = 0};
  if (head) {
    char bind[200], db[PATH_MAX + 16];
    snprintf(bind, sizeof bind, "tcp://%s:%s", ip, port);
    s_db_path(db, sizeof db);
    /* The head died but its node managers run on: start only a head, which loads the
     * tables it kept; the node managers register with it again. */
    int nodes = access(db, F_OK) == 0 && s_running("head") == 0 ? s_running("node") : 0;
    if (access(db, F_OK) != 0) snprintf(started.new_db, sizeof started.new_db, "%s", db);
    if (!no_security) {
      if (s_head_key(key_file, nodes > 0, err, sizeof err) != 0 || rl_net_key_save(key, err, sizeof err) != 0) {
        fprintf(stderr, "rayl start: %s\n", err);
        return 1;
      }
      security[0] = "--cluster-key", security[1] = key;
    }
    char *hargv[] = {"rayl", "head", "--endpoint", bind, "--session", session, "--db", db,
                     "--heartbeat-timeout-ms", (char *)heartbeat, "--dashboard-host", (char *)dash_host,
                     security[0], security[1], NULL, NULL, NULL};
    if (dash_port) {
      int k = security[1] ? 14 : 13;
      hargv[k] = "--dashboard-port", hargv[k + 1] = (char *)dash_port;
    }
    snprintf(log, sizeof log, "%s/head.out", logs);
    s_start_daemon(&started, "head", hargv, log);
    if (nodes > 0) {
      int back = s_wait_nodes(gcs, nodes, NULL, 0, 10000, &started);
      if (back <= -2) return s_start_failed(&started, back, session, "");
      if (back < 0) {
        fprintf(stderr, "rayl start: the head restarted but its %d node%s did not come back within 10 s; see %s\n",
                nodes, nodes == 1 ? "" : "s", logs);
        return 1;
      }
      printf("Restarted the rayl head at %s from %s: %d node%s back (logs: %s).\n", addr, db, back,
             back == 1 ? " is" : "s are", logs);
      return 0;
    }
  } else {
    static rl_node_info_t nodes[S_NODES_LISTED];
    int held = rl_cluster_use_key(gcs, key_file, err, sizeof err);
    if (held < 0) {
      fprintf(stderr, "rayl start: %s\n", err);
      return 2;
    }
    int listed = rl_gcs_nodes(gcs, nodes, S_NODES_LISTED, 3000, err, sizeof err);
    if (listed < 0) {
      fprintf(stderr, "rayl start: cannot join the cluster at %s: %s\n", address, err);
      return 1;
    }
    /* The head answered: with our key, or plainly (a cluster without security). */
    if (held) {
      if (rl_net_key_save(key, err, sizeof err) != 0) {
        fprintf(stderr, "rayl start: %s\n", err);
        return 1;
      }
      security[0] = "--cluster-key", security[1] = key;
    }
    for (int i = 0; i < listed; i++)
      if (nodes[i].alive) live_before[nlive_before++] = nodes[i].id;
  }
  char node_ep[200];
  snprintf(node_ep, sizeof node_ep, "tcp://%s:*", ip);
  char *nargv[56] = {"rayl", "node", "--endpoint", node_ep, "--gcs", gcs, "--session", session, security[0]};
  int n = 9;
  if (security[1]) nargv[n++] = security[1];
  if (gpus) nargv[n++] = "--num-gpus", nargv[n++] = (char *)gpus;
  if (cpus) nargv[n++] = "--num-cpus", nargv[n++] = (char *)cpus;
  if (store) nargv[n++] = "--object-store-memory", nargv[n++] = (char *)store;
  for (int i = 0; i < nres; i++) nargv[n++] = "--resource", nargv[n++] = specs[i];
  /* As in Ray, the head's node holds node:__internal_head__ (how status marks it, and
   * how a task can ask for the head's node). */
  if (head) nargv[n++] = "--resource", nargv[n++] = S_HEAD_RESOURCE "=1";
  nargv[n] = NULL;
  snprintf(log, sizeof log, "%s/node.out", logs);
  s_start_daemon(&started, "node", nargv, log);
  int joined = s_wait_nodes(gcs, 1, live_before, nlive_before, 10000, &started);
  if (joined < 0)
    return s_start_failed(&started, joined, session,
                          head ? "the head did not answer or its node manager did not join" : "the node did not join");
  if (head) {
    s_write_record(addr, security[1] ? key : "");
    printf("Started a rayl head at %s (logs: %s).\n", addr, logs);
    if (security[1])
      printf("Its cluster key is %s: only holders of the key can join, submit work or read objects.\n\n", key);
    else
      printf("Security is off (--no-security): anyone who reaches its ports can run code on this cluster.\n\n");
    printf("To add a node:      rayl start --address %s\n", addr);
    if (security[1]) printf("  on another machine, with a copy of the key (mode 0600): add --cluster-key FILE\n");
    printf("To run a script:    RAYL_ADDRESS=%s rayl script.lua   (or rayl.init{address = \"auto\"})\n", addr);
    if (security[1]) printf("  on another machine: found once its node joined, or set RAYL_CLUSTER_KEY_FILE=FILE\n");
    printf("To see the cluster: rayl status\n");
    char url[200], token[80];
    if (rl_cli_dashboard_record(gcs, url, sizeof url, token, sizeof token, err, sizeof err) == 0)
      printf("The dashboard:      %s   (`rayl dashboard` prints it with its token)\n", url);
    else
      printf("No dashboard:       %s\n", err);
    printf("To stop it:         rayl stop\n");
  } else {
    /* Drivers and `rayl status` on this machine find the cluster (and its key) the way
     * they do on the head's, unless a cluster of this machine's own is recorded. */
    char recorded[200], recorded_key[PATH_MAX];
    if (rl_cluster_record(recorded, sizeof recorded, recorded_key, sizeof recorded_key) != 0)
      s_write_record(address, security[1] ? key : "");
    printf("Joined the cluster at %s (logs: %s).\n", address, logs);
  }
  return 0;
}

int rl_cli_stop(int argc, char **argv) {
  int rc = rl_cli_options("stop", s_stop_usage, argc, argv, NULL, 0);
  if (rc >= 0) return rc;
  char dir[PATH_MAX + 16], err[S_ERR];
  if (s_use_base("stop") != 0) return 1;
  snprintf(dir, sizeof dir, "%s/daemons", s_base);
  DIR *d = NULL;
  if (access(dir, F_OK) == 0 && (rl_dir_private(dir, err, sizeof err) != 0 || !(d = opendir(dir)))) {
    fprintf(stderr, "rayl stop: %s\n", d ? err : strerror(errno));
    return 1;
  }
  pid_t pids[256];
  int n = 0;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
      if (e->d_name[0] == '.') continue;
      pid_t pid = (pid_t)atoi(e->d_name);
      char path[PATH_MAX + 300], what[16] = "";
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      bool known = s_record_kind(path, what, sizeof what);
      unlink(path);
      if (!s_alive(pid)) continue;
      /* Only this base folder's daemons: a pid reused since, or planted, is left alone. */
      if (!known || !s_ours(pid, what)) {
        fprintf(stderr, "rayl stop: process %d named in %s is not a rayl daemon of this user's clusters in %s; "
                        "left running, record removed\n", (int)pid, dir, s_base);
        continue;
      }
      if (kill(pid, SIGTERM) == 0) pids[n++] = pid;
    }
    closedir(d);
  }
  int64_t deadline = rl_now_ms() + 5000;
  for (int i = 0; i < n; i++) {
    while (kill(pids[i], 0) == 0 && rl_now_ms() < deadline) {
      waitpid(pids[i], NULL, WNOHANG);
      usleep(10000);
    }
    if (kill(pids[i], 0) == 0) kill(pids[i], SIGKILL);
  }
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/rayl_current_cluster", s_base);
  unlink(path);
  /* A stopped cluster's tables must not come back in the next one (its named actors
   * would be taken). */
  char db[PATH_MAX + 16], side[PATH_MAX + 32];
  s_db_path(db, sizeof db);
  unlink(db);
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  printf("Stopped %d rayl process%s.\n", n, n == 1 ? "" : "es");
  return 0;
}

/* Writes m as "CPU: 2, memory: 16.48GiB": byte-valued resources in human units. */
static void s_res_human(const rl_resources_t *m, char *buf, size_t n) {
  if (m->n == 0) {
    snprintf(buf, n, "(none)");
    return;
  }
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < m->n && used < n; i++) {
    char one[160], v[32];
    const char *name = m->r[i].name;
    if (!strcmp(name, "memory") || !strcmp(name, "object_store_memory")) {
      snprintf(one, sizeof one, "%s: %s", name, rl_units_bytes((double)m->r[i].amount / RL_RES_UNIT, v, sizeof v));
    } else {
      rl_resources_t single = {.n = 1};
      single.r[0] = m->r[i];
      rl_res_format(&single, one, sizeof one);
    }
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", one);
  }
}

/* Writes resources m as `rayl status` shows them, without the head's marker: a JSON
 * object {"CPU": 2, "sim": 0.5} (json), else "CPU: 2, sim: 0.5". Names are
 * [A-Za-z0-9_:.-] (rl_res_set), so they need no JSON escapes. */
static void s_res_shown(const rl_resources_t *m, bool json, char *buf, size_t n) {
  rl_resources_t shown;
  rl_res_clear(&shown);
  for (int i = 0; i < m->n; i++)
    if (strcmp(m->r[i].name, S_HEAD_RESOURCE)) shown.r[shown.n++] = m->r[i];
  if (!json) {
    s_res_human(&shown, buf, n);
    return;
  }
  size_t used = (size_t)snprintf(buf, n, "{");
  for (int i = 0; i < shown.n && used < n; i++) {
    int64_t whole = shown.r[i].amount / RL_RES_UNIT, frac = shown.r[i].amount % RL_RES_UNIT;
    char fs[8] = "";
    if (frac) {
      snprintf(fs, sizeof fs, ".%04" PRId64, frac);
      for (size_t e = strlen(fs) - 1; fs[e] == '0'; e--) fs[e] = 0;
    }
    used += (size_t)snprintf(buf + used, n - used, "%s\"%s\": %" PRId64 "%s", i ? ", " : "", shown.r[i].name, whole, fs);
  }
  if (used < n) snprintf(buf + used, n - used, "}");
}

/* Writes a node's GPU line for `rayl status`: how it found them (its own words, e.g.
 * "none (no CUDA driver: libcuda.so.1 not found)") and, if it has any, what is free. */
static void s_gpus_shown(const rl_node_info_t *node, char *buf, size_t n) {
  double total = rl_res_get(&node->total, "GPU"), avail = rl_res_get(&node->available, "GPU");
  const char *how = node->gpus[0] ? node->gpus : total > 0 ? "" : "none";
  if (total > 0)
    snprintf(buf, n, "%s%s%g of %g available", how, *how ? ", " : "", avail, total);
  else
    snprintf(buf, n, "%s", how);
}

/* Prints s as a JSON string (quotes, backslashes and control characters escaped). */
static void s_print_json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

/* The line of an infeasible demand: what it needs and which resource no node has. */
static void s_print_infeasible(const rl_demand_t *d, const char *shape, const rl_node_info_t *nodes, int n) {
  char missing[400];
  const rl_resources_t *totals[256];
  int nt = 0;
  for (int k = 0; k < n && nt < 256; k++)
    if (nodes[k].alive) totals[nt++] = &nodes[k].total;
  rl_demand_missing(d, totals, nt, missing, sizeof missing);
  unsigned long long count = (unsigned long long)d->count;
  if (*missing)
    printf("  {%s}: %llu+ infeasible tasks/actors: need {%s}, no node has %s (they wait for one to join)\n",
           shape, count, shape, missing);
  else
    printf("  {%s}: %llu+ infeasible tasks/actors: need {%s}, no single node has all of it (they wait for one "
           "to join)\n", shape, count, shape);
}

int rl_cli_status(int argc, char **argv) {
  const char *address = getenv("RAYL_ADDRESS"), *key_file = NULL;
  if (!address || !*address) address = "auto";
  bool json = false;
  const char *format = "table";
  const rl_cli_option_t opts[] = {{"--address", &address, NULL}, {"--cluster-key", &key_file, NULL}, {"--format", &format, NULL}};
  int rc = rl_cli_options("status", s_status_usage, argc, argv, opts, sizeof opts / sizeof opts[0]);
  if (rc >= 0) return rc;
  if (strcmp(format, "json") && strcmp(format, "table")) {
    fprintf(stderr, "rayl status: --format must be table or json, not '%s'\n%s", format, s_status_usage);
    return 2;
  }
  json = !strcmp(format, "json");
  char gcs[200], err[S_ERR];
  if (rl_cluster_resolve(address, gcs, sizeof gcs, err, sizeof err) != 0 ||
      rl_cluster_use_key(gcs, key_file, err, sizeof err) < 0) {
    fprintf(stderr, "rayl status: %s\n", err);
    return 1;
  }
  static rl_node_info_t nodes[256];
  static rl_demand_t demands[64];
  int nd = 0;
  rl_pg_counts_t pgs;
  int n = rl_gcs_cluster(gcs, nodes, 256, demands, 64, &nd, &pgs, 3000, err, sizeof err);
  if (n < 0) {
    fprintf(stderr, "rayl status: %s\n", err);
    return 1;
  }
  if (json) printf("{\"nodes\": [");
  else printf("Cluster at %s: %d node%s\n", gcs + 6, n, n == 1 ? "" : "s");
  for (int i = 0; i < n; i++) {
    char hex[RL_ID_HEX], total[1200], avail[1200], gpus[400];
    rl_id_hex(&nodes[i].id, hex);
    s_gpus_shown(&nodes[i], gpus, sizeof gpus);
    bool is_head = rl_res_get(&nodes[i].total, S_HEAD_RESOURCE) > 0;
    s_res_shown(&nodes[i].total, json, total, sizeof total);
    s_res_shown(&nodes[i].available, json, avail, sizeof avail);
    if (json) {
      printf("%s{\"node_id\": \"%s\", \"address\": \"%s\", \"alive\": %s, \"is_head\": %s, \"total\": %s, "
             "\"available\": %s, \"gpus\": ",
             i ? ", " : "", hex, nodes[i].endpoint, nodes[i].alive ? "true" : "false", is_head ? "true" : "false",
             total, avail);
      s_print_json_str(gpus);
      printf("}");
    } else {
      printf("  %.12s  %-28s %-5s%-7s total {%s}  available {%s}\n", hex, nodes[i].endpoint,
             nodes[i].alive ? "alive" : "DEAD", is_head ? " (head)" : "", total, avail);
      printf("                GPUs: %s\n", gpus);
    }
  }
  /* What waits for resources: pending (the cluster is busy) or infeasible (no node
   * has that much: it waits until such a node joins). */
  if (json) printf("], \"demands\": [");
  else printf("Demands:\n%s", nd ? "" : "  (no resource demands)\n");
  for (int i = 0; i < nd; i++) {
    char shape[1200];
    s_res_shown(&demands[i].shape, json, shape, sizeof shape);
    unsigned long long count = (unsigned long long)demands[i].count;
    if (json)
      printf("%s{\"shape\": %s, \"count\": %llu, \"infeasible\": %s, \"waiting_for\": \"%s\"}", i ? ", " : "",
             shape, count, demands[i].infeasible ? "true" : "false", rl_demand_waiting_for(&demands[i]));
    else if (demands[i].infeasible)
      s_print_infeasible(&demands[i], shape, nodes, n);
    else
      printf("  {%s}: %llu+ pending tasks/actors (waiting for %s)\n", shape, count, rl_demand_waiting_for(&demands[i]));
  }
  if (json)
    printf("], \"placement_groups\": {\"created\": %d, \"pending\": %d, \"rescheduling\": %d}}\n", pgs.created,
           pgs.pending, pgs.rescheduling);
  else if (pgs.created + pgs.pending + pgs.rescheduling)
    printf("Placement groups: %d created, %d pending, %d rescheduling\n", pgs.created, pgs.pending,
           pgs.rescheduling);
  return 0;
}
