/* core_worker.c: the core worker's sockets, registration and event loop (run by the
 * owner thread in its calls, and by the I/O thread while the owner is away). */
#include "worker/cw_internal.h"

#include <assert.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "net/secure.h"
#include "store/region.h"
#include "wire/proto.h"
#include "wire/res_pack.h"

#define S_GRACE_MS 5 /* the owner away this long without polling: the I/O thread serves */

static void s_serve(void *ctx, int wake_fd, int timeout_ms);

static void *s_socket(rl_cw_t *cw, int type) {
  void *s = zmq_socket(cw->zctx, type);
  if (!s) return NULL;
  int zero = 0, ivl = 10;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  return s;
}

/* Our own address: an ipc socket beside the node manager's, or any tcp port. */
static int s_bind_router(rl_cw_t *cw) {
  cw->router = s_socket(cw, ZMQ_ROUTER);
  if (!cw->router) return -1;
  char hex[RL_ID_HEX];
  rl_id_hex(&cw->worker_id, hex);
  if (!strncmp(cw->node_endpoint, "ipc://", 6)) {
    char dir[RL_ENDPOINT_MAX];
    snprintf(dir, sizeof dir, "%s", cw->node_endpoint + 6);
    snprintf(cw->endpoint, sizeof cw->endpoint, "ipc://%s/w-%.12s", dirname(dir), hex);
  } else {
    /* Bind on the node manager's host (the address other nodes reach this node on):
     * peers on other machines dial this endpoint to push tasks and return results. */
    const char *host = cw->node_endpoint + 6, *colon = strrchr(host, ':');
    int len = colon ? (int)(colon - host) : (int)strlen(host);
    snprintf(cw->endpoint, sizeof cw->endpoint, "tcp://%.*s:*", len, host);
  }
  if (rl_net_bind(cw->zctx, cw->router, cw->endpoint) != 0) return -1;
  size_t len = sizeof cw->endpoint;
  zmq_getsockopt(cw->router, ZMQ_LAST_ENDPOINT, cw->endpoint, &len);
  return 0;
}

static int s_welcome(rl_cw_t *cw, rl_msg_t *m, char *err, size_t errlen) {
  rl_nm_welcome_msg_t w;
  char why[256];
  if (rl_nm_welcome_msg_unpack(m, &w, why, sizeof why) != 0 ||
      snprintf(cw->store_path, sizeof cw->store_path, "%s", w.store_path) >= (int)sizeof cw->store_path ||
      snprintf(cw->gcs_endpoint, sizeof cw->gcs_endpoint, "%s", w.gcs_endpoint) >= (int)sizeof cw->gcs_endpoint ||
      snprintf(cw->session_dir, sizeof cw->session_dir, "%s", w.session_dir) >= (int)sizeof cw->session_dir) {
    snprintf(err, errlen, "the node manager sent a malformed welcome (%s)", why);
    return -1;
  }
  cw->node_id = w.node_id;
  cw->node_resources = w.resources;
  uint64_t size = w.store_size;
  cw->store_size = size;
  cw->store_base = rl_region_map(cw->store_path, size, err, errlen);
  return cw->store_base ? 0 : -1;
}

