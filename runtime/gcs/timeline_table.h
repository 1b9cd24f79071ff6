/* timeline_table.h: the head's timeline: each task's run on a worker (start, end, pid,
 * node), as owners report them in RL_GCS_STATE_REPORT's spans; the last max_events
 * runs are kept (the oldest forgotten first). Memory only. Plain C: `rayl timeline`
 * (RL_GCS_TIMELINE_GET) and the dashboard read it. */
#ifndef RL_TIMELINE_TABLE_H
#define RL_TIMELINE_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "gcs/state_table.h"
#include "wire/msg.h"

#define RL_TIMELINE_MAX_EVENTS 100000

/* One run of a task (or actor method) on a worker. Times: wall clock us since the epoch. */
typedef struct {
  rl_id_t task_id, actor_id, node_id; /* actor_id, node_id: nil when none or not known */
  rl_id_t owner_id;
  uint32_t pid, owner_pid;
  uint8_t kind; /* RL_KIND_* */
  bool failed;
  int64_t start_us, end_us;
  char name[64];
} rl_timeline_event_t;

typedef struct rl_timeline_table_t rl_timeline_table_t;

/* A new empty table keeping at most max_events (> 0), or NULL if out of memory. */
rl_timeline_table_t *rl_timeline_table_new(size_t max_events);
/* Frees the table and nulls *p; safe on NULL and twice. */
void rl_timeline_table_destroy(rl_timeline_table_t **p);

/* Adds the spans of a RL_GCS_STATE_REPORT (wire/proto.h; a report without them adds
 * nothing) and counts its spans_dropped. Every span is checked first: one bad span
 * adds none (and counts nothing). resolve maps node endpoints to node ids. Returns 0,
 * or -1 with what was wrong in err. */
int rl_timeline_table_report(rl_timeline_table_t *t, const rl_gcs_state_report_msg_t *r, rl_state_node_fn *resolve,
                             void *ctx, char *err, size_t errlen);

/* Calls fn on each kept event, oldest first (fn returns false to stop). */
void rl_timeline_table_each(const rl_timeline_table_t *t, bool (*fn)(void *ctx, const rl_timeline_event_t *e),
                            void *ctx);

/* Fills out (room for rl_timeline_table_count events) with RL_GCS_TIMELINE's events,
 * oldest first; their names are borrowed from the table (valid until it changes). */
void rl_timeline_table_rows(const rl_timeline_table_t *t, rl_wire_timeline_event_t *out);

/* Events kept now; events forgotten to stay within max_events; runs owners reported
 * they could not send (both since the head started). */
size_t rl_timeline_table_count(const rl_timeline_table_t *t);
uint64_t rl_timeline_table_evicted(const rl_timeline_table_t *t);
uint64_t rl_timeline_table_dropped(const rl_timeline_table_t *t);

#endif
