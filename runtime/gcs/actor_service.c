/* actor_service.c: the head's actor manager (actor_service.h): detached actors' specs
 * and states, locations for callers, and the restarts the head makes once their owner
 * is gone: a lease from a node manager, then the creation task pushed to that worker. */
#include "gcs/actor_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gcs/actor_table.h"
#include "net/secure.h"
#include "sched/resources.h"
#include "wire/proto.h"
#include "wire/res_pack.h"
#include "wire/wire.h"

#define S_CREATE_TIMEOUT_MS 60000 /* a creation with no answer this long is started again */
#define S_SCAN_MS 100             /* how often actors waiting for a creation are looked at */

/* A DEALER to a node manager, where the head is a client (RL_CLIENT_REMOTE). */
typedef struct s_link {
  char endpoint[RL_ENDPOINT_MAX];
  void *sock;
  struct s_link *next;
} s_link_t;

/* A creation under way: a lease asked for, then the creation task pushed. */
typedef struct s_creation {
  rl_id_t actor, task_id, worker_id;
  uint64_t request;
  char node[RL_ENDPOINT_MAX]; /* the node manager asked (and granting) */
  char worker_endpoint[RL_ENDPOINT_MAX];
  void *worker_sock; /* once granted */
  int64_t started_ms;
  struct s_creation *next;
} s_creation_t;

/* A caller waiting to learn where an actor runs. */
typedef struct s_waiter {
  zmq_msg_t identity;
  uint64_t request;
  rl_id_t actor, dead;
  struct s_waiter *next;
} s_waiter_t;

struct rl_actor_service_t {
  void *router, *zctx;
  rl_node_table_t *nodes;
  rl_kv_t *kv;
  rl_gcs_db_t *db;
  rl_actor_table_t *table;
  rl_id_t self; /* the head's client id at node managers */
  char address[RL_ENDPOINT_MAX];
  s_link_t *links;
  s_creation_t *creations;
  s_waiter_t *waiters;
  uint64_t next_request;
  int64_t next_scan_ms;
};

static const rl_id_t s_nil;

static void s_save(rl_actor_service_t *s, const rl_gcs_actor_t *a) {
  if (!s->db) return;
  size_t len;
  char *blob = rl_gcs_actor_encode(a, &len), err[300];
  if (!blob || rl_gcs_db_actor(s->db, &a->id, blob, len, err, sizeof err) != 0)
    rl_log(RL_LOG_ERROR, "cannot save actor %s: %s", a->class_name, blob ? err : "out of memory");
  free(blob);
}

