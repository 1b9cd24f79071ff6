/* state_table.c: tasks (a ring in first-reported order, indexed by id) and actors (a
 * list in creation order, indexed by id) as their owners report them. */
#include "common/selftest.h"
#include "gcs/state_table.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "wire/wire.h"

typedef struct {
  rl_id_t id, actor_id, node_id, owner_id; /* actor_id, node_id: nil when none / unknown */
  uint32_t worker_pid, owner_pid;
  uint32_t attempt;
  uint8_t state, kind;
  char name[64];
  char error_type[32];
  char *error; /* a failure's message and traceback (malloc'd), or NULL */
} s_task_t;

typedef struct {
  rl_id_t id, node_id, owner_id, worker_id;
  uint32_t pid, owner_pid;
  uint8_t state;
  bool detached;
  uint32_t restarts;
  uint64_t dead_seq; /* when it died, in the order deaths were recorded */
  char class_name[64], name[64], ns[64];
  char cause[256];
} s_actor_t;

struct rl_state_table_t {
  s_task_t *tasks; /* ring of max_tasks rows: ntasks of them from first */
  size_t max_tasks, first, ntasks;
  rl_idmap_t *task_index; /* id -> s_task_t * (into tasks) */
  s_actor_t **actors;     /* creation order */
  size_t nactors, cap_actors, ndead, max_dead;
  uint64_t dead_seq;
  rl_idmap_t *actor_index;
  uint64_t dropped, evicted;
  size_t error_bytes; /* held by tasks' error texts (at most RL_STATE_MAX_ERROR_BYTES) */
  size_t task_counts[RL_TS_FAILED + 1], actor_counts[RL_AS_DEAD + 1]; /* by state, kept as they change */
};

rl_state_table_t *rl_state_table_new(size_t max_tasks, size_t max_dead_actors) {
  assert(max_tasks > 0);
  rl_state_table_t *t = rl_xcalloc(1, sizeof *t);
  t->max_tasks = max_tasks;
  t->max_dead = max_dead_actors;
  t->tasks = rl_xcalloc(max_tasks, sizeof *t->tasks);
  t->task_index = rl_idmap_new();
  t->actor_index = rl_idmap_new();
  return t;
}

void rl_state_table_destroy(rl_state_table_t **p) {
  if (!p || !*p) return;
  rl_state_table_t *t = *p;
  for (size_t i = 0; i < t->nactors; i++) free(t->actors[i]);
  free(t->actors);
  for (size_t k = 0; t->tasks && k < t->ntasks; k++) free(t->tasks[(t->first + k) % t->max_tasks].error);
  free(t->tasks);
  rl_idmap_destroy(&t->task_index);
  rl_idmap_destroy(&t->actor_index);
  free(t);
  *p = NULL;
}

size_t rl_state_table_tasks(const rl_state_table_t *t) { return t->ntasks; }
size_t rl_state_table_actors(const rl_state_table_t *t) { return t->nactors; }

/* ---- reading a report ---- */

/* Copies b into out (truncated to fit, NUL-terminated). */
static void s_str(char *out, size_t outsize, rl_wire_bytes_t b) {
  size_t n = b.n < outsize ? b.n : outsize - 1;
  if (n) memcpy(out, b.p, n);
  out[n] = 0;
}

/* What a report says about the nodes it names: their ids (nil if unknown here). */
typedef struct {
  rl_id_t *ids;
  uint32_t n;
} s_nodes_t;

