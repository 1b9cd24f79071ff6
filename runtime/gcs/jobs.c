/* jobs.c: the head's job table: submission (working dir unpacked, supervisor started in
 * its own process group), status, stop, logs read back in chunks, and the watch that
 * records how each driver ended. */
#include "gcs/jobs.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "renv/package.h"
#include "wire/proto.h"
#include "wire/wire.h"

#define S_ID_MAX 64
#define S_MAX_JOBS 10000
#define S_LOG_CHUNK_MAX ((size_t)1 << 20)
#define S_ENTRY_MAX 256       /* entrypoint words */
#define S_ENV_MAX 256         /* env vars of a job */
#define S_TEXT_MAX (64 << 10) /* runtime_env, one word, one value */

enum { S_PENDING, S_RUNNING, S_SUCCEEDED, S_FAILED, S_STOPPED };
static const char *const s_status_names[] = {"PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"};

typedef struct {
  char id[S_ID_MAX + 1];
  int status;
  char *entrypoint; /* the words joined by spaces, for people */
  char *runtime_env;
  char message[400];
  int64_t start_ms, end_ms; /* wall clock */
  int64_t pid;              /* the supervisor (and process group); 0: none */
  uint64_t pid_start;       /* its start time, to tell it from a later process */
  char log_path[PATH_MAX];
  char exit_path[PATH_MAX];
  bool stopping;
  int64_t kill_at_ms; /* monotonic; 0: no SIGKILL due */
} s_job_t;

struct rl_jobs_t {
  char *session_dir, *rayl_bin, *address;
  rl_gcs_db_t *db;
  rl_kv_t *kv;
  s_job_t **v;
  size_t n, cap;
};

static int64_t s_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool s_terminal(const s_job_t *job) { return job->status >= S_SUCCEEDED; }

/* The start time of process pid (clock ticks since boot), or 0 if it does not run (or
 * is a zombie). */
static uint64_t s_proc_start(int64_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') return 0;
  /* Field 22 (starttime); the state is field 3, right after ") ". */
  p += 2;
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

static void s_job_free(s_job_t *job) {
  if (!job) return;
  free(job->entrypoint);
  free(job->runtime_env);
  free(job);
}

/* Writes the job to the database (if any). */
static void s_save(rl_jobs_t *j, const s_job_t *job) {
  if (!j->db) return;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 12);
  rl_pack_str(&pk, job->id);
  msgpack_pack_int(&pk, job->status);
  rl_pack_str(&pk, job->entrypoint);
  rl_pack_str(&pk, job->runtime_env);
  rl_pack_str(&pk, job->message);
  msgpack_pack_int64(&pk, job->start_ms);
  msgpack_pack_int64(&pk, job->end_ms);
  msgpack_pack_int64(&pk, job->pid);
  msgpack_pack_uint64(&pk, job->pid_start);
  rl_pack_str(&pk, job->log_path);
  rl_pack_str(&pk, job->exit_path);
  if (job->stopping) msgpack_pack_true(&pk);
  else msgpack_pack_false(&pk);
  char err[300];
  if (rl_gcs_db_job(j->db, job->id, sb.data, sb.size, err, sizeof err) != 0)
    rl_log(RL_LOG_ERROR, "job %s: %s", job->id, err);
  msgpack_sbuffer_destroy(&sb);
}