static void s_close(void **sock) {
  if (!*sock) return;
  int linger = 0;
  zmq_setsockopt(*sock, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(*sock);
  *sock = NULL;
}

/* CW_ACTOR_LOCATION: where a is (message: why it is dead; the head encodes no cause) */
static void s_reply(rl_actor_service_t *s, const zmq_msg_t *identity, uint64_t request, const rl_id_t *id,
                    const rl_gcs_actor_t *a) {
  bool alive = a && a->state == RL_AS_ALIVE;
  rl_cw_actor_location_msg_t r = {.request = request, .actor_id = *id, .alive = alive,
                                  .worker_id = alive ? a->worker_id : s_nil, .has_message = true,
                                  .message = rl_wire_str(alive ? "" : a ? a->message : "the actor is unknown to the head"),
                                  .has_node_endpoint = true};
  if (alive) {
    snprintf(r.endpoint, sizeof r.endpoint, "%s", a->worker_endpoint);
    snprintf(r.node_endpoint, sizeof r.node_endpoint, "%s", a->node_endpoint);
  }
  rl_cw_actor_location_msg_send(s->router, identity, &r);
}

/* Answers the callers waiting for a that can be answered now: it is dead, or alive on
 * a worker other than the one they saw die. */
static void s_answer(rl_actor_service_t *s, const rl_gcs_actor_t *a) {
  for (s_waiter_t **pp = &s->waiters; *pp;) {
    s_waiter_t *w = *pp;
    bool ready = rl_id_eq(&w->actor, &a->id) &&
                 (a->state == RL_AS_DEAD || (a->state == RL_AS_ALIVE && !rl_id_eq(&a->worker_id, &w->dead)));
    if (!ready) {
      pp = &w->next;
      continue;
    }
    s_reply(s, &w->identity, w->request, &a->id, a);
    *pp = w->next;
    zmq_msg_close(&w->identity);
    free(w);
  }
}

static s_creation_t *s_creation_of(rl_actor_service_t *s, const rl_id_t *actor) {
  for (s_creation_t *c = s->creations; c; c = c->next)
    if (rl_id_eq(&c->actor, actor)) return c;
  return NULL;
}

static void s_drop_creation(rl_actor_service_t *s, s_creation_t *c) {
  for (s_creation_t **pp = &s->creations; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  s_close(&c->worker_sock);
  free(c);
}

/* The name means this actor no more (if it still means it: a new actor may hold it). */
static void s_forget_name(rl_actor_service_t *s, rl_gcs_actor_t *a) {
  size_t klen = strlen(a->name_key), vlen;
  char hex[RL_ID_HEX], err[128];
  const char *v = klen ? rl_kv_get(s->kv, a->name_key, klen, &vlen) : NULL;
  if (!v || vlen < 32 || memcmp(v, rl_id_hex(&a->id, hex), 32)) return;
  void *prev = NULL;
  size_t plen;
  if (rl_kv_put(s->kv, a->name_key, klen, NULL, 0, &prev, &plen, err, sizeof err) == 0 && s->db &&
      rl_gcs_db_kv(s->db, a->name_key, klen, NULL, 0, err, sizeof err) != 0)
    rl_log(RL_LOG_ERROR, "cannot forget the name of actor %s: %s", a->class_name, err);
  free(prev);
}

/* The actor is gone for good: callers get ActorDiedError with message. */
static void s_dead(rl_actor_service_t *s, rl_gcs_actor_t *a, const char *message) {
  s_creation_t *c = s_creation_of(s, &a->id);
  if (c) s_drop_creation(s, c);
  a->state = RL_AS_DEAD;
  snprintf(a->message, sizeof a->message, "%s", message);
  a->worker_id = s_nil;
  a->worker_endpoint[0] = 0;
  rl_log(RL_LOG_INFO, "actor %s is dead: %s", a->class_name, message);
  s_forget_name(s, a);
  s_save(s, a);
  s_answer(s, a);
}

static s_link_t *s_link(rl_actor_service_t *s, const char *endpoint) {
  for (s_link_t *l = s->links; l; l = l->next)
    if (!strcmp(l->endpoint, endpoint)) return l;
  s_link_t *l = rl_xcalloc(1, sizeof *l);
  snprintf(l->endpoint, sizeof l->endpoint, "%s", endpoint);
  l->sock = zmq_socket(s->zctx, ZMQ_DEALER);
  if (!l->sock || zmq_setsockopt(l->sock, ZMQ_ROUTING_ID, s->self.b, RL_ID_SIZE) != 0 ||
      rl_net_connect(l->sock, endpoint) != 0) {
    rl_log(RL_LOG_WARN, "cannot reach node manager %s to create actors there", endpoint);
    s_close(&l->sock);
    free(l);
    return NULL;
  }
  rl_nm_register_msg_t reg = {.kind = RL_CLIENT_REMOTE, .worker_id = s->self, .pid = (uint64_t)getpid()};
  snprintf(reg.endpoint, sizeof reg.endpoint, "%s", s->address);
  rl_nm_register_msg_send(l->sock, NULL, &reg);
  l->next = s->links;
  s->links = l;
  return l;
}

static void s_drop_link(rl_actor_service_t *s, const char *endpoint) {
  for (s_link_t **pp = &s->links; *pp; pp = &(*pp)->next)
    if (!strcmp((*pp)->endpoint, endpoint)) {
      s_link_t *l = *pp;
      *pp = l->next;
      s_close(&l->sock);
      free(l);
      return;
    }
}

/* NM_LEASE for the actor's worker: dedicated, detached. */
static int s_lease(rl_actor_service_t *s, s_creation_t *c, const rl_gcs_actor_t *a, const char *node, bool spilled) {
  s_link_t *l = s_link(s, node);
  if (!l) return -1;
  snprintf(c->node, sizeof c->node, "%s", node);
  c->request = ++s->next_request;
  rl_nm_lease_msg_t lease = {.request = c->request, .resources = a->resources,
                             .has_dedicated = true, .dedicated = true,
                             .has_placement = true, .placement = a->placement,
                             .has_spilled = true, .spilled = spilled,
                             .has_strategy = true, .strategy = a->sched,
                             .has_detached = true, .detached = true,
                             .has_runtime_env = true, .runtime_env = rl_wire_str(a->runtime_env)};
  return rl_nm_lease_msg_send(l->sock, NULL, &lease);
}

/* A live node that can hold the actor: one with the resources free now if any, else
 * one that has them at all; NULL if none (it waits for one). */
static const char *s_pick_node(rl_actor_service_t *s, const rl_gcs_actor_t *a) {
  rl_resources_t need = a->resources;
  rl_res_add(&need, &a->placement);
  const char *fallback = NULL;
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(s->nodes, &cur));) {
    if (!n->alive || !rl_res_fits(&n->total, &need)) continue;
    if (rl_res_fits(&n->available, &need)) return n->endpoint;
    if (!fallback) fallback = n->endpoint;
  }
  return fallback;
}

