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
#include "wire/proto.h"
#include "wire/res_pack.h"
#include "worker/head_client.h"

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

void rl_cluster_add_demands(const rl_wire_demand_t *from, uint32_t count, rl_demand_t *demands, int max, int *n) {
  for (uint32_t i = 0; i < count; i++) {
    rl_demand_t x = {.shape = from[i].shape, .count = from[i].count, .infeasible = from[i].infeasible,
                     .waiting = from[i].has_waiting ? (int)from[i].waiting : RL_WAIT_RESOURCES};
    int k = 0;
    while (k < *n && !(demands[k].infeasible == x.infeasible && demands[k].waiting == x.waiting &&
                       rl_res_equal(&demands[k].shape, &x.shape)))
      k++;
    if (k < *n) demands[k].count += x.count;
    else if (*n < max) demands[(*n)++] = x;
  }
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

/* Counts the groups by state. */
static void s_count_pgs(const rl_gcs_pg_info_msg_t *info, rl_pg_counts_t *pgs) {
  *pgs = (rl_pg_counts_t){0};
  for (uint32_t i = 0; i < info->groups.n; i++) {
    const rl_wire_bytes_t *state = &info->groups.v[i].state;
    if (state->n == 7 && !memcmp(state->p, "CREATED", 7)) pgs->created++;
    else if (state->n == 7 && !memcmp(state->p, "PENDING", 7)) pgs->pending++;
    else pgs->rescheduling++;
  }
}

int rl_gcs_cluster(const char *gcs, rl_node_info_t *out, int max, rl_demand_t *demands, int max_demands,
                   int *ndemands, rl_pg_counts_t *pgs, int timeout_ms, char *err, size_t errlen) {
  if (ndemands) *ndemands = 0;
  rl_head_t h;
  rl_gcs_nodes_msg_t nodes;
  rl_msg_t reply;
  int64_t deadline = rl_now_ms() + timeout_ms;
  if (rl_head_connect(&h, gcs, err, errlen) != 0) return -1;
  if (rl_head_nodes(&h, &nodes, &reply, timeout_ms, err, errlen) != 0) {
    rl_head_close(&h);
    return -1;
  }
  int count = 0;
  for (uint32_t i = 0; i < nodes.nodes.n && count < max; i++) {
    const rl_wire_node_info_t *n = &nodes.nodes.v[i];
    rl_node_info_t *info = &out[count++];
    info->id = n->node_id;
    memcpy(info->endpoint, n->endpoint, sizeof info->endpoint);
    info->alive = n->alive;
    info->total = n->total;
    info->available = n->available;
    if (!rl_wire_strcpy(info->gpus, sizeof info->gpus, n->gpus)) info->gpus[0] = 0;
    if (n->alive && demands) rl_cluster_add_demands(n->demands.v, n->demands.n, demands, max_demands, ndemands);
  }
  rl_msg_close(&reply);
  if (pgs) {
    rl_gcs_pg_info_msg_t info;
    rl_msg_t reply;
    char ignored[300];
    int64_t left = deadline - rl_now_ms();
    *pgs = (rl_pg_counts_t){0}; /* a head that does not answer that: none shown */
    if (rl_head_pg_info(&h, NULL, NULL, &info, &reply, left > 100 ? (int)left : 100, ignored, sizeof ignored) == 0) {
      s_count_pgs(&info, pgs);
      rl_msg_close(&reply);
    }
  }
  rl_head_close(&h);
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
