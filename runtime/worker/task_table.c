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

/* ---- selftest: the table, each retry cause, lineage counts ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

static rl_task_t *s_make(uint32_t seq, int kind, int max_retries, bool retry_exceptions) {
  rl_task_opts_t o = {.max_retries = max_retries, .retry_exceptions = retry_exceptions, .num_returns = 1,
                      .name = "t"};
  rl_id_t id = rl_id_for_task(rl_id_random(), seq);
  rl_task_t *t = rl_task_new(&id, kind, kind == RL_KIND_ACTOR_METHOD ? "m" : NULL, &o, 1);
  t->args[0].data = rl_xmalloc(4); /* freed with the task */
  return t;
}

int rl_task_table_selftest(void) {
  rl_task_table_t *tt = rl_task_table_new();
  rl_task_t *a = s_make(1, RL_KIND_TASK, 2, false), *b = s_make(2, RL_KIND_TASK, 0, true);
  rl_task_t *c = s_make(3, RL_KIND_TASK, -1, true), *m = s_make(4, RL_KIND_ACTOR_METHOD, 1, false);
  rl_task_t *cr = s_make(5, RL_KIND_ACTOR_CREATE, 3, false);
  S_CHECK(tt && a && b && c && m && cr);
  S_CHECK(!strcmp(a->name, "t") && a->opts.name == NULL && !strcmp(m->method, "m") && a->method[0] == 0);
  /* The table: insert, find, remove, iterate. */
  rl_task_table_insert(tt, a);
  rl_task_table_insert(tt, b);
  rl_task_table_insert(tt, c);
  S_CHECK(rl_task_table_size(tt) == 3 && rl_task_table_find(tt, &b->id) == b);
  rl_task_table_remove(tt, b);
  rl_task_table_remove(tt, b); /* twice: no-op */
  S_CHECK(rl_task_table_size(tt) == 2 && rl_task_table_find(tt, &b->id) == NULL);
  size_t cur = 0, seen = 0;
  for (rl_task_t *t; (t = rl_task_table_next(tt, &cur));) seen += t == a || t == c;
  S_CHECK(seen == 2);
  /* Worker or node death: retried while retries are left, each counting an attempt. */
  S_CHECK(rl_task_retry(a, RL_RETRY_WORKER_DIED) && a->attempt == 1 && a->retries_left == 1);
  S_CHECK(rl_task_retry(a, RL_RETRY_NODE_DIED) && a->attempt == 2 && a->retries_left == 0);
  S_CHECK(!rl_task_retry(a, RL_RETRY_WORKER_DIED) && a->attempt == 2 && a->retries_left == 0);
  /* max_retries = -1: forever (retries_left stays -1). */
  for (int i = 0; i < 5; i++) S_CHECK(rl_task_retry(c, RL_RETRY_WORKER_DIED));
  S_CHECK(c->attempt == 5 && c->retries_left == -1);
  /* An error raised: only with retry_exceptions, and only with retries left. */
  S_CHECK(rl_task_retry(c, RL_RETRY_EXCEPTION) && c->attempt == 6);
  S_CHECK(!rl_task_retry(b, RL_RETRY_EXCEPTION) && b->attempt == 0); /* max_retries 0 */
  b->retries_left = 1;
  b->opts.retry_exceptions = false;
  S_CHECK(!rl_task_retry(b, RL_RETRY_EXCEPTION) && b->retries_left == 1);
  /* An argument lost with its node: run again without counting, even with no retries. */
  S_CHECK(rl_task_retry(a, RL_RETRY_ARG_LOST) && a->attempt == 3 && a->retries_left == 0);
  /* Cancelled: never. */
  b->cancelled = true;
  S_CHECK(!rl_task_retry(b, RL_RETRY_WORKER_DIED) && b->retries_left == 1);
  /* Actor calls: their own cause; an actor's creation is never retried here. */
  S_CHECK(!rl_task_retry(a, RL_RETRY_ACTOR_DIED));
  S_CHECK(rl_task_retry(m, RL_RETRY_ACTOR_DIED) && m->attempt == 1 && m->retries_left == 0);
  S_CHECK(!rl_task_retry(m, RL_RETRY_ACTOR_DIED) && m->attempt == 1);
  S_CHECK(!rl_task_retry(cr, RL_RETRY_WORKER_DIED) && !rl_task_retry(cr, RL_RETRY_ACTOR_DIED) && cr->attempt == 0);
  /* Lineage: a finished plain task with retries left is kept, and run again only as
   * lineage (the other causes find it finished); unfinished, it runs already. */
  S_CHECK(!rl_task_retry(c, RL_RETRY_LINEAGE));
  S_CHECK(rl_task_keeps_lineage(c) && !rl_task_keeps_lineage(a) && !rl_task_keeps_lineage(m));
  rl_task_lineage_hold(c, 2);
  S_CHECK(c->finished && !rl_task_retry(c, RL_RETRY_WORKER_DIED) && !rl_task_retry(c, RL_RETRY_EXCEPTION));
  S_CHECK(rl_task_retry(c, RL_RETRY_LINEAGE) && !c->finished && c->attempt == 7);
  /* Its results freed while it runs again: it stays (it is not finished)... */
  S_CHECK(!rl_task_lineage_drop(c) && !rl_task_lineage_drop(c));
  /* ... and once finished again and kept for one result, it goes with that one. */
  rl_task_lineage_hold(c, 1);
  S_CHECK(!rl_task_retry(a, RL_RETRY_LINEAGE)); /* not finished */
  S_CHECK(rl_task_lineage_drop(c));
  rl_task_delete(b);
  rl_task_delete(m);
  rl_task_delete(cr);
  rl_task_delete(NULL);
  rl_task_table_destroy(&tt); /* frees a and c */
  rl_task_table_destroy(&tt);
  S_CHECK(tt == NULL);
  return 0;
fail:
  rl_task_table_destroy(&tt);
  return 1;
}