/* Starts creating a (a lease first), unless a creation is under way or no node fits. */
static void s_start(rl_actor_service_t *s, rl_gcs_actor_t *a, int64_t now) {
  if (!s->zctx || s_creation_of(s, &a->id)) return;
  const char *node = s_pick_node(s, a);
  if (!node) return; /* looked at again on the next scan */
  s_creation_t *c = rl_xcalloc(1, sizeof *c);
  c->actor = a->id;
  c->task_id = rl_id_random();
  c->started_ms = now;
  c->next = s->creations;
  s->creations = c;
  char hex[RL_ID_HEX];
  rl_log(RL_LOG_INFO, "creating actor %s (%s) again, restart %llu, asking node %s", a->class_name,
         rl_id_hex(&a->id, hex), (unsigned long long)a->restarts_used, node);
  if (s_lease(s, c, a, node, false) != 0) s_drop_creation(s, c);
}

/* The head owns a and its worker is gone: create it again, or it is dead for good. */
static void s_restart(rl_actor_service_t *s, rl_gcs_actor_t *a, const char *why, int64_t now) {
  if (a->state == RL_AS_DEAD) return;
  char msg[400];
  if (!rl_gcs_actor_can_restart(a)) {
    snprintf(msg, sizeof msg, "the actor %s died: %s%s", a->class_name, why,
             a->max_restarts ? " (no restarts left)" : "; set max_restarts to restart it");
    s_dead(s, a, msg);
    return;
  }
  if (a->args_have_refs) {
    snprintf(msg, sizeof msg,
             "the actor %s died: %s; the head cannot create it again: its __init arguments were object refs, "
             "which went with its owner (pass plain values to restart it)",
             a->class_name, why);
    s_dead(s, a, msg);
    return;
  }
  a->restarts_used++;
  a->state = RL_AS_RESTARTING;
  a->worker_id = s_nil;
  a->worker_endpoint[0] = 0;
  rl_log(RL_LOG_INFO, "restarting actor %s (%s)", a->class_name, why);
  s_save(s, a);
  s_start(s, a, now);
}

/* Pushes the creation task of a to c's worker: its __init arguments read back from the
 * bytes s_keep_args kept (they borrow from a->args: the payloads are copied once, into
 * the message, as when they were kept whole). Returns 0 (sent, or refused by the socket:
 * the creation then times out and starts again), or -1 with err if the kept arguments
 * do not read back or the message does not pack (a will never be created). */