rl_cw_t *rl_cw_new(const char *node_endpoint, int kind, int timeout_ms, char *err, size_t errlen) {
  rl_cw_t *cw = rl_xcalloc(1, sizeof *cw);
  cw->kind = kind;
  cw->worker_id = rl_id_random();
  snprintf(cw->node_endpoint, sizeof cw->node_endpoint, "%s", node_endpoint);
  cw->zctx = zmq_ctx_new();
  cw->objects = rl_obj_table_new(cw);
  cw->tasks = rl_task_table_new();
  cw->next_request = 1;
  cw->io = rl_io_new();
  if (!cw->zctx || !cw->objects || !cw->tasks || !cw->io || s_bind_router(cw) != 0) {
    snprintf(err, errlen, "cannot open this process's socket: %s", zmq_strerror(errno));
    goto fail;
  }
  cw->nm = s_socket(cw, ZMQ_DEALER);
  zmq_setsockopt(cw->nm, ZMQ_ROUTING_ID, cw->worker_id.b, RL_ID_SIZE);
  if (rl_net_connect(cw->nm, node_endpoint) != 0) {
    snprintf(err, errlen, "cannot connect to the node manager at %s: %s", node_endpoint, zmq_strerror(errno));
    goto fail;
  }
  rl_nm_register_msg_t reg = {.kind = (uint64_t)kind, .worker_id = cw->worker_id, .pid = (uint64_t)getpid()};
  snprintf(reg.endpoint, sizeof reg.endpoint, "%s", cw->endpoint);
  rl_nm_register_msg_send(cw->nm, NULL, &reg);
  zmq_pollitem_t it = {cw->nm, 0, ZMQ_POLLIN, 0};
  int64_t deadline = rl_now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - rl_now_ms();
    if (left <= 0 || rl_interrupted) {
      snprintf(err, errlen, "the node manager at %s did not answer within %d ms", node_endpoint, timeout_ms);
      goto fail;
    }
    if (zmq_poll(&it, 1, left) <= 0) continue;
    rl_msg_t m;
    if (rl_msg_recv(cw->nm, false, &m) != 1) continue;
    if (m.type != RL_NM_WELCOME) {
      rl_msg_close(&m);
      continue;
    }
    int rc = s_welcome(cw, &m, err, errlen);
    rl_msg_close(&m);
    if (rc != 0) goto fail;
    break;
  }
  cw->last_lease_check_ms = rl_now_ms();
  if (rl_io_start(cw->io, s_serve, cw, S_GRACE_MS) != 0) {
    snprintf(err, errlen, "cannot start this process's I/O thread: %s", strerror(errno));
    goto fail;
  }
  return cw;
fail:
  rl_cw_destroy(&cw);
  return NULL;
}

static void s_print_log(rl_cw_t *cw, rl_msg_t *m);

/* Other nodes' managers we leased from (after a spillback) release our leases only
 * when told: say goodbye to each and wait briefly for their answers. */
static void s_goodbye_remote(rl_cw_t *cw) {
  zmq_pollitem_t items[64];
  int n = 0;
  for (rl_peer_t *p = cw->peers; p && n < 64; p = p->next) {
    if (!p->registered) continue;
    rl_nm_goodbye_msg_t bye = {0};
    if (rl_nm_goodbye_msg_send(p->sock, NULL, &bye) == 0) items[n++] = (zmq_pollitem_t){p->sock, 0, ZMQ_POLLIN, 0};
  }
  int64_t deadline = rl_now_ms() + 500;
  while (n > 0 && rl_now_ms() < deadline) {
    if (zmq_poll(items, n, rl_ms_left(deadline)) <= 0) continue;
    for (int i = 0; i < n; i++) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      bool answered = false;
      rl_msg_t m;
      while (!answered && rl_msg_recv(items[i].socket, false, &m) == 1) {
        answered = m.type == RL_NM_GOODBYE;
        rl_msg_close(&m);
      }
      if (answered) items[i--] = items[--n]; /* done with this one */
    }
  }
}

static void s_goodbye(rl_cw_t *cw) {
  s_goodbye_remote(cw);
  rl_nm_goodbye_msg_t bye = {0};
  if (rl_nm_goodbye_msg_send(cw->nm, NULL, &bye) != 0) return;
  /* Wait briefly for the node manager to flush worker output and acknowledge. */
  int64_t deadline = rl_now_ms() + 500;
  zmq_pollitem_t it = {cw->nm, 0, ZMQ_POLLIN, 0};
  while (rl_now_ms() < deadline) {
    if (zmq_poll(&it, 1, rl_ms_left(deadline)) <= 0) continue;
    rl_msg_t m;
    while (rl_msg_recv(cw->nm, false, &m) == 1) {
      int type = m.type;
      if (type == RL_NM_LOG) s_print_log(cw, &m);
      rl_msg_close(&m);
      if (type == RL_NM_GOODBYE) return;
    }
  }
}

