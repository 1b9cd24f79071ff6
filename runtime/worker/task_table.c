/* task_table.c: the tasks a process owns, by id; the one retry decision; lineage
 * reference counts (see task_table.h). */
#include "common/str.h"
#include "common/selftest.h"
#include "worker/task_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/xalloc.h"
#include "wire/proto.h"

struct rl_task_table {
  rl_idmap_t *byid; /* task id -> rl_task_t */
};

rl_task_t *rl_task_new(const rl_id_t *id, int kind, const char *method, const rl_task_opts_t *opts, size_t nargs) {
  rl_task_t *t = rl_xcalloc(1, sizeof *t);
  t->args = rl_xcalloc(nargs ? nargs : 1, sizeof *t->args);
  t->nargs = nargs;
  t->id = *id;
  t->kind = kind;
  rl_str_copy(t->method, sizeof t->method, method ? method : "");
  t->opts = *opts;
  t->opts.name = NULL;
  rl_str_copy(t->name, sizeof t->name, opts->name ? opts->name : "task");
  t->retries_left = opts->max_retries;
  return t;
}

void rl_task_delete(rl_task_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->nargs; i++) {
    free(t->args[i].data);
    free(t->args[i].rdata);
    free(t->args[i].contained);
  }
  free(t->args);
  free(t);
}

bool rl_task_retry(rl_task_t *t, rl_retry_cause_t cause) {
  if (t->cancelled || t->kind == RL_KIND_ACTOR_CREATE) return false;
  if (cause == RL_RETRY_ARG_LOST) { /* not counted */
    if (t->finished) return false;
    t->attempt++;
    return true;
  }
  if (t->retries_left == 0) return false;
  switch (cause) {
  case RL_RETRY_EXCEPTION:
    if (t->finished || !t->opts.retry_exceptions) return false;
    break;
  case RL_RETRY_ACTOR_DIED:
    if (t->finished || t->kind != RL_KIND_ACTOR_METHOD) return false;
    break;
  case RL_RETRY_LINEAGE:
    if (!t->finished || !rl_task_keeps_lineage(t)) return false;
    t->finished = false;
    break;
  case RL_RETRY_WORKER_DIED:
  case RL_RETRY_NODE_DIED:
  default:
    if (t->finished) return false;
    break;
  }
  if (t->retries_left > 0) t->retries_left--;
  t->attempt++;
  return true;
}

bool rl_task_keeps_lineage(const rl_task_t *t) { return t->kind == RL_KIND_TASK && t->retries_left != 0; }

void rl_task_lineage_hold(rl_task_t *t, int refs) {
  t->finished = true;
  t->lineage_refs = refs;
}

bool rl_task_lineage_drop(rl_task_t *t) { return --t->lineage_refs <= 0 && t->finished; }

rl_task_table_t *rl_task_table_new(void) {
  rl_task_table_t *tt = rl_xcalloc(1, sizeof *tt);
  tt->byid = rl_idmap_new();
  return tt;
}

void rl_task_table_destroy(rl_task_table_t **p) {
  if (!p || !*p) return;
  rl_task_table_t *tt = *p;
  size_t cur = 0;
  rl_task_t *t;
  while ((t = rl_idmap_next(tt->byid, &cur, NULL))) rl_task_delete(t);
  rl_idmap_destroy(&tt->byid);
  free(tt);
  *p = NULL;
}

void rl_task_table_insert(rl_task_table_t *tt, rl_task_t *t) { rl_idmap_put(tt->byid, &t->id, t); }

rl_task_t *rl_task_table_find(const rl_task_table_t *tt, const rl_id_t *id) { return rl_idmap_get(tt->byid, id); }

void rl_task_table_remove(rl_task_table_t *tt, rl_task_t *t) {
  if (rl_idmap_get(tt->byid, &t->id) == t) rl_idmap_remove(tt->byid, &t->id);
}

size_t rl_task_table_size(const rl_task_table_t *tt) { return rl_idmap_size(tt->byid); }

rl_task_t *rl_task_table_next(const rl_task_table_t *tt, size_t *cursor) {
  return rl_idmap_next(tt->byid, cursor, NULL);
}