static int s_push(rl_actor_service_t *s, s_creation_t *c, const rl_gcs_actor_t *a, char *err, size_t errlen) {
  rl_cw_push_task_msg_t p = {.task_id = c->task_id, .owner_id = s->self,
                             .function_key = rl_wire_bytes(a->fn_key, a->fn_key_len),
                             .has_function = true, .function = rl_wire_bytes(a->fn, a->fn_len),
                             .num_returns = 1, .attempt = a->restarts_used, .name = rl_wire_str(a->class_name),
                             .has_kind = true, .kind = RL_KIND_ACTOR_CREATE, .has_method = true,
                             .method = rl_wire_str(""), .has_actor_id = true, .actor_id = a->id,
                             .has_num_cpus = true, .num_cpus = rl_res_get(&a->resources, "CPU")};
  snprintf(p.owner_endpoint, sizeof p.owner_endpoint, "%s", s->address);
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  rl_msgbuf_t b;
  int rc = -1;
  if (msgpack_unpack_next(&up, a->args, a->args_len, NULL) != MSGPACK_UNPACK_SUCCESS)
    snprintf(err, errlen, "its kept __init arguments are not msgpack");
  else if (rl_wire_unpack_field(RL_CW_PUSH_TASK, "args", &up.data, up.zone, &p.args, err, errlen) == 0 &&
           rl_cw_push_task_msg_pack(&p, &b, err, errlen) == 0)
    rc = 0;
  msgpack_unpacked_destroy(&up); /* b holds its own copy of the arguments */
  if (rc == 0) rl_msg_send(c->worker_sock, NULL, &b);
  return rc;
}

static s_creation_t *s_creation_by_request(rl_actor_service_t *s, uint64_t request) {
  for (s_creation_t *c = s->creations; c; c = c->next)
    if (c->request == request && !c->worker_sock) return c;
  return NULL;
}

static void s_on_granted(rl_actor_service_t *s, const rl_msg_t *m) {
  rl_nm_lease_granted_msg_t g;
  if (!rl_nm_lease_granted_msg_read(m, &g)) return;
  s_creation_t *c = s_creation_by_request(s, g.request);
  rl_gcs_actor_t *a = c ? rl_actor_table_get(s->table, &c->actor) : NULL;
  if (!a || snprintf(c->worker_endpoint, sizeof c->worker_endpoint, "%s", g.endpoint) >= (int)sizeof c->worker_endpoint) {
    rl_log(RL_LOG_WARN, "dropped a lease grant for no actor the head creates");
    return;
  }
  c->worker_id = g.worker_id;
  c->worker_sock = zmq_socket(s->zctx, ZMQ_DEALER);
  if (!c->worker_sock || rl_net_connect(c->worker_sock, c->worker_endpoint) != 0) {
    rl_log(RL_LOG_WARN, "cannot reach the worker %s leased for actor %s", c->worker_endpoint, a->class_name);
    s_close(&c->worker_sock);
    return; /* the creation times out and starts again */
  }
  char err[300], msg[400];
  if (s_push(s, c, a, err, sizeof err) != 0) {
    snprintf(msg, sizeof msg, "the actor %s cannot be created again: %s", a->class_name, err);
    s_dead(s, a, msg); /* drops c */
  }
}

static bool s_node_alive(rl_actor_service_t *s, const char *endpoint) {
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(s->nodes, &cur));)
    if (!strcmp(n->endpoint, endpoint)) return n->alive;
  return false;
}

/* LEASE_SPILLBACK: ask that node instead */
static void s_on_spillback(rl_actor_service_t *s, const rl_msg_t *m) {
  rl_nm_lease_spillback_msg_t sb;
  if (!rl_nm_lease_spillback_msg_read(m, &sb)) return;
  const char *node = sb.node_endpoint;
  s_creation_t *c = s_creation_by_request(s, sb.request);
  rl_gcs_actor_t *a = c ? rl_actor_table_get(s->table, &c->actor) : NULL;
  if (!a) return;
  /* A node manager's view lags the head's by up to a poll: a node the head knows dead
   * would never answer; the next scan asks again (by then the view is current). */
  if (!s_node_alive(s, node) || s_lease(s, c, a, node, true) != 0) s_drop_creation(s, c);
}

/* LEASE_INFEASIBLE or LEASE_PG_REMOVED */
static void s_on_refused(rl_actor_service_t *s, const rl_msg_t *m, const char *why) {
  union {
    rl_nm_lease_infeasible_msg_t infeasible;
    rl_nm_lease_pg_removed_msg_t pg_removed;
  } u;
  if (!rl_wire_read(m, m->type, &u)) return;
  bool infeasible = m->type == RL_NM_LEASE_INFEASIBLE;
  s_creation_t *c = s_creation_by_request(s, infeasible ? u.infeasible.request : u.pg_removed.request);
  rl_gcs_actor_t *a = c ? rl_actor_table_get(s->table, &c->actor) : NULL;
  if (!a) return;
  char reason[200] = "", msg[400];
  if (infeasible) {
    size_t n = u.infeasible.reason.n < sizeof reason ? u.infeasible.reason.n : sizeof reason - 1;
    snprintf(reason, sizeof reason, "%.*s", (int)n, n ? u.infeasible.reason.p : "");
  }
  snprintf(msg, sizeof msg, "the actor %s cannot be created again: %s%s%s", a->class_name, why, *reason ? ": " : "",
           reason);
  s_dead(s, a, msg);
}

