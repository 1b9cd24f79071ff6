/* bundles.c: placing a placement group's bundles on nodes: one node for STRICT_PACK,
 * distinct nodes for STRICT_SPREAD (a bipartite matching, so a scarce node goes to the
 * bundle that needs it), and best effort for PACK and SPREAD. */
#include "common/selftest.h"
#include "common/xalloc.h"
#include "sched/bundles.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_names[] = {"PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"};

const char *rl_pg_strategy_name(int strategy) {
  return strategy >= 0 && strategy < 4 ? s_names[strategy] : "?";
}

int rl_pg_strategy_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (name && !strcmp(name, s_names[i])) return i;
  return -1;
}

/* ---- STRICT_PACK: all on one node ---- */

static int s_strict_pack(const rl_resources_t *bundles, int n, const rl_resources_t *avail, int nnodes, int *where) {
  int target = -1;
  rl_resources_t sum;
  rl_res_clear(&sum);
  for (int i = 0; i < n; i++) {
    if (where[i] < 0) {
      if (rl_res_add(&sum, &bundles[i]) != 0) return -1; /* more names than a node can have */
    } else if (target < 0) {
      target = where[i];
    } else if (target != where[i]) {
      return -1; /* already split: cannot be packed strictly */
    }
  }
  if (target < 0)
    for (int k = 0; k < nnodes && target < 0; k++)
      if (rl_res_fits(&avail[k], &sum)) target = k;
  if (target < 0 || !rl_res_fits(&avail[target], &sum)) return -1;
  for (int i = 0; i < n; i++)
    if (where[i] < 0) where[i] = target;
  return 0;
}

/* ---- STRICT_SPREAD: a matching of unplaced bundles to unused nodes ---- */

typedef struct {
  const rl_resources_t *bundles, *avail;
  int nnodes;
  const int *unplaced; /* bundle index of each unplaced bundle */
  const bool *banned;  /* nodes that hold a bundle of the group already */
  int *owner;          /* node -> position in unplaced, or -1 */
  bool *seen;
} s_match_t;

/* Kuhn's augmenting path from unplaced bundle u. */
static bool s_augment(s_match_t *m, int u) {
  const rl_resources_t *b = &m->bundles[m->unplaced[u]];
  for (int k = 0; k < m->nnodes; k++) {
    if (m->banned[k] || m->seen[k] || !rl_res_fits(&m->avail[k], b)) continue;
    m->seen[k] = true;
    if (m->owner[k] < 0 || s_augment(m, m->owner[k])) {
      m->owner[k] = u;
      return true;
    }
  }
  return false;
}

static int s_strict_spread(const rl_resources_t *bundles, int n, const rl_resources_t *avail, int nnodes, int *where) {
  int *unplaced = rl_xmalloc(sizeof(int) * (size_t)n);
  int *owner = rl_xmalloc(sizeof(int) * (size_t)nnodes);
  bool *banned = rl_xcalloc((size_t)nnodes, 1), *seen = rl_xmalloc((size_t)nnodes);
  int rc = -1, nu = 0, open = nnodes;
  for (int i = 0; i < n; i++) {
    if (where[i] < 0) {
      unplaced[nu++] = i;
    } else if (!banned[where[i]]) {
      banned[where[i]] = true;
      open--;
    } else {
      goto done; /* two bundles already share a node */
    }
  }
  if (nu > open) goto done;
  for (int k = 0; k < nnodes; k++) owner[k] = -1;
  s_match_t m = {bundles, avail, nnodes, unplaced, banned, owner, seen};
  for (int u = 0; u < nu; u++) {
    /* An unused node that fits first; augmenting paths only when none is left. */
    bool done = false;
    for (int k = 0; k < nnodes && !done; k++)
      if (!banned[k] && owner[k] < 0 && rl_res_fits(&avail[k], &bundles[unplaced[u]])) {
        owner[k] = u;
        done = true;
      }
    if (done) continue;
    memset(seen, 0, (size_t)nnodes);
    if (!s_augment(&m, u)) goto done;
  }
  for (int k = 0; k < nnodes; k++)
    if (owner[k] >= 0) where[unplaced[owner[k]]] = k;
  rc = 0;
done:
  free(unplaced);
  free(owner);
  free(banned);
  free(seen);
  return rc;
}

