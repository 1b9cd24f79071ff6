/* gpus_test.c: gpus.c's selftest, built into rl_selftest only (not librayl). */
#include "sched/gpus.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)
#define S_HALF (RL_RES_UNIT / 2)

static rl_gpu_ask_t s_ask(double gpus) {
  rl_gpu_ask_t a;
  int rc = rl_gpus_ask((int64_t)(gpus * RL_RES_UNIT + 0.5), &a, NULL, 0);
  assert(rc == 0);
  (void)rc;
  return a;
}

/* Asks and the text forms. */
static int s_test_forms(void) {
  rl_gpu_ask_t a;
  char err[200], buf[64];
  S_CHECK(rl_gpus_ask(0, &a, err, sizeof err) == 0 && a.count == 0);
  S_CHECK(rl_gpus_ask(2500, &a, err, sizeof err) == 0 && a.count == 1 && a.share == 2500);
  S_CHECK(rl_gpus_ask(RL_RES_UNIT, &a, err, sizeof err) == 0 && a.count == 1 && a.share == RL_RES_UNIT);
  S_CHECK(rl_gpus_ask(3 * RL_RES_UNIT, &a, err, sizeof err) == 0 && a.count == 3 && a.share == RL_RES_UNIT);
  S_CHECK(rl_gpus_ask(15000, &a, err, sizeof err) == -1 && strstr(err, "num_gpus 1.5000 is over 1 and not whole"));
  S_CHECK(rl_gpus_ask((int64_t)1e12 * RL_RES_UNIT, &a, err, sizeof err) == 0 && a.count == RL_GPU_MAX + 1);
  rl_gpu_set_t s = {.n = 3, .id = {0, 3, 12}};
  rl_gpu_set_format(&s, buf, sizeof buf);
  S_CHECK(!strcmp(buf, "0,3,12"));
  s.n = 0;
  rl_gpu_set_format(&s, buf, sizeof buf);
  S_CHECK(!strcmp(buf, ""));
  int ids[4], n = -1;
  S_CHECK(rl_gpus_parse_count("2", &n, err, sizeof err) == 0 && n == 2);
  S_CHECK(rl_gpus_parse_count("0", &n, err, sizeof err) == 0 && n == 0);
  S_CHECK(rl_gpus_parse_count("1.5", &n, err, sizeof err) == -1 && strstr(err, "whole number") && strstr(err, "'1.5'"));
  S_CHECK(rl_gpus_parse_count("-1", &n, err, sizeof err) == -1 && rl_gpus_parse_count("", &n, err, sizeof err) == -1);
  S_CHECK(rl_gpus_parse_count("65", &n, err, sizeof err) == -1);
  S_CHECK(rl_gpus_parse_count("two", &n, err, sizeof err) == -1);
  S_CHECK(rl_gpu_ids_parse("3,5", ids, 4) == 2 && ids[0] == 3 && ids[1] == 5);
  S_CHECK(rl_gpu_ids_parse("", ids, 4) == 0);
  S_CHECK(rl_gpu_ids_parse("GPU-5e1a", ids, 4) == -1 && rl_gpu_ids_parse("0,", ids, 4) == -1);
  S_CHECK(rl_gpu_ids_parse("0, 1", ids, 4) == -1 && rl_gpu_ids_parse("0,1,2,3,4", ids, 4) == -1);
  return 0;
}

/* Whole GPUs go to distinct free devices; a third waits; a freed one is reused. */
static int s_test_whole(void) {
  rl_gpus_t g;
  rl_gpus_init(&g, 2, NULL);
  rl_gpu_ask_t one = s_ask(1), two = s_ask(2), three = s_ask(3);
  rl_gpu_set_t a, b, c;
  S_CHECK(rl_gpus_pick(&g, &three, &c) == -1);
  S_CHECK(rl_gpus_pick(&g, &two, &c) == 0 && c.n == 2 && c.id[0] == 0 && c.id[1] == 1);
  S_CHECK(rl_gpus_pick(&g, &one, &a) == 0 && a.n == 1 && a.id[0] == 0);
  rl_gpus_take(&g, &a, one.share);
  S_CHECK(rl_gpus_pick(&g, &one, &b) == 0 && b.n == 1 && b.id[0] == 1);
  S_CHECK(rl_gpus_pick(&g, &two, &c) == -1);
  rl_gpus_take(&g, &b, one.share);
  S_CHECK(rl_gpus_pick(&g, &one, &c) == -1 && rl_gpus_free_total(&g) == 0);
  S_CHECK(!rl_gpus_fits(&g, &one, &a));
  rl_gpus_give(&g, &a, one.share);
  S_CHECK(rl_gpus_fits(&g, &one, &a) && !rl_gpus_fits(&g, &one, &b));
  S_CHECK(!rl_gpus_fits(&g, &two, &a)); /* bound to one device: not for two */
  S_CHECK(rl_gpus_pick(&g, &one, &c) == 0 && c.id[0] == 0);
  return 0;
}

