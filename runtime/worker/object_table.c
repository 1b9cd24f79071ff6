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

/* ---- selftest: a table whose hooks record what they are told ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)
#define S_MANY 20000

typedef struct {
  rl_objtab_t *t;
  rl_id_t freed[64]; /* the first ones freed, in order */
  size_t nfreed;
  bool freed_owned[64];
  bool found_while_freed; /* the hook could still find the object it was told of */
  bool take_waiters;      /* the freed hook answers (takes) the waiters */
  size_t taken, dropped;  /* waiters taken by the freed hook, given to drop_waiter */
} s_seen_t;

static void s_hook_freed(void *arg, rl_object_t *o) {
  s_seen_t *s = arg;
  if (rl_objtab_find(s->t, &o->id)) s->found_while_freed = true;
  if (s->nfreed < 64) {
    s->freed[s->nfreed] = o->id;
    s->freed_owned[s->nfreed] = o->owned;
  }
  s->nfreed++;
  if (s->take_waiters) {
    size_t n;
    free(rl_objtab_waiters_take(o, &n));
    s->taken += n;
  }
}

static void s_hook_drop_waiter(void *arg, struct rl_waiter *w) {
  (void)w;
  ((s_seen_t *)arg)->dropped++;
}

/* Whether the freed hook was told of id as the i-th freed object. */
static bool s_freed_at(const s_seen_t *s, size_t i, const rl_id_t *id) {
  return i < s->nfreed && i < 64 && rl_id_eq(&s->freed[i], id);
}

/* An owned object is freed only once its local refs, task refs and borrowers are all
 * gone, in any order; the producer holds it too. */
static int s_test_owned(s_seen_t *s) {
  rl_objtab_t *t = s->t;
  rl_id_t a = rl_id_random(), b = rl_id_random();
  int producer;
  rl_object_t *o = rl_objtab_insert(t, &a, true, "tcp://me:1");
  S_CHECK(o && rl_objtab_find(t, &a) == o && o->owned && !strcmp(o->owner, "tcp://me:1"));
  S_CHECK(o->state == 0 && o->local_refs == 0 && !rl_objtab_held(o));
  rl_objtab_ref_add(o);
  rl_objtab_ref_add(o);
  S_CHECK(!rl_objtab_task_ref(t, &a, +2));
  rl_objtab_borrower_add(o, "tcp://b1:1");
  rl_objtab_borrower_add(o, "tcp://b2:1");
  rl_objtab_borrower_add(o, "tcp://b1:1");
  S_CHECK(o->nborrowers == 2); /* listed once */
  S_CHECK(!rl_objtab_ref_drop(t, &a) && !rl_objtab_ref_drop(t, &a) && o->local_refs == 0);
  S_CHECK(!rl_objtab_ref_drop(t, &a) && o->local_refs == 0); /* never below zero */
  S_CHECK(!rl_objtab_task_ref(t, &a, -1) && o->task_refs == 1);
  S_CHECK(!rl_objtab_borrower_remove(t, o, "tcp://b1:1") && o->nborrowers == 1);
  S_CHECK(!rl_objtab_borrower_remove(t, o, "tcp://nobody:1") && o->nborrowers == 1);
  S_CHECK(!rl_objtab_task_ref(t, &a, -1) && o->task_refs == 0 && s->nfreed == 0);
  S_CHECK(rl_objtab_find(t, &a) == o && !strcmp(o->borrowers[0], "tcp://b2:1"));
  S_CHECK(rl_objtab_borrower_remove(t, o, "tcp://b2:1")); /* the last holder */
  S_CHECK(!rl_objtab_find(t, &a) && s->nfreed == 1 && s_freed_at(s, 0, &a) && s->freed_owned[0]);
  S_CHECK(!rl_objtab_ref_drop(t, &a) && !rl_objtab_task_ref(t, &a, -1)); /* gone: nothing happens */

  /* Borrowers go first, task refs below zero are zero, the task making it holds it. */
  o = rl_objtab_insert(t, &b, true, "tcp://me:1");
  rl_objtab_borrower_add(o, "tcp://b1:1");
  rl_objtab_ref_add(o);
  o->producer = (struct rl_task *)&producer;
  S_CHECK(!rl_objtab_borrower_remove(t, o, "tcp://b1:1") && !rl_objtab_task_ref(t, &b, -5) && o->task_refs == 0);
  S_CHECK(!rl_objtab_ref_drop(t, &b) && rl_objtab_held(o) && s->nfreed == 1);
  o->producer = NULL;
  S_CHECK(rl_objtab_maybe_free(t, o) && !rl_objtab_find(t, &b) && s_freed_at(s, 1, &b));
  S_CHECK(!s->found_while_freed && rl_objtab_size(t) == 0);
  return 0;
fail:
  return 1;
}