/* Reads a task row into *x (owner fields not set). */
static const char *s_read_task(const rl_wire_task_event_t *o, const s_nodes_t *nodes, s_task_t *x, bool *has_node) {
  if (o->attempt > UINT32_MAX) return "a task attempt is not a 32-bit number";
  if (o->node > nodes->n) return "a task's node is not an index into the report's nodes";
  if (o->worker_pid > UINT32_MAX) return "a task's worker pid is not a 32-bit number";
  x->id = o->task_id;
  x->state = (uint8_t)o->state;
  x->attempt = (uint32_t)o->attempt;
  s_str(x->name, sizeof x->name, o->name);
  x->kind = (uint8_t)o->kind;
  if (o->has_actor_id) x->actor_id = o->actor_id;
  else memset(&x->actor_id, 0, sizeof x->actor_id);
  x->worker_pid = (uint32_t)o->worker_pid;
  s_str(x->error_type, sizeof x->error_type, o->has_error_type ? o->error_type : rl_wire_str(""));
  *has_node = o->node > 0;
  if (o->node > 0) x->node_id = nodes->ids[o->node - 1];
  return NULL;
}

static const char *s_read_actor(const rl_wire_actor_event_t *o, const s_nodes_t *nodes, s_actor_t *x, bool *has_node) {
  if (o->node > nodes->n) return "an actor's node is not an index into the report's nodes";
  if (o->pid > UINT32_MAX) return "an actor's pid is not a 32-bit number";
  if (o->has_restarts && o->restarts > UINT32_MAX) return "an actor's restarts is not a 32-bit number";
  x->id = o->actor_id;
  x->state = (uint8_t)o->state;
  s_str(x->class_name, sizeof x->class_name, o->class_name);
  s_str(x->name, sizeof x->name, o->name);
  s_str(x->ns, sizeof x->ns, o->namespace_);
  x->detached = o->detached;
  x->pid = (uint32_t)o->pid;
  if (o->has_worker_id) x->worker_id = o->worker_id;
  else memset(&x->worker_id, 0, sizeof x->worker_id);
  s_str(x->cause, sizeof x->cause, o->has_death_cause ? o->death_cause : rl_wire_str(""));
  x->restarts = o->has_restarts ? (uint32_t)o->restarts : 0;
  *has_node = o->node > 0;
  if (o->node > 0) x->node_id = nodes->ids[o->node - 1];
  return NULL;
}

/* ---- applying it ---- */

/* Replaces x's error text (n bytes of p, at most RL_TASK_ERROR_MAX; NULL: none). Not
 * kept when the table's error texts would pass RL_STATE_MAX_ERROR_BYTES. */
static void s_set_error(rl_state_table_t *t, s_task_t *x, const char *p, size_t n) {
  if (x->error) {
    t->error_bytes -= strlen(x->error) + 1;
    free(x->error);
    x->error = NULL;
  }
  if (!p || !n) return;
  if (n > RL_TASK_ERROR_MAX) n = RL_TASK_ERROR_MAX;
  if (t->error_bytes + n + 1 > RL_STATE_MAX_ERROR_BYTES || !(x->error = malloc(n + 1))) return;
  memcpy(x->error, p, n);
  x->error[n] = 0;
  for (char *c = x->error; (c = memchr(c, 0, (size_t)(x->error + n - c)));) *c++ = '?';
  t->error_bytes += n + 1;
}

static s_task_t *s_task_slot(rl_state_table_t *t, const rl_id_t *id) {
  s_task_t *x = rl_idmap_get(t->task_index, id);
  if (x) return x;
  if (t->ntasks == t->max_tasks) { /* forget the first reported */
    s_task_t *old = &t->tasks[t->first];
    rl_idmap_remove(t->task_index, &old->id);
    s_set_error(t, old, NULL, 0);
    t->task_counts[old->state]--;
    t->first = (t->first + 1) % t->max_tasks;
    t->ntasks--;
    t->evicted++;
  }
  x = &t->tasks[(t->first + t->ntasks) % t->max_tasks];
  memset(x, 0, sizeof *x);
  x->id = *id;
  rl_idmap_put(t->task_index, id, x);
  t->ntasks++;
  t->task_counts[RL_TS_SUBMITTED]++; /* its state until the row is applied */
  return x;
}