/* A worker is gone: a creation on it fails, and an actor the head owns that ran on it
 * restarts. */
static void s_worker_gone(rl_actor_service_t *s, const rl_id_t *worker, const char *why, int64_t now) {
  for (s_creation_t *c = s->creations, *next; c; c = next) {
    next = c->next;
    if (!c->worker_sock || !rl_id_eq(&c->worker_id, worker)) continue;
    rl_gcs_actor_t *a = rl_actor_table_get(s->table, &c->actor);
    s_drop_creation(s, c);
    if (a) s_restart(s, a, why, now);
  }
  size_t cur = 0;
  for (rl_gcs_actor_t *a; (a = rl_actor_table_next(s->table, &cur));)
    if (!a->owner_alive && a->state == RL_AS_ALIVE && rl_id_eq(&a->worker_id, worker)) s_restart(s, a, why, now);
}

/* TASK_DONE from the worker a creation was pushed to */
static void s_on_done(rl_actor_service_t *s, s_creation_t *c, const rl_msg_t *m) {
  rl_cw_task_done_msg_t done;
  if (!rl_cw_task_done_msg_read(m, &done) || !rl_id_eq(&done.task_id, &c->task_id)) return;
  uint64_t status = done.status;
  rl_gcs_actor_t *a = rl_actor_table_get(s->table, &c->actor);
  if (!a) {
    s_drop_creation(s, c);
    return;
  }
  if (status != RL_TASK_OK) {
    char msg[300];
    snprintf(msg, sizeof msg, "the actor %s died: its __init raised an error when the head created it again",
             a->class_name);
    s_dead(s, a, msg); /* drops c */
    return;
  }
  a->state = RL_AS_ALIVE;
  a->worker_id = c->worker_id;
  snprintf(a->worker_endpoint, sizeof a->worker_endpoint, "%s", c->worker_endpoint);
  snprintf(a->node_endpoint, sizeof a->node_endpoint, "%s", c->node);
  rl_log(RL_LOG_INFO, "actor %s is alive again at %s", a->class_name, a->worker_endpoint);
  s_drop_creation(s, c);
  s_save(s, a);
  s_answer(s, a);
}

/* Drains a socket of the service: node manager news, or a creation's result. */
static void s_drain(rl_actor_service_t *s, void *sock, s_creation_t *c, int64_t now) {
  rl_msg_t m;
  for (int k = 0; k < 256; k++) {
    int got = rl_msg_recv(sock, false, &m);
    if (got == 0) break;
    if (got < 0) continue;
    switch (m.type) {
      case RL_NM_LEASE_GRANTED: s_on_granted(s, &m); break;
      case RL_NM_LEASE_SPILLBACK: s_on_spillback(s, &m); break;
      case RL_NM_LEASE_INFEASIBLE: s_on_refused(s, &m, "no node can hold it"); break;
      case RL_NM_LEASE_PG_REMOVED: s_on_refused(s, &m, "its placement group was removed"); break;
      case RL_NM_WORKER_DIED: {
        rl_nm_worker_died_msg_t died;
        char why[260];
        if (!rl_nm_worker_died_msg_read(&m, &died)) break;
        size_t n = died.reason.n < 200 ? died.reason.n : 199;
        snprintf(why, sizeof why, "its worker died: %.*s", (int)n, n ? died.reason.p : "");
        s_worker_gone(s, &died.worker_id, why, now);
        break;
      }
      case RL_CW_TASK_DONE:
        if (c) {
          s_on_done(s, c, &m);
          rl_msg_close(&m);
          return; /* c may be freed */
        }
        break;
      default: break; /* welcome, logs, borrower news: nothing for the head */
    }
    rl_msg_close(&m);
  }
}