/* ---- PACK and SPREAD: best effort, bundle by bundle ---- */

/* pack: prefer nodes the group uses already; spread: the node with the fewest of the
 * group's bundles. Either way the bundle goes where it fits, or the call fails. */
static int s_greedy(bool pack, const rl_resources_t *bundles, int n, const rl_resources_t *avail, int nnodes,
                    int *where) {
  rl_resources_t *left = rl_xmalloc(sizeof *left * (size_t)nnodes);
  int *count = rl_xcalloc((size_t)nnodes, sizeof(int));
  int *pick = rl_xmalloc(sizeof(int) * (size_t)n);
  int rc = -1;
  memcpy(left, avail, sizeof *left * (size_t)nnodes);
  for (int i = 0; i < n; i++) {
    pick[i] = where[i];
    if (where[i] >= 0) count[where[i]]++;
  }
  for (int i = 0; i < n; i++) {
    if (pick[i] >= 0) continue;
    int best = -1;
    for (int k = 0; k < nnodes; k++) {
      if (!rl_res_fits(&left[k], &bundles[i])) continue;
      if (best < 0 || (pack ? count[k] > 0 && count[best] == 0 : count[k] < count[best])) best = k;
    }
    if (best < 0) goto done;
    rl_res_sub(&left[best], &bundles[i]);
    count[best]++;
    pick[i] = best;
  }
  memcpy(where, pick, sizeof(int) * (size_t)n);
  rc = 0;
done:
  free(left);
  free(count);
  free(pick);
  return rc;
}

int rl_bundles_place(int strategy, const rl_resources_t *bundles, int n, const rl_resources_t *avail, int nnodes,
                     int *where) {
  switch (strategy) {
    case RL_PG_STRICT_PACK: return s_strict_pack(bundles, n, avail, nnodes, where);
    case RL_PG_STRICT_SPREAD: return s_strict_spread(bundles, n, avail, nnodes, where);
    case RL_PG_PACK:
      if (s_strict_pack(bundles, n, avail, nnodes, where) == 0) return 0;
      return s_greedy(true, bundles, n, avail, nnodes, where);
    case RL_PG_SPREAD:
      if (s_strict_spread(bundles, n, avail, nnodes, where) == 0) return 0;
      return s_greedy(false, bundles, n, avail, nnodes, where);
    default: return -1;
  }
}

int rl_bundles_feasible(int strategy, const rl_resources_t *bundles, int n, const rl_resources_t *total, int nnodes,
                        char *why, size_t whylen) {
  char want[200];
  if (n < 1) {
    snprintf(why, whylen, "a placement group needs at least one bundle");
    return -1;
  }
  for (int i = 0; i < n; i++) {
    bool fits = false;
    for (int k = 0; k < nnodes && !fits; k++) fits = rl_res_fits(&total[k], &bundles[i]);
    if (!fits) {
      rl_res_format(&bundles[i], want, sizeof want);
      snprintf(why, whylen, "bundle %d asks for {%s}, which no node has", i + 1, want);
      return -1;
    }
  }
  int *where = rl_xmalloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) where[i] = -1;
  int rc = rl_bundles_place(strategy, bundles, n, total, nnodes, where);
  free(where);
  if (rc == 0) return 0;
  if (strategy == RL_PG_STRICT_SPREAD && n > nnodes) {
    snprintf(why, whylen, "STRICT_SPREAD needs %d distinct nodes, one per bundle, and the cluster has %d", n, nnodes);
  } else if (strategy == RL_PG_STRICT_PACK) {
    rl_resources_t sum;
    rl_res_clear(&sum);
    for (int i = 0; i < n; i++) rl_res_add(&sum, &bundles[i]);
    rl_res_format(&sum, want, sizeof want);
    snprintf(why, whylen, "STRICT_PACK needs {%s} on one node, which no node has", want);
  } else {
    snprintf(why, whylen, "%s: the bundles together need more than the cluster's nodes have",
             rl_pg_strategy_name(strategy));
  }
  return -1;
}
