/* cluster_client.c: querying a cluster's head from outside the daemons. */
#include "worker/cluster_client.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/dirs.h"
#include "net/key.h"
#include "net/secure.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/res_pack.h"

int rl_cluster_record(char *address, size_t an, char *key, size_t kn) {
  char path[PATH_MAX], line[PATH_MAX], err[PATH_MAX + 300];
  if (rl_base_dir(path, sizeof path - 32, err, sizeof err) != 0) return -1;
  strcat(path, "/rayl_current_cluster");
  FILE *f = rl_file_open_read(path); /* never a symlink planted there */
  if (!f) return -1;
  int rc = -1;
  if (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    snprintf(address, an, "%s", line);
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    line[strcspn(line, "\r\n")] = 0;
    snprintf(key, kn, "%s", line);
    rc = address[0] ? 0 : -1;
  }
  fclose(f);
  return rc;
}

/* True if tcp endpoints a and b name the same head: equal, or the same port on
 * addresses both of this machine. */
static bool s_same_head(const char *a, const char *b) {
  if (!strcmp(a, b)) return true;
  const char *pa = strrchr(a, ':'), *pb = strrchr(b, ':');
  return pa && pb && !strcmp(pa, pb) && rl_endpoint_is_local(a) && rl_endpoint_is_local(b);
}

int rl_cluster_use_key(const char *gcs, const char *key_file, char *err, size_t errlen) {
  const char *text = getenv("RAYL_CLUSTER_KEY"), *file = getenv("RAYL_CLUSTER_KEY_FILE");
  if (key_file) return rl_net_key_load(key_file, err, errlen) == 0 ? 1 : -1;
  if (text && *text) return rl_net_key_set(text, "RAYL_CLUSTER_KEY", err, errlen) == 0 ? 1 : -1;
  if (file && *file) return rl_net_key_load(file, err, errlen) == 0 ? 1 : -1;
  char address[200], key[PATH_MAX], recorded[220];
  if (!strncmp(gcs, "tcp://", 6) && rl_cluster_record(address, sizeof address, key, sizeof key) == 0 && key[0]) {
    snprintf(recorded, sizeof recorded, "tcp://%s", address);
    if (s_same_head(recorded, gcs)) return rl_net_key_load(key, err, errlen) == 0 ? 1 : -1;
  }
  rl_net_key_forget(); /* none for this cluster: connect plainly (it may run without security) */
  return 0;
}

int rl_cluster_resolve(const char *address, char *gcs, size_t n, char *err, size_t errlen) {
  if (!strncmp(address, "tcp://", 6) || !strncmp(address, "ipc://", 6)) {
    snprintf(gcs, n, "%s", address);
    return 0;
  }
  char buf[200], key[PATH_MAX];
  if (!strcmp(address, "auto")) {
    if (rl_cluster_record(buf, sizeof buf, key, sizeof key) != 0) {
      if (rl_base_dir(buf, sizeof buf, err, errlen) == 0)
        snprintf(err, errlen, "no cluster is running on this machine (start one with `rayl start --head`)");
      return -1;
    }
    address = buf;
  }
  const char *colon = strrchr(address, ':');
  if (!colon || colon == address || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
    snprintf(err, errlen, "'%s' is not an address: expected HOST:PORT (e.g. 127.0.0.1:6380) or \"auto\"", address);
    return -1;
  }
  snprintf(gcs, n, "tcp://%s", address);
  return 0;
}

void rl_cluster_add_demands(const msgpack_object *o, rl_demand_t *demands, int max, int *n) {
  if (!o || o->type != MSGPACK_OBJECT_ARRAY) return;
  for (uint32_t i = 0; i < o->via.array.size; i++) {
    const msgpack_object *d = &o->via.array.ptr[i];
    rl_demand_t x;
    uint64_t waiting = 0;
    if (d->type != MSGPACK_OBJECT_ARRAY || d->via.array.size < 3 || rl_res_unpack(&d->via.array.ptr[0], &x.shape) ||
        !rl_obj_u64(&d->via.array.ptr[1], &x.count) || d->via.array.ptr[2].type != MSGPACK_OBJECT_BOOLEAN)
      continue;
    if (d->via.array.size > 3) rl_obj_u64(&d->via.array.ptr[3], &waiting);
    x.infeasible = d->via.array.ptr[2].via.boolean;
    x.waiting = (int)waiting;
    int k = 0;
    while (k < *n && !(demands[k].infeasible == x.infeasible && demands[k].waiting == x.waiting &&
                       rl_res_equal(&demands[k].shape, &x.shape)))
      k++;
    if (k < *n) demands[k].count += x.count;
    else if (*n < max) demands[(*n)++] = x;
  }
}