/* Sets the final status and the time it ended, and saves the job. */
static void s_end(rl_jobs_t *j, s_job_t *job, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void s_end(rl_jobs_t *j, s_job_t *job, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(job->message, sizeof job->message, fmt, ap);
  va_end(ap);
  job->status = status;
  job->end_ms = s_wall_ms();
  job->kill_at_ms = 0;
  rl_log(RL_LOG_INFO, "job %s %s: %s", job->id, s_status_names[status], job->message);
  s_save(j, job);
}

/* The supervisor is gone: the exit file says how the driver ended. */
static void s_finished(rl_jobs_t *j, s_job_t *job) {
  char line[64] = "";
  FILE *f = fopen(job->exit_path, "r");
  if (f) {
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
  }
  int code = -1, sig = -1;
  bool known = sscanf(line, "exit %d", &code) == 1 || sscanf(line, "signal %d", &sig) == 1;
  if (job->stopping) s_end(j, job, S_STOPPED, "stopped by `rayl job stop`");
  else if (!known) s_end(j, job, S_FAILED, "the job's supervisor (pid %lld) died before its driver ended", (long long)job->pid);
  else if (code == 0) s_end(j, job, S_SUCCEEDED, "the driver exited with code 0");
  else if (code > 0) s_end(j, job, S_FAILED, "the driver exited with code %d", code);
  else s_end(j, job, S_FAILED, "the driver was killed by signal %d (%s)", sig, strsignal(sig));
}

/* True once the job's supervisor has ended (reaping it if it is our child). */
static bool s_gone(s_job_t *job) {
  int st;
  pid_t r = waitpid((pid_t)job->pid, &st, WNOHANG);
  if (r == (pid_t)job->pid) return true;
  if (r == 0) return false;
  /* Not our child (started by the head before a restart): watch it by its start time. */
  uint64_t start = s_proc_start(job->pid);
  return start == 0 || (job->pid_start && start != job->pid_start);
}

/* ---- loading saved jobs ---- */

static bool s_copy_str(const msgpack_object *o, char *out, size_t n) {
  const char *p;
  size_t len;
  if (!rl_obj_bytes(o, &p, &len) || len >= n || (len && memchr(p, 0, len))) return false;
  if (len) memcpy(out, p, len);
  out[len] = 0;
  return true;
}

static char *s_dup_str(const msgpack_object *o) {
  const char *p;
  size_t len;
  if (!rl_obj_bytes(o, &p, &len) || len > S_TEXT_MAX * 16) return NULL;
  char *s = rl_xmalloc(len + 1); /* at most S_TEXT_MAX * 16 */
  if (len) memcpy(s, p, len);
  s[len] = 0;
  return s;
}

static bool s_obj_i64(const msgpack_object *o, int64_t *out) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) *out = (int64_t)o->via.u64;
  else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *out = o->via.i64;
  else return false;
  return true;
}

static void s_add(rl_jobs_t *j, s_job_t *job) {
  if (j->n == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 16;
    j->v = rl_xrealloc(j->v, cap * sizeof *j->v);
    j->cap = cap;
  }
  j->v[j->n++] = job;
}

static void s_load_one(void *arg, const void *record, size_t len) {
  rl_jobs_t *j = arg;
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  s_job_t *job = rl_xcalloc(1, sizeof *job);
  int64_t status = -1, stopping = 0;
  const msgpack_object *f = NULL;
  bool ok = job && msgpack_unpack_next(&u, record, len, &off) == MSGPACK_UNPACK_SUCCESS &&
            u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 12;
  if (ok) {
    f = u.data.via.array.ptr;
    int64_t pid_start = 0;
    ok = s_copy_str(&f[0], job->id, sizeof job->id) && s_obj_i64(&f[1], &status) && status >= S_PENDING &&
         status <= S_STOPPED && (job->entrypoint = s_dup_str(&f[2])) && (job->runtime_env = s_dup_str(&f[3])) &&
         s_copy_str(&f[4], job->message, sizeof job->message) && s_obj_i64(&f[5], &job->start_ms) &&
         s_obj_i64(&f[6], &job->end_ms) && s_obj_i64(&f[7], &job->pid) && s_obj_i64(&f[8], &pid_start) &&
         s_copy_str(&f[9], job->log_path, sizeof job->log_path) &&
         s_copy_str(&f[10], job->exit_path, sizeof job->exit_path) && f[11].type == MSGPACK_OBJECT_BOOLEAN;
    job->pid_start = (uint64_t)pid_start;
    if (ok) stopping = f[11].via.boolean;
  }
  msgpack_unpacked_destroy(&u);
  if (!ok) {
    rl_log(RL_LOG_WARN, "skipped a job of the head's database: its record is malformed");
    s_job_free(job);
    return;
  }
  s_add(j, job);
  job->status = (int)status;
  job->stopping = stopping != 0;
  if (s_terminal(job)) return;
  if (job->pid > 0 && !s_gone(job)) {
    rl_log(RL_LOG_INFO, "job %s is still running (supervisor pid %lld)", job->id, (long long)job->pid);
    if (job->stopping) job->kill_at_ms = rl_now_ms() + RL_JOB_STOP_GRACE_MS;
    return;
  }
  if (job->pid > 0 && access(job->exit_path, F_OK) == 0) s_finished(j, job);
  else if (job->stopping) s_end(j, job, S_STOPPED, "stopped by `rayl job stop`");
  else s_end(j, job, S_FAILED, "the driver was gone when the head restarted");
}