/* Keeps the __init arguments as the creation task carries them: the value of
 * CW_PUSH_TASK's field 'args' packed alone (s_push reads it back). Returns 0, or -1. */
static int s_keep_args(rl_gcs_actor_t *a, const rl_gcs_actor_register_msg_t *r) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  char err[300];
  int rc = rl_wire_pack_field(RL_CW_PUSH_TASK, "args", &r->args, &pk, err, sizeof err);
  if (rc != 0) rl_log(RL_LOG_WARN, "cannot keep an actor's __init arguments: %s", err);
  else rc = rl_gcs_actor_set(&a->args, &a->args_len, sb.data ? sb.data : "", sb.size);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* REGISTER (wire/proto.h) */
static void s_on_register(rl_actor_service_t *s, const rl_msg_t *m) {
  rl_gcs_actor_register_msg_t r;
  if (!rl_gcs_actor_register_msg_read(m, &r)) return;
  if (r.max_restarts < -1) {
    rl_log(RL_LOG_WARN, "dropped GCS_ACTOR_REGISTER: field 'max_restarts' is %lld (-1 or more expected)",
           (long long)r.max_restarts);
    return;
  }
  rl_gcs_actor_t *a = rl_gcs_actor_new();
  if (a && !rl_wire_strcpy(a->class_name, sizeof a->class_name, r.class_name)) {
    rl_log(RL_LOG_WARN, "dropped GCS_ACTOR_REGISTER: field 'class_name' is longer than %zu bytes or holds a NUL",
           sizeof a->class_name - 1);
    rl_gcs_actor_destroy(&a);
    return;
  }
  bool ok = a && rl_gcs_actor_set(&a->name_key, NULL, r.name_key.p, r.name_key.n) == 0 &&
            rl_gcs_actor_set(&a->fn_key, &a->fn_key_len, r.function_key.p, r.function_key.n) == 0 &&
            rl_gcs_actor_set(&a->fn, &a->fn_len, r.function.p, r.function.n) == 0 &&
            rl_gcs_actor_set(&a->runtime_env, NULL, r.runtime_env.p, r.runtime_env.n) == 0 && s_keep_args(a, &r) == 0;
  if (!ok) {
    rl_log(RL_LOG_WARN, "dropped an actor registration: out of memory, or a name holding a NUL");
    rl_gcs_actor_destroy(&a);
    return;
  }
  a->id = r.actor_id;
  a->args_have_refs = r.args_have_refs;
  a->resources = r.resources;
  a->placement = r.placement;
  a->sched = r.strategy;
  a->max_restarts = r.max_restarts;
  a->owner_id = r.owner_id;
  memcpy(a->owner_endpoint, r.owner_endpoint, sizeof a->owner_endpoint);
  memcpy(a->owner_node, r.owner_node, sizeof a->owner_node);
  a->state = RL_AS_PENDING;
  a->owner_alive = true;
  s_save(s, a);
  rl_gcs_actor_t *kept = a;
  rl_actor_table_put(s->table, &a);
  rl_log(RL_LOG_INFO, "detached actor %s registered", kept->class_name);
}

/* UPDATE: the owner's news of its actor */
static void s_on_update(rl_actor_service_t *s, const rl_msg_t *m) {
  rl_gcs_actor_update_msg_t u;
  if (!rl_gcs_actor_update_msg_read(m, &u)) return;
  rl_gcs_actor_t *a = rl_actor_table_get(s->table, &u.actor_id);
  if (!a) return; /* registered with a head that kept no database */
  if (a->state == RL_AS_DEAD) return;
  a->worker_id = u.worker_id;
  memcpy(a->worker_endpoint, u.endpoint, sizeof a->worker_endpoint);
  memcpy(a->node_endpoint, u.node_endpoint, sizeof a->node_endpoint);
  a->restarts_used = u.restarts_used;
  if (u.state == RL_AS_DEAD) {
    char message[300];
    snprintf(message, sizeof message, "%.*s", (int)(u.message.n < 299 ? u.message.n : 299), u.message.p ? u.message.p : "");
    s_dead(s, a, message);
    return;
  }
  a->state = (int)u.state;
  s_save(s, a);
  s_answer(s, a);
}