/* A borrowed object goes with its last local handle; borrowers are the owner's affair. */
static int s_test_borrowed(s_seen_t *s) {
  rl_objtab_t *t = s->t;
  rl_id_t a = rl_id_random();
  size_t before = s->nfreed;
  rl_object_t *o = rl_objtab_insert(t, &a, false, "tcp://owner:7");
  S_CHECK(o && !o->owned && !strcmp(o->owner, "tcp://owner:7"));
  rl_objtab_ref_add(o);
  rl_objtab_ref_add(o);
  S_CHECK(!rl_objtab_task_ref(t, &a, +1));
  S_CHECK(!rl_objtab_ref_drop(t, &a) && !rl_objtab_ref_drop(t, &a) && s->nfreed == before);
  S_CHECK(rl_objtab_task_ref(t, &a, -1) && s->nfreed == before + 1);
  S_CHECK(s_freed_at(s, before, &a) && !s->freed_owned[before] && rl_objtab_size(t) == 0);
  return 0;
fail:
  return 1;
}

/* A dead borrower holds nothing: what only it held is freed, the rest stays. */
static int s_test_borrower_died(s_seen_t *s) {
  rl_objtab_t *t = s->t;
  rl_id_t only = rl_id_random(), shared = rl_id_random(), handled = rl_id_random(), inner = rl_id_random();
  rl_id_t theirs = rl_id_random();
  size_t before = s->nfreed;
  rl_object_t *o1 = rl_objtab_insert(t, &only, true, "me"), *o2 = rl_objtab_insert(t, &shared, true, "me");
  rl_object_t *o3 = rl_objtab_insert(t, &handled, true, "me"), *o4 = rl_objtab_insert(t, &inner, true, "me");
  rl_object_t *o5 = rl_objtab_insert(t, &theirs, false, "dead");
  S_CHECK(o1 && o2 && o3 && o4 && o5);
  rl_objtab_borrower_add(o1, "dead");
  rl_objtab_borrower_add(o2, "alive");
  rl_objtab_borrower_add(o2, "dead");
  rl_objtab_borrower_add(o3, "dead");
  rl_objtab_ref_add(o3);
  /* o1 contains o4, which the dead one also borrows: freeing o1 must not free o4 early. */
  rl_objtab_borrower_add(o4, "dead");
  S_CHECK(rl_objtab_contain(o1, &inner, 1) == 0);
  rl_objtab_ref_add(o4);
  rl_objtab_ref_add(o5);
  rl_objtab_borrower_add(o5, "dead"); /* not ours: the dead one's listing stays */
  rl_objtab_borrower_died(t, "dead");
  S_CHECK(!rl_objtab_find(t, &only) && !rl_objtab_find(t, &inner) && s->nfreed == before + 2);
  S_CHECK(rl_objtab_find(t, &shared) == o2 && o2->nborrowers == 1 && !strcmp(o2->borrowers[0], "alive"));
  S_CHECK(rl_objtab_find(t, &handled) == o3 && o3->nborrowers == 0 && o3->local_refs == 1);
  S_CHECK(rl_objtab_find(t, &theirs) == o5 && o5->nborrowers == 1);
  S_CHECK(!rl_objtab_borrower_remove(t, o5, "dead") && o5->nborrowers == 0);
  S_CHECK(rl_objtab_borrower_remove(t, o2, "alive") && rl_objtab_ref_drop(t, &handled));
  S_CHECK(rl_objtab_ref_drop(t, &theirs) && rl_objtab_size(t) == 0 && s->nfreed == before + 5);
  return 0;
fail:
  return 1;
}

