/* resources_test.c: resources.c's selftest, built into rl_selftest only (not librayl). */
#include "sched/resources.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

int rl_resources_selftest(void) {
  rl_resources_t a, b, c;
  char err[128], buf[256];
  rl_res_clear(&a);
  S_CHECK(a.n == 0 && rl_res_get(&a, "CPU") == 0);

  /* Fractions are exact: 0.1 + 0.2 CPU is 0.3 CPU, and ten 0.1s make 1. */
  S_CHECK(rl_res_set(&a, "CPU", 0.1, err, sizeof err) == 0);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "CPU", 0.2, err, sizeof err) == 0);
  S_CHECK(rl_res_add(&a, &b) == 0);
  S_CHECK(rl_res_get(&a, "CPU") == 0.3 && a.r[0].amount == 3000);
  rl_res_clear(&a);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "CPU", 0.1, NULL, 0) == 0);
  for (int i = 0; i < 10; i++) S_CHECK(rl_res_add(&a, &b) == 0);
  S_CHECK(rl_res_get(&a, "CPU") == 1.0);
  for (int i = 0; i < 10; i++) {
    S_CHECK(rl_res_fits(&a, &b));
    rl_res_sub(&a, &b);
  }
  S_CHECK(a.n == 0 && !rl_res_fits(&a, &b)); /* back to exactly nothing, not 1e-17 */
  /* Rounding to 1/10000. */
  S_CHECK(rl_res_set(&a, "GPU", 0.33333, err, sizeof err) == 0 && a.r[0].amount == 3333);
  S_CHECK(rl_res_fixed(&a, "GPU") == 3333 && rl_res_fixed(&a, "CPU") == 0);
  S_CHECK(rl_res_set(&a, "GPU", 0.00004, err, sizeof err) == 0 && a.n == 0); /* rounds to 0: removed */

  /* fits / sub / add over several names, with the 0-removes rule. */
  rl_res_clear(&a);
  S_CHECK(rl_res_set(&a, "CPU", 4, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "GPU", 1, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "memory", 1e9, err, sizeof err) == 0);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "CPU", 1.5, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&b, "GPU", 0.25, err, sizeof err) == 0);
  S_CHECK(rl_res_fits(&a, &b));
  rl_res_sub(&a, &b);
  S_CHECK(rl_res_get(&a, "CPU") == 2.5 && rl_res_get(&a, "GPU") == 0.75 && rl_res_get(&a, "memory") == 1e9);
  S_CHECK(rl_res_set(&b, "GPU", 0.75, err, sizeof err) == 0);
  rl_res_sub(&a, &b); /* GPU reaches 0 and disappears */
  S_CHECK(a.n == 2 && rl_res_get(&a, "GPU") == 0 && rl_res_get(&a, "CPU") == 1);
  S_CHECK(!rl_res_fits(&a, &b)); /* needs GPU */
  S_CHECK(rl_res_add(&a, &b) == 0);
  S_CHECK(rl_res_get(&a, "GPU") == 0.75 && rl_res_get(&a, "CPU") == 2.5);
  rl_res_clear(&c);
  S_CHECK(rl_res_fits(&a, &c)); /* the empty request fits anywhere */
  S_CHECK(rl_res_set(&c, "sim", 1, err, sizeof err) == 0);
  S_CHECK(!rl_res_fits(&a, &c)); /* unknown custom resource */

  /* Equality ignores order. */
  rl_res_clear(&b);
  rl_res_clear(&c);
  S_CHECK(rl_res_set(&b, "x", 1, NULL, 0) == 0 && rl_res_set(&b, "y", 2, NULL, 0) == 0);
  S_CHECK(rl_res_set(&c, "y", 2, NULL, 0) == 0 && rl_res_set(&c, "x", 1, NULL, 0) == 0);
  S_CHECK(rl_res_equal(&b, &c));
  S_CHECK(rl_res_set(&c, "x", 1.0001, NULL, 0) == 0 && !rl_res_equal(&b, &c));
  S_CHECK(rl_res_set(&c, "x", 1, NULL, 0) == 0 && rl_res_set(&c, "z", 1, NULL, 0) == 0 && !rl_res_equal(&b, &c));

  /* Bad names and amounts are rejected with a message, and the map is untouched. */
  rl_res_clear(&a);
  S_CHECK(rl_res_set(&a, "CPU", 1, err, sizeof err) == 0);
  b = a;
  err[0] = 0;
  S_CHECK(rl_res_set(&a, "", 1, err, sizeof err) == -1 && strstr(err, "empty"));
  S_CHECK(rl_res_set(&a, NULL, 1, err, sizeof err) == -1);
  S_CHECK(rl_res_set(&a, "has space", 1, err, sizeof err) == -1 && strstr(err, "' '"));
  S_CHECK(rl_res_set(&a, "tab\there", 1, err, sizeof err) == -1 && strstr(err, "0x09"));
  S_CHECK(rl_res_set(&a, "abcdefghijabcdefghijabcdefghijab", 1, err, sizeof err) == -1 && strstr(err, "longer"));
  S_CHECK(rl_res_set(&a, "abcdefghijabcdefghijabcdefghija", 1, err, sizeof err) == 0); /* 31 chars: fine */
  S_CHECK(rl_res_set(&a, "abcdefghijabcdefghijabcdefghija", 0, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "CPU", -1, err, sizeof err) == -1 && strstr(err, "negative"));
  S_CHECK(rl_res_set(&a, "CPU", NAN, err, sizeof err) == -1 && strstr(err, "finite"));
  S_CHECK(rl_res_set(&a, "CPU", INFINITY, err, sizeof err) == -1 && strstr(err, "finite"));
  S_CHECK(rl_res_set(&a, "CPU", 1.5e12, err, sizeof err) == -1 && strstr(err, "limit"));
  S_CHECK(rl_res_set(&a, "CPU", 1, NULL, 0) == 0 && rl_res_set(&a, "", 1, NULL, 0) == -1); /* NULL err ok */
  S_CHECK(rl_res_equal(&a, &b));
  S_CHECK(rl_res_set(&a, "node:10.0.0.1", 0.001, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "custom-A_b.c", 1e12, err, sizeof err) == 0);

  /* A full map refuses a new name but still updates existing ones; add is atomic. */
  rl_res_clear(&a);
  for (int i = 0; i < RL_RES_MAX; i++) {
    snprintf(buf, sizeof buf, "r%d", i);
    S_CHECK(rl_res_set(&a, buf, i + 1, err, sizeof err) == 0);
  }
  S_CHECK(a.n == RL_RES_MAX);
  S_CHECK(rl_res_set(&a, "one_more", 1, err, sizeof err) == -1 && strstr(err, "too many"));
  S_CHECK(rl_res_set(&a, "r3", 7, err, sizeof err) == 0 && rl_res_get(&a, "r3") == 7);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "r0", 1, NULL, 0) == 0 && rl_res_set(&b, "extra", 1, NULL, 0) == 0);
  c = a;
  S_CHECK(rl_res_add(&a, &b) == -1 && memcmp(&a, &c, sizeof a) == 0);
  S_CHECK(rl_res_set(&a, "r5", 0, NULL, 0) == 0 && a.n == RL_RES_MAX - 1);
  S_CHECK(rl_res_add(&a, &b) == 0 && a.n == RL_RES_MAX && rl_res_get(&a, "r0") == 2);
  S_CHECK(strcmp(a.r[4].name, "r4") == 0 && strcmp(a.r[5].name, "r6") == 0); /* order kept */

  /* Format. */
  rl_res_clear(&a);
  rl_res_format(&a, buf, sizeof buf);
  S_CHECK(strcmp(buf, "(none)") == 0);
  S_CHECK(rl_res_set(&a, "CPU", 2, NULL, 0) == 0 && rl_res_set(&a, "GPU", 0.5, NULL, 0) == 0);
  S_CHECK(rl_res_set(&a, "sim", 4, NULL, 0) == 0 && rl_res_set(&a, "x", 1.0001, NULL, 0) == 0);
  S_CHECK(rl_res_set(&a, "big", 1e12, NULL, 0) == 0);
  rl_res_format(&a, buf, sizeof buf);
  S_CHECK(strcmp(buf, "CPU: 2, GPU: 0.5, sim: 4, x: 1.0001, big: 1000000000000") == 0);
  char small[8];
  rl_res_format(&a, small, sizeof small);
  S_CHECK(strlen(small) == 7 && strncmp(small, "CPU: 2,", 7) == 0); /* truncated, terminated */

  return 0;
}
