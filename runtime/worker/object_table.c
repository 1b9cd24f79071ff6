/* object_table.c: the objects a core worker owns or borrows (an id map of rl_object_t),
 * what holds each one, and the rule that frees it; its selftest at the end. */
#include "common/str.h"
#include "common/clock.h"
#include "worker/object_table.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/selftest.h"
#include "common/xalloc.h"

struct rl_objtab_t {
  rl_idmap_t *map; /* id -> rl_object_t */
  rl_objtab_hooks_t hooks;
};

rl_objtab_t *rl_objtab_new(const rl_objtab_hooks_t *hooks) {
  rl_objtab_t *t = rl_xcalloc(1, sizeof *t);
  if (hooks) t->hooks = *hooks;
  t->map = rl_idmap_new();
  return t;
}

/* Frees o's memory; its waiters go to drop_waiter. Its contained refs are the caller's. */
static void s_free(rl_objtab_t *t, rl_object_t *o) {
  for (size_t i = 0; i < o->nwaiters; i++)
    if (t->hooks.drop_waiter) t->hooks.drop_waiter(t->hooks.arg, o->waiters[i]);
  free(o->waiters);
  free(o->data);
  free(o->borrowers);
  free(o->dependents);
  free(o);
}

void rl_objtab_destroy(rl_objtab_t **p) {
  if (!p || !*p) return;
  rl_objtab_t *t = *p;
  size_t cur = 0;
  rl_object_t *o;
  while ((o = rl_idmap_next(t->map, &cur, NULL))) {
    free(o->contained);
    s_free(t, o);
  }
  rl_idmap_destroy(&t->map);
  free(t);
  *p = NULL;
}

rl_object_t *rl_objtab_find(const rl_objtab_t *t, const rl_id_t *id) { return rl_idmap_get(t->map, id); }

rl_object_t *rl_objtab_insert(rl_objtab_t *t, const rl_id_t *id, bool owned, const char *owner) {
  rl_object_t *o = rl_xcalloc(1, sizeof *o);
  o->id = *id;
  o->owned = owned;
  o->created_ms = rl_now_ms();
  rl_str_copy(o->owner, sizeof o->owner, owner ? owner : "");
  size_t before = rl_idmap_size(t->map);
  rl_idmap_put(t->map, id, o);
  /* Callers insert only ids they did not find (fresh ones, or after a lookup): checking
   * the size costs no second lookup on the put path. */
  assert(rl_idmap_size(t->map) == before + 1 && "rl_objtab_insert: id is in the table already");
  return o;
}

size_t rl_objtab_size(const rl_objtab_t *t) { return rl_idmap_size(t->map); }

rl_object_t *rl_objtab_next(const rl_objtab_t *t, size_t *cursor) { return rl_idmap_next(t->map, cursor, NULL); }

bool rl_objtab_held(const rl_object_t *o) {
  return o->local_refs > 0 || o->task_refs > 0 || o->nborrowers > 0 || o->producer || o->ndependents;
}

bool rl_objtab_maybe_free(rl_objtab_t *t, rl_object_t *o) {
  if (rl_objtab_held(o)) return false;
  rl_idmap_remove(t->map, &o->id);
  if (t->hooks.freed) t->hooks.freed(t->hooks.arg, o);
  rl_id_t *contained = o->contained;
  size_t n = o->ncontained;
  s_free(t, o);
  for (size_t i = 0; i < n; i++) rl_objtab_ref_drop(t, &contained[i]);
  free(contained);
  return true;
}

void rl_objtab_ref_add(rl_object_t *o) { o->local_refs++; }

bool rl_objtab_ref_drop(rl_objtab_t *t, const rl_id_t *id) {
  rl_object_t *o = rl_idmap_get(t->map, id);
  if (!o) return false;
  if (o->local_refs > 0) o->local_refs--;
  return rl_objtab_maybe_free(t, o);
}

