/* gcs_jobs.c: the head's KV and job messages packed and decoded (wire/gcs_jobs.h). */
#include "wire/gcs_jobs.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "wire/proto.h"

static void s_str(msgpack_packer *pk, rl_wstr_t s) {
  msgpack_pack_str(pk, s.n);
  msgpack_pack_str_body(pk, s.p, s.n);
}

void rl_gcs_kv_request_pack(rl_msgbuf_t *b, int type, const rl_gcs_kv_request_t *m) {
  rl_msgbuf_init(b, (uint8_t)type, type == RL_GCS_KV_PUT ? 3 : 2);
  msgpack_pack_uint64(&b->pk, m->request);
  s_str(&b->pk, m->key);
  if (type != RL_GCS_KV_PUT) return;
  if (m->has_value) rl_pack_bin(&b->pk, m->value.p, m->value.n);
  else msgpack_pack_nil(&b->pk);
}

void rl_gcs_kv_reply_pack(rl_msgbuf_t *b, const rl_gcs_kv_reply_t *m) {
  rl_msgbuf_init(b, RL_GCS_KV_REPLY, m->has_error ? 3 : 2);
  msgpack_pack_uint64(&b->pk, m->request);
  if (m->has_value) rl_pack_bin(&b->pk, m->value.p, m->value.n);
  else if (m->has_size) msgpack_pack_uint64(&b->pk, m->size);
  else msgpack_pack_nil(&b->pk);
  if (m->has_error) s_str(&b->pk, m->error);
}

bool rl_gcs_kv_reply_unpack(const rl_msg_t *m, rl_gcs_kv_reply_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "KV_REPLY", .err = err, .errlen = errlen};
  *out = (rl_gcs_kv_reply_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request)) return false;
  const msgpack_object *v = rl_field(m, 1);
  if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    out->has_size = true;
    out->size = v->via.u64;
  } else if (!rl_rd_absent(v) && !rl_rd_str(&r, v, 2, "value", &out->value)) {
    return rl_rd_fail(&r, 2, "value", "neither binary, a size nor nil");
  } else {
    out->has_value = !rl_rd_absent(v);
  }
  return rl_rd_opt_str(&r, rl_field(m, 2), 3, "error", &out->error, &out->has_error);
}

void rl_gcs_job_pack(msgpack_packer *pk, const rl_gcs_job_t *job) {
  msgpack_pack_array(pk, 8);
  s_str(pk, job->submission_id);
  s_str(pk, job->status);
  s_str(pk, job->entrypoint);
  s_str(pk, job->message);
  msgpack_pack_uint64(pk, job->start_ms);
  msgpack_pack_uint64(pk, job->end_ms);
  msgpack_pack_uint64(pk, job->driver_pid);
  s_str(pk, job->runtime_env);
}

/* Decodes o, a job (entry index of list, or a field when list is NULL). */
static bool s_job(rl_rd_t *r, const msgpack_object *o, const char *list, uint32_t index, rl_gcs_job_t *job) {
  const msgpack_object *f;
  uint32_t nf;
  if (!rl_rd_entry(r, o, list, index, 8, 8, &f, &nf)) return false;
  return rl_rd_str(r, &f[0], 1, "submission_id", &job->submission_id) &&
         rl_rd_str(r, &f[1], 2, "status", &job->status) && rl_rd_str(r, &f[2], 3, "entrypoint", &job->entrypoint) &&
         rl_rd_str(r, &f[3], 4, "message", &job->message) && rl_rd_u64(r, &f[4], 5, "start_ms", &job->start_ms) &&
         rl_rd_u64(r, &f[5], 6, "end_ms", &job->end_ms) && rl_rd_u64(r, &f[6], 7, "driver_pid", &job->driver_pid) &&
         rl_rd_str(r, &f[7], 8, "runtime_env", &job->runtime_env);
}

void rl_gcs_job_submit_pack(rl_msgbuf_t *b, const rl_gcs_job_submit_t *m) {
  rl_msgbuf_init(b, RL_GCS_JOB_SUBMIT, 6);
  msgpack_pack_uint64(&b->pk, m->request);
  s_str(&b->pk, m->submission_id);
  msgpack_pack_array(&b->pk, m->nentrypoint);
  for (uint32_t i = 0; i < m->nentrypoint; i++) s_str(&b->pk, m->entrypoint[i]);
  s_str(&b->pk, m->runtime_env);
  s_str(&b->pk, m->working_dir);
  msgpack_pack_array(&b->pk, m->nenv_vars);
  for (uint32_t i = 0; i < m->nenv_vars; i++) {
    msgpack_pack_array(&b->pk, 2);
    s_str(&b->pk, m->env_vars[i][0]);
    s_str(&b->pk, m->env_vars[i][1]);
  }
}