void rl_cw_destroy(rl_cw_t **p) {
  if (!p || !*p) return;
  rl_cw_t *cw = *p;
  rl_io_destroy(&cw->io); /* from here on this thread alone uses the sockets */
  rl_msg_flush(cw);
  if (cw->nm && cw->store_base) {
    rl_actor_forget_names(cw);
    rl_ev_leaving(cw);
    rl_pg_flush(cw);
    s_goodbye(cw);
  }
  rl_ev_destroy(cw);
  rl_exec_destroy_all(cw);
  rl_actor_destroy_all(cw);
  rl_sub_destroy_all(cw);
  rl_obj_destroy_all(cw);
  rl_pg_destroy_all(cw);
  /* What was just sent to peers (a kill, a borrower's release) is not dropped at exit;
   * a peer that is gone costs at most this long, once for all of them. */
  int peer_linger = 100;
  rl_msg_flush(cw); /* no batch outlives its socket */
  for (rl_peer_t *peer = cw->peers, *next; peer; peer = next) {
    next = peer->next;
    zmq_setsockopt(peer->sock, ZMQ_LINGER, &peer_linger, sizeof peer_linger);
    zmq_close(peer->sock);
    free(peer);
  }
  if (cw->gcs) {
    int linger = 200; /* the last events may still be on their way to the head */
    zmq_setsockopt(cw->gcs, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(cw->gcs);
  }
  if (cw->router) zmq_close(cw->router);
  if (cw->nm) zmq_close(cw->nm);
  if (!strncmp(cw->endpoint, "ipc://", 6)) unlink(cw->endpoint + 6);
  rl_net_ctx_term(&cw->zctx);
  rl_region_unmap(cw->store_base, cw->store_size);
  rl_task_table_destroy(&cw->tasks);
  free(cw->ready_later);
  free(cw);
  *p = NULL;
}

const rl_id_t *rl_cw_worker_id(const rl_cw_t *cw) { return &cw->worker_id; }
const rl_id_t *rl_cw_node_id(const rl_cw_t *cw) { return &cw->node_id; }
const char *rl_cw_endpoint(const rl_cw_t *cw) { return cw->endpoint; }
const char *rl_cw_session_dir(const rl_cw_t *cw) { return cw->session_dir; }
const char *rl_cw_gcs_endpoint(const rl_cw_t *cw) { return cw->gcs_endpoint; }
const rl_resources_t *rl_cw_node_resources(const rl_cw_t *cw) { return &cw->node_resources; }
void *rl_cw_store_base(const rl_cw_t *cw) { return cw->store_base; }
size_t rl_cw_store_size(const rl_cw_t *cw) { return cw->store_size; }
void rl_cw_set_print_worker_logs(rl_cw_t *cw, bool on) {
  RL_CW_HOLD(cw);
  cw->print_logs = on;
}
void rl_cw_set_log_hook(rl_cw_t *cw, rl_cw_log_hook fn, void *ctx) {
  RL_CW_HOLD(cw);
  cw->log_hook = fn;
  cw->log_hook_ctx = ctx;
}

rl_id_t rl_cw_current_task(const rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  rl_id_t nil = {{0}};
  return cw->running ? cw->running->pub.task_id : nil;
}

uint64_t rl_cw_request_id(rl_cw_t *cw) { return cw->next_request++; }

rl_peer_t *rl_cw_peer(rl_cw_t *cw, const char *endpoint) {
  for (rl_peer_t *p = cw->peers; p; p = p->next)
    if (!strcmp(p->endpoint, endpoint)) return p;
  rl_peer_t *p = rl_xcalloc(1, sizeof *p);
  snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
  p->sock = s_socket(cw, ZMQ_DEALER);
  zmq_setsockopt(p->sock, ZMQ_ROUTING_ID, cw->worker_id.b, RL_ID_SIZE);
  if (!p->sock || rl_net_connect(p->sock, endpoint) != 0) {
    rl_log(RL_LOG_WARN, "cannot connect to %s: %s", endpoint, zmq_strerror(errno));
    if (p->sock) zmq_close(p->sock);
    free(p);
    return NULL;
  }
  p->next = cw->peers;
  cw->peers = p;
  return p;
}

rl_peer_t *rl_cw_remote_node(rl_cw_t *cw, const char *endpoint) {
  rl_peer_t *peer = rl_cw_peer(cw, endpoint);
  if (!peer || peer->registered) return peer;
  rl_nm_register_msg_t reg = {.kind = RL_CLIENT_REMOTE, .worker_id = cw->worker_id, .pid = (uint64_t)getpid()};
  snprintf(reg.endpoint, sizeof reg.endpoint, "%s", cw->endpoint);
  rl_nm_register_msg_send(peer->sock, NULL, &reg);
  peer->registered = true;
  return peer;
}

static void s_print_log(rl_cw_t *cw, rl_msg_t *m) {
  rl_nm_log_msg_t log;
  if (!rl_nm_log_msg_read(m, &log)) return;
  uint64_t pid = log.pid;
  const char *text = log.text.p;
  size_t tn = log.text.n;
  if (!cw->print_logs) return;
  FILE *out = !strcmp(log.stream, "err") ? stderr : stdout;
  /* The hook (a line editor's) is the owner thread's: the I/O thread prints plainly. */
  bool hook = cw->log_hook && !rl_io_on_io_thread(cw->io);
  if (hook) cw->log_hook(cw->log_hook_ctx, true);
  /* Prefix every line with where it came from. */
  const char *p = text, *end = text + tn;
  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
    fprintf(out, "(pid=%llu) %.*s%s", (unsigned long long)pid, (int)n, p, nl ? "" : "\n");
    p += n;
  }
  fflush(out);
  if (hook) cw->log_hook(cw->log_hook_ctx, false);
}

