/* head_client.h: what any process (driver, worker, CLI) asks the head (GCS), each reply
 * checked and decoded once into the message structs of wire/wire.h: the one place
 * outside the daemons that asks the head and reads its replies. */
#ifndef RL_HEAD_CLIENT_H
#define RL_HEAD_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/secure.h"
#include "wire/msg.h"
#include "wire/wire.h"
#include "worker/core_worker.h"

/* A way to the head: through a core worker's own socket, or a DEALER of its own. */
typedef struct {
  rl_cw_t *cw;
  void *ctx, *sock;
  rl_net_watch_t *watch; /* tells "the head refuses us" from "no head answers" */
  char endpoint[200];
  uint64_t request;
} rl_head_t;

/* Asks through cw's socket to its cluster's head (its requests numbered by cw). */
void rl_head_init_cw(rl_head_t *h, rl_cw_t *cw);
/* Opens a socket of h's own to the head at endpoint (a ZeroMQ endpoint), secured with
 * the cluster key this process holds, if any. Returns 0, or -1 with err (h is then
 * closed). */
int rl_head_connect(rl_head_t *h, const char *endpoint, char *err, size_t errlen);
/* Closes h's own socket. Safe twice, and on an h of rl_head_init_cw. */
void rl_head_close(rl_head_t *h);
const char *rl_head_endpoint(const rl_head_t *h);
uint64_t rl_head_next_request(rl_head_t *h);

/* Sends b (consumed) and waits up to timeout_ms for the reply of reply_type to request.
 * Returns 0 with *reply filled (close it), or -1 with err: no answer in time, the head
 * refused our handshake (what key to use), or a reply of another type. */
int rl_head_call(rl_head_t *h, rl_msgbuf_t *b, uint64_t request, int reply_type, rl_msg_t *reply, int timeout_ms,
                 char *err, size_t errlen);

/* Each request below fills *out from the head's reply, checked field by field against
 * its field list (wire/proto.h); out borrows from *reply: close it after out's last use.
 * Each returns 0, or -1 with err: no answer in time, or a malformed reply (err names the
 * message and the field). */

/* The cluster's nodes (GET_NODES). */
int rl_head_nodes(rl_head_t *h, rl_gcs_nodes_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err, size_t errlen);
/* A KV request (type RL_GCS_KV_PUT, _GET or _EXISTS; value NULL: none, which deletes
 * for a PUT). A refusal is a reply with has_error, not a failure. */
int rl_head_kv(rl_head_t *h, int type, const char *key, const void *value, size_t vlen, rl_gcs_kv_reply_msg_t *out,
               rl_msg_t *reply, int timeout_ms, char *err, size_t errlen);
/* JOB_SUBMIT (its request number is set here), or JOB_GET / JOB_STOP of submission_id:
 * the job, or the head's error in out->error. */
int rl_head_job_submit(rl_head_t *h, rl_gcs_job_submit_msg_t *req, rl_gcs_job_reply_msg_t *out, rl_msg_t *reply,
                       int timeout_ms, char *err, size_t errlen);
int rl_head_job(rl_head_t *h, int type, const char *submission_id, rl_gcs_job_reply_msg_t *out, rl_msg_t *reply,
                int timeout_ms, char *err, size_t errlen);
/* Every job. */
int rl_head_job_list(rl_head_t *h, rl_gcs_job_list_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err,
                     size_t errlen);
/* Up to max bytes of a job's output from offset (or out->error). */
int rl_head_job_logs(rl_head_t *h, const char *submission_id, uint64_t offset, uint64_t max,
                     rl_gcs_job_logs_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err, size_t errlen);
/* The state API's task (actors false: out->tasks) or actor table (out->actors). */
int rl_head_state(rl_head_t *h, bool actors, rl_gcs_state_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err,
                  size_t errlen);
/* Placement groups: one by id or name, or every one (both NULL). */
int rl_head_pg_info(rl_head_t *h, const rl_id_t *pg_id, const char *name, rl_gcs_pg_info_msg_t *out,
                    rl_msg_t *reply, int timeout_ms, char *err, size_t errlen);
/* The kept task runs. */
int rl_head_timeline(rl_head_t *h, rl_gcs_timeline_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err,
                     size_t errlen);

#endif
