/* submitter_test.c: submitter.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/submitter.c" /* the code under test, with its file-local helpers */

/* ---- selftest: a worker's death and the retry path, on a core worker with no
 * sockets (its task table and object table only; classes and leases built by hand) ---- */
#include "common/selftest.h"

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* A task of c owned by cw, pushed to lease l (NULL: queued), with one return object
 * held by the caller. */
static rl_task_t *s_test_task(rl_cw_t *cw, rl_class_t *c, rl_lease_t *l, int max_retries) {
  rl_task_opts_t o = {.max_retries = max_retries, .num_returns = 1, .name = "f"};
  rl_id_t id = rl_id_for_task(cw->worker_id, ++cw->seq), ret = rl_id_for_object(id, 1);
  rl_task_t *t = rl_task_new(&id, RL_KIND_TASK, NULL, &o, 0);
  rl_object_t *r = rl_obj_new_owned(cw, &ret);
  rl_task_table_insert(cw->tasks, t);
  r->local_refs = 1;
  r->producer = t;
  t->cls = c;
  if (l) s_run_push(cw, l, t);
  else rl_dispatch_enqueue(t, false);
  return t;
}

static int s_obj_state(rl_cw_t *cw, const rl_task_t *t) {
  rl_id_t ret = rl_id_for_object(t->id, 1);
  rl_object_t *o = rl_obj_find(cw, &ret);
  return o ? o->state : -1;
}

/* Delivers CW_TASK_DONE for t (status OK, an inline result) as if from its worker;
 * 0 if t's result is then ready. */
static int s_late_result(rl_cw_t *cw, rl_task_t *t) {
  rl_id_t ret = rl_id_for_object(t->id, 1);
  rl_wire_task_arg_t value = {.kind = RL_RET_INLINE, .data = rl_wire_bytes("\xc3", 1), .size = 1};
  rl_cw_task_done_msg_t done = {.task_id = t->id, .status = RL_TASK_OK, .returns = {1, &value}};
  rl_msgbuf_t b;
  rl_msg_t m;
  if (rl_cw_task_done_msg_pack(&done, &b, NULL, 0) != 0) return -1;
  int got = rl_msg_from_bytes(b.sb.data, b.sb.size, &m);
  rl_msgbuf_reset(&b);
  if (got != 1) return -1;
  rl_sub_handle_task_done(cw, &m, NULL);
  rl_msg_close(&m);
  rl_object_t *o = rl_obj_find(cw, &ret);
  return o && o->state == RL_OBJ_READY ? 0 : -1;
}

int rl_submitter_selftest(void) {
  int rc = 1;
  rl_cw_t cw = {0};
  rl_class_t c = {0};
  cw.worker_id = rl_id_random();
  cw.objects = rl_obj_table_new(&cw);
  cw.tasks = rl_task_table_new();
  rl_lease_t *l = rl_xcalloc(1, sizeof *l);
  l->cls = &c;
  c.leases = l;
  c.service_us = 50;
  /* Queued: q. On the lease, in running order: a (retries left), b (none), x
   * (cancelled), d (retries left). */
  rl_task_t *q = s_test_task(&cw, &c, NULL, 3);
  rl_task_t *a = s_test_task(&cw, &c, l, 1), *b = s_test_task(&cw, &c, l, 0);
  rl_task_t *x = s_test_task(&cw, &c, l, 2), *d = s_test_task(&cw, &c, l, -1);
  S_CHECK(q && a && b && x && d && l->inflight == 4 && l->run_head == a);
  x->cancelled = true;
  /* Its worker dies: the lease goes; a and d are retried ahead of q, in their order;
   * b fails (WorkerCrashedError), x is freed. */
  s_lease_lost(&cw, &c, l, 42, "killed", "WorkerCrashedError", RL_RETRY_WORKER_DIED);
  l = NULL;
  S_CHECK(c.leases == NULL);
  S_CHECK(c.queue_head == a && a->next == d && d->next == q && c.queue_tail == q && c.queued == 3);
  S_CHECK(a->lease == NULL && a->attempt == 1 && a->retries_left == 0 && d->attempt == 1 && d->retries_left == -1);
  S_CHECK(s_obj_state(&cw, a) == RL_OBJ_PENDING && rl_task_table_size(cw.tasks) == 3);
  rl_id_t bret = rl_id_for_object(rl_id_for_task(cw.worker_id, 3), 1);
  rl_object_t *bo = rl_obj_find(&cw, &bret);
  S_CHECK(bo && bo->state == RL_OBJ_FAILED && bo->data && memmem(bo->data, bo->len, "WorkerCrashedError", 18) &&
          memmem(bo->data, bo->len, "pid 42", 6));
  /* The retry path again, from a new lease: a has no retries left and fails as the
   * caller decides; d goes back to the front and the lease is free. */
  l = rl_xcalloc(1, sizeof *l);
  l->cls = &c;
  c.leases = l;
  rl_dispatch_dequeue(&c);
  rl_dispatch_dequeue(&c);
  s_run_push(&cw, l, a);
  s_run_push(&cw, l, d);
  S_CHECK(!rl_sub_retry(&cw, a, RL_RETRY_WORKER_DIED, "test") && a->lease == l && l->inflight == 2);
  S_CHECK(rl_sub_retry(&cw, d, RL_RETRY_WORKER_DIED, "test") && d->lease == NULL && d->attempt == 2);
  S_CHECK(l->inflight == 1 && l->run_head == a && l->run_tail == a && c.queue_head == d && d->next == q);
  /* A task given back unstarted is queued again with no attempt counted. */
  rl_sub_take_back(&cw, a);
  S_CHECK(l->inflight == 0 && l->run_head == NULL && c.queue_head == a && a->attempt == 1);
  /* Cancelling a queued task takes it off the queue. */
  rl_id_t qret = rl_id_for_object(q->id, 1);
  S_CHECK(rl_cw_cancel(&cw, &qret, false, false) == 0 && c.queue_tail == d && c.queued == 2);
  S_CHECK(rl_obj_find(&cw, &qret)->state == RL_OBJ_FAILED);
  /* A result that arrives for a task queued again (its worker was declared dead, then
   * the attempt finished after all) completes it and takes it off the queue: freed
   * while queued, it was left in the queue (a use after free under chaos). */
  S_CHECK(c.queue_head == a && a->next == d && c.queued == 2);
  S_CHECK(s_late_result(&cw, a) == 0);
  S_CHECK(c.queue_head == d && c.queue_tail == d && c.queued == 1 && d->next == NULL);
  S_CHECK(rl_dispatch_dequeue(&c) == d && c.queued == 0);
  rl_dispatch_enqueue(d, false);
  rc = 0;
fail:
  if (c.leases) rl_sub_return_lease(&cw, &c, c.leases, true);
  rl_task_table_destroy(&cw.tasks);
  rl_obj_destroy_all(&cw);
  rl_ev_destroy(&cw);
  return rc;
}