/* The request a reply of the node manager answers: true with *request if m is a valid
 * STORE_CREATED, STORE_LOCATION or RESOURCES_REPLY (else logged). */
static bool s_reply_request(const rl_msg_t *m, uint64_t *request) {
  union {
    rl_nm_store_created_msg_t created;
    rl_nm_store_location_msg_t location;
    rl_nm_resources_reply_msg_t resources;
  } u;
  if (!rl_wire_read(m, m->type, &u)) return false;
  *request = m->type == RL_NM_STORE_CREATED    ? u.created.request
             : m->type == RL_NM_STORE_LOCATION ? u.location.request
                                               : u.resources.request;
  return true;
}

static void s_handle_nm(rl_cw_t *cw, rl_msg_t *m) {
  uint64_t request;
  switch (m->type) {
    case RL_NM_LEASE_GRANTED: rl_sub_handle_lease_granted(cw, m, NULL); break;
    case RL_NM_LEASE_SPILLBACK: rl_sub_handle_spillback(cw, m); break;
    case RL_NM_NODE_DIED: rl_sub_handle_node_died(cw, m); break;
    case RL_NM_LEASE_INFEASIBLE: rl_sub_handle_lease_infeasible(cw, m); break;
    case RL_NM_LEASE_PG_REMOVED: rl_sub_handle_lease_pg_removed(cw, m); break;
    case RL_NM_WORKER_DIED: rl_sub_handle_worker_died(cw, m); break;
    case RL_NM_LOG: s_print_log(cw, m); break;
    case RL_NM_STORE_CREATED:
    case RL_NM_STORE_LOCATION:
    case RL_NM_RESOURCES_REPLY:
      if (s_reply_request(m, &request) && request == cw->awaited_request && !cw->awaited_done) {
        cw->awaited_reply = *m; /* ownership moves to the waiting caller */
        cw->awaited_done = true;
        memset(m, 0, sizeof *m);
        zmq_msg_init(&m->frame);
        zmq_msg_init(&m->identity);
        msgpack_unpacked_init(&m->up);
        return;
      }
      break;
    default: rl_log(RL_LOG_WARN, "unexpected message type %d from the node manager", m->type);
  }
}