rl_jobs_t *rl_jobs_new(const rl_jobs_opts_t *o) {
  rl_jobs_t *j = rl_xcalloc(1, sizeof *j);
  j->db = o->db;
  j->kv = o->kv;
  if (o->session_dir) j->session_dir = rl_xstrdup(o->session_dir);
  if (o->rayl_bin) j->rayl_bin = rl_xstrdup(o->rayl_bin);
  if (o->address) j->address = rl_xstrdup(o->address);
  char err[300];
  if (j->db && rl_gcs_db_load_jobs(j->db, s_load_one, j, err, sizeof err) != 0)
    rl_log(RL_LOG_ERROR, "cannot load the jobs: %s", err);
  return j;
}

void rl_jobs_destroy(rl_jobs_t **p) {
  if (!p || !*p) return;
  rl_jobs_t *j = *p;
  for (size_t i = 0; i < j->n; i++) s_job_free(j->v[i]);
  free(j->v);
  free(j->session_dir);
  free(j->rayl_bin);
  free(j->address);
  free(j);
  *p = NULL;
}

static s_job_t *s_find(rl_jobs_t *j, const char *id, size_t len) {
  for (size_t i = 0; i < j->n; i++)
    if (strlen(j->v[i]->id) == len && !memcmp(j->v[i]->id, id, len)) return j->v[i];
  return NULL;
}

/* ---- replies ---- */

/* The job as JOB_REPLY and JOB_LIST carry it (borrows from job). */
static rl_wire_job_t s_wire_job(const s_job_t *job) {
  rl_wire_job_t w = {.submission_id = rl_wire_str(job->id), .status = rl_wire_str(s_status_names[job->status]),
                     .entrypoint = rl_wire_str(job->entrypoint), .message = rl_wire_str(job->message),
                     .start_ms = (uint64_t)job->start_ms, .end_ms = (uint64_t)job->end_ms,
                     .driver_pid = (uint64_t)job->pid, .runtime_env = rl_wire_str(job->runtime_env)};
  return w;
}

/* JOB_REPLY [request, job] or [request, nil, error]. */
static void s_reply(void *sock, const rl_msg_t *m, uint64_t request, const s_job_t *job, const char *error) {
  rl_gcs_job_reply_msg_t r = {.request = request, .has_job = job != NULL, .error = rl_wire_str(error),
                              .has_error = error != NULL};
  if (job) r.job = s_wire_job(job);
  if (rl_gcs_job_reply_msg_send(sock, &m->identity, &r) != 0) rl_log(RL_LOG_WARN, "could not answer a job request");
}

/* ---- submission ---- */

static bool s_valid_id(const char *p, size_t n) {
  if (n == 0 || n > S_ID_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!(p[i] >= 'a' && p[i] <= 'z') && !(p[i] >= 'A' && p[i] <= 'Z') && !(p[i] >= '0' && p[i] <= '9') &&
        !strchr("_-.", p[i]))
      return false;
  return true;
}

static bool s_valid_env_name(const char *p, size_t n) {
  if (n == 0 || n > 256 || (p[0] >= '0' && p[0] <= '9')) return false;
  for (size_t i = 0; i < n; i++)
    if (!(p[i] >= 'a' && p[i] <= 'z') && !(p[i] >= 'A' && p[i] <= 'Z') && !(p[i] >= '0' && p[i] <= '9') && p[i] != '_')
      return false;
  return true;
}

/* A string of at most S_TEXT_MAX bytes without NUL, copied (NULL if not). */
static char *s_text(rl_wire_bytes_t t) {
  if (t.n > S_TEXT_MAX || (t.n && memchr(t.p, 0, t.n))) return NULL;
  char *s = rl_xmalloc(t.n + 1); /* at most S_TEXT_MAX */
  if (t.n) memcpy(s, t.p, t.n);
  s[t.n] = 0;
  return s;
}

typedef struct {
  char *words[S_ENTRY_MAX + 1];
  int nwords;
  char *env[S_ENV_MAX + 1]; /* "NAME=value" */
  int nenv;
  char *runtime_env;
  char working_dir[128];
} s_submit_t;

static void s_submit_free(s_submit_t *s) {
  for (int i = 0; i < s->nwords; i++) free(s->words[i]);
  for (int i = 0; i < s->nenv; i++) free(s->env[i]);
  free(s->runtime_env);
}