/* Refs inside a value live as long as it does; a chain goes at once, outer first. */
static int s_test_contained(s_seen_t *s) {
  rl_objtab_t *t = s->t;
  rl_id_t outer = rl_id_random(), c1 = rl_id_random(), c2 = rl_id_random(), deep = rl_id_random();
  rl_id_t ids[2] = {c1, c2};
  size_t before = s->nfreed;
  rl_object_t *o = rl_objtab_insert(t, &outer, true, "me");
  rl_object_t *i1 = rl_objtab_insert(t, &c1, false, "other"), *i2 = rl_objtab_insert(t, &c2, true, "me");
  rl_object_t *d = rl_objtab_insert(t, &deep, true, "me");
  S_CHECK(o && i1 && i2 && d);
  rl_objtab_ref_add(o);
  /* The caller's own handles, then the ones the values hold. */
  rl_objtab_ref_add(i1);
  rl_objtab_ref_add(i2);
  S_CHECK(rl_objtab_contain(o, ids, 2) == 0 && o->ncontained == 2 && rl_id_eq(&o->contained[1], &c2));
  S_CHECK(rl_objtab_contain(o, ids, 1) == -1 && o->ncontained == 2); /* never replaced */
  rl_objtab_ref_add(i1);
  rl_objtab_ref_add(i2);
  S_CHECK(rl_objtab_contain(i2, &deep, 1) == 0);
  rl_objtab_ref_add(d);
  S_CHECK(!rl_objtab_ref_drop(t, &c1) && !rl_objtab_ref_drop(t, &c2)); /* o holds them */
  S_CHECK(rl_objtab_find(t, &c1) == i1 && rl_objtab_find(t, &c2) == i2 && rl_objtab_find(t, &deep) == d);
  S_CHECK(s->nfreed == before);
  S_CHECK(rl_objtab_ref_drop(t, &outer) && rl_objtab_size(t) == 0 && s->nfreed == before + 4);
  S_CHECK(s_freed_at(s, before, &outer) && s_freed_at(s, before + 1, &c1));
  S_CHECK(s_freed_at(s, before + 2, &c2) && s_freed_at(s, before + 3, &deep));

  /* A contained ref the caller still holds outlives the value. */
  o = rl_objtab_insert(t, &outer, true, "me");
  i1 = rl_objtab_insert(t, &c1, true, "me");
  S_CHECK(o && i1 && rl_objtab_contain(o, &c1, 1) == 0);
  rl_objtab_ref_add(o);
  rl_objtab_ref_add(i1);
  rl_objtab_ref_add(i1);
  S_CHECK(rl_objtab_ref_drop(t, &outer) && rl_objtab_find(t, &c1) == i1 && i1->local_refs == 1);
  S_CHECK(rl_objtab_ref_drop(t, &c1) && rl_objtab_size(t) == 0);
  return 0;
fail:
  return 1;
}

/* Waiters are kept in order and released (taken, or dropped when the object goes);
 * they do not hold it. Dependents hold it until removed or taken. */
static int s_test_waiters_dependents(s_seen_t *s) {
  rl_objtab_t *t = s->t;
  int slots[8], tasks[4];
  struct rl_waiter *w[8];
  for (int i = 0; i < 8; i++) w[i] = (struct rl_waiter *)&slots[i];
  struct rl_task *t0 = (struct rl_task *)&tasks[0], *t1 = (struct rl_task *)&tasks[1];
  struct rl_task *t2 = (struct rl_task *)&tasks[2], *t3 = (struct rl_task *)&tasks[3];
  rl_id_t a = rl_id_random();
  size_t n, before = s->nfreed;
  rl_object_t *o = rl_objtab_insert(t, &a, true, "me");
  S_CHECK(o);
  rl_objtab_ref_add(o);
  for (int i = 0; i < 3; i++) rl_objtab_waiter_add(o, w[i]);
  struct rl_waiter **got = rl_objtab_waiters_take(o, &n);
  S_CHECK(got && n == 3 && got[0] == w[0] && got[1] == w[1] && got[2] == w[2] && o->nwaiters == 0);
  free(got);
  S_CHECK(!rl_objtab_waiters_take(o, &n) && n == 0);

  /* Dependents: the object stays while a task waits for it. */
  rl_objtab_dependent_add(o, t0);
  rl_objtab_dependent_add(o, t1);
  rl_objtab_dependent_add(o, t2);
  rl_objtab_dependent_add(o, t3);
  rl_objtab_dependent_add(o, t0);
  S_CHECK(o->ndependents == 5); /* grown past 4 */
  S_CHECK(!rl_objtab_ref_drop(t, &a) && rl_objtab_find(t, &a) == o && rl_objtab_held(o));
  rl_objtab_dependent_remove(o, t1);
  rl_objtab_dependent_remove(o, t0); /* one of the two */
  S_CHECK(o->ndependents == 3 && !rl_objtab_maybe_free(t, o));
  struct rl_task **deps = rl_objtab_dependents_take(o, &n);
  int seen0 = 0, seen2 = 0, seen3 = 0;
  for (size_t i = 0; deps && i < n; i++) {
    seen0 += deps[i] == t0;
    seen2 += deps[i] == t2;
    seen3 += deps[i] == t3;
  }
  free(deps);
  S_CHECK(n == 3 && seen0 == 1 && seen2 == 1 && seen3 == 1 && o->ndependents == 0 && !o->dependents);

  /* Untaken waiters go to drop_waiter when the object goes; taken ones do not. */
  rl_objtab_waiter_add(o, w[3]);
  rl_objtab_waiter_add(o, w[4]);
  S_CHECK(!rl_objtab_held(o));
  S_CHECK(rl_objtab_maybe_free(t, o) && s->dropped == 2 && s->nfreed == before + 1);
  o = rl_objtab_insert(t, &a, true, "me");
  rl_objtab_waiter_add(o, w[5]);
  s->take_waiters = true;
  S_CHECK(rl_objtab_maybe_free(t, o) && s->taken == 1 && s->dropped == 2);
  s->take_waiters = false;
  return 0;
fail:
  return 1;
}