/* Fractions pack: four halves fill two devices, two per device; a whole one waits
 * while every device is partly used. */
static int s_test_fractions(void) {
  rl_gpus_t g;
  rl_gpus_init(&g, 2, NULL);
  rl_gpu_ask_t half = s_ask(0.5), one = s_ask(1), quarter = s_ask(0.25);
  int uses[2] = {0, 0};
  rl_gpu_set_t s[4];
  for (int i = 0; i < 4; i++) {
    S_CHECK(rl_gpus_pick(&g, &half, &s[i]) == 0 && s[i].n == 1);
    rl_gpus_take(&g, &s[i], half.share);
    uses[s[i].id[0]]++;
  }
  S_CHECK(uses[0] == 2 && uses[1] == 2 && rl_gpus_free_total(&g) == 0);
  S_CHECK(rl_gpus_pick(&g, &quarter, &s[0]) == -1);
  /* One half of each device freed: 1 GPU free in all, but no whole device. */
  rl_gpu_set_t d0 = {.n = 1, .id = {0}}, d1 = {.n = 1, .id = {1}};
  rl_gpus_give(&g, &d0, half.share);
  rl_gpus_give(&g, &d1, half.share);
  rl_gpu_set_t c;
  S_CHECK(rl_gpus_free_total(&g) == RL_RES_UNIT && rl_gpus_pick(&g, &one, &c) == -1);
  /* A quarter goes to the fuller device: device 1 after device 0 took one. */
  rl_gpus_take(&g, &d0, quarter.share);
  S_CHECK(rl_gpus_pick(&g, &quarter, &c) == 0 && c.id[0] == 0);
  S_CHECK(rl_gpus_least_free(&g, &d0) == quarter.share && rl_gpus_least_free(&g, &d1) == S_HALF);
  return 0;
}

/* Bundles reserve devices out of the node, hand out only those, and give back their
 * caps; ids from CUDA_VISIBLE_DEVICES are kept. */
static int s_test_bundles(void) {
  rl_gpus_t node, b1, b2, b3;
  int ids[3] = {3, 5, 7};
  rl_gpus_init(&node, 3, ids);
  rl_gpu_ask_t one = s_ask(1), half = s_ask(0.5), two = s_ask(2);
  S_CHECK(rl_gpus_reserve(&node, &half, &b1) == 0 && b1.n == 1 && b1.id[0] == 3 && b1.cap[0] == S_HALF);
  S_CHECK(rl_gpus_reserve(&node, &two, &b2) == 0 && b2.n == 2 && b2.id[0] == 5 && b2.id[1] == 7);
  S_CHECK(rl_gpus_reserve(&node, &one, &b3) == -1 && rl_gpus_free_total(&node) == S_HALF);
  rl_gpu_set_t c;
  S_CHECK(rl_gpus_pick(&b1, &one, &c) == -1 && rl_gpus_pick(&b1, &half, &c) == 0 && c.id[0] == 3);
  rl_gpus_take(&b1, &c, half.share);
  S_CHECK(rl_gpus_pick(&b2, &one, &c) == 0 && c.id[0] == 5);
  rl_gpus_take(&b2, &c, one.share);
  rl_gpus_unreserve(&node, &b1); /* while its worker still holds its share */
  rl_gpus_unreserve(&node, &b2);
  S_CHECK(rl_gpus_free_total(&node) == 3 * RL_RES_UNIT);
  rl_gpu_ask_t none = s_ask(0);
  S_CHECK(rl_gpus_reserve(&node, &none, &b3) == 0 && b3.n == 0 && rl_gpus_free_total(&node) == 3 * RL_RES_UNIT);
  return 0;
}

int rl_gpus_selftest(void) {
  return s_test_forms() || s_test_whole() || s_test_fractions() || s_test_bundles();
}
