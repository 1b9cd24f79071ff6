/* jobs.h: the head's job table (`rayl job submit`): drivers started on the head's node
 * under a supervisor process, watched until they end, kept in the head's database so a
 * restarted head still knows them. */
#ifndef RL_JOBS_H
#define RL_JOBS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gcs/gcs_db.h"
#include "gcs/kv.h"
#include "wire/msg.h"

#define RL_JOB_STOP_GRACE_MS 3000 /* SIGTERM, then SIGKILL this much later */

typedef struct {
  const char *session_dir; /* logs and unpacked working dirs go here; NULL: no jobs */
  const char *rayl_bin;    /* the rayl program that runs supervisors and drivers */
  const char *address;     /* the head's endpoint as drivers reach it (RAYL_ADDRESS) */
  rl_gcs_db_t *db;         /* NULL: jobs are not kept */
  rl_kv_t *kv;             /* where working_dir packages are */
} rl_jobs_opts_t;

typedef struct rl_jobs_t rl_jobs_t;

/* A job table (strings in o are copied). With o->db, the jobs saved there are loaded:
 * a running job whose supervisor still runs stays RUNNING; one whose supervisor is gone
 * ends as its exit file says, or FAILED. Returns NULL if out of memory. */
rl_jobs_t *rl_jobs_new(const rl_jobs_opts_t *o);
/* Frees the table and nulls *p (running drivers are left alone); safe on NULL, twice. */
void rl_jobs_destroy(rl_jobs_t **p);

/* Handles m if it is a job request (RL_GCS_JOB_*), replying on sock. Returns 1 if
 * handled, 0 if m is not a job request, -1 if it is one but malformed (why says how;
 * nothing was changed; a sender whose request id could be read got why as the error). */
int rl_jobs_handle(rl_jobs_t *j, void *sock, const rl_msg_t *m, char *why, size_t whylen);

/* A job as the table holds it, for readers in the head (the dashboard): borrowed,
 * valid during the visit. */
typedef struct {
  const char *id, *status, *entrypoint, *message, *runtime_env, *log_path;
  int64_t start_ms, end_ms, pid; /* wall clock ms; pid 0: none */
} rl_job_view_t;

/* Calls fn for each job, the most recently submitted first, until it returns false. */
void rl_jobs_each(const rl_jobs_t *j, bool (*fn)(void *ctx, const rl_job_view_t *v), void *ctx);
/* Stops the job with this submission id (as `rayl job stop`). Returns 0 (also when it
 * had ended already), or -1 if there is no such job. */
int rl_jobs_stop(rl_jobs_t *j, const char *id);

/* Notices drivers that ended and stops those past their grace time. Call it often
 * (every RL_GCS_TICK_MS). */
void rl_jobs_tick(rl_jobs_t *j, int64_t now_ms);

/* Stops every running job (SIGTERM, SIGKILL after the grace time) and waits for them:
 * the head is going away for good. */
void rl_jobs_stop_all(rl_jobs_t *j);

#endif
