/* jobs_test.c: the head's job requests end to end: rl_gcs_serve in a thread (a head
 * without a session folder, which runs no jobs), a client played by a DEALER socket. */
#include "common/selftest.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "head/gcs_server.h"
#include "head/test_head.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/wire.h"

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* True if the JOB_REPLY in m answers request with an error holding want (and no job). */
static bool s_refused(rl_msg_t *m, uint64_t request, const char *want) {
  rl_gcs_job_reply_msg_t r;
  char error[400];
  return rl_gcs_job_reply_msg_read(m, &r) && r.request == request && !r.has_job && r.has_error &&
         rl_wire_strcpy(error, sizeof error, r.error) && strstr(error, want);
}

int rl_jobs_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR;
  void *ctx = zmq_ctx_new();
  void *client = zmq_socket(ctx, ZMQ_DEALER);
  rl_test_head_t head = {0};
  int zero = 0;
  char ep[64];
  rl_msg_t m;
  rl_msgbuf_t b;
  snprintf(ep, sizeof ep, "inproc://jobs-selftest-%d", (int)getpid());
  S_CHECK(client);
  zmq_setsockopt(client, ZMQ_LINGER, &zero, sizeof zero);
  S_CHECK(rl_test_head_start(&head, ctx, ep, (rl_gcs_opts_t){.heartbeat_timeout_ms = 5000, .kv_max_bytes = 1 << 20}) ==
          0);
  S_CHECK(zmq_connect(client, ep) == 0);

  /* No jobs yet: an empty list. */
  rl_gcs_job_list_request_msg_t list = {.request = 1};
  S_CHECK(rl_gcs_job_list_request_msg_send(client, NULL, &list) == 0);
  S_CHECK(rl_test_head_next(client, RL_GCS_JOB_LIST, &m));
  rl_gcs_job_list_msg_t jobs;
  bool empty = rl_gcs_job_list_msg_read(&m, &jobs) && jobs.request == 1 && jobs.jobs.n == 0;
  rl_msg_close(&m);
  S_CHECK(empty);

  /* An unknown id, and one that is not an id. */
  rl_gcs_job_get_msg_t get = {.request = 2, .submission_id = rl_wire_str("nope")};
  rl_gcs_job_get_msg_send(client, NULL, &get);
  S_CHECK(rl_test_head_next(client, RL_GCS_JOB_REPLY, &m) && s_refused(&m, 2, "no job with submission id 'nope'"));
  rl_msg_close(&m);
  rl_gcs_job_stop_msg_t stop = {.request = 3, .submission_id = rl_wire_str("a b")};
  rl_gcs_job_stop_msg_send(client, NULL, &stop);
  S_CHECK(rl_test_head_next(client, RL_GCS_JOB_REPLY, &m) && s_refused(&m, 3, "field 'submission_id'"));
  rl_msg_close(&m);
  rl_gcs_job_logs_request_msg_t logs = {.request = 4, .submission_id = rl_wire_str("nope"), .max = 100};
  rl_gcs_job_logs_request_msg_send(client, NULL, &logs);
  S_CHECK(rl_test_head_next(client, RL_GCS_JOB_LOGS, &m));
  rl_gcs_job_logs_msg_t got;
  bool no_log = rl_gcs_job_logs_msg_read(&m, &got) && got.request == 4 && !got.has_data && got.has_error;
  rl_msg_close(&m);
  S_CHECK(no_log);

  /* A submission whose entrypoint is a string, not a list: answered naming the field. */
  rl_msgbuf_init(&b, RL_GCS_JOB_SUBMIT, 6);
  msgpack_pack_uint64(&b.pk, 5);
  rl_pack_str(&b.pk, "");
  rl_pack_str(&b.pk, "main.lua");
  rl_pack_str(&b.pk, "{}");
  rl_pack_str(&b.pk, "");
  msgpack_pack_array(&b.pk, 0);
  rl_msg_send(client, NULL, &b);
  S_CHECK(rl_test_head_next(client, RL_GCS_JOB_REPLY, &m) && s_refused(&m, 5, "field 'entrypoint'"));
  rl_msg_close(&m);
  /* A well-formed one: this head has no session folder, so it runs no jobs. */
  rl_wire_bytes_t words[1] = {rl_wire_str("main.lua")};
  rl_gcs_job_submit_msg_t submit = {.request = 6, .submission_id = rl_wire_str(""), .entrypoint = {1, words},
                                    .runtime_env = rl_wire_str("{}"), .working_dir = rl_wire_str("")};
  S_CHECK(rl_gcs_job_submit_msg_send(client, NULL, &submit) == 0);
  S_CHECK(rl_test_head_next(client, RL_GCS_JOB_REPLY, &m) && s_refused(&m, 6, "this head runs no jobs"));
  rl_msg_close(&m);

  S_CHECK(rl_test_head_stop(&head) == 0);
  zmq_close(client);
  zmq_ctx_term(ctx);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_test_head_stop(&head);
  zmq_close(client);
  zmq_ctx_term(ctx);
  rl_log_level = prev_level;
  return 1;
}