/* Checks and copies the fields of a JOB_SUBMIT after the id. Returns 0, or -1 with why. */
static int s_parse_submit(const rl_gcs_job_submit_msg_t *q, s_submit_t *s, char *why, size_t whylen) {
  if (q->entrypoint.n == 0 || q->entrypoint.n > S_ENTRY_MAX) {
    snprintf(why, whylen, "entrypoint has %u words, not 1 to %d", q->entrypoint.n, S_ENTRY_MAX);
    return -1;
  }
  for (uint32_t i = 0; i < q->entrypoint.n; i++)
    if (!(s->words[s->nwords++] = s_text(q->entrypoint.v[i]))) {
      s->nwords--;
      snprintf(why, whylen, "word %u of the entrypoint is not a string of at most 64 KiB without NUL", i + 1);
      return -1;
    }
  if (!(s->runtime_env = s_text(q->runtime_env))) {
    snprintf(why, whylen, "runtime_env is not a string of at most 64 KiB without NUL");
    return -1;
  }
  const char *wd = q->working_dir.p;
  size_t wdlen = q->working_dir.n, plen = strlen(RL_PACKAGE_KEY_PREFIX);
  if (wdlen && (wdlen != plen + 32 || memcmp(wd, RL_PACKAGE_KEY_PREFIX, plen) ||
                strspn(wd + plen, "0123456789abcdef") < 32)) {
    snprintf(why, whylen, "working_dir '%.*s' is not \"\" or a package key (%s + 32 hex digits)",
             wdlen > 100 ? 100 : (int)wdlen, wd, RL_PACKAGE_KEY_PREFIX);
    return -1;
  }
  if (wdlen) memcpy(s->working_dir, wd, wdlen);
  s->working_dir[wdlen] = 0;
  if (q->env_vars.n > S_ENV_MAX) {
    snprintf(why, whylen, "env_vars has %u entries, more than %d", q->env_vars.n, S_ENV_MAX);
    return -1;
  }
  for (uint32_t i = 0; i < q->env_vars.n; i++) {
    rl_wire_bytes_t name = q->env_vars.v[i].name, value = q->env_vars.v[i].value;
    if (!s_valid_env_name(name.p, name.n) || value.n > S_TEXT_MAX || (value.n && memchr(value.p, 0, value.n))) {
      snprintf(why, whylen, "env var %u is not [NAME, value] with NAME made of letters, digits and _", i + 1);
      return -1;
    }
    char *kv = rl_xmalloc(name.n + value.n + 2);
    snprintf(kv, name.n + value.n + 2, "%.*s=%.*s", (int)name.n, name.p, (int)value.n, value.p);
    s->env[s->nenv++] = kv;
  }
  return 0;
}

/* Unpacks the job's working dir into the session folder; returns 0, or -1 with err. */
static int s_working_dir(rl_jobs_t *j, const char *key, char *dir, size_t n, char *err, size_t errlen) {
  snprintf(dir, n, "%s/runtime_resources/%s", j->session_dir, key);
  size_t len;
  const void *blob = rl_kv_get(j->kv, key, strlen(key), &len);
  struct stat st;
  if (stat(dir, &st) == 0) return 0;
  if (!blob) {
    snprintf(err, errlen, "the working_dir package %s is not in the head's store (upload it first)", key);
    return -1;
  }
  return rl_package_unpack(blob, len, dir, err, errlen);
}

/* Starts the job's supervisor in a new session (its pid is the process group). */
static pid_t s_spawn(rl_jobs_t *j, s_job_t *job, s_submit_t *s, const char *cwd) {
  char *argv[16 + 2 * (S_ENV_MAX + 4) + S_ENTRY_MAX];
  char addr[300], id[S_ID_MAX + 32], renv[S_TEXT_MAX + 32];
  int n = 0;
  argv[n++] = j->rayl_bin;
  argv[n++] = "job-supervisor";
  argv[n++] = "--log";
  argv[n++] = job->log_path;
  argv[n++] = "--exit-file";
  argv[n++] = job->exit_path;
  argv[n++] = "--cwd";
  argv[n++] = (char *)cwd;
  snprintf(addr, sizeof addr, "RAYL_ADDRESS=%s", j->address ? j->address : "");
  snprintf(id, sizeof id, "RAYL_JOB_SUBMISSION_ID=%s", job->id);
  snprintf(renv, sizeof renv, "RAYL_JOB_RUNTIME_ENV=%s", s->runtime_env);
  char *fixed[] = {addr, id, renv};
  /* The environment goes in a memory file, not on the command line: anyone on the
   * machine may read a command line, and env_vars may hold secrets. */
  int envfd = memfd_create("rayl-job-env", MFD_CLOEXEC);
  bool ok = envfd >= 0;
  for (int i = 0; ok && i < 3 + s->nenv; i++) {
    const char *e = i < 3 ? fixed[i] : s->env[i - 3];
    ok = write(envfd, e, strlen(e) + 1) == (ssize_t)(strlen(e) + 1);
  }
  if (!ok) {
    if (envfd >= 0) close(envfd);
    return -1;
  }
  argv[n++] = "--env-fd";
  argv[n++] = "3";
  argv[n++] = "--";
  for (int i = 0; i < s->nwords; i++) argv[n++] = s->words[i];
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    setsid(); /* before exec: `rayl job stop` may signal the group at once */
    if (envfd == 3) fcntl(3, F_SETFD, 0);
    else dup2(envfd, 3);
    closefrom(4);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(j->rayl_bin, argv);
    _exit(127);
  }
  close(envfd);
  return pid;
}