static int s_parse_nodes(rl_msg_t *m, rl_node_info_t *out, int max, rl_demand_t *demands, int max_demands,
                         int *ndemands) {
  const msgpack_object *nodes = rl_field(m, 1);
  if (!nodes || nodes->type != MSGPACK_OBJECT_ARRAY) return -1;
  int count = 0;
  for (uint32_t i = 0; i < nodes->via.array.size && count < max; i++) {
    const msgpack_object *e = &nodes->via.array.ptr[i];
    const char *ep;
    size_t len;
    rl_node_info_t *info = &out[count];
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 5 || !rl_obj_id(&e->via.array.ptr[0], &info->id) ||
        !rl_obj_bytes(&e->via.array.ptr[1], &ep, &len) || len >= sizeof info->endpoint ||
        e->via.array.ptr[2].type != MSGPACK_OBJECT_BOOLEAN || rl_res_unpack(&e->via.array.ptr[3], &info->total) ||
        rl_res_unpack(&e->via.array.ptr[4], &info->available))
      continue;
    memcpy(info->endpoint, ep, len);
    info->endpoint[len] = 0;
    info->alive = e->via.array.ptr[2].via.boolean;
    const char *gpus = "";
    size_t gpulen = 0;
    if (e->via.array.size > 6 && rl_obj_bytes(&e->via.array.ptr[6], &gpus, &gpulen) && gpulen < sizeof info->gpus &&
        !memchr(gpus, 0, gpulen)) {
      memcpy(info->gpus, gpus, gpulen);
      info->gpus[gpulen] = 0;
    } else {
      info->gpus[0] = 0;
    }
    if (info->alive && demands && e->via.array.size > 5)
      rl_cluster_add_demands(&e->via.array.ptr[5], demands, max_demands, ndemands);
    count++;
  }
  return count;
}

/* Why a head refused our handshake, and what to do. */
static void s_refused(const char *gcs, char *err, size_t errlen) {
  const char *head = strncmp(gcs, "tcp://", 6) ? gcs : gcs + 6;
  if (rl_net_key_held())
    snprintf(err, errlen,
             "the head at %s refused the cluster key from %s: it is not that cluster's key (or that cluster runs "
             "without security). Use the key file the head's machine keeps as <session>/cluster.key (`rayl start "
             "--head` printed its path): --cluster-key FILE for rayl start and rayl status, RAYL_CLUSTER_KEY_FILE=FILE "
             "for drivers",
             head, rl_net_key_origin());
  else
    snprintf(err, errlen,
             "the head at %s refused this process: the cluster uses CURVE security and no cluster key was given. "
             "Copy the key file from the head's machine (<session>/cluster.key; `rayl start --head` printed its path; "
             "keep it mode 0600) and supply it: --cluster-key FILE for rayl start and rayl status, "
             "RAYL_CLUSTER_KEY_FILE=FILE for drivers",
             head);
}

const char *rl_demand_waiting_for(const rl_demand_t *d) {
  if (d->infeasible) return "a node with these resources";
  return d->waiting == RL_WAIT_WORKER ? "a worker to start" : "these resources to be free";
}

void rl_demand_missing(const rl_demand_t *d, const rl_resources_t *const *totals, int n, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < d->shape.n && used < len; i++) {
    bool somewhere = false;
    for (int k = 0; k < n && !somewhere; k++)
      somewhere = rl_res_get(totals[k], d->shape.r[i].name) * RL_RES_UNIT >= d->shape.r[i].amount;
    if (!somewhere) used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", d->shape.r[i].name);
  }
}

int rl_gcs_nodes(const char *gcs, rl_node_info_t *out, int max, int timeout_ms, char *err, size_t errlen) {
  return rl_gcs_cluster(gcs, out, max, NULL, 0, NULL, NULL, timeout_ms, err, errlen);
}

/* Counts the groups of a RL_GCS_PG_INFO reply by state. Returns false if malformed. */
static bool s_parse_pgs(rl_msg_t *m, rl_pg_counts_t *pgs) {
  const msgpack_object *groups = rl_field(m, 1);
  if (!groups || groups->type != MSGPACK_OBJECT_ARRAY) return false;
  *pgs = (rl_pg_counts_t){0};
  for (uint32_t i = 0; i < groups->via.array.size; i++) {
    const msgpack_object *g = &groups->via.array.ptr[i];
    const char *state;
    size_t len;
    if (g->type != MSGPACK_OBJECT_ARRAY || g->via.array.size < 4 || !rl_obj_bytes(&g->via.array.ptr[3], &state, &len))
      continue;
    if (len == 7 && !memcmp(state, "CREATED", 7)) pgs->created++;
    else if (len == 7 && !memcmp(state, "PENDING", 7)) pgs->pending++;
    else pgs->rescheduling++;
  }
  return true;
}

