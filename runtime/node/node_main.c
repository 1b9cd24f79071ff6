/* node_main.c: the node manager process: arguments, sockets, and its event loop. */
#include "node/node_main.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/memory.h"
#include "common/xalloc.h"
#include "gpu/detect.h"
#include "node/log_service.h"
#include "node/nm.h"
#include "node/transfer.h"
#include "net/key.h"
#include "net/secure.h"
#include "wire/proto.h"

static const char *s_usage =
    "usage: rayl node --endpoint E --gcs G --session DIR [options]\n"
    "Runs a node manager. rayl starts it itself (`rayl start`, `rayl script.lua`);\n"
    "run it by hand only to debug.\n"
    "  --endpoint E              address to listen on (ipc://PATH or tcp://HOST:PORT)\n"
    "  --gcs G                   the head's address\n"
    "  --session DIR             session folder (logs/, sockets/)\n"
    "  --num-cpus N              CPUs to offer (default: all cores)\n"
    "  --num-gpus N              GPUs to offer, a whole number (default: those the CUDA\n"
    "                            driver finds; device ids from CUDA_VISIBLE_DEVICES if set)\n"
    "  --resource NAME=AMOUNT    a custom resource (repeatable)\n"
    "  --object-store-memory B   bytes of shared memory for objects\n"
    "  --parent-pid PID          exit when this process exits\n"
    "  --cluster-key FILE        secure tcp with this cluster key (CURVE); needed for tcp\n"
    "  --no-security             use tcp without a key (anyone who reaches it gets in)\n";

static rl_client_t *s_client(rl_nm_t *nm, const rl_id_t *id) {
  for (rl_client_t *c = nm->clients; c; c = c->next)
    if (rl_id_eq(&c->id, id)) return c;
  return NULL;
}

/* The send_to hook (nm.h). */
static int s_send_to(void *ctx, const rl_id_t *client, int type, const void *msg) {
  rl_nm_t *nm = ctx;
  zmq_msg_t identity;
  zmq_msg_init_size(&identity, RL_ID_SIZE);
  memcpy(zmq_msg_data(&identity), client->b, RL_ID_SIZE);
  int rc = rl_wire_send(nm->router, &identity, type, msg);
  zmq_msg_close(&identity);
  return rc;
}

static uint64_t s_owner_client(void *ctx, const rl_id_t *owner) {
  rl_client_t *c = s_client(ctx, owner);
  return c ? c->key : 0;
}

/* The client_gone hook (nm.h). */
static void s_client_gone(void *ctx, const rl_id_t *id, rl_gone_t how) {
  rl_nm_t *nm = ctx;
  bool known = false;
  for (rl_client_t **pp = &nm->clients; *pp; pp = &(*pp)->next) {
    rl_client_t *c = *pp;
    if (!rl_id_eq(&c->id, id)) continue;
    *pp = c->next;
    if (c->kind != RL_CLIENT_REMOTE) {
      /* The head removes the placement groups it created (unless detached). */
      rl_gcs_client_gone_msg_t g = {.worker_id = *id};
      rl_gcs_client_gone_msg_send(nm->gcs, NULL, &g);
    }
    rl_store_service_client_gone(nm->store, c->key);
    free(c);
    known = true;
    break;
  }
  int leases = rl_leases_client_gone(nm, id, how != RL_GONE_GOODBYE);
  if (how == RL_GONE_DIED && nm->ndied < 65536) {
    if (nm->ndied == nm->capdied) {
      size_t cap = nm->capdied ? 2 * nm->capdied : 16;
      nm->died = rl_xrealloc(nm->died, cap * sizeof *nm->died);
      nm->capdied = cap;
    }
    nm->died[nm->ndied++] = *id;
  }
  if (how == RL_GONE_DIED_ELSEWHERE && (known || leases)) {
    char hex[RL_ID_HEX];
    rl_log(RL_LOG_INFO, "client %s died on another node: released its %d lease%s here", rl_id_hex(id, hex), leases,
           leases == 1 ? "" : "s");
  }
}

static void s_welcome(rl_nm_t *nm, const rl_id_t *to) {
  rl_nm_welcome_msg_t w;
  w.node_id = nm->node_id;
  snprintf(w.store_path, sizeof w.store_path, "%s", rl_store_service_path(nm->store));
  w.store_size = rl_store_service_capacity(nm->store);
  snprintf(w.node_endpoint, sizeof w.node_endpoint, "%s", nm->endpoint);
  snprintf(w.gcs_endpoint, sizeof w.gcs_endpoint, "%s", nm->gcs_endpoint);
  snprintf(w.session_dir, sizeof w.session_dir, "%s", nm->session_dir);
  w.resources = nm->total;
  rl_nm_send_to(nm, to, RL_NM_WELCOME, &w);
}