bool rl_objtab_task_ref(rl_objtab_t *t, const rl_id_t *id, int delta) {
  rl_object_t *o = rl_idmap_get(t->map, id);
  if (!o) return false;
  o->task_refs += delta;
  if (o->task_refs < 0) o->task_refs = 0;
  return rl_objtab_maybe_free(t, o);
}

void rl_objtab_borrower_add(rl_object_t *o, const char *endpoint) {
  for (size_t i = 0; i < o->nborrowers; i++)
    if (!strcmp(o->borrowers[i], endpoint)) return;
  o->borrowers = rl_xrealloc(o->borrowers, (o->nborrowers + 1) * sizeof *o->borrowers);
  rl_str_copy(o->borrowers[o->nborrowers++], RL_ENDPOINT_MAX, endpoint);
}

/* Takes endpoint off o's borrowers; whether it was there. */
static bool s_unlist(rl_object_t *o, const char *endpoint) {
  for (size_t i = 0; i < o->nborrowers; i++) {
    if (strcmp(o->borrowers[i], endpoint)) continue;
    memmove(o->borrowers[i], o->borrowers[i + 1], (o->nborrowers - i - 1) * sizeof *o->borrowers);
    o->nborrowers--;
    return true;
  }
  return false;
}

bool rl_objtab_borrower_remove(rl_objtab_t *t, rl_object_t *o, const char *endpoint) {
  s_unlist(o, endpoint);
  return rl_objtab_maybe_free(t, o);
}

static bool s_lists(const rl_object_t *o, const char *endpoint) {
  for (size_t i = 0; i < o->nborrowers; i++)
    if (!strcmp(o->borrowers[i], endpoint)) return true;
  return false;
}

void rl_objtab_borrower_died(rl_objtab_t *t, const char *endpoint) {
  size_t cur = 0, n = 0;
  rl_object_t *o, **held = rl_xmalloc((rl_idmap_size(t->map) + 1) * sizeof *held);
  while ((o = rl_idmap_next(t->map, &cur, NULL)))
    if (o->owned && s_lists(o, endpoint)) held[n++] = o;
  /* Freeing one may free others (its contained refs), but none of these: each is held
   * by endpoint until its own turn. */
  for (size_t i = 0; i < n; i++) rl_objtab_borrower_remove(t, held[i], endpoint);
  free(held);
}

void rl_objtab_waiter_add(rl_object_t *o, struct rl_waiter *w) {
  o->waiters = rl_xrealloc(o->waiters, (o->nwaiters + 1) * sizeof *o->waiters);
  o->waiters[o->nwaiters++] = w;
}

struct rl_waiter **rl_objtab_waiters_take(rl_object_t *o, size_t *n) {
  struct rl_waiter **w = o->waiters;
  *n = o->nwaiters;
  o->waiters = NULL;
  o->nwaiters = 0;
  return w;
}

void rl_objtab_dependent_add(rl_object_t *o, struct rl_task *task) {
  if (o->ndependents == o->capdependents) {
    size_t cap = o->capdependents ? 2 * o->capdependents : 4;
    o->dependents = rl_xrealloc(o->dependents, cap * sizeof *o->dependents);
    o->capdependents = cap;
  }
  o->dependents[o->ndependents++] = task;
}

void rl_objtab_dependent_remove(rl_object_t *o, const struct rl_task *task) {
  for (size_t i = 0; i < o->ndependents; i++) {
    if (o->dependents[i] != task) continue;
    o->dependents[i] = o->dependents[--o->ndependents];
    return;
  }
}

struct rl_task **rl_objtab_dependents_take(rl_object_t *o, size_t *n) {
  struct rl_task **d = o->dependents;
  *n = o->ndependents;
  o->dependents = NULL;
  o->ndependents = o->capdependents = 0;
  return d;
}

int rl_objtab_contain(rl_object_t *o, const rl_id_t *ids, size_t n) {
  if (o->contained || o->ncontained) return -1;
  if (!n) return 0;
  o->contained = rl_xmalloc(n * sizeof *o->contained);
  memcpy(o->contained, ids, n * sizeof *ids);
  o->ncontained = n;
  return 0;
}