int rl_gcs_cluster(const char *gcs, rl_node_info_t *out, int max, rl_demand_t *demands, int max_demands,
                   int *ndemands, rl_pg_counts_t *pgs, int timeout_ms, char *err, size_t errlen) {
  if (ndemands) *ndemands = 0;
  void *ctx = zmq_ctx_new();
  void *sock = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0, ivl = 10;
  zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  /* Tells "the head refuses us" (no key, another key) from "no head answers". */
  rl_net_watch_t *watch = rl_net_watch_new(ctx, sock);
  int count = -1;
  bool refused = false;
  if (rl_net_connect(sock, gcs) != 0) {
    snprintf(err, errlen, "cannot connect to %s: %s", gcs, zmq_strerror(zmq_errno()));
    goto done;
  }
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 1);
  msgpack_pack_uint64(&b.pk, 1);
  rl_msg_send(sock, NULL, &b);
  bool pgs_known = pgs == NULL;
  if (pgs) { /* every group: [request, nil, nil] */
    rl_msgbuf_init(&b, RL_GCS_PG_GET, 3);
    msgpack_pack_uint64(&b.pk, 2);
    msgpack_pack_nil(&b.pk);
    msgpack_pack_nil(&b.pk);
    rl_msg_send(sock, NULL, &b);
  }
  int64_t deadline = rl_now_ms() + timeout_ms;
  zmq_pollitem_t it[2] = {{sock, 0, ZMQ_POLLIN, 0}, {watch ? rl_net_watch_socket(watch) : NULL, 0, ZMQ_POLLIN, 0}};
  while ((count < 0 || !pgs_known) && !refused && rl_now_ms() < deadline) {
    if (zmq_poll(it, watch ? 2 : 1, deadline - rl_now_ms()) <= 0) continue;
    if (watch && (it[1].revents & ZMQ_POLLIN)) refused = rl_net_watch_refused(watch);
    rl_msg_t m;
    while ((count < 0 || !pgs_known) && rl_msg_recv(sock, false, &m) == 1) {
      if (m.type == RL_GCS_NODES) count = s_parse_nodes(&m, out, max, demands, max_demands, ndemands);
      else if (m.type == RL_GCS_PG_INFO) pgs_known = s_parse_pgs(&m, pgs);
      rl_msg_close(&m);
    }
  }
  if (!pgs_known) *pgs = (rl_pg_counts_t){0}; /* a head that does not answer that: none shown */
  if (count < 0 && refused) s_refused(gcs, err, errlen);
  else if (count < 0) snprintf(err, errlen, "the head at %s did not answer within %d ms", gcs, timeout_ms);
done:
  rl_net_watch_destroy(&watch);
  zmq_close(sock);
  zmq_ctx_term(ctx);
  return count;
}

bool rl_endpoint_is_local(const char *endpoint) {
  if (!strncmp(endpoint, "ipc://", 6)) return true;
  if (strncmp(endpoint, "tcp://", 6)) return false;
  char host[64];
  const char *start = endpoint + 6, *colon = strrchr(start, ':');
  size_t len = colon ? (size_t)(colon - start) : strlen(start);
  if (len >= sizeof host) return false;
  memcpy(host, start, len);
  host[len] = 0;
  struct in_addr want;
  if (inet_pton(AF_INET, host, &want) != 1) return !strcmp(host, "localhost");
  if ((ntohl(want.s_addr) >> 24) == 127) return true;
  struct ifaddrs *list, *it;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (it = list; it && !found; it = it->ifa_next)
    if (it->ifa_addr && it->ifa_addr->sa_family == AF_INET)
      found = ((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr == want.s_addr;
  freeifaddrs(list);
  return found;
}

int rl_cluster_local_node(const char *address, char *node, size_t n, char *err, size_t errlen) {
  char gcs[200];
  if (rl_cluster_resolve(address, gcs, sizeof gcs, err, errlen) != 0) return -1;
  if (rl_cluster_use_key(gcs, NULL, err, errlen) < 0) return -1;
  rl_node_info_t nodes[64];
  int count = rl_gcs_nodes(gcs, nodes, 64, 5000, err, errlen);
  if (count < 0) return -1;
  for (int i = 0; i < count; i++) {
    /* A node on this machine: its store (a /proc path) opens here. */
    if (nodes[i].alive && rl_endpoint_is_local(nodes[i].endpoint)) {
      snprintf(node, n, "%s", nodes[i].endpoint);
      return 0;
    }
  }
  snprintf(err, errlen, "the cluster at %s has no live node on this machine (start one with `rayl start --address %s`)",
           address, address);
  return -1;
}