static void s_on_submit(rl_jobs_t *j, void *sock, const rl_msg_t *m, const rl_gcs_job_submit_msg_t *q) {
  uint64_t request = q->request;
  const char *idp = q->submission_id.p;
  size_t idlen = q->submission_id.n;
  s_submit_t s = {0};
  char why[300], cwd[PATH_MAX], dir[PATH_MAX];
  s_job_t *job = NULL;
  if (!j->session_dir || !j->rayl_bin) {
    s_reply(sock, m, request, NULL, "this head runs no jobs: it has no session folder (start it with `rayl start --head`)");
    return;
  }
  if (s_parse_submit(q, &s, why, sizeof why) != 0) {
    s_reply(sock, m, request, NULL, why);
    goto done;
  }
  char id[S_ID_MAX + 1];
  if (idlen) {
    memcpy(id, idp, idlen);
    id[idlen] = 0;
  } else {
    rl_id_t r = rl_id_random();
    char hex[RL_ID_HEX];
    snprintf(id, sizeof id, "raylsubmit_%.16s", rl_id_hex(&r, hex));
  }
  if (s_find(j, id, strlen(id))) {
    snprintf(why, sizeof why, "a job with submission id '%s' exists already", id);
    s_reply(sock, m, request, NULL, why);
    goto done;
  }
  if (j->n >= S_MAX_JOBS) {
    s_reply(sock, m, request, NULL, "the head keeps at most 10000 jobs");
    goto done;
  }
  job = rl_xcalloc(1, sizeof *job);
  size_t total = 1;
  for (int i = 0; i < s.nwords; i++) total += strlen(s.words[i]) + 1;
  job->entrypoint = rl_xcalloc(1, total);
  job->runtime_env = rl_xstrdup(s.runtime_env);
  s_add(j, job);
  for (int i = 0; i < s.nwords; i++) {
    if (i) strcat(job->entrypoint, " ");
    strcat(job->entrypoint, s.words[i]);
  }
  snprintf(job->id, sizeof job->id, "%s", id);
  job->status = S_PENDING;
  job->start_ms = s_wall_ms();
  snprintf(job->log_path, sizeof job->log_path, "%s/logs/job-driver-%s.log", j->session_dir, id);
  snprintf(job->exit_path, sizeof job->exit_path, "%s/logs/job-driver-%s.exit", j->session_dir, id);
  s_save(j, job);
  /* Without a working dir the driver runs in the session's logs folder: paths in the
   * entrypoint are the head node's. */
  snprintf(cwd, sizeof cwd, "%s/logs", j->session_dir);
  if (s.working_dir[0] && s_working_dir(j, s.working_dir, dir, sizeof dir, why, sizeof why) != 0) {
    s_end(j, job, S_FAILED, "RuntimeEnvSetupError: %s", why);
  } else {
    if (s.working_dir[0]) snprintf(cwd, sizeof cwd, "%s", dir);
    pid_t pid = s_spawn(j, job, &s, cwd);
    if (pid < 0) {
      s_end(j, job, S_FAILED, "cannot start the driver: fork: %s", strerror(errno));
    } else {
      job->pid = pid;
      job->pid_start = s_proc_start(pid);
      job->status = S_RUNNING;
      snprintf(job->message, sizeof job->message, "the driver runs (pid %d)", (int)pid);
      rl_log(RL_LOG_INFO, "job %s: driver started (supervisor pid %d) in %s: %s", job->id, (int)pid, cwd,
             job->entrypoint);
      s_save(j, job);
    }
  }
  s_reply(sock, m, request, job, NULL);
done:
  s_submit_free(&s);
}

