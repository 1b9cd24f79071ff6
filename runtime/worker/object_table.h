/* object_table.h: the objects a core worker owns or borrows, by id: their local and task
 * reference counts, borrowers, waiters, dependent tasks and contained refs, and the rule
 * that frees an object once nothing holds it. It sends nothing and knows no sockets: it
 * tells its owner through hooks (objects.c answers the protocol around it). */
#ifndef RL_OBJECT_TABLE_H
#define RL_OBJECT_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "worker/core_worker.h"

struct rl_waiter; /* a borrower's request waiting for a value (its owner's; opaque here) */
struct rl_task;   /* a task of ours (its owner's; opaque here) */

/* An object this process owns or borrows. The table keeps refs, borrowers, waiters,
 * dependents and contained refs through the functions below; the other fields are its
 * owner's to read and write. */
typedef struct rl_object {
  rl_id_t id;
  bool owned;
  char owner[RL_ENDPOINT_MAX]; /* the owner's endpoint (ours if owned) */
  int state;                   /* RL_OBJ_* */
  int kind;                    /* RL_RET_* once ready */
  char *data;                  /* inline encoding or encoded error (malloc; the table frees it) */
  size_t len;                  /* bytes of data, or of the stored value */
  char location[RL_ENDPOINT_MAX]; /* in a store: the node manager holding it; borrowed and
                                  * pending again: where the copy we had was lost (told to
                                  * the owner with GET_OBJECT) */
  int64_t local_refs;          /* handles in this process */
  int64_t task_refs;           /* pending tasks of ours that carry it */
  char (*borrowers)[RL_ENDPOINT_MAX]; /* owned: processes that hold it */
  size_t nborrowers;
  bool borrow_told;            /* borrowed: the owner counts us as a borrower */
  bool fetching;               /* borrowed: GET_OBJECT sent */
  bool owner_dead;             /* borrowed: we heard its owner died (a lost copy is lost
                                * for good) */
  bool sealed;                 /* owned, in store: sealed */
  rl_id_t *contained;          /* refs inside the value, one local ref each, held while it lives */
  size_t ncontained;
  struct rl_task *producer;    /* owned, pending: the task making it */
  bool ties_actor;             /* owned: the handle ref of actor `actor` (rl_cw_actor_tie) */
  rl_id_t actor;
  struct rl_task *lineage;     /* owned, in a store: the finished task that made it,
                                * kept to run again if the store's node dies */
  struct rl_waiter **waiters;  /* borrowers waiting for the value, in arrival order */
  size_t nwaiters;
  struct rl_task **dependents; /* our tasks waiting for it as an argument */
  size_t ndependents, capdependents;
  int64_t created_ms;          /* rl_now_ms() when it entered the table (rayl memory) */
  const char *call_site;       /* owned: "file:line" that created it (a string that lives
                                * as long as the process; rl_cw_set_call_site), or NULL */
} rl_object_t;

/* What the table tells its owner. */
typedef struct {
  /* o leaves the table: nothing holds it any more. o is already out of the id map; its
   * fields are intact. The hook does what o's going asks (tell the store, the owner,
   * the waiters: it may take them with rl_objtab_waiters_take) and may free or release
   * other objects. Then the table frees o, hands its untaken waiters to drop_waiter and
   * drops the local ref o held on each contained ref (which may free those in turn). */
  void (*freed)(void *arg, rl_object_t *o);
  /* Frees a waiter that was never answered (its object went, or the table is destroyed). */
  void (*drop_waiter)(void *arg, struct rl_waiter *w);
  void *arg;
} rl_objtab_hooks_t;

typedef struct rl_objtab_t rl_objtab_t;

/* An empty table that reports to hooks (copied; either hook may be NULL). Can't fail. */
rl_objtab_t *rl_objtab_new(const rl_objtab_hooks_t *hooks);
/* Frees every object still in the table (no freed hook: nobody is told; each untaken
 * waiter goes to drop_waiter), then the table; nulls *p. Safe on NULL and twice. */
void rl_objtab_destroy(rl_objtab_t **p);