/* Many objects: the id map grows, every one is still found, and all go. */
static int s_test_many(s_seen_t *s) {
  rl_objtab_t *t = s->t;
  rl_id_t *ids = rl_xmalloc(S_MANY * sizeof *ids);
  rl_object_t **objs = rl_xmalloc(S_MANY * sizeof *objs);
  size_t before = s->nfreed, counted = 0, cur = 0;
  S_CHECK(ids && objs);
  for (int i = 0; i < S_MANY; i++) {
    ids[i] = rl_id_random();
    objs[i] = rl_objtab_insert(t, &ids[i], i % 2 == 0, "me");
    S_CHECK(objs[i]);
    rl_objtab_ref_add(objs[i]);
  }
  S_CHECK(rl_objtab_size(t) == S_MANY);
  for (int i = 0; i < S_MANY; i++) S_CHECK(rl_objtab_find(t, &ids[i]) == objs[i]);
  while (rl_objtab_next(t, &cur)) counted++;
  S_CHECK(counted == S_MANY);
  for (int i = 0; i < S_MANY; i += 2) S_CHECK(rl_objtab_ref_drop(t, &ids[i]));
  S_CHECK(rl_objtab_size(t) == S_MANY / 2 && s->nfreed == before + S_MANY / 2);
  for (int i = 0; i < S_MANY; i++) S_CHECK(rl_objtab_find(t, &ids[i]) == (i % 2 ? objs[i] : NULL));
  for (int i = 1; i < S_MANY; i += 2) S_CHECK(rl_objtab_ref_drop(t, &ids[i]));
  S_CHECK(rl_objtab_size(t) == 0 && s->nfreed == before + S_MANY);
  free(ids);
  free(objs);
  return 0;
fail:
  free(ids);
  free(objs);
  return 1;
}

/* Destroying a table with objects left tells nobody, drops their waiters, frees all. */
static int s_test_destroy(void) {
  s_seen_t s = {0};
  rl_objtab_hooks_t hooks = {s_hook_freed, s_hook_drop_waiter, &s};
  int slot;
  rl_id_t a = rl_id_random(), b = rl_id_random();
  s.t = rl_objtab_new(&hooks);
  S_CHECK(s.t);
  rl_object_t *o = rl_objtab_insert(s.t, &a, true, "me"), *i = rl_objtab_insert(s.t, &b, true, "me");
  S_CHECK(rl_objtab_contain(o, &b, 1) == 0);
  rl_objtab_borrower_add(o, "x");
  rl_objtab_ref_add(o);
  rl_objtab_ref_add(i);
  o->data = rl_xmalloc(8);
  rl_objtab_waiter_add(o, (struct rl_waiter *)&slot);
  rl_objtab_dependent_add(i, NULL);
  rl_objtab_destroy(&s.t);
  S_CHECK(!s.t && s.nfreed == 0 && s.dropped == 1);
  rl_objtab_destroy(&s.t); /* twice: nothing */
  return 0;
fail:
  rl_objtab_destroy(&s.t);
  return 1;
}

int rl_object_table_selftest(void) {
  static s_seen_t s; /* big enough to keep off the stack */
  memset(&s, 0, sizeof s);
  rl_objtab_hooks_t hooks = {s_hook_freed, s_hook_drop_waiter, &s};
  s.t = rl_objtab_new(&hooks);
  int rc = !s.t || s_test_owned(&s) || s_test_borrowed(&s) || s_test_borrower_died(&s) || s_test_contained(&s) ||
           s_test_waiters_dependents(&s) || s_test_many(&s) || s_test_destroy();
  if (s.found_while_freed) {
    fprintf(stderr, "object_table: the freed hook could still find the object it was told of\n");
    rc = 1;
  }
  rl_objtab_destroy(&s.t);
  return rc;
}