static void s_register(rl_nm_t *nm, const rl_id_t *from, rl_msg_t *m) {
  rl_nm_register_msg_t r;
  if (!rl_nm_register_msg_read(m, &r)) return;
  if (!rl_id_eq(&r.worker_id, from)) {
    rl_log(RL_LOG_WARN, "dropped NM_REGISTER: field 'worker_id' is not the sender's routing id");
    return;
  }
  uint64_t kind = r.kind, pid = r.pid;
  rl_id_t id = r.worker_id;
  const char *endpoint = r.endpoint;
  rl_client_t *c = s_client(nm, &id);
  if (!c) {
    c = rl_xcalloc(1, sizeof *c);
    c->id = id;
    c->key = ++nm->next_client_key;
    c->next = nm->clients;
    nm->clients = c;
  }
  c->kind = (int)kind;
  c->pid = (pid_t)pid;
  snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
  if (kind != RL_CLIENT_REMOTE) nm->clients_changed = true;
  if (kind == RL_CLIENT_WORKER) {
    rl_worker_t *w = rl_pool_by_pid(nm, (pid_t)pid);
    if (w && !w->registered) {
      w->registered = true;
      w->id = id;
      snprintf(w->endpoint, sizeof w->endpoint, "%s", endpoint);
      w->state = RL_W_IDLE;
      nm->failed_starts = 0;
    }
  }
  s_welcome(nm, &id);
  rl_leases_serve(nm);
}

static void s_resources(rl_nm_t *nm, const rl_id_t *from, rl_msg_t *m) {
  rl_nm_resources_msg_t q;
  if (!rl_nm_resources_msg_read(m, &q)) return;
  rl_nm_resources_reply_msg_t r = {.request = q.request, .total = nm->total, .available = nm->available};
  rl_nm_send_to(nm, from, RL_NM_RESOURCES_REPLY, &r);
}

/* LIST_WORKERS -> WORKERS (wire/proto.h): the drivers and workers registered here. */
static void s_list_workers(rl_nm_t *nm, rl_msg_t *m) {
  rl_nm_list_workers_msg_t q;
  if (!rl_nm_list_workers_msg_read(m, &q)) return;
  uint32_t n = 0;
  for (rl_client_t *c = nm->clients; c; c = c->next) n += c->kind != RL_CLIENT_REMOTE;
  rl_nm_workers_msg_t r = {.request = q.request, .node_id = nm->node_id};
  r.clients.v = rl_xcalloc(n ? n : 1, sizeof *r.clients.v);
  for (rl_client_t *c = nm->clients; c; c = c->next) {
    if (c->kind == RL_CLIENT_REMOTE) continue;
    rl_wire_client_info_t *e = &r.clients.v[r.clients.n++];
    e->worker_id = c->id;
    e->pid = (uint64_t)c->pid;
    e->kind = (uint64_t)c->kind;
    snprintf(e->endpoint, sizeof e->endpoint, "%s", c->endpoint);
  }
  if (rl_nm_workers_msg_send(nm->router, m->has_identity ? &m->identity : NULL, &r) != 0)
    rl_log(RL_LOG_DEBUG, "worker listing for request %llu dropped (asker gone?)", (unsigned long long)q.request);
  free(r.clients.v);
}

static void s_handle(rl_nm_t *nm, rl_msg_t *m) {
  if (zmq_msg_size(&m->identity) != RL_ID_SIZE) {
    rl_log(RL_LOG_WARN, "dropped a message from a peer with an unexpected routing id");
    return;
  }
  rl_id_t from;
  memcpy(from.b, zmq_msg_data(&m->identity), RL_ID_SIZE);
  if (m->type == RL_NM_REGISTER) {
    s_register(nm, &from, m);
    return;
  }
  if (m->type == RL_NM_LIST_WORKERS) { /* anyone may look (rayl stack, rayl memory) */
    s_list_workers(nm, m);
    return;
  }
  if (m->type == RL_NM_LOGS) { /* anyone may look (rayl logs, the dashboard) */
    rl_log_service_handle(nm->router, m, nm->session_dir, &nm->node_id);
    return;
  }
  if (m->type == RL_NM_LIST_OBJECTS) { /* anyone may look (rayl list objects) */
    rl_store_service_list(nm->store, nm->router, m, &nm->node_id);
    return;
  }
  rl_client_t *c = s_client(nm, &from);
  if (!c) {
    rl_log(RL_LOG_WARN, "dropped message type %d from an unregistered peer", m->type);
    return;
  }
  switch (m->type) {
    case RL_NM_LEASE: rl_leases_request(nm, &from, m); break;
    case RL_NM_RETURN: rl_leases_return(nm, &from, m); break;
    case RL_NM_BLOCKED: rl_leases_blocked(nm, &from, true); break;
    case RL_NM_UNBLOCKED: rl_leases_blocked(nm, &from, false); break;
    case RL_NM_STORE_GET:
      if (rl_transfer_get(nm, m, &from, c->key)) break;
      __attribute__((fallthrough)); /* the object is (or should be) here */
    case RL_NM_STORE_CREATE:
    case RL_NM_STORE_SEAL:
    case RL_NM_STORE_RELEASE:
    case RL_NM_STORE_DELETE:
      rl_store_service_handle(nm->store, nm->router, m, c->key, s_owner_client, nm);
      if (m->type == RL_NM_STORE_DELETE) rl_transfer_delete_elsewhere(nm, m);
      break;
    case RL_NM_RESOURCES: s_resources(nm, &from, m); break;
    case RL_NM_PULL: rl_transfer_serve(nm, &from, m); break;
    case RL_NM_PULL_OPEN: rl_transfer_open(nm, &from, m); break;
    case RL_NM_GOODBYE: {
      rl_pool_flush_output(nm);
      rl_nm_goodbye_msg_t bye = {0};
      rl_nm_send_to(nm, &from, RL_NM_GOODBYE, &bye);
      rl_nm_client_gone(nm, &from, RL_GONE_GOODBYE);
      break;
    }
    default: rl_log(RL_LOG_WARN, "dropped unknown message type %d", m->type);
  }
}

