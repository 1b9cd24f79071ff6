/* actor_table_test.c: actor_table.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/actor_table.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_actor_table_selftest(void) {
  rl_actor_table_t *t = rl_actor_table_new();
  rl_gcs_actor_t *a = rl_gcs_actor_new(), *b = NULL;
  char *blob = NULL, why[128], err[64];
  size_t len;
  RL_CHECK_GOTO(t && a);
  a->id = rl_id_random();
  a->state = RL_AS_ALIVE;
  snprintf(a->class_name, sizeof a->class_name, "Counter");
  RL_CHECK_GOTO(rl_gcs_actor_set(&a->name_key, NULL, "actor:7:default:ctr", 19) == 0);
  RL_CHECK_GOTO(rl_gcs_actor_set(&a->fn, &a->fn_len, "\0cls", 4) == 0);
  RL_CHECK_GOTO(rl_res_set(&a->resources, "CPU", 1, err, sizeof err) == 0);
  a->max_restarts = -1;
  a->restarts_used = 3;
  a->owner_alive = true;
  a->worker_id = rl_id_random();
  snprintf(a->worker_endpoint, sizeof a->worker_endpoint, "tcp://127.0.0.1:5000");
  RL_CHECK_GOTO(rl_gcs_actor_can_restart(a));
  /* Round trip: every field comes back. */
  RL_CHECK_GOTO((blob = rl_gcs_actor_encode(a, &len)) != NULL);
  b = rl_gcs_actor_decode(&a->id, blob, len, why, sizeof why);
  RL_CHECK_GOTO(b && rl_id_eq(&b->id, &a->id) && b->state == RL_AS_ALIVE && !strcmp(b->class_name, "Counter"));
  RL_CHECK_GOTO(!strcmp(b->name_key, "actor:7:default:ctr") && b->fn_len == 4 && !memcmp(b->fn, "\0cls", 4));
  RL_CHECK_GOTO(b->max_restarts == -1 && b->restarts_used == 3 && b->owner_alive && !b->args_have_refs);
  RL_CHECK_GOTO(rl_id_eq(&b->worker_id, &a->worker_id) && !strcmp(b->worker_endpoint, "tcp://127.0.0.1:5000"));
  RL_CHECK_GOTO(rl_res_get(&b->resources, "CPU") == 1 && b->args_len == 1);
  /* Restarts run out. */
  b->max_restarts = 2;
  b->restarts_used = 1;
  RL_CHECK_GOTO(rl_gcs_actor_can_restart(b));
  b->restarts_used = 2;
  RL_CHECK_GOTO(!rl_gcs_actor_can_restart(b));
  /* A truncated or foreign blob is refused with a reason. */
  rl_gcs_actor_t *bad = rl_gcs_actor_decode(&a->id, blob, len / 2, why, sizeof why);
  RL_CHECK_GOTO(!bad && why[0]);
  bad = rl_gcs_actor_decode(&a->id, "\x91\x01", 2, why, sizeof why);
  RL_CHECK_GOTO(!bad && strstr(why, "fields"));
  /* The table: put replaces, get finds, iteration sees each once. */
  rl_id_t id = a->id;
  rl_actor_table_put(t, &a);
  RL_CHECK_GOTO(!a && rl_actor_table_size(t) == 1);
  rl_actor_table_put(t, &b);
  RL_CHECK_GOTO(rl_actor_table_size(t) == 1);
  RL_CHECK_GOTO(rl_actor_table_get(t, &id)->restarts_used == 2);
  size_t cur = 0, n = 0;
  while (rl_actor_table_next(t, &cur)) n++;
  RL_CHECK_GOTO(n == 1);
  free(blob);
  rl_actor_table_destroy(&t);
  rl_actor_table_destroy(&t);
  return 0;
fail:
  free(blob);
  rl_gcs_actor_destroy(&a);
  rl_gcs_actor_destroy(&b);
  rl_actor_table_destroy(&t);
  return 1;
}