static void s_apply_task(rl_state_table_t *t, const s_task_t *in, const rl_wire_task_event_t *row, bool has_node,
                         const rl_id_t *owner, uint32_t owner_pid) {
  s_task_t *x = s_task_slot(t, &in->id);
  if (!x) return; /* out of memory: this row is not kept */
  rl_id_t node = x->node_id;
  uint32_t pid = x->worker_pid;
  char *error = x->error;
  t->task_counts[x->state]--;
  *x = *in;
  t->task_counts[x->state]++;
  x->error = error;
  const char *p = row->has_error ? row->error.p : NULL;
  size_t n = row->has_error ? row->error.n : 0;
  if (p || in->state != RL_TS_FAILED) s_set_error(t, x, p, n);
  if (!has_node) x->node_id = node; /* keep where it ran (a retry may not have a node yet) */
  if (!in->worker_pid) x->worker_pid = pid;
  x->owner_id = *owner;
  x->owner_pid = owner_pid;
}

/* The dead actor that died first, forgotten (when more than max_dead are dead). */
static void s_forget_longest_dead(rl_state_table_t *t) {
  size_t victim = t->nactors;
  for (size_t i = 0; i < t->nactors; i++)
    if (t->actors[i]->state == RL_AS_DEAD && (victim == t->nactors || t->actors[i]->dead_seq < t->actors[victim]->dead_seq))
      victim = i;
  if (victim == t->nactors) return;
  s_actor_t *a = t->actors[victim];
  rl_idmap_remove(t->actor_index, &a->id);
  memmove(&t->actors[victim], &t->actors[victim + 1], (t->nactors - victim - 1) * sizeof *t->actors);
  t->nactors--;
  t->ndead--;
  t->actor_counts[RL_AS_DEAD]--;
  free(a);
}

/* Sets the state, counting the dead (s_trim_dead keeps them within bounds). */
static void s_set_actor_state(rl_state_table_t *t, s_actor_t *a, uint8_t state) {
  bool was_dead = a->state == RL_AS_DEAD, dead = state == RL_AS_DEAD;
  t->actor_counts[a->state]--;
  t->actor_counts[state]++;
  a->state = state;
  if (was_dead == dead) return;
  if (!dead) {
    t->ndead--;
    return;
  }
  a->dead_seq = ++t->dead_seq;
  t->ndead++;
}

static void s_trim_dead(rl_state_table_t *t) {
  while (t->ndead > t->max_dead) s_forget_longest_dead(t);
}

static void s_apply_actor(rl_state_table_t *t, const s_actor_t *in, bool has_node, const rl_id_t *owner,
                          uint32_t owner_pid) {
  s_actor_t *a = rl_idmap_get(t->actor_index, &in->id);
  if (!a) {
    if (t->nactors == t->cap_actors) {
      size_t cap = t->cap_actors ? 2 * t->cap_actors : 64;
      t->actors = rl_xrealloc(t->actors, cap * sizeof *t->actors);
      t->cap_actors = cap;
    }
    a = rl_xcalloc(1, sizeof *a);
    a->id = in->id;
    a->state = RL_AS_PENDING;
    t->actor_counts[RL_AS_PENDING]++;
    rl_idmap_put(t->actor_index, &a->id, a);
    t->actors[t->nactors++] = a;
  }
  uint8_t state = in->state;
  rl_id_t node = a->node_id, worker = a->worker_id;
  uint32_t pid = a->pid;
  uint64_t dead_seq = a->dead_seq;
  uint8_t old = a->state;
  *a = *in;
  a->state = old;
  a->dead_seq = dead_seq;
  if (!has_node) a->node_id = node;
  if (!in->pid) a->pid = pid;
  if (rl_id_is_nil(&in->worker_id)) a->worker_id = worker;
  a->owner_id = *owner;
  a->owner_pid = owner_pid;
  s_set_actor_state(t, a, state);
}