static void s_handle_router(rl_cw_t *cw, rl_msg_t *m) {
  switch (m->type) {
    case RL_CW_PUSH_TASK: rl_exec_handle_push(cw, m); break;
    case RL_CW_CANCEL: rl_exec_handle_cancel(cw, m); break;
    case RL_CW_STEAL_TASKS: rl_exec_handle_steal(cw, m); break;
    case RL_CW_GET_OBJECT: rl_obj_handle_get_object(cw, m); break;
    case RL_CW_ADD_BORROWER: rl_obj_handle_borrower(cw, m, true); break;
    case RL_CW_REMOVE_BORROWER: rl_obj_handle_borrower(cw, m, false); break;
    case RL_CW_ACTOR_LOCATE: rl_actor_handle_locate(cw, m); break;
    case RL_CW_KILL_ACTOR: rl_actor_handle_kill(cw, m); break;
    case RL_CW_STACK: rl_inspect_handle_stack(cw, m); break;
    case RL_CW_LIST_OWNED: rl_inspect_handle_owned(cw, m); break;
    default: rl_log(RL_LOG_WARN, "unexpected message type %d on %s", m->type, cw->endpoint);
  }
}

static void s_handle_peer(rl_cw_t *cw, rl_peer_t *peer, rl_msg_t *m) {
  switch (m->type) {
    case RL_CW_TASK_DONE: rl_sub_handle_task_done(cw, m, peer); break;
    case RL_CW_STOLEN: rl_sub_handle_stolen(cw, m, peer); break;
    case RL_CW_OBJECT: rl_obj_handle_object(cw, m); break;
    case RL_CW_ACTOR_LOCATION: rl_actor_handle_location(cw, m); break;
    /* From another node's manager, where we lease workers. */
    case RL_NM_LEASE_GRANTED: rl_sub_handle_lease_granted(cw, m, peer); break;
    case RL_NM_LEASE_SPILLBACK: rl_sub_handle_spillback(cw, m); break;
    case RL_NM_LEASE_INFEASIBLE: rl_sub_handle_lease_infeasible(cw, m); break;
    case RL_NM_LEASE_PG_REMOVED: rl_sub_handle_lease_pg_removed(cw, m); break;
    case RL_NM_WORKER_DIED: rl_sub_handle_worker_died(cw, m); break;
    /* A node manager tells each client of its own of a node's death, and so this
     * process's own manager tells it too: acted on once, from that one (the same notice
     * from here may come late, after that node is back). */
    case RL_NM_NODE_DIED:
    case RL_NM_WELCOME:
    case RL_NM_LOG: break;
    default: rl_log(RL_LOG_WARN, "unexpected message type %d from %s", m->type, peer->endpoint);
  }
}

#define S_MAX_POLL 256

/* Runs the host's ready hook for the objects that became ready on the I/O thread. */
static void s_ready_later(rl_cw_t *cw) {
  for (size_t i = 0; i < cw->nready_later; i++)
    if (cw->on_ready) cw->on_ready(cw->on_ready_ctx, &cw->ready_later[i]);
  cw->nready_later = 0;
}

void rl_cw_notify_ready(rl_cw_t *cw, const rl_id_t *id) {
  if (!cw->on_ready) return;
  if (!rl_io_on_io_thread(cw->io)) {
    cw->on_ready(cw->on_ready_ctx, id);
    return;
  }
  if (cw->nready_later == cw->capready_later) {
    size_t cap = cw->capready_later ? 2 * cw->capready_later : 64;
    cw->ready_later = rl_xrealloc(cw->ready_later, cap * sizeof *cw->ready_later);
    cw->capready_later = cap;
  }
  cw->ready_later[cw->nready_later++] = *id;
}