/* The number after key in /proc/meminfo's text (kB, returned in bytes), or 0. */
static uint64_t s_meminfo(const char *text, const char *key) {
  const char *p = strstr(text, key);
  return p ? strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

/* RL_GCS_HEARTBEAT's stats: the store, the workers, the queue and the machine. */
enum { S_NSTATS = 11 };
typedef struct {
  msgpack_object map;
  msgpack_object_kv kv[S_NSTATS];
} s_stats_t;

/* Fills st with the stats, as a msgpack map {name: f64} (the names are literals). */
static void s_stats(rl_nm_t *nm, s_stats_t *st) {
  size_t used = 0, objects = 0, spilled = 0, workers = 0, leased = 0, queued = 0;
  rl_store_service_stats(nm->store, &used, &objects, &spilled);
  for (const rl_worker_t *w = nm->workers; w; w = w->next) {
    workers++;
    leased += w->state == RL_W_LEASED;
  }
  for (const rl_lease_req_t *q = nm->queue; q; q = q->next) queued++;
  char text[4096] = "";
  double load1 = 0;
  FILE *f = fopen("/proc/meminfo", "r");
  if (f) {
    text[fread(text, 1, sizeof text - 1, f)] = 0;
    fclose(f);
  }
  if ((f = fopen("/proc/loadavg", "r"))) {
    if (fscanf(f, "%lf", &load1) != 1) load1 = 0;
    fclose(f);
  }
  const struct {
    const char *name;
    double v;
  } s[] = {{"store_used", (double)used},
           {"store_capacity", (double)rl_store_service_capacity(nm->store)},
           {"objects", (double)objects},
           {"spilled", (double)spilled},
           {"workers", (double)workers},
           {"workers_leased", (double)leased},
           {"queued", (double)queued},
           {"mem_total", (double)s_meminfo(text, "MemTotal:")},
           {"mem_available", (double)s_meminfo(text, "MemAvailable:")},
           {"load1", load1},
           {"cpus", (double)sysconf(_SC_NPROCESSORS_ONLN)}};
  _Static_assert(sizeof s / sizeof s[0] == S_NSTATS, "S_NSTATS counts the stats");
  for (size_t i = 0; i < S_NSTATS; i++) {
    st->kv[i].key.type = MSGPACK_OBJECT_STR;
    st->kv[i].key.via.str.ptr = s[i].name;
    st->kv[i].key.via.str.size = (uint32_t)strlen(s[i].name);
    st->kv[i].val.type = MSGPACK_OBJECT_FLOAT64;
    st->kv[i].val.via.f64 = s[i].v;
  }
  st->map.type = MSGPACK_OBJECT_MAP;
  st->map.via.map.size = S_NSTATS;
  st->map.via.map.ptr = st->kv;
}

static void s_heartbeat(rl_nm_t *nm, bool first) {
  if (first) {
    rl_gcs_register_node_msg_t r = {.node_id = nm->node_id, .resources = nm->total, .pid = (uint64_t)getpid(),
                                    .gpus = rl_wire_str(nm->gpu_note), .has_gpus = true};
    snprintf(r.node_endpoint, sizeof r.node_endpoint, "%s", nm->endpoint);
    rl_gcs_register_node_msg_send(nm->gcs, NULL, &r);
  } else {
    rl_wire_demand_t demands[RL_NM_DEMANDS_MAX];
    s_stats_t stats;
    s_stats(nm, &stats);
    uint32_t nclients = 0;
    for (rl_client_t *c = nm->clients; c; c = c->next) nclients += c->kind != RL_CLIENT_REMOTE;
    rl_id_t *clients = rl_xmalloc((nclients ? nclients : 1) * sizeof *clients); /* registered clients */
    nclients = 0;
    for (rl_client_t *c = nm->clients; c; c = c->next)
      if (c->kind != RL_CLIENT_REMOTE) clients[nclients++] = c->id;
    rl_gcs_heartbeat_msg_t h = {.node_id = nm->node_id,
                                .available = nm->available,
                                .has_reserved = true,
                                .demands = {(uint32_t)rl_leases_demands(nm, demands, RL_NM_DEMANDS_MAX), demands},
                                .has_demands = true,
                                .dead_clients = {(uint32_t)nm->ndied, nm->died},
                                .has_dead_clients = true,
                                .stats = &stats.map,
                                .has_stats = true,
                                .clients = {nclients, clients},
                                .has_clients = true};
    rl_bundles_reserved(nm, &h.reserved);
    if (rl_gcs_heartbeat_msg_send(nm->gcs, NULL, &h) == 0) nm->ndied = 0, nm->clients_changed = false;
    free(clients);
  }
  /* And learn the other nodes (for spilling leases to them), where placement groups'
   * bundles are (sent when our copy is not the head's version), and the clients that
   * died elsewhere (to release what they held here). */
  rl_gcs_get_nodes_msg_t ask = {.pg_version = nm->pg_version, .has_pg_version = true,
                                .dead_since = nm->dead_seq, .has_dead_since = nm->dead_seq_known,
                                .first = true, .has_first = !nm->dead_seq_known};
  rl_gcs_get_nodes_msg_send(nm->gcs, NULL, &ask);
}

/* Tells every client that client id died on some node (WORKER_DIED with no endpoint):
 * one that borrowed an object it owned, from a third process, hears of it only so. */
static void s_relay_death(rl_nm_t *nm, const rl_id_t *id) {
  for (rl_client_t *c = nm->clients; c; c = c->next) {
    if (rl_id_eq(&c->id, id)) continue;
    rl_nm_worker_died_msg_t d = {.worker_id = *id, .reason = rl_wire_str("it died (reported by its node)"),
                                 .endpoint = "", .error_type = "WorkerCrashedError"};
    rl_nm_send_to(nm, &c->id, RL_NM_WORKER_DIED, &d);
  }
}

/* The clients the head says died since we last asked: each node manager they leased
 * workers from releases them (a driver killed on another node leaves nothing held),
 * and every client hears of them. */
static void s_dead_clients(rl_nm_t *nm, const rl_gcs_nodes_msg_t *reply) {
  if (!reply->has_dead_seq) return;
  for (uint32_t i = 0; i < reply->dead_clients.n; i++) {
    /* One of ours still registered: the head declared this node dead while it was only
     * slow to send heartbeats (it lists a dead node's clients); they live. */
    const rl_client_t *own = s_client(nm, &reply->dead_clients.v[i]);
    if (own && own->kind != RL_CLIENT_REMOTE) continue;
    rl_nm_client_gone(nm, &reply->dead_clients.v[i], RL_GONE_DIED_ELSEWHERE);
    s_relay_death(nm, &reply->dead_clients.v[i]);
  }
  nm->dead_seq = reply->dead_seq;
  nm->dead_seq_known = true;
}

/* Tells every client, once, that the node at ep died. */
static void s_node_died(rl_nm_t *nm, const char *node) {
  if (strlen(node) >= RL_ENDPOINT_MAX || !strcmp(node, nm->endpoint)) return;
  for (int i = 0; i < nm->ndead; i++)
    if (!strcmp(nm->dead[i], node)) return;
  if (nm->ndead < 64) snprintf(nm->dead[nm->ndead++], RL_ENDPOINT_MAX, "%s", node);
  rl_log(RL_LOG_WARN, "node %s is dead (the head stopped hearing from it)", node);
  rl_nm_node_died_msg_t died;
  snprintf(died.node_endpoint, sizeof died.node_endpoint, "%s", node);
  for (rl_client_t *c = nm->clients; c; c = c->next) rl_nm_send_to(nm, &c->id, RL_NM_NODE_DIED, &died);
  rl_transfer_node_died(nm, node); /* after the news, so clients know why it failed */
}

/* Drops the dead nodes the head no longer lists (it forgets the longest dead), so that
 * our list of them never fills up: a full one would tell the clients of each death not
 * in it again at every heartbeat. */
static void s_forget_unlisted_dead(rl_nm_t *nm, const rl_gcs_nodes_msg_t *reply) {
  for (int k = 0; k < nm->ndead;) {
    bool listed = false;
    for (uint32_t i = 0; i < reply->nodes.n && !listed; i++)
      listed = !reply->nodes.v[i].alive && !strcmp(nm->dead[k], reply->nodes.v[i].endpoint);
    if (listed) k++;
    else memcpy(nm->dead[k], nm->dead[--nm->ndead], RL_ENDPOINT_MAX);
  }
}

static void s_handle_gcs(rl_nm_t *nm, rl_msg_t *m) {
  rl_gcs_reregister_msg_t again;
  if (m->type == RL_GCS_REREGISTER && rl_gcs_reregister_msg_read(m, &again) && rl_id_eq(&again.node_id, &nm->node_id)) {
    rl_log(RL_LOG_INFO, "the head does not know this node (it restarted): registering again");
    s_heartbeat(nm, true);
    return;
  }
  if (m->type == RL_GCS_PG_RESERVE || m->type == RL_GCS_PG_RELEASE || m->type == RL_GCS_PG_PLACEMENT) {
    rl_bundles_handle(nm, m);
    return;
  }
  if (m->type != RL_GCS_NODES) return;
  rl_gcs_nodes_msg_t reply;
  if (!rl_gcs_nodes_msg_read(m, &reply)) return; /* logged */
  s_dead_clients(nm, &reply);
  nm->npeers = 0;
  for (uint32_t i = 0; i < reply.nodes.n && nm->npeers < 64; i++) {
    const rl_wire_node_info_t *e = &reply.nodes.v[i];
    struct rl_peer_node *p = &nm->peers[nm->npeers];
    if (strlen(e->endpoint) >= sizeof p->endpoint) continue;
    if (!e->alive) {
      s_node_died(nm, e->endpoint);
      continue;
    }
    for (int k = 0; k < nm->ndead; k++) /* back again: its next death is news */
      if (!strcmp(nm->dead[k], e->endpoint)) {
        memcpy(nm->dead[k], nm->dead[--nm->ndead], RL_ENDPOINT_MAX);
        break;
      }
    snprintf(p->endpoint, sizeof p->endpoint, "%s", e->endpoint);
    p->id = e->node_id;
    p->total = e->total;
    p->available = e->available;
    if (strcmp(p->endpoint, nm->endpoint)) nm->npeers++;
  }
  s_forget_unlisted_dead(nm, &reply);
  rl_bundles_view(nm, &reply);
  rl_leases_respill(nm);
}

/* True once process pid is gone: it does not exist, or it is a zombie (killed, and its
 * parent has not reaped it yet). */
static bool s_process_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  char path[64], stat[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *paren = strrchr(stat, ')');
  return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* A driver killed without a goodbye (SIGKILL) still loses its leases and actors. */
static void s_reap_gone_drivers(rl_nm_t *nm) {
  for (rl_client_t *c = nm->clients, *next; c; c = next) {
    next = c->next;
    if (c->kind != RL_CLIENT_DRIVER || c->pid <= 0 || !s_process_gone(c->pid)) continue;
    rl_log(RL_LOG_INFO, "driver pid %d is gone: releasing what it held", (int)c->pid);
    rl_id_t id = c->id;
    rl_nm_client_gone(nm, &id, RL_GONE_DIED);
  }
}

/* Sets the node's GPU devices: declared (--num-gpus, declared >= 0) or found by the CUDA
 * driver, with the ids CUDA_VISIBLE_DEVICES gives them (else 0..n-1), and the line
 * rayl status shows about them. */
static void s_gpus(rl_nm_t *nm, int declared) {
  char why[300] = "", shown[RL_GPU_MAX * 8], unlisted[200] = "";
  int n = declared >= 0 ? declared : rl_gpu_detect(why, sizeof why);
  int ids[RL_GPU_MAX];
  const char *visible = getenv("CUDA_VISIBLE_DEVICES");
  int listed = visible && *visible ? rl_gpu_ids_parse(visible, ids, RL_GPU_MAX) : -1;
  if (n > 0 && visible && *visible && listed < n)
    snprintf(unlisted, sizeof unlisted, "; CUDA_VISIBLE_DEVICES=%.80s does not list %d device numbers", visible, n);
  rl_gpus_init(&nm->gpus, n, listed >= n ? ids : NULL);
  rl_gpu_set_t all = {.n = n};
  for (int i = 0; i < n; i++) all.id[i] = nm->gpus.id[i];
  rl_gpu_set_format(&all, shown, sizeof shown);
  if (n == 0 && declared < 0)
    snprintf(nm->gpu_note, sizeof nm->gpu_note, "none (%.280s)", why);
  else if (n == 0)
    snprintf(nm->gpu_note, sizeof nm->gpu_note, "none (--num-gpus 0)");
  else
    snprintf(nm->gpu_note, sizeof nm->gpu_note, "%d (%s; device id%s %.100s%.120s)", n,
             declared >= 0 ? "declared with --num-gpus" : "found by the CUDA driver", n == 1 ? "" : "s", shown,
             unlisted);
}

static int s_parse(rl_nm_t *nm, int argc, char **argv, size_t *store_bytes) {
  char err[200];
  bool no_security = false;
  double cpus = (double)sysconf(_SC_NPROCESSORS_ONLN);
  int gpus = -1; /* found by the driver */
  rl_resources_t custom;
  rl_res_clear(&custom);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(s_usage, stdout);
      return 1;
    }
    if (!strcmp(a, "--no-security")) {
      no_security = true;
      continue;
    }
    if (!v) {
      fprintf(stderr, "rayl node: unknown option or missing value: '%s'\n%s", a, s_usage);
      return 2;
    }
    if (!strcmp(a, "--endpoint")) snprintf(nm->endpoint, sizeof nm->endpoint, "%s", v);
    else if (!strcmp(a, "--gcs")) snprintf(nm->gcs_endpoint, sizeof nm->gcs_endpoint, "%s", v);
    else if (!strcmp(a, "--session")) snprintf(nm->session_dir, sizeof nm->session_dir, "%s", v);
    else if (!strcmp(a, "--num-cpus")) cpus = atof(v);
    else if (!strcmp(a, "--num-gpus")) {
      if (rl_gpus_parse_count(v, &gpus, err, sizeof err) != 0) {
        fprintf(stderr, "rayl node: %s\n", err);
        return 2;
      }
    }
    else if (!strcmp(a, "--object-store-memory")) *store_bytes = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--parent-pid")) nm->parent_pid = (pid_t)atoi(v);
    else if (!strcmp(a, "--cluster-key")) snprintf(nm->key_path, sizeof nm->key_path, "%s", v);
    else if (!strcmp(a, "--resource")) {
      char name[RL_RES_NAME];
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || (size_t)(eq - v) >= sizeof name) goto bad;
      snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
      if (!strcmp(name, "CPU") || !strcmp(name, "GPU")) {
        /* One rule with tasks and rayl.init: CPUs and GPUs are counted, not custom. */
        fprintf(stderr, "rayl node: --resource %s: use --num-%s instead\n", name,
                !strcmp(name, "CPU") ? "cpus" : "gpus");
        return 2;
      }
      if (rl_res_set(&custom, name, atof(eq + 1), err, sizeof err) != 0) {
        fprintf(stderr, "rayl node: %s\n", err);
        return 2;
      }
    } else {
      fprintf(stderr, "rayl node: unknown option '%s'\n%s", a, s_usage);
      return 2;
    }
    i++;
  }
  if (!nm->endpoint[0] || !nm->gcs_endpoint[0] || !nm->session_dir[0]) goto bad;
  bool tcp = !strncmp(nm->endpoint, "tcp://", 6) || !strncmp(nm->gcs_endpoint, "tcp://", 6);
  if (tcp && !nm->key_path[0] && !no_security) {
    fprintf(stderr, "rayl node: tcp needs --cluster-key FILE (or --no-security to let anyone in)\n");
    return 2;
  }
  if (nm->key_path[0] && no_security) {
    fprintf(stderr, "rayl node: give --cluster-key FILE or --no-security, not both\n");
    return 2;
  }
  char kerr[sizeof nm->key_path + 200];
  if (nm->key_path[0] && rl_net_key_load(nm->key_path, kerr, sizeof kerr) != 0) {
    fprintf(stderr, "rayl node: %s\n", kerr);
    return 2;
  }
  rl_res_clear(&nm->total);
  s_gpus(nm, gpus);
  if (rl_res_set(&nm->total, "CPU", cpus, err, sizeof err) != 0 ||
      rl_res_set(&nm->total, "GPU", nm->gpus.n, err, sizeof err) != 0) {
    fprintf(stderr, "rayl node: %s\n", err);
    return 2;
  }
  if (rl_res_add(&nm->total, &custom) != 0) {
    fprintf(stderr, "rayl node: too many resources: a node has at most %d names, CPU, GPU and memory included\n",
            RL_RES_MAX);
    return 2;
  }
  /* As Ray: tasks may reserve memory (bytes) from 70% of the machine's memory. */
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0 &&
      rl_res_set(&nm->total, "memory", (double)(int64_t)(0.7 * (double)pages * (double)page), err, sizeof err)) {
    fprintf(stderr, "rayl node: %s, CPU, GPU and memory included\n", err);
    return 2;
  }
  nm->min_workers = cpus < 1 ? 1 : (int)cpus;
  nm->max_workers = nm->min_workers * 4 + 16;
  return 0;
