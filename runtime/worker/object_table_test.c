/* object_table_test.c: object_table.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/object_table.c" /* the code under test, with its file-local helpers */

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