/* rl_cw_poll, also watching fd when it is >= 0 (the last item). */
static int s_poll(rl_cw_t *cw, int fd, int timeout_ms, bool *fd_ready) {
  RL_CW_HOLD(cw);
  rl_io_polled(cw->io);
  rl_msg_flush(cw); /* what was batched goes before we wait */
  if (cw->nready_later && !rl_io_on_io_thread(cw->io)) s_ready_later(cw);
  zmq_pollitem_t items[S_MAX_POLL + 1];
  rl_peer_t *peers[S_MAX_POLL];
  int n = 0;
  items[n++] = (zmq_pollitem_t){cw->router, 0, ZMQ_POLLIN, 0};
  items[n++] = (zmq_pollitem_t){cw->nm, 0, ZMQ_POLLIN, 0};
  int gcs_at = -1; /* the head's answers to requests nobody blocks on */
  if (cw->gcs) {
    gcs_at = n;
    items[n++] = (zmq_pollitem_t){cw->gcs, 0, ZMQ_POLLIN, 0};
  }
  for (rl_peer_t *p = cw->peers; p && n < S_MAX_POLL; p = p->next) {
    peers[n] = p;
    items[n++] = (zmq_pollitem_t){p->sock, 0, ZMQ_POLLIN, 0};
  }
  if (fd >= 0) items[n] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
  int rc = zmq_poll(items, fd >= 0 ? n + 1 : n, timeout_ms);
  cw->polled_us = rl_now_us();
  if (rc < 0 && errno == EINTR) return rl_interrupted || rl_cw_running_cancelled(cw) ? 1 : 0;
  if (fd >= 0 && rc > 0 && (items[n].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) *fd_ready = true;
  if (rc > 0) {
    rl_msg_t m;
    for (int i = 0; i < n; i++) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      /* Bounded drain per socket so one busy peer can't starve the others. */
      for (int k = 0; k < 1024; k++) {
        int got = rl_msg_recv(items[i].socket, i == 0, &m);
        if (got == 0) break;
        if (got < 0) continue;
        do { /* each message of a batch */
          cw->messages++;
          if (i == 0) s_handle_router(cw, &m);
          else if (i == 1) s_handle_nm(cw, &m);
          else if (i == gcs_at) rl_pg_handle_gcs(cw, &m);
          else s_handle_peer(cw, peers[i], &m);
        } while (rl_msg_next(&m) > 0);
        rl_msg_close(&m);
      }
    }
  }
  rl_pg_apply(cw);
  rl_sub_tick(cw);
  rl_msg_flush(cw);
  return rl_interrupted || rl_cw_running_cancelled(cw) ? 1 : 0;
}

int rl_cw_poll(rl_cw_t *cw, int timeout_ms) { return s_poll(cw, -1, timeout_ms, NULL); }

/* The I/O thread's round (lock held): the owner's loop, also woken by wake_fd. */
static void s_serve(void *ctx, int wake_fd, int timeout_ms) {
  bool woken;
  s_poll(ctx, wake_fd, timeout_ms, &woken);
}

int rl_cw_poll_fd(rl_cw_t *cw, int fd, int timeout_ms, bool *fd_ready) {
  RL_CW_HOLD(cw);
  *fd_ready = false;
  return s_poll(cw, fd, timeout_ms, fd_ready);
}

int rl_cw_nm_call(rl_cw_t *cw, int type, const void *msg, uint64_t request, rl_msg_t *reply, int timeout_ms) {
  assert(!cw->awaited_request && "nested node manager calls");
  cw->awaited_request = request;
  cw->awaited_done = false;
  if (rl_wire_send(cw->nm, NULL, type, msg) != 0) {
    cw->awaited_request = 0;
    return -1;
  }
  int64_t deadline = rl_now_ms() + timeout_ms;
  while (!cw->awaited_done) {
    int64_t left = deadline - rl_now_ms();
    if (left <= 0 || rl_cw_poll(cw, left > 50 ? 50 : (int)left)) break;
  }
  cw->awaited_request = 0;
  if (!cw->awaited_done) return -1;
  *reply = cw->awaited_reply;
  cw->awaited_done = false;
  return 0;
}