bad:
  fprintf(stderr, "rayl node: bad arguments\n%s", s_usage);
  return 2;
}

static size_t s_default_store_bytes(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  size_t mem = pages > 0 && size > 0 ? (size_t)pages * (size_t)size : (size_t)8 << 30;
  size_t bytes = mem * 3 / 10; /* Ray's default: 30% of memory */
  return bytes > ((size_t)4 << 30) ? (size_t)4 << 30 : bytes;
}

static void *s_bind(rl_nm_t *nm) {
  void *s = zmq_socket(nm->zctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
  if (rl_net_bind(nm->zctx, s, nm->endpoint) != 0) {
    rl_log(RL_LOG_ERROR, "cannot listen on %s: %s", nm->endpoint, zmq_strerror(zmq_errno()));
    fprintf(stderr, "rayl node: cannot listen on %s: %s\n", nm->endpoint, zmq_strerror(zmq_errno()));
    zmq_close(s);
    return NULL;
  }
  /* tcp://IP:* picks a free port: what we tell others is the address actually bound. */
  size_t len = sizeof nm->endpoint;
  zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, nm->endpoint, &len);
  return s;
}

static void s_loop(rl_nm_t *nm) {
  int64_t next_beat = 0, last_beat = 0;
  while (!rl_interrupted) {
    if (nm->parent_pid && getppid() != nm->parent_pid) {
      rl_log(RL_LOG_INFO, "parent %d is gone: exiting", (int)nm->parent_pid);
      break;
    }
    int64_t now = rl_now_ms();
    if (now >= next_beat) {
      /* Heartbeat and view of the cluster twice a second (the view drives spilling). */
      s_reap_gone_drivers(nm);
      rl_bundles_tick(nm);
      s_heartbeat(nm, next_beat == 0);
      rl_pool_sample_oom_kills(nm);
      next_beat = now + 500;
      last_beat = now;
    } else if (nm->clients_changed && now - last_beat >= 50) {
      s_heartbeat(nm, false); /* new clients: the head hears of them now (a batch at most every 50 ms) */
      last_beat = now;
    }
    zmq_pollitem_t items[4 + 2 * 512];
    int n = 0;
    items[n++] = (zmq_pollitem_t){nm->router, 0, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){NULL, nm->sigchld_fd, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){nm->gcs, 0, ZMQ_POLLIN, 0};
    if (nm->data_router) items[n++] = (zmq_pollitem_t){nm->data_router, 0, ZMQ_POLLIN, 0};
    int first_peer = n;
    for (rl_nm_peer_t *p = nm->node_peers; p && n < 128; p = p->next) {
      items[n++] = (zmq_pollitem_t){p->sock, 0, ZMQ_POLLIN, 0};
      if (p->data) items[n++] = (zmq_pollitem_t){p->data, 0, ZMQ_POLLIN, 0};
    }
    int first_pipe = n;
    for (rl_worker_t *w = nm->workers; w && n < (int)(sizeof items / sizeof *items) - 2; w = w->next) {
      if (w->out_fd >= 0) items[n++] = (zmq_pollitem_t){NULL, w->out_fd, ZMQ_POLLIN, 0};
      if (w->err_fd >= 0) items[n++] = (zmq_pollitem_t){NULL, w->err_fd, ZMQ_POLLIN, 0};
    }
    if (zmq_poll(items, n, 100) <= 0) continue;
    for (int i = first_pipe; i < n; i++)
      if (items[i].revents & ZMQ_POLLIN) rl_pool_read_output(nm, items[i].fd);
    int i = first_peer;
    for (rl_nm_peer_t *p = nm->node_peers; p && i < first_pipe; p = p->next) {
      bool in = items[i++].revents & ZMQ_POLLIN;
      if (p->data) in |= (items[i++].revents & ZMQ_POLLIN) != 0;
      if (in) rl_transfer_peer_messages(nm, p);
    }
    if (nm->data_router && items[3].revents & ZMQ_POLLIN) rl_transfer_data_requests(nm);
    if (items[2].revents & ZMQ_POLLIN) {
      rl_msg_t m;
      while (rl_msg_recv(nm->gcs, false, &m) == 1) {
        s_handle_gcs(nm, &m);
        rl_msg_close(&m);
      }
    }
    if (items[1].revents & ZMQ_POLLIN) {
      struct signalfd_siginfo si;
      while (read(nm->sigchld_fd, &si, sizeof si) == sizeof si) {}
      rl_pool_reap(nm);
    }
    if (items[0].revents & ZMQ_POLLIN) {
      rl_msg_t m;
      for (int k = 0; k < 4096; k++) {
        int got = rl_msg_recv(nm->router, true, &m);
        if (got == 0) break;
        if (got < 0) continue;
        s_handle(nm, &m);
        rl_msg_close(&m);
      }
    }
  }
}