/* ---- the other requests ---- */

static void s_on_stop(rl_jobs_t *j, s_job_t *job) {
  if (s_terminal(job) || job->stopping) return;
  job->stopping = true;
  job->kill_at_ms = rl_now_ms() + RL_JOB_STOP_GRACE_MS;
  if (job->pid > 0) kill(-(pid_t)job->pid, SIGTERM);
  rl_log(RL_LOG_INFO, "job %s: stopping (SIGTERM to process group %lld)", job->id, (long long)job->pid);
  s_save(j, job);
}

/* JOB_LOGS [request, nil, nil, nil, nil, error]: no log to send. */
static void s_logs_error(void *sock, const rl_msg_t *m, uint64_t request, const char *error) {
  rl_gcs_job_logs_msg_t r = {.request = request, .error = rl_wire_str(error), .has_error = true};
  if (rl_gcs_job_logs_msg_send(sock, &m->identity, &r) != 0) rl_log(RL_LOG_WARN, "could not answer a job request");
}

static void s_on_logs(void *sock, const rl_msg_t *m, uint64_t request, const s_job_t *job, uint64_t offset,
                      uint64_t max) {
  int fd = open(job->log_path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  uint64_t size = fd >= 0 && fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  size_t want = offset < size ? (size_t)(size - offset) : 0;
  if (want > max) want = (size_t)max;
  if (want > S_LOG_CHUNK_MAX) want = S_LOG_CHUNK_MAX;
  char *buf = want ? rl_xmalloc(want) : NULL; /* at most S_LOG_CHUNK_MAX */
  ssize_t got = buf && fd >= 0 ? pread(fd, buf, want, (off_t)offset) : 0;
  if (fd >= 0) close(fd);
  if (fd < 0 && errno != ENOENT) {
    char err[PATH_MAX + 100];
    snprintf(err, sizeof err, "cannot read %s: %s", job->log_path, strerror(errno));
    s_logs_error(sock, m, request, err);
  } else {
    rl_gcs_job_logs_msg_t r = {.request = request, .data = rl_wire_bytes(buf ? buf : "", got > 0 ? (size_t)got : 0),
                               .has_data = true, .offset = offset, .has_offset = true, .size = size,
                               .has_size = true, .status = rl_wire_str(s_status_names[job->status]),
                               .has_status = true};
    if (rl_gcs_job_logs_msg_send(sock, &m->identity, &r) != 0) rl_log(RL_LOG_WARN, "could not send a job's logs");
  }
  free(buf);
}

void rl_jobs_each(const rl_jobs_t *j, bool (*fn)(void *ctx, const rl_job_view_t *v), void *ctx) {
  for (size_t i = j->n; i-- > 0;) {
    const s_job_t *job = j->v[i];
    rl_job_view_t v = {job->id, s_status_names[job->status], job->entrypoint, job->message, job->runtime_env,
                       job->log_path, job->start_ms, job->end_ms, job->pid};
    if (!fn(ctx, &v)) return;
  }
}

int rl_jobs_stop(rl_jobs_t *j, const char *id) {
  s_job_t *job = s_find(j, id, strlen(id));
  if (!job) return -1;
  if (!s_terminal(job) && job->pid > 0 && s_gone(job)) s_finished(j, job);
  s_on_stop(j, job);
  return 0;
}

/* A request that does not match its field list: answered with the error when its
 * request id can be read (the client would wait for nothing), and dropped. */
static int s_refuse(void *sock, const rl_msg_t *m, const char *err, char *why, size_t whylen) {
  snprintf(why, whylen, "%s", err);
  uint64_t request;
  if (m->type == RL_GCS_JOB_LIST_REQUEST || !rl_wire_request_of(m, &request)) return -1;
  if (m->type == RL_GCS_JOB_LOGS_REQUEST) s_logs_error(sock, m, request, err);
  else s_reply(sock, m, request, NULL, err);
  return -1;
}

static void s_on_list(const rl_jobs_t *j, void *sock, const rl_msg_t *m, uint64_t request) {
  rl_wire_job_t *jobs = rl_xcalloc(j->n + 1, sizeof *jobs); /* at most S_MAX_JOBS */
  for (size_t i = 0; i < j->n; i++) jobs[i] = s_wire_job(j->v[i]);
  rl_gcs_job_list_msg_t r = {.request = request, .jobs = {(uint32_t)j->n, jobs}};
  if (rl_gcs_job_list_msg_send(sock, &m->identity, &r) != 0) rl_log(RL_LOG_WARN, "could not send the job list");
  free(jobs);
}

int rl_jobs_handle(rl_jobs_t *j, void *sock, const rl_msg_t *m, char *why, size_t whylen) {
  if (m->type < RL_GCS_JOB_SUBMIT || m->type > RL_GCS_JOB_LOGS_REQUEST) return 0;
  char err[300];
  union {
    rl_gcs_job_submit_msg_t submit;
    rl_gcs_job_get_msg_t get;
    rl_gcs_job_stop_msg_t stop;
    rl_gcs_job_list_request_msg_t list;
    rl_gcs_job_logs_request_msg_t logs;
  } q;
  if (rl_wire_unpack(m, m->type, &q, err, sizeof err) != 0) return s_refuse(sock, m, err, why, whylen);
  if (m->type == RL_GCS_JOB_LIST_REQUEST) {
    s_on_list(j, sock, m, q.list.request);
    return 1;
  }
  /* request and submission_id: the first two fields of each of the others (a common
   * initial sequence of the union's structs) */
  uint64_t request = q.get.request;
  const char *id = q.get.submission_id.p;
  size_t idlen = q.get.submission_id.n;
  if ((idlen && !s_valid_id(id, idlen)) || (!idlen && m->type != RL_GCS_JOB_SUBMIT)) {
    snprintf(err, sizeof err, "%s: field 'submission_id' is not 1 to %d letters, digits, '_', '-' or '.'",
             rl_wire_name(m->type), S_ID_MAX);
    return s_refuse(sock, m, err, why, whylen);
  }
  if (m->type == RL_GCS_JOB_SUBMIT) {
    s_on_submit(j, sock, m, &q.submit);
    return 1;
  }
  s_job_t *job = s_find(j, id, idlen);
  if (!job) {
    snprintf(err, sizeof err, "no job with submission id '%.*s' (see `rayl job list`)", (int)idlen, id);
    if (m->type == RL_GCS_JOB_LOGS_REQUEST) {
      s_logs_error(sock, m, request, err);
    } else {
      s_reply(sock, m, request, NULL, err);
    }
    return 1;
  }
  /* Asked about: look now rather than at the next tick (a short job's client waits). */
  if (!s_terminal(job) && job->pid > 0 && s_gone(job)) s_finished(j, job);
  if (m->type == RL_GCS_JOB_LOGS_REQUEST) s_on_logs(sock, m, request, job, q.logs.offset, q.logs.max);
  else {
    if (m->type == RL_GCS_JOB_STOP) s_on_stop(j, job);
    s_reply(sock, m, request, job, NULL);
  }
  return 1;
}

void rl_jobs_tick(rl_jobs_t *j, int64_t now_ms) {
  for (size_t i = 0; i < j->n; i++) {
    s_job_t *job = j->v[i];
    if (s_terminal(job) || job->pid <= 0) continue;
    if (s_gone(job)) {
      s_finished(j, job);
      continue;
    }
    if (job->kill_at_ms && now_ms >= job->kill_at_ms) {
      rl_log(RL_LOG_INFO, "job %s: still running %d ms after SIGTERM; SIGKILL", job->id, RL_JOB_STOP_GRACE_MS);
      kill(-(pid_t)job->pid, SIGKILL);
      job->kill_at_ms = 0;
    }
  }
}

void rl_jobs_stop_all(rl_jobs_t *j) {
  int running = 0;
  for (size_t i = 0; i < j->n; i++) {
    if (s_terminal(j->v[i]) || j->v[i]->pid <= 0) continue;
    s_on_stop(j, j->v[i]);
    running++;
  }
  if (!running) return;
  int64_t deadline = rl_now_ms() + RL_JOB_STOP_GRACE_MS + 1000;
  for (;;) {
    int64_t now = rl_now_ms();
    rl_jobs_tick(j, now);
    int left = 0;
    for (size_t i = 0; i < j->n; i++) left += !s_terminal(j->v[i]) && j->v[i]->pid > 0;
    if (!left || now >= deadline) break;
    usleep(20000);
  }
}
