/* gcs_jobs.h: the head's KV and job messages (RL_GCS_KV_*, RL_GCS_JOB_*, wire/proto.h)
 * as C structs: requests packed by clients, replies decoded and checked once. Strings
 * are borrowed from the message they came in (valid until rl_msg_close). */
#ifndef RL_GCS_JOBS_H
#define RL_GCS_JOBS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/msg.h"
#include "wire/reader.h"

#define RL_GCS_JOBS_MAX 100000 /* jobs one JOB_LIST may carry */

/* KV_PUT [request, key, value bin?] (has_value false: delete), KV_GET and KV_EXISTS
 * [request, key]. */
typedef struct {
  uint64_t request;
  rl_wstr_t key;
  bool has_value;
  rl_wstr_t value;
} rl_gcs_kv_request_t;

/* Packs a KV request of type RL_GCS_KV_PUT, _GET or _EXISTS into b (started here). */
void rl_gcs_kv_request_pack(rl_msgbuf_t *b, int type, const rl_gcs_kv_request_t *m);

/* KV_REPLY [request, value bin? | size u64?, error str?]: value answers KV_PUT (the
 * previous value) and KV_GET; size answers KV_EXISTS; error: the request was refused. */
typedef struct {
  uint64_t request;
  bool has_value;
  rl_wstr_t value;
  bool has_size;
  uint64_t size;
  bool has_error;
  rl_wstr_t error;
} rl_gcs_kv_reply_t;

void rl_gcs_kv_reply_pack(rl_msgbuf_t *b, const rl_gcs_kv_reply_t *m);
bool rl_gcs_kv_reply_unpack(const rl_msg_t *m, rl_gcs_kv_reply_t *out, char *err, size_t errlen);

/* A job: [submission_id, status, entrypoint, message, start_ms, end_ms, driver_pid,
 * runtime_env]. */
typedef struct {
  rl_wstr_t submission_id, status, entrypoint, message;
  uint64_t start_ms, end_ms, driver_pid;
  rl_wstr_t runtime_env;
} rl_gcs_job_t;

void rl_gcs_job_pack(msgpack_packer *pk, const rl_gcs_job_t *job);

/* JOB_SUBMIT [request, submission_id, entrypoint [str...], runtime_env, working_dir,
 * env_vars [[name, value]...]]. */
typedef struct {
  uint64_t request;
  rl_wstr_t submission_id;
  const rl_wstr_t *entrypoint;
  uint32_t nentrypoint;
  rl_wstr_t runtime_env, working_dir;
  const rl_wstr_t (*env_vars)[2]; /* name, value */
  uint32_t nenv_vars;
} rl_gcs_job_submit_t;

void rl_gcs_job_submit_pack(rl_msgbuf_t *b, const rl_gcs_job_submit_t *m);
/* JOB_GET and JOB_STOP [request, submission_id]; JOB_LIST_REQUEST [request];
 * JOB_LOGS_REQUEST [request, submission_id, offset, max]. */
void rl_gcs_job_request_pack(rl_msgbuf_t *b, int type, uint64_t request, const char *submission_id, uint64_t offset,
                             uint64_t max);

/* JOB_REPLY [request, job?, error str?] */
typedef struct {
  uint64_t request;
  bool has_job;
  rl_gcs_job_t job;
  bool has_error;
  rl_wstr_t error;
} rl_gcs_job_reply_t;

void rl_gcs_job_reply_pack(rl_msgbuf_t *b, const rl_gcs_job_reply_t *m);
/* Decodes a JOB_REPLY; one with neither a job nor an error is malformed. */
bool rl_gcs_job_reply_unpack(const rl_msg_t *m, rl_gcs_job_reply_t *out, char *err, size_t errlen);

/* JOB_LIST [request, [job...]] */
typedef struct {
  uint64_t request;
  rl_gcs_job_t *jobs; /* allocated (rl_gcs_job_list_free) */
  uint32_t n;
} rl_gcs_job_list_t;

bool rl_gcs_job_list_unpack(const rl_msg_t *m, rl_gcs_job_list_t *out, char *err, size_t errlen);
void rl_gcs_job_list_free(rl_gcs_job_list_t *l);

/* JOB_LOGS [request, data bin, offset u64, size u64, status str] or [request, nil,
 * error str] (has_error). */
typedef struct {
  uint64_t request;
  bool has_error;
  rl_wstr_t error;
  rl_wstr_t data;
  uint64_t offset, size;
  rl_wstr_t status;
} rl_gcs_job_logs_t;

void rl_gcs_job_logs_pack(rl_msgbuf_t *b, const rl_gcs_job_logs_t *m);
bool rl_gcs_job_logs_unpack(const rl_msg_t *m, rl_gcs_job_logs_t *out, char *err, size_t errlen);

#endif