int rl_state_table_report(rl_state_table_t *t, const rl_gcs_state_report_msg_t *r, rl_state_node_fn *resolve,
                          void *ctx, char *err, size_t errlen) {
  const char *why = NULL;
  s_nodes_t nv = {0};
  if (r->pid > UINT32_MAX) why = "field 'pid' is not a process id";
  else if (r->nodes.n > 4096) why = "field 'nodes' has more than 4096 endpoints";
  if (why) goto bad;
  nv.n = r->nodes.n;
  nv.ids = calloc(nv.n ? nv.n : 1, sizeof *nv.ids);
  if (!nv.ids) {
    why = "out of memory";
    goto bad;
  }
  for (uint32_t i = 0; i < nv.n; i++)
    if (!resolve || !resolve(ctx, r->nodes.v[i].p, r->nodes.v[i].n, &nv.ids[i])) memset(&nv.ids[i], 0, sizeof nv.ids[i]);
  /* Check every row, then apply: a bad row changes nothing. */
  s_task_t task;
  s_actor_t *actor = malloc(sizeof *actor);
  bool has_node;
  if (!actor) {
    why = "out of memory";
    goto bad;
  }
  for (uint32_t i = 0; i < r->tasks.n && !why; i++) why = s_read_task(&r->tasks.v[i], &nv, &task, &has_node);
  for (uint32_t i = 0; i < r->actors.n && !why; i++) why = s_read_actor(&r->actors.v[i], &nv, actor, &has_node);
  if (!why) {
    for (uint32_t i = 0; i < r->tasks.n; i++) {
      memset(&task, 0, sizeof task);
      s_read_task(&r->tasks.v[i], &nv, &task, &has_node);
      s_apply_task(t, &task, &r->tasks.v[i], has_node, &r->worker_id, (uint32_t)r->pid);
    }
    for (uint32_t i = 0; i < r->actors.n; i++) {
      memset(actor, 0, sizeof *actor);
      s_read_actor(&r->actors.v[i], &nv, actor, &has_node);
      s_apply_actor(t, actor, has_node, &r->worker_id, (uint32_t)r->pid);
    }
    t->dropped += r->dropped;
    s_trim_dead(t);
  }
  free(actor);
  if (why) goto bad;
  free(nv.ids);
  return 0;
bad:
  free(nv.ids);
  snprintf(err, errlen, "%s", why);
  return -1;
}

/* ---- deaths ---- */

static bool s_in(const rl_id_t *id, const rl_id_t *set, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (rl_id_eq(id, &set[i])) return true;
  return false;
}

void rl_state_table_clients_died(rl_state_table_t *t, const rl_id_t *dead, size_t n) {
  if (n == 0) return;
  for (size_t k = 0; k < t->ntasks; k++) {
    s_task_t *x = &t->tasks[(t->first + k) % t->max_tasks];
    if (x->state >= RL_TS_FINISHED || !s_in(&x->owner_id, dead, n)) continue;
    t->task_counts[x->state]--;
    t->task_counts[RL_TS_FAILED]++;
    x->state = RL_TS_FAILED;
    snprintf(x->error_type, sizeof x->error_type, "OwnerDiedError");
  }
  for (size_t i = 0; i < t->nactors; i++) {
    s_actor_t *a = t->actors[i];
    if (a->state == RL_AS_DEAD) continue;
    if (!a->detached && s_in(&a->owner_id, dead, n))
      snprintf(a->cause, sizeof a->cause, "its owner (pid %u) died", a->owner_pid);
    else if (a->detached && !rl_id_is_nil(&a->worker_id) && s_in(&a->worker_id, dead, n))
      snprintf(a->cause, sizeof a->cause, "its worker (pid %u) died", a->pid);
    else
      continue;
    s_set_actor_state(t, a, RL_AS_DEAD);
  }
  s_trim_dead(t);
}

/* ---- listing ---- */