/* The object id, or NULL: a single id-map lookup (called on every get and put). */
rl_object_t *rl_objtab_find(const rl_objtab_t *t, const rl_id_t *id);
/* Adds a new object id (no refs, state RL_OBJ_PENDING, all else zero), owned or borrowed
 * from owner (an endpoint, copied; truncated to RL_ENDPOINT_MAX). id must not be in the
 * table (the caller made it fresh or did not find it: asserted, without a second
 * lookup). Returns it (never NULL). It stays until rl_objtab_maybe_free (or
 * a function that calls it) finds nothing holding it. */
rl_object_t *rl_objtab_insert(rl_objtab_t *t, const rl_id_t *id, bool owned, const char *owner);
/* Objects in the table. */
size_t rl_objtab_size(const rl_objtab_t *t);
/* Iteration: *cursor starts at 0; the next object, or NULL at the end. The table must
 * not change meanwhile (collect first, then act). */
rl_object_t *rl_objtab_next(const rl_objtab_t *t, size_t *cursor);

/* The freeing rule: whether anything holds o: a local handle, a pending task carrying
 * it, a borrower, the task making it, or a task of ours waiting for it. Waiters and the
 * lineage task do not hold it. */
bool rl_objtab_held(const rl_object_t *o);
/* Frees o (see rl_objtab_hooks_t) if nothing holds it. Returns true if it was freed: o
 * is then gone, and so may be any object only o held. */
bool rl_objtab_maybe_free(rl_objtab_t *t, rl_object_t *o);

/* One more local handle on o. Can't fail. */
void rl_objtab_ref_add(rl_object_t *o);
/* One local handle fewer on object id (never below zero), then the freeing rule. Returns
 * true if it was freed; false also when id is not in the table. */
bool rl_objtab_ref_drop(rl_objtab_t *t, const rl_id_t *id);
/* Adds delta to id's task refs (never below zero), then the freeing rule. Returns true
 * if it was freed; false also when id is not in the table. */
bool rl_objtab_task_ref(rl_objtab_t *t, const rl_id_t *id, int delta);

/* Notes that the process at endpoint holds o (once per endpoint). Can't fail. */
void rl_objtab_borrower_add(rl_object_t *o, const char *endpoint);
/* endpoint no longer holds o (if it was listed), then the freeing rule. Returns true if o
 * was freed. */
bool rl_objtab_borrower_remove(rl_objtab_t *t, rl_object_t *o, const char *endpoint);
/* The process at endpoint died: it holds none of our owned objects any more (each is
 * then freed if nothing else holds it). */
void rl_objtab_borrower_died(rl_objtab_t *t, const char *endpoint);

/* Adds w to o's waiters (o keeps it until taken, or hands it to drop_waiter). Can't
 * fail. */
void rl_objtab_waiter_add(rl_object_t *o, struct rl_waiter *w);
/* Takes o's waiters, in the order they came: returns an array of *n (the caller's: free
 * it, and each waiter), or NULL with *n 0 when there are none. */
struct rl_waiter **rl_objtab_waiters_take(rl_object_t *o, size_t *n);

/* Task waits for o as an argument: o stays while it does. Can't fail. */
void rl_objtab_dependent_add(rl_object_t *o, struct rl_task *task);
/* task no longer waits for o (once, if it was there; the order of the rest may change).
 * Does not free o: call rl_objtab_maybe_free. */
void rl_objtab_dependent_remove(rl_object_t *o, const struct rl_task *task);
/* Takes the tasks waiting for o: returns an array of *n (the caller's to free), or NULL
 * with *n 0. Does not free o: call rl_objtab_maybe_free. */
struct rl_task **rl_objtab_dependents_take(rl_object_t *o, size_t *n);

/* The value of o holds these n refs (ids copied). The caller takes one local ref on
 * each; the table drops it when o is freed. Returns 0, or -1 if o holds contained refs
 * already (then nothing changed and the caller takes no refs). */
int rl_objtab_contain(rl_object_t *o, const rl_id_t *ids, size_t n);

#endif