void rl_gcs_job_request_pack(rl_msgbuf_t *b, int type, uint64_t request, const char *submission_id, uint64_t offset,
                             uint64_t max) {
  uint32_t n = type == RL_GCS_JOB_LIST_REQUEST ? 1 : type == RL_GCS_JOB_LOGS_REQUEST ? 4 : 2;
  rl_msgbuf_init(b, (uint8_t)type, n);
  msgpack_pack_uint64(&b->pk, request);
  if (n > 1) rl_pack_str(&b->pk, submission_id);
  if (n > 2) {
    msgpack_pack_uint64(&b->pk, offset);
    msgpack_pack_uint64(&b->pk, max);
  }
}

void rl_gcs_job_reply_pack(rl_msgbuf_t *b, const rl_gcs_job_reply_t *m) {
  rl_msgbuf_init(b, RL_GCS_JOB_REPLY, m->has_error ? 3 : 2);
  msgpack_pack_uint64(&b->pk, m->request);
  if (m->has_job) rl_gcs_job_pack(&b->pk, &m->job);
  else msgpack_pack_nil(&b->pk);
  if (m->has_error) s_str(&b->pk, m->error);
}

bool rl_gcs_job_reply_unpack(const rl_msg_t *m, rl_gcs_job_reply_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "JOB_REPLY", .err = err, .errlen = errlen};
  *out = (rl_gcs_job_reply_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request)) return false;
  out->has_job = !rl_rd_absent(rl_field(m, 1));
  if (out->has_job && !s_job(&r, rl_field(m, 1), "job", 0, &out->job)) return false;
  r.list = NULL;
  if (!rl_rd_opt_str(&r, rl_field(m, 2), 3, "error", &out->error, &out->has_error)) return false;
  if (!out->has_job && !out->has_error) return rl_rd_fail(&r, 3, "error", "missing (and there is no job)");
  return true;
}

void rl_gcs_job_list_free(rl_gcs_job_list_t *l) {
  free(l->jobs);
  l->jobs = NULL;
  l->n = 0;
}

bool rl_gcs_job_list_unpack(const rl_msg_t *m, rl_gcs_job_list_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "JOB_LIST", .err = err, .errlen = errlen};
  const msgpack_object *items;
  *out = (rl_gcs_job_list_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request) ||
      !rl_rd_array(&r, rl_field(m, 1), 2, "jobs", RL_GCS_JOBS_MAX, &items, &out->n))
    return false;
  out->jobs = out->n ? rl_xcalloc(out->n, sizeof *out->jobs) : NULL; /* at most RL_GCS_JOBS_MAX */
  for (uint32_t i = 0; i < out->n; i++)
    if (!s_job(&r, &items[i], "jobs", i, &out->jobs[i])) {
      rl_gcs_job_list_free(out);
      return false;
    }
  return true;
}

void rl_gcs_job_logs_pack(rl_msgbuf_t *b, const rl_gcs_job_logs_t *m) {
  if (m->has_error) {
    rl_msgbuf_init(b, RL_GCS_JOB_LOGS, 3);
    msgpack_pack_uint64(&b->pk, m->request);
    msgpack_pack_nil(&b->pk);
    s_str(&b->pk, m->error);
    return;
  }
  rl_msgbuf_init_sized(b, RL_GCS_JOB_LOGS, 5, m->data.n + 64);
  msgpack_pack_uint64(&b->pk, m->request);
  rl_pack_bin(&b->pk, m->data.p, m->data.n);
  msgpack_pack_uint64(&b->pk, m->offset);
  msgpack_pack_uint64(&b->pk, m->size);
  s_str(&b->pk, m->status);
}

bool rl_gcs_job_logs_unpack(const rl_msg_t *m, rl_gcs_job_logs_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "JOB_LOGS", .err = err, .errlen = errlen};
  *out = (rl_gcs_job_logs_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request)) return false;
  if (rl_rd_absent(rl_field(m, 1))) {
    out->has_error = true;
    return rl_rd_str(&r, rl_field(m, 2), 3, "error", &out->error);
  }
  return rl_rd_str(&r, rl_field(m, 1), 2, "data", &out->data) &&
         rl_rd_u64(&r, rl_field(m, 2), 3, "offset", &out->offset) &&
         rl_rd_u64(&r, rl_field(m, 3), 4, "size", &out->size) && rl_rd_str(&r, rl_field(m, 4), 5, "status", &out->status);
}