/* A private cluster's sockets go with it, even when its driver was killed. */
static void s_remove_socket_dir(const char *socket_path) {
  char dir[RL_ENDPOINT_MAX];
  snprintf(dir, sizeof dir, "%s", socket_path);
  char *slash = strrchr(dir, '/');
  if (!slash) return;
  *slash = 0;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[RL_ENDPOINT_MAX + 260];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Transfer chunks (RL_TRANSFER_CHUNK, 4 MiB) are allocated here and freed by ZeroMQ's
 * I/O thread once sent. With glibc's defaults each freed chunk goes back to the kernel
 * (trimmed, or unmapped), and the next one is faulted in afresh, page by page: on this
 * kind of VM that fault rate (0.3-0.6 GB/s) bounded every transfer. Chunks are kept in
 * the heap instead, and up to S_HEAP_KEPT of free heap is kept for the next ones. */
#define S_HEAP_KEPT ((int)64 << 20)
static void s_keep_chunk_memory(void) {
  mallopt(M_MMAP_THRESHOLD, (int)RL_TRANSFER_CHUNK * 2);
  mallopt(M_TRIM_THRESHOLD, S_HEAP_KEPT);
}

int rl_node_main(int argc, char **argv) {
  s_keep_chunk_memory();
  rl_nm_t *nm = rl_xcalloc(1, sizeof *nm);
  nm->hooks = (rl_nm_hooks_t){.ctx = nm, .send_to = s_send_to, .client_gone = s_client_gone};
  size_t store_bytes = s_default_store_bytes();
  int rc = s_parse(nm, argc, argv, &store_bytes);
  if (rc != 0) {
    free(nm);
    return rc == 1 ? 0 : rc;
  }
  char path[400], err[300];
  snprintf(path, sizeof path, "%s/logs", nm->session_dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/logs/node.log", nm->session_dir);
  rl_log_open("node", path);
  rl_interrupt_install();
  ssize_t len = readlink("/proc/self/exe", nm->self_exe, sizeof nm->self_exe - 1);
  if (len <= 0) {
    rl_log(RL_LOG_ERROR, "cannot find my own executable");
    free(nm);
    return 1;
  }
  nm->self_exe[len] = 0;
  nm->node_id = rl_id_random();
  nm->available = nm->total;
  nm->pg_routes = rl_idmap_new();
  nm->oom_kills_prev = -1;
  nm->oom_kills_last = rl_mem_oom_kills();
  snprintf(path, sizeof path, "%s/spill", nm->session_dir);
  nm->store = rl_store_service_new(store_bytes, path, err, sizeof err);
  if (!nm->store) {
    rl_log(RL_LOG_ERROR, "cannot create the object store: %s", err);
    fprintf(stderr, "rayl node: cannot create the object store: %s\n", err);
    free(nm);
    return 1;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  nm->sigchld_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  nm->zctx = zmq_ctx_new();
  nm->router = s_bind(nm);
  nm->gcs = zmq_socket(nm->zctx, ZMQ_DEALER);
  int zero = 0, ivl = 10;
  zmq_setsockopt(nm->gcs, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(nm->gcs, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  zmq_setsockopt(nm->gcs, ZMQ_ROUTING_ID, nm->node_id.b, RL_ID_SIZE);
  if (nm->router && nm->sigchld_fd >= 0 && nm->pg_routes && rl_net_connect(nm->gcs, nm->gcs_endpoint) == 0) {
    char res[200];
    rl_res_format(&nm->total, res, sizeof res);
    rl_log(RL_LOG_INFO, "node manager on %s with {%s}, store %zu MiB, %s; GPUs: %s", nm->endpoint, res,
           rl_store_service_capacity(nm->store) >> 20, rl_net_key_held() ? "CURVE with the cluster key" : "no security",
           nm->gpu_note);
    rl_pool_start_zygote(nm);
    rl_pool_top_up(nm);
    s_loop(nm);
    rc = 0;
  } else {
    rc = 1;
  }
  rl_pool_stop_all(nm);
  if (nm->zygote_fd >= 0) close(nm->zygote_fd);
  if (nm->zygote_pid > 0) {
    kill(nm->zygote_pid, SIGKILL);
    waitpid(nm->zygote_pid, NULL, 0);
  }
  rl_transfer_destroy_all(nm);
  if (nm->router) zmq_close(nm->router);
  zmq_close(nm->gcs);
  rl_net_ctx_term(&nm->zctx);
  if (!strncmp(nm->endpoint, "ipc://", 6)) unlink(nm->endpoint + 6);
  if (nm->parent_pid && !strncmp(nm->endpoint, "ipc://", 6)) s_remove_socket_dir(nm->endpoint + 6);
  rl_store_service_destroy(&nm->store);
  while (nm->clients) {
    rl_client_t *c = nm->clients;
    nm->clients = c->next;
    free(c);
  }
  while (nm->queue) {
    rl_lease_req_t *r = nm->queue;
    nm->queue = r->next;
    free(r);
  }
  rl_bundles_destroy_all(nm);
  if (nm->sigchld_fd >= 0) close(nm->sigchld_fd);
  free(nm->died);
  rl_log(RL_LOG_INFO, "node manager stopped");
  free(nm);
  return rc;
}