void rl_state_table_task_rows(const rl_state_table_t *t, rl_wire_task_row_t *out) {
  for (size_t k = 0; k < t->ntasks; k++) {
    const s_task_t *x = &t->tasks[(t->first + k) % t->max_tasks];
    out[k] = (rl_wire_task_row_t){.task_id = x->id, .state = x->state, .attempt = x->attempt,
                                  .name = rl_wire_str(x->name), .kind = x->kind, .actor_id = x->actor_id,
                                  .has_actor_id = !rl_id_is_nil(&x->actor_id), .node_id = x->node_id,
                                  .has_node_id = !rl_id_is_nil(&x->node_id), .worker_pid = x->worker_pid,
                                  .error_type = rl_wire_str(x->error_type), .has_error_type = x->error_type[0] != 0,
                                  .owner_id = x->owner_id, .owner_pid = x->owner_pid};
  }
}

void rl_state_table_losses(const rl_state_table_t *t, uint64_t *dropped, uint64_t *evicted) {
  *dropped = t->dropped;
  *evicted = t->evicted;
}

void rl_state_table_actor_rows(const rl_state_table_t *t, rl_wire_actor_row_t *out) {
  for (size_t i = 0; i < t->nactors; i++) {
    const s_actor_t *a = t->actors[i];
    out[i] = (rl_wire_actor_row_t){.actor_id = a->id, .state = a->state, .class_name = rl_wire_str(a->class_name),
                                   .name = rl_wire_str(a->name), .namespace_ = rl_wire_str(a->ns),
                                   .detached = a->detached, .node_id = a->node_id,
                                   .has_node_id = !rl_id_is_nil(&a->node_id), .pid = a->pid,
                                   .death_cause = rl_wire_str(a->cause), .has_death_cause = a->cause[0] != 0,
                                   .owner_id = a->owner_id, .owner_pid = a->owner_pid};
  }
}

/* ---- readers in the head ---- */

size_t rl_state_table_max_tasks_env(void) {
  const char *v = getenv("RAYL_TASK_EVENTS_MAX_NUM_TASK_IN_GCS");
  char *end;
  unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
  if (!v || !*v || *end || n < 1 || n > 10000000) return RL_STATE_MAX_TASKS;
  return (size_t)n;
}

void rl_state_table_each_task(const rl_state_table_t *t, bool (*fn)(void *ctx, const rl_task_view_t *v), void *ctx) {
  for (size_t k = t->ntasks; k-- > 0;) {
    const s_task_t *x = &t->tasks[(t->first + k) % t->max_tasks];
    rl_task_view_t v = {&x->id, &x->actor_id, &x->node_id, &x->owner_id, x->worker_pid, x->owner_pid,
                        x->attempt, x->state, x->kind, x->name, x->error_type, x->error};
    if (!fn(ctx, &v)) return;
  }
}

void rl_state_table_each_actor(const rl_state_table_t *t, bool (*fn)(void *ctx, const rl_actor_view_t *v),
                               void *ctx) {
  for (size_t i = t->nactors; i-- > 0;) {
    const s_actor_t *a = t->actors[i];
    rl_actor_view_t v = {&a->id, &a->node_id, &a->owner_id, a->pid, a->owner_pid, a->state, a->detached,
                         a->class_name, a->name, a->ns, a->cause, a->restarts};
    if (!fn(ctx, &v)) return;
  }
}

uint64_t rl_state_table_evicted(const rl_state_table_t *t) { return t->evicted; }

void rl_state_table_counts(const rl_state_table_t *t, size_t tasks[RL_TS_FAILED + 1],
                           size_t actors[RL_AS_DEAD + 1]) {
  memcpy(tasks, t->task_counts, sizeof t->task_counts);
  memcpy(actors, t->actor_counts, sizeof t->actor_counts);
}
uint64_t rl_state_table_dropped(const rl_state_table_t *t) { return t->dropped; }