void rl_cw_blocked(rl_cw_t *cw, bool blocked) {
  if (cw->kind != RL_CLIENT_WORKER || !cw->running || cw->blocked_told == blocked) return;
  cw->blocked_told = blocked;
  rl_nm_blocked_msg_t none = {0}; /* BLOCKED and UNBLOCKED have no fields */
  rl_wire_send(cw->nm, NULL, blocked ? RL_NM_BLOCKED : RL_NM_UNBLOCKED, &none);
}

uint64_t rl_cw_next_request(rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  return rl_cw_request_id(cw);
}

void *rl_cw_gcs_socket(rl_cw_t *cw) {
  if (cw->gcs) return cw->gcs;
  cw->gcs = s_socket(cw, ZMQ_DEALER);
  if (!cw->gcs) return NULL;
  /* Bounded: while the head is away, event batches are dropped, not piled up. */
  int hwm = 1000;
  zmq_setsockopt(cw->gcs, ZMQ_SNDHWM, &hwm, sizeof hwm);
  if (rl_net_connect(cw->gcs, cw->gcs_endpoint) != 0) {
    zmq_close(cw->gcs);
    cw->gcs = NULL;
  }
  return cw->gcs;
}

void rl_cw_flush_events(rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  rl_ev_flush(cw);
}

int rl_cw_gcs_call(rl_cw_t *cw, void *msgbuf, uint64_t request, void *reply_out, int timeout_ms) {
  RL_CW_HOLD(cw);
  rl_msgbuf_t *b = msgbuf;
  rl_msg_t *reply = reply_out;
  if (!rl_cw_gcs_socket(cw)) {
    rl_msgbuf_reset(b);
    return -1;
  }
  if (rl_msg_send(cw->gcs, NULL, b) != 0) return -1;
  rl_msg_flush(cw); /* batched messages do not wait for the head's answer */
  int64_t deadline = rl_now_ms() + timeout_ms;
  zmq_pollitem_t it = {cw->gcs, 0, ZMQ_POLLIN, 0};
  while (rl_now_ms() < deadline && !rl_interrupted) {
    if (zmq_poll(&it, 1, rl_ms_left(deadline)) <= 0) continue;
    while (rl_msg_recv(cw->gcs, false, reply) == 1) {
      uint64_t got;
      if (rl_wire_request_of(reply, &got) && got == request) return 0;
      rl_pg_handle_gcs(cw, reply); /* answers to pipelined requests */
      rl_msg_close(reply);
    }
  }
  return -1;
}

void rl_cw_set_error_encoder(rl_cw_t *cw, rl_cw_error_encoder fn, void *ctx) {
  RL_CW_HOLD(cw);
  cw->encode_error = fn;
  cw->encode_error_ctx = ctx;
}

void rl_cw_set_ready_hook(rl_cw_t *cw, rl_cw_ready_fn fn, void *ctx) {
  RL_CW_HOLD(cw);
  cw->nready_later = 0; /* meant for the hook being replaced */
  cw->on_ready = fn;
  cw->on_ready_ctx = ctx;
}

int rl_cw_poll_wait(rl_cw_t *cw, int timeout_ms) {
  RL_CW_HOLD(cw);
  /* Spin briefly first: a reply to a small task usually comes within tens of
   * microseconds, and sleeping would add a wake-up on another CPU to each one. */
  int64_t until = rl_now_us() + RL_SPIN_US;
  uint64_t seen = cw->messages;
  while (rl_now_us() < until) {
    if (rl_cw_poll(cw, 0)) return 1;
    if (cw->messages != seen) return 0;
  }
  return rl_cw_poll(cw, timeout_ms);
}
