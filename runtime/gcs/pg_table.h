/* pg_table.h: the head's placement groups: their bundles, where each is placed, the
 * two-phase creation (every bundle reserved on its node, then the group is created and
 * committed everywhere at once), roll-back of a refused attempt, and rescheduling when
 * a node dies. It sends nothing itself: it calls the hooks its owner gives it. */
#ifndef RL_PG_TABLE_H
#define RL_PG_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "gcs/node_table.h"
#include "sched/bundles.h"
#include "sched/resources.h"

#define RL_PG_NAME_MAX 128     /* longest group name, with its NUL */
#define RL_PG_TABLE_MAX 100000 /* groups the head holds */
#define RL_PG_ATTEMPT_MS 10000 /* a placement attempt unanswered this long is rolled back */

typedef enum { RL_PG_PENDING, RL_PG_CREATED, RL_PG_RESCHEDULING, RL_PG_REMOVED } rl_pg_state_t;
enum { RL_BUNDLE_UNPLACED, RL_BUNDLE_RESERVING, RL_BUNDLE_RESERVED };

typedef struct {
  rl_resources_t resources;
  int state;        /* RL_BUNDLE_* */
  rl_id_t node;     /* where it is (not UNPLACED) */
  uint64_t attempt; /* the placement attempt that chose node */
} rl_pg_bundle_t;

typedef struct rl_pg {
  rl_id_t id;
  char name[RL_PG_NAME_MAX]; /* "" if unnamed */
  int strategy;              /* rl_pg_strategy_t */
  bool detached;             /* outlives its creator */
  rl_id_t creator;           /* the process that created it */
  int state;                 /* rl_pg_state_t */
  int n;
  rl_pg_bundle_t *bundles;
  uint64_t attempt;      /* the placement in flight (0: none) */
  int64_t attempt_ms;    /* when it started */
  int unanswered;        /* its reservations not answered yet */
  int64_t not_before_ms; /* after a refusal, the next try waits until then */
  void *user;            /* the owner's (e.g. who waits for the group) */
  struct rl_pg *prev, *next;
} rl_pg_t;

typedef enum { RL_PG_EV_ADDED, RL_PG_EV_CREATED, RL_PG_EV_RESCHEDULING, RL_PG_EV_REMOVED } rl_pg_event_t;

typedef struct {
  /* Ask bundle index's node to reserve it (its resources, for attempt pg->attempt). */
  void (*reserve)(void *arg, const rl_pg_t *pg, int index);
  /* Tell node to give back bundle index of pg: a reservation of a rolled-back attempt. */
  void (*release)(void *arg, const rl_pg_t *pg, int index, const rl_id_t *node);
  /* The group was added, is created (every bundle reserved), lost bundles with a dead
   * node, or is removed (freed right after the call). */
  void (*changed)(void *arg, rl_pg_t *pg, rl_pg_event_t ev);
  void *arg;
} rl_pg_hooks_t;

typedef struct rl_pg_table_t rl_pg_table_t;

/* A new empty table placing groups on the live nodes of nodes (borrowed), or NULL if
 * out of memory. */
rl_pg_table_t *rl_pg_table_new(rl_node_table_t *nodes, const rl_pg_hooks_t *hooks);
/* Frees every group (no hooks called) and the table; nulls *p; safe twice. */
void rl_pg_table_destroy(rl_pg_table_t **p);

/* Adds a pending group (not placed yet: see rl_pg_table_schedule) and calls
 * changed(ADDED). Returns it, or NULL with err if the id or the name is taken, the
 * strategy or the bundles are invalid (1..RL_PG_MAX_BUNDLES bundles, each asking for
 * something), the table is full, or out of memory. */
rl_pg_t *rl_pg_table_add(rl_pg_table_t *t, const rl_id_t *id, const char *name, int strategy,
                         const rl_resources_t *bundles, int n, bool detached, const rl_id_t *creator, char *err,
                         size_t errlen);
/* Adds a group saved before a restart, without hooks: nodes[i] is where bundle i was
 * reserved (nil: not placed). A group with every bundle placed is created, one with
 * some is rescheduling, one with none is pending. Same errors as rl_pg_table_add. */
rl_pg_t *rl_pg_table_load(rl_pg_table_t *t, const rl_id_t *id, const char *name, int strategy,
                          const rl_resources_t *bundles, const rl_id_t *nodes, int n, bool detached,
                          const rl_id_t *creator, char *err, size_t errlen);
/* Removes the group: calls changed(REMOVED), then frees it. */
void rl_pg_table_remove(rl_pg_table_t *t, rl_pg_t *pg);

rl_pg_t *rl_pg_table_get(const rl_pg_table_t *t, const rl_id_t *id);
/* The group with this name, or NULL. */
rl_pg_t *rl_pg_table_find_name(const rl_pg_table_t *t, const char *name);
size_t rl_pg_table_size(const rl_pg_table_t *t);
/* Iteration in creation order: start with NULL; the table must not change meanwhile. */
rl_pg_t *rl_pg_table_next(const rl_pg_table_t *t, rl_pg_t *after);

/* Starts placing every group that waits (pending or rescheduling, no attempt in
 * flight, past its not_before): picks nodes for its unplaced bundles from what the
 * live nodes have free (their last report, less what this table placed since) and
 * calls reserve for each. An attempt unanswered for RL_PG_ATTEMPT_MS is rolled back
 * first (an answer was lost). Returns how many attempts started. */
int rl_pg_table_schedule(rl_pg_table_t *t, int64_t now_ms);
/* The same for one group. Returns 1 if an attempt started, else 0. */
int rl_pg_table_try(rl_pg_table_t *t, rl_pg_t *pg, int64_t now_ms);
/* A node's answer to a reservation. Stale answers (another attempt, a removed group)
 * are ignored. ok: once every bundle is reserved the group is created
 * (changed(CREATED)). Refused: the attempt is rolled back (release for what it
 * reserved) and the group waits for its next try. */
void rl_pg_table_reserved(rl_pg_table_t *t, const rl_id_t *pg_id, int index, uint64_t attempt, bool ok,
                          int64_t now_ms);
/* What a node holds in bundles, as it reported with its available resources (both
 * from one moment: their sum does not change as bundles come and go). */
void rl_pg_table_node_report(rl_pg_table_t *t, const rl_id_t *node, const rl_resources_t *reserved);
/* The node died: its bundles are unplaced (changed(RESCHEDULING) for created groups),
 * attempts that used it are rolled back. */
void rl_pg_table_node_died(rl_pg_table_t *t, const rl_id_t *node);
/* Whether the live nodes could ever hold the group. Returns 0, or -1 with why. */
int rl_pg_table_feasible(const rl_pg_table_t *t, const rl_pg_t *pg, char *why, size_t whylen);

/* "PENDING", "CREATED", "RESCHEDULING" or "REMOVED". */
const char *rl_pg_state_name(int state);

#endif
