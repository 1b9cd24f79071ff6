/* task_table_test.c: task_table.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/task_table.c" /* the code under test, with its file-local helpers */

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