/* LOCATE: where does the actor run? */
static void s_on_locate(rl_actor_service_t *s, const rl_msg_t *m) {
  rl_gcs_actor_locate_msg_t q;
  if (!rl_gcs_actor_locate_msg_read(m, &q)) return;
  rl_gcs_actor_t *a = rl_actor_table_get(s->table, &q.actor_id);
  if (!a || a->state == RL_AS_DEAD || (a->state == RL_AS_ALIVE && !rl_id_eq(&a->worker_id, &q.dead_worker))) {
    s_reply(s, &m->identity, q.request, &q.actor_id, a);
    return;
  }
  s_waiter_t *w = rl_xcalloc(1, sizeof *w);
  zmq_msg_init(&w->identity);
  zmq_msg_copy(&w->identity, (zmq_msg_t *)&m->identity);
  w->request = q.request;
  w->actor = q.actor_id;
  w->dead = q.dead_worker;
  w->next = s->waiters;
  s->waiters = w;
}

/* KILL: rayl.kill of a detached actor */
static void s_on_kill(rl_actor_service_t *s, const rl_msg_t *m) {
  rl_gcs_actor_kill_msg_t k;
  if (!rl_gcs_actor_kill_msg_read(m, &k)) return;
  rl_gcs_actor_t *a = rl_actor_table_get(s->table, &k.actor_id);
  if (!a || a->state == RL_AS_DEAD) return;
  if (s->zctx && a->worker_endpoint[0]) {
    void *sock = zmq_socket(s->zctx, ZMQ_DEALER);
    if (sock && rl_net_connect(sock, a->worker_endpoint) == 0) {
      rl_cw_kill_actor_msg_t kill = {.actor_id = k.actor_id, .no_restart = true};
      rl_cw_kill_actor_msg_send(sock, NULL, &kill);
    }
    if (sock) {
      int linger = 1000; /* the message leaves before the socket goes */
      zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
      zmq_close(sock);
    }
  }
  if (k.no_restart && !a->owner_alive) {
    char msg[200];
    snprintf(msg, sizeof msg, "the actor %s was killed by rayl.kill", a->class_name);
    s_dead(s, a, msg);
  }
}

bool rl_actor_service_accepts(int type) {
  return type == RL_GCS_ACTOR_REGISTER || type == RL_GCS_ACTOR_UPDATE || type == RL_GCS_ACTOR_LOCATE ||
         type == RL_GCS_ACTOR_KILL;
}

void rl_actor_service_handle(rl_actor_service_t *s, const rl_msg_t *m) {
  switch (m->type) {
    case RL_GCS_ACTOR_REGISTER: s_on_register(s, m); break;
    case RL_GCS_ACTOR_UPDATE: s_on_update(s, m); break;
    case RL_GCS_ACTOR_LOCATE: s_on_locate(s, m); break;
    case RL_GCS_ACTOR_KILL: s_on_kill(s, m); break;
    default: break;
  }
}

/* The owner of a is gone: the head owns it from now on. */
static void s_take_over(rl_actor_service_t *s, rl_gcs_actor_t *a) {
  a->owner_alive = false;
  char hex[RL_ID_HEX];
  if (a->state != RL_AS_DEAD)
    rl_log(RL_LOG_INFO, "the owner of detached actor %s (%s) is gone: the head owns it", a->class_name,
           rl_id_hex(&a->id, hex));
  s_save(s, a); /* a creation it left unfinished starts on the next scan */
}

void rl_actor_service_clients_gone(rl_actor_service_t *s, const rl_id_t *ids, size_t n) {
  int64_t now = rl_now_ms();
  size_t cur = 0;
  for (rl_gcs_actor_t *a; (a = rl_actor_table_next(s->table, &cur));) {
    if (!a->owner_alive) continue;
    for (size_t i = 0; i < n; i++)
      if (rl_id_eq(&a->owner_id, &ids[i])) {
        s_take_over(s, a);
        break;
      }
  }
  for (size_t i = 0; i < n; i++) s_worker_gone(s, &ids[i], "its worker died", now);
}

