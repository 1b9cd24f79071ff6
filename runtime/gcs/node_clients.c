/* node_clients.c: node id -> the array of its clients' ids, replaced whole each time. */
#include "gcs/node_clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/xalloc.h"

typedef struct {
  size_t n;
  rl_id_t ids[];
} s_list_t;

struct rl_node_clients_t {
  rl_idmap_t *nodes; /* node id -> s_list_t * */
  size_t count;      /* ids over all lists */
};

rl_node_clients_t *rl_node_clients_new(void) {
  rl_node_clients_t *t = rl_xcalloc(1, sizeof *t);
  t->nodes = rl_idmap_new();
  return t;
}

void rl_node_clients_destroy(rl_node_clients_t **p) {
  if (!p || !*p) return;
  size_t cur = 0;
  for (void *l; (l = rl_idmap_next((*p)->nodes, &cur, NULL));) free(l);
  rl_idmap_destroy(&(*p)->nodes);
  free(*p);
  *p = NULL;
}

rl_result_t rl_node_clients_set(rl_node_clients_t *t, const rl_id_t *node, const rl_id_t *ids, size_t n, char *err,
                                size_t errlen) {
  if (n > RL_NODE_CLIENTS_MAX) {
    snprintf(err, errlen, "%zu clients listed, more than the %d a node may have", n, RL_NODE_CLIENTS_MAX);
    return RL_ERR;
  }
  s_list_t *old = rl_idmap_remove(t->nodes, node);
  if (old) t->count -= old->n;
  free(old);
  if (n == 0) return RL_OK;
  s_list_t *l = rl_xmalloc(sizeof *l + n * sizeof *ids); /* at most RL_NODE_CLIENTS_MAX */
  l->n = n;
  memcpy(l->ids, ids, n * sizeof *ids);
  rl_idmap_put(t->nodes, node, l);
  t->count += n;
  return RL_OK;
}

rl_id_t *rl_node_clients_take(rl_node_clients_t *t, const rl_id_t *node, size_t *n) {
  *n = 0;
  s_list_t *l = rl_idmap_remove(t->nodes, node);
  if (!l) return NULL;
  t->count -= l->n;
  rl_id_t *ids = rl_xmalloc(l->n * sizeof *ids);
  memcpy(ids, l->ids, l->n * sizeof *ids);
  *n = l->n;
  free(l);
  return ids;
}

size_t rl_node_clients_count(const rl_node_clients_t *t) { return t->count; }