void rl_actor_service_node_died(rl_actor_service_t *s, const char *endpoint) {
  int64_t now = rl_now_ms();
  s_drop_link(s, endpoint);
  size_t cur = 0;
  for (rl_gcs_actor_t *a; (a = rl_actor_table_next(s->table, &cur));)
    if (a->owner_alive && !strcmp(a->owner_node, endpoint)) s_take_over(s, a);
  for (s_creation_t *c = s->creations, *next; c; c = next) {
    next = c->next;
    if (strcmp(c->node, endpoint)) continue;
    rl_gcs_actor_t *a = rl_actor_table_get(s->table, &c->actor);
    bool granted = c->worker_sock != NULL;
    s_drop_creation(s, c);
    if (a && granted) s_restart(s, a, "its node died", now);
    /* not granted yet: asked again elsewhere on the next scan */
  }
  cur = 0;
  char why[300];
  snprintf(why, sizeof why, "its node (%s) died", endpoint);
  for (rl_gcs_actor_t *a; (a = rl_actor_table_next(s->table, &cur));)
    if (!a->owner_alive && a->state == RL_AS_ALIVE && !strcmp(a->node_endpoint, endpoint)) s_restart(s, a, why, now);
}

void rl_actor_service_tick(rl_actor_service_t *s, int64_t now) {
  for (s_link_t *l = s->links; l; l = l->next) s_drain(s, l->sock, NULL, now);
  for (s_creation_t *c = s->creations, *next; c; c = next) {
    next = c->next;
    if (c->worker_sock) s_drain(s, c->worker_sock, c, now); /* may free c */
  }
  if (now < s->next_scan_ms) return;
  s->next_scan_ms = now + S_SCAN_MS;
  for (s_creation_t *c = s->creations, *next; c; c = next) {
    next = c->next;
    if (now - c->started_ms < S_CREATE_TIMEOUT_MS) continue;
    rl_log(RL_LOG_WARN, "a creation of an actor got no answer in %d s: starting it again", S_CREATE_TIMEOUT_MS / 1000);
    s_drop_creation(s, c);
  }
  size_t cur = 0;
  for (rl_gcs_actor_t *a; (a = rl_actor_table_next(s->table, &cur));)
    if (!a->owner_alive && (a->state == RL_AS_PENDING || a->state == RL_AS_RESTARTING)) s_start(s, a, now);
}

size_t rl_actor_service_count(const rl_actor_service_t *s) { return rl_actor_table_size(s->table); }

bool rl_actor_service_busy(const rl_actor_service_t *s) { return s->creations != NULL; }

static void s_load_one(void *arg, const rl_id_t *id, const void *record, size_t len) {
  rl_actor_service_t *s = arg;
  char why[160];
  rl_gcs_actor_t *a = rl_gcs_actor_decode(id, record, len, why, sizeof why);
  if (!a) {
    rl_log(RL_LOG_WARN, "skipped an actor of the head's database: %s", why);
    return;
  }
  rl_actor_table_put(s->table, &a);
}

rl_actor_service_t *rl_actor_service_new(void *router, void *zctx, rl_node_table_t *nodes, rl_kv_t *kv,
                                         rl_gcs_db_t *db, const char *address, char *err, size_t errlen) {
  rl_actor_service_t *s = rl_xcalloc(1, sizeof *s);
  s->table = rl_actor_table_new();
  s->router = router;
  s->zctx = zctx;
  s->nodes = nodes;
  s->kv = kv;
  s->db = db;
  s->self = rl_id_random();
  snprintf(s->address, sizeof s->address, "%s", address ? address : "");
  if (db && rl_gcs_db_load_actors(db, s_load_one, s, err, errlen) != 0) {
    rl_actor_service_destroy(&s);
    return NULL;
  }
  return s;
}

void rl_actor_service_destroy(rl_actor_service_t **p) {
  if (!p || !*p) return;
  rl_actor_service_t *s = *p;
  while (s->creations) s_drop_creation(s, s->creations);
  for (s_link_t *l = s->links, *next; l; l = next) {
    next = l->next;
    s_close(&l->sock);
    free(l);
  }
  for (s_waiter_t *w = s->waiters, *next; w; w = next) {
    next = w->next;
    zmq_msg_close(&w->identity);
    free(w);
  }
  rl_actor_table_destroy(&s->table);
  free(s);
  *p = NULL;
}
